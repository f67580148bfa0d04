"""The Turnaround & SLA page through Streamlit's AppTest: renders every tab, shows its figures, reacts to filters."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from pandas.testing import assert_frame_equal as pandas_frame_equal
from streamlit.testing.v1 import AppTest

from dashboard.charts.turnaround import duration_label
from queries.analyses.turnaround import turnaround
from queries.filters import Filters
from queries.histogram import PERCENTILE_ERROR_BOUND
from queries.metrics import summarize
from queries.sources.dataset import load_dataset
from tests.apptest import DEMO_END, metrics_by_label, run

pytestmark = pytest.mark.usefixtures("app_env")
DEFAULT = Filters(DEMO_END - dt.timedelta(days=27), DEMO_END)  # the filter bar's default: the last 28 days


def test_page_shows_tiles_and_the_turnaround_charts(data_dir: Path):
    at = run("turnaround")
    assert at.title[0].value == "Turnaround & SLA"
    tiles = metrics_by_label(at)
    assert len(tiles) == 8 and all(v != "–" for v in tiles.values()), tiles
    ds = load_dataset(data_dir / "demo")
    total = turnaround(ds, DEFAULT, "first_action_at").row(0, named=True)
    assert tiles["P90 time to first action"] == duration_label(total["p90_hours"])
    assert tiles["P99 time to first action"] == duration_label(total["p99_hours"])
    assert tiles["Open at end of period"] == f"{summarize(ds, 'open_backlog', DEFAULT)['open_tickets'][0]:,}"
    assert tiles["SLA attainment"] == f"{summarize(ds, 'sla', DEFAULT)['attainment'][0]:.1%}"
    assert "Hours from Created at to First action at" in next(m.help for m in at.metric if m.label.startswith("P90"))
    assert len(at.get("plotly_chart")) == 2  # trend and distribution; the other tabs do not run until opened
    assert any("UTC" in c.value for c in at.caption)


def test_filter_change_changes_the_figures(data_dir: Path):
    at = run("turnaround")
    before = metrics_by_label(at)
    trend_before = at.get("plotly_chart")[0].proto.spec
    at.multiselect(key="filters.policy_domain").set_value(["hateful_conduct"]).run()
    assert not at.exception
    after = metrics_by_label(at)
    ds = load_dataset(data_dir / "demo")
    hate = Filters(DEFAULT.start, DEFAULT.end, policy_domain=("hateful_conduct",))
    assert after["P50 time to first action"] == duration_label(turnaround(ds, hate, "first_action_at")["p50_hours"][0])
    assert after != before
    assert at.get("plotly_chart")[0].proto.spec != trend_before


def test_split_and_measure_change_the_view_and_the_link():
    at = run("turnaround")
    at.selectbox(key="turnaround.by").set_value("queue").run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == 3  # trend per queue, ECDF per queue, P50/P90/P99 per queue
    assert at.radio(key="turnaround.stat").value == "p90_hours"
    assert set(at.dataframe[0].value["queue"]) == {"Live P0", "Live P1", "Live comments", "Gifts", "Reports"}
    at.selectbox(key="turnaround.measure").set_value("closed_at").run()
    assert "P90 time to close" in metrics_by_label(at)
    # The choices are part of the link: opening it reproduces the view.
    linked = run("turnaround", {"turnaround.by": "queue", "turnaround.measure": "closed_at"})
    assert linked.selectbox(key="turnaround.by").value == "queue" and len(linked.get("plotly_chart")) == 3
    assert metrics_by_label(linked) == metrics_by_label(at)


@pytest.mark.parametrize(
    ("tab", "charts", "tables"),
    [
        ("SLA", 1, 2),  # attainment chart; policy and attainment tables
        ("Backlog", 2, 2),  # flow and aging; daily figures and oldest per queue
        ("Exposure", 1, 2),  # reach scatter; by domain and the ranking of the open backlog
        ("Hour of week", 2, 0),
        ("Proactive vs reactive", 1, 1),
    ],
)
def test_every_tab_renders_from_its_link(tab: str, charts: int, tables: int):
    at = run("turnaround", {"turnaround.tab": tab})
    assert len(at.get("plotly_chart")) == charts
    assert len(at.dataframe) == tables


def test_backlog_tab_figures_match_the_metric(data_dir: Path):
    at = run("turnaround", {"turnaround.tab": "Backlog"})
    ds = load_dataset(data_dir / "demo")
    daily = summarize(ds, "backlog", DEFAULT, period="day")
    shown = at.dataframe[0].value
    assert shown["open_end"].tolist() == daily["open_end"].to_list()
    assert shown["arrivals"].sum() == daily["arrivals"].sum()
    assert any("open at its end = open at its start + arrivals − closures" in c.value for c in at.caption)


def test_sla_tab_groups_by_queue_and_says_when_there_is_no_source_flag():
    at = run("turnaround", {"turnaround.tab": "SLA"})
    assert at.dataframe[1].value["sla_rule"].tolist()[0].startswith("Live P0")
    assert any("gives no `sla_met`" in c.value for c in at.caption)
    at.selectbox(key="turnaround.sla_by").set_value("queue").run()
    assert "queue" in at.dataframe[1].value.columns


def write_flagged_tickets(folder: Path) -> None:
    """Four tickets with the source's own SLA flag: the policy and the flag disagree on ticket 2."""
    (folder / "tickets.csv").write_text(
        "ticket_id,created_at,first_action_at,closed_at,queue,priority,sla_met\n"
        "1,2026-01-05 10:00:00,2026-01-05 10:00:30,2026-01-05 10:01:00,live_p0,P0,true\n"
        "2,2026-01-05 11:00:00,2026-01-05 11:05:00,2026-01-05 11:06:00,live_p0,P0,true\n"  # 5 min > 60 s
        "3,2026-01-06 09:00:00,2026-01-06 10:00:00,,reports,P3,true\n"
        "4,2026-01-06 12:00:00,2026-01-06 12:00:10,2026-01-06 12:01:00,live_p0,P0,\n"
    )


