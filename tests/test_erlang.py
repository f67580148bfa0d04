"""Erlang B, C and A against first principles.

References are built here independently of forecasting.erlang: exact rational arithmetic for
Erlang B/C, a numpy solve of the truncated birth-death generator plus matrix exponentials of the
tagged arrival's phase-type chain for Erlang A, and a seeded simulation of the FIFO queue.
"""

from __future__ import annotations

import heapq
import json
import math
import time
from fractions import Fraction

import numpy as np
import pytest
from scipy import stats
from scipy.linalg import expm

from forecasting.erlang import (
    QueueMetrics,
    StaffingResult,
    erlang_a_metrics,
    erlang_b,
    erlang_c,
    erlang_c_metrics,
    required_agents,
)

# ---------------------------------------------------------------- independent references


def exact_erlang_b(servers: int, traffic: Fraction) -> Fraction:
    """(A^N / N!) / Σ_{k≤N} A^k / k!, in exact rationals."""
    terms = [traffic**k / math.factorial(k) for k in range(servers + 1)]
    return terms[-1] / sum(terms)


def exact_erlang_c(servers: int, traffic: Fraction) -> Fraction:
    """Textbook direct form: (A^N/N!·N/(N−A)) / (Σ_{k<N} A^k/k! + A^N/N!·N/(N−A)), exact."""
    top = traffic**servers / math.factorial(servers) * Fraction(servers) / (servers - traffic)
    return top / (sum(traffic**k / math.factorial(k) for k in range(servers)) + top)


def erlang_b_by_reciprocal_recursion(servers: int, traffic: float) -> float:
    """1/B(n) = 1 + n / (A·B(n−1)), a different arrangement of the recursion."""
    inverse = 1.0
    for n in range(1, servers + 1):
        inverse = 1.0 + n * inverse / traffic
    return 1.0 / inverse


def erlang_a_reference(
    servers: int, lam: float, aht: float, patience: float, target: float, states: int = 400
) -> dict[str, float]:
    """Erlang A metrics from a numpy solve of πQ = 0 and the tagged arrival's phase-type chain.

    A waiting arrival with j customers ahead moves to j − 1 (to service from j = 0) at rate
    N·μ + j·θ and abandons at rate θ; expm gives P(served by t) and S⁻²s the mean served wait.
    """
    mu, theta = 1.0 / aht, 1.0 / patience
    size = servers + states
    generator = np.zeros((size, size))
    for n in range(size):
        if n + 1 < size:
            generator[n, n + 1] = lam
        if n > 0:
            generator[n, n - 1] = min(n, servers) * mu + max(n - servers, 0) * theta
        generator[n, n] = -generator[n].sum()
    system = generator.T.copy()
    system[-1] = 1.0
    rhs = np.zeros(size)
    rhs[-1] = 1.0
    pi = np.linalg.solve(system, rhs)
    assert pi[-20:].sum() < 1e-13, "truncation too short for this reference"

    ahead = np.arange(states)
    sub = np.diag(-(servers * mu + (ahead + 1) * theta))
    sub[ahead[1:], ahead[1:] - 1] = servers * mu + ahead[1:] * theta
    to_service = np.zeros(states)
    to_service[0] = servers * mu
    full = np.zeros((states + 2, states + 2))
    full[:states, :states] = sub
    full[:states, states] = to_service
    full[:states, states + 1] = theta
    served_by_target = expm(full * target)[:states, states]
    served_ever = np.linalg.solve(-sub, to_service)
    served_wait_mass = np.linalg.solve(sub, np.linalg.solve(sub, to_service))  # E[W·1{served}]

    waiting = pi[servers:]
    served = pi[:servers].sum() + waiting @ served_ever
    occupancy = np.minimum(np.arange(size), servers) @ pi / servers
    return {
        "service_level": pi[:servers].sum() + waiting @ served_by_target,
        "prob_wait": waiting.sum(),
        "asa_seconds": waiting @ served_wait_mass / served,
        "occupancy": occupancy,
        "abandon_rate": 1.0 - served,
        "abandon_by_little": theta * (ahead @ waiting) / lam,
    }


