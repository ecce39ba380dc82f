"""What a CPR number looks like, for the guards and scans that keep it out of outputs.

One definition, used by the model build's free-text guard, the publication guard, the
e-mail guard, the log filter and the tests that scan every table, log and e-mail
(`tests/support/cpr_scan.py`). Text is first normalised (NFKC, then every Unicode decimal
digit to ASCII), so full-width and other scripts' digits are read like ASCII ones. A CPR is
then a birth date `DDMMYY` (day 01-31, or 61-91 for a replacement number; month 01-12)
followed by four digits, or by a digit, two letters and a digit (a replacement number),
with at most one separator (dash, space, dot) between the date and the sequence; or nine
digits (a number that lost its leading zero). It may be glued to letters (`CPR0101901234`,
`nr.010190-1234`) but not inside a longer run of digits, a decimal number (0.901171875) or
a hex pseudonym (32 hex characters) or a GUID: those are not CPRs. A number whose first six digits
are no date (a voucher number 4000001234, an id like BS-2023-004512) is not one either.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

_DAY = r"(?:0[1-9]|[12][0-9]|3[01]|6[1-9]|[78][0-9]|9[01])"
_MONTH = r"(?:0[1-9]|1[0-2])"
_SEP = r"[-\u2010-\u2015 .]?"
_SEQUENCE = r"(?:[0-9]{4}|[0-9][A-Za-z]{2}[0-9])"
#: On normalised text (`normalise_text`). The boundaries: no digit, and no decimal point
#: with a digit, on either side.
CPR_SHAPED = re.compile(
    rf"(?<![0-9])(?<![0-9][.,])(?:{_DAY}{_MONTH}[0-9]{{2}}{_SEP}{_SEQUENCE}|[1-9]{_MONTH}[0-9]{{2}}{_SEP}[0-9]{{4}})"
    r"(?![0-9])(?![.,][0-9])")

#: A run this long of hex characters is a pseudonym or hash, never a CPR with letters around it.
_HEX_RUN = 24
_HEX = frozenset("0123456789abcdefABCDEF")
#: A GUID (a uniqueidentifier id): its hex groups may hold ten digits or `DDMMYY-SSSS` by chance.
_GUID = re.compile(r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}(?![0-9A-Fa-f])")
#: What stands where a CPR was.
MASK = "[CPR fjernet]"
#: A cheap pre-check on raw text: every CPR form holds four decimal digits in a row
#: (Python's `\d` matches every script's digits).
_MAYBE = re.compile(r"\d{4}|\d\d[^\d]\d\d")
_DIGITS = {}


class CprInOutputError(ValueError):
    """Something about to leave the pipeline contains a CPR-shaped string."""


def normalise_text(text: str) -> str:
    """NFKC, then every Unicode decimal digit as its ASCII digit."""
    text = unicodedata.normalize("NFKC", text)
    if text.isascii():
        return text
    return "".join(_ascii_digit(c) for c in text)


def _ascii_digit(char: str) -> str:
    if char not in _DIGITS:
        value = unicodedata.decimal(char, None)
        _DIGITS[char] = str(value) if value is not None else char
    return _DIGITS[char]


def cpr_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every CPR in `normalise_text(text)`."""
    if not _MAYBE.search(text):
        return []
    normal = normalise_text(text)
    guids = [g.span() for g in _GUID.finditer(normal)] if "-" in normal else []
    return [m.span() for m in CPR_SHAPED.finditer(normal)
            if not _in_hex_run(normal, *m.span()) and not any(a < m.end() and m.start() < b for a, b in guids)]


def _in_hex_run(text: str, start: int, end: int) -> bool:
    while start > 0 and text[start - 1] in _HEX:
        start -= 1
    while end < len(text) and text[end] in _HEX:
        end += 1
    return end - start >= _HEX_RUN and all(c in _HEX for c in text[start:end])


def contains_cpr(text: str) -> bool:
    return bool(cpr_spans(text))


def find_cpr(text: str) -> list[str]:
    """The CPRs found (normalised text); for tests that show what leaked."""
    normal = normalise_text(text) if _MAYBE.search(text) else text
    return [normal[a:b] for a, b in cpr_spans(text)]


def mask_cpr(text: str, mask: str = MASK) -> str:
    """`text` with every CPR replaced by `mask`; unchanged (not even normalised) without one."""
    spans = cpr_spans(text)
    if not spans:
        return text
    normal, out, last = normalise_text(text), [], 0
    for start, end in spans:
        out += [normal[last:start], mask]
        last = end
    return "".join(out + [normal[last:]])


#: `CPR_SHAPED` without its look-arounds and with the ASCII separators only, for Arrow's RE2: on
#: ASCII text (which NFKC leaves as it is) it matches wherever `CPR_SHAPED` does, and more.
_ASCII_SUPERSET = rf"{_DAY}{_MONTH}[0-9]{{2}}[-. ]?{_SEQUENCE}|[1-9]{_MONTH}[0-9]{{2}}[-. ]?[0-9]{{4}}"


