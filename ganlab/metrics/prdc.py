"""Precision/recall (Kynkäänniemi et al. 2019) and density/coverage (Naeem et al. 2020).

Both estimate the support ("manifold") of a sample set by k-nearest-neighbour balls in feature
space: around every sample x, a ball whose radius is the distance from x to its k-th nearest other
sample of the same set.

* precision: share of generated samples inside the real manifold (are fakes realistic?)
* recall:    share of real samples inside the generated manifold (is the data's variety covered?)
  (k = 3, as in Kynkäänniemi et al.)
* density:   mean over generated samples of (number of real balls containing it) / k. About 1 when
  fakes are distributed like the data; it is not capped at 1 (fakes crowding dense regions), and
  unlike precision it is robust to real outliers whose big balls swallow everything.
* coverage:  share of real samples whose ball contains at least one generated sample
  (k = 5, as in Naeem et al.)

"Inside a ball" means distance <= radius (the closed ball of the papers' definitions). Distances
are Euclidean and compared squared, computed in chunks so N = 10,000 fits in memory.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ganlab.metrics.result import MetricResult, feature_pair

PRDC_MIN_RELIABLE_N = 2000
_CHUNK = 1024


def squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """All pairwise squared Euclidean distances (len(a), len(b)), clipped at 0 against round-off."""
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    return np.clip(d2, 0.0, None)


def knn_radii_squared(features: np.ndarray, k: int | Sequence[int]) -> np.ndarray:
    """Squared distance from each sample to its k-th nearest *other* sample of the same set.

    Returns (N,) for one k, or (N, len(k)) for several k computed in one pass.
    """
    features = np.asarray(features, dtype=np.float64)
    ks = [k] if isinstance(k, (int, np.integer)) else list(k)
    for value in ks:
        if not 1 <= value < len(features):
            raise ValueError(f"k must be between 1 and N - 1 = {len(features) - 1}; got {value}")
    radii = np.empty((len(features), len(ks)))
    for start in range(0, len(features), _CHUNK):
        d2 = squared_distances(features[start : start + _CHUNK], features)
        # Column 0 of the sorted row is the sample itself (distance 0), so the k-th other is index k.
        radii[start : start + _CHUNK] = np.partition(d2, ks, axis=1)[:, ks]
    return radii[:, 0] if isinstance(k, (int, np.integer)) else radii


def prdc(
    real: np.ndarray, fake: np.ndarray, *, k_pr: int = 3, k_dc: int = 5
) -> tuple[MetricResult, MetricResult, MetricResult, MetricResult]:
    """(precision, recall, density, coverage) of ``fake`` against ``real``, both (N, D) features.

    The real-vs-fake distances are computed once, chunk by chunk, and feed all four metrics.
    """
    real, fake = feature_pair(real, fake)
    real_radii = knn_radii_squared(real, (k_pr, k_dc))
    real_radius_pr, real_radius_dc = real_radii[:, 0], real_radii[:, 1]
    fake_radius_pr = knn_radii_squared(fake, k_pr)
    fake_in_real = np.zeros(len(fake), dtype=bool)  # precision: fake inside some real ball
    balls_per_fake = np.zeros(len(fake), dtype=np.int64)  # density: how many real balls hold it
    real_in_fake = np.zeros(len(real), dtype=bool)  # recall: real inside some fake ball
    nearest_fake = np.full(len(real), np.inf)  # coverage: nearest fake to each real
    for start in range(0, len(fake), _CHUNK):
        stop = min(start + _CHUNK, len(fake))
        d2 = squared_distances(fake[start:stop], real)  # (chunk, N_real)
        fake_in_real[start:stop] = (d2 <= real_radius_pr[None, :]).any(axis=1)
        balls_per_fake[start:stop] = (d2 <= real_radius_dc[None, :]).sum(axis=1)
        real_in_fake |= (d2 <= fake_radius_pr[start:stop, None]).any(axis=0)
        nearest_fake = np.minimum(nearest_fake, d2.min(axis=0))
    warning = _warning(real, fake)
    n = min(len(real), len(fake))
    pr = {"k": k_pr, "n_real": len(real), "n_fake": len(fake)}
    dc = {"k": k_dc, "n_real": len(real), "n_fake": len(fake)}
    return (
        MetricResult("precision", float(fake_in_real.mean()), n, True, warning=warning, details=pr),
        MetricResult("recall", float(real_in_fake.mean()), n, True, warning=warning, details=pr),
        MetricResult("density", float(balls_per_fake.sum() / (k_dc * len(fake))), n, True, warning=warning, details=dc),
        MetricResult("coverage", float((nearest_fake <= real_radius_dc).mean()), n, True, warning=warning, details=dc),
    )


def precision_recall(real: np.ndarray, fake: np.ndarray, *, k: int = 3) -> tuple[MetricResult, MetricResult]:
    """Improved precision and recall of ``fake`` with respect to ``real`` (both (N, D) features)."""
    precision, recall, _, _ = prdc(real, fake, k_pr=k, k_dc=k)
    return precision, recall


def density_coverage(real: np.ndarray, fake: np.ndarray, *, k: int = 5) -> tuple[MetricResult, MetricResult]:
    """Density and coverage of ``fake`` with respect to ``real`` (both (N, D) features)."""
    _, _, density, coverage = prdc(real, fake, k_pr=k, k_dc=k)
    return density, coverage


def _warning(real: np.ndarray, fake: np.ndarray) -> str | None:
    notes = []
    n = min(len(real), len(fake))
    if n < PRDC_MIN_RELIABLE_N:
        notes.append(f"N = {n:,} < {PRDC_MIN_RELIABLE_N:,}: k-NN manifolds from few samples are coarse; compare only at equal N")
    if len(real) != len(fake):
        notes.append(f"unequal set sizes ({len(real):,} real vs {len(fake):,} generated) skew the k-NN radii")
    return "; ".join(notes) or None
