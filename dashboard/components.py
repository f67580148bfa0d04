"""Shared widgets: KPI tiles with self-explaining hovers, and the friendly error panel."""

from __future__ import annotations

import re

import streamlit as st

from queries.filters import Filters
from queries.overview import Kpi


def format_value(value: float | None, unit: str) -> str:
    """A KPI value for people: counts with separators, durations in min or h, shares in %."""
    if value is None:
        return "–"
    if unit == "count":
        return f"{value:,.0f}"
    if unit == "hours":
        return _duration(value)
    if unit == "share":
        return f"{value:.1%}"
    return f"{value:,.2f}"


def format_change(kpi: Kpi) -> str | None:
    """Change vs the previous period: absolute (+ relative for counts), points for shares.

    None when there is nothing to compare or the change rounds to zero (no arrow for "no change").
    """
    change = kpi.change
    if change is None:
        return None
    if kpi.unit == "share":
        text = f"{change * 100:+.1f} pts"
    elif kpi.unit == "hours":
        text = ("+" if change >= 0 else "-") + _duration(abs(change))  # ASCII minus: Streamlit reads the sign
    else:
        relative = f" ({change / kpi.previous:+.1%})" if kpi.previous else ""
        text = (f"{change:+,.0f}" if kpi.unit == "count" else f"{change:+,.2f}") + relative
    return None if re.fullmatch(r"[+-]0(\.0+)?( \w+)?( \([+-]0\.0%\))?", text) else text


def _duration(hours: float) -> str:
    """Hours as seconds, minutes or hours, whichever reads best."""
    if hours < 1 / 60:
        return f"{hours * 3600:.0f} s"
    if hours < 1:
        return f"{hours * 60:.1f} min"
    return f"{hours:,.1f} h"


def kpi_tiles(kpis: list[Kpi], filters: Filters, per_row: int = 5) -> None:
    """KPI tiles in rows; each tile's hover gives its definition, period, filters and previous value."""
    for offset in range(0, len(kpis), per_row):
        for column, kpi in zip(st.columns(per_row), kpis[offset : offset + per_row], strict=False):
            with column:
                colour = "off" if kpi.higher_is_better is None else ("normal" if kpi.higher_is_better else "inverse")
                help_text = (
                    f"**{kpi.label}.** {kpi.definition}\n\n"
                    f"Period: {filters.describe()}.\n\n"
                    f"Previous period ({filters.previous().start} to {filters.previous().end}): "
                    f"{format_value(kpi.previous, kpi.unit)}."
                )
                if kpi.unavailable:
                    help_text = f"**{kpi.label}** is not available: {kpi.unavailable}"
                st.metric(
                    kpi.label,
                    format_value(kpi.value, kpi.unit),
                    delta=format_change(kpi),
                    delta_color=colour,
                    help=help_text,
                    border=True,
                )


def error_panel(title: str, message: str) -> None:
    """A friendly error: what went wrong and the fix, never a traceback."""
    st.error(f"**{title}**\n\n{message}", icon=":material/error:")
