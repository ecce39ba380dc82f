"""Two nights under the real scheduler, one with a failed source.

Airflow's api-server, scheduler (LocalExecutor), dag-processor and triggerer run the DAG folder on
a temporary AIRFLOW_HOME with a PostgreSQL metadata DB, on a compressed clock: each stage of the
night is set to an exact moment (`SOFLI_EXTRACT_SCHEDULE=at:…`, `SOFLI_NIGHT_CUTOFF=at:…`) less
than a minute ahead, by restarting the dag-processor with the new setting once the previous stage
is over, so a slow machine stretches the nights instead of racing them. Everything else is
production's: the runs are the scheduler's own, the model/KPI/data-quality chain follows the
Assets, mail goes through Airflow's SMTP connection to an SMTP server in this process.

Yesterday's night (all seven extracts of the day before) is made current first, directly. Then:

- night 1: `klage`'s database is missing. Its land task fails (no retries here) and mails
  operations; the six other sources publish; every `build_model` run they start skips
  ("waiting for tonight's sources"); the cut-off run builds without klage, the KPIs and data
  quality follow; DQ10 breaches for klage and for no other source; operations (DQ10's owner)
  and klage's owner (dq-jura) get the data-quality e-mail; the data-quality run misses its
  (1 s) deadline and the triggerer mails operations.
- night 2: the database is back. The run started by klage's publish builds ("arrived late:
  klage"), the KPIs and data quality follow with DQ10 passing for every source, and the cut-off
  run skips: there is nothing left to add.

Both nights have today's date: the compressed clock cannot move the calendar, and the pipeline
judges a night by its extraction date, so night 2 re-extracts the same date (incremental and
idempotent). SOFLI_TEST_NIGHT_SCALE stretches the clock's lead and the waits on a slow machine.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from airflow_probe import restart, task_log, xcom
import sqlalchemy as sa

from etl.core.settings import REPO_ROOT, Settings
from etl.core.zones import DataFolder
from etl.ops.local_airflow import LocalAirflow, parse_time, smtp_connection, wait_for
from etl.ops.mailsink import MailSink
from etl.publish.warehouse import make_engine
from etl.sources import SOURCES
from etl.synth import generate
from extracts import extract_all

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.postgres]
CPH = ZoneInfo("Europe/Copenhagen")
SCALE = float(os.environ.get("SOFLI_TEST_NIGHT_SCALE", "1"))
#: From restarting the dag-processor with a new clock to the clock's moment: its start-up and
#: one parse of the DAG folder must fit (the test checks that the new clock was live in time).
CLOCK_LEAD = dt.timedelta(seconds=45 * SCALE)
BUDGET = 900 * SCALE  # seconds any one stage may take before the test gives up
OPERATIONS = "sofli-drift@sofli.example"
NIGHTLY = [f"extract_{name}" for name in SOURCES] + ["build_model", "publish_kpis", "data_quality"]
OFF = {"SOFLI_EXTRACT_SCHEDULE": "off", "SOFLI_NIGHT_CUTOFF": "off"}


def at(*moments: dt.datetime) -> str:
    return "at:" + ",".join(m.isoformat(timespec="seconds") for m in moments)


def set_clock(airflow: LocalAirflow, **clocks: str) -> dt.datetime:
    """Restart the dag-processor with the extract and cut-off clocks set to one moment
    CLOCK_LEAD from now (`extract="at"`, `cutoff="at"`; the other clock off), and wait until
    the scheduler knows it; returns the moment."""
    moment = (dt.datetime.now(CPH) + CLOCK_LEAD).replace(microsecond=0)
    env = {**OFF, **{{"extract": "SOFLI_EXTRACT_SCHEDULE", "cutoff": "SOFLI_NIGHT_CUTOFF"}[k]: at(moment)
                     for k in clocks}}
    restart(airflow, "dag-processor", env=env)
    dag_id = "build_model" if "cutoff" in clocks else "extract_klage"
    wait_for(f"{dag_id} on the new clock", lambda: moment.isoformat() in
             (airflow.api.get(f"/api/v2/dags/{dag_id}")["timetable_description"] or ""),
             (moment - dt.datetime.now(CPH)).total_seconds(), interval=2)
    return moment


def runs_of(api, dag_id: str, **match) -> list[dict]:
    return [r for r in api.runs(dag_id) if all(r.get(k) == v for k, v in match.items())]


def finished(api, dag_id: str, predicate, what: str, timeout: float) -> dict:
    """The first run of `dag_id` that `predicate` accepts, once it has finished."""
    def check():
        found = [r for r in api.runs(dag_id) if predicate(r)]
        return found[0] if found and found[0]["state"] in ("success", "failed") else None
    return wait_for(what, check, timeout, interval=2)


def logical(run: dict) -> dt.datetime | None:
    return parse_time(run.get("logical_date"))


def keep_logs(airflow: LocalAirflow) -> None:
    """Every component's log beside the other test artefacts (`$SOFLI_TEST_ARTEFACTS/scheduler/`)."""
    folder = Path(os.environ.get("SOFLI_TEST_ARTEFACTS", REPO_ROOT / "test-artifacts")) / "scheduler"
    folder.mkdir(parents=True, exist_ok=True)
    for component in ("api-server", "triggerer", "scheduler", "dag-processor"):
        if airflow.log_path(component).exists():
            shutil.copy(airflow.log_path(component), folder / f"{component}.log")


