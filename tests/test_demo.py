"""Tests of the demo warehouse generator (`queries.demo`).

One small demo (150 days × 2,000 tickets/day, ~0.3 M tickets, ~1 s) is generated once per
module; determinism uses an even smaller one. The end date is fixed so the period
(2025-01-12 .. 2025-06-10) has no December/summer seasonality and no ID holiday, which
keeps the volume-follows-DAU checks clean.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from queries import contract
from queries.demo import DemoSummary, generate_demo, staffing, world

END = dt.date(2025, 6, 10)
DAYS = 150
TICKETS_PER_DAY = 2000
START = END - dt.timedelta(days=DAYS - 1)
NON_LIVE = [q for q in world.QUEUES if q not in world.LIVE_QUEUES]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoSummary]:
    out = tmp_path_factory.mktemp("demo")
    return out, generate_demo(out, days=DAYS, tickets_per_day=TICKETS_PER_DAY, seed=7, end=END)


@pytest.fixture(scope="module")
def tables(demo: tuple[Path, DemoSummary]) -> dict[str, pl.DataFrame]:
    out, _ = demo
    return {name: pl.read_parquet(out / f"{name}.parquet") for name in contract.TABLES}


@pytest.fixture(scope="module")
def tickets(tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    return tables["tickets"].with_columns(
        date=pl.col("created_at").dt.date(),
        wait_s=(pl.col("first_action_at") - pl.col("created_at")).dt.total_seconds(),
    )


@pytest.fixture(scope="module")
def spikes(demo: tuple[Path, DemoSummary]) -> pl.DataFrame:
    out, _ = demo
    return pl.read_csv(out / "truth" / "spikes.csv", try_parse_dates=True)


def _spike_days(spikes: pl.DataFrame, market: str) -> set[dt.date]:
    """Days inside any spike window that touches `market` (its own or an all-market spike)."""
    days: set[dt.date] = set()
    for row in spikes.filter(pl.col("market").is_null() | (pl.col("market") == market)).iter_rows(named=True):
        days.update(row["start"] + dt.timedelta(days=i) for i in range((row["end"] - row["start"]).days + 1))
    return days


# --- files and contract ---------------------------------------------------------------


def test_writes_every_file_and_a_manifest(demo: tuple[Path, DemoSummary]) -> None:
    out, summary = demo
    for name in contract.TABLES:
        assert (out / f"{name}.parquet").is_file()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 7
    assert manifest["parameters"] == {
        "days": DAYS,
        "tickets_per_day": TICKETS_PER_DAY,
        "start": str(START),
        "end": str(END),
    }
    assert manifest["rows"] == summary.rows
    assert manifest["version"] == summary.version
    assert summary.bytes_written == sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    assert not list(out.rglob("*.tmp"))


@pytest.mark.parametrize("name", list(contract.TABLES))
def test_columns_and_dtypes_match_the_contract(tables: dict[str, pl.DataFrame], name: str) -> None:
    frame, table = tables[name], contract.TABLES[name]
    assert frame.columns == table.names
    assert dict(frame.schema) == table.schema
    assert frame.height > 0


@pytest.mark.parametrize("name", list(contract.TABLES))
def test_values_respect_the_contract(tables: dict[str, pl.DataFrame], name: str) -> None:
    frame, table = tables[name], contract.TABLES[name]
    for field in table.fields:
        column = frame[field.name]
        if field.required:
            assert column.null_count() == 0, f"{name}.{field.name} has nulls"
        if field.values is not None:
            assert set(column.drop_nulls().unique()) <= set(field.values), f"{name}.{field.name}"
        if field.min_value is not None:
            assert column.min() >= field.min_value, f"{name}.{field.name} below minimum"
        if field.max_value is not None:
            assert column.max() <= field.max_value, f"{name}.{field.name} above maximum"
    if table.unique_key:
        assert frame.select(table.unique_key).is_duplicated().sum() == 0


def test_row_rules_hold(tables: dict[str, pl.DataFrame]) -> None:
    for table, later, earlier, _ in contract.ORDER_RULES:
        frame = tables[table]
        assert frame.filter(pl.col(later) < pl.col(earlier)).height == 0, f"{table}: {later} < {earlier}"


def test_ticket_fields_are_consistent(tickets: pl.DataFrame) -> None:
    automated = tickets.filter(pl.col("automated"))
    human = tickets.filter(~pl.col("automated"))
    assert automated.select(pl.col("vendor", "site", "handle_seconds").is_not_null().sum()).row(0) == (0, 0, 0)
    assert human.select(pl.col("vendor", "site").null_count()).row(0) == (0, 0)
    # Waiting tickets have no first action, no decision and no close; decided ones have all but close.
    waiting = tickets["first_action_at"].is_null()
    assert (waiting == tickets["decision"].is_null()).all()
    assert tickets.filter(waiting & pl.col("closed_at").is_not_null()).height == 0
    assert human.filter(pl.col("decision").is_not_null() & pl.col("handle_seconds").is_null()).height == 0
    expected_updated = pl.coalesce("closed_at", "first_action_at", "created_at")
    assert tickets.filter(pl.col("updated_at") != expected_updated).height == 0
    assert tickets.filter(pl.col("appeal_overturned") & ~pl.col("appealed")).height == 0
    assert tickets.filter(pl.col("appealed") & (pl.col("decision") != "violating")).height == 0
    assert tickets["sla_met"].null_count() == tickets.height
    assert tickets["created_at"].max() < dt.datetime.combine(END + dt.timedelta(days=1), dt.time())
    assert tickets["created_at"].min() >= dt.datetime.combine(START, dt.time())


def test_routing_follows_surface_priority_and_language(tickets: pl.DataFrame) -> None:
    queue_of = tickets.group_by("surface", "priority").agg(pl.col("queue").unique())
    for surface, priority, queues in queue_of.iter_rows():
        expected = {
            "live_stream": "live_p0" if priority == "P0" else "live_p1",
            "live_comment": "live_comments",
            "gift": "gifts",
        }.get(surface, "reports")
        assert queues == [expected]
    covered = {(p.vendor, p.site, p.language) for p in world.POOLS}
    routed = tickets.filter(pl.col("vendor").is_not_null()).select("vendor", "site", "language").unique()
    assert set(routed.iter_rows()) <= covered
    internal_sources = tickets.filter(pl.col("source").is_in(world.INTERNAL_SOURCES) & ~pl.col("automated"))
    assert (internal_sources["vendor"] == world.INTERNAL).all()


def test_magnitudes_are_plausible(tickets: pl.DataFrame) -> None:
    automated = tickets["automated"].mean()
    assert 0.35 <= automated <= 0.45
    proactive = tickets.filter(pl.col("policy_domain") == "harassment_bullying")["source"].eq("proactive_model").mean()
    assert 0.70 <= proactive <= 0.80
    decided = tickets.filter(pl.col("decision") == "violating")
    assert 0.05 <= decided["appealed"].mean() <= 0.08
    escalated = tickets["decision"].eq("escalated").mean()
    assert 0.005 <= escalated <= 0.02


def test_qa_reviews_are_consistent(tables: dict[str, pl.DataFrame], tickets: pl.DataFrame) -> None:
    qa = tables["qa_reviews"].join(
        tickets.select("ticket_id", "first_action_at", "decision", "vendor", "policy_domain", "automated"),
        on="ticket_id",
        suffix="_ticket",
    )
    assert qa.height == tables["qa_reviews"].height
    assert not qa["automated"].any()
    assert (qa["moderator_decision"] == qa["decision"]).all()
    assert (qa["vendor"] == qa["vendor_ticket"]).all()
    assert (qa["reviewed_at"] > qa["first_action_at"]).all()
    assert (qa["error_type"].is_null() == qa["is_correct"]).all()
    agrees = qa["moderator_decision"] == qa["qa_decision"]
    assert (agrees == (qa["is_correct"] | (qa["error_type"] == "wrong_policy").fill_null(False))).all()
    over = qa.filter(pl.col("error_type") == "over_enforcement")
    assert (over["moderator_decision"] == "violating").all() and (over["qa_decision"] == "non_violating").all()
    under = qa.filter(pl.col("error_type") == "under_enforcement")
    assert (under["moderator_decision"] == "non_violating").all() and (under["qa_decision"] == "violating").all()
    wrong = qa.filter(pl.col("error_type") == "wrong_policy")
    assert (wrong["moderator_decision"] == "violating").all() and (wrong["qa_decision"] == "violating").all()
    assert 0.85 <= qa["is_correct"].mean() <= 0.97


def test_events_and_spike_truth(tables: dict[str, pl.DataFrame], spikes: pl.DataFrame) -> None:
    events = tables["events"]
    kinds = set(events["kind"])
    assert {"model_launch", "policy_change", "training", "news_event", "holiday", "outage", "other"} <= kinds
    assert spikes.columns == ["start", "end", "policy_domain", "market", "multiplier"]
    assert 8 <= spikes.height <= 14
    assert spikes["multiplier"].is_between(1.6, 4.0).all()
    assert spikes.filter(pl.col("end") < pl.col("start")).height == 0
    assert spikes["start"].min() >= START and spikes["end"].max() <= END
    news = events.filter(pl.col("kind") == "news_event")
    assert 0 < news.height < spikes.height  # some spikes have a real-world cause, some not
    assert set(news.select("start", "policy_domain").iter_rows()) <= set(
        spikes.select("start", "policy_domain").iter_rows()
    )


# --- determinism ------------------------------------------------------------------------


def test_same_seed_same_bytes_and_other_seed_other_data(tmp_path: Path) -> None:
    kwargs = {"days": 40, "tickets_per_day": 300, "end": END}
    first, second, other = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate_demo(first, seed=3, **kwargs)
    generate_demo(second, seed=3, **kwargs)
    generate_demo(other, seed=4, **kwargs)
    for name in contract.TABLES:
        a, b = pl.read_parquet(first / f"{name}.parquet"), pl.read_parquet(second / f"{name}.parquet")
        assert_frame_equal(a, b)
        assert (first / f"{name}.parquet").read_bytes() == (second / f"{name}.parquet").read_bytes()
    assert (first / "truth" / "spikes.csv").read_bytes() == (second / "truth" / "spikes.csv").read_bytes()
    a, c = pl.read_parquet(first / "tickets.parquet"), pl.read_parquet(other / "tickets.parquet")
    assert not a.equals(c)


def test_regenerating_replaces_the_previous_demo(tmp_path: Path) -> None:
    generate_demo(tmp_path, days=20, tickets_per_day=200, end=END)
    summary = generate_demo(tmp_path, days=10, tickets_per_day=100, end=END)
    assert pl.read_parquet(tmp_path / "tickets.parquet").height == summary.rows["tickets"]
    assert pl.read_parquet(tmp_path / "platform_metrics.parquet")["date"].n_unique() == 10


# --- the world's behaviour --------------------------------------------------------------


def test_mean_tickets_per_day(tickets: pl.DataFrame) -> None:
    per_day = tickets.height / DAYS
    assert abs(per_day / TICKETS_PER_DAY - 1) <= 0.10


def _id_volume(tickets: pl.DataFrame, tables: dict[str, pl.DataFrame], spikes: pl.DataFrame) -> pl.DataFrame:
    """ID's daily tickets and DAU, leaving out domains with a model launch and spike days."""
    launched = tables["events"].filter(pl.col("kind") == "model_launch")["policy_domain"].to_list()
    excluded = _spike_days(spikes, "ID")
    daily = (
        tickets.filter(pl.col("market") == "ID", ~pl.col("policy_domain").is_in(launched))
        .group_by("date")
        .len()
        .join(tables["platform_metrics"].filter(pl.col("market") == "ID"), on="date")
    )
    return daily.filter(~pl.col("date").is_in(list(excluded))).sort("date")


