"""The DSA benchmark against direct computations on the shared DSA Parquet files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from queries.analyses.dsa import (
    SHIPPED_DIR,
    benchmark_daily,
    build_extract,
    category_mix,
    load_categories,
    load_daily,
    own_daily,
    reporting_gaps,
)

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "dsa"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="the shared DSA folder is not beside the repository")


@needs_shared
def test_shipped_extract_is_reproducible_from_the_shared_files(tmp_path: Path):
    build_extract(SHARED, tmp_path)
    for name in ("dsa_daily.csv.gz", "dsa_daily_category.csv.gz", "manifest.json"):
        assert (tmp_path / name).read_bytes() == (SHIPPED_DIR / name).read_bytes(), name


@needs_shared
def test_daily_figures_match_the_shared_parquet():
    raw = pl.read_parquet(SHARED / "dsa_daily_platform.parquet").filter(pl.col("platform") == "TikTok")
    bench = benchmark_daily(load_daily(), ["TikTok"], dt.date(2024, 6, 1), dt.date(2024, 6, 30))
    day = bench.filter(pl.col("date") == dt.date(2024, 6, 18)).row(0, named=True)
    src = raw.filter(pl.col("date") == dt.date(2024, 6, 18)).row(0, named=True)
    assert day["statements"] == src["statements"] == 21_429_710  # the README's documented maximum
    assert day["automated_detection_share"] == pytest.approx(src["automated_detection_yes"] / src["statements"])
    assert day["automated_decision_share"] == pytest.approx(src["automated_decision_fully"] / src["statements"])
    assert day["moderation_delay_days"] == pytest.approx(src["moderation_delay_mean_s"] / 86_400)
    assert raw["statements"].sum() == 2_173_701_396  # the README's documented TikTok total
    assert load_daily().filter(pl.col("platform") == "TikTok")["statements"].sum() == 2_173_701_396


def test_gaps_are_shown_not_interpolated():
    bench = benchmark_daily(load_daily(), ["TikTok"], dt.date(2024, 6, 1), dt.date(2024, 6, 30))
    gap_days = bench.filter(~pl.col("reported"))
    assert gap_days["statements"].null_count() == gap_days.height  # no zeros, no interpolation
    gaps = reporting_gaps(bench)
    assert gaps.row(0, named=True) == {
        "platform": "TikTok",
        "first_day": dt.date(2024, 6, 5),
        "last_day": dt.date(2024, 6, 9),
        "days": 5,
    }  # the README's documented 5-day gap


def test_category_mix_shares_and_taxonomy_change():
    mix = category_mix(load_categories(), ["TikTok"], dt.date(2025, 6, 1), dt.date(2025, 7, 31))
    for (_, _month), part in mix.group_by("platform", "month"):
        assert part["share"].sum() == pytest.approx(1.0)
    june = set(mix.filter(pl.col("month") == dt.date(2025, 6, 1))["category"])
    july = set(mix.filter(pl.col("month") == dt.date(2025, 7, 1))["category"])
    assert "SCOPE_OF_PLATFORM_SERVICE" not in july and (
        "OTHER_VIOLATION_TC" in july or "OTHER_VIOLATION_TC" not in june
    )
    raw = load_categories().filter(
        (pl.col("platform") == "TikTok") & (pl.col("date").dt.truncate("1mo") == dt.date(2025, 6, 1))
    )
    top = raw.group_by("category").agg(pl.col("statements").sum()).sort("statements", descending=True).row(0)
    expected = top[1] / raw["statements"].sum()
    assert mix.filter((pl.col("month") == dt.date(2025, 6, 1)) & (pl.col("category") == top[0]))["share"][0] == (
        pytest.approx(expected)
    )


def test_own_metrics_on_the_same_scales(tmp_path: Path):
    from queries.demo import generate_demo
    from queries.sources.dataset import load_dataset

    generate_demo(tmp_path / "demo", days=40, tickets_per_day=200, seed=3, end=dt.date(2025, 12, 31))
    ds = load_dataset(tmp_path / "demo")
    own = own_daily(ds, dt.date(2025, 12, 1), dt.date(2025, 12, 31))
    rows = ds.tables["tickets"].filter(
        (pl.col("decision") == "violating") & (pl.col("first_action_at").dt.date() == dt.date(2025, 12, 10))
    )
    day = own.filter(pl.col("date") == dt.date(2025, 12, 10)).row(0, named=True)
    assert day["statements"] == rows.height
    assert day["automated_decision_share"] == pytest.approx(rows["automated"].mean())
    delays = [
        (a - c).total_seconds() / 86_400 for a, c in zip(rows["first_action_at"], rows["created_at"], strict=True)
    ]
    assert day["moderation_delay_days"] == pytest.approx(sum(delays) / len(delays))


@needs_shared
def test_dsa_build_command_rebuilds_the_extract(tmp_path: Path):
    import subprocess
    import sys

    repo = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-m", "queries", "dsa-build", "--from", str(SHARED), "--out", str(tmp_path)],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "dsa_daily.csv.gz").read_bytes() == (SHIPPED_DIR / "dsa_daily.csv.gz").read_bytes()
    bad = subprocess.run(
        [sys.executable, "-m", "queries", "dsa-build", "--from", str(tmp_path / "nope"), "--out", str(tmp_path / "x")],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bad.returncode == 1 and "Fix:" in bad.stderr
