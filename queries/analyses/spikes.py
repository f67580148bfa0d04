"""Spike detection: which groups had more tickets than expected, when, by how much, and why.

Expected volume per group and day is a robust weekly-seasonal baseline:

* **Weekday factors**: per weekday, the trimmed mean (middle 60 %) over the history of the
  day's tickets divided by the centred 7-day mean, normalised to average 1 and shrunk
  towards 1 for small groups, whose weekday pattern is mostly noise.
* **Level**: the mean of the deseasonalised tickets of the `window_days` days before the day,
  leaving out values more than 3 robust standard deviations from the window's median. Past
  spikes and holiday dips are left out, so they neither lift nor sink the baseline; after a
  lasting level shift the median moves within about half a window, from then on the new
  level is the normal one and the shift is no longer reported.
* **Expected** = level × weekday factor. Counts around it are negative binomial: variance =
  expected + k² × expected² (k: the group's extra-Poisson spread, estimated robustly; small
  groups borrow the median of the large ones) + the uncertainty of the level itself.

Every day is tested with windows of 1, 2, 3, 5 and 7 days ending on it (short bursts and
longer, milder surges), each against the level frozen at the window's first day. All tests
of all groups in the period share one Benjamini–Hochberg threshold at the false discovery
rate `sensitivity`, so testing many groups does not drown users in false alarms. Days of
rejected windows at least one standard deviation above expected are flagged (one-day gaps
bridged). Each run of flagged days becomes the most significant span within it and up to
two weeks before it (so a level shift noticed a few days late gets its true onset, and days
that only rode along in a long window are trimmed); pieces of one group closer than
MERGE_GAP_DAYS are one episode. An episode is reported when it is significant on its own at
the same threshold and reaches the minimum excess and ratio.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from numpy.lib.stride_tricks import sliding_window_view
from scipy import stats

from queries.contract import TICKETS
from queries.engines import Source, created_days, groupable
from queries.filters import DIMENSIONS, Filters
from queries.metrics import summarize

SPIKE_SCHEMA: dict[str, pl.DataType] = {
    "start": pl.Date(),
    "end": pl.Date(),
    "days": pl.Int64(),
    "observed": pl.Int64(),
    "expected": pl.Float64(),
    "excess": pl.Float64(),
    "ratio": pl.Float64(),
    "score": pl.Float64(),
    "status": pl.String(),
    "kind": pl.String(),
}
"""A spike list: the group columns, then these; one row per episode, largest excess first.

