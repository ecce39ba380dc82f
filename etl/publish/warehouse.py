"""The warehouse the BI layer reads: schemas `mart` (internal), `public` (suppressed) and
`restricted` (caseworker-level output: `kpi_value_caseworker`, `dim_caseworker`, `case_cost`;
issue 21, read only by the case-review leaders' role).

On SQLite the three schemas are database files attached beside the main one (`mart.db`,
`public.db`, `restricted.db`), so the same schema-qualified names work on SQLite and
PostgreSQL. Tables
are created from the BI-contract descriptions (`etl.publish.marts`); views come from
`sql/warehouse/views.<dialect>.sql`.

On PostgreSQL the schemas and roles come from `sql/warehouse/roles.postgresql.sql`, run
by an administrator (`sofli warehouse-init`, `etl.ops.warehouse_admin`); the pipeline then
connects as `sofli_pipeline`, which owns the schemas but may not create new ones, so
`ensure_schema` creates only the tables and views.

Publishing is write-audit-publish: rows go to a staging table, are counted, and replace
the published slice; every table a task publishes (`mart`, `public` and `restricted`) is replaced in
one transaction (`publish_together`), so a reader sees the old or the new version of all of
them. On SQLite the staging DDL is inside that transaction too (`make_engine`).
On PostgreSQL a transaction-scoped advisory lock per table serialises two publishers of
the same table (they would otherwise collide on the staging table's name).

Nothing CPR-shaped is published (`guard_publication`, before the transaction): a CPR in a
`public` frame refuses the whole publication (every table of it keeps its previous version;
a masked label there would be a wrong breakdown), one in `mart` is masked cell by cell and
logged by table, column and count (the owners still need the rest of a finding's row).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from etl.core.periods import local_today
from etl.core.privacy import MASK, CprInOutputError, cpr_cells, mask_cpr
from etl.core.settings import REPO_ROOT
from etl.core.storage import PRIVATE_FILE, make_private
from etl.core.tables import TableSpec
from etl.publish.marts import CASEWORKER, KEYED_TABLES, KPI_VALUE, MART_TABLES, RESTRICTED_TABLES, TABLES

log = logging.getLogger(__name__)
SCHEMAS = ("mart", "public", "restricted")
#: The schemas the BI views (`views.<dialect>.sql`) are created in.
VIEW_SCHEMAS = ("mart", "public")
SQL_DIR = REPO_ROOT / "sql" / "warehouse"
_SA_TYPES = {"int": sa.BigInteger, "str": sa.Text, "date": sa.Date, "datetime": sa.DateTime,
             "bool": sa.Boolean, "decimal": sa.Float, "float": sa.Float}
#: Which published tables also exist, suppressed, in `public`.
PUBLIC_TABLES = ("kpi_value", "kpi_catalog", "kpi_version", "dq_kpi_flag", "dim_period", "dim_org", "dim_org_code",
                 "dim_kpi", "dim_measure", "dim_dimension", "data_freshness")
#: Columns a release added to a published table, filled in the rows published before it.
BACKFILL = {
    ("kpi_value", "period_key"): "period_type || ':' || CAST(period_start AS TEXT) || ':' || CAST(period_end AS TEXT)",
    ("kpi_value", "comparison"): "'current'",  # frozen versions hold whole quarters; version 0 is replaced nightly
    ("kpi_value", "org_id"): "org_level || ':' || org_key",
    ("kpi_value", "value_status"): "CASE WHEN value IS NULL THEN 'not_available' ELSE 'shown' END",
}


def make_engine(url: str) -> sa.Engine:
    """An engine on which `mart.` and `public.` resolve (SQLite: attached files)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(url, pool_pre_ping=True)
    main = Path(parsed.database).resolve()
    main.parent.mkdir(parents=True, exist_ok=True)
    # the caseworker level: on SQLite the file's mode is the only access control there is, so
    # `restricted.db` is created 0600 whatever the umask (SQLite gives its journal the same mode)
    restricted = main.with_name("restricted.db")
    if not restricted.exists():
        os.close(os.open(restricted, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE))
        make_private(restricted)
    engine = sa.create_engine(url)

    @sa.event.listens_for(engine, "connect")
    def _attach(dbapi_conn, _record):  # noqa: ANN001 - DBAPI callback
        # pysqlite does not BEGIN before DDL, so a staging table's DROP/CREATE would commit on
        # its own: the driver's own transaction handling is switched off and SQLAlchemy's
        # `begin` emits BEGIN (SQLAlchemy's pysqlite docs, "Serializable isolation"). One
        # transaction then spans every statement, and the attached files commit together
        # (SQLite's super-journal: the files are in rollback-journal mode, never WAL).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        for schema in SCHEMAS:
            cursor.execute(f"ATTACH DATABASE ? AS {schema}", (str(main.with_name(f"{schema}.db")),))
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn):  # noqa: ANN001 - SQLAlchemy callback
        conn.exec_driver_sql("BEGIN")
    return engine


