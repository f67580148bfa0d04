"""The whole app in a real headless Chromium over a running Streamlit server (see tests/browser_support.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser_support import ARTIFACTS, BROWSER_MARKS, CHROMIUM, CHROMIUM_FLAGS

pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        yield b
        b.close()


def _wait_until_done(page) -> None:
    """Wait for the app to finish running: the app is there and no 'running' status widget remains."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=60_000)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=120_000, polling=250
    )
    page.wait_for_timeout(300)


def _tiles(page) -> dict[str, str]:
    """The KPI tiles, label → value, once all ten have rendered."""
    page.wait_for_function("() => document.querySelectorAll('[data-testid=\"stMetric\"]').length >= 10", timeout=60_000)
    _wait_until_done(page)
    out = {}
    for tile in page.locator('[data-testid="stMetric"]').all():
        label = tile.locator('[data-testid="stMetricLabel"]').inner_text().strip()
        out[label] = tile.locator('[data-testid="stMetricValue"]').inner_text().strip()
    return out


def test_every_page_renders_and_a_copied_url_reproduces_the_view(app_server: str, browser) -> None:
    server = app_server
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1500, "height": 1300})
    page.goto(f"{server}/")
    _wait_until_done(page)
    page.wait_for_selector('[data-testid="stMetric"]', timeout=60_000)
    assert page.locator('[data-testid="stException"]').count() == 0
    tiles = _tiles(page)
    assert len(tiles) == 10 and "Tickets received" in tiles
    assert page.locator(".js-plotly-plot").count() >= 2
    page.screenshot(path=str(ARTIFACTS / "overview.png"), full_page=True)

    # Every page from the navigation.
    page.get_by_role("link", name="Forecast & capacity").click()
    page.wait_for_selector("text=How good were past forecasts", timeout=120_000)
    _wait_until_done(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator(".js-plotly-plot").count() >= 2
    page.screenshot(path=str(ARTIFACTS / "forecast.png"), full_page=True)
    page.get_by_role("tab", name="Demand vs supply").click()
    page.wait_for_selector("text=Required vs supplied FTE", timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "forecast-capacity.png"), full_page=True)

    for name, marker, shot in (
        ("Trends & spikes", "text=Volume over time", "trends"),
        ("Turnaround & SLA", "text=Time to first action per day", "turnaround"),
        ("Vendors & quality", "text=Capacity and throughput", "vendors"),
        ("Transparency pack", "text=Actions by policy domain", "transparency"),
        ("Public benchmark", "text=Reporting gaps", "benchmark"),
    ):
        page.get_by_role("link", name=name).click()
        page.wait_for_selector(marker, timeout=120_000)
        _wait_until_done(page)
        assert page.locator('[data-testid="stException"]').count() == 0, name
        page.screenshot(path=str(ARTIFACTS / f"{shot}.png"), full_page=True)
        if shot == "transparency":  # an export downloads for real, neutralised for spreadsheets
            with page.expect_download(timeout=60_000) as download:
                page.get_by_role("button", name="Download CSV").click()
            exported = Path(download.value.path()).read_text(encoding="utf-8")
            assert exported.startswith("section,group,figure,value,unit,definition,period")

    page.get_by_role("link", name="Data health").click()
    page.wait_for_selector("text=Rejected rows", timeout=60_000)
    _wait_until_done(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert "/data-health" in page.url and "start=" in page.url
    page.screenshot(path=str(ARTIFACTS / "data-health.png"), full_page=True)

    # A link with filters reproduces the same figures in a fresh page.
    view = f"{server}/?start=2026-05-04&end=2026-05-31&market=DE"
    page.goto(view)
    _wait_until_done(page)
    page.wait_for_selector('[data-testid="stMetric"]', timeout=60_000)
    first = _tiles(page)
    assert "/overview?" in page.url and "market=DE" in page.url  # the root forwards to the page's own address
    other = browser.new_page(viewport={"width": 1500, "height": 1300})
    other.goto(page.url)  # a link straight to /overview opens it (no "Page not found")
    _wait_until_done(other)
    other.wait_for_selector('[data-testid="stMetric"]', timeout=60_000)
    assert "Page not found" not in other.inner_text("body")
    assert _tiles(other) == first
    assert first["Tickets received"] != tiles["Tickets received"]
    other.close()
    page.close()
