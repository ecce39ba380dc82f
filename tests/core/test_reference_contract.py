"""The reference folder as a checked contract (issue 20): every violation is named with its
file, line and fix, by `check_reference`, by `load_reference` (which every stage uses) and
by `sofli check-reference DIR`; none degrades into an empty KPI."""

from __future__ import annotations

import datetime as dt
import shutil

import pandas as pd
import pytest

from etl.cli.main import main
from etl.core.reference import ReferenceDataError, check_reference, load_reference
from etl.core.roles import ROLES
from etl.core.settings import REPO_ROOT, Settings
from etl.model.stage import run_model_stage


@pytest.fixture
def folder(tmp_path):
    target = tmp_path / "reference"
    shutil.copytree(REPO_ROOT / "reference", target)
    return target


def _edit(folder, name: str, change) -> None:
    frame = pd.read_csv(folder / name, dtype=str, keep_default_na=False)
    change(frame).to_csv(folder / name, index=False)


def _problems(folder) -> list[str]:
    return [str(p) for p in check_reference(folder)]


def test_the_shipped_folder_keeps_its_contract_and_declares_every_role():
    assert check_reference(REPO_ROOT / "reference") == []
    roles = load_reference(REPO_ROOT / "reference")["ref_role"]
    declared = set(zip(roles["kind"], roles["role"]))
    assert declared == {(r.kind, r.name) for r in ROLES}


def test_a_removed_role_fails_loudly_naming_it(folder):
    _edit(folder, "service_roles.csv", lambda f: f[f["role"] != "substance_treatment"])
    problems = _problems(folder)
    assert len(problems) == 1
    assert problems[0].startswith("service_roles.csv: required role 'substance_treatment'")
    assert "T3.09, T4.03" in problems[0] and "fix: add a line substance_treatment,<service_code>" in problems[0]
    with pytest.raises(ReferenceDataError, match="substance_treatment"):
        load_reference(folder)


def test_an_optional_role_may_be_left_out(folder):
    _edit(folder, "facility_roles.csv", lambda f: f[f["role"] != "natcafe"])  # a municipality without natcaféer
    assert _problems(folder) == []


def test_a_missing_role_file_and_a_missing_column(folder):
    (folder / "facility_roles.csv").unlink()
    _edit(folder, "deadlines.csv", lambda f: f.drop(columns=["basis"]))
    assert _problems(folder) == [
        "deadlines.csv:1: missing column(s) ['basis']; the header is ['service_code', 'deadline_days'] — fix: use "
        "the header line service_code,deadline_days,basis",
        f"facility_roles.csv: file not found in {folder} — fix: add facility_roles.csv with the header line "
        "role,facility_type",
    ]


def test_a_code_in_two_roles_that_exclude_each_other(folder):
    _edit(folder, "facility_roles.csv",
          lambda f: pd.concat([f, pd.DataFrame({"role": ["crisis_centre"], "facility_type": ["Natcafé"]})]))
    assert _problems(folder) == [
        "facility_roles.csv:8: 'Natcafé' is declared as crisis_centre and as natcafe (line 5); the two exclude "
        "each other — fix: keep the code in one of the two roles"]


def test_unknown_roles_types_codes_and_duplicates(folder):
    _edit(folder, "service_roles.csv", lambda f: pd.concat([f, pd.DataFrame(
        {"role": ["detox", "plan_required", "plan_required"], "service_code": ["SEL101", "BL32", "XX9"]})]))
    _edit(folder, "facility_roles.csv", lambda f: pd.concat([f, pd.DataFrame(
        {"role": ["shelter"], "facility_type": ["Varmestue"]})]))
    problems = _problems(folder)
    assert [p.split(" — ")[0] for p in problems] == [
        "service_roles.csv:7: role 'detox' is not a service role",
        "service_roles.csv:8: 'BL32' is declared twice as plan_required",
        "service_roles.csv:9: service code 'XX9' is not a service code of paragraphs.csv",
        "facility_roles.csv:8: facility type 'Varmestue' is not a tilbudstype of the tilbud contract",
    ]


