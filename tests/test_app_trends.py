"""The Trends & spikes page through Streamlit's AppTest: volumes, spikes with drill-down, export, link."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest

from queries.analyses.spikes import detect_spikes
from queries.display import display_value
from queries.filters import Filters
from queries.sources.dataset import load_dataset
from tests.apptest import DEMO_END, raw_identifiers_on_screen, run, widget

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
    assert shown["policy_domain"].to_list() == [display_value("policy_domain", v) for v in expected["policy_domain"]]
    assert shown["market"].to_list() == expected["market"].to_list()
    assert shown["excess"].to_list() == pytest.approx(expected["excess"].to_list())
    assert None not in shown["events"].to_list() and "None" not in shown["events"].to_list()
    metrics = {m.label: m for m in at.metric}
    assert metrics["Spikes"].value == str(expected.height) and "Benjamini" in metrics["Spikes"].help
    assert {"P50 time to action", "P90 time to action", "P90 views before action"} <= set(metrics)
    assert len(at.get("plotly_chart")) == 3  # volumes, the spike, the forecast band
    assert any("fell outside the 95 % band" in c.value for c in at.caption)
    assert len(at.get("download_button")) == 1


def test_the_drill_down_lists_over_represented_segments_never_the_series_own_keys():
    at = run("trends", WIDE)
    segments = next(d.value for d in at.dataframe if "segment" in d.value.columns)
    assert len(segments) > 0
    assert not [s for s in segments["segment"] if s.startswith(("Policy domain:", "Market:"))]
    assert (segments["spike_share"] > segments["normal_share"]).all()
    assert list(segments["excess_tickets"]) == sorted(segments["excess_tickets"], reverse=True)


def test_choosing_another_spike_drills_into_it():
    at = run("trends", WIDE)
    picker = at.selectbox(key="trends.spike")
    first_help = next(m.help for m in at.metric if m.label == "P50 time to action")
    picker.select_index(len(picker.options) - 1).run()
    assert not at.exception
    ds_last = picker.options[-1]
    assert at.query_params["trends.spike"].endswith(str(spike_list(at)["start"][-1]))
    assert ds_last.startswith(spike_list(at)["policy_domain"][-1])
    assert next(m.help for m in at.metric if m.label == "P50 time to action") != first_help


def test_filters_and_choices_change_the_view_and_the_link():
    at = run("trends", WIDE)
    before = spike_list(at).height
    at.multiselect(key="filters.policy_domain").set_value(["self_harm_dangerous_acts"]).run()
    assert not at.exception
    after = spike_list(at)
    assert 0 < after.height < before and set(after["policy_domain"]) == {"Self-harm & dangerous acts"}
    at.selectbox(key="trends.by").set_value("market").run()
    at.radio(key="trends.measure").set_value("share").run()
    assert not at.exception
    assert at.query_params["trends.by"] == "market" and at.query_params["trends.measure"] == "share"
    link = at.code[-1].value
    assert "trends.by=market" in link and "policy_domain=self_harm_dangerous_acts" in link


def test_every_control_is_in_the_link_and_a_new_session_on_it_shows_the_same_view():
    at = run("trends", WIDE)
    chosen = {
        "trends.by": "market",  # ten markets: the chart offers top N + other
        "trends.grain": "month",
        "trends.measure": "share",
        "trends.event_kinds": ["holiday"],
        "trends.spikes_by": ["policy_domain"],
        "trends.sensitivity": 0.05,
        "trends.min_excess": 15,
        "trends.emerging_by": ["market"],
        "trends.weeks": 12,
        "trends.forecast_series": "youth_safety",
    }
    for key, value in chosen.items():
        widget(at, key).set_value(value)
    at.run()
    widget(at, "trends.series").set_value(5)
    picker = widget(at, "trends.spike")
    picker.select_index(len(picker.options) - 1)
    at.run()
    assert not at.exception
    chosen |= {"trends.series": 5, "trends.spike": widget(at, "trends.spike").value}
    assert chosen["trends.spike"] != widget(run("trends", WIDE), "trends.spike").value  # not the default
    assert {k: widget(at, k).value for k in chosen} == chosen
    link = {k: at.query_params[k] for k in at.query_params}
    assert link["trends.by"] == "market" and link["trends.event_kinds"] in ("holiday", ["holiday"])  # not labels
    assert link["trends.forecast_series"] == "youth_safety"
    again = run("trends", link)
    assert {k: widget(again, k).value for k in chosen} == chosen
    assert not again.warning


def test_an_invalid_value_in_a_link_is_named_in_a_warning_not_silently_changed():
    bad = {"trends.by": "nope", "trends.weeks": "99", "trends.min_excess": "lots", "trends.spikes_by": ["market", "x"]}
    at = run("trends", {**WIDE, **bad})
    warnings = " ".join(w.value for w in at.warning)
    for key, value in (
        ("trends.by", "nope"),
        ("trends.weeks", "99"),
        ("trends.min_excess", "lots"),
        ("trends.spikes_by", "x"),
    ):
        assert f"`{key}`" in warnings and repr(value) in warnings
    assert widget(at, "trends.by").value == "policy_domain" and widget(at, "trends.weeks").value == 8
    assert widget(at, "trends.spikes_by").value == ["market"]  # the valid part of the link is kept
    assert at.query_params["trends.weeks"] == "8"  # the link now says what is shown


def test_a_period_without_spikes_offers_the_last_90_days_in_one_click():
    quiet = {"start": "2026-06-10", "end": str(DEMO_END)}
    at = run("trends", quiet)
    assert spike_list(at).is_empty()
    note = next(i.value for i in at.info if "No spikes in these 21 days" in i.value)
    assert "The last 90 days had" in note
    at.button(key="trends.widen").click().run()
    assert not at.exception
    assert at.query_params["start"] == str(DEMO_END - dt.timedelta(days=89)) and at.query_params["end"] == str(DEMO_END)
    assert spike_list(at).height > 0


def test_no_raw_identifiers_in_table_headers_tiles_or_categories():
    at = run("trends", WIDE)
    assert raw_identifiers_on_screen(at) == []
    widget(at, "trends.spikes_by").set_value(["source", "surface"]).run()
    assert raw_identifiers_on_screen(at) == []


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


def line_colours(at) -> dict[str, str]:
    """The volume chart's series (legend entries) and their colours."""
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    return {t["name"]: t["line"]["color"] for t in spec["data"] if t.get("showlegend", True) and "line" in t}


def test_volume_series_have_distinct_colours_that_stay_with_their_category():
    every = line_colours(run("trends", {**WIDE, "trends.series": "15"}))
    assert len(every) == 10 and len(set(every.values())) == 10  # ten policy domains, ten colours
    top = line_colours(run("trends", {**WIDE, "trends.series": "5"}))
    assert len(top) == 6 and "Other" in top  # top 5 + other
    assert all(every[name] == colour for name, colour in top.items() if name != "Other")
    total = line_colours(run("trends", {**WIDE, "trends.by": "total"}))
    assert list(total) == ["all tickets"]
