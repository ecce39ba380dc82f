"""The one settings object: resolved once from the environment, connections and defaults;
production by default; every refusal a ConfigurationError naming the variable and the fix.
The night's clock (`NightSchedule`), read when the DAG files are parsed, is tested here too."""

import dataclasses
import datetime as dt
import json

import pytest

from etl.core.settings import (
    DEMO_PSEUDONYM_KEY,
    OPTIONS,
    REPO_ROOT,
    ConfigurationError,
    ExtractPolicy,
    NightSchedule,
    Settings,
    check_pseudonym_key,
    operations_email,
    resolve_warehouse_admin,
)
from etl.core.zones import DataFolder
from etl.sources import SOURCES, get_source

STRONG = "k9#Qz!v7Lm2pX4wR8tY"
SHORT, NOT_JSON = "short", "{not json"


def settings(tmp_path, mode, **values):
    return Settings(tmp_path, tmp_path / "reference", mode, **values)


def demo_folder(tmp_path):
    DataFolder(tmp_path).mark_demo({"profile": "demo"})
    return tmp_path


# --- one default mode -----------------------------------------------------------------

def test_the_default_mode_is_production_everywhere(tmp_path):
    assert Settings(tmp_path).mode == "production"
    assert Settings.resolve({"SOFLI_DATA_DIR": str(tmp_path)}).mode == "production"


def test_demo_mode_only_on_a_folder_the_demo_created(tmp_path):
    with pytest.raises(ConfigurationError, match=r"SOFLI_MODE=demo.*not created by `sofli demo`.*unset SOFLI_MODE"):
        Settings.resolve({"SOFLI_DATA_DIR": str(tmp_path), "SOFLI_MODE": "demo"})
    demo_folder(tmp_path)
    assert Settings.resolve({"SOFLI_DATA_DIR": str(tmp_path), "SOFLI_MODE": "demo"}).mode == "demo"


def test_an_unknown_mode_is_refused(tmp_path):
    with pytest.raises(ConfigurationError, match="SOFLI_MODE must be production or demo, not 'test'"):
        Settings.resolve({"SOFLI_DATA_DIR": str(tmp_path), "SOFLI_MODE": "test"})


# --- the resolver reads every setting once, and validates it ----------------------------

def test_every_setting_is_resolved_from_its_variable(tmp_path):
    env = {"SOFLI_DATA_DIR": str(tmp_path / "d"), "SOFLI_REFERENCE_DIR": str(tmp_path / "ref"),
           "SOFLI_ORG_STRUCTURE": "current", "SOFLI_EXTRACT_MODE": "full", "SOFLI_FULL_EXTRACT_EVERY_DAYS": "3",
           "SOFLI_EXTRACT_OVERLAP_HOURS": "6", "SOFLI_ODBC_FETCH": "rows", "SOFLI_KPI_WORKERS": "2",
           "SOFLI_SUPPRESSION_THRESHOLD": "10", "SOFLI_CLOSE_AFTER_DAYS": "0", "SOFLI_RETENTION_DAYS": "90",
           "SOFLI_PUBLIC_BREAKDOWN_LEVELS": " Unit, sof,center ", "SOFLI_DQ_RULES": str(tmp_path / "rules.yaml"), "SOFLI_SQL_DIR": str(tmp_path / "sql"),
           "SOFLI_OPERATIONS_EMAIL": "drift@kommune.example", "SOFLI_SOURCE_KLAGE": "sqlite:////x/klage.db",
           "SOFLI_WAREHOUSE_URL": "postgresql://u@h/w", "SOFLI_PSEUDONYM_KEY": STRONG}
    s = Settings.resolve(env)
    assert (s.data_dir, s.reference_dir, s.mode, s.org_structure) == (tmp_path / "d", tmp_path / "ref", "production",
                                                                      "current")
    assert s.extract == ExtractPolicy("full", 3, dt.timedelta(hours=6))
    assert (s.odbc_fetch, s.kpi_workers, s.suppression_threshold, s.close_after_days, s.retention_days) == (
        "rows", 2, 10, 0, 90)
    assert s.public_breakdown_levels == ("sof", "center", "unit")  # in the hierarchy's order
    assert (s.dq_rules_path, s.sql_dir, s.operations_email) == (tmp_path / "rules.yaml", tmp_path / "sql",
                                                              "drift@kommune.example")
    assert s.source_location(get_source("klage")) == "sqlite:////x/klage.db"
    assert s.warehouse_url() == "postgresql://u@h/w"
    assert s.pseudonym_key() == STRONG.encode()
    assert STRONG not in repr(s)  # the secret never reaches a log line through the settings


