"""Forecast history from a source: a group that starts late is forecast from its own first day, not from zeros."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl

from forecasting.backtest import forecast_series
from forecasting.history import ticket_series
from queries.filters import Filters
from queries.sources.dataset import load_dataset

START = dt.date(2025, 1, 1)


def test_a_market_that_starts_late_is_forecast_at_its_own_level(tmp_path: Path):
    rng = np.random.default_rng(3)
    rows = []
    for day in range(364):
        date = START + dt.timedelta(days=day)
        counts = {"AA": rng.poisson(100), "BB": rng.poisson(40) if day >= 320 else 0}  # BB launches on day 320
        for market, n in counts.items():
            rows += [(f"{market}{day}-{i}", dt.datetime.combine(date, dt.time(12)), market) for i in range(n)]
    pl.DataFrame(rows, schema=["ticket_id", "created_at", "market"], orient="row").write_parquet(
        tmp_path / "tickets.parquet"
    )
    ds = load_dataset(tmp_path)
    window = Filters(START, START + dt.timedelta(days=363), market=("BB",))
    history = ticket_series(ds, filters=window)
    assert history["ds"].min() == START + dt.timedelta(days=320) and history.height == 44
    fc = forecast_series(history, horizon=14, folds=2)
    assert 32 < fc.forecasts["mean"].mean() < 48  # 40 a day, not dragged towards 0 by 320 days before launch
    per_market = ticket_series(ds, by=["market"], filters=Filters(START, START + dt.timedelta(days=363)))
    firsts = dict(per_market.group_by("market").agg(pl.col("ds").min()).iter_rows())
    assert firsts == {"AA": START, "BB": START + dt.timedelta(days=320)}
