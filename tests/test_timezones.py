"""Time zones: wall-clock times read in the table's `timezone`, across DST changes; offsets, zone names and
abbreviations in the values converted to UTC (or refused when ambiguous) — on both paths (rows and rollups)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from queries.analyses.health import table_health, time_adjustments
from queries.engines.rollups.source import open_rolled_up
from queries.errors import SourceError
from queries.sources.dataset import load_dataset

LA = "America/Los_Angeles"
# Wall-clock times in Los Angeles around 2025's two DST changes (9 March: 02:00 → 03:00; 2 November: 02:00 → 01:00).
LOCAL = [
    "2025-03-08 10:00:00",  # PST
    "2025-03-09 01:59:00",  # PST, just before the gap
    "2025-03-09 02:30:00",  # does not exist: read with the offset before the gap (shifted forward)
    "2025-03-09 03:00:00",  # PDT
    "2025-11-02 00:30:00",  # PDT
    "2025-11-02 01:30:00",  # happens twice: the earlier instant (PDT)
    "2025-11-02 02:30:00",  # PST
]


def utc(local: str, zone: str = LA) -> dt.datetime:
    """The instant as Python's zoneinfo reads a wall-clock time (fold=0: the offset before a change)."""
    aware = dt.datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(zone))
    return aware.astimezone(dt.UTC).replace(tzinfo=None)


@pytest.fixture(params=["rows", "rollups"])
def read(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """load_dataset or open_rolled_up (its rollup cache in a temporary data folder)."""
    monkeypatch.setenv("BELLWETHER_DATA_DIR", str(tmp_path / "data"))
    return load_dataset if request.param == "rows" else open_rolled_up


def source(tmp_path: Path, csv: str, mapping: str | None) -> tuple[Path, Path | None]:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "tickets.csv").write_text(csv)
    if mapping is None:
        return tmp_path / "src", None
    (tmp_path / "m.toml").write_text(mapping)
    return tmp_path / "src", tmp_path / "m.toml"


def local_csv() -> str:
    return "ticket_id,created_at\n" + "".join(f"t{i},{t}\n" for i, t in enumerate(LOCAL))


def adjusted(ds) -> dict[tuple[str, str], int]:
    return {(a.field, a.reason): a.rows for a in ds.reports["tickets"].adjusted}


def test_wall_clock_times_across_dst_changes_are_converted_to_utc(tmp_path: Path):
    src, mapping = source(tmp_path, local_csv(), f'[tickets]\ntimezone = "{LA}"\n')
    ds = load_dataset(src, mapping)
    assert ds.tables["tickets"]["created_at"].to_list() == [utc(t) for t in LOCAL]
    assert utc("2025-03-09 02:30:00") == dt.datetime(2025, 3, 9, 10, 30)  # 03:30 PDT
    assert utc("2025-11-02 01:30:00") == dt.datetime(2025, 11, 2, 8, 30)  # 01:30 PDT, not PST
    report = ds.reports["tickets"]
    assert report.timezone == LA and report.rows_loaded == len(LOCAL)
    examples = {a.reason: a.examples for a in report.adjusted}
    assert adjusted(ds) == {
        ("created_at", "nonexistent local time (DST gap): shifted forward"): 1,
        ("created_at", "ambiguous local time (DST overlap): earlier instant"): 1,
    }
    assert (
        "tickets.csv row 3: ticket_id='t2', created_at='2025-03-09 02:30:00'"
        in examples["nonexistent local time (DST gap): shifted forward"][0]
    )


def test_dst_adjustments_are_counted_on_both_paths(tmp_path: Path, read):
    src, mapping = source(tmp_path, local_csv(), f'[tickets]\ntimezone = "{LA}"\n')
    ds = read(src, mapping)
    assert ds.reports["tickets"].rows_loaded == len(LOCAL)
    assert sorted(adjusted(ds).values()) == [1, 1]
    health = time_adjustments(ds)
    assert health["rows"].sum() == 2 and set(health["field"]) == {"created_at"}


def test_without_a_timezone_naive_times_stay_utc_and_data_health_says_so(tmp_path: Path):
    src, _ = source(tmp_path, local_csv(), None)
    ds = load_dataset(src)
    assert ds.tables["tickets"]["created_at"].to_list() == [dt.datetime.fromisoformat(t) for t in LOCAL]
    assert ds.reports["tickets"].timezone is None
    health = table_health(ds, now=dt.datetime(2026, 1, 1))
    assert health["time_zone"].to_list() == ["no time zone given: read as UTC"]


def test_typed_naive_parquet_times_are_read_in_the_timezone_on_both_paths(tmp_path: Path, read):
    (tmp_path / "src").mkdir()
    created = [dt.datetime.fromisoformat(t) for t in LOCAL]
    pl.DataFrame({"ticket_id": [f"t{i}" for i in range(len(LOCAL))], "created_at": created}).write_parquet(
        tmp_path / "src" / "tickets.parquet"
    )
    (tmp_path / "m.toml").write_text(f'[tickets]\ntimezone = "{LA}"\n')
    ds = read(tmp_path / "src", tmp_path / "m.toml")
    assert ds.reports["tickets"].as_of == max(utc(t) for t in LOCAL)
    assert sorted(adjusted(ds).values()) == [1, 1]


