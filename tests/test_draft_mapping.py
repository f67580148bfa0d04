"""A drafted mapping (`python -m queries init-mapping`): three exports shaped like real public ticket logs load
unedited from the draft, and the loaded figures equal an independent pandas count of the raw file."""

from __future__ import annotations

import datetime as dt
import random
import subprocess
import sys
import tomllib
from pathlib import Path

import pandas as pd
import pytest

from queries.filters import Filters
from queries.metrics import summarize
from queries.sources.dataset import load_dataset
from queries.sources.draft import draft_mapping

REPO = Path(__file__).resolve().parent.parent
ROWS = 1_200


def service_requests(path: Path) -> Path:
    """A city 311 export: US 12-hour times, title-case headers with spaces, a channel column with its own words."""
    rng = random.Random(1)
    lines = ["Unique Key,Created Date,Closed Date,Agency,Complaint Type,Borough,Open Data Channel Type,Status"]
    for i in range(ROWS):
        created = dt.datetime(2025, 3, 1) + dt.timedelta(minutes=rng.randrange(0, 60 * 24 * 60))
        closed = (
            "" if i % 9 == 0 else (created + dt.timedelta(hours=rng.uniform(0.5, 90))).strftime("%m/%d/%Y %I:%M:%S %p")
        )
        lines.append(
            ",".join(
                [
                    str(40_000_000 + i),
                    created.strftime("%m/%d/%Y %I:%M:%S %p"),
                    closed,
                    rng.choice(["NYPD", "DOT", "DSNY", "HPD"]),
                    rng.choice(["Noise - Residential", "Illegal Parking", "Blocked Driveway", "HEAT/HOT WATER"]),
                    rng.choice(["BROOKLYN", "QUEENS", "BRONX", "MANHATTAN", "Unspecified"]),
                    rng.choice(["PHONE", "ONLINE", "MOBILE", "UNKNOWN"]),
                    "Open" if not closed else "Closed",
                ]
            )
        )
    path.write_text("\n".join(lines) + "\n")
    return path


