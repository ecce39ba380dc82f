import pandas as pd
import pytest
from cpr_scan import find_cpr_in_frame, find_cpr_like

from etl.core.privacy import CprInOutputError, assert_no_cpr
from etl.model.tables import MODEL_TABLES
from etl.publish.marts import MART_TABLES
from etl.sources import SOURCES


@pytest.mark.parametrize("text", ["010203-1234", "cpr 0102031234.", "102031234", "id=280456-0PJ2", "2804560PJ2"])
def test_cpr_shapes_are_found(text):
    assert find_cpr_like(text)


@pytest.mark.parametrize("text", ["0.901171875", "6044921875.5", "a1b2c30102031234ff", "12-17", "2025-11-15 03:00:00",
                                  "BS-2023-004512", "12345678"])
def test_decimals_pseudonyms_dates_and_case_numbers_are_not(text):
    assert find_cpr_like(text) == []


def test_frames_are_scanned_by_column_kind_and_the_error_never_repeats_the_number():
    frame = pd.DataFrame({"share": [0.901171875], "count": [4383], "cpr_as_number": [102031234], "text": ["ok"]})
    assert find_cpr_in_frame(frame) == ["cpr_as_number: number shaped like a CPR"]
    with pytest.raises(CprInOutputError) as error:
        assert_no_cpr("to 010203-1234", "an e-mail")
    assert "010203" not in str(error.value)


def test_only_source_contracts_have_personal_columns():
    """CPR lives in landing, staged and quarantine only: every source table with persons
    marks its CPR column personal, and no model or published table has one (nor a column
    named like a CPR)."""
    personal = {(s.name, t.name, c.name) for s in SOURCES.values() for t in s.tables for c in t.columns if c.personal}
    assert personal == {("boern", "Barn", "CPR"), ("voksen", "borger", "cpr"), ("tilbud", "ophold", "cpr"),
                        ("tilbud", "magtanvendelse", "cpr"), ("hr", "medarbejder", "cpr"), ("cpr", "cpr", "PNR"),
                        ("beskaeftigelse", "beskaeftigelse", "cpr")}
    downstream = [*MODEL_TABLES.values(), *MART_TABLES.values()]
    assert [(t.name, c.name) for t in downstream for c in t.columns
            if c.personal or c.name.lower() in {"cpr", "pnr", "personnummer"}] == []
