"""Mode coverage and divergences for 2D toy distributions.

Mode coverage follows the protocol of Metz et al. 2017 (Unrolled GAN), Srivastava et al. 2017
(VEEGAN) and Lin et al. 2018 (PacGAN): a generated sample is *high quality* when it lies within
3 standard deviations of its nearest mode centre, and a mode is *covered* when it is the nearest
mode of at least one high-quality sample (``min_count`` raises that bar).

KL and JS divergences are estimated on a 2D histogram: a bins x bins grid over the data's
bounding box (padded by 25% per side) plus one extra bin for everything outside it, so a generator
that throws mass far away is penalised. Every bin gets a pseudo-count ``epsilon`` before
normalising (additive smoothing), otherwise KL(P || Q) is infinite as soon as one data bin is
empty in the generated histogram. Divergences are in nats; JS lies in [0, ln 2 = 0.693].
"""

from __future__ import annotations

import numpy as np

from ganlab.metrics.result import MetricResult


def mode_coverage(
    samples: np.ndarray, modes: np.ndarray, std: float, *, min_count: int = 1, quality_radius: float = 3.0
) -> tuple[MetricResult, MetricResult]:
    """(modes covered, share of high-quality samples) for 2D samples (N, 2) and mode centres (K, 2).

    ``details`` of the first result holds the per-mode counts of high-quality samples.
    """
    samples = _points(samples, "samples")
    modes = _points(modes, "modes")
    if std <= 0:
        raise ValueError(f"mode std must be > 0; got {std}")
    d2 = ((samples[:, None, :] - modes[None, :, :]) ** 2).sum(-1)
    nearest = d2.argmin(axis=1)
    distance = np.sqrt(d2[np.arange(len(samples)), nearest])
    high_quality = distance <= quality_radius * std
    counts = np.bincount(nearest[high_quality], minlength=len(modes))
    covered = int((counts >= min_count).sum())
    n = len(samples)
    warning = None
    if n < 10 * len(modes):
        warning = f"only {n:,} samples for {len(modes)} modes: an uncovered mode may just be unlucky"
    return (
        MetricResult(
            "modes covered",
            covered,
            n,
            higher_is_better=True,
            warning=warning,
            details={"num_modes": len(modes), "per_mode_counts": counts, "min_count": min_count},
        ),
        MetricResult(
            "high-quality samples",
            float(high_quality.mean()),
            n,
            higher_is_better=True,
            details={"radius_in_std": quality_radius},
        ),
    )


def histogram_divergences(
    data: np.ndarray, generated: np.ndarray, *, bins: int = 50, epsilon: float = 1e-3
) -> tuple[MetricResult, MetricResult]:
    """(KL(data || generated), JS(data, generated)) estimated on a smoothed 2D histogram."""
    data = _points(data, "data")
    generated = _points(generated, "generated")
    if bins < 1 or epsilon <= 0:
        raise ValueError(f"bins must be >= 1 and epsilon > 0; got bins={bins}, epsilon={epsilon}")
    low, high = data.min(axis=0), data.max(axis=0)
    pad = 0.25 * np.maximum(high - low, 1e-6)
    edges = [np.linspace(low[d] - pad[d], high[d] + pad[d], bins + 1) for d in range(2)]
    p = _smoothed_histogram(data, edges, epsilon)
    q = _smoothed_histogram(generated, edges, epsilon)
    from scipy.spatial.distance import jensenshannon  # imported when used: scipy costs seconds at start
    from scipy.stats import entropy

    kl = float(entropy(p, q))  # sum p ln(p / q), in nats
    # jensenshannon returns the JS *distance*, the square root of the divergence. For near-identical
    # histograms round-off can push the divergence a hair below 0, and its root comes back NaN: that is 0.
    with np.errstate(invalid="ignore"):
        js = float(np.nan_to_num(jensenshannon(p, q) ** 2, nan=0.0))
    n = min(len(data), len(generated))
    warning = None
    if n < 5 * bins * bins:
        warning = (
            f"N = {n:,} samples on {bins}x{bins} bins: histogram divergences are biased upward at small N; "
            "the real reference row shows that floor"
        )
    details = {"bins": bins, "epsilon": epsilon, "n_data": len(data), "n_generated": len(generated)}
    return (
        MetricResult("KL(data || generated)", max(kl, 0.0), n, False, warning=warning, details=details),
        MetricResult("JS(data, generated)", max(js, 0.0), n, False, warning=warning, details=details),
    )


def _smoothed_histogram(points: np.ndarray, edges: list[np.ndarray], epsilon: float) -> np.ndarray:
    """Bin probabilities of a grid plus one outside bin, each with a pseudo-count epsilon."""
    grid, _, _ = np.histogram2d(points[:, 0], points[:, 1], bins=edges)
    outside = len(points) - grid.sum()
    counts = np.append(grid.ravel(), outside) + epsilon
    return counts / counts.sum()


def _points(array: np.ndarray, what: str) -> np.ndarray:
    array = np.asarray(array, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 2 or len(array) == 0:
        raise ValueError(f"{what} must be a non-empty (N, 2) array of 2D points; got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{what} contains NaN or infinite values")
    return array