def test_volume_follows_dau(tickets: pl.DataFrame, tables: dict[str, pl.DataFrame], spikes: pl.DataFrame) -> None:
    """ID grows ~35 %/yr: tickets grow with DAU between the first and the last four weeks.

    Each 4-week window holds ~5,000 tickets of the kept domains: Poisson and day-noise
    error is ~1.5 % per window, ~2.3 % on the ratio; seasonality in this period adds
    < 1 %. A 7 % band is 3 standard errors, while the DAU growth itself is ~10 %.
    """
    daily = _id_volume(tickets, tables, spikes)
    first = daily.filter(pl.col("date") < START + dt.timedelta(days=28))
    last = daily.filter(pl.col("date") > END - dt.timedelta(days=28))
    dau_ratio = last["dau"].mean() / first["dau"].mean()
    ticket_ratio = last["len"].mean() / first["len"].mean()
    assert dau_ratio > 1.07
    assert abs(ticket_ratio / dau_ratio - 1) < 0.07


def test_tickets_per_million_dau_is_flat(
    tickets: pl.DataFrame, tables: dict[str, pl.DataFrame], spikes: pl.DataFrame
) -> None:
    """Weekly tickets per 1M DAU outside spike days (weeks with at least four such days):
    each week holds ~700–1,200 tickets, so noise
    is ~3.5 % per week; over ~20 weeks the extremes stay within ±10 % of the mean, while
    DAU itself grows ~12 % over the period."""
    daily = _id_volume(tickets, tables, spikes)
    weekly = (
        daily.group_by(pl.col("date").dt.truncate("1w"))
        .agg(pl.col("len").sum(), pl.col("dau").sum(), pl.len().alias("days"))
        .filter(pl.col("days") >= 4)
        .with_columns(per_million=pl.col("len") / pl.col("dau") * 1e6)
    )
    rate = weekly["per_million"]
    assert weekly.height >= 15
    assert rate.max() / rate.mean() < 1.10 and rate.min() / rate.mean() > 0.90


