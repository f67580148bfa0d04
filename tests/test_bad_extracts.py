"""A corpus of bad extracts: each one gives a clear message or counted rejections, never a crash."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from queries.dataset import load_dataset
from queries.errors import SourceError


def good_parquet(path: Path) -> None:
    pl.DataFrame(
        {"ticket_id": [f"t{i}" for i in range(500)], "created_at": [dt.datetime(2025, 1, 1)] * 500}
    ).write_parquet(path)


def test_truncated_parquet_names_the_file(tmp_path: Path):
    good_parquet(tmp_path / "full.parquet")
    data = (tmp_path / "full.parquet").read_bytes()
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "tickets.parquet").write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceError, match=r"tickets\.parquet.*as Parquet.*Fix: .*re-export"):
        load_dataset(tmp_path / "src")


def test_latin1_csv_says_utf8_and_lossy_mode_loads_it(tmp_path: Path):
    (tmp_path / "tickets.csv").write_bytes("ticket_id,created_at,market\n1,2025-01-01,Curaçao\n".encode("latin-1"))
    with pytest.raises(SourceError, match=r"tickets\.csv.*UTF-8.*utf8-lossy"):
        load_dataset(tmp_path)
    mapping = tmp_path / "m.toml"
    mapping.write_text('[tickets]\nencoding = "utf8-lossy"\n')
    ds = load_dataset(tmp_path, mapping)
    assert ds.tables["tickets"]["market"][0].startswith("Cura")


def test_mixed_time_zones_are_converted_to_utc(tmp_path: Path):
    (tmp_path / "tickets.csv").write_text(
        "ticket_id,created_at\na,2025-03-30 01:30:00+01:00\nb,2025-03-30T02:30:00+02:00\nc,2025-03-30T00:30:00Z\n"
    )
    t = load_dataset(tmp_path).tables["tickets"]
    assert t["created_at"].to_list() == [dt.datetime(2025, 3, 30, 0, 30)] * 3


def test_huge_strings_and_formula_cells_load_as_text(tmp_path: Path):
    huge = "x" * 200_000
    (tmp_path / "tickets.csv").write_text(
        f'ticket_id,created_at,queue,market\n1,2025-01-01,{huge},"=HYPERLINK(""http://x"",""y"")"\n'
    )
    t = load_dataset(tmp_path).tables["tickets"]
    assert len(t["queue"][0]) == 200_000 and t["market"][0].startswith("=HYPERLINK")


def test_header_only_csv_loads_zero_rows_and_validate_says_unusable(tmp_path: Path):
    (tmp_path / "tickets.csv").write_text("ticket_id,created_at\n")
    ds = load_dataset(tmp_path)
    assert ds.reports["tickets"].rows_read == 0 and ds.tables["tickets"].is_empty()


def test_ragged_csv_row_is_reported_with_the_file(tmp_path: Path):
    (tmp_path / "tickets.csv").write_text("ticket_id,created_at\n1,2025-01-01\n2,2025-01-01,extra,fields\n")
    try:
        ds = load_dataset(tmp_path)
    except SourceError as exc:
        assert "tickets.csv" in str(exc) and "Fix:" in str(exc)
    else:  # read leniently: then the row must be accounted for
        report = ds.reports["tickets"]
        assert report.rows_loaded + report.rows_rejected == report.rows_read == 2


def test_wrong_types_in_parquet_booleans_and_dates(tmp_path: Path):
    pl.DataFrame(
        {"ticket_id": ["1", "2"], "created_at": ["2025-01-01", "tomorrow"], "appealed": ["yes", "perhaps"]}
    ).write_parquet(tmp_path / "tickets.parquet")
    ds = load_dataset(tmp_path)
    assert {r.reason: r.rows for r in ds.reports["tickets"].rejections} == {"unparseable created_at": 1}
    assert ds.tables["tickets"]["appealed"].to_list() == [True]
