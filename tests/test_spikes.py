"""The spike detector: synthetic series with known answers, its figures against plain loops, and
the evaluation against the spikes injected into a demo warehouse."""

from __future__ import annotations

import datetime as dt
import shutil
import warnings
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from queries.analyses.spikes import (
    SPIKE_SCHEMA,
    SpikeSettings,
    baseline,
    benjamini_hochberg,
    detect_spikes,
    drill_down,
    events_concerning,
    find_episodes,
    over_represented,
    scan_spikes,
    with_events,
)
from queries.demo import SCALES, generate_demo
from queries.filters import Filters
from queries.sources.dataset import Dataset, load_dataset

WEEK = np.array([0.8, 0.85, 0.9, 0.95, 1.1, 1.3, 1.1])  # Monday first, mean 1
DAYS = 730


def expected_counts(level: float, days: int = DAYS) -> np.ndarray:
    return level * WEEK[np.arange(days) % 7]


def draw(rng: np.random.Generator, mean: np.ndarray) -> np.ndarray:
    """Poisson counts around the mean with 5 % lognormal day noise, like real volumes."""
    return rng.poisson(mean * np.exp(rng.normal(-0.00125, 0.05, mean.shape))).astype(float)


def spans(episodes) -> list[tuple[int, int]]:
    return sorted((e.first, e.last) for e in episodes)


# --- synthetic series -------------------------------------------------------------------


def test_injected_spikes_are_found_with_their_dates_and_sizes():
    rng = np.random.default_rng(1)
    mean = expected_counts(200)
    mean[100:103] *= 2.0  # three days at 2x
    mean[300] *= 3.0  # one day at 3x
    mean[500:507] *= 1.6  # a milder week
    episodes, _ = find_episodes(draw(rng, mean)[None], first_weekday=0)
    assert spans(episodes) == [(100, 102), (300, 300), (500, 506)]
    ratios = {e.first: e.observed / e.expected for e in episodes}
    assert ratios[100] == pytest.approx(2.0, rel=0.1)
    assert ratios[300] == pytest.approx(3.0, rel=0.1)
    assert ratios[500] == pytest.approx(1.6, rel=0.1)
    assert all(not e.level_shift for e in episodes)


def test_a_level_shift_is_reported_once_from_its_first_day_then_becomes_normal():
    rng = np.random.default_rng(2)
    mean = expected_counts(200)
    mean[400:] *= 1.5
    y = draw(rng, mean)[None]
    episodes, base = find_episodes(y, first_weekday=0)
    assert len(episodes) == 1
    shift = episodes[0]
    assert shift.first == 400 and shift.level_shift
    assert shift.last < 400 + 28  # the baseline adopts the new level within its window
    assert np.nanmedian(base.expected[0, 450:] / mean[450:]) == pytest.approx(1.0, abs=0.03)
    later, _ = find_episodes(y, first_weekday=0, test_from=430)
    assert later == []


def test_a_holiday_dip_is_no_spike_and_leaves_the_baseline_alone():
    rng = np.random.default_rng(3)
    mean = expected_counts(200)
    mean[300] *= 0.3
    mean[301] *= 0.5
    episodes, base = find_episodes(draw(rng, mean)[None], first_weekday=0)
    assert episodes == []
    after = base.expected[0, 302:330] / mean[302:330]
    assert np.abs(after - 1).max() < 0.06


def test_a_series_of_zeros_expects_a_trickle_and_raises_nothing():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        episodes, base = find_episodes(np.zeros((3, 120)), first_weekday=2)
    assert episodes == []
    assert np.nanmax(base.expected) == pytest.approx(0.1)


@pytest.mark.parametrize("days", [0, 1, 6, 13, 20])
def test_a_very_short_series_gives_no_spikes_and_no_error(days: int):
    y = np.random.default_rng(4).poisson(50, (2, days)).astype(float)
    episodes, base = find_episodes(y, first_weekday=0)
    assert episodes == []
    assert base.expected.shape == (2, days)
    assert np.isnan(base.expected[:, : min(days, 14)]).all()  # no baseline before two weeks of history


def test_many_quiet_groups_raise_no_false_alarm():
    rng = np.random.default_rng(5)
    y = np.array([draw(rng, expected_counts(level)) for level in rng.uniform(0.5, 300, 100)])
    episodes, _ = find_episodes(y, first_weekday=0)
    assert episodes == []


