"""Demand vs supply at every split of `python -m forecasting plan --by`: the split picker is in the link
(`capacity.by`), each split draws its tiles and table, the table is the CLI's plan for the same filters and scenario,
finer rows add up to the vendor rows, and a split the source cannot make is refused with the CLI's own sentence."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from forecasting.cli import main
from forecasting.plan import Scenario
from forecasting.plan_splits import SPLITS
from forecasting.scenarios import ScenarioStore
from queries.display import display_value
from tests.apptest import link, metrics_by_label, run, widget

pytestmark = pytest.mark.usefixtures("app_env")

KEY = "capacity.by"
WORST = "Worst week: surplus / deficit"
COLUMNS = ("required_fte", "required_fte_hi_80", "supply_fte", "gap_fte", "backlog_hours_end", "projected_sla")
SCENARIO = "plus 20"  # saved for the CLI; the page gets the same what-if from its link
PARAMS = {"forecast.section": "capacity", "market": "DE", "scenario.volume": "20"}


def plan_table(at) -> pl.DataFrame:
    """The plan table as shown (shares back from %), with the CLI's name for the projected SLA."""
    shown = pl.from_pandas(next(d.value for d in at.dataframe if "gap_fte" in d.value.columns))
    return shown.with_columns(pl.col("week").cast(pl.Date), pl.col("sla_projected") / 100).rename(
        {"sla_projected": "projected_sla"}
    )


def cli_plan(data_dir: Path, split: str, capsys: pytest.CaptureFixture) -> pl.DataFrame:
    argv = ["plan", "--source", str(data_dir / "demo"), "--by", split, "--market", "DE", "--scenario", SCENARIO]
    assert main([*argv, "--format", "json"]) == 0, capsys.readouterr().err
    rows = pl.DataFrame(json.loads(capsys.readouterr().out), infer_schema_length=None)
    shown = [k for k in SPLITS[split] if k == "queue"]  # the page shows queues by their display names
    return rows.with_columns(
        pl.col("week").str.to_date(),
        pl.col(COLUMNS).cast(pl.Float64),  # a column without supply is all null in JSON
        *(pl.col(k).map_elements(lambda v, k=k: display_value(k, v), return_dtype=pl.String) for k in shown),
    )


def assert_same(page: pl.DataFrame, expected: pl.DataFrame, keys: list[str], columns: tuple[str, ...]) -> None:
    """Equal rows; where the page shows a rounded zero (never "-0.0") the value is below the shown precision."""
    joined = page.join(expected, on=[*keys, "week"], how="full", suffix="_expected", nulls_equal=True)
    assert joined.height == page.height == expected.height > 0
    for column in columns:
        got, want = joined[column], joined[f"{column}_expected"]
        assert (got.is_null() == want.is_null()).all(), column
        close = ((got - want).abs() <= 1e-9) | ((got == 0) & (want.abs() < 0.05))
        assert close.fill_null(True).all(), column


