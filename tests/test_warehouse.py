"""Warehouse mode: rows are validated in SQL, user input is bound, pages' data equals the extracts', and problems
are SourceErrors that say what to fix. Every metric's numbers against the extracts': tests/test_conformance.py."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import sqlalchemy as sa
from polars.testing import assert_frame_equal

from queries.cli import main
from queries.contract import TABLES, TICKETS
from queries.demo import generate_demo
from queries.errors import SourceError
from queries.filters import Filters
from queries.histogram import PERCENTILE_ERROR_BOUND
from queries.metrics import missing_inputs, summarize
from queries.sources.dataset import Dataset, load_dataset
from queries.sources.warehouse import SQL_TYPES, Warehouse, connect_warehouse, is_database_url
from queries.sources.warehouse_load import load_warehouse

REPO = Path(__file__).resolve().parent.parent
END = dt.date(2026, 6, 30)
BACKENDS = ["sqlite", "postgresql"]  # postgresql: skipped without a test server (conftest.postgres_server)


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("warehouse") / "demo"
    generate_demo(path, days=60, tickets_per_day=300, seed=3, end=END)
    return path


@pytest.fixture(scope="session")
def files(demo: Path) -> Dataset:
    return load_dataset(demo)


@pytest.fixture(scope="session")
def sqlite_url(demo: Path) -> str:
    url = f"sqlite:///{demo.parent / 'demo.db'}"
    load_warehouse(demo, url)
    return url


@pytest.fixture(scope="session")
def postgresql_url(demo: Path, postgres_database: Callable[[Path], str]) -> str:
    """A fresh database on the test server with the demo loaded; dropped at the end of the session."""
    return postgres_database(demo)


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def warehouse(backend: str, request: pytest.FixtureRequest) -> Warehouse:
    return connect_warehouse(request.getfixturevalue(f"{backend}_url"))


@pytest.fixture
def empty_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """An empty database of the backend (a new SQLite file, or a fresh schema of the test database)."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'empty.db'}"
        sa.create_engine(url).connect().close()
        yield url
        return
    url = request.getfixturevalue("postgresql_url")
    schema = f"t_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    yield (
        sa.engine.make_url(url)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    engine.dispose()


def test_spikes_and_volumes_from_the_database_equal_the_files(files: Dataset, warehouse: Warehouse):
    """The Trends page's data runs on a warehouse: spike scan and volumes per 1M DAU as from the files."""
    from queries.analyses.spikes import scan_spikes
    from queries.analyses.trends import volume_over_time

    period = Filters(END - dt.timedelta(days=59), END)
    for by in (["policy_domain", "market"], ["language"]):
        expected = scan_spikes(files, period, by)
        got = scan_spikes(warehouse, period, by)
        assert_frame_equal(got.spikes, expected.spikes)
        assert_frame_equal(got.daily, expected.daily)
    assert_frame_equal(
        volume_over_time(warehouse, period, "queue", "week"), volume_over_time(files, period, "queue", "week")
    )


def test_the_transparency_pack_from_the_database_equals_the_files(files: Dataset, warehouse: Warehouse):
    from queries.analyses.transparency import rows_needed, transparency_figures

    period = Filters(END - dt.timedelta(days=59), END)
    expected = transparency_figures(files, period)
    assert rows_needed(warehouse) == [] and expected["section"].n_unique() >= 5
    assert_frame_equal(transparency_figures(warehouse, period), expected, rel_tol=1e-9)


def test_turnaround_from_the_database_equals_the_files_p99_within_the_bound(files: Dataset, warehouse: Warehouse):
    """The Turnaround page's aggregates: percentiles by group and week (P99 from SQL duration buckets), SLA by
    priority, exposure, backlog flow and the ages of open tickets."""
    from queries.analyses.turnaround import backlog_view, exposure_by, sla_attainment, turnaround
    from queries.sla import load_sla_policy

    period = Filters(END - dt.timedelta(days=59), END)
    got = turnaround(warehouse, period, "closed_at", ["queue"], "week")
    expected = turnaround(files, period, "closed_at", ["queue"], "week")
    # P99 from the duration buckets counted in SQL: within the histogram's bound of the exact P99 from the rows
    p99 = got.select("p99_hours").with_columns(exact=expected["p99_hours"]).drop_nulls()
    assert p99.height == expected["p99_hours"].drop_nulls().len() > 0
    assert ((p99["p99_hours"] - p99["exact"]).abs() <= PERCENTILE_ERROR_BOUND * p99["exact"] + 1e-9).all()
    assert_frame_equal(got.drop("p99_hours"), expected.drop("p99_hours"), check_dtypes=False, rel_tol=1e-9)
    policy = load_sla_policy()
    assert_frame_equal(
        sla_attainment(warehouse, period, policy, "priority"), sla_attainment(files, period, policy, "priority")
    )
    assert_frame_equal(exposure_by(warehouse, period), exposure_by(files, period), rel_tol=1e-9)
    view, from_files = backlog_view(warehouse, period), backlog_view(files, period)
    assert view.aging is not None and view.aging.height > 0  # ages of open tickets from a query of just those
    assert_frame_equal(view.aging, from_files.aging)
    assert_frame_equal(view.oldest, from_files.oldest)
    assert_frame_equal(view.flow.drop("oldest_open_hours"), from_files.flow.drop("oldest_open_hours"))


