"""Intervals for shares: Wilson score intervals and Newcombe's hybrid score interval of a difference."""

from __future__ import annotations

import math

import polars as pl

Z_95 = 1.959963984540054  # two-sided 95 % normal quantile


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval of the share successes / n (95 % by default)."""
    if n <= 0:
        raise ValueError("a share needs at least one observation")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be between 0 and n ({n}), not {successes}")
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def _wilson(successes: pl.Expr, n: pl.Expr, z: float) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """Share, lower and upper Wilson bound as expressions; null where n is 0."""
    s, n = successes.cast(pl.Float64), n.cast(pl.Float64)
    p = s / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * (p * (1 - p) / n + z2 / (4 * n * n)).sqrt()
    has = n > 0
    return (
        pl.when(has).then(p),
        pl.when(has).then((centre - half).clip(0.0, 1.0)),
        pl.when(has).then((centre + half).clip(0.0, 1.0)),
    )


def wilson_bounds(
    successes: str, n: str, *, names: tuple[str, str] = ("ci_low", "ci_high"), z: float = Z_95
) -> list[pl.Expr]:
    """Wilson interval of successes / n as two columns (`ci_low`, `ci_high`); null where n is 0."""
    _, low, high = _wilson(pl.col(successes), pl.col(n), z)
    return [low.alias(names[0]), high.alias(names[1])]


def difference_bounds(
    successes_a: pl.Expr, n_a: pl.Expr, successes_b: pl.Expr, n_b: pl.Expr, z: float = Z_95
) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """Difference of shares a − b and its Newcombe hybrid score interval (method 10), unaliased."""
    p_a, low_a, high_a = _wilson(successes_a, n_a, z)
    p_b, low_b, high_b = _wilson(successes_b, n_b, z)
    diff = p_a - p_b
    low = diff - ((p_a - low_a) ** 2 + (high_b - p_b) ** 2).sqrt()
    high = diff + ((high_a - p_a) ** 2 + (p_b - low_b) ** 2).sqrt()
    return diff, low, high
