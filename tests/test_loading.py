"""The loader: mapping, parsing, rejection reasons and clear errors for bad input."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from queries.errors import SourceError
from queries.sources.dataset import load_dataset
from queries.sources.files import locate_tables
from queries.sources.mapping import load_mapping
from queries.sources.scan import scan_files

GOOD = """
ticket_id,created_at,first_action_at,closed_at,source,priority
a1,2025-03-01 10:00:00,2025-03-01 10:05:00,2025-03-01 11:00:00,user_report,P1
a2,2025-03-01T23:30:00Z,2025-03-02T00:30:00+01:00,,proactive_model,P0
"""


def rejections(ds, table="tickets") -> dict[str, int]:
    return {r.reason: r.rows for r in ds.reports[table].rejections}


def quarantined(ds, table="tickets") -> dict[tuple[str, str], int]:
    return {(q.field, q.reason): q.rows for q in ds.reports[table].quarantined}


def test_directory_with_conventional_names_loads_in_contract_schema(write):
    write("src/tickets.csv", GOOD)
    ds = load_dataset(write("src/x.txt", "").parent)
    t = ds.tables["tickets"]
    assert t.columns[:4] == ["ticket_id", "created_at", "first_action_at", "closed_at"]
    assert t.schema["created_at"] == pl.Datetime("us")
    assert ds.reports["tickets"].rows_loaded == 2
    # +01:00 is converted to UTC: 00:30+01:00 == 23:30Z, the same instant as created_at
    assert t.filter(pl.col("ticket_id") == "a2")["first_action_at"][0] == dt.datetime(2025, 3, 1, 23, 30)
    assert "vendor" in ds.reports["tickets"].missing_fields
    assert t["vendor"].null_count() == 2  # absent optional fields are present as nulls


def test_bad_rows_are_rejected_bad_fields_quarantined_counted_and_exemplified(write):
    write(
        "src/tickets.csv",
        """
        ticket_id,created_at,first_action_at,closed_at,source,priority,handle_seconds,automated
        ok1,2025-03-01 10:00:00,2025-03-01 10:01:00,2025-03-01 10:02:00,user_report,P1,30,false
        b1,not a date,,,user_report,P1,30,false
        b2,2025-03-01 10:00:00,,2025-03-01 09:00:00,user_report,P1,30,false
        b3,2025-03-01 10:00:00,,,carrier pigeon,P1,30,false
        b4,2025-03-01 10:00:00,,,user_report,P1,-5,false
        b5,2025-03-01 10:00:00,,,user_report,P1,30,maybe
        dup,2025-03-01 10:00:00,,,user_report,P1,30,false
        dup,2025-03-01 11:00:00,,,user_report,P1,30,false
        ,2025-03-01 10:00:00,,,user_report,P1,30,false
        b6,2025-03-01 10:00:00,2025-03-01 09:59:00,,user_report,P1,30,false
        """,
    )
    ds = load_dataset(write("src/.keep", "").parent)
    assert ds.tables["tickets"]["ticket_id"].to_list() == ["ok1", "b2", "b3", "b4", "b5", "b6"]
    assert rejections(ds) == {"unparseable created_at": 1, "duplicate ticket_id": 2, "missing ticket_id": 1}
    assert quarantined(ds) == {
        ("closed_at", "closed before created"): 1,
        ("source", "unknown source value"): 1,
        ("handle_seconds", "handle_seconds out of range"): 1,
        ("automated", "unparseable automated"): 1,
        ("first_action_at", "first action before created"): 1,
    }
    report = ds.reports["tickets"]
    assert report.rows_read == 10 and report.rows_rejected == 4 and report.rows_loaded == 6
    example = next(r for r in report.rejections if r.reason == "unparseable created_at").examples[0]
    assert "tickets.csv row 2" in example and "'not a date'" in example
    closed = next(q for q in report.quarantined if q.field == "closed_at").examples[0]
    assert closed.endswith("row 3: ticket_id='b2', created_at='2025-03-01 10:00:00', closed_at='2025-03-01 09:00:00'")


def test_mapping_renames_parses_formats_and_maps_values(write):
    write(
        "exports/tickets_2025-03.csv",
        """
        number;opened_at;resolved_at;origin
        7;01/03/2025 10:00;01/03/2025 12:30;Report
        8;01/03/2025 11:00;?;Model
        """,
    )
    write("exports/tickets_2025-04.csv", "number;opened_at;resolved_at;origin\n9;02/04/2025 08:00;NULL;Model\n")
    mapping = write(
        "mapping.toml",
        """
        [tickets]
        path = "exports/tickets_*.csv"
        separator = ";"
        datetime_format = "%d/%m/%Y %H:%M"
        null_values = ["?", "NULL"]
        [tickets.columns]
        ticket_id = "number"
        created_at = "opened_at"
        closed_at = "resolved_at"
        source = "origin"
        [tickets.values.source]
        Report = "user_report"
        Model = "proactive_model"
        """,
    )
    ds = load_dataset(mapping.parent, mapping)
    t = ds.tables["tickets"].sort("ticket_id")
    assert t["ticket_id"].to_list() == ["7", "8", "9"]
    assert t["created_at"].to_list()[0] == dt.datetime(2025, 3, 1, 10, 0)
    assert t["closed_at"].to_list() == [dt.datetime(2025, 3, 1, 12, 30), None, None]
    assert t["source"].to_list() == ["user_report", "proactive_model", "proactive_model"]
    assert ds.reports["tickets"].rows_rejected == 0


def test_dedupe_by_keeps_the_last_snapshot_row_per_ticket(write):
    write(
        "src/tickets.csv",
        """
        ticket_id,created_at,closed_at,updated_at
        t1,2025-03-01 10:00:00,,2025-03-01 10:00:00
        t1,2025-03-01 10:00:00,2025-03-01 12:00:00,2025-03-01 12:00:00
        t2,2025-03-01 10:00:00,,2025-03-01 10:00:00
        t2,2025-03-01 10:00:00,2025-03-01 11:00:00,2025-03-01 10:00:00
        t3,2025-03-01 10:00:00,,2025-03-01 10:00:00
        """,
    )
    mapping = write("m.toml", '[tickets]\ndedupe_by = "updated_at"\n')
    ds = load_dataset(mapping.parent / "src", mapping)
    t = ds.tables["tickets"].sort("ticket_id")
    assert t["ticket_id"].to_list() == ["t1", "t2", "t3"]
    # t1: latest update wins; t2: a tie on updated_at keeps the last row in file order
    assert t["closed_at"].to_list() == [dt.datetime(2025, 3, 1, 12), dt.datetime(2025, 3, 1, 11), None]
    assert ds.reports["tickets"].rows_superseded == 2
    assert ds.reports["tickets"].rows_rejected == 0


def test_parquet_folder_with_hive_partitions_and_time_zones(tmp_path: Path):
    folder = tmp_path / "src" / "tickets"
    for month in ("2025-01", "2025-02"):
        (folder / f"month={month}").mkdir(parents=True)
        pl.DataFrame(
            {
                "ticket_id": [f"{month}-a", f"{month}-b"],
                "created_at": pl.Series(
                    [dt.datetime(2025, 1, 5, 12), dt.datetime(2025, 1, 6, 12)]
                ).dt.replace_time_zone("Europe/Berlin"),
            }
        ).write_parquet(folder / f"month={month}" / "part-0.parquet")
    ds = load_dataset(tmp_path / "src")
    t = ds.tables["tickets"]
    assert t.height == 4
    assert t["created_at"].min() == dt.datetime(2025, 1, 5, 11)  # 12:00 Berlin = 11:00 UTC
    assert "month" in ds.reports["tickets"].ignored_columns


@pytest.mark.parametrize(
    ("files", "mapping", "expected"),
    [
        (
            {"tickets.csv": "ticket_id,opened\n1,2025-01-01\n"},
            None,
            ["required field 'created_at'", "Columns found: ticket_id, opened", "[tickets.columns] created_at"],
        ),
        ({"tickets.csv": ""}, None, ["tickets.csv", "empty file"]),
        ({"tickets.xlsx": "PK"}, '[tickets]\npath = "tickets.xlsx"\n', ["tickets.xlsx", ".xlsx", ".parquet or .csv"]),
        ({"tickets.parquet": "this is not parquet at all"}, None, ["tickets.parquet", "as Parquet"]),
        ({"other.csv": "a\n1\n"}, None, ["No tickets table"]),
        ({"tickets.csv": "ticket_id,created_at\n1,2025-01-01\n"}, "[tikets]\n", ["[tikets]", "did you mean 'tickets'"]),
        (
            {"tickets.csv": "ticket_id,created_at\n1,2025-01-01\n"},
            '[tickets.columns]\ncreated_at = "opened_at"\n',
            ["'opened_at'", "Columns found: ticket_id, created_at"],
        ),
        ({"tickets.csv": "ticket_id,created_at\n1,2025-01-01\n"}, "[tickets\npath=", ["not valid TOML", "line"]),
        (
            {"tickets.csv": "ticket_id,created_at\n1,2025-01-01\n"},
            '[tickets.columns]\ncreatd_at = "x"\n',
            ["'creatd_at'", "did you mean 'created_at'"],
        ),
        (
            {"tickets.csv": "ticket_id,created_at\n1,2025-01-01\n"},
            '[tickets]\npath = "nothing/*.csv"\n',
            ["matches no file"],
        ),
    ],
    ids=[
        "missing-column",
        "empty-file",
        "wrong-file-type",
        "corrupt-parquet",
        "no-tickets",
        "unknown-table",
        "mapped-column-absent",
        "malformed-toml",
        "unknown-field",
        "path-matches-nothing",
    ],
)
def test_bad_input_gives_one_clear_message(tmp_path: Path, files, mapping, expected):
    src = tmp_path / "src"
    src.mkdir()
    for name, text in files.items():
        (src / name).write_text(text)
    mapping_file = None
    if mapping is not None:
        mapping_file = tmp_path / "mapping.toml"
        mapping_file.write_text(mapping)
    with pytest.raises(SourceError) as caught:
        load_dataset(src, mapping_file)
    message = str(caught.value)
    for fragment in expected:
        assert fragment in message
    assert "Fix:" in message


def test_wrong_typed_parquet_column_names_column_and_fix(tmp_path: Path):
    (tmp_path / "src").mkdir()
    pl.DataFrame({"ticket_id": ["1"], "created_at": [True]}).write_parquet(tmp_path / "src" / "tickets.parquet")
    with pytest.raises(
        SourceError, match=r"tickets\.created_at .* type Boolean.*Fix: Export created_at as a timestamp"
    ):
        load_dataset(tmp_path / "src")


def test_source_files_are_never_modified(write):
    path = write("src/tickets.csv", GOOD)
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    load_dataset(path.parent)
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before


def test_single_file_source_is_the_tickets_table(write):
    path = write("one_file.csv", GOOD)
    ds = load_dataset(path)
    assert ds.reports["tickets"].rows_loaded == 2


def test_parquet_exports_with_categoricals_nulls_nan_and_float_ids(tmp_path: Path):
    src = tmp_path / "src"
    src.mkdir()
    pl.DataFrame(
        {
            "ticket_id": [1.0, 2.0, 3.0, 4.0, 5.0],
            "created_at": [dt.datetime(2025, 1, 1, h) for h in range(5)],
            "closed_at": pl.Series([None] * 5, dtype=pl.Null),
            "source": pl.Series(
                ["Customer report", "Classifier", "", "Classifier", "Classifier"], dtype=pl.Categorical
            ),
            "handle_seconds": [10.0, float("nan"), 5.0, 7.0, 1.0],
            "views_before_action": [1.0, 2.0, float("inf"), 1e19, 3.0],
            "automated": [0, 1, 1, 0, 2],
        }
    ).write_parquet(src / "tickets.parquet")
    mapping = tmp_path / "m.toml"
    mapping.write_text('[tickets.values.source]\n"Customer report" = "user_report"\nClassifier = "proactive_model"\n')
    ds = load_dataset(src, mapping)
    t = ds.tables["tickets"]
    assert t["ticket_id"].to_list() == ["1", "2", "3", "4", "5"]  # whole-number float ids read as "1", not "1.0"
    assert t["source"].to_list() == ["user_report", "proactive_model", None, "proactive_model", "proactive_model"]
    assert rejections(ds) == {}
    assert quarantined(ds) == {
        ("handle_seconds", "unparseable handle_seconds"): 1,  # NaN
        ("views_before_action", "unparseable views_before_action"): 2,  # inf and a value beyond Int64
        ("automated", "unparseable automated"): 1,  # 2 is not a boolean
    }


def test_dedupe_keeps_the_latest_snapshot_and_quarantines_its_impossible_time(write):
    write(
        "src/tickets.csv",
        """
        ticket_id,created_at,closed_at,updated_at
        b,2025-03-01 10:00:00,,2025-03-01 10:00:00
        b,2025-03-01 10:00:00,2025-03-01 09:00:00,2025-03-01 12:00:00
        """,
    )
    mapping = write("m.toml", '[tickets]\ndedupe_by = "updated_at"\n')
    ds = load_dataset(mapping.parent / "src", mapping)
    assert ds.tables["tickets"].select("ticket_id", "closed_at", "closed_unknown").rows() == [("b", None, True)]
    assert rejections(ds) == {} and quarantined(ds) == {("closed_at", "closed before created"): 1}
    assert ds.reports["tickets"].rows_superseded == 1


def test_lenient_headers_and_iso_variants(write):
    write("src/tickets.csv", " Ticket_ID , created_at \nx,2024-01-01T10:00Z\ny,2024-01-01T10:00+02:00\n")
    ds = load_dataset(write("src/.k", "").parent)
    assert ds.tables["tickets"]["created_at"].to_list() == [dt.datetime(2024, 1, 1, 10), dt.datetime(2024, 1, 1, 8)]


def test_the_partition_check_reads_each_version_of_a_file_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    folder = tmp_path / "src" / "tickets"
    for vendor in ("A", "B"):
        (folder / f"vendor={vendor}").mkdir(parents=True)
        frame = pl.DataFrame({"ticket_id": [f"{vendor}1"], "created_at": [dt.datetime(2025, 1, 1)], "vendor": [vendor]})
        frame.write_parquet(folder / f"vendor={vendor}" / "p.parquet")
    schemas_read: list[Path] = []
    real = pl.read_parquet_schema
    monkeypatch.setattr(pl, "read_parquet_schema", lambda path: schemas_read.append(Path(path)) or real(path))
    mapping = load_mapping(None)
    files = locate_tables(tmp_path / "src", mapping)["tickets"]
    for _ in range(3):  # every rollup batch and every exact-rows read at query time scans the files again
        scan_files(files, mapping.table("tickets"))
    assert sorted(schemas_read) == sorted(files.paths)
    # A file written again (new size and modification time) is checked again.
    pl.DataFrame(
        {"ticket_id": ["B1", "B2"], "created_at": [dt.datetime(2025, 1, 1)] * 2, "vendor": ["B", "C"]}
    ).write_parquet(folder / "vendor=B" / "p.parquet")
    with pytest.raises(SourceError, match=r"tickets lies in a vendor= partition folder"):
        scan_files(locate_tables(tmp_path / "src", mapping)["tickets"], mapping.table("tickets"))
