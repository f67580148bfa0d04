"""Forecast & capacity through AppTest: the demand-vs-supply tiles and table agree with each other on every view."""

from __future__ import annotations

import polars as pl
import pytest

from tests.apptest import metrics_by_label, run

pytestmark = pytest.mark.usefixtures("app_env")

WORST = "Worst week: surplus / deficit"


def plan_table(at) -> pl.DataFrame:
    """The demand-vs-supply table as the page shows it."""
    shown = next(d.value for d in at.dataframe if "gap_fte" in d.value.columns)
    return pl.from_pandas(shown).with_columns(pl.col("week").cast(pl.Date))


def test_worst_vendor_week_and_projected_sla_come_from_the_rows_not_a_net(tmp_path, monkeypatch):
    monkeypatch.setenv("BELLWETHER_SCENARIO_URL", f"sqlite:///{tmp_path / 'scenarios.db'}")
    at = run("forecast")
    at.slider(key="scenario.volume").set_value(20).run()
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
    at.text_input(key="scenario.name").set_value("plus 20")
    at.button[0].click().run()  # the save form's submit button
    at.multiselect(key="scenario.compare").set_value([("plus 20", 1, None)]).run()  # (name, version, scope)
    compared = next(d.value for d in at.dataframe if "scenario" in d.value.columns).iloc[-1]
    assert compared["worst_vendor_week_gap_fte"] == pytest.approx(worst["gap_fte"])
    assert compared["worst_vendor_week"] == f"{worst['vendor']}, week of {worst['week']}"
    assert compared["projected_sla"] == pytest.approx(sla)


def test_a_vendor_filter_plans_that_vendor_against_its_own_supply():
    everyone = plan_table(run("forecast"))
    at = run("forecast", {"vendor": "atlas_cx"})
    one = plan_table(at)
    assert one["vendor"].unique().to_list() == ["atlas_cx"]
    mine = everyone.filter(pl.col("vendor") == "atlas_cx")
    assert one["supply_fte"].to_list() == pytest.approx(mine["supply_fte"].to_list(), rel=1e-12)
    assert any("atlas_cx" in c.value and "own supply" in c.value for c in at.caption)


def test_a_market_selection_gets_the_share_of_supply_that_served_it():
    everyone = plan_table(run("forecast"))
    at = run("forecast", {"market": "DE"})
    one = plan_table(at)
    joined = one.join(everyone, on=["vendor", "week"], suffix="_all")
    assert joined.height == one.height > 0
    assert (joined["supply_fte"] < joined["supply_fte_all"]).all()
    assert joined["supply_fte"].to_list() == pytest.approx(
        (joined["supply_fte_all"] * joined["supply_share"]).to_list()
    )
    assert any("human review hours" in c.value and "DE" in c.value for c in at.caption)


def test_a_selection_no_vendor_served_says_there_is_nothing_to_plan():
    at = run("forecast", {"source": "legal", "market": "FR"})  # no tickets at all
    assert any("nothing to plan" in i.value for i in at.info)