def test_the_warehouse_reports_what_the_file_loader_reports(files: Dataset, warehouse: Warehouse):
    for name, report in files.reports.items():
        assert warehouse.reports[name].rows_loaded == report.rows_loaded
        assert warehouse.reports[name].latest == report.latest
        assert warehouse.reports[name].missing_fields == ()
        assert warehouse.has(name)
    assert warehouse.created_range() == (dt.date(2026, 5, 2), END)
    assert warehouse.distinct_values("tickets", "market") == sorted(files.tables["tickets"]["market"].unique())
    assert_frame_equal(warehouse.read_small("staffing"), files.tables["staffing"], check_row_order=False)
    assert "*" not in warehouse.source and len(warehouse.signature) == 16


def _create(url: str, name: str, rows: list[dict], rename: dict[str, str] | None = None) -> None:
    """A tickets-like table without any key constraint, rows inserted as they are."""
    rename = rename or {}
    fields = list(rows[0])
    table = sa.Table(
        name,
        sa.MetaData(),
        *[sa.Column(rename.get(f, f), SQL_TYPES[TICKETS.field(f).kind]()) for f in fields],
    )
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        table.create(conn)
        conn.execute(table.insert(), [{rename.get(k, k): v for k, v in row.items()} for row in rows])
    engine.dispose()


def _ticket(i: int, created: str, first: str | None, closed: str | None, **extra) -> dict:
    when = dt.datetime.fromisoformat
    return {
        "ticket_id": str(i),
        "created_at": when(created),
        "first_action_at": when(first) if first else None,
        "closed_at": when(closed) if closed else None,
        "market": extra.get("market", "DE"),
        "source": extra.get("source", "user_report"),
        "automated": extra.get("automated", False),
        "handle_seconds": extra.get("handle_seconds", 60.0 * i),
    }


GOOD = [
    _ticket(1, "2026-03-02 10:00:00", "2026-03-02 10:30:00", "2026-03-02 12:00:00", handle_seconds=30.5),
    _ticket(2, "2026-03-02 11:00:00", "2026-03-02 11:00:01.250000", "2026-03-03 09:00:00", market="FR"),
    _ticket(3, "2026-03-03 23:59:59.999999", "2026-03-04 00:00:00", None, source=None),
    _ticket(4, "2026-03-04 08:00:00", None, None, handle_seconds=None),
    _ticket(5, "2026-03-05 08:00:00", "2026-03-05 09:00:00", "2026-03-05 09:00:00", automated=True),
    _ticket(6, "2026-03-08 23:00:00", "2026-03-09 01:00:00", "2026-03-10 00:00:00", handle_seconds=1000.0),
]
BAD = [  # the row's reason from the file loader: rejected (None) or the field quarantined
    (_ticket(7, "2026-03-02 10:00:00", None, None) | {"ticket_id": None}, "missing ticket_id", None),
    (_ticket(8, "2026-03-02 10:00:00", None, None, source="carrier_pigeon"), "unknown source value", "source"),
    (
        _ticket(9, "2026-03-02 10:00:00", None, None, handle_seconds=-5.0),
        "handle_seconds out of range",
        "handle_seconds",
    ),
    (_ticket(10, "2026-03-02 10:00:00", None, "2026-03-02 09:00:00"), "closed before created", "closed_at"),
    (_ticket(11, "2026-03-02 10:00:00", "2026-03-01 10:00:00", None), "first action before created", "first_action_at"),
    (_ticket(12, "2026-03-02 10:00:00", None, None), "duplicate ticket_id", None),
    (_ticket(12, "2026-03-03 10:00:00", None, None), "duplicate ticket_id", None),
]


