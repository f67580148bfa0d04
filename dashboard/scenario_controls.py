"""What-if controls for planners, and the panel that saves, loads and compares scenarios."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator
from dataclasses import dataclass

import polars as pl
import streamlit as st

from dashboard import loaders
from dashboard.charts.capacity import fte_digits, plan_vs_actual_chart
from dashboard.components import decimal_column, error_panel, share_column, table
from dashboard.context import PageContext
from dashboard.settings import scenario_store_url
from dashboard.url_state import from_url
from forecasting.plan import EventUplift, Hiring, RosterLine, Scenario, plan_headline
from forecasting.plan_actual import PlanRecord, plan_vs_actual
from forecasting.scenarios import SavedScenario, ScenarioStore
from queries.display import NULL_TEXT, display_name, display_value
from queries.errors import SourceError
from queries.export import safe_csv

NONE = "none"  # no event uplift (the link's value); shown as NONE_TEXT
NONE_TEXT = "(none)"
ALL = "all"  # an event in every policy domain, or every market
EVENT_CHOICES = {NONE: NONE_TEXT, ALL: "All policy domains"}
MAX_COMPARED = 3  # saved versions compared side by side


@dataclass(frozen=True)
class SavedKey:
    """A saved version: its name, version and the scope it was saved under (None: unscoped). The link names it as
    "name:version[:scope]", the same text whoever opens the link (one value, not a tuple the link would repeat)."""

    name: str
    version: int
    scope: str | None

    def __str__(self) -> str:
        return f"{self.name}:{self.version}" + (f":{self.scope}" if self.scope else "")

    def __iter__(self) -> Iterator:
        """Unpacks as (name, version, scope), like the rows of the store's list."""
        return iter((self.name, self.version, self.scope))


HIRING_COLUMNS = {"vendor": pl.String, "fte": pl.Float64, "start_week": pl.Int64, "ramp_weeks": pl.Int64}


def _number(key: str, default: float, low: float, high: float, step: float | None = None) -> None:
    """Keep a numeric control in the link: a number from `low` to `high` (a whole number when the default is),
    on the control's steps when it has any."""
    whole = isinstance(default, int)

    def valid(x: float) -> bool:
        on_step = step is None or abs((x - low) / step - round((x - low) / step)) < 1e-9
        return low <= x <= high and on_step

    steps = f" in steps of {step:g}" if step else ""
    kind = "a whole number" if whole else "a number"
    from_url(
        key, default, parse=int if whole else float, valid=valid, expected=f"{kind} from {low:g} to {high:g}{steps}"
    )


