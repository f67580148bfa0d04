"""Turnaround, SLA, backlog and exposure figures against independent computations: loops over rows and numpy."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from queries.analyses.turnaround import (
    AGE_BUCKETS,
    HISTOGRAM_EDGES_HOURS,
    backlog_aging,
    backlog_view,
    duration_histogram,
    exposure_by,
    exposure_view,
    headline,
    hour_of_week,
    oldest_open,
    open_exposure_ranking,
    sla_agreement,
    sla_attainment,
    sla_disagreements,
    sla_view,
    turnaround,
    turnaround_by_source,
    turnaround_view,
)
from queries.contract import TICKETS
from queries.definitions import METRICS
from queries.filters import Filters
from queries.metrics import missing_inputs, summarize
from queries.sla import SlaPolicy, load_sla_policy
from queries.sources.dataset import Dataset, load_dataset

START = dt.datetime(2025, 3, 1)
DAY = dt.timedelta(days=1)
POLICY_TOML = """
[[rule]]
name = "P0 within a minute"
priority = "P0"
target_seconds = 60

[[rule]]
name = "Live within 5 min"
queue = ["live_p1", "live_p2"]
target_seconds = 300

[[rule]]
name = "Legal within 1 h"
source = "legal"
target_seconds = 3600
"""
# The same rules as plain data, for the independent matcher (first match wins; no rule: no SLA).
RULES = (
    ("P0 within a minute", "priority", {"P0"}, 60),
    ("Live within 5 min", "queue", {"live_p1", "live_p2"}, 300),
    ("Legal within 1 h", "source", {"legal"}, 3600),
)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    """600 random tickets over 40 days (open ones, unactioned ones, long waits) plus hand-made edge cases."""
    rng = np.random.default_rng(5)
    rows = []
    for i in range(600):
        created = START + dt.timedelta(seconds=int(rng.integers(0, 40 * 86400)))
        acted = created + dt.timedelta(seconds=float(rng.lognormal(5, 2.5))) if rng.random() > 0.1 else None
        closed = None
        if rng.random() > 0.08:
            closed = (acted or created) + dt.timedelta(seconds=float(rng.exponential(20000)))
        rows.append(
            {
                "ticket_id": f"t{i:03d}",
                "created_at": created,
                "first_action_at": acted,
                "closed_at": closed,
                "queue": str(rng.choice(["live_p1", "live_p2", "reports"])),
                "priority": str(rng.choice(["P0", "P1", "P2"])),
                "policy_domain": str(rng.choice(["hate", "spam", "youth"])),
                "surface": str(rng.choice(["live_stream", "live_comment"])),
                "market": str(rng.choice(["US", "DE"])) if rng.random() > 0.05 else None,
                "source": str(rng.choice(["user_report", "proactive_model", "legal"])),
                "vendor": str(rng.choice(["v1", "v2"])),
                "views_before_action": int(rng.poisson(3) * (rng.random() > 0.5)) if acted else None,
                "sla_met": bool(rng.random() > 0.2) if rng.random() > 0.3 else None,
            }
        )
    base = {"queue": "reports", "priority": "P2", "policy_domain": "spam", "surface": "live_stream", "market": "US"}
    base |= {"source": "user_report", "vendor": "v1", "views_before_action": 0, "sla_met": None}
    edge = [
        # closed exactly at midnight (a day boundary): still open at that midnight
        {
            "created_at": dt.datetime(2025, 3, 10, 20),
            "first_action_at": dt.datetime(2025, 3, 10, 21),
            "closed_at": dt.datetime(2025, 3, 11),
        },
        # created exactly at midnight: arrives that day, not open at that midnight
        {
            "created_at": dt.datetime(2025, 3, 12),
            "first_action_at": dt.datetime(2025, 3, 12, 0, 5),
            "closed_at": dt.datetime(2025, 3, 12, 0, 6),
        },
        # crossing midnight: created 23:50, acted 00:10, closed 00:20 the next day
        {
            "created_at": dt.datetime(2025, 3, 14, 23, 50),
            "first_action_at": dt.datetime(2025, 3, 15, 0, 10),
            "closed_at": dt.datetime(2025, 3, 15, 0, 20),
        },
        # never actioned, never closed: open at every later boundary, oldest of all
        {"created_at": dt.datetime(2025, 2, 20, 8), "first_action_at": None, "closed_at": None},
        # closed without a first action
        {"created_at": dt.datetime(2025, 3, 16, 9), "first_action_at": None, "closed_at": dt.datetime(2025, 3, 17)},
        # actioned exactly 24 h after creation: counts as within 24 h
        {
            "created_at": dt.datetime(2025, 3, 18, 6),
            "first_action_at": dt.datetime(2025, 3, 19, 6),
            "closed_at": dt.datetime(2025, 3, 19, 7),
            "views_before_action": 40,
        },
    ]
    rows += [base | e | {"ticket_id": f"e{i}"} for i, e in enumerate(edge)]
    src = tmp_path_factory.mktemp("turnaround")
    pl.DataFrame(rows).write_parquet(src / "tickets.parquet")
    return load_dataset(src)


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> SlaPolicy:
    path = tmp_path_factory.mktemp("policy") / "sla.toml"
    path.write_text(POLICY_TOML)
    return load_sla_policy(path)


def rows(ds: Dataset) -> list[dict]:
    return ds.tables["tickets"].to_dicts()


def created_in(r: dict, f: Filters) -> bool:
    return f.start_at <= r["created_at"] < f.end_before


def hours(start: dt.datetime | None, end: dt.datetime | None) -> float | None:
    return None if start is None or end is None else (end - start).total_seconds() / 3600


def is_open(r: dict, t: dt.datetime) -> bool:
    return r["created_at"] < t and (r["closed_at"] is None or r["closed_at"] >= t)


def period_start(day: dt.date, period: str) -> dt.date:
    if period == "day":
        return day
    if period == "week":
        return day - dt.timedelta(days=day.weekday())
    return day.replace(day=1)


def windows(f: Filters, period: str | None) -> list[tuple[dt.date | None, dt.datetime, dt.datetime]]:
    """(period label, start, end) of each period, clipped to the filters, by walking the days."""
    if period is None:
        return [(None, f.start_at, f.end_before)]
    out: dict[dt.date, list[dt.datetime]] = {}
    day = f.start
    while day <= f.end:
        begin = dt.datetime.combine(day, dt.time())
        label = period_start(day, period)
        out.setdefault(label, [begin, begin + DAY])[1] = begin + DAY
        day += dt.timedelta(days=1)
    return [(label, b, e) for label, (b, e) in out.items()]


def sla_outcome(r: dict, as_of: dt.datetime) -> tuple[str | None, bool, bool]:
    """(rule, measured, met) of one ticket by the test's own matcher."""
    rule = next(((name, target) for name, column, values, target in RULES if r[column] in values), None)
    if rule is None:
        return None, False, False
    waited = ((r["first_action_at"] or as_of) - r["created_at"]).total_seconds()
    acted = r["first_action_at"] is not None
    measured = acted or waited > rule[1]
    return rule[0], measured, measured and acted and waited <= rule[1]


