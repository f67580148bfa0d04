"""Rolling-origin backtests, model choice and forecasts for many series at once.

How good were past forecasts? `backtest` cuts the history at `folds` origins, `horizon` calendar
days apart and ending at the last observed day (so the test windows tile the most recent
`folds × horizon` days), trains on everything up to each origin, forecasts the next `horizon`
days and compares them with what happened. A series closed on some weekdays (see
`models.closed_weekdays`, decided on each fold's training window) is forecast and scored on its
open days only: closed days have no forecast rows and are not scored. The scores:

* `mase` — mean absolute error over the fold's test window divided by the *in-sample* mean
  absolute error of the weekly seasonal-naive forecast (`|y[t] - y[t-7]|`, on open days the same
  weekday a week before) on that fold's training window; averaged over folds. Below 1: better
  than repeating last week in-sample.
* `bias` — mean error / mean actual over all backtest days, error = forecast − actual
  (positive = over-forecast; +0.05 means 5 % too high on average).
* `coverage_80`, `coverage_95` — share of backtest days whose actual fell inside the interval
  (bounds inclusive).

Intervals (`calibrate`, the one interval rule of `forecast_series`): the models' own intervals assume
the model is right and its parameters known, and come out too narrow at planning horizons (the demo's
total: 67 % of days inside the 80 % interval at 8 weeks; the regression's AR errors reach their
stationary spread within days, while level shifts and trend errors keep growing). So the forecast's
intervals are empirical h-step intervals, conformal style: per week of the horizon, the
⌈(n + 1)·level⌉-th smallest of the n absolute errors |log1p(actual) − log1p(forecast)| of past
out-of-sample forecasts in that week of their horizon and the weeks either side, around
log1p(forecast), mapped back with expm1 (never below 0). The past forecasts are the chosen model's
backtest folds plus `CALIBRATION_FOLDS` more folds before them. Each scored fold is calibrated only
with folds whose test window ended by its origin, so its coverage is out-of-sample; the final
forecast with all of them (with fewer than `MIN_CALIBRATION_FOLDS`, the model's own intervals).

Speed: with `refit="first"` (default) each model's parameters are estimated once, on the
earliest (shortest) training window, and the later folds re-run the model with those fixed
parameters (ETS: `ETSModel.smooth(params)`; cheap models refit). The earliest window is
contained in every later one, so no fold ever sees parameters estimated on its own test data.
`refit="every"` re-estimates at every origin. Each fold's training window is prepared (`open_days`) once for
all candidates. `forecast_series` spreads series over the shared process pool (`n_jobs`, `forecasting.workers`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from datetime import date
from itertools import repeat
from typing import Literal

import numpy as np
import polars as pl

from forecasting.models import (
    FORECAST_SCHEMA,
    MODELS,
    WEEKDAYS,
    Fill,
    Forecaster,
    OpenDays,
    counted_open_days,
    fallback_model,
    forecast_frame,
    make_model,
    open_days,
    weekday_names,
)
from forecasting.workers import discard_pool, limit_blas, shared_pool

DEFAULT_CANDIDATES: tuple[str, ...] = ("seasonal_naive", "ets", "seasonal_regression")
BASELINE = "seasonal_naive"
SEASON = 7
CALIBRATION_FOLDS = 4
"""Folds before the scored ones whose errors (with the scored folds') calibrate the chosen model's intervals."""
MIN_CALIBRATION_FOLDS = 2
"""With fewer past folds, a forecast keeps its model's own intervals."""
LEVELS: dict[str, float] = {"80": 0.80, "95": 0.95}

BACKTEST_SCHEMA: dict[str, pl.DataType] = {
    "series": pl.String(),
    "model": pl.String(),
    "fold": pl.Int32(),
    "origin": pl.Date(),  # last training day
    "ds": pl.Date(),
    "step": pl.Int32(),  # calendar days ahead, 1..horizon (closed days have no row)
    "actual": pl.Float64(),
    "mean": pl.Float64(),
    "lo_80": pl.Float64(),
    "hi_80": pl.Float64(),
    "lo_95": pl.Float64(),
    "hi_95": pl.Float64(),
    "scale": pl.Float64(),  # in-sample seasonal-naive MAE of the fold's training window (open days)
}
"""Backtest forecasts next to actuals: one row per series × model × fold × day."""

SCORES_SCHEMA: dict[str, pl.DataType] = {
    "series": pl.String(),
    "model": pl.String(),
    "mase": pl.Float64(),
    "baseline_mase": pl.Float64(),
    "bias": pl.Float64(),
    "coverage_80": pl.Float64(),
    "coverage_95": pl.Float64(),
    "history_days": pl.Int64(),
    "closed_weekdays": pl.String(),  # e.g. "Sat, Sun": no forecast rows on those days; "" when open every day
    "note": pl.String(),
}
"""One row per series: the model its forecast came from (the chosen one; seasonal naive when that could not be used,
with the reason in `note`) and that model's backtest scores (`baseline_mase` = seasonal naive's)."""


@dataclass(frozen=True)
class BacktestResult:
    """A model's rolling-origin backtest on one series: forecasts vs actuals and the scores."""

    series: str
    model: str
    horizon: int
    folds: int  # folds actually run (fewer than asked when the history is short)
    forecasts: pl.DataFrame  # BACKTEST_SCHEMA
    mase: float
    bias: float
    coverage_80: float
    coverage_95: float
    note: str = ""

    def scores(self) -> dict[str, float | str]:
        return {
            "model": self.model,
            "mase": self.mase,
            "bias": self.bias,
            "coverage_80": self.coverage_80,
            "coverage_95": self.coverage_95,
        }


@dataclass(frozen=True)
class ModelChoice:
    """The model chosen for one series, every candidate's scores and why."""

    model: str
    scores: pl.DataFrame  # model, mase, bias, coverage_80, coverage_95 per candidate
    baseline_mase: float
    note: str
    backtests: dict[str, BacktestResult] = field(default_factory=dict)

    def score(self, name: str, column: str = "mase") -> float:
        row = self.scores.filter(pl.col("model") == name)
        return float(row[column][0]) if row.height else math.nan


@dataclass(frozen=True)
class SeriesForecasts:
    """Forecasts, scores and backtest forecasts for many series (see `forecast_series`)."""

    forecasts: pl.DataFrame  # FORECAST_SCHEMA
    scores: pl.DataFrame  # SCORES_SCHEMA
    backtests: pl.DataFrame  # BACKTEST_SCHEMA, every candidate of every series
    keys: pl.DataFrame  # series label → group column values

    def forecasts_with_model(self) -> pl.DataFrame:
        """The forecasts with the model each series' forecast came from (`model`, after `series`)."""
        chosen = dict(self.scores.select("series", "model").iter_rows())
        model = pl.col("series").replace_strict(chosen, return_dtype=pl.String).alias("model")
        return self.forecasts.select("series", model, *[c for c in FORECAST_SCHEMA if c != "series"])


@dataclass(frozen=True, eq=False)
class _SeriesRun:
    """One series on its daily calendar and how to backtest it (shared by every step and worker)."""

    series: str
    days: OpenDays
    horizon: int
    folds: int
    fill: Fill
    refit: str
    options: dict
    min_train: int = 2 * SEASON  # fewest training days of a fold
    _training: dict[int, OpenDays] = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def daily(
        cls,
        history: pl.DataFrame,
        series: str,
        horizon: int,
        folds: int,
        fill: Fill,
        refit: str,
        options: dict,
        end: date | None = None,
    ) -> _SeriesRun:
        """The run of `history` (`ds`, `y`) reindexed to one row per day (see `models.open_days`)."""
        return cls(series, open_days(history, fill, end), horizon, folds, fill, refit, options)

    @property
    def dates(self) -> pl.Series:
        """Every calendar day of the history (closed days included, as 0)."""
        return self.days.calendar["ds"]

    @property
    def y(self) -> np.ndarray:
        return self.days.calendar["y"].to_numpy().astype(float)

    def training_days(self, cut: int) -> OpenDays:
        """The first `cut` calendar days as a model prepares them (`open_days`), computed once for every model."""
        if cut not in self._training:
            train = self.days.calendar.head(cut).select("ds", pl.col("y").cast(pl.Float64))
            # A zero-filled calendar's first days are their own zero-filled calendar.
            self._training[cut] = counted_open_days(train) if self.fill == "zero" else open_days(train, self.fill)
        return self._training[cut]


# ---------------------------------------------------------------------------------------------
# Scores
# ---------------------------------------------------------------------------------------------


def seasonal_naive_scale(y: np.ndarray, season: int = SEASON) -> float:
    """In-sample MAE of the seasonal-naive forecast: mean |y[t] - y[t - season]|."""
    if len(y) <= season:
        return math.nan
    return float(np.mean(np.abs(y[season:] - y[:-season])))


def score_backtest(forecasts: pl.DataFrame) -> dict[str, float]:
    """MASE, bias and coverages of backtest rows (BACKTEST_SCHEMA); formulas in the module docstring."""
    if forecasts.height == 0:
        return {"mase": math.nan, "bias": math.nan, "coverage_80": math.nan, "coverage_95": math.nan}
    per_fold = (
        forecasts.group_by("fold")
        .agg(((pl.col("mean") - pl.col("actual")).abs().mean() / pl.col("scale").first()).alias("mase"))
        .sort("fold")  # a fixed order keeps the float average identical run to run
    )
    fold_mase = per_fold["mase"].to_numpy()
    fold_mase = fold_mase[np.isfinite(fold_mase)]
    actual_sum = float(forecasts["actual"].sum())
    error_sum = float((forecasts["mean"] - forecasts["actual"]).sum())
    inside = forecasts.select(
        ((pl.col("actual") >= pl.col("lo_80")) & (pl.col("actual") <= pl.col("hi_80"))).mean().alias("c80"),
        ((pl.col("actual") >= pl.col("lo_95")) & (pl.col("actual") <= pl.col("hi_95"))).mean().alias("c95"),
    )
    return {
        "mase": float(fold_mase.mean()) if len(fold_mase) else math.nan,
        "bias": error_sum / actual_sum if actual_sum > 0 else math.nan,
        "coverage_80": float(inside["c80"][0]),
        "coverage_95": float(inside["c95"][0]),
    }


# ---------------------------------------------------------------------------------------------
# Intervals
# ---------------------------------------------------------------------------------------------


def calibrate(forecast: pl.DataFrame, past: pl.DataFrame) -> pl.DataFrame:
    """`forecast` (`step`, `mean`, bounds) with intervals from the out-of-sample errors of `past` (`step`, `actual`,
    `mean`): the rule in the module docstring. Steps are pooled by week of the horizon, with the week before and
    after (none there: all past errors); the bounds are never below 0 and stay ordered around the mean."""
    errors = past.select(
        ((pl.col("step") - 1) // 7).alias("week"),
        (_log1p("actual") - _log1p("mean")).abs().alias("error"),
    )
    error_weeks = errors["week"].to_numpy()
    pooled = errors["error"].to_numpy()
    weeks = ((forecast["step"].to_numpy() - 1) // 7).astype(int)
    centre = np.log1p(np.clip(forecast["mean"].to_numpy(), 0.0, None))
    widths = {key: np.empty(len(weeks)) for key in LEVELS}
    for week in np.unique(weeks):
        in_week = pooled[np.abs(error_weeks - week) <= 1]
        for key, level in LEVELS.items():
            widths[key][weeks == week] = _conformal_quantile(in_week if len(in_week) else pooled, level)
    bounds = {}
    for key, width in widths.items():
        bounds[f"lo_{key}"] = np.expm1(centre - width)
        bounds[f"hi_{key}"] = np.expm1(centre + width)
    guarded = forecast_frame(forecast["series"], forecast["ds"], forecast["mean"].to_numpy(), **bounds)
    return forecast.with_columns(guarded.select(*bounds))


def _log1p(column: str) -> pl.Expr:
    return pl.col(column).clip(lower_bound=0.0).log1p()


def _conformal_quantile(errors: np.ndarray, level: float) -> float:
    """The ⌈(n + 1)·level⌉-th smallest of n errors (the largest when that exceeds n): split-conformal's quantile."""
    ordered = np.sort(errors)
    rank = min(len(ordered), math.ceil((len(ordered) + 1) * level))
    return float(ordered[rank - 1])


def _calibrated_folds(scored: pl.DataFrame, earlier: pl.DataFrame, horizon: int) -> pl.DataFrame:
    """Backtest rows `scored` with each fold's intervals calibrated on the folds (of `earlier` and `scored`) whose
    test window ended by its origin; a fold with fewer than `MIN_CALIBRATION_FOLDS` of them keeps its own."""
    every = pl.concat([earlier, scored]).with_columns((pl.col("origin") + pl.duration(days=horizon)).alias("seen"))
    folds = []
    for fold in scored.partition_by("fold", maintain_order=True):
        past = every.filter(pl.col("seen") <= fold["origin"][0])
        enough = past["origin"].n_unique() >= MIN_CALIBRATION_FOLDS
        folds.append(calibrate(fold, past) if enough else fold)
    return pl.concat(folds) if folds else scored


# ---------------------------------------------------------------------------------------------
# Backtest
# ---------------------------------------------------------------------------------------------


def fold_origins(n: int, horizon: int, folds: int, min_train: int = 2 * SEASON) -> list[int]:
    """Training lengths of the folds, oldest first: n - k·horizon for k = folds..1, each ≥ min_train."""
    return [n - k * horizon for k in range(folds, 0, -1) if n - k * horizon >= min_train]


def backtest(
    history: pl.DataFrame,
    model_name: str,
    horizon: int,
    folds: int = 4,
    *,
    series: str = "total",
    fill: Fill = "zero",
    refit: Literal["first", "every"] = "first",
    **options,
) -> BacktestResult:
    """Rolling-origin backtest of one registered model on one series (`ds`, `y`).

    `options` go to the model constructor (unknown ones are ignored, so one dict can serve every
    candidate). Fewer folds are run when the history is too short; with none, scores are NaN and
    `note` says why.
    """
    return _backtest_run(_SeriesRun.daily(history, series, horizon, folds, fill, refit, options), model_name)


def _backtest_run(run: _SeriesRun, model_name: str) -> BacktestResult:
    dates, y, horizon = run.dates, run.y, run.horizon
    origins = fold_origins(len(y), horizon, run.folds, run.min_train)
    if not origins:
        return BacktestResult(
            run.series,
            model_name,
            horizon,
            0,
            pl.DataFrame(schema=BACKTEST_SCHEMA),
            math.nan,
            math.nan,
            math.nan,
            math.nan,
            note=f"{len(y)} days of history: too short for a {horizon}-day backtest",
        )
    frames = []
    first: Forecaster | None = None
    for fold, cut in enumerate(origins, start=1):
        train = run.training_days(cut)
        model = make_model(model_name, run.series, fill=run.fill, **run.options)
        if first is None or run.refit == "every":
            model.fit(train)
        else:
            model.refit_like(train, first)
        first = first or model
        predicted = model.predict(horizon)  # rows for the open days only
        origin = dates[cut - 1]
        step = (predicted["ds"] - origin).dt.total_days().to_numpy()
        rows = len(step)
        columns = {
            "model": pl.repeat(model_name, rows, eager=True),
            "fold": np.full(rows, fold, dtype=np.int32),
            "origin": pl.repeat(origin, rows, eager=True),
            "step": step.astype(np.int32),
            "actual": y[cut - 1 + step],  # one calendar row per day: `step` days after the origin's row
            # Every model of a fold sees the same open days: the scale is the same for all.
            "scale": np.full(rows, seasonal_naive_scale(model.y_, model.season_)),
        }
        frames.append(
            pl.DataFrame(
                {name: columns[name] if name in columns else predicted[name] for name in BACKTEST_SCHEMA},
                schema=BACKTEST_SCHEMA,
            )
        )
    forecasts = pl.concat(frames)
    s = score_backtest(forecasts)
    note = "" if len(origins) == run.folds else f"history allows {len(origins)} of {run.folds} folds"
    return BacktestResult(
        run.series,
        model_name,
        horizon,
        len(origins),
        forecasts,
        s["mase"],
        s["bias"],
        s["coverage_80"],
        s["coverage_95"],
        note,
    )


# ---------------------------------------------------------------------------------------------
# Model choice
# ---------------------------------------------------------------------------------------------


def choose_model(
    history: pl.DataFrame,
    horizon: int,
    folds: int = 4,
    candidates: Sequence[str] = DEFAULT_CANDIDATES,
    *,
    series: str = "total",
    fill: Fill = "zero",
    refit: Literal["first", "every"] = "first",
    **options,
) -> ModelChoice:
    """Backtest every candidate and pick the lowest MASE (ties: the earlier candidate).

    Seasonal naive is always backtested: its MASE is the `baseline_mase` every other score is
    read against. When it is a candidate (the default) it is kept if nothing beats it; when the
    caller names other candidates only, the best of those is used and the note says if it does
    worse than seasonal naive. The fallback rule
    (`models.fallback_reason`: too short, mostly zeros) is applied first; the fallback model is
    then the only candidate besides the baseline and the note says why.
    """
    return _choose(_SeriesRun.daily(history, series, horizon, folds, fill, refit, options), tuple(candidates))


def _choose(run: _SeriesRun, candidates: tuple[str, ...]) -> ModelChoice:
    unknown = [c for c in candidates if c not in MODELS]
    if unknown:
        raise KeyError(f"unknown candidate models {unknown}; choose from {sorted(MODELS)}")
    fallback = fallback_model(run.days.y, run.days.season)
    names = [BASELINE] + [c for c in candidates if c != BASELINE]
    if fallback is not None:
        names = list(dict.fromkeys([BASELINE, fallback[0]]))
    results = {name: _backtest_run(run, name) for name in names}
    scores = pl.DataFrame(
        [r.scores() for r in results.values()],
        schema={
            "model": pl.String,
            "mase": pl.Float64,
            "bias": pl.Float64,
            "coverage_80": pl.Float64,
            "coverage_95": pl.Float64,
        },
    )
    baseline = results[BASELINE].mase
    if fallback is not None:
        return ModelChoice(fallback[0], scores, baseline, fallback[1], results)
    # The baseline is always scored, but only eligible when it is a candidate: a caller asking
    # for one model gets that model, with a note when it does worse than seasonal naive.
    eligible = [name for name in results if name in candidates]
    scored = [(results[name].mase, i, name) for i, name in enumerate(eligible) if np.isfinite(results[name].mase)]
    if not scored:
        pick = BASELINE if BASELINE in candidates else eligible[0]
        why = results[BASELINE].note or "backtest scores undefined (flat history)"
        return ModelChoice(pick, scores, baseline, f"no backtest possible ({why}): {pick} unchecked", results)
    best_mase, _, best = min(scored)
    if best == BASELINE:
        note = "no candidate beat seasonal naive in the backtest: seasonal naive kept"
    elif not (np.isfinite(baseline) and baseline > 0):
        note = f"lowest backtest MASE ({best_mase:.2f}; seasonal naive not scorable)"
    elif best_mase >= baseline:
        note = f"backtest MASE {best_mase:.2f} is no better than seasonal naive's {baseline:.2f}"
    else:
        note = (
            f"lowest backtest MASE ({best_mase:.2f} vs seasonal naive {baseline:.2f}, "
            f"{1 - best_mase / baseline:.0%} lower)"
        )
    return ModelChoice(best, scores, baseline, note, results)


# ---------------------------------------------------------------------------------------------
# Many series
# ---------------------------------------------------------------------------------------------


def forecast_series(
    frame: pl.DataFrame | pl.LazyFrame,
    by: Sequence[str] | None = None,
    horizon: int = 28,
    folds: int = 4,
    *,
    candidates: Sequence[str] = DEFAULT_CANDIDATES,
    events: pl.DataFrame | None = None,
    fill: Fill = "zero",
    refit: Literal["first", "every"] = "first",
    n_jobs: int = 1,
    separator: str = " / ",
    **options,
) -> SeriesForecasts:
    """Choose, backtest and forecast every series of a long frame (`ds`, `y` plus keys).

    Series are identified by the `by` columns (label = their values joined by `separator`) or,
    when `by` is empty, by a `series` column (or the whole frame is one series, "total").
    With `fill="zero"` every series is reindexed to the frame's last day, so a series whose
    last days had no rows gets zeros there and all forecasts start on the same day. The horizon
    is in calendar days; a series closed on some weekdays (`models.closed_weekdays`) has no
    forecast rows on them (`scores.closed_weekdays` names them).

    `events` (`start`, `end`, `kind`, `title`, optional `policy_domain`, `market`) feed the
    calendar regression; when `policy_domain` or `market` is a `by` column, a series only gets
    events that concern it (the column empty = all). `n_jobs > 1` spreads the series over the shared process pool of
    that many workers (`forecasting.workers`); the results are the same as with one.
    """
    options = dict(options, candidates=candidates, events=events, fill=fill, refit=refit, separator=separator)
    return forecast_frames([(frame, by)], horizon, folds, n_jobs=n_jobs, **options)[0]


def forecast_frames(
    frames: Sequence[tuple[pl.DataFrame | pl.LazyFrame, Sequence[str] | None]],
    horizon: int = 28,
    folds: int = 4,
    *,
    candidates: Sequence[str] = DEFAULT_CANDIDATES,
    events: pl.DataFrame | None = None,
    fill: Fill = "zero",
    refit: Literal["first", "every"] = "first",
    n_jobs: int = 1,
    separator: str = " / ",
    **options,
) -> list[SeriesForecasts]:
    """`forecast_series` of each (frame, by) pair, all their series in one pass over the workers (a total and its
    parts keep both workers busy to the end)."""
    prepared = [
        _series_runs(frame, by, horizon, folds, events, fill, refit, separator, options) for frame, by in frames
    ]
    outputs = iter(_run_all([run for _, runs in prepared for run in runs], tuple(candidates), n_jobs))
    return [_collected([next(outputs) for _ in runs], keys) for keys, runs in prepared]


def _series_runs(
    frame: pl.DataFrame | pl.LazyFrame,
    by: Sequence[str] | None,
    horizon: int,
    folds: int,
    events: pl.DataFrame | None,
    fill: Fill,
    refit: str,
    separator: str,
    options: dict,
) -> tuple[pl.DataFrame, list[_SeriesRun]]:
    """The series of one frame (see `forecast_series`): their keys and runs."""
    by = list(by or [])
    lf = frame.lazy()
    names = lf.collect_schema().names()
    if by:
        label = pl.concat_str([pl.col(c).cast(pl.String).fill_null("(none)") for c in by], separator=separator)
    elif "series" in names:
        label = pl.col("series").cast(pl.String)
    else:
        label = pl.lit("total")
    data = (
        lf.with_columns(label.alias("series"))
        .group_by("series", *[c for c in by if c != "series"], "ds")
        .agg(pl.col("y").cast(pl.Float64).sum())
        .sort("series", "ds")
        .collect()
    )
    keys = data.select("series", *[c for c in by if c != "series"]).unique(maintain_order=True)
    end = data["ds"].max() if fill == "zero" and data.height else None
    runs = []
    for key_row in keys.iter_rows(named=True):
        name = key_row["series"]
        history = data.filter(pl.col("series") == name).select("ds", "y")
        run_options = dict(options)
        if events is not None:
            run_options["events"] = events_for(events, key_row)
        runs.append(_SeriesRun.daily(history, name, horizon, folds, fill, refit, run_options, end=end))
    return keys, runs


def _run_all(runs: list[_SeriesRun], candidates: tuple[str, ...], n_jobs: int) -> list[tuple]:
    """`_forecast_one` of every run, in order: over the shared pool with `n_jobs` > 1 and several runs."""
    workers = min(n_jobs, os.cpu_count() or 1)
    if workers > 1 and len(runs) > 1:
        try:
            return list(shared_pool(workers).map(_forecast_one, runs, repeat(candidates), chunksize=1))
        except BrokenProcessPool:  # a worker died: the pool is replaced for the next forecast, these run here
            discard_pool(workers)
    with limit_blas():  # as in every worker
        return [_forecast_one(run, candidates) for run in runs]


def _collected(outputs: list[tuple], keys: pl.DataFrame) -> SeriesForecasts:
    return SeriesForecasts(
        forecasts=pl.concat([o[0] for o in outputs]) if outputs else pl.DataFrame(schema=FORECAST_SCHEMA),
        scores=pl.DataFrame([o[1] for o in outputs], schema=SCORES_SCHEMA),
        backtests=pl.concat([o[2] for o in outputs]) if outputs else pl.DataFrame(schema=BACKTEST_SCHEMA),
        keys=keys,
    )


def events_for(events: pl.DataFrame, key: dict[str, object]) -> pl.DataFrame:
    """The events that concern one series: for each key column the events table also has
    (e.g. `market`, `policy_domain`), keep rows where it is empty or equal to the series' value."""
    keep = pl.lit(True)
    for column, value in key.items():
        if column != "series" and column in events.columns:
            keep = keep & (pl.col(column).is_null() | (pl.col(column).cast(pl.String) == str(value)))
    return events.filter(keep)


def _forecast_one(run: _SeriesRun, candidates: tuple[str, ...]) -> tuple[pl.DataFrame, dict, pl.DataFrame]:
    """Choose, fit and forecast one series: its forecast, its SCORES_SCHEMA row and every candidate's backtest
    (the used model's with calibrated intervals, as its forecast has)."""
    choice = _choose(run, candidates)
    model = make_model(choice.model, run.series, fill=run.fill, **run.options)
    model.fit(pl.DataFrame({"ds": run.dates, "y": run.y}))
    forecast = model.predict(run.horizon)  # before the note: a forecast out of the data's range adds to it
    # The model the numbers came from: the fallback when the chosen one could not be used (the note says why),
    # scored by its own backtest (every fallback is seasonal naive, always backtested as the baseline).
    used = model.fallback_.name if model.fallback_ is not None else choice.model
    scored = choice.backtests[used].forecasts
    earlier = _earlier_folds(run, used, scored)
    scored = _calibrated_folds(scored, earlier, run.horizon)
    past = pl.concat([earlier, scored])
    interval_note = ""
    if past["origin"].n_unique() >= MIN_CALIBRATION_FOLDS:
        step = (pl.col("ds") - pl.lit(run.dates[-1])).dt.total_days().cast(pl.Int32).alias("step")
        forecast = calibrate(forecast.with_columns(step), past).select(list(FORECAST_SCHEMA))
    else:
        interval_note = "too little history to calibrate the intervals on past forecasts: the model's own are shown"
    note = "; ".join(n for n in (choice.note, model.note_, interval_note) if n)
    s = score_backtest(scored)
    scores = {
        "series": run.series,
        "model": used,
        "mase": s["mase"],
        "baseline_mase": choice.baseline_mase,
        "bias": s["bias"],
        "coverage_80": s["coverage_80"],
        "coverage_95": s["coverage_95"],
        "history_days": len(run.y),
        "closed_weekdays": weekday_names([d for d in WEEKDAYS if d not in model.weekdays_]),
        "note": note,
    }
    backtests = pl.concat([scored if name == used else r.forecasts for name, r in choice.backtests.items()])
    return forecast, scores, backtests


def _earlier_folds(run: _SeriesRun, model_name: str, scored: pl.DataFrame) -> pl.DataFrame:
    """Backtest rows of `model_name` on up to `CALIBRATION_FOLDS` folds before the scored ones, trained on the history
    up to the first scored origin only, and on at least half of it: a model trained on much less data than the
    forecast's errs more and would overstate its uncertainty. Empty without scored folds or history before them."""
    if scored.height == 0:
        return scored
    calendar = run.days.calendar.filter(pl.col("ds") <= scored["origin"].min())
    before = _SeriesRun.daily(calendar, run.series, run.horizon, CALIBRATION_FOLDS, run.fill, run.refit, run.options)
    before = replace(before, min_train=max(before.min_train, calendar.height // 2))
    return _backtest_run(before, model_name).forecasts.with_columns(pl.col("fold") - CALIBRATION_FOLDS)
