"""The bad-input corpus: malformed files and tables fed to extract + validate.

For every case: no crash — either every input row is loaded or quarantined with a reason
(rows in = rows staged + rows quarantined, exact counts stated), or the table fails
loudly with a message naming what is wrong. Person numbers are made up at run time.
"""

from __future__ import annotations

import datetime as dt
import sqlite3

import pandas as pd
import pytest

from etl.extract.land import ExtractError, extract_table
from etl.sources import get_source
from etl.validate.table import StructuralValidationError, validate_table

DAY = dt.date(2025, 11, 15)
CPR_HEADER = "PNR;FOED_DATO;KOEN;KOMKOD;BYDEL;STATUS;STATUS_DATO"


def pnr(i: int) -> str:
    """A made-up date-based number: day 1-28 of January 1990, sequence i."""
    return f"{i % 28 + 1:02d}0190{1000 + i:04d}"


def cpr_line(i: int, bydel: str = "Valby", born: str = "19900101", status: str = "01") -> str:
    return f"{pnr(i)};{born};M;0101;{bydel};{status};{born}"


def run(tmp_path, source_name: str, location: str):
    source = get_source(source_name)
    table = source.tables[0]
    extract_table(source, table, location, tmp_path / "landing", DAY)
    result = validate_table(source, table, tmp_path / "landing", tmp_path / "staged", tmp_path / "quarantine", DAY)
    assert result.rows_in == result.rows_staged + result.rows_quarantined
    return result


def cpr_case(tmp_path, content: bytes):
    drop = tmp_path / "drop"
    drop.mkdir(exist_ok=True)
    (drop / f"cpr_{DAY:%Y%m%d}.csv").write_bytes(content)
    return run(tmp_path, "cpr", str(drop))


def lines(*rows: str, newline: str = "\r\n") -> str:
    return newline.join((CPR_HEADER, *rows)) + newline


# name -> (file bytes, expected (staged, quarantined) or an exception and message)
CPR_CASES = {
    "clean latin-1": (lines(*(cpr_line(i, "Østerbro") for i in range(5))).encode("cp1252"), (5, 0)),
    # a mis-encoded bydel is not on the contract's list: kept as Ukendt and reported (the breaker
    # catches a whole file of them: test_breakers.py)
    "UTF-8 where latin-1 was agreed": (lines(cpr_line(0, "Østerbro"), cpr_line(1)).encode("utf-8"), (2, 0, {"BYDEL": 1})),
    "UTF-8 with a BOM": (b"\xef\xbb\xbf" + lines(cpr_line(0, "Østerbro"), cpr_line(1)).encode("utf-8"), (2, 0)),
    "truncated last line": ((lines(cpr_line(0), cpr_line(1)) + cpr_line(2)[:14]).encode("cp1252"), (2, 1)),
    "no final newline": (lines(cpr_line(0), cpr_line(1)).rstrip().encode("cp1252"), (2, 0)),
    "unix newlines": (lines(cpr_line(0), cpr_line(1), newline="\n").encode("cp1252"), (2, 0)),
    "31 February, year 2052, year 0001": (lines(cpr_line(0, born="19900231"), cpr_line(1, born="20520101"),
                                                cpr_line(2, born="00010101")).encode("cp1252"), (1, 2)),
    # pandas' %Y%m%d reads 2024123 as 2024-12-03: the contract's exact shape is checked first
    "truncated compact date (7 digits)": (lines(cpr_line(0, born="2024123"), cpr_line(1, born=" 19900101"),
                                                cpr_line(2, born="1990011"), cpr_line(3)).encode("cp1252"), (2, 2)),
    "NULL key and a duplicated key": (lines(";19900101;M;0101;Valby;01;19900101", cpr_line(1), cpr_line(1),
                                            cpr_line(3)).encode("cp1252"), (1, 3)),
    "number lost its leading zero": (lines(cpr_line(0).lstrip("0")).encode("cp1252"), (1, 0)),
    "status as a number": (lines(cpr_line(0, status="1"), cpr_line(1)).encode("cp1252"), (2, 0, {"STATUS": 1})),
    "stray delimiter in a row": (lines(cpr_line(0) + ";extra", cpr_line(1)).encode("cp1252"), (1, 1)),
    "control characters and odd Unicode": (lines(cpr_line(0, "Val\x00by"), cpr_line(1, "Vanløse\u200b")).encode(
        "cp1252", errors="replace"), (1, 1, {"BYDEL": 1})),
    "wrong delimiter": (lines(cpr_line(0)).replace(";", ",").encode("cp1252"), (ExtractError, "missing contract column")),
    "empty file": (b"", (ExtractError, "empty")),
    "header only": (lines().encode("cp1252"), (StructuralValidationError, "zero rows")),
}


@pytest.mark.parametrize("case", CPR_CASES)
def test_cpr_file_corpus(tmp_path, case):
    content, expected = CPR_CASES[case]
    if isinstance(expected[0], type):
        with pytest.raises(expected[0], match=expected[1]):
            cpr_case(tmp_path, content)
        return
    result = cpr_case(tmp_path, content)
    assert (result.rows_staged, result.rows_quarantined) == expected[:2]
    assert result.values_outside_contract == (expected[2] if len(expected) > 2 else {})
    if result.rows_quarantined:
        quarantine = pd.read_parquet(result.quarantine_path)
        assert quarantine["_rules"].str.len().gt(0).all() and quarantine["_reasons"].str.len().gt(0).all()