def warehouse(data_dir: Path, sql: str, **params) -> list[tuple]:
    engine = make_engine(f"sqlite:///{data_dir / 'warehouse' / 'warehouse.db'}")
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(sa.text(sql), params).all()]
    finally:
        engine.dispose()


def dq_status(data_dir: Path, run_id: str, rule_id: str) -> dict[str, str]:
    return dict(warehouse(data_dir, "SELECT source, status FROM mart.dq_result WHERE run_id = :run AND "
                                    "rule_id = :rule AND dimension IS NULL", run=run_id, rule=rule_id))


@pytest.fixture(scope="module")
def nights(postgres, tmp_path_factory):
    """Runs both nights and yields what the tests inspect (the API stays up until they are done)."""
    night = dt.datetime.now(CPH).date()
    data_dir = tmp_path_factory.mktemp("scheduler") / "data"
    DataFolder(data_dir).mark_demo({"profile": "demo"})  # the tasks below run in demo mode: the demo's folder
    generate(data_dir / "sources", profile="demo", seed=42, extraction_date=night)
    yesterday = night - dt.timedelta(days=1)
    drop = data_dir / "sources" / "drop"
    shutil.copy(drop / f"cpr_{night:%Y%m%d}.csv", drop / f"cpr_{yesterday:%Y%m%d}.csv")  # yesterday's delivery
    extract_all(yesterday, "night-0", Settings(data_dir, REPO_ROOT / "reference", "demo"))

    live = data_dir / "klage-live"  # where klage's replica is configured; missing during night 1
    metadata_url = postgres.new_database("sofli_scheduler_airflow")
    with MailSink(data_dir / "mail") as sink:
        env = {"SOFLI_MODE": "demo", "SOFLI_SOURCE_KLAGE": f"sqlite:///{live / 'klage.db'}",
               "SOFLI_TASK_RETRIES": "0", "SOFLI_NIGHT_DEADLINES": "data_quality=1s",
               "SOFLI_HOUSEKEEPING_SCHEDULE": "off", "SOFLI_CLOSE_QUARTER_SCHEDULE": "off", **OFF,
               "SOFLI_OPERATIONS_EMAIL": OPERATIONS, "AIRFLOW_CONN_SMTP_DEFAULT": smtp_connection(sink.port),
               "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url, "AIRFLOW__CORE__PARALLELISM": "6",
               "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False"}
        with LocalAirflow(data_dir, env) as airflow:
            try:
                airflow.wait_for_dags(NIGHTLY)
                api = airflow.api
                first = set_clock(airflow, extract="at")  # night 1: every extract at one moment
                night1 = {dag: finished(api, dag, lambda r: logical(r) == first, f"night 1 of {dag}", BUDGET)
                          for dag in NIGHTLY[:len(SOURCES)]}
                cutoff1 = set_clock(airflow, cutoff="at")  # its cut-off, once the extracts have finished
                cut1 = finished(api, "build_model", lambda r: logical(r) == cutoff1, "night 1's cut-off", BUDGET)
                after = parse_time(cut1["start_date"])
                kpis1 = finished(api, "publish_kpis", lambda r: parse_time(r["run_after"]) >= after,
                                 "night 1's KPIs", BUDGET)
                dq1 = finished(api, "data_quality",
                               lambda r: parse_time(r["run_after"]) >= parse_time(kpis1["start_date"]),
                               "night 1's data quality", BUDGET)
                mail_night1 = list(sink.messages())
                live.mkdir()  # the replica is back
                shutil.copy(data_dir / "sources" / "klage.db", live / "klage.db")

                second = set_clock(airflow, extract="at")  # night 2
                night2 = {dag: finished(api, dag, lambda r: logical(r) == second, f"night 2 of {dag}", BUDGET)
                          for dag in NIGHTLY[:len(SOURCES)]}
                klage_done = parse_time(night2["extract_klage"]["end_date"])
                build2 = finished(api, "build_model", lambda r: r["run_type"] == "asset_triggered"
                                  and parse_time(r["run_after"]) >= klage_done - dt.timedelta(seconds=5)
                                  and api.task_states("build_model", r["dag_run_id"]).get("link_and_model")
                                  == "success", "night 2's model, started by klage", BUDGET)
                kpis2 = finished(api, "publish_kpis",
                                 lambda r: parse_time(r["run_after"]) >= parse_time(build2["start_date"]),
                                 "night 2's KPIs", BUDGET)
                dq2 = finished(api, "data_quality",
                               lambda r: parse_time(r["run_after"]) >= parse_time(kpis2["start_date"]),
                               "night 2's data quality", BUDGET)
                cutoff2 = set_clock(airflow, cutoff="at")
                cut2 = finished(api, "build_model", lambda r: logical(r) == cutoff2, "night 2's cut-off", BUDGET)
                if dt.datetime.now(CPH).date() != night:
                    pytest.skip("the nights ran over midnight in Copenhagen: their dates differ")
                yield {"api": api, "data_dir": data_dir, "sink": sink, "mail_night1": mail_night1, "night": night,
                       "clock": {"first": first, "cutoff1": cutoff1, "second": second, "cutoff2": cutoff2},
                       "night1": night1, "cut1": cut1, "kpis1": kpis1, "dq1": dq1,
                       "night2": night2, "build2": build2, "kpis2": kpis2, "dq2": dq2, "cut2": cut2}
            finally:
                keep_logs(airflow)


