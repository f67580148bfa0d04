"""Saved what-if scenarios, in any SQLAlchemy database (a SQLite file by default).

Every save adds a new version under its name and scope: nothing is ever overwritten, and concurrent
saves from several sessions each get their own version (the unique key decides; a writer
that loses the race retries with the next number).

Each version carries the vendor scope it was saved under ('' in the table: unscoped), and versions are
numbered per name and scope, so version numbers say nothing about other scopes. A store is opened for
one scope: an unscoped one sees every version; a vendor-scoped one lists and loads only versions of its
own scope that name no other vendor, and saves only scenarios that name no other vendor.

Faults never hang a caller: a store that is locked by another writer is given up on after a short wait,
and every fault (busy, read-only, missing folder, bad URL, unreachable server) is a SourceError that
names the store (password masked) and the fix.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import sqlalchemy as sa
from sqlalchemy.exc import ArgumentError, DataError, DBAPIError, IntegrityError

from forecasting.plan import Scenario
from queries.errors import SourceError
from queries.sources.warehouse import mask_password

UNSCOPED = ""  # the stored scope of an unscoped save: not NULL, so the unique key covers unscoped versions too
METADATA = sa.MetaData()
VERSION_KEY = sa.UniqueConstraint("name", "scope", "version", name="uq_scenario_name_scope_version")
SCENARIOS = sa.Table(
    "bellwether_scenarios",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("author", sa.String(200), nullable=False),
    sa.Column("saved_at", sa.DateTime, nullable=False),
    sa.Column("parameters", sa.Text, nullable=False),
    sa.Column("scope", sa.String(200), nullable=False, server_default=UNSCOPED),  # the saver's vendor
    sa.Column("context", sa.Text, nullable=True),  # JSON: what it was made on and the plan it gave (None: older)
    VERSION_KEY,
)
LOCK_WAIT_SECONDS = 1.5  # how long one statement waits for another writer's lock
SAVE_WAIT_SECONDS = 5.0  # how long a save keeps retrying write conflicts before it gives up
BUSY_MESSAGES = ("database is locked", "lock timeout", "lock wait timeout", "deadlock")  # SQLite, PostgreSQL, MySQL
READ_ONLY_MESSAGES = ("readonly database", "read-only")


@dataclass(frozen=True)
class SavedScenario:
    name: str
    version: int
    author: str
    saved_at: dt.datetime
    scenario: Scenario
    context: dict | None = None  # what it was made on and the plan it gave (forecasting.plan_actual.PlanRecord)


def scenario_vendors(scenario: Scenario) -> set[str]:
    """Every vendor a scenario names: those it hires for, shifts work from or to, or has on its roster."""
    return (
        {h.vendor for h in scenario.hiring}
        | {v for source, target, _ in scenario.vendor_shift for v in (source, target)}
        | {line.vendor for line in scenario.roster}
    )


class ScenarioStore:
    """Versioned scenario storage behind a SQLAlchemy URL, as seen from one vendor scope (None: unscoped)."""

    def __init__(self, url: str, *, scope: str | None) -> None:
        if scope == UNSCOPED:  # fail closed: an empty vendor must not open the unscoped versions
            raise ValueError("a vendor scope cannot be empty (use scope=None for unscoped)")
        self.shown = mask_password(url)
        self.scope = scope
        self.engine = _engine(url, self.shown)
        with self._errors("open"):
            _prepare_schema(self.engine)

    @classmethod
    def sqlite_file(cls, path: Path, *, scope: str | None) -> ScenarioStore:
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(f"sqlite:///{path}", scope=scope)

    def save(self, name: str, scenario: Scenario, author: str, context: dict | None = None) -> int:
        """Store a new version of `name` under this store's scope, with the JSON-ready `context` it was made in
        (period, filters, the plan it gave); returns its version number."""
        name = name.strip()
        if not name:
            raise ValueError("a scenario needs a name")
        author = author or "anonymous"
        _check_length("scenario name", name, SCENARIOS.c.name)
        _check_length("author name", author, SCENARIOS.c.author)
        if self.scope is not None and scenario_vendors(scenario) - {self.scope}:
            raise SourceError(
                "This scenario names a vendor outside your scope, so it cannot be saved.",
                fix=f"Hire for and shift work within {self.scope} only.",
            )
        parameters = json.dumps(scenario.to_dict(), sort_keys=True)
        deadline = time.monotonic() + SAVE_WAIT_SECONDS
        attempt = 0
        while True:
            try:
                with self._errors("save to"):
                    return self._insert(name, parameters, author, json.dumps(context) if context else None)
            except _WriteConflict:
                attempt += 1
                if time.monotonic() + LOCK_WAIT_SECONDS > deadline:  # another try could overrun the deadline
                    raise self._busy("save to") from None
                time.sleep(0.005 * attempt)  # another writer took this version or held the lock

    def list(self) -> pl.DataFrame:
        """Every version this scope may see, newest first: name, version, author, saved_at, scope (None: unscoped)."""
        query = sa.select(
            SCENARIOS.c.name,
            SCENARIOS.c.version,
            SCENARIOS.c.author,
            SCENARIOS.c.saved_at,
            SCENARIOS.c.scope,
            SCENARIOS.c.parameters,
        ).order_by(SCENARIOS.c.saved_at.desc(), SCENARIOS.c.id.desc())
        rows = [(*r[:4], r.scope or None) for r in self._visible_rows(query)]
        schema = {
            "name": pl.String,
            "version": pl.Int64,
            "author": pl.String,
            "saved_at": pl.Datetime("us"),
            "scope": pl.String,
        }
        return pl.DataFrame(rows, schema=schema, orient="row")

    def load(self, name: str, version: int | None = None, *, scope: str | None = None) -> SavedScenario:
        """A saved scenario this store may see (its latest visible version unless one is given); else KeyError.

        `scope` is the scope it was saved under (None: the scope this store saves under); only an unscoped store
        can load another scope's scenarios.
        """
        saved_under = scope or self.scope or UNSCOPED
        query = (
            sa.select(SCENARIOS)
            .where(SCENARIOS.c.name == name, SCENARIOS.c.scope == saved_under)
            .order_by(SCENARIOS.c.version.desc())
        )
        if version:
            query = query.where(SCENARIOS.c.version == version)
        row = next(self._visible_rows(query), None)
        if row is None:
            raise KeyError(f"no saved scenario {name!r}" + (f" version {version}" if version else ""))
        context = json.loads(row.context) if row.context else None
        return SavedScenario(row.name, row.version, row.author, row.saved_at, _scenario(row.parameters), context)

    def _visible_rows(self, query: sa.Select) -> Iterator[sa.Row]:
        """The rows of `query` this scope may see (the query must select `scope` and `parameters`)."""
        if self.scope is not None:
            query = query.where(SCENARIOS.c.scope == self.scope)
        with self._errors("read"), self.engine.connect() as conn:
            rows = conn.execute(query).all()
        if self.scope is None:
            return iter(rows)
        return (r for r in rows if _names_only(r.parameters, self.scope))

    def _insert(self, name: str, parameters: str, author: str, context: str | None) -> int:
        """Add the next version of `name` in this store's scope (the unique key refuses a version taken meanwhile)."""
        scope = self.scope or UNSCOPED
        with self.engine.begin() as conn:
            latest = conn.execute(
                sa.select(sa.func.max(SCENARIOS.c.version)).where(SCENARIOS.c.name == name, SCENARIOS.c.scope == scope)
            ).scalar()
            version = (latest or 0) + 1
            conn.execute(
                SCENARIOS.insert().values(
                    name=name,
                    version=version,
                    author=author,
                    saved_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
                    parameters=parameters,
                    scope=scope,
                    context=context,
                )
            )
        return version

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """Database failures as a SourceError naming the store; a save's write conflicts as _WriteConflict."""
        try:
            yield
        except DBAPIError as exc:
            said = str(exc.orig).lower()
            busy = any(m in said for m in BUSY_MESSAGES)
            if doing == "save to" and (busy or _version_taken(exc)):
                raise _WriteConflict from None
            if busy:
                raise self._busy(doing) from None
            if isinstance(exc, (IntegrityError, DataError)):  # a rule of the database's own, not a version race
                raise SourceError(
                    f"The scenario store {self.shown} refused the scenario (could not {doing} it).",
                    fix="The database has a rule this scenario breaks (its message is under Details for admins): "
                    "ask whoever runs the database, or point BELLWETHER_SCENARIO_URL at another database.",
                    quote=str(exc.orig),
                ) from None
            if any(m in said for m in READ_ONLY_MESSAGES):
                raise SourceError(
                    f"The scenario store {self.shown} is read-only, so Bellwether could not {doing} it.",
                    fix="Make the database (and, for SQLite, its folder) writable for the dashboard, or point "
                    "BELLWETHER_SCENARIO_URL at a writable database. Saved scenarios can still be viewed.",
                ) from None
            raise SourceError(
                f"The scenario store {self.shown} cannot be opened (could not {doing} it).",
                fix="Check that the database server is reachable and the account may use it, or point "
                "BELLWETHER_SCENARIO_URL at another database.",
                quote=str(exc.orig),
            ) from None

    def _busy(self, doing: str) -> SourceError:
        wait = f"{SAVE_WAIT_SECONDS:g}" if doing == "save to" else f"{LOCK_WAIT_SECONDS:g}"
        return SourceError(
            f"The scenario store {self.shown} is busy: another program holds a lock on it, so Bellwether could not "
            f"{doing} it within {wait} s.",
            fix="Try again in a moment. If it stays busy, end the program or transaction that holds the lock "
            "(for SQLite, e.g. an open sqlite3 shell).",
        )


