"""Command line: `python -m forecasting staff|forecast|backtest` for scripts and checks."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import polars as pl

from forecasting.backtest import forecast_series
from forecasting.erlang import required_agents
from forecasting.history import ticket_series
from forecasting.models import MODELS
from queries.commandline import command_parser, render, run
from queries.errors import SourceError
from queries.sources.dataset import load_dataset


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
    ds = load_dataset(args.source, args.mapping)
    by = [c.strip() for c in args.by.split(",") if c.strip()]
    missing = [c for c in by if not ds.has("tickets", c)]
    if missing:
        raise SourceError(
            f"--by {missing[0]!r} is not provided by {args.source}.", fix="Group by a tickets field the source has."
        )
    result = forecast_series(ticket_series(ds, by=by), by=by, horizon=args.horizon, folds=args.folds)
    columns = ["series", "model", "mase", "baseline_mase", "coverage_80", "coverage_95", "closed_weekdays"]
    print(render(result.scores.select(columns), args.format))
    return 0