def test_night_1_the_failed_extract_is_red_and_mailed_the_others_published(nights):
    api = nights["api"]
    states = {dag: run["state"] for dag, run in nights["night1"].items()}
    assert states == {**{f"extract_{name}": "success" for name in SOURCES}, "extract_klage": "failed"}
    klage = nights["night1"]["extract_klage"]
    assert api.task_states("extract_klage", klage["dag_run_id"]) == {"land_klage": "failed",
                                                                     "validate_klage": "upstream_failed",
                                                                     "publish": "upstream_failed"}
    assert "unable to open database file" in task_log(api, "extract_klage", klage["dag_run_id"], "land_klage")
    failures = [m for m in nights["mail_night1"] if m["Subject"] == "[sofli] Task fejlede: extract_klage.land_klage"]
    assert len(failures) == 1 and failures[0]["To"] == OPERATIONS


def test_night_1_every_run_started_by_a_source_waited_for_the_others(nights):
    api = nights["api"]
    early = [r for r in api.runs("build_model") if r["run_type"] == "asset_triggered"
             and parse_time(r["run_after"]) < nights["clock"]["cutoff1"]]
    assert len(early) >= 1  # events arriving while a run is queued are batched into one run
    for run in early:
        assert api.task_states("build_model", run["dag_run_id"]) == {"check_sources": "skipped",
                                                                     "link_and_model": "skipped"}
        log = task_log(api, "build_model", run["dag_run_id"], "check_sources")
        waiting = re.search(r"waiting for tonight's sources: ([a-z, ]+) not extracted for (\S+) yet", log)
        assert waiting and "klage" in waiting.group(1).split(", "), log
        assert waiting.group(2) == nights["night"].isoformat()


def test_night_1_the_cut_off_built_without_klage_and_the_kpis_and_data_quality_followed(nights):
    api, cut = nights["api"], nights["cut1"]
    assert cut["run_type"] == "scheduled" and cut["state"] == "success"
    plan = xcom(api, "build_model", cut["dag_run_id"], "check_sources")
    night = nights["night"].isoformat()
    yesterday = (nights["night"] - dt.timedelta(days=1)).isoformat()
    assert plan["extract_date"] == night and plan["stale_sources"] == ["klage"]
    assert plan["sources"] == {**dict.fromkeys(SOURCES, night), "klage": yesterday}
    assert api.task_states("build_model", cut["dag_run_id"])["link_and_model"] == "success"
    assert nights["kpis1"]["state"] == "success"
    assert nights["dq1"]["state"] == "failed"  # the gate: DQ10 is an error rule (and the demo's planted defects)
    assert api.task_states("data_quality", nights["dq1"]["dag_run_id"]) == {
        "run_rules": "success", "alert_owners": "success", "gate": "failed"}