def test_invalid_rows_and_fields_are_counted_by_reason_in_sql_as_in_files(empty_url: str, tmp_path: Path):
    rows = GOOD + [row for row, _, _ in BAD]
    _create(empty_url, "raw_tickets", rows)
    mapping = tmp_path / "mapping.toml"
    mapping.write_text('[tickets]\ntable = "raw_tickets"\n')
    wh = connect_warehouse(empty_url, mapping)
    pl.DataFrame(rows, schema={f: TICKETS.schema[f] for f in rows[0]}).write_csv(tmp_path / "tickets.csv")
    ds = load_dataset(tmp_path)

    rejected, quarantined = {}, {}
    for _, reason, field in BAD:
        if field is None:
            rejected[reason] = rejected.get(reason, 0) + 1
        else:
            quarantined[(field, reason)] = quarantined.get((field, reason), 0) + 1
    report = wh.reports["tickets"]
    assert {r.reason: r.rows for r in report.rejections} == rejected
    assert rejected == {r.reason: r.rows for r in ds.reports["tickets"].rejections}
    assert {(q.field, q.reason): q.rows for q in report.quarantined} == quarantined
    assert quarantined == {(q.field, q.reason): q.rows for q in ds.reports["tickets"].quarantined}
    assert report.unknown_values == ds.reports["tickets"].unknown_values
    assert (report.rows_loaded, report.rows_read) == (len(GOOD) + len(quarantined), len(rows))
    examples = {q.reason: q.examples for q in report.quarantined}
    assert examples["closed before created"] == (
        "raw_tickets: ticket_id='10', closed_at='2026-03-02 09:00:00', created_at='2026-03-02 10:00:00'",
    )
    assert {r.reason: r.examples for r in report.rejections}["duplicate ticket_id"] == (
        "raw_tickets: ticket_id='12'",
    ) * 2
    filters = Filters(dt.date(2026, 3, 1), dt.date(2026, 3, 10))
    for metric, by, period in [
        ("volume", ["market"], "day"),
        ("time_to_close", [], "week"),
        ("handle_time", ["market"], None),
        ("backlog", ["market"], "day"),
        ("open_backlog", ["market"], None),
        ("automation", ["source"], None),
        ("proactive", [], "day"),
        ("sla", [], None),
    ]:
        assert_frame_equal(summarize(wh, metric, filters, by, period), summarize(ds, metric, filters, by, period))
    # Percentiles: linear interpolation between order statistics, checked against numpy.
    assert (
        summarize(wh, "open_backlog", filters)["open_tickets"][0] == 5
    )  # 3, 4, 8, 9, 11; not 10 (closed, unknown when)
    human = [r["handle_seconds"] for r in GOOD if not r["automated"] and r["first_action_at"] and r["handle_seconds"]]
    got = summarize(wh, "handle_time", filters).row(0, named=True)
    assert got["reviews"] == len(human) == 4
    assert got["p50_handle_seconds"] == pytest.approx(np.percentile(human, 50), rel=1e-12)
    assert got["p90_handle_seconds"] == pytest.approx(np.percentile(human, 90), rel=1e-12)
    hours = [(r["closed_at"] - r["created_at"]).total_seconds() / 3600 for r in GOOD if r["closed_at"]]
    got = summarize(wh, "time_to_close", filters).row(0, named=True)
    assert got["p90_hours"] == pytest.approx(np.percentile(hours, 90), rel=1e-12)
    assert got["mean_hours"] == pytest.approx(np.mean(hours), rel=1e-12)


