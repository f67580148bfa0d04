"""The scale benchmark: its generated data is a valid source, and a tiny run measures every step (no timing asserts)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from bench.scale_data import add_next_day, ensure_scale_data
from queries.sources.dataset import load_dataset

REPO = Path(__file__).resolve().parent.parent

KEYS = (
    "tickets", "days", "files", "data_mb", "machine",
    "rollup_s", "rollup_peak_rss_mb", "rollup_partitions", "rollup_cache_mb",
    "polars_naive_s", "polars_naive_peak_rss_mb", "polars_naive_groups",
    "pandas_s", "pandas_peak_rss_mb", "pandas_groups",
    "duckdb_s", "duckdb_peak_rss_mb", "duckdb_groups",
    "polars_hist_s", "polars_hist_groups", "duckdb_hist_s", "duckdb_hist_groups",
    "polars_read_s", "polars_read_groups", "duckdb_read_s", "duckdb_read_groups",
    "incremental_s", "incremental_rebuilt", "rollup_load_ms",
    "page_overview_ms_p50", "page_overview_ms_max", "page_turnaround_ms_p50", "page_turnaround_ms_max", "page_ms",
    "percentile_error_bound", "percentile_error_max", "percentile_error_p99", "percentiles_compared",
    "percentiles_compared_small_groups", "count_mismatches", "mean_error_max",
    "rollup_over_duckdb", "polars_read_over_duckdb", "pandas_over_rollup", "polars_naive_over_rollup",
    "targets", "failed_steps",
)  # fmt: skip


def test_scale_data_is_a_valid_source_reused_and_extended_by_one_day(tmp_path: Path):
    data = ensure_scale_data(3000, days=5, seed=3, data_dir=tmp_path)
    assert data.seconds is not None and len(list(data.tickets_dir.glob("*.parquet"))) == 5
    ds = load_dataset(data.folder)
    report = ds.reports["tickets"]
    assert report.rows_read == report.rows_loaded == 3000 and not report.rejections
    tickets = ds.tables["tickets"]
    assert tickets["created_at"].dt.date().max() == data.end
    assert tickets["closed_at"].null_count() > 0  # some tickets are still open
    assert ensure_scale_data(3000, days=5, seed=3, data_dir=tmp_path).seconds is None  # reused

    new_day = add_next_day(data)
    assert new_day.name == f"{data.end + dt.timedelta(days=1)}.parquet"
    extended = load_dataset(data.folder).tables["tickets"]
    assert extended.height > 3000 and extended["ticket_id"].n_unique() == extended.height
    assert pl.read_parquet(new_day)["created_at"].dt.date().unique().to_list() == [data.end + dt.timedelta(days=1)]
    ensure_scale_data(3000, days=5, seed=3, data_dir=tmp_path)  # a left-over added day is removed on reuse
    assert not new_day.exists()


def test_tiny_benchmark_run_reports_every_measurement(tmp_path: Path):
    out, report = tmp_path / "bench.json", tmp_path / "bench.md"
    command = [sys.executable, "bench/run.py", "--tickets", "20000", "--days", "7", "--data-dir", str(tmp_path)]
    command += ["--repeat", "1", "--rounds", "2", "--json", str(out), "--markdown", str(report)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads(out.read_text())
    assert not [k for k in KEYS if k not in results] and results["failed_steps"] == {}
    timed = ("rollup_s", "polars_naive_s", "pandas_s", "duckdb_s", "polars_hist_s", "duckdb_hist_s", "polars_read_s")
    for key in (*timed, "duckdb_read_s"):
        assert results[key] > 0, key
    for key in (*timed, "duckdb_read_s"):  # the median of the two interleaved rounds, each run listed
        runs = results[key.removesuffix("_s") + "_runs_s"]
        assert len(runs) == 2 and results[key] == pytest.approx(sum(runs) / 2, abs=0.006)
    assert results["rounds"] == 2 and "median of 2 interleaved rounds" in report.read_text()
    assert results["incremental_s"] > 0 and results["rollup_load_ms"] > 0 and results["page_ms"] > 0
    assert results["polars_naive_groups"] == results["pandas_groups"] == results["duckdb_groups"] > 0
    assert results["polars_hist_groups"] == results["duckdb_hist_groups"] > results["duckdb_groups"]
    assert results["polars_read_groups"] == results["duckdb_read_groups"] >= 15  # every column the rollups read
    assert results["rollup_partitions"] == 7 and results["incremental_rebuilt"] == 1
    assert results["percentiles_compared_small_groups"] > 0
    assert results["percentile_error_max"] <= results["percentile_error_bound"]
    assert results["count_mismatches"] == 0
    assert {t["target"] for t in results["targets"]} >= {"page_ms ≤ 150", "percentile error ≤ bound"}
    assert report.read_text() in done.stdout and "| target | measured | limit | result |" in done.stdout
    assert not list(tmp_path.glob("rollups-*"))  # the run's rollup cache is removed
