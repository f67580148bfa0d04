"""SLA on resolution and due dates: rules measuring time to close, the source's own `due_at`, on every engine.

One small hand-made source (every case a ticket, its expected outcome written next to it), two policies (the
source's due time read as a first-action or a close deadline), and the answer of the rows engine, the rollups,
SQLite and PostgreSQL compared with that hand computation.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from queries.analyses.overview import overview_kpis
from queries.analyses.turnaround import sla_attainment, sla_disagreements
from queries.engines import Source
from queries.engines.rollups.build import build_rollups
from queries.engines.rollups.read import rollup_summary
from queries.engines.rollups.source import open_rolled_up
from queries.filters import Filters
from queries.metrics import data_as_of, summarize
from queries.sla import DUE_RULE, SlaPolicy, load_sla_policy
from queries.sources.dataset import Dataset, load_dataset
from queries.sources.warehouse import connect_warehouse
from queries.sources.warehouse_load import load_warehouse
from tests.apptest import run

T = dt.datetime(2025, 3, 3)  # a Monday
S, M, H = dt.timedelta(seconds=1), dt.timedelta(minutes=1), dt.timedelta(hours=1)
LAST = T + 2 * 24 * H  # created then; its close (LAST + 2 min) is the data's "now"
NOW = LAST + 2 * M
P0, CLOSE = "P0 acted within 60 s", "Resolved within 1 h"
POLICY = f"""
due_measure = "{{due}}"

[[rule]]
name = "{P0}"
priority = "P0"
target_seconds = 60

