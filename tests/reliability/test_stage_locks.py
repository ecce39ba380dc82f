"""Two runs of the same stage at once: the second fails at once with a clear message naming
the stage and the holder, never interleaving; a killed holder leaves no stale lock."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import textwrap

import pytest

from etl.core.locks import StageLocked, stage_lock
from etl.core.settings import REPO_ROOT, Settings
from etl.tasks import extract as extract_tasks

NIGHT = dt.date(2025, 11, 15)

HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from etl.core.locks import stage_lock
    with stage_lock(Path(sys.argv[1]), sys.argv[2], sys.argv[3]):
        print("holding", flush=True)
        time.sleep(60)
""")


def hold(data_dir, stage: str, run_id: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(data_dir), stage, run_id], stdout=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert proc.stdout.readline().strip() == "holding"
    return proc


def test_a_second_run_of_a_stage_fails_naming_the_holder_and_runs_once_it_is_gone(tmp_path):
    drop = tmp_path / "sources" / "drop"
    drop.mkdir(parents=True)
    (drop / f"cpr_{NIGHT:%Y%m%d}.csv").write_bytes(
        b"PNR;FOED_DATO;KOEN;KOMKOD;BYDEL;STATUS;STATUS_DATO\r\n" +
        b"".join(f"{i + 1:02d}01901{i:03d};19900101;M;0101;Valby;01;19900101\r\n".encode() for i in range(25)))
    settings = Settings(tmp_path, REPO_ROOT / "reference", "demo")
    landed = extract_tasks.land("cpr", "cpr", NIGHT, settings)
    results = [extract_tasks.validate("cpr", "cpr", NIGHT, settings)]
    scheduled = hold(tmp_path, "extract_cpr", "scheduled__2025-11-15T01:15")  # the other run's publish
    try:
        with pytest.raises(StageLocked) as locked:
            extract_tasks.publish_extract("cpr", NIGHT, "manual__2025-11-15T07:00", results, settings)
        text = str(locked.value)
        assert text.startswith("another run holds the lock of stage extract_cpr: run scheduled__2025-11-15T01:15, "
                               f"pid {scheduled.pid} on {socket.gethostname()}, since ")
        assert "This run (manual__2025-11-15T07:00) did nothing" in text
        assert not (settings.staged_dir / "cpr" / "CURRENT.json").exists()  # nothing written
        # other stages and other tables are not blocked
        assert extract_tasks.land("cpr", "cpr", NIGHT, settings)["rows"] == landed["rows"] == 25
    finally:
        os.kill(scheduled.pid, signal.SIGKILL)  # a crashed holder: the kernel frees the lock
        scheduled.wait()
    assert extract_tasks.publish_extract("cpr", NIGHT, "manual__2025-11-15T07:00", results, settings)["current"]


def test_the_same_process_cannot_take_a_held_lock_twice_and_stage_names_are_identifiers(tmp_path):
    with stage_lock(tmp_path, "data_quality", "run-1"):
        with pytest.raises(StageLocked, match="stage data_quality: run run-1"):
            with stage_lock(tmp_path, "data_quality", "run-2"):
                pass
    with stage_lock(tmp_path, "data_quality", "run-2") as holder:  # released on exit
        assert holder["run_id"] == "run-2"
    with pytest.raises(ValueError):
        with stage_lock(tmp_path, "../etc/passwd", "x"):
            pass
