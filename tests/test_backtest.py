"""Backtests (scores against hand computations), model choice, many series, reconciliation."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from forecasting.backtest import (
    BACKTEST_SCHEMA,
    SCORES_SCHEMA,
    backtest,
    choose_model,
    events_for,
    forecast_series,
    score_backtest,
)
from forecasting.models import FORECAST_SCHEMA, DampedETS
from forecasting.reconcile import incoherence, reconcile

START = date(2024, 1, 1)


def frame_of(y: np.ndarray, start: date = START) -> pl.DataFrame:
    return pl.DataFrame({"ds": [start + timedelta(days=i) for i in range(len(y))], "y": np.asarray(y, dtype=float)})


def poisson_history(n: int, level: float = 60.0, seed: int = 1) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return frame_of(rng.poisson(level * (1 + 0.3 * np.isin(t % 7, (5, 6)))))


def yearly_history(seed: int, n: int = 730, level: float = 200.0) -> pl.DataFrame:
    """A strong yearly shape (two harmonics) on top of a weekly one: a regression with yearly
    Fourier terms is the right model, a weekly-only ETS can only chase it."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    season = np.sin(2 * np.pi * t / 365.25) + 0.6 * np.sin(6 * np.pi * t / 365.25)
    return frame_of(rng.poisson(level * np.exp(season) * (1 + 0.3 * np.isin(t % 7, (5, 6)))))


# ---------------------------------------------------------------------------------------------
# Scores
# ---------------------------------------------------------------------------------------------


def test_scores_match_hand_computation() -> None:
    rows = pl.DataFrame(
        {
            "fold": [1, 1, 2, 2],
            "actual": [10.0, 20.0, 30.0, 40.0],
            "mean": [12.0, 18.0, 36.0, 40.0],
            "lo_80": [11.0, 15.0, 30.0, 30.0],
            "hi_80": [13.0, 19.0, 40.0, 40.0],
            "lo_95": [9.0, 15.0, 20.0, 41.0],
            "hi_95": [13.0, 21.0, 50.0, 50.0],
            "scale": [4.0, 4.0, 3.0, 3.0],
        }
    )
    s = score_backtest(rows)
    # fold 1: MAE 2 / scale 4 = 0.5; fold 2: MAE 3 / scale 3 = 1.0; mean over folds 0.75
    assert s["mase"] == pytest.approx(0.75)
    # bias = Σ(forecast − actual) / Σ actual = (2 − 2 + 6 + 0) / 100
    assert s["bias"] == pytest.approx(0.06)
    assert s["coverage_80"] == pytest.approx(2 / 4)  # 30 and 40 are inside (bounds inclusive)
    assert s["coverage_95"] == pytest.approx(3 / 4)  # 40 is below lo_95 = 41


def test_seasonal_naive_backtest_by_hand() -> None:
    t = np.arange(28)
    y = 10.0 + t + 5.0 * (t % 7 == 5)  # growth and a Saturday bump
    result = backtest(frame_of(y), "seasonal_naive", horizon=7, folds=2)
    assert result.folds == 2
    assert result.forecasts.schema == pl.Schema(BACKTEST_SCHEMA)
    maes, errors, actuals = [], [], []
    for cut in (14, 21):
        forecast, actual = y[cut - 7 : cut], y[cut : cut + 7]  # the week before the origin
        scale = np.mean(np.abs(y[7:cut] - y[: cut - 7]))
        maes.append(np.mean(np.abs(forecast - actual)) / scale)
        errors.append(forecast - actual)
        actuals.append(actual)
    assert result.mase == pytest.approx(np.mean(maes))
    assert result.bias == pytest.approx(np.sum(errors) / np.sum(actuals))
    fold1 = result.forecasts.filter(pl.col("fold") == 1)
    assert fold1["mean"].to_list() == list(y[7:14])
    assert fold1["origin"].unique().to_list() == [START + timedelta(days=13)]
    assert fold1["step"].to_list() == list(range(1, 8))
    inside = result.forecasts.select(
        ((pl.col("actual") >= pl.col("lo_80")) & (pl.col("actual") <= pl.col("hi_80"))).mean()
    ).item()
    assert result.coverage_80 == pytest.approx(inside)


def test_backtest_uses_fewer_folds_on_short_history() -> None:
    partial = backtest(poisson_history(30), "seasonal_naive", horizon=14, folds=4)
    assert partial.folds == 1 and "1 of 4" in partial.note
    none = backtest(poisson_history(10), "ets", horizon=14, folds=4)
    assert none.folds == 0 and math.isnan(none.mase) and "too short" in none.note
    assert none.forecasts.height == 0