def test_sensitivity_trades_false_alarms_for_smaller_spikes():
    rng = np.random.default_rng(6)
    mean = np.array([expected_counts(level) for level in rng.uniform(20, 200, 20)])
    for g, size in enumerate(np.linspace(1.15, 1.8, 20)):
        mean[g, 200 + 20 * g : 203 + 20 * g] *= size
    y = draw(rng, mean)
    found = {q: len(find_episodes(y, 0, SpikeSettings(sensitivity=q))[0]) for q in (0.001, 0.01, 0.2)}
    assert found[0.001] < found[0.2]
    assert found[0.001] <= found[0.01] <= found[0.2]


def test_minimum_excess_and_ratio_drop_small_spikes():
    rng = np.random.default_rng(7)
    mean = expected_counts(5)
    mean[200:203] *= 4
    y = draw(rng, mean)[None]
    (spike,) = find_episodes(y, 0)[0]
    assert (spike.first, spike.last) == (200, 202)
    excess, ratio = spike.observed - spike.expected, spike.observed / spike.expected
    assert find_episodes(y, 0, SpikeSettings(min_excess_tickets=excess - 1, min_ratio=ratio - 0.1))[0] == [spike]
    assert find_episodes(y, 0, SpikeSettings(min_excess_tickets=excess + 1))[0] == []
    assert find_episodes(y, 0, SpikeSettings(min_ratio=ratio + 0.1))[0] == []


def test_baseline_recovers_the_weekly_pattern_and_level_of_a_clean_series():
    y = expected_counts(1000)[None]
    base = baseline(y, first_weekday=0)
    np.testing.assert_allclose(base.profile[0], WEEK, rtol=1e-3)
    np.testing.assert_allclose(base.expected[0, 28:], y[0, 28:], rtol=1e-3)
    assert base.dispersion[0] == pytest.approx(0.0, abs=1e-6)


def test_small_groups_do_not_take_noise_for_a_weekly_pattern():
    rng = np.random.default_rng(8)
    y = rng.poisson(0.5, (1, DAYS)).astype(float)  # no weekly pattern at all
    assert np.abs(baseline(y, 0).profile - 1).max() < 0.1


def test_benjamini_hochberg_matches_the_textbook_procedure():
    rng = np.random.default_rng(9)
    p = np.concatenate([rng.uniform(size=200), rng.uniform(0, 1e-4, 20)])
    rejected, _ = benjamini_hochberg(np.log(p), 0.05)
    order = sorted(range(len(p)), key=lambda i: p[i])
    k = max((rank for rank, i in enumerate(order, 1) if p[i] <= 0.05 * rank / len(p)), default=0)
    assert set(np.nonzero(rejected)[0]) == set(order[:k])
    with_untested = np.append(np.log(p), np.nan)
    assert not benjamini_hochberg(with_untested, 0.05)[0][-1]


# --- on a dataset -------------------------------------------------------------------------

START = dt.date(2025, 1, 6)  # a Monday


def tickets_source(tmp_path: Path, counts: dict[tuple[str, str], np.ndarray], rng: np.random.Generator) -> Path:
    """A source with `counts[(domain, market)][day]` tickets a day from START, with timings and vendors."""
    rows = []
    for (domain, market), per_day in counts.items():
        for day, n in enumerate(per_day.astype(int)):
            for _ in range(n):
                created = dt.datetime.combine(START + dt.timedelta(days=day), dt.time()) + dt.timedelta(
                    seconds=int(rng.integers(0, 86400))
                )
                acted = created + dt.timedelta(seconds=float(rng.exponential(600))) if rng.random() > 0.05 else None
                rows.append(
                    {
                        "ticket_id": f"t{len(rows)}",
                        "created_at": created,
                        "first_action_at": acted,
                        "policy_domain": domain,
                        "market": market,
                        "surface": str(rng.choice(["live_stream", "live_comment"])),
                        "source": str(rng.choice(["user_report", "proactive_model"])),
                        "language": "en" if market == "US" else "de",
                        "vendor": None if rng.random() < 0.3 else str(rng.choice(["v1", "v2"])),
                        "views_before_action": int(rng.integers(0, 50)) if acted else None,
                    }
                )
    pl.DataFrame(rows).write_parquet(tmp_path / "tickets.parquet")
    pl.DataFrame(
        {
            "start": [START + dt.timedelta(days=150), START + dt.timedelta(days=10)],
            "end": [START + dt.timedelta(days=152), None],
            "title": ["Election", "Launch elsewhere"],
            "kind": ["news_event", "model_launch"],
            "policy_domain": ["hate", "spam"],
            "market": ["DE", None],
        }
    ).write_parquet(tmp_path / "events.parquet")
    return tmp_path


