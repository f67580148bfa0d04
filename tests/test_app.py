"""Every page through Streamlit's AppTest: renders without exceptions, shows its figures, reacts to filters."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import polars as pl
import pytest
from streamlit.proto.Metric_pb2 import Metric as MetricProto

from dashboard.components import format_value
from queries.filters import Filters
from queries.metrics import summarize
from queries.sources.dataset import load_dataset
from tests.apptest import DEMO_END, metrics_by_label, run

pytestmark = pytest.mark.usefixtures("app_env")


def test_overview_shows_every_kpi_and_both_charts(data_dir: Path):
    at = run()
    values = metrics_by_label(at)
    assert len(values) == 10
    assert all(v != "–" for v in values.values()), values
    charts = [c.key for c in at.get("plotly_chart")]  # and the goals over time of config/targets.toml
    assert charts == ["overview.trend", "overview.movers_chart", "overview.goals"]
    # Default view: the last 28 days of data; the tile equals the metric computed directly.
    ds = load_dataset(data_dir / "demo")
    expected = summarize(ds, "volume", Filters(DEMO_END - dt.timedelta(days=27), DEMO_END))["tickets"][0]
    assert values["Tickets received"] == format_value(expected, "count")
    tile = next(m for m in at.metric if m.label == "Tickets received")
    assert "Tickets created in the period" in tile.help and "Previous period" in tile.help
    assert at.query_params["start"] == str(DEMO_END - dt.timedelta(days=27))


def test_filter_change_changes_the_figures_and_the_url():
    at = run()
    before = metrics_by_label(at)["Tickets received"]
    at.multiselect(key="filters.policy_domain").set_value(["hateful_conduct"]).run()
    assert not at.exception
    after = metrics_by_label(at)["Tickets received"]
    assert int(after.replace(",", "")) < int(before.replace(",", ""))
    assert at.query_params["policy_domain"] == "hateful_conduct"


def test_url_parameters_reproduce_a_view(data_dir: Path):
    params = {"start": "2026-05-04", "end": "2026-05-31", "market": ["DE", "US"], "surface": "live_stream"}
    at = run(params=params)
    ds = load_dataset(data_dir / "demo")
    f = Filters(dt.date(2026, 5, 4), dt.date(2026, 5, 31), market=("DE", "US"), surface=("live_stream",))
    expected = summarize(ds, "time_to_first_action", f)["p90_hours"][0]
    assert metrics_by_label(at)["P90 time to action"] == format_value(expected, "hours")
    assert at.multiselect(key="filters.market").value == ["DE", "US"]


def test_data_health_lists_tables_and_freshness():
    at = run("data-health")
    assert at.title[0].value == "Data health"
    tables = at.dataframe[0].value
    assert set(tables["table"]) == {"Tickets", "Staffing", "QA reviews", "Platform metrics", "Events"}  # display names
    assert (tables["rows_loaded"] > 0).all()
    assert any("No rows rejected" in s.value for s in at.success)


def test_rejected_rows_are_shown_on_data_health(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "tickets.csv").write_text(
        "ticket_id,created_at,closed_at\n"
        "a,2026-01-01 10:00:00,2026-01-01 11:00:00\n"
        "b,2026-01-01 10:00:00,2026-01-01 09:00:00\n"
        "c,yesterday,\n"
    )
    monkeypatch.setenv("BELLWETHER_SOURCE", str(tmp_path))
    at = run("data-health", {"src": "extracts"})
    rejected, quarantined = at.dataframe[1].value, at.dataframe[2].value
    assert dict(zip(rejected["reason"], rejected["rows"], strict=True)) == {"unparseable created_at": 1}
    assert quarantined[["field", "reason", "rows"]].values.tolist() == [["closed_at", "closed before created", 1]]
    overview = run("overview", {"src": "extracts"})
    unavailable = next(m for m in overview.metric if m.label == "QA accuracy")
    assert unavailable.value == "–" and "needs the qa_reviews table" in unavailable.help


def test_unreadable_source_shows_a_friendly_error_not_a_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "tickets.csv").write_text("id,opened\n1,2026-01-01\n")
    monkeypatch.setenv("BELLWETHER_SOURCE", str(tmp_path))
    for page in ("overview", "data-health"):
        at = run(page, {"src": "extracts"})
        assert "required fields 'ticket_id' and 'created_at'" in at.error[0].value
        assert "Fix:" in at.error[0].value


def test_first_start_generates_the_demo_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("BELLWETHER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("BELLWETHER_DEMO_TICKETS_PER_DAY", "20")
    at = run()
    assert (tmp_path / "demo" / "tickets.parquet").exists()
    assert any("Generated the demo warehouse" in i.value for i in at.info)
    assert pl.read_parquet(tmp_path / "demo" / "tickets.parquet").height > 0
    assert os.listdir(tmp_path) == ["demo"]  # no staging folder left behind


def test_an_unknown_demo_scale_is_an_error_panel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("BELLWETHER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("BELLWETHER_DEMO_SCALE", "huge")
    at = run()
    assert not at.exception
    assert "BELLWETHER_DEMO_SCALE='huge' is not a demo scale. Fix: Use one of: default, small." in at.error[0].value
    assert not (tmp_path / "demo" / "tickets.parquet").exists()


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (1234567, "count", "1,234,567"),
        (0.002, "hours", "7 s"),
        (0.5, "hours", "30.0 min"),
        (26.04, "hours", "26.0 h"),
        (0.9731, "share", "97.3%"),
        (11.071, "per_million", "11.07"),
        (None, "share", "–"),
    ],
)
def test_tile_values_read_naturally(value, unit, text):
    assert format_value(value, unit) == text


def test_minimal_source_explains_what_to_map(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "tickets.csv").write_text(
        "ticket_id,created_at\n" + "".join(f"t{i},2026-01-{1 + i % 28:02d} 10:00:00\n" for i in range(60))
    )
    monkeypatch.setenv("BELLWETHER_SOURCE", str(tmp_path))
    at = run("overview", {"src": "extracts"})
    values = metrics_by_label(at)
    assert values["Tickets received"] != "–" and values["P90 time to action"] == "–"
    assert any("needs tickets.first_action_at" in c.value for c in at.caption)
    assert any("Top movers need tickets.policy_domain" in i.value for i in at.info)
    assert [s.label for s in at.sidebar.multiselect] == []  # no filters for fields the source lacks


def test_switching_back_from_a_broken_source_keeps_the_filters_working(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "tickets.csv").write_text("id\n1\n")
    monkeypatch.setenv("BELLWETHER_SOURCE", str(tmp_path))
    at = run()
    at.selectbox(key="source").set_value("extracts").run()
    assert at.error and not at.exception
    at.selectbox(key="source").set_value("demo").run()
    assert not at.exception and len(at.metric) == 10


def test_date_range_being_picked_or_cleared_never_breaks_the_page():
    at = run()
    picker = at.date_input(key="filters.dates")
    picker.set_value((dt.date(2026, 6, 10),)).run()
    assert not at.exception
    assert at.session_state["filters.dates"] == (dt.date(2026, 6, 10),)  # left alone until the range is complete
    assert at.query_params["start"] != "2026-06-10"  # the link changes only when the range is complete
    at.date_input(key="filters.dates").set_value(()).run()
    assert not at.exception and len(at.metric) == 10


def test_filter_values_with_commas_round_trip_through_the_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "tickets.csv").write_text(
        'ticket_id,created_at,vendor\n1,2026-01-05 10:00:00,"Acme, Inc."\n2,2026-01-05 11:00:00,Other\n'
    )
    monkeypatch.setenv("BELLWETHER_SOURCE", str(tmp_path))
    at = run("overview", {"src": "extracts", "vendor": ["Acme, Inc."]})
    assert at.multiselect(key="filters.vendor").value == ["Acme, Inc."]
    assert metrics_by_label(at)["Tickets received"] == "1"


def test_forecast_page_forecasts_plans_staffs_and_saves_scenarios(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("BELLWETHER_SCENARIO_URL", f"sqlite:///{tmp_path / 'scenarios.db'}")
    at = run("forecast")
    assert {"Model", "MASE (backtest)", "80 % interval coverage"} <= set(metrics_by_label(at))
    assert len(at.get("plotly_chart")) == 2  # the forecast and its backtest: one section at a time
    at.segmented_control(key="forecast.section").set_value("live").run()
    assert [c.key for c in at.get("plotly_chart")] == ["live.chart"]
    at.segmented_control(key="forecast.section").set_value("capacity").run()
    assert len(at.get("plotly_chart")) == 3  # demand/supply, gap, backlog
    baseline_gap = float(metrics_by_label(at)["Worst week: surplus / deficit"].split()[0])

    at.slider(key="scenario.volume").set_value(200).run()  # past the demo's coverage floors, which it staffs
    assert not at.exception
    stressed_gap = float(metrics_by_label(at)["Worst week: surplus / deficit"].split()[0])
    assert stressed_gap < baseline_gap

    at.segmented_control(key="forecast.section").set_value("scenarios").run()
    at.text_input(key="scenario.name").set_value("triple volume")
    at.text_input(key="scenario.author").set_value("planner")
    at.button[0].click().run()  # the form's submit button
    assert any("Saved 'triple volume' as version 1" in s.value for s in at.success)
    at.slider(key="scenario.volume").set_value(0).run()
    at.button(key="scenario.load").click().run()
    assert not at.exception and at.slider(key="scenario.volume").value == 200


def test_forecast_page_groups_and_reconciles(tmp_path: Path):
    at = run("forecast")
    at.selectbox(key="forecast.by").set_value("Policy domain").run()
    assert not at.exception
    assert "Total" in at.selectbox(key="forecast.series").options  # shown by its display name
    assert any("add up to the total" in c.value for c in at.caption)


def test_new_extracts_are_picked_up_and_a_vanished_source_is_explained(tmp_path: Path, monkeypatch):
    import shutil

    source = tmp_path / "extracts"
    source.mkdir()
    (source / "tickets.csv").write_text("ticket_id,created_at\n1,2026-01-05 10:00:00\n")
    monkeypatch.setenv("BELLWETHER_SOURCE", str(source))
    at = run("overview", {"src": "extracts", "start": "2026-01-05", "end": "2026-01-05"})
    assert metrics_by_label(at)["Tickets received"] == "1"
    (source / "tickets.csv").write_text("ticket_id,created_at\n1,2026-01-05 10:00:00\n2,2026-01-05 11:00:00\n")
    at.run()  # the file signature changed: the cached dataset is not reused
    assert metrics_by_label(at)["Tickets received"] == "2"
    shutil.rmtree(source)
    at.run()
    assert not at.exception and "does not exist" in at.error[0].value


@pytest.mark.parametrize(
    "page", ["overview", "trends", "turnaround", "forecast", "vendors", "transparency", "benchmark"]
)
def test_every_page_survives_a_minimal_source_and_an_empty_selection(page, tmp_path: Path, monkeypatch):
    (tmp_path / "tickets.csv").write_text(
        "ticket_id,created_at\n" + "".join(f"t{i},2026-01-{1 + i % 28:02d} 10:00:00\n" for i in range(90))
    )
    monkeypatch.setenv("BELLWETHER_SOURCE", str(tmp_path))
    run(page, {"src": "extracts"})  # run() fails on any exception
    run(page, {"source": "legal", "market": "FR"})  # demo, a selection without tickets


def test_overview_without_a_previous_period_says_so_instead_of_a_change(data_dir: Path):
    from queries.engines import created_days

    first, _ = created_days(load_dataset(data_dir / "demo"))
    at = run(params={"start": str(first), "end": str(first + dt.timedelta(days=27))})
    tiles = {m.label: m for m in at.metric}
    received = tiles["Tickets received"]
    assert received.value != "–" and received.proto.delta == "no previous data"  # not "+8,400" in green
    assert all(m.proto.delta == "no previous data" for m in tiles.values())
    assert all(m.proto.direction == MetricProto.MetricDirection.NONE for m in tiles.values())  # no arrows
    assert f"starts before the data, which start on {first}" in received.help
    assert any("no previous data" in c.value for c in at.caption)
    assert any("Top movers compare with the previous period" in i.value for i in at.info)


def test_the_sla_tile_shows_a_change_that_rounds_to_zero_points(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    def tickets(first_day: int, met: int, missed: int) -> list[str]:
        rows = []
        for i in range(met + missed):
            created = dt.datetime(2026, 1, first_day + i % 7, 10)
            acted = created + dt.timedelta(minutes=5 if i < met else 3 * 24 * 60)  # the 24 h rule: met, or missed
            rows.append(f"p{first_day}-{i},{created},{acted},{acted}\n")
        return rows

    previous, current = tickets(1, 950, 50), tickets(8, 951, 50)  # 95.0 % and 95.005 %: both read 95.0 %
    (tmp_path / "tickets.csv").write_text(
        "ticket_id,created_at,first_action_at,closed_at\n" + "".join(previous + current)
    )
    monkeypatch.setenv("BELLWETHER_SOURCE", str(tmp_path))
    at = run("overview", {"src": "extracts", "start": "2026-01-08", "end": "2026-01-14"})
    sla = next(m for m in at.metric if m.label == "SLA attainment")
    assert sla.value == "95.0%" and "Previous period (2026-01-01 to 2026-01-07): 95.0%" in sla.help
    assert sla.proto.delta == "+0.005 pts"
    # A change inside the noise is not coloured as news: no arrow, grey, and the tile says why.
    assert sla.proto.direction == MetricProto.MetricDirection.NONE and "within the noise" in sla.help
    received = next(m for m in at.metric if m.label == "Tickets received")  # 1001 vs 1000
    assert received.proto.delta == "+1 (+0.1%)"


def test_trends_daily_line_has_every_day_with_zero_on_days_without_tickets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    import json

    days_with_tickets = {dt.date(2026, 1, 5): 3, dt.date(2026, 1, 6): 1, dt.date(2026, 1, 9): 2}  # 7, 8 empty
    (tmp_path / "tickets.csv").write_text(
        "ticket_id,created_at\n"
        + "".join(f"{day}-{i},{day} 10:00:00\n" for day, n in days_with_tickets.items() for i in range(n))
    )
    monkeypatch.setenv("BELLWETHER_SOURCE", str(tmp_path))
    at = run("trends", {"src": "extracts", "start": "2026-01-05", "end": "2026-01-09"})
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    line = next(trace for trace in spec["data"] if trace.get("name") == "all tickets")
    assert [x[:10] for x in line["x"]] == [f"2026-01-{d:02d}" for d in range(5, 10)]
    assert line["y"] == [3, 1, 0, 0, 2]  # the line drops to 0, it does not join 6 to 9 January


def test_first_start_of_a_demo_served_from_rollups_builds_them_under_the_progress_bar(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A demo at or above BELLWETHER_ROLLUP_ROWS is rolled up during first start (the progress bar runs from
    generation through the build, in order, to 100 %), so the first page opens on rollups already built."""
    from dashboard.loaders import ensure_demo
    from dashboard.settings import SourceOption

    monkeypatch.setenv("BELLWETHER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("BELLWETHER_DEMO_TICKETS_PER_DAY", "20")
    monkeypatch.setenv("BELLWETHER_ROLLUP_ROWS", "1")
    steps: list[tuple[float, str]] = []
    option = SourceOption("demo", "Demo", str(tmp_path / "demo"), None, is_demo=True)
    assert ensure_demo(option, progress=lambda done, step: steps.append((done, step)))
    shares = [done for done, _ in steps]
    assert shares == sorted(shares) and shares[0] == 0.0 and shares[-1] == 1.0
    assert any(step.startswith("Rolling up tickets") and 0.6 <= done < 1.0 for done, step in steps)
    assert list((tmp_path / "cache" / "rollups").glob("*/chunks/*"))  # built on disk, reused by the app
    assert not ensure_demo(option)  # generated once
