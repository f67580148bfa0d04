"""Capacity planning: backlog identities, FTE arithmetic, demand vs supply (scenario storage: test_scenario_store)."""

from __future__ import annotations

import datetime as dt
from collections import deque
from dataclasses import replace

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecasting.capacity import StaffingAssumptions, backlog_projection, required_fte, workload_hours
from forecasting.plan import (
    UNSKILLED,
    EventUplift,
    Hiring,
    PlanningInputs,
    RosterLine,
    Scenario,
    coverage_by,
    demand_by_domain,
    demand_by_vendor,
    demand_vs_supply,
    plan_headline,
    planning_inputs,
    staffed_coverage,
    supply_by_vendor,
)
from queries.demo import generate_demo
from queries.filters import Filters
from queries.sources.dataset import load_dataset

END = dt.date(2026, 3, 31)
PERIOD = Filters(END - dt.timedelta(days=27), END)


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


def test_backlog_and_sla_match_a_hand_computation():
    # A fluid first-in-first-out queue: each day's arrivals and capacity are spread evenly over the day (t in days).
    # 12 h of work arrive on day 0 and 4 h can be cleared a day: cleared so far D(t) = 4t while work waits,
    # arrived A(t) = 12t on day 0. Backlog at the end of each day: 8, 4, 0.
    # Work arriving at t is cleared when D reaches A(t), at 3t: it waits 2t days, so with a 24 h window it is in
    # time for t <= 0.5 — half of day 0's work (counting only work cleared on its own day would say 4 of 12).
    out = backlog_projection([12, 0, 0], [4, 4, 4], sla_days=1)
    assert out["backlog_end"].to_list() == [8, 4, 0]
    assert out["cleared"].to_list() == [4, 4, 4]
    assert out["sla_met_share"].to_list() == [pytest.approx(0.5), None, None]  # no arrivals: no share
    # 12 h window: waits 2t <= 0.5 for t <= 0.25; 48 h: every arrival waits at most 2 days.
    assert backlog_projection([12, 0, 0], [4, 4, 4], sla_days=0.5)["sla_met_share"][0] == pytest.approx(0.25)
    assert backlog_projection([12, 0, 0], [4, 4, 4], sla_days=2)["sla_met_share"][0] == pytest.approx(1.0)
    # 4 h of older work first: day 0's work at t is cleared when D = 4 + 12t, at 1 + 3t, after more than a day.
    behind = backlog_projection([12, 0, 0, 0], [4, 4, 4, 4], initial_backlog=4, sla_days=1)
    assert behind["backlog_end"].to_list() == [12, 8, 4, 0]
    assert behind["sla_met_share"][0] == pytest.approx(0.0)
    # Work carried overnight can still be in time: 10 h then 2 h arrive, 6 h a day can be cleared. Day 0 ends with
    # 4 h waiting; day 0's work at t is cleared at 10t/6 <= t + 1 for every t < 1, and day 1's before day 2 ends.
    out = backlog_projection([10, 2, 0], [6, 6, 6], sla_days=1)
    assert out["sla_met_share"].to_list() == [pytest.approx(1.0), pytest.approx(1.0), None]
    # Work still waiting when the horizon ends, its window not over: unknown (null), not counted either way.
    assert backlog_projection([10, 50], [6, 6])["sla_met_share"].to_list() == [pytest.approx(1.0), None]


def _reference_sla_shares(arrivals: list[float], capacity: list[float], sla_days: float, steps: int = 400) -> list:
    """Plain-loop reference: every day cut into `steps` slices, served first in first out slice by slice; work
    arriving in slice i and cleared in slice j is in time when j - i <= sla_days * steps."""
    queue: deque[list] = deque()  # [arrival day, arrival slice, amount left]
    in_time = [0.0] * len(arrivals)
    for day, (a, c) in enumerate(zip(arrivals, capacity, strict=True)):
        for k in range(steps):
            now = day * steps + k
            queue.append([day, now, a / steps])
            left = c / steps
            while queue and left > 1e-15:
                take = min(queue[0][2], left)
                queue[0][2] -= take
                left -= take
                if now - queue[0][1] <= sla_days * steps:
                    in_time[queue[0][0]] += take
                if queue[0][2] <= 1e-15:
                    queue.popleft()
    return [in_time[d] / a if a else None for d, a in enumerate(arrivals)]


