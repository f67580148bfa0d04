"""Data health figures: freshness of timestamp and date tables, rejected rows by reason."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from queries.analyses.health import rejected_rows, table_health
from queries.sources.dataset import load_dataset


def test_freshness_counts_a_date_table_as_complete_at_the_end_of_its_day(tmp_path: Path):
    (tmp_path / "tickets.csv").write_text("ticket_id,created_at\n1,2026-01-09 18:00:00\n2,2026-01-09 06:00:00\n")
    (tmp_path / "platform_metrics.csv").write_text("date,market,dau\n2026-01-09,US,100\n")
    health = table_health(load_dataset(tmp_path), now=dt.datetime(2026, 1, 10, 6, 0))
    age = dict(zip(health["table"], health["age_hours"], strict=True))
    assert age == {"tickets": 12.0, "platform_metrics": 6.0}  # the 9th ended at midnight, 6 h before now


def test_rejected_rows_table(tmp_path: Path):
    (tmp_path / "tickets.csv").write_text("ticket_id,created_at\n1,2026-01-09\n2,yesterday\n3,never\n")
    rejected = rejected_rows(load_dataset(tmp_path))
    assert rejected.select("table", "reason", "rows").row(0) == ("tickets", "unparseable created_at", 2)
    assert rejected["share_of_read"][0] == 2 / 3 and "row 2" in rejected["examples"][0]
    assert rejected.schema["rows"] == pl.Int64


def test_a_row_in_the_future_is_counted_and_leaves_the_age_positive(tmp_path: Path):
    (tmp_path / "tickets.csv").write_text(
        "ticket_id,created_at,closed_at\n1,2025-06-01 10:00:00,\n2,2025-06-02 10:00:00,2031-01-01 00:00:00\n"
        "3,2031-01-01 00:00:00,\n"
    )
    now = dt.datetime(2025, 6, 3, 10, 0)
    health = table_health(load_dataset(tmp_path), now=now).row(0, named=True)
    assert health["rows_in_future"] == 2 and health["rows_loaded"] == 3 and health["rows_rejected"] == 0
    assert health["latest"] == "2025-06-02 10:00:00" and health["age_hours"] == 24.0
