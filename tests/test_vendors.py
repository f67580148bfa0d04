"""Vendor scorecards, trends and coverage against plain loops over the rows and hand-computed intervals."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from queries.analyses.vendors import coverage, domain_capacity, handle_time_by_domain, scorecard, trend
from queries.filters import Filters
from queries.sla import SlaPolicy, SlaRule
from queries.sources.dataset import Dataset, load_dataset
from tests.test_quality import hand_newcombe, hand_wilson

START = dt.date(2026, 1, 5)  # a Monday; 8 weeks of data
PREVIOUS = Filters(START, START + dt.timedelta(days=27))
CURRENT = Filters(START + dt.timedelta(days=28), START + dt.timedelta(days=55))
POLICY = SlaPolicy((SlaRule("everything: 10 min", 600.0, ()),), "test")
SITES = {"v1": ("s1", "s2"), "v2": ("s3",), "v3": ("s4",)}
ACCURACY = {"v1": 0.97, "v2": 0.80, "v3": 0.95}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    """Three vendors and automation; `de` demand doubles in the second month, `en` stays flat; v2 is clearly
    less accurate, v3 has too few QA reviews to tell."""
    rng = np.random.default_rng(5)
    tickets, qa = [], []
    for i in range(8000):
        language = "de" if rng.random() < 0.25 else "en"
        day = int(rng.integers(0, 56))
        if language == "de" and day < 28 and rng.random() < 0.5:
            day += 28  # twice as many German tickets in the second month
        created = dt.datetime.combine(START, dt.time()) + dt.timedelta(days=day, seconds=int(rng.integers(0, 86400)))
        vendor = str(rng.choice(["v1", "v2", "v3"], p=[0.5, 0.4, 0.1])) if rng.random() > 0.2 else None
        waited = int(rng.exponential(400)) if rng.random() > 0.03 else None
        acted = created + dt.timedelta(seconds=waited) if waited is not None else None
        appealed = bool(acted and rng.random() < 0.2)
        tickets.append(
            {
                "ticket_id": f"t{i}",
                "created_at": created,
                "first_action_at": acted,
                "vendor": vendor,
                "site": str(rng.choice(SITES[vendor])) if vendor else None,
                "language": language,
                "queue": str(rng.choice(["q1", "q2"])),
                "policy_domain": str(rng.choice(["hate", "spam"])),
                "automated": vendor is None,
                "handle_seconds": float(rng.gamma(2.0, 30.0)) if vendor and rng.random() > 0.05 else None,
                "decision": str(rng.choice(["violating", "non_violating"])) if acted else None,
                "appealed": appealed,
                "appeal_overturned": appealed and bool(rng.random() < (0.4 if vendor == "v2" else 0.15)),
            }
        )
        if vendor and acted and rng.random() < (0.3 if vendor != "v3" else 0.02):
            qa.append(
                {
                    "ticket_id": f"t{i}",
                    "reviewed_at": acted + dt.timedelta(hours=int(rng.integers(1, 40))),
                    "vendor": vendor,
                    "policy_domain": tickets[-1]["policy_domain"],
                    "is_correct": bool(rng.random() < ACCURACY[vendor]),
                }
            )
    staffing = [
        {
            "date": START + dt.timedelta(days=d),
            "vendor": vendor,
            "site": site,
            "language": language,
            "scheduled_fte": float(rng.uniform(0.5, 3.0)),
            "productive_hours": float(rng.uniform(2.0, 16.0)),
        }
        for d in range(56)
        for vendor, sites in SITES.items()
        for site in sites
        for language in (("en", "de") if vendor == "v1" else ("en",))
    ]
    src = tmp_path_factory.mktemp("vendors")
    pl.DataFrame(tickets).write_parquet(src / "tickets.parquet")
    pl.DataFrame(qa).write_parquet(src / "qa_reviews.parquet")
    pl.DataFrame(staffing).write_parquet(src / "staffing.parquet")
    return load_dataset(src)


def inside(value: dt.datetime | dt.date | None, f: Filters) -> bool:
    if value is None:
        return False
    if isinstance(value, dt.datetime):
        return f.start_at <= value < f.end_before
    return f.start <= value <= f.end


def expected_card(ds: Dataset, f: Filters, key) -> dict[tuple, dict]:
    """Every scorecard figure by a plain loop over the rows, keyed by key(row) for tickets and staffing."""
    out: dict[tuple, dict] = defaultdict(lambda: defaultdict(float))
    as_of = max(ds.tables["tickets"]["created_at"].max(), ds.tables["tickets"]["first_action_at"].max())
    for s in ds.tables["staffing"].to_dicts():
        if inside(s["date"], f):
            out[key(s)]["scheduled_fte"] += s["scheduled_fte"] / f.days
            out[key(s)]["productive_hours"] += s["productive_hours"]
    for t in ds.tables["tickets"].to_dicts():
        if t["vendor"] is None:
            continue
        row = out[key(t)]
        if inside(t["first_action_at"], f):
            row["handled"] += 1
            row["handle_hours"] += (t["handle_seconds"] or 0) / 3600
        if inside(t["created_at"], f):
            waited = ((t["first_action_at"] or as_of) - t["created_at"]).total_seconds()
            if t["first_action_at"] is not None or waited > 600:
                row["sla_measured"] += 1
                row["sla_met"] += t["first_action_at"] is not None and waited <= 600
            if t["decision"]:
                row["appealed"] += t["appealed"]
                row["overturned"] += t["appeal_overturned"]
    ticket_key = {t["ticket_id"]: key(t) for t in ds.tables["tickets"].to_dicts()}
    for q in ds.tables["qa_reviews"].to_dicts():
        if inside(q["reviewed_at"], f):
            out[ticket_key[q["ticket_id"]]]["qa_reviews"] += 1
            out[ticket_key[q["ticket_id"]]]["qa_correct"] += q["is_correct"]
    return out


def test_scorecard_per_vendor_against_loops(dataset: Dataset):
    card = scorecard(dataset, CURRENT, sla_policy=POLICY)
    expected = expected_card(dataset, CURRENT, lambda r: (r["vendor"],))
    assert card["vendor"].to_list() == ["v1", "v2", "v3"]
    for row in card.iter_rows(named=True):
        e = expected[(row["vendor"],)]
        assert row["scheduled_fte"] == pytest.approx(e["scheduled_fte"])
        assert row["productive_hours"] == pytest.approx(e["productive_hours"])
        assert row["handled"] == e["handled"]
        assert row["handled_per_productive_hour"] == pytest.approx(e["handled"] / e["productive_hours"])
        assert row["handle_hours"] == pytest.approx(e["handle_hours"])
        assert row["occupancy_share"] == pytest.approx(e["handle_hours"] / e["productive_hours"])
        assert (row["sla_measured"], row["sla_met"]) == (e["sla_measured"], e["sla_met"])
        assert (row["sla_ci_low"], row["sla_ci_high"]) == pytest.approx(hand_wilson(e["sla_met"], e["sla_measured"]))
        assert (row["qa_reviews"], row["qa_correct"]) == (e["qa_reviews"], e["qa_correct"])
        assert (row["qa_ci_low"], row["qa_ci_high"]) == pytest.approx(hand_wilson(e["qa_correct"], e["qa_reviews"]))
        assert row["overturn_rate"] == pytest.approx(e["overturned"] / e["appealed"])
        accuracy = e["qa_correct"] / e["qa_reviews"]
        assert row["quality_adjusted_per_productive_hour"] == pytest.approx(
            e["handled"] / e["productive_hours"] * accuracy
        )
        low, high = hand_wilson(e["qa_correct"], e["qa_reviews"])
        rate = e["handled"] / e["productive_hours"]
        assert (row["quality_adjusted_low"], row["quality_adjusted_high"]) == pytest.approx((rate * low, rate * high))


def test_scorecard_flags_only_significant_differences(dataset: Dataset):
    card = scorecard(dataset, CURRENT, sla_policy=POLICY)
    expected = expected_card(dataset, CURRENT, lambda r: (r["vendor"],))
    flags = dict(zip(card["vendor"], card["qa_vs_rest"], strict=True))
    for vendor in ("v1", "v2", "v3"):
        rest = [v for v in ("v1", "v2", "v3") if v != vendor]
        _, low, high = hand_newcombe(
            int(expected[(vendor,)]["qa_correct"]),
            int(expected[(vendor,)]["qa_reviews"]),
            int(sum(expected[(v,)]["qa_correct"] for v in rest)),
            int(sum(expected[(v,)]["qa_reviews"] for v in rest)),
        )
        assert flags[vendor] == ("better" if low > 0 else "worse" if high < 0 else None)
    assert flags["v2"] == "worse" and flags["v1"] == "better"
    assert flags["v3"] is None  # a handful of reviews: not enough to call it either way
    assert card.filter(pl.col("vendor") == "v2")["overturn_vs_rest"][0] == "worse"


def test_scorecard_change_vs_previous_period(dataset: Dataset):
    card = scorecard(dataset, CURRENT, sla_policy=POLICY)
    now = expected_card(dataset, CURRENT, lambda r: (r["vendor"],))
    before = expected_card(dataset, PREVIOUS, lambda r: (r["vendor"],))
    for row in card.iter_rows(named=True):
        n, b = now[(row["vendor"],)], before[(row["vendor"],)]
        assert row["handled_previous"] == b["handled"] and row["handled_change"] == n["handled"] - b["handled"]
        accuracy_change = n["qa_correct"] / n["qa_reviews"] - b["qa_correct"] / b["qa_reviews"]
        assert row["qa_accuracy_change"] == pytest.approx(accuracy_change)
        _, low, high = hand_newcombe(
            int(n["sla_met"]), int(n["sla_measured"]), int(b["sla_met"]), int(b["sla_measured"])
        )
        assert row["sla_attainment_change_significant"] == (low > 0 or high < 0)


def test_scorecard_by_site_and_by_queue(dataset: Dataset):
    by_site = scorecard(dataset, CURRENT, ["site"], sla_policy=POLICY, compare=False)
    expected = expected_card(dataset, CURRENT, lambda r: (r["vendor"], r["site"]))
    assert by_site.height == 4
    for row in by_site.iter_rows(named=True):
        e = expected[(row["vendor"], row["site"])]
        assert row["handled_per_productive_hour"] == pytest.approx(e["handled"] / e["productive_hours"])
        assert row["sla_attainment"] == pytest.approx(e["sla_met"] / e["sla_measured"])
    by_queue = scorecard(dataset, CURRENT, ["queue"], sla_policy=POLICY, compare=False)
    assert "productive_hours" not in by_queue.columns  # staffing is not split by queue
    expected = expected_card(dataset, CURRENT, lambda r: (r.get("vendor"), r.get("queue")))
    for row in by_queue.iter_rows(named=True):
        assert row["qa_reviews"] == expected[(row["vendor"], row["queue"])]["qa_reviews"]


def test_scorecard_without_staffing_keeps_the_quality_measures(dataset: Dataset, tmp_path: Path):
    dataset.tables["tickets"].write_parquet(tmp_path / "tickets.parquet")
    dataset.tables["qa_reviews"].write_parquet(tmp_path / "qa_reviews.parquet")
    card = scorecard(load_dataset(tmp_path), CURRENT, sla_policy=POLICY)
    assert "handled" not in card.columns and {"qa_accuracy", "sla_attainment", "overturn_rate"} <= set(card.columns)


def test_trend_uses_full_weeks_only(dataset: Dataset):
    wednesday = Filters(START + dt.timedelta(days=30), START + dt.timedelta(days=51))  # ends on a Wednesday
    out = trend(dataset, wednesday, weeks=3, sla_policy=POLICY)
    weeks = sorted(set(out["period"]))
    assert weeks == [START + dt.timedelta(weeks=w) for w in (4, 5, 6)]  # the week of the 51st day is incomplete
    week = Filters(weeks[0], weeks[0] + dt.timedelta(days=6))
    e = expected_card(dataset, week, lambda r: (r["vendor"],))[("v1",)]
    row = out.filter((pl.col("vendor") == "v1") & (pl.col("period") == weeks[0])).row(0, named=True)
    assert row["handled"] == e["handled"] and row["qa_reviews"] == e["qa_reviews"]
    assert row["handled_per_productive_hour"] == pytest.approx(e["handled"] / e["productive_hours"])


def test_handle_time_by_domain_against_a_loop(dataset: Dataset):
    out = handle_time_by_domain(dataset, CURRENT)
    seconds: dict[tuple, list[float]] = defaultdict(list)
    for t in dataset.tables["tickets"].to_dicts():
        if t["vendor"] and inside(t["first_action_at"], CURRENT) and t["handle_seconds"] is not None:
            seconds[(t["vendor"], t["policy_domain"])].append(t["handle_seconds"])
    assert out.height == len(seconds)
    for row in out.iter_rows(named=True):
        values = seconds[(row["vendor"], row["policy_domain"])]
        assert row["reviews"] == len(values) and row["mean_handle_seconds"] == pytest.approx(np.mean(values))


def test_language_coverage_and_thin_flags(dataset: Dataset):
    out = {r["language"]: r for r in coverage(dataset, CURRENT, "language", low_fte=6.0).iter_rows(named=True)}
    staff: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    fte: dict[str, float] = defaultdict(float)
    for s in dataset.tables["staffing"].to_dicts():
        if inside(s["date"], CURRENT):
            staff[s["language"]][s["vendor"]] += s["productive_hours"]
            fte[s["language"]] += s["scheduled_fte"] / CURRENT.days
    tickets = defaultdict(lambda: [0, 0])
    for t in dataset.tables["tickets"].to_dicts():
        tickets[t["language"]][0] += inside(t["created_at"], CURRENT)
        tickets[t["language"]][1] += inside(t["created_at"], PREVIOUS)
    for language in ("en", "de"):
        row, hours = out[language], staff[language]
        assert row["fte"] == pytest.approx(fte[language])
        assert row["vendors"] == len(hours)
        assert row["top_vendor_share"] == pytest.approx(max(hours.values()) / sum(hours.values()))
        assert (row["tickets"], row["previous_tickets"]) == tuple(tickets[language])
        assert row["low_fte"] == (fte[language] < 6.0)
    assert out["de"]["single_vendor"] and not out["en"]["single_vendor"]  # only v1 staffs German
    assert out["de"]["rising_demand"] and not out["en"]["rising_demand"]


def test_domain_capacity_splits_each_vendors_fte_by_its_handle_hours(dataset: Dataset):
    out = domain_capacity(dataset, CURRENT)
    hours: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for t in dataset.tables["tickets"].to_dicts():
        if t["vendor"] and inside(t["first_action_at"], CURRENT) and t["handle_seconds"] is not None:
            hours[t["vendor"]][t["policy_domain"]] += t["handle_seconds"] / 3600
    fte: dict[str, float] = defaultdict(float)
    for s in dataset.tables["staffing"].to_dicts():
        if inside(s["date"], CURRENT):
            fte[s["vendor"]] += s["scheduled_fte"] / CURRENT.days
    for row in out.iter_rows(named=True):
        share = hours[row["vendor"]][row["policy_domain"]] / sum(hours[row["vendor"]].values())
        assert row["fte_equivalent"] == pytest.approx(fte[row["vendor"]] * share)
    assert out["fte_equivalent"].sum() == pytest.approx(sum(fte.values()))


def test_scorecard_of_a_source_with_only_vendors_is_empty_not_an_error(tmp_path: Path):
    (tmp_path / "tickets.csv").write_text("ticket_id,created_at,vendor\na,2026-02-02 10:00:00,v1\n")
    card = scorecard(load_dataset(tmp_path), CURRENT)
    assert card.columns == ["vendor"] and card.is_empty()
