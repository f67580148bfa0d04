"""The forecast workers: one process pool kept for the life of the process, the same forecasts as in one process,
and a clear error for a bad BELLWETHER_FORECAST_WORKERS (in the CLI's words and on the dashboard's panel)."""

from __future__ import annotations

import os
import sys
import types
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from forecasting.workers import WORKERS_ENV, discard_pool, forecast_workers, shared_pool, warm
from queries.errors import SourceError
from tests.apptest import run


def test_workers_default_to_the_cores_and_follow_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(WORKERS_ENV, raising=False)
    assert forecast_workers() == max(1, os.cpu_count() or 1)
    monkeypatch.setenv(WORKERS_ENV, " 3 ")
    assert forecast_workers() == 3
    monkeypatch.setenv(WORKERS_ENV, "1")
    assert forecast_workers() == 1 and warm() is None  # one worker: no pool, series run in the calling process


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5"])
def test_a_bad_worker_count_names_the_setting_and_the_fix(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(WORKERS_ENV, value)
    with pytest.raises(SourceError) as caught:
        forecast_workers()
    message = caught.value.message()
    assert f"{WORKERS_ENV}={value!r}" in message and "at least 1" in message


def test_the_pool_is_kept_between_forecasts_and_replaced_when_discarded() -> None:
    pool = shared_pool(2)
    assert shared_pool(2) is pool
    assert pool.submit(abs, -4).result(timeout=120) == 4  # its workers run tasks
    discard_pool(2)
    fresh = shared_pool(2)
    assert fresh is not pool and fresh.submit(abs, -5).result(timeout=120) == 5


def test_workers_never_run_the_callers_main_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Under Streamlit the main module is the page script being run: a worker that ran it again would run the app.
    marker = tmp_path / "ran"
    script = tmp_path / "page.py"
    script.write_text(f"open({str(marker)!r}, 'w').close()\n", encoding="utf-8")
    page = types.ModuleType("__main__")
    page.__file__ = str(script)
    monkeypatch.setitem(sys.modules, "__main__", page)
    pool = shared_pool(3)  # a size no other test uses: spawned now, with this main module in place
    try:
        assert [f.result(timeout=120) for f in [pool.submit(abs, -n) for n in range(6)]] == list(range(6))
        assert not marker.exists()
    finally:
        discard_pool(3)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):
    from queries.demo import generate_demo
    from queries.engines.serving import open_served

    folder = tmp_path_factory.mktemp("workers") / "demo"
    generate_demo(folder, days=240, tickets_per_day=400, end=date(2026, 6, 30))
    return open_served(str(folder))


def test_a_forecast_view_spread_over_workers_equals_one_in_this_process(demo) -> None:
    from forecasting.planner import forecast_view
    from queries.engines import created_days
    from queries.filters import Filters

    filters = Filters(*created_days(demo))
    here = forecast_view(demo, filters, "policy_domain", 28, n_jobs=1)
    spread = forecast_view(demo, filters, "policy_domain", 28, n_jobs=2)
    assert here.forecasts.filter(pl.col("series") != "total")["series"].n_unique() >= 5
    assert_frame_equal(here.forecasts, spread.forecasts)
    assert_frame_equal(here.scores, spread.scores)
    assert_frame_equal(here.backtests, spread.backtests)


@pytest.mark.usefixtures("app_env")
def test_the_dashboard_shows_a_bad_worker_count_as_a_panel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(WORKERS_ENV, "many")
    at = run("forecast")
    panel = " ".join(e.value for e in at.error)
    assert f"{WORKERS_ENV}='many'" in panel and "Fix:" in panel, panel
    monkeypatch.setenv(WORKERS_ENV, "2")
    at = run("forecast")
    assert not at.error and at.get("plotly_chart")


def blas_threads() -> list[int]:
    """Threads of every BLAS library loaded in this process, once what a forecast needs is imported."""
    import statsmodels.tsa.api  # noqa: F401
    from threadpoolctl import threadpool_info

    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def test_workers_run_blas_on_one_thread() -> None:
    # Two workers with a BLAS thread per core each oversubscribe the cores: measured 1.3 s → 7.6 s for a forecast.
    threads = shared_pool(2).submit(blas_threads).result(timeout=120)
    assert threads and set(threads) == {1}, threads


def test_frames_forecast_together_equal_each_forecast_alone() -> None:
    from forecasting.backtest import forecast_frames, forecast_series
    from tests.test_backtest import many_series

    parts = many_series()
    total = parts.group_by("ds").agg(pl.col("y").sum()).sort("ds")
    together = forecast_frames([(total, None), (parts, ["g"])], 14, 2, n_jobs=2)
    alone = [forecast_series(total, None, 14, 2), forecast_series(parts, ["g"], 14, 2)]
    for one, with_others in zip(alone, together, strict=True):
        assert_frame_equal(one.forecasts, with_others.forecasts)
        assert_frame_equal(one.scores, with_others.scores)
        assert_frame_equal(one.keys, with_others.keys)
