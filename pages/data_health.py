"""Data health: which source, how fresh each table is, row counts, every rejected row and quarantined value by
reason, how times were read (time zone, DST), which columns were taken by name, and a drafted mapping."""

from __future__ import annotations

import datetime as dt

import polars as pl
import streamlit as st

from dashboard.components import count_column, decimal_column, error_panel, percent_column, table
from dashboard.context import PageContext
from queries.analyses.health import (
    NO_TIMEZONE,
    quarantined_fields,
    rejected_rows,
    table_health,
    taken_by_name,
    time_adjustments,
    values_block,
)
from queries.contract import FUTURE_TOLERANCE
from queries.display import display_name
from queries.errors import SourceError
from queries.sources.draft import draft_mapping


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
    exceptional = [c for c in ("rows_superseded", "rows_in_future") if c in tables.columns and not tables[c].sum()]
    table(  # columns of exceptions show only when something happened; fields not provided are listed below
        tables.with_columns(pl.col("table").map_elements(display_name, return_dtype=pl.String)).drop(
            *exceptional, "not_provided"
        ),
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
            "time_zone": st.column_config.TextColumn(
                "Time zone",
                help="The zone times without an offset were read in (the mapping's timezone); "
                f"'{NO_TIMEZONE}' when the mapping gives none.",
            ),
        },
    )
    if ctx.source.mapping is None:
        st.caption("No mapping file: columns are matched to fields by their names.")
    for report in ds.reports.values():
        taken = taken_by_name(report) if ctx.source.mapping is not None else None
        if taken:
            st.caption(f"**{report.table}**: {taken} (matched by name: map another column in the mapping file).")
        if report.missing_fields:
            st.caption(f"**{report.table}**: not provided: {', '.join(report.missing_fields)}.")
        if report.dimensions:
            st.caption(f"**{report.table}**: your own dimensions {', '.join(report.dimensions)} (filters and splits).")
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
        _where_the_examples_are(rejected)

    st.subheader("Quarantined values")
    quarantined = quarantined_fields(ds)
    if quarantined.is_empty():
        st.success("No value quarantined: every optional field of every loaded row passed the data contract.")
    else:
        st.caption(
            "A bad value in an optional field is set to null for its row, which is kept: the ticket counts as "
            "received, and metrics that need that field leave it out (a ticket whose closed_at is quarantined was "
            "closed at an unknown time: the backlog leaves it out; one whose first action or close is quarantined "
            "is left out of the SLA it is measured by)."
        )
        per_field = {"rows": count_column("Rows"), "share_of_loaded": percent_column("Share of rows loaded")}
        table(quarantined, "health.quarantined", per_field)
        _where_the_examples_are(quarantined)
    for report in ds.reports.values():
        for unknown in report.unknown_values:
            with st.expander(f"Map the unknown values of {report.table}.{unknown.field}"):
                st.caption("Add this to the mapping file, replacing each ? with an allowed value:")
                st.code(values_block(report.table, unknown), language="toml")
    adjusted = time_adjustments(ds)
    if not adjusted.is_empty():
        st.subheader("Times adjusted")
        st.caption(
            "Wall-clock times in the mapping's timezone that are not exactly one instant: a time skipped when the "
            "clocks went forward is shifted forward, a time repeated when they went back is the earlier instant."
        )
        table(adjusted, "health.adjusted", {"rows": count_column("Rows"), "share_of_loaded": percent_column("Share")})
    if not ctx.user.vendor and not ctx.source.is_warehouse:  # a file's header and sample: not for a scoped user
        _drafted_mapping(ctx.source.path)
    st.caption("Definitions: docs/data-contract.md · command line: `python -m queries validate --source …`")


def _where_the_examples_are(counted: pl.DataFrame) -> None:
    """Large extracts (served from rollups) are counted partition by partition, without examples: say where they are."""
    if not counted["examples"].str.len_chars().sum():
        st.caption(
            "Counted without examples: large extracts are read partition by partition. "
            "`python -m queries validate --source … --mapping …` lists the first examples (file and row)."
        )


def _drafted_mapping(path: str) -> None:
    """The mapping `python -m queries init-mapping` drafts for the source, to download; a caption when it cannot."""
    try:
        draft = draft_mapping(path)
    except SourceError as exc:
        st.caption(f"No mapping drafted for this source: {exc}")
        return
    st.download_button(
        "Download a drafted mapping (mapping.toml)",
        draft,
        file_name="mapping.toml",
        mime="application/toml",
        key="health.draft",
        help="A commented mapping file drafted from the tickets file's header and first rows: the likely id, "
        "timestamps and their format, fixed values and dimensions. Edit it, then check it with "
        "`python -m queries validate --source … --mapping mapping.toml`.",
    )