def simulate_waits(servers: int, lam: float, aht: float, patience: float, arrivals: int, seed: int) -> np.ndarray:
    """Waits of a FIFO M/M/N+M queue, NaN for abandoned arrivals.

    In FIFO an arrival starts at max(arrival, earliest free agent) once earlier arrivals are placed;
    if that wait exceeds its patience it leaves and never takes an agent.
    """
    rng = np.random.default_rng(seed)
    times = np.cumsum(rng.exponential(1.0 / lam, arrivals)).tolist()
    services = rng.exponential(aht, arrivals).tolist()
    patiences = rng.exponential(patience, arrivals).tolist()
    free_at = [0.0] * servers
    waits = np.full(arrivals, np.nan)
    for i, (arrival, service, give_up) in enumerate(zip(times, services, patiences, strict=True)):
        wait = max(free_at[0] - arrival, 0.0)
        if wait < give_up:
            heapq.heapreplace(free_at, arrival + wait + service)
            waits[i] = wait
    return waits


# ---------------------------------------------------------------- Erlang B and C


@pytest.mark.parametrize("traffic", [Fraction(1, 2), Fraction(3), Fraction(37, 4), Fraction(10), Fraction(25)])
def test_erlang_b_matches_exact_formula_and_recursion(traffic: Fraction) -> None:
    for servers in range(16):
        exact = float(exact_erlang_b(servers, traffic))
        assert erlang_b(servers, float(traffic)) == pytest.approx(exact, rel=1e-12, abs=1e-300)
        assert erlang_b(servers, float(traffic)) == pytest.approx(
            erlang_b_by_reciprocal_recursion(servers, float(traffic)), rel=1e-12
        )


def test_erlang_b_large_systems_stay_finite() -> None:
    blocking = erlang_b(2000, 1900.0)
    assert 0.0 < blocking < 1.0
    # Independent log-space form: B = P(Poisson(A) = N) / P(Poisson(A) ≤ N).
    assert blocking == pytest.approx(stats.poisson.pmf(2000, 1900.0) / stats.poisson.cdf(2000, 1900.0), rel=1e-9)
    assert 0.0 <= erlang_b(5000, 10.0) < 1e-300
    assert 0.0 < erlang_b(20_000, 19_900.0) < 1.0
    assert erlang_b(0, 3.0) == 1.0
    assert erlang_b(4, 0.0) == 0.0


def test_erlang_c_textbook_example() -> None:
    # A = 10 erlangs: the classic table, recomputed exactly in both the direct and the B-based form.
    textbook = {11: 0.6821, 12: 0.4494, 13: 0.2853, 14: 0.1741, 15: 0.1020}
    traffic = Fraction(10)
    for servers, rounded in textbook.items():
        exact = exact_erlang_c(servers, traffic)
        b = exact_erlang_b(servers, traffic)
        assert exact == servers * b / (servers - traffic * (1 - b))
        assert erlang_c(servers, 10.0) == pytest.approx(float(exact), rel=1e-12)
        assert round(erlang_c(servers, 10.0), 4) == rounded


def test_erlang_c_without_spare_capacity() -> None:
    assert erlang_c(10, 10.0) == 1.0
    assert erlang_c(5, 7.5) == 1.0
    assert erlang_c(3, 0.0) == 0.0
    unstable = erlang_c_metrics(10, 10.0, 180, 20)
    assert unstable == QueueMetrics(
        service_level=0.0, prob_wait=1.0, asa_seconds=math.inf, occupancy=1.0, abandon_rate=None
    )


@pytest.mark.parametrize("servers", [11, 12, 13, 14, 15, 20])
def test_erlang_c_metrics_formulas(servers: int) -> None:
    aht, target = 180.0, 20.0
    wait_prob = float(exact_erlang_c(servers, Fraction(10)))
    metrics = erlang_c_metrics(servers, 10.0, aht, target)
    assert metrics.prob_wait == pytest.approx(wait_prob, rel=1e-12)
    assert metrics.service_level == pytest.approx(1 - wait_prob * math.exp(-(servers - 10) * target / aht), rel=1e-12)
    assert metrics.asa_seconds == pytest.approx(wait_prob * aht / (servers - 10), rel=1e-12)
    assert metrics.occupancy == pytest.approx(10 / servers, rel=1e-12)
    assert metrics.abandon_rate is None


# ---------------------------------------------------------------- Erlang A

