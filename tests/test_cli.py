"""`python -m queries` as a script user runs it: exit codes, formats, and messages without tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

REPO = Path(__file__).resolve().parent.parent

TICKETS = """ticket_id,created_at,first_action_at,closed_at,policy_domain
1,2025-03-03 10:00:00,2025-03-03 10:30:00,2025-03-03 12:00:00,hate
2,2025-03-04 10:00:00,2025-03-04 11:00:00,2025-03-04 11:30:00,hate
3,2025-03-05 10:00:00,2025-03-05 10:06:00,,spam
4,2025-03-11 10:00:00,,,spam
5,2025-03-12 08:00:00,2025-03-12 10:00:00,2025-03-12 10:00:00,hate
6,2025-03-12 08:00:00,2025-03-12 07:00:00,,hate
"""


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "queries", *args], cwd=REPO, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def source(tmp_path: Path) -> Path:
    (tmp_path / "tickets.csv").write_text(TICKETS)
    return tmp_path


def test_validate_prints_the_report_and_exits_zero_when_usable(source: Path):
    result = cli("validate", "--source", str(source))
    assert result.returncode == 0, result.stderr
    assert "tickets: 5 of 6 rows loaded" in result.stdout
    assert "first action before created" in result.stdout and "row 6" in result.stdout
    as_json = json.loads(cli("validate", "--source", str(source), "--format", "json").stdout)
    assert as_json[0]["rejected"] == [
        {
            "reason": "first action before created",
            "rows": 1,
            "examples": [
                f"{source / 'tickets.csv'} row 6: "
                "ticket_id='6', created_at='2025-03-12 08:00:00', first_action_at='2025-03-12 07:00:00'"
            ],
        }
    ]


def test_validate_exits_one_with_a_clear_message(tmp_path: Path):
    (tmp_path / "tickets.csv").write_text("ticket_id,when\n1,2025-01-01\n")
    result = cli("validate", "--source", str(tmp_path))
    assert result.returncode == 1
    assert "required field 'created_at'" in result.stderr and "Fix:" in result.stderr
    assert "Traceback" not in result.stderr
    bad_mapping = tmp_path / "m.toml"
    bad_mapping.write_text("[tickets.columns]\ncreated_at = 42\n")
    result = cli("validate", "--source", str(tmp_path), "--mapping", str(bad_mapping))
    assert result.returncode == 1 and "m.toml" in result.stderr and "Traceback" not in result.stderr


def test_summarize_json_by_group_and_week_matches_numpy(source: Path):
    result = cli(
        "summarize",
        "--source",
        str(source),
        "--metric",
        "time_to_first_action",
        "--by",
        "policy_domain",
        "--period",
        "week",
        "--format",
        "json",
    )
    assert result.returncode == 0, result.stderr
    records = json.loads(result.stdout)
    hate_w1 = next(r for r in records if r["policy_domain"] == "hate" and r["period"] == "2025-03-03")
    assert hate_w1["tickets"] == 2 and hate_w1["measured"] == 2
    assert hate_w1["p50_hours"] == pytest.approx(np.percentile([0.5, 1.0], 50))
    assert hate_w1["p90_hours"] == pytest.approx(np.percentile([0.5, 1.0], 90))
    spam_w2 = next(r for r in records if r["policy_domain"] == "spam" and r["period"] == "2025-03-10")
    assert spam_w2 == {
        "policy_domain": "spam",
        "period": "2025-03-10",
        "tickets": 1,
        "measured": 0,
        "p50_hours": None,
        "p90_hours": None,
        "mean_hours": None,
    }


def test_summarize_csv_and_table_and_dates(source: Path):
    csv = cli(
        "summarize",
        "--source",
        str(source),
        "--metric",
        "volume",
        "--start",
        "2025-03-04",
        "--end",
        "2025-03-11",
        "--format",
        "csv",
    )
    assert csv.returncode == 0, csv.stderr
    assert csv.stdout.strip().splitlines() == ["tickets", "3"]
    table = cli("summarize", "--source", str(source), "--metric", "time_to_close", "--by", "policy_domain")
    assert table.returncode == 0 and "p90_hours" in table.stdout and "hate" in table.stdout


def test_summarize_explains_what_is_missing(source: Path):
    result = cli("summarize", "--source", str(source), "--metric", "qa_accuracy")
    assert result.returncode == 1 and "needs the qa_reviews table" in result.stderr
    result = cli("summarize", "--source", str(source), "--metric", "volume", "--by", "planet")
    assert result.returncode == 1 and "'planet' is not a tickets field" in result.stderr


def test_demo_writes_a_warehouse_that_validates_cleanly(tmp_path: Path):
    out = tmp_path / "demo"
    result = cli(
        "demo", "--out", str(out), "--days", "30", "--tickets-per-day", "60", "--seed", "3", "--end", "2026-01-31"
    )
    assert result.returncode == 0, result.stderr
    assert {
        "tickets.parquet",
        "staffing.parquet",
        "qa_reviews.parquet",
        "platform_metrics.parquet",
        "events.parquet",
    } <= {p.name for p in out.iterdir()}
    report = json.loads(cli("validate", "--source", str(out), "--format", "json").stdout)
    assert all(t["rows_rejected"] == 0 for t in report), report
    assert pl.read_parquet(out / "tickets.parquet")["created_at"].max().date().isoformat() == "2026-01-31"
