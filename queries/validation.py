"""Reading one table: scan lazily, map columns, parse, and reject invalid rows with a counted reason."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from queries.contract import ORDER_RULES, TABLES, Field, Kind, Table
from queries.errors import SourceError
from queries.mapping import TableMapping
from queries.sources import TableFiles

EXAMPLES_PER_REASON = 3
_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")
_ISO_DATETIME = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M")
_ISO_DATETIME_OFFSET = tuple(f + "%#z" for f in _ISO_DATETIME)  # Z, +02, +02:00, +0200
_FILE, _LINE, _ORDER, _REASON = "_file", "_line", "_order", "_reason"


@dataclass(frozen=True)
class Rejection:
    """Rows rejected for one reason, with a few examples that point at the file and row."""

    reason: str
    rows: int
    examples: tuple[str, ...]


@dataclass(frozen=True)
class TableReport:
    """What happened when one table was read."""

    table: str
    location: str
    rows_read: int
    rows_loaded: int
    rows_superseded: int  # older snapshot rows dropped by dedupe_by (not errors)
    rejections: tuple[Rejection, ...]
    missing_fields: tuple[str, ...]  # optional contract fields the source does not have
    ignored_columns: tuple[str, ...]  # source columns that map to no field
    latest: dt.datetime | dt.date | None  # freshness: newest value of the table's main time field

    @property
    def rows_rejected(self) -> int:
        return sum(r.rows for r in self.rejections)

    def provides(self, *fields: str) -> bool:
        """True when rows were loaded and the source provided every named field."""
        return self.rows_loaded > 0 and not set(fields) & set(self.missing_fields)


def read_table(files: TableFiles, spec: TableMapping) -> tuple[pl.DataFrame, TableReport]:
    """Load one table: the valid rows in contract schema, and the report of what was rejected."""
    table = TABLES[files.table]
    lf = scan_files(files, spec)
    schema = table_schema(lf, files)
    columns = resolve_columns(table, schema, spec, files)
    raw_names = {f: f"_raw.{f}" for f in columns}
    parsed: dict[str, pl.Expr] = {}
    for name, source_col in columns.items():
        parsed[name] = parse_field(table.field(name), pl.col(source_col), schema[source_col], spec, files)
    staged = lf.select(
        pl.col(_FILE),
        (pl.int_range(pl.len()).over(_FILE) + 1).alias(_LINE),
        pl.int_range(pl.len()).alias(_ORDER),
        *[as_text(pl.col(src), schema[src]).alias(raw_names[f]) for f, src in columns.items()],
        *[expr.alias(f) for f, expr in parsed.items()],
    )
    staged = staged.with_columns(reason_expr(table, columns, raw_names).alias(_REASON))
    try:
        frame = staged.collect()
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise _read_error(files, exc) from None

    frame, superseded = _check_keys(table, frame, spec)
    rejected = frame.filter(pl.col(_REASON).is_not_null())
    valid = frame.filter(pl.col(_REASON).is_null())
    missing = tuple(f.name for f in table.fields if f.name not in columns)
    clean = valid.select(
        [pl.col(f.name) if f.name in columns else pl.lit(None, f.kind.dtype).alias(f.name) for f in table.fields]
    )
    report = TableReport(
        table=table.name,
        location=files.label,
        rows_read=frame.height + superseded,
        rows_loaded=clean.height,
        rows_superseded=superseded,
        rejections=_rejections(table, rejected, raw_names),
        missing_fields=missing,
        ignored_columns=tuple(c for c in schema if c not in columns.values() and not c.startswith("_")),
        latest=_latest(table, clean),
    )
    return clean, report


def scan_files(files: TableFiles, spec: TableMapping) -> pl.LazyFrame:
    """A lazy scan of the table's files as they are (CSV as text), with the file name in `_file`."""
    paths = [str(p) for p in files.paths]
    for path in files.paths:
        if path.stat().st_size == 0:
            raise SourceError(
                f"{path} ({files.table}) is an empty file.", fix="Re-export the table; it has no header and no rows."
            )
    try:
        if files.format == "csv":
            return pl.scan_csv(
                paths,
                infer_schema=False,
                separator=spec.separator,
                encoding=spec.encoding,
                null_values=list(spec.null_values) or None,
                include_file_paths=_FILE,
            )
        return pl.scan_parquet(paths, hive_partitioning=files.hive, include_file_paths=_FILE)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise _read_error(files, exc) from None


