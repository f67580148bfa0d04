"""Shared widgets: KPI tiles with self-explaining hovers, tables with labelled columns, and the friendly error panel."""

from __future__ import annotations

import polars as pl
import streamlit as st

from queries.analyses.formatting import (  # noqa: F401 - NO_PREVIOUS_DATA: still importable from here
    NO_PREVIOUS_DATA,
    format_change,
    format_goal,
    format_value,
    is_signed_change,
)
from queries.analyses.overview import Kpi
from queries.analyses.targets import TargetResult, TileJudgement, hint_summary
from queries.filters import Filters


def kpi_tiles(
    kpis: list[Kpi], filters: Filters, judgements: dict[str, TileJudgement] | None = None, per_row: int = 5
) -> None:
    """KPI tiles in rows; each tile's hover gives its definition, period, filters and previous value. With
    `judgements`, a tile shows its goal and whether it was met, and a change that is not news loses its colour."""
    judgements = judgements or {}
    for offset in range(0, len(kpis), per_row):
        for column, kpi in zip(st.columns(per_row), kpis[offset : offset + per_row], strict=False):
            with column:
                judgement = judgements.get(kpi.key)
                hint = judgement.change_hint if judgement else None
                delta = format_change(kpi)
                signed = is_signed_change(delta) and hint is None  # a change within the noise: no arrow, no colour
                colour = "off" if kpi.higher_is_better is None else ("normal" if kpi.higher_is_better else "inverse")
                previous = (
                    f"no previous data: {kpi.no_previous}"
                    if kpi.no_previous
                    else f"({filters.previous().start} to {filters.previous().end}): "
                    f"{format_value(kpi.previous, kpi.unit)}."
                )
                help_text = (
                    f"**{kpi.label}.** {kpi.definition}\n\nPeriod: {filters.describe()}.\n\nPrevious period {previous}"
                )
                if hint:
                    help_text += f"\n\nThe change is not news: {hint}."
                if kpi.unavailable:
                    help_text = f"**{kpi.label}** is not available: {kpi.unavailable}"
                st.metric(
                    kpi.label,
                    format_value(kpi.value, kpi.unit),
                    delta=delta,
                    delta_color=colour if signed else "off",
                    delta_arrow="auto" if signed else "off",
                    help=help_text,
                    border=True,
                )
                if judgement and judgement.goal:
                    goal_badge(judgement.goal)


GOAL_BADGES = {"met": "green", "missed": "red"}


def goal_badge(result: TargetResult) -> None:
    """A tile's goal and its status: green met, red missed; grey when it is not news (too few, within the noise) or
    there is no data, with the reason on hover."""
    t = result.target
    if result.judged:
        colour, words = GOAL_BADGES[result.status], result.status
    else:
        colour = "gray"
        words = "no data" if result.status == "no_data" else f"{result.status} · {hint_summary(result.hint or '')}"
    since = f" since {t.start}" if t.start else ""
    why = f" Not judged: {result.hint}." if result.hint else ""
    st.markdown(
        f"Goal {format_goal(t.direction, t.goal, t.unit)} :{colour}-badge[{words}]",
        help=f"Target: {t.describe()}{since}.{why}",
    )


def explain_missing(message: str | None) -> bool:
    """Show `message` (what a section lacks and how to map it) when there is one; True means the section stops."""
    if message:
        st.info(message)
    return bool(message)


def error_panel(title: str, message: str) -> None:
    """A friendly error: what went wrong and the fix, never a traceback."""
    st.error(f"**{title}**\n\n{message}", icon=":material/error:")


def table(frame: pl.DataFrame, key: str, columns: dict | None = None) -> None:
    """A table without the row index; `columns` labels its columns (and explains them on hover)."""
    st.dataframe(frame, hide_index=True, key=key, column_config=columns)


def count_column(label: str, help_text: str | None = None) -> st.column_config.NumberColumn:
    """A table column of counts, with thousands separators."""
    return st.column_config.NumberColumn(label, format="localized", help=help_text)


def percent_column(label: str, help_text: str | None = None) -> st.column_config.NumberColumn:
    """A table column of shares (0–1), shown as percentages."""
    return st.column_config.NumberColumn(label, format="percent", help=help_text)


def decimal_column(label: str, help_text: str | None = None, digits: int = 1) -> st.column_config.NumberColumn:
    """A table column of plain numbers with `digits` decimals."""
    return st.column_config.NumberColumn(label, format=f"%.{digits}f", help=help_text)
