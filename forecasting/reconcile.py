"""Coherent forecasts: make the parts' point forecasts add up to the total's, day by day.

Forecasting every part (e.g. each policy domain) and the total separately gives numbers that
do not add up; planners need them to. `reconcile(parts, total, method)` returns both with

    total.mean == math.fsum(parts.mean)   exactly, for every day

(the reconciled total is *defined* as the correctly rounded sum of the reconciled parts, so the
identity holds bit for bit whatever the summation order of the reader).

Point forecasts, by `method`:

* `"mint_diag"` (default; "MinT-shrink-lite") — weighted least-squares reconciliation with a
  diagonal error covariance whose entries are each forecast's own variance, read off its 80 %
  interval (`((hi_80 - lo_80) / (2 · 1.2816))²`). The day's discrepancy `d = total − Σ parts`
  is shared in proportion to those variances: uncertain forecasts move more, confident ones
  less, and the total moves by its share too. (Full MinT would also estimate the covariances
  between series from in-sample errors; with one variance per forecast and no cross terms this
  is the diagonal special case.)
* `"ols"` — the same with equal weights: every part and the total absorb `d / (n + 1)`.
* `"top_down"` — the total is kept; each part gets the total × its share of the parts' sum
  (forecast proportions).

Parts never go negative: a part the adjustment would push below zero is set to zero and the
rest of the discrepancy is re-shared among the others (the non-negative solution of the same
weighted least-squares problem). A part forecast to be exactly 0 with no interval width (a day
it is closed, see `forecasting.models.closed_weekdays`) is certain: it keeps 0 and the others
share the discrepancy.

Intervals: reconciliation only moves the point forecasts, so an interval keeps its base
width and moves with its mean (`mint_diag`, `ols`), or is scaled by the same factor as the
part's mean (`top_down`); then bounds are clipped at zero and re-ordered around the mean. The
parts' bounds do not add up to the total's bounds, and should not: quantiles of a sum are not
sums of quantiles (independent errors partly cancel).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import polars as pl

from forecasting.models import FORECAST_SCHEMA, Z80, forecast_frame

Method = Literal["mint_diag", "ols", "top_down"]
BOUNDS = ("lo_80", "hi_80", "lo_95", "hi_95")


def reconcile(parts: pl.DataFrame, total: pl.DataFrame, method: Method = "mint_diag") -> pl.DataFrame:
    """Reconcile the forecasts of the parts (many series) and of the total (one series).

    Both frames are FORECAST_SCHEMA and cover the same days. Returns FORECAST_SCHEMA: the
    reconciled parts (sorted by series, ds) followed by the reconciled total.
    """
    if method not in ("mint_diag", "ols", "top_down"):
        raise ValueError(f"method must be mint_diag, ols or top_down, not {method!r}")
    if total["series"].n_unique() != 1:
        raise ValueError("total must hold exactly one series")
    parts = parts.select(list(FORECAST_SCHEMA)).sort("series", "ds")
    total = total.select(list(FORECAST_SCHEMA)).sort("ds")
    names = parts["series"].unique(maintain_order=True).to_list()
    days = total["ds"].to_list()
    grid = pl.DataFrame({"series": [s for s in names for _ in days], "ds": days * len(names)})
    aligned = grid.join(parts, on=["series", "ds"], how="left")
    if aligned["mean"].null_count():
        missing = aligned.filter(pl.col("mean").is_null()).select("series", "ds").head(3).to_dicts()
        raise ValueError(f"parts lack forecasts for some of the total's days, e.g. {missing}")
    if parts.height != aligned.height:
        raise ValueError("parts have days the total does not have (or duplicate rows)")

    n, h = len(names), len(days)
    b = aligned["mean"].to_numpy().reshape(n, h)
    part_bounds = {c: aligned[c].to_numpy().reshape(n, h) for c in BOUNDS}
    t = total["mean"].to_numpy()
    total_bounds = {c: total[c].to_numpy() for c in BOUNDS}

    if method == "top_down":
        x = _top_down(b, t)
        ratio = np.divide(x, b, out=np.ones_like(x), where=b > 0)
        new_part_bounds = {c: v * ratio for c, v in part_bounds.items()}
    else:
        if method == "ols":
            v_parts, v_total = np.ones_like(b), np.ones_like(t)
        else:
            v_parts = _variance(part_bounds["lo_80"], part_bounds["hi_80"], b)
            v_total = _variance(total_bounds["lo_80"], total_bounds["hi_80"], t)
        certain_zero = (b == 0) & (part_bounds["lo_95"] == 0) & (part_bounds["hi_95"] == 0)
        v_parts = np.where(certain_zero, 0.0, v_parts)
        x = np.column_stack([_wls_nonnegative(b[:, j], t[j], v_parts[:, j], v_total[j]) for j in range(h)])
        new_part_bounds = {c: v + (x - b) for c, v in part_bounds.items()}

    new_t = np.array([math.fsum(x[:, j]) for j in range(h)])
    new_total_bounds = {c: v + (new_t - t) for c, v in total_bounds.items()}
    flat_bounds = {c: v.ravel() for c, v in new_part_bounds.items()}
    reconciled_parts = _frame(np.repeat(names, h), days * n, x.ravel(), flat_bounds)
    reconciled_total = _frame([total["series"][0]] * h, days, new_t, new_total_bounds)
    return pl.concat([reconciled_parts, reconciled_total])


def _variance(lo: np.ndarray, hi: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Variance implied by an 80 % interval; a zero-width interval gets a tiny one so it can still move."""
    sd = (hi - lo) / (2 * Z80)
    floor = 1e-9 * (1.0 + np.abs(mean))
    return np.maximum(sd, floor) ** 2


