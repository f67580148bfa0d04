"""Saved scenarios: versions, vendor scope, stores made by the old schema, concurrent saves, and faults
(a locked store, a read-only store, a store that cannot be opened)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from forecasting import scenarios
from forecasting.plan import EventUplift, Hiring, RosterLine, Scenario
from forecasting.scenarios import SCENARIOS, ScenarioStore, scenario_vendors
from queries.errors import SourceError

HANG_GUARD_SECONDS = 10  # not a timing assertion: only stops a hanging store from passing unnoticed


def _store_urls() -> list:
    """SQLite always; PostgreSQL when .ci/postgres.sh started one (CI requires it)."""
    url = os.environ.get("BELLWETHER_TEST_POSTGRES_URL")
    required = os.environ.get("BELLWETHER_REQUIRE_POSTGRES") == "1"
    if required and not url:
        raise RuntimeError("BELLWETHER_REQUIRE_POSTGRES=1 but BELLWETHER_TEST_POSTGRES_URL is not set")
    reason = "no PostgreSQL server (set BELLWETHER_TEST_POSTGRES_URL, e.g. via .ci/postgres.sh); CI requires it"
    return ["sqlite", pytest.param(url, id="postgresql", marks=pytest.mark.skipif(not url, reason=reason))]


def _sqlite(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 's.db'}"


@pytest.fixture(params=_store_urls())
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database for a store: a SQLite file, or a new PostgreSQL schema (dropped afterwards)."""
    if request.param == "sqlite":
        yield _sqlite(tmp_path)
        return
    schema = f"test_{uuid.uuid4().hex[:12]}"
    server = sa.create_engine(request.param)
    with server.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    url = sa.engine.make_url(request.param).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with server.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        server.dispose()


def test_scenarios_are_versioned_never_overwritten(tmp_path: Path):
    store = ScenarioStore.sqlite_file(tmp_path / "s.db", scope=None)
    first = Scenario(volume_uplift=0.2, hiring=(Hiring("atlas_cx", 3, 2, 6),))
    assert store.save("election", first, "ana") == 1
    assert store.save("election", Scenario(volume_uplift=0.4), "ben") == 2
    assert store.load("election", 1).scenario == first
    assert store.load("election").scenario.volume_uplift == 0.4
    assert store.list()["version"].to_list() == [2, 1]
    with pytest.raises(KeyError):
        store.load("nothing")


def test_events_and_a_roster_round_trip_and_older_domain_uplifts_still_load(tmp_path: Path):
    store = ScenarioStore.sqlite_file(tmp_path / "s.db", scope=None)
    election = EventUplift(0.5, "hateful_conduct", "BR", dt.date(2026, 10, 26), dt.date(2026, 11, 1))
    roster = (RosterLine("atlas_cx", fte=12.5, attrition_annual=0.3, shrinkage=0.35, domains=("youth_safety",)),)
    scenario = Scenario(events=(election, EventUplift(0.1)), roster=roster)
    store.save("run-off", scenario, "ana")
    assert store.load("run-off").scenario == scenario
    older = Scenario.from_dict({"volume_uplift": 0.1, "uplift_by_domain": [["youth_safety", 0.4]]})
    assert older.events == (EventUplift(0.4, "youth_safety"),)


def test_scenario_vendors_are_the_hiring_and_shift_vendors():
    scenario = Scenario(
        hiring=(Hiring("atlas_cx", 1, 1, 1),),
        vendor_shift=(("harbor_trust", "sentinel_ops", 0.3),),
        events=(EventUplift(0.2, "spam"),),
    )
    assert scenario_vendors(scenario) == {"atlas_cx", "harbor_trust", "sentinel_ops"}
    assert scenario_vendors(Scenario(volume_uplift=0.5)) == set()
    assert scenario_vendors(Scenario(roster=(RosterLine("meridian_review", fte=4),))) == {"meridian_review"}


