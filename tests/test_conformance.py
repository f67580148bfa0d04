"""Every engine gives the rows engine's answers: one demo, every metric, groupings, periods and filters.

The rows engine (Polars over ticket rows, itself tested against loops and numpy in test_metrics.py and
others) is the reference. Each other engine (rollups, rollups past their exact-read limit, SQLite,
PostgreSQL) must give the same frame through `queries.metrics.summarize`: the same columns, dtypes, groups
and periods, counts and other integers exactly, floats within 1e-9 relative, percentiles within the
engine's stated bound (`ENGINES`). What an engine cannot answer is declared once, in `KNOWN_GAPS`, and
the engine must say so: `can()` gives the sentence `summarize` raises, or the measure is null as documented.

Adding a metric to `queries.definitions.METRICS` adds its cases here for every engine: an engine without
an implementation fails until it gets one, or until the gap is declared in `KNOWN_GAPS` with its reason.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from queries.analyses import quality, spikes, turnaround, vendors
from queries.calc import period_windows
from queries.contract import TABLES, TICKETS
from queries.definitions import METRICS, THROUGHPUT_GROUPS
from queries.demo import generate_demo
from queries.engines import Source, engine_for
from queries.engines.rollups import read as rollup_read
from queries.engines.rollups.source import RolledUpSource, open_rolled_up
from queries.engines.rollups.storage import ROLLUP_DIMENSIONS, RecentReads
from queries.filters import DIMENSIONS, Filters
from queries.histogram import ABSOLUTE_BOUND, PERCENTILE_ERROR_BOUND
from queries.metrics import summarize
from queries.sla import load_sla_policy
from queries.sources.dataset import Dataset, load_dataset
from queries.sources.warehouse import Warehouse, connect_warehouse
from queries.sources.warehouse_load import load_warehouse

END = dt.date(2026, 6, 30)
DAYS = 90
FIRST = END - dt.timedelta(days=DAYS - 1)  # 2 April 2026, the demo's first day
AFTER = END + dt.timedelta(days=10)  # a day after the data
FLOATS = 1e-9  # relative: means, shares and sums of floats agree on every engine (summed in another order)
PERCENTILE = re.compile(r"^p\d+_")  # measures that are percentiles (p50_hours, p90_views, ...)


@dataclass(frozen=True)
class Gap:
    """What an engine cannot answer, declared: it refuses (`can` gives the sentence `summarize` raises as a
    ValueError), or, with `null`, answers with those measures null as documented."""

    engines: tuple[str, ...]
    metrics: tuple[str, ...]
    reason: str
    when: Callable[[Case], bool] = lambda case: True
    null: tuple[str, ...] = ()
    bug: str | None = None  # a disagreement reported as a bug: its cases are xfail(strict=True) until fixed


ROLLUPS = ("rollups", "rollups_over_limit")
WITH_PERCENTILES = tuple(m.name for m in METRICS.values() if any(PERCENTILE.match(f) for f in m.fields))
KNOWN_GAPS = (  # the first refusing gap that applies decides; null measures add up
    Gap(
        ROLLUPS,
        tuple(METRICS),
        "rollups group by the filter dimensions only (and sla by sla_rule)",
        when=lambda case: not set(case.by) <= {*ROLLUP_DIMENSIONS, "sla_rule"},
    ),
    Gap(
        ("rollups_over_limit",),
        WITH_PERCENTILES,
        "histograms are kept by day and one dimension; past EXACT_ROWS_LIMIT percentiles over two or more "
        "dimensions are not read from rows (docs/rollups.md)",
        when=lambda case: len(case.dimensions) >= 2,
        null=tuple(sorted({f for m in WITH_PERCENTILES for f in METRICS[m].fields if PERCENTILE.match(f)})),
    ),
)


@dataclass(frozen=True)
class EngineUnderTest:
    """How an engine is set up here and how close to the rows engine its percentiles must be."""

    fixture: str  # the session fixture giving its source
    percentiles: float  # relative tolerance of percentile measures
    percentiles_absolute: float = 0.0  # added near zero (histograms' smallest bucket)
    exact_rows_limit: int | None = None  # rollups: EXACT_ROWS_LIMIT for this engine (0: never read rows)


ENGINES = {
    "rows": EngineUnderTest("rows_source", 0.0),
    "rollups": EngineUnderTest("rollups_source", PERCENTILE_ERROR_BOUND, ABSOLUTE_BOUND),
    # Large extracts whose selected days hold more tickets than the rollups read back for exact percentiles.
    "rollups_over_limit": EngineUnderTest("rollups_source", PERCENTILE_ERROR_BOUND, ABSOLUTE_BOUND, exact_rows_limit=0),
    "sqlite": EngineUnderTest("sqlite_source", FLOATS),
    "postgresql": EngineUnderTest("postgresql_source", FLOATS),
}


@dataclass(frozen=True)
class Case:
    """One question asked of every engine: `summarize(source, metric, filters, by, period)`."""

    name: str
    by: tuple[str, ...]
    period: str | None
    filters: Filters
    has_tickets: bool = True  # False: the filters select no ticket (every engine must agree on the empty answer)

    @property
    def dimensions(self) -> set[str]:
        """The ticket dimensions the question filters or groups on."""
        return set(self.by) | set(self.filters.selections())


CASES = (
    Case("whole-range", (), None, Filters(FIRST, END)),
    Case("market-by-week", ("market",), "week", Filters(dt.date(2026, 5, 6), dt.date(2026, 6, 20))),  # Wed to Sat
    Case("vendor-by-day-two-markets", ("vendor",), "day", Filters(dt.date(2026, 6, 1), END, market=("DE", "FR"))),
    Case(
        "domain-source-by-month-vendor-surfaces",
        ("policy_domain", "source"),
        "month",
        Filters(dt.date(2026, 4, 10), END, vendor=("atlas_cx",), surface=("live_stream", "live_comment")),
    ),
    Case(
        "market-surface-two-domains",
        ("market", "surface"),
        None,
        Filters(dt.date(2026, 5, 1), END, policy_domain=("youth_safety", "harassment_bullying")),
    ),
    Case("surface-by-month-two-sources", ("surface",), "month", Filters(FIRST, END, source=("user_report", "legal"))),
    Case("language-by-week", ("language",), "week", Filters(dt.date(2026, 5, 15), END)),  # not a filter dimension
    Case(
        "by-day-two-vendors-one-domain",
        (),
        "day",
        Filters(
            dt.date(2026, 6, 3), dt.date(2026, 6, 16), vendor=("atlas_cx", "internal"), policy_domain=("youth_safety",)
        ),
    ),
    Case(
        "market-by-day-past-the-end",
        ("market",),
        "day",
        Filters(END - dt.timedelta(days=5), END + dt.timedelta(days=6)),
    ),
    Case("market-after-the-data", ("market",), None, Filters(AFTER, AFTER + dt.timedelta(days=10)), has_tickets=False),
    Case("after-the-data", (), None, Filters(AFTER, AFTER + dt.timedelta(days=10)), has_tickets=False),
    Case("unknown-market-by-week", (), "week", Filters(dt.date(2026, 6, 20), AFTER, market=("XX",)), has_tickets=False),
)
# Questions only some metrics take, on top of CASES.
EXTRA_CASES = {
    "sla": (
        Case("sla-rule-by-week", ("sla_rule",), "week", Filters(dt.date(2026, 5, 1), END)),
        Case(
            "sla-rule-priority-two-domains",
            ("sla_rule", "priority"),
            "week",
            Filters(dt.date(2026, 6, 1), END, policy_domain=("youth_safety", "harassment_bullying")),
        ),
    ),
}
# Groupings a metric cannot take, replaced by ones it can, case by case: throughput groups by staffing's
# dimensions only (THROUGHPUT_GROUPS), so each ticket dimension of CASES stands in for one of those.
STAND_INS = {"throughput": {"policy_domain": "vendor", "source": "site", "market": "site", "surface": "language"}}


def cases_for(metric: str) -> list[Case]:
    """The questions asked of every engine about this metric."""
    stand_in = STAND_INS.get(metric, {})
    cases = []
    for case in CASES:
        by = tuple(dict.fromkeys(stand_in.get(b, b) for b in case.by))
        cases.append(case if by == case.by else replace(case, name=f"{case.name}-as-{'-'.join(by)}", by=by))
    return cases + list(EXTRA_CASES.get(metric, ()))


def gaps_for(engine: str, metric: str, case: Case) -> list[Gap]:
    """The declared gaps that apply to this question on this engine."""
    return [g for g in KNOWN_GAPS if engine in g.engines and metric in g.metrics and g.when(case)]


def refusal(engine: str, metric: str, case: Case) -> Gap | None:
    """The gap for which the engine must refuse this question; None when it must answer."""
    return next((g for g in gaps_for(engine, metric, case) if not g.null), None)


def _param(engine: str, metric: str, case: Case):
    gap = refusal(engine, metric, case)
    marks = [pytest.mark.xfail(strict=True, reason=gap.bug)] if gap and gap.bug else []
    return pytest.param(engine, metric, case, id=f"{engine}-{metric}-{case.name}", marks=marks)


PARAMS = [_param(engine, metric, case) for engine in ENGINES for metric in METRICS for case in cases_for(metric)]


# --- the demo and its sources, one of each per session ------------------------------------------------------


@pytest.fixture(scope="session")
def conformance_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("conformance") / "demo"
    generate_demo(path, days=DAYS, tickets_per_day=150, seed=23, end=END)
    # The source's own SLA flag on most tickets: mostly "acted on within an hour", some flipped, so that the policy
    # and the flag disagree on some, also on tickets still waiting.
    tickets = pl.read_parquet(path / "tickets.parquet").with_row_index("i")
    quick = (pl.col("first_action_at") - pl.col("created_at")) < pl.duration(hours=1)
    flag = (quick ^ (pl.col("i") % 13 == 0)).fill_null(pl.col("i") % 2 == 0)
    tickets = tickets.with_columns(pl.when(pl.col("i") % 10 < 7).then(flag).alias("sla_met")).drop("i")
    tickets.write_parquet(path / "tickets.parquet")
    return path


@pytest.fixture(scope="session")
def rows_source(conformance_demo: Path) -> Dataset:
    return load_dataset(conformance_demo)


@pytest.fixture(scope="session")
def rollups_source(conformance_demo: Path, tmp_path_factory: pytest.TempPathFactory) -> RolledUpSource:
    with pytest.MonkeyPatch.context() as mp:  # the rollup cache goes under the data dir: a temporary one
        mp.setenv("BELLWETHER_DATA_DIR", str(tmp_path_factory.mktemp("conformance_cache")))
        return open_rolled_up(conformance_demo)


@pytest.fixture(scope="session")
def sqlite_source(conformance_demo: Path) -> Warehouse:
    url = f"sqlite:///{conformance_demo.parent / 'demo.db'}"
    load_warehouse(conformance_demo, url)
    return connect_warehouse(url)


@pytest.fixture(scope="session")
def postgresql_source(conformance_demo: Path, postgres_database: Callable[[Path], str]) -> Warehouse:
    return connect_warehouse(postgres_database(conformance_demo))


@pytest.fixture
def source(engine: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Source:
    """The source the engine under test answers for, set up as ENGINES says."""
    spec = ENGINES[engine]
    if spec.exact_rows_limit is not None:
        monkeypatch.setattr(rollup_read, "EXACT_ROWS_LIMIT", spec.exact_rows_limit)
    return request.getfixturevalue(spec.fixture)


Reference = Callable[[str, Case], pl.DataFrame | ValueError]  # the rows engine's answer to a question


@pytest.fixture(scope="session")
def reference(rows_source: Dataset) -> Reference:
    """The rows engine's answer to a question (or the ValueError it refuses it with), computed once."""
    answers: dict[tuple[str, str], pl.DataFrame | ValueError] = {}

    def answer(metric: str, case: Case) -> pl.DataFrame | ValueError:
        key = (metric, case.name)
        if key not in answers:
            try:
                answers[key] = summarize(rows_source, metric, case.filters, case.by, case.period)
            except ValueError as exc:
                answers[key] = exc
        return answers[key]

    return answer


