"""Forecasts on real calendars: weekday-only operations, a weekday that never has data, and ETS on zeros."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forecasting.backtest import backtest, forecast_series
from forecasting.models import MODELS, DampedETS, closed_weekdays, make_model
from forecasting.plan import Scenario
from forecasting.planner import ForecastView, LiveQueue, capacity_plan, forecast_view, live_staffing
from queries.demo import generate_demo
from queries.filters import Filters
from queries.metrics import summarize
from queries.sources.dataset import Dataset, load_dataset

START = date(2025, 1, 6)  # a Monday
LEVEL_BY_WEEKDAY = {1: 120.0, 2: 100.0, 3: 95.0, 4: 90.0, 5: 70.0}  # ISO weekday → mean tickets


def weekday_only(weeks: int = 26, *, weekends: str = "absent", seed: int = 1) -> pl.DataFrame:
    """Mon–Fri ticket counts with a weekly pattern and noise; Saturdays and Sundays absent or zero."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(weeks * 7):
        day = START + timedelta(days=i)
        level = LEVEL_BY_WEEKDAY.get(day.isoweekday())
        if level is not None:
            rows.append((day, float(rng.poisson(level * (1 + 0.002 * i)))))
        elif weekends == "zero":
            rows.append((day, 0.0))
    return pl.DataFrame(rows, schema={"ds": pl.Date, "y": pl.Float64}, orient="row")


def closed_on(weekday: int, weeks: int = 20, *, seed: int = 2) -> pl.DataFrame:
    """Seven-day counts (weekends busier) with one ISO weekday that never has tickets."""
    rng = np.random.default_rng(seed)
    days = [START + timedelta(days=i) for i in range(weeks * 7)]
    y = [
        0.0 if d.isoweekday() == weekday else float(rng.poisson(60 * (1.3 if d.isoweekday() > 5 else 1))) for d in days
    ]
    return pl.DataFrame({"ds": days, "y": y})


def days_after(last: date, horizon: int, open_days: set[int]) -> list[date]:
    days = (last + timedelta(days=i) for i in range(1, horizon + 1))
    return [d for d in days if d.isoweekday() in open_days]


# ---------------------------------------------------------------------------------------------
# Which weekdays are closed
# ---------------------------------------------------------------------------------------------


def test_a_weekday_with_no_tickets_in_any_week_is_closed() -> None:
    assert closed_weekdays(weekday_only()) == (6, 7)  # no weekend rows at all
    assert closed_weekdays(weekday_only(weekends="zero")) == (6, 7)  # weekend rows of zeros, as a source gives
    assert closed_weekdays(closed_on(3)) == (3,)
    one_saturday = pl.concat([weekday_only(), pl.DataFrame({"ds": [date(2025, 3, 8)], "y": [2.0]})])
    assert closed_weekdays(one_saturday) == (7,)  # a single Saturday with tickets: Saturdays are open


def test_too_few_weeks_or_sparse_counts_are_no_proof_of_a_closed_day() -> None:
    assert closed_weekdays(weekday_only(weeks=4)) == ()  # Monday to Friday 4 weeks later: 3 weekends, too few to tell
    assert closed_weekdays(weekday_only(weeks=5)) == (6, 7)
    # Open days are zero 60 % of the time: 10 zero Wednesdays happen by chance (0.6^10 = 0.6 %).
    days = [START + timedelta(days=i) for i in range(20 * 7)]
    sparse = [0.0 if d.isoweekday() == 3 or i % 5 < 3 else 1.0 for i, d in enumerate(days)]
    frame = pl.DataFrame({"ds": days, "y": sparse})
    assert closed_weekdays(frame.head(10 * 7)) == ()
    assert closed_weekdays(frame) == (3,)  # 20 of them would not (0.6^20 < 0.1 %)
    assert closed_weekdays(frame.with_columns(pl.lit(0.0).alias("y"))) == ()  # all zero: nothing is "open"


# ---------------------------------------------------------------------------------------------
# Forecasting on the open days
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("weekends", ["absent", "zero"])
def test_a_weekday_only_series_is_forecast_on_its_business_days(weekends: str) -> None:
    history = weekday_only(weekends=weekends)
    run = forecast_series(history, horizon=28, folds=4)
    score = run.scores.row(0, named=True)
    assert score["model"] != "seasonal_naive", score["note"]  # a fitted model, not the fallback
    assert score["mase"] < min(1.0, score["baseline_mase"]), score
    assert score["coverage_80"] >= 0.6 and score["coverage_95"] >= 0.8
    last = date(2025, 7, 6) if weekends == "zero" else date(2025, 7, 4)  # the history's last day (Sun / Fri)
    assert run.forecasts["ds"].to_list() == days_after(last, 28, {1, 2, 3, 4, 5})  # no Saturday or Sunday
    # Each weekday at its own level: closed days neither drag it down nor blur the weekly pattern.
    by_weekday = run.forecasts.group_by(pl.col("ds").dt.weekday().alias("weekday")).agg(pl.col("mean").mean())
    for weekday, mean in by_weekday.iter_rows():
        assert mean == pytest.approx(LEVEL_BY_WEEKDAY[weekday] * 1.4, rel=0.2)  # ~0.2 %/day growth
    assert run.backtests.filter(pl.col("ds").dt.weekday() > 5).height == 0  # closed days are not scored


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_skips_a_weekday_that_never_has_data(name: str) -> None:
    history = closed_on(3)
    model = make_model(name, "s").fit(history)
    assert model.weekdays_ == (1, 2, 4, 5, 6, 7) and model.season_ == 6
    assert model.n_obs_ == 20 * 6  # closed days are not training data
    frame = model.predict(21)
    assert frame["ds"].to_list() == days_after(history["ds"].max(), 21, {1, 2, 4, 5, 6, 7})
    assert frame["mean"].min() > 30  # open days keep their level (60 a day, 78 at weekends)


