import hashlib
import hmac

import pandas as pd
import pytest

from hypothesis import given, settings
from hypothesis import strategies as st

from etl.model.link import Pseudonymiser, _normalise_distinct, _normalise_text, link_persons, normalise_cpr


def test_every_source_form_normalises_to_the_same_number():
    forms = pd.Series(["010203-1234", "0102031234", "102031234", " 010203 1234", "010203-1234 "])
    out = normalise_cpr(forms)
    assert out["cpr"].tolist() == ["0102031234"] * 5
    assert out["kind"].tolist() == ["cpr"] * 5
    assert out["birth_date"].dt.date.astype(str).tolist() == ["1903-02-01"] * 5
    assert out["gender"].tolist() == ["K"] * 5  # last digit 4: even = woman


@pytest.mark.parametrize("cpr, born", [
    ("0102034234", "2003-02-01"),  # 7th digit 4, YY <= 36: 2000s
    ("0102374234", "1937-02-01"),  # 7th digit 4, YY > 36: 1900s
    ("0102579234", "1957-02-01"),  # 7th digit 9, YY 57 > 36: 1900s
    ("0102575234", "2057-02-01"),  # 7th digit 5, YY <= 57: 2000s
    ("0102585234", "1858-02-01"),  # 7th digit 5, YY > 57: 1800s
    ("0102993234", "1999-02-01"),  # 7th digit 0-3: always 1900s
    ("2902004001", "2000-02-29"),  # leap day 2000
])
def test_century_rule(cpr, born):
    assert str(normalise_cpr(pd.Series([cpr]))["birth_date"].dt.date.iloc[0]) == born


def test_replacement_numbers_are_usable_identities_of_their_own():
    out = normalise_cpr(pd.Series(["280456-0PJ2", "620187-1235"]))
    assert out["kind"].tolist() == ["replacement", "replacement"]
    assert out["cpr"].tolist() == ["2804560PJ2", "6201871235"]
    assert out["birth_date"].dt.date.astype(str).tolist() == ["1956-04-28", "1987-01-02"]


def test_unusable_numbers_are_missing_or_invalid_never_guessed():
    out = normalise_cpr(pd.Series([None, "", "12345678", "3102031234", "2902014001", "0013031234"]))
    assert out["kind"].tolist() == ["missing", "missing", "invalid", "invalid", "invalid", "invalid"]
    assert out["cpr"].isna().all()


def test_pseudonyms_are_keyed_stable_and_never_the_number():
    a, b = Pseudonymiser(b"key-one-0123456789"), Pseudonymiser(b"key-two-0123456789")
    assert a.one("person", "0102031234") == a.one("person", "0102031234")
    assert a.one("person", "0102031234") != b.one("person", "0102031234")
    assert "0102031234" not in a.one("person", "0102031234")
    assert len(a.one("person", "0102031234")) == 32


@pytest.mark.parametrize("key", [b"k", b"key-one-0123456789", bytes(range(64)), bytes(range(200))])
def test_pseudonyms_are_the_standard_hmac_sha256_for_short_block_sized_and_long_keys(key):
    values = pd.Series(["0102031234", None, "2804560PJ2", "0102031234", "æøå"], dtype="str")
    expected = [None if v is None else hmac.new(key, f"person:{v}".encode(), hashlib.sha256).hexdigest()[:32]
                for v in [None if pd.isna(v) else v for v in values]]
    got = Pseudonymiser(key).many("person", values)
    assert [None if pd.isna(v) else v for v in got] == expected
    assert Pseudonymiser(key).one("person", "0102031234") == expected[0]


def test_repeated_numbers_normalise_as_each_row_alone():
    """The register repeats a number every month: normalising the distinct values once
    must give every row what it would get on its own, missing values included."""
    forms = ["010203-1234", None, "102031234", "garbage", "", "280456-0PJ2", "6201871235", "3102031234"]
    repeated = pd.Series(forms * 3, index=range(100, 100 + 3 * len(forms)), dtype="str")
    together = normalise_cpr(repeated)
    alone = pd.concat([normalise_cpr(repeated.iloc[[i]]) for i in range(len(repeated))])
    pd.testing.assert_frame_equal(together, alone)


def test_one_person_in_three_systems_is_one_citizen_and_unusable_ids_stay_apart():
    rows = pd.DataFrame({
        "source": ["boern", "voksen", "tilbud", "boern", "voksen"],
        "source_table": ["Barn", "borger", "ophold", "Barn", "borger"],
        "source_person_id": ["7", "a-1", "55", "8", "a-2"],
        "cpr": ["010203-1234", "0102031234", "010203 1234", None, "garbage"],
    })
    linked = link_persons(rows, Pseudonymiser(b"test-key-0123456789"))
    assert linked["citizen_key"].iloc[:3].nunique() == 1
    assert linked["citizen_key"].nunique() == 3  # the two unusable rows are one citizen each
    assert linked["match_method"].tolist() == ["cpr", "cpr", "cpr", "unlinked", "unlinked"]
    assert linked["match_confidence"].tolist() == [1.0, 1.0, 1.0, 0.0, 0.0]


_CPR_PIECES = st.sampled_from(["0102031234", "280456", "0PJ2", "6201871235", "2902004001", "3102031234", "12",
                               "-", " ", "  ", "\t", "\x0b", "\x1c", "\xa0", "\u2007", "ab", "AB", "ﬀ", "ß", "ı",
                               "٣", "7", "0", "9", "x", "."])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(_CPR_PIECES.filter(lambda p: len(p) == 1) | st.characters(blacklist_categories=["Cs"]), max_size=12),
                          st.lists(_CPR_PIECES, max_size=5).map("".join)), max_size=40))
def test_the_vectorised_normalisation_is_the_python_one(values):
    """ASCII texts go through Arrow, the rest through Python's string rules (Unicode spaces,
    digits and case): every value gets what `_normalise_text`, the definition, gives it. (A
    lone surrogate cannot be in a text column: pandas' `str` refuses it.)"""
    series = pd.Series(values, dtype="str", index=range(7, 7 + len(values)))
    pd.testing.assert_frame_equal(_normalise_distinct(series), _normalise_text(series))


def test_a_number_typed_with_unicode_spaces_links_like_the_plain_one():
    """Pasted from a letter: a no-break space, a figure space. These take the Python path, the
    plain numbers beside them the Arrow path, and every row gets its own result in its own place
    (one call, as the link step makes it). Digits outside ASCII are not read as a number: the
    value is invalid (DQ05 counts it), never guessed."""
    values = pd.Series(["010203\xa01234", "0102031234", "010203\u20071234", "٠١٠٢٠٣١٢٣٤", "010203 1234", None,
                        "0102031234"], index=[9, 3, 7, 1, 5, 2, 8], dtype="str")
    out = normalise_cpr(values)
    assert out.index.tolist() == [9, 3, 7, 1, 5, 2, 8]
    assert out["kind"].tolist() == ["cpr", "cpr", "cpr", "invalid", "cpr", "missing", "cpr"]
    assert out["cpr"].fillna("-").tolist() == ["0102031234", "0102031234", "0102031234", "-", "0102031234", "-",
                                               "0102031234"]
    usable = out["kind"] == "cpr"
    assert out.loc[usable, "birth_date"].dt.date.astype(str).tolist() == ["1903-02-01"] * 5
    assert out.loc[usable, "gender"].tolist() == ["K"] * 5