# --- summarize: every metric, every engine ------------------------------------------------------------------


@pytest.mark.parametrize(("engine", "metric", "case"), PARAMS)
def test_summarize_gives_the_rows_engine_answer(
    engine: str, metric: str, case: Case, source: Source, reference: Reference
):
    answers = engine_for(source)
    why_not = answers.can(metric, case.by)
    gap = refusal(engine, metric, case)
    ask = (source, metric, case.filters, case.by, case.period)
    if gap is not None:
        assert why_not is not None, f"{engine} says it can answer, but KNOWN_GAPS says: {gap.reason}"
        with pytest.raises(ValueError) as refused:
            summarize(*ask)
        assert str(refused.value) == why_not
        return
    assert why_not is None, f"{engine}: {why_not} Implement it, or declare the gap in KNOWN_GAPS."
    expected = reference(metric, case)
    if isinstance(expected, ValueError):  # the question itself is refused (open_backlog per period)
        with pytest.raises(ValueError, match=re.escape(str(expected))):
            summarize(*ask)
        return
    got = summarize(*ask)
    assert got.columns == [*case.by, *(["period"] if case.period else []), *METRICS[metric].fields]
    assert_every_period(got, case)
    nulls = {m for g in gaps_for(engine, metric, case) for m in g.null}
    assert_same_answer(got, expected, ENGINES[engine], nulls)