def test_a_horizon_of_closed_days_only_has_no_rows() -> None:
    friday = weekday_only().filter(pl.col("ds") <= date(2025, 7, 4))
    assert make_model("ets", "s").fit(friday).predict(2).height == 0  # Saturday and Sunday


def test_the_backtest_compares_open_days_only_by_hand() -> None:
    history = weekday_only(weeks=8)  # Mon 2025-01-06 .. Fri 2025-02-28, 40 open days
    result = backtest(history, "seasonal_naive", horizon=7, folds=2)
    y = history["y"].to_numpy()  # open days only, 5 a week
    # Fold 1 trains on the calendar up to Friday 2025-02-14 (30 open days) and forecasts the next 7 calendar days.
    fold1 = result.forecasts.filter(pl.col("fold") == 1)
    assert fold1["origin"].unique().to_list() == [date(2025, 2, 14)]
    assert fold1["ds"].to_list() == [date(2025, 2, 17) + timedelta(days=i) for i in range(5)]
    assert fold1["step"].to_list() == [3, 4, 5, 6, 7]  # calendar days ahead of the origin
    assert fold1["mean"].to_list() == list(y[25:30])  # the same weekday a week before
    assert fold1["actual"].to_list() == list(y[30:35])
    assert fold1["scale"][0] == pytest.approx(np.mean(np.abs(y[5:30] - y[:25])))  # weekly naive on open days


# ---------------------------------------------------------------------------------------------
# ETS never explodes on zeros
# ---------------------------------------------------------------------------------------------

RANGE_MULTIPLE = 10  # a forecast value above 10 × the history's highest day is an explosion

# Mostly zero days with a few large ones at the end: the log1p-scale trend and variance ran away (1e26 ×).
SPIKY_END = np.r_[np.tile([0.0, 0.0, 2.0, 0.0, 0.0, 1.0, 0.0], 14), [274, 0, 0, 0, 0, 170, 457, 210, 1.0]]


def explosion(history: np.ndarray, horizon: int = 84) -> float:
    frame = pl.DataFrame({"ds": [START + timedelta(days=i) for i in range(len(history))], "y": history})
    forecast = DampedETS("s").fit(frame).predict(horizon)
    return float(forecast.select(pl.max_horizontal("mean", "hi_95").max()).item()) / float(history.max())


def test_ets_on_zeros_and_late_spikes_stays_in_the_data_range() -> None:
    assert explosion(SPIKY_END) <= RANGE_MULTIPLE


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(30, 150),
    zero_share=st.floats(0.5, 0.95),
    spikes=st.lists(st.tuples(st.integers(0, 27), st.integers(20, 500)), min_size=1, max_size=4),
    seed=st.integers(0, 2**16),
)
def test_ets_on_series_with_many_zeros_never_explodes(
    n: int, zero_share: float, spikes: list[tuple[int, int]], seed: int
) -> None:
    rng = np.random.default_rng(seed)
    y = rng.poisson(2.0, n) * (rng.random(n) > zero_share).astype(float)
    for days_before_end, value in spikes:  # large days in the last four weeks: the hard case for a trend
        y[n - 1 - days_before_end] = value
    assert explosion(y) <= RANGE_MULTIPLE


# ---------------------------------------------------------------------------------------------
# The Forecast & capacity page: reconciled parts, the chart's history, the capacity plan
# ---------------------------------------------------------------------------------------------


def tickets_source(folder: Path, weeks: int = 20) -> Dataset:
    """Tickets of two policy domains: `office` works Monday to Friday, `live` every day."""
    rng = np.random.default_rng(7)
    rows = []
    for i in range(weeks * 7):
        day = START + timedelta(days=i)
        counts = {"office": rng.poisson(30) if day.isoweekday() <= 5 else 0, "live": rng.poisson(20)}
        for domain, n in counts.items():
            stamp = datetime.combine(day, time(10))
            rows += [(f"{domain}-{i}-{k}", stamp, domain) for k in range(n)]
    folder.mkdir()
    frame = pl.DataFrame(rows, schema=["ticket_id", "created_at", "policy_domain"], orient="row")
    frame.write_parquet(folder / "tickets.parquet")
    return load_dataset(folder)


