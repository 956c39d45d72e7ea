"""The quiz's participant route (/quiz/CODE) on the real app: mounted beside Gradio, never compressed,
and the page in Chromium on a phone (join, keys, reload resumes, timed images removed from the page)."""

from __future__ import annotations

import atexit
import base64
import os
import shutil
import tempfile

import httpx
import pytest

if "GANLAB_QUIZ_POOLS" not in os.environ:
    os.environ["GANLAB_QUIZ_POOLS"] = tempfile.mkdtemp(prefix="ganlab-test-quiz-pools-")
    atexit.register(shutil.rmtree, os.environ["GANLAB_QUIZ_POOLS"], ignore_errors=True)

PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def generator(app_url, save_generator):
    return save_generator("quiz-route", seed=4, noise_dim=8)


def create(client, generator, *, mode="single", timed=False, practice=0, confidence=False) -> str:
    out = client.predict(
        "Route quiz", [generator], 20, mode, timed, False, practice, 0.0, confidence, "", 300, api_name="/quiz_create"
    )
    return out[-2]


def test_the_route_is_served_beside_gradio_and_never_compressed(app_url, client, generator):
    code = create(client, generator)
    page = httpx.get(f"{app_url}/quiz/{code}")
    assert page.status_code == 200 and "Spot the fake" in page.text
    assert httpx.get(f"{app_url}/config").status_code == 200  # Gradio's own routes are untouched
    compressing = {"Accept-Encoding": "br, gzip"}
    with httpx.Client(base_url=app_url, headers=compressing) as http:
        joined = http.post("/quiz/api/join", json={"code": code, "nickname": "Curl"})
        assert joined.status_code == 200 and joined.headers["content-encoding"] == "identity"
        token, trial, sizes = joined.json()["token"], joined.json()["trial"], set()
        while trial is not None:
            body = {"token": token, "trial_id": trial["trial_id"], "number": trial["number"], "answer": "real"}
            reply = http.post("/quiz/api/answer", json=body)
            assert reply.status_code == 200 and reply.headers["content-encoding"] == "identity"
            trial = reply.json()["trial"]
            if trial is not None and trial["number"] >= 10:  # same digits: the same size, real or fake
                sizes.add(int(reply.headers["content-length"]))
        assert len(sizes) == 1 and reply.json()["done"]["scored"] == 20
    # The Gradio view knows the same participant: one store, one database (and the nickname is taken there).
    with pytest.raises(Exception, match="already taken"):
        client.predict(code, "Curl", "", {"code": "", "nickname": "", "token": ""}, api_name="/quiz_join")


def test_a_phone_joins_answers_with_taps_and_keys_and_a_reload_resumes(browser, app_url, client, generator):
    code = create(client, generator, practice=2, confidence=True)
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    phone = context.new_page()
    phone.set_default_timeout(30_000)
    shown = lambda: phone.locator("#trial").get_attribute("data-number")  # noqa: E731
    try:
        phone.goto(f"{app_url}/quiz/{code}")
        phone.locator("#nickname").fill("Pocket")
        phone.locator("#nickname").press("Enter")
        phone.wait_for_selector("#trial[data-number='1']")
        assert "Practice 1 of 2" in phone.locator("#header").inner_text()
        image = phone.locator("#trial img").bounding_box()
        assert image["width"] >= 300  # scaled up by the browser, not sent large
        for button in ("#answer-a", "#answer-b"):
            box = phone.locator(button).bounding_box()
            assert box["height"] >= 60 and box["width"] >= 140
        phone.locator("#answer-a").click()  # no confidence yet: refused here, nothing sent
        assert "how sure" in phone.locator("#status").inner_text()
        phone.locator("#confidence button").nth(2).click()
        phone.locator("#answer-b").dblclick()  # a double click answers once
        phone.wait_for_selector("#trial[data-number='2']")
        phone.wait_for_timeout(500)
        assert shown() == "2" and (
            "Right" in phone.locator("#feedback").inner_text() or "Not this" in phone.locator("#feedback").inner_text()
        )
        phone.reload()  # the token is in localStorage: the same deck resumes at the same trial
        phone.wait_for_selector("#trial[data-number='2']")
        if folder := os.environ.get("GANLAB_SCREENSHOTS"):  # e.g. docs/screenshots: the README's phone picture
            folder = "docs/screenshots" if folder == "1" else folder
            phone.screenshot(path=os.path.join(folder, "quiz-phone.png"))
        for number in range(2, 23):  # keys: 1-5 for confidence, R = real, F = fake
            phone.keyboard.press(str(1 + number % 5))
            phone.keyboard.press("r" if number % 2 else "f")
            if number < 22:
                phone.wait_for_selector(f"#trial[data-number='{number + 1}']")
        phone.wait_for_selector("#done-panel:not(.hidden)")
        assert "of 20 right" in phone.locator("#score").inner_text()
    finally:
        context.close()


def test_a_timed_pair_trial_leaves_no_image_in_the_page(browser, app_url, client, generator):
    code = create(client, generator, mode="pair", timed=True)
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    sent = []
    page.on("response", lambda r: sent.append(r.json()) if "/quiz/api/" in r.url and r.ok else None)
    try:
        page.goto(f"{app_url}/quiz/{code}")
        page.locator("#nickname").fill("Flash")
        page.locator("#join-button").click()
        for number in (1, 2):
            page.wait_for_selector(f"#trial[data-number='{number}'] img.mask", state="attached")
            trial = sent[-1]["trial"]
            assert trial["number"] == number and len(trial["images"]) == 2
            html = page.content()
            for url in trial["images"]:
                assert base64.b64decode(url.split(",", 1)[1]) and url not in html  # removed, not hidden
            assert page.locator("#trial img.mask").count() == 2
            page.keyboard.press("ArrowLeft" if number == 1 else "ArrowRight")
        page.wait_for_selector("#trial[data-number='3']")
    finally:
        context.close()
