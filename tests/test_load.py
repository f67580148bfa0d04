"""A bounded load test: several browser sessions use the app at once; no errors allowed.

Reports p50/p95 page time to test-artifacts/load.json (numbers for docs/performance.md).
Skipped without Chromium, required in CI like the other browser test.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time

from tests.browser_support import ARTIFACTS, BROWSER_MARKS, CHROMIUM, CHROMIUM_FLAGS

pytestmark = BROWSER_MARKS
SESSIONS = 4
SECONDS = 30
PATHS = ("/", "/trends", "/turnaround", "/vendors", "/transparency", "/data-health")
DONE = (
    "() => document.querySelector('[data-testid=\"stApp\"]')"
    " && !document.querySelector('[data-testid=\"stStatusWidget\"]')"
)


async def _session(browser, base: str, index: int, deadline: float, times: list[float], errors: list[str]) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    step = index
    while time.monotonic() < deadline:
        path = PATHS[step % len(PATHS)]
        step += 1
        began = time.monotonic()
        try:
            await page.goto(f"{base}{path}?start=2026-05-04&end=2026-05-31")
            await page.wait_for_selector('[data-testid="stMain"] h1', timeout=90_000)
            await page.wait_for_function(DONE, timeout=90_000, polling=200)
            if await page.locator('[data-testid="stException"]').count():
                errors.append(f"exception on {path}")
            times.append(time.monotonic() - began)
        except Exception as exc:  # a timeout or a crash is an error of the run, recorded not raised
            errors.append(f"{path}: {type(exc).__name__}")
    await context.close()


async def _run(base: str) -> tuple[list[float], list[str]]:
    from playwright.async_api import async_playwright

    times: list[float] = []
    errors: list[str] = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        deadline = time.monotonic() + SECONDS
        await asyncio.gather(*[_session(browser, base, i, deadline, times, errors) for i in range(SESSIONS)])
        await browser.close()
    return times, errors


def test_concurrent_sessions_have_no_errors(app_server: str) -> None:
    times, errors = asyncio.run(_run(app_server))
    report = {
        "sessions": SESSIONS,
        "seconds": SECONDS,
        "pages_loaded": len(times),
        "errors": errors,
        "p50_s": round(statistics.median(times), 2) if times else None,
        "p95_s": round(statistics.quantiles(times, n=20)[-1], 2) if len(times) >= 2 else None,
    }
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "load.json").write_text(json.dumps(report, indent=2))
    assert not errors, report
    assert len(times) >= SESSIONS * 2, report
