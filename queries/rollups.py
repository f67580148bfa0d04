"""Daily rollups of tickets so pages never scan raw tickets: counts, sums and log-spaced duration histograms.

Grain: one row per day × the filter dimensions (ROLLUP_DIMENSIONS), plus coarser copies keyed by fewer
dimensions (every single dimension and none) so a page picks the smallest rollup that can answer it.
Each input file is one partition (a big Parquet file is split into row slices), built lazily with the
loader's own validity rules and cached on disk; only changed partitions are rebuilt. docs/rollups.md
explains the design, what is exact and what is approximate.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import polars as pl
import polars.selectors as cs
import pyarrow as pa
import pyarrow.ipc as ipc

from queries import validation
from queries.contract import PROACTIVE_SOURCES, TABLES, Kind
from queries.dataset import Dataset
from queries.errors import SourceError
from queries.filters import DIMENSIONS, Filters, period_expr
from queries.histogram import PERCENTILE_ERROR_BOUND, bucket_expr, percentiles
from queries.mapping import load_mapping
from queries.metrics import HOUR_US, METRICS, period_windows, ratio, summarize, with_sla_outcome
from queries.sla import SlaPolicy, load_sla_policy
from queries.sources import TableFiles, locate_tables
from queries.validation import TableReport

__all__ = [
    "PERCENTILE_ERROR_BOUND",
    "ROLLUP_DIMENSIONS",
    "ROLLUP_METRICS",
    "BuildStats",
    "Rollups",
    "build_rollups",
    "rollup_summary",
]

ROLLUP_DIMENSIONS = DIMENSIONS
ROLLUP_METRICS = (
    "volume",
    "actioned",
    "time_to_first_action",
    "time_to_close",
    "sla",
    "proactive",
    "appeals",
    "open_backlog",
    "backlog",
    "exposure",
    "automation",
    "handle_time",
)
FORMAT_VERSION = 6
BATCH_ROWS = 2_000_000  # rows aggregated at once (bounds memory); bigger Parquet files are split into slices
_DENSE_CELLS = 1 << 25  # largest day × dimension × bucket index counted densely (256 MB of int64 counts)
EXACT_ROWS_LIMIT = 500_000  # most rows read for an exact percentile over several dimensions (memory, time)
REPO_DATA_DIR = Path(__file__).resolve().parent.parent / "data"

# Counts at the full grain plus coarser levels (no dimension, each single dimension); duration histograms
# only at the coarser levels: at the full grain they would have about one row per ticket (docs/rollups.md).
LEVELS: tuple[tuple[str, ...], ...] = (ROLLUP_DIMENSIONS, (), *((d,) for d in ROLLUP_DIMENSIONS))
_HIST_LEVELS = LEVELS[1:]
_FULL = ROLLUP_DIMENSIONS
_CODED = ROLLUP_DIMENSIONS  # text read as Categorical, then turned into codes into the chunk's dictionary
# Stored as UInt32 codes into a dictionary (sorted values) so cached tables load without conversion.
_ENCODED = (*ROLLUP_DIMENSIONS, "sla_rule")
# Histogram measures (created-day table): hours to first action, hours to close, views before action.
_TTFA, _TTC, _VIEWS = 0, 1, 2
_US = 1_000_000
_ID_HASH, _REASON, _CUTOFF = "_id_hash", "_reason", validation.CUTOFF
_TIME = pl.Datetime("us")
_DUPLICATE = "duplicate ticket_id"
_COUNT_TABLES = ("created", "actioned", "closed", "sla")
_HIST_TABLES = ("created_hist", "handle_hist")
_USED = {
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
    *ROLLUP_DIMENSIONS,
}


@dataclass(frozen=True, eq=False)
class Level:
    """All rollup tables keyed by `day` plus `dims`."""

    dims: tuple[str, ...]
    created: pl.DataFrame  # by created day: counts and duration sums
    actioned: pl.DataFrame  # by first-action day: actioned, human decisions, handle seconds
    closed: pl.DataFrame  # by closed day: closures
    sla: pl.DataFrame  # by created day and sla_rule: tickets, actioned with a target, met
    created_hist: pl.DataFrame | None  # by created day: measure, bucket, count (None at the full grain)
    handle_hist: pl.DataFrame | None  # by first-action day: bucket, count of handle seconds (human decisions)


@dataclass(frozen=True, eq=False)
class Rollups:
    """Rollups of one source's tickets, ready for `rollup_summary`."""

    source: str
    signature: str  # changes when any input partition (or the mapping, SLA policy, format) changes
    levels: dict[tuple[str, ...], Level]
    sla: pl.DataFrame  # the full grain's: by created day × dims × sla_rule (each level has its own)
    sla_waiting: pl.DataFrame  # tickets with a target and no first action yet: created_at, dims, rule, target
    sla_policy: SlaPolicy
    # The data's "now": the latest created_at, first_action_at or closed_at of valid tickets that is not in the future
    # (the loader's TableReport.as_of, which queries.metrics.data_as_of reads).
    as_of: dt.datetime | None
    dictionary: dict[str, tuple[str, ...]]  # dimension (and sla_rule) -> its values; tables hold their codes
    rows: int  # valid tickets
    rejected_rows: int
    rejections: dict[str, int] = field(default_factory=dict)  # reason -> rows
    missing_fields: tuple[str, ...] = ()
    # Valid ticket rows whose (typed) columns match a predicate, for the exact answers the rollups cannot give.
    read_rows: Callable[[pl.Expr], pl.DataFrame] | None = None
    latest_created: dt.datetime | None = None  # newest created_at not in the future (as the loader's `latest`)
    rows_in_future: int = 0  # valid tickets with a timestamp later than their file was written (+ tolerance)

    def first_day(self) -> dt.date | None:
        days = self.levels[()].created["day"]
        return days.min() if days.len() else None

    def last_day(self) -> dt.date | None:
        days = self.levels[()].created["day"]
        return days.max() if days.len() else None

    def values(self, dimension: str) -> list[str]:
        """Sorted values of a dimension that have tickets."""
        codes = self.levels[(dimension,)].created[dimension].drop_nulls().unique().to_list()
        return sorted(self.dictionary[dimension][c] for c in codes)


@dataclass(frozen=True)
class BuildStats:
    partitions: int
    rebuilt: int
    reused: int
    rows: int
    rejected_rows: int
    seconds: float


@dataclass(frozen=True)
class _Partition:
    """Tickets built as a unit: one file, a row slice of a big Parquet file, or (dedupe_by) the whole table."""

    files: TableFiles
    offset: int | None
    length: int | None
    rows: int  # for batching; 0 when unknown (CSV), -1 when not read (already cached)
    key: str  # path, size, mtime_ns, slice, mapping, SLA policy and format version


def default_cache_dir(source: str | Path, mapping_file: str | Path | None = None) -> Path:
    """data/cache/rollups/<hash of resolved source and mapping> under BELLWETHER_DATA_DIR (default repo data/)."""
    data_dir = Path(os.environ.get("BELLWETHER_DATA_DIR", REPO_DATA_DIR))
    mapping = str(Path(mapping_file).resolve()) if mapping_file else ""
    digest = hashlib.sha256(f"{Path(source).resolve()}|{mapping}".encode()).hexdigest()[:16]
    return data_dir / "cache" / "rollups" / digest


