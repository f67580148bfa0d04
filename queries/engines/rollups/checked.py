"""Reading a batch of ticket partitions for the rollups with the loader's own parsing and rules: the
loader-equivalent path, the lean path for typed Parquet in the contract's names, and the loader itself for snapshots
(dedupe_by). Each gives the same rows, codes and column report (docs/rollups.md)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from pathlib import Path

import polars as pl

from queries.contract import TABLES, TIME_UNKNOWN, Kind
from queries.engines.rollups.storage import CODED, REASON, ROLLUP_DIMENSIONS, TIME
from queries.errors import SourceError
from queries.sources import scan, validation
from queries.sources.files import TableFiles
from queries.sources.mapping import TableMapping
from queries.sources.validation import TableReport

CUTOFF = validation.CUTOFF
DUPLICATE = "duplicate ticket_id"
UNKNOWN = "_unknown."  # + field with fixed values: the value as read where it is unknown (quarantined), else null
TICKETS = TABLES["tickets"]
QUARANTINE_REASONS = validation.quarantine_reasons(TICKETS)
TIMESTAMPS = tuple(f.name for f in TICKETS.fields if f.kind == Kind.TIMESTAMP)
FIXED = tuple(f.name for f in TICKETS.fields if f.values)
# Per row, besides the fields: whether acted on or closed at an unknown time (kept with the rows), the codes counted
# as quarantined or adjusted, and the unknown values of fields with fixed values.
FLAGS = tuple(TIME_UNKNOWN.values())
FIELD_CODES = (
    *FLAGS,
    *(validation.QUARANTINE + f for f in QUARANTINE_REASONS),
    *(validation.NOTE + f for f in TIMESTAMPS),
    *(UNKNOWN + f for f in FIXED),
)
USED = {
    "ticket_id",
    "created_at",
    "first_action_at",
    "closed_at",
    "queue",
    "priority",
    "decision",
    "handle_seconds",
    "automated",
    "views_before_action",
    "appealed",
    "appeal_overturned",
    "due_at",
    "sla_met",
    *ROLLUP_DIMENSIONS,
}


@dataclass(frozen=True)
class Partition:
    """Tickets built as a unit: one file, a row slice of a big Parquet file, or (dedupe_by) the whole table."""

    files: TableFiles
    offset: int | None
    length: int | None
    rows: int  # for batching; 0 when unknown (CSV), -1 when not read (already cached)
    key: str  # path, size, mtime_ns, slice, mapping, SLA policy and format version


@dataclass(frozen=True)
class Columns:
    """How the files' columns were taken, as the loader reports it (TableReport): the fields present, those taken
    by name (field, column) and the columns no field maps to."""

    present: frozenset[str]
    taken_by_name: tuple[tuple[str, str], ...]
    ignored: tuple[str, ...]

    @classmethod
    def of(cls, schema: pl.Schema, columns: dict[str, str], spec: TableMapping) -> Columns:
        """From the files' schema and the columns resolved for the fields (validation.resolve_columns)."""
        return cls(
            frozenset(columns),
            validation.taken_by_name(columns, spec),
            validation.ignored_columns(schema, columns, spec),
        )

    def __or__(self, other: Columns) -> Columns:
        return Columns(
            self.present | other.present,
            tuple(dict.fromkeys(self.taken_by_name + other.taken_by_name)),
            tuple(dict.fromkeys(self.ignored + other.ignored)),
        )


@dataclass(frozen=True)
class Checked:
    """A batch's rows (used fields, `_reason`, `_cutoff` and FIELD_CODES), the loader's report when the loader read
    them (dedupe_by: its rejections, quarantines and future rows) and how their columns were taken."""

    rows: pl.DataFrame
    report: TableReport | None
    columns: Columns


def footer(path: Path) -> tuple[int, tuple[tuple[str, str], ...]]:
    """Rows and columns (name, type) of a Parquet file, read from its footer once per version of the file."""
    stat = path.stat()
    return _footer_of(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=1 << 16)
