"""Fixed log-spaced histograms: mergeable across groups, percentiles with a provable relative error bound.

Buckets (values in any non-negative unit, e.g. seconds):
  0: exactly 0                     -> reported as 0 (exact)
  1: 0 < x < SMALLEST              -> reported as SMALLEST / 2 (absolute error < SMALLEST / 2)
  k ≥ 2: SMALLEST·R^(k−2) ≤ x < SMALLEST·R^(k−1) -> reported as the geometric midpoint SMALLEST·R^(k−2)·√R
For x in bucket k ≥ 2, estimate / x lies in (1/√R, √R], so |estimate / x − 1| ≤ √R − 1 (1.98 % for R = 1.04).
Linear interpolation between two order statistics keeps the bound: with weights w and 1 − w ≥ 0 and
non-negative values, |w·e₁ + (1−w)·e₂ − (w·x₁ + (1−w)·x₂)| ≤ w·δ·x₁ + (1−w)·δ·x₂ = δ·exact.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import polars as pl

R = 1.04
SMALLEST = 1e-3  # values below it (but above 0) share one bucket: half a millisecond absolute error for seconds
RELATIVE_BOUND = math.sqrt(R) - 1  # 0.019804
PERCENTILE_ERROR_BOUND = 0.02  # RELATIVE_BOUND rounded up: also absorbs float rounding at bucket edges
ABSOLUTE_BOUND = SMALLEST / 2  # extra absolute error possible only when an order statistic is below SMALLEST


def bucket_expr(value: pl.Expr) -> pl.Expr:
    """The bucket index (Int32) of non-negative values; null stays null."""
    log_bucket = ((value / SMALLEST).log() / math.log(R)).floor().cast(pl.Int32) + 2
    return pl.when(value == 0).then(0).when(value < SMALLEST).then(1).otherwise(log_bucket).cast(pl.Int32)


def representative_expr(bucket: pl.Expr) -> pl.Expr:
    """The value a bucket reports: 0, SMALLEST/2, or the geometric midpoint of its edges."""
    mid = SMALLEST * math.sqrt(R) * pl.lit(R, pl.Float64).pow((bucket - 2).cast(pl.Float64))
    return pl.when(bucket == 0).then(0.0).when(bucket == 1).then(SMALLEST / 2).otherwise(mid)


def percentiles(hist: pl.LazyFrame, keys: list[str], quantiles: Sequence[float], names: Sequence[str]) -> pl.LazyFrame:
    """Linear-interpolation percentiles (numpy's 'linear') per group of a (keys…, bucket, count) histogram.

    Returns keys plus one Float64 column per quantile, in the histogram's unit; groups with count 0 are absent.
    The k-th smallest value (0-based) lies in the bucket whose cumulative count first exceeds k.
    """
    merged = hist.with_columns(pl.col("count").cast(pl.Int64)).group_by([*keys, "bucket"]).agg(pl.col("count").sum())
    over = keys or None
    ordered = merged.sort([*keys, "bucket"]).with_columns(
        pl.col("count").cum_sum().over(over).alias("_cum") if over else pl.col("count").cum_sum().alias("_cum"),
        (pl.col("count").sum().over(over) if over else pl.col("count").sum()).alias("_n"),
        representative_expr(pl.col("bucket")).alias("_value"),
    )
    aggs = []
    for q, name in zip(quantiles, names, strict=True):
        rank = (pl.col("_n") - 1) * q
        lo = rank.floor()
        hi = pl.min_horizontal(lo + 1, pl.col("_n") - 1)
        below = pl.col("_cum") - pl.col("count")
        at_lo = pl.col("_value").filter((below <= lo) & (lo < pl.col("_cum"))).first()
        at_hi = pl.col("_value").filter((below <= hi) & (hi < pl.col("_cum"))).first()
        frac = (rank - lo).first()
        aggs.append((at_lo + frac * (at_hi - at_lo)).alias(name))
    return ordered.group_by(keys).agg(aggs) if keys else ordered.select(aggs)
