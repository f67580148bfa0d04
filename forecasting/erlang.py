"""Queueing maths for real-time review queues: Erlang B, Erlang C and Erlang A.

A Live stream must be reviewed while it is on air; a stream that ends before a reviewer picks it
up is the Live version of an abandoned call. Queues where that matters use Erlang A (M/M/N+M,
exponential patience); the others use Erlang C (M/M/N). Nothing here uses factorials: Erlang B
goes by its recursion and Erlang A works with state probabilities in log space, so thousands of
agents neither overflow nor lose precision.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import integrate
from scipy.special import gammaln, logsumexp

# Birth-death states below e^-40 ≈ 4e-18 of the largest are dropped.
_LOG_NEGLIGIBLE = -40.0
# Absorbs float error in integer rounding, e.g. 14 / 0.7 = 20.000000000000004 must give 20 positions.
_ROUNDING_SLACK = 1e-9


@dataclass(frozen=True)
class QueueMetrics:
    """Steady-state performance of one staffing level.

    service_level: share of all arrivals whose service starts within the target (abandoned ones miss).
    prob_wait: probability an arrival finds every agent busy.
    asa_seconds: mean wait; Erlang C over all arrivals, Erlang A over served arrivals only.
    occupancy: carried load per agent (equal to offered load per agent in a stable Erlang C queue).
    abandon_rate: share of arrivals that abandon (Erlang A); None for Erlang C.
    """

    service_level: float
    prob_wait: float
    asa_seconds: float
    occupancy: float
    abandon_rate: float | None


@dataclass(frozen=True)
class StaffingResult:
    """Agents needed on the floor (and positions to schedule) for one interval, with their metrics."""

    traffic_erlangs: float
    agents: int
    positions: int
    service_level: float
    occupancy: float
    asa_seconds: float
    prob_wait: float
    abandon_rate: float | None


def erlang_b(servers: int, traffic_erlangs: float) -> float:
    """Blocking probability of M/M/N/N with offered load A.

    Recursion B(0) = 1, B(n) = A·B(n−1) / (n + A·B(n−1)): every step stays in [0, 1], so it is
    stable for any N (it underflows gracefully towards 0 when N ≫ A).
    """
    _check_servers(servers, minimum=0)
    _check_traffic(traffic_erlangs)
    blocking = 1.0
    for n in range(1, servers + 1):
        blocking = traffic_erlangs * blocking / (n + traffic_erlangs * blocking)
    return blocking


def erlang_c(servers: int, traffic_erlangs: float) -> float:
    """Probability an arrival waits in M/M/N: C = N·B / (N − A·(1 − B)); 1.0 when N ≤ A (no steady state)."""
    _check_servers(servers, minimum=0)
    _check_traffic(traffic_erlangs)
    if servers <= traffic_erlangs:
        return 1.0
    blocking = erlang_b(servers, traffic_erlangs)
    return servers * blocking / (servers - traffic_erlangs * (1.0 - blocking))


def erlang_c_metrics(servers: int, traffic_erlangs: float, aht_seconds: float, target_seconds: float) -> QueueMetrics:
    """M/M/N metrics: SL = 1 − C·exp(−(N − A)·t / AHT), ASA = C·AHT / (N − A) over all arrivals, occupancy A / N.

    With N ≤ A the queue grows without bound: SL 0, every arrival waits, ASA infinite, agents always busy.
    """
    _check_servers(servers, minimum=1)
    _check_traffic(traffic_erlangs)
    _check_positive("aht_seconds", aht_seconds)
    _check_target(target_seconds)
    if servers <= traffic_erlangs:
        return QueueMetrics(service_level=0.0, prob_wait=1.0, asa_seconds=math.inf, occupancy=1.0, abandon_rate=None)
    wait_prob = erlang_c(servers, traffic_erlangs)
    spare = servers - traffic_erlangs
    return QueueMetrics(
        service_level=1.0 - wait_prob * math.exp(-spare * target_seconds / aht_seconds),
        prob_wait=wait_prob,
        asa_seconds=wait_prob * aht_seconds / spare,
        occupancy=traffic_erlangs / servers,
        abandon_rate=None,
    )


def erlang_a_metrics(
    servers: int,
    arrival_rate_per_second: float,
    aht_seconds: float,
    patience_seconds: float,
    target_seconds: float,
) -> QueueMetrics:
    """Exact M/M/N+M (FIFO, exponential patience) metrics from the birth-death chain.

    With λ arrivals/s, μ = 1/AHT, θ = 1/patience and a = N·μ, the number in system n has
    π_n ∝ (λ/μ)^n / n! for n ≤ N and π_{N+k} = π_{N+k−1}·λ / (a + k·θ) above, computed in log
    space and truncated where the rest of the tail is negligible. By PASTA an arrival sees π:

    - prob_wait = P(n ≥ N); abandon_rate = θ·E[queue] / λ; occupancy = E[busy agents] / N (carried load).
    - An arrival finding N + k waits for k + 1 queue advances at rates a + j·θ (j = k, ..., 0 ahead)
      and abandons itself at rate θ, so it is served with probability c_k = a / (a + (k+1)·θ), and
      given that, its wait is hypoexponential with rates a + j·θ, j = 1..k+1 (mean Σ 1/(a + j·θ)).
      asa_seconds = Σ_k π_{N+k}·c_k·Σ_{j=1..k+1} 1/(a + j·θ) / P(served): mean wait of served arrivals.
    - Summed over k, the offered wait V (the wait if the arrival never gave up) has density
      f_V(x) = λ·π_{N−1}·exp(λ·(1 − e^(−θx))/θ − a·x) for x > 0 (Baccelli & Hébuterne 1981), so
      service_level = P(n < N) + ∫_0^t f_V(x)·e^(−θx) dx, abandoned arrivals counting as misses.
    """
    _check_servers(servers, minimum=1)
    _check_rate(arrival_rate_per_second)
    _check_positive("aht_seconds", aht_seconds)
    _check_positive("patience_seconds", patience_seconds)
    _check_target(target_seconds)
    lam, theta = arrival_rate_per_second, 1.0 / patience_seconds
    if lam == 0.0:
        return QueueMetrics(service_level=1.0, prob_wait=0.0, asa_seconds=0.0, occupancy=0.0, abandon_rate=0.0)
    rate_all_busy = servers / aht_seconds

    busy = np.arange(servers + 1)
    log_low = busy * math.log(lam * aht_seconds) - gammaln(busy + 1)
    log_tail = _queue_log_weights(log_low[-1], log_low.max(), lam, rate_all_busy, theta)
    log_total = logsumexp(np.concatenate((log_low[:-1], log_tail)))
    p_low = np.exp(log_low[:-1] - log_total)  # n = 0..N−1: served at once
    p_tail = np.exp(log_tail - log_total)  # n = N + k, k = 0..K: must wait
    prob_wait = min(float(p_tail.sum()), 1.0)

    ahead = np.arange(p_tail.size)
    advance_rates = rate_all_busy + theta * (ahead + 1)
    served_weight = p_tail * rate_all_busy / advance_rates  # π_{N+k}·c_k
    mean_served_wait = np.cumsum(1.0 / advance_rates)
    in_time = _served_within(math.log(lam) + log_low[-2] - log_total, lam, rate_all_busy, theta, target_seconds)

    return QueueMetrics(
        service_level=float(p_low.sum() + in_time),
        prob_wait=prob_wait,
        asa_seconds=float(served_weight @ mean_served_wait / (p_low.sum() + served_weight.sum())),
        occupancy=min(float(busy[:-1] @ p_low / servers) + prob_wait, 1.0),
        abandon_rate=float(theta * (ahead @ p_tail) / lam),
    )


def required_agents(
    volume: float,
    interval_minutes: float,
    aht_seconds: float,
    target_seconds: float,
    service_level: float,
    *,
    shrinkage: float = 0.0,
    max_occupancy: float = 1.0,
    patience_seconds: float | None = None,
    max_abandon: float | None = None,
) -> StaffingResult:
    """Fewest agents meeting the service level, the occupancy cap and (Erlang A) the abandon cap in one interval.

    traffic = volume·AHT / (interval·60) erlangs. Erlang A when patience is given (occupancy then
    counts carried load, abandoned contacts excluded), else Erlang C (occupancy = traffic / agents).
    `max_abandon` (Erlang A only) caps the share of arrivals that abandon — Live streams that end unreviewed.
    positions = ceil(agents / (1 − shrinkage)): people to schedule so that enough are on the floor.
    Searches by galloping from the Erlang C start (N just above the traffic) and bisecting, so a
    few dozen evaluations suffice even for thousands of agents.
    """
    _require(math.isfinite(volume) and volume >= 0, f"volume must be a finite number >= 0, got {volume!r}")
    _check_positive("interval_minutes", interval_minutes)
    _check_positive("aht_seconds", aht_seconds)
    _check_target(target_seconds)
    _require(0 < service_level < 1, f"service_level must be in (0, 1), got {service_level!r}")
    _require(0 <= shrinkage < 1, f"shrinkage must be in [0, 1), got {shrinkage!r}")
    _require(0 < max_occupancy <= 1, f"max_occupancy must be in (0, 1], got {max_occupancy!r}")
    if patience_seconds is not None:
        _check_positive("patience_seconds", patience_seconds)
    if max_abandon is not None:
        _require(patience_seconds is not None, "max_abandon needs patience_seconds (Erlang A)")
        _require(0 < max_abandon < 1, f"max_abandon must be in (0, 1), got {max_abandon!r}")

    arrival_rate = volume / (interval_minutes * 60.0)
    traffic = arrival_rate * aht_seconds
    if volume == 0:
        return StaffingResult(
            traffic_erlangs=0.0,
            agents=0,
            positions=0,
            service_level=1.0,
            occupancy=0.0,
            asa_seconds=0.0,
            prob_wait=0.0,
            abandon_rate=None if patience_seconds is None else 0.0,
        )

    def meets(metrics: QueueMetrics) -> bool:  # each condition only gets easier with more agents
        return (
            metrics.service_level >= service_level
            and metrics.occupancy <= max_occupancy + _ROUNDING_SLACK
            and (max_abandon is None or metrics.abandon_rate is None or metrics.abandon_rate <= max_abandon)
        )

    agents, metrics = _fewest_agents(
        lambda n: erlang_c_metrics(n, traffic, aht_seconds, target_seconds), meets, math.floor(traffic) + 1
    )
    if patience_seconds is not None:
        patience = patience_seconds
        # Erlang A needs about as many agents as Erlang C, so its answer is the natural starting guess.
        agents, metrics = _fewest_agents(
            lambda n: erlang_a_metrics(n, arrival_rate, aht_seconds, patience, target_seconds), meets, agents
        )
    return StaffingResult(
        traffic_erlangs=traffic,
        agents=agents,
        positions=math.ceil(agents / (1.0 - shrinkage) - _ROUNDING_SLACK),
        service_level=metrics.service_level,
        occupancy=metrics.occupancy,
        asa_seconds=metrics.asa_seconds,
        prob_wait=metrics.prob_wait,
        abandon_rate=metrics.abandon_rate,
    )


def _queue_log_weights(
    log_start: float, log_floor_ref: float, lam: float, rate_all_busy: float, theta: float
) -> np.ndarray:
    """Unnormalised log π_{N+k}, k = 0..K, from π_{N+k} = π_{N+k−1}·λ / (a + k·θ), with log π_N = log_start.

    The ratios fall with k, so past the mode the rest of the tail after k is at most
    π_{N+k}·r / (1 − r) with r the ratio at k; K is the first k where that is negligible.
    """
    for size in (256 * 4**step for step in range(7)):
        log_ratio = math.log(lam) - np.log(rate_all_busy + theta * np.arange(1, size + 1))
        log_weights = log_start + np.concatenate(([0.0], np.cumsum(log_ratio)))
        with np.errstate(divide="ignore"):
            log_rest = log_weights[1:] + log_ratio - np.log(-np.expm1(np.minimum(log_ratio, 0.0)))
        floor = max(log_floor_ref, log_weights.max()) + _LOG_NEGLIGIBLE
        done = (log_ratio < 0.0) & (log_rest < floor)
        if done.any():
            return log_weights[: int(np.argmax(done)) + 2]
    raise ValueError(
        f"the queue would hold over {size:,} waiting contacts (arrivals far above capacity with very long"
        " patience); use Erlang C or more agents"
    )


def _served_within(log_density_at_zero: float, lam: float, rate_all_busy: float, theta: float, target: float) -> float:
    """P(0 < V ≤ t and served) = ∫_0^t exp(log f_V(0) + g(x)) dx with g(x) = λ·(1 − e^(−θx))/θ − (a + θ)·x.

    g is concave: the integrand is scaled by its peak (x = ln(λ / (a + θ)) / θ, clipped to [0, t]), and
    quadrature gets breakpoints at the peak ± 4^i times its local width, so a spike far narrower than
    the target (very short patience) is not missed; the peak goes back in through logs.
    """
    if target == 0.0:
        return 0.0

    def log_integrand(x: float) -> float:
        return lam * -math.expm1(-theta * x) / theta - (rate_all_busy + theta) * x

    peak = min(max(math.log(lam / (rate_all_busy + theta)) / theta, 0.0), target)
    log_peak = log_integrand(peak)
    arrivals_at_peak = lam * math.exp(-theta * peak)
    width = 1.0 / max(abs(arrivals_at_peak - rate_all_busy - theta), math.sqrt(theta * arrivals_at_peak))
    offsets = width * 4.0 ** np.arange(30)
    marks = [x for x in np.concatenate(([peak], peak - offsets, peak + offsets)) if 0.0 < x < target]
    scaled, _ = integrate.quad(
        lambda x: math.exp(log_integrand(x) - log_peak),
        0.0,
        target,
        points=marks or None,
        epsabs=0.0,
        epsrel=1e-11,
        limit=200,
    )
    return math.exp(log_density_at_zero + log_peak + math.log(scaled))


def _fewest_agents(
    metrics_at: Callable[[int], QueueMetrics], meets: Callable[[QueueMetrics], bool], guess: int
) -> tuple[int, QueueMetrics]:
    """Smallest N ≥ 1 whose metrics meet the targets: gallop from the guess, then bisect.

    Relies on service level rising and occupancy falling with every extra agent.
    """
    cache: dict[int, QueueMetrics] = {}

    def good(n: int) -> bool:
        if n < 1:
            return False
        if n not in cache:
            cache[n] = metrics_at(n)
        return meets(cache[n])

    step = 1
    if good(guess):
        lo, hi = guess - 1, guess
        while good(lo):
            hi, step = lo, 2 * step
            lo = max(hi - step, 0)
    else:
        lo, hi = guess, guess + 1
        while not good(hi):
            lo, step = hi, 2 * step
            hi = lo + step
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if good(mid) else (mid, hi)
    return hi, cache[hi]


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def _check_servers(servers: int, *, minimum: int) -> None:
    _require(
        isinstance(servers, numbers.Integral) and servers >= minimum,
        f"servers must be an integer >= {minimum}, got {servers!r}",
    )


def _check_traffic(traffic_erlangs: float) -> None:
    _require(
        math.isfinite(traffic_erlangs) and traffic_erlangs >= 0,
        f"traffic_erlangs must be a finite number >= 0, got {traffic_erlangs!r}",
    )


def _check_rate(rate: float) -> None:
    _require(math.isfinite(rate) and rate >= 0, f"arrival_rate_per_second must be a finite number >= 0, got {rate!r}")


def _check_positive(name: str, value: float) -> None:
    _require(math.isfinite(value) and value > 0, f"{name} must be a finite number > 0, got {value!r}")


def _check_target(target_seconds: float) -> None:
    _require(
        math.isfinite(target_seconds) and target_seconds >= 0,
        f"target_seconds must be a finite number >= 0, got {target_seconds!r}",
    )
