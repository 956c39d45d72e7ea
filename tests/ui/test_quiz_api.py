"""The Quiz tab over HTTP: create, join, a whole deck, owner results, exports, errors, and the leak test.

The flows go through ``gradio_client``, as a script or another app would. The leak test speaks
Gradio's queue protocol itself (POST /gradio_api/queue/join, then the SSE stream), because
gradio_client drops some outputs (button updates) before handing them over: we want to inspect
every byte a participant's browser receives.
"""

from __future__ import annotations

import atexit
import base64
import csv
import json
import os
import re
import secrets
import shutil
import struct
import tempfile
import zlib

import httpx
import pytest

# Pools go to a throw-away cache, not ~/.cache (read when the app builds the tab; set before it starts).
if "GANLAB_QUIZ_POOLS" not in os.environ:
    os.environ["GANLAB_QUIZ_POOLS"] = tempfile.mkdtemp(prefix="ganlab-test-quiz-pools-")
    atexit.register(shutil.rmtree, os.environ["GANLAB_QUIZ_POOLS"], ignore_errors=True)

from ganlab.ui.quiz import PARTICIPANT_VIEW  # noqa: E402

NO_PARTICIPANT = {"code": "", "nickname": "", "token": ""}
# Every output of a participant view, as the browser receives it.
RAW_VIEW = list(PARTICIPANT_VIEW)
# gradio_client leaves out layout and button outputs: what remains of a participant view, in order.
CLIENT_VIEW = [n for n in RAW_VIEW if n not in ("join_panel", "trial_panel", "done_panel", "answer_a", "answer_b")]
DATA_URL = re.compile(r"data:image/png;base64,([A-Za-z0-9+/=]+)")


@pytest.fixture(scope="module")
def generators(app_url, save_generator):
    return [save_generator("quiz-api-a", seed=1, noise_dim=8), save_generator("quiz-api-b", seed=2, noise_dim=8)]


def create(
    client,
    generators,
    *,
    deck=20,
    mode="single",
    timed=False,
    feedback=False,
    practice=0,
    qualification=0.0,
    confidence=False,
    title="API quiz",
):
    out = client.predict(
        title, generators, deck, mode, timed, feedback, practice, qualification, confidence, "", 300, api_name="/quiz_create"
    )
    code, key = out[-2], out[-1]
    assert re.fullmatch(r"[A-Z2-9]{6}", code) and len(key) >= 24
    assert code in out[0] and out[1] == key  # the created message shows the code; the key is shown once
    return code, key


def view(out) -> dict:
    return dict(zip(CLIENT_VIEW, out, strict=True))


def join(client, code, nickname, saved=None, resume_key=""):
    return view(client.predict(code, nickname, resume_key, saved or NO_PARTICIPANT, api_name="/quiz_join"))


def answer(client, v, label, confidence=None, client_ms=None, trial_number=None, trial_id=None):
    number = v["trial_number"] if trial_number is None else trial_number
    tid = v["trial_id"] if trial_id is None else trial_id
    return view(client.predict(label, number, tid, confidence, client_ms, v["saved"], api_name="/quiz_answer"))


