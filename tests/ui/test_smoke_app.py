def test_app_starts_and_shows_every_tab_and_the_device(page):
    header = page.locator("#ganlab-header").inner_text()
    assert "Running on" in header and ("CPU" in header or "GPU" in header)
    for tab in ("Train", "Explore", "Quiz", "Evaluate"):
        assert page.get_by_role("tab", name=tab).is_visible()
