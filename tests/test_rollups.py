"""Rollups: the histogram bound, exact percentiles from rows, the cache, incremental builds and rejected rows.
Every metric against the rows engine: tests/test_conformance.py."""

from __future__ import annotations

import datetime as dt
import math
import os
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from queries.calc import complete_periods
from queries.demo.generate import generate_demo
from queries.engines.rollups import read as rollup_read
from queries.engines.rollups.build import build_rollups
from queries.engines.rollups.checked import Partition, typed_rows
from queries.engines.rollups.read import rollup_summary
from queries.engines.rollups.storage import ROLLUP_DIMENSIONS, Rollups, default_cache_dir
from queries.errors import SourceError
from queries.filters import Filters
from queries.histogram import ABSOLUTE_BOUND, PERCENTILE_ERROR_BOUND, bucket_expr, percentiles
from queries.metrics import summarize
from queries.sla import SlaPolicy
from queries.sources.dataset import Dataset, load_dataset
from queries.sources.files import TableFiles, locate_tables
from queries.sources.mapping import load_mapping

END = dt.date(2025, 6, 30)
PERCENTILE_COLUMNS = {"p50_hours", "p90_hours", "p50_views", "p90_views", "p50_handle_seconds", "p90_handle_seconds"}
MEAN_COLUMNS = {"mean_hours", "mean_handle_seconds", "handle_hours"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Dataset, Rollups]:
    src = tmp_path_factory.mktemp("demo")
    generate_demo(src, days=45, tickets_per_day=120, seed=11, end=END)
    r, stats = build_rollups(src, cache_dir=tmp_path_factory.mktemp("cache"))
    assert stats.rebuilt == stats.partitions == 1
    return load_dataset(src), r


def answered(
    r: Rollups, metric: str, filters: Filters, by: list[str] = (), period: str | None = None, sla_policy=None
) -> pl.DataFrame:
    """The rollups' answer as `summarize` gives it for a rolled-up source: derived measures, every period, sorted."""
    return complete_periods(
        rollup_summary(r, metric, filters, by, period, sla_policy=sla_policy), metric, filters, by, period
    )


def assert_same(exact: pl.DataFrame, approx: pl.DataFrame) -> None:
    """Counts equal, percentiles within the stated bound, means and shares equal up to float rounding."""
    assert approx.schema == exact.schema
    assert approx.height == exact.height
    for column in exact.columns:
        want, got = exact[column], approx[column]
        if want.dtype != pl.Float64:
            assert got.to_list() == want.to_list(), column
        else:
            assert got.is_null().to_list() == want.is_null().to_list(), column
            tolerance = PERCENTILE_ERROR_BOUND if column in PERCENTILE_COLUMNS else 1e-9
            for w, g in zip(want.drop_nulls(), got.drop_nulls(), strict=True):
                assert abs(g - w) <= tolerance * abs(w) + ABSOLUTE_BOUND, (column, w, g)


def test_unsupported_metric_and_policy_are_refused(demo: tuple[Dataset, Rollups]):
    _, r = demo
    filters = Filters(dt.date(2025, 6, 1), END)
    with pytest.raises(ValueError, match="cannot be answered from rollups"):
        rollup_summary(r, "qa_accuracy", filters, [], None)
    other = type(r.sla_policy)(r.sla_policy.rules[:1], "other.toml")
    with pytest.raises(ValueError, match="another SLA policy"):
        rollup_summary(r, "sla", filters, [], None, sla_policy=other)


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(
        st.one_of(
            st.just(0.0),
            st.floats(min_value=0, max_value=1e-3, allow_nan=False),
            st.floats(min_value=1e-3, max_value=1e7, allow_nan=False),
            st.sampled_from([1.0, 60.0, 3600.0]),  # ties
        ),
        min_size=1,
        max_size=300,
    ),
    q=st.floats(min_value=0, max_value=1),
)
def test_histogram_percentile_within_bound_of_numpy(values: list[float], q: float):
    hist = (
        pl.DataFrame({"value": values})
        .with_columns(bucket_expr(pl.col("value")).alias("bucket"))
        .group_by("bucket")
        .agg(pl.len().cast(pl.Int64).alias("count"))
    )
    estimate = percentiles(hist.lazy(), [], [q], ["p"]).collect()["p"][0]
    exact = float(np.percentile(np.array(values), q * 100, method="linear"))
    assert abs(estimate - exact) <= PERCENTILE_ERROR_BOUND * exact + ABSOLUTE_BOUND
    if min(values) >= 1e-3:  # above the sub-millisecond bucket the bound is purely relative
        assert abs(estimate - exact) <= (math.sqrt(1.04) - 1) * exact * (1 + 1e-9)


