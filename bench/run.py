"""Benchmark at scale: the project's rollups against naive exact-quantile rollups in Polars, pandas and DuckDB.

    python bench/run.py [--tickets 50000000] [--days 730] [--seed 7] [--data-dir data/bench] [--regenerate]
                        [--repeat 5] [--rounds 3] [--max-rss-gib 18] [--json OUT] [--markdown OUT]

On the same generated files (bench/scale_data.py; reused when they exist) and each in a fresh process
that reports its own wall time and peak RSS, every contender once per round for --rounds interleaved
rounds (the median is reported, every run's seconds in `NAME_runs_s`):
- `rollup_s`: queries.rollups.build_rollups with an empty cache (cold);
- `polars_naive_s`, `pandas_s`, `duckdb_s`: a rollup by day × policy_domain × market × vendor × source with
  exact P50/P90 hours to close (linear interpolation), in Polars (lazy scan), pandas (pyarrow read) and
  DuckDB (`quantile_cont` over read_parquet);
- `polars_hist_s`, `duckdb_hist_s`: the rollups' core step alone in each engine (tickets per day × the five
  filter dimensions × queries.histogram bucket of seconds to close), to choose the engine on that work;
- `duckdb_equal_s`: the rollups' work in DuckDB (bench/equal_work.py: the same rules, rejected and quarantined
  counts, tables, levels and histograms, written out); its outputs are checked against the rollups' (`equal`);
- `polars_read_s`, `duckdb_read_s`: only reading every column the rollups need (each decoded and counted,
  nothing grouped): the floor under any build in that engine that validates and aggregates those columns;
- `incremental_s`: the next day's file added, build_rollups again on the warm cache;
- `rollup_load_ms`, `page_ms`: the rollups loaded from the disk cache, then the Overview's and Turnaround's
  data from them over several filter views (p50 and max per page; `page_ms` is the slowest view of any page);
- the percentile error observed: rollup percentiles against exact DuckDB `quantile_cont` over many filter ×
  grouping combinations down to day × four dimensions (small groups), next to PERCENTILE_ERROR_BOUND.
Writes JSON (every number, the machine, versions) and a Markdown report with PASS/FAIL per target.
Only the standard library is imported up front, so each contender's peak RSS counts its own engine only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench import equal_work  # noqa: E402  (standard library only up front, like this file)

NAIVE_KEYS = ("day", "policy_domain", "market", "vendor", "source")
SCALE = 50_000_000  # the reference size: the full targets apply from here, the quick-run ones below
CONTENDERS = ("rollup", "duckdb_equal", "polars_naive", "pandas", "duckdb", "polars_hist", "duckdb_hist", "polars_read")
CONTENDERS += ("duckdb_read",)
HIST_KEYS = ("day", "policy_domain", "market", "surface", "source", "vendor")  # the rollups' full grain


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=SCALE)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data-dir", type=Path, help="default: data/bench")
    parser.add_argument("--regenerate", action="store_true", help="generate the data even when it exists")
    parser.add_argument("--repeat", type=int, default=5, help="runs per page view (median taken)")
    parser.add_argument(
        "--rounds", type=int, default=3, help="interleaved runs of every contender, each in a fresh process (median)"
    )
    parser.add_argument("--max-rss-gib", type=float, default=18.0, help="stop a step that grows beyond this")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--markdown", type=Path)
    parser.add_argument("--child", choices=(*CONTENDERS, "pages", "errors", "equal"), help=argparse.SUPPRESS)
    parser.add_argument("--source", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--cache-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        began = time.perf_counter()
        out = CHILDREN[args.child](args)
        out.setdefault("seconds", time.perf_counter() - began)
        print(json.dumps({**out, "peak_rss_mb": _peak_rss_mb()}, default=str))
        return
    results = run(args)
    report = markdown(results)
    print(report)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    if args.markdown:
        args.markdown.write_text(report)
    sys.exit(1 if results["failed_steps"] else 0)


# ---------------------------------------------------------------------------------------------------------------
# The run: data, then every step in its own process, one after the other


def run(args: argparse.Namespace) -> dict:
    """Every measurement for one size, as flat JSON-ready numbers plus targets and machine."""
    from bench.scale_data import DATA_DIR, add_next_day, ensure_scale_data

    data_dir = args.data_dir or DATA_DIR
    data = ensure_scale_data(
        args.tickets, days=args.days, seed=args.seed, data_dir=data_dir, regenerate=args.regenerate
    )
    files = sorted(data.tickets_dir.glob("*.parquet"))
    for path in files:  # read every file once so the first contender does not pay for a cold disk
        path.read_bytes()
    results: dict = {
        "tickets": data.tickets,
        "days": data.days,
        "seed": data.seed,
        "source": str(data.folder),
        "files": len(files),
        "data_mb": round(data.megabytes, 1),
        "generate_s": data.seconds,
        "machine": machine(),
    }
    failed: dict[str, str] = {}

    def step(name: str, cache: Path | None = None) -> dict:
        try:
            return _child(name, data.folder, cache, args.repeat, args.max_rss_gib * 1024)
        except RuntimeError as exc:
            failed[name] = str(exc)
            return {}

    cache = Path(tempfile.mkdtemp(prefix="rollups-", dir=data_dir))
    try:
        runs = interleaved(step, CONTENDERS, args.rounds, cache, data_dir)
        cold, naive = runs["rollup"], {name: runs[name] for name in CONTENDERS[1:]}
        results["rollup_cache_mb"] = round(_folder_mb(cache), 1)
        results["rounds"] = args.rounds
        results.update({f"{name}_runs_s": [_round(s) for s in out.get("runs_s", [])] for name, out in runs.items()})
        pages, errors, equal, incremental = {}, {}, {}, {}
        if cold:  # the rest reads the warm cache
            pages, errors, equal = (step(name, cache) for name in ("pages", "errors", "equal"))
            new_day = add_next_day(data)
            try:
                incremental = step("rollup", cache)
            finally:
                new_day.unlink()
        else:
            failed["pages, errors, equal, incremental"] = "skipped: they need the cold build's cache"
    finally:
        shutil.rmtree(cache, ignore_errors=True)

    results.update(
        rollup_s=_round(cold.get("seconds")),
        rollup_peak_rss_mb=_round(cold.get("peak_rss_mb"), None),
        rollup_partitions=cold.get("partitions"),
        rollup_rows=cold.get("rows"),
        rollup_rejected_rows=cold.get("rejected_rows"),
    )
    for name, out in naive.items():
        results[f"{name}_s"] = _round(out.get("seconds"))
        results[f"{name}_peak_rss_mb"] = _round(out.get("peak_rss_mb"), None)
        results[f"{name}_groups"] = out.get("groups")
    results.update(
        incremental_s=_round(incremental.get("seconds")),
        incremental_rebuilt=incremental.get("rebuilt"),
        incremental_peak_rss_mb=_round(incremental.get("peak_rss_mb"), None),
        **{k: v for out in (pages, errors, equal) for k, v in out.items() if k not in ("seconds", "peak_rss_mb")},
    )
    results.update(ratios(results))
    results["targets"] = targets(results)
    results["failed_steps"] = failed
    return results


def interleaved(step, names: tuple[str, ...], rounds: int, cache: Path, data_dir: Path) -> dict[str, dict]:
    """Every contender once per round, in turn (so a slow spell of a shared machine hits all alike): per
    contender its median run's numbers, the seconds of every run (`runs_s`) and the highest peak RSS. The
    rollups build cold each time; the first round's cache is kept for the steps that read it."""
    done: dict[str, list[dict]] = {name: [] for name in names}
    for round_ in range(rounds):
        for name in names:
            if name != "rollup":
                out = step(name)
            elif round_ == 0:
                out = step(name, cache)
            else:
                fresh = Path(tempfile.mkdtemp(prefix="rollups-", dir=data_dir))
                try:
                    out = step(name, fresh)
                finally:
                    shutil.rmtree(fresh, ignore_errors=True)
            if out:
                done[name].append(out)
    return {name: _median_run(outs) for name, outs in done.items()}


