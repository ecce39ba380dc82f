"""`sofli run --check`: is the configuration good enough for a night, and what would it read?

Every source reachable with every contract table and column present (a database probed with
`SELECT * … WHERE 1 = 0`, read-only; a drop folder's files and their header lines), the
reference data loadable, the pseudonymisation key set and acceptable, the data-quality rules
valid, the warehouse reachable, an SMTP connection for the alert e-mails. Nothing is written:
no landing, no warehouse table, not even an empty SQLite file. Passwords never reach the output.
`sofli run` runs the same checks before it starts and refuses a night that cannot succeed.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from etl.core.settings import SMTP_CONN_ID, ConfigurationError, Settings
from etl.extract import odbc
from etl.extract.incremental import plan_extract
from etl.extract.land import drop_file_digests, expected_files
from etl.core.reference import ReferenceDataError, load_reference
from etl.quality.config import load_rules_config
from etl.sources import SOURCES
from etl.sources.base import Source


@dataclass
class Finding:
    """One line of the check: what was checked, whether it is usable, and what it found."""

    what: str
    ok: bool
    detail: str
    lines: list[str] = field(default_factory=list)  # what would be read, one line per table


def masked(location: str) -> str:
    """A location as it may be printed: the password of a URL or ODBC string replaced by ***."""
    if odbc.is_odbc(location):
        return re.sub(r"(?i)(PWD=)(\{(?:[^}]|\}\})*\}|[^;]*)", r"\1***", location)
    if "://" in location:
        try:
            return sa.engine.make_url(location).render_as_string(hide_password=True)
        except sa.exc.ArgumentError:
            return re.sub(r"//([^:/@]+):[^@]+@", r"//\1:***@", location)
    return location


def _read_only_url(location: str) -> str | None:
    """A SQLite URL opened read-only (a missing file stays missing); None for other databases."""
    url = sa.engine.make_url(location)
    if url.get_backend_name() != "sqlite" or not url.database:
        return None
    return f"sqlite:///file:{url.database}?mode=ro&uri=true"


def database_columns(location: str, tables: list[str]) -> dict[str, list[str] | None]:
    """Each table's column names (None: the table is not there), read without reading rows."""
    found: dict[str, list[str] | None] = {}
    if odbc.is_odbc(location):
        with odbc.connect(location) as conn:
            cursor = conn.cursor()
            for table in tables:
                found[table] = odbc.column_names(cursor, f'SELECT * FROM "{table}" WHERE 1 = 0') or None
        return found
    sqlite = _read_only_url(location)
    if sqlite and not Path(sa.engine.make_url(location).database).exists():
        raise FileNotFoundError(f"no database file {sa.engine.make_url(location).database}")
    engine = sa.create_engine(sqlite or location)
    try:
        with engine.connect() as conn:
            for table in tables:
                try:
                    found[table] = list(conn.exec_driver_sql(f'SELECT * FROM "{table}" WHERE 1 = 0').keys())
                except sa.exc.DBAPIError:
                    conn.rollback()
                    found[table] = None
    finally:
        engine.dispose()
    return found


def _plan_line(settings: Settings, source: Source, table, extract_date: dt.date, drop_files=None) -> str:
    plan = plan_extract(source.name, source.kind, table, settings.staged_dir, extract_date, settings.extract,
                        drop_files=drop_files)
    window = f" changes in [{plan.since}, {plan.until})" if plan.since else ""
    return f"{table.name}: {plan.mode} ({plan.reason}){window}"


def check_source(settings: Settings, source: Source, extract_date: dt.date) -> Finding:
    what = f"source {source.name}"
    try:
        location = settings.source_location(source)
    except Exception as exc:  # noqa: BLE001 - a broken connection definition is a finding
        return Finding(what, False, f"no usable location: {exc}")
    if source.kind == "database":
        return _check_database(settings, source, location, extract_date)
    return _check_files(settings, source, Path(location), extract_date)


def _check_database(settings: Settings, source: Source, location: str, extract_date: dt.date) -> Finding:
    what, shown = f"source {source.name}", masked(location)
    try:
        found = database_columns(location, [t.name for t in source.tables])
    except Exception as exc:  # noqa: BLE001 - any driver's connect error is the finding
        return Finding(what, False, f"{shown}: cannot connect: {_first_line(exc)}")
    problems, lines = [], []
    for table in source.tables:
        columns = found.get(table.name)
        if columns is None:
            problems.append(f"table {table.name} is missing")
            continue
        missing = [c for c in table.column_names if c not in columns]
        if missing:
            problems.append(f"{table.name}: missing contract column(s) {', '.join(missing)}")
            continue
        lines.append(_plan_line(settings, source, table, extract_date))
    if problems:
        return Finding(what, False, f"{shown}: " + "; ".join(problems), lines)
    return Finding(what, True, f"{shown}: {len(source.tables)} table(s), every contract column present", lines)


