"""The model build on hand-built staged tables: linking, soft deletes, references, findings."""

import datetime as dt

import pandas as pd
import pytest
from staged_frames import staged

from etl.core.settings import REPO_ROOT
from etl.core.reference import load_reference
from etl.model.build import build_model
from etl.model.link import Pseudonymiser
from etl.quality.rules import RULES

DAY = dt.date(2025, 11, 15)
T = pd.Timestamp


@pytest.fixture(scope="module")
def model():
    frames = staged(
        boern__Barn=[
            {"BarnId": 1, "CPR": "010215-4001", "Foedselsdato": T("2015-02-01"), "Koen": "M", "OpdateretTid": T("2025-01-01")},
            {"BarnId": 2, "CPR": None, "Foedselsdato": T("2024-06-01"), "Koen": "K", "OpdateretTid": T("2025-01-01")},
        ],
        boern__Sag=[
            {"SagId": 10, "BarnId": 1, "Sagsnummer": "BS-2023-000010", "OprettetDato": T("2023-01-01"), "LukketDato": None,
             "EnhedKode": "BFC-NORD", "SagsbehandlerId": 7, "Maalgruppe": "Socialt udsat", "OpdateretTid": T("2025-01-01"), "Slettet": False},
            {"SagId": 11, "BarnId": 1, "Sagsnummer": "BS-2025-000011", "OprettetDato": T("2025-03-01"), "LukketDato": None,
             "EnhedKode": "BFC-SYD", "SagsbehandlerId": 8, "Maalgruppe": "Handicap", "OpdateretTid": T("2025-01-01"), "Slettet": False},
            {"SagId": 12, "BarnId": 2, "Sagsnummer": "BS-2025-000012", "OprettetDato": T("2025-03-01"), "LukketDato": None,
             "EnhedKode": "BFC-SYD", "SagsbehandlerId": 8, "Maalgruppe": "Handicap", "OpdateretTid": T("2025-01-01"), "Slettet": True},
        ],
        boern__Foranstaltning=[
            {"ForanstaltningId": 100, "SagId": 10, "Paragraf": "SEL § 52, stk. 3, nr. 7", "Kategori": "Anbringelse",
             "Type": "Plejefamilie", "StartDato": T("2023-02-01"), "SlutDato": None, "Leverandoer": "Egen",
             "OpdateretTid": T("2025-01-01"), "Slettet": False},
            {"ForanstaltningId": 101, "SagId": 12, "Paragraf": "BL § 32", "Kategori": "Forebyggende",  # deleted case
             "Type": "Aflastning", "StartDato": T("2025-04-01"), "SlutDato": None, "Leverandoer": "Egen",
             "OpdateretTid": T("2025-01-01"), "Slettet": False},
        ],
        boern__Underretning=[
            {"UnderretningId": 500, "BarnId": 1, "ModtagetTid": T("2024-05-01 10:00"), "VurderetTid": T("2024-05-01 12:00"),
             "Kilde": "Skole", "Akut": False, "OpdateretTid": T("2025-01-01")},
            {"UnderretningId": 501, "BarnId": 1, "ModtagetTid": T("2025-05-01 10:00"), "VurderetTid": None,
             "Kilde": "Politi", "Akut": True, "OpdateretTid": T("2025-01-01")},
        ],
        voksen__borger=[
            {"borger_id": "a", "cpr": "0102154001", "foedselsdato": T("2015-02-01"), "koen": "M", "opdateret": T("2025-01-01")},
            {"borger_id": "b", "cpr": "020390-1234", "foedselsdato": T("1990-03-02"), "koen": "K", "opdateret": T("2025-01-01")},
            {"borger_id": "c", "cpr": "0203901234", "foedselsdato": T("1990-03-02"), "koen": "K", "opdateret": T("2025-01-01")},
            {"borger_id": "d", "cpr": "12345", "foedselsdato": T("1970-01-01"), "koen": "M", "opdateret": T("2025-01-01")},
        ],
        voksen__sag=[
            {"sag_id": 20, "borger_id": "b", "oprettet": T("2024-01-01"), "lukket": None, "enhed_kode": "CSU-ØST",
             "sagsbehandler_id": 3, "maalgruppe": "Psykiatri", "opdateret": T("2025-01-01"), "slettet": False},
        ],
        tilbud__tilbud=[
            {"tilbud_id": 1, "tilbudstype": "Natcafé", "enhed_kode": "TIL-NAT", "pladser": 10, "aktiv_fra": T("2019-01-01"),
             "aktiv_til": None, "opdateret": T("2025-01-01")},
            {"tilbud_id": 2, "tilbudstype": "Herberg §110", "enhed_kode": "TIL-HERB", "pladser": 10, "aktiv_fra": T("2019-01-01"),
             "aktiv_til": None, "opdateret": T("2025-01-01")},
        ],
        tilbud__ophold=[
            {"ophold_id": 1, "tilbud_id": 1, "cpr": None, "indskrevet": T("2025-01-01 20:00"), "udskrevet": T("2025-01-02 08:00"),
             "udskrevet_til": None, "opdateret": T("2025-01-01")},  # anonymous at a natcafé: legitimate
            {"ophold_id": 2, "tilbud_id": 2, "cpr": None, "indskrevet": T("2025-01-01 20:00"), "udskrevet": None,
             "udskrevet_til": None, "opdateret": T("2025-01-01")},  # no CPR at a §110 shelter: DQ05
            {"ophold_id": 3, "tilbud_id": 2, "cpr": "020390 1234", "indskrevet": T("2025-02-01 20:00"), "udskrevet": None,
             "udskrevet_til": None, "opdateret": T("2025-01-01")},
        ],
        klage__klage=[
            {"klage_id": 1, "modtaget_dato": T("2025-06-01"), "klagetype": "Afgørelse", "aarsag": "x", "enhed_kode": "SOF-ADM",
             "kilde_system": "boern", "sagsreference": "bs-2023-000010 ", "genvurdering": None, "ankestyrelse_udfald": None,
             "afgjort_dato": None, "opdateret": T("2025-06-01")},
            {"klage_id": 2, "modtaget_dato": T("2025-06-01"), "klagetype": "Afgørelse", "aarsag": "x", "enhed_kode": "SOF-ADM",
             "kilde_system": "voksen", "sagsreference": "BS-2023-000010", "genvurdering": None, "ankestyrelse_udfald": None,
             "afgjort_dato": None, "opdateret": T("2025-06-01")},  # a boern number named as voksen: no match
            {"klage_id": 3, "modtaget_dato": T("2025-06-01"), "klagetype": "Tilbud", "aarsag": "x", "enhed_kode": "SOF-ADM",
             "kilde_system": "voksen", "sagsreference": " 20", "genvurdering": None, "ankestyrelse_udfald": None,
             "afgjort_dato": None, "opdateret": T("2025-06-01")},
        ],
        cpr__cpr=[
            {"PNR": "0102154001", "FOED_DATO": T("2015-02-01"), "KOEN": "M", "KOMKOD": "0101", "BYDEL": "Valby",
             "STATUS": "01", "STATUS_DATO": T("2015-02-01")},
        ],
    )
    return build_model(frames, load_reference(REPO_ROOT / "reference"), Pseudonymiser(b"test-key-0123456789"), DAY)


