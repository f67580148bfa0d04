"""Command line: `python -m queries demo|validate|summarize|spikes|docs|load-warehouse` for scripts and checks."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

import polars as pl

from queries.analyses import dsa
from queries.analyses.spikes import SpikeSettings, detect_spikes
from queries.commandline import command_parser, render, run
from queries.contract import TICKETS, contract_markdown
from queries.definitions import METRICS
from queries.demo import generate_demo
from queries.docs import metrics_markdown
from queries.engines import created_days
from queries.errors import SourceError
from queries.filters import PERIODS, Filters
from queries.metrics import missing_inputs, summarize
from queries.sla import load_sla_policy
from queries.sources.dataset import Dataset, load_dataset
from queries.sources.validation import TableReport
from queries.sources.warehouse import Warehouse, connect_warehouse, is_database_url, mask_password
from queries.sources.warehouse_load import load_warehouse

DOCS_DIR = Path(__file__).resolve().parent.parent / "docs"


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the process exit code (0 ok, 1 unusable input, 2 usage)."""
    return run(_parser(), argv)


def _parser() -> argparse.ArgumentParser:
    parser, commands = command_parser("python -m queries", "Bellwether data and metrics.")

    demo = commands.add_parser("demo", help="generate the demo warehouse")
    demo.add_argument("--out", required=True, type=Path, help="folder to write (replaced)")
    demo.add_argument("--days", type=int, default=730)
    demo.add_argument("--tickets-per-day", type=int, default=2000, help="mean over the whole period")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--end", type=dt.date.fromisoformat, help="last day (default: yesterday, UTC)")
    demo.set_defaults(run=_demo)

    validate = commands.add_parser("validate", help="check a source and print the validation report")
    _source_args(validate)
    validate.add_argument("--format", choices=("table", "json"), default="table")
    validate.set_defaults(run=_validate)

    summ = commands.add_parser("summarize", help="compute a metric by group and period")
    _source_args(summ)
    summ.add_argument("--metric", required=True, choices=sorted(METRICS))
    summ.add_argument("--by", default="", help="comma-separated group columns, e.g. policy_domain,market")
    summ.add_argument("--period", choices=tuple(PERIODS))
    summ.add_argument("--start", type=dt.date.fromisoformat, help="first day (default: first day in the data)")
    summ.add_argument("--end", type=dt.date.fromisoformat, help="last day, inclusive (default: last day in the data)")
    summ.add_argument("--sla-policy", type=Path, help="SLA policy file (default: config/sla.toml)")
    summ.add_argument("--format", choices=("json", "csv", "table"), default="table")
    summ.set_defaults(run=_summarize)

    spikes = commands.add_parser("spikes", help="detect ticket-volume spikes per group")
    _source_args(spikes)
    spikes.add_argument("--by", required=True, help="comma-separated group columns, e.g. policy_domain,market")
    spikes.add_argument("--start", type=dt.date.fromisoformat, help="first day tested (default: first day in the data)")
    spikes.add_argument("--end", type=dt.date.fromisoformat, help="last day, inclusive (default: last day in the data)")
    spikes.add_argument(
        "--sensitivity",
        type=float,
        default=SpikeSettings.sensitivity,
        help="false discovery rate across all groups and days (default 0.01; higher finds smaller spikes)",
    )
    spikes.add_argument("--format", choices=("json", "csv", "table"), default="table")
    spikes.set_defaults(run=_spikes)

    docs = commands.add_parser("docs", help="write docs/data-contract.md and docs/metrics.md from the code")
    docs.add_argument("--out", type=Path, default=DOCS_DIR)
    docs.set_defaults(run=_docs)

    dsa_build = commands.add_parser(
        "dsa-build", help="rebuild the shipped DSA extract (data/dsa) from the shared files"
    )
    dsa_build.add_argument(
        "--from", dest="source_dir", type=Path, required=True, help="folder with dsa_daily_platform*.parquet"
    )
    dsa_build.add_argument("--out", type=Path, default=dsa.SHIPPED_DIR)
    dsa_build.set_defaults(run=_dsa_build)

    load = commands.add_parser("load-warehouse", help="load extracts into a database as contract tables")
    load.add_argument("--source", required=True, help="folder of extracts, or one file with --mapping")
    load.add_argument("--url", required=True, help="SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db")
    load.add_argument("--mapping", type=Path, help="TOML file mapping the extracts' columns onto the contract")
    load.add_argument("--replace", action="store_true", help="drop and reload tables that already hold rows")
    load.set_defaults(run=_load_warehouse)
    return parser


def _source_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--source", required=True, help="folder of extracts, one file with --mapping, or a SQLAlchemy database URL"
    )
    parser.add_argument("--mapping", type=Path, help="TOML file mapping your columns (or tables) onto the contract")


def _open(args: argparse.Namespace) -> Dataset | Warehouse:
    """The --source: a warehouse when it is a database URL, else extracts."""
    if is_database_url(args.source):
        return connect_warehouse(args.source, args.mapping)
    return load_dataset(args.source, args.mapping)


def _demo(args: argparse.Namespace) -> int:
    summary = generate_demo(
        args.out, days=args.days, tickets_per_day=args.tickets_per_day, seed=args.seed, end=args.end
    )
    print(json.dumps(summary.as_dict(), indent=2, default=str))
    return 0