def assert_every_period(frame: pl.DataFrame, case: Case) -> None:
    """With a period, every group of the answer has every period of the range (a series never skips one)."""
    if case.period is None:
        return
    periods = period_windows(case.filters, case.period)["period"]
    per_group = (
        frame.group_by(list(case.by)).agg(pl.col("period").sort())
        if case.by
        else frame.select(pl.col("period").implode())
    )
    for found in per_group["period"]:
        assert found.to_list() == periods.to_list()


def assert_same_answer(got: pl.DataFrame, expected: pl.DataFrame, spec: EngineUnderTest, nulls: set[str]) -> None:
    """Same schema and rows; group keys and integers equal, floats within tolerance, `nulls` all null."""
    assert got.schema == expected.schema
    assert got.height == expected.height
    for column in expected.columns:
        want, have = expected[column], got[column]
        if column in nulls:
            assert have.null_count() == have.len(), f"{column} is declared null in KNOWN_GAPS but has values"
        elif want.dtype != pl.Float64:
            assert have.to_list() == want.to_list(), column
        else:
            assert have.is_null().to_list() == want.is_null().to_list(), f"{column}: null in different rows"
            relative, absolute = (
                (spec.percentiles, spec.percentiles_absolute) if PERCENTILE.match(column) else (FLOATS, 1e-12)
            )
            off = [
                (i, w, g)
                for i, (w, g) in enumerate(zip(want, have, strict=True))
                if w is not None and abs(g - w) > relative * abs(w) + absolute
            ]
            assert not off, f"{column} differs in {len(off)} rows; first (row, rows engine, this engine): {off[0]}"


def test_the_cases_select_what_they_say(rows_source: Dataset):
    """Non-empty cases select tickets in several groups, empty ones none: or the comparisons prove little."""
    for case in [*CASES, *(c for extra in EXTRA_CASES.values() for c in extra)]:
        metric = "sla" if "sla_rule" in case.by else "volume"
        out = summarize(rows_source, metric, case.filters, case.by)
        assert (out["tickets"].sum() > 0) == case.has_tickets, case.name
        if case.has_tickets:
            assert all(out[b].n_unique() > 1 for b in case.by), case.name


def test_some_series_have_a_period_without_tickets_between_periods_with_tickets(rows_source: Dataset):
    """The grid must be filled inside a series too, not only after its end."""
    inner_gaps = 0
    for case in CASES:
        if case.by and case.period and case.has_tickets:
            out = summarize(rows_source, "volume", case.filters, case.by, case.period)
            for _, series in out.group_by(list(case.by)):
                busy = [n > 0 for n in series["tickets"]]
                inner_gaps += any(not b and any(busy[:i]) and any(busy[i:]) for i, b in enumerate(busy))
    assert inner_gaps > 0


def test_the_tables_name_real_engines_metrics_measures_and_groupings():
    """Each declared gap names what exists and applies to some case; stand-in groupings are ones the metric takes."""
    for gap in KNOWN_GAPS:
        assert set(gap.engines) <= set(ENGINES) and set(gap.metrics) <= set(METRICS), gap.reason
        assert all(any(n in METRICS[m].fields for m in gap.metrics) for n in gap.null), gap.reason
        assert any(gap.when(c) for m in gap.metrics for c in cases_for(m)), gap.reason
    assert set(STAND_INS["throughput"].values()) <= set(THROUGHPUT_GROUPS)
    assert all(set(c.by) <= set(THROUGHPUT_GROUPS) for c in cases_for("throughput"))


# --- Vendors & quality: every analysis, every engine ----------------------------------------------------------

