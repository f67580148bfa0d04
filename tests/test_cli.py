"""`python -m queries` as a script user runs it: exit codes, formats, and messages without tracebacks."""

from __future__ import annotations

import datetime as dt
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
    assert "tickets: 6 of 6 rows loaded" in result.stdout  # an impossible first action: the ticket stays
    assert "first_action_at: first action before created" in result.stdout and "row 6" in result.stdout
    assert "times without an offset read as UTC (no timezone given)" in result.stdout
    as_json = json.loads(cli("validate", "--source", str(source), "--format", "json").stdout)
    assert as_json[0]["rejected"] == []
    assert as_json[0]["quarantined"] == [
        {
            "field": "first_action_at",
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


def _summarize_json(source: Path, *args: str) -> list[dict]:
    result = cli("summarize", "--source", str(source), *args, "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_summarize_backlog_per_day_matches_a_loop_and_the_open_backlog(source: Path):
    records = _summarize_json(source, "--metric", "backlog", "--period", "day")
    valid = [line.split(",") for line in TICKETS.strip().splitlines()[1:]]  # row 6's first action is quarantined
    created = [dt.datetime.fromisoformat(r[1]) for r in valid]
    closed = [dt.datetime.fromisoformat(r[3]) if r[3] else None for r in valid]
    first_day = dt.date(2025, 3, 3)
    assert [r["period"] for r in records] == [str(first_day + dt.timedelta(days=i)) for i in range(10)]
    for rec in records:
        begin = dt.datetime.fromisoformat(rec["period"])
        end = begin + dt.timedelta(days=1)
        open_at = [c < end and (x is None or x >= end) for c, x in zip(created, closed, strict=True)]
        assert rec["arrivals"] == sum(begin <= c < end for c in created)
        assert rec["closures"] == sum(x is not None and begin <= x < end for x in closed)
        assert rec["open_end"] == sum(open_at) == rec["open_start"] + rec["arrivals"] - rec["closures"]
        ages = [(end - c).total_seconds() / 3600 for c, o in zip(created, open_at, strict=True) if o]
        assert rec["oldest_open_hours"] == (pytest.approx(max(ages)) if ages else None)
    assert records[2]["oldest_open_hours"] == pytest.approx(14.0)  # ticket 3, created 10:00 on the 5th
    point = _summarize_json(source, "--metric", "open_backlog")
    assert point == [{"open_tickets": records[-1]["open_end"]}] == [{"open_tickets": 3}]
    weekly = _summarize_json(source, "--metric", "backlog", "--period", "week", "--by", "policy_domain")
    assert {(r["policy_domain"], r["period"]) for r in weekly} == {
        (d, w) for d in ("hate", "spam") for w in ("2025-03-03", "2025-03-10")
    }


def test_summarize_exposure_matches_numpy(tmp_path: Path):
    (tmp_path / "tickets.csv").write_text(
        "ticket_id,created_at,first_action_at,views_before_action,policy_domain\n"
        "1,2025-03-03 10:00:00,2025-03-03 10:30:00,0,hate\n"
        "2,2025-03-03 11:00:00,2025-03-04 11:00:00,12,hate\n"  # exactly 24 h: within
        "3,2025-03-03 12:00:00,2025-03-05 12:00:00,30,hate\n"
        "4,2025-03-04 09:00:00,,,spam\n"  # not actioned: not counted
        "5,2025-03-04 10:00:00,2025-03-04 10:01:00,,spam\n"  # views unknown
        "6,2025-03-04 11:00:00,2025-03-04 11:05:00,3,spam\n"
    )
    records = {
        r["policy_domain"]: r for r in _summarize_json(tmp_path, "--metric", "exposure", "--by", "policy_domain")
    }
    assert records["hate"]["tickets"] == 3
    assert records["hate"]["zero_view_share"] == pytest.approx(1 / 3)
    assert records["hate"]["within_24h_share"] == pytest.approx(2 / 3)
    assert records["hate"]["p50_views"] == pytest.approx(np.percentile([0, 12, 30], 50))
    assert records["hate"]["p90_views"] == pytest.approx(np.percentile([0, 12, 30], 90))
    assert records["spam"] == {
        "policy_domain": "spam",
        "tickets": 2,
        "zero_view_share": 0.0,
        "within_24h_share": 1.0,
        "p50_views": 3.0,
        "p90_views": 3.0,
    }
    result = cli("summarize", "--source", str(tmp_path), "--metric", "backlog")
    assert result.returncode == 1 and "needs tickets.closed_at" in result.stderr


def test_summarize_sla_fields(tmp_path: Path):
    source = tmp_path / "src"
    source.mkdir()
    (source / "tickets.csv").write_text(TICKETS.rsplit("6,", 1)[0])  # tickets 1 to 5
    # Default policy: every ticket here falls under "Other reports: 24 h". Ticket 4 has waited exactly 24 h at
    # the data's latest timestamp (2025-03-12 10:00), which is not past its target: not measured yet.
    assert _summarize_json(source, "--metric", "sla") == [{"tickets": 5, "measured": 4, "met": 4, "attainment": 1.0}]
    strict = tmp_path / "strict.toml"
    strict.write_text('[[rule]]\nname = "45 min"\ntarget_seconds = 2700\n')
    weekly = _summarize_json(source, "--metric", "sla", "--period", "week", "--sla-policy", str(strict))
    # 45 min: tickets 1 (30 min) and 3 (6 min) meet it, 2 (1 h) and 5 (2 h) miss, 4 (waiting 24 h) misses.
    assert weekly == [
        {"period": "2025-03-03", "tickets": 3, "measured": 3, "met": 2, "attainment": pytest.approx(2 / 3)},
        {"period": "2025-03-10", "tickets": 2, "measured": 2, "met": 0, "attainment": 0.0},
    ]


def test_sentinel_dates_are_rejected_and_counted_not_a_traceback(tmp_path: Path):
    (tmp_path / "tickets.csv").write_text(TICKETS + "7,9999-12-31,,,hate\n8,2025-03-12 09:00:00,,9999-12-31,spam\n")
    for command in (["summarize", "--metric", "volume", "--period", "day"], ["spikes", "--by", "policy_domain"]):
        result = cli(command[0], "--source", str(tmp_path), *command[1:], "--format", "json")
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    days = [
        r["period"]
        for r in json.loads(
            cli(
                "summarize", "--source", str(tmp_path), "--metric", "volume", "--period", "day", "--format", "json"
            ).stdout
        )
    ]
    assert days[0] == "2025-03-03" and days[-1] == "2025-03-12"
    report = json.loads(cli("validate", "--source", str(tmp_path), "--format", "json").stdout)[0]
    assert {r["reason"]: r["rows"] for r in report["rejected"]} == {"created_at out of range": 1}
    assert {(r["field"], r["reason"]): r["rows"] for r in report["quarantined"]} == {
        ("first_action_at", "first action before created"): 1,
        ("closed_at", "closed_at out of range"): 1,
    }


def test_a_row_in_the_future_is_reported_and_does_not_extend_the_default_period(tmp_path: Path):
    (tmp_path / "tickets.csv").write_text(TICKETS + "7,2031-01-01 10:00:00,,,hate\n")
    text = cli("validate", "--source", str(tmp_path)).stdout
    assert "1 with a timestamp in the future" in text and "latest 2025-03-12 08:00:00" in text
    report = json.loads(cli("validate", "--source", str(tmp_path), "--format", "json").stdout)[0]
    assert report["rows_in_future"] == 1 and report["rows_loaded"] == 7
    volume = _summarize_json(tmp_path, "--metric", "volume")
    assert volume == [{"tickets": 6}]  # 2025-03-03 to 2025-03-12: the 2031 ticket is outside the default period


def test_a_multibyte_separator_is_a_clear_error(tmp_path: Path):
    (tmp_path / "tickets.csv").write_text("ticket_id→created_at\n1→2025-01-01\n", encoding="utf-8")
    (tmp_path / "m.toml").write_text('[tickets]\nseparator = "→"\n', encoding="utf-8")
    result = cli("validate", "--source", str(tmp_path), "--mapping", str(tmp_path / "m.toml"))
    assert result.returncode == 1 and "separator" in result.stderr and "one byte" in result.stderr
    assert "Traceback" not in result.stderr


def test_validate_lists_unknown_values_with_a_block_to_paste_and_the_columns_taken_by_name(tmp_path: Path):
    (tmp_path / "tickets.csv").write_text(
        "ticket_id,opened,source,priority\n"
        "1,2025-03-03 10:00:00,Call,P1\n"
        "2,2025-03-03 11:00:00,Self Service,P1\n"
        "3,2025-03-03 12:00:00,Call,P2\n"
        "4,2025-03-03 13:00:00,User Report,P1\n"
        "5,2025-03-03 14:00:00,user_report,P1\n"
    )
    mapping = tmp_path / "m.toml"
    mapping.write_text('[tickets.columns]\ncreated_at = "opened"\n')
    result = cli("validate", "--source", str(tmp_path), "--mapping", str(mapping))
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "tickets: 5 of 5 rows loaded" in text
    assert "        2  'Call'" in text and "        1  'Self Service'" in text
    assert "`source` taken from your column `source`" in text and "`priority` taken from your column `priority`" in text
    report = json.loads(
        cli("validate", "--source", str(tmp_path), "--mapping", str(mapping), "--format", "json").stdout
    )
    (unknown,) = report[0]["unknown_values"]
    assert unknown["field"] == "source" and "proactive_model" in unknown["allowed"]
    assert unknown["values"] == [
        {"value": "Call", "rows": 2},
        {"value": "Self Service", "rows": 1},
        {"value": "User Report", "rows": 1},
    ]
    assert report[0]["taken_by_name"] == {"ticket_id": "ticket_id", "source": "source", "priority": "priority"}
    block = unknown["mapping"]
    assert block.splitlines()[0].startswith("[tickets.values.source]  # allowed: user_report, proactive_model")
    assert '"Call" = "?"  # 2 rows' in block and '"User Report" = "user_report"' in block
    # Pasted as it is, the block is valid TOML that the mapping refuses until each ? is replaced.
    mapping.write_text('[tickets.columns]\ncreated_at = "opened"\n' + block + "\n")
    refused = cli("validate", "--source", str(tmp_path), "--mapping", str(mapping))
    assert refused.returncode == 1 and "maps to '?'" in refused.stderr and "Allowed values" in refused.stderr
    mapping.write_text(
        '[tickets.columns]\ncreated_at = "opened"\n'
        + block.replace('"Call" = "?"', '"Call" = "user_report"').replace(
            '"Self Service" = "?"', '"Self Service" = "user_report"'
        )
        + "\n"
    )
    fixed = json.loads(cli("validate", "--source", str(tmp_path), "--mapping", str(mapping), "--format", "json").stdout)
    assert fixed[0]["quarantined"] == [] and fixed[0]["unknown_values"] == []


@pytest.mark.parametrize("served", ["rows", "rollups"])
def test_spikes_without_by_tests_the_total(served: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The same spike from ticket rows and, above BELLWETHER_ROLLUP_ROWS, from the rollups the dashboard serves."""
    rows, day0 = [], dt.date(2025, 1, 1)
    for d in range(70):
        count = 200 if d in (60, 61, 62) else 40 + (d * 7) % 9  # three days at five times the usual volume
        rows += [f"t{d}-{i},{day0 + dt.timedelta(days=d)} {i % 24:02d}:00:00\n" for i in range(count)]
    source = tmp_path / "source"
    source.mkdir()
    (source / "tickets.csv").write_text("ticket_id,created_at\n" + "".join(rows))
    if served == "rollups":
        monkeypatch.setenv("BELLWETHER_ROLLUP_ROWS", "1")
        monkeypatch.setenv("BELLWETHER_DATA_DIR", str(tmp_path / "data"))
    result = cli("spikes", "--source", str(source), "--format", "json")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "data" / "cache" / "rollups").is_dir() == (served == "rollups")
    spikes = json.loads(result.stdout)
    assert [(s["start"], s["end"]) for s in spikes] == [("2025-03-02", "2025-03-04")]