def data_as_of(ds: Dataset) -> dt.datetime:
    return max(v for r in rows(ds) for v in (r["created_at"], r["first_action_at"], r["closed_at"]) if v)


# --- durations -------------------------------------------------------------------------------


@pytest.mark.parametrize("end", ["first_action_at", "closed_at"])
def test_percentiles_by_group_and_week_match_numpy(dataset: Dataset, end: str):
    f = Filters(dt.date(2025, 3, 5), dt.date(2025, 3, 30))
    out = turnaround(dataset, f, end, ["queue"], "week")
    expected: dict[tuple, list[float]] = defaultdict(list)
    counts: dict[tuple, int] = defaultdict(int)
    for r in rows(dataset):
        if created_in(r, f):
            key = (r["queue"], period_start(r["created_at"].date(), "week"))
            counts[key] += 1
            if r[end] is not None:
                expected[key].append(hours(r["created_at"], r[end]))
    assert out.height == len(counts)
    for rec in out.to_dicts():
        key = (rec["queue"], rec["period"])
        values = np.array(expected[key])
        assert (rec["tickets"], rec["measured"]) == (counts[key], len(values))
        for p in (50, 90, 99):
            assert rec[f"p{p}_hours"] == pytest.approx(np.percentile(values, p))
        assert rec["mean_hours"] == pytest.approx(values.mean())


def test_crossing_midnight_counts_on_the_day_it_started(dataset: Dataset):
    f = Filters(dt.date(2025, 3, 14), dt.date(2025, 3, 15))
    by_day = turnaround(dataset, f, "first_action_at", ["ticket_id"], "day").filter(pl.col("ticket_id") == "e2")
    assert by_day["period"].to_list() == [dt.date(2025, 3, 14)]
    assert by_day["p50_hours"][0] == pytest.approx(20 / 60)


