"""What a CPR number looks like, for the guards and scans that keep it out of outputs.

One definition, used by the e-mail guard, the data-quality details and the tests that
scan every table, log and e-mail: `DDMMYY-SSSS`, ten digits, nine digits (a number that
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


def find_cpr_like(text: str) -> list[str]:
    return CPR_SHAPED.findall(text)


def assert_no_cpr(text: str, where: str = "output") -> None:
    """Refuse, without repeating the match (the error message must not leak it either)."""
    found = CPR_SHAPED.search(text)
    if found:
        raise CprInOutputError(f"refusing to write {where}: CPR-shaped string at character {found.start()}")


def find_cpr_in_frame(frame) -> list[str]:
    """CPR-shaped values in a table: text columns by pattern, integer-valued numbers that
    would be a valid date-based CPR once zero-padded (a CPR stored as a number)."""
    import pandas as pd  # noqa: PLC0415 - keep the guard importable without pandas

    from etl.model.link import normalise_cpr  # noqa: PLC0415

    found: list[str] = []
    for name in frame.columns:
        column = frame[name].dropna()
        if column.empty:
            continue
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            numbers = pd.to_numeric(column, errors="coerce")
            candidates = numbers[(numbers >= 1e8) & (numbers < 3.2e9) & (numbers % 1 == 0)]
            if len(candidates):
                kinds = normalise_cpr(candidates.astype("int64").astype(str))["kind"]
                found += [f"{name}: number shaped like a CPR" for _ in range(int(kinds.eq("cpr").sum()))]
        else:
            for text in column.astype(str):
                found += find_cpr_like(text)
    return found
