"""Staffing per reviewer pool and day: the plan, the roster that tries to follow it, and the
productive hours actually delivered — the capacity the queue simulation works against.

Plan: planners forecast each pool's human workload from the trailing mean of past days
(lagged, weekday-shaped, plus a safety margin for day-to-day variation) and turn it into
FTE at the target occupancy, never below the pool's coverage minimum (reviewers on the
floor through every covered hour). Roster: people leave every day (attrition, plus waves),
hiring classes every few weeks refill toward the plan with a lag, new hires ramp up over
weeks. Capacity stays consistent with the ticket workload at any demo size: small pools
are staffed by blended agents (see `simulate`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from numpy.lib.stride_tricks import sliding_window_view

from queries.demo import world
from queries.demo.timeline import Timeline


@dataclass(frozen=True)
class Staffing:
    """Delivered capacity per pool × day (seconds) and the `staffing` table."""

    productive_s: np.ndarray
    frame: pl.DataFrame


def forecast(x: np.ndarray, window: int, lag: int, safety_z: float) -> np.ndarray:
    """Planners' forecast per day: mean of x[d-lag-window : d-lag] plus `safety_z` standard
    deviations, which staffs small pools relatively more, as queueing needs (square-root
    staffing). Before the data starts, the first window stands in for history."""
    window = min(window, x.shape[1])
    history = np.tile(x[:, :window], (1, (lag + window) // window + 1))[:, : lag + window]
    padded = np.concatenate([history, x], axis=1)
    windows = sliding_window_view(padded, window, axis=1)[:, : x.shape[1]]
    return windows.mean(axis=2) + safety_z * windows.std(axis=2)


def _episode_arrays(tl: Timeline) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per pool × day: cumulative share of the roster gone in an attrition wave, hiring
    freeze, and the share of scheduled time that can be worked (outages)."""
    shape = (len(world.POOLS), tl.days)
    wave, freeze, workable = np.zeros(shape), np.zeros(shape, dtype=bool), np.ones(shape)
    for day, ep in tl.episodes:
        rows = np.array([i for i, p in enumerate(world.POOLS) if (p.vendor, p.site) == (ep.vendor, ep.site)])[:, None]
        if ep.leave_fraction:
            progress = np.clip((np.arange(tl.days) - day + 1) / ep.leave_days, 0.0, 1.0)
            wave[rows, :] += ep.leave_fraction * progress
        if ep.hiring_freeze:
            freeze[rows, day : day + ep.days] = True
        workable[rows, day : day + ep.days] *= ep.capacity_factor
    return wave, freeze, workable


def coverage(size: float) -> tuple[np.ndarray, np.ndarray]:
    """Per pool: reviewers on the floor (its vendor's `min_on_floor` × `size`, demo tickets a day ÷ the reference
    size) and the hours a day its site covers."""
    vendors = {v.name: v for v in world.VENDORS}
    sites = {(v.name, s.name): s for v in world.VENDORS for s in v.sites}
    covered_h = np.array([float(end - start) for start, end in (sites[p.vendor, p.site].hours for p in world.POOLS)])
    on_floor = np.array([vendors[p.vendor].min_on_floor for p in world.POOLS])
    return size * on_floor, covered_h


def coverage_fte(size: float) -> np.ndarray:
    """Scheduled FTE a day per pool that keeps its reviewers on the floor (`coverage`) at work through every
    covered hour, after planned shrinkage.

    At night, coverage rather than volume decides staffing (DOMAIN.md).
    """
    on_floor, covered_h = coverage(size)
    return on_floor * covered_h / (world.PAID_HOURS * (1.0 - world.PLANNED_SHRINKAGE))


