"""Metric values against independent computations: plain loops over rows and numpy percentiles."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from queries.analyses.overview import overview_kpis, top_movers, weekly_trend
from queries.engines import scope
from queries.filters import Filters
from queries.metrics import data_as_of, summarize
from queries.sla import load_sla_policy
from queries.sources.dataset import Dataset, load_dataset

START = dt.datetime(2025, 3, 1)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    """500 random tickets over 40 days with open tickets, missing actions and boundary cases."""
    rng = np.random.default_rng(3)
    n = 500
    created = [START + dt.timedelta(seconds=int(s)) for s in rng.integers(0, 40 * 86400, n)]
    rows = []
    for i, c in enumerate(created):
        wait = dt.timedelta(seconds=float(rng.exponential(3600)))
        acted = c + wait if rng.random() > 0.15 else None
        closed = acted + dt.timedelta(seconds=float(rng.exponential(1800))) if acted and rng.random() > 0.1 else None
        rows.append(
            {
                "ticket_id": f"t{i}",
                "created_at": c,
                "first_action_at": acted,
                "closed_at": closed,
                "queue": str(rng.choice(["live_p0", "live_p1", "reports"])),
                "priority": str(rng.choice(["P0", "P1", "P2"])),
                "policy_domain": str(rng.choice(["hate", "spam", "youth"])),
                "market": str(rng.choice(["US", "DE"])),
                "source": str(rng.choice(["user_report", "proactive_model", "escalation"])),
                "decision": (str(rng.choice(["violating", "non_violating"])) if acted else None),
                "appealed": bool(rng.random() < 0.3) if acted else False,
                "appeal_overturned": False,
                "automated": bool(rng.random() < 0.3),
                "handle_seconds": float(rng.gamma(2.0, 30.0)) if rng.random() > 0.05 else None,
                "vendor": str(rng.choice(["v1", "v2"])),
            }
        )
    for r in rows:
        r["appeal_overturned"] = bool(r["appealed"] and rng.random() < 0.4)
    # Edge cases: created exactly at a period boundary, closed exactly at the end boundary, crossing midnight.
    rows[0].update(created_at=dt.datetime(2025, 3, 8), first_action_at=dt.datetime(2025, 3, 8, 0, 0, 30))
    rows[1].update(
        created_at=dt.datetime(2025, 3, 14, 23, 59),
        first_action_at=dt.datetime(2025, 3, 14, 23, 59, 30),
        closed_at=dt.datetime(2025, 3, 15),
    )
    src = tmp_path_factory.mktemp("metrics")
    pl.DataFrame(rows).write_parquet(src / "tickets.parquet")
    qa = [
        {
            "ticket_id": f"t{i}",
            "reviewed_at": START + dt.timedelta(days=int(rng.integers(0, 40))),
            "vendor": str(rng.choice(["v1", "v2"])),
            "policy_domain": "hate",
            "is_correct": bool(rng.random() < 0.9),
        }
        for i in range(0, n, 5)
    ]
    pl.DataFrame(qa).write_parquet(src / "qa_reviews.parquet")
    days = [START.date() + dt.timedelta(days=d) for d in range(40)]
    pl.DataFrame(
        {
            "date": days * 2,
            "market": ["US"] * 40 + ["DE"] * 40,
            "dau": [1_000_000 + 1000 * d for d in range(40)] + [500_000] * 40,
        }
    ).write_parquet(src / "platform_metrics.parquet")
    pl.DataFrame(
        {"date": days * 2, "vendor": ["v1"] * 40 + ["v2"] * 40, "productive_hours": [6.0 + d % 3 for d in range(80)]}
    ).write_parquet(src / "staffing.parquet")
    return load_dataset(src)


def rows(ds: Dataset) -> list[dict]:
    return ds.tables["tickets"].to_dicts()


def in_period(value: dt.datetime | None, f: Filters) -> bool:
    return value is not None and f.start_at <= value < f.end_before


def test_duration_percentiles_match_numpy_linear_by_group_and_week(dataset: Dataset):
    f = Filters(dt.date(2025, 3, 3), dt.date(2025, 3, 30))
    out = summarize(dataset, "time_to_first_action", f, by=["market"], period="week")
    expected: dict[tuple, list[float]] = defaultdict(list)
    counts: dict[tuple, int] = defaultdict(int)
    for r in rows(dataset):
        if not in_period(r["created_at"], f):
            continue
        week = r["created_at"].date() - dt.timedelta(days=r["created_at"].weekday())
        counts[(r["market"], week)] += 1
        if r["first_action_at"] is not None:
            expected[(r["market"], week)].append((r["first_action_at"] - r["created_at"]).total_seconds() / 3600)
    assert out.height == len(counts)
    for rec in out.to_dicts():
        key = (rec["market"], rec["period"])
        hours = np.array(expected[key])
        assert rec["tickets"] == counts[key]
        assert rec["measured"] == len(hours)
        assert rec["p50_hours"] == pytest.approx(np.percentile(hours, 50))
        assert rec["p90_hours"] == pytest.approx(np.percentile(hours, 90))
        assert rec["mean_hours"] == pytest.approx(hours.mean())


def test_time_to_close_over_whole_range(dataset: Dataset):
    f = Filters(dt.date(2025, 3, 1), dt.date(2025, 4, 9))
    out = summarize(dataset, "time_to_close", f).row(0, named=True)
    hours = np.array(
        [(r["closed_at"] - r["created_at"]).total_seconds() / 3600 for r in rows(dataset) if r["closed_at"]]
    )
    assert out["tickets"] == 500 and out["measured"] == len(hours)
    assert out["p90_hours"] == pytest.approx(np.percentile(hours, 90))


def test_volume_counts_boundaries_inclusive_of_start_exclusive_after_end(dataset: Dataset):
    f = Filters(dt.date(2025, 3, 8), dt.date(2025, 3, 14))
    n = sum(in_period(r["created_at"], f) for r in rows(dataset))
    assert summarize(dataset, "volume", f)["tickets"][0] == n
    ids = set(dataset.tables["tickets"].filter(f.in_period("created_at"))["ticket_id"])
    assert {"t0", "t1"} <= ids  # created at 00:00 on the first day and 23:59 on the last day
    by_day = summarize(dataset, "volume", f, period="day")
    assert by_day["tickets"].sum() == n and by_day["period"].min() == dt.date(2025, 3, 8)


def test_actioned_counts_first_actions_in_the_period(dataset: Dataset):
    f = Filters(dt.date(2025, 3, 15), dt.date(2025, 3, 21))
    expected = sum(in_period(r["first_action_at"], f) for r in rows(dataset))
    assert summarize(dataset, "actioned", f)["actioned"][0] == expected


def test_open_backlog_at_period_end(dataset: Dataset):
    f = Filters(dt.date(2025, 3, 1), dt.date(2025, 3, 14))
    end = f.end_before
    expected = sum(r["created_at"] < end and (r["closed_at"] is None or r["closed_at"] >= end) for r in rows(dataset))
    assert summarize(dataset, "open_backlog", f)["open_tickets"][0] == expected
    # t1 closed exactly at the boundary (midnight after the 14th): still open at the end of the 14th
    assert any(r["ticket_id"] == "t1" and r["closed_at"] == end for r in rows(dataset))


def test_sla_attainment_against_a_loop(dataset: Dataset):
    policy = load_sla_policy()
    targets = {"P0": 60}
    f = Filters(dt.date(2025, 3, 1), dt.date(2025, 4, 9))
    all_rows = rows(dataset)
    as_of = max(max(r[c] for r in all_rows if r[c]) for c in ("created_at", "first_action_at", "closed_at"))
    measured = met = 0
    for r in all_rows:
        target = targets.get(r["priority"]) or {"live_p1": 300}.get(r["queue"]) or 86400
        waited = ((r["first_action_at"] or as_of) - r["created_at"]).total_seconds()
        if r["first_action_at"] is not None or waited > target:
            measured += 1
            met += r["first_action_at"] is not None and waited <= target
    out = summarize(dataset, "sla", f, sla_policy=policy).row(0, named=True)
    assert (out["measured"], out["met"]) == (measured, met)
    assert out["attainment"] == pytest.approx(met / measured)


def test_proactive_appeals_and_dimension_filters(dataset: Dataset):
    f = Filters(dt.date(2025, 3, 1), dt.date(2025, 4, 9), market=("DE",), policy_domain=("hate", "youth"))
    sel = [r for r in rows(dataset) if r["market"] == "DE" and r["policy_domain"] in ("hate", "youth")]
    pro = summarize(dataset, "proactive", f).row(0, named=True)
    assert pro["tickets"] == len(sel)
    assert pro["proactive_share"] == pytest.approx(sum(r["source"] == "proactive_model" for r in sel) / len(sel))
    decided = [r for r in sel if r["decision"]]
    app = summarize(dataset, "appeals", f).row(0, named=True)
    appealed = sum(r["appealed"] for r in decided)
    assert app["tickets"] == len(decided) and app["appealed"] == appealed
    assert app["overturn_rate"] == pytest.approx(sum(r["appeal_overturned"] for r in decided) / appealed)


def test_qa_accuracy_filters_through_the_ticket_market(dataset: Dataset):
    f = Filters(dt.date(2025, 3, 1), dt.date(2025, 4, 9), market=("US",))
    market = {r["ticket_id"]: r["market"] for r in rows(dataset)}
    qa = [q for q in dataset.tables["qa_reviews"].to_dicts() if market[q["ticket_id"]] == "US"]
    out = summarize(dataset, "qa_accuracy", f, by=["vendor"])
    for rec in out.to_dicts():
        mine = [q for q in qa if q["vendor"] == rec["vendor"]]
        assert rec["reviews"] == len(mine)
        assert rec["accuracy"] == pytest.approx(sum(q["is_correct"] for q in mine) / len(mine))


def test_tickets_per_million_dau(dataset: Dataset):
    f = Filters(dt.date(2025, 3, 10), dt.date(2025, 3, 16), market=("US",))
    tickets = sum(in_period(r["created_at"], f) and r["market"] == "US" for r in rows(dataset))
    dau = sum(1_000_000 + 1000 * d for d in range(9, 16))
    out = summarize(dataset, "per_million_dau", f).row(0, named=True)
    assert out["tickets_per_million_dau"] == pytest.approx(tickets / dau * 1e6)
    by_market = summarize(dataset, "per_million_dau", Filters(f.start, f.end), by=["market"])
    assert by_market.filter(pl.col("market") == "DE")["dau_days"][0] == 7 * 500_000


def test_overview_kpis_compare_with_the_previous_equal_period(dataset: Dataset):
    f = Filters(dt.date(2025, 3, 15), dt.date(2025, 3, 28))
    kpis = {k.key: k for k in overview_kpis(dataset, f)}
    prev = Filters(dt.date(2025, 3, 1), dt.date(2025, 3, 14))
    assert kpis["received"].value == sum(in_period(r["created_at"], f) for r in rows(dataset))
    assert kpis["received"].previous == sum(in_period(r["created_at"], prev) for r in rows(dataset))
    assert kpis["qa_accuracy"].value is not None and kpis["per_million_dau"].value is not None
    assert kpis["sla_attainment"].unavailable is None


def test_top_movers_and_weekly_trend(dataset: Dataset):
    f = Filters(dt.date(2025, 3, 15), dt.date(2025, 3, 28))
    movers = top_movers(dataset, f, n=3)
    changes = defaultdict(int)
    for r in rows(dataset):
        key = (r["policy_domain"], r["market"])
        changes[key] += in_period(r["created_at"], f) - in_period(r["created_at"], f.previous())
    biggest = sorted(abs(v) for v in changes.values())[-3:]
    assert sorted(movers["change"].abs().to_list()) == biggest
    trend = weekly_trend(dataset, f, weeks=8)
    weeks = sorted(set(trend["week"].to_list()))
    assert all(w.weekday() == 0 for w in weeks)
    assert weeks[0] >= dt.date(2025, 3, 3)  # data start on Sat 1 March: the first full week starts Monday 3rd
    assert weeks[-1] == dt.date(2025, 3, 17)  # the 28th is a Friday: that week is partial and left out


def test_automation_handle_time_and_throughput(dataset: Dataset):
    f = Filters(dt.date(2025, 3, 3), dt.date(2025, 3, 23))
    created = [r for r in rows(dataset) if in_period(r["created_at"], f)]
    auto = summarize(dataset, "automation", f).row(0, named=True)
    assert auto["automated_share"] == pytest.approx(sum(r["automated"] for r in created) / len(created))
    human = [r for r in rows(dataset) if in_period(r["first_action_at"], f) and not r["automated"]]
    seconds = np.array([r["handle_seconds"] for r in human if r["handle_seconds"] is not None])
    ht = summarize(dataset, "handle_time", f).row(0, named=True)
    assert ht["reviews"] == len(seconds)
    assert ht["p90_handle_seconds"] == pytest.approx(np.percentile(seconds, 90))
    assert ht["handle_hours"] == pytest.approx(seconds.sum() / 3600)
    out = summarize(dataset, "throughput", f, by=["vendor"], period="week")
    staffing = dataset.tables["staffing"].to_dicts()
    for rec in out.to_dicts():
        week_end = rec["period"] + dt.timedelta(days=6)
        handled = sum(
            r["vendor"] == rec["vendor"] and rec["period"] <= r["first_action_at"].date() <= week_end for r in human
        )
        hours = sum(
            s["productive_hours"]
            for s in staffing
            if s["vendor"] == rec["vendor"] and rec["period"] <= s["date"] <= week_end and f.start <= s["date"] <= f.end
        )
        assert (rec["handled"], rec["productive_hours"]) == (handled, pytest.approx(hours))
        assert rec["handled_per_productive_hour"] == pytest.approx(handled / hours)


def test_edge_groupings_from_review(tmp_path: Path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "tickets.csv").write_text(
        "ticket_id,created_at,policy_domain,market,vendor\n"
        "1,2024-01-03 10:00:00,spam,,V1\n2,2024-01-04 10:00:00,spam,US,V2\n"
        "3,2024-01-10 10:00:00,spam,,V1\n4,2024-01-11 10:00:00,hate,US,V1\n"
    )
    (src / "qa_reviews.csv").write_text(
        "ticket_id,reviewed_at,is_correct\n3,2024-01-11 09:00:00,false\n4,2024-01-12 09:00:00,true\n"
    )
    (src / "platform_metrics.csv").write_text(
        "date,market,dau\n" + "".join(f"2024-01-{d:02d},US,1000\n" for d in range(1, 15))
    )
    ds = load_dataset(src)
    f = Filters(dt.date(2024, 1, 8), dt.date(2024, 1, 14))
    per = summarize(ds, "per_million_dau", f, by=["policy_domain"])
    assert per.filter(pl.col("policy_domain") == "spam")["tickets_per_million_dau"][0] == pytest.approx(1 / 7000 * 1e6)
    qa = summarize(ds, "qa_accuracy", Filters(f.start, f.end, vendor=("V1",)))  # qa has no vendor: via the ticket
    assert (qa["reviews"][0], qa["correct"][0]) == (2, 1)
    movers = top_movers(ds, f, by=("policy_domain", "market"))
    spam_no_market = movers.filter((pl.col("policy_domain") == "spam") & pl.col("market").is_null())
    assert spam_no_market.select("tickets", "previous_tickets", "change").row(0) == (1, 1, 0)
    assert weekly_trend(ds, Filters(dt.date(2024, 1, 3), dt.date(2024, 1, 6))).is_empty()  # no full week yet


def test_the_datas_now_leaves_out_future_times_and_other_vendors(tmp_path: Path):
    (tmp_path / "tickets.csv").write_text(
        "ticket_id,created_at,first_action_at,closed_at,vendor\n"
        "a,2025-01-01 10:00,2025-01-01 10:30,2031-01-01 00:00,V1\n"  # closed in the future: its other times count
        "b,2025-01-01 12:00,,,V2\n"
        "c,2031-01-01 10:00,,,V1\n"  # created in the future
    )
    ds = load_dataset(tmp_path)
    assert data_as_of(ds) == ds.reports["tickets"].as_of == dt.datetime(2025, 1, 1, 12)
    assert data_as_of(scope(ds, "V1")) == dt.datetime(2025, 1, 1, 10, 30)  # not V2's newer ticket
