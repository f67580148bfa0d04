"""Bellwether dashboard: `python -m streamlit run dashboard/app.py` from the repository root."""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

if str(Path(__file__).resolve().parent.parent) not in sys.path:  # run by path: make `queries` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import streamlit as st

from dashboard import loaders
from dashboard.access import signed_in_user
from dashboard.context import PageContext
from dashboard.filter_bar import filter_bar
from dashboard.settings import SourceOption, source_options
from pages import benchmark, data_health, forecast, overview, transparency, trends, turnaround, vendors_quality
from queries.access import User
from queries.errors import SourceError
from queries.filters import DIMENSIONS

# (url path, title, icon, render function)
PAGES = (
    ("overview", "Overview", ":material/monitoring:", overview.render),
    ("trends", "Trends & spikes", ":material/trending_up:", trends.render),
    ("turnaround", "Turnaround & SLA", ":material/timer:", turnaround.render),
    ("forecast", "Forecast & capacity", ":material/query_stats:", forecast.render),
    ("vendors", "Vendors & quality", ":material/groups:", vendors_quality.render),
    ("transparency", "Transparency pack", ":material/description:", transparency.render),
    ("benchmark", "Public benchmark", ":material/public:", benchmark.render),
    ("data-health", "Data health", ":material/fact_check:", data_health.render),
)


def main(default_page: str = "overview") -> None:
    """Build the shell (source, filters) and run the selected page."""
    st.set_page_config(page_title="Bellwether", page_icon=":material/shield:", layout="wide")
    user = signed_in_user()
    if user is None:
        st.stop()
    ctx = _context(_pick_source(), user)
    pages = [
        st.Page(partial(render, ctx), title=title, icon=icon, url_path=path, default=path == default_page)
        for path, title, icon, render in PAGES
    ]
    st.navigation(pages).run()


def _pick_source() -> SourceOption:
    options = {o.key: o for o in source_options()}
    if "source" not in st.session_state:
        wanted = st.query_params.get("src", "demo")
        st.session_state["source"] = wanted if wanted in options else "demo"
    st.sidebar.title(":material/shield: Bellwether")
    key = st.sidebar.selectbox(
        "Data source",
        list(options),
        key="source",
        format_func=lambda k: options[k].label,
        help="Demo: generated synthetic data. Your extracts: BELLWETHER_SOURCE (and BELLWETHER_MAPPING).",
    )
    if st.query_params.get("src", "demo") != key:
        st.query_params["src"] = key
    return options[key]


def _context(option: SourceOption, user: User) -> PageContext:
    try:
        if option.is_demo and not Path(option.path, "tickets.parquet").exists():
            with st.status("First start: generating the demo warehouse…", expanded=True) as status:
                st.write(f"Two years of synthetic Live-safety operations into `{option.path}` (about 20 s, once).")
                loaders.ensure_demo(option)
                status.update(label="Demo warehouse generated.", state="complete", expanded=False)
            st.session_state["demo.generated"] = True
        ds, signature = loaders.dataset(option)
        if user.vendor:  # enforced on the data itself: every page, filter and export sees only these rows
            ds = loaders.scoped(ds, signature, user.vendor)
            signature = ds.signature
    except SourceError as exc:
        return PageContext(option, None, None, None, error=str(exc), user=user)
    tickets = ds.tables["tickets"]
    if tickets.is_empty():
        return PageContext(
            option, ds, signature, None, error="The tickets table has no valid rows; see Data health.", user=user
        )
    if option.is_demo:
        st.sidebar.caption("Synthetic demo data: realistic shapes, invented numbers.")
    options = {c: loaders.dimension_values(ds, signature, c) for c in DIMENSIONS if ds.has("tickets", c)}
    first, last = tickets["created_at"].min().date(), tickets["created_at"].max().date()
    return PageContext(option, ds, signature, filter_bar(option.key, first, last, options), user=user)


if __name__ == "__main__":
    main()
