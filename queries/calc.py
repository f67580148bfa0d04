"""Shared arithmetic below the engines: safe ratios, the period grid, the backlog-flow identity, per-DAU and
per-productive-hour rates. Pure functions of frames and expressions; every engine and analysis uses these
rather than its own copy."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from queries.definitions import METRICS
from queries.filters import PERIODS, Filters
from queries.intervals import wilson_bounds

HOUR_US = 3_600_000_000


def keys_of(by: Sequence[str], period: str | None) -> list[str]:
    """The group columns of a metric's answer: `by`, then `period` when one is asked for."""
    return [*by, *(["period"] if period else [])]


def complete_periods(
    out: pl.DataFrame, metric: str, filters: Filters, by: Sequence[str] = (), period: str | None = None
) -> pl.DataFrame:
    """An engine's answer as `summarize` gives it: every period present (`every_period`), the metric's derived
    measures computed from its counts (`derive`), only its measures, sorted by its keys."""
    zeros = METRICS[metric].zeros
    if period and zeros is not None:
        out = every_period(out, filters, list(by), period, zeros)
    keys = keys_of(by, period)
    out = derive(out, metric).select(*keys, *METRICS[metric].fields)
    return out.sort(keys) if keys else out


def derive(out: pl.DataFrame, metric: str) -> pl.DataFrame:
    """The metric's shares and Wilson bounds (`Metric.shares`, `Metric.intervals`) from the counts an engine
    returned: one computation for every engine."""
    m = METRICS[metric]
    shares = [ratio(numerator, denominator).alias(name) for name, numerator, denominator in m.shares]
    bounds = [e for low, high, k, n in m.intervals for e in wilson_bounds(k, n, names=(low, high))]
    return out.with_columns(*shares, *bounds) if shares or bounds else out


def every_period(out: pl.DataFrame, filters: Filters, by: list[str], period: str, zeros: Sequence[str]) -> pl.DataFrame:
    """The metric frame with a row for every period of the filters × every group it has: a period in which
    a group had nothing gets 0 for the `zeros` measures (counts, sums) and null for the others, so a series
    never joins across empty days. Without `by`, every period is present even when nothing happened at all."""
    periods = period_windows(filters, period).select("period")
    grid = out.select(by).unique().join(periods, how="cross") if by else periods
    full = grid.join(out, on=[*by, "period"], how="left", nulls_equal=True).select(out.columns)
    return full.with_columns(pl.col(zeros).fill_null(0))


def period_windows(filters: Filters, period: str | None) -> pl.DataFrame:
    """The filters' periods, numbered by `boundary` (0, 1, …): `period` (its first day; omitted without a
    period), `window_start` and `window_end` (exclusive), both clipped to the selected days."""
    if period is None:
        windows = pl.DataFrame({"window_start": [filters.start_at], "window_end": [filters.end_before]})
    else:
        first = pl.select(pl.lit(filters.start).dt.truncate(PERIODS[period])).item()
        starts = pl.date_range(first, filters.end, PERIODS[period], eager=True).alias("period")
        windows = pl.DataFrame(starts).with_columns(
            pl.max_horizontal(pl.col("period").cast(pl.Datetime("us")), pl.lit(filters.start_at)).alias("window_start"),
            pl.min_horizontal(
                pl.col("period").dt.offset_by(PERIODS[period]).cast(pl.Datetime("us")), pl.lit(filters.end_before)
            ).alias("window_end"),
        )
    return windows.with_row_index("boundary").with_columns(pl.col("boundary").cast(pl.Int64))


def dau_keys_of(keys: list[str]) -> list[str]:
    """The group keys the platform_metrics table has (market, period): DAU is summed over these."""
    return [k for k in keys if k in ("market", "period")]


def per_million_dau(tickets: pl.DataFrame, dau_sum: pl.DataFrame, dau_keys: list[str]) -> pl.DataFrame:
    """Ticket counts with the summed DAU of their market/period (`dau_days`) and `tickets_per_million_dau`."""
    if dau_keys:
        out = tickets.join(dau_sum, on=dau_keys, how="left")
    else:  # grouped by ticket dimensions only: every group is normalised by the same user base
        out = tickets.with_columns(
            pl.lit(dau_sum["dau_days"][0] if dau_sum.height else None, pl.Int64).alias("dau_days")
        )
    return out.with_columns(
        pl.when(pl.col("dau_days") > 0)
        .then(pl.col("tickets") / pl.col("dau_days") * 1e6)
        .alias("tickets_per_million_dau")
    )


def backlog_flow(
    grid: pl.DataFrame,
    arrivals: pl.DataFrame,
    closures: pl.DataFrame,
    before: pl.DataFrame,
    keys: list[str],
    by: list[str],
) -> pl.DataFrame:
    """The backlog identity on the group × period grid (`_group`, `boundary`): arrivals and closures per period,
    open_before per group, then open_end = open_before + running (arrivals − closures) and open_start."""
    flow = grid
    for part, on in ((arrivals, keys), (closures, keys), (before, by)):
        flow = flow.join(part, on=on, how="left", nulls_equal=True) if on else flow.join(part, how="cross")
    return (
        flow.with_columns(pl.col("arrivals", "closures", "open_before").fill_null(0))
        .sort("_group", "boundary")
        .with_columns(
            (pl.col("open_before") + (pl.col("arrivals") - pl.col("closures")).cum_sum().over("_group")).alias(
                "open_end"
            )
        )
        .with_columns((pl.col("open_end") - pl.col("arrivals") + pl.col("closures")).alias("open_start"))
    )


def per_productive_hour(handled: pl.DataFrame, hours: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Human decisions and staffed productive hours side by side per group (0 where one side has none),
    with `handled_per_productive_hour`."""
    out = (
        handled.join(hours, on=keys, how="full", coalesce=True)
        if keys
        else pl.concat([handled, hours], how="horizontal")
    )
    out = out.with_columns(pl.col("handled").fill_null(0), pl.col("productive_hours").fill_null(0.0))
    return out.with_columns(ratio("handled", "productive_hours").alias("handled_per_productive_hour"))


def ratio(numerator: str | pl.Expr, denominator: str | pl.Expr) -> pl.Expr:
    """numerator / denominator (column names or expressions), null where the denominator is not positive."""
    num = pl.col(numerator) if isinstance(numerator, str) else numerator
    den = pl.col(denominator) if isinstance(denominator, str) else denominator
    return pl.when(den > 0).then(num / den)
