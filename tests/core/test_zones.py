"""The data folder's one owner: layout, pointers, manifests and validation records, stored
relative to the folder so it can move; old absolute records still read after a move."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import pytest

from etl.core import zones
from etl.core.zones import DataFolder

DAY = dt.date(2025, 11, 15)


def staged_partition(root, source="boern", table="Sag", day=DAY, validated=True):
    partition = zones.partition_dir(root / "staged", source, table, day)
    partition.mkdir(parents=True)
    (partition / "data.parquet").write_bytes(b"PAR1")
    if validated:
        zones.write_validation(partition, {"source": source, "table": table, "extract_date": str(day),
                                           "rows_in": 3, "staged_path": str(partition / "data.parquet"),
                                           "quarantine_path": str(zones.partition_dir(root / "quarantine", source,
                                                                                      table, day) / "q.parquet")})
    return partition


def pointer(root, source="boern", table="Sag", day=DAY):
    return {"source": source, "extract_date": day.isoformat(), "run_id": "r", "completed_at": "2025-11-15T03:00:00",
            "tables": {table: {"rows_in": 3, "rows_staged": 3, "rows_quarantined": 0, "mode": "full",
                               "staged_path": str(zones.partition_dir(root / "staged", source, table, day)
                                                  / "data.parquet")}}}


def test_the_layout():
    folder = DataFolder("/srv/sofli/data")
    assert folder.landing.as_posix() == "/srv/sofli/data/landing"
    assert zones.partition_dir(folder.staged, "boern", "Sag", DAY).as_posix() == \
        "/srv/sofli/data/staged/boern/Sag/extract_date=2025-11-15"
    assert folder.kpi_values.as_posix() == "/srv/sofli/data/kpi/kpi_value.parquet"
    assert folder.dq_mail_log.as_posix() == "/srv/sofli/data/dq/mail_log.json"
    assert folder.kpi_totals_history.as_posix() == "/srv/sofli/data/dq/kpi_totals_history.parquet"
    assert folder.report_dir("2025-Q3", 2).as_posix() == "/srv/sofli/data/reports/2025-Q3/v2"
    assert folder.backfill_model(DAY).as_posix() == "/srv/sofli/data/model/backfill/2025-11-15"
    assert folder.default_warehouse_url() == "sqlite:////srv/sofli/data/warehouse/warehouse.db"
    assert folder.airflow_home.as_posix() == "/srv/sofli/data/airflow"


def test_a_pointer_is_stored_relative_and_read_against_the_current_folder(tmp_path):
    staged_partition(tmp_path)
    zones.write_pointer(tmp_path / "staged", "boern", pointer(tmp_path))
    stored = json.loads((tmp_path / "staged" / "boern" / "CURRENT.json").read_text())
    assert stored["tables"]["Sag"]["staged_path"] == "staged/boern/Sag/extract_date=2025-11-15/data.parquet"
    assert str(tmp_path) not in json.dumps(stored)
    moved = tmp_path.with_name(tmp_path.name + "-moved")
    tmp_path.rename(moved)
    read = zones.read_pointer(moved / "staged", "boern")
    assert read["tables"]["Sag"]["staged_path"] == str(moved / "staged/boern/Sag/extract_date=2025-11-15/data.parquet")
    assert zones.read_pointer(moved / "staged", "voksen") is None


def test_an_old_absolute_pointer_is_re_anchored_when_its_folder_is_gone(tmp_path):
    """Written before paths were relative, in a folder that was then moved: the part from
    `staged/` on is found in the folder as it is now."""
    old, new = tmp_path / "old" / "data", tmp_path / "new" / "data"
    staged_partition(old)
    legacy = pointer(old)  # absolute paths, as the pipeline wrote them before
    (old / "staged" / "boern" / "CURRENT.json").write_text(json.dumps(legacy))
    shutil.move(old, new)
    assert not old.exists()
    path = zones.read_pointer(new / "staged", "boern")["tables"]["Sag"]["staged_path"]
    assert path == str(new / "staged/boern/Sag/extract_date=2025-11-15/data.parquet")
    assert (new / "staged/boern/Sag/extract_date=2025-11-15/data.parquet").read_bytes() == b"PAR1"


def test_an_old_absolute_pointer_in_a_copy_reads_the_copy_not_the_original(tmp_path):
    original, copy = tmp_path / "a" / "data", tmp_path / "b" / "data"
    staged_partition(original)
    (original / "staged" / "boern" / "CURRENT.json").write_text(json.dumps(pointer(original)))
    shutil.copytree(original, copy)
    path = zones.read_pointer(copy / "staged", "boern")["tables"]["Sag"]["staged_path"]
    assert path.startswith(str(copy))


def test_an_old_absolute_path_whose_zone_is_missing_everywhere_still_names_the_current_folder(tmp_path):
    assert zones.resolve_stored("/gone/data/staged/x/y/extract_date=2025-11-15/data.parquet", tmp_path) == \
        tmp_path / "staged/x/y/extract_date=2025-11-15/data.parquet"
    assert zones.resolve_stored("/etc/hostname", tmp_path).as_posix() == "/etc/hostname"  # no zone in it: as it is


def test_validation_records_store_relative_paths_and_read_absolute_ones(tmp_path):
    partition = staged_partition(tmp_path)
    stored = json.loads((partition / "validation.json").read_text())
    assert stored["staged_path"] == "staged/boern/Sag/extract_date=2025-11-15/data.parquet"
    assert stored["quarantine_path"] == "quarantine/boern/Sag/extract_date=2025-11-15/q.parquet"
    assert zones.read_validation(partition)["staged_path"] == str(partition / "data.parquet")


def test_a_task_result_is_portable_and_a_path_outside_the_folder_stays_as_it_is(tmp_path):
    folder = DataFolder(tmp_path)
    result = folder.portable({"path": str(tmp_path / "kpi" / "kpi_value.parquet"), "rows": 3,
                              "html": "/srv/reports/rapport.html", "model_dir": None})
    assert result == {"path": "kpi/kpi_value.parquet", "rows": 3, "html": "/srv/reports/rapport.html",
                      "model_dir": None}
    assert folder.resolve(result["path"]) == tmp_path / "kpi" / "kpi_value.parquet"


def test_partitions_validation_and_the_base_of_an_incremental_extract(tmp_path):
    for day in ("2025-11-12", "2025-11-13", "2025-11-14"):
        staged_partition(tmp_path, day=dt.date.fromisoformat(day), validated=day != "2025-11-14")
    table_dir = tmp_path / "staged" / "boern" / "Sag"
    (table_dir / "extract_date=garbage").mkdir()
    (table_dir / "notes.txt").write_text("not a partition")
    assert [d for d, _ in zones.partitions(table_dir)] == ["2025-11-12", "2025-11-13", "2025-11-14"]
    assert [d for d, _ in zones.validated_partitions(tmp_path / "staged", "boern", "Sag")] == ["2025-11-12", "2025-11-13"]
    base = zones.base_partition(tmp_path / "staged", "boern", "Sag", DAY)
    assert zones.partition_date(base) == "2025-11-13"  # the newest validated before the date, not the unvalidated one
    assert zones.base_partition(tmp_path / "staged", "boern", "Sag", dt.date(2025, 11, 12)) is None
    assert zones.table_dirs(tmp_path / "staged") == [table_dir]


def test_manifests_are_read_and_written_only_here(tmp_path):
    partition = zones.partition_dir(tmp_path / "landing", "klage", "klage", DAY)
    assert zones.read_manifest_if_any(partition) is None
    zones.write_manifest(partition, {"source": "klage", "rows": 4})
    assert zones.read_manifest(partition) == {"source": "klage", "rows": 4}
    assert zones.landed_manifests(tmp_path / "landing") == [{"source": "klage", "rows": 4}]


def test_the_demo_marker(tmp_path):
    folder = DataFolder(tmp_path / "data")
    assert folder.is_empty() and not folder.is_demo()
    folder.mark_demo({"profile": "demo", "seed": 42})
    assert folder.is_demo() and not folder.is_empty()
    marker = json.loads((tmp_path / "data" / ".sofli-demo.json").read_text())
    assert marker == {"created_by": "sofli demo", "profile": "demo", "seed": 42}


def test_model_metadata(tmp_path):
    folder = DataFolder(tmp_path)
    assert zones.read_model_meta(folder.model) is None and zones.model_dirs(folder.model) == []
    for model_dir, day in ((folder.model, "2025-11-15"), (folder.backfill_model(dt.date(2025, 11, 1)), "2025-11-01")):
        model_dir.mkdir(parents=True)
        (model_dir / "model.json").write_text(json.dumps({"extraction_date": day}))
    assert zones.model_extraction_date(folder.model) == "2025-11-15"
    assert zones.model_dirs(folder.model) == [folder.model, folder.backfill_model(dt.date(2025, 11, 1))]


@pytest.mark.parametrize("stored", ["staged/boern/CURRENT.json", "./staged/boern/CURRENT.json"])
def test_relative_paths_are_posix_and_resolve_under_the_folder(tmp_path, stored):
    assert zones.resolve_stored(stored, tmp_path) == tmp_path / "staged" / "boern" / "CURRENT.json"
