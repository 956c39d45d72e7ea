"""The presenter view of a quiz's live results: through gradio_client, and in Chromium (the owner key
never reaches the page; the numbers change as answers arrive)."""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile

import pytest

if "GANLAB_QUIZ_POOLS" not in os.environ:
    os.environ["GANLAB_QUIZ_POOLS"] = tempfile.mkdtemp(prefix="ganlab-test-quiz-pools-")
    atexit.register(shutil.rmtree, os.environ["GANLAB_QUIZ_POOLS"], ignore_errors=True)

from ganlab.ui.quiz import PARTICIPANT_VIEW  # noqa: E402

NO_PARTICIPANT = {"code": "", "nickname": "", "token": ""}
CLIENT_VIEW = [n for n in PARTICIPANT_VIEW if n not in ("join_panel", "trial_panel", "done_panel", "answer_a", "answer_b")]


@pytest.fixture(scope="module")
def generator(app_url, save_generator):
    return save_generator("quiz-presenter", seed=5, noise_dim=8)


def create(client, generator, title="Projected quiz"):
    out = client.predict(title, [generator], 20, "single", False, False, 0, 0.0, False, "", 300, api_name="/quiz_create")
    return out[-2], out[-1]


def present(client, code, key) -> tuple[str, str, list]:
    """The presenter's numbers and join HTML (found by their classes) and every output the client got."""
    out = list(client.predict(code, key, api_name="/quiz_present"))
    numbers = next(o for o in out if isinstance(o, str) and "gq-present" in o)
    join = next(o for o in out if isinstance(o, str) and "gq-join" in o)
    return numbers, join, out


def tile(numbers: str, name: str) -> str:
    return re.search(rf"<div>{re.escape(name)}</div><div class=\"gq-number\">([^<]*)</div>", numbers).group(1)


def answer_some(client, code, nickname, count):
    v = dict(zip(CLIENT_VIEW, client.predict(code, nickname, "", NO_PARTICIPANT, api_name="/quiz_join"), strict=True))
    for _ in range(count):
        out = client.predict("Real", v["trial_number"], v["trial_id"], None, None, v["saved"], api_name="/quiz_answer")
        v = dict(zip(CLIENT_VIEW, out, strict=True))


def test_the_presenter_shows_the_numbers_and_a_join_qr_code_but_never_the_key(client, generator):
    code, key = create(client, generator)
    numbers, join, out = present(client, code.lower(), key)
    assert not any(key in str(o) for o in out)  # the key box comes back empty
    assert tile(numbers, "Joined") == "0" and tile(numbers, "Answers") == "0"
    assert "HYPE-∞ error" in numbers and "no answers yet" in numbers and code in numbers
    assert f"/quiz/{code}" in join and "<svg" in join

    answer_some(client, code, "Ada", 3)
    answer_some(client, code, "Bo", 2)
    numbers, _, _ = present(client, code, key)
    assert tile(numbers, "Joined") == "2" and tile(numbers, "Answers") == "5"
    error = tile(numbers, "HYPE-∞ error (50% = cannot tell)")
    assert re.fullmatch(r"\d+%", error) and "95% interval" in numbers and "of 5" in numbers
    assert tile(numbers, "Fakes judged real") != "–" or tile(numbers, "Reals judged fake") != "–"

    with pytest.raises(Exception, match="owner key"):
        client.predict(code, "not-the-key", api_name="/quiz_present")


def test_the_projected_page_never_holds_the_key_and_updates_by_itself(page, client, generator):
    code, key = create(client, generator, title="Live on the wall")
    page.get_by_role("tab", name="Quiz").click()
    page.get_by_role("tab", name="Present").click()
    page.locator("#ganlab-quiz-present-code input").fill(code)
    page.locator("#ganlab-quiz-present-key input").fill(key)
    page.locator("#ganlab-quiz-present-start").click()
    page.locator("#ganlab-quiz-present-numbers .gq-present").wait_for()
    page.locator("#ganlab-quiz-present-qr svg").wait_for()
    assert not page.locator("#ganlab-quiz-present-key").is_visible()  # the form is gone from the wall

    def key_anywhere() -> bool:
        values = page.evaluate("() => Array.from(document.querySelectorAll('input, textarea')).map((e) => e.value)")
        return key in page.content() or key in page.url or any(key in value for value in values)

    assert not key_anywhere()
    answered = page.locator("#ganlab-quiz-present-numbers .gq-present").get_attribute("data-answers")
    assert answered == "0"
    answer_some(client, code, "Cy", 4)
    # The timer redraws the numbers once the answers are stored (no click, no reload).
    page.wait_for_function(
        "() => { const p = document.querySelector('#ganlab-quiz-present-numbers .gq-present'); "
        "return p && p.dataset.answers === '4'; }"
    )
    assert "Joined" in page.locator("#ganlab-quiz-present-numbers").inner_text()
    assert not key_anywhere()
    # GANLAB_SCREENSHOTS=<folder> (e.g. docs/screenshots) saves the projected view for the README.
    if folder := os.environ.get("GANLAB_SCREENSHOTS"):
        folder = "docs/screenshots" if folder == "1" else folder
        page.set_viewport_size({"width": 1280, "height": 800})
        page.locator("#ganlab-quiz-present-numbers").scroll_into_view_if_needed()
        page.screenshot(path=os.path.join(folder, "quiz-presenter.png"))