@pytest.fixture
def saved_scenario(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The page's what-if of PARAMS saved by name in a store of its own, for the CLI's --scenario."""
    url = f"sqlite:///{tmp_path / 'scenarios.db'}"
    monkeypatch.setenv("BELLWETHER_SCENARIO_URL", url)
    ScenarioStore(url, scope=None).save(SCENARIO, Scenario(volume_uplift=0.2), "ana")


@pytest.mark.parametrize("split", list(SPLITS))
def test_each_split_draws_the_clis_plan_for_the_same_filters_and_scenario(
    split: str, data_dir: Path, saved_scenario: None, capsys: pytest.CaptureFixture
):
    at = run("forecast", {**PARAMS, KEY: split})
    assert widget(at, KEY).value == split and at.query_params[KEY] == split and not at.warning
    keys = list(SPLITS[split])
    page = plan_table(at)
    assert list(page.columns[: len(keys) + 1]) == [*keys, "week"]
    cli = cli_plan(data_dir, split, capsys)
    assert_same(page, cli, keys, COLUMNS)
    tiles = metrics_by_label(at)
    required = (page["required_fte"] * page["days"]).sum() / page.group_by("week").agg(pl.col("days").max())[
        "days"
    ].sum()
    assert float(tiles["Required FTE (horizon average)"]) == pytest.approx(required, abs=0.006)
    if page["gap_fte"].null_count():  # vendor × queue: the demo's staffing does not name queues
        assert tiles[WORST] == "—" and any("Supply by queue is not in the data" in c.value for c in at.caption)
        return
    worst = cli.sort("gap_fte").row(0, named=True)  # unrounded: the table shows a gap near 0 as 0
    assert float(tiles[WORST].split()[0]) == pytest.approx(worst["gap_fte"], abs=0.006)
    named = ", week of " + str(worst["week"])
    assert any(c.value.endswith(named) and str(worst[keys[-1]]) in c.value for c in at.caption)
    deficit = next(v for label, v in tiles.items() if label.endswith("weeks in deficit"))
    assert deficit == f"{(cli['gap_fte'] < 0).sum()} of {cli.height}"


def test_vendor_language_rows_add_up_to_the_vendor_rows(data_dir: Path, saved_scenario: None, capsys):
    at = run("forecast", {**PARAMS, KEY: "vendor,language"})
    assert any(c.value.startswith("Coverage (the staffing's reviewers on the floor)") for c in at.caption)
    # The numbers unrounded (the page shows the CLI's plan: test above); the table shows a floor under 0.0005 as 0.
    vendors, by_language = cli_plan(data_dir, "vendor", capsys), cli_plan(data_dir, "vendor,language", capsys)
    assert by_language["language"].n_unique() > 3
    fte = ("workload_hours", "supply_fte", "coverage_fte", "required_fte")
    summed = by_language.group_by("vendor", "week").agg(pl.col(fte).sum())
    joined = vendors.join(summed, on=["vendor", "week"], suffix="_summed", validate="1:1")
    assert joined.height == vendors.height > 0
    for column in fte[:3]:
        assert (joined[column] - joined[f"{column}_summed"]).abs().max() < 1e-9, column
    # Each language's floor binds on its own: the languages need at least their vendor's row, and say so.
    assert (joined["required_fte_summed"] >= joined["required_fte"] - 1e-9).all()
    assert (by_language["required_fte"] >= by_language["coverage_fte"]).all() and vendors["coverage_fte"].min() > 0


def test_the_split_is_in_the_link_and_a_new_session_on_it_shows_the_same_plan():
    at = run("forecast", {"forecast.section": "capacity"})
    assert widget(at, KEY).value == "vendor"
    widget(at, KEY).set_value("vendor,language").run()
    assert not at.exception and at.query_params[KEY] == "vendor,language"
    again = run("forecast", link(at))
    assert widget(again, KEY).value == "vendor,language" and not again.warning
    assert plan_table(again).equals(plan_table(at))
    assert metrics_by_label(again) == metrics_by_label(at)


def test_an_invalid_split_in_a_link_is_named_in_a_warning():
    at = run("forecast", {"forecast.section": "capacity", KEY: "market"})
    text = " ".join(w.value for w in at.warning)
    assert "`capacity.by`" in text and "'market'" in text and "showing vendor instead" in text
    assert widget(at, KEY).value == "vendor" and at.query_params[KEY] == "vendor"
    assert "vendor" in plan_table(at).columns


def test_a_split_by_queue_from_rollups_is_refused_with_the_clis_sentence(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
):
    split = "vendor,queue"
    monkeypatch.setenv("BELLWETHER_ROLLUP_ROWS", "1")  # every source counts as large: queue is not rolled up
    assert main(["plan", "--source", str(data_dir / "demo"), "--by", split]) == 1
    refusal = capsys.readouterr().err.strip().removeprefix("error: ")
    assert "cannot be grouped by queue" in refusal
    at = run("forecast", {"forecast.section": "capacity", KEY: split})
    assert [i.value for i in at.info] == [refusal]
    assert not [d for d in at.dataframe if "gap_fte" in d.value.columns] and not at.get("plotly_chart")
    assert widget(at, KEY).value == split and at.query_params[KEY] == split


@pytest.mark.parametrize("split", ["vendor,language", "language"])
def test_a_split_by_language_from_rollups_draws_the_clis_plan(
    split: str, data_dir: Path, saved_scenario: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
):
    """Language is a rollups dimension: large extracts plan by language on the page as on the command line."""
    monkeypatch.setenv("BELLWETHER_ROLLUP_ROWS", "1")  # every source counts as large
    at = run("forecast", {**PARAMS, KEY: split})
    assert not at.info and not at.warning and not at.exception
    assert_same(plan_table(at), cli_plan(data_dir, split, capsys), list(SPLITS[split]), COLUMNS)
