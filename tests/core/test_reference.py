"""The finance reference files: what the repository ships, and a broken file never loading."""

from __future__ import annotations

import pandas as pd
import pytest

from etl.core.reference import ReferenceFormatError, estimated_refund, read_accounts, read_refusion
from etl.core.settings import REPO_ROOT
from etl.core.reference import load_reference
from etl.synth.oekonomi import FUNCTIONS, SHELTER_FUNCTION, SOLD_PLACES, UNKNOWN_FUNCTIONS

REFERENCE = REPO_ROOT / "reference"


def test_accounts_hold_every_function_booked_and_the_contracts_examples():
    accounts = read_accounts(REFERENCE / "accounts.csv").set_index("funktion")
    booked = {f for weights in FUNCTIONS.values() for f in weights} | {SHELTER_FUNCTION, "5.28.24"}
    booked |= {function for function, _, _ in SOLD_PLACES.values()}
    assert booked <= set(accounts.index)
    assert not set(UNKNOWN_FUNCTIONS) & set(accounts.index)  # the planted unknown codes really are unknown
    examples = {  # economy.md, "Reference data"
        "5.28.20": ("Børn og Unge", "Anbringelse", "Opholdssted"),
        "5.28.21": ("Børn og Unge", "Forebyggende", None),
        "5.28.23": ("Børn og Unge", "Anbringelse", "Plejefamilie"),
        "5.28.24": ("Børn og Unge", "Anbringelse", "Døgninstitution"),
    }
    for function, (area, kategori, kind) in examples.items():
        row = accounts.loc[function]
        assert (row["area"], row["kategori"]) == (area, kategori)
        assert row["foranstaltningstype"] == kind if kind else pd.isna(row["foranstaltningstype"])
    assert "§ 108" in accounts.loc["5.38.50", "titel"] and "§ 107" in accounts.loc["5.38.52", "titel"]
    assert "110" in accounts.loc["5.38.42", "titel"]
    adults = accounts[accounts["area"] == "Voksne"]
    assert set(adults["kategori"]) == {"Botilbud", "Herberg og forsorgshjem", "Rusmiddelbehandling",
                                       "Socialpædagogisk støtte"}
    # DQ15's population: every function a measure is booked on; the shelters have no measures
    assert accounts.loc[sorted(booked - {SHELTER_FUNCTION}), "kraever_foranstaltning"].eq(1).all()
    assert accounts.loc[SHELTER_FUNCTION, "kraever_foranstaltning"] == 0


def test_refusion_covers_every_year_the_data_can_span():
    refusion = read_refusion(REFERENCE / "refusion.csv")
    assert refusion["aar"].tolist() == list(range(2014, 2027))
    assert (refusion["graense_1"] < refusion["graense_2"]).all()
    assert set(refusion["sats_1"]) == {0.25} and set(refusion["sats_2"]) == {0.5}
    row = refusion.set_index("aar").loc[2025]
    # by hand: 25 % of 1,900,000 - 970,000 plus 50 % of 2,000,000 - 1,900,000
    assert estimated_refund(2_000_000, row) == pytest.approx(0.25 * 930_000 + 0.5 * 100_000)
    assert estimated_refund(900_000, row) == 0
    assert estimated_refund([1_000_000, 0], row).tolist() == [7_500, 0]


def test_finance_units_map_to_the_same_unit_as_a_case_system_unit():
    organisation = pd.read_csv(REFERENCE / "organisation.csv", dtype=str, keep_default_na=False)
    finance = organisation[organisation["system"] == "oekonomi"]
    others = organisation[organisation["system"].isin(["boern", "voksen", "tilbud"])]
    assert len(finance) > 0
    placed = ["unit", "center", "area", "valid_from", "valid_to"]
    assert set(map(tuple, finance[placed].to_numpy())) <= set(map(tuple, others[placed].to_numpy()))
    # one finance code per unit, so money and activity meet on the same unit
    assert finance.drop_duplicates("unit_code")["unit"].is_unique
    assert set(others["unit"]) >= set(finance["unit"])


def test_load_reference_loads_the_finance_files():
    reference = load_reference(REFERENCE)
    assert {"ref_account", "ref_refusion"} <= set(reference)
    assert reference["ref_account"]["kraever_foranstaltning"].dtype == "int64"
    assert reference["ref_refusion"]["aar"].is_unique


ACCOUNTS_HEADER = "funktion,titel,area,kategori,foranstaltningstype,kraever_foranstaltning\n"


@pytest.mark.parametrize(("name", "text", "message"), [
    ("accounts.csv", "funktion,titel,area\n5.28.20,x,Voksne\n", "columns"),
    ("accounts.csv", ACCOUNTS_HEADER, "no rows"),
    ("accounts.csv", ACCOUNTS_HEADER + "5.28.20,A,Børn og Unge,Anbringelse,,1\n5.28.20,B,Børn og Unge,Anbringelse,,1\n",
     "funktion repeats a function"),
    ("accounts.csv", ACCOUNTS_HEADER + "5.28,A,Børn og Unge,Anbringelse,,1\n", "funktion is not a function"),
    ("accounts.csv", ACCOUNTS_HEADER + "5.28.20,A,Børn,Anbringelse,,1\n", "area is not one of"),
    ("accounts.csv", ACCOUNTS_HEADER + "5.28.20,A,Børn og Unge,,,1\n", "kategori is empty"),
    ("accounts.csv", ACCOUNTS_HEADER + "5.28.20,A,Børn og Unge,Anbringelse,,ja\n", "kraever_foranstaltning is not 0 or 1"),
    ("refusion.csv", "aar,graense_1,sats_1,graense_2,sats_2\n2025,970000,25,1900000,0.5\n", "sats_1 is not a share"),
    ("refusion.csv", "aar,graense_1,sats_1,graense_2,sats_2\n2025,970000,0.25,900000,0.5\n", "graense_2 is below"),
    ("refusion.csv", "aar,graense_1,sats_1,graense_2,sats_2\n2025,x,0.25,900000,0.5\n", "graense_1 is not a number"),
    ("refusion.csv", "aar,graense_1,sats_1,graense_2,sats_2\n2025,1,0.25,2,0.5\n2025,1,0.25,2,0.5\n", "aar repeats"),
])
def test_a_broken_file_stops_the_load_naming_file_and_column(tmp_path, name, text, message):
    (tmp_path / name).write_text(text, encoding="utf-8")
    reader = read_accounts if name == "accounts.csv" else read_refusion
    with pytest.raises(ReferenceFormatError, match=f"{name}: .*{message}"):
        reader(tmp_path / name)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(ReferenceFormatError, match="refusion.csv: file not found"):
        read_refusion(tmp_path / "refusion.csv")
