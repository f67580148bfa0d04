"""The Vendors & quality page through Streamlit's AppTest: figures equal the queries, filters and controls change
them, and a source without the needed tables explains what to map."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from queries.analyses.quality import sampling_plan
from queries.analyses.vendors import scorecard
from queries.filters import Filters
from queries.sla import load_sla_policy
from queries.sources.dataset import load_dataset
from tests.apptest import DEMO_END, metrics_by_label, run

pytestmark = pytest.mark.usefixtures("app_env")

DEFAULT = Filters(DEMO_END - dt.timedelta(days=27), DEMO_END)


def table_with(at, column: str):
    """The first dataframe on the page that has `column`."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def test_page_shows_every_tab_with_figures_equal_to_the_queries(data_dir: Path):
    at = run("vendors")
    assert at.title[0].value == "Vendors & quality"
    assert [t.label for t in at.tabs] == ["Vendors", "Capacity", "Quality", "Appeals", "Policy gaps", "Training"]
    assert len(at.get("plotly_chart")) >= 10
    ds = load_dataset(data_dir / "demo")
    expected = scorecard(ds, DEFAULT, sla_policy=load_sla_policy())
    shown = table_with(at, "qa_accuracy")
    assert shown["vendor"].tolist() == expected["vendor"].to_list()
    assert shown["qa_accuracy"].tolist() == pytest.approx(expected["qa_accuracy"].to_list())
    assert shown["qa_ci_low"].tolist() == pytest.approx(expected["qa_ci_low"].to_list())
    capacity = table_with(at, "handled_per_productive_hour")
    assert capacity["handled"].tolist() == expected["handled"].to_list()
    flags = shown["qa_vs_rest"].tolist()
    assert set(flags) <= {"better", "worse", "–"}  # "–": no significant difference
    assert [f for f in flags if f != "–"] == [f for f in expected["qa_vs_rest"].to_list() if f is not None]
    plan = sampling_plan(ds, DEFAULT, 0.03)
    assert metrics_by_label(at)["Reviews done"] == f"{plan['reviews'].sum():,}"
    assert "Policy-gap candidates" in metrics_by_label(at)


def test_vendor_filter_and_split_change_the_scorecard():
    at = run("vendors")
    vendors = table_with(at, "handled")["vendor"].tolist()
    assert len(vendors) > 1
    at.multiselect(key="filters.vendor").set_value([vendors[0]]).run()
    assert not at.exception
    assert table_with(at, "handled")["vendor"].tolist() == [vendors[0]]
    assert at.query_params["vendor"] == vendors[0]
    at.selectbox(key="vendors.by").set_value("Vendor × site").run()
    assert not at.exception
    assert "site" in table_with(at, "handled").columns
    at.selectbox(key="vendors.by").set_value("Vendor × queue").run()
    assert not at.exception
    assert any("not split by queue" in i.value for i in at.info)


def test_sampling_planner_reacts_to_the_wanted_precision():
    at = run("vendors")
    strict = int(metrics_by_label(at)["More reviews needed"].replace(",", ""))
    at.slider(key="vendors.margin").set_value(10).run()
    assert not at.exception
    assert int(metrics_by_label(at)["More reviews needed"].replace(",", "")) < strict


def test_appeals_gaps_and_training_controls_work():
    at = run("vendors")
    at.selectbox(key="vendors.appeals_by").set_value("Vendor").run()
    assert "overturn_rate" in table_with(at, "appeal_rate").columns
    at.selectbox(key="vendors.gaps_by").set_value("Policy domain × market").run()
    assert not at.exception
    gaps = table_with(at, "signals")
    assert "market" in gaps.columns and list(gaps["signals"]) == sorted(gaps["signals"], reverse=True)
    events = at.selectbox(key="vendors.training_event")
    assert len(events.options) >= 1
    at.slider(key="vendors.training_window").set_value(28).run()
    assert not at.exception
    assert any("28 days before" in c.value for c in at.caption)


def test_source_without_vendors_or_qa_explains_what_to_map(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "tickets.csv").write_text(
        "ticket_id,created_at\n" + "".join(f"t{i},2026-01-{1 + i % 28:02d} 10:00:00\n" for i in range(60))
    )
    monkeypatch.setenv("BELLWETHER_SOURCE", str(tmp_path))
    at = run("vendors", {"src": "extracts"})
    messages = " ".join(i.value for i in at.info)
    assert "Vendor scorecards need tickets.vendor" in messages
    assert "needs the qa_reviews table" in messages
    assert "Appeals needs tickets.decision" in messages