def export_rows(client, code, key) -> tuple[list[dict], list[dict], list[str]]:
    files = client.predict(code, key, api_name="/quiz_export")
    paths = [f if isinstance(f, str) else f["path"] if isinstance(f, dict) else f.path for f in files]
    csv_path = next(p for p in paths if p.endswith(".csv"))
    json_path = next(p for p in paths if p.endswith(".json"))
    with open(csv_path, newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    with open(json_path, encoding="utf-8") as file:
        records = json.load(file)
    return rows, records, [os.path.basename(p) for p in paths]


# ---------------------------------------------------------------------------------------------
def test_a_whole_deck_through_gradio_client_then_results_and_export(client, generators):
    code, key = create(client, generators, practice=4, feedback=True, confidence=True, title="Class of 2026")
    v = join(client, code, "Ada")
    assert v["saved"]["code"] == code and v["saved"]["nickname"] == "Ada" and len(v["saved"]["token"]) >= 16
    assert "Some images are real" in v["info"] and "Class of 2026" in v["info"]
    assert "Practice 1 of 4" in v["header"] and v["trial_number"] == 1
    labels = ["Real", "Fake"]
    for i in range(24):
        v = answer(client, v, labels[i % 2], confidence=1 + i % 5, client_ms=900 + i)
        if i < 23:
            assert v["trial_number"] == i + 2
            expected = f"Practice {i + 2} of 4" if i + 2 <= 4 else f"Trial {i + 2 - 4} of 20"
            assert expected in v["header"]
            assert "Right" in v["header"] or "Not this time" in v["header"]  # feedback is on
    rows, records, names = export_rows(client, code, key)
    assert sorted(names) == [f"quiz-{code}-trials.csv", f"quiz-{code}-trials.json"]
    assert len(rows) == len(records) == 24
    assert [int(r["trial_number"]) for r in rows] == list(range(1, 25))
    assert all(r["answer"] in ("real", "fake") and r["served"] == "True" for r in rows)
    assert [r["answer"] for r in rows] == ["real", "fake"] * 12
    assert [int(r["confidence"]) for r in rows] == [1 + i % 5 for i in range(24)]
    assert [float(r["client_ms"]) for r in rows] == [900.0 + i for i in range(24)]
    assert sum(r["practice"] == "True" for r in rows) == 4
    scored = [r for r in rows if r["practice"] == "False"]
    correct = sum(r["correct"] == "True" for r in scored)
    assert f"You got {correct} of 20 right" in v["done"]
    fake_sources = {r["source"] for r in scored if r["truth"] == "fake"}
    assert fake_sources and all(s.startswith(("saved-quiz-api-a-", "saved-quiz-api-b-")) for s in fake_sources)

    out = client.predict(code, key, False, False, True, api_name="/quiz_results")
    text, deceptive, doubted = out[0], out[1], out[2]
    accuracy = f"{100 * correct / 20:.1f}%"
    # Feedback was on: the report is practice, and says so.
    for needle in (
        "Practice, not a measurement",
        "Error in practice",
        "Fake error",
        "Real error",
        "binomial",
        "d′",
        "Confusion matrix",
        "Per generator",
        "bootstrap",
        accuracy,
        "Ada",
    ):
        assert needle in text, needle
    assert "gq-gallery" in deceptive or "fooled anyone" in deceptive
    assert "gq-gallery" in doubted or "doubted yet" in doubted
    assert "/gradio_api/file=" not in deceptive + doubted  # gallery images are inline too


def test_two_generators_are_compared_and_timed_quizzes_report_hype_time(client, generators):
    code, key = create(client, generators, mode="pair", timed=True)
    v = join(client, code, "Bea")
    assert 'data-exposure="500"' in v["trial"]  # the staircase starts at 500 ms
    for i in range(20):
        v = answer(client, v, ["Left is real", "Right is real"][i % 2])
    text = client.predict(code, key, False, False, False, api_name="/quiz_results")[0]
    assert "HYPE-time" in text and "Fisher's exact test" in text
    rows, _, _ = export_rows(client, code, key)
    assert {r["answer"] for r in rows} == {"left", "right"} and all(r["exposure_ms"] for r in rows)
    assert len({r["source"] for r in rows}) == 2  # fakes from both checkpoints


def test_bad_input_gets_a_clear_message_and_nothing_is_stored_wrongly(client, generators):
    from gradio_client.exceptions import AppError

    def refused(pattern, fn, *args, **kwargs):
        with pytest.raises(AppError, match=pattern):
            fn(*args, **kwargs)

    code, key = create(client, generators)
    refused("no quiz with code", join, client, "ZZZZZZ", "Cy")
    refused("not a quiz code", join, client, "<script>", "Cy")
    refused("nickname", join, client, code, "x")
    refused("nickname", join, client, code, "=cmd()")
    v = join(client, code, "Cy")
    refused("already taken", join, client, code, "cy")  # someone else with the same nickname
    again = join(client, code, "Cy", saved=v["saved"])  # the same browser: resumes
    assert again["trial_number"] == 1 and again["saved"]["token"] == v["saved"]["token"]

    first = answer(client, v, "Real")
    assert first["trial_number"] == 2
    duplicate = client.predict("Real", 1, v["trial_id"], None, None, v["saved"], api_name="/quiz_answer")
    assert all(value.get("__type__") == "update" and set(value) <= {"__type__", "props"} for value in duplicate)
    refused("already answered", answer, client, v, "Fake")  # double click on the other button
    refused("not the current trial", answer, client, first, "Real", trial_number=5)
    refused("another trial", answer, client, first, "Real", trial_id="not-the-id")
    refused("one of the buttons", answer, client, first, "maybe")
    refused("whole number", answer, client, first, "Real", trial_number=2.5)
    refused("does not ask for a confidence", answer, client, first, "Real", confidence=3)
    refused("client_ms must be between", answer, client, first, "Real", client_ms=-5)
    refused("Join a quiz first", answer, client, {**first, "saved": NO_PARTICIPANT}, "Real")
    refused("not valid", answer, client, {**first, "saved": {**first["saved"], "token": "x" * 30}}, "Real")

    refused("wrong owner key", client.predict, code, "wrong-key", False, False, True, api_name="/quiz_results")
    refused("wrong owner key", client.predict, code, "wrong-key", api_name="/quiz_export")
    refused("wrong owner key", client.predict, code, key[:-1], api_name="/quiz_close")
    client.predict(code, key, api_name="/quiz_close")
    refused("closed", answer, client, first, "Real")
    refused("closed", join, client, code, "Dee")
    client.predict(code, key, api_name="/quiz_reopen")
    second = answer(client, first, "Fake")
    assert second["trial_number"] == 3

    refused(
        "No generator checkpoint named",
        client.predict,
        "t",
        ["saved/nope"],
        20,
        "single",
        False,
        False,
        0,
        0.0,
        False,
        "",
        300,
        api_name="/quiz_create",
    )
    refused(
        "not in the list of choices",
        client.predict,
        "t",
        generators,
        7,
        "single",
        False,
        False,
        0,
        0.0,
        False,
        "",
        300,
        api_name="/quiz_create",
    )
    refused(
        "practice_trials must be a whole number from 0 to 20",
        client.predict,
        "t",
        generators,
        20,
        "single",
        False,
        False,
        2.5,
        0.0,
        False,
        "",
        300,
        api_name="/quiz_create",
    )
    refused(
        "max_participants must be",
        client.predict,
        "t",
        generators,
        20,
        "single",
        False,
        False,
        2,
        0.0,
        False,
        "",
        20000,
        api_name="/quiz_create",
    )

    rows, _, _ = export_rows(client, code, key)
    answered = [(int(r["trial_number"]), r["answer"]) for r in rows if r["answer"]]
    assert answered == [(1, "real"), (2, "fake")]  # exactly the two accepted answers
    assert [r["nickname"] for r in rows].count("Cy") == 20 and "Dee" not in {r["nickname"] for r in rows}


def test_the_owner_can_give_a_participant_a_new_resume_key(client, generators):
    code, key = create(client, generators)
    v = join(client, code, "Eve")
    answer(client, v, "Real")
    text = client.predict(code, key, "Eve", api_name="/quiz_reissue")
    new_key = re.search(r"`([A-Za-z0-9_-]{20,})`", text).group(1)
    moved = join(client, code, "Eve", resume_key=new_key)  # another device: nothing saved in this browser
    assert moved["trial_number"] == 2 and moved["saved"]["token"] == new_key


# ---------------------------------------------------------------------------------------------
# The leak test: everything a participant's browser receives, byte for byte
# ---------------------------------------------------------------------------------------------
class RawSession:
    """One browser session speaking Gradio's queue protocol; keeps every message it receives."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session_hash = secrets.token_hex(8)
        self.http = httpx.Client(timeout=60)
        self.dependencies = {d.get("api_name"): d for d in self.http.get(f"{url}/config").json()["dependencies"]}
        self.received: list[str] = []  # raw text of every completed-event message

    def call(self, api_name: str, *data):
        dependency = self.dependencies[api_name]
        body = {
            "data": list(data),
            "event_data": None,
            "fn_index": dependency["id"],
            "trigger_id": None,
            "session_hash": self.session_hash,
        }
        event_id = self.http.post(f"{self.url}/gradio_api/queue/join", json=body).json()["event_id"]
        with self.http.stream("GET", f"{self.url}/gradio_api/queue/data", params={"session_hash": self.session_hash}) as stream:
            for line in stream.iter_lines():
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed" and message.get("event_id") == event_id:
                    self.received.append(line)
                    if not message.get("success"):
                        raise RuntimeError(message.get("output", {}).get("error") or "the call failed")
                    return message["output"]["data"]
        raise RuntimeError("the stream ended without a result")

    def close(self) -> None:
        self.http.close()


def png_chunks(data: bytes) -> list[bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, at = [], 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        assert struct.unpack(">I", data[at + 8 + length : at + 12 + length])[0] == zlib.crc32(kind + body)
        chunks.append(kind)
        at += 12 + length
    return chunks


def normalise(line: str) -> str:
    """A trial's message with only what may legitimately vary blanked out: the image bytes (of
    fixed length, checked separately), the trial's number, its random id and its exposure (set by
    the staircase from earlier answers), and the queue's own event id and timings."""
    message = json.loads(line[5:])
    data = dict(zip(RAW_VIEW, message["output"]["data"], strict=True))
    data["trial_number"], data["trial_id"] = "N", "ID"
    data["header"] = re.sub(r"\d+", "#", data["header"])
    trial = DATA_URL.sub("data:image/png;base64,IMAGE", data["trial"])
    data["trial"] = re.sub(r'data-(trial|exposure)="\d+"', r'data-\1="#"', trial)
    return json.dumps({"keys": sorted(message), "output_keys": sorted(message["output"]), "data": data}, sort_keys=True)


