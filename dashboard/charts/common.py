"""Styling shared by every chart family: the palette, margins, legends, group order and interval bands."""

from __future__ import annotations

from collections.abc import Iterator

import plotly.graph_objects as go
import polars as pl

PALETTE = (
    "#3366CC",
    "#DC3912",
    "#FF9900",
    "#109618",
    "#990099",
    "#0099C6",
    "#DD4477",
    "#66AA00",
    "#B82E2E",
    "#316395",
    "#994499",
    "#22AA99",
    "#AAAA11",
    "#6633CC",
    "#E67300",
)
NOT_GIVEN = "(not given)"  # how an empty group value is labelled


def colour(i: int) -> str:
    """The i-th palette colour, starting over after the last."""
    return PALETTE[i % len(PALETTE)]


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
    """Each value of `column` in sorted order with its rows sorted by `order_by`, numbered for the palette."""
    for i, value in enumerate(sorted(frame[column].unique().to_list())):
        yield i, value, frame.filter(pl.col(column) == value).sort(order_by)


def add_band(fig: go.Figure, x: list, low: list, high: list, **style: object) -> None:
    """A filled band from `low` to `high` along `x`, without hover; `style` sets its colour, name and legend."""
    fig.add_scatter(x=x + x[::-1], y=high + low[::-1], fill="toself", line={"width": 0}, hoverinfo="skip", **style)
