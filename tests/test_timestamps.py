"""Timestamps in other shapes: epoch numbers, a format per field, a time split over two columns — on both paths."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from queries.engines.rollups.source import open_rolled_up
from queries.errors import SourceError
from queries.filters import Filters
from queries.metrics import data_as_of, summarize
from queries.sources.dataset import Dataset, load_dataset

EPOCH = dt.datetime(1970, 1, 1)


@pytest.fixture(params=["rows", "rollups"])
def read(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """load_dataset or open_rolled_up (its rollup cache in a temporary data folder)."""
    monkeypatch.setenv("BELLWETHER_DATA_DIR", str(tmp_path / "data"))
    return load_dataset if request.param == "rows" else open_rolled_up


def source(tmp_path: Path, csv: str, mapping: str | None = None) -> tuple[Path, Path | None]:
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "src" / "tickets.csv").write_text(csv)
    if mapping is None:
        return tmp_path / "src", None
    (tmp_path / "m.toml").write_text(mapping)
    return tmp_path / "src", tmp_path / "m.toml"


def counts(ds) -> tuple[int, dict[str, int], dict[tuple[str, str], int]]:
    """Rows loaded, rejected rows by reason and quarantined values by (field, reason) of the tickets table."""
    report = ds.reports["tickets"]
    rejected = {r.reason: r.rows for r in report.rejections}
    return report.rows_loaded, rejected, {(q.field, q.reason): q.rows for q in report.quarantined}


def hours_to_close(ds) -> float:
    out = summarize(ds, "time_to_close", Filters(dt.date(2024, 1, 1), dt.date(2025, 12, 31)))
    return out["mean_hours"][0]


def test_epoch_milliseconds_and_seconds_per_field(tmp_path: Path, read):
    created = dt.datetime(2025, 1, 1, 10, 0, 0, 123000)
    ms = int((created - EPOCH).total_seconds() * 1000)
    s = int((created + dt.timedelta(hours=2) - EPOCH).total_seconds())
    src, mapping = source(
        tmp_path,
        f"ticket_id,created_at,closed_at\na,{ms},{s}\nb,{ms},\n",
        '[tickets.datetime_formats]\ncreated_at = "epoch_ms"\nclosed_at = "epoch_s"\n',
    )
    ds = load_dataset(src, mapping)
    assert ds.tables["tickets"]["created_at"].to_list() == [created, created]
    assert ds.tables["tickets"]["closed_at"].to_list() == [created.replace(microsecond=0) + dt.timedelta(hours=2), None]
    both = read(src, mapping)
    assert counts(both) == (2, {}, {})
    assert hours_to_close(both) == pytest.approx(2 - 0.123 / 3600)


def test_epoch_numbers_typed_in_parquet_on_both_paths(tmp_path: Path, read):
    (tmp_path / "src").mkdir()
    pl.DataFrame(
        {
            "ticket_id": ["a", "b"],
            "created_at": [1_735_725_600_000_000, 1_735_729_200_000_000],  # microseconds: 10:00 and 11:00
            "closed_at": [1_735_736_400.5, None],  # seconds with a fraction: 13:00:00.5
        }
    ).write_parquet(tmp_path / "src" / "tickets.parquet")
    (tmp_path / "m.toml").write_text('[tickets.datetime_formats]\ncreated_at = "epoch_us"\nclosed_at = "epoch_s"\n')
    ds = read(tmp_path / "src", tmp_path / "m.toml")
    assert counts(ds) == (2, {}, {})
    assert ds.reports["tickets"].as_of == dt.datetime(2025, 1, 1, 13, 0, 0, 500000)
    assert hours_to_close(ds) == pytest.approx(3 + 0.5 / 3600)


def test_epoch_values_out_of_range_are_rejected_and_counted_never_a_crash(tmp_path: Path, read):
    csv = (
        "ticket_id,created_at,closed_at\n"
        "ok,1735725600000,1735729200000\n"
        "us-as-ms,1735725600000000,\n"  # microseconds read as milliseconds: the year 56970
        "huge,1e30,\n"
        "zero,0,\n"  # Unix time 0: a placeholder
        "text,soon,\n"
        "closed-far,1735725600000,99999999999999999\n"
    )
    src, mapping = source(
        tmp_path, csv, '[tickets.datetime_formats]\ncreated_at = "epoch_ms"\nclosed_at = "epoch_ms"\n'
    )
    ds = read(src, mapping)
    assert counts(ds) == (
        2,
        {"created_at out of range": 3, "unparseable created_at": 1},
        {("closed_at", "closed_at out of range"): 1},
    )
    assert ds.reports["tickets"].as_of == dt.datetime(2025, 1, 1, 11)
    if isinstance(ds, Dataset):
        assert data_as_of(ds) == dt.datetime(2025, 1, 1, 11)


@pytest.mark.parametrize(
    ("value", "unit"), [("1735725600", "epoch_s"), ("1735725600000", "epoch_ms"), ("1735725600000000", "epoch_us")]
)
def test_numbers_without_an_epoch_format_get_a_reason_that_suggests_the_setting(tmp_path: Path, value, unit):
    src, _ = source(tmp_path, f"ticket_id,created_at,closed_at\na,{value},{value}\nb,2025-01-01,{value}\n")
    rejected = counts(load_dataset(src))
    assert rejected[1] == {
        f'unparseable created_at (a number: set [tickets.datetime_formats] created_at = "{unit}")': 1
    }
    assert rejected[2] == {
        ("closed_at", f'unparseable closed_at (a number: set [tickets.datetime_formats] closed_at = "{unit}")'): 1
    }


def test_a_numeric_parquet_column_without_a_format_gets_the_same_reason(tmp_path: Path, read):
    (tmp_path / "src").mkdir()
    pl.DataFrame({"ticket_id": ["1", "2"], "created_at": [1735689600, 7]}).write_parquet(
        tmp_path / "src" / "tickets.parquet"
    )
    loaded, rejected, _ = counts(read(tmp_path / "src"))
    assert loaded == 0
    assert rejected == {
        'unparseable created_at (a number: set [tickets.datetime_formats] created_at = "epoch_s")': 1,
        "unparseable created_at": 1,
    }


def test_a_format_per_field_overrides_the_tables_format(tmp_path: Path, read):
    csv = (
        "ticket_id,created_at,closed_at,first_action_at\n"
        "a,12/31/2017 11:59:58 PM,2018-01-01T00:30:00,12/31/2017 11:59:59 PM\n"
        "b,01/01/2018 01:00:00 AM,2018-01-01 02:00:00+01:00,\n"
    )
    mapping = '[tickets]\ndatetime_format = "%m/%d/%Y %I:%M:%S %p"\n[tickets.datetime_formats]\nclosed_at = "iso"\n'
    src, mapping_file = source(tmp_path, csv, mapping)
    t = load_dataset(src, mapping_file).tables["tickets"]
    assert t["created_at"].to_list() == [dt.datetime(2017, 12, 31, 23, 59, 58), dt.datetime(2018, 1, 1, 1)]
    assert t["closed_at"].to_list() == [dt.datetime(2018, 1, 1, 0, 30), dt.datetime(2018, 1, 1, 1)]
    assert t["first_action_at"].to_list() == [dt.datetime(2017, 12, 31, 23, 59, 59), None]
    assert counts(read(src, mapping_file)) == (2, {}, {})


def test_a_timestamp_split_over_two_columns_is_joined_before_parsing(tmp_path: Path, read):
    csv = (
        "id,opened,fa_date,fa_time,note\n"
        "a,2025-03-01 10:00:00,03/01/2025,10:15,x\n"
        "b,2025-03-01 11:00:00,03/01/2025,,y\n"  # a date without its time cannot be read with this format
        "c,2025-03-01 12:00:00,,,z\n"  # no first action
    )
    mapping = (
        '[tickets.columns]\nticket_id = "id"\ncreated_at = "opened"\nfirst_action_at = ["fa_date", "fa_time"]\n'
        '[tickets.datetime_formats]\nfirst_action_at = "%m/%d/%Y %H:%M"\n'
    )
    src, mapping_file = source(tmp_path, csv, mapping)
    ds = load_dataset(src, mapping_file)
    assert ds.tables["tickets"]["first_action_at"].to_list() == [dt.datetime(2025, 3, 1, 10, 15), None, None]
    report = ds.reports["tickets"]
    assert report.ignored_columns == ("note",)
    (quarantine,) = report.quarantined
    assert (quarantine.field, quarantine.reason, quarantine.rows) == (
        "first_action_at",
        "unparseable first_action_at",
        1,
    )
    assert "first_action_at='03/01/2025'" in quarantine.examples[0]
    assert counts(read(src, mapping_file)) == (3, {}, {("first_action_at", "unparseable first_action_at"): 1})


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ('[tickets.columns]\nfirst_action_at = ["fa_date", "nope"]\n', r"has no column 'nope'.*Columns found"),
        ('[tickets.columns]\nqueue = ["fa_date", "fa_time"]\n', r"queue is not a timestamp"),
        ('[tickets.columns]\nfirst_action_at = ["fa_date"]\n', r"two columns"),
        ('[tickets.datetime_formats]\nqueue = "epoch_s"\n', r"queue.*not a timestamp"),
        ('[tickets.datetime_formats]\nclosed_at = "epoch_ns"\n', r"'epoch_ns' is neither a format nor an epoch unit"),
        ('[tickets.datetime_formats]\nclosed_at = "%Q"\n', r"not a date or time directive"),
    ],
)
def test_bad_timestamp_settings_are_mapping_errors(tmp_path: Path, mapping: str, message: str):
    src, mapping_file = source(tmp_path, "ticket_id,created_at,fa_date,fa_time\na,2025-01-01,,\n", mapping)
    with pytest.raises(SourceError, match=message + ".*Fix:"):
        load_dataset(src, mapping_file)
