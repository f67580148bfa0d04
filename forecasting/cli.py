"""Command line: `python -m forecasting staff|forecast|backtest|plan|plan-vs-actual` for scripts and checks."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
from pathlib import Path

import polars as pl

from forecasting.backtest import forecast_series
from forecasting.erlang import required_agents
from forecasting.history import ticket_series
from forecasting.models import MODELS
from forecasting.plan import Scenario
from forecasting.plan_actual import PlanRecord, plan_vs_actual
from forecasting.plan_splits import SPLITS, split_plan
from forecasting.planner import forecast_view
from forecasting.scenarios import SavedScenario, ScenarioStore
from forecasting.workers import forecast_workers
from queries.commandline import command_parser, render, run
from queries.engines import created_days, distinct_values
from queries.engines.serving import open_served
from queries.errors import SourceError
from queries.filters import Filters

PLAN_COLUMNS = (
    "week",
    "days",
    "workload_hours",
    "required_fte",
    "required_fte_hi_80",
    "coverage_fte",
    "supply_fte",
    "gap_fte",
    "backlog_hours_end",
    "projected_sla",
)
PLAN_FILTERS = ("vendor", "market", "policy_domain", "surface")  # the filter bar's selections the CLI takes


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit code (0 ok, 1 bad input, 2 usage)."""
    return run(_parser(), argv)


def _parser() -> argparse.ArgumentParser:
    parser, commands = command_parser("python -m forecasting", "Bellwether forecasts and staffing.")

    staff = commands.add_parser("staff", help="agents for one interval of a real-time queue (Erlang C / A)")
    staff.add_argument("--volume", type=float, required=True, help="arrivals in the interval")
    staff.add_argument("--interval-minutes", type=float, required=True)
    staff.add_argument("--aht-seconds", type=float, required=True)
    staff.add_argument("--target-seconds", type=float, required=True, help="answer (review start) within")
    staff.add_argument("--service-level", type=float, required=True, help="share within target, e.g. 0.8")
    staff.add_argument("--shrinkage", type=float, default=0.0)
    staff.add_argument("--max-occupancy", type=float, default=1.0)
    staff.add_argument("--patience-seconds", type=float, help="mean patience: use Erlang A (abandonment)")
    staff.add_argument(
        "--max-abandon", type=float, help="with --patience-seconds: cap on the share that abandons, e.g. 0.02"
    )
    staff.add_argument("--format", choices=("json", "table"), default="table")
    staff.set_defaults(run=_staff)

    forecast = commands.add_parser("forecast", help="forecast one series from a CSV file")
    forecast.add_argument("--series", type=Path, required=True, help="CSV file")
    forecast.add_argument("--date-col", required=True)
    forecast.add_argument("--value-col", required=True)
    forecast.add_argument("--agg", choices=("sum", "mean", "max"), default="sum", help="how rows within a day combine")
    forecast.add_argument("--freq", choices=("D",), default="D", help="daily (rows at sub-daily grain are aggregated)")
    forecast.add_argument("--horizon", type=int, required=True, help="calendar days (closed weekdays get no rows)")
    forecast.add_argument("--model", choices=("auto", *sorted(MODELS)), default="auto")
    forecast.add_argument(
        "--fill",
        choices=("zero", "interpolate"),
        default="zero",
        help="missing days: zero (counts of events) or interpolate (not observed, e.g. export gaps); "
        "either way a weekday with no data in any week (weekends of a business-days-only series) is closed: "
        "no forecast rows",
    )
    forecast.add_argument("--format", choices=("json", "csv", "table"), default="table")
    forecast.set_defaults(run=_forecast)

    backtest = commands.add_parser("backtest", help="rolling-origin backtest of ticket volume per group")
    backtest.add_argument("--source", required=True)
    backtest.add_argument("--mapping", type=Path)
    backtest.add_argument("--by", default="", help="a tickets column, e.g. policy_domain (empty: the total)")
    backtest.add_argument("--horizon", type=int, default=28)
    backtest.add_argument("--folds", type=int, default=4)
    backtest.add_argument("--format", choices=("json", "csv", "table"), default="table")
    backtest.set_defaults(run=_backtest)

    plan = commands.add_parser("plan", help="weekly required vs supplied FTE per vendor, language or queue")
    plan.add_argument("--source", required=True, help="folder of extracts, or a database URL")
    plan.add_argument("--mapping", type=Path)
    plan.add_argument("--by", choices=tuple(SPLITS), default="vendor", help="the split of the plan's rows")
    plan.add_argument("--weeks", type=int, default=8, help="horizon in weeks after --end (the page's default: 8)")
    plan.add_argument("--end", type=dt.date.fromisoformat, help="last day of history (default: last day with tickets)")
    for name in PLAN_FILTERS:
        plan.add_argument(f"--{name.replace('_', '-')}", nargs="+", default=[], help=f"keep these {name} values only")
    plan.add_argument("--scenario", help="a saved scenario's name (store: BELLWETHER_SCENARIO_URL); default baseline")
    plan.add_argument("--model", choices=("auto", *sorted(MODELS)), default="auto", help="forecast model (page: auto)")
    plan.add_argument("--format", choices=("json", "csv", "table"), default="table")
    plan.set_defaults(run=_plan)

    actual = commands.add_parser("plan-vs-actual", help="a saved scenario's plan against what then arrived")
    actual.add_argument("--source", required=True, help="folder of extracts, or a database URL")
    actual.add_argument("--mapping", type=Path)
    actual.add_argument("--scenario", required=True, help="a saved scenario's name (store: BELLWETHER_SCENARIO_URL)")
    actual.add_argument("--version", type=int, help="its version (default: the latest)")
    actual.add_argument("--format", choices=("json", "csv", "table"), default="table")
    actual.set_defaults(run=_plan_vs_actual)
    return parser


