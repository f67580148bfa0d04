"""Category colours, one place: every value of a dimension keeps its colour on every page and chart.

A value's colour is its position among all the values the source has for that dimension (not among the ones a chart
happens to show), so "Youth safety" is the same green on Trends, Vendors and anywhere else that asks here: a page
builds a dimension's colours once with `field_colours` and hands them to the chart, which draws each of its series
in its category's colour (`series_colours`). The palette's 12 colours are pairwise far apart (CIE76 ΔE ≥ 30,
tested) and none is the grey kept for "Other"; a chart of more series offers "top N + other".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import plotly.graph_objects as go

from queries.display import display_value

PALETTE = (
    "#1F77B4",  # blue
    "#D95F02",  # orange
    "#2CA02C",  # green
    "#E7298A",  # magenta
    "#5E3C99",  # purple
    "#E6AB02",  # mustard
    "#17BECF",  # cyan
    "#800000",  # maroon
    "#FF9896",  # salmon
    "#808000",  # olive
    "#8C564B",  # brown
    "#1B9E77",  # teal
)
OTHER = "Other"  # the series that sums every group after the top N
OTHER_COLOUR = "#BAB0AC"  # grey: only ever "Other"
MAX_SERIES = 7  # a chart with more series than this offers "top N + other"


def category_colours(values: Sequence[str]) -> dict[str, str]:
    """Colour per value by its position in `values`: pass every value the source has (sorted), so each keeps its
    colour wherever it appears; values after the 12th start the palette over. "Other" is always grey."""
    colours = {str(v): PALETTE[i % len(PALETTE)] for i, v in enumerate(values)}
    return colours | {OTHER: OTHER_COLOUR}


def field_colours(field: str, values: Iterable[object]) -> dict[str, str]:
    """Colour per display name (queries.display) of a field's values, for charts of frames shown by display names:
    pass every value the source has for the field (`loaders.dimension_values`), not the filtered ones."""
    return category_colours([display_value(field, v) for v in values])


def series_colours(names: Iterable[object], colours: Mapping[str, str] | None = None) -> dict[str, str]:
    """The colour of each series a chart draws, distinct while the palette lasts: its category's colour from
    `colours` (`field_colours`), "Other" grey. A name `colours` lacks, or whose colour a series earlier among the
    source's values has taken (past the 12th value), gets the first colour the chart leaves free. Without `colours`,
    by the names' sorted order, so the same series get the same colours whatever their size."""
    names = list(dict.fromkeys(str(n) for n in names))
    colours = colours or category_colours(sorted(names))
    position = {name: i for i, name in enumerate(colours)}
    chosen: dict[str, str] = {}
    for name in sorted(names, key=lambda n: position.get(n, len(position))):  # stable: unknown names keep their order
        own = OTHER_COLOUR if name == OTHER else colours.get(name)
        if own is None or own in chosen.values():
            free = [c for c in PALETTE if c not in chosen.values()]
            own = free[0] if free else PALETTE[len(chosen) % len(PALETTE)]
        chosen[name] = own
    return chosen


def recolour(fig: go.Figure, colours: dict[str, str]) -> go.Figure:
    """Give each trace named (or legend-grouped) after a category its colour: lines, markers, bars and bands;
    "Other" goes last in the legend."""
    for trace in fig.data:
        colour = colours.get(str(trace.name)) or colours.get(str(trace.legendgroup))
        if colour is None:
            continue
        if trace.name == OTHER:
            trace.legendrank = 2000  # after every category (Plotly's default rank is 1000)
        if isinstance(trace, go.Bar):
            trace.marker.color = colour
            continue
        if isinstance(trace, go.Scatter):
            if trace.fill:  # an interval band: fill only
                trace.fillcolor = colour
                continue
            trace.line.color = colour
            if not isinstance(trace.marker.color, tuple | list):
                trace.marker.color = colour
    return fig