@pytest.mark.parametrize("by", [None, "queue"])
def test_histogram_counts_shares_and_ecdf(dataset: Dataset, by: str | None):
    f = Filters(dt.date(2025, 3, 1), dt.date(2025, 4, 9))
    edges = list(HISTOGRAM_EDGES_HOURS)
    counts: dict[tuple, int] = defaultdict(int)
    for r in rows(dataset):
        h = hours(r["created_at"], r["first_action_at"])
        if created_in(r, f) and h is not None:
            index = next((i for i in range(len(edges) - 1) if edges[i] <= h < edges[i + 1]), len(edges) - 1)
            counts[(r[by] if by else None, edges[index])] += 1
    out = duration_histogram(dataset, f, "first_action_at", by)
    got = {(rec[by] if by else None, rec["lower_hours"]): rec["tickets"] for rec in out.to_dicts()}
    assert got == dict(counts)
    for group in {g for g, _ in counts}:
        part = out.filter(pl.col(by) == group) if by else out
        total = sum(v for (g, _), v in counts.items() if g == group)
        assert part["share"].to_list() == pytest.approx([t / total for t in part["tickets"].to_list()])
        assert part["cum_share"].to_list() == pytest.approx(list(np.cumsum(part["tickets"].to_list()) / total))
        assert part["cum_share"][-1] == pytest.approx(1.0)


def test_turnaround_by_source_marks_proactive_and_shares(dataset: Dataset):
    f = Filters(dt.date(2025, 3, 1), dt.date(2025, 4, 9))
    out = turnaround_by_source(dataset, f, "first_action_at")
    created = [r for r in rows(dataset) if created_in(r, f)]
    for rec in out.to_dicts():
        mine = [r for r in created if r["source"] == rec["source"]]
        assert rec["ticket_share"] == pytest.approx(len(mine) / len(created))
        assert rec["detection"] == ("proactive" if rec["source"] == "proactive_model" else "reactive")
        waits = [hours(r["created_at"], r["first_action_at"]) for r in mine if r["first_action_at"]]
        assert rec["p99_hours"] == pytest.approx(np.percentile(waits, 99))


# --- SLA -------------------------------------------------------------------------------------


@pytest.mark.parametrize("by", ["sla_rule", "queue", "source"])
def test_sla_attainment_by_rule_queue_source_matches_a_loop(dataset: Dataset, policy: SlaPolicy, by: str):
    f = Filters(dt.date(2025, 3, 1), dt.date(2025, 4, 9))
    as_of = data_as_of(dataset)
    expected: dict = defaultdict(lambda: [0, 0, 0])
    for r in rows(dataset):
        if created_in(r, f):
            rule, measured, met = sla_outcome(r, as_of)
            key = rule if by == "sla_rule" else r[by]
            expected[key][0] += 1
            expected[key][1] += measured
            expected[key][2] += met
    out = sla_attainment(dataset, f, policy, by)
    if by == "sla_rule":  # policy order, with each rule's target; tickets without a rule are left out
        assert out["sla_rule"].to_list() == [name for name, *_ in RULES]
        assert out["target_seconds"].to_list() == [target for *_, target in RULES]
        expected.pop(None)
    assert {rec[by]: [rec["tickets"], rec["measured"], rec["met"]] for rec in out.to_dicts()} == dict(expected)
    for rec in out.to_dicts():
        assert rec["attainment"] == pytest.approx(rec["met"] / rec["measured"])


def test_sla_agreement_with_the_source_flag(dataset: Dataset, policy: SlaPolicy):
    f = Filters(dt.date(2025, 3, 1), dt.date(2025, 4, 9))
    as_of = data_as_of(dataset)
    flagged = compared = met_ours = met_source = disagree = 0
    differing = []
    for r in rows(dataset):
        if created_in(r, f) and r["sla_met"] is not None:
            flagged += 1
            _, measured, met = sla_outcome(r, as_of)
            if measured:
                compared += 1
                met_ours += met
                met_source += r["sla_met"]
                if met != r["sla_met"]:
                    disagree += 1
                    differing.append((r["created_at"], r["ticket_id"]))
    out = sla_agreement(dataset, f, policy).row(0, named=True)
    assert (out["flagged"], out["compared"], out["met_ours"], out["met_source"], out["disagree"]) == (
        flagged,
        compared,
        met_ours,
        met_source,
        disagree,
    )
    assert out["source_only"] == flagged - compared and disagree > 0
    assert out["attainment_ours"] == pytest.approx(met_ours / compared)
    assert out["attainment_source"] == pytest.approx(met_source / compared)
    examples = sla_disagreements(dataset, f, policy, n=5)
    assert examples["ticket_id"].to_list() == [t for _, t in sorted(differing)[:5]]
    assert (examples["met_ours"] != examples["met_source"]).all()
    view = sla_view(dataset, f, policy, "queue")
    assert view.agreement is not None and view.disagreements.height == min(20, disagree)


