"""From daily forecasts to half-hour intervals, with a weekday × time-of-day profile.

Live safety work peaks in the local evening, so staffing needs the day split into half hours.
`intraday_profile` learns, for each weekday, the share of that day's tickets arriving in each
of the 48 half-hour slots over the recent weeks (from the arrival counts every engine gives);
`split_intraday` spreads a daily forecast over the slots of its weekday.

Times are UTC (naive = UTC everywhere in Bellwether), so the profile is a UTC profile: a
market's local evening peak shows up where it falls in UTC, and daylight-saving changes shift
it by an hour for the weeks around the change.
"""

from __future__ import annotations

from datetime import time, timedelta

import polars as pl

from forecasting.models import FORECAST_SCHEMA
from queries.engines.base import SLOT_MINUTES

SLOTS = 48  # half hours per day

PROFILE_SCHEMA: dict[str, pl.DataType] = {
    "weekday": pl.Int8(),  # 0 = Monday … 6 = Sunday
    "slot": pl.Int16(),  # 0 = 00:00–00:30 … 47 = 23:30–24:00
    "slot_start": pl.Time(),
    "tickets": pl.Int64(),  # tickets seen in the slot over the window
    "share": pl.Float64(),  # share of the weekday's tickets; sums to 1 per weekday
}

INTRADAY_SCHEMA: dict[str, pl.DataType] = {
    "series": pl.String(),
    "interval_start": pl.Datetime("us"),
    "mean": pl.Float64(),
    "lo_80": pl.Float64(),
    "hi_80": pl.Float64(),
    "lo_95": pl.Float64(),
    "hi_95": pl.Float64(),
}


def intraday_profile(arrivals: pl.DataFrame, weeks: int = 8, *, prior: float = 48.0) -> pl.DataFrame:
    """Weekday × half-hour shares of arrivals over the last `weeks` weeks of `arrivals`.

    `arrivals`: tickets per day and half-hour slot (`day`, `slot`, `tickets`: the engines' `arrivals`, from rows,
    rollups or the warehouse alike). The window is the `7 × weeks` calendar days ending on the latest day with
    tickets. Shares are smoothed towards the all-weekday profile with the weight of `prior` tickets,
    `share = (count + prior · pooled) / (weekday total + prior)`, so a quiet weekday or an empty slot does not get
    an all-or-nothing share; with no data at all every slot gets 1/48. Each weekday's shares sum to 1.
    """
    if weeks < 1:
        raise ValueError("weeks must be at least 1")
    last = arrivals.filter(pl.col("tickets") > 0)["day"].max()
    window = (
        arrivals.filter(pl.col("day").is_between(last - timedelta(days=7 * weeks - 1), last))
        if last is not None
        else arrivals.clear()
    )
    counts = window.group_by((pl.col("day").dt.weekday() - 1).cast(pl.Int8).alias("weekday"), "slot").agg(
        pl.col("tickets").sum().cast(pl.Int64)
    )
    grid = pl.DataFrame(
        {
            "weekday": pl.Series([w for w in range(7) for _ in range(SLOTS)], dtype=pl.Int8),
            "slot": pl.Series(list(range(SLOTS)) * 7, dtype=pl.Int16),
        }
    )
    profile = grid.join(counts, on=["weekday", "slot"], how="left").with_columns(pl.col("tickets").fill_null(0))
    pooled = (
        profile.group_by("slot")
        .agg(pl.col("tickets").sum().alias("pooled"))
        .with_columns(
            pl.when(pl.col("pooled").sum() > 0)
            .then(pl.col("pooled") / pl.col("pooled").sum())
            .otherwise(1.0 / SLOTS)
            .alias("pooled")
        )
    )
    return (
        profile.join(pooled, on="slot")
        .with_columns(
            ((pl.col("tickets") + prior * pl.col("pooled")) / (pl.col("tickets").sum().over("weekday") + prior)).alias(
                "share"
            ),
            pl.Series(
                "slot_start", [time(s // 2, (s % 2) * SLOT_MINUTES) for _ in range(7) for s in range(SLOTS)]
            ).alias("slot_start"),
        )
        .sort("weekday", "slot")
        .select(list(PROFILE_SCHEMA))
        .cast(PROFILE_SCHEMA)
    )


def split_intraday(daily_forecast: pl.DataFrame, profile: pl.DataFrame) -> pl.DataFrame:
    """Spread each day of a FORECAST_SCHEMA frame over its weekday's 48 half-hour slots.

    Every column (`mean` and the interval bounds) is multiplied by the slot's share, so the
    slots of a day add back to the daily `mean`. Splitting the interval bounds the same way is
    an approximation: a slot's own interval would be relatively wider than its share of the
    day's (less aggregation, more relative noise), so read the half-hour bounds as the day's
    uncertainty distributed over the day, not as per-slot prediction intervals.
    """
    shares = profile.select("weekday", "slot", "share")
    value_columns = [c for c in FORECAST_SCHEMA if c not in ("series", "ds")]
    return (
        daily_forecast.select(list(FORECAST_SCHEMA))
        .with_columns((pl.col("ds").dt.weekday() - 1).cast(pl.Int8).alias("weekday"))
        .join(shares, on="weekday", how="inner")
        .with_columns(
            (
                pl.col("ds").cast(pl.Datetime("us")) + pl.duration(minutes=pl.col("slot").cast(pl.Int64) * SLOT_MINUTES)
            ).alias("interval_start"),
            *[(pl.col(c) * pl.col("share")).alias(c) for c in value_columns],
        )
        .sort("series", "interval_start")
        .select(list(INTRADAY_SCHEMA))
    )
