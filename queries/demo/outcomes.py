"""What happens to each ticket: first action and close times, decision, views, appeals."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from queries import contract
from queries.demo import world
from queries.demo.quality import ESCALATED, NON_VIOLATING, POOL_VENDOR, VIOLATING
from queries.demo.tickets import SOURCE, Tickets


@dataclass(frozen=True)
class Outcomes:
    """Per-ticket outcome; NaN / -1 mark values that do not exist (yet)."""

    first_action_s: np.ndarray  # seconds since period start; NaN while waiting
    closed_s: np.ndarray  # NaN while open
    decision: np.ndarray  # index into contract.DECISIONS; -1 while waiting
    views: np.ndarray  # int; -1 while waiting
    appealed: np.ndarray  # -1 while waiting, else 0/1
    overturned: np.ndarray  # -1 while waiting, else 0/1


def decide(t: Tickets, human_delay_s: np.ndarray, acc: np.ndarray, end_s: int, rng: np.random.Generator) -> Outcomes:
    """Draw outcomes given the queue delays of human tickets (NaN automated, inf after the end)."""
    n = len(t)
    auto_delay = 1.0 + rng.exponential(world.AUTOMATION_DELAY_MEAN_S, size=n)
    delay = np.where(t.automated, auto_delay, human_delay_s)
    first = np.floor(t.created_s + delay)
    acted = first < end_s
    first = np.where(acted, first, np.nan)

    p_violating = np.zeros(len(contract.SOURCES))
    p_escalated = np.zeros(len(contract.SOURCES))
    for name, (viol, esc) in world.DECISION_BY_SOURCE.items():
        p_violating[SOURCE[name]], p_escalated[SOURCE[name]] = viol, esc
    u = rng.random(n)
    decision = np.select(
        [u < p_violating[t.source], u < p_violating[t.source] + p_escalated[t.source]],
        [VIOLATING, ESCALATED],
        NON_VIOLATING,
    )
    decision = np.where(t.automated & (decision == ESCALATED), NON_VIOLATING, decision)
    decision = np.where(acted, decision, -1)

    escalation_hours = rng.lognormal(np.log(world.ESCALATION_CLOSE_MEDIAN_H), world.ESCALATION_CLOSE_SIGMA, n)
    closed = first + np.nan_to_num(t.handle_s) + np.where(decision == ESCALATED, np.round(escalation_hours * 3600), 0)
    closed = np.where(closed < end_s, closed, np.nan)

    # Viewers reached while the item waited; a user report means someone saw it.
    rate = np.asarray(world.SURFACE_VIEWS_PER_SECOND)[t.surface] * rng.lognormal(0.0, world.VIEWS_SIGMA, n)
    proactive = t.source == SOURCE["proactive_model"]
    rate = np.where(proactive, rate * world.PROACTIVE_VIEWS_FACTOR, rate)
    views = rng.poisson(rate * np.where(acted, delay, 0.0)) + (t.source == SOURCE["user_report"])
    views = np.where(acted, views, -1)

    vendor = POOL_VENDOR[np.maximum(t.pool, 0)]
    day = np.minimum(np.nan_to_num(first) // 86_400, acc.shape[2] - 1).astype(np.int64)
    error_scale = (1.0 - acc[vendor, t.domain, day]) / (1.0 - world.REFERENCE_ACCURACY)
    p_overturn = np.where(
        t.automated,
        world.OVERTURN_AUTOMATED,
        np.clip(world.OVERTURN_HUMAN_BASE * error_scale, *world.OVERTURN_HUMAN_RANGE),
    )
    appealed = (decision == VIOLATING) & (rng.random(n) < world.APPEAL_RATE)
    overturned = appealed & (rng.random(n) < p_overturn)
    return Outcomes(
        first_action_s=first,
        closed_s=closed,
        decision=decision,
        views=views,
        appealed=np.where(acted, appealed, -1),
        overturned=np.where(acted, overturned, -1),
    )