def test_sla_view_without_source_flags_has_no_agreement(dataset: Dataset, policy: SlaPolicy):
    unflagged = Dataset(
        dataset.source,
        None,
        "x",
        {"tickets": dataset.tables["tickets"].with_columns(pl.lit(None, pl.Boolean).alias("sla_met"))},
        dataset.reports,
    )
    view = sla_view(unflagged, Filters(dt.date(2025, 3, 1), dt.date(2025, 4, 9)), policy, "sla_rule")
    assert view.agreement is None and view.disagreements is None and view.attainment.height == 3


# --- backlog ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "period", "by"),
    [
        (dt.date(2025, 3, 5), dt.date(2025, 3, 25), "day", []),
        (dt.date(2025, 3, 5), dt.date(2025, 3, 25), "week", ["market"]),  # partial first and last weeks
        (dt.date(2025, 3, 5), dt.date(2025, 4, 9), "month", ["queue"]),
        (dt.date(2025, 3, 10), dt.date(2025, 3, 11), None, ["policy_domain", "market"]),
    ],
)
def test_backlog_matches_a_loop_at_every_boundary(dataset: Dataset, start, end, period, by):
    f = Filters(start, end)
    out = summarize(dataset, "backlog", f, by=by, period=period)
    all_rows = rows(dataset)
    groups = {tuple(r[c] for c in by) for r in all_rows if r["created_at"] < f.end_before and is_open_or_after(r, f)}
    assert out.height == len(groups) * len(windows(f, period))
    for rec in out.to_dicts():
        mine = [r for r in all_rows if tuple(r[c] for c in by) == tuple(rec[c] for c in by)]
        _, begin, finish = next(w for w in windows(f, period) if w[0] == rec.get("period"))
        open_end = [r for r in mine if is_open(r, finish)]
        assert rec["open_start"] == sum(is_open(r, begin) for r in mine)
        assert rec["open_end"] == len(open_end)
        assert rec["arrivals"] == sum(begin <= r["created_at"] < finish for r in mine)
        assert rec["closures"] == sum(r["closed_at"] is not None and begin <= r["closed_at"] < finish for r in mine)
        assert rec["open_end"] == rec["open_start"] + rec["arrivals"] - rec["closures"]
        oldest = max((hours(r["created_at"], finish) for r in open_end), default=None)
        assert rec["oldest_open_hours"] == (pytest.approx(oldest) if oldest is not None else None)


def is_open_or_after(r: dict, f: Filters) -> bool:
    return r["closed_at"] is None or r["closed_at"] >= f.start_at


def test_backlog_ends_on_open_backlog_and_periods_chain(dataset: Dataset):
    for f in (
        Filters(dt.date(2025, 3, 1), dt.date(2025, 3, 10)),
        Filters(dt.date(2025, 3, 4), dt.date(2025, 4, 9), market=("DE",)),
        Filters(dt.date(2025, 3, 10), dt.date(2025, 3, 10), policy_domain=("spam", "hate")),
    ):
        daily = summarize(dataset, "backlog", f, period="day")
        assert daily["open_end"][-1] == summarize(dataset, "open_backlog", f)["open_tickets"][0]
        assert daily["open_end"][:-1].to_list() == daily["open_start"][1:].to_list()
        for period in ("week", "month", None):
            coarse = summarize(dataset, "backlog", f, period=period)
            assert coarse["open_end"][-1] == daily["open_end"][-1]
            assert coarse["arrivals"].sum() == daily["arrivals"].sum()
            assert coarse["closures"].sum() == daily["closures"].sum()
        by_queue = summarize(dataset, "backlog", f, by=["queue"]).sort("queue")
        per_queue = summarize(dataset, "open_backlog", f, by=["queue"]).sort("queue")
        assert dict(zip(by_queue["queue"], by_queue["open_end"], strict=True)) == dict(
            zip(per_queue["queue"], per_queue["open_tickets"], strict=True)
        )


