"""Extract to landing and validate to staged + quarantine, on real SQLite and real files."""

import datetime as dt
from pathlib import Path
import sqlite3

import pandas as pd
import pytest

from etl.extract.land import ExtractError, extract_table
from etl.sources import get_source
from etl.validate.table import StructuralValidationError, validate_table

DAY = dt.date(2025, 11, 15)
BARN = get_source("boern").table("Barn")


def make_barn_db(path, rows, extra_column=False):
    db = sqlite3.connect(path)
    cols = '"BarnId" INTEGER, "CPR" TEXT, "Foedselsdato" DATE, "Koen" TEXT, "OpdateretTid" DATETIME'
    db.execute(f'CREATE TABLE "Barn" ({cols}{", Navn TEXT" if extra_column else ""})')
    width = 6 if extra_column else 5
    db.executemany(f'INSERT INTO "Barn" VALUES ({",".join("?" * width)})',
                   [r + ("Hemmeligt navn",) if extra_column else r for r in rows])
    db.commit()
    db.close()


def run(tmp_path, source_name="boern", table=BARN, location=None, day=DAY):
    source = get_source(source_name)
    landed = extract_table(source, table, location or f"sqlite:///{tmp_path}/boern.db", tmp_path / "landing", day)
    result = validate_table(source, table, tmp_path / "landing", tmp_path / "staged", tmp_path / "quarantine", day)
    return landed, result


def test_good_rows_staged_bad_rows_quarantined_with_reasons_and_nothing_lost(tmp_path):
    make_barn_db(tmp_path / "boern.db", [
        (1, "010203-1234", "2003-02-01", "M", "2025-01-01 10:00:00"),
        (2, None, "2031-02-31", "K", "2025-01-01 10:00:00"),   # impossible date: type failure
        (3, "0102031234", "2003-02-01", "X", "2025-01-02 10:00:00"),  # not an allowed value: kept as Ukendt
        (4, "x", "2010-05-05", None, "2025-01-03 11:00:00"),   # required value missing
        (5, None, "2012-01-01", "K", "2025-01-03 11:00:00"),   # CPR may be missing: fine here
        (5, None, "2012-01-01", "K", "2025-01-03 11:00:00"),   # duplicate key: both quarantined
        (6, None, "0001-01-01", "K", "2025-01-03 11:00:00"),   # impossible date
    ], extra_column=True)
    landed, result = run(tmp_path)
    assert landed.rows == 7 and landed.watermark == "2025-01-03 11:00:00"
    assert "Navn" not in pd.read_parquet(landed.path).columns  # contract columns only
    assert result.warnings == ["ignored column(s) not in the contract: ['Navn']"]  # drift, reported
    assert result.extra_columns == ["Navn"]
    assert (result.rows_in, result.rows_staged, result.rows_quarantined) == (7, 2, 5)
    assert result.quarantine_by_rule == {"duplicate_key": 2, "not_null:Koen": 1, "type:Foedselsdato": 2}
    staged = pd.read_parquet(result.staged_path)
    assert staged["BarnId"].tolist() == [1, 3]
    assert staged["Koen"].tolist() == ["M", "Ukendt"]  # outside the contract's list: kept, as Ukendt
    assert result.values_outside_contract == {"Koen": 1}
    outside = pd.read_parquet(Path(result.staged_path).parent / "outside_contract.parquet")
    assert outside.to_dict("records") == [{"record_id": "3", "column": "Koen", "cpr": False}]  # the id, never the value
    quarantine = pd.read_parquet(result.quarantine_path)
    assert sorted(quarantine["BarnId"].astype(int)) == [2, 4, 5, 5, 6]
    assert quarantine.set_index("BarnId").loc["2", "_reasons"] == "'2031-02-31' is not a valid date"


def test_unreadable_column_and_zero_rows_and_collapse_are_structural(tmp_path):
    make_barn_db(tmp_path / "boern.db", [(i, None, "not a date", "K", "2025-01-01 00:00:00") for i in range(10)])
    with pytest.raises(StructuralValidationError, match="column 'Foedselsdato' cannot be read as date"):
        run(tmp_path)
    (tmp_path / "boern.db").unlink()
    make_barn_db(tmp_path / "boern.db", [])
    with pytest.raises(StructuralValidationError, match="zero rows"):
        run(tmp_path)
    (tmp_path / "boern.db").unlink()
    make_barn_db(tmp_path / "boern.db", [(i, None, "2010-01-01", "K", "2025-01-01 00:00:00") for i in range(10)])
    run(tmp_path, day=DAY - dt.timedelta(days=1))
    (tmp_path / "boern.db").unlink()
    make_barn_db(tmp_path / "boern.db", [(i, None, "2010-01-01", "K", "2025-01-01 00:00:00") for i in range(4)])
    with pytest.raises(StructuralValidationError, match="collapsed from 10 to 4"):
        run(tmp_path)


