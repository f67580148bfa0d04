"""Forecasts on real calendars: weekday-only operations, a weekday that never has data, and ETS on zeros."""

from __future__ import annotations

import json
import shutil
from datetime import date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from streamlit.testing.v1 import AppTest

from forecasting.backtest import backtest, forecast_series
from forecasting.history import ticket_series
from forecasting.models import MODELS, DampedETS, closed_weekdays, forecast_frame, make_model
from forecasting.outlook import outlook
from forecasting.plan import Scenario
from forecasting.planner import ForecastView, LiveQueue, capacity_plan, forecast_view, live_staffing
from forecasting.reconcile import reconcile
from queries.demo import generate_demo
from queries.display import display_value
from queries.filters import Filters
from queries.metrics import summarize
from queries.sources.dataset import Dataset, load_dataset
from tests.apptest import DEMO_END, metrics_by_label, run

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
# Every forecast names the model its numbers came from
# ---------------------------------------------------------------------------------------------


def test_a_forecast_names_the_model_its_numbers_came_from(monkeypatch: pytest.MonkeyPatch) -> None:
    history = weekday_only()
    chosen = forecast_series(history, horizon=14, candidates=("ets",))
    assert chosen.forecasts_with_model()["model"].unique().to_list() == ["ets"]

    def cannot_estimate(self, y: np.ndarray) -> None:
        raise ValueError("no convergence")

    monkeypatch.setattr(DampedETS, "_fit", cannot_estimate)  # ETS is asked for, but cannot be estimated
    run = forecast_series(history, horizon=14, candidates=("ets",))
    naive = make_model("seasonal_naive", "total").fit(history).predict(14)
    assert run.forecasts_with_model()["model"].unique().to_list() == ["seasonal_naive"]  # what the numbers are
    # Its point forecast; the intervals are calibrated on its backtest's errors (forecasting.backtest.calibrate).
    assert_frame_equal(run.forecasts.select("series", "ds", "mean"), naive.select("series", "ds", "mean"))
    score = run.scores.row(0, named=True)
    assert score["model"] == "seasonal_naive" and score["mase"] == score["baseline_mase"]  # its own backtest
    assert "ets could not be estimated (no convergence): seasonal naive used" in score["note"]


# ---------------------------------------------------------------------------------------------
# ETS never explodes on zeros
# ---------------------------------------------------------------------------------------------

RANGE_MULTIPLE = 10  # a forecast value above 10 × the history's highest day is an explosion

# Mostly zero days with a few large ones at the end: the log1p-scale trend and variance ran away (1e26 ×).
SPIKY_END = np.r_[np.tile([0.0, 0.0, 2.0, 0.0, 0.0, 1.0, 0.0], 14), [274, 0, 0, 0, 0, 170, 457, 210, 1.0]]


def daily(y: np.ndarray) -> pl.DataFrame:
    return pl.DataFrame({"ds": [START + timedelta(days=i) for i in range(len(y))], "y": y})


def explosion(history: np.ndarray, horizon: int = 84, model: str = "ets") -> float:
    forecast = make_model(model, "s").fit(daily(history)).predict(horizon)
    return float(forecast.select(pl.max_horizontal("mean", "hi_95").max()).item()) / float(history.max())


@pytest.mark.parametrize("model", ["ets", "seasonal_regression"])  # both fitted on log1p(y)
def test_log_scale_models_on_zeros_and_late_spikes_stay_in_the_data_range(model: str) -> None:
    assert explosion(SPIKY_END, model=model) <= RANGE_MULTIPLE  # unchecked: ~1e30 × (ETS), ~1e6 × (regression)
    fitted = make_model(model, "s").fit(daily(SPIKY_END))
    fitted.predict(84)
    assert "left the data's range" in fitted.note_ and "seasonal naive used" in fitted.note_  # said, not hidden


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
    assert office["ds"].to_list() == days_after(end, 14, {1, 2, 3, 4, 5})  # no rows on its closed days ...
    assert (office["mean"] > 15).all()
    assert view.forecasts.filter(pl.col("series") != "office").height == 2 * 14  # ... while live and the total have 14
    parts = view.forecasts.filter(pl.col("series") != "total").group_by("ds").agg(pl.col("mean").sum())
    total = view.forecasts.filter(pl.col("series") == "total").join(parts, on="ds", suffix="_parts")
    assert total.height == 14 and (total["mean"] == total["mean_parts"]).all()  # the parts add up on every day
    shown = view.history.filter(pl.col("series") == "office")
    assert shown.height > 0 and shown.filter(pl.col("ds").dt.weekday() > 5).height == 0  # closed days not drawn
    assert view.history.filter((pl.col("series") == "live") & (pl.col("ds").dt.weekday() > 5)).height > 0


