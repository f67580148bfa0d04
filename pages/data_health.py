"""Data health: which source, how fresh each table is, row counts, and every rejected row by reason."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from dashboard.components import error_panel
from dashboard.context import PageContext
from queries.contract import FUTURE_TOLERANCE
from queries.health import rejected_rows, table_health


def render(ctx: PageContext) -> None:
    st.title("Data health")
    st.markdown(
        f"**Source:** `{ctx.source.shown}`" + (f" · mapping `{ctx.source.mapping}`" if ctx.source.mapping else "")
    )
    if ctx.dataset is None:
        error_panel("The source could not be read", ctx.error or "")
        return
    ds = ctx.dataset
    if ctx.user.vendor:
        st.info(f"You see {ctx.user.vendor}'s rows only; row-level validation details are for admins.")
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    changes = "when its row counts or latest timestamps change" if ctx.source.is_warehouse else "when any file changes"
    st.caption(f"Signature {ctx.signature} (changes {changes}) · checked {now:%Y-%m-%d %H:%M} UTC")

    st.subheader("Tables")
    tables = table_health(ds, now)
    if ctx.user.vendor:  # counted over every vendor's rows: not for a vendor-scoped user
        tables = tables.drop("rows_in_future")
    elif tables["rows_in_future"].sum():
        st.warning(
            "Some rows have a timestamp later than their file was written (column *In the future*): they are "
            "loaded and counted, but do not count as the latest value nor move the default period. Check the "
            "clock or time zone of the system that exports them."
        )
    st.dataframe(
        tables,
        hide_index=True,
        key="health.tables",
        column_config={
            "rows_read": st.column_config.NumberColumn("Rows read", format="localized"),
            "rows_loaded": st.column_config.NumberColumn("Loaded", format="localized"),
            "rows_rejected": st.column_config.NumberColumn("Rejected", format="localized"),
            "rows_superseded": st.column_config.NumberColumn("Superseded snapshots", format="localized"),
            "rows_in_future": st.column_config.NumberColumn(
                "In the future",
                format="localized",
                help=f"Rows with a timestamp later than their file was written plus {FUTURE_TOLERANCE.days} day: "
                "kept, flagged.",
            ),
            "latest": "Latest value",
            "age_hours": st.column_config.NumberColumn("Age (h)", format="%.1f"),
            "not_provided": "Fields not provided",
        },
    )
    missing = [t for t in ("staffing", "qa_reviews", "platform_metrics", "events") if t not in ds.reports]
    if missing:
        st.info(f"Not provided: {', '.join(missing)}. Pages that need them say so; add the files or map them.")

    st.subheader("Rejected rows")
    rejected = rejected_rows(ds)
    if rejected.is_empty():
        st.success("No rows rejected: every row passed the data contract.")
    else:
        st.caption("Rejected rows are excluded from every metric. Each reason shows the first examples (file and row).")
        st.dataframe(
            rejected,
            hide_index=True,
            key="health.rejected",
            column_config={
                "rows": st.column_config.NumberColumn("Rows", format="localized"),
                "share_of_read": st.column_config.NumberColumn("Share of rows read", format="percent"),
            },
        )
    st.caption("Definitions: docs/data-contract.md · command line: `python -m queries validate --source …`")