def test_a_scoped_store_lists_and_loads_only_its_scope_naming_no_other_vendor(tmp_path: Path):
    url = _sqlite(tmp_path)
    everyone = ScenarioStore(url, scope=None)
    everyone.save("shift harbor", Scenario(vendor_shift=(("atlas_cx", "harbor_trust", 0.2),)), "ana@example.com")
    everyone.save("unscoped atlas", Scenario(hiring=(Hiring("atlas_cx", 2, 1, 4),)), "ana@example.com")
    atlas = ScenarioStore(url, scope="atlas_cx")
    atlas.save("atlas hires", Scenario(hiring=(Hiring("atlas_cx", 3, 2, 6),)), "kim@atlas.example")
    ScenarioStore(url, scope="harbor_trust").save(
        "harbor hires", Scenario(hiring=(Hiring("harbor_trust", 1, 1, 1),)), "joe@harbor.example"
    )
    with everyone.engine.begin() as conn:  # a row of atlas's scope that names another vendor (written by hand)
        conn.execute(
            SCENARIOS.insert().values(
                name="atlas sneaks",
                version=1,
                author="kim@atlas.example",
                saved_at=sa.func.current_timestamp(),
                parameters='{"hiring": [{"vendor": "sentinel_ops", "fte": 9, "start_week": 1, "ramp_weeks": 0}]}',
                scope="atlas_cx",
            )
        )
    assert atlas.list()["name"].to_list() == ["atlas hires"]
    assert atlas.list()["scope"].to_list() == ["atlas_cx"]
    assert atlas.load("atlas hires").scenario.hiring[0].vendor == "atlas_cx"
    for name in ("shift harbor", "unscoped atlas", "harbor hires", "atlas sneaks"):
        with pytest.raises(KeyError):
            atlas.load(name)
        with pytest.raises(KeyError):
            atlas.load(name, 1)
    assert set(everyone.list()["name"]) == {
        "shift harbor",
        "unscoped atlas",
        "atlas hires",
        "harbor hires",
        "atlas sneaks",
    }
    assert everyone.load("harbor hires", scope="harbor_trust").scenario.hiring[0].vendor == "harbor_trust"
    with pytest.raises(KeyError):  # an unscoped store loads unscoped versions unless told the scope
        everyone.load("harbor hires")


def test_a_scoped_store_refuses_to_save_a_scenario_naming_another_vendor(tmp_path: Path):
    atlas = ScenarioStore(_sqlite(tmp_path), scope="atlas_cx")
    with pytest.raises(SourceError, match="names a vendor outside"):
        atlas.save("move work", Scenario(vendor_shift=(("atlas_cx", "harbor_trust", 0.5),)), "kim@atlas.example")
    assert ScenarioStore(_sqlite(tmp_path), scope=None).list().is_empty()


def test_versions_are_numbered_per_name_and_scope(fresh_url: str):
    harbor = ScenarioStore(fresh_url, scope="harbor_trust")
    atlas = ScenarioStore(fresh_url, scope="atlas_cx")
    everyone = ScenarioStore(fresh_url, scope=None)
    assert [harbor.save("Q3 plan", Scenario(volume_uplift=i / 10), "joe") for i in range(3)] == [1, 2, 3]
    # atlas cannot tell from its version numbers that harbor (or an admin) uses the name
    assert [atlas.save("Q3 plan", Scenario(volume_uplift=0.5), "kim") for _ in range(2)] == [1, 2]
    assert everyone.save("Q3 plan", Scenario(volume_uplift=0.9), "ana") == 1
    assert atlas.list()["version"].to_list() == [2, 1]
    assert atlas.load("Q3 plan").version == 2
    for version in (3, None):
        with pytest.raises(KeyError):
            atlas.load("Q3 plan", version, scope="harbor_trust")
    with pytest.raises(KeyError):
        atlas.load("Q3 plan", 3)
    listing = everyone.list()
    assert sorted(zip(listing["scope"].fill_null(""), listing["version"], strict=True)) == [
        ("", 1),
        ("atlas_cx", 1),
        ("atlas_cx", 2),
        ("harbor_trust", 1),
        ("harbor_trust", 2),
        ("harbor_trust", 3),
    ]
    assert listing.filter(pl.col("scope").is_null())["author"].to_list() == ["ana"]
    assert everyone.load("Q3 plan").scenario.volume_uplift == 0.9  # unscoped unless a scope is named
    assert everyone.load("Q3 plan", 2, scope="harbor_trust").scenario.volume_uplift == 0.1
    assert everyone.load("Q3 plan", scope="atlas_cx").version == 2


