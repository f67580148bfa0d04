"""Reading one table: scan lazily, map columns, parse, reject rows without a usable required field and quarantine
bad optional fields (set to null, the row kept), each counted by reason with examples."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from dataclasses import dataclass

import polars as pl

from queries.contract import (
    FUTURE_TOLERANCE,
    ORDER_RULES,
    TABLES,
    TIME_RANGE,
    TIME_UNKNOWN,
    UNDATED_TIMESTAMPS,
    Field,
    Kind,
    Table,
)
from queries.errors import SourceError
from queries.sources.files import TableFiles
from queries.sources.mapping import EPOCH_US, TableMapping, fold_values
from queries.sources.scan import FILE as _FILE
from queries.sources.scan import read_error, scan_files, table_schema
from queries.sources.timestamps import TIME_NOTES, epoch_hint, parse_text_time, parse_typed_time

EXAMPLES_PER_REASON = 3
_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")
_LINE, _ORDER, _REASON, _BLANK = "_line", "_order", "_reason", "_blank"
# Staged per field: QUARANTINE + field, the code (1-based, into its reasons) of the first rule an optional field
# broke; NOTE + field, the TIME_NOTES code of a timestamp adjusted by the time zone; JOINED + field, a timestamp
# split over two columns, joined.
QUARANTINE, NOTE, JOINED = "_q.", "_note.", "_joined."
MAX_UNKNOWN_VALUES = 50  # unknown values listed per fixed-value field (most rows first)
CUTOFF = "_cutoff"  # per row: when its file was written plus FUTURE_TOLERANCE; later timestamps are in the future


@dataclass(frozen=True)
class Rejection:
    """Rows rejected for one reason, with a few examples that point at the file and row."""

    reason: str
    rows: int
    examples: tuple[str, ...]


@dataclass(frozen=True)
class Quarantine:
    """Values of one field set to null for one reason (the rows are kept), with a few examples; also used for
    times kept but adjusted (TableReport.adjusted)."""

    field: str
    reason: str
    rows: int
    examples: tuple[str, ...]


@dataclass(frozen=True)
class UnknownValues:
    """Values of a field with fixed values that are neither allowed nor mapped, with their rows (most first)."""

    field: str
    allowed: tuple[str, ...]
    values: tuple[tuple[str, int], ...]


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
    quarantined: tuple[Quarantine, ...] = ()  # loaded rows' optional fields set to null, by field and reason
    adjusted: tuple[Quarantine, ...] = ()  # wall-clock times not exactly one instant (DST), read by TIME_NOTES
    unknown_values: tuple[UnknownValues, ...] = ()  # per field with fixed values, what to map
    timezone: str | None = None  # the mapping's timezone; None: times without an offset were read as UTC
    taken_by_name: tuple[tuple[str, str], ...] = ()  # (field, column) matched by name, not set in the mapping
    dimensions: tuple[str, ...] = ()  # the source's own dimensions ([tickets.dimensions]): text columns

    @property
    def rows_rejected(self) -> int:
        return sum(r.rows for r in self.rejections)

    def provides(self, *fields: str) -> bool:
        """True when rows were loaded and the source provided every named field."""
        return self.rows_loaded > 0 and not set(fields) & set(self.missing_fields)


def read_table(files: TableFiles, spec: TableMapping) -> tuple[pl.DataFrame, TableReport]:
    """Load one table: the loaded rows in contract schema (tickets also with the TIME_UNKNOWN flags), and the report of
    what was rejected, quarantined and adjusted."""
    table = TABLES[files.table]
    lf = scan_files(files, spec)
    lf, schema = join_split_columns(lf, table_schema(lf, files), table, spec, files)
    columns = resolve_columns(table, schema, spec, files)
    raw_names = {f: f"_raw.{f}" for f in columns}
    parsed, notes = parse_fields(table, columns, schema, spec, files)
    own = dimension_columns(schema, spec, files)
    staged = lf.select(
        pl.col(_FILE),
        (pl.int_range(pl.len()).over(_FILE) + 1).alias(_LINE),  # blank lines count: "row N" is line N + 1
        pl.int_range(pl.len()).alias(_ORDER),
        *[as_text(pl.col(src), schema[src]).alias(raw_names[f]) for f, src in columns.items()],
        *[expr.alias(f) for f, expr in parsed.items()],
        *[expr.alias(NOTE + f) for f, expr in notes.items()],
        *own.values(),
        written_cutoff(files).alias(CUTOFF),
        blank_line(files, columns.values()).alias(_BLANK),
    )
    staged, codes = apply_rules(staged.filter(~pl.col(_BLANK)), table, columns, raw_names)
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
        *[pl.col(f.name) if f.name in columns else pl.lit(None, f.kind.dtype).alias(f.name) for f in table.fields],
        *(TIME_UNKNOWN.values() if table.name == "tickets" else ()),
        *own,
    )
    report = TableReport(
        table=table.name,
        location=files.label,
        rows_read=frame.height + superseded,
        rows_loaded=clean.height,
        rows_superseded=superseded,
        rejections=_rejections(table, rejected, raw_names),
        missing_fields=missing,
        ignored_columns=ignored_columns(schema, columns, spec),
        latest=_latest(table, valid),
        rows_in_future=valid.height - current,
        as_of=valid.select(newest_current(table, columns)).item(),
        quarantined=field_counts(table, valid, QUARANTINE, codes, raw_names),
        adjusted=field_counts(table, valid, NOTE, {f: tuple(TIME_NOTES.values()) for f in notes}, raw_names),
        unknown_values=_unknown_values(table, valid, codes, raw_names),
        timezone=spec.timezone,
        taken_by_name=taken_by_name(columns, spec),
        dimensions=tuple(own),
    )
    return clean, report


def dimension_columns(schema: pl.Schema, spec: TableMapping, files: TableFiles) -> dict[str, pl.Expr]:
    """Each of the source's own dimensions as trimmed text named after it (empty text is null)."""
    own = {}
    for name, column in spec.dimensions.items():
        if column not in schema:
            raise _no_column(f"[tickets.dimensions] {name} = {column!r}", column, schema, files)
        text = as_text(pl.col(column), schema[column]).str.strip_chars()
        own[name] = pl.when(text != "").then(text).alias(name)
    return own


