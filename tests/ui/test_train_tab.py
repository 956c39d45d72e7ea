"""The Train tab in a real Chromium: start a run and watch it, pause/step/stop, presets, saving.

With GANLAB_SCREENSHOTS=1 it also refreshes docs/screenshots/train.png (the Train tab during a run,
for the README); otherwise the screenshot goes to a temporary folder, so a test run leaves the
checkout as it was.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from ganlab.checkpoints import available_generators, user_checkpoint_dir
from ganlab.curves import curves_height

README_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "train.png"


def status_text(page) -> str:
    # The Markdown itself, not Gradio's (hidden) progress tracker next to it.
    return page.locator("#train-status .md").inner_text()


def image_src(page, element: str = "#train-live") -> str | None:
    image = page.locator(f"{element} img")
    return image.get_attribute("src") if image.count() else None


def live_src(page) -> str | None:
    return image_src(page, "#train-live")


def wait_text(page, selector: str, text: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        content = page.locator(selector).inner_text()
        if text in content:
            return content
        time.sleep(0.1)
    raise AssertionError(f"{text!r} did not appear in {selector}: {page.locator(selector).inner_text()!r}")


@pytest.fixture
def train(page):
    yield page
    if "running" in status_text(page):
        page.click("#train-stop")  # do not leave a run training behind the next test
        wait_text(page, "#train-status .md", "stopped")


def test_a_2d_run_updates_the_live_view_and_plots(train, tmp_path):
    page = train
    page.click("#train-start")
    wait_text(page, "#train-status .md", "running")
    seen, curves = set(), set()
    deadline = time.monotonic() + 20
    while (len(seen) < 3 or len(curves) < 3) and time.monotonic() < deadline:
        for found, element in ((seen, "#train-live"), (curves, "#train-curves")):
            if src := image_src(page, element):
                found.add(src)
        time.sleep(0.1)
    assert len(seen) >= 3, "the live view should change while training"
    assert len(curves) >= 3, "the training curves should be redrawn while training"
    assert "steps/s" in status_text(page)
    wait_text(page, "#train-metrics", "Modes covered")
    width = page.locator("#train-curves img").evaluate("image => image.naturalWidth")
    assert width >= 400, "the curves picture should have loaded"
    # The live quality curves (modes covered, high-quality share) are drawn under the three loss panels.
    page.wait_for_function(
        "(h) => { const i = document.querySelector('#train-curves img'); return i && i.naturalHeight >= h; }",
        arg=curves_height(5),
    )
    time.sleep(2.5)  # a few seconds of training make a better picture for the README
    screenshot = README_SCREENSHOT if os.environ.get("GANLAB_SCREENSHOTS") == "1" else tmp_path / "train.png"
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 10_000


def test_pause_step_and_stop(train):
    page = train
    page.click("#train-start")
    wait_text(page, "#train-status .md", "running")
    page.click("#train-pause")
    paused = wait_text(page, "#train-status .md", "paused")
    assert "Step plays one D move and one G move" in paused
    page.click("#train-step")
    note = wait_text(page, "#train-step-note", "G move")
    assert "D move" in note and "D(G(z))" in note
    # The overview graph shows the two moves: D lit with G frozen, then G lit with D frozen, with their numbers.
    graphs = page.locator("#train-graph svg")
    graphs.nth(1).wait_for()
    assert graphs.count() == 2
    d_move, g_move = graphs.nth(0).inner_html(), graphs.nth(1).inner_html()
    assert "D move" in d_move and "G move" in g_move and "frozen" in d_move and "frozen" in g_move
    assert "‖∇‖ –" not in d_move  # the step's gradient norms are on the boxes
    box = page.locator("#train-lr-g input")
    box.click()  # focus first: the step's own updates of the page must be done before we type
    time.sleep(1.0)
    box.fill("0.0005")  # a live change: applied on Enter
    box.press("Enter")
    assert "lr G 0.0005" in wait_text(page, "#train-step-note", "Applied live")
    page.click("#train-stop")
    wait_text(page, "#train-status .md", "stopped")


def test_a_preset_loads_its_settings_and_says_what_to_look_for(train):
    page = train
    page.click("#train-preset-mode-collapse")
    note = wait_text(page, "#train-preset-note", "Mode collapse")
    assert "look for" in note and "modes covered" in note
    deadline = time.monotonic() + 10
    while page.locator("#train-lr-g input").input_value() != "0.005" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert page.locator("#train-lr-g input").input_value() == "0.005"
    assert page.locator("#train-batch-size input").input_value() == "64"


def test_save_a_checkpoint_from_the_browser(train):
    page = train
    page.click("#train-step")  # one move is enough to have a run to save
    wait_text(page, "#train-step-note", "G move")
    page.get_by_text("Save or load a run").click()
    page.locator("#train-save-name textarea, #train-save-name input").first.fill("browser-run")
    page.click("#train-save")
    wait_text(page, "#train-save-note", "mine/browser-run")
    # This browser's own: in its owner's folder, not in the class's list.
    assert "saved/browser-run" not in available_generators()
    assert list(user_checkpoint_dir().glob(".private/*/browser-run/run.json"))
    page.locator("#train-download a").first.wait_for()  # the .zip is offered for download


def test_a_drawing_becomes_the_data(train):
    page = train
    page.locator("#train-dataset input").click()
    page.get_by_role("option", name="Draw your own (2D)").click()
    page.locator("#train-draw button[aria-label='Brush']").click()  # Gradio's editor starts with no tool
    canvas = page.locator("#train-draw canvas").first
    canvas.wait_for()
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.5)
    page.mouse.down()
    for i in range(20):
        page.mouse.move(box["x"] + box["width"] * (0.2 + 0.03 * i), box["y"] + box["height"] * (0.5 - 0.01 * i), steps=3)
    page.mouse.up()
    time.sleep(1.0)  # the editor uploads the drawing
    page.click("#train-start")
    status = wait_text(page, "#train-status .md", "your drawing")
    assert "running" in status


def test_a_page_reload_finds_its_run_again(train):
    page = train
    page.click("#train-start")
    wait_text(page, "#train-status .md", "running")
    page.reload()
    page.wait_for_selector("#ganlab-header")
    # The old page's session is released on disconnect; the new page reattaches it by its browser token.
    status = wait_text(page, "#train-status .md", "running", timeout=40)
    assert "steps/s" in status


def test_an_image_run_shows_samples_and_a_time_lapse(train):
    page = train
    page.locator("#train-dataset input").click()
    page.get_by_role("option", name="MNIST digits").click()
    wait_text(page, "#train-dataset-note", "MNIST train")
    page.locator("#train-batch-size input").fill("16")  # a small, fast run
    page.click("#train-start")
    wait_text(page, "#train-status .md", "running")
    page.locator("#train-live img").wait_for()
    page.get_by_text("Time-lapse (image models)").click()
    wait_text(page, "#train-timelapse-slider", "taken every few seconds")
    page.locator("#train-timelapse-frame img").wait_for()
