"""Memorization check: are generated images suspiciously close to training images?

For each query image we find its nearest training image by Euclidean distance in *pixel space*
(pixels scaled to [0, 1], so two 28x28 images are at most 28 apart). Pixel space is used rather
than classifier features because a memorised image is a near-copy of pixels, which pixel distance
shows directly (distance ~0), while features would also call two different "7"s close.

The scale of "close" comes from real data: held-out real images were never trained on, so their
distances to the training set are what a generator that does *not* copy should show. We report
the median nearest-training distance of generated and of held-out images, and the share of
generated images closer to the training set than 99% of held-out images (about 1% if nothing is
copied; much more means near-copies).
"""

from __future__ import annotations

import numpy as np
import torch

from ganlab.metrics.result import MetricResult

_CHUNK = 256


def nearest_training_distances(queries: np.ndarray | torch.Tensor, training: np.ndarray | torch.Tensor) -> np.ndarray:
    """Pixel-space distance from each uint8 query image to its nearest uint8 training image (N,)."""
    q = _flat_unit(queries)
    t = _flat_unit(training)
    if q.shape[1] != t.shape[1]:
        raise ValueError(f"query and training images differ in size: {q.shape[1]} vs {t.shape[1]} pixels")
    t_norms = (t * t).sum(1)
    nearest = torch.empty(len(q), dtype=torch.float64)
    with torch.inference_mode():
        for start in range(0, len(q), _CHUNK):
            chunk = q[start : start + _CHUNK]
            d2 = (chunk * chunk).sum(1)[:, None] + t_norms[None, :] - 2.0 * chunk @ t.T
            # The float32 expansion finds the neighbour; its distance is then recomputed directly,
            # so that an exact copy reads 0 rather than round-off noise.
            index = d2.argmin(dim=1)
            nearest[start : start + _CHUNK] = (chunk.double() - t[index].double()).norm(dim=1)
    return nearest.numpy()


def memorization(
    generated_distances: np.ndarray, heldout_distances: np.ndarray, *, quantile: float = 0.01
) -> tuple[MetricResult, MetricResult]:
    """(generated, held-out reference) results from nearest-training distances of both sets.

    value = median distance to the nearest training image. details hold the share of the set
    closer than the ``quantile`` of held-out distances (the held-out row shows ~``quantile``
    by construction) and, for the generated row, the ratio of the medians.
    """
    generated_distances = np.asarray(generated_distances, dtype=np.float64)
    heldout_distances = np.asarray(heldout_distances, dtype=np.float64)
    threshold = float(np.quantile(heldout_distances, quantile))
    gen_median, real_median = float(np.median(generated_distances)), float(np.median(heldout_distances))
    gen_close = float((generated_distances < threshold).mean())
    real_close = float((heldout_distances < threshold).mean())
    warning = None
    if gen_close > 5 * quantile:
        warning = (
            f"{gen_close:.1%} of generated images are closer to a training image than "
            f"{1 - quantile:.0%} of held-out images are: possible memorization (look at them)"
        )
    name = "median distance to nearest training image (pixels)"
    common = {"threshold": threshold, "quantile": quantile, "space": "pixels in [0, 1]"}
    return (
        MetricResult(
            name,
            gen_median,
            len(generated_distances),
            None,
            warning=warning,
            details={**common, "share_closer_than_threshold": gen_close, "ratio_to_heldout": gen_median / real_median},
        ),
        MetricResult(
            name,
            real_median,
            len(heldout_distances),
            None,
            details={**common, "share_closer_than_threshold": real_close},
        ),
    )


def _flat_unit(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    tensor = torch.as_tensor(images)
    if tensor.dtype != torch.uint8:
        raise ValueError(f"memorization check takes uint8 images; got {tensor.dtype}")
    return tensor.reshape(len(tensor), -1).float().div(255.0)
