"""Large extracts served from rollups: their tickets report, and the pages' data (spikes, trends, transparency) as
from the rows. Every metric against the rows engine: tests/test_conformance.py."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from queries.engines.rollups.source import open_rolled_up, ticket_rows
from queries.filters import Filters
from queries.sources.dataset import load_dataset
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


def test_the_report_counts_what_the_loader_counts(sources):
    ds, large = sources
    assert large.reports["tickets"].rows_loaded == ds.reports["tickets"].rows_loaded
    assert set(large.tables) == set(ds.tables) - {"tickets"}
    assert large.tables["staffing"].equals(ds.tables["staffing"])
    assert isinstance(large.tables["events"], pl.DataFrame)


def test_spikes_emerging_trends_and_volumes_from_rollups_equal_the_rows(sources):
    """The Trends page's data (spike scan, emerging trends, volumes per 1M DAU) is the same from rollups."""
    from queries.analyses.spikes import scan_spikes
    from queries.analyses.trends import emerging_trends, volume_over_time

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
    that group tickets by decision are left out and named by rows_needed; moderators by language come from the
    rollups' language dimension."""
    from queries.analyses.transparency import rows_needed, transparency_figures
    from queries.histogram import PERCENTILE_ERROR_BOUND

    ds, large = sources
    expected = transparency_figures(ds, FILTERS)
    got = transparency_figures(large, FILTERS)
    assert rows_needed(ds) == [] and rows_needed(large) == ["Actions by policy domain and by type of content"]
    kept = expected.filter(~pl.col("section").is_in(["Actions by policy domain", "Actions by type of content"]))
    assert got.height == kept.height > 0 and "Moderators by language" in got["section"].to_list()
    for want, have in zip(kept.iter_rows(named=True), got.iter_rows(named=True), strict=True):
        assert {k: v for k, v in have.items() if k != "value"} == {k: v for k, v in want.items() if k != "value"}
        tolerance = PERCENTILE_ERROR_BOUND if want["unit"] in ("minutes", "hours") else 1e-12
        assert have["value"] == pytest.approx(want["value"], rel=tolerance), want["figure"]


def test_a_question_asked_again_is_answered_from_the_last_answers(sources, monkeypatch: pytest.MonkeyPatch):
    import queries.engines.rollups.engine as engine_module
    from queries.engines import scope
    from queries.metrics import summarize
    from queries.sla import load_sla_policy

    _, large = sources
    asked = []
    compute = engine_module.rollup_summary

    def counted(*args, **kwargs) -> pl.DataFrame:
        asked.append(args[1:3])
        return compute(*args, **kwargs)

    monkeypatch.setattr(engine_module, "rollup_summary", counted)
    period = Filters(DEMO_END - dt.timedelta(days=27), DEMO_END)  # a question no other test of the module asks
    first = summarize(large, "sla", period, ["vendor"], sla_policy=load_sla_policy())
    again = summarize(large, "sla", period, ["vendor"], sla_policy=load_sla_policy())  # an equal policy object
    assert len(asked) == 1 and again.equals(first)
    summarize(large, "sla", period, ["market"], sla_policy=load_sla_policy())  # another grouping: computed
    summarize(large, "sla", period.previous(), ["vendor"], sla_policy=load_sla_policy())  # another period: computed
    assert len(asked) == 3
    vendor = first["vendor"].drop_nulls()[0]
    own = summarize(scope(large, vendor), "sla", period, ["vendor"], sla_policy=load_sla_policy())
    assert len(asked) == 4 and own["vendor"].to_list() == [vendor]  # the vendor's own question, never the full answer
    assert own.equals(first.filter(pl.col("vendor") == vendor))