def test_injected_spikes_are_visible(tickets: pl.DataFrame, spikes: pl.DataFrame) -> None:
    """Inside each spike window (with four weeks of history and enough volume to judge),
    the group's mean daily volume is at least half the injected lift above the median of
    the four weeks before."""
    checked = 0
    for row in spikes.iter_rows(named=True):
        if row["start"] < START + dt.timedelta(days=28):
            continue
        group = tickets.filter(pl.col("policy_domain") == row["policy_domain"])
        if row["market"] is not None:
            group = group.filter(pl.col("market") == row["market"])
        daily = group.group_by("date").len()
        before = daily.filter(pl.col("date").is_between(row["start"] - dt.timedelta(days=28), row["start"], "left"))
        inside = daily.filter(pl.col("date").is_between(row["start"], row["end"]))
        baseline = before["len"].median()
        if baseline < 10:
            continue
        lift = inside["len"].mean() / baseline
        assert lift >= 1 + 0.5 * (row["multiplier"] - 1), row
        checked += 1
    assert checked >= 5


def _episode(tables: dict[str, pl.DataFrame], kind: str) -> tuple[world.StaffingEpisode, dt.date, dt.date]:
    template = next(e for e in world.STAFFING_EPISODES if e.kind == kind)
    event = tables["events"].filter(pl.col("title") == template.title).row(0, named=True)
    return template, event["start"], event["end"]


