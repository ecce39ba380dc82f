"""What a CPR number looks like, for the guards and scans that keep it out of outputs.

One definition, used by the e-mail guard, the data-quality details and the tests that
scan every table, log and e-mail (`tests/support/cpr_scan.py`): `DDMMYY-SSSS`, ten digits, nine digits (a number that
lost its leading zero) and replacement numbers with letters in positions 8-9, each
standing alone (not inside a longer run of letters or digits, such as a pseudonym, nor
part of a decimal number such as 0.901171875).
"""

from __future__ import annotations

import re

CPR_SHAPED = re.compile(
    r"(?<![0-9A-Za-z.,])(?:[0-9]{6}-[0-9]{4}|[0-9]{9,10}|[0-9]{6}-?[0-9][A-Za-z]{2}[0-9])(?![0-9A-Za-z]|[.,][0-9])")


class CprInOutputError(ValueError):
    """Something about to leave the pipeline contains a CPR-shaped string."""


def assert_no_cpr(text: str, where: str = "output") -> None:
    """Refuse, without repeating the match (the error message must not leak it either)."""
    found = CPR_SHAPED.search(text)
    if found:
        raise CprInOutputError(f"refusing to write {where}: CPR-shaped string at character {found.start()}")