def test_the_defaults(tmp_path):
    s = Settings.resolve({"SOFLI_DATA_DIR": str(tmp_path)})
    assert s.extract == ExtractPolicy("incremental", 7, dt.timedelta(hours=48))
    assert (s.odbc_fetch, s.kpi_workers, s.suppression_threshold, s.close_after_days, s.retention_days) == (
        "arrow", None, 5, 20, 30)
    assert s.public_breakdown_levels == ("sof", "area")
    assert s.reference_dir == REPO_ROOT / "reference" and s.dq_rules_path == REPO_ROOT / "config" / "dq_rules.yaml"
    assert s.sql_dir == REPO_ROOT / "sql" and s.operations_email == "sofli-drift@sofli.example"
    assert s.warehouse_url() == f"sqlite:///{tmp_path}/warehouse/warehouse.db"
    assert Settings.resolve({}).data_dir == REPO_ROOT / "data"


@pytest.mark.parametrize("variable, value, message", [
    ("SOFLI_RETENTION_DAYS", "abc", "SOFLI_RETENTION_DAYS must be a whole number, not 'abc': fix it or unset it"),
    ("SOFLI_RETENTION_DAYS", "6", "SOFLI_RETENTION_DAYS must be at least 7 days, not 6"),
    ("SOFLI_SUPPRESSION_THRESHOLD", "2", "SOFLI_SUPPRESSION_THRESHOLD must be at least 3, not 2"),
    ("SOFLI_SUPPRESSION_THRESHOLD", "five", "SOFLI_SUPPRESSION_THRESHOLD must be a whole number"),
    ("SOFLI_PUBLIC_BREAKDOWN_LEVELS", "area,center", "SOFLI_PUBLIC_BREAKDOWN_LEVELS must name org levels from "
                                                     "sof, area, center, unit including sof, not 'area,center'"),
    ("SOFLI_PUBLIC_BREAKDOWN_LEVELS", "sof,team", "SOFLI_PUBLIC_BREAKDOWN_LEVELS must name org levels"),
    ("SOFLI_PUBLIC_BREAKDOWN_LEVELS", "sof,caseworker", "SOFLI_PUBLIC_BREAKDOWN_LEVELS must name org levels"),
    ("SOFLI_CLOSE_AFTER_DAYS", "81", "SOFLI_CLOSE_AFTER_DAYS must be between 0 and 80 days, not 81"),
    ("SOFLI_KPI_WORKERS", "0", "SOFLI_KPI_WORKERS must be at least 1 processes, not 0"),
    ("SOFLI_EXTRACT_MODE", "sometimes", "SOFLI_EXTRACT_MODE must be incremental or full, not 'sometimes'"),
    ("SOFLI_FULL_EXTRACT_EVERY_DAYS", "0", "SOFLI_FULL_EXTRACT_EVERY_DAYS must be at least 1, not 0"),
    ("SOFLI_EXTRACT_OVERLAP_HOURS", "-1", "SOFLI_EXTRACT_OVERLAP_HOURS must be at least 0, not -1"),
    ("SOFLI_EXTRACT_OVERLAP_HOURS", "lots", "SOFLI_EXTRACT_OVERLAP_HOURS must be a number, not 'lots'"),
    ("SOFLI_ODBC_FETCH", "columns", "SOFLI_ODBC_FETCH must be arrow or rows, not 'columns'"),
    ("SOFLI_ORG_STRUCTURE", "future", "SOFLI_ORG_STRUCTURE must be historical or current, not 'future'"),
    ("SOFLI_OPERATIONS_EMAIL", "drift", "SOFLI_OPERATIONS_EMAIL must be one e-mail address, not 'drift'"),
    ("SOFLI_OPERATIONS_EMAIL", "a@b.dk,c@d.dk", "SOFLI_OPERATIONS_EMAIL must be one e-mail address"),
    ("SOFLI_SOURCE_KLAGEN", "sqlite:////x.db", "SOFLI_SOURCE_KLAGEN names no registered source"),
])
def test_every_invalid_value_is_one_configuration_error_naming_the_variable(tmp_path, variable, value, message):
    with pytest.raises(ConfigurationError) as refused:
        Settings.resolve({"SOFLI_DATA_DIR": str(tmp_path), variable: value})
    assert message in str(refused.value)


