"""Goals over time: each measure with a target, per week, against its goal (a step line where the goal changed)."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard.charts.common import add_goal_line, margin
from dashboard.palette import PALETTE
from queries.analyses.formatting import format_value
from queries.analyses.targets import GoalHistory

ROW_HEIGHT_PX = 190


def _scale(history: GoalHistory) -> tuple[float, str, str]:
    """(factor, axis title, tick format) that read best: durations in minutes or hours, shares in %."""
    if history.unit == "share":
        return 1.0, "", ".0%"
    if history.unit in ("hours", "seconds"):
        hours = 1 / 3600 if history.unit == "seconds" else 1.0
        largest = max([v for v in history.weekly["value"].to_list() if v is not None] + [s[2] for s in history.steps])
        return (60 * hours, "minutes", ",.1f") if largest * hours < 2 else (hours, "hours", ",.1f")
    return 1.0, "", ","


def goal_history_chart(histories: list[GoalHistory]) -> go.Figure:
    """One panel per measure: the weekly value (hover in the measure's words) and its goal, dashed, over the same
    weeks."""
    fig = make_subplots(
        rows=len(histories),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.3 / max(len(histories), 1),
        subplot_titles=[h.label for h in histories],
    )
    for row, history in enumerate(histories, start=1):
        factor, title, ticks = _scale(history)
        values = history.weekly["value"].to_list()
        fig.add_scatter(
            x=history.weekly["week"].to_list(),
            y=[v * factor if v is not None else None for v in values],
            text=[format_value(v, history.unit) for v in values],
            name=history.label,
            mode="lines+markers",
            line={"color": PALETTE[0]},
            hovertemplate="week of %{x|%d %b %Y}: %{text}<extra></extra>",
            row=row,
            col=1,
        )
        steps = [(first, last, goal * factor, label) for first, last, goal, label in history.steps]
        add_goal_line(fig, steps, f"{history.label} goal", row=row, col=1)
        fig.update_yaxes(title_text=title, tickformat=ticks, row=row, col=1)
    fig.update_layout(
        height=ROW_HEIGHT_PX * len(histories) + 40,
        margin=margin(30),
        showlegend=False,  # each panel is titled; the dashed line is its goal (the caption says so)
        hovermode="x unified",
    )
    return fig
