"""Styling shared by every chart family: margins, legends, group order, interval bands and goal lines. Colours come
from dashboard/palette.py (a category's colour from its `series_colours`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import plotly.graph_objects as go
import polars as pl

NOT_GIVEN = "(not given)"  # how an empty group value is labelled


def margin(top: int = 10) -> dict:
    """Tight margins; a larger `top` leaves room for a title or annotations."""
    return {"l": 10, "r": 10, "t": top, "b": 10}


def legend_below(y: float = -0.2, **more: object) -> dict:
    """A horizontal legend under the plot (`y` lower when the x axis has a title)."""
    return {"orientation": "h", "y": y, **more}


def largest_first(frame: pl.DataFrame, group: str, measure: str = "tickets") -> list:
    """The values of `group`, the one with the largest total `measure` first."""
    return frame.group_by(group).agg(pl.col(measure).sum()).sort(measure, descending=True)[group].to_list()


def each_group(frame: pl.DataFrame, column: str, order_by: str) -> Iterator[tuple[int, object, pl.DataFrame]]:
    """Each value of `column` in sorted order with its rows sorted by `order_by`, numbered from 0."""
    for i, value in enumerate(sorted(frame[column].unique().to_list())):
        yield i, value, frame.filter(pl.col(column) == value).sort(order_by)


def add_band(fig: go.Figure, x: list, low: list, high: list, **style: object) -> None:
    """A filled band from `low` to `high` along `x`, without hover; `style` sets its colour, name and legend."""
    fig.add_scatter(x=x + x[::-1], y=high + low[::-1], fill="toself", line={"width": 0}, hoverinfo="skip", **style)


GOAL_COLOUR = "#2E7D32"


def add_goal_line(
    fig: go.Figure, steps: list[tuple[dt.date, dt.date, float, str]], name: str = "goal", **position: int
) -> None:
    """A goal over time as a dashed step line, stepping where the goal changed: (first day, last day, goal, label)
    per stretch, drawn from each stretch's first day (where a chart puts its period) to the last one's last day; a
    stretch without a goal leaves a gap. `position`: the subplot's row and col, if any."""
    x: list[dt.date | None] = []
    y: list[float | None] = []
    text: list[str | None] = []
    for i, (first, _, goal, label) in enumerate(steps):
        before = steps[i - 1] if i else None
        if before and first != before[1] + dt.timedelta(days=1):  # a stretch without a goal: end the line there
            x, y, text = [*x, before[1], None], [*y, before[2], None], [*text, before[3], None]
        x, y, text = [*x, first], [*y, goal], [*text, label]
    if steps:
        x, y, text = [*x, steps[-1][1]], [*y, steps[-1][2]], [*text, steps[-1][3]]
    fig.add_scatter(
        x=x,
        y=y,
        text=text,
        mode="lines",
        line={"color": GOAL_COLOUR, "dash": "dash", "width": 2, "shape": "hv"},
        name=name,
        hovertemplate=f"{name} %{{text}}<extra></extra>",
        **position,
    )
