"""Shared fixtures: small sources written to temporary folders, the app on a demo, the test PostgreSQL server."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


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
    from queries.demo import generate_demo  # imported here: only page tests need the generator
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


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The test PostgreSQL server's URL (BELLWETHER_TEST_POSTGRES_URL, e.g. from .ci/postgres.sh): tests that need
    it are skipped without one, and fail without one when CI requires it (BELLWETHER_REQUIRE_POSTGRES=1)."""
    url = os.environ.get("BELLWETHER_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("BELLWETHER_REQUIRE_POSTGRES") == "1":
            pytest.fail("BELLWETHER_REQUIRE_POSTGRES=1 but BELLWETHER_TEST_POSTGRES_URL is not set")
        pytest.skip("no PostgreSQL server (set BELLWETHER_TEST_POSTGRES_URL, e.g. via .ci/postgres.sh); CI requires it")
    return url


@pytest.fixture(scope="session")
def postgres_database(postgres_server: str) -> Iterator[Callable[[Path], str]]:
    """Load a source folder into a fresh database of the test server and return its URL; every database made
    this way is dropped at the end of the session."""
    import sqlalchemy as sa

    from queries.sources.warehouse_load import load_warehouse

    server = sa.create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    names: list[str] = []

    def load(source: Path) -> str:
        name = f"bellwether_test_{uuid.uuid4().hex[:10]}"
        with server.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
        names.append(name)
        url = sa.engine.make_url(postgres_server).set(database=name).render_as_string(hide_password=False)
        load_warehouse(source, url)
        return url

    try:
        yield load
    finally:
        with server.connect() as conn:
            for name in names:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        server.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real app (README's command) on a free local port, on a small pre-generated demo."""
    from queries.demo import generate_demo

    data = tmp_path_factory.mktemp("data")
    generate_demo(data / "demo", days=120, tickets_per_day=300, seed=5, end=dt.date(2026, 6, 30))
    port = _free_port()
    env = {**os.environ, "BELLWETHER_DATA_DIR": str(data)}
    for name in ("BELLWETHER_SOURCE", "BELLWETHER_MAPPING", "BELLWETHER_ACCESS"):
        env.pop(name, None)
    log = open(data / "server.log", "w")  # noqa: SIM115 - closed in the teardown
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "dashboard/app.py",
            "--server.headless=true",
            f"--server.port={port}",
            "--server.address=127.0.0.1",
            "--browser.gatherUsageStats=false",
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise RuntimeError(f"server did not start: {(data / 'server.log').read_text()[-2000:]}")
        time.sleep(0.5)
    yield url
    proc.terminate()
    proc.wait(timeout=20)
    log.close()