[[rule]]
name = "{CLOSE}"
measure = "close"
queue = "reports"
target_seconds = 3600
"""
# id: (created, first action, closed, queue, priority, due_at)  ->  expected (group, measured, met) with the due
# time read as a close deadline, then as a first-action deadline (same as close where the two do not differ).
TICKETS: dict[str, tuple[tuple, tuple, tuple | None]] = {
    # P0, first action within 60 s
    "a1": ((T, T + 30 * S, T + 2 * H, "live", "P0", None), (P0, True, True), None),
    "a2": ((T + H, T + H + 90 * S, T + H + 100 * S, "live", "P0", None), (P0, True, False), None),
    "a3": ((T + 2 * H, None, None, "live", "P0", None), (P0, True, False), None),  # waiting past 60 s: missed
    # reports: resolution within 1 h (the first action does not count)
    "r1": ((T + 3 * H, T + 3 * H + 10 * M, T + 3 * H + 50 * M, "reports", "P2", None), (CLOSE, True, True), None),
    "r2": ((T + 4 * H, T + 4 * H + M, T + 4 * H + 61 * M, "reports", "P2", None), (CLOSE, True, False), None),
    "r3": ((T + 5 * H, T + 5 * H + 5 * M, T + 6 * H, "reports", "P2", None), (CLOSE, True, True), None),  # exactly 1 h
    "r4": ((NOW - 30 * M, NOW - 29 * M, None, "reports", "P2", None), (CLOSE, False, False), None),  # open 30 min
    "r5": ((T + 6 * H, T + 6 * H + M, None, "reports", "P2", None), (CLOSE, True, False), None),  # open past 1 h
    # no rule, no due time: no SLA
    "n1": ((T + 7 * H, T + 8 * H, T + 9 * H, "other", "P3", None), (None, False, False), None),
    "n2": ((LAST, LAST + M, NOW, "other", "P3", None), (None, False, False), None),
    # a due time takes precedence over the rules (and applies where no rule does)
    "d1": (  # the 1 h close rule would miss it; closed within its due time of 1 day
        (T + 7 * H, T + 7 * H + M, T + 9 * H, "reports", "P2", T + 31 * H),
        (DUE_RULE, True, True),
        None,
    ),
    "d2": (  # the P0 rule would meet it (30 s); due after 10 s
        (T + 8 * H, T + 8 * H + 30 * S, T + 8 * H + 40 * S, "live", "P0", T + 8 * H + 10 * S),
        (DUE_RULE, True, False),
        None,
    ),
    "d3": (  # closed exactly at its due time
        (T + 9 * H, T + 10 * H, T + 11 * H, "other", "P3", T + 11 * H),
        (DUE_RULE, True, True),
        None,
    ),
    "d4": (  # acted before its due time, never closed: missed as a close deadline, met as a first-action one
        (T + 10 * H, T + 10 * H + 30 * M, None, "other", "P3", T + 11 * H),
        (DUE_RULE, True, False),
        (DUE_RULE, True, True),
    ),
    "d5": ((NOW - H, None, None, "other", "P3", NOW + H), (DUE_RULE, False, False), None),  # due after "now"
    "d6": (  # due far in the future: still waiting, and not a time "in the future" (nor the data's "now")
        (NOW - 3 * H, None, None, "live", "P0", dt.datetime(2099, 6, 1)),
        (DUE_RULE, False, False),
        None,
    ),
}
ENGINES = ("rows", "rollups", "sqlite", "postgresql")
WHOLE = Filters(T.date(), LAST.date())


def expected(due: str) -> pl.DataFrame:
    """(ticket_id, sla_rule, measured, met, day) by hand, from TICKETS."""
    out = []
    for ticket, (row, close, first_action) in TICKETS.items():
        group, measured, met = first_action if due == "first_action" and first_action else close
        out.append((ticket, group, measured, met, row[0].date()))
    schema = {"ticket_id": pl.String, "sla_rule": pl.String, "measured": pl.Boolean, "met": pl.Boolean}
    return pl.DataFrame(out, schema={**schema, "period": pl.Date}, orient="row")


def counted(frame: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """The hand outcomes counted as the `sla` metric counts them."""
    aggs = [
        pl.len().cast(pl.Int64).alias("tickets"),
        pl.col("measured").sum().cast(pl.Int64),
        pl.col("met").sum().cast(pl.Int64),
    ]
    out = frame.group_by(keys).agg(aggs).sort(keys) if keys else frame.select(aggs)
    return out.with_columns(
        pl.when(pl.col("measured") > 0).then(pl.col("met") / pl.col("measured")).alias("attainment")
    )


@pytest.fixture(scope="module")
def extracts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("sla_rules") / "extracts"
    src.mkdir()
    names = ["created_at", "first_action_at", "closed_at", "queue", "priority", "due_at"]
    rows = [{"ticket_id": ticket, **dict(zip(names, row, strict=True))} for ticket, (row, _, _) in TICKETS.items()]
    pl.DataFrame(rows, schema_overrides={n: pl.Datetime("us") for n in names if n.endswith("_at")}).write_parquet(
        src / "tickets.parquet"
    )
    return src


@pytest.fixture(scope="module", params=["close", "first_action"])
def policy_file(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp(f"policy_{request.param}") / "sla.toml"
    path.write_text(POLICY.format(due=request.param), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def sources(
    extracts: Path, policy_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str, Callable[[Path], str] | None], Source]:
    """Each engine's source of the extracts, made once per policy (the rollups count SLA outcomes with it)."""
    made: dict[str, Source] = {}

    def source(engine: str, postgres_database: Callable[[Path], str] | None) -> Source:
        if engine not in made:
            if engine == "rows":
                made[engine] = load_dataset(extracts)
            elif engine == "rollups":
                with pytest.MonkeyPatch.context() as mp:  # open_rolled_up builds with the default policy file
                    mp.setenv("BELLWETHER_SLA_POLICY", str(policy_file))
                    mp.setenv("BELLWETHER_DATA_DIR", str(tmp_path_factory.mktemp("sla_rules_cache")))
                    made[engine] = open_rolled_up(extracts)
            elif engine == "sqlite":
                url = f"sqlite:///{tmp_path_factory.mktemp('sla_rules_db') / 'wh.db'}"
                load_warehouse(extracts, url)
                made[engine] = connect_warehouse(url)
            else:
                made[engine] = connect_warehouse(postgres_database(extracts))
        return made[engine]

    return source


