"""Vendor scope on every kind of source: rows, rollups, SQLite and PostgreSQL warehouses.

A scoped source's engine must give the unscoped engine's answers with the vendor filter applied, and nothing it
tells (distinct values, small tables, reports, captions, error messages) may name another vendor; signed in as a
vendor's user, the pages on rollups and on a warehouse show no other vendor's name.
"""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from streamlit.testing.v1 import AppTest

from queries.contract import TABLES
from queries.definitions import METRICS
from queries.engines import Source, engine_for, scope
from queries.engines.base import DURATION_ENDS, Engine
from queries.engines.rollups.source import open_rolled_up
from queries.engines.scoped import ScopedEngine
from queries.filters import DIMENSIONS, Filters
from queries.metrics import summarize
from queries.sources.dataset import Dataset, load_dataset
from queries.sources.warehouse import connect_warehouse
from queries.sources.warehouse_load import load_warehouse
from tests.apptest import _app
from tests.test_access import everything_shown

VENDOR = "atlas_cx"
ENGINES = ("rows", "rollups", "sqlite", "postgresql")
MAY = Filters(dt.date(2026, 5, 4), dt.date(2026, 5, 31))
CASES = (  # (by, period, filters)
    ((), None, MAY),
    (("policy_domain",), "week", MAY),
    (("vendor",), "day", MAY),
    (("market",), None, replace(MAY, policy_domain=("integrity_spam_scams",))),
    ((), None, replace(MAY, vendor=(VENDOR, "harbor_trust"))),
)


@pytest.fixture(scope="module")
def reference(data_dir: Path) -> Dataset:
    """The demo's rows, for the answers computed by hand below."""
    return load_dataset(data_dir / "demo")


@pytest.fixture(scope="module")
def others(reference: Dataset) -> list[str]:
    vendors = reference.tables["tickets"]["vendor"].drop_nulls().unique().to_list()
    assert VENDOR in vendors and len(vendors) > 2
    return sorted(set(vendors) - {VENDOR})


@pytest.fixture(scope="module")
def rows_source(data_dir: Path) -> Source:
    return load_dataset(data_dir / "demo")


