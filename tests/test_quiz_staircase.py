"""The HYPE-time staircase: 3 correct -> 30 ms shorter, 1 wrong -> 10 ms longer, within [100, 1000]."""

import numpy as np
import pytest

from ganlab.quiz.errors import QuizError
from ganlab.quiz.staircase import (
    StaircaseRule,
    interleaved_threshold,
    next_exposure,
    run_staircase,
    shown_exposures,
    staircase_schedule,
    staircase_threshold,
)

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


def test_interleaved_schedule_never_repeats_a_staircase_and_is_reproducible():
    rule = StaircaseRule(interleaved=3)
    schedule = staircase_schedule(rule, 100, seed=5, participant_key="ada")
    assert schedule == staircase_schedule(rule, 100, seed=5, participant_key="ada")
    assert schedule != staircase_schedule(rule, 100, seed=5, participant_key="bob")
    assert all(a != b for a, b in zip(schedule, schedule[1:]))
    assert sorted(set(schedule)) == [0, 1, 2] and max(schedule.count(s) for s in range(3)) <= 34
    assert staircase_schedule(StaircaseRule(interleaved=1), 5, seed=5, participant_key="ada") == [0] * 5


def test_the_next_exposure_does_not_depend_on_the_last_answer():
    rule = StaircaseRule(interleaved=3)
    schedule = staircase_schedule(rule, 40, seed=1, participant_key="ada")
    rng = np.random.default_rng(0)
    for _ in range(50):
        history = [bool(c) for c in rng.random(int(rng.integers(1, 39))) < 0.5]
        flipped = [*history[:-1], not history[-1]]
        assert next_exposure(rule, schedule, history) == next_exposure(rule, schedule, flipped)
    # ...whereas one staircase alone gives it away: it rises exactly after a wrong answer.
    single = StaircaseRule(interleaved=1)
    assert next_exposure(single, [0] * 3, [True, False]) > next_exposure(single, [0] * 3, [True, True])


def test_each_interleaved_staircase_runs_the_rule_on_its_own_answers():
    rule = StaircaseRule(interleaved=2)
    schedule = [0, 1, 0, 1, 0, 1, 0, 1]
    correct = [True, False, True, False, True, False, False, True]
    shown = shown_exposures(rule, schedule, correct)
    assert shown[0::2] == run_staircase(rule, correct[0::2]).exposures
    assert shown[1::2] == run_staircase(rule, correct[1::2]).exposures
    estimate = interleaved_threshold(rule, correct, schedule)
    own = [staircase_threshold(rule, correct[i::2]).threshold_ms for i in (0, 1)]
    assert estimate.threshold_ms == pytest.approx(sum(own) / 2) and estimate.n_trials == 8
    with pytest.raises(QuizError):
        StaircaseRule(interleaved=5)
    assert StaircaseRule.from_dict({"start_ms": 400}).interleaved == 1  # rules stored before interleaving