def test_backlog_boundary_edge_cases(dataset: Dataset):
    f = Filters(dt.date(2025, 3, 10), dt.date(2025, 3, 12))
    by_ticket = summarize(dataset, "backlog", f, by=["ticket_id"], period="day")

    def day(ticket: str, date: dt.date) -> dict:
        return by_ticket.filter((pl.col("ticket_id") == ticket) & (pl.col("period") == date)).row(0, named=True)

    # e0 closed exactly at midnight after the 10th: open at the end of the 10th, closure counted on the 11th
    assert (day("e0", dt.date(2025, 3, 10))["open_end"], day("e0", dt.date(2025, 3, 10))["closures"]) == (1, 0)
    assert (day("e0", dt.date(2025, 3, 11))["open_start"], day("e0", dt.date(2025, 3, 11))["closures"]) == (1, 1)
    # e1 created exactly at midnight starting the 12th: an arrival of the 12th, not open at the end of the 11th
    assert day("e1", dt.date(2025, 3, 12))["arrivals"] == 1 and day("e1", dt.date(2025, 3, 12))["open_start"] == 0
    # e3 (never closed, from February) is open throughout and its age grows by 24 h a day
    ages = [day("e3", dt.date(2025, 3, d))["oldest_open_hours"] for d in (10, 11, 12)]
    assert ages == pytest.approx(
        [hours(dt.datetime(2025, 2, 20, 8), dt.datetime(2025, 3, d + 1)) for d in (10, 11, 12)]
    )


def test_backlog_aging_buckets_add_up_to_the_daily_backlog(dataset: Dataset):
    f = Filters(dt.date(2025, 3, 3), dt.date(2025, 3, 20))
    aging = backlog_aging(dataset, f)
    lowers = [lower for _, lower in AGE_BUCKETS]
    assert aging.height == f.days * len(AGE_BUCKETS)
    for _, begin, finish in windows(f, "day"):
        expected = [0] * len(AGE_BUCKETS)
        for r in rows(dataset):
            if is_open(r, finish):
                age = hours(r["created_at"], finish)
                expected[max(i for i, lower in enumerate(lowers) if age >= lower)] += 1
        got = aging.filter(pl.col("period") == begin.date()).sort("age_bucket")["open_tickets"].to_list()
        assert got == expected
    daily = summarize(dataset, "backlog", f, period="day")
    totals = aging.group_by("period").agg(pl.col("open_tickets").sum()).sort("period")
    assert totals["open_tickets"].to_list() == daily["open_end"].to_list()


def test_oldest_open_per_queue(dataset: Dataset):
    f = Filters(dt.date(2025, 3, 1), dt.date(2025, 3, 31))
    out = oldest_open(dataset, f)
    for rec in out.to_dicts():
        mine = sorted(
            (r for r in rows(dataset) if r["queue"] == rec["queue"] and is_open(r, f.end_before)),
            key=lambda r: (r["created_at"], r["ticket_id"]),
        )
        assert rec["open_tickets"] == len(mine) and rec["oldest_ticket_id"] == mine[0]["ticket_id"]
        assert rec["oldest_age_hours"] == pytest.approx(hours(mine[0]["created_at"], f.end_before))
    assert out["oldest_age_hours"].is_sorted(descending=True)
    metric = summarize(dataset, "backlog", f, by=["queue"])
    assert dict(zip(metric["queue"], metric["oldest_open_hours"], strict=True)) == pytest.approx(
        dict(zip(out["queue"], out["oldest_age_hours"], strict=True))
    )


