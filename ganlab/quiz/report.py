"""The owner's results: from stored answer rows to a plain report (no database, no UI here).

``build_report`` takes the quiz settings and the answer rows the store read, and applies
``ganlab.quiz.stats``. Practice trials never count. Which participants count:
- with a qualification threshold q (HYPE: 0.65), a participant qualifies when they were
  right on at least q of the real images AND at least q of the fakes (pair mode: q of all
  trials). Unqualified participants are left out of the headline numbers by default and the
  report also gives the numbers for everyone (the rule is computed on the same trials it
  filters, which flatters the result: say so when you publish).
- answers faster than ``fast_ms`` are flagged; they count unless ``exclude_fast=True``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ganlab.quiz import stats
from ganlab.quiz.staircase import StaircaseRule, interleaved_threshold, staircase_schedule

TOP_IMAGES = 10
# The quiz's settings a report repeats, so that its numbers can be read with what produced them.
REPORTED_SETTINGS = (
    "deck_size",
    "practice_trials",
    "feedback",
    "timed",
    "ask_confidence",
    "qualification",
    "fast_ms",
    "real_pool",
    "sources",
    "seed",
    "display_size",
    "staircase",
)


@dataclass(frozen=True)
class Rate:
    """k out of n with its Wilson 95% interval."""

    k: int
    n: int
    rate: float | None  # None when n = 0
    low: float
    high: float

    @classmethod
    def of(cls, k: int, n: int) -> Rate:
        low, high = stats.wilson_interval(k, n)
        return cls(int(k), int(n), (k / n) if n else None, low, high)


@dataclass(frozen=True)
class ParticipantResult:
    number: int  # join order within the quiz
    nickname: str
    answered: int  # scored trials answered
    finished: bool
    accuracy: float | None
    fake_error: float | None  # single mode: fakes judged real
    real_error: float | None  # single mode: reals judged fake
    dprime: float | None
    criterion: float | None  # single: c (> 0 leans "real");  pair: side bias (> 0 leans "right")
    qualified: bool | None  # None: no qualification rule, or no answers yet
    included: bool  # counted in the headline summary
    fast_answers: int
    reloads: int  # trials served more than once (page reloads)
    hype_time_ms: float | None  # timed quizzes: converged exposure
    hype_time_converged: bool | None


@dataclass(frozen=True)
class SourceResult:
    source: str
    fooled: Rate  # fakes from this source judged real (pair: chosen as the real one)


@dataclass(frozen=True)
class ImageResult:
    pool: str
    index: int
    wrong: int  # times a fake was judged real / a real was judged fake
    n: int  # times it was shown
    share: float


@dataclass(frozen=True)
class Summary:
    n_participants: int
    n_trials: int
    accuracy: Rate
    p_value_vs_chance: float | None  # two-sided exact binomial test of accuracy against 50%
    hype_infinity: Rate  # error rate: 50% = people cannot tell, 0% = fakes are obvious
    fake_error: Rate | None  # single mode
    real_error: Rate | None  # single mode
    class_error_mean: float | None  # mean of per-participant error rates
    class_error_ci: tuple[float, float] | None  # 95% bootstrap over participants
    dprime_mean: float | None
    criterion_mean: float | None
    confusion: dict[str, dict[str, int]]  # truth -> answer -> count
    per_source: list[SourceResult]
    source_test: stats.ProportionTest | None  # do the sources fool people equally often?
    most_deceptive: list[ImageResult]  # fakes most often judged real
    most_doubted: list[ImageResult]  # real images most often judged fake
    hype_time_mean_ms: float | None
    hype_time_ci: tuple[float, float] | None


@dataclass(frozen=True)
class QuizReport:
    code: str
    title: str
    mode: str
    is_open: bool
    settings: dict[str, Any]
    n_joined: int
    n_finished: int
    summary: Summary | None  # included participants; None before any scored answer
    summary_all: Summary | None  # everyone, when someone was excluded
    participants: list[ParticipantResult]
    notes: list[str] = field(default_factory=list)
    # False for quizzes with feedback: people learned the truth as they went, so this is practice,
    # and its error rate is not a HYPE measurement of the generator.
    measurement: bool = True

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: NaN becomes None, tuples become lists."""
        return _json_safe(asdict(self))


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def _finite(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def _refs(row: dict[str, Any]) -> tuple[tuple[str, int], tuple[str, int] | None]:
    """(real image, fake image) shown in a trial; one of them is None in single mode."""
    a = (row["image_a_pool"], row["image_a_index"])
    b = (row["image_b_pool"], row["image_b_index"]) if row["image_b_pool"] is not None else None
    truth = row["truth"]
    if truth == "real":
        return a, None
    if truth == "fake":
        return None, a
    return (a, b) if truth == "left" else (b, a)


def _participant_stats(mode: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    correct = np.array([r["correct"] for r in rows], dtype=bool)
    truth = [r["truth"] for r in rows]
    answer = [r["answer"] for r in rows]
    if mode == "single":
        is_fake = np.array([t == "fake" for t in truth], dtype=bool)
        judged_fake = np.array([a == "fake" for a in answer], dtype=bool)
        rates = stats.error_rates(is_fake, judged_fake)
        hits = int((is_fake & judged_fake).sum())
        false_alarms = int((~is_fake & judged_fake).sum())
        d, c = stats.dprime_yes_no(hits, rates.n_fake, false_alarms, rates.n_real)
        acc_fake = 1 - rates.fake_error if rates.n_fake else float("nan")
        acc_real = 1 - rates.real_error if rates.n_real else float("nan")
        return {
            "accuracy": stats.accuracy(correct),
            "fake_error": rates.fake_error,
            "real_error": rates.real_error,
            "dprime": d,
            "criterion": c,
            "qual_parts": (acc_real, acc_fake),
        }
    real_left = np.array([t == "left" for t in truth], dtype=bool)
    said_left = np.array([a == "left" for a in answer], dtype=bool)
    d, bias = stats.dprime_two_alternative(
        int((real_left & said_left).sum()),
        int(real_left.sum()),
        int((~real_left & said_left).sum()),
        int((~real_left).sum()),
    )
    acc = stats.accuracy(correct)
    return {
        "accuracy": acc,
        "fake_error": None,
        "real_error": None,
        "dprime": d,
        "criterion": bias,
        "qual_parts": (acc,),
    }


def _top_images(counts: dict[tuple[str, int], list[int]]) -> list[ImageResult]:
    ranked = sorted(
        counts.items(),
        key=lambda item: (-item[1][0] / item[1][1], -item[1][1], item[0]),
    )
    return [ImageResult(pool, int(index), w, n, w / n) for (pool, index), (w, n) in ranked[:TOP_IMAGES] if w > 0]


def _summary(
    mode: str,
    rows: list[dict[str, Any]],
    people: list[ParticipantResult],
    sources: list[str],
    seed: int,
) -> Summary | None:
    if not rows:
        return None
    correct = np.array([r["correct"] for r in rows], dtype=bool)
    n, k = len(rows), int(correct.sum())
    confusion: dict[str, dict[str, int]] = {}
    labels = ("real", "fake") if mode == "single" else ("left", "right")
    for truth in labels:
        confusion[truth] = {a: sum(1 for r in rows if r["truth"] == truth and r["answer"] == a) for a in labels}
    fake_error = real_error = None
    if mode == "single":
        fake_rows = [r for r in rows if r["truth"] == "fake"]
        real_rows = [r for r in rows if r["truth"] == "real"]
        fake_error = Rate.of(sum(not r["correct"] for r in fake_rows), len(fake_rows))
        real_error = Rate.of(sum(not r["correct"] for r in real_rows), len(real_rows))

    per_source = []
    for source in sources:
        source_rows = [r for r in rows if r["source"] == source]
        per_source.append(
            SourceResult(
                source,
                Rate.of(sum(not r["correct"] for r in source_rows), len(source_rows)),
            )
        )
    source_test = (
        stats.compare_proportions([s.fooled.k for s in per_source], [s.fooled.n for s in per_source])
        if len(sources) > 1
        else None
    )

    fooled: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0])
    doubted: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0])
    for r in rows:
        real_ref, fake_ref = _refs(r)
        for ref, table in ((real_ref, doubted), (fake_ref, fooled)):
            if ref is not None:
                table[ref][0] += not r["correct"]
                table[ref][1] += 1

    counted = [p for p in people if p.answered > 0]
    errors = np.array([1 - p.accuracy for p in counted], dtype=float)
    class_ci = stats.bootstrap_mean_ci(errors, seed=seed) if len(counted) > 0 else None
    dprimes = [p.dprime for p in counted if p.dprime is not None]
    criteria = [p.criterion for p in counted if p.criterion is not None]
    thresholds = [p.hype_time_ms for p in counted if p.hype_time_ms is not None]
    return Summary(
        n_participants=len(counted),
        n_trials=n,
        accuracy=Rate.of(k, n),
        p_value_vs_chance=_finite(stats.binomial_p_value(k, n)),
        hype_infinity=Rate.of(n - k, n),
        fake_error=fake_error,
        real_error=real_error,
        class_error_mean=float(errors.mean()) if len(counted) else None,
        class_error_ci=class_ci,
        dprime_mean=float(np.mean(dprimes)) if dprimes else None,
        criterion_mean=float(np.mean(criteria)) if criteria else None,
        confusion=confusion,
        per_source=per_source,
        source_test=source_test,
        most_deceptive=_top_images(fooled),
        most_doubted=_top_images(doubted),
        hype_time_mean_ms=float(np.mean(thresholds)) if thresholds else None,
        hype_time_ci=stats.bootstrap_mean_ci(thresholds, seed=seed) if thresholds else None,
    )


