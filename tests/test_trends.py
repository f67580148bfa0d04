"""Trend volumes, emerging trends and forecast-band breaches against plain loops; the `spikes` command line."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from queries.analyses.spikes import detect_spikes
from queries.analyses.trends import band_breaches, emerging_trends, top_and_other, volume_over_time
from queries.export import safe_csv
from queries.filters import Filters
from queries.sources.dataset import Dataset, load_dataset

REPO = Path(__file__).resolve().parent.parent
MONDAY = dt.date(2025, 3, 3)
WEEKS = 10


def write_source(folder: Path, weekly: dict[tuple[str, str], list[int]], dau: dict[str, list[float]]) -> Path:
    """Tickets spread over each week's days for weekly[(domain, market)][week]; DAU per market and week."""
    rng = np.random.default_rng(1)
    rows = []
    for (domain, market), counts in weekly.items():
        for week, n in enumerate(counts):
            for _ in range(n):
                created = dt.datetime.combine(MONDAY, dt.time()) + dt.timedelta(
                    days=7 * week, seconds=int(rng.integers(0, 7 * 86400))
                )
                rows.append(
                    {
                        "ticket_id": f"t{len(rows)}",
                        "created_at": created,
                        "policy_domain": domain,
                        "market": market,
                        "language": str(rng.choice(["en", "es"])),
                    }
                )
    pl.DataFrame(rows).write_parquet(folder / "tickets.parquet")
    if dau:
        days = [MONDAY + dt.timedelta(days=d) for d in range(7 * len(next(iter(dau.values()))))]
        pl.DataFrame(
            {
                "date": days * len(dau),
                "market": [m for m in dau for _ in days],
                "dau": [int(per_week[d // 7]) for per_week in dau.values() for d in range(len(days))],
            }
        ).write_parquet(folder / "platform_metrics.parquet")
    return folder


@pytest.fixture(scope="module")
def growing(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    """hate × US grows 12 % a week on a flat user base; spam × ID grows as fast as its users (flat per DAU);
    spam × US is flat; hate × ID is flat with a one-week burst."""
    weekly = {
        ("hate", "US"): [round(100 * 1.12**w) for w in range(WEEKS)],
        ("spam", "ID"): [round(100 * 1.12**w) for w in range(WEEKS)],
        ("spam", "US"): [100, 104, 97, 101, 99, 103, 98, 102, 100, 101],
        ("hate", "ID"): [100, 98, 103, 99, 300, 101, 97, 102, 99, 100],
    }
    dau = {"US": [1e6] * WEEKS, "ID": [1e6 * 1.12**w for w in range(WEEKS)]}
    return load_dataset(write_source(tmp_path_factory.mktemp("growing"), weekly, dau))


def test_volume_over_time_matches_a_loop(growing: Dataset):
    f = Filters(MONDAY + dt.timedelta(days=3), MONDAY + dt.timedelta(days=7 * WEEKS - 3))
    out = volume_over_time(growing, f, "market", "week")
    tickets: dict[tuple[dt.date, str], int] = defaultdict(int)
    for t in growing.tables["tickets"].iter_rows(named=True):
        day = t["created_at"].date()
        if f.start <= day <= f.end:
            tickets[(day - dt.timedelta(days=day.weekday()), t["market"])] += 1
    dau = {(r["date"], r["market"]): r["dau"] for r in growing.tables["platform_metrics"].iter_rows(named=True)}
    assert out.height == len(tickets)
    for rec in out.iter_rows(named=True):
        week, market = rec["period"], rec["market"]
        days = [week + dt.timedelta(days=d) for d in range(7) if f.start <= week + dt.timedelta(days=d) <= f.end]
        total = sum(n for (w, _), n in tickets.items() if w == week)
        assert rec["tickets"] == tickets[(week, market)]
        assert rec["share"] == pytest.approx(tickets[(week, market)] / total)
        assert rec["tickets_per_million_dau"] == pytest.approx(
            tickets[(week, market)] / sum(dau[(d, market)] for d in days) * 1e6
        )
        assert rec["days"] == len(days) and rec["partial"] == (len(days) < 7)
    assert out.filter(pl.col("partial"))["period"].unique().sort().to_list() == [MONDAY, MONDAY + dt.timedelta(weeks=9)]


def test_volume_over_time_in_total_and_by_month_without_user_counts(tmp_path: Path):
    ds = load_dataset(write_source(tmp_path, {("hate", "US"): [7] * 8}, {}))
    out = volume_over_time(ds, Filters(MONDAY, MONDAY + dt.timedelta(days=55)), None, "month")
    assert out["tickets"].sum() == 56 and out["share"].to_list() == [1.0] * out.height
    assert out["tickets_per_million_dau"].is_null().all()
    assert out["days"].to_list() == [29, 27]  # 3–31 March, 1–27 April
    assert out["partial"].to_list() == [True, True]


def test_top_groups_and_other_add_up_like_a_loop(growing: Dataset):
    f = Filters(MONDAY, MONDAY + dt.timedelta(days=7 * WEEKS - 1))
    full = volume_over_time(growing, f, "market", "week")
    top = full.group_by("market").agg(pl.col("tickets").sum()).sort("tickets", descending=True)["market"][0]
    out = top_and_other(full, "market", 1)
    assert set(out["market"]) == {top, "Other"}
    tickets: dict[tuple[dt.date, str], int] = defaultdict(int)
    for t in growing.tables["tickets"].iter_rows(named=True):
        day = t["created_at"].date()
        tickets[(day - dt.timedelta(days=day.weekday()), t["market"])] += 1
    dau: dict[tuple[dt.date, str], int] = defaultdict(int)
    for r in growing.tables["platform_metrics"].iter_rows(named=True):
        dau[(r["date"] - dt.timedelta(days=r["date"].weekday()), r["market"])] += r["dau"]
    for rec in out.filter(pl.col("market") == "Other").iter_rows(named=True):
        others = [m for (w, m) in tickets if w == rec["period"] and m != top]
        assert rec["tickets"] == sum(tickets[(rec["period"], m)] for m in others)
        assert rec["tickets_per_million_dau"] == pytest.approx(
            rec["tickets"] / sum(dau[(rec["period"], m)] for m in others) * 1e6
        )
    assert out["tickets"].sum() == full["tickets"].sum()
    assert top_and_other(full, "market", 5).equals(full)  # no more groups than the top: unchanged


def test_other_policy_domains_add_their_rates_over_the_same_users():
    volumes = pl.DataFrame(
        {
            "period": [MONDAY] * 3,
            "policy_domain": ["a", "b", "c"],
            "tickets": [50, 30, 20],
            "share": [0.5, 0.3, 0.2],
            "tickets_per_million_dau": [5.0, 3.0, 2.0],
            "dau_days": [10e6, 10e6, 10e6],
            "days": [7] * 3,
            "partial": [False] * 3,
        }
    )
    other = top_and_other(volumes, "policy_domain", 1).filter(pl.col("policy_domain") == "Other").row(0, named=True)
    assert (other["tickets"], other["share"], other["tickets_per_million_dau"]) == (50, pytest.approx(0.5), 5.0)


def theil_sen(x: list[float], y: list[float]) -> float:
    return float(np.median([(y[j] - y[i]) / (x[j] - x[i]) for i, j in itertools.combinations(range(len(x)), 2)]))


def kendall_exact_p(y: list[float]) -> float:
    """One-sided p of a rising trend: share of orderings with at least as many concordant pairs."""

    def s(values) -> int:
        return sum(np.sign(values[j] - values[i]) for i, j in itertools.combinations(range(len(values)), 2))

    observed = s(y)
    orderings = list(itertools.permutations(range(len(y))))
    return sum(s(p) >= observed for p in orderings) / len(orderings)


def test_emerging_trends_find_steady_growth_per_user_not_bursts_or_user_growth(growing: Dataset):
    f = Filters(MONDAY, MONDAY + dt.timedelta(days=7 * WEEKS - 1))
    out, measure = emerging_trends(growing, f, ["policy_domain", "market"], weeks=8)
    assert measure == "tickets_per_million_dau"
    by_group = {(r["policy_domain"], r["market"]): r for r in out.iter_rows(named=True)}
    assert out.filter(pl.col("significant"))[["policy_domain", "market"]].rows() == [("hate", "US")]
    assert not by_group[("spam", "ID")]["significant"]  # tickets grow with the users
    assert not by_group[("hate", "ID")]["significant"]  # one burst week is not a trend

    rising = by_group[("hate", "US")]
    weeks = [round(100 * 1.12**w) for w in range(2, WEEKS)]  # the last 8 full weeks
    log_rate = [np.log((n + 0.5) / 7) for n in weeks]  # 7 days × 1M DAU per week
    assert rising["weeks"] == 8 and rising["tickets"] == sum(weeks)
    assert rising["growth_per_week"] == pytest.approx(np.expm1(theil_sen(list(range(8)), log_rate)))
    assert rising["growth_per_week"] == pytest.approx(0.12, abs=0.01)
    assert rising["p_value"] == pytest.approx(kendall_exact_p(log_rate))
    assert rising["weekly_rates"] == pytest.approx([n / 7 for n in weeks])


def test_emerging_trends_use_counts_without_user_numbers_and_need_weeks(tmp_path: Path):
    ds = load_dataset(write_source(tmp_path, {("hate", "US"): [round(50 * 1.2**w) for w in range(WEEKS)]}, {}))
    out, measure = emerging_trends(ds, Filters(MONDAY, MONDAY + dt.timedelta(days=7 * WEEKS - 1)), ["market"])
    assert measure == "tickets" and out["significant"].to_list() == [True]
    short, _ = emerging_trends(ds, Filters(MONDAY, MONDAY + dt.timedelta(days=20)), ["market"])
    assert short.is_empty()


def test_band_breaches_take_the_latest_forecast_of_each_day():
    day = dt.date(2026, 1, 1)
    rows = [
        # series, origin, ds, actual, mean, lo_95, hi_95
        ("total", day, day + dt.timedelta(days=1), 150.0, 100.0, 80.0, 120.0),
        ("total", day + dt.timedelta(days=1), day + dt.timedelta(days=1), 150.0, 140.0, 120.0, 160.0),
        ("total", day, day + dt.timedelta(days=2), 50.0, 100.0, 80.0, 120.0),
        ("total", day, day + dt.timedelta(days=3), 100.0, 100.0, 80.0, 120.0),
        ("hate", day, day + dt.timedelta(days=3), 500.0, 10.0, 5.0, 15.0),
    ]
    backtests = pl.DataFrame(rows, schema=["series", "origin", "ds", "actual", "mean", "lo_95", "hi_95"], orient="row")
    band = band_breaches(backtests, "total")
    assert band["ds"].to_list() == [day + dt.timedelta(days=d) for d in (1, 2, 3)]
    assert band["mean"].to_list() == [140.0, 100.0, 100.0]  # day 1 from the later origin
    assert band["outside"].to_list() == [None, "below", None]


def test_exported_spike_list_cannot_run_spreadsheet_formulas():
    spikes = pl.DataFrame({"policy_domain": ['=HYPERLINK("x")', "@sum", "hate"], "excess": [1.0, -2.0, 3.0]})
    lines = safe_csv(spikes).splitlines()
    assert lines[1].startswith("\"'=HYPERLINK") and lines[2].startswith("'@sum") and lines[3] == "hate,3.0"


# --- python -m queries spikes ---------------------------------------------------------------


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "queries", *args], cwd=REPO, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def spiky_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """120 days of two domains, about 50 tickets a day each; spam triples from day 90 to 92."""
    rng = np.random.default_rng(2)
    start = dt.datetime(2025, 1, 6)
    lines = ["ticket_id,created_at,policy_domain,market"]
    for day in range(120):
        for domain in ("hate", "spam"):
            mean = 150 if domain == "spam" and 90 <= day <= 92 else 50
            for i in range(rng.poisson(mean)):
                created = start + dt.timedelta(days=day, seconds=int(rng.integers(0, 86400)))
                lines.append(f"{domain}{day}-{i},{created:%Y-%m-%d %H:%M:%S},{domain},US")
    folder = tmp_path_factory.mktemp("spiky_cli")
    (folder / "tickets.csv").write_text("\n".join(lines) + "\n")
    return folder


def test_spikes_command_prints_the_records_the_detector_finds(spiky_source: Path):
    result = cli("spikes", "--source", str(spiky_source), "--by", "policy_domain,market", "--format", "json")
    assert result.returncode == 0, result.stderr
    records = json.loads(result.stdout)
    assert [(r["policy_domain"], r["market"], r["start"], r["end"]) for r in records] == [
        ("spam", "US", "2025-04-06", "2025-04-08")
    ]
    ds = load_dataset(spiky_source)
    expected = detect_spikes(ds, Filters(dt.date(2025, 1, 6), dt.date(2025, 5, 5)), ["policy_domain", "market"])
    record = records[0]
    assert set(record) >= {"start", "end", "observed", "expected", "excess", "ratio", "score"}
    assert list(record)[:4] == ["start", "end", "policy_domain", "market"]
    assert record["observed"] == expected["observed"][0]
    assert record["expected"] == pytest.approx(expected["expected"][0])
    assert record["excess"] == pytest.approx(record["observed"] - record["expected"])
    assert record["ratio"] == pytest.approx(record["observed"] / record["expected"])


def test_spikes_command_honours_the_period_and_sensitivity(spiky_source: Path):
    before = cli("spikes", "--source", str(spiky_source), "--by", "policy_domain", "--end", "2025-04-01")
    assert before.returncode == 0 and "spam" not in before.stdout
    csv = cli(
        "spikes", "--source", str(spiky_source), "--by", "policy_domain", "--sensitivity", "0.2", "--format", "csv"
    )
    assert csv.stdout.splitlines()[0].startswith("start,end,policy_domain,")


def test_spikes_command_without_groups_tests_the_total(spiky_source: Path):
    result = cli("spikes", "--source", str(spiky_source), "--by", " ", "--format", "csv")
    assert result.returncode == 0 and result.stdout.splitlines()[0].startswith("start,end,days,")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--by", "nope"), "--by 'nope' is not a tickets field"),
        (("--by", "market", "--sensitivity", "2"), "sensitivity is a false discovery rate between 0 and 1"),
    ],
)
def test_spikes_command_explains_bad_input_without_a_traceback(spiky_source: Path, args, message):
    result = cli("spikes", "--source", str(spiky_source), *args)
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr
