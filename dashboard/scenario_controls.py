"""What-if controls for planners, and the panel that saves, loads and compares scenarios."""

from __future__ import annotations

import functools

import polars as pl
import streamlit as st

from dashboard import loaders
from dashboard.components import error_panel
from dashboard.context import PageContext
from dashboard.settings import scenario_store_url
from forecasting.plan import Hiring, Scenario, plan_headline
from forecasting.scenarios import ScenarioStore
from queries.errors import SourceError
from queries.export import safe_csv

NONE = "(none)"
SavedKey = tuple[str, int, str | None]  # a saved version: name, version, scope it was saved under (None: unscoped)
HIRING_COLUMNS = {"vendor": pl.String, "fte": pl.Float64, "start_week": pl.Int64, "ramp_weeks": pl.Int64}


def scenario_controls(ctx: PageContext) -> Scenario:
    """Planner controls (widget keys `scenario.*`); results update as they change."""
    domains, vendors = (
        loaders.dimension_values(ctx.dataset, c) if ctx.dataset.has("tickets", c) else []
        for c in ("policy_domain", "vendor")
    )
    c1, c2, c3, c4 = st.columns(4)
    volume = c1.slider("Volume change (%)", -50, 200, 0, step=5, key="scenario.volume")
    automation = c2.slider("Automation share change (pts)", -30, 30, 0, key="scenario.automation")
    aht = c3.slider("Handle time change (%)", -50, 100, 0, step=5, key="scenario.aht")
    sla_hours = c4.number_input(
        "SLA window for deferred work (h)", 1.0, 168.0, 24.0, step=1.0, key="scenario.sla_hours"
    )
    c1, c2, c3, c4 = st.columns(4)
    shrinkage = c1.slider("Shrinkage", 0.0, 0.6, 0.32, step=0.01, key="scenario.shrinkage")
    occupancy = c2.slider("Occupancy cap", 0.5, 1.0, 0.85, step=0.01, key="scenario.occupancy")
    attrition = c3.slider("Attrition (share per year)", 0.0, 1.0, 0.40, step=0.05, key="scenario.attrition")
    cap = c4.number_input(
        "Wellbeing cap: graphic-content hours per reviewer per day (0 = none)",
        0.0,
        8.0,
        0.0,
        step=0.5,
        key="scenario.exposure_cap",
    )
    c1, c2, c3 = st.columns(3)
    event_domain = c1.selectbox("Event uplift: policy domain", [NONE, *domains], key="scenario.event_domain")
    event_uplift = c2.slider(
        "Event uplift (%)", 0, 300, 40, step=10, key="scenario.event_uplift", disabled=event_domain == NONE
    )
    shift_share = c3.slider("Shift work between vendors (%)", 0, 100, 0, step=5, key="scenario.shift_share")
    c1, c2 = st.columns(2)
    shift_from = c1.selectbox("from vendor", vendors or [NONE], key="scenario.shift_from", disabled=not shift_share)
    shift_to = c2.selectbox("to vendor", vendors or [NONE], key="scenario.shift_to", disabled=not shift_share)
    st.caption("Hiring plan: new FTE per vendor, the horizon week they start (1 = first) and weeks to full speed.")
    rows = st.session_state.get("scenario.hiring_rows", pl.DataFrame(schema=HIRING_COLUMNS))
    edited = st.data_editor(
        rows.to_pandas(),
        num_rows="dynamic",
        key=f"scenario.hiring.{st.session_state.get('scenario.hiring_version', 0)}",
        column_config={
            "vendor": st.column_config.SelectboxColumn("Vendor", options=vendors, required=True),
            "fte": st.column_config.NumberColumn("FTE", min_value=0.0, step=0.5, required=True),
            "start_week": st.column_config.NumberColumn("Start week", min_value=1, max_value=12, step=1, default=1),
            "ramp_weeks": st.column_config.NumberColumn("Ramp (weeks)", min_value=0, max_value=26, step=1, default=6),
        },
    )
    hiring = tuple(
        Hiring(str(r["vendor"]), float(r["fte"]), int(r["start_week"] or 1), int(r["ramp_weeks"] or 0))
        for r in edited.to_dict("records")
        if r.get("vendor") and r.get("fte") == r.get("fte") and r.get("fte")
    )
    return Scenario(
        volume_uplift=volume / 100,
        uplift_by_domain=((event_domain, event_uplift / 100),) if event_domain != NONE else (),
        automation_change=automation / 100,
        handle_time_change=aht / 100,
        shrinkage=shrinkage,
        max_occupancy=occupancy,
        sla_hours=sla_hours,
        attrition_annual=attrition,
        hiring=hiring,
        vendor_shift=((shift_from, shift_to, shift_share / 100),) if shift_share and shift_from != shift_to else (),
        exposure_cap_hours=cap or None,
    )