@pytest.fixture
def source(engine: str, sources, policy_file: Path, request: pytest.FixtureRequest) -> tuple[Source, SlaPolicy]:
    """The engine's source and the policy it is asked with (PostgreSQL: skipped without a test server)."""
    postgres = request.getfixturevalue("postgres_database") if engine == "postgresql" else None
    return sources(engine, postgres), load_sla_policy(policy_file)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("by", "period"), [((), None), (("sla_rule",), None), (("sla_rule",), "day")], ids=["total", "rule", "rule-day"]
)
def test_every_engine_gives_the_hand_computed_outcomes(engine, source, by, period):
    src, policy = source
    due = policy.due_measure
    got = summarize(src, "sla", WHOLE, by=by, period=period, sla_policy=policy)
    keys = [*by, *(["period"] if period else [])]
    want = counted(expected(due), keys)
    if period:  # every day of the range for every rule (0 tickets on days without)
        want = (
            want.select(by)
            .unique()
            .join(pl.DataFrame({"period": pl.date_range(WHOLE.start, WHOLE.end, eager=True)}), how="cross")
            .join(want, on=keys, how="left", nulls_equal=True)
            .with_columns(pl.col("tickets", "measured", "met").fill_null(0))
            .sort(keys)
        )
    if keys:
        got, want = got.sort(keys, nulls_last=True), want.sort(keys, nulls_last=True)
    assert_frame_equal(got, want, check_column_order=False)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_due_time_is_neither_the_data_now_nor_in_the_future(engine, source):
    src, _ = source
    assert data_as_of(src) == NOW  # not d5's due time (an hour later), nor d6's in 2099
    assert src.reports["tickets"].rows_in_future == 0


def test_the_rollups_are_rebuilt_when_only_the_due_measure_changes(extracts: Path, tmp_path: Path):
    policies = []
    for due in ("close", "first_action"):
        (tmp_path / f"{due}.toml").write_text(POLICY.format(due=due), encoding="utf-8")
        policies.append(load_sla_policy(tmp_path / f"{due}.toml"))
    cache = tmp_path / "cache"
    met = []
    for policy in policies:
        rollups, stats = build_rollups(extracts, cache_dir=cache, sla_policy=policy)
        assert stats.rebuilt == 1
        met.append(rollup_summary(rollups, "sla", WHOLE, [], None, policy)["met"][0])
    assert met == [expected(p.due_measure)["met"].sum() for p in policies] and met[0] != met[1]
    with pytest.raises(ValueError, match="another SLA policy"):
        rollup_summary(rollups, "sla", WHOLE, [], None, policies[0])


def test_attainment_by_rule_lists_the_due_group_after_the_rules(extracts: Path, policy_file: Path):
    policy = load_sla_policy(policy_file)
    out = sla_attainment(load_dataset(extracts), WHOLE, policy, "sla_rule")
    assert out["sla_rule"].to_list() == [P0, CLOSE, DUE_RULE]
    assert out["target_seconds"].to_list() == [60.0, 3600.0, None]
    assert out["measure"].to_list() == ["first_action", "close", policy.due_measure]


def write_policy(path: Path, text: str) -> SlaPolicy:
    path.write_text(text, encoding="utf-8")
    return load_sla_policy(path)


FIRST_ACTION_RULE = "[[rule]]\ntarget_seconds = 60\n"
CLOSE_RULE = "[[rule]]\nmeasure = 'close'\ntarget_seconds = 3600\n"


@pytest.mark.parametrize(
    ("text", "due_dates", "label", "says"),
    [
        (FIRST_ACTION_RULE, False, "SLA attainment", "time to first action"),
        (CLOSE_RULE, False, "SLA attainment (time to close)", "time to close"),
        (
            FIRST_ACTION_RULE + "queue = 'a'\n" + CLOSE_RULE,
            False,
            "SLA attainment (first action or close)",
            "time to first action or to close, by rule",
        ),
        (
            "due_measure = 'close'\n" + FIRST_ACTION_RULE,
            True,
            "SLA attainment (due dates)",
            "whether each ticket was closed by its due_at",
        ),
    ],
)
def test_the_overview_tile_says_what_the_policy_measures(
    tmp_path: Path, extracts: Path, text: str, due_dates: bool, label: str, says: str
):
    ds = load_dataset(extracts)
    if not due_dates:  # the same tickets with an empty due_at column (as the demo's)
        tickets = ds.tables["tickets"].with_columns(pl.lit(None, pl.Datetime("us")).alias("due_at"))
        tickets.write_parquet(tmp_path / "tickets.parquet")
        ds = load_dataset(tmp_path)
        assert ds.has("tickets", "due_at")
    policy = write_policy(tmp_path / "sla.toml", text)
    tile = next(k for k in overview_kpis(ds, WHOLE, policy) if k.key == "sla_attainment")
    assert tile.label == label
    assert f"This policy measures {says}" in tile.definition
    assert tile.value == summarize(ds, "sla", WHOLE, sla_policy=policy)["attainment"][0]


