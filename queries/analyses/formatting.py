"""Numbers for people, one way everywhere: KPI tiles, goals, alert messages and the snapshot.

Counts with separators, durations in s/min/h, shares in %, changes with the decimals that make them visible.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import polars as pl

from queries.analyses.overview import KPI_TILES, Kpi
from queries.definitions import METRICS

NO_PREVIOUS_DATA = "no previous data"
MAX_EXTRA_DECIMALS = 6  # a change still all zeros with this many more decimals than usual is shown as "±0"
DIRECTION_SIGNS = {"at_most": "≤", "at_least": "≥"}


def unit_of(metric: str, measure: str) -> str:
    """How a metric's measure reads: "hours", "share", "per_million", "seconds" or "count"."""
    m = METRICS[metric]
    if measure.endswith("_hours") and measure != "handle_hours":
        return "hours"
    if measure in {s[0] for s in m.shares} or measure in {b for i in m.intervals for b in i[:2]}:
        return "share"
    if measure == "tickets_per_million_dau":
        return "per_million"
    if measure.endswith("_seconds"):
        return "seconds"
    return "count"


def measure_label(metric: str, measure: str) -> str:
    """A measure's name for people: the Overview tile's label where there is one, else e.g. "P90 time to close"
    or "overturn rate (appeals)"."""
    tile = next((t[3] for t in KPI_TILES if t[1:3] == (metric, measure)), None)
    if tile:
        return tile
    m = METRICS[metric]
    percentile = re.fullmatch(r"p(\d+)_hours", measure)
    if percentile:
        return f"P{percentile.group(1)} {m.label.lower()}"
    if measure == "mean_hours":
        return f"mean {m.label.lower()}"
    if len(m.shares) == 1 and measure == m.shares[0][0]:
        return m.label
    return f"{measure.replace('_', ' ')} ({m.label.lower()})"


def format_value(value: float | None, unit: str) -> str:
    """A value for people: counts with separators, durations in s, min or h, shares in %."""
    if value is None:
        return "–"
    if unit == "count":
        return f"{value:,.0f}"
    if unit == "hours":
        return format_duration(value)
    if unit == "seconds":
        return format_duration(value / 3600)
    if unit == "share":
        return f"{value:.1%}"
    return f"{value:,.2f}"


def format_goal(direction: str, goal: float, unit: str) -> str:
    """A goal for people, e.g. "≤ 30.0 min" or "≥ 90.0%"."""
    return f"{DIRECTION_SIGNS[direction]} {format_value(goal, unit)}"


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
        return format_duration(value, extra)
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


def format_duration(hours: float, extra: int = 0) -> str:
    """Hours as seconds, minutes or hours, whichever reads best (`extra` more decimals than usual)."""
    if hours < 1 / 60:
        return f"{hours * 3600:.{extra}f} s"
    if hours < 1:
        return f"{hours * 60:.{1 + extra}f} min"
    return f"{hours:,.{1 + extra}f} h"


def format_cell(value: object, unit: str) -> str:
    """A table cell for people: `unit` "text" as it is, "count_change"/"share_change" signed, else format_value."""
    if value is None:
        return "–"
    if unit == "text":
        return str(value)
    if unit == "count_change":
        return f"{value:+,.0f}"
    if unit == "share_change":
        return f"{value:+.1%}"
    return format_value(value, unit)


def formatted_frame(frame: pl.DataFrame, columns: dict[str, tuple[str, str]]) -> pl.DataFrame:
    """`columns` (column → (header, unit)) of the frame as text, formatted as everywhere else, under the headers."""
    return pl.DataFrame(
        {header: [format_cell(v, unit) for v in frame[column].to_list()] for column, (header, unit) in columns.items()},
        schema=dict.fromkeys((header for header, _ in columns.values()), pl.String),
    )
