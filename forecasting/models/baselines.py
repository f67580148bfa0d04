"""Seasonal naive and recent mean: the baseline every backtest compares with, and the fallbacks."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from forecasting.models.base import Bands, Fill, Forecaster


class SeasonalNaive(Forecaster):
    """Each future day repeats the same weekday of the last observed week.

    On the open-day index the week is `season_` days long (7, or 5 for a Monday-to-Friday
    operation). Intervals: the empirical 2.5/10/90/97.5 % quantiles of the in-sample
    seasonal-naive errors `y[t] - y[t - season_]` (the last `window` of them; all when None),
    scaled by `sqrt(k)` where `k = ceil(h / season_)` is the number of weeks ahead — the error of
    repeating a value k weeks old adds k independent one-week errors if the series is a seasonal
    random walk. With fewer than `season_ + 2` days the errors of a plain naive (lag 1) are used instead.
    """

    name: ClassVar[str] = "seasonal_naive"

    def __init__(self, series: str = "total", *, window: int | None = 364, fill: Fill = "zero"):
        super().__init__(series, fill=fill)
        self.window = window

    def _fit(self, y: np.ndarray) -> None:
        lag = self.season_ if len(y) >= self.season_ + 2 else 1
        errors = y[lag:] - y[:-lag] if len(y) > lag else np.zeros(1)
        if self.window is not None:
            errors = errors[-self.window :]
        self.lag_: int = lag
        self.error_quantiles_: np.ndarray = np.quantile(errors, [0.025, 0.10, 0.90, 0.975])
        if len(errors) < 10:
            self.note_ = f"intervals from only {len(errors)} past errors: treat them as rough"

    def _predict(self, steps: int) -> Bands:
        last = self.y_[-self.lag_ :]
        steps = np.arange(steps)
        mean = last[steps % self.lag_]
        k = np.sqrt(np.ceil((steps + 1) / self.lag_))
        q = self.error_quantiles_
        return Bands(mean, mean + q[1] * k, mean + q[2] * k, mean + q[0] * k, mean + q[3] * k)


class RecentMean(Forecaster):
    """The mean of the last `window` open days, with the empirical spread of those days as intervals.

    Meant for sparse counts (mostly zero days), where day-to-day noise dwarfs any weekly
    pattern: the recent days are treated as draws from one distribution, so the interval
    bounds are their 2.5/10/90/97.5 % quantiles and do not widen with the horizon.
    """

    name: ClassVar[str] = "recent_mean"
    fallback_class = SeasonalNaive

    def __init__(self, series: str = "total", *, window: int = 56, fill: Fill = "zero"):
        super().__init__(series, fill=fill)
        self.window = window

    def _fit(self, y: np.ndarray) -> None:
        recent = y[-self.window :]
        self.level_: float = float(recent.mean())
        self.quantiles_: np.ndarray = np.quantile(recent, [0.025, 0.10, 0.90, 0.975])

    def _predict(self, steps: int) -> Bands:
        ones = np.ones(steps)
        q = self.quantiles_
        return Bands(self.level_ * ones, q[1] * ones, q[2] * ones, q[0] * ones, q[3] * ones)
