"""Where things are: data folder, source locations, reference data, warehouse, secrets.

Everything is configuration, resolved in this order: an explicit argument, an
environment variable, an Airflow connection (in a real deployment), the embedded default
under the data folder. Secrets never have defaults outside demo mode.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from etl.extract.odbc import location_from_connection

REPO_ROOT = Path(__file__).resolve().parents[2]

#: The documented dummy key of the embedded demo. Refused outside demo mode.
DEMO_PSEUDONYM_KEY = "sofli-demo-key-not-for-production"
PSEUDONYM_CONN_ID = "sofli_pseudonym_key"
WAREHOUSE_CONN_ID = "sofli_warehouse"
SMTP_CONN_ID = "smtp_default"


#: T6.04's percentile (economy.md: default 10, allowed 10-15).
EXPENSIVE_CASES_ENV = "SOFLI_EXPENSIVE_CASES_PERCENT"
EXPENSIVE_CASES_RANGE = (10.0, 15.0)


class ConfigurationError(RuntimeError):
    """The run cannot start: a setting is missing or unsafe."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    reference_dir: Path
    mode: str  # "demo" or "production"
    #: "historical": a figure uses the organisation valid on its period's end (default);
    #: "current": every period is restated on today's structure.
    org_structure: str = "historical"
    #: T6.04 særligt dyre enkeltsager: the costliest share of citizens, in percent (10-15).
    expensive_cases_percent: float = 10.0
    #: The circuit breakers' limits and the sources' owners (`etl.validate.breakers`).
    breakers_path: Path = REPO_ROOT / "config" / "breakers.yaml"
    #: Who gets the failed-task and circuit-breaker e-mails.
    operations_email: str = "sofli-drift@sofli.example"

    def __post_init__(self) -> None:
        if not EXPENSIVE_CASES_RANGE[0] <= self.expensive_cases_percent <= EXPENSIVE_CASES_RANGE[1]:
            raise ConfigurationError(f"{EXPENSIVE_CASES_ENV} must be between {EXPENSIVE_CASES_RANGE[0]:g} and "
                                     f"{EXPENSIVE_CASES_RANGE[1]:g} (percent), not {self.expensive_cases_percent:g}")

    def kpi_params(self) -> dict[str, dict]:
        """The KPIs' own settings from this configuration (`etl.kpi.compute_kpis(params=...)`)."""
        return {"T6.04": {"percent": self.expensive_cases_percent}}

    @classmethod
    def from_env(cls) -> Settings:
        data_dir = Path(os.environ.get("SOFLI_DATA_DIR", REPO_ROOT / "data")).resolve()
        reference_dir = Path(os.environ.get("SOFLI_REFERENCE_DIR", REPO_ROOT / "reference")).resolve()
        mode = os.environ.get("SOFLI_MODE", "production")
        if mode not in ("demo", "production"):
            raise ConfigurationError(f"SOFLI_MODE must be demo or production, not {mode!r}")
        org_structure = os.environ.get("SOFLI_ORG_STRUCTURE", "historical")
        if org_structure not in ("historical", "current"):
            raise ConfigurationError(f"SOFLI_ORG_STRUCTURE must be historical or current, not {org_structure!r}")
        raw_percent = os.environ.get(EXPENSIVE_CASES_ENV, "").strip() or "10"
        try:
            percent = float(raw_percent.replace(",", "."))
        except ValueError:
            raise ConfigurationError(f"{EXPENSIVE_CASES_ENV} must be a number of percent, not {raw_percent!r}") from None
        breakers_path = Path(os.environ.get("SOFLI_BREAKERS") or REPO_ROOT / "config" / "breakers.yaml").resolve()
        operations = os.environ.get("SOFLI_OPERATIONS_EMAIL") or "sofli-drift@sofli.example"
        return cls(data_dir, reference_dir, mode, org_structure, percent, breakers_path, operations)

    # Layout of the data folder (docs/architecture.md shows the tree).
    @property
    def sources_dir(self) -> Path:
        """The embedded synthetic fagsystemer (demo default locations)."""
        return self.data_dir / "sources"

    @property
    def landing_dir(self) -> Path:
        """Raw extracts as landed (restricted: holds CPR)."""
        return self.data_dir / "landing"

    @property
    def staged_dir(self) -> Path:
        """Validated, typed extracts (restricted: holds CPR until the link step)."""
        return self.data_dir / "staged"

    @property
    def quarantine_dir(self) -> Path:
        """Rows that could not be read, with rule and reason (restricted)."""
        return self.data_dir / "quarantine"

    @property
    def model_dir(self) -> Path:
        """The pseudonymous citizen model (no CPR)."""
        return self.data_dir / "model"

    @property
    def warehouse_dir(self) -> Path:
        return self.data_dir / "warehouse"

    @property
    def mail_dir(self) -> Path:
        """Where the demo's in-process SMTP server stores the alert e-mails it receives."""
        return self.data_dir / "mail"

    def source_location(self, source) -> str:
        """A SQLAlchemy URL (database sources) or a folder (file sources).

        `SOFLI_SOURCE_<NAME>` wins; then the Airflow connection `sofli_src_<name>`
        (extra `url` / `path`, a URI, or conn_type `odbc`: a DSN-less `odbc:` connection
        string, see `etl.extract.odbc`); then the embedded default.
        """
        value = os.environ.get(source.env_var) or _airflow_connection_location(source.conn_id)
        if value:
            return value
        if source.kind == "database":
            return f"sqlite:///{self.sources_dir / f'{source.name}.db'}"
        return str(self.sources_dir / "drop")

    def warehouse_url(self) -> str:
        value = os.environ.get("SOFLI_WAREHOUSE_URL") or _airflow_connection_location(WAREHOUSE_CONN_ID)
        return value or f"sqlite:///{self.warehouse_dir / 'warehouse.db'}"

    def pseudonym_key(self) -> bytes:
        """The HMAC key: environment or Airflow connection; the dummy only in demo mode."""
        key = os.environ.get("SOFLI_PSEUDONYM_KEY") or _airflow_connection_secret(PSEUDONYM_CONN_ID)
        if not key:
            if self.mode == "demo":
                return DEMO_PSEUDONYM_KEY.encode()
            raise ConfigurationError(
                "no pseudonymisation key: set the Airflow connection "
                f"{PSEUDONYM_CONN_ID!r} (password) or SOFLI_PSEUDONYM_KEY")
        if key == DEMO_PSEUDONYM_KEY and self.mode != "demo":
            raise ConfigurationError("the documented demo pseudonymisation key is refused outside demo mode")
        if len(key) < 16:
            raise ConfigurationError("the pseudonymisation key must be at least 16 characters")
        return key.encode()


