"""The Quiz tab in a real browser (Chromium), and a server killed mid-quiz.

Set GANLAB_SCREENSHOTS=<folder> (e.g. docs/screenshots) to save quiz.png (the participant view on
a phone) and quiz-results.png (the owner's results) there.
"""

from __future__ import annotations

import atexit
import csv
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import pytest

if "GANLAB_QUIZ_POOLS" not in os.environ:
    os.environ["GANLAB_QUIZ_POOLS"] = tempfile.mkdtemp(prefix="ganlab-test-quiz-pools-")
    atexit.register(shutil.rmtree, os.environ["GANLAB_QUIZ_POOLS"], ignore_errors=True)

from ganlab.ui.quiz import PARTICIPANT_VIEW  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
# The outputs gradio_client returns from a participant endpoint (it leaves out layouts and buttons).
CLIENT_VIEW = [n for n in PARTICIPANT_VIEW if n not in ("join_panel", "trial_panel", "done_panel", "answer_a", "answer_b")]
NO_PARTICIPANT = {"code": "", "nickname": "", "token": ""}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def generator(app_url, save_generator):
    return save_generator("quiz-tab", seed=3, noise_dim=8)


def view(out) -> dict:
    return dict(zip(CLIENT_VIEW, out, strict=True))


def shown_trial(page) -> str | None:
    return page.evaluate(
        "() => { const t = document.querySelector('#ganlab-quiz-trial .gq-trial'); return t ? t.dataset.trial : null; }"
    )


def wait_for_trial(page, number: int) -> None:
    page.wait_for_function(
        "(n) => { const t = document.querySelector('#ganlab-quiz-trial .gq-trial'); return t && t.dataset.trial === n; }",
        arg=str(number),
    )


