"""A lock per stage, so two runs of the same stage never interleave.

Two schedulers, or a manual run beside the scheduled one, would otherwise write the same
partitions, pointer or warehouse tables at once and fail (or worse, not fail) with whatever
error the collision happened to raise. Each stage's task takes an exclusive `fcntl` lock on
`<data>/locks/<stage>.lock` for as long as it runs; a second run's task fails at once with
`StageLocked`, naming the stage, who holds it (pid, host, run id, since when) and what to do
(Airflow's retry then queues it). The kernel releases the lock when the holder exits, also
on SIGKILL, so a crashed run never leaves a stale lock behind. The warehouse's own writers
additionally hold PostgreSQL advisory locks per table (`etl.publish.warehouse`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from etl.core.identifiers import safe_identifier
from etl.core.periods import local_now

LOCK_DIR = "locks"


class StageLocked(RuntimeError):
    """Another run holds this stage's lock; the message says who and what to do."""


def lock_path(data_dir: Path, stage: str) -> Path:
    for part in stage.split("."):
        safe_identifier(part)  # a stage name becomes a file name: nothing else
    return Path(data_dir) / LOCK_DIR / f"{stage}.lock"


@contextlib.contextmanager
def stage_lock(data_dir: Path, stage: str, run_id: str) -> Iterator[dict]:
    """Hold `stage`'s lock for the block, or raise `StageLocked` at once."""
    path = lock_path(data_dir, stage)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o640)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            raise StageLocked(
                f"another run holds the lock of stage {stage}: run {holder.get('run_id', '?')}, pid "
                f"{holder.get('pid', '?')} on {holder.get('host', '?')}, since {holder.get('since', '?')}. "
                f"This run ({run_id}) did nothing. Let that run finish (Airflow retries this task), or, if that "
                f"process is gone, the lock is already free: clear this task. Lock file: {path}") from None
        holder = {"stage": stage, "run_id": run_id, "pid": os.getpid(), "host": socket.gethostname(),
                  "since": local_now().isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode(), 0)
        yield holder
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _read_holder(fd: int) -> dict:
    try:
        return json.loads(os.pread(fd, 4096, 0).decode() or "{}")
    except (ValueError, OSError):
        return {}
