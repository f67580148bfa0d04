"""Calendar regression: trend + weekday + yearly Fourier + holidays/events, with AR errors."""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache, lru_cache
from typing import ClassVar

import numpy as np
import polars as pl

from forecasting.models.base import Bands, Fill, GaussianForecaster, Transform, weekday_names
from forecasting.models.baselines import SeasonalNaive

TERMS_BLOCK = 366
"""Open days by which the span of cached deterministic terms grows (see `_calendar_terms`)."""

# How each kind of event enters the regression.
EVENT_EFFECTS: dict[str, str] = {
    "holiday": "recurring",  # one dummy per holiday title, repeated on the same day every year
    "model_launch": "step",  # a level shift from the launch day on
    "policy_change": "step",
    "product_launch": "step",
    "news_event": "pulse",  # a dummy over the event days (absorbs the spike in the history)
    "outage": "pulse",
}


def event_regressors(events: pl.DataFrame | None, days: list[date], min_days: int = 7) -> dict[str, np.ndarray]:
    """0/1 regressors for `days` from an events table (`start`, `end`, `kind`, `title`).

    * `holiday`: one dummy per title, on the event's days (inclusive `end`; empty = one day). A
      year without an explicit row for that title repeats the nearest listed occurrence on the
      same month and day, so a fixed-date holiday seen last year is expected again.
    * `model_launch`, `policy_change`, `product_launch`: a step (0 before `start`, 1 from it).
    * `news_event`, `outage`: a pulse over the event's days.

    Kinds not in `EVENT_EFFECTS` are ignored. The caller drops columns that do not vary in the
    training window (effects that cannot be estimated).
    """
    if events is None or events.height == 0 or not days:
        return {}
    day_index = {d: i for i, d in enumerate(days)}
    ordinals = np.fromiter((d.toordinal() for d in days), dtype=np.int64, count=len(days))
    years = sorted({d.year for d in days})
    n = len(days)
    out: dict[str, np.ndarray] = {}

    def mark(column: np.ndarray, first: date, last: date) -> None:
        d = first
        while d <= last:
            i = day_index.get(d)
            if i is not None:
                column[i] = 1.0
            d += timedelta(days=1)

    def column(name: str, dtype: pl.DataType) -> pl.Expr:
        # Optional columns of the events contract may be absent from a caller's frame.
        return pl.col(name).cast(dtype) if name in events.columns else pl.lit(None, dtype=dtype)

    rows = events.select(
        column("start", pl.Date()).alias("start"),
        pl.coalesce(column("end", pl.Date()), column("start", pl.Date())).alias("end"),
        column("kind", pl.String()).alias("kind"),
        column("title", pl.String()).alias("title"),
    ).filter(pl.col("start").is_not_null())
    holidays: dict[str, list[tuple[date, date]]] = {}
    for start, end, kind, title in rows.iter_rows():
        effect = EVENT_EFFECTS.get(kind or "")
        end = max(end, start)
        if effect == "recurring":
            holidays.setdefault(title or "holiday", []).append((start, end))
        elif effect == "step":
            out[f"step: {title}"] = (ordinals >= start.toordinal()).astype(float)
        elif effect == "pulse":
            column = np.zeros(n)
            mark(column, start, end)
            out[f"pulse: {title}"] = column
    for title, spans in holidays.items():
        column = np.zeros(n)
        listed = {s.year for s, _ in spans}
        for start, end in spans:
            mark(column, start, end)
        for year in years:
            if year in listed:
                continue
            start, end = min(spans, key=lambda span: abs(span[0].year - year))
            moved = _same_day_in(start, year)
            if moved is not None:
                mark(column, moved, moved + (end - start))
        out[f"holiday: {title}"] = column
    return out


def _same_day_in(day: date, year: int) -> date | None:
    try:
        return day.replace(year=year)
    except ValueError:  # 29 February
        return None


