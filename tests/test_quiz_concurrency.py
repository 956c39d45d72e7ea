"""Many participants at once: every answer lands in the database exactly once."""

import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ganlab.quiz import ImagePool, QuizImages, QuizStore

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


def test_fifty_threads_answer_concurrently(tmp_path):
    path = tmp_path / "quiz.sqlite"
    store = QuizStore(path, make_images())
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

    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT p.nickname, a.trial_index, a.answer FROM answers a JOIN participants p ON p.id = a.participant_id"
        ).fetchall()
        trial_rows = db.execute("SELECT COUNT(*) FROM trials").fetchone()[0]
    assert len(rows) == PARTICIPANTS * DECK
    assert len({(name, index) for name, index, _ in rows}) == len(rows)  # exactly once each
    for name, index, answer in rows:
        number = int(name.removeprefix("student"))
        assert answer == ("real" if (number + index + 1) % 2 else "fake")  # the answer that was sent
    assert trial_rows == PARTICIPANTS * DECK
