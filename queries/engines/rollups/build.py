"""Building the rollups of a source's tickets, partition by partition, with the loader's own validity rules.

Each input file is one partition (a big Parquet file is split into row slices), cached on disk as a chunk;
only changed partitions are rebuilt (docs/rollups.md).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import polars as pl

from queries.calc import HOUR_US
from queries.contract import PROACTIVE_SOURCES, TABLES, TIME_UNKNOWN
from queries.engines.base import SPLIT_DECISIONS, slot_expr
from queries.engines.rollups import aggregate
from queries.engines.rollups.checked import (
    CUTOFF,
    FIELD_CODES,
    FIXED,
    FLAGS,
    QUARANTINE_REASONS,
    TIMESTAMPS,
    UNKNOWN,
    Checked,
    Partition,
    checked_rows,
    footer,
    valid_rows,
    valid_tickets,
)
from queries.engines.rollups.storage import (
    COUNT_TABLES,
    ENCODED,
    FORMAT_VERSION,
    FULL,
    HIST_LEVELS,
    LEVELS,
    REASON,
    TIME,
    TTC,
    TTFA,
    US,
    VIEWS,
    RecentReads,
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
from queries.progress import Progress
from queries.sla import SlaPolicy, load_sla_policy
from queries.sources import validation
from queries.sources.files import TableFiles, locate_tables
from queries.sources.mapping import TableMapping, load_mapping
from queries.sources.timestamps import TIME_NOTES
from queries.sources.validation import TableReport

BATCH_ROWS = 2_000_000  # rows aggregated at once (bounds memory); bigger Parquet files are split into slices
# Distinct unknown values of a field kept per chunk (most rows first): the listing's counts are exact unless a field
# has more distinct unknown values than this in one partition (docs/rollups.md).
MAX_UNKNOWN_VALUES_KEPT = 1_000


_ID_HASH = "_id_hash"


@dataclass(frozen=True)
class BuildStats:
    partitions: int
    rebuilt: int
    reused: int
    rows: int
    rejected_rows: int
    seconds: float


def build_rollups(
    source: str | Path,
    mapping_file: str | Path | None = None,
    *,
    cache_dir: Path | None = None,
    sla_policy: SlaPolicy | None = None,
    reviewed: pl.Series | None = None,
    progress: Progress | None = None,
) -> tuple[Rollups, BuildStats]:
    """Build (or reuse from the on-disk cache) the rollups of a source's tickets, partition by partition.

    New partitions are aggregated in batches of up to BATCH_ROWS rows (bounded memory) into cached chunks; a
    chunk holding a changed or removed partition is rebuilt from its remaining partitions (`rebuilt` counts
    every partition aggregated again). An unchanged source only loads and sums its chunks. `reviewed`: the
    ticket_ids QA reviewed, whose dimensions are kept as `Rollups.reviewed` (see `_reviewed_tickets`).
    `progress(share_done, step)` hears of each batch as it starts.
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
        checked = reader.submit(checked_rows, batches[0], spec, frozenset()) if batches else None
        total = sum(p.rows for p in todo)
        for i, batch in enumerate(batches):
            if progress:
                done = sum(p.rows for b in batches[:i] for p in b)
                progress(done / total if total else i / len(batches), f"Rolling up tickets ({done:,} of {total:,})")
            rows = checked.result()
            if i + 1 < len(batches):
                checked = reader.submit(checked_rows, batches[i + 1], spec, frozenset())
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
    rollups = replace(
        rollups,
        read_rows=RecentReads(lambda predicate: valid_rows(partitions, spec, duplicates, predicate)),
        reviewed=None if reviewed is None else _reviewed_tickets(cache, index, partitions, spec, duplicates, reviewed),
    )
    if progress:
        progress(1.0, "Rollups ready")
    stats = BuildStats(
        partitions=len(partitions),
        rebuilt=len(todo),
        reused=len(partitions) - len(todo),
        rows=rollups.rows,
        rejected_rows=rollups.rejected_rows,
        seconds=time.perf_counter() - started,
    )
    return rollups, stats


