"""The Compare tab: two runs side by side, through the API and in a real Chromium. With
GANLAB_SCREENSHOTS=1 the browser test also refreshes docs/screenshots/compare.png for the README."""

from __future__ import annotations

import os
import time
from pathlib import Path

from gradio_client import Client


def wait_for(client: Client, condition, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.predict(api_name="/compare_status")
        if condition(status):
            return status
        time.sleep(0.2)
    raise AssertionError(f"not reached: {status}")


def test_a_lesson_trains_two_runs_that_differ_in_one_setting(app_url):
    client = Client(app_url, analytics_enabled=False, verbose=False)
    try:
        description, _ = client.predict("Minimax vs non-saturating loss", "ring8", api_name="/compare_start")
        assert "loss" in description and "minimax" in description and "nonsaturating" in description
        both = wait_for(client, lambda s: s["a"].get("step", 0) > 5 and s["b"].get("step", 0) > 5)
        a, b = both["a"]["config"], both["b"]["config"]
        assert a["loss"] == "minimax" and b["loss"] == "nonsaturating"
        assert {k: v for k, v in a.items() if k != "loss"} == {k: v for k, v in b.items() if k != "loss"}
        outputs = client.predict(api_name="/compare_stop")
        assert "stopped" in outputs[2] and "stopped" in outputs[3]  # both status lines
        assert outputs[6] is not None  # both runs' curves, drawn
        stopped = client.predict(api_name="/compare_status")
        assert stopped["a"]["status"] == stopped["b"]["status"] == "stopped"
    finally:
        client.close()


README_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "compare.png"


def test_the_compare_tab_shows_both_runs_in_the_browser(page, tmp_path):
    page.get_by_role("tab", name="Compare").click()
    page.click("#compare-start")
    for element in ("#compare-view-a img", "#compare-view-b img", "#compare-curves img"):
        page.locator(element).wait_for(timeout=30_000)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and "step" not in page.locator("#compare-status-b").inner_text():
        time.sleep(0.2)
    assert "step" in page.locator("#compare-status-a").inner_text()
    assert "step" in page.locator("#compare-status-b").inner_text()
    if os.environ.get("GANLAB_SCREENSHOTS") == "1":
        time.sleep(4)  # a few seconds of both runs make a better picture for the README
    screenshot = README_SCREENSHOT if os.environ.get("GANLAB_SCREENSHOTS") == "1" else tmp_path / "compare.png"
    page.locator("#compare-curves img").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 10_000
    page.click("#compare-stop")
