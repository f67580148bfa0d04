"""The one protocol every engine implements, and what the engines share.

An engine answers metric questions for one source: `RowsEngine` from ticket rows held in memory
(Polars), `RollupsEngine` from daily rollups of large extracts, `SqlEngine` inside a warehouse
(SQLAlchemy Core). Callers never ask which one they have: they ask `can` (None, or the sentence
saying why not) and call the same methods. `queries.engines.engine_for` picks the engine of a source.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Protocol

import polars as pl

from queries.calc import HOUR_US, complete_periods, dau_keys_of, keys_of, per_million_dau
from queries.contract import TICKETS
from queries.definitions import METRICS
from queries.filters import DIMENSIONS, Filters, period_expr
from queries.frames import group, open_at_a_day_end, with_sla_outcome, with_time_flags
from queries.histogram import bucket_expr
from queries.sla import SlaPolicy

SPLIT_DECISIONS = ("violating", "non_violating")  # the human decisions vendors are compared on (`decision_counts`)
SLOT_MINUTES = 30  # the arrival profile's slots (`arrivals`): 48 half hours of a UTC day, 0 = 00:00–00:30
ARRIVALS_SCHEMA: dict[str, pl.DataType] = {"day": pl.Date(), "slot": pl.Int16(), "tickets": pl.Int64()}
# Durations counted in the histograms' buckets (`duration_buckets`, queries.histogram: seconds, 4 % wide)
DURATION_ENDS = ("first_action_at", "closed_at")  # time to first action, time to close (from created_at)
DURATION_BUCKETS_SCHEMA: dict[str, pl.DataType] = {"bucket": pl.Int32(), "tickets": pl.Int64()}
# What `open_tickets` gives of each open ticket: enough for its age, its views so far and its groups.
OPEN_TICKET_COLUMNS = ("ticket_id", "created_at", "first_action_at", "closed_at", "views_before_action", "queue")
OPEN_TICKETS_SCHEMA = {c: TICKETS.schema[c] for c in (*OPEN_TICKET_COLUMNS, *DIMENSIONS)}
VIEWS_WAITING_SCHEMA: dict[str, pl.DataType] = {"views_sum": pl.Int64(), "waited_hours": pl.Float64()}
# The policy's SLA outcome against the source's own flag (`sla_flags`), over tickets that carry one.
SLA_FLAGS_SCHEMA: dict[str, pl.DataType] = dict.fromkeys(
    ("flagged", "compared", "met_ours", "met_source", "disagree"), pl.Int64()
)
QUEUE_REVIEWS_SCHEMA: dict[str, pl.DataType] = {
    "queue": pl.String(),
    "reviews": pl.Int64(),
    "handle_sum_seconds": pl.Float64(),
}


class Implementations(dict):
    """An engine's metric implementations by metric name, registered where each is defined:

    IMPLEMENTATIONS = Implementations()

    @IMPLEMENTATIONS.of("volume")
    def _volume(source, filters, by, period) -> pl.DataFrame: ...
    """

    def of(self, *metrics: str) -> Callable[[Callable[..., pl.DataFrame]], Callable[..., pl.DataFrame]]:
        """A decorator registering the function as the implementation of `metrics`."""

        def register(implementation: Callable[..., pl.DataFrame]) -> Callable[..., pl.DataFrame]:
            for metric in metrics:
                if metric not in METRICS or metric in self:
                    raise ValueError(f"{metric!r} is not a metric, or is registered twice")
                self[metric] = implementation
            return implementation

        return register


class Engine(Protocol):
    """What every engine answers. `summarize` returns the metric's frame as the engine computes it (group
    columns, then the metric's measures); `queries.metrics.summarize` adds every empty period and sorts."""

    caption: str | None  # how the source is served, for the sidebar (None: nothing to say)
    rows_why: str  # why ticket rows are not held ("" when they are), for the parts of pages that need them
    rows_fix: str  # what to do to get them
    declined_note: str | None  # why a percentile can be missing although tickets were measured
    group_columns: tuple[str, ...]  # the columns metrics can be grouped by (tickets fields, the source's own)
    own_dimensions: tuple[str, ...]  # the source's own dimensions ([tickets.dimensions]) it filters and groups by

    def has(self, table: str, *fields: str) -> bool: ...

    def captioned(self, tickets: int) -> tuple[str | None, str]:
        """`caption` and `rows_why` as they read for a source of `tickets` valid tickets (a vendor's scope)."""
        ...

    def can(self, metric: str, by: Sequence[str] = ()) -> str | None:
        """None when the engine can answer `metric` grouped by `by`; otherwise what is missing, for people."""
        ...

    def refusal(self, metric: str, by: Sequence[str] = ()) -> str | None:
        """Why the engine does not answer `metric` grouped by `by` at all (`summarize` raises it), or None."""
        ...

    def summarize(
        self, metric: str, filters: Filters, by: list[str], period: str | None, sla_policy: SlaPolicy | None
    ) -> pl.DataFrame:
        """The metric's frame as computed; `sla_policy` None: config/sla.toml (rollups: the one they were built
        with)."""
        ...

    def distinct_values(self, column: str) -> list[str]:
        """Sorted distinct values of a ticket dimension."""
        ...

    def created_range(self) -> tuple[dt.date, dt.date] | None:
        """First and last day with valid tickets, up to the newest created_at not in the future."""
        ...

    def small_table(self, name: str) -> pl.DataFrame | None:
        """The valid rows of a small table (events, staffing, platform_metrics, qa_reviews); None without it."""
        ...

    def as_of(self, filters: Filters | None = None) -> dt.datetime:
        """The data's "now": its newest ticket timestamp that is not in the future (of the tickets in the filters'
        groups when given; their days are not used)."""
        ...

    def groupable(self, column: str) -> bool:
        """True when metrics can be grouped by this tickets column."""
        ...

    def rows(self, table: str) -> pl.DataFrame | None:
        """The table's valid rows when the engine holds them in memory; None when it keeps aggregates only."""
        ...

    def reviewed_tickets(self, filters: Filters, columns: Sequence[str]) -> pl.DataFrame:
        """`ticket_id` and `columns` (ticket dimensions) of valid tickets: at least every ticket with a QA review in
        the filters' days, for the QA reviews' dimensions taken from their ticket."""
        ...

    def decision_counts(self, filters: Filters, by: Sequence[str]) -> pl.DataFrame:
        """Human (not automated) decisions of tickets created in the filters' days and groups that are violating or
        not (SPLIT_DECISIONS), by `by`: `decisions` and `violating` (Int64)."""
        ...

    def arrivals(self, filters: Filters) -> pl.DataFrame | None:
        """Tickets created in the filters' days and groups per UTC day and half-hour slot of created_at
        (ARRIVALS_SCHEMA, sorted, empty slots left out); None when the engine cannot honour the filters."""
        ...

    def duration_buckets(
        self, filters: Filters, end: str, by: Sequence[str], period: str | None
    ) -> pl.DataFrame | None:
        """Tickets created in the filters' days and groups whose created_at → `end` (DURATION_ENDS) is measured (not
        negative), per group of `by`, period and duration bucket (queries.histogram's, over seconds): `by`, `period`
        when asked, then DURATION_BUCKETS_SCHEMA, sorted, empty buckets left out; None when the engine cannot honour
        the filters."""
        ...

    def open_tickets(self, filters: Filters) -> pl.DataFrame:
        """Valid tickets in the filters' groups open at the end of some day of the filters' days (frames.open_at one of
        those midnights; never one closed at an unknown time): OPEN_TICKETS_SCHEMA (null where the source lacks a
        field), sorted by created_at and ticket_id. Open tickets are few, so every engine gives them."""
        ...

    def views_while_waiting(self, filters: Filters, by: Sequence[str]) -> pl.DataFrame:
        """Over actioned tickets created in the filters' days and groups with views_before_action, by `by`: their views
        (`views_sum`) and hours from created_at to first action (`waited_hours`), VIEWS_WAITING_SCHEMA, sorted."""
        ...

    def sla_flags(self, filters: Filters, policy: SlaPolicy | None) -> pl.DataFrame:
        """One row (SLA_FLAGS_SCHEMA) over tickets created in the filters' days and groups with the source's own
        `sla_met`: `flagged` such tickets, `compared` those the policy measures, among those `met_ours` and `met_source`
        (met by the policy, by the flag) and `disagree` (met by one only). `policy` as for `summarize`'s sla."""
        ...

    def queue_reviews(self, filters: Filters) -> pl.DataFrame | None:
        """Human decisions with a handle time whose first action falls in the filters' days and groups, by queue
        (QUEUE_REVIEWS_SCHEMA, sorted by queue): `reviews` and their `handle_sum_seconds`; None when the engine
        cannot honour the filters."""
        ...


