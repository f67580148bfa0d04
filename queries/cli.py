"""Command line: `python -m queries demo|validate|init-mapping|summarize|spikes|docs|load-warehouse|targets|alerts|
snapshot` for scripts, checks and the leadership reports."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

import polars as pl

from queries.analyses import dsa
from queries.analyses.alerts import Alert, AlertSettings
from queries.analyses.delivery import AlertState, Delivery, deliver
from queries.analyses.health import taken_by_name, values_block
from queries.analyses.spikes import SpikeSettings, detect_spikes
from queries.analyses.targets import evaluate_targets, load_targets, readable_frame, results_frame
from queries.commandline import command_parser, render, run
from queries.contract import TABLES, Kind, contract_markdown
from queries.definitions import METRICS
from queries.demo import SCALES, generate_demo
from queries.docs import metrics_markdown
from queries.engines import Source, created_days, engine_for
from queries.engines.serving import open_served
from queries.errors import SourceError
from queries.filters import PERIODS, Filters
from queries.metrics import missing_inputs, summarize
from queries.sla import load_sla_policy
from queries.sources.dataset import Dataset, load_dataset
from queries.sources.draft import draft_mapping
from queries.sources.validation import Quarantine, TableReport
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
    demo.add_argument(
        "--scale",
        choices=tuple(SCALES),
        default="default",
        help=", ".join(f"{name}: {n:,} tickets a day" for name, n in SCALES.items()),
    )
    demo.add_argument("--tickets-per-day", type=int, help="mean over the whole period (instead of --scale)")
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
    spikes.add_argument(
        "--by", default="", help="comma-separated group columns, e.g. policy_domain,market (default: the total)"
    )
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

    init = commands.add_parser("init-mapping", help="draft a mapping file for an export from its header and a sample")
    init.add_argument("--source", required=True, type=Path, help="the export file, or the folder holding it")
    init.add_argument("--out", required=True, type=Path, help="mapping file to write, e.g. mapping.toml")
    init.add_argument("--force", action="store_true", help="replace --out when it exists")
    init.set_defaults(run=_init_mapping)
    _leadership_commands(commands)
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
        args.out,
        days=args.days,
        tickets_per_day=args.tickets_per_day or SCALES[args.scale],
        seed=args.seed,
        end=args.end,
        progress=lambda done, step: print(f"{done:4.0%} {step}", file=sys.stderr),
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
        "quarantined": [_field_record(q) for q in report.quarantined],
        "time_adjusted": [_field_record(q) for q in report.adjusted],
        "unknown_values": [
            {
                "field": u.field,
                "allowed": list(u.allowed),
                "values": [{"value": v, "rows": n} for v, n in u.values],
                "mapping": values_block(report.table, u),
            }
            for u in report.unknown_values
        ],
        "timezone": report.timezone,
        "taken_by_name": dict(report.taken_by_name),
        "dimensions": list(report.dimensions),
        "missing_fields": list(report.missing_fields),
        "ignored_columns": list(report.ignored_columns),
        "latest": report.latest,
    }


def _field_record(q: Quarantine) -> dict:
    return {"field": q.field, "reason": q.reason, "rows": q.rows, "examples": list(q.examples)}


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
        if any(f.kind == Kind.TIMESTAMP for f in TABLES[r.table].fields):
            zone = f"read in {r.timezone}" if r.timezone else "read as UTC (no timezone given)"
            lines.append(f"  times without an offset {zone}")
        for rej in r.rejections:
            lines.append(f"  {rej.rows:>9,}  {rej.reason}")
            lines += [f"             e.g. {e}" for e in rej.examples]
        for title, counted in (
            ("quarantined (set to null, the row kept)", r.quarantined),
            ("time adjusted", r.adjusted),
        ):
            if counted:
                lines.append(f"  {title}:")
            for q in counted:
                lines.append(f"  {q.rows:>9,}  {q.field}: {q.reason}")
                lines += [f"             e.g. {e}" for e in q.examples]
        for u in r.unknown_values:
            lines.append(f"  unknown values of {u.field} (allowed: {', '.join(u.allowed)}):")
            lines += [f"  {n:>9,}  {v!r}" for v, n in u.values]
            lines.append("  to map them, add to the mapping file (replace each ? with an allowed value):")
            lines += [f"    {line}" for line in values_block(r.table, u).splitlines()]
        if r.taken_by_name:
            lines.append(f"  columns taken by name: {taken_by_name(r)}")
        if r.dimensions:
            lines.append(f"  your own dimensions: {', '.join(r.dimensions)}")
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
    by = _group_columns(args.by, ds)
    filters = _period(ds, args)
    out = summarize(ds, args.metric, filters, by=by, period=args.period, sla_policy=load_sla_policy(args.sla_policy))
    print(render(out, args.format))
    return 0


def _spikes(args: argparse.Namespace) -> int:
    ds = open_served(args.source, args.mapping)  # a warehouse, rollups or rows: the daily counts are all it reads
    by = _group_columns(args.by, ds)
    out = detect_spikes(ds, _period(ds, args), by, SpikeSettings(sensitivity=args.sensitivity))
    print(render(out.select("start", "end", *by, pl.exclude("start", "end", *by)), args.format))
    return 0


def _group_columns(text: str, ds: Source) -> list[str]:
    """The comma-separated --by columns, each a tickets field or one of the source's own dimensions."""
    by = [c.strip() for c in text.split(",") if c.strip()]
    known = engine_for(ds).group_columns
    unknown = [c for c in by if c not in known]
    if unknown:
        raise SourceError(
            f"--by {unknown[0]!r} is not a tickets field or a dimension of this source.",
            fix=f"Use one of: {', '.join(known)}; map more columns under [tickets.dimensions].",
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


def _init_mapping(args: argparse.Namespace) -> int:
    if args.out.exists() and not args.force:
        raise SourceError(f"{args.out} exists already.", fix="Choose another --out, or add --force to replace it.")
    started = time.perf_counter()
    text = draft_mapping(args.source)
    args.out.write_text(text, encoding="utf-8")
    checks = sum("# check" in line for line in text.splitlines())
    print(f"Wrote {args.out} in {time.perf_counter() - started:.1f} s: {checks} guesses marked 'check' to look at.")
    print(f"Next: python -m queries validate --source {args.source} --mapping {args.out}")
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


# --- Leadership: targets, alerts, the weekly snapshot -------------------------------------------------------------
# The command line is an entry point, like dashboard/app.py: alerts need the forecast (forecasting) and the snapshot
# the dashboard's charts, imported where the command runs so the other commands start without them.

SNAPSHOT_DAYS = 7  # targets and snapshot: the last full week of data unless --start/--end say otherwise


def _leadership_commands(commands: argparse._SubParsersAction) -> None:
    targets = commands.add_parser("targets", help="evaluate the targets (config/targets.toml) over a period")
    _source_args(targets)
    _report_args(targets)
    targets.add_argument("--format", choices=("json", "csv", "table"), default="table")
    targets.set_defaults(run=_targets)

    alerts = commands.add_parser("alerts", help="find what broke since a day and deliver it (webhook, e-mail)")
    _source_args(alerts)
    alerts.add_argument("--since", required=True, type=dt.date.fromisoformat, help="first day to check")
    alerts.add_argument("--until", type=dt.date.fromisoformat, help="last day to check (default: last day in the data)")
    alerts.add_argument(
        "--targets", type=Path, help="targets file (default: BELLWETHER_TARGETS or config/targets.toml)"
    )
    alerts.add_argument("--sla-policy", type=Path, help="SLA policy file (default: config/sla.toml)")
    alerts.add_argument("--webhook", help="POST the new alerts as JSON to this URL (Slack-compatible `text`)")
    alerts.add_argument("--email", help="send a digest to these addresses (comma-separated); needs --smtp")
    alerts.add_argument("--smtp", help="SMTP server HOST[:PORT] (port 25 by default)")
    alerts.add_argument("--email-from", default="bellwether@localhost", help="sender address of the digest")
    alerts.add_argument("--state", type=Path, help="JSON file remembering what was delivered: nothing is sent twice")
    alerts.add_argument("--retries", type=int, default=3, help="attempts per channel before giving up (default 3)")
    alerts.add_argument("--retry-wait", type=float, default=2.0, help="seconds before the second attempt (doubles)")
    alerts.add_argument("--base-url", help="dashboard address for links (default: BELLWETHER_BASE_URL or :8501)")
    alerts.add_argument("--link-source", help="the dashboard's source key for links (`src`), e.g. warehouse")
    alerts.add_argument("--format", choices=("json", "table"), default="table")
    alerts.set_defaults(run=_alerts)

    snapshot = commands.add_parser("snapshot", help="write the weekly leadership review as HTML or PDF")
    _source_args(snapshot)
    _report_args(snapshot)
    snapshot.add_argument("--out", required=True, type=Path, help="FILE.html (self-contained) or FILE.pdf")
    snapshot.set_defaults(run=_snapshot)


def _report_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--start", type=dt.date.fromisoformat, help="first day (default: the Monday of the last full week of data)"
    )
    parser.add_argument(
        "--end", type=dt.date.fromisoformat, help="last day, inclusive (default: the Sunday of the last full week)"
    )
    parser.add_argument(
        "--targets", type=Path, help="targets file (default: BELLWETHER_TARGETS or config/targets.toml)"
    )
    parser.add_argument("--sla-policy", type=Path, help="SLA policy file (default: config/sla.toml)")