def _footer_of(path: Path, mtime_ns: int, size: int) -> tuple[int, tuple[tuple[str, str], ...]]:
    meta = scan.parquet_footer(TableFiles("tickets", (path,), "parquet"), path)
    return meta.num_rows, tuple((f.name, str(f.type)) for f in meta.schema.to_arrow_schema())


def valid_tickets(part: Partition, spec: TableMapping, excluded: frozenset[str]) -> tuple[pl.LazyFrame, Columns]:
    """The partition's rows with the loader's parsing and rules, lazily: fields (quarantined ones null), `_reason`
    (rejected rows) and FIELD_CODES; and how its columns were taken.

    The same expressions as queries.validation.read_table; the duplicate-key rule needs every partition
    and comes in through `excluded` (ticket_ids valid more than once anywhere)."""
    lf = validation.scan_files(part.files, spec)
    if part.offset is not None:
        lf = lf.slice(part.offset, part.length)
    lf, schema = validation.join_split_columns(lf, validation.table_schema(lf, part.files), TICKETS, spec, part.files)
    columns = validation.resolve_columns(TICKETS, schema, spec, part.files)
    lf = lf.filter(~validation.blank_line(part.files, columns.values()))
    raw_names = {f: f"_raw.{f}" for f in columns}
    # The rules only ask whether the raw value is empty (and, for timestamps, what a number looks like): typed
    # columns stay as they are.
    raw = [
        (validation.as_text(pl.col(src), schema[src]) if validation.is_text(schema[src]) else pl.col(src)).alias(
            raw_names[name]
        )
        for name, src in columns.items()
    ]
    parsed, notes = validation.parse_fields(TICKETS, columns, schema, spec, part.files)
    staged = lf.select(
        *raw,
        *(expr.alias(name) for name, expr in parsed.items()),
        *(expr.alias(validation.NOTE + name) for name, expr in notes.items()),
        validation.written_cutoff(part.files).alias(CUTOFF),
    )
    staged = _checked(staged, columns, raw_names, excluded)
    missing = [f.name for f in TICKETS.fields if f.name not in columns]
    staged = staged.with_columns(pl.lit(None, TICKETS.field(f).kind.dtype).alias(f) for f in missing)
    return with_codes(staged).select(*TICKETS.names, REASON, CUTOFF, *FIELD_CODES), Columns.of(schema, columns, spec)


def _checked(
    staged: pl.LazyFrame, present: list[str] | dict[str, str], raw: dict[str, str], excluded: frozenset[str]
) -> pl.LazyFrame:
    """The loader's rules on staged rows (validation.apply_rules), duplicates rejected, and the unknown values of
    fields with fixed values as read (UNKNOWN + field)."""
    staged, reasons = validation.apply_rules(staged, TICKETS, present, raw)
    staged = without_duplicates(staged, excluded)
    unknown = {f: reasons[f].index(f"unknown {f} value") + 1 for f in FIXED if f in reasons}
    return staged.with_columns(
        pl.when(pl.col(validation.QUARANTINE + f) == code).then(pl.col(raw[f]).cast(pl.String)).alias(UNKNOWN + f)
        for f, code in unknown.items()
    )


def without_duplicates(staged: pl.LazyFrame, excluded: frozenset[str]) -> pl.LazyFrame:
    """Rows otherwise valid whose ticket_id is valid more than once anywhere: rejected as duplicates."""
    if not excluded:
        return staged
    duplicated = pl.col(REASON).is_null() & pl.col("ticket_id").is_in(list(excluded))
    return staged.with_columns(pl.when(duplicated).then(pl.lit(DUPLICATE)).otherwise(pl.col(REASON)).alias(REASON))