def test_hundred_thousand_rows_with_one_bad_line(tmp_path):
    rows = [f"{i:010d};19900101;M;0101;Valby;01;19900101" for i in range(100_000)]  # unique keys
    rows[54_321] = rows[54_321].replace("19900101", "1990-13-45", 1)
    result = cpr_case(tmp_path, lines(*rows).encode("cp1252"))
    assert (result.rows_in, result.rows_staged, result.rows_quarantined) == (100_000, 99_999, 1)
    assert result.quarantine_by_rule == {"type:FOED_DATO": 1}


def test_latin1_bytes_in_the_utf8_employment_file_are_quarantined_not_guessed(tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    body = "cpr,maaned,status,afsluttet_uddannelse\n" + f"{pnr(1)[:6]}-{pnr(1)[6:]},2025-10,Beskæftiget,0\n" \
        + f"{pnr(2)[:6]}-{pnr(2)[6:]},2025-10,Ledig,0\n"
    (drop / "beskaeftigelse_202510.csv").write_bytes(body.encode("latin-1"))
    result = run(tmp_path, "beskaeftigelse", str(drop))
    assert (result.rows_staged, result.rows_quarantined) == (1, 1)
    assert "encoding:status" in result.quarantine_by_rule


HOSTILE = "'; DROP TABLE klage; --"


def test_database_table_with_hostile_and_malformed_values(tmp_path):
    db = sqlite3.connect(tmp_path / "klage.db")
    columns = [c.name for c in get_source("klage").table("klage").columns]
    db.execute(f'CREATE TABLE "klage" ({", ".join(f"{c!r}" for c in columns)})'.replace("'", '"'))
    good = ["2025-06-01", "Afgørelse", "Andet", "SOF-ADM", "boern", "BS-2025-000001", None, None, None, "2025-06-01 10:00:00"]
    rows = [
        [1, *good],
        [2, *good[:2], HOSTILE, *good[3:]],                                # carried as data, never executed
        [3, *good[:2], "a\x00b\x07c\u202e" + "é" * 10, *good[3:]],          # NUL (no warehouse holds it): quarantined
        [4, *good[:2], "x" * 10_000_000, *good[3:]],                        # a 10 MB string
        ["5", *good],                                                     # a number as text
        ["abc", *good],                                                   # not a number: quarantined
        [None, *good],                                                    # NULL key: quarantined
        [8, *good], [8, *good],                                           # duplicate key: both quarantined
        [10, "2025-02-31", *good[1:]],                                    # impossible date: quarantined
        [11, *good[:-1], "not a timestamp"],                              # unreadable timestamp: quarantined
    ]
    db.executemany(f'INSERT INTO "klage" VALUES ({",".join("?" * len(columns))})', rows)
    db.commit()
    db.close()
    result = run(tmp_path, "klage", f"sqlite:///{tmp_path}/klage.db")
    assert (result.rows_in, result.rows_staged, result.rows_quarantined) == (11, 4, 7)
    staged = pd.read_parquet(result.staged_path)
    # free text in the closed cause list (T3.05's breakdown) is read as Ukendt, never carried on
    assert staged.set_index("klage_id")["aarsag"].to_dict() == {1: "Andet", 2: "Ukendt", 4: "Ukendt", 5: "Andet"}
    assert result.values_outside_contract == {"aarsag": 2}
    assert result.profile["unknown"] == {"aarsag": 2}
    assert sqlite3.connect(tmp_path / "klage.db").execute('SELECT COUNT(*) FROM "klage"').fetchone() == (11,)
    assert result.quarantine_by_rule == {"duplicate_key": 2, "encoding:aarsag": 1, "not_null:klage_id": 1,
                                         "type:klage_id": 1, "type:modtaget_dato": 1, "type:opdateret": 1}


def test_a_cpr_file_without_its_header_fails_without_its_first_line_anywhere(tmp_path, caplog):
    """Issue 21: the error named the header, which was the first person's line."""
    body = "\r\n".join(cpr_line(i) for i in range(3)) + "\r\n"
    with pytest.raises(ExtractError, match="missing contract column") as failed:
        cpr_case(tmp_path, body.encode("cp1252"))
    assert "the first line has 7 field(s), 0 of them contract column names" in str(failed.value)
    assert pnr(0) not in str(failed.value) and pnr(0) not in caplog.text and "Valby" not in str(failed.value)


def test_an_unreadable_column_names_positions_not_values(tmp_path):
    rows = [cpr_line(i, born=f"x{pnr(i)}") for i in range(30)]
    with pytest.raises(StructuralValidationError, match="cannot be read as date") as failed:
        cpr_case(tmp_path, lines(*rows).encode("cp1252"))
    assert "first at record(s) 1, 2, 3 of the extract" in str(failed.value)
    assert not any(pnr(i) in str(failed.value) for i in range(30))


@pytest.mark.parametrize("planted", ["symlink to a file outside", "symlink inside", "folder"])
def test_a_drop_folder_reads_only_its_own_regular_files(tmp_path, planted):
    """Issue 21: a planted link made the extract read (and log) the first line of any file."""
    drop = tmp_path / "drop"
    drop.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("0101901234;Hansen;hemmelig\n")
    name = f"cpr_{DAY:%Y%m%d}.csv"
    if planted == "symlink to a file outside":
        (drop / name).symlink_to(secret)
    elif planted == "symlink inside":
        (drop / "real.csv").write_text(lines(cpr_line(0)))
        (drop / name).symlink_to(drop / "real.csv")
    else:
        (drop / name).mkdir()
    with pytest.raises(ExtractError, match=f"{name}: refused") as refused:
        run(tmp_path, "cpr", str(drop))
    assert "0101901234" not in str(refused.value) and "Hansen" not in str(refused.value)
    assert not (tmp_path / "landing" / "cpr").exists() or not any((tmp_path / "landing" / "cpr").rglob("*.parquet"))
