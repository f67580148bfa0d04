"""The only place that caches: thin st.cache wrappers keyed on small primitives."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from pathlib import Path

import polars as pl
import streamlit as st

from dashboard.settings import SourceOption, demo_tickets_per_day, rollup_threshold_rows
from forecasting import planner
from forecasting.plan import Scenario
from forecasting.planner import ForecastView
from queries import dsa, quality, vendors
from queries import spikes as spike_queries
from queries import trends as trend_queries
from queries import turnaround as turnaround_queries
from queries.access import scope_dataset
from queries.any_source import Source, distinct_values, small_table
from queries.dataset import Dataset, describe_source, load_dataset
from queries.demo import generate_demo
from queries.filters import Filters
from queries.overview import Kpi, events_in, overview_kpis, top_movers, weekly_trend
from queries.rolled_up import RolledUpSource, open_rolled_up, ticket_rows
from queries.sla import SlaPolicy, load_sla_policy
from queries.transparency import transparency_figures
from queries.warehouse import Warehouse, connect_warehouse

TTL_SECONDS = 600
WAREHOUSE_CHECK_SECONDS = 60  # a warehouse has no file signature: look for new data this often


def ensure_demo(option: SourceOption) -> bool:
    """Generate the demo warehouse if it is not there yet; True when it was generated now."""
    target = Path(option.path)
    if (target / "tickets.parquet").exists():
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="demo-", dir=target.parent))
    try:
        generate_demo(staging, tickets_per_day=demo_tickets_per_day())
        if target.exists() and not (target / "tickets.parquet").exists():
            shutil.rmtree(target)  # an earlier, interrupted generation
        os.replace(staging, target)  # atomic: another session never sees half a demo
    except OSError:
        if not (target / "tickets.parquet").exists():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return True


def dataset(option: SourceOption) -> tuple[Dataset | RolledUpSource, str]:
    """The validated dataset of a source, reloaded when any of its files changes; extracts of at least
    BELLWETHER_ROLLUP_ROWS tickets are served from rollups instead of being held in memory."""
    signature = describe_source(option.path, option.mapping)
    if _ticket_rows(option.path, option.mapping, signature) >= rollup_threshold_rows():
        rolled = _rolled_up(option.path, option.mapping, signature, repr(load_sla_policy().rules))
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
    """`policy` (config/sla.toml's rules) only keys the cache: the rollups count SLA outcomes with it."""
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


@st.cache_data(ttl=TTL_SECONDS, max_entries=32, show_spinner=False)
def dimension_values(_ds: Source, signature: str, column: str) -> list[str]:
    """Distinct values of a ticket dimension, for the filter bar."""
    return distinct_values(_ds, column)


def overview(
    ds: Source, signature: str, filters: Filters
) -> tuple[list[Kpi], pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """KPI tiles, weekly trend, top movers and events for the Overview page (SLA policy read fresh)."""
    return _overview(ds, signature, filters, load_sla_policy())


@st.cache_data(ttl=TTL_SECONDS, max_entries=128, show_spinner=False)
def _overview(
    _ds: Source, signature: str, filters: Filters, sla_policy: SlaPolicy
) -> tuple[list[Kpi], pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    trend = weekly_trend(_ds, filters)
    first_week = trend["week"].min() if trend.height else filters.start
    kpis = overview_kpis(_ds, filters, sla_policy)
    return kpis, trend, top_movers(_ds, filters), events_in(_ds, filters, start=first_week)


@st.cache_data(ttl=TTL_SECONDS, max_entries=32, show_spinner="Forecasting and backtesting…")
def forecast_view(
    _ds: Dataset, signature: str, filters: Filters, by: str | None, horizon_days: int, model: str
) -> ForecastView:
    """Forecasts, scores and backtests for the Forecast & capacity page."""
    return planner.forecast_view(_ds, filters, by, horizon_days, model)


@st.cache_data(ttl=TTL_SECONDS, max_entries=64, show_spinner=False)
def capacity_plan(
    _ds: Dataset, signature: str, filters: Filters, horizon_days: int, scenario: Scenario
) -> pl.DataFrame:
    """Weekly demand vs supply per vendor under a scenario (forecast by policy domain, auto models)."""
    view = forecast_view(_ds, signature, filters, "policy_domain", horizon_days, "auto")
    return planner.capacity_plan(_ds, filters, view, scenario)[0]


@st.cache_data(ttl=TTL_SECONDS, max_entries=64, show_spinner=False)
def live_staffing(
    _ds: Dataset,
    signature: str,
    filters: Filters,
    horizon_days: int,
    day: dt.date,
    queues: tuple[planner.LiveQueue, ...],
    scenario: Scenario,
) -> pl.DataFrame:
    """Agents per half hour for the live queues on one forecast day."""
    view = forecast_view(_ds, signature, filters, None, horizon_days, "auto")
    return planner.live_staffing(_ds, filters, view, day, list(queues), scenario)


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


@st.cache_data(ttl=TTL_SECONDS, max_entries=32, show_spinner=False)
def dsa_own(_ds: Dataset, signature: str, start: dt.date, end: dt.date) -> pl.DataFrame:
    """Our own decisions on the DSA benchmark's scales."""
    return dsa.own_daily(_ds, start, end)


@st.cache_data(ttl=TTL_SECONDS, max_entries=32, show_spinner=False)
def transparency(_ds: Source, signature: str, filters: Filters) -> pl.DataFrame:
    """Every figure of the transparency pack for the filters."""
    return transparency_figures(_ds, filters)


def vendor_scorecard(ds: Dataset, signature: str, filters: Filters, by: tuple[str, ...]) -> pl.DataFrame:
    """Vendor scorecard with the previous period (SLA policy read fresh)."""
    return _vendor_scorecard(ds, signature, filters, by, load_sla_policy())


@st.cache_data(ttl=TTL_SECONDS, max_entries=64, show_spinner=False)
def _vendor_scorecard(
    _ds: Dataset, signature: str, filters: Filters, by: tuple[str, ...], sla_policy: SlaPolicy
) -> pl.DataFrame:
    return vendors.scorecard(_ds, filters, by, sla_policy=sla_policy)


def vendor_trend(ds: Dataset, signature: str, filters: Filters) -> pl.DataFrame:
    """Throughput, SLA, QA accuracy and overturns per vendor and full week (SLA policy read fresh)."""
    return _vendor_trend(ds, signature, filters, load_sla_policy())


@st.cache_data(ttl=TTL_SECONDS, max_entries=64, show_spinner=False)
def _vendor_trend(_ds: Dataset, signature: str, filters: Filters, sla_policy: SlaPolicy) -> pl.DataFrame:
    return vendors.trend(_ds, filters, sla_policy=sla_policy)


@st.cache_data(ttl=TTL_SECONDS, max_entries=64, show_spinner=False)
def vendor_capacity(
    _ds: Dataset, signature: str, filters: Filters, low_fte: float
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Handle time by vendor × domain, capacity matrices and coverage by language and by policy domain."""
    return (
        vendors.handle_time_by_domain(_ds, filters),
        vendors.language_capacity(_ds, filters),
        vendors.coverage(_ds, filters, "language", low_fte=low_fte),
        vendors.domain_capacity(_ds, filters),
        vendors.coverage(_ds, filters, "policy_domain", low_fte=low_fte),
    )


@st.cache_data(ttl=TTL_SECONDS, max_entries=64, show_spinner=False)
def qa_accuracy(
    _ds: Dataset, signature: str, filters: Filters, by: tuple[str, ...], period: str | None
) -> pl.DataFrame:
    """QA accuracy with Wilson intervals by groups and period."""
    return quality.qa_accuracy(_ds, filters, by, period)


@st.cache_data(ttl=TTL_SECONDS, max_entries=64, show_spinner=False)
def agreement(_ds: Dataset, signature: str, filters: Filters) -> pl.DataFrame:
    """Cohen's kappa between moderator and QA decisions per policy domain."""
    return quality.agreement(_ds, filters)


@st.cache_data(ttl=TTL_SECONDS, max_entries=64, show_spinner=False)
def error_types(_ds: Dataset, signature: str, filters: Filters) -> pl.DataFrame:
    """QA errors by type per vendor."""
    return quality.error_types(_ds, filters)


@st.cache_data(ttl=TTL_SECONDS, max_entries=64, show_spinner=False)
def sampling_plan(_ds: Dataset, signature: str, filters: Filters, margin: float) -> pl.DataFrame:
    """QA reviews needed per vendor × policy domain for ±margin at the observed accuracy."""
    return quality.sampling_plan(_ds, filters, margin)


@st.cache_data(ttl=TTL_SECONDS, max_entries=64, show_spinner=False)
def appeals(_ds: Dataset, signature: str, filters: Filters, by: str) -> pl.DataFrame:
    """Appeal and overturn rates with intervals by one grouping."""
    return quality.appeals(_ds, filters, [by])


@st.cache_data(ttl=TTL_SECONDS, max_entries=64, show_spinner="Looking for policy gaps…")
def policy_gaps(_ds: Dataset, signature: str, filters: Filters, by: tuple[str, ...]) -> pl.DataFrame:
    """Ranked policy-gap candidates with their evidence."""
    return quality.policy_gaps(_ds, filters, by)


@st.cache_data(ttl=TTL_SECONDS, max_entries=8, show_spinner=False)
def change_events(_ds: Dataset, signature: str) -> pl.DataFrame:
    """Policy changes and training events of the source."""
    return quality.change_events(_ds)


@st.cache_data(ttl=TTL_SECONDS, max_entries=64, show_spinner=False)
def training_effects(
    _ds: Dataset,
    signature: str,
    filters: Filters,
    start: dt.date,
    window_days: int,
    policy_domain: str | None,
    market: str | None,
) -> pl.DataFrame:
    """Error rates per vendor × policy domain before vs after an event."""
    return quality.training_effects(_ds, filters, start, window_days, policy_domain, market)


# --- Turnaround & SLA page ------------------------------------------------------------------------


@st.cache_data(ttl=TTL_SECONDS, max_entries=64, show_spinner=False)
def turnaround(
    _ds: Dataset, signature: str, filters: Filters, end: str, by: str | None, period: str
) -> turnaround_queries.TurnaroundView:
    """Percentiles over time and by group, the distribution and turnaround by source (Turnaround & SLA)."""
    return turnaround_queries.turnaround_view(_ds, filters, end, by, period)


def turnaround_headline(ds: Dataset, signature: str, filters: Filters) -> turnaround_queries.Headline:
    """Headline figures of the Turnaround & SLA page (SLA policy read fresh)."""
    return _turnaround_headline(ds, signature, filters, load_sla_policy())


@st.cache_data(ttl=TTL_SECONDS, max_entries=64, show_spinner=False)
def _turnaround_headline(
    _ds: Dataset, signature: str, filters: Filters, sla_policy: SlaPolicy
) -> turnaround_queries.Headline:
    return turnaround_queries.headline(_ds, filters, sla_policy)


def turnaround_sla(ds: Dataset, signature: str, filters: Filters, by: str) -> turnaround_queries.SlaView:
    """SLA attainment by `by` and the agreement with the source's sla_met (SLA policy read fresh)."""
    return _turnaround_sla(ds, signature, filters, by, load_sla_policy())


@st.cache_data(ttl=TTL_SECONDS, max_entries=64, show_spinner=False)
def _turnaround_sla(
    _ds: Dataset, signature: str, filters: Filters, by: str, sla_policy: SlaPolicy
) -> turnaround_queries.SlaView:
    return turnaround_queries.sla_view(_ds, filters, sla_policy, by)


@st.cache_data(ttl=TTL_SECONDS, max_entries=64, show_spinner=False)
def turnaround_backlog(_ds: Dataset, signature: str, filters: Filters) -> turnaround_queries.BacklogView:
    """Daily backlog flow, aging and the oldest open ticket per queue."""
    return turnaround_queries.backlog_view(_ds, filters)


@st.cache_data(ttl=TTL_SECONDS, max_entries=64, show_spinner=False)
def turnaround_exposure(_ds: Dataset, signature: str, filters: Filters) -> turnaround_queries.ExposureView:
    """Exposure by policy domain and the exposure-weighted ranking of the open backlog."""
    return turnaround_queries.exposure_view(_ds, filters)


@st.cache_data(ttl=TTL_SECONDS, max_entries=64, show_spinner=False)
def hour_of_week(_ds: Dataset, signature: str, filters: Filters) -> pl.DataFrame:
    """Arrivals and median time to first action by UTC weekday and hour."""
    return turnaround_queries.hour_of_week(_ds, filters)


@st.cache_data(ttl=TTL_SECONDS, max_entries=64, show_spinner=False)
def trend_volumes(_ds: Source, signature: str, filters: Filters, by: str | None, period: str) -> pl.DataFrame:
    """Tickets, share of mix and daily tickets per 1M DAU per period and group, for the Trends page."""
    return trend_queries.volume_over_time(_ds, filters, by, period)


@st.cache_data(ttl=TTL_SECONDS, max_entries=64, show_spinner=False)
def trend_events(_ds: Source, signature: str, filters: Filters, start: dt.date) -> pl.DataFrame:
    """Events from `start` to the end of the filters that concern the selected domains and markets."""
    return events_in(_ds, filters, start=start)


@st.cache_data(ttl=TTL_SECONDS, max_entries=32, show_spinner="Looking for spikes…")
def spike_scan(
    _ds: Source, signature: str, filters: Filters, by: tuple[str, ...], sensitivity: float, min_excess: float
) -> spike_queries.SpikeScan:
    """Spikes per group in the period (with the events that concern them) and the daily series behind them."""
    settings = spike_queries.SpikeSettings(sensitivity=sensitivity, min_excess_tickets=min_excess)
    scan = spike_queries.scan_spikes(_ds, filters, by, settings)
    spikes = spike_queries.with_events(scan.spikes, small_table(_ds, "events"))
    return spike_queries.SpikeScan(spikes, scan.daily, scan.by)


@st.cache_data(ttl=TTL_SECONDS, max_entries=64, show_spinner=False)
def spike_drill_down(
    _ds: Dataset,
    signature: str,
    filters: Filters,
    group: tuple[tuple[str, str | None], ...],
    start: dt.date,
    end: dt.date,
) -> spike_queries.DrillDown:
    """Contributions, turnaround and vendors of one spike."""
    return spike_queries.drill_down(_ds, filters, dict(group), start, end)


@st.cache_data(ttl=TTL_SECONDS, max_entries=32, show_spinner=False)
def emerging_trends(
    _ds: Source, signature: str, filters: Filters, by: tuple[str, ...], weeks: int
) -> tuple[pl.DataFrame, str]:
    """Groups whose weekly volume (per 1M DAU when known) kept growing, and the measure used."""
    return trend_queries.emerging_trends(_ds, filters, by, weeks)


FORECAST_BAND_HORIZON_DAYS = 56  # the Forecast & capacity page's default horizon, so both pages share one forecast


def forecast_band(ds: Dataset, signature: str, filters: Filters, domain: str | None) -> pl.DataFrame:
    """Past forecasts of the total (or one policy domain) against actuals, from the cached forecast view."""
    by = "policy_domain" if domain else None
    view = forecast_view(ds, signature, filters, by, FORECAST_BAND_HORIZON_DAYS, "auto")
    return trend_queries.band_breaches(view.backtests, domain or "total")


@st.cache_resource(ttl=TTL_SECONDS, max_entries=8, show_spinner=False)
def scoped(_ds: Dataset, signature: str, vendor: str) -> Dataset:
    """The dataset restricted to one vendor's rows (see queries.access)."""
    return scope_dataset(_ds, vendor)
