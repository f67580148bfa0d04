"""What the rollups are and how they are kept: the tables per level, the on-disk chunk format (plain
uncompressed Arrow files, memory-mapped), and merging the chunks of a source into one `Rollups`.

Grain: one row per day x the filter dimensions and language (ROLLUP_DIMENSIONS), plus coarser copies keyed by
fewer dimensions (every single dimension and none) so a query picks the smallest rollup that can answer it.
docs/rollups.md explains the design, what is exact and what is approximate.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.ipc as ipc

from queries.contract import TABLES
from queries.filters import DIMENSIONS
from queries.sla import SlaPolicy

ROLLUP_DIMENSIONS = (*DIMENSIONS, "language")  # language: for demand and capacity by language, spike drill-downs


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


FORMAT_VERSION = 13


EXACT_ROWS_LIMIT = 500_000  # most rows read for an exact percentile over several dimensions (memory, time)


REPO_DATA_DIR = Path(__file__).resolve().parents[3] / "data"


# Counts at the full grain plus coarser levels (no dimension, each single dimension); duration histograms
# only at the coarser levels: at the full grain they would have about one row per ticket (docs/rollups.md).
LEVELS: tuple[tuple[str, ...], ...] = (ROLLUP_DIMENSIONS, (), *((d,) for d in ROLLUP_DIMENSIONS))


HIST_LEVELS = LEVELS[1:]


FULL = ROLLUP_DIMENSIONS


CODED = ROLLUP_DIMENSIONS  # text read as Categorical, then turned into codes into the chunk's dictionary


# Stored as UInt32 codes into a dictionary (sorted values) so cached tables load without conversion.
ENCODED = (*ROLLUP_DIMENSIONS, "sla_rule", "queue")


# Histogram measures (created-day table): hours to first action, hours to close, views before action.
TTFA, TTC, VIEWS = 0, 1, 2


US = 1_000_000


TIME = pl.Datetime("us")


REASON = "_reason"  # the rejected-rows table: why
COUNT_TABLES = ("created", "actioned", "closed", "sla")


HIST_TABLES = ("created_hist", "handle_hist")


# The live queues' inputs, at the histograms' levels: arrivals per created day × half-hour slot, and human reviews
# with a handle time per first-action day × queue (docs/rollups.md).
PROFILE_TABLES = ("arrivals", "queues")


class RecentReads:
    """A row read (`Rollups.read_rows`) that keeps its last few answers by predicate: the parts of one page asking
    for the same rows (a view's percentiles, over time, by group and distribution over two dimensions; the open
    tickets of its backlog ages, oldest tickets and exposure ranking) read them once."""

    def __init__(self, read: Callable[[pl.Expr], pl.DataFrame], keep: int = 2) -> None:
        self._read, self._keep = read, keep
        self._answers: OrderedDict[bytes, pl.DataFrame] = OrderedDict()
        self._lock = threading.Lock()  # Streamlit runs sessions in threads

    def __call__(self, predicate: pl.Expr) -> pl.DataFrame:
        key = predicate.meta.serialize(format="binary")
        with self._lock:
            if key in self._answers:
                self._answers.move_to_end(key)
                return self._answers[key]
            rows = self._read(predicate)
            self._answers[key] = rows
            while len(self._answers) > self._keep:
                self._answers.popitem(last=False)
            return rows


class RecentAnswers:
    """A rolled-up source's last answers by question (metric, filters, grouping, period, SLA terms): the parts of a
    page asking the same question (the Overview's tiles, their goals and change hints, the targets) compute it once.
    A rolled-up source never changes once opened (a changed input is a new source), so an answer stays right."""

    def __init__(self, keep: int = 128) -> None:
        self._keep = keep
        self._answers: OrderedDict[Hashable, pl.DataFrame] = OrderedDict()
        self._lock = threading.Lock()  # Streamlit runs sessions in threads

    def __call__(self, question: Hashable, answer: Callable[[], pl.DataFrame]) -> pl.DataFrame:
        with self._lock:
            if question in self._answers:
                self._answers.move_to_end(question)
                return self._answers[question]
        out = answer()  # outside the lock: other sessions' questions do not wait for this one
        with self._lock:
            self._answers[question] = out
            while len(self._answers) > self._keep:
                self._answers.popitem(last=False)
        return out


@dataclass(frozen=True, eq=False)
class Level:
    """All rollup tables keyed by `day` plus `dims`."""

    dims: tuple[str, ...]
    created: pl.DataFrame  # by created day: counts and duration sums
    actioned: pl.DataFrame  # by first-action day: actioned, human decisions, handle seconds
    closed: pl.DataFrame  # by closed day: closures
    sla: pl.DataFrame  # by created day and sla_rule: tickets, ended (acted or closed, by the SLA) with an SLA, met
    created_hist: pl.DataFrame | None  # by created day: measure, bucket, count (None at the full grain)
    handle_hist: pl.DataFrame | None  # by first-action day: bucket, count of handle seconds (human decisions)
    arrivals: pl.DataFrame | None  # by created day: slot (half hour of created_at), tickets (None at the full grain)
    queues: pl.DataFrame | None  # by first-action day: queue, reviews, handle_sum_seconds (None at the full grain)


@dataclass(frozen=True, eq=False)
class Rollups:
    """Rollups of one source's tickets, ready for `rollup_summary`."""

    source: str
    signature: str  # changes when any input partition (or the mapping, SLA policy, format) changes
    levels: dict[tuple[str, ...], Level]
    sla: pl.DataFrame  # the full grain's: by created day × dims × sla_rule (each level has its own)
    sla_waiting: pl.DataFrame  # tickets with an SLA not ended yet: created_at, dims, rule, target, due_at
    sla_policy: SlaPolicy
    # The data's "now": the latest created_at, first_action_at or closed_at of valid tickets that is not in the future
    # (the loader's TableReport.as_of, which queries.metrics.data_as_of reads).
    as_of: dt.datetime | None
    dictionary: dict[str, tuple[str, ...]]  # dimension (and sla_rule) -> its values; tables hold their codes
    rows: int  # valid tickets
    rejected_rows: int
    rejections: dict[str, int] = field(default_factory=dict)  # reason -> rows
    quarantined: dict[tuple[str, str], int] = field(default_factory=dict)  # (field, reason) -> valid rows
    adjusted: dict[tuple[str, str], int] = field(default_factory=dict)  # (field, time note) -> valid rows
    unknown: dict[tuple[str, str], int] = field(default_factory=dict)  # (field, unknown value as read) -> valid rows
    missing_fields: tuple[str, ...] = ()
    taken_by_name: tuple[tuple[str, str], ...] = ()  # (field, column) matched by name, as the loader reports them
    ignored_columns: tuple[str, ...] = ()  # columns that map to no field
    # Valid ticket rows whose (typed) columns match a predicate, for the exact answers the rollups cannot give.
    read_rows: Callable[[pl.Expr], pl.DataFrame] | None = None
    latest_created: dt.datetime | None = None  # newest created_at not in the future (as the loader's `latest`)
    rows_in_future: int = 0  # valid tickets with a timestamp later than their file was written (+ tolerance)
    # ticket_id and the ROLLUP_DIMENSIONS (text) of the valid tickets QA reviewed, for QA reviews filtered or grouped
    # by a ticket field; None when built without the reviewed ids (build_rollups' `reviewed`).
    reviewed: pl.DataFrame | None = None

    def first_day(self) -> dt.date | None:
        days = self.levels[()].created["day"]
        return days.min() if days.len() else None

    def last_day(self) -> dt.date | None:
        days = self.levels[()].created["day"]
        return days.max() if days.len() else None

    def values(self, dimension: str) -> list[str]:
        """Sorted values of a dimension that have tickets (queues: those with human reviews, the one table by queue)."""
        table = self.levels[()].queues if dimension == "queue" else self.levels[(dimension,)].created
        codes = table[dimension].drop_nulls().unique().to_list()
        return sorted(self.dictionary[dimension][c] for c in codes)


def default_cache_dir(source: str | Path, mapping_file: str | Path | None = None) -> Path:
    """data/cache/rollups/<hash of resolved source and mapping> under BELLWETHER_DATA_DIR (default repo data/)."""
    data_dir = Path(os.environ.get("BELLWETHER_DATA_DIR", REPO_DATA_DIR))
    mapping = str(Path(mapping_file).resolve()) if mapping_file else ""
    digest = hashlib.sha256(f"{Path(source).resolve()}|{mapping}".encode()).hexdigest()[:16]
    return data_dir / "cache" / "rollups" / digest


def level_name(table: str, level: tuple[str, ...]) -> str:
    return table if level == FULL else f"{table}@{','.join(level) or '-'}"


def chunk_index(chunks: Path) -> dict[str, list[str]]:
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


def write_chunk(chunks: Path, keys: list[str], frames: dict[str, pl.DataFrame]) -> str:
    """Write a chunk (of the partitions with these keys) under a temporary name and rename it into place, so
    readers never see half a chunk."""
    name = hashlib.sha256("|".join(keys).encode()).hexdigest()[:20]
    staging = chunks / f".{name}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for table, frame in frames.items():
        frame.write_ipc(staging / f"{table}.arrow", compression="uncompressed")
    (staging / "parts.json").write_text(json.dumps(keys), encoding="utf-8")
    try:
        staging.rename(chunks / name)
    except OSError:  # a concurrent build wrote the same chunk first: same inputs, same content
        shutil.rmtree(staging, ignore_errors=True)
    return name


def read_chunk(folder: Path) -> tuple[list[str], dict[str, pl.DataFrame]]:
    """A cached chunk's tables, memory-mapped (uncompressed Arrow of plain types: nothing is copied)."""
    keys = json.loads((folder / "parts.json").read_text(encoding="utf-8"))
    return keys, {p.stem: mapped(p) for p in folder.glob("*.arrow") if p.stem != "ids"}


def mapped(path: Path) -> pl.DataFrame:
    return pl.from_arrow(ipc.open_file(pa.memory_map(str(path))).read_all(), rechunk=False)


def merge(
    chunks: list[tuple[list[str], dict[str, pl.DataFrame]]],
    source: str,
    signature: str,
    policy: SlaPolicy,
) -> Rollups:
    """The chunks' tables, one per name, with codes into one dictionary."""
    dictionary = {
        c: tuple(sorted({v for _, f in chunks for v in f["dictionary"].filter(pl.col("column") == c)["value"]}))
        for c in ENCODED
    }
    chunks = [(keys, recoded(frames, dictionary)) for keys, frames in chunks]

    def combined(name: str) -> pl.DataFrame:
        """Chunks are stacked, not summed: every query sums its rows by its own keys anyway."""
        return pl.concat([frames[name] for _, frames in chunks], how="vertical_relaxed", rechunk=False)

    levels = {}
    for level in LEVELS:
        tables = {n: combined(level_name(n, level)) for n in COUNT_TABLES}
        hists = {
            n: combined(level_name(n, level)) if level in HIST_LEVELS else None for n in (*HIST_TABLES, *PROFILE_TABLES)
        }
        levels[level] = Level(level, **tables, **hists)
    waiting = combined("waiting")
    rejected = combined("rejected").group_by(REASON).agg(pl.col("rows").sum())
    rejections = dict(zip(rejected[REASON].to_list(), rejected["rows"].to_list(), strict=True))
    by_field = {
        kind: {
            (f, r): n for f, r, n in combined(kind).group_by("field", "reason").agg(pl.col("rows").sum()).iter_rows()
        }
        for kind in ("quarantined", "adjusted")
    }
    unknown = combined("unknown").group_by("field", "value").agg(pl.col("rows").sum())
    columns = combined("columns").unique(maintain_order=True)
    taken = columns.filter(pl.col("field").is_not_null()).iter_rows()
    order = TABLES["tickets"].names
    current = combined("current").select(pl.col("latest_created", "as_of").max(), pl.col("in_future").sum())
    present = {f for _, frames in chunks for f in frames["present"]["field"].to_list()}
    created = levels[()].created
    return Rollups(
        source=source,
        signature=signature,
        levels=levels,
        sla=levels[FULL].sla,
        sla_waiting=waiting,
        sla_policy=policy,
        as_of=current["as_of"][0],
        dictionary=dictionary,
        rows=int(created["tickets"].sum()) if created.height else 0,
        rejected_rows=sum(rejections.values()),
        rejections=rejections,
        quarantined=by_field["quarantined"],
        adjusted=by_field["adjusted"],
        unknown={(f, v): n for f, v, n in unknown.iter_rows()},
        missing_fields=tuple(f for f in TABLES["tickets"].names if f not in present),
        taken_by_name=tuple(sorted(taken, key=lambda pair: order.index(pair[0]))),
        ignored_columns=tuple(columns.filter(pl.col("field").is_null())["column"]),
        latest_created=current["latest_created"][0],
        rows_in_future=int(current["in_future"][0] or 0),
    )


def recoded(frames: dict[str, pl.DataFrame], dictionary: dict[str, tuple[str, ...]]) -> dict[str, pl.DataFrame]:
    """A chunk's tables with their codes renumbered into `dictionary` (as they are when the chunk saw every value)."""
    own = frames["dictionary"]
    mappings = {}
    for c in ENCODED:
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