def _reviewed_tickets(
    cache: Path,
    index: dict[str, list[str]],
    partitions: list[Partition],
    spec: TableMapping,
    duplicates: frozenset[str],
    ids: pl.Series,
) -> pl.DataFrame:
    """ticket_id and the ROLLUP_DIMENSIONS of the valid tickets among `ids` (those QA reviewed: about 2 % of them).

    Kept per chunk in cache/reviewed, one file per chunk and set of its reviewed ids (found by the chunk's sorted id
    hashes, without reading it): a new review rereads only the chunk holding its ticket, a new day only its own."""
    wanted = ids.drop_nulls().unique().cast(pl.String)
    by_hash = dict(zip(wanted.hash().to_list(), wanted.to_list(), strict=True))
    hashes = np.sort(np.fromiter(by_hash, np.uint64, len(by_hash)))
    folder = cache / "reviewed"
    folder.mkdir(exist_ok=True)
    parts = {p.key: p for p in partitions}
    excluded = hashlib.sha256("|".join(sorted(duplicates)).encode()).hexdigest()
    frames, kept = [], set()
    for name, keys in index.items():
        held = mapped(cache / "chunks" / name / "ids.arrow")[_ID_HASH].to_numpy()  # sorted: binary search
        found = hashes[held[np.searchsorted(held, hashes).clip(max=held.size - 1)] == hashes] if held.size else held
        if not found.size:
            continue
        path = folder / f"{hashlib.sha256(f'{name}|{excluded}'.encode() + found.tobytes()).hexdigest()[:20]}.arrow"
        if not path.exists():
            chosen = pl.Series([by_hash[h] for h in found.tolist()], dtype=pl.String).implode()
            rows = valid_rows([parts[k] for k in keys], spec, duplicates, pl.col("ticket_id").is_in(chosen))
            staging = path.with_name(f".{path.name}-{os.getpid()}")
            rows.select("ticket_id", *FULL).write_ipc(staging, compression="uncompressed")
            staging.replace(path)
        kept.add(path.name)
        frames.append(mapped(path))
    for stale in folder.glob("*.arrow"):
        if stale.name not in kept:
            stale.unlink(missing_ok=True)
    schema = {"ticket_id": pl.String, **dict.fromkeys(FULL, pl.String)}
    # A chunk holding a slice of a big file reads the whole file (checked.valid_rows): its rows can repeat.
    return pl.concat(frames).unique("ticket_id", maintain_order=True) if frames else pl.DataFrame(schema=schema)


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