def _median_run(outs: list[dict]) -> dict:
    """The run with the median seconds (the lower middle one of an even count), with every run's seconds and
    the highest peak RSS; empty when no run succeeded."""
    if not outs:
        return {}
    ordered = sorted(outs, key=lambda o: o["seconds"])
    middle = dict(ordered[(len(ordered) - 1) // 2])
    middle["seconds"] = statistics.median(o["seconds"] for o in outs)
    middle["peak_rss_mb"] = max(o.get("peak_rss_mb", 0) for o in outs)
    middle["runs_s"] = [o["seconds"] for o in outs]
    return middle


def _child(name: str, source: Path, cache: Path | None, repeat: int, max_rss_mb: float) -> dict:
    """Run one step in a fresh interpreter; its JSON line (seconds, peak_rss_mb, …)."""
    command = [sys.executable, __file__, "--child", name, "--source", str(source), "--repeat", str(repeat)]
    command += ["--cache-dir", str(cache)] if cache else []
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        child = subprocess.Popen(command, stdout=stdout, stderr=stderr, text=True, cwd=REPO)
        while child.poll() is None:  # a shared machine: stop a step before it pushes others out of memory
            if _rss_mb(child.pid) > max_rss_mb:
                child.kill()
                child.wait()
                raise RuntimeError(f"{name} stopped at {max_rss_mb:,.0f} MB resident (--max-rss-gib)")
            time.sleep(0.1)
        stdout.seek(0)
        stderr.seek(0)
        if child.returncode != 0:
            raise RuntimeError(f"{name} failed: " + " | ".join(stderr.read().strip().splitlines()[-3:]))
        return json.loads(stdout.read().strip().splitlines()[-1])


def _rss_mb(pid: int) -> float:
    """Current resident memory of a process (0 once it has gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    return next((int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmRSS")), 0.0)


def ratios(r: dict) -> dict[str, float | None]:
    """rollup_s over duckdb_s and duckdb_equal_s, polars_read_s / duckdb_s, pandas_s and polars_naive_s / rollup_s."""

    def ratio(a: str, b: str) -> float | None:
        return round(r[a] / r[b], 2) if r.get(a) and r.get(b) else None

    return {
        "rollup_over_duckdb": ratio("rollup_s", "duckdb_s"),
        "rollup_over_duckdb_equal": ratio("rollup_s", "duckdb_equal_s"),
        "polars_read_over_duckdb": ratio("polars_read_s", "duckdb_s"),
        "pandas_over_rollup": ratio("pandas_s", "rollup_s"),
        "polars_naive_over_rollup": ratio("polars_naive_s", "rollup_s"),
    }


def targets(r: dict) -> list[dict]:
    """The issue's targets for this size: what was measured, the limit, pass or fail (None when not measured)."""

    def check(name: str, value: float | None, limit: float | None, text: str) -> dict:
        passed = None if value is None or limit is None else value <= limit
        return {"target": name, "measured": value, "limit": limit, "text": text, "pass": passed}

    rollup, duckdb, pandas, equal = r.get("rollup_s"), r.get("duckdb_s"), r.get("pandas_s"), r.get("duckdb_equal_s")
    fair = "cold build vs the equal-work DuckDB build"
    if r["tickets"] >= SCALE:
        speed = [check("rollup_s ≤ duckdb_s", rollup, duckdb, "rollup build faster than DuckDB quantile_cont")]
    else:
        speed = [
            check("rollup_s ≤ 1.2 × duckdb_s", rollup, duckdb and 1.2 * duckdb, "quick run: at most 1.2 × DuckDB"),
            check("rollup_s ≤ pandas_s / 3", rollup, pandas and pandas / 3, "quick run: at least 3 × faster"),
        ]
    return [
        check("rollup_s ≤ 0.8 × duckdb_equal_s", rollup, equal and 0.8 * equal, fair),
        *speed,
        check("rollup_peak_rss_mb ≤ 4096", r.get("rollup_peak_rss_mb"), 4096, "peak memory of the build"),
        check("incremental_s ≤ 2", r.get("incremental_s"), 2.0, "one new day of extracts"),
        check("page_ms ≤ 150", r.get("page_ms"), 150.0, "slowest page data step from rollups"),
        check(
            "percentile error ≤ bound",
            r.get("percentile_error_max"),
            r.get("percentile_error_bound"),
            "max relative error of rollup P50/P90 vs exact",
        ),
        check("count mismatches = 0", r.get("count_mismatches"), 0, "tickets and measured per group equal exact"),
        check(
            "duckdb_equal_mismatches = 0", r.get("duckdb_equal_mismatches"), 0, "the DuckDB build equals the rollups"
        ),
    ]


def machine() -> dict:
    """Cores, RAM, CPU, load and library versions."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if "MemTotal" in line)
    return {
        "cores": os.cpu_count(),
        "ram_gib": round(mem_kb / 2**20, 1),
        "cpu": cpu,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        **{lib: metadata.version(lib) for lib in ("polars", "duckdb", "pandas", "pyarrow", "numpy")},
    }


# ---------------------------------------------------------------------------------------------------------------
# The steps, each run in its own process (imports inside, so a step's peak RSS is its own)


def _rollup_step(args: argparse.Namespace) -> dict:
    from queries.engines.rollups.build import build_rollups

    began = time.perf_counter()
    _, stats = build_rollups(args.source, cache_dir=args.cache_dir)
    seconds = time.perf_counter() - began
    return {"seconds": seconds, "partitions": stats.partitions, "rebuilt": stats.rebuilt, "rows": stats.rows,
            "rejected_rows": stats.rejected_rows}  # fmt: skip


def _polars_step(args: argparse.Namespace) -> dict:
    import polars as pl

    began = time.perf_counter()
    hours = (pl.col("closed_at") - pl.col("created_at")).dt.total_microseconds() / 3.6e9
    out = (
        pl.scan_parquet(args.source / "tickets" / "*.parquet")
        .group_by(pl.col("created_at").dt.date().alias("day"), *NAIVE_KEYS[1:])
        .agg(
            pl.len().alias("tickets"),
            hours.quantile(0.5, interpolation="linear").alias("p50_hours"),
            hours.quantile(0.9, interpolation="linear").alias("p90_hours"),
        )
        .collect()
    )
    return {"seconds": time.perf_counter() - began, "groups": out.height}


def _pandas_step(args: argparse.Namespace) -> dict:
    import pandas as pd

    began = time.perf_counter()
    frame = pd.read_parquet(args.source / "tickets", columns=["created_at", "closed_at", *NAIVE_KEYS[1:]])
    frame["day"] = frame["created_at"].dt.floor("D")
    frame["hours"] = (frame["closed_at"] - frame["created_at"]).dt.total_seconds() / 3600
    out = frame.groupby(list(NAIVE_KEYS), dropna=False, sort=False)["hours"].quantile([0.5, 0.9]).unstack()
    return {"seconds": time.perf_counter() - began, "groups": len(out)}


def _duckdb_step(args: argparse.Namespace) -> dict:
    import duckdb

    began = time.perf_counter()
    out = (
        duckdb.connect()
        .sql(
            f"""SELECT CAST(created_at AS DATE) AS day, {", ".join(NAIVE_KEYS[1:])}, count(*) AS tickets,
                quantile_cont(date_diff('microsecond', created_at, closed_at) / 3.6e9, [0.5, 0.9]) AS hours
            FROM read_parquet(?) GROUP BY ALL""",
            params=[str(args.source / "tickets" / "*.parquet")],
        )
        .to_arrow_table()
    )
    return {"seconds": time.perf_counter() - began, "groups": out.num_rows}


def _polars_hist_step(args: argparse.Namespace) -> dict:
    """The rollups' core step alone, to compare engines: tickets per day × the five dimensions × log-spaced
    bucket (queries.histogram) of seconds to close."""
    import polars as pl

    from queries.histogram import bucket_expr

    began = time.perf_counter()
    seconds = (pl.col("closed_at") - pl.col("created_at")).dt.total_microseconds() / 1e6
    out = (
        pl.scan_parquet(args.source / "tickets" / "*.parquet")
        .group_by(pl.col("created_at").dt.date().alias("day"), *HIST_KEYS[1:], bucket_expr(seconds).alias("bucket"))
        .agg(pl.len().alias("count"))
        .collect()
    )
    return {"seconds": time.perf_counter() - began, "groups": out.height}


def _duckdb_hist_step(args: argparse.Namespace) -> dict:
    """The same histogram step in DuckDB, with queries.histogram's bucket edges written in SQL."""
    import duckdb

    bucket = equal_work.bucket_sql("date_diff('microsecond', created_at, closed_at) / 1e6")  # imports the project
    began = time.perf_counter()
    out = (
        duckdb.connect()
        .sql(
            f"""SELECT CAST(created_at AS DATE) AS day, {", ".join(HIST_KEYS[1:])}, {bucket} AS bucket, count(*)
            FROM read_parquet(?) GROUP BY ALL""",
            params=[str(args.source / "tickets" / "*.parquet")],
        )
        .to_arrow_table()
    )
    return {"seconds": time.perf_counter() - began, "groups": out.num_rows}


def _read_columns(source: Path) -> list[str]:
    """The ticket columns the rollups read (queries.engines.rollups.checked.USED) that the generated files have."""
    import pyarrow.parquet as pq

    from queries.engines.rollups.checked import USED

    return [c for c in pq.read_schema(next((source / "tickets").glob("*.parquet"))).names if c in USED]


def _polars_read_step(args: argparse.Namespace) -> dict:
    """Every column the rollups need, read and decoded (text measured, the rest counted), nothing grouped."""
    import polars as pl

    columns = _read_columns(args.source)  # outside the clock: it imports the project
    began = time.perf_counter()
    out = (
        pl.scan_parquet(args.source / "tickets" / "*.parquet")
        .select(pl.col(c).str.len_bytes().sum() if c == "ticket_id" else pl.col(c).is_not_null().sum() for c in columns)
        .collect()
    )
    return {"seconds": time.perf_counter() - began, "groups": out.width}


def _duckdb_read_step(args: argparse.Namespace) -> dict:
    """The same reading in DuckDB."""
    import duckdb

    columns = _read_columns(args.source)  # outside the clock: it imports the project
    began = time.perf_counter()
    selected = ", ".join(f"sum(length({c}))" if c == "ticket_id" else f"count({c})" for c in columns)
    out = (
        duckdb.connect()
        .sql(f"SELECT {selected} FROM read_parquet(?)", params=[str(args.source / "tickets" / "*.parquet")])
        .to_arrow_table()
    )
    return {"seconds": time.perf_counter() - began, "groups": out.num_columns}


def _pages_step(args: argparse.Namespace) -> dict:
    """Rollups loaded from the warm disk cache, then each page's data for every view (median of --repeat)."""
    from bench.common import timed
    from queries.engines.rollups.build import build_rollups

    began = time.perf_counter()
    r, stats = build_rollups(args.source, cache_dir=args.cache_dir)
    load_ms = (time.perf_counter() - began) * 1000
    assert stats.rebuilt == 0, "the pages step expects a warm cache"
    views = _views(r)
    out: dict[str, float] = {"rollup_load_ms": round(load_ms, 1)}
    for page, data in (("overview", overview_data), ("turnaround", turnaround_data)):
        per_view = [timed(lambda f=f, data=data: data(r, f), args.repeat) * 1000 for f in views.values()]
        out[f"page_{page}_ms_p50"] = round(statistics.median(per_view), 1)
        out[f"page_{page}_ms_max"] = round(max(per_view), 1)
    out["page_ms"] = max(out["page_overview_ms_max"], out["page_turnaround_ms_max"])
    out["page_views"] = len(views)
    return out


def _views(r) -> dict:
    """The filter views pages are timed on: everything, one market, one domain, the last 28 days."""
    import datetime as dt

    from bench.scale_data import DOMAINS, MARKETS
    from queries.filters import Filters

    first, last = r.first_day(), r.last_day()
    return {
        "all": Filters(first, last),
        "one market": Filters(first, last, market=(MARKETS[1],)),
        "one domain": Filters(first, last, policy_domain=(DOMAINS[4],)),
        "last 28 days": Filters(last - dt.timedelta(days=27), last),
    }


def overview_data(r, f) -> None:
    """The Overview's data from rollups: KPI tiles now and before, weekly trend by domain, top movers."""
    import datetime as dt

    import polars as pl

    from queries.analyses.overview import KPI_TILES
    from queries.engines.rollups.read import rollup_summary
    from queries.engines.rollups.storage import ROLLUP_METRICS
    from queries.filters import Filters

    for metric in dict.fromkeys(m for _, m, *_ in KPI_TILES if m in ROLLUP_METRICS):
        rollup_summary(r, metric, f, [], None)
        rollup_summary(r, metric, f.previous(), [], None)
    weeks = Filters(max(f.start, f.end - dt.timedelta(weeks=26)), f.end, **f.selections())
    rollup_summary(r, "volume", weeks, ["policy_domain"], "week")
    by = ["policy_domain", "market"]
    now = rollup_summary(r, "volume", f, by, None)
    before = rollup_summary(r, "volume", f.previous(), by, None).rename({"tickets": "previous_tickets"})
    movers = now.join(before, on=by, how="full", coalesce=True, nulls_equal=True).fill_null(0)
    movers.with_columns((pl.col("tickets") - pl.col("previous_tickets")).alias("change")).sort(
        pl.col("change").abs(), descending=True
    ).head(10)


def turnaround_data(r, f) -> None:
    """The Turnaround page's data from rollups: P50/P90 hours to first action and to close, overall, by week
    and by vendor."""
    from queries.engines.rollups.read import rollup_summary

    for metric in equal_work.ERROR_METRICS:
        rollup_summary(r, metric, f, [], None)
        rollup_summary(r, metric, f, [], "week")
        rollup_summary(r, metric, f, ["vendor"], None)


CHILDREN = {
    "rollup": _rollup_step,
    "polars_naive": _polars_step,
    "pandas": _pandas_step,
    "duckdb": _duckdb_step,
    "polars_hist": _polars_hist_step,
    "duckdb_hist": _duckdb_hist_step,
    "polars_read": _polars_read_step,
    "duckdb_read": _duckdb_read_step,
    "duckdb_equal": equal_work.step,
    "pages": _pages_step,
    "errors": equal_work.errors_step,
    "equal": equal_work.check_step,
}


# ---------------------------------------------------------------------------------------------------------------
# Report


def markdown(r: dict) -> str:
    """The report: steps side by side, page data, percentile error, ratios and targets."""
    m = r["machine"]
    made = f"generated in {r['generate_s']} s" if r["generate_s"] is not None else "reused"
    lines = [
        f"### {r['tickets']:,} tickets over {r['days']} days ({r['files']} daily files, {r['data_mb']:,} MB zstd "
        f"Parquet, {made})",
        "",
        f"Machine: {m['cores']} cores ({m['cpu']}), {m['ram_gib']} GiB RAM, load {m['load_average_1m']} at start; "
        f"Python {m['python']}, Polars {m['polars']}, DuckDB {m['duckdb']}, pandas {m['pandas']}, "
        f"pyarrow {m['pyarrow']}, NumPy {m['numpy']}.",
        "",
        f"Wall seconds are the median of {r.get('rounds', 1)} interleaved rounds (each contender once per round, "
        "in turn); peak RSS is the highest of the rounds.",
        "",
        "| step (own process) | wall s | peak RSS MB | notes |",
        "|---|---:|---:|---|",
        *(
            f"| {text} (`{key}_s`) | {_fmt(r.get(f'{key}_s'))} | {_fmt(r.get(f'{key}_peak_rss_mb'))} | {notes} |"
            for key, text, notes in _step_rows(r)
        ),
        "",
        f"Page data from the rollups over {_fmt(r.get('page_views'))} views (all days, one market, one domain, last 28 "
        f"days; median of repeats per view), after loading them from the disk cache in "
        f"{_fmt(r.get('rollup_load_ms'))} ms (`rollup_load_ms`):",
        "",
        "| page | p50 ms | max ms |",
        "|---|---:|---:|",
        f"| Overview (KPIs now and before, weekly trend by domain, top movers) | {_fmt(r.get('page_overview_ms_p50'))} "
        f"| {_fmt(r.get('page_overview_ms_max'))} |",
        f"| Turnaround (P50/P90 to first action and to close: overall, by week, by vendor) "
        f"| {_fmt(r.get('page_turnaround_ms_p50'))} | {_fmt(r.get('page_turnaround_ms_max'))} |",
        "",
        f"Percentiles from merged histograms vs exact (DuckDB quantile_cont) over {_fmt(r.get('error_cases'))} "
        f"metric × filter × grouping cases, {_fmt(r.get('percentiles_compared'))} group percentiles "
        f"({_fmt(r.get('percentiles_compared_small_groups'))} in groups of ≤ 10 tickets; "
        f"{_fmt(r.get('percentiles_unanswered'))} left null by the rollups): max relative error "
        f"{_pct(r.get('percentile_error_max'))}, p99 {_pct(r.get('percentile_error_p99'))}, max in small groups "
        f"{_pct(r.get('percentile_error_max_small_groups'))} (stated bound {_pct(r.get('percentile_error_bound'))}); "
        f"means max relative error {_fmt(r.get('mean_error_max'))}; groups whose tickets or measured count differ "
        f"from exact: {_fmt(r.get('count_mismatches'))}.",
        "",
        f"Ratios: rollup_s / duckdb_equal_s = {_fmt(r.get('rollup_over_duckdb_equal'))}, "
        f"rollup_s / duckdb_s = {_fmt(r['rollup_over_duckdb'])}, "
        f"polars_read_s / duckdb_s = {_fmt(r.get('polars_read_over_duckdb'))}, "
        f"pandas_s / rollup_s = {_fmt(r['pandas_over_rollup'])}, "
        f"polars_naive_s / rollup_s = {_fmt(r['polars_naive_over_rollup'])}.",
        "",
        "| target | measured | limit | result |",
        "|---|---:|---:|---|",
        *[
            f"| {t['target']} ({t['text']}) | {_fmt(t['measured'])} | {_fmt(t['limit'])} "
            f"| {'n/a' if t['pass'] is None else 'PASS' if t['pass'] else 'FAIL'} |"
            for t in r["targets"]
        ],
    ]
    lines += [f"\nFailed: {name}: {why}" for name, why in r["failed_steps"].items()]
    return "\n".join(lines) + "\n"


def _step_rows(r: dict) -> list[tuple[str, str, str]]:
    """The report's table of steps: (key, what, notes)."""
    equal = f"{_fmt(r.get('duckdb_equal_groups'))} full-grain groups; outputs equal to the rollups' except in "
    equal += f"{_fmt(r.get('duckdb_equal_mismatches'))} groups (`duckdb_equal_mismatches`)"
    return [
        ("rollup", "project rollup build, cold cache",
         f"{_fmt(r.get('rollup_partitions'))} partitions, cache {_fmt(r.get('rollup_cache_mb'))} MB"),
        ("duckdb_equal", "equal-work DuckDB build: same rules, tables, histograms, written out", equal),
        ("polars_naive", "Polars lazy, exact P50/P90", f"{_fmt(r.get('polars_naive_groups'))} groups"),
        ("pandas", "pandas, groupby quantile", f"{_fmt(r.get('pandas_groups'))} groups"),
        ("duckdb", "DuckDB quantile_cont", f"{_fmt(r.get('duckdb_groups'))} groups"),
        ("polars_hist", "histogram step alone, Polars lazy",
         f"{_fmt(r.get('polars_hist_groups'))} day × 5 dimensions × bucket rows"),
        ("duckdb_hist", "histogram step alone, DuckDB", f"{_fmt(r.get('duckdb_hist_groups'))} rows"),
        ("polars_read", "reading the rollups' columns alone, Polars",
         f"{_fmt(r.get('polars_read_groups'))} columns decoded"),
        ("duckdb_read", "reading the rollups' columns alone, DuckDB",
         f"{_fmt(r.get('duckdb_read_groups'))} columns decoded"),
        ("incremental", "one new day, warm cache", f"{_fmt(r.get('incremental_rebuilt'))} partition rebuilt"),
    ]  # fmt: skip


def _fmt(value: float | int | None) -> str:
    if value is None:
        return "–"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.3g}" if abs(value) < 1 else f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.2f} %"


def _round(value: float | None, digits: int | None = 2) -> float | int | None:
    return None if value is None else round(value, digits)


def _folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


if __name__ == "__main__":
    main()
