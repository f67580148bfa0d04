"""Shared fixtures: small hand-made sources written to temporary folders."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a text file (dedented) under tmp_path and return its path."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return _write


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo warehouse (120 days to tests.apptest.DEMO_END) in a data folder, as after first start."""
    from queries.demo import generate_demo
    from tests.apptest import DEMO_END

    root = tmp_path_factory.mktemp("data")
    generate_demo(root / "demo", days=120, tickets_per_day=300, seed=11, end=DEMO_END)
    return root


@pytest.fixture
def app_env(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the app at the small demo with no extracts configured, and start with empty caches."""
    import streamlit as st

    monkeypatch.setenv("BELLWETHER_DATA_DIR", str(data_dir))
    monkeypatch.setenv("BELLWETHER_SCENARIO_URL", f"sqlite:///{data_dir / 'scenarios.db'}")
    monkeypatch.delenv("BELLWETHER_SOURCE", raising=False)
    monkeypatch.delenv("BELLWETHER_MAPPING", raising=False)
    st.cache_data.clear()
    st.cache_resource.clear()
