"""The economy in the model (theme 6) on hand-built staged tables: postings, budget and
commitments linked to measures by their normalised reference, soft-deleted measures
still reached, DQ18's copies marked, every row accounted for.

Every expected value below is read off the rows by hand."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from model_files import account_rows
from staged_frames import staged

from etl.core.settings import REPO_ROOT
from etl.model import conform
from etl.model.accounting import model_rows, staged_rows, with_model_rows
from etl.core.reference import load_reference
from etl.model.build import _link_measures, _repeated_after_first, build_model, build_tables, money_class, normalise_measure_reference
from etl.model.link import Pseudonymiser
from etl.model.registry import sources_feeding
from etl.model.tables import MODEL_TABLES

DAY = dt.date(2025, 11, 15)
T = pd.Timestamp


def case(sag_id: int, deleted: bool, closed=None, caseworker: int = 7) -> dict:
    return {"SagId": sag_id, "BarnId": 1, "Sagsnummer": f"BS-2024-{sag_id:06d}", "OprettetDato": T("2024-01-01"),
            "LukketDato": closed, "EnhedKode": "BFC-NORD", "SagsbehandlerId": caseworker, "Maalgruppe": "Handicap",
            "OpdateretTid": T("2025-01-01"), "Slettet": deleted}


def measure(measure_id: int, sag_id: int, deleted: bool, kind: str = "Aflastning", end=None) -> dict:
    return {"ForanstaltningId": measure_id, "SagId": sag_id, "Paragraf": "BL § 32", "Kategori": "Forebyggende",
            "Type": kind, "StartDato": T("2024-02-01"), "SlutDato": end, "Leverandoer": "Egen",
            "OpdateretTid": T("2025-01-01"), "Slettet": deleted}


def posting(pid: int, ref, system, amount: float = 1000.0, art: str = "4.9", bilag: str | None = None,
            funktion: str = "5.28.21") -> dict:
    return {"postering_id": pid, "bogfoert_dato": T("2025-03-05"), "periode_fra": T("2025-02-01"),
            "periode_til": T("2025-02-28"), "beloeb": amount, "funktion": funktion, "art": art,
            "enhed_kode": "OMK5101", "kreditor_type": "Egen", "kilde_system": system, "foranstaltning_ref": ref,
            "bilag": bilag or f"B{pid}", "opdateret": T("2025-03-05")}


def commitment(cid: int, ref, system: str, cancelled: bool = False) -> dict:
    return {"disponering_id": cid, "kilde_system": system, "foranstaltning_ref": ref, "fra_dato": T("2024-02-01"),
            "til_dato": None, "takst": 500.0, "takst_enhed": "døgn", "funktion": "5.28.21", "annulleret": cancelled,
            "opdateret": T("2025-01-01")}


@pytest.fixture(scope="module")
def night():
    frames = staged(
        boern__Barn=[{"BarnId": 1, "CPR": "010215-4001", "Foedselsdato": T("2015-02-01"), "Koen": "M",
                      "OpdateretTid": T("2025-01-01")}],
        boern__Sag=[case(10, False), case(11, True, closed=T("2025-06-30"), caseworker=8)],
        boern__Foranstaltning=[
            measure(100, 10, False),
            measure(101, 10, True, kind="Kontaktperson"),  # soft-deleted itself
            measure(102, 11, False, end=T("2025-05-31")),  # on the soft-deleted case 11
        ],
        voksen__borger=[{"borger_id": "a", "cpr": "0203901234", "foedselsdato": T("1990-03-02"), "koen": "K",
                         "opdateret": T("2025-01-01")}],
        voksen__sag=[{"sag_id": 20, "borger_id": "a", "oprettet": T("2024-01-01"), "lukket": None,
                      "enhed_kode": "CSU-ØST", "sagsbehandler_id": 3, "maalgruppe": "Psykiatri",
                      "opdateret": T("2025-01-01"), "slettet": False}],
        voksen__ydelse=[{"ydelse_id": 200, "sag_id": 20, "paragraf": "SEL § 85", "ydelsestype": "Bostøtte",
                         "start_dato": T("2024-03-01"), "slut_dato": None, "tilbud_id": None,
                         "opdateret": T("2025-01-01"), "slettet": False}],
        oekonomi__postering=[
            posting(1, "F-000100", "boern"),   # prefix and zeros: boern:100
            posting(2, " 101", "boern"),       # the soft-deleted measure still links
            posting(3, "00000102 ", "boern"),  # a measure of a deleted case links too
            posting(4, "100", None),           # no kilde_system: links nothing
            posting(5, "200", "boern"),        # 200 is a voksen id: matched in the named system only
            posting(60, "200 ", "voksen", bilag="V1"),
            posting(61, "Y-200", "voksen", bilag="V1"),   # same voucher, amount, function, system, ref: a copy
            posting(59, "200", "voksen", amount=999.0, bilag="V1"),  # same voucher, other amount: not a copy
            posting(62, None, None, bilag="J1"),  # journal entry
            posting(63, None, None, bilag="J1"),  # its twin: a copy (NULLs are equal in the key)
            posting(7, "0", "boern"),          # normalises to nothing: no reference
            posting(8, "ABC-12X", "boern"),    # a reference that names no measure
            posting(9, "100", "boern", amount=-250.0, art="7.1"),
            posting(10, None, None, amount=-80.0, art="8.6"),
            posting(11, None, None, amount=40.0, art="1.1"),
        ],
        oekonomi__budget=[{"budget_id": 1, "aar": 2025, "maaned": 1, "funktion": "5.28.21", "enhed_kode": "OMK5101",
                           "beloeb": 12000.0, "version": "Oprindeligt", "opdateret": T("2024-12-01")}],
        oekonomi__disponering=[commitment(1, "F-0100", "boern"), commitment(2, "101", "boern", cancelled=True),
                               commitment(3, "999", "voksen")],
    )
    model = build_model(frames, load_reference(REPO_ROOT / "reference"), Pseudonymiser(b"test-key-0123456789"), DAY)
    return frames, model


def test_reference_normalisation():
    refs = pd.Series(["F-000123", " 123", "00000123", "123 ", "ABC-0123", "Æ-7", "0", " ", None, "12-3", "F 123"],
                     dtype="str")
    assert normalise_measure_reference(refs).astype(object).where(lambda s: s.notna(), None).tolist() == [
        "123", "123", "123", "123", "123", "7", None, None, None, "12-3", "F 123"]


def test_money_is_told_by_art_not_by_sign():
    arts = pd.Series(["4.0", "4.9", "7.1", "8.6", "1.1", "9.4", " 4.6", "40.1"], dtype="str")
    assert money_class(arts).tolist() == ["expense", "expense", "revenue", "revenue", "other", "other",
                                          "expense", "other"]


def test_every_measure_is_linkable_deleted_ones_included(night):
    _, model = night
    link = model.dim_measure_link.set_index("service_key")
    assert sorted(link.index) == ["boern:100", "boern:101", "boern:102", "voksen:200"]
    assert link["deleted"].to_dict() == {"boern:100": False, "boern:101": True, "boern:102": True,
                                         "voksen:200": False}
    # fact_service keeps only the live ones
    assert sorted(model.fact_service["service_key"]) == ["boern:100", "voksen:200"]
    child = model.link_person.set_index(["source", "source_person_id"]).loc[("boern", "1"), "citizen_key"]
    # the measure of the deleted case still reaches the child and that case's caseworker and close date
    assert link.loc["boern:102", "citizen_key"] == child
    assert link.loc["boern:102", "case_key"] == "boern:11"
    assert link.loc["boern:102", "case_closed_date"] == T("2025-06-30")
    assert link.loc["boern:102", "caseworker_key"] != link.loc["boern:100", "caseworker_key"]
    assert link.loc["boern:101", "service_type"] == "Kontaktperson"
    assert link.loc["boern:100", "caseworker_key"] == model.fact_case.set_index("case_key").loc["boern:10",
                                                                                                "caseworker_key"]
    # the case pseudonym: one per case, never the case id or number
    pseudonyms = link["case_pseudonym"]
    assert pseudonyms["boern:100"] == pseudonyms["boern:101"] != pseudonyms["boern:102"]
    assert pseudonyms.str.fullmatch(r"[0-9a-f]{32}").all()


def test_postings_reach_measures_in_their_named_system_only(night):
    _, model = night
    postings = model.fact_posting.set_index("posting_id")
    assert postings["service_key"].dropna().to_dict() == {
        "1": "boern:100", "2": "boern:101", "3": "boern:102", "60": "voksen:200", "61": "voksen:200",
        "59": "voksen:200", "9": "boern:100"}
    assert postings.loc[["4", "5", "7", "8", "62"], "service_key"].isna().all()
    assert postings["has_reference"].to_dict() == {
        "1": True, "2": True, "3": True, "4": True, "5": True, "60": True, "61": True, "59": True, "62": False,
        "63": False, "7": False, "8": True, "9": True, "10": False, "11": False}
    assert postings["money_class"][["1", "9", "10", "11"]].tolist() == ["expense", "revenue", "revenue", "other"]


def test_duplicate_vouchers_every_copy_after_the_lowest_id(night):
    _, model = night
    postings = model.fact_posting.set_index("posting_id")
    assert sorted(postings.index[postings["duplicate"]]) == ["61", "63"]


def test_repeats_are_told_by_id_order_with_null_equal_to_null():
    """The integer-code duplicate finder (no Python objects for 15.9 M postings): rows out of
    id order, NULLs in a text and an integer column. Read by hand: id 3 (row 0) repeats id 1
    (row 2) on (A, NULL, 5); id 9 repeats id 4 (NULL, x, NULL); id 7 differs from id 1 only by
    its NULL amount; id 2 (row 1) repeats nothing before it."""
    text = pd.Series(["A", "B", "A", None, "A", None], dtype="str")
    other = pd.Series([None, "y", None, "x", None, "x"], dtype="str")
    amount = pd.Series([5, 5, 5, None, None, None], dtype="Int64")
    ids = pd.Series([3, 2, 1, 4, 7, 9], dtype="Int64", index=[10, 11, 12, 13, 14, 15])
    repeated = _repeated_after_first([text, other, amount], ids)
    assert repeated.to_dict() == {10: True, 11: False, 12: False, 13: False, 14: False, 15: True}


def test_commitments_link_like_postings(night):
    _, model = night
    commitments = model.fact_commitment.set_index("commitment_id")
    assert commitments["service_key"].dropna().to_dict() == {"1": "boern:100", "2": "boern:101"}
    assert pd.isna(commitments.loc["3", "service_key"])
    assert commitments["cancelled"].tolist() == [False, True, False]


def test_every_finance_row_is_accounted_for(night):
    frames, model = night
    accounting = account_rows(frames, model).set_index(["source", "source_table"])
    for table, rows in (("postering", 15), ("budget", 1), ("disponering", 3)):
        assert accounting.loc[("oekonomi", table), ["staged", "expected", "model"]].tolist() == [rows] * 3
    # the case systems' own accounting is unchanged: the two left-out measures are dropped there
    assert accounting.loc[("boern", "Foranstaltning"), ["staged", "model"]].tolist() == [3, 1]
    assert (accounting["expected"] == accounting["model"]).all()


def test_the_measure_link_is_fed_by_the_case_systems():
    assert sources_feeding("dim_measure_link") == ("boern", "voksen")
    assert sources_feeding("fact_posting") == ("oekonomi",)


def test_the_streamed_build_is_the_held_model_and_releases_the_staged_frames(night):
    """The model stage's path (`build_tables(release=True)`, each table written as it comes):
    every table once, equal to the held model's, the accounting equal, and the dict of staged
    frames it was given empty at the end (what the national postings need, docs/performance.md)."""
    frames, model = night
    given = dict(frames)  # release empties the dict it is given; the frames themselves are not changed
    streamed = {}
    for name, frame in build_tables(given, load_reference(REPO_ROOT / "reference"),
                                    Pseudonymiser(b"test-key-0123456789"), release=True):
        assert name not in streamed
        streamed[name] = conform(frame, MODEL_TABLES[name])
    assert given == {}
    assert set(streamed) == set(model.tables)
    for name, frame in streamed.items():
        pd.testing.assert_frame_equal(frame, model.tables[name], obj=name)
    counts = {key: n for name, frame in streamed.items() for key, n in model_rows(name, frame).items()}
    pd.testing.assert_frame_equal(with_model_rows(staged_rows(frames), counts), account_rows(frames, model))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["A", "B", "C", None]), st.sampled_from(["x", "y", None]),
                          st.one_of(st.none(), st.integers(-2, 2)), st.integers(0, 30)), max_size=40))
def test_repeats_are_the_stable_definition(rows):
    """Against the definition read plainly: sort by id (stably), a row repeats when an earlier
    row has the same values (NULL equal to NULL); rows whose first value is alone never do."""
    frame = pd.DataFrame(rows, columns=["voucher", "other", "amount", "id"]).astype(
        {"voucher": "str", "other": "str", "amount": "Int64", "id": "Int64"})
    frame.index = range(100, 100 + len(frame))
    got = _repeated_after_first([frame["voucher"], frame["other"], frame["amount"]], frame["id"])
    ordered = frame.sort_values("id", kind="stable").astype(object).fillna("<NULL>")
    expected = ordered.duplicated(["voucher", "other", "amount"], keep="first").reindex(frame.index)
    assert got.to_dict() == expected.to_dict()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["boern", "voksen"]), st.sampled_from(["1", "2", "3"]),
                          st.one_of(st.none(), st.sampled_from(["k1", "k2", "k3"]))), max_size=8),
       st.lists(st.tuples(st.sampled_from(["boern", "voksen", None]), st.sampled_from(["1", "2", "4", None])),
                max_size=12))
def test_a_reference_reaches_the_first_service_key_its_system_names(links, postings):
    """The lookup (Arrow's hash table) against its definition: the first service key of
    `source:service_id` that has one; no system, no reference or no such measure: NULL."""
    dim = pd.DataFrame(links, columns=["source", "service_id", "service_key"]).astype("str")
    systems = pd.Series([p[0] for p in postings], dtype="str", index=range(5, 5 + len(postings)))
    references = pd.Series([p[1] for p in postings], dtype="str", index=systems.index)
    known = pd.Series(dim["service_key"].to_numpy(), index=dim["source"] + ":" + dim["service_id"])
    expected = (systems + ":" + references).where(systems.notna() & references.notna()).map(
        known.groupby(level=0).first()).astype("str")
    pd.testing.assert_series_equal(_link_measures(systems, references, dim), expected)
