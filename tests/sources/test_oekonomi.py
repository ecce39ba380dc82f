"""Source 8, `oekonomi`: the contract in the registry, and a real extract of it.

The contract is economy.md's table; everything else (schemas, SQL, warehouse types, the
extract DAG) follows from the registry. The extract runs through the pipeline's own
functions (`etl.tasks.extract.extract_source`) on a generated finance database with
hostile rows added: rows in = staged + quarantined for every table, each bad row in
quarantine under its rule, and the second night reads only the rows changed since the
first (watermark `opdateret`) and merges them.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3

import pandas as pd
import pytest
from sqlalchemy import BigInteger, MetaData, Numeric

from etl.core.settings import REPO_ROOT, Settings
from etl.core.tables import col
from etl.sources import SOURCES
from etl.sources.sql import extract_sql_path, load_extract_sql
from etl.synth import generate
from etl.synth.writer import table_for
from etl.tasks import extract as extract_tasks
from schemas import schema_for

OEKONOMI = SOURCES["oekonomi"]
NIGHT1, NIGHT2 = dt.date(2025, 11, 14), dt.date(2025, 11, 15)


def source_schema(source_name: str, table_name: str):
    """The pandera schema validation runs for a source table (etl/validate/table.py)."""
    source = SOURCES[source_name]
    return schema_for(source.table(table_name), owner=source.owner)


def test_the_registry_has_eight_sources_and_the_economy_runs_after_the_case_systems():
    assert list(SOURCES) == ["boern", "voksen", "tilbud", "klage", "hr", "cpr", "beskaeftigelse", "oekonomi"]
    assert (OEKONOMI.kind, OEKONOMI.owner) == ("database", "team-oekonomi")
    assert [t.name for t in OEKONOMI.tables] == ["postering", "budget", "disponering"]
    assert [(t.primary_key, t.watermark) for t in OEKONOMI.tables] == [
        (("postering_id",), "opdateret"), (("budget_id",), "opdateret"), (("disponering_id",), "opdateret")]

    def minutes(cron: str) -> int:
        minute, hour = cron.split()[:2]
        return int(hour) * 60 + int(minute)
    starts = {name: minutes(s.schedule) for name, s in SOURCES.items()}
    assert starts["oekonomi"] > max(starts["boern"], starts["voksen"], starts["tilbud"])
    assert len(set(starts.values())) == len(starts)  # staggered: no two sources start together


def test_schemas_are_generated_from_the_contract():
    postering = source_schema("oekonomi", "postering")
    assert list(postering.columns) == OEKONOMI.table("postering").column_names
    dtypes = {name: str(c.dtype) for name, c in postering.columns.items()}
    assert (dtypes["postering_id"], dtypes["beloeb"]) == ("Int64", "Float64")
    assert dtypes["bogfoert_dato"].startswith("datetime64") and "str" in dtypes["funktion"]
    assert postering.unique == ["postering_id"] and postering.metadata["owner"] == "team-oekonomi"
    nullable = {name for name, c in postering.columns.items() if c.nullable}
    assert nullable == {"periode_fra", "periode_til", "kreditor_type", "kilde_system", "foranstaltning_ref"}

    def allowed(table: str, column: str) -> list:
        checks = source_schema("oekonomi", table).columns[column].checks
        return [c.statistics["allowed_values"] for c in checks if "allowed_values" in c.statistics][0]
    assert allowed("postering", "kreditor_type") == ["Egen", "Anden kommune", "Privat"]
    assert allowed("postering", "kilde_system") == allowed("disponering", "kilde_system") == ["boern", "voksen"]
    assert allowed("budget", "version") == ["Oprindeligt", "Korrigeret"]
    assert allowed("disponering", "takst_enhed") == ["døgn", "måned", "engangs"]
    assert str(source_schema("oekonomi", "disponering").columns["annulleret"].dtype) == "boolean"


def test_extract_sql_is_rendered_for_both_reads():
    for table in OEKONOMI.tables:
        full, incremental = (load_extract_sql(OEKONOMI, table, inc) for inc in (False, True))
        assert extract_sql_path(OEKONOMI, table).exists()
        assert 'WHERE "opdateret" >= :since AND "opdateret" < :until' in incremental
        assert all(f'"{c}"' in full for c in table.column_names)


def test_the_written_types_are_the_contracts():
    """postering_id is a bigint and amounts decimal(14,2) in every database the generator fills."""
    metadata = MetaData()
    postering = table_for(OEKONOMI.table("postering"), metadata)
    disponering = table_for(OEKONOMI.table("disponering"), metadata)
    assert isinstance(postering.c.postering_id.type, BigInteger)
    for column in (postering.c.beloeb, disponering.c.takst, table_for(OEKONOMI.table("budget"), metadata).c.beloeb):
        assert isinstance(column.type, Numeric) and (column.type.precision, column.type.scale) == (14, 2)
    with pytest.raises(ValueError, match="does not fit"):
        col("x", "str", sql_type="bigint")
    with pytest.raises(ValueError, match="does not fit"):
        col("x", "decimal", sql_type="decimal(14)")


BAD_ROWS = {
    "postering": [
        # (values by column, the rule it must be quarantined under)
        ({"postering_id": 90_000_001, "kreditor_type": "Kommune"}, "allowed_values:kreditor_type"),
        ({"postering_id": 90_000_002, "beloeb": "tolv kroner"}, "type:beloeb"),
        ({"postering_id": 90_000_003, "kilde_system": "tilbud"}, "allowed_values:kilde_system"),
        ({"postering_id": 90_000_004, "bogfoert_dato": "2025-13-01"}, "type:bogfoert_dato"),
    ],
    "budget": [({"budget_id": 90_000_001, "maaned": 13}, "max:maaned"),
               ({"budget_id": 90_000_002, "version": "Foreløbigt"}, "allowed_values:version")],
    "disponering": [({"disponering_id": 90_000_001, "takst_enhed": "uge"}, "allowed_values:takst_enhed"),
                    ({"disponering_id": 90_000_002, "fra_dato": "2025-02-30"}, "type:fra_dato")],
}


def _add_rows(db, table: str, rows: list[dict], stamp: str) -> None:
    """Copy the table's first row, change the given values, and insert it (changed at `stamp`)."""
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        template = dict(conn.execute(f"SELECT * FROM {table} LIMIT 1").fetchone())
        for changes in rows:
            values = {**template, "opdateret": stamp, **changes}
            conn.execute(f"INSERT INTO {table} ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
                         list(values.values()))


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    data = tmp_path_factory.mktemp("oekonomi")
    report = generate(data / "sources", "demo", seed=3, extraction_date=NIGHT1)
    db = data / "sources" / "oekonomi.db"
    for table, rows in BAD_ROWS.items():
        _add_rows(db, table, [changes for changes, _ in rows], "2025-11-13 09:00:00")
    settings = Settings(data, REPO_ROOT / "reference", "demo")
    first = extract_tasks.extract_source("oekonomi", NIGHT1, "night-1", settings)
    first_tables = {t.name: _validation(settings, t.name, NIGHT1) for t in OEKONOMI.tables}
    # The day after: new postings, a corrected budget line, a commitment closed
    with sqlite3.connect(db) as conn:
        old_budget = conn.execute("SELECT budget_id, beloeb FROM budget ORDER BY budget_id LIMIT 1").fetchone()
        conn.execute("UPDATE budget SET beloeb = beloeb + 1000, opdateret = '2025-11-14 10:00:00' WHERE budget_id = ?",
                     (old_budget[0],))
        conn.execute("UPDATE disponering SET til_dato = '2025-11-14', opdateret = '2025-11-14 11:00:00' "
                     "WHERE disponering_id = (SELECT MIN(disponering_id) FROM disponering WHERE til_dato IS NULL)")
    _add_rows(db, "postering", [{"postering_id": 80_000_000 + i, "bilag": f"NEW{i}"} for i in range(5)],
              "2025-11-14 12:00:00")
    second = extract_tasks.extract_source("oekonomi", NIGHT2, "night-2", settings)
    return {"data": data, "db": db, "report": report, "settings": settings, "first": first, "second": second,
            "first_tables": first_tables, "old_budget": old_budget}