def test_organisation_overlaps_dates_areas_and_duplicate_keys(folder):
    extra = pd.DataFrame([
        # BFC-NORD is valid from 2019-01-01 open-ended: a second period from 2024 overlaps it
        {"unit_code": "BFC-NORD", "system": "boern", "unit": "x", "center": "y", "area": "Børn og Unge",
         "valid_from": "2024-01-01", "valid_to": ""},
        {"unit_code": "NEW-1", "system": "voksen", "unit": "x", "center": "y", "area": "Ældre",
         "valid_from": "2024-13-01", "valid_to": ""},
        {"unit_code": "NEW-2", "system": "voksen", "unit": "x", "center": "y", "area": "Voksne",
         "valid_from": "2024-01-01", "valid_to": "2023-12-31"},
        {"unit_code": "NEW-2", "system": "voksen", "unit": "x", "center": "y", "area": "Voksne",
         "valid_from": "2024-01-01", "valid_to": ""},
    ])
    _edit(folder, "organisation.csv", lambda f: pd.concat([f, extra], ignore_index=True))
    lines = len(pd.read_csv(REPO_ROOT / "reference" / "organisation.csv")) + 1  # the last shipped line
    problems = _problems(folder)
    assert [p.split(" — ")[0] for p in problems] == [
        f"organisation.csv:{lines + 2}: area 'Ældre' is not a known area",
        f"organisation.csv:{lines + 2}: valid_from '2024-13-01' is not a date",
        f"organisation.csv:{lines + 3}: valid_to is before valid_from",
        f"organisation.csv:{lines + 4}: unit NEW-2 from 2024-01-01 is listed twice",
        f"organisation.csv:{lines + 1}: unit BFC-NORD: validity from 2024-01-01 overlaps the unit's earlier period",
    ]


def test_paragraphs_and_deadlines(folder):
    _edit(folder, "paragraphs.csv", lambda f: pd.concat([f, f.iloc[[0]]], ignore_index=True))
    _edit(folder, "deadlines.csv", lambda f: f.assign(deadline_days=f["deadline_days"].where(f.index != 0, "8 uger")))
    assert [p.split(" — ")[0] for p in _problems(folder)] == [
        "paragraphs.csv:27: paragraph text 'SEL §50' is mapped twice",
        "deadlines.csv:2: deadline_days '8 uger' is not a whole number of days",
    ]


def test_sofli_check_reference_prints_every_problem_and_exits_non_zero(folder, capsys):
    _edit(folder, "service_roles.csv", lambda f: f[f["role"] != "plan_required"])
    assert main(["check-reference", str(folder)]) == 1
    out = capsys.readouterr()
    assert out.out.startswith("service_roles.csv: required role 'plan_required'")
    assert "1 problem(s)" in out.err
    assert main(["check-reference", str(REPO_ROOT / "reference")]) == 0


def test_the_model_stage_refuses_the_folder(folder, tmp_path):
    """The model stage loads the reference before it builds: a broken folder stops it with the problem."""
    _edit(folder, "facility_roles.csv", lambda f: f[f["role"] != "shelter"])
    settings = Settings(tmp_path / "data", folder, "demo")
    with pytest.raises(ReferenceDataError, match="facility_roles.csv: required role 'shelter'"):
        run_model_stage(settings, dt.date(2025, 11, 15))


def test_service_types_a_foreign_source_a_duplicate_an_empty_type_and_an_empty_list(folder):
    _edit(folder, "service_types.csv", lambda f: pd.concat([f, pd.DataFrame(
        {"source": ["boern", "voksen", "voksen"], "service_type": ["Plejefamilie", "Bostøtte", ""]})]))
    lines = len(pd.read_csv(REPO_ROOT / "reference" / "service_types.csv")) + 1
    assert [p.split(" — ")[0] for p in _problems(folder)] == [
        f"service_types.csv:{lines + 1}: source 'boern' does not list its types here",
        f"service_types.csv:{lines + 3}: service_type is empty",
        f"service_types.csv:{lines + 2}: 'Bostøtte' is listed twice",
    ]
    _edit(folder, "service_types.csv", lambda f: f.iloc[0:0])  # the header alone
    (problem,) = check_reference(folder)
    assert str(problem).startswith("service_types.csv: no type listed for voksen: every service would be Ukendt")