def test_one_person_known_by_two_systems_is_one_citizen(model):
    keys = model.link_person.set_index(["source", "source_person_id"])["citizen_key"]
    assert keys[("boern", "1")] == keys[("voksen", "a")]
    assert keys[("voksen", "b")] == keys[("voksen", "c")] == keys[("tilbud", "3")]
    # 3 CPR persons (child 1 = a, b = c = stay 3) + child 2 and borger d without usable CPR
    assert len(model.dim_citizen) == 4
    child = model.dim_citizen.set_index("citizen_key").loc[keys[("boern", "1")]]
    assert (child["municipality_code"], child["bydel"], child["id_kind"]) == ("0101", "Valby", "cpr")


def test_no_cpr_reaches_the_model(model):
    for name, frame in model.tables.items():
        text = frame.astype(str).to_csv()
        for needle in ("0102154001", "010215-4001", "0203901234", "020390"):
            assert needle not in text, (name, needle)


def test_soft_deleted_cases_and_everything_hanging_off_them_are_gone(model):
    assert sorted(model.fact_case["case_id"]) == ["10", "11", "20"]
    assert model.fact_service["service_id"].tolist() == ["100"]
    assert model.fact_service["service_code"].tolist() == ["BL46"]  # old SEL text mapped to Barnets Lov