def _validate(args: argparse.Namespace) -> int:
    ds = _open(args)
    usable = ds.reports["tickets"].rows_loaded > 0
    if args.format == "json":
        print(json.dumps([_report_record(r) for r in ds.reports.values()], indent=2, default=str))
    else:
        print(_report_text(ds))
    if not usable:
        print(
            f"error: no valid tickets in {ds.reports['tickets'].location}; see the rejected rows above.",
            file=sys.stderr,
        )
    return 0 if usable else 1


def _report_record(report: TableReport) -> dict:
    return {
        "table": report.table,
        "location": report.location,
        "rows_read": report.rows_read,
        "rows_loaded": report.rows_loaded,
        "rows_rejected": report.rows_rejected,
        "rows_superseded": report.rows_superseded,
        "rows_in_future": report.rows_in_future,
        "rejected": [{"reason": r.reason, "rows": r.rows, "examples": list(r.examples)} for r in report.rejections],
        "missing_fields": list(report.missing_fields),
        "ignored_columns": list(report.ignored_columns),
        "latest": report.latest,
    }


def _report_text(ds: Dataset | Warehouse) -> str:
    lines = [f"Source: {ds.source}" + (f" (mapping {ds.mapping_file})" if ds.mapping_file else "")]
    for r in ds.reports.values():
        lines.append(
            f"\n{r.table}: {r.rows_loaded:,} of {r.rows_read:,} rows loaded from {r.location}; "
            f"{r.rows_rejected:,} rejected"
            + (f", {r.rows_superseded:,} older snapshot rows superseded" if r.rows_superseded else "")
            + (
                f", {r.rows_in_future:,} with a timestamp in the future (kept; not counted as latest)"
                if r.rows_in_future
                else ""
            )
            + f"; latest {r.latest}"
        )
        for rej in r.rejections:
            lines.append(f"  {rej.rows:>9,}  {rej.reason}")
            lines += [f"             e.g. {e}" for e in rej.examples]
        if r.missing_fields:
            lines.append(f"  not provided: {', '.join(r.missing_fields)}")
        if r.ignored_columns:
            lines.append(f"  ignored columns: {', '.join(r.ignored_columns)}")
    return "\n".join(lines)


def _summarize(args: argparse.Namespace) -> int:
    ds = _open(args)
    missing = missing_inputs(ds, args.metric)
    if missing:
        raise SourceError(f"Cannot compute {args.metric} from {ds.source}: {missing}", fix="Provide the named input.")
    by = _group_columns(args.by)
    filters = _period(ds, args)
    out = summarize(ds, args.metric, filters, by=by, period=args.period, sla_policy=load_sla_policy(args.sla_policy))
    print(render(out, args.format))
    return 0


def _spikes(args: argparse.Namespace) -> int:
    if is_database_url(args.source):
        raise SourceError(
            f"spikes needs extracts, not a database ({mask_password(args.source)}): its drill-down reads ticket rows.",
            fix="Point --source at a folder of extracts, or use `summarize --metric volume --period day` on the "
            "warehouse.",
        )
    ds = load_dataset(args.source, args.mapping)
    by = _group_columns(args.by)
    if not by:
        raise SourceError("--by names no column.", fix="Name the groups to test, e.g. --by policy_domain,market.")
    out = detect_spikes(ds, _period(ds, args), by, SpikeSettings(sensitivity=args.sensitivity))
    print(render(out.select("start", "end", *by, pl.exclude("start", "end", *by)), args.format))
    return 0


def _group_columns(text: str) -> list[str]:
    """The comma-separated --by columns, each a tickets field."""
    by = [c.strip() for c in text.split(",") if c.strip()]
    unknown = [c for c in by if c not in TICKETS.names]
    if unknown:
        raise SourceError(
            f"--by {unknown[0]!r} is not a tickets field.", fix=f"Use fields of tickets: {', '.join(TICKETS.names)}."
        )
    return by


def _period(ds: Dataset | Warehouse, args: argparse.Namespace) -> Filters:
    """--start to --end, each defaulting to the first or last day with tickets (as the dashboard's default)."""
    days = created_days(ds)
    if days is None:
        raise SourceError(f"{ds.source} has no valid tickets.", fix="Run `python -m queries validate` to see why.")
    return Filters(args.start or days[0], args.end or days[1])


def _docs(args: argparse.Namespace) -> int:
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "data-contract.md").write_text(contract_markdown(), encoding="utf-8")
    (args.out / "metrics.md").write_text(metrics_markdown(), encoding="utf-8")
    print(f"wrote {args.out / 'data-contract.md'} and {args.out / 'metrics.md'}")
    return 0


def _load_warehouse(args: argparse.Namespace) -> int:
    if not is_database_url(args.url):
        raise SourceError(f"--url {args.url!r} is not a database URL.", fix="Use e.g. sqlite:///demo.db.")
    started = time.perf_counter()
    loaded = load_warehouse(args.source, args.url, args.mapping, replace=args.replace)
    seconds = time.perf_counter() - started
    for table, rows in loaded.items():
        print(f"{table}: {rows:,} rows")
    print(f"loaded into {mask_password(args.url)} in {seconds:.1f} s")
    return 0


def _dsa_build(args: argparse.Namespace) -> int:
    missing = [
        n
        for n in ("dsa_daily_platform.parquet", "dsa_daily_platform_category.parquet")
        if not (args.source_dir / n).is_file()
    ]
    if missing:
        raise SourceError(f"{args.source_dir} has no {missing[0]}.", fix="Point --from at the shared data/dsa folder.")
    manifest = dsa.build_extract(args.source_dir, args.out)
    print(json.dumps(manifest["outputs"], indent=2))
    return 0
