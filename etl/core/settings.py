"""Every setting the pipeline reads, resolved once per task by one resolver.

`Settings.resolve()` reads the environment (a deployment's `SOFLI_*` variables), then Airflow
connections (source locations, the warehouse, the pseudonymisation key), then the
defaults, validates everything, and returns one frozen `Settings`. Nothing below it reads
the environment: every function takes `settings` or the value it needs (a test checks).
An invalid value stops the run with one `ConfigurationError` that names the variable and
the fix.

The mode is **production** unless the run is the demo's: `sofli demo` marks its data
folder (`.sofli-demo.json`) and runs with `SOFLI_MODE=demo`; `demo` on any other folder is
refused, so a stray variable cannot put a production folder on the documented demo key.

Connections are looked up when first needed (an extract task asks for its source, never
for the pseudonymisation key), through Airflow: `AIRFLOW_CONN_<ID>` or its secrets backend.
`OPTIONS` lists every variable with its default; `docs/operations.md` shows it (generated).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from croniter import croniter

from etl.core.zones import DataFolder
from etl.extract.odbc import location_from_connection

REPO_ROOT = Path(__file__).resolve().parents[2]

#: The documented dummy key of the embedded demo. Refused outside demo mode.
DEMO_PSEUDONYM_KEY = "sofli-demo-key-not-for-production"
PSEUDONYM_CONN_ID = "sofli_pseudonym_key"
WAREHOUSE_CONN_ID = "sofli_warehouse"
SMTP_CONN_ID = "smtp_default"
SOURCE_ENV_PREFIX = "SOFLI_SOURCE_"
NEW_PSEUDONYM_KEY_ENV = "SOFLI_NEW_PSEUDONYM_KEY"
WAREHOUSE_ADMIN_URL_ENV = "SOFLI_WAREHOUSE_ADMIN_URL"
#: Warehouse role -> the variable holding the password `sofli warehouse-init` gives it.
WAREHOUSE_LOGIN_PASSWORD_ENV = {"sofli_pipeline": "WAREHOUSE_PASSWORD", "sofli_bi": "WAREHOUSE_BI_PASSWORD",
                                "sofli_bi_public": "WAREHOUSE_BI_PUBLIC_PASSWORD",
                                "sofli_bi_restricted": "WAREHOUSE_BI_RESTRICTED_PASSWORD"}

MIN_KEY_LENGTH = 16
MIN_KEY_DISTINCT = 8
#: Normalised beginnings of keys copied from an example instead of generated.
PLACEHOLDER_KEYS = ("changeme", "password", "passw0rd", "replaceme", "yourkey", "secretkey", "example")

DEFAULT_SUPPRESSION_THRESHOLD = 5
MINIMUM_SUPPRESSION_THRESHOLD = 3  # Danmarks Statistik's minimum
#: The org levels at which `public` carries breakdowns (age group, measure type, ...); below
#: them `public` has the org totals only (docs/security.md, "Breakdowns in public").
PUBLIC_ORG_LEVELS = ("sof", "area", "center", "unit")
DEFAULT_PUBLIC_BREAKDOWN_LEVELS = ("sof", "area")
#: The report's signer for a quarter closed by the schedule (no person triggered it).
DEFAULT_REPORT_SIGNER = "Socialforvaltningens ledelsesinformation"
DEFAULT_CLOSE_AFTER_DAYS = 20
#: DQ10: the monthly file for month M is owed from this day of month M + 1 (issue 20).
DEFAULT_MONTHLY_FILE_DUE_DAY = 10
MAXIMUM_CLOSE_AFTER_DAYS = 80
DEFAULT_RETENTION_DAYS = 30
MINIMUM_RETENTION_DAYS = 7  # below this a backfill of last week could find its extracts gone
DEFAULT_OPERATIONS_EMAIL = "sofli-drift@sofli.example"
#: T6.04's percentile (economy.md: default 10, allowed 10-15).
EXPENSIVE_CASES_ENV = "SOFLI_EXPENSIVE_CASES_PERCENT"
DEFAULT_EXPENSIVE_CASES_PERCENT = 10.0
EXPENSIVE_CASES_RANGE = (10.0, 15.0)
#: How long after it was queued each nightly stage's run should be done (deadline alerts).
DEFAULT_NIGHT_DEADLINES = {"extract": "3h", "build_model": "2h", "publish_kpis": "2h", "data_quality": "1h"}
#: When the model, KPIs and data quality run at the latest, with whatever sources succeeded.
DEFAULT_NIGHT_CUTOFF = "0 5 * * *"
DEFAULT_HOUSEKEEPING_SCHEDULE = "30 5 * * *"
DEFAULT_CLOSE_QUARTER_SCHEDULE = "0 6 * * *"
#: The optional daytime refresh of the database sources (`refresh_daytime`): off unless set.
DAYTIME_REFRESH_ENV = "SOFLI_DAYTIME_REFRESH"
DEFAULT_TASK_RETRIES = "2"
DEFAULT_TASK_RETRY_DELAY = "2m"
#: Where people open sofli: the Airflow UI's address (the e-mails link the data-quality page under it).
DEFAULT_BASE_URL = "http://localhost:8080"
_EMAIL = re.compile(r"^[^@\s,]+@[^@\s,]+\.[^@\s,]+$")


class ConfigurationError(RuntimeError):
    """The run cannot start: a setting is missing, invalid or unsafe; the message names
    the variable (or connection) and the fix."""


@dataclass(frozen=True)
class Option:
    """One setting as an operator sees it (the table in docs/operations.md)."""

    env: str
    default: str
    meaning: str
    connection: str = ""
    field: str = ""  # the Settings field that holds it ("" for command inputs)


#: Every variable the settings owner reads, in the order of docs/operations.md.
OPTIONS: tuple[Option, ...] = (
    Option("SOFLI_DATA_DIR", "`./data` of the checkout", "the data folder: every zone the pipeline writes "
           "(landing, staged, quarantine, model, kpi, dq, warehouse, mail, reports); moveable", field="data_dir"),
    Option("SOFLI_REFERENCE_DIR", "`reference/` of the checkout", "the municipality's organisation, paragraph "
           "and deadline files", field="reference_dir"),
    Option("SOFLI_MODE", "`production`", "`production`, or `demo` (only on a folder `sofli demo` created: the "
           "documented demo key and the embedded sources are accepted)", field="mode"),
    Option("SOFLI_ORG_STRUCTURE", "`historical`", "`historical`: a figure uses the organisation valid at its "
           "period's end; `current`: every period restated on today's", field="org_structure"),
    Option(f"{SOURCE_ENV_PREFIX}<SOURCE>", "`sources/<source>.db` or `sources/drop/` in the data folder",
           "where a fagsystem is: a SQLAlchemy URL, `odbc:<connection string>`, or a drop folder",
           connection="`sofli_src_<source>` (extra `url`/`path`, a URI, or conn_type `odbc`)",
           field="source_locations"),
    Option("SOFLI_EXTRACT_MODE", "`incremental`", "`incremental` (changed rows, whole weekly) or `full` "
           "(every table whole every night)", field="extract"),
    Option("SOFLI_FULL_EXTRACT_EVERY_DAYS", "`7`", "days between full extracts of a table read incrementally "
           "(at least 1)", field="extract"),
    Option("SOFLI_EXTRACT_OVERLAP_HOURS", "`48`", "hours the incremental change window reaches back before the "
           "last watermark (at least 0)", field="extract"),
    Option("SOFLI_ODBC_FETCH", "`arrow`", "ODBC sources fetched columnar with arrow-odbc (`arrow`) or row-wise "
           "with pyodbc (`rows`); the landed text is identical", field="odbc_fetch"),
    Option("SOFLI_KPI_WORKERS", "the task's usable cores", "processes the KPI stage spreads the reporting periods "
           "over, and the publish task's suppression audit the KPIs (at least 1; `1` works in the task's own "
           "process)", field="kpi_workers"),
    Option("SOFLI_SUPPRESSION_THRESHOLD", f"`{DEFAULT_SUPPRESSION_THRESHOLD}`", "`public` blanks counts below it "
           f"and rates on fewer events (at least {MINIMUM_SUPPRESSION_THRESHOLD})", field="suppression_threshold"),
    Option("SOFLI_PUBLIC_BREAKDOWN_LEVELS", f"`{','.join(DEFAULT_PUBLIC_BREAKDOWN_LEVELS)}`", "the org levels at "
           "which `public` publishes breakdowns (comma-separated from sof, area, center, unit; sof always); "
           "below them `public` has the org totals only, `mart` everything", field="public_breakdown_levels"),
    Option("SOFLI_MONTHLY_FILE_DUE_DAY", f"`{DEFAULT_MONTHLY_FILE_DUE_DAY}`", "DQ10: the day of the month from "
           "which the previous month's monthly file (beskaeftigelse) is owed (1-28)", field="monthly_file_due_day"),
    Option("SOFLI_CLOSE_AFTER_DAYS", f"`{DEFAULT_CLOSE_AFTER_DAYS}`", "days after a quarter ends before "
           f"`close_quarter` freezes it (0-{MAXIMUM_CLOSE_AFTER_DAYS})", field="close_after_days"),
    Option("SOFLI_REPORT_SIGNER", f"`{DEFAULT_REPORT_SIGNER}`", "who the committee report names as having locked "
           "a quarter closed by the schedule or a test run (a manual close names the user who triggered it)",
           field="report_signer"),
    Option("SOFLI_RETENTION_DAYS", f"`{DEFAULT_RETENTION_DAYS}`", "days the CPR-bearing landing, staged and "
           f"quarantine partitions are kept (at least {MINIMUM_RETENTION_DAYS})", field="retention_days"),
    Option("SOFLI_DQ_RULES", "`config/dq_rules.yaml` of the checkout", "the data-quality rule configuration",
           field="dq_rules_path"),
    Option("SOFLI_BREAKERS", "`config/breakers.yaml` of the checkout", "the circuit breakers' limits per table "
           "and the sources' owners (docs/reliability.md)", field="breakers_path"),
    Option("SOFLI_SQL_DIR", "`sql/` of the checkout", "the folder holding `warehouse/` (views, roles DDL); an "
           "installed image without a checkout copies it, e.g. `/opt/sofli/sql`", field="sql_dir"),
    Option(EXPENSIVE_CASES_ENV, f"`{DEFAULT_EXPENSIVE_CASES_PERCENT:g}`", "T6.04 (særligt dyre enkeltsager): the "
           f"costliest share of citizens, in percent ({EXPENSIVE_CASES_RANGE[0]:g}-{EXPENSIVE_CASES_RANGE[1]:g}; "
           "a decimal comma is accepted)", field="expensive_cases_percent"),
    Option("SOFLI_OPERATIONS_EMAIL", f"`{DEFAULT_OPERATIONS_EMAIL}`", "who gets the failed-task and late-night "
           "e-mails", field="operations_email"),
    Option("SOFLI_BASE_URL", f"`{DEFAULT_BASE_URL}`", "the Airflow UI's address as the users reach it "
           "(`https://sofli.kommune.dk`); the owners' e-mails link the data-quality page under it, filtered "
           "to the owner", field="base_url"),
    Option("SOFLI_WAREHOUSE_URL", "`warehouse/warehouse.db` (SQLite) in the data folder", "the warehouse the "
           "pipeline publishes to (PostgreSQL in production, as `sofli_pipeline`)",
           connection="`sofli_warehouse` (extra `url`)", field="warehouse_location"),
    Option("SOFLI_PSEUDONYM_KEY", "none (the documented demo key in demo mode only)", "the HMAC key: at least "
           f"{MIN_KEY_LENGTH} characters, {MIN_KEY_DISTINCT} distinct, not a placeholder",
           connection="`sofli_pseudonym_key` (password)", field="pseudonym_key_text"),
    # The night's clock (`NightSchedule`, read when the DAG files are parsed, not per task).
    Option("SOFLI_SCHEDULES", "`on`", "`off`: no DAG runs by itself; `sofli run`/`sofli demo` trigger the night "
           "(the Assets still chain model -> KPIs -> data quality)"),
    Option("SOFLI_EXTRACT_SCHEDULE", "each source's cron in the registry (01:00-02:45)", "one clock for every "
           "extract DAG: a cron expression (Copenhagen), `at:<ISO time>,...` or `off`"),
    Option("SOFLI_EXTRACT_SCHEDULE_<SOURCE>", "`SOFLI_EXTRACT_SCHEDULE`", "one source's extract clock (wins over "
           "the above)"),
    Option("SOFLI_NIGHT_CUTOFF", f"`{DEFAULT_NIGHT_CUTOFF}`", "when `build_model` runs at the latest, with whatever "
           "sources succeeded (a clock like the above)"),
    Option("SOFLI_NIGHT_DEADLINES", "`" + ",".join(f"{k}={v}" for k, v in DEFAULT_NIGHT_DEADLINES.items()) + "`",
           "how long after it was queued each nightly stage should be done before operations is mailed; "
           "name only the stages to change, e.g. `extract=4h`"),
    Option("SOFLI_TASK_RETRIES", f"`{DEFAULT_TASK_RETRIES}`", "retries of a failed task (a whole number >= 0)"),
    Option("SOFLI_TASK_RETRY_DELAY", f"`{DEFAULT_TASK_RETRY_DELAY}`", "the first retry's delay (`90s`, `20m`, "
           "`1h`; doubling up to 30 minutes)"),
    Option("SOFLI_HOUSEKEEPING_SCHEDULE", f"`{DEFAULT_HOUSEKEEPING_SCHEDULE}`", "the daily `housekeeping` DAG's "
           "clock"),
    Option("SOFLI_CLOSE_QUARTER_SCHEDULE", f"`{DEFAULT_CLOSE_QUARTER_SCHEDULE}`", "the daily `close_quarter` DAG's "
           "clock"),
    Option(DAYTIME_REFRESH_ENV, "`off`", "the optional daytime refresh (`refresh_daytime`) of the database sources "
           "and the running quarter, e.g. `0 8-16 * * 1-5` (hourly 08-16 on weekdays, Copenhagen); a clock like "
           "the above; `SOFLI_SCHEDULES=off` turns it off too"),
    # Command inputs, never part of a task's settings.
    Option(NEW_PSEUDONYM_KEY_ENV, "none", "`sofli rekey` only: the new HMAC key (same rules)"),
    Option(WAREHOUSE_ADMIN_URL_ENV, "none", "`sofli warehouse-init` only: an administrator's SQLAlchemy URL"),
    Option(WAREHOUSE_LOGIN_PASSWORD_ENV["sofli_pipeline"], "unset: the role keeps its login state",
           "`sofli warehouse-init` only: the password of `sofli_pipeline`"),
    Option(WAREHOUSE_LOGIN_PASSWORD_ENV["sofli_bi"], "unset: the role keeps its login state",
           "`sofli warehouse-init` only: the password of `sofli_bi` (Power BI)"),
    Option(WAREHOUSE_LOGIN_PASSWORD_ENV["sofli_bi_public"], "unset: the role keeps its login state",
           "`sofli warehouse-init` only: the password of `sofli_bi_public` (reads the schema `public` only)"),
    Option(WAREHOUSE_LOGIN_PASSWORD_ENV["sofli_bi_restricted"], "unset: the role keeps its login state",
           "`sofli warehouse-init` only: the password of `sofli_bi_restricted` (the case-review leaders: reads "
           "`restricted`, the caseworker level, and `mart`)"),
)


@dataclass(frozen=True)
class ExtractPolicy:
    """How the nightly extract chooses between incremental and full (etl.extract.incremental)."""

    mode: str = "incremental"  # or "full": every night reads every table whole
    full_every_days: int = 7
    overlap: dt.timedelta = dt.timedelta(hours=48)

    def __post_init__(self) -> None:
        if self.mode not in ("incremental", "full"):
            raise ConfigurationError(f"SOFLI_EXTRACT_MODE must be incremental or full, not {self.mode!r}")
        if self.full_every_days < 1:
            raise ConfigurationError(f"SOFLI_FULL_EXTRACT_EVERY_DAYS must be at least 1, not {self.full_every_days}")
        if self.overlap < dt.timedelta(0):
            raise ConfigurationError(f"SOFLI_EXTRACT_OVERLAP_HOURS must be at least 0, not "
                                     f"{self.overlap.total_seconds() / 3600:g}")


class Connections:
    """Airflow connections, looked up when first asked for and remembered.

    With the process environment, through Airflow (`AIRFLOW_CONN_<ID>` or the secrets
    backend); with an explicit mapping (tests), only its `AIRFLOW_CONN_<ID>` entries."""

    def __init__(self, environ: Mapping[str, str] | None = None):
        self._environ = environ
        self._cache: dict[str, Any] = {}

    def get(self, conn_id: str):
        if conn_id not in self._cache:
            self._cache[conn_id] = self._lookup(conn_id)
        return self._cache[conn_id]

    def _lookup(self, conn_id: str):
        environ = os.environ if self._environ is None else self._environ
        env = environ.get(f"AIRFLOW_CONN_{conn_id.upper()}")
        if self._environ is not None:
            return _parse_env_connection(env, conn_id) if env else None
        if env is None and not environ.get("AIRFLOW_HOME"):
            return None  # no Airflow here: nothing to ask
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
        return _parse_env_connection(env, conn_id)

    def location(self, conn_id: str) -> str | None:
        """A location from a connection: extra `url`/`path`, an `odbc` connection, or its URI."""
        conn = self.get(conn_id)
        if conn is None:
            return None
        extra = getattr(conn, "extra_dejson", {}) or {}
        if getattr(conn, "conn_type", None) == "odbc" and not extra.get("url"):
            try:
                return location_from_connection(conn)  # a DSN-less `odbc:` connection string
            except ValueError as exc:
                raise ConfigurationError(f"the Airflow connection {conn_id!r}: {exc}") from None
        return extra.get("url") or extra.get("path") or getattr(conn, "uri", None)

    def secret(self, conn_id: str) -> str | None:
        conn = self.get(conn_id)
        return getattr(conn, "password", None) if conn is not None else None


def _parse_env_connection(env: str, conn_id: str):
    class _Conn:  # minimal stand-in when Airflow's lookup is unavailable
        def __init__(self, data: dict):
            extra = data.get("extra", {}) or {}
            self.extra_dejson = json.loads(extra) if isinstance(extra, str) else extra
            self.password = data.get("password")
            self.uri = data.get("uri")
            self.conn_type = data.get("conn_type")
            self.host, self.port, self.schema, self.login = (data.get(k) for k in ("host", "port", "schema", "login"))
    if env.strip().startswith("{"):
        try:
            return _Conn(json.loads(env))
        except json.JSONDecodeError as exc:
            raise ConfigurationError(f"AIRFLOW_CONN_{conn_id.upper()} is not valid JSON ({exc.msg}): give the "
                                     "connection as JSON or as a URI") from None
    return _Conn({"uri": env})


@dataclass(frozen=True)
class Settings:
    """What a task needs to know, resolved once. Construct it directly in tests (explicit
    values, no connections); a run gets it from `Settings.resolve()`."""

    data_dir: Path
    reference_dir: Path = REPO_ROOT / "reference"
    mode: str = "production"  # or "demo" (the demo's folder only)
    #: "historical": a figure uses the organisation valid on its period's end (default);
    #: "current": every period is restated on today's structure.
    org_structure: str = "historical"
    extract: ExtractPolicy = ExtractPolicy()
    odbc_fetch: str = "arrow"
    kpi_workers: int | None = None  # None: one per usable core
    suppression_threshold: int = DEFAULT_SUPPRESSION_THRESHOLD
    #: Org levels with breakdowns in `public` (the rest publish their totals only).
    public_breakdown_levels: tuple[str, ...] = DEFAULT_PUBLIC_BREAKDOWN_LEVELS
    close_after_days: int = DEFAULT_CLOSE_AFTER_DAYS
    report_signer: str = DEFAULT_REPORT_SIGNER
    monthly_file_due_day: int = DEFAULT_MONTHLY_FILE_DUE_DAY
    retention_days: int = DEFAULT_RETENTION_DAYS
    #: T6.04 særligt dyre enkeltsager: the costliest share of citizens, in percent (10-15).
    expensive_cases_percent: float = DEFAULT_EXPENSIVE_CASES_PERCENT
    dq_rules_path: Path = REPO_ROOT / "config" / "dq_rules.yaml"
    #: The circuit breakers' limits and the sources' owners (`etl.validate.breakers`).
    breakers_path: Path = REPO_ROOT / "config" / "breakers.yaml"
    sql_dir: Path = REPO_ROOT / "sql"
    operations_email: str = DEFAULT_OPERATIONS_EMAIL
    base_url: str = DEFAULT_BASE_URL  # SOFLI_BASE_URL, without a trailing slash
    #: source name -> location given by `SOFLI_SOURCE_<NAME>` (wins over the connection)
    source_locations: Mapping[str, str] = field(default_factory=dict)
    warehouse_location: str | None = None  # SOFLI_WAREHOUSE_URL
    pseudonym_key_text: str | None = field(default=None, repr=False, compare=False)  # SOFLI_PSEUDONYM_KEY
    connections: Connections | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("data_dir", "reference_dir", "dq_rules_path", "breakers_path", "sql_dir"):
            object.__setattr__(self, name, Path(getattr(self, name)))
        object.__setattr__(self, "source_locations", dict(self.source_locations))
        _choice("SOFLI_MODE", self.mode, ("production", "demo"))
        _choice("SOFLI_ORG_STRUCTURE", self.org_structure, ("historical", "current"))
        _choice("SOFLI_ODBC_FETCH", self.odbc_fetch, ("arrow", "rows"))
        _at_least("SOFLI_KPI_WORKERS", self.kpi_workers, 1, "processes")
        _at_least("SOFLI_SUPPRESSION_THRESHOLD", self.suppression_threshold, MINIMUM_SUPPRESSION_THRESHOLD, "")
        object.__setattr__(self, "public_breakdown_levels", tuple(self.public_breakdown_levels))
        unknown = set(self.public_breakdown_levels) - set(PUBLIC_ORG_LEVELS)
        if unknown or "sof" not in self.public_breakdown_levels:
            raise ConfigurationError(f"SOFLI_PUBLIC_BREAKDOWN_LEVELS must name org levels from "
                                     f"{', '.join(PUBLIC_ORG_LEVELS)} including sof, not "
                                     f"{','.join(self.public_breakdown_levels)!r}")
        _at_least("SOFLI_RETENTION_DAYS", self.retention_days, MINIMUM_RETENTION_DAYS, "days")
        if not 1 <= self.monthly_file_due_day <= 28:
            raise ConfigurationError(f"SOFLI_MONTHLY_FILE_DUE_DAY must be a day from 1 to 28, not "
                                     f"{self.monthly_file_due_day}")
        if not 0 <= self.close_after_days <= MAXIMUM_CLOSE_AFTER_DAYS:
            raise ConfigurationError(f"SOFLI_CLOSE_AFTER_DAYS must be between 0 and {MAXIMUM_CLOSE_AFTER_DAYS} "
                                     f"days, not {self.close_after_days}")
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))
        if not re.match(r"^https?://[^\s/?#]+(/[^\s?#]*)?$", self.base_url):
            raise ConfigurationError(f"SOFLI_BASE_URL must be an http(s) address such as https://sofli.kommune.dk, "
                                     f"not {self.base_url!r}")
        if not _EMAIL.match(self.operations_email):
            raise ConfigurationError(f"SOFLI_OPERATIONS_EMAIL must be one e-mail address, not "
                                     f"{self.operations_email!r}")
        if not EXPENSIVE_CASES_RANGE[0] <= self.expensive_cases_percent <= EXPENSIVE_CASES_RANGE[1]:
            raise ConfigurationError(f"{EXPENSIVE_CASES_ENV} must be between {EXPENSIVE_CASES_RANGE[0]:g} and "
                                     f"{EXPENSIVE_CASES_RANGE[1]:g} (percent), not {self.expensive_cases_percent:g}")

    # ---- the one resolver ----------------------------------------------------------------
    @classmethod
    def resolve(cls, environ: Mapping[str, str] | None = None, *, data_dir: Path | str | None = None,
                mode: str | None = None) -> Settings:
        """The run's settings: `environ` (default: the process environment), then Airflow
        connections (looked up when first needed), then the defaults. `data_dir` and `mode`
        are the CLI's (its `--data-dir`, and demo for the demo's folder)."""
        env = os.environ if environ is None else environ
        folder = Path(data_dir if data_dir is not None else env.get("SOFLI_DATA_DIR") or REPO_ROOT / "data")
        folder = folder.expanduser().resolve()
        mode = mode or _text(env, "SOFLI_MODE") or "production"
        if mode == "demo" and not DataFolder(folder).is_demo():
            raise ConfigurationError(
                f"SOFLI_MODE=demo, but {folder} was not created by `sofli demo` (no {DataFolder(folder).demo_marker.name}): "
                "unset SOFLI_MODE (production is the default) and configure the key and sources, or run `sofli demo`")
        sources = _source_locations(env)
        return cls(
            data_dir=folder,
            reference_dir=_path(env, "SOFLI_REFERENCE_DIR", REPO_ROOT / "reference"),
            mode=mode,
            org_structure=_text(env, "SOFLI_ORG_STRUCTURE") or "historical",
            extract=ExtractPolicy(_text(env, "SOFLI_EXTRACT_MODE") or "incremental",
                                  _int(env, "SOFLI_FULL_EXTRACT_EVERY_DAYS", 7),
                                  dt.timedelta(hours=_number(env, "SOFLI_EXTRACT_OVERLAP_HOURS", 48.0))),
            odbc_fetch=_text(env, "SOFLI_ODBC_FETCH") or "arrow",
            kpi_workers=_int(env, "SOFLI_KPI_WORKERS", None),
            suppression_threshold=_int(env, "SOFLI_SUPPRESSION_THRESHOLD", DEFAULT_SUPPRESSION_THRESHOLD),
            public_breakdown_levels=_levels(env, "SOFLI_PUBLIC_BREAKDOWN_LEVELS", DEFAULT_PUBLIC_BREAKDOWN_LEVELS),
            close_after_days=_int(env, "SOFLI_CLOSE_AFTER_DAYS", DEFAULT_CLOSE_AFTER_DAYS),
            report_signer=_text(env, "SOFLI_REPORT_SIGNER") or DEFAULT_REPORT_SIGNER,
            monthly_file_due_day=_int(env, "SOFLI_MONTHLY_FILE_DUE_DAY", DEFAULT_MONTHLY_FILE_DUE_DAY),
            retention_days=_int(env, "SOFLI_RETENTION_DAYS", DEFAULT_RETENTION_DAYS),
            expensive_cases_percent=_number(env, EXPENSIVE_CASES_ENV, DEFAULT_EXPENSIVE_CASES_PERCENT,
                                            decimal_comma=True),
            dq_rules_path=_path(env, "SOFLI_DQ_RULES", REPO_ROOT / "config" / "dq_rules.yaml"),
            breakers_path=_path(env, "SOFLI_BREAKERS", REPO_ROOT / "config" / "breakers.yaml"),
            sql_dir=_path(env, "SOFLI_SQL_DIR", REPO_ROOT / "sql"),
            operations_email=operations_email(env),
            base_url=_text(env, "SOFLI_BASE_URL") or DEFAULT_BASE_URL,
            source_locations=sources,
            warehouse_location=_text(env, "SOFLI_WAREHOUSE_URL"),
            pseudonym_key_text=env.get("SOFLI_PSEUDONYM_KEY") or None,
            connections=Connections(environ),
        )

    def kpi_params(self) -> dict[str, dict]:
        """The KPIs' own settings from this configuration (`etl.kpi.compute_kpis(params=...)`)."""
        return {"T6.04": {"percent": self.expensive_cases_percent}}

    # ---- the data folder -----------------------------------------------------------------
    @property
    def zones(self) -> DataFolder:
        """The data folder's layout (etl.core.zones): every path under it comes from there."""
        return DataFolder(self.data_dir)

    # Shorthands for the zones every stage is handed.
    @property
    def sources_dir(self) -> Path:
        return self.zones.sources

    @property
    def landing_dir(self) -> Path:
        return self.zones.landing

    @property
    def staged_dir(self) -> Path:
        return self.zones.staged

    @property
    def quarantine_dir(self) -> Path:
        return self.zones.quarantine

    @property
    def model_dir(self) -> Path:
        return self.zones.model

    @property
    def mail_dir(self) -> Path:
        return self.zones.mail

    # ---- locations and secrets -----------------------------------------------------------
    def source_location(self, source) -> str:
        """A SQLAlchemy URL (database sources) or a folder (file sources).

        `SOFLI_SOURCE_<NAME>` wins; then the Airflow connection `sofli_src_<name>`
        (extra `url` / `path`, a URI, or conn_type `odbc`: a DSN-less `odbc:` connection
        string, see `etl.extract.odbc`); then the embedded default in the data folder.
        """
        value = self.source_locations.get(source.name) or self._connection_location(source.conn_id)
        if value:
            return value
        if source.kind == "database":
            return f"sqlite:///{self.zones.source_db(source.name)}"
        return str(self.zones.drop)

    def warehouse_url(self) -> str:
        """`SOFLI_WAREHOUSE_URL`, else the connection `sofli_warehouse`, else the embedded SQLite."""
        return (self.warehouse_location or self._connection_location(WAREHOUSE_CONN_ID)
                or self.zones.default_warehouse_url())

    def pseudonym_key(self) -> bytes:
        """The HMAC key: `SOFLI_PSEUDONYM_KEY` or the connection's password, checked for
        strength; the documented dummy only in demo mode."""
        key = self.pseudonym_key_text or (self.connections.secret(PSEUDONYM_CONN_ID) if self.connections else None)
        if not key:
            if self.mode == "demo":
                return DEMO_PSEUDONYM_KEY.encode()
            raise ConfigurationError(
                "no pseudonymisation key: set the Airflow connection "
                f"{PSEUDONYM_CONN_ID!r} (password) or SOFLI_PSEUDONYM_KEY")
        check_pseudonym_key(key, self.mode, "SOFLI_PSEUDONYM_KEY (or the connection sofli_pseudonym_key)")
        return key.encode()

    def _connection_location(self, conn_id: str) -> str | None:
        return self.connections.location(conn_id) if self.connections else None


