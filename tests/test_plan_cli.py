"""`python -m forecasting plan`: the capacity plan per vendor, vendor × language, vendor × queue or language.

Finer splits add up to coarser ones, filters apply to demand and supply, the vendor rows are the page's plan, and a
saved scenario is planned by name."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest

from forecasting.cli import main
from forecasting.plan import Scenario
from forecasting.plan_splits import COVERAGE_NOTE, split_plan
from forecasting.planner import ForecastView, capacity_plan, forecast_view
from forecasting.scenarios import ScenarioStore
from queries.demo import generate_demo
from queries.filters import Filters
from queries.sources.dataset import Dataset, load_dataset

END = dt.date(2026, 3, 31)
WEEKS = 4
TOLERANCE = 1e-9


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("plan_cli") / "demo"
    generate_demo(out, days=120, tickets_per_day=300, seed=11, end=END)
    return out


@pytest.fixture(scope="module")
def demo(demo_dir: Path) -> Dataset:
    return load_dataset(demo_dir)


@pytest.fixture(scope="module")
def period(demo: Dataset) -> Filters:
    return Filters(demo.tables["tickets"]["created_at"].min().date(), END)


@pytest.fixture(scope="module")
def view(demo: Dataset, period: Filters) -> ForecastView:
    return forecast_view(demo, period, "policy_domain", WEEKS * 7, "seasonal_naive")


def run_json(argv: list[str], capsys: pytest.CaptureFixture) -> pl.DataFrame:
    assert main(["plan", *argv, "--format", "json"]) == 0, capsys.readouterr().err
    return pl.DataFrame(json.loads(capsys.readouterr().out)).with_columns(pl.col("week").str.to_date())


def summed(plan: pl.DataFrame, keys: list[str], columns: tuple[str, ...]) -> pl.DataFrame:
    return plan.group_by(*keys, "week").agg(pl.col(columns).sum()).sort(*keys, "week")


def assert_close(got: pl.DataFrame, expected: pl.DataFrame, keys: list[str], columns: tuple[str, ...]) -> None:
    joined = got.join(expected, on=[*keys, "week"], how="full", suffix="_expected")
    assert joined.height == expected.height == got.height
    for column in columns:
        assert (joined[column] - joined[f"{column}_expected"]).abs().max() <= TOLERANCE, column


FTE = ("required_fte", "required_fte_hi_80", "supply_fte", "coverage_fte")
ADDITIVE = ("workload_hours", "supply_fte", "coverage_fte")  # what finer rows add up to exactly
PRODUCTIVE_HOURS_PER_FTE_DAY = 8 * (1 - 0.32) * 0.85  # at the occupancy cap


def assert_required_is_the_larger_of_work_and_coverage(plan: pl.DataFrame) -> None:
    """Per row: required FTE = max(workload FTE, coverage FTE); the 80 % bound is at least that."""
    workload_fte = plan["workload_hours"] / plan["days"] / PRODUCTIVE_HOURS_PER_FTE_DAY
    expected = pl.DataFrame({"w": workload_fte, "c": plan["coverage_fte"]}).max_horizontal()
    assert (plan["required_fte"] - expected).abs().max() <= TOLERANCE
    assert (plan["required_fte_hi_80"] >= plan["required_fte"] - TOLERANCE).all()


def assert_adds_up(finer: pl.DataFrame, coarser: pl.DataFrame, keys: list[str], exact_somewhere: bool = True) -> None:
    """Workload, supply and coverage of the finer rows add up to the coarser rows; required FTE (each row's larger of
    work and coverage) to at least the coarser's, exactly where coverage binds in all of the finer rows or none."""
    assert_close(summed(finer, keys, ADDITIVE), coarser.select(*keys, "week", *ADDITIVE), keys, ADDITIVE)
    for plan in (finer, coarser):
        assert_required_is_the_larger_of_work_and_coverage(plan)
    binds = finer.with_columns((pl.col("coverage_fte") >= pl.col("required_fte") - TOLERANCE).alias("binds"))
    groups = binds.group_by(*keys, "week").agg(
        pl.col("required_fte").sum(), (pl.col("binds").all() | ~pl.col("binds").any()).alias("uniform")
    )
    joined = groups.join(coarser, on=[*keys, "week"], suffix="_coarser")
    assert joined.height == coarser.height
    assert (joined["required_fte"] >= joined["required_fte_coarser"] - TOLERANCE).all()
    uniform = joined.filter("uniform")
    assert uniform.height > 0 or not exact_somewhere
    assert ((uniform["required_fte"] - uniform["required_fte_coarser"]).abs() <= TOLERANCE).all()


