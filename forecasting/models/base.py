"""The estimator contract every model implements (see the package notes for the rules).

The output schema and its guards (`FORECAST_SCHEMA`, `forecast_frame`), the regular daily
calendar (`daily_calendar`), the fallback rule (`fallback_reason`), the base class `Forecaster`
(fit, re-filter, predict, visible fallback) and `GaussianForecaster`, the base of the estimated
models: fitted on `log1p(y)` (default) with Gaussian bands mapped back to counts.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import ClassVar, Literal

import numpy as np
import polars as pl
from scipy.stats import norm

FORECAST_SCHEMA: dict[str, pl.DataType] = {
    "series": pl.String(),
    "ds": pl.Date(),
    "mean": pl.Float64(),
    "lo_80": pl.Float64(),
    "hi_80": pl.Float64(),
    "lo_95": pl.Float64(),
    "hi_95": pl.Float64(),
}
"""Every forecast, from every model and function in `forecasting/`, has exactly these columns."""

Fill = Literal["zero", "interpolate"]
Transform = Literal["log1p", "none"]

# Normal quantiles of the two central intervals.
Z80 = float(norm.ppf(0.90))
Z95 = float(norm.ppf(0.975))


# ---------------------------------------------------------------------------------------------
# History preparation
# ---------------------------------------------------------------------------------------------


def daily_calendar(history: pl.DataFrame, fill: Fill = "zero", end: date | None = None) -> pl.DataFrame:
    """Reindex `history` (`ds`, `y`) to one row per day from its first day to `end` (default: its last).

    `fill="zero"`: a missing day had no events (counts). `fill="interpolate"`: a missing day was
    not observed; linear interpolation between its neighbours (edges take the nearest value).
    Duplicate days are summed; null `y` values count as missing days.
    """
    missing = {"ds", "y"} - set(history.columns)
    if missing:
        raise ValueError(f"history needs columns ds and y; missing {sorted(missing)}")
    frame = (
        history.lazy()
        .select(pl.col("ds").cast(pl.Date), pl.col("y").cast(pl.Float64))
        .filter(pl.col("ds").is_not_null() & pl.col("y").is_not_null() & pl.col("y").is_finite())
        .group_by("ds")
        .agg(pl.col("y").sum())
        .sort("ds")
        .collect()
    )
    if frame.height == 0:
        raise ValueError("history has no usable rows (needs non-null ds and finite y)")
    first = frame["ds"].min()
    last = frame["ds"].max() if end is None else max(end, frame["ds"].max())
    calendar = pl.DataFrame({"ds": pl.date_range(first, last, interval="1d", eager=True)})
    full = calendar.join(frame, on="ds", how="left")
    if fill == "zero":
        full = full.with_columns(pl.col("y").fill_null(0.0))
    elif fill == "interpolate":
        full = full.with_columns(pl.col("y").interpolate().forward_fill().backward_fill())
    else:
        raise ValueError(f"fill must be 'zero' or 'interpolate', not {fill!r}")
    return full


def fallback_reason(y: np.ndarray, season: int = 7, zero_share: float = 0.5) -> str | None:
    """Why a series should not get a fitted model, or None when it can.

    Fitted models need about two seasonal cycles to tell the weekly pattern from noise, and a
    series that is mostly zero days has no weekly pattern worth estimating: both get a simple
    model (seasonal naive, or the recent mean for sparse counts) and this text as their note.
    """
    n = len(y)
    if n < 2 * season:
        return f"only {n} days of history (< {2 * season}, two weekly cycles): seasonal naive instead of a fitted model"
    share = float(np.mean(y == 0))
    if share >= zero_share:
        return (
            f"{share:.0%} of days are zero (sparse counts): no weekly pattern to fit, "
            "forecasting the recent daily mean with empirical intervals"
        )
    return None


# ---------------------------------------------------------------------------------------------
# Base class
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bands:
    """Point forecast and interval bounds on the original scale, before the final guards."""

    mean: np.ndarray
    lo_80: np.ndarray
    hi_80: np.ndarray
    lo_95: np.ndarray
    hi_95: np.ndarray


class Forecaster:
    """Base class: history preparation, guards on the output and the fixed output schema.

    Subclasses implement `_fit(y)` on the regular daily array `self.y_` and `_predict(h)`
    returning `Bands`. Optionally `_refilter(y, fitted)` re-runs a model on new data with the
    parameters of an already fitted one (used by the backtest to avoid re-estimation).
    A model whose estimation can fail names the model used instead in `fallback_class`.
    """

    name: ClassVar[str] = "base"
    fallback_class: ClassVar[type[Forecaster] | None] = None
    """Fitted on the same days when this model cannot be estimated (None: the error is raised)."""

    def __init__(self, series: str = "total", *, fill: Fill = "zero") -> None:
        self.series = series
        self.fill = fill

    # -- public API -----------------------------------------------------------------------------

    def fit(self, history: pl.DataFrame) -> Forecaster:
        """Fit on `history` (`ds` Date, `y` Float64; gaps handled per `fill`). Returns self."""
        self._prepare(history)
        if not self._constant_history():
            self._estimate(lambda: self._fit(self.y_))
        return self

    def refit_like(self, history: pl.DataFrame, fitted: Forecaster) -> Forecaster:
        """Fit on `history` re-using the estimated parameters of `fitted` where the model allows.

        Models whose estimation is cheap simply refit. ETS re-filters the new data with fixed
        parameters (`ETSModel.smooth`), which costs a fraction of a fit.
        """
        self._prepare(history)
        if self._constant_history():
            return self
        if getattr(fitted, "fallback_", None) is None and not getattr(fitted, "constant_", False):
            self._estimate(lambda: self._refilter(self.y_, fitted))
        else:
            self._estimate(lambda: self._fit(self.y_))
        return self

    def predict(self, horizon: int) -> pl.DataFrame:
        """Forecast the `horizon` days after the last history day (FORECAST_SCHEMA)."""
        if not hasattr(self, "y_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted; call fit(history) first")
        if horizon < 1:
            raise ValueError("horizon must be at least 1")
        if self.constant_:
            value = np.full(horizon, self.y_[-1])
            bands = Bands(value, value, value, value, value)
        elif self.fallback_ is not None:
            bands = self.fallback_._predict(horizon)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                bands = self._predict(horizon)
        days = [self.end_ + timedelta(days=i) for i in range(1, horizon + 1)]
        return forecast_frame(
            [self.series] * horizon, days, bands.mean, bands.lo_80, bands.hi_80, bands.lo_95, bands.hi_95
        )

    # -- for subclasses -----------------------------------------------------------------------

    def _fit(self, y: np.ndarray) -> None:
        raise NotImplementedError

    def _refilter(self, y: np.ndarray, fitted: Forecaster) -> None:
        self._fit(y)

    def _predict(self, horizon: int) -> Bands:
        raise NotImplementedError

    # -- helpers ----------------------------------------------------------------------------------

    def _prepare(self, history: pl.DataFrame) -> None:
        full = daily_calendar(history, self.fill)
        self.dates_: pl.Series = full["ds"]
        self.y_: np.ndarray = full["y"].to_numpy().astype(float)
        self.start_: date = self.dates_[0]
        self.end_: date = self.dates_[-1]
        self.n_obs_: int = len(self.y_)
        self.note_: str = ""
        self.constant_: bool = False
        self.fallback_: Forecaster | None = None

    def _constant_history(self) -> bool:
        if np.ptp(self.y_) == 0:
            self.constant_ = True
            self.note_ = f"constant history ({self.y_[0]:g} every day): flat forecast, no interval width"
        return self.constant_

    def _estimate(self, step: Callable[[], None]) -> None:
        """Run one estimation step without warnings; when it fails, fall back visibly rather than fail the run."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                step()
        except Exception as exc:  # any estimation failure
            if self.fallback_class is None:
                raise
            fallback = self.fallback_class(self.series, fill=self.fill)
            fallback._prepare(pl.DataFrame({"ds": self.dates_, "y": self.y_}))
            fallback._fit(self.y_)
            self.fallback_ = fallback
            self.note_ = f"{self.name} could not be estimated ({exc or type(exc).__name__}): seasonal naive used"


