"""The generated period: its calendar and where the world's dated things fall in it.

Produces the `events` table and the spike truth (`truth/spikes.csv`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from queries.contract import TABLES
from queries.demo import world
from queries.demo.world import Bump, ModelLaunch, PolicyChange, StaffingEpisode, Training


@dataclass(frozen=True)
class Spike:
    """An injected spike placed in the period (day indices inclusive)."""

    first: int
    last: int
    domain: str
    market: str | None
    multiplier: float
    news: str | None


@dataclass(frozen=True)
class Timeline:
    """The period's calendar and the dated things placed in it."""

    start: dt.date
    days: int
    launches: tuple[tuple[int, ModelLaunch], ...]
    spikes: tuple[Spike, ...]
    policy_changes: tuple[tuple[int, PolicyChange], ...]
    trainings: tuple[tuple[int, Training], ...]
    episodes: tuple[tuple[int, StaffingEpisode], ...]

    @property
    def end(self) -> dt.date:
        """Last day of the period (inclusive)."""
        return self.start + dt.timedelta(days=self.days - 1)

    @property
    def dates(self) -> np.ndarray:
        """Every day of the period as datetime64[D]."""
        return np.datetime64(self.start, "D") + np.arange(self.days)

    @property
    def weekday(self) -> np.ndarray:
        """0 = Monday, per day."""
        return (self.start.weekday() + np.arange(self.days)) % 7

    def date(self, day: int) -> dt.date:
        """The calendar date of day index `day`."""
        return self.start + dt.timedelta(days=int(day))

    def bump(self, b: Bump) -> np.ndarray:
        """Additive yearly bump per day: amplitude × Gaussian of the distance to month/day."""
        dates = self.dates
        years = dates.astype("datetime64[Y]").astype(int) + 1970
        distance = np.full(self.days, np.inf)
        for year in range(int(years.min()) - 1, int(years.max()) + 2):
            centre = np.datetime64(dt.date(year, b.month, b.day), "D")
            distance = np.minimum(distance, np.abs((dates - centre).astype(float)))
        return b.amplitude * np.exp(-0.5 * (distance / b.width_days) ** 2)

    def holidays(self) -> list[tuple[int, int, world.Holiday]]:
        """(first day, last day, holiday) for every holiday occurrence inside the period."""
        found = []
        for year in range(self.start.year, self.end.year + 1):
            for h in world.HOLIDAYS:
                first = (dt.date(year, h.month, h.day) - self.start).days
                last = first + h.days - 1
                if last >= 0 and first < self.days:
                    found.append((max(first, 0), min(last, self.days - 1), h))
        return sorted(found, key=lambda x: (x[0], x[2].title))

    def events_frame(self) -> pl.DataFrame:
        """The `events` table: launches, policy changes, training, staffing episodes, news, holidays."""
        rows: list[tuple[int, int | None, str, str, str | None, str | None, str | None]] = []
        rows += [(d, None, x.title, "model_launch", x.domain, None, None) for d, x in self.launches]
        rows += [(d, None, x.title, "policy_change", x.domain, None, None) for d, x in self.policy_changes]
        rows += [(d, None, x.title, "training", x.domain, None, x.vendor) for d, x in self.trainings]
        rows += [(d, d + x.days - 1, x.title, x.kind, None, None, x.vendor) for d, x in self.episodes]
        rows += [(s.first, s.last, s.news, "news_event", s.domain, s.market, None) for s in self.spikes if s.news]
        for first, last, h in self.holidays():
            market = h.markets[0] if len(h.markets) == 1 else None
            title = f"{h.title} ({', '.join(h.markets)})" if len(h.markets) > 1 else h.title
            rows.append((first, last if last > first else None, title, "holiday", None, market, None))
        rows.sort(key=lambda r: (r[0], r[2]))
        return pl.DataFrame(
            {
                "start": [self.date(r[0]) for r in rows],
                "end": [None if r[1] is None else self.date(min(r[1], self.days - 1)) for r in rows],
                "title": [r[2] for r in rows],
                "kind": [r[3] for r in rows],
                "policy_domain": [r[4] for r in rows],
                "market": [r[5] for r in rows],
                "vendor": [r[6] for r in rows],
            },
            schema=TABLES["events"].schema,
        )

    def spikes_frame(self) -> pl.DataFrame:
        """The spike truth: start, end (inclusive), policy_domain, market (null = all), multiplier."""
        spikes = sorted(self.spikes, key=lambda s: (s.first, s.domain))
        return pl.DataFrame(
            {
                "start": [self.date(s.first) for s in spikes],
                "end": [self.date(s.last) for s in spikes],
                "policy_domain": [s.domain for s in spikes],
                "market": [s.market for s in spikes],
                "multiplier": [s.multiplier for s in spikes],
            },
            schema={
                "start": pl.Date,
                "end": pl.Date,
                "policy_domain": pl.String,
                "market": pl.String,
                "multiplier": pl.Float64,
            },
        )


def build(start: dt.date, days: int, rng: np.random.Generator) -> Timeline:
    """Place the world's launches, spikes, policy changes, training and episodes in the period."""

    def place(at: float) -> int:
        return round(at * (days - 1))

    spikes = []
    jitter = rng.integers(-world.SPIKE_JITTER_DAYS, world.SPIKE_JITTER_DAYS + 1, size=len(world.SPIKES))
    for template, shift in zip(world.SPIKES, jitter, strict=True):
        length = min(template.days, days)
        first = int(np.clip(place(template.at) + shift, 0, days - length))
        spikes.append(
            Spike(first, first + length - 1, template.domain, template.market, template.multiplier, template.news)
        )
    return Timeline(
        start=start,
        days=days,
        launches=tuple((place(x.at), x) for x in world.MODEL_LAUNCHES),
        spikes=tuple(spikes),
        policy_changes=tuple((place(x.at), x) for x in world.POLICY_CHANGES),
        trainings=tuple((place(x.at), x) for x in world.TRAININGS),
        episodes=tuple((place(x.at), x) for x in world.STAFFING_EPISODES),
    )