def _report_period(ds: Source, args: argparse.Namespace) -> Filters:
    """--start to --end. By default the last full week (Monday to Sunday) with tickets, so the review's week is a
    whole bar of the weekly trend; with less than a full week of data, the last SNAPSHOT_DAYS days there are."""
    days = created_days(ds)
    if days is None:
        raise SourceError(f"{ds.source} has no valid tickets.", fix="Run `python -m queries validate` to see why.")
    sunday = days[1] - dt.timedelta(days=(days[1].weekday() + 1) % 7)
    end = args.end or (sunday if sunday - dt.timedelta(days=SNAPSHOT_DAYS - 1) >= days[0] else days[1])
    return Filters(args.start or max(days[0], end - dt.timedelta(days=SNAPSHOT_DAYS - 1)), end)


def _shown(source: str) -> str:
    return mask_password(source) if is_database_url(source) else source


def _targets(args: argparse.Namespace) -> int:
    ds = open_served(args.source, args.mapping)
    period = _report_period(ds, args)
    results = evaluate_targets(
        ds, load_targets(args.targets), period.start, period.end, load_sla_policy(args.sla_policy)
    )
    if args.format == "table":
        print(f"Targets over {period.describe()}, compared with {period.previous().start} to {period.previous().end}:")
        with pl.Config(tbl_width_chars=240, fmt_str_lengths=120, tbl_hide_column_data_types=True):
            print(render(readable_frame(results), "table"))
    else:
        print(render(results_frame(results), args.format))
    return 0


