"""Many participants at once: every answer lands in the database exactly once, on SQLite and PostgreSQL."""

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from sqlalchemy import text

from ganlab.quiz import ImagePool, QuizError, QuizImages, QuizStore

PARTICIPANTS = 50
DECK = 8


def make_images() -> QuizImages:
    rng = np.random.default_rng(0)
    return QuizImages(
        [
            ImagePool("real", True, rng.integers(0, 256, (40, 8, 8), dtype=np.uint8)),
            ImagePool("gen", False, rng.integers(0, 256, (40, 8, 8), dtype=np.uint8)),
        ]
    )


def rows_of(database: str, query: str) -> list[tuple]:
    with QuizStore(database, make_images()) as store, store._engine.connect() as conn:
        return [tuple(row) for row in conn.execute(text(query)).all()]


def test_fifty_threads_answer_concurrently(database):
    store = QuizStore(database, make_images())
    created = store.create_quiz(sources=["gen"], deck_size=DECK, display_size=28)
    start = threading.Barrier(PARTICIPANTS)
    receipts: dict[str, list] = {}

    def participant(number: int) -> None:
        start.wait()  # everyone joins at the same moment
        token = store.join(created.code, f"student{number}").token
        mine = []
        while (trial := store.render_trial(token)) is not None:
            choice = "real" if (number + trial.trial_number) % 2 else "fake"
            # A double click: the same answer sent twice at once from two threads.
            with ThreadPoolExecutor(2) as pair:
                sent = [pair.submit(store.answer, token, trial.trial_number, choice) for _ in range(2)]
                mine += [future.result() for future in sent]
        receipts[f"student{number}"] = mine

    with ThreadPoolExecutor(PARTICIPANTS) as pool:
        for future in [pool.submit(participant, n) for n in range(PARTICIPANTS)]:
            future.result()  # re-raises any error from a thread
    store.close()

    assert len(receipts) == PARTICIPANTS
    for mine in receipts.values():
        assert len(mine) == 2 * DECK and all(r.recorded for r in mine)
        assert sum(r.duplicate for r in mine) == DECK  # one of each pair was the duplicate

    rows = rows_of(
        database,
        "SELECT p.nickname, a.trial_index, a.answer FROM answers a JOIN participants p ON p.id = a.participant_id",
    )
    trial_rows = rows_of(database, "SELECT COUNT(*) FROM trials")[0][0]
    numbers = sorted(n for (n,) in rows_of(database, "SELECT number FROM participants"))
    assert len(rows) == PARTICIPANTS * DECK
    assert len({(name, index) for name, index, _ in rows}) == len(rows)  # exactly once each
    for name, index, answer in rows:
        number = int(name.removeprefix("student"))
        assert answer == ("real" if (number + index + 1) % 2 else "fake")  # the answer that was sent
    assert trial_rows == PARTICIPANTS * DECK
    assert numbers == list(range(1, PARTICIPANTS + 1))  # join numbers: no gaps, no repeats


def test_many_joins_at_once_get_no_false_nickname_taken(database):
    """Participant numbers come from a counter on the quiz's row, taken under its lock: no two joins get
    the same number, so nobody is told a (free) nickname was 'just taken'. Six people also try the same
    nickname at once: exactly one gets it."""
    store = QuizStore(database, make_images())
    created = store.create_quiz(sources=["gen"], deck_size=4, display_size=28, max_participants=None)
    names = [f"kid{n}" for n in range(80)] + ["same"] * 6
    start = threading.Barrier(len(names))

    def join(name: str) -> str:
        start.wait()
        try:
            store.join(created.code, name)
            return "joined"
        except QuizError as error:
            return str(error)

    with ThreadPoolExecutor(len(names)) as pool:
        outcomes = list(pool.map(join, names))
    store.close()
    assert outcomes[:80] == ["joined"] * 80
    assert outcomes[80:].count("joined") == 1 and all("taken" in o for o in outcomes[80:] if o != "joined")
    numbers = sorted(n for (n,) in rows_of(database, "SELECT number FROM participants"))
    assert numbers == list(range(1, 82))


def test_two_stores_on_one_database(database):
    """Two app processes (two stores, two engines) on one database: join on one, answer on the other,
    read the results on either."""
    first, second = QuizStore(database, make_images()), QuizStore(database, make_images())
    created = first.create_quiz(sources=["gen"], deck_size=6, display_size=28)
    token = first.join(created.code, "Ada").token
    for number in range(1, 7):
        store = (first, second)[number % 2]  # alternate: the page may be served by either replica
        trial = store.render_trial(token)
        assert trial.trial_number == number
        assert (second, first)[number % 2].answer(token, number, "real").recorded
    with pytest.raises(QuizError, match="already taken"):
        second.join(created.code, "ada")
    reports = [s.results(created.code, created.owner_key) for s in (first, second)]
    assert reports[0].to_dict() == reports[1].to_dict()
    assert reports[0].n_finished == 1 and reports[0].summary.n_trials == 6
    first.close()
    second.close()
