"""The app on extracts above BELLWETHER_ROLLUP_ROWS: Overview, Trends and Data health served from rollups."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from pandas.testing import assert_frame_equal

from dashboard.components import format_value
from queries.filters import Filters
from queries.histogram import PERCENTILE_ERROR_BOUND
from queries.metrics import summarize
from queries.sources.dataset import load_dataset
from tests.apptest import DEMO_END, metrics_by_label, run
from tests.test_app_trends import WIDE, spike_list
from tests.test_app_turnaround import TABS, assert_turnaround_shows_what_the_rows_show, write_flagged_tickets

pytestmark = pytest.mark.usefixtures("app_env")

PARAMS = {"start": "2026-05-04", "end": "2026-05-31", "market": ["DE", "US"]}
FILTERS = Filters(dt.date(2026, 5, 4), dt.date(2026, 5, 31), market=("DE", "US"))


@pytest.fixture
def rolled_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BELLWETHER_ROLLUP_ROWS", "1")  # every source counts as large


def test_overview_from_rollups_matches_the_rows(rolled_up: None, data_dir: Path):
    at = run(params=PARAMS)
    tiles = metrics_by_label(at)
    ds = load_dataset(data_dir / "demo")
    for label, metric, measure in (
        ("Tickets received", "volume", "tickets"),
        ("Tickets actioned", "actioned", "actioned"),
        ("Open backlog", "open_backlog", "open_tickets"),
    ):
        assert tiles[label] == format_value(summarize(ds, metric, FILTERS)[measure][0], "count"), label
    exact = summarize(ds, "time_to_first_action", FILTERS)["p90_hours"][0]
    number, unit = tiles["P90 time to action"].split()  # e.g. "16.2 min": one decimal of min or h
    scale = {"s": 3600, "min": 60, "h": 1}[unit]
    assert abs(float(number) / scale - exact) <= exact * PERCENTILE_ERROR_BOUND + 0.05 / scale
    assert len(at.get("plotly_chart")) == 2
    assert set(at.table[0].value["Market"]) <= {"DE", "US"}  # the movers: a static table, so it prints
    qa = summarize(ds, "qa_accuracy", FILTERS)["accuracy"][0]  # QA reviews with their tickets' markets
    assert tiles["QA accuracy"] == format_value(qa, "share")
    assert any("served from daily rollups" in c.value for c in at.sidebar.caption)


def segments_table(at) -> pl.DataFrame:
    """The drill-down's segments on the page."""
    return pl.from_pandas(next(d.value for d in at.dataframe if "segment" in d.value.columns))


def test_trends_from_rollups_lists_the_same_spikes_and_drill_down_as_the_rows(monkeypatch: pytest.MonkeyPatch):
    rows_page = run("trends", WIDE)
    from_rows = spike_list(rows_page)
    monkeypatch.setenv("BELLWETHER_ROLLUP_ROWS", "1")
    at = run("trends", WIDE)
    assert any("served from daily rollups" in c.value for c in at.sidebar.caption)
    assert from_rows.height > 0 and spike_list(at).equals(from_rows)
    assert [s.value for s in at.subheader][:4] == [
        "Volume over time",
        "Spikes",
        "Emerging trends",
        "Actual vs forecast band",
    ]
    assert not any(i.value.startswith("These extracts hold") for i in at.info)
    # The drill-down from aggregates: the rows' segments but queue's, which it names as left out.
    expected = segments_table(rows_page).filter(~pl.col("segment").str.starts_with("Queue:"))
    assert expected.height > 0 and segments_table(at).head(expected.height).equals(expected)
    assert any("Not broken down by queue" in c.value for c in at.caption)
    # Time to action of a spike of two keys: read exactly, as the rows give it.
    tiles, rows_tiles = metrics_by_label(at), metrics_by_label(rows_page)
    for label in ("P50 time to action", "P90 time to action", "P90 views before action"):
        assert tiles[label] == rows_tiles[label], label
    assert len(at.get("plotly_chart")) == 3  # volumes, the chosen spike's series, the forecast band
    band = [c.value for c in at.caption if "fell outside the 95 % band" in c.value]
    assert band and band[0] in [c.value for c in rows_page.caption]  # the same days outside the band as the rows'
    assert "Language" in at.selectbox(key="trends.by").options and "Queue" not in at.selectbox(key="trends.by").options
    assert DEMO_END.isoformat() in at.query_params["end"]


def test_transparency_from_rollups_shows_what_it_can_and_names_the_rest(rolled_up: None):
    at = run("transparency", PARAMS)
    sections = [s.value for s in at.subheader]
    assert "Detection and automation" in sections and "Appeals" in sections
    assert "Actions by policy domain" not in sections and "Moderators by language" in sections  # language kept
    assert any("actions by policy domain" in i.value and "daily rollups" in i.value for i in at.info)
    assert len(at.get("download_button")) == 2