def table_schema(lf: pl.LazyFrame, files: TableFiles) -> pl.Schema:
    """The scan's columns and types; SourceError naming the files when they cannot be read."""
    try:
        return lf.collect_schema()
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise _read_error(files, exc) from None


def _read_error(files: TableFiles, exc: Exception) -> SourceError:
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    kind = "CSV (UTF-8)" if files.format == "csv" else "Parquet"
    return SourceError(
        f"Could not read {files.label} ({files.table}) as {kind}: {detail}.",
        fix="Check that the file is complete and really is "
        + (
            'a UTF-8 CSV with one header row (set encoding = "utf8-lossy" or separator in the mapping if needed).'
            if files.format == "csv"
            else "a Parquet file (re-export it if it was cut off)."
        ),
    )


def resolve_columns(table: Table, schema: pl.Schema, spec: TableMapping, files: TableFiles) -> dict[str, str]:
    """Contract field -> source column, from the mapping or from matching names."""
    by_lower = {c.strip().lower(): c for c in schema}
    columns: dict[str, str] = {}
    for f in table.fields:
        if f.name in spec.columns:
            source_col = spec.columns[f.name]
            if source_col not in schema:
                raise SourceError(
                    f"The mapping says {table.name}.{f.name} = {source_col!r}, but {files.label} has no column "
                    f"{source_col!r}. Columns found: {_column_list(schema)}.",
                    fix=f"Correct [{table.name}.columns] {f.name} in the mapping file.",
                )
            columns[f.name] = source_col
        elif f.name in schema:
            columns[f.name] = f.name
        elif f.name.lower() in by_lower:
            columns[f.name] = by_lower[f.name.lower()]
    absent = [name for name in table.required if name not in columns]
    if absent:
        names = " and ".join(repr(n) for n in absent)
        lines = " ".join(f'{n} = "<your column>"' for n in absent)
        raise SourceError(
            f"{files.label} ({table.name}) has no column for the required field{'s' if len(absent) > 1 else ''} "
            f"{names}. Columns found: {_column_list(schema)}.",
            fix=f"Rename the column{'s' if len(absent) > 1 else ''}, or map in a mapping file: "
            f"[{table.name}.columns] {lines}.",
        )
    return columns


def _column_list(schema: pl.Schema) -> str:
    names = [c for c in schema if not c.startswith("_")]
    return ", ".join(names[:30]) + (" …" if len(names) > 30 else "")


def is_text(dtype: pl.DataType) -> bool:
    """True for string-like source columns (String, Categorical, Enum)."""
    return dtype == pl.String or isinstance(dtype, (pl.Categorical, pl.Enum))