def test_settings_are_frozen(tmp_path):
    with pytest.raises(AttributeError):
        Settings(tmp_path).mode = "demo"


def test_the_operations_address_is_read_alone_for_a_notifier():
    assert operations_email({}) == "sofli-drift@sofli.example"
    assert operations_email({"SOFLI_OPERATIONS_EMAIL": " drift@kommune.example "}) == "drift@kommune.example"


def test_warehouse_init_inputs_are_not_pipeline_settings(tmp_path):
    admin = resolve_warehouse_admin({"SOFLI_WAREHOUSE_ADMIN_URL": "postgresql://admin:pw@db/w",
                                     "WAREHOUSE_BI_PASSWORD": "bi-test-password", "SOFLI_SQL_DIR": str(tmp_path)})
    assert admin.admin_url == "postgresql://admin:pw@db/w" and admin.sql_dir == tmp_path
    assert admin.passwords == {"WAREHOUSE_BI_PASSWORD": "bi-test-password"} and "bi-test" not in repr(admin)
    assert not any("ADMIN" in f.upper() for f in settings_fields())


def settings_fields() -> tuple[str, ...]:
    """The Settings fields an operator configures (what `OPTIONS` must cover)."""
    return tuple(f.name for f in dataclasses.fields(Settings) if f.name != "connections")


def test_every_setting_is_documented_in_the_options_table():
    documented = {o.field for o in OPTIONS if o.field}
    assert set(settings_fields()) == documented
    assert len({o.env for o in OPTIONS}) == len(OPTIONS)


def test_the_resolver_reads_only_the_documented_variables(tmp_path):
    class Recording(dict):
        def __init__(self, *args):
            super().__init__(*args)
            self.asked = set()

        def get(self, key, default=None):
            self.asked.add(key)
            return super().get(key, default)

        def __getitem__(self, key):
            self.asked.add(key)
            return super().__getitem__(key)

    env = Recording({"SOFLI_DATA_DIR": str(tmp_path), "SOFLI_SOURCE_BOERN": "sqlite:////b.db"})
    resolved = Settings.resolve(env)
    resolved.warehouse_url(), resolved.source_location(get_source("boern"))
    documented = {o.env for o in OPTIONS}
    undocumented = {v for v in env.asked if v not in documented and not v.startswith(("SOFLI_SOURCE_", "AIRFLOW_"))}
    assert not undocumented

    # the night's clock, resolved when the DAG files are parsed, reads only documented variables too
    night_env = Recording({"SOFLI_EXTRACT_SCHEDULE_KLAGE": "off"})
    NightSchedule.from_env(night_env)
    per_source = {f"SOFLI_EXTRACT_SCHEDULE_{name.upper()}" for name in SOURCES}
    assert night_env.asked - per_source <= documented and "SOFLI_EXTRACT_SCHEDULE_<SOURCE>" in documented
    assert {"SOFLI_NIGHT_CUTOFF", "SOFLI_TASK_RETRY_DELAY", "SOFLI_CLOSE_QUARTER_SCHEDULE"} <= night_env.asked


# --- the pseudonymisation key (issue 21 item 5) -----------------------------------------

def test_missing_key_refuses_to_start_outside_demo(tmp_path):
    with pytest.raises(ConfigurationError, match="no pseudonymisation key: set the Airflow connection"):
        settings(tmp_path, "production").pseudonym_key()


def test_demo_key_refused_outside_demo_and_used_in_demo(tmp_path):
    assert settings(tmp_path, "demo").pseudonym_key() == DEMO_PSEUDONYM_KEY.encode()
    assert settings(tmp_path, "demo", pseudonym_key_text=DEMO_PSEUDONYM_KEY).pseudonym_key() == DEMO_PSEUDONYM_KEY.encode()
    with pytest.raises(ConfigurationError, match="demo pseudonymisation key is refused outside demo mode"):
        settings(tmp_path, "production", pseudonym_key_text=DEMO_PSEUDONYM_KEY).pseudonym_key()


