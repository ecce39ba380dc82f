"""etl/extract/odbc.py: connection strings and bind parameters (reading a real server through
ODBC is tests/extract/test_land.py; the whole chain through ODBC tests/integration/test_odbc_sources.py)."""

import datetime as dt
import json

import pytest

from etl.core.settings import Settings
from etl.extract import odbc
from etl.sources import SOURCES


def test_dsn_less_strings_brace_what_needs_it_and_stream_from_psqlodbc():
    text = odbc.connection_string("ODBC Driver 18 for SQL Server", "replica.kommune.dk", 1433, "Boern",
                                  "svc_sofli", "dummy;pass}", Encrypt="yes")
    assert text == ("DRIVER={ODBC Driver 18 for SQL Server};SERVER=replica.kommune.dk;PORT=1433;DATABASE=Boern;"
                    "UID=svc_sofli;PWD={dummy;pass}}};Encrypt=yes")
    pg = odbc.connection_string("PostgreSQL Unicode", "127.0.0.1", 5432, "boern")
    assert pg.endswith(";UseDeclareFetch=1;Fetch=10000")


def test_an_airflow_odbc_connection_is_a_source_location(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SOFLI_SRC_KLAGE", json.dumps({
        "conn_type": "odbc", "host": "db", "port": 1433, "schema": "Klage", "login": "u", "password": "dummy",
        "extra": {"driver": "ODBC Driver 18 for SQL Server", "TrustServerCertificate": "yes"}}))
    location = Settings.resolve(data_dir=tmp_path).source_location(SOURCES["klage"])  # through Airflow's lookup
    assert location == ("odbc:DRIVER={ODBC Driver 18 for SQL Server};SERVER=db;PORT=1433;DATABASE=Klage;UID=u;"
                        "PWD=dummy;TrustServerCertificate=yes")


def test_named_parameters_become_qmarks_in_order_and_comments_go():
    since, until = dt.datetime(2025, 11, 13), dt.datetime(2025, 11, 17)
    sql = '-- window [since, until)\nSELECT "a" FROM "t"\nWHERE "u" >= :since AND "u" < :until\n'
    assert odbc.qmark(sql, {"until": until, "since": since}) == (
        'SELECT "a" FROM "t"\nWHERE "u" >= ? AND "u" < ?', since, until)
    with pytest.raises(ValueError, match="until"):
        odbc.qmark(sql, {"since": since})
