"""Every view is a link: one helper keeps a widget's value in the URL parameter named by its key.

Call `from_url` just before drawing the widget (with `key=` and no default of its own). On the page's first run (or
when the widget was not drawn on the last run) the value comes from the URL; a value the link gives that is not
valid shows a warning naming the parameter and the value, then the default is used. On every run the widget's
value is written back, so a copied address reproduces the view. URLs carry stable identifiers (option values, never
their display labels).

Streamlit's own `bind="query-params"` is not used: it writes the displayed label into the URL and drops invalid
values without a word.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st

EMPTY = ""  # the URL value of a multiselect left empty (no parameter at all means: the default)


def from_url(
    key: str,
    default: Any,
    *,
    options: Sequence[Any] | None = None,
    many: bool = False,
    parse: Callable[[str], Any] = str,
    valid: Callable[[Any], bool] | None = None,
    expected: str = "",
    aliases: dict[str, Any] | None = None,
) -> None:
    """Seed st.session_state[key] from the URL parameter `key` (once), keep it valid, and write it to the URL.

    `options` (matched by their text) or `parse` and `valid` say what the parameter may hold; `expected` says it in
    words for the warning ("a whole number from 6 to 16"). With `many`, the parameter repeats (?k=a&k=b).
    `aliases` maps texts older links carry (display labels) to the option they meant, so those links keep working.
    """
    allowed = _checker(options, parse, valid, aliases or {})
    if key not in st.session_state:
        st.session_state[key] = _read(key, default, allowed, many, options, expected)
    elif options is not None:  # the options changed under a value (another source, other filters): back to valid
        value = st.session_state[key]
        if many:
            st.session_state[key] = [v for v in value if v in options]
        elif value not in options:
            st.session_state[key] = default
    _write(key, st.session_state[key])


def _checker(
    options: Sequence[Any] | None,
    parse: Callable[[str], Any],
    valid: Callable[[Any], bool] | None,
    aliases: dict[str, Any],
):
    """A function from the URL's text to (ok, value)."""

    def check(text: str) -> tuple[bool, Any]:
        if text in aliases and (options is None or aliases[text] in options):
            return True, aliases[text]
        if options is not None:
            found = [o for o in options if str(o) == text]
            return (True, found[0]) if found else (False, None)
        try:
            value = parse(text)
        except ValueError:
            return False, None
        return (valid is None or valid(value)), value

    return check


def _read(key: str, default: Any, allowed, many: bool, options: Sequence[Any] | None, expected: str) -> Any:
    """The value the URL gives for `key` (the default when it gives none), warning about the invalid part."""
    if key not in st.query_params:
        return default
    texts = st.query_params.get_all(key)
    if many and texts == [EMPTY]:
        return []
    results = [(text, *allowed(text)) for text in (texts if many else texts[-1:])]
    bad = [text for text, ok, _ in results if not ok]
    if bad:
        choices = expected or (f"one of {', '.join(str(o) for o in options)}" if options is not None else "valid")
        kept = "the others are shown" if many and len(bad) < len(results) else f"showing {_text(default)} instead"
        st.warning(
            f"The link's `{key}` = {', '.join(repr(b) for b in bad)} is not valid (expected {choices}); {kept}.",
            icon=":material/link_off:",
        )
    good = [value for _, ok, value in results if ok]
    if many:
        return good if good or not bad else default
    return good[0] if good else default


def section_picker(key: str, sections: dict[str, tuple[str, Any]], aliases: dict[str, str] | None = None) -> str:
    """The page's open section (`sections`: identifier -> (label, …)), a segmented control kept in the URL under
    `key`, so only the open section runs and a link opens it."""
    from_url(key, next(iter(sections)), options=list(sections), aliases=aliases)
    return st.segmented_control(
        "Section",
        list(sections),
        key=key,
        format_func=lambda s: sections[s][0],
        required=True,
        label_visibility="collapsed",
        width="stretch",
    )


def switch(text: str) -> bool:
    """`parse` for a toggle's parameter: "true" or "false" (any letter case)."""
    words = {"true": True, "false": False}
    if text.lower() not in words:
        raise ValueError(text)
    return words[text.lower()]


def period_from_url(key: str, default: tuple[dt.date, dt.date], first: dt.date, last: dt.date) -> None:
    """Like `from_url` for a date_input picking a period: the URL holds "start..end" (ISO dates). A link whose
    period is not two dates from `first` to `last` in order is named in a warning, and the default is used."""
    if key not in st.session_state:
        text = st.query_params.get(key)
        period = _period(text, first, last) if text is not None else default
        if period is None:
            st.warning(
                f"The link's `{key}` = {text!r} is not valid (expected two dates from {first} to {last}, the first "
                f"not after the second, as {first}..{last}); showing {default[0]} to {default[1]} instead.",
                icon=":material/link_off:",
            )
        st.session_state[key] = period or default
    picked = tuple(st.session_state[key])
    if len(picked) == 2:  # while the second day is being picked, the link keeps the last complete period
        wanted = f"{picked[0]}..{picked[1]}"
        if st.query_params.get(key) != wanted:
            st.query_params[key] = wanted


def _period(text: str, first: dt.date, last: dt.date) -> tuple[dt.date, dt.date] | None:
    """The period "start..end" in `text`, or None when it is not one within first..last."""
    try:
        start, end = (dt.date.fromisoformat(part) for part in text.split(".."))
    except ValueError:
        return None
    return (start, end) if first <= start <= end <= last else None


def _text(value: Any) -> str:
    """A default as the warning names it."""
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "none"
    return str(value)


def _write(key: str, value: Any) -> None:
    """Put the value in the URL when it differs from what is there."""
    if isinstance(value, list | tuple):
        wanted: str | list[str] = [str(v) for v in value] or [EMPTY]
        current: str | list[str] = st.query_params.get_all(key)
    else:
        wanted, current = str(value), st.query_params.get(key)
    if current != wanted:
        st.query_params[key] = wanted
