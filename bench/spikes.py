"""Benchmark: spike detection over every policy domain × market series of the default demo warehouse.

    python bench/spikes.py [--data-dir data] [--repeat 5] [--json OUT]

Measures the whole detection (daily counts from the tickets, baseline, window tests, false
discovery control, episodes) over the full two years for all policy domain × market groups,
target ≤ 5 s; and the same with the detector alone on the prepared matrix of daily counts.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from queries.dataset import load_dataset
from queries.demo import generate_demo
from queries.filters import Filters
from queries.spikes import SpikeSettings, daily_counts, detect_spikes, find_episodes

BY = ["policy_domain", "market"]
TARGET_S = 5.0


def timed(fn, repeat: int) -> float:
    """Median wall seconds of `repeat` calls."""
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - began)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    demo = args.data_dir / "demo"
    if not (demo / "tickets.parquet").exists():
        generate_demo(demo)
    ds = load_dataset(demo)
    tickets = ds.tables["tickets"]
    period = Filters(tickets["created_at"].min().date(), tickets["created_at"].max().date())
    daily = daily_counts(ds, period, BY, 0)
    groups = daily.select(BY).unique().height
    matrix = daily["tickets"].to_numpy().reshape(groups, -1).astype(float)
    results: dict[str, float | int] = {
        "tickets": tickets.height,
        "series": groups,
        "days": matrix.shape[1],
        "spikes": detect_spikes(ds, period, BY).height,
        "detect_spikes_s": round(timed(lambda: detect_spikes(ds, period, BY), args.repeat), 3),
        "detector_only_s": round(
            timed(lambda: find_episodes(matrix, period.start.weekday(), SpikeSettings()), args.repeat), 3
        ),
    }
    results["target_s"] = TARGET_S
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    if results["detect_spikes_s"] > TARGET_S:
        sys.exit(f"detection took {results['detect_spikes_s']} s, over the {TARGET_S} s target")


if __name__ == "__main__":
    main()
