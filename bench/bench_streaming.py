"""Does watching a run slow it down?  Training steps/s through the app's live path vs the bare loop.

Ways to train the same config for the same wall-clock time, interleaved, median of 3:

1. **bare**: ``Trainer.run()`` in a loop, nothing else; once in a process of its own (the reference
   for every ratio: the fastest bare loop, and what a worker process is) and once in this process,
   which also hosts the launched app's (idle) server;
2. **manager + reader**: a ``RunManager`` run with a reader thread that does what the Train tab's
   timer does every 0.4 s: snapshot, preview (GAN Lab view or sample grid, metrics, the curves
   picture, PNGs); once training in a thread of the same process, once in a worker process
   (ganlab/live/worker.py, what the app does);
3. **app + client**: the whole app launched on loopback and a ``gradio_client`` in another process
   (as a browser would be) that starts the run and follows the live stream (``/train_watch``, an
   update every 0.4 s; 1 s for an image run), downloading each new picture;
4. **app + Chromium** (``--browser``): the Train tab in Debian's Chromium on the same machine (a
   teacher's laptop that serves the app and shows it): it picks ``--dataset`` in the tab's Data menu,
   presses Start, and counts the steps of that run in the app's process (this one) while the page
   watches; it also reports the CPU of the server (this process), the training worker and Chromium.

It prints a markdown table (steps/s, ratio to bare, preview updates delivered per second) for
docs/BENCHMARKS.md. Goals: ratio >= 0.9 (>= 0.8 for an image run watched in Chromium on the same two
cores), and >= 2 preview updates per second for 2D (an image run's sample grid is redrawn about once
a second).

    python bench/bench_streaming.py                 # ring8, 8 s per measurement
    python bench/bench_streaming.py --dataset mnist --browser --only-app --seconds 10 --repeats 5
    python bench/bench_streaming.py --quality --dataset mnist --seconds 30 --repeats 5

``--quality`` measures what the quality curves (ganlab.live.quality: FID and IS, or 2D modes, measured
every few seconds in a thread of the server) and the overview graph (ganlab/ui/graph.py, rebuilt on
every tick) cost: the app's path with them against without, in alternated pairs (goal: >= 0.95).

torch runs with ``--threads`` intra-op threads (default 1: on a shared 2-core CPU one thread per
training is much faster for these small models, and every path gets the same setting).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("GANLAB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("NO_PROXY", "localhost,127.0.0.1")

import torch  # noqa: E402

from ganlab.data.toy import TOY_DISTRIBUTIONS  # noqa: E402
from ganlab.live import RunManager  # noqa: E402
from ganlab.live.worker import free_core, pin_to_core  # noqa: E402
from ganlab.presets import default_config  # noqa: E402
from ganlab.training import Trainer  # noqa: E402
from ganlab.ui.graph import overview_svg  # noqa: E402  (pure SVG strings: no gradio is started)

TICK_SECONDS = 0.4  # the Train tab's timer


def bare(config, seconds: float) -> tuple[float, float]:
    trainer = Trainer(config)
    list(trainer.run(max_steps=5))  # warm-up: first-call costs are not throughput
    start_steps, started = trainer.step_count, time.perf_counter()
    for _ in trainer.run(max_seconds=seconds):
        pass
    return (trainer.step_count - start_steps) / (time.perf_counter() - started), float("nan")


def manager_with_reader(
    config, seconds: float, processes: bool, *, quality: bool = True, graph: bool = False, usage: dict | None = None
) -> tuple[float, float]:
    """Steps/s and previews/s of a run followed by a reader thread. ``quality``: the quality curves'
    thread measures the run (the app's default); ``graph``: the reader also builds the overview graph on
    every tick, as the Train tab does. ``usage`` receives this process's CPU (cores) and the number of
    quality measurements made while it was timed."""
    with tempfile.TemporaryDirectory() as folder:
        manager = RunManager(
            max_trainings=1, preview_dir=folder, processes=processes, quality_interval_s=3.0 if quality else None
        )
        try:
            manager.create("bench", config)
            for _ in range(5):
                manager.step("bench")
            manager.preview("bench", force=True)  # warm-up: first figure, metric imports
            stop = threading.Event()
            delivered = []

            def reader() -> None:
                last = None
                while not stop.is_set():
                    tick_started = time.perf_counter()
                    snapshot = manager.snapshot("bench", max_points=0)  # what the Train tab's timer reads
                    if graph:
                        overview_svg(snapshot.config, snapshot.latest, clusters=snapshot.clusters)
                    preview = manager.preview("bench")  # the view and the curves, drawn when due
                    if preview is not last:
                        delivered.append(time.perf_counter())
                        last = preview
                    stop.wait(max(0.0, TICK_SECONDS - (time.perf_counter() - tick_started)))

            manager.resume("bench")
            deadline = time.monotonic() + 30
            while manager.snapshot("bench").step <= 5 and time.monotonic() < deadline:
                time.sleep(0.01)  # training has begun (a worker process has taken the run over)
            time.sleep(0.2)
            before = manager.snapshot("bench")
            start_steps, started, cpu_started = before.step, time.perf_counter(), time.process_time()
            worker_started = cpu_seconds_by_group()["worker"]
            thread = threading.Thread(target=reader, daemon=True)
            thread.start()
            time.sleep(seconds)
            after = manager.snapshot("bench")
            steps = after.step - start_steps
            elapsed = time.perf_counter() - started
            if usage is not None:
                usage["server_cores"] = (time.process_time() - cpu_started) / elapsed
                # CPU per step does not depend on how much of the machine the training got (a loaded machine).
                usage["worker_ms_per_step"] = 1000 * (cpu_seconds_by_group()["worker"] - worker_started) / max(1, steps)
                measured = (len(after.quality.step) - len(before.quality.step)) if after.quality is not None else 0
                usage["quality_measurements"] = measured
            stop.set()
            thread.join()
            return steps / elapsed, len(delivered) / elapsed
        finally:
            manager.shutdown()


def client_loop(url: str, dataset: str, seconds: float) -> dict:
    """The browser's part, run in its own process: start a run, follow its live stream, count new pictures."""
    from gradio_client import Client

    config = default_config(dataset)
    client = Client(url, analytics_enabled=False, verbose=False)
    try:
        settings = {
            name: getattr(config, name)
            for name in (
                "model",
                "loss",
                "lr_g",
                "lr_d",
                "beta1",
                "beta2",
                "batch_size",
                "d_steps",
                "noise_dim",
                "noise_distribution",
                "width",
                "depth",
                "seed",
                "gp_weight",
                "clip_value",
                "spectral_norm",
            )
        }
        client.predict(dataset=dataset, **settings, api_name="/train_start")
        stream = client.submit("", 0, api_name="/train_watch")
        deadline = time.monotonic() + 30
        while client.predict(api_name="/train_status")["step"] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)  # training has begun
        time.sleep(0.2)
        start_steps, started = client.predict(api_name="/train_status")["step"], time.perf_counter()
        delivered, last_picture = 0, None
        for update in stream:  # one update every 0.4 s while the run trains
            picture = update[2]  # status, overview graph, live picture, curves, ...
            if isinstance(picture, str) and picture != last_picture:
                delivered += 1
                last_picture = picture
            if time.perf_counter() - started >= seconds:
                break
        elapsed = time.perf_counter() - started
        steps = client.predict(api_name="/train_status")["step"] - start_steps
        client.predict(api_name="/train_stop")
        stream.cancel()
        return {"steps_per_second": steps / elapsed, "updates_per_second": delivered / elapsed}
    finally:
        client.close()