def test_vendor_language_rows_add_up_to_vendor_rows_and_languages_to_the_total(demo, period, view):
    vendors = split_plan(demo, period, view, Scenario(), "vendor").plan
    by_language = split_plan(demo, period, view, Scenario(), "vendor,language").plan
    languages = split_plan(demo, period, view, Scenario(), "language").plan
    assert by_language["language"].n_unique() > 3 and by_language["supply_fte"].null_count() == 0
    assert vendors["coverage_fte"].min() > 0  # the demo's staffing keeps reviewers on the floor
    assert_adds_up(by_language, vendors, ["vendor"])
    assert_adds_up(by_language, languages, ["language"])
    assert_close(summed(languages, [], ADDITIVE), summed(vendors, [], ADDITIVE), [], ADDITIVE)
    # Backlog is never netted across vendors: the language rows' backlog is the sum of their vendors'.
    backlog = by_language.group_by("language", "week").agg(pl.col("backlog_hours_end").sum())
    joined = languages.join(backlog, on=["language", "week"], suffix="_summed")
    assert (joined["backlog_hours_end"] - joined["backlog_hours_end_summed"]).abs().max() <= TOLERANCE


def test_work_shifted_to_a_new_vendor_is_split_by_the_domains_language_mix(demo, period, view):
    shifted = Scenario(vendor_shift=(("atlas_cx", "newco", 0.3),))  # newco has reviewed no domain yet
    vendors = split_plan(demo, period, view, shifted, "vendor").plan
    by_language = split_plan(demo, period, view, shifted, "vendor,language").plan
    assert vendors.filter(pl.col("vendor") == "newco")["required_fte"].min() > 0
    assert_adds_up(by_language, vendors, ["vendor"])


def test_queue_split_adds_up_and_says_supply_by_queue_is_not_in_the_data(demo, period, view):
    vendors = split_plan(demo, period, view, Scenario(), "vendor").plan
    result = split_plan(demo, period, view, Scenario(), "vendor,queue")
    demand = ("workload_hours",)
    assert_close(summed(result.plan, ["vendor"], demand), vendors.select("vendor", "week", *demand), ["vendor"], demand)
    # Its staffing lines keep reviewers on the floor for every queue: coverage by queue is unknown, required is work.
    assert result.plan["coverage_fte"].null_count() == result.plan.height
    assert "Coverage by queue is not in the data" in result.note
    # The demo's staffing leaves the queue empty (capacity serving every queue): no supply is invented.
    for column in ("supply_fte", "gap_fte", "backlog_hours_end", "sla_projected"):
        assert result.plan[column].null_count() == result.plan.height, column
    assert "Supply by queue is not in the data" in result.note


def test_staffing_that_names_queues_splits_supply_by_queue(demo_dir, tmp_path, period, view):
    source = tmp_path / "queues"
    source.mkdir()
    for name in ("tickets", "qa_reviews", "events", "platform_metrics"):
        (source / f"{name}.parquet").symlink_to(demo_dir / f"{name}.parquet")
    staffing = pl.read_parquet(demo_dir / "staffing.parquet")
    halves = [
        staffing.with_columns(pl.lit(q).alias("queue"), pl.col("productive_hours", "min_on_floor") * share)
        for q, share in (("live_p1", 0.25), ("reports", 0.75))
    ]
    pl.concat(halves).write_parquet(source / "staffing.parquet")
    ds = load_dataset(source)
    vendors = split_plan(ds, period, view, Scenario(), "vendor").plan
    result = split_plan(ds, period, view, Scenario(), "vendor,queue")
    assert result.note == COVERAGE_NOTE  # supply by queue is in the data
    assert_adds_up(result.plan, vendors, ["vendor"], exact_somewhere=False)
    # A quarter of each vendor's staffed hours serve live_p1.
    live = result.plan.filter(pl.col("queue") == "live_p1").select("vendor", "week", "supply_fte")
    quarter = vendors.select("vendor", "week", (pl.col("supply_fte") * 0.25).alias("supply_fte"))
    assert_close(live, quarter.join(live, on=["vendor", "week"], how="semi"), ["vendor"], ("supply_fte",))