MAY, TWO_MARKETS = Filters(dt.date(2026, 5, 1), END), Filters(dt.date(2026, 5, 1), END, market=("DE", "FR"))
EVENT = dt.date(2026, 5, 20)  # the windows either side of a policy change or training (training_effects)
# What the Vendors & quality page shows, asked of every engine; the rows engine's answer is the reference.
ANALYSES: dict[str, Callable[[Source], pl.DataFrame]] = {
    "scorecard": lambda ds: vendors.scorecard(ds, MAY),
    "scorecard-two-markets": lambda ds: vendors.scorecard(ds, TWO_MARKETS),
    "scorecard-by-language": lambda ds: vendors.scorecard(ds, MAY, ["language"]),
    "vendor-trend": lambda ds: vendors.trend(ds, MAY),
    "qa-accuracy-by-vendor-week": lambda ds: quality.qa_accuracy(ds, MAY, ["vendor"], "week"),
    "qa-accuracy-by-market": lambda ds: quality.qa_accuracy(ds, MAY, ["market"]),
    "qa-accuracy-by-language-two-markets": lambda ds: quality.qa_accuracy(ds, TWO_MARKETS, ["language"]),
    "qa-accuracy-by-surface-two-markets": lambda ds: quality.qa_accuracy(ds, TWO_MARKETS, ["surface", "vendor"]),
    "kappa-by-domain": lambda ds: quality.agreement(ds, MAY),
    "kappa-by-source-two-markets": lambda ds: quality.agreement(ds, TWO_MARKETS, ["source"]),
    "error-types-by-vendor": lambda ds: quality.error_types(ds, MAY),
    "error-types-by-market": lambda ds: quality.error_types(ds, Filters(FIRST, END), ["market"]),
    "sampling-plan": lambda ds: quality.sampling_plan(ds, MAY),
    "appeals-by-domain": lambda ds: quality.appeals(ds, MAY),
    "appeals-by-vendor": lambda ds: quality.appeals(ds, TWO_MARKETS, ["vendor"]),
    "policy-gaps-by-domain": lambda ds: quality.policy_gaps(ds, MAY),
    # Low thresholds so that the demo's small cells are compared and some split.
    "policy-gaps-by-domain-market": lambda ds: quality.policy_gaps(
        ds, MAY, ["policy_domain", "market"], min_reviews=5, min_decisions=5
    ),
    "policy-gaps-by-domain-language": lambda ds: quality.policy_gaps(
        ds, MAY, ["policy_domain", "language"], min_reviews=5, min_decisions=5
    ),
    "training-effects": lambda ds: quality.training_effects(ds, MAY, EVENT, 28),
    "language-capacity": lambda ds: vendors.language_capacity(ds, MAY),
    "domain-capacity": lambda ds: vendors.domain_capacity(ds, MAY),
    "coverage-by-domain": lambda ds: vendors.coverage(ds, MAY, "policy_domain"),
    "coverage-by-language": lambda ds: vendors.coverage(ds, MAY, "language"),
    "handle-time-by-domain": lambda ds: vendors.handle_time_by_domain(ds, MAY),
}
# Rollups past their exact-read limit differ only in percentiles, declared and tested above.
ANALYSIS_ENGINES = [e for e in ENGINES if e not in ("rows", "rollups_over_limit")]


@pytest.fixture(scope="session")
def analysis_reference(rows_source: Dataset) -> Callable[[str], pl.DataFrame]:
    answers: dict[str, pl.DataFrame] = {}

    def answer(name: str) -> pl.DataFrame:
        if name not in answers:
            answers[name] = ANALYSES[name](rows_source)
        return answers[name]

    return answer


@pytest.mark.parametrize("engine", ANALYSIS_ENGINES)
@pytest.mark.parametrize("analysis", ANALYSES)
def test_vendors_and_quality_give_the_rows_engine_answer(
    engine: str, analysis: str, source: Source, analysis_reference: Callable[[str], pl.DataFrame]
):
    expected, got = analysis_reference(analysis), ANALYSES[analysis](source)
    assert expected.height > 0, analysis
    assert got.columns == expected.columns
    assert_same_answer(got, expected, ENGINES[engine], set())


def test_the_analyses_find_what_they_compare(analysis_reference: Callable[[str], pl.DataFrame]):
    """The demo gives the comparisons something to find: flags, splits and significant changes."""
    card = analysis_reference("scorecard")
    assert card["vendor"].n_unique() > 2 and card["qa_vs_rest"].is_not_null().any()
    gaps = analysis_reference("policy-gaps-by-domain-market")
    assert gaps["cells_compared"].fill_null(0).sum() > 0 and gaps["signals"].sum() > 0
    assert analysis_reference("error-types-by-market")["market"].n_unique() > 1
    assert analysis_reference("training-effects")["reviews_before"].sum() > 0


# --- Trends: the spike list and each spike's drill-down, every engine --------------------------------------------

# (filters, the spike's group, its first and last day): a group of one and of two keys with a filter, the total with
# a normal window clipped to the data's start, a vendor's spike (the vendors part keyed on its own key) and a spike
# on the data's first day (no normal window).
DRILLS = {
    "one-domain": (Filters(FIRST, END), {"policy_domain": "youth_safety"}, dt.date(2026, 6, 10), dt.date(2026, 6, 12)),
    "domain-market-two-surfaces": (
        Filters(FIRST, END, surface=("live_stream", "live_comment")),
        {"policy_domain": "regulated_goods_gifting", "market": "BR"},
        dt.date(2026, 5, 18),
        dt.date(2026, 5, 24),
    ),
    "total-clipped": (Filters(FIRST, END), {}, FIRST + dt.timedelta(days=5), FIRST + dt.timedelta(days=6)),
    "one-vendor": (Filters(FIRST, END), {"vendor": "atlas_cx"}, dt.date(2026, 6, 1), dt.date(2026, 6, 3)),
    "first-day": (Filters(FIRST, END), {"market": "FR"}, FIRST, FIRST + dt.timedelta(days=1)),
}


@pytest.fixture(scope="session")
def drill_reference(rows_source: Dataset) -> Callable[[str], spikes.DrillDown]:
    answers: dict[str, spikes.DrillDown] = {}

    def answer(name: str) -> spikes.DrillDown:
        if name not in answers:
            answers[name] = spikes.drill_down(rows_source, *DRILLS[name])
        return answers[name]

    return answer