def scenario_controls(ctx: PageContext) -> Scenario:
    """Planner controls (widget keys `scenario.*`, each kept in the link); results update as they change."""
    domains, vendors, markets = (
        loaders.dimension_values(ctx.dataset, c) if ctx.dataset.has("tickets", c) else []
        for c in ("policy_domain", "vendor", "market")
    )
    c1, c2, c3, c4 = st.columns(4)
    _number("scenario.volume", 0, -50, 200, 5)
    volume = c1.slider("Volume change (%)", -50, 200, step=5, key="scenario.volume")
    _number("scenario.automation", 0, -30, 30)
    automation = c2.slider("Automation share change (pts)", -30, 30, key="scenario.automation")
    _number("scenario.aht", 0, -50, 100, 5)
    aht = c3.slider("Handle time change (%)", -50, 100, step=5, key="scenario.aht")
    _number("scenario.sla_hours", 24.0, 1.0, 168.0)
    sla_hours = c4.number_input("SLA window for deferred work (h)", 1.0, 168.0, step=1.0, key="scenario.sla_hours")
    c1, c2, c3, c4 = st.columns(4)
    _number("scenario.shrinkage", 0.32, 0.0, 0.6, 0.01)
    shrinkage = c1.slider("Shrinkage", 0.0, 0.6, step=0.01, key="scenario.shrinkage")
    _number("scenario.occupancy", 0.85, 0.5, 1.0, 0.01)
    occupancy = c2.slider("Occupancy cap", 0.5, 1.0, step=0.01, key="scenario.occupancy")
    _number("scenario.attrition", 0.40, 0.0, 1.0, 0.05)
    attrition = c3.slider("Attrition (share per year)", 0.0, 1.0, step=0.05, key="scenario.attrition")
    _number("scenario.exposure_cap", 0.0, 0.0, 8.0)
    cap = c4.number_input(
        "Wellbeing cap: graphic-content hours per reviewer per day (0 = none)",
        0.0,
        8.0,
        step=0.5,
        key="scenario.exposure_cap",
    )
    event = _event(domains, markets)
    c1, c2, c3 = st.columns(3)
    _number("scenario.shift_share", 0, 0, 100, 5)
    shift_share = c1.slider("Shift work between vendors (%)", 0, 100, step=5, key="scenario.shift_share")
    choices = vendors or [NONE]
    from_url("scenario.shift_from", choices[0], options=choices)
    shift_from = c2.selectbox("From vendor", choices, key="scenario.shift_from", disabled=not shift_share)
    from_url("scenario.shift_to", choices[-1], options=choices)
    shift_to = c3.selectbox("To vendor", choices, key="scenario.shift_to", disabled=not shift_share)
    hiring = _hiring_plan(vendors)
    roster = _roster(ctx, vendors, domains, shrinkage)
    return Scenario(
        volume_uplift=volume / 100,
        events=(event,) if event else (),
        automation_change=automation / 100,
        handle_time_change=aht / 100,
        shrinkage=shrinkage,
        max_occupancy=occupancy,
        sla_hours=sla_hours,
        attrition_annual=attrition,
        hiring=hiring,
        vendor_shift=((shift_from, shift_to, shift_share / 100),) if shift_share and shift_from != shift_to else (),
        exposure_cap_hours=cap or None,
        roster=roster,
    )


def _event(domains: list[str], markets: list[str]) -> EventUplift | None:
    """One expected event: a policy domain (or all), a market (or all), days (empty: the whole horizon), uplift."""
    c1, c2, c3, c4, c5 = st.columns([3, 2, 2, 2, 3])
    from_url("scenario.event_domain", NONE, options=[NONE, ALL, *domains])
    domain = c1.selectbox(
        "Event uplift: policy domain",
        [NONE, ALL, *domains],
        key="scenario.event_domain",
        format_func=lambda d: EVENT_CHOICES.get(d) or display_value("policy_domain", d),
    )
    off = domain == NONE
    from_url("scenario.event_market", ALL, options=[ALL, *markets])
    market = c2.selectbox(
        "Market",
        [ALL, *markets],
        key="scenario.event_market",
        format_func=lambda m: "All markets" if m == ALL else display_value("market", m),
        disabled=off or not markets,
    )
    days = {}
    for column, key, label in ((c3, "scenario.event_start", "From"), (c4, "scenario.event_end", "To")):
        from_url(key, None, parse=_optional_day, expected="a date (YYYY-MM-DD) or None for the horizon's edge")
        days[key] = column.date_input(label, key=key, disabled=off, help="Empty: the horizon's start / end.")
    _number("scenario.event_uplift", 40, 0, 300, 10)
    uplift = c5.slider("Event uplift (%)", 0, 300, step=10, key="scenario.event_uplift", disabled=off)
    if off:
        return None
    return EventUplift(
        uplift / 100,
        None if domain == ALL else domain,
        None if market == ALL else market,
        days["scenario.event_start"],
        days["scenario.event_end"],
    )


def _optional_day(text: str) -> dt.date | None:
    """A day of the link, or None (the horizon's edge); ValueError for anything else."""
    return None if text == "None" else dt.date.fromisoformat(text)


# One roster line in the link; empty = as is. The reviewers on the floor came last, optional: older links still read.
ROSTER_TEXT = "vendor:FTE:attrition:shrinkage:domain|domain[:on floor]"
ROSTER_COLUMNS = {
    "vendor": pl.String,
    "fte": pl.Float64,
    "attrition": pl.Float64,
    "shrinkage": pl.Float64,
    "on_floor": pl.Float64,
}


def _roster_from_text(text: str) -> RosterLine:
    """One roster line of the link ("atlas_cx:12.5:0.3::youth_safety|hateful_conduct", optionally ":2" reviewers on
    the floor after it); ValueError if not one."""
    if text.count(":") == 4:  # a line without the floor (older links)
        text += ":"
    vendor, fte, attrition, shrinkage, domains, on_floor = text.rsplit(":", 5)
    numbers = [float(x) if x else None for x in (fte, attrition, shrinkage)]
    floor = float(on_floor) if on_floor else None
    return RosterLine(vendor, *numbers, tuple(domains.split("|")) if domains else None, floor)


def _roster_text(line: RosterLine) -> str:
    numbers = ("" if x is None else f"{x:g}" for x in (line.fte, line.attrition_annual, line.shrinkage))
    text = ":".join((line.vendor, *numbers, "|".join(line.domains or ())))
    return text if line.min_on_floor is None else f"{text}:{line.min_on_floor:g}"


def _set_roster(roster: tuple[RosterLine, ...], vendors: list[str]) -> None:
    """Put roster lines into the table and the skills pickers (a new table: edits to the old one do not apply)."""
    lines = {line.vendor: line for line in roster}
    rows = [
        (v, lines[v].fte, _percent(lines[v].attrition_annual), _percent(lines[v].shrinkage), lines[v].min_on_floor)
        if v in lines
        else (v, None, None, None, None)
        for v in vendors
    ]
    st.session_state["scenario.roster_rows"] = pl.DataFrame(rows, schema=ROSTER_COLUMNS, orient="row")
    st.session_state["scenario.roster_version"] = st.session_state.get("scenario.roster_version", 0) + 1
    for v in vendors:
        st.session_state[f"scenario.skills.{v}"] = list(lines[v].domains or ()) if v in lines else []


def _percent(share: float | None) -> float | None:
    return None if share is None else round(share * 100, 6)


