"""Transparency pack: regulator-style figures with their definitions, exportable as CSV and printable HTML."""

from __future__ import annotations

import datetime as dt

import polars as pl
import streamlit as st

from dashboard import loaders
from dashboard.components import format_value
from dashboard.context import PageContext
from queries.analyses.transparency import SECTION_FIELDS, readable_figures, rows_needed, transparency_html
from queries.display import display_name
from queries.export import safe_csv

# How each figure's unit is written; any other unit (minutes, hours, FTE) is a plain number in that unit, so the
# value always reads in the unit shown next to it.
UNIT_STYLE = {"share": "share", "decisions": "count", "tickets": "count"}


def render(ctx: PageContext) -> None:
    st.title("Transparency pack")
    if not ctx.ready(aggregates=True):
        return
    filters = ctx.filters
    st.caption(
        f"{filters.describe()}. The shape public transparency reports and DSA reporting use: actions by policy "
        "domain and type of content, proactive and automated shares, speed, appeals, moderators by language."
    )
    figures = loaders.transparency(ctx.dataset, filters)
    left_out = rows_needed(ctx.dataset)
    if left_out:
        ctx.has_rows(" and ".join(s.lower() for s in left_out))
    if figures.is_empty():
        st.info("The source provides none of the fields these figures need; see Data health.")
        return
    for (section,), rows in readable_figures(figures).group_by("section", maintain_order=True):
        st.subheader(section)
        shown = rows.with_columns(
            pl.Series(
                "value",
                [format_value(v, UNIT_STYLE.get(u, "number")) for v, u in rows.select("value", "unit").iter_rows()],
            )
        ).drop("section", "period")
        field = SECTION_FIELDS.get(section)
        if field is None and set(shown["group"]) == {"All"}:  # one figure per row for the whole selection
            shown = shown.drop("group")
        # A static table: the definitions wrap (no sideways scrolling) and the page prints whole.
        headers = {"group": display_name(field) if field else "Group", "figure": "Figure", "value": "Value"}
        st.table(shown.rename({c: headers.get(c, display_name(c)) for c in shown.columns}), hide_index=True)
    title = f"Transparency pack {filters.start} to {filters.end}"
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    left, right = st.columns(2)
    left.download_button(
        "Download CSV",
        safe_csv(figures),
        f"transparency-{filters.start}-{filters.end}.csv",
        "text/csv",
        key="transparency.csv",
    )
    right.download_button(
        "Download printable report (HTML, print to PDF)",
        transparency_html(figures, title, now),
        f"transparency-{filters.start}-{filters.end}.html",
        "text/html",
        key="transparency.html",
    )