class CalendarRegression(GaussianForecaster):
    """Regression on the calendar with autoregressive errors (statsmodels `AutoReg` with exog).

    Fitted on the open days only (closed weekdays are dropped; the index is daily, or business
    days with the open weekdays as week mask). Deterministic terms (statsmodels
    `DeterministicProcess`): constant, linear trend, weekday dummies (`Seasonality(season_)`) and
    yearly Fourier terms (`CalendarFourier("YE", yearly_order)`, only with ≥ `min_yearly_days` of
    history). Exogenous 0/1 regressors from `events` (see `event_regressors`): recurring holidays,
    steps for model launches and policy changes, pulses for news events. Autoregressive lags
    `ar_lags` (in open days) plus the same weekday a week before (`season_` open days back)
    absorb the persistent day-to-day deviations. Fitted by OLS on `log1p(y)` (default); intervals
    are the model's prediction intervals (innovation variance propagated through the AR lags; the
    variance uses the degrees-of-freedom correction `n / (n - k)` for the k estimated coefficients).
    """

    name: ClassVar[str] = "seasonal_regression"
    fallback_class = SeasonalNaive

    def __init__(
        self,
        series: str = "total",
        *,
        events: pl.DataFrame | None = None,
        yearly_order: int = 3,
        min_yearly_days: int = 365,
        trend: bool = True,
        ar_lags: tuple[int, ...] = (1, 2),
        transform: Transform = "log1p",
        bias_adjust: bool = True,
        fill: Fill = "zero",
    ):
        super().__init__(series, transform=transform, bias_adjust=bias_adjust, fill=fill)
        self.events = events
        self.yearly_order = yearly_order
        self.min_yearly_days = min_yearly_days
        self.trend = trend
        self.ar_lags = ar_lags

    def _index(self, first: date, periods: int):
        """`periods` open days from `first` as a pandas index with a frequency (days, or business days)."""
        return _open_day_index(first, self.weekdays_, periods)

    def _lags(self) -> list[int]:
        return sorted({*self.ar_lags, self.season_})

    def _event_columns(self, periods: int) -> dict[str, np.ndarray]:
        """`event_regressors` of the first `periods` open days from the history's first day: rows of one computation
        over the span the deterministic terms use (every fold of a backtest, and its forecast, starts on that day)."""
        if self.events is None or self.events.height == 0:
            return {}
        span = _terms_span(self.n_obs_)
        if periods > span:
            return event_regressors(self.events, _open_days(self.start_, self.weekdays_, periods))
        columns = _span_event_columns(_Identity(self.events), self.start_, self.weekdays_, span)
        return {name: column[:periods] for name, column in columns.items()}

    def _fit(self, y: np.ndarray) -> None:
        import pandas as pd
        from statsmodels.tsa.ar_model import AutoReg

        n = len(y)
        if n < 2 * self.season_ + max(self._lags()):
            raise ValueError("too short for the calendar regression")
        index = self._index(self.start_, n)
        notes = []
        yearly_order = self.yearly_order if n >= self.min_yearly_days else 0
        if self.yearly_order > 0 and not yearly_order:
            notes.append(f"less than {self.min_yearly_days} days of history: no yearly seasonality")
        # Every fold of a backtest starts on the same day: the terms of a longer span, computed once, serve them all.
        span = _terms_span(n)
        terms = _calendar_terms(self.start_, self.weekdays_, span, self.trend, yearly_order)
        self.process_ = _sliced_process()(index, terms, **_process_options(self.season_, self.trend, yearly_order))
        regressors = self._event_columns(n)
        kept: dict[str, np.ndarray] = {}
        seen: set[bytes] = set()
        for name, column in regressors.items():
            key = column.tobytes()
            # Unestimable (constant in the window, e.g. a launch after the history ends) or a
            # duplicate of another column: drop it.
            if np.ptp(column) == 0 or column.sum() < 1 or key in seen:
                continue
            seen.add(key)
            kept[name] = column
        self.exog_names_: list[str] = list(kept)
        exog = pd.DataFrame(kept, index=index) if kept else None
        z = pd.Series(self._model_scale(y), index=index)
        model = AutoReg(z, lags=self._lags(), trend="n", deterministic=self.process_, exog=exog)
        self.result_ = model.fit()
        if not np.all(np.isfinite(self.result_.params)):
            raise ValueError("non-finite regression estimates")
        self.params_ = self.result_.params
        k = len(self.result_.params)
        nobs = int(self.result_.nobs)
        self.df_correction_: float = nobs / max(nobs - k, 1)
        self.note_ = "; ".join(notes)

    def _predict(self, steps: int) -> Bands:
        import pandas as pd

        n = self.n_obs_
        exog_oos = None
        if self.exog_names_:
            ahead = self._future_days(steps)
            future = self._event_columns(n + steps)
            # News events and outages are unplanned: they explain past spikes, but the forecast
            # never assumes one continues or recurs. Holidays and launches are planned and known.
            exog_oos = pd.DataFrame(
                {name: np.zeros(steps) if name.startswith("pulse:") else future[name][n:] for name in self.exog_names_},
                index=self._index(ahead[0], steps),
            )
        prediction = self.result_.get_prediction(start=n, end=n + steps - 1, exog_oos=exog_oos)
        mu = np.asarray(prediction.predicted_mean)
        var = np.asarray(prediction.var_pred_mean) * self.df_correction_
        return self._gaussian_bands(mu, var)


