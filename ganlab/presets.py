"""Sensible defaults per dataset, and presets that provoke the classic failure modes on purpose.

Each preset is a TrainingConfig plus what a teacher should point at while it runs.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ganlab.data.registry import DATASETS
from ganlab.training import TrainingConfig


def default_config(dataset: str = "ring8", model: str | None = None, **overrides: object) -> TrainingConfig:
    """The configuration a new run starts from for ``dataset`` (and ``model``)."""
    info = DATASETS.get(dataset)
    if info is None:
        raise ValueError(f"unknown dataset {dataset!r}")
    if info.kind == "images":
        # Labelled data defaults to the conditional DCGAN: it makes recognisable digits about twice as fast
        # on a CPU (bench/bench_time_to_digits.py) and its fixed-noise grid shows one class per column.
        model = model or ("cdcgan" if info.labelled else "dcgan")
        base = dict(
            # Measured in bench/bench_time_to_digits.py (docs/BENCHMARKS.md): a width-32 DCGAN with an EMA of G,
            # batch 32 at lr 2e-3, makes digits in far fewer CPU-seconds than the textbook width-64 model at
            # batch 64 and lr 2e-4 (batch 32 beat 64, lr 2e-3 beat 1e-3, a narrower D plateaued lower).
            dataset=dataset,
            model=model,
            loss="nonsaturating",
            lr_g=2e-3,
            lr_d=2e-3,
            beta1=0.5,
            beta2=0.999,
            batch_size=32,
            noise_dim=64,
            width=32,
            depth=2,
            activation="relu",
            ema_decay=0.999,
            # The unconditional DCGAN trains on 50 k-means clusters of the images (no labels; ganlab.clusters):
            # it reaches the time-to-digits bar that the plain one misses (bench/bench_time_to_digits.py).
            clusters=50 if model == "dcgan" else 0,
        )
        if model in ("mlp", "cmlp"):
            base.update(width=256, lr_g=2e-4, lr_d=2e-4, batch_size=64, ema_decay=0.0)
    else:
        # Trained on k-means clusters of the points (their number chosen from the data), G makes one blob per
        # cluster: the ring and the grid meet the published criterion in seconds instead of tens of seconds,
        # fastest with two 64-wide layers (bench/bench_2d_convergence.py). Without clusters three 128-wide
        # layers did best.
        clustered = (model or "mlp") == "mlp" and overrides.get("clusters", "auto") != 0
        base = dict(
            dataset=dataset,
            model=model or "mlp",
            loss="nonsaturating",
            lr_g=1e-3,
            lr_d=1e-3,
            beta1=0.5,
            beta2=0.999,
            batch_size=128,
            noise_dim=2,
            width=64 if clustered else 128,
            depth=2 if clustered else 3,
            activation="relu",
            clusters="auto" if clustered else 0,
            # At lr 1e-3 the live G keeps orbiting the equilibrium once it has found every mode (the game's
            # rotation: Mescheder et al. 2018), so one seed's samples lost a mode after reaching the bar on some
            # CPUs. The average of G's last ~100 weights sits at the centre of that orbit and keeps every mode
            # (6 of 6 seeds from step 800 to 2,000: bench/bench_2d_convergence.py --configs app).
            ema_decay=0.99 if clustered else 0.0,
        )
    base.update(overrides)
    return TrainingConfig(**base)


@dataclass(frozen=True)
class Preset:
    name: str
    title: str
    config: TrainingConfig
    what_to_look_for: str


def presets(dataset: str = "ring8") -> dict[str, Preset]:
    """The teaching presets for a 2D dataset: a healthy run and three classic failures."""
    healthy = default_config(dataset)
    replace = dataclasses.replace
    # The failure presets were tuned on the classic two-layer MLP at batch 256, a plain GAN (no clusters, which
    # would hide mode collapse by construction); they keep it.
    # No weight average either: the failures are to be seen in G itself.
    classic = replace(healthy, width=128, depth=2, batch_size=256, clusters=0, ema_decay=0.0)
    items = [
        Preset(
            "healthy",
            "Healthy run",
            healthy,
            "D(x) and D(G(z)) both settle near 0.5; the generated points spread over every mode and the "
            "heat map flattens out: D can no longer tell real from fake.",
        ),
        Preset(
            "mode-collapse",
            "Mode collapse",
            replace(classic, lr_g=5e-3, lr_d=5e-4, d_steps=1, batch_size=64, beta1=0.5, width=64, seed=1),
            "The generated points gather on one or a few modes and then hop from mode to mode; the live "
            "'modes covered' count stays far below the total. G found a few outputs that fool D and stopped "
            "exploring.",
        ),
        Preset(
            "vanishing-gradients",
            "Vanishing gradients",
            replace(classic, loss="minimax", lr_d=5e-3, lr_g=1e-4, d_steps=5, width=256),
            "D quickly becomes near-perfect (D(x) -> 1, D(G(z)) -> 0). With the saturating loss "
            "log(1 - D(G(z))), G's gradient norm falls towards zero and the generated points barely move. "
            "Switch the loss to non-saturating to revive it.",
        ),
        Preset(
            "oscillation",
            "Non-convergence (oscillation)",
            replace(classic, lr_g=2e-2, lr_d=2e-2, beta1=0.9),
            "With learning rates this high the players overshoot: the losses and D's outputs swing instead "
            "of settling, and the generated points circle around the data without converging.",
        ),
    ]
    return {preset.name: preset for preset in items}