def test_an_unchanged_warehouse_is_probed_not_checked_again(empty_url: str, tmp_path: Path):
    """Reconnecting with the last connection returns it when the tables probe the same (no row-by-row check);
    a new row, a ticket closed later, or a removed row each give a fresh connection with fresh counts."""
    _create(empty_url, "raw_tickets", GOOD)
    mapping = tmp_path / "mapping.toml"
    mapping.write_text('[tickets]\ntable = "raw_tickets"\n')
    first = connect_warehouse(empty_url, mapping)
    assert connect_warehouse(empty_url, mapping, known=first) is first
    other = tmp_path / "other.toml"
    other.write_text(mapping.read_text())
    assert connect_warehouse(empty_url, other, known=first) is not first  # another mapping, another source
    mapping.write_text('[tickets]\ntable = "raw_tickets"\n\n[tickets.columns]\nmarket = "market"\n')
    edited = connect_warehouse(empty_url, mapping, known=first)  # the mapping was edited: connected afresh
    assert edited is not first and edited.mapping_digest != first.mapping_digest
    first = edited
    assert connect_warehouse(empty_url, mapping, known=first) is first
    assert connect_warehouse(empty_url, mapping, known=first, recheck_seconds=0) is not first
    engine = sa.create_engine(empty_url)
    table = sa.Table("raw_tickets", sa.MetaData(), autoload_with=engine)
    changes = [
        sa.insert(table).values(_ticket(20, "2026-03-05 08:00:00", None, None)),
        sa.update(table).where(table.c.ticket_id == "3").values(closed_at=dt.datetime(2026, 3, 9, 12)),
        sa.delete(table).where(table.c.ticket_id == "20"),
    ]
    known, rows = first, len(GOOD)
    for change, delta in zip(changes, (1, 0, -1), strict=True):
        with engine.begin() as conn:
            conn.execute(change)
        fresh = connect_warehouse(empty_url, mapping, known=known)
        rows += delta
        assert fresh is not known and fresh.reports["tickets"].rows_read == rows
        assert connect_warehouse(empty_url, mapping, known=fresh) is fresh
        known = fresh
    assert known.signature != first.signature  # ticket 3 closed: latest timestamp and caches move on
    with engine.begin() as conn:  # a contract table created after the last check
        conn.exec_driver_sql("CREATE TABLE events (start DATE, title VARCHAR(50), kind VARCHAR(20))")
    assert "events" in connect_warehouse(empty_url, mapping, known=known).reports
    engine.dispose()


def test_renamed_table_and_columns_map_through_the_mapping_file(empty_url: str, tmp_path: Path):
    rename = {"ticket_id": "case_ref", "created_at": "opened", "closed_at": "Resolved_At", "source": "channel"}
    coded = [row | {"source": {"user_report": "UR"}.get(row["source"], row["source"])} for row in GOOD]
    _create(empty_url, "moderation_cases", coded, rename)
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(
        '[tickets]\ntable = "moderation_cases"\n'
        '[tickets.columns]\nticket_id = "case_ref"\ncreated_at = "opened"\nclosed_at = "Resolved_At"\n'
        'source = "channel"\n'
        '[tickets.values.source]\nUR = "user_report"\n'
    )
    wh = connect_warehouse(empty_url, mapping)
    assert wh.reports["tickets"].rows_loaded == len(GOOD) and not wh.reports["tickets"].rejections
    assert wh.has("tickets", "closed_at", "source")
    assert wh.distinct_values("tickets", "source") == ["user_report"]
    filters = Filters(dt.date(2026, 3, 1), dt.date(2026, 3, 10), source=("user_report",))
    out = summarize(wh, "time_to_close", filters, ["market"])
    assert out["tickets"].to_list() == [4, 1]  # DE: 1, 4, 6 and 5; FR: 2 (3 has no source)
    assert not wh.has("tickets", "vendor")
    assert missing_inputs(wh, "throughput") == "Throughput needs tickets.vendor; map it under [tickets.columns]."


@pytest.mark.parametrize("backend", BACKENDS[1:], indirect=True)  # SQLite has no time-zone type
def test_timestamps_with_a_time_zone_are_read_as_utc(empty_url: str):
    engine = sa.create_engine(empty_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE tickets (ticket_id text, created_at timestamptz, closed_at timestamptz)")
        conn.exec_driver_sql(
            "INSERT INTO tickets VALUES ('1', '2026-03-02 23:30:00-02', '2026-03-03 04:00:00+01'), "
            "('2', '2026-03-03 00:30:00+00', NULL)"
        )
    engine.dispose()
    wh = connect_warehouse(empty_url)
    assert wh.latest_timestamp() == dt.datetime(2026, 3, 3, 3, 0)
    out = summarize(wh, "time_to_close", Filters(dt.date(2026, 3, 1), dt.date(2026, 3, 4)), period="day")
    assert out.select("period", "tickets", "measured", "mean_hours").rows() == [
        (dt.date(2026, 3, 1), 0, 0, None),
        (dt.date(2026, 3, 2), 0, 0, None),
        (dt.date(2026, 3, 3), 2, 1, 1.5),
        (dt.date(2026, 3, 4), 0, 0, None),
    ]


def test_filter_values_are_bound_never_written_into_the_sql(warehouse: Warehouse):
    evil = "O'Brien'; DROP TABLE tickets; --"
    statements: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    sa.event.listen(warehouse.engine, "before_cursor_execute", capture)
    try:
        filters = Filters(dt.date(2026, 5, 2), END, market=(evil,), vendor=(evil,))
        for metric in ("volume", "sla", "backlog", "qa_accuracy", "throughput"):
            out = summarize(warehouse, metric, filters)
            assert out.height <= 1
    finally:
        sa.event.remove(warehouse.engine, "before_cursor_execute", capture)
    assert statements and not any("O'Brien" in sql or "DROP" in sql for sql, _ in statements)
    assert any(evil in str(params) for _, params in statements)
    with warehouse.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(sa.table("tickets"))).scalar() > 0


