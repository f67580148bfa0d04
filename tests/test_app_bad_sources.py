"""Bad extracts in the dashboard: the CLI's clear message in an error panel (file, column, fix), never a traceback;
other pages keep working; the source is read again once it is fixed. Each case runs on ticket rows and, with
BELLWETHER_ROLLUP_ROWS=1, on the rolled-up path (which reads Parquet footers before validating)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from tests.apptest import metrics_by_label, run

pytestmark = pytest.mark.usefixtures("app_env")


@pytest.fixture(params=["rows", "rollups"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "rollups":
        monkeypatch.setenv("BELLWETHER_ROLLUP_ROWS", "1")  # every source counts as large
    return request.param


def tickets(n: int = 40, **columns) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "ticket_id": [f"t{i}" for i in range(n)],
            "created_at": [dt.datetime(2026, 1, 1 + i % 28, 10) for i in range(n)],
            **columns,
        }
    )


def _zero_byte(src: Path, env: pytest.MonkeyPatch) -> str:
    (src / "tickets").mkdir()
    tickets().write_parquet(src / "tickets" / "a.parquet")
    (src / "tickets" / "b.parquet").write_bytes(b"")
    return "b.parquet"


def _truncated(src: Path, env: pytest.MonkeyPatch) -> str:
    tickets(4000).write_parquet(src / "full.parquet")
    data = (src / "full.parquet").read_bytes()
    (src / "full.parquet").unlink()
    (src / "tickets.parquet").write_bytes(data[: len(data) // 2])
    return "tickets.parquet"


def _list_column(src: Path, env: pytest.MonkeyPatch) -> str:
    tickets(2, market=[["DE"], ["FR"]]).write_parquet(src / "tickets.parquet")
    return "tickets.market"


def _vendor_conflict(src: Path, env: pytest.MonkeyPatch) -> str:
    (src / "tickets" / "vendor=acme").mkdir(parents=True)
    tickets(2, vendor=["acme", "other"]).write_parquet(src / "tickets" / "vendor=acme" / "p.parquet")
    return "vendor=acme"


def _multibyte_separator(src: Path, env: pytest.MonkeyPatch) -> str:
    (src / "tickets.csv").write_text("ticket_id¦created_at\na¦2026-01-01\n", encoding="utf-8")
    (src.parent / "m.toml").write_text('[tickets]\nseparator = "¦"\n', encoding="utf-8")
    env.setenv("BELLWETHER_MAPPING", str(src.parent / "m.toml"))
    return "separator"


def _bad_datetime_format(src: Path, env: pytest.MonkeyPatch) -> str:
    (src / "tickets.csv").write_text("ticket_id,created_at\na,01/01/2026 10:00\n")
    (src.parent / "m.toml").write_text('[tickets]\ndatetime_format = "%d/%m/%Y %Q"\n')
    env.setenv("BELLWETHER_MAPPING", str(src.parent / "m.toml"))
    return "datetime_format"


CASES: dict[str, Callable[[Path, pytest.MonkeyPatch], str]] = {
    "zero-byte": _zero_byte,
    "truncated": _truncated,
    "list-column": _list_column,
    "vendor-conflict": _vendor_conflict,
    "multibyte-separator": _multibyte_separator,
    "datetime-format": _bad_datetime_format,
}


@pytest.mark.parametrize("case", CASES)
def test_a_bad_source_shows_an_error_panel_naming_it(case, path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    src = tmp_path / "extracts"
    src.mkdir()
    monkeypatch.setenv("BELLWETHER_SOURCE", str(src))
    named = CASES[case](src, monkeypatch)
    at = run("overview", {"src": "extracts"})  # run() fails on any exception
    panel = at.error[0].value
    assert named in panel and "Fix:" in panel and "Traceback" not in panel


def test_other_pages_keep_working_and_a_fixed_source_is_read_again(path, tmp_path: Path, monkeypatch):
    src = tmp_path / "extracts"
    src.mkdir()
    monkeypatch.setenv("BELLWETHER_SOURCE", str(src))
    _truncated(src, monkeypatch)
    at = run("benchmark", {"src": "extracts"})
    assert not at.error and at.get("plotly_chart")  # the public benchmark does not need the source
    at = run("overview", {"src": "extracts", "start": "2026-01-01", "end": "2026-01-28"})
    assert "tickets.parquet" in at.error[0].value
    tickets(40).write_parquet(src / "tickets.parquet")  # re-exported: the same session reads it again
    at.run()
    assert not at.exception and not at.error
    assert metrics_by_label(at)["Tickets received"] == "40"


def test_sentinel_dates_are_rejected_and_shown_on_data_health(path, tmp_path: Path, monkeypatch):
    (tmp_path / "tickets.csv").write_text(
        "ticket_id,created_at\na,2026-01-05 10:00:00\nb,9999-12-31\nc,2026-01-06 10:00:00\n"
    )
    monkeypatch.setenv("BELLWETHER_SOURCE", str(tmp_path))
    overview = run("overview", {"src": "extracts"})
    assert overview.query_params["end"] == "2026-01-06"
    at = run("data-health", {"src": "extracts"})
    rejected = at.dataframe[1].value
    assert dict(zip(rejected["reason"], rejected["rows"], strict=True)) == {"created_at out of range": 1}


def test_a_row_in_the_future_is_flagged_and_does_not_move_the_default_period(path, tmp_path: Path, monkeypatch):
    (tmp_path / "tickets.csv").write_text(
        "ticket_id,created_at\n" + "".join(f"t{i},2026-01-{1 + i:02d} 10:00:00\n" for i in range(20)) + "x,2031-01-01\n"
    )
    monkeypatch.setenv("BELLWETHER_SOURCE", str(tmp_path))
    overview = run("overview", {"src": "extracts"})
    assert overview.query_params["end"] == "2026-01-20"
    at = run("data-health", {"src": "extracts"})
    tickets_row = at.dataframe[0].value.iloc[0]
    assert tickets_row["rows_in_future"] == 1 and tickets_row["rows_loaded"] == 21
    assert tickets_row["latest"] == "2026-01-20 10:00:00" and tickets_row["age_hours"] > 0
    assert any("later than their file was written" in w.value for w in at.warning)