def slot_expr(column: str) -> pl.Expr:
    """The half-hour slot (0–47, Int16) of a Datetime column."""
    ts = pl.col(column)
    return (ts.dt.hour().cast(pl.Int16) * 2 + ts.dt.minute().cast(pl.Int16) // SLOT_MINUTES).alias("slot")


def arrival_counts(tickets: pl.LazyFrame) -> pl.DataFrame:
    """Tickets per day and half-hour slot of their created_at (ARRIVALS_SCHEMA, sorted)."""
    keys = [pl.col("created_at").dt.date().alias("day"), slot_expr("created_at")]
    return tickets.group_by(keys).agg(pl.len().alias("tickets")).sort("day", "slot").collect().cast(ARRIVALS_SCHEMA)


def duration_bucket_counts(tickets: pl.LazyFrame, end: str, keys: list[str]) -> pl.DataFrame:
    """The measured tickets' counts per `keys` and duration bucket of created_at → `end` (see `duration_buckets`)."""
    if end not in DURATION_ENDS:
        raise ValueError(f"durations end at {' or '.join(DURATION_ENDS)}, not {end!r}")
    us = (pl.col(end) - pl.col("created_at")).dt.total_microseconds()
    measured = tickets.filter(us >= 0).with_columns(bucket_expr(us / 1_000_000).alias("bucket"))
    out = group(measured, [*keys, "bucket"], [pl.len().alias("tickets")])
    return out.cast(DURATION_BUCKETS_SCHEMA).sort([*keys, "bucket"])


def open_ticket_rows(tickets: pl.DataFrame, filters: Filters) -> pl.DataFrame:
    """The `open_tickets` among these valid ticket rows (see the Engine's `open_tickets`)."""
    open_ = open_at_a_day_end(filters) & filters.dimension_expr()
    absent = [pl.lit(None, dtype).alias(c) for c, dtype in OPEN_TICKETS_SCHEMA.items() if c not in tickets.columns]
    lf = with_time_flags(tickets.lazy()).filter(open_).with_columns(absent)
    return lf.select(list(OPEN_TICKETS_SCHEMA)).sort("created_at", "ticket_id").collect()


def views_waiting_rows(tickets: pl.LazyFrame, by: list[str]) -> pl.DataFrame:
    """`views_while_waiting` over these (created in the period, in the groups) ticket rows."""
    acted = tickets.filter(pl.col("first_action_at").is_not_null() & pl.col("views_before_action").is_not_null())
    hours = (pl.col("first_action_at") - pl.col("created_at")).dt.total_microseconds() / HOUR_US
    aggs = [pl.col("views_before_action").sum().alias("views_sum"), hours.sum().alias("waited_hours")]
    return group(acted, by, aggs).cast(VIEWS_WAITING_SCHEMA).sort(by)


def sla_flag_rows(tickets: pl.LazyFrame, policy: SlaPolicy, as_of: dt.datetime) -> pl.DataFrame:
    """`sla_flags` over these (created in the period, in the groups) ticket rows, with `as_of` as the data's now."""
    flagged = with_sla_outcome(tickets.filter(pl.col("sla_met").is_not_null()), policy, as_of)
    measured, met = pl.col("sla_measured"), pl.col("sla_met_policy")
    counts = [
        pl.len().alias("flagged"),
        measured.sum().alias("compared"),
        met.sum().alias("met_ours"),
        (measured & pl.col("sla_met")).sum().alias("met_source"),
        (measured & (met != pl.col("sla_met"))).sum().alias("disagree"),
    ]
    return group(flagged, [], counts).cast(SLA_FLAGS_SCHEMA)


class EngineBase:
    """What the engines share: the inputs check behind `can`, grouping, per 1M DAU from ticket counts."""

    caption: str | None = None
    rows_why: str = ""
    rows_fix: str = ""
    declined_note: str | None = None
    metrics: tuple[str, ...] = tuple(METRICS)  # the metrics this engine implements
    unsupported: str = ""  # what to say of a metric it does not implement
    groupings: tuple[str, ...] = tuple(TICKETS.names)  # the tickets columns metrics can be grouped by
    ungrouped: str = "it is not a tickets field"  # why another column cannot group

    def __init__(self, source) -> None:
        self.source = source

    @property
    def reports(self) -> dict:
        return self.source.reports

    @property
    def own_dimensions(self) -> tuple[str, ...]:
        """The source's own dimensions ([tickets.dimensions]) this engine filters and groups by."""
        report = self.reports.get("tickets")
        return report.dimensions if report is not None else ()

    @property
    def group_columns(self) -> tuple[str, ...]:
        """Every column metrics can be grouped by here: the tickets fields, then the source's own dimensions."""
        return (*self.groupings, *self.own_dimensions)

    def has(self, table: str, *fields: str) -> bool:
        return self.source.has(table, *fields)

    def captioned(self, tickets: int) -> tuple[str | None, str]:
        return self.caption, self.rows_why

    def refusal(self, metric: str, by: Sequence[str] = ()) -> str | None:
        label = METRICS[metric].label
        if metric not in self.metrics:
            return f"{label} {self.unsupported}"
        ungroupable = [b for b in by if not self.groups_by(metric, b)]
        if ungroupable:
            allowed = METRICS[metric].groups
            outside = allowed is not None and not set(ungroupable) <= set(allowed)  # the metric's limit, not ours
            why = f"it groups by {', '.join(allowed)} only" if outside else self.ungrouped
            return f"{label} cannot be grouped by {', '.join(ungroupable)}: {why}."
        return None

    def groups_by(self, metric: str, column: str) -> bool:
        """True when `metric` can be grouped by `column` here (sla also by its rule, `sla_rule`); a column the
        source does not provide groups everything as one empty group."""
        allowed = METRICS[metric].groups
        in_metric = allowed is None or column in allowed
        own = allowed is None and column in self.own_dimensions
        return (metric == "sla" and column == "sla_rule") or (in_metric and column in self.groupings) or own

    def can(self, metric: str, by: Sequence[str] = ()) -> str | None:
        refused = self.refusal(metric, by)
        if refused:
            return refused
        label = METRICS[metric].label
        for table, needed in METRICS[metric].needs:
            if table not in self.reports:
                return f"{label} needs the {table} table; add {table}.parquet/.csv or map it."
            absent = [f for f in needed if not self.has(table, f)]
            if absent:
                return f"{label} needs {table}.{', '.join(absent)}; map it under [{table}.columns]."
        return None

    def groupable(self, column: str) -> bool:
        return (self.has("tickets", column) and column in self.groupings) or column in self.own_dimensions

    def rows(self, table: str) -> pl.DataFrame | None:
        return None

    def summarize(
        self, metric: str, filters: Filters, by: list[str], period: str | None, sla_policy: SlaPolicy | None
    ) -> pl.DataFrame:
        raise NotImplementedError

    def small_table(self, name: str) -> pl.DataFrame | None:
        raise NotImplementedError

    def per_million_dau(self, filters: Filters, by: list[str], period: str | None) -> pl.DataFrame:
        """Tickets (every period, as `summarize` gives them) over the DAU of the platform_metrics table."""
        keys = keys_of(by, period)
        tickets = complete_periods(self.summarize("volume", filters, by, period, None), "volume", filters, by, period)
        dau = (
            self.small_table("platform_metrics")
            .lazy()
            .filter(
                (pl.col("date") >= filters.start) & (pl.col("date") <= filters.end) & filters.dimension_expr(["market"])
            )
        )
        if period:
            dau = dau.with_columns(period_expr("date", period))
        dau_keys = dau_keys_of(keys)
        return per_million_dau(tickets, group(dau, dau_keys, [pl.col("dau").sum().alias("dau_days")]), dau_keys)