ERLANG_A_CASES = [
    # servers, arrivals/s, AHT s, patience s, target s
    (5, 0.075, 60.0, 120.0, 20.0),  # A = 4.5
    (12, 10 / 180, 180.0, 300.0, 20.0),  # A = 10, patience 5 min
    (10, 15 / 180, 180.0, 100.0, 30.0),  # overloaded: A = 15 on 10 agents
    (1, 0.02, 30.0, 10.0, 5.0),  # single agent
    (40, 0.5, 90.0, 45.0, 60.0),  # A = 45 on 40 agents, target beyond patience
]


@pytest.mark.parametrize(("servers", "lam", "aht", "patience", "target"), ERLANG_A_CASES)
def test_erlang_a_matches_birth_death_chain(
    servers: int, lam: float, aht: float, patience: float, target: float
) -> None:
    metrics = erlang_a_metrics(servers, lam, aht, patience, target)
    reference = erlang_a_reference(servers, lam, aht, patience, target)
    assert reference["abandon_rate"] == pytest.approx(reference["abandon_by_little"], abs=1e-12)
    for name in ("service_level", "prob_wait", "occupancy", "abandon_rate"):
        assert getattr(metrics, name) == pytest.approx(reference[name], abs=1e-9), name
    assert metrics.asa_seconds == pytest.approx(reference["asa_seconds"], rel=1e-9)


def test_erlang_a_long_target_leaves_only_abandonment() -> None:
    metrics = erlang_a_metrics(12, 10 / 180, 180.0, 300.0, 1e6)
    assert metrics.service_level == pytest.approx(1 - metrics.abandon_rate, abs=1e-10)
    assert erlang_a_metrics(12, 10 / 180, 180.0, 300.0, 0.0).service_level == pytest.approx(
        1 - metrics.prob_wait, abs=1e-12
    )


def test_erlang_a_converges_to_erlang_c_as_patience_grows() -> None:
    erlang_c_values = erlang_c_metrics(12, 10.0, 180.0, 20.0)
    gaps = []
    for patience in (1e3, 1e5, 1e7, 1e9):
        metrics = erlang_a_metrics(12, 10 / 180, 180.0, patience, 20.0)
        gaps.append(abs(metrics.asa_seconds - erlang_c_values.asa_seconds))
    assert gaps == sorted(gaps, reverse=True)
    assert metrics.service_level == pytest.approx(erlang_c_values.service_level, abs=1e-4)
    assert metrics.prob_wait == pytest.approx(erlang_c_values.prob_wait, abs=1e-4)
    assert metrics.asa_seconds == pytest.approx(erlang_c_values.asa_seconds, abs=1e-3)
    assert metrics.occupancy == pytest.approx(erlang_c_values.occupancy, abs=1e-4)
    assert metrics.abandon_rate < 1e-4


def test_erlang_a_approaches_erlang_b_as_patience_vanishes() -> None:
    blocking = erlang_b(12, 10.0)
    metrics = erlang_a_metrics(12, 10 / 180, 180.0, 1e-6, 20.0)
    assert metrics.abandon_rate == pytest.approx(blocking, abs=1e-4)
    assert metrics.prob_wait == pytest.approx(blocking, abs=1e-4)
    assert metrics.service_level == pytest.approx(1 - blocking, abs=1e-4)


def test_erlang_a_matches_simulation() -> None:
    servers, lam, aht, patience, target = 5, 0.075, 60.0, 120.0, 20.0
    waits = simulate_waits(servers, lam, aht, patience, arrivals=200_000, seed=7)[10_000:]  # drop warm-up
    batches = waits.reshape(19, 10_000)  # batch means: correlation dies out well within 10k arrivals
    served = ~np.isnan(batches)
    per_batch = {
        "service_level": (served & (np.nan_to_num(batches, nan=np.inf) <= target)).mean(axis=1),
        "abandon_rate": 1 - served.mean(axis=1),
        "asa_seconds": np.nanmean(batches, axis=1),
    }
    metrics = erlang_a_metrics(servers, lam, aht, patience, target)
    for name, values in per_batch.items():
        standard_error = values.std(ddof=1) / math.sqrt(values.size)
        assert standard_error < 0.02 * max(values.mean(), 1.0), name  # the check has teeth
        assert abs(values.mean() - getattr(metrics, name)) < 4 * standard_error, name