def simulate(work_s: np.ndarray, tl: Timeline, rng: np.random.Generator, size: float = 1.0) -> Staffing:
    """Plan, roster and delivered productive hours for human work `work_s` (pool × day, seconds) of a demo
    of `size` (its tickets a day ÷ world.REFERENCE_TICKETS_PER_DAY)."""
    n_pools, days = work_s.shape
    weekday = tl.weekday

    # Weekday pattern of each pool's work (planners know it), and the deseasonalised level.
    present = np.unique(weekday)
    by_weekday = np.ones((n_pools, 7))
    for w in present:
        by_weekday[:, w] = work_s[:, weekday == w].mean(axis=1)
    mean_work = by_weekday[:, present].mean(axis=1, keepdims=True)
    ok = (mean_work > 0) & (by_weekday > 0)
    factor = np.divide(by_weekday, mean_work, out=np.ones_like(by_weekday), where=ok)[:, weekday]
    level = forecast(work_s / factor, world.PLAN_WINDOW_DAYS, world.PLAN_LAG_DAYS, world.PLAN_SAFETY_Z)

    productive_per_fte = world.PAID_HOURS * (1.0 - world.PLANNED_SHRINKAGE) * 3600.0
    # FTE a day: for the workload at the target occupancy, but never below the coverage minimum.
    floor_fte = coverage_fte(size)[:, None]
    required_fte = np.maximum(level * factor / (productive_per_fte * world.OCCUPANCY_TARGET), floor_fte)
    average_fte = np.maximum(level / (productive_per_fte * world.OCCUPANCY_TARGET), floor_fte)
    # People-equivalents the roster needs: each works WORKDAYS_PER_WEEK days of 7.
    roster_need = average_fte * 7 / world.WORKDAYS_PER_WEEK * (1 + world.ROSTER_BUFFER)

    # Roster in whole people, one step per day vectorised over pools. A pool keeps at least
    # `min_trained` people trained; when its volume needs fewer FTE, they are blended with
    # other work and give the pool only a share (`dedication`) of their time.
    wave, freeze, workable = _episode_arrays(tl)
    vendor = {v.name: v for v in world.VENDORS}
    attrition_rate = np.array([vendor[p.vendor].attrition_per_year / 365.0 for p in world.POOLS])
    class_phase = np.array([vendor[p.vendor].hiring_offset_days for p in world.POOLS])
    min_trained = np.array([vendor[p.vendor].min_trained for p in world.POOLS])
    dedication = np.clip(roster_need[:, 0] / min_trained, 1e-3, 1.0)
    wanted_people = np.round(roster_need / dedication[:, None]).astype(np.int64)
    people = np.zeros((n_pools, days), dtype=np.int64)
    hires = np.zeros((n_pools, days), dtype=np.int64)
    leavers = np.zeros((n_pools, days), dtype=np.int64)
    people[:, 0] = wanted_people[:, 0]
    wave_base = np.zeros(n_pools)
    for d in range(1, days):
        before = people[:, d - 1]
        wave_base = np.where((wave[:, d] > 0) & (wave[:, d - 1] == 0), before, wave_base)
        wave_leavers = np.round(wave_base * wave[:, d]) - np.round(wave_base * wave[:, d - 1])
        leavers[:, d] = np.minimum(rng.binomial(before, attrition_rate) + wave_leavers.astype(np.int64), before)
        stay = before - leavers[:, d]
        class_day = ((d + class_phase) % world.HIRING_CLASS_INTERVAL_DAYS == 0) & ~freeze[:, d]
        gap = wanted_people[:, max(d - world.HIRING_LAG_DAYS, 0)] - stay
        hires[:, d] = np.where(class_day, np.maximum(gap, 0), 0)
        people[:, d] = stay + hires[:, d]

    # New hires start at RAMP_START productivity and reach full productivity after RAMP_DAYS.
    tenure = np.arange(world.RAMP_DAYS)
    shortfall = (1.0 - world.RAMP_START) * (1.0 - tenure / world.RAMP_DAYS)
    deficit = np.stack([np.convolve(h, shortfall)[:days] for h in hires])
    ramp = np.where(people > 0, np.clip(1.0 - deficit / np.maximum(people, 1), 0.0, 1.0), 1.0)

    # Schedule people for the plan (topping up for ramping hires) as far as the roster allows.
    # Shifts follow the weekday pattern of the work, flat where the coverage minimum decides.
    available_fte = people * dedication[:, None] * world.WORKDAYS_PER_WEEK / 7 * required_fte / average_fte
    wanted_fte = required_fte * (1 + world.ROSTER_BUFFER) / np.maximum(ramp, world.RAMP_START)
    scheduled_fte = np.minimum(available_fte, wanted_fte)

    shrinkage = _shrinkage(tl, rng)
    shrinkage = 1.0 - (1.0 - shrinkage) * workable
    productive_h = np.round(scheduled_fte * ramp * world.PAID_HOURS * (1.0 - shrinkage), 3)
    on_floor, covered_h = coverage(size)

    frame = pl.DataFrame(
        {
            "date": np.tile(tl.dates, n_pools),
            "vendor": np.repeat([p.vendor for p in world.POOLS], days),
            "site": np.repeat([p.site for p in world.POOLS], days),
            "queue": pl.Series([None] * (n_pools * days), dtype=pl.String),
            "language": np.repeat([p.language for p in world.POOLS], days),
            "scheduled_fte": np.round(scheduled_fte, 3).ravel(),
            "productive_hours": productive_h.ravel(),
            "shrinkage": np.round(shrinkage, 4).ravel(),
            "headcount": people.ravel(),
            "attrition": leavers.ravel(),
            "min_on_floor": np.repeat(np.round(on_floor, 4), days),
            "covered_hours": np.repeat(covered_h, days),
        }
    ).with_columns(pl.col("date").cast(pl.Date))
    return Staffing(productive_s=productive_h * 3600.0, frame=frame)


def _shrinkage(tl: Timeline, rng: np.random.Generator) -> np.ndarray:
    """Share of paid time not worked, per pool × day: higher in December and summer, per-site noise."""
    sites = list(dict.fromkeys((p.vendor, p.site) for p in world.POOLS))
    seasonal = world.SHRINKAGE_BASE + tl.bump(world.SHRINKAGE_DECEMBER) + tl.bump(world.SHRINKAGE_SUMMER)
    by_site = seasonal[None, :] + rng.normal(0.0, world.SHRINKAGE_NOISE, size=(len(sites), tl.days))
    by_site = np.clip(by_site, *world.SHRINKAGE_RANGE)
    return by_site[[sites.index((p.vendor, p.site)) for p in world.POOLS]]