@pytest.mark.parametrize(
    ("arrivals", "capacity", "sla_days"),
    [
        ([7.3, 1.1, 9.4, 0.0, 2.2, 5.0, 3.3], [4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0], 1.0),
        ([5.0, 12.0, 3.0, 0.5, 8.0, 1.0, 6.0], [6.5, 2.0, 7.0, 9.0, 3.0, 5.0, 8.0], 1.0),
        ([20.0, 0.0, 0.0, 0.0, 0.0, 0.0], [3.0, 6.0, 2.0, 5.0, 7.0, 9.0], 2.0),
        ([4.0, 9.0, 2.0, 11.0, 1.0, 0.0, 0.0], [5.5, 5.5, 5.5, 5.5, 5.5, 5.5, 5.5], 0.5),
    ],
)
def test_sla_shares_agree_with_a_fine_grained_simulation(arrivals, capacity, sla_days):
    shares = backlog_projection(arrivals, capacity, sla_days=sla_days)["sla_met_share"].to_list()
    reference = _reference_sla_shares(arrivals, capacity, sla_days)
    known = [(s, r) for s, r in zip(shares, reference, strict=True) if s is not None]
    assert known
    for share, ref in known:
        assert share == pytest.approx(ref, abs=0.01)


def test_weekly_sla_matches_a_hand_computation():
    # One vendor, one domain, no automation, 1 h a ticket: workload = the forecast. 4 h of capacity a day
    # (no attrition, rework or occupancy cap). Sunday 5 April 2026 is alone in its week; then Monday 6 to Sunday 12.
    # Sunday: 12 h arrive → half in time, as in the hand computation above: 6 h met of 12; 8 h wait overnight.
    # Monday to Sunday, 2 h a day: while work waits D(t) = 4t, the queue drains 2 h a day and empties on Friday
    # (t = 5). Work arriving at 1 <= t < 5 has 12 + 2(t - 1) ahead of it, cleared at (10 + 2t)/4 <= t + 1 iff t >= 3:
    # Monday and Tuesday none in time, Wednesday onwards all → 10 h met of 14.
    # Backlog at the end of each day: 8, 6, 4, 2, 0, 0, 0, 0 → 8 at the end of the first week, 0 of the second.
    days = [dt.date(2026, 4, 5) + dt.timedelta(days=d) for d in range(8)]
    load = [12.0] + [2.0] * 7
    forecast = pl.DataFrame({"series": "spam", "ds": days, "mean": load}).with_columns(
        lo_80=pl.col("mean"), hi_80=pl.col("mean"), lo_95=pl.col("mean"), hi_95=pl.col("mean")
    )
    inputs = PlanningInputs(
        automation=pl.DataFrame({"policy_domain": ["spam"], "automated_share": [0.0]}),
        allocation=pl.DataFrame({"policy_domain": ["spam"], "vendor": ["v"], "share": [1.0], "aht_seconds": [3600.0]}),
        supply=pl.DataFrame(
            {"vendor": ["v"], "productive_hours_per_day": [4.0], "rework_share": [0.0], "supply_share": [1.0]}
        ),
        history_start=dt.date(2026, 2, 9),
        history_end=dt.date(2026, 4, 4),
    )
    plan = demand_vs_supply(forecast, inputs, Scenario(attrition_annual=0.0, max_occupancy=1.0))
    assert plan["week"].to_list() == [dt.date(2026, 3, 30), dt.date(2026, 4, 6)]
    assert plan["days"].to_list() == [1, 7]
    assert plan["workload_hours"].to_list() == [12.0, 14.0]
    assert plan["backlog_hours_end"].to_list() == [8.0, 0.0]
    assert plan["sla_projected"].to_list() == [pytest.approx(6 / 12), pytest.approx(10 / 14)]