def test_forecast_from_rollups_forecasts_and_names_what_needs_rows(rolled_up: None, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("BELLWETHER_SCENARIO_URL", f"sqlite:///{tmp_path / 'scenarios.db'}")
    from_rollups = metrics_by_label(run("forecast"))
    monkeypatch.delenv("BELLWETHER_ROLLUP_ROWS")
    from_rows = metrics_by_label(run("forecast"))
    # The forecast is fitted on daily counts, which the rollups hold exactly: the same model and scores.
    for label in ("Model", "MASE (backtest)", "80 % interval coverage"):
        assert from_rollups[label] == from_rows[label], label
    capacity = {"forecast.section": "capacity"}
    plan_from_rows = metrics_by_label(run("forecast", capacity))
    monkeypatch.setenv("BELLWETHER_ROLLUP_ROWS", "1")
    # Demand vs supply: throughput from the human decisions in the rollups and the staffing table.
    assert metrics_by_label(run("forecast", capacity)) == plan_from_rows
    assert "Worst week: surplus / deficit" in plan_from_rows


def live_summary(at) -> object:
    """The live section's table per queue (tickets, peak agents, agent hours, FTE) as shown."""
    assert not at.exception
    return next(d.value for d in at.dataframe if "peak_agents" in d.value.columns)


def test_live_queues_from_rollups_staff_as_from_the_rows(rolled_up: None, tmp_path: Path, monkeypatch):
    """Erlang staffing of the live queues from the rollups' half-hour arrivals and reviews per queue: the rows' table,
    also filtered by one dimension; two dimensions past the exact-read limit are named as needing rows."""
    monkeypatch.setenv("BELLWETHER_SCENARIO_URL", f"sqlite:///{tmp_path / 'scenarios.db'}")
    live = {"forecast.section": "live", "live.targets": "live_p0=30, live_p1=600"}
    one_vendor = {**live, "vendor": ["atlas_cx"]}
    from_rollups = [live_summary(run("forecast", p)) for p in (live, one_vendor)]
    monkeypatch.delenv("BELLWETHER_ROLLUP_ROWS")
    from_rows = [live_summary(run("forecast", p)) for p in (live, one_vendor)]
    for got, expected in zip(from_rollups, from_rows, strict=True):
        assert len(expected) == 2 and expected["tickets"].sum() > 0
        assert_frame_equal(got, expected, rtol=1e-9)
    assert not from_rows[0].equals(from_rows[1])  # the vendor filter reaches the arrivals and the reviews
    monkeypatch.setenv("BELLWETHER_ROLLUP_ROWS", "1")
    monkeypatch.setattr("queries.engines.rollups.read.EXACT_ROWS_LIMIT", 0)
    at = run("forecast", {**live, "market": ["DE", "US"], "vendor": ["atlas_cx"]})
    assert not at.exception and not [d for d in at.dataframe if "peak_agents" in d.value.columns]
    notes = [i.value for i in at.info]
    assert any("live queues filtered by two or more dimensions" in n and "daily rollups" in n for n in notes), notes


@pytest.mark.parametrize("split", ["none", "vendor"])
@pytest.mark.parametrize("tab", TABS)
def test_turnaround_from_rollups_shows_what_the_rows_show(tab: str, split: str, monkeypatch: pytest.MonkeyPatch):
    """P99, the distribution, hour-of-week arrivals, backlog ages, oldest open tickets and the exposure ranking from
    rollups (and the open tickets read by predicate); over two dimensions (market filtered, split by vendor) too."""
    params = {**PARAMS, "turnaround.tab": tab, "turnaround.by": split}
    rows = run("turnaround", params)
    monkeypatch.setenv("BELLWETHER_ROLLUP_ROWS", "1")
    at = run("turnaround", params)
    assert any("served from daily rollups" in c.value for c in at.sidebar.caption)
    assert_turnaround_shows_what_the_rows_show(at, rows, tab)


def test_turnaround_past_the_exact_read_limit_says_why(rolled_up: None, monkeypatch: pytest.MonkeyPatch):
    """Two dimensions past EXACT_ROWS_LIMIT: no percentile, no distribution, no hour of week; the page says why."""
    monkeypatch.setattr("queries.engines.rollups.read.EXACT_ROWS_LIMIT", 0)
    params = {**PARAMS, "vendor": ["atlas_cx"]}
    at = run("turnaround", params)
    tiles = metrics_by_label(at)
    assert tiles["P99 time to first action"] == tiles["P50 time to first action"] == "–"
    assert len(at.get("plotly_chart")) == 1  # the trend, empty; no distribution
    assert any("two or more dimensions" in i.value for i in at.info), [i.value for i in at.info]
    hours = run("turnaround", {**params, "turnaround.tab": "Hour of week"})
    assert not hours.get("plotly_chart") and any("two or more dimensions" in i.value for i in hours.info)


def test_turnaround_splits_from_rollups_are_the_filter_dimensions(rolled_up: None):
    assert set(at_splits := run("turnaround", PARAMS).selectbox(key="turnaround.by").options) >= {"Market", "Vendor"}
    assert "Queue" not in at_splits and "Priority" not in at_splits


def test_source_sla_flag_is_compared_from_rollups(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The counts come from the rollups; the tickets rated differently are listed from ticket rows only."""
    write_flagged_tickets(tmp_path)
    monkeypatch.setenv("BELLWETHER_SOURCE", str(tmp_path))
    params = {"src": "extracts", "turnaround.tab": "SLA", "start": "2026-01-05", "end": "2026-01-06"}
    rows = run("turnaround", params)
    monkeypatch.setenv("BELLWETHER_ROLLUP_ROWS", "1")
    at = run("turnaround", params)
    assert any("served from daily rollups" in c.value for c in at.sidebar.caption)
    values, expected = metrics_by_label(at), metrics_by_label(rows)
    compared = ("Attainment (this policy)", "Attainment (source's sla_met)", "Tickets rated differently")
    assert values["Tickets rated differently"] == "1" and [values[c] for c in compared] == [
        expected[c] for c in compared
    ]
    assert any("disagree on 1 tickets" in w.value for w in at.warning)
    assert len(at.dataframe) == len(rows.dataframe) - 1  # no list of the tickets


def test_data_health_counts_the_rolled_up_tickets(rolled_up: None, data_dir: Path):
    at = run("data-health")
    tables = at.dataframe[0].value
    rows_loaded = tables.loc[tables["table"] == "Tickets", "rows_loaded"].iloc[0]  # a pandas frame
    assert rows_loaded == load_dataset(data_dir / "demo").reports["tickets"].rows_loaded
    assert set(tables["table"]) == {"Tickets", "Staffing", "QA reviews", "Platform metrics", "Events"}


def test_percentiles_beyond_the_exact_read_limit_are_explained(rolled_up: None, monkeypatch: pytest.MonkeyPatch):
    from queries.engines.rollups import read as rollup_read

    monkeypatch.setattr(rollup_read, "EXACT_ROWS_LIMIT", 0)  # as if the selection held too many rows
    at = run(params={**PARAMS, "policy_domain": "hateful_conduct"})  # two filtered dimensions: no histogram holds both
    tiles = metrics_by_label(at)
    assert tiles["P50 time to action"] == "–" and tiles["Tickets received"] != "–"
    assert any("two or more dimensions" in c.value for c in at.caption), [c.value for c in at.caption]


VENDOR_SECTIONS = ("vendors", "capacity", "quality", "appeals", "policy-gaps", "training")


def screen(at) -> tuple:
    """What a Vendors & quality section shows: its headings, tiles, tables and how many charts."""
    tables = [d.value for d in at.dataframe]
    return [s.value for s in at.subheader], metrics_by_label(at), tables, len(at.get("plotly_chart"))


@pytest.mark.parametrize("section", VENDOR_SECTIONS)
def test_vendors_and_quality_from_rollups_show_what_the_rows_show(section: str, monkeypatch: pytest.MonkeyPatch):
    """Scorecards, QA accuracy, kappa, error types, appeals, policy gaps and training effects from rollups are the
    rows' figures, demand and occupancy by language included (language is a rollups dimension): nothing says it
    needs rows."""
    params = {"vendors.tab": section}
    headings, tiles, tables, charts = screen(run("vendors", params))
    monkeypatch.setenv("BELLWETHER_ROLLUP_ROWS", "1")
    at = run("vendors", params)
    assert any("served from daily rollups" in c.value for c in at.sidebar.caption)
    assert not [i.value for i in at.info if "needs ticket rows" in i.value]
    got_headings, got_tiles, got_tables, got_charts = screen(at)
    assert (got_headings, got_tiles, got_charts) == (headings, tiles, charts)
    assert len(got_tables) == len(tables) > 0
    for got, want in zip(got_tables, tables, strict=True):
        assert_frame_equal(got, want, check_exact=False)


@pytest.mark.parametrize(
    ("section", "params"),
    [("vendors", {"vendors.by": "language"}), ("policy-gaps", {"vendors.gaps_by": "language"})],
)
def test_vendors_and_quality_by_language_from_rollups_are_the_rows(
    section: str, params: dict, monkeypatch: pytest.MonkeyPatch
):
    """The scorecard by vendor × language and policy gaps by domain × language: offered on rollups, the rows'."""
    params = {"vendors.tab": section, **params}
    headings, tiles, tables, _ = screen(run("vendors", params))
    monkeypatch.setenv("BELLWETHER_ROLLUP_ROWS", "1")
    at = run("vendors", params)
    assert any("served from daily rollups" in c.value for c in at.sidebar.caption) and not at.warning
    got_headings, got_tiles, got_tables, _ = screen(at)
    assert (got_headings, got_tiles) == (headings, tiles) and len(got_tables) == len(tables) > 0
    assert any("Language" in t.columns or "language" in t.columns for t in got_tables)
    for got, want in zip(got_tables, tables, strict=True):
        assert_frame_equal(got, want, check_exact=False)