def _staff(args: argparse.Namespace) -> int:
    result = required_agents(
        args.volume,
        args.interval_minutes,
        args.aht_seconds,
        args.target_seconds,
        args.service_level,
        shrinkage=args.shrinkage,
        max_occupancy=args.max_occupancy,
        patience_seconds=args.patience_seconds,
        max_abandon=args.max_abandon,
    )
    record = dataclasses.asdict(result)
    if args.patience_seconds is None:
        record.pop("abandon_rate")
    if args.format == "json":
        print(json.dumps(record))
    else:
        print("\n".join(f"{k:>16}  {v}" for k, v in record.items()))
    return 0


def _forecast(args: argparse.Namespace) -> int:
    if not args.series.is_file():
        raise SourceError(f"Series file {args.series} does not exist.", fix="Check the --series path.")
    raw = pl.read_csv(args.series, infer_schema=False)
    for column in (args.date_col, args.value_col):
        if column not in raw.columns:
            raise SourceError(
                f"{args.series} has no column {column!r}. Columns found: {', '.join(raw.columns)}.",
                fix="Name the right column with --date-col / --value-col.",
            )
    stamp = pl.col(args.date_col).str.strip_chars().str.replace(" ", "T", literal=True, n=1)
    rows = raw.select(
        pl.coalesce(
            stamp.str.to_date("%Y-%m-%d", strict=False),
            stamp.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", strict=False).dt.date(),
            stamp.str.to_datetime("%Y-%m-%dT%H:%M", strict=False).dt.date(),
        ).alias("ds"),
        pl.col(args.value_col).str.strip_chars().cast(pl.Float64, strict=False).alias("y"),
    )
    bad = rows.filter(pl.col("ds").is_null() | pl.col("y").is_null()).height
    if bad:
        raise SourceError(
            f"{args.series}: {bad} of {raw.height} rows have an unreadable date or value.",
            fix="Use ISO dates (YYYY-MM-DD or YYYY-MM-DD HH:MM[:SS]) and plain numbers.",
        )
    agg = {"sum": pl.col("y").sum(), "mean": pl.col("y").mean(), "max": pl.col("y").max()}[args.agg]
    history = rows.group_by("ds").agg(agg).sort("ds")
    candidates = None if args.model == "auto" else (args.model,)
    result = forecast_series(
        history, horizon=args.horizon, fill=args.fill, **({"candidates": candidates} if candidates else {})
    )
    print(render(result.forecasts_with_model(), args.format, float_precision=3))
    return 0


def _backtest(args: argparse.Namespace) -> int:
    ds = open_served(args.source, args.mapping)
    by = [c.strip() for c in args.by.split(",") if c.strip()]
    missing = [c for c in by if not ds.has("tickets", c)]
    if missing:
        raise SourceError(
            f"--by {missing[0]!r} is not provided by {args.source}.", fix="Group by a tickets field the source has."
        )
    result = forecast_series(
        ticket_series(ds, by=by), by=by, horizon=args.horizon, folds=args.folds, n_jobs=forecast_workers()
    )
    columns = ["series", "model", "mase", "baseline_mase", "coverage_80", "coverage_95", "closed_weekdays"]
    print(render(result.scores.select(columns), args.format))
    return 0


