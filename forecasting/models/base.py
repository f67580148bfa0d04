"""The estimator contract every model implements (see the package notes for the rules).

The output schema and its guards (`FORECAST_SCHEMA`, `forecast_frame`), the regular daily
calendar (`daily_calendar`), the weekdays a series is closed on (`closed_weekdays`) and the
series on its open days (`open_days`), the fallback rule (`fallback_reason`), the base class
`Forecaster` (fit, re-filter, predict, visible fallback) and `GaussianForecaster`, the base of
the estimated models: fitted on `log1p(y)` (default) with Gaussian bands mapped back to counts,
checked against the data's range.
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

WEEKDAYS: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7)
"""ISO weekdays, 1 = Monday … 7 = Sunday (Polars' `dt.weekday()`, Python's `date.isoweekday()`)."""
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MIN_CLOSED_WEEKS = 4
"""A weekday is called closed only after at least this many of its days without events."""
CLOSED_CHANCE = 0.001
"""... and only if that many zero days in a row would happen by chance less often than this on an open day."""
RANGE_MULTIPLE = 10.0
"""A fitted model's forecast (mean or 95 % bound) above this multiple of the history's highest day has left the
data's range: the model is not used (see `GaussianForecaster`)."""


# ---------------------------------------------------------------------------------------------
# History preparation
# ---------------------------------------------------------------------------------------------


def daily_calendar(
    history: pl.DataFrame, fill: Fill = "zero", end: date | None = None, closed: Sequence[int] = ()
) -> pl.DataFrame:
    """Reindex `history` (`ds`, `y`) to one row per day from its first day to `end` (default: its last).

    `fill="zero"`: a missing day had no events (counts). `fill="interpolate"`: a missing day was
    not observed; linear interpolation between its neighbours on the open days (edges take the
    nearest value). Days on `closed` ISO weekdays are 0 (see `closed_weekdays`) and are not
    interpolated through. Duplicate days are summed; null `y` values count as missing days.
    """
    frame = _usable_days(history)
    first = frame["ds"].min()
    last = frame["ds"].max() if end is None else max(end, frame["ds"].max())
    calendar = pl.DataFrame({"ds": pl.date_range(first, last, interval="1d", eager=True)})
    full = calendar.join(frame, on="ds", how="left")
    is_closed = pl.col("ds").dt.weekday().is_in(list(closed))
    if fill == "zero":
        return full.with_columns(pl.when(is_closed).then(0.0).otherwise(pl.col("y").fill_null(0.0)).alias("y"))
    if fill == "interpolate":
        open_days = full.filter(~is_closed).with_columns(pl.col("y").interpolate().forward_fill().backward_fill())
        return pl.concat([open_days, full.filter(is_closed).with_columns(pl.lit(0.0).alias("y"))]).sort("ds")
    raise ValueError(f"fill must be 'zero' or 'interpolate', not {fill!r}")


def _usable_days(history: pl.DataFrame) -> pl.DataFrame:
    """The rows of `history` with a date and a finite value, summed per day, sorted (at least one)."""
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
    return frame


def closed_weekdays(history: pl.DataFrame) -> tuple[int, ...]:
    """The ISO weekdays (1 = Monday … 7 = Sunday) on which the series is closed: no events in any week.

    A missing day counts as a day without events. A weekday is closed when none of its days has
    events, there are at least `MIN_CLOSED_WEEKS` of them, and a run that long of days without events
    would be rare on the open days: (share of open days without events) ** (its number of days) <
    `CLOSED_CHANCE`. So a weekday-only operation's weekends are closed after 4 weeks, while a sparse
    series (mostly zero days) needs many more weeks of zeros before a weekday counts as closed.
    A series without any events is open every day.
    """
    return _closed_in(daily_calendar(history, "zero"))


def _closed_in(counts: pl.DataFrame) -> tuple[int, ...]:
    """`closed_weekdays` of a zero-filled daily calendar (`ds`, `y`: one row per day, in order)."""
    y = counts["y"].to_numpy()
    weekday = (counts["ds"][0].isoweekday() - 1 + np.arange(len(y))) % 7 + 1 if len(y) else np.empty(0, int)
    days = {d: int(np.sum(weekday == d)) for d in WEEKDAYS}
    active = [d for d in WEEKDAYS if np.any(y[weekday == d] != 0)]
    if not active:
        return ()
    zero_share = float(np.mean(y[np.isin(weekday, active)] == 0))
    quiet = [d for d in WEEKDAYS if d not in active and days[d] >= MIN_CLOSED_WEEKS]
    return tuple(d for d in quiet if zero_share ** days[d] < CLOSED_CHANCE)