`observed` tickets from `start` to `end` (inclusive) against `expected` from the baseline frozen
at `start`; `excess` = observed − expected; `ratio` = observed / expected; `score` = excess in
standard deviations of the expected count; `status`: new (still above expected on the last day
and began in the last `new_days` days), ongoing (still above) or ended; `kind`: level shift when
volume stayed up for two weeks after the episode, else spike.
"""

PROFILE_TRIM = 0.2  # each side, for the weekday factors
CENSOR_SDS = 3.0  # the level leaves out values this many robust sds from the window median
DISPERSION_MIN_EXPECTED = 30.0  # smaller groups cannot tell extra-Poisson spread from Poisson noise
FLAG_MIN_SDS = 1.0  # a day of a rejected window joins the episode when this far above expected
MERGE_GAP_DAYS = 3  # episodes of a group this close are one episode seen in pieces
ONSET_LOOKBACK_DAYS = 14  # how far before its first flagged day an episode's onset is searched
FLOOR_EXPECTED = 0.1  # a group with no recent tickets still expects a trickle: one ticket is no infinite ratio
LEVEL_SHIFT_DAYS = 14  # volume still up this long after an episode: it was a level shift
NORMAL_DAYS = 28  # drill-down: the normal period is this many days before the spike
EVENT_LEAD_DAYS = 1  # an event that starts this many days before a spike (a launch late in the day) is linked to it


@dataclass(frozen=True)
class SpikeSettings:
    """How the detector decides; `sensitivity` is the false discovery rate across all tests."""

    sensitivity: float = 0.01
    min_excess_tickets: float = 10.0
    min_ratio: float = 1.2
    window_days: int = 28
    min_history_days: int = 14
    scales: tuple[int, ...] = (1, 2, 3, 5, 7)
    new_days: int = 3

    def __post_init__(self) -> None:
        if not 0 < self.sensitivity < 1:
            raise ValueError(f"sensitivity is a false discovery rate between 0 and 1, not {self.sensitivity}")
        if self.min_history_days < 7 or self.window_days < self.min_history_days:
            raise ValueError("window_days must be at least min_history_days, which must be at least 7")


# ---------------------------------------------------------------------------------------------
# The detector on a matrix of daily counts (groups × days)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Baseline:
    """Expected tickets per group (rows) and day (columns) and the noise around it."""

    expected: np.ndarray  # (groups, days); NaN where there is not enough history
    level: np.ndarray  # (groups, days) deseasonalised level from the days before
    profile: np.ndarray  # (groups, 7) weekday factors (Monday first), mean 1
    dispersion: np.ndarray  # (groups,) k², the squared extra-Poisson coefficient of variation
    level_variance: np.ndarray  # (groups, days) variance of the level estimate


def baseline(counts: np.ndarray, first_weekday: int, settings: SpikeSettings = SpikeSettings()) -> Baseline:
    """The robust weekly-seasonal baseline of daily counts (groups × days; weekday 0 = Monday)."""
    y = np.atleast_2d(np.asarray(counts, dtype=float))
    weekday = (first_weekday + np.arange(y.shape[1])) % 7
    profile = weekly_profile(y, weekday)
    factors = profile[:, weekday]
    level, used = _trailing_level(y / factors, settings.window_days, settings.min_history_days)
    expected = np.where(np.isnan(level), np.nan, np.maximum(level * factors, FLOOR_EXPECTED))
    dispersion = _dispersion(y, expected)
    level_variance = (level + dispersion[:, None] * level**2) / np.maximum(used, 1)
    return Baseline(expected, level, profile, dispersion, level_variance)


def weekly_profile(y: np.ndarray, weekday: np.ndarray) -> np.ndarray:
    """(groups, 7) weekday factors, mean 1; 1 for weekdays with fewer than three usable weeks.

    Raw factors (trimmed mean of day / centred 7-day mean) are shrunk towards 1 by the share
    of their spread that is not Poisson noise, so a small group's noise is not taken for a pattern.
    """
    groups, days = y.shape
    profile = np.ones((groups, 7))
    if days < 7:
        return profile
    centred = np.full_like(y, np.nan)
    centred[:, 3 : days - 3] = sliding_window_view(y, 7, axis=1).mean(axis=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(centred > 0, y / centred, np.nan)
    weeks = np.zeros(groups)
    for d in range(7):
        part = ratio[:, weekday == d]
        usable = (~np.isnan(part)).sum(axis=1)
        factor = _trimmed_nanmean(part, PROFILE_TRIM)
        profile[:, d] = np.where((usable >= 3) & np.isfinite(factor) & (factor > 0), factor, 1.0)
        weeks = np.maximum(weeks, usable * (1 - 2 * PROFILE_TRIM))
    profile /= profile.mean(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        noise = np.where(weeks > 0, 1.0 / (np.maximum(y.mean(axis=1), 1e-9) * weeks), np.inf)
        signal = np.maximum(profile.var(axis=1) - noise, 0.0)
        weight = np.where(np.isfinite(noise), signal / (signal + noise), 0.0)
    return 1.0 + np.nan_to_num(weight)[:, None] * (profile - 1.0)


def _trimmed_nanmean(values: np.ndarray, trim: float) -> np.ndarray:
    """Row-wise mean of the values between the `trim` and 1 − `trim` ranks, ignoring NaN."""
    ordered = np.sort(values, axis=1)  # NaN sort last
    n = (~np.isnan(values)).sum(axis=1)
    cut = np.floor(n * trim).astype(int)
    cumulative = np.concatenate([np.zeros((values.shape[0], 1)), np.nancumsum(ordered, axis=1)], axis=1)
    rows = np.arange(values.shape[0])
    kept = n - 2 * cut
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(kept > 0, (cumulative[rows, n - cut] - cumulative[rows, cut]) / kept, np.nan)


def _trailing_level(x: np.ndarray, window: int, min_days: int) -> tuple[np.ndarray, np.ndarray]:
    """Censored mean of the `window` values before each day, and how many values it used.

    Values further than CENSOR_SDS robust standard deviations from the window's median are
    left out; the robust sd is 1.4826 × MAD, at least the Poisson sd √max(median, 1), so small
    counts are not censored for being discrete. NaN with fewer than `min_days` values.
    """
    groups, days = x.shape
    padded = np.concatenate([np.full((groups, window), np.nan), x[:, :-1]], axis=1)
    windows = sliding_window_view(padded, window, axis=1)[:, :days]  # (groups, days, window): days t − window .. t − 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows before the history starts
        median = np.nanmedian(windows, axis=2)
        mad = np.nanmedian(np.abs(windows - median[:, :, None]), axis=2)
    sd = np.maximum(1.4826 * mad, np.sqrt(np.maximum(median, 1.0)))
    kept = np.abs(windows - median[:, :, None]) <= CENSOR_SDS * sd[:, :, None]
    used = kept.sum(axis=2)
    enough = (~np.isnan(windows)).sum(axis=2) >= min_days
    with np.errstate(divide="ignore", invalid="ignore"):
        level = np.where(enough & (used > 0), np.where(kept, windows, 0.0).sum(axis=2) / used, np.nan)
    return level, used


def _dispersion(y: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """k² per group from the robust spread of relative residuals: Var ≈ 1/expected (Poisson) + k².

    Only groups whose typical day has DISPERSION_MIN_EXPECTED tickets can tell k² from Poisson
    noise; the others use the median of those (0 when none can tell).
    """
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # groups without any baseline
        relative = (y - expected) / expected
        typical = np.nanmedian(expected, axis=1)
        reliable = (typical >= DISPERSION_MIN_EXPECTED) & ((~np.isnan(relative)).sum(axis=1) >= 28)
        centre = np.nanmedian(relative, axis=1, keepdims=True)
        mad = 1.4826 * np.nanmedian(np.abs(relative - centre), axis=1)
        own = np.maximum(mad**2 - np.nanmedian(1.0 / expected, axis=1), 0.0)
    pooled = float(np.median(own[reliable])) if reliable.any() else 0.0
    return np.where(reliable, own, pooled)


@dataclass(frozen=True)
class _Sums:
    """Running sums per group (a leading zero column) to total any window [first, end] in O(1)."""

    tickets: np.ndarray
    factors: np.ndarray
    factors_squared: np.ndarray

    @classmethod
    def of(cls, y: np.ndarray, factors: np.ndarray) -> _Sums:
        def running(values: np.ndarray) -> np.ndarray:
            return np.concatenate([np.zeros((values.shape[0], 1)), np.cumsum(values, axis=1)], axis=1)

        return cls(running(y), running(factors), running(factors**2))


def _window(
    sums: _Sums, base: Baseline, g: np.ndarray | slice, first: np.ndarray, end: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Observed, expected, variance and log p of the windows first..end (inclusive) of groups `g`.

    Expected: the level frozen at the window's first day × the weekday factors (at least the
    floor per day); variance: Poisson + k² × Σ expected² + the level's own uncertainty.
    """
    level = base.level[g, first]
    weight = sums.factors[g, end + 1] - sums.factors[g, first]
    observed = sums.tickets[g, end + 1] - sums.tickets[g, first]
    expected = np.maximum(level * weight, FLOOR_EXPECTED * (end - first + 1))
    k2 = base.dispersion[g] if isinstance(g, np.ndarray) and g.ndim == 1 else base.dispersion[g, None]
    variance = (
        expected
        + k2 * level**2 * (sums.factors_squared[g, end + 1] - sums.factors_squared[g, first])
        + base.level_variance[g, first] * weight**2
    )
    variance = np.maximum(variance, expected * (1 + 1e-9))
    with np.errstate(invalid="ignore", divide="ignore"):
        log_p = stats.nbinom.logsf(observed - 1, expected**2 / (variance - expected), expected / variance)
    return observed, expected, variance, np.where(np.isnan(level), np.nan, log_p)