def bare_in_own_process(dataset: str, seconds: float, threads: int) -> tuple[float, float]:
    output = subprocess.run(
        [sys.executable, __file__, "--bare-process", "--dataset", dataset, "--seconds", str(seconds), "--threads", str(threads)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])["steps_per_second"], float("nan")


def app_with_client(url: str, dataset: str, seconds: float) -> tuple[float, float]:
    try:
        output = subprocess.run(
            [sys.executable, __file__, "--client", url, "--dataset", dataset, "--seconds", str(seconds)],
            check=True,
            capture_output=True,
            text=True,
            timeout=seconds + 120,
        ).stdout
    except subprocess.TimeoutExpired:  # seen once on a machine at load 14: left out, not waited for
        print("    gradio_client: no answer in time; this repeat is left out", file=sys.stderr)
        return float("nan"), float("nan")
    result = json.loads(output.strip().splitlines()[-1])
    return result["steps_per_second"], result["updates_per_second"]


BROWSER_CPU: list[dict[str, float]] = []  # per Chromium measurement: each process group's share of a core


def cpu_seconds_by_group() -> dict[str, float]:
    """CPU seconds used so far by this process (the app's server and the bench's page polling), its
    training workers, Chromium and Playwright's driver: descendants of this process, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                text = (entry / "stat").read_text()
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            fields = text[text.rindex(")") + 2 :].split()
            stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick, command)
    groups = {"server": 0.0, "worker": 0.0, "chromium": 0.0, "playwright": 0.0}
    family = {os.getpid()}
    changed = True
    while changed:  # every descendant, however deep
        grown = {pid for pid, (parent, _, _) in stats.items() if parent in family}
        changed = not grown <= family
        family |= grown
    for pid in family:
        if pid not in stats:
            continue
        _, seconds, command = stats[pid]
        if pid == os.getpid():
            groups["server"] += seconds
        elif "ganlab.live.worker" in command:
            groups["worker"] += seconds
        elif "chrom" in command or "headless_shell" in command:
            groups["chromium"] += seconds
        else:
            groups["playwright"] += seconds
    return groups


def app_with_browser(url: str, dataset: str, seconds: float) -> tuple[float, float]:
    """The Train tab in Debian's Chromium (headless, software rendering) on the same machine: pick the
    dataset in the tab (its default settings load with it), press Start, read the step count from the
    status line before and after, count new live pictures."""
    import re
    import shutil

    from playwright.sync_api import sync_playwright

    from ganlab.ui.train import DATASETS

    labels = {name: label for label, name in DATASETS}
    if dataset not in labels:
        raise SystemExit(f"--browser picks the dataset in the Train tab: one of {', '.join(labels)}; got {dataset!r}")

    def server_steps() -> int:
        """The step counter of the page's run, read in the app's process (this one): the page's status line
        can lag the run by seconds on a loaded machine. The page's is the only run that trains."""
        training = []
        for manager in RunManager.instances():
            with manager._lock:
                training += [run for run in manager._runs.values() if run.phase == "running"]
        if len(training) != 1:
            raise RuntimeError(f"expected the page's run alone to train; {len(training)} do")
        return training[0].trainer.step_count

    def step_now(page) -> int:
        text = page.locator("#train-status .md").inner_text()
        match = re.search(r"step ([\d,]+)", text)
        return int(match.group(1).replace(",", "")) if match else 0

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=shutil.which("chromium") or shutil.which("chromium-browser"),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            page.goto(url)
            page.wait_for_selector("#ganlab-header")
            if page.locator("#train-dataset input").input_value() != labels[dataset]:
                note = page.locator("#train-dataset-note").inner_text()
                page.locator("#train-dataset input").click()
                page.get_by_role("option", name=labels[dataset], exact=True).click()
                # The dataset's default settings arrive with its note (the train_dataset event).
                page.wait_for_function(
                    "n => document.querySelector('#train-dataset-note').innerText !== n", arg=note, timeout=30_000
                )
            page.click("#train-start")  # a new run with the dataset's default settings
            page.wait_for_function("document.querySelector('#train-status .md').innerText.includes('running')", timeout=60_000)
            deadline = time.monotonic() + 60
            while step_now(page) < 5 and time.monotonic() < deadline:
                time.sleep(0.1)  # the worker has loaded the run and trains
            if f" {dataset}" not in page.locator("#train-status .md").inner_text():
                raise RuntimeError(
                    f"the page trains something else than {dataset}: {page.locator('#train-status .md').inner_text()!r}"
                )
            time.sleep(1.0)
            cpu_before = cpu_seconds_by_group()
            start_steps, started = server_steps(), time.perf_counter()
            pictures, last = 0, None
            while time.perf_counter() - started < seconds:
                image = page.locator("#train-live img")
                source = image.first.get_attribute("src") if image.count() else None
                if source and source != last:
                    pictures, last = pictures + 1, source
                time.sleep(0.25)
            elapsed = time.perf_counter() - started
            end_steps = server_steps()
            steps = end_steps - start_steps
            cpu_after = cpu_seconds_by_group()
            print(
                f"    Chromium: steps {start_steps}-{end_steps} in {elapsed:.1f} s; the page says: "
                f"{page.locator('#train-status .md').inner_text()[:90]!r}",
                file=sys.stderr,
            )
            BROWSER_CPU.append({group: (cpu_after[group] - cpu_before[group]) / elapsed for group in cpu_after})
            page.click("#train-stop")
            return steps / elapsed, pictures / elapsed
        finally:
            browser.close()


