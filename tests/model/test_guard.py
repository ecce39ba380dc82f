"""The free-text guard of the model build: masked in place, the row kept, a finding per
record and column, the value never kept. Numbers are synthetic."""

from __future__ import annotations

import pandas as pd

from etl.core.privacy import MASK, contains_cpr
from etl.model.guard import guard_free_text
from etl.model.link import Pseudonymiser

KEY = b"guard-test-key-0123456789abcdef"


def test_cprs_are_masked_rows_kept_and_each_reported_by_record_and_column():
    measures = pd.DataFrame({"ForanstaltningId": [1, 2, 3], "SagId": [10, 10, 11],
                             "Paragraf": ["SEL § 52, stk. 3, nr. 7", "SEL § 52, stk. 3, nr. 7", "0101901234"],
                             "Type": ["Plejefamilie 010508 7883", "Plejefamilie", None]})
    cases = pd.DataFrame({"SagId": [10, 11, 12], "Sagsnummer": ["BS-2023-004512", "010190-1234", "0101901234"]})
    complaints = pd.DataFrame({"klage_id": [5], "sagsreference": ["0101901234"], "enhed_kode": ["4010101"]})
    frames = {("boern", "Foranstaltning"): measures, ("boern", "Sag"): cases, ("klage", "klage"): complaints}
    out, findings = guard_free_text(frames, Pseudonymiser(KEY))

    assert len(out[("boern", "Foranstaltning")]) == 3 and len(out[("boern", "Sag")]) == 3
    assert out[("boern", "Foranstaltning")]["Type"].tolist()[:2] == [f"Plejefamilie {MASK}", "Plejefamilie"]
    assert out[("boern", "Foranstaltning")]["Type"].isna().tolist() == [False, False, True]
    numbers = out[("boern", "Sag")]["Sagsnummer"].tolist()
    assert numbers[0] == "BS-2023-004512"
    # the same number in two forms, and in another system's reference: one tag, so links still hold
    assert numbers[1] == numbers[2] == out[("klage", "klage")]["sagsreference"].iloc[0]
    assert numbers[1].startswith("[CPR fjernet ") and len(numbers[1]) == len("[CPR fjernet ]") + 8
    for frame in out.values():
        assert not any(contains_cpr(str(v)) for v in frame.astype(str).to_numpy().ravel())
    assert measures["Type"].iloc[0] == "Plejefamilie 010508 7883"  # the input frames are not changed

    rows = sorted(zip(findings["source"], findings["source_table"], findings["record_id"], findings["detail"]))
    assert rows == [("boern", "Foranstaltning", "1", "Type"), ("boern", "Foranstaltning", "3", "Paragraf"),
                    ("boern", "Sag", "11", "Sagsnummer"), ("boern", "Sag", "12", "Sagsnummer"),
                    ("klage", "klage", "5", "sagsreference")]
    assert set(findings["rule_id"]) == {"DQ22"} and findings["failing"].all()


def test_nothing_to_mask_changes_nothing():
    frames = {("boern", "Sag"): pd.DataFrame({"SagId": [1], "Sagsnummer": ["BS-2023-004512"]})}
    out, findings = guard_free_text(frames, Pseudonymiser(KEY))
    assert out[("boern", "Sag")] is frames[("boern", "Sag")] and findings.empty


def test_a_number_typed_with_unicode_spaces_or_digits_is_masked_too():
    """The guard reads each column's distinct texts as Arrow and sends the non-ASCII ones to the
    full pattern: a no-break space, fullwidth digits and a plain number side by side are all
    found, masked and reported, and the ASCII text beside them is left alone."""
    measures = pd.DataFrame({"ForanstaltningId": [1, 2, 3, 4],
                             "Type": ["Plejefamilie 010508\xa07883", "Aflastning ０１０５０８７８８３", "Bostøtte",
                                      "Plejefamilie 010508-7883"]})
    out, findings = guard_free_text({("boern", "Foranstaltning"): measures}, Pseudonymiser(KEY))
    assert out[("boern", "Foranstaltning")]["Type"].tolist() == [
        f"Plejefamilie {MASK}", f"Aflastning {MASK}", "Bostøtte", f"Plejefamilie {MASK}"]
    assert sorted(findings["record_id"]) == ["1", "2", "4"] and set(findings["detail"]) == {"Type"}