def test_an_event_lifts_its_market_share_of_its_domain_on_its_days_only():
    """Two domains, 10 tickets a day each, no automation, 1 h a ticket. DE has 30 % of spam and 80 % of hate; an
    event in DE from day 2 to day 3 at +50 % adds 10 × 0.5 × 0.3 = 1.5 spam tickets on those days only, and an
    all-market hate event on day 4 alone adds 10 × 1.0 = 10."""
    days = [dt.date(2026, 4, 6) + dt.timedelta(days=d) for d in range(5)]
    forecast = pl.DataFrame({"series": ["spam"] * 5 + ["hate"] * 5, "ds": days * 2, "mean": [10.0] * 10}).with_columns(
        lo_80=pl.col("mean"), hi_80=pl.col("mean"), lo_95=pl.col("mean"), hi_95=pl.col("mean")
    )
    inputs = PlanningInputs(
        automation=pl.DataFrame({"policy_domain": ["spam", "hate"], "automated_share": [0.0, 0.0]}),
        allocation=pl.DataFrame(
            {"policy_domain": ["spam", "hate"], "vendor": ["v", "v"], "share": [1.0, 1.0], "aht_seconds": [3600.0] * 2}
        ),
        supply=pl.DataFrame(
            {"vendor": ["v"], "productive_hours_per_day": [4.0], "rework_share": [0.0], "supply_share": [1.0]}
        ),
        history_start=dt.date(2026, 2, 9),
        history_end=dt.date(2026, 4, 5),
        market_mix=pl.DataFrame(
            {"policy_domain": ["spam", "spam", "hate", "hate"], "market": ["DE", "US", "DE", "US"],
             "share": [0.3, 0.7, 0.8, 0.2]}
        ),
    )  # fmt: skip
    events = (
        EventUplift(0.5, None, "DE", days[1], days[2]),  # every domain, in DE
        EventUplift(1.0, "hate", None, days[3], days[3]),
    )
    demand = demand_by_domain(forecast, inputs, Scenario(events=events)).sort("policy_domain", "ds")
    expected = {
        "spam": [10, 11.5, 11.5, 10, 10],
        "hate": [10, 10 + 10 * 0.5 * 0.8, 14, 20, 10],
    }
    for domain, tickets in expected.items():
        assert demand.filter(pl.col("policy_domain") == domain)["human_tickets"].to_list() == pytest.approx(tickets)
    without_markets = replace(inputs, market_mix=None)
    with pytest.raises(ValueError, match="market DE needs the tickets' market"):
        demand_by_domain(forecast, without_markets, Scenario(events=events))


def _two_vendor_inputs() -> PlanningInputs:
    """Vendors a and b share spam 60/40 and hate 60/40 (handle 60 s at a, 120 s at b); a has 40 productive hours a
    day, b 20; no rework; both serve the whole selection."""
    return PlanningInputs(
        automation=pl.DataFrame({"policy_domain": ["spam", "hate"], "automated_share": [0.0, 0.0]}),
        allocation=pl.DataFrame(
            {
                "policy_domain": ["spam", "spam", "hate", "hate"],
                "vendor": ["a", "b", "a", "b"],
                "share": [0.6, 0.4, 0.6, 0.4],
                "aht_seconds": [60.0, 120.0, 60.0, 120.0],
            }
        ),
        supply=pl.DataFrame(
            {"vendor": ["a", "b"], "productive_hours_per_day": [40.0, 20.0], "rework_share": [0.0, 0.0],
             "supply_share": [1.0, 1.0]}
        ),
        history_start=dt.date(2026, 2, 9),
        history_end=dt.date(2026, 4, 5),
    )  # fmt: skip