class _WriteConflict(Exception):
    """Another writer took this version or held the lock: a save may try again."""


def _version_taken(exc: DBAPIError) -> bool:
    """True when `exc` is the unique key on (name, scope, version) refusing a version another writer took."""
    if not isinstance(exc, IntegrityError):
        return False
    said = str(exc.orig).lower()
    columns = ", ".join(f"{SCENARIOS.name}.{c.name}" for c in VERSION_KEY.columns)
    return VERSION_KEY.name in said or f"unique constraint failed: {columns}" in said  # PostgreSQL/MySQL; SQLite


def _check_length(what: str, value: str, column: sa.Column) -> None:
    """SourceError naming the limit when `value` is longer than `column` keeps (PostgreSQL would refuse it)."""
    limit = column.type.length
    if len(value) > limit:
        raise SourceError(
            f"The {what} is {len(value)} characters long; the scenario store keeps at most {limit}.",
            fix=f"Shorten the {what} to {limit} characters or fewer.",
        )


def _engine(url: str, shown: str) -> sa.Engine:
    """An engine whose statements wait at most LOCK_WAIT_SECONDS for a lock; SourceError for an unusable URL."""
    try:
        parsed = sa.engine.make_url(url)
        backend = parsed.get_backend_name()
        if backend == "sqlite":
            _check_sqlite_folder(parsed, shown)
            connect_args = {"timeout": LOCK_WAIT_SECONDS}
        elif backend == "postgresql" and parsed.get_driver_name() in ("psycopg", "psycopg2"):
            options = parsed.query.get("options", ())  # keep the URL's own options (e.g. a search_path)
            options = (options,) if isinstance(options, str) else options
            lock = f"-c lock_timeout={int(LOCK_WAIT_SECONDS * 1000)}"
            connect_args = {"options": " ".join([*options, lock])}
            if "connect_timeout" not in parsed.query:
                connect_args["connect_timeout"] = 5
        else:
            connect_args = {}
        return sa.create_engine(parsed, connect_args=connect_args)
    except (ArgumentError, ValueError) as exc:
        if "Can't load plugin" in str(exc):
            raise _no_driver(shown) from None
        raise SourceError(
            f"The scenario store URL {shown} is not a valid database URL.",
            fix="Set BELLWETHER_SCENARIO_URL to a SQLAlchemy URL such as sqlite:///data/scenarios.db or "
            "postgresql+psycopg://user@host/database.",
        ) from None
    except ImportError:
        raise _no_driver(shown) from None