def test_refit_first_estimates_once_on_the_earliest_window() -> None:
    data = poisson_history(200)
    result = backtest(data, "ets", horizon=14, folds=3, refit="first")
    first_window = data.head(200 - 3 * 14)
    first = DampedETS("total").fit(first_window)
    fold1 = result.forecasts.filter(pl.col("fold") == 1).select(list(FORECAST_SCHEMA))
    assert_frame_equal(fold1, first.predict(14))
    later = DampedETS("total").refit_like(data.head(200 - 14), first)
    np.testing.assert_allclose(later.params_, first.params_)  # same parameters, new data
    fold3 = result.forecasts.filter(pl.col("fold") == 3).select(list(FORECAST_SCHEMA))
    assert_frame_equal(fold3, later.predict(14))
    every = backtest(data, "ets", horizon=14, folds=3, refit="every")
    fold3_every = every.forecasts.filter(pl.col("fold") == 3).select(list(FORECAST_SCHEMA))
    assert_frame_equal(fold3_every, DampedETS("total").fit(data.head(200 - 14)).predict(14))


# ---------------------------------------------------------------------------------------------
# Model choice
# ---------------------------------------------------------------------------------------------


def test_choose_model_picks_the_regression_for_a_strong_yearly_pattern() -> None:
    choice = choose_model(yearly_history(seed=4), horizon=28, folds=4)
    assert choice.model == "seasonal_regression"
    assert set(choice.scores["model"]) == {"seasonal_naive", "ets", "seasonal_regression"}
    assert choice.score("seasonal_regression") < 0.7 * choice.score("ets")
    assert choice.baseline_mase == pytest.approx(choice.score("seasonal_naive"))
    assert "lowest backtest MASE" in choice.note


def test_choose_model_falls_back_for_sparse_counts() -> None:
    choice = choose_model(poisson_history(200, level=0.2), horizon=14, folds=2)
    assert choice.model == "recent_mean"
    assert "zero" in choice.note
    assert set(choice.scores["model"]) == {"seasonal_naive", "recent_mean"}


def test_choose_model_honours_a_single_named_candidate() -> None:
    choice = choose_model(poisson_history(120), horizon=14, folds=2, candidates=("ets",))
    assert choice.model == "ets"
    assert set(choice.scores["model"]) == {"seasonal_naive", "ets"}  # baseline still scored
    assert math.isfinite(choice.baseline_mase)


def test_choose_model_rejects_unknown_candidates() -> None:
    with pytest.raises(KeyError):
        choose_model(poisson_history(60), horizon=7, candidates=("seasonal_naive", "lstm"))


# ---------------------------------------------------------------------------------------------
# Many series
# ---------------------------------------------------------------------------------------------


def many_series() -> pl.DataFrame:
    regular = poisson_history(120).with_columns(pl.lit("a").alias("g"))
    sparse = poisson_history(120, level=0.2, seed=2).filter(pl.col("y") > 0).with_columns(pl.lit("b").alias("g"))
    short = poisson_history(120, seed=3).tail(10).with_columns(pl.lit("c").alias("g"))
    return pl.concat([regular, sparse, short])


def test_forecast_series_forecasts_scores_and_backtests_every_series() -> None:
    frame = many_series()
    run = forecast_series(frame, by=["g"], horizon=14, folds=2, n_jobs=1)
    assert run.forecasts.schema == pl.Schema(FORECAST_SCHEMA)
    assert run.scores.schema == pl.Schema(SCORES_SCHEMA)
    assert run.backtests.schema == pl.Schema(BACKTEST_SCHEMA)
    assert run.forecasts.height == 3 * 14
    # Zero fill to the frame's last day: every series starts forecasting on the same day.
    first_days = run.forecasts.group_by("series").agg(pl.col("ds").min())["ds"].unique().to_list()
    assert first_days == [frame["ds"].max() + timedelta(days=1)]
    scores = {row["series"]: row for row in run.scores.iter_rows(named=True)}
    assert scores["b"]["model"] == "recent_mean" and "zero" in scores["b"]["note"]
    assert scores["c"]["model"] == "seasonal_naive" and "10 days" in scores["c"]["note"]
    assert scores["a"]["model"] in ("ets", "seasonal_regression", "seasonal_naive")
    assert scores["a"]["baseline_mase"] > 0
    chosen_bt = run.backtests.filter((pl.col("series") == "a") & (pl.col("model") == scores["a"]["model"]))
    assert chosen_bt.height == 2 * 14
    assert run.keys.columns == ["series", "g"]


def test_forecast_series_in_parallel_equals_serial() -> None:
    frame = many_series().filter(pl.col("g") != "c")
    serial = forecast_series(frame, by=["g"], horizon=7, folds=2, n_jobs=1)
    parallel = forecast_series(frame, by=["g"], horizon=7, folds=2, n_jobs=2)
    assert_frame_equal(serial.forecasts, parallel.forecasts)
    assert_frame_equal(serial.scores, parallel.scores)


