"""The scale benchmark: its generated data is a valid source, and a tiny run measures every step (no timing asserts)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from bench import equal_work
from bench.scale_data import add_next_day, ensure_scale_data
from queries.engines.rollups.build import build_rollups
from queries.sources.dataset import load_dataset

REPO = Path(__file__).resolve().parent.parent

KEYS = (
    "tickets", "days", "files", "data_mb", "machine",
    "rollup_s", "rollup_peak_rss_mb", "rollup_partitions", "rollup_cache_mb",
    "polars_naive_s", "polars_naive_peak_rss_mb", "polars_naive_groups",
    "pandas_s", "pandas_peak_rss_mb", "pandas_groups",
    "duckdb_s", "duckdb_peak_rss_mb", "duckdb_groups",
    "duckdb_equal_s", "duckdb_equal_peak_rss_mb", "duckdb_equal_groups", "duckdb_equal_runs_s",
    "duckdb_equal_mismatches", "duckdb_equal_tables_compared", "rollup_over_duckdb_equal",
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
    timed = (
        "rollup_s",
        "duckdb_equal_s",
        "polars_naive_s",
        "pandas_s",
        "duckdb_s",
        "polars_hist_s",
        "duckdb_hist_s",
        "polars_read_s",
    )
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
    # every table at every level (format 13: the six rollup dimensions, language included)
    assert results["duckdb_equal_mismatches"] == 0 and results["duckdb_equal_tables_compared"] == 63
    assert results["duckdb_equal_groups"] > results["duckdb_groups"]  # day × all six dimensions
    assert {t["target"] for t in results["targets"]} >= {
        "page_ms ≤ 150",
        "percentile error ≤ bound",
        "rollup_s ≤ 0.8 × duckdb_equal_s",
        "duckdb_equal_mismatches = 0",
    }
    assert report.read_text() in done.stdout and "| target | measured | limit | result |" in done.stdout
    assert not list(tmp_path.glob("rollups-*"))  # the run's rollup cache is removed


def test_equal_work_duckdb_build_equals_the_rollups_with_rejected_and_quarantined_rows(tmp_path: Path):
    """The DuckDB build applies the loader's rules as the rollups do (rows rejected by reason, duplicates, optional
    fields quarantined), and the check notices a table that differs."""
    data = ensure_scale_data(3000, days=3, seed=5, data_dir=tmp_path / "data")
    source = tmp_path / "bad"
    (source / "tickets").mkdir(parents=True)
    for i, path in enumerate(sorted(data.tickets_dir.glob("*.parquet"))):
        frame = pl.read_parquet(path)
        if i == 1:
            row = pl.int_range(pl.len())
            before = pl.col("created_at") - pl.duration(hours=1)
            frame = frame.with_columns(
                pl.when(row == 0).then(None).otherwise(pl.col("ticket_id")).alias("ticket_id"),
                pl.when(row == 1).then(dt.datetime(1960, 1, 1)).otherwise(pl.col("created_at")).alias("created_at"),
                pl.when(row.is_between(2, 9)).then(before).otherwise(pl.col("closed_at")).alias("closed_at"),
                pl.when(row.is_between(10, 14)).then(before).otherwise(pl.col("first_action_at"))
                .alias("first_action_at"),
                pl.when(row.is_between(15, 19)).then(-5.0).when(row == 20).then(float("nan"))
                .otherwise(pl.col("handle_seconds")).alias("handle_seconds"),
                pl.when(row.is_between(21, 24)).then(pl.lit("rumour")).otherwise(pl.col("source")).alias("source"),
                pl.when(row.is_between(25, 27)).then(-1).otherwise(pl.col("views_before_action"))
                .alias("views_before_action"),
            )  # fmt: skip
            frame = pl.concat([frame, frame.slice(100, 3)])  # three ticket_ids twice
        frame.write_parquet(source / "tickets" / path.name)
    rollups, _ = build_rollups(source, cache_dir=tmp_path / "cache")
    assert rollups.rejections == {
        "missing ticket_id": 1,
        "created_at out of range": 1,
        "duplicate ticket_id": 6,
    }
    assert len(rollups.quarantined) == 6
    out = tmp_path / "duckdb"
    built = equal_work.build(source, out)
    assert built["rows"] == rollups.rows and built["rejected_rows"] == rollups.rejected_rows == 8
    assert equal_work.compare(rollups, out)["duckdb_equal_mismatches"] == 0

    hist = equal_work.read_output(out / "created_hist@market.arrow")
    hist.with_columns(pl.col("count") + (pl.int_range(pl.len()) == 0).cast(pl.Int64)).write_ipc(
        out / "created_hist@market.arrow"
    )
    (out / "rejected.arrow").unlink()
    pl.DataFrame({"_reason": ["missing ticket_id"], "rows": [1]}).write_ipc(out / "rejected.arrow")
    differ = equal_work.compare(rollups, out)
    assert differ["duckdb_equal_mismatches"] == 3
    assert differ["duckdb_equal_differing"] == ["created_hist@market", "rejected"]