def _daily_source(tmp: Path) -> Path:
    """A folder source with one Parquet file of tickets per created day."""
    demo = tmp / "demo"
    generate_demo(demo, days=20, tickets_per_day=80, seed=5, end=END)
    src = tmp / "daily"
    (src / "tickets").mkdir(parents=True)
    tickets = pl.read_parquet(demo / "tickets.parquet").with_columns(pl.col("created_at").dt.date().alias("_day"))
    for (day,), part in tickets.group_by("_day"):
        part.drop("_day").write_parquet(src / "tickets" / f"{day}.parquet")
    return src


def _same_results(a: Rollups, b: Rollups, source: Path) -> None:
    """Two rollups of one source (e.g. incremental and full rebuild) agree, and both match summarize."""
    ds = load_dataset(source)
    filters = Filters(END - dt.timedelta(days=25), END)
    for metric in ("volume", "time_to_close", "backlog", "handle_time", "sla"):
        by = ["market"] if metric != "backlog" else []
        assert_same(answered(b, metric, filters, by, "week"), answered(a, metric, filters, by, "week"))
        assert_same(summarize(ds, metric, filters, by, "week"), answered(a, metric, filters, by, "week"))


def test_incremental_rebuilds_only_changed_partitions(tmp_path: Path):
    src = _daily_source(tmp_path)
    cache = tmp_path / "cache"
    files = sorted((src / "tickets").glob("*.parquet"))
    new_day = files.pop()
    moved = tmp_path / new_day.name
    new_day.rename(moved)
    first, stats = build_rollups(src, cache_dir=cache)
    assert (stats.partitions, stats.rebuilt) == (len(files), len(files))
    _, stats = build_rollups(src, cache_dir=cache)
    assert (stats.rebuilt, stats.reused) == (0, len(files))

    moved.rename(new_day)  # a new day's file arrives
    added, stats = build_rollups(src, cache_dir=cache)
    assert (stats.partitions, stats.rebuilt) == (len(files) + 1, 1)
    assert added.rows > first.rows
    _same_results(added, build_rollups(src, cache_dir=tmp_path / "fresh1")[0], src)

    changed = files[3]  # a file re-exported with one ticket fewer: its chunk (the first build's files) rebuilt
    pl.read_parquet(changed).slice(1).write_parquet(changed)
    edited, stats = build_rollups(src, cache_dir=cache)
    assert (stats.rebuilt, stats.reused) == (len(files), 1) and edited.rows == added.rows - 1
    _same_results(edited, build_rollups(src, cache_dir=tmp_path / "fresh2")[0], src)

    pl.read_parquet(new_day).slice(2).write_parquet(new_day)  # a change in a one-file chunk rebuilds that file only
    edited, stats = build_rollups(src, cache_dir=cache)
    assert (stats.rebuilt, stats.reused) == (1, len(files)) and edited.rows == added.rows - 3

    files[0].unlink()  # a file removed: dropped, the rest of its chunk rebuilt
    dropped, stats = build_rollups(src, cache_dir=cache)
    assert (stats.partitions, stats.rebuilt) == (len(files), len(files) - 1)
    _same_results(dropped, build_rollups(src, cache_dir=tmp_path / "fresh3")[0], src)
    assert len(list((cache / "chunks").iterdir())) == 2

    mapping = tmp_path / "mapping.toml"  # a mapping file changes how every file is read: all rebuilt
    mapping.write_text('[tickets.columns]\nticket_id = "ticket_id"\n', encoding="utf-8")
    _, stats = build_rollups(src, mapping, cache_dir=cache)
    assert stats.rebuilt == stats.partitions


