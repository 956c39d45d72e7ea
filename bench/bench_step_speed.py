"""Training speed per step: which CPU settings pay for the app's runs?

Times ``Trainer.step()`` (one D move + one G move) for the app's default MNIST models and its 2D MLP
under each setting, interleaved and repeated, and prints medians in ms/step:

* torch intra-op threads: 1 or 2 (``--threads``);
* Adam: the plain per-tensor loop or the fused kernel (what the Trainer picks when it can);
* memory format of the DCGAN models: contiguous (NCHW) or channels-last (what the Trainer picks on
  the CPU);
* batch size (``--batch-sizes``), and optionally ``torch.compile`` of G and D (``--compile``), whose
  one-off compile time is reported beside its step time.

    python bench/bench_step_speed.py
    python bench/bench_step_speed.py --models dcgan --threads 2 --batch-sizes 32 64 128 --compile
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from ganlab.data.images import load_mnist  # noqa: E402
from ganlab.presets import default_config  # noqa: E402
from ganlab.training import Trainer  # noqa: E402

MODELS = {"dcgan": "mnist", "cdcgan": "mnist", "mlp": "ring8"}


def make_trainer(model: str, data, *, fused: bool, channels_last: bool, batch_size: int | None) -> Trainer:
    dataset = MODELS[model]
    overrides = {"batch_size": batch_size} if batch_size else {}
    trainer = Trainer(default_config(dataset, model, **overrides), data if dataset == "mnist" else None)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    for module in (trainer.generator, trainer.discriminator, trainer.ema_generator):
        if module is not None and dataset == "mnist":
            module.to(memory_format=fmt)
    config = trainer.config
    betas = (config.beta1, config.beta2)
    trainer.opt_g = torch.optim.Adam(trainer.generator.parameters(), lr=config.lr_g, betas=betas, fused=fused)
    trainer.opt_d = torch.optim.Adam(trainer.discriminator.parameters(), lr=config.lr_d, betas=betas, fused=fused)
    return trainer


def time_steps(trainer: Trainer, steps: int) -> float:
    started = time.perf_counter()
    for _ in range(steps):
        trainer.step()
    return (time.perf_counter() - started) / steps * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["dcgan", "mlp"], choices=list(MODELS))
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[0], help="0 = the default batch size")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=2.0, help="about this long per timed repeat")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile'd G and D")
    args = parser.parse_args()

    data = load_mnist("train")
    variants = [(fused, cl) for fused in (False, True) for cl in (False, True)]
    rows = []
    for model in args.models:
        for threads in args.threads:
            torch.set_num_threads(threads)
            for batch in args.batch_sizes:
                conv = MODELS[model] == "mnist"
                chosen = [v for v in variants if conv or not v[1]]
                trainers = {
                    v: make_trainer(model, data, fused=v[0], channels_last=v[1], batch_size=batch or None) for v in chosen
                }
                compile_seconds = None
                if args.compile:
                    compiled = make_trainer(model, data, fused=True, channels_last=conv, batch_size=batch or None)
                    started = time.perf_counter()
                    compiled.generator.body = torch.compile(compiled.generator.body)
                    compiled.discriminator.body = torch.compile(compiled.discriminator.body)
                    for _ in range(3):  # the first calls compile (forward and backward graphs)
                        compiled.step()
                    compile_seconds = time.perf_counter() - started
                    trainers["compiled"] = compiled
                probe = trainers[chosen[0]]
                steps = max(5, int(args.seconds * 1000 / max(time_steps(probe, 3), 0.01)))
                for trainer in trainers.values():
                    time_steps(trainer, 3)  # warm-up
                times = {key: [] for key in trainers}
                for _ in range(args.repeats):  # interleave so machine noise hits every variant alike
                    for key, trainer in trainers.items():
                        times[key].append(time_steps(trainer, steps))
                baseline = statistics.median(times[(False, False)])
                for key, values in times.items():
                    median = statistics.median(values)
                    if key == "compiled":
                        label = f"torch.compile (+ fused, {'channels-last' if conv else '-'}; compile {compile_seconds:.0f} s)"
                    else:
                        label = f"{'fused' if key[0] else 'plain'} Adam, {'channels-last' if key[1] else 'contiguous'}"
                    rows.append((model, threads, probe.config.batch_size, label, median, baseline / median))
                print(f"  done: {model}, {threads} threads, batch {probe.config.batch_size}", flush=True)

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"\n### Step speed ({time.strftime('%Y-%m-%d')}, commit {commit})\n")
    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores, CPU, torch {torch.__version__}.  ")
    print(f"Command: `python bench/bench_step_speed.py {' '.join(sys.argv[1:])}`\n")
    print("| model | threads | batch | setting | ms/step (median) | speed-up vs plain, contiguous |")
    print("|---|---:|---:|---|---:|---:|")
    for model, threads, batch, label, median, ratio in rows:
        print(f"| {model} | {threads} | {batch} | {label} | {median:.1f} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