def screenshot(page, name: str) -> None:
    folder = os.environ.get("GANLAB_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name))


def test_owner_creates_a_quiz_a_phone_takes_it_and_the_owner_sees_live_results(page, browser, app_url, generator):
    # -- the owner creates a quiz: practice, feedback and confidence on -------------------------
    page.get_by_role("tab", name="Quiz").click()
    page.get_by_role("tab", name="Run a quiz").click()
    picker = page.locator("#ganlab-quiz-checkpoints")
    picker.wait_for()
    while picker.locator(".token-remove").count():  # start from an empty choice
        picker.locator(".token-remove").first.click()
    picker.locator("input").fill(generator)
    picker.locator("input").press("Enter")
    page.locator("#ganlab-quiz-title input, #ganlab-quiz-title textarea").fill("Browser quiz")
    page.locator("#ganlab-quiz-feedback input").check()
    page.locator("#ganlab-quiz-ask-confidence input").check()
    page.locator("#ganlab-quiz-create").click()
    code_box = page.locator("#ganlab-quiz-created-code")
    code_box.wait_for()
    code = code_box.inner_text().strip()
    key = page.locator("#ganlab-quiz-owner-key :is(input, textarea)").input_value()
    assert len(code) == 6 and len(key) >= 24

    # -- a participant on a phone opens the link, joins and answers -----------------------------
    phone_context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    phone = phone_context.new_page()
    phone.set_default_timeout(30_000)
    try:
        phone.goto(f"{app_url}/?quiz={code}")
        phone.locator("#ganlab-quiz-code input").wait_for(state="visible")  # the link opened the Quiz tab
        assert phone.locator("#ganlab-quiz-code input").input_value() == code
        phone.locator("#ganlab-quiz-nickname input").fill("Phone")
        phone.locator("#ganlab-quiz-join").click()
        wait_for_trial(phone, 1)
        assert "Some images are real" in phone.locator("#ganlab-quiz-info").inner_text()
        assert "Practice 1 of 4" in phone.locator("#ganlab-quiz-header").inner_text()
        # Large: the image fills the content width, the buttons are big tap targets.
        image = phone.locator("#ganlab-quiz-trial img.gq-image").bounding_box()
        column = phone.locator("#ganlab-quiz-trial").bounding_box()
        assert image["width"] >= column["width"] - 1 and image["width"] >= 300
        for button in ("#ganlab-quiz-a", "#ganlab-quiz-b"):
            box = phone.locator(button).bounding_box()
            assert box["height"] >= 60 and box["width"] >= 140
        assert not phone.locator("#ganlab-quiz-keys").is_visible()  # no keyboard hints on a touch screen

        # Without a confidence rating the answer is refused, with a message, and nothing moves.
        phone.locator("#ganlab-quiz-a").click()
        phone.locator(".toast-body").filter(has_text="how sure").first.wait_for()
        assert shown_trial(phone) == "1"

        for number in range(1, 8):  # buttons, with the confidence radio
            phone.locator("#ganlab-quiz-confidence input[type=radio]").nth(number % 5).check()
            phone.locator("#ganlab-quiz-a" if number % 2 else "#ganlab-quiz-b").click()
            wait_for_trial(phone, number + 1)
            header = phone.locator("#ganlab-quiz-header").inner_text()
            assert "Right" in header or "Not this time" in header  # practice (and this quiz) give feedback
        phone.locator("#ganlab-quiz-confidence input[type=radio]").nth(2).check()
        phone.locator("#ganlab-quiz-b").dblclick()  # a double click answers once
        wait_for_trial(phone, 9)
        phone.wait_for_timeout(700)
        assert shown_trial(phone) == "9"
        screenshot(phone, "quiz.png")

        # The owner opens the results while the participant is still going: live updates.
        page.locator("#ganlab-quiz-show-results").click()
        results = page.locator("#ganlab-quiz-results")
        results.wait_for()
        assert "Phone" in results.inner_text() and "0 finished" in results.inner_text()

        phone.reload()  # reload mid-deck: the same deck resumes at the same trial
        wait_for_trial(phone, 9)
        assert "Trial 5 of 20" in phone.locator("#ganlab-quiz-header").inner_text()
        for number in range(9, 25):  # the keyboard: 1-5 for confidence, R = real, F = fake
            phone.keyboard.press(str(1 + number % 5))
            phone.keyboard.press("r" if number % 2 else "f")
            if number < 24:
                wait_for_trial(phone, number + 1)
        done = phone.locator("#ganlab-quiz-done")
        done.wait_for()
        assert "of 20 right" in done.inner_text()
        assert not phone.locator("#ganlab-quiz-trial").is_visible()
    finally:
        phone_context.close()

    # -- the owner's view followed along without a click ---------------------------------------
    page.wait_for_function(
        "() => document.querySelector('#ganlab-quiz-results').innerText.includes('1 finished')", timeout=15_000
    )
    text = results.inner_text()
    for needle in ("Practice, not a measurement", "Fake error", "Real error", "binomial", "Confusion matrix", "Per generator"):
        assert needle in text, needle
    screenshot(page, "quiz-results.png")

    # -- export: the CSV holds every trial of the deck ------------------------------------------
    page.locator("#ganlab-quiz-export").click()
    link = page.locator("#ganlab-quiz-exports a[download$='.csv']").first
    link.wait_for()
    with page.expect_download() as download_info:
        link.click()
    rows = list(csv.DictReader(io.StringIO(Path(download_info.value.path()).read_text(encoding="utf-8"))))
    assert len(rows) == 24 and {r["nickname"] for r in rows} == {"Phone"}
    assert all(r["answer"] in ("real", "fake") for r in rows)
    assert [int(r["trial_number"]) for r in rows] == list(range(1, 25))
    assert sum(r["practice"] == "True" for r in rows) == 4
    assert all(1 <= int(r["confidence"]) <= 5 for r in rows)
    assert max(int(r["serve_count"]) for r in rows) == 2  # trial 9 was served again by the reload


def test_a_timed_pair_quiz_flashes_the_images_then_masks_them_and_arrow_keys_answer(browser, app_url, client, generator):
    out = client.predict("Timed pairs", [generator], 20, "pair", True, False, 0, 0.0, False, "", 300, api_name="/quiz_create")
    code = out[-2]
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    # Note every image the trial view ever holds, to look for it in the page after the exposure.
    context.add_init_script(
        "window.__seen = new Set(); new MutationObserver(() => document.querySelectorAll("
        "'img.gq-image').forEach((i) => window.__seen.add(i.src))).observe(document, "
        "{subtree: true, childList: true, attributes: true});"
    )
    phone = context.new_page()
    phone.set_default_timeout(30_000)
    try:
        phone.goto(f"{app_url}/?quiz={code}")
        phone.locator("#ganlab-quiz-nickname input").fill("Quick")
        phone.locator("#ganlab-quiz-join").click()
        wait_for_trial(phone, 1)
        assert phone.locator("#ganlab-quiz-a").inner_text() == "Left is real"
        images = phone.locator("#ganlab-quiz-trial img.gq-image")
        assert images.count() == 2
        phone.wait_for_selector("#ganlab-quiz-trial .gq-trial.gq-masked")
        shown, masked = phone.evaluate("[window.ganlabQuiz.shownAt, window.ganlabQuiz.maskedAt]")
        assert 490 <= masked - shown <= 800  # 500 ms at first; a frame or a few of slack on a busy machine
        assert phone.locator("#ganlab-quiz-trial img.gq-mask").count() == 2
        assert phone.locator("#ganlab-quiz-trial img.gq-mask").first.is_visible()
        # The images were removed, not covered: their bytes are nowhere in the page any more.
        left_behind = phone.evaluate(
            "() => { const page = document.documentElement.outerHTML; const seen = [...window.__seen]; "
            "return [seen.length, seen.filter((src) => page.includes(src.slice(src.length / 2, src.length / 2 + 400)))"
            ".length, document.querySelectorAll('#ganlab-quiz-trial img.gq-image').length]; }"
        )
        assert left_behind == [2, 0, 0]
        phone.keyboard.press("ArrowLeft")
        wait_for_trial(phone, 2)
        phone.keyboard.press("ArrowRight")
        wait_for_trial(phone, 3)
        phone.keyboard.press("r")  # not an answer key in pair mode
        phone.wait_for_timeout(500)
        assert shown_trial(phone) == "3"
    finally:
        context.close()


# ---------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_app(port: int, env: dict, log: Path) -> subprocess.Popen:
    command = [sys.executable, "-c", f"from ganlab.ui.app import launch; launch(server_port={port}, quiet=True)"]
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)
    deadline = time.time() + 180
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the app exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/config", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    process.kill()
    raise RuntimeError("the app did not start within 3 minutes")