def test_chunks_with_different_dimension_values_merge_into_one_dictionary(tmp_path: Path):
    """A later extract brings a market and a vendor no earlier chunk has, and lacks one the first chunk has:
    the chunks' codes are renumbered into one dictionary and every figure by those dimensions stays exact."""
    src = _daily_source(tmp_path)
    files = sorted((src / "tickets").glob("*.parquet"))
    late = files[-1]
    held = tmp_path / late.name
    late.rename(held)
    first, _ = build_rollups(src, cache_dir=tmp_path / "cache")
    pl.read_parquet(held).with_columns(
        pl.when(pl.int_range(pl.len()) % 2 == 0).then(pl.lit("ZZ")).otherwise(pl.col("market")).alias("market"),
        pl.lit("new_vendor").alias("vendor"),
    ).filter(pl.col("market") != "US").write_parquet(late)
    merged, stats = build_rollups(src, cache_dir=tmp_path / "cache")
    assert stats.rebuilt == 1 and "ZZ" in merged.dictionary["market"] and "ZZ" not in first.dictionary["market"]
    assert merged.values("vendor") == sorted({*first.values("vendor"), "new_vendor"})
    ds = load_dataset(src)
    filters = Filters(END - dt.timedelta(days=25), END)
    for metric, by in [("volume", ["market", "vendor"]), ("time_to_close", ["vendor"]), ("backlog", ["market"])]:
        assert_same(summarize(ds, metric, filters, by, "week"), answered(merged, metric, filters, by, "week"))
    one = Filters(END - dt.timedelta(days=25), END, market=("ZZ", "US"), vendor=("new_vendor", "atlas_cx"))
    assert_same(summarize(ds, "sla", one, ["sla_rule"]), answered(merged, "sla", one, ["sla_rule"]))


def test_an_all_null_dimension_and_a_policy_without_rules_answer_like_summarize(tmp_path: Path):
    """Empty dictionaries (vendor null on every ticket, no SLA rule at all) still give text group columns."""
    src = _daily_source(tmp_path)
    for path in (src / "tickets").glob("*.parquet"):
        pl.read_parquet(path).with_columns(pl.lit(None, pl.String).alias("vendor")).write_parquet(path)
    no_rules = SlaPolicy(rules=(), file="none.toml")
    r, _ = build_rollups(src, cache_dir=tmp_path / "cache", sla_policy=no_rules)
    ds = load_dataset(src)
    filters = Filters(END - dt.timedelta(days=25), END)
    assert r.dictionary["vendor"] == () and r.dictionary["sla_rule"] == ()
    for metric, by in [("volume", ["vendor"]), ("time_to_close", ["vendor", "market"]), ("handle_time", ["vendor"])]:
        assert_same(summarize(ds, metric, filters, by, "week"), answered(r, metric, filters, by, "week"))
    expected = summarize(ds, "sla", filters, ["sla_rule"], sla_policy=no_rules)
    assert_same(expected, answered(r, "sla", filters, ["sla_rule"], sla_policy=no_rules))


def test_nothing_is_written_into_the_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    src = _daily_source(tmp_path)
    before = sorted((p, p.stat().st_mtime_ns) for p in src.rglob("*"))
    monkeypatch.setenv("BELLWETHER_DATA_DIR", str(tmp_path / "data"))
    build_rollups(src)
    assert sorted((p, p.stat().st_mtime_ns) for p in src.rglob("*")) == before
    assert default_cache_dir(src).is_relative_to(tmp_path / "data" / "cache" / "rollups")
    assert any(default_cache_dir(src).iterdir())
    with pytest.raises(SourceError, match="never writes there"):
        build_rollups(src, cache_dir=src / ".rollups")


