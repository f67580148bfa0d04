"""The only place that caches: the sources a session opens, and the queries of a page, keyed on small values.

A source is keyed by its signature (and the SLA policy in force), never hashed as data; every other argument
(filters, tuples, dates, scenarios) by value."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

import polars as pl
import streamlit as st

from dashboard import snapshot as snapshot_report
from dashboard.settings import SourceOption, demo_tickets_per_day
from forecasting import plan_splits, planner
from forecasting.alerts import evaluate_alerts
from forecasting.plan import Scenario, planning_inputs
from forecasting.plan_splits import SplitPlan
from forecasting.planner import ForecastView
from forecasting.workers import forecast_workers
from queries.analyses import dsa, quality, vendors
from queries.analyses import spikes as spike_queries
from queries.analyses import trends as trend_queries
from queries.analyses import turnaround as turnaround_queries
from queries.analyses.alerts import AlertRun, AlertSettings
from queries.analyses.overview import Kpi, events_in, overview_kpis, top_movers, weekly_trend
from queries.analyses.targets import (
    GoalHistory,
    TargetResult,
    Targets,
    TileJudgement,
    evaluate_targets,
    goal_history,
    judge_tiles,
    load_targets,
    targets_file,
)
from queries.analyses.transparency import transparency_figures
from queries.demo import generate_demo
from queries.engines import Source, distinct_values, scope, small_table
from queries.engines.rollups.source import RolledUpSource, open_rolled_up, ticket_rows
from queries.engines.scoped import ScopedSource
from queries.engines.serving import rollup_threshold_rows
from queries.filters import Filters
from queries.progress import Progress, within
from queries.sla import load_sla_policy, policy_file
from queries.sources.dataset import Dataset, describe_source, load_dataset
from queries.sources.warehouse import Warehouse, connect_warehouse

P = ParamSpec("P")
R = TypeVar("R")
TTL_SECONDS = 600
WAREHOUSE_CHECK_SECONDS = 60  # a warehouse has no file signature: look for new data this often


def ensure_demo(option: SourceOption, progress: Progress | None = None) -> bool:
    """Generate the demo warehouse if it is not there yet, and build its rollups when it is served from them; True
    when it was generated now. `progress(share_done, step)` hears of each step."""
    target = Path(option.path)
    if (target / "tickets.parquet").exists():
        return False
    report = progress or (lambda done, step: None)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="demo-", dir=target.parent))
    try:
        generate_demo(staging, tickets_per_day=demo_tickets_per_day(), progress=within(report, 0.0, 0.6))
        if target.exists() and not (target / "tickets.parquet").exists():
            shutil.rmtree(target)  # an earlier, interrupted generation
        os.replace(staging, target)  # atomic: another session never sees half a demo
    except OSError:
        if not (target / "tickets.parquet").exists():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if ticket_rows(target, option.mapping) >= rollup_threshold_rows():  # built here, under the progress bar
        open_rolled_up(target, option.mapping, progress=within(report, 0.6, 1.0))
    return True


def dataset(option: SourceOption) -> tuple[Dataset | RolledUpSource, str]:
    """The validated dataset of a source, reloaded when any of its files changes; extracts of at least
    BELLWETHER_ROLLUP_ROWS tickets are served from rollups instead of being held in memory."""
    signature = describe_source(option.path, option.mapping)
    if _ticket_rows(option.path, option.mapping, signature) >= rollup_threshold_rows():
        rolled = _rolled_up(option.path, option.mapping, signature, repr(load_sla_policy().terms))
        return rolled, rolled.signature  # its own: answers from rollups are cached apart from answers from rows
    return _dataset(option.path, option.mapping, signature), signature


@st.cache_data(ttl=TTL_SECONDS, max_entries=8, show_spinner=False)
def _ticket_rows(path: str, mapping: str | None, signature: str) -> int:
    return ticket_rows(path, mapping)


@st.cache_resource(ttl=TTL_SECONDS, max_entries=3, show_spinner="Reading and validating the source…")
def _dataset(path: str, mapping: str | None, signature: str) -> Dataset:
    return load_dataset(path, mapping)


@st.cache_resource(ttl=TTL_SECONDS, max_entries=3, show_spinner="Building the rollups of a large source (once)…")
def _rolled_up(path: str, mapping: str | None, signature: str, policy: str) -> RolledUpSource:
    """`policy` (config/sla.toml's terms) only keys the cache: the rollups count SLA outcomes with it."""
    return open_rolled_up(path, mapping)


def warehouse(option: SourceOption) -> tuple[Warehouse, str]:
    """The connected warehouse (tables, validation counts, signature), checked again every minute."""
    wh = _warehouse(option.path, option.mapping)
    return wh, wh.signature


@st.cache_resource(ttl=WAREHOUSE_CHECK_SECONDS, max_entries=3, show_spinner="Checking the warehouse for new data…")
def _warehouse(url: str, mapping: str | None) -> Warehouse:
    """Every minute the last connection is probed (a count and latest timestamps per table) and only checked
    row by row again when that changed."""
    key = (url, mapping)
    known = _CONNECTED.get(key)
    _CONNECTED[key] = connect_warehouse(url, mapping, known=known)
    if known is not None and _CONNECTED[key] is not known:
        known.engine.dispose()  # its pooled connections; a session still holding it reconnects on use
    return _CONNECTED[key]


_CONNECTED: dict[tuple[str, str | None], Warehouse] = {}  # the last connection per warehouse, for its probe


def _source_key(src: Source) -> tuple[str, str]:
    """How the caches below key a source: its signature (it changes with the data) and the SLA policy in force,
    so an edit of config/sla.toml reaches every cached figure on the next run."""
    path = policy_file()
    try:
        stat = path.stat()
        policy = f"{path}:{stat.st_mtime_ns}:{stat.st_size}"
    except OSError:
        policy = f"{path}:missing"
    return src.signature, policy


def cached(max_entries: int = 64, spinner: bool | str = False) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """st.cache_data for queries of a source: sources are keyed by `_source_key`, every other argument by value."""
    hashed: dict[type, Callable[[Source], tuple[str, str]]] = dict.fromkeys(
        (Dataset, RolledUpSource, Warehouse, ScopedSource), _source_key
    )
    return st.cache_data(ttl=TTL_SECONDS, max_entries=max_entries, show_spinner=spinner, hash_funcs=hashed)


dimension_values = cached(32)(distinct_values)


@cached(128)
def overview(ds: Source, filters: Filters) -> tuple[list[Kpi], pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """KPI tiles, weekly trend, top movers and events for the Overview page."""
    trend = weekly_trend(ds, filters)
    first_week = trend["week"].min() if trend.height else filters.start
    kpis = overview_kpis(ds, filters, load_sla_policy())
    return kpis, trend, top_movers(ds, filters), events_in(ds, filters, start=first_week)


# --- Forecast & capacity ----------------------------------------------------------------------------------


@cached(32, "Forecasting and backtesting…")
def forecast_view(ds: Source, filters: Filters, by: str | None, horizon_days: int, model: str) -> ForecastView:
    """`forecasting.planner.forecast_view` with the groups spread over the forecast workers (`forecasting.workers`)."""
    return planner.forecast_view(ds, filters, by, horizon_days, model, n_jobs=forecast_workers())


@cached()
def split_plan(ds: Source, filters: Filters, horizon_days: int, scenario: Scenario, split: str) -> SplitPlan:
    """Weekly demand vs supply per group of `split` under a scenario (forecast by policy domain, auto models), as
    `python -m forecasting plan --by` computes it. Raises ValueError where `plan_splits.split_refusal` refuses."""
    view = forecast_view(ds, filters, "policy_domain", horizon_days, "auto")
    return plan_splits.split_plan(ds, filters, view, scenario, split)


def capacity_plan(ds: Source, filters: Filters, horizon_days: int, scenario: Scenario) -> pl.DataFrame:
    """Weekly demand vs supply per vendor under a scenario (the plan's vendor split)."""
    return split_plan(ds, filters, horizon_days, scenario, "vendor").plan


@cached()
def staffed_fte(ds: Source, filters: Filters, shrinkage: float) -> dict[str, float]:
    """FTE each vendor staffed over the 4 weeks before filters.end (productive hours a day over paid hours less
    `shrinkage`): what an empty roster cell keeps."""
    if planner.plan_inputs_missing(ds):
        return {}
    supply = planning_inputs(ds, filters).supply
    per_fte = Scenario().paid_hours_per_fte_day * (1 - shrinkage)
    return {v: hours / per_fte for v, hours in supply.select("vendor", "productive_hours_per_day").iter_rows()}


@cached()
def live_staffing(
    ds: Source,
    filters: Filters,
    horizon_days: int,
    day: dt.date,
    queues: tuple[planner.LiveQueue, ...],
    scenario: Scenario,
) -> pl.DataFrame | None:
    """Agents per half hour for the live queues on one forecast day (None: the source cannot count the arrivals
    for these filters, see `forecasting.planner.live_staffing`)."""
    view = forecast_view(ds, filters, None, horizon_days, "auto")
    return planner.live_staffing(ds, filters, view, day, list(queues), scenario)


# --- Public benchmark (the shipped DSA extract) -----------------------------------------------------------


@st.cache_resource(show_spinner=False)
def dsa_daily() -> tuple[pl.DataFrame, list[str]]:
    """The shipped DSA daily statistics and the platforms, most statements first (read once)."""
    daily = dsa.load_daily()
    return daily, dsa.platforms_by_volume(daily)


@st.cache_resource(show_spinner=False)
def _dsa_categories() -> pl.DataFrame:
    return dsa.load_categories()


@st.cache_data(max_entries=32, show_spinner=False)
def dsa_benchmark(platforms: tuple[str, ...], start: dt.date, end: dt.date) -> pl.DataFrame:
    return dsa.benchmark_daily(dsa_daily()[0], list(platforms), start, end)


@st.cache_data(max_entries=32, show_spinner=False)
def dsa_gaps(platforms: tuple[str, ...], start: dt.date, end: dt.date) -> pl.DataFrame:
    return dsa.reporting_gaps(dsa_benchmark(platforms, start, end))


@st.cache_data(max_entries=32, show_spinner=False)
def dsa_category_mix(platforms: tuple[str, ...], start: dt.date, end: dt.date) -> pl.DataFrame:
    return dsa.category_mix(_dsa_categories(), list(platforms), start, end)


dsa_own = cached(32)(dsa.own_daily)

# --- Transparency, Vendors & quality ----------------------------------------------------------------------

transparency = cached(32)(transparency_figures)
vendor_scorecard = cached()(vendors.scorecard)
vendor_trend = cached()(vendors.trend)


@cached()
def vendor_capacity(
    ds: Source, filters: Filters, low_fte: float
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Handle time by vendor × domain, capacity matrices and coverage by language and by policy domain."""
    return (
        vendors.handle_time_by_domain(ds, filters),
        vendors.language_capacity(ds, filters),
        vendors.coverage(ds, filters, "language", low_fte=low_fte),
        vendors.domain_capacity(ds, filters),
        vendors.coverage(ds, filters, "policy_domain", low_fte=low_fte),
    )


qa_accuracy = cached()(quality.qa_accuracy)
agreement = cached()(quality.agreement)
error_types = cached()(quality.error_types)
sampling_plan = cached()(quality.sampling_plan)
appeals = cached()(quality.appeals)
policy_gaps = cached(64, "Looking for policy gaps…")(quality.policy_gaps)
change_events = cached(8)(quality.change_events)
training_effects = cached()(quality.training_effects)

# --- Turnaround & SLA -------------------------------------------------------------------------------------

turnaround = cached()(turnaround_queries.turnaround_view)


@cached()
def turnaround_headline(ds: Source, filters: Filters) -> turnaround_queries.Headline:
    """Headline figures of the Turnaround & SLA page."""
    return turnaround_queries.headline(ds, filters, load_sla_policy())


@cached()
def turnaround_sla(ds: Source, filters: Filters, by: str) -> turnaround_queries.SlaView:
    """SLA attainment by `by` and the agreement with the source's sla_met."""
    return turnaround_queries.sla_view(ds, filters, load_sla_policy(), by)


turnaround_backlog = cached()(turnaround_queries.backlog_view)
turnaround_exposure = cached()(turnaround_queries.exposure_view)
hour_of_week = cached()(turnaround_queries.hour_of_week)

# --- Trends & spikes --------------------------------------------------------------------------------------

trend_volumes = cached()(trend_queries.volume_over_time)
trend_events = cached()(events_in)


@cached(32, "Looking for spikes…")
def spike_scan(
    ds: Source, filters: Filters, by: tuple[str, ...], sensitivity: float, min_excess: float
) -> spike_queries.SpikeScan:
    """Spikes per group in the period (with the events that concern them) and the daily series behind them."""
    settings = spike_queries.SpikeSettings(sensitivity=sensitivity, min_excess_tickets=min_excess)
    scan = spike_queries.scan_spikes(ds, filters, by, settings)
    spikes = spike_queries.with_events(scan.spikes, small_table(ds, "events"))
    return spike_queries.SpikeScan(spikes, scan.daily, scan.by)


spike_drill_down = cached()(spike_queries.drill_down)
emerging_trends = cached(32)(trend_queries.emerging_trends)

FORECAST_BAND_HORIZON_DAYS = 56  # the Forecast & capacity page's default horizon, so both pages share one forecast


def forecast_band(ds: Source, filters: Filters, domain: str | None) -> pl.DataFrame:
    """Past forecasts of the total (or one policy domain) against actuals, from the cached forecast view."""
    by = "policy_domain" if domain else None
    view = forecast_view(ds, filters, by, FORECAST_BAND_HORIZON_DAYS, "auto")
    return trend_queries.band_breaches(view.backtests, domain or "total")


@st.cache_resource(ttl=TTL_SECONDS, max_entries=8, show_spinner=False)
def scoped(_ds: Source, signature: str, vendor: str) -> ScopedSource:
    """The source restricted to one vendor's rows, on every kind of source (queries.engines.scoped)."""
    return scope(_ds, vendor)


# --- Targets, alerts and the weekly snapshot ----------------------------------------------------------------------


def targets() -> Targets:
    """The targets file in force (BELLWETHER_TARGETS or config/targets.toml), read again when it changes."""
    path = targets_file()
    try:
        stat = path.stat() if path else None
        signature = f"{stat.st_mtime_ns}:{stat.st_size}" if stat else "none"
    except OSError:
        signature = "missing"  # load_targets says so
    return _targets(str(path) if path else None, signature)


@st.cache_data(ttl=TTL_SECONDS, max_entries=4, show_spinner=False)
def _targets(path: str | None, signature: str) -> Targets:
    """`signature` (the file's time and size) only keys the cache."""
    return load_targets(path) if path else Targets((), None)


@cached()
def tile_judgements(ds: Source, filters: Filters, goals: Targets) -> dict[str, TileJudgement]:
    """Per Overview tile: the goal of the view and whether its change is news."""
    kpis = overview(ds, filters)[0]
    return judge_tiles(ds, filters, goals, kpis, load_sla_policy())


@cached()
def target_results(ds: Source, filters: Filters, goals: Targets) -> list[TargetResult]:
    """Every target in force at the end of the period, over the period."""
    return evaluate_targets(ds, goals, filters.start, filters.end, load_sla_policy())


@cached()
def goal_histories(ds: Source, filters: Filters, goals: Targets, first_week: dt.date) -> list[GoalHistory]:
    """Each measure with a goal for the view, per full week from `first_week`, with its goal."""
    return goal_history(ds, goals, filters, first_week, load_sla_policy())


@cached(8, "Checking the days for alerts…")
def alert_run(ds: Source, since: dt.date, until: dt.date, goals: Targets, source_key: str) -> AlertRun:
    """What `python -m queries alerts` reports for since–until, with links relative to this dashboard."""
    settings = AlertSettings(base_url="", link_source=source_key)
    return evaluate_alerts(ds, since, until, goals, load_sla_policy(), settings)


@cached(8, "Preparing the weekly review…")
def snapshot_html(ds: Source, filters: Filters, goals: Targets, shown: str) -> str:
    """The weekly review of the view as one HTML file, the same as `python -m queries snapshot` writes."""
    snapshot, ahead = snapshot_report.build(ds, filters, goals, load_sla_policy(), shown)
    return snapshot_report.snapshot_html(snapshot, ahead, goals)


@cached(8, "Printing the weekly review…")
def snapshot_pdf(ds: Source, filters: Filters, goals: Targets, shown: str) -> bytes:
    """The weekly review printed to PDF by headless Chromium."""
    return snapshot_report.snapshot_pdf(snapshot_html(ds, filters, goals, shown))
