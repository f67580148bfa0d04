"""Decision quality: accuracy per vendor × domain × day, and the `qa_reviews` sample.

Accuracy = the domain's QA accuracy + the vendor's offset and strengths/weaknesses,
+ training gains from their day on, − policy-change gaps that close linearly over weeks.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from queries import contract
from queries.demo import world
from queries.demo.frames import labels, timestamps
from queries.demo.tickets import PRIORITY, Tickets
from queries.demo.timeline import Timeline

POOL_VENDOR = np.array([world.VENDOR_NAMES.index(p.vendor) for p in world.POOLS])
VIOLATING, NON_VIOLATING, ESCALATED = (contract.DECISIONS.index(d) for d in ("violating", "non_violating", "escalated"))


def accuracy(tl: Timeline) -> np.ndarray:
    """Probability that a human decision is correct, per vendor × domain × day."""
    domain_index = {name: i for i, name in enumerate(world.DOMAIN_NAMES)}
    base = np.array([d.qa_accuracy for d in world.DOMAINS])
    acc = np.repeat(base[None, :, None], len(world.VENDORS), axis=0).repeat(tl.days, axis=2)
    for v, vendor in enumerate(world.VENDORS):
        acc[v] += vendor.accuracy_offset
        for domain, delta in vendor.accuracy_by_domain:
            acc[v, domain_index[domain]] += delta
    for day, x in tl.trainings:
        acc[world.VENDOR_NAMES.index(x.vendor), domain_index[x.domain], day:] += x.accuracy_gain
    since = np.arange(tl.days)
    for day, x in tl.policy_changes:
        gap = x.accuracy_drop * np.clip(1.0 - (since - day) / (7.0 * x.weeks), 0.0, 1.0) * (since >= day)
        acc[:, domain_index[x.domain], :] -= gap[None, :]
    return np.clip(acc, 0.5, 0.995)


def _draw_labels(u: np.ndarray, table: tuple[tuple[str, float], ...]) -> np.ndarray:
    """Error-type codes (index into contract.ERROR_TYPES) drawn from a (label, weight) table."""
    labels, weights = zip(*table, strict=True)
    cdf = np.cumsum(weights) / sum(weights)
    codes = np.array([contract.ERROR_TYPES.index(x) for x in labels])
    return codes[np.minimum(np.searchsorted(cdf, u, side="right"), len(codes) - 1)]


def qa_reviews(
    t: Tickets,
    ticket_id: pl.Series,
    first_action_s: np.ndarray,
    decision: np.ndarray,
    acc: np.ndarray,
    period_start: dt.date,
    end_s: int,
    rng: np.random.Generator,
) -> pl.DataFrame:
    """QA re-reviews of a sample of human violating/non-violating decisions, 1–3 days later."""
    n = len(t)
    rate = np.where(t.priority == PRIORITY["P0"], world.QA_SAMPLE_RATE_P0, world.QA_SAMPLE_RATE)
    sampled = rng.random(n) < rate
    lag = rng.uniform(*world.QA_DELAY_DAYS, size=n) * 86_400
    correct_u, error_u = rng.random(n), rng.random(n)

    human = (t.pool >= 0) & np.isin(decision, [VIOLATING, NON_VIOLATING])
    reviewed_s = np.floor(np.where(human, first_action_s, 0.0) + lag).astype(np.int64)
    keep = np.flatnonzero(sampled & human & (reviewed_s < end_s))
    vendor = POOL_VENDOR[t.pool[keep]]
    action_day = (first_action_s[keep] // 86_400).astype(np.int64)
    correct = correct_u[keep] < acc[vendor, t.domain[keep], action_day]

    moderator = decision[keep]
    error = np.where(
        moderator == VIOLATING,
        _draw_labels(error_u[keep], world.QA_ERRORS_WHEN_VIOLATING),
        _draw_labels(error_u[keep], world.QA_ERRORS_WHEN_NON_VIOLATING),
    )
    error = np.where(correct, -1, error)
    err = {name: contract.ERROR_TYPES.index(name) for name in contract.ERROR_TYPES}
    flipped = np.where(moderator == VIOLATING, NON_VIOLATING, VIOLATING)
    qa_decision = np.select(
        [correct, error == err["over_enforcement"], np.isin(error, [err["under_enforcement"], err["wrong_policy"]])],
        [moderator, NON_VIOLATING, VIOLATING],
        flipped,  # technical: the action did not match the intended decision
    )

    frame = pl.DataFrame(
        {
            "ticket_id": ticket_id.gather(keep),
            "reviewed_at": timestamps(period_start, reviewed_s[keep]),
            "vendor": labels(world.VENDOR_NAMES, vendor),
            "policy_domain": labels(world.DOMAIN_NAMES, t.domain[keep]),
            "moderator_decision": labels(contract.DECISIONS, moderator),
            "qa_decision": labels(contract.DECISIONS, qa_decision),
            "is_correct": correct,
            "error_type": labels(contract.ERROR_TYPES, error),
        }
    )
    return frame.sort("reviewed_at", "ticket_id")
