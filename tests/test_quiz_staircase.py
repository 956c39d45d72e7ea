"""The HYPE-time staircase: 3 correct -> 30 ms shorter, 1 wrong -> 10 ms longer, within [100, 1000]."""

import pytest

from ganlab.quiz.errors import QuizError
from ganlab.quiz.staircase import StaircaseRule, run_staircase, staircase_threshold

RULE = StaircaseRule()


def test_three_correct_shorten_one_wrong_lengthens():
    trace = run_staircase(RULE, [True, True, True, True, False, True])
    assert trace.exposures == [500, 500, 500, 470, 470, 480]
    assert trace.moves == [0, 0, -1, 0, +1, 0]
    assert trace.next_exposure_ms == 480
    # The streak restarts after a wrong answer: two correct then wrong then three correct.
    trace = run_staircase(RULE, [True, True, False, True, True, True])
    assert trace.exposures == [500, 500, 500, 510, 510, 510]
    assert trace.next_exposure_ms == 480


def test_bounds_are_clamped():
    assert run_staircase(RULE, [True] * 300).next_exposure_ms == 100
    assert run_staircase(RULE, [False] * 300).next_exposure_ms == 1000
    assert min(run_staircase(RULE, [True] * 300).exposures) == 100


def test_reversals_and_threshold():
    # Down 3 times (500 -> 410), then wrong (up to 420): reversal at the wrong answer.
    answers = [True] * 9 + [False] + [True] * 3 + [False]
    trace = run_staircase(RULE, answers)
    assert trace.exposures[9] == 410
    assert trace.reversals == [9, 12, 13]
    assert trace.reversal_exposures == [410, 420, 390]
    estimate = staircase_threshold(RULE, answers)
    # Three reversals: the oldest is dropped so peaks and troughs balance -> mean(420, 390).
    assert estimate.converged and estimate.n_reversals == 3
    assert estimate.threshold_ms == pytest.approx(405.0)


def test_converges_near_the_observer_threshold():
    # A simulated observer who is right 95% of the time above 300 ms and guesses below.
    import numpy as np

    rng = np.random.default_rng(0)
    exposure, correct = RULE.start_ms, []
    for _ in range(400):
        p = 0.95 if exposure >= 300 else 0.5
        correct.append(bool(rng.random() < p))
        exposure = run_staircase(RULE, correct).next_exposure_ms
    estimate = staircase_threshold(RULE, correct)
    assert estimate.converged
    assert 240 <= estimate.threshold_ms <= 340


def test_unconverged_fallback_and_validation():
    estimate = staircase_threshold(RULE, [True, True, True, True])
    assert not estimate.converged
    assert estimate.threshold_ms == pytest.approx(485.0)  # mean of [500, 470]: second half
    assert estimate.modal_ms == 500
    with pytest.raises(QuizError):
        staircase_threshold(RULE, [])
    with pytest.raises(QuizError):
        StaircaseRule(start_ms=50)
    with pytest.raises(QuizError):
        StaircaseRule(step_up_ms=0)