def test_events_for_keeps_events_that_concern_the_series() -> None:
    events = pl.DataFrame(
        {
            "title": ["all", "us only", "fr only", "youth us"],
            "market": [None, "US", "FR", "US"],
            "policy_domain": [None, None, None, "youth_safety"],
        }
    )
    kept = events_for(events, {"series": "x", "market": "US", "policy_domain": "hate"})
    assert kept["title"].to_list() == ["all", "us only"]
    assert events_for(events, {"series": "x"}).height == 4  # no key columns: nothing filtered


# ---------------------------------------------------------------------------------------------
# Reconciliation
# ---------------------------------------------------------------------------------------------


def forecast_rows(series: str, means: list[float], half_widths: list[float]) -> pl.DataFrame:
    days = [date(2026, 1, 1) + timedelta(days=i) for i in range(len(means))]
    m, w = np.array(means), np.array(half_widths)
    return pl.DataFrame(
        {
            "series": series,
            "ds": days,
            "mean": m,
            "lo_80": np.clip(m - w, 0, None),
            "hi_80": m + w,
            "lo_95": np.clip(m - 1.6 * w, 0, None),
            "hi_95": m + 1.6 * w,
        },
        schema=FORECAST_SCHEMA,
    )


PARTS = pl.concat(
    [
        forecast_rows("a", [100.0, 120.0, 0.3], [10.0, 12.0, 5.0]),
        forecast_rows("b", [50.0, 55.5, 40.0], [20.0, 20.0, 1.0]),
        forecast_rows("c", [0.1, 7.0, 3.3], [0.5, 3.0, 0.2]),
    ]
)
TOTAL = forecast_rows("total", [170.0, 170.0, 30.0], [25.0, 25.0, 6.0])


@pytest.mark.parametrize("method", ["mint_diag", "ols", "top_down"])
def test_reconciled_parts_add_up_to_the_total_exactly(method: str) -> None:
    out = reconcile(PARTS, TOTAL, method)
    assert out.schema == pl.Schema(FORECAST_SCHEMA)
    parts, total = out.filter(pl.col("series") != "total"), out.filter(pl.col("series") == "total")
    for day, day_total in zip(total["ds"], total["mean"], strict=True):
        assert math.fsum(parts.filter(pl.col("ds") == day)["mean"]) == day_total  # exact, not approx
    assert (incoherence(parts, total)["gap"] == 0).all()
    values = out.select("lo_95", "lo_80", "mean", "hi_80", "hi_95").to_numpy()
    assert (values >= 0).all() and (np.diff(values, axis=1) >= 0).all()
    if method == "top_down":
        np.testing.assert_allclose(total["mean"], TOTAL["mean"], rtol=1e-12)


def test_mint_diag_moves_uncertain_forecasts_more_and_keeps_widths() -> None:
    out = reconcile(PARTS, TOTAL, "mint_diag").filter(pl.col("ds") == date(2026, 1, 1)).sort("series")
    base = pl.concat([PARTS, TOTAL]).filter(pl.col("ds") == date(2026, 1, 1)).sort("series")
    shift = (out["mean"] - base["mean"]).to_list()
    a, b, c, total = shift
    assert total < 0 < c < a < b  # parts were 19.9 short: b (widest) rises most, c least
    widths = (out["hi_80"] - out["mean"]) - (base["hi_80"] - base["mean"])
    np.testing.assert_allclose(widths.to_numpy(), 0.0, atol=1e-9)


def test_ols_shares_the_gap_equally_and_no_part_goes_negative() -> None:
    out = reconcile(PARTS, TOTAL, "ols")
    day1 = out.filter(pl.col("ds") == date(2026, 1, 1)).sort("series")
    base = pl.concat([PARTS, TOTAL]).filter(pl.col("ds") == date(2026, 1, 1)).sort("series")
    gap = 170.0 - 150.1
    shifts = (day1["mean"] - base["mean"]).to_numpy()
    np.testing.assert_allclose(shifts, [gap / 4, gap / 4, gap / 4, -gap / 4])
    # Day 3: parts sum to 43.6 but the total says 30: part a (0.3) would go negative; it stays at 0.
    day3 = out.filter(pl.col("ds") == date(2026, 1, 3))
    assert day3.filter(pl.col("series") == "a")["mean"][0] == 0.0


def test_reconcile_needs_aligned_days() -> None:
    with pytest.raises(ValueError, match="lack forecasts"):
        reconcile(PARTS.filter(pl.col("ds") != date(2026, 1, 2)), TOTAL)
    with pytest.raises(ValueError, match="one series"):
        reconcile(PARTS, PARTS)
