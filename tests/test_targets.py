"""Targets (config/targets.toml): the file's checks, the rules (`from` replacement, `where`, direction), the
`targets` command against `summarize` and hand computations, and the goals on the Overview and Turnaround pages."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from queries import cli
from queries.analyses import targets as targets_module
from queries.analyses.targets import (
    MIN_SAMPLE,
    change_hint,
    evaluate_targets,
    load_targets,
    targets_file,
)
from queries.errors import SourceError
from queries.filters import Filters
from queries.intervals import wilson_interval
from queries.metrics import summarize
from queries.sla import load_sla_policy
from queries.sources.dataset import load_dataset
from tests.apptest import DEMO_END, run

MONDAY = dt.date(2026, 3, 2)  # the source's first day; its two weeks are Mar 2–8 and Mar 9–15
WEEK1 = Filters(MONDAY, MONDAY + dt.timedelta(days=6))
WEEK2 = Filters(MONDAY + dt.timedelta(days=7), MONDAY + dt.timedelta(days=13))
SLA_SECONDS = 600
POLICY = f'[[rule]]\nname = "Everything: 10 min"\ntarget_seconds = {SLA_SECONDS}\n'


def _tickets() -> list[dict]:
    """Two weeks of tickets whose every figure is known: per day 30 hate and 20 youth_safety tickets (plus one
    `rare` ticket on weekdays), first actions after known delays, every third one detected proactively."""
    rows = []
    for day in range(14):
        created_day = dt.datetime.combine(MONDAY + dt.timedelta(days=day), dt.time(8))
        groups = [("hate", 30), ("youth_safety", 20)] + ([("rare", 1)] if day % 7 < 5 else [])
        for domain, n in groups:
            for i in range(n):
                created = created_day + dt.timedelta(minutes=7 * i + day)
                # youth_safety slower in the second week; hate mostly within 10 min
                delay = (i * 97 + day * 13) % (1500 if domain == "youth_safety" and day >= 7 else 900)
                rows.append(
                    {
                        "ticket_id": f"{domain}-{day}-{i}",
                        "created_at": created,
                        "first_action_at": created + dt.timedelta(seconds=delay),
                        "closed_at": created + dt.timedelta(seconds=delay + 60),
                        "policy_domain": domain,
                        "market": "DE" if i % 2 else "US",
                        "source": "proactive_model" if i % 3 == 0 else "user_report",
                        "vendor": "atlas_cx" if i % 2 else "harbor_trust",
                    }
                )
    return rows


@pytest.fixture(scope="module")
def ops(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hand-made source and its SLA policy (one rule: every ticket actioned within 10 minutes)."""
    root = tmp_path_factory.mktemp("ops")
    pl.DataFrame(_tickets()).write_parquet(root / "tickets.parquet")
    (root / "sla.toml").write_text(POLICY)
    return root


@pytest.fixture
def targets_toml(tmp_path: Path) -> Callable[[str], Path]:
    def write(text: str) -> Path:
        path = tmp_path / "targets.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


def _loop(domain: str | None, week: Filters) -> dict:
    """The week's figures for a domain (None: every ticket) by a plain loop over the hand-made tickets."""
    rows = [
        r
        for r in _tickets()
        if week.start <= r["created_at"].date() <= week.end and (domain is None or r["policy_domain"] == domain)
    ]
    met = sum((r["first_action_at"] - r["created_at"]).total_seconds() <= SLA_SECONDS for r in rows)
    proactive = sum(r["source"] == "proactive_model" for r in rows)
    return {"tickets": len(rows), "attainment": met / len(rows), "met": met, "proactive_share": proactive / len(rows)}


# --- the file ---------------------------------------------------------------------------------------------------


