"""Forecasting models: one contract for every model, plus the specifics of each; intraday split."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from forecasting.intraday import intraday_profile, split_intraday
from forecasting.models import (
    FORECAST_SCHEMA,
    MODELS,
    CalendarRegression,
    SeasonalNaive,
    daily_calendar,
    event_regressors,
    fallback_model,
    make_model,
)
from queries.engines.base import arrival_counts

START = date(2024, 1, 1)  # a Monday


def history(n: int, *, level: float = 50.0, seed: int = 1, start: date = START, yearly: float = 0.0) -> pl.DataFrame:
    """Poisson counts with a weekly pattern (weekends higher) and an optional yearly wave."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    weekly = 1.0 + 0.3 * np.isin(t % 7, (5, 6))
    wave = np.exp(yearly * np.sin(2 * np.pi * t / 365.25))
    y = rng.poisson(level * weekly * wave).astype(float)
    return pl.DataFrame({"ds": [start + timedelta(days=int(i)) for i in t], "y": y})


def with_gaps(frame: pl.DataFrame, every: int = 9) -> pl.DataFrame:
    return frame.with_row_index().filter(pl.col("index") % every != 4).drop("index")


CASES = {
    "regular": history(140),
    "gaps": with_gaps(history(140)),
    "short": history(10),
    "all_zero": history(60).with_columns(pl.lit(0.0).alias("y")),
    "sparse": history(120, level=0.3),
    "weekdays": history(140).filter(pl.col("ds").dt.weekday() <= 5),  # no weekend rows: closed on weekends
}
CLOSED = {"weekdays": (6, 7)}  # ISO weekdays each case is closed on


def check_forecast(frame: pl.DataFrame, horizon: int, last_day: date, closed: tuple[int, ...] = ()) -> None:
    assert frame.schema == pl.Schema(FORECAST_SCHEMA)
    days = [last_day + timedelta(days=i) for i in range(1, horizon + 1)]
    assert frame["ds"].to_list() == [d for d in days if d.isoweekday() not in closed]  # rows for open days only
    values = frame.select("lo_95", "lo_80", "mean", "hi_80", "hi_95").to_numpy()
    assert np.isfinite(values).all()
    assert (values >= 0).all()
    assert (np.diff(values, axis=1) >= 0).all(), "bounds must be ordered lo_95 ≤ lo_80 ≤ mean ≤ hi_80 ≤ hi_95"


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("case", sorted(CASES))
def test_every_model_meets_the_contract(name: str, case: str) -> None:
    data, closed = CASES[case], CLOSED.get(case, ())
    model = make_model(name, "s")
    assert model.fit(data) is model
    first = model.predict(21)
    check_forecast(first, 21, data["ds"].max(), closed)
    assert first["series"].unique().to_list() == ["s"]
    assert model.weekdays_ == tuple(d for d in range(1, 8) if d not in closed)
    calendar = pl.date_range(data["ds"].min(), data["ds"].max(), eager=True)
    assert model.n_obs_ == calendar.dt.weekday().is_in(model.weekdays_).sum()  # gaps filled, closed days left out
    if case in ("regular", "gaps", "weekdays"):
        assert model.fallback_ is None, model.note_  # estimated for real, not a silent fallback
    again = make_model(name, "s").fit(data).predict(21)
    assert_frame_equal(first, again)  # deterministic
    if case == "all_zero":
        assert (first["hi_95"] == 0).all()
        assert "constant" in model.note_


def test_unfitted_model_and_bad_horizon_raise() -> None:
    with pytest.raises(RuntimeError):
        SeasonalNaive().predict(3)
    with pytest.raises(ValueError):
        SeasonalNaive().fit(history(30)).predict(0)
    with pytest.raises(ValueError):
        SeasonalNaive().fit(pl.DataFrame({"ds": [], "y": []}, schema={"ds": pl.Date, "y": pl.Float64}))


