"""Quality figures against published values and independent computations: Wilson and Newcombe intervals vs
Newcombe (1998), Cohen's kappa vs the textbook 2×2 example, everything else vs plain loops over the rows."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy import stats

from queries.analyses.quality import (
    agreement,
    appeals,
    change_events,
    cohens_kappa,
    error_types,
    policy_gaps,
    qa_accuracy,
    qa_reviews_in,
    reviews_needed_expr,
    sampling_plan,
    training_effects,
    versus_rest,
)
from queries.filters import Filters
from queries.intervals import Z_95, difference_bounds, wilson_bounds, wilson_interval
from queries.metrics import summarize
from queries.sources.dataset import Dataset, load_dataset

START = dt.datetime(2026, 1, 5)  # a Monday
DECISIONS = ("violating", "non_violating")


def hand_wilson(successes: float, n: float, z: float = Z_95) -> tuple[float, float]:
    """The score interval as the two roots in p of (p̂ − p)² = z² p (1 − p) / n."""
    p_hat = successes / n
    a, b, c = 1 + z * z / n, -(2 * p_hat + z * z / n), p_hat * p_hat
    low, high = sorted(np.roots([a, b, c]).real)
    return max(0.0, low), min(1.0, high)


def hand_newcombe(s1: int, n1: int, s2: int, n2: int) -> tuple[float, float, float]:
    """Newcombe's method 10 from two hand Wilson intervals."""
    p1, p2 = s1 / n1, s2 / n2
    (l1, u1), (l2, u2) = hand_wilson(s1, n1), hand_wilson(s2, n2)
    d = p1 - p2
    return d, d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)


# Newcombe (1998), Statistics in Medicine 17:857–872, Table I (Wilson score, method 3).
@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718)],
)
def test_wilson_interval_matches_published_values_and_a_hand_computation(successes, n, low, high):
    got = wilson_interval(successes, n)
    assert got == pytest.approx((low, high), abs=5e-5)
    assert got == pytest.approx(hand_wilson(successes, n), abs=1e-12)


def test_wilson_interval_rejects_impossible_counts():
    with pytest.raises(ValueError):
        wilson_interval(0, 0)
    with pytest.raises(ValueError):
        wilson_interval(5, 4)


def test_wilson_expressions_equal_the_python_function_and_are_empty_without_data():
    rng = np.random.default_rng(1)
    n = rng.integers(1, 500, 200)
    s = rng.integers(0, n + 1)
    frame = pl.DataFrame({"s": [*s.tolist(), 0], "n": [*n.tolist(), 0]}).with_columns(*wilson_bounds("s", "n"))
    for row in frame.head(200).iter_rows(named=True):
        assert (row["ci_low"], row["ci_high"]) == pytest.approx(wilson_interval(row["s"], row["n"]), abs=1e-12)
    assert frame.row(-1, named=True)["ci_low"] is None and frame.row(-1, named=True)["ci_high"] is None


# Newcombe (1998), Statistics in Medicine 17:873–890, Table II, method 10 (hybrid score).
@pytest.mark.parametrize(
    ("a", "m", "b", "n", "low", "high"),
    [
        (56, 70, 48, 80, 0.0524, 0.3339),
        (9, 10, 3, 10, 0.1705, 0.8090),
        (6, 7, 2, 7, 0.0582, 0.8062),
        (5, 56, 0, 29, -0.0381, 0.1926),
        (0, 10, 0, 20, -0.1611, 0.2775),
        (10, 10, 0, 20, 0.6791, 1.0),
    ],
)
def test_difference_interval_matches_newcombe_table(a, m, b, n, low, high):
    frame = pl.DataFrame({"a": [a], "m": [m], "b": [b], "n": [n]})
    diff, lo, hi = difference_bounds(pl.col("a"), pl.col("m"), pl.col("b"), pl.col("n"))
    got = frame.select(diff.alias("d"), lo.alias("lo"), hi.alias("hi")).row(0)
    assert got[1:] == pytest.approx((low, high), abs=5e-5)
    assert got == pytest.approx(hand_newcombe(a, m, b, n), abs=1e-12)