def machine_line(argv: list[str]) -> str:
    """Date, commit, CPU model and cores, load average and command: what every figure carries."""
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown CPU",
    )
    root = Path(__file__).resolve().parents[1]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True).stdout.strip()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, commit {commit or '?'}, {model}, {os.cpu_count()} cores, "
        f"load average {load}; `python bench/bench_streaming.py {' '.join(argv)}`"
    )


def quality_cost(config, args: argparse.Namespace) -> None:
    """``--quality``: the app's path (a worker process and a reader) with the quality curves and the overview
    graph against without them, alternated, each pair measured back to back; the ratio of each pair's
    steps/s, median over the repeats (goal: >= 0.95, i.e. they cost at most 5% of training speed)."""
    started_line = machine_line(sys.argv[1:])
    plain: dict = {}
    manager_with_reader(config, 1.5, processes=True, quality=False, usage=plain)  # warm-up: imports, first figure
    manager_with_reader(config, 1.5, processes=True, quality=True, graph=True, usage=plain)
    rows: dict[str, list[tuple[float, dict]]] = {"without": [], "with": []}
    for repeat in range(args.repeats):
        order = ("without", "with") if repeat % 2 == 0 else ("with", "without")
        for name in order:
            usage: dict = {}
            rate, _ = manager_with_reader(
                config, args.seconds, processes=True, quality=name == "with", graph=name == "with", usage=usage
            )
            rows[name].append((rate, usage))
            print(f"  repeat {repeat + 1}: {name}: {rate:.1f} steps/s, server {usage['server_cores']:.3f} cores", file=sys.stderr)
    ratios = [w[0] / o[0] for w, o in zip(rows["with"], rows["without"], strict=True)]
    print(
        f"\nQuality curves + overview graph: {args.dataset}, {config.model} width {config.width}, batch {config.batch_size}; "
        f"{args.seconds:g} s per measurement, {args.repeats} alternated pairs; torch threads {torch.get_num_threads()}\n"
        f"started {started_line}\nended   {machine_line(sys.argv[1:])}\n"
    )
    print(
        "| path | steps/s (median) | training worker, CPU ms per step (median) | server process, cores (median) "
        "| quality measurements per minute |"
    )
    print("|---|---:|---:|---:|---:|")
    for name, label in (
        ("without", "worker + reader, no quality curves, no graph"),
        ("with", "worker + reader + quality curves + graph"),
    ):
        rates = [r for r, _ in rows[name]]
        cores = [u["server_cores"] for _, u in rows[name]]
        per_minute = [60 * u["quality_measurements"] / args.seconds for _, u in rows[name]]
        per_step = statistics.median(u["worker_ms_per_step"] for _, u in rows[name])
        print(
            f"| {label} | {statistics.median(rates):.1f} | {per_step:.2f} | {statistics.median(cores):.3f} "
            f"| {statistics.median(per_minute):.1f} |"
        )
    ratio = statistics.median(ratios)
    extra = statistics.median(u["server_cores"] for _, u in rows["with"]) - statistics.median(
        u["server_cores"] for _, u in rows["without"]
    )
    print(
        f"\n- ratio with/without (median of {len(ratios)} pairs): {ratio:.3f} (range {min(ratios):.3f}-{max(ratios):.3f}); "
        f"{'meets' if ratio >= 0.95 else 'below'} the 0.95 goal (cost <= 5%)"
    )
    print(f"- the server process's extra CPU with them: {extra:+.3f} cores (the quality thread, the graph, their curves panels)")
    cpu_ratios = [
        w[1]["worker_ms_per_step"] / o[1]["worker_ms_per_step"] for w, o in zip(rows["with"], rows["without"], strict=True)
    ]
    print(
        f"- the training's own CPU per step, with/without (median of pairs; what a loaded machine does not blur): "
        f"{statistics.median(cpu_ratios):.3f} (range {min(cpu_ratios):.3f}-{max(cpu_ratios):.3f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="ring8", help="ring8 (default), another 2D toy, or mnist")
    parser.add_argument("--seconds", type=float, default=8.0, help="wall-clock seconds per measurement")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-app", action="store_true", help="skip the launched-app measurement")
    parser.add_argument(
        "--browser", action="store_true", help="also measure the Train tab in Debian's Chromium on the same machine"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    parser.add_argument(
        "--only-app", action="store_true", help="measure only the bare loop (own process) and the app's paths (client, browser)"
    )
    parser.add_argument(
        "--quality", action="store_true", help="only the cost of the quality curves and the overview graph (with vs without)"
    )
    parser.add_argument("--client", metavar="URL", help=argparse.SUPPRESS)  # internal: the client process
    parser.add_argument("--bare-process", action="store_true", help=argparse.SUPPRESS)  # internal: bare, alone
    args = parser.parse_args()
    if args.client:
        print(json.dumps(client_loop(args.client, args.dataset, args.seconds)))
        return
    torch.set_num_threads(args.threads)
    config = default_config(args.dataset)
    if args.bare_process:  # kept on one core, as the app's worker process keeps its training
        pin_to_core(free_core(set(), args.threads))
        print(json.dumps({"steps_per_second": bare(config, args.seconds)[0]}))
        return
    if args.quality:
        return quality_cost(config, args)

    url = None
    if not args.no_app:
        os.environ.setdefault("GRADIO_TEMP_DIR", tempfile.mkdtemp(prefix="ganlab-bench-gradio-"))
        os.environ.setdefault("GANLAB_CHECKPOINTS", tempfile.mkdtemp(prefix="ganlab-bench-ckpt-"))
        from ganlab.ui.app import launch

        _, url, _ = launch(prevent_thread_lock=True, quiet=True, server_port=None)

    reference = "bare Trainer.run(), a process of its own"
    paths = {reference: lambda: bare_in_own_process(args.dataset, args.seconds, args.threads)}
    if not args.only_app:
        paths.update(
            {
                "bare Trainer.run(), in the app's process": lambda: bare(config, args.seconds),
                "RunManager, training thread + reader (0.4 s previews)": lambda: manager_with_reader(
                    config, args.seconds, processes=False
                ),
                "RunManager, worker process + reader (0.4 s previews)": lambda: manager_with_reader(
                    config, args.seconds, processes=True
                ),
            }
        )
    if url:
        paths["app + gradio_client (/train_watch stream)"] = lambda: app_with_client(url, args.dataset, args.seconds)
    if url and args.browser:
        paths["app + Chromium (the Train tab)"] = lambda: app_with_browser(url, args.dataset, args.seconds)
    # One unrecorded round first: imports, the first figure and the app's own warm-up are not throughput.
    warm_up = {"bare": lambda: bare(config, 1.5)}
    if not args.only_app:
        warm_up.update(
            {
                "thread": lambda: manager_with_reader(config, 1.5, processes=False),
                "process": lambda: manager_with_reader(config, 1.5, processes=True),
            }
        )
    if url:
        warm_up["app"] = lambda: app_with_client(url, args.dataset, 1.5)
    for measure in warm_up.values():
        measure()
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in paths}
    names = list(paths)
    for repeat in range(args.repeats):
        # Interleaved, in alternating order: a busy moment on a shared machine hurts every path alike.
        for name in names if repeat % 2 == 0 else reversed(names):
            results[name].append(paths[name]())
            print(f"  repeat {repeat + 1}: {name}: {results[name][-1][0]:.1f} steps/s", file=sys.stderr)

    bare_rates = [r[0] for r in results[reference]]
    print(
        f"\nStreaming overhead: {args.dataset}, {config.model} width {config.width}, batch {config.batch_size}; "
        f"{args.seconds:g} s per measurement, {args.repeats} interleaved repeats; torch threads "
        f"{torch.get_num_threads()}, {os.cpu_count()} CPU cores\n"
    )
    print("| path | steps/s (median) | ratio to bare, own process (median of paired repeats) | range | previews/s |")
    print("|---|---:|---:|---:|---:|")
    two_d = config.dataset in TOY_DISTRIBUTIONS
    # 2D: the view at least twice a second; an image run: a new sample grid about once a second, and
    # >= 0.8 of the bare loop with Chromium on the same two cores (issue 17).
    picture_goal = 2.0 if two_d else 0.8
    verdicts = []
    for name, values in results.items():
        ratios = [v[0] / b for v, b in zip(values, bare_rates, strict=True) if v[0] == v[0]]
        values = [v for v in values if v[0] == v[0]]  # a repeat left out (NaN)
        if not values:
            print(f"| {name} | — | — | — | — |")
            continue
        rate = statistics.median(v[0] for v in values)
        ratio = statistics.median(ratios)
        updates = [v[1] for v in values if v[1] == v[1]]
        shown = f"{statistics.median(updates):.2f}" if updates else "—"
        print(f"| {name} | {rate:.1f} | {ratio:.2f} | {min(ratios):.2f}–{max(ratios):.2f} | {shown} |")
        if updates:
            goal, pictures = (0.8 if "Chromium" in name and not two_d else 0.9), statistics.median(updates)
            verdicts.append(
                f"{name}: ratio {ratio:.2f} ({'meets' if ratio >= goal else 'below'} the {goal:g} goal), "
                f"{pictures:.2f} previews/s ({'meets' if pictures >= picture_goal else 'below'} "
                f"the {picture_goal:g}/s goal)"
            )
    print()
    for line in verdicts:
        print(f"- {line}")
    if BROWSER_CPU:
        shares = ", ".join(f"{group} {statistics.median(c[group] for c in BROWSER_CPU):.2f}" for group in BROWSER_CPU[0])
        print(f"- CPU while Chromium watched (cores, median of repeats): {shares}")
    if url:
        import gradio as gr

        gr.close_all()


if __name__ == "__main__":
    main()
