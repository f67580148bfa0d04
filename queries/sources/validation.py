"""Reading one table: scan lazily, map columns, parse, and reject invalid rows with a counted reason."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import unquote

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from queries.contract import FUTURE_TOLERANCE, ORDER_RULES, TABLES, TIME_RANGE, Field, Kind, Table
from queries.errors import SourceError
from queries.sources.files import TableFiles, quoted_path, shown_path
from queries.sources.mapping import TableMapping, fold_values

EXAMPLES_PER_REASON = 3
_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")
_ISO_DATETIME = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M")
_ISO_DATETIME_OFFSET = tuple(f + "%#z" for f in _ISO_DATETIME)  # Z, +02, +02:00, +0200
_FILE, _LINE, _ORDER, _REASON, _BLANK = "_file", "_line", "_order", "_reason", "_blank"
CUTOFF = "_cutoff"  # per row: when its file was written plus FUTURE_TOLERANCE; later timestamps are in the future
_HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"


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
    latest: dt.datetime | dt.date | None  # freshness: newest value of the table's main time field, not in the future
    rows_in_future: int = 0  # loaded rows with a timestamp later than their file was written (+ FUTURE_TOLERANCE)
    # Newest timestamp of any field `in_future` checks that is not in the future; for tickets, the data's "now"
    # (queries.metrics.data_as_of): the latest created_at, first_action_at or closed_at.
    as_of: dt.datetime | None = None

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
        (pl.int_range(pl.len()).over(_FILE) + 1).alias(_LINE),  # blank lines count: "row N" is line N + 1
        pl.int_range(pl.len()).alias(_ORDER),
        *[as_text(pl.col(src), schema[src]).alias(raw_names[f]) for f, src in columns.items()],
        *[expr.alias(f) for f, expr in parsed.items()],
        written_cutoff(files).alias(CUTOFF),
        blank_line(files, columns.values()).alias(_BLANK),
    )
    staged = staged.filter(~pl.col(_BLANK)).with_columns(reason_expr(table, columns, raw_names).alias(_REASON))
    try:
        frame = staged.collect()
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise read_error(files, exc) from None

    frame, superseded = _check_keys(table, frame, spec)
    rejected = frame.filter(pl.col(_REASON).is_not_null())
    valid = frame.filter(pl.col(_REASON).is_null())
    current = valid.filter(~in_future(table, columns)).height
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
        latest=_latest(table, valid),
        rows_in_future=valid.height - current,
        as_of=valid.select(newest_current(table, columns)).item(),
    )
    return clean, report


def scan_files(files: TableFiles, spec: TableMapping) -> pl.LazyFrame:
    """A lazy scan of the table's files as they are (CSV as text), with the file name in `_file`."""
    paths = [str(p) for p in files.paths]
    for path in files.paths:
        _refuse_empty(files, path)
    if files.hive:
        _refuse_partition_conflicts(files)
    try:
        if files.format == "csv":
            return pl.scan_csv(
                paths,
                infer_schema=False,
                separator=spec.separator,
                encoding=spec.encoding,
                null_values=list(spec.null_values) or None,
                include_file_paths=_FILE,
                glob=False,
            )
        return pl.scan_parquet(paths, hive_partitioning=files.hive, include_file_paths=_FILE, glob=False)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise read_error(files, exc) from None


def parquet_footer(files: TableFiles, path: Path) -> pq.FileMetaData:
    """One Parquet file's footer (rows, columns); SourceError naming the file when it is empty, cut off or not
    Parquet at all."""
    _refuse_empty(files, path)
    try:
        return pq.read_metadata(path)
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise read_error(replace(files, paths=(path,)), exc) from None


def _refuse_empty(files: TableFiles, path: Path) -> None:
    if path.stat().st_size == 0:
        raise SourceError(
            f"{shown_path(path)} ({files.table}) is an empty file.",
            quote=quoted_path(path),
            fix="Re-export the table; it has no header and no rows.",
        )


def _refuse_partition_conflicts(files: TableFiles) -> None:
    """A folder named key=value sets that column for its files; when a file holds the column too, both must
    agree on every row. Otherwise the folder name would win silently, and scoping users by vendor depends on it.

    Each version of a file (path, modification time, size) is checked once, against its own columns."""
    for path in files.paths:
        if not _partition_values(path):
            continue
        stat = path.stat()
        try:
            clash = _partition_clash(path, stat.st_mtime_ns, stat.st_size)
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise read_error(replace(files, paths=(path,)), exc) from None
        if clash is not None:
            key, named, value = clash
            raise SourceError(
                f"A file of {files.table} lies in a {key}= partition folder, but the file has a {key!r} column with "
                f"other values: {shown_path(path)}. Bellwether will not guess which is right: the folder name "
                "would silently replace the column" + (", and users are scoped by vendor." if key == "vendor" else "."),
                quote=quoted_path(
                    path, f"The folder says {key}={_HIVE_NULL if named is None else named}, the file {value!r}."
                ),
                fix=f"Re-export so that the {key}= folders and the {key!r} column agree, or leave the {key!r} "
                "column out of the files (the folder names then give it).",
            )


