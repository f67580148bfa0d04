"""A ticket is a ticket: a row with a usable ticket_id and created_at is always loaded; a bad optional field is
quarantined (set to null, counted by reason with examples), not the row — on both paths (rows and rollups)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from queries.analyses.health import quarantined_fields
from queries.contract import CLOSED_UNKNOWN
from queries.engines import scope
from queries.engines.rollups.source import open_rolled_up
from queries.filters import Filters
from queries.metrics import summarize
from queries.sla import load_sla_policy
from queries.sources.dataset import Dataset, load_dataset

DAY = Filters(dt.date(2025, 3, 1), dt.date(2025, 3, 1))


@pytest.fixture(params=["rows", "rollups"])
def read(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """load_dataset or open_rolled_up (its rollup cache in a temporary data folder)."""
    monkeypatch.setenv("BELLWETHER_DATA_DIR", str(tmp_path / "data"))
    return load_dataset if request.param == "rows" else open_rolled_up


def write_source(tmp_path: Path, csv: str, fmt: str = "csv", mapping: str | None = None) -> tuple[Path, Path | None]:
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    if fmt == "csv":
        (src / "tickets.csv").write_text(csv)
    else:  # the same rows typed, as exports write Parquet (the rollups' lean path reads these)
        frame = pl.read_csv(csv.encode(), infer_schema=False)
        frame.with_columns(pl.col(c).str.to_datetime() for c in frame.columns if c.endswith("_at")).write_parquet(
            src / "tickets.parquet"
        )
    if mapping is None:
        return src, None
    (tmp_path / "m.toml").write_text(mapping)
    return src, tmp_path / "m.toml"


def quarantined(ds) -> dict[tuple[str, str], int]:
    return {(q.field, q.reason): q.rows for q in ds.reports["tickets"].quarantined}


def rejected(ds) -> dict[str, int]:
    return {r.reason: r.rows for r in ds.reports["tickets"].rejections}


SOURCES = """ticket_id,created_at,source
a,2025-03-01 10:00:00,Call
b,2025-03-01 10:05:00,Self Service
c,2025-03-01 10:10:00,user_report
d,2025-03-01 10:15:00,Call
e,2025-03-01 10:20:00,proactive_model
"""


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_an_unknown_value_nulls_the_field_not_the_ticket(tmp_path: Path, read, fmt: str):
    ds = read(*write_source(tmp_path, SOURCES, fmt))
    assert ds.reports["tickets"].rows_loaded == 5 and rejected(ds) == {}
    assert quarantined(ds) == {("source", "unknown source value"): 3}
    out = summarize(ds, "proactive", DAY).row(0, named=True)
    assert (out["tickets"], out["known_source"], out["proactive"]) == (5, 2, 1)
    assert dict(summarize(ds, "volume", DAY, by=["source"]).iter_rows()) == {
        None: 3,
        "proactive_model": 1,
        "user_report": 1,
    }


def test_a_column_named_in_another_letter_case_is_taken_on_both_paths(tmp_path: Path, read):
    """`Source` is taken for source as the loader takes it (by name, whatever the case), also from typed Parquet,
    which the rollups read on their lean path: the same shares, the same quarantine, the same report."""
    (tmp_path / "src").mkdir()
    pl.DataFrame(
        {
            "ticket_id": ["a", "b", "c"],
            "created_at": [dt.datetime(2025, 3, 1, 10)] * 3,
            "Source": ["proactive_model", "legal", "Call"],
            "note": ["x", "y", "z"],
        }
    ).write_parquet(tmp_path / "src" / "tickets.parquet")
    ds = read(tmp_path / "src")
    out = summarize(ds, "proactive", DAY).row(0, named=True)
    assert (out["tickets"], out["known_source"], out["proactive"]) == (3, 2, 1)
    report = ds.reports["tickets"]
    assert quarantined(ds) == {("source", "unknown source value"): 1} and "source" not in report.missing_fields
    assert report.taken_by_name == (("ticket_id", "ticket_id"), ("created_at", "created_at"), ("source", "Source"))
    assert report.ignored_columns == ("note",)
    (unknown,) = report.unknown_values
    assert (unknown.field, unknown.values) == ("source", (("Call", 1),))


def test_unknown_values_are_listed_with_counts_and_examples(tmp_path: Path):
    ds = load_dataset(write_source(tmp_path, SOURCES)[0])
    report = ds.reports["tickets"]
    assert ds.tables["tickets"]["source"].to_list() == [None, None, "user_report", None, "proactive_model"]
    (unknown,) = report.unknown_values
    assert unknown.field == "source" and unknown.values == (("Call", 2), ("Self Service", 1))
    assert "proactive_model" in unknown.allowed
    (q,) = report.quarantined
    assert q.examples[0].endswith("tickets.csv row 1: ticket_id='a', source='Call'")


IMPOSSIBLE = """ticket_id,created_at,first_action_at,closed_at
open,2025-03-01 09:00:00,2025-03-01 09:30:00,
closed,2025-03-01 10:00:00,2025-03-01 10:30:00,2025-03-01 12:00:00
before-created,2025-03-01 11:00:00,2025-03-01 11:30:00,2025-03-01 08:00:00
before-action,2025-03-01 12:00:00,2025-03-01 13:00:00,2025-03-01 12:30:00
acted-before,2025-03-01 13:00:00,2025-03-01 12:00:00,2025-03-01 14:00:00
unreadable,2025-03-01 14:00:00,,next week
"""


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_an_impossible_time_is_quarantined_and_the_ticket_stays_received(tmp_path: Path, read, fmt: str):
    csv = IMPOSSIBLE.replace("next week", "") if fmt == "parquet" else IMPOSSIBLE  # typed: no unreadable text
    ds = read(*write_source(tmp_path, csv, fmt))
    assert ds.reports["tickets"].rows_loaded == 6 and rejected(ds) == {}
    assert quarantined(ds) == {
        ("closed_at", "closed before created"): 1,
        ("closed_at", "closed before first action"): 1,
        ("first_action_at", "first action before created"): 1,
        **({("closed_at", "unparseable closed_at"): 1} if fmt == "csv" else {}),
    }
    assert summarize(ds, "volume", DAY)["tickets"][0] == 6
    # time to close: only the tickets whose closed_at stands (closed: 2 h; acted-before: 1 h)
    ttc = summarize(ds, "time_to_close", DAY).row(0, named=True)
    assert (ttc["tickets"], ttc["measured"], ttc["mean_hours"]) == (6, 2, 1.5)
    ttfa = summarize(ds, "time_to_first_action", DAY).row(0, named=True)
    assert ttfa["measured"] == 4  # acted-before's first action is unknown; unreadable has none
    assert summarize(ds, "actioned", DAY)["actioned"][0] == 4


def backlog_by_loop(rows: list[dict], start: dt.datetime, end: dt.datetime) -> tuple[int, int, int, int]:
    """open_start, arrivals, closures, open_end over [start, end): a ticket closed at an unknown time is left out."""
    kept = [r for r in rows if not r["closed_unknown"]]

    def is_open(r: dict, t: dt.datetime) -> bool:
        return r["created_at"] < t and (r["closed_at"] is None or r["closed_at"] >= t)

    arrivals = sum(start <= r["created_at"] < end for r in kept)
    closures = sum(r["closed_at"] is not None and start <= r["closed_at"] < end for r in kept)
    return sum(is_open(r, start) for r in kept), arrivals, closures, sum(is_open(r, end) for r in kept)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_ticket_closed_at_an_unknown_time_is_not_in_the_backlog(tmp_path: Path, read, fmt: str):
    csv = IMPOSSIBLE if fmt == "csv" else IMPOSSIBLE.replace("next week", "2025-03-01 15:00:00")
    ds = read(*write_source(tmp_path, csv, fmt))
    rows = load_dataset(tmp_path / "src").tables["tickets"]
    closed_unknown = dict(rows.select("ticket_id", CLOSED_UNKNOWN).iter_rows())
    assert closed_unknown == {
        "open": False,
        "closed": False,
        "before-created": True,
        "before-action": True,
        "acted-before": False,
        "unreadable": fmt == "csv",
    }
    flow = summarize(ds, "backlog", DAY).row(0, named=True)
    start, end = dt.datetime(2025, 3, 1), dt.datetime(2025, 3, 2)
    expected = backlog_by_loop(rows.to_dicts(), start, end)
    assert (flow["open_start"], flow["arrivals"], flow["closures"], flow["open_end"]) == expected
    assert expected == ((0, 3, 2, 1) if fmt == "csv" else (0, 4, 3, 1))
    assert summarize(ds, "open_backlog", DAY)["open_tickets"][0] == 1  # only "open": not those closed at unknown times


SLA_ENDS = """ticket_id,created_at,first_action_at,closed_at,queue
in-time,2025-03-01 10:00:00,2025-03-01 10:30:00,2025-03-01 11:00:00,acted
late,2025-03-01 10:00:00,2025-03-01 12:00:00,2025-03-01 13:00:00,acted
waiting,2025-03-01 10:00:00,,,acted
acted-before,2025-03-01 10:00:00,2025-03-01 09:00:00,2025-03-01 10:20:00,acted
closed-before,2025-03-01 10:00:00,2025-03-01 10:10:00,2025-03-01 09:00:00,closed
closing,2025-03-01 10:00:00,2025-03-01 10:10:00,,closed
"""
SLA_POLICY = (
    '[[rule]]\nname = "acted"\nqueue = "acted"\ntarget_seconds = 3600\n'
    '[[rule]]\nname = "closed"\nqueue = "closed"\nmeasure = "close"\ntarget_seconds = 3600\n'
)


def sla_by_loop(rows: list[dict], rule_end: dict[str, str], as_of: dt.datetime) -> dict[str, tuple[int, int, int]]:
    """Per rule: tickets, measured, met. A ticket whose end time was quarantined (acted or closed, but not known
    when) is left out of measured, rather than counted late; one still waiting past its target is measured."""
    out = {}
    for rule, end in rule_end.items():
        mine = [r for r in rows if r["queue"] == rule]
        unknown = "acted_unknown" if end == "first_action_at" else CLOSED_UNKNOWN
        ended = [r for r in mine if r[end] is not None]
        late = [
            r for r in mine if r[end] is None and not r[unknown] and as_of - r["created_at"] > dt.timedelta(hours=1)
        ]
        met = [r for r in ended if r[end] - r["created_at"] <= dt.timedelta(hours=1)]
        out[rule] = (len(mine), len(ended) + len(late), len(met))
    return out


def test_a_ticket_whose_sla_end_is_quarantined_is_left_out_of_the_sla(tmp_path: Path, read, monkeypatch):
    src, _ = write_source(tmp_path, SLA_ENDS)
    (tmp_path / "sla.toml").write_text(SLA_POLICY)
    monkeypatch.setenv("BELLWETHER_SLA_POLICY", str(tmp_path / "sla.toml"))  # the policy rollups are built with
    policy = load_sla_policy()
    rows = load_dataset(src).tables["tickets"]
    assert dict(rows.select("ticket_id", "acted_unknown").iter_rows())["acted-before"] is True
    expected = sla_by_loop(
        rows.to_dicts(), {"acted": "first_action_at", "closed": "closed_at"}, rows["closed_at"].max()
    )
    assert expected == {"acted": (4, 3, 1), "closed": (2, 1, 0)}  # not (4, 4, 1), (2, 2, 0): unknown is not late
    out = summarize(read(src), "sla", DAY, by=["sla_rule"], sla_policy=policy)
    assert {r["sla_rule"]: (r["tickets"], r["measured"], r["met"]) for r in out.to_dicts()} == expected


def test_every_table_quarantines_its_optional_fields(write):
    write("src/tickets.csv", "ticket_id,created_at,priority,handle_seconds,automated\na,2025-03-01,urgent,-5,maybe\n")
    write("src/events.csv", "start,end,title,kind\n2025-03-05,2025-03-01,Launch,launch_party\n")
    write(
        "src/staffing.csv",
        "date,vendor,shrinkage,headcount,min_on_floor,covered_hours\n2025-03-01,v1,1.5,ten,-1,25\n,v2,0.3,3,1,8\n",
    )
    write(
        "src/qa_reviews.csv", "ticket_id,reviewed_at,is_correct,qa_decision\na,2025-03-02,yes,maybe\nb,2025-03-02,,\n"
    )
    ds = load_dataset(write("src/.keep", "").parent)

    def report(table: str) -> tuple[int, dict, dict]:
        r = ds.reports[table]
        return (
            r.rows_loaded,
            {x.reason: x.rows for x in r.rejections},
            {(q.field, q.reason): q.rows for q in r.quarantined},
        )

    assert report("tickets") == (
        1,
        {},
        {
            ("priority", "unknown priority value"): 1,
            ("handle_seconds", "handle_seconds out of range"): 1,
            ("automated", "unparseable automated"): 1,
        },
    )
    assert report("events") == (1, {}, {("end", "end before start"): 1, ("kind", "unknown kind value"): 1})
    assert report("staffing") == (
        1,
        {"missing date": 1},
        {
            ("shrinkage", "shrinkage out of range"): 1,
            ("headcount", "unparseable headcount"): 1,
            ("min_on_floor", "min_on_floor out of range"): 1,
            ("covered_hours", "covered_hours out of range"): 1,
        },
    )
    assert ds.tables["staffing"].select("min_on_floor", "covered_hours").row(0) == (None, None)
    assert report("qa_reviews") == (1, {"missing is_correct": 1}, {("qa_decision", "unknown qa_decision value"): 1})
    assert ds.tables["events"].row(0, named=True)["end"] is None  # a one-day event
    t = ds.tables["tickets"].row(0, named=True)
    assert (t["priority"], t["handle_seconds"], t["automated"]) == (None, None, None)


def test_only_rows_without_a_usable_id_or_creation_time_are_rejected(write):
    write(
        "src/tickets.csv",
        "ticket_id,created_at,closed_at,source\n"
        ",2025-03-01,,user_report\n"
        "b,,,user_report\n"
        "c,someday,,user_report\n"
        "d,9999-12-31,,user_report\n"
        "e,2025-03-01,1900-01-01,pigeon\n"
        "f,2025-03-01,,\n"
        "f,2025-03-02,,\n",
    )
    ds = load_dataset(write("src/.keep", "").parent)
    assert rejected(ds) == {
        "missing ticket_id": 1,
        "missing created_at": 1,
        "unparseable created_at": 1,
        "created_at out of range": 1,
        "duplicate ticket_id": 2,  # a row-level rule, as before
    }
    assert ds.tables["tickets"]["ticket_id"].to_list() == ["e"]
    assert quarantined(ds) == {("closed_at", "closed_at out of range"): 1, ("source", "unknown source value"): 1}


def test_data_health_and_scoped_users(tmp_path: Path):
    ds = load_dataset(write_source(tmp_path, SOURCES)[0])
    table = quarantined_fields(ds)
    assert table.select("table", "field", "reason", "rows").row(0) == ("tickets", "source", "unknown source value", 3)
    assert table["share_of_loaded"][0] == 3 / 5 and "row 1" in table["examples"][0]
    with_vendor = ds.tables["tickets"].with_columns(pl.lit("v1").alias("vendor"))
    scoped = scope(Dataset(ds.source, None, ds.signature, {"tickets": with_vendor}, ds.reports), "v1")
    report = scoped.reports["tickets"]
    assert report.quarantined == () and report.unknown_values == () and report.adjusted == ()
    assert quarantined_fields(scoped).is_empty()


@pytest.mark.usefixtures("app_env")
def test_data_health_page_shows_quarantined_values_the_block_to_map_them_and_the_time_zone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from tests.apptest import run

    src, mapping = write_source(
        tmp_path,
        SOURCES + "f,2025-03-09 02:30:00,user_report\n",  # skipped by Los Angeles' clocks that night
        mapping='[tickets]\ntimezone = "America/Los_Angeles"\n',
    )
    monkeypatch.setenv("BELLWETHER_SOURCE", str(src))
    monkeypatch.setenv("BELLWETHER_MAPPING", str(mapping))
    at = run("data-health", {"src": "extracts"})
    tables = at.dataframe[0].value
    assert tables["time_zone"].tolist() == ["America/Los_Angeles"]
    quarantined, adjusted = at.dataframe[1].value, at.dataframe[2].value  # no rejected rows: no table for them
    assert quarantined[["field", "reason", "rows"]].values.tolist() == [["source", "unknown source value", 3]]
    assert adjusted[["field", "rows"]].values.tolist() == [["created_at", 1]]
    (block,) = at.code
    assert block.value.startswith("[tickets.values.source]") and '"Call" = "?"  # 2 rows' in block.value
