"""The page benchmark (bench/pages.py) runs every view it reports on a demo served from rollups (no timing asserts)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

from bench.pages import VIEWS
from queries.demo import generate_demo

REPO = Path(__file__).resolve().parent.parent


def test_the_page_benchmark_measures_every_view(tmp_path: Path) -> None:
    generate_demo(tmp_path / "demo", days=120, tickets_per_day=300, end=dt.date(2026, 6, 30))  # reused, not regenerated
    out = tmp_path / "pages.json"
    env = dict(os.environ, BELLWETHER_ROLLUP_ROWS="1")  # served from rollups, as the default demo is
    command = [sys.executable, "bench/pages.py", "--data-dir", str(tmp_path), "--repeat", "2", "--json", str(out)]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads(out.read_text())
    assert "generate_s" not in results and results["open_s"] > 0
    for name in VIEWS:
        p50, slowest, cached = (results[f"{name}_{what}_ms"] for what in ("p50", "max", "cached"))
        assert 0 < p50 <= slowest and cached > 0, name
    assert (tmp_path / "cache").is_dir()  # the dashboard's rollups cache, under the data folder it was given
