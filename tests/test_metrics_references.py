"""Our metrics against independent implementations: torchmetrics (Inception Score), the authors'
``prdc`` package (precision/recall/density/coverage), scikit-learn (k-means, silhouette) and
published or hand-worked values (divergences, Clopper-Pearson). A library that is not installed
skips its tests."""

import math
import warnings

import numpy as np
import pytest
import torch

from ganlab.clusters import assign, cluster_points, kmeans, silhouette
from ganlab.metrics.conditional import clopper_pearson
from ganlab.metrics.inception_score import inception_score
from ganlab.metrics.modes import histogram_divergences
from ganlab.metrics.prdc import prdc

# --- Inception Score vs torchmetrics -------------------------------------------------------------


def _torchmetrics_is(logits: torch.Tensor, splits: int) -> tuple[float, float]:
    """torchmetrics' InceptionScore with the network replaced by the identity: it scores the logits
    it is given (its default Inception weights would be a download)."""
    inception = pytest.importorskip("torchmetrics.image.inception")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "saves all features in a buffer"; std of one split
        metric = inception.InceptionScore(feature=torch.nn.Identity(), splits=splits)
        metric.update(logits)
        mean, std = metric.compute()
    return float(mean), float(std)


def _logit_cases() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    classes = torch.arange(1000) % 10
    return {
        "random": 2.0 * torch.randn(1000, 10, generator=generator, dtype=torch.float64),
        "peaked, every class": 30.0 * torch.nn.functional.one_hot(classes, 10).double(),
        "peaked, one class": 30.0 * torch.nn.functional.one_hot(torch.zeros(1000, dtype=torch.long), 10).double(),
        "uniform": torch.zeros(1000, 10, dtype=torch.float64),
    }


@pytest.mark.parametrize("case", list(_logit_cases()))
def test_inception_score_matches_torchmetrics_on_one_split(case):
    logits = _logit_cases()[case]
    theirs, _ = _torchmetrics_is(logits, splits=1)
    ours = inception_score(logits.softmax(1).numpy(), splits=1).value
    assert ours == pytest.approx(theirs, rel=1e-4)


def test_inception_score_splits_match_torchmetrics_but_the_spread_is_the_population_std(monkeypatch):
    # torchmetrics shuffles with an unseeded torch.randperm before splitting; with the identity
    # permutation its splits are ours with shuffle=False (1,000 rows into 10 splits of 100).
    pytest.importorskip("torchmetrics.image.inception")
    monkeypatch.setattr(torch, "randperm", lambda n, *args, **kwargs: torch.arange(n))
    logits = _logit_cases()["random"]
    theirs_mean, theirs_std = _torchmetrics_is(logits, splits=10)
    ours = inception_score(logits.softmax(1).numpy(), splits=10, shuffle=False)
    assert ours.value == pytest.approx(theirs_mean, rel=1e-4)
    # Our spread is np.std (ddof = 0) as in Salimans et al.'s code; torchmetrics' is torch.std (ddof = 1).
    assert ours.spread == pytest.approx(np.std(ours.details["split_scores"]))
    assert ours.spread * math.sqrt(10 / 9) == pytest.approx(theirs_std, rel=1e-4)


# --- precision / recall / density / coverage vs the prdc package (Naeem et al. 2020) -------------


@pytest.mark.parametrize("shift", [0.0, 0.5, 2.0])
@pytest.mark.parametrize("k", [3, 5])
def test_prdc_matches_the_authors_package(shift, k, capsys):
    reference = pytest.importorskip("prdc")
    rng = np.random.default_rng(int(10 * shift) + k)
    real = rng.normal(size=(400, 8))
    fake = rng.normal(loc=shift, scale=1.2, size=(300, 8))  # unequal sizes on purpose
    theirs = reference.compute_prdc(real_features=real, fake_features=fake, nearest_k=k)
    capsys.readouterr()  # compute_prdc prints the set sizes
    ours = prdc(real, fake, k_pr=k, k_dc=k)
    for result, name in zip(ours, ("precision", "recall", "density", "coverage"), strict=True):
        assert result.value == pytest.approx(float(theirs[name]), abs=1e-6), name


# --- k-means and silhouette vs scikit-learn ---------------------------------------------------------


def _blobs(n_per_blob: int, centres: np.ndarray, spread: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(centres)), n_per_blob)
    return centres[labels] + rng.normal(scale=spread, size=(len(labels), centres.shape[1])), labels


def test_silhouette_matches_sklearn():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    points, labels = _blobs(60, rng.uniform(-10, 10, size=(5, 3)), 1.0, seed=1)
    single = np.append(labels, 5)  # a cluster of one point, which scores 0 in both
    cases = [
        (points, labels, 5),
        (points, rng.integers(0, 4, size=len(points)), 4),  # a poor clustering: silhouette near 0
        (np.vstack([points, [[50.0, 50.0, 50.0]]]), single, 6),
        (points, labels, 7),  # two empty clusters, which both ignore
    ]
    for x, y, k in cases:
        distances = torch.cdist(torch.from_numpy(x), torch.from_numpy(x))
        ours = silhouette(distances, torch.from_numpy(y), k)
        assert ours == pytest.approx(metrics.silhouette_score(x, y), abs=1e-9)