BAD_ENTRIES = [
    ('metric = "tickets_handled"\nmeasure = "p90_hours"\ngoal = 1\ndirection = "at_most"', "metric 'tickets_handled'"),
    ('metric = "sla"\nmeasure = "p90_hours"\ngoal = 0.9\ndirection = "at_least"', "measure 'p90_hours' is not a"),
    ('metric = "sla"\nmeasure = "attainment"\ngoal = 0.9\ndirection = "at_least"\nowner = "x"', "unknown key 'owner'"),
    ('metric = "sla"\nmeasure = "attainment"\ngoal = 0.9\ndirection = "at_least"\nfrom = "2026-13-01"', "2026-13-01"),
    ('metric = "sla"\nmeasure = "attainment"\ngoal = 0.9\ndirection = "at_least"\nfrom = 2026-01-01T10:00:00', "from"),
    ('metric = "sla"\nmeasure = "attainment"\ngoal = 0.9\ndirection = "below"', "direction 'below'"),
    ('metric = "sla"\nmeasure = "attainment"\ngoal = 95\ndirection = "at_least"', "write 90 % as 0.9"),
    ('metric = "sla"\nmeasure = "attainment"\ngoal = "95%"\ndirection = "at_least"', "goal '95%' is not a number"),
    ('metric = "sla"\nmeasure = "attainment"\ndirection = "at_least"', "no goal"),
    (
        'metric = "sla"\nmeasure = "attainment"\ngoal = 0.9\ndirection = "at_least"\nwhere = { queue = "live" }',
        "where names 'queue'",
    ),
    (
        'metric = "sla"\nmeasure = "attainment"\ngoal = 0.9\ndirection = "at_least"\nwhere = { market = [] }',
        "where market is not a text value",
    ),
]


@pytest.mark.parametrize(("body", "says"), BAD_ENTRIES)
def test_a_bad_entry_is_refused_naming_the_entry_its_line_and_the_problem(targets_toml, body: str, says: str):
    good = '[[targets]]\nmetric = "volume"\nmeasure = "tickets"\ngoal = 10\ndirection = "at_least"\n\n'
    path = targets_toml(good + "[[targets]]\n" + body + "\n")
    with pytest.raises(SourceError) as caught:
        load_targets(path)
    message = str(caught.value)
    assert f"Targets file {path}: target 2 (line 7) is invalid" in message
    assert says in message
    assert "Each [[targets]] needs metric" in message  # the fix


def test_file_level_mistakes_are_named(targets_toml, tmp_path: Path):
    with pytest.raises(SourceError, match="is not valid TOML"):
        load_targets(targets_toml("[[targets]\nmetric = 1\n"))
    with pytest.raises(SourceError, match="unknown key 'target'"):
        load_targets(targets_toml('[[target]]\nmetric = "sla"\n'))
    twice = '[[targets]]\nmetric = "volume"\nmeasure = "tickets"\ngoal = 10\ndirection = "at_least"\n'
    with pytest.raises(SourceError, match=r"target 2 \(line 7\) repeats target 1 \(line 1\)"):
        load_targets(targets_toml(twice + "\n" + twice))
    with pytest.raises(SourceError, match="does not exist"):
        load_targets(tmp_path / "nowhere.toml")


def test_the_committed_example_is_valid_and_names_every_kind_of_goal():
    example = load_targets(Path(targets_module.DEFAULT_TARGETS_FILE))
    assert {(t.metric, t.measure) for t in example.entries} >= {
        ("time_to_first_action", "p90_hours"),
        ("sla", "attainment"),
    }
    assert any(t.start for t in example.entries) and any(t.where for t in example.entries)


