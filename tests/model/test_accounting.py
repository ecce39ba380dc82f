"""Row accounting (DQ14's model leg): every staged row is in the model or dropped for a stated reason.

The expected counts below are worked out by hand from the rows, not by the code."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from model_files import account_rows
from staged_frames import staged

from etl.core.settings import REPO_ROOT
from etl.model.accounting import unplaceable_rows
from etl.core.reference import load_reference
from etl.model.build import build_model
from etl.model.link import Pseudonymiser
from etl.model.registry import MODEL_SOURCES, entry

DAY = dt.date(2025, 11, 15)
T = pd.Timestamp
EMPLOYMENT = entry("beskaeftigelse", "beskaeftigelse")
COUNTS = ["staged", "dropped_soft_deleted", "dropped_deleted_case", "dropped_unplaceable", "expected", "model"]


def case(sag_id: int, deleted) -> dict:
    return {"SagId": sag_id, "BarnId": 1, "Sagsnummer": f"BS-{sag_id}", "OprettetDato": T("2024-01-01"),
            "EnhedKode": "BFC-NORD", "Maalgruppe": "Handicap", "OpdateretTid": T("2025-01-01"), "Slettet": deleted}


def measure(measure_id: int, sag_id: int, deleted) -> dict:
    return {"ForanstaltningId": measure_id, "SagId": sag_id, "Paragraf": "BL § 32", "Kategori": "Forebyggende",
            "Type": "Aflastning", "Leverandoer": "Egen", "OpdateretTid": T("2025-01-01"), "Slettet": deleted}


def decision(decision_id: int, sag_id: int) -> dict:
    return {"AfgoerelseId": decision_id, "SagId": sag_id, "Paragraf": "BL § 32", "AfgoerelseDato": T("2025-02-01"),
            "Udfald": "Bevilget", "OpdateretTid": T("2025-02-01")}


def status(cpr, month: str) -> dict:
    return {"cpr": cpr, "maaned": T(month), "status": "Ledig", "afsluttet_uddannelse": False}


@pytest.fixture(scope="module")
def night():
    frames = staged(
        boern__Barn=[{"BarnId": 1, "CPR": "010215-4001", "Foedselsdato": T("2015-02-01"), "Koen": "M",
                      "OpdateretTid": T("2025-01-01")},
                     {"BarnId": 2, "CPR": None, "Foedselsdato": T("2016-02-01"), "Koen": "K",
                      "OpdateretTid": T("2025-01-01")}],
        boern__Sag=[case(10, False), case(11, True), case(12, None)],
        boern__Foranstaltning=[
            measure(100, 10, False),  # kept
            measure(101, 11, False),  # on the deleted case 11
            measure(102, 11, True),  # soft-deleted itself (and on a deleted case): counted once, as soft-deleted
            measure(103, 12, True),  # soft-deleted
            measure(104, 99, None),  # a case the extract does not have: kept, a citizen of its own
        ],
        boern__Afgoerelse=[decision(1, 10), decision(2, 11)],
        beskaeftigelse__beskaeftigelse=[
            status("0102154001", "2025-01-01"),
            status("010215-4001", "2025-01-01"),  # the same person and month once normalised
            status("12345", "2025-01-01"),  # not a CPR
            status(None, "2025-02-01"),  # no CPR
            status("0102154001", "2025-02-01"),
        ],
        hr__medarbejder=[{"medarbejder_nr": 7, "cpr": 102154001, "enhed_kode": "4010202", "stillingskategori": "Leder",
                          "ansat_dato": T("2020-01-01"), "beskaeftigelsesgrad": 1.0, "opdateret": T("2025-01-01")}],
    )
    model = build_model(frames, load_reference(REPO_ROOT / "reference"), Pseudonymiser(b"test-key-0123456789"), DAY)
    return frames, model


def counts(accounting: pd.DataFrame, source: str, table: str) -> list[int]:
    return accounting.set_index(["source", "source_table"]).loc[(source, table), COUNTS].tolist()


def test_every_registry_table_is_accounted_for_once_builders_first_then_person_registers(night):
    accounting = account_rows(*night)
    placed = [e for e in MODEL_SOURCES if not e.linked_only]
    linked = [e for e in MODEL_SOURCES if e.linked_only]
    assert list(zip(accounting["source"], accounting["source_table"], accounting["model_table"])) == [
        (e.source, e.table, e.model_table) for e in placed + linked]


def test_documented_drops_and_model_rows_by_hand(night):
    accounting = account_rows(*night)
    assert counts(accounting, "boern", "Sag") == [3, 1, 0, 0, 2, 2]
    assert counts(accounting, "boern", "Foranstaltning") == [5, 2, 1, 0, 2, 2]
    assert counts(accounting, "boern", "Afgoerelse") == [2, 0, 1, 0, 1, 1]
    assert counts(accounting, "beskaeftigelse", "beskaeftigelse") == [5, 0, 0, 3, 2, 2]
    assert counts(accounting, "boern", "Barn") == [2, 0, 0, 0, 2, 2]
    assert counts(accounting, "hr", "medarbejder") == [1, 0, 0, 0, 1, 1]
    assert counts(accounting, "voksen", "ydelse") == [0, 0, 0, 0, 0, 0]
    assert (accounting["expected"] == accounting["model"]).all()
    assert unplaceable_rows(night[0][("beskaeftigelse", "beskaeftigelse")], EMPLOYMENT) == 3


def test_a_row_lost_in_the_model_shows_as_a_gap(night):
    frames, model = night
    services = model.fact_service
    lossy = type(model)(model.extraction_date, model.extraction_time, dict(model.tables))
    lossy.replace_table("fact_service", services[services["service_id"] != "104"])
    accounting = account_rows(frames, lossy)
    gaps = accounting[accounting["expected"] != accounting["model"]]
    assert gaps[["source_table", "expected", "model"]].values.tolist() == [["Foranstaltning", 2, 1]]


@pytest.fixture(scope="module")
def deleted_cases():
    """Both systems' tables hanging off cases, each with a row on a soft-deleted case."""
    ts = T("2025-01-01")
    frames = staged(
        boern__Barn=[{"BarnId": 1, "CPR": "010215-4001", "Foedselsdato": T("2015-02-01"), "Koen": "M",
                      "OpdateretTid": ts}],
        boern__Sag=[case(10, False), case(11, True)],
        boern__Undersoegelse=[
            {"UndersoegelseId": i, "SagId": s, "Paragraf": "BL § 20", "StartDato": T("2024-03-01"), "OpdateretTid": ts}
            for i, s in ((300, 10), (301, 11))],
        boern__Handleplan=[{"HandleplanId": 400, "SagId": 11, "Dato": T("2024-02-01"), "OpdateretTid": ts}],
        voksen__borger=[{"borger_id": "a", "cpr": "0102154001", "foedselsdato": T("2015-02-01"), "koen": "M",
                         "opdateret": ts}],
        voksen__sag=[
            {"sag_id": s, "borger_id": "a", "oprettet": T("2024-01-01"), "enhed_kode": "CSU-ØST",
             "maalgruppe": "Psykiatri", "opdateret": ts, "slettet": d} for s, d in ((20, False), (21, True))],
        voksen__afgoerelse=[{"afgoerelse_id": 30, "sag_id": 21, "paragraf": "SEL § 85",
                             "afgoerelse_dato": T("2024-02-01"), "udfald": "Afslag", "opdateret": ts}],
        voksen__ydelse=[  # 40 soft-deleted itself on a live case; 41 on the deleted case 21
            {"ydelse_id": y, "sag_id": s, "paragraf": "SEL § 85", "ydelsestype": "Bostøtte",
             "start_dato": T("2024-02-01"), "opdateret": ts, "slettet": d} for y, s, d in ((40, 20, True), (41, 21, False))],
    )
    model = build_model(frames, load_reference(REPO_ROOT / "reference"), Pseudonymiser(b"test-key-0123456789"), DAY)
    return frames, model


