import datetime as dt

import pytest

from etl.core.settings import DEMO_PSEUDONYM_KEY, ConfigurationError, NightSchedule, Settings
from etl.sources import SOURCES, get_source


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


# --- the night's clock --------------------------------------------------------------------

def test_the_night_s_clock_defaults_to_production():

    night = NightSchedule.from_env({})
    assert {name: clock.cron for name, clock in night.extract.items()} == {n: s.schedule for n, s in SOURCES.items()}
    assert night.extract["boern"].cron == "0 1 * * *" and night.extract["beskaeftigelse"].cron == "30 2 * * *"
    assert night.cutoff.cron == "0 5 * * *"
    assert (night.housekeeping.cron, night.close_quarter.cron) == ("30 5 * * *", "0 6 * * *")
    assert night.deadlines == {"extract": dt.timedelta(hours=3), "build_model": dt.timedelta(hours=2),
                               "publish_kpis": dt.timedelta(hours=2), "data_quality": dt.timedelta(hours=1)}
    assert (night.retries, night.retry_delay) == (2, dt.timedelta(minutes=2))


def test_the_night_s_clock_from_the_environment():

    night = NightSchedule.from_env({
        "SOFLI_EXTRACT_SCHEDULE": "*/5 * * * *", "SOFLI_EXTRACT_SCHEDULE_KLAGE": "off",
        "SOFLI_NIGHT_CUTOFF": "at:2026-03-10T05:00:00+01:00, 2026-03-09T05:00:00+01:00",
        "SOFLI_NIGHT_DEADLINES": "data_quality=90s, extract=20m", "SOFLI_TASK_RETRIES": "0",
        "SOFLI_TASK_RETRY_DELAY": "30s"})
    assert night.extract["boern"].cron == "*/5 * * * *" and not night.extract["klage"].runs
    assert [m.isoformat() for m in night.cutoff.at] == ["2026-03-09T05:00:00+01:00", "2026-03-10T05:00:00+01:00"]
    assert night.deadlines["data_quality"] == dt.timedelta(seconds=90)
    assert night.deadlines["extract"] == dt.timedelta(minutes=20)
    assert night.deadlines["build_model"] == dt.timedelta(hours=2)  # the rest keep their default
    assert (night.retries, night.retry_delay) == (0, dt.timedelta(seconds=30))
    off = NightSchedule.from_env({"SOFLI_SCHEDULES": "off", "SOFLI_NIGHT_CUTOFF": "0 4 * * *"})
    assert not any(c.runs for c in (*off.extract.values(), off.cutoff, off.housekeeping, off.close_quarter))


@pytest.mark.parametrize(("name", "value", "message"), [
    ("SOFLI_NIGHT_CUTOFF", "5 o'clock", "SOFLI_NIGHT_CUTOFF: \"5 o'clock\" is not a 5-field cron expression"),
    ("SOFLI_NIGHT_CUTOFF", "at:2026-03-10T05:00:00", "SOFLI_NIGHT_CUTOFF: `at:` needs ISO times with a UTC offset"),
    ("SOFLI_NIGHT_DEADLINES", "gate=1h", "SOFLI_NIGHT_DEADLINES: unknown stage 'gate'"),
    ("SOFLI_NIGHT_DEADLINES", "extract=soon", "SOFLI_NIGHT_DEADLINES: 'soon' is not a duration"),
    ("SOFLI_TASK_RETRIES", "-1", "SOFLI_TASK_RETRIES must be a whole number >= 0"),
    ("SOFLI_SCHEDULES", "sometimes", "SOFLI_SCHEDULES must be on or off"),
])
def test_a_wrong_clock_setting_names_the_variable(name, value, message):
    with pytest.raises(ConfigurationError) as error:
        NightSchedule.from_env({name: value})
    assert message in str(error.value)


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