def _plan(args: argparse.Namespace) -> int:
    if args.weeks < 1:
        raise SourceError(f"--weeks {args.weeks} is not a horizon.", fix="Give at least 1 week.")
    scenario = _saved_scenario(args.scenario) if args.scenario else Scenario()
    ds = open_served(args.source, args.mapping)
    days = created_days(ds)
    if days is None:
        raise SourceError(f"{args.source} has no valid tickets.", fix="Run `python -m queries validate` to see why.")
    end = args.end or days[1]
    if end < days[0]:
        raise SourceError(f"--end {end} is before the first day with tickets ({days[0]}).", fix="Pick a later day.")
    selections = {name: tuple(getattr(args, name)) for name in PLAN_FILTERS}
    for name, chosen in selections.items():
        unknown = sorted(set(chosen) - set(distinct_values(ds, name)))
        if unknown:
            raise SourceError(
                f"--{name.replace('_', '-')}: {len(unknown)} value(s) not in the tickets of {args.source}.",
                fix=f"Use values the tickets have (`python -m queries summarize --metric volume --by {name}`).",
                quote=", ".join(unknown),
            )
    filters = Filters.of(days[0], end, selections)
    view = forecast_view(ds, filters, "policy_domain", args.weeks * 7, args.model, n_jobs=forecast_workers())
    result = split_plan(ds, filters, view, scenario, args.by)
    if result.plan.is_empty():
        raise SourceError(
            result.note or "No vendor reviewed the selected tickets over the last 8 weeks and no staffing serves them.",
            fix="Widen the selection, or check the source's staffing table and vendor column.",
        )
    keys = list(SPLITS[args.by])
    rows = result.plan.rename({"sla_projected": "projected_sla"}).select(*keys, *PLAN_COLUMNS)
    if args.format == "table":
        with pl.Config(tbl_width_chars=1000):  # one line per row, however narrow the terminal
            print(render(rows, "table", float_precision=3) + (f"\n\nNote: {result.note}" if result.note else ""))
    else:
        print(render(rows.with_columns(pl.lit(result.note or None, pl.String).alias("note")), args.format))
    return 0


def _plan_vs_actual(args: argparse.Namespace) -> int:
    saved = _saved(args.scenario, args.version)
    if saved.context is None:
        raise SourceError(
            f"{saved.name} v{saved.version} was saved before plans were recorded with their scenario.",
            fix="Save it again on the Forecast & capacity page, then compare once its weeks have ended.",
        )
    compared = plan_vs_actual(
        open_served(args.source, args.mapping), PlanRecord.from_dict(saved.context), saved.scenario
    )
    if compared.is_empty():
        raise SourceError(
            f"None of the weeks {saved.name} v{saved.version} planned has ended in {args.source} yet.",
            fix="Compare again once the data covers at least one of its weeks.",
        )
    print(render(compared, args.format, float_precision=3))
    return 0


def _saved_scenario(name: str) -> Scenario:
    """The latest unscoped version of the saved scenario `name` in the store at BELLWETHER_SCENARIO_URL."""
    return _saved(name).scenario


def _saved(name: str, version: int | None = None) -> SavedScenario:
    """An unscoped saved scenario (its latest version unless given) from the store at BELLWETHER_SCENARIO_URL."""
    url = os.environ.get("BELLWETHER_SCENARIO_URL")
    if not url:
        raise SourceError(
            "--scenario needs the scenario store, and BELLWETHER_SCENARIO_URL is not set.",
            fix="Set BELLWETHER_SCENARIO_URL to the store the dashboard saves to (by default "
            "sqlite:///data/scenarios.db, or scenarios.db in BELLWETHER_DATA_DIR).",
        )
    store = ScenarioStore(url, scope=None)
    try:
        return store.load(name, version)
    except KeyError:
        saved = sorted(set(store.list().filter(pl.col("scope").is_null())["name"].to_list()))
        raise SourceError(
            f"No saved scenario named {name!r}"
            + (f" with version {version}" if version else "")
            + f" in {store.shown}.",
            fix=f"Use one of: {', '.join(saved)}." if saved else "Save one on the Forecast & capacity page first.",
        ) from None
