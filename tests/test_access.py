"""Access control: roles from the policy, sign-in required when configured, vendor scoping on every page."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from queries.engines import held_rows, scope, small_table
from queries.errors import SourceError
from queries.sources.access import User, load_access_policy, sign_in_refusal
from queries.sources.dataset import load_dataset
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
    parts += [frame.value.to_csv() for frame in (*at.dataframe, *at.table)]
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


FIRST_LINE = POLICY.count("\n") + 1  # the first line of text appended to POLICY


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        ('[users."kim@atlas.example"]\nrole = "viewer"\nVendor = "atlas_cx"\n', 2, "unknown key 'Vendor'"),
        ('[users."kim@atlas.example"]\nrole = "viewer"\nvendors = ["atlas_cx"]\n', 2, "unknown key 'vendors'"),
        ('[users."kim@atlas.example"]\nrole = "viewer"\nvendor = ""\n', 2, "vendor is empty"),
        ('[users."kim@atlas.example"]\nrole = "viewer"\nvendor = "  "\n', 2, "vendor is empty"),
        ('[users."kim@atlas.example"]\nrole = "viewer"\nvendor = " atlas_cx"\n', 2, "spaces"),
        ('[users."kim@atlas.example"]\nrole = "viewer"\nvendor = 7\n', 2, "vendor must be text"),
        ('[users."kim@atlas.example"]\nrole = ["viewer"]\n', 1, "role must be text"),
        ('[users."kim@atlas.example"]\nvendor = "atlas_cx"\n', 0, "has no role"),
        ('[users."x@y"]\nrole = "owner"\n', 1, "role 'owner'"),
        ('[users."kim@atlas.example"]\nrole = "viewer"\n\n[users."Kim@Atlas.Example"]\nrole = "admin"\n', 3, "twice"),
        ('[users."kim@atlas.example"]\nrole = "viewer"\n[users." kim@atlas.example "]\nrole = "admin"\n', 2, "twice"),
        ('[users."ANA@example.com"]\nrole = "viewer"\n', 0, "twice"),
        ('[users.""]\nrole = "viewer"\n', 0, "empty e-mail"),
        ('[users."kim@atlas.example"]\n', 0, "has no role"),
        ('[user."kim@atlas.example"]\nrole = "admin"\n', 0, "unknown section 'user'"),
        ('[defaults]\nrole = "viewer"\nvendors = "atlas_cx"\n', 2, "unknown key 'vendors'"),
        ('[defaults]\nrole = "viewer"\nvendor = ""\n', 2, "vendor is empty"),
        ('[defaults]\nvendor = "atlas_cx"\n', 0, "no role"),
        ('[defaults]\nrole = "owner"\n', 1, "role 'owner'"),
    ],
)
def test_access_file_mistakes_stop_with_a_message_naming_the_line(tmp_path: Path, text: str, line: int, says: str):
    path = tmp_path / "access.toml"
    path.write_text(POLICY + text)
    with pytest.raises(SourceError) as caught:
        load_access_policy(path)
    message = str(caught.value)
    assert f"{path} line {FIRST_LINE + line}:" in message and says in message and "Fix:" in message
    assert "kim@atlas.example" not in message.lower()  # an access file error may be shown before sign-in


def test_the_example_access_file_is_valid_and_comments_do_not_count(tmp_path: Path, data_dir: Path):
    example = Path(__file__).resolve().parent.parent / "config" / "access.example.toml"
    load_access_policy(example).check_vendors(set(load_dataset(data_dir / "demo").tables["tickets"]["vendor"]))
    path = tmp_path / "access.toml"
    path.write_text('[defaults]\nrole = "viewer"\n# vendor = "atlas_cx"\nvendor = "atlas"\n')
    with pytest.raises(SourceError, match=f"{path} line 4:"):
        load_access_policy(path).check_vendors({"atlas_cx"})


def test_a_top_level_key_is_refused_naming_its_line(tmp_path: Path):
    path = tmp_path / "access.toml"
    path.write_text('vendor = "atlas_cx"\n' + POLICY)  # before any section: it would be for everyone
    with pytest.raises(SourceError, match=f"{path} line 1: unknown key 'vendor'"):
        load_access_policy(path)


def test_defaults_vendor_scopes_unlisted_users_and_never_widens(tmp_path: Path):
    path = tmp_path / "access.toml"
    path.write_text(POLICY + '[defaults]\nrole = "viewer"\nvendor = "atlas_cx"\n')
    policy = load_access_policy(path)
    assert policy.user("someone@atlas.example") == User("someone@atlas.example", "viewer", "atlas_cx")
    assert policy.user("ana@example.com").vendor is None  # listed users keep their own entry


def test_vendors_the_source_does_not_have_are_refused_naming_the_line(tmp_path: Path):
    path = tmp_path / "access.toml"
    path.write_text(
        POLICY + '[users."kim@x.example"]\nrole = "viewer"\nvendor = "atlas-cx"\n'
        '[defaults]\nrole = "viewer"\nvendor = "harbour"\n'
    )
    policy = load_access_policy(path)
    with pytest.raises(SourceError) as caught:
        policy.check_vendors({"atlas_cx", "harbor_trust"})
    message = str(caught.value)
    assert f"line {FIRST_LINE + 2}" in message and f"line {FIRST_LINE + 5}" in message
    assert f"line {FIRST_LINE - 3}" not in message  # lee's atlas_cx is known
    policy.check_vendors({"atlas_cx", "atlas-cx", "harbour"})  # all known: no error


def test_the_dashboard_check_refuses_a_vendor_the_source_does_not_have(policy_file: Path, data_dir: Path):
    from dashboard.access import check_access_vendors

    vendors = load_dataset(data_dir / "demo").tables["tickets"]["vendor"].drop_nulls().unique().to_list()
    check_access_vendors(vendors)  # atlas_cx is a demo vendor
    policy_file.write_text(POLICY.replace('vendor = "atlas_cx"', 'vendor = "atlas"'))
    with pytest.raises(SourceError, match=f"{policy_file} line {FIRST_LINE - 3}: this vendor is not a vendor"):
        check_access_vendors(vendors)


@pytest.mark.parametrize(
    ("claims", "refused"),
    [
        ({"email": "ana@example.com", "email_verified": False}, True),
        ({"email": "ana@example.com", "email_verified": "false"}, True),
        ({"email": "ana@example.com", "email_verified": "FALSE"}, True),
        ({"email": "ana@example.com", "email_verified": None}, True),
        ({"email": "ana@example.com", "email_verified": True}, False),
        ({"email": "ana@example.com", "email_verified": "true"}, False),
        ({"email": "ana@example.com"}, False),  # many providers omit the claim
    ],
)
def test_sign_ins_whose_e_mail_is_not_verified_are_refused(claims: dict, refused: bool):
    reason = sign_in_refusal(claims)
    assert (reason is not None) == refused
    if refused:
        assert "not verified" in reason


def test_the_dashboard_refuses_an_unverified_e_mail(policy_file: Path):
    at = AppTest.from_function(_app, args=("overview",), default_timeout=180)
    at.user = {"is_logged_in": True, "email": "ana@example.com", "email_verified": False}
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "test"}
    at.run()
    assert not at.exception and "not verified" in at.error[0].value and not at.metric
    assert at.button(key="access.logout") is not None


def test_an_invalid_access_file_stops_the_app_naming_the_line(policy_file: Path):
    policy_file.write_text(POLICY + '[users."kim@atlas.example"]\nrole = "viewer"\nVendor = "atlas_cx"\n')
    at = signed_in("overview", "kim@atlas.example")
    assert f"line {FIRST_LINE + 2}:" in at.error[0].value and "unknown key 'Vendor'" in at.error[0].value
    assert not at.metric


def test_scope_keeps_only_the_vendors_rows(data_dir: Path):
    ds = load_dataset(data_dir / "demo")
    scoped = scope(ds, "atlas_cx")
    assert set(held_rows(scoped)["vendor"].unique()) == {"atlas_cx"}
    assert set(small_table(scoped, "staffing")["vendor"].unique()) == {"atlas_cx"}
    assert set(small_table(scoped, "qa_reviews")["vendor"].unique()) == {"atlas_cx"}
    expected = ds.tables["tickets"].filter(pl.col("vendor") == "atlas_cx").height
    assert held_rows(scoped).height == scoped.reports["tickets"].rows_loaded == expected
    assert scoped.signature == f"{ds.signature}:atlas_cx"
    assert small_table(scoped, "platform_metrics").height == ds.tables["platform_metrics"].height


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
    viewer.segmented_control(key="forecast.section").set_value("scenarios").run()
    assert not [f for f in viewer.get("form")] and any("for planners" in c.value for c in viewer.caption)
    planner = signed_in("forecast", "pat@example.com")
    planner.segmented_control(key="forecast.section").set_value("scenarios").run()
    assert planner.text_input(key="scenario.author").value == "pat@example.com"


def test_exports_built_for_a_vendor_scoped_user_name_no_other_vendor(data_dir: Path):
    import datetime as dt

    from forecasting.plan import Scenario
    from forecasting.planner import capacity_plan, forecast_view
    from queries.analyses.spikes import detect_spikes
    from queries.analyses.transparency import transparency_figures, transparency_html
    from queries.analyses.vendors import scorecard
    from queries.export import safe_csv
    from queries.filters import Filters

    ds = scope(load_dataset(data_dir / "demo"), "atlas_cx")
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


def test_a_scoped_report_shows_the_freshness_of_the_vendors_own_rows(tmp_path: Path):
    rows = [
        ("a", "2026-01-01 10:00:00", "atlas_cx"),
        ("b", "2026-01-03 09:00:00", "harbor_trust"),  # the newest ticket of all: another vendor's
        ("c", "2026-01-02 08:30:00", "atlas_cx"),
    ]
    (tmp_path / "tickets.csv").write_text(
        "ticket_id,created_at,vendor\n" + "".join(",".join(r) + "\n" for r in rows), encoding="utf-8"
    )
    ds = load_dataset(tmp_path)
    assert str(ds.reports["tickets"].latest) == "2026-01-03 09:00:00"
    scoped = scope(ds, "atlas_cx").reports["tickets"]
    assert str(scoped.latest) == "2026-01-02" and scoped.rows_in_future == 0  # the day: rollups keep no finer