def _check_files(settings: Settings, source: Source, folder: Path, extract_date: dt.date) -> Finding:
    what = f"source {source.name}"
    if not folder.is_dir():
        return Finding(what, False, f"drop folder {folder} does not exist")
    problems, lines = [], []
    for table in source.tables:
        files = expected_files(table, folder, extract_date)
        present = [f for f in files if f.exists()]
        if not present:
            problems.append(f"{table.name}: no file {table.file_pattern.format(date=extract_date)} for {extract_date}"
                            if "%d" in (table.file_pattern or "") else f"{table.name}: no file in the folder")
            continue
        for path in present:
            with path.open(encoding=table.encoding, errors="replace") as handle:
                header = handle.readline().lstrip("\ufeff").rstrip("\r\n").split(table.delimiter)
            missing = [c for c in table.column_names if c not in header]
            if missing:
                problems.append(f"{path.name}: missing contract column(s) {', '.join(missing)}")
        lines.append(f"{_plan_line(settings, source, table, extract_date, drop_file_digests(table, folder, extract_date))}"
                     f" from {len(present)} file(s), newest {present[-1].name}")
    if problems:
        return Finding(what, False, f"{folder}: " + "; ".join(problems), lines)
    return Finding(what, True, f"{folder}: {len(source.tables)} table(s), files and headers as the contract says", lines)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


def check_key(settings: Settings) -> Finding:
    try:
        key = settings.pseudonym_key()
    except Exception as exc:  # noqa: BLE001 - ConfigurationError and its kin
        return Finding("pseudonymisation key", False, str(exc))
    return Finding("pseudonymisation key", True, f"set ({len(key)} characters, mode {settings.mode})")


def check_reference(settings: Settings) -> Finding:
    try:
        reference = load_reference(settings.reference_dir)
    except ReferenceDataError as exc:  # every problem, as `sofli check-reference` prints them
        return Finding("reference data", False, f"{settings.reference_dir}: " + "; ".join(map(str, exc.problems)))
    except Exception as exc:  # noqa: BLE001
        return Finding("reference data", False, f"{settings.reference_dir}: {_first_line(exc)}")
    counts = ", ".join(f"{len(frame)} {name}" for name, frame in reference.items())
    return Finding("reference data", True, f"{settings.reference_dir}: {counts}")


def check_rules(settings: Settings) -> Finding:
    try:
        rules = load_rules_config(settings.dq_rules_path)
    except Exception as exc:  # noqa: BLE001
        return Finding("data-quality rules", False, str(exc))
    return Finding("data-quality rules", True, f"{settings.dq_rules_path}: {len(rules)} rules")


def check_warehouse(settings: Settings) -> Finding:
    location = settings.warehouse_url()
    sqlite = _read_only_url(location)
    if sqlite:
        path = Path(sa.engine.make_url(location).database)
        if not path.exists():
            return Finding("warehouse", True, f"{location}: created by the first night")
    engine = sa.create_engine(sqlite or location)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except Exception as exc:  # noqa: BLE001
        return Finding("warehouse", False, f"{masked(location)}: cannot connect: {_first_line(exc)}")
    finally:
        engine.dispose()
    return Finding("warehouse", True, f"{masked(location)}: reachable")


def check_smtp(settings: Settings, mail_dir: Path | None = None) -> Finding:
    if mail_dir is not None:
        return Finding("alert e-mail", True, f"kept in {mail_dir} (an SMTP server in the sofli process)")
    try:
        conn = settings.connections.get(SMTP_CONN_ID) if settings.connections else None
    except ConfigurationError as exc:
        return Finding("alert e-mail", False, str(exc))
    if conn is None or not getattr(conn, "host", None):
        return Finding("alert e-mail", False, f"no Airflow connection {SMTP_CONN_ID!r}: alert e-mails could not be "
                                              "sent (set AIRFLOW_CONN_SMTP_DEFAULT, or --mail-dir DIR)")
    return Finding("alert e-mail", True, f"{SMTP_CONN_ID}: {conn.host}:{conn.port or 25}")


def check_configuration(settings: Settings, extract_date: dt.date, mail_dir: Path | None = None) -> list[Finding]:
    """Every check, in the order a night needs them."""
    return [check_key(settings), check_reference(settings), check_rules(settings), check_warehouse(settings),
            check_smtp(settings, mail_dir), *(check_source(settings, source, extract_date) for source in SOURCES.values())]


def format_findings(findings: list[Finding]) -> str:
    out = []
    for finding in findings:
        out.append(f"  {'ok  ' if finding.ok else 'FAIL'}  {finding.what:<22} {finding.detail}")
        out += [f"          {line}" for line in finding.lines]
    return "\n".join(out)
