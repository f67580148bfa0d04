"""Capacity planning: workload → hours → FTE, deferred-queue backlog, supply from staffing, demand vs supply.

Units are in the names. One FTE is `paid_hours_per_fte_day` paid hours a day; of those, a share
`shrinkage` is not available (breaks, training, wellness, absence), and reviewers can be busy at
most `max_occupancy` of the available time without queues exploding.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl


@dataclass(frozen=True)
class StaffingAssumptions:
    """How paid time turns into review capacity."""

    paid_hours_per_fte_day: float = 8.0
    shrinkage: float = 0.32
    max_occupancy: float = 0.85

    def __post_init__(self) -> None:
        if not 0 <= self.shrinkage < 1:
            raise ValueError("shrinkage must be in [0, 1)")
        if not 0 < self.max_occupancy <= 1:
            raise ValueError("max_occupancy must be in (0, 1]")
        if self.paid_hours_per_fte_day <= 0:
            raise ValueError("paid_hours_per_fte_day must be positive")

    @property
    def productive_hours_per_fte_day(self) -> float:
        """Hours of review one FTE can deliver a day at the occupancy cap."""
        return self.paid_hours_per_fte_day * (1 - self.shrinkage) * self.max_occupancy


def workload_hours(human_tickets: float, aht_seconds: float) -> float:
    """Reviewer hours needed: human-review tickets × average handle time."""
    if human_tickets < 0 or aht_seconds < 0:
        raise ValueError("tickets and handle time must be non-negative")
    return human_tickets * aht_seconds / 3600


def required_fte(hours_per_day: float, assumptions: StaffingAssumptions) -> float:
    """FTE needed to deliver `hours_per_day` of review work within the occupancy cap."""
    return hours_per_day / assumptions.productive_hours_per_fte_day


def backlog_projection(
    arrivals: Sequence[float], capacity: Sequence[float], *, initial_backlog: float = 0.0, sla_days: float = 1.0
) -> pl.DataFrame:
    """Deferred queue day by day, first in first out, in tickets (fractions allowed).

    backlog_t = max(0, backlog_{t−1} + arrivals_t − capacity_t) holds exactly. Work is cleared on a
    daily grain, so a day's arrivals meet the SLA when cleared on a day fewer than `sla_days` days
    after their arrival day (a 24 h SLA ⇒ the same day; 48 h ⇒ the same or the next day);
    the initial backlog is the oldest work and is cleared first. `sla_met_share` is the share of
    that day's arrivals cleared in time — null while some of them are still waiting at the end.
    """
    if len(arrivals) != len(capacity):
        raise ValueError("arrivals and capacity must have the same length")
    queue: deque[list[float]] = deque([[-math.inf, initial_backlog]] if initial_backlog > 0 else [])
    in_time = [0.0] * len(arrivals)
    pending = [float(a) for a in arrivals]
    backlog_end: list[float] = []
    cleared: list[float] = []
    previous = initial_backlog
    for day, (arriving, cap) in enumerate(zip(arrivals, capacity, strict=True)):
        if arriving < 0 or cap < 0:
            raise ValueError("arrivals and capacity must be non-negative")
        if arriving > 0:
            queue.append([day, float(arriving)])
        left = float(cap)
        done = 0.0
        while queue and left > 0:
            cohort = queue[0]
            take = min(cohort[1], left)
            cohort[1] -= take
            left -= take
            done += take
            if cohort[0] >= 0:
                pending[int(cohort[0])] -= take
                if day - cohort[0] < sla_days:
                    in_time[int(cohort[0])] += take
            if cohort[1] <= 1e-12:
                queue.popleft()
        end = max(0.0, previous + arriving - cap)
        backlog_end.append(end)
        cleared.append(done)
        previous = end
    share = [
        None if pending[d] > 1e-9 else (in_time[d] / arrivals[d] if arrivals[d] > 0 else None)
        for d in range(len(arrivals))
    ]
    return pl.DataFrame(
        {
            "day": list(range(len(arrivals))),
            "arrivals": [float(a) for a in arrivals],
            "capacity": [float(c) for c in capacity],
            "cleared": cleared,
            "backlog_end": backlog_end,
            "sla_met_share": share,
        },
        schema_overrides={"sla_met_share": pl.Float64},
    )
