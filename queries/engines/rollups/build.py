"""Building the rollups of a source's tickets, partition by partition, with the loader's own validity rules.

Each input file is one partition (a big Parquet file is split into row slices), cached on disk as a chunk;
only changed partitions are rebuilt (docs/rollups.md).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import shutil
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import polars as pl

from queries.calc import HOUR_US
from queries.contract import CLOSED_UNKNOWN, PROACTIVE_SOURCES, TABLES, Kind
from queries.engines.rollups import aggregate
from queries.engines.rollups.storage import (
    CODED,
    COUNT_TABLES,
    ENCODED,
    FORMAT_VERSION,
    FULL,
    HIST_LEVELS,
    LEVELS,
    REASON,
    ROLLUP_DIMENSIONS,
    TIME,
    TTC,
    TTFA,
    US,
    VIEWS,
    Rollups,
    chunk_index,
    default_cache_dir,
    level_name,
    mapped,
    merge,
    read_chunk,
    write_chunk,
)
from queries.errors import SourceError
from queries.frames import with_sla_outcome
from queries.histogram import bucket_expr
from queries.sla import SlaPolicy, load_sla_policy
from queries.sources import scan, validation
from queries.sources.files import TableFiles, locate_tables
from queries.sources.mapping import load_mapping
from queries.sources.timestamps import TIME_NOTES
from queries.sources.validation import TableReport

BATCH_ROWS = 2_000_000  # rows aggregated at once (bounds memory); bigger Parquet files are split into slices


_ID_HASH, _CUTOFF = "_id_hash", validation.CUTOFF


_DUPLICATE = "duplicate ticket_id"


_TICKETS = TABLES["tickets"]
_QUARANTINE_REASONS = validation.quarantine_reasons(_TICKETS)
_TIMESTAMPS = tuple(f.name for f in _TICKETS.fields if f.kind == Kind.TIMESTAMP)
# Per row, besides the fields: whether closed at an unknown time, and the codes counted as quarantined or adjusted.
_FIELD_CODES = (
    CLOSED_UNKNOWN,
    *(validation.QUARANTINE + f for f in _QUARANTINE_REASONS),
    *(validation.NOTE + f for f in _TIMESTAMPS),
)


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
    "due_at",
    *ROLLUP_DIMENSIONS,
}


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
    built = chunk_index(chunks)
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
            write_chunk(chunks, [p.key for p in batch], _build_chunk(batch, spec, policy, frozenset(), rows))
            del rows
        checked = None  # the last batch's rows are not kept through the merge

    signature = hashlib.sha256("|".join(sorted(wanted)).encode()).hexdigest()[:16]
    index = chunk_index(chunks)
    duplicates = _duplicate_ids(cache, index, partitions, spec)
    if duplicates:  # ticket_ids valid in more than one row: all rejected, as the loader does (re-read each time)
        signature = hashlib.sha256(f"{signature}|{sorted(duplicates)}".encode()).hexdigest()[:16]
        loaded = [([p.key for p in b], _build_chunk(b, spec, policy, duplicates)) for b in _batches(partitions)]
    else:  # memory-mapped from the cache, also the chunks just built: pages stay in the OS cache, not the heap
        loaded = [read_chunk(chunks / name) for name in index]
    rollups = merge(loaded, str(source), signature, policy)
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
    digest = hashlib.sha256(f"v{FORMAT_VERSION}|polars {pl.__version__}|{policy.terms!r}".encode())
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
    meta = scan.parquet_footer(TableFiles("tickets", (path,), "parquet"), path)
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
    """The partition's rows with the loader's parsing and rules, lazily: fields (quarantined ones null), `_reason`
    (rejected rows), CLOSED_UNKNOWN and the quarantine and time-note codes (_FIELD_CODES).

    The same expressions as queries.validation.read_table; the duplicate-key rule needs every partition
    and comes in through `excluded` (ticket_ids valid more than once anywhere)."""
    table = TABLES["tickets"]
    lf = validation.scan_files(part.files, spec)
    if part.offset is not None:
        lf = lf.slice(part.offset, part.length)
    lf, schema = validation.join_split_columns(lf, validation.table_schema(lf, part.files), table, spec, part.files)
    columns = validation.resolve_columns(table, schema, spec, part.files)
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
    parsed, notes = validation.parse_fields(table, columns, schema, spec, part.files)
    staged = lf.select(
        *raw,
        *(expr.alias(name) for name, expr in parsed.items()),
        *(expr.alias(validation.NOTE + name) for name, expr in notes.items()),
        validation.written_cutoff(part.files).alias(_CUTOFF),
    )
    staged = _without_duplicates(validation.apply_rules(staged, table, columns, raw_names)[0], excluded)
    missing = tuple(f.name for f in table.fields if f.name not in columns)
    staged = staged.with_columns(pl.lit(None, f.kind.dtype).alias(f.name) for f in table.fields if f.name in missing)
    return _with_codes(staged).select(*table.names, REASON, _CUTOFF, *_FIELD_CODES), missing


def _without_duplicates(staged: pl.LazyFrame, excluded: frozenset[str]) -> pl.LazyFrame:
    """Rows otherwise valid whose ticket_id is valid more than once anywhere: rejected as duplicates."""
    if not excluded:
        return staged
    duplicated = pl.col(REASON).is_null() & pl.col("ticket_id").is_in(list(excluded))
    return staged.with_columns(pl.when(duplicated).then(pl.lit(_DUPLICATE)).otherwise(pl.col(REASON)).alias(REASON))


def _with_codes(staged: pl.LazyFrame) -> pl.LazyFrame:
    """Every column of _FIELD_CODES (null where the rows have none: fields not in the files, no time zone)."""
    have = set(staged.collect_schema().names())
    absent = [c for c in _FIELD_CODES if c not in have]
    return staged.with_columns(
        *(pl.lit(False).alias(c) if c == CLOSED_UNKNOWN else pl.lit(None, pl.UInt8).alias(c) for c in absent)
    )


def _checked_rows(
    batch: list[_Partition], spec, excluded: frozenset[str]
) -> tuple[pl.DataFrame, TableReport | None, set[str]]:
    """The batch's rows (used fields, `_reason`, `_cutoff` and _FIELD_CODES), the loader's report (dedupe_by: its
    rejections, quarantines and future rows) and the fields present."""
    needed = [f for f in TABLES["tickets"].names if f in _USED]
    fast = _typed_rows(batch, spec, excluded)
    if fast is not None:
        checked, missing = fast
        present = set(TABLES["tickets"].names) - set(missing)
        return checked.select(*needed, REASON, _CUTOFF, *_FIELD_CODES), None, present
    report = None
    if spec.dedupe_by:  # snapshots: the loader's own eager path over the whole table
        clean, report = validation.read_table(batch[0].files, spec)
        rows = _with_codes(
            clean.lazy().with_columns(pl.lit(None, pl.String).alias(REASON), pl.lit(None, TIME).alias(_CUTOFF))
        )
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
    checked = rows.select(*needed, REASON, _CUTOFF, *_FIELD_CODES).with_columns(pl.col(*CODED).cast(pl.Categorical))
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

    None when the batch does not qualify (CSV, mapped or differently typed columns, times to read in a time zone,
    or text that the loader would trim, blank out or fold): the caller then takes the loader-equivalent path.
    `predicate` (on typed, unparsed columns only) is pushed into the scan."""
    if spec.columns or spec.values or spec.dedupe_by or spec.reads_times or not _whole_parquet(batch):
        return None
    table = TABLES["tickets"]
    files = _one_scan(batch)
    lf = validation.scan_files(files, spec)
    schema = validation.table_schema(lf, files)
    present = [f.name for f in table.fields if f.name in schema]
    if any(schema[name] != table.field(name).kind.dtype for name in present) or "ticket_id" not in present:
        return None
    # The fields used, and those the rules check (their quarantines are counted as the loader counts them).
    checked = [f.name for f in table.fields if f.name in present and (f.name in _USED or f.kind != Kind.STRING)]
    text = [f for f in checked if table.field(f).kind == Kind.STRING and f != "ticket_id"]
    typed = [f for f in checked if f not in text and f != "ticket_id"]
    # Text as read (raw) stays apart from the field where a rule can set the field to null (fixed values).
    raw = {f: f"_raw.{f}" if table.field(f).values else f for f in text}
    raw |= {f: f"_raw.{f}" for f in typed} | {"ticket_id": "ticket_id"}
    lf = lf if predicate is None else lf.filter(predicate)
    staged = lf.select(
        validation.as_text(pl.col("ticket_id"), pl.String).alias("ticket_id"),
        *((pl.col(f).cast(pl.Categorical) if f in CODED else pl.col(f)).alias(raw[f]) for f in text),
        *(pl.col(f).alias(raw[f]) for f in typed),
        validation.written_cutoff(files).alias(_CUTOFF),
    ).with_columns(
        *(pl.col(raw[f]).alias(f) for f in text if raw[f] != f),
        *(validation.parse_field(table.field(f), pl.col(raw[f]), schema[f], spec, files).alias(f) for f in typed),
    )
    staged = _without_duplicates(validation.apply_rules(staged, table, checked, raw)[0], excluded)
    missing = tuple(f for f in table.names if f not in present)
    absent = [f for f in _USED if f not in present]
    staged = _with_codes(staged).with_columns(
        *(pl.lit(None, table.field(f).kind.dtype).alias(f) for f in absent if f not in CODED),
        *(pl.lit(None, pl.String).cast(pl.Categorical).alias(f) for f in absent if f in CODED),
    )
    copies = [raw[f] for f in text if raw[f] != f]
    rows = _collect(
        staged.select(*[f for f in table.names if f in _USED], REASON, _CUTOFF, *_FIELD_CODES, *copies), batch
    )
    for name in text:  # a value the loader would trim, blank or fold: take its path (rare, so checked per value)
        values = rows[raw[name]].unique().drop_nulls().cast(pl.String)
        if (values != values.str.strip_chars()).any() or (values == "").any():
            return None
        if table.field(name).values and validation.known_after_folding(table.field(name), values):
            return None
    return rows.drop(copies), missing


