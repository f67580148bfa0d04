"""Shared widgets: KPI tiles with self-explaining hovers, tables with labelled columns, and the friendly error panel."""

from __future__ import annotations

import re

import polars as pl
import streamlit as st

from dashboard import loaders
from queries.analyses.formatting import (  # noqa: F401 - NO_PREVIOUS_DATA: still importable from here
    NO_PREVIOUS_DATA,
    format_change,
    format_goal,
    format_value,
    formatted_frame,
    is_signed_change,
)
from queries.analyses.overview import Kpi
from queries.analyses.targets import TargetResult, Targets, TileJudgement, hint_summary
from queries.display import NULL_TEXT, as_percent, display_name, signless_zeros
from queries.errors import SourceError
from queries.filters import Filters


def kpi_tiles(
    kpis: list[Kpi], filters: Filters, judgements: dict[str, TileJudgement] | None = None, per_row: int = 5
) -> None:
    """KPI tiles in rows; each tile's hover gives its definition, period, filters and previous value. With
    `judgements`, a tile shows its goal and whether it was met, and a change that is not news loses its colour."""
    judgements = judgements or {}
    for offset in range(0, len(kpis), per_row):
        for column, kpi in zip(st.columns(per_row), kpis[offset : offset + per_row], strict=False):
            with column, st.container(border=True, height="stretch"):  # the goal sits inside its tile
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


def view_targets(vendor: str | None) -> Targets:
    """The targets this user may see (config/targets.toml or BELLWETHER_TARGETS). A file that cannot be used is an
    error panel naming the entry, and the page goes on without goals."""
    try:
        return loaders.targets().visible_to(vendor)
    except SourceError as exc:
        error_panel("The targets file cannot be used: no goals are shown", exc.message(with_rows=vendor is None))
        return Targets((), None)


def text_table(frame: pl.DataFrame, columns: dict[str, tuple[str, str]]) -> None:
    """A static table (it prints, unlike the interactive one): `columns` maps each column to (header, unit)."""
    st.table(formatted_frame(frame, columns), hide_index=True)


def explain_missing(message: str | None) -> bool:
    """Show `message` (what a section lacks and how to map it) when there is one; True means the section stops."""
    if message:
        st.info(message)
    return bool(message)


def error_panel(title: str, message: str) -> None:
    """A friendly error: what went wrong and the fix, never a traceback."""
    st.error(f"**{title}**\n\n{message}", icon=":material/error:")


def table(frame: pl.DataFrame, key: str, columns: dict | None = None) -> None:
    """A table without the row index; `columns` labels its columns (and explains them on hover). A column without
    a label shows its display name, an empty cell "—"; `share_column`s are shown in %, `count_column`s whole and
    "-0.0" never shows."""
    columns = columns or {}
    formats = {c: cfg.get("type_config", {}).get("format") for c, cfg in columns.items() if isinstance(cfg, dict)}
    shares = [c for c, f in formats.items() if f == SHARE_FORMAT]
    digits = {c: int(m[1]) for c, f in formats.items() if f and (m := re.match(r"%\+?\.(\d)f", f))}
    shown = signless_zeros(as_percent(frame, shares), digits) if shares or digits else frame
    counts = [c for c, f in formats.items() if f == "localized" and c in frame.columns and frame[c].dtype.is_float()]
    shown = shown.with_columns(pl.col(counts).round(0))  # count_column: an expected count reads as whole tickets
    labels = {c: display_name(c) for c in frame.columns if c not in columns}
    st.dataframe(shown, hide_index=True, key=key, column_config=labels | columns, placeholder=NULL_TEXT)


SHARE_FORMAT = "%.1f%%"


def share_column(label: str, help_text: str | None = None) -> st.column_config.NumberColumn:
    """A table column of shares (0–1), shown as percentages with one decimal (`table` converts them)."""
    return st.column_config.NumberColumn(label, format=SHARE_FORMAT, help=help_text)


def count_column(label: str, help_text: str | None = None) -> st.column_config.NumberColumn:
    """A table column of counts, with thousands separators."""
    return st.column_config.NumberColumn(label, format="localized", help=help_text)


def percent_column(label: str, help_text: str | None = None) -> st.column_config.NumberColumn:
    """A table column of shares (0–1), shown as percentages."""
    return st.column_config.NumberColumn(label, format="percent", help=help_text)


def decimal_column(label: str, help_text: str | None = None, digits: int = 1) -> st.column_config.NumberColumn:
    """A table column of plain numbers with `digits` decimals."""
    return st.column_config.NumberColumn(label, format=f"%.{digits}f", help=help_text)
