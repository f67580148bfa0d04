"""Abuse-trend volumes by any dimension and grain, emerging trends, and days outside a forecast band."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

import numpy as np
import polars as pl
from scipy import stats

from queries.analyses.spikes import benjamini_hochberg
from queries.calc import ratio
from queries.contract import TICKETS
from queries.engines import Source, created_days
from queries.filters import Filters, period_expr
from queries.metrics import missing_inputs, summarize

TREND_DIMENSIONS = ("policy_domain", "market", "language", "surface", "source", "queue")
MEASURES = ("tickets", "share", "tickets_per_million_dau")
PERIOD_DAYS = {"day": "1d", "week": "1w", "month": "1mo"}


def volume_over_time(ds: Source, filters: Filters, by: str | None, period: str) -> pl.DataFrame:
    """Tickets per period (and group of `by`) in the filters: counts, share of mix, daily tickets per 1M DAU.

    Every period of the filters is there for every group (0 tickets when it had none). Columns: `period`, the
    group column, `tickets`, `share` (of all tickets of that period; null in a period without tickets),
    `tickets_per_million_dau` (the `per_million_dau` metric) and the `dau_days` behind it (both null when the
    source has no platform_metrics), `days` (days of the period inside the selection) and `partial` (the
    period is cut by the selection, so its count is not comparable with a full one).
    """
    keys = [by] if by else []
    counts = summarize(ds, "volume", filters, by=keys, period=period)
    if missing_inputs(ds, "per_million_dau") is None:
        rates = summarize(ds, "per_million_dau", filters, by=keys, period=period)
        counts = counts.join(
            rates.select(*keys, "period", "tickets_per_million_dau", pl.col("dau_days").cast(pl.Float64)),
            on=[*keys, "period"],
            how="left",
            nulls_equal=True,
        )
    else:
        counts = counts.with_columns(pl.lit(None, pl.Float64).alias(c) for c in ("tickets_per_million_dau", "dau_days"))
    days = (
        pl.DataFrame({"day": pl.date_range(filters.start, filters.end, "1d", eager=True)})
        .with_columns(period_expr("day", period))
        .group_by("period")
        .agg(pl.len().cast(pl.Int64).alias("days"))
        .with_columns(
            (
                pl.col("days") < (pl.col("period").dt.offset_by(PERIOD_DAYS[period]) - pl.col("period")).dt.total_days()
            ).alias("partial")
        )
    )
    out = counts.with_columns(ratio(pl.col("tickets"), pl.col("tickets").sum().over("period")).alias("share"))
    return out.join(days, on="period", how="left").select(
        "period", *keys, "tickets", "share", "tickets_per_million_dau", "dau_days", "days", "partial"
    )


def top_and_other(volumes: pl.DataFrame, by: str, top: int, other: str = "Other") -> pl.DataFrame:
    """`volume_over_time` by `by` with the `top` groups of most tickets kept and the rest summed into `other`.

    Tickets and shares add up. Daily tickets per 1M DAU add up across groups that share their users (policy
    domains, surfaces, … of the same markets); across markets, whose users differ, `other`'s rate is its tickets
    over the sum of their DAU (Σ rate × dau_days / Σ dau_days).
    """
    ranked = volumes.group_by(by).agg(pl.col("tickets").sum()).sort(["tickets", by], descending=[True, False])
    kept = ranked[by].head(top)
    if ranked.height <= top:
        return volumes
    rest = volumes.filter(~pl.col(by).is_in(kept.implode()) | pl.col(by).is_null())
    weighted = pl.col("tickets_per_million_dau") * pl.col("dau_days")
    rate = weighted.sum() / pl.col("dau_days").sum() if by == "market" else pl.col("tickets_per_million_dau").sum()
    summed = rest.group_by("period").agg(
        pl.col("tickets").sum(),
        pl.col("share").sum(),
        pl.when(pl.col("tickets_per_million_dau").is_not_null().any()).then(rate).alias("tickets_per_million_dau"),
        pl.col("dau_days").sum() if by == "market" else pl.col("dau_days").first(),
        pl.col("days").first(),
        pl.col("partial").first(),
    )
    summed = summed.with_columns(pl.lit(other).cast(volumes.schema[by]).alias(by)).select(volumes.columns)
    return pl.concat([volumes.filter(pl.col(by).is_in(kept.implode())), summed.cast(volumes.schema)]).sort("period", by)


EMERGING_SCHEMA: dict[str, pl.DataType] = {
    "weeks": pl.Int64(),
    "tickets": pl.Int64(),
    "weekly_rates": pl.List(pl.Float64()),
    "growth_per_week": pl.Float64(),
    "total_growth": pl.Float64(),
    "p_value": pl.Float64(),
    "significant": pl.Boolean(),
}
"""Emerging trends: the group columns, then these, one row per group with enough tickets."""


def trend_window(ds: Source, filters: Filters, weeks: int) -> Filters | None:
    """The last `weeks` full weeks (Monday–Sunday) up to filters.end that lie inside the data, or None."""
    last_sunday = filters.end - dt.timedelta(days=(filters.end.weekday() + 1) % 7)
    first_monday = last_sunday - dt.timedelta(days=7 * weeks - 1)
    span = created_days(ds)
    if span is None:
        return None
    first_full = span[0] + dt.timedelta(days=(7 - span[0].weekday()) % 7)
    first_monday = max(first_monday, first_full)
    if first_monday > last_sunday:
        return None
    return Filters.of(first_monday, last_sunday, filters.selections())


def emerging_trends(
    ds: Source,
    filters: Filters,
    by: Sequence[str],
    weeks: int = 8,
    false_discovery_rate: float = 0.05,
    min_tickets_per_week: float = 5.0,
) -> tuple[pl.DataFrame, str]:
    """Groups whose weekly volume (per 1M DAU when the source has DAU) kept growing over the last full weeks.

    Growth per week is the Theil–Sen slope of log((tickets + ½) per 1M DAU) over the weeks, as a
    share (0.05 = +5 % a week), robust to one unusual week; `p_value` is the one-sided Kendall τ
    test of a rising trend; `significant` controls the false discovery rate across groups
    (Benjamini–Hochberg) and needs growth > 0. A one-week burst moves one rank and is not a trend.
    Groups averaging fewer than `min_tickets_per_week` tickets are left out. Returns the frame
    (significant first, then fastest growth) and the measure used ("tickets_per_million_dau" or "tickets").
    """
    by = list(by)
    schema = {c: TICKETS.schema[c] for c in by} | EMERGING_SCHEMA
    window = trend_window(ds, filters, weeks)
    per_dau = missing_inputs(ds, "per_million_dau") is None
    measure = "tickets_per_million_dau" if per_dau else "tickets"
    if window is None or window.days < 28:
        return pl.DataFrame(schema=schema), measure
    weekly = summarize(ds, "volume", window, by=by, period="week")  # every week of every group, zeros too
    if not by:
        weekly = weekly.with_columns(pl.lit(0).alias("_"))
    if per_dau:  # the users behind each week, also for weeks without tickets
        markets = [c for c in by if c == "market"]
        users = summarize(ds, "per_million_dau", window, by=markets, period="week")
        weekly = weekly.join(users.select(*markets, "period", "dau_days"), on=[*markets, "period"], how="left")
    rows = []
    n_weeks = window.days // 7  # the window is whole weeks
    for key, part in weekly.sort("period").group_by(by or ["_"], maintain_order=True):
        tickets = part["tickets"].to_numpy().astype(float)
        if tickets.sum() < min_tickets_per_week * n_weeks:
            continue
        scale = part["dau_days"].to_numpy().astype(float) / 1e6 if per_dau else np.ones(n_weeks)
        known = np.isfinite(scale) & (scale > 0)
        if known.sum() < 4:
            continue
        x = np.arange(n_weeks)[known]
        log_rate = np.log((tickets[known] + 0.5) / scale[known])
        slope = stats.theilslopes(log_rate, x).slope
        p_value = stats.kendalltau(x, log_rate, alternative="greater").pvalue
        rows.append(
            {
                **(dict(zip(by, key, strict=True)) if by else {}),
                "weeks": int(known.sum()),
                "tickets": int(tickets.sum()),
                "weekly_rates": (tickets / scale).tolist() if per_dau else tickets.tolist(),
                "growth_per_week": math.expm1(slope),
                "total_growth": math.expm1(slope * (x[-1] - x[0])),
                "p_value": float(p_value) if np.isfinite(p_value) else 1.0,
            }
        )
    if not rows:
        return pl.DataFrame(schema=schema), measure
    out = pl.DataFrame(rows, schema={k: v for k, v in schema.items() if k != "significant"})
    rejected, _ = benjamini_hochberg(np.log(out["p_value"].to_numpy()), false_discovery_rate)
    significant = rejected & (out["growth_per_week"].to_numpy() > 0)
    out = out.with_columns(pl.Series("significant", significant))
    return out.sort(["significant", "growth_per_week"], descending=[True, True]), measure


def band_breaches(backtests: pl.DataFrame, series: str) -> pl.DataFrame:
    """Past forecasts of one series against what happened: `ds`, `actual`, `mean`, `lo_95`, `hi_95`, `outside`.

    `backtests` has the forecasting BACKTEST_SCHEMA; where folds overlap, the forecast from the
    latest origin counts. `outside` is "above" or "below" the 95 % band, else null.
    """
    latest = (
        backtests.filter(pl.col("series") == series)
        .sort("origin")
        .group_by("ds", maintain_order=True)
        .last()
        .sort("ds")
    )
    return latest.select(
        "ds",
        "actual",
        "mean",
        "lo_95",
        "hi_95",
        pl.when(pl.col("actual") > pl.col("hi_95"))
        .then(pl.lit("above"))
        .when(pl.col("actual") < pl.col("lo_95"))
        .then(pl.lit("below"))
        .alias("outside"),
    )
