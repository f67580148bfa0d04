"""The shared filter bar, kept in the URL (st.query_params) so every view can be shared as a link."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from queries.display import display_name, display_value
from queries.filters import DIMENSIONS, Filters

DEFAULT_DAYS = 28
# Streamlit's date field applies a typed date only when the focus moves to another element; Enter does nothing. On
# Enter in the day, month or year of any date field (the sidebar's period and the pages' own), the focus moves to an
# empty element drawn after the sidebar's period, so the typed date applies; the element takes no room. The sidebar
# is on every page, so the listener (added to the page once) serves them all.
ENTER_APPLIES_DATES = """<span id="filters-dates-after" tabindex="-1"></span>
<script>
if (!document.documentElement.dataset.enterAppliesDates) {
  document.documentElement.dataset.enterAppliesDates = "1";
  document.addEventListener("keydown", (event) => {
    const segment = '[data-testid="stDateInputField"] [role="spinbutton"]';
    if (event.key === "Enter" && event.target.matches?.(segment)) {
      document.getElementById("filters-dates-after")?.focus();
    }
  }, true);
}
</script>"""
TAKES_NO_ROOM = '<style>[data-testid="stElementContainer"]:has(#filters-dates-after) { position: absolute; }</style>'


def read_param_list(name: str) -> list[str]:
    """A repeated query parameter (?market=DE&market=US) as a list; values may contain commas."""
    return [v for v in st.query_params.get_all(name) if v]


def _link_period(default: tuple[dt.date, dt.date], first_day: dt.date, last_day: dt.date) -> tuple[dt.date, dt.date]:
    """The period the link's `start` and `end` give; a part that is not a date, lies outside the data or ends
    before the start is named in a warning and replaced (by the nearest day of the data, or the default)."""
    days: dict[str, dt.date] = {}
    for name, fallback in zip(("start", "end"), default, strict=True):
        text = st.query_params.get(name)
        if text is None:
            days[name] = fallback
            continue
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            _warn(name, text, "a date as YYYY-MM-DD", f"showing {fallback} instead")
            days[name] = fallback
            continue
        days[name] = _clamp(day, first_day, last_day)
        if days[name] != day:
            _warn(name, text, f"a day of the data, {first_day} to {last_day}", f"showing {days[name]} instead")
    if days["end"] < days["start"]:
        _warn(
            "end",
            str(days["end"]),
            f"a day not before `start` = {days['start']}",
            f"showing {default[0]} to {default[1]} instead",
        )
        return default
    return days["start"], days["end"]


def _link_values(name: str, values: list[str]) -> list[str]:
    """The link's values of the filter `name` that the data has; the others are named in a warning."""
    linked = read_param_list(name)
    unknown = [v for v in linked if v not in values]
    if unknown:
        listed = ", ".join(values[:12]) + (", …" if len(values) > 12 else "")
        kept = "the others are applied" if len(unknown) < len(linked) else "showing all instead"
        # A vendor's name is never echoed: a vendor-scoped user opening an admin's link must not read the others'.
        quoted = [f"{len(unknown)} vendor(s) not in this data"] if name == "vendor" else unknown
        _warn(name, quoted, f"values the data has: {listed}", kept)
    return [v for v in linked if v in values]


NOTICES = "filter_bar.notices"  # what the link gave that could not be shown, and the view shown instead


def _warn(name: str, text: str | list[str], expected: str, instead: str) -> None:
    """Note that the link's parameter `name` holds something that cannot be shown as it is (see _show_notices)."""
    quoted = ", ".join(repr(t) for t in ([text] if isinstance(text, str) else text))
    st.session_state[NOTICES][0].append(
        f"The link's `{name}` = {quoted} is not valid (expected {expected}); {instead}."
    )


def _view(options: dict[str, list[str]]) -> tuple:
    """The filters' current values, to tell whether the view is still the one the link opened."""
    return tuple(st.session_state["filters.dates"]), *(tuple(st.session_state.get(f"filters.{n}", ())) for n in options)


def _show_notices(options: dict[str, list[str]]) -> None:
    """The link's notices, as warnings, for as long as the view is the one opened instead (the root address
    forwards to a page with a second run, so a notice shown only on the first run would never be seen)."""
    notices, view = st.session_state.get(NOTICES, ([], None))
    if notices and view != _view(options):  # the user changed the view: the link's problems are history
        st.session_state[NOTICES] = ([], None)
        return
    for notice in notices:
        st.warning(notice, icon=":material/link_off:")


def filter_bar(source_key: str, first_day: dt.date, last_day: dt.date, options: dict[str, list[str]]) -> Filters:
    """Draw the filters in the sidebar and return the selection; URL and widgets stay in sync.

    The first run of a session, of a newly picked source, or after a run that drew no filters
    (the source failed) takes its view from the URL.
    """
    default_start = max(first_day, last_day - dt.timedelta(days=DEFAULT_DAYS - 1))
    fresh = st.session_state.get("filter_bar.source_key") != source_key or "filters.dates" not in st.session_state
    if fresh:
        st.session_state["filter_bar.source_key"] = source_key
        st.session_state[NOTICES] = ([], None)
        st.session_state["filters.dates"] = _link_period((default_start, last_day), first_day, last_day)
        for name in options:
            st.session_state[f"filters.{name}"] = _link_values(name, options[name])
        st.session_state[NOTICES] = (st.session_state[NOTICES][0], _view(options))
    else:
        dates = tuple(st.session_state["filters.dates"])
        if not dates:  # the field was cleared: back to the default period
            st.session_state["filters.dates"] = (default_start, last_day)
        elif len(dates) == 2:  # the data may have grown or shrunk since: keep the dates inside it
            start = _clamp(dates[0], first_day, last_day)
            clamped = (start, _clamp(dates[1], start, last_day))
            if clamped != dates:
                st.session_state["filters.dates"] = clamped
    _show_notices(options)

    st.sidebar.date_input(
        "Period (UTC, inclusive)",
        key="filters.dates",
        min_value=first_day,
        max_value=last_day,
        help="KPIs compare this period with the previous period of equal length.",
    )
    st.sidebar.html(ENTER_APPLIES_DATES, unsafe_allow_javascript=True)
    st.sidebar.html(TAKES_NO_ROOM)  # only a style: drawn where it takes no room either
    for name, values in options.items():
        if values:
            st.sidebar.multiselect(
                display_name(name),
                values,
                key=f"filters.{name}",
                placeholder="All",
                format_func=lambda v, field=name: display_value(field, v),  # the link keeps the identifiers
            )

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