def _validation(settings, table: str, day: dt.date) -> dict:
    return json.loads((settings.staged_dir / "oekonomi" / table / f"extract_date={day}" / "validation.json").read_text())


def _source_rows(db, sql: str, params=()) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchone()[0]


def test_a_full_extract_conserves_every_row_and_quarantines_each_bad_one_under_its_rule(nights):
    report, tables = nights["report"], nights["first_tables"]
    for table, bad in BAD_ROWS.items():
        result = tables[table]
        assert result["mode"] == "full"
        assert result["rows_in"] == report["rows"]["oekonomi"][table] + len(bad)
        assert result["rows_in"] == result["rows_staged"] + result["rows_quarantined"]
        assert result["rows_quarantined"] == len(bad)
        assert result["quarantine_by_rule"] == {rule: 1 for _, rule in bad}
        quarantined = pd.read_parquet(nights["settings"].zones.resolve(result["quarantine_path"]))
        key = OEKONOMI.table(table).primary_key[0]
        assert sorted(quarantined[key].astype(int)) == sorted(changes[key] for changes, _ in bad)
    assert nights["first"]["rows_quarantined"] == sum(len(b) for b in BAD_ROWS.values())


def test_staged_amounts_and_dates_are_typed_as_the_contract_says(nights):
    staged = pd.read_parquet(nights["settings"].zones.resolve(nights["first_tables"]["postering"]["staged_path"]))
    with sqlite3.connect(nights["db"]) as conn:
        source = pd.read_sql("SELECT postering_id, beloeb, bogfoert_dato FROM postering WHERE postering_id < 80000000",
                             conn)
    merged = staged.merge(source, on="postering_id", suffixes=("", "_source"))
    assert len(merged) == nights["report"]["rows"]["oekonomi"]["postering"]
    assert (merged["beloeb"] == merged["beloeb_source"]).all()  # to the øre
    assert (merged["bogfoert_dato"].dt.strftime("%Y-%m-%d") == merged["bogfoert_dato_source"]).all()
    assert str(staged["beloeb"].dtype) == "Float64" and (staged["beloeb"] < 0).any()


