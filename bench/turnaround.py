"""Benchmark: the Turnaround & SLA page on the default demo warehouse (target: p50 ≤ 300 ms per filter change).

    python bench/turnaround.py [--data-dir data] [--repeat 5] [--json OUT]

Measures the page's data step per filter change without cache (Polars, per tab), then the whole page
script run through Streamlit's AppTest with the dataset cached: a warm rerun, and a rerun after a filter
change (page data not cached yet) on every tab, which is what a user waits for.
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
from queries.analyses import turnaround as queries
from queries.filters import Filters
from queries.sla import load_sla_policy
from queries.sources.dataset import load_dataset

TABS = ("Time to act", "SLA", "Backlog", "Exposure", "Hour of week", "Proactive vs reactive")


def main() -> None:
    args = arguments(__doc__.splitlines()[0])
    demo = ensure_demo(args.data_dir)[0]
    results: dict[str, float | int] = {}
    began = time.perf_counter()
    ds = load_dataset(demo)
    results["load_validate_s"] = round(time.perf_counter() - began, 2)
    results["tickets"] = ds.tables["tickets"].height
    end = ds.tables["tickets"]["created_at"].max().date()
    policy = load_sla_policy()
    views = [
        Filters(end - dt.timedelta(days=27), end),
        Filters(end - dt.timedelta(days=27), end, market=("US", "BR")),
        Filters(end - dt.timedelta(days=89), end, policy_domain=("hateful_conduct", "youth_safety")),
        Filters(end - dt.timedelta(days=6), end, surface=("live_stream",), source=("user_report",)),
    ]
    steps = {
        "time_to_act": lambda f: (
            queries.turnaround_view(ds, f, "first_action_at", None, "day"),
            queries.headline(ds, f, policy),
        ),
        "sla": lambda f: queries.sla_view(ds, f, policy, "sla_rule"),
        "backlog": lambda f: queries.backlog_view(ds, f),
        "exposure": lambda f: queries.exposure_view(ds, f),
        "hour_of_week": lambda f: queries.hour_of_week(ds, f),
    }
    for name, step in steps.items():
        per_view = [timed(lambda f=f, step=step: step(f), args.repeat) for f in views]
        results[f"data_{name}_ms_p50"] = round(statistics.median(per_view) * 1000, 1)
        results[f"data_{name}_ms_max"] = round(max(per_view) * 1000, 1)

    import streamlit as st
    from streamlit.testing.v1 import AppTest

    os.environ["BELLWETHER_DATA_DIR"] = str(args.data_dir.resolve())

    def page() -> None:
        from dashboard.app import main

        main(default_page="turnaround")

    first = AppTest.from_function(page, default_timeout=600)
    began = time.perf_counter()
    first.run()
    results["page_first_run_s"] = round(time.perf_counter() - began, 2)  # includes reading the source once
    results["page_warm_ms_p50"] = round(timed(first.run, args.repeat) * 1000, 1)
    markets = first.multiselect(key="filters.market").options
    for tab in TABS:
        st.cache_data.clear()  # every tab pays for its own figures; the dataset (a cached resource) stays
        app = AppTest.from_function(page, default_timeout=600)
        app.query_params["turnaround.tab"] = tab
        app.run()
        changes = []
        for market in markets[: args.repeat]:  # each market once: the page data is not cached yet
            app.multiselect(key="filters.market").set_value([market])
            changes.append(timed(app.run, 1))
            assert not app.exception, app.exception
        key = tab.lower().replace(" ", "_")
        results[f"page_filter_change_{key}_ms_p50"] = round(statistics.median(changes) * 1000, 1)
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