def build_report(
    quiz: dict[str, Any],
    participants: list[dict[str, Any]],
    answers: list[dict[str, Any]],
    *,
    exclude_unqualified: bool | None = None,
    exclude_fast: bool = False,
    bootstrap_seed: int = 0,
) -> QuizReport:
    """Assemble the owner's report.

    quiz: the quiz row (with "sources" as a list and "staircase" as a dict);
    participants: rows with id, number, nickname, finished_at;
    answers: answer rows (all of them; practice rows are dropped here).
    exclude_unqualified: None = exclude when the quiz has a qualification threshold.
    """
    mode = quiz["mode"]
    qualification = quiz["qualification"]
    if exclude_unqualified is None:
        exclude_unqualified = qualification is not None
    rule = StaircaseRule.from_dict(quiz["staircase"]) if quiz["timed"] else None

    scored_by_person, reloads = _scored_answers(answers)
    people: list[ParticipantResult] = []
    kept_rows: dict[int, list[dict[str, Any]]] = {}
    for person in sorted(participants, key=lambda p: p["number"]):
        rows = scored_by_person.get(person["id"], [])
        kept_rows[person["id"]] = [r for r in rows if not (exclude_fast and r["fast"])]
        people.append(
            _participant_result(
                quiz, person, rows, kept_rows[person["id"]], rule, reloads[person["id"]], exclude_unqualified=exclude_unqualified
            )
        )

    by_number = {p["number"]: p["id"] for p in participants}
    included = [p for p in people if p.included]
    included_rows = [r for p in included for r in kept_rows[by_number[p.number]]]
    all_rows = [r for rows in kept_rows.values() for r in rows]
    sources = list(quiz["sources"])
    summary = _summary(mode, included_rows, included, sources, bootstrap_seed)
    excluded = [p for p in people if p.answered and not p.included]
    summary_all = _summary(mode, all_rows, people, sources, bootstrap_seed) if excluded else None

    settings = {key: quiz[key] for key in REPORTED_SETTINGS}
    settings["exclude_unqualified"] = exclude_unqualified
    settings["exclude_fast"] = exclude_fast
    return QuizReport(
        code=quiz["code"],
        title=quiz["title"],
        mode=mode,
        is_open=bool(quiz["is_open"]),
        settings=settings,
        n_joined=len(participants),
        n_finished=sum(p["finished_at"] is not None for p in participants),
        summary=summary,
        summary_all=summary_all,
        participants=people,
        notes=_notes(quiz, people, excluded, rule, exclude_fast=exclude_fast),
        measurement=not quiz["feedback"],
    )


