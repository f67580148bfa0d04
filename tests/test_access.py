"""Access control: roles from the policy, sign-in required when configured, vendor scoping on every page."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from queries.access import load_access_policy, scope_dataset
from queries.dataset import load_dataset
from queries.errors import SourceError
from tests.apptest import _app

OTHER_VENDORS = ("harbor_trust", "meridian_review", "sentinel_ops")  # names no atlas_cx user may see
PAGES = ("overview", "trends", "turnaround", "forecast", "vendors", "transparency", "benchmark", "data-health")
POLICY = """
[users."ana@example.com"]
role = "admin"
[users."lee@atlas.example"]
role = "viewer"
vendor = "atlas_cx"
[users."pat@example.com"]
role = "planner"
"""


@pytest.fixture
def policy_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, app_env) -> Path:
    path = tmp_path / "access.toml"
    path.write_text(POLICY)
    monkeypatch.setenv("BELLWETHER_ACCESS", str(path))
    return path


def signed_in(page: str, email: str | None) -> AppTest:
    at = AppTest.from_function(_app, args=(page,), default_timeout=180)
    at.user = {"is_logged_in": True, "email": email} if email else {"is_logged_in": False}
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "test"}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def everything_shown(at: AppTest) -> str:
    """All text, table cells, chart data and widget options on the page."""
    parts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "success", "warning", "error", "code"):
        parts += [str(e.value) for e in getattr(at, kind)]
    parts += [f"{m.label} {m.value} {m.help}" for m in at.metric]
    parts += [frame.value.to_csv() for frame in at.dataframe]
    parts += [chart.proto.spec for chart in at.get("plotly_chart")]
    parts += [str(w.options) for w in (*at.multiselect, *at.selectbox)]
    return "\n".join(parts)


def test_policy_roles_and_defaults(tmp_path: Path):
    path = tmp_path / "a.toml"
    path.write_text(POLICY + '[defaults]\nrole = "viewer"\n')
    policy = load_access_policy(path)
    assert policy.user("LEE@atlas.example").vendor == "atlas_cx"
    assert policy.user("pat@example.com").can_save_scenarios and not policy.user("lee@atlas.example").can_save_scenarios
    assert policy.user("someone@else.example").role == "viewer"
    path.write_text('[users."x@y"]\nrole = "owner"\n')
    with pytest.raises(SourceError, match="role 'owner'"):
        load_access_policy(path)


def test_scope_dataset_keeps_only_the_vendors_rows(data_dir: Path):
    ds = load_dataset(data_dir / "demo")
    scoped = scope_dataset(ds, "atlas_cx")
    assert set(scoped.tables["tickets"]["vendor"].unique()) == {"atlas_cx"}
    assert set(scoped.tables["staffing"]["vendor"].unique()) == {"atlas_cx"}
    assert set(scoped.tables["qa_reviews"]["vendor"].unique()) == {"atlas_cx"}
    expected = ds.tables["tickets"].filter(pl.col("vendor") == "atlas_cx").height
    assert scoped.tables["tickets"].height == scoped.reports["tickets"].rows_loaded == expected
    assert scoped.signature != ds.signature
    assert scoped.tables["platform_metrics"].height == ds.tables["platform_metrics"].height


@pytest.mark.parametrize("page", PAGES)
def test_vendor_scoped_user_sees_no_other_vendor_anywhere(policy_file: Path, page: str):
    at = signed_in(page, "lee@atlas.example")
    shown = everything_shown(at)
    assert shown.strip()
    for other in OTHER_VENDORS:
        assert other not in shown, f"{other} visible on {page}"
    # The URL cannot widen the scope either.
    at2 = AppTest.from_function(_app, args=(page,), default_timeout=180)
    at2.user = {"is_logged_in": True, "email": "lee@atlas.example"}
    at2.query_params["vendor"] = ["sentinel_ops"]
    at2.run()
    assert not at2.exception and "sentinel_ops" not in everything_shown(at2)


def test_admin_sees_every_vendor(policy_file: Path):
    shown = everything_shown(signed_in("vendors", "ana@example.com"))
    assert all(v in shown for v in OTHER_VENDORS)


def test_sign_in_is_required_and_unlisted_users_are_refused(policy_file: Path):
    anonymous = signed_in("overview", None)
    assert anonymous.button(key="access.login") is not None and not anonymous.metric
    stranger = signed_in("overview", "who@nowhere.example")
    assert "No access" in stranger.error[0].value and not stranger.metric


def test_access_file_without_sign_in_configured_says_how_to_fix(policy_file: Path):
    at = AppTest.from_function(_app, args=("overview",), default_timeout=180)
    at.user = {"is_logged_in": False}
    at.run()
    assert not at.exception and "no [auth] section" in at.error[0].value and not at.metric


def test_only_planners_save_scenarios(policy_file: Path):
    viewer = signed_in("forecast", "lee@atlas.example")
    assert not [f for f in viewer.get("form")] and any("for planners" in c.value for c in viewer.caption)
    planner = signed_in("forecast", "pat@example.com")
    assert planner.text_input(key="scenario.author").value == "pat@example.com"


def test_exports_built_for_a_vendor_scoped_user_name_no_other_vendor(data_dir: Path):
    import datetime as dt

    from forecasting.plan import Scenario
    from forecasting.planner import capacity_plan, forecast_view
    from queries.export import safe_csv
    from queries.filters import Filters
    from queries.spikes import detect_spikes
    from queries.transparency import transparency_figures, transparency_html
    from queries.vendors import scorecard

    ds = scope_dataset(load_dataset(data_dir / "demo"), "atlas_cx")
    f = Filters(dt.date(2026, 3, 9), dt.date(2026, 6, 30))
    figures = transparency_figures(ds, f)
    plan = capacity_plan(ds, f, forecast_view(ds, f, "policy_domain", 28), Scenario())[0]
    exports = [
        safe_csv(figures),
        transparency_html(figures, "pack", dt.datetime(2026, 7, 1)),
        safe_csv(detect_spikes(ds, f, ["policy_domain", "market"])),
        safe_csv(scorecard(ds, f)),
        safe_csv(plan),
    ]
    assert "atlas_cx" in exports[3] and "atlas_cx" in exports[4]
    for text in exports:
        for other in OTHER_VENDORS:
            assert other not in text
