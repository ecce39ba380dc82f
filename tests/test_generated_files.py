"""Generated artefacts stay equal to what the code renders (one source of truth)."""

import re

import sqlglot

from etl.docs_gen import generated_docs
from etl.sources import SOURCES
from etl.sources.sql import extract_sql_path, load_extract_sql, render_extract_sql


def test_generated_docs_are_current():
    for path, text in generated_docs().items():
        assert path.read_text(encoding="utf-8") == text, f"{path.name} is stale: run python -m etl.docs_gen"


def test_extract_sql_files_are_current_and_select_only_contract_columns():
    for source in SOURCES.values():
        if source.kind != "database":
            continue
        for table in source.tables:
            sql = load_extract_sql(source, table)
            assert sql == render_extract_sql(source, table), f"{extract_sql_path(source, table)} is stale"
            selected = sqlglot.parse_one(sql, read="tsql").selects
            assert [s.alias_or_name for s in selected] == table.column_names


def test_extract_sql_is_valid_tsql_postgres_and_sqlite():
    for source in SOURCES.values():
        for table in source.tables if source.kind == "database" else ():
            sql = re.sub(r"--.*", "", load_extract_sql(source, table))
            for dialect in ("tsql", "postgres", "sqlite"):
                sqlglot.transpile(sql, read=dialect, unsupported_level=sqlglot.ErrorLevel.RAISE)