def build_rollups(
    source: str | Path,
    mapping_file: str | Path | None = None,
    *,
    cache_dir: Path | None = None,
    sla_policy: SlaPolicy | None = None,
) -> tuple[Rollups, BuildStats]:
    """Build (or reuse from the on-disk cache) the rollups of a source's tickets, partition by partition.

    New partitions are aggregated in batches of up to BATCH_ROWS rows (bounded memory) into cached chunks; a
    chunk holding a changed or removed partition is rebuilt from its remaining partitions (`rebuilt` counts
    every partition aggregated again). An unchanged source only loads and sums its chunks.
    """
    started = time.perf_counter()
    mapping = load_mapping(mapping_file)
    policy = sla_policy or load_sla_policy()
    files = locate_tables(source, mapping)["tickets"]
    spec = mapping.table("tickets")
    cache = Path(cache_dir) if cache_dir else default_cache_dir(source, mapping_file)
    _refuse_inside_source(cache, Path(source))
    chunks = cache / "chunks"
    chunks.mkdir(parents=True, exist_ok=True)
    built = _chunk_index(chunks)
    cached = {k for keys in built.values() for k in keys}
    partitions = _partitions(files, _settings_hash(mapping.file, policy), whole=bool(spec.dedupe_by), cached=cached)
    wanted = {p.key for p in partitions}
    for name, keys in built.items():  # a chunk holding a changed or removed partition is rebuilt without it
        if not set(keys) <= wanted:
            shutil.rmtree(chunks / name, ignore_errors=True)
    present = {k for keys in built.values() if set(keys) <= wanted for k in keys}
    todo = [p if p.rows >= 0 else replace(p, rows=_row_count(p.files)) for p in partitions if p.key not in present]
    batches = _batches(todo)
    with ThreadPoolExecutor(1) as reader:  # the next batch is read while this one is aggregated
        checked = reader.submit(_checked_rows, batches[0], spec, frozenset()) if batches else None
        for i, batch in enumerate(batches):
            rows = checked.result()
            if i + 1 < len(batches):
                checked = reader.submit(_checked_rows, batches[i + 1], spec, frozenset())
            _write_chunk(chunks, batch, _build_chunk(batch, spec, policy, frozenset(), rows))
            del rows
        checked = None  # the last batch's rows are not kept through the merge

    signature = hashlib.sha256("|".join(sorted(wanted)).encode()).hexdigest()[:16]
    index = _chunk_index(chunks)
    duplicates = _duplicate_ids(cache, index, partitions, spec)
    if duplicates:  # ticket_ids valid in more than one row: all rejected, as the loader does (re-read each time)
        signature = hashlib.sha256(f"{signature}|{sorted(duplicates)}".encode()).hexdigest()[:16]
        loaded = [([p.key for p in b], _build_chunk(b, spec, policy, duplicates)) for b in _batches(partitions)]
    else:  # memory-mapped from the cache, also the chunks just built: pages stay in the OS cache, not the heap
        loaded = [_read_chunk(chunks / name) for name in index]
    rollups = _merge(loaded, str(source), signature, policy)
    rollups = replace(rollups, read_rows=lambda predicate: _valid_rows(partitions, spec, duplicates, predicate))
    stats = BuildStats(
        partitions=len(partitions),
        rebuilt=len(todo),
        reused=len(partitions) - len(todo),
        rows=rollups.rows,
        rejected_rows=rollups.rejected_rows,
        seconds=time.perf_counter() - started,
    )
    return rollups, stats


def _refuse_inside_source(cache: Path, source: Path) -> None:
    folder = (source if source.is_dir() else source.parent).resolve()
    if cache.resolve().is_relative_to(folder):
        raise SourceError(
            f"The rollup cache {cache} is inside the source folder {folder}; Bellwether never writes there.",
            fix="Pass a cache_dir outside the source, or leave it unset (data/cache/rollups).",
        )


def _settings_hash(mapping_file: Path | None, policy: SlaPolicy) -> str:
    digest = hashlib.sha256(f"v{FORMAT_VERSION}|polars {pl.__version__}|{policy.rules!r}".encode())
    if mapping_file is not None:
        digest.update(mapping_file.read_bytes())
    return digest.hexdigest()[:16]