def test_erlang_a_handles_no_arrivals() -> None:
    assert erlang_a_metrics(3, 0.0, 60.0, 60.0, 20.0) == QueueMetrics(1.0, 0.0, 0.0, 0.0, 0.0)


# ---------------------------------------------------------------- staffing


def test_required_agents_worked_example() -> None:
    # 100 contacts per 30 min at AHT 180 s = 10 erlangs; 80 % within 20 s.
    def reference_sl(servers: int) -> float:
        return 1 - float(exact_erlang_c(servers, Fraction(10))) * math.exp(-(servers - 10) * 20 / 180)

    assert reference_sl(13) < 0.8 <= reference_sl(14)
    result = required_agents(100, 30, 180, 20, 0.8)
    assert result.traffic_erlangs == pytest.approx(10.0)
    assert result.agents == 14
    assert result.positions == 14
    assert result.service_level == pytest.approx(reference_sl(14), rel=1e-12)
    assert result.occupancy == pytest.approx(10 / 14)
    assert result.abandon_rate is None
    assert required_agents(100, 30, 180, 20, 0.8, shrinkage=0.3).positions == 20  # 14 / 0.7 exactly
    assert required_agents(100, 30, 180, 20, 0.8, shrinkage=0.35).positions == 22  # ceil(21.54)


@pytest.mark.parametrize(
    ("volume", "interval", "aht", "target", "level", "patience"),
    [
        (100, 30, 180, 20, 0.8, None),
        (37, 15, 75, 60, 0.95, None),
        (2, 60, 40, 10, 0.5, None),
        (100, 30, 180, 20, 0.8, 120.0),
        (450, 30, 45, 60, 0.95, 300.0),
        (900, 30, 90, 30, 0.9, 20.0),  # patience shorter than the target
    ],
)
def test_required_agents_is_minimal(
    volume: float, interval: float, aht: float, target: float, level: float, patience: float | None
) -> None:
    result = required_agents(volume, interval, aht, target, level, patience_seconds=patience)
    traffic = volume * aht / (interval * 60)

    def metrics(servers: int) -> QueueMetrics:
        if patience is None:
            return erlang_c_metrics(servers, traffic, aht, target)
        return erlang_a_metrics(servers, volume / (interval * 60), aht, patience, target)

    assert result.service_level >= level
    assert result.service_level == metrics(result.agents).service_level
    assert result.agents == 1 or metrics(result.agents - 1).service_level < level


def test_occupancy_cap_binds() -> None:
    # 10 erlangs, 50 % within 20 s: 12 agents meet the service level but run at 10/12 = 83 % occupancy.
    assert erlang_c_metrics(12, 10.0, 180, 20).service_level >= 0.5
    assert erlang_c_metrics(11, 10.0, 180, 20).service_level < 0.5
    free = required_agents(100, 30, 180, 20, 0.5)
    capped = required_agents(100, 30, 180, 20, 0.5, max_occupancy=0.8)
    assert (free.agents, capped.agents) == (12, 13)
    assert capped.occupancy == pytest.approx(10 / 13)
    assert required_agents(100, 30, 180, 20, 0.5, max_occupancy=10 / 12).agents == 12  # cap exactly met

    erlang_a = required_agents(100, 30, 180, 20, 0.5, max_occupancy=0.7, patience_seconds=120.0)
    assert erlang_a.occupancy <= 0.7
    over_cap = erlang_a_metrics(erlang_a.agents - 1, 100 / 1800, 180, 120.0, 20)
    assert over_cap.service_level >= 0.5 and over_cap.occupancy > 0.7


@pytest.mark.parametrize("cap", [0.05, 0.02, 0.005])
def test_abandon_cap_binds_and_stays_minimal(cap: float) -> None:
    """Erlang A with an abandon cap: the fewest agents whose service level and abandon rate both hold, found by
    walking up from one agent (an independent loop over the birth-death chain's metrics)."""
    volume, interval, aht, target, level, patience = 300, 30, 60, 60, 0.5, 45.0
    rate = volume / (interval * 60)
    result = required_agents(volume, interval, aht, target, level, patience_seconds=patience, max_abandon=cap)
    walked = next(
        n
        for n in range(1, 200)
        if (m := erlang_a_metrics(n, rate, aht, patience, target)).service_level >= level and m.abandon_rate <= cap
    )
    assert result.agents == walked
    assert result.abandon_rate <= cap
    uncapped = required_agents(volume, interval, aht, target, level, patience_seconds=patience)
    assert uncapped.abandon_rate > 0.05  # the service level alone lets more than 5 % of streams end unreviewed
    assert result.agents > uncapped.agents