def cpr_flags(values) -> np.ndarray:
    """`[contains_cpr(v) for v in values]` for many texts at once (None: False): the ASCII values
    that cannot hold a CPR are ruled out by Arrow in one vectorised pass (most ids, amounts,
    dates and names), and only the rest, and every non-ASCII value, are read by `contains_cpr`.
    The model's free-text guard reads 1.9 million distinct values at Copenhagen."""
    import numpy as np  # noqa: PLC0415 - DAG files import this module (the log guard): no numpy at parse
    import pyarrow as pa  # noqa: PLC0415 - as numpy
    import pyarrow.compute as pc  # noqa: PLC0415 - as numpy

    text = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(values, type=pa.large_string(),
                                                                                   from_pandas=True)
    if not pa.types.is_string(text.type) and not pa.types.is_large_string(text.type):
        text = text.cast(pa.large_string())
    maybe = pc.or_kleene(pc.invert(pc.string_is_ascii(text)), pc.match_substring_regex(text, _ASCII_SUPERSET))
    candidates = np.flatnonzero(maybe.fill_null(False).to_numpy(zero_copy_only=False))
    flags = np.zeros(len(text), dtype=bool)
    flags[candidates] = [contains_cpr(v) for v in text.take(candidates).to_pylist()]
    return flags


def cpr_cells(values: pd.Series) -> pd.Series:
    """Which cells of a text column hold a CPR (each distinct value is scanned once)."""
    import numpy as np  # noqa: PLC0415 - DAG files import this module (the log guard): no pandas at parse
    import pandas as pd  # noqa: PLC0415 - as numpy

    codes, uniques = pd.factorize(values.astype("str"))
    if not len(uniques):
        return pd.Series(False, index=values.index)
    hit = cpr_flags(np.asarray(uniques, dtype=object))
    return pd.Series(np.where(codes >= 0, hit[codes], False), index=values.index, dtype=bool)


def assert_no_cpr(text: str, where: str = "output") -> None:
    """Refuse, without repeating the match (the error message must not leak it either)."""
    spans = cpr_spans(text)
    if spans:
        raise CprInOutputError(f"refusing to write {where}: CPR-shaped string at character {spans[0][0]}")


class CprLogFilter(logging.Filter):
    """Masks CPR-shaped text in a log record's message and exception text; never drops it."""

    def filter(self, record: logging.LogRecord) -> bool:
        mask_record(record)
        return True


def mask_record(record: logging.LogRecord) -> logging.LogRecord:
    if getattr(record, "_cpr_masked", False):
        return record
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: logging reports it itself
        return record
    masked = mask_cpr(message)
    if masked != message:
        record.msg, record.args = masked, None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = mask_cpr(record.exc_text)
    if record.stack_info:
        record.stack_info = mask_cpr(record.stack_info)
    record._cpr_masked = True
    return record


#: The loggers the filter is attached to by name (Airflow's task logger and ours).
GUARDED_LOGGERS = ("etl", "airflow.task", "sofli")
_FILTER = CprLogFilter()


def install_log_guard() -> None:
    """Mask CPRs in every log record from now on (idempotent).

    A filter on a logger does not see its children's records, and handlers are added later
    by Airflow's logging set-up, so besides the filter on the named loggers and the root
    handlers, the record factory itself masks: every record is clean before any handler
    or structlog bridge sees it."""
    for name in GUARDED_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
    for handler in logging.getLogger().handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)
    _guard_structlog()
    factory = logging.getLogRecordFactory()
    if not getattr(factory, "_cpr_guard", False):
        def guarded(*args, **kwargs):
            return mask_record(factory(*args, **kwargs))
        guarded._cpr_guard = True
        logging.setLogRecordFactory(guarded)


def mask_event(_logger, _method: str, event_dict: dict) -> dict:
    """A structlog processor: every string of the event (message, rendered exception,
    nested values) with its CPRs masked. An exception not yet rendered is rendered here,
    so its message is masked too (a renderer after this would print it as raised)."""
    exc = event_dict.get("exc_info")
    if exc:
        if exc is True:
            exc = sys.exc_info()
        elif isinstance(exc, BaseException):
            exc = (type(exc), exc, exc.__traceback__)
        if isinstance(exc, tuple) and len(exc) == 3 and exc[0] is not None:
            event_dict = {k: v for k, v in event_dict.items() if k != "exc_info"}
            event_dict["exception"] = "".join(traceback.format_exception(*exc))
    return _masked_value(event_dict)


def _masked_value(value):
    if isinstance(value, str):
        return mask_cpr(value)
    if isinstance(value, dict):
        return {k: _masked_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked_value(v) for v in value]
    return value


def _guard_structlog() -> None:
    """Airflow's task runner logs through structlog (the task's exception too): the masking
    processor goes just before the configured renderer, after the exception is rendered to
    text. The processor list is shared by reference with loggers already made, so it is
    changed in place."""
    try:
        import structlog  # noqa: PLC0415 - only where Airflow (and so structlog) is installed
    except ImportError:
        return
    processors = structlog.get_config().get("processors")
    if not isinstance(processors, list) or mask_event in processors:
        return
    processors.insert(max(len(processors) - 1, 0), mask_event)
