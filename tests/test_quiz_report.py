"""The owner's report, built from hand-made answer rows (no database)."""

import json

import numpy as np
import pytest
from scipy import stats as scipy_stats
from scipy.stats import norm

from ganlab.quiz.report import build_report
from ganlab.quiz.staircase import StaircaseRule, interleaved_threshold, staircase_schedule, staircase_threshold


def quiz(**overrides):
    settings = {
        "code": "7KQ2XD",
        "title": "test",
        "mode": "single",
        "is_open": True,
        "deck_size": 8,
        "practice_trials": 0,
        "feedback": False,
        "timed": False,
        "ask_confidence": False,
        "qualification": None,
        "fast_ms": 300,
        "real_pool": "real",
        "sources": ["gen-a", "gen-b"],
        "seed": 1,
        "display_size": 280,
        "staircase": StaircaseRule().to_dict(),
    }
    return {**settings, **overrides}


def row(pid, index, truth, answer, source=None, pool_index=0, practice=False, fast=False, b=None):
    pool = "real" if truth == "real" else source
    return {
        "participant_id": pid,
        "trial_index": index,
        "truth": truth,
        "answer": answer,
        "correct": truth == answer,
        "source": "real" if truth == "real" else source,
        "image_a_pool": pool,
        "image_a_index": pool_index,
        "image_b_pool": b[0] if b else None,
        "image_b_index": b[1] if b else None,
        "practice": practice,
        "fast": fast,
        "serve_count": 1,
    }


def person(pid, nickname, finished=True):
    return {"id": pid, "number": pid, "nickname": nickname, "finished_at": 1.0 if finished else None}


def single_mode_rows():
    rows = []
    # Ada: sharp. 4/4 fakes caught (gen-a 0,1; gen-b 0,1), 3/4 reals right.
    ada = [
        ("fake", "fake", "gen-a", 0),
        ("fake", "fake", "gen-a", 1),
        ("fake", "fake", "gen-b", 0),
        ("fake", "fake", "gen-b", 1),
        ("real", "real", None, 0),
        ("real", "real", None, 1),
        ("real", "real", None, 2),
        ("real", "fake", None, 3),
    ]
    # Bob: fooled by gen-b, says "real" to everything.
    bob = [
        ("fake", "real", "gen-a", 0),
        ("fake", "fake", "gen-a", 2),
        ("fake", "real", "gen-b", 0),
        ("fake", "real", "gen-b", 2),
        ("real", "real", None, 0),
        ("real", "real", None, 4),
        ("real", "real", None, 5),
        ("real", "real", None, 3),
    ]
    for pid, answers in ((1, ada), (2, bob)):
        for i, (truth, answer, source, index) in enumerate(answers):
            rows.append(row(pid, i + 1, truth, answer, source, index))
        rows.append(row(pid, 0, "fake", "real", "gen-a", 9, practice=True))  # practice never counts
    return rows


def test_single_mode_report_numbers():
    report = build_report(quiz(), [person(1, "Ada"), person(2, "Bob")], single_mode_rows())
    s = report.summary
    assert s.n_trials == 16 and s.n_participants == 2
    assert s.accuracy.k == 7 + 5
    assert s.hype_infinity.k == 4 and s.hype_infinity.rate == pytest.approx(4 / 16)
    assert s.fake_error.k == 3 and s.fake_error.n == 8
    assert s.real_error.k == 1 and s.real_error.n == 8
    assert s.p_value_vs_chance == pytest.approx(scipy_stats.binomtest(12, 16).pvalue)
    assert s.confusion == {"real": {"real": 7, "fake": 1}, "fake": {"real": 3, "fake": 5}}
    ada, bob = report.participants
    assert ada.accuracy == pytest.approx(7 / 8) and bob.accuracy == pytest.approx(5 / 8)
    expected_d = norm.ppf(4.5 / 5) - norm.ppf(1.5 / 5)  # Ada: 4/4 hits, 1/4 false alarms
    assert ada.dprime == pytest.approx(expected_d)
    assert s.dprime_mean == pytest.approx((ada.dprime + bob.dprime) / 2)
    assert s.class_error_mean == pytest.approx((1 / 8 + 3 / 8) / 2)
    low, high = s.class_error_ci
    assert 1 / 8 <= low <= high <= 3 / 8
    # Per source: gen-a fooled 1 of 4, gen-b 2 of 4; Fisher test between them.
    by_source = {r.source: r.fooled for r in s.per_source}
    assert (by_source["gen-a"].k, by_source["gen-a"].n) == (1, 4)
    assert (by_source["gen-b"].k, by_source["gen-b"].n) == (2, 4)
    assert s.source_test.test == "fisher-exact"
    assert s.source_test.p_value == pytest.approx(scipy_stats.fisher_exact([[1, 3], [2, 2]]).pvalue)
    # gen-b #2 fooled the one person who saw it; gen-a #0 and gen-b #0 fooled one of two.
    assert [(i.pool, i.index, i.wrong, i.n) for i in s.most_deceptive] == [
        ("gen-b", 2, 1, 1),
        ("gen-a", 0, 1, 2),
        ("gen-b", 0, 1, 2),
    ]
    assert s.most_deceptive[1].share == pytest.approx(0.5)
    assert [(i.pool, i.index, i.wrong, i.n) for i in s.most_doubted] == [("real", 3, 1, 2)]
    # JSON-ready.
    json.dumps(report.to_dict())


