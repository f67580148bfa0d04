"""Benchmark: spike detection over every policy domain × market series of the default demo warehouse.

    python bench/spikes.py [--data-dir data] [--repeat 5] [--json OUT]

Measures the whole detection (daily counts from the tickets, baseline, window tests, false
discovery control, episodes) over the full two years for all policy domain × market groups,
target ≤ 5 s; and the same with the detector alone on the prepared matrix of daily counts.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import arguments, ensure_demo, timed
from queries.analyses.spikes import SpikeSettings, daily_counts, detect_spikes, find_episodes
from queries.filters import Filters
from queries.sources.dataset import load_dataset

BY = ["policy_domain", "market"]
TARGET_S = 5.0


def main() -> None:
    args = arguments(__doc__.splitlines()[0])
    ds = load_dataset(ensure_demo(args.data_dir)[0])
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