def _roster(ctx: PageContext, vendors: list[str], domains: list[str], shrinkage: float) -> tuple[RosterLine, ...]:
    """The roster table and skills; its lines live in the link as repeated `scenario.roster` (ROSTER_TEXT)."""

    def valid(text: str) -> bool:
        try:
            line = _roster_from_text(text)
        except ValueError:
            return False
        shares = [x for x in (line.attrition_annual, line.shrinkage) if x is not None]
        return (
            line.vendor in vendors
            and all(x is None or x >= 0 for x in (line.fte, line.min_on_floor))
            and all(0 <= x < 1 for x in shares)
            and set(line.domains or ()) <= set(domains)
        )

    seeded = "scenario.roster" not in st.session_state
    from_url("scenario.roster", [], many=True, valid=valid, expected=f"{ROSTER_TEXT} with a vendor of the source")
    rows = st.session_state.get("scenario.roster_rows")
    if seeded or rows is None or rows["vendor"].to_list() != vendors:  # a link's roster, or other vendors
        _set_roster(tuple(_roster_from_text(t) for t in st.session_state["scenario.roster"]), vendors)
        rows = st.session_state["scenario.roster_rows"]
    staffed = loaders.staffed_fte(ctx.dataset, ctx.filters, shrinkage) if vendors else {}
    with st.expander(
        "Roster: headcount, attrition, shrinkage, coverage and skills per vendor",
        expanded=bool(rows["fte"].count() or rows["on_floor"].count()),
    ):
        st.caption(
            "Empty cells keep what the staffing history and the sliders above say. FTE staffed now (last 4 weeks): "
            + ", ".join(f"{display_value('vendor', v)} {fte:.1f}" for v, fte in staffed.items())
            + ". Skills: the policy domains a vendor may review (none picked: as in the history); work no vendor is "
            "skilled for is planned without supply. On the floor: the reviewers a vendor keeps at work every hour "
            "(empty: the staffing table's own minimum, where it records one)."
        )
        names = {display_value("vendor", v): v for v in vendors}  # shown by name, kept by identifier
        edited = st.data_editor(
            rows.with_columns(pl.col("vendor").replace(list(names.values()), list(names))).to_pandas(),
            key=f"scenario.roster_table.{st.session_state.get('scenario.roster_version', 0)}",
            hide_index=True,
            disabled=["vendor"],
            column_config={
                "vendor": st.column_config.TextColumn("Vendor"),
                "fte": st.column_config.NumberColumn("FTE on the roster", min_value=0.0, step=0.5),
                "attrition": st.column_config.NumberColumn("Attrition (% a year)", min_value=0.0, max_value=99.0),
                "shrinkage": st.column_config.NumberColumn("Shrinkage (%)", min_value=0.0, max_value=90.0),
                "on_floor": st.column_config.NumberColumn(
                    "On the floor (reviewers)",
                    min_value=0.0,
                    step=0.25,
                    help="Reviewers the vendor keeps at work every hour of the week, whatever the volume: required "
                    "FTE are at least what that takes (coverage).",
                ),
            },
        )
        columns = st.columns(min(len(vendors), 3) or 1)
        skills = {}
        for i, vendor in enumerate(vendors):
            skills[vendor] = columns[i % len(columns)].multiselect(
                f"{display_value('vendor', vendor)}: skilled for",
                domains,
                key=f"scenario.skills.{vendor}",
                format_func=lambda d: display_value("policy_domain", d),
            )
    roster = []
    for r in edited.to_dict("records"):
        r["vendor"] = names[r["vendor"]]
        cells = (r["fte"], r["attrition"], r["shrinkage"], r["on_floor"])
        fte, attrition, shrink, floor = (None if x is None or x != x else float(x) for x in cells)
        attrition, shrink = (None if x is None else x / 100 for x in (attrition, shrink))
        picked = tuple(skills.get(r["vendor"], ())) or None
        if any(x is not None for x in (fte, attrition, shrink, picked, floor)):
            roster.append(RosterLine(r["vendor"], fte, attrition, shrink, picked, floor))
    st.session_state["scenario.roster"] = [_roster_text(line) for line in roster]
    from_url("scenario.roster", [], many=True)  # the table as it now is, into the link
    return tuple(roster)


HIRING_TEXT = "vendor:FTE:start week:ramp weeks"  # one hire in the link, e.g. atlas_cx:3:2:6


def _hiring_from_text(text: str) -> Hiring:
    """One hire of the link ("atlas_cx:3:2:6"); ValueError when it is not one."""
    vendor, fte, start, ramp = text.rsplit(":", 3)
    return Hiring(vendor, float(fte), int(start), int(ramp))


def _hiring_text(hire: Hiring) -> str:
    return f"{hire.vendor}:{hire.fte:g}:{hire.start_week}:{hire.ramp_weeks}"


def _hiring_plan(vendors: list[str]) -> tuple[Hiring, ...]:
    """The hiring table; its rows live in the link as repeated `scenario.hiring` = vendor:FTE:start week:ramp."""

    def valid(text: str) -> bool:
        try:
            h = _hiring_from_text(text)
        except ValueError:
            return False
        return h.vendor in vendors and h.fte > 0 and 1 <= h.start_week <= 12 and 0 <= h.ramp_weeks <= 26

    seeded = "scenario.hiring" not in st.session_state
    from_url("scenario.hiring", [], many=True, valid=valid, expected=f"{HIRING_TEXT} with a vendor of the source")
    if seeded and st.session_state["scenario.hiring"]:  # a link with a hiring plan: into the table
        _set_hiring_rows(tuple(_hiring_from_text(t) for t in st.session_state["scenario.hiring"]))
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
    st.session_state["scenario.hiring"] = [_hiring_text(h) for h in hiring]
    from_url("scenario.hiring", [], many=True)  # the table as it now is, into the link
    return hiring


