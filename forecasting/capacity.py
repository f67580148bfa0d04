"""Capacity planning: workload → hours → FTE, deferred-queue backlog, supply from staffing, demand vs supply.

Units are in the names. One FTE is `paid_hours_per_fte_day` paid hours a day; of those, a share
`shrinkage` is not available (breaks, training, wellness, absence), and reviewers can be busy at
most `max_occupancy` of the available time without queues exploding.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

TOLERANCE = 1e-9  # work (tickets or hours) below which a queue counts as cleared


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
    """Deferred queue day by day, first in first out, in units of work (tickets or hours; fractions allowed).

    backlog_t = max(0, backlog_{t−1} + arrivals_t − capacity_t) holds exactly. Within a day, arrivals and capacity
    are spread evenly (a fluid queue), so work arriving at time t (in days) is cleared when everything that arrived
    before it has been, the initial backlog first; it meets the SLA when that is at most `sla_days` later (24 h ⇒ 1).
    `sla_met_share` is the share of a day's arrivals that meet it: null for a day without arrivals, and while the
    outcome of some of them is still open when the horizon ends (waiting, window not over).
    """
    if len(arrivals) != len(capacity):
        raise ValueError("arrivals and capacity must have the same length")
    # Work cleared so far, D(t), is piecewise linear: knots at the end of each day and where the queue empties.
    knot_days, knot_cleared = [0.0], [0.0]
    backlog_end: list[float] = []
    cleared: list[float] = []
    previous = initial_backlog
    for day, (arriving, cap) in enumerate(zip(arrivals, capacity, strict=True)):
        if arriving < 0 or cap < 0:
            raise ValueError("arrivals and capacity must be non-negative")
        arriving, cap = float(arriving), float(cap)
        done = min(cap, previous + arriving)
        before = knot_cleared[-1]
        if 0 < previous < cap - arriving:  # the queue drains at cap − arriving a day and empties during the day
            emptied = previous / (cap - arriving)
            knot_days.append(day + emptied)
            knot_cleared.append(before + cap * emptied)
        knot_days.append(day + 1.0)
        knot_cleared.append(before + done)
        end = max(0.0, previous + arriving - cap)
        backlog_end.append(end)
        cleared.append(done)
        previous = end
    arrived = [initial_backlog]  # cumulative arrivals A(t) at the start of each day, the initial backlog first
    for arriving in arrivals:
        arrived.append(arrived[-1] + arriving)
    share = [
        _share_in_time(day, arrived, knot_days, knot_cleared, sla_days) if arrivals[day] > 0 else None
        for day in range(len(arrivals))
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


def _share_in_time(
    day: int, arrived: list[float], knot_days: list[float], knot_cleared: list[float], sla_days: float
) -> float | None:
    """Share of day `day`'s arrivals cleared within `sla_days`: the length of the part of [day, day + 1) where
    D(t + sla_days) ≥ A(t). None when some of them still wait at the end of the horizon with their window open."""
    horizon, cleared_by_end = knot_days[-1], knot_cleared[-1]
    if day + 1 + sla_days > horizon and cleared_by_end < arrived[day + 1] - TOLERANCE:
        return None
    rate = arrived[day + 1] - arrived[day]

    def margin(t: float) -> float:
        # After the horizon D stays at its last value: only reached when all of this day's work is cleared by then.
        return float(np.interp(t + sla_days, knot_days, knot_cleared)) - (arrived[day] + rate * (t - day))

    # Both curves are linear between these points, so is the margin: the in-time part of each piece is exact.
    points = sorted({float(day), day + 1.0, *(k - sla_days for k in knot_days if day < k - sla_days < day + 1)})
    in_time = 0.0
    for start, end in itertools.pairwise(points):
        first, last = margin(start), margin(end)
        if first >= -TOLERANCE and last >= -TOLERANCE:
            in_time += end - start
        elif first >= -TOLERANCE:
            in_time += (end - start) * first / (first - last)
        elif last >= -TOLERANCE:
            in_time += (end - start) * last / (last - first)
    return min(1.0, in_time)