def test_an_empty_scope_is_refused_not_taken_for_unscoped(tmp_path: Path):
    with pytest.raises(ValueError, match="scope"):
        ScenarioStore(_sqlite(tmp_path), scope="")


@pytest.mark.parametrize("field", ["name", "author"])
def test_a_name_or_author_longer_than_the_store_keeps_is_refused_naming_the_limit(
    fresh_url: str, field: str, monkeypatch: pytest.MonkeyPatch
):
    store = ScenarioStore(fresh_url, scope=None)
    monkeypatch.setattr(time, "sleep", lambda s: pytest.fail("retried a save that cannot succeed"))
    fits = {"name": "plan", "author": "ana", field: "é" * 200}  # characters, not bytes
    assert store.save(fits["name"], Scenario(), fits["author"]) == 1
    too_long = {**fits, field: "é" * 201}
    with pytest.raises(SourceError) as caught:
        store.save(too_long["name"], Scenario(), too_long["author"])
    message = str(caught.value)
    assert "201 characters" in message and "at most 200" in message and field in message
    assert "cannot be opened" not in message and "é" * 20 not in message
    assert store.list().height == 1


def test_a_version_another_writer_took_meanwhile_is_retried_with_the_next_number(fresh_url: str):
    store = ScenarioStore(fresh_url, scope="atlas_cx")
    rival = ScenarioStore(fresh_url, scope="atlas_cx")
    raced = []

    @sa.event.listens_for(store.engine, "before_cursor_execute")
    def take_the_version_first(conn, cursor, statement, *args) -> None:
        if statement.startswith("INSERT") and not raced:  # after this save read the latest version
            raced.append(rival.save("plan", Scenario(volume_uplift=0.5), "rival"))

    assert store.save("plan", Scenario(), "kim") == 2
    assert raced == [1] and store.load("plan", 1).author == "rival"


def test_a_row_the_database_refuses_is_reported_at_once_not_as_busy(fresh_url: str, monkeypatch: pytest.MonkeyPatch):
    store = ScenarioStore(fresh_url, scope=None)
    with store.engine.begin() as conn:  # a rule the store's administrator added
        if fresh_url.startswith("sqlite"):
            conn.execute(
                sa.text(
                    "CREATE TRIGGER no_blocked BEFORE INSERT ON bellwether_scenarios WHEN NEW.author = 'blocked' "
                    "BEGIN SELECT RAISE(ABORT, 'no_blocked: this author may not save'); END"
                )
            )
        else:
            conn.execute(
                sa.text("ALTER TABLE bellwether_scenarios ADD CONSTRAINT no_blocked CHECK (author <> 'blocked')")
            )
    monkeypatch.setattr(time, "sleep", lambda s: pytest.fail("retried a save the database refuses"))
    with pytest.raises(SourceError) as caught:
        store.save("plan", Scenario(), "blocked")
    assert "refused" in caught.value.problem and "busy" not in str(caught.value)
    assert "no_blocked" in caught.value.quote
    assert store.save("plan", Scenario(), "ana") == 1


def _earlier_table(with_scope: bool) -> sa.Table:
    """bellwether_scenarios as an earlier schema made it: before scopes, or with a scope but versions per name."""
    return sa.Table(
        "bellwether_scenarios",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("saved_at", sa.DateTime, nullable=False),
        sa.Column("parameters", sa.Text, nullable=False),
        *([sa.Column("scope", sa.String(200), nullable=True)] if with_scope else []),
        sa.UniqueConstraint("name", "version", name="uq_scenario_name_version"),
    )


def _hires(vendor: str) -> str:
    return json.dumps({"hiring": [{"vendor": vendor, "fte": 2, "start_week": 1, "ramp_weeks": 4}]})