# ---- the pseudonymisation key ------------------------------------------------------------

def normalised_key(key: str) -> str:
    """A key as compared with the demo key and the placeholders: stripped, case-folded,
    without spaces, dashes, underscores and dots."""
    return re.sub(r"[\s\-_.]", "", key.strip().casefold())


def check_pseudonym_key(key: str, mode: str, where: str = "SOFLI_PSEUDONYM_KEY") -> None:
    """Refuse a key that is the demo key (in any case, with spaces) outside demo mode, or
    that is weak: shorter than 16 characters, fewer than 8 distinct, or a placeholder."""
    fix = ("generate one, e.g. `python -c \"import secrets; print(secrets.token_urlsafe(32))\"`, and set it "
           f"in {where}")
    stripped, normal = key.strip(), normalised_key(key)
    demo = normalised_key(DEMO_PSEUDONYM_KEY)
    if demo in normal:
        if mode == "demo" and normal == demo:
            return
        raise ConfigurationError(f"{where}: the documented demo pseudonymisation key is refused outside demo "
                                 f"mode; {fix}")
    if len(stripped) < MIN_KEY_LENGTH:
        raise ConfigurationError(f"{where}: the pseudonymisation key must be at least {MIN_KEY_LENGTH} characters "
                                 f"(it has {len(stripped)}); {fix}")
    if len(set(stripped.casefold())) < MIN_KEY_DISTINCT:
        raise ConfigurationError(f"{where}: the pseudonymisation key must have at least {MIN_KEY_DISTINCT} distinct "
                                 f"characters (a repeated pattern is guessable); {fix}")
    if normal.startswith(PLACEHOLDER_KEYS):
        raise ConfigurationError(f"{where}: the pseudonymisation key is a placeholder from an example; {fix}")


