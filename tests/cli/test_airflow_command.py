"""`sofli airflow --port`: one flag moves the UI, the API and the execution API together, and a
demo folder gets the demo's mail sink as `smtp_default` (so a task's e-mail does not fail)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request

import psutil
import pytest

from etl.core.zones import DataFolder
from etl.ops.local_airflow import free_port, wait_for

pytestmark = pytest.mark.integration


def test_sofli_airflow_serves_on_the_port_given_and_stops_on_ctrl_c(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "SOFLI_"))}
    DataFolder(tmp_path / "data").mark_demo({"profile": "demo"})  # a folder `sofli demo` made: demo mode
    # the output goes to a file, not a pipe: nobody reads a pipe while Airflow starts, and its
    # components' logging can fill the pipe's 64 KiB and block them before the health check answers
    console = tmp_path / "sofli-airflow.out"
    with console.open("w") as out:
        process = subprocess.Popen([sys.executable, "-m", "etl.cli.main", "--data-dir", str(tmp_path / "data"),
                                    "airflow", "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT,
                                   text=True, start_new_session=True, preexec_fn=_interruptible)
    try:
        wait_for(f"Airflow on port {port}", lambda: process.poll() is None and urllib.request.urlopen(
            f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=5).status == 200, 300, 2)
        # what every component inherits, read off `airflow standalone` (the components rename themselves,
        # which can overwrite what /proc shows of their environment)
        standalone = [p for p in psutil.Process(process.pid).children() if "standalone" in " ".join(_cmdline(p))]
        inherited = standalone[0].environ()
        assert inherited["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == f"http://127.0.0.1:{port}/execution/"
        assert inherited["AIRFLOW__API__PORT"] == str(port) and inherited["TZ"] == "Europe/Copenhagen"
        assert '"host": "127.0.0.1"' in inherited["AIRFLOW_CONN_SMTP_DEFAULT"]
        process.send_signal(signal.SIGINT)
        process.wait(timeout=120)
    finally:
        for member in [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)] \
                if process.poll() is None else []:
            member.kill()
    output = console.read_text()
    assert f"Airflow on http://localhost:{port}" in output
    assert f"alert e-mails go to the demo's mail sink: {tmp_path / 'data' / 'mail'}" in output
    # nothing left running: the components exit on their own after Ctrl-C (a loaded machine may
    # take some seconds after `sofli airflow` itself has returned)
    wait_for("every Airflow component of this home to exit", lambda: not [
        p.pid for p in psutil.process_iter() if _home(p).startswith(str(tmp_path))], 60, 1)


def _interruptible() -> None:
    """Ctrl-C as in a terminal: a test run started in the background (`nohup … &`) inherits
    SIGINT ignored, and a process that starts with it ignored never sees the Ctrl-C sent."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except (psutil.Error, OSError):  # a zombie, or gone
        return []


def _home(process: psutil.Process) -> str:
    try:
        return process.environ().get("AIRFLOW_HOME", "")
    except (psutil.Error, OSError):
        return ""