def as_text(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """Trimmed text; empty becomes null. Integral floats print without ".0" so ids stay joinable."""
    if dtype.is_float():
        expr = (
            pl.when(expr.is_finite() & (expr == expr.floor()) & (expr.abs() < 2.0**63))
            .then(expr.cast(pl.Int64, strict=False).cast(pl.String))
            .otherwise(expr.cast(pl.String))
        )
    text = expr if dtype == pl.String else expr.cast(pl.String)
    text = text.str.strip_chars()
    return pl.when(text == "").then(None).otherwise(text)


def parse_field(field: Field, col: pl.Expr, dtype: pl.DataType, spec: TableMapping, files: TableFiles) -> pl.Expr:
    """An expression giving the field in its contract dtype; null where the value cannot be read."""
    if dtype == pl.Null:  # an all-empty column, as exporters write it
        return col.cast(field.kind.dtype)
    if field.kind == Kind.STRING:
        text = as_text(col, dtype)
        return text.replace(spec.values[field.name]) if field.name in spec.values else text
    if is_text(dtype):
        text = as_text(col, dtype)
        if field.kind == Kind.TIMESTAMP:
            return _parse_datetime(text, spec.datetime_format)
        if field.kind == Kind.DATE:
            if spec.date_format:
                return text.str.to_date(spec.date_format, strict=False)
            return _parse_datetime(text, None).dt.date()
        if field.kind == Kind.BOOLEAN:
            low = text.str.to_lowercase()
            return pl.when(low.is_in(_TRUE)).then(True).when(low.is_in(_FALSE)).then(False).otherwise(None)
        return _number(text.cast(pl.Float64, strict=False), field.kind)
    return _convert_typed(field, col, dtype, files)


def _parse_datetime(text: pl.Expr, fmt: str | None) -> pl.Expr:
    """UTC naive datetimes from text: ISO 8601 by default (offsets converted), or one explicit format."""
    if fmt:
        aware = any(z in fmt for z in ("%z", "%:z", "%#z"))
        parsed = text.str.to_datetime(fmt, strict=False, time_unit="us", time_zone="UTC" if aware else None)
        return parsed.dt.replace_time_zone(None) if aware else parsed
    iso = text.str.replace(" ", "T", literal=True, n=1)
    return pl.coalesce(
        *[
            iso.str.to_datetime(f, strict=False, time_unit="us", time_zone="UTC").dt.replace_time_zone(None)
            for f in _ISO_DATETIME_OFFSET
        ],
        *[iso.str.to_datetime(f, strict=False, time_unit="us") for f in _ISO_DATETIME],
        iso.str.to_date("%Y-%m-%d", strict=False).cast(pl.Datetime("us")),
    )


def _number(value: pl.Expr, kind: Kind) -> pl.Expr:
    """Finite numbers only (NaN and infinities are unparseable); integers must be whole and fit Int64."""
    finite = value.is_finite().fill_null(False)
    if kind == Kind.INTEGER:
        whole = finite & (value == value.floor()) & (value.abs() < 2.0**63)
        return pl.when(whole).then(value).otherwise(None).cast(pl.Int64, strict=False)
    return pl.when(finite).then(value).otherwise(None)


def _convert_typed(field: Field, col: pl.Expr, dtype: pl.DataType, files: TableFiles) -> pl.Expr:
    """Typed (Parquet) columns: convert compatible types, refuse the rest with a clear message."""
    kind = field.kind
    if kind == Kind.TIMESTAMP and isinstance(dtype, pl.Datetime):
        utc = col.dt.convert_time_zone("UTC").dt.replace_time_zone(None) if dtype.time_zone else col
        return utc.cast(pl.Datetime("us"))
    if kind == Kind.TIMESTAMP and dtype == pl.Date:
        return col.cast(pl.Datetime("us"))
    if kind == Kind.DATE and isinstance(dtype, pl.Datetime):
        return (col.dt.convert_time_zone("UTC") if dtype.time_zone else col).dt.date()
    if kind == Kind.DATE and dtype == pl.Date:
        return col
    if kind in (Kind.NUMBER, Kind.INTEGER) and dtype.is_numeric():
        return _number(col.cast(pl.Float64), kind) if dtype.is_float() or kind == Kind.NUMBER else col.cast(pl.Int64)
    if kind == Kind.BOOLEAN and dtype == pl.Boolean:
        return col
    if kind == Kind.BOOLEAN and dtype.is_numeric():  # 0/1 as exported by pandas and databases
        return pl.when(col == 1).then(True).when(col == 0).then(False).otherwise(None)
    raise SourceError(
        f"Column for {files.table}.{field.name} in {files.label} has type {dtype}, but the field is a {kind.value}.",
        fix=f"Export {field.name} as a {kind.value} (or as ISO 8601 text for timestamps and dates).",
    )


def reason_expr(table: Table, columns: dict[str, str], raw: dict[str, str]) -> pl.Expr:
    """The first rule a row breaks, as text; null for a valid row."""
    checks: list[tuple[pl.Expr, str]] = []
    for f in table.fields:
        if f.name in columns and f.required:
            checks.append((pl.col(raw[f.name]).is_null(), f"missing {f.name}"))
    for f in table.fields:
        if f.name in columns and f.kind != Kind.STRING:
            checks.append((pl.col(raw[f.name]).is_not_null() & pl.col(f.name).is_null(), f"unparseable {f.name}"))
    for f in table.fields:
        if f.name in columns and f.values:
            checks.append((pl.col(f.name).is_not_null() & ~pl.col(f.name).is_in(f.values), f"unknown {f.name} value"))
        if f.name in columns and f.min_value is not None:
            checks.append((pl.col(f.name) < f.min_value, f"{f.name} out of range"))
        if f.name in columns and f.max_value is not None:
            checks.append((pl.col(f.name) > f.max_value, f"{f.name} out of range"))
    for name, later, earlier, why in ORDER_RULES:
        if name == table.name and later in columns and earlier in columns:
            checks.append((pl.col(later) < pl.col(earlier), why))
    reason: pl.Expr | pl.When | pl.Then = pl
    for condition, text in checks:
        reason = reason.when(condition.fill_null(False)).then(pl.lit(text))
    return pl.lit(None, pl.String) if not checks else reason.otherwise(pl.lit(None, pl.String))


def _check_keys(table: Table, frame: pl.DataFrame, spec: TableMapping) -> tuple[pl.DataFrame, int]:
    """Apply dedupe_by (keep the last valid row per key) or reject every row of a duplicated key.

    Key columns the source does not have (optional ones) are left out of the key.
    """
    key = [k for k in table.unique_key if k in frame.columns]
    if not key:
        return frame, 0
    valid = pl.col(_REASON).is_null()
    if spec.dedupe_by:
        if spec.dedupe_by not in frame.columns:
            raise SourceError(
                f"dedupe_by = {spec.dedupe_by!r} for {table.name}, but the source has no such column.",
                fix=f"Map {spec.dedupe_by} under [{table.name}.columns], or remove dedupe_by.",
            )
        # Rank valid rows only: an invalid newer snapshot is rejected and the latest valid one is kept.
        ranked = frame.filter(valid).with_columns(
            pl.struct(spec.dedupe_by, _ORDER).rank("ordinal", descending=True).over(key).alias("_rank")
        )
        kept = pl.concat([ranked.filter(pl.col("_rank") == 1).drop("_rank"), frame.filter(~valid)]).sort(_ORDER)
        return kept, frame.height - kept.height
    duplicated = valid & (pl.len().over(pl.when(valid).then(pl.struct(key))) > 1)
    label = f"duplicate {', '.join(key)}"
    return frame.with_columns(pl.when(duplicated).then(pl.lit(label)).otherwise(pl.col(_REASON)).alias(_REASON)), 0


def _rejections(table: Table, rejected: pl.DataFrame, raw: dict[str, str]) -> tuple[Rejection, ...]:
    if rejected.is_empty():
        return ()
    counts = rejected.group_by(_REASON).agg(pl.len().alias("rows"), pl.col(_ORDER).min().alias("first"))
    out = []
    for reason, rows, _ in counts.sort(["rows", "first"], descending=[True, False]).iter_rows():
        sample = rejected.filter(pl.col(_REASON) == reason).sort(_ORDER).head(EXAMPLES_PER_REASON)
        out.append(
            Rejection(reason, rows, tuple(_example(table, reason, row, raw) for row in sample.iter_rows(named=True)))
        )
    return tuple(out)


def _example(table: Table, reason: str, row: dict, raw: dict[str, str]) -> str:
    ordered = {why: (later, earlier) for name, later, earlier, why in ORDER_RULES if name == table.name}
    involved = ordered.get(reason, tuple(f.name for f in table.fields if f.name in reason.split()))
    fields = [f for f in table.fields if f.name in raw and f.name in involved]
    key = table.unique_key[0] if table.unique_key and table.unique_key[0] in raw else None
    parts = [f"{key}={row[raw[key]]!r}"] if key else []
    parts += [f"{f.name}={row[raw[f.name]]!r}" for f in fields if f.name != key]
    return f"{row[_FILE]} row {row[_LINE]}: " + ", ".join(parts)


def _latest(table: Table, clean: pl.DataFrame) -> dt.datetime | dt.date | None:
    main = next(f.name for f in table.fields if f.kind in (Kind.TIMESTAMP, Kind.DATE))
    return clean.get_column(main).max() if clean.height else None