def window_tests(counts: np.ndarray, base: Baseline, first_weekday: int, scales: Sequence[int]) -> np.ndarray:
    """Log upper-tail p-values of the window sums ending on each day, per scale: (scales, groups, days).

    Each window is compared with the level frozen at its first day × the weekday factors, under
    a negative binomial with the baseline's variance. NaN where there is no baseline.
    """
    y = np.atleast_2d(np.asarray(counts, dtype=float))
    groups, days = y.shape
    sums = _Sums.of(y, base.profile[:, (first_weekday + np.arange(days)) % 7])
    log_p = np.full((len(scales), groups, days), np.nan)
    for i, length in enumerate(scales):
        if length <= days:
            end = np.arange(length - 1, days)
            log_p[i][:, end] = _window(sums, base, slice(None), end - length + 1, end)[3]
    return log_p


def benjamini_hochberg(log_p: np.ndarray, rate: float) -> tuple[np.ndarray, float]:
    """Tests rejected at false discovery rate `rate` (NaN = not tested) and the log p-value cut-off.

    The cut-off is −inf when nothing is rejected.
    """
    values = np.sort(log_p[~np.isnan(log_p)])
    ranks = np.arange(1, values.size + 1)
    passing = np.nonzero(values <= np.log(rate * ranks / max(values.size, 1)))[0]
    threshold = float(values[passing[-1]]) if passing.size else -np.inf
    return (log_p <= threshold) & ~np.isnan(log_p), threshold