def test_a_part_closed_on_weekends_reconciles_with_a_total_open_every_day(tmp_path: Path) -> None:
    ds = tickets_source(tmp_path / "source")
    end = START + timedelta(weeks=20, days=-1)  # a Sunday
    view = forecast_view(ds, Filters(START, end), "policy_domain", 14, "seasonal_naive")
    closed = dict(view.scores.select("series", "closed_weekdays").iter_rows())
    assert closed == {"live": "", "office": "Sat, Sun", "total": ""}
    office = view.forecasts.filter(pl.col("series") == "office")
    assert office.height == 14  # reconciled on the total's days ...
    assert (office.filter(pl.col("ds").dt.weekday() > 5)["mean"] == 0).all()  # ... with nothing on its closed days
    assert (office.filter(pl.col("ds").dt.weekday() <= 5)["mean"] > 15).all()
    parts = view.forecasts.filter(pl.col("series") != "total").group_by("ds").agg(pl.col("mean").sum())
    total = view.forecasts.filter(pl.col("series") == "total").join(parts, on="ds", suffix="_parts")
    assert total.height == 14 and (total["mean"] == total["mean_parts"]).all()
    shown = view.history.filter(pl.col("series") == "office")
    assert shown.height > 0 and shown.filter(pl.col("ds").dt.weekday() > 5).height == 0  # closed days not drawn
    assert view.history.filter((pl.col("series") == "live") & (pl.col("ds").dt.weekday() > 5)).height > 0


def test_a_weekday_only_source_has_no_weekend_rows_anywhere(tmp_path: Path) -> None:
    ds = tickets_source(tmp_path / "source")
    end = START + timedelta(weeks=20, days=-1)
    view = forecast_view(ds, Filters(START, end, policy_domain=("office",)), None, 14)
    assert view.forecasts["ds"].to_list() == days_after(end, 14, {1, 2, 3, 4, 5})
    assert view.scores["closed_weekdays"].to_list() == ["Sat, Sun"]
    assert view.scores["mase"][0] < 1.2, view.scores.row(0, named=True)


END = date(2026, 3, 29)  # a Sunday: the 4 weeks after it are whole weeks


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    out = tmp_path_factory.mktemp("calendars") / "demo"
    generate_demo(out, days=120, tickets_per_day=400, seed=3, end=END)
    return load_dataset(out)


def flat_forecast(series: list[str], days: list[date]) -> pl.DataFrame:
    return pl.DataFrame({"series": [s for s in series for _ in days], "ds": days * len(series)}).with_columns(
        mean=pl.lit(100.0), lo_80=pl.lit(80.0), hi_80=pl.lit(120.0), lo_95=pl.lit(70.0), hi_95=pl.lit(130.0)
    )


def view_of(forecasts: pl.DataFrame, horizon_end: date | None = None) -> ForecastView:
    return ForecastView(pl.DataFrame(), forecasts, pl.DataFrame(), pl.DataFrame(), "", horizon_end)


def test_the_capacity_plan_counts_supply_on_closed_days(demo: Dataset) -> None:
    period = Filters(END - timedelta(days=27), END)
    domains = summarize(demo, "volume", period, by=["policy_domain"])["policy_domain"].to_list()
    every = flat_forecast(domains, [END + timedelta(days=d) for d in range(1, 29)])
    weekdays = every.filter(pl.col("ds").dt.weekday() <= 5)  # a Monday-to-Friday forecast: no weekend rows
    full = capacity_plan(demo, period, view_of(every), Scenario())[0]
    open_only = capacity_plan(demo, period, view_of(weekdays, END + timedelta(days=28)), Scenario())[0]
    assert open_only["days"].to_list() == full["days"].to_list() == [7] * full.height  # every calendar day
    assert open_only["supply_fte"].to_list() == pytest.approx(full["supply_fte"].to_list(), rel=1e-12)
    # No work arrives on Saturdays and Sundays (5/7 of the week's work), and the staff still work then.
    assert open_only["workload_hours"].to_list() == pytest.approx((full["workload_hours"] * 5 / 7).to_list())
    assert (open_only["gap_fte"] > full["gap_fte"]).all()


def test_live_staffing_on_a_closed_day_needs_nobody(demo: Dataset) -> None:
    period = Filters(END - timedelta(days=27), END)
    saturday = END + timedelta(days=6)
    weekdays = [END + timedelta(days=d) for d in range(1, 15) if (END + timedelta(days=d)).isoweekday() <= 5]
    queue = [LiveQueue("live_p0", target_seconds=60)]
    staffing = live_staffing(demo, period, view_of(flat_forecast(["total"], weekdays)), saturday, queue, Scenario())
    assert staffing.height == 48  # every half hour of the day, each with no tickets and no agents
    assert (staffing["volume"] == 0).all() and (staffing["agents"] == 0).all()