def _open_day_index(first: date, weekdays: tuple[int, ...], periods: int):
    """`periods` open days from `first` as a pandas index with a frequency (days, or business days)."""
    import pandas as pd

    if len(weekdays) == 7:
        freq = "D"
    else:
        freq = pd.offsets.CustomBusinessDay(weekmask=weekday_names(weekdays).replace(",", ""))
    return pd.date_range(pd.Timestamp(first), periods=periods, freq=freq)


def _process_options(season: int, trend: bool, yearly_order: int) -> dict:
    """The deterministic terms of the regression (`DeterministicProcess` options): constant, linear trend, weekday
    dummies and, when `yearly_order` > 0, yearly Fourier terms."""
    from statsmodels.tsa.deterministic import CalendarFourier

    extra = [CalendarFourier(freq="YE", order=yearly_order)] if yearly_order > 0 else []
    return {"constant": True, "order": 1 if trend else 0, "seasonal": True, "period": season, "additional_terms": extra}


def _terms_span(n: int) -> int:
    """Open days of the cached terms and event regressors for a history of `n` open days: whole blocks past it, so
    every fold of a backtest and its forecast read one computation."""
    return -(-(n + 1) // TERMS_BLOCK) * TERMS_BLOCK + TERMS_BLOCK


def _open_days(first: date, weekdays: tuple[int, ...], periods: int) -> list[date]:
    """`periods` open days from `first` (as `_open_day_index`) as dates."""
    return [ts.date() for ts in _open_day_index(first, weekdays, periods)]


class _Identity:
    """A key that is its object's identity, holding the object (so the identity is not reused while it is a key)."""

    __slots__ = ("obj",)

    def __init__(self, obj: object) -> None:
        self.obj = obj

    def __hash__(self) -> int:
        return id(self.obj)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Identity) and other.obj is self.obj


@lru_cache(maxsize=32)
def _span_event_columns(
    events: _Identity, first: date, weekdays: tuple[int, ...], periods: int
) -> dict[str, np.ndarray]:
    """`event_regressors` of the `periods` open days from `first` (each day's value depends on that day alone, so a
    shorter history's columns are their first rows). Read-only: callers slice, never write."""
    columns = event_regressors(events.obj, _open_days(first, weekdays, periods))
    for column in columns.values():
        column.flags.writeable = False
    return columns


@lru_cache(maxsize=32)
def _calendar_terms(first: date, weekdays: tuple[int, ...], periods: int, trend: bool, yearly_order: int):
    """The deterministic terms (a pandas frame) of the `periods` open days from `first`.

    Each term is a function of the day's position from `first` (constant, trend, weekday) or of its date (Fourier),
    so the terms of a shorter history from the same day, and of the days after it, are rows of this frame: the
    backtest's folds and the final fit of one series share one computation (pandas calendar arithmetic, ~4 ms).
    """
    from statsmodels.tsa.deterministic import DeterministicProcess

    index = _open_day_index(first, weekdays, periods)
    return DeterministicProcess(index, **_process_options(len(weekdays), trend, yearly_order)).in_sample()


@cache
def _sliced_process() -> type:
    """A `DeterministicProcess` that reads its terms from `_calendar_terms` rows instead of computing them.

    In and out of sample give the same numbers as the parent class (see `_calendar_terms`); a forecast past the
    precomputed rows, or on another index, is computed as usual. Built on first use: statsmodels loads lazily.
    """
    from statsmodels.tsa.deterministic import DeterministicProcess

    class SlicedProcess(DeterministicProcess):
        def __init__(self, index, terms, **options) -> None:
            super().__init__(index, **options)
            self._terms = terms

        def in_sample(self):
            return self._terms.iloc[: len(self.index)].set_axis(self.index)

        def out_of_sample(self, steps: int, forecast_index=None):
            n = len(self.index)
            if forecast_index is not None or n + steps > len(self._terms):
                return super().out_of_sample(steps, forecast_index)
            return self._terms.iloc[n : n + steps]

    return SlicedProcess
