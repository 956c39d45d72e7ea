"""The Explore tab in a real browser (Debian's Chromium through Playwright).

Generators are saved into $GANLAB_CHECKPOINTS while the page is open, as the Train tab would,
then picked after a refresh. With GANLAB_SCREENSHOTS=1 the last test also writes
docs/screenshots/explore.png and evaluate.png (showing the shipped mnist-cdcgan, or the checkpoint
folder in GANLAB_SCREENSHOT_CHECKPOINT).
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest

from ganlab.checkpoints import SHIPPED_DIR

REPO = Path(__file__).resolve().parents[2]


def open_explore(page, name: str) -> None:
    """Open the tab, refresh the list, pick ``name`` and wait until it is loaded."""
    page.get_by_role("tab", name="Explore").click()
    page.locator("#explore-refresh").click()
    page.locator("#explore-checkpoint input").click()
    page.get_by_role("option", name=name, exact=True).click()
    page.wait_for_function("name => document.querySelector('#explore-status').innerText.startsWith(name)", arg=name)
    page.wait_for_selector("#explore-image img")


def image_src(page) -> str:
    return page.locator("#explore-image img").get_attribute("src")


def wait_for_new_image(page, old_src: str) -> str:
    page.wait_for_function(
        "old => { const i = document.querySelector('#explore-image img');"
        " return i && i.src !== old && i.complete && i.naturalWidth > 0; }",
        arg=old_src,
    )
    return image_src(page)


def test_move_a_slider_pick_a_class_and_interpolate(page, save_generator):
    name = save_generator("ui-cdcgan", classes=10, seed=2)
    open_explore(page, name)
    first = image_src(page)
    assert first.startswith("data:image/png;base64,")  # the picture came inside the response: no file to fetch

    slider = page.locator("#explore-pc1 input[type=range]")
    slider.focus()
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    moved = wait_for_new_image(page, first)
    page.wait_for_timeout(300)  # let the last of the five moves land
    moved = image_src(page)
    assert moved.startswith("data:image/png;base64,") and moved != first  # a new picture
    assert page.locator("#explore-pc1 input[type=number]").input_value() == "0.5"

    page.locator("#explore-class").get_by_text("7", exact=True).click()
    wait_for_new_image(page, moved)

    page.locator("#explore-interpolate").click()
    page.wait_for_selector("#explore-interpolation img")
    page.wait_for_selector("#explore-gif img")
    assert page.locator("#explore-gif img").get_attribute("src").endswith(".gif")

    page.locator("#explore-all-classes-button").click()
    page.wait_for_selector("#explore-all-classes img")
    # the picture is shown with crisp pixels
    rendering = page.locator("#explore-image img").evaluate("i => getComputedStyle(i).imageRendering")
    assert rendering == "pixelated"


def test_a_checkpoint_saved_while_the_page_is_open_appears_after_refresh(page, save_generator):
    page.get_by_role("tab", name="Explore").click()
    folder = f"ui-fresh-{uuid.uuid4().hex[:6]}"
    page.locator("#explore-checkpoint input").click()
    assert page.get_by_role("option", name=f"saved/{folder}", exact=True).count() == 0
    page.keyboard.press("Escape")
    name = save_generator(folder, seed=3)  # what the Train tab's "save" does
    open_explore(page, name)
    assert "unconditional" in page.locator("#explore-status").inner_text()
    assert not page.locator("#explore-class").is_visible()


@pytest.mark.skipif(
    os.environ.get("GANLAB_SCREENSHOTS") != "1",
    reason="set GANLAB_SCREENSHOTS=1 to refresh docs/screenshots/explore.png and evaluate.png",
)
def test_screenshots_of_the_explore_and_evaluate_tabs(page):
    source = Path(os.environ.get("GANLAB_SCREENSHOT_CHECKPOINT", SHIPPED_DIR / "mnist-cdcgan"))
    if not (source / "config.json").is_file():
        pytest.skip(f"no checkpoint to show at {source}")
    target = Path(os.environ["GANLAB_CHECKPOINTS"]) / "mnist-cdcgan-demo"
    shutil.copytree(source, target, dirs_exist_ok=True)
    name = "saved/mnist-cdcgan-demo"
    out = REPO / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)

    open_explore(page, name)
    page.locator("#explore-seed input").fill("3")
    page.locator("#explore-use-seed").click()
    page.locator("#explore-class").get_by_text("3", exact=True).click()
    page.locator("#explore-interpolate").click()
    page.wait_for_selector("#explore-gif img")
    page.locator("#explore-all-classes-button").click()
    page.wait_for_selector("#explore-all-classes img")
    page.locator("#explore-neighbours-button").click()
    page.wait_for_selector("#explore-neighbours img", timeout=120_000)
    page.wait_for_timeout(1000)
    page.screenshot(path=str(out / "explore.png"), full_page=True)

    page.get_by_role("tab", name="Evaluate").click()
    page.locator("#evaluate-refresh").click()
    page.locator("#evaluate-checkpoint input").click()
    page.get_by_role("option", name=name, exact=True).click()
    page.locator("#evaluate-n input[type=number]").fill("500")
    page.locator("#evaluate-n input[type=number]").press("Enter")
    page.locator("#evaluate-run").click()
    page.wait_for_selector("#evaluate-download", state="visible", timeout=300_000)
    page.wait_for_timeout(500)
    page.screenshot(path=str(out / "evaluate.png"), full_page=True)
