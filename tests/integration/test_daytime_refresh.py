"""The daytime refresh (`refresh_daytime`), run by Airflow's `dag.test()` on the demo's sources
after a night.

The night (every source extracted, the model, the KPIs with four closed quarters, the rules) is
run directly by the nightly task functions. Then, at a database source, a decision dated on the
extraction date is registered "during the day", and the DAG runs in a subprocess on its own
Airflow metadata DB with the data folder in `SOFLI_DATA_DIR`, as the scheduler would run it:

- the running quarter's T2.01 (decisions dated in the period) is the night's count plus the one,
  quarter and ÅTD, and provisional; every other period keeps the night's rows (values, statuses,
  computed_at), under the refresh's run id, which the data-quality flags match (only the
  refreshed periods are written; the kept rows take the run id in place);
- only the database sources were re-read: the CPR file and the employment register keep the
  night's extract (their pointers unchanged, their landing untouched);
- a figure the night blanked in `public` stays blanked while the refresh publishes the same figure;
- `public.data_freshness` says daytime with the refresh's time for the database sources and
  night for the files, in the same publication as the KPI rows;
- a refresh of a date whose night's model is not there skips at its first task and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import stat
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from extracts import extract_all

from etl.core.periods import local_now
from etl.core.settings import REPO_ROOT, Connections, Settings
from etl.publish.warehouse import make_engine, read_table
from etl.sources import SOURCES
from etl.synth import generate
from etl.tasks import kpis as kpi_tasks
from etl.tasks import model as model_tasks
from etl.tasks import quality as dq_tasks

pytestmark = [pytest.mark.integration]
DAY = dt.date(2025, 11, 15)
DECIDED_AT = dt.datetime.combine(DAY, dt.time(10, 30))
NEW_DECISION = 987654
DATABASE = [name for name, source in SOURCES.items() if source.kind == "database"]
FILES = [name for name, source in SOURCES.items() if source.kind == "file"]

#: Runs refresh_daytime once with `dag.test()` (Airflow's own in-process executor of a DAG run,
#: on the migrated metadata DB of AIRFLOW_HOME, as `airflow dags test` does) and prints each
#: task's state as JSON.
DAG_TEST = """
import json, sys
from airflow.utils.cli import get_bagged_dag  # what `airflow dags test` does: parse, serialize to the DB
run = get_bagged_dag(None, "refresh_daytime", sys.argv[1]).test(run_conf={"extract_date": sys.argv[2]})
print("DAGRUN " + json.dumps({"state": str(run.state),
                              "tasks": {ti.task_id: str(ti.state) for ti in run.get_task_instances()}}))
"""


def keyed(frame: pd.DataFrame) -> pd.DataFrame:
    """KPI rows by their cell (a total's NULL breakdown as ''), sorted."""
    cell = ["period_key", "org_level", "org_key", "dimension", "dimension_value"]
    return frame.fillna({"dimension": "", "dimension_value": ""}).set_index(cell, drop=False).sort_index()


def _t201(settings: Settings) -> pd.DataFrame:
    engine = make_engine(settings.warehouse_url())
    rows = read_table(engine, "mart.kpi_value", "WHERE version = 0 AND kpi_id = 'T2.01' AND measure = 'count'")
    engine.dispose()
    return rows


def _version_0(settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """public's and mart's nightly version (a total's NULL breakdown as '')."""
    engine = make_engine(settings.warehouse_url())
    frames = [read_table(engine, f"{schema}.kpi_value", "WHERE version = 0").fillna(
        {"dimension": "", "dimension_value": ""}) for schema in ("public", "mart")]
    engine.dispose()
    return frames[0], frames[1]


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    root = tmp_path_factory.mktemp("daytime") / "data"
    settings = Settings(root, REPO_ROOT / "reference", "demo", connections=Connections())
    generate(settings.sources_dir, "demo", 11, DAY)
    settings.zones.mark_demo({"extraction_date": DAY.isoformat(), "seed": 11})
    extract_all(DAY, "night", settings)
    model_tasks.build_model(DAY, settings)
    kpi_tasks.publish_kpis(kpi_tasks.audit_kpis(kpi_tasks.compute_kpis("night", settings), settings=settings),
                           settings)
    dq_tasks.run_data_quality("night", settings)
    return settings


def run_refresh(settings: Settings, extract_date: dt.date, home) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "SOFLI_"))}
    env.update({"AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__UNIT_TEST_MODE": "False", "PYTHONPATH": str(REPO_ROOT),
                "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
                "SOFLI_DATA_DIR": str(settings.data_dir), "SOFLI_MODE": "demo", "SOFLI_TASK_RETRIES": "0"})
    if not (home / "airflow.db").exists():
        subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True, capture_output=True,
                       timeout=600)
    result = subprocess.run([sys.executable, "-c", DAG_TEST, str(REPO_ROOT / "dags" / "refresh_daytime.py"),
                             extract_date.isoformat()], env=env, capture_output=True, text=True, timeout=1800,
                            cwd=REPO_ROOT)
    lines = [line for line in result.stdout.splitlines() if line.startswith("DAGRUN ")]
    assert result.returncode == 0 and lines, (result.stdout[-3000:], result.stderr[-5000:])
    return {**json.loads(lines[-1][len("DAGRUN "):]), "log": result.stdout + result.stderr}