def test_a_part_forecast_to_be_zero_for_sure_stays_zero_when_reconciled() -> None:
    day = [date(2026, 1, 5)]
    closed = forecast_frame(["office"], day, *(np.zeros(1) for _ in range(5)))  # a closed day: 0, no width
    live = forecast_frame(["live"], day, [20.0], [15.0], [25.0], [12.0], [28.0])
    total = forecast_frame(["total"], day, [30.0], [24.0], [36.0], [20.0], [40.0])  # 10 more than the parts
    out = reconcile(pl.concat([closed, live]), total)
    assert out.filter(pl.col("series") == "office").row(0)[2:] == (0.0,) * 5  # not moved at all
    live_mean, total_mean = (out.filter(pl.col("series") == s)["mean"][0] for s in ("live", "total"))
    assert 20 < live_mean < 30 and live_mean == total_mean  # the open part and the total share the discrepancy


def test_a_weekday_only_source_has_no_weekend_rows_anywhere(tmp_path: Path) -> None:
    ds = tickets_source(tmp_path / "source")
    end = START + timedelta(weeks=20, days=-1)
    view = forecast_view(ds, Filters(START, end, policy_domain=("office",)), None, 14)
    assert view.forecasts["ds"].to_list() == days_after(end, 14, {1, 2, 3, 4, 5})
    assert view.scores["closed_weekdays"].to_list() == ["Sat, Sun"]
    assert view.scores["mase"][0] < 1.2, view.scores.row(0, named=True)


END = date(2026, 3, 29)  # a Sunday: the 4 weeks after it are whole weeks


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("calendars") / "demo"
    generate_demo(out, days=120, tickets_per_day=400, seed=3, end=END)
    return out


@pytest.fixture(scope="module")
def demo(demo_folder: Path) -> Dataset:
    return load_dataset(demo_folder)


def weekday_only_extracts(demo_folder: Path, out: Path) -> Path:
    """The demo's extracts as a Monday-to-Friday operation: no tickets created, reviewed or staffed at weekends."""
    out.mkdir()
    tickets = pl.read_parquet(demo_folder / "tickets.parquet").filter(pl.col("created_at").dt.weekday() <= 5)
    tickets.write_parquet(out / "tickets.parquet")
    staffing = pl.read_parquet(demo_folder / "staffing.parquet")
    staffing.filter(pl.col("date").dt.weekday() <= 5).write_parquet(out / "staffing.parquet")
    reviews = pl.read_parquet(demo_folder / "qa_reviews.parquet").join(tickets, on="ticket_id", how="semi")
    reviews.filter(pl.col("reviewed_at").dt.weekday() <= 5).write_parquet(out / "qa_reviews.parquet")
    for name in ("platform_metrics", "events"):
        shutil.copy(demo_folder / f"{name}.parquet", out)
    return out


