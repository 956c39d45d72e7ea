"""Quiz statistics against independent values (scipy, hand-worked examples)."""

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats
from scipy.stats import norm

from ganlab.quiz import stats
from ganlab.quiz.errors import QuizError


@pytest.mark.parametrize("k,n", [(0, 1), (1, 1), (0, 10), (3, 10), (10, 10), (7, 20), (50, 100), (1, 1000)])
@pytest.mark.parametrize("confidence", [0.95, 0.9])
def test_wilson_matches_the_docstring_formula(k, n, confidence):
    z = norm.ppf(0.5 + confidence / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert stats.wilson_interval(k, n, confidence) == pytest.approx((max(0, centre - half), min(1, centre + half)), abs=1e-12)


@pytest.mark.parametrize(
    "k,n,low,high",
    [
        # Newcombe (1998), Statistics in Medicine 17, 857-872, table II, method 3 (score, no correction).
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
        (5, 10, 0.2366, 0.7634),
    ],
)
def test_wilson_matches_published_values(k, n, low, high):
    assert stats.wilson_interval(k, n) == pytest.approx((low, high), abs=5e-5)


@pytest.mark.parametrize("k,n", [(0, 10), (3, 10), (10, 10), (37, 60)])
def test_wilson_matches_statsmodels(k, n):
    proportion = pytest.importorskip("statsmodels.stats.proportion")
    low, high = proportion.proportion_confint(k, n, alpha=0.05, method="wilson")
    assert stats.wilson_interval(k, n) == pytest.approx((low, high), abs=1e-9)


def test_wilson_hand_worked():
    # 8 of 10, z = 1.959964: centre = (0.8 + z^2/20) / (1 + z^2/10)
    z = norm.ppf(0.975)
    centre = (0.8 + z * z / 20) / (1 + z * z / 10)
    half = z / (1 + z * z / 10) * math.sqrt(0.8 * 0.2 / 10 + z * z / 400)
    assert stats.wilson_interval(8, 10) == pytest.approx((centre - half, centre + half))
    assert stats.wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(QuizError):
        stats.wilson_interval(11, 10)


def test_binomial_p_value():
    # 10 of 10 against 50%: two-sided p = 2 * 0.5^10
    assert stats.binomial_p_value(10, 10) == pytest.approx(2 * 0.5**10)
    assert stats.binomial_p_value(5, 10) == pytest.approx(1.0)
    assert stats.binomial_p_value(37, 60) == pytest.approx(scipy_stats.binomtest(37, 60).pvalue)
    assert math.isnan(stats.binomial_p_value(0, 0))


def test_error_rates_and_confusion():
    is_fake = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    judged_fake = [1, 0, 0, 1, 0, 0, 1, 0, 0, 0]
    rates = stats.error_rates(is_fake, judged_fake)
    assert rates.fakes_judged_real == 2 and rates.reals_judged_fake == 1
    assert rates.fake_error == pytest.approx(2 / 4)
    assert rates.real_error == pytest.approx(1 / 6)
    assert rates.hype_infinity == pytest.approx(3 / 10)
    assert stats.accuracy(np.array(is_fake) == np.array(judged_fake)) == pytest.approx(0.7)
    matrix = stats.confusion_matrix(is_fake, judged_fake)
    assert matrix.tolist() == [[5, 1], [2, 2]]  # rows truth real/fake, columns answer real/fake
    with pytest.raises(QuizError):
        stats.error_rates([1, 0], [1])
    with pytest.raises(QuizError):
        stats.accuracy([0, 2])


def test_dprime_hand_worked_log_linear():
    # 8 of 10 fakes called fake, 3 of 10 reals called fake; Hautus: add 0.5 and 1.
    h, f = 8.5 / 11, 3.5 / 11
    d, c = stats.dprime_yes_no(8, 10, 3, 10)
    assert d == pytest.approx(norm.ppf(h) - norm.ppf(f))
    assert c == pytest.approx(-(norm.ppf(h) + norm.ppf(f)) / 2)
    # A perfect score stays finite: d' = 2 z(10.5/11) ~ 3.38, no bias.
    d, c = stats.dprime_yes_no(10, 10, 0, 10)
    assert d == pytest.approx(2 * norm.ppf(10.5 / 11)) and d == pytest.approx(3.38, abs=0.01)
    assert c == pytest.approx(0.0, abs=1e-12)
    # Saying "fake" to everything: no sensitivity, strong lean to "fake" (c < 0).
    d, c = stats.dprime_yes_no(10, 10, 10, 10)
    assert d == pytest.approx(0.0, abs=1e-12) and c < -1
    # Two-alternative version is the yes/no formula over sqrt(2).
    d2, bias = stats.dprime_two_alternative(8, 10, 3, 10)
    assert d2 == pytest.approx((norm.ppf(h) - norm.ppf(f)) / math.sqrt(2))
    with pytest.raises(QuizError):
        stats.dprime_yes_no(11, 10, 0, 10)


def test_bootstrap_is_reproducible_and_sensible():
    rng = np.random.default_rng(1)
    values = rng.normal(0.3, 0.1, size=40)
    a = stats.bootstrap_mean_ci(values, seed=7)
    b = stats.bootstrap_mean_ci(values, seed=7)
    c = stats.bootstrap_mean_ci(values, seed=8)
    assert a == b
    assert a != c
    low, high = a
    assert low < values.mean() < high
    # Width close to the normal-theory interval 2 * 1.96 * sd / sqrt(n).
    expected = 2 * 1.96 * values.std(ddof=1) / math.sqrt(values.size)
    assert (high - low) == pytest.approx(expected, rel=0.15)
    assert stats.bootstrap_mean_ci([0.4, 0.4, 0.4]) == pytest.approx((0.4, 0.4))
    with pytest.raises(QuizError):
        stats.bootstrap_mean_ci([])


def test_compare_proportions():
    two = stats.compare_proportions([12, 3], [20, 20])
    expected = scipy_stats.fisher_exact([[12, 8], [3, 17]])
    assert two.test == "fisher-exact"
    assert two.p_value == pytest.approx(expected.pvalue)
    three = stats.compare_proportions([12, 3, 9], [20, 20, 20])
    chi = scipy_stats.chi2_contingency([[12, 8], [3, 17], [9, 11]], correction=False)
    assert three.test == "chi-square"
    assert three.p_value == pytest.approx(chi.pvalue) and three.statistic == pytest.approx(chi.statistic)
    assert stats.compare_proportions([3], [10]) is None
    assert stats.compare_proportions([3, 0], [10, 0]) is None  # a group without trials does not count
    assert stats.compare_proportions([0, 0, 0], [5, 5, 5]).p_value == 1.0