def test_a_killed_server_loses_no_acknowledged_answer_and_the_participant_resumes(tmp_path, save_generator):
    from gradio_client import Client

    checkpoints = tmp_path / "checkpoints"
    save_generator("crash", seed=4, noise_dim=8, root=checkpoints)
    env = {
        **os.environ,
        "GANLAB_QUIZ_DB": str(tmp_path / "quiz.sqlite"),
        "GANLAB_CHECKPOINTS": str(checkpoints),
        "GANLAB_QUIZ_POOLS": str(tmp_path / "pools"),
        "GRADIO_TEMP_DIR": str(tmp_path / "gradio"),
        "TMPDIR": str(tmp_path),  # a killed server leaves its temporary folders here, not in /tmp
        "GANLAB_OFFLINE": "1",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "NO_PROXY": "localhost,127.0.0.1",
    }
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_app(port, env, tmp_path / "server.log")
    try:
        client = Client(url, analytics_enabled=False, verbose=False)
        out = client.predict(
            "Crash", ["saved/crash"], 50, "single", False, False, 0, 0.0, False, "", 300, api_name="/quiz_create"
        )
        code, key = out[-2], out[-1]
        joined = view(client.predict(code, "Kim", "", NO_PARTICIPANT, api_name="/quiz_join"))
        saved, number, trial_id = joined["saved"], joined["trial_number"], joined["trial_id"]
        acknowledged: list[tuple[int, str]] = []

        def answer_flat_out() -> None:
            nonlocal number, trial_id
            try:
                for i in range(50):
                    label = ["Real", "Fake"][i % 2]
                    out = view(client.predict(label, number, trial_id, None, None, saved, api_name="/quiz_answer"))
                    acknowledged.append((int(number), label.lower()))
                    number, trial_id = out["trial_number"], out["trial_id"]
            except Exception:
                return  # the server died under us

        worker = threading.Thread(target=answer_flat_out, daemon=True)
        worker.start()
        deadline = time.time() + 60
        while len(acknowledged) < 6 and time.time() < deadline:
            time.sleep(0.01)
        os.kill(server.pid, signal.SIGKILL)  # no shutdown, no flush: the process is simply gone
        server.wait()
        worker.join(timeout=30)
        client.close()
        assert len(acknowledged) >= 6
    finally:
        if server.poll() is None:
            server.kill()

    server = start_app(port, env, tmp_path / "server.log")  # same database, same pools
    try:
        client = Client(url, analytics_enabled=False, verbose=False)
        files = client.predict(code, key, api_name="/quiz_export")
        path = next(str(f) for f in files if str(f).endswith(".csv"))
        rows = list(csv.DictReader(open(path, encoding="utf-8")))
        stored = [(int(r["trial_number"]), r["answer"]) for r in rows if r["answer"]]
        # Every acknowledged answer is there; at most one more (committed, its reply lost in the kill).
        assert stored[: len(acknowledged)] == acknowledged
        assert len(acknowledged) <= len(stored) <= len(acknowledged) + 1
        resumed = view(client.predict(code, "Kim", "", saved, api_name="/quiz_join"))
        assert resumed["trial_number"] == len(stored) + 1 and resumed["saved"]["token"] == saved["token"]
        after = view(
            client.predict("Real", resumed["trial_number"], resumed["trial_id"], None, None, saved, api_name="/quiz_answer")
        )
        assert after["trial_number"] == len(stored) + 2
        client.close()
    finally:
        server.kill()
        server.wait()
