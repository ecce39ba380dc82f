"""Scans of text and whole tables for CPR numbers, for the tests that check no output holds one.

Production guards text before it leaves (`etl.core.privacy.assert_no_cpr`); only tests
read back every published table, model file, log and e-mail, so the scans live with them.
"""

from __future__ import annotations

import pandas as pd

from etl.core.privacy import CPR_SHAPED
from etl.model.link import normalise_cpr


def find_cpr_like(text: str) -> list[str]:
    """Every CPR-shaped string in `text` (tests show what leaked; production only refuses)."""
    return CPR_SHAPED.findall(text)


def find_cpr_in_frame(frame: pd.DataFrame) -> list[str]:
    """CPR-shaped values in a table: text columns by pattern, integer-valued numbers that
    would be a valid date-based CPR once zero-padded (a CPR stored as a number)."""
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
