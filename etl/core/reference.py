"""The finance reference files (`reference/accounts.csv`, `reference/refusion.csv`), read
and shape-checked in one place for the model build and the synthetic generator.

The municipality maintains both files (docs/architecture.md, "Reference data format").
A file that does not have the documented shape stops the load with a message naming
the file, the column and what is wrong: a broken reference file must never turn into
silently unmapped money. The checks here are the file's shape (columns, types, keys,
closed value sets); which functions and categories each KPI reads is validated where
the KPIs use them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from etl.core.vocabulary import AREAS

ACCOUNT_COLUMNS = ("funktion", "titel", "area", "kategori", "foranstaltningstype", "kraever_foranstaltning")
REFUSION_COLUMNS = ("aar", "graense_1", "sats_1", "graense_2", "sats_2")
#: A function of the authorised account plan: main account, main function, function (`5.28.21`).
FUNCTION_PATTERN = r"\d\.\d{2}\.\d{2}"


class ReferenceFormatError(ValueError):
    """A reference file does not have its documented shape."""


def _read(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    if not path.exists():
        raise ReferenceFormatError(f"{path.name}: file not found in {path.parent}")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    if tuple(frame.columns) != columns:
        raise ReferenceFormatError(f"{path.name}: columns {list(frame.columns)}, expected {list(columns)}")
    if frame.empty:
        raise ReferenceFormatError(f"{path.name}: no rows")
    return frame.apply(lambda c: c.str.strip())


def _fail(path: Path, column: str, bad: pd.Series, what: str) -> None:
    if bad.any():
        rows = [int(i) + 2 for i in bad[bad].index[:3]]  # 1-based, after the header line
        raise ReferenceFormatError(f"{path.name}: column {column} {what} (line(s) {rows})")


def read_accounts(path: Path) -> pd.DataFrame:
    """`accounts.csv`: one row per function; `foranstaltningstype` NA where the function has
    none; `kraever_foranstaltning` 0/1 (1: every posting should name its measure, DQ15)."""
    frame = _read(path, ACCOUNT_COLUMNS)
    _fail(path, "funktion", ~frame["funktion"].str.fullmatch(FUNCTION_PATTERN), "is not a function like 5.28.21")
    _fail(path, "funktion", frame["funktion"].duplicated(keep=False), "repeats a function")
    for column in ("titel", "kategori"):
        _fail(path, column, frame[column] == "", "is empty")
    _fail(path, "area", ~frame["area"].isin(AREAS), f"is not one of {', '.join(AREAS)}")
    _fail(path, "kraever_foranstaltning", ~frame["kraever_foranstaltning"].isin(["0", "1"]), "is not 0 or 1")
    return pd.DataFrame({
        "funktion": frame["funktion"].astype("str"),
        "titel": frame["titel"].astype("str"),
        "area": frame["area"].astype("str"),
        "kategori": frame["kategori"].astype("str"),
        "foranstaltningstype": frame["foranstaltningstype"].replace("", None).astype("str"),
        "kraever_foranstaltning": frame["kraever_foranstaltning"].astype("int64"),
    })


def read_refusion(path: Path) -> pd.DataFrame:
    """`refusion.csv`: one row per year; `sats_1` of the yearly cost above `graense_1` (up
    to `graense_2`) plus `sats_2` of the part above `graense_2` (DKK, shares 0-1)."""
    frame = _read(path, REFUSION_COLUMNS)
    _fail(path, "aar", ~frame["aar"].str.fullmatch(r"\d{4}"), "is not a year")
    _fail(path, "aar", frame["aar"].duplicated(keep=False), "repeats a year")
    numbers = {}
    for column in REFUSION_COLUMNS[1:]:
        numbers[column] = pd.to_numeric(frame[column], errors="coerce")
        _fail(path, column, numbers[column].isna(), "is not a number")
    for column in ("sats_1", "sats_2"):
        _fail(path, column, ~numbers[column].between(0, 1), "is not a share between 0 and 1")
    _fail(path, "graense_1", numbers["graense_1"] < 0, "is negative")
    _fail(path, "graense_2", numbers["graense_2"] < numbers["graense_1"], "is below graense_1")
    return pd.DataFrame({"aar": frame["aar"].astype("int64"),
                         **{c: numbers[c].astype("float64") for c in REFUSION_COLUMNS[1:]}}
                        ).sort_values("aar").reset_index(drop=True)


def estimated_refund(cost, row: pd.Series | dict):
    """The state refund of one person's yearly cost by one year's row of `refusion.csv`
    (economy.md, T6.04): `sats_1` × (min(cost, graense_2) − graense_1)⁺ + `sats_2` × (cost − graense_2)⁺.
    Works on a number or a numpy array of costs."""
    cost = np.asarray(cost, dtype=float)
    return (row["sats_1"] * np.maximum(0.0, np.minimum(cost, row["graense_2"]) - row["graense_1"])
            + row["sats_2"] * np.maximum(0.0, cost - row["graense_2"]))
