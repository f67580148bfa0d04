"""The next weeks for the leadership snapshot: the ticket forecast and the capacity plan it implies.

The same forecast (by policy domain, reconciled to the total) and plan (baseline scenario) as the Forecast &
capacity page, from the data up to the end of the snapshot's period.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from forecasting.plan import PlanHeadline, Scenario, plan_headline
from forecasting.planner import capacity_plan, forecast_view
from queries.engines import Source
from queries.filters import Filters
from queries.metrics import missing_inputs

OUTLOOK_WEEKS = 4


@dataclass(frozen=True)
class Outlook:
    """Forecast of the total (recent history and the next weeks) and weekly required vs supplied FTE."""

    history: pl.DataFrame  # ds, y: the total's recent daily tickets
    forecast: pl.DataFrame  # FORECAST_SCHEMA rows of the total
    weekly: pl.DataFrame  # week, days (calendar days of the horizon in it), forecast tickets (mean, lo_80, hi_80)
    plan: pl.DataFrame  # forecasting.plan demand_vs_supply rows (empty without staffing)
    headline: PlanHeadline | None
    note: str  # what the plan could not use, or ""


def outlook(ds: Source, filters: Filters, weeks: int = OUTLOOK_WEEKS) -> Outlook:
    """The forecast for `weeks` weeks after filters.end and the capacity plan of the baseline scenario."""
    by = "policy_domain" if ds.has("tickets", "policy_domain") else None
    view = forecast_view(ds, filters, by, weeks * 7)
    total = view.forecasts.filter(pl.col("series") == "total")
    # Weeks of the calendar, like the plan's: a closed day (no forecast row) is a day of the week with no tickets.
    horizon = pl.date_range(filters.end + dt.timedelta(days=1), filters.end + dt.timedelta(weeks=weeks), eager=True)
    weekly = (
        horizon.alias("ds")
        .to_frame()
        .join(total, on="ds", how="left")
        .group_by(pl.col("ds").dt.truncate("1w").alias("week"))
        .agg(pl.len().alias("days"), pl.col("mean", "lo_80", "hi_80").fill_null(0.0).sum())
        .sort("week")
    )
    history = view.history.filter(pl.col("series") == "total").select("ds", "y")
    plan = pl.DataFrame()
    note = missing_inputs(ds, "throughput") or missing_inputs(ds, "handle_time") or ""
    if by and not note:
        plan = capacity_plan(ds, filters, view, Scenario())[0]
        if plan.is_empty():
            note = "No vendor reviewed tickets of the selection in the last weeks: nothing to plan."
    elif not by:
        note = note or "The capacity plan needs tickets.policy_domain."
    return Outlook(history, total, weekly, plan, plan_headline(plan) if plan.height else None, note)
