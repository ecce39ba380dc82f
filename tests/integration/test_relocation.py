"""A data folder can move (issue 18 item 5): run a night into a folder, rename the folder,
run the next night and the report from the new place, as an operator restoring a backup
elsewhere would.

Everything sofli writes under the folder stores paths relative to it (`etl.core.zones`),
task results in Airflow's metadata DB too. Airflow's own `airflow.cfg` keeps the absolute
paths it wrote on the first start; every `sofli` command sets those options from the
environment, which wins, so the stale file does not matter (checked here key by key).
"""

from __future__ import annotations

import configparser
import datetime as dt
import json
import os
import subprocess
import sys

import pandas as pd
import pytest
import sqlalchemy as sa

from etl.core import zones
from etl.core.settings import REPO_ROOT, Settings
from etl.model.build import load_current_staged
from etl.ops.local_airflow import COMPONENTS, airflow_environment
from etl.publish.warehouse import make_engine
from etl.sources import SOURCES
from small_cells import recovered_small_cells

pytestmark = pytest.mark.integration
NIGHT1, NIGHT2 = dt.date(2025, 11, 15), dt.date(2025, 11, 16)
QUARTER = "2025-Q3"


def sofli(data_dir, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "SOFLI_"))}
    return subprocess.run([sys.executable, "-m", "etl.cli.main", "--data-dir", str(data_dir), *args],
                          capture_output=True, text=True, env=env, timeout=1200)


@pytest.fixture(scope="module")
def moved(tmp_path_factory):
    base = tmp_path_factory.mktemp("relocate")
    old, new = base / "before" / "data", base / "after" / "data"
    first = sofli(old, "demo", "--date", NIGHT1.isoformat())
    assert first.returncode == 0, (first.stdout + first.stderr)[-5000:]
    stale_cfg = (old / "airflow" / "airflow.cfg").read_text()
    new.parent.mkdir(parents=True)
    old.rename(new)
    second = sofli(new, "demo", "--date", NIGHT2.isoformat())
    report = sofli(new, "report", "--quarter", QUARTER)
    return {"old": old, "new": new, "stale_cfg": stale_cfg, "second": second, "report": report}


def test_the_next_night_and_the_report_run_from_the_new_place(moved):
    second, report = moved["second"], moved["report"]
    assert second.returncode == 0, (second.stdout + second.stderr)[-5000:]
    for dag_id in [f"extract_{s}" for s in SOURCES] + ["build_model", "publish_kpis", "close_quarter"]:
        assert f"ok   {dag_id}" in second.stdout, second.stdout[-3000:]
    assert report.returncode == 0, report.stderr[-3000:]
    assert f"{moved['new']}/reports/{QUARTER}/v1/rapport.pdf" in report.stdout
    assert (moved["new"] / "reports" / QUARTER / "v1" / "rapport.pdf").stat().st_size > 10_000
    assert not moved["old"].exists()  # nothing (Airflow's DB, logs, a pointer) recreated the old place


def test_the_second_night_built_on_the_first_nights_extracts_in_the_moved_folder(moved):
    new = moved["new"]
    pointers = zones.current_extracts(new / "staged")
    assert {name: p["extract_date"] for name, p in pointers.items()} == {name: str(NIGHT2) for name in SOURCES}
    manifest = zones.read_manifest(zones.partition_dir(new / "landing", "voksen", "sag", NIGHT2))
    assert (manifest["mode"], manifest["plan"]["base_extract_date"]) == ("incremental", str(NIGHT1))
    assert zones.model_extraction_date(new / "model") == str(NIGHT2)
    engine = make_engine(f"sqlite:///{new}/warehouse/warehouse.db")
    with engine.connect() as conn:
        freshness = pd.read_sql(sa.text("SELECT source, extract_date, stale FROM mart.source_freshness"), conn)
    engine.dispose()
    assert set(freshness["extract_date"].astype(str).str[:10]) == {str(NIGHT2)}
    assert not freshness["stale"].astype(bool).any()