def test_rejected_rows_are_counted_like_the_loader(tmp_path: Path):
    """Bad rows in CSV and Parquet files (including a ticket_id valid in two files) are rejected exactly as
    load_dataset rejects them, and the valid rows give the same figures."""
    demo = tmp_path / "demo"
    generate_demo(demo, days=10, tickets_per_day=60, seed=2, end=END)
    tickets = pl.read_parquet(demo / "tickets.parquet")
    src = tmp_path / "bad"
    (src / "tickets").mkdir(parents=True)
    head, tail = tickets.head(300), tickets.slice(300)
    broken = head.with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(pl.col("created_at") + pl.duration(days=30))
        .otherwise(pl.col("closed_at"))
        .alias("closed_at"),  # unchanged: closed long after, still valid
        pl.when(pl.int_range(pl.len()) == 1).then(pl.lit("somewhere")).otherwise(pl.col("source")).alias("source"),
        pl.when(pl.int_range(pl.len()) == 2).then(pl.lit("  ")).otherwise(pl.col("ticket_id")).alias("ticket_id"),
        pl.when(pl.int_range(pl.len()) == 3)
        .then(pl.lit(-5.0))
        .otherwise(pl.col("handle_seconds"))
        .alias("handle_seconds"),
        pl.when(pl.int_range(pl.len()) == 4)
        .then(pl.col("created_at") - pl.duration(hours=1))
        .otherwise(pl.col("first_action_at"))
        .alias("first_action_at"),
        pl.when(pl.int_range(pl.len()) == 5).then(pl.lit(" US ")).otherwise(pl.col("market")).alias("market"),
    )
    broken.write_parquet(src / "tickets" / "a.parquet")
    tail = pl.concat([tail, head.slice(10, 1)])  # a ticket_id already valid in a.parquet: both rejected
    tail.write_parquet(src / "tickets" / "b.parquet")
    expected = load_dataset(src)
    r, stats = build_rollups(src, cache_dir=tmp_path / "cache")
    report = expected.reports["tickets"]
    assert stats.rejected_rows == r.rejected_rows == report.rows_rejected > 0
    assert r.rejections == {x.reason: x.rows for x in report.rejections}
    assert r.quarantined == {(q.field, q.reason): q.rows for q in report.quarantined} != {}
    assert r.rows == report.rows_loaded
    filters = Filters(END - dt.timedelta(days=9), END)
    for metric in ("volume", "handle_time", "backlog", "appeals"):
        assert_same(summarize(expected, metric, filters, ["market"]), answered(r, metric, filters, ["market"]))

    csv = tmp_path / "csv"  # text input goes through the loader's parsing rules
    csv.mkdir()
    (csv / "tickets.csv").write_text(
        "ticket_id,created_at,closed_at,source,market\n"
        "a,2025-06-01T10:00:00,2025-06-01T12:00:00,user_report, US\n"
        "b,2025-06-01 11:00,,user_report,US\n"
        "c,not a date,,user_report,US\n"
        "d,2025-06-02T00:00:00Z,2025-06-01T00:00:00,legal,DE\n",
        encoding="utf-8",
    )
    expected = load_dataset(csv)
    r, _ = build_rollups(csv, cache_dir=tmp_path / "csv-cache")
    assert r.rejections == {x.reason: x.rows for x in expected.reports["tickets"].rejections}
    assert r.quarantined == {(q.field, q.reason): q.rows for q in expected.reports["tickets"].quarantined} != {}
    assert r.missing_fields == expected.reports["tickets"].missing_fields
    filters = Filters(dt.date(2025, 6, 1), dt.date(2025, 6, 2))
    assert_same(summarize(expected, "volume", filters, ["market"]), answered(r, "volume", filters, ["market"]))
    assert os.listdir(csv) == ["tickets.csv"]