def test_required_fte_matches_a_hand_computation(demo: Dataset, period: Filters):
    """One vendor × language × week from the ticket rows with plain loops, on a flat forecast of 100 a day."""
    domains = demo.tables["tickets"]["policy_domain"].drop_nulls().unique().sort().to_list()
    days = [END + dt.timedelta(days=d) for d in range(1, 15)]
    forecasts = pl.DataFrame(
        {"series": [d for d in domains for _ in days], "ds": days * len(domains), "mean": 100.0}
    ).with_columns(lo_80=80.0, hi_80=120.0, lo_95=70.0, hi_95=130.0)
    flat = ForecastView(pl.DataFrame(), forecasts, pl.DataFrame(), pl.DataFrame(), "", days[-1])
    plan = split_plan(demo, period, flat, Scenario(), "vendor,language").plan
    week = dt.date(2026, 4, 6)  # a whole week: Monday 6 to Sunday 12 April
    row = plan.filter((pl.col("vendor") == "atlas_cx") & (pl.col("language") == "en") & (pl.col("week") == week))

    start = dt.datetime.combine(END - dt.timedelta(weeks=8) + dt.timedelta(days=1), dt.time())
    stop = dt.datetime.combine(END + dt.timedelta(days=1), dt.time())
    created, automated = defaultdict(int), defaultdict(int)
    reviews, seconds = defaultdict(int), defaultdict(float)
    for t in demo.tables["tickets"].iter_rows(named=True):
        domain = t["policy_domain"]
        if start <= t["created_at"] < stop and t["automated"] is not None:
            created[domain] += 1
            automated[domain] += t["automated"]
        acted = t["first_action_at"]
        if acted and start <= acted < stop and not t["automated"] and t["vendor"] and t["handle_seconds"] is not None:
            for key in ((domain,), (domain, t["vendor"]), (domain, t["vendor"], t["language"])):
                reviews[key] += 1
                seconds[key] += t["handle_seconds"]
    hours_a_day = 0.0
    for domain in domains:
        human = 100.0 * (1 - automated[domain] / created[domain])
        vendor_share = reviews[(domain, "atlas_cx")] / reviews[(domain,)]
        if not vendor_share:
            continue
        language_share = reviews[(domain, "atlas_cx", "en")] / reviews[(domain, "atlas_cx")]
        aht = seconds[(domain, "atlas_cx")] / reviews[(domain, "atlas_cx")]
        hours_a_day += human * vendor_share * language_share * aht / 3600
    productive_hours_per_fte_day = 8 * (1 - 0.32) * 0.85
    assert row["days"][0] == 7
    assert row["required_fte"][0] == pytest.approx(hours_a_day / productive_hours_per_fte_day, rel=1e-9)
    assert row["required_fte_hi_80"][0] == pytest.approx(1.2 * hours_a_day / productive_hours_per_fte_day, rel=1e-9)


def test_a_vendor_filter_keeps_its_demand_and_its_own_supply(demo, period, view):
    vendor = "atlas_cx"
    everyone = split_plan(demo, period, view, Scenario(), "vendor,language").plan
    scoped = replace(period, vendor=(vendor,))
    own_view = forecast_view(demo, scoped, "policy_domain", WEEKS * 7, "seasonal_naive")
    one = split_plan(demo, scoped, own_view, Scenario(), "vendor,language").plan
    assert one["vendor"].unique().to_list() == [vendor]
    mine = everyone.filter(pl.col("vendor") == vendor).select("vendor", "language", "week", "supply_fte")
    assert_close(one.select("vendor", "language", "week", "supply_fte"), mine, ["vendor", "language"], ("supply_fte",))
    # Demand: a forecast of the vendor's own tickets, split by its own language mix.
    assert one["required_fte"].sum() == pytest.approx(
        mine.join(everyone, on=["vendor", "language", "week"])["required_fte"].sum(), rel=0.15
    )


def test_a_market_selection_splits_its_supply_and_adds_up_to_the_vendor_rows(demo, period):
    market = replace(period, market=("DE",))
    view = forecast_view(demo, market, "policy_domain", WEEKS * 7, "seasonal_naive")
    vendors = capacity_plan(demo, market, view, Scenario())[0]
    by_language = split_plan(demo, market, view, Scenario(), "vendor,language").plan
    assert_adds_up(by_language, vendors, ["vendor"], exact_somewhere=False)
    # The supply serving German-market tickets is mostly German-speaking (weighted by the hours that served DE).
    german = by_language.filter(pl.col("language") == "de")["supply_fte"].sum()
    assert german > 0.5 * by_language["supply_fte"].sum()