def with_codes(staged: pl.LazyFrame) -> pl.LazyFrame:
    """Every column of FIELD_CODES (null where the rows have none: fields not in the files, no time zone)."""
    have = set(staged.collect_schema().names())
    absent = [c for c in FIELD_CODES if c not in have]
    return staged.with_columns(
        pl.lit(False).alias(c)
        if c in FLAGS
        else pl.lit(None, pl.String if c.startswith(UNKNOWN) else pl.UInt8).alias(c)
        for c in absent
    )


def checked_rows(batch: list[Partition], spec: TableMapping, excluded: frozenset[str]) -> Checked:
    """The batch's rows with the loader's rules, by the cheapest path that gives the loader's answers."""
    needed = [f for f in TICKETS.names if f in USED]
    fast = typed_rows(batch, spec, excluded)
    if fast is not None:
        return Checked(fast[0].select(*needed, REASON, CUTOFF, *FIELD_CODES), None, fast[1])
    report = None
    if spec.dedupe_by:  # snapshots: the loader's own eager path over the whole table
        clean, report = validation.read_table(batch[0].files, spec)
        rows = with_codes(
            clean.lazy().with_columns(pl.lit(None, pl.String).alias(REASON), pl.lit(None, TIME).alias(CUTOFF))
        )
        present = frozenset(TICKETS.names) - set(report.missing_fields)
        columns = Columns(present, report.taken_by_name, report.ignored_columns)
    elif whole_parquet(batch):  # one scan of all files: far cheaper than one per file
        rows, columns = valid_tickets(Partition(one_scan(batch), None, None, 0, ""), spec, excluded)
    else:
        scans = []
        for i, part in enumerate(batch):
            lf, of_part = valid_tickets(part, spec, excluded)
            scans.append(lf)
            columns = of_part if i == 0 else columns | of_part
        rows = pl.concat(scans, how="vertical")
    # Dimensions as Categorical: cheap to turn into the chunk's codes (build._build_chunk).
    checked = rows.select(*needed, REASON, CUTOFF, *FIELD_CODES).with_columns(pl.col(*CODED).cast(pl.Categorical))
    return Checked(collect(checked, batch), report, columns)


def collect(lf: pl.LazyFrame, batch: list[Partition]) -> pl.DataFrame:
    """The rows, or a SourceError naming the files when the reader fails on them (as the loader's)."""
    try:
        return lf.collect()
    except (pl.exceptions.PolarsError, OSError) as exc:
        paths = tuple(p for part in batch for p in part.files.paths)
        raise validation.read_error(replace(batch[0].files, paths=paths), exc) from None


def whole_parquet(batch: list[Partition]) -> bool:
    """True for whole Parquet files (no slices) that all have the same columns and types."""
    if any(p.files.format != "parquet" or p.offset is not None for p in batch):
        return False
    schemas = {footer(p.files.paths[0])[1] for p in batch}
    return len(schemas) == 1


def one_scan(batch: list[Partition]) -> TableFiles:
    return TableFiles("tickets", tuple(p.files.paths[0] for p in batch), "parquet", batch[0].files.hive)


