"""Benchmark: forecast + rolling-origin backtest of many daily series from the demo warehouse.

    python bench/forecast.py [--series 100] [--json OUT] [--until 2026-08-04] [--n-jobs 2]

Builds daily ticket counts per policy_domain × market (the largest `--series` groups) from
`data/demo/tickets.parquet` with Polars, then runs `forecasting.backtest.forecast_series`
(model choice by a 4-fold rolling-origin backtest of horizon 28, final fit, forecast) and
reports the wall time and the accuracy targets:

* share of series with ≥ 1 year of history whose chosen model beats seasonal naive (lower
  backtest MASE) — target ≥ 80 %. The choice is made on the same folds it is scored on, so
  the bench also reports each model's share on its own (no selection) and a nested check:
  choose on the first folds, score on the last one only;
* mean 80 % / 95 % interval coverage of the chosen models in the backtests — targets
  75–85 % and 90–98 %.

`--until` cuts the history (e.g. the last 112 days off) for tuning on earlier windows, so the
final run's test windows stay unseen while choosing model options.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import polars as pl

from forecasting.backtest import BASELINE, forecast_series, score_backtest

TARGET_BEAT = 0.80
TARGET_80 = (0.75, 0.85)
TARGET_95 = (0.90, 0.98)


def daily_series(tickets: Path, n_series: int, until: dt.date | None) -> pl.DataFrame:
    """Daily ticket counts (`policy_domain`, `market`, `ds`, `y`) of the `n_series` largest groups."""
    lf = (
        pl.scan_parquet(tickets)
        .select("policy_domain", "market", pl.col("created_at").dt.date().alias("ds"))
        .drop_nulls()
    )
    if until is not None:
        lf = lf.filter(pl.col("ds") <= until)
    counts = lf.group_by("policy_domain", "market", "ds").agg(pl.len().cast(pl.Float64).alias("y"))
    largest = (
        counts.group_by("policy_domain", "market")
        .agg(pl.col("y").sum().alias("tickets"))
        .sort("tickets", "policy_domain", "market", descending=[True, False, False])
        .head(n_series)
        .select("policy_domain", "market")
    )
    return counts.join(largest, on=["policy_domain", "market"]).sort("policy_domain", "market", "ds").collect()


def nested_check(backtests: pl.DataFrame, candidates: list[str]) -> float:
    """Share of series where the model chosen on all folds but the last beats naive on the last.

    Unlike the headline share, the scored fold played no part in the choice.
    """
    last = backtests["fold"].max()
    wins, total = 0, 0
    for (_series,), frame in backtests.group_by("series"):
        early = {
            m: score_backtest(frame.filter((pl.col("model") == m) & (pl.col("fold") < last)))["mase"]
            for m in candidates
            if frame.filter(pl.col("model") == m).height
        }
        early = {m: v for m, v in early.items() if v == v}  # drop NaN
        if not early or BASELINE not in early:
            continue
        chosen = min(early, key=lambda m: (early[m], candidates.index(m)))
        late = {
            m: score_backtest(frame.filter((pl.col("model") == m) & (pl.col("fold") == last)))["mase"]
            for m in (chosen, BASELINE)
        }
        total += 1
        wins += late[chosen] < late[BASELINE]
    return wins / total if total else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=100)
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument("--horizon", type=int, default=28)
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--until", type=dt.date.fromisoformat, help="cut the history after this day (tuning)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    demo = args.data_dir / "demo"
    candidates = ["seasonal_naive", "ets", "seasonal_regression"]

    began = time.perf_counter()
    frame = daily_series(demo / "tickets.parquet", args.series, args.until)
    events = pl.read_parquet(demo / "events.parquet") if (demo / "events.parquet").exists() else None
    prepare_s = time.perf_counter() - began

    began = time.perf_counter()
    run = forecast_series(
        frame,
        by=["policy_domain", "market"],
        horizon=args.horizon,
        folds=args.folds,
        candidates=candidates,
        events=events,
        n_jobs=args.n_jobs,
    )
    forecast_s = time.perf_counter() - began

    scores = run.scores
    year = scores.filter(pl.col("history_days") >= 365)
    beat = float((year["mase"] < year["baseline_mase"]).mean()) if year.height else float("nan")
    per_model = (
        run.backtests.group_by("series", "model")
        .map_groups(
            lambda g: pl.DataFrame(
                {"series": g["series"][:1], "model": g["model"][:1], **{k: [v] for k, v in score_backtest(g).items()}}
            )
        )
        .join(scores.select("series", "baseline_mase"), on="series")
        .group_by("model")
        .agg(
            pl.len().alias("series"),
            (pl.col("mase") < pl.col("baseline_mase")).mean().alias("beats_naive"),
            pl.col("mase").mean(),
            pl.col("bias").mean(),
            pl.col("coverage_80").mean(),
            pl.col("coverage_95").mean(),
        )
        .sort("model")
    )
    results = {
        "series": scores.height,
        "series_with_1y_history": year.height,
        "history_end": str(frame["ds"].max()),
        "horizon": args.horizon,
        "folds": args.folds,
        "n_jobs": args.n_jobs,
        "prepare_s": round(prepare_s, 2),
        "forecast_backtest_s": round(forecast_s, 2),
        "chosen_models": dict(scores.group_by("model").len().sort("model").iter_rows()),
        "beat_naive_share": round(beat, 3),
        "beat_naive_nested_share": round(nested_check(run.backtests, candidates), 3),
        "coverage_80": round(float(scores["coverage_80"].mean()), 3),
        "coverage_95": round(float(scores["coverage_95"].mean()), 3),
        "mean_mase": round(float(scores["mase"].mean()), 3),
        "mean_baseline_mase": round(float(scores["baseline_mase"].mean()), 3),
        "mean_bias": round(float(scores["bias"].mean()), 4),
        "per_model": per_model.to_dicts(),
    }
    results["targets_met"] = {
        "seconds<=60": results["forecast_backtest_s"] <= 60,
        "beat_naive>=0.80": beat >= TARGET_BEAT,
        "coverage_80 in 75-85%": TARGET_80[0] <= results["coverage_80"] <= TARGET_80[1],
        "coverage_95 in 90-98%": TARGET_95[0] <= results["coverage_95"] <= TARGET_95[1],
    }
    for key, value in results.items():
        if key == "per_model":
            print("per model (backtests, no selection):")
            for row in value:
                print("   ", {k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()})
        else:
            print(f"{key}: {value}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
