"""QuizStore: create, join, answer, resume, and everything that must be refused."""

import csv
import io
import json
import secrets
import sqlite3

import numpy as np
import pytest
from sqlalchemy import text

from ganlab.quiz import ImagePool, QuizError, QuizImages, QuizStore
from ganlab.quiz.staircase import StaircaseRule, shown_exposures, staircase_schedule


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_images(n: int = 60, seed: int = 0) -> QuizImages:
    rng = np.random.default_rng(seed)
    return QuizImages(
        [
            ImagePool("real", True, rng.integers(0, 256, (n, 8, 8), dtype=np.uint8)),
            ImagePool("gen-a", False, rng.integers(0, 128, (n, 8, 8), dtype=np.uint8)),
            ImagePool("gen-b", False, rng.integers(64, 256, (n, 8, 8), dtype=np.uint8)),
        ]
    )


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def store(database, clock):
    with QuizStore(database, make_images(), clock=clock) as s:
        yield s


def create(store, **settings):
    settings = {"sources": ["gen-a"], "deck_size": 6, "display_size": 32, **settings}
    return store.create_quiz(**settings)


def answer_rows(store) -> list[tuple]:
    with store._engine.connect() as conn:
        rows = conn.execute(text("SELECT participant_id, trial_index, answer FROM answers ORDER BY id")).all()
    return [tuple(row) for row in rows]


def store_seed(store, created) -> int:
    with store._engine.connect() as conn:
        return conn.execute(text("SELECT seed FROM quizzes WHERE code = :c"), {"c": created.code}).scalar_one()


def play(store, clock, token, choose=lambda trial: "real", seconds=1.0):
    receipts = []
    while (trial := store.render_trial(token)) is not None:
        clock.advance(seconds)
        receipts.append(store.answer(token, trial.trial_number, choose(trial)))
    return receipts


def test_full_deck_with_server_timing_and_own_score(store, clock, tmp_path):
    created = create(store, practice_trials=2)
    assert len(created.code) == 6 and len(created.owner_key) >= 32
    info = store.quiz_info(created.code.lower())
    assert info.choices == ("real", "fake") and info.deck_size == 6 and "practice" in info.instructions
    joined = store.join(created.code, "Ada")
    assert joined.total == 8 and joined.next_trial == 1 and not joined.resumed
    first = store.render_trial(joined.token)
    assert (first.trial_number, first.total, first.practice) == (1, 8, True)
    clock.advance(1.25)
    receipt = store.answer(joined.token, 1, "Fake ", client_ms=1180)
    assert receipt.recorded and receipt.next_trial == 2 and not receipt.duplicate
    assert receipt.feedback is not None  # practice trials always give feedback
    assert store.progress(joined.token).correct is None  # no score before the end
    receipts = play(store, clock, joined.token, seconds=2.0)
    assert receipts[-1].finished and receipts[-1].next_trial is None
    assert all(r.feedback is None for r in receipts[1:])  # scored trials: feedback is off
    assert store.render_trial(joined.token) is None
    progress = store.progress(joined.token)
    assert progress.finished and progress.scored == 6 and 0 <= progress.correct <= 6

    rows = json.loads(store.export_json(created.code, created.owner_key))
    assert len(rows) == 8 and [r["trial_number"] for r in rows] == list(range(1, 9))
    assert rows[0]["response_ms"] == pytest.approx(1250.0) and rows[0]["client_ms"] == 1180
    assert rows[0]["answer"] == "fake" and rows[0]["practice"] is True
    assert all(r["response_ms"] == pytest.approx(2000.0) for r in rows[1:])
    table = list(csv.DictReader(io.StringIO(store.export_csv(created.code, created.owner_key))))
    assert len(table) == 8 and table[3]["nickname"] == "Ada"
    report = store.results(created.code, created.owner_key)
    assert report.n_finished == 1 and report.summary.n_trials == 6  # practice excluded
    n_fake = sum(r["truth"] == "fake" for r in rows[2:])
    assert report.summary.confusion["real"]["real"] == 6 - n_fake  # "real" to every real image...
    assert report.summary.confusion["fake"]["real"] == n_fake  # ...and to every fake
    # Each trial is real or fake at random (the deck's ratio is not fixed): a 6-trial deck can lack one kind.
    assert report.summary.fake_error.rate == (1.0 if n_fake else None)
    assert report.summary.real_error.rate == (0.0 if n_fake < 6 else None)


