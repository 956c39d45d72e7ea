"""The adaptive exposure-time staircase of HYPE-time (Zhou et al., NeurIPS 2019).

Each image is flashed for ``exposure_ms`` and then masked with noise. After three correct
answers in a row the next exposure is 30 ms shorter (harder); after any wrong answer it is
10 ms longer (easier); it stays within [100, 1000] ms and starts at 500 ms. A person's
HYPE-time is the exposure the staircase settles at: the shortest look at which they can
still tell real from fake.

Where this rule settles (Kaernbach 1991, for up/down steps S_up, S_down): the level drifts
neither way when P(three correct in a row) * S_down = (1 - P(three correct)) * S_up,
i.e. p^3 = S_up / (S_up + S_down) = 10 / 40, p = 0.63 correct, with the default steps.

Interleaving (why several staircases). With one staircase the next exposure gives the last
answer away: it rises exactly after a wrong answer. So a quiz runs ``interleaved`` (default 3)
independent staircases over one deck; which staircase a trial belongs to follows a seeded
schedule the participant never sees, in shuffled rounds that never give one staircase two
trials in a row. The exposure right after an answer therefore comes from another staircase and
does not depend on that answer at all. A participant who tracks the levels can still guess, some
trials later, how an earlier answer went; that cannot help them answer, because every trial's
truth is drawn independently (``ganlab.quiz.deck``), and nothing tells them the real/fake ratio.
Each staircase settles at the same exposure; a person's HYPE-time is the mean of their
staircases' estimates.

The staircases are a pure function of the sequence of right/wrong answers and the schedule, so
the store keeps no staircase state: it replays the answers (``next_exposure``) whenever it needs
the next exposure, and the analysis replays them again to find reversals.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from ganlab.quiz.deck import deck_rng
from ganlab.quiz.errors import QuizError

MAX_INTERLEAVED = 4


@dataclass(frozen=True)
class StaircaseRule:
    """The up/down rule. Defaults follow the HYPE-time description in the project brief."""

    start_ms: int = 500
    min_ms: int = 100
    max_ms: int = 1000
    correct_in_a_row: int = 3  # consecutive correct answers before the exposure shrinks
    step_down_ms: int = 30  # how much shorter after that many correct answers
    step_up_ms: int = 10  # how much longer after one wrong answer
    interleaved: int = 3  # independent staircases over one deck (1 = the next exposure gives the last answer away)

    @classmethod
    def from_dict(cls, values: dict[str, int]) -> StaircaseRule:
        """The rule stored with a quiz; quizzes stored before interleaving existed ran one staircase."""
        return cls(**{"interleaved": 1, **values})

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise QuizError(f"staircase {name} must be a positive whole number; got {value!r}")
        if not self.min_ms <= self.start_ms <= self.max_ms:
            raise QuizError(
                f"staircase start_ms must lie in [min_ms, max_ms] = [{self.min_ms}, {self.max_ms}]; got {self.start_ms}"
            )
        if self.interleaved > MAX_INTERLEAVED:
            raise QuizError(f"staircase interleaved must be 1 to {MAX_INTERLEAVED}; got {self.interleaved}")

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class StaircaseTrace:
    """What the staircase did over a sequence of answers."""

    exposures: list[int]  # exposure shown on trial i
    moves: list[int]  # after trial i: -1 = next exposure shorter, +1 = longer, 0 = no change
    reversals: list[int]  # trial indices where the direction of movement flipped
    next_exposure_ms: int  # exposure for the trial after the last answer

    @property
    def reversal_exposures(self) -> list[int]:
        return [self.exposures[i] for i in self.reversals]


def run_staircase(rule: StaircaseRule, correct: Sequence[bool]) -> StaircaseTrace:
    """Replay the staircase over answers given in order (True = correct).

    A move that the bounds clamp (three correct at 100 ms) still counts as a move in its
    direction, so a person pinned at the floor who then errs produces a reversal there.
    """
    exposure = rule.start_ms
    streak = 0
    last_move = 0
    exposures: list[int] = []
    moves: list[int] = []
    reversals: list[int] = []
    for index, was_correct in enumerate(correct):
        exposures.append(exposure)
        move = 0
        if was_correct:
            streak += 1
            if streak == rule.correct_in_a_row:
                move, streak = -1, 0
        else:
            move, streak = +1, 0
        if move:
            if last_move and move != last_move:
                reversals.append(index)
            last_move = move
            step = rule.step_down_ms if move < 0 else rule.step_up_ms
            exposure = min(rule.max_ms, max(rule.min_ms, exposure + move * step))
        moves.append(move)
    return StaircaseTrace(exposures, moves, reversals, exposure)


@dataclass(frozen=True)
class ThresholdEstimate:
    """One person's HYPE-time estimate."""

    threshold_ms: float  # mean exposure at the last reversals (see staircase_threshold)
    converged: bool  # False: fewer than 2 reversals; threshold is a fallback average
    n_reversals: int
    modal_ms: int  # most frequently shown exposure (the figure HYPE plots); ties -> latest
    n_trials: int


