"""Capacity planning: backlog identities, FTE arithmetic, demand vs supply, and scenario storage."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecasting.capacity import StaffingAssumptions, backlog_projection, required_fte, workload_hours
from forecasting.plan import Hiring, Scenario, demand_by_vendor, demand_vs_supply, planning_inputs, supply_by_vendor
from forecasting.scenarios import ScenarioStore
from queries.dataset import load_dataset
from queries.demo import generate_demo

END = dt.date(2026, 3, 31)


@given(
    st.lists(st.tuples(st.floats(0, 500), st.floats(0, 500)), min_size=1, max_size=60),
    st.floats(0, 1000),
)
@settings(max_examples=200, deadline=None)
def test_backlog_identity_holds_exactly(days, initial):
    arrivals, capacity = [a for a, _ in days], [c for _, c in days]
    out = backlog_projection(arrivals, capacity, initial_backlog=initial)
    previous = initial
    for a, c, b, cleared in zip(arrivals, capacity, out["backlog_end"], out["cleared"], strict=True):
        assert b == max(0.0, previous + a - c)
        assert cleared == pytest.approx(min(c, previous + a), abs=1e-6)
        previous = b


def test_sla_share_by_cohort():
    # Day 0: 10 arrive, capacity 6 → 4 wait; day 1: 2 arrive, capacity 6 → the 4 old ones and the 2 new are cleared.
    out = backlog_projection([10, 2, 0], [6, 6, 6], sla_days=1)
    assert out["sla_met_share"].to_list() == [0.6, 1.0, None]
    out = backlog_projection([10, 2, 0], [6, 6, 6], sla_days=2)  # 48 h: next day is in time
    assert out["sla_met_share"].to_list()[:2] == [1.0, 1.0]
    waiting = backlog_projection([10, 50], [6, 6])
    assert waiting["sla_met_share"].to_list() == [0.6, None]  # day 1's arrivals are not all cleared yet


def test_fte_arithmetic():
    a = StaffingAssumptions(paid_hours_per_fte_day=8, shrinkage=0.3, max_occupancy=0.8)
    assert workload_hours(1200, 60) == 20
    assert required_fte(20, a) == pytest.approx(20 / (8 * 0.7 * 0.8))
    with pytest.raises(ValueError):
        StaffingAssumptions(shrinkage=1.0)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("plan") / "demo"
    generate_demo(out, days=120, tickets_per_day=400, seed=2, end=END)
    return load_dataset(out)


def flat_forecast(domains: list[str], days: int = 28, level: float = 100.0) -> pl.DataFrame:
    ds = [END + dt.timedelta(days=d) for d in range(1, days + 1)]
    return pl.DataFrame(
        {
            "series": [d for d in domains for _ in ds],
            "ds": ds * len(domains),
            "mean": level,
            "lo_80": level * 0.8,
            "hi_80": level * 1.2,
            "lo_95": level * 0.7,
            "hi_95": level * 1.3,
        }
    )


def test_demand_follows_forecast_automation_and_uplift(demo):
    inputs = planning_inputs(demo, END)
    domains = inputs.automation["policy_domain"].to_list()
    forecast = flat_forecast(domains)
    base = demand_by_vendor(forecast, inputs, Scenario())
    auto = dict(inputs.automation.iter_rows())
    covered = set(inputs.allocation["policy_domain"])
    expected = sum(100 * (1 - auto[d]) for d in domains if d in covered) * 28
    assert base["human_tickets"].sum() == pytest.approx(expected)
    up = demand_by_vendor(forecast, inputs, Scenario(volume_uplift=0.2))
    assert up["human_tickets"].sum() == pytest.approx(1.2 * expected)
    vendors = inputs.allocation["vendor"].unique().sort().to_list()
    shifted = demand_by_vendor(forecast, inputs, Scenario(vendor_shift=((vendors[0], vendors[1], 1.0),)))
    assert shifted["human_tickets"].sum() == pytest.approx(expected)  # shifting moves work, never loses it
    assert shifted.filter(pl.col("vendor") == vendors[0])["human_tickets"].sum() == pytest.approx(0.0)


def test_hiring_ramps_and_attrition_decays_supply(demo):
    inputs = planning_inputs(demo, END)
    days = [END + dt.timedelta(days=d) for d in range(1, 85)]
    vendor = inputs.supply["vendor"][0]
    base = supply_by_vendor(inputs, Scenario(attrition_annual=0.0), days).filter(pl.col("vendor") == vendor)
    hired = supply_by_vendor(
        inputs, Scenario(attrition_annual=0.0, hiring=(Hiring(vendor, fte=5, start_week=2, ramp_weeks=4),)), days
    ).filter(pl.col("vendor") == vendor)
    rework = inputs.supply.filter(pl.col("vendor") == vendor)["rework_share"][0]
    extra = (hired["supply_hours"] - base["supply_hours"]).to_list()
    assert extra[:7] == [0.0] * 7  # nothing before week 2
    assert extra[-1] == pytest.approx(5 * 8 * (1 - 0.32) * (1 - rework))  # fully ramped
    assert extra[7 + 13] == pytest.approx(extra[-1] * 14 / 28)  # half-way through a 4-week ramp
    decayed = supply_by_vendor(inputs, Scenario(attrition_annual=0.4), days).filter(pl.col("vendor") == vendor)
    assert decayed["supply_hours"][-1] == pytest.approx(base["supply_hours"][-1] * 0.6 ** (84 / 365))


def test_demand_vs_supply_weekly_gap_and_upper_bound(demo):
    inputs = planning_inputs(demo, END)
    forecast = flat_forecast(inputs.automation["policy_domain"].to_list())
    plan = demand_vs_supply(forecast, inputs, Scenario())
    assert plan.height == inputs.supply.height * 4 + inputs.supply.height  # 28 days from a Wednesday: 5 weeks
    assert (plan["required_fte_hi_80"] >= plan["required_fte"]).all()
    assert (plan["gap_fte"] == plan["supply_fte"] - plan["required_fte"]).all()
    idle = demand_vs_supply(forecast, inputs, Scenario(vendor_shift=((plan["vendor"][0], plan["vendor"][1], 1.0),)))
    no_work = idle.filter(pl.col("workload_hours") == 0)
    assert no_work.height and no_work["sla_projected"].null_count() == no_work.height  # not NaN: no work, no share
    stressed = demand_vs_supply(forecast, inputs, Scenario(volume_uplift=3.0))
    assert stressed["backlog_hours_end"].sum() > plan["backlog_hours_end"].sum()
    assert stressed["gap_fte"].sum() < plan["gap_fte"].sum()


def test_scenarios_are_versioned_never_overwritten(tmp_path: Path):
    store = ScenarioStore.sqlite_file(tmp_path / "s.db")
    first = Scenario(volume_uplift=0.2, hiring=(Hiring("atlas_cx", 3, 2, 6),))
    assert store.save("election", first, "ana") == 1
    assert store.save("election", Scenario(volume_uplift=0.4), "ben") == 2
    assert store.load("election", 1).scenario == first
    assert store.load("election").scenario.volume_uplift == 0.4
    assert store.list()["version"].to_list() == [2, 1]
    with pytest.raises(KeyError):
        store.load("nothing")


WRITER = """
import sys
from forecasting.plan import Scenario
from forecasting.scenarios import ScenarioStore
store = ScenarioStore(sys.argv[1])
for i in range(15):
    store.save(sys.argv[3], Scenario(volume_uplift=int(sys.argv[2]) + i / 100), "worker-" + sys.argv[2])
