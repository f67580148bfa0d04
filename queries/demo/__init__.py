"""Synthetic demo warehouse: a Live-streaming Trust & Safety operation over a period.

`generate_demo(out)` writes the five contract tables, the injected-spike truth and a manifest.
"""

from queries.demo.generate import DemoSummary, generate_demo
from queries.demo.world import SCALES

__all__ = ["SCALES", "DemoSummary", "generate_demo"]
