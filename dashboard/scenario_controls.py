"""What-if controls for planners, and the panel that saves, loads and compares scenarios."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard import loaders
from dashboard.context import PageContext
from dashboard.settings import scenario_store_url
from forecasting.plan import Hiring, Scenario
from forecasting.scenarios import ScenarioStore
from queries.export import safe_csv

NONE = "(none)"
HIRING_COLUMNS = {"vendor": pl.String, "fte": pl.Float64, "start_week": pl.Int64, "ramp_weeks": pl.Int64}


def scenario_controls(ctx: PageContext) -> Scenario:
    """Planner controls (widget keys `scenario.*`); results update as they change."""
    domains, vendors = (
        loaders.dimension_values(ctx.dataset, ctx.signature, c) if ctx.dataset.has("tickets", c) else []
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
    """Save the current controls by name, reload a saved version, compare up to three, export CSV."""
    store = ScenarioStore(scenario_store_url())
    if ctx.user.can_save_scenarios:
        with st.form("scenario.save_form", clear_on_submit=False):
            c1, c2 = st.columns(2)
            name = c1.text_input("Scenario name", key="scenario.name")
            author = c2.text_input("Your name", ctx.user.name, key="scenario.author")
            if st.form_submit_button("Save as new version") and name.strip():
                version = store.save(name, scenario, author)
                st.success(f"Saved {name.strip()!r} as version {version}. Earlier versions are kept.")
    else:
        st.caption("Saving scenarios is for planners and admins; you can load and compare saved ones.")
    saved = store.list()
    if saved.is_empty():
        st.caption("No saved scenarios yet.")
        return
    st.dataframe(saved, hide_index=True, key="scenario.saved")
    labels = [f"{n} v{v}" for n, v in saved.select("name", "version").iter_rows()]
    c1, c2 = st.columns([3, 1])
    c1.selectbox("Load into the controls", labels, key="scenario.pick")
    c2.button("Load", key="scenario.load", on_click=_load_picked, args=(store,))
    compare = st.multiselect("Compare side by side (up to 3)", labels, max_selections=3, key="scenario.compare")
    if compare:
        rows = []
        for label in compare:
            name, _, version = label.rpartition(" v")
            plan = loaders.capacity_plan(
                ctx.dataset, ctx.signature, ctx.filters, weeks * 7, store.load(name, int(version)).scenario
            )
            rows.append({"scenario": label, **_plan_summary(plan)})
        rows.append(
            {
                "scenario": "current controls",
                **_plan_summary(loaders.capacity_plan(ctx.dataset, ctx.signature, ctx.filters, weeks * 7, scenario)),
            }
        )
        comparison = pl.DataFrame(rows)
        st.dataframe(comparison, hide_index=True, key="scenario.comparison")
        st.download_button("Download comparison (CSV)", safe_csv(comparison), "scenario-comparison.csv", "text/csv")


def _load_picked(store: ScenarioStore) -> None:
    """Button callback: runs before the controls are drawn, so it may set their values."""
    name, _, version = st.session_state["scenario.pick"].rpartition(" v")
    apply_scenario(store.load(name, int(version)).scenario)


def _plan_summary(plan: pl.DataFrame) -> dict[str, float]:
    if plan.is_empty():  # the source has no staffing: nothing to compare
        return {}
    weekly = plan.group_by("week").agg(pl.col("required_fte", "supply_fte", "gap_fte").sum())
    return {
        "required_fte_avg": weekly["required_fte"].mean(),
        "supply_fte_avg": weekly["supply_fte"].mean(),
        "worst_week_gap_fte": weekly["gap_fte"].min(),
        "vendor_weeks_in_deficit": plan.filter(pl.col("gap_fte") < 0).height,
        "backlog_hours_at_end": plan.sort("week")
        .group_by("vendor")
        .agg(pl.col("backlog_hours_end").last())["backlog_hours_end"]
        .sum(),
        "projected_sla": plan["sla_projected"].drop_nulls().mean(),
    }
