"""`python -m forecasting` as planners' scripts run it."""

from __future__ import annotations

import datetime as dt
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from queries.demo import generate_demo

REPO = Path(__file__).resolve().parent.parent


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "forecasting", *args], cwd=REPO, capture_output=True, text=True, timeout=600
    )


def erlang_c_reference(agents: int, traffic: float) -> float:
    """Probability of waiting from the Erlang B recursion (independent of the module under test)."""
    b = 1.0
    for k in range(1, agents + 1):
        b = traffic * b / (k + traffic * b)
    return agents * b / (agents - traffic * (1 - b))


def test_staff_matches_erlang_c_from_first_principles():
    result = cli(
        "staff", "--volume", "100", "--interval-minutes", "30", "--aht-seconds", "180",
        "--target-seconds", "20", "--service-level", "0.8", "--shrinkage", "0.3", "--format", "json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    fields = {"traffic_erlangs", "agents", "positions", "service_level", "occupancy", "asa_seconds", "prob_wait"}
    assert set(out) == fields
    assert out["traffic_erlangs"] == pytest.approx(10.0)

    def level(n: int) -> float:
        return 1 - erlang_c_reference(n, 10.0) * math.exp(-(n - 10.0) * 20 / 180)

    n = out["agents"]
    assert level(n) >= 0.8 > level(n - 1)
    assert out["service_level"] == pytest.approx(level(n), abs=1e-4)
    assert out["prob_wait"] == pytest.approx(erlang_c_reference(n, 10.0), abs=1e-4)
    assert out["positions"] == math.ceil(n / 0.7)


def test_staff_with_patience_reports_abandonment_and_needs_no_more_agents():
    base = ["staff", "--volume", "100", "--interval-minutes", "30", "--aht-seconds", "180",
            "--target-seconds", "20", "--service-level", "0.8", "--format", "json"]  # fmt: skip
    c = json.loads(cli(*base).stdout)
    a = json.loads(cli(*base, "--patience-seconds", "120").stdout)
    assert 0 < a["abandon_rate"] < 0.2 and a["agents"] <= c["agents"]


def test_staff_rejects_bad_input_with_a_message():
    result = cli("staff", "--volume", "-5", "--interval-minutes", "30", "--aht-seconds", "60",
                 "--target-seconds", "20", "--service-level", "0.8")  # fmt: skip
    assert result.returncode == 1 and "error:" in result.stderr and "Traceback" not in result.stderr


def business_days_csv(path: Path) -> Path:
    """Two rows a day (09:00 and 15:30) on business days only, 2025-01-06 (Monday) to 2025-05-05 (Monday)."""
    rows = ["when,count"]
    for d in range(120):
        day = START + dt.timedelta(days=d)
        if day.weekday() >= 5:
            continue  # business days only
        rows += [f"{day} 09:00,{50 + 10 * (d % 7)}", f"{day} 15:30,{20}"]
    path.write_text("\n".join(rows) + "\n")
    return path


START = dt.date(2025, 1, 6)
MODEL_NAMES = {"seasonal_naive", "ets", "seasonal_regression", "recent_mean"}


@pytest.mark.parametrize("fill", ["zero", "interpolate"])
def test_forecast_from_a_csv_of_business_days_has_rows_for_business_days_only(tmp_path: Path, fill: str):
    path = business_days_csv(tmp_path / "series.csv")
    result = cli("forecast", "--series", str(path), "--date-col", "when", "--value-col", "count",
                 "--horizon", "14", "--fill", fill, "--format", "json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    records = json.loads(result.stdout)
    last_day = START + dt.timedelta(days=119)  # a Monday, so it has data
    expected = [last_day + dt.timedelta(days=i) for i in range(1, 15)]
    assert [r["ds"] for r in records] == [str(d) for d in expected if d.weekday() < 5]  # 10 business days
    for r in records:
        assert r["lo_95"] <= r["lo_80"] <= r["mean"] <= r["hi_80"] <= r["hi_95"] and r["lo_95"] >= 0
        assert 60 <= r["mean"] <= 140  # 70-130 a business day, not dragged down by weekend zeros
    assert len({r["model"] for r in records}) == 1 and records[0]["model"] in MODEL_NAMES
    missing = cli("forecast", "--series", str(path), "--date-col", "day", "--value-col", "count", "--horizon", "7")
    assert missing.returncode == 1 and "no column 'day'" in missing.stderr


def test_every_forecast_row_names_its_model(tmp_path: Path):
    path = business_days_csv(tmp_path / "series.csv")
    for model in ("ets", "seasonal_naive"):
        result = cli("forecast", "--series", str(path), "--date-col", "when", "--value-col", "count",
                     "--horizon", "7", "--model", model, "--format", "csv")  # fmt: skip
        assert result.returncode == 0, result.stderr
        header, *rows = result.stdout.splitlines()
        assert header.split(",")[:3] == ["series", "model", "ds"]
        assert len(rows) == 5 and all(row.split(",")[1] == model for row in rows)


def test_backtest_on_a_demo_source(tmp_path: Path):
    generate_demo(tmp_path / "demo", days=200, tickets_per_day=300, seed=4, end=dt.date(2026, 5, 31))
    result = cli("backtest", "--source", str(tmp_path / "demo"), "--by", "policy_domain", "--horizon", "14",
                 "--folds", "4", "--format", "json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    scores = json.loads(result.stdout)
    assert len(scores) == 10
    for s in scores:
        assert set(s) == {"series", "model", "mase", "baseline_mase", "coverage_80", "coverage_95", "closed_weekdays"}
        assert s["model"] in MODEL_NAMES  # the chosen model, named
        assert s["closed_weekdays"] == ""  # the demo works every day
        assert 0 <= s["coverage_80"] <= s["coverage_95"] <= 1


def test_backtest_of_a_weekday_only_source_names_the_model_and_the_closed_days(tmp_path: Path):
    rng = np.random.default_rng(5)
    rows = []
    for d in range(20 * 7):
        day = START + dt.timedelta(days=d)
        if day.weekday() < 5:  # tickets on business days only
            rows += [(f"t{d}-{k}", dt.datetime.combine(day, dt.time(9))) for k in range(rng.poisson(40))]
    (tmp_path / "src").mkdir()
    extract = pl.DataFrame(rows, schema=["ticket_id", "created_at"], orient="row")
    extract.write_csv(tmp_path / "src/tickets.csv", datetime_format="%Y-%m-%d %H:%M:%S")  # a CSV export, as teams have
    result = cli("backtest", "--source", str(tmp_path / "src"), "--horizon", "14", "--format", "json")
    assert result.returncode == 0, result.stderr
    [score] = json.loads(result.stdout)
    assert score["model"] in {"ets", "seasonal_regression"} and score["closed_weekdays"] == "Sat, Sun"  # not a fallback
    assert score["mase"] < min(1.2, score["baseline_mase"])  # on business days, not against weekend zeros