@pytest.fixture(scope="module")
def spiky(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    """200 days of four groups; hate × DE triples on days 150–152 through user reports on live comments."""
    rng = np.random.default_rng(10)
    days = 200
    counts = {(d, m): draw(rng, expected_counts(40, days)) for d in ("hate", "spam") for m in ("DE", "US")}
    counts[("spam", "US")][196:] = draw(rng, expected_counts(40 * 3, 4))  # still going on the last day
    source = tickets_source(tmp_path_factory.mktemp("spiky"), counts, rng)
    extra = []
    for day in (150, 151, 152):
        for i in range(80):
            created = dt.datetime.combine(START + dt.timedelta(days=day), dt.time(12)) + dt.timedelta(seconds=i)
            extra.append(
                {
                    "ticket_id": f"x{day}-{i}",
                    "created_at": created,
                    "first_action_at": created + dt.timedelta(hours=2),
                    "policy_domain": "hate",
                    "market": "DE",
                    "surface": "live_comment",
                    "source": "user_report",
                    "language": "de",
                    "vendor": "v3",
                    "views_before_action": 500,
                }
            )
    tickets = pl.concat([pl.read_parquet(source / "tickets.parquet"), pl.DataFrame(extra)], how="vertical_relaxed")
    tickets.write_parquet(source / "tickets.parquet")
    return load_dataset(source)


def test_spike_list_figures_match_a_loop_over_the_tickets(spiky: Dataset):
    f = Filters(START + dt.timedelta(days=100), START + dt.timedelta(days=199))
    spikes = detect_spikes(spiky, f, ["policy_domain", "market"])
    assert spikes.columns == ["policy_domain", "market", *SPIKE_SCHEMA]
    assert spikes.select("policy_domain", "market", "start", "end").rows() == [
        ("spam", "US", START + dt.timedelta(days=196), START + dt.timedelta(days=199)),
        ("hate", "DE", START + dt.timedelta(days=150), START + dt.timedelta(days=152)),
    ]
    for spike in spikes.iter_rows(named=True):
        observed = sum(
            1
            for t in spiky.tables["tickets"].iter_rows(named=True)
            if (t["policy_domain"], t["market"]) == (spike["policy_domain"], spike["market"])
            and spike["start"] <= t["created_at"].date() <= spike["end"]
        )
        assert spike["observed"] == observed
        assert spike["excess"] == pytest.approx(observed - spike["expected"])
        assert spike["ratio"] == pytest.approx(observed / spike["expected"])
        assert spike["days"] == (spike["end"] - spike["start"]).days + 1
        assert spike["score"] > 3
    assert spikes["status"].to_list() == ["ongoing", "ended"]
    assert spikes["kind"].to_list() == ["spike", "spike"]


def test_status_new_for_a_spike_that_began_in_the_last_days(spiky: Dataset):
    f = Filters(START + dt.timedelta(days=100), START + dt.timedelta(days=197))
    spam = detect_spikes(spiky, f, ["policy_domain", "market"]).filter(pl.col("policy_domain") == "spam")
    assert spam["status"].to_list() == ["new"]


def test_filters_select_the_groups_that_are_tested(spiky: Dataset):
    f = Filters(START + dt.timedelta(days=100), START + dt.timedelta(days=199), market=("DE",))
    assert detect_spikes(spiky, f, ["policy_domain"])["policy_domain"].to_list() == ["hate"]
    total = detect_spikes(spiky, Filters(f.start, f.end), [])
    assert total.columns == list(SPIKE_SCHEMA) and total.height >= 1


def test_daily_series_behind_the_list_has_every_group_and_day(spiky: Dataset):
    f = Filters(START + dt.timedelta(days=100), START + dt.timedelta(days=199))
    scan = scan_spikes(spiky, f, ["policy_domain", "market"])
    assert scan.daily.height == 4 * 200  # the history before the period is included for the baseline
    day = scan.daily.filter(
        (pl.col("policy_domain") == "hate") & (pl.col("market") == "DE") & (pl.col("day") == START + dt.timedelta(150))
    ).row(0, named=True)
    assert day["tickets"] > 2 * day["expected"]


# --- what explains the increase: over-representation on a hand-built fixture ---------------------

SPIKE_DAY, NORMAL_DAY = dt.datetime(2026, 8, 4, 12), dt.datetime(2026, 7, 20, 12)


def hand_built_tickets() -> tuple[pl.DataFrame, pl.DataFrame]:
    """A spike of 10 Indonesian tickets (6 live streams) against a normal window of 40 (10 live streams)."""
    spike = [("live_stream", "user_report")] * 6 + [("live_comment", "user_report")] * 2 + [("gift", None)] * 2
    normal = [("live_stream", "user_report")] * 10 + [("live_comment", "user_report")] * 25
    normal += [("gift", "proactive_model")] * 5

    def frame(rows: list, when: dt.datetime) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "created_at": [when] * len(rows),
                "surface": [r[0] for r in rows],
                "source": [r[1] for r in rows],
                "language": ["id"] * len(rows),
            }
        )

    return frame(spike, SPIKE_DAY), frame(normal, NORMAL_DAY)