def test_a_rule_measures_first_action_unless_it_says_close(tmp_path: Path):
    policy = write_policy(tmp_path / "sla.toml", FIRST_ACTION_RULE + CLOSE_RULE)
    assert [r.measure for r in policy.rules] == ["first_action", "close"]
    assert policy.due_measure == "first_action"


def test_a_source_without_due_at_is_measured_by_the_rules_alone(extracts: Path, policy_file: Path):
    ds = load_dataset(extracts)
    tickets = ds.tables["tickets"].with_columns(pl.lit(None, pl.Datetime("us")).alias("due_at"))
    plain = Dataset(ds.source, None, "x", {"tickets": tickets}, ds.reports)
    got = summarize(plain, "sla", WHOLE, by=["sla_rule"], sla_policy=load_sla_policy(policy_file))
    assert got["sla_rule"].to_list() == [None, P0, CLOSE]  # d2, d6 (P0) and d1 (reports) back under their rules
    assert got["tickets"].to_list() == [5, 5, 6]
    assert got.filter(pl.col("sla_rule") == P0)[["measured", "met"]].row(0) == (5, 2)  # d2 met within 60 s, d6 late


def test_disagreements_with_the_source_flag_show_the_measured_end(extracts: Path, policy_file: Path):
    ds = load_dataset(extracts)
    flagged = ds.tables["tickets"].with_columns(pl.lit(True).alias("sla_met"))  # the source says all met
    ds = Dataset(ds.source, None, "x", {"tickets": flagged}, ds.reports)
    policy = load_sla_policy(policy_file)
    out = sla_disagreements(ds, WHOLE, policy)
    missed = expected(policy.due_measure).filter(pl.col("measured") & ~pl.col("met"))
    assert sorted(out["ticket_id"].to_list()) == sorted(missed["ticket_id"].to_list())
    waited = dict(zip(out["ticket_id"], out["waited_seconds"], strict=True))
    assert waited["r2"] == pytest.approx(61 * 60)  # to its close (a resolution rule), not to its first action
    assert waited["d2"] == pytest.approx(40 if policy.due_measure == "close" else 30)
    assert out.filter(pl.col("ticket_id") == "d2")["due_at"][0] == T + 8 * H + 10 * S


@pytest.mark.usefixtures("app_env")
def test_the_overview_and_turnaround_pages_say_what_the_policy_measures(
    extracts: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    (tmp_path / "sla.toml").write_text(POLICY.format(due="close"), encoding="utf-8")
    monkeypatch.setenv("BELLWETHER_SOURCE", str(extracts))
    monkeypatch.setenv("BELLWETHER_SLA_POLICY", str(tmp_path / "sla.toml"))
    params = {"src": "extracts", "start": str(WHOLE.start), "end": str(WHOLE.end)}
    at = run("overview", params)
    tile = next(m for m in at.metric if m.label.startswith("SLA attainment"))
    assert tile.label == "SLA attainment (due dates)"
    assert tile.value == f"{counted(expected('close'), [])['attainment'][0]:.1%}"
    assert "This policy measures whether each ticket was closed by its due_at" in tile.help
    sla = run("turnaround", {**params, "turnaround.tab": "SLA"})
    assert any("measures whether each ticket was closed by its due_at" in c.value for c in sla.caption)
    assert sla.dataframe[0].value["Measures"].tolist() == ["time to first action", "time to close"]
    assert sla.dataframe[1].value["sla_rule"].tolist() == [P0, CLOSE, DUE_RULE]


@pytest.mark.usefixtures("app_env")
def test_on_the_demo_without_due_times_the_pages_say_time_to_first_action():
    at = run("overview")
    tile = next(m for m in at.metric if m.label.startswith("SLA attainment"))
    assert tile.label == "SLA attainment" and "This policy measures time to first action." in tile.help
    sla = run("turnaround", {"turnaround.tab": "SLA"})
    assert any("measures time to first action (first matching rule wins" in c.value for c in sla.caption)
