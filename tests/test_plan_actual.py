"""Plan vs actual: a saved plan's weeks against what then arrived and was staffed (forecasting.plan_actual)."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest

from forecasting.plan import Scenario
from forecasting.plan_actual import PlanRecord, plan_vs_actual
from forecasting.planner import capacity_plan, forecast_view
from queries.demo import generate_demo
from queries.filters import Filters
from queries.sources.dataset import Dataset, load_dataset

END = dt.date(2026, 5, 31)  # a Sunday: the data's last day
MADE_ON = dt.date(2026, 4, 26)  # a Sunday five weeks earlier: the plan's history ends here
WEEKS = 6  # five weeks end in the data, the sixth does not


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    out = tmp_path_factory.mktemp("plan_actual") / "demo"
    generate_demo(out, days=150, tickets_per_day=400, seed=3, end=END)
    return load_dataset(out)


@pytest.fixture(scope="module")
def record(demo: Dataset) -> PlanRecord:
    filters = Filters(demo.tables["tickets"]["created_at"].min().date(), MADE_ON)
    view = forecast_view(demo, filters, "policy_domain", WEEKS * 7, "seasonal_naive")
    plan, _ = capacity_plan(demo, filters, view, Scenario())
    return PlanRecord.of(filters, WEEKS * 7, plan)


def test_a_record_survives_the_store_as_json(record: PlanRecord) -> None:
    again = PlanRecord.from_dict(json.loads(json.dumps(record.to_dict())))
    assert (again.period_end, again.first_day, again.last_day) == (
        MADE_ON,
        MADE_ON + dt.timedelta(1),
        END + dt.timedelta(7),
    )
    assert again.plan.equals(record.plan)


def test_actuals_are_counted_from_the_rows_and_the_staffing_table(demo: Dataset, record: PlanRecord) -> None:
    compared = plan_vs_actual(demo, record, Scenario())
    weeks = sorted(set(compared["week"].to_list()))
    assert weeks == [MADE_ON + dt.timedelta(days=1 + 7 * i) for i in range(5)]  # the sixth has not ended
    tickets, staffing = demo.tables["tickets"], demo.tables["staffing"]
    for row in compared.iter_rows(named=True):
        planned = record.plan.filter(pl.col("vendor") == row["vendor"], pl.col("week") == row["week"]).row(
            0, named=True
        )
        last = row["week"] + dt.timedelta(days=6)
        mine = tickets.filter(
            pl.col("vendor") == row["vendor"],
            ~pl.col("automated"),
            pl.col("handle_seconds").is_not_null(),
            pl.col("first_action_at").dt.date().is_between(row["week"], last),
        )
        assert row["actual_human_tickets"] == mine.height
        assert row["actual_workload_hours"] == pytest.approx(mine["handle_seconds"].sum() / 3600)
        hours_per_fte = 8 * (1 - 0.32)
        assert row["actual_required_fte"] == pytest.approx(
            mine["handle_seconds"].sum() / 3600 / 7 / (hours_per_fte * 0.85)
        )
        staffed = staffing.filter(pl.col("vendor") == row["vendor"], pl.col("date").is_between(row["week"], last))
        share = planned["supply_share"] * (1 - planned["rework_share"])
        assert row["actual_supply_fte"] == pytest.approx(staffed["productive_hours"].sum() * share / 7 / hours_per_fte)
        assert row["planned_required_fte"] == planned["required_fte"]
        assert row["tickets_error"] == pytest.approx(mine.height / planned["human_tickets"] - 1)


def test_the_baseline_plan_was_close(demo: Dataset, record: PlanRecord) -> None:
    """A sanity check of the comparison: the baseline's tickets per vendor-week land within 25 % of what came."""
    errors = plan_vs_actual(demo, record, Scenario())["tickets_error"].abs()
    assert errors.median() < 0.25


def test_a_plan_whose_weeks_have_not_ended_has_nothing_to_compare(demo: Dataset) -> None:
    filters = Filters(END - dt.timedelta(days=90), END)
    view = forecast_view(demo, filters, "policy_domain", 28, "seasonal_naive")
    plan, _ = capacity_plan(demo, filters, view, Scenario())
    assert plan_vs_actual(demo, PlanRecord.of(filters, 28, plan), Scenario()).is_empty()


def test_a_selection_is_compared_on_the_same_selection(demo: Dataset) -> None:
    """Made for one market, the actual tickets are that market's only."""
    filters = Filters(END - dt.timedelta(days=120), MADE_ON, market=("BR",))
    view = forecast_view(demo, filters, "policy_domain", 14, "seasonal_naive")
    plan, _ = capacity_plan(demo, filters, view, Scenario())
    compared = plan_vs_actual(demo, PlanRecord.of(filters, 14, plan), Scenario())
    week = MADE_ON + dt.timedelta(days=1)
    br = demo.tables["tickets"].filter(
        pl.col("market") == "BR",
        ~pl.col("automated"),
        pl.col("handle_seconds").is_not_null(),
        pl.col("first_action_at").dt.date().is_between(week, week + dt.timedelta(days=6)),
    )
    assert (
        compared.filter(pl.col("week") == week)["actual_human_tickets"].sum()
        == br.filter(pl.col("vendor").is_not_null()).height
    )


def test_cli_compares_a_saved_scenario_by_name(demo: Dataset, record: PlanRecord, tmp_path, monkeypatch, capsys):
    from forecasting.cli import main
    from forecasting.scenarios import ScenarioStore

    url = f"sqlite:///{tmp_path / 's.db'}"
    monkeypatch.setenv("BELLWETHER_SCENARIO_URL", url)
    ScenarioStore(url, scope=None).save("spring", Scenario(), "ana", record.to_dict())
    ScenarioStore(url, scope=None).save("spring", Scenario(), "ana")  # v2: saved without a record
    assert (
        main(["plan-vs-actual", "--source", demo.source, "--scenario", "spring", "--version", "1", "--format", "json"])
        == 0
    )
    shown = pl.DataFrame(json.loads(capsys.readouterr().out)).with_columns(pl.col("week").str.to_date())
    assert (
        shown["actual_human_tickets"].to_list()
        == plan_vs_actual(demo, record, Scenario())["actual_human_tickets"].to_list()
    )
    assert main(["plan-vs-actual", "--source", demo.source, "--scenario", "spring"]) == 1
    assert "saved before plans were recorded" in capsys.readouterr().err