@pytest.mark.parametrize("kind", ["other", "outage"])
def test_understaffing_builds_a_backlog(tickets: pl.DataFrame, tables: dict[str, pl.DataFrame], kind: str) -> None:
    """During an understaffing episode the affected pool's non-live queues wait far longer
    than in the four weeks before, and its open backlog (created minus first-actioned,
    counted from the raw rows) grows well beyond its normal level."""
    episode, start, end = _episode(tables, kind)
    pool = tickets.filter(pl.col("vendor") == episode.vendor, pl.col("site") == episode.site)
    language = pool.group_by("language").len().sort("len", descending=True)["language"][0]
    pool = pool.filter(pl.col("language") == language, pl.col("queue").is_in(NON_LIVE))

    normal = pool.filter(pl.col("date").is_between(start - dt.timedelta(days=28), start, "left"))
    during = pool.filter(pl.col("date").is_between(start, end))
    normal_wait = normal["wait_s"].median()
    during_wait = during["wait_s"].fill_null(float("inf")).median()
    assert during_wait > 10 * normal_wait, (normal_wait, during_wait)

    # Independent backlog from the raw rows: tickets created but not yet actioned at each day's end.
    created = pool.group_by("date").len().rename({"len": "created"})
    actioned = (
        pool.filter(pl.col("first_action_at").is_not_null())
        .group_by(pl.col("first_action_at").dt.date().alias("date"))
        .len()
        .rename({"len": "actioned"})
    )
    backlog = (
        created.join(actioned, on="date", how="full", coalesce=True)
        .fill_null(0)
        .sort("date")
        .with_columns(open=(pl.col("created") - pl.col("actioned")).cum_sum())
    )
    normal_backlog = backlog.filter(pl.col("date").is_between(start - dt.timedelta(days=28), start, "left"))
    peak = backlog.filter(pl.col("date").is_between(start, end + dt.timedelta(days=7)))["open"].max()
    assert peak > 5 * max(normal_backlog["open"].max(), 1)


