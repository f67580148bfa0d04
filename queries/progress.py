"""How long-running steps (demo generation, a rollups build) report progress to whoever shows it."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[float, str], None]  # (share done from 0 to 1, the step starting)


def within(progress: Progress, start: float, end: float) -> Progress:
    """A Progress that maps a step's own 0..1 onto `start`..`end` of the whole."""
    return lambda done, step: progress(start + (end - start) * done, step)
