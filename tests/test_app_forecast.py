"""Forecast & capacity through AppTest: one section at a time, each in the link; the demand-vs-supply tiles and table
agree with each other on every view."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from forecasting.models import MODELS
from queries.display import display_value
from tests.apptest import DEMO_END, IDENTIFIER, WIDGETS, metrics_by_label, raw_identifiers_on_screen, run

pytestmark = pytest.mark.usefixtures("app_env")

WORST = "Worst week: surplus / deficit"
SECTION = "forecast.section"
# Each section (its identifier in the link) → its label and the charts it draws, and nothing else.
SECTIONS = {
    "forecast": ("Forecast", {"forecast.chart", "forecast.backtest"}),
    "capacity": ("Demand vs supply", {"capacity.chart", "capacity.gap", "capacity.backlog"}),
    "live": ("Live queues (Erlang)", {"live.chart"}),
    "scenarios": ("Scenarios", set()),
}


def widget(at, key: str):
    """The control with this key, whatever its kind (the page also has a text input)."""
    return next(w for kind in (*WIDGETS, "text_input") for w in at.get(kind) if w.key == key)


def in_section(name: str, params: dict | None = None):
    """A new session on the page with the section `name` open (by its link)."""
    return run("forecast", {SECTION: name, **(params or {})})


def section(at, name: str):
    """The page after choosing a section in its section control."""
    at.segmented_control(key=SECTION).set_value(name).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def charts(at) -> set[str]:
    return {c.key for c in at.get("plotly_chart")}


def test_only_the_open_section_runs_and_the_link_opens_each_section():
    at = run("forecast")
    control = at.segmented_control(key=SECTION)
    assert control.options == [label for label, _ in SECTIONS.values()] and control.value == "forecast"
    assert at.query_params[SECTION] == "forecast" and charts(at) == SECTIONS["forecast"][1]
    assert "MASE (backtest)" in metrics_by_label(at) and WORST not in metrics_by_label(at)
    for name, (_, drawn) in SECTIONS.items():
        assert charts(section(at, name)) == drawn, name
        assert at.query_params[SECTION] == name
        linked = in_section(name)
        assert linked.segmented_control(key=SECTION).value == name and charts(linked) == drawn, name
        assert (WORST in metrics_by_label(linked)) == (name == "capacity"), name


def plan_table(at) -> pl.DataFrame:
    """The demand-vs-supply table as the page shows it."""
    shown = next(d.value for d in at.dataframe if "gap_fte" in d.value.columns)
    return pl.from_pandas(shown).with_columns(pl.col("week").cast(pl.Date))


def test_worst_vendor_week_and_projected_sla_come_from_the_rows_not_a_net(tmp_path, monkeypatch):
    monkeypatch.setenv("BELLWETHER_SCENARIO_URL", f"sqlite:///{tmp_path / 'scenarios.db'}")
    at = in_section("capacity", {"scenario.roster": ["internal:2:::"]})  # internal: a surplus the others' deficits net
    at.slider(key="scenario.volume").set_value(100).run()
    assert not at.exception
    plan = plan_table(at)
    worst = plan.sort("gap_fte").row(0, named=True)
    weeks_netted = plan.group_by("week").agg(pl.col("gap_fte").sum())
    # The case the tile must not hide: a vendor in deficit in a week the vendors together have a surplus.
    assert worst["gap_fte"] < 0 < weeks_netted.filter(pl.col("week") == worst["week"])["gap_fte"][0]
    tiles = metrics_by_label(at)
    assert float(tiles[WORST].split()[0]) == pytest.approx(worst["gap_fte"], abs=0.005)
    assert any(worst["vendor"] in c.value and str(worst["week"]) in c.value for c in at.caption)
    # Projected SLA: SLA-met hours over measured hours, every vendor and week, weighted by work.
    sla = plan["sla_met_hours"].sum() / plan["sla_measured_hours"].sum()
    assert tiles["Projected SLA (deferred work)"] == f"{sla:.1%}"
    # The scenario comparison's row for the current controls sums the plan up the same way (no net, by work).
    section(at, "scenarios")
    assert at.slider(key="scenario.volume").value == 100
    at.text_input(key="scenario.name").set_value("plus 100")
    at.button[0].click().run()  # the save form's submit button
    at.multiselect(key="scenario.compare").set_value([("plus 100", 1, None)]).run()  # (name, version, scope)
    compared = next(d.value for d in at.dataframe if "measure" in d.value.columns).set_index("measure")
    current = compared["Current controls"]
    gap = float(current["Worst vendor-week surplus / deficit (FTE)"].split(" (")[0])
    assert gap == pytest.approx(worst["gap_fte"], abs=0.0005)
    assert current["Worst vendor-week"] == f"{worst['vendor']}, week of {worst['week']}"
    assert current["Projected SLA"].startswith(f"{100 * sla:.1f} %")


def test_a_vendor_filter_plans_that_vendor_against_its_own_supply():
    everyone = plan_table(in_section("capacity"))
    at = in_section("capacity", {"vendor": "atlas_cx"})
    one = plan_table(at)
    assert one["vendor"].unique().to_list() == ["atlas_cx"]
    mine = everyone.filter(pl.col("vendor") == "atlas_cx")
    assert one["supply_fte"].to_list() == pytest.approx(mine["supply_fte"].to_list(), rel=1e-12)
    assert any("atlas_cx" in c.value and "own supply" in c.value for c in at.caption)


def test_a_market_selection_gets_the_share_of_supply_that_served_it():
    everyone = plan_table(in_section("capacity"))
    at = in_section("capacity", {"market": "DE"})
    one = plan_table(at)
    joined = one.join(everyone, on=["vendor", "week"], suffix="_all")
    assert joined.height == one.height > 0
    assert (joined["supply_fte"] < joined["supply_fte_all"]).all()
    assert joined["supply_fte"].to_list() == pytest.approx(
        (joined["supply_fte_all"] * joined["supply_share"]).to_list()
    )
    assert any("human review hours" in c.value and "DE" in c.value for c in at.caption)


def test_a_selection_no_vendor_served_says_there_is_nothing_to_plan():
    at = in_section("capacity", {"source": "legal", "market": "FR"})  # no tickets at all
    assert any("nothing to plan" in i.value for i in at.info)


# Every control of the page and a value that is not its default (forecast.series: a policy domain's series).
CHOICES = {
    "forecast.by": "policy_domain",
    "forecast.weeks": 6,
    "forecast.model": "seasonal_regression",
    "scenario.volume": 25,
    "scenario.automation": -5,
    "scenario.aht": 10,
    "scenario.sla_hours": 48.0,
    "scenario.shrinkage": 0.3,
    "scenario.occupancy": 0.9,
    "scenario.attrition": 0.25,
    "scenario.exposure_cap": 4.0,
    "scenario.event_domain": "youth_safety",
    "scenario.event_uplift": 60,
    "scenario.shift_share": 20,
    "scenario.shift_from": "harbor_trust",
    "scenario.shift_to": "meridian_review",
    "live.level": 0.8,
    "live.patience": 120,
    "live.targets": "live_p0=30, live_p1=600",
}
HIRES = ["atlas_cx:2.5:3:4", "internal:1:1:2"]  # the hiring plan in the link: vendor:FTE:start week:ramp weeks
OWN = {  # the controls drawn in one section only; the others are above the sections
    "forecast": ("forecast.by", "forecast.model", "forecast.series"),
    "live": ("live.level", "live.patience", "live.targets", "live.day"),
}


def test_every_control_is_in_the_link_and_a_new_session_on_it_shows_the_same_view():
    at = run("forecast")
    enabling = ("scenario.event_domain", "scenario.shift_share")  # the controls they enable are disabled before
    for keys in (enabling, [k for k in CHOICES if k not in enabling and k not in OWN["live"]]):
        for key in keys:
            widget(at, key).set_value(CHOICES[key])
        at.run()
        assert not at.exception, [e.value for e in at.exception]
    widget(at, "forecast.series").set_value("youth_safety")
    at.run()
    section(at, "live")  # not the default section: the link must open it
    for key in OWN["live"][:-1]:
        widget(at, key).set_value(CHOICES[key])
    widget(at, "live.day").set_value(DEMO_END + dt.timedelta(days=3))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    chosen = CHOICES | {"forecast.series": "youth_safety", "live.day": DEMO_END + dt.timedelta(days=3)}
    link = dict(at.query_params)
    assert link[SECTION] == "live" and link["forecast.by"] == "policy_domain"  # identifiers, not labels
    assert link["forecast.model"] == "seasonal_regression" and link["scenario.event_domain"] == "youth_safety"
    assert link["live.day"] == str(chosen["live.day"])
    again = run("forecast", link)
    assert widget(again, SECTION).value == "live" and not again.warning
    for name in ("live", "forecast", "capacity"):  # the link's session against the one that made it, section by section
        for session in (at, again):
            section(session, name)
        drawn = {k: v for k, v in chosen.items() if k not in _elsewhere(name)}
        assert {k: widget(again, k).value for k in drawn} == drawn == {k: widget(at, k).value for k in drawn}, name
        assert _headline(again) == _headline(at), name
        assert not again.warning, name


def _elsewhere(name: str) -> set[str]:
    """The controls drawn in the other sections only."""
    return {key for other, keys in OWN.items() if other != name for key in keys}


def _headline(at) -> dict[str, str]:
    return {k: v for k, v in metrics_by_label(at).items() if k != "Model"}


def test_a_hiring_plan_in_the_link_fills_the_table_stays_in_the_link_and_changes_the_plan():
    without = plan_table(in_section("capacity"))
    at = in_section("capacity", {"scenario.hiring": HIRES})
    hires = next(d.value for d in at.dataframe if "ramp_weeks" in d.value.columns)  # the editor
    assert hires.to_dict("records") == [
        {"vendor": "atlas_cx", "fte": 2.5, "start_week": 3, "ramp_weeks": 4},
        {"vendor": "internal", "fte": 1.0, "start_week": 1, "ramp_weeks": 2},
    ]
    assert at.query_params["scenario.hiring"] == HIRES
    hired = plan_table(at)
    atlas = pl.col("vendor") == "atlas_cx"
    assert hired.filter(atlas)["supply_fte"].sum() > without.filter(atlas)["supply_fte"].sum()


def test_an_invalid_value_in_a_link_is_named_in_a_warning_and_the_link_then_says_what_is_shown():
    bad = {
        "forecast.section": "charts",
        "forecast.by": "galaxy",
        "forecast.weeks": "40",
        "forecast.model": "prophet",
        "scenario.volume": "7",  # not on the slider's steps of 5
        "scenario.shrinkage": "lots",
        "scenario.hiring": ["atlas_cx:2:1:4", "nobody:1:1:1"],
    }
    at = run("forecast", bad)
    warnings = " ".join(w.value for w in at.warning)
    for key, value in bad.items():
        shown = value[-1] if isinstance(value, list) else value
        assert f"`{key}`" in warnings and repr(shown) in warnings, key
    assert widget(at, SECTION).value == "forecast" and widget(at, "forecast.by").value == "total"
    assert widget(at, "forecast.weeks").value == 8 and widget(at, "scenario.volume").value == 0
    assert at.query_params[SECTION] == "forecast" and at.query_params["forecast.weeks"] == "8"
    assert at.query_params["scenario.hiring"] in (bad["scenario.hiring"][0], bad["scenario.hiring"][:1])
    live = in_section("live", {"live.day": "2020-01-01"})  # a section's own control is read where it is drawn
    warned = " ".join(w.value for w in live.warning)
    assert "`live.day`" in warned and "'2020-01-01'" in warned
    assert widget(live, "live.day").value == DEMO_END + dt.timedelta(1)


def test_no_raw_identifiers_in_tables_tiles_model_names_or_the_scenario_comparison(tmp_path, monkeypatch):
    monkeypatch.setenv("BELLWETHER_SCENARIO_URL", f"sqlite:///{tmp_path / 'scenarios.db'}")
    at = run("forecast", {"forecast.by": "policy_domain", "forecast.model": "seasonal_regression"})
    assert raw_identifiers_on_screen(at) == []
    scores = next(d.value for d in at.dataframe if "mase" in d.value.columns)
    for column in ("series", "model"):
        assert not [v for v in scores[column] if IDENTIFIER.fullmatch(v)], column
    assert set(scores["model"]) == {"Seasonal regression"}
    assert metrics_by_label(at)["Model"] == "Seasonal regression"
    assert [o for o in widget(at, "forecast.model").options if "_" in o] == []
    section(at, "scenarios")
    at.text_input(key="scenario.name").set_value("plus 20")
    at.button[0].click().run()
    at.multiselect(key="scenario.compare").set_value([("plus 100", 1, None)]).run()
    assert raw_identifiers_on_screen(at) == []
    live = next(d.value for d in section(at, "live").dataframe if "peak_agents" in d.value.columns)
    assert live["queue"].tolist() == ["Live P0", "Live P1"] and raw_identifiers_on_screen(at) == []
    auto = run("forecast")
    assert metrics_by_label(auto)["Model"] in {display_value("model", m) for m in MODELS}


def test_the_scenario_comparison_shows_each_figure_against_the_baseline_with_its_unit(tmp_path, monkeypatch):
    monkeypatch.setenv("BELLWETHER_SCENARIO_URL", f"sqlite:///{tmp_path / 'scenarios.db'}")
    at = in_section("scenarios", {"scenario.volume": "200"})  # the demo staffs its floors: more work than they cover
    at.text_input(key="scenario.name").set_value("plus 200")
    at.button[0].click().run()
    at.multiselect(key="scenario.compare").set_value([("plus 200", 1, None)]).run()
    shown = next(d.value for d in at.dataframe if "measure" in d.value.columns).set_index("measure")
    assert list(shown.columns) == ["Baseline (no what-if)", "plus 200 v1", "Current controls"]
    required = shown.loc["Required FTE (avg)"]
    base, plus = float(required.iloc[0]), float(required.iloc[1].split(" (")[0])
    assert plus > base and required.iloc[1].endswith(f"(+{plus - base:.2f})")  # +200 % volume needs more people
    assert shown.loc["Projected SLA"].iloc[1].endswith(" pts)") and "%" in shown.loc["Projected SLA"].iloc[0]
    assert "Backlog at end (h)" in shown.index and "Vendor-weeks in deficit" in shown.index