@dataclass(frozen=True)
class OpenDays:
    """A daily series on its calendar: every day (`calendar`: `ds`, `y`; closed days 0) and its open days only.

    Models are fitted on the open days (`ds`, `y`): a closed day is neither a zero nor training data,
    and the weekly season is `season` open days long (5 for a Monday-to-Friday operation).
    """

    calendar: pl.DataFrame  # every day from the first to `end`
    ds: pl.Series  # the open days
    y: np.ndarray  # their values
    weekdays: tuple[int, ...]  # the open ISO weekdays
    end: date  # the last calendar day (may be a closed day)

    @property
    def season(self) -> int:
        """Open days in a week: the weekly season on the open-day index."""
        return len(self.weekdays)

    def days_after(self, horizon: int) -> list[date]:
        """The open days among the `horizon` calendar days after `end` (the forecast's rows)."""
        days = (self.end + timedelta(days=i) for i in range(1, horizon + 1))
        return [d for d in days if d.isoweekday() in self.weekdays]

    def next_open(self, count: int) -> list[date]:
        """The next `count` open days after `end`."""
        return self.days_after(-(-count // self.season) * 7)[:count]


def open_days(history: pl.DataFrame, fill: Fill = "zero", end: date | None = None) -> OpenDays:
    """`history` (`ds`, `y`) on its daily calendar to `end`, with its closed weekdays (`closed_weekdays`) set apart."""
    counts = daily_calendar(history, "zero", end)
    if fill == "zero":
        return counted_open_days(counts)
    closed = _closed_in(counts)
    return _split_open(daily_calendar(history, fill, end, closed), closed)


def counted_open_days(counts: pl.DataFrame) -> OpenDays:
    """`open_days(history, "zero")` of a history already on its zero-filled calendar (`daily_calendar(history,
    "zero")`: one row per day, in order), without re-indexing it: e.g. the first days of a longer calendar."""
    return _split_open(counts, _closed_in(counts))


def _split_open(calendar: pl.DataFrame, closed: tuple[int, ...]) -> OpenDays:
    weekdays = tuple(d for d in WEEKDAYS if d not in closed)
    kept = calendar.filter(pl.col("ds").dt.weekday().is_in(weekdays)) if closed else calendar
    return OpenDays(calendar, kept["ds"], kept["y"].to_numpy().astype(float), weekdays, calendar["ds"][-1])


def weekday_names(weekdays: Sequence[int]) -> str:
    """ISO weekdays as short names: (6, 7) → "Sat, Sun"."""
    return ", ".join(WEEKDAY_NAMES[d - 1] for d in weekdays)


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

    Subclasses implement `_fit(y)` on the array of open days `self.y_` (one per open day, weekly
    season `self.season_`) and `_predict(steps)` returning `Bands` for the next `steps` open days.
    Optionally `_refilter(y, fitted)` re-runs a model on new data with the parameters of an already
    fitted one (used by the backtest to avoid re-estimation). A model whose estimation can fail
    names the model used instead in `fallback_class`.
    """

    name: ClassVar[str] = "base"
    fallback_class: ClassVar[type[Forecaster] | None] = None
    """Fitted on the same days when this model cannot be estimated (None: the error is raised)."""

    def __init__(self, series: str = "total", *, fill: Fill = "zero") -> None:
        self.series = series
        self.fill = fill

    # -- public API -----------------------------------------------------------------------------

    def fit(self, history: pl.DataFrame | OpenDays) -> Forecaster:
        """Fit on `history` (`ds` Date, `y` Float64; gaps per `fill`, closed weekdays left out). Returns self.

        `history` may also be that history on its calendar already, `open_days(history, fill)`: then it is not
        prepared again (the backtest prepares each fold's training window once for all its models)."""
        self._prepare(history)
        if not self._constant_history():
            self._estimate(lambda: self._fit(self.y_))
        return self

    def refit_like(self, history: pl.DataFrame | OpenDays, fitted: Forecaster) -> Forecaster:
        """Fit on `history` re-using the estimated parameters of `fitted` where the model allows.

        Models whose estimation is cheap simply refit. ETS re-filters the new data with fixed
        parameters (`ETSModel.smooth`), which costs a fraction of a fit. A fitted model on other
        open weekdays (another season) is refitted.
        """
        self._prepare(history)
        if self._constant_history():
            return self
        usable = getattr(fitted, "fallback_", None) is None and not getattr(fitted, "constant_", False)
        if usable and getattr(fitted, "weekdays_", None) == self.weekdays_:
            self._estimate(lambda: self._refilter(self.y_, fitted))
        else:
            self._estimate(lambda: self._fit(self.y_))
        return self

    def predict(self, horizon: int) -> pl.DataFrame:
        """Forecast the `horizon` calendar days after the last history day: one row per open day (FORECAST_SCHEMA)."""
        if not hasattr(self, "y_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted; call fit(history) first")
        if horizon < 1:
            raise ValueError("horizon must be at least 1")
        days = self.calendar_.days_after(horizon)
        steps = len(days)
        if steps == 0:
            bands = Bands(*(np.empty(0) for _ in range(5)))
        elif self.constant_:
            value = np.full(steps, self.y_[-1])
            bands = Bands(value, value, value, value, value)
        elif self.fallback_ is not None:
            bands = self.fallback_._predict(steps)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                bands = self._predict(steps)
            problem = self._range_problem(bands)
            if problem is not None:
                self._fall_back(problem)
                bands = self.fallback_._predict(steps)
        return forecast_frame(
            [self.series] * steps, days, bands.mean, bands.lo_80, bands.hi_80, bands.lo_95, bands.hi_95
        )

    # -- for subclasses -----------------------------------------------------------------------

    def _fit(self, y: np.ndarray) -> None:
        raise NotImplementedError

    def _refilter(self, y: np.ndarray, fitted: Forecaster) -> None:
        self._fit(y)

    def _predict(self, steps: int) -> Bands:
        raise NotImplementedError

    def _range_problem(self, bands: Bands) -> str | None:
        """Why a forecast cannot be used (then the fallback is), or None. Every forecast can, unless overridden."""
        return None

    def _future_days(self, steps: int) -> list[date]:
        """The dates of the next `steps` open days (what `_predict(steps)` forecasts)."""
        return self.calendar_.next_open(steps)

    # -- helpers ----------------------------------------------------------------------------------

    def _prepare(self, history: pl.DataFrame | OpenDays) -> None:
        self._use_calendar(history if isinstance(history, OpenDays) else open_days(history, self.fill))

    def _use_calendar(self, calendar: OpenDays) -> None:
        self.calendar_: OpenDays = calendar
        self.dates_: pl.Series = calendar.ds
        self.y_: np.ndarray = calendar.y
        self.weekdays_: tuple[int, ...] = calendar.weekdays
        self.season_: int = calendar.season
        self.start_: date = self.dates_[0]
        self.end_: date = calendar.end
        self.n_obs_: int = len(self.y_)
        self.note_: str = ""
        self.constant_: bool = False
        self.fallback_: Forecaster | None = None

    def _constant_history(self) -> bool:
        if np.ptp(self.y_) == 0:
            self.constant_ = True
            self.note_ = f"constant history ({self.y_[0]:g} every open day): flat forecast, no interval width"
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
            self._fall_back(f"{self.name} could not be estimated ({exc or type(exc).__name__})")

    def _fall_back(self, problem: str) -> None:
        """Use `fallback_class`, fitted on the same open days, from now on; the note says why."""
        fallback = self.fallback_class(self.series, fill=self.fill)
        fallback._use_calendar(self.calendar_)
        fallback._fit(self.y_)
        self.fallback_ = fallback
        self.note_ = f"{problem}: {fallback.name.replace('_', ' ')} used"


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

    Range check: on `log1p(y)`, a trend fitted to a few large days after many zeros, or a
    predictive variance of several log units, maps back to absurd counts (1e26 × the history's
    highest day was seen; the log-normal mean grows like exp(variance / 2)). A forecast whose mean
    or 95 % bound exceeds `RANGE_MULTIPLE` × the history's highest day, or is not finite, is not
    used: the fallback model is, and the note says so.
    """

    def __init__(
        self, series: str = "total", *, transform: Transform = "log1p", bias_adjust: bool = True, fill: Fill = "zero"
    ) -> None:
        super().__init__(series, fill=fill)
        self.transform = transform
        self.bias_adjust = bias_adjust

    def _range_problem(self, bands: Bands) -> str | None:
        top = float(np.max(np.r_[bands.mean, bands.hi_95]))
        ceiling = RANGE_MULTIPLE * float(np.max(self.y_))
        if np.isfinite(top) and top <= ceiling:
            return None
        return (
            f"{self.name} forecast left the data's range (up to {top:.3g} a day, more than "
            f"{RANGE_MULTIPLE:g} × the highest day of the history, {np.max(self.y_):g})"
        )

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