def test_typed_parquet_takes_the_lean_path_with_the_loaders_rules(tmp_path: Path):
    """Contract-typed Parquet with clean text skips the loader's parsing; its rejections and figures must still be
    exactly the loader's (unknown value, out of range, NaN, order rules, blank id, duplicate id across files)."""
    demo = tmp_path / "demo"
    generate_demo(demo, days=10, tickets_per_day=60, seed=3, end=END)
    tickets = pl.read_parquet(demo / "tickets.parquet")
    row = pl.int_range(pl.len())
    broken = tickets.head(300).with_columns(
        pl.when(row == 1).then(pl.lit("somewhere")).otherwise(pl.col("source")).alias("source"),
        pl.when(row == 2).then(pl.lit("")).otherwise(pl.col("ticket_id")).alias("ticket_id"),
        pl.when(row == 3)
        .then(-5.0)
        .when(row == 7)
        .then(float("nan"))
        .otherwise(pl.col("handle_seconds"))
        .alias("handle_seconds"),
        pl.when(row == 4)
        .then(pl.col("created_at") - pl.duration(hours=1))
        .otherwise(pl.col("first_action_at"))
        .alias("first_action_at"),
        pl.when(row == 5).then(None).otherwise(pl.col("created_at")).alias("created_at"),
    )
    src = tmp_path / "typed"
    (src / "tickets").mkdir(parents=True)
    broken.write_parquet(src / "tickets" / "a.parquet")
    pl.concat([tickets.slice(300), tickets.slice(20, 1)]).write_parquet(src / "tickets" / "b.parquet")
    spec = load_mapping(None).table("tickets")
    files = locate_tables(src, load_mapping(None))["tickets"]
    parts = [Partition(TableFiles("tickets", (p,), "parquet", files.hive), None, None, 0, "") for p in files.paths]
    assert typed_rows(parts, spec, frozenset()) is not None  # the lean path really is the one tested
    expected = load_dataset(src)
    report = expected.reports["tickets"]
    r, _ = build_rollups(src, cache_dir=tmp_path / "cache")
    assert r.rejections == {x.reason: x.rows for x in report.rejections}
    assert r.quarantined == {(q.field, q.reason): q.rows for q in report.quarantined}
    assert len(r.rejections) == 3 and len(r.quarantined) == 4 and r.rows == report.rows_loaded
    filters = Filters(END - dt.timedelta(days=9), END)
    for metric in ("volume", "handle_time", "time_to_first_action", "appeals", "backlog"):
        for by in ((), ("market",), ("market", "vendor")):
            assert_same(summarize(expected, metric, filters, by), answered(r, metric, filters, by))


def test_percentiles_over_several_dimensions_are_exact_from_rows_or_null_when_too_many(
    demo: tuple[Dataset, Rollups], monkeypatch: pytest.MonkeyPatch
):
    """Two dimensions have no histogram: exact from the rows of the selected days when they are few enough,
    otherwise the counts and means stay exact and the percentiles are null rather than read from every row."""
    ds, r = demo
    filters = Filters(dt.date(2025, 6, 1), END, market=("US", "BR"))
    exact = summarize(ds, "time_to_close", filters, ["vendor"])
    assert answered(r, "time_to_close", filters, ["vendor"]).equals(exact)  # exact, not within the bound
    monkeypatch.setattr(rollup_read, "EXACT_ROWS_LIMIT", 0)
    capped = answered(r, "time_to_close", filters, ["vendor"])
    assert capped.drop("p50_hours", "p90_hours", "mean_hours").equals(
        exact.drop("p50_hours", "p90_hours", "mean_hours")
    )
    assert capped["p50_hours"].null_count() == capped["p90_hours"].null_count() == capped.height > 0
    one = Filters(dt.date(2025, 6, 1), END, market=("US",))  # one dimension: histograms, whatever the limit
    assert_same(summarize(ds, "time_to_close", one, ["market"]), answered(r, "time_to_close", one, ["market"]))


def test_a_new_day_repeating_an_old_ticket_id_rejects_both_incrementally(tmp_path: Path):
    """Duplicates are found when the new day's chunk is compared with the older chunks only, as the loader."""
    src = _daily_source(tmp_path)
    cache = tmp_path / "cache"
    first, _ = build_rollups(src, cache_dir=cache)
    old = sorted((src / "tickets").glob("*.parquet"))[2]
    pl.read_parquet(old).head(1).write_parquet(src / "tickets" / "late.parquet")  # a re-export of one ticket
    r, stats = build_rollups(src, cache_dir=cache)
    assert stats.rebuilt == 1 and r.rejections == {"duplicate ticket_id": 2} and r.rows == first.rows - 1
    assert r.rejections == {x.reason: x.rows for x in load_dataset(src).reports["tickets"].rejections}
    again, stats = build_rollups(src, cache_dir=cache)  # the answer is cached for this set of chunks
    assert stats.rebuilt == 0 and again.rejections == r.rejections


