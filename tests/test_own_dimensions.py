"""Your own dimensions ([tickets.dimensions]): extra columns to filter and group by, on files and warehouses
alike, checked against plain loops; rollups say they cannot; bad settings get a clear message."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa
from polars.testing import assert_frame_equal

from queries.engines import engine_for
from queries.engines.rollups.source import open_rolled_up
from queries.errors import SourceError
from queries.filters import Filters
from queries.metrics import summarize
from queries.sources.dataset import load_dataset
from queries.sources.warehouse import connect_warehouse
from tests.apptest import run

REPO = Path(__file__).resolve().parent.parent
PERIOD = Filters(dt.date(2025, 3, 1), dt.date(2025, 3, 14))
DISTRICTS = ("north", "south", " east ", "")  # padded and empty values: trimmed, and empty is no district
MAPPING = '[tickets.dimensions]\nregion = "Supervisor District"\n'


def tickets() -> pl.DataFrame:
    """Fourteen days of tickets in two markets and four districts, some still open."""
    rows = []
    for i in range(280):
        created = dt.datetime(2025, 3, 1) + dt.timedelta(hours=i * 1.2)
        acted = None if i % 11 == 0 else created + dt.timedelta(minutes=10 + (i * 37) % 600)
        closed = None if acted is None or i % 5 == 0 else acted + dt.timedelta(hours=1 + i % 7)
        rows.append((f"t{i}", created, acted, closed, "DE" if i % 3 else "FR", DISTRICTS[i % 7 % 4]))
    schema = ["ticket_id", "created_at", "first_action_at", "closed_at", "market", "Supervisor District"]
    return pl.DataFrame(rows, schema=schema, orient="row")


def region_of(value: str) -> str | None:
    return value.strip() or None


@pytest.fixture
def source(tmp_path: Path) -> tuple[Path, Path]:
    folder = tmp_path / "src"
    folder.mkdir()
    tickets().write_csv(folder / "tickets.csv")
    (tmp_path / "mapping.toml").write_text(MAPPING)
    return folder, tmp_path / "mapping.toml"


def test_volume_and_first_action_by_your_dimension_match_a_loop(source: tuple[Path, Path]):
    ds = load_dataset(*source)
    assert engine_for(ds).own_dimensions == ("region",)
    volume = dict(summarize(ds, "volume", PERIOD, by=["region"]).select("region", "tickets").iter_rows())
    assert volume == dict(Counter(region_of(r) for r in tickets()["Supervisor District"]))
    waits = summarize(ds, "time_to_first_action", PERIOD, by=["region"])
    for row in waits.iter_rows(named=True):
        hours = sorted(
            (a - c).total_seconds() / 3600
            for c, a, d in tickets().select("created_at", "first_action_at", "Supervisor District").iter_rows()
            if a is not None and region_of(d) == row["region"]
        )
        assert row["measured"] == len(hours)
        assert row["p50_hours"] == pytest.approx(_linear(hours, 0.5))


def test_a_selection_of_your_dimension_filters_every_metric(source: tuple[Path, Path]):
    ds = load_dataset(*source)
    north = Filters.of(PERIOD.start, PERIOD.end, {"region": ("north",)})
    by_market = dict(summarize(ds, "volume", north, by=["market"]).select("market", "tickets").iter_rows())
    expected = Counter(m for m, d in tickets().select("market", "Supervisor District").iter_rows() if d == "north")
    assert by_market == dict(expected)
    open_now = summarize(ds, "open_backlog", north)["open_tickets"].item()
    assert open_now == sum(  # open at the end of the period: not closed, or closed after it
        1
        for c, d in tickets().select("closed_at", "Supervisor District").iter_rows()
        if d == "north" and (c is None or c >= north.end_before)
    )
    assert "Region: north" in north.describe()  # in words, as on screen


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_warehouse_groups_and_filters_by_your_dimension_as_the_files_do(
    source: tuple[Path, Path], backend: str, request: pytest.FixtureRequest
):
    url = request.getfixturevalue(f"{backend}_tickets")
    wh = connect_warehouse(url, source[1])
    ds = load_dataset(*source)
    assert wh.reports["tickets"].dimensions == ("region",)
    assert "Supervisor District" not in wh.reports["tickets"].ignored_columns
    north = Filters.of(PERIOD.start, PERIOD.end, {"region": ("north", "south")})
    for metric in ("volume", "time_to_first_action", "backlog", "open_backlog"):
        for filters, by in ((PERIOD, ["region"]), (north, ["market"]), (PERIOD, ["region", "market"])):
            got, want = summarize(wh, metric, filters, by=by), summarize(ds, metric, filters, by=by)
            assert_frame_equal(got.sort(by), want.sort(by), rel_tol=1e-9, check_dtypes=False)


def test_rollups_say_they_cannot_group_by_your_dimension(source: tuple[Path, Path], tmp_path: Path, monkeypatch):
    monkeypatch.setenv("BELLWETHER_DATA_DIR", str(tmp_path / "data"))
    rolled = open_rolled_up(*source)
    engine = engine_for(rolled)
    assert engine.own_dimensions == () and not engine.groupable("region")
    with pytest.raises(ValueError, match=r"your own \[tickets.dimensions\] need a warehouse"):
        summarize(rolled, "volume", PERIOD, by=["region"])


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ('[tickets.dimensions]\nRegion = "x"\n', "'Region', which is not a simple name"),
        ('[tickets.dimensions]\nmarket = "Supervisor District"\n', "'market', which is a field of tickets"),
        ('[tickets.dimensions]\nregion = "District"\n', "has no column 'District'"),
        ("[tickets.dimensions]\nregion = 3\n", "must map names to strings"),
        ('[staffing.dimensions]\nregion = "x"\n', "only tickets take dimensions"),
    ],
)
def test_a_bad_dimension_setting_is_a_clear_error(source: tuple[Path, Path], mapping: str, message: str):
    source[1].write_text(mapping)
    with pytest.raises(SourceError, match=message):
        load_dataset(*source)


def test_summarize_and_spikes_take_your_dimension_on_the_command_line(source: tuple[Path, Path]):
    folder, mapping = source
    out = _cli("summarize", "--source", str(folder), "--mapping", str(mapping), "--metric", "volume", "--by", "region")
    assert out.returncode == 0, out.stderr
    assert "north" in out.stdout and "south" in out.stdout
    bad = _cli("summarize", "--source", str(folder), "--mapping", str(mapping), "--metric", "volume", "--by", "zone")
    assert bad.returncode == 1 and "region" in bad.stderr and "[tickets.dimensions]" in bad.stderr
    report = _cli("validate", "--source", str(folder), "--mapping", str(mapping))
    assert "your own dimensions: region" in report.stdout and "Supervisor District" not in report.stdout
    for by in (["--by", "region"], []):  # no --by: the total is tested
        spikes = _cli("spikes", "--source", str(folder), "--mapping", str(mapping), "--format", "json", *by)
        assert spikes.returncode == 0, spikes.stderr


def test_the_sidebar_filters_by_your_dimension_and_keeps_it_in_the_url(on_the_source: None):
    params = {"src": "extracts", "start": "2025-03-01", "end": "2025-03-14", "region": "north"}
    at = run("overview", params)
    region = next(m for m in at.sidebar.multiselect if m.label == "Region")
    assert region.value == ["north"] and set(region.options) == {"east", "north", "south"}
    received = next(m for m in at.metric if m.label == "Tickets received")
    north = sum(1 for d in tickets()["Supervisor District"] if d == "north")
    assert received.value == f"{north:,}"
    assert at.query_params["region"] in ("north", ["north"])  # one value reads back as text


@pytest.fixture
def on_the_source(source: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, app_env: None) -> None:
    """The app configured with the source and its mapping (BELLWETHER_SOURCE / BELLWETHER_MAPPING)."""
    monkeypatch.setenv("BELLWETHER_SOURCE", str(source[0]))
    monkeypatch.setenv("BELLWETHER_MAPPING", str(source[1]))


@pytest.fixture
def sqlite_tickets(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'wh.db'}"
    tickets().write_database("tickets", url)
    return url


@pytest.fixture
def postgresql_tickets(postgres_server: str) -> Iterator[str]:
    """The tickets in a fresh schema of the test server, with the extra column as it is."""
    schema = f"t_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(postgres_server)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    url = (
        sa.engine.make_url(postgres_server)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )
    tickets().write_database("tickets", url)
    yield url
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    engine.dispose()


def _linear(values: list[float], q: float) -> float:
    position = (len(values) - 1) * q
    low = int(position)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (position - low)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "queries", *args], cwd=REPO, capture_output=True, text=True)


def test_turnaround_splits_by_your_dimension(on_the_source: None):
    params = {"src": "extracts", "start": "2025-03-01", "end": "2025-03-14", "turnaround.by": "region"}
    at = run("turnaround", params)
    split = next(s for s in at.selectbox if s.label == "Split by")
    assert "Region" in split.options and split.value == "region"  # shown by name, kept as the identifier
    names = {trace.get("name") for chart in at.get("plotly_chart") for trace in _traces(chart)}
    assert {"north", "south", "east"} <= names


def _traces(chart) -> list[dict]:
    return json.loads(chart.proto.spec)["data"]


def test_trends_shows_volume_by_your_dimension(on_the_source: None):
    params = {"src": "extracts", "start": "2025-03-01", "end": "2025-03-14", "trends.by": "region"}
    at = run("trends", params)
    assert not at.exception and not at.error
    names = {trace.get("name") for chart in at.get("plotly_chart") for trace in _traces(chart)}
    assert {"north", "south", "east"} <= names
    spikes_by = next(m for m in at.multiselect if m.label == "Spikes by")
    assert "Region" in spikes_by.options