@pytest.fixture(scope="module")
def rollups_source(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Source:
    with pytest.MonkeyPatch.context() as mp:  # the rollup cache under a temporary data dir
        mp.setenv("BELLWETHER_DATA_DIR", str(tmp_path_factory.mktemp("scoped_rollups")))
        return open_rolled_up(data_dir / "demo")


@pytest.fixture(scope="module")
def sqlite_source(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Source:
    url = f"sqlite:///{tmp_path_factory.mktemp('scoped_sqlite') / 'demo.db'}"
    load_warehouse(data_dir / "demo", url)
    return connect_warehouse(url)


@pytest.fixture(scope="module")
def postgresql_source(data_dir: Path, postgres_database: Callable[[Path], str]) -> Source:
    return connect_warehouse(postgres_database(data_dir / "demo"))


@pytest.fixture
def source(engine: str, request: pytest.FixtureRequest) -> Source:
    return request.getfixturevalue(f"{engine}_source")


def _answer(src: Source, metric: str, by: tuple[str, ...], period: str | None, filters: Filters):
    try:
        return summarize(src, metric, filters, by, period)
    except ValueError as exc:
        return str(exc)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_scoped_engine_answers_as_the_unscoped_one_filtered_to_the_vendor(source: Source):
    scoped, answers = scope(source, VENDOR), engine_for(source)
    compared = 0
    for metric in METRICS:
        for by, period, filters in CASES:
            if answers.can(metric, by):
                assert engine_for(scoped).can(metric, by) == answers.can(metric, by)
                continue
            period = None if metric == "open_backlog" else period
            selected = (VENDOR,) if not filters.vendor or VENDOR in filters.vendor else ()
            expected = _answer(source, metric, by, period, replace(filters, vendor=selected))
            got = _answer(scoped, metric, by, period, filters)
            if isinstance(expected, str):
                assert got == expected, (metric, by)
            else:
                assert_frame_equal(got, expected, check_exact=False, rel_tol=1e-12)
                compared += 1
    assert compared > 40
    one = replace(MAY, vendor=(VENDOR,))
    engine = engine_for(scoped)
    assert_frame_equal(engine.decision_counts(MAY, ["market"]), answers.decision_counts(one, ["market"]))
    for method in (engine.arrivals, engine.queue_reviews, engine.open_tickets):
        assert_frame_equal(method(MAY), getattr(answers, method.__name__)(one))
    end = DURATION_ENDS[0]
    assert_frame_equal(
        engine.duration_buckets(MAY, end, ["market"], "week"), answers.duration_buckets(one, end, ["market"], "week")
    )
    assert_frame_equal(engine.views_while_waiting(MAY, ["market"]), answers.views_while_waiting(one, ["market"]))
    assert_frame_equal(engine.sla_flags(MAY, None), answers.sla_flags(one, None))


@pytest.mark.parametrize("engine", ENGINES)
def test_filters_that_select_only_other_vendors_select_nothing(source: Source, others: list[str]):
    scoped = scope(source, VENDOR)
    assert summarize(scoped, "volume", replace(MAY, vendor=tuple(others)))["tickets"].to_list() == [0]
    assert summarize(source, "volume", replace(MAY, vendor=tuple(others)))["tickets"][0] > 0


@pytest.mark.parametrize("engine", ENGINES)
def test_days_values_now_and_tables_are_the_vendors_own(
    engine: str, source: Source, reference: Dataset, others: list[str]
):
    scoped = engine_for(scope(source, VENDOR))
    tickets = reference.tables["tickets"].filter(pl.col("vendor") == VENDOR)
    created = tickets["created_at"].filter(tickets["created_at"] <= reference.reports["tickets"].latest)
    assert scoped.created_range() == (created.min().date(), created.max().date())
    for column in DIMENSIONS:
        assert scoped.distinct_values(column) == sorted(tickets[column].drop_nulls().unique().to_list()), column
    everyone = reference.reports["tickets"].as_of
    for vendor in others:  # one whose newest time is not the data's newest: the scope must not show that time
        t = reference.tables["tickets"].filter(pl.col("vendor") == vendor)
        times = pl.concat([t["created_at"], t["first_action_at"], t["closed_at"]])
        newest = times.filter(times <= everyone).max()
        if newest < everyone:
            break
    assert newest < everyone
    now = engine_for(scope(source, vendor)).as_of()
    if engine == "rollups":  # days by vendor, not times: up to the end of the vendor's last day
        assert newest <= now <= min(everyone, dt.datetime.combine(newest.date() + dt.timedelta(days=1), dt.time()))
    else:
        assert now == newest
    staffing = reference.tables["staffing"].filter(pl.col("vendor") == VENDOR)
    assert scoped.small_table("staffing").height == staffing.height > 0
    qa = reference.tables["qa_reviews"]
    own = pl.col("ticket_id").is_in(tickets["ticket_id"].implode())
    reviews = qa.filter(pl.when(pl.col("vendor").is_null()).then(own).otherwise(pl.col("vendor") == VENDOR))
    assert scoped.small_table("qa_reviews").height == reviews.height > 0
    events = scoped.small_table("events")
    assert set(events["vendor"].drop_nulls()) == {VENDOR} and events["vendor"].null_count() > 0
    assert scoped.small_table("platform_metrics").height == reference.tables["platform_metrics"].height
    assert scoped.reviewed_tickets(MAY, ["market"]).columns == ["ticket_id", "market"]
    assert set(scoped.reviewed_tickets(MAY, ["vendor"])["vendor"]) == {VENDOR}


@pytest.mark.parametrize("engine", ENGINES)
def test_the_reports_count_and_date_only_the_vendors_rows(source: Source, reference: Dataset):
    scoped = scope(source, VENDOR)
    assert scoped.signature == f"{source.signature}:{VENDOR}"
    tickets = scoped.reports["tickets"]
    expected = reference.tables["tickets"].filter(pl.col("vendor") == VENDOR)
    assert tickets.rows_read == tickets.rows_loaded == expected.height
    assert tickets.latest == engine_for(scoped).created_range()[1]
    for report in scoped.reports.values():
        assert report.location == "(scoped)" and report.rejections == () and report.quarantined == ()
        assert report.unknown_values == () and report.rows_in_future == 0
        table = None if report.table == "tickets" else engine_for(scoped).small_table(report.table)
        if table is not None:
            assert report.rows_loaded == table.height
            main = next(f.name for f in TABLES[report.table].fields if f.kind.name in ("TIMESTAMP", "DATE"))
            assert report.latest == table[main].max()


@pytest.mark.parametrize("engine", ENGINES)
def test_nothing_a_scoped_engine_tells_names_another_vendor(source: Source, others: list[str]):
    scoped = scope(source, VENDOR)
    engine = engine_for(scoped)
    told = [repr(scoped.reports), str(engine.caption), engine.rows_why, engine.rows_fix, str(engine.declined_note)]
    told += [str(engine.distinct_values(c)) for c in (*DIMENSIONS, "queue") if source.has("tickets", c)]
    for name in ("staffing", "qa_reviews", "events", "platform_metrics"):
        table = engine.small_table(name)
        told.append("" if table is None else table.write_csv())
    for metric in METRICS:
        for by in ((), ("vendor",), ("queue",), ("policy_domain", "market"), ("sla_rule",)):
            told.append(str(engine.can(metric, by)))
            told.append(str(_answer(scoped, metric, by, "week", MAY)))
    shown = "\n".join(told)
    assert VENDOR in shown
    for other in others:
        assert other not in shown, other


def test_the_wrapper_scopes_every_member_of_the_engine_protocol():
    """A member the wrapper does not define itself would be missing (an AttributeError, never an unscoped answer);
    this fails first, naming it. Every method that takes Filters must pass the inner engine only the vendor."""
    members = sorted(n for n in {*vars(Engine), *Engine.__annotations__} if not n.startswith("_"))
    assert {"summarize", "small_table", "distinct_values", "caption"} <= set(members)
    missing = [n for n in members if n not in vars(ScopedEngine)]
    assert not missing, f"ScopedEngine does not scope {', '.join(missing)}: add it (queries/engines/scoped.py)"

    calls: list[tuple[str, tuple, dict]] = []

    class Inner:
        def __getattr__(self, name: str):
            def record(*args, **kwargs):
                calls.append((name, args, kwargs))
                return pl.DataFrame({"ticket_id": ["t"], "vendor": [VENDOR]})

            return record

    wrapper = ScopedEngine(Inner(), SimpleNamespace(vendor=VENDOR))
    for name in members:
        method = getattr(Engine, name, None)
        if not callable(method):
            continue
        parameters = list(inspect.signature(method).parameters.values())[1:]
        if not any("Filters" in str(p.annotation) for p in parameters):
            continue
        args = [MAY if "Filters" in str(p.annotation) else [] for p in parameters]
        calls.clear()
        getattr(wrapper, name)(*args)
        passed = [a for _, args_, kwargs in calls for a in (*args_, *kwargs.values()) if isinstance(a, Filters)]
        assert passed and all(f.vendor == (VENDOR,) for f in passed), name


# --- the pages, signed in as a vendor's user ------------------------------------------------------------------

POLICY = '[users."lee@atlas.example"]\nrole = "viewer"\nvendor = "atlas_cx"\n'
PAGES = ("overview", "turnaround", "vendors", "forecast", "data-health")
SHOWN_OTHERS = ("harbor_trust", "meridian_review", "sentinel_ops")  # the other vendors' names (not "internal")


@pytest.fixture
def vendor_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, app_env) -> None:
    path = tmp_path / "access.toml"
    path.write_text(POLICY)
    monkeypatch.setenv("BELLWETHER_ACCESS", str(path))


@pytest.fixture(scope="module")
def warehouse_url(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('scoped_app') / 'demo.db'}"
    load_warehouse(data_dir / "demo", url)
    return url


@pytest.mark.usefixtures("vendor_user")
@pytest.mark.parametrize("served", ("rollups", "warehouse"))
@pytest.mark.parametrize("page", PAGES)
def test_a_vendor_user_on_rollups_or_a_warehouse_sees_no_other_vendor(
    page: str, served: str, warehouse_url: str, monkeypatch: pytest.MonkeyPatch
):
    at = AppTest.from_function(_app, args=(page,), default_timeout=240)
    if served == "rollups":
        monkeypatch.setenv("BELLWETHER_ROLLUP_ROWS", "1")  # every source counts as large
    else:
        monkeypatch.setenv("BELLWETHER_WAREHOUSE_URL", warehouse_url)
        at.query_params["src"] = "warehouse"
    at.user = {"is_logged_in": True, "email": "lee@atlas.example"}
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "test"}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = everything_shown(at)
    assert not at.error, [e.value for e in at.error]
    assert VENDOR in shown or page in ("overview", "turnaround"), page
    assert next(w for w in at.multiselect if w.key == "filters.vendor").options == [VENDOR]
    for other in SHOWN_OTHERS:
        assert other not in shown, f"{other} visible on {page} ({served})"
