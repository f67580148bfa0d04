"""What every page needs from a source: extracts in memory (Dataset), large extracts as rollups
(RolledUpSource) or a warehouse (Warehouse)."""

from __future__ import annotations

import datetime as dt

import polars as pl

from queries.dataset import Dataset
from queries.filters import DIMENSIONS
from queries.rolled_up import RolledUpSource
from queries.warehouse import Warehouse

Source = Dataset | RolledUpSource | Warehouse


def created_days(src: Source) -> tuple[dt.date, dt.date] | None:
    """First and last day with valid tickets, up to the newest created_at that is not in the future (the tickets
    report's `latest`: a wrong clock does not move the default period); None when there are none."""
    if isinstance(src, Warehouse | RolledUpSource):
        return src.created_range()
    created = src.tables["tickets"]["created_at"]
    report = src.reports.get("tickets")
    if report is not None:
        created = created.filter(created <= report.latest) if report.latest is not None else created.clear()
    first, last = created.min(), created.max()
    return None if first is None else (first.date(), last.date())


def small_table(src: Source, name: str) -> pl.DataFrame | None:
    """A small table's valid rows (events, staffing, platform_metrics); None when the source lacks it."""
    if isinstance(src, Warehouse):
        return src.read_small(name) if name in src.reports else None
    return src.tables.get(name)


def distinct_values(src: Source, column: str) -> list[str]:
    """Sorted distinct values of a tickets dimension, for the filter bar."""
    if isinstance(src, Warehouse | RolledUpSource):
        return src.distinct_values("tickets", column)
    return src.tables["tickets"].get_column(column).drop_nulls().unique().sort().to_list()


def groupable(src: Source, column: str) -> bool:
    """True when metrics of this source can be grouped by the tickets column: any column it provides, except
    on rollups, which keep the filter dimensions only."""
    return src.has("tickets", column) and (column in DIMENSIONS or not isinstance(src, RolledUpSource))