@pytest.mark.parametrize("disguised", [
    DEMO_PSEUDONYM_KEY.upper(), f"  {DEMO_PSEUDONYM_KEY}\n", "Sofli Demo Key Not For Production",
    "sofli_demo_key_not_for_production", f"{DEMO_PSEUDONYM_KEY}-2",
])
def test_the_demo_key_in_any_case_or_with_spaces_is_still_the_demo_key(tmp_path, disguised):
    with pytest.raises(ConfigurationError, match="demo pseudonymisation key is refused outside demo mode"):
        settings(tmp_path, "production", pseudonym_key_text=disguised).pseudonym_key()


@pytest.mark.parametrize("weak, message", [
    ("short", "at least 16 characters \\(it has 5\\)"),
    ("   padded-15-chars  ", "at least 16 characters \\(it has 15\\)"),
    ("a" * 32, "at least 8 distinct characters"),
    ("abcdabcdABCDabcdabcd", "at least 8 distinct characters"),  # case-folded: 4 distinct
    ("changeme-changeme-2024", "placeholder"),
    ("Change Me Please 12345", "placeholder"),
    ("password1234567890XYZ", "placeholder"),
    ("PASSWORD-for-the-pipeline", "placeholder"),
])
def test_weak_keys_are_refused_with_the_fix(tmp_path, weak, message):
    with pytest.raises(ConfigurationError, match=message) as refused:
        settings(tmp_path, "production", pseudonym_key_text=weak).pseudonym_key()
    assert "secrets.token_urlsafe" in str(refused.value) and "SOFLI_PSEUDONYM_KEY" in str(refused.value)
    with pytest.raises(ConfigurationError, match=message):  # demo mode accepts no weak real key either
        settings(tmp_path, "demo", pseudonym_key_text=weak).pseudonym_key()


def test_a_strong_key_is_used_exactly_as_given(tmp_path):
    assert settings(tmp_path, "production", pseudonym_key_text=STRONG).pseudonym_key() == STRONG.encode()
    check_pseudonym_key("0123456789abcdef", "production")  # 16 characters, 16 distinct: enough


def test_key_from_environment_or_airflow_connection(tmp_path):
    conn = dict(AIRFLOW_CONN_SOFLI_PSEUDONYM_KEY=json.dumps({"conn_type": "generic",
                                                            "password": "a-real-secret-of-some-length"}))
    s = Settings.resolve({"SOFLI_DATA_DIR": str(tmp_path), **conn})
    assert s.pseudonym_key() == b"a-real-secret-of-some-length"
    s = Settings.resolve({"SOFLI_DATA_DIR": str(tmp_path), **conn, "SOFLI_PSEUDONYM_KEY": SHORT})
    with pytest.raises(ConfigurationError, match="at least 16"):  # the variable wins, and is checked
        s.pseudonym_key()


def test_source_locations_default_override_and_connection(tmp_path):
    boern, cpr = get_source("boern"), get_source("cpr")
    s = settings(tmp_path, "demo")
    assert s.source_location(boern) == f"sqlite:///{tmp_path}/sources/boern.db"
    assert s.source_location(cpr) == f"{tmp_path}/sources/drop"
    conn = {"AIRFLOW_CONN_SOFLI_SRC_BOERN": json.dumps({"conn_type": "generic", "extra": {"url": "sqlite:////x/b.db"}})}
    assert Settings.resolve({"SOFLI_DATA_DIR": str(tmp_path), **conn}).source_location(boern) == "sqlite:////x/b.db"
    s = Settings.resolve({"SOFLI_DATA_DIR": str(tmp_path), **conn, "SOFLI_SOURCE_BOERN": "postgresql://u@h/boern"})
    assert s.source_location(boern) == "postgresql://u@h/boern"


def test_an_odbc_connection_without_a_driver_is_a_configuration_error(tmp_path):
    conn = {"AIRFLOW_CONN_SOFLI_SRC_KLAGE": json.dumps({"conn_type": "odbc", "host": "db", "schema": "klage"})}
    with pytest.raises(ConfigurationError, match="sofli_src_klage.*driver"):
        Settings.resolve({"SOFLI_DATA_DIR": str(tmp_path), **conn}).source_location(get_source("klage"))