EARLIER_ROWS = {  # schema: rows (name, version, author, scope, parameters) it could hold
    "before scopes": [
        ("old plan", 1, "ana@example.com", None, _hires("atlas_cx")),
        ("old plan", 2, "pat@example.com", None, _hires("harbor_trust")),
    ],
    "scope without its key": [
        ("old plan", 1, "ana@example.com", None, _hires("atlas_cx")),
        ("old plan", 2, "pat@example.com", None, _hires("harbor_trust")),
        ("Q3", 1, "kim@atlas.example", "atlas_cx", _hires("atlas_cx")),
        ("Q3", 2, "joe@harbor.example", "harbor_trust", _hires("harbor_trust")),  # numbered across scopes then
    ],
}


def _make_earlier_store(url: str, schema: str) -> list[tuple]:
    """A store as the earlier `schema` left it; returns its rows (id, name, version, author, parameters, scope)."""
    table = _earlier_table(with_scope=schema != "before scopes")
    engine = sa.create_engine(url)
    table.metadata.create_all(engine)
    with engine.begin() as conn:
        for name, version, author, scope, parameters in EARLIER_ROWS[schema]:
            row = {"name": name, "version": version, "author": author, "parameters": parameters}
            conn.execute(
                table.insert().values(
                    **row, saved_at=sa.func.current_timestamp(), **({"scope": scope} if "scope" in table.c else {})
                )
            )
    engine.dispose()
    return [(i + 1, n, v, a, p, s) for i, (n, v, a, s, p) in enumerate(EARLIER_ROWS[schema])]


def _stored_rows(url: str) -> list[tuple]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                SCENARIOS.c.id,
                SCENARIOS.c.name,
                SCENARIOS.c.version,
                SCENARIOS.c.author,
                SCENARIOS.c.parameters,
                SCENARIOS.c.scope,
            ).order_by(SCENARIOS.c.id)
        ).all()
    engine.dispose()
    return [tuple(r) for r in rows]


def _unique_keys(url: str) -> list[set[str]]:
    engine = sa.create_engine(url)
    inspector = sa.inspect(engine)
    keys = [set(c["column_names"]) for c in inspector.get_unique_constraints("bellwether_scenarios")]
    scope = next(c for c in inspector.get_columns("bellwether_scenarios") if c["name"] == "scope")
    engine.dispose()
    return [*keys, {"scope may be NULL"} if scope["nullable"] else set()]


@pytest.mark.parametrize("schema", list(EARLIER_ROWS))
def test_a_store_made_by_an_earlier_schema_is_upgraded_in_place(fresh_url: str, schema: str):
    before = _make_earlier_store(fresh_url, schema)

    atlas = ScenarioStore(fresh_url, scope="atlas_cx")  # opening upgrades the table
    assert _stored_rows(fresh_url) == [(*row[:5], row[5] or "") for row in before]  # unscoped is stored as ''
    assert _unique_keys(fresh_url) == [{"name", "scope", "version"}, set()]
    assert atlas.list()["name"].to_list() == ([] if schema == "before scopes" else ["Q3"])
    with pytest.raises(KeyError):  # rows from before scopes are unscoped: for unscoped users only
        atlas.load("old plan")
    everyone = ScenarioStore(fresh_url, scope=None)
    assert everyone.list().filter(pl.col("name") == "old plan")["scope"].to_list() == [None, None]
    assert everyone.load("old plan", 1).scenario.hiring[0].vendor == "atlas_cx"

    assert atlas.save("old plan", Scenario(hiring=(Hiring("atlas_cx", 1, 1, 1),)), "kim") == 1  # versions per scope
    assert everyone.save("old plan", Scenario(), "ana") == 3
    if schema != "before scopes":
        assert atlas.save("Q3", Scenario(), "kim") == 2
        assert ScenarioStore(fresh_url, scope="harbor_trust").save("Q3", Scenario(), "joe") == 3
    with everyone.engine.begin() as conn, pytest.raises(sa.exc.IntegrityError):  # unscoped versions are unique too
        conn.execute(
            SCENARIOS.insert().values(
                name="old plan", version=1, author="x", saved_at=sa.func.current_timestamp(), parameters="{}", scope=""
            )
        )
    rows = _stored_rows(fresh_url)
    ScenarioStore(fresh_url, scope=None)  # opening an upgraded store changes nothing
    assert _stored_rows(fresh_url) == rows and _unique_keys(fresh_url) == [{"name", "scope", "version"}, set()]


