"""Turning the generator's numpy arrays (integer codes, seconds) into Polars columns."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import polars as pl


def labels(names: Sequence[str], codes: np.ndarray) -> pl.Series:
    """String column `names[code]`; null where the code is negative."""
    codes = np.asarray(codes, dtype=np.int64)
    valid = pl.Series(codes >= 0)
    picked = pl.Series(list(names), dtype=pl.String).gather(np.maximum(codes, 0))
    return pl.select(pl.when(valid).then(picked)).to_series()


def timestamps(period_start: dt.date, seconds: np.ndarray) -> pl.Series:
    """Naive UTC `Datetime("us")` column from seconds since `period_start`; null where NaN."""
    seconds = np.asarray(seconds, dtype=np.float64)
    start_us = int((period_start - dt.date(1970, 1, 1)).total_seconds()) * 1_000_000
    micros = start_us + np.round(np.nan_to_num(seconds) * 1e6).astype(np.int64)
    valid = pl.Series(~np.isnan(seconds))
    return pl.select(pl.when(valid).then(pl.Series(micros).cast(pl.Datetime("us")))).to_series()


def nullable(values: np.ndarray, valid: np.ndarray, dtype: pl.DataType) -> pl.Series:
    """Column of `values` cast to `dtype`, null where not `valid`."""
    return pl.select(pl.when(pl.Series(valid)).then(pl.Series(values).cast(dtype))).to_series()