def _top_down(b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Parts = total × forecast proportions (equal shares on days where the parts sum to zero)."""
    sums = b.sum(axis=0)
    n = b.shape[0]
    shares = np.where(sums > 0, b / np.where(sums > 0, sums, 1.0), 1.0 / n)
    return shares * t


def _wls_nonnegative(b: np.ndarray, t: float, v: np.ndarray, v_total: float) -> np.ndarray:
    """Minimise Σ (x_i − b_i)² / v_i + (Σx − t)² / v_total subject to x ≥ 0 (one day).

    Closed form on the active set A (parts not pinned at zero): s = Σ_A x = (B_A·v_t + V_A·t) /
    (v_t + V_A) and x_i = b_i + v_i (t − s) / v_t. Parts that come out negative are pinned at
    zero and the step repeats; at most n passes.
    """
    x = np.zeros_like(b)
    active = np.ones(len(b), dtype=bool)
    while active.any():
        v_a, b_a = v[active], b[active]
        s = (b_a.sum() * v_total + v_a.sum() * t) / (v_total + v_a.sum())
        step = (t - s) / v_total if v_total > 0 else 0.0
        candidate = b_a + v_a * step
        if (candidate >= 0).all():
            x[active] = candidate
            return x
        index = np.flatnonzero(active)
        active[index[candidate < 0]] = False
    return x


def _frame(series, days, mean: np.ndarray, bounds: dict[str, np.ndarray]) -> pl.DataFrame:
    """FORECAST_SCHEMA frame with bounds clipped at zero and ordered around the mean."""
    return forecast_frame(list(series), list(days), mean, *(bounds[b] for b in ("lo_80", "hi_80", "lo_95", "hi_95")))


def incoherence(parts: pl.DataFrame, total: pl.DataFrame) -> pl.DataFrame:
    """Per day: the total's mean minus the sum of the parts' means (0 everywhere when coherent)."""
    grouped = parts.group_by("ds").agg(pl.col("mean"))
    sums = pl.DataFrame(
        {"ds": grouped["ds"], "parts": [math.fsum(values) for values in grouped["mean"].to_list()]},
        schema={"ds": pl.Date(), "parts": pl.Float64()},
    )
    return (
        total.select("ds", pl.col("mean").alias("total"))
        .join(sums, on="ds", how="left")
        .with_columns((pl.col("total") - pl.col("parts")).alias("gap"))
        .sort("ds")
    )