def plain_over_representation(spike: list[dict], normal: list[dict], dimensions: list[str]) -> list[tuple]:
    """(dimension, value, excess, spike share, normal share) of over-represented segments by a loop, ranked."""
    out = []
    for dim in dimensions:
        for value in {t[dim] for t in spike}:
            in_spike = sum(1 for t in spike if t[dim] == value)
            in_normal = sum(1 for t in normal if t[dim] == value)
            excess = in_spike - len(spike) * in_normal / len(normal)
            if excess >= 1:  # at least one extra ticket
                out.append((dim, value or "(not given)", excess, in_spike / len(spike), in_normal / len(normal)))
    return sorted(out, key=lambda r: -r[2])


def segment_counts(tickets: pl.DataFrame, dimensions: list[str]) -> pl.DataFrame:
    """(dimension, value, tickets) of hand-built tickets, counted by a loop."""
    counted = Counter((d, t[d] or "(not given)") for t in tickets.to_dicts() for d in dimensions)
    rows = [(d, v, n) for (d, v), n in counted.items()]
    return pl.DataFrame(rows, schema={"dimension": pl.String, "value": pl.String, "tickets": pl.Int64}, orient="row")


def test_over_representation_ranks_segments_by_the_excess_they_account_for():
    spike, normal = hand_built_tickets()
    dims = ["surface", "source", "language"]
    found = over_represented(segment_counts(spike, dims), segment_counts(normal, dims))
    expected = plain_over_representation(spike.to_dicts(), normal.to_dicts(), ["surface", "source", "language"])
    assert found.select("dimension", "value").rows() == [(d, v) for d, v, *_ in expected]
    assert found["excess_tickets"].to_list() == pytest.approx([r[2] for r in expected])
    assert found["spike_share"].to_list() == pytest.approx([r[3] for r in expected])
    assert found["normal_share"].to_list() == pytest.approx([r[4] for r in expected])
    # by hand: live streams are 60 % of the spike against 25 % normally: 6 − 10 × 0.25 = 3.5 extra tickets
    top = found.row(0, named=True)
    assert (top["dimension"], top["value"], top["spike_tickets"], top["normal_tickets"]) == (
        "surface",
        "live_stream",
        6,
        10,
    )
    assert top["expected_tickets"] == pytest.approx(2.5) and top["excess_tickets"] == pytest.approx(3.5)
    assert top["lift"] == pytest.approx(0.6 / 0.25)
    assert ("surface", "gift") not in found.select("dimension", "value").rows()  # 2 − 10 × 5/40 = 0.75: under 1
    # every Indonesian ticket is in Indonesian, during the spike and before: no explanation, never listed
    assert "language" not in found["dimension"].to_list()
    # absolute change would rank user reports first (8 a day against 35/28); their share fell: not listed
    assert ("source", "user_report") not in found.select("dimension", "value").rows()


def test_over_representation_without_a_normal_window_is_empty():
    spike, normal = hand_built_tickets()
    assert over_represented(segment_counts(spike, ["surface"]), segment_counts(normal.clear(), ["surface"])).is_empty()


def test_drill_down_never_breaks_a_spike_down_by_its_own_keys(spiky: Dataset):
    f = Filters(START + dt.timedelta(days=100), START + dt.timedelta(days=199))
    start, end = START + dt.timedelta(days=150), START + dt.timedelta(days=152)
    drill = drill_down(spiky, f, {"language": "de"}, start, end)
    assert "language" not in set(drill.segments["dimension"])


