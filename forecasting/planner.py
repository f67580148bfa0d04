"""What the Forecast & capacity page shows, computed from a dataset: forecasts with their past
accuracy, demand vs supply under a scenario, and interval staffing of the live queues."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

import numpy as np
import polars as pl

from forecasting.backtest import DEFAULT_CANDIDATES, forecast_frames
from forecasting.erlang import required_agents
from forecasting.history import ticket_series
from forecasting.intraday import intraday_profile, split_intraday
from forecasting.models import FORECAST_SCHEMA, WEEKDAY_NAMES, forecast_frame
from forecasting.plan import PlanningInputs, Scenario, demand_vs_supply, planning_inputs
from forecasting.reconcile import reconcile
from queries.engines import Source, arrivals, created_days, queue_reviews, small_table
from queries.filters import Filters
from queries.metrics import missing_inputs

HISTORY_WEEKS_SHOWN = 16
RECONCILIATION = (
    "Parts are reconciled to the total (weighted least squares with each forecast's own variance, "
    "MinT-diagonal): the parts add up to the total exactly on every day."
)


@dataclass(frozen=True)
class ForecastView:
    """Forecasts (coherent when grouped), recent history, scores and the chosen models' backtests.

    A series closed on some weekdays (`scores.closed_weekdays`) has no forecast or history rows on them.
    """

    history: pl.DataFrame  # series, ds, y (recent weeks on the open days, for the chart)
    forecasts: pl.DataFrame  # FORECAST_SCHEMA, parts then "total"; rows for open days
    scores: pl.DataFrame  # SCORES_SCHEMA per series
    backtests: pl.DataFrame  # BACKTEST_SCHEMA for each series' chosen model
    note: str
    horizon_end: dt.date | None = None  # the horizon's last calendar day (None: the forecasts' last day)


def history_window(ds: Source, filters: Filters) -> Filters:
    """All data up to the end of the selected period, in the selected groups."""
    first = created_days(ds)[0]
    return Filters.of(min(first, filters.end), filters.end, filters.selections())


def forecast_view(
    ds: Source,
    filters: Filters,
    by: str | None,
    horizon_days: int,
    model: str = "auto",
    folds: int = 4,
    n_jobs: int = 1,
) -> ForecastView:
    """Forecast ticket volume per group of `by` (or the total) from the history up to filters.end; `n_jobs` > 1
    spreads the groups over the shared process pool (`forecasting.workers`), with the same results."""
    window = history_window(ds, filters)
    candidates = DEFAULT_CANDIDATES if model == "auto" else (model,)
    events = small_table(ds, "events")
    total_history = ticket_series(ds, filters=window)
    frames: list[tuple[pl.DataFrame, list[str] | None]] = [(total_history, None)]
    if by:
        parts_history = ticket_series(ds, by=[by], filters=window)
        frames.append((parts_history, [by]))
    total, *grouped = forecast_frames(frames, horizon_days, folds, candidates=candidates, events=events, n_jobs=n_jobs)
    note = ""
    if by:
        parts = grouped[0]  # the total and the parts are forecast in one pass over the workers
        # Reconciled on the total's days: a part closed when the total is open is a certain 0 then (kept, and its row
        # dropped after); a sparse part's rows on a day the total is closed are dropped (no part ever had tickets then).
        scores = pl.concat([parts.scores, total.scores])
        forecasts = _open_days_only(reconcile(on_days(parts.forecasts, total.forecasts["ds"]), total.forecasts), scores)
        backtests = pl.concat([parts.backtests, total.backtests])
        history = pl.concat(
            [
                parts_history.select(pl.col(by).cast(pl.String).fill_null("(none)").alias("series"), "ds", "y"),
                total_history.select(pl.lit("total").alias("series"), "ds", "y"),
            ]
        )
        note = RECONCILIATION
    else:
        forecasts, scores, backtests = total.forecasts, total.scores, total.backtests
        history = total_history.select(pl.lit("total").alias("series"), "ds", "y")
    chosen = backtests.join(scores.select("series", "model"), on=["series", "model"], how="semi")
    recent = history.filter(pl.col("ds") > filters.end - dt.timedelta(weeks=HISTORY_WEEKS_SHOWN))
    horizon_end = filters.end + dt.timedelta(days=horizon_days)
    return ForecastView(_open_days_only(recent, scores), forecasts, scores, chosen, note, horizon_end)


def on_days(forecasts: pl.DataFrame, days: pl.Series) -> pl.DataFrame:
    """Each series' forecasts (FORECAST_SCHEMA) on exactly `days`: 0 on a day it has no row for (a closed day,
    no tickets), and its rows on other days dropped."""
    grid = forecasts.select("series").unique(maintain_order=True).join(days.alias("ds").to_frame(), how="cross")
    values = [c for c in FORECAST_SCHEMA if c not in ("series", "ds")]
    return (
        grid.join(forecasts, on=["series", "ds"], how="left", maintain_order="left")
        .with_columns(pl.col(values).fill_null(0.0))
        .select(list(FORECAST_SCHEMA))
    )


def _open_days_only(frame: pl.DataFrame, scores: pl.DataFrame) -> pl.DataFrame:
    """The rows of `frame` (`series`, `ds`, ...) that are not on their series' closed weekdays (`scores`)."""
    closed = scores.select("series", pl.col("closed_weekdays").str.split(", ").alias("closed"))
    day_name = pl.col("ds").dt.weekday().replace_strict(dict(enumerate(WEEKDAY_NAMES, start=1)), return_dtype=pl.String)
    return (
        frame.join(closed, on="series", how="left", maintain_order="left")
        .filter(~pl.col("closed").list.contains(day_name).fill_null(False))
        .drop("closed")
    )


