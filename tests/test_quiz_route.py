"""The lean participant route (ganlab/ui/participant.py) over a real QuizStore: a whole deck, resume,
retries, budgets, and that nothing a participant receives tells real from fake.

The pools make leaks likely, as in test_quiz_leaks.py: real images are noise, fakes are smooth.
"""

from __future__ import annotations

import base64
import io
import json
import re

import numpy as np
import pytest
from PIL import Image
from starlette.applications import Starlette
from starlette.testclient import TestClient

from ganlab.quiz import QuizStore
from ganlab.quiz.limits import JoinRateLimit
from ganlab.ui.participant import MAX_BODY, participant_routes
from tests.test_quiz_leaks import FAKE_A, FAKE_B, FORBIDDEN, LEAK_CASES, REAL, png_chunks, pools

DATA_URL = re.compile(r"data:image/png;base64,([A-Za-z0-9+/=]+)")
TRIAL_KEYS = {"trial_id", "number", "total", "practice", "mode", "images", "exposure_ms", "mask"}
ANSWER_KEYS = {"duplicate", "feedback", "trial", "done"}


@pytest.fixture
def store(tmp_path):
    with QuizStore(tmp_path / "quiz.sqlite", pools((28, 28))) as s:
        yield s


def route_client(store, join_limit=None) -> TestClient:
    app = Starlette(routes=participant_routes(store, join_limit or JoinRateLimit(burst=1000, per_minute=1000)))
    return TestClient(app)


def post(client, path, body, status=200):
    response = client.post(f"/quiz/api/{path}", json=body)
    assert response.status_code == status, response.text
    return response


def play(client, code, nickname, choose=lambda trial, quiz: quiz["choices"][0]):
    """Join and answer the whole deck; returns (join response, answer responses)."""
    joined = post(client, "join", {"code": code, "nickname": nickname})
    data = joined.json()
    token, quiz, trial, responses = data["token"], data["quiz"], data["trial"], []
    while trial is not None:
        body = {"token": token, "trial_id": trial["trial_id"], "number": trial["number"], "answer": choose(trial, quiz)}
        response = post(client, "answer", body)
        responses.append(response)
        trial = response.json()["trial"]
    return joined, responses


def test_a_whole_deck_resume_and_retry(store):
    created = store.create_quiz(sources=[FAKE_A], deck_size=6, practice_trials=1)
    client = route_client(store)
    page = client.get(f"/quiz/{created.code.lower()}")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert client.get("/quiz/NOPE").status_code == 404

    data = post(client, "join", {"code": created.code, "nickname": "Ada"}).json()
    assert data["quiz"]["choices"] == ["real", "fake"] and data["trial"]["number"] == 1 and data["trial"]["practice"]
    token, first = data["token"], data["trial"]
    # A reload resumes at the same trial (served again, counted), with the token alone.
    again = post(client, "resume", {"token": token}).json()
    assert again["trial"]["number"] == 1 and again["trial"]["trial_id"] == first["trial_id"]
    answer = {"token": token, "trial_id": first["trial_id"], "number": 1, "answer": "fake"}
    reply = post(client, "answer", answer).json()
    assert set(reply) == ANSWER_KEYS and reply["feedback"] is not None  # practice always gives feedback
    assert reply["trial"]["number"] == 2 and not reply["duplicate"]
    # A retry of the same answer (a lost reply) is recorded once and serves the current trial again.
    retry = post(client, "answer", answer).json()
    assert retry["duplicate"] and retry["trial"]["trial_id"] == reply["trial"]["trial_id"]
    # A different answer to it, or an answer to a trial not yet shown, is refused with a sentence.
    assert "cannot be changed" in post(client, "answer", {**answer, "answer": "real"}, 400).json()["error"]
    stale = {"token": token, "trial_id": first["trial_id"], "number": 2, "answer": "real"}
    assert "another trial" in post(client, "answer", stale, 400).json()["error"]
    trial = retry["trial"]
    while trial is not None:
        reply = post(
            client, "answer", {"token": token, "trial_id": trial["trial_id"], "number": trial["number"], "answer": "real"}
        )
        trial, done = reply.json()["trial"], reply.json()["done"]
    assert done["nickname"] == "Ada" and done["scored"] == 6 and 0 <= done["correct"] <= 6
    assert post(client, "resume", {"token": token}).json()["done"] == done
    rows = json.loads(store.export_json(created.code, created.owner_key))
    assert [r["answer"] is not None for r in rows] == [True] * 7 and rows[0]["serve_count"] == 2
    # Someone else cannot take the nickname, nor answer without the token.
    assert "already taken" in post(client, "join", {"code": created.code, "nickname": "ada"}, 400).json()["error"]
    assert "not valid" in post(client, "resume", {"token": "x" * 32}, 400).json()["error"]


def test_budgets_and_bad_input(store):
    created = store.create_quiz(sources=[FAKE_A], deck_size=4, max_participants=2)
    client = route_client(store, JoinRateLimit(burst=3, per_minute=1))
    assert "too large" in client.post("/quiz/api/join", content=b"{" + b" " * MAX_BODY + b"}").json()["error"]
    assert client.post("/quiz/api/join", content=b"[1, 2]").status_code == 400
    assert client.post("/quiz/api/join", content=b"not json").json()["error"] == "the request body must be a JSON object"
    assert "nickname must be text" in post(client, "join", {"code": created.code, "nickname": 5}, 400).json()["error"]
    post(client, "join", {"code": created.code, "nickname": "one"})
    post(client, "join", {"code": created.code, "nickname": "two"})
    assert "is full" in post(client, "join", {"code": created.code, "nickname": "three"}, 400).json()["error"]  # the cap
    assert "too many joins" in post(client, "join", {"code": created.code, "nickname": "four"}, 429).json()["error"]
    # An answer that is not one of the quiz's two choices: one clear message, nothing stored.
    token = store.reissue_token(created.code, created.owner_key, "one")
    trial = post(client, "resume", {"token": token}).json()["trial"]
    refused = post(client, "answer", {"token": token, "trial_id": trial["trial_id"], "number": 1, "answer": "maybe"}, 400)
    assert "answer must be" in refused.json()["error"]
    assert json.loads(store.export_json(created.code, created.owner_key))[0]["answer"] is None


