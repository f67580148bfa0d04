"""Benchmark data at scale: N tickets as one zstd Parquet file per day, generated fast in bounded memory.

    python bench/scale_data.py [--tickets 50000000] [--days 730] [--seed 7] [--data-dir data/bench] [--regenerate]

Writes DATA_DIR/<N>-<days>d-s<seed>/tickets/YYYY-MM-DD.parquet (a folder source: `load_dataset` and
`build_rollups` read it as is), a small platform_metrics.parquet and manifest.json (written last: a folder
without it is incomplete and is regenerated). Each day is drawn from its own seeded generator, so days are
independent (written by one process per core) and the day after the last one can be added later, exactly
as a daily extract would arrive.

The world is wider than the demo's so that day × policy_domain × market × vendor × source has the
cardinality of the issue's reference (≈ 2.6M non-empty groups at 50M tickets over 730 days): 12 policy
domains and 40 markets with skewed (Zipf) shares, each market served by three of ten vendors plus the
internal team, six sources. Durations are log-normal with medians that differ by queue, vendor and domain;
tickets whose first action or close lies after the end of the data are still open.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from queries import contract
from queries.demo import world
from queries.demo.frames import labels, nullable, timestamps

GENERATOR_VERSION = "1"
END = dt.date(2026, 11, 24)  # last generated day: fixed, so the same N and seed give the same files
MANIFEST = "manifest.json"
DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "bench"

DOMAINS = (*world.DOMAIN_NAMES, "misinformation", "intellectual_property")
DOMAIN_SHARE = 1.0 / np.arange(1, len(DOMAINS) + 1) ** 1.0
MARKETS = (
    *("US", "BR", "ID", "MX", "PH", "TR", "GB", "DE", "FR", "JP", "IN", "VN", "TH", "EG", "SA"),
    *("PK", "NG", "CO", "AR", "IT", "ES", "PL", "KR", "MY", "CA", "AU", "NL", "ZA", "KE", "SE"),
    *("CL", "PE", "RO", "UA", "BD", "NZ", "PT", "GR", "CZ", "IL"),
)
MARKET_SHARE = 1.0 / np.arange(1, len(MARKETS) + 1) ** 1.1
MARKET_OFFSET_H = np.array([
    -5, -3, 7, -6, 8, 3, 0, 1, 1, 9, 5, 7, 7, 2, 3, 5, 1, -5, -3, 1,
    1, 1, 9, 8, -5, 10, 1, 2, 3, 1, -4, -5, 2, 2, 6, 12, 0, 2, 1, 2,
])  # fmt: skip
MARKET_LANGUAGE = (
    *("en", "pt", "id", "es", "tl", "tr", "en", "de", "fr", "ja", "hi", "vi", "th", "ar", "ar"),
    *("ur", "en", "es", "es", "it", "es", "pl", "ko", "ms", "en", "en", "nl", "en", "sw", "sv"),
    *("es", "es", "ro", "uk", "bn", "en", "pt", "el", "cs", "he"),
)
ENGLISH_SHARE = 0.15  # of tickets in a market whose language is not English
REGIONS = ("manila", "bogota", "lisbon", "berlin", "nairobi", "kuala_lumpur")  # one vendor site per region
MARKET_REGION = np.arange(len(MARKETS)) % len(REGIONS)
VENDORS = (
    *("atlas_cx", "meridian_review", "sentinel_ops", "northwind_trust", "kestrel_bpo"),
    *("lumen_moderation", "harbor_review", "quill_ops", "orbit_cx", "tidewater_cx", world.INTERNAL),
)
INTERNAL = len(VENDORS) - 1
REGION_VENDORS = np.array([(0, 1, 2), (2, 3, 4), (4, 5, 6), (6, 7, 8), (8, 9, 0), (0, 5, 9)])  # three per region
REGION_VENDOR_SPLIT = (0.5, 0.3, 0.2)
VENDOR_WAIT_FACTOR = np.array([1.0, 1.3, 0.8, 1.6, 1.1, 0.9, 1.4, 1.0, 1.2, 0.85, 0.6])
VENDOR_HANDLE_FACTOR = np.array([1.0, 1.05, 0.95, 1.1, 1.0, 0.9, 1.15, 1.0, 1.05, 0.95, 1.2])
INTERNAL_P0_SHARE = 0.25
# Domains: the demo's (proactive, automated share, handle times, surface mix), two more with the last row's values.
_DOMAIN_ROWS = (*world.DOMAINS, world.DOMAINS[-1], world.DOMAINS[-1])
PROACTIVE = np.array([d.proactive for d in _DOMAIN_ROWS])
AUTOMATED_GIVEN_PROACTIVE = np.array([d.automated / d.proactive for d in _DOMAIN_ROWS])
HANDLE_S = np.array([(d.handle_stream_s, d.handle_comment_s) for d in _DOMAIN_ROWS])
SURFACE_CDF = np.cumsum([d.surface_mix for d in _DOMAIN_ROWS], axis=1)
IMMINENT = np.array([d.imminent_harm for d in _DOMAIN_ROWS])
DOMAIN_WAIT_FACTOR = np.linspace(0.8, 1.6, len(DOMAINS))  # harder domains (the tail) wait longer
SOURCE = {name: i for i, name in enumerate(contract.SOURCES)}
REACTIVE_SPLIT = (("user_report", 0.66), ("escalation", 0.20), ("trusted_flagger", 0.07), ("appeal", 0.04))
REACTIVE_SPLIT += (("legal", 0.03),)
DECISION_BY_SOURCE = {**world.DECISION_BY_SOURCE, "appeal": (0.55, 0.02)}  # (P(violating), P(escalated))
QUEUES = world.QUEUES  # live_p0, live_p1, live_comments, gifts, reports
QUEUE_WAIT_MEDIAN_S = np.array([40.0, 150.0, 600.0, 900.0, 4 * 3600.0])
WAIT_SIGMA = 1.0
NEVER_CLOSED_SHARE = 0.002  # human tickets stuck open (the backlog's long tail)
DAILY_GROWTH = 0.35 / 365  # volume grows ~35 % a year
DAU_MILLIONS = 40.0 * MARKET_SHARE / MARKET_SHARE[0]


@dataclass(frozen=True)
class ScaleData:
    """A generated benchmark source: the folder to pass as --source, its size and its days."""

    folder: Path
    tickets: int
    days: int
    seed: int
    start: dt.date
    end: dt.date
    seconds: float | None  # generation time; None when reused

    @property
    def tickets_dir(self) -> Path:
        return self.folder / "tickets"

    @property
    def megabytes(self) -> float:
        return sum(p.stat().st_size for p in self.folder.rglob("*.parquet")) / 1e6


def ensure_scale_data(
    tickets: int, *, days: int = 730, seed: int = 7, data_dir: Path = DATA_DIR, regenerate: bool = False
) -> ScaleData:
    """The benchmark source for these parameters: reused when complete, else (re)generated."""
    folder = source_folder(data_dir, tickets, days, seed)
    start = END - dt.timedelta(days=days - 1)
    wanted = {"version": GENERATOR_VERSION, "tickets": tickets, "days": days, "seed": seed, "end": str(END)}
    manifest = folder / MANIFEST
    if not regenerate and manifest.exists() and _same(json.loads(manifest.read_text()), wanted):
        for extra in set(folder.joinpath("tickets").glob("*.parquet")) - {
            _day_path(folder, start, d) for d in range(days)
        }:
            extra.unlink()  # a day added by an interrupted benchmark run
        return ScaleData(folder, tickets, days, seed, start, END, None)
    began = time.perf_counter()
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "tickets").mkdir(parents=True)
    workers = min(os.cpu_count() or 1, 8)
    command = [sys.executable, __file__, "--tickets", str(tickets), "--days", str(days), "--seed", str(seed)]
    command += ["--data-dir", str(data_dir)]
    running = [subprocess.Popen([*command, "--worker", f"{i}/{workers}"]) for i in range(workers)]
    if any([p.wait() != 0 for p in running]):  # wait for every worker, then judge
        raise RuntimeError(f"generating {folder} failed (see the worker's error above)")
    platform_metrics(start, days).write_parquet(folder / "platform_metrics.parquet", compression="zstd")
    seconds = round(time.perf_counter() - began, 2)
    manifest.write_text(json.dumps({**wanted, "generation_seconds": seconds}, indent=2) + "\n")
    return ScaleData(folder, tickets, days, seed, start, END, seconds)


def source_folder(data_dir: Path, tickets: int, days: int, seed: int) -> Path:
    """Where the source for these parameters lives."""
    return data_dir / f"{tickets}-{days}d-s{seed}"


def add_next_day(data: ScaleData) -> Path:
    """Write the day after the last one (an average day's volume) into the source, as a new extract; its path."""
    count = round(data.tickets / data.days * (1 + DAILY_GROWTH * data.days / 2))
    _write_day((data.folder, data.start, data.days, count, data.tickets, data.days + 1, data.seed))
    return _day_path(data.folder, data.start, data.days)


def daily_counts(tickets: int, days: int, seed: int) -> np.ndarray:
    """Tickets per day summing to `tickets`: growth, the demo's weekly shape and a little noise."""
    rng = np.random.default_rng([seed, 1_000_000])
    start = END - dt.timedelta(days=days - 1)
    weekday = (np.arange(days) + start.weekday()) % 7
    weight = (1 + DAILY_GROWTH * np.arange(days)) * (1 + 0.1 * np.asarray(world.WEEKLY_SHAPE)[weekday])
    weight *= rng.lognormal(0.0, 0.05, days)
    return rng.multinomial(tickets, weight / weight.sum())


def platform_metrics(start: dt.date, days: int) -> pl.DataFrame:
    """Daily active users per day × market (for tickets per 1M DAU), growing with the ticket volume."""
    growth = 1 + DAILY_GROWTH * np.arange(days)
    return pl.DataFrame(
        {
            "date": pl.date_range(start, start + dt.timedelta(days=days - 1), eager=True).gather(
                np.repeat(np.arange(days), len(MARKETS))
            ),
            "market": np.tile(MARKETS, days),
            "dau": np.round(np.outer(growth, DAU_MILLIONS) * 1e6).astype(np.int64).ravel(),
        }
    )


def tickets_for_day(start: dt.date, day: int, count: int, first_id: int, days_known: int, seed: int) -> pl.DataFrame:
    """One day's tickets in contract schema, sorted by creation; open when acted or closed after `days_known`."""
    rng = np.random.default_rng([seed, day])
    n = count
    market = rng.choice(len(MARKETS), n, p=MARKET_SHARE / MARKET_SHARE.sum())
    domain = rng.choice(len(DOMAINS), n, p=DOMAIN_SHARE / DOMAIN_SHARE.sum())
    names, weights = zip(*REACTIVE_SPLIT, strict=True)
    reactive = np.array([SOURCE[s] for s in names])[rng.choice(len(names), n, p=weights)]
    proactive = rng.random(n) < PROACTIVE[domain]
    source = np.where(proactive, SOURCE["proactive_model"], reactive)
    surface = np.minimum((rng.random(n)[:, None] >= SURFACE_CDF[domain]).sum(axis=1), SURFACE_CDF.shape[1] - 1)
    stream = surface == world.SURFACES.index("live_stream")
    priority = np.select(
        [stream & IMMINENT[domain], stream, (surface == 1) | (surface == 2)], [0, 1, 2], 3
    )  # P0 imminent harm on a live stream, P1 other streams, P2 comments and gifts, P3 the rest
    queue = np.where(priority == 0, 0, np.array([1, 2, 3, 4, 4])[surface])
    automated = proactive & (rng.random(n) < AUTOMATED_GIVEN_PROACTIVE[domain])
    language = np.where(rng.random(n) < ENGLISH_SHARE, "en", np.asarray(MARKET_LANGUAGE)[market])

    region = MARKET_REGION[market]
    vendor = REGION_VENDORS[region, rng.choice(REGION_VENDORS.shape[1], n, p=REGION_VENDOR_SPLIT)]
    internal = np.isin(source, [SOURCE["escalation"], SOURCE["legal"]]) | (
        (priority == 0) & (rng.random(n) < INTERNAL_P0_SHARE)
    )
    vendor = np.where(internal, INTERNAL, vendor)
    site = np.where(internal, len(REGIONS), region)

    local_hour = rng.choice(24, size=n, p=np.asarray(world.INTRADAY_LOCAL) / sum(world.INTRADAY_LOCAL))
    created = np.sort(
        day * 86_400 + ((local_hour - MARKET_OFFSET_H[market]) % 24) * 3_600 + rng.integers(0, 3_600, n)
    )  # seconds since `start`; drawn in any order, so sorting keeps the rows independent

    wait_median = QUEUE_WAIT_MEDIAN_S[queue] * VENDOR_WAIT_FACTOR[vendor] * DOMAIN_WAIT_FACTOR[domain]
    wait = np.where(automated, 1.0 + rng.exponential(4.0, n), wait_median * rng.lognormal(0.0, WAIT_SIGMA, n))
    first = created + np.round(wait)
    handle_median = HANDLE_S[domain, np.where(np.asarray(world.SURFACE_USES_STREAM_HANDLE)[surface], 0, 1)]
    handle = np.maximum(np.round(handle_median * VENDOR_HANDLE_FACTOR[vendor] * rng.lognormal(0.0, 0.55, n)), 2.0)
    handle = np.where(automated, np.nan, handle)

    p_violating = np.array([DECISION_BY_SOURCE[s][0] for s in contract.SOURCES])
    p_escalated = np.array([DECISION_BY_SOURCE[s][1] for s in contract.SOURCES])
    u = rng.random(n)
    decision = np.select([u < p_violating[source], u < p_violating[source] + p_escalated[source]], [0, 2], 1)
    decision = np.where(automated & (decision == 2), 1, decision)
    escalation = np.where(decision == 2, np.round(rng.lognormal(np.log(8 * 3600), 0.8, n)), 0.0)
    closed = first + np.nan_to_num(handle) + escalation
    known_s = days_known * 86_400
    acted = first < known_s
    closed_known = acted & (closed < known_s) & (automated | (rng.random(n) >= NEVER_CLOSED_SHARE))

    views_rate = np.asarray(world.SURFACE_VIEWS_PER_SECOND)[surface] * rng.lognormal(0.0, world.VIEWS_SIGMA, n)
    views_rate = np.where(proactive, views_rate * world.PROACTIVE_VIEWS_FACTOR, views_rate)
    views = rng.poisson(views_rate * wait) + (source == SOURCE["user_report"])
    appealed = (decision == 0) & (rng.random(n) < world.APPEAL_RATE)
    overturned = appealed & (rng.random(n) < np.where(automated, world.OVERTURN_AUTOMATED, 0.2))

    first = np.where(acted, first, np.nan)
    closed = np.where(closed_known, closed, np.nan)
    updated = np.where(closed_known, closed, np.where(acted, first, created))
    ids = pl.Series(np.arange(first_id, first_id + n)).cast(pl.String).str.zfill(10)
    frame = pl.DataFrame(
        {
            "ticket_id": "TK" + ids,
            "created_at": timestamps(start, created),
            "first_action_at": timestamps(start, first),
            "closed_at": timestamps(start, closed),
            "updated_at": timestamps(start, updated),
            "queue": labels(QUEUES, queue),
            "surface": labels(world.SURFACES, surface),
            "policy_domain": labels(DOMAINS, domain),
            "market": labels(MARKETS, market),
            "language": pl.Series(language, dtype=pl.String),
            "source": labels(contract.SOURCES, source),
            "priority": labels(contract.PRIORITIES, priority),
            "vendor": labels(VENDORS, np.where(automated, -1, vendor)),
            "site": labels((*REGIONS, "dublin"), np.where(automated, -1, site)),
            "decision": labels(contract.DECISIONS, np.where(acted, decision, -1)),
            "handle_seconds": nullable(handle, acted & ~automated, pl.Float64),
            "automated": automated,
            "views_before_action": nullable(views, acted, pl.Int64),
            "appealed": nullable(appealed, acted, pl.Boolean),
            "appeal_overturned": nullable(overturned, acted, pl.Boolean),
        }
    )
    schema = contract.TICKETS.schema
    return frame.select([pl.col(c).cast(schema[c]) for c in frame.columns])


def write_days(folder: Path, tickets: int, days: int, seed: int, worker: int, workers: int) -> None:
    """Write every `workers`-th day starting at day `worker` (one of several processes writing a source)."""
    start = END - dt.timedelta(days=days - 1)
    counts = daily_counts(tickets, days, seed)
    first_ids = np.concatenate([[0], np.cumsum(counts)[:-1]])
    for day in range(worker, days, workers):
        _write_day((folder, start, day, int(counts[day]), int(first_ids[day]), days, seed))


def _write_day(job: tuple[Path, dt.date, int, int, int, int, int]) -> None:
    folder, start, day, count, first_id, days_known, seed = job
    path = _day_path(folder, start, day)
    tmp = path.with_name(path.name + ".tmp")
    tickets_for_day(start, day, count, first_id, days_known, seed).write_parquet(tmp, compression="zstd")
    os.replace(tmp, path)


def _day_path(folder: Path, start: dt.date, day: int) -> Path:
    return folder / "tickets" / f"{start + dt.timedelta(days=day)}.parquet"


def _same(manifest: dict, wanted: dict) -> bool:
    return all(manifest.get(k) == v for k, v in wanted.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=50_000_000)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--regenerate", action="store_true", help="generate even when the data exists")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # "i/n": write every n-th day from day i
    args = parser.parse_args()
    if args.worker:
        worker, workers = (int(x) for x in args.worker.split("/"))
        folder = source_folder(args.data_dir, args.tickets, args.days, args.seed)
        write_days(folder, args.tickets, args.days, args.seed, worker, workers)
        return
    data = ensure_scale_data(
        args.tickets, days=args.days, seed=args.seed, data_dir=args.data_dir, regenerate=args.regenerate
    )
    state = f"generated in {data.seconds} s" if data.seconds is not None else "reused"
    print(f"{data.folder}: {data.tickets:,} tickets, {data.days} days, {data.megabytes:,.1f} MB ({state})")


if __name__ == "__main__":
    main()