def resolve_new_pseudonym_key(environ: Mapping[str, str] | None = None) -> bytes:
    """`sofli rekey`'s new key (`SOFLI_NEW_PSEUDONYM_KEY`); empty when unset (rekey refuses)."""
    env = os.environ if environ is None else environ
    return (env.get(NEW_PSEUDONYM_KEY_ENV) or "").encode()


@dataclass(frozen=True)
class WarehouseAdmin:
    """`sofli warehouse-init`'s inputs: never part of the pipeline's settings."""

    admin_url: str | None
    passwords: Mapping[str, str] = field(repr=False)  # variable -> password, only those set
    sql_dir: Path = REPO_ROOT / "sql"


def resolve_warehouse_admin(environ: Mapping[str, str] | None = None) -> WarehouseAdmin:
    env = os.environ if environ is None else environ
    passwords = {v: env[v] for v in WAREHOUSE_LOGIN_PASSWORD_ENV.values() if env.get(v)}
    return WarehouseAdmin(_text(env, WAREHOUSE_ADMIN_URL_ENV), passwords,
                          _path(env, "SOFLI_SQL_DIR", REPO_ROOT / "sql"))


def operations_email(environ: Mapping[str, str] | None = None) -> str:
    """Who hears about failed tasks and late nights (`SOFLI_OPERATIONS_EMAIL`). Read when a
    notifier is built, so a DAG file imports without reading anything else."""
    env = os.environ if environ is None else environ
    value = _text(env, "SOFLI_OPERATIONS_EMAIL") or DEFAULT_OPERATIONS_EMAIL
    if not _EMAIL.match(value):
        raise ConfigurationError(f"SOFLI_OPERATIONS_EMAIL must be one e-mail address, not {value!r}")
    return value