def _scored_answers(answers: list[dict[str, Any]]) -> tuple[dict[int, list[dict[str, Any]]], dict[int, int]]:
    """Each participant's scored answers in trial order (practice never counts), and how many of their
    trials were served more than once."""
    scored_by_person: dict[int, list[dict[str, Any]]] = defaultdict(list)
    reloads: dict[int, int] = defaultdict(int)
    for row in sorted(answers, key=lambda r: (r["participant_id"], r["trial_index"])):
        if row["practice"]:
            continue
        reloads[row["participant_id"]] += row["serve_count"] > 1
        scored_by_person[row["participant_id"]].append(row)
    return scored_by_person, reloads


def _participant_result(
    quiz: dict[str, Any],
    person: dict[str, Any],
    rows: list[dict[str, Any]],
    counted: list[dict[str, Any]],
    rule: StaircaseRule | None,
    reloads: int,
    *,
    exclude_unqualified: bool,
) -> ParticipantResult:
    """One participant's numbers from their scored ``rows``, of which ``counted`` count (fast ones may not)."""
    qualification = quiz["qualification"]
    # The staircase ran on every scored answer, fast or not, so HYPE-time uses them all.
    threshold = None
    if rule and rows:
        key = person.get("nickname_key") or person["nickname"].casefold()
        schedule = staircase_schedule(rule, quiz["deck_size"], quiz["seed"], key)
        threshold = interleaved_threshold(rule, [r["correct"] for r in rows], schedule)
    numbers = _participant_stats(quiz["mode"], counted) if counted else None
    qualified = None
    if qualification is not None and numbers is not None:
        qualified = all(not math.isnan(part) and part >= qualification for part in numbers["qual_parts"])
    return ParticipantResult(
        number=person["number"],
        nickname=person["nickname"],
        answered=len(counted),
        finished=person["finished_at"] is not None,
        accuracy=_finite(numbers["accuracy"]) if numbers else None,
        fake_error=_finite(numbers["fake_error"]) if numbers and numbers["fake_error"] is not None else None,
        real_error=_finite(numbers["real_error"]) if numbers and numbers["real_error"] is not None else None,
        dprime=numbers["dprime"] if numbers else None,
        criterion=numbers["criterion"] if numbers else None,
        qualified=qualified,
        included=bool(counted) and not (exclude_unqualified and qualified is False),
        fast_answers=sum(bool(r["fast"]) for r in rows),
        reloads=reloads,
        hype_time_ms=threshold.threshold_ms if threshold else None,
        hype_time_converged=threshold.converged if threshold else None,
    )


