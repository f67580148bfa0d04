"""Demand vs supply filtered alike: a vendor filter keeps that vendor's supply, a market or policy domain selection
gets the share of each vendor's supply that served it."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from forecasting.plan import ALLOCATION_WEEKS, Scenario, demand_vs_supply, planning_inputs
from forecasting.planner import ForecastView, capacity_plan, forecast_view
from queries.demo import generate_demo
from queries.filters import Filters
from queries.sources.dataset import Dataset, load_dataset

END = dt.date(2026, 3, 31)
PERIOD = Filters(END - dt.timedelta(days=27), END)
PLAN_COLUMNS = ["vendor", "week", "days", "workload_hours", "supply_fte", "required_fte", "gap_fte", "sla_projected"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    out = tmp_path_factory.mktemp("plan_filters") / "demo"
    generate_demo(out, days=120, tickets_per_day=400, seed=3, end=END)
    return load_dataset(out)


def flat_view(domains: list[str], level: float = 100.0, days: int = 28) -> ForecastView:
    """A forecast of `level` tickets a day in every domain, as capacity_plan reads it."""
    ds = [END + dt.timedelta(days=d) for d in range(1, days + 1)]
    forecasts = pl.DataFrame(
        {"series": [d for d in domains for _ in ds], "ds": ds * len(domains), "mean": level}
    ).with_columns(lo_80=pl.col("mean") * 0.8, hi_80=pl.col("mean") * 1.2, lo_95=0.7 * level, hi_95=1.3 * level)
    return ForecastView(pl.DataFrame(), forecasts, pl.DataFrame(), pl.DataFrame(), "")


def domains(ds: Dataset) -> list[str]:
    return ds.tables["tickets"]["policy_domain"].drop_nulls().unique().sort().to_list()


def test_a_vendor_filter_plans_that_vendor_against_its_own_supply(demo: Dataset):
    view = flat_view(domains(demo))
    everyone = capacity_plan(demo, PERIOD, view, Scenario())[0]
    vendor = everyone["vendor"].unique().sort()[0]
    one = capacity_plan(demo, replace(PERIOD, vendor=(vendor,)), view, Scenario())[0]
    assert one["vendor"].unique().to_list() == [vendor]
    # Supply does not depend on the forecast: the unfiltered plan's supply for that vendor (to the last bits of
    # floating point: the staffing hours are summed over fewer rows).
    mine = everyone.filter(pl.col("vendor") == vendor)
    assert one["supply_fte"].to_list() == pytest.approx(mine["supply_fte"].to_list(), rel=1e-12)


def test_a_vendor_filter_gives_the_unfiltered_row_for_the_same_forecast(demo: Dataset):
    everyone = planning_inputs(demo, PERIOD)
    vendor = everyone.supply["vendor"].sort()[0]
    one = planning_inputs(demo, replace(PERIOD, vendor=(vendor,)))
    assert_frame_equal(one.supply, everyone.supply.filter(pl.col("vendor") == vendor), check_exact=False, rel_tol=1e-12)
    # In the demo people review every ticket with a vendor: nothing is automated in the vendor's own tickets,
    # all of its work is its own (share 1), at its own handle time per domain.
    assert (one.automation["automated_share"] == 0).all()
    assert one.allocation["vendor"].unique().to_list() == [vendor] and (one.allocation["share"] == 1).all()
    mine = everyone.allocation.filter(pl.col("vendor") == vendor)
    assert_frame_equal(one.allocation.drop("share").sort("policy_domain"), mine.drop("share").sort("policy_domain"))
    # Forecast the vendor's tickets as exactly what the unfiltered plan gives it (domain forecast × human share ×
    # its share of the domain): the filtered plan's rows equal the unfiltered plan's row for the vendor.
    forecast = flat_view(domains(demo)).forecasts
    vendors_part = (
        forecast.join(everyone.automation, left_on="series", right_on="policy_domain")
        .join(mine.select("policy_domain", "share"), left_on="series", right_on="policy_domain")
        .with_columns(
            pl.col(c) * (1 - pl.col("automated_share")) * pl.col("share")
            for c in ("mean", "lo_80", "hi_80", "lo_95", "hi_95")
        )
        .select(forecast.columns)
    )
    expected = demand_vs_supply(forecast, everyone, Scenario()).filter(pl.col("vendor") == vendor)
    got = demand_vs_supply(vendors_part, one, Scenario())
    assert_frame_equal(got.select(PLAN_COLUMNS), expected.select(PLAN_COLUMNS), check_exact=False, rel_tol=1e-9)


def test_a_vendor_filter_with_forecasts_compares_like_with_like(demo: Dataset):
    view = forecast_view(demo, PERIOD, "policy_domain", 28, "seasonal_naive")
    everyone = capacity_plan(demo, PERIOD, view, Scenario())[0]
    vendor = everyone["vendor"].unique().sort()[0]
    scoped = replace(PERIOD, vendor=(vendor,))
    one = capacity_plan(demo, scoped, forecast_view(demo, scoped, "policy_domain", 28, "seasonal_naive"), Scenario())[0]
    mine = everyone.filter(pl.col("vendor") == vendor)
    assert one["vendor"].unique().to_list() == [vendor]
    assert one["supply_fte"].to_list() == pytest.approx(mine["supply_fte"].to_list(), rel=1e-12)
    # Demand: a forecast of the vendor's own tickets vs its share of each domain's forecast — close, not equal.
    assert one["workload_hours"].sum() == pytest.approx(mine["workload_hours"].sum(), rel=0.1)


def test_market_selections_share_out_each_vendors_supply(demo: Dataset):
    view = flat_view(domains(demo))
    everyone = capacity_plan(demo, PERIOD, view, Scenario())[0]
    markets = demo.tables["tickets"]["market"].drop_nulls().unique().sort().to_list()
    parts = pl.concat(capacity_plan(demo, replace(PERIOD, market=(m,)), view, Scenario())[0] for m in markets)
    # Every human decision has a market: the markets partition each vendor's work, so their supplies add up to it.
    added = parts.group_by("vendor", "week").agg(pl.col("supply_fte").sum()).sort("vendor", "week")
    assert_frame_equal(
        added, everyone.select("vendor", "week", "supply_fte").sort("vendor", "week"), check_exact=False, rel_tol=1e-9
    )


def test_a_market_gets_each_vendors_share_of_review_hours_there(demo: Dataset):
    everyone = planning_inputs(demo, PERIOD)
    market = "DE"
    inputs = planning_inputs(demo, replace(PERIOD, market=(market,)))
    # Independent computation: human review hours per vendor over the last 8 weeks (first action; the weeks that
    # allocate work), in the market over all of the vendor's.
    start = dt.datetime.combine(END - dt.timedelta(weeks=8) + dt.timedelta(days=1), dt.time())
    reviewed = demo.tables["tickets"].filter(
        (pl.col("first_action_at") >= start)
        & (pl.col("first_action_at") < dt.datetime.combine(END + dt.timedelta(days=1), dt.time()))
        & ~pl.col("automated").fill_null(False)
        & pl.col("vendor").is_not_null()
    )
    seconds = reviewed.group_by("vendor").agg(
        (pl.col("handle_seconds").filter(pl.col("market") == market).sum() / pl.col("handle_seconds").sum()).alias(
            "expected"
        )
    )
    got = inputs.supply.join(seconds, on="vendor", how="full", coalesce=True).sort("vendor")
    assert got["supply_share"].to_list() == pytest.approx(got["expected"].to_list(), rel=1e-12)
    # The vendor's own figures stay whole: its productive hours and rework rate are not the market's.
    assert_frame_equal(inputs.supply.drop("supply_share"), everyone.supply.drop("supply_share"))
    assert (everyone.supply["supply_share"] == 1).all()


def test_a_policy_domain_selection_is_apportioned_like_a_market(demo: Dataset):
    view = flat_view(domains(demo))
    everyone = capacity_plan(demo, PERIOD, view, Scenario())[0]
    parts = pl.concat(
        capacity_plan(demo, replace(PERIOD, policy_domain=(d,)), view, Scenario())[0] for d in domains(demo)
    )
    added = parts.group_by("vendor", "week").agg(pl.col("supply_fte").sum()).sort("vendor", "week")
    assert_frame_equal(
        added, everyone.select("vendor", "week", "supply_fte").sort("vendor", "week"), check_exact=False, rel_tol=1e-9
    )


def test_a_vendor_given_the_selections_work_is_given_the_supply_that_served_it(demo: Dataset):
    """Allocation and the selection's share of supply look at the same weeks: a vendor that reviewed the market
    only in the first 4 of the 8 allocation weeks is given demand there, so it gets the supply that served it."""
    start = END - dt.timedelta(weeks=ALLOCATION_WEEKS) + dt.timedelta(days=1)
    cut = dt.datetime.combine(start + dt.timedelta(weeks=4), dt.time())
    tickets = demo.tables["tickets"]
    vendor, market = (
        tickets.filter(pl.col("vendor").is_not_null()).select("vendor", "market").sort("vendor", "market").row(0)
    )
    gone = (pl.col("vendor") == vendor) & (pl.col("market") == market) & (pl.col("first_action_at") >= cut)
    stopped = replace(demo, tables={**demo.tables, "tickets": tickets.filter(~gone.fill_null(False))})
    inputs = planning_inputs(stopped, replace(PERIOD, market=(market,)))
    assert vendor in inputs.allocation["vendor"].to_list()
    assert inputs.supply.filter(pl.col("vendor") == vendor)["supply_share"][0] > 0
