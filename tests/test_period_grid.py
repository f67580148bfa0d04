"""Every period of the range is present in daily/weekly series, with 0 tickets, on every engine.

A small hand-made source with empty days (and a whole empty week) is summarised by the rows engine, a
SQLite warehouse and the rollups, and compared with plain loops over the days.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from queries.cli import main
from queries.engines import Source
from queries.engines.rollups.source import open_rolled_up
from queries.filters import Filters
from queries.metrics import summarize
from queries.sources.dataset import load_dataset
from queries.sources.warehouse import connect_warehouse
from queries.sources.warehouse_load import load_warehouse

# Tickets on Mon 2 March, Tue 3, Thu 5 (DE only), then none until Tue 17 March (FR only); 4, 6–16 March are empty.
TICKETS = [
    ("1", "2026-03-02 10:00:00", "2026-03-02 10:30:00", "DE"),
    ("2", "2026-03-02 11:00:00", "2026-03-02 13:00:00", "FR"),
    ("3", "2026-03-03 09:00:00", None, "DE"),
    ("4", "2026-03-05 22:00:00", "2026-03-06 01:00:00", "DE"),
    ("5", "2026-03-17 08:00:00", "2026-03-17 08:05:00", "FR"),
    ("6", "2026-03-17 09:00:00", "2026-03-17 12:00:00", "FR"),
]
RANGE = Filters(dt.date(2026, 3, 1), dt.date(2026, 3, 20))  # a Sunday to a Friday: partial first and last weeks


@pytest.fixture(scope="module")
def extracts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("grid") / "extracts"
    src.mkdir()
    lines = [
        "ticket_id,created_at,first_action_at,closed_at,market,vendor,source,decision,appealed,appeal_overturned,"
        "automated,handle_seconds,views_before_action"
    ]
    for ticket_id, created, acted, market in TICKETS:
        done = acted or ""
        lines.append(f"{ticket_id},{created},{done},{done},{market},v1,user_report,violating,true,false,false,60,3")
    (src / "tickets.csv").write_text("\n".join(lines) + "\n")
    (src / "qa_reviews.csv").write_text(
        "ticket_id,reviewed_at,is_correct\n1,2026-03-03 10:00:00,true\n5,2026-03-18 10:00:00,false\n"
    )
    days = [dt.date(2026, 2, 20) + dt.timedelta(days=d) for d in range(40)]
    (src / "platform_metrics.csv").write_text(
        "date,market,dau\n" + "".join(f"{d},{m},{1000 * (1 + i)}\n" for i, d in enumerate(days) for m in ("DE", "FR"))
    )
    (src / "staffing.csv").write_text(
        "date,vendor,productive_hours\n" + "".join(f"{d},v1,8\n" for d in days if d.weekday() < 5)
    )
    return src


@pytest.fixture(scope="module", params=["rows", "sqlite", "rollups"])
def engine(
    request: pytest.FixtureRequest, extracts: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Source]:
    if request.param == "rows":
        yield load_dataset(extracts)
    elif request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('grid_db') / 'grid.db'}"
        load_warehouse(extracts, url)
        yield connect_warehouse(url)
    else:
        with pytest.MonkeyPatch.context() as mp:  # the rollup cache goes under the data dir: a temporary one
            mp.setenv("BELLWETHER_DATA_DIR", str(tmp_path_factory.mktemp("grid_cache")))
            yield open_rolled_up(extracts)


def period_start(day: dt.date, period: str) -> dt.date:
    if period == "day":
        return day
    if period == "week":
        return day - dt.timedelta(days=day.weekday())
    return day.replace(day=1)


def expected_counts(filters: Filters, by_market: bool, period: str) -> dict[tuple, int]:
    """Tickets per (market,) period from a plain loop over every day of the range, zeros included."""
    markets = (
        sorted(
            {
                m
                for _, created, _, m in TICKETS
                if filters.start_at <= dt.datetime.fromisoformat(created) < filters.end_before
            }
        )
        if by_market
        else [None]
    )
    counts: dict[tuple, int] = {}
    day = filters.start
    while day <= filters.end:
        for market in markets:
            counts.setdefault((market, period_start(day, period)), 0)
        day += dt.timedelta(days=1)
    for _, created, _, market in TICKETS:
        at = dt.datetime.fromisoformat(created)
        if filters.start_at <= at < filters.end_before:
            counts[(market if by_market else None, period_start(at.date(), period))] += 1
    return counts


@pytest.mark.parametrize("period", ["day", "week", "month"])
@pytest.mark.parametrize("by_market", [False, True])
def test_every_period_is_present_with_zero_tickets(engine: Source, period: str, by_market: bool):
    by = ["market"] if by_market else []
    out = summarize(engine, "volume", RANGE, by=by, period=period)
    got = {(r["market"] if by_market else None, r["period"]): r["tickets"] for r in out.to_dicts()}
    assert got == expected_counts(RANGE, by_market, period)
    if period == "day":
        assert out.height == RANGE.days * (2 if by_market else 1)  # 20 days, each market
    assert out["tickets"].dtype == pl.Int64 and out.columns == [*by, "period", "tickets"]


def test_a_range_without_tickets_is_all_zeros_and_measures_are_null_there(engine: Source):
    empty = Filters(dt.date(2026, 3, 7), dt.date(2026, 3, 13))
    volume = summarize(engine, "volume", empty, period="day")
    assert volume["period"].to_list() == [empty.start + dt.timedelta(days=d) for d in range(7)]
    assert volume["tickets"].to_list() == [0] * 7
    turnaround = summarize(engine, "time_to_first_action", RANGE, period="day").filter(
        pl.col("period") == dt.date(2026, 3, 4)
    )
    assert turnaround.select("tickets", "measured").row(0) == (0, 0)
    assert turnaround.select("p50_hours", "p90_hours", "mean_hours").row(0) == (None, None, None)  # not 0 hours


def test_per_million_dau_is_zero_on_a_day_without_tickets(engine: Source):
    out = summarize(engine, "per_million_dau", RANGE, by=["market"], period="day")
    day = out.filter((pl.col("market") == "DE") & (pl.col("period") == dt.date(2026, 3, 4))).row(0, named=True)
    assert day["tickets"] == 0 and day["dau_days"] == 1000 * 13 and day["tickets_per_million_dau"] == 0.0


def test_cli_summarize_by_day_lists_the_empty_days(extracts: Path, capsys: pytest.CaptureFixture[str]):
    args = ["summarize", "--source", str(extracts), "--metric", "volume", "--period", "day"]
    main([*args, "--start", "2026-03-02", "--end", "2026-03-08", "--format", "json"])
    rows = json.loads(capsys.readouterr().out)
    assert [(r["period"], r["tickets"]) for r in rows] == [
        ("2026-03-02", 2),
        ("2026-03-03", 1),
        ("2026-03-04", 0),
        ("2026-03-05", 1),
        ("2026-03-06", 0),
        ("2026-03-07", 0),
        ("2026-03-08", 0),
    ]


def test_trend_lines_and_forecast_history_do_not_join_across_empty_days(extracts: Path):
    from forecasting.history import ticket_series
    from queries.analyses.trends import volume_over_time

    ds = load_dataset(extracts)
    lines = volume_over_time(ds, RANGE, "market", "day")
    assert lines.height == 2 * RANGE.days
    empty_day = lines.filter(pl.col("period") == dt.date(2026, 3, 4))
    assert empty_day["tickets"].to_list() == [0, 0] and empty_day["share"].to_list() == [None, None]  # not NaN
    history = ticket_series(ds, filters=Filters(dt.date(2026, 2, 28), dt.date(2026, 3, 18), market=("FR",)))
    # From FR's first ticket (2 March, not the window's 28 February: no leading zeros) to the end, every day.
    assert history["ds"].to_list() == [dt.date(2026, 3, 2) + dt.timedelta(days=d) for d in range(17)]
    per_day = defaultdict(int)
    for _, created, _, market in TICKETS:
        if market == "FR":
            per_day[dt.date.fromisoformat(created[:10])] += 1
    assert history["y"].to_list() == [float(per_day[d]) for d in history["ds"].to_list()]
