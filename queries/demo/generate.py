"""Orchestration: build the world for a period, simulate it, write the demo warehouse."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

from queries import contract
from queries.demo import outcomes, quality, queue_sim, staffing, tickets, timeline, volume, world
from queries.demo.frames import labels, nullable, timestamps
from queries.progress import Progress

TABLE_FILES = {name: f"{name}.parquet" for name in contract.TABLES}
SPIKES_FILE = Path("truth") / "spikes.csv"
MANIFEST_FILE = "manifest.json"


@dataclasses.dataclass(frozen=True)
class DemoSummary:
    """What `generate_demo` wrote: parameters, rows per table, seconds taken, bytes written."""

    out: Path
    days: int
    tickets_per_day: int
    seed: int
    start: dt.date
    end: dt.date
    rows: dict[str, int]
    seconds: float
    bytes_written: int
    version: str = world.GENERATOR_VERSION

    def as_dict(self) -> dict[str, object]:
        """Plain JSON-ready fields (paths and dates as strings)."""
        fields = dataclasses.asdict(self)
        return {k: str(v) if isinstance(v, Path | dt.date) else v for k, v in fields.items()}


def generate_demo(
    out: Path,
    *,
    days: int = 730,
    tickets_per_day: int = world.REFERENCE_TICKETS_PER_DAY,
    seed: int = 7,
    end: dt.date | None = None,
    progress: Progress | None = None,
) -> DemoSummary:
    """Generate the demo warehouse into `out/` (replacing a previous demo there).

    Covers `days` days ending at `end` (inclusive; default: yesterday, the last full UTC
    day, so no timestamp lies in the future) with on average
    `tickets_per_day` tickets a day. The same parameters give byte-identical tables.
    `progress(share_done, step)` hears of each step as it starts.
    """
    if days < 1 or tickets_per_day < 1:
        raise ValueError("days and tickets_per_day must be positive")
    began = time.perf_counter()
    report = progress or (lambda done, step: None)
    end = end or dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    start = end - dt.timedelta(days=days - 1)
    tables, spikes = build_tables(start, days, tickets_per_day, seed, report)

    report(0.85, "Writing the tables")

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(out / SPIKES_FILE.parent, ignore_errors=True)
    (out / SPIKES_FILE.parent).mkdir()
    written = 0
    for name, frame in tables.items():
        written += _write(out / TABLE_FILES[name], lambda p, f=frame: f.write_parquet(p, compression="zstd"))
    written += _write(out / SPIKES_FILE, spikes.write_csv)

    rows = {name: frame.height for name, frame in tables.items()}
    seconds = round(time.perf_counter() - began, 3)
    manifest = {
        "generator": "queries.demo",
        "version": world.GENERATOR_VERSION,
        "parameters": {"days": days, "tickets_per_day": tickets_per_day, "start": str(start), "end": str(end)},
        "seed": seed,
        "rows": rows,
        "generation_seconds": seconds,
    }
    text = json.dumps(manifest, indent=2) + "\n"
    written += _write(out / MANIFEST_FILE, lambda p: p.write_text(text, encoding="utf-8"))
    report(1.0, "Done")
    return DemoSummary(out, days, tickets_per_day, seed, start, end, rows, seconds, written)


def _write(path: Path, writer: Callable[[Path], object]) -> int:
    """Write through a temporary file and rename, so readers never see half a file."""
    tmp = path.with_name(path.name + ".tmp")
    writer(tmp)
    os.replace(tmp, path)
    return path.stat().st_size


def build_tables(
    start: dt.date, days: int, tickets_per_day: int, seed: int, report: Progress = lambda done, step: None
) -> tuple[dict[str, pl.DataFrame], pl.DataFrame]:
    """All contract tables (in contract order and dtypes) and the spike truth, in memory."""
    rng = np.random.default_rng(seed)
    report(0.0, "Drawing the calendar, users and tickets")
    tl = timeline.build(start, days, rng)
    dau = volume.daily_active_users(tl, rng)
    counts = volume.draw_counts(volume.expected_tickets(tl, dau, tickets_per_day, rng), rng)
    t = tickets.draw(counts, rng)

    human = t.pool >= 0
    work = np.bincount(
        t.pool[human] * days + t.day[human], weights=t.handle_s[human], minlength=len(world.POOLS) * days
    ).reshape(len(world.POOLS), days)
    report(0.3, "Staffing the vendors and simulating their queues")
    staff = staffing.simulate(work, tl, rng, size=tickets_per_day / world.REFERENCE_TICKETS_PER_DAY)
    delays = queue_sim.first_action_delays(t, staff.productive_s, rng)
    report(0.5, "Deciding tickets, appeals and QA reviews")
    acc = quality.accuracy(tl)
    end_s = days * 86_400
    res = outcomes.decide(t, delays, acc, end_s, rng)

    ticket_id = pl.Series("ticket_id", np.arange(len(t))).cast(pl.String).str.zfill(8)
    ticket_id = ("TK" + ticket_id).alias("ticket_id")
    frames = {
        "tickets": _tickets_frame(t, res, ticket_id, start),
        "staffing": staff.frame,
        "qa_reviews": quality.qa_reviews(t, ticket_id, res.first_action_s, res.decision, acc, start, end_s, rng),
        "platform_metrics": pl.DataFrame(
            {
                "date": np.tile(tl.dates, len(world.MARKETS)),
                "market": np.repeat(world.MARKET_CODES, days),
                "dau": np.round(dau).astype(np.int64).ravel(),
            }
        ).sort("date", "market"),
        "events": tl.events_frame(),
    }
    tables = {name: _conform(name, frame) for name, frame in frames.items()}
    return tables, tl.spikes_frame()


def _tickets_frame(t: tickets.Tickets, res: outcomes.Outcomes, ticket_id: pl.Series, start: dt.date) -> pl.DataFrame:
    """The `tickets` table; routing fields are empty for automated decisions."""
    pool = np.maximum(t.pool, 0)
    vendor = np.where(t.automated, -1, quality.POOL_VENDOR[pool])
    sites = tuple(p.site for p in world.POOLS)
    updated = np.where(~np.isnan(res.closed_s), res.closed_s, res.first_action_s)
    updated = np.where(np.isnan(updated), t.created_s, updated)
    acted = res.decision >= 0
    return pl.DataFrame(
        {
            "ticket_id": ticket_id,
            "created_at": timestamps(start, t.created_s),
            "first_action_at": timestamps(start, res.first_action_s),
            "closed_at": timestamps(start, res.closed_s),
            "updated_at": timestamps(start, updated),
            "queue": labels(world.QUEUES, t.queue),
            "surface": labels(world.SURFACES, t.surface),
            "policy_domain": labels(world.DOMAIN_NAMES, t.domain),
            "market": labels(world.MARKET_CODES, t.market),
            "language": labels(world.LANGUAGES, t.language),
            "source": labels(contract.SOURCES, t.source),
            "priority": labels(contract.PRIORITIES, t.priority),
            "vendor": labels(world.VENDOR_NAMES, vendor),
            "site": labels(sites, np.where(t.automated, -1, pool)),
            "decision": labels(contract.DECISIONS, res.decision),
            "handle_seconds": nullable(t.handle_s, ~t.automated & acted, pl.Float64),
            "automated": t.automated,
            "views_before_action": nullable(res.views, acted, pl.Int64),
            "appealed": nullable(res.appealed == 1, acted, pl.Boolean),
            "appeal_overturned": nullable(res.overturned == 1, acted, pl.Boolean),
            "sla_met": pl.Series([None] * len(t), dtype=pl.Boolean),
            "due_at": pl.Series([None] * len(t), dtype=pl.Datetime("us")),
        }
    )


def _conform(name: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Select the contract's columns in its order, cast to its dtypes."""
    schema = contract.TABLES[name].schema
    return frame.select([pl.col(col).cast(dtype) for col, dtype in schema.items()])