@dataclass(frozen=True)
class Episode:
    """One spike of one group: day indices (inclusive) and its size against the frozen baseline."""

    group: int
    first: int
    last: int
    observed: float
    expected: float
    score: float  # (observed − expected) / standard deviation
    log_p: float  # log upper-tail probability of `observed` under the baseline
    level_shift: bool


def find_episodes(
    counts: np.ndarray, first_weekday: int, settings: SpikeSettings = SpikeSettings(), test_from: int = 0
) -> tuple[list[Episode], Baseline]:
    """Spike episodes in daily counts (groups × days); only days from index `test_from` on are tested."""
    y = np.atleast_2d(np.asarray(counts, dtype=float))
    groups, days = y.shape
    base = baseline(y, first_weekday, settings)
    if days == 0:
        return [], base
    log_p = window_tests(y, base, first_weekday, settings.scales)
    log_p[:, :, :test_from] = np.nan
    rejected, threshold = benjamini_hochberg(log_p, settings.sensitivity)
    flagged = np.zeros((groups, days), dtype=bool)
    for i, length in enumerate(settings.scales):
        for offset in range(min(length, days)):  # a rejected window ending on t covers t − length + 1 .. t
            flagged[:, : days - offset] |= rejected[i][:, offset:]
    factors = base.profile[:, (first_weekday + np.arange(days)) % 7]
    variance = base.expected + base.dispersion[:, None] * base.expected**2 + base.level_variance * factors**2
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.nan_to_num((y - base.expected) / np.sqrt(variance), nan=-np.inf)
    flagged &= z >= FLAG_MIN_SDS
    flagged[:, :test_from] = False
    sums = _Sums.of(y, factors)
    episodes = []
    for g in np.nonzero(flagged.any(axis=1))[0]:
        found: list[Episode] = []
        for first, last in _runs(flagged[g], max_gap=1):
            earliest = max(test_from, first - ONSET_LOOKBACK_DAYS, found[-1].last + 1 if found else 0)
            e = _strongest(y[g], z[g], sums, base, int(g), earliest, last)
            if e is None or e.log_p > threshold:
                continue
            if found and e.first <= found[-1].last + 1 + MERGE_GAP_DAYS:  # one episode seen in pieces
                e = _strongest(y[g], z[g], sums, base, int(g), found[-1].first, last, fixed_first=True)
                found.pop()
            found.append(e)
        episodes += [
            e
            for e in found
            if e.observed - e.expected >= settings.min_excess_tickets and e.observed >= settings.min_ratio * e.expected
        ]
    return episodes, base


def _strongest(
    y: np.ndarray,
    z: np.ndarray,
    sums: _Sums,
    base: Baseline,
    g: int,
    earliest: int,
    last: int,
    fixed_first: bool = False,
) -> Episode | None:
    """The most significant span [a, b] with earliest ≤ a ≤ b ≤ last (a = earliest when `fixed_first`),
    started earlier while the days before it are clearly high too (z ≥ FLAG_MIN_SDS).

    Searching back from the first flagged day finds the onset of a level shift that was noticed
    late; ending at the best day trims flagged days that only rode along in a long window.
    """
    if fixed_first:
        end = np.arange(earliest, last + 1)
        first = np.full(end.shape, earliest)
    else:
        first_idx, last_idx = np.triu_indices(last - earliest + 1)
        first, end = earliest + first_idx, earliest + last_idx
    group = np.full(first.shape, g)
    observed, expected, variance, log_p = _window(sums, base, group, first, end)
    if np.isnan(log_p).all():
        return None
    best = int(np.nanargmin(log_p))
    a, b = int(first[best]), int(end[best])
    while a > earliest and z[a - 1] >= FLAG_MIN_SDS:
        a -= 1
    observed, expected, variance, log_p = _window(sums, base, np.array([g]), np.array([a]), np.array([b]))
    best = 0
    after = slice(b + 1, b + 1 + LEVEL_SHIFT_DAYS)
    level_shift = False
    if y[after].size == LEVEL_SHIFT_DAYS:
        after_expected = max(base.level[g, a] * (sums.factors[g, after.stop] - sums.factors[g, after.start]), 1e-9)
        level_shift = bool(y[after].sum() / after_expected >= 1 + 0.5 * (observed[best] / expected[best] - 1))
    score = (observed[best] - expected[best]) / np.sqrt(variance[best])
    return Episode(g, a, b, float(observed[best]), float(expected[best]), float(score), float(log_p[best]), level_shift)