def test_a_coverage_minimum_raises_required_fte_to_what_keeps_the_floor_staffed_around_the_clock():
    """100 spam and 100 hate tickets a day for a week, no automation: a reviews 120 a day at 60 s = 2 h, b 80 at
    120 s = 8/3 h; FTE give 8 × (1 − 0.32) productive hours a day, work at most 85 % of them. a keeps 0.5 reviewers
    on the floor: 12 h a day = 12 / 5.44 FTE, more than its 2 h of work need; b's 0.01 (0.24 h a day) binds not."""
    days = [dt.date(2026, 4, 6) + dt.timedelta(days=d) for d in range(7)]
    forecast = pl.DataFrame(
        {"series": [d for d in ("spam", "hate") for _ in days], "ds": days * 2, "mean": 100.0}
    ).with_columns(lo_80=pl.col("mean"), hi_80=pl.col("mean"), lo_95=pl.col("mean"), hi_95=pl.col("mean"))
    roster = (RosterLine("a", min_on_floor=0.5), RosterLine("b", min_on_floor=0.01))
    plan = demand_vs_supply(forecast, _two_vendor_inputs(), Scenario(attrition_annual=0.0, roster=roster))
    rows = {r["vendor"]: r for r in plan.iter_rows(named=True)}
    productive = 8 * (1 - 0.32)
    assert rows["a"]["coverage_fte"] == pytest.approx(0.5 * 24 / productive)
    assert rows["a"]["required_fte"] == pytest.approx(12 / productive)  # the floor, not the 2 h of work
    assert rows["a"]["required_fte_hi_80"] == pytest.approx(12 / productive)
    assert rows["a"]["gap_fte"] == pytest.approx(40 / productive - 12 / productive)  # supply: 40 h a day
    assert rows["b"]["coverage_fte"] == pytest.approx(0.24 / productive)
    assert rows["b"]["required_fte"] == pytest.approx((8 / 3) / (productive * 0.85))  # the work binds
    without = demand_vs_supply(forecast, _two_vendor_inputs(), Scenario(attrition_annual=0.0))
    assert without["coverage_fte"].to_list() == [0.0, 0.0]
    assert without["supply_fte"].to_list() == plan["supply_fte"].to_list()  # coverage needs people, gives none
    # A selection's share of a vendor's supply needs the same share of its floor.
    half = replace(_two_vendor_inputs(), supply=_two_vendor_inputs().supply.with_columns(supply_share=0.5))
    selected = demand_vs_supply(forecast, half, Scenario(attrition_annual=0.0, roster=roster))
    assert selected.filter(pl.col("vendor") == "a")["required_fte"][0] == pytest.approx(6 / productive)


def test_coverage_from_staffing_rows_matches_a_hand_computation():
    """Over 2 and 3 April: a's English line keeps 0.5 reviewers through 16 h, then 8 h (8 + 4 = 12 reviewer-hours,
    6 a day); its German line 1 reviewer on 2 April, covered hours empty = 24 (12 a day); 1 April is outside; b's
    line has no minimum. 18 h a day for a = 18 / (8 × 0.68) FTE, raising its required FTE over its 2 h of work; the
    roster's 0.25 reviewers (6 h a day) replace the staffing's; a selection needs its supply_share of it, and supply
    net of rework the same share less."""
    day = dt.date(2026, 4, 1)
    staffing = pl.DataFrame(
        {
            "date": [day, day + dt.timedelta(1), day + dt.timedelta(2), day + dt.timedelta(1), day + dt.timedelta(1)],
            "vendor": ["a", "a", "a", "a", "b"],
            "language": ["en", "en", "en", "de", "en"],
            "min_on_floor": [10.0, 0.5, 0.5, 1.0, None],
            "covered_hours": [24.0, 16.0, 8.0, None, 24.0],
        }
    )
    coverage = staffed_coverage(staffing, Filters(day + dt.timedelta(1), day + dt.timedelta(2)))
    assert coverage.rows() == [("a", "de", 12.0), ("a", "en", 6.0)]
    assert staffed_coverage(staffing.drop("min_on_floor"), Filters(day, day)) is None  # no minimum: as before

    productive = 8 * (1 - 0.32)
    inputs = replace(_two_vendor_inputs(), coverage=coverage)
    by_language = coverage_by(inputs, Scenario(), ("vendor", "language")).sort("language")
    assert by_language["coverage_fte"].to_list() == pytest.approx([12 / productive, 6 / productive])
    days = [dt.date(2026, 4, 6) + dt.timedelta(days=d) for d in range(7)]
    forecast = pl.DataFrame(
        {"series": [d for d in ("spam", "hate") for _ in days], "ds": days * 2, "mean": 100.0}
    ).with_columns(lo_80=pl.col("mean"), hi_80=pl.col("mean"), lo_95=pl.col("mean"), hi_95=pl.col("mean"))
    rows = {
        r["vendor"]: r for r in demand_vs_supply(forecast, inputs, Scenario(attrition_annual=0.0)).iter_rows(named=True)
    }
    assert rows["a"]["coverage_fte"] == pytest.approx(18 / productive)
    assert rows["a"]["required_fte"] == pytest.approx(18 / productive)  # not its 2 h of work a day
    assert rows["b"]["coverage_fte"] == 0.0
    assert rows["b"]["required_fte"] == pytest.approx((8 / 3) / (productive * 0.85))
    roster = Scenario(attrition_annual=0.0, roster=(RosterLine("a", min_on_floor=0.25),))
    overridden = demand_vs_supply(forecast, inputs, roster).filter(pl.col("vendor") == "a")
    assert overridden["coverage_fte"][0] == pytest.approx(6 / productive)
    assert coverage_by(inputs, roster, ("vendor", "language")).is_empty()  # the roster's is the vendor's only
    half = replace(inputs, supply=inputs.supply.with_columns(supply_share=0.5))
    selected = demand_vs_supply(forecast, half, Scenario(attrition_annual=0.0)).filter(pl.col("vendor") == "a")
    assert selected["coverage_fte"][0] == pytest.approx(9 / productive)
    # Supply is net of rework; the floor is presence, so it needs the same share less: 10 % rework, 90 % of it.
    reworked = replace(inputs, supply=inputs.supply.with_columns(rework_share=0.1))
    net = demand_vs_supply(forecast, reworked, Scenario(attrition_annual=0.0)).filter(pl.col("vendor") == "a")
    assert net["coverage_fte"][0] == pytest.approx(0.9 * 18 / productive)
    assert net["gap_fte"][0] == pytest.approx(0.9 * (40 - 18) / productive)  # presence 40 h a day against 18


