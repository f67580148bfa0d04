"""Per-ticket draws: creation time, language, surface, source, priority, queue, automation,
routing to a reviewer pool and handle time. Everything is an array over tickets; values
are integer codes into the tuples of `world` and `queries.contract`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from queries import contract
from queries.demo import world

SOURCE = {name: i for i, name in enumerate(contract.SOURCES)}
PRIORITY = {name: i for i, name in enumerate(contract.PRIORITIES)}
SURFACE = {name: i for i, name in enumerate(world.SURFACES)}
QUEUE = {name: i for i, name in enumerate(world.QUEUES)}


@dataclass(frozen=True)
class Tickets:
    """All tickets of the period, sorted by creation time."""

    created_s: np.ndarray  # int64 seconds since the start of the first day (UTC)
    day: np.ndarray
    market: np.ndarray
    domain: np.ndarray
    language: np.ndarray
    surface: np.ndarray
    source: np.ndarray
    priority: np.ndarray
    queue: np.ndarray
    automated: np.ndarray  # bool
    pool: np.ndarray  # index into world.POOLS; -1 for automated decisions
    handle_s: np.ndarray  # float seconds; NaN for automated decisions

    def __len__(self) -> int:
        return len(self.created_s)

    @property
    def live(self) -> np.ndarray:
        """True for tickets in live queues (served before the others)."""
        return np.isin(self.queue, [QUEUE[q] for q in world.LIVE_QUEUES])


def _pick(u: np.ndarray, cdf: np.ndarray) -> np.ndarray:
    """Inverse-CDF choice per row: `cdf` has one cumulative distribution per ticket."""
    return np.minimum((u[:, None] >= cdf).sum(axis=1), cdf.shape[1] - 1)


def _routing_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per language: CDF over its vendor pools, those pools' indices, and its internal pool."""
    n_lang = len(world.LANGUAGES)
    vendor_pools = [[i for i, p in enumerate(world.POOLS) if p.language == lang and not p.internal]
                    for lang in world.LANGUAGES]  # fmt: skip
    width = max(len(p) for p in vendor_pools)
    cdf = np.ones((n_lang, width))
    index = np.zeros((n_lang, width), dtype=np.int64)
    internal = np.zeros(n_lang, dtype=np.int64)
    for li, pools in enumerate(vendor_pools):
        weights = np.array([world.POOLS[i].weight for i in pools])
        cdf[li, : len(pools)] = np.cumsum(weights) / weights.sum()
        index[li, : len(pools)] = pools
        index[li, len(pools) :] = pools[-1]
        internal[li] = next(i for i, p in enumerate(world.POOLS) if p.internal and p.language == world.LANGUAGES[li])
    return cdf, index, internal


def draw(counts: np.ndarray, rng: np.random.Generator) -> Tickets:
    """Expand day × market × domain × (proactive, reactive) counts into tickets."""
    day, market, domain, reactive = np.unravel_index(np.repeat(np.arange(counts.size), counts.ravel()), counts.shape)
    n = len(day)
    doms, mkts = world.DOMAINS, world.MARKETS

    # Language from the market (at most two per market).
    first_lang = np.array([world.LANGUAGES.index(m.languages[0][0]) for m in mkts])
    last_lang = np.array([world.LANGUAGES.index(m.languages[-1][0]) for m in mkts])
    p_first = np.array([m.languages[0][1] for m in mkts])
    language = np.where(rng.random(n) < p_first[market], first_lang[market], last_lang[market])

    surface_cdf = np.cumsum([d.surface_mix for d in doms], axis=1)
    surface = _pick(rng.random(n), surface_cdf[domain])

    names, weights = zip(*world.REACTIVE_SOURCE_SPLIT, strict=True)
    reactive_code = np.array([SOURCE[s] for s in names])[_pick(rng.random(n), np.cumsum(weights)[None, :])]
    source = np.where(reactive == 1, reactive_code, SOURCE["proactive_model"])

    imminent = np.array([d.imminent_harm for d in doms])
    stream = surface == SURFACE["live_stream"]
    priority = np.select(
        [stream & imminent[domain], stream, np.isin(surface, [SURFACE["live_comment"], SURFACE["gift"]])],
        [PRIORITY["P0"], PRIORITY["P1"], PRIORITY["P2"]],
        PRIORITY["P3"],
    )
    surface_queue = np.array(
        [QUEUE["live_p1"], QUEUE["live_comments"], QUEUE["gifts"], QUEUE["reports"], QUEUE["reports"]]
    )
    queue = np.where(priority == PRIORITY["P0"], QUEUE["live_p0"], surface_queue[surface])

    # Automation decides part of the model detections; its share is per domain of all tickets.
    auto_given_proactive = np.array([d.automated / d.proactive for d in doms])
    automated = (source == SOURCE["proactive_model"]) & (rng.random(n) < auto_given_proactive[domain])

    # Human tickets go to a pool covering their language; escalations, legal and part of P0 go to the internal team.
    cdf, index, internal_pool = _routing_tables()
    vendor_pool = index[language, _pick(rng.random(n), cdf[language])]
    to_internal = np.isin(source, [SOURCE[s] for s in world.INTERNAL_SOURCES]) | (
        (priority == PRIORITY["P0"]) & (rng.random(n) < world.INTERNAL_P0_SHARE)
    )
    pool = np.where(automated, -1, np.where(to_internal, internal_pool[language], vendor_pool))

    vendor_factor = np.array([next(v.handle_factor for v in world.VENDORS if v.name == p.vendor) for p in world.POOLS])
    median = (
        np.where(
            np.asarray(world.SURFACE_USES_STREAM_HANDLE)[surface],
            np.array([d.handle_stream_s for d in doms])[domain],
            np.array([d.handle_comment_s for d in doms])[domain],
        )
        * np.asarray(world.SURFACE_HANDLE_FACTOR)[surface]
    )
    handle = np.maximum(np.round(median * vendor_factor[pool] * rng.lognormal(0.0, world.HANDLE_SIGMA, n)), 2.0)
    handle_s = np.where(automated, np.nan, handle)

    hourly = np.asarray(world.INTRADAY_LOCAL) / sum(world.INTRADAY_LOCAL)
    local_hour = rng.choice(24, size=n, p=hourly)
    offset = np.array([m.utc_offset for m in mkts])
    created_s = (
        day.astype(np.int64) * 86_400 + ((local_hour - offset[market]) % 24) * 3_600 + rng.integers(0, 3_600, size=n)
    )

    order = np.argsort(created_s, kind="stable")
    return Tickets(
        created_s=created_s[order],
        day=day[order],
        market=market[order],
        domain=domain[order],
        language=language[order],
        surface=surface[order],
        source=source[order],
        priority=priority[order],
        queue=queue[order],
        automated=automated[order],
        pool=pool[order],
        handle_s=handle_s[order],
    )
