"""The roster on Forecast & capacity: per-vendor headcount, attrition, shrinkage and skills, kept in the link and
planned exactly as the forecasting layer plans that scenario."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from forecasting.plan import RosterLine, Scenario, planning_inputs
from forecasting.planner import capacity_plan, forecast_view
from queries.display import display_value
from queries.filters import Filters
from queries.sources.dataset import load_dataset
from tests.apptest import DEMO_END, raw_identifiers_on_screen, run

pytestmark = pytest.mark.usefixtures("app_env")
ROSTER = ["atlas_cx:0.2::0.5:", "harbor_trust::0.6::youth_safety|adult_nudity"]


def plan_table(at) -> pl.DataFrame:
    shown = next(d.value for d in at.dataframe if "gap_fte" in d.value.columns)
    return pl.from_pandas(shown).with_columns(pl.col("week").cast(pl.Date))


def test_a_roster_in_the_link_is_planned_like_the_forecasting_layer_plans_it(data_dir):
    at = run("forecast", {"forecast.section": "capacity", "scenario.roster": ROSTER})
    assert not at.exception and not at.warning
    assert at.query_params["scenario.roster"] == ROSTER
    assert at.multiselect(key="scenario.skills.harbor_trust").value == ["youth_safety", "adult_nudity"]
    editor = next(d.value for d in at.dataframe if "shrinkage" in d.value.columns)
    atlas = editor.set_index("vendor").loc[display_value("vendor", "atlas_cx")]
    assert atlas["fte"] == 0.2 and atlas["shrinkage"] == 50
    assert raw_identifiers_on_screen(at) == []

    shown = plan_table(at)
    ds = load_dataset(data_dir / "demo")
    filters = Filters(DEMO_END - dt.timedelta(days=27), DEMO_END)
    roster = (
        RosterLine("atlas_cx", fte=0.2, shrinkage=0.5),
        RosterLine("harbor_trust", attrition_annual=0.6, domains=("youth_safety", "adult_nudity")),
    )
    view = forecast_view(ds, filters, "policy_domain", 8 * 7, "auto")
    expected, _ = capacity_plan(ds, filters, view, Scenario(roster=roster))
    for column in ("required_fte", "supply_fte"):
        got = shown.sort("vendor", "week")[column].to_list()
        assert got == pytest.approx(expected.sort("vendor", "week")[column].to_list(), abs=1e-6), column

    baseline = plan_table(run("forecast", {"forecast.section": "capacity"}))
    for vendor, column in (("atlas_cx", "supply_fte"), ("harbor_trust", "workload_hours")):
        pick = pl.col("vendor") == vendor
        assert shown.filter(pick)[column].sum() < baseline.filter(pick)[column].sum(), (vendor, column)


def test_an_invalid_roster_line_is_named_in_a_warning():
    at = run("forecast", {"forecast.section": "capacity", "scenario.roster": ["atlas_cx:2::1.5:", "nobody:1:::"]})
    warned = " ".join(w.value for w in at.warning)
    assert "`scenario.roster`" in warned and "'nobody:1:::'" in warned and "'atlas_cx:2::1.5:'" in warned
    assert not at.exception


def test_loading_a_saved_scenario_puts_its_roster_in_the_table_and_the_link(tmp_path, monkeypatch):
    from forecasting.scenarios import ScenarioStore

    url = f"sqlite:///{tmp_path / 'scenarios.db'}"
    monkeypatch.setenv("BELLWETHER_SCENARIO_URL", url)
    roster = (RosterLine("sentinel_ops", fte=1.5, attrition_annual=0.25, domains=("hateful_conduct",)),)
    ScenarioStore(url, scope=None).save("sentinel ramp", Scenario(roster=roster), "ana")
    at = run("forecast", {"forecast.section": "scenarios"})
    at.selectbox(key="scenario.pick").set_value(("sentinel ramp", 1, None)).run()
    at.button(key="scenario.load").click().run()
    assert not at.exception
    assert at.query_params["scenario.roster"] == "sentinel_ops:1.5:0.25::hateful_conduct"
    assert at.multiselect(key="scenario.skills.sentinel_ops").value == ["hateful_conduct"]


def test_reviewers_on_the_floor_in_the_link_raise_required_fte_and_older_lines_still_read(data_dir):
    floor = ["atlas_cx:::::1", ROSTER[1]]  # a minimum of one reviewer after the skills; the second line is older
    at = run("forecast", {"forecast.section": "capacity", "scenario.roster": floor})
    assert not at.exception and not at.warning
    assert at.query_params["scenario.roster"] == floor
    editor = next(d.value for d in at.dataframe if "on_floor" in d.value.columns)
    assert editor.set_index("vendor").loc[display_value("vendor", "atlas_cx")]["on_floor"] == 1
    shown = plan_table(at)
    atlas = shown.filter(pl.col("vendor") == "atlas_cx")
    ds = load_dataset(data_dir / "demo")
    supply = planning_inputs(ds, Filters(DEMO_END - dt.timedelta(days=27), DEMO_END)).supply
    rework = supply.filter(pl.col("vendor") == "atlas_cx")["rework_share"][0]
    # One reviewer's 24 h a day at the plan's shrinkage, net of rework like supply.
    coverage = 24 / (8 * (1 - 0.32)) * (1 - rework)
    assert atlas["coverage_fte"].to_list() == pytest.approx([coverage] * atlas.height, abs=1e-3)
    assert atlas["required_fte"].to_list() == pytest.approx([coverage] * atlas.height, abs=1e-3)
    assert (atlas["gap_fte"] < 0).all()  # the demo's small atlas_cx cannot keep a reviewer on its floor at all hours
    assert raw_identifiers_on_screen(at) == []  # "Coverage (FTE)", "On the floor (reviewers)"
    baseline = plan_table(run("forecast", {"forecast.section": "capacity"}))
    # Without the roster's: the demo staffing's own floor (0.75 reviewers × size per pool, through covered hours).
    assert (baseline["coverage_fte"] > 0).all()
    assert (baseline["required_fte"] >= baseline["coverage_fte"]).all()
    assert baseline.filter(pl.col("vendor") == "atlas_cx")["coverage_fte"].max() < coverage