def test_a_roster_replaces_the_history_of_its_vendors():
    """a: 10 FTE at 40 % shrinkage = 10 × 8 × 0.6 = 48 h a day, halving over a year (attrition 0.5); b: its 20 h
    at the plan's 32 % shrinkage rescaled to 45 % = 20 × 0.55 / 0.68; c: on the roster only, 3 FTE at 32 %."""
    days = [dt.date(2026, 4, 6), dt.date(2026, 4, 6) + dt.timedelta(days=364)]
    roster = (
        RosterLine("a", fte=10.0, attrition_annual=0.5, shrinkage=0.4),
        RosterLine("b", shrinkage=0.45),
        RosterLine("c", fte=3.0),
    )
    supply = supply_by_vendor(_two_vendor_inputs(), Scenario(attrition_annual=0.0, roster=roster), days)
    hours = {(r["vendor"], r["ds"]): r["supply_hours"] for r in supply.iter_rows(named=True)}
    assert hours["a", days[0]] == pytest.approx(48 * 0.5 ** (1 / 365))
    assert hours["a", days[1]] == pytest.approx(48 * 0.5)
    assert hours["b", days[0]] == pytest.approx(20 * 0.55 / 0.68)
    assert hours["c", days[0]] == pytest.approx(3 * 8 * 0.68)
    untouched = supply_by_vendor(_two_vendor_inputs(), Scenario(attrition_annual=0.0), days)
    assert untouched.filter(pl.col("vendor") == "b")["supply_hours"].to_list() == [20.0, 20.0]


def test_skills_move_work_to_the_vendors_skilled_for_it():
    """10 tickets a day per domain. a may only review spam: hate goes wholly to b (10 tickets at 120 s); b may only
    review hate: spam goes wholly to a. With neither skilled for hate, it goes to UNSKILLED at its handle time."""
    forecast = pl.DataFrame(
        {"series": ["spam", "hate"], "ds": [dt.date(2026, 4, 6)] * 2, "mean": [10.0, 10.0]}
    ).with_columns(lo_80=pl.col("mean"), hi_80=pl.col("mean"), lo_95=pl.col("mean"), hi_95=pl.col("mean"))
    roster = (RosterLine("a", domains=("spam",)), RosterLine("b", domains=("hate",)))
    demand = demand_by_domain(forecast, _two_vendor_inputs(), Scenario(roster=roster))
    tickets = {(r["vendor"], r["policy_domain"]): r["human_tickets"] for r in demand.iter_rows(named=True)}
    assert tickets == {("a", "spam"): pytest.approx(10.0), ("b", "hate"): pytest.approx(10.0)}
    nobody = (RosterLine("a", domains=("spam",)), RosterLine("b", domains=("spam",)))
    demand = demand_by_domain(forecast, _two_vendor_inputs(), Scenario(roster=nobody))
    orphan = demand.filter(pl.col("vendor") == UNSKILLED).row(0, named=True)
    assert orphan["policy_domain"] == "hate" and orphan["human_tickets"] == pytest.approx(10.0)
    assert orphan["workload_hours"] == pytest.approx((6 * 60 + 4 * 120) / 3600)  # the work it was
    assert demand["human_tickets"].sum() == pytest.approx(20.0)  # no work lost