def _alerts(args: argparse.Namespace) -> int:
    from forecasting.alerts import evaluate_alerts  # the forecast band needs the forecasting package

    delivery = _delivery(args)
    ds = open_served(args.source, args.mapping)
    days = created_days(ds)
    if days is None:
        raise SourceError(f"{ds.source} has no valid tickets.", fix="Run `python -m queries validate` to see why.")
    until = args.until or days[1]
    settings = AlertSettings(**{k: v for k, v in (("base_url", args.base_url), ("link_source", args.link_source)) if v})
    run = evaluate_alerts(ds, args.since, until, load_targets(args.targets), load_sla_policy(args.sla_policy), settings)
    if args.format == "json":
        print(json.dumps({"alerts": [a.as_record() for a in run.alerts], "not_checked": run.skipped}, indent=2))
    else:
        print(_alerts_text(run.alerts, args.since, until))
        for note in run.skipped:
            print(f"not checked: {note}", file=sys.stderr)
    state = AlertState.load(args.state)
    outcomes = deliver(run, state, delivery, f"{_shown(args.source)}, {args.since} to {until}")
    for o in outcomes:
        said = f"{len(o.new)} new and {len(o.resolved)} resolved" if o.new or o.resolved else "nothing new"
        print(f"{o.channel} ({o.where}): " + (f"not delivered: {o.error}" if o.error else said), file=sys.stderr)
    failed = [o for o in outcomes if o.error]
    if failed:
        raise SourceError(
            "Alerts were not delivered to " + ", ".join(f"{o.channel} ({o.error})" for o in failed) + ".",
            fix="Check the address and that the server is reachable; nothing undelivered was marked as sent, so the "
            "next run (with the same --state) sends it again.",
        )
    return 0


