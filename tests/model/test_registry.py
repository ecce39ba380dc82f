"""The model registry: entries checked against the contracts, builders against their inputs,
soft deletes read from the contracts, and what the build and the quality rules derive from it."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pandas as pd
import pytest
from model_files import account_rows
from staged_frames import staged

from etl.core.settings import REPO_ROOT
from etl.core.tables import col
from etl.model import Model, registry
from etl.core.reference import load_reference
from etl.model.build import build_model
from etl.model.link import Pseudonymiser
from etl.model.registry import (
    MODEL_SOURCES,
    ModelSource,
    PersonColumns,
    _check_registry,
    builds,
    entry,
    person_entries,
    sources_feeding,
    split_by_source_table,
)
from etl.sources import SOURCES

DAY = dt.date(2025, 11, 15)
T = pd.Timestamp


def build(frames) -> Model:
    return build_model(frames, load_reference(REPO_ROOT / "reference"), Pseudonymiser(b"test-key-0123456789"), DAY)


def test_soft_delete_columns_are_the_contracts():
    assert all(e.soft_delete == e.spec.soft_delete for e in MODEL_SOURCES)
    # the contract (shared/spec/sources.md) soft-deletes cases and services/measures in both systems
    assert {e.label: e.soft_delete for e in MODEL_SOURCES if e.soft_delete} == {
        "boern.Sag": "Slettet", "voksen.sag": "slettet", "boern.Foranstaltning": "Slettet", "voksen.ydelse": "slettet"}


def waiting(waiting_id: int, deleted) -> dict:
    return {"venteliste_id": waiting_id, "borger_id": "a", "tilbudstype": "§107", "opskrevet_dato": T("2025-01-01"),
            "opdateret": T("2025-01-01"), "slettet": deleted}


def test_a_soft_delete_added_to_a_contract_is_honoured_without_touching_the_registry(monkeypatch):
    voksen = SOURCES["voksen"]
    venteliste = voksen.table("venteliste")
    with_flag = replace(venteliste, columns=(*venteliste.columns, col("slettet", "bool")), soft_delete="slettet")
    monkeypatch.setitem(SOURCES, "voksen", replace(
        voksen, tables=tuple(with_flag if t.name == "venteliste" else t for t in voksen.tables)))
    frames = staged(voksen__venteliste=[waiting(1, False), waiting(2, True), waiting(3, None)])
    model = build(frames)
    assert model.fact_waiting_list["waiting_id"].tolist() == ["1", "3"]
    counts = account_rows(frames, model).set_index(["source", "source_table"]).loc[("voksen", "venteliste")]
    assert (counts["staged"], counts["dropped_soft_deleted"], counts["expected"], counts["model"]) == (3, 1, 2, 2)


def test_person_entries_registers_first_then_rows_carrying_a_cpr():
    assert [e.label for e in person_entries(citizen=True)] == [
        "boern.Barn", "voksen.borger", "tilbud.ophold", "tilbud.magtanvendelse"]
    assert [e.label for e in person_entries(citizen=False)] == ["hr.medarbejder"]


def test_lineage_of_model_tables():
    assert sources_feeding("fact_service") == ("boern", "voksen")
    assert sources_feeding("fact_stay") == ("tilbud",)
    assert sources_feeding("dim_citizen") == ("boern", "voksen", "tilbud", "cpr")
    assert sources_feeding("link_finding") == ("boern", "voksen", "tilbud", "hr", "cpr")
    assert sources_feeding("dim_org") == ()
    assert entry("boern", "Handleplan").reads == ("fact_case",)
    assert entry("tilbud", "ophold").reads == ("dim_facility", "dim_org")


def test_split_by_source_table():
    frame = pd.DataFrame({"source": ["voksen", "boern", "voksen"], "decision_id": ["1", "2", "3"]})
    parts = {(s, t): rows["decision_id"].tolist() for s, t, rows in split_by_source_table("fact_decision", frame)}
    assert parts == {("boern", "Afgoerelse"): ["2"], ("voksen", "afgoerelse"): ["1", "3"]}
    stays = pd.DataFrame({"stay_id": ["7"]})
    assert [(s, t, len(rows)) for s, t, rows in split_by_source_table("fact_stay", stays)] == [("tilbud", "ophold", 1)]
    with pytest.raises(KeyError):
        list(split_by_source_table("dim_org", stays))


def test_registering_a_builder_checks_its_entry_and_inputs(monkeypatch):
    monkeypatch.delitem(registry._BUILDERS, ("voksen", "venteliste"))  # restored after the test

    def reads_a_later_table(rows, fact_employment_status):
        return rows

    def unknown_input(rows, frames):
        return rows

    def asks_for_a_case(rows, case):
        return rows

    with pytest.raises(ValueError, match="reads fact_employment_status, which is not complete before it"):
        builds("voksen", "venteliste")(reads_a_later_table)
    with pytest.raises(ValueError, match="unknown builder input 'frames'"):
        builds("voksen", "venteliste")(unknown_input)
    with pytest.raises(ValueError, match="asks for `case` but has no case_column"):
        builds("voksen", "venteliste")(asks_for_a_case)
    with pytest.raises(ValueError, match="placed by the link step"):
        builds("boern", "Barn")(lambda rows: rows)
    with pytest.raises(ValueError, match="already has a builder"):
        builds("voksen", "ydelse")(lambda rows: rows)
    with pytest.raises(KeyError, match="not in the model registry"):
        builds("boern", "Sagsbehandler")
    assert entry("voksen", "venteliste").builder is None


def test_the_build_refuses_an_entry_without_a_builder(monkeypatch):
    monkeypatch.delitem(registry._BUILDERS, ("hr", "fravaer"))
    with pytest.raises(LookupError, match=r'hr.fravaer has no builder: add an @builds\("hr", "fravaer"\)'):
        build(staged())


@pytest.mark.parametrize(("entries", "message"), [
    ((ModelSource("hr", "fravaer", "fact_absence"), ModelSource("hr", "fravaer", "fact_absence")), "twice"),
    ((ModelSource("hr", "fravaer", "fact_nothing"),), "unknown model table"),
    ((ModelSource("cpr", "cpr", "dim_citizen"),), "not built from source rows"),
    ((ModelSource("boern", "Afgoerelse", "fact_decision", case_column="SagId"),
      ModelSource("boern", "Sag", "fact_case")), "hangs off boern.Sag, which comes after it"),
    ((ModelSource("boern", "Barn", "link_person", persons=PersonColumns("BarnId", "Foedselsdato", register=True)),),
     "not a personal column"),
    ((ModelSource("tilbud", "ophold", "link_person", persons=PersonColumns("ophold_id", "cpr")),),
     "only a person register"),
    ((ModelSource("hr", "fravaer", "fact_absence", keyed_by_cpr=True),), "keyed_by_cpr needs a personal column"),
])
def test_a_wrong_registry_fails_the_check(entries, message):
    with pytest.raises(ValueError, match=message):
        _check_registry(entries)


@pytest.mark.parametrize(("wrong", "message"), [
    (ModelSource("hr", "loen", "fact_absence"), "source hr has no table 'loen'"),
    (ModelSource("hr", "fravaer", "fact_absence", case_column="sag_id"), "fravaer has no column 'sag_id'"),
    (ModelSource("hr", "fravaer", "fact_absence", persons=PersonColumns("x", "cpr")), "fravaer has no column 'x'"),
])
def test_an_entry_naming_what_no_contract_has_fails_the_check(wrong, message):
    with pytest.raises(KeyError, match=message):
        _check_registry((wrong,))