@functools.lru_cache(maxsize=1 << 16)
def _partition_clash(path: Path, mtime_ns: int, size: int) -> tuple[str, str | None, object] | None:
    """The first (key, folder value, file value) where one file's own key column disagrees with its key=value
    folders; None when they agree or the file has no such column (one read per version of the file)."""
    folders = _partition_values(path)
    columns = pl.read_parquet_schema(path)
    keys = sorted(folders.keys() & set(columns))
    if not keys:
        return None
    scan = pl.scan_parquet(path, hive_partitioning=False, glob=False).select(keys)
    for key in keys:
        clash = scan.filter(pl.col(key).ne_missing(_as_type(pl.lit(folders[key], pl.String), columns[key])))
        rows = clash.select(key).head(1).collect()
        if rows.height:
            return key, folders[key], rows.item()
    return None


def _partition_values(path: Path) -> dict[str, str | None]:
    """The key=value folder names above a file, as the Parquet reader reads them (null for Hive's default)."""
    values: dict[str, str | None] = {}
    for part in path.parent.parts:
        key, sep, value = part.partition("=")
        if sep and key:
            values[key] = None if value == _HIVE_NULL else unquote(value)
    return values


def _as_type(text: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """A folder's value in the type of the file's column, to compare them (null when it cannot be one)."""
    if dtype == pl.Date:
        return text.str.to_date(strict=False)
    if isinstance(dtype, pl.Datetime):
        return text.str.to_datetime(strict=False, time_unit=dtype.time_unit, time_zone=dtype.time_zone)
    return text if dtype == pl.String else text.cast(dtype, strict=False)


def table_schema(lf: pl.LazyFrame, files: TableFiles) -> pl.Schema:
    """The scan's columns and types; SourceError naming the files when they cannot be read."""
    try:
        return lf.collect_schema()
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise read_error(files, exc) from None


def read_error(files: TableFiles, exc: Exception) -> SourceError:
    """A reader's failure as a SourceError naming the file (the one that cannot be read, when it is one)."""
    if files.format == "parquet" and len(files.paths) > 1:  # name the one file that cannot be read, if it is one
        for path in files.paths:
            try:
                pq.read_metadata(path)
            except (OSError, ValueError, pa.ArrowException) as bad:
                return read_error(replace(files, paths=(path,)), bad)
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    kind = "CSV (UTF-8)" if files.format == "csv" else "Parquet"
    return SourceError(
        f"Could not read {files.label} ({files.table}) as {kind}.",
        quote=files.quote(f"{detail}."),
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
                    quote=files.quote(),
                    fix=f"Correct [{table.name}.columns] {f.name} in the mapping file.",
                )
            columns[f.name] = source_col
        elif f.name in schema:
            columns[f.name] = f.name
        elif f.name.lower() in by_lower:
            columns[f.name] = by_lower[f.name.lower()]
    for name, source_col in columns.items():
        _refuse_nested(table, table.field(name), source_col, schema[source_col], files)
    absent = [name for name in table.required if name not in columns]
    if absent:
        names = " and ".join(repr(n) for n in absent)
        lines = " ".join(f'{n} = "<your column>"' for n in absent)
        raise SourceError(
            f"{files.label} ({table.name}) has no column for the required field{'s' if len(absent) > 1 else ''} "
            f"{names}. Columns found: {_column_list(schema)}.",
            quote=files.quote(),
            fix=f"Rename the column{'s' if len(absent) > 1 else ''}, or map in a mapping file: "
            f"[{table.name}.columns] {lines}.",
        )
    return columns


def _refuse_nested(table: Table, field: Field, column: str, dtype: pl.DataType, files: TableFiles) -> None:
    """A field holds one value per row: a list, array or struct column cannot be one."""
    if dtype.is_nested() or dtype == pl.Object:
        kind = "struct" if isinstance(dtype, pl.Struct) else "list" if dtype.is_nested() else "object"
        raise SourceError(
            f"Column {column!r} for {table.name}.{field.name} in {files.label} holds a {kind} per row ({dtype}), "
            "not one value.",
            quote=files.quote(),
            fix=f"Export {field.name} as one {field.kind.value} per cell (e.g. the first element, or the values "
            f"joined as text), or map [{table.name}.columns] {field.name} to another column.",
        )


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
        return _fixed_value(field, text, spec) if field.values else text
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


def _fixed_value(field: Field, text: pl.Expr, spec: TableMapping) -> pl.Expr:
    """The allowed value a text stands for; other text is kept as it is, to be rejected as unknown.

    Exact matches win: a key of the mapping's [TABLE.values.FIELD], then an allowed value as it is; only then
    folded text (whatever its case, Unicode form or invisible characters) against the folded keys, then against
    the folded allowed values. So `"p1" = "P2"` maps p1 (and P１) but leaves an exact P1 alone."""
    mapped = spec.values.get(field.name, {})
    exact = {v: v for v in field.values or ()} | mapped
    folded = dict(zip(fold_values(list(field.values or ())), field.values or (), strict=True))
    folded |= dict(zip(fold_values(list(mapped)), mapped.values(), strict=True))

    def meaning(column: pl.Series) -> pl.Series:
        # Folded once per distinct value of the whole column, not once per row (or per chunk of rows): normalising
        # every row costs ~5x reading the column.
        distinct = column.unique().drop_nulls()
        by_fold = fold_values(distinct).replace_strict(list(folded), list(folded.values()), default=distinct)
        meant = distinct.replace_strict(list(exact), list(exact.values()), default=by_fold)
        return column.replace_strict(distinct, meant, default=None, return_dtype=pl.String)

    return text.map_batches(meaning, return_dtype=pl.String)


def known_after_folding(field: Field, values: pl.Series) -> bool:
    """True when some of these (distinct) values are not allowed as they are, but are once folded."""
    allowed = list(field.values or ())
    other = values.filter(~values.is_in(allowed))
    return other.len() > 0 and fold_values(other).is_in(fold_values(pl.Series(allowed)).implode()).any()


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
        if dtype.is_float() or kind == Kind.NUMBER:
            return _number(col.cast(pl.Float64), kind)
        return col.cast(pl.Int64, strict=False)  # null (so unparseable) beyond Int64, as for text
    if kind == Kind.BOOLEAN and dtype == pl.Boolean:
        return col
    if kind == Kind.BOOLEAN and dtype.is_numeric():  # 0/1 as exported by pandas and databases
        return pl.when(col == 1).then(True).when(col == 0).then(False).otherwise(None)
    raise SourceError(
        f"Column for {files.table}.{field.name} in {files.label} has type {dtype}, but the field is a {kind.value}.",
        quote=files.quote(),
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
        if f.name in columns and f.kind in (Kind.TIMESTAMP, Kind.DATE):
            low, high = TIME_RANGE if f.kind == Kind.TIMESTAMP else (t.date() for t in TIME_RANGE)
            checks.append(((pl.col(f.name) <= low) | (pl.col(f.name) >= high), f"{f.name} out of range"))
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
        sample = sample.select(_FILE, _LINE, *raw.values())  # the text as read (a parsed year 10000 has no Python)
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


def written_cutoff(files: TableFiles) -> pl.Expr:
    """Per row (from `_file`): when its file was last written plus FUTURE_TOLERANCE, the latest believable time."""
    cutoffs = {
        str(p): dt.datetime.fromtimestamp(p.stat().st_mtime, dt.UTC).replace(tzinfo=None) + FUTURE_TOLERANCE
        for p in files.paths
    }
    if len(set(cutoffs.values())) == 1:
        return pl.lit(next(iter(cutoffs.values())), pl.Datetime("us"))
    return pl.col(_FILE).replace_strict(list(cutoffs), list(cutoffs.values()), return_dtype=pl.Datetime("us"))


def in_future(table: Table, present: Collection[str]) -> pl.Expr:
    """True for a row with a timestamp later than its CUTOFF column. Every present timestamp counts but
    updated_at, which only orders snapshots (dedupe_by)."""
    fields = dated_fields(table, present)
    return pl.any_horizontal([pl.col(f) > pl.col(CUTOFF) for f in fields]).fill_null(False) if fields else pl.lit(False)


def newest_current(table: Table, present: Collection[str]) -> pl.Expr:
    """The newest timestamp of the rows (the fields `in_future` checks) that is not later than its row's CUTOFF:
    a time in the future does not count, the row's other times do (TableReport.as_of)."""
    fields = dated_fields(table, present)
    if not fields:
        return pl.lit(None, pl.Datetime("us"))
    current = [pl.when(pl.col(f) <= pl.col(CUTOFF)).then(pl.col(f)) for f in fields]
    return pl.max_horizontal(current).max()


def dated_fields(table: Table, present: Collection[str]) -> list[str]:
    """The present timestamps that can be in the future: all but updated_at, which only orders snapshots."""
    return [f.name for f in table.fields if f.kind == Kind.TIMESTAMP and f.name != "updated_at" and f.name in present]


def blank_line(files: TableFiles, mapped: Iterable[str]) -> pl.Expr:
    """True for a CSV line without a value in any `mapped` column (blank, separators only, or values only in
    columns that map to no field): not a row at all. Unmapped columns are never read."""
    if files.format != "csv":
        return pl.lit(False)
    return pl.all_horizontal([as_text(pl.col(c), pl.String).is_null() for c in mapped])


def _latest(table: Table, valid: pl.DataFrame) -> dt.datetime | dt.date | None:
    """The newest value of the main time field among valid rows; a timestamp in the future does not count."""
    main = next(f.name for f in table.fields if f.kind in (Kind.TIMESTAMP, Kind.DATE))
    times = valid.get_column(main)
    if table.field(main).kind == Kind.TIMESTAMP:
        times = times.filter(~(times > valid.get_column(CUTOFF)).fill_null(False))
    return times.max()
