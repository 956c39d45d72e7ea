"""2D convergence: wall time until a run covers every mode with >= 90% high-quality samples.

The published protocol (Metz et al. 2017; Srivastava et al. 2017, VEEGAN; Lin et al. 2018, PacGAN):
2,500 samples; a sample is high quality within 3 std of its nearest mode; a mode is covered when
it is the nearest mode of at least one high-quality sample. Data: ring of 8 (radius 2, std 0.02)
and grid of 25 (centres {-4,-2,0,2,4}^2, std 0.05). Goals (issue 7): ring <= 5 s, grid <= 20 s.

Runs the app's default 2D run (``default_config``) and the plain MLP GAN of the issue (two 128-wide
ReLU layers, Adam 1e-3 with PyTorch's default betas, batch 256, no averaging) side by side, seeds
interleaved. Evaluation pauses the training clock; set-up (building G and D, and k-means for the
runs on clusters) is counted. One throw-away run first pays torch's one-off import costs.

    python bench/bench_2d_convergence.py                          # ring8 and grid25, 3 seeds
    python bench/bench_2d_convergence.py --datasets ring8 --seeds 1 --max-seconds 30
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
from overrides import add_set_option, parse_overrides  # noqa: E402  (bench/overrides.py)

from ganlab.data.toy import make_toy  # noqa: E402
from ganlab.device import describe_device, pick_device  # noqa: E402
from ganlab.metrics.modes import mode_coverage  # noqa: E402
from ganlab.presets import default_config  # noqa: E402
from ganlab.sampling import generate  # noqa: E402
from ganlab.training import Trainer  # noqa: E402

N = 2500
OVERRIDES: dict = {}  # --set key=value, applied to every config (for trying variants)
GOALS = {"ring8": 5.0, "grid25": 20.0}


def plain_mlp(dataset: str, seed: int):
    return default_config(
        dataset,
        "mlp",
        width=128,
        depth=2,
        activation="relu",
        lr_g=1e-3,
        lr_d=1e-3,
        beta1=0.9,
        beta2=0.999,
        batch_size=256,
        ema_decay=0.0,
        clusters=0,
        seed=seed,
    )


CONFIGS = {
    "app": lambda dataset, seed: default_config(dataset, seed=seed),
    # The app's default without k-means clusters: a plain GAN (the default before clusters)
    "app-plain": lambda dataset, seed: default_config(dataset, seed=seed, clusters=0),
    "app-lr2e-3": lambda dataset, seed: default_config(dataset, seed=seed, lr_g=2e-3, lr_d=2e-3),
    # The same run, judged by an exponential moving average of G's weights (what a saved run could hold)
    "app-ema": lambda dataset, seed: default_config(dataset, seed=seed, ema_decay=0.995),
    "previous-default": lambda dataset, seed: default_config(dataset, seed=seed, depth=2, batch_size=256, clusters=0),
    "plain-mlp": plain_mlp,
}


def evaluate(trainer: Trainer, distribution, labels: torch.Tensor | None, averaged: bool = False) -> tuple[int, float]:
    # The live generator: what the Train tab draws and counts (unless asked for the weight average).
    # The same N noise vectors every time (seed 1234) and, for a run on clusters, the same clusters.
    generator = trainer.output_generator if averaged else trainer.generator
    samples = generate(generator, N, labels=labels, seed=1234)[0].numpy()
    covered, quality = mode_coverage(samples, distribution.modes, distribution.std)
    return covered.value, quality.value


def measure(name: str, dataset: str, seed: int, max_seconds: float, check_every: float) -> dict:
    distribution = make_toy(dataset)
    started = time.perf_counter()
    config = dataclasses.replace(CONFIGS[name](dataset, seed), **OVERRIDES)
    trainer = Trainer(config, distribution)
    setup = time.perf_counter() - started  # building G and D, and finding the clusters: counted
    labels = trainer.generator.sample_labels(N, generator=torch.Generator().manual_seed(1234))
    reached, covered, quality = None, 0, 0.0
    while setup + trainer.wall_time < max_seconds:
        for _ in trainer.run(max_seconds=check_every):
            pass
        if trainer.status == "diverged":
            break
        covered, quality = evaluate(trainer, distribution, labels, averaged=name.endswith("-ema"))
        if covered == distribution.num_modes and quality >= 0.9:
            reached = setup + trainer.wall_time
            break
    outcome = f"reached at {reached:.1f} s" if reached is not None else "not reached"
    print(
        f"  {dataset} {name} seed {seed}: {outcome} "
        f"(step {trainer.step_count}, {covered}/{distribution.num_modes} modes, {quality:.0%} high quality)",
        flush=True,
    )
    return {
        "seconds": reached,
        "steps": trainer.step_count,
        "covered": covered,
        "quality": quality,
        "num_modes": distribution.num_modes,
        "steps_per_second": trainer.step_count / max(trainer.wall_time, 1e-9),
        "setup": setup,
        "clusters": trainer.clusters.k if trainer.clusters is not None else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["ring8", "grid25"], choices=list(GOALS))
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--max-seconds", type=float, default=60.0)
    parser.add_argument("--check-every", type=float, default=0.5, help="seconds of training between evaluations")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's choice)")
    add_set_option(parser, "lr_g=2e-3 batch_size=256")
    args = parser.parse_args()
    OVERRIDES.update(parse_overrides(args.set))
    if args.threads:
        torch.set_num_threads(args.threads)
    Trainer(default_config("ring8", clusters=0))  # the first optimizer in a process imports torch's compiler stack

    results = {(d, c): [] for d in args.datasets for c in args.configs}
    for dataset in args.datasets:
        for seed in range(args.seeds):  # interleave configs so machine noise hits both alike
            for name in args.configs:
                results[dataset, name].append(measure(name, dataset, seed, args.max_seconds, args.check_every))

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"\n### 2D convergence ({time.strftime('%Y-%m-%d')}, commit {commit})\n")
    print(
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, {describe_device(pick_device())}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads.  "
    )
    print(f"Command: `python bench/bench_2d_convergence.py {' '.join(sys.argv[1:])}`  ")
    print(
        f"Criterion: all modes covered and >= 90% of {N:,} samples within 3 std of a mode; "
        f"evaluated every {args.check_every:g} s of training.\n"
    )
    print("| data | run | seconds (per seed) | median | goal | steps/s | set-up s | clusters | at the end: modes, high quality |")
    print("|---|---|---|---:|---:|---:|---:|---|---|")
    for (dataset, name), runs in results.items():
        times = [r["seconds"] for r in runs]
        shown = ", ".join(f"{t:.1f}" if t is not None else f">{args.max_seconds:.0f}" for t in times)
        median = statistics.median(t if t is not None else float("inf") for t in times)
        ends = "; ".join(f"{r['covered']}/{r['num_modes']}, {r['quality']:.0%}" for r in runs)
        median_shown = f"{median:.1f}" if median != float("inf") else "—"
        print(
            f"| {dataset} | {name} | {shown} | {median_shown} | {GOALS[dataset]:g} | "
            f"{statistics.median(r['steps_per_second'] for r in runs):.0f} | "
            f"{statistics.median(r['setup'] for r in runs):.2f} | {', '.join(str(r['clusters']) for r in runs)} | {ends} |"
        )


if __name__ == "__main__":
    main()
