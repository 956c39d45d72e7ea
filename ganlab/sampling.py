"""Draw samples from a trained generator."""

from __future__ import annotations

import numpy as np
import torch

from ganlab.imaging import to_uint8
from ganlab.models import Generator


def balanced_labels(n: int, num_classes: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """``n`` labels with every class equally often (up to one), in random order."""
    labels = torch.arange(n) % num_classes
    return labels[torch.randperm(n, generator=generator)]


def proportional_labels(n: int, shares: list[float], *, generator: torch.Generator | None = None) -> torch.Tensor:
    """``n`` labels with each class as often as its share of ``n`` (largest remainders), in random order.

    A cluster model's samples should hold its clusters in the data's proportions. Drawing each label
    at random gets them only on average: 2,000 independent draws move a 10% class by about 0.7
    points, and FID counts that noise as a difference from the real data (on the shipped
    mnist-dcgan the FID over six seeds fell from a median 0.213 to 0.181 with exact counts).
    """
    quotas = torch.tensor(shares, dtype=torch.float64)
    quotas = quotas / quotas.sum() * n
    counts = quotas.floor().long()
    short = n - int(counts.sum())
    counts[torch.argsort(quotas - counts, descending=True, stable=True)[:short]] += 1
    labels = torch.repeat_interleave(torch.arange(len(counts)), counts)
    return labels[torch.randperm(n, generator=generator)]


@torch.no_grad()
def generate(
    generator: Generator,
    n: int,
    *,
    labels: torch.Tensor | np.ndarray | int | None = None,
    seed: int = 0,
    batch_size: int = 500,
    device: torch.device | str | None = None,
    truncation: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``n`` raw samples (float, on the CPU) and their labels (conditional and cluster models only).

    Noise is drawn from a generator seeded with ``seed``, so the same call gives the same samples.
    ``truncation`` clips each noise coordinate to [-t, t] (the truncation trick, Brock et al. 2019).
    """
    if n < 1:
        raise ValueError(f"number of samples must be >= 1; got {n}")
    device = torch.device(device) if device is not None else generator.device
    rng = torch.Generator().manual_seed(int(seed))
    z = generator.sample_noise(n, generator=rng, device="cpu")
    if truncation is not None:
        z = z.clamp(-truncation, truncation)
    k = generator.config.num_classes
    if k:
        if labels is None and generator.config.clustered:
            labels = proportional_labels(n, generator.config.cluster_prior, generator=rng)
        elif labels is None:
            labels = balanced_labels(n, k, generator=rng)
        elif isinstance(labels, int):
            labels = torch.full((n,), labels, dtype=torch.long)
        labels = torch.as_tensor(labels, dtype=torch.long)
        if labels.shape != (n,) or labels.min() < 0 or labels.max() >= k:
            raise ValueError(f"labels must be {n} class numbers in 0..{k - 1}")
    else:
        labels = None
    was_training = generator.training
    generator.eval()
    try:
        parts = []
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            batch_labels = labels[start:stop].to(device) if labels is not None else None
            parts.append(generator(z[start:stop].to(device), batch_labels).float().cpu())
    finally:
        generator.train(was_training)
    return torch.cat(parts), labels


def generate_images(
    generator: Generator,
    n: int,
    *,
    labels: torch.Tensor | np.ndarray | int | None = None,
    seed: int = 0,
    batch_size: int = 500,
    device: torch.device | str | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """``n`` images as uint8 (N, C, H, W) and their labels (int64, conditional models only)."""
    if not generator.config.is_image:
        raise ValueError("this generator makes 2D points, not images")
    samples, labels = generate(generator, n, labels=labels, seed=seed, batch_size=batch_size, device=device)
    return to_uint8(samples), (labels.numpy().astype(np.int64) if labels is not None else None)