def typed_rows(
    batch: list[Partition], spec: TableMapping, excluded: frozenset[str], predicate: pl.Expr | None = None
) -> tuple[pl.DataFrame, Columns] | None:
    """The lean path for Parquet already in the contract's types and names (no mapping): the loader's rules as
    cheap expressions on the typed columns, in one pass, text read as Categorical and checked once per
    distinct value.

    None when the batch does not qualify (CSV, mapped, differently named or typed columns, times to read in a time
    zone, or text that the loader would trim, blank out or fold): the caller then takes the loader-equivalent path.
    `predicate` (on typed, unparsed columns only) is pushed into the scan."""
    if spec.columns or spec.values or spec.dedupe_by or spec.reads_times or not whole_parquet(batch):
        return None
    files = one_scan(batch)
    lf = validation.scan_files(files, spec)
    schema = validation.table_schema(lf, files)
    try:
        columns = validation.resolve_columns(TICKETS, schema, spec, files)
    except SourceError:  # the loader-equivalent path says what is missing, file by file
        return None
    present = [f.name for f in TICKETS.fields if f.name in columns]
    if any(columns[name] != name or schema[name] != TICKETS.field(name).kind.dtype for name in present):
        return None
    # The fields used, and those the rules check (their quarantines are counted as the loader counts them).
    checked = [f.name for f in TICKETS.fields if f.name in present and (f.name in USED or f.kind != Kind.STRING)]
    text = [f for f in checked if TICKETS.field(f).kind == Kind.STRING and f != "ticket_id"]
    typed = [f for f in checked if f not in text and f != "ticket_id"]
    # Text as read (raw) stays apart from the field where a rule can set the field to null (fixed values).
    raw = {f: f"_raw.{f}" if TICKETS.field(f).values else f for f in text}
    raw |= {f: f"_raw.{f}" for f in typed} | {"ticket_id": "ticket_id"}
    lf = lf if predicate is None else lf.filter(predicate)
    staged = lf.select(
        validation.as_text(pl.col("ticket_id"), pl.String).alias("ticket_id"),
        *((pl.col(f).cast(pl.Categorical) if f in CODED else pl.col(f)).alias(raw[f]) for f in text),
        *(pl.col(f).alias(raw[f]) for f in typed),
        validation.written_cutoff(files).alias(CUTOFF),
    ).with_columns(
        *(pl.col(raw[f]).alias(f) for f in text if raw[f] != f),
        *(validation.parse_field(TICKETS.field(f), pl.col(raw[f]), schema[f], spec, files).alias(f) for f in typed),
    )
    staged = _checked(staged, checked, raw, excluded)
    absent = [f for f in USED if f not in present]
    staged = with_codes(staged).with_columns(
        *(pl.lit(None, TICKETS.field(f).kind.dtype).alias(f) for f in absent if f not in CODED),
        *(pl.lit(None, pl.String).cast(pl.Categorical).alias(f) for f in absent if f in CODED),
    )
    copies = [raw[f] for f in text if raw[f] != f]
    rows = collect(
        staged.select(*[f for f in TICKETS.names if f in USED], REASON, CUTOFF, *FIELD_CODES, *copies), batch
    )
    for name in text:  # a value the loader would trim, blank or fold: take its path (rare, so checked per value)
        values = rows[raw[name]].unique().drop_nulls().cast(pl.String)
        if (values != values.str.strip_chars()).any() or (values == "").any():
            return None
        if TICKETS.field(name).values and validation.known_after_folding(TICKETS.field(name), values):
            return None
    return rows.drop(copies), Columns.of(schema, columns, spec)


def valid_rows(
    partitions: list[Partition], spec: TableMapping, excluded: frozenset[str], predicate: pl.Expr
) -> pl.DataFrame:
    """Valid rows (the fields rollups use, text as String) matching a predicate on typed columns (e.g. a date
    range, pushed into the Parquet scan), with the same rules as the build."""
    partitions = _whole_files(partitions)
    batches = [partitions] if whole_parquet(partitions) else [[p] for p in partitions]
    frames = []
    for batch in batches:
        fast = typed_rows(batch, spec, excluded, predicate)
        if fast is None:
            frames.append(checked_rows(batch, spec, excluded).rows.filter(pl.col(REASON).is_null() & predicate))
        else:
            frames.append(fast[0].filter(pl.col(REASON).is_null()))
    used = [f for f in TICKETS.names if f in USED]
    return pl.concat(frames).select(*used, *FLAGS).with_columns(pl.col(CODED).cast(pl.String))


def _whole_files(partitions: list[Partition]) -> list[Partition]:
    """Row slices of big Parquet files as their whole files: a predicate pushed into a whole file's scan skips the
    row groups it cannot match, while each slice would be read and checked in full."""
    if all(p.offset is None for p in partitions) or any(p.files.format != "parquet" for p in partitions):
        return partitions
    files = {p.files.paths[0]: p.files for p in partitions}
    return [Partition(replace(f, paths=(path,)), None, None, 0, "") for path, f in files.items()]
