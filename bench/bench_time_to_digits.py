"""Time to digits: wall time until a live MNIST run makes recognisable, varied digits.

Criterion (issue 7): 1,000 samples from fixed noise reach classifier Inception Score >= 8.0 and
FID <= 5x the real-vs-real FID at N = 1,000 (shipped MNIST classifier), drawn from the generator
the app shows and the CLI saves (the weight average when the run keeps one). Evaluation pauses the
training clock, so only training time is counted, plus setting the run up (k-means for the cluster
models). The app's default run and the textbook DCGAN baseline run side by side, on the same data
and machine.

    python bench/bench_time_to_digits.py                       # both, 3 seeds each
    python bench/bench_time_to_digits.py --configs app --seeds 1 --max-seconds 90
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from overrides import add_set_option, parse_overrides  # noqa: E402  (bench/overrides.py)

from ganlab.data.images import load_mnist  # noqa: E402
from ganlab.device import cpu_name, describe_device, pick_device  # noqa: E402
from ganlab.metrics.classifier import extract, load_classifier  # noqa: E402
from ganlab.metrics.fid import fid  # noqa: E402
from ganlab.metrics.inception_score import inception_score  # noqa: E402
from ganlab.presets import default_config  # noqa: E402
from ganlab.sampling import generate_images  # noqa: E402
from ganlab.training import Trainer  # noqa: E402

N = 1000
OVERRIDES: dict = {}  # --set key=value, applied to every config (for trying variants)


def textbook_config(seed: int):
    """The tutorials' DCGAN: dense to 7x7x128, ConvT 128->64->1 with batch norm, a two-layer conv D,
    non-saturating loss, Adam(2e-4, beta1 0.5), batch 64."""
    return default_config(
        "mnist",
        "dcgan",
        width=64,
        noise_dim=100,
        batch_size=64,
        lr_g=2e-4,
        lr_d=2e-4,
        beta1=0.5,
        loss="nonsaturating",
        spectral_norm=False,
        ema_decay=0.0,
        clusters=0,
        seed=seed,
    )


CONFIGS = {
    "app": lambda seed: default_config("mnist", seed=seed),  # the app's default MNIST run (conditional)
    "app-unconditional": lambda seed: default_config("mnist", "dcgan", seed=seed),  # on k-means clusters
    "app-unconditional-spectral": lambda seed: default_config("mnist", "dcgan", cluster_method="spectral", seed=seed),
    "plain-unconditional": lambda seed: default_config("mnist", "dcgan", clusters=0, seed=seed),
    "textbook": textbook_config,
}


def measure(name: str, seed: int, data, classifier, real_features, real_ref_fid, max_seconds: float, check_every: float) -> dict:
    started = time.perf_counter()
    trainer = Trainer(dataclasses.replace(CONFIGS[name](seed), **OVERRIDES), data)
    setup = time.perf_counter() - started
    trainer.wall_time += setup  # the run's clock starts before the set-up, as the teacher's does
    history = []
    reached = None
    while trainer.wall_time < max_seconds:
        for _ in trainer.run(max_seconds=check_every):
            pass
        images, _ = generate_images(trainer.output_generator, N, seed=1234)
        features, probs = extract(classifier, images)
        score = inception_score(probs).value
        distance = fid(features, real_features).value
        history.append((round(trainer.wall_time, 1), trainer.step_count, round(score, 2), round(distance, 2)))
        print(
            f"  {name} seed {seed}: {trainer.wall_time:6.1f} s, step {trainer.step_count:5d}, "
            f"IS {score:5.2f}, FID {distance:7.2f} (bar {5 * real_ref_fid:.2f})",
            flush=True,
        )
        if score >= 8.0 and distance <= 5 * real_ref_fid:
            reached = trainer.wall_time
            break
    return {
        "name": name,
        "seed": seed,
        "seconds": reached,
        "steps": trainer.step_count,
        "history": history,
        "setup_seconds": setup,
        "steps_per_second": trainer.step_count / max(trainer.wall_time - setup, 1e-9),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", nargs="+", default=["app", "textbook"], choices=list(CONFIGS))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--max-seconds", type=float, default=300.0)
    parser.add_argument("--check-every", type=float, default=5.0)
    add_set_option(parser, "lr_g=2e-3 width=24")
    args = parser.parse_args()
    OVERRIDES.update(parse_overrides(args.set))

    data = load_mnist("train")
    heldout = load_mnist("heldout")
    classifier = load_classifier("mnist")
    rng = np.random.default_rng(0)
    real = heldout.images.numpy()[rng.choice(len(heldout), N, replace=False)]
    train_real = data.images.numpy()[rng.choice(len(data), N, replace=False)]
    real_features, real_probs = extract(classifier, real)
    train_features, _ = extract(classifier, train_real)
    real_ref_fid = fid(train_features, real_features).value
    print(
        f"data: {data.describe()}\nreal held-out vs train at N={N}: FID {real_ref_fid:.3f}, "
        f"IS {inception_score(real_probs).value:.2f}",
        flush=True,
    )

    results = {name: [] for name in args.configs}
    for seed in range(args.seeds):  # interleave configs so machine noise hits both alike
        for name in args.configs:
            results[name].append(
                measure(name, seed, data, classifier, real_features, real_ref_fid, args.max_seconds, args.check_every)
            )

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"\n### Time to digits ({time.strftime('%Y-%m-%d')}, commit {commit})\n")
    print(
        f"Machine: {cpu_name()}, {os.cpu_count()} cores, "
        f"{describe_device(pick_device())}, torch {torch.__version__}, {torch.get_num_threads()} threads.  "
    )
    print(f"Command: `python bench/bench_time_to_digits.py {' '.join(sys.argv[1:])}`  ")
    print(f"Real held-out vs train FID at N={N}: {real_ref_fid:.3f} (bar: FID <= {5 * real_ref_fid:.3f}, IS >= 8.0)\n")
    print("| run | seconds to digits (per seed) | median | set-up s | steps/s | final IS | final FID |")
    print("|---|---|---|---|---|---|---|")
    medians = {}
    for name, runs in results.items():
        times = [r["seconds"] for r in runs]
        shown = ", ".join(f"{t:.0f}" if t is not None else f">{args.max_seconds:.0f}" for t in times)
        finite = [t if t is not None else float("inf") for t in times]
        medians[name] = statistics.median(finite)
        last = [r["history"][-1] for r in runs]
        print(
            f"| {name} | {shown} | {medians[name]:.0f} | {statistics.median(r['setup_seconds'] for r in runs):.1f} | "
            f"{statistics.median(r['steps_per_second'] for r in runs):.1f} | "
            f"{statistics.median(h[2] for h in last):.2f} | {statistics.median(h[3] for h in last):.2f} |"
        )
    if {"app", "textbook"} <= medians.keys() and medians["app"] < float("inf"):
        textbook = medians["textbook"]
        if textbook < float("inf"):
            print(f"\nSpeed-up (textbook median / app median): {textbook / medians['app']:.1f}x")
        else:
            print(
                f"\nSpeed-up: more than {args.max_seconds / medians['app']:.1f}x (the textbook run did not reach "
                f"the bar in {args.max_seconds:.0f} s)"
            )


if __name__ == "__main__":
    main()
