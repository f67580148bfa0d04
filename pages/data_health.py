"""Data health: which source, how fresh each table is, row counts, and every rejected row by reason."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from dashboard.components import count_column, decimal_column, error_panel, percent_column, table
from dashboard.context import PageContext
from queries.analyses.health import rejected_rows, table_health
from queries.contract import FUTURE_TOLERANCE


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
    table(
        tables,
        "health.tables",
        {
            "rows_read": count_column("Rows read"),
            "rows_loaded": count_column("Loaded"),
            "rows_rejected": count_column("Rejected"),
            "rows_superseded": count_column("Superseded snapshots"),
            "rows_in_future": count_column(
                "In the future",
                f"Rows with a timestamp later than their file was written plus {FUTURE_TOLERANCE.days} day: "
                "kept, flagged.",
            ),
            "latest": "Latest value",
            "age_hours": decimal_column("Age (h)"),
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
        table(
            rejected,
            "health.rejected",
            {"rows": count_column("Rows"), "share_of_read": percent_column("Share of rows read")},
        )
    st.caption("Definitions: docs/data-contract.md · command line: `python -m queries validate --source …`")
