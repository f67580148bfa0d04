"""Plan vs actual on the Forecast page's Scenarios section: a saved plan's ended weeks against what came."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from forecasting.plan_actual import PlanRecord, plan_vs_actual
from forecasting.scenarios import ScenarioStore
from queries.sources.dataset import load_dataset
from tests.apptest import DEMO_END, raw_identifiers_on_screen, run

MADE_ON = DEMO_END - dt.timedelta(days=35)  # the plan's history ends five weeks before the data does


def test_a_saved_plan_is_compared_with_what_arrived(app_env, data_dir: Path, tmp_path: Path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'scenarios.db'}"
    monkeypatch.setenv("BELLWETHER_SCENARIO_URL", url)
    params = {"forecast.section": "scenarios", "start": str(MADE_ON - dt.timedelta(days=60)), "end": str(MADE_ON)}
    at = run("forecast", params)
    at.slider(key="scenario.volume").set_value(10).run()
    at.text_input(key="scenario.name").set_value("October plan")
    at.button[0].click().run()  # the save form's submit button
    assert not at.exception
    saved = ScenarioStore(url, scope=None).load("October plan")
    record = PlanRecord.from_dict(saved.context)
    assert (record.period_start, record.period_end) == (MADE_ON - dt.timedelta(days=60), MADE_ON)
    assert saved.scenario.volume_uplift == pytest.approx(0.1)

    at.selectbox(key="scenario.review").set_value(("October plan", 1, None)).run()
    assert not at.exception
    shown = next(d.value for d in at.dataframe if "actual_human_tickets" in d.value.columns)
    expected = plan_vs_actual(load_dataset(data_dir / "demo"), record, saved.scenario)
    assert expected.height == shown.shape[0] > 0
    assert shown["actual_human_tickets"].tolist() == expected["actual_human_tickets"].to_list()
    assert expected["week"].max() + dt.timedelta(days=6) <= DEMO_END  # ended weeks only
    assert any("planned against what arrived" in c.value for c in at.caption)
    assert raw_identifiers_on_screen(at) == []


def test_a_version_saved_before_plans_were_recorded_says_so(app_env, tmp_path: Path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'scenarios.db'}"
    monkeypatch.setenv("BELLWETHER_SCENARIO_URL", url)
    from forecasting.plan import Scenario

    ScenarioStore(url, scope=None).save("old", Scenario(), "ana")
    at = run("forecast", {"forecast.section": "scenarios"})
    at.selectbox(key="scenario.review").set_value(("old", 1, None)).run()
    assert any("saved before plans were recorded" in i.value for i in at.info)
    assert not [d for d in at.dataframe if "actual_human_tickets" in d.value.columns]
