"""Statistics of a spot-the-fake quiz: pure functions on arrays and counts.

Conventions: ``is_fake`` marks trials that showed a generated image, ``judged_fake`` marks
answers "fake". Signal detection treats the fake as the signal: a hit is a fake called fake,
a false alarm a real image called fake.

References
- HYPE: Zhou, Gordon, Krishna, Narcomey, Fei-Fei, Bernstein. "HYPE: A Benchmark for Human eYe
  Perceptual Evaluation of Generative Models", NeurIPS 2019.
- Wilson, E. B. (1927). Probable inference, the law of succession, and statistical inference.
  JASA 22, 209-212.
- Hautus, M. J. (1995). Corrections for extreme proportions and their biasing effects on
  estimated values of d'. Behavior Research Methods 27, 46-51.
- Macmillan, N. A. & Creelman, C. D. (2005). Detection Theory: A User's Guide, 2nd ed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from ganlab.quiz.errors import QuizError


def _scipy_stats():
    """scipy.stats, imported when first used: importing it costs seconds at the app's start."""
    from scipy import stats

    return stats


def _bools(values: ArrayLike, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise QuizError(f"{name} must be a 1-D array; got shape {array.shape}")
    if array.size and not np.isin(array, (0, 1)).all():
        raise QuizError(f"{name} must hold only True/False (or 1/0)")
    return array.astype(bool)


def accuracy(correct: ArrayLike) -> float:
    """Share of correct answers; nan for no answers."""
    correct = _bools(correct, "correct")
    return float(correct.mean()) if correct.size else float("nan")


@dataclass(frozen=True)
class ErrorRates:
    """HYPE-infinity and its two halves (Zhou et al. 2019, sec. 3.2)."""

    hype_infinity: float  # all errors / all trials: 50% = indistinguishable from real
    fake_error: float  # fakes judged real / fakes shown ("fooled rate")
    real_error: float  # reals judged fake / reals shown
    n: int
    n_fake: int
    n_real: int
    fakes_judged_real: int
    reals_judged_fake: int


def error_rates(is_fake: ArrayLike, judged_fake: ArrayLike) -> ErrorRates:
    is_fake = _bools(is_fake, "is_fake")
    judged_fake = _bools(judged_fake, "judged_fake")
    if is_fake.shape != judged_fake.shape:
        raise QuizError(f"is_fake and judged_fake differ in length: {is_fake.size} vs {judged_fake.size}")
    n_fake, n_real = int(is_fake.sum()), int((~is_fake).sum())
    fooled = int((is_fake & ~judged_fake).sum())
    doubted = int((~is_fake & judged_fake).sum())

    def ratio(k: int, n: int) -> float:
        return k / n if n else float("nan")

    return ErrorRates(
        hype_infinity=ratio(fooled + doubted, n_fake + n_real),
        fake_error=ratio(fooled, n_fake),
        real_error=ratio(doubted, n_real),
        n=n_fake + n_real,
        n_fake=n_fake,
        n_real=n_real,
        fakes_judged_real=fooled,
        reals_judged_fake=doubted,
    )


def confusion_matrix(is_fake: ArrayLike, judged_fake: ArrayLike) -> np.ndarray:
    """2x2 counts: rows = truth (real, fake), columns = answer (real, fake)."""
    is_fake = _bools(is_fake, "is_fake")
    judged_fake = _bools(judged_fake, "judged_fake")
    matrix = np.zeros((2, 2), dtype=np.int64)
    np.add.at(matrix, (is_fake.astype(int), judged_fake.astype(int)), 1)
    return matrix


def binomial_p_value(successes: int, n: int, p: float = 0.5) -> float:
    """Two-sided exact binomial test of ``successes`` out of ``n`` against chance ``p``."""
    if n <= 0:
        return float("nan")
    return float(_scipy_stats().binomtest(int(successes), int(n), p, alternative="two-sided").pvalue)


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson (1927) score interval for a proportion.

    With p = k/n and z the two-sided normal quantile (1.96 for 95%):
        centre = (p + z^2 / (2n)) / (1 + z^2 / n)
        half   = z / (1 + z^2 / n) * sqrt(p (1 - p) / n + z^2 / (4 n^2))
    Unlike p +- z sqrt(p(1-p)/n) it stays inside [0, 1] and does not collapse to a point at
    0% or 100%, which matters for the small per-person and per-image counts of a class quiz.
    scipy computes it; with n = 0 nothing is known: (0, 1).
    """
    if not 0 < confidence < 1:
        raise QuizError(f"confidence must be in (0, 1); got {confidence}")
    if n < 0 or not 0 <= successes <= n:
        raise QuizError(f"need 0 <= successes <= n; got {successes} of {n}")
    if n == 0:
        return 0.0, 1.0
    ci = _scipy_stats().binomtest(int(successes), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def bootstrap_mean_ci(
    values: ArrayLike,
    *,
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean, resampling the given units with replacement.

    Used with one value per participant (their error rate, their HYPE-time), so the interval
    reflects how much the class result would move with other people in the room, not just
    other images. Seeded numpy Generator: the same data give the same interval.
    """
    values = np.asarray(values, dtype=float)
    if values.ndim != 1 or values.size == 0:
        raise QuizError("bootstrap needs a non-empty 1-D array of values")
    if np.isnan(values).any():
        raise QuizError("bootstrap values must not contain NaN")
    rng = np.random.default_rng(seed)
    # Resample in chunks to bound memory (10,000 x 1,000 participants would be 80 MB at once).
    means = np.empty(n_resamples)
    chunk = max(1, 2_000_000 // values.size)
    for start in range(0, n_resamples, chunk):
        stop = min(n_resamples, start + chunk)
        indices = rng.integers(0, values.size, size=(stop - start, values.size))
        means[start:stop] = values[indices].mean(axis=1)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def _loglinear_rate(count: int, total: int) -> float:
    """Hautus (1995) log-linear correction: (count + 0.5) / (total + 1), never 0 or 1."""
    return (count + 0.5) / (total + 1)


def dprime_yes_no(hits: int, n_signal: int, false_alarms: int, n_noise: int) -> tuple[float, float]:
    """Sensitivity d' and criterion c for yes/no ("is it fake?") answers.

        H = (hits + 0.5) / (n_signal + 1),   F = (false_alarms + 0.5) / (n_noise + 1)
        d' = z(H) - z(F),                    c = -(z(H) + z(F)) / 2
    z is the inverse standard normal CDF. The log-linear correction (Hautus 1995) keeps d'
    finite for a perfect score and biases it less than replacing 0 and 1 by 1/(2n).
    c > 0: the person leans towards "real"; c < 0: towards "fake".
    """
    if n_signal < 0 or n_noise < 0 or not 0 <= hits <= n_signal or not 0 <= false_alarms <= n_noise:
        raise QuizError(f"bad counts: {hits}/{n_signal} hits, {false_alarms}/{n_noise} false alarms")
    z_hit = float(_scipy_stats().norm.ppf(_loglinear_rate(hits, n_signal)))
    z_fa = float(_scipy_stats().norm.ppf(_loglinear_rate(false_alarms, n_noise)))
    return z_hit - z_fa, -(z_hit + z_fa) / 2


def dprime_two_alternative(left_when_left: int, n_left: int, left_when_right: int, n_right: int) -> tuple[float, float]:
    """d' and side bias for the pair mode (two-alternative forced choice, real on left or right).

        H = P("left" | real on the left),  F = P("left" | real on the right)  (log-linear corrected)
        d' = (z(H) - z(F)) / sqrt(2),      bias = -(z(H) + z(F)) / 2
    The sqrt(2) makes the 2AFC d' comparable with the yes/no d' (Macmillan & Creelman ch. 7):
    two looks carry sqrt(2) more evidence than one. bias > 0 means a lean towards "right".
    """
    d_raw, bias = dprime_yes_no(left_when_left, n_left, left_when_right, n_right)
    return d_raw / np.sqrt(2.0), bias


@dataclass(frozen=True)
class ProportionTest:
    """A test that several groups (e.g. generator checkpoints) share one rate."""

    test: str  # "fisher-exact" (two groups) | "chi-square" (more groups)
    statistic: float  # odds ratio (Fisher) or chi-square statistic
    p_value: float


def compare_proportions(successes: Sequence[int], totals: Sequence[int]) -> ProportionTest | None:
    """Is the rate the same in every group? None if fewer than two groups have trials.

    Two groups: Fisher's exact test on the 2x2 table (exact, fine for small counts).
    More: Pearson chi-square test of independence on the k x 2 table (asymptotic; with
    expected counts below 5 its p-value is only approximate).
    """
    pairs = [(int(k), int(n)) for k, n in zip(successes, totals, strict=True) if n > 0]
    if len(pairs) < 2:
        return None
    table = np.array([[k, n - k] for k, n in pairs])
    if len(pairs) == 2:
        result = _scipy_stats().fisher_exact(table)
        return ProportionTest("fisher-exact", float(result.statistic), float(result.pvalue))
    if (table.sum(axis=0) == 0).any():
        # Every group at 0% (or 100%): no difference is observable.
        return ProportionTest("chi-square", 0.0, 1.0)
    result = _scipy_stats().chi2_contingency(table, correction=False)
    return ProportionTest("chi-square", float(result.statistic), float(result.pvalue))