def test_an_upgrade_that_fails_halfway_leaves_the_earlier_sqlite_store_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    url = _sqlite(tmp_path)
    before = _make_earlier_store(url, "scope without its key")
    tables = sa.inspect(sa.create_engine(url)).get_table_names()
    monkeypatch.setattr(scenarios, "_earlier_scope", lambda conn: "no_such_column")  # the copy fails
    with pytest.raises(SourceError, match="cannot be opened"):
        ScenarioStore(url, scope=None)
    engine = sa.create_engine(url)
    assert sa.inspect(engine).get_table_names() == tables == ["bellwether_scenarios"]
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT id, name, version, author, parameters, scope FROM bellwether_scenarios"))
        assert [tuple(r) for r in rows] == before
    assert [set(c["column_names"]) for c in sa.inspect(engine).get_unique_constraints("bellwether_scenarios")] == [
        {"name", "version"}
    ]
    monkeypatch.undo()
    ScenarioStore(url, scope=None)
    assert _stored_rows(url) == [(*row[:5], row[5] or "") for row in before]


def test_stores_opened_at_once_upgrade_an_earlier_store_once(fresh_url: str):
    before = _make_earlier_store(fresh_url, "scope without its key")
    failures = []

    def open_store() -> None:
        try:
            ScenarioStore(fresh_url, scope=None)
        except Exception as exc:  # reported by the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not failures
    assert _stored_rows(fresh_url) == [(*row[:5], row[5] or "") for row in before]
    assert _unique_keys(fresh_url) == [{"name", "scope", "version"}, set()]


WRITER = """
import sys
from forecasting.plan import Scenario
from forecasting.scenarios import ScenarioStore
store = ScenarioStore(sys.argv[1], scope=None)
for i in range(15):
    store.save(sys.argv[3], Scenario(volume_uplift=int(sys.argv[2]) + i / 100), "worker-" + sys.argv[2])
"""