def test_staffing_shows_the_shortfall(tables: dict[str, pl.DataFrame], tickets: pl.DataFrame) -> None:
    """The attrition wave is visible in the staffing table: fewer people, fewer productive
    hours than the pool's human workload (from the raw tickets) during the freeze — in the
    site's main language; its small pools are staffed for coverage and keep some slack."""
    episode, start, end = _episode(tables, "other")
    site = tickets.filter(pl.col("vendor") == episode.vendor, pl.col("site") == episode.site)
    language = site.group_by("language").len().sort("len", descending=True)["language"][0]
    staff = tables["staffing"].filter(
        pl.col("vendor") == episode.vendor, pl.col("site") == episode.site, pl.col("language") == language
    )
    work = (
        site.filter(pl.col("language") == language)
        .group_by("date")
        .agg((pl.col("handle_seconds").sum() / 3600).alias("work_h"))
    )
    daily = staff.group_by("date").agg(pl.col("productive_hours", "headcount").sum()).join(work, on="date")
    before = daily.filter(pl.col("date").is_between(start - dt.timedelta(days=28), start, "left"))
    late = daily.filter(pl.col("date").is_between(start + dt.timedelta(days=episode.leave_days), end))
    assert late["headcount"].mean() < 0.8 * before["headcount"].mean()
    assert before["work_h"].sum() < before["productive_hours"].sum()
    assert late["work_h"].sum() > late["productive_hours"].sum()
    assert staff["attrition"].sum() > 0


# --- the default scale: a mid-size Live operation --------------------------------------------