def _runs(mask: np.ndarray, max_gap: int) -> list[tuple[int, int]]:
    """(first, last) index of each run of True, bridging gaps of up to `max_gap` False values."""
    idx = np.nonzero(mask)[0]
    if idx.size == 0:
        return []
    breaks = np.nonzero(np.diff(idx) > max_gap + 1)[0]
    starts = np.concatenate([[idx[0]], idx[breaks + 1]])
    ends = np.concatenate([idx[breaks], [idx[-1]]])
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


# ---------------------------------------------------------------------------------------------
# On a dataset
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpikeScan:
    """The spike list (SPIKE_SCHEMA after the group columns) and every group's daily observed vs expected."""

    spikes: pl.DataFrame
    daily: pl.DataFrame  # group columns, day, tickets, expected (null without enough history)
    by: tuple[str, ...]


def history_days(settings: SpikeSettings) -> int:
    """Days before the period the detector reads: the level's window, and 16 weeks for the weekday factors."""
    return max(settings.window_days, 16 * 7)


def daily_counts(ds: Source, filters: Filters, by: Sequence[str], history: int) -> pl.DataFrame:
    """Tickets per group and day from `history` days before the period (within the data) to its end; zeros kept."""
    span = created_days(ds)
    start = max(filters.start - dt.timedelta(days=history), span[0]) if span else filters.start
    window = Filters.of(min(start, filters.start), filters.end, filters.selections())
    daily = summarize(ds, "volume", window, by=list(by), period="day")  # every day of the window, zeros too
    return daily.rename({"period": "day"}).sort([*by, "day"], nulls_last=True)


def scan_spikes(
    ds: Source, filters: Filters, by: Sequence[str], settings: SpikeSettings = SpikeSettings()
) -> SpikeScan:
    """Spike episodes per group of `by` that fall in the period, with the daily series behind them."""
    by = list(by)
    daily = daily_counts(ds, filters, by, history_days(settings))
    days = daily["day"].unique().sort()
    group_schema = {c: TICKETS.schema.get(c, pl.String()) for c in by}  # the source's own dimensions: text
    if daily.is_empty():  # no tickets in the selection: nothing to test
        empty = daily.with_columns(pl.lit(None, pl.Float64).alias("expected"))
        return SpikeScan(pl.DataFrame(schema=group_schema | SPIKE_SCHEMA), empty, tuple(by))
    groups = daily.select(by).unique(maintain_order=True) if by else pl.DataFrame()
    n_groups = groups.height if by else 1
    matrix = daily["tickets"].to_numpy().reshape(n_groups, days.len()).astype(float)
    first_day = days[0]
    episodes, base = find_episodes(matrix, first_day.weekday(), settings, test_from=(filters.start - first_day).days)
    daily = daily.with_columns(pl.Series("expected", base.expected.ravel(), nan_to_null=True))
    last = days.len() - 1
    rows = [
        {
            **(groups.row(e.group, named=True) if by else {}),
            "start": first_day + dt.timedelta(days=e.first),
            "end": first_day + dt.timedelta(days=e.last),
            "days": e.last - e.first + 1,
            "observed": round(e.observed),
            "expected": e.expected,
            "excess": e.observed - e.expected,
            "ratio": e.observed / e.expected,
            "score": e.score,
            "status": "ended" if e.last < last else ("new" if e.first > last - settings.new_days else "ongoing"),
            "kind": "level shift" if e.level_shift else "spike",
        }
        for e in episodes
    ]
    spikes = pl.DataFrame(rows, schema=group_schema | SPIKE_SCHEMA)
    spikes = spikes.sort(["excess", *by], descending=[True] + [False] * len(by), nulls_last=True)
    return SpikeScan(spikes, daily, tuple(by))


