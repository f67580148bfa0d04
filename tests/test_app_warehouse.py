"""The app on a warehouse source: the same Overview figures as from the extracts, computed in the database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pandas.testing import assert_frame_equal

from tests.apptest import metrics_by_label, run
from tests.test_app_rollups import VENDOR_SECTIONS, screen
from tests.test_app_turnaround import TABS, assert_turnaround_shows_what_the_rows_show

pytestmark = pytest.mark.usefixtures("app_env")


@pytest.fixture(scope="module")
def warehouse_url(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The small demo loaded into a SQLite warehouse with `load-warehouse`'s library function."""
    from queries.sources.warehouse_load import load_warehouse

    url = f"sqlite:///{tmp_path_factory.mktemp('warehouse') / 'demo.db'}"
    load_warehouse(data_dir / "demo", url)
    return url


@pytest.fixture
def warehouse_env(warehouse_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("BELLWETHER_WAREHOUSE_URL", warehouse_url)
    return warehouse_url


PARAMS = {"start": "2026-05-04", "end": "2026-05-31", "market": ["DE", "US"]}


def test_overview_from_the_warehouse_equals_the_extracts(warehouse_env: str):
    from_files = metrics_by_label(run(params=PARAMS))
    at = run(params={**PARAMS, "src": "warehouse"})
    assert at.selectbox(key="source").value == "warehouse"
    from_warehouse = metrics_by_label(at)
    assert len(from_warehouse) == 10 and all(v != "–" for v in from_warehouse.values()), from_warehouse
    assert from_warehouse == from_files
    assert len(at.get("plotly_chart")) == 2
    assert any("computed in the warehouse" in c.value for c in at.sidebar.caption)
    movers = at.table[0].value  # a static table, so it prints
    assert movers.shape[0] > 0 and set(movers["Market"]) <= {"DE", "US"}


@pytest.mark.parametrize("split", ["none", "queue"])
@pytest.mark.parametrize("tab", TABS)
def test_turnaround_on_a_warehouse_shows_what_the_extracts_show(warehouse_env: str, tab: str, split: str):
    """P99 and the distribution from a bucketed count in SQL, hour-of-week arrivals, backlog ages, oldest open tickets
    and the exposure ranking from SQL: the extracts' figures, nothing said to need rows."""
    params = {**PARAMS, "turnaround.tab": tab, "turnaround.by": split}
    at = run("turnaround", {**params, "src": "warehouse"})
    assert any("computed in the warehouse" in c.value for c in at.sidebar.caption)
    assert_turnaround_shows_what_the_rows_show(at, run("turnaround", {**params, "src": "demo"}), tab)


def test_turnaround_sla_on_a_warehouse_groups_by_priority(warehouse_env: str):
    at = run("turnaround", {**PARAMS, "src": "warehouse", "turnaround.tab": "SLA", "turnaround.sla_by": "Priority"})
    assert "Queue" in at.selectbox(key="turnaround.by").options  # SQL groups by any ticket column
    assert len(at.get("plotly_chart")) == 1


def test_forecast_and_capacity_on_a_warehouse_equal_the_extracts(warehouse_env: str, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("BELLWETHER_SCENARIO_URL", f"sqlite:///{tmp_path / 'scenarios.db'}")
    for section, tile in (("forecast", "MASE (backtest)"), ("capacity", "Worst week: surplus / deficit")):
        from_files = metrics_by_label(run("forecast", {"forecast.section": section}))
        at = run("forecast", {"forecast.section": section, "src": "warehouse"})
        assert metrics_by_label(at) == from_files, section  # the forecast and the plan, from SQL aggregates
        assert tile in from_files, section
    live = {"forecast.section": "live", "live.targets": "live_p0=30, live_p1=600", "vendor": ["atlas_cx"]}
    from_files = run("forecast", live)
    at = run("forecast", {**live, "src": "warehouse"})  # half-hour arrivals and reviews per queue from SQL
    summaries = [next(d.value for d in a.dataframe if "peak_agents" in d.value.columns) for a in (at, from_files)]
    assert len(summaries[1]) == 2 and summaries[1]["tickets"].sum() > 0
    assert_frame_equal(*summaries, rtol=1e-9)
    assert not any("live queues" in i.value for i in at.info)


@pytest.mark.parametrize("section", VENDOR_SECTIONS)
def test_vendors_and_quality_on_a_warehouse_equal_the_extracts(warehouse_env: str, section: str):
    """Every section (scorecards, capacity, QA accuracy and kappa, appeals, policy gaps, training) from SQL
    aggregates and the QA-reviewed tickets' dimensions: the extracts' figures, nothing said to need rows."""
    headings, tiles, tables, charts = screen(run("vendors", {"vendors.tab": section}))
    at = run("vendors", {"vendors.tab": section, "src": "warehouse"})
    assert not [i.value for i in at.info if "needs ticket rows" in i.value]
    got_headings, got_tiles, got_tables, got_charts = screen(at)
    assert (got_headings, got_tiles, got_charts) == (headings, tiles, charts)
    assert len(got_tables) == len(tables) > 0
    for got, want in zip(got_tables, tables, strict=True):
        assert_frame_equal(got, want, check_exact=False)


def test_trends_on_a_warehouse_shows_the_same_spikes_drill_down_and_band_as_the_extracts(warehouse_env: str):
    from tests.test_app_rollups import segments_table
    from tests.test_app_trends import WIDE, spike_list

    files_page = run("trends", WIDE)
    at = run("trends", {**WIDE, "src": "warehouse"})
    assert spike_list(files_page).height > 0 and spike_list(at).equals(spike_list(files_page))
    assert "Language" in at.selectbox(key="trends.by").options  # SQL groups by any ticket column
    assert not any("ticket rows" in i.value for i in at.info)
    assert segments_table(at).equals(segments_table(files_page))  # every dimension, queue and language included
    assert metrics_by_label(at) == metrics_by_label(files_page)  # the spike's time to action and views
    band = [c.value for c in at.caption if "fell outside the 95 % band" in c.value]
    assert band and band == [c.value for c in files_page.caption if "fell outside the 95 % band" in c.value]


def test_transparency_on_a_warehouse_shows_the_same_figures_as_the_extracts(warehouse_env: str):
    from_files = run("transparency", PARAMS)
    at = run("transparency", {**PARAMS, "src": "warehouse"})
    assert [s.value for s in at.subheader] == [s.value for s in from_files.subheader]
    assert [d.value.to_dict() for d in at.dataframe] == [d.value.to_dict() for d in from_files.dataframe]
    assert not at.info


def test_data_health_shows_the_warehouse_tables(warehouse_env: str):
    at = run("data-health", {"src": "warehouse"})
    tables = at.dataframe[0].value
    assert set(tables["table"]) == {"Tickets", "Staffing", "QA reviews", "Platform metrics", "Events"}
    assert (tables["rows_loaded"] > 0).all()
    assert "row counts or latest timestamps" in " ".join(c.value for c in at.caption)


@pytest.fixture
def secrets_file(tmp_path: Path) -> Iterator[Path]:
    """A secrets.toml that Streamlit reads (its `secrets.files` option), as .streamlit/secrets.toml would be."""
    from streamlit import config
    from streamlit.runtime.secrets import secrets_singleton

    path = tmp_path / "secrets.toml"
    saved = config.get_option("secrets.files")
    config.set_option("secrets.files", [str(path)])
    secrets_singleton._reset()
    yield path
    config.set_option("secrets.files", saved)
    secrets_singleton._reset()


def test_a_warehouse_from_secrets_is_offered(warehouse_url: str, secrets_file: Path):
    secrets_file.write_text(f'[connections.warehouse]\nurl = "{warehouse_url}"\n', encoding="utf-8")
    at = run(params={"src": "warehouse"})
    assert at.selectbox(key="source").value == "warehouse"
    assert len(metrics_by_label(at)) == 10


def test_a_broken_warehouse_secret_is_explained_and_the_demo_still_works(secrets_file: Path):
    secrets_file.write_text('[connections.warehouse]\nurl = "nosuchdialect://x"\n', encoding="utf-8")
    at = run()
    assert len(metrics_by_label(at)) == 10
    assert any("connections.warehouse" in e.value for e in at.sidebar.error), [e.value for e in at.sidebar.error]


@pytest.mark.parametrize(
    ("secrets", "says"),
    [
        ('[connections.warehouse]\nurl = "postgresql://reader:hunter2@db:abc/ts"\n', "its port is not a number"),
        ('[connections.warehouse\nurl = "sqlite://"\n', "secrets.toml is not usable"),
        ('[connections]\nwarehouse = "sqlite://"\n', "is not a table"),
    ],
)
def test_a_malformed_warehouse_secret_never_breaks_the_demo(secrets_file: Path, secrets: str, says: str):
    secrets_file.write_text(secrets, encoding="utf-8")
    at = run()
    assert len(metrics_by_label(at)) == 10
    errors = " ".join(e.value for e in at.sidebar.error)
    assert says in errors and "hunter2" not in errors


def test_an_unreachable_warehouse_is_explained(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("BELLWETHER_WAREHOUSE_URL", "postgresql+psycopg://reader:s3cret@127.0.0.1:1/none")
    at = run(params={"src": "warehouse"})
    text = " ".join(e.value for e in at.error) + " ".join(m.value for m in at.markdown)
    assert "127.0.0.1" in text and "s3cret" not in text
    assert at.selectbox(key="source").format_func("warehouse") == "Warehouse: none on 127.0.0.1 (postgresql)"
