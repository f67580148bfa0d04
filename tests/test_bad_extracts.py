"""A corpus of bad extracts: each one gives a clear message or counted rejections, never a crash."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from queries.engines import created_days
from queries.engines.rollups.source import open_rolled_up, ticket_rows
from queries.errors import SourceError
from queries.filters import Filters
from queries.metrics import data_as_of, summarize
from queries.sources.dataset import Dataset, load_dataset


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


# ---------------------------------------------------------------------------------------------------------------
# The same bad inputs through both paths: ticket rows in memory (load_dataset) and large extracts served from
# rollups (open_rolled_up, which has its own lean read of typed Parquet). Each gives the same clear message, or
# the same counts.


@pytest.fixture(params=["rows", "rollups"])
def read(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """load_dataset or open_rolled_up (its rollup cache in a temporary data folder)."""
    monkeypatch.setenv("BELLWETHER_DATA_DIR", str(tmp_path / "data"))
    return load_dataset if request.param == "rows" else open_rolled_up


def counts(ds) -> tuple[int, int, dict[str, int]]:
    """Rows read, rows loaded and rejected rows by reason of the tickets table."""
    report = ds.reports["tickets"]
    return report.rows_read, report.rows_loaded, {r.reason: r.rows for r in report.rejections}


def quarantined(ds) -> dict[tuple[str, str], int]:
    """Values of the tickets table set to null (the rows kept) by field and reason."""
    return {(q.field, q.reason): q.rows for q in ds.reports["tickets"].quarantined}


def tickets(rows: int, **columns) -> pl.DataFrame:
    return pl.DataFrame(
        {"ticket_id": [f"t{i}" for i in range(rows)], "created_at": [dt.datetime(2025, 1, 1, 10)] * rows, **columns}
    )


def write_as(frame: pl.DataFrame, src: Path, fmt: str) -> None:
    """The frame as src/tickets.csv or src/tickets.parquet."""
    if fmt == "csv":
        frame.write_csv(src / "tickets.csv")
    else:
        frame.write_parquet(src / "tickets.parquet")


def test_zero_byte_parquet_in_a_folder_names_the_file_on_both_paths(tmp_path: Path, read):
    (tmp_path / "src" / "tickets").mkdir(parents=True)
    tickets(3).write_parquet(tmp_path / "src" / "tickets" / "a.parquet")
    (tmp_path / "src" / "tickets" / "b.parquet").write_bytes(b"")
    with pytest.raises(SourceError, match=r"tickets/b\.parquet \(tickets\) is an empty file.*Fix: Re-export"):
        read(tmp_path / "src")
    with pytest.raises(SourceError, match=r"b\.parquet"):
        ticket_rows(tmp_path / "src")  # the dashboard counts rows first, to choose the path


def test_one_truncated_parquet_among_several_is_named_on_both_paths(tmp_path: Path, read):
    good_parquet(tmp_path / "full.parquet")
    (tmp_path / "src" / "tickets").mkdir(parents=True)
    tickets(3).write_parquet(tmp_path / "src" / "tickets" / "a.parquet")
    data = (tmp_path / "full.parquet").read_bytes()
    (tmp_path / "src" / "tickets" / "b.parquet").write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceError, match=r"Could not read \S*tickets/b\.parquet \(tickets\) as Parquet.*re-export"):
        read(tmp_path / "src")
    with pytest.raises(SourceError, match=r"tickets/b\.parquet"):
        ticket_rows(tmp_path / "src")


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_sentinel_and_impossible_dates_are_rejected_and_counted_on_both_paths(tmp_path: Path, read, fmt: str):
    src = tmp_path / "src"
    src.mkdir()
    frame = pl.DataFrame(
        {
            "ticket_id": ["ok", "sentinel", "epoch", "ancient", "closed-never"],
            "created_at": [
                dt.datetime(2025, 1, 1, 10),
                dt.datetime(9999, 12, 31),
                dt.datetime(1970, 1, 1),
                dt.datetime(1900, 1, 1),
                dt.datetime(2025, 1, 2, 10),
            ],
            "closed_at": [None, None, None, None, dt.datetime(9999, 12, 31, 23, 59, 59)],
        }
    )
    write_as(frame, src, fmt)
    ds = read(src)
    assert counts(ds) == (5, 2, {"created_at out of range": 3})
    assert quarantined(ds) == {("closed_at", "closed_at out of range"): 1}  # the ticket stays, its close is unknown
    assert created_days(ds) == (dt.date(2025, 1, 1), dt.date(2025, 1, 2))


def test_a_separator_of_several_bytes_is_a_mapping_error_on_both_paths(tmp_path: Path, read):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "tickets.csv").write_text("ticket_id¦created_at\na¦2025-01-01\n", encoding="utf-8")
    mapping = tmp_path / "m.toml"
    mapping.write_text('[tickets]\nseparator = "¦"\n', encoding="utf-8")
    with pytest.raises(SourceError, match=r"m\.toml: \[tickets\] separator .*one byte.*Fix: .*;"):
        read(tmp_path / "src", mapping)


@pytest.mark.parametrize(
    ("column", "values", "kind"),
    [
        ("market", [["DE"], ["FR", "US"]], "list"),
        ("queue", [{"name": "a"}, {"name": "b"}], "struct"),
        ("ticket_id", [["a"], ["b"]], "list"),
    ],
)
def test_list_and_struct_columns_name_the_column_on_both_paths(tmp_path: Path, read, column, values, kind):
    (tmp_path / "src").mkdir()
    frame = tickets(2).with_columns(pl.Series(column, values))
    frame.write_parquet(tmp_path / "src" / "tickets.parquet")
    with pytest.raises(SourceError) as caught:
        read(tmp_path / "src")
    message = str(caught.value)
    assert f"tickets.{column}" in message and "tickets.parquet" in message and kind in message
    assert "Fix: Export" in message


@pytest.mark.parametrize("folder_value", ["A", "__HIVE_DEFAULT_PARTITION__"])
def test_a_partition_folder_and_a_file_column_that_disagree_are_refused_on_both_paths(
    tmp_path: Path, read, folder_value: str
):
    folder = tmp_path / "src" / "tickets"
    (folder / "vendor=A").mkdir(parents=True)
    (folder / f"vendor={folder_value}").mkdir(parents=True, exist_ok=True)
    tickets(2, vendor=["A", "A"]).write_parquet(folder / "vendor=A" / "agree.parquet")
    conflicting = tickets(2, vendor=["A", "B"]).with_columns(pl.Series("ticket_id", ["u0", "u1"]))
    conflicting.write_parquet(folder / f"vendor={folder_value}" / "part.parquet")
    with pytest.raises(SourceError) as caught:
        read(tmp_path / "src")
    error = caught.value
    assert "tickets" in error.problem and "vendor=" in error.problem and "vendor" in error.fix
    assert "'B'" not in error.message(with_rows=False)  # another vendor's name is data: quoted, not in the problem
    assert "part.parquet" in str(error)


def test_a_partition_folder_that_agrees_with_the_file_column_loads_on_both_paths(tmp_path: Path, read):
    folder = tmp_path / "src" / "tickets"
    for vendor in ("A", "B"):
        (folder / f"vendor={vendor}").mkdir(parents=True)
        frame = tickets(2, vendor=[vendor, vendor]).with_columns(
            pl.format("{}-{}", pl.lit(vendor), "ticket_id").alias("ticket_id")
        )
        frame.with_columns(pl.col("vendor").cast(pl.Categorical)).write_parquet(
            folder / f"vendor={vendor}" / "p.parquet"
        )
    assert counts(read(tmp_path / "src")) == (4, 4, {})


def test_a_symlink_loop_in_a_glob_reads_each_file_once_on_both_paths(tmp_path: Path, read):
    exports = tmp_path / "src" / "exports"
    exports.mkdir(parents=True)
    (exports / "t.csv").write_text("ticket_id,created_at\na,2025-01-01\nb,2025-01-02\n")
    (exports / "again").symlink_to(exports)  # a loop back to exports
    (exports / "twin.csv").symlink_to(exports / "t.csv")  # the same real file under a second name
    mapping = tmp_path / "m.toml"
    mapping.write_text('[tickets]\npath = "exports/**/*.csv"\n')
    assert counts(read(tmp_path / "src", mapping)) == (2, 2, {})


def test_a_symlink_loop_in_a_parquet_folder_reads_each_file_once_on_both_paths(tmp_path: Path, read):
    folder = tmp_path / "src" / "tickets"
    (folder / "day=1").mkdir(parents=True)
    tickets(2).write_parquet(folder / "day=1" / "p.parquet")
    (folder / "day=1" / "loop").symlink_to(folder)
    (folder / "day=1" / "twin.parquet").symlink_to(folder / "day=1" / "p.parquet")
    assert counts(read(tmp_path / "src")) == (2, 2, {})


def test_blank_lines_in_a_csv_are_not_rows_on_both_paths(tmp_path: Path, read):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "tickets.csv").write_text(
        "ticket_id,created_at,market\n\na,2025-01-01,DE\n\n  \n,,\nb,2025-01-02,FR\n,2025-01-03,\n\n"
    )
    ds = read(tmp_path / "src")
    assert counts(ds) == (3, 2, {"missing ticket_id": 1})  # the row with a created_at is a row without an id


def test_blank_lines_do_not_shift_the_row_numbers_of_examples(tmp_path: Path):
    (tmp_path / "tickets.csv").write_text("ticket_id,created_at\n\na,2025-01-01\n\nb,yesterday\n")
    example = load_dataset(tmp_path).reports["tickets"].rejections[0].examples[0]
    assert "tickets.csv row 4:" in example  # line 5 of the file: the header, then four lines


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_fixed_values_match_whatever_their_unicode_form_invisible_characters_or_case(tmp_path: Path, read, fmt):
    src = tmp_path / "src"
    src.mkdir()
    frame = pl.DataFrame(
        {
            "ticket_id": ["a", "b", "c", "d", "e", "f"],
            "created_at": [dt.datetime(2025, 1, 1, 10)] * 6,
            "source": ["User_Report", "user\u200b_report", "\ufeffLEGAL", "Signalé", "SIGNALE\u0301", "pigeon"],
            "priority": ["p1", "P1", "P\u200d0", "P３", "P2", "P2"],
        }
    )
    write_as(frame, src, fmt)
    mapping = tmp_path / "m.toml"
    mapping.write_text('[tickets.values.source]\n"signal\u0065\u0301" = "user_report"\n', encoding="utf-8")
    ds = read(src, mapping)
    assert counts(ds) == (6, 6, {})
    assert quarantined(ds) == {("source", "unknown source value"): 1}
    if isinstance(ds, Dataset):
        t = ds.tables["tickets"]
        assert t["source"].to_list() == ["user_report", "user_report", "legal", "user_report", "user_report", None]
        assert t["priority"].to_list() == ["P1", "P1", "P0", "P3", "P2", "P2"]
    else:
        assert ds.rollups.values("source") == ["legal", "user_report"]


def test_mapping_keys_that_differ_only_by_case_but_map_apart_are_refused(tmp_path: Path):
    (tmp_path / "tickets.csv").write_text("ticket_id,created_at\na,2025-01-01\n")
    mapping = tmp_path / "m.toml"
    mapping.write_text('[tickets.values.source]\nReport = "user_report"\nREPORT = "legal"\n')
    with pytest.raises(SourceError, match=r"values\.source.*'Report' and 'REPORT'.*Fix:"):
        load_dataset(tmp_path, mapping)


def test_far_future_rows_are_flagged_kept_and_do_not_move_the_period_on_both_paths(tmp_path: Path, read):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "tickets.csv").write_text(
        "ticket_id,created_at,closed_at\n"
        "a,2025-01-01 10:00,2025-01-01 12:00\n"
        "b,2025-01-02 10:00,2031-01-01 00:00\n"  # closed in the future: flagged, created in the period
        "c,2031-01-01 10:00,\n"  # created in the future: flagged, outside the default period
    )
    ds = read(tmp_path / "src")
    report = ds.reports["tickets"]
    assert counts(ds) == (3, 3, {})  # not rejected: they are tickets with a wrong clock
    assert report.rows_in_future == 2
    assert report.latest == dt.datetime(2025, 1, 2, 10)
    assert created_days(ds) == (dt.date(2025, 1, 1), dt.date(2025, 1, 2))


def test_a_timestamp_within_the_tolerance_of_the_export_is_not_flagged(tmp_path: Path):
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    (tmp_path / "tickets.csv").write_text(f"ticket_id,created_at\na,{now + dt.timedelta(hours=6)}\n")
    report = load_dataset(tmp_path).reports["tickets"]
    assert report.rows_in_future == 0 and report.latest == now + dt.timedelta(hours=6)


@pytest.mark.parametrize(
    ("setting", "value"), [("datetime_format", "%Q"), ("datetime_format", "%d/%m/%Y %"), ("date_format", "%Y-%m-%Ez")]
)
def test_an_invalid_time_format_is_a_mapping_error_naming_the_setting(tmp_path: Path, read, setting, value):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "tickets.csv").write_text("ticket_id,created_at\na,01/01/2025 10:00\n")
    mapping = tmp_path / "m.toml"
    mapping.write_text(f'[tickets]\n{setting} = "{value}"\n')
    with pytest.raises(SourceError, match=rf"m\.toml: \[tickets\] {setting} = .*not a date or time directive.*Fix:"):
        read(tmp_path / "src", mapping)


def test_a_parquet_timestamp_beyond_the_year_9999_is_rejected_not_a_crash(tmp_path: Path, read):
    (tmp_path / "src").mkdir()
    far = pl.Series([dt.datetime(9999, 12, 31)]).cast(pl.Int64) + 400 * 86_400_000_000  # year 10001
    created = pl.concat([pl.Series([dt.datetime(2025, 1, 1)]).cast(pl.Int64), far]).cast(pl.Datetime("us"))
    pl.DataFrame({"ticket_id": ["a", "b"], "created_at": created}).write_parquet(tmp_path / "src" / "tickets.parquet")
    assert counts(read(tmp_path / "src")) == (2, 1, {"created_at out of range": 1})


def test_an_unsigned_count_beyond_int64_is_unparseable_on_both_paths(tmp_path: Path, read):
    (tmp_path / "src").mkdir()
    views = pl.Series("views_before_action", [2**64 - 1, 3], pl.UInt64)
    tickets(2).with_columns(views).write_parquet(tmp_path / "src" / "tickets.parquet")
    ds = read(tmp_path / "src")
    assert counts(ds) == (2, 2, {})
    assert quarantined(ds) == {("views_before_action", "unparseable views_before_action"): 1}


def partitioned(tmp_path: Path, vendor: str) -> Path:
    """src/tickets/vendor=A/a.parquet (good) and the folder src/tickets/vendor=<vendor>/ for a bad file."""
    folder = tmp_path / "src" / "tickets"
    (folder / "vendor=A").mkdir(parents=True)
    (folder / f"vendor={vendor}").mkdir()
    tickets(2).write_parquet(folder / "vendor=A" / "a.parquet")
    return folder / f"vendor={vendor}"


def assert_folder_value_only_quoted(error: SourceError, value: str, file: str) -> None:
    """The partition folder's value is data (a vendor's name): absent from what a vendor-scoped user sees, but the
    full message names the file; the problem names the table and the partition key."""
    assert value not in error.message(with_rows=False)
    assert "tickets" in error.problem and "vendor=" in error.problem
    assert f"vendor={value}/{file}" in str(error)


def test_a_partition_conflict_names_no_folder_value_to_a_scoped_user_on_both_paths(tmp_path: Path, read):
    bad = partitioned(tmp_path, "harbor_trust")
    tickets(2, vendor=["A", "harbor_trust"]).with_columns(pl.Series("ticket_id", ["u0", "u1"])).write_parquet(
        bad / "part.parquet"
    )
    with pytest.raises(SourceError) as caught:
        read(tmp_path / "src")
    assert_folder_value_only_quoted(caught.value, "harbor_trust", "part.parquet")


def test_an_empty_file_in_a_partition_folder_names_no_folder_value_to_a_scoped_user_on_both_paths(tmp_path: Path, read):
    (partitioned(tmp_path, "harbor_trust") / "b.parquet").write_bytes(b"")
    with pytest.raises(SourceError) as caught:
        read(tmp_path / "src")
    assert "empty file" in caught.value.problem
    assert_folder_value_only_quoted(caught.value, "harbor_trust", "b.parquet")
    with pytest.raises(SourceError) as counted:
        ticket_rows(tmp_path / "src")
    assert_folder_value_only_quoted(counted.value, "harbor_trust", "b.parquet")


def test_a_cut_off_file_in_a_partition_folder_names_no_folder_value_to_a_scoped_user_on_both_paths(
    tmp_path: Path, read
):
    good_parquet(tmp_path / "full.parquet")
    data = (tmp_path / "full.parquet").read_bytes()
    (partitioned(tmp_path, "harbor_trust") / "b.parquet").write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceError) as caught:
        read(tmp_path / "src")
    assert "Could not read" in caught.value.problem
    assert_folder_value_only_quoted(caught.value, "harbor_trust", "b.parquet")


def test_a_key_column_only_in_a_later_file_is_still_checked_against_its_folder_on_both_paths(tmp_path: Path, read):
    folder = tmp_path / "src" / "tickets"
    for vendor in ("A", "B"):
        (folder / f"vendor={vendor}").mkdir(parents=True)
    tickets(2).write_parquet(folder / "vendor=A" / "a.parquet")  # the first file has no vendor column
    tickets(2, vendor=["B", "C"]).with_columns(pl.Series("ticket_id", ["u0", "u1"])).write_parquet(
        folder / "vendor=B" / "b.parquet"
    )
    with pytest.raises(SourceError, match=r"vendor=.*Fix: Re-export"):
        read(tmp_path / "src")


def test_a_line_with_values_only_in_unmapped_columns_is_blank_on_both_paths(tmp_path: Path, read):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "tickets.csv").write_text(
        "ticket_id,created_at,note,extra\na,2025-01-01,first,\n,,only a note,\n,,,x\nb,2025-01-02,,\n"
    )
    assert counts(read(tmp_path / "src")) == (2, 2, {})


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_an_exact_allowed_value_is_not_remapped_by_a_key_that_folds_onto_it(tmp_path: Path, read, fmt: str):
    src = tmp_path / "src"
    src.mkdir()
    frame = tickets(5).with_columns(pl.Series("source", ["legal", "LEGAL", "Legal\u200b", "appeal", "legal"]))
    write_as(frame, src, fmt)
    mapping = tmp_path / "m.toml"
    mapping.write_text('[tickets.values.source]\n"LEGAL" = "user_report"\n')
    ds = read(src, mapping)
    assert counts(ds) == (5, 5, {})
    by_source = summarize(ds, "volume", Filters(dt.date(2025, 1, 1), dt.date(2025, 1, 1)), by=["source"])
    assert dict(by_source.iter_rows()) == {"appeal": 1, "legal": 2, "user_report": 2}


def test_an_exact_mapping_key_still_remaps_an_allowed_value(tmp_path: Path):
    (tmp_path / "tickets.csv").write_text("ticket_id,created_at,priority\na,2025-01-01,P1\nb,2025-01-01,p1\n")
    mapping = tmp_path / "m.toml"
    mapping.write_text('[tickets.values.priority]\n"P1" = "P2"\n')
    assert load_dataset(tmp_path, mapping).tables["tickets"]["priority"].to_list() == ["P2", "P2"]


def test_a_future_row_does_not_move_the_datas_now_on_both_paths(tmp_path: Path, read):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "tickets.csv").write_text(
        "ticket_id,created_at,first_action_at,closed_at\n"
        "a,2025-01-01 10:00,2025-01-01 10:30,\n"  # acted on within its 24 h target
        "b,2025-01-01 11:00,,\n"  # still waiting: 0 h at the data's "now", not yet measured
        "d,2025-01-01 09:00,2025-01-01 09:10,2031-01-01 00:00\n"  # acted on in time; closed in the future
        "c,2031-01-01 10:00,,\n"  # created in the future (a wrong clock)
    )
    ds = read(tmp_path / "src")
    now = dt.datetime(2025, 1, 1, 11)
    assert ds.reports["tickets"].as_of == now
    assert (data_as_of(ds) if isinstance(ds, Dataset) else ds.rollups.as_of) == now
    sla = summarize(ds, "sla", Filters(dt.date(2025, 1, 1), dt.date(2025, 1, 1)))
    assert sla.select("tickets", "measured", "met").row(0) == (3, 2, 2)  # at a 2031 "now", b would be 3 measured
