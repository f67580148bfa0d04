"""The process pool that forecasts many series at once, kept for the life of the process.

Fitting and backtesting a series is CPU work in Python (statsmodels, numpy on small arrays) that holds the GIL, so
series run in parallel only in other processes. Starting one costs about a second (importing Polars, pandas and
statsmodels), more than a whole by-domain forecast saves: the pool is started once, on first use or by `warm()` when
the dashboard opens, and reused by every later forecast. `BELLWETHER_FORECAST_WORKERS` sets its size (default: the
machine's cores; 1 = no pool, series run in the calling process).
"""

from __future__ import annotations

import os
import sys
import threading
import types
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing import get_context

from threadpoolctl import threadpool_limits

from queries.errors import SourceError

WORKERS_ENV = "BELLWETHER_FORECAST_WORKERS"

_lock = threading.Lock()
_pools: dict[int, ProcessPoolExecutor] = {}


def forecast_workers() -> int:
    """Worker processes for forecasts: `BELLWETHER_FORECAST_WORKERS`, or the machine's cores (at least 1).
    Raises SourceError (what is wrong and the fix) for a value that is not a whole number ≥ 1."""
    raw = os.environ.get(WORKERS_ENV, "").strip()
    if not raw:
        return max(1, os.cpu_count() or 1)
    workers = int(raw) if raw.isdigit() else 0
    if workers < 1:
        raise SourceError(
            f"{WORKERS_ENV}={raw!r} is not a number of forecast worker processes.",
            fix=f"Set {WORKERS_ENV} to a whole number of at least 1 (1 = no pool), or unset it to use every core.",
        )
    return workers


def shared_pool(workers: int) -> ProcessPoolExecutor:
    """The process pool of `workers` processes, started in the background on first use and kept (one per size).

    Processes are spawned, not forked (Polars' thread pool does not survive a fork), and all of them at once here:
    a pool with all its workers alive starts no more. A spawned process normally runs the caller's main module
    again; under Streamlit that is the page script being run (and under AppTest a generated one), which must not
    run in a worker. So the workers are spawned with an empty main module: they import only what their tasks need.
    """
    with _lock:
        pool = _pools.get(workers)
        if pool is None:
            pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"), initializer=limit_blas)
            with _empty_main_module():
                for _ in range(workers):  # one task per worker starts them all now (each imports the forecasting code)
                    pool.submit(_ready)
            _pools[workers] = pool
        return pool


def discard_pool(workers: int) -> None:
    """Forget a pool that broke (a worker died), so the next forecast starts a new one."""
    with _lock:
        pool = _pools.pop(workers, None)
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)


def warm() -> ProcessPoolExecutor | None:
    """The configured pool (`forecast_workers()`), started in the background if it is not yet, so the first forecast
    does not wait for its workers; None with one worker. Cheap once started: the dashboard calls it on every run."""
    workers = forecast_workers()
    return shared_pool(workers) if workers > 1 else None


@contextmanager
def _empty_main_module() -> Iterator[None]:
    """While spawning: a `__main__` with no file and no spec, which a spawned process has nothing to re-run of."""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


def _ready() -> None:
    """A worker's first task: import the libraries forecasts use (about a second), so the first forecast need not."""
    import polars  # noqa: F401
    import statsmodels.tsa.api  # noqa: F401


# Small least-squares problems run fastest on one BLAS thread; with several worker processes
# (or other busy processes) OpenBLAS' own threads oversubscribe the cores and spin: measured
# 0.07 s vs 2.5 s for one series' calendar-regression backtest on the 2-core machine.
def limit_blas() -> threadpool_limits:
    """Keep BLAS to one thread in this process (the initializer of every forecast worker; as a context manager,
    for the series a caller runs itself). threadpoolctl limits the libraries already loaded only: numpy's and
    scipy's own OpenBLAS are loaded first."""
    import numpy  # noqa: F401
    import scipy.linalg  # noqa: F401

    return threadpool_limits(1, user_api="blas")