def test_versus_rest_flags_only_significant_differences_and_skips_empty_keys():
    frame = pl.DataFrame(
        {
            "vendor": ["good", "close", "bad", None],
            "correct": [990, 460, 400, 10],
            "reviews": [1000, 500, 500, 100],
        }
    )
    out = versus_rest(frame, "correct", "reviews", "qa", keys=["vendor"], higher_is_better=True)
    flags = dict(zip(out["vendor"].to_list(), out["qa_vs_rest"].to_list(), strict=True))
    for vendor, correct, reviews in frame.filter(pl.col("vendor").is_not_null()).iter_rows():
        rest = [(c, r) for v, c, r in frame.iter_rows() if v is not None and v != vendor]
        _, low, high = hand_newcombe(correct, reviews, sum(c for c, _ in rest), sum(r for _, r in rest))
        expected = "better" if low > 0 else "worse" if high < 0 else None
        assert flags[vendor] == expected
    assert flags["good"] == "better" and flags["bad"] == "worse" and flags[None] is None
    assert flags["close"] is None  # 92 % vs 93.2 % on these samples is not a real difference


def test_cohens_kappa_textbook_two_by_two():
    """Rater A yes/B yes 20, yes/no 5, no/yes 10, no/no 15: p_o = 0.70, p_e = 0.50, κ = 0.40."""
    pairs = [("violating", "violating")] * 20 + [("violating", "non_violating")] * 5
    pairs += [("non_violating", "violating")] * 10 + [("non_violating", "non_violating")] * 15
    reviews = pl.LazyFrame(pairs, schema=["moderator_decision", "qa_decision"], orient="row")
    out = cohens_kappa(reviews, []).row(0, named=True)
    assert out["reviews"] == 50
    assert out["observed_agreement"] == pytest.approx(0.70)
    assert out["expected_agreement"] == pytest.approx(0.50)
    assert out["kappa"] == pytest.approx(0.40)
    se = math.sqrt(0.7 * 0.3 / (50 * 0.5**2))
    assert (out["kappa_ci_low"], out["kappa_ci_high"]) == pytest.approx((0.4 - Z_95 * se, 0.4 + Z_95 * se))


def test_cohens_kappa_is_one_for_perfect_agreement_and_empty_when_chance_explains_everything():
    reviews = pl.LazyFrame(
        {
            "domain": ["a"] * 4 + ["b"] * 3,
            "moderator_decision": ["violating", "violating", "non_violating", "escalated", *["violating"] * 3],
            "qa_decision": ["violating", "violating", "non_violating", "escalated", *["violating"] * 3],
        }
    )
    out = {r["domain"]: r for r in cohens_kappa(reviews, ["domain"]).iter_rows(named=True)}
    assert out["a"]["kappa"] == pytest.approx(1.0)
    assert out["b"]["expected_agreement"] == pytest.approx(1.0) and out["b"]["kappa"] is None