def test_headline_names_the_worst_vendor_week_and_weights_sla_by_work():
    w1, w2 = dt.date(2026, 4, 6), dt.date(2026, 4, 13)
    plan = pl.DataFrame(
        {
            "vendor": ["a", "a", "b", "b"],
            "week": [w1, w2, w1, w2],
            "days": [7, 1, 7, 1],  # the second week is a one-day partial week
            "required_fte": [10.0, 12.0, 5.0, 5.0],
            "supply_fte": [11.0, 10.0, 5.5, 10.0],
            "gap_fte": [1.0, -2.0, 0.5, 5.0],  # week 2 nets to +3.0 and would hide vendor a's deficit
            "backlog_hours_end": [0.0, 3.0, 0.0, 0.0],
            "workload_hours": [70.0, 2.0, 35.0, 1.0],
            "sla_met_hours": [70.0, 0.2, 35.0, 1.0],
            "sla_measured_hours": [70.0, 2.0, 35.0, 1.0],
        }
    )
    h = plan_headline(plan)
    assert (h.worst_group, h.worst_week, h.worst_gap_fte) == (("a",), w2, -2.0)
    assert (h.group_weeks_in_deficit, h.group_weeks) == (1, 4)
    # Work-weighted: (70 + 0.2 + 35 + 1) / (70 + 2 + 35 + 1); the mean of the four weekly shares would be 0.775.
    assert h.projected_sla == pytest.approx(106.2 / 108)
    # Required FTE per day of the horizon, all vendors: (15 × 7 + 17 × 1) / 8 days, not the mean of 15 and 17.
    assert h.required_fte_avg == pytest.approx((15 * 7 + 17) / 8)
    assert h.supply_fte_avg == pytest.approx((16.5 * 7 + 20) / 8)
    assert h.backlog_hours_at_end == 3.0
    nothing_measured = plan.with_columns(pl.lit(0.0).alias("sla_met_hours"), pl.lit(0.0).alias("sla_measured_hours"))
    assert plan_headline(nothing_measured).projected_sla is None


def test_headline_at_a_split_names_the_worst_group_week_by_its_keys_and_has_no_supply_figures_without_supply():
    week = dt.date(2026, 4, 6)
    plan = pl.DataFrame(
        {
            "vendor": ["a", "a", "b"],
            "language": ["de", "en", "de"],
            "week": [week] * 3,
            "days": [7] * 3,
            "required_fte": [2.0, 3.0, 1.0],
            "supply_fte": [2.5, 2.0, 1.0],
            "gap_fte": [0.5, -1.0, 0.0],
            "backlog_hours_end": [0.0, 4.0, 1.0],
            "sla_met_hours": [10.0, 5.0, 5.0],
            "sla_measured_hours": [10.0, 10.0, 5.0],
        }
    )
    h = plan_headline(plan, keys=("vendor", "language"))
    assert (h.worst_group, h.worst_gap_fte, h.group_weeks_in_deficit, h.group_weeks) == (("a", "en"), -1.0, 1, 3)
    assert (h.required_fte_avg, h.supply_fte_avg, h.backlog_hours_at_end) == (6.0, 5.5, 5.0)
    assert h.projected_sla == pytest.approx(20 / 25)
    languages = plan.group_by("language", "week").agg(pl.col("days").max(), pl.exclude("vendor", "days").sum())
    assert plan_headline(languages, keys=("language",)).worst_group == ("en",)
    unknown = plan.with_columns(pl.lit(None, pl.Float64).alias(c) for c in ("supply_fte", "gap_fte"))
    blind = plan_headline(unknown, keys=("vendor", "language"))
    assert blind.required_fte_avg == 6.0 and blind.group_weeks == 3
    assert (blind.supply_fte_avg, blind.worst_group, blind.worst_gap_fte, blind.group_weeks_in_deficit) == (None,) * 4


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
    inputs = planning_inputs(demo, PERIOD)
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
    inputs = planning_inputs(demo, PERIOD)
    days = [END + dt.timedelta(days=d) for d in range(1, 85)]
    vendor = inputs.supply["vendor"][0]
    base = supply_by_vendor(inputs, Scenario(attrition_annual=0.0), days).filter(pl.col("vendor") == vendor)
    extra, full = _extra_supply(inputs, vendor, Hiring(vendor, fte=5, start_week=2, ramp_weeks=4), days=84)
    assert extra[:7] == [0.0] * 7  # nothing before week 2
    assert extra[-1] == pytest.approx(full)  # fully ramped
    assert extra[7 + 13] == pytest.approx(extra[-1] * 14 / 28)  # half-way through a 4-week ramp
    decayed = supply_by_vendor(inputs, Scenario(attrition_annual=0.4), days).filter(pl.col("vendor") == vendor)
    assert decayed["supply_hours"][-1] == pytest.approx(base["supply_hours"][-1] * 0.6 ** (84 / 365))