def _set_hiring_rows(hiring: tuple[Hiring, ...]) -> None:
    """Put a hiring plan into the table (a new table, so edits made to the old one do not apply)."""
    st.session_state["scenario.hiring_rows"] = (
        pl.DataFrame([h.__dict__ for h in hiring], schema=HIRING_COLUMNS, orient="row")
        if hiring
        else pl.DataFrame(schema=HIRING_COLUMNS)
    )
    st.session_state["scenario.hiring_version"] = st.session_state.get("scenario.hiring_version", 0) + 1


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
    event = scenario.events[0] if scenario.events else EventUplift(0.4, NONE)
    st.session_state["scenario.event_domain"] = event.policy_domain or ALL
    st.session_state["scenario.event_market"] = event.market or ALL
    st.session_state["scenario.event_start"] = event.start
    st.session_state["scenario.event_end"] = event.end
    st.session_state["scenario.event_uplift"] = round(event.uplift * 100)
    source, target, share = scenario.vendor_shift[0] if scenario.vendor_shift else (None, None, 0.0)
    st.session_state["scenario.shift_share"] = round(share * 100)
    if source:
        st.session_state["scenario.shift_from"], st.session_state["scenario.shift_to"] = source, target
    _set_hiring_rows(scenario.hiring)
    st.session_state["scenario.roster"] = [_roster_text(line) for line in scenario.roster]
    st.session_state.pop("scenario.roster_rows", None)  # rebuilt from those lines on the next run


def scenario_store_panel(ctx: PageContext, scenario: Scenario, weeks: int) -> None:
    """Save the current controls by name, reload a saved version, compare up to three, export CSV.

    The store shows only the scenarios of the user's vendor scope; who saved them is shown to admins only.
    Unscoped users see every scope's scenarios, so the scope is shown to them and names the versions they pick.
    A store fault (locked, read-only, unreachable) is an error panel here: the rest of the page still works.
    """
    try:
        store = ScenarioStore(scenario_store_url(), scope=ctx.user.vendor)
        if ctx.user.can_save_scenarios:
            _save_form(ctx, store, scenario, weeks)
        else:
            st.caption("Saving scenarios is for planners and admins; you can load and compare saved ones.")
        saved = store.list()
    except SourceError as exc:
        _store_error("Saved scenarios are not available", ctx, exc)
        return
    if failed := st.session_state.pop("scenario.load_error", None):
        error_panel("Could not load the scenario", failed)
    keys = [SavedKey(*row) for row in saved.select("name", "version", "scope").iter_rows()]
    _saved_choices_from_url(keys)
    if saved.is_empty():
        st.caption("No saved scenarios yet.")
        return
    hidden = [] if ctx.user.sees_other_users else ["author"]
    if ctx.user.vendor is not None:
        hidden.append("scope")  # always the user's own
    table(
        saved.drop(hidden),
        "scenario.saved",
        {"saved_at": st.column_config.DatetimeColumn("Saved", format="YYYY-MM-DD HH:mm")},
    )
    label = functools.partial(_label, ctx)
    c1, c2 = st.columns([3, 1])
    c1.selectbox("Load into the controls", keys, format_func=label, key="scenario.pick")
    c2.button("Load", key="scenario.load", on_click=_load_picked, args=(store, ctx))
    compare = st.multiselect(
        f"Compare side by side (up to {MAX_COMPARED})",
        keys,
        format_func=label,
        max_selections=MAX_COMPARED,
        key="scenario.compare",
    )
    if compare:
        try:
            _comparison(ctx, store, scenario, weeks, compare)
        except SourceError as exc:
            _store_error("Could not compare the scenarios", ctx, exc)
    review = st.selectbox(
        "Plan vs actual: how a saved plan compared with what came",
        [NONE, *keys],
        format_func=lambda k: NONE_TEXT if k == NONE else label(k),
        key="scenario.review",
    )
    if review != NONE:
        try:
            _plan_vs_actual(ctx, store.load(review.name, review.version, scope=review.scope))
        except SourceError as exc:
            _store_error("Could not load the scenario", ctx, exc)