@st.composite
def ticket_frames(draw: st.DrawFn) -> pl.DataFrame:
    """Up to 40 tickets on a 10-day grid of whole hours, so that many land exactly on boundaries."""
    n = draw(st.integers(0, 40))
    created = draw(st.lists(st.integers(0, 240), min_size=n, max_size=n))
    lasting = draw(st.lists(st.one_of(st.none(), st.integers(0, 120)), min_size=n, max_size=n))
    markets = draw(st.lists(st.sampled_from(["US", "DE", None]), min_size=n, max_size=n))
    base = dt.datetime(2025, 1, 1)
    return pl.DataFrame(
        {
            "ticket_id": [f"h{i}" for i in range(n)],
            "created_at": [base + dt.timedelta(hours=c) for c in created],
            "closed_at": [
                None if d is None else base + dt.timedelta(hours=c + d) for c, d in zip(created, lasting, strict=True)
            ],
            "market": markets,
        },
        schema={
            "ticket_id": pl.String,
            "created_at": pl.Datetime("us"),
            "closed_at": pl.Datetime("us"),
            "market": pl.String,
        },
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    frame=ticket_frames(),
    first=st.integers(0, 9),
    days=st.integers(1, 8),
    period=st.sampled_from(["day", "week", "month", None]),
    by_market=st.booleans(),
)
def test_backlog_identity_holds_for_any_tickets(frame, first, days, period, by_market):
    tickets = frame.select(
        [pl.col(c) if c in frame.columns else pl.lit(None, d).alias(c) for c, d in TICKETS.schema.items()]
    )
    ds = Dataset("memory", None, "x", {"tickets": tickets}, {})
    f = Filters(dt.date(2025, 1, 1) + dt.timedelta(days=first), dt.date(2025, 1, 1) + dt.timedelta(days=first + days))
    by = ["market"] if by_market else []
    out = summarize(ds, "backlog", f, by=by, period=period)
    all_rows = tickets.to_dicts()
    for rec in out.to_dicts():
        mine = [r for r in all_rows if not by or r["market"] == rec["market"]]
        _, begin, finish = next(w for w in windows(f, period) if w[0] == rec.get("period"))
        assert rec["open_end"] == rec["open_start"] + rec["arrivals"] - rec["closures"]
        assert rec["open_start"] == sum(is_open(r, begin) for r in mine)
        assert rec["open_end"] == sum(is_open(r, finish) for r in mine)
        oldest = max((hours(r["created_at"], finish) for r in mine if is_open(r, finish)), default=None)
        assert rec["oldest_open_hours"] == (pytest.approx(oldest) if oldest is not None else None)
    for _, part in out.group_by(by or pl.lit(0), maintain_order=True):
        assert part["open_end"][:-1].to_list() == part["open_start"][1:].to_list()
    if out.height and not by:
        assert out["open_end"][-1] == summarize(ds, "open_backlog", f)["open_tickets"][0]


# --- exposure --------------------------------------------------------------------------------


def test_exposure_metric_matches_a_loop(dataset: Dataset):
    f = Filters(dt.date(2025, 3, 1), dt.date(2025, 4, 9))
    out = summarize(dataset, "exposure", f, by=["policy_domain"])
    for rec in out.to_dicts():
        acted = [
            r
            for r in rows(dataset)
            if created_in(r, f) and r["policy_domain"] == rec["policy_domain"] and r["first_action_at"]
        ]
        views = np.array([r["views_before_action"] for r in acted if r["views_before_action"] is not None])
        within = sum(hours(r["created_at"], r["first_action_at"]) <= 24 for r in acted)
        assert rec["tickets"] == len(acted)
        assert rec["zero_view_share"] == pytest.approx((views == 0).mean())
        assert rec["within_24h_share"] == pytest.approx(within / len(acted))
        assert rec["p50_views"] == pytest.approx(np.percentile(views, 50))
        assert rec["p90_views"] == pytest.approx(np.percentile(views, 90))
    exactly_a_day = summarize(
        dataset, "exposure", Filters(dt.date(2025, 3, 18), dt.date(2025, 3, 18)), by=["ticket_id"]
    )
    assert exactly_a_day.filter(pl.col("ticket_id") == "e5")["within_24h_share"][0] == 1.0


def test_exposure_by_domain_carries_time_to_action(dataset: Dataset):
    f = Filters(dt.date(2025, 3, 1), dt.date(2025, 4, 9))
    out = exposure_by(dataset, f)
    assert out["tickets"].is_sorted(descending=True)
    for rec in out.to_dicts():
        waits = [
            hours(r["created_at"], r["first_action_at"])
            for r in rows(dataset)
            if created_in(r, f) and r["policy_domain"] == rec["policy_domain"] and r["first_action_at"]
        ]
        assert rec["p90_hours_to_action"] == pytest.approx(np.percentile(waits, 90))


