"""Daily active users per market and daily ticket volume per day × market × domain."""

from __future__ import annotations

import numpy as np

from queries.demo import world
from queries.demo.timeline import Timeline


def daily_active_users(tl: Timeline, rng: np.random.Generator) -> np.ndarray:
    """DAU (people) per market × day: compound growth, a weekly wobble and AR(1) noise."""
    years = np.arange(tl.days) / 365.0
    dau0 = np.array([m.dau_millions for m in world.MARKETS]) * 1e6
    growth = np.array([m.dau_growth for m in world.MARKETS])
    trend = dau0[:, None] * (1.0 + growth[:, None]) ** years[None, :]
    weekly = 1.0 + world.DAU_WEEKLY_AMPLITUDE * np.asarray(world.WEEKLY_SHAPE)[tl.weekday]
    shocks = rng.normal(0.0, world.DAU_NOISE_SIGMA, size=(len(world.MARKETS), tl.days))
    rho = world.DAU_NOISE_RHO
    noise = np.empty_like(shocks)
    noise[:, 0] = shocks[:, 0]
    for d in range(1, tl.days):  # one step per day, vectorised over markets
        noise[:, d] = rho * noise[:, d - 1] + np.sqrt(1.0 - rho**2) * shocks[:, d]
    return trend * weekly[None, :] * np.exp(noise)


def expected_tickets(tl: Timeline, dau: np.ndarray, tickets_per_day: float, rng: np.random.Generator) -> np.ndarray:
    """Expected tickets per day × market × domain × (proactive, reactive), scaled to `tickets_per_day`.

    Volume follows DAU, times weekly and yearly seasonality, holidays and injected spikes;
    model launches lift only the proactive part of their domain (a level shift).
    """
    n_markets, n_domains = len(world.MARKETS), len(world.DOMAINS)
    share = np.array([d.share for d in world.DOMAINS])
    proactive = np.array([d.proactive for d in world.DOMAINS])

    # Domains differ a little between markets; keep each domain's DAU-weighted share.
    tilt = np.exp(rng.normal(0.0, world.MARKET_DOMAIN_SIGMA, size=(n_markets, n_domains)))
    dau_weight = dau[:, 0] / dau[:, 0].sum()
    tilt /= (dau_weight[:, None] * tilt).sum(axis=0, keepdims=True)
    rate = np.array([m.tickets_per_dau for m in world.MARKETS])[:, None] * share[None, :] * tilt

    weekly_shape = np.asarray(world.WEEKLY_SHAPE)[tl.weekday]
    season = np.ones((n_markets, tl.days))
    for i, m in enumerate(world.MARKETS):
        season[i] = (1.0 + m.weekly_amplitude * weekly_shape) * (1.0 + sum(tl.bump(b) for b in m.yearly))
    for first, last, h in tl.holidays():
        rows = [world.MARKET_CODES.index(c) for c in h.markets] if h.markets else slice(None)
        season[rows, first : last + 1] *= h.multiplier

    spike = np.ones((tl.days, n_markets, n_domains))
    for s in tl.spikes:
        market = slice(None) if s.market is None else world.MARKET_CODES.index(s.market)
        spike[s.first : s.last + 1, market, world.DOMAIN_NAMES.index(s.domain)] *= s.multiplier

    launch = np.ones((tl.days, n_domains))
    for day, x in tl.launches:
        launch[day:, world.DOMAIN_NAMES.index(x.domain)] *= x.proactive_multiplier

    base = (dau * season).T[:, :, None] * rate[None, :, :] * spike
    expected = np.stack([base * proactive * launch[:, None, :], base * (1.0 - proactive)], axis=-1)
    return expected * (tickets_per_day * tl.days / expected.sum())


def draw_counts(expected: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Poisson counts around the expectation with mean-one lognormal day × market noise."""
    sigma = world.DAY_NOISE_SIGMA
    days, markets = expected.shape[:2]
    noise = np.exp(rng.normal(-0.5 * sigma**2, sigma, size=(days, markets)))
    return rng.poisson(expected * noise[:, :, None, None])
