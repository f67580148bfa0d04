"""Data health: what each table holds, how fresh it is, and what was rejected."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from queries.sources.dataset import Dataset

TABLE_SCHEMA = {
    "table": pl.String,
    "location": pl.String,
    "rows_read": pl.Int64,
    "rows_loaded": pl.Int64,
    "rows_rejected": pl.Int64,
    "rows_superseded": pl.Int64,
    "rows_in_future": pl.Int64,
    "latest": pl.String,
    "age_hours": pl.Float64,
    "not_provided": pl.String,
}


def table_health(ds: Dataset, now: dt.datetime) -> pl.DataFrame:
    """One row per table: rows read/loaded/rejected/in the future, freshness (latest value, age in hours at `now`).

    A date-grained table's latest day counts as complete at its end, so its age runs from the next midnight.
    Timestamps later than their file was written (rows_in_future) do not count as the latest value.
    """
    rows = []
    for r in ds.reports.values():
        latest = r.latest
        as_datetime = (
            latest
            if isinstance(latest, dt.datetime)
            else (
                dt.datetime.combine(latest + dt.timedelta(days=1), dt.time()) if isinstance(latest, dt.date) else None
            )
        )
        rows.append(
            {
                "table": r.table,
                "location": _relative(r.location, ds.source),
                "rows_read": r.rows_read,
                "rows_loaded": r.rows_loaded,
                "rows_rejected": r.rows_rejected,
                "rows_superseded": r.rows_superseded,
                "rows_in_future": r.rows_in_future,
                "latest": latest.isoformat(sep=" ")
                if isinstance(latest, dt.datetime)
                else (latest.isoformat() if latest else None),
                "age_hours": (now - as_datetime).total_seconds() / 3600 if as_datetime else None,
                "not_provided": ", ".join(r.missing_fields),
            }
        )
    return pl.DataFrame(rows, schema=TABLE_SCHEMA)


def rejected_rows(ds: Dataset) -> pl.DataFrame:
    """One row per table × rejection reason, with the count, the share of rows read and examples."""
    rows = [
        {
            "table": r.table,
            "reason": rej.reason,
            "rows": rej.rows,
            "share_of_read": rej.rows / r.rows_read if r.rows_read else None,
            "examples": " | ".join(rej.examples),
        }
        for r in ds.reports.values()
        for rej in r.rejections
    ]
    schema = {
        "table": pl.String,
        "reason": pl.String,
        "rows": pl.Int64,
        "share_of_read": pl.Float64,
        "examples": pl.String,
    }
    return pl.DataFrame(rows, schema=schema)


def _relative(location: str, source: str) -> str:
    """A table's location relative to the source folder, when it lies inside it."""
    try:
        return str(Path(location).relative_to(source))
    except ValueError:
        return location