@pytest.mark.parametrize("dims", [2, 6])
def test_kmeans_finds_the_same_partition_as_sklearn(dims):
    cluster = pytest.importorskip("sklearn.cluster")
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(dims)
    centres = rng.uniform(-20, 20, size=(6, dims))
    centres = centres[np.argsort(centres[:, 0])]
    points, truth = _blobs(80, centres, 0.5, seed=dims + 1)
    theirs = cluster.KMeans(n_clusters=6, n_init=10, random_state=0).fit(points)
    x = torch.from_numpy(points).float()
    if dims == 2:
        ours = cluster_points(x, 6, seed=0).assignments.numpy()
    else:
        ours = assign(x, kmeans(x, 6, seed=0)).numpy()
    assert metrics.adjusted_rand_score(ours, theirs.labels_) == 1.0
    assert metrics.adjusted_rand_score(ours, truth) == 1.0
    inertia = sum(((points[ours == c] - points[ours == c].mean(0)) ** 2).sum() for c in range(6))
    assert inertia == pytest.approx(theirs.inertia_, rel=0.01)


def test_kmeans_inertia_is_within_one_percent_of_sklearn_on_overlapping_blobs():
    cluster = pytest.importorskip("sklearn.cluster")
    points, _ = _blobs(150, np.array([[0.0, 0.0], [2.0, 0.0], [1.0, 1.7], [4.0, 3.0]]), 0.8, seed=3)
    theirs = cluster.KMeans(n_clusters=4, n_init=10, random_state=0).fit(points)
    clusters = cluster_points(torch.from_numpy(points).float(), 4, seed=0)
    ours = clusters.assignments.numpy()
    inertia = sum(((points[ours == c] - points[ours == c].mean(0)) ** 2).sum() for c in range(4))
    assert inertia <= theirs.inertia_ * 1.01


# --- histogram KL / JS on hand-worked examples ---------------------------------------------------


def _histogram_case(generated: list[tuple[float, float]]) -> tuple[float, float]:
    # Data: half at (0, 0), half at (1, 1). With bins=2 the box [-0.25, 1.25]^2 splits at 0.5, so
    # each data point sits in its own grid cell; a tiny epsilon leaves empty bins (almost) empty.
    data = np.array([[0.0, 0.0], [1.0, 1.0]] * 50)
    kl, js = histogram_divergences(data, np.array(generated * 25), bins=2, epsilon=1e-12)
    return kl.value, js.value


def test_divergences_of_a_hand_worked_histogram():
    # p = (1/2, 1/2), q = (3/4, 1/4), m = (5/8, 3/8):
    # KL(p || q) = 1/2 ln(2/3) + 1/2 ln 2 = 1/2 ln(4/3)
    # JS = 1/2 [1/2 ln(4/5) + 1/2 ln(4/3)] + 1/2 [3/4 ln(6/5) + 1/4 ln(2/3)]
    kl, js = _histogram_case([(0.0, 0.0)] * 3 + [(1.0, 1.0)])
    assert kl == pytest.approx(0.5 * math.log(4 / 3), abs=1e-9)
    expected_js = 0.25 * (math.log(4 / 5) + math.log(4 / 3)) + 0.5 * (0.75 * math.log(6 / 5) + 0.25 * math.log(2 / 3))
    assert js == pytest.approx(expected_js, abs=1e-9)


@pytest.mark.parametrize("where", [(0.0, 1.0), (100.0, 100.0)])  # an empty grid cell; the outside bin
def test_js_of_disjoint_histograms_is_ln_2(where):
    kl, js = _histogram_case([where])
    assert js == pytest.approx(math.log(2), abs=1e-9)
    assert kl > 20  # ~ ln(1 / epsilon): KL has no ceiling


# --- exact (Clopper-Pearson) interval: published values -------------------------------------------


@pytest.mark.parametrize(
    "k,n,low,high",
    [
        # Newcombe (1998), Statistics in Medicine 17, 857-872, table II, method 5.
        (81, 263, 0.2527, 0.3676),
        (15, 148, 0.0578, 0.1617),
        (0, 20, 0.0, 0.1684),
        (1, 29, 0.0009, 0.1776),
        (0, 10, 0.0, 0.3085),
        (5, 10, 0.1871, 0.8129),
    ],
)
def test_clopper_pearson_matches_published_values(k, n, low, high):
    assert clopper_pearson(k, n) == pytest.approx((low, high), abs=5e-5)


def test_clopper_pearson_without_trials_is_unknown():
    assert all(math.isnan(v) for v in clopper_pearson(0, 0))