def test_rows_on_a_deleted_case_drop_from_every_table_hanging_off_cases(deleted_cases):
    accounting = account_rows(*deleted_cases)
    assert counts(accounting, "voksen", "sag") == [2, 1, 0, 0, 1, 1]
    assert counts(accounting, "voksen", "afgoerelse") == [1, 0, 1, 0, 0, 0]
    assert counts(accounting, "voksen", "ydelse") == [2, 1, 1, 0, 0, 0]
    assert counts(accounting, "boern", "Undersoegelse") == [2, 0, 1, 0, 1, 1]
    assert counts(accounting, "boern", "Handleplan") == [1, 0, 1, 0, 0, 0]
    assert (accounting["expected"] == accounting["model"]).all()


@pytest.mark.parametrize(("cprs", "unplaceable"), [
    ((), 0),
    (("010215-4001", "0102154001"), 1),  # one person's month twice, however written
    (("12345", None, "010215-400"), 3),  # too short, missing, a digit lost beyond repair
    (("6102154001", "6102154001"), 1),  # a replacement number (day + 60) is usable, so its repeat counts
    (("010215-4001", "020390-1234"), 0),
])
def test_unplaceable_employment_rows(cprs, unplaceable):
    """No usable CPR, or a second row for the same person and month."""
    frame = pd.DataFrame({"cpr": pd.Series(cprs, dtype="str"), "maaned": T("2025-10-01")})
    assert unplaceable_rows(frame, EMPLOYMENT) == unplaceable
