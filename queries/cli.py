"""Command line: `python -m queries demo|validate|summarize|spikes|docs` for scripts and checks."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

import polars as pl

from queries import dsa
from queries.commandline import render, run
from queries.contract import contract_markdown
from queries.dataset import Dataset, load_dataset
from queries.demo import generate_demo
from queries.docs import metrics_markdown
from queries.errors import SourceError
from queries.filters import PERIODS, Filters
from queries.metrics import METRICS, missing_inputs, summarize
from queries.sla import load_sla_policy
from queries.spikes import SpikeSettings, detect_spikes
from queries.validation import TableReport

DOCS_DIR = Path(__file__).resolve().parent.parent / "docs"


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the process exit code (0 ok, 1 unusable input, 2 usage)."""
    return run(_parser(), argv)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m queries", description="Bellwether data and metrics.")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

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
    return parser


def _source_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", required=True, help="folder of extracts, or one file with --mapping")
    parser.add_argument("--mapping", type=Path, help="TOML file mapping your columns onto the contract")


def _demo(args: argparse.Namespace) -> int:
    summary = generate_demo(
        args.out, days=args.days, tickets_per_day=args.tickets_per_day, seed=args.seed, end=args.end
    )
    print(json.dumps(summary.as_dict(), indent=2, default=str))
    return 0


def _validate(args: argparse.Namespace) -> int:
    ds = load_dataset(args.source, args.mapping)
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
        "rejected": [{"reason": r.reason, "rows": r.rows, "examples": list(r.examples)} for r in report.rejections],
        "missing_fields": list(report.missing_fields),
        "ignored_columns": list(report.ignored_columns),
        "latest": report.latest,
    }


def _report_text(ds: Dataset) -> str:
    lines = [f"Source: {ds.source}" + (f" (mapping {ds.mapping_file})" if ds.mapping_file else "")]
    for r in ds.reports.values():
        lines.append(
            f"\n{r.table}: {r.rows_loaded:,} of {r.rows_read:,} rows loaded from {r.location}; "
            f"{r.rows_rejected:,} rejected"
            + (f", {r.rows_superseded:,} older snapshot rows superseded" if r.rows_superseded else "")
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
    ds = load_dataset(args.source, args.mapping)
    missing = missing_inputs(ds, args.metric)
    if missing:
        raise SourceError(f"Cannot compute {args.metric} from {args.source}: {missing}", fix="Provide the named input.")
    by = _group_columns(ds, args.by)
    filters = _period(ds, args)
    out = summarize(ds, args.metric, filters, by=by, period=args.period, sla_policy=load_sla_policy(args.sla_policy))
    print(render(out, args.format))
    return 0


def _spikes(args: argparse.Namespace) -> int:
    ds = load_dataset(args.source, args.mapping)
    by = _group_columns(ds, args.by)
    if not by:
        raise SourceError("--by names no column.", fix="Name the groups to test, e.g. --by policy_domain,market.")
    out = detect_spikes(ds, _period(ds, args), by, SpikeSettings(sensitivity=args.sensitivity))
    print(render(out.select("start", "end", *by, pl.exclude("start", "end", *by)), args.format))
    return 0


def _group_columns(ds: Dataset, text: str) -> list[str]:
    """The comma-separated --by columns, each a tickets field."""
    by = [c.strip() for c in text.split(",") if c.strip()]
    tickets = ds.tables["tickets"]
    unknown = [c for c in by if c not in tickets.columns]
    if unknown:
        raise SourceError(
            f"--by {unknown[0]!r} is not a tickets field.", fix=f"Use fields of tickets: {', '.join(tickets.columns)}."
        )
    return by


def _period(ds: Dataset, args: argparse.Namespace) -> Filters:
    """--start to --end, each defaulting to the first or last day with tickets."""
    tickets = ds.tables["tickets"]
    first, last = tickets["created_at"].min(), tickets["created_at"].max()
    if first is None:
        raise SourceError(f"{args.source} has no valid tickets.", fix="Run `python -m queries validate` to see why.")
    return Filters(args.start or first.date(), args.end or last.date())


def _docs(args: argparse.Namespace) -> int:
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "data-contract.md").write_text(contract_markdown(), encoding="utf-8")
    (args.out / "metrics.md").write_text(metrics_markdown(), encoding="utf-8")
    print(f"wrote {args.out / 'data-contract.md'} and {args.out / 'metrics.md'}")
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
