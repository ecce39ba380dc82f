"""Scans of text and whole tables for CPR numbers and case numbers, for the tests that check
no output holds one.

Production guards text before it leaves (`etl.core.privacy.assert_no_cpr`); only tests
read back every published table, model file, log and e-mail, so the scans live with them.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from pathlib import Path

import pandas as pd

from etl.core.privacy import find_cpr
from etl.model.link import normalise_cpr


def find_cpr_like(text: str) -> list[str]:
    """Every CPR-shaped string in `text` (tests show what leaked; production only refuses)."""
    return find_cpr(text)


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


#: Columns that would carry a case system's identifiers; none may exist in `public`.
IDENTIFIER_COLUMNS = ("sagid", "sag_id", "sags_id", "sagsnummer", "sagsreference", "case_id", "case_key",
                      "foranstaltningid", "foranstaltning_ref", "ydelse_id", "measure_ref", "citizen_key",
                      "person_key", "cpr", "caseworker_key", "bilag")
#: Shorter identifiers (a case's 4-digit SagId, a measure's 123) cannot be told from the
#: counts and labels of a published table: they are covered by `IDENTIFIER_COLUMNS`.
MIN_SEARCHED_LENGTH = 5


def source_case_numbers(sources_dir: Path) -> set[str]:
    """The case numbers and measure references of the generated sources, as delivered: boern's
    Sagsnummer (BS-2023-004512), voksen's sag_id, klage's sagsreference and every
    foranstaltning_ref of the economy (raw, e.g. 'F-000123', and trimmed), at least
    `MIN_SEARCHED_LENGTH` characters long."""
    queries = {"boern": ["SELECT Sagsnummer FROM Sag"], "voksen": ["SELECT sag_id FROM sag"],
               "klage": ["SELECT sagsreference FROM klage"],
               "oekonomi": ["SELECT foranstaltning_ref FROM postering", "SELECT foranstaltning_ref FROM disponering"]}
    found: set[str] = set()
    for source, statements in queries.items():
        with contextlib.closing(sqlite3.connect(sources_dir / f"{source}.db")) as db:
            for sql in statements:
                for (value,) in db.execute(sql):
                    if value is not None:
                        found |= {str(value), str(value).strip()}
    return {v for v in found if len(v) >= MIN_SEARCHED_LENGTH}


def find_case_numbers_in_frame(frame: pd.DataFrame, case_numbers: set[str]) -> list[str]:
    """Case numbers standing alone in a table's text cells (not inside a longer number or
    word), and columns named like an identifier."""
    found = [f"column {c}" for c in frame.columns if c.lower() in IDENTIFIER_COLUMNS]
    if not case_numbers:
        return found
    pattern = re.compile(r"(?<![\w-])(?:" + "|".join(map(re.escape, sorted(case_numbers, key=len, reverse=True)))
                         + r")(?![\w-])", re.IGNORECASE)
    for name in frame.columns:
        column = frame[name].dropna()
        if column.empty or (pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)):
            continue
        for text in column.astype(str).unique():
            found += [f"{name}: {m}" for m in pattern.findall(text)]
    return found