@pytest.mark.parametrize("mode, timed", [("single", False), ("pair", True)])
def test_nothing_a_participant_receives_tells_real_from_fake(app_url, client, generators, mode, timed):
    code, key = create(client, generators, mode=mode, timed=timed, title="Leak check")
    labels = ["Real", "Fake"] if mode == "single" else ["Left is real", "Right is real"]
    browser = RawSession(app_url)
    try:
        out = dict(zip(RAW_VIEW, browser.call("quiz_join", code, "Leaky", "", NO_PARTICIPANT), strict=True))
        shown = []  # (trial number, trial id, normalised message, image bytes) per trial
        for i in range(20):
            number, trial_id = int(out["trial_number"]), out["trial_id"]
            images = [base64.b64decode(m) for m in DATA_URL.findall(out["trial"])]
            shown.append((number, trial_id, normalise(browser.received[-1]), images))
            data = [labels[i % 2], number, trial_id, None, None, out["saved"]]
            out = dict(zip(RAW_VIEW, browser.call("quiz_answer", *data), strict=True))
        final = browser.received[-1]
    finally:
        browser.close()

    everything = "\n".join(browser.received)
    # No files at all: nothing with a name or a URL that could carry the answer.
    for needle in ("/gradio_api/file=", "file=", '"path"', '"url"', "orig_name", ".png"):
        assert needle not in everything, needle
    # No source, pool or checkpoint name, and no wording of the truth or of feedback.
    for needle in (
        "quiz-api",
        "saved/",
        "heldout",
        "source",
        "pool",
        "checkpoint",
        "✓",
        "✗",
        "Not this time",
        "it was",
        "the real one was",
        "truth",
        'correct"',
    ):
        assert needle not in everything, needle
    # Apart from the first (which carries the instructions), every message that shows a trial is
    # byte-identical once the image bytes, the trial number and its random id are blanked out.
    forms = {message for _, _, message, _ in shown[1:]}
    assert len(forms) == 1, "a trial's message differs in form between trials"
    # Images: identical byte length, minimal PNGs; one per trial (two in pair mode), plus the mask.
    per_trial = 2 if mode == "pair" else 1
    all_images = [image for *_, images in shown for image in images]
    assert {len(images) for *_, images in shown} == {per_trial + (1 if timed else 0)}
    assert len({len(image) for image in all_images}) == 1
    assert all(png_chunks(image) == [b"IHDR", b"IDAT", b"IEND"] for image in all_images)
    # Trial ids: random, all different, same form.
    ids = [trial_id for _, trial_id, _, _ in shown]
    assert len(set(ids)) == 20 and len({len(i) for i in ids}) == 1
    assert all(re.fullmatch(r"[A-Za-z0-9_-]+", i) for i in ids)
    # At the end: only the participant's own score.
    rows, _, _ = export_rows(client, code, key)
    correct = sum(r["correct"] == "True" for r in rows if r["nickname"] == "Leaky")
    assert f"You got {correct} of 20 right" in final
    # The real and the fake trials were really mixed (the test saw both kinds).
    truths = {r["truth"] for r in rows if r["nickname"] == "Leaky"}
    assert truths == ({"real", "fake"} if mode == "single" else {"left", "right"})