def staircase_threshold(rule: StaircaseRule, correct: Sequence[bool], *, last_reversals: int = 6) -> ThresholdEstimate:
    """The exposure a person converged to.

    Choice (after Levitt 1971): the mean exposure at the last ``last_reversals`` reversals,
    using an even number of them so peaks and troughs balance. With fewer than two reversals
    the staircase has not turned around yet; we then report the mean exposure over the second
    half of the trials and mark the estimate ``converged=False``.
    """
    if len(correct) == 0:
        raise QuizError("a staircase threshold needs at least one answer")
    trace = run_staircase(rule, correct)
    at_reversals = trace.reversal_exposures[-last_reversals:]
    if len(at_reversals) % 2 == 1 and len(at_reversals) > 1:
        at_reversals = at_reversals[1:]
    converged = len(at_reversals) >= 2
    if converged:
        threshold = float(np.mean(at_reversals))
    else:
        second_half = trace.exposures[len(trace.exposures) // 2 :]
        threshold = float(np.mean(second_half))
    counts = Counter(trace.exposures)
    top = max(counts.values())
    modal = next(e for e in reversed(trace.exposures) if counts[e] == top)
    return ThresholdEstimate(threshold, converged, len(trace.reversals), int(modal), len(correct))


def staircase_schedule(rule: StaircaseRule, n_trials: int, seed: int, participant_key: str) -> list[int]:
    """Which staircase runs each scored trial of one participant's deck (server side only).

    Shuffled rounds of all the staircases, redrawn so that no staircase gets two trials in a
    row: the exposure after an answer never comes from the staircase that answer moved.
    Reproducible from the quiz seed and the participant, like the deck.
    """
    count = rule.interleaved
    if count == 1:
        return [0] * n_trials
    rng = deck_rng(seed, participant_key + "\x00staircases")
    order: list[int] = []
    while len(order) < n_trials:
        round_ = rng.permutation(count).tolist()
        if order and round_[0] == order[-1]:
            round_[0], round_[-1] = round_[-1], round_[0]
        order += round_
    return order[:n_trials]


def next_exposure(rule: StaircaseRule, schedule: Sequence[int], correct: Sequence[bool]) -> int:
    """The exposure of scored trial ``len(correct)``: its staircase, replayed over that staircase's
    earlier answers only."""
    which = schedule[len(correct)]
    own = [c for s, c in zip(schedule, correct, strict=False) if s == which]
    return run_staircase(rule, own).next_exposure_ms


def shown_exposures(rule: StaircaseRule, schedule: Sequence[int], correct: Sequence[bool]) -> list[int]:
    """The exposure every answered scored trial was shown with, in deck order."""
    return [next_exposure(rule, schedule, correct[:i]) for i in range(len(correct))]


def interleaved_threshold(
    rule: StaircaseRule, correct: Sequence[bool], schedule: Sequence[int], *, last_reversals: int = 6
) -> ThresholdEstimate:
    """A person's HYPE-time over interleaved staircases: the mean of each staircase's estimate
    (``staircase_threshold``); converged only when every staircase that ran is."""
    if len(correct) == 0:
        raise QuizError("a staircase threshold needs at least one answer")
    estimates = []
    for which in sorted(set(schedule[: len(correct)])):
        own = [c for s, c in zip(schedule, correct, strict=False) if s == which]
        estimates.append(staircase_threshold(rule, own, last_reversals=last_reversals))
    shown = shown_exposures(rule, schedule, correct)
    counts = Counter(shown)
    top = max(counts.values())
    modal = next(e for e in reversed(shown) if counts[e] == top)
    return ThresholdEstimate(
        threshold_ms=float(np.mean([e.threshold_ms for e in estimates])),
        converged=all(e.converged for e in estimates),
        n_reversals=sum(e.n_reversals for e in estimates),
        modal_ms=int(modal),
        n_trials=len(correct),
    )