def test_connections_are_looked_up_only_when_needed(tmp_path):
    """An extract task never asks for the key: a broken key connection cannot stop it."""
    s = Settings.resolve({"SOFLI_DATA_DIR": str(tmp_path), "AIRFLOW_CONN_SOFLI_PSEUDONYM_KEY": NOT_JSON})
    assert s.source_location(get_source("klage")) == f"sqlite:///{tmp_path}/sources/klage.db"
    with pytest.raises(ConfigurationError, match="AIRFLOW_CONN_SOFLI_PSEUDONYM_KEY is not valid JSON"):
        s.pseudonym_key()
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


def test_the_daytime_refresh_is_off_by_default_takes_a_cron_and_goes_off_with_the_schedules():
    assert not NightSchedule.from_env({}).refresh_daytime.runs
    assert not NightSchedule.from_env({"SOFLI_DAYTIME_REFRESH": "off"}).refresh_daytime.runs
    on = NightSchedule.from_env({"SOFLI_DAYTIME_REFRESH": " 0 7-17 * * 1-5 "})
    assert on.refresh_daytime.cron == "0 7-17 * * 1-5"
    assert on.cutoff.cron == "0 5 * * *" and on.extract["boern"].cron == "0 1 * * *"  # the night as it was
    moments = NightSchedule.from_env({"SOFLI_DAYTIME_REFRESH": "at:2026-03-10T09:00:00+01:00"}).refresh_daytime.at
    assert [m.isoformat() for m in moments] == ["2026-03-10T09:00:00+01:00"]
    both = NightSchedule.from_env({"SOFLI_DAYTIME_REFRESH": "0 7-17 * * 1-5", "SOFLI_SCHEDULES": "off"})
    assert not both.refresh_daytime.runs


@pytest.mark.parametrize(("name", "value", "message"), [
    ("SOFLI_NIGHT_CUTOFF", "5 o'clock", "SOFLI_NIGHT_CUTOFF: \"5 o'clock\" is not a 5-field cron expression"),
    ("SOFLI_NIGHT_CUTOFF", "at:2026-03-10T05:00:00", "SOFLI_NIGHT_CUTOFF: `at:` needs ISO times with a UTC offset"),
    ("SOFLI_NIGHT_DEADLINES", "gate=1h", "SOFLI_NIGHT_DEADLINES: unknown stage 'gate'"),
    ("SOFLI_NIGHT_DEADLINES", "extract=soon", "SOFLI_NIGHT_DEADLINES: 'soon' is not a duration"),
    ("SOFLI_TASK_RETRIES", "-1", "SOFLI_TASK_RETRIES must be a whole number >= 0"),
    ("SOFLI_SCHEDULES", "sometimes", "SOFLI_SCHEDULES must be on or off"),
    ("SOFLI_DAYTIME_REFRESH", "hourly", "SOFLI_DAYTIME_REFRESH: 'hourly' is not a 5-field cron expression"),
    ("SOFLI_DAYTIME_REFRESH", "0 7-17 * * mon-fri-sun", "SOFLI_DAYTIME_REFRESH: '0 7-17 * * mon-fri-sun' is not"),
    ("SOFLI_DAYTIME_REFRESH", "0 25 * * *", "SOFLI_DAYTIME_REFRESH: '0 25 * * *' is not a 5-field cron"),
])
def test_a_wrong_clock_setting_names_the_variable(name, value, message):
    with pytest.raises(ConfigurationError) as error:
        NightSchedule.from_env({name: value})
    assert message in str(error.value)


def test_expensive_cases_percent_default_environment_and_range(tmp_path):
    env = {"SOFLI_DATA_DIR": str(tmp_path)}
    assert Settings.resolve(env).expensive_cases_percent == 10
    assert Settings.resolve(env).kpi_params() == {"T6.04": {"percent": 10}}
    assert Settings.resolve({**env, "SOFLI_EXPENSIVE_CASES_PERCENT": "12,5"}).kpi_params() == {"T6.04": {"percent": 12.5}}
    assert Settings.resolve({**env, "SOFLI_EXPENSIVE_CASES_PERCENT": " 15 "}).expensive_cases_percent == 15
    for bad in ("9.9", "15.5", "ti"):
        with pytest.raises(ConfigurationError, match="SOFLI_EXPENSIVE_CASES_PERCENT"):
            Settings.resolve({**env, "SOFLI_EXPENSIVE_CASES_PERCENT": bad})
    with pytest.raises(ConfigurationError, match="SOFLI_EXPENSIVE_CASES_PERCENT must be between 10 and 15"):
        Settings(tmp_path, expensive_cases_percent=20)