def _saved_choices_from_url(keys: list[SavedKey]) -> None:
    """Keep the versions picked to load, compared and reviewed in the link (as name:version[:scope]). A version the
    link names that this user cannot see is named in a warning; a pick only preselects, loading stays a click."""
    expected = "a saved version you can see, as name:version or name:version:scope"
    if keys:
        from_url("scenario.pick", keys[0], options=keys, expected=expected)
    from_url("scenario.compare", [], options=keys, many=True, expected=expected)
    compared = st.session_state["scenario.compare"]
    if len(compared) > MAX_COMPARED:
        st.warning(
            f"The link's `scenario.compare` names {len(compared)} versions; comparing the first {MAX_COMPARED}.",
            icon=":material/link_off:",
        )
        st.session_state["scenario.compare"] = compared[:MAX_COMPARED]
        from_url("scenario.compare", [], options=keys, many=True)  # the versions compared, into the link
    from_url("scenario.review", NONE, options=[NONE, *keys], expected=expected)


def _plan_vs_actual(ctx: PageContext, saved: SavedScenario) -> None:
    """The saved plan's ended weeks against what arrived and was staffed (forecasting.plan_actual)."""
    if saved.context is None:
        st.info("This version was saved before plans were recorded with their scenario: save it again to follow it.")
        return
    record = PlanRecord.from_dict(saved.context)
    compared = plan_vs_actual(ctx.dataset, record, saved.scenario)
    made_on = f"made on the history up to {record.period_end} for {record.first_day} to {record.last_day}"
    if compared.is_empty():
        st.info(f"{saved.name} v{saved.version} was {made_on}; none of its weeks has ended in the data yet.")
        return
    st.caption(
        f"{saved.name} v{saved.version}, {made_on}: its weeks that have ended, planned against what arrived and was "
        "staffed, all vendors of the plan (the table per vendor)."
    )
    st.plotly_chart(plan_vs_actual_chart(compared), key="scenario.review_chart")
    digits = fte_digits(compared["planned_required_fte"].abs().max() or 0.0)
    fte = {c: decimal_column(display_name(c), digits=digits) for c in compared.columns if c.endswith("_fte")}
    shown = compared.drop("days", "planned_workload_hours", "actual_workload_hours")  # fits at 1,400 px
    table(shown, "scenario.review_table", fte | {"tickets_error": share_column("Tickets vs plan")})


def _save_form(ctx: PageContext, store: ScenarioStore, scenario: Scenario, weeks: int) -> None:
    """Name and save the current controls as a new version, with the period, filters and plan they give (for plan
    vs actual later); a store fault is an error panel under the form."""
    with st.form("scenario.save_form", clear_on_submit=False):
        c1, c2 = st.columns(2)
        name = c1.text_input("Scenario name", key="scenario.name")
        author = c2.text_input("Your name", ctx.user.name, key="scenario.author")
        if st.form_submit_button("Save as new version") and name.strip():
            plan = loaders.capacity_plan(ctx.dataset, ctx.filters, weeks * 7, scenario)
            record = PlanRecord.of(ctx.filters, weeks * 7, plan)
            try:
                version = store.save(name, scenario, author, record.to_dict())
            except SourceError as exc:
                _store_error("Could not save the scenario", ctx, exc)
            else:
                st.success(f"Saved {name.strip()!r} as version {version}. Earlier versions are kept.")


def _label(ctx: PageContext, key: SavedKey) -> str:
    """`name v2`, with the scope when it is not the user's own (`name v2 (atlas_cx)`, for unscoped users)."""
    name, version, scope = key
    return f"{name} v{version}" + (f" ({scope})" if scope != ctx.user.vendor else "")