def test_resume_after_reload_needs_the_token(store, clock, database):
    created = create(store)
    joined = store.join(created.code, "Ada")
    trial = store.render_trial(joined.token)
    store.answer(joined.token, 1, "real")
    second = store.render_trial(joined.token)

    reopened = QuizStore(database, make_images(), clock=clock)  # "the server restarted"
    again = reopened.join(created.code, " ada ", token=joined.token)
    assert again.resumed and again.next_trial == 2 and again.nickname == "Ada"
    assert reopened.render_trial(joined.token).trial_id == second.trial_id  # same deck, same place
    assert trial.trial_id != second.trial_id
    with pytest.raises(QuizError, match="already taken"):
        reopened.join(created.code, "ADA")  # no token: nobody can take over Ada's deck
    with pytest.raises(QuizError, match="already taken"):
        reopened.join(created.code, "Ada", token=secrets.token_urlsafe(24))
    reopened.close()


def test_double_submission_is_idempotent_or_rejected(store, clock, tmp_path):
    created = create(store)
    token = store.join(created.code, "Ada").token
    store.render_trial(token)
    first = store.answer(token, 1, "fake")
    again = store.answer(token, 1, "fake")
    assert again.duplicate and again.recorded and again.next_trial == first.next_trial
    with pytest.raises(QuizError, match="already answered"):
        store.answer(token, 1, "real")
    assert answer_rows(store) == [(1, 0, "fake")]


def test_out_of_order_and_unshown_trials_are_rejected(store, clock, tmp_path):
    created = create(store)
    token = store.join(created.code, "Ada").token
    with pytest.raises(QuizError, match="not been shown"):
        store.answer(token, 1, "real")
    store.render_trial(token)
    with pytest.raises(QuizError, match="answer trial 1 first"):
        store.answer(token, 3, "real")
    with pytest.raises(QuizError, match="does not exist"):
        store.answer(token, 7, "real")
    for bad_number in (0, -1, "1", 1.0, True, None):
        with pytest.raises(QuizError):
            store.answer(token, bad_number, "real")
    with pytest.raises(QuizError, match="another trial"):
        store.answer(token, 1, "real", trial_id="not-the-trial")
    assert answer_rows(store) == []


def test_tokens_keep_participants_apart(store, clock, tmp_path):
    created = create(store)
    other = create(store)
    ada = store.join(created.code, "Ada").token
    bob = store.join(created.code, "Bob").token
    for bad in (secrets.token_urlsafe(24), "", None, 42, "x" * 500):
        with pytest.raises(QuizError, match="token is not valid"):
            store.render_trial(bad)
        with pytest.raises(QuizError, match="token is not valid"):
            store.answer(bad, 1, "real")
    store.render_trial(ada)
    store.answer(ada, 1, "real")
    assert store.progress(bob).answered == 0  # Bob sees only his own progress
    assert store.progress(ada).answered == 1
    # Joining another quiz gives another participant; Ada's token means Ada in her quiz only.
    assert store.join(other.code, "Ada").token != ada
    assert answer_rows(store) == [(1, 0, "real")]


def test_closed_quiz_and_unknown_code(store, clock):
    created = create(store)
    token = store.join(created.code, "Ada").token
    store.render_trial(token)
    with pytest.raises(QuizError, match="wrong owner key"):
        store.close_quiz(created.code, "guess")
    store.close_quiz(created.code, created.owner_key)
    assert not store.quiz_info(created.code).is_open
    for action in (
        lambda: store.join(created.code, "Bob"),
        lambda: store.render_trial(token),
        lambda: store.answer(token, 1, "real"),
    ):
        with pytest.raises(QuizError, match="is closed"):
            action()
    assert store.results(created.code, created.owner_key).is_open is False  # results still work
    store.reopen_quiz(created.code, created.owner_key)
    assert store.answer(token, 1, "real").recorded
    with pytest.raises(QuizError, match="no quiz with code"):
        store.join("ZZZZZZ", "Bob")
    with pytest.raises(QuizError, match="not a quiz code"):
        store.join("hello!", "Bob")