def test_cpr_file_latin1_with_truncated_last_line(tmp_path):
    cpr = get_source("cpr")
    drop = tmp_path / "drop"
    drop.mkdir()
    lines = ["PNR;FOED_DATO;KOEN;KOMKOD;BYDEL;STATUS;STATUS_DATO",
             "0102031234;19030201;K;0101;Østerbro;01;19030201",
             "0202031235;19030202;M;0147;;01;19030202",
             "0302031236;19030203;M;0101;Amager Ø"]  # truncated mid-line
    (drop / "cpr_20251115.csv").write_bytes("\r\n".join(lines).encode("cp1252"))
    landed, result = run(tmp_path, "cpr", cpr.table("cpr"), location=str(drop))
    assert (landed.rows, result.rows_staged, result.rows_quarantined) == (3, 2, 1)
    staged = pd.read_parquet(result.staged_path)
    assert staged["BYDEL"].iloc[0] == "Østerbro" and pd.isna(staged["BYDEL"].iloc[1])
    assert result.quarantine_by_rule == {"not_null:STATUS": 1, "not_null:STATUS_DATO": 1}


def test_missing_file_fails_loudly_and_bom_is_stripped(tmp_path):
    besk = get_source("beskaeftigelse")
    drop = tmp_path / "drop"
    drop.mkdir()
    with pytest.raises(ExtractError, match="expected file missing"):
        run(tmp_path, "beskaeftigelse", besk.table("beskaeftigelse"), location=str(drop))
    (drop / "beskaeftigelse_202510.csv").write_bytes(
        "\ufeffcpr,maaned,status,afsluttet_uddannelse\n010203-1234,2025-10,Beskæftiget,0\n".encode())
    (drop / "beskaeftigelse_202511.csv").write_bytes(
        "\ufeffcpr,maaned,status,afsluttet_uddannelse\n010203-1234,2025-11,Uddannelse,1\n".encode())
    landed, result = run(tmp_path, "beskaeftigelse", besk.table("beskaeftigelse"), location=str(drop))
    staged = pd.read_parquet(result.staged_path)
    assert staged["maaned"].dt.date.astype(str).tolist() == ["2025-10-01", "2025-11-01"]
    assert staged["afsluttet_uddannelse"].tolist() == [False, True]
    assert not list((tmp_path / "landing").rglob("*.tmp"))


def _outputs(result) -> dict:
    staged = Path(result.staged_path)
    return {"result": {k: v for k, v in result.as_dict().items() if k not in ("seconds", "staged_path", "quarantine_path")},
            "staged": pd.read_parquet(staged), "outside": pd.read_parquet(staged.parent / "outside_contract.parquet"),
            "quarantine": pd.read_parquet(result.quarantine_path)}