def sa_table(spec: TableSpec, schema: str, metadata: sa.MetaData, name: str | None = None) -> sa.Table:
    return sa.Table(name or spec.name, metadata,
                    *(sa.Column(c.name, _SA_TYPES[c.type], nullable=c.nullable, comment=c.description or None)
                      for c in spec.columns),
                    schema=schema, comment=spec.description or None)


def key_index(table: sa.Table, spec: TableSpec) -> sa.Index:
    """The UNIQUE index enforcing a table's declared key; a nullable key column takes part
    as COALESCE(column, '') so NULL (a KPI's total) counts as one value, on SQLite and PostgreSQL."""
    parts = [sa.func.coalesce(table.c[name], "") if spec.column(name).nullable else table.c[name]
             for name in spec.primary_key]
    return sa.Index(f"{spec.name}_key", *parts, unique=True)


def contract_metadata() -> sa.MetaData:
    metadata = sa.MetaData()
    for spec in MART_TABLES.values():
        sa_table(spec, "mart", metadata)
    for name in PUBLIC_TABLES:
        sa_table(MART_TABLES[name], "public", metadata)
    for spec in RESTRICTED_TABLES.values():
        sa_table(spec, "restricted", metadata)
    return metadata


def warehouse_sql_dir(sql_root: Path = SQL_DIR.parent) -> Path:
    """`warehouse/` under the SQL folder: the checkout's `sql/`, or the setting `SOFLI_SQL_DIR`
    (an installed package, e.g. the Docker image, has no checkout: it copies `sql/` to
    /opt/sofli/sql). Runs pass `settings.sql_dir`."""
    return Path(sql_root) / "warehouse"