def test_abandon_cap_needs_erlang_a() -> None:
    with pytest.raises(ValueError, match="max_abandon needs patience_seconds"):
        required_agents(100, 30, 60, 60, 0.8, max_abandon=0.02)
    with pytest.raises(ValueError, match="max_abandon must be in"):
        required_agents(100, 30, 60, 60, 0.8, patience_seconds=60, max_abandon=0.0)


def test_staff_cli_takes_an_abandon_cap(capsys: pytest.CaptureFixture) -> None:
    from forecasting.cli import main

    argv = ["staff", "--volume", "300", "--interval-minutes", "30", "--aht-seconds", "60", "--target-seconds", "60"]
    argv += ["--service-level", "0.5", "--patience-seconds", "45", "--max-abandon", "0.02", "--format", "json"]
    assert main(argv) == 0
    record = json.loads(capsys.readouterr().out)
    expected = required_agents(300, 30, 60, 60, 0.5, patience_seconds=45, max_abandon=0.02)
    assert record["agents"] == expected.agents and record["abandon_rate"] <= 0.02


def test_zero_volume_needs_nobody() -> None:
    assert required_agents(0, 30, 180, 20, 0.8) == StaffingResult(0.0, 0, 0, 1.0, 0.0, 0.0, 0.0, None)
    assert required_agents(0, 30, 180, 20, 0.8, patience_seconds=60).abandon_rate == 0.0


@pytest.mark.parametrize("patience", [None, 180.0])
def test_thousands_of_agents_are_fast(patience: float | None) -> None:
    # 50,000 contacts per 30 min at AHT 60 s ≈ 1,667 erlangs.
    started = time.perf_counter()
    result = required_agents(50_000, 30, 60, 20, 0.8, shrinkage=0.3, patience_seconds=patience)
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0
    assert result.traffic_erlangs == pytest.approx(50_000 * 60 / 1800)
    assert result.service_level >= 0.8
    assert result.positions == math.ceil(result.agents / 0.7)
    if patience is None:
        assert result.agents > result.traffic_erlangs
        assert erlang_c_metrics(result.agents - 1, result.traffic_erlangs, 60, 20).service_level < 0.8
    else:
        assert erlang_a_metrics(result.agents - 1, 50_000 / 1800, 60, patience, 20).service_level < 0.8


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"volume": -1}, "volume"),
        ({"volume": math.nan}, "volume"),
        ({"interval_minutes": 0}, "interval_minutes"),
        ({"aht_seconds": -5}, "aht_seconds"),
        ({"target_seconds": -1}, "target_seconds"),
        ({"service_level": 0.0}, "service_level"),
        ({"service_level": 1.0}, "service_level"),
        ({"shrinkage": 1.0}, "shrinkage"),
        ({"shrinkage": -0.1}, "shrinkage"),
        ({"max_occupancy": 0.0}, "max_occupancy"),
        ({"max_occupancy": 1.2}, "max_occupancy"),
        ({"patience_seconds": 0.0}, "patience_seconds"),
    ],
)
def test_required_agents_rejects_bad_inputs(kwargs: dict[str, float], message: str) -> None:
    arguments = {"volume": 100, "interval_minutes": 30, "aht_seconds": 180, "target_seconds": 20, "service_level": 0.8}
    with pytest.raises(ValueError, match=message):
        required_agents(**(arguments | kwargs))


def test_queue_functions_reject_bad_inputs() -> None:
    with pytest.raises(ValueError, match="servers"):
        erlang_b(-1, 2.0)
    with pytest.raises(ValueError, match="servers"):
        erlang_c(2.5, 2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="traffic_erlangs"):
        erlang_c(3, -1.0)
    with pytest.raises(ValueError, match="servers"):
        erlang_c_metrics(0, 1.0, 60, 20)
    with pytest.raises(ValueError, match="patience_seconds"):
        erlang_a_metrics(3, 0.1, 60, math.inf, 20)
    with pytest.raises(ValueError, match="waiting contacts"):
        erlang_a_metrics(10, 1.0, 20, 1e9, 10)  # 2x overload, patience of 30 years
