"""Loading extracts into a database as contract tables (`python -m queries load-warehouse`).

Reads the extracts with the file loader (valid rows only), creates one table per contract table with proper
types, a primary key on the unique key, and indexes on the timestamps and filter dimensions, then loads the
rows in batches: COPY on PostgreSQL, executemany in one transaction elsewhere. Source files are only read.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import sqlalchemy as sa

from queries.contract import TABLES, TIME_UNKNOWN, Table
from queries.errors import SourceError
from queries.filters import DIMENSIONS
from queries.sources.dataset import load_dataset
from queries.sources.warehouse import SQL_TYPES, database_error, mask_password

BATCH_ROWS = 50_000
INDEXED = ("created_at", "first_action_at", "closed_at", "reviewed_at", "date", "ticket_id", *DIMENSIONS)


def load_warehouse(
    source: str | Path, url: str, mapping_file: str | Path | None = None, *, replace: bool = False
) -> dict[str, int]:
    """Load every table of the source into the database at `url`; returns rows loaded per table.

    A table that already exists and holds rows is an error unless `replace` is true (then it is dropped).
    """
    ds = load_dataset(source, mapping_file)
    shown = mask_password(url)
    try:
        engine = sa.create_engine(url)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
        raise SourceError(f"Cannot use the database URL {shown}: {exc}.", fix="Check the URL and its driver.") from None
    loaded: dict[str, int] = {}
    try:
        inspector = sa.inspect(engine)
        for name in ds.tables:
            if inspector.has_table(name) and not replace:
                with engine.connect() as conn:
                    rows = conn.execute(sa.select(sa.func.count()).select_from(sa.table(name))).scalar()
                if rows:
                    raise SourceError(
                        f"Table {name} in {shown} already holds {rows:,} rows.",
                        fix="Pass --replace to drop and reload it, or load into another database.",
                    )
        for name, frame in ds.tables.items():
            provided = [f for f in TABLES[name].names if f not in ds.reports[name].missing_fields]
            table = contract_table(TABLES[name], provided, sa.MetaData())
            for flag in TIME_UNKNOWN.values():  # tickets acted on or closed at an unknown time (quarantined)
                if flag in frame.columns:
                    table.append_column(sa.Column(flag, sa.Boolean(), nullable=False))
                    provided.append(flag)
            with engine.begin() as conn:
                table.drop(conn, checkfirst=True)
                table.create(conn)
                _insert(conn, table, frame.select(provided))
                for index in indexes(table):  # built after the rows are in: faster than maintained row by row
                    index.create(conn)
                if conn.dialect.name == "postgresql":
                    conn.exec_driver_sql(f"ANALYZE {name}")  # planner statistics now, not at the next autovacuum
            loaded[name] = frame.height
    except sa.exc.SQLAlchemyError as exc:
        raise database_error(shown, exc) from None
    finally:
        engine.dispose()
    return loaded


def contract_table(contract: Table, fields: list[str], metadata: sa.MetaData) -> sa.Table:
    """The SQL table for a contract table with the given fields: types and primary key (or unique key)."""
    key = [k for k in contract.unique_key if k in fields]
    primary = bool(key) and all(contract.field(k).required for k in key)
    columns = [
        sa.Column(
            f,
            SQL_TYPES[contract.field(f).kind](),
            primary_key=primary and f in key,
            nullable=not contract.field(f).required,
        )
        for f in fields
    ]
    # Optional key columns may be empty, which a primary key forbids: a unique constraint instead.
    extras = [sa.UniqueConstraint(*key, name=f"uq_{contract.name}_key")] if key and not primary else []
    return sa.Table(contract.name, metadata, *columns, *extras)


def indexes(table: sa.Table) -> list[sa.Index]:
    """Indexes on the timestamps, dates, ticket ids and filter dimensions (not on a one-column primary key)."""
    primary = {c.name for c in table.primary_key.columns}
    return [
        sa.Index(f"ix_{table.name}_{c.name}", c) for c in table.columns if c.name in INDEXED and {c.name} != primary
    ]


def _insert(conn: sa.Connection, table: sa.Table, frame: pl.DataFrame) -> None:
    if frame.is_empty():
        return
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        _copy(conn, table, frame)
        return
    for batch in frame.iter_slices(BATCH_ROWS):
        conn.execute(table.insert(), batch.to_dicts())


def _copy(conn: sa.Connection, table: sa.Table, frame: pl.DataFrame) -> None:
    """PostgreSQL COPY … FROM STDIN (CSV) through psycopg, batch by batch (an empty unquoted field is NULL)."""
    timestamps = [c for c, dtype in frame.schema.items() if isinstance(dtype, pl.Datetime)]
    names = ", ".join(f'"{c}"' for c in frame.columns)
    cursor = conn.connection.driver_connection.cursor()
    with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN (FORMAT csv)") as copy:  # our own names only
        for batch in frame.iter_slices(BATCH_ROWS):
            text = batch.with_columns(pl.col(timestamps).dt.strftime("%Y-%m-%d %H:%M:%S%.6f")).write_csv(
                include_header=False
            )
            copy.write(text.encode())
    cursor.close()
