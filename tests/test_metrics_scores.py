"""Inception Score, precision/recall, density/coverage, label accuracy, class FID and C2ST."""

import numpy as np
import pytest

from ganlab.metrics.c2st import classifier_two_sample_test
from ganlab.metrics.conditional import class_conditional_fid, clopper_pearson, label_accuracy
from ganlab.metrics.inception_score import inception_score
from ganlab.metrics.prdc import density_coverage, knn_radii_squared, precision_recall

# ----------------------------------------------------------------------------- Inception Score


def test_inception_score_of_uniform_one_hot_predictions_is_the_number_of_classes():
    # Each of the 10 splits (100 rows) holds every class 10 times: p(y) is uniform, each p(y|x) is
    # one-hot, so KL = log 10 for every sample and IS = exp(log 10) = 10 in every split.
    probs = np.eye(10)[np.arange(1000) % 10]
    result = inception_score(probs, shuffle=False)
    assert result.value == pytest.approx(10.0)
    assert result.spread == pytest.approx(0.0, abs=1e-9)
    assert result.higher_is_better is True and result.n == 1000
    assert inception_score(probs, splits=1).value == pytest.approx(10.0)


def test_inception_score_shuffles_data_stored_in_class_order():
    probs = np.eye(10)[np.repeat(np.arange(10), 100)]  # sorted: unshuffled splits hold one class each
    assert inception_score(probs, shuffle=False).value == pytest.approx(1.0)
    # Shuffled, each split of 100 holds about 10 per class: p(y) near uniform, IS near 10.
    assert inception_score(probs).value > 9.0


def test_inception_score_of_a_constant_prediction_is_one():
    probs = np.tile([0.1, 0.6, 0.3], (500, 1))  # p(y|x) = p(y): KL = 0, IS = exp(0) = 1
    assert inception_score(probs).value == pytest.approx(1.0)
    assert inception_score(np.eye(10)[np.zeros(500, int)]).value == pytest.approx(1.0)


def test_inception_score_rejects_logits():
    with pytest.raises(ValueError, match="probability"):
        inception_score(np.random.default_rng(0).normal(size=(100, 10)))


# ----------------------------------------------------------------------------- precision / recall


def test_precision_recall_on_hand_made_points():
    # Real: 4 points on a line at x = 0, 1, 2, 3 (1-D, written as (N, 1)). With k = 1 each real
    # point's radius is the distance to its nearest other real point: 1 for every point.
    real = np.array([[0.0], [1.0], [2.0], [3.0]])
    # Fake: 3.5 lies within 1 of real 3 (inside), 10 is far from all reals (outside), 0.2 inside.
    fake = np.array([[3.5], [10.0], [0.2], [9.0]])
    # precision = 2 of 4 fakes inside the real manifold = 0.5.
    # Fake radii (k = 1): 3.5 -> 0.2 is 3.3 away, 10 -> 9 is 1, 0.2 -> 3.3, 9 -> 1.
    # Recall: real 0 is 0.2 from fake 0.2 (radius 3.3) -> inside; real 1, 2, 3 likewise lie within
    # 3.3 of fake 0.2 or fake 3.5 -> all 4 inside: recall = 1.0.
    precision, recall = precision_recall(real, fake, k=1)
    assert precision.value == pytest.approx(0.5)
    assert recall.value == pytest.approx(1.0)
    assert precision.warning and "N = 4" in precision.warning


def test_recall_drops_when_fakes_collapse():
    # Real: x = 0..9. Fakes all near x = 0 (mode collapse). k = 2.
    real = np.arange(10.0)[:, None]
    fake = np.array([[0.0], [0.1], [0.2], [0.3]])
    # Every fake is within real 0's radius (its 2nd neighbour, x = 2, is 2 away): precision = 1.
    # Fake radii (2nd nearest other fake): 0.2, 0.1, 0.1, 0.2 for 0, 0.1, 0.2, 0.3.
    # Real 0 is 0 from fake 0 (radius 0.2): inside. Real 1 is 0.7 from fake 0.3 (radius 0.2): not.
    # Only real 0 is covered: recall = 1/10.
    precision, recall = precision_recall(real, fake, k=2)
    assert precision.value == pytest.approx(1.0)
    assert recall.value == pytest.approx(0.1)