def test_missing_tables_and_columns_say_which_mapping_key_to_add(empty_url: str, tmp_path: Path):
    with pytest.raises(SourceError, match=r'\[tickets\] table = "schema.table_name"'):
        connect_warehouse(empty_url)
    _create(empty_url, "cases", [{k: v for k, v in GOOD[0].items() if k != "created_at"}])
    mapping = tmp_path / "mapping.toml"
    mapping.write_text('[tickets]\ntable = "cases"\n')
    with pytest.raises(SourceError, match=r"cases \(tickets\).*created_at.*\[tickets.columns\] created_at = "):
        connect_warehouse(empty_url, mapping)
    mapping.write_text('[tickets]\ntable = "cases"\n[tickets.columns]\ncreated_at = "opened_at"\n')
    with pytest.raises(SourceError, match=r"no such column.*Correct \[tickets.columns\] created_at"):
        connect_warehouse(empty_url, mapping)
    engine = sa.create_engine(empty_url)
    with engine.begin() as conn:
        sa.Table("texty", sa.MetaData(), sa.Column("ticket_id", sa.String), sa.Column("created_at", sa.String)).create(
            conn
        )
    engine.dispose()
    mapping.write_text('[tickets]\ntable = "texty"\n')
    with pytest.raises(SourceError, match=r"timestamps must be typed"):
        connect_warehouse(empty_url, mapping)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql+psycopg://bell:hunter2@127.0.0.1:1/warehouse", "Cannot read the warehouse"),
        ("mysql+nosuchdriver://bell:hunter2@localhost/warehouse", "No database driver"),
        ("sqlite:////no/such/dir/warehouse.db", "does not exist"),
    ],
)
def test_bad_urls_are_clear_errors_without_the_password(url: str, message: str):
    with pytest.raises(SourceError, match=message) as info:
        connect_warehouse(url)
    assert "hunter2" not in str(info.value)


def test_database_urls_are_told_apart_from_paths():
    assert is_database_url("postgresql+psycopg://u@h/db") and is_database_url("sqlite:///demo.db")
    assert not is_database_url("data/demo") and not is_database_url("C:\\data\\demo")


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "queries", *args], cwd=REPO, capture_output=True, text=True, timeout=300
    )