def test_bellwether_targets_names_the_file_and_no_file_means_no_targets(
    targets_toml, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    path = targets_toml('[[targets]]\nmetric = "volume"\nmeasure = "tickets"\ngoal = 10\ndirection = "at_least"\n')
    monkeypatch.setenv("BELLWETHER_TARGETS", str(path))
    assert targets_file() == path and len(load_targets().entries) == 1
    monkeypatch.setenv("BELLWETHER_TARGETS", str(tmp_path / "missing.toml"))  # named but missing: an error
    with pytest.raises(SourceError, match=r"missing\.toml does not exist\..*unset BELLWETHER_TARGETS"):
        load_targets()
    monkeypatch.delenv("BELLWETHER_TARGETS")
    monkeypatch.setattr(targets_module, "DEFAULT_TARGETS_FILE", tmp_path / "no-config" / "targets.toml")
    assert targets_file() is None
    none = load_targets()
    assert none.entries == () and none.file is None


# --- the rules --------------------------------------------------------------------------------------------------


def test_from_replaces_the_goal_from_its_day_on_the_period_end_decides(targets_toml):
    targets = load_targets(
        targets_toml(
            '[[targets]]\nmetric = "sla"\nmeasure = "attainment"\ngoal = 0.5\ndirection = "at_least"\n'
            '[[targets]]\nmetric = "sla"\nmeasure = "attainment"\ngoal = 0.99\ndirection = "at_least"\n'
            'from = "2026-03-12"\n'
            # only from a later day: not in force before it
            '[[targets]]\nmetric = "volume"\nmeasure = "tickets"\ngoal = 1\ndirection = "at_least"\nfrom = 2026-03-20\n'
        )
    )
    assert [t.goal for t in targets.in_force(dt.date(2026, 3, 11))] == [0.5]
    assert [t.goal for t in targets.in_force(dt.date(2026, 3, 12))] == [0.99]  # on the `from` day itself
    assert [t.goal for t in targets.in_force(dt.date(2026, 3, 20))] == [0.99, 1.0]
    # a period that ends on the change day is judged by the new goal, though most of it came before
    assert targets.in_force(WEEK2.end)[0].goal == 0.99 and targets.in_force(WEEK1.end)[0].goal == 0.5
    line = targets.goal_line("sla", "attainment", {}, dt.date(2026, 3, 1), dt.date(2026, 3, 31))
    assert line == [
        (dt.date(2026, 3, 1), dt.date(2026, 3, 11), 0.5, "≥ 50.0%"),
        (dt.date(2026, 3, 12), dt.date(2026, 3, 31), 0.99, "≥ 99.0%"),
    ]
    assert targets.goal_line("volume", "tickets", {}, dt.date(2026, 3, 1), dt.date(2026, 3, 31)) == [
        (dt.date(2026, 3, 20), dt.date(2026, 3, 31), 1.0, "≥ 1")
    ]


def test_where_selects_the_tickets_and_a_tile_takes_only_the_goal_of_its_own_selection(ops: Path, targets_toml):
    targets = load_targets(
        targets_toml(
            '[[targets]]\nmetric = "sla"\nmeasure = "attainment"\ngoal = 0.9\ndirection = "at_least"\n'
            '[[targets]]\nmetric = "sla"\nmeasure = "attainment"\ngoal = 0.8\ndirection = "at_least"\n'
            'where = { policy_domain = "youth_safety" }\n'
            '[[targets]]\nmetric = "proactive"\nmeasure = "proactive_share"\ngoal = 0.3\ndirection = "at_least"\n'
            'where = { policy_domain = ["hate", "youth_safety"], market = "US" }\n'
        )
    )
    ds = load_dataset(ops)
    results = evaluate_targets(ds, targets, WEEK2.start, WEEK2.end, load_sla_policy(ops / "sla.toml"))
    whole, youth, mixed = results
    assert whole.actual == pytest.approx(_loop(None, WEEK2)["attainment"], abs=1e-12)
    assert youth.actual == pytest.approx(_loop("youth_safety", WEEK2)["attainment"], abs=1e-12)
    assert youth.previous == pytest.approx(_loop("youth_safety", WEEK1)["attainment"], abs=1e-12)
    us = [
        r
        for r in _tickets()
        if WEEK2.start <= r["created_at"].date() <= WEEK2.end and r["market"] == "US" and r["policy_domain"] != "rare"
    ]
    assert mixed.actual == pytest.approx(sum(r["source"] == "proactive_model" for r in us) / len(us), abs=1e-12)
    assert mixed.target.where_text == "market=US; policy_domain=hate,youth_safety"  # identifiers, for exports
    said = "Proactive detection for Market: US; Policy domain: Hate, Youth safety ≥ "
    assert mixed.target.describe().startswith(said)  # words, for people (a tile's help, a check not made)
    # a tile shows the goal whose selection is exactly the view's
    assert targets.for_view("sla", "attainment", {}, WEEK2.end).goal == 0.9
    assert targets.for_view("sla", "attainment", {"policy_domain": ("youth_safety",)}, WEEK2.end).goal == 0.8
    assert targets.for_view("sla", "attainment", {"policy_domain": ("hate",)}, WEEK2.end) is None


def test_direction_decides_met_or_missed_and_the_goal_itself_is_met(ops: Path, targets_toml):
    us = sum(1 for r in _tickets() if WEEK2.start <= r["created_at"].date() <= WEEK2.end and r["market"] == "US")
    # four selections of the same US tickets (a target is its metric, measure and selection: one goal each)
    same = [
        'market = "US"',
        'market = "US", source = ["proactive_model", "user_report"]',
        'market = "US", vendor = "harbor_trust"',
        'market = "US", policy_domain = ["hate", "youth_safety", "rare"]',
    ]
    goals = [(us, "at_most"), (us, "at_least"), (us - 1, "at_most"), (us + 1, "at_least")]
    text = "".join(
        f'[[targets]]\nmetric = "volume"\nmeasure = "tickets"\ngoal = {goal}\ndirection = "{direction}"\n'
        f"where = {{ {where} }}\n"
        for (goal, direction), where in zip(goals, same, strict=True)
    )
    results = evaluate_targets(load_dataset(ops), load_targets(targets_toml(text)), WEEK2.start, WEEK2.end)
    assert [r.actual for r in results] == [us] * 4
    assert [r.status for r in results] == ["met", "met", "missed", "missed"]  # the goal itself is met


def test_no_data_small_samples_and_noise_are_said_instead_of_good_or_bad(ops: Path, targets_toml):
    share = _loop(None, WEEK2)["proactive_share"]
    targets = load_targets(
        targets_toml(
            '[[targets]]\nmetric = "sla"\nmeasure = "attainment"\ngoal = 0.9\ndirection = "at_least"\n'
            'where = { policy_domain = "nothing_here" }\n'
            '[[targets]]\nmetric = "qa_accuracy"\nmeasure = "accuracy"\ngoal = 0.9\ndirection = "at_least"\n'
            '[[targets]]\nmetric = "sla"\nmeasure = "attainment"\ngoal = 0.9\ndirection = "at_least"\n'
            'where = { policy_domain = "rare" }\n'
            '[[targets]]\nmetric = "proactive"\nmeasure = "proactive_share"\ndirection = "at_least"\n'
            f"goal = {share + 0.02:.4f}\n"
            '[[targets]]\nmetric = "sla"\nmeasure = "attainment"\ngoal = 0.95\ndirection = "at_least"\n'
        )
    )
    nothing, qa, rare, proactive, sla = evaluate_targets(
        load_dataset(ops), targets, WEEK2.start, WEEK2.end, load_sla_policy(ops / "sla.toml")
    )
    assert (nothing.status, nothing.actual) == ("no_data", None) and "nothing to measure" in nothing.hint
    assert nothing.hint.endswith("for Policy domain: Nothing here")
    assert qa.status == "no_data" and "qa_reviews" in qa.hint
    assert rare.status == "met" and rare.sample == 5 and not rare.judged
    assert rare.hint.startswith(f"only 5 tickets measured: too few to judge (under {MIN_SAMPLE})")
    n = _loop(None, WEEK2)["tickets"]
    low, high = wilson_interval(round(share * n), n)
    assert low <= share + 0.02 <= high  # the goal lies inside the share's 95 % interval…
    assert proactive.status == "missed" and proactive.hint.startswith("within the noise")  # …so the miss is no news
    assert not proactive.judged
    assert sla.status == "missed" and sla.judged and sla.hint is None  # 62 % of 299 against 95 %: news


def test_change_hints_say_when_a_change_is_not_news():
    now, before = {"measured": 400, "met": 360}, {"measured": 420, "met": 380}
    assert change_hint("share", 0.9, 380 / 420, now, before, "sla", "attainment").startswith("within the noise")
    far = {"measured": 400, "met": 200}
    assert change_hint("share", 0.5, 380 / 420, far, before, "sla", "attainment") is None
    small = {"measured": 40, "met": 20}
    assert "only 40 tickets measured" in change_hint("share", 0.5, 0.9, small, before, "sla", "attainment")
    # counts: Poisson noise, 1.96 standard deviations of the difference
    assert change_hint("count", 1010, 1000, {"tickets": 1010}, {"tickets": 1000}, "volume", "tickets") is not None
    assert change_hint("count", 1200, 1000, {"tickets": 1200}, {"tickets": 1000}, "volume", "tickets") is None


def test_vendor_scoped_users_see_no_target_of_another_vendor(targets_toml):
    targets = load_targets(
        targets_toml(
            '[[targets]]\nmetric = "sla"\nmeasure = "attainment"\ngoal = 0.9\ndirection = "at_least"\n'
            '[[targets]]\nmetric = "sla"\nmeasure = "attainment"\ngoal = 0.8\ndirection = "at_least"\n'
            'where = { vendor = "atlas_cx" }\n'
            '[[targets]]\nmetric = "sla"\nmeasure = "attainment"\ngoal = 0.7\ndirection = "at_least"\n'
            'where = { vendor = "harbor_trust" }\n'
            '[[targets]]\nmetric = "sla"\nmeasure = "attainment"\ngoal = 0.6\ndirection = "at_least"\n'
            'where = { vendor = ["atlas_cx", "harbor_trust"] }\n'
        )
    )
    assert [t.goal for t in targets.visible_to("atlas_cx").entries] == [0.9, 0.8]
    assert len(targets.visible_to(None).entries) == 4


# --- the command ------------------------------------------------------------------------------------------------


def _cli_json(capsys: pytest.CaptureFixture, *argv: str) -> list[dict]:
    assert cli.main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def _summarized(capsys, common: list[str], metric: str, week: Filters, domain: str | None) -> dict:
    """`summarize` on the command line for a week, by policy domain when a domain is named: that domain's row."""
    by = ["--by", "policy_domain"] if domain else []
    period = ["--start", str(week.start), "--end", str(week.end)]
    rows = _cli_json(capsys, "summarize", *common, "--metric", metric, *by, *period, "--format", "json")
    return next(r for r in rows if r["policy_domain"] == domain) if domain else rows[0]


def test_targets_command_rows_equal_summarize_for_the_same_filters_and_period(
    ops: Path, targets_toml, capsys: pytest.CaptureFixture
):
    path = targets_toml(
        '[[targets]]\nmetric = "time_to_first_action"\nmeasure = "p90_hours"\ngoal = 0.3\ndirection = "at_most"\n'
        '[[targets]]\nmetric = "time_to_first_action"\nmeasure = "p90_hours"\ngoal = 0.2\ndirection = "at_most"\n'
        'where = { policy_domain = "youth_safety" }\n'
        '[[targets]]\nmetric = "sla"\nmeasure = "attainment"\ngoal = 0.6\ndirection = "at_least"\n'
        '[[targets]]\nmetric = "volume"\nmeasure = "tickets"\ngoal = 200\ndirection = "at_most"\n'
        'where = { policy_domain = "hate" }\n'
    )
    period = ["--start", str(WEEK2.start), "--end", str(WEEK2.end)]
    common = ["--source", str(ops), "--sla-policy", str(ops / "sla.toml")]
    rows = _cli_json(capsys, "targets", *common, "--targets", str(path), *period, "--format", "json")
    assert [(r["metric"], r["where"]) for r in rows] == [
        ("time_to_first_action", ""),
        ("time_to_first_action", "policy_domain=youth_safety"),
        ("sla", ""),
        ("volume", "policy_domain=hate"),
    ]
    for row in rows:
        domain = row["where"].partition("=")[2] or None
        now = _summarized(capsys, common, row["metric"], WEEK2, domain)
        before = _summarized(capsys, common, row["metric"], WEEK1, domain)
        assert row["actual"] == now[row["measure"]]  # the very same number, not merely close
        assert row["previous_actual"] == before[row["measure"]]
        met = row["actual"] <= row["goal"] if row["direction"] == "at_most" else row["actual"] >= row["goal"]
        assert row["status"] == ("met" if met else "missed")
    assert [r["status"] for r in rows] == ["met", "missed", "met", "missed"]
    assert rows[1]["sample"] == _loop("youth_safety", WEEK2)["tickets"] and rows[1]["hint"] is None
    assert rows[2]["actual"] == pytest.approx(_loop(None, WEEK2)["attainment"], abs=1e-12)
    assert rows[2]["previous_actual"] == pytest.approx(_loop(None, WEEK1)["attainment"], abs=1e-12)
    assert rows[3]["actual"] == _loop("hate", WEEK2)["tickets"] == 210
    assert cli.main(["targets", *common, "--targets", str(path), *period, "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[0].split(",") == list(targets_module.TARGETS_SCHEMA)
    assert cli.main(["targets", *common, "--targets", str(path), *period]) == 0
    table = capsys.readouterr().out
    assert "policy_domain=youth_safety" in table and "| missed" in table and "≤ 12.0 min" in table


def test_targets_command_defaults_to_the_last_full_week_of_data(ops: Path, targets_toml, capsys):
    path = targets_toml('[[targets]]\nmetric = "volume"\nmeasure = "tickets"\ngoal = 1\ndirection = "at_least"\n')
    # the data end on Sunday Mar 15: the last full week (Monday to Sunday) is Mar 9–15
    rows = _cli_json(capsys, "targets", "--source", str(ops), "--targets", str(path), "--format", "json")
    assert (
        rows[0]["actual"] == _loop(None, WEEK2)["tickets"]
        and rows[0]["previous_actual"] == _loop(None, WEEK1)["tickets"]
    )
    # data ending on a Friday: the week before, not the five days since Monday
    cut = ops.parent / "ops-friday"
    cut.mkdir(exist_ok=True)
    friday = dt.datetime.combine(WEEK2.start + dt.timedelta(days=5), dt.time())
    pl.read_parquet(ops / "tickets.parquet").filter(pl.col("created_at") < friday).write_parquet(
        cut / "tickets.parquet"
    )
    rows = _cli_json(capsys, "targets", "--source", str(cut), "--targets", str(path), "--format", "json")
    assert rows[0]["actual"] == _loop(None, WEEK1)["tickets"] and rows[0]["previous_actual"] is None
    assert cli.main(["targets", "--source", str(cut), "--targets", str(path)]) == 0
    assert f"Targets over {WEEK1.start} to {WEEK1.end}" in capsys.readouterr().out


def test_targets_command_reports_a_bad_file_with_exit_status_1(ops: Path, targets_toml, capsys):
    path = targets_toml('[[targets]]\nmetric = "volume"\nmeasure = "ticket"\ngoal = 1\ndirection = "at_least"\n')
    assert cli.main(["targets", "--source", str(ops), "--targets", str(path)]) == 1
    err = capsys.readouterr().err
    assert "target 1 (line 1) is invalid (measure 'ticket' is not a measure of volume (tickets))" in err
    assert "Traceback" not in err


def test_targets_on_rollups_equal_summarize_on_the_rollups(
    ops: Path, targets_toml, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
):
    from queries.engines import engine_for
    from queries.engines.rollups.source import open_rolled_up

    monkeypatch.setenv("BELLWETHER_ROLLUP_ROWS", "1")  # served from rollups, as the dashboard would
    monkeypatch.setenv("BELLWETHER_DATA_DIR", str(tmp_path))  # the rollups' cache
    monkeypatch.setenv("BELLWETHER_SLA_POLICY", str(ops / "sla.toml"))  # the policy the rollups count with
    path = targets_toml(
        '[[targets]]\nmetric = "sla"\nmeasure = "attainment"\ngoal = 0.8\ndirection = "at_least"\n'
        'where = { policy_domain = "youth_safety" }\n'
        '[[targets]]\nmetric = "time_to_first_action"\nmeasure = "p90_hours"\ngoal = 0.2\ndirection = "at_most"\n'
    )
    period = ["--start", str(WEEK2.start), "--end", str(WEEK2.end)]
    rows = _cli_json(capsys, "targets", "--source", str(ops), "--targets", str(path), *period, "--format", "json")
    rolled = open_rolled_up(str(ops))
    assert "rollups" in engine_for(rolled).caption
    youth = Filters(WEEK2.start, WEEK2.end, policy_domain=("youth_safety",))
    assert rows[0]["actual"] == summarize(rolled, "sla", youth)["attainment"][0]
    assert rows[0]["actual"] == pytest.approx(_loop("youth_safety", WEEK2)["attainment"], abs=1e-12)
    assert rows[1]["actual"] == summarize(rolled, "time_to_first_action", WEEK2)["p90_hours"][0]
    exact = summarize(load_dataset(ops), "time_to_first_action", WEEK2)["p90_hours"][0]
    assert rows[1]["actual"] == pytest.approx(exact, rel=0.02)  # rollup percentiles: within the stated 2 %


def test_targets_on_the_warehouse_equal_summarize_in_the_database(ops: Path, targets_toml, postgres_database, capsys):
    from queries.sources.warehouse import connect_warehouse

    url = postgres_database(ops)
    path = targets_toml(
        '[[targets]]\nmetric = "sla"\nmeasure = "attainment"\ngoal = 0.8\ndirection = "at_least"\n'
        'where = { policy_domain = "youth_safety" }\n'
        '[[targets]]\nmetric = "time_to_first_action"\nmeasure = "p90_hours"\ngoal = 0.2\ndirection = "at_most"\n'
        '[[targets]]\nmetric = "volume"\nmeasure = "tickets"\ngoal = 400\ndirection = "at_most"\nfrom = "2026-03-10"\n'
    )
    period = ["--start", str(WEEK2.start), "--end", str(WEEK2.end)]
    common = ["--source", url, "--sla-policy", str(ops / "sla.toml")]
    rows = _cli_json(capsys, "targets", *common, "--targets", str(path), *period, "--format", "json")
    warehouse = connect_warehouse(url)
    policy = load_sla_policy(ops / "sla.toml")
    youth = Filters(WEEK2.start, WEEK2.end, policy_domain=("youth_safety",))
    assert rows[0]["actual"] == summarize(warehouse, "sla", youth, sla_policy=policy)["attainment"][0]
    assert rows[0]["actual"] == pytest.approx(_loop("youth_safety", WEEK2)["attainment"], abs=1e-12)
    assert rows[0]["actual"] == _summarized(capsys, common, "sla", WEEK2, "youth_safety")["attainment"]
    assert rows[1]["actual"] == summarize(warehouse, "time_to_first_action", WEEK2)["p90_hours"][0]
    assert rows[2]["actual"] == _loop(None, WEEK2)["tickets"] and rows[2]["status"] == "met"


# --- the dashboard ----------------------------------------------------------------------------------------------

DEMO_TARGETS = """
[[targets]]
metric = "time_to_first_action"
measure = "p90_hours"
goal = 0.2
direction = "at_most"

[[targets]]
metric = "time_to_first_action"
measure = "p90_hours"
goal = 0.05
direction = "at_most"
from = "2026-06-01"

[[targets]]
metric = "sla"
measure = "attainment"
goal = 0.9
direction = "at_least"

[[targets]]
metric = "sla"
measure = "attainment"
goal = 0.99
direction = "at_least"
from = "2026-06-15"
"""


@pytest.fixture
def demo_targets(app_env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "targets.toml"
    path.write_text(DEMO_TARGETS)
    monkeypatch.setenv("BELLWETHER_TARGETS", str(path))
    return path


def _badges(at) -> list[str]:
    return [m.value for m in at.markdown if m.value.startswith("Goal ")]


def test_overview_tiles_show_the_goal_and_its_status(demo_targets: Path, data_dir: Path):
    at = run()
    filters = Filters(DEMO_END - dt.timedelta(days=27), DEMO_END)
    results = evaluate_targets(
        load_dataset(data_dir / "demo"), load_targets(demo_targets), filters.start, filters.end, load_sla_policy()
    )
    expected = {r.target.metric: r for r in results}
    badges = _badges(at)
    assert len(badges) == 2
    p90 = next(b for b in badges if "≤ 3.0 min" in b)  # the goal in force at the period's end: 0.05 h
    sla = next(b for b in badges if "≥ 99.0%" in b)
    for badge, result in ((p90, expected["time_to_first_action"]), (sla, expected["sla"])):
        assert result.status in badge and (":red-badge" in badge) == (result.status == "missed" and result.judged)
    assert any(s.value == "Targets" for s in at.subheader)
    table = at.table[-1].value if at.table else None
    assert table is not None and "≥ 99.0%" in table.to_csv()


def test_overview_draws_each_goal_over_the_weeks_stepping_where_it_changed(demo_targets: Path):
    at = run()
    chart = next(c for c in at.get("plotly_chart") if "goal" in c.proto.spec and "P90 time to action" in c.proto.spec)
    spec = json.loads(chart.proto.spec)
    goals = [t for t in spec["data"] if t["name"].endswith("goal")]
    assert {t["name"] for t in goals} == {"P90 time to action goal", "SLA attainment goal"}
    p90 = next(t for t in goals if t["name"].startswith("P90"))
    steps = [y for y in p90["y"] if y is not None]  # in minutes or hours, whichever reads best
    assert steps[0] / steps[-1] == pytest.approx(0.2 / 0.05)  # stepped down…
    assert "2026-06-01" in [str(x)[:10] for x in p90["x"]]  # …where the goal changed
    values = [t for t in spec["data"] if t["name"] == "P90 time to action"]
    assert values and len(values[0]["y"]) >= 10  # weekly values behind the goal


def test_a_bad_targets_file_is_an_error_panel_and_the_page_still_shows_its_figures(
    demo_targets: Path, monkeypatch: pytest.MonkeyPatch
):
    demo_targets.write_text('[[targets]]\nmetric = "sla"\nmeasure = "attainment"\ngoal = 95\ndirection = "at_least"\n')
    for page in ("overview", "turnaround"):
        at = run(page)
        panel = next(e.value for e in at.error)
        assert "Targets file" in panel and "target 1 (line 1) is invalid" in panel and "write 90 % as 0.9" in panel
    assert len(run().metric) == 10 and not _badges(run())
    monkeypatch.setenv("BELLWETHER_TARGETS", str(demo_targets.parent / "gone.toml"))
    at = run()
    assert "gone.toml does not exist" in at.error[0].value and len(at.metric) == 10


def test_turnaround_draws_the_percentile_and_sla_goals(demo_targets: Path):
    at = run("turnaround", {"start": "2026-05-18", "end": str(DEMO_END)})  # the goal changed on Jun 1
    trend = json.loads(next(c for c in at.get("plotly_chart") if c.key == "turnaround.trend").proto.spec)
    goal = next(t for t in trend["data"] if t["name"] == "P90 goal")
    assert next(y for y in goal["y"] if y is not None) == 0.2 and goal["y"][-1] == 0.05  # stepping on Jun 1
    at = run("turnaround", {"turnaround.tab": "SLA"})
    sla = json.loads(next(c for c in at.get("plotly_chart") if c.key == "turnaround.sla_chart").proto.spec)
    lines = [s for s in sla["layout"].get("shapes", []) if s.get("x0") == s.get("x1")]
    assert [s["x0"] for s in lines] == [0.99]  # the goal in force at the end of the period


def test_a_selection_under_100_tickets_shows_a_hint_instead_of_red_or_green(demo_targets: Path, data_dir: Path):
    from streamlit.proto.Metric_pb2 import Metric as MetricProto

    ds = load_dataset(data_dir / "demo")
    week = Filters(DEMO_END - dt.timedelta(days=6), DEMO_END)
    volume = summarize(ds, "volume", week, by=["market"])
    market = volume.filter(pl.col("tickets").is_between(10, 90)).sort("tickets")["market"][-1]
    demo_targets.write_text(
        DEMO_TARGETS + f'[[targets]]\nmetric = "sla"\nmeasure = "attainment"\ngoal = 0.5\ndirection = "at_least"\n'
        f'where = {{ market = "{market}" }}\n'
    )
    at = run(params={"start": str(week.start), "end": str(week.end), "market": market})
    sla = next(m for m in at.metric if m.label == "SLA attainment")
    assert "too few to judge a change" in sla.help
    assert sla.proto.direction == MetricProto.MetricDirection.NONE  # no arrow, no colour
    badge = next(b for b in _badges(at) if "≥ 50.0%" in b)
    assert ":gray-badge[met · only" in badge and ":green-badge" not in badge