def _partitions(files: TableFiles, settings: str, *, whole: bool, cached: set[str]) -> list[Partition]:
    """One partition per file; a Parquet file bigger than BATCH_ROWS is split into row slices.

    Files already `cached` whole are not opened (their row count, only needed to batch them, stays -1).

    With dedupe_by (snapshot extracts) rows of one ticket may sit in different files, so the whole
    table is one partition, rebuilt whenever any file changes."""

    def key(paths: Sequence[Path], offset: int | None, length: int | None) -> str:
        text = "|".join(f"{p.resolve()}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in paths)
        return hashlib.sha256(f"{settings}|{text}|{offset}|{length}".encode()).hexdigest()[:20]

    if whole:
        return [Partition(files, None, None, 0, key(files.paths, None, None))]
    out = []
    for path in files.paths:
        one = TableFiles(files.table, (path,), files.format, files.hive)
        if key([path], None, None) in cached:
            out.append(Partition(one, None, None, -1, key([path], None, None)))
            continue
        rows = _row_count(one)
        if rows > BATCH_ROWS:
            for offset in range(0, rows, BATCH_ROWS):
                length = min(BATCH_ROWS, rows - offset)
                out.append(Partition(one, offset, length, length, key([path], offset, length)))
        else:
            out.append(Partition(one, None, None, rows, key([path], None, None)))
    return out


def _row_count(files: TableFiles) -> int:
    """Rows of a Parquet file from its footer; 0 (unknown) for CSV."""
    return footer(files.paths[0])[0] if files.format == "parquet" else 0


def _batches(partitions: list[Partition]) -> list[list[Partition]]:
    """Consecutive partitions grouped up to BATCH_ROWS rows (CSV files, of unknown size, go alone)."""
    batches: list[list[Partition]] = []
    rows = 0
    for part in partitions:
        if not batches or not part.rows or not batches[-1][-1].rows or rows + part.rows > BATCH_ROWS:
            batches.append([])
            rows = 0
        batches[-1].append(part)
        rows += part.rows
    return batches


def _build_chunk(
    batch: list[Partition],
    spec: TableMapping,
    policy: SlaPolicy,
    excluded: frozenset[str],
    read: Checked | None = None,
) -> dict:
    """Aggregate a batch of partitions (`read`: its checked_rows, when already read) into one chunk of every
    rollup table."""
    read = read or checked_rows(batch, spec, excluded)
    checked, loader_report = read.rows, read.report
    dims = list(FULL)
    # Text keys become UInt32 codes into the chunk's dictionary (sorted values) before anything is grouped.
    dictionary = {c: checked[c].drop_nulls().unique().cast(pl.String).sort() for c in (*dims, "queue")}
    groups = policy.groups if checked["due_at"].is_not_null().any() else policy.groups[:-1]  # DUE_RULE if used
    dictionary["sla_rule"] = pl.Series(sorted(set(groups)), dtype=pl.String)
    rule_codes = pl.Series([dictionary["sla_rule"].index_of(name) for name in policy.groups], dtype=pl.UInt32)
    acted = pl.col("first_action_at").is_not_null()
    human = ~pl.col("automated").fill_null(False)
    ttfa_us = (pl.col("first_action_at") - pl.col("created_at")).dt.total_microseconds()
    ttc_us = (pl.col("closed_at") - pl.col("created_at")).dt.total_microseconds()
    # Materialised once: every aggregate below groups these columns (days, buckets and SLA rule precomputed).
    valid = checked.lazy().filter(pl.col(REASON).is_null()).drop(REASON, CUTOFF, *FIELD_CODES[len(FLAGS) :])
    rows = (
        with_sla_outcome(valid, policy, dt.datetime(1970, 1, 1), rule_codes)
        .with_columns(  # as_of only matters for waiting
            pl.col("created_at").dt.date().alias("day"),
            pl.col("first_action_at").dt.date().alias("_action_day"),
            # Histogram day of handle times: the first-action day (the created day where there is none:
            # those rows have no handle bucket, so it only keeps the index non-negative).
            pl.col("first_action_at").fill_null(pl.col("created_at")).dt.date().cast(pl.Int32).alias("_hist_day"),
            pl.col("closed_at").dt.date().alias("_closed_day"),
            slot_expr("created_at").alias("_slot"),
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
        .with_columns(pl.col(c).cast(pl.Enum(dictionary[c])).to_physical().cast(pl.UInt32) for c in (*dims, "queue"))
        .collect()
    )
    # One range for the three day columns, so the coarser levels (keyed by `day`) reuse the same bounds.
    bounds = aggregate.bounds(rows, [*dims, "sla_rule", "queue", "day", "_action_day", "_closed_day"])
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
            pl.col(TIME_UNKNOWN["closed_at"]).sum().alias("closed_unknown"),
            pl.col("source").is_not_null().sum().alias("known_source"),
            pl.col("_proactive").sum().alias("proactive"),
            pl.col("automated").is_not_null().sum().alias("known_automated"),
            pl.col("automated").fill_null(False).sum().alias("automated"),
            pl.col("decision").is_not_null().sum().alias("decided"),
            (human & pl.col("decision").is_in(SPLIT_DECISIONS)).sum().alias("human_decided"),
            (human & (pl.col("decision") == "violating")).sum().alias("human_violating"),
            appealed.sum().alias("appealed"),
            (appealed & pl.col("appeal_overturned").fill_null(False)).sum().alias("overturned"),
            acted.sum().alias("acted"),
            (acted & (ttfa_us <= 24 * HOUR_US)).sum().alias("within_24h"),
            (acted & views.is_not_null()).sum().alias("views_known"),
            (acted & (views == 0)).sum().alias("zero_views"),
            pl.when(acted).then(views).sum().alias("views_sum"),  # views per hour of waiting (open tickets' views)
            pl.when(acted & views.is_not_null()).then(ttfa_us).sum().alias("views_ttfa_sum_us"),
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
    ended, flagged = (
        pl.col("sla_rule").is_not_null() & pl.col("sla_end_at").is_not_null(),
        pl.col("sla_met").is_not_null(),
    )
    sla = aggregate.grouped(
        rows,
        ["day", *dims, "sla_rule"],
        [
            pl.len().alias("tickets"),
            ended.sum().alias("ended_with_sla"),
            pl.col("sla_met_policy").sum().alias("met"),
            # The comparison with the source's own flag (read._sla_flags adds the waiting tickets late by then).
            flagged.sum().alias("flagged"),
            (flagged & ended).sum().alias("flagged_ended"),
            (flagged & pl.col("sla_met_policy")).sum().alias("flagged_met"),
            (flagged & ended & pl.col("sla_met")).sum().alias("flagged_met_source"),
            (flagged & ended & (pl.col("sla_met_policy") != pl.col("sla_met"))).sum().alias("flagged_disagree"),
        ],
        bounds,
    )
    reviewed = human & handle.is_not_null() & pl.col("_action_day").is_not_null()
    queues = [
        aggregate.grouped(
            rows,
            ["_action_day", *level, "queue"],
            [reviewed.sum().alias("reviews"), pl.when(reviewed).then(handle).sum().alias("handle_sum_seconds")],
            bounds,
        )
        .filter(pl.col("reviews") > 0)
        .rename({"_action_day": "day"})
        for level in HIST_LEVELS
    ]
    waiting = rows.lazy().filter(pl.col("sla_waiting"))
    waiting = waiting.select("created_at", *FULL, "sla_rule", "sla_target_seconds", "due_at", "sla_met")  # read._sla
    ids = rows.lazy().select(pl.col("ticket_id").hash().alias(_ID_HASH)).sort(_ID_HASH)
    rejected = checked.lazy().filter(pl.col(REASON).is_not_null()).group_by(REASON).agg(pl.len().alias("rows"))
    current = _current(checked, loader_report)
    # Polars runs the group-bys in a thread (it releases the GIL) while numpy counts the histograms.
    with ThreadPoolExecutor(1) as pool:
        grouped = pool.submit(
            pl.collect_all, [created_counts, actioned, closed, sla, waiting, ids, rejected, current, *queues]
        )
        dense = {d: aggregate.dense(rows[d], dictionary[d].len()) for d in FULL}
        measures = {m: rows[f"_b{m}"].to_numpy() for m in (TTFA, TTC, VIEWS)}
        created_hists = aggregate.histograms(rows["day"].cast(pl.Int32).to_numpy(), measures, dense)
        handle_hists = aggregate.histograms(rows["_hist_day"].to_numpy(), {0: rows["_bh"].to_numpy()}, dense)
        # Arrivals are a histogram of the half-hour slot of created_at (every row has one).
        slots = aggregate.histograms(rows["day"].cast(pl.Int32).to_numpy(), {0: rows["_slot"].to_numpy()}, dense)
        frames = grouped.result()
    names = ("created", "actioned", "closed", "sla", "waiting", "ids", "rejected", "current")
    out = dict(zip(names, frames[: len(names)], strict=True))
    for level, queue_counts in zip(HIST_LEVELS, frames[len(names) :], strict=True):
        out[level_name("created_hist", level)] = created_hists[level]
        out[level_name("handle_hist", level)] = handle_hists[level].drop("measure")
        arrivals = slots[level].drop("measure").rename({"bucket": "slot", "count": "tickets"})
        out[level_name("arrivals", level)] = arrivals
        out[level_name("queues", level)] = queue_counts
    if loader_report is not None and loader_report.rejections:
        out["rejected"] = pl.DataFrame(
            [(r.reason, r.rows) for r in loader_report.rejections],
            schema={REASON: pl.String, "rows": pl.Int64},
            orient="row",
        )
    out["present"] = pl.DataFrame({"field": sorted(read.columns.present)}, schema={"field": pl.String})
    out["columns"] = _columns_table(read)
    out["quarantined"], out["adjusted"] = _field_counts(checked, loader_report)
    out["unknown"] = _unknown_counts(checked, loader_report)
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
        notes = {f: tuple(TIME_NOTES.values()) for f in TIMESTAMPS}
        counted = []
        for prefix, reasons in ((validation.QUARANTINE, QUARANTINE_REASONS), (validation.NOTE, notes)):
            rows = []
            for name, texts in reasons.items():
                if checked.get_column(prefix + name).null_count() == checked.height:
                    continue  # nothing quarantined (most columns): no filter over the batch
                codes = checked.select(pl.col(prefix + name).filter(pl.col(REASON).is_null())).to_series()
                rows += [(name, texts[code - 1], n) for code, n in codes.drop_nulls().value_counts().iter_rows()]
            counted.append(rows)
    schema = {"field": pl.String, "reason": pl.String, "rows": pl.Int64}
    return tuple(pl.DataFrame(rows, schema=schema, orient="row") for rows in counted)


def _unknown_counts(checked: pl.DataFrame, loader_report: TableReport | None) -> pl.DataFrame:
    """Valid rows' unknown values of fields with fixed values as (field, value, rows), as the loader lists them
    (with dedupe_by, from its report): at most MAX_UNKNOWN_VALUES_KEPT per field, most rows first."""
    schema = {"field": pl.String, "value": pl.String, "rows": pl.Int64}
    if loader_report is not None:
        rows = [(u.field, v, n) for u in loader_report.unknown_values for v, n in u.values]
        return pl.DataFrame(rows, schema=schema, orient="row")
    valid = checked.lazy().filter(pl.col(REASON).is_null())
    counts = [
        valid.select(pl.lit(f).alias("field"), pl.col(UNKNOWN + f).alias("value"))
        .drop_nulls("value")
        .group_by("field", "value")
        .agg(pl.len().cast(pl.Int64).alias("rows"))
        .sort(["rows", "value"], descending=[True, False])
        .head(MAX_UNKNOWN_VALUES_KEPT)
        for f in FIXED
        if checked.get_column(UNKNOWN + f).null_count() < checked.height
    ]
    return pl.concat(pl.collect_all(counts)) if counts else pl.DataFrame(schema=schema)


def _columns_table(read: Checked) -> pl.DataFrame:
    """How the batch's columns were taken: (field, column) for each field taken by name, (null, column) for each
    column no field maps to."""
    taken, ignored = read.columns.taken_by_name, read.columns.ignored
    return pl.DataFrame(
        {"field": [f for f, _ in taken] + [None] * len(ignored), "column": [c for _, c in taken] + list(ignored)},
        schema={"field": pl.String, "column": pl.String},
    )


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
        created.filter(~(created > pl.col(CUTOFF)).fill_null(False)).max().alias("latest_created"),
        validation.in_future(TABLES["tickets"], checked.columns).sum().cast(pl.Int64).alias("in_future"),
        validation.newest_current(TABLES["tickets"], checked.columns).alias("as_of"),
    )


def _duplicate_ids(cache: Path, index: dict[str, list[str]], partitions: list[Partition], spec) -> frozenset[str]:
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

    # Each chunk's hashes are sorted runs: timsort ("stable") merges them, several times faster than a quicksort.
    new = np.concatenate([hashes(n) for n in names if n not in old] or [np.zeros(0, np.uint64)])
    new = np.sort(new, kind="stable")
    suspects = set(new[1:][new[1:] == new[:-1]].tolist())
    for name in old if new.size else []:
        ids = hashes(name)
        if ids.size:
            suspects |= set(new[ids[np.searchsorted(ids, new).clip(max=ids.size - 1)] == new].tolist())
    duplicates = set(known)
    if suspects:
        wanted = pl.Series(_ID_HASH, sorted(suspects), dtype=pl.UInt64).implode()
        found = [
            valid_tickets(part, spec, frozenset())[0]
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
