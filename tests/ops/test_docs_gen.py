"""Generated artefacts stay equal to what the code renders (one source of truth)."""

import re

import sqlglot

from etl.ops.docs_gen import generated_docs
from etl.sources import SOURCES
from etl.sources.sql import SQL_DIR, extract_sql_path, extract_sql_variants, load_extract_sql, render_extract_sql


def test_generated_docs_are_current():
    for path, text in generated_docs().items():
        assert path.read_text(encoding="utf-8") == text, f"{path.name} is stale: run python -m etl.ops.docs_gen"


def test_extract_sql_files_are_current_and_select_only_contract_columns():
    for source in SOURCES.values():
        if source.kind != "database":
            continue
        for table in source.tables:
            for incremental in extract_sql_variants(source, table):
                sql = load_extract_sql(source, table, incremental)
                assert sql == render_extract_sql(source, table, incremental), \
                    f"{extract_sql_path(source, table, incremental)} is stale"
                selected = sqlglot.parse_one(sql, read="tsql").selects
                assert [s.alias_or_name for s in selected] == table.column_names


def test_no_extract_sql_file_is_left_over():
    expected = {extract_sql_path(s, t, inc) for s in SOURCES.values() if s.kind == "database"
                for t in s.tables for inc in extract_sql_variants(s, t)}
    assert set(SQL_DIR.rglob("*.sql")) == expected


def test_extract_sql_is_valid_tsql_postgres_and_sqlite():
    for source in SOURCES.values():
        for table in source.tables if source.kind == "database" else ():
            for incremental in extract_sql_variants(source, table):
                sql = re.sub(r"--.*", "", load_extract_sql(source, table, incremental))
                for dialect in ("tsql", "postgres", "sqlite"):
                    sqlglot.transpile(sql, read=dialect, unsupported_level=sqlglot.ErrorLevel.RAISE)


def test_incremental_sql_binds_its_window_and_never_formats_it():
    for source in SOURCES.values():
        for table in source.tables if source.kind == "database" and source.tables else ():
            if not table.watermark:
                continue
            where = sqlglot.parse_one(load_extract_sql(source, table, True), read="tsql").args["where"]
            placeholders = sorted(p.name for p in where.find_all(sqlglot.exp.Placeholder))
            assert placeholders == ["since", "until"], (source.name, table.name)