"""


def _store_urls() -> list:
    """SQLite always; PostgreSQL when .ci/postgres.sh started one (CI requires it)."""
    url = os.environ.get("BELLWETHER_TEST_POSTGRES_URL")
    required = os.environ.get("BELLWETHER_REQUIRE_POSTGRES") == "1"
    if required and not url:
        raise RuntimeError("BELLWETHER_REQUIRE_POSTGRES=1 but BELLWETHER_TEST_POSTGRES_URL is not set")
    reason = "no PostgreSQL server (set BELLWETHER_TEST_POSTGRES_URL, e.g. via .ci/postgres.sh); CI requires it"
    return ["sqlite", pytest.param(url, id="postgresql", marks=pytest.mark.skipif(not url, reason=reason))]


@pytest.mark.parametrize("url", _store_urls())
def test_concurrent_saves_from_processes_and_threads_lose_nothing(tmp_path: Path, url: str):
    url = f"sqlite:///{tmp_path / 'race.db'}" if url == "sqlite" else url
    name = f"shared-{uuid.uuid4().hex[:8]}"  # a fresh name: a server database outlives the test
    ScenarioStore(url)
    repo = Path(__file__).resolve().parent.parent
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, url, str(w), name], cwd=repo, stderr=subprocess.PIPE, text=True)
        for w in range(4)
    ]
    store = ScenarioStore(url)
    threads = [
        threading.Thread(target=lambda w=w: [store.save(name, Scenario(volume_uplift=w), "thread") for _ in range(5)])
        for w in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for p in procs:
        assert p.wait(120) == 0, p.stderr.read()
    saved = ScenarioStore(url).list().filter(pl.col("name") == name)
    assert saved.height == 4 * 15 + 3 * 5
    assert sorted(saved["version"].to_list()) == list(range(1, saved.height + 1))
