"""Benchmark: demo generation, loading, and the Overview page on the default demo warehouse.

    python bench/overview.py [--data-dir data] [--repeat 5] [--json OUT]

Measures in one run: generating the default demo (if absent), reading + validating it, the
Overview's data step per filter change without cache (Polars), the same per-group duration
percentiles in pandas on the same rows (ratio), and the whole page script run through
Streamlit's AppTest with a warm cache (what a filter change costs the server).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import arguments, ensure_demo, timed
from queries.analyses.overview import overview_kpis, top_movers, weekly_trend
from queries.filters import Filters
from queries.metrics import summarize
from queries.sources.dataset import load_dataset


def main() -> None:
    args = arguments(__doc__.splitlines()[0])
    demo, generated = ensure_demo(args.data_dir)
    results: dict[str, float | int] = {"generate_s": generated} if generated else {}
    results["demo_mb"] = round(sum(p.stat().st_size for p in demo.rglob("*") if p.is_file()) / 1e6, 1)

    began = time.perf_counter()
    ds = load_dataset(demo)
    results["load_validate_s"] = round(time.perf_counter() - began, 3)
    results["tickets"] = ds.tables["tickets"].height
    end = ds.tables["tickets"]["created_at"].max().date()
    views = [
        Filters(end - dt.timedelta(days=27), end),
        Filters(end - dt.timedelta(days=27), end, market=("US", "BR")),
        Filters(end - dt.timedelta(days=89), end, policy_domain=("hateful_conduct", "youth_safety")),
        Filters(end - dt.timedelta(days=6), end, surface=("live_stream",), source=("user_report",)),
    ]

    def overview_data(f: Filters) -> None:
        overview_kpis(ds, f)
        weekly_trend(ds, f)
        top_movers(ds, f)

    per_view = [timed(lambda f=f: overview_data(f), args.repeat) for f in views]
    results["overview_data_ms_p50"] = round(statistics.median(per_view) * 1000, 1)
    results["overview_data_ms_max"] = round(max(per_view) * 1000, 1)

    # Same rows, same question in pandas: P50/P90 hours to first action by domain × market × week.
    whole = Filters(ds.tables["tickets"]["created_at"].min().date(), end)
    results["polars_percentiles_s"] = round(
        timed(lambda: summarize(ds, "time_to_first_action", whole, by=["policy_domain", "market"], period="week"), 3), 3
    )
    frame = ds.tables["tickets"].select("created_at", "first_action_at", "policy_domain", "market").to_pandas()

    def pandas_percentiles() -> None:
        hours = (frame["first_action_at"] - frame["created_at"]).dt.total_seconds() / 3600
        week = frame["created_at"].dt.to_period("W-SUN").dt.start_time
        grouped = hours[hours >= 0].groupby([frame["policy_domain"], frame["market"], week])
        grouped.quantile([0.5, 0.9])
        grouped.agg(["size", "mean"])

    results["pandas_percentiles_s"] = round(timed(pandas_percentiles, 3), 3)
    results["pandas_over_polars"] = round(results["pandas_percentiles_s"] / results["polars_percentiles_s"], 2)

    # The whole page run through Streamlit with a warm cache, as on a filter change that was seen before,
    # and a first run of a new filter (cache miss).
    from streamlit.testing.v1 import AppTest

    os.environ["BELLWETHER_DATA_DIR"] = str(args.data_dir.resolve())

    def page() -> None:
        from dashboard.app import main

        main(default_page="overview")

    app = AppTest.from_function(page, default_timeout=600)
    app.run()
    results["page_first_run_s"] = round(timed(lambda: AppTest.from_function(page, default_timeout=600).run(), 1), 2)
    results["page_warm_ms_p50"] = round(timed(app.run, args.repeat) * 1000, 1)
    markets = app.multiselect(key="filters.market").options
    misses = []
    for market in markets[: args.repeat]:
        app.multiselect(key="filters.market").set_value([market])
        misses.append(timed(app.run, 1))
    results["page_filter_change_ms_p50"] = round(statistics.median(misses) * 1000, 1)

    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