# --- a small source with known structure -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    """Four vendors over 8 weeks. In `hard` every vendor is less accurate than elsewhere (a policy gap); in `solo`
    only v1 is; in `split` vendors v1/v2 decide the same tickets differently; `hard` human appeals overturn often."""
    rng = np.random.default_rng(7)
    vendors, markets = ("v1", "v2", "v3", "v4"), ("US", "DE")
    accuracy = {"hard": {v: 0.70 for v in vendors}, "solo": {"v1": 0.70, "v2": 0.96, "v3": 0.96, "v4": 0.96}}
    accuracy["easy"] = dict.fromkeys(vendors, 0.96)
    accuracy["split"] = dict.fromkeys(vendors, 0.96)
    tickets, qa = [], []
    for i in range(6000):
        domain = ("hard", "solo", "easy", "split")[i % 4]
        vendor = vendors[int(rng.integers(0, 4))] if rng.random() > 0.1 else None  # None: automated
        created = START + dt.timedelta(seconds=int(rng.integers(0, 56 * 86400)))
        p_violating = 0.5 if domain != "split" or vendor is None else {"v1": 0.85, "v2": 0.15}.get(vendor, 0.5)
        decision = "violating" if rng.random() < p_violating else "non_violating"
        appealed = decision == "violating" and rng.random() < 0.3
        overturn_p = 0.6 if domain == "hard" and vendor else 0.1
        tickets.append(
            {
                "ticket_id": f"t{i}",
                "created_at": created,
                "first_action_at": created + dt.timedelta(seconds=60),
                "policy_domain": domain,
                "market": markets[int(rng.integers(0, 2))],
                "surface": "live_stream",
                "source": "user_report",
                "vendor": vendor,
                "automated": vendor is None,
                "decision": decision,
                "appealed": appealed,
                "appeal_overturned": appealed and bool(rng.random() < overturn_p),
            }
        )
        if vendor and rng.random() < 0.5:
            correct = bool(rng.random() < accuracy[domain][vendor])
            qa_decision = decision if correct else rng.choice([d for d in DECISIONS if d != decision])
            kind = None if correct else str(rng.choice(["over_enforcement", "under_enforcement", "wrong_policy"]))
            qa.append(
                {
                    "ticket_id": f"t{i}",
                    "reviewed_at": created + dt.timedelta(days=1),
                    "vendor": vendor,
                    "policy_domain": domain,
                    "moderator_decision": decision,
                    "qa_decision": str(qa_decision),
                    "is_correct": correct,
                    "error_type": kind,
                }
            )
    src = tmp_path_factory.mktemp("quality")
    pl.DataFrame(tickets).write_parquet(src / "tickets.parquet")
    pl.DataFrame(qa).write_parquet(src / "qa_reviews.parquet")
    pl.DataFrame(
        {
            "start": [dt.date(2026, 2, 2), dt.date(2026, 1, 20)],
            "title": ["Policy rewrite", "Launch"],
            "kind": ["policy_change", "model_launch"],
            "policy_domain": ["hard", None],
        }
    ).write_parquet(src / "events.parquet")
    return load_dataset(src)


PERIOD = Filters(START.date(), START.date() + dt.timedelta(days=55))


def qa_rows(ds: Dataset, f: Filters) -> list[dict]:
    market = {t["ticket_id"]: t["market"] for t in ds.tables["tickets"].to_dicts()}
    return [
        {**q, "market": market[q["ticket_id"]]}
        for q in ds.tables["qa_reviews"].to_dicts()
        if f.start_at <= q["reviewed_at"] < f.end_before
        and (not f.market or market[q["ticket_id"]] in f.market)
        and (not f.vendor or q["vendor"] in f.vendor)
    ]


def test_qa_reviews_in_selects_what_the_metric_counts(dataset: Dataset):
    for f in (PERIOD, Filters(dt.date(2026, 1, 12), dt.date(2026, 1, 25), market=("DE",), vendor=("v2", "v3"))):
        n = qa_reviews_in(dataset, f).collect().height
        assert n == summarize(dataset, "qa_accuracy", f)["reviews"][0] == len(qa_rows(dataset, f))


def test_qa_accuracy_by_vendor_domain_and_week_with_wilson(dataset: Dataset):
    out = qa_accuracy(dataset, PERIOD, ["vendor", "policy_domain"], "week")
    counts: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for q in qa_rows(dataset, PERIOD):
        week = q["reviewed_at"].date() - dt.timedelta(days=q["reviewed_at"].weekday())
        counts[(q["vendor"], q["policy_domain"], week)][0] += q["is_correct"]
        counts[(q["vendor"], q["policy_domain"], week)][1] += 1
    assert out.height == len(counts)
    for row in out.iter_rows(named=True):
        correct, reviews = counts[(row["vendor"], row["policy_domain"], row["period"])]
        assert (row["reviews"], row["correct"]) == (reviews, correct)
        assert row["accuracy"] == pytest.approx(correct / reviews)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx(hand_wilson(correct, reviews), abs=1e-9)


def test_agreement_per_domain_against_a_loop(dataset: Dataset):
    out = agreement(dataset, PERIOD)
    by_domain: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for q in qa_rows(dataset, PERIOD):
        by_domain[q["policy_domain"]].append((q["moderator_decision"], q["qa_decision"]))
    for row in out.iter_rows(named=True):
        pairs = by_domain[row["policy_domain"]]
        n = len(pairs)
        p_o = sum(a == b for a, b in pairs) / n
        mod, qa = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
        p_e = sum(mod[c] * qa[c] for c in mod) / n**2
        assert row["reviews"] == n
        assert row["kappa"] == pytest.approx((p_o - p_e) / (1 - p_e))


def test_error_types_against_a_loop(dataset: Dataset):
    out = error_types(dataset, PERIOD, ["vendor"])
    rows = qa_rows(dataset, PERIOD)
    reviews = Counter(q["vendor"] for q in rows)
    errors = Counter((q["vendor"], q["error_type"]) for q in rows if not q["is_correct"])
    assert out.height == len(errors)
    for row in out.iter_rows(named=True):
        key = (row["vendor"], row["error_type"])
        assert (row["errors"], row["reviews"]) == (errors[key], reviews[row["vendor"]])
        assert row["error_share"] == pytest.approx(errors[key] / reviews[row["vendor"]])
        vendor_errors = sum(v for (vendor, _), v in errors.items() if vendor == row["vendor"])
        assert row["share_of_errors"] == pytest.approx(errors[key] / vendor_errors)


def half_width(p: float, n: int, z: float = Z_95) -> float:
    low, high = hand_wilson(p * n, n, z)
    return (high - low) / 2


@pytest.mark.parametrize("margin", [0.01, 0.02, 0.03, 0.05])
@pytest.mark.parametrize("accuracy", [0.5, 0.8, 0.9, 0.95, 0.99, 1.0, None])
def test_reviews_needed_is_the_smallest_sample_within_the_margin(accuracy, margin):
    needed = pl.select(reviews_needed_expr(pl.lit(accuracy, pl.Float64), margin)).item()
    p = 0.5 if accuracy is None else accuracy
    assert half_width(p, needed) <= margin + 1e-12
    assert half_width(p, needed - 1) > margin
    if p == 0.5:  # far from the edges Wilson and the textbook z²p(1 − p)/m² agree closely
        assert needed == pytest.approx(Z_95**2 * 0.25 / margin**2, rel=0.01)


def test_sampling_plan_compares_the_current_sample(dataset: Dataset):
    plan = sampling_plan(dataset, PERIOD, margin=0.05)
    for row in plan.iter_rows(named=True):
        assert row["margin_now"] == pytest.approx((row["ci_high"] - row["ci_low"]) / 2)
        assert row["reviews_short"] == max(0, row["reviews_needed"] - row["reviews"])
        assert (row["margin_now"] <= 0.05) == (row["reviews_short"] == 0)


def test_appeals_by_domain_with_intervals(dataset: Dataset):
    out = appeals(dataset, PERIOD, ["policy_domain"])
    decided = [t for t in dataset.tables["tickets"].to_dicts() if t["decision"]]
    for row in out.iter_rows(named=True):
        mine = [t for t in decided if t["policy_domain"] == row["policy_domain"]]
        appealed = sum(t["appealed"] for t in mine)
        overturned = sum(t["appeal_overturned"] for t in mine)
        assert (row["tickets"], row["appealed"], row["overturned"]) == (len(mine), appealed, overturned)
        assert (row["overturn_ci_low"], row["overturn_ci_high"]) == pytest.approx(hand_wilson(overturned, appealed))
    assert out.filter(pl.col("policy_domain") == "hard")["overturn_vs_rest"][0] == "worse"


def test_policy_gaps_rank_shared_problems_first_with_their_evidence(dataset: Dataset):
    gaps = policy_gaps(dataset, PERIOD)
    by = {r["policy_domain"]: r for r in gaps.iter_rows(named=True)}
    assert gaps["policy_domain"][0] == "hard"
    assert by["hard"]["low_agreement"] and by["hard"]["high_overturns"]
    assert by["hard"]["vendors_worse"] == by["hard"]["vendors_compared"] == 4
    assert not by["solo"]["low_agreement"] and by["solo"]["vendors_worse"] == 1  # one vendor: not the policy
    assert by["split"]["split_decisions"] and not by["easy"]["split_decisions"]
    assert "4 of 4 vendors less accurate" in by["hard"]["evidence"]
    assert by["easy"]["signals"] == 0 and by["easy"]["evidence"] == ""
    by_market = policy_gaps(dataset, PERIOD, ("policy_domain", "market"))
    assert set(by_market.head(2)["policy_domain"]) == {"hard"} and set(by_market.head(2)["market"]) == {"US", "DE"}

    # Vendors worse here than on their own other reviews, recomputed with plain loops and hand Newcombe intervals.
    rows = qa_rows(dataset, PERIOD)
    for domain in ("hard", "solo"):
        worse = 0
        for vendor in ("v1", "v2", "v3", "v4"):
            inside = [q["is_correct"] for q in rows if q["vendor"] == vendor and q["policy_domain"] == domain]
            outside = [q["is_correct"] for q in rows if q["vendor"] == vendor and q["policy_domain"] != domain]
            worse += hand_newcombe(sum(inside), len(inside), sum(outside), len(outside))[2] < 0
        assert by[domain]["vendors_worse"] == worse

    # Split decisions: one chi-square test of vendors × decision per group of similar tickets.
    cells: dict[tuple, Counter] = defaultdict(Counter)
    for t in dataset.tables["tickets"].to_dicts():
        if t["vendor"] and t["policy_domain"] == "split":
            cells[(t["market"], t["vendor"])][t["decision"]] += 1
    split = 0
    for market in ("US", "DE"):
        table = [
            [cells[(market, v)]["violating"], cells[(market, v)]["non_violating"]] for v in ("v1", "v2", "v3", "v4")
        ]
        split += stats.chi2_contingency(table, correction=False).pvalue < 0.05
    assert (by["split"]["cells_compared"], by["split"]["cells_split"]) == (2, split)


def test_change_events_are_policy_changes_and_training_only(dataset: Dataset):
    assert change_events(dataset)["title"].to_list() == ["Policy rewrite"]


def test_training_effects_compare_equal_windows_either_side(dataset: Dataset):
    start, window = dt.date(2026, 2, 2), 14
    out = training_effects(dataset, PERIOD, start, window, policy_domain="hard")
    assert set(out["policy_domain"]) == {"hard"}
    before = (dt.datetime(2026, 1, 19), dt.datetime(2026, 2, 2))
    after = (dt.datetime(2026, 2, 2), dt.datetime(2026, 2, 16))
    qa = dataset.tables["qa_reviews"].to_dicts()
    for row in out.iter_rows(named=True):

        def counts(lo: dt.datetime, hi: dt.datetime, vendor: str = row["vendor"]) -> tuple[int, int]:
            mine = [
                q for q in qa if q["vendor"] == vendor and q["policy_domain"] == "hard" and lo <= q["reviewed_at"] < hi
            ]
            return sum(not q["is_correct"] for q in mine), len(mine)

        (e0, n0), (e1, n1) = counts(*before), counts(*after)
        assert (row["errors_before"], row["reviews_before"], row["errors_after"], row["reviews_after"]) == (
            e0,
            n0,
            e1,
            n1,
        )
        change, low, high = hand_newcombe(e1, n1, e0, n0)
        assert (row["error_rate_change"], row["change_ci_low"], row["change_ci_high"]) == pytest.approx(
            (change, low, high), abs=1e-9
        )
        expected = "fewer errors" if high < 0 else "more errors" if low > 0 else None
        assert row["significant"] == expected


def test_missing_qa_fields_are_not_needed_for_accuracy(tmp_path: Path):
    (tmp_path / "tickets.csv").write_text("ticket_id,created_at\na,2026-01-05 10:00:00\n")
    (tmp_path / "qa_reviews.csv").write_text("ticket_id,reviewed_at,is_correct\na,2026-01-06 10:00:00,true\n")
    ds = load_dataset(tmp_path)
    out = qa_accuracy(ds, Filters(dt.date(2026, 1, 5), dt.date(2026, 1, 11))).row(0, named=True)
    assert (out["reviews"], out["accuracy"]) == (1, 1.0)
    assert out["ci_low"] == pytest.approx(wilson_interval(1, 1)[0])