def forecast_frame(
    series: Sequence[str],
    days: Sequence[date],
    mean: np.ndarray,
    lo_80: np.ndarray,
    hi_80: np.ndarray,
    lo_95: np.ndarray,
    hi_95: np.ndarray,
) -> pl.DataFrame:
    """A FORECAST_SCHEMA frame with the output guards: finite, non-negative, lo_95 ≤ lo_80 ≤ mean ≤ hi_80 ≤ hi_95."""
    mean = np.nan_to_num(np.asarray(mean, dtype=float), nan=0.0, posinf=0.0, neginf=0.0)
    mean = np.clip(mean, 0.0, None)

    def bound(values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=float)
        return np.clip(np.where(np.isfinite(values), values, mean), 0.0, None)

    lo_80 = np.minimum(bound(lo_80), mean)
    hi_80 = np.maximum(bound(hi_80), mean)
    lo_95 = np.minimum(bound(lo_95), lo_80)
    hi_95 = np.maximum(bound(hi_95), hi_80)
    return pl.DataFrame(
        {
            "series": list(series),
            "ds": list(days),
            "mean": mean,
            "lo_80": lo_80,
            "hi_80": hi_80,
            "lo_95": lo_95,
            "hi_95": hi_95,
        },
        schema=FORECAST_SCHEMA,
    )


# ---------------------------------------------------------------------------------------------
# Estimated models: log1p scale and Gaussian bands
# ---------------------------------------------------------------------------------------------


class GaussianForecaster(Forecaster):
    """Base of the estimated models: fitted on `log1p(y)` (default) or on `y`, Gaussian on that scale.

    `transform="none"` fits on the raw counts. `bias_adjust`: the point forecast is the mean of
    the predictive distribution mapped back to counts (else its median).
    """

    def __init__(
        self, series: str = "total", *, transform: Transform = "log1p", bias_adjust: bool = True, fill: Fill = "zero"
    ) -> None:
        super().__init__(series, fill=fill)
        self.transform = transform
        self.bias_adjust = bias_adjust

    def _model_scale(self, y: np.ndarray) -> np.ndarray:
        """`y` on the scale the model is fitted on."""
        if self.transform == "log1p":
            return np.log1p(np.clip(y, 0.0, None))
        if self.transform == "none":
            return y
        raise ValueError(f"transform must be 'log1p' or 'none', not {self.transform!r}")

    def _gaussian_bands(self, mu: np.ndarray, var: np.ndarray) -> Bands:
        """Bands of a Gaussian predictive distribution on the model scale, mapped back to counts.

        On the log scale the quantiles map back exactly with `expm1`; the point forecast is the
        log-normal mean `exp(mu + var/2) - 1` when `bias_adjust` (else the median `expm1(mu)`).
        """
        sd = np.sqrt(np.clip(var, 0.0, None))
        if self.transform == "none":
            back = np.asarray
            mean = mu
        else:
            back = np.expm1
            mean = np.expm1(mu + 0.5 * sd**2) if self.bias_adjust else np.expm1(mu)
        return Bands(
            mean=np.asarray(mean),
            lo_80=back(mu - Z80 * sd),
            hi_80=back(mu + Z80 * sd),
            lo_95=back(mu - Z95 * sd),
            hi_95=back(mu + Z95 * sd),
        )
