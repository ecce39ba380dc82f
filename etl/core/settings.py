"""Where things are: data folder, source locations, reference data, warehouse, secrets.

Everything is configuration, resolved in this order: an explicit argument, an
environment variable, an Airflow connection (in a real deployment), the embedded default
under the data folder. Secrets never have defaults outside demo mode.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

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
        return cls(data_dir, reference_dir, mode, org_structure, percent)

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
        if env is None:
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
        from etl.extract.odbc import location_from_connection  # noqa: PLC0415
        return location_from_connection(conn)  # a DSN-less `odbc:` connection string
    return extra.get("url") or extra.get("path") or getattr(conn, "uri", None)


def _airflow_connection_secret(conn_id: str) -> str | None:
    conn = _airflow_connection(conn_id)
    return getattr(conn, "password", None) if conn is not None else None
