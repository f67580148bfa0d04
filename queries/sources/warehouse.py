"""Warehouse sources: contract tables read in place from any SQLAlchemy database, validated in SQL.

The mapping file that maps extracts also maps warehouse tables: `[TABLE] table = "schema.name"` names the
table (default: the contract name), `[TABLE.columns]` renames columns and `[TABLE.values.FIELD]` recodes
values (as a SQL CASE). The file loader's rules are SQL expressions per table: rows without a usable required
field are left out (`valid`), a bad optional field reads as NULL (quarantined); both are counted by reason when
connecting, and every metric query reads only valid rows and the fields as quarantined.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import polars as pl
import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from queries.contract import FUTURE_TOLERANCE, ORDER_RULES, TABLES, TIME_RANGE, TIME_UNKNOWN, Field, Kind, Table
from queries.errors import SourceError
from queries.sources.mapping import TableMapping, load_mapping
from queries.sources.validation import (
    EXAMPLES_PER_REASON,
    MAX_UNKNOWN_VALUES,
    Quarantine,
    Rejection,
    TableReport,
    UnknownValues,
    dated_fields,
)

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9]*(\+[A-Za-z0-9_]+)?://")
_MAX_FLOAT = 1.7976931348623157e308
RECHECK_SECONDS = 3600  # a warehouse that probes the same is still checked row by row this often
SQL_TYPES: dict[Kind, type[sa.types.TypeEngine]] = {  # the SQL type of each contract kind
    Kind.STRING: sa.String,
    Kind.TIMESTAMP: sa.DateTime,
    Kind.DATE: sa.Date,
    Kind.NUMBER: sa.Float,
    Kind.INTEGER: sa.BigInteger,
    Kind.BOOLEAN: sa.Boolean,
}


def is_database_url(text: str) -> bool:
    """True for a SQLAlchemy URL such as postgresql+psycopg://… or sqlite:///file.db (not a path)."""
    return bool(_URL.match(str(text).strip()))