def test_coverage_minimum_matches_a_hand_computation() -> None:
    """A round-the-clock outsourced pool keeps 0.75 reviewers at work for 24 h: 0.75 × 24 h over the paid
    hours left after planned shrinkage (8 h × 0.68) = 3.309 scheduled FTE a day, halved at half the size."""
    floor = staffing.coverage_fte(1.0)
    manila = next(i for i, p in enumerate(world.POOLS) if (p.site, p.language) == ("manila", "en"))
    bogota = next(i for i, p in enumerate(world.POOLS) if (p.site, p.language) == ("bogota", "es"))
    assert floor[manila] == pytest.approx(0.75 * 24 / (8 * (1 - 0.32)))
    assert floor[bogota] == pytest.approx(0.75 * 18 / (8 * (1 - 0.32)))  # covers 06–24 local
    assert staffing.coverage_fte(0.5)[manila] == pytest.approx(floor[manila] / 2)


@pytest.fixture(scope="module")
def default_scale(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pl.DataFrame]:
    """Eight weeks of the default demo (the full default is 730 days of the same days)."""
    out = tmp_path_factory.mktemp("default")
    generate_demo(out, days=56, seed=7, end=END)
    return {name: pl.read_parquet(out / f"{name}.parquet") for name in ("tickets", "staffing")}


def test_default_scale_is_a_mid_size_operation(default_scale: dict[str, pl.DataFrame]) -> None:
    """DOMAIN.md's mid-size Live operation: ≥ 10,000 tickets a day on average, ≥ 50 scheduled FTE on every day
    across 4–5 vendors, the roster's people at least the FTE scheduled on a day."""
    tickets, staff = default_scale["tickets"], default_scale["staffing"]
    assert world.SCALES["default"] == world.REFERENCE_TICKETS_PER_DAY >= 10_000
    assert tickets.height / 56 >= 10_000
    daily = staff.group_by("date").agg(pl.col("scheduled_fte", "headcount").sum())
    assert daily.height == 56
    assert daily["scheduled_fte"].min() >= 50
    assert (daily["headcount"] >= daily["scheduled_fte"]).all()
    assert 4 <= staff.filter(pl.col("scheduled_fte") > 0)["vendor"].n_unique() <= 5


def test_small_pools_are_staffed_for_coverage(default_scale: dict[str, pl.DataFrame]) -> None:
    """At night coverage, not volume, decides staffing: every pool is scheduled at least its coverage
    minimum on most days (a leaver waits for the next hiring class), so the busiest pool runs far busier
    than the quietest."""
    tickets, staff = default_scale["tickets"], default_scale["staffing"]
    work = tickets.group_by("vendor", "site", "language").agg((pl.col("handle_seconds").sum() / 3600).alias("work_h"))
    pools = (
        staff.group_by("vendor", "site", "language")
        .agg(pl.col("productive_hours").sum())
        .join(work, on=["vendor", "site", "language"])
    )
    occupancy = pools["work_h"] / pools["productive_hours"]
    assert occupancy.max() > 2 * occupancy.min()
    minimum = dict(zip(world.POOLS, staffing.coverage_fte(1.0), strict=True))
    for pool, fte in minimum.items():
        days = staff.filter(
            pl.col("vendor") == pool.vendor, pl.col("site") == pool.site, pl.col("language") == pool.language
        )
        assert days["scheduled_fte"].median() >= 0.8 * fte, pool  # one leaver of six waits for a hiring class


def test_cli_scale_small(tmp_path: Path) -> None:
    """`python -m queries demo --scale small` writes a demo of the small size."""
    from queries.cli import main

    assert main(["demo", "--out", str(tmp_path), "--scale", "small", "--days", "7", "--end", str(END)]) == 0
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["parameters"]["tickets_per_day"] == world.SCALES["small"]


def test_progress_is_reported_step_by_step(tmp_path: Path) -> None:
    """The first start's progress bar hears every step, in order, ending at 100 %."""
    steps: list[tuple[float, str]] = []
    generate_demo(tmp_path, days=7, tickets_per_day=50, end=END, progress=lambda done, step: steps.append((done, step)))
    shares = [done for done, _ in steps]
    assert shares == sorted(shares) and shares[0] == 0.0 and steps[-1] == (1.0, "Done")
    assert len(steps) >= 4 and all(step for _, step in steps)
