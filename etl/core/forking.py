"""Independent pieces of one stage in forked worker processes that share the parent's data.

The KPI stage spreads reporting periods and the publisher's suppression audit spreads KPIs
over the task's cores. Workers are forked, so they read the parent's frames copy-on-write
instead of receiving a pickled copy; only each piece's task and result cross a pipe.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

_SHARED: Any = None  # what a forked worker reads: set before the fork, cleared after


def _forked(job: tuple[Callable, Any]) -> Any:
    work, task = job
    return work(_SHARED, task)


def map_forked(work: Callable[[Any, Any], Any], shared: Any, tasks: Sequence, workers: int,
               log: logging.Logger, who: str, doing: str) -> list:
    """`[work(shared, task) for task in tasks]`, in up to `workers` forked processes (in the
    order of `tasks`; give the longest first). `work` must be a module-level function.

    Where worker processes cannot start (a daemonic parent, as some executors run tasks in)
    the tasks run here, one after the other, with a warning ("`who` workers could not start
    (why): `doing` in one process"). An exception in a task is raised as itself; a worker
    that dies (killed for memory) raises `BrokenProcessPool`, so the task fails and Airflow
    retries it instead of waiting for ever. Tested through its two users:
    `tests/kpi/test_workers.py` and `tests/publish/test_suppression.py`.
    """
    global _SHARED  # noqa: PLW0603 - handed to the forked workers, cleared after
    workers = max(1, min(workers, len(tasks)))
    if workers > 1:
        _SHARED = shared
        try:
            # an executor, not a Pool: a dead worker fails the map instead of hanging it
            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as executor:
                try:  # with fork, every worker starts at the first submit
                    futures = [executor.submit(_forked, (work, task)) for task in tasks]
                except (AssertionError, OSError) as error:  # "daemonic processes are not allowed to have children"
                    log.warning("%s workers could not start (%s): %s in one process", who, error, doing)
                else:
                    return [future.result() for future in futures]
        finally:
            _SHARED = None
    return [work(shared, task) for task in tasks]