def _comparison(ctx: PageContext, store: ScenarioStore, scenario: Scenario, weeks: int, keys: list[SavedKey]) -> None:
    """Each picked version and the current controls against the baseline (no what-if): every figure with its
    difference from the baseline, in the figure's unit; the CSV keeps the identifiers and the raw numbers."""
    plans = {BASELINE: Scenario()}
    for key in keys:
        name, version, scope = key
        plans[_label(ctx, key)] = store.load(name, version, scope=scope).scenario
    plans[CURRENT] = scenario
    summaries = {
        label: _plan_summary(loaders.capacity_plan(ctx.dataset, ctx.filters, weeks * 7, s))
        for label, s in plans.items()
    }
    shown = comparison_table(summaries)
    st.caption(
        f"Each figure, then in brackets its difference from the baseline: the plan without any what-if (the controls' "
        f"starting values), over the same {weeks} weeks."
    )
    text = st.column_config.TextColumn
    table(shown, "scenario.comparison", {"measure": text("Figure")} | {c: text(c) for c in shown.columns[1:]})
    st.download_button(
        "Download comparison (CSV)", safe_csv(comparison_export(summaries)), "scenario-comparison.csv", "text/csv"
    )


BASELINE = "Baseline (no what-if)"
CURRENT = "Current controls"
# The figures compared and how each reads: FTE, a count, hours, a share (in %; differences in points) or text.
COMPARED = {
    "required_fte_avg": "fte",
    "supply_fte_avg": "fte",
    "worst_vendor_week_gap_fte": "fte",
    "worst_vendor_week": "text",
    "vendor_weeks_in_deficit": "count",
    "backlog_hours_at_end": "hours",
    "projected_sla": "share",
}


def comparison_table(summaries: dict[str, dict]) -> pl.DataFrame:
    """One row per figure (its display name, with its unit), one column per scenario; after the baseline's column
    each cell is "value (difference from the baseline)"."""
    base = summaries[BASELINE]
    columns: dict[str, list[str]] = {"measure": [display_name(m) for m in COMPARED]}
    for label, summary in summaries.items():
        columns[label] = [
            _cell(kind, summary.get(m), None if label == BASELINE else base.get(m), _fte_digits(summaries, m))
            for m, kind in COMPARED.items()
        ]
    return pl.DataFrame(columns)


def comparison_export(summaries: dict[str, dict]) -> pl.DataFrame:
    """The comparison for the CSV: a row per scenario with the identifiers as columns, and each number's difference
    from the baseline (`…_vs_baseline`)."""
    base = summaries[BASELINE]
    numbers = [m for m, kind in COMPARED.items() if kind != "text"]
    rows = [
        {"scenario": label}
        | {m: summary.get(m) for m in COMPARED}
        | {f"{m}_vs_baseline": _difference(summary.get(m), base.get(m)) for m in numbers}
        for label, summary in summaries.items()
    ]
    return pl.DataFrame(rows, infer_schema_length=None)


def _difference(value: float | None, base: float | None) -> float | None:
    return None if value is None or base is None else value - base


def _fte_digits(summaries: dict[str, dict], measure: str) -> int:
    """Decimals for one figure across the scenarios, so a row reads at one precision."""
    sizes = [abs(s[measure]) for s in summaries.values() if isinstance(s.get(measure), int | float)]
    return fte_digits(max(sizes, default=0.0))


def _cell(kind: str, value: object, base: object, digits: int) -> str:
    """One figure as text, with its difference from `base` in brackets (none for the baseline itself)."""
    if value is None:
        return NULL_TEXT
    if kind == "text":
        return str(value)
    scale, unit, formats = {
        "fte": (1, "", f",.{digits}f"),
        "count": (1, "", ",.0f"),
        "hours": (1, "", ",.1f"),
        "share": (100, " pts", ".1f"),
    }[kind]
    text = f"{value * scale:{formats}}" + (" %" if kind == "share" else "")
    if base is None:
        return text
    change = float(f"{(value - base) * scale:{formats}}".replace(",", ""))
    return f"{text} ({f'{change:+{formats}}' if change else '±0'}{unit})"


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
        "worst_vendor_week": f"{', '.join(h.worst_group or ())}, week of {h.worst_week}",
        "vendor_weeks_in_deficit": h.group_weeks_in_deficit,
        "backlog_hours_at_end": h.backlog_hours_at_end,
        "projected_sla": h.projected_sla,
    }