def test_open_backlog_ranked_by_views_so_far(dataset: Dataset):
    f = Filters(dt.date(2025, 3, 1), dt.date(2025, 3, 20))
    end = f.end_before
    sums: dict = defaultdict(lambda: [0.0, 0.0])
    for r in rows(dataset):
        if created_in(r, f) and r["first_action_at"] and r["views_before_action"] is not None:
            for key in ((r["policy_domain"], r["surface"]), "all"):
                sums[key][0] += r["views_before_action"]
                sums[key][1] += hours(r["created_at"], r["first_action_at"])
    expected = []
    for r in rows(dataset):
        if is_open(r, end):
            age = hours(r["created_at"], end)
            known = (
                r["first_action_at"] is not None and r["first_action_at"] < end and r["views_before_action"] is not None
            )
            views, seconds = sums.get((r["policy_domain"], r["surface"]), sums["all"])
            rate = views / seconds if seconds > 0 else None
            expected.append((r["views_before_action"] if known else rate * age, age, r["ticket_id"], not known))
    expected.sort(key=lambda e: (-e[0], -e[1], e[2]))
    out = open_exposure_ranking(dataset, f, n=10)
    assert out["ticket_id"].to_list() == [e[2] for e in expected[:10]]
    assert out["views_so_far"].to_list() == pytest.approx([e[0] for e in expected[:10]])
    assert out["estimated"].to_list() == [e[3] for e in expected[:10]]


# --- hour of week, views, missing fields -------------------------------------------------------


def test_hour_of_week_arrivals_and_median_time_to_action(dataset: Dataset):
    f = Filters(dt.date(2025, 3, 3), dt.date(2025, 3, 19))  # 17 days: some weekdays occur three times
    out = hour_of_week(dataset, f)
    assert out.height == 168
    occurrences = defaultdict(int)
    for i in range(f.days):
        occurrences[(f.start + dt.timedelta(days=i)).isoweekday()] += 1
    cells: dict = defaultdict(list)
    for r in rows(dataset):
        if created_in(r, f):
            cells[(r["created_at"].isoweekday(), r["created_at"].hour)].append(
                hours(r["created_at"], r["first_action_at"])
            )
    for rec in out.to_dicts():
        mine = cells.get((rec["weekday"], rec["hour"]), [])
        waits = [w for w in mine if w is not None]
        assert rec["occurrences"] == occurrences[rec["weekday"]] and rec["arrivals"] == len(mine)
        assert rec["arrivals_per_hour"] == pytest.approx(len(mine) / occurrences[rec["weekday"]])
        assert rec["p50_hours_to_action"] == (pytest.approx(np.median(waits)) if waits else None)


def test_views_hold_what_the_page_shows(dataset: Dataset, policy: SlaPolicy):
    f = Filters(dt.date(2025, 3, 1), dt.date(2025, 3, 20))
    view = turnaround_view(dataset, f, "closed_at", "market", "week")
    assert view.total["measured"][0] == sum(created_in(r, f) and r["closed_at"] is not None for r in rows(dataset))
    assert view.by_group is not None and set(view.histogram.columns) >= {"market", "cum_share"}
    top = headline(dataset, f, policy)
    assert top.open_backlog["open_tickets"][0] == backlog_view(dataset, f).flow["open_end"][-1]
    assert top.sla["measured"][0] == sla_attainment(dataset, f, policy, "sla_rule")["measured"].sum()
    assert exposure_view(dataset, f).ranking is not None


def test_missing_first_action_explains_and_backlog_still_works(tmp_path: Path):
    (tmp_path / "tickets.csv").write_text(
        "ticket_id,created_at,closed_at\n"
        "1,2025-03-01 10:00:00,2025-03-02 00:00:00\n"
        "2,2025-03-01 23:00:00,\n"
        "3,2025-03-02 09:00:00,2025-03-02 10:00:00\n"
    )
    ds = load_dataset(tmp_path)
    for metric in ("time_to_first_action", "sla", "exposure"):
        assert "first_action_at" in missing_inputs(ds, metric), metric
    assert missing_inputs(ds, "backlog") is None
    f = Filters(dt.date(2025, 3, 1), dt.date(2025, 3, 2))
    flow = summarize(ds, "backlog", f, period="day")
    assert flow.select("open_start", "arrivals", "closures", "open_end").rows() == [(0, 2, 0, 2), (2, 1, 2, 1)]
    top = headline(ds, f, load_sla_policy())
    assert top.sla is None and top.exposure is None and top.open_backlog["open_tickets"][0] == 1
    assert "backlog" in METRICS and "exposure" in METRICS
