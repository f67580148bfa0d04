"""The Trends & spikes page through Streamlit's AppTest: volumes, spikes with drill-down, export, link."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from queries.analyses.spikes import detect_spikes
from queries.filters import Filters
from queries.sources.dataset import load_dataset
from tests.apptest import DEMO_END, run

pytestmark = pytest.mark.usefixtures("app_env")

WIDE = {"start": "2026-03-20", "end": str(DEMO_END)}  # the small demo has spikes in April and May


def spike_list(at) -> pl.DataFrame:
    """The spike table on the page (empty when the page says there are none)."""
    tables = [d.value for d in at.dataframe if "excess" in d.value.columns]
    return pl.from_pandas(tables[0]).with_columns(pl.col("start", "end").cast(pl.Date)) if tables else pl.DataFrame()


def test_trends_page_shows_volumes_spikes_drill_down_emerging_trends_and_the_forecast_band(data_dir: Path):
    at = run("trends", WIDE)
    assert at.title[0].value == "Trends & spikes"
    assert [s.value for s in at.subheader] == [
        "Volume over time",
        "Spikes",
        "Emerging trends",
        "Actual vs forecast band",
        "Link to this view",
    ]
    ds = load_dataset(data_dir / "demo")
    expected = detect_spikes(ds, Filters(dt.date(2026, 3, 20), DEMO_END), ["policy_domain", "market"])
    shown = spike_list(at)
    assert expected.height > 0
    assert shown[["policy_domain", "market"]].rows() == expected[["policy_domain", "market"]].rows()
    assert shown["excess"].to_list() == pytest.approx(expected["excess"].to_list())
    metrics = {m.label: m for m in at.metric}
    assert metrics["Spikes"].value == str(expected.height) and "Benjamini" in metrics["Spikes"].help
    assert {"P50 time to action", "P90 time to action", "P90 views before action"} <= set(metrics)
    assert len(at.get("plotly_chart")) == 4  # volumes, the spike, its contributions, the forecast band
    assert any("fell outside the 95 % band" in c.value for c in at.caption)
    assert len(at.get("download_button")) == 1


def test_choosing_another_spike_drills_into_it():
    at = run("trends", WIDE)
    picker = at.selectbox(key="trends.spike")
    first_help = next(m.help for m in at.metric if m.label == "P50 time to action")
    picker.select_index(len(picker.options) - 1).run()
    assert not at.exception
    last = spike_list(at).row(-1, named=True)
    assert at.query_params["trends.spike"] == f"{last['policy_domain']}|{last['market']}|{last['start']}"
    assert next(m.help for m in at.metric if m.label == "P50 time to action") != first_help


def test_filters_and_choices_change_the_view_and_the_link():
    at = run("trends", WIDE)
    before = spike_list(at).height
    at.multiselect(key="filters.policy_domain").set_value(["self_harm_dangerous_acts"]).run()
    assert not at.exception
    after = spike_list(at)
    assert 0 < after.height < before and set(after["policy_domain"]) == {"self_harm_dangerous_acts"}
    at.selectbox(key="trends.by").set_value("market").run()
    at.radio(key="trends.measure").set_value("share").run()
    assert not at.exception
    assert at.query_params["trends.by"] == "market" and at.query_params["trends.measure"] == "share"
    link = at.code[-1].value
    assert "trends.by=market" in link and "policy_domain=self_harm_dangerous_acts" in link


def test_url_parameters_reproduce_a_view():
    params = {**WIDE, "trends.by": "surface", "trends.grain": "week", "trends.spikes_by": ["policy_domain"]}
    at = run("trends", params)
    assert at.selectbox(key="trends.by").value == "surface"
    assert at.radio(key="trends.grain").value == "week"
    assert at.multiselect(key="trends.spikes_by").value == ["policy_domain"]
    assert "market" not in spike_list(at).columns


def test_sensitivity_changes_how_many_spikes_are_listed():
    at = run("trends", WIDE)
    balanced = spike_list(at).height
    at.select_slider(key="trends.sensitivity").set_value(0.001).run()
    assert not at.exception
    assert spike_list(at).height < balanced


def test_a_source_without_users_or_timings_explains_what_to_map(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    lines = ["ticket_id,created_at,policy_domain"]
    for day in range(70):
        for i in range(60 if day in (60, 61) else 20):
            lines.append(f"{day}-{i},{dt.date(2026, 1, 1) + dt.timedelta(days=day)} 10:00:00,hate")
    (tmp_path / "tickets.csv").write_text("\n".join(lines) + "\n")
    monkeypatch.setenv("BELLWETHER_SOURCE", str(tmp_path))
    at = run(
        "trends",
        {"src": "extracts", "start": "2026-02-01", "end": "2026-03-11", "trends.measure": "tickets_per_million_dau"},
    )
    infos = " ".join(i.value for i in at.info)
    assert "needs the platform_metrics table" in infos and "Showing tickets instead" in infos
    assert "Time to action needs tickets.first_action_at" in infos
    assert "Vendors need tickets.vendor" in infos
    assert spike_list(at)["start"].to_list() == [dt.date(2026, 3, 2)]