def capacity_plan(
    ds: Source, filters: Filters, domain_view: ForecastView, scenario: Scenario
) -> tuple[pl.DataFrame, PlanningInputs | None]:
    """Weekly demand vs supply per vendor after filters.end, from a forecast by policy domain of the selected
    tickets, against the supply that serves the selection (see forecasting.plan).

    Closed days (no forecast rows) have no demand, and supply still counts on them: the plan covers every
    calendar day of the horizon. Empty (and no inputs) when the source lacks what supply needs: staffing and
    vendor-level decisions.
    """
    if plan_inputs_missing(ds):
        return pl.DataFrame(), None
    inputs = planning_inputs(ds, filters)
    return demand_vs_supply(horizon_forecasts(filters, domain_view), inputs, scenario), inputs


def plan_inputs_missing(ds: Source) -> str | None:
    """What the source lacks for a capacity plan (staffing, vendor-level decisions), or None."""
    return missing_inputs(ds, "throughput") or missing_inputs(ds, "handle_time")


def horizon_forecasts(filters: Filters, domain_view: ForecastView) -> pl.DataFrame:
    """The policy-domain forecasts on every calendar day of the horizon after filters.end (0 on closed days)."""
    parts = domain_view.forecasts.filter(pl.col("series") != "total")
    first = filters.end + dt.timedelta(days=1)
    last = domain_view.horizon_end or parts["ds"].max() or filters.end
    return on_days(parts, pl.date_range(first, max(first, last), eager=True))


@dataclass(frozen=True)
class LiveQueue:
    """A real-time queue and its target: `service_level` of reviews start within `target_seconds`."""

    queue: str
    target_seconds: float
    service_level: float = 0.8
    patience_seconds: float | None = None


def live_staffing(
    ds: Source, filters: Filters, view: ForecastView, day: dt.date, queues: list[LiveQueue], scenario: Scenario
) -> pl.DataFrame | None:
    """Agents needed per 30-minute interval of `day` for each live queue (Erlang C, or A with patience).

    Volume per interval: the total forecast for the day × the queue's recent share of tickets
    reviewed by people (last 8 weeks), × the scenario's uplift, split by the weekday's
    half-hour arrival profile of the same 8 weeks. None when the source's engine cannot count arrivals or reviews
    for these filters (rollups with two or more dimensions selected, past their exact-read limit).
    """
    daily = view.forecasts.filter((pl.col("series") == "total") & (pl.col("ds") == day))
    if daily.is_empty():  # a closed day: no tickets expected
        daily = forecast_frame(["total"], [day], *(np.zeros(1) for _ in range(5)))
    recent = Filters.of(filters.end - dt.timedelta(weeks=8) + dt.timedelta(days=1), filters.end, filters.selections())
    counts, mix = arrivals(ds, recent), queue_reviews(ds, recent)
    if counts is None or mix is None:
        return None
    created = counts["tickets"].sum()
    slots = split_intraday(daily, intraday_profile(counts, weeks=8))
    rows = []
    for q in queues:
        row = mix.filter(pl.col("queue") == q.queue)
        if row.is_empty() or not created:
            continue
        share = row["reviews"][0] / created * (1 + scenario.volume_uplift)
        aht = row["handle_sum_seconds"][0] / row["reviews"][0] * (1 + scenario.handle_time_change)
        for slot in slots.iter_rows(named=True):
            volume = slot["mean"] * share
            staffing = required_agents(
                volume,
                30,
                aht,
                q.target_seconds,
                q.service_level,
                shrinkage=scenario.shrinkage,
                max_occupancy=scenario.max_occupancy,
                patience_seconds=q.patience_seconds,
            )
            rows.append(
                {
                    "queue": q.queue,
                    "interval_start": slot["interval_start"],
                    "volume": volume,
                    "aht_seconds": aht,
                    **asdict(staffing),
                }
            )
    return pl.DataFrame(rows)
