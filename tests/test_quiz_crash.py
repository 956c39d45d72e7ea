"""Crash safety: kill -9 the server right after answers were acknowledged; none may be lost."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from ganlab.quiz import QuizStore

REPO = Path(__file__).resolve().parents[1]

# The "server": creates a quiz, then answers as fast as it can, printing ACK only after
# answer() has returned (the moment a browser would be told "recorded").
CHILD = """
import sys
import numpy as np
from ganlab.quiz import ImagePool, QuizImages, QuizStore

rng = np.random.default_rng(0)
images = QuizImages([
    ImagePool("real", True, rng.integers(0, 256, (300, 8, 8), dtype=np.uint8)),
    ImagePool("gen", False, rng.integers(0, 256, (300, 8, 8), dtype=np.uint8)),
])
store = QuizStore(sys.argv[1], images)
created = store.create_quiz(sources=["gen"], deck_size=100, display_size=28)
print("READY", created.code, created.owner_key, flush=True)
for person in range(1000):
    token = store.join(created.code, f"p{person}").token
    while (trial := store.render_trial(token)) is not None:
        receipt = store.answer(token, trial.trial_number, "real")
        print("ACK", f"p{person}", receipt.trial_number, flush=True)
"""


def test_acknowledged_answers_survive_sigkill(tmp_path):
    path = tmp_path / "quiz.sqlite"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, text=True, env=env, cwd=REPO)
    acked = set()
    try:
        ready = child.stdout.readline().split()
        assert ready and ready[0] == "READY", "the child did not start"
        code, owner_key = ready[1], ready[2]
        while len(acked) < 60:
            line = child.stdout.readline()
            assert line, "the child stopped before it was killed"
            _, name, number = line.split()
            acked.add((name, int(number)))
        os.kill(child.pid, signal.SIGKILL)  # mid-flight: the child is already answering the next trial
        # ACKs the child printed before it died but we had not read yet were acknowledged too.
        for line in child.stdout.read().splitlines(keepends=True):
            if line.startswith("ACK") and line.endswith("\n"):
                _, name, number = line.split()
                acked.add((name, int(number)))
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # A fresh store on the same file (no image pools needed to read results).
    store = QuizStore(path)
    rows = json.loads(store.export_json(code, owner_key))
    stored = {(r["nickname"], r["trial_number"]) for r in rows if r["answer"] is not None}
    assert acked <= stored  # every acknowledged answer is there
    assert len(stored) - len(acked) <= 1  # at most the one in flight when the kill came
    store.close()