def test_night_1_dq10_breached_for_exactly_the_failed_source(nights):
    status = dq_status(nights["data_dir"], nights["dq1"]["dag_run_id"], "DQ10")
    assert status == {**dict.fromkeys(SOURCES, "pass"), "klage": "breach"}
    gate = task_log(nights["api"], "data_quality", nights["dq1"]["dag_run_id"], "gate")
    assert "DQ10 klage: 1 of 1 failing" in gate, gate


def test_night_1_the_kpi_built_on_klage_carries_the_stale_flag_in_mart_and_public(nights):
    for schema in ("mart", "public"):
        stale = warehouse(nights["data_dir"], f"SELECT kpi_id, stale_sources, kpi_run_id FROM {schema}.dq_kpi_flag "
                                              "WHERE run_id = :run AND stale", run=nights["dq1"]["dag_run_id"])
        assert stale == [("T3.05", "klage", nights["kpis1"]["dag_run_id"])], schema  # T3.05 alone reads klage
    assert warehouse(nights["data_dir"], "SELECT kpi_id FROM public.dq_kpi_flag WHERE run_id = :run AND stale",
                     run=nights["dq2"]["dag_run_id"]) == []


def test_night_1_operations_and_klage_s_owner_got_the_data_quality_e_mail(nights):
    # "[sofli] 1 overskridelse af datakvalitetsregler – ..." (one subject form for any count)
    mails = {m["To"]: m for m in nights["mail_night1"] if " af datakvalitetsregler – " in m["Subject"]}
    for owner in (OPERATIONS, "dq-jura@sofli.example"):
        body = mails[owner].get_body(("plain",)).get_content()
        assert "DQ10 Forældet kilde" in body and "Kilde: klage" in body, owner
    boern = mails["dq-boern@sofli.example"].get_body(("plain",)).get_content()
    assert "DQ10" not in boern  # boern published: its owner hears nothing about freshness


def test_a_data_quality_run_past_its_deadline_mails_operations(nights):
    late = [m for m in nights["sink"].messages()
            if m["Subject"] == "[sofli] Natten er forsinket: data_quality er ikke færdig"]
    assert late and {m["To"] for m in late} == {OPERATIONS}
    body = late[0].get_body(("html",)).get_content()
    assert nights["dq1"]["dag_run_id"] in body or nights["dq2"]["dag_run_id"] in body
    offset = "+0200" if dt.datetime.now(CPH).dst() else "+0100"
    assert late[0]["Date"].endswith(offset) and re.search(r"ved fristen \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(CES?T\)", body)


def test_night_2_the_repaired_source_started_the_whole_chain_by_itself(nights):
    api = nights["api"]
    assert {run["state"] for run in nights["night2"].values()} == {"success"}
    build = nights["build2"]
    plan = xcom(api, "build_model", build["dag_run_id"], "check_sources")
    assert plan["reason"] == "arrived late: klage" and plan["stale_sources"] == []
    assert nights["kpis2"]["state"] == "success"
    status = dq_status(nights["data_dir"], nights["dq2"]["dag_run_id"], "DQ10")
    assert status == dict.fromkeys(SOURCES, "pass")


def test_night_2_the_cut_off_had_nothing_left_to_build(nights):
    api, cut = nights["api"], nights["cut2"]
    assert api.task_states("build_model", cut["dag_run_id"]) == {"check_sources": "skipped",
                                                                 "link_and_model": "skipped"}
    assert "already has every source that has published" in task_log(api, "build_model", cut["dag_run_id"],
                                                                          "check_sources")
    model_builds = [r for r in api.runs("build_model")
                    if api.task_states("build_model", r["dag_run_id"]).get("link_and_model") == "success"]
    assert [r["dag_run_id"] for r in model_builds] == [nights["cut1"]["dag_run_id"], nights["build2"]["dag_run_id"]]
