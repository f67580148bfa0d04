"""The weekly leadership snapshot: one self-contained HTML file (charts embedded, opens without a network), its PDF
printed by headless Chromium, figures equal to the command line's, on extracts, rollups and the warehouse; the
dashboard's download, what a vendor-scoped user gets, and the Overview page printed by Chromium."""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
from pathlib import Path

import polars as pl
import pytest

from queries import cli
from queries.filters import Filters
from queries.metrics import summarize
from queries.sla import load_sla_policy
from queries.sources.dataset import load_dataset
from tests.apptest import DEMO_END, run
from tests.browser_support import ARTIFACTS, BROWSER_MARKS, CHROMIUM, CHROMIUM_FLAGS

WEEK = Filters(dt.date(2026, 6, 22), dt.date(2026, 6, 28))  # the last full week of the small demo (ends Tue Jun 30)
TARGETS = """
[[targets]]
metric = "time_to_first_action"
measure = "p90_hours"
goal = 0.1
direction = "at_most"

[[targets]]
metric = "sla"
measure = "attainment"
goal = 0.95
direction = "at_least"

[[targets]]
metric = "sla"
measure = "attainment"
goal = 0.9
direction = "at_least"
where = { vendor = "sentinel_ops" }
"""
TILES = {  # tile key → (metric, measure), as the Overview
    "received": ("volume", "tickets"),
    "actioned": ("actioned", "actioned"),
    "p50_time_to_action": ("time_to_first_action", "p50_hours"),
    "p90_time_to_action": ("time_to_first_action", "p90_hours"),
    "sla_attainment": ("sla", "attainment"),
    "proactive_share": ("proactive", "proactive_share"),
    "qa_accuracy": ("qa_accuracy", "accuracy"),
    "overturn_rate": ("appeals", "overturn_rate"),
}
EXTERNAL = re.compile(r"<(?:script|link|img|iframe|source)\b[^>]*\b(?:src|href)\s*=\s*[\"']?(?:https?:)?//", re.I)


@pytest.fixture
def targets_file(tmp_path: Path) -> Path:
    path = tmp_path / "targets.toml"
    path.write_text(TARGETS)
    return path


def figures_of(html: str) -> dict:
    """The figures the snapshot embeds as JSON."""
    found = re.search(r'<script type="application/json" id="bellwether-figures">(.*?)</script>', html, re.S)
    return json.loads(found.group(1).replace("<\\/", "</"))