def apply_scenario(scenario: Scenario) -> None:
    """Put a saved scenario into the controls (before they are drawn on the next run)."""
    st.session_state["scenario.volume"] = round(scenario.volume_uplift * 100)
    st.session_state["scenario.automation"] = round(scenario.automation_change * 100)
    st.session_state["scenario.aht"] = round(scenario.handle_time_change * 100)
    st.session_state["scenario.sla_hours"] = float(scenario.sla_hours)
    st.session_state["scenario.shrinkage"] = scenario.shrinkage
    st.session_state["scenario.occupancy"] = scenario.max_occupancy
    st.session_state["scenario.attrition"] = scenario.attrition_annual
    st.session_state["scenario.exposure_cap"] = float(scenario.exposure_cap_hours or 0.0)
    domain, uplift = scenario.uplift_by_domain[0] if scenario.uplift_by_domain else (NONE, 0.4)
    st.session_state["scenario.event_domain"] = domain
    st.session_state["scenario.event_uplift"] = round(uplift * 100)
    source, target, share = scenario.vendor_shift[0] if scenario.vendor_shift else (None, None, 0.0)
    st.session_state["scenario.shift_share"] = round(share * 100)
    if source:
        st.session_state["scenario.shift_from"], st.session_state["scenario.shift_to"] = source, target
    st.session_state["scenario.hiring_rows"] = (
        pl.DataFrame([h.__dict__ for h in scenario.hiring], schema=HIRING_COLUMNS, orient="row")
        if scenario.hiring
        else pl.DataFrame(schema=HIRING_COLUMNS)
    )
    st.session_state["scenario.hiring_version"] = st.session_state.get("scenario.hiring_version", 0) + 1


def scenario_store_panel(ctx: PageContext, scenario: Scenario, weeks: int) -> None:
    """Save the current controls by name, reload a saved version, compare up to three, export CSV.

    The store shows only the scenarios of the user's vendor scope; who saved them is shown to admins only.
    Unscoped users see every scope's scenarios, so the scope is shown to them and names the versions they pick.
    A store fault (locked, read-only, unreachable) is an error panel here: the rest of the page still works.
    """
    try:
        store = ScenarioStore(scenario_store_url(), scope=ctx.user.vendor)
        if ctx.user.can_save_scenarios:
            _save_form(ctx, store, scenario)
        else:
            st.caption("Saving scenarios is for planners and admins; you can load and compare saved ones.")
        saved = store.list()
    except SourceError as exc:
        _store_error("Saved scenarios are not available", ctx, exc)
        return
    if failed := st.session_state.pop("scenario.load_error", None):
        error_panel("Could not load the scenario", failed)
    if saved.is_empty():
        st.caption("No saved scenarios yet.")
        return
    hidden = [] if ctx.user.sees_other_users else ["author"]
    if ctx.user.vendor is not None:
        hidden.append("scope")  # always the user's own
    st.dataframe(saved.drop(hidden), hide_index=True, key="scenario.saved")
    keys: list[SavedKey] = list(saved.select("name", "version", "scope").iter_rows())
    label = functools.partial(_label, ctx)
    c1, c2 = st.columns([3, 1])
    c1.selectbox("Load into the controls", keys, format_func=label, key="scenario.pick")
    c2.button("Load", key="scenario.load", on_click=_load_picked, args=(store, ctx))
    compare = st.multiselect(
        "Compare side by side (up to 3)", keys, format_func=label, max_selections=3, key="scenario.compare"
    )
    if compare:
        try:
            _comparison(ctx, store, scenario, weeks, compare)
        except SourceError as exc:
            _store_error("Could not compare the scenarios", ctx, exc)