def image_bytes(data_url: str) -> bytes:
    return base64.b64decode(data_url.split(",", 1)[1])


@pytest.mark.parametrize("shape,settings", LEAK_CASES)
def test_nothing_the_route_sends_tells_real_from_fake(tmp_path, shape, settings):
    images = pools(shape)
    store = QuizStore(tmp_path / "quiz.sqlite", images)
    created = store.create_quiz(sources=[FAKE_A, FAKE_B], **settings)
    client = route_client(store)
    rng = np.random.default_rng(3)
    seen = []  # (nickname, trial json, response of the request that brought it)
    for person in range(3):
        joined, responses = play(client, created.code, f"person{person}", lambda t, q: q["choices"][rng.integers(2)])
        trial_response = [joined, *responses[:-1]]
        for response in trial_response:
            seen.append((f"person{person}", response.json()["trial"], response))
    truth = {(r["nickname"], r["trial_number"]): r for r in json.loads(store.export_json(created.code, created.owner_key))}
    store.close()

    pngs = [image_bytes(url) for _, trial, _ in seen for url in trial["images"]]
    masks = [image_bytes(trial["mask"]) for _, trial, _ in seen if trial["mask"] is not None]
    # Same byte length for every image and mask; only the critical chunks; the pools' own size and mode.
    assert len({len(png) for png in pngs + masks}) == 1
    assert all(set(png_chunks(png)) == {"IHDR", "IDAT", "IEND"} for png in pngs + masks)
    assert {(Image.open(io.BytesIO(p)).size, Image.open(io.BytesIO(p)).mode) for p in pngs + masks} == {
        ((shape[1], shape[0]), "L" if len(shape) == 2 else "RGB")
    }
    for nickname, trial, response in seen:
        row = truth[(nickname, trial["number"])]
        assert set(trial) == TRIAL_KEYS
        # The pixels are the pool's own, re-encoded by the one pipeline whatever their kind.
        refs = [row["image_a"]] + ([row["image_b"]] if row["image_b"] else [])
        for url, ref in zip(trial["images"], refs, strict=True):
            pool, index = ref.split(":")
            decoded = np.asarray(Image.open(io.BytesIO(image_bytes(url))))
            assert np.array_equal(decoded, images.get(pool).images[int(index)])
        # No text names the truth, a pool or an image id; no header says anything about it either.
        text = DATA_URL.sub("", response.text).lower()
        body = json.loads(DATA_URL.sub("", response.text))
        body.pop("quiz", None)  # the quiz's description (choices, instructions) is the same for everyone
        feedback = body.pop("feedback", None)  # only after an answer to a practice trial, in these quizzes
        assert feedback is None or trial["number"] <= settings.get("practice_trials", 0) + 1
        words = json.dumps(body).lower()
        assert not any(word in words for word in FORBIDDEN), words
        assert not any(ref in text for ref in refs)
        assert response.headers["content-encoding"] == "identity" and response.headers["cache-control"] == "no-store"
        assert set(response.headers) == {
            "content-length",
            "content-type",
            "cache-control",
            "content-encoding",
            "x-content-type-options",
        }
    # Response sizes follow only the positions' digits (and feedback, which this quiz has only on practice).
    sizes: dict[tuple, set[int]] = {}
    for _, trial, response in seen:
        body = response.json()
        if "quiz" in body or body.get("feedback") is not None:
            continue
        key = (len(str(trial["number"])), len(str(trial["exposure_ms"])), body["duplicate"])
        sizes.setdefault(key, set()).add(len(response.content))
    assert sizes and all(len(lengths) == 1 for lengths in sizes.values()), sizes
    assert not any(name in response.text for name in (REAL, FAKE_A, FAKE_B) for _, _, response in seen)


def test_answering_does_the_same_work_for_real_and_fake(store):
    """One transaction per answer, with the same statements whether the next trial is real or fake."""
    from sqlalchemy import event

    created = store.create_quiz(sources=[FAKE_A], deck_size=60)
    client = route_client(store)
    statements: list[str] = []
    event.listen(store._engine, "before_cursor_execute", lambda *args: statements.append(args[2].split()[0]))
    data = post(client, "join", {"code": created.code, "nickname": "counter"}).json()
    token, trial, work = data["token"], data["trial"], []
    while trial is not None:
        statements.clear()
        reply = post(
            client, "answer", {"token": token, "trial_id": trial["trial_id"], "number": trial["number"], "answer": "real"}
        )
        trial = reply.json()["trial"]
        if trial is not None:
            work.append((trial["number"], tuple(statements)))
    truth = {r["trial_number"]: r["truth"] for r in json.loads(store.export_json(created.code, created.owner_key))}
    by_kind = {kind: {sql for number, sql in work if truth[number] == kind} for kind in ("real", "fake")}
    assert len(by_kind["real"]) == 1 and by_kind["real"] == by_kind["fake"]
    assert sum(1 for s in next(iter(by_kind["real"])) if s.upper() in ("BEGIN", "COMMIT")) <= 2  # one transaction
