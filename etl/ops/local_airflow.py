"""A real Airflow on this machine for one data folder: the four components `airflow standalone`
runs (api-server, scheduler with the LocalExecutor, dag-processor, triggerer) as child
processes, its REST API, and waiting for DAG runs.

`sofli demo`, `sofli run` and the scheduler and browser tests run their nights through it,
so every run is a scheduler's run: tasks in their own processes, task logs the UI shows,
deadline alerts, failure e-mails, start times that are the moment the run started.
`sofli airflow` runs `airflow standalone` in the foreground with the same environment, built in
one place (`airflow_environment`) so the port, the execution API URL and the base URL agree.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from etl.core.settings import REPO_ROOT
from etl.core.zones import DataFolder

TIMEZONE = "Europe/Copenhagen"
FINISHED = ("success", "failed")
#: Airflow's own SQLite metadata DB (the embedded default) under a real scheduler: pysqlite waits
#: up to a minute for a write lock instead of failing after 5 s ("database is locked" stops the
#: scheduler), the DB runs in WAL mode (`migrate_metadata_db`) and few tasks run at once.
SQLITE_CONNECT_ARGS = {"timeout": 60}
SQLITE_ASYNC_CONNECT_ARGS = {"timeout": 60}
SQLITE_PARALLELISM = 4


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def smtp_connection(port: int, host: str = "127.0.0.1") -> str:
    """`AIRFLOW_CONN_SMTP_DEFAULT` for a plain SMTP server on loopback (the demo's mail sink)."""
    return json.dumps({"conn_type": "smtp", "host": host, "port": port,
                       "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "sofli@sofli.example"}})


#: The options Airflow writes into a new `airflow.cfg` with `AIRFLOW_HOME`'s absolute path
#: (config_templates/config.yml, Airflow 3.3), except the metadata DB (set below unless a URL is
#: given). Set from the environment on every command, they win over the file, so a moved data
#: folder's stale `airflow.cfg` does not matter.
AIRFLOW_HOME_PATHS = {
    "AIRFLOW__CORE__DAGS_FOLDER": lambda home: str(REPO_ROOT / "dags"),
    "AIRFLOW__CORE__PLUGINS_FOLDER": lambda home: str(REPO_ROOT / "plugins"),
    "AIRFLOW__LOGGING__BASE_LOG_FOLDER": lambda home: str(home / "logs"),
    "AIRFLOW__LOGGING__DAG_PROCESSOR_CHILD_PROCESS_LOG_DIRECTORY": lambda home: str(home / "logs" / "dag_processor"),
}


def embedded_metadata_url(airflow_home: Path) -> str:
    """Airflow's own SQLite metadata DB under `AIRFLOW_HOME` (set explicitly: the folder can move)."""
    return f"sqlite:///{Path(airflow_home) / 'airflow.db'}"


def airflow_environment(data_dir: Path, *, port: int = 8080, host: str = "127.0.0.1",
                        smtp_port: int | None = None, mode: str | None = None,
                        metadata_url: str | None = None) -> dict[str, str]:
    """Airflow's configuration for a data folder, as environment variables (they override
    whatever an older `airflow.cfg` in the folder says).

    `metadata_url` is an external metadata DB (PostgreSQL); without one, or with a SQLite URL, the
    metadata DB is the folder's own `airflow/airflow.db`, named here with the folder's current path.
    The api-server listens on `host:port`; the base URL and the execution API URL the
    workers call are derived from the same port, so `--port` is one setting.
    """
    base = f"http://{'localhost' if host in ('0.0.0.0', '127.0.0.1') else host}:{port}"
    home = DataFolder(data_dir).airflow_home
    env = {
        "SOFLI_DATA_DIR": str(data_dir),
        "AIRFLOW_HOME": str(home),
        **{name: path(home) for name, path in AIRFLOW_HOME_PATHS.items()},
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # Cron schedules and naive times are Copenhagen's; the UI shows the browser's zone.
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": TIMEZONE,
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        # The zone of the machine's clock for what Airflow formats in local time, e.g. its e-mails' Date.
        "TZ": TIMEZONE,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__API__HOST": host,
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": base,
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
    }
    if metadata_url and not metadata_url.startswith("sqlite:"):
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = metadata_url
    else:  # the embedded SQLite metadata DB under AIRFLOW_HOME
        env.update({"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": embedded_metadata_url(home),
                    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS": f"{__name__}.SQLITE_CONNECT_ARGS",
                    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS_ASYNC": f"{__name__}.SQLITE_ASYNC_CONNECT_ARGS",
                    "AIRFLOW__CORE__PARALLELISM": str(SQLITE_PARALLELISM)})
    if mode:
        env["SOFLI_MODE"] = mode
    if smtp_port:
        env["AIRFLOW_CONN_SMTP_DEFAULT"] = smtp_connection(smtp_port)
    return env


class AirflowApi:
    """Airflow's REST API (v2) as a user of the simple auth manager (a JWT from /auth/token)."""

    def __init__(self, base: str, username: str, password: str, timeout: float = 30):
        self.base = base.rstrip("/")
        self.timeout = timeout
        self.token = self._call("POST", "/auth/token", {"username": username, "password": password},
                                auth=False)["access_token"]

    def _call(self, method: str, path: str, body: dict | None = None, auth: bool = True) -> dict:
        headers = {"Content-Type": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.base + path, method=method, headers=headers,
                                         data=json.dumps(body).encode() if body is not None else None)
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            return json.loads(response.read() or b"{}")

    def get(self, path: str) -> dict:
        return self._call("GET", path)

    def post(self, path: str, body: dict) -> dict:
        return self._call("POST", path, body)

    def patch(self, path: str, body: dict) -> dict:
        return self._call("PATCH", path, body)

    @staticmethod
    def run_path(dag_id: str, run_id: str) -> str:
        return f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}"

    def dag_ids(self) -> set[str]:
        return {d["dag_id"] for d in self.get("/api/v2/dags?limit=1000")["dags"]}

    def unpause(self, dag_ids: Iterable[str]) -> None:
        for dag_id in dag_ids:
            self.patch(f"/api/v2/dags/{dag_id}", {"is_paused": False})

    def pause(self, dag_ids: Iterable[str]) -> None:
        for dag_id in dag_ids:
            self.patch(f"/api/v2/dags/{dag_id}", {"is_paused": True})

    def trigger(self, dag_id: str, conf: dict | None = None, note: str | None = None) -> dict:
        """A manual run now (logical date: now); `conf` are the DAG's params."""
        body: dict[str, Any] = {"logical_date": None, "conf": conf or {}}
        if note:
            body["note"] = note
        return self.post(f"/api/v2/dags/{dag_id}/dagRuns", body)

    def run(self, dag_id: str, run_id: str) -> dict:
        return self.get(self.run_path(dag_id, run_id))

    def runs(self, dag_id: str) -> list[dict]:
        """Every run of the DAG, oldest first."""
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns?limit=1000&order_by=run_after")["dag_runs"]

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        tis = self.get(self.run_path(dag_id, run_id) + "/taskInstances?limit=1000")["task_instances"]
        return {t["task_id"]: t["state"] or "none" for t in tis}


def wait_for(what: str, check: Callable[[], Any], timeout: float, interval: float = 1.0):
    """Poll `check` until it returns something true; its last error or value goes into the timeout's message."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except (OSError, urllib.error.URLError, KeyError, ValueError) as error:  # not up yet: try again
            last = error
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


def wait_run(api: AirflowApi, dag_id: str, run_id: str, timeout: float = 1800) -> dict:
    """Wait until the run has finished; returns it."""
    return wait_for(f"{dag_id} run {run_id}", lambda: (r := api.run(dag_id, run_id))["state"] in FINISHED and r,
                    timeout)


def migrate_metadata_db(env: dict[str, str]) -> None:
    """`airflow db migrate` (idempotent); Airflow's own SQLite DB is then switched to WAL mode
    (persistent: readers no longer block the scheduler's writes)."""
    airflow = os.path.join(str(Path(sys.executable).parent), "airflow")
    done = subprocess.run([airflow, "db", "migrate"], env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"airflow db migrate failed ({done.returncode}):\n{(done.stdout + done.stderr)[-3000:]}")
    if env.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "sqlite:").startswith("sqlite:"):
        with sqlite3.connect(Path(env["AIRFLOW_HOME"]) / "airflow.db") as db:
            db.execute("PRAGMA journal_mode=WAL")


def parse_time(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


#: The components `airflow standalone` runs; started here one by one (see `LocalAirflow`).
COMPONENTS = ("api-server", "triggerer", "scheduler", "dag-processor")
SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"


class LocalAirflow:
    """`with LocalAirflow(data_dir, env) as airflow:` — Airflow's four components on a free loopback
    port (or `port`) until exit, as `airflow standalone` runs them (LocalExecutor, SimpleAuthManager
    with a generated admin password); `airflow.api` is logged in as that admin.

    Started one by one rather than as `standalone`, so a caller can start the api-server and
    triggerer first and the scheduler and dag-processor later with more environment (the scheduler
    test sets its compressed clock once the slow part of start-up is over): `start(*components,
    env=...)`. Every process is stopped on exit, task processes included, even when the body failed.
    Each component logs to `<AIRFLOW_HOME>/<component>.log`.
    """

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None, port: int | None = None,
                 startup_timeout: float = 300, migrate: bool = True, components: Iterable[str] = COMPONENTS):
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.home = DataFolder(self.data_dir).airflow_home
        self.startup_timeout = startup_timeout
        self.migrate = migrate
        self.initial = tuple(components)
        bin_dir = str(Path(sys.executable).parent)
        self._airflow = os.path.join(bin_dir, "airflow")
        env = dict(env or {})
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}
        metadata_url = env.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", None) or os.environ.get(
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")
        self.env = {**inherited, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
                    **airflow_environment(self.data_dir, port=self.port, metadata_url=metadata_url),
                    "AIRFLOW__CORE__EXECUTOR": "LocalExecutor", "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE_AUTH_MANAGER,
                    **env,
                    "PYTHONPATH": os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p)}
        self.processes: dict[str, subprocess.Popen] = {}
        self._logs: list = []
        self.api: AirflowApi | None = None

    def log_path(self, component: str) -> Path:
        return self.home / f"{component}.log"

    def __enter__(self) -> LocalAirflow:
        self.home.mkdir(parents=True, exist_ok=True)
        try:
            if self.migrate:
                migrate_metadata_db(self.env)
            self.start(*self.initial)
        except BaseException:
            self.stop()
            raise
        return self

    def start(self, *components: str, env: dict[str, str] | None = None) -> None:
        """Start `components` (with `env` on top of the instance's); the api-server is waited for."""
        for component in components:
            if component in self.processes:
                raise RuntimeError(f"{component} is already running")
            log = self.log_path(component).open("ab")
            self._logs.append(log)
            self.processes[component] = subprocess.Popen(
                [self._airflow, component], env={**self.env, **(env or {})}, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, cwd=self.data_dir)
        if "api-server" in components:
            passwords = self.home / "simple_auth_manager_passwords.json.generated"
            wait_for("Airflow's api-server", lambda: self._alive() and passwords.exists()
                     and urllib.request.urlopen(f"{self.base}/api/v2/monitor/health", timeout=5).status == 200,
                     self.startup_timeout)
            self.username, self.password = next(iter(json.loads(passwords.read_text()).items()))
            self.api = AirflowApi(self.base, self.username, self.password)

    def _alive(self) -> bool:
        for component, process in self.processes.items():
            if process.poll() is not None:
                tail = self.log_path(component).read_text(errors="replace")[-3000:]
                raise RuntimeError(f"airflow {component} exited with {process.returncode}:\n{tail}")
        return True

    def wait_for_dags(self, dag_ids: Iterable[str], timeout: float = 300) -> None:
        """Until the dag-processor has parsed every one of `dag_ids` (and none has an import error)."""
        wanted = set(dag_ids)

        def parsed():
            self._alive()
            errors = self.api.get("/api/v2/importErrors")
            if errors["total_entries"]:
                raise RuntimeError("DAG import errors: " + "; ".join(e["stack_trace"][-300:]
                                                                       for e in errors["import_errors"]))
            return wanted <= self.api.dag_ids()
        wait_for(f"DAGs {sorted(wanted)} parsed", parsed, timeout)

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        """SIGTERM to every process we started (the components, their executor workers and the task
        processes, which run in process groups of their own), then SIGKILL to whatever is left."""
        _stop_tree(list(self.processes.values()))
        self.processes = {}
        for log in self._logs:
            log.close()
        self._logs = []



def _stop_tree(processes: list[subprocess.Popen]) -> None:
    import psutil  # noqa: PLC0415 - an Airflow dependency

    family = []
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            family += [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
    for member in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.terminate()
    _, alive = psutil.wait_procs(family, timeout=30)
    for member in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.kill()
    psutil.wait_procs(alive, timeout=10)
    for process in processes:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # anything that left the tree but kept the group
        process.wait(timeout=10)