def _no_column(setting: str, column: str, schema: pl.Schema, files: TableFiles) -> SourceError:
    """The error for a mapping line (`setting`, e.g. `[tickets.columns] queue = 'team'`) naming a column the
    file does not have."""
    return SourceError(
        f"The mapping says {setting}, but {files.label} has no column {column!r}. Columns found: "
        f"{_column_list(schema)}.",
        quote=files.quote(),
        fix=f"Correct {setting.split(' = ')[0]} in the mapping file.",
    )


def taken_by_name(columns: dict[str, str], spec: TableMapping) -> tuple[tuple[str, str], ...]:
    """(field, column) of the fields matched by name (`resolve_columns`), not set in the mapping."""
    return tuple((f, c) for f, c in columns.items() if f not in spec.columns and f not in spec.joined)


def ignored_columns(schema: pl.Schema, columns: dict[str, str], spec: TableMapping) -> tuple[str, ...]:
    """The source's columns that map to no field (neither named nor joined into a split timestamp)."""
    used = {*columns.values(), *(c for pair in spec.joined.values() for c in pair), *spec.dimensions.values()}
    return tuple(c for c in schema if c not in used and not c.startswith("_"))


def join_split_columns(
    lf: pl.LazyFrame, schema: pl.Schema, table: Table, spec: TableMapping, files: TableFiles
) -> tuple[pl.LazyFrame, pl.Schema]:
    """The scan with each timestamp split over two columns (`spec.joined`) joined into JOINED + field: the two
    texts with a space between (either alone when the other is empty), for its format to read."""
    if not spec.joined:
        return lf, schema
    joined = []
    for name, parts in spec.joined.items():
        for column in parts:
            if column not in schema:
                raise _no_column(f"[{table.name}.columns] {name} = {list(parts)!r}", column, schema, files)
        first, second = (as_text(pl.col(c), schema[c]) for c in parts)
        both = pl.concat_str([first, second], separator=" ", ignore_nulls=True)
        joined.append(pl.when(first.is_null() & second.is_null()).then(None).otherwise(both).alias(JOINED + name))
    lf = lf.with_columns(joined)
    return lf, table_schema(lf, files)