def _valid_rows(partitions: list[_Partition], spec, excluded: frozenset[str], predicate: pl.Expr) -> pl.DataFrame:
    """Valid rows (the fields rollups use, text as String) matching a predicate on typed columns (e.g. a date
    range, pushed into the Parquet scan), with the same rules as the build."""
    batches = [partitions] if _whole_parquet(partitions) else [[p] for p in partitions]
    frames = []
    for batch in batches:
        fast = _typed_rows(batch, spec, excluded, predicate)
        if fast is None:
            checked, _, _ = _checked_rows(batch, spec, excluded)
            frames.append(checked.filter(pl.col(REASON).is_null() & predicate))
        else:
            frames.append(fast[0].filter(pl.col(REASON).is_null()))
    used = [f for f in TABLES["tickets"].names if f in _USED]
    return pl.concat(frames).select(used).with_columns(pl.col(CODED).cast(pl.String))


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
    dims = list(FULL)
    # Text keys become UInt32 codes into the chunk's dictionary (sorted values) before anything is grouped.
    dictionary = {c: checked[c].drop_nulls().unique().cast(pl.String).sort() for c in dims}
    groups = policy.groups if checked["due_at"].is_not_null().any() else policy.groups[:-1]  # DUE_RULE if used
    dictionary["sla_rule"] = pl.Series(sorted(set(groups)), dtype=pl.String)
    rule_codes = pl.Series([dictionary["sla_rule"].index_of(name) for name in policy.groups], dtype=pl.UInt32)
    acted = pl.col("first_action_at").is_not_null()
    human = ~pl.col("automated").fill_null(False)
    ttfa_us = (pl.col("first_action_at") - pl.col("created_at")).dt.total_microseconds()
    ttc_us = (pl.col("closed_at") - pl.col("created_at")).dt.total_microseconds()
    # Materialised once: every aggregate below groups these columns (days, buckets and SLA rule precomputed).
    valid = checked.lazy().filter(pl.col(REASON).is_null()).drop(REASON, _CUTOFF, *_FIELD_CODES[1:])
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
            bucket_expr(ttfa_us / US).fill_null(-1).cast(pl.Int16).alias(f"_b{TTFA}"),
            bucket_expr(ttc_us / US).fill_null(-1).cast(pl.Int16).alias(f"_b{TTC}"),
            bucket_expr(pl.when(acted).then(pl.col("views_before_action").cast(pl.Float64)))
            .fill_null(-1)
            .cast(pl.Int16)
            .alias(f"_b{VIEWS}"),
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
    bounds = aggregate.bounds(rows, [*dims, "sla_rule", "day", "_action_day", "_closed_day"])
    days = [(bounds.pop(c), rows[c].null_count() < rows.height) for c in ("day", "_action_day", "_closed_day")]
    days = [span for span, seen in days if seen] or [(0, 0)]
    bounds["day"] = bounds["_action_day"] = bounds["_closed_day"] = (
        min(low for low, _ in days),
        max(high for _, high in days),
    )
    ttfa_us, ttc_us = pl.col("_ttfa_us"), pl.col("_ttc_us")
    views = pl.col("views_before_action")
    appealed = pl.col("decision").is_not_null() & pl.col("appealed").fill_null(False)
    created_counts = aggregate.grouped(
        rows,
        ["day", *dims],
        [
            pl.len().alias("tickets"),
            pl.col(CLOSED_UNKNOWN).sum().alias("closed_unknown"),
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
    actioned = aggregate.grouped(
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
    closed = aggregate.grouped(rows, ["_closed_day", *dims], [pl.len().alias("closures")], bounds)
    closed = closed.rename({"_closed_day": "day"})
    # Grouped over every row (no filtered copy of the batch); the group without an action or a closing day goes.
    actioned, closed = (t.filter(pl.col("day").is_not_null()) for t in (actioned, closed))
    sla = aggregate.grouped(
        rows,
        ["day", *dims, "sla_rule"],
        [
            pl.len().alias("tickets"),
            (pl.col("sla_rule").is_not_null() & pl.col("sla_end_at").is_not_null()).sum().alias("ended_with_sla"),
            pl.col("sla_met_policy").sum().alias("met"),
        ],
        bounds,
    )
    waiting = rows.lazy().filter(pl.col("sla_rule").is_not_null() & pl.col("sla_end_at").is_null())
    waiting = waiting.select("created_at", *FULL, "sla_rule", "sla_target_seconds", "due_at")  # late? read._sla
    ids = rows.lazy().select(pl.col("ticket_id").hash().alias(_ID_HASH)).sort(_ID_HASH)
    rejected = checked.lazy().filter(pl.col(REASON).is_not_null()).group_by(REASON).agg(pl.len().alias("rows"))
    current = _current(checked, loader_report)
    # Polars runs the group-bys in a thread (it releases the GIL) while numpy counts the histograms.
    with ThreadPoolExecutor(1) as pool:
        grouped = pool.submit(pl.collect_all, [created_counts, actioned, closed, sla, waiting, ids, rejected, current])
        dense = {d: aggregate.dense(rows[d], dictionary[d].len()) for d in FULL}
        measures = {m: rows[f"_b{m}"].to_numpy() for m in (TTFA, TTC, VIEWS)}
        created_hists = aggregate.histograms(rows["day"].cast(pl.Int32).to_numpy(), measures, dense)
        handle_hists = aggregate.histograms(rows["_hist_day"].to_numpy(), {0: rows["_bh"].to_numpy()}, dense)
        frames = grouped.result()
    names = ("created", "actioned", "closed", "sla", "waiting", "ids", "rejected", "current")
    out = dict(zip(names, frames, strict=True))
    for level in HIST_LEVELS:
        out[level_name("created_hist", level)] = created_hists[level]
        out[level_name("handle_hist", level)] = handle_hists[level].drop("measure")
    if loader_report is not None and loader_report.rejections:
        out["rejected"] = pl.DataFrame(
            [(r.reason, r.rows) for r in loader_report.rejections],
            schema={REASON: pl.String, "rows": pl.Int64},
            orient="row",
        )
    out["present"] = pl.DataFrame({"field": sorted(present)}, schema={"field": pl.String})
    out["quarantined"], out["adjusted"] = _field_counts(checked, loader_report)
    coarser, targets = [], []
    for level in LEVELS[1:]:
        for name in COUNT_TABLES:
            keys = ["day", *level, *(["sla_rule"] if name == "sla" else [])]
            values = [c for c in out[name].columns if c not in FULL and c not in ("day", "sla_rule")]
            coarser.append(aggregate.grouped(out[name], keys, [pl.col(values).sum()], bounds))
            targets.append(level_name(name, level))
    out.update(zip(targets, pl.collect_all(coarser), strict=True))
    # Each column's codes number its sorted values: (column, value) rows in code order.
    out["dictionary"] = pl.DataFrame(
        {
            "column": [c for c in ENCODED for _ in range(dictionary[c].len())],
            "value": pl.concat([dictionary[c] for c in ENCODED]),
        },
        schema={"column": pl.String, "value": pl.String},
    )
    return out


def _field_counts(checked: pl.DataFrame, loader_report: TableReport | None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Valid rows' quarantined and adjusted (time zone) values as (field, reason, rows), as the loader counts them
    (with dedupe_by, from its report)."""
    if loader_report is not None:
        counted = [
            [(q.field, q.reason, q.rows) for q in kind] for kind in (loader_report.quarantined, loader_report.adjusted)
        ]
    else:
        notes = {f: tuple(TIME_NOTES.values()) for f in _TIMESTAMPS}
        counted = []
        for prefix, reasons in ((validation.QUARANTINE, _QUARANTINE_REASONS), (validation.NOTE, notes)):
            rows = []
            for name, texts in reasons.items():
                if checked.get_column(prefix + name).null_count() == checked.height:
                    continue  # nothing quarantined (most columns): no filter over the batch
                codes = checked.select(pl.col(prefix + name).filter(pl.col(REASON).is_null())).to_series()
                rows += [(name, texts[code - 1], n) for code, n in codes.drop_nulls().value_counts().iter_rows()]
            counted.append(rows)
    schema = {"field": pl.String, "reason": pl.String, "rows": pl.Int64}
    return tuple(pl.DataFrame(rows, schema=schema, orient="row") for rows in counted)


def _current(checked: pl.DataFrame, loader_report: TableReport | None) -> pl.LazyFrame:
    """One row: the newest created_at not in the future, how many valid rows are in the future and the data's
    "now" (as the loader's report: `latest`, `rows_in_future`, `as_of`; with dedupe_by, that report itself)."""
    schema = {"latest_created": TIME, "in_future": pl.Int64, "as_of": TIME}
    if loader_report is not None:
        values = (loader_report.latest, loader_report.rows_in_future, loader_report.as_of)
        return pl.LazyFrame([[v] for v in values], schema=schema)
    valid = checked.lazy().filter(pl.col(REASON).is_null())
    created = pl.col("created_at")
    return valid.select(
        created.filter(~(created > pl.col(_CUTOFF)).fill_null(False)).max().alias("latest_created"),
        validation.in_future(TABLES["tickets"], checked.columns).sum().cast(pl.Int64).alias("in_future"),
        validation.newest_current(TABLES["tickets"], checked.columns).alias("as_of"),
    )


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
        return mapped(cache / "chunks" / name / "ids.arrow")[_ID_HASH].to_numpy()

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
            .filter(pl.col(REASON).is_null() & pl.col("ticket_id").hash().is_in(wanted))
            .select("ticket_id")
            for part in partitions
        ]
        ids = pl.concat(found).collect()["ticket_id"]
        duplicates |= set(ids.filter(ids.is_duplicated()).to_list())
    for stale in cache.glob("duplicates-*.json"):
        stale.unlink()
    answer.write_text(json.dumps({"chunks": names, "duplicates": sorted(duplicates)}), encoding="utf-8")
    return frozenset(duplicates)