def _airflow_connection(conn_id: str):
    """The Airflow connection if Airflow is importable and knows it (env or backend)."""
    env = os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}")
    if env is None and not os.environ.get("AIRFLOW_HOME"):
        return None
    try:
        from airflow.sdk import Connection  # noqa: PLC0415 - optional outside Airflow
        return Connection.get(conn_id)
    except Exception:  # noqa: BLE001 - unknown connection or no Airflow context
        pass
    if env is None:
        # Outside a task (the CLI, `sofli run --check`) the task SDK does not read Airflow's
        # metadata DB; a connection kept there (the UI's Admin -> Connections) is read directly.
        try:
            from airflow.models.connection import Connection as StoredConnection  # noqa: PLC0415 - optional outside Airflow

            return StoredConnection.get_connection_from_secrets(conn_id)
        except Exception:  # noqa: BLE001 - not there, or no metadata DB to ask
            return None
    return _parse_env_connection(env)


def _parse_env_connection(env: str):
    class _Conn:  # minimal stand-in when Airflow's lookup is unavailable
        def __init__(self, data: dict):
            extra = data.get("extra", {}) or {}
            self.extra_dejson = json.loads(extra) if isinstance(extra, str) else extra
            self.password = data.get("password")
            self.uri = data.get("uri")
            self.conn_type = data.get("conn_type")
            self.host, self.port, self.schema, self.login = (data.get(k) for k in ("host", "port", "schema", "login"))
    if env.strip().startswith("{"):
        return _Conn(json.loads(env))
    return _Conn({"uri": env})


def _airflow_connection_location(conn_id: str) -> str | None:
    conn = _airflow_connection(conn_id)
    if conn is None:
        return None
    extra = getattr(conn, "extra_dejson", {}) or {}
    if getattr(conn, "conn_type", None) == "odbc" and not extra.get("url"):
        return location_from_connection(conn)  # a DSN-less `odbc:` connection string
    return extra.get("url") or extra.get("path") or getattr(conn, "uri", None)


def _airflow_connection_secret(conn_id: str) -> str | None:
    conn = _airflow_connection(conn_id)
    return getattr(conn, "password", None) if conn is not None else None


# --- the night's clock (read when the DAG files are parsed) ---------------------------

#: How long after it was queued each nightly stage's run should be done (deadline alerts).
DEFAULT_NIGHT_DEADLINES = {"extract": "3h", "build_model": "2h", "publish_kpis": "2h", "data_quality": "1h"}
#: When the model, KPIs and data quality run at the latest, with whatever sources succeeded.
DEFAULT_NIGHT_CUTOFF = "0 5 * * *"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(text: str, setting: str) -> dt.timedelta:
    """`90s`, `20m`, `3h`, `1d` (a bare number is seconds)."""
    match = _DURATION.match(str(text))
    if not match or float(match.group(1)) <= 0:
        raise ConfigurationError(f"{setting}: {text!r} is not a duration like 90s, 20m or 3h")
    return dt.timedelta(seconds=float(match.group(1)) * _DURATION_UNITS[match.group(2)])