@pytest.fixture(scope="module")
def weekday_demo(demo_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return load_dataset(weekday_only_extracts(demo_folder, tmp_path_factory.mktemp("weekdays") / "src"))


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
    # Less work, so no smaller gap; a larger one wherever the work, not the coverage floor, decided the full plan.
    assert (open_only["gap_fte"] >= full["gap_fte"] - 1e-12).all()
    by_work = full["required_fte"] > full["coverage_fte"]
    assert by_work.any() and (open_only["gap_fte"] > full["gap_fte"]).filter(by_work).all()


def test_live_staffing_on_a_closed_day_needs_nobody(demo: Dataset) -> None:
    period = Filters(END - timedelta(days=27), END)
    saturday = END + timedelta(days=6)
    weekdays = [END + timedelta(days=d) for d in range(1, 15) if (END + timedelta(days=d)).isoweekday() <= 5]
    queue = [LiveQueue("live_p0", target_seconds=60)]
    staffing = live_staffing(demo, period, view_of(flat_forecast(["total"], weekdays)), saturday, queue, Scenario())
    assert staffing.height == 48  # every half hour of the day, each with no tickets and no agents
    assert (staffing["volume"] == 0).all() and (staffing["agents"] == 0).all()


def test_the_history_of_a_weekday_only_source_has_weekend_zeros_the_models_call_closed(weekday_demo: Dataset) -> None:
    history = ticket_series(weekday_demo, by=["policy_domain"])
    weekends = history.filter(pl.col("ds").dt.weekday() > 5)
    assert weekends.height > 0 and (weekends["y"] == 0).all()  # every day is present, as the source gives it
    for (domain,), series in history.group_by("policy_domain"):
        assert closed_weekdays(series.select("ds", "y")) == (6, 7), domain


def test_a_weekday_only_operation_is_planned_on_its_business_days(weekday_demo: Dataset) -> None:
    period = Filters(END - timedelta(days=27), END)
    view = forecast_view(weekday_demo, period, "policy_domain", 28)
    assert set(view.scores["closed_weekdays"]) == {"Sat, Sun"}  # every policy domain and the total
    assert set(view.scores["model"]) <= {"ets", "seasonal_regression"}, view.scores  # fitted, not a fallback
    assert view.scores["mase"].max() < 1.5, view.scores
    for frame in (view.forecasts, view.history, view.backtests):
        assert frame.height > 0 and frame.filter(pl.col("ds").dt.weekday() > 5).is_empty()
    assert view.forecasts.filter(pl.col("series") == "total")["ds"].to_list() == days_after(END, 28, {1, 2, 3, 4, 5})

    plan, inputs = capacity_plan(weekday_demo, period, view, Scenario())
    assert inputs is not None and plan["week"].n_unique() == 4 and (plan["days"] == 7).all()
    # Weekly human-review tickets, by hand: each open day's domain forecasts × (1 − automated share), allocated in
    # full to the vendors that reviewed the domain; Saturdays and Sundays add nothing.
    automated = dict(inputs.automation.iter_rows())
    allocated = dict(inputs.allocation.group_by("policy_domain").agg(pl.col("share").sum()).iter_rows())
    expected: dict[date, float] = {}
    for domain, day, mean, *_ in view.forecasts.filter(pl.col("series") != "total").iter_rows():
        week = day - timedelta(days=day.weekday())
        expected[week] = expected.get(week, 0.0) + mean * (1 - automated.get(domain, 0.0)) * allocated.get(domain, 0.0)
    weekly = plan.group_by("week").agg(pl.col("human_tickets").sum()).sort("week")
    assert weekly["human_tickets"].to_list() == pytest.approx([expected[w] for w in weekly["week"]], rel=1e-9)
    # Supply: the staff's hours of the last 4 weeks (worked Monday to Friday) spread over every calendar day, so a
    # week's supply is the hours they work in a week, not 7/5 of it.
    worked = summarize(weekday_demo, "throughput", Filters(END - timedelta(days=27), END), by=["vendor"])
    first = plan.sort("week").group_by("vendor", maintain_order=True).first()
    hours = dict(worked.select("vendor", "productive_hours").iter_rows())
    rework = dict(inputs.supply.select("vendor", "rework_share").iter_rows())
    for vendor, supply_hours in first.select("vendor", "supply_hours").iter_rows():
        weekly_hours = hours[vendor] / 4 * (1 - rework[vendor])  # before attrition, which takes < 1 % in a week
        assert supply_hours == pytest.approx(weekly_hours, rel=0.01), vendor

    saturday, monday = END + timedelta(days=6), END + timedelta(days=8)
    queues = [LiveQueue("live_p0", target_seconds=60)]
    closed = live_staffing(weekday_demo, period, view, saturday, queues, Scenario())
    assert closed.height == 48 and (closed["volume"] == 0).all() and (closed["agents"] == 0).all()  # nobody needed
    assert live_staffing(weekday_demo, period, view, monday, queues, Scenario())["agents"].sum() > 0


def chart_days(at: AppTest, trace_name: str) -> list[date]:
    """Every x value (a day) of the page's chart that has a trace called `trace_name`."""
    for chart in at.get("plotly_chart"):
        traces = json.loads(chart.proto.spec)["data"]
        if any(t.get("name") == trace_name for t in traces):
            return [date.fromisoformat(x[:10]) for t in traces for x in t.get("x", [])]
    raise AssertionError(f"no chart with a {trace_name!r} trace")


def test_the_forecast_page_shows_a_weekday_only_extract_on_its_business_days(
    app_env: None, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BELLWETHER_SOURCE", str(weekday_only_extracts(data_dir / "demo", tmp_path / "extracts")))
    at = run("forecast", {"src": "extracts"})
    named = {display_value("model", m) for m in MODELS}
    assert metrics_by_label(at)["Model"] in named  # the model the forecast came from, by its display name
    assert any("Closed on Sat, Sun" in c.value for c in at.caption)  # why the chart has no weekends
    for trace in ("forecast", "past forecast"):  # the forecast with its history, and the backtest against actuals
        days = chart_days(at, trace)
        assert days and all(d.isoweekday() <= 5 for d in days), trace
    scores = next(d.value for d in at.dataframe if "closed_weekdays" in d.value.columns)
    assert scores["closed_weekdays"].tolist() == ["Sat, Sun"] and scores["model"][0] in named
    at.segmented_control(key="forecast.section").set_value("capacity").run()
    plan = next(d.value for d in at.dataframe if "gap_fte" in d.value.columns)
    # Every calendar day of the 8 weeks is planned: closed days bring no work, and the staff still count on them.
    assert plan.groupby("vendor")["days"].sum().tolist() == [8 * 7] * plan["vendor"].nunique()

    saturday = DEMO_END + timedelta(days=6 - DEMO_END.isoweekday() % 7)  # the first Saturday of the horizon
    assert saturday.isoweekday() == 6 and DEMO_END < saturday <= DEMO_END + timedelta(days=7)
    at.segmented_control(key="forecast.section").set_value("live").run()
    at.date_input(key="live.day").set_value(saturday).run()
    live = next(d.value for d in at.dataframe if "peak_agents" in d.value.columns)
    assert (live["tickets"] == 0).all() and (live["peak_agents"] == 0).all()  # a closed day needs nobody

    at.segmented_control(key="forecast.section").set_value("forecast").run()
    at.selectbox(key="forecast.by").set_value("Policy domain").run()
    domain = next(s for s in at.selectbox(key="forecast.series").options if s != "total")
    at.selectbox(key="forecast.series").set_value(domain).run()
    assert not at.exception
    days = chart_days(at, "forecast")
    assert days and all(d.isoweekday() <= 5 for d in days)  # a part's forecast has no rows on its closed days


def test_the_snapshot_outlook_of_a_weekday_only_source_counts_calendar_weeks(weekday_demo: Dataset) -> None:
    ahead = outlook(weekday_demo, Filters(END - timedelta(days=27), END), weeks=4)
    assert ahead.forecast["ds"].to_list() == days_after(END, 28, {1, 2, 3, 4, 5})  # open days only
    assert ahead.weekly["week"].to_list() == [END + timedelta(days=1 + 7 * w) for w in range(4)]
    assert ahead.weekly["days"].to_list() == [7] * 4  # whole weeks, as in the plan next to it: not 5-day weeks
    by_hand = [
        sum(ahead.forecast.filter(pl.col("ds").is_between(w, w + timedelta(days=6)))["mean"])
        for w in ahead.weekly["week"]
    ]
    assert ahead.weekly["mean"].to_list() == pytest.approx(by_hand)
    assert (ahead.plan.group_by("week").agg(pl.col("days").first())["days"] == 7).all()