def _save_form(ctx: PageContext, store: ScenarioStore, scenario: Scenario) -> None:
    """Name and save the current controls as a new version; a store fault is an error panel under the form."""
    with st.form("scenario.save_form", clear_on_submit=False):
        c1, c2 = st.columns(2)
        name = c1.text_input("Scenario name", key="scenario.name")
        author = c2.text_input("Your name", ctx.user.name, key="scenario.author")
        if st.form_submit_button("Save as new version") and name.strip():
            try:
                version = store.save(name, scenario, author)
            except SourceError as exc:
                _store_error("Could not save the scenario", ctx, exc)
            else:
                st.success(f"Saved {name.strip()!r} as version {version}. Earlier versions are kept.")


def _label(ctx: PageContext, key: SavedKey) -> str:
    """`name v2`, with the scope when it is not the user's own (`name v2 (atlas_cx)`, for unscoped users)."""
    name, version, scope = key
    return f"{name} v{version}" + (f" ({scope})" if scope != ctx.user.vendor else "")


def _comparison(ctx: PageContext, store: ScenarioStore, scenario: Scenario, weeks: int, keys: list[SavedKey]) -> None:
    """The plan summary of each picked version and of the current controls, with a CSV download."""
    rows = []
    for key in keys:
        name, version, scope = key
        plan = loaders.capacity_plan(
            ctx.dataset, ctx.filters, weeks * 7, store.load(name, version, scope=scope).scenario
        )
        rows.append({"scenario": _label(ctx, key), **_plan_summary(plan)})
    rows.append(
        {
            "scenario": "current controls",
            **_plan_summary(loaders.capacity_plan(ctx.dataset, ctx.filters, weeks * 7, scenario)),
        }
    )
    comparison = pl.DataFrame(rows)
    st.dataframe(comparison, hide_index=True, key="scenario.comparison")
    st.download_button("Download comparison (CSV)", safe_csv(comparison), "scenario-comparison.csv", "text/csv")


def _store_error(title: str, ctx: PageContext, exc: SourceError) -> None:
    error_panel(title, exc.message(with_rows=ctx.user.sees_validation_details))


def _load_picked(store: ScenarioStore, ctx: PageContext) -> None:
    """Button callback: runs before the controls are drawn, so it may set their values."""
    key = st.session_state["scenario.pick"]
    name, version, scope = key
    try:
        apply_scenario(store.load(name, version, scope=scope).scenario)
    except (KeyError, ValueError):  # not saved, outside the user's scope or unreadable: one answer, scope not revealed
        st.session_state["scenario.load_error"] = (
            f"{_label(ctx, key)} is not available to you. Fix: pick one from the list."
        )
    except SourceError as exc:
        st.session_state["scenario.load_error"] = exc.message(with_rows=ctx.user.sees_validation_details)


def _plan_summary(plan: pl.DataFrame) -> dict[str, float | str | None]:
    """The comparison's row: the same figures as the Demand vs supply tiles (forecasting.plan.plan_headline)."""
    if plan.is_empty():  # the source has no staffing: nothing to compare
        return {}
    h = plan_headline(plan)
    return {
        "required_fte_avg": h.required_fte_avg,
        "supply_fte_avg": h.supply_fte_avg,
        "worst_vendor_week_gap_fte": h.worst_gap_fte,
        "worst_vendor_week": f"{h.worst_vendor}, week of {h.worst_week}",
        "vendor_weeks_in_deficit": h.vendor_weeks_in_deficit,
        "backlog_hours_at_end": h.backlog_hours_at_end,
        "projected_sla": h.projected_sla,
    }
