"""What every page receives from the shell: the source, its data (or the error) and the filters."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from dashboard.components import error_panel
from dashboard.settings import SourceOption
from queries.access import LOCAL_ADMIN, User
from queries.dataset import Dataset
from queries.filters import Filters

LOCAL_USER = User(LOCAL_ADMIN, "admin")


@dataclass(frozen=True)
class PageContext:
    source: SourceOption
    dataset: Dataset | None
    signature: str | None
    filters: Filters | None
    error: str | None = None
    user: User = LOCAL_USER

    def ready(self) -> bool:
        """True when there is data to show; otherwise draws the error panel and returns False."""
        if self.dataset is None or self.filters is None:
            error_panel(f"Cannot read the source {self.source.path}", self.error or "No valid tickets.")
            st.caption("Fix the source and reload; the Data health page shows what was read.")
            return False
        return True
