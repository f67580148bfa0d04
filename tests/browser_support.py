"""Shared by the browser tests: where Chromium is, its flags, and the rule that CI requires it.

Skipped when Chromium is not installed, unless BELLWETHER_REQUIRE_BROWSER=1 (set by .ci/run),
which turns the skip into a failure.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"
# Screenshots of every page and section (tests/test_browser.py): BELLWETHER_ARTIFACTS, else artifacts/screenshots.
SCREENSHOTS = Path(os.environ.get("BELLWETHER_ARTIFACTS") or REPO / "artifacts" / "screenshots")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

if CHROMIUM is None and os.environ.get("BELLWETHER_REQUIRE_BROWSER") == "1":
    raise RuntimeError("BELLWETHER_REQUIRE_BROWSER=1 but Chromium is not installed (apt-get install chromium)")
BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed (apt-get install chromium); CI requires it"),
]
