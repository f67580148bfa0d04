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
) -> None:
    """Seed st.session_state[key] from the URL parameter `key` (once), keep it valid, and write it to the URL.

    `options` (matched by their text) or `parse` and `valid` say what the parameter may hold; `expected` says it in
    words for the warning ("a whole number from 6 to 16"). With `many`, the parameter repeats (?k=a&k=b).
    """
    allowed = _checker(options, parse, valid)
    if key not in st.session_state:
        st.session_state[key] = _read(key, default, allowed, many, options, expected)
    elif options is not None:  # the options changed under a value (another source, other filters): back to valid
        value = st.session_state[key]
        if many:
            st.session_state[key] = [v for v in value if v in options]
        elif value not in options:
            st.session_state[key] = default
    _write(key, st.session_state[key])


def _checker(options: Sequence[Any] | None, parse: Callable[[str], Any], valid: Callable[[Any], bool] | None):
    """A function from the URL's text to (ok, value)."""

    def check(text: str) -> tuple[bool, Any]:
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
