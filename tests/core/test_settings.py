import pytest

from etl.core.settings import DEMO_PSEUDONYM_KEY, ConfigurationError, Settings
from etl.sources import get_source


def settings(tmp_path, mode):
    return Settings(tmp_path, tmp_path / "reference", mode)


def test_missing_key_refuses_to_start_outside_demo(tmp_path):
    with pytest.raises(ConfigurationError, match="no pseudonymisation key"):
        settings(tmp_path, "production").pseudonym_key()


def test_demo_key_refused_outside_demo_and_used_in_demo(tmp_path, monkeypatch):
    assert settings(tmp_path, "demo").pseudonym_key() == DEMO_PSEUDONYM_KEY.encode()
    monkeypatch.setenv("SOFLI_PSEUDONYM_KEY", DEMO_PSEUDONYM_KEY)
    with pytest.raises(ConfigurationError, match="refused outside demo"):
        settings(tmp_path, "production").pseudonym_key()


def test_key_from_environment_or_airflow_connection(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SOFLI_PSEUDONYM_KEY", '{"conn_type": "generic", "password": "a-real-secret-of-some-length"}')
    assert settings(tmp_path, "production").pseudonym_key() == b"a-real-secret-of-some-length"
    monkeypatch.setenv("SOFLI_PSEUDONYM_KEY", "short")
    with pytest.raises(ConfigurationError, match="at least 16"):
        settings(tmp_path, "production").pseudonym_key()


def test_source_locations_default_override_and_connection(tmp_path, monkeypatch):
    boern, cpr = get_source("boern"), get_source("cpr")
    s = settings(tmp_path, "demo")
    assert s.source_location(boern) == f"sqlite:///{tmp_path}/sources/boern.db"
    assert s.source_location(cpr) == f"{tmp_path}/sources/drop"
    monkeypatch.setenv("AIRFLOW_CONN_SOFLI_SRC_BOERN", '{"conn_type": "generic", "extra": {"url": "sqlite:////x/b.db"}}')
    assert s.source_location(boern) == "sqlite:////x/b.db"
    monkeypatch.setenv("SOFLI_SOURCE_BOERN", "postgresql://u@h/boern")
    assert s.source_location(boern) == "postgresql://u@h/boern"


def test_expensive_cases_percent_default_environment_and_range(tmp_path, monkeypatch):
    monkeypatch.setenv("SOFLI_DATA_DIR", str(tmp_path))
    assert Settings.from_env().expensive_cases_percent == 10
    assert Settings.from_env().kpi_params() == {"T6.04": {"percent": 10}}
    monkeypatch.setenv("SOFLI_EXPENSIVE_CASES_PERCENT", "12,5")
    assert Settings.from_env().kpi_params() == {"T6.04": {"percent": 12.5}}
    monkeypatch.setenv("SOFLI_EXPENSIVE_CASES_PERCENT", "15")
    assert Settings.from_env().expensive_cases_percent == 15
    for bad in ("9.9", "15.5", "ti"):
        monkeypatch.setenv("SOFLI_EXPENSIVE_CASES_PERCENT", bad)
        with pytest.raises(ConfigurationError, match="SOFLI_EXPENSIVE_CASES_PERCENT"):
            Settings.from_env()
