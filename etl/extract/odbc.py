"""Sources reached straight through ODBC (pyodbc + unixODBC), with DSN-less connection strings.

A location `odbc:DRIVER={...};SERVER=...;...` is opened with pyodbc. It is built from an
Airflow connection of type `odbc` (host, port, schema = database, login, password, extra
`driver` and further ODBC keywords), so no DSN file and no password in the repo. Production
SQL Server replicas use `mssql+pyodbc` URLs with Microsoft's ODBC Driver 18 through
SQLAlchemy, or this path with `driver: ODBC Driver 18 for SQL Server`; tests use the
PostgreSQL driver (psqlODBC) against a throwaway cluster.

psqlODBC reads a whole result into memory unless `UseDeclareFetch=1`, so that keyword is
set for it: rows then come from a server-side cursor `Fetch` rows at a time.
"""

from __future__ import annotations

import contextlib
import re

PREFIX = "odbc:"
POSTGRES_DRIVERS = ("PostgreSQL Unicode", "PostgreSQL ANSI")
_STREAMING = {"UseDeclareFetch": "1", "Fetch": "10000"}
_PARAM = re.compile(r":([A-Za-z_]\w*)")

try:  # pyodbc needs unixODBC's libodbc; importing fails loudly only when ODBC is used
    import pyodbc
    Error = pyodbc.Error
except ImportError:  # pragma: no cover - the setup script installs unixodbc
    pyodbc = None

    class Error(Exception):  # type: ignore[no-redef]
        """Stands in for pyodbc.Error when pyodbc cannot load."""


def is_odbc(location: str) -> bool:
    return location.startswith(PREFIX)


def _braced(value: str) -> str:
    """An ODBC attribute value, braced when it holds characters with a meaning in the string."""
    if any(c in value for c in ";{}=") or value != value.strip():
        return "{" + value.replace("}", "}}") + "}"
    return value


def connection_string(driver: str, host: str, port: int | None, database: str, user: str | None = None,
                      password: str | None = None, **options: str) -> str:
    """A DSN-less ODBC connection string (without the `odbc:` prefix)."""
    parts = {"DRIVER": "{" + driver + "}", "SERVER": _braced(host)}
    if port:
        parts["PORT"] = str(port)
    parts["DATABASE"] = _braced(database)
    if user:
        parts["UID"] = _braced(user)
    if password:
        parts["PWD"] = _braced(password)
    if driver in POSTGRES_DRIVERS:
        parts.update({k: v for k, v in _STREAMING.items() if k not in options})
    parts.update({k: _braced(str(v)) for k, v in options.items()})
    return ";".join(f"{k}={v}" for k, v in parts.items())


def location_from_connection(conn) -> str:
    """`odbc:...` from an Airflow connection of type odbc (driver and options in extra)."""
    extra = dict(getattr(conn, "extra_dejson", None) or {})
    driver = extra.pop("driver", None) or extra.pop("Driver", None)
    if not driver:
        raise ValueError("an odbc connection needs extra.driver, e.g. 'ODBC Driver 18 for SQL Server'")
    extra.pop("url", None)
    return PREFIX + connection_string(driver, conn.host, conn.port, conn.schema, conn.login, conn.password,
                                      **{str(k): str(v) for k, v in extra.items()})


@contextlib.contextmanager
def connect(location: str):
    """A read-only-intent pyodbc connection for `odbc:` location, closed afterwards."""
    if pyodbc is None:  # pragma: no cover
        raise RuntimeError("pyodbc cannot load: install unixodbc (apt-get install unixodbc)")
    conn = pyodbc.connect(location[len(PREFIX):], autocommit=False, readonly=True, timeout=30)
    try:
        yield conn
    finally:
        conn.rollback()
        conn.close()


def qmark(sql: str, params: dict) -> tuple:
    """`:name` bind parameters as ODBC's `?`, with the values in order; comments dropped."""
    text = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    names = _PARAM.findall(text)
    missing = [n for n in names if n not in params]
    if missing:
        raise ValueError(f"no value for bind parameter(s) {missing}")
    return (_PARAM.sub("?", text), *[params[n] for n in names])


def column_names(cursor, sql: str) -> list[str]:
    """The columns a query returns (run with `WHERE 1 = 0`: no rows read)."""
    try:
        cursor.execute(sql)
    except Error:
        cursor.connection.rollback()
        return []
    names = [d[0] for d in cursor.description]
    cursor.fetchall()
    return names
