"""Interval calibration: the empirical h-step rule reaches nominal coverage on noise we know, and backtests of
simulated series and of a small demo land in the target band."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from scipy.optimize import brentq
from scipy.stats import norm

from forecasting.backtest import calibrate, forecast_series
from forecasting.models import FORECAST_SCHEMA

HORIZON = 28


def errors_frame(log_errors: np.ndarray, level: float = 100.0) -> pl.DataFrame:
    """Backtest-like rows (folds × steps) whose log1p error is `log_errors` around a forecast of `level`."""
    folds, steps = log_errors.shape
    mean = np.full(folds * steps, level)
    return pl.DataFrame(
        {
            "series": "s",
            "ds": [date(2025, 1, 1) + timedelta(days=i) for i in range(folds * steps)],
            "step": np.tile(np.arange(1, steps + 1), folds).astype(np.int32),
            "mean": mean,
            "actual": np.expm1(np.log1p(mean) + log_errors.ravel()),
            **{c: mean for c in ("lo_80", "hi_80", "lo_95", "hi_95")},
        }
    )


def test_calibrated_intervals_reach_nominal_coverage_on_known_noise() -> None:
    # Log errors growing with the horizon (sd 0.05 → 0.15 over four weeks, as a drifting level does): 6 past folds
    # calibrate, a 7th is scored; over many draws the coverage is the nominal one and the widths the known quantiles.
    rng = np.random.default_rng(7)
    sd = 0.05 + 0.1 * (np.arange(HORIZON) // 7) / 3
    inside = {"80": [], "95": []}
    widths = []
    for _ in range(300):
        draws = rng.normal(0.0, sd, size=(7, HORIZON))
        past, new = errors_frame(draws[:6]), errors_frame(draws[6:])
        out = calibrate(new, past)
        for key in inside:
            inside[key].append(((new["actual"] >= out[f"lo_{key}"]) & (new["actual"] <= out[f"hi_{key}"])).mean())
        widths.append(np.log1p(out["hi_80"].to_numpy()) - np.log1p(out["mean"].to_numpy()))
    assert 0.78 <= np.mean(inside["80"]) <= 0.84
    assert 0.94 <= np.mean(inside["95"]) <= 0.975
    # The median width per week is the true 80 % quantile of |error| over that week and its neighbours (a mixture
    # of normals, solved here independently), and grows with the horizon as the noise does.
    week = np.arange(HORIZON) // 7
    for w in range(4):
        pooled = sd[np.abs(week - w) <= 1]
        known = brentq(lambda q, s=pooled: np.mean(2 * norm.cdf(q / s) - 1) - 0.8, 0.0, 1.0)
        assert np.median(widths, axis=0)[7 * w] == pytest.approx(known, rel=0.05)
    assert np.median(widths, axis=0)[-1] > 1.8 * np.median(widths, axis=0)[0]


def test_calibrated_bounds_are_never_negative_and_ordered() -> None:
    rng = np.random.default_rng(3)
    past = errors_frame(rng.normal(0.0, 2.0, size=(4, HORIZON)), level=0.5)
    out = calibrate(errors_frame(np.zeros((1, HORIZON)), level=0.5), past)
    assert (out["lo_95"] >= 0).all() and (out["lo_95"] <= out["lo_80"]).all()
    assert (out["lo_80"] <= out["mean"]).all() and (out["mean"] <= out["hi_80"]).all()
    assert (out["hi_80"] <= out["hi_95"]).all()
    assert out["lo_95"].min() == 0.0  # wide enough to reach zero, clipped there


def shifting_series(seed: int, days: int = 560) -> pl.DataFrame:
    """Daily counts around 500 with a weekly shape, day noise, and level shifts of a few per cent every few weeks
    (the kind of change a regression's stationary AR errors do not anticipate)."""
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    shifts = np.cumsum(np.where(rng.random(days) < 1 / 21, rng.normal(0.0, 0.06, days), 0.0))
    log_level = np.log(500) + 0.25 * np.isin(t % 7, (5, 6)) + shifts
    y = rng.poisson(np.exp(log_level + rng.normal(0.0, 0.03, days)))
    return pl.DataFrame({"ds": [date(2024, 1, 1) + timedelta(days=int(i)) for i in t], "y": y.astype(float)})


def test_backtest_coverage_of_simulated_series_is_in_the_band() -> None:
    frame = pl.concat([shifting_series(seed).with_columns(pl.lit(f"s{seed}").alias("series")) for seed in range(6)])
    run = forecast_series(frame, horizon=HORIZON, folds=4, candidates=("seasonal_regression",))
    assert run.scores["model"].to_list() == ["seasonal_regression"] * 6
    assert 0.75 <= run.scores["coverage_80"].mean() <= 0.85
    assert 0.90 <= run.scores["coverage_95"].mean() <= 0.97
    # The final forecasts carry intervals of the same rule: they widen over the horizon and stay non-negative.
    first = run.forecasts.filter(pl.col("series") == "s0")
    width = (first["hi_80"] - first["lo_80"]).to_numpy()
    assert width[-7:].mean() > width[:7].mean()
    assert run.forecasts.columns == list(FORECAST_SCHEMA) and (run.forecasts["lo_95"] >= 0).all()


def test_short_history_keeps_the_models_own_intervals_and_says_so() -> None:
    frame = shifting_series(1, days=50)
    run = forecast_series(frame, horizon=HORIZON, folds=4, candidates=("seasonal_naive",))
    assert "the model's own are shown" in run.scores["note"][0]


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory: pytest.TempPathFactory):
    from queries.demo import generate_demo
    from queries.engines.serving import open_served

    folder = tmp_path_factory.mktemp("calibration") / "demo"
    generate_demo(folder, days=730, tickets_per_day=2000, end=date(2026, 12, 5))  # as `--scale small`
    return open_served(str(folder))


def test_demo_backtest_coverage_is_in_the_band_at_eight_weeks(small_demo) -> None:
    from forecasting.planner import forecast_view
    from queries.engines import created_days
    from queries.filters import Filters

    view = forecast_view(small_demo, Filters(*created_days(small_demo)), "policy_domain", 56)
    total = view.scores.filter(pl.col("series") == "total")
    parts = view.scores.filter(pl.col("series") != "total")
    assert 0.75 <= total["coverage_80"][0] <= 0.85 and 0.88 <= total["coverage_95"][0] <= 0.97
    assert 0.75 <= parts["coverage_80"].mean() <= 0.85 and 0.90 <= parts["coverage_95"].mean() <= 0.97
