"""The Vendors & quality page through Streamlit's AppTest: figures equal the queries, filters and controls change
them, every section and choice is in the link, and a source without the needed tables explains what to map."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from queries.analyses.quality import sampling_plan
from queries.analyses.vendors import scorecard
from queries.filters import Filters
from queries.sla import load_sla_policy
from queries.sources.dataset import load_dataset
from tests.apptest import DEMO_END, metrics_by_label, raw_identifiers_on_screen, run, widget

pytestmark = pytest.mark.usefixtures("app_env")

DEFAULT = Filters(DEMO_END - dt.timedelta(days=27), DEMO_END)
SECTIONS = ["vendors", "capacity", "quality", "appeals", "policy-gaps", "training"]


def table_with(at, column: str):
    """The first dataframe on the page that has `column`."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def section(at, name: str):
    """The page after choosing a section in its section control."""
    at.segmented_control(key="vendors.tab").set_value(name).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_page_shows_every_section_with_figures_equal_to_the_queries(data_dir: Path):
    at = run("vendors")
    assert at.title[0].value == "Vendors & quality"
    control = at.segmented_control(key="vendors.tab")
    assert control.options == ["Vendors", "Capacity", "Quality", "Appeals", "Policy gaps", "Training"]
    assert control.value == "vendors"
    ds = load_dataset(data_dir / "demo")
    expected = scorecard(ds, DEFAULT, sla_policy=load_sla_policy())
    shown = table_with(at, "qa_accuracy")
    assert shown["vendor"].tolist() == expected["vendor"].to_list()
    assert shown["qa_accuracy"].tolist() == pytest.approx([round(100 * v, 1) for v in expected["qa_accuracy"]])
    bounds = zip(expected["qa_ci_low"], expected["qa_ci_high"], strict=True)
    assert shown["qa_ci_interval"].tolist() == [f"{100 * lo:.1f}–{100 * hi:.1f}%" for lo, hi in bounds]
    capacity = table_with(at, "handled_per_productive_hour")
    assert capacity["handled"].tolist() == expected["handled"].to_list()
    flags = shown["qa_vs_rest"].tolist()
    assert [f for f in flags if isinstance(f, str)] == [f for f in expected["qa_vs_rest"].to_list() if f is not None]
    charts = len(at.get("plotly_chart"))
    for name in SECTIONS[1:]:
        charts += len(section(at, name).get("plotly_chart"))
        assert at.query_params["vendors.tab"] == name
    assert charts >= 10
    plan = sampling_plan(ds, DEFAULT, 0.03)
    assert metrics_by_label(section(at, "quality"))["Reviews done"] == f"{plan['reviews'].sum():,}"
    assert "Policy-gap candidates" in metrics_by_label(section(at, "policy-gaps"))


def test_vendor_filter_and_split_change_the_scorecard():
    at = run("vendors")
    vendors = table_with(at, "handled")["vendor"].tolist()
    assert len(vendors) > 1
    at.multiselect(key="filters.vendor").set_value([vendors[0]]).run()
    assert not at.exception
    assert table_with(at, "handled")["vendor"].tolist() == [vendors[0]]
    assert at.query_params["vendor"] == vendors[0]
    at.selectbox(key="vendors.by").set_value("site").run()
    assert not at.exception
    assert "site" in table_with(at, "handled").columns
    at.selectbox(key="vendors.by").set_value("queue").run()
    assert not at.exception
    assert any("not split by queue" in i.value for i in at.info)


def test_sampling_planner_reacts_to_the_wanted_precision():
    at = run("vendors", {"vendors.tab": "quality"})
    strict = int(metrics_by_label(at)["More reviews needed"].replace(",", ""))
    at.slider(key="vendors.margin").set_value(10).run()
    assert not at.exception
    assert int(metrics_by_label(at)["More reviews needed"].replace(",", "")) < strict