def _partitions(files: TableFiles, settings: str, *, whole: bool, cached: set[str]) -> list[_Partition]:
    """One partition per file; a Parquet file bigger than BATCH_ROWS is split into row slices.

    Files already `cached` whole are not opened (their row count, only needed to batch them, stays -1).

    With dedupe_by (snapshot extracts) rows of one ticket may sit in different files, so the whole
    table is one partition, rebuilt whenever any file changes."""

    def key(paths: Sequence[Path], offset: int | None, length: int | None) -> str:
        text = "|".join(f"{p.resolve()}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in paths)
        return hashlib.sha256(f"{settings}|{text}|{offset}|{length}".encode()).hexdigest()[:20]

    if whole:
        return [_Partition(files, None, None, 0, key(files.paths, None, None))]
    out = []
    for path in files.paths:
        one = TableFiles(files.table, (path,), files.format, files.hive)
        if key([path], None, None) in cached:
            out.append(_Partition(one, None, None, -1, key([path], None, None)))
            continue
        rows = _row_count(one)
        if rows > BATCH_ROWS:
            for offset in range(0, rows, BATCH_ROWS):
                length = min(BATCH_ROWS, rows - offset)
                out.append(_Partition(one, offset, length, length, key([path], offset, length)))
        else:
            out.append(_Partition(one, None, None, rows, key([path], None, None)))
    return out


def _row_count(files: TableFiles) -> int:
    """Rows of a Parquet file from its footer; 0 (unknown) for CSV."""
    return _footer(files.paths[0])[0] if files.format == "parquet" else 0


def _footer(path: Path) -> tuple[int, tuple[tuple[str, str], ...]]:
    """Rows and columns (name, type) of a Parquet file, read from its footer once per version of the file."""
    stat = path.stat()
    return _footer_of(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=1 << 16)
def _footer_of(path: Path, mtime_ns: int, size: int) -> tuple[int, tuple[tuple[str, str], ...]]:
    meta = validation.parquet_footer(TableFiles("tickets", (path,), "parquet"), path)
    return meta.num_rows, tuple((f.name, str(f.type)) for f in meta.schema.to_arrow_schema())


def _batches(partitions: list[_Partition]) -> list[list[_Partition]]:
    """Consecutive partitions grouped up to BATCH_ROWS rows (CSV files, of unknown size, go alone)."""
    batches: list[list[_Partition]] = []
    rows = 0
    for part in partitions:
        if not batches or not part.rows or not batches[-1][-1].rows or rows + part.rows > BATCH_ROWS:
            batches.append([])
            rows = 0
        batches[-1].append(part)
        rows += part.rows
    return batches


def _valid_tickets(part: _Partition, spec, excluded: frozenset[str]) -> tuple[pl.LazyFrame, tuple[str, ...]]:
    """The partition's rows with the loader's parsing and first failing rule (`_reason`), lazily.

    The same expressions as queries.validation.read_table; the duplicate-key rule needs every partition
    and comes in through `excluded` (ticket_ids valid more than once anywhere)."""
    table = TABLES["tickets"]
    lf = validation.scan_files(part.files, spec)
    if part.offset is not None:
        lf = lf.slice(part.offset, part.length)
    schema = validation.table_schema(lf, part.files)
    columns = validation.resolve_columns(table, schema, spec, part.files)
    lf = lf.filter(~validation.blank_line(part.files, columns.values()))
    raw_names = {f: f"_raw.{f}" for f in columns}
    raw, parsed = [], []
    for name, src in columns.items():
        dtype = schema[src]
        # _reason_expr only asks whether the raw value is empty: for typed columns, whether it is null.
        text = validation.as_text(pl.col(src), dtype) if validation.is_text(dtype) else pl.col(src)
        raw.append(text.alias(raw_names[name]))
        parsed.append(validation.parse_field(table.field(name), pl.col(src), dtype, spec, part.files).alias(name))
    staged = lf.select(*raw, *parsed, validation.written_cutoff(part.files).alias(_CUTOFF)).with_columns(
        validation.reason_expr(table, columns, raw_names).alias(_REASON)
    )
    if excluded:
        duplicated = pl.col(_REASON).is_null() & pl.col("ticket_id").is_in(list(excluded))
        staged = staged.with_columns(
            pl.when(duplicated).then(pl.lit(_DUPLICATE)).otherwise(pl.col(_REASON)).alias(_REASON)
        )
    missing = tuple(f.name for f in table.fields if f.name not in columns)
    staged = staged.with_columns(pl.lit(None, f.kind.dtype).alias(f.name) for f in table.fields if f.name in missing)
    return staged.select(*table.names, _REASON, _CUTOFF), missing


def _checked_rows(
    batch: list[_Partition], spec, excluded: frozenset[str]
) -> tuple[pl.DataFrame, TableReport | None, set[str]]:
    """The batch's rows (used fields, `_reason` and `_cutoff`), the loader's report (dedupe_by: its rejections and
    future rows) and the fields present."""
    needed = [f for f in TABLES["tickets"].names if f in _USED]
    fast = _typed_rows(batch, spec, excluded)
    if fast is not None:
        checked, missing = fast
        return checked.select(*needed, _REASON, _CUTOFF), None, set(TABLES["tickets"].names) - set(missing)
    report = None
    if spec.dedupe_by:  # snapshots: the loader's own eager path over the whole table
        clean, report = validation.read_table(batch[0].files, spec)
        rows = clean.lazy().with_columns(pl.lit(None, pl.String).alias(_REASON), pl.lit(None, _TIME).alias(_CUTOFF))
        present = set(TABLES["tickets"].names) - set(report.missing_fields)
    elif _whole_parquet(batch):  # one scan of all files: far cheaper than one per file
        rows, missing = _valid_tickets(_Partition(_one_scan(batch), None, None, 0, ""), spec, excluded)
        present = set(TABLES["tickets"].names) - set(missing)
    else:
        scans, present = [], set()
        for part in batch:
            lf, missing = _valid_tickets(part, spec, excluded)
            scans.append(lf)
            present |= set(TABLES["tickets"].names) - set(missing)
        rows = pl.concat(scans, how="vertical")
    # Dimensions as Categorical: cheap to turn into the chunk's codes (_build_chunk).
    checked = rows.select(*needed, _REASON, _CUTOFF).with_columns(pl.col(*_CODED).cast(pl.Categorical))
    return _collect(checked, batch), report, present


def _collect(lf: pl.LazyFrame, batch: list[_Partition]) -> pl.DataFrame:
    """The rows, or a SourceError naming the files when the reader fails on them (as the loader's)."""
    try:
        return lf.collect()
    except (pl.exceptions.PolarsError, OSError) as exc:
        paths = tuple(p for part in batch for p in part.files.paths)
        raise validation.read_error(replace(batch[0].files, paths=paths), exc) from None


def _whole_parquet(batch: list[_Partition]) -> bool:
    """True for whole Parquet files (no slices) that all have the same columns and types."""
    if any(p.files.format != "parquet" or p.offset is not None for p in batch):
        return False
    schemas = {_footer(p.files.paths[0])[1] for p in batch}
    return len(schemas) == 1


def _one_scan(batch: list[_Partition]) -> TableFiles:
    return TableFiles("tickets", tuple(p.files.paths[0] for p in batch), "parquet", batch[0].files.hive)


def _typed_rows(
    batch: list[_Partition], spec, excluded: frozenset[str], predicate: pl.Expr | None = None
) -> tuple[pl.DataFrame, tuple[str, ...]] | None:
    """The lean path for Parquet already in the contract's types and names (no mapping): the loader's rules as
    cheap expressions on the typed columns, in one pass, text read as Categorical and checked once per
    distinct value.

    None when the batch does not qualify (CSV, mapped or differently typed columns, or text that the loader
    would trim or blank out): the caller then takes the loader-equivalent path. `predicate` (on typed,
    unparsed columns only) is pushed into the scan."""
    if spec.columns or spec.values or spec.dedupe_by or not _whole_parquet(batch):
        return None
    table = TABLES["tickets"]
    files = _one_scan(batch)
    lf = validation.scan_files(files, spec)
    schema = validation.table_schema(lf, files)
    present = [f.name for f in table.fields if f.name in schema]
    if any(schema[name] != table.field(name).kind.dtype for name in present) or "ticket_id" not in present:
        return None
    used = [f for f in present if f in _USED]
    text = [f for f in used if table.field(f).kind == Kind.STRING and f != "ticket_id"]
    typed = [f for f in used if f not in text and f != "ticket_id"]
    raw = {f: f for f in text} | {f: f"_raw.{f}" for f in typed} | {"ticket_id": "ticket_id"}
    lf = lf if predicate is None else lf.filter(predicate)
    staged = lf.select(
        validation.as_text(pl.col("ticket_id"), pl.String).alias("ticket_id"),
        *(pl.col(f).cast(pl.Categorical) if f in _CODED else pl.col(f) for f in text),
        *(pl.col(f).alias(raw[f]) for f in typed),
        validation.written_cutoff(files).alias(_CUTOFF),
    ).with_columns(
        validation.parse_field(table.field(f), pl.col(raw[f]), schema[f], spec, files).alias(f) for f in typed
    )
    reason = validation.reason_expr(table, {f: f for f in used}, raw)
    if excluded:
        duplicated = pl.col("ticket_id").is_in(list(excluded))
        reason = pl.when(reason.is_null() & duplicated).then(pl.lit(_DUPLICATE)).otherwise(reason)
    missing = tuple(f for f in table.names if f not in present)
    absent = [f for f in _USED if f not in present]
    staged = staged.with_columns(
        reason.alias(_REASON),
        *(pl.lit(None, table.field(f).kind.dtype).alias(f) for f in absent if f not in _CODED),
        *(pl.lit(None, pl.String).cast(pl.Categorical).alias(f) for f in absent if f in _CODED),
    )
    rows = _collect(staged.select(*[f for f in table.names if f in _USED], _REASON, _CUTOFF), batch)
    for name in text:  # a value the loader would trim, blank or fold: take its path (rare, so checked per value)
        values = rows[name].unique().drop_nulls().cast(pl.String)
        if (values != values.str.strip_chars()).any() or (values == "").any():
            return None
        if table.field(name).values and validation.known_after_folding(table.field(name), values):
            return None
    return rows, missing


def _valid_rows(partitions: list[_Partition], spec, excluded: frozenset[str], predicate: pl.Expr) -> pl.DataFrame:
    """Valid rows (the fields rollups use, text as String) matching a predicate on typed columns (e.g. a date
    range, pushed into the Parquet scan), with the same rules as the build."""
    batches = [partitions] if _whole_parquet(partitions) else [[p] for p in partitions]
    frames = []
    for batch in batches:
        fast = _typed_rows(batch, spec, excluded, predicate)
        if fast is None:
            checked, _, _ = _checked_rows(batch, spec, excluded)
            frames.append(checked.filter(pl.col(_REASON).is_null() & predicate))
        else:
            frames.append(fast[0].filter(pl.col(_REASON).is_null()))
    return pl.concat(frames).drop(_REASON, _CUTOFF).with_columns(pl.col(_CODED).cast(pl.String))


def _bounds(frame: pl.DataFrame, columns: Sequence[str]) -> dict[str, tuple[int, int]]:
    """Smallest and largest physical value (Date: days; integers, such as codes, as they are) of each column."""
    got = frame.select(
        *(pl.col(c).to_physical().cast(pl.Int64).min().alias(f"{c}.min") for c in columns),
        *(pl.col(c).to_physical().cast(pl.Int64).max().alias(f"{c}.max") for c in columns),
    ).row(0, named=True)
    return {c: (got[f"{c}.min"] or 0, got[f"{c}.max"] or 0) for c in columns}


def _grouped(
    frame: pl.DataFrame, keys: list[str], aggs: list[pl.Expr], bounds: dict[str, tuple[int, int]]
) -> pl.LazyFrame:
    """frame grouped by keys (Date or integer columns within `bounds`) with aggs, lazily.

    The keys are packed into one UInt64 (each as its physical value − low + 1, 0 for null) and unpacked
    from it after grouping: grouping on one integer is several times faster than on six columns."""
    widths = [(bounds[k][1] - bounds[k][0] + 2).bit_length() for k in keys]
    if sum(widths) > 63:
        return frame.lazy().group_by(keys).agg(aggs)
    packed, shifts = pl.lit(0, pl.UInt64), []
    for key, width in zip(keys, widths, strict=True):
        code = pl.col(key).to_physical().cast(pl.Int64) - bounds[key][0] + 1
        packed = packed * (1 << width) + code.fill_null(0).cast(pl.UInt64)
        shifts.append(sum(widths) - sum(widths[: len(shifts) + 1]))
    unpacked = []
    for key, width, shift in zip(keys, widths, shifts, strict=True):
        code = (pl.col("_key") // (1 << shift) % (1 << width)).cast(pl.Int64)
        value = pl.when(code > 0).then(code - 1 + bounds[key][0])
        unpacked.append(value.cast(frame.schema[key]).alias(key))
    grouped = frame.lazy().group_by(packed.alias("_key")).agg(aggs)
    return grouped.select(*unpacked, pl.exclude("_key"))


def _dense(codes: pl.Series, size: int) -> tuple[np.ndarray, pl.Series]:
    """A code column (codes 0…size−1 or null) as numbers with null as `size`, and the code each number stands for."""
    numbers = codes.fill_null(size) if codes.null_count() else codes
    return numbers.to_numpy(), pl.Series(codes.name, [*range(size), None], pl.UInt32)


def _histograms(
    days: np.ndarray, buckets: dict[int, np.ndarray], dense: dict[str, tuple[np.ndarray, pl.Series]]
) -> dict[tuple[str, ...], pl.DataFrame]:
    """Per histogram level, (day, dimension, bucket, measure, count) of each measure's buckets (−1: no value).

    `days` are days since 1970 of every row. Counted with numpy.bincount over a dense day × dimension × bucket
    index (scanning even a sparse index is faster than hashing it), or with a hash group-by on the same index
    when it would not fit in memory; bucket slot 0 of every cell collects the rows without a value. The level
    without dimensions is the sum of the first dimension's level."""
    first_day = int(days.min()) if days.size else 0
    n_days = int(days.max()) - first_day + 1 if days.size else 1
    slots = {m: b.astype(np.intp) + 1 for m, b in buckets.items()}
    width = max((int(b.max()) for b in slots.values() if b.size), default=0) + 1
    offset = days.astype(np.intp) - first_day
    out = {}
    for level in _HIST_LEVELS[1:]:
        codes, values = dense[level[0]]
        n_cells = n_days * values.len() * width
        base = (offset * values.len() + codes) * width
        frames = []
        for measure, slot in slots.items():
            index = base + slot
            if n_cells <= _DENSE_CELLS:
                counts = np.bincount(index, minlength=n_cells)
                cells = np.flatnonzero(counts)
                cells = cells[cells % width != 0]
                counts = counts[cells]
            else:
                grouped = pl.DataFrame({"i": index}).group_by("i").len().filter(pl.col("i") % width != 0)
                cells, counts = grouped["i"].to_numpy(), grouped["len"].to_numpy()
            cell, slot_of = np.divmod(cells, width)
            day, code = np.divmod(cell, values.len())
            frames.append(
                pl.DataFrame(
                    {
                        "day": pl.Series((day + first_day).astype(np.int32)).cast(pl.Date),
                        level[0]: values.gather(code),
                        "bucket": (slot_of - 1).astype(np.int16),
                        "measure": np.full(cells.size, measure, np.uint8),
                        "count": counts.astype(np.uint32),
                    }
                )
            )
        out[level] = pl.concat(frames)
    first = out[_HIST_LEVELS[1]].drop(_HIST_LEVELS[1][0])
    out[()] = first.group_by("day", "bucket", "measure").agg(pl.col("count").sum()).select(first.columns)
    return out


def _build_chunk(
    batch: list[_Partition],
    spec,
    policy: SlaPolicy,
    excluded: frozenset[str],
    rows: tuple[pl.DataFrame, TableReport | None, set[str]] | None = None,
) -> dict:
    """Aggregate a batch of partitions (`rows`: its _checked_rows, when already read) into one chunk of every
    rollup table."""
    checked, loader_report, present = rows or _checked_rows(batch, spec, excluded)
    dims = list(_FULL)
    # Text keys become UInt32 codes into the chunk's dictionary (sorted values) before anything is grouped.
    dictionary = {c: checked[c].drop_nulls().unique().cast(pl.String).sort() for c in dims}
    dictionary["sla_rule"] = pl.Series(sorted({rule.name for rule in policy.rules}), dtype=pl.String)
    rule_codes = pl.Series([dictionary["sla_rule"].index_of(rule.name) for rule in policy.rules], dtype=pl.UInt32)
    acted = pl.col("first_action_at").is_not_null()
    human = ~pl.col("automated").fill_null(False)
    ttfa_us = (pl.col("first_action_at") - pl.col("created_at")).dt.total_microseconds()
    ttc_us = (pl.col("closed_at") - pl.col("created_at")).dt.total_microseconds()
    # Materialised once: every aggregate below groups these columns (days, buckets and SLA rule precomputed).
    valid = checked.lazy().filter(pl.col(_REASON).is_null()).drop(_REASON, _CUTOFF)
    rows = (
        with_sla_outcome(valid, policy, dt.datetime(1970, 1, 1), rule_codes)
        .with_columns(  # as_of only matters for waiting
            pl.col("created_at").dt.date().alias("day"),
            pl.col("first_action_at").dt.date().alias("_action_day"),
            # Histogram day of handle times: the first-action day (the created day where there is none:
            # those rows have no handle bucket, so it only keeps the index non-negative).
            pl.col("first_action_at").fill_null(pl.col("created_at")).dt.date().cast(pl.Int32).alias("_hist_day"),
            pl.col("closed_at").dt.date().alias("_closed_day"),
            ttfa_us.alias("_ttfa_us"),
            ttc_us.alias("_ttc_us"),
            bucket_expr(ttfa_us / _US).fill_null(-1).cast(pl.Int16).alias(f"_b{_TTFA}"),
            bucket_expr(ttc_us / _US).fill_null(-1).cast(pl.Int16).alias(f"_b{_TTC}"),
            bucket_expr(pl.when(acted).then(pl.col("views_before_action").cast(pl.Float64)))
            .fill_null(-1)
            .cast(pl.Int16)
            .alias(f"_b{_VIEWS}"),
            bucket_expr(pl.when(acted & human).then(pl.col("handle_seconds")))
            .fill_null(-1)
            .cast(pl.Int16)
            .alias("_bh"),
            pl.col("source").is_in(PROACTIVE_SOURCES).alias("_proactive"),
        )
        .with_columns(pl.col(c).cast(pl.Enum(dictionary[c])).to_physical().cast(pl.UInt32) for c in dims)
        .collect()
    )
    # One range for the three day columns, so the coarser levels (keyed by `day`) reuse the same bounds.
    bounds = _bounds(rows, [*dims, "sla_rule", "day", "_action_day", "_closed_day"])
    days = [(bounds.pop(c), rows[c].null_count() < rows.height) for c in ("day", "_action_day", "_closed_day")]
    days = [span for span, seen in days if seen] or [(0, 0)]
    bounds["day"] = bounds["_action_day"] = bounds["_closed_day"] = (
        min(low for low, _ in days),
        max(high for _, high in days),
    )
    ttfa_us, ttc_us = pl.col("_ttfa_us"), pl.col("_ttc_us")
    views = pl.col("views_before_action")
    appealed = pl.col("decision").is_not_null() & pl.col("appealed").fill_null(False)
    created_counts = _grouped(
        rows,
        ["day", *dims],
        [
            pl.len().alias("tickets"),
            pl.col("source").is_not_null().sum().alias("known_source"),
            pl.col("_proactive").sum().alias("proactive"),
            pl.col("automated").is_not_null().sum().alias("known_automated"),
            pl.col("automated").fill_null(False).sum().alias("automated"),
            pl.col("decision").is_not_null().sum().alias("decided"),
            appealed.sum().alias("appealed"),
            (appealed & pl.col("appeal_overturned").fill_null(False)).sum().alias("overturned"),
            acted.sum().alias("acted"),
            (acted & (ttfa_us <= 24 * HOUR_US)).sum().alias("within_24h"),
            (acted & views.is_not_null()).sum().alias("views_known"),
            (acted & (views == 0)).sum().alias("zero_views"),
            (ttfa_us >= 0).sum().alias("ttfa_measured"),
            pl.when(ttfa_us >= 0).then(ttfa_us).sum().alias("ttfa_sum_us"),
            (ttc_us >= 0).sum().alias("ttc_measured"),
            pl.when(ttc_us >= 0).then(ttc_us).sum().alias("ttc_sum_us"),
        ],
        bounds,
    )
    handle = pl.col("handle_seconds")
    actioned = _grouped(
        rows,
        ["_action_day", *dims],
        [
            pl.len().alias("actioned"),
            human.sum().alias("human"),
            (human & handle.is_not_null()).sum().alias("reviews"),
            pl.when(human).then(handle).sum().alias("handle_sum_seconds"),
        ],
        bounds,
    ).rename({"_action_day": "day"})
    closed = _grouped(rows, ["_closed_day", *dims], [pl.len().alias("closures")], bounds)
    closed = closed.rename({"_closed_day": "day"})
    # Grouped over every row (no filtered copy of the batch); the group without an action or a closing day goes.
    actioned, closed = (t.filter(pl.col("day").is_not_null()) for t in (actioned, closed))
    sla = _grouped(
        rows,
        ["day", *dims, "sla_rule"],
        [
            pl.len().alias("tickets"),
            (pl.col("sla_target_seconds").is_not_null() & acted).sum().alias("acted_with_target"),
            pl.col("sla_met_policy").sum().alias("met"),
        ],
        bounds,
    )
    waiting = (
        rows.lazy()
        .filter(pl.col("sla_target_seconds").is_not_null() & ~acted)
        .select("created_at", *_FULL, "sla_rule", "sla_target_seconds")
    )
    ids = rows.lazy().select(pl.col("ticket_id").hash().alias(_ID_HASH)).sort(_ID_HASH)
    rejected = checked.lazy().filter(pl.col(_REASON).is_not_null()).group_by(_REASON).agg(pl.len().alias("rows"))
    current = _current(checked, loader_report)
    # Polars runs the group-bys in a thread (it releases the GIL) while numpy counts the histograms.
    with ThreadPoolExecutor(1) as pool:
        grouped = pool.submit(pl.collect_all, [created_counts, actioned, closed, sla, waiting, ids, rejected, current])
        dense = {d: _dense(rows[d], dictionary[d].len()) for d in _FULL}
        measures = {m: rows[f"_b{m}"].to_numpy() for m in (_TTFA, _TTC, _VIEWS)}
        created_hists = _histograms(rows["day"].cast(pl.Int32).to_numpy(), measures, dense)
        handle_hists = _histograms(rows["_hist_day"].to_numpy(), {0: rows["_bh"].to_numpy()}, dense)
        frames = grouped.result()
    names = ("created", "actioned", "closed", "sla", "waiting", "ids", "rejected", "current")
    out = dict(zip(names, frames, strict=True))
    for level in _HIST_LEVELS:
        out[_level_name("created_hist", level)] = created_hists[level]
        out[_level_name("handle_hist", level)] = handle_hists[level].drop("measure")
    if loader_report is not None and loader_report.rejections:
        out["rejected"] = pl.DataFrame(
            [(r.reason, r.rows) for r in loader_report.rejections],
            schema={_REASON: pl.String, "rows": pl.Int64},
            orient="row",
        )
    out["present"] = pl.DataFrame({"field": sorted(present)}, schema={"field": pl.String})
    coarser, targets = [], []
    for level in LEVELS[1:]:
        for name in _COUNT_TABLES:
            keys = ["day", *level, *(["sla_rule"] if name == "sla" else [])]
            values = [c for c in out[name].columns if c not in _FULL and c not in ("day", "sla_rule")]
            coarser.append(_grouped(out[name], keys, [pl.col(values).sum()], bounds))
            targets.append(_level_name(name, level))
    out.update(zip(targets, pl.collect_all(coarser), strict=True))
    # Each column's codes number its sorted values: (column, value) rows in code order.
    out["dictionary"] = pl.DataFrame(
        {
            "column": [c for c in _ENCODED for _ in range(dictionary[c].len())],
            "value": pl.concat([dictionary[c] for c in _ENCODED]),
        },
        schema={"column": pl.String, "value": pl.String},
    )
    return out


def _current(checked: pl.DataFrame, loader_report: TableReport | None) -> pl.LazyFrame:
    """One row: the newest created_at not in the future, how many valid rows are in the future and the data's
    "now" (as the loader's report: `latest`, `rows_in_future`, `as_of`; with dedupe_by, that report itself)."""
    schema = {"latest_created": _TIME, "in_future": pl.Int64, "as_of": _TIME}
    if loader_report is not None:
        values = (loader_report.latest, loader_report.rows_in_future, loader_report.as_of)
        return pl.LazyFrame([[v] for v in values], schema=schema)
    valid = checked.lazy().filter(pl.col(_REASON).is_null())
    created = pl.col("created_at")
    return valid.select(
        created.filter(~(created > pl.col(_CUTOFF)).fill_null(False)).max().alias("latest_created"),
        validation.in_future(TABLES["tickets"], checked.columns).sum().cast(pl.Int64).alias("in_future"),
        validation.newest_current(TABLES["tickets"], checked.columns).alias("as_of"),
    )


def _level_name(table: str, level: tuple[str, ...]) -> str:
    return table if level == _FULL else f"{table}@{','.join(level) or '-'}"


def _chunk_index(chunks: Path) -> dict[str, list[str]]:
    """Complete chunks: name -> the keys of the partitions it holds. Drops leftovers of interrupted builds."""
    out = {}
    for folder in sorted(chunks.iterdir()):
        meta = folder / "parts.json"
        if folder.name.startswith("."):  # being written by a build (ours or a concurrent one)
            if time.time() - folder.stat().st_mtime > 3600:
                shutil.rmtree(folder, ignore_errors=True)
        elif meta.exists():
            out[folder.name] = json.loads(meta.read_text(encoding="utf-8"))
        else:
            shutil.rmtree(folder, ignore_errors=True)
    return out


def _write_chunk(chunks: Path, batch: list[_Partition], frames: dict[str, pl.DataFrame]) -> str:
    """Write a chunk under a temporary name and rename it into place, so readers never see half a chunk."""
    name = hashlib.sha256("|".join(p.key for p in batch).encode()).hexdigest()[:20]
    staging = chunks / f".{name}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for table, frame in frames.items():
        frame.write_ipc(staging / f"{table}.arrow", compression="uncompressed")
    (staging / "parts.json").write_text(json.dumps([p.key for p in batch]), encoding="utf-8")
    try:
        staging.rename(chunks / name)
    except OSError:  # a concurrent build wrote the same chunk first: same inputs, same content
        shutil.rmtree(staging, ignore_errors=True)
    return name


def _read_chunk(folder: Path) -> tuple[list[str], dict[str, pl.DataFrame]]:
    """A cached chunk's tables, memory-mapped (uncompressed Arrow of plain types: nothing is copied)."""
    keys = json.loads((folder / "parts.json").read_text(encoding="utf-8"))
    return keys, {p.stem: _mapped(p) for p in folder.glob("*.arrow") if p.stem != "ids"}


def _mapped(path: Path) -> pl.DataFrame:
    return pl.from_arrow(ipc.open_file(pa.memory_map(str(path))).read_all(), rechunk=False)


def _duplicate_ids(cache: Path, index: dict[str, list[str]], partitions: list[_Partition], spec) -> frozenset[str]:
    """ticket_ids valid in more than one row anywhere in the source: hashes first, then the exact ids.

    The answer is cached per set of chunks (a chunk's name hashes its partitions). When chunks were only added
    since the last answer (a new day), only the new chunks' hashes are compared: among themselves (sorted,
    neighbours) and with each older chunk's sorted hashes (binary search), so an incremental update does not
    sort every id again."""
    if spec.dedupe_by:
        return frozenset()
    names = sorted(index)
    answer = cache / f"duplicates-{hashlib.sha256('|'.join(names).encode()).hexdigest()[:16]}.json"
    if answer.exists():
        return frozenset(json.loads(answer.read_text(encoding="utf-8"))["duplicates"])
    old: list[str] = []
    known: set[str] = set()
    for previous in cache.glob("duplicates-*.json"):
        content = json.loads(previous.read_text(encoding="utf-8"))
        if isinstance(content, dict) and set(content["chunks"]) <= set(names):
            old, known = content["chunks"], set(content["duplicates"])

    def hashes(name: str) -> np.ndarray:  # stored sorted by _build_chunk
        return _mapped(cache / "chunks" / name / "ids.arrow")[_ID_HASH].to_numpy()

    new = np.sort(np.concatenate([hashes(n) for n in names if n not in old] or [np.zeros(0, np.uint64)]))
    suspects = set(new[1:][new[1:] == new[:-1]].tolist())
    for name in old if new.size else []:
        ids = hashes(name)
        if ids.size:
            suspects |= set(new[ids[np.searchsorted(ids, new).clip(max=ids.size - 1)] == new].tolist())
    duplicates = set(known)
    if suspects:
        wanted = pl.Series(_ID_HASH, sorted(suspects), dtype=pl.UInt64).implode()
        found = [
            _valid_tickets(part, spec, frozenset())[0]
            .filter(pl.col(_REASON).is_null() & pl.col("ticket_id").hash().is_in(wanted))
            .select("ticket_id")
            for part in partitions
        ]
        ids = pl.concat(found).collect()["ticket_id"]
        duplicates |= set(ids.filter(ids.is_duplicated()).to_list())
    for stale in cache.glob("duplicates-*.json"):
        stale.unlink()
    answer.write_text(json.dumps({"chunks": names, "duplicates": sorted(duplicates)}), encoding="utf-8")
    return frozenset(duplicates)


def _merge(
    chunks: list[tuple[list[str], dict[str, pl.DataFrame]]],
    source: str,
    signature: str,
    policy: SlaPolicy,
) -> Rollups:
    """The chunks' tables, one per name, with codes into one dictionary."""
    dictionary = {
        c: tuple(sorted({v for _, f in chunks for v in f["dictionary"].filter(pl.col("column") == c)["value"]}))
        for c in _ENCODED
    }
    chunks = [(keys, _recoded(frames, dictionary)) for keys, frames in chunks]

    def combined(name: str) -> pl.DataFrame:
        """Chunks are stacked, not summed: every query sums its rows by its own keys anyway."""
        return pl.concat([frames[name] for _, frames in chunks], how="vertical_relaxed", rechunk=False)

    levels = {}
    for level in LEVELS:
        tables = {n: combined(_level_name(n, level)) for n in _COUNT_TABLES}
        hists = {n: combined(_level_name(n, level)) if level in _HIST_LEVELS else None for n in _HIST_TABLES}
        levels[level] = Level(level, **tables, **hists)
    waiting = combined("waiting")
    rejected = combined("rejected").group_by(_REASON).agg(pl.col("rows").sum())
    rejections = dict(zip(rejected[_REASON].to_list(), rejected["rows"].to_list(), strict=True))
    current = combined("current").select(pl.col("latest_created", "as_of").max(), pl.col("in_future").sum())
    present = {f for _, frames in chunks for f in frames["present"]["field"].to_list()}
    created = levels[()].created
    return Rollups(
        source=source,
        signature=signature,
        levels=levels,
        sla=levels[_FULL].sla,
        sla_waiting=waiting,
        sla_policy=policy,
        as_of=current["as_of"][0],
        dictionary=dictionary,
        rows=int(created["tickets"].sum()) if created.height else 0,
        rejected_rows=sum(rejections.values()),
        rejections=rejections,
        missing_fields=tuple(f for f in TABLES["tickets"].names if f not in present),
        latest_created=current["latest_created"][0],
        rows_in_future=int(current["in_future"][0] or 0),
    )


def _recoded(frames: dict[str, pl.DataFrame], dictionary: dict[str, tuple[str, ...]]) -> dict[str, pl.DataFrame]:
    """A chunk's tables with their codes renumbered into `dictionary` (as they are when the chunk saw every value)."""
    own = frames["dictionary"]
    mappings = {}
    for c in _ENCODED:
        values = own.filter(pl.col("column") == c)["value"].to_list()
        if tuple(values) != dictionary[c]:
            position = {v: i for i, v in enumerate(dictionary[c])}
            mappings[c] = pl.col(c).replace_strict(
                list(range(len(values))), [position[v] for v in values], return_dtype=pl.UInt32
            )
    if not mappings:
        return frames
    return {
        name: frame.with_columns(m for c, m in mappings.items() if c in frame.columns) for name, frame in frames.items()
    }


# ---------------------------------------------------------------------------------------------------------------
# Queries


def rollup_summary(
    r: Rollups,
    metric: str,
    filters: Filters,
    by: Sequence[str] = (),
    period: str | None = None,
    *,
    sla_policy: SlaPolicy | None = None,
) -> pl.DataFrame:
    """One metric from the rollups: the same columns, dtypes and sort as queries.metrics.summarize."""
    if metric not in ROLLUP_METRICS:
        supported = ", ".join(ROLLUP_METRICS)
        raise ValueError(f"{metric!r} cannot be answered from rollups; they answer {supported}")
    by = list(by)
    unknown = [b for b in by if b not in ROLLUP_DIMENSIONS and not (metric == "sla" and b == "sla_rule")]
    if unknown:
        raise ValueError(f"rollups group only by {', '.join(ROLLUP_DIMENSIONS)}, not {', '.join(unknown)}")
    if metric == "sla" and sla_policy is not None and sla_policy.rules != r.sla_policy.rules:
        raise ValueError(
            "the rollups were built with another SLA policy; pass it as build_rollups(..., sla_policy=...)"
        )
    keys = by + (["period"] if period else [])
    out = _QUERIES[metric](r, filters, by, period, keys)
    out = out.select(*keys, *METRICS[metric].fields).with_columns(  # codes back to text (exact answers have text)
        pl.lit(pl.Series(r.dictionary[k], dtype=pl.String)).gather(pl.col(k)).alias(k)
        for k in by
        if out.schema[k] == pl.UInt32
    )
    return out.sort(keys) if keys else out


def level_for(r: Rollups, filters: Filters, by: Sequence[str], *, histograms: bool = False) -> Level | None:
    """The smallest rollup keyed by every dimension the query filters or groups on (with `histograms`, among
    those that carry them: None when more than one dimension is involved)."""
    needed = set(filters.selections()) | set(by)
    fitting = [
        lv for dims, lv in r.levels.items() if needed <= set(dims) and (lv.created_hist is not None or not histograms)
    ]
    return min(fitting, key=lambda lv: lv.created.height) if fitting else None


def _rows_affordable(r: Rollups, metric: str, filters: Filters) -> bool:
    """True when the rows an exact answer would read (every ticket of the selected days) are at most
    EXACT_ROWS_LIMIT; otherwise percentiles over several dimensions are left null (docs/rollups.md)."""
    table, column = (
        (r.levels[()].actioned, "actioned") if metric == "handle_time" else (r.levels[()].created, "tickets")
    )
    days = table.filter((pl.col("day") >= filters.start) & (pl.col("day") <= filters.end))
    return r.read_rows is not None and int(days[column].sum()) <= EXACT_ROWS_LIMIT


def _from_rows(r: Rollups, metric: str, filters: Filters, by: list[str], period: str | None) -> pl.DataFrame:
    """The metric computed exactly from the source's rows (percentiles filtered or grouped by two or more
    dimensions, which the histograms do not cover): only rows of the selected days are read, at most
    EXACT_ROWS_LIMIT (checked by the caller with _rows_affordable)."""
    if r.read_rows is None:
        raise ValueError(f"{metric} by {', '.join(by) or 'filters'} on several dimensions needs the source's rows")
    day = "first_action_at" if metric == "handle_time" else "created_at"
    rows = r.read_rows(filters.in_period(day))
    ds = Dataset(r.source, None, r.signature, {"tickets": rows}, {})
    return summarize(ds, metric, filters, by, period)


def _in_groups(r: Rollups, filters: Filters) -> pl.Expr:
    """filters.dimension_expr() on the rollups' codes: a value the rollups never saw matches nothing."""
    expr = pl.lit(True)
    for name, values in filters.selections().items():
        position = {v: i for i, v in enumerate(r.dictionary[name])}
        codes = pl.Series([position[v] for v in values if v in position], dtype=pl.UInt32)
        expr = expr & pl.col(name).is_in(codes.implode())
    return expr


def _select(r: Rollups, frame: pl.DataFrame, filters: Filters, period: str | None) -> pl.LazyFrame:
    lf = frame.lazy().filter((pl.col("day") >= filters.start) & (pl.col("day") <= filters.end) & _in_groups(r, filters))
    return lf.with_columns(period_expr("day", period)) if period else lf


def _sum(lf: pl.LazyFrame, keys: list[str], columns: list[str]) -> pl.DataFrame:
    """Sums by keys; counts (stored as UInt32 to save memory) are summed as Int64."""
    lf = lf.with_columns((cs.by_name(columns) & cs.integer()).cast(pl.Int64))
    aggs = [pl.col(c).sum() for c in columns]
    return (lf.group_by(keys).agg(aggs) if keys else lf.select(aggs)).collect()


def _volume(r, filters, by, period, keys):
    return _sum(_select(r, level_for(r, filters, by).created, filters, period), keys, ["tickets"])


def _actioned(r, filters, by, period, keys):
    return _sum(_select(r, level_for(r, filters, by).actioned, filters, period), keys, ["actioned"])


def _with_percentiles(
    base: pl.DataFrame, hist: pl.LazyFrame | None, keys: list[str], names: list[str], scale: float
) -> pl.DataFrame:
    """base with the histogram's percentiles; null ones when there is no histogram (see _rows_affordable)."""
    if hist is None:
        return base.with_columns(pl.lit(None, pl.Float64).alias(n) for n in names)
    pct = percentiles(hist, keys, [0.5, 0.9], names).with_columns(pl.col(names) / scale).collect()
    if not keys:
        return pl.concat([base, pct], how="horizontal")
    return base.join(pct, on=keys, how="left", nulls_equal=True)


def _duration(metric: str, measure: int, measured: str, total: str):
    def compute(r, filters, by, period, keys):
        level = level_for(r, filters, by, histograms=True)
        if level is None and _rows_affordable(r, metric, filters):
            return _from_rows(r, metric, filters, by, period)
        level = level or level_for(r, filters, by)
        base = _sum(_select(r, level.created, filters, period), keys, ["tickets", measured, total])
        base = base.with_columns(
            pl.when(pl.col(measured) > 0).then(pl.col(total) / pl.col(measured) / HOUR_US).alias("mean_hours")
        ).rename({measured: "measured"})
        hist = level.created_hist
        hist = None if hist is None else _select(r, hist, filters, period).filter(pl.col("measure") == measure)
        return _with_percentiles(base, hist, keys, ["p50_hours", "p90_hours"], 3600.0)

    return compute


def _proactive(r, filters, by, period, keys):
    out = _sum(
        _select(r, level_for(r, filters, by).created, filters, period), keys, ["tickets", "known_source", "proactive"]
    )
    return out.with_columns(ratio("proactive", "known_source").alias("proactive_share"))


def _appeals(r, filters, by, period, keys):
    created = _select(r, level_for(r, filters, by).created, filters, period)
    out = _sum(created, keys, ["decided", "appealed", "overturned"])
    out = out.rename({"decided": "tickets"})
    out = out.filter(pl.col("tickets") > 0) if keys else out
    return out.with_columns(
        ratio("appealed", "tickets").alias("appeal_rate"), ratio("overturned", "appealed").alias("overturn_rate")
    )


def _automation(r, filters, by, period, keys):
    created = _select(r, level_for(r, filters, by).created, filters, period)
    out = _sum(created, keys, ["tickets", "known_automated", "automated"])
    out = out.rename({"known_automated": "known"})
    return out.with_columns(ratio("automated", "known").alias("automated_share"))


def _exposure(r, filters, by, period, keys):
    level = level_for(r, filters, by, histograms=True)
    if level is None and _rows_affordable(r, "exposure", filters):
        return _from_rows(r, "exposure", filters, by, period)
    level = level or level_for(r, filters, by)
    base = _sum(_select(r, level.created, filters, period), keys, ["acted", "within_24h", "views_known", "zero_views"])
    base = base.rename({"acted": "tickets"})
    base = base.filter(pl.col("tickets") > 0) if keys else base
    base = base.with_columns(
        ratio("zero_views", "views_known").alias("zero_view_share"),
        ratio("within_24h", "tickets").alias("within_24h_share"),
    )
    hist = level.created_hist
    hist = None if hist is None else _select(r, hist, filters, period).filter(pl.col("measure") == _VIEWS)
    return _with_percentiles(base, hist, keys, ["p50_views", "p90_views"], 1.0)


def _handle_time(r, filters, by, period, keys):
    level = level_for(r, filters, by, histograms=True)
    if level is None and _rows_affordable(r, "handle_time", filters):
        return _from_rows(r, "handle_time", filters, by, period)
    level = level or level_for(r, filters, by)
    base = _sum(_select(r, level.actioned, filters, period), keys, ["human", "reviews", "handle_sum_seconds"])
    base = base.filter(pl.col("human") > 0) if keys else base
    base = base.with_columns(
        pl.when(pl.col("reviews") > 0)
        .then(pl.col("handle_sum_seconds") / pl.col("reviews"))
        .alias("mean_handle_seconds"),
        (pl.col("handle_sum_seconds").fill_null(0.0) / 3600).alias("handle_hours"),
    )
    hist = None if level.handle_hist is None else _select(r, level.handle_hist, filters, period)
    return _with_percentiles(base, hist, keys, ["p50_handle_seconds", "p90_handle_seconds"], 1.0)


def _sla(r, filters, by, period, keys):
    level = level_for(r, filters, [b for b in by if b != "sla_rule"])
    counts = _sum(_select(r, level.sla, filters, period), keys, ["tickets", "acted_with_target", "met"])
    waiting = r.sla_waiting.lazy().filter(
        filters.in_period("created_at")
        & _in_groups(r, filters)
        & ((pl.lit(r.as_of) - pl.col("created_at")).dt.total_microseconds() / 1e6 > pl.col("sla_target_seconds"))
    )
    if period:
        waiting = waiting.with_columns(period_expr("created_at", period))
    late = _sum(waiting.with_columns(pl.lit(1).alias("late")), keys, ["late"])
    out = (
        counts.join(late, on=keys, how="left", nulls_equal=True)
        if keys
        else pl.concat([counts, late], how="horizontal")
    )
    out = out.with_columns((pl.col("acted_with_target") + pl.col("late").fill_null(0)).alias("measured"))
    return out.with_columns(ratio("met", "measured").alias("attainment"))


def _cumulative(
    r: Rollups, frame: pl.DataFrame, filters: Filters, before: dt.date, keys: list[str], column: str
) -> pl.DataFrame:
    """Sum of `column` over days before `before` (exclusive) in the selected groups."""
    lf = frame.lazy().filter((pl.col("day") < before) & _in_groups(r, filters))
    return _sum(lf, keys, [column])


def _open_backlog(r, filters, by, period, keys):
    if period:
        raise ValueError("open_backlog is a point-in-time figure at the end of the period; use it without --period")
    level = level_for(r, filters, by)
    end = filters.end + dt.timedelta(days=1)
    created = _cumulative(r, level.created, filters, end, by, "tickets")
    closed = _cumulative(r, level.closed, filters, end, by, "closures")
    if not by:
        return pl.DataFrame({"open_tickets": [created["tickets"][0] - closed["closures"][0]]})
    out = created.join(closed, on=by, how="left", nulls_equal=True).with_columns(
        (pl.col("tickets") - pl.col("closures").fill_null(0)).alias("open_tickets")
    )
    return out.filter(pl.col("open_tickets") > 0)


def _backlog(r, filters, by, period, keys):
    """Open tickets at midnight t = created before t − closed before t (valid rows close after they open)."""
    level = level_for(r, filters, by)
    windows = period_windows(filters, period)
    start, end = filters.start, filters.end + dt.timedelta(days=1)
    created_before = _cumulative(r, level.created, filters, start, by, "tickets").rename({"tickets": "c0"})
    closed_before = _cumulative(r, level.closed, filters, start, by, "closures").rename({"closures": "k0"})
    created_to_end = _cumulative(r, level.created, filters, end, by, "tickets").rename({"tickets": "c1"})
    # Groups with a ticket open at some instant of the selected days, or arriving in them (as metrics.open_during).
    if by:
        groups = created_to_end.join(closed_before, on=by, how="left", nulls_equal=True).join(
            created_before, on=by, how="left", nulls_equal=True
        )
    else:
        groups = pl.concat([created_to_end, closed_before, created_before], how="horizontal")
    groups = groups.with_columns(pl.col("k0", "c0").fill_null(0))
    if by:  # without grouping there is always the one group, as in queries.metrics
        groups = groups.filter(pl.col("c1") - pl.col("k0") > 0)
    groups = groups.with_columns((pl.col("c0") - pl.col("k0")).alias("open_before")).select(*by, "open_before")
    day_filters = Filters(filters.start, filters.end, **filters.selections())
    arrivals = _sum(_select(r, level.created, day_filters, period), keys, ["tickets"]).rename({"tickets": "arrivals"})
    closures = _sum(_select(r, level.closed, day_filters, period), keys, ["closures"])
    grid = groups.join(windows, how="cross")
    flow = grid
    for part in (arrivals, closures):
        flow = flow.join(part, on=keys, how="left", nulls_equal=True) if keys else flow.join(part, how="cross")
    group_id = pl.struct(by) if by else pl.lit(0)
    flow = (
        flow.with_columns(pl.col("arrivals", "closures").fill_null(0))
        .sort([*by, "boundary"], nulls_last=False)
        .with_columns(
            (pl.col("open_before") + (pl.col("arrivals") - pl.col("closures")).cum_sum().over(group_id)).alias(
                "open_end"
            )
        )
        .with_columns(
            (pl.col("open_end") - pl.col("arrivals") + pl.col("closures")).alias("open_start"),
            pl.lit(None, pl.Float64).alias("oldest_open_hours"),  # not derivable from daily counts
        )
    )
    return flow.select(*keys, "open_start", "arrivals", "closures", "open_end", "oldest_open_hours")


_QUERIES = {
    "volume": _volume,
    "actioned": _actioned,
    "time_to_first_action": _duration("time_to_first_action", _TTFA, "ttfa_measured", "ttfa_sum_us"),
    "time_to_close": _duration("time_to_close", _TTC, "ttc_measured", "ttc_sum_us"),
    "sla": _sla,
    "proactive": _proactive,
    "appeals": _appeals,
    "open_backlog": _open_backlog,
    "backlog": _backlog,
    "exposure": _exposure,
    "automation": _automation,
    "handle_time": _handle_time,
}