def resolve_columns(table: Table, schema: pl.Schema, spec: TableMapping, files: TableFiles) -> dict[str, str]:
    """Contract field -> source column, from the mapping (a split timestamp: its joined column, see
    `join_split_columns`) or from matching names."""
    by_lower = {c.strip().lower(): c for c in schema}
    columns: dict[str, str] = {}
    for f in table.fields:
        if f.name in spec.joined:
            columns[f.name] = JOINED + f.name
        elif f.name in spec.columns:
            source_col = spec.columns[f.name]
            if source_col not in schema:
                raise _no_column(f"[{table.name}.columns] {f.name} = {source_col!r}", source_col, schema, files)
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
            f"[{table.name}.columns] {lines} (python -m queries init-mapping drafts one).",
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


def parse_fields(
    table: Table, columns: dict[str, str], schema: pl.Schema, spec: TableMapping, files: TableFiles
) -> tuple[dict[str, pl.Expr], dict[str, pl.Expr]]:
    """Each mapped field in its contract dtype (null where it cannot be read), and for timestamps read as wall-clock
    times in the mapping's timezone, a TIME_NOTES code per value (null where the time is one instant)."""
    parsed: dict[str, pl.Expr] = {}
    notes: dict[str, pl.Expr] = {}
    for name, column in columns.items():
        field = table.field(name)
        if field.kind == Kind.TIMESTAMP and schema[column] != pl.Null:
            parsed[name], note = _timestamp(field, column, schema[column], spec, files)
            if note is not None:
                notes[name] = note
        else:
            parsed[name] = parse_field(field, pl.col(column), schema[column], spec, files)
    return parsed, notes


def _timestamp(
    field: Field, column: str, dtype: pl.DataType, spec: TableMapping, files: TableFiles
) -> tuple[pl.Expr, pl.Expr | None]:
    """A timestamp field as naive UTC, read with its format (`TableMapping.time_format`) and the timezone."""
    fmt, col = spec.time_format(field.name), pl.col(column)
    if is_text(dtype):
        label = f"{_column_label(column, spec)} ({files.table}.{field.name})"
        return parse_text_time(as_text(col, dtype), fmt, spec.timezone, label)
    typed = parse_typed_time(col, dtype, fmt, spec.timezone)
    if typed is None:
        raise SourceError(
            f"Column for {files.table}.{field.name} in {files.label} has type {dtype}, but the field is a timestamp.",
            quote=files.quote(),
            fix=f"Export {field.name} as a timestamp, as ISO 8601 text, or as epoch numbers (then set "
            f'[{files.table}.datetime_formats] {field.name} = "epoch_s", "epoch_ms" or "epoch_us").',
        )
    return typed


def _column_label(column: str, spec: TableMapping) -> str:
    """A column as messages name it: its name, or the two columns a split timestamp was joined from."""
    if column.startswith(JOINED):
        return " and ".join(repr(c) for c in spec.joined[column.removeprefix(JOINED)])
    return repr(column)


def parse_field(field: Field, col: pl.Expr, dtype: pl.DataType, spec: TableMapping, files: TableFiles) -> pl.Expr:
    """An expression giving the field in its contract dtype; null where the value cannot be read (timestamps: the
    value of `parse_fields`, without its notes)."""
    if dtype == pl.Null:  # an all-empty column, as exporters write it
        return col.cast(field.kind.dtype)
    if field.kind == Kind.TIMESTAMP:
        return _timestamp(field, col.meta.output_name(), dtype, spec, files)[0]
    if field.kind == Kind.STRING:
        text = as_text(col, dtype)
        return _fixed_value(field, text, spec) if field.values else text
    if is_text(dtype):
        text = as_text(col, dtype)
        if field.kind == Kind.DATE:
            if spec.date_format:
                return text.str.to_date(spec.date_format, strict=False)
            return parse_text_time(text, None, None, "")[0].dt.date()
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