def test_a_refresh_before_the_night_of_its_date_skips_and_changes_nothing(night, tmp_path_factory):
    settings = night
    pointers = settings.zones.pointers(SOURCES)
    before = _t201(settings)
    run = run_refresh(settings, DAY + dt.timedelta(days=1), tmp_path_factory.mktemp("airflow-skip"))
    assert run["tasks"]["check_night"] == "skipped"
    assert set(run["tasks"].values()) == {"skipped"} and run["state"] == "success"
    assert f"the night's model of {DAY + dt.timedelta(days=1)} is not built yet" in run["log"]
    assert settings.zones.pointers(SOURCES) == pointers
    pd.testing.assert_frame_equal(_t201(settings), before)


def test_the_refresh_publishes_the_day_s_change_in_the_running_quarter_only(night, tmp_path_factory):
    settings = night
    pointers = settings.zones.pointers(SOURCES)
    files_landed = {name: sorted((p.name, p.stat().st_mtime_ns) for p in (settings.landing_dir / name).rglob("*")
                                 if p.is_file()) for name in FILES}
    before = keyed(_t201(settings))
    public_before, mart_before = _version_0(settings)
    # during the day a caseworker registers a decision dated today in the adult system
    source = sa.create_engine(f"sqlite:///{settings.sources_dir / 'voksen.db'}")
    with source.begin() as conn:
        template = conn.execute(sa.text("SELECT a.afgoerelse_id FROM afgoerelse a JOIN sag s ON s.sag_id = a.sag_id "
                                        "WHERE a.afgoerelse_dato < '2025-07-01' AND NOT s.slettet "
                                        "ORDER BY a.afgoerelse_id LIMIT 1")).scalar_one()
        conn.execute(sa.text("INSERT INTO afgoerelse SELECT :new, sag_id, paragraf, ansoegt_dato, :day, frist_dato, "
                             "udfald, :at FROM afgoerelse WHERE afgoerelse_id = :template"),
                     {"new": NEW_DECISION, "day": DAY.isoformat(), "template": template,
                      "at": DECIDED_AT.isoformat(sep=" ", timespec="microseconds")})
    source.dispose()
    started = local_now()
    clock = time.monotonic()
    run = run_refresh(settings, DAY, tmp_path_factory.mktemp("airflow-refresh"))
    seconds = time.monotonic() - clock
    assert run["state"] == "success", run["log"][-5000:]
    assert set(run["tasks"].values()) == {"success"}
    assert set(run["tasks"]) == {"check_night", "build_model", "compute", "audit", "publish", "data_quality"} | {
        f"refresh_{name}" for name in DATABASE}

    after = keyed(_t201(settings))
    assert after.index.equals(before.index)  # the same cells, nothing added or lost
    running = {f"quarter:2025-10-01:{DAY}", f"ytd:2025-01-01:{DAY}"}
    for key in running:  # the SOF total: the night's count plus the one decision, still provisional
        new, old = after.loc[(key, "sof", "SOF", "", "")], before.loc[(key, "sof", "SOF", "", "")]
        assert new["value"] == old["value"] + 1, key
        assert bool(new["provisional"]) and new["run_id"] != "night", key
    refreshed = after["period_key"].isin(running | {"quarter:2024-10-01:2024-11-15", "ytd:2024-01-01:2024-11-15"})
    (refresh_run,) = set(after["run_id"])  # one publication, one run id (the flags match on it)
    assert refresh_run != "night" and (after.loc[refreshed, "computed_at"] > after.loc[~refreshed, "computed_at"].max()).all()
    # every other period as the night published it: values, statuses, and when they were computed
    pd.testing.assert_frame_equal(after[~refreshed].drop(columns="run_id"),
                                  before[~refreshed.to_numpy()].drop(columns="run_id"))
    assert after.loc[after["period_key"] == "quarter:2025-07-01:2025-09-30", "value"].notna().any()

    # a figure the night blanked is not shown by the refresh while it is the same figure (the two
    # versions side by side would give it away); the refresh's suppression starts from those blanks
    public_after, mart_after = _version_0(settings)
    key = ["kpi_id", "measure", "period_key", "org_level", "org_key", "dimension", "dimension_value"]
    figures = ["value", "numerator", "denominator"]
    same = mart_before.merge(mart_after, on=key, suffixes=("", "_after"))
    same = same[np.all([np.isclose(same[c].astype(float), same[f"{c}_after"].astype(float), rtol=0, atol=0,
                                   equal_nan=True) for c in figures], axis=0)]
    blanked = public_before.loc[public_before["value_status"] == "suppressed", key].merge(same[key], on=key)
    assert len(blanked) > 100
    assert f"the suppression starts from the {len(blanked)} blanks" in run["log"]
    # and only the refreshed periods were written; the kept rows took the run id in place
    assert "mart.kpi_value: writing version 0's 4 periods (4 refreshed)" in run["log"]
    assert set(blanked.merge(public_after, on=key)["value_status"]) == {"suppressed"}
    # the audit solved only what the night's answers do not cover (etl.publish.audit_memo): every
    # KPI's closed quarters are the night's question, and a KPI the decision did not change is not
    # attacked again at all (its rows in the night's order: `refresh._in_published_order`)
    attacks, kept, repeated, solved = map(int, re.search(
        r"suppression audit: (\d+) attacks, (\d+) answered by the last publish's \S+, (\d+) repeated from this one, "
        r"(\d+) solved", run["log"]).groups())
    changed = mart_before.merge(mart_after, on=key, suffixes=("", "_after"), how="outer")
    changed = changed[~np.all([np.isclose(changed[c].astype(float), changed[f"{c}_after"].astype(float), rtol=0, atol=0,
                                          equal_nan=True) for c in figures], axis=0)]
    audited = public_after["kpi_id"].nunique()
    print(f"refresh audit on the demo: {attacks} attacks, {kept} answered by the night's memo, {repeated} repeated, "
          f"{solved} solved; {audited} KPIs audited, {changed['kpi_id'].nunique()} with a changed figure")
    assert attacks == kept + repeated + solved and kept >= audited, (audited, kept, repeated, solved)
    assert 0 < solved <= 3 * changed["kpi_id"].nunique() < audited, (changed["kpi_id"].unique(), solved)
    assert stat.S_IMODE(settings.zones.audit_memo.stat().st_mode) == 0o600

    now = settings.zones.pointers(SOURCES)
    for name in FILES:  # the CPR file and the register: not re-read
        assert now[name] == pointers[name], name
        assert sorted((p.name, p.stat().st_mtime_ns) for p in (settings.landing_dir / name).rglob("*")
                      if p.is_file()) == files_landed[name], name
    for name in DATABASE:
        assert now[name]["run_id"] != pointers[name]["run_id"] and now[name]["refresh"] == "daytime", name
        assert now[name]["extract_date"] == DAY.isoformat()

    engine = make_engine(settings.warehouse_url())
    freshness = read_table(engine, "public.data_freshness").set_index("source")
    kpi_runs = set(read_table(engine, "public.kpi_value", "WHERE version = 0")["run_id"])
    engine.dispose()
    assert set(freshness.index) == set(SOURCES)
    assert set(freshness.loc[DATABASE, "kind"]) == {"daytime"} and set(freshness.loc[FILES, "kind"]) == {"night"}
    assert set(freshness["extract_date"].astype(str)) == {DAY.isoformat()}
    refreshed_at = pd.to_datetime(freshness.loc[DATABASE, "refreshed_at"])  # Copenhagen local time, naive
    assert (refreshed_at >= pd.Timestamp(started)).all() and (refreshed_at <= pd.Timestamp(local_now())).all()
    night_at = pd.to_datetime(freshness.loc[FILES, "refreshed_at"])
    assert (night_at < pd.Timestamp(started)).all()  # the files: when the night made them current
    assert set(freshness["kpi_run_id"]) == kpi_runs == {refresh_run}  # published with its rows
    engine = make_engine(settings.warehouse_url())
    flags = read_table(engine, "public.dq_kpi_flag")
    latest_dq = read_table(engine, "mart.dq_result", "ORDER BY computed_at DESC LIMIT 1")["run_id"].item()
    engine.dispose()
    assert latest_dq == refresh_run and len(flags[flags["run_id"] == refresh_run])  # the demo breaches: flags
    assert set(flags.loc[flags["run_id"] == refresh_run, "kpi_run_id"]) == {refresh_run}
    print(f"refresh_daytime on the demo: {seconds:.1f} s (dag.test in a subprocess, metadata DB migrated before)")