@pytest.mark.parametrize("url", _store_urls())
def test_concurrent_saves_from_processes_and_threads_lose_nothing(tmp_path: Path, url: str):
    url = f"sqlite:///{tmp_path / 'race.db'}" if url == "sqlite" else url
    name = f"shared-{uuid.uuid4().hex[:8]}"  # a fresh name: a server database outlives the test
    ScenarioStore(url, scope=None)
    repo = Path(__file__).resolve().parent.parent
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, url, str(w), name], cwd=repo, stderr=subprocess.PIPE, text=True)
        for w in range(4)
    ]
    store = ScenarioStore(url, scope=None)
    threads = [
        threading.Thread(target=lambda w=w: [store.save(name, Scenario(volume_uplift=w), "thread") for _ in range(5)])
        for w in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for p in procs:
        assert p.wait(120) == 0, p.stderr.read()
    saved = ScenarioStore(url, scope=None).list().filter(pl.col("name") == name)
    assert saved.height == 4 * 15 + 3 * 5
    assert sorted(saved["version"].to_list()) == list(range(1, saved.height + 1))


@contextlib.contextmanager
def write_lock(url: str) -> Iterator[None]:
    """Another program holding an exclusive write lock on the store until the block ends."""
    if url.startswith("sqlite"):
        conn = sqlite3.connect(sa.engine.make_url(url).database, isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            conn.rollback()
            conn.close()
        return
    engine = sa.create_engine(url)
    with engine.connect() as conn:  # the lock lasts until the transaction ends
        conn.execute(sa.text("LOCK TABLE bellwether_scenarios IN ACCESS EXCLUSIVE MODE"))
        try:
            yield
        finally:
            conn.rollback()
    engine.dispose()


def _guarded(call):
    """Run `call`, expecting a SourceError; fail (rather than hang) if it takes longer than the guard."""
    started = time.monotonic()
    with pytest.raises(SourceError) as caught:
        call()
    assert time.monotonic() - started < HANG_GUARD_SECONDS
    return str(caught.value)


@pytest.mark.parametrize("url", _store_urls())
def test_a_locked_store_gives_up_soon_with_a_clear_message(tmp_path: Path, url: str):
    url = _sqlite(tmp_path) if url == "sqlite" else url
    store = ScenarioStore(url, scope=None)
    name = f"locked-{uuid.uuid4().hex[:8]}"
    with write_lock(url):
        listing = _guarded(store.list)
        loading = _guarded(lambda: store.load(name))
        saving = _guarded(lambda: store.save(name, Scenario(), "ana"))
    for message in (listing, loading, saving):
        assert "is busy" in message and "Fix:" in message and "attempts" not in message
    assert store.save(name, Scenario(), "ana") == 1  # works again once the lock is gone


def test_opening_a_locked_sqlite_store_gives_up_soon(tmp_path: Path):
    url = _sqlite(tmp_path)
    ScenarioStore(url, scope=None)
    with write_lock(url):
        assert "is busy" in _guarded(lambda: ScenarioStore(url, scope=None))


def test_a_read_only_store_lists_and_says_it_is_read_only_when_saving(tmp_path: Path, monkeypatch):
    path = tmp_path / "s.db"
    ScenarioStore(f"sqlite:///{path}", scope=None).save("kept", Scenario(), "ana")
    read_only = ScenarioStore(f"sqlite:///file:{path}?mode=ro&uri=true", scope=None)
    assert read_only.list()["name"].to_list() == ["kept"]
    monkeypatch.setattr(time, "sleep", lambda s: pytest.fail("retried a save that cannot succeed"))
    with pytest.raises(SourceError, match="read-only") as caught:
        read_only.save("new", Scenario(), "ana")
    assert "attempts" not in str(caught.value)


def test_a_store_that_cannot_be_opened_says_why(tmp_path: Path):
    missing = tmp_path / "no" / "such" / "folder" / "s.db"
    with pytest.raises(SourceError, match=r"folder .* does not exist"):
        ScenarioStore(f"sqlite:///{missing}", scope=None)
    assert not missing.parent.exists()
    with pytest.raises(SourceError, match="not a valid database URL"):
        ScenarioStore("data/scenarios.db", scope=None)
    with pytest.raises(SourceError, match="driver"):
        ScenarioStore("nosuchdatabase://host/db", scope=None)
    with pytest.raises(SourceError, match="cannot be opened") as caught:
        ScenarioStore("postgresql+psycopg://bob:s3cret@127.0.0.1:1/scenarios", scope=None)
    assert "s3cret" not in str(caught.value) and "***" in str(caught.value)


def test_a_store_made_before_contexts_gets_the_column_and_keeps_its_rows(fresh_url: str):
    """A table with scopes and the current key but no `context` column (the schema before plans were recorded):
    opening adds the column; its rows load with no context, new saves keep theirs."""
    earlier = sa.Table(
        "bellwether_scenarios",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("saved_at", sa.DateTime, nullable=False),
        sa.Column("parameters", sa.Text, nullable=False),
        sa.Column("scope", sa.String(200), nullable=False, server_default=""),
        sa.UniqueConstraint("name", "scope", "version", name="uq_scenario_name_scope_version"),
    )
    engine = sa.create_engine(fresh_url)
    earlier.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            earlier.insert().values(
                name="old", version=1, author="ana", saved_at=sa.func.current_timestamp(), parameters="{}", scope=""
            )
        )
    engine.dispose()
    store = ScenarioStore(fresh_url, scope=None)
    assert store.load("old").context is None and store.load("old").scenario == Scenario()
    context = {"period_start": "2026-01-01", "plan": [{"vendor": "atlas_cx", "required_fte": 3.5}]}
    assert store.save("new", Scenario(volume_uplift=0.1), "ana", context) == 1
    assert store.load("new").context == context
    ScenarioStore(fresh_url, scope=None)  # opening again leaves the column as it is