def field_checks(table: Table, present: Collection[str], raw: dict[str, str]) -> dict[str, list[tuple[pl.Expr, str]]]:
    """Each present field's own rules in order of precedence, as (condition, reason): unparseable (for a number
    where a timestamp is expected, with the epoch setting that would read it), unknown value, out of range."""
    checks: dict[str, list[tuple[pl.Expr, str]]] = {}
    for f in table.fields:
        if f.name not in present:
            continue
        value, own = pl.col(f.name), []
        if f.kind != Kind.STRING:
            unreadable = pl.col(raw[f.name]).is_not_null() & value.is_null()
            if f.kind == Kind.TIMESTAMP:  # the hint is computed only where unreadable (cheap)
                # Cast after the when: Polars would otherwise compute the cast of every row once for the three hints.
                hint = epoch_hint(pl.when(unreadable).then(pl.col(raw[f.name])).cast(pl.String))
                setting = f"[{table.name}.datetime_formats] {f.name}"
                own += [(hint == u, f'unparseable {f.name} (a number: set {setting} = "{u}")') for u in EPOCH_US]
            own.append((unreadable, f"unparseable {f.name}"))
        if f.values:
            own.append((value.is_not_null() & ~value.is_in(f.values), f"unknown {f.name} value"))
        if f.min_value is not None:
            own.append((value < f.min_value, f"{f.name} out of range"))
        if f.max_value is not None:
            own.append((value > f.max_value, f"{f.name} out of range"))
        if f.kind in (Kind.TIMESTAMP, Kind.DATE):
            low, high = TIME_RANGE if f.kind == Kind.TIMESTAMP else (t.date() for t in TIME_RANGE)
            own.append(((value <= low) | (value >= high), f"{f.name} out of range"))
        checks[f.name] = own
    return checks


def apply_rules(
    lf: pl.LazyFrame, table: Table, present: Collection[str], raw: dict[str, str]
) -> tuple[pl.LazyFrame, dict[str, tuple[str, ...]]]:
    """The table's rules on staged rows (parsed fields and their raw text): `_reason`, the first rule a required
    field breaks (missing, unparseable, unknown, out of range: the row is rejected); for each optional field,
    QUARANTINE + field, the code of the first rule it breaks (its own, then the ORDER_RULES about it, each against
    the values the rules before left), and the field set to null there; for tickets, the TIME_UNKNOWN flags.

    Returns the frame and each quarantinable field's reasons (code i is reasons[i - 1])."""
    checks = field_checks(table, present, raw)
    required = [f.name for f in table.fields if f.required and f.name in present]
    row = [(pl.col(raw[f]).is_null(), f"missing {f}") for f in required]
    row += sorted((c for f in required for c in checks[f]), key=lambda c: not c[1].startswith("unparseable"))
    orders = [(a, b, why) for t, a, b, why in ORDER_RULES if t == table.name and a in present and b in present]
    reasons = {f: r for f, r in quarantine_reasons(table).items() if f in present}
    lf = lf.with_columns(_first(row).alias(_REASON), *(_coded(checks[f]).alias(QUARANTINE + f) for f in reasons))
    lf = lf.with_columns(pl.when(pl.col(QUARANTINE + f).is_null()).then(pl.col(f)).alias(f) for f in reasons)
    for later, earlier, why in orders:
        broken = (pl.col(later) < pl.col(earlier)).fill_null(False)
        if later in reasons:
            code = pl.lit(reasons[later].index(why) + 1, pl.UInt8)
            lf = lf.with_columns(
                pl.when(broken).then(code).otherwise(pl.col(QUARANTINE + later)).alias(QUARANTINE + later),
                pl.when(broken).then(None).otherwise(pl.col(later)).alias(later),
            )
        else:  # about a required field: the row is rejected
            first = pl.col(_REASON).is_null() & broken
            lf = lf.with_columns(pl.when(first).then(pl.lit(why)).otherwise(pl.col(_REASON)).alias(_REASON))
    if table.name == "tickets":
        lf = lf.with_columns(
            (pl.col(QUARANTINE + f).is_not_null() if f in reasons else pl.lit(False)).alias(flag)
            for f, flag in TIME_UNKNOWN.items()
        )
    return lf, reasons


def quarantine_reasons(table: Table) -> dict[str, tuple[str, ...]]:
    """For each optional field a rule can quarantine, its reasons in order of precedence: its own (`field_checks`),
    then the ORDER_RULES about it. QUARANTINE + field holds code i for reasons[i - 1], the same in every file."""
    every = table.names
    checks = field_checks(table, every, {f: f for f in every})
    reasons = {
        f.name: (
            *(r for _, r in checks[f.name]),
            *(why for t, a, _, why in ORDER_RULES if t == table.name and a == f.name),
        )
        for f in table.fields
        if not f.required
    }
    return {name: r for name, r in reasons.items() if r}


