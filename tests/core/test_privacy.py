"""The one CPR pattern, both ways: every form a source types is found, nothing that is not
a CPR is (pseudonyms, decimals, dates, ids, vouchers). Numbers are synthetic."""

from __future__ import annotations

import logging
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from etl.core.privacy import (
    MASK,
    CprInOutputError,
    CprLogFilter,
    assert_no_cpr,
    contains_cpr,
    cpr_cells,
    cpr_flags,
    find_cpr,
    install_log_guard,
    mask_cpr,
    mask_event,
)

FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")

POSITIVES = [
    ("0101901234", "0101901234"),
    ("010190-1234", "010190-1234"),
    ("010190 1234", "010190 1234"),
    ("010190.1234", "010190.1234"),
    ("010190\u20131234", "010190\u20131234"),  # en dash
    ("101901234", "101901234"),  # lost leading zero
    ("Plejefamilie 010508 7883", "010508 7883"),
    ("Plejefamilie 010508-7883 (bror)", "010508-7883"),
    ("nr.010190-1234", "010190-1234"),
    ("cpr-nr: 0101901234", "0101901234"),
    ("CPR0101901234", "0101901234"),
    ("Barn0101901234x", "0101901234"),
    ("0101901234".translate(FULL_WIDTH), "0101901234"),
    ("010190-1234".translate(ARABIC_INDIC), "010190-1234"),
    ("280456-0PJ2", "280456-0PJ2"),  # replacement number with letters
    ("2804560PJ2", "2804560PJ2"),
    ("6101901234", "6101901234"),  # replacement number: 60 added to the day
    ("§ 52, stk. 3, nr. 7 010190-1234", "010190-1234"),
    ("a 311299-9999 b 010100-0001", "311299-9999"),
]

NEGATIVES = [
    "",
    "Plejefamilie",
    "0123456789abcdef0123456789abcdef",  # a pseudonym
    "3f0101901234ab56cd78ef90123456789a",  # a pseudonym that happens to hold ten digits
    "00010190-1234-4FAC-85FF-A8AE56C11B20",  # GUIDs (voksen's borger_id)
    "003E947A-44A8-4FAC-85FF-A0101901234B",
    "0.901171875",
    "12345,678901234",
    "2024-01-31",
    "31.01.2024",
    "2024-01-31T10:15:00",
    "BS-2023-004512",
    "F-000123",
    "4000001234",  # a voucher number: day 40 is no date
    "1234567890",  # month 45
    "12345678",
    "01019012345",  # eleven digits
    "000000-0000",
    "5.28.21",
    "SEL § 52, stk. 3, nr. 7",
    "3219010123",  # day 32
    "amount 1234567.50",
]


@pytest.mark.parametrize(("text", "found"), POSITIVES)
def test_every_form_is_found_and_masked(text, found):
    assert contains_cpr(text)
    assert find_cpr(text)[0] == found
    masked = mask_cpr(text)
    assert MASK in masked and not contains_cpr(masked)
    with pytest.raises(CprInOutputError) as refused:
        assert_no_cpr(text, "mail")
    assert found not in str(refused.value)


@pytest.mark.parametrize("text", NEGATIVES)
def test_what_is_not_a_cpr(text):
    assert not contains_cpr(text)
    assert mask_cpr(text) == text
    assert_no_cpr(text)


def test_two_in_one_text_are_both_masked():
    assert mask_cpr("a 311299-9999 b 010100-0001.") == f"a {MASK} b {MASK}."


#: Characters CPR-shaped text is made of and around: ASCII and other scripts' digits, the
#: separators (ASCII and Unicode dashes), letters (replacement numbers, hex), decimal points.
_ALPHABET = "0123456789" * 4 + "-. \u2013\u2010/,:abcfAFPJxæ§" + "０１２３" + "٠١٢٣٩"


def test_the_vectorised_scan_agrees_with_the_one_pattern_on_every_form():
    texts = [text for text, _ in POSITIVES] + NEGATIVES + [None]
    assert cpr_flags(texts).tolist() == [bool(t) and contains_cpr(t) for t in texts]
    assert cpr_flags(pa.array(texts)).tolist() == cpr_flags(texts).tolist()
    assert cpr_flags(np.array([], dtype=object)).tolist() == []


