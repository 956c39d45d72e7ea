"""FID and KID: exact Gaussian cases, an independent scipy reference, and the KID unbiasedness."""

import numpy as np
import pytest
import scipy.linalg

from ganlab.metrics.fid import FID_MIN_RELIABLE_N, feature_statistics, fid, frechet_distance
from ganlab.metrics.kid import kid, mmd2_unbiased


def fid_reference(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """FID as pytorch-fid computes it: scipy.linalg.sqrtm of S1 S2, with its eps fallback."""
    mu1, mu2 = features_a.mean(0), features_b.mean(0)
    s1, s2 = np.cov(features_a, rowvar=False), np.cov(features_b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1.dot(s2))
    if not np.isfinite(covmean).all():
        offset = np.eye(s1.shape[0]) * 1e-6
        covmean = scipy.linalg.sqrtm((s1 + offset).dot(s2 + offset))
    covmean = covmean.real
    diff = mu1 - mu2
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def test_fid_of_a_set_with_itself_is_zero():
    x = np.random.default_rng(0).normal(size=(500, 8))
    assert fid(x, x).value == pytest.approx(0.0, abs=1e-8)


def test_fid_of_equal_covariance_gaussians_is_squared_mean_distance():
    # Same covariance S: tr(S) + tr(S) - 2 tr((S S)^1/2) = 0, so FID = ||mu1 - mu2||^2 exactly.
    rng = np.random.default_rng(1)
    a = rng.normal(size=(8, 8))
    cov = a @ a.T + np.eye(8)
    mu1, mu2 = np.zeros(8), np.arange(8) / 4.0
    assert frechet_distance(mu1, cov, mu2, cov) == pytest.approx(float(mu2 @ mu2), rel=1e-10)


def test_fid_grows_with_a_shift_of_the_mean():
    x = np.random.default_rng(2).normal(size=(3000, 4))
    values = [fid(x, x + shift).value for shift in (0.0, 0.5, 1.0, 2.0)]
    # Shifting every coordinate by s moves the mean by s * sqrt(4): FID = 4 s^2, covariances equal.
    assert values == pytest.approx([0.0, 1.0, 4.0, 16.0], abs=1e-8)


def test_fid_matches_scipy_sqrtm_reference_on_random_features():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(1000, 32)) @ rng.normal(size=(32, 32))
    b = rng.normal(size=(1000, 32)) @ rng.normal(size=(32, 32)) + 0.3
    assert fid(a, b).value == pytest.approx(fid_reference(a, b), rel=1e-4)


def mnist_classifier_features(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Classifier features of n held-out and n training MNIST digits, and the held-out labels."""
    from ganlab.checkpoints import SHIPPED_DIR
    from ganlab.data.images import load_mnist
    from ganlab.metrics.classifier import extract, load_classifier

    if not (SHIPPED_DIR / "mnist-classifier" / "model.safetensors").is_file():
        pytest.skip("the shipped MNIST classifier is not trained yet (scripts/train_classifier.py)")
    classifier = load_classifier("mnist")
    heldout, train = load_mnist("heldout", download=False), load_mnist("train", download=False)
    # Random subsets: the bundled digits are stored sorted by class.
    rng = np.random.default_rng(0)
    pick_heldout = rng.choice(len(heldout), n, replace=False)
    pick_train = rng.choice(len(train), n, replace=False)
    features_heldout, _ = extract(classifier, heldout.images[pick_heldout])
    features_train, _ = extract(classifier, train.images[pick_train])
    return features_heldout, features_train, heldout.labels[pick_heldout].numpy()


def test_fid_matches_scipy_sqrtm_reference_on_classifier_features():
    heldout, train, labels = mnist_classifier_features(2000)
    ours = fid(heldout, train).value
    assert ours == pytest.approx(fid_reference(heldout, train), rel=1e-4)
    # Zeros against ones are far apart in classifier space, much further than real vs real.
    zeros_vs_ones = fid(heldout[labels == 0], heldout[labels == 1]).value
    assert zeros_vs_ones == pytest.approx(fid_reference(heldout[labels == 0], heldout[labels == 1]), rel=1e-4)
    assert zeros_vs_ones > 10 * ours


def test_fid_warns_about_small_and_rank_deficient_sets():
    x = np.random.default_rng(4).normal(size=(50, 64))
    result = fid(x, x[::-1])
    assert "rank-deficient" in result.warning and "biased upward" in result.warning
    assert result.n == 50
    big = np.random.default_rng(5).normal(size=(FID_MIN_RELIABLE_N, 4))
    assert fid(big, big).warning is None


def test_feature_statistics_are_float64_and_unbiased():
    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    mean, cov = feature_statistics(x)
    assert mean.dtype == np.float64 and cov.shape == (2, 2)
    assert cov[0, 0] == pytest.approx(np.var(x[:, 0], ddof=1))


def test_fid_rejects_bad_input_with_a_clear_message():
    with pytest.raises(ValueError, match="same|differ"):
        fid(np.zeros((10, 3)), np.zeros((10, 4)))
    with pytest.raises(ValueError, match="NaN"):
        fid(np.full((10, 3), np.nan), np.zeros((10, 3)))


def test_mmd2_matches_a_direct_double_sum():
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=(7, 3)), rng.normal(size=(9, 3)) + 0.5

    def k(x, y):
        return (x @ y / 3 + 1) ** 3

    within_a = sum(k(a[i], a[j]) for i in range(7) for j in range(7) if i != j) / (7 * 6)
    within_b = sum(k(b[i], b[j]) for i in range(9) for j in range(9) if i != j) / (9 * 8)
    across = sum(k(a[i], b[j]) for i in range(7) for j in range(9)) / (7 * 9)
    assert mmd2_unbiased(a, b) == pytest.approx(within_a + within_b - 2 * across, rel=1e-10)


def test_kid_matches_torchmetrics_on_whole_sets():
    # With one subset holding every sample, the random subset is just a permutation, which MMD
    # ignores: our value and torchmetrics' must agree.
    torch = pytest.importorskip("torch")
    kid_module = pytest.importorskip("torchmetrics.image.kid")
    rng = np.random.default_rng(7)
    a, b = rng.normal(size=(200, 16)), rng.normal(size=(200, 16)) * 1.2 + 0.1

    class Identity(torch.nn.Module):
        def forward(self, x):
            return x

    metric = kid_module.KernelInceptionDistance(feature=Identity(), subsets=1, subset_size=200)
    metric.update(torch.from_numpy(a), real=True)
    metric.update(torch.from_numpy(b), real=False)
    reference = float(metric.compute()[0])
    assert kid(a, b, subsets=1, subset_size=200).value == pytest.approx(reference, rel=1e-4)


def test_kid_is_about_zero_for_one_distribution_and_positive_for_two():
    rng = np.random.default_rng(8)
    a, b = rng.normal(size=(2000, 16)), rng.normal(size=(2000, 16))
    same = kid(a, b, subsets=20, subset_size=500)
    shifted = kid(a, b + 0.5, subsets=20, subset_size=500)
    # Unbiased: within a few standard errors of 0 (it may be negative), far below the shifted case.
    se_same, se_shifted = same.details["standard_error"], shifted.details["standard_error"]
    assert abs(same.value) < 4 * se_same + 1e-4
    assert shifted.value > 100 * abs(same.value)
    assert shifted.value - 4 * se_shifted > 0
    assert se_same == pytest.approx(same.spread / np.sqrt(20))
