"""Large extracts served from rollups (queries.rolled_up) through the same `summarize` as every source."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from queries.dataset import load_dataset
from queries.filters import Filters
from queries.metrics import missing_inputs, summarize
from queries.rolled_up import open_rolled_up, ticket_rows
from tests.apptest import DEMO_END

FILTERS = Filters(DEMO_END - dt.timedelta(days=59), DEMO_END, policy_domain=("integrity_spam_scams", "hateful_conduct"))


@pytest.fixture(scope="module")
def sources(data_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    with pytest.MonkeyPatch.context() as mp:  # the rollup cache goes under the data dir: a temporary one
        mp.setenv("BELLWETHER_DATA_DIR", str(tmp_path_factory.mktemp("cache")))
        return load_dataset(data_dir / "demo"), open_rolled_up(data_dir / "demo")


def test_ticket_rows_reads_parquet_footers(sources):
    ds, large = sources
    assert ticket_rows(ds.source) == ds.reports["tickets"].rows_read == large.reports["tickets"].rows_read


@pytest.mark.parametrize("by", [(), ("market",)])
def test_per_million_dau_from_rollups_equals_the_rows(sources, by):
    ds, large = sources
    expected = summarize(ds, "per_million_dau", FILTERS, by=by, period="week")
    assert_frame_equal(summarize(large, "per_million_dau", FILTERS, by=by, period="week"), expected)


def test_counts_from_rollups_equal_the_rows(sources):
    ds, large = sources
    for metric in ("volume", "open_backlog", "appeals"):
        got = summarize(large, metric, FILTERS, by=["market"])
        assert_frame_equal(got, summarize(ds, metric, FILTERS, by=["market"]), check_exact=False, rel_tol=1e-12)


def test_metrics_that_need_rows_are_explained_not_computed(sources):
    _, large = sources
    assert "ticket rows" in missing_inputs(large, "qa_accuracy")
    assert missing_inputs(large, "volume") is None
    with pytest.raises(ValueError, match="ticket rows"):
        summarize(large, "throughput", FILTERS)


def test_the_report_counts_what_the_loader_counts(sources):
    ds, large = sources
    assert large.reports["tickets"].rows_loaded == ds.reports["tickets"].rows_loaded
    assert set(large.tables) == set(ds.tables) - {"tickets"}
    assert large.tables["staffing"].equals(ds.tables["staffing"])
    assert isinstance(large.tables["events"], pl.DataFrame)


def test_spikes_emerging_trends_and_volumes_from_rollups_equal_the_rows(sources):
    """The Trends page's data (spike scan, emerging trends, volumes per 1M DAU) is the same from rollups."""
    from queries.spikes import scan_spikes
    from queries.trends import emerging_trends, volume_over_time

    ds, large = sources
    whole = Filters(DEMO_END - dt.timedelta(days=119), DEMO_END)
    found = 0
    for by in (["policy_domain", "market"], ["source"], []):
        expected = scan_spikes(ds, whole, by)
        got = scan_spikes(large, whole, by)
        assert_frame_equal(got.spikes, expected.spikes)
        assert_frame_equal(got.daily, expected.daily)
        found += expected.spikes.height
    assert found > 0  # the demo's injected spikes are there to be found
    for by in (["policy_domain"], ["market", "surface"]):
        assert_frame_equal(emerging_trends(large, FILTERS, by)[0], emerging_trends(ds, FILTERS, by)[0])
    assert_frame_equal(
        volume_over_time(large, FILTERS, "market", "week"), volume_over_time(ds, FILTERS, "market", "week")
    )


def test_transparency_figures_from_rollups_equal_the_rows_but_those_needing_rows(sources):
    """Every figure the rollups can give equals the rows' (the median within the histogram bound); the sections
    that group tickets by decision or language are left out and named by rows_needed."""
    from queries.rollups import PERCENTILE_ERROR_BOUND
    from queries.transparency import rows_needed, transparency_figures

    ds, large = sources
    expected = transparency_figures(ds, FILTERS)
    got = transparency_figures(large, FILTERS)
    assert rows_needed(ds) == [] and rows_needed(large) == [
        "Actions by policy domain and by type of content",
        "Moderators by language",
    ]
    kept = expected.filter(~pl.col("section").is_in(["Actions by policy domain", "Actions by type of content"]))
    kept = kept.filter(pl.col("section") != "Moderators by language")
    assert got.height == kept.height > 0
    for want, have in zip(kept.iter_rows(named=True), got.iter_rows(named=True), strict=True):
        assert {k: v for k, v in have.items() if k != "value"} == {k: v for k, v in want.items() if k != "value"}
        tolerance = PERCENTILE_ERROR_BOUND if want["unit"] in ("minutes", "hours") else 1e-12
        assert have["value"] == pytest.approx(want["value"], rel=tolerance), want["figure"]