def test_feedback_arrives_only_after_the_answer_and_is_about_that_trial(app_url, client, generators):
    code, key = create(client, generators, feedback=True)
    browser = RawSession(app_url)
    try:
        out = dict(zip(RAW_VIEW, browser.call("quiz_join", code, "Fay", "", NO_PARTICIPANT), strict=True))
        assert "it was" not in browser.received[-1]
        told = []
        for i in range(20):
            data = [["Real", "Fake"][i % 2], out["trial_number"], out["trial_id"], None, None, out["saved"]]
            out = dict(zip(RAW_VIEW, browser.call("quiz_answer", *data), strict=True))
            text = out["header"] if i < 19 else out["done"]
            told.append(re.search(r"it was (real|fake)", text).group(1))
    finally:
        browser.close()
    rows, _, _ = export_rows(client, code, key)
    assert told == [r["truth"] for r in rows if r["nickname"] == "Fay"]


def test_quiz_endpoints_stay_out_of_the_api_page_and_run_history(app_url):
    dependencies = httpx.get(f"{app_url}/config").json()["dependencies"]
    quiz = [d for d in dependencies if str(d.get("api_name") or "").startswith("quiz_")]
    assert {d["api_name"] for d in quiz} >= {
        "quiz_create",
        "quiz_join",
        "quiz_answer",
        "quiz_results",
        "quiz_export",
        "quiz_resume",
    }
    # Gradio records runs (server and browser) only for public endpoints.
    assert all(d["api_visibility"] != "public" for d in quiz)
    info = httpx.get(f"{app_url}/gradio_api/info").json()
    assert not [name for name in info.get("named_endpoints", {}) if name.startswith("/quiz_")]