# ---- parsing helpers ---------------------------------------------------------------------

def _text(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    return value.strip() or None if value is not None else None


def _path(env: Mapping[str, str], name: str, default: Path) -> Path:
    value = _text(env, name)
    return Path(value).expanduser().resolve() if value else default


def _int(env: Mapping[str, str], name: str, default: int | None) -> int | None:
    value = _text(env, name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ConfigurationError(f"{name} must be a whole number, not {value!r}: fix it or unset it "
                                 f"(default {default if default is not None else 'automatic'})") from None


def _number(env: Mapping[str, str], name: str, default: float, *, decimal_comma: bool = False) -> float:
    value = _text(env, name)
    if value is None:
        return default
    try:
        return float(value.replace(",", ".") if decimal_comma else value)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number, not {value!r}: fix it or unset it "
                                 f"(default {default:g})") from None


def _levels(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """A comma-separated list of org levels (checked by `Settings`), in the hierarchy's order."""
    text = _text(env, name)
    if not text:
        return default
    named = {part.strip().lower() for part in text.split(",") if part.strip()}
    return tuple(level for level in PUBLIC_ORG_LEVELS if level in named) + tuple(sorted(named - set(PUBLIC_ORG_LEVELS)))


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigurationError(f"{name} must be {' or '.join(allowed)}, not {value!r}")


def _at_least(name: str, value: int | None, minimum: int, unit: str) -> None:
    if value is not None and value < minimum:
        raise ConfigurationError(f"{name} must be at least {minimum}{' ' + unit if unit else ''}, not {value}")


def _source_locations(env: Mapping[str, str]) -> dict[str, str]:
    """`SOFLI_SOURCE_<NAME>` variables, each naming a registered source."""
    from etl.sources import SOURCES  # noqa: PLC0415 - etl.sources.sql imports this module

    found = {}
    for name in sorted(k for k in env if k.startswith(SOURCE_ENV_PREFIX)):
        value = _text(env, name)
        source = name[len(SOURCE_ENV_PREFIX):].lower()
        if source not in SOURCES:
            raise ConfigurationError(f"{name} names no registered source (sources: {', '.join(SOURCES)}): "
                                     "fix the name or unset it")
        if value:
            found[source] = value
    return found



# --- the night's clock (read when the DAG files are parsed) ---------------------------

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
        if len(text.split()) != 5 or not croniter.is_valid(text):
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
      SOFLI_DAYTIME_REFRESH          the optional daytime refresh (`refresh_daytime`); default off
    A clock is a cron expression, `at:<ISO time>,<ISO time>` or `off`.
    """

    extract: dict[str, Clock]
    cutoff: Clock
    housekeeping: Clock
    close_quarter: Clock
    deadlines: dict[str, dt.timedelta]
    retries: int = 2
    retry_delay: dt.timedelta = dt.timedelta(minutes=2)
    refresh_daytime: Clock = field(default_factory=Clock)

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
        retries = env.get("SOFLI_TASK_RETRIES", DEFAULT_TASK_RETRIES).strip()
        if not retries.isdigit():
            raise ConfigurationError(f"SOFLI_TASK_RETRIES must be a whole number >= 0, not {retries!r}")
        return cls(extract, clock("SOFLI_NIGHT_CUTOFF", DEFAULT_NIGHT_CUTOFF),
                   clock("SOFLI_HOUSEKEEPING_SCHEDULE", DEFAULT_HOUSEKEEPING_SCHEDULE),
                   clock("SOFLI_CLOSE_QUARTER_SCHEDULE", DEFAULT_CLOSE_QUARTER_SCHEDULE), deadlines, int(retries),
                   parse_duration(env.get("SOFLI_TASK_RETRY_DELAY", DEFAULT_TASK_RETRY_DELAY), "SOFLI_TASK_RETRY_DELAY"),
                   clock(DAYTIME_REFRESH_ENV, "off"))
