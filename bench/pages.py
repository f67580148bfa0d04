"""Benchmark: each page's script after a filter change on the default demo, as the dashboard serves it.

    python bench/pages.py [--data-dir data] [--repeat 5] [--json OUT]

Runs the app's page scripts through Streamlit's AppTest on data_dir/demo (generated if absent; served from rollups
from BELLWETHER_ROLLUP_ROWS tickets, as in the dashboard). Each run picks a new market, so every query of the page
misses the cache while the source stays open: what a planner's filter change costs the server. Reports the median
and maximum of `repeat` such runs per page, and one repeated view (cached).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from streamlit.testing.v1 import AppTest

from bench.common import arguments, ensure_demo
from queries.engines import distinct_values
from queries.engines.serving import open_served
from tests.apptest import _app

VIEWS = {  # name: (page, query parameters besides the market)
    "overview": ("overview", {}),
    "trends": ("trends", {}),
    "turnaround": ("turnaround", {}),
    "vendors": ("vendors", {}),
    "forecast_total": ("forecast", {}),
    "demand_vs_supply": ("forecast", {"forecast.section": "capacity"}),
}


def page_seconds(page: str, params: dict[str, str]) -> float:
    """Wall seconds of one run of the page script with these query parameters (fails on an exception)."""
    at = AppTest.from_function(_app, args=(page,), default_timeout=600)
    for key, value in params.items():
        at.query_params[key] = value
    began = time.perf_counter()
    at.run()
    seconds = time.perf_counter() - began
    if at.exception:
        raise SystemExit(f"{page} {params}: {at.exception[0].message}")
    return seconds


def main() -> None:
    args = arguments(__doc__.splitlines()[0])
    demo, generated = ensure_demo(args.data_dir)
    os.environ["BELLWETHER_DATA_DIR"] = str(args.data_dir.resolve())
    markets = distinct_values(open_served(demo), "market")[: args.repeat]
    results: dict[str, float | int] = {"generate_s": generated} if generated else {}
    results["open_s"] = round(page_seconds("overview", {}), 3)  # opens (or builds) the source once
    for name, (page, extra) in VIEWS.items():
        runs = [page_seconds(page, {"market": m, **extra}) for m in markets]
        results[f"{name}_p50_ms"] = round(statistics.median(runs) * 1000)
        results[f"{name}_max_ms"] = round(max(runs) * 1000)
        results[f"{name}_cached_ms"] = round(page_seconds(page, {"market": markets[0], **extra}) * 1000)
        print(name, results[f"{name}_p50_ms"], results[f"{name}_max_ms"], results[f"{name}_cached_ms"], flush=True)
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
