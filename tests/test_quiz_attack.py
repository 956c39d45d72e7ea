"""Participants who try to learn their own correctness from what they receive, and answer with it.

The attack (``CountingAttacker``): a participant who cannot see any difference between real and
fake images (both pools are the same kind of noise) but reads everything the quiz sends them:

1. *the next trial's exposure* in a timed quiz: under a single 3-down/1-up staircase the exposure
   rises exactly after a wrong answer, so "exposure went up" means "my last answer was wrong";
2. *feedback*, if any reaches them in a measurement quiz;
3. *the deck's real/fake ratio*: they assume the deck is exactly half fake (the old instructions
   said so) and, knowing which earlier trials were fake (their answer plus whether it was right),
   they answer the kind that has more left, guessing on ties.

With nothing to go on they are right half the time. The test plays ``PARTICIPANTS`` of them
through timed quizzes in single and in pair mode, ``DECK`` scored trials each, and pools every
scored trial: N = 2 x 15 x 40 = 1,200 trials. It asserts that their accuracy is not above chance
by a one-sided exact binomial test at alpha = 0.05 (everything is seeded, so the outcome is
reproducible, not a 5% lottery).

Power: with N = 1,200 trials the one-sided test rejects at 629 correct or more; a true advantage
of 5 points (55% correct) reaches that with probability 0.97 (computed in
``test_the_attack_test_has_power``), and one of 3 points (53%) with probability 0.60. On the
leaky protocol (one staircase, exactly half fakes) this attack was right on 689 of 1,200 trials
(57.4%, p = 1.5e-7); on the current one on 606 (50.5%, p = 0.38).

A second check asks the question directly: is the change of exposure from one trial to the next
independent of whether the last answer was right? (chi-square test of independence on the same
trials; on the leaky protocol "exposure went up" and "last answer wrong" were the same event,
p = 9e-255; now p = 0.47.)
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats as scipy_stats

from ganlab.quiz import ImagePool, QuizImages, QuizStore

PARTICIPANTS = 15
DECK = 40
ALPHA = 0.05
N_TRIALS = 2 * PARTICIPANTS * DECK


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        self.now += 0.7  # every call is a moment later: no answer looks "fast"
        return self.now


def noise_pools(n: int = 200) -> QuizImages:
    rng = np.random.default_rng(0)
    return QuizImages(
        [
            ImagePool("real", True, rng.integers(0, 256, (n, 8, 8), dtype=np.uint8)),
            ImagePool("gen", False, rng.integers(0, 256, (n, 8, 8), dtype=np.uint8)),
        ]
    )


class CountingAttacker:
    """Infers whether each earlier answer was right from the exposures (or feedback) it receives,
    assumes the deck is exactly half fake, and answers the kind that has more left."""

    def __init__(self, choices: tuple[str, str], deck: int, rng: np.random.Generator) -> None:
        self.choices = choices  # ("real", "fake") or ("left", "right")
        self.left = {choices[0]: deck // 2, choices[1]: deck - deck // 2}
        self.rng = rng
        self.last_answer: str | None = None
        self.last_exposure: int | None = None

    def learn(self, answer: str, correct: bool) -> None:
        truth = answer if correct else next(c for c in self.choices if c != answer)
        self.left[truth] -= 1

    def choose(self, exposure: int | None) -> str:
        if self.last_answer is not None and exposure is not None and self.last_exposure is not None:
            self.learn(self.last_answer, correct=exposure <= self.last_exposure)  # up = last one was wrong
        self.last_exposure = exposure
        a, b = self.choices
        if self.left[a] != self.left[b]:
            answer = a if self.left[a] > self.left[b] else b
        else:
            answer = self.choices[int(self.rng.integers(2))]
        self.last_answer = answer
        return answer


def play_attackers(tmp_path, mode: str) -> tuple[list[bool], list[tuple[bool, int]]]:
    """(whether each scored answer was right, (last answer right, sign of the exposure change) pairs)."""
    store = QuizStore(tmp_path / f"attack-{mode}.sqlite", noise_pools(), clock=FakeClock())
    created = store.create_quiz(sources="gen", deck_size=DECK, mode=mode, timed=True, seed=2024, display_size=28)
    choices = store.quiz_info(created.code).choices
    rng = np.random.default_rng(7)
    for person in range(PARTICIPANTS):
        token = store.join(created.code, f"attacker{person}").token
        attacker = CountingAttacker(choices, DECK, rng)
        while (trial := store.render_trial(token)) is not None:
            answer = attacker.choose(trial.exposure_ms)
            receipt = store.answer(token, trial.trial_number, answer)
            if receipt.feedback is not None:  # a measurement quiz gives none; if it did, use it
                attacker.learn(answer, receipt.feedback.correct)
                attacker.last_answer = None
    rows = json.loads(store.export_json(created.code, created.owner_key))
    store.close()
    correct = [bool(r["correct"]) for r in rows if not r["practice"]]
    changes = []
    by_person: dict[int, list[dict]] = {}
    for r in rows:
        by_person.setdefault(r["participant"], []).append(r)
    for deck in by_person.values():
        for before, after in zip(deck, deck[1:], strict=False):
            changes.append((bool(before["correct"]), int(np.sign(after["exposure_ms"] - before["exposure_ms"]))))
    return correct, changes


@pytest.fixture(scope="module")
def played(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("attack")
    results = [play_attackers(tmp_path, mode) for mode in ("single", "pair")]
    return [c for correct, _ in results for c in correct], [c for _, changes in results for c in changes]


def test_the_attack_test_has_power():
    critical = int(scipy_stats.binom.isf(ALPHA, N_TRIALS, 0.5)) + 1  # smallest count that rejects
    assert scipy_stats.binom.sf(critical - 1, N_TRIALS, 0.5) <= ALPHA
    power = scipy_stats.binom.sf(critical - 1, N_TRIALS, 0.55)
    assert (critical, round(power, 2)) == (629, 0.97)


def test_attackers_do_no_better_than_chance(played):
    correct, _ = played
    assert len(correct) == N_TRIALS
    k = sum(correct)
    p_value = scipy_stats.binomtest(k, N_TRIALS, 0.5, alternative="greater").pvalue
    assert p_value > ALPHA, f"attackers were right on {k} of {N_TRIALS} trials ({k / N_TRIALS:.1%}), p = {p_value:.2g}"


def test_next_exposure_does_not_follow_the_last_answer(played):
    _, changes = played
    table = np.zeros((2, 3))
    for was_correct, sign in changes:
        table[int(was_correct), sign + 1] += 1
    table = table[:, table.sum(axis=0) > 0]
    p_value = scipy_stats.chi2_contingency(table).pvalue
    assert p_value > ALPHA, f"the exposure change depends on the last answer: {table.tolist()}, p = {p_value:.2g}"
