"""The Scenarios section of Forecast & capacity: vendor scope, authors shown to admins only, and store faults
that leave the rest of the page working."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from forecasting.plan import Hiring, Scenario
from forecasting.scenarios import ScenarioStore
from tests.apptest import DEMO_END, _app, link, metrics_by_label, run, widget

POLICY = """
[users."ana@example.com"]
role = "admin"
[users."pat@example.com"]
role = "planner"
[users."lee@atlas.example"]
role = "viewer"
vendor = "atlas_cx"
[users."kim@atlas.example"]
role = "planner"
vendor = "atlas_cx"
"""
SAVED = {  # name: (scope, scenario, author)
    "atlas hires": ("atlas_cx", Scenario(hiring=(Hiring("atlas_cx", 3, 2, 6),)), "kim@atlas.example"),
    "harbor to meridian": (
        None,
        Scenario(vendor_shift=(("harbor_trust", "meridian_review", 0.3),)),
        "pat@example.com",
    ),
    "sentinel hires": ("sentinel_ops", Scenario(hiring=(Hiring("sentinel_ops", 2, 1, 4),)), "joe@sentinel.example"),
    "plain uplift": (None, Scenario(volume_uplift=0.3), "pat@example.com"),
}
SCENARIOS = {"forecast.section": "scenarios"}  # the link to the page's Scenarios section


@pytest.fixture
def store_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, app_env) -> str:
    url = f"sqlite:///{tmp_path / 'scenarios.db'}"
    monkeypatch.setenv("BELLWETHER_SCENARIO_URL", url)
    return url


@pytest.fixture
def saved(store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    for name, (scope, scenario, author) in SAVED.items():
        ScenarioStore(store_url, scope=scope).save(name, scenario, author)
    path = tmp_path / "access.toml"
    path.write_text(POLICY)
    monkeypatch.setenv("BELLWETHER_ACCESS", str(path))
    return store_url


def signed_in(email: str, params: dict | None = None) -> AppTest:
    """The Scenarios section for `email`, opened on the link's `params` (by default the section's own link)."""
    at = AppTest.from_function(_app, args=("forecast",), default_timeout=180)
    at.user = {"is_logged_in": True, "email": email}
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "test"}
    at.query_params.update(params or SCENARIOS)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _saved_table(at: AppTest):
    return next(d.value for d in at.dataframe if "version" in d.value.columns)


def _compared(at: AppTest) -> list[str]:
    """The scenarios in the comparison table, in its column order (after the figure names)."""
    return list(next(d.value for d in at.dataframe if "measure" in d.value.columns).columns[1:])


def test_a_scoped_user_sees_and_loads_only_their_scope_without_authors(saved: str):
    at = signed_in("lee@atlas.example")
    table = _saved_table(at)
    assert table["name"].tolist() == ["atlas hires"] and "author" not in table.columns
    assert at.selectbox(key="scenario.pick").options == ["atlas hires v1"]
    shown = "\n".join([table.to_csv(), *(str(w.options) for w in (*at.selectbox, *at.multiselect))])
    assert "@" not in shown and "harbor" not in shown and "sentinel" not in shown
    at.multiselect(key="scenario.compare").set_value([("atlas hires", 1, "atlas_cx")]).run()
    assert not at.exception and _compared(at) == ["Baseline (no what-if)", "atlas hires v1", "Current controls"]
    # (A name typed past the widget is refused by the store itself: tests/test_scenario_store.py.)


def test_a_scoped_planner_saves_into_their_scope(saved: str):
    at = signed_in("kim@atlas.example")
    at.text_input(key="scenario.name").set_value("atlas plan")
    at.button[0].click().run()  # the form's submit button
    assert not at.exception and any("Saved 'atlas plan' as version 1" in s.value for s in at.success)
    assert ScenarioStore(saved, scope="atlas_cx").load("atlas plan").scenario is not None
    assert "atlas plan" not in ScenarioStore(saved, scope="sentinel_ops").list()["name"].to_list()


def test_only_admins_see_who_saved_a_scenario(saved: str):
    admin = _saved_table(signed_in("ana@example.com"))
    assert set(admin["name"]) == set(SAVED) and "joe@sentinel.example" in admin["author"].tolist()
    planner = _saved_table(signed_in("pat@example.com"))
    assert set(planner["name"]) == set(SAVED) and "author" not in planner.columns


SAME_NAME = {"sentinel_ops": 0.2, None: 0.3, "atlas_cx": 0.1}  # scope: volume uplift of its "Q3 plan", in saving order


@pytest.fixture
def same_name(saved: str) -> str:
    """Three scopes (one of them unscoped) that each saved a scenario called "Q3 plan"."""
    for scope, uplift in SAME_NAME.items():
        ScenarioStore(saved, scope=scope).save("Q3 plan", Scenario(volume_uplift=uplift), "someone@example.com")
    return saved


def test_an_admin_tells_same_named_scenarios_of_different_scopes_apart(same_name: str):
    at = signed_in("ana@example.com")
    table = _saved_table(at)
    q3 = table[table["name"] == "Q3 plan"]
    assert sorted(q3["scope"].fillna("").tolist()) == ["", "atlas_cx", "sentinel_ops"] and set(q3["version"]) == {1}
    pick = at.selectbox(key="scenario.pick")
    assert {"Q3 plan v1 (sentinel_ops)", "Q3 plan v1", "Q3 plan v1 (atlas_cx)"} <= set(pick.options)
    assert len(set(pick.options)) == len(pick.options)
    pick.set_value(("Q3 plan", 1, "sentinel_ops")).run()
    at.button(key="scenario.load").click().run()
    assert not at.exception and at.slider(key="scenario.volume").value == 20
    assert at.query_params["scenario.volume"] == "20"  # a loaded scenario is in the link like any other view
    at.selectbox(key="scenario.pick").set_value(("Q3 plan", 1, None)).run()
    at.button(key="scenario.load").click().run()
    assert not at.exception and at.slider(key="scenario.volume").value == 30
    at.multiselect(key="scenario.compare").set_value([("Q3 plan", 1, "atlas_cx"), ("Q3 plan", 1, None)]).run()
    assert _compared(at) == ["Baseline (no what-if)", "Q3 plan v1 (atlas_cx)", "Q3 plan v1", "Current controls"]


def test_a_scoped_user_sees_their_own_version_numbers_and_no_scope_column(same_name: str):
    at = signed_in("kim@atlas.example")
    table = _saved_table(at)
    assert "scope" not in table.columns and table["version"].tolist() == [1, 1]
    assert at.selectbox(key="scenario.pick").options == ["Q3 plan v1", "atlas hires v1"]
    at.button(key="scenario.load").click().run()
    assert not at.exception and at.slider(key="scenario.volume").value == 10


PICKERS = ("scenario.pick", "scenario.compare", "scenario.review")


def _picked(at: AppTest) -> dict:
    """The versions picked to load, compared and reviewed, as (name, version, scope); None: no review."""

    def key(value) -> tuple | None:
        return None if value == "none" else tuple(value)

    return {
        "scenario.pick": key(at.selectbox(key="scenario.pick").value),
        "scenario.compare": [key(v) for v in at.multiselect(key="scenario.compare").value],
        "scenario.review": key(at.selectbox(key="scenario.review").value),
    }


def _warnings(at: AppTest) -> str:
    return " ".join(w.value for w in at.warning)


def test_the_picked_compared_and_reviewed_versions_are_in_the_link_and_a_link_loads_nothing(same_name: str):
    at = signed_in("ana@example.com")
    chosen = {
        "scenario.pick": ("Q3 plan", 1, "atlas_cx"),
        "scenario.compare": [("Q3 plan", 1, "sentinel_ops"), ("plain uplift", 1, None)],
        "scenario.review": ("harbor to meridian", 1, None),
    }
    at.selectbox(key="scenario.pick").set_value(chosen["scenario.pick"])
    at.multiselect(key="scenario.compare").set_value(chosen["scenario.compare"])
    at.selectbox(key="scenario.review").set_value(chosen["scenario.review"])
    at.run()
    assert not at.exception and _picked(at) == chosen
    shared = link(at)
    # The link names each version as name:version[:scope], whoever opens it.
    assert shared["scenario.pick"] == "Q3 plan:1:atlas_cx" and shared["scenario.review"] == "harbor to meridian:1"
    assert shared["scenario.compare"] == ["Q3 plan:1:sentinel_ops", "plain uplift:1"]
    again = signed_in("ana@example.com", shared)
    assert not again.exception and _picked(again) == chosen and not again.warning, _warnings(again)
    assert (
        _compared(again)
        == _compared(at)
        == [
            "Baseline (no what-if)",
            "Q3 plan v1 (sentinel_ops)",
            "plain uplift v1",
            "Current controls",
        ]
    )
    assert any("saved before plans were recorded" in i.value for i in again.info)  # the review is open again
    # Picking is not loading: the link keeps the controls as they were (loading stays a click on Load).
    assert again.slider(key="scenario.volume").value == 0
    again.button(key="scenario.load").click().run()
    assert again.slider(key="scenario.volume").value == 10 and link(again)["scenario.pick"] == shared["scenario.pick"]


def test_unknown_or_unseen_versions_in_a_link_are_named_in_a_warning_without_revealing_others(same_name: str):
    params = SCENARIOS | {
        "scenario.pick": "nope:1",
        "scenario.compare": ["Q3 plan:1:atlas_cx", "sentinel hires:1:sentinel_ops", "Q3 plan:9:atlas_cx"],
        "scenario.review": "gone:1",
    }
    at = signed_in("kim@atlas.example", params)
    assert not at.exception
    text = _warnings(at)
    for key, bad in (
        ("scenario.pick", "nope:1"),
        ("scenario.compare", "sentinel hires:1:sentinel_ops"),
        ("scenario.compare", "Q3 plan:9:atlas_cx"),
        ("scenario.review", "gone:1"),
    ):
        assert f"`{key}`" in text and repr(bad) in text, (key, text)
    assert "harbor" not in text and "plain uplift" not in text  # the warning does not list what others saved
    assert _picked(at) == {
        "scenario.pick": ("Q3 plan", 1, "atlas_cx"),
        "scenario.compare": [("Q3 plan", 1, "atlas_cx")],
        "scenario.review": None,
    }
    assert link(at)["scenario.compare"] in ("Q3 plan:1:atlas_cx", ["Q3 plan:1:atlas_cx"])


def test_a_link_comparing_more_than_three_versions_compares_the_first_three_and_says_so(same_name: str):
    four = ["Q3 plan:1:sentinel_ops", "Q3 plan:1", "Q3 plan:1:atlas_cx", "plain uplift:1"]
    at = signed_in("ana@example.com", SCENARIOS | {"scenario.compare": four})
    assert not at.exception, [e.value for e in at.exception]
    assert "`scenario.compare`" in _warnings(at) and "first 3" in _warnings(at)
    assert [str(k) for k in at.multiselect(key="scenario.compare").value] == four[:3]
    assert link(at)["scenario.compare"] == four[:3]


def test_an_empty_store_names_the_links_versions_in_a_warning(store_url: str):
    at = run("forecast", SCENARIOS | {"scenario.compare": "Q3 plan:1", "scenario.review": "Q3 plan:2"})
    text = _warnings(at)
    assert "`scenario.compare`" in text and "`scenario.review`" in text and "'Q3 plan:2'" in text


def test_the_expected_event_in_the_link_reopens_with_its_market_days_and_uplift(app_env):
    at = run("forecast", SCENARIOS)
    at.selectbox(key="scenario.event_domain").set_value("youth_safety").run()  # enables the event's other controls
    chosen = {
        "scenario.event_market": "DE",
        "scenario.event_start": DEMO_END + dt.timedelta(days=8),
        "scenario.event_end": DEMO_END + dt.timedelta(days=20),
        "scenario.event_uplift": 120,
    }
    at.selectbox(key="scenario.event_market").set_value(chosen["scenario.event_market"])
    at.date_input(key="scenario.event_start").set_value(chosen["scenario.event_start"])
    at.date_input(key="scenario.event_end").set_value(chosen["scenario.event_end"])
    at.slider(key="scenario.event_uplift").set_value(chosen["scenario.event_uplift"])
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    chosen["scenario.event_domain"] = "youth_safety"
    shared = link(at)
    assert (
        shared["scenario.event_start"] == str(chosen["scenario.event_start"])
        and shared["scenario.event_market"] == "DE"
    )
    again = run("forecast", shared)
    assert {k: widget(again, k).value for k in chosen} == chosen == {k: widget(at, k).value for k in chosen}
    assert not again.warning, _warnings(again)


def _other_sections_still_work(at: AppTest) -> None:
    """The store's fault stays in the Scenarios section: the forecast and the plan still draw (in the same session)."""
    assert not at.exception, [e.value for e in at.exception]
    for section, tile, charts in (("capacity", "Worst week: surplus / deficit", 3), ("forecast", "Model", 2)):
        at.segmented_control(key="forecast.section").set_value(section).run()
        assert not at.exception, [e.value for e in at.exception]
        assert tile in metrics_by_label(at) and len(at.get("plotly_chart")) == charts and not at.error, section