# --- events linked to spikes ----------------------------------------------------------------------


def test_an_event_the_day_before_a_spike_is_linked_to_it():
    spikes = pl.DataFrame(
        {
            "policy_domain": ["spam", "spam", "hate"],
            "market": ["BR", "ID", "DE"],
            "start": [dt.date(2026, 8, 4), dt.date(2026, 8, 6), dt.date(2026, 8, 4)],
            "end": [dt.date(2026, 8, 11), dt.date(2026, 8, 9), dt.date(2026, 8, 5)],
        }
    )
    events = pl.DataFrame(
        {
            "start": [dt.date(2026, 8, 3)],
            "end": [None],
            "title": ["Stream detector"],
            "kind": ["model_launch"],
            "policy_domain": ["spam"],
            "market": [None],
        },
        schema_overrides={"end": pl.Date, "market": pl.String},
    )
    linked = with_events(spikes, events)["events"].to_list()
    assert linked == ["Stream detector", None, None]  # 2 days before is not linked; another domain is not


def test_events_that_concern_a_spike_are_named(spiky: Dataset):
    f = Filters(START + dt.timedelta(days=100), START + dt.timedelta(days=199))
    spikes = with_events(detect_spikes(spiky, f, ["policy_domain", "market"]), spiky.tables["events"])
    assert spikes["events"].to_list() == [None, "Election"]


def test_drill_down_explains_the_spike_against_a_loop(spiky: Dataset):
    f = Filters(START + dt.timedelta(days=100), START + dt.timedelta(days=199))
    start, end = START + dt.timedelta(days=150), START + dt.timedelta(days=152)
    drill = drill_down(spiky, f, {"policy_domain": "hate", "market": "DE"}, start, end)
    assert (drill.normal_start, drill.normal_end) == (start - dt.timedelta(days=28), start - dt.timedelta(days=1))
    rows = [
        t for t in spiky.tables["tickets"].iter_rows(named=True) if (t["policy_domain"], t["market"]) == ("hate", "DE")
    ]
    during = [t for t in rows if start <= t["created_at"].date() <= end]
    normal = [t for t in rows if drill.normal_start <= t["created_at"].date() <= drill.normal_end]

    per_day: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for t in during:
        for dim in ("surface", "source", "language"):
            per_day[(dim, t[dim])][0] += 1 / 3
    for t in normal:
        for dim in ("surface", "source", "language"):
            per_day[(dim, t[dim])][1] += 1 / 28
    segments = drill.segments
    assert set(segments["dimension"]) <= {"surface", "source", "language"}  # policy domain and market: the group
    spike_total, normal_total = len(during), len(normal)
    for rec in segments.iter_rows(named=True):
        spike_count = sum(1 for t in during if t[rec["dimension"]] == rec["value"])
        normal_count = sum(1 for t in normal if t[rec["dimension"]] == rec["value"])
        assert rec["spike_tickets"] == spike_count and rec["normal_tickets"] == normal_count
        assert rec["excess_tickets"] == pytest.approx(spike_count - spike_total * normal_count / normal_total)
    assert segments.row(0, named=True)["value"] == "live_comment"  # the injected tickets: live comments ...
    assert "user_report" in set(segments["value"])  # ... from user reports
    assert "language" not in set(segments["dimension"])  # German, like every DE ticket before: no explanation
    assert segments["excess_tickets"].to_list() == sorted(segments["excess_tickets"], reverse=True)

    turnaround = {r["period"]: r for r in drill.turnaround.iter_rows(named=True)}
    for label, group in (("during the spike", during), ("normal", normal)):
        hours = [(t["first_action_at"] - t["created_at"]).total_seconds() / 3600 for t in group if t["first_action_at"]]
        acted = [t for t in group if t["first_action_at"]]
        views = [t["views_before_action"] for t in acted if t["views_before_action"] is not None]
        assert turnaround[label]["tickets"] == len(group) and turnaround[label]["measured"] == len(hours)
        assert turnaround[label]["p50_hours"] == pytest.approx(np.percentile(hours, 50))
        assert turnaround[label]["p90_hours"] == pytest.approx(np.percentile(hours, 90))
        assert turnaround[label]["p90_views"] == pytest.approx(np.percentile(views, 90))

    vendors = {r["vendor"]: r for r in drill.vendors.iter_rows(named=True)}
    assert next(iter(vendors)) == "v3"  # largest first
    assert vendors["v3"]["tickets"] == 240 and vendors["v3"]["normal_share"] == 0
    assert vendors["v3"]["share"] == pytest.approx(240 / len(during))
    assert vendors["v3"]["p50_hours"] == pytest.approx(2.0)
    assert sum(r["share"] for r in vendors.values()) == pytest.approx(1.0)