def test_bootstrap_in_report_is_reproducible():
    people = [person(1, "Ada"), person(2, "Bob")]
    a = build_report(quiz(), people, single_mode_rows(), bootstrap_seed=3).summary.class_error_ci
    b = build_report(quiz(), people, single_mode_rows(), bootstrap_seed=3).summary.class_error_ci
    assert a == b


def test_qualification_excludes_and_reports_everyone_too():
    report = build_report(quiz(qualification=0.65), [person(1, "Ada"), person(2, "Bob")], single_mode_rows())
    ada, bob = report.participants
    assert ada.qualified is True and bob.qualified is False  # Bob caught only 1 of 4 fakes
    assert ada.included and not bob.included
    assert report.summary.n_participants == 1 and report.summary.n_trials == 8
    assert report.summary_all.n_trials == 16
    assert any("qualification" in note for note in report.notes)
    kept = build_report(
        quiz(qualification=0.65), [person(1, "Ada"), person(2, "Bob")], single_mode_rows(), exclude_unqualified=False
    )
    assert kept.summary.n_trials == 16 and kept.summary_all is None


def test_fast_answers_can_be_excluded():
    rows = single_mode_rows()
    rows[0]["fast"] = True
    people = [person(1, "Ada"), person(2, "Bob")]
    report = build_report(quiz(), people, rows)
    assert report.participants[0].fast_answers == 1 and report.summary.n_trials == 16
    assert build_report(quiz(), people, rows, exclude_fast=True).summary.n_trials == 15


def test_pair_mode_dprime_and_sources():
    rows = []
    # real on the left 4 times (said left 3 times), on the right 4 times (said left once).
    plan = [("left", "left")] * 3 + [("left", "right")] + [("right", "left")] + [("right", "right")] * 3
    for i, (truth, answer) in enumerate(plan):
        real, fake = ("real", i), ("gen-a", i)
        a, b = (real, fake) if truth == "left" else (fake, real)
        r = row(1, i, truth, answer, "gen-a", b=b)
        r["image_a_pool"], r["image_a_index"] = a
        rows.append(r)
    report = build_report(quiz(mode="pair", sources=["gen-a"]), [person(1, "Ada")], rows)
    ada = report.participants[0]
    h, f = 3.5 / 5, 1.5 / 5
    assert ada.dprime == pytest.approx((norm.ppf(h) - norm.ppf(f)) / np.sqrt(2))
    assert ada.fake_error is None and report.summary.fake_error is None
    assert report.summary.confusion == {"left": {"left": 3, "right": 1}, "right": {"left": 1, "right": 3}}
    assert report.summary.source_test is None  # one source: nothing to compare
    # The fakes chosen as real: trial 3 (real left, said right) and trial 4 (real right, said left).
    assert {(i.pool, i.index) for i in report.summary.most_deceptive} == {("gen-a", 3), ("gen-a", 4)}
    assert {(i.pool, i.index) for i in report.summary.most_doubted} == {("real", 3), ("real", 4)}


def test_timed_report_uses_the_staircase():
    correct = [True] * 9 + [False] + [True] * 3 + [False]
    rows = [row(1, i, "real", "real" if c else "fake") for i, c in enumerate(correct)]
    rows += [row(2, i, "fake", "fake") for i in range(6)]
    one = StaircaseRule(interleaved=1)
    report = build_report(quiz(timed=True, deck_size=14, staircase=one.to_dict()), [person(1, "Ada"), person(2, "Bob")], rows)
    ada, bob = report.participants
    assert ada.hype_time_ms == pytest.approx(staircase_threshold(one, correct).threshold_ms)
    assert ada.hype_time_converged and bob.hype_time_converged is False
    assert report.summary.hype_time_mean_ms == pytest.approx((ada.hype_time_ms + bob.hype_time_ms) / 2)
    assert any("reversals" in note for note in report.notes)
    # Interleaved staircases (the default): each runs on its own trials, as the store scheduled them.
    rule = StaircaseRule()
    report = build_report(quiz(timed=True, deck_size=14, staircase=rule.to_dict()), [person(1, "Ada")], rows[:14])
    schedule = staircase_schedule(rule, 14, 1, "ada")
    assert report.participants[0].hype_time_ms == pytest.approx(interleaved_threshold(rule, correct, schedule).threshold_ms)


def test_feedback_quizzes_are_reported_as_practice():
    rows = [row(1, i, "real", "real") for i in range(4)]
    assert build_report(quiz(), [person(1, "Ada")], rows).measurement
    report = build_report(quiz(feedback=True), [person(1, "Ada")], rows)
    assert not report.measurement and report.to_dict()["measurement"] is False
    assert any("not a HYPE measurement" in note for note in report.notes)


def test_empty_quiz_report():
    report = build_report(quiz(), [person(1, "Ada", finished=False)], [])
    assert report.summary is None and report.n_joined == 1 and report.n_finished == 0
    assert report.participants[0].accuracy is None