def _lock(conn: sa.Connection, name: str) -> None:
    """PostgreSQL: hold an advisory lock on `name` until the transaction ends."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": zlib.crc32(f"sofli:{name}".encode())})


def ensure_schema(engine: sa.Engine, replace_views: bool | None = None, sql_dir: Path = SQL_DIR.parent) -> None:
    """Create schemas (SQLite: attached files; PostgreSQL: only when missing), tables and
    views if missing (idempotent, one transaction).

    `replace_views` (default: on SQLite only) re-runs every view statement. On PostgreSQL
    the nightly run leaves existing views alone, because replacing a view waits for every
    BI query reading it; `sofli warehouse-init` replaces them at deploy time."""
    dialect = engine.dialect.name
    replace_views = dialect == "sqlite" if replace_views is None else replace_views
    with engine.begin() as conn:
        _lock(conn, "ensure_schema")
        inspector = sa.inspect(conn)
        if dialect != "sqlite":
            missing = set(SCHEMAS) - set(inspector.get_schema_names())
            for schema in sorted(missing):  # needs CREATE on the database: warehouse-init's job
                conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        metadata = contract_metadata()
        _add_new_columns(conn, inspector, metadata)
        metadata.create_all(conn)
        for table in metadata.sorted_tables:
            if table.name in KEYED_TABLES:
                _create_key_index(conn, key_index(table, TABLES[table.name]))
        move_to_restricted(conn)
        existing = set() if replace_views else {f"{schema}.{view}" for schema in VIEW_SCHEMAS
                                                for view in inspector.get_view_names(schema=schema)}
        for statement in view_statements(dialect, sql_dir):
            created = re.search(r"(?:CREATE\s+(?:OR\s+REPLACE\s+)?|DROP\s+)VIEW\s+(?:IF\s+EXISTS\s+)?(\w+\.\w+)",
                                statement, re.IGNORECASE)
            if created and created.group(1) in existing:
                continue
            conn.exec_driver_sql(statement)


#: Tables an older warehouse kept in `mart` that now live, under the same name, in `restricted`.
MOVED_TABLES = ("dim_caseworker", "case_cost")


def move_to_restricted(conn: sa.Connection) -> dict[str, int]:
    """Migrate a warehouse from before issue 21, in `ensure_schema`'s transaction: the caseworker
    rows of `mart.kpi_value` (every version) move to `restricted.kpi_value_caseworker`, and
    `mart.dim_caseworker` and `mart.case_cost` to `restricted` (then dropped), so nothing
    caseworker-level stays readable by the BI role. A row whose key `restricted` already holds
    keeps the restricted one. Idempotent: with nothing left in `mart` it changes nothing."""
    moved = {}
    columns = ", ".join(f'"{c}"' for c in KPI_VALUE.column_names)
    has = conn.execute(sa.text("SELECT 1 FROM mart.kpi_value WHERE org_level = :cw LIMIT 1"), {"cw": CASEWORKER}).first()
    if has:
        spec = RESTRICTED_TABLES["kpi_value_caseworker"]
        conn.execute(sa.text(
            f"INSERT INTO restricted.kpi_value_caseworker ({columns}) SELECT {columns} FROM mart.kpi_value AS m "
            f"WHERE m.org_level = :cw AND NOT EXISTS (SELECT 1 FROM restricted.kpi_value_caseworker AS r "
            f"WHERE {_same_key(spec, 'm', 'r')})"), {"cw": CASEWORKER})
        moved["kpi_value"] = conn.execute(sa.text("DELETE FROM mart.kpi_value WHERE org_level = :cw"),
                                          {"cw": CASEWORKER}).rowcount
    inspector = sa.inspect(conn)
    for name in MOVED_TABLES:
        if not inspector.has_table(name, schema="mart"):
            continue
        spec = RESTRICTED_TABLES[name]
        present = {c["name"] for c in inspector.get_columns(name, schema="mart")}
        shared = ", ".join(f'"{c}"' for c in spec.column_names if c in present)
        conn.execute(sa.text(f"INSERT INTO restricted.{name} ({shared}) SELECT {shared} FROM mart.{name} AS m "
                             f"WHERE NOT EXISTS (SELECT 1 FROM restricted.{name} AS r WHERE {_same_key(spec, 'm', 'r')})"))
        moved[name] = conn.execute(sa.text(f"SELECT COUNT(*) FROM mart.{name}")).scalar_one()
        conn.exec_driver_sql(f"DROP TABLE mart.{name}")
    for name, rows in moved.items():
        log.warning("moved %d caseworker-level row(s) of mart.%s to the schema restricted (issue 21)", rows, name)
    return moved


def _same_key(spec: TableSpec, a: str, b: str) -> str:
    """SQL: rows `a` and `b` have the same declared key (a NULL key column counts as one value)."""
    return " AND ".join(f"COALESCE({a}.{c}, '') = COALESCE({b}.{c}, '')" if spec.column(c).nullable
                        else f"{a}.{c} = {b}.{c}" for c in spec.primary_key)


def _add_new_columns(conn: sa.Connection, inspector, metadata: sa.MetaData) -> None:
    """A column a release added to a contract table is added to the existing table (NULL in the
    rows published before it): the warehouse follows the contract without a manual migration."""
    for table in metadata.sorted_tables:
        if not inspector.has_table(table.name, schema=table.schema):
            continue  # created whole by create_all
        present = {c["name"] for c in inspector.get_columns(table.name, schema=table.schema)}
        for column in table.columns:
            if column.name not in present:
                kind = column.type.compile(dialect=conn.dialect)
                conn.exec_driver_sql(f'ALTER TABLE {table.schema}.{table.name} ADD COLUMN "{column.name}" {kind}')
                log.info("added column %s.%s.%s (%s)", table.schema, table.name, column.name, kind)
                if (table.name, column.name) in BACKFILL:
                    conn.exec_driver_sql(f'UPDATE {table.schema}.{table.name} SET "{column.name}" = '
                                         f'{BACKFILL[table.name, column.name]}')


def _create_key_index(conn: sa.Connection, index: sa.Index) -> None:
    """CREATE UNIQUE INDEX IF NOT EXISTS (an existing warehouse gets it on its next run)."""
    ddl = str(sa.schema.CreateIndex(index).compile(dialect=conn.dialect))
    conn.exec_driver_sql(ddl.replace("CREATE UNIQUE INDEX", "CREATE UNIQUE INDEX IF NOT EXISTS", 1))


def view_statements(dialect: str, sql_dir: Path = SQL_DIR.parent) -> list[str]:
    """The BI views of `views.<dialect>.sql`, each written once with `{schema}` and
    rendered for `mart`, then `public` (`restricted` has no views)."""
    template = (warehouse_sql_dir(sql_dir) / f"views.{dialect}.sql").read_text(encoding="utf-8")
    # every kpi_value column but value_status, which the views derive (adding stale)
    kv_columns = ", ".join(f"kv.{c}" for c in MART_TABLES["kpi_value"].column_names if c != "value_status")
    statements = []
    for statement in _statements(template):
        schemas = VIEW_SCHEMAS if "{schema}" in statement else ("",)
        statements += [statement.replace("{schema}", schema).replace("{kv_columns}", kv_columns) for schema in schemas]
    return statements


def _statements(sql: str) -> list[str]:
    body = "\n".join(line for line in sql.splitlines() if not line.strip().startswith("--"))
    return [s.strip() for s in body.split(";") if s.strip()]


def _rows(frame: pd.DataFrame, spec: TableSpec) -> list[tuple]:
    """Plain Python values in contract order, one tuple per row: dates as date, NA as None.

    Built column by column (not `to_dict("records")`, which was a third of the publish)."""
    columns = []
    for c in spec.columns:
        values = frame[c.name]
        if c.type == "date":
            values = pd.to_datetime(values).dt.date
        elif c.type == "datetime":
            values = pd.Series(pd.to_datetime(values).dt.to_pydatetime(), index=frame.index, dtype="object")
        values = values.astype(object)
        columns.append(values.where(values.notna(), None).tolist())
    return list(zip(*columns, strict=True)) if columns else []


def _insert(conn: sa.Connection, table: sa.Table, spec: TableSpec, rows: list[tuple]) -> None:
    """Insert the rows. On SQLite straight through the driver's `executemany`, with each
    column's own SQLAlchemy bind conversion applied once per value: the same stored text
    as SQLAlchemy's insert, in a fraction of the time (its per-row parameter handling was
    half of the publish). Other dialects keep SQLAlchemy's batched insert."""
    if not rows:
        return
    if conn.dialect.name != "sqlite":
        conn.execute(table.insert(), [dict(zip(spec.column_names, row, strict=True)) for row in rows])
        return
    processors = [table.c[name].type._cached_bind_processor(conn.dialect) for name in spec.column_names]
    converted = [column if process is None else _bound(column, process)
                 for column, process in zip(zip(*rows, strict=True), processors, strict=True)]
    preparer = conn.dialect.identifier_preparer
    names = ", ".join(preparer.quote(name) for name in spec.column_names)
    marks = ", ".join("?" for _ in spec.column_names)
    conn.exec_driver_sql(f"INSERT INTO {preparer.format_table(table)} ({names}) VALUES ({marks})",
                         list(zip(*converted, strict=True)))