def test_source_sla_flag_is_compared_and_disagreements_flagged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    write_flagged_tickets(tmp_path)
    monkeypatch.setenv("BELLWETHER_SOURCE", str(tmp_path))
    at = run("turnaround", {"src": "extracts", "turnaround.tab": "SLA", "start": "2026-01-05", "end": "2026-01-06"})
    values = metrics_by_label(at)
    assert values["Attainment (this policy)"] == "66.7%" and values["Attainment (source's sla_met)"] == "100.0%"
    assert values["Tickets rated differently"] == "1"
    assert any("disagree on 1 tickets" in w.value for w in at.warning)
    assert at.dataframe[-1].value["ticket_id"].tolist() == ["2"]


def test_a_source_without_action_times_explains_what_to_map(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "tickets.csv").write_text(
        "ticket_id,created_at,closed_at\n1,2026-01-05 10:00:00,2026-01-05 12:00:00\n2,2026-01-06 10:00:00,\n"
    )
    monkeypatch.setenv("BELLWETHER_SOURCE", str(tmp_path))
    at = run("turnaround", {"src": "extracts"})
    assert at.selectbox(key="turnaround.measure").options == ["Time to close"]  # the labels shown
    assert set(metrics_by_label(at)) == {
        "P50 time to close",
        "P90 time to close",
        "P99 time to close",
        "Mean time to close",
        "Open at end of period",
    }
    sla = run("turnaround", {"src": "extracts", "turnaround.tab": "SLA"})
    assert "needs tickets.first_action_at" in sla.info[0].value
    backlog = run("turnaround", {"src": "extracts", "turnaround.tab": "Backlog"})
    assert len(backlog.get("plotly_chart")) == 2
    (tmp_path / "tickets.csv").write_text("ticket_id,created_at\n1,2026-01-05 10:00:00\n")
    bare = run("turnaround", {"src": "extracts"})
    assert "needs tickets.first_action_at or tickets.closed_at" in bare.info[0].value


# --- the same page from rollups and from a warehouse (test_app_rollups.py, test_app_warehouse.py) -----------------

TABS = ("Time to act", "SLA", "Backlog", "Exposure", "Hour of week", "Proactive vs reactive")
UNIT_HOURS = {"s": 1 / 3600, "min": 1 / 60, "h": 1.0, "d": 24.0}


def label_hours(label: str) -> float:
    """A duration_label back in hours ("16.2 min" -> 0.27)."""
    number, unit = label.split()
    return float(number.replace(",", "")) * UNIT_HOURS[unit]


def assert_turnaround_shows_what_the_rows_show(at: AppTest, rows: AppTest, tab: str) -> None:
    """The page from aggregates shows what it shows from ticket rows: no part said to need rows, the same headings,
    tiles and tables (percentiles within PERCENTILE_ERROR_BOUND and the tiles' rounding), every chart but the median
    by hour of creation (from ticket rows only)."""
    assert not at.exception
    assert not [i.value for i in at.info if "needs ticket rows" in i.value], tab
    assert [s.value for s in at.subheader] == [s.value for s in rows.subheader], tab
    tiles, expected = metrics_by_label(at), metrics_by_label(rows)
    assert tiles.keys() == expected.keys() and "P99 time to first action" in tiles
    for name, want in expected.items():
        if re.match(r"P\d+ ", name):  # P50/P90/P99 from histograms or buckets
            got, exact = label_hours(tiles[name]), label_hours(want)
            assert abs(got - exact) <= exact * PERCENTILE_ERROR_BOUND + UNIT_HOURS[want.split()[1]] * 0.1, name
        else:
            assert tiles[name] == want, name
    charts = len(rows.get("plotly_chart")) - (tab == "Hour of week")
    assert len(at.get("plotly_chart")) == charts > 0, tab
    assert len(at.dataframe) == len(rows.dataframe), tab
    for got, want in zip([d.value for d in at.dataframe], [d.value for d in rows.dataframe], strict=True):
        pandas_frame_equal(got, want, check_exact=False, rtol=PERCENTILE_ERROR_BOUND)