def test_demand_vs_supply_weekly_gap_and_upper_bound(demo):
    inputs = planning_inputs(demo, PERIOD)
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


def test_shifting_work_to_a_vendor_new_to_a_domain_keeps_the_work():
    allocation = pl.DataFrame(
        {
            "policy_domain": ["spam", "spam", "youth"],
            "vendor": ["a", "b", "a"],
            "share": [0.5, 0.5, 1.0],
            "aht_seconds": [60.0, 90.0, 300.0],
        }
    )
    inputs = PlanningInputs(
        automation=pl.DataFrame({"policy_domain": ["spam", "youth"], "automated_share": [0.0, 0.0]}),
        allocation=allocation,
        supply=pl.DataFrame(schema={"vendor": pl.String, "productive_hours_per_day": pl.Float64}),
        history_start=END - dt.timedelta(days=55),
        history_end=END,
    )
    forecast = flat_forecast(["spam", "youth"], days=7)
    shifted = demand_by_vendor(forecast, inputs, Scenario(vendor_shift=(("a", "b", 0.5),)))
    by_vendor = dict(shifted.group_by("vendor").agg(pl.col("human_tickets").sum()).iter_rows())
    # Every day: spam 100 (a 25, b 75), youth 100 (a 50, b 50 — b is new to youth, at a's 300 s).
    assert by_vendor == pytest.approx({"a": 75 * 7, "b": 125 * 7})
    hours = dict(shifted.group_by("vendor").agg(pl.col("workload_hours").sum()).iter_rows())
    assert hours["b"] == pytest.approx(7 * (75 * 90 + 50 * 300) / 3600)


def test_a_hire_without_ramp_is_fully_productive_from_the_start_week(demo):
    inputs = planning_inputs(demo, PERIOD)
    vendor = inputs.supply["vendor"][0]
    extra, full = _extra_supply(inputs, vendor, Hiring(vendor, fte=5, start_week=2, ramp_weeks=0), days=21)
    assert extra[:7] == [0.0] * 7  # nothing before week 2
    assert extra[7:] == pytest.approx([full] * 14)  # no ramp: full from day one


def _extra_supply(inputs, vendor: str, hire: Hiring, days: int) -> tuple[list[float], float]:
    """Daily supply hours the hire adds to its vendor (no attrition), and a full hire's hours per day."""
    horizon = [END + dt.timedelta(days=d) for d in range(1, days + 1)]
    base = supply_by_vendor(inputs, Scenario(attrition_annual=0.0), horizon).filter(pl.col("vendor") == vendor)
    hired = supply_by_vendor(inputs, Scenario(attrition_annual=0.0, hiring=(hire,)), horizon)
    hired = hired.filter(pl.col("vendor") == vendor)
    rework = inputs.supply.filter(pl.col("vendor") == vendor)["rework_share"][0]
    return (hired["supply_hours"] - base["supply_hours"]).to_list(), hire.fte * 8 * (1 - 0.32) * (1 - rework)