def test_parsing_in_chunks_gives_what_one_pass_gives(tmp_path):
    """The landed text is parsed a chunk at a time (memory): with chunks of two rows, a key
    duplicated across chunks, failures in several columns of one row and values outside the
    contract in several chunks come out exactly as in one pass, and an unreadable column is
    judged on the whole table, not on the chunk where its failures sit."""
    rows = [
        (1, "010203-1234", "2003-02-01", "M", "2025-01-01 10:00:00"),
        (2, None, "2031-02-31", "X", "2025-01-01 10:00:00"),   # type failure and a value outside the list
        (3, "0102031234", "2003-02-01", "X", "2025-01-02 10:00:00"),
        (5, None, "2012-01-01", "K", "2025-01-03 11:00:00"),
        (4, "x", "2010-05-05", None, "2025-01-03 11:00:00"),
        (5, None, "2012-01-01", "Y", "2025-01-03 11:00:00"),   # duplicate of the key two chunks back
        (6, None, "0001-01-01", "K", "not a time"),            # two failures in one row
        (7, None, "2013-01-01", "Q", "2025-01-04 11:00:00"),
        (8, None, "2014-01-01", "K", "2025-01-04 12:00:00"),
    ]
    make_barn_db(tmp_path / "boern.db", rows)
    source = get_source("boern")
    extract_table(source, BARN, f"sqlite:///{tmp_path}/boern.db", tmp_path / "landing", DAY)
    outputs = []
    for chunk_rows in (1_000_000, 2, 1):
        folder = tmp_path / f"chunks-{chunk_rows}"
        result = validate_table(source, BARN, tmp_path / "landing", folder / "staged", folder / "quarantine", DAY,
                                chunk_rows=chunk_rows)
        outputs.append(_outputs(result))
    one_pass = outputs[0]
    assert (one_pass["result"]["rows_staged"], one_pass["result"]["rows_quarantined"]) == (4, 5)
    assert one_pass["result"]["quarantine_by_rule"] == {
        "duplicate_key": 2, "not_null:Koen": 1, "type:Foedselsdato": 2, "type:OpdateretTid": 1}
    assert one_pass["outside"]["record_id"].tolist() == ["3", "7"]  # row 2's X is in a quarantined row
    assert one_pass["quarantine"].set_index("BarnId").loc["6", "_rules"] == "type:Foedselsdato; type:OpdateretTid"
    for chunked in outputs[1:]:
        assert chunked["result"] == one_pass["result"]
        for name in ("staged", "outside", "quarantine"):
            pd.testing.assert_frame_equal(chunked[name], one_pass[name])

    # values outside two columns' lists, in alternating chunks: listed column by column, as one pass lists them
    venteliste = get_source("voksen").table("venteliste")
    db = sqlite3.connect(tmp_path / "voksen.db")
    db.execute('CREATE TABLE "venteliste" (' + ", ".join(f'"{c.name}" TEXT' for c in venteliste.columns) + ")")
    db.executemany('INSERT INTO "venteliste" VALUES (?, ?, ?, ?, ?, ?, ?)', [
        (1, "b1", "§999", "2025-01-01", None, None, "2025-01-01 10:00:00"),
        (2, "b2", "§107", "2025-01-01", "2025-02-01", "Flyttet", "2025-02-01 10:00:00"),
        (3, "b3", "§998", "2025-01-01", None, None, "2025-01-01 10:00:00"),
    ])
    db.commit()
    db.close()
    voksen = get_source("voksen")
    extract_table(voksen, venteliste, f"sqlite:///{tmp_path}/voksen.db", tmp_path / "landing-v", DAY)
    listed = []
    for chunk_rows in (1_000_000, 1):
        folder = tmp_path / f"venteliste-{chunk_rows}"
        result = validate_table(voksen, venteliste, tmp_path / "landing-v", folder / "staged", folder / "quarantine",
                                DAY, chunk_rows=chunk_rows)
        listed.append(pd.read_parquet(Path(result.staged_path).parent / "outside_contract.parquet"))
    assert listed[0][["record_id", "column"]].values.tolist() == [
        ["1", "tilbudstype"], ["3", "tilbudstype"], ["2", "afgang_aarsag"]]
    pd.testing.assert_frame_equal(listed[1], listed[0])

    # 6 of 10 dates unreadable, all of them in the last chunk: the table is broken either way
    (tmp_path / "boern.db").unlink()
    make_barn_db(tmp_path / "boern.db", [(i, None, "2010-01-01" if i < 4 else "no date", "K", "2025-01-01 00:00:00")
                                         for i in range(10)])
    extract_table(source, BARN, f"sqlite:///{tmp_path}/boern.db", tmp_path / "landing2", DAY)
    for chunk_rows in (1_000_000, 3):
        with pytest.raises(StructuralValidationError, match=r"'Foedselsdato' cannot be read as date \(6 of 10 values "
                                                            r"fail, first at record\(s\) 5, 6, 7 of the extract\)"):
            validate_table(source, BARN, tmp_path / "landing2", tmp_path / "s2", tmp_path / "q2", DAY, chunk_rows=chunk_rows)
    # 3 failures in a chunk of 4 are a majority there but not of the table's 10: rows, not the table
    (tmp_path / "boern.db").unlink()
    make_barn_db(tmp_path / "boern.db", [(i, None, "no date" if i < 5 else "2010-01-01", "K", "2025-01-01 00:00:00")
                                         for i in range(10)])
    extract_table(source, BARN, f"sqlite:///{tmp_path}/boern.db", tmp_path / "landing3", DAY)
    for chunk_rows in (1_000_000, 4):
        result = validate_table(source, BARN, tmp_path / "landing3", tmp_path / f"s3-{chunk_rows}",
                                tmp_path / f"q3-{chunk_rows}", DAY, chunk_rows=chunk_rows)
        assert (result.rows_staged, result.rows_quarantined) == (5, 5)
