"""What every page receives from the shell: the source, its data (or the error) and the filters."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from dashboard.components import error_panel
from dashboard.settings import SourceOption
from queries.engines import Source, engine_for, held_rows
from queries.filters import Filters
from queries.sources.access import LOCAL_ADMIN, User

LOCAL_USER = User(LOCAL_ADMIN, "admin")


@dataclass(frozen=True)
class PageContext:
    source: SourceOption
    dataset: Source | None
    signature: str | None
    filters: Filters | None
    error: str | None = None
    user: User = LOCAL_USER

    def ready(self, *, aggregates: bool = False) -> bool:
        """True when there is data to show; otherwise draws the error panel and returns False.

        Pages that can run on aggregates alone (a warehouse, or large extracts served from rollups) pass
        `aggregates=True`; the others explain that they need ticket rows held in memory.
        """
        if self.dataset is None or self.filters is None:
            error_panel(f"Cannot read the source {self.source.shown}", self.error or "No valid tickets.")
            st.caption("Fix the source and reload; the Data health page shows what was read.")
            return False
        return aggregates or self.has_rows("this page")

    def has_rows(self, part: str) -> bool:
        """True when the source holds ticket rows in memory; otherwise says that `part` (of a page) needs them."""
        if held_rows(self.dataset) is not None:
            return True
        engine = engine_for(self.dataset)
        st.info(
            f"{engine.rows_why} Not shown for this source, because it needs ticket rows held in memory: {part}. "
            f"To see it, {engine.rows_fix}."
        )
        return False