def test_the_second_night_reads_only_what_changed_and_merges_it(nights):
    settings, db = nights["settings"], nights["db"]
    for table in OEKONOMI.tables:
        result = _validation(settings, table.name, NIGHT2)
        manifest = json.loads((settings.landing_dir / "oekonomi" / table.name / f"extract_date={NIGHT2}"
                               / "manifest.json").read_text())
        assert (manifest["mode"], result["mode"]) == ("incremental", "incremental")
        window = manifest["plan"]
        changed = _source_rows(db, f"SELECT COUNT(*) FROM {table.name} WHERE opdateret >= ? AND opdateret < ?",
                               (window["since"].replace("T", " "), window["until"].replace("T", " ")))
        everything = _source_rows(db, f"SELECT COUNT(*) FROM {table.name}")
        assert result["rows_in"] == manifest["rows"] == changed < everything / 10
        assert result["rows_in"] == result["rows_staged"] + result["rows_quarantined"]
        staged = pd.read_parquet(settings.zones.resolve(result["staged_path"]))
        bad = len(BAD_ROWS[table.name])
        assert len(staged) == result["rows_total"] == everything - bad  # the whole table, the bad rows still out
    postings = pd.read_parquet(settings.zones.resolve(_validation(settings, "postering", NIGHT2)["staged_path"]))
    assert set(range(80_000_000, 80_000_005)) <= set(postings["postering_id"])
    budget = pd.read_parquet(settings.zones.resolve(_validation(settings, "budget", NIGHT2)["staged_path"])).set_index("budget_id")
    budget_id, before = nights["old_budget"]
    assert budget.loc[budget_id, "beloeb"] == before + 1000
    commitments = pd.read_parquet(settings.zones.resolve(_validation(settings, "disponering", NIGHT2)["staged_path"]))
    assert (commitments["til_dato"] == pd.Timestamp("2025-11-14")).sum() >= 1
    assert json.loads((settings.staged_dir / "oekonomi" / "CURRENT.json").read_text())["extract_date"] == str(NIGHT2)