_SCRIPT = st.sampled_from([str.maketrans("", ""), str.maketrans("", ""), FULL_WIDTH, ARABIC_INDIC])
#: Near-CPRs: a day (valid, replacement, one digit as when the leading zero is lost, or not a
#: day), a month (or not), a year, maybe a separator, a sequence (digits or a replacement's
#: letters), with any text glued around.
_NEAR_CPR = st.builds(
    lambda before, day, month, year, sep, sequence, after, script: before + (
        f"{day}{month:02d}{year:02d}{sep}{sequence}").translate(script) + after,
    st.text(alphabet=_ALPHABET, max_size=4),
    st.one_of(st.integers(0, 99).map(lambda day: f"{day:02d}"), st.integers(1, 9).map(str)),
    st.integers(0, 14), st.integers(0, 99),
    st.sampled_from(["", "-", " ", ".", "\u2013", "/", "--"]),
    st.one_of(st.from_regex(r"[0-9]{3,5}", fullmatch=True), st.from_regex(r"[0-9][A-Z]{2}[0-9]", fullmatch=True)),
    st.text(alphabet=" -.:/abcxæ§0123456789", max_size=3), _SCRIPT)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.text(alphabet=_ALPHABET, max_size=24), _NEAR_CPR), max_size=40))
def test_the_vectorised_scan_is_exactly_contains_cpr(texts):
    """The Arrow pre-filter only rules out ASCII values that cannot hold a CPR: whatever the
    text, the flags are `contains_cpr`'s."""
    assert cpr_flags(texts).tolist() == [contains_cpr(t) for t in texts]


def test_cells_of_a_column():

    cells = pd.Series(["Plejefamilie", "Plejefamilie 010508 7883", None, "Plejefamilie", "0101901234"])
    assert cpr_cells(cells).tolist() == [False, True, False, False, True]


def test_the_filter_masks_message_arguments_and_exceptions():
    record = logging.LogRecord("etl.x", logging.ERROR, __file__, 1, "header is %s", ("0101901234;Hansen",), None)
    CprLogFilter().filter(record)
    assert record.getMessage() == f"header is {MASK};Hansen"
    try:
        raise ValueError("bad value 010190-1234 in Type")
    except ValueError:
        exc = logging.LogRecord("etl.x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    CprLogFilter().filter(exc)
    text = logging.Formatter().format(exc)
    assert "010190-1234" not in text and MASK in text and "ValueError" in text


def test_installed_guard_masks_records_of_any_logger(caplog):
    install_log_guard()
    install_log_guard()  # idempotent
    with caplog.at_level(logging.INFO):
        logging.getLogger("etl.extract.land.deep").info("first line %s", "0101901234,x")
        logging.getLogger("airflow.task").warning("CPR0101901234")
        try:
            raise RuntimeError("Foranstaltning.Type = 'Plejefamilie 010508 7883'")
        except RuntimeError:
            logging.getLogger("somewhere.else").exception("task failed")
    assert not any(contains_cpr(line) for line in caplog.text.splitlines()), caplog.text
    assert caplog.text.count(MASK) == 4  # the traceback shows the raising line and the message


def test_a_structlog_exception_is_masked_before_rendering():
    """Airflow's task runner reports a task's exception through structlog."""
    import structlog  # noqa: PLC0415 - Airflow's logging library, only this test needs it

    install_log_guard()
    processors = structlog.get_config()["processors"]
    assert processors.count(mask_event) == 1
    try:
        raise RuntimeError("Foranstaltning.Type = 'Plejefamilie 010508 7883'")
    except RuntimeError:
        event = mask_event(None, "error", {"event": "Task failed CPR0101901234", "exc_info": True})
    assert "exc_info" not in event
    assert not contains_cpr(event["event"]) and not contains_cpr(event["exception"])
    assert "RuntimeError: Foranstaltning.Type = 'Plejefamilie [CPR fjernet]'" in event["exception"]
