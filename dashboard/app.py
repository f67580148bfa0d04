"""Bellwether dashboard: `python -m streamlit run dashboard/app.py` from the repository root."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

if str(Path(__file__).resolve().parent.parent) not in sys.path:  # run by path: make `queries` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import streamlit as st
from streamlit import config as st_config
from streamlit.errors import StreamlitSecretNotFoundError

from dashboard import loaders
from dashboard.access import check_access_vendors, signed_in_user
from dashboard.components import error_panel
from dashboard.context import PageContext
from dashboard.filter_bar import filter_bar
from dashboard.settings import SourceOption, source_options, warehouse_url_from_secrets
from forecasting.workers import warm
from pages import benchmark, data_health, forecast, overview, transparency, trends, turnaround, vendors_quality
from queries.engines import created_days, engine_for
from queries.errors import SourceError
from queries.filters import DIMENSIONS
from queries.sources.access import User

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
    pages = {
        path: st.Page(partial(_guarded, render, ctx), title=title, icon=icon, url_path=path)
        for path, title, icon, render in PAGES
    }
    # The app's root opens the default page at its own address (/overview), so every page, the first one
    # included, has a link of its own; the root is a hidden page that only forwards, query parameters and all.
    root = st.Page(partial(_forward, pages[default_page]), title="Bellwether", default=True, visibility="hidden")
    st.navigation([root, *pages.values()]).run()


def _forward(page: st.Page) -> None:
    st.switch_page(page, query_params={k: st.query_params.get_all(k) for k in st.query_params})


def _guarded(render: Callable[[PageContext], None], ctx: PageContext) -> None:
    """Run a page; a SourceError it meets (a bad config/sla.toml, a table it reads) becomes the error panel."""
    try:
        render(ctx)
    except SourceError as exc:
        error_panel("This page cannot be shown", exc.message(with_rows=ctx.user.vendor is None))
        st.caption("The other pages are not affected. Fix what the message names, then reload this page.")


def _pick_source() -> SourceOption:
    options = {o.key: o for o in source_options(_secrets_warehouse_url())}
    if "source" not in st.session_state:  # the link's source, else the configured one, else the demo
        configured = next((k for k in options if k != "demo"), "demo")
        wanted = st.query_params.get("src", configured)
        st.session_state["source"] = wanted if wanted in options else configured
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
    if st.query_params.get("src") != key:
        st.query_params["src"] = key
    return options[key]


def _secrets_warehouse_url() -> str | None:
    """The warehouse URL that .streamlit/secrets.toml's [connections.warehouse] gives, if any.

    A section that cannot make a URL (or a secrets file that is not valid TOML) is reported in the sidebar
    and skipped: the other sources keep working.
    """
    try:
        section = st.secrets.get("connections", {}).get("warehouse")
    except StreamlitSecretNotFoundError as exc:  # no secrets file, or one that is not valid TOML
        if any(Path(f).is_file() for f in st_config.get_option("secrets.files")):
            st.sidebar.error(
                f"**.streamlit/secrets.toml is not usable** — {exc} Fix: correct the TOML syntax at that line.",
                icon=":material/error:",
            )
        return None
    except AttributeError:  # [connections] is not a table
        section = "not a table"
    if section is None:
        return None
    try:
        return warehouse_url_from_secrets(section)
    except SourceError as exc:
        st.sidebar.error(f"**Warehouse connection not usable** — {exc}", icon=":material/error:")
        return None


def _context(option: SourceOption, user: User) -> PageContext:
    try:
        if option.is_demo and not Path(option.path, "tickets.parquet").exists():
            with st.status("First start: generating the demo warehouse…", expanded=True) as status:
                st.write(f"Two years of synthetic Live-safety operations into `{option.path}` (under a minute, once).")
                bar = st.progress(0.0)
                loaders.ensure_demo(option, progress=lambda done, step: bar.progress(done, text=step))
                status.update(label="Demo warehouse generated.", state="complete", expanded=False)
            st.session_state["demo.generated"] = True
        ds, signature = loaders.warehouse(option) if option.is_warehouse else loaders.dataset(option)
        warm()  # the forecast workers start in the background (a bad BELLWETHER_FORECAST_WORKERS: the panel)
        vendors = loaders.dimension_values(ds, "vendor") if ds.has("tickets", "vendor") else []
        _check_access_vendors(vendors)
        if user.vendor:  # enforced by the engine: every answer, filter value, table and report of this vendor only
            ds = loaders.scoped(ds, signature, user.vendor)
            signature = ds.signature
    except SourceError as exc:  # a vendor-scoped user never sees data quoted from the rows
        return PageContext(option, None, None, None, error=exc.message(with_rows=user.vendor is None), user=user)
    days = created_days(ds)
    if days is None:
        return PageContext(
            option, ds, signature, None, error="The tickets table has no valid rows; see Data health.", user=user
        )
    if option.is_demo:
        st.sidebar.caption("Synthetic demo data: realistic shapes, invented numbers.")
    engine = engine_for(ds)
    if engine.caption:  # how the source is served: rollups, a warehouse
        st.sidebar.caption(engine.caption)
    dimensions = [*(c for c in DIMENSIONS if ds.has("tickets", c)), *engine.own_dimensions]
    options = {c: loaders.dimension_values(ds, c) for c in dimensions}
    return PageContext(option, ds, signature, filter_bar(option.key, *days, options), user=user)


def _check_access_vendors(vendors: list[str]) -> None:
    """Stop the app when the access file names a vendor the source does not have (a typo must not scope a user
    to nothing, or hide a widening): the panel names the line, for everyone."""
    try:
        check_access_vendors(vendors)
    except SourceError as exc:
        error_panel("Access configuration is invalid", str(exc))
        st.stop()


if __name__ == "__main__":
    main()
