"""Row accounting from staged extracts to the model (DQ14's counts, etl/model/accounting.py).

One small night built by hand, with every documented way a row may leave: soft-deleted
itself, hanging off a soft-deleted case (counted once when both), an employment row with
no usable CPR or repeating a person's month. The expected counts below were worked out
row by row from the frames, not from the code.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from staged_frames import staged

from etl.core.settings import REPO_ROOT
from etl.model import Model
from etl.model.accounting import MAPPINGS, account_rows, unplaceable_employment_rows
from etl.model.build import build_model, load_reference
from etl.model.link import Pseudonymiser

DAY = dt.date(2025, 11, 15)
T = pd.Timestamp
TS = T("2025-01-01")


def sag(sag_id, deleted):
    return {"SagId": sag_id, "BarnId": 1, "Sagsnummer": f"BS-{sag_id}", "OprettetDato": T("2024-01-01"),
            "LukketDato": None, "EnhedKode": "BFC-NORD", "SagsbehandlerId": 7, "Maalgruppe": "Handicap",
            "OpdateretTid": TS, "Slettet": deleted}


def measure(measure_id, sag_id, deleted):
    return {"ForanstaltningId": measure_id, "SagId": sag_id, "Paragraf": "BL § 32", "Kategori": "Forebyggende",
            "Type": "Aflastning", "StartDato": T("2024-02-01"), "SlutDato": None, "Leverandoer": "Egen",
            "OpdateretTid": TS, "Slettet": deleted}


def decision(decision_id, sag_id):
    return {"AfgoerelseId": decision_id, "SagId": sag_id, "Paragraf": "BL § 32", "AnsoegningDato": T("2024-01-05"),
            "AfgoerelseDato": T("2024-01-20"), "FristDato": None, "Udfald": "Bevilget", "OpdateretTid": TS}


def employment(cpr, month):
    return {"cpr": cpr, "maaned": T(month), "status": "Ledig", "afsluttet_uddannelse": False}


@pytest.fixture(scope="module")
def night():
    frames = staged(
        boern__Barn=[
            {"BarnId": 1, "CPR": "010215-4001", "Foedselsdato": T("2015-02-01"), "Koen": "M", "OpdateretTid": TS},
            {"BarnId": 2, "CPR": None, "Foedselsdato": T("2024-06-01"), "Koen": "K", "OpdateretTid": TS},
        ],
        # 11 soft-deleted; a NULL flag is not a deletion
        boern__Sag=[sag(10, False), sag(11, True), sag(12, None)],
        # 101 hangs off deleted case 11; 102 names a case nobody knows: kept, not dropped
        boern__Afgoerelse=[decision(100, 10), decision(101, 11), decision(102, 99)],
        # 201 deleted itself; 202 on deleted case 11; 203 both, counted once as deleted itself
        boern__Foranstaltning=[measure(200, 10, False), measure(201, 10, True), measure(202, 11, False),
                               measure(203, 11, True)],
        boern__Undersoegelse=[
            {"UndersoegelseId": i, "SagId": s, "Paragraf": "BL § 20", "StartDato": T("2024-03-01"), "FristDato": None,
             "AfsluttetDato": None, "OpdateretTid": TS} for i, s in ((300, 10), (301, 11))],
        boern__Handleplan=[{"HandleplanId": 400, "SagId": 11, "AfgoerelseId": 101, "Dato": T("2024-02-01"),
                            "NaesteOpfoelgning": None, "OpdateretTid": TS}],
        boern__Underretning=[{"UnderretningId": 500, "BarnId": 1, "ModtagetTid": T("2024-05-01 10:00"),
                              "VurderetTid": None, "Kilde": "Skole", "Akut": False, "OpdateretTid": TS}],
        voksen__borger=[
            {"borger_id": "a", "cpr": "0102154001", "foedselsdato": T("2015-02-01"), "koen": "M", "opdateret": TS},
            {"borger_id": "b", "cpr": None, "foedselsdato": T("1980-01-01"), "koen": "K", "opdateret": TS},
        ],
        voksen__sag=[
            {"sag_id": s, "borger_id": "a", "oprettet": T("2024-01-01"), "lukket": None, "enhed_kode": "CSU-ØST",
             "sagsbehandler_id": 3, "maalgruppe": "Psykiatri", "opdateret": TS, "slettet": d}
            for s, d in ((20, False), (21, True))],
        voksen__afgoerelse=[{"afgoerelse_id": 30, "sag_id": 21, "paragraf": "SEL § 85", "ansoegt_dato": None,
                             "afgoerelse_dato": T("2024-02-01"), "frist_dato": None, "udfald": "Afslag",
                             "opdateret": TS}],
        # 40 deleted itself on a live case; 41 on deleted case 21
        voksen__ydelse=[
            {"ydelse_id": y, "sag_id": s, "afgoerelse_id": None, "paragraf": "SEL § 85", "ydelsestype": "Bostøtte",
             "start_dato": T("2024-02-01"), "slut_dato": None, "tilbud_id": None, "opdateret": TS, "slettet": d}
            for y, s, d in ((40, 20, True), (41, 21, False))],
        tilbud__tilbud=[{"tilbud_id": 1, "tilbudstype": "Herberg §110", "enhed_kode": "TIL-HERB", "pladser": 10,
                         "aktiv_fra": T("2019-01-01"), "aktiv_til": None, "opdateret": TS}],
        tilbud__ophold=[
            {"ophold_id": o, "tilbud_id": 1, "cpr": cpr, "indskrevet": T("2025-01-01 20:00"), "udskrevet": None,
             "udskrevet_til": None, "opdateret": TS} for o, cpr in ((1, "0102154001"), (2, None))],
        klage__klage=[{"klage_id": 1, "modtaget_dato": T("2025-06-01"), "klagetype": "Andet", "aarsag": "x",
                       "enhed_kode": "SOF-ADM", "kilde_system": None, "sagsreference": None, "genvurdering": None,
                       "ankestyrelse_udfald": None, "afgjort_dato": None, "opdateret": TS}],
        # the second is the first person's October again (dashes do not matter); the third has no usable CPR
        beskaeftigelse__beskaeftigelse=[employment("010215-4001", "2025-10-01"), employment("0102154001", "2025-10-01"),
                                        employment("12345", "2025-10-01"), employment("010215-4001", "2025-11-01")],
    )
    model = build_model(frames, load_reference(REPO_ROOT / "reference"), Pseudonymiser(b"test-key-0123456789"), DAY)
    return frames, model


#: (source, table) -> staged, dropped soft-deleted, dropped on a deleted case, dropped unplaceable, model rows.
EXPECTED = {
    ("boern", "Sag"): (3, 1, 0, 0, 2),
    ("voksen", "sag"): (2, 1, 0, 0, 1),
    ("boern", "Afgoerelse"): (3, 0, 1, 0, 2),
    ("voksen", "afgoerelse"): (1, 0, 1, 0, 0),
    ("boern", "Foranstaltning"): (4, 2, 1, 0, 1),
    ("voksen", "ydelse"): (2, 1, 1, 0, 0),
    ("boern", "Undersoegelse"): (2, 0, 1, 0, 1),
    ("boern", "Handleplan"): (1, 0, 1, 0, 0),
    ("boern", "Underretning"): (1, 0, 0, 0, 1),
    ("tilbud", "tilbud"): (1, 0, 0, 0, 1),
    ("tilbud", "ophold"): (2, 0, 0, 0, 2),
    ("tilbud", "magtanvendelse"): (0, 0, 0, 0, 0),
    ("klage", "klage"): (1, 0, 0, 0, 1),
    ("voksen", "venteliste"): (0, 0, 0, 0, 0),
    ("voksen", "funktionsvurdering"): (0, 0, 0, 0, 0),
    ("hr", "medarbejder"): (0, 0, 0, 0, 0),
    ("hr", "fravaer"): (0, 0, 0, 0, 0),
    ("hr", "rekruttering"): (0, 0, 0, 0, 0),
    ("hr", "arbejdsmiljoe_haendelse"): (0, 0, 0, 0, 0),
    ("beskaeftigelse", "beskaeftigelse"): (4, 0, 0, 2, 2),
    ("boern", "Barn"): (2, 0, 0, 0, 2),  # every person row is one link, with or without a CPR
    ("voksen", "borger"): (2, 0, 0, 0, 2),
}


def test_every_staged_row_is_in_the_model_or_dropped_for_its_reason(night):
    frames, model = night
    accounting = account_rows(frames, model)
    got = {(r.source, r.source_table): (r.staged, r.dropped_soft_deleted, r.dropped_deleted_case,
                                        r.dropped_unplaceable, r.model) for r in accounting.itertuples()}
    assert got == EXPECTED
    assert (accounting["expected"] == accounting["staged"] - accounting["dropped_soft_deleted"]
            - accounting["dropped_deleted_case"] - accounting["dropped_unplaceable"]).all()
    assert (accounting["expected"] == accounting["model"]).all()  # this build loses nothing
    assert accounting.set_index(["source", "source_table"]).loc[("boern", "Barn"), "model_table"] == "link_person"


def test_a_row_the_model_loses_shows_as_a_gap(night):
    frames, built = night
    model = Model(built.extraction_date, built.extraction_time, dict(built.tables))  # the fixture stays whole
    decisions = model.fact_decision
    model.replace_table("fact_decision", decisions[decisions["decision_id"] != "102"])  # the one on an unknown case
    accounting = account_rows(frames, model).set_index(["source", "source_table"])
    gaps = accounting[accounting["expected"] != accounting["model"]]
    assert gaps[["expected", "model"]].to_dict("index") == {("boern", "Afgoerelse"): {"expected": 2, "model": 1}}


def test_every_table_of_the_model_build_is_accounted_for():
    """A source table the build reads but accounting forgets would vanish unseen: every
    staged table with rows of its own in the model is mapped. Not mapped: the CPR file
    (it only feeds demographics and DQ05) and the caseworker register, which the build
    does not read (a case carries its caseworker's id itself)."""
    mapped = {(m.source, m.table) for m in MAPPINGS} | {("boern", "Barn"), ("voksen", "borger")}
    assert set(staged()) - mapped == {("cpr", "cpr"), ("boern", "Sagsbehandler")}


@pytest.mark.parametrize(("cprs", "unplaceable"), [
    ((), 0),
    (("010215-4001", "0102154001"), 1),  # one person's month twice, however written
    (("12345", None, "010215-400"), 3),  # too short, missing, one digit lost beyond repair
    (("6102154001", "6102154001"), 1),  # a replacement number (day + 60) is usable, so its repeat counts
    (("010215-4001", "020390-1234"), 0),
])
def test_unplaceable_employment_rows(cprs, unplaceable):
    frame = pd.DataFrame({"cpr": pd.Series(cprs, dtype="str"), "maaned": T("2025-10-01")})
    assert unplaceable_employment_rows(frame) == unplaceable
