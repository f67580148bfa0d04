"""The shared filter bar, kept in the URL (st.query_params) so every view can be shared as a link."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from queries.filters import DIMENSIONS, Filters

DEFAULT_DAYS = 28
LABELS = {
    "policy_domain": "Policy domain",
    "market": "Market",
    "surface": "Surface",
    "source": "Detection source",
    "vendor": "Vendor",
}


def read_param_list(name: str) -> list[str]:
    """A comma-separated query parameter as a list (empty when absent)."""
    raw = st.query_params.get(name, "")
    return [v for v in raw.split(",") if v]


def read_param_date(name: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(st.query_params.get(name, ""))
    except ValueError:
        return None


def filter_bar(source_key: str, first_day: dt.date, last_day: dt.date, options: dict[str, list[str]]) -> Filters:
    """Draw the filters in the sidebar and return the selection; URL and widgets stay in sync.

    The first run of a session (or of a newly picked source) takes its view from the URL.
    """
    default_start = max(first_day, last_day - dt.timedelta(days=DEFAULT_DAYS - 1))
    if st.session_state.get("filter_bar.source_key") != source_key:
        st.session_state["filter_bar.source_key"] = source_key
        start = _clamp(read_param_date("start") or default_start, first_day, last_day)
        end = _clamp(read_param_date("end") or last_day, start, last_day)
        st.session_state["filters.dates"] = (start, end)
        for name in DIMENSIONS:
            st.session_state[f"filters.{name}"] = [v for v in read_param_list(name) if v in options.get(name, [])]
    else:  # the data may have grown or shrunk since: keep the dates inside it
        dates = st.session_state["filters.dates"]
        start = _clamp(dates[0], first_day, last_day)
        end = _clamp(dates[-1], start, last_day)
        if (start, end) != tuple(dates):
            st.session_state["filters.dates"] = (start, end)

    st.sidebar.date_input(
        "Period (UTC, inclusive)",
        key="filters.dates",
        min_value=first_day,
        max_value=last_day,
        help="KPIs compare this period with the previous period of equal length.",
    )
    for name in DIMENSIONS:
        if options.get(name):
            st.sidebar.multiselect(LABELS[name], options[name], key=f"filters.{name}", placeholder="All")

    dates = st.session_state["filters.dates"]
    start, end = (dates[0], dates[1]) if len(dates) == 2 else (dates[0], dates[0])  # a range being picked
    filters = Filters(
        start=start,
        end=end,
        **{name: tuple(st.session_state.get(f"filters.{name}", [])) for name in DIMENSIONS if options.get(name)},
    )
    _write_params(filters)
    return filters


def _write_params(filters: Filters) -> None:
    wanted = {"start": filters.start.isoformat(), "end": filters.end.isoformat()}
    wanted.update({name: ",".join(values) for name, values in filters.selections().items()})
    for name in DIMENSIONS:
        if name not in wanted and name in st.query_params:
            del st.query_params[name]
    for name, value in wanted.items():
        if st.query_params.get(name) != value:
            st.query_params[name] = value


def _clamp(day: dt.date, low: dt.date, high: dt.date) -> dt.date:
    return min(max(day, low), high)