def test_seasonal_naive_repeats_last_week_and_widens_by_sqrt_seasons() -> None:
    data = history(63)
    y = data["y"].to_numpy()
    frame = SeasonalNaive().fit(data).predict(14)
    expected = [y[-7 + (h % 7)] for h in range(14)]  # each day = the same weekday a week before
    assert frame["mean"].to_list() == expected
    errors = y[7:] - y[:-7]
    q90 = np.quantile(errors, 0.90)
    # Second week ahead: the first week's error quantile times sqrt(2) (unless clipped at 0).
    assert frame["hi_80"][0] - frame["mean"][0] == pytest.approx(q90)
    assert frame["hi_80"][7] - frame["mean"][7] == pytest.approx(q90 * math.sqrt(2))


def test_daily_calendar_fills_gaps_by_choice() -> None:
    frame = pl.DataFrame({"ds": [date(2025, 1, 1), date(2025, 1, 4), date(2025, 1, 4)], "y": [2.0, 8.0, 1.0]})
    zero = daily_calendar(frame, "zero")
    assert zero["y"].to_list() == [2.0, 0.0, 0.0, 9.0]  # missing days are zero-count days, duplicates summed
    interpolated = daily_calendar(frame, "interpolate")
    np.testing.assert_allclose(interpolated["y"].to_numpy(), [2.0, 2 + 7 / 3, 2 + 14 / 3, 9.0])
    extended = daily_calendar(frame, "zero", end=date(2025, 1, 6))
    assert extended["y"].to_list()[-2:] == [0.0, 0.0]


def test_fill_option_changes_what_the_model_sees() -> None:
    data = with_gaps(history(70), every=5)
    assert SeasonalNaive(fill="zero").fit(data).y_.min() == 0.0
    assert SeasonalNaive(fill="interpolate").fit(data).y_.min() > 0.0


def test_fallback_rule_for_short_and_sparse_series() -> None:
    assert fallback_model(np.ones(10))[0] == "seasonal_naive"
    name, note = fallback_model(np.r_[np.zeros(40), np.ones(20)])
    assert name == "recent_mean" and "zero" in note
    assert fallback_model(history(60)["y"].to_numpy()) is None


def test_make_model_passes_only_accepted_options() -> None:
    model = make_model("seasonal_naive", "x", events=pl.DataFrame(), season=7)
    assert isinstance(model, SeasonalNaive)
    with pytest.raises(KeyError):
        make_model("prophet")


EVENTS = pl.DataFrame(
    {
        "start": [date(2024, 12, 25), date(2024, 3, 1), date(2024, 5, 10)],
        "end": [None, None, date(2024, 5, 12)],
        "kind": ["holiday", "model_launch", "news_event"],
        "title": ["Christmas", "Detector v2", "Storm"],
    },
    schema_overrides={"end": pl.Date},
)


def test_event_regressors_recur_holidays_and_shape_steps_and_pulses() -> None:
    days = [date(2024, 1, 1) + timedelta(days=i) for i in range(800)]
    x = event_regressors(EVENTS, days)
    on = {name: [days[i] for i in np.flatnonzero(column)] for name, column in x.items()}
    assert on["holiday: Christmas"] == [date(2024, 12, 25), date(2025, 12, 25)]  # repeated next year
    assert on["step: Detector v2"][0] == date(2024, 3, 1) and on["step: Detector v2"][-1] == days[-1]
    assert on["pulse: Storm"] == [date(2024, 5, 10), date(2024, 5, 11), date(2024, 5, 12)]
    one_day = event_regressors(EVENTS.drop("end"), days)  # optional columns may be missing
    assert one_day["pulse: Storm"].sum() == 1