def _cli(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _summarized(capsys, source: str, metric: str, week: Filters) -> dict:
    code, out, _ = _cli(
        capsys, "summarize", "--source", source, "--metric", metric, "--start", str(week.start), "--end",
        str(week.end), "--format", "json",
    )  # fmt: skip
    assert code == 0
    return json.loads(out)[0]


def _assert_tiles_equal_summarize(figures: dict, summarized) -> None:
    """Every tile of the snapshot, now and previous, is the very number `summarized(metric, week)` gives."""
    tiles = {k["key"]: k for k in figures["kpis"]}
    previous = Filters(WEEK.start - dt.timedelta(days=7), WEEK.start - dt.timedelta(days=1))
    for key, (metric, measure) in TILES.items():
        assert tiles[key]["value"] == summarized(metric, WEEK)[measure], key
        assert tiles[key]["previous"] == summarized(metric, previous)[measure], key


# --- the file ---------------------------------------------------------------------------------------------------


def test_snapshot_html_is_self_contained_and_its_figures_equal_the_command_line(
    data_dir: Path, targets_file: Path, tmp_path: Path, capsys
):
    source = str(data_dir / "demo")
    out = tmp_path / "review.html"
    code, _, err = _cli(capsys, "snapshot", "--source", source, "--targets", str(targets_file), "--out", str(out))
    assert code == 0 and f"wrote {out}" in err
    html = out.read_text(encoding="utf-8")
    assert not EXTERNAL.findall(html)  # no script, style or image fetched from anywhere: plotly.js is inside
    assert html.count('class="plotly-graph-div"') >= 6 and "Plotly.newPlot" in html
    figures = figures_of(html)
    assert figures["period"] == {"start": str(WEEK.start), "end": str(WEEK.end), "selections": {}}  # last full week
    _assert_tiles_equal_summarize(figures, lambda metric, week: _summarized(capsys, source, metric, week))
    # the targets are the `targets` command's rows for the same period, number for number
    code, rows, _ = _cli(capsys, "targets", "--source", source, "--targets", str(targets_file), "--format", "json")
    assert code == 0 and figures["targets"] == json.loads(rows)
    assert [t["where"] for t in figures["targets"]] == ["", "", "vendor=sentinel_ops"]
    received = next(k for k in figures["kpis"] if k["key"] == "received")
    assert f"{received['value']:,}" in html  # the tile as people read it
    for heading in ("Key figures", "Targets", "Weekly tickets by policy domain", "Top movers", "Top spikes"):
        assert f">{heading}" in html, heading
    for heading in ("Speed and SLA", "Backlog", "Next weeks: forecast and plan", "Data freshness and caveats"):
        assert f">{heading}<" in html, heading


def test_snapshot_period_and_bad_requests(data_dir: Path, targets_file: Path, tmp_path: Path, capsys):
    source = str(data_dir / "demo")
    out = tmp_path / "may.html"
    code, _, _ = _cli(
        capsys, "snapshot", "--source", source, "--targets", str(targets_file), "--start", "2026-05-04",
        "--end", "2026-05-17", "--out", str(out),
    )  # fmt: skip
    assert code == 0
    figures = figures_of(out.read_text(encoding="utf-8"))
    assert figures["period"]["start"] == "2026-05-04" and figures["previous"] == {
        "start": "2026-04-20",
        "end": "2026-05-03",
    }
    code, _, err = _cli(capsys, "snapshot", "--source", source, "--out", str(tmp_path / "review.docx"))
    assert code == 1 and "neither .html nor .pdf" in err and not (tmp_path / "review.docx").exists()


def test_pdf_without_chromium_says_how_to_get_it(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
):
    import dashboard.snapshot

    monkeypatch.setattr(dashboard.snapshot, "chromium_path", lambda: None)
    out = tmp_path / "review.pdf"
    code, _, err = _cli(capsys, "snapshot", "--source", str(data_dir / "demo"), "--out", str(out))
    assert code == 1 and not out.exists()
    assert "needs Chromium, which is not installed" in err and "apt-get install chromium" in err
    assert "Traceback" not in err


def test_the_sla_goal_label_is_not_cut_off():
    from dashboard.charts.turnaround import sla_attainment_chart

    frame = pl.DataFrame({"sla_rule": ["a", "b"], "measured": [10, 20], "met": [9, 20], "attainment": [0.9, 1.0]})
    with_goal = sla_attainment_chart(frame, "sla_rule", (0.95, "≥ 95.0%"))
    assert with_goal.layout.margin.t >= 30  # room above the plot for "goal ≥ 95.0%"


def test_the_review_week_is_one_whole_bar_of_the_weekly_trend(data_dir: Path):
    from dashboard.charts.volumes import weekly_trend_chart
    from queries.analyses.overview import weekly_trend

    ds = load_dataset(data_dir / "demo")
    fig = weekly_trend_chart(weekly_trend(ds, WEEK), pl.DataFrame(), highlight=(WEEK.start, WEEK.end))
    bars = [t for t in fig.data if t.type == "bar"]
    assert bars and max(bars[0].x) == WEEK.start  # the review's week is the last bar…
    # …drawn across its Monday to Sunday, where the shading of the period is
    assert all(b.xperiodalignment == "middle" and b.xperiod == 7 * 86_400_000 for b in bars)
    assert dt.date.fromisoformat(bars[0].xperiod0).weekday() == 0
    shade = fig.layout.shapes[0]
    assert (shade.x0, shade.x1) == (WEEK.start, WEEK.end + dt.timedelta(days=1))


def test_snapshot_on_rollups_equals_summarize_on_the_rollups(
    data_dir: Path, targets_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
):
    from queries.engines.rollups.source import open_rolled_up

    monkeypatch.setenv("BELLWETHER_ROLLUP_ROWS", "1")  # served from rollups, as the dashboard would
    monkeypatch.setenv("BELLWETHER_DATA_DIR", str(tmp_path))
    out = tmp_path / "review.html"
    source = str(data_dir / "demo")
    code, _, _ = _cli(capsys, "snapshot", "--source", source, "--targets", str(targets_file), "--out", str(out))
    assert code == 0
    html = out.read_text(encoding="utf-8")
    rolled = open_rolled_up(source)
    policy = load_sla_policy()
    _assert_tiles_equal_summarize(
        figures_of(html),
        lambda metric, week: summarize(rolled, metric, week, sla_policy=policy).row(0, named=True),
    )
    assert "daily rollups" in html  # the caveat says how the figures were made


def test_snapshot_on_the_warehouse_equals_summarize_in_the_database(
    data_dir: Path, targets_file: Path, tmp_path: Path, postgres_database, capsys
):
    url = postgres_database(data_dir / "demo")
    out = tmp_path / "review.html"
    code, _, _ = _cli(capsys, "snapshot", "--source", url, "--targets", str(targets_file), "--out", str(out))
    assert code == 0
    html = out.read_text(encoding="utf-8")
    _assert_tiles_equal_summarize(figures_of(html), lambda metric, week: _summarized(capsys, url, metric, week))
    assert "Parts that need ticket rows" in html and not EXTERNAL.findall(html)
    assert "hunter2" not in html


# --- the dashboard ----------------------------------------------------------------------------------------------


def test_overview_offers_the_same_review_to_download(
    app_env, data_dir: Path, targets_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
):
    from dashboard import loaders
    from queries.analyses.targets import load_targets

    monkeypatch.setenv("BELLWETHER_TARGETS", str(targets_file))
    at = run(params={"start": str(WEEK.start), "end": str(WEEK.end)})
    buttons = {b.key for b in at.get("download_button")}
    assert {"overview.review_html", "overview.review_pdf"} <= buttons
    # what the button serves: the loader the page calls with the view, the same figures as the command line
    served = loaders.snapshot_html(load_dataset(data_dir / "demo"), WEEK, load_targets(targets_file), "demo")
    out = tmp_path / "cli.html"
    assert (
        cli.main(["snapshot", "--source", str(data_dir / "demo"), "--targets", str(targets_file), "--out", str(out)])
        == 0
    )
    capsys.readouterr()
    from_cli, from_app = figures_of(out.read_text(encoding="utf-8")), figures_of(served)
    for part in ("period", "previous", "kpis", "targets"):
        assert from_app[part] == from_cli[part], part


def test_a_vendor_scoped_user_gets_only_their_vendor_in_targets_alerts_and_the_review(
    app_env, data_dir: Path, targets_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from streamlit.testing.v1 import AppTest

    from dashboard import snapshot
    from queries.analyses.targets import load_targets
    from queries.engines import scope
    from tests.apptest import _app

    access = tmp_path / "access.toml"
    access.write_text('[users."lee@atlas.example"]\nrole = "viewer"\nvendor = "atlas_cx"\n')
    monkeypatch.setenv("BELLWETHER_ACCESS", str(access))
    monkeypatch.setenv("BELLWETHER_TARGETS", str(targets_file))
    others = ("harbor_trust", "meridian_review", "sentinel_ops")
    at = AppTest.from_function(_app, args=("overview",), default_timeout=240)
    at.user = {"is_logged_in": True, "email": "lee@atlas.example"}
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "test"}
    at.run()
    at.toggle(key="overview.alerts").set_value(True).run()
    assert not at.exception
    shown = "\n".join(
        [str(e.value) for kind in ("markdown", "caption", "info", "success", "error") for e in getattr(at, kind)]
        + [t.value.to_csv() for t in at.table]
        + [t.value.to_csv() for t in at.dataframe]
        + [c.proto.spec for c in at.get("plotly_chart")]
    )
    assert "Targets" in [s.value for s in at.subheader] and "≥ 95.0%" in shown
    assert not [o for o in others if o in shown]  # not even the goal set for another vendor
    # the review the download serves is built from the same scoped rows and the targets this user may see
    scoped = scope(load_dataset(data_dir / "demo"), "atlas_cx")
    goals = load_targets(targets_file).visible_to("atlas_cx")
    built, ahead = snapshot.build(scoped, WEEK, goals, load_sla_policy(), "demo")
    html = snapshot.snapshot_html(built, ahead, goals)
    assert not [o for o in others if o in html] and "atlas_cx" in html


# --- in the browser ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        yield b
        b.close()


@BROWSER_MARKS[0]
@BROWSER_MARKS[1]
def test_the_html_review_opens_without_network_and_prints_to_pdf(
    browser, data_dir: Path, targets_file: Path, tmp_path: Path, capsys
):
    html_path, pdf_path = tmp_path / "review.html", tmp_path / "review.pdf"
    source = str(data_dir / "demo")
    assert cli.main(["snapshot", "--source", source, "--targets", str(targets_file), "--out", str(html_path)]) == 0
    html = html_path.read_text(encoding="utf-8")
    fetched: list[str] = []
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    page.route(re.compile(r"^https?://"), lambda route: (fetched.append(route.request.url), route.abort()))
    page.goto(html_path.as_uri())
    charts = html.count('class="chart"')
    page.wait_for_function(f"document.querySelectorAll('.chart .main-svg').length >= {charts}", timeout=60_000)
    assert fetched == []  # nothing asked of the network, and every chart drawn
    assert page.locator(".tile").count() == 10
    page.close()
    assert cli.main(["snapshot", "--source", source, "--targets", str(targets_file), "--out", str(pdf_path)]) == 0
    assert "MB) in" in capsys.readouterr().err
    pdf = pdf_path.read_bytes()
    assert pdf.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page\b", pdf)) >= 3


@BROWSER_MARKS[0]
@BROWSER_MARKS[1]
def test_the_pdf_needs_only_chromium_not_the_test_tools(monkeypatch: pytest.MonkeyPatch):
    from dashboard.snapshot import snapshot_pdf

    monkeypatch.setitem(sys.modules, "playwright", None)  # a dev requirement: not installed with the app
    monkeypatch.setitem(sys.modules, "playwright.sync_api", None)
    page = "<!DOCTYPE html><html><head><style>@page { size: A4 landscape; }</style></head><body><h1>Review</h1>"
    pdf = snapshot_pdf(page + "</body></html>")
    assert pdf.startswith(b"%PDF") and b"/MediaBox [0 0 841.9" in pdf  # A4 landscape, as the page asks


@BROWSER_MARKS[0]
@BROWSER_MARKS[1]
def test_overview_prints_without_sidebar_with_whole_tiles_and_charts_on_the_page(app_server: str, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1500, "height": 1200})
    page.goto(f"{app_server}/overview")
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=\"stMetric\"]').length >= 10", timeout=120_000
    )
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=120_000, polling=250
    )
    page.wait_for_selector('[data-testid="stPlotlyChart"] .main-svg', timeout=60_000)
    width = page.evaluate("document.querySelector('[data-testid=\"stMainBlockContainer\"]').clientWidth")
    zoom = float(
        page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--bellwether-print-zoom')")
    )
    assert zoom == pytest.approx(min(1, 1040 / width), abs=0.001)  # the page on screen, scaled to the paper
    pdf = page.pdf(format="A4", landscape=True, print_background=True, prefer_css_page_size=True)
    (ARTIFACTS / "overview-print.pdf").write_bytes(pdf)
    assert pdf.startswith(b"%PDF")
    page.emulate_media(media="print")
    assert page.locator('[data-testid="stSidebar"]').is_hidden()
    assert page.locator('[data-testid="stDownloadButton"]').first.is_hidden()
    main = page.locator('[data-testid="stMain"]')
    assert float(main.evaluate("e => getComputedStyle(e).zoom")) == pytest.approx(zoom, abs=0.001)
    labels = page.locator('[data-testid="stMetricLabel"]').all()
    assert all(label.bounding_box()["height"] < 40 for label in labels)  # one line each, not a letter per line
    paper = main.evaluate("e => e.getBoundingClientRect().width")
    for chart in page.locator('[data-testid="stPlotlyChart"] .main-svg').all():
        box = chart.bounding_box()
        assert box["x"] + box["width"] <= paper + 1  # no chart cut off at the right
    assert page.locator('[data-testid="stTable"]').count() >= 2  # movers and targets print (static tables)
    page.screenshot(path=str(ARTIFACTS / "overview-print.png"), full_page=True)
    page.close()


def test_demo_end_is_a_tuesday_so_the_default_week_is_the_one_before():
    assert DEMO_END.weekday() == 1 and WEEK.end == DEMO_END - dt.timedelta(days=2)
