"""Alerts with the forecast: every check of queries.analyses.alerts, plus days outside the forecast's 95 % band.

The forecast is the Forecast & capacity page's (`forecast_view`: models chosen by backtest, parts reconciled to
the total), made with the data up to the day before `since`, for the total and per policy domain.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from forecasting.planner import forecast_view
from queries.analyses.alerts import AlertRun, AlertSettings, band_alerts, detect_alerts, order
from queries.analyses.targets import Targets
from queries.engines import Source, created_days
from queries.filters import Filters
from queries.metrics import summarize
from queries.sla import SlaPolicy

BAND_BY = "policy_domain"
MIN_HISTORY_DAYS = 56  # eight weeks before `since`: enough for the weekly models and their backtests
BAND_FOLDS = 2  # backtest folds that choose each series' model


def forecast_bands(ds: Source, since: dt.date, until: dt.date) -> pl.DataFrame | None:
    """Per day since–until and per series (`total`, each policy domain): actual tickets and the forecast made the
    day before `since` (mean, lo_95, hi_95). None when there are fewer than MIN_HISTORY_DAYS days before `since`."""
    days = created_days(ds)
    if days is None or (since - days[0]).days < MIN_HISTORY_DAYS:
        return None
    by = BAND_BY if ds.has("tickets", BAND_BY) else None
    origin = since - dt.timedelta(days=1)
    view = forecast_view(ds, Filters(origin, origin), by, (until - since).days + 1, folds=BAND_FOLDS)
    period = Filters(since, until)
    total = summarize(ds, "volume", period, period="day").select(pl.lit("total").alias("series"), "period", "tickets")
    parts = [total]
    if by:
        domains = summarize(ds, "volume", period, by=[by], period="day")
        parts.append(
            domains.select(pl.col(by).cast(pl.String).fill_null("(none)").alias("series"), "period", "tickets")
        )
    actual = pl.concat(parts).rename({"period": "ds"}).with_columns(pl.col("tickets").cast(pl.Float64).alias("actual"))
    return view.forecasts.join(actual.drop("tickets"), on=["series", "ds"], how="inner").select(
        "series", "ds", "actual", "mean", "lo_95", "hi_95"
    )


def evaluate_alerts(
    ds: Source,
    since: dt.date,
    until: dt.date,
    targets: Targets,
    sla_policy: SlaPolicy,
    settings: AlertSettings,
) -> AlertRun:
    """Every alert check for the days since–until, the forecast band's included."""
    run = detect_alerts(ds, since, until, targets, sla_policy, settings)
    bands = forecast_bands(ds, since, until)
    if bands is None:
        why = f"forecast_band: needs {MIN_HISTORY_DAYS} days of data before {since} to forecast from."
        return AlertRun(since, until, run.alerts, [*run.skipped, why])
    found = band_alerts(ds, bands, BAND_BY, since, until, settings)
    return AlertRun(since, until, order([*run.alerts, *found]), run.skipped)