def test_notification_takes_the_unit_of_the_case_open_when_it_arrived(model):
    units = model.fact_notification.set_index("notification_id")["unit_code"]
    assert units.to_dict() == {"500": "BFC-NORD", "501": "BFC-SYD"}


def test_complaint_references_resolve_within_the_named_system_only(model):
    keys = model.fact_complaint.set_index("complaint_id")["case_key"]
    assert keys["1"] == "boern:10" and pd.isna(keys["2"]) and keys["3"] == "voksen:20"


def test_dq05_and_dq09_from_the_link_step(model):
    dq05 = {(f.source_table, r): bool(x) for f in RULES["DQ05"].check(model) for r, x in zip(f.record_ids, f.failing)}
    assert {k for k, failing in dq05.items() if failing} == {("Barn", "2"), ("borger", "d"), ("ophold", "2")}
    assert ("ophold", "1") not in dq05  # anonymous natcafé stay: not in the population
    dq09 = {(f.source_table, r) for f in RULES["DQ09"].check(model) for r, x in zip(f.record_ids, f.failing) if x}
    assert dq09 == {("borger", "b"), ("borger", "c")}


class CountingPseudonymiser(Pseudonymiser):
    """Records every value hashed under a namespace (what the build asked for)."""

    def __init__(self, key: bytes):
        super().__init__(key)
        self.hashed: dict[str, list[str]] = {}

    def one(self, namespace: str, value: str) -> str:
        self.hashed.setdefault(namespace, []).append(value)
        return super().one(namespace, value)


def test_ids_without_a_person_or_case_get_keys_of_their_own_and_only_they_are_hashed():
    frames = staged(
        boern__Barn=[{"BarnId": 1, "CPR": "010215-4001", "Foedselsdato": T("2015-02-01"), "Koen": "M",
                      "OpdateretTid": T("2025-01-01")}],
        boern__Sag=[
            {"SagId": 10, "BarnId": 1, "Sagsnummer": "BS-10", "OprettetDato": T("2023-01-01"), "LukketDato": None,
             "EnhedKode": "BFC-NORD", "SagsbehandlerId": 7, "Maalgruppe": "Handicap", "OpdateretTid": T("2025-01-01"),
             "Slettet": False},
            {"SagId": 13, "BarnId": 99, "Sagsnummer": "BS-13", "OprettetDato": T("2023-01-01"), "LukketDato": None,
             "EnhedKode": "BFC-NORD", "SagsbehandlerId": 7, "Maalgruppe": "Handicap", "OpdateretTid": T("2025-01-01"),
             "Slettet": False},  # a child the Barn table does not know
        ],
        voksen__afgoerelse=[
            {"afgoerelse_id": 1, "sag_id": 77, "paragraf": "SEL § 85", "ansoegt_dato": T("2025-01-01"),  # no case 77
             "afgoerelse_dato": T("2025-02-01"), "frist_dato": None, "udfald": "Bevilget", "opdateret": T("2025-02-01")},
        ],
    )
    pseudonymiser = CountingPseudonymiser(b"test-key-0123456789")
    built = build_model(frames, load_reference(REPO_ROOT / "reference"), pseudonymiser, DAY)
    cases = built.fact_case.set_index("case_id")["citizen_key"]
    assert cases["10"] == pseudonymiser.one("person", "0102154001")
    assert cases["13"] == pseudonymiser.one("source-person", "boern:Barn:99")
    decision = built.fact_decision.set_index("decision_id").loc["1"]
    assert decision["citizen_key"] == pseudonymiser.one("source-person", "voksen:case:voksen:77")
    # Known children and decisions on known cases are never hashed as fallbacks.
    assert sorted(set(pseudonymiser.hashed["source-person"])) == ["boern:Barn:99", "voksen:case:voksen:77"]
