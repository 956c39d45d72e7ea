"""Kernel distance between two feature sets (KID; Binkowski et al. 2018).

KID is the squared maximum mean discrepancy (MMD^2) with the cubic polynomial kernel

    k(x, y) = (x . y / D + 1)^3          (D = feature dimension)

estimated without bias:  MMD^2 = mean_{i!=j} k(a_i, a_j) + mean_{i!=j} k(b_i, b_j) - 2 mean_{i,j} k(a_i, b_j).

Unlike FID it has no bias at small N (its expected value is exactly 0 when both sets come from
one distribution), so it can be negative. As in the paper, it is averaged over random subsets
(default 100 subsets of 1,000 samples, or of half the data when that is smaller). The spread
reported is the standard deviation over subsets, as Binkowski et al. and torchmetrics print it:
the standard error of the mean over subsets (in ``details["standard_error"]``, sqrt(subsets)
times smaller) only measures the subsampling noise for *this* sample and understates how much
KID changes with a fresh sample of the same size.
"""

from __future__ import annotations

import numpy as np

from ganlab.metrics.result import MetricResult, feature_pair, join_warnings

KID_MIN_RELIABLE_N = 1000


def polynomial_kernel(a: np.ndarray, b: np.ndarray, *, degree: int = 3, coef: float = 1.0) -> np.ndarray:
    """k(a_i, b_j) = (a_i . b_j / D + coef)^degree for all pairs, shape (len(a), len(b))."""
    return (a @ b.T / a.shape[1] + coef) ** degree


def mmd2_unbiased(a: np.ndarray, b: np.ndarray, *, degree: int = 3, coef: float = 1.0) -> float:
    """The unbiased MMD^2 estimate between sample sets a (m, D) and b (n, D) under the polynomial kernel."""
    m, n = len(a), len(b)
    if m < 2 or n < 2:
        raise ValueError(f"MMD needs at least 2 samples per set; got {m} and {n}")
    k_aa = polynomial_kernel(a, a, degree=degree, coef=coef)
    k_bb = polynomial_kernel(b, b, degree=degree, coef=coef)
    k_ab = polynomial_kernel(a, b, degree=degree, coef=coef)
    # Leave out the diagonal (a sample with itself) so that each term is unbiased.
    within_a = (k_aa.sum() - np.trace(k_aa)) / (m * (m - 1))
    within_b = (k_bb.sum() - np.trace(k_bb)) / (n * (n - 1))
    return float(within_a + within_b - 2.0 * k_ab.mean())


def kid(
    features_a: np.ndarray,
    features_b: np.ndarray,
    *,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
    name: str = "KID",
) -> MetricResult:
    """KID between two feature sets: mean of unbiased MMD^2 over random subsets ± std over subsets."""
    a, b = feature_pair(features_a, features_b)
    if subsets < 1:
        raise ValueError(f"subsets must be >= 1; got {subsets}")
    size = min(subset_size, len(a), len(b))
    if subsets > 1:
        # Subsets of at most half the data, so that they differ and their spread means something.
        size = min(size, max(2, min(len(a), len(b)) // 2))
    rng = np.random.default_rng(seed)
    values = np.empty(subsets)
    for s in range(subsets):
        pick_a = rng.choice(len(a), size, replace=False)
        pick_b = rng.choice(len(b), size, replace=False)
        values[s] = mmd2_unbiased(a[pick_a], b[pick_b])
    std = float(values.std(ddof=1)) if subsets > 1 else float("nan")
    n = min(len(a), len(b))
    small = None
    if n < KID_MIN_RELIABLE_N:
        small = f"N = {n:,} < {KID_MIN_RELIABLE_N:,}: KID is unbiased but very noisy at this size"
    return MetricResult(
        name,
        float(values.mean()),
        n,
        higher_is_better=False,
        spread=std if subsets > 1 else None,
        spread_kind=f"std over {subsets} subsets of {size:,}",
        warning=join_warnings(small),
        details={"subsets": subsets, "subset_size": size, "standard_error": std / np.sqrt(subsets)},
    )