def detect_spikes(
    ds: Source, filters: Filters, by: Sequence[str], settings: SpikeSettings = SpikeSettings()
) -> pl.DataFrame:
    """The spike list for the period: group columns then SPIKE_SCHEMA, largest excess first."""
    return scan_spikes(ds, filters, by, settings).spikes


def events_concerning(events: pl.DataFrame, group: dict[str, object]) -> pl.DataFrame:
    """The events that concern a group: all but those naming another policy domain or market than the group's."""
    keep = pl.lit(True)
    for column in ("policy_domain", "market"):
        if column in group and column in events.columns:
            keep = keep & (pl.col(column).is_null() | (pl.col(column) == group[column]))
    return events.filter(keep)


def with_events(spikes: pl.DataFrame, events: pl.DataFrame | None) -> pl.DataFrame:
    """The spike list plus `events`: titles of the events that concern each spike's group and overlap the spike or
    the EVENT_LEAD_DAYS before it (a launch the evening before a level shift explains it); null when none."""
    titles = []
    for spike in spikes.iter_rows(named=True):
        found = pl.DataFrame() if events is None else events_concerning(events, spike)
        if not found.is_empty():
            first = spike["start"] - dt.timedelta(days=EVENT_LEAD_DAYS)
            found = found.filter(
                (pl.col("start") <= spike["end"]) & (pl.col("end").fill_null(pl.col("start")) >= first)
            )
        titles.append("; ".join(found["title"]) if found.height else None)
    return spikes.with_columns(pl.Series("events", titles, dtype=pl.String))


# ---------------------------------------------------------------------------------------------
# Drill-down: what explains one spike
# ---------------------------------------------------------------------------------------------

DRILL_DIMENSIONS = ("policy_domain", "market", "language", "surface", "source", "queue")
NOT_GIVEN = "(not given)"  # the segment of tickets without a value
MIN_SEGMENT_EXCESS_TICKETS = 1.0  # a segment that accounts for less than one extra ticket explains nothing
SEGMENT_DEFINITION = (
    "For a spike of a group (its tickets within the filters) from `start` to `end`, the normal window is the "
    f"{NORMAL_DAYS} days before `start` (clipped to the data). A segment is one value of a dimension the spike's "
    "series is not keyed on (policy domain, market, language, surface, detection source, queue: those the source "
    f"can group by; tickets without a value form the segment {NOT_GIVEN}). For each segment: `spike_share` = its "
    "tickets during the spike / all the spike's tickets; `normal_share` = its tickets in the normal window / all "
    "tickets of the normal window (shares 0–1); `expected_tickets` = the spike's tickets × `normal_share`, what "
    "the segment would have had at its normal share; `excess_tickets` = its tickets during the spike − "
    "`expected_tickets` (tickets); `lift` = `spike_share` / `normal_share` (empty for a segment absent from the "
    f"normal window). Over-represented segments that account for at least {MIN_SEGMENT_EXCESS_TICKETS:g} extra "
    f"ticket (`excess_tickets` ≥ {MIN_SEGMENT_EXCESS_TICKETS:g}) are listed, the largest `excess_tickets` first. "
    "Over the values of one dimension the excess sums to 0: it measures the shift in the mix, not the growth of "
    "the total, so a segment that is the whole group in both windows (Indonesian-language tickets of a spike in "
    "Indonesia) is never listed. Without a normal window (a spike on the data's first day) there is nothing to "
    "compare with and nothing is listed."
)
SEGMENT_SCHEMA: dict[str, pl.DataType] = {
    "dimension": pl.String(),
    "value": pl.String(),
    "spike_tickets": pl.Int64(),
    "normal_tickets": pl.Int64(),
    "spike_share": pl.Float64(),
    "normal_share": pl.Float64(),
    "expected_tickets": pl.Float64(),
    "excess_tickets": pl.Float64(),
    "lift": pl.Float64(),
}
"""What explains a spike: one row per over-represented segment (SEGMENT_DEFINITION), largest excess first."""


