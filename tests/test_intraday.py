"""The weekday × half-hour arrival profile, from the arrival counts every engine gives (`Engine.arrivals`)."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import polars as pl

from forecasting.intraday import intraday_profile
from queries.engines.base import ARRIVALS_SCHEMA, arrival_counts


def stamps(days: int = 28, seed: int = 5) -> list[datetime]:
    rng = np.random.default_rng(seed)
    base = datetime(2025, 3, 3)  # Monday
    minutes = rng.normal(20 * 60, 120, size=days * 200).clip(0, 24 * 60 - 1)  # evening peak
    day = np.repeat(np.arange(days), 200)
    return [base + timedelta(days=int(d), minutes=float(m)) for d, m in zip(day, minutes, strict=True)]


def counts(created: list[datetime]) -> pl.DataFrame:
    return arrival_counts(pl.LazyFrame({"created_at": created}, schema={"created_at": pl.Datetime("us")}))


def test_arrival_counts_count_each_ticket_in_its_day_and_half_hour() -> None:
    created = stamps(days=10)
    expected: dict[tuple, int] = {}
    for t in created:
        key = (t.date(), t.hour * 2 + t.minute // 30)
        expected[key] = expected.get(key, 0) + 1
    got = counts(created)
    assert got.schema == pl.Schema(ARRIVALS_SCHEMA)
    assert dict(zip(zip(got["day"], got["slot"], strict=True), got["tickets"], strict=True)) == expected


def test_the_profile_is_the_smoothed_share_of_a_plain_count() -> None:
    created, prior, weeks = stamps(days=30), 48.0, 2
    profile = intraday_profile(counts(created), weeks=weeks, prior=prior)
    assert profile.height == 7 * 48
    last = max(t.date() for t in created)
    window = [t for t in created if (last - t.date()).days < 7 * weeks]  # only the last two weeks
    cell = np.zeros((7, 48))
    for t in window:
        cell[t.weekday(), t.hour * 2 + t.minute // 30] += 1
    pooled = cell.sum(axis=0) / cell.sum()
    share = (cell + prior * pooled) / (cell.sum(axis=1, keepdims=True) + prior)
    np.testing.assert_array_equal(profile["tickets"].to_numpy().reshape(7, 48), cell)
    np.testing.assert_allclose(profile["share"].to_numpy().reshape(7, 48), share, rtol=1e-12)
    np.testing.assert_allclose(share.sum(axis=1), 1.0, atol=1e-12)
    peak = profile.filter(pl.col("weekday") == 0).sort("share")["slot"][-1]
    assert 36 <= peak <= 44  # around 20:00 (± 1 h of sampling noise over two weeks)


def test_no_arrivals_give_every_slot_the_same_share() -> None:
    empty = intraday_profile(pl.DataFrame(schema=ARRIVALS_SCHEMA))
    np.testing.assert_allclose(empty["share"].to_numpy(), 1 / 48)