@pytest.mark.parametrize("engine", ANALYSIS_ENGINES)
@pytest.mark.parametrize("drill", DRILLS)
def test_the_spike_drill_down_gives_the_rows_engine_answer(
    engine: str, drill: str, source: Source, drill_reference: Callable[[str], spikes.DrillDown]
):
    """Segments, turnaround and vendors equal the rows engine's; a dimension the engine does not group by is named
    in `left_out` and only its segments are missing."""
    expected, got = drill_reference(drill), spikes.drill_down(source, *DRILLS[drill])
    assert (got.normal_start, got.normal_end) == (expected.normal_start, expected.normal_end)
    group = DRILLS[drill][1]
    not_grouped = [d for d in spikes.DRILL_DIMENSIONS if d not in group and not engine_for(source).groupable(d)]
    assert expected.left_out == () and got.left_out == tuple(not_grouped)
    segments = expected.segments.filter(~pl.col("dimension").is_in(not_grouped))
    assert_same_answer(got.segments, segments, ENGINES[engine], set())
    assert_same_answer(got.turnaround, expected.turnaround, ENGINES[engine], set())
    assert_same_answer(got.vendors, expected.vendors, ENGINES[engine], set())


def test_the_drill_downs_find_what_they_compare(drill_reference: Callable[[str], spikes.DrillDown]):
    """Every drill-down but the first day's lists segments of several dimensions, both windows' turnaround and
    several vendors; the first day's has no normal window."""
    for name in DRILLS:
        drill = drill_reference(name)
        assert drill.turnaround["tickets"][0] > 0 and drill.vendors.height > (0 if "vendor" in DRILLS[name][1] else 2)
        if name == "first-day":
            assert drill.segments.is_empty() and drill.turnaround["tickets"][1] == 0
        else:
            assert drill.segments["dimension"].n_unique() > 1 and drill.turnaround["tickets"][1] > 0
            assert drill.turnaround["p50_views"].null_count() == 0


@pytest.mark.parametrize("engine", ENGINES)
def test_the_spike_list_is_the_rows_engine_s(engine: str, source: Source, rows_source: Dataset):
    f = Filters(dt.date(2026, 5, 1), END)
    expected = spikes.detect_spikes(rows_source, f, ["policy_domain"], spikes.SpikeSettings(sensitivity=0.2))
    assert expected.height > 0
    got = spikes.detect_spikes(source, f, ["policy_domain"], spikes.SpikeSettings(sensitivity=0.2))
    assert_same_answer(got, expected, ENGINES[engine], set())


# --- the rest of the protocol -------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_the_data_s_days_and_now_agree(engine: str, source: Source, rows_source: Dataset):
    answers, rows = engine_for(source), engine_for(rows_source)
    assert answers.created_range() == rows.created_range() == (FIRST, END)
    assert answers.as_of() == rows.as_of()


@pytest.mark.parametrize("engine", ENGINES)
def test_groupable_and_distinct_values_agree(engine: str, source: Source, rows_source: Dataset):
    """Every ticket field is groupable as on the rows engine unless a declared gap refuses grouping by it; the
    filter dimensions everywhere. Groupable text fields have the rows engine's sorted distinct values."""
    answers, rows = engine_for(source), engine_for(rows_source)
    for field in TICKETS.fields:
        grouped = Case("groupable", (field.name,), None, Filters(FIRST, END))
        expected = rows.groupable(field.name) and refusal(engine, "volume", grouped) is None
        assert answers.groupable(field.name) == expected, field.name
        if expected and rows_source.tables["tickets"][field.name].dtype == pl.String:
            assert answers.distinct_values(field.name) == rows.distinct_values(field.name), field.name
    assert all(answers.groupable(d) for d in DIMENSIONS)


@pytest.mark.parametrize("engine", ENGINES)
def test_has_and_small_tables_agree(engine: str, source: Source, rows_source: Dataset):
    answers, rows = engine_for(source), engine_for(rows_source)
    for name, table in TABLES.items():
        assert [answers.has(name, f.name) for f in table.fields] == [rows.has(name, f.name) for f in table.fields]
        if name != "tickets":
            want, have = rows.small_table(name), answers.small_table(name)
            assert want is not None and have is not None, name
            assert_frame_equal(have.sort(have.columns), want.sort(want.columns), check_exact=False, rel_tol=FLOATS)


# --- the live queues' inputs: arrivals per half hour and reviews per queue -------------------------------------

PROFILE_FILTERS = {
    "all": Filters(FIRST, END),
    "one-vendor": Filters(dt.date(2026, 5, 4), END, vendor=("atlas_cx",)),
    "two-dimensions": Filters(dt.date(2026, 6, 1), END, market=("DE", "FR"), surface=("live_stream",)),
}


