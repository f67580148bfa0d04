"""Polars expressions and steps over ticket rows, shared by the rows engine, the rollups' build and the
analyses that read rows: which tickets a filter selects, when a ticket is open, durations, SLA outcomes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl
import polars.selectors as cs

from queries.calc import HOUR_US, keys_of
from queries.contract import CLOSED_UNKNOWN, TIME_UNKNOWN
from queries.filters import Filters, period_expr
from queries.sla import SlaPolicy


def group(lf: pl.LazyFrame, keys: list[str], aggs: list[pl.Expr]) -> pl.DataFrame:
    """Aggregate by keys (or over everything); counts come out as Int64 so differences can go negative."""
    out = lf.group_by(keys).agg(aggs) if keys else lf.select(aggs)
    return out.with_columns(cs.unsigned_integer().cast(pl.Int64)).collect()


def created_in(tickets: pl.DataFrame, filters: Filters, period: str | None = None) -> pl.LazyFrame:
    """Tickets created in the filters' days and groups, with their `period` when one is asked for."""
    lf = tickets.lazy().filter(filters.in_period("created_at") & filters.dimension_expr())
    return lf.with_columns(period_expr("created_at", period)) if period else lf


def with_time_flags(tickets: pl.LazyFrame) -> pl.LazyFrame:
    """The tickets with every TIME_UNKNOWN flag (false where the frame has none: made without the loader)."""
    have = tickets.collect_schema().names()
    return tickets.with_columns(pl.lit(False).alias(f) for f in TIME_UNKNOWN.values() if f not in have)


def open_at(instant: dt.datetime) -> pl.Expr:
    """True for tickets open at `instant`: created before it and not closed by then (closed_at empty or later). A
    ticket closed at an unknown time (CLOSED_UNKNOWN: its closed_at was quarantined) is never open."""
    closed = pl.col("closed_at")
    return (pl.col("created_at") < instant) & ~pl.col(CLOSED_UNKNOWN) & (closed.is_null() | (closed >= instant))


def open_at_a_day_end(filters: Filters, *, as_read: bool = False) -> pl.Expr:
    """True for tickets open (`open_at`) at the end of some day of the filters' days: created before the last of those
    midnights and not closed before the first, nor on the day they were created. `as_read` leaves out the
    closed-at-an-unknown-time flag, for a predicate on a source's columns as read (a superset: such a closed_at is
    before created_at, so it fails the test on days)."""
    created, closed = pl.col("created_at"), pl.col("closed_at")
    after = (closed >= filters.start_at + dt.timedelta(days=1)) & (closed.dt.date() > created.dt.date())
    times = (created < filters.end_before) & (closed.is_null() | after)
    return times if as_read else times & ~pl.col(CLOSED_UNKNOWN)


def open_span(boundaries: pl.Series) -> tuple[pl.Expr, pl.Expr]:
    """First and last index of the sorted instants `boundaries` at which each ticket is open (see `open_at`).

    The ticket is open at every boundary between the two; first > last when it is open at none.
    """
    first = pl.lit(boundaries).search_sorted(pl.col("created_at"), side="right").cast(pl.Int64)
    closed_after = pl.lit(boundaries).search_sorted(pl.col("closed_at"), side="right").cast(pl.Int64)
    last = pl.when(pl.col("closed_at").is_null()).then(len(boundaries)).otherwise(closed_after) - 1
    return first.alias("first_open"), last.alias("last_open")


def with_oldest_open(
    flow: pl.DataFrame, tickets: pl.LazyFrame, groups: pl.DataFrame, windows: pl.DataFrame, by: list[str]
) -> pl.DataFrame:
    """The backlog `flow` (`_group`, `boundary`, `window_end`, ...) with `oldest_open_hours`: the age at each window end
    of the oldest of `tickets` (valid rows: `created_at`, `closed_at`, the `by` columns) open then in its group
    (`groups`: `_group` and `by`; null when none is open). `tickets` need only hold those open at some window end.

    In a group's tickets sorted by creation, the oldest open at a boundary is the first whose last open boundary
    reaches it (running maximum), provided it was already open then."""
    first_open, last_open = open_span(windows["window_end"])
    spans = tickets.with_columns(first_open, last_open).filter(pl.col("first_open") <= pl.col("last_open")).collect()
    in_groups = (
        spans.join(groups.select("_group", *by), on=by, nulls_equal=True)
        if by
        else spans.with_columns(pl.lit(0, pl.UInt32).alias("_group"))
    )
    reach = (
        in_groups.sort("_group", "created_at")
        .with_columns(pl.col("last_open").cum_max().over("_group").alias("reach"))
        .unique(["_group", "reach"], keep="first", maintain_order=True)
        .select("_group", "reach", "first_open", "created_at")
    )
    return (
        flow.join_asof(
            reach, left_on="boundary", right_on="reach", by="_group", strategy="forward", check_sortedness=False
        )
        .with_columns(
            pl.when(pl.col("first_open") <= pl.col("boundary"))
            .then(duration_hours("created_at", "window_end"))
            .alias("oldest_open_hours")
        )
        .drop("reach", "first_open", "created_at")
    )


def open_during(filters: Filters) -> pl.Expr:
    """True for tickets in the selected groups that are open at some instant of the selected days or arrive in them;
    never one closed at an unknown time (CLOSED_UNKNOWN), which the backlog leaves out."""
    return (
        filters.dimension_expr()
        & (pl.col("created_at") < filters.end_before)
        & ~pl.col(CLOSED_UNKNOWN)
        & (pl.col("closed_at").is_null() | (pl.col("closed_at") >= filters.start_at))
    )