def test_calendar_regression_learns_a_recurring_holiday_and_ignores_future_pulses() -> None:
    data = history(730, level=100.0, seed=3)
    lift = data["ds"].dt.strftime("%m-%d") == "12-25"
    data = data.with_columns(pl.when(lift).then(pl.col("y") * 3).otherwise(pl.col("y")).alias("y"))
    end = data["ds"].max()  # 2025-12-30: next Christmas is out of the horizon, test via a cut
    cut = data.filter(pl.col("ds") <= date(2025, 12, 20))
    future_storm = pl.DataFrame(
        {"start": [date(2025, 12, 22)], "end": [date(2025, 12, 23)], "kind": ["news_event"], "title": ["Future"]},
    )
    model = CalendarRegression(events=pl.concat([EVENTS, future_storm], how="diagonal_relaxed")).fit(cut)
    frame = model.predict(10)
    christmas = frame.filter(pl.col("ds") == date(2025, 12, 25))["mean"][0]
    others = frame.filter(pl.col("ds") != date(2025, 12, 25))["mean"].mean()
    assert christmas > 2 * others
    assert "holiday: Christmas" in model.exog_names_
    assert not any(name.startswith("pulse: Future") for name in model.exog_names_)  # unestimable: dropped
    assert end > cut["ds"].max()


def test_calendar_regression_notes_missing_yearly_seasonality_on_short_history() -> None:
    model = CalendarRegression().fit(history(120))
    assert "yearly" in model.note_


# ---------------------------------------------------------------------------------------------
# Intraday
# ---------------------------------------------------------------------------------------------


def arrivals(days: int = 28, seed: int = 5) -> pl.Series:
    rng = np.random.default_rng(seed)
    base = datetime(2025, 3, 3)  # Monday
    minutes = rng.normal(20 * 60, 120, size=days * 200).clip(0, 24 * 60 - 1)  # evening peak
    day = np.repeat(np.arange(days), 200)
    stamps = [base + timedelta(days=int(d), minutes=float(m)) for d, m in zip(day, minutes, strict=True)]
    return pl.Series("created_at", stamps, dtype=pl.Datetime("us"))


def test_split_intraday_adds_back_to_the_daily_forecast() -> None:
    daily = SeasonalNaive("total").fit(history(60)).predict(5)
    halves = split_intraday(daily, intraday_profile(arrival_counts(arrivals().to_frame().lazy()), weeks=4))
    assert halves.height == 5 * 48
    assert halves["interval_start"].dt.minute().unique().sort().to_list() == [0, 30]
    summed = (
        halves.group_by(pl.col("interval_start").dt.date().alias("ds"))
        .agg(pl.col("mean", "lo_80", "hi_95").sum())
        .sort("ds")
    )
    for column in ("mean", "lo_80", "hi_95"):
        np.testing.assert_allclose(summed[column].to_numpy(), daily[column].to_numpy(), rtol=1e-12)


@pytest.mark.parametrize("name", ["ets", "seasonal_regression"])
def test_an_estimation_failure_falls_back_to_seasonal_naive_with_a_note(name: str) -> None:
    rng = np.random.default_rng(1)
    data = pl.DataFrame(
        {"ds": [date(2024, 1, 1) + timedelta(days=i) for i in range(120)], "y": rng.poisson(50, 120) * 1.0}
    )
    model = make_model(name, "s", transform="bogus").fit(data)  # the transform check raises inside the fit
    assert isinstance(model.fallback_, SeasonalNaive)
    assert model.note_.startswith(f"{name} could not be estimated (transform must be")
    assert model.predict(14).equals(SeasonalNaive("s").fit(data).predict(14))
    again = make_model(name, "s", transform="bogus").refit_like(data.head(100), model)  # a later fold refits
    assert isinstance(again.fallback_, SeasonalNaive)