def _bound(column: tuple, process) -> list:
    """A bind conversion over one column: once per distinct value where the values are of
    one type (a night's KPI rows hold ~20 distinct dates in 130k rows), else per value."""
    if len(set(map(type, column)) - {type(None)}) > 1:  # 1, 1.0 and True are one key: keep them apart
        return [None if value is None else process(value) for value in column]
    codes, distinct = pd.factorize(np.array(column, dtype=object))  # None -> code -1
    bound = np.array([process(value) for value in distinct] + [None], dtype=object)
    return bound[codes].tolist()


@dataclass(frozen=True)
class Publication:
    """One table's slice to replace: `replace_where` selects the rows the frame replaces
    (e.g. `{"run_id": ...}`; a list or tuple value: any of them); None replaces the whole table.

    `restamp`: columns set, in the same transaction, on every row the scalar conditions of
    `replace_where` select, the rows kept outside the slice too: a daytime refresh writes only
    the running quarter's periods of version 0 (`{"version": 0, "period_key": [...]}`) and gives
    the kept periods its run id (`{"run_id": ...}`), so the version stays one publication."""

    schema: str
    spec: TableSpec
    frame: pd.DataFrame
    replace_where: dict[str, object] | None = None
    restamp: dict[str, object] | None = None


def publish(engine: sa.Engine, schema: str, spec: TableSpec, frame: pd.DataFrame,
            replace_where: dict[str, object] | None = None, restamp: dict[str, object] | None = None) -> int:
    """Replace a slice of one published table atomically (write-audit-publish); returns the rows."""
    return publish_together(engine, [Publication(schema, spec, frame, replace_where, restamp)])[0]