def test_cli_vendor_rows_equal_the_forecast_pages_plan(demo_dir, demo, period, capsys):
    from dashboard import loaders  # the page's loader: same forecast (auto, by policy domain) and plan

    rows = run_json(["--source", str(demo_dir), "--weeks", "8"], capsys)
    page = loaders.capacity_plan(demo, period, 8 * 7, Scenario()).rename({"sla_projected": "projected_sla"})
    columns = ("required_fte", "required_fte_hi_80", "supply_fte", "gap_fte", "backlog_hours_end", "projected_sla")
    assert_close(rows.select("vendor", "week", *columns), page.select("vendor", "week", *columns), ["vendor"], columns)
    assert rows["note"].null_count() == rows.height


def test_cli_queue_split_carries_the_note(demo_dir, capsys):
    rows = run_json(
        ["--source", str(demo_dir), "--by", "vendor,queue", "--weeks", "2", "--model", "seasonal_naive"], capsys
    )
    assert rows["supply_fte"].null_count() == rows.height
    assert rows["note"].str.contains("Supply by queue is not in the data").all()
    assert (
        main(["plan", "--source", str(demo_dir), "--by", "vendor,queue", "--weeks", "1", "--model", "seasonal_naive"])
        == 0
    )
    assert "Note: Supply by queue is not in the data" in capsys.readouterr().out


def test_cli_plans_a_saved_scenario_by_name(demo_dir, demo, period, tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'scenarios.db'}"
    monkeypatch.setenv("BELLWETHER_SCENARIO_URL", url)
    busy = Scenario(volume_uplift=0.5)
    ScenarioStore(url, scope=None).save("Busy summer", busy, "planner")
    argv = ["--source", str(demo_dir), "--weeks", "2", "--model", "seasonal_naive"]
    planned = run_json([*argv, "--scenario", "Busy summer"], capsys)
    baseline = run_json(argv, capsys)
    view = forecast_view(demo, period, "policy_domain", 14, "seasonal_naive")
    expected = split_plan(demo, period, view, busy, "vendor").plan
    assert_close(planned.select("vendor", "week", *FTE), expected.select("vendor", "week", *FTE), ["vendor"], FTE)
    assert planned["workload_hours"].sum() == pytest.approx(1.5 * baseline["workload_hours"].sum(), rel=1e-9)
    assert planned["coverage_fte"].to_list() == baseline["coverage_fte"].to_list()  # presence, whatever the volume

    assert main(["plan", *argv, "--scenario", "Quiet winter"]) == 1
    err = capsys.readouterr().err
    assert "No saved scenario named 'Quiet winter'" in err and "Use one of: Busy summer." in err


def test_cli_rejects_an_unknown_vendor_and_a_missing_store(demo_dir, monkeypatch, capsys):
    assert main(["plan", "--source", str(demo_dir), "--vendor", "nobody"]) == 1
    assert "--vendor: 1 value(s) not in the tickets" in capsys.readouterr().err
    monkeypatch.delenv("BELLWETHER_SCENARIO_URL", raising=False)
    assert main(["plan", "--source", str(demo_dir), "--scenario", "Busy summer"]) == 1
    assert "BELLWETHER_SCENARIO_URL is not set" in capsys.readouterr().err


@pytest.mark.parametrize("split", ["vendor", "vendor,language", "language"])
def test_a_large_source_is_planned_from_its_rollups_like_the_dashboard(
    split: str, demo_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From BELLWETHER_ROLLUP_ROWS tickets the plan reads the rollups, as the dashboard does, and plans the same
    FTE as from the rows (demand from counts and handle-time sums; supply from the staffing table), by language
    too (a rollups dimension)."""
    argv = ["--source", str(demo_dir), "--by", split, "--weeks", str(WEEKS), "--model", "seasonal_naive"]
    from_rows = run_json(argv, capsys)
    monkeypatch.setenv("BELLWETHER_ROLLUP_ROWS", "1")  # every source counts as large
    monkeypatch.setenv("BELLWETHER_DATA_DIR", str(tmp_path))  # where the rollups are cached
    from_rollups = run_json(argv, capsys)
    assert any((tmp_path / "cache" / "rollups").iterdir())  # built, so read from there
    keys = [*split.split(","), "week"]
    joined = from_rows.join(from_rollups, on=keys, suffix="_rollups", validate="1:1")
    assert joined.height == from_rows.height == from_rollups.height > 0
    for column in ("required_fte", "required_fte_hi_80", "supply_fte", "gap_fte"):
        assert (joined[column] - joined[f"{column}_rollups"]).abs().max() < 1e-6, column