# --- evaluation against the demo warehouse's injected spikes ---------------------------------

# The demo at its small scale (the default's spikes are the same multiples on six times the volume).
DEMO = {"days": 730, "tickets_per_day": SCALES["small"], "seed": 7, "end": dt.date(2026, 11, 24)}


def overlaps(a_start: dt.date, a_end: dt.date, b_start: dt.date, b_end: dt.date) -> bool:
    return a_start <= b_end and b_start <= a_end


def test_detector_finds_the_injected_spikes_of_the_demo_warehouse(tmp_path: Path):
    """Recall ≥ 0.9 on injected spikes ≥ 1.5x lasting ≥ 2 days; ≥ 80 % of reported spikes overlap an
    injected spike or a recorded event of their group. The detector runs after truth/ is deleted."""
    generate_demo(tmp_path, **DEMO)
    truth = pl.read_csv(tmp_path / "truth" / "spikes.csv", try_parse_dates=True)
    shutil.rmtree(tmp_path / "truth")
    ds = load_dataset(tmp_path)
    tickets = ds.tables["tickets"]
    period = Filters(tickets["created_at"].min().date(), tickets["created_at"].max().date())
    spikes = detect_spikes(ds, period, ["policy_domain", "market"])
    events = ds.tables["events"].with_columns(pl.col("end").fill_null(pl.col("start")))

    def same_group(row: dict, spike: dict) -> bool:
        return all(row[c] is None or row[c] == spike[c] for c in ("policy_domain", "market"))

    wanted = truth.filter((pl.col("multiplier") >= 1.5) & ((pl.col("end") - pl.col("start")).dt.total_days() >= 1))
    found = [
        any(
            same_group(t, s) and overlaps(t["start"], t["end"], s["start"], s["end"])
            for s in spikes.iter_rows(named=True)
        )
        for t in wanted.iter_rows(named=True)
    ]
    explained = [
        any(
            same_group(r, s) and overlaps(r["start"], r["end"], s["start"], s["end"])
            for r in [*truth.iter_rows(named=True), *events.iter_rows(named=True)]
        )
        for s in spikes.iter_rows(named=True)
    ]
    recall, precision = sum(found) / len(found), sum(explained) / len(explained)
    print(
        f"recall {recall:.3f} ({sum(found)}/{len(found)}), precision {precision:.3f} ({sum(explained)}/{len(spikes)})"
    )
    assert wanted.height == 12
    assert recall >= 0.9
    assert precision >= 0.8


def test_events_concern_a_group_unless_they_name_another_domain_or_market():
    events = pl.DataFrame(
        {
            "title": ["everywhere", "hate anywhere", "hate in DE", "spam in DE", "anything in US"],
            "policy_domain": [None, "hate", "hate", "spam", None],
            "market": [None, None, "DE", "DE", "US"],
        }
    )
    assert events_concerning(events, {"policy_domain": "hate", "market": "DE"})["title"].to_list() == [
        "everywhere",
        "hate anywhere",
        "hate in DE",
    ]
    assert events_concerning(events, {"market": "DE"})["title"].to_list() == [
        "everywhere",
        "hate anywhere",
        "hate in DE",
        "spam in DE",
    ]


def test_a_selection_without_tickets_gives_an_empty_spike_list(tmp_path: Path):
    from queries.analyses.spikes import scan_spikes
    from queries.demo import generate_demo
    from queries.filters import Filters

    generate_demo(tmp_path / "d", days=60, tickets_per_day=100, seed=1, end=dt.date(2026, 6, 30))
    ds = load_dataset(tmp_path / "d")
    scan = scan_spikes(ds, Filters(dt.date(2026, 6, 3), dt.date(2026, 6, 30), market=("nowhere",)), ["policy_domain"])
    assert scan.spikes.is_empty() and "policy_domain" in scan.spikes.columns and scan.daily.is_empty()