@dataclass(frozen=True)
class Clock:
    """When a DAG runs by itself: a cron expression (Europe/Copenhagen), or a list of exact
    moments (`at:` ISO times, for rehearsals and tests), or never (`None`: triggered only)."""

    cron: str | None = None
    at: tuple[dt.datetime, ...] = ()

    @classmethod
    def parse(cls, text: str | None, setting: str) -> Clock:
        text = (text or "").strip()
        if text in ("", "none", "off"):
            return cls()
        if text.startswith("at:"):
            try:
                moments = tuple(sorted(dt.datetime.fromisoformat(t.strip()) for t in text[3:].split(",") if t.strip()))
            except ValueError as exc:
                raise ConfigurationError(f"{setting}: {exc}; write at:2026-12-06T05:00:00+01:00,...") from exc
            if not moments or any(m.tzinfo is None for m in moments):
                raise ConfigurationError(f"{setting}: `at:` needs ISO times with a UTC offset")
            return cls(at=moments)
        if len(text.split()) != 5:
            raise ConfigurationError(f"{setting}: {text!r} is not a 5-field cron expression (or `at:` times, or off)")
        return cls(cron=text)

    @property
    def runs(self) -> bool:
        return bool(self.cron or self.at)


@dataclass(frozen=True)
class NightSchedule:
    """The night's clock and alerts: when each extract runs, the cut-off after which the model
    is built with whatever sources succeeded, how late each stage may be, and retries.

    Environment (all optional; the defaults are production's):
      SOFLI_SCHEDULES                `on` (default) or `off`: no DAG runs by itself, the CLI's
                                     `sofli run`/`sofli demo` trigger the night (the Assets still
                                     chain model -> KPIs -> data quality)
      SOFLI_EXTRACT_SCHEDULE         one clock for every extract DAG (default: each source's
                                     staggered cron in the registry, 01:00-02:30)
      SOFLI_EXTRACT_SCHEDULE_<SOURCE> one source's clock (wins over the above)
      SOFLI_NIGHT_CUTOFF             the cut-off clock (default `0 5 * * *`, 05:00 Copenhagen)
      SOFLI_NIGHT_DEADLINES          e.g. `extract=3h,build_model=2h` (the rest keep their default)
      SOFLI_TASK_RETRIES             retries of a failed task (default 2), SOFLI_TASK_RETRY_DELAY (2m)
      SOFLI_HOUSEKEEPING_SCHEDULE, SOFLI_CLOSE_QUARTER_SCHEDULE   the daily DAGs (05:30, 06:00)
    A clock is a cron expression, `at:<ISO time>,<ISO time>` or `off`.
    """

    extract: dict[str, Clock]
    cutoff: Clock
    housekeeping: Clock
    close_quarter: Clock
    deadlines: dict[str, dt.timedelta]
    retries: int = 2
    retry_delay: dt.timedelta = dt.timedelta(minutes=2)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, sources: Mapping | None = None) -> NightSchedule:
        env = os.environ if environ is None else environ
        if sources is None:
            from etl.sources import SOURCES as sources  # noqa: N811, PLC0415 - etl.sources imports this module
        switch = env.get("SOFLI_SCHEDULES", "on").strip().lower()
        if switch not in ("on", "off"):
            raise ConfigurationError(f"SOFLI_SCHEDULES must be on or off, not {switch!r}")
        on = switch == "on"

        def clock(name: str, default: str) -> Clock:
            return Clock.parse(env.get(name, default), name) if on else Clock()

        everyone = env.get("SOFLI_EXTRACT_SCHEDULE")
        extract = {}
        for name, source in sources.items():
            own = f"SOFLI_EXTRACT_SCHEDULE_{name.upper()}"
            extract[name] = clock(own, env.get(own) or everyone or source.schedule)
        deadlines = {stage: parse_duration(value, "SOFLI_NIGHT_DEADLINES")
                     for stage, value in DEFAULT_NIGHT_DEADLINES.items()}
        for part in filter(None, (p.strip() for p in env.get("SOFLI_NIGHT_DEADLINES", "").split(","))):
            stage, _, value = part.partition("=")
            if stage.strip() not in deadlines:
                raise ConfigurationError(f"SOFLI_NIGHT_DEADLINES: unknown stage {stage.strip()!r}; "
                                         f"stages: {', '.join(deadlines)}")
            deadlines[stage.strip()] = parse_duration(value, "SOFLI_NIGHT_DEADLINES")
        retries = env.get("SOFLI_TASK_RETRIES", "2").strip()
        if not retries.isdigit():
            raise ConfigurationError(f"SOFLI_TASK_RETRIES must be a whole number >= 0, not {retries!r}")
        return cls(extract, clock("SOFLI_NIGHT_CUTOFF", DEFAULT_NIGHT_CUTOFF), clock("SOFLI_HOUSEKEEPING_SCHEDULE",
                   "30 5 * * *"), clock("SOFLI_CLOSE_QUARTER_SCHEDULE", "0 6 * * *"), deadlines, int(retries),
                   parse_duration(env.get("SOFLI_TASK_RETRY_DELAY", "2m"), "SOFLI_TASK_RETRY_DELAY"))