@dataclass(frozen=True)
class DrillDown:
    """Why a spike happened: over-represented segments, how fast the team acted, which vendors handled it."""

    normal_start: dt.date
    normal_end: dt.date
    segments: pl.DataFrame  # SEGMENT_SCHEMA
    turnaround: pl.DataFrame  # period, tickets, measured, p50/p90/mean hours, p50/p90 views (when provided)
    vendors: pl.DataFrame  # vendor, tickets, share, normal_share, p50_hours
    left_out: tuple[str, ...] = ()  # DRILL_DIMENSIONS the source has but its engine does not group by


def group_expr(group: dict[str, object]) -> pl.Expr:
    """True for rows of the group (a null value matches rows without that field)."""
    expr = pl.lit(True)
    for column, value in group.items():
        expr = expr & (pl.col(column).is_null() if value is None else pl.col(column) == value)
    return expr


def drill_down(ds: Source, filters: Filters, group: dict[str, object], start: dt.date, end: dt.date) -> DrillDown:
    """Over-represented segments, turnaround and vendors of one spike (its group within the filters,
    `start`–`end`) against the NORMAL_DAYS days before it (clipped to the data).

    Computed from counts and durations `summarize` gives by the group's keys and one more column, so every
    engine answers it; a dimension the engine cannot group by is left out of the segments (`DrillDown.left_out`).
    """
    first = created_days(ds)[0]
    normal_start, normal_end = max(first, start - dt.timedelta(days=NORMAL_DAYS)), start - dt.timedelta(days=1)
    spike = _group_filters(filters, group, start, end)
    normal = _group_filters(filters, group, normal_start, normal_end) if normal_start <= normal_end else None
    candidates = [d for d in DRILL_DIMENSIONS if d not in group and ds.has("tickets", d)]  # never its own keys
    dimensions = [d for d in candidates if groupable(ds, d)]
    return DrillDown(
        normal_start,
        normal_end,
        over_represented(*(_segment_counts(ds, f, group, dimensions) for f in (spike, normal))),
        _turnaround(ds, group, spike, normal),
        _vendors(ds, group, spike, normal),
        tuple(d for d in candidates if d not in dimensions),
    )


def _group_filters(filters: Filters, group: dict[str, object], start: dt.date, end: dt.date) -> Filters:
    """The filters' selections from `start` to `end`, narrowed to the group's values of filter dimensions (the
    answers are still picked by `group_expr`: a null value or another key cannot be selected)."""
    narrowed = {k: (v,) for k, v in group.items() if k in DIMENSIONS and v is not None}
    return Filters.of(start, end, filters.selections() | narrowed)


def _of_group(
    ds: Source, metric: str, filters: Filters, group: dict[str, object], column: str | None = None
) -> pl.DataFrame:
    """`metric` of the group's tickets in `filters` (by `column` too, when given), without the group's keys."""
    by = list(dict.fromkeys([*group, *([column] if column else [])]))
    out = summarize(ds, metric, filters, by=by).filter(group_expr(group))
    return out.drop(*(k for k in group if k != column))


def _segment_counts(
    ds: Source, filters: Filters | None, group: dict[str, object], dimensions: Sequence[str]
) -> pl.DataFrame:
    """(dimension, value, tickets) of the group's tickets in `filters` (none without) per value of each dimension."""
    schema = {"dimension": pl.String(), "value": pl.String(), "tickets": pl.Int64()}
    parts = [pl.DataFrame(schema=schema)]
    for dim in dimensions if filters else ():
        counts = _of_group(ds, "volume", filters, group, dim)
        parts.append(
            counts.select(
                pl.lit(dim).alias("dimension"),
                pl.col(dim).cast(pl.String).fill_null(NOT_GIVEN).alias("value"),
                pl.col("tickets").cast(pl.Int64),
            ).filter(pl.col("tickets") > 0)
        )
    return pl.concat(parts)