@pytest.mark.parametrize("closed", [(), (6, 7)])
def test_calendar_regression_terms_are_the_same_read_from_a_longer_span(closed: tuple[int, ...]) -> None:
    """The deterministic terms a fit reads from a cached longer span (`_calendar_terms`) equal the ones statsmodels
    computes for its own index, in sample and for the forecast days: the forecasts are identical."""
    from statsmodels.tsa.deterministic import DeterministicProcess

    from forecasting.models.calendar_regression import _calendar_terms, _process_options

    frame = history(800, yearly=0.3).with_columns(
        pl.when(pl.col("ds").dt.weekday().is_in(list(closed))).then(0.0).otherwise(pl.col("y")).alias("y")
    )
    model = CalendarRegression().fit(frame.head(600))  # ≥ 365 open days: yearly terms too
    own = DeterministicProcess(model.process_.index, **_process_options(model.season_, True, 3))
    assert len(_calendar_terms(model.start_, model.weekdays_, 1098, True, 3)) == 1098  # longer than the history
    assert np.array_equal(model.process_.in_sample().to_numpy(), own.in_sample().to_numpy())
    assert np.array_equal(model.process_.out_of_sample(40).to_numpy(), own.out_of_sample(40).to_numpy())
    _calendar_terms.cache_clear()
    assert_frame_equal(CalendarRegression().fit(frame.head(600)).predict(56), model.predict(56))


@pytest.mark.parametrize("closed", [(), (6, 7)])
def test_calendar_regression_event_columns_are_the_same_read_from_a_longer_span(closed: tuple[int, ...]) -> None:
    """The event regressors a fit and its forecast read from a cached span (`_span_event_columns`) equal
    `event_regressors` of their own open days, across a year with a holiday listed once (repeated the next year)."""
    from forecasting.models.calendar_regression import _span_event_columns, _terms_span, event_regressors

    frame = history(800, yearly=0.3).with_columns(
        pl.when(pl.col("ds").dt.weekday().is_in(list(closed))).then(0.0).otherwise(pl.col("y")).alias("y")
    )
    start = frame["ds"][0]
    events = pl.DataFrame(
        {
            "start": [start + timedelta(days=d) for d in (40, 200, 420)],
            "end": [start + timedelta(days=d) for d in (40, 203, 420)],
            "kind": ["holiday", "news_event", "policy_change"],
            "title": ["Founders day", "Outage wave", "New rules"],
        }
    )
    model = CalendarRegression(events=events).fit(frame.head(500))
    days = model.dates_.to_list()
    ahead = model._future_days(60)
    assert _terms_span(len(days)) > len(days) + 60  # the forecast's days are read from the cached span too
    for periods, own_days in ((len(days), days), (len(days) + 60, days + ahead)):
        cached, own = model._event_columns(periods), event_regressors(events, own_days)
        assert cached.keys() == own.keys() and len(own) == 3
        for name, column in own.items():
            assert np.array_equal(cached[name], column), name
    _span_event_columns.cache_clear()
    assert_frame_equal(CalendarRegression(events=events).fit(frame.head(500)).predict(60), model.predict(60))


def test_counted_open_days_of_a_calendar_prefix_equal_open_days() -> None:
    """A zero-filled calendar's first days (a backtest fold's window) give the same open days and closed weekdays
    without re-indexing (`counted_open_days`) as through `open_days`; weekends count as closed only after 4 weeks."""
    from forecasting.models import counted_open_days, open_days

    weekends_off = pl.when(pl.col("ds").dt.weekday() >= 6).then(0.0).otherwise(pl.col("y")).alias("y")
    calendar = daily_calendar(with_gaps(history(120).with_columns(weekends_off)))
    for cut, weekdays in ((20, (1, 2, 3, 4, 5, 6, 7)), (60, (1, 2, 3, 4, 5)), (120, (1, 2, 3, 4, 5))):
        fast, slow = counted_open_days(calendar.head(cut)), open_days(calendar.head(cut))
        assert fast.weekdays == slow.weekdays == weekdays
        assert_frame_equal(fast.calendar, slow.calendar)
        assert fast.ds.to_list() == slow.ds.to_list() and np.array_equal(fast.y, slow.y) and fast.end == slow.end
