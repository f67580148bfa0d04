"""Shared widgets: KPI tiles with self-explaining hovers, tables with labelled columns, and the friendly error panel."""

from __future__ import annotations

import re
from collections.abc import Callable

import polars as pl
import streamlit as st

from queries.analyses.overview import Kpi
from queries.filters import Filters


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


NO_PREVIOUS_DATA = "no previous data"
MAX_EXTRA_DECIMALS = 6  # a change still all zeros with this many more decimals than usual is shown as "±0"


def format_change(kpi: Kpi) -> str | None:
    """Change vs the previous period: absolute (+ relative for counts), points for shares.

    A change that would round to zero at the usual precision gets the decimals that make it visible (two values
    that differ never show "+0.0"); an exact zero is "±0". "no previous data" when the previous period has none
    (`Kpi.no_previous`); None when there is no value, or no previous value, to compare.
    """
    if kpi.value is None:
        return None
    if kpi.no_previous:
        return NO_PREVIOUS_DATA
    change = kpi.change
    if change is None:
        return None
    magnitude = _visible(lambda extra: _change_magnitude(abs(change), kpi.unit, extra))
    if magnitude is None:
        return "±" + _change_magnitude(0.0, kpi.unit, 0)
    text = ("+" if change > 0 else "-") + magnitude  # ASCII minus: Streamlit reads the sign for the arrow
    if kpi.unit == "count" and kpi.previous:
        relative = _visible(lambda extra: f"{abs(change) / kpi.previous:.{1 + extra}%}")
        text += f" ({text[0]}{relative})" if relative else ""
    return text


def is_signed_change(delta: str | None) -> bool:
    """True for a delta that moved up or down (an arrow and a colour); False for "±0", no previous data, none."""
    return delta is not None and delta[0] in "+-"


def _change_magnitude(value: float, unit: str, extra: int) -> str:
    """A non-negative change in the unit's words, with `extra` decimals beyond the usual."""
    if unit == "share":
        return f"{value * 100:.{1 + extra}f} pts"
    if unit == "hours":
        return _duration(value, extra)
    if unit == "count":
        return f"{value:,.{extra}f}"
    return f"{value:,.{2 + extra}f}"


def _visible(render: Callable[[int], str]) -> str | None:
    """`render(extra)` with the fewest extra decimals that show a non-zero digit; None when none does."""
    for extra in range(MAX_EXTRA_DECIMALS + 1):
        text = render(extra)
        if re.search(r"[1-9]", text):
            return text
    return None


def _duration(hours: float, extra: int = 0) -> str:
    """Hours as seconds, minutes or hours, whichever reads best (`extra` more decimals than usual)."""
    if hours < 1 / 60:
        return f"{hours * 3600:.{extra}f} s"
    if hours < 1:
        return f"{hours * 60:.{1 + extra}f} min"
    return f"{hours:,.{1 + extra}f} h"


def kpi_tiles(kpis: list[Kpi], filters: Filters, per_row: int = 5) -> None:
    """KPI tiles in rows; each tile's hover gives its definition, period, filters and previous value."""
    for offset in range(0, len(kpis), per_row):
        for column, kpi in zip(st.columns(per_row), kpis[offset : offset + per_row], strict=False):
            with column:
                delta = format_change(kpi)
                signed = is_signed_change(delta)
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
