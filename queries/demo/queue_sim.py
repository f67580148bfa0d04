"""Turnaround from a fluid FIFO queue per reviewer pool, on a 1-minute grid over the period.

Arrivals: each day's human work of the pool (sum of handle seconds) spread over the day by
the pool's intraday curve (its markets' local evening peaks in UTC). Capacity: the day's
delivered productive seconds spread over the site's covered hours, following the arrival
curve as schedules do (CAPACITY_SHAPE_WEIGHT), so uncovered night hours are coverage gaps.
Backlog by the Lindley recursion, vectorised: S = cumsum(a − c), B = S − min(0, cummin S).
A ticket's wait is the time until capacity after its arrival has worked off the backlog
ahead of it (searchsorted on cumsum c). Live queues are served first: they only see the
live backlog (live work against the full capacity); other queues see the total backlog.
"""

from __future__ import annotations

import numpy as np

from queries.demo import world
from queries.demo.tickets import Tickets

MINUTES_PER_DAY = 1440
EPS_WORK_S = 1e-3  # tie-breaker: pickup needs some capacity (none in coverage gaps)


def _backlog(net: np.ndarray) -> np.ndarray:
    """Lindley recursion B_t = max(0, B_{t-1} + net_t), vectorised."""
    s = np.cumsum(net)
    return s - np.minimum(np.minimum.accumulate(s), 0.0)


def _market_curves() -> np.ndarray:
    """Expected share of a day's tickets per UTC minute, per market (rows sum to 1)."""
    hourly = np.asarray(world.INTRADAY_LOCAL) / sum(world.INTRADAY_LOCAL)
    local = np.repeat(hourly / 60.0, 60)
    minute = np.arange(MINUTES_PER_DAY)
    return np.stack([local[(minute + m.utc_offset * 60) % MINUTES_PER_DAY] for m in world.MARKETS])


def _coverage(pool: world.Pool) -> np.ndarray:
    """1 for UTC minutes in the site's covered local hours, else 0."""
    site = next(s for v in world.VENDORS if v.name == pool.vendor for s in v.sites if s.name == pool.site)
    local_hour = ((np.arange(MINUTES_PER_DAY) + site.utc_offset * 60) % MINUTES_PER_DAY) // 60
    return ((local_hour >= site.hours[0]) & (local_hour < site.hours[1])).astype(float)


def _arrival_grid(t: Tickets, idx: np.ndarray, curves: np.ndarray, days: int) -> tuple[np.ndarray, np.ndarray]:
    """Work arriving per minute (smooth fluid) and its intraday shape, for the tickets `idx`."""
    work = t.handle_s[idx]
    shape = np.bincount(t.market[idx], weights=work, minlength=len(world.MARKETS)) @ curves
    shape /= shape.sum()
    daily = np.bincount(t.day[idx], weights=work, minlength=days)
    return np.outer(daily, shape).ravel(), shape


def first_action_delays(t: Tickets, productive_s: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Seconds from creation to first action of each human ticket, pickup delay included.

    NaN for automated tickets; +inf when the first action falls after the end of the period.
    """
    days = productive_s.shape[1]
    n_minutes = days * MINUTES_PER_DAY
    pickup = rng.exponential(np.asarray(world.QUEUE_PICKUP_MEAN_S)[t.queue])
    delay = np.full(len(t), np.nan)
    curves = _market_curves()
    live = t.live
    minute = t.created_s // 60

    order = np.argsort(t.pool, kind="stable")
    bounds = np.searchsorted(t.pool[order], np.arange(len(world.POOLS) + 1))
    for p, pool in enumerate(world.POOLS):
        idx = order[bounds[p] : bounds[p + 1]]
        if idx.size == 0:
            continue
        arrivals, shape = _arrival_grid(t, idx, curves, days)
        profile = _coverage(pool) * (
            world.CAPACITY_SHAPE_WEIGHT * shape + (1.0 - world.CAPACITY_SHAPE_WEIGHT) / MINUTES_PER_DAY
        )
        capacity = np.outer(productive_s[p], profile / profile.sum()).ravel()
        done_before = np.concatenate([[0.0], np.cumsum(capacity)])  # capacity before minute k

        ahead = np.empty(idx.size)
        for is_live in (True, False):
            sel = live[idx] == is_live
            if not sel.any():
                continue
            work = _arrival_grid(t, idx[sel], curves, days)[0] if is_live else arrivals
            backlog = np.concatenate([[0.0], _backlog(work - capacity)])  # backlog before minute k
            ahead[sel] = backlog[minute[idx[sel]]]

        target = done_before[minute[idx]] + ahead + EPS_WORK_S
        k = np.searchsorted(done_before[1:], target, side="left")
        reached = k < n_minutes
        k = np.minimum(k, n_minutes - 1)
        finish = 60.0 * (k + (target - done_before[k]) / np.where(capacity[k] > 0, capacity[k], 1.0))
        wait = np.maximum(finish - t.created_s[idx], 0.0) + pickup[idx]
        delay[idx] = np.where(reached, wait, np.inf)
    return delay