def test_the_rows_engine_counts_arrivals_and_reviews_as_a_plain_loop(rows_source: Dataset):
    """The reference: every ticket counted once in its created day and half hour; reviews by queue from the rows."""
    f = PROFILE_FILTERS["one-vendor"]
    tickets = rows_source.tables["tickets"]
    arrivals: dict[tuple[dt.date, int], int] = {}
    reviews: dict[str | None, list[float]] = {}
    for t in tickets.iter_rows(named=True):
        created, acted = t["created_at"], t["first_action_at"]
        if t["vendor"] != "atlas_cx":
            continue
        if f.start <= created.date() <= f.end:
            key = (created.date(), created.hour * 2 + created.minute // 30)
            arrivals[key] = arrivals.get(key, 0) + 1
        human = not t["automated"]
        if acted is not None and f.start <= acted.date() <= f.end and human and t["handle_seconds"] is not None:
            reviews.setdefault(t["queue"], []).append(t["handle_seconds"])
    engine = engine_for(rows_source)
    got = engine.arrivals(f)
    assert dict(zip(zip(got["day"], got["slot"], strict=True), got["tickets"], strict=True)) == arrivals
    by_queue = engine.queue_reviews(f)
    assert by_queue["queue"].to_list() == sorted(reviews, key=lambda q: (q is not None, q))
    for q, n, total in by_queue.iter_rows():
        assert n == len(reviews[q]) and total == pytest.approx(sum(reviews[q]), rel=FLOATS)


@pytest.mark.parametrize("filters", PROFILE_FILTERS)
@pytest.mark.parametrize("engine", ENGINES)
def test_arrivals_and_queue_reviews_give_the_rows_engine_answer(
    engine: str, filters: str, source: Source, rows_source: Dataset
):
    f = PROFILE_FILTERS[filters]
    answers, rows = engine_for(source), engine_for(rows_source)
    expected_arrivals, expected_reviews = rows.arrivals(f), rows.queue_reviews(f)
    assert expected_arrivals["tickets"].sum() > 0 and expected_reviews["reviews"].sum() > 0
    if engine == "rollups_over_limit" and len(f.selections()) >= 2:  # no level, no rows read: cannot honour them
        assert answers.arrivals(f) is None and answers.queue_reviews(f) is None
        return
    assert_frame_equal(answers.arrivals(f), expected_arrivals)
    assert_frame_equal(answers.queue_reviews(f), expected_reviews, check_exact=False, rel_tol=FLOATS)


# --- durations per bucket: P99 and the distributions of the Turnaround page ------------------------------------

BUCKET_QUESTIONS = {  # (end, by, period, filters)
    "to-action": ("first_action_at", (), None, Filters(FIRST, END)),
    "to-close-by-market-week": ("closed_at", ("market",), "week", Filters(dt.date(2026, 5, 6), END)),
    "to-action-by-domain-one-vendor": ("first_action_at", ("policy_domain",), "day", PROFILE_FILTERS["one-vendor"]),
    "to-action-two-dimensions": ("first_action_at", ("vendor",), None, PROFILE_FILTERS["two-dimensions"]),
}


def _bucket(seconds: float) -> int:
    """queries.histogram's bucket, written out: 0, below a millisecond, then 4 % steps from a millisecond."""
    return 0 if seconds == 0 else 1 if seconds < 1e-3 else math.floor(math.log(seconds / 1e-3) / math.log(1.04)) + 2


def test_the_rows_engine_counts_duration_buckets_as_a_plain_loop(rows_source: Dataset):
    end, by, period, f = BUCKET_QUESTIONS["to-action-by-domain-one-vendor"]
    counts: dict[tuple, int] = {}
    for t in rows_source.tables["tickets"].iter_rows(named=True):
        created, acted = t["created_at"], t[end]
        if t["vendor"] != "atlas_cx" or not f.start <= created.date() <= f.end or acted is None or acted < created:
            continue
        key = (t["policy_domain"], created.date(), _bucket((acted - created) / dt.timedelta(seconds=1)))
        counts[key] = counts.get(key, 0) + 1
    got = engine_for(rows_source).duration_buckets(f, end, by, period)
    assert got.columns == ["policy_domain", "period", "bucket", "tickets"]
    assert dict(zip(got.select(pl.exclude("tickets")).iter_rows(), got["tickets"], strict=True)) == counts
    assert got.height > 100 and got["bucket"].n_unique() > 50


@pytest.mark.parametrize("question", BUCKET_QUESTIONS)
@pytest.mark.parametrize("engine", ENGINES)
def test_duration_buckets_give_the_rows_engine_answer(engine: str, question: str, source: Source, rows_source: Dataset):
    end, by, period, f = BUCKET_QUESTIONS[question]
    expected = engine_for(rows_source).duration_buckets(f, end, by, period)
    got = engine_for(source).duration_buckets(f, end, by, period)
    if engine == "rollups_over_limit" and len(set(by) | set(f.selections())) >= 2:  # no histogram, no rows read
        assert got is None
        return
    assert expected["tickets"].sum() > 0
    assert_frame_equal(got, expected)


def test_a_selection_over_two_dimensions_reads_its_rows_once(rollups_source: RolledUpSource):
    """The rollups keep the last rows read by predicate: a Turnaround view (percentiles in total, over time, by group,
    by source, and the distribution) over two dimensions reads the tickets of its days once."""
    reads = []
    rollups = rollups_source.rollups
    recent = RecentReads(lambda predicate: reads.append(predicate) or rollups.read_rows(predicate))
    held = replace(rollups_source, rollups=replace(rollups, read_rows=recent))
    view = turnaround.turnaround_view(held, PROFILE_FILTERS["two-dimensions"], "first_action_at", "vendor", "day")
    assert len(reads) == 1 and view.histogram is not None and view.total["p99_hours"][0] is not None


TURNAROUND_FILTERS = {"may": MAY, "two-markets": TWO_MARKETS, "two-dimensions": PROFILE_FILTERS["two-dimensions"]}


@pytest.mark.parametrize("filters", TURNAROUND_FILTERS)
@pytest.mark.parametrize("engine", ANALYSIS_ENGINES)
def test_turnaround_percentiles_distribution_and_hour_of_week_agree(
    engine: str, filters: str, source: Source, rows_source: Dataset
):
    """P50/P90/P99 within the engine's bound (P99 from the buckets: the rollups' bound everywhere but on rows), the
    distribution and the arrivals by hour of week exactly; the median by hour needs ticket rows."""
    f = TURNAROUND_FILTERS[filters]
    for end in ("first_action_at", "closed_at"):
        for by, period in (((), None), (("market",), "week")):
            expected, got = (
                turnaround.turnaround(rows_source, f, end, by, period),
                turnaround.turnaround(source, f, end, by, period),
            )
            assert expected["p99_hours"].is_not_null().sum() > 0
            assert_same_answer(got.drop("p99_hours"), expected.drop("p99_hours"), ENGINES[engine], set())
            assert_same_answer(got.select("p99_hours"), expected.select("p99_hours"), ENGINES["rollups"], set())
        assert_frame_equal(
            turnaround.duration_histogram(source, f, end, "market"),
            turnaround.duration_histogram(rows_source, f, end, "market"),
        )
    expected, got = turnaround.hour_of_week(rows_source, f), turnaround.hour_of_week(source, f)
    assert expected["arrivals"].sum() > 0 and expected["p50_hours_to_action"].is_not_null().any()
    assert_frame_equal(got.drop("p50_hours_to_action"), expected.drop("p50_hours_to_action"))
    assert got["p50_hours_to_action"].null_count() == got.height


# --- open tickets, views while waiting, the source's SLA flag: backlog ages, exposure ranking, SLA comparison ----

OPEN_FILTERS = {
    "june": Filters(dt.date(2026, 6, 1), END),
    "two-dimensions": PROFILE_FILTERS["two-dimensions"],
    "past-the-end": Filters(END - dt.timedelta(days=3), AFTER),
    "after-the-data": Filters(AFTER, AFTER + dt.timedelta(days=3)),
}


def test_the_rows_engine_finds_open_tickets_as_a_plain_loop(rows_source: Dataset):
    """A ticket is open at a midnight it was created before and not closed by (never one closed at an unknown time)."""
    f = Filters(FIRST, END + dt.timedelta(days=2), market=("DE", "FR", "US"))
    midnights = [f.start_at + dt.timedelta(days=d + 1) for d in range((f.end - f.start).days + 1)]
    expected = set()
    for t in rows_source.tables["tickets"].iter_rows(named=True):
        if t["market"] not in ("DE", "FR", "US") or t["closed_unknown"]:
            continue
        if any(t["created_at"] < m and (t["closed_at"] is None or t["closed_at"] >= m) for m in midnights):
            expected.add(t["ticket_id"])
    got = engine_for(rows_source).open_tickets(f)
    assert set(got["ticket_id"]) == expected and len(expected) > 20


@pytest.mark.parametrize("filters", OPEN_FILTERS)
@pytest.mark.parametrize("engine", ENGINES)
def test_open_tickets_views_and_sla_flags_give_the_rows_engine_answer(
    engine: str, filters: str, source: Source, rows_source: Dataset
):
    f = OPEN_FILTERS[filters]
    answers, rows = engine_for(source), engine_for(rows_source)
    assert_frame_equal(answers.open_tickets(f), rows.open_tickets(f))
    for by in ((), ("policy_domain", "surface")):
        expected = rows.views_while_waiting(f, by)
        assert_frame_equal(answers.views_while_waiting(f, by), expected, check_exact=False, rel_tol=FLOATS)
    expected = rows.sla_flags(f, None)
    assert_frame_equal(answers.sla_flags(f, None), expected)
    if filters != "after-the-data":
        assert rows.open_tickets(f).height > 0 and expected["disagree"][0] > 0 and expected["compared"][0] > 0


@pytest.mark.parametrize("filters", OPEN_FILTERS)
@pytest.mark.parametrize("engine", ANALYSIS_ENGINES)
def test_backlog_ages_oldest_ranking_and_sla_flag_comparison_agree(
    engine: str, filters: str, source: Source, rows_source: Dataset
):
    f, policy = OPEN_FILTERS[filters], load_sla_policy()
    for analysis in (
        turnaround.backlog_aging,
        turnaround.oldest_open,
        turnaround.open_exposure_ranking,
        lambda ds, f: turnaround.sla_agreement(ds, f, policy),
    ):
        expected = analysis(rows_source, f)
        assert_frame_equal(analysis(source, f), expected, check_exact=False, rel_tol=FLOATS)
    if filters == "june":  # tickets still open at the end of the period, their views mostly estimated
        assert turnaround.open_exposure_ranking(rows_source, f)["estimated"].sum() > 0


# --- quarantined fields: every engine leaves out the same values ---------------------------------------------

Q_FIRST, Q_END = dt.date(2026, 3, 2), dt.date(2026, 3, 4)


def _q_ticket(i: str, created: str, first: str | None, closed: str | None, **extra) -> dict:
    when = dt.datetime.fromisoformat
    return {
        "ticket_id": i,
        "created_at": when(created),
        "first_action_at": when(first) if first else None,
        "closed_at": when(closed) if closed else None,
        "queue": extra.get("queue", "reports"),
        "market": extra.get("market", "DE"),
        "source": extra.get("source", "user_report"),
        "priority": extra.get("priority", "P2"),
        "decision": extra.get("decision", "violating" if first else None),
        "handle_seconds": extra.get("handle_seconds", 60.0),
        "automated": extra.get("automated", False),
        "views_before_action": extra.get("views_before_action", 3),
    }


# Valid tickets with bad optional fields: unknown fixed values, impossible times (acted on or closed at an unknown
# time), values out of range. Each engine must quarantine the same values and answer every metric alike.
QUARANTINED = [
    _q_ticket("ok-1", "2026-03-02 10:00:00", "2026-03-02 10:30:00", "2026-03-02 12:00:00", handle_seconds=30.5),
    _q_ticket("ok-2", "2026-03-02 11:00:00", "2026-03-02 11:20:00", "2026-03-03 09:00:00", market="FR"),
    _q_ticket("open", "2026-03-03 08:00:00", None, None, source="proactive_model"),
    _q_ticket("call", "2026-03-02 12:00:00", "2026-03-02 12:10:00", None, source="Call", market="FR"),
    _q_ticket("urgent", "2026-03-03 12:00:00", "2026-03-03 13:00:00", "2026-03-03 14:00:00", priority="urgent"),
    _q_ticket("closed-before-created", "2026-03-03 10:00:00", None, "2026-03-03 09:00:00"),
    _q_ticket("acted-before-created", "2026-03-03 10:00:00", "2026-03-02 10:00:00", "2026-03-03 11:00:00"),
    _q_ticket("closed-before-action", "2026-03-04 10:00:00", "2026-03-04 11:00:00", "2026-03-04 10:30:00", market="FR"),
    _q_ticket("negative", "2026-03-04 09:00:00", "2026-03-04 09:05:00", None, handle_seconds=-5.0),
    _q_ticket("maybe", "2026-03-04 11:00:00", "2026-03-04 11:30:00", None, decision="maybe", views_before_action=-1),
]
Q_ENGINES = {  # engine here -> its entry in ENGINES (tolerances, declared gaps)
    "rollups": "rollups",  # from CSV: the loader's own expressions
    "rollups_parquet": "rollups",  # from typed Parquet: the lean path
    "sqlite": "sqlite",  # the raw rows in a table: the rules in SQL
    "sqlite_loaded": "sqlite",  # loaded by load-warehouse: the loader's values and flags
    "postgresql": "postgresql",
    "postgresql_loaded": "postgresql",
}
Q_METRICS = [m for m in METRICS if m not in ("qa_accuracy", "throughput", "per_million_dau")]  # tickets only


def _raw_table(url: str, rows: list[dict]) -> None:
    """The rows as they are (bad values included) in a table `raw_tickets` without any constraint."""
    import sqlalchemy as sa

    from queries.sources.warehouse import SQL_TYPES

    table = sa.Table("raw_tickets", sa.MetaData(), *[sa.Column(f, SQL_TYPES[TICKETS.field(f).kind]()) for f in rows[0]])
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        table.create(conn)
        conn.execute(table.insert(), rows)
    engine.dispose()


@pytest.fixture(scope="module")
def quarantined_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The rows as a CSV source and as a typed Parquet source, and a mapping to the raw table."""
    root = tmp_path_factory.mktemp("quarantined")
    frame = pl.DataFrame(QUARANTINED, schema={f: TICKETS.schema[f] for f in QUARANTINED[0]})
    (root / "csv").mkdir()
    frame.write_csv(root / "csv" / "tickets.csv")
    (root / "parquet").mkdir()
    frame.write_parquet(root / "parquet" / "tickets.parquet")
    (root / "raw.toml").write_text('[tickets]\ntable = "raw_tickets"\n')
    return {"csv": root / "csv", "parquet": root / "parquet", "mapping": root / "raw.toml", "root": root}


@pytest.fixture(scope="module")
def quarantined_rows(quarantined_files: dict[str, Path]) -> Dataset:
    return load_dataset(quarantined_files["csv"])


@pytest.fixture
def quarantined_source(
    q_engine: str, quarantined_files: dict[str, Path], request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Source:
    """The quarantined rows as the engine under test reads them."""
    files = quarantined_files
    if q_engine.startswith("rollups"):
        monkeypatch.setenv("BELLWETHER_DATA_DIR", str(files["root"] / f"cache-{q_engine}"))
        return open_rolled_up(files["parquet" if q_engine == "rollups_parquet" else "csv"])
    if q_engine.startswith("sqlite"):
        url = f"sqlite:///{files['root'] / 'quarantined.db'}"
        if not (files["root"] / "quarantined.db").exists():
            load_warehouse(files["csv"], url)
            _raw_table(url, QUARANTINED)
    else:
        url = request.getfixturevalue("quarantined_postgresql_url")
    return connect_warehouse(url) if q_engine.endswith("_loaded") else connect_warehouse(url, files["mapping"])


@pytest.fixture(scope="module")
def quarantined_postgresql_url(quarantined_files: dict[str, Path], postgres_database: Callable[[Path], str]) -> str:
    url = postgres_database(quarantined_files["csv"])
    _raw_table(url, QUARANTINED)
    return url


def test_the_quarantined_rows_hold_each_kind_of_bad_value(quarantined_rows: Dataset):
    report = quarantined_rows.reports["tickets"]
    assert report.rows_loaded == len(QUARANTINED) and report.rejections == ()
    assert {(q.field, q.reason): q.rows for q in report.quarantined} == {
        ("source", "unknown source value"): 1,
        ("priority", "unknown priority value"): 1,
        ("decision", "unknown decision value"): 1,
        ("closed_at", "closed before created"): 1,
        ("first_action_at", "first action before created"): 1,
        ("closed_at", "closed before first action"): 1,
        ("handle_seconds", "handle_seconds out of range"): 1,
        ("views_before_action", "views_before_action out of range"): 1,
    }


@pytest.mark.parametrize("q_engine", Q_ENGINES)
def test_every_engine_quarantines_the_same_values_and_reports_them_alike(
    q_engine: str, quarantined_source: Source, quarantined_rows: Dataset
):
    want, have = quarantined_rows.reports["tickets"], quarantined_source.reports["tickets"]
    assert (have.rows_loaded, have.rows_rejected) == (want.rows_loaded, want.rows_rejected)
    assert (have.taken_by_name, have.ignored_columns) == (want.taken_by_name, want.ignored_columns)
    if q_engine.endswith("_loaded"):  # the loader's clean values and flags: nothing left to quarantine there
        assert have.quarantined == have.unknown_values == ()
        return
    assert {(q.field, q.reason): q.rows for q in have.quarantined} == {
        (q.field, q.reason): q.rows for q in want.quarantined
    }
    assert have.unknown_values == want.unknown_values


@pytest.mark.parametrize("q_engine", Q_ENGINES)
@pytest.mark.parametrize("metric", Q_METRICS)
@pytest.mark.parametrize(("by", "period"), [((), None), (("market",), "day")])
def test_every_engine_answers_alike_on_quarantined_fields(
    q_engine: str,
    metric: str,
    by: tuple[str, ...],
    period: str | None,
    quarantined_source: Source,
    quarantined_rows: Dataset,
):
    case = Case(f"quarantined-{'-'.join(by)}", by, period, Filters(Q_FIRST, Q_END))
    engine = Q_ENGINES[q_engine]
    if metric == "open_backlog" and period:
        period = None
    ask = (metric, case.filters, list(by), period)
    expected, got = summarize(quarantined_rows, *ask), summarize(quarantined_source, *ask)
    nulls = {m for g in gaps_for(engine, metric, case) for m in g.null}
    assert_same_answer(got, expected, ENGINES[engine], nulls)