def mask_password(url: str) -> str:
    """The URL with any password replaced by ***, safe to show and log."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except (sa.exc.ArgumentError, ValueError):
        return re.sub(r"(//[^:/@]*:)[^@]*@", r"\1***@", url)


@dataclass(frozen=True, eq=False)
class WarehouseTable:
    """One contract table in the warehouse: typed contract-field expressions over the mapped table and the
    predicate that keeps valid rows (the file loader's row rules, in SQL)."""

    name: str
    table: sa.Table
    raw: dict[str, str]  # contract field -> warehouse column name (mapped fields only)
    columns: dict[str, ColumnElement]  # contract field -> expression in contract type, NULL where quarantined
    valid: ColumnElement[bool]
    reason: ColumnElement  # the first rule a required field breaks (the row is not valid), as text; NULL if none
    quarantine: dict[str, ColumnElement] = field(default_factory=dict)  # optional field -> its reason, or NULL
    # tickets: per TIME_UNKNOWN field, true where it was acted on or closed at an unknown time
    time_unknown: dict[str, ColumnElement[bool]] = field(default_factory=dict)

    def unknown_time(self, name: str) -> ColumnElement[bool]:
        """True for rows whose `name` (first_action_at or closed_at) happened at a time that is not known."""
        return self.time_unknown.get(name, sa.false())

    def col(self, name: str) -> ColumnElement:
        """The field as an expression; a typed NULL when the warehouse does not provide it."""
        if name in self.columns:
            return self.columns[name]
        return sa.cast(sa.null(), SQL_TYPES[TABLES[self.name].field(name).kind]())


@dataclass(frozen=True, eq=False)
class Warehouse:
    """A database holding the contract tables, its validation report and a signature that changes with the data."""

    source: str  # the URL with any password masked
    mapping_file: str | None
    engine: sa.Engine
    signature: str
    reports: dict[str, TableReport]
    tables: dict[str, WarehouseTable] = field(repr=False)
    probed: tuple = ()  # what probe() returned when the reports were made
    mapping_digest: str | None = None  # of the mapping file's bytes when connected
    checked_at: float = 0.0  # time.monotonic() of the row-by-row check

    def probe(self) -> tuple:
        """The default schema's table names, and rows, filled timestamps and latest timestamps of every contract
        table, raw (before validation): one aggregate per table, far cheaper than checking every row. It changes
        when a table is created or dropped, rows are added or removed, a ticket gets its first action or is
        closed, or a row gets a newer timestamp (updated_at on an edit)."""
        try:
            with self.engine.connect() as conn:
                return _probe(conn, self.tables)
        except sa.exc.SQLAlchemyError as exc:
            raise database_error(self.source, exc) from None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def execute(self, query: sa.Executable) -> list[sa.Row]:
        """Run one query and return its (aggregated, small) rows; database failures become SourceErrors."""
        try:
            with self.engine.connect() as conn:
                return list(conn.execute(query).all())
        except sa.exc.SQLAlchemyError as exc:
            raise database_error(self.source, exc) from None

    def has(self, table: str, *fields: str) -> bool:
        """True when the table is present and every named field was provided by the source."""
        report = self.reports.get(table)
        return report is not None and report.provides(*fields)

    def distinct_values(self, table: str, column: str) -> list[str]:
        """The distinct non-empty values of a column among valid rows, sorted (for the filter bar)."""
        wt = self.tables.get(table)
        if wt is None or column not in wt.columns:
            return []
        value = wt.columns[column]
        query = sa.select(value).distinct().where(wt.valid, value.is_not(None)).order_by(value)
        return [str(v) for (v,) in self.execute(query)]

    def created_range(self) -> tuple[dt.date, dt.date] | None:
        """First and last day with valid tickets, up to the newest created_at that is not in the future (a
        wrong clock does not move the default period); None when there are none."""
        wt = self.tables["tickets"]
        created = wt.columns["created_at"]
        current = sa.case((created <= future_cutoff(), created), else_=sa.null())
        [(first, last)] = self.execute(sa.select(sa.func.min(created), sa.func.max(current)).where(wt.valid))
        return (first.date(), last.date()) if first is not None and last is not None else None

    def latest_timestamp(self, where: ColumnElement[bool] | None = None) -> dt.datetime | None:
        """The latest created_at, first_action_at or closed_at of valid tickets (those `where` selects, when given)
        that is not in the future (the data's "now")."""
        wt = self.tables["tickets"]
        names = [n for n in ("created_at", "first_action_at", "closed_at") if n in wt.columns]
        cutoff = future_cutoff()
        newest = [sa.func.max(sa.case((wt.columns[n] <= cutoff, wt.columns[n]), else_=sa.null())) for n in names]
        [row] = self.execute(sa.select(*newest).where(wt.valid, sa.true() if where is None else where))
        seen = [v for v in row if v is not None]
        return max(seen) if seen else None

    def read_small(self, table: str) -> pl.DataFrame:
        """Every valid row of a small table (events, staffing, platform_metrics) in contract schema."""
        wt = self.tables[table]
        contract = TABLES[table]
        query = sa.select(*[wt.col(f.name).label(f.name) for f in contract.fields]).where(wt.valid)
        return pl.DataFrame(self.execute(query), schema=contract.schema, orient="row")


def future_cutoff() -> dt.datetime:
    """A warehouse has no file time: a timestamp later than now (UTC) plus FUTURE_TOLERANCE is in the future."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None) + FUTURE_TOLERANCE


def connect_warehouse(
    url: str,
    mapping_file: str | Path | None = None,
    *,
    known: Warehouse | None = None,
    recheck_seconds: float = RECHECK_SECONDS,
) -> Warehouse:
    """Connect, find and check the contract tables, and count rejected rows. Raises SourceError with the fix.

    `known`, an earlier connection to the same URL and mapping checked less than `recheck_seconds` ago, is
    returned as it is when its tables still probe the same (Warehouse.probe): checking a warehouse scans every
    row, probing it costs one aggregate per table."""
    recent = known is not None and time.monotonic() - known.checked_at < recheck_seconds
    same = recent and known.source == mask_password(url) and known.mapping_file == _text(mapping_file)
    if same and known.mapping_digest == _digest(mapping_file):
        try:
            if known.probe() == known.probed:
                return known
        except SourceError:
            pass  # the known tables are gone or changed shape: connect afresh, with the usual errors
    mapping = load_mapping(mapping_file)
    shown = mask_password(url)
    engine = _engine(url, shown)
    try:
        inspector = sa.inspect(engine)
        tables: dict[str, WarehouseTable] = {}
        for name, contract in TABLES.items():
            spec = mapping.table(name)
            wt = _reflect(engine, inspector, shown, contract, spec, explicit=name in mapping.tables)
            if wt is not None:
                tables[name] = wt
        with engine.connect() as conn:
            probed = _probe(conn, tables)  # before the checks: a change while they run shows at the next probe
        reports: dict[str, TableReport] = {}
        for name, wt in list(tables.items()):
            tables[name], reports[name] = _report(engine, shown, wt, mapping.table(name))
    except sa.exc.SQLAlchemyError as exc:
        raise database_error(shown, exc) from None
    digest = hashlib.sha256(shown.encode())
    if mapping.file:
        digest.update(mapping.file.read_bytes())
    digest.update(repr(probed).encode())  # rows, filled and latest timestamps: any change the probe sees
    for report in reports.values():
        digest.update(f"{report.table}|{report.rows_read}|{report.rows_loaded}|{report.latest}\n".encode())
    return Warehouse(
        source=shown,
        mapping_file=_text(mapping_file),
        engine=engine,
        signature=digest.hexdigest()[:16],
        reports=reports,
        tables=tables,
        probed=probed,
        checked_at=time.monotonic(),
        mapping_digest=_digest(mapping_file),
    )


def _text(mapping_file: str | Path | None) -> str | None:
    return str(mapping_file) if mapping_file else None


def _digest(mapping_file: str | Path | None) -> str | None:
    """The mapping file's content, hashed: an edited mapping means another source."""
    return hashlib.sha256(Path(mapping_file).read_bytes()).hexdigest() if mapping_file else None


def _probe(conn: sa.Connection, tables: dict[str, WarehouseTable]) -> tuple:
    out: list[tuple] = [tuple(sorted(sa.inspect(conn).get_table_names()))]  # a contract table created later
    for name, wt in sorted(tables.items()):
        stamps = [f.name for f in TABLES[name].fields if f.kind in (Kind.TIMESTAMP, Kind.DATE) and f.name in wt.raw]
        columns = [wt.table.c[wt.raw[n]] for n in stamps]
        aggregates = [sa.func.count(), *(sa.func.count(c) for c in columns), *(sa.func.max(c) for c in columns)]
        [row] = conn.execute(sa.select(*aggregates).select_from(wt.table)).all()
        out.append((name, *(None if v is None else str(v) for v in row)))
    return tuple(out)


def _engine(url: str, shown: str) -> sa.Engine:
    """An engine for the URL, checked by connecting once (a SQLite file must already exist)."""
    try:
        parsed = sa.engine.make_url(url)
    except (sa.exc.ArgumentError, ValueError):
        raise SourceError(
            f"{shown} is not a database URL.",
            fix="Write it as dialect+driver://user:password@host:port/database, e.g. "
            "postgresql+psycopg://bellwether@localhost/warehouse or sqlite:///path/to/file.db.",
        ) from None
    file_db = parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:")
    if file_db and not Path(parsed.database).is_file():
        raise SourceError(
            f"SQLite database {parsed.database} does not exist.",
            fix="Check the path in the URL (sqlite:///relative.db or sqlite:////absolute/path.db).",
        )
    connect_args = {}
    if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
        connect_args["connect_timeout"] = 10
    try:
        engine = sa.create_engine(parsed, connect_args=connect_args, pool_pre_ping=True)
    except (sa.exc.NoSuchModuleError, ModuleNotFoundError, ImportError) as exc:
        raise SourceError(
            f"No database driver for {shown}: {exc}.",
            fix="Install the driver named in the URL (e.g. pip install psycopg[binary] for postgresql+psycopg).",
        ) from None
    except sa.exc.ArgumentError as exc:
        raise SourceError(f"{shown} is not a usable database URL: {exc}.", fix="Check the URL.") from None
    try:
        with engine.connect():
            pass
    except sa.exc.SQLAlchemyError as exc:
        engine.dispose()
        raise database_error(shown, exc) from None
    return engine


def database_error(shown: str, exc: Exception) -> SourceError:
    """A database failure as a SourceError naming the (masked) URL and the driver's first line."""
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return SourceError(
        f"Cannot read the warehouse {shown}.",
        quote=f"{detail[0] if detail else type(exc).__name__}.",
        fix="Check that the server is running and reachable, the database exists, and the user and password "
        "(or BELLWETHER_WAREHOUSE_URL) are right.",
    )


def _reflect(
    engine: sa.Engine, inspector: sa.Inspector, shown: str, contract: Table, spec: TableMapping, *, explicit: bool
) -> WarehouseTable | None:
    """The contract table as typed field expressions; None when an optional table is absent."""
    qualified = spec.table or contract.name
    schema, _, name = qualified.rpartition(".")
    if not inspector.has_table(name, schema=schema or None):  # tables and views
        if contract.name != "tickets" and not explicit:
            return None
        raise SourceError(
            f"The warehouse {shown} has no table {qualified!r} ({contract.name}).",
            fix=f'Name the table in the mapping file: [{contract.name}] table = "schema.table_name".',
        )
    if spec.dedupe_by:
        raise SourceError(
            f"dedupe_by is set for {contract.name}, but warehouse sources do not deduplicate snapshots.",
            fix=f"Point [{contract.name}] table at a view that keeps the latest row per key, and remove dedupe_by.",
        )
    _refuse_time_settings(contract, spec)
    table = sa.Table(name, sa.MetaData(), schema=schema or None, autoload_with=engine)
    columns = _resolve(shown, qualified, contract, table, spec)
    dialect = engine.dialect.name
    exprs = {f: _typed(shown, qualified, contract.field(f), table.c[c], spec, dialect) for f, c in columns.items()}
    row, cleaned, quarantine = _rules(contract, exprs, table, columns, dialect)
    valid = sa.and_(sa.true(), *[sa.not_(condition) for condition, _ in row])
    reason = sa.case(*row, else_=sa.null()) if row else sa.cast(sa.null(), sa.String)
    unknown = _time_unknown(contract, table, quarantine)
    cleaned.update(_own_dimensions(shown, qualified, table, spec))
    return WarehouseTable(contract.name, table, columns, cleaned, valid, reason, quarantine, unknown)


def _own_dimensions(shown: str, qualified: str, table: sa.Table, spec: TableMapping) -> dict[str, ColumnElement]:
    """The source's own dimensions ([tickets.dimensions]) as trimmed text, NULL when empty."""
    own = {}
    for name, column in spec.dimensions.items():
        if column not in table.c:
            raise SourceError(
                f"The mapping says [tickets.dimensions] {name} = {column!r}, but {qualified} in {shown} has no "
                f"column {column!r}. Columns found: {', '.join(c.name for c in table.columns)}.",
                fix=f"Correct [tickets.dimensions] {name} in the mapping file.",
            )
        own[name] = sa.func.nullif(sa.func.trim(sa.cast(table.c[column], sa.String)), "")
    return own


def _time_unknown(contract: Table, table: sa.Table, quarantine: dict[str, ColumnElement]) -> dict[str, ColumnElement]:
    """For tickets, per TIME_UNKNOWN field: quarantined here, or flagged by a boolean column of the flag's name
    (written by load-warehouse from extracts, where the loader quarantined it)."""
    if contract.name != "tickets":
        return {}
    unknown = {}
    for name, flag in TIME_UNKNOWN.items():
        conditions = [quarantine[name].is_not(None)] if name in quarantine else []
        column = next((c for c in table.columns if c.name.lower() == flag), None)
        conditions += [column.is_(True)] if column is not None else []
        if conditions:
            unknown[name] = sa.or_(*conditions)
    return unknown


def _refuse_time_settings(contract: Table, spec: TableMapping) -> None:
    """Timestamps in a warehouse are typed, in UTC: settings that say how text is written do not apply."""
    given = [
        setting
        for setting, used in (
            ("timezone", spec.timezone),
            ("datetime_formats", spec.datetime_formats),
            ("a list of columns (a split timestamp)", spec.joined),
        )
        if used
    ]
    if given:
        raise SourceError(
            f"The mapping sets {given[0]} for {contract.name}, which only applies to extracts (CSV or Parquet): "
            "warehouse timestamps are typed columns, read as UTC.",
            fix=f"Remove it from [{contract.name}], and point [{contract.name}] table at a view that converts the "
            "times to UTC timestamps (e.g. (col AT TIME ZONE 'America/Los_Angeles') AT TIME ZONE 'UTC' on "
            "PostgreSQL, to_timestamp(col / 1000.0) for epoch milliseconds, or date_col + time_col).",
        )


def _resolve(shown: str, qualified: str, contract: Table, table: sa.Table, spec: TableMapping) -> dict[str, str]:
    """Contract field -> warehouse column name, from the mapping or matching names (as for extracts)."""
    names = [c.name for c in table.columns]
    by_lower = {n.lower(): n for n in names}
    columns: dict[str, str] = {}
    for f in contract.fields:
        if f.name in spec.columns:
            if spec.columns[f.name] not in names:
                raise SourceError(
                    f"The mapping says {contract.name}.{f.name} = {spec.columns[f.name]!r}, but {qualified} in "
                    f"{shown} has no such column. Columns found: {', '.join(names)}.",
                    fix=f"Correct [{contract.name}.columns] {f.name} in the mapping file.",
                )
            columns[f.name] = spec.columns[f.name]
        elif f.name.lower() in by_lower:
            columns[f.name] = by_lower[f.name.lower()]
    absent = [n for n in contract.required if n not in columns]
    if absent:
        lines = " ".join(f'{n} = "<your column>"' for n in absent)
        raise SourceError(
            f"{qualified} ({contract.name}) in {shown} has no column for the required field "
            f"{' and '.join(repr(n) for n in absent)}. Columns found: {', '.join(names)}.",
            fix=f"Map it in the mapping file: [{contract.name}.columns] {lines}.",
        )
    return columns


def _typed(shown: str, qualified: str, f: Field, column: sa.Column, spec: TableMapping, dialect: str) -> ColumnElement:
    """The column as the field's contract type; refuses types that cannot be read without parsing text."""
    kind, ctype = f.kind, column.type
    if kind == Kind.STRING:
        text: ColumnElement = column if isinstance(ctype, sa.String) else sa.cast(column, sa.String)
        if spec.values.get(f.name):
            text = sa.case(
                {source: sa.literal(value) for source, value in spec.values[f.name].items()}, value=text, else_=text
            )
        return text
    ok = {
        Kind.TIMESTAMP: isinstance(ctype, sa.DateTime),
        Kind.DATE: isinstance(ctype, (sa.Date, sa.DateTime)),
        Kind.NUMBER: isinstance(ctype, (sa.Float, sa.Numeric, sa.Integer)),
        Kind.INTEGER: isinstance(ctype, (sa.Float, sa.Numeric, sa.Integer)),
        Kind.BOOLEAN: isinstance(ctype, (sa.Boolean, sa.Integer)),
    }[kind]
    if not ok:
        hint = " Warehouse timestamps must be typed (timestamp/datetime), not text;" if kind == Kind.TIMESTAMP else ""
        raise SourceError(
            f"{qualified}.{column.name} in {shown} has type {ctype}, but {f.name} is a {kind.value}.{hint}",
            fix=f"Map {f.name} to a column of that type, or point the table at a view that casts it "
            f"(e.g. CAST({column.name} AS {_sql_type(kind)})).",
        )
    if kind == Kind.TIMESTAMP and getattr(ctype, "timezone", False) and dialect == "postgresql":
        return sa.func.timezone("UTC", column, type_=sa.DateTime())
    if kind == Kind.DATE and isinstance(ctype, sa.DateTime):
        return sa.cast(column, sa.Date) if dialect != "sqlite" else sa.type_coerce(sa.func.date(column), sa.Date)
    if kind == Kind.NUMBER and not isinstance(ctype, sa.Float):
        return sa.cast(column, sa.Float)
    if kind == Kind.INTEGER and not isinstance(ctype, sa.Integer):
        return sa.cast(column, sa.BigInteger)
    if kind == Kind.BOOLEAN and isinstance(ctype, sa.Integer):
        return sa.case((column == 1, sa.true()), (column == 0, sa.false()), else_=sa.null()).cast(sa.Boolean)
    return column


def _sql_type(kind: Kind) -> str:
    return {Kind.TIMESTAMP: "TIMESTAMP", Kind.DATE: "DATE", Kind.NUMBER: "DOUBLE PRECISION"}.get(kind, kind.value)


def _rules(
    contract: Table, exprs: dict[str, ColumnElement], table: sa.Table, columns: dict[str, str], dialect: str
) -> tuple[list[tuple[ColumnElement[bool], str]], dict[str, ColumnElement], dict[str, ColumnElement]]:
    """The file loader's rules (queries.sources.validation.apply_rules) in SQL: the row checks as (never-null
    condition, reason) in its order of precedence; the fields with each optional one NULL where quarantined; and
    per optional field the reason it is quarantined for, or NULL."""
    raw = {f: table.c[c] for f, c in columns.items()}
    own = {f.name: _field_checks(f, exprs[f.name], raw[f.name], dialect) for f in contract.fields if f.name in exprs}
    required = [f.name for f in contract.fields if f.required and f.name in exprs]
    row = [(_missing(contract.field(f), raw[f]), f"missing {f}") for f in required]
    row += sorted((c for f in required for c in own[f]), key=lambda c: not c[1].startswith("unparseable"))
    cleaned = dict(exprs)
    reasons = {f: list(own[f]) for f in own if f not in required}
    for f, checks in reasons.items():
        if checks:
            cleaned[f] = sa.type_coerce(
                sa.case((sa.or_(*[c for c, _ in checks]), sa.null()), else_=exprs[f]), exprs[f].type
            )
    for name, later, earlier, why in ORDER_RULES:  # each against the values the rules before left
        if name == contract.name and later in exprs and earlier in exprs:
            a, b = cleaned[later], cleaned[earlier]
            broken = a.is_not(None) & b.is_not(None) & (a < b)
            if later in required:
                row.append((broken, why))
                continue
            reasons[later].append((broken, why))
            cleaned[later] = sa.type_coerce(sa.case((broken, sa.null()), else_=a), a.type)
    quarantine = {
        f: sa.case(*[(c, sa.literal(r)) for c, r in checks], else_=sa.null()) for f, checks in reasons.items() if checks
    }
    return row, cleaned, quarantine


def _missing(f: Field, raw: sa.Column) -> ColumnElement[bool]:
    missing = raw.is_(None)
    return missing | (sa.func.trim(raw) == "") if f.kind == Kind.STRING else missing


def _field_checks(
    f: Field, value: ColumnElement, raw: sa.Column, dialect: str
) -> list[tuple[ColumnElement[bool], str]]:
    """One field's own rules as (never-null condition, reason), in the file loader's order: unparseable, unknown
    value, out of range."""
    checks: list[tuple[ColumnElement[bool], str]] = []
    given = raw.is_not(None)
    if f.kind == Kind.NUMBER:  # NaN and ±infinity are unparseable, as in files (PostgreSQL sorts NaN above all)
        checks.append((given & ((value > _MAX_FLOAT) | (value < -_MAX_FLOAT)), f"unparseable {f.name}"))
    elif f.kind == Kind.INTEGER and not isinstance(raw.type, sa.Integer):
        checks.append((given & (raw != sa.cast(raw, sa.BigInteger)), f"unparseable {f.name}"))
    elif f.kind == Kind.BOOLEAN and isinstance(raw.type, sa.Integer):
        checks.append((given & raw.not_in([0, 1]), f"unparseable {f.name}"))
    elif f.kind in (Kind.TIMESTAMP, Kind.DATE) and dialect == "sqlite":  # text underneath: must be a date
        checks.append((given & sa.func.julianday(raw).is_(None), f"unparseable {f.name}"))
    present = value.is_not(None)
    if f.values:
        checks.append((present & value.not_in(f.values), f"unknown {f.name} value"))
    if f.min_value is not None:
        checks.append((present & (value < f.min_value), f"{f.name} out of range"))
    if f.max_value is not None:
        checks.append((present & (value > f.max_value), f"{f.name} out of range"))
    if f.kind in (Kind.TIMESTAMP, Kind.DATE):
        low, high = TIME_RANGE if f.kind == Kind.TIMESTAMP else (t.date() for t in TIME_RANGE)
        checks.append((present & ((value <= low) | (value >= high)), f"{f.name} out of range"))
    return checks


def _report(
    engine: sa.Engine, shown: str, wt: WarehouseTable, spec: TableMapping
) -> tuple[WarehouseTable, TableReport]:
    """Rows counted by reason (first failing rule, then duplicated keys) and quarantined fields by field and
    reason, with a few example rows each, missing fields and freshness, in SQL; and the table with duplicated keys
    excluded from its valid rows."""
    contract = TABLES[wt.name]
    reason = wt.reason
    qualified = ".".join(p for p in (wt.table.schema, wt.table.name) if p)
    main = next(f.name for f in contract.fields if f.kind in (Kind.TIMESTAMP, Kind.DATE))
    with engine.connect() as conn:
        counts = dict(conn.execute(sa.select(reason, sa.func.count()).group_by(reason)).all())
        valid = counts.pop(None, 0)
        rejections = [Rejection(r, n, _examples(conn, wt, reason == r, r, qualified)) for r, n in counts.items()]
        duplicated = _duplicated_rows(conn, wt)
        if duplicated:
            label = f"duplicate {', '.join(k for k in contract.unique_key if k in wt.columns)}"
            rejections.append(Rejection(label, duplicated, _examples(conn, wt, _duplicated(wt), label, qualified)))
            wt = _without_duplicates(wt)
            valid -= duplicated
        cutoff = future_cutoff()
        dated = dated_fields(contract, wt.columns)
        ahead = sa.or_(*[wt.columns[f] > cutoff for f in dated]) if dated else sa.false()
        current = wt.columns[main] <= cutoff if contract.field(main).kind == Kind.TIMESTAMP else sa.true()
        latest = conn.execute(sa.select(sa.func.max(wt.columns[main])).where(wt.valid, current)).scalar()
        in_future = conn.execute(sa.select(sa.func.count()).select_from(wt.table).where(wt.valid, ahead)).scalar()
        quarantined, unknown = _quarantined(conn, wt, qualified)
    report = TableReport(
        table=wt.name,
        location=f"{shown} table {qualified}",
        rows_read=valid + sum(r.rows for r in rejections),
        rows_loaded=valid,
        rows_superseded=0,
        rejections=tuple(sorted(rejections, key=lambda r: (-r.rows, r.reason))),
        missing_fields=tuple(f.name for f in contract.fields if f.name not in wt.columns),
        ignored_columns=tuple(
            c.name
            for c in wt.table.columns
            if c.name not in wt.raw.values()
            and c.name.lower() not in TIME_UNKNOWN.values()
            and c.name not in spec.dimensions.values()
        ),
        latest=latest,
        rows_in_future=in_future or 0,
        quarantined=quarantined,
        unknown_values=unknown,
        taken_by_name=tuple((f, c) for f, c in wt.raw.items() if f not in spec.columns),
        dimensions=tuple(spec.dimensions),
    )
    return wt, report


def _quarantined(
    conn: sa.Connection, wt: WarehouseTable, qualified: str
) -> tuple[tuple[Quarantine, ...], tuple[UnknownValues, ...]]:
    """Valid rows' quarantined fields counted by field and reason (one scan), with examples, and the unknown values
    of fields with fixed values (most rows first)."""
    if not wt.quarantine:
        return (), ()
    names = list(wt.quarantine)
    query = sa.select(*(wt.quarantine[n].label(f"q{i}") for i, n in enumerate(names)), sa.func.count())
    combos = conn.execute(
        query.where(wt.valid).group_by(*(sa.literal_column(f"q{i}") for i in range(len(names))))
    ).all()
    counts: dict[tuple[str, str], int] = {}
    for *reasons, rows in combos:
        for name, why in zip(names, reasons, strict=True):
            if why is not None:
                counts[(name, why)] = counts.get((name, why), 0) + rows
    contract = TABLES[wt.name]
    quarantined = tuple(
        Quarantine(name, why, rows, _examples(conn, wt, wt.valid & (wt.quarantine[name] == why), why, qualified, name))
        for (name, why), rows in sorted(
            counts.items(), key=lambda kv: (-kv[1], contract.names.index(kv[0][0]), kv[0][1])
        )
    )
    unknown = []
    for name in names:
        if (name, f"unknown {name} value") not in counts:
            continue
        value = wt.table.c[wt.raw[name]]
        where = wt.valid & (wt.quarantine[name] == f"unknown {name} value")
        query = sa.select(value, sa.func.count()).where(where).group_by(value).order_by(sa.func.count().desc(), value)
        values = tuple((str(v), n) for v, n in conn.execute(query.limit(MAX_UNKNOWN_VALUES)).all())
        unknown.append(UnknownValues(name, contract.field(name).values or (), values))
    return quarantined, tuple(unknown)


def _examples(
    conn: sa.Connection,
    wt: WarehouseTable,
    where: ColumnElement[bool],
    reason: str,
    qualified: str,
    about: str | None = None,
) -> tuple[str, ...]:
    """Up to EXAMPLES_PER_REASON rows as `table: key=…, field=…` (the key, the field `about` and those involved)."""
    contract = TABLES[wt.name]
    ordered = {why: (later, earlier) for name, later, earlier, why in ORDER_RULES if name == wt.name}
    involved = (*([about] if about else []), *ordered.get(reason, tuple(w.rstrip(",") for w in reason.split())))
    key = [contract.unique_key[0]] if contract.unique_key and contract.unique_key[0] in wt.raw else []
    names = [n for n in dict.fromkeys([*key, *involved]) if n in wt.raw]
    if not names:
        return ()
    query = sa.select(*[wt.table.c[wt.raw[n]] for n in names]).where(where).limit(EXAMPLES_PER_REASON)
    rows = conn.execute(query).all()
    return tuple(
        f"{qualified}: " + ", ".join(f"{n}={None if v is None else str(v)!r}" for n, v in zip(names, row, strict=True))
        for row in rows
    )


def _key(wt: WarehouseTable) -> list[ColumnElement]:
    return [wt.columns[k] for k in TABLES[wt.name].unique_key if k in wt.columns]


def _duplicated_rows(conn: sa.Connection, wt: WarehouseTable) -> int:
    """Otherwise valid rows whose unique key appears more than once; 0 when a constraint guarantees none."""
    key = _key(wt)
    if not key or _key_is_enforced(wt):
        return 0
    groups = sa.select(sa.func.count().label("n")).where(wt.valid).group_by(*key).having(sa.func.count() > 1)
    return int(conn.execute(sa.select(sa.func.coalesce(sa.func.sum(groups.subquery().c.n), 0))).scalar())


def _key_is_enforced(wt: WarehouseTable) -> bool:
    """True when a primary key or unique constraint on exactly the key columns makes duplicates impossible."""
    names = {wt.raw[k] for k in TABLES[wt.name].unique_key if k in wt.raw}
    if set(c.name for c in wt.table.primary_key.columns) == names:
        return True
    return any(
        isinstance(c, sa.UniqueConstraint) and {col.name for col in c.columns} == names for c in wt.table.constraints
    )


def _duplicated(wt: WarehouseTable) -> ColumnElement[bool]:
    """True for rows whose unique key appears on more than one otherwise valid row."""
    key = _key(wt)
    groups = sa.select(*key).where(wt.valid).group_by(*key).having(sa.func.count() > 1)
    return (key[0] if len(key) == 1 else sa.tuple_(*key)).in_(groups)


def _without_duplicates(wt: WarehouseTable) -> WarehouseTable:
    """The table with every row of a duplicated key left out of its valid rows (as the file loader rejects them)."""
    return replace(wt, valid=wt.valid & sa.not_(_duplicated(wt)))