def publish_together(engine: sa.Engine, publications: list[Publication]) -> list[int]:
    """Replace slices of several tables (`mart`, `public`, `restricted`) in one transaction: a reader,
    and a crash at any statement, sees every table's old version or every table's new one,
    never `mart` of one night beside `public` of another. Returns the rows per publication."""
    for item in publications:
        refuse_caseworker_rows(item)
    publications = guard_publication(publications)  # before anything is written: all or nothing
    metadata = sa.MetaData()
    prepared = []
    for item in publications:
        missing = [c for c in item.spec.column_names if c not in item.frame.columns]
        if missing:
            raise ValueError(f"{item.schema}.{item.spec.name}: frame lacks contract column(s) {missing}")
        target = sa_table(item.spec, item.schema, metadata)
        stage = sa_table(item.spec, item.schema, metadata, name=f"_stage_{item.spec.name}")
        prepared.append((item, target, stage, _rows(item.frame, item.spec)))
    with engine.begin() as conn:  # one transaction: stage, audit, swap every table
        for name in sorted({f"{item.schema}.{item.spec.name}" for item in publications}):  # one order: no deadlock
            _lock(conn, name)
        for item, target, stage, rows in prepared:
            stage.drop(conn, checkfirst=True)
            stage.create(conn)
            _insert(conn, stage, item.spec, rows)
            staged = conn.execute(sa.select(sa.func.count()).select_from(stage)).scalar_one()
            if staged != len(item.frame):  # audit: everything we meant to publish is there
                raise RuntimeError(f"{item.schema}.{item.spec.name}: staged {staged} rows, expected {len(item.frame)}")
            delete = target.delete()
            for column, value in (item.replace_where or {}).items():
                delete = delete.where(target.c[column].in_(list(value)) if isinstance(value, list | tuple)
                                      else target.c[column] == value)
            conn.execute(delete)
            conn.execute(target.insert().from_select(item.spec.column_names, sa.select(*stage.c)))
            if item.restamp:
                update = target.update().values(**item.restamp)
                for column, value in (item.replace_where or {}).items():
                    if not isinstance(value, list | tuple):
                        update = update.where(target.c[column] == value)
                conn.execute(update)
            stage.drop(conn)
    for item in publications:
        log.info("published %d rows to %s.%s", len(item.frame), item.schema, item.spec.name)
    return [len(item.frame) for item in publications]