def test_an_exact_answer_from_a_sliced_big_file_reads_only_the_selected_days(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A big Parquet file is built in row slices; a percentile filtered on two dimensions is answered exactly from
    its rows, through one scan of the whole file with the days pushed down (before: every slice read and checked
    in full, 17 s for a 7-day view of the 8.8M-ticket demo), and equals the rows engine's answer."""
    from queries.engines.rollups import build, checked

    src = tmp_path / "demo"
    generate_demo(src, days=30, tickets_per_day=200, seed=4, end=END)
    tickets = pl.read_parquet(src / "tickets.parquet")
    tickets.write_parquet(src / "tickets.parquet", row_group_size=500)  # row groups the days can skip
    monkeypatch.setattr(build, "BATCH_ROWS", 1_000)  # so the file is built as slices
    rollups, stats = build_rollups(src, cache_dir=tmp_path / "cache")
    assert stats.partitions > 1  # slices
    slow_path = []
    monkeypatch.setattr(checked, "checked_rows", lambda *args: slow_path.append(args))
    view = Filters(END - dt.timedelta(days=6), END, surface=("live_stream",), source=("user_report",))
    approx = rollup_summary(rollups, "time_to_first_action", view, [], None)
    exact = summarize(load_dataset(src), "time_to_first_action", view)
    assert slow_path == []
    assert approx["tickets"][0] == exact["tickets"][0] > 0
    assert approx["p90_hours"][0] == pytest.approx(exact["p90_hours"][0])


def test_the_reviewed_tickets_keep_their_dimensions_and_a_new_review_rereads_only_its_chunk(tmp_path: Path):
    """Rollups.reviewed holds ticket_id and the five dimensions of the valid tickets QA reviewed (ids of no ticket
    drop out), one cached file per chunk: a review of a new day's ticket adds that chunk's file only, a review of an
    older ticket replaces the older chunk's file only."""
    src, cache = _daily_source(tmp_path), tmp_path / "cache"
    files = sorted((src / "tickets").glob("*.parquet"))
    new_day = files.pop()
    moved = tmp_path / new_day.name
    new_day.rename(moved)
    old_ids = pl.concat([pl.read_parquet(f, columns=["ticket_id"]) for f in files])["ticket_id"]
    reviewed = pl.concat([old_ids.gather_every(40), pl.Series(["no-such-ticket"])])
    r, _ = build_rollups(src, cache_dir=cache, reviewed=reviewed)

    def expected(ids: pl.Series) -> pl.DataFrame:
        tickets = load_dataset(src).tables["tickets"]
        return tickets.filter(pl.col("ticket_id").is_in(ids.implode())).select("ticket_id", *ROLLUP_DIMENSIONS)

    assert r.reviewed.height == old_ids.gather_every(40).len() > 10
    assert_frame_equal(r.reviewed.sort("ticket_id"), expected(reviewed).sort("ticket_id"))
    before = {p.name: p.stat().st_mtime_ns for p in (cache / "reviewed").iterdir()}
    assert len(before) == 1  # the first build's files are one chunk

    moved.rename(new_day)
    reviewed = pl.concat([reviewed, pl.read_parquet(new_day, columns=["ticket_id"])["ticket_id"].head(3)])
    r, _ = build_rollups(src, cache_dir=cache, reviewed=reviewed)
    assert_frame_equal(r.reviewed.sort("ticket_id"), expected(reviewed).sort("ticket_id"))
    after = {p.name: p.stat().st_mtime_ns for p in (cache / "reviewed").iterdir()}
    assert len(after) == 2 and all(after.get(name) == mtime for name, mtime in before.items())

    reviewed = pl.concat([reviewed, old_ids.slice(1, 1)])  # a later review of an older ticket
    r, _ = build_rollups(src, cache_dir=cache, reviewed=reviewed)
    assert_frame_equal(r.reviewed.sort("ticket_id"), expected(reviewed).sort("ticket_id"))
    again = {p.name: p.stat().st_mtime_ns for p in (cache / "reviewed").iterdir()}
    assert len(again) == 2 and len(set(again) & set(after)) == 1  # the new day's file kept, the older replaced
