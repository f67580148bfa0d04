"""Warehouse sources: contract tables read in place from any SQLAlchemy database, validated in SQL.

The mapping file that maps extracts also maps warehouse tables: `[TABLE] table = "schema.name"` names the
table (default: the contract name), `[TABLE.columns]` renames columns and `[TABLE.values.FIELD]` recodes
values (as a SQL CASE). Every row rule of the file loader is one SQL predicate per table (`valid`); rejected
rows are counted by reason when connecting and every metric query reads only valid rows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from queries.contract import FUTURE_TOLERANCE, ORDER_RULES, TABLES, TIME_RANGE, Field, Kind, Table
from queries.errors import SourceError
from queries.sources.mapping import TableMapping, load_mapping
from queries.sources.validation import EXAMPLES_PER_REASON, Rejection, TableReport, dated_fields

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
    columns: dict[str, ColumnElement]  # contract field -> expression in contract type (mapped fields only)
    valid: ColumnElement[bool]

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

    def latest_timestamp(self) -> dt.datetime | None:
        """The latest created_at, first_action_at or closed_at of valid tickets that is not in the future (the
        data's "now")."""
        wt = self.tables["tickets"]
        names = [n for n in ("created_at", "first_action_at", "closed_at") if n in wt.columns]
        cutoff = future_cutoff()
        newest = [sa.func.max(sa.case((wt.columns[n] <= cutoff, wt.columns[n]), else_=sa.null())) for n in names]
        [row] = self.execute(sa.select(*newest).where(wt.valid))
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
            tables[name], reports[name] = _report(engine, shown, wt)
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
    table = sa.Table(name, sa.MetaData(), schema=schema or None, autoload_with=engine)
    columns = _resolve(shown, qualified, contract, table, spec)
    dialect = engine.dialect.name
    exprs = {f: _typed(shown, qualified, contract.field(f), table.c[c], spec, dialect) for f, c in columns.items()}
    rules = _checks(contract, exprs, table, columns, dialect)
    valid = sa.and_(sa.true(), *[sa.not_(condition) for condition, _ in rules])
    return WarehouseTable(contract.name, table, columns, exprs, valid)


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


def _checks(
    contract: Table, exprs: dict[str, ColumnElement], table: sa.Table, columns: dict[str, str], dialect: str
) -> list[tuple[ColumnElement[bool], str]]:
    """The file loader's row rules as (never-null condition, reason), in its order of precedence."""
    raw = {f: table.c[c] for f, c in columns.items()}
    checks: list[tuple[ColumnElement[bool], str]] = []
    for f in contract.fields:
        if f.name in exprs and f.required:
            missing = raw[f.name].is_(None)
            if f.kind == Kind.STRING:
                missing = missing | (sa.func.trim(raw[f.name]) == "")
            checks.append((missing, f"missing {f.name}"))
    for f in contract.fields:
        if f.name not in exprs or f.kind == Kind.STRING:
            continue
        value, present = exprs[f.name], raw[f.name].is_not(None)
        if f.kind == Kind.NUMBER:  # NaN and ±infinity are unparseable, as in files (PostgreSQL sorts NaN above all)
            checks.append((present & ((value > _MAX_FLOAT) | (value < -_MAX_FLOAT)), f"unparseable {f.name}"))
        elif f.kind == Kind.INTEGER and not isinstance(raw[f.name].type, sa.Integer):
            checks.append((present & (raw[f.name] != sa.cast(raw[f.name], sa.BigInteger)), f"unparseable {f.name}"))
        elif f.kind == Kind.BOOLEAN and isinstance(raw[f.name].type, sa.Integer):
            checks.append((present & raw[f.name].not_in([0, 1]), f"unparseable {f.name}"))
        elif f.kind in (Kind.TIMESTAMP, Kind.DATE) and dialect == "sqlite":  # text underneath: must be a date
            checks.append((present & sa.func.julianday(raw[f.name]).is_(None), f"unparseable {f.name}"))
    for f in contract.fields:
        if f.name not in exprs:
            continue
        value, present = exprs[f.name], exprs[f.name].is_not(None)
        if f.values:
            checks.append((present & value.not_in(f.values), f"unknown {f.name} value"))
        if f.min_value is not None:
            checks.append((present & (value < f.min_value), f"{f.name} out of range"))
        if f.max_value is not None:
            checks.append((present & (value > f.max_value), f"{f.name} out of range"))
        if f.kind in (Kind.TIMESTAMP, Kind.DATE):
            low, high = TIME_RANGE if f.kind == Kind.TIMESTAMP else (t.date() for t in TIME_RANGE)
            checks.append((present & ((value <= low) | (value >= high)), f"{f.name} out of range"))
    for name, later, earlier, why in ORDER_RULES:
        if name == contract.name and later in exprs and earlier in exprs:
            a, b = exprs[later], exprs[earlier]
            checks.append((a.is_not(None) & b.is_not(None) & (a < b), why))
    return checks


def _reason(wt: WarehouseTable, dialect: str) -> ColumnElement:
    """The first rule a row breaks, as text; NULL for a valid row."""
    checks = _checks(TABLES[wt.name], wt.columns, wt.table, wt.raw, dialect)
    if not checks:
        return sa.cast(sa.null(), sa.String)
    return sa.case(*[(condition, sa.literal(reason)) for condition, reason in checks], else_=sa.null())


def _report(engine: sa.Engine, shown: str, wt: WarehouseTable) -> tuple[WarehouseTable, TableReport]:
    """Rows counted by reason (first failing rule, then duplicated keys), with a few example rows per reason,
    missing fields and freshness, in SQL; and the table with duplicated keys excluded from its valid rows."""
    contract = TABLES[wt.name]
    reason = _reason(wt, engine.dialect.name)
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
    report = TableReport(
        table=wt.name,
        location=f"{shown} table {qualified}",
        rows_read=valid + sum(r.rows for r in rejections),
        rows_loaded=valid,
        rows_superseded=0,
        rejections=tuple(sorted(rejections, key=lambda r: (-r.rows, r.reason))),
        missing_fields=tuple(f.name for f in contract.fields if f.name not in wt.columns),
        ignored_columns=tuple(c.name for c in wt.table.columns if c.name not in wt.raw.values()),
        latest=latest,
        rows_in_future=in_future or 0,
    )
    return wt, report


def _examples(
    conn: sa.Connection, wt: WarehouseTable, where: ColumnElement[bool], reason: str, qualified: str
) -> tuple[str, ...]:
    """Up to EXAMPLES_PER_REASON rejected rows as `table: key=…, field=…` (the key and the fields involved)."""
    contract = TABLES[wt.name]
    ordered = {why: (later, earlier) for name, later, earlier, why in ORDER_RULES if name == wt.name}
    involved = ordered.get(reason, tuple(w.rstrip(",") for w in reason.split()))
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
    return WarehouseTable(wt.name, wt.table, wt.raw, wt.columns, wt.valid & sa.not_(_duplicated(wt)))