def refuse_caseworker_rows(item: Publication) -> None:
    """Caseworker-level output belongs in `restricted` only (issue 21): a caseworker row for
    `mart`/`public`, or a restricted table published elsewhere, is a bug, refused before anything is written."""
    if item.schema != "restricted" and item.spec.name in RESTRICTED_TABLES:
        raise ValueError(f"{item.schema}.{item.spec.name}: caseworker-level tables are published in restricted only")
    if item.schema != "restricted" and "org_level" in item.frame.columns \
            and item.frame["org_level"].eq(CASEWORKER).any():
        raise ValueError(f"refusing to publish {item.schema}.{item.spec.name}: "
                         f"{int(item.frame['org_level'].eq(CASEWORKER).sum())} caseworker row(s); they belong in "
                         "restricted.kpi_value_caseworker")


#: The schema readers outside the restricted zone see: a CPR there refuses the publication.
REFUSING_SCHEMAS = ("public",)


def guard_publication(publications: list[Publication]) -> list[Publication]:
    """Every text column of every frame scanned for a CPR: in `public` the publication is
    refused (`CprInOutputError`, naming table, column and count, never the value), elsewhere
    the cells are masked and the rest is published."""
    guarded = []
    for item in publications:
        frame = item.frame
        for column in (c.name for c in item.spec.columns if c.type == "str"):
            if column not in frame.columns or frame[column].isna().all():
                continue
            values = frame[column].astype("object")
            hit = cpr_cells(values.where(values.notna(), ""))
            if not hit.any():
                continue
            where = f"{item.schema}.{item.spec.name}.{column}"
            if item.schema in REFUSING_SCHEMAS:
                raise CprInOutputError(f"refusing to publish {item.schema}.{item.spec.name}: {int(hit.sum())} "
                                       f"CPR-shaped value(s) in column {column}; nothing of this publication was written")
            if frame is item.frame:
                frame = frame.copy()
            frame[column] = frame[column].where(~hit, frame[column].astype("str").map(lambda v: mask_cpr(v, MASK)))
            log.warning("masked %d CPR-shaped value(s) in %s before publishing", int(hit.sum()), where)
        guarded.append(item if frame is item.frame else replace(item, frame=frame))
    return guarded


def read_table(engine: sa.Engine, qualified_name: str, where: str = "", params: dict | None = None,
               columns: Sequence[str] | None = None) -> pd.DataFrame:
    """A published table's rows (`where`: a filter, grouping or order), every column or `columns`."""
    schema, name = qualified_name.split(".")
    tables = RESTRICTED_TABLES if schema == "restricted" else MART_TABLES
    if schema not in SCHEMAS or name not in tables and not (name == "kpi_tile" and schema in VIEW_SCHEMAS):
        raise ValueError(f"not a published table: {qualified_name}")
    if columns is not None and name in tables and set(columns) - set(tables[name].column_names):
        raise ValueError(f"not columns of {qualified_name}: {sorted(set(columns) - set(tables[name].column_names))}")
    selected = ", ".join(f'"{c}"' for c in columns) if columns is not None else "*"
    with engine.connect() as conn:
        return pd.read_sql(sa.text(f'SELECT {selected} FROM {schema}.{name} {where}'), conn, params=params or {})


def today() -> dt.date:
    return local_today()
