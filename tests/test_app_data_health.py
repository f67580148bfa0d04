"""The Data health page on your own extracts: how times were read, which columns were taken by name, and a drafted
mapping to download (not for vendor-scoped users, nor for a warehouse)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.runtime.memory_media_file_storage import _calculate_file_id
from streamlit.testing.v1 import AppTest

from queries.errors import SourceError
from queries.sources.draft import draft_mapping
from tests.apptest import run

DRAFT = "Download a drafted mapping (mapping.toml)"
TICKETS = (
    "ticket_id,opened,source,priority\n"
    "1,2025-03-03 10:00:00,Call,P1\n"
    "2,2025-03-03 11:00:00,user_report,P2\n"
    "3,2025-03-03 12:00:00,Call,P1\n"
)


@pytest.fixture
def extracts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, app_env) -> Path:
    """Your extracts (a CSV and a mapping without a timezone) as the configured source."""
    src = tmp_path / "extracts"
    src.mkdir()
    (src / "tickets.csv").write_text(TICKETS)
    (tmp_path / "mapping.toml").write_text('[tickets.columns]\ncreated_at = "opened"\n')
    monkeypatch.setenv("BELLWETHER_SOURCE", str(src))
    monkeypatch.setenv("BELLWETHER_MAPPING", str(tmp_path / "mapping.toml"))
    return src


def draft_buttons(at: AppTest) -> list:
    return [b for b in at.get("download_button") if b.proto.label == DRAFT]


def test_data_health_says_how_times_were_read_and_which_columns_were_taken_by_name(extracts: Path):
    at = run("data-health", {"src": "extracts"})
    assert at.dataframe[0].value["time_zone"].tolist() == ["no time zone given: read as UTC"]
    captions = " ".join(c.value for c in at.caption)
    assert "`source` taken from your column `source`" in captions
    assert "`priority` taken from your column `priority`" in captions
    assert "`created_at` taken" not in captions  # mapped in the mapping file: not a surprise


def test_data_health_offers_the_drafted_mapping_of_a_files_source(extracts: Path):
    at = run("data-health", {"src": "extracts"})
    (button,) = draft_buttons(at)
    # The button serves the draft as mapping.toml: the media file's id hashes its bytes, type and name.
    draft = draft_mapping(extracts)
    assert draft.startswith("# Mapping drafted") and 'created_at = "opened"' in draft
    served = _calculate_file_id(draft.encode(), "application/toml", "mapping.toml")
    assert button.proto.url.endswith(f"/{served}")


def test_a_source_the_draft_cannot_read_shows_a_caption_not_a_button(extracts: Path, monkeypatch: pytest.MonkeyPatch):
    import pages.data_health

    def refuse(source: str) -> str:
        raise SourceError("Could not read the export to draft a mapping.", fix="Give the export file itself.")

    monkeypatch.setattr(pages.data_health, "draft_mapping", refuse)
    at = run("data-health", {"src": "extracts"})
    assert draft_buttons(at) == []
    assert any("Could not read the export to draft a mapping." in c.value for c in at.caption)


def test_vendor_scoped_users_get_no_drafted_mapping(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, app_env):
    assert len(draft_buttons(run("data-health"))) == 1  # the demo, unscoped: the draft is there
    access = tmp_path / "access.toml"
    access.write_text('[users."lee@atlas.example"]\nrole = "viewer"\nvendor = "atlas_cx"\n')
    monkeypatch.setenv("BELLWETHER_ACCESS", str(access))
    from tests.apptest import _app

    at = AppTest.from_function(_app, args=("data-health",), default_timeout=180)
    at.user = {"is_logged_in": True, "email": "lee@atlas.example"}
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "test"}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Data health" and draft_buttons(at) == []


def test_large_extracts_show_the_same_unknown_values_and_say_where_the_examples_are(
    extracts: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("BELLWETHER_ROLLUP_ROWS", "1")  # served from rollups
    at = run("data-health", {"src": "extracts"})
    (block,) = at.code
    assert block.value.startswith("[tickets.values.source]") and '"Call" = "?"  # 2 rows' in block.value
    assert "`source` taken from your column `source`" in " ".join(c.value for c in at.caption)
    quarantined = at.dataframe[1].value
    assert quarantined[["field", "rows"]].values.tolist() == [["source", 2]]
    assert any("validate" in c.value and "examples" in c.value for c in at.caption)
    assert len(draft_buttons(at)) == 1


@pytest.mark.usefixtures("app_env")
def test_a_source_without_a_mapping_file_says_so_once_and_the_tables_table_fits():
    at = run("data-health")  # the demo: contract names, no mapping file
    captions = " ".join(c.value for c in at.caption)
    assert "taken from your column" not in captions  # every field matched by its own name: not a surprise
    assert "No mapping file: columns are matched to fields by their names" in captions
    columns = set(at.dataframe[0].value.columns)
    assert not columns & {"rows_superseded", "rows_in_future", "not_provided"}  # all zero / long text: not columns
