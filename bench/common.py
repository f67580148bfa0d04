"""Shared by the benchmarks: the arguments they all take, timing, and the demo they run on."""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from queries.demo import generate_demo


def arguments(description: str) -> argparse.Namespace:
    """--data-dir (default data/), --repeat (default 5), --json OUT."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path)
    return parser.parse_args()


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Median wall seconds of `repeat` calls."""
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - began)
    return statistics.median(samples)


def ensure_demo(data_dir: Path) -> tuple[Path, float | None]:
    """The default demo's folder, data_dir/demo (generated if absent), and the generation seconds if it ran."""
    demo = data_dir / "demo"
    return demo, None if (demo / "tickets.parquet").exists() else generate_demo(demo).seconds
