"""Helpers for AppTest page tests: run the real app shell on one page, read its tiles.

Use with the `app_env` fixture (tests/conftest.py), which points the app at a small demo.
"""

from __future__ import annotations

import datetime as dt

from streamlit.testing.v1 import AppTest

DEMO_END = dt.date(2026, 6, 30)  # last day of the small demo the `data_dir` fixture generates


def _app(page: str) -> None:
    from dashboard.app import main

    main(default_page=page)


def run(page: str = "overview", params: dict[str, str | list[str]] | None = None) -> AppTest:
    """Run the app with `page` selected (its url path) and optional URL query parameters; no exception allowed."""
    at = AppTest.from_function(_app, args=(page,), default_timeout=120)
    for key, value in (params or {}).items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metrics_by_label(at: AppTest) -> dict[str, str]:
    """Every st.metric on the page: label → displayed value."""
    return {m.label: m.value for m in at.metric}