def test_offsets_and_a_trailing_utc_win_over_the_timezone(tmp_path: Path):
    csv = (
        "ticket_id,created_at\n"
        "a,2025-03-01T10:00:00+02:00\n"
        "b,2025-03-01 10:00:00 UTC\n"
        "c,2025-03-01T10:00:00Z\n"
        "d,2025-03-01 10:00:00\n"
    )
    src, mapping = source(tmp_path, csv, f'[tickets]\ntimezone = "{LA}"\n')
    got = load_dataset(src, mapping).tables["tickets"]["created_at"].to_list()
    assert got == [
        dt.datetime(2025, 3, 1, 8),
        dt.datetime(2025, 3, 1, 10),
        dt.datetime(2025, 3, 1, 10),
        dt.datetime(2025, 3, 1, 18),  # 10:00 PST
    ]


def test_an_offset_in_a_strftime_format_wins_over_the_timezone_on_both_paths(tmp_path: Path, read):
    csv = "ticket_id,created_at\na,01/03/2025 10:00 +0200\nb,01/03/2025 10:00 -0500\nc,01/03/2025 10:00 +0000\n"
    mapping = f'[tickets]\ndatetime_format = "%d/%m/%Y %H:%M %z"\ntimezone = "{LA}"\n'
    src, mapping_file = source(tmp_path, csv, mapping)
    rows = load_dataset(src, mapping_file).tables["tickets"]
    assert rows["created_at"].to_list() == [
        dt.datetime(2025, 3, 1, 8),
        dt.datetime(2025, 3, 1, 15),
        dt.datetime(2025, 3, 1, 10),
    ]
    ds = read(src, mapping_file)
    assert ds.reports["tickets"].rows_loaded == 3 and ds.reports["tickets"].as_of == dt.datetime(2025, 3, 1, 15)


def test_a_trailing_utc_parses_with_the_default_format(tmp_path: Path):
    src, _ = source(tmp_path, "ticket_id,created_at\na,2025-03-01 10:00:00 UTC\nb,2025-03-01T10:00 UTC\n", None)
    ds = load_dataset(src)
    assert ds.reports["tickets"].rows_rejected == 0
    assert ds.tables["tickets"]["created_at"].to_list() == [dt.datetime(2025, 3, 1, 10)] * 2


def test_zone_names_and_abbreviations_in_the_values_are_converted(tmp_path: Path, read):
    csv = (
        "ticket_id,created_at\n"
        "cet,2025-01-15 12:00:00 CET\n"
        "utc,2025-01-15 12:00:00 UTC\n"
        "est,2025-01-15 12:00:00 EST\n"
        "cest,2025-07-15 12:00:00 CEST\n"
        "berlin,2025-07-15 12:00:00 Europe/Berlin\n"
        "la,2025-07-15 12:00:00 America/Los_Angeles\n"
    )
    src, mapping = source(tmp_path, csv, '[tickets]\ndatetime_format = "%Y-%m-%d %H:%M:%S %Z"\n')
    ds = load_dataset(src, mapping)
    got = dict(ds.tables["tickets"].select("ticket_id", "created_at").iter_rows())
    assert got == {
        "cet": dt.datetime(2025, 1, 15, 11),
        "utc": dt.datetime(2025, 1, 15, 12),
        "est": dt.datetime(2025, 1, 15, 17),
        "cest": dt.datetime(2025, 7, 15, 10),
        "berlin": dt.datetime(2025, 7, 15, 10),
        "la": dt.datetime(2025, 7, 15, 19),
    }
    assert read(src, mapping).reports["tickets"].rows_loaded == 6


def test_an_ambiguous_abbreviation_is_refused_naming_the_column_and_the_setting(tmp_path: Path, read):
    csv = "ticket_id,opened\na,2025-01-15 12:00:00 UTC\nb,2025-01-15 12:00:00 IST\n"
    mapping = '[tickets]\ndatetime_format = "%Y-%m-%d %H:%M:%S %Z"\n[tickets.columns]\ncreated_at = "opened"\n'
    src, mapping_file = source(tmp_path, csv, mapping)
    with pytest.raises(SourceError) as caught:
        read(src, mapping_file)
    error = caught.value
    assert "'opened'" in error.problem and "created_at" in error.problem
    assert "timezone =" in error.fix
    assert "IST" in str(error) and "IST" not in error.message(with_rows=False)  # a value: only in the quote
    mapping_file.write_text(mapping.replace("[tickets]\n", '[tickets]\ntimezone = "Asia/Kolkata"\n'))
    ds = load_dataset(src, mapping_file)
    assert ds.tables["tickets"]["created_at"].to_list() == [
        dt.datetime(2025, 1, 15, 12),
        dt.datetime(2025, 1, 15, 6, 30),
    ]


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (
            'timezone = "America/Los_Angelos"',
            r"timezone = 'America/Los_Angelos' is not a time zone.*America/Los_Angeles",
        ),
        ("timezone = 5", r"timezone must be a string"),
        ('datetime_format = "%Z %Y-%m-%d"', r"%Z .*at the end"),
    ],
)
def test_bad_time_zone_settings_are_mapping_errors(tmp_path: Path, setting: str, message: str):
    src, mapping = source(tmp_path, "ticket_id,created_at\na,2025-01-01\n", f"[tickets]\n{setting}\n")
    with pytest.raises(SourceError, match=message + ".*Fix:"):
        load_dataset(src, mapping)
