"""A monthly drop file over several nights, on real files: read whole when the drop folder
changed, carried over untouched when it holds the very files of the night before."""

import datetime as dt
import hashlib
import json

import pandas as pd
import pytest

from etl.core.settings import REPO_ROOT, Settings
from etl.tasks import extract as extract_tasks

HEADER = "\ufeffcpr,maaned,status,afsluttet_uddannelse\n"
OCTOBER = HEADER + "010203-1234,2025-10,Beskæftiget,0\n020304-2345,2025-10,Ledig,0\n030405-3456,2025-10,Ude,x\n"
# (the third row is quarantined for its completed-education bit `x`; its status `Ude`, outside the
# contract, would alone only be read as Ukendt and reported by DQ20)
NOVEMBER = HEADER + "010203-1234,2025-11,Uddannelse,1\n020304-2345,2025-11,Ledig,0\n"


@pytest.fixture
def drop(tmp_path):
    folder = tmp_path / "sources" / "drop"
    folder.mkdir(parents=True)
    (folder / "beskaeftigelse_202510.csv").write_bytes(OCTOBER.encode())
    (folder / "beskaeftigelse_202511.csv").write_bytes(NOVEMBER.encode())
    return folder


def night(settings, day):
    extract_tasks.extract_source("beskaeftigelse", day, f"night-{day}", settings)
    part = f"beskaeftigelse/beskaeftigelse/extract_date={day}"
    manifest = json.loads((settings.landing_dir / part / "manifest.json").read_text())
    validation = json.loads((settings.staged_dir / part / "validation.json").read_text())
    staged = pd.read_parquet(settings.staged_dir / part / "data.parquet")
    quarantined = pd.read_parquet(settings.quarantine_dir / part / "quarantine.parquet")
    return manifest, validation, staged, quarantined


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_unchanged_monthly_files_are_carried_and_changed_ones_read_whole(tmp_path, drop):
    settings = Settings(tmp_path, REPO_ROOT / "reference", "demo")
    files = {p.name: digest(p) for p in sorted(drop.iterdir())}

    manifest, validation, first, quarantined = night(settings, dt.date(2025, 11, 15))
    assert (manifest["mode"], manifest["rows"], manifest["files"]) == ("full", 5, files)
    assert (validation["rows_in"], validation["rows_staged"], validation["rows_quarantined"]) == (5, 4, 1)
    assert validation["source_files"] == files and quarantined["status"].tolist() == ["Ude"]

    # The next night the folder holds the same two files: nothing is read, the base is carried.
    manifest, validation, second, quarantined = night(settings, dt.date(2025, 11, 16))
    assert (manifest["mode"], manifest["rows"], manifest["files"]) == ("incremental", 0, files)
    assert manifest["plan"]["reason"] == ("the drop file(s) are those of 2025-11-15 (same names and SHA-256): "
                                          "nothing to read")
    assert (validation["rows_in"], validation["rows_carried"], validation["rows_total"], validation["mode"],
            validation["base_extract_date"], validation["last_full_extract_date"]) == (
        0, 4, 4, "incremental", "2025-11-15", "2025-11-15")
    assert validation["source_files"] == files and len(quarantined) == 0
    pd.testing.assert_frame_equal(second, first)
    current = json.loads((settings.staged_dir / "beskaeftigelse" / "CURRENT.json").read_text())
    assert current["extract_date"] == "2025-11-16"
    assert current["tables"]["beskaeftigelse"]["rows_total"] == 4

    # November's file is delivered again, corrected: everything is read whole again.
    (drop / "beskaeftigelse_202511.csv").write_bytes(NOVEMBER.replace("Uddannelse,1", "Beskæftiget,1").encode())
    manifest, validation, third, quarantined = night(settings, dt.date(2025, 11, 17))
    assert manifest["mode"] == "full"
    assert manifest["plan"]["reason"] == "drop file(s) replaced beskaeftigelse_202511.csv since 2025-11-16"
    assert (validation["rows_in"], validation["rows_staged"], validation["rows_carried"]) == (5, 4, 0)
    assert len(quarantined) == 1
    november = third[third["maaned"] == pd.Timestamp("2025-11-01")]
    assert november["status"].tolist() == ["Beskæftiget", "Ledig"]

    # December's file arrives: read whole, with the new month.
    (drop / "beskaeftigelse_202512.csv").write_bytes((HEADER + "010203-1234,2025-12,Ledig,0\n").encode())
    manifest, validation, fourth, _ = night(settings, dt.date(2025, 11, 18))
    assert manifest["plan"]["reason"] == "drop file(s) new beskaeftigelse_202512.csv since 2025-11-17"
    assert validation["rows_total"] == 5 and len(manifest["files"]) == 3

    # Unchanged files a week after the last full read: read whole (the weekly safety net).
    manifest, validation, _, _ = night(settings, dt.date(2025, 11, 24))
    assert (manifest["mode"], validation["rows_carried"]) == ("incremental", 5)
    manifest, validation, fifth, quarantined = night(settings, dt.date(2025, 11, 25))
    assert manifest["plan"]["reason"] == "the last full extract (2025-11-18) is 7+ days old"
    assert (manifest["mode"], validation["rows_in"], len(quarantined)) == ("full", 6, 1)
    pd.testing.assert_frame_equal(fifth, fourth)


def test_a_missing_monthly_folder_still_fails_loudly_after_a_carried_night(tmp_path, drop):
    settings = Settings(tmp_path, REPO_ROOT / "reference", "demo")
    night(settings, dt.date(2025, 11, 15))
    for path in drop.iterdir():
        path.unlink()
    with pytest.raises(Exception, match="expected file missing"):
        night(settings, dt.date(2025, 11, 16))