def test_a_locked_store_shows_a_panel_in_the_scenarios_section_and_the_rest_of_the_page(store_url: str):
    path = store_url.removeprefix("sqlite:///")
    ScenarioStore(store_url, scope=None).save("kept", Scenario(), "ana")
    lock = sqlite3.connect(path, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        at = run("forecast", SCENARIOS)
        assert any("is busy" in e.value and path in e.value for e in at.error)
        _other_sections_still_work(at)
    finally:
        lock.rollback()
        lock.close()


def test_a_read_only_store_lists_and_saving_says_so(store_url: str, monkeypatch: pytest.MonkeyPatch):
    path = store_url.removeprefix("sqlite:///")
    ScenarioStore(store_url, scope=None).save("kept", Scenario(), "ana")
    monkeypatch.setenv("BELLWETHER_SCENARIO_URL", f"sqlite:///file:{path}?mode=ro&uri=true")
    at = run("forecast", SCENARIOS)
    at.text_input(key="scenario.name").set_value("new plan")
    at.button[0].click().run()
    assert any("read-only" in e.value for e in at.error) and not at.success
    assert _saved_table(at)["name"].tolist() == ["kept"]
    _other_sections_still_work(at)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("sqlite:///{tmp}/missing/folder/scenarios.db", "does not exist"),
        ("postgresql+psycopg://bob:s3cret@127.0.0.1:1/scenarios", "cannot be opened"),
    ],
)
def test_a_store_that_cannot_be_opened_leaves_the_rest_of_the_page(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, says: str
):
    monkeypatch.setenv("BELLWETHER_SCENARIO_URL", url.format(tmp=tmp_path))
    at = run("forecast", SCENARIOS)
    errors = [e.value for e in at.error]
    assert any(says in e for e in errors) and not any("s3cret" in e for e in errors)
    _other_sections_still_work(at)
