"""Vendor scope, enforced in the engine: a source as a vendor's user may see it, on every kind of source.

`ScopedSource` wraps a source (rows, rollups or a warehouse) and `ScopedEngine` wraps its engine: every `Filters`
an engine method receives is restricted to the vendor, and everything else the engine tells (distinct values, the
small tables, the days with tickets, the validation reports, captions) is of that vendor's rows only. Platform-wide
tables (daily active users, events that name no vendor) stay whole. Nothing falls through to the inner engine
unscoped: a method of the Engine protocol that this class does not define is an AttributeError, and
tests/test_access_aggregates.py fails on it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import cached_property

import polars as pl

from queries.contract import TABLES, TIME_RANGE, Kind
from queries.engines.base import Engine
from queries.filters import Filters
from queries.sources.validation import TableReport

NO_VENDOR = "\uffff"  # no text holds it (a Unicode noncharacter): the vendor of filters selecting other vendors only
ALL_TIME = Filters(TIME_RANGE[0].date(), TIME_RANGE[1].date())  # every day a valid ticket can have


class ScopedSource:
    """A source restricted to one vendor's rows; `engine_for` gives its ScopedEngine over the source's own engine.

    Caches key it by `signature` (`<signature>:<vendor>`), like every source. What it restricts once (held rows, small
    tables, the vendor's days with tickets) it keeps: a new signature of the data makes a new ScopedSource."""

    def __init__(self, inner, engine: Engine, vendor: str) -> None:
        self.inner = inner
        self.vendor = vendor
        self.signature = f"{inner.signature}:{vendor}"
        self.source = inner.source
        self.scoped_engine = ScopedEngine(engine, self)
        self._kept: dict[tuple[str, str], pl.DataFrame | None] = {}

    def kept(self, kind: str, name: str, restrict: Callable[[], pl.DataFrame | None]) -> pl.DataFrame | None:
        """`restrict()` the first time this kind of table (`rows`, `small`, `days`) is asked for, then kept."""
        if (kind, name) not in self._kept:
            self._kept[kind, name] = restrict()
        return self._kept[kind, name]

    @cached_property
    def reports(self) -> dict[str, TableReport]:
        """The validation reports of the vendor's rows: their counts and freshness only; no rejected, quarantined or
        unknown values, no row examples and no rows in the future (those are counted over every vendor's rows)."""
        engine = self.scoped_engine
        reports = {}
        for name, report in self.inner.reports.items():
            if name == "tickets":
                rows = int(engine.ticket_days()["tickets"].sum())
                created = engine.created_range()
                latest = created[1] if created else None  # a day: the rollups keep days by vendor, not times
            else:
                table = engine.small_table(name)
                rows = 0 if table is None else table.height
                latest = _scoped_latest(name, table, report.latest)
            reports[name] = replace(
                report,
                rows_read=rows,
                rows_loaded=rows,
                rows_superseded=0,
                rejections=(),
                quarantined=(),
                adjusted=(),
                unknown_values=(),
                location="(scoped)",
                latest=latest,
                rows_in_future=0,
            )
        return reports

    def has(self, table: str, *fields: str) -> bool:
        """True when the vendor has rows in the table and the source provides every named field."""
        report = self.reports.get(table)
        return report is not None and report.provides(*fields)


def _restricted(name: str) -> Callable[..., object]:
    """The inner engine's method `name`, called with every Filters argument restricted to the vendor."""

    def method(self: ScopedEngine, *args, **kwargs):
        args = tuple(self.restrict(a) if isinstance(a, Filters) else a for a in args)
        kwargs = {k: self.restrict(v) if isinstance(v, Filters) else v for k, v in kwargs.items()}
        return getattr(self.inner, name)(*args, **kwargs)

    method.__name__ = name
    method.__doc__ = f"The inner engine's `{name}` for the vendor's tickets only."
    return method


def _inner(name: str) -> property:
    """What the inner engine says of the source's shape (no rows, no values): the same for every vendor."""
    return property(lambda self: getattr(self.inner, name), doc=f"The inner engine's `{name}`.")


class ScopedEngine:
    """The engine of a ScopedSource: the inner engine's answers for the vendor's rows only.

    Adding a method to the Engine protocol: one line here, `_restricted` when its rows are chosen by a Filters
    argument, or a method of its own."""

    def __init__(self, inner: Engine, source: ScopedSource) -> None:
        self.inner = inner
        self.source = source
        self.vendor = source.vendor

    # Answers chosen by filters: the vendor added to the filters.
    summarize = _restricted("summarize")
    decision_counts = _restricted("decision_counts")
    arrivals = _restricted("arrivals")
    queue_reviews = _restricted("queue_reviews")
    duration_buckets = _restricted("duration_buckets")
    open_tickets = _restricted("open_tickets")
    views_while_waiting = _restricted("views_while_waiting")
    sla_flags = _restricted("sla_flags")

    # The source's shape: which metrics, groupings and dimensions; no rows or values in them.
    can = _inner("can")
    refusal = _inner("refusal")
    groupable = _inner("groupable")
    group_columns = _inner("group_columns")
    own_dimensions = _inner("own_dimensions")
    declined_note = _inner("declined_note")
    rows_fix = _inner("rows_fix")

    def restrict(self, filters: Filters) -> Filters:
        """The filters with only the vendor selected (NO_VENDOR when they select other vendors only)."""
        chosen = self.vendor if not filters.vendor or self.vendor in filters.vendor else NO_VENDOR
        return replace(filters, vendor=(chosen,))

    def has(self, table: str, *fields: str) -> bool:
        return self.source.has(table, *fields)

    def as_of(self, filters: Filters | None = None) -> dt.datetime:
        """The newest timestamp of the vendor's tickets that is not in the future."""
        return self.inner.as_of(self.restrict(filters or ALL_TIME))

    def captioned(self, tickets: int) -> tuple[str | None, str]:
        return self.inner.captioned(tickets)

    @property
    def caption(self) -> str | None:
        return self.inner.captioned(self.source.reports["tickets"].rows_loaded)[0]

    @property
    def rows_why(self) -> str:
        return self.inner.captioned(self.source.reports["tickets"].rows_loaded)[1]

    @property
    def reports(self) -> dict[str, TableReport]:
        return self.source.reports

    def ticket_days(self) -> pl.DataFrame:
        """The vendor's valid tickets per created day (`period`, `tickets`), every day a valid ticket can have."""
        return self.source.kept(
            "days", "tickets", lambda: self.summarize("volume", ALL_TIME, [], "day", None).filter(pl.col("tickets") > 0)
        )

    def distinct_values(self, column: str) -> list[str]:
        """The values of the vendor's tickets (vendor: the vendor only, when the source has it)."""
        if column == "vendor":
            return [self.vendor] if self.vendor in self.inner.distinct_values(column) else []
        if not self.inner.groupable(column):  # a column metrics cannot group by (the rollups' queues): no vendor's
            return self.inner.distinct_values(column)
        counts = self.summarize("volume", ALL_TIME, [column], None, None)
        return sorted(counts.filter((pl.col("tickets") > 0) & pl.col(column).is_not_null())[column].to_list())

    def created_range(self) -> tuple[dt.date, dt.date] | None:
        days, last = self.ticket_days(), self.inner.created_range()
        days = days.filter(pl.col("period") <= last[1]) if last else days.clear()
        return None if days.is_empty() else (days["period"].min(), days["period"].max())

    def small_table(self, name: str) -> pl.DataFrame | None:
        return self.source.kept("small", name, lambda: self._restrict_small(name))

    def _restrict_small(self, name: str) -> pl.DataFrame | None:
        """Staffing and QA reviews of the vendor (a review without a vendor through its ticket), events that name no
        vendor or this one; other tables (daily active users) are platform-wide."""
        table = self.inner.small_table(name)
        if table is None or "vendor" not in table.columns:
            return table
        own = pl.col("vendor") == self.vendor
        if name == "qa_reviews":
            # A review counts when QA names the vendor, or, where QA has no vendor, through the reviewed ticket.
            tickets = self.inner.reviewed_tickets(ALL_TIME, ["vendor"]).filter(own)["ticket_id"]
            through_ticket = pl.col("ticket_id").is_in(tickets.implode())
            return table.filter(pl.when(pl.col("vendor").is_null()).then(through_ticket).otherwise(own))
        if name == "events":  # vendor-specific annotations (training, staffing episodes) are that vendor's own
            return table.filter(pl.col("vendor").is_null() | own)
        return table.filter(own)

    def rows(self, table: str) -> pl.DataFrame | None:
        """The vendor's rows where the inner engine holds them: tickets by vendor, the small tables as small_table."""
        return self.source.kept("rows", table, lambda: self._restrict_rows(table))

    def _restrict_rows(self, table: str) -> pl.DataFrame | None:
        rows = self.inner.rows(table)
        if rows is None or table != "tickets":
            return None if rows is None else self.small_table(table)
        return rows.filter(pl.col("vendor") == self.vendor)

    def reviewed_tickets(self, filters: Filters, columns: Sequence[str]) -> pl.DataFrame:
        reviewed = self.inner.reviewed_tickets(self.restrict(filters), list(dict.fromkeys([*columns, "vendor"])))
        return reviewed.filter(pl.col("vendor") == self.vendor).select("ticket_id", *columns)


def _scoped_latest(
    name: str, table: pl.DataFrame | None, latest: dt.datetime | dt.date | None
) -> dt.datetime | dt.date | None:
    """Freshness of the scoped rows: their newest main time up to the whole table's (which leaves out times in
    the future), so it never shows another vendor's latest row."""
    main = next((f.name for f in TABLES[name].fields if f.kind in (Kind.TIMESTAMP, Kind.DATE)), None)
    if table is None or latest is None or main is None or main not in table.columns:
        return None
    return table.get_column(main).filter(table.get_column(main) <= latest).max()
