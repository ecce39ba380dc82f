"""Retention: exactly the expired CPR-bearing partitions go; current, newest and model dates stay."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging

import pytest

from etl.core.settings import REPO_ROOT, ConfigurationError, Settings
from etl.ops.housekeeping import run_housekeeping

TODAY = dt.date(2025, 11, 15)
ZONES = ("landing", "staged", "quarantine")


def make_partition(root, zone, source, table, day):
    folder = root / zone / source / table / f"extract_date={day}"
    folder.mkdir(parents=True)
    (folder / ("data.parquet" if zone != "quarantine" else "quarantine.parquet")).write_bytes(b"rows")
    (folder / ("manifest.json" if zone == "landing" else "validation.json")).write_text("{}")
    return folder


def partitions(root) -> set[str]:
    return {str(p.relative_to(root)) for zone in ZONES for p in (root / zone).glob("*/*/extract_date=2*")}


@pytest.fixture
def data(tmp_path):
    """boern: daily extracts 1 Sep-15 Nov, current pointer held back at 20 Sep (a source
    that stopped validating); klage: two old extracts only, the newest current; the live
    model was built for 1 Oct."""
    days = [dt.date(2025, 9, 1) + dt.timedelta(days=i) for i in range(76)]
    for zone in ZONES:
        for day in days:
            make_partition(tmp_path, zone, "boern", "Sag", day.isoformat())
        for day in ("2025-08-01", "2025-08-02"):
            make_partition(tmp_path, zone, "klage", "klage", day)
    (tmp_path / "staged" / "boern" / "CURRENT.json").write_text(json.dumps({"extract_date": "2025-09-20"}))
    (tmp_path / "staged" / "klage" / "CURRENT.json").write_text(json.dumps({"extract_date": "2025-08-02"}))
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model.json").write_text(json.dumps({"extraction_date": "2025-10-01"}))
    (tmp_path / "landing" / "boern" / "Sag" / "notes.txt").write_text("not a partition")
    (tmp_path / "landing" / "boern" / "Sag" / "extract_date=garbage").mkdir()
    return Settings(tmp_path, REPO_ROOT / "reference", "demo")


def test_expired_partitions_are_deleted_and_the_protected_ones_kept(data, caplog):
    caplog.set_level(logging.INFO, logger="etl.ops.housekeeping")
    result = run_housekeeping(TODAY, data, days=30)
    # cutoff 16 Oct: boern keeps 16 Oct-15 Nov (31 days), its current 20 Sep and the model's 1 Oct.
    kept_days = {"2025-09-20", "2025-10-01"} | {(dt.date(2025, 10, 16) + dt.timedelta(days=i)).isoformat()
                                                for i in range(31)}
    expected = {f"{zone}/boern/Sag/extract_date={d}" for zone in ZONES for d in kept_days} | {
        f"{zone}/klage/klage/extract_date=2025-08-02" for zone in ZONES}
    assert partitions(data.data_dir) == expected
    deleted_boern = {(dt.date(2025, 9, 1) + dt.timedelta(days=i)).isoformat() for i in range(45)} - kept_days
    assert result == {"retention_days": 30, "cutoff": "2025-10-16", "dry_run": False, "kept": 3 * 34,
                      "deleted": {"landing": 44, "staged": 44, "quarantine": 44},
                      "deleted_dates": sorted(deleted_boern | {"2025-08-01"})}
    assert (data.data_dir / "landing" / "boern" / "Sag" / "notes.txt").exists()
    assert (data.data_dir / "landing" / "boern" / "Sag" / "extract_date=garbage").exists()
    assert (data.data_dir / "staged" / "boern" / "CURRENT.json").exists()
    assert "deleted 132 partition(s)" in caplog.text and "2025-08-01" in caplog.text
    assert "rows" not in caplog.text  # dates and counts only, never file contents


def test_a_partition_exactly_at_the_cutoff_is_kept_and_a_rerun_deletes_nothing(data):
    run_housekeeping(TODAY, data, days=30)
    assert (data.data_dir / "staged" / "boern" / "Sag" / "extract_date=2025-10-16").exists()
    assert not (data.data_dir / "staged" / "boern" / "Sag" / "extract_date=2025-10-15").exists()
    again = run_housekeeping(TODAY, data, days=30)
    assert again["deleted"] == {} and again["deleted_dates"] == []


def test_the_newest_partition_survives_even_without_a_pointer(data):
    (data.data_dir / "staged" / "klage" / "CURRENT.json").unlink()
    run_housekeeping(TODAY, data, days=30)
    assert {p for p in partitions(data.data_dir) if "/klage/" in p} == {
        f"{zone}/klage/klage/extract_date=2025-08-02" for zone in ZONES}


def test_a_dry_run_deletes_nothing(data):
    before = partitions(data.data_dir)
    result = run_housekeeping(TODAY, data, days=30, dry_run=True)
    assert partitions(data.data_dir) == before
    assert result["deleted"] == {"landing": 44, "staged": 44, "quarantine": 44}


def test_retention_days_from_the_settings(tmp_path):
    assert Settings.resolve({"SOFLI_DATA_DIR": str(tmp_path)}).retention_days == 30
    assert Settings.resolve({"SOFLI_DATA_DIR": str(tmp_path), "SOFLI_RETENTION_DAYS": "90"}).retention_days == 90
    for bad, message in (("3", "at least 7"), ("thirty", "whole number")):
        with pytest.raises(ConfigurationError, match=message):
            Settings.resolve({"SOFLI_DATA_DIR": str(tmp_path), "SOFLI_RETENTION_DAYS": bad})
    with pytest.raises(ConfigurationError, match="below the minimum 7"):
        run_housekeeping(TODAY, Settings(tmp_path), days=6)


def test_the_setting_is_used_by_the_run(data):
    result = run_housekeeping(TODAY, dataclasses.replace(data, retention_days=60))
    assert result["cutoff"] == "2025-09-16" and result["deleted"]["staged"] == 16
