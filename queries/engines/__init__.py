"""The engines and the one function that picks a source's engine.

A source is what `queries.sources` reads: extracts held in memory (`Dataset`), large extracts served
from rollups (`RolledUpSource`) or a warehouse (`Warehouse`); `scope(source, vendor)` restricts any of them to one
vendor's rows (`ScopedSource`, enforced by its engine). Everything above this package asks
`engine_for(source)` (or the small helpers below) and never checks which kind of source it has.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl

from queries.engines.base import Engine
from queries.engines.rollups.engine import RollupsEngine
from queries.engines.rollups.source import RolledUpSource
from queries.engines.rows import RowsEngine
from queries.engines.scoped import ScopedSource
from queries.engines.sql import SqlEngine
from queries.filters import Filters
from queries.sla import SlaPolicy
from queries.sources.dataset import Dataset
from queries.sources.warehouse import Warehouse

Source = Dataset | RolledUpSource | Warehouse | ScopedSource


def engine_for(src: Source) -> Engine:
    """The engine that answers for this source: rows in memory, rollups, or SQL in the warehouse (for a vendor's
    scope, wrapped in the engine that restricts every answer to the vendor)."""
    if isinstance(src, ScopedSource):
        return src.scoped_engine
    if isinstance(src, Warehouse):
        return SqlEngine(src)
    if isinstance(src, RolledUpSource):
        return RollupsEngine(src)
    return RowsEngine(src)


def scope(src: Source, vendor: str) -> ScopedSource:
    """The source as a user of `vendor` may see it: every answer, value, small table and report of that vendor's
    rows only (queries.engines.scoped)."""
    return ScopedSource(src, engine_for(src), vendor)


def created_days(src: Source) -> tuple[dt.date, dt.date] | None:
    """First and last day with valid tickets, up to the newest created_at that is not in the future (a wrong
    clock does not move the default period); None when there are none."""
    return engine_for(src).created_range()


def small_table(src: Source, name: str) -> pl.DataFrame | None:
    """A small table's valid rows (events, staffing, platform_metrics, qa_reviews); None when the source lacks it."""
    return engine_for(src).small_table(name)


def distinct_values(src: Source, column: str) -> list[str]:
    """Sorted distinct values of a tickets dimension, for the filter bar."""
    return engine_for(src).distinct_values(column)


def groupable(src: Source, column: str) -> bool:
    """True when metrics of this source can be grouped by the tickets column."""
    return engine_for(src).groupable(column)


def own_dimensions(src: Source) -> tuple[str, ...]:
    """The source's own dimensions ([tickets.dimensions]) its engine filters and groups by."""
    return engine_for(src).own_dimensions


def held_rows(src: Source, table: str = "tickets") -> pl.DataFrame | None:
    """The table's valid rows when the source's engine holds them in memory; None when it keeps aggregates only."""
    return engine_for(src).rows(table)


def reviewed_tickets(src: Source, filters: Filters, columns: Sequence[str]) -> pl.DataFrame:
    """`ticket_id` and `columns` of valid tickets, at least every one QA reviewed in the filters' days (rows held,
    the rollups' side table of reviewed tickets, or a query restricted to them in the warehouse)."""
    return engine_for(src).reviewed_tickets(filters, columns)


def decision_counts(src: Source, filters: Filters, by: Sequence[str]) -> pl.DataFrame:
    """Human violating / non-violating decisions of tickets created in the filters' days by `by`: `decisions`,
    `violating`."""
    return engine_for(src).decision_counts(filters, by)


def arrivals(src: Source, filters: Filters) -> pl.DataFrame | None:
    """Tickets created per UTC day × half-hour slot in the filters' days and groups (`day`, `slot`, `tickets`); None
    when the source's engine cannot honour the filters."""
    return engine_for(src).arrivals(filters)


def duration_buckets(
    src: Source, filters: Filters, end: str, by: Sequence[str] = (), period: str | None = None
) -> pl.DataFrame | None:
    """Measured tickets created in the filters' days and groups per `by`, period and duration bucket of created_at →
    `end` (queries.histogram's buckets over seconds: `bucket`, `tickets`); None when the source's engine cannot
    honour the filters."""
    return engine_for(src).duration_buckets(filters, end, by, period)


def open_tickets(src: Source, filters: Filters) -> pl.DataFrame:
    """Valid tickets in the filters' groups open at the end of some day of the filters' days (ticket_id, created_at,
    first_action_at, closed_at, views_before_action, queue and the filter dimensions), from every engine."""
    return engine_for(src).open_tickets(filters)


def views_while_waiting(src: Source, filters: Filters, by: Sequence[str] = ()) -> pl.DataFrame:
    """Views (`views_sum`) and hours from creation to first action (`waited_hours`) of actioned tickets with views,
    created in the filters' days and groups, by `by`."""
    return engine_for(src).views_while_waiting(filters, by)


def sla_flags(src: Source, filters: Filters, policy: SlaPolicy | None = None) -> pl.DataFrame:
    """One row: tickets created in the filters' days and groups with the source's own sla_met (`flagged`), those the
    policy measures (`compared`), met by the policy (`met_ours`), by the flag (`met_source`), by one only
    (`disagree`)."""
    return engine_for(src).sla_flags(filters, policy)


def queue_reviews(src: Source, filters: Filters) -> pl.DataFrame | None:
    """Human reviews with a handle time by queue, first action in the filters' days and groups (`queue`, `reviews`,
    `handle_sum_seconds`); None when the source's engine cannot honour the filters."""
    return engine_for(src).queue_reviews(filters)