def duration_hours(start: str, end: str) -> pl.Expr:
    """Hours from `start` to `end` (null when either is empty)."""
    return (pl.col(end) - pl.col(start)).dt.total_microseconds() / HOUR_US


def duration_aggs(start: str, end: str, percentiles: Sequence[int] = (50, 90)) -> list[pl.Expr]:
    """tickets, measured, pNN_hours per percentile and mean_hours of end − start (non-negative durations only)."""
    hours = duration_hours(start, end)
    valid = hours.filter(hours >= 0)
    return [
        pl.len().alias("tickets"),
        valid.count().alias("measured"),
        *[valid.quantile(p / 100, interpolation="linear").alias(f"p{p}_hours") for p in percentiles],
        valid.mean().alias("mean_hours"),
    ]


def with_sla_outcome(
    tickets: pl.LazyFrame, policy: SlaPolicy, as_of: dt.datetime, rule_values: pl.Series | None = None
) -> pl.LazyFrame:
    """Each ticket's SLA outcome as the `sla` metric counts it, with `as_of` as the data's "now":

    `sla_rule` (null: no SLA), `sla_target_seconds` (null for a ticket measured against its due_at), `sla_end_at`
    (the time it must reach in time: its first action or its close), `sla_waiting` (an SLA whose end has not come:
    not a ticket whose end time was quarantined, TIME_UNKNOWN), `sla_measured` (ended, or waiting past its target at
    `as_of`) and `sla_met_policy` (in time; false when not measured). A ticket with a due_at is measured against it
    (`policy.due_measure`, group DUE_RULE) whatever the rules say; the others by their first matching rule (its
    `measure` and target).

    `sla_rule` holds the rule's name (`policy.groups`), or its entry in `rule_values` (one per group, e.g. the rollups'
    codes).
    """
    rules = policy.rules
    names = pl.Series(policy.groups, dtype=pl.String) if rule_values is None else rule_values
    targets = pl.Series([*(r.target_seconds for r in rules), None], dtype=pl.Float64)
    closes = pl.Series([*(r.measure == "close" for r in rules), policy.due_measure == "close"], dtype=pl.Boolean)
    due = pl.col("due_at").is_not_null()
    # The group's position in names/targets/closes: the rule's (evaluated once per ticket), or the last for due_at.
    index = pl.when(due).then(pl.lit(len(rules), pl.UInt32)).otherwise(policy.rule_index_expr())
    end = pl.col("sla_end_at")
    in_time = (
        pl.when(due)
        .then(end <= pl.col("due_at"))
        .otherwise((end - pl.col("created_at")).dt.total_microseconds() / 1e6 <= pl.col("sla_target_seconds"))
    )
    closing = pl.lit(closes).gather(pl.col("_sla_index"))
    acted_unknown, closed_unknown = (pl.col(TIME_UNKNOWN[f]) for f in ("first_action_at", "closed_at"))
    unknown = pl.when(closing).then(closed_unknown).otherwise(acted_unknown)
    end_at = pl.when(closing).then(pl.col("closed_at")).otherwise(pl.col("first_action_at"))
    has_sla = pl.col("_sla_index").is_not_null()
    return (
        with_time_flags(tickets)
        .with_columns(index.alias("_sla_index"))
        .with_columns(
            pl.lit(names).gather(pl.col("_sla_index")).alias("sla_rule"),
            pl.lit(targets).gather(pl.col("_sla_index")).alias("sla_target_seconds"),
            end_at.alias("sla_end_at"),
            (has_sla & end_at.is_null() & ~unknown).alias("sla_waiting"),
        )
        .with_columns(
            (has_sla & (end.is_not_null() | (pl.col("sla_waiting") & sla_late(as_of)))).alias("sla_measured"),
            (has_sla & end.is_not_null() & in_time).alias("sla_met_policy"),
        )
        .drop("_sla_index")
    )


def sla_late(as_of: dt.datetime) -> pl.Expr:
    """For a ticket still waiting for its SLA's end: past its due_at, or past its rule's target since created_at,
    at `as_of` (such a ticket counts as measured and missed)."""
    waited = (pl.lit(as_of, pl.Datetime("us")) - pl.col("created_at")).dt.total_microseconds() / 1e6
    return (
        pl.when(pl.col("due_at").is_not_null())
        .then(pl.col("due_at") < pl.lit(as_of, pl.Datetime("us")))
        .otherwise(waited > pl.col("sla_target_seconds"))
    )


def human_decisions(tickets: pl.DataFrame, filters: Filters, period: str | None) -> pl.LazyFrame:
    """Human decisions (not automated) whose first action falls in the period."""
    lf = tickets.lazy().filter(
        filters.in_period("first_action_at") & filters.dimension_expr() & ~pl.col("automated").fill_null(False)
    )
    return lf.with_columns(period_expr("first_action_at", period)) if period else lf


def duration_summary(
    tickets: pl.DataFrame,
    filters: Filters,
    end: str,
    by: Sequence[str] = (),
    period: str | None = None,
    percentiles: Sequence[int] = (50, 90),
) -> pl.DataFrame:
    """Hours from created_at to `end` for tickets created in the period (the time_to_* metrics), any percentiles."""
    keys = keys_of(by, period)
    out = group(created_in(tickets, filters, period), keys, duration_aggs("created_at", end, percentiles))
    return out.sort(keys) if keys else out