def _first(checks: list[tuple[pl.Expr, str]]) -> pl.Expr:
    """The reason of the first condition that holds, as text; null when none does."""
    reason: pl.Expr | pl.When | pl.Then = pl
    for condition, text in checks:
        reason = reason.when(condition.fill_null(False)).then(pl.lit(text))
    return pl.lit(None, pl.String) if not checks else reason.otherwise(pl.lit(None, pl.String))


def _coded(checks: list[tuple[pl.Expr, str]]) -> pl.Expr:
    """The (1-based) position of the first condition that holds, as UInt8; null when none does."""
    code: pl.Expr | pl.When | pl.Then = pl
    for i, (condition, _) in enumerate(checks, start=1):
        code = code.when(condition.fill_null(False)).then(pl.lit(i, pl.UInt8))
    return pl.lit(None, pl.UInt8) if not checks else code.otherwise(pl.lit(None, pl.UInt8))


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
        involved = _involved(table, reason)
        out.append(Rejection(reason, rows, _examples(table, sample, raw, involved)))
    return tuple(out)


def field_counts(
    table: Table, valid: pl.DataFrame, prefix: str, codes: dict[str, tuple[str, ...]], raw: dict[str, str] | None
) -> tuple[Quarantine, ...]:
    """Loaded rows counted by field and reason from the `prefix` + field code columns (QUARANTINE or NOTE), most
    rows first, with examples when the raw text is at hand (`raw`)."""
    out = []
    for name, reasons in codes.items():
        column = prefix + name
        if valid.get_column(column).null_count() == valid.height:
            continue
        counts = valid.group_by(column).agg(pl.len().alias("rows")).drop_nulls(column)
        for code, rows in counts.sort(column).iter_rows():
            reason, examples = reasons[code - 1], ()
            if raw is not None:
                sample = valid.filter(pl.col(column) == code).sort(_ORDER).head(EXAMPLES_PER_REASON)
                examples = _examples(table, sample, raw, (name, *_involved(table, reason)))
            out.append(Quarantine(name, reason, rows, examples))
    return tuple(sorted(out, key=lambda q: (-q.rows, table.names.index(q.field), q.reason)))


def _unknown_values(
    table: Table, valid: pl.DataFrame, codes: dict[str, tuple[str, ...]], raw: dict[str, str]
) -> tuple[UnknownValues, ...]:
    """Per field with fixed values, its quarantined unknown values as read (most rows first)."""
    out = []
    for name, reasons in codes.items():
        reason = f"unknown {name} value"
        if reason not in reasons:
            continue
        unknown = valid.filter(pl.col(QUARANTINE + name) == reasons.index(reason) + 1)
        if unknown.is_empty():
            continue
        counts = (
            unknown.group_by(raw[name]).agg(pl.len().alias("rows")).sort(["rows", raw[name]], descending=[True, False])
        )
        values = tuple(counts.head(MAX_UNKNOWN_VALUES).iter_rows())
        out.append(UnknownValues(name, table.field(name).values or (), values))
    return tuple(out)


def _involved(table: Table, reason: str) -> tuple[str, ...]:
    """The fields a reason is about: both fields of an order rule, else those it names."""
    ordered = {why: (later, earlier) for name, later, earlier, why in ORDER_RULES if name == table.name}
    return ordered.get(reason, tuple(f.name for f in table.fields if f.name in reason.split()))


def _examples(table: Table, sample: pl.DataFrame, raw: dict[str, str], involved: Collection[str]) -> tuple[str, ...]:
    """Rows as `file row N: key='…', field='…'` with the text as read (a parsed year 10000 has no Python)."""
    fields = [f.name for f in table.fields if f.name in raw and f.name in involved]
    key = table.unique_key[0] if table.unique_key and table.unique_key[0] in raw else None
    shown = [key] if key else []
    shown += [f for f in fields if f != key]
    rows = sample.select(_FILE, _LINE, *(raw[f] for f in shown)).iter_rows()
    return tuple(
        f"{row[0]} row {row[1]}: " + ", ".join(f"{f}={v!r}" for f, v in zip(shown, row[2:], strict=True))
        for row in rows
    )


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
    """The present timestamps that can be in the future: all but UNDATED_TIMESTAMPS (updated_at, due_at)."""
    return [
        f.name
        for f in table.fields
        if f.kind == Kind.TIMESTAMP and f.name not in UNDATED_TIMESTAMPS and f.name in present
    ]


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
