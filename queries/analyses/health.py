"""Data health: what each table holds, how fresh it is, what was rejected, quarantined or read in a time zone."""

from __future__ import annotations

import datetime as dt
import difflib
import json
import re
from collections.abc import Callable
from pathlib import Path

import polars as pl

from queries.contract import TABLES, Kind
from queries.sources.dataset import Dataset
from queries.sources.validation import Quarantine, TableReport, UnknownValues

NO_TIMEZONE = "no time zone given: read as UTC"

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
    "time_zone": pl.String,
}
FIELD_SCHEMA = {
    "table": pl.String,
    "field": pl.String,
    "reason": pl.String,
    "rows": pl.Int64,
    "share_of_loaded": pl.Float64,
    "examples": pl.String,
}


def table_health(ds: Dataset, now: dt.datetime) -> pl.DataFrame:
    """One row per table: rows read/loaded/rejected/in the future, freshness (latest value, age in hours at `now`).

    A date-grained table's latest day counts as complete at its end, so its age runs from the next midnight.
    Timestamps later than their file was written (rows_in_future) do not count as the latest value. `time_zone`:
    the zone times without an offset were read in (NO_TIMEZONE when none was given); null for tables of dates.
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
                "time_zone": _time_zone(r),
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


def quarantined_fields(ds: Dataset) -> pl.DataFrame:
    """One row per table × field × reason of the optional fields set to null (the rows kept): count, share of
    the rows loaded, examples."""
    return _per_field(ds, lambda r: r.quarantined)


def time_adjustments(ds: Dataset) -> pl.DataFrame:
    """One row per table × field × way a wall-clock time was read where it is not one instant (DST), as
    `quarantined_fields`."""
    return _per_field(ds, lambda r: r.adjusted)


def _per_field(ds: Dataset, counted: Callable[[TableReport], tuple[Quarantine, ...]]) -> pl.DataFrame:
    rows = [
        {
            "table": r.table,
            "field": q.field,
            "reason": q.reason,
            "rows": q.rows,
            "share_of_loaded": q.rows / r.rows_loaded if r.rows_loaded else None,
            "examples": " | ".join(q.examples),
        }
        for r in ds.reports.values()
        for q in counted(r)
    ]
    return pl.DataFrame(rows, schema=FIELD_SCHEMA)


def values_block(table: str, unknown: UnknownValues) -> str:
    """A [TABLE.values.FIELD] block for the unknown values, to paste into the mapping file: each maps to the allowed
    value it closely resembles, or to "?" (which the mapping refuses until it is replaced)."""
    lines = [f"[{table}.values.{unknown.field}]  # allowed: {', '.join(unknown.allowed)}"]
    for value, rows in unknown.values:
        key = re.sub(r"[\s-]+", "_", value.strip().lower())
        close = difflib.get_close_matches(key, unknown.allowed, n=1, cutoff=0.8)
        target = json.dumps(close[0] if close else "?")
        note = f"{rows:,} row{'s' if rows != 1 else ''}" + ("; the closest allowed value: check it" if close else "")
        lines.append(f"{json.dumps(value, ensure_ascii=False)} = {target}  # {note}")
    return "\n".join(lines)


def taken_by_name(report: TableReport) -> str | None:
    """The fields matched to a column by name, not by the mapping ("`source` taken from your column `source`"), so
    a surprising automatic match is visible; None when there is none."""
    if not report.taken_by_name:
        return None
    return "; ".join(f"`{f}` taken from your column `{c}`" for f, c in report.taken_by_name)


def _time_zone(report: TableReport) -> str | None:
    if not any(f.kind == Kind.TIMESTAMP for f in TABLES[report.table].fields):
        return None
    return report.timezone or NO_TIMEZONE


def _relative(location: str, source: str) -> str:
    """A table's location relative to the source folder, when it lies inside it."""
    try:
        return str(Path(location).relative_to(source))
    except ValueError:
        return location