def _alerts_text(alerts: list[Alert], since: dt.date, until: dt.date) -> str:
    """The alerts for people reading a terminal or a cron mail: one block each, most severe first."""
    lines = [f"{len(alerts)} alert{'s' if len(alerts) != 1 else ''} from {since} to {until}."]
    for a in alerts:
        lines += ["", f"[{a.severity}] {a.kind} · {a.status} · {a.start} to {a.end}", f"  {a.message}", f"  {a.link}"]
    return "\n".join(lines)


def _delivery(args: argparse.Namespace) -> Delivery:
    """The channels the arguments name, checked before any work is done."""
    emails = tuple(a.strip() for a in (args.email or "").split(",") if a.strip())
    if emails and not args.smtp:
        raise SourceError("--email needs an SMTP server.", fix="Add --smtp HOST[:PORT], e.g. --smtp localhost:25.")
    host, _, port = (args.smtp or "").partition(":")
    if port and not port.isdigit():
        raise SourceError(
            f"--smtp port {port!r} is not a number.", fix="Write --smtp HOST:PORT, e.g. mail.example:587."
        )
    if args.webhook and not args.webhook.startswith(("http://", "https://")):
        raise SourceError("--webhook is not an http(s) URL.", fix="Give the full URL, e.g. https://hooks.slack.com/...")
    if args.retries < 1:
        raise SourceError(f"--retries {args.retries} is less than 1.", fix="Give the number of attempts, e.g. 3.")
    return Delivery(
        webhook=args.webhook,
        email_to=emails,
        smtp_host=host or None,
        smtp_port=int(port) if port else 25,
        email_from=args.email_from,
        attempts=args.retries,
        wait_seconds=max(args.retry_wait, 0.0),
    )


def _snapshot(args: argparse.Namespace) -> int:
    from dashboard.snapshot import build, snapshot_html, snapshot_pdf  # charts and the forecast: this command only

    suffix = args.out.suffix.lower()
    if suffix not in (".html", ".pdf"):
        raise SourceError(f"--out {args.out} is neither .html nor .pdf.", fix="Name the file FILE.html or FILE.pdf.")
    started = time.perf_counter()
    ds = open_served(args.source, args.mapping)
    targets = load_targets(args.targets)
    snapshot, ahead = build(
        ds, _report_period(ds, args), targets, load_sla_policy(args.sla_policy), _shown(args.source)
    )
    page = snapshot_html(snapshot, ahead, targets)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".pdf":
        args.out.write_bytes(snapshot_pdf(page))
    else:
        args.out.write_text(page, encoding="utf-8")
    seconds = time.perf_counter() - started
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB) in {seconds:.1f} s", file=sys.stderr)
    return 0