def test_appeals_gaps_and_training_controls_work():
    at = run("vendors", {"vendors.tab": "appeals"})
    at.selectbox(key="vendors.appeals_by").set_value("vendor").run()
    assert "overturn_rate" in table_with(at, "appeal_rate").columns
    section(at, "policy-gaps").selectbox(key="vendors.gaps_by").set_value("market").run()
    assert not at.exception
    gaps = table_with(at, "signals")
    assert "market" in gaps.columns and list(gaps["signals"]) == sorted(gaps["signals"], reverse=True)
    events = section(at, "training").selectbox(key="vendors.training_event")
    assert len(events.options) >= 1
    at.slider(key="vendors.training_window").set_value(28).run()
    assert not at.exception
    assert any("28 days before" in c.value for c in at.caption)


# Each control and a value that is not its default, section by section.
CHOICES = {
    "vendors": {
        "vendors.by": "language",
        "vendors.quality_measure": "overturn_rate",
        "vendors.trend_measure": "sla_attainment",
    },
    "capacity": {"vendors.low_fte": 2.5},
    "quality": {"vendors.qa_period": "week", "vendors.margin": 5},
    "appeals": {"vendors.appeals_by": "market"},
    "policy-gaps": {"vendors.gaps_by": "language"},
    "training": {"vendors.training_window": 28},
}


@pytest.mark.parametrize("name", SECTIONS)
def test_every_section_and_choice_is_in_the_link_and_a_new_session_on_it_shows_the_same_view(name: str):
    at = run("vendors")
    section(at, name)
    chosen = dict(CHOICES[name])
    for key, value in chosen.items():
        widget(at, key).set_value(value)
    if name == "training":
        events = widget(at, "vendors.training_event")
        events.select_index(len(events.options) - 1)
    at.run()
    assert not at.exception
    if name == "training":
        chosen["vendors.training_event"] = widget(at, "vendors.training_event").value
    assert {k: widget(at, k).value for k in chosen} == chosen
    link = {k: at.query_params[k] for k in at.query_params}
    assert link["vendors.tab"] == name
    again = run("vendors", link)
    assert again.segmented_control(key="vendors.tab").value == name
    assert {k: widget(again, k).value for k in chosen} == chosen
    assert not again.warning


def test_an_invalid_section_or_choice_in_a_link_is_named_in_a_warning():
    at = run("vendors", {"vendors.tab": "tabs", "vendors.by": "galaxy"})
    warnings = " ".join(w.value for w in at.warning)
    assert "`vendors.tab`" in warnings and "'tabs'" in warnings
    assert "`vendors.by`" in warnings and "'galaxy'" in warnings
    assert at.segmented_control(key="vendors.tab").value == "vendors" and at.query_params["vendors.tab"] == "vendors"
    at = run("vendors", {"vendors.tab": "training", "vendors.training_window": "30"})
    assert any("`vendors.training_window`" in w.value and "'30'" in w.value for w in at.warning)
    assert widget(at, "vendors.training_window").value == 56


@pytest.mark.parametrize("name", SECTIONS)
def test_no_raw_identifiers_in_table_headers_tiles_or_categories(name: str):
    at = run("vendors", {"vendors.tab": name})
    assert raw_identifiers_on_screen(at) == []


def test_source_without_vendors_or_qa_explains_what_to_map(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "tickets.csv").write_text(
        "ticket_id,created_at\n" + "".join(f"t{i},2026-01-{1 + i % 28:02d} 10:00:00\n" for i in range(60))
    )
    monkeypatch.setenv("BELLWETHER_SOURCE", str(tmp_path))
    at = run("vendors", {"src": "extracts"})
    messages = " ".join(i.value for i in at.info)
    assert "Vendor scorecards need tickets.vendor" in messages
    messages = " ".join(i.value for i in section(at, "quality").info)
    assert "needs the qa_reviews table" in messages
    messages = " ".join(i.value for i in section(at, "appeals").info)
    assert "Appeals needs tickets.decision" in messages
