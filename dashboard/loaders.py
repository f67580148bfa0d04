"""The only place that caches: thin st.cache wrappers keyed on small primitives."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from pathlib import Path

import polars as pl
import streamlit as st

from dashboard.settings import SourceOption, demo_tickets_per_day
from forecasting import planner
from forecasting.plan import Scenario
from forecasting.planner import ForecastView
from queries.dataset import Dataset, describe_source, load_dataset
from queries.demo import generate_demo
from queries.filters import Filters
from queries.overview import Kpi, events_in, overview_kpis, top_movers, weekly_trend
from queries.sla import SlaPolicy, load_sla_policy

TTL_SECONDS = 600


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


def dataset(option: SourceOption) -> tuple[Dataset, str]:
    """The validated dataset of a source, reloaded when any of its files changes."""
    signature = describe_source(option.path, option.mapping)
    return _dataset(option.path, option.mapping, signature), signature


@st.cache_resource(ttl=TTL_SECONDS, max_entries=3, show_spinner="Reading and validating the source…")
def _dataset(path: str, mapping: str | None, signature: str) -> Dataset:
    return load_dataset(path, mapping)


@st.cache_data(ttl=TTL_SECONDS, max_entries=32, show_spinner=False)
def dimension_values(_ds: Dataset, signature: str, column: str) -> list[str]:
    """Distinct values of a ticket dimension, for the filter bar."""
    values = _ds.tables["tickets"].get_column(column).drop_nulls().unique().sort()
    return values.to_list()


def overview(
    ds: Dataset, signature: str, filters: Filters
) -> tuple[list[Kpi], pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """KPI tiles, weekly trend, top movers and events for the Overview page (SLA policy read fresh)."""
    return _overview(ds, signature, filters, load_sla_policy())


@st.cache_data(ttl=TTL_SECONDS, max_entries=128, show_spinner=False)
def _overview(
    _ds: Dataset, signature: str, filters: Filters, sla_policy: SlaPolicy
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