def issue_tracker(path: Path) -> Path:
    """An issue tracker export: ISO times with Z, one row per change (ids repeat), labels and teams."""
    rng = random.Random(2)
    lines = ["id,number,title,state,created_at,updated_at,closed_at,label,assignee_team"]
    for i in range(ROWS // 2):
        created = dt.datetime(2024, 7, 1) + dt.timedelta(minutes=rng.randrange(0, 60 * 24 * 120))
        first = created + dt.timedelta(hours=rng.uniform(1, 20))
        closed = first + dt.timedelta(hours=rng.uniform(1, 200))
        team, label = rng.choice(["core", "ui", "infra"]), rng.choice(["bug", "enhancement", "question", "docs"])
        iso = "%Y-%m-%dT%H:%M:%SZ"
        for updated, state, end in ((first, "open", ""), (closed, "closed", closed.strftime(iso))):
            lines.append(
                f"{900_000 + i},{i + 1},Issue {i},{state},{created.strftime(iso)},{updated.strftime(iso)},{end},"
                f"{label},{team}"
            )
    path.write_text("\n".join(lines) + "\n")
    return path


def incident_log(path: Path) -> Path:
    """An incident log: semicolons, epoch milliseconds, urgency words and services."""
    rng = random.Random(3)
    lines = ["incident_number;opened_ms;acknowledged_ms;resolved_ms;urgency;service;escalation_policy"]
    start = int(dt.datetime(2025, 1, 1, tzinfo=dt.UTC).timestamp() * 1000)
    for i in range(ROWS):
        opened = start + rng.randrange(0, 90 * 86_400_000)
        acked = opened + rng.randrange(60_000, 3_600_000)
        resolved = acked + rng.randrange(60_000, 86_400_000)
        urgency = rng.choice(["high", "low"])
        service = rng.choice(["payments", "search", "auth", "media", "notifications"])
        lines.append(f"INC-{i:05d};{opened};{acked};{resolved};{urgency};{service};{rng.choice(['tier1', 'tier2'])}")
    path.write_text("\n".join(lines) + "\n")
    return path


EXPORTS = {"service_requests": service_requests, "issue_tracker": issue_tracker, "incident_log": incident_log}


@pytest.fixture(params=sorted(EXPORTS))
def export(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    folder = tmp_path / "export"
    folder.mkdir()
    return EXPORTS[request.param](folder / f"{request.param}.csv")


def test_an_unedited_draft_loads_every_row_of_a_realistic_export(export: Path, tmp_path: Path):
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(draft_mapping(export))
    tomllib.loads(mapping.read_text())  # valid TOML
    ds = load_dataset(export, mapping)
    report = ds.reports["tickets"]
    raw = pd.read_csv(export, sep=None, engine="python", dtype=str)
    id_column = tomllib.loads(mapping.read_text())["tickets"]["columns"]["ticket_id"]
    assert report.rejections == [] or sum(r.rows for r in report.rejections) == 0
    assert report.rows_loaded == raw[id_column].nunique()  # one ticket per id, none lost
    tickets = ds.table("tickets")
    assert tickets["created_at"].null_count() == 0
    dimensions = tomllib.loads(mapping.read_text())["tickets"].get("dimensions", {})
    assert dimensions and ds.reports["tickets"].dimensions == tuple(dimensions)  # categorical columns to split by
    period = Filters(tickets["created_at"].min().date(), tickets["created_at"].max().date())
    for name, column in dimensions.items():
        volume = summarize(ds, "volume", period, by=[name]).select(name, "tickets").drop_nulls(name)
        last = raw.drop_duplicates(id_column, keep="last")  # a repeated id counts once (its latest row)
        assert dict(volume.iter_rows()) == last[column].dropna().str.strip().value_counts().to_dict()


def test_a_column_name_that_is_no_dimension_name_is_made_into_one(tmp_path: Path):
    export = tmp_path / "e.csv"
    export.write_text(
        "id,created,Market,1st Tier Group\n"
        + "".join(f"{i},2025-01-0{1 + i % 5},x{i % 3},t{i % 2}\n" for i in range(40))
    )
    dimensions = tomllib.loads(draft_mapping(export))["tickets"]["dimensions"]
    assert dimensions == {"d_1st_tier_group": "1st Tier Group"}  # Market is taken as the market field
    assert load_dataset(export, _drafted(export, tmp_path)).reports["tickets"].dimensions == ("d_1st_tier_group",)


def test_the_draft_reads_times_as_the_file_means_them(tmp_path: Path):
    export = service_requests(tmp_path / "311.csv")
    ds = load_dataset(export, _drafted(export, tmp_path))
    raw = pd.read_csv(export, dtype=str)
    created = pd.to_datetime(raw["Created Date"], format="%m/%d/%Y %I:%M:%S %p")
    closed = pd.to_datetime(raw["Closed Date"], format="%m/%d/%Y %I:%M:%S %p")
    tickets = ds.table("tickets").sort("ticket_id")
    assert tickets["created_at"].to_list() == created.dt.to_pydatetime().tolist()
    assert tickets["closed_at"].null_count() == int(closed.isna().sum())  # open tickets stay open
    by_day = tickets.group_by(tickets["created_at"].dt.date().alias("day")).len().sort("day")
    expected = created.dt.date.value_counts().sort_index()
    assert by_day["len"].to_list() == expected.tolist()


def test_the_draft_maps_channel_words_onto_contract_sources_and_leaves_the_rest_visible(tmp_path: Path):
    export = service_requests(tmp_path / "311.csv")
    text = draft_mapping(export)
    values = tomllib.loads(text)["tickets"]["values"]["source"]
    assert values == {"PHONE": "user_report", "ONLINE": "user_report", "MOBILE": "user_report"}
    assert '# "UNKNOWN" = ?' in text  # no guess: left for the user, counted as unknown meanwhile
    ds = load_dataset(export, _drafted(export, tmp_path))
    raw = pd.read_csv(export, dtype=str)
    unknown = int((raw["Open Data Channel Type"] == "UNKNOWN").sum())
    assert ds.table("tickets")["source"].null_count() == unknown
    quarantined = {(q.field, q.reason): q.rows for q in ds.reports["tickets"].quarantined}
    assert sum(n for (f, _), n in quarantined.items() if f == "source") == unknown


def test_repeating_ids_draft_dedupe_by_the_update_time(tmp_path: Path):
    export = issue_tracker(tmp_path / "issues.csv")
    mapping = tomllib.loads(draft_mapping(export))["tickets"]
    assert mapping["dedupe_by"] == "updated_at"
    ds = load_dataset(export, _drafted(export, tmp_path))
    raw = pd.read_csv(export, dtype=str)
    last = raw.sort_values("updated_at").groupby(mapping["columns"]["ticket_id"]).tail(1)
    tickets = ds.table("tickets")
    assert tickets.height == len(last)
    assert tickets["closed_at"].null_count() == int(last["closed_at"].isna().sum()) == 0  # each issue's last row


def test_epoch_milliseconds_and_semicolons_are_drafted(tmp_path: Path):
    export = incident_log(tmp_path / "incidents.csv")
    mapping = tomllib.loads(draft_mapping(export))["tickets"]
    assert mapping["separator"] == ";"
    assert mapping["columns"]["created_at"] == "opened_ms"
    assert mapping["columns"]["first_action_at"] == "acknowledged_ms"
    assert mapping["columns"]["closed_at"] == "resolved_ms"
    assert mapping["datetime_formats"] == {f: "epoch_ms" for f in ("created_at", "first_action_at", "closed_at")}
    assert mapping["columns"]["priority"] == "urgency"
    ds = load_dataset(export, _drafted(export, tmp_path))
    raw = pd.read_csv(export, sep=";")
    expected = pd.to_datetime(raw["opened_ms"], unit="ms").sort_values().tolist()
    assert ds.table("tickets")["created_at"].sort().to_list() == [t.to_pydatetime() for t in expected]
    assert dict(ds.table("tickets")["priority"].value_counts().iter_rows()) == {
        "P1": int((raw["urgency"] == "high").sum()),
        "P3": int((raw["urgency"] == "low").sum()),
    }


def test_a_folder_source_drafts_its_ticket_file_with_a_path(tmp_path: Path):
    folder = tmp_path / "exports"
    folder.mkdir()
    service_requests(folder / "tickets_2025.csv")
    (folder / "notes.csv").write_text("a,b\n1,2\n")
    mapping = tomllib.loads(draft_mapping(folder))["tickets"]
    assert mapping["path"] == "tickets_2025.csv"


def test_init_mapping_command_writes_the_draft_and_never_replaces_a_file_unasked(tmp_path: Path):
    export = service_requests(tmp_path / "311.csv")
    out = tmp_path / "mapping.toml"
    first = _cli("init-mapping", "--source", str(export), "--out", str(out))
    assert first.returncode == 0, first.stderr
    assert out.read_text() == draft_mapping(export)
    assert "validate --source" in first.stdout and "marked 'check'" in first.stdout
    out.write_text("# my edits\n")
    second = _cli("init-mapping", "--source", str(export), "--out", str(out))
    assert second.returncode == 1 and "exists already" in second.stderr and "--force" in second.stderr
    assert out.read_text() == "# my edits\n"
    assert _cli("init-mapping", "--source", str(export), "--out", str(out), "--force").returncode == 0
    validate = _cli("validate", "--source", str(export), "--mapping", str(out))
    assert validate.returncode == 0, validate.stderr
    assert f"{ROWS:,} of {ROWS:,} rows loaded" in validate.stdout


def test_a_missing_source_gets_a_clear_message(tmp_path: Path):
    result = _cli("init-mapping", "--source", str(tmp_path / "nope"), "--out", str(tmp_path / "m.toml"))
    assert result.returncode == 1 and "does not exist" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "m.toml").exists()


def _drafted(export: Path, tmp_path: Path) -> Path:
    mapping = tmp_path / "drafted.toml"
    mapping.write_text(draft_mapping(export))
    return mapping


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "queries", *args], cwd=REPO, capture_output=True, text=True)