def run(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    """The CLI in this process (faster than a subprocess): exit code, stdout, stderr."""
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_load_warehouse_and_summarize_from_a_url_on_the_command_line(
    demo: Path, files: Dataset, tmp_path: Path, capsys: pytest.CaptureFixture
):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    before = {p: p.stat().st_mtime_ns for p in demo.iterdir()}
    result = cli("load-warehouse", "--source", str(demo), "--url", url)
    assert result.returncode == 0, result.stderr
    assert f"tickets: {files.reports['tickets'].rows_loaded:,} rows" in result.stdout and " s" in result.stdout
    assert {p: p.stat().st_mtime_ns for p in demo.iterdir()} == before
    code, _, err = run(capsys, "load-warehouse", "--source", str(demo), "--url", url)
    assert code == 1 and "already holds" in err and "--replace" in err
    assert run(capsys, "load-warehouse", "--source", str(demo), "--url", url, "--replace")[0] == 0
    assert set(sa.inspect(sa.create_engine(url)).get_table_names()) == set(TABLES)

    args = ["--metric", "time_to_close", "--by", "market", "--period", "week", "--format", "json"]
    code, from_db, err = run(capsys, "summarize", "--source", url, *args)
    assert code == 0, err
    got, expected = json.loads(from_db), json.loads(run(capsys, "summarize", "--source", str(demo), *args)[1])
    assert [{k: v for k, v in r.items() if "hours" not in k} for r in got] == [
        {k: v for k, v in r.items() if "hours" not in k} for r in expected
    ]
    assert [r["p90_hours"] for r in got] == pytest.approx([r["p90_hours"] for r in expected], rel=1e-9)
    code, out, _ = run(capsys, "validate", "--source", url)
    assert code == 0 and f"{files.reports['tickets'].rows_loaded:,} of" in out
    spikes = ["--by", "market", "--sensitivity", "0.2", "--format", "json"]
    code, from_db, err = run(capsys, "spikes", "--source", url, *spikes)
    assert code == 0, err
    assert json.loads(from_db) == json.loads(run(capsys, "spikes", "--source", str(demo), *spikes)[1]) != []


def test_sentinel_and_future_times_in_a_warehouse_are_treated_as_in_files(empty_url: str, tmp_path: Path):
    """As the file loader: a placeholder date is out of range (rejected); a time in the future is kept and
    counted but moves neither the default period nor the data's "now" — the same numbers as from files."""
    rows = [
        _ticket(1, "2026-03-02 10:00:00", "2026-03-02 10:30:00", None),
        _ticket(2, "2026-03-02 11:00:00", None, None),  # still waiting
        _ticket(3, "9999-12-31 00:00:00", None, None),  # a placeholder
        _ticket(4, "2099-01-01 00:00:00", None, None),  # in the future
    ]
    _create(empty_url, "tickets", rows)
    wh = connect_warehouse(empty_url)
    report = wh.reports["tickets"]
    assert [(r.reason, r.rows) for r in report.rejections] == [("created_at out of range", 1)]
    assert report.rows_loaded == 3 and report.rows_in_future == 1
    assert report.latest == dt.datetime(2026, 3, 2, 11, 0)
    assert wh.created_range() == (dt.date(2026, 3, 2), dt.date(2026, 3, 2))
    assert wh.latest_timestamp() == dt.datetime(2026, 3, 2, 11, 0)
    pl.DataFrame([r for r in rows if r["ticket_id"] != "3"]).write_csv(tmp_path / "tickets.csv")
    files = load_dataset(tmp_path)
    f = Filters(dt.date(2026, 3, 2), dt.date(2026, 3, 2))
    sla = summarize(wh, "sla", f)
    assert sla.select("tickets", "measured", "met").row(0) == (2, 1, 1)  # ticket 2 is not yet past its 24 h
    assert_frame_equal(sla, summarize(files, "sla", f))


def test_load_warehouse_keeps_tickets_closed_at_an_unknown_time_out_of_the_backlog(empty_url: str, tmp_path: Path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "tickets.csv").write_text(
        "ticket_id,created_at,closed_at,market\n"
        "open,2026-03-02 10:00:00,,DE\n"
        "closed,2026-03-02 11:00:00,2026-03-02 12:00:00,DE\n"
        "impossible,2026-03-02 12:00:00,2026-03-01 12:00:00,FR\n"  # closed, but not then: left out of the backlog
    )
    files = load_dataset(tmp_path / "src")
    load_warehouse(tmp_path / "src", empty_url)
    wh = connect_warehouse(empty_url)
    assert wh.reports["tickets"].rows_loaded == 3 and "closed_unknown" not in wh.reports["tickets"].ignored_columns
    filters = Filters(dt.date(2026, 3, 1), dt.date(2026, 3, 3))
    for metric, by, period in [
        ("open_backlog", ["market"], None),
        ("backlog", [], "day"),
        ("volume", ["market"], None),
    ]:
        assert_frame_equal(summarize(wh, metric, filters, by, period), summarize(files, metric, filters, by, period))
    assert summarize(wh, "open_backlog", filters)["open_tickets"][0] == 1


def test_time_settings_for_extracts_are_refused_for_a_warehouse_table(empty_url: str, tmp_path: Path):
    _create(empty_url, "tickets", GOOD)
    mapping = tmp_path / "mapping.toml"
    for setting in ('[tickets]\ntimezone = "Europe/Berlin"\n', '[tickets.datetime_formats]\nclosed_at = "epoch_ms"\n'):
        mapping.write_text(setting)
        with pytest.raises(SourceError, match=r"only applies to extracts.*Fix: Remove it from \[tickets\]"):
            connect_warehouse(empty_url, mapping)