def test_garbage_is_rejected_and_nothing_stored(store, clock, tmp_path):
    created = create(store)
    token = store.join(created.code, "Ada").token
    store.render_trial(token)
    for bad in ("maybe", "", "left", 1, None, b"real"):
        with pytest.raises(QuizError):
            store.answer(token, 1, bad)
    for bad_confidence in (3, 0):
        with pytest.raises(QuizError):
            store.answer(token, 1, "real", confidence=bad_confidence)  # this quiz does not ask
    for bad_ms in (-1, float("nan"), float("inf"), "fast", True, 10**9):
        with pytest.raises(QuizError):
            store.answer(token, 1, "real", client_ms=bad_ms)
    assert answer_rows(store) == []

    asking = create(store, ask_confidence=True)
    token = store.join(asking.code, "Bob").token
    store.render_trial(token)
    with pytest.raises(QuizError, match="confidence"):
        store.answer(token, 1, "real")
    for bad_confidence in (0, 6, 2.5, "3", True):
        with pytest.raises(QuizError):
            store.answer(token, 1, "real", confidence=bad_confidence)
    assert store.answer(token, 1, "real", confidence=4.0).recorded
    rows = json.loads(store.export_json(asking.code, asking.owner_key))
    assert rows[0]["confidence"] == 4


def test_feedback_setting_and_pair_mode(store, clock):
    teaching = create(store, feedback=True, mode="pair")
    token = store.join(teaching.code, "Ada").token
    trial = store.render_trial(token)
    assert len(trial.images) == 2 and trial.mode == "pair"
    with pytest.raises(QuizError, match="'left' or 'right'"):
        store.answer(token, 1, "real")
    receipt = store.answer(token, 1, "left")
    assert receipt.feedback is not None and receipt.feedback.truth in ("left", "right")
    assert receipt.feedback.correct == (receipt.feedback.truth == "left")


def test_fast_answers_are_flagged(store, clock):
    created = create(store, fast_ms=300)
    token = store.join(created.code, "Ada").token
    play(store, clock, token, seconds=0.1)
    report = store.results(created.code, created.owner_key)
    assert report.participants[0].fast_answers == 6
    assert any("faster than 300 ms" in note for note in report.notes)
    assert store.results(created.code, created.owner_key, exclude_fast=True).summary is None


def test_owner_key_protects_results_and_exports(store, clock):
    created = create(store)
    for call in (store.results, store.export_csv, store.export_json):
        with pytest.raises(QuizError, match="wrong owner key"):
            call(created.code, "not-the-key")
        with pytest.raises(QuizError, match="wrong owner key"):
            call(created.code, None)
    png = store.owner_image(created.code, created.owner_key, "gen-a", 3)
    assert png.startswith(b"\x89PNG")
    with pytest.raises(QuizError):
        store.owner_image(created.code, created.owner_key, "gen-b", 3)  # not part of this quiz
    with pytest.raises(QuizError, match="wrong owner key"):
        store.owner_image(created.code, "x", "gen-a", 3)


def test_create_quiz_validation(store):
    for bad in (
        {"deck_size": 1},
        {"deck_size": 0},
        {"deck_size": 6.0},
        {"practice_trials": -1},
        {"practice_trials": 21},
        {"mode": "triple"},
        {"sources": []},
        {"sources": ["nope"]},
        {"sources": ["real"]},
        {"sources": ["gen-a", "gen-a"]},
        {"real_pool": "gen-a"},
        {"deck_size": 80},  # a deck may be all real: 80 real images; the pool has 60
        {"qualification": 1.5},
        {"qualification": True},
        {"fast_ms": -1},
        {"feedback": "yes"},
        {"display_size": 5000},
        {"seed": -3},
    ):
        with pytest.raises(QuizError):
            create(store, **bad)
    rng = np.random.default_rng(0)
    store.images.add(ImagePool("gen-big", False, rng.integers(0, 256, (60, 16, 16), dtype=np.uint8)))
    with pytest.raises(QuizError, match="must match"):
        create(store, sources=["gen-big"])
    codes = {create(store).code for _ in range(5)}
    assert len(codes) == 5