def _no_driver(shown: str) -> SourceError:
    return SourceError(
        f"The scenario store {shown} needs a database driver that is not installed.",
        fix="Install the driver the URL names (e.g. psycopg for postgresql+psycopg), or use a SQLite file.",
    )


def _check_sqlite_folder(url: sa.URL, shown: str) -> None:
    """A SQLite file in a folder that does not exist: say so (SQLite only says 'unable to open')."""
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return
    folder = Path(database).parent
    if not folder.is_dir():
        raise SourceError(
            f"The scenario store {shown} cannot be opened: its folder {folder} does not exist.",
            fix="Create the folder, or point BELLWETHER_SCENARIO_URL at a file in an existing folder.",
        )


def _prepare_schema(engine: sa.Engine) -> None:
    """Create the table, or upgrade one an earlier schema made (no scope, or versions numbered per name only)."""
    METADATA.create_all(engine)
    if not _is_current(engine):
        _upgrade_keys(engine)
    _add_context_column(engine)


def _add_context_column(engine: sa.Engine) -> None:
    """Add the nullable `context` column to a table an earlier schema made (another process may add it first)."""
    if "context" in {c["name"] for c in sa.inspect(engine).get_columns(SCENARIOS.name)}:
        return
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"ALTER TABLE {SCENARIOS.name} ADD COLUMN context TEXT")
    except DBAPIError:
        if "context" not in {c["name"] for c in sa.inspect(engine).get_columns(SCENARIOS.name)}:
            raise


