"""Every view is a link, on Overview, Turnaround & SLA, Forecast & capacity's sections, Data health, Transparency and
Public benchmark and in the filter bar: each control set to a value that is not its default is in the URL, a new
session on that URL shows the same view, an invalid value in a link is named in a warning, and no raw identifier
reaches the screen."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import polars as pl
import pytest

from dashboard.palette import MAX_SERIES, OTHER, category_colours
from forecasting.plan import Scenario
from forecasting.scenarios import ScenarioStore
from queries.analyses.overview import top_weekly
from queries.display import display_value
from tests.apptest import DEMO_END, WIDGETS, link, metrics_by_label, raw_identifiers_on_screen, run, widget

pytestmark = pytest.mark.usefixtures("app_env")

FIRST_DAY = DEMO_END - dt.timedelta(days=119)  # the small demo's first day


def warnings(at) -> str:
    return " ".join(w.value for w in at.warning)


def same_view(page: str, at, chosen: dict) -> None:
    """The choices show on `at`, are in its link, and a new session on the link shows them again, without warning."""
    assert {k: widget(at, k).value for k in chosen} == chosen
    again = run(page, link(at))
    assert {k: widget(again, k).value for k in chosen} == chosen
    assert not again.warning, warnings(again)


# --- Turnaround & SLA ------------------------------------------------------------------------------------------------


def test_turnaround_controls_are_in_the_link_with_stable_identifiers():
    at = run("turnaround")
    chosen = {
        "turnaround.measure": "closed_at",
        "turnaround.by": "queue",
        "turnaround.period": "week",
    }
    for key, value in chosen.items():
        widget(at, key).set_value(value)
    at.run()
    widget(at, "turnaround.stat").set_value("p50_hours")
    at.run()
    assert not at.exception
    chosen["turnaround.stat"] = "p50_hours"
    assert at.query_params["turnaround.by"] == "queue" and at.query_params["turnaround.measure"] == "closed_at"
    same_view("turnaround", at, chosen)
    again = run("turnaround", link(at))
    assert metrics_by_label(again) == metrics_by_label(at)


def test_turnaround_tab_and_sla_grouping_are_in_the_link():
    at = run("turnaround")
    widget(at, "turnaround.tab").set_value("sla")
    at.run()
    widget(at, "turnaround.sla_by").set_value("queue")
    at.run()
    assert not at.exception
    assert at.query_params["turnaround.tab"] == "sla"
    same_view("turnaround", at, {"turnaround.tab": "sla", "turnaround.sla_by": "queue"})


def test_old_turnaround_links_with_labels_still_open_their_view():
    at = run(
        "turnaround",
        {"turnaround.by": "Queue", "turnaround.measure": "Time to close", "turnaround.tab": "Backlog"},
    )
    assert widget(at, "turnaround.by").value == "queue" and widget(at, "turnaround.measure").value == "closed_at"
    assert widget(at, "turnaround.tab").value == "backlog"
    assert at.query_params["turnaround.by"] == "queue" and not at.warning


def test_an_invalid_turnaround_link_is_named_in_a_warning():
    at = run("turnaround", {"turnaround.by": "galaxy", "turnaround.period": "decade"})
    text = warnings(at)
    assert "`turnaround.by`" in text and "'galaxy'" in text
    assert "`turnaround.period`" in text and "'decade'" in text
    assert widget(at, "turnaround.by").value == "none"


# --- Forecast & capacity (its controls: tests/test_app_forecast.py) -------------------------------------------------


def test_forecast_section_and_its_own_controls_are_in_the_link():
    at = run("forecast")
    widget(at, "forecast.section").set_value("live")
    at.run()
    widget(at, "live.level").set_value(0.8)
    widget(at, "forecast.weeks").set_value(6)
    at.run()
    assert not at.exception
    assert at.query_params["forecast.section"] == "live"
    same_view("forecast", at, {"forecast.section": "live", "live.level": 0.8, "forecast.weeks": 6})
    again = run("forecast", link(at))
    assert again.get("plotly_chart")[0].key == "live.chart" and len(again.get("plotly_chart")) == 1


def test_an_invalid_forecast_section_is_named_in_a_warning():
    at = run("forecast", {"forecast.section": "Demand"})
    text = warnings(at)
    assert "`forecast.section`" in text and "'Demand'" in text and "showing forecast instead" in text
    assert widget(at, "forecast.section").value == "forecast" and at.query_params["forecast.section"] == "forecast"


# --- Overview, Public benchmark --------------------------------------------------------------------------------------


def test_overview_alerts_switch_is_in_the_link():
    at = run()
    widget(at, "overview.alerts").set_value(True)
    at.run()
    assert not at.exception
    same_view("overview", at, {"overview.alerts": True})
    assert "`overview.alerts`" in warnings(run(params={"overview.alerts": "maybe"}))


def test_benchmark_controls_are_in_the_link():
    at = run("benchmark")
    chosen = {
        "benchmark.platforms": ["YouTube", "Discord"],
        "benchmark.period": (dt.date(2025, 3, 1), dt.date(2025, 5, 31)),
        "benchmark.own": False,
    }
    for key, value in chosen.items():
        widget(at, key).set_value(value)
    at.run()
    widget(at, "benchmark.mix_platform").set_value("Discord")
    at.run()
    assert not at.exception
    chosen["benchmark.mix_platform"] = "Discord"
    assert at.query_params["benchmark.period"] == "2025-03-01..2025-05-31"
    same_view("benchmark", at, chosen)


def test_an_invalid_benchmark_link_is_named_in_a_warning():
    at = run("benchmark", {"benchmark.period": "2025-05-31..2025-03-01", "benchmark.platforms": ["Nowhere", "TikTok"]})
    text = warnings(at)
    assert "`benchmark.period`" in text and "'2025-05-31..2025-03-01'" in text
    assert "`benchmark.platforms`" in text and "'Nowhere'" in text
    assert widget(at, "benchmark.platforms").value == ["TikTok"]


# --- The filter bar -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"start": "2026-06-20", "end": "2026-06-01"}, ["`end`", "'2026-06-01'"]),  # end before start
        ({"start": "2019-01-01"}, ["`start`", "'2019-01-01'"]),  # before the data
        ({"end": "2031-01-01"}, ["`end`", "'2031-01-01'"]),  # after the data
        ({"start": "yesterday"}, ["`start`", "'yesterday'"]),  # not a date
        ({"market": ["DE", "Atlantis"]}, ["`market`", "'Atlantis'"]),  # an unknown market
    ],
)
def test_an_invalid_filter_in_a_link_is_named_in_a_warning(params: dict, named: list[str]):
    at = run(params=params)
    text = warnings(at)
    assert all(n in text for n in named), text
    start, end = (dt.date.fromisoformat(at.query_params[k]) for k in ("start", "end"))
    assert FIRST_DAY <= start <= end <= DEMO_END
    if "market" in params:
        assert at.multiselect(key="filters.market").value == ["DE"]


def test_an_unknown_vendor_in_a_link_is_counted_not_named():
    text = warnings(run(params={"vendor": "sentinel_opz"}))
    assert "`vendor`" in text and "1 vendor(s) not in this data" in text and "sentinel_opz" not in text


def test_every_filter_set_in_the_bar_is_in_the_link_and_a_new_session_on_it_shows_the_same_view():
    at = run()
    chosen: dict = {"filters.dates": (dt.date(2026, 5, 4), dt.date(2026, 5, 31))}
    for name in ("policy_domain", "market", "surface", "source", "vendor"):
        shown = widget(at, f"filters.{name}").options  # display names ("Youth safety"), in the data's order
        widget(at, f"filters.{name}").set_value(shown[-2:])  # two of each, as the widget shows them
    widget(at, "filters.dates").set_value(chosen["filters.dates"])
    at.run()
    for name in ("policy_domain", "market", "surface", "source", "vendor"):  # the values behind those labels
        chosen[f"filters.{name}"] = at.session_state[f"filters.{name}"]
        assert len(chosen[f"filters.{name}"]) == 2, name
    assert "youth_safety" in chosen["filters.policy_domain"]  # the identifier is the value; the label only shows
    assert not at.exception, [e.value for e in at.exception]
    assert at.query_params["start"] == "2026-05-04" and at.query_params["end"] == "2026-05-31"
    assert link(at)["market"] == chosen["filters.market"]  # the dimension's own name, values as the data gives them
    same_view("overview", at, chosen)


def test_a_valid_filter_link_shows_no_warning():
    at = run(params={"start": "2026-05-01", "end": "2026-05-31", "market": "DE"})
    assert not at.warning


# --- Words on screen ---------------------------------------------------------------------------------------------

VIEWS = [  # every page, every section and tab of it, by its link
    ("overview", {"overview.alerts": "true"}),
    *[("turnaround", {"turnaround.tab": t}) for t in ("time", "sla", "backlog", "exposure", "hour-of-week", "sources")],
    ("turnaround", {"turnaround.by": "queue"}),
    ("trends", {}),
    *[("vendors", {"vendors.tab": t}) for t in ("vendors", "capacity", "quality", "appeals", "policy-gaps")],
    ("vendors", {"vendors.tab": "training"}),
    *[("forecast", {"forecast.section": s}) for s in ("forecast", "capacity", "live", "scenarios")],
    *[("forecast", {"forecast.section": "capacity", "capacity.by": s}) for s in ("vendor,language", "vendor,queue")],
    ("data-health", {}),
    ("transparency", {}),
    ("benchmark", {}),
]
# Controls kept in the link under another name, or that change no view: the source (`src`), the filter bar's fields
# (`start`/`end` and each dimension's own name), a vendor's skills (in `scenario.roster`) and the save form's fields.
LINKED_OTHERWISE = re.compile(r"source|filters\..+|scenario\.skills\..+|scenario\.(name|author)")


@pytest.mark.parametrize(("page", "params"), VIEWS)
def test_every_view_keeps_each_control_in_the_link_and_shows_no_raw_identifier(
    page: str, params: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    store = f"sqlite:///{tmp_path / 'scenarios.db'}"  # one saved version: the Scenarios section draws its pickers
    ScenarioStore(store, scope=None).save("plus ten", Scenario(volume_uplift=0.1), "ana")
    monkeypatch.setenv("BELLWETHER_SCENARIO_URL", store)
    at = run(page, params)
    controls = [w.key for kind in (*WIDGETS, "text_input") for w in at.get(kind)]
    assert [k for k in controls if k not in at.query_params and not LINKED_OTHERWISE.fullmatch(k)] == []
    assert raw_identifiers_on_screen(at) == []


def test_checks_the_alerts_could_not_make_are_named_in_words():
    early = {"start": str(FIRST_DAY), "end": str(FIRST_DAY + dt.timedelta(days=20)), "overview.alerts": "true"}
    notes = [c.value for c in run(params=early).caption if c.value.startswith("Not checked: ")]
    assert notes and any(n.startswith("Not checked: Forecast band: needs ") for n in notes), notes
    assert not [n for n in notes if "_" in n.split(": ")[1]], notes


# --- Charts -----------------------------------------------------------------------------------------------------------


def chart(at, key: str) -> dict:
    return json.loads(next(c for c in at.get("plotly_chart") if c.key == key).proto.spec)


def test_overview_trend_shows_top_domains_and_other_by_name_in_the_shared_colours(data_dir: Path):
    at = run()
    bars = [t for t in chart(at, "overview.trend")["data"] if t["type"] == "bar"]
    names = [t["name"] for t in bars]
    assert len(bars) == MAX_SERIES + 1 and OTHER in names
    assert not [n for n in names if "_" in n], names
    domains = sorted(pl.read_parquet(data_dir / "demo" / "tickets.parquet")["policy_domain"].unique().to_list())
    colours = category_colours([display_value("policy_domain", d) for d in domains])
    assert {t["name"]: t["marker"]["color"] for t in bars} == {n: colours[n] for n in names}


def test_benchmark_delay_is_on_a_log_axis_and_the_category_mix_has_top_categories_and_other():
    at = run("benchmark")
    assert chart(at, "benchmark.delay")["layout"]["yaxis"]["type"] == "log"
    mix = chart(at, "benchmark.mix")
    assert len(mix["data"]) <= MAX_SERIES + 1
    assert mix["layout"]["legend"]["orientation"] == "h"
    assert not [t["name"] for t in mix["data"] if "_" in t["name"] or t["name"].isupper()]


def test_hour_of_week_cells_show_their_value_at_a_readable_size():
    at = run("turnaround", {"turnaround.tab": "hour-of-week"})
    heat = chart(at, "turnaround.arrivals_heatmap")["data"][0]
    assert heat["texttemplate"] == "%{text}" and heat["textfont"]["size"] >= 11


def test_top_weekly_keeps_the_largest_groups_and_sums_the_rest():
    week = dt.date(2026, 6, 1)
    trend = pl.DataFrame(
        {"week": [week] * 4, "policy_domain": ["a", "b", "c", None], "tickets": [5, 3, 2, 1]},
    )
    shown = top_weekly(trend, "policy_domain", 2, other="Other")
    assert dict(shown.select("policy_domain", "tickets").iter_rows()) == {"a": 5, "b": 3, "Other": 3}
    assert top_weekly(trend, "policy_domain", 4).equals(trend)