def test_no_file_under_the_moved_folder_names_the_old_place(moved):
    """`grep -r OLD NEW`, Airflow's own logs and airflow.cfg aside (next test): pointers,
    manifests, validation records, the model, the warehouse, the mails, Airflow's metadata
    DB (task results, rendered arguments)."""
    old = str(moved["old"]).encode()
    home = moved["new"] / "airflow"
    airflow_own = {home / "logs", home / "airflow.cfg", *(home / f"{c}.log" for c in COMPONENTS)}
    naming = [str(p.relative_to(moved["new"])) for p in moved["new"].rglob("*")
              if p.is_file() and not any(p == own or own in p.parents for own in airflow_own)
              and old in p.read_bytes()]
    assert naming == []
    assert (moved["new"] / "airflow" / "airflow.db").exists()  # the metadata DB was among them


def test_every_path_airflow_wrote_into_airflow_cfg_is_overridden_by_the_environment(moved):
    """Which options Airflow 3.3 writes with AIRFLOW_HOME's path: each must be one sofli sets
    on every command (`airflow_environment`: `AIRFLOW_HOME_PATHS` and the metadata DB), so the
    moved folder's stale file is never read."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(moved["stale_cfg"])
    stale = {f"AIRFLOW__{section.upper()}__{key.upper()}" for section in parser.sections()
             for key, value in parser.items(section, raw=True) if str(moved["old"]) in value}
    assert stale  # Airflow does write absolute paths (dags_folder, sql_alchemy_conn, logs, ...)
    environment = airflow_environment(moved["new"])
    assert stale <= set(environment), stale - set(environment)
    assert not any(str(moved["old"]) in environment[name] for name in stale)


def test_the_demo_marker_moved_with_the_folder_and_production_folders_refuse_the_demo(moved, tmp_path):
    assert json.loads((moved["new"] / ".sofli-demo.json").read_text())["created_by"] == "sofli demo"
    assert Settings.resolve({"SOFLI_DATA_DIR": str(moved["new"]), "SOFLI_MODE": "demo"}).mode == "demo"
    production = tmp_path / "production"
    (production / "staged").mkdir(parents=True)
    refused = sofli(production, "demo", "--date", NIGHT2.isoformat())
    assert refused.returncode == 2 and "sofli demo: " in refused.stderr and "not created by `sofli demo`" in refused.stderr
    assert "Traceback" not in refused.stderr  # an operator reads what to fix, not a stack
    assert sorted(p.name for p in production.iterdir()) == ["staged"]  # nothing written into it


@pytest.mark.parametrize("where", ["WHERE version = 1", ""], ids=["frozen-alone", "frozen-and-nightly"])
def test_public_after_a_freeze_gives_no_small_cell_away(moved, where):
    """`public` as an analyst holds it after the freeze and the next night, every KPI: the frozen
    copy alone (whole quarters without the clipped periods, whose blanked cells protected some of
    night 1's: T5.03's 2024 denominators of 4 and 5 fell so before the publisher audited the
    whole quarters on their own), and the frozen copy beside night 2's rows (which the audit
    reads beside the frozen version)."""
    recovered, result = recovered_small_cells(Settings(moved["new"], REPO_ROOT / "reference", "demo"), where)
    assert result.blanked_rows > 1000, result.summary()
    assert not recovered, f"small cells recovered: {sorted(recovered)[:10]}; {result.summary()}"


def test_a_pointer_written_with_absolute_paths_before_the_move_still_reads(moved):
    """A folder written by an earlier sofli (absolute paths) and then moved: the reader
    re-anchors each path on the folder as it is now."""
    new = moved["new"]
    pointer_file = new / "staged" / "klage" / "CURRENT.json"
    current = json.loads(pointer_file.read_text())
    legacy = {**current, "tables": {name: {**table, "staged_path": f"{moved['old']}/{table['staged_path']}"}
                                    for name, table in current["tables"].items()}}
    pointer_file.write_text(json.dumps(legacy))
    try:
        frames, pointers = load_current_staged(new / "staged")
        assert pointers["klage"]["tables"]["klage"]["staged_path"].startswith(str(new))
        assert len(frames[("klage", "klage")]) == current["tables"]["klage"]["rows_total"]
    finally:
        pointer_file.write_text(json.dumps(current))