def over_represented(spike: pl.DataFrame, normal: pl.DataFrame) -> pl.DataFrame:
    """The segments over-represented among a spike's tickets against the normal window (SEGMENT_DEFINITION), from
    the tickets per (dimension, value) of each window (`dimension`, `value`, `tickets`)."""
    if spike.is_empty() or normal.is_empty():
        return pl.DataFrame(schema=SEGMENT_SCHEMA)
    total = pl.col("tickets").sum().over("dimension")
    during = spike.select("dimension", "value", pl.col("tickets").alias("spike_tickets"), total.alias("_spike_total"))
    before = normal.select("dimension", "value", pl.col("tickets").alias("normal_tickets"), total.alias("_normal"))
    normal_totals = before.group_by("dimension").agg(pl.col("_normal").first())
    out = (
        during.join(before.drop("_normal"), on=["dimension", "value"], how="left")
        .join(normal_totals, on="dimension", how="inner")  # a dimension without a value in the normal window: none
        .with_columns(pl.col("normal_tickets").fill_null(0))
        .with_columns(
            (pl.col("spike_tickets") / pl.col("_spike_total")).alias("spike_share"),
            (pl.col("normal_tickets") / pl.col("_normal")).alias("normal_share"),
        )
        .with_columns(
            (pl.col("_spike_total") * pl.col("normal_share")).alias("expected_tickets"),
            pl.when(pl.col("normal_share") > 0).then(pl.col("spike_share") / pl.col("normal_share")).alias("lift"),
        )
        .with_columns((pl.col("spike_tickets") - pl.col("expected_tickets")).alias("excess_tickets"))
        .select(list(SEGMENT_SCHEMA))
        .cast(SEGMENT_SCHEMA)
    )
    out = out.filter(pl.col("excess_tickets") >= MIN_SEGMENT_EXCESS_TICKETS)
    return out.sort(["excess_tickets", "dimension", "value"], descending=[True, False, False])


TURNAROUND_SCHEMA: dict[str, pl.DataType] = {
    "period": pl.String(),
    "tickets": pl.Int64(),
    "measured": pl.Int64(),
    "p50_hours": pl.Float64(),
    "p90_hours": pl.Float64(),
    "mean_hours": pl.Float64(),
    "p50_views": pl.Float64(),
    "p90_views": pl.Float64(),
}
"""The drill-down's turnaround: `time_to_first_action`'s measures and `exposure`'s P50/P90 views (when the source
has views) of the spike's tickets and of the normal window's (`period`: "during the spike", "normal")."""


def _turnaround(ds: Source, group: dict[str, object], spike: Filters, normal: Filters | None) -> pl.DataFrame:
    """Time to first action (and views before action, when provided) during the spike vs normally."""
    if not ds.has("tickets", "first_action_at"):
        return pl.DataFrame()
    views = ds.has("tickets", "views_before_action")
    schema = {k: v for k, v in TURNAROUND_SCHEMA.items() if views or not k.endswith("views")}
    measures = {"time_to_first_action": [c for c in schema if c.endswith(("tickets", "measured", "hours"))]}
    if views:
        measures["exposure"] = ["p50_views", "p90_views"]
    rows = []
    for label, f in (("during the spike", spike), ("normal", normal)):
        row = {"period": label, "tickets": 0, "measured": 0}  # no ticket of the group in the window: 0, no durations
        for metric, fields in measures.items() if f else ():
            found = _of_group(ds, metric, f, group)
            row |= found.select(fields).row(0, named=True) if found.height else {}
        rows.append(row)
    return pl.DataFrame(rows, schema=schema)


def _vendors(ds: Source, group: dict[str, object], spike: Filters, normal: Filters | None) -> pl.DataFrame:
    """Which vendors handled the spike's tickets (share vs normal) and their P50 time to first action."""
    if not ds.has("tickets", "vendor"):
        return pl.DataFrame()
    timed = ds.has("tickets", "first_action_at")
    none = "(none: automated or waiting)"
    vendor = pl.col("vendor").cast(pl.String).fill_null(none)
    during = _of_group(ds, "time_to_first_action" if timed else "volume", spike, group, "vendor")
    during = during.filter(pl.col("tickets") > 0).with_columns(vendor, pl.col("tickets").cast(pl.Int64))
    before = (
        _of_group(ds, "volume", normal, group, "vendor").select(vendor, pl.col("tickets").alias("normal_tickets"))
        if normal
        else pl.DataFrame(schema={"vendor": pl.String, "normal_tickets": pl.Int64})
    )
    normal_total = before["normal_tickets"].sum()
    out = during.join(before, on="vendor", how="left").with_columns(
        (pl.col("tickets") / pl.col("tickets").sum()).alias("share"),
        (pl.col("normal_tickets").fill_null(0) / normal_total if normal_total else pl.lit(None, pl.Float64)).alias(
            "normal_share"
        ),
    )
    return out.select("vendor", "tickets", "share", "normal_share", *(["p50_hours"] if timed else [])).sort(
        ["tickets", "vendor"], descending=[True, False]
    )