def test_timed_quiz_runs_the_staircase(store, clock):
    created = create(store, timed=True, deck_size=20, practice_trials=2)
    token = store.join(created.code, "Ada").token
    rng = np.random.default_rng(4)
    shown, correct = [], []
    while (trial := store.render_trial(token)) is not None:
        assert trial.mask is not None and len(trial.mask) == len(trial.images[0])
        if not trial.practice:
            shown.append(trial.exposure_ms)
        else:
            assert trial.exposure_ms == 500
        clock.advance(0.6)
        receipt = store.answer(token, trial.trial_number, "real" if rng.random() < 0.5 else "fake")
        if not trial.practice:
            rows = json.loads(store.export_json(created.code, created.owner_key))
            correct.append(rows[trial.trial_number - 1]["correct"])
        assert receipt.recorded
    rule = StaircaseRule()
    assert rule.interleaved == 3
    assert shown == shown_exposures(rule, staircase_schedule(rule, 20, store_seed(store, created), "ada"), correct)
    report = store.results(created.code, created.owner_key)
    assert report.participants[0].hype_time_ms is not None
    assert report.summary.hype_time_mean_ms == report.participants[0].hype_time_ms


def test_reissue_token(store, clock):
    created = create(store)
    old = store.join(created.code, "Ada").token
    new = store.reissue_token(created.code, created.owner_key, "ada")
    with pytest.raises(QuizError):
        store.render_trial(old)
    assert store.render_trial(new).trial_number == 1
    with pytest.raises(QuizError, match="nobody called"):
        store.reissue_token(created.code, created.owner_key, "Bob")


def test_changed_pool_is_refused(store, clock, database):
    created = create(store)
    token = store.join(created.code, "Ada").token
    other = QuizStore(database, make_images(seed=99), clock=clock)
    with pytest.raises(QuizError, match="not the one quiz"):
        other.render_trial(token)
    other.close()


def test_sqlite_is_in_wal_mode_with_full_sync(tmp_path):
    store = QuizStore(tmp_path / "quiz.sqlite", make_images())
    with store._engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
    with pytest.raises(QuizError, match="database file"):
        QuizStore("sqlite://")
    store.close()


def test_open_quizzes_are_counted(store):
    before = store.open_quiz_count()
    created = create(store)
    assert store.open_quiz_count() == before + 1
    store.close_quiz(created.code, created.owner_key)
    assert store.open_quiz_count() == before


def test_settings_report_every_problem_at_once(store):
    from ganlab.quiz.settings import QuizSettings

    with pytest.raises(QuizError) as error:
        create(store, deck_size=1, fast_ms=-5, mode="triple", max_participants=0)
    message = str(error.value)
    for part in ("deck_size must be", "fast_ms must be", "mode must be", "max_participants must be"):
        assert part in message
    with pytest.raises(QuizError, match="unknown quiz setting"):
        create(store, decksize=20)
    assert QuizSettings(deck_size=30).validate().deck_size == 30
    created = store.create_quiz(sources=["gen-a"], settings=QuizSettings(deck_size=4, display_size=32))
    assert store.quiz_info(created.code).deck_size == 4


def test_participant_cap(store):
    created = create(store, max_participants=2)
    store.join(created.code, "Ada")
    bob = store.join(created.code, "Bob")
    with pytest.raises(QuizError, match="is full"):
        store.join(created.code, "Cy")
    assert store.join(created.code, "Bob", token=bob.token).resumed  # resuming is not joining
    uncapped = create(store, max_participants=None)
    for n in range(5):
        store.join(uncapped.code, f"p{n}")


def test_an_older_database_gains_the_new_columns(tmp_path, clock):
    path = tmp_path / "old.sqlite"
    with QuizStore(path, make_images(), clock=clock) as store:
        created = create(store)
        store.join(created.code, "Ada")
    with sqlite3.connect(path) as db:  # as an earlier version left it: no cap, no join counter
        db.execute("ALTER TABLE quizzes DROP COLUMN joined")
        db.execute("ALTER TABLE quizzes DROP COLUMN max_participants")
    with QuizStore(path, make_images(), clock=clock) as store:
        store.join(created.code, "Bob")
        numbers = [p.number for p in store.results(created.code, created.owner_key).participants]
    assert numbers == [1, 2]