def test_density_and_coverage_on_hand_made_points():
    # Real: a 3x3 grid with spacing 1, k = 1 -> every real radius is 1 (nearest grid neighbour).
    real = np.array([[x, y] for x in range(3) for y in range(3)], dtype=float)
    # Fake A at (1, 1) exactly: inside the balls of the centre (0 away) and its 4 neighbours
    #   (1 away, boundary counts: closed ball) -> 5 balls.
    # Fake B at (0, 0.5): inside (0,0) and (0,1) (0.5 away each); (1,0) and (1,1) are
    #   sqrt(1.25) > 1 away -> 2 balls.
    # Fake C at (10, 10): in no ball.
    fake = np.array([[1.0, 1.0], [0.0, 0.5], [10.0, 10.0]])
    # density = (5 + 2 + 0) / (k * 3 fakes) = 7/3.
    # coverage: reals whose nearest fake lies within their radius 1: (1,1), (0,1), (1,0), (1,2),
    #   (2,1) [fake A at distance <= 1] and (0,0) [fake B at 0.5] -> 6 of 9 = 2/3.
    density, coverage = density_coverage(real, fake, k=1)
    assert density.value == pytest.approx(7 / 3)
    assert coverage.value == pytest.approx(6 / 9)


def test_prdc_of_a_set_with_itself_is_perfect():
    x = np.random.default_rng(0).normal(size=(300, 5))
    precision, recall = precision_recall(x, x)
    density, coverage = density_coverage(x, x)
    assert (precision.value, recall.value, coverage.value) == (1.0, 1.0, 1.0)
    assert density.value >= 1.0  # each point is in its own ball plus its k neighbours' ones


def test_knn_radii_match_brute_force():
    x = np.random.default_rng(1).normal(size=(50, 3))
    d = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    np.fill_diagonal(d, np.inf)
    expected = np.sort(d, axis=1)[:, 2]  # 3rd nearest other point
    assert np.sqrt(knn_radii_squared(x, 3)) == pytest.approx(expected, rel=1e-8)


# ----------------------------------------------------------------------------- conditional


def test_label_accuracy_on_a_hand_made_case():
    intended = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    predicted = np.array([0, 0, 0, 1, 1, 0, 2, 2])
    # class 0: 3 of 4 right; class 1: 1 of 2; class 2: 2 of 2 -> overall 6 of 8.
    result = label_accuracy(predicted, intended, class_names=["zero", "one", "two"])
    assert result.value == pytest.approx(0.75)
    assert result.details["per_class"] == {"zero": 0.75, "one": 0.5, "two": 1.0}
    assert result.ci[0] < 0.75 < result.ci[1]
    # Probabilities work too: argmax gives the predicted class.
    assert label_accuracy(np.eye(3)[predicted], intended).value == pytest.approx(0.75)


def test_clopper_pearson_matches_known_values():
    # 0 of 10: the upper bound solves (1 - p)^10 = 0.025 -> p = 1 - 0.025^(1/10).
    assert clopper_pearson(0, 10) == pytest.approx((0.0, 1 - 0.025**0.1))
    low, high = clopper_pearson(50, 100)
    assert low == pytest.approx(1 - high) and 0.39 < low < 0.40


def test_class_conditional_fid_catches_swapped_labels():
    rng = np.random.default_rng(2)
    centres = np.array([[0.0, 0.0], [5.0, 0.0]])
    real_labels = np.repeat([0, 1], 500)
    real = centres[real_labels] + rng.normal(size=(1000, 2))
    fake = centres[real_labels] + rng.normal(size=(1000, 2))
    right = class_conditional_fid(fake, real_labels, real, real_labels)
    # Same images, labels swapped: every class is compared with the other class (||mu||^2 = 25).
    swapped = class_conditional_fid(fake, 1 - real_labels, real, real_labels)
    assert right.value < 0.1
    assert swapped.value == pytest.approx(25, rel=0.1)
    assert set(right.details["per_class"]) == {"0", "1"}


# ----------------------------------------------------------------------------- C2ST


def test_c2st_is_near_chance_for_one_distribution():
    rng = np.random.default_rng(3)
    result = classifier_two_sample_test(rng.normal(size=(1000, 8)), rng.normal(size=(1000, 8)))
    # 1,000 test samples: the binomial s.e. of a chance accuracy is 0.016.
    assert abs(result.value - 0.5) < 0.06
    assert result.ci[0] < 0.5 and result.details["p_value_above_chance"] > 0.01
    assert result.n == 1000 and result.details["test_samples"] == 1000


def test_c2st_is_near_one_for_separable_sets():
    rng = np.random.default_rng(4)
    result = classifier_two_sample_test(rng.normal(size=(1000, 8)), rng.normal(size=(1000, 8)) + 3)
    assert result.value > 0.97
    assert result.details["p_value_above_chance"] < 1e-6
