"""Bellwether dashboard: `python -m streamlit run dashboard/app.py` from the repository root."""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

if str(Path(__file__).resolve().parent.parent) not in sys.path:  # run by path: make `queries` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import streamlit as st
from sqlalchemy.exc import ArgumentError
from streamlit.errors import StreamlitAPIException

from dashboard import loaders
from dashboard.access import signed_in_user
from dashboard.context import PageContext
from dashboard.filter_bar import filter_bar
from dashboard.settings import SourceOption, source_options
from pages import benchmark, data_health, forecast, overview, transparency, trends, turnaround, vendors_quality
from queries.access import User
from queries.any_source import created_days
from queries.dataset import Dataset
from queries.errors import SourceError
from queries.filters import DIMENSIONS
from queries.rolled_up import RolledUpSource
from queries.rollups import PERCENTILE_ERROR_BOUND
from queries.warehouse import Warehouse

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
    options = {o.key: o for o in source_options(_secrets_warehouse_url())}
    if "source" not in st.session_state:
        wanted = st.query_params.get("src", "demo")
        st.session_state["source"] = wanted if wanted in options else "demo"
    st.sidebar.title(":material/shield: Bellwether")
    key = st.sidebar.selectbox(
        "Data source",
        list(options),
        key="source",
        format_func=lambda k: options[k].label,
        help="Demo: generated synthetic data. Your extracts: BELLWETHER_SOURCE (and BELLWETHER_MAPPING). "
        "Warehouse: a SQLAlchemy URL in BELLWETHER_SOURCE or BELLWETHER_WAREHOUSE_URL, or the `warehouse` "
        "connection in .streamlit/secrets.toml; metrics are computed in the database.",
    )
    if st.query_params.get("src", "demo") != key:
        st.query_params["src"] = key
    return options[key]


def _secrets_warehouse_url() -> str | None:
    """The URL of `st.connection("warehouse", type="sql")` when .streamlit/secrets.toml configures it."""
    try:
        configured = "warehouse" in st.secrets.get("connections", {})
    except FileNotFoundError:  # no secrets file at all
        return None
    if not configured:
        return None
    try:
        return st.connection("warehouse", type="sql").engine.url.render_as_string(hide_password=False)
    except (StreamlitAPIException, ArgumentError, ImportError) as exc:
        st.sidebar.error(
            f"The [connections.warehouse] section of .streamlit/secrets.toml is not usable: {exc}. "
            'Fix: set url = "dialect+driver://user:password@host/database" (see .streamlit/secrets.example.toml).'
        )
        return None


def _context(option: SourceOption, user: User) -> PageContext:
    try:
        if option.is_demo and not Path(option.path, "tickets.parquet").exists():
            with st.status("First start: generating the demo warehouse…", expanded=True) as status:
                st.write(f"Two years of synthetic Live-safety operations into `{option.path}` (about 20 s, once).")
                loaders.ensure_demo(option)
                status.update(label="Demo warehouse generated.", state="complete", expanded=False)
            st.session_state["demo.generated"] = True
        ds, signature = loaders.warehouse(option) if option.is_warehouse else loaders.dataset(option)
        if user.vendor and not isinstance(ds, Dataset):
            raise SourceError(
                "Vendor-scoped sign-ins need a source held in memory: the scope is enforced on its rows, and this "
                "source is a warehouse or large extracts served from rollups.",
                fix="Give vendor users an extracts source below BELLWETHER_ROLLUP_ROWS tickets, or another role.",
            )
        if user.vendor:  # enforced on the data itself: every page, filter and export sees only these rows
            ds = loaders.scoped(ds, signature, user.vendor)
            signature = ds.signature
    except SourceError as exc:
        return PageContext(option, None, None, None, error=str(exc), user=user)
    days = created_days(ds)
    if days is None:
        return PageContext(
            option, ds, signature, None, error="The tickets table has no valid rows; see Data health.", user=user
        )
    if option.is_demo:
        st.sidebar.caption("Synthetic demo data: realistic shapes, invented numbers.")
    if isinstance(ds, RolledUpSource):
        st.sidebar.caption(
            f"{ds.rollups.rows:,} tickets: served from daily rollups (percentiles within "
            f"{PERCENTILE_ERROR_BOUND:.0%}); "
            "pages that need ticket rows say so."
        )
    elif isinstance(ds, Warehouse):
        st.sidebar.caption("Metrics are computed in the warehouse; only aggregates come back.")
    options = {c: loaders.dimension_values(ds, signature, c) for c in DIMENSIONS if ds.has("tickets", c)}
    return PageContext(option, ds, signature, filter_bar(option.key, *days, options), user=user)


if __name__ == "__main__":
    main()
