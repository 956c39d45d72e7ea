"""Quiz under load: many participants answering whole decks at once through the app's HTTP API.

Starts the full app on loopback in a subprocess (fresh database and pools in a temporary folder,
a small random generator as the fake source), creates a quiz, then drives N simulated
participants concurrently: join, then answer every trial of the deck. Two ways in (``--mode``):

* ``gradio``: each participant is a browser session speaking Gradio's queue protocol (the same
  requests the Quiz tab sends), one thread each;
* ``lean``: the participant route (``/quiz/api/join`` and ``/quiz/api/answer``, what the page at
  ``/quiz/CODE`` sends), one asyncio task and one HTTP connection each;
* ``both``: one after the other on the same server, each with a quiz of its own.

Each answer's latency is the full round trip a participant waits for: the answer is committed
(fsync'd), the next trial is served and sent back. Server CPU per answer is the server process's
CPU time (/proc) over the answering phase divided by the answers. At the end the database is opened
directly to check that every answer is stored exactly once and every acknowledged answer is there as sent.

    python bench/bench_quiz_load.py                          # 100 participants x 20 trials, no pause
    python bench/bench_quiz_load.py --mode both --think-ms 2000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import secrets
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ganlab.device import cpu_name  # noqa: E402
from ganlab.ui.quiz import PARTICIPANT_VIEW as VIEW  # noqa: E402  (the order of a participant view's outputs)

NO_PARTICIPANT = {"code": "", "nickname": "", "token": ""}


class Session:
    """One browser session: POST /gradio_api/queue/join, then read the SSE stream for the result."""

    def __init__(self, url: str, dependencies: dict[str, int]) -> None:
        self.url = url
        self.dependencies = dependencies
        self.session_hash = secrets.token_hex(8)
        self.http = httpx.Client(timeout=120)

    def call(self, api_name: str, *data) -> list:
        body = {
            "data": list(data),
            "event_data": None,
            "fn_index": self.dependencies[api_name],
            "trigger_id": None,
            "session_hash": self.session_hash,
        }
        event_id = self.http.post(f"{self.url}/gradio_api/queue/join", json=body).json()["event_id"]
        with self.http.stream("GET", f"{self.url}/gradio_api/queue/data", params={"session_hash": self.session_hash}) as stream:
            for line in stream.iter_lines():
                if line.startswith("data:"):
                    message = json.loads(line[5:])
                    if message.get("msg") == "process_completed" and message.get("event_id") == event_id:
                        if not message.get("success"):
                            raise RuntimeError(message.get("output", {}).get("error") or "call failed")
                        return message["output"]["data"]
        raise RuntimeError("stream ended without a result")

    def close(self) -> None:
        self.http.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_app(folder: Path, port: int, overrides: dict[str, str] | None = None, log_name: str = "server.log") -> subprocess.Popen:
    """The app on loopback, its data in ``folder`` (``overrides``: more environment, e.g. a shared database)."""
    env = {
        **os.environ,
        "GANLAB_QUIZ_DB": str(folder / "quiz.sqlite"),
        "GANLAB_CHECKPOINTS": str(folder / "checkpoints"),
        "GANLAB_QUIZ_POOLS": str(folder / "pools"),
        "GRADIO_TEMP_DIR": str(folder / "gradio"),
        "TMPDIR": str(folder),
        "GANLAB_OFFLINE": "1",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "NO_PROXY": "localhost,127.0.0.1",
        "GANLAB_QUIZ_JOINS_PER_MINUTE": "100000",  # every simulated phone comes from 127.0.0.1
        **(overrides or {}),
    }
    command = [sys.executable, "-c", f"from ganlab.ui.app import launch; launch(server_port={port}, quiet=True)"]
    log = (folder / log_name).open("ab")
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 180
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the app exited; see {folder / log_name}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/config", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    process.kill()
    raise RuntimeError("the app did not start within 3 minutes")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux), to report server CPU per answer: a figure that
    does not depend on what else the (shared) machine is doing."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan")


def save_generator(folder: Path) -> None:
    import torch

    from ganlab.checkpoints import save_model
    from ganlab.models.gan import Generator, GeneratorConfig

    torch.manual_seed(0)
    generator = Generator(GeneratorConfig(arch="dcgan", data_shape=(1, 28, 28), noise_dim=16, width=16))
    save_model(generator, folder, metadata={"dataset": "mnist"})


THINK_SPREAD = 0.5  # --think-spread: each pause uniform in mean * (1 +- spread); 0 = everyone in lockstep


def think_time(mean_s: float) -> float:
    """How long a participant looks before answering. People differ and so do images: with one fixed pause
    all 100 participants would answer in the same instant, every 2 s, a burst no class produces."""
    return mean_s * random.uniform(1 - THINK_SPREAD, 1 + THINK_SPREAD)


def participant(
    url: str,
    dependencies: dict,
    code: str,
    name: str,
    think_s: float,
    start: threading.Barrier,
    latencies: list,
    acknowledged: list,
    errors: list,
) -> None:
    session = Session(url, dependencies)
    try:
        view = dict(zip(VIEW, session.call("quiz_join", code, name, "", NO_PARTICIPANT), strict=True))
        start.wait()
        while view["trial_number"] is not None:
            if think_s:
                time.sleep(think_time(think_s))
            label = secrets.choice(["Real", "Fake"])
            number = int(view["trial_number"])
            began = time.perf_counter()
            data = session.call("quiz_answer", label, number, view["trial_id"], None, None, view["saved"])
            latencies.append(time.perf_counter() - began)
            acknowledged.append((name, number, label.lower()))
            view = dict(zip(VIEW, data, strict=True))
            if not view["trial_id"]:
                break  # the deck is done: the done view carries no trial
    except Exception as error:  # noqa: BLE001 - report every failure, keep the others going
        errors.append(f"{name}: {error}")
        try:
            start.abort()
        except threading.BrokenBarrierError:
            pass
    finally:
        session.close()


async def lean_participant(
    client: httpx.AsyncClient, code: str, name: str, think_s: float, start: asyncio.Barrier, latencies: list, acknowledged: list
) -> None:
    """One phone on the participant route: join, wait for everyone, then answer the whole deck."""
    try:
        reply = await client.post("/quiz/api/join", json={"code": code, "nickname": name})
        if reply.status_code != 200:
            raise RuntimeError(reply.text)
        data = reply.json()
        token, trial = data["token"], data["trial"]
    except BaseException:
        await start.abort()  # nobody waits for a participant who could not join
        raise
    await start.wait()
    while trial is not None:
        if think_s:
            await asyncio.sleep(think_time(think_s))
        answer = secrets.choice(["real", "fake"])
        body = {"token": token, "trial_id": trial["trial_id"], "number": trial["number"], "answer": answer}
        began = time.perf_counter()
        reply = await client.post("/quiz/api/answer", json=body)
        latencies.append(time.perf_counter() - began)
        if reply.status_code != 200:
            raise RuntimeError(reply.text)
        acknowledged.append((name, trial["number"], answer))
        trial = reply.json()["trial"]


async def drive_lean(url: str, code: str, args, names: list[str], server_pid: int) -> dict:
    latencies: list[float] = []
    acknowledged: list[tuple[str, int, str]] = []
    start = asyncio.Barrier(len(names) + 1)
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)  # one connection per phone
    clients = [httpx.AsyncClient(base_url=url, timeout=120, limits=limits) for _ in names]
    think_s = args.think_ms / 1000
    tasks = [
        asyncio.create_task(lean_participant(c, code, n, think_s, start, latencies, acknowledged))
        for c, n in zip(clients, names, strict=True)
    ]
    print(f"{len(names)} participants joining quiz {code} on the participant route ...", flush=True)
    try:
        await asyncio.wait_for(start.wait(), timeout=600)
    except asyncio.BrokenBarrierError:
        pass  # a join failed: the error is reported below
    began, cpu_before, load_before = time.perf_counter(), cpu_seconds(server_pid), os.getloadavg()[0]
    results = await asyncio.gather(*tasks, return_exceptions=True)
    wall = time.perf_counter() - began
    server_cpu = cpu_seconds(server_pid) - cpu_before
    for client in clients:
        await client.aclose()
    errors = [f"{n}: {r!r}" for n, r in zip(names, results, strict=True) if isinstance(r, BaseException)]
    errors.sort(key=lambda e: "BrokenBarrierError" in e)  # the failure first, those it stopped after
    return dict(
        latencies=latencies,
        acknowledged=acknowledged,
        errors=errors,
        wall=wall,
        cpu=server_cpu,
        load=(load_before, os.getloadavg()[0]),
    )


def drive_gradio(url: str, dependencies: dict, code: str, args, names: list[str], server_pid: int) -> dict:
    latencies: list[float] = []
    acknowledged: list[tuple[str, int, str]] = []
    errors: list[str] = []
    barrier = threading.Barrier(len(names) + 1)
    threads = [
        threading.Thread(
            target=participant,
            args=(url, dependencies, code, name, args.think_ms / 1000, barrier, latencies, acknowledged, errors),
            daemon=True,
        )
        for name in names
    ]
    for thread in threads:
        thread.start()
    print(f"{len(names)} participants joining quiz {code} through Gradio's queue ...", flush=True)
    barrier.wait(timeout=600)
    began, cpu_before, load_before = time.perf_counter(), cpu_seconds(server_pid), os.getloadavg()[0]
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    return dict(
        latencies=latencies,
        acknowledged=acknowledged,
        errors=errors,
        wall=wall,
        cpu=cpu_seconds(server_pid) - cpu_before,
        load=(load_before, os.getloadavg()[0]),
    )


def create_quiz(url: str, dependencies: dict, args) -> str:
    owner = Session(url, dependencies)
    try:
        created = owner.call(
            "quiz_create",
            "Load test",
            ["saved/bench"],
            args.trials,
            "single",
            False,
            False,
            0,
            0.0,
            False,
            "",
            max(300, args.participants),
        )
    finally:
        owner.close()
    return created[3]


def check_database(path: Path, code: str, acknowledged: list, participants: int, trials: int) -> list[str]:
    """Every answer stored exactly once, and every acknowledged answer stored as sent."""
    problems = []
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = connection.execute(
            "SELECT p.nickname, a.trial_index, a.answer FROM answers a "
            "JOIN participants p ON p.id = a.participant_id JOIN quizzes q ON q.id = a.quiz_id WHERE q.code = ?",
            (code,),
        ).fetchall()
    finally:
        connection.close()
    stored: dict[tuple[str, int], list[str]] = {}
    for nickname, index, answer in rows:
        stored.setdefault((nickname, index + 1), []).append(answer)
    duplicates = [key for key, answers in stored.items() if len(answers) != 1]
    if duplicates:
        problems.append(f"{len(duplicates)} trials stored more than once")
    missing = [(n, t, a) for n, t, a in acknowledged if stored.get((n, t)) != [a]]
    if missing:
        problems.append(f"{len(missing)} acknowledged answers missing or different, e.g. {missing[:3]}")
    if len(rows) != participants * trials:
        problems.append(f"{len(rows)} answers stored; expected {participants * trials}")
    return problems


def main() -> None:
    global THINK_SPREAD
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--participants", type=int, default=100)
    parser.add_argument("--trials", type=int, choices=[20, 50, 100], default=20, help="deck size")
    parser.add_argument("--think-ms", type=float, default=0, help="mean pause before each answer (0 = flat out)")
    parser.add_argument(
        "--think-spread",
        type=float,
        default=THINK_SPREAD,
        help="each pause is uniform in mean * (1 +- spread) (default 0.5; 0: all participants answer in lockstep)",
    )
    parser.add_argument("--mode", choices=["gradio", "lean", "both"], default="both", help="which way participants answer")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (database, log)")
    args = parser.parse_args()
    THINK_SPREAD = args.think_spread

    folder = Path(tempfile.mkdtemp(prefix="ganlab-bench-quiz-"))
    save_generator(folder / "checkpoints" / "bench")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    print(f"starting the app on {url} (data in {folder}) ...", flush=True)
    server = start_app(folder, port)
    modes = ["gradio", "lean"] if args.mode == "both" else [args.mode]
    results = {}
    try:
        dependencies = {d["api_name"]: d["id"] for d in httpx.get(f"{url}/config").json()["dependencies"] if d.get("api_name")}
        for mode in modes:
            code = create_quiz(url, dependencies, args)
            names = [f"p{i:04d}" for i in range(args.participants)]
            if mode == "lean":
                run = asyncio.run(drive_lean(url, code, args, names, server.pid))
            else:
                run = drive_gradio(url, dependencies, code, args, names, server.pid)
            results[mode] = (code, run)
    finally:
        server.terminate()
        server.wait(timeout=30)
    report(folder, args, results)


def report(folder: Path, args, results: dict) -> None:
    commit = (
        subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip() or "?"
    )
    import gradio

    print(f"\n### Quiz under load ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, commit {commit})\n")
    print(
        f"Machine: {cpu_name()}, {os.cpu_count()} cores (shared), Python {platform.python_version()}, "
        f"gradio {gradio.__version__}, SQLite {sqlite3.sqlite_version} (WAL, synchronous=FULL)  "
    )
    print(f"Command: `python bench/bench_quiz_load.py {' '.join(sys.argv[1:])}`  ")
    print(
        "Latency: the full round trip of one answer over HTTP (commit with fsync, the next trial served and "
        "sent); the benchmark's clients share the machine with the server. Load average (1 min) at the start "
        "and end of each run: other work on the machine slows every figure but the server CPU per answer.\n"
    )
    print(
        "| way in | participants | trials each | think time | answers | wall time | answers/s | p50 latency | "
        "p95 latency | max | server CPU per answer | load avg | errors | every answer stored exactly once |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    failed = False
    for mode, (code, run) in results.items():
        problems = check_database(folder / "quiz.sqlite", code, run["acknowledged"], args.participants, args.trials)
        ms = sorted(1000 * x for x in run["latencies"]) or [float("nan")]
        quantile = statistics.quantiles(ms, n=100) if len(ms) > 1 else [ms[0]] * 99
        verdict = "yes" if not problems else "NO: " + "; ".join(problems)
        way = "Gradio events (Quiz tab)" if mode == "gradio" else "participant route (/quiz/CODE)"
        print(
            f"| {way} | {args.participants} | {args.trials} | {args.think_ms:g} ms +-{100 * args.think_spread:g}% "
            f"| {len(run['latencies'])} | "
            f"{run['wall']:.1f} s | {len(ms) / run['wall']:.0f} | {quantile[49]:.0f} ms | {quantile[94]:.0f} ms | "
            f"{ms[-1]:.0f} ms | {1000 * run['cpu'] / max(1, len(run['latencies'])):.1f} ms | "
            f"{run['load'][0]:.1f} / {run['load'][1]:.1f} | {len(run['errors'])} | {verdict} |"
        )
        for error in run["errors"][:5]:
            print(f"\nerror ({mode}): {error}")
        failed = failed or bool(problems or run["errors"])
    if not args.keep:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
