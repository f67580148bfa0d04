"""Polars expressions and steps over ticket rows, shared by the rows engine, the rollups' build and the
analyses that read rows: which tickets a filter selects, when a ticket is open, durations, SLA outcomes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl
import polars.selectors as cs

from queries.calc import HOUR_US, keys_of
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


def open_at(instant: dt.datetime) -> pl.Expr:
    """True for tickets open at `instant`: created before it and not closed by then (closed_at empty or later)."""
    return (pl.col("created_at") < instant) & (pl.col("closed_at").is_null() | (pl.col("closed_at") >= instant))


def open_span(boundaries: pl.Series) -> tuple[pl.Expr, pl.Expr]:
    """First and last index of the sorted instants `boundaries` at which each ticket is open (see `open_at`).

    The ticket is open at every boundary between the two; first > last when it is open at none.
    """
    first = pl.lit(boundaries).search_sorted(pl.col("created_at"), side="right").cast(pl.Int64)
    closed_after = pl.lit(boundaries).search_sorted(pl.col("closed_at"), side="right").cast(pl.Int64)
    last = pl.when(pl.col("closed_at").is_null()).then(len(boundaries)).otherwise(closed_after) - 1
    return first.alias("first_open"), last.alias("last_open")


def open_during(filters: Filters) -> pl.Expr:
    """True for tickets in the selected groups that are open at some instant of the selected days or arrive in them."""
    return (
        filters.dimension_expr()
        & (pl.col("created_at") < filters.end_before)
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
    `sla_rule`, `sla_target_seconds`, `sla_measured` and `sla_met_policy` (within target; false when not measured).

    `sla_rule` holds the rule's name, or its entry in `rule_values` (one per rule, e.g. the rollups' codes).
    """
    target = pl.col("sla_target_seconds")
    waited = (pl.col("first_action_at").fill_null(as_of) - pl.col("created_at")).dt.total_microseconds() / 1e6
    acted = pl.col("first_action_at").is_not_null()
    measured = target.is_not_null() & (acted | (waited > target))
    names = pl.Series([rule.name for rule in policy.rules], dtype=pl.String) if rule_values is None else rule_values
    targets = pl.Series([rule.target_seconds for rule in policy.rules], dtype=pl.Float64)
    index = policy.rule_index_expr()  # the rules' conditions are evaluated once per ticket
    return (
        tickets.with_columns(index.alias("_sla_index"))
        .with_columns(
            pl.lit(names).gather(pl.col("_sla_index")).alias("sla_rule"),
            pl.lit(targets).gather(pl.col("_sla_index")).alias("sla_target_seconds"),
        )
        .drop("_sla_index")
        .with_columns(measured.alias("sla_measured"))
        .with_columns((pl.col("sla_measured") & acted & (waited <= target)).alias("sla_met_policy"))
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
