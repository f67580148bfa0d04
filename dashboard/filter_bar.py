"""The shared filter bar, kept in the URL (st.query_params) so every view can be shared as a link."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from queries.display import display_name
from queries.filters import DIMENSIONS, Filters

DEFAULT_DAYS = 28


def read_param_list(name: str) -> list[str]:
    """A repeated query parameter (?market=DE&market=US) as a list; values may contain commas."""
    return [v for v in st.query_params.get_all(name) if v]


def read_param_date(name: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(st.query_params.get(name, ""))
    except ValueError:
        return None


def filter_bar(source_key: str, first_day: dt.date, last_day: dt.date, options: dict[str, list[str]]) -> Filters:
    """Draw the filters in the sidebar and return the selection; URL and widgets stay in sync.

    The first run of a session, of a newly picked source, or after a run that drew no filters
    (the source failed) takes its view from the URL.
    """
    default_start = max(first_day, last_day - dt.timedelta(days=DEFAULT_DAYS - 1))
    fresh = st.session_state.get("filter_bar.source_key") != source_key or "filters.dates" not in st.session_state
    if fresh:
        st.session_state["filter_bar.source_key"] = source_key
        start = _clamp(read_param_date("start") or default_start, first_day, last_day)
        end = _clamp(read_param_date("end") or last_day, start, last_day)
        st.session_state["filters.dates"] = (start, end)
        for name in options:
            st.session_state[f"filters.{name}"] = [v for v in read_param_list(name) if v in options[name]]
    else:
        dates = tuple(st.session_state["filters.dates"])
        if not dates:  # the field was cleared: back to the default period
            st.session_state["filters.dates"] = (default_start, last_day)
        elif len(dates) == 2:  # the data may have grown or shrunk since: keep the dates inside it
            start = _clamp(dates[0], first_day, last_day)
            clamped = (start, _clamp(dates[1], start, last_day))
            if clamped != dates:
                st.session_state["filters.dates"] = clamped

    st.sidebar.date_input(
        "Period (UTC, inclusive)",
        key="filters.dates",
        min_value=first_day,
        max_value=last_day,
        help="KPIs compare this period with the previous period of equal length.",
    )
    for name, values in options.items():
        if values:
            st.sidebar.multiselect(display_name(name), values, key=f"filters.{name}", placeholder="All")

    dates = tuple(st.session_state["filters.dates"]) or (default_start, last_day)
    picking = len(dates) == 1  # the first day of a range is picked, the second not yet
    filters = Filters.of(
        dates[0],
        dates[0] if picking else dates[1],
        {name: tuple(st.session_state.get(f"filters.{name}", [])) for name, values in options.items() if values},
    )
    if not picking:
        _write_params(filters, options)
    return filters


def _write_params(filters: Filters, options: dict[str, list[str]]) -> None:
    wanted: dict[str, str | list[str]] = {"start": filters.start.isoformat(), "end": filters.end.isoformat()}
    wanted.update({name: list(values) for name, values in filters.selections().items()})
    for name in (*DIMENSIONS, *options):
        if name not in wanted and name in st.query_params:
            del st.query_params[name]
    for name, value in wanted.items():
        current = st.query_params.get_all(name) if isinstance(value, list) else st.query_params.get(name)
        if current != value:
            st.query_params[name] = value


def _clamp(day: dt.date, low: dt.date, high: dt.date) -> dt.date:
    return min(max(day, low), high)