def _notes(
    quiz: dict[str, Any],
    people: list[ParticipantResult],
    excluded: list[ParticipantResult],
    rule: StaircaseRule | None,
    *,
    exclude_fast: bool,
) -> list[str]:
    """What a reader of the numbers must know: practice rather than measurement, who was left out, fast answers."""
    notes = []
    if quiz["feedback"]:
        notes.append(
            "feedback was on: participants were told after each answer whether they were right, so these "
            "numbers describe a practice session, not a HYPE measurement (create the quiz with feedback off "
            "to measure)"
        )
    if excluded:
        notes.append(
            f"{len(excluded)} participant(s) below the qualification threshold ({quiz['qualification']:.0%} on real "
            "and on fake images) are left out of the summary; summary_all includes them"
        )
    n_fast = sum(p.fast_answers for p in people)
    if n_fast:
        verb = "excluded" if exclude_fast else "included"
        notes.append(f"{n_fast} answer(s) came faster than {quiz['fast_ms']} ms and are {verb}")
    if rule:
        unconverged = sum(p.hype_time_converged is False for p in people)
        if unconverged:
            notes.append(
                f"{unconverged} participant(s) had a staircase with fewer than 2 reversals; for such a staircase "
                "the mean exposure of its second half of trials stands in for its estimate"
            )
    return notes
