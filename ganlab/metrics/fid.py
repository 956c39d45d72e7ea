"""Fréchet distance between two feature sets (FID; Heusel et al. 2017).

Each set of features is summarised by a Gaussian (mean mu, covariance S). The Fréchet (2-Wasserstein)
distance between two Gaussians is

    FID = ||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr( (S1^1/2 S2 S1^1/2)^1/2 )

The last trace equals the sum of the square roots of the eigenvalues of S1 S2. We compute it from
the symmetric matrix S1^1/2 S2 S1^1/2 (eigh, float64), which is faster and more stable than
``scipy.linalg.sqrtm`` of the non-symmetric S1 S2 used by pytorch-fid; the tests check both agree.
"""

from __future__ import annotations

import numpy as np

from ganlab.metrics.result import MetricResult, join_warnings

# Below this many samples FID is noticeably biased upward (its bias falls roughly like 1/N;
# Binkowski et al. 2018, Chong & Forsyth 2020), so values from different N do not compare.
FID_MIN_RELIABLE_N = 2000


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and covariance (D, D) of features (N, D), in float64 (unbiased, ddof=1)."""
    features = _as_features(features, "features")
    if len(features) < 2:
        raise ValueError(f"need at least 2 feature vectors for a covariance; got {len(features)}")
    mean = features.mean(axis=0)
    covariance = np.cov(features, rowvar=False)
    return mean, np.atleast_2d(covariance)


def frechet_distance(mean1: np.ndarray, cov1: np.ndarray, mean2: np.ndarray, cov2: np.ndarray) -> float:
    """The Fréchet distance between N(mean1, cov1) and N(mean2, cov2) (formula in module docstring)."""
    mean1, mean2 = np.asarray(mean1, np.float64), np.asarray(mean2, np.float64)
    cov1, cov2 = np.asarray(cov1, np.float64), np.asarray(cov2, np.float64)
    if mean1.shape != mean2.shape or cov1.shape != cov2.shape:
        raise ValueError(
            f"statistics differ in shape: means {mean1.shape} vs {mean2.shape}, covariances {cov1.shape} vs {cov2.shape}"
        )
    sqrt_cov1 = _sqrt_psd(cov1)
    middle = sqrt_cov1 @ cov2 @ sqrt_cov1
    eigenvalues = np.linalg.eigvalsh((middle + middle.T) / 2)
    # Round-off can make tiny eigenvalues of a PSD matrix slightly negative; they are zero.
    trace_sqrt = np.sqrt(np.clip(eigenvalues, 0.0, None)).sum()
    diff = mean1 - mean2
    value = diff @ diff + np.trace(cov1) + np.trace(cov2) - 2.0 * trace_sqrt
    return float(max(value, 0.0))


def fid(features_a: np.ndarray, features_b: np.ndarray, *, name: str = "FID") -> MetricResult:
    """FID between two feature sets (N1, D) and (N2, D), with warnings for small or rank-deficient sets."""
    features_a = _as_features(features_a, "features_a")
    features_b = _as_features(features_b, "features_b")
    if features_a.shape[1] != features_b.shape[1]:
        raise ValueError(f"feature sets differ in dimension: {features_a.shape[1]} vs {features_b.shape[1]}")
    value = frechet_distance(*feature_statistics(features_a), *feature_statistics(features_b))
    n = min(len(features_a), len(features_b))
    return MetricResult(
        name,
        value,
        n,
        higher_is_better=False,
        warning=fid_warning(n, features_a.shape[1]),
        details={"n_a": len(features_a), "n_b": len(features_b), "feature_dim": features_a.shape[1]},
    )


def fid_warning(n: int, feature_dim: int) -> str | None:
    """The caveats that apply to an FID computed from ``n`` samples of ``feature_dim`` features."""
    rank = None
    if n <= feature_dim:
        rank = f"N = {n:,} <= feature dimension {feature_dim}: the covariance is rank-deficient, FID is not meaningful"
    small = None
    if n < FID_MIN_RELIABLE_N:
        small = (
            f"N = {n:,} < {FID_MIN_RELIABLE_N:,}: FID is biased upward at small N; compare only values computed with the same N"
        )
    return join_warnings(rank, small)


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric positive semi-definite matrix (via eigh)."""
    eigenvalues, eigenvectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ eigenvectors.T


def _as_features(features: np.ndarray, what: str) -> np.ndarray:
    array = np.asarray(features, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"{what} must be a 2D array (N, D); got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{what} contains NaN or infinite values")
    return array
