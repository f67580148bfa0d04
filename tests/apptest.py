"""Helpers for AppTest page tests: run the real app shell on one page, read its tiles.

Use with the `app_env` fixture (tests/conftest.py), which points the app at a small demo.
"""

from __future__ import annotations

import datetime as dt
import json
import re

from streamlit.testing.v1 import AppTest

from queries.display import CATEGORY_FIELDS
from queries.filters import DIMENSIONS

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


WIDGETS = (
    "selectbox",
    "radio",
    "multiselect",
    "select_slider",
    "number_input",
    "slider",
    "segmented_control",
    "toggle",
    "date_input",
)
IDENTIFIER = re.compile(r"[a-z0-9]+(_[a-z0-9]+)+")  # snake_case: a raw identifier, not a word
SELECTION = re.compile(r"[a-z0-9_]+=[a-z0-9_]+")  # "policy_domain=youth_safety": a selection as the CLI writes it
NAME_FIELDS = frozenset(DIMENSIONS) | {"vendor", "site", "platform"}  # codes and proper names: not identifiers


def widget(at: AppTest, key: str):
    """The widget with this key, whatever its kind."""
    return next(w for kind in WIDGETS for w in at.get(kind) if w.key == key)


def link(at: AppTest) -> dict[str, str | list[str]]:
    """The page's URL query parameters, to open a new session on (`run(page, link(at))`)."""
    return dict(at.query_params)


def raw_identifiers_on_screen(at: AppTest) -> list[str]:
    """Table headers, tile labels and category cells that show an identifier (snake_case) instead of words; static
    tables (st.table) in every cell, for identifiers and selections written as the CLI writes them."""
    found = []
    for frame in at.dataframe:
        config = json.loads(frame.proto.columns or "{}")
        name = f"table of {', '.join(frame.value.columns[:3])}"
        for column in frame.value.columns:
            shown = config.get(column, {})
            if shown.get("hidden"):
                continue
            label = shown.get("label", column)
            if "_" in label or IDENTIFIER.fullmatch(label):
                found.append(f"{name}: header {label!r}")
            names = column in NAME_FIELDS and column not in CATEGORY_FIELDS  # shown as the data gives them
            cells = [v for v in frame.value[column] if (isinstance(v, str) and not names) or column in CATEGORY_FIELDS]
            found += [f"{name}: {column} {v!r}" for v in cells if IDENTIFIER.fullmatch(str(v))]
    for frame in at.table:
        name = f"static table of {', '.join(map(str, frame.value.columns[:3]))}"
        found += [f"{name}: header {c!r}" for c in frame.value.columns if "_" in str(c)]
        cells = (str(v) for row in frame.value.itertuples(index=False) for v in row)
        found += [f"{name}: cell {v!r}" for v in cells if IDENTIFIER.fullmatch(v) or SELECTION.search(v)]
    found += [f"tile {m.label!r}" for m in at.metric if "_" in m.label]
    return found