def _upgrade_keys(engine: sa.Engine) -> None:
    """Give a table an earlier schema made the scope column and versions numbered per name and scope."""
    backend = engine.dialect.name
    if backend == "sqlite":
        _upgrade_sqlite(engine)
    elif backend == "postgresql":
        _upgrade_postgresql(engine)
    else:
        raise SourceError(
            f"The scenario store's table {SCENARIOS.name} was made by an earlier Bellwether and can be upgraded "
            f"automatically on SQLite and PostgreSQL only (this is {backend}).",
            fix="Upgrade it by hand: add a column scope VARCHAR(200) NOT NULL DEFAULT '' (set it to '' in existing "
            "rows) and replace the unique key (name, version) by (name, scope, version); or use a new database.",
        )


def _is_current(bind: sa.Engine | sa.Connection) -> bool:
    """True when the table numbers versions per name and scope (the last step of every upgrade)."""
    wanted = {c.name for c in VERSION_KEY.columns}
    return any(set(c["column_names"]) == wanted for c in sa.inspect(bind).get_unique_constraints(SCENARIOS.name))


def _earlier_scope(conn: sa.Connection) -> str:
    """SQL for an earlier row's stored scope: its scope column with NULL as unscoped, or unscoped before scopes."""
    columns = {c["name"] for c in sa.inspect(conn).get_columns(SCENARIOS.name)}
    return "COALESCE(scope, '')" if "scope" in columns else "''"


def _upgrade_sqlite(engine: sa.Engine) -> None:
    """Rebuild the table with the current schema in one transaction, keeping every row (SQLite cannot drop a key)."""
    table = SCENARIOS.name
    upgrading = SCENARIOS.to_metadata(sa.MetaData(), name=f"{table}_upgrading")
    old_columns = {c["name"] for c in sa.inspect(engine).get_columns(table)}
    copied = ", ".join(c.name for c in SCENARIOS.columns if c.name != "scope" and c.name in old_columns)
    # pysqlite would commit DDL outside any transaction: begin one by hand, taking the write lock at once
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            if not _is_current(conn):  # another process may have upgraded it while this one waited for the lock
                upgrading.create(conn)
                scope = _earlier_scope(conn)
                conn.exec_driver_sql(
                    f"INSERT INTO {upgrading.name} ({copied}, scope) SELECT {copied}, {scope} FROM {table}"
                )
                conn.exec_driver_sql(f"DROP TABLE {table}")
                conn.exec_driver_sql(f"ALTER TABLE {upgrading.name} RENAME TO {table}")
            conn.exec_driver_sql("COMMIT")
        except BaseException:
            conn.exec_driver_sql("ROLLBACK")
            raise


def _upgrade_postgresql(engine: sa.Engine) -> None:
    """Add the scope column and replace the unique key, in one transaction holding the table's lock."""
    table = SCENARIOS.name
    with engine.begin() as conn:
        conn.exec_driver_sql(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        if _is_current(conn):  # another process upgraded it while this one waited for the lock
            return
        conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS scope VARCHAR(200)")
        conn.exec_driver_sql(f"UPDATE {table} SET scope = '' WHERE scope IS NULL")
        conn.exec_driver_sql(f"ALTER TABLE {table} ALTER COLUMN scope SET DEFAULT '', ALTER COLUMN scope SET NOT NULL")
        for key in sa.inspect(conn).get_unique_constraints(table):
            if set(key["column_names"]) == {"name", "version"}:
                conn.exec_driver_sql(f'ALTER TABLE {table} DROP CONSTRAINT "{key["name"]}"')
        columns = ", ".join(c.name for c in VERSION_KEY.columns)
        conn.exec_driver_sql(f"ALTER TABLE {table} ADD CONSTRAINT {VERSION_KEY.name} UNIQUE ({columns})")


def _names_only(parameters: str, vendor: str) -> bool:
    """True when the stored scenario names no vendor but `vendor`; False when it cannot be read (fail closed)."""
    try:
        return not scenario_vendors(_scenario(parameters)) - {vendor}
    except (ValueError, TypeError, KeyError):
        return False


def _scenario(parameters: str) -> Scenario:
    return Scenario.from_dict(json.loads(parameters))
