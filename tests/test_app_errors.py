"""Failures in the dashboard: an error panel that names the file and the fix, never a traceback or another
vendor's rows; other pages keep working; fixing the file recovers without a restart."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.apptest import _app, run

pytestmark = pytest.mark.usefixtures("app_env")


def test_an_invalid_sla_policy_is_a_panel_on_the_pages_that_use_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    policy = tmp_path / "sla.toml"
    policy.write_text("[[rule]]\nname = 'Live'\ntarget_seconds = 'soon'\n", encoding="utf-8")
    monkeypatch.setenv("BELLWETHER_SLA_POLICY", str(policy))
    for page in ("overview", "turnaround"):
        at = run(page)
        panel = " ".join(e.value for e in at.error)
        assert str(policy) in panel and "target_seconds is 'soon'" in panel and "Fix:" in panel, panel
    trends = run("trends")  # a page that does not use the SLA policy is unaffected
    assert not trends.error and trends.get("plotly_chart")
    policy.write_text("[[rule]]\nname = 'Live'\ntarget_seconds = 60\n", encoding="utf-8")
    at = run("overview")
    assert not at.error and len(at.metric) == 10


ACCESS = """
[users."ana@example.com"]
role = "admin"
[users."lee@atlas.example"]
role = "viewer"
vendor = "atlas_cx"
"""


def signed_in(email: str) -> AppTest:
    at = AppTest.from_function(_app, args=("overview",), default_timeout=120)
    at.user = {"is_logged_in": True, "email": email}
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "test"}
    at.query_params["src"] = "extracts"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_failing_source_quotes_no_row_to_a_vendor_scoped_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    source = tmp_path / "extracts"
    source.mkdir()
    (source / "tickets.csv").write_text(
        'ticket_id,created_at,vendor\na,2026-01-01 10:00:00,atlas_cx\nb,2026-01-01 10:00:00,"harbor_trust note\n',
        encoding="utf-8",
    )
    access = tmp_path / "access.toml"
    access.write_text(ACCESS, encoding="utf-8")
    monkeypatch.setenv("BELLWETHER_SOURCE", str(source))
    monkeypatch.setenv("BELLWETHER_ACCESS", str(access))
    admin = " ".join(e.value for e in signed_in("ana@example.com").error)
    assert "tickets.csv" in admin and "harbor_trust note" in admin  # admins keep the quoted cell
    scoped = " ".join(e.value for e in signed_in("lee@atlas.example").error)
    assert "tickets.csv" in scoped and "Fix:" in scoped
    assert "harbor_trust" not in scoped


def test_an_access_file_naming_a_vendor_the_source_lacks_stops_the_app(tmp_path: Path, monkeypatch):
    access = tmp_path / "access.toml"
    access.write_text(ACCESS.replace('vendor = "atlas_cx"', 'vendor = "atlas-cx"'), encoding="utf-8")
    monkeypatch.setenv("BELLWETHER_ACCESS", str(access))
    at = AppTest.from_function(_app, args=("overview",), default_timeout=120)
    at.user = {"is_logged_in": True, "email": "ana@example.com"}  # even an admin: the file is wrong for everyone
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "test"}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    panel = " ".join(e.value for e in at.error)
    assert "Access configuration is invalid" in panel and f"{access} line 6" in panel, panel
    assert not at.metric  # no page is drawn


def test_a_configured_source_opens_by_default_without_generating_the_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    empty_data = tmp_path / "data"  # no demo generated here yet
    empty_data.mkdir()
    source = tmp_path / "extracts"
    source.mkdir()
    (source / "tickets.csv").write_text(
        "ticket_id,created_at\na,2026-01-05 10:00:00\nb,2026-01-06 11:00:00\n", encoding="utf-8"
    )
    monkeypatch.setenv("BELLWETHER_DATA_DIR", str(empty_data))
    monkeypatch.setenv("BELLWETHER_SOURCE", str(source))
    at = run()
    assert at.selectbox(key="source").value == "extracts" and at.query_params["src"] == "extracts"
    assert next(m.value for m in at.metric if m.label == "Tickets received") == "2"
    assert not (empty_data / "demo").exists()  # the demo stays one click away, not generated
    assert at.selectbox(key="source").options[0] == "Demo warehouse (generated)"
