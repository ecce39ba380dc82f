"""The warehouse on PostgreSQL: the roles DDL, least privilege for the pipeline and BI, and
the same chain giving the same figures on PostgreSQL as on SQLite.

One database per module on the session's server (`postgres` fixture); `warehouse-init`
runs as the superuser; the chain runs once on demo data (two quarters), its KPI set is
published to a SQLite and a PostgreSQL warehouse and the data-quality stage runs on both
(from two copies of the data folder, so neither sees the other's history).
"""

from __future__ import annotations

import datetime as dt
import shutil

import pandas as pd
import pytest
import sqlalchemy as sa
from caseworker_scan import caseworker_leaks, model_caseworker_keys
from extracts import extract_all
from sqlalchemy.engine import make_url

from etl.cli.main import main
from etl.core.settings import REPO_ROOT, Settings
from etl.ops.warehouse_admin import (BI_PUBLIC_ROLE, BI_RESTRICTED_ROLE, BI_ROLE, PIPELINE_ROLE, apply_roles,
                                     init_warehouse, roles_sql)
from etl.publish.marts import MART_TABLES, RESTRICTED_TABLES, TABLES
from etl.publish.warehouse import PUBLIC_TABLES, ensure_schema, make_engine, read_table
from etl.synth import generate
from etl.tasks import kpis as kpi_tasks
from etl.tasks import model as model_tasks
from etl.tasks import quality as dq_tasks

pytestmark = pytest.mark.postgres
DATABASE = "sofli_warehouse_test"
DAY = dt.date(2025, 11, 15)
RUN_ID = "pg-parity"
PASSWORDS = {"WAREHOUSE_PASSWORD": "pipeline-test-password", "WAREHOUSE_BI_PASSWORD": "bi-test-password",
             "WAREHOUSE_BI_PUBLIC_PASSWORD": "bi-public-test-password",
             "WAREHOUSE_BI_RESTRICTED_PASSWORD": "bi-restricted-test-password"}
#: Columns that differ between two runs by construction.
RUN_COLUMNS = {"run_id", "computed_at", "checked_at", "flagged_at", "age_hours"}
INSUFFICIENT_PRIVILEGE = "42501"


@pytest.fixture(scope="module")
def warehouse(postgres):
    """A fresh database set up by warehouse-init; URLs for admin, pipeline and BI."""
    admin = postgres.new_database(DATABASE)
    result = init_warehouse(admin, env=PASSWORDS)
    url = make_url(admin)
    urls = {"admin": admin, "result": result,
            PIPELINE_ROLE: url.set(username=PIPELINE_ROLE, password=PASSWORDS["WAREHOUSE_PASSWORD"]),
            BI_ROLE: url.set(username=BI_ROLE, password=PASSWORDS["WAREHOUSE_BI_PASSWORD"]),
            BI_PUBLIC_ROLE: url.set(username=BI_PUBLIC_ROLE, password=PASSWORDS["WAREHOUSE_BI_PUBLIC_PASSWORD"]),
            BI_RESTRICTED_ROLE: url.set(username=BI_RESTRICTED_ROLE,
                                        password=PASSWORDS["WAREHOUSE_BI_RESTRICTED_PASSWORD"])}
    engine = sa.create_engine(admin)
    with engine.begin() as conn:  # a schema the pipeline may have beside the published ones
        conn.exec_driver_sql(f"CREATE SCHEMA staging AUTHORIZATION {PIPELINE_ROLE}")
        conn.exec_driver_sql(f"SET ROLE {PIPELINE_ROLE}")
        conn.exec_driver_sql("CREATE TABLE staging.secret AS SELECT 'cpr' AS what")
    engine.dispose()
    yield {k: v.render_as_string(hide_password=False) if not isinstance(v, str | dict) else v
           for k, v in urls.items()}


def engine_as(warehouse, who: str) -> sa.Engine:
    return make_engine(warehouse[who])


def privileges(admin_url: str) -> list[tuple]:
    """Everything the DDL decides: role attributes, owners and ACLs, default ACLs."""
    engine = sa.create_engine(admin_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("""
            SELECT 'role', rolname, concat_ws(',', rolsuper, rolcreatedb, rolcreaterole, rolcanlogin, rolinherit)
              FROM pg_roles WHERE rolname IN ('sofli_pipeline', 'sofli_bi', 'sofli_bi_public', 'sofli_bi_restricted')
            UNION ALL SELECT 'database', datname, datacl::text FROM pg_database
            UNION ALL SELECT 'schema', nspname, concat_ws(' ', pg_get_userbyid(nspowner), nspacl::text)
              FROM pg_namespace WHERE nspname IN ('mart', 'public', 'restricted', 'staging')
            UNION ALL SELECT 'relation', n.nspname || '.' || c.relname, concat_ws(' ', pg_get_userbyid(c.relowner), c.relacl::text)
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname IN ('mart', 'public', 'restricted') AND c.relkind IN ('r', 'v')
            UNION ALL SELECT 'default', concat_ws(' ', pg_get_userbyid(defaclrole), defaclnamespace::regnamespace::text),
                   defaclacl::text FROM pg_default_acl
            ORDER BY 1, 2, 3""")).all()
    engine.dispose()
    return [tuple(r) for r in rows]


def published_relations(warehouse) -> set[str]:
    engine = sa.create_engine(warehouse["admin"])
    with engine.connect() as conn:
        names = conn.execute(sa.text(
            "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname IN ('mart', 'public', 'restricted') AND c.relkind IN ('r', 'v', 'm', 'p')")).scalars().all()
    engine.dispose()
    return set(names)


def refused(engine: sa.Engine, statement: str) -> bool:
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(statement)
    except sa.exc.DBAPIError as error:
        return getattr(error.orig, "pgcode", None) == INSUFFICIENT_PRIVILEGE
    return False


# --- (a) the DDL -----------------------------------------------------------------------

def test_the_roles_ddl_has_no_password_and_creates_nologin_roles():
    sql = roles_sql()
    code = "\n".join(line.split("--")[0] for line in sql.splitlines()).upper()
    assert "PASSWORD" not in code and "LOGIN" in code and " LOGIN" not in code.replace("NOLOGIN", "")
    assert f"CREATE ROLE {PIPELINE_ROLE} NOLOGIN" in sql and f"CREATE ROLE {BI_ROLE} NOLOGIN" in sql


def test_the_roles_ddl_and_warehouse_init_are_idempotent(warehouse):
    assert warehouse["result"]["logins"] == [PIPELINE_ROLE, BI_ROLE, BI_PUBLIC_ROLE, BI_RESTRICTED_ROLE]
    before = privileges(warehouse["admin"])
    engine = sa.create_engine(warehouse["admin"])
    apply_roles(engine)
    apply_roles(engine)
    engine.dispose()
    assert privileges(warehouse["admin"]) == before  # LOGIN stays: the DDL never resets it
    again = init_warehouse(warehouse["admin"], env={})  # no passwords this time: roles keep theirs
    assert again["created"] is False and again["logins"] == []
    assert privileges(warehouse["admin"]) == before
    roles = {r[1]: r[2] for r in before if r[0] == "role"}
    assert roles == dict.fromkeys((PIPELINE_ROLE, BI_ROLE, BI_PUBLIC_ROLE, BI_RESTRICTED_ROLE),
                                  "f,f,f,t,f")  # super, createdb, createrole, login, inherit


def test_the_pipeline_owns_the_schemas_and_everything_in_them(warehouse):
    owners = {r[1]: r[2].split()[0] for r in privileges(warehouse["admin"]) if r[0] in ("schema", "relation")}
    assert owners["mart"] == owners["public"] == owners["restricted"] == PIPELINE_ROLE
    expected = {f"mart.{t}" for t in MART_TABLES} | {f"public.{t}" for t in PUBLIC_TABLES} | {
        f"restricted.{t}" for t in RESTRICTED_TABLES} | {"mart.kpi_tile", "public.kpi_tile"}
    assert expected <= set(owners)
    assert {owners[name] for name in expected} == {PIPELINE_ROLE}


def test_sofli_warehouse_init_creates_the_database_and_sets_logins(warehouse, postgres, monkeypatch, capsys):
    name = DATABASE + "_cli"
    postgres.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin = make_url(warehouse["admin"]).set(database=name).render_as_string(hide_password=False)
    monkeypatch.setenv("SOFLI_WAREHOUSE_ADMIN_URL", admin)  # not on the command line: ps shows it
    monkeypatch.setenv("WAREHOUSE_BI_PASSWORD", PASSWORDS["WAREHOUSE_BI_PASSWORD"])
    monkeypatch.delenv("WAREHOUSE_PASSWORD", raising=False)
    assert main(["warehouse-init"]) == 0
    assert capsys.readouterr().out.strip() == f"warehouse {name} ready (created); login: sofli_bi"
    bi = make_engine(make_url(admin).set(username=BI_ROLE, password=PASSWORDS["WAREHOUSE_BI_PASSWORD"]).render_as_string(False))
    with bi.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM public.kpi_value").scalar_one() == 0
    bi.dispose()
    postgres.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_a_non_superuser_database_owner_can_run_warehouse_init(warehouse, postgres):
    """A managed PostgreSQL's administrator is CREATEROLE and owns the database, not a superuser."""
    postgres.execute("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sofli_test_admin') "
                     "THEN CREATE ROLE sofli_test_admin LOGIN CREATEROLE; END IF; END $$")
    superuser = make_url(postgres.new_database(DATABASE + "_owned"))
    postgres.execute(f'ALTER DATABASE "{superuser.database}" OWNER TO sofli_test_admin')
    admin = superuser.set(username="sofli_test_admin").render_as_string(hide_password=False)
    init_warehouse(admin, env={}, create_db=False)
    init_warehouse(admin, env={}, create_db=False)
    owners = {r[1]: r[2].split()[0] for r in privileges(superuser.render_as_string(False)) if r[0] == "schema"}
    assert owners == {"mart": PIPELINE_ROLE, "public": PIPELINE_ROLE, "restricted": PIPELINE_ROLE}
    assert {"mart.kpi_value", "public.kpi_value", "public.kpi_tile"} <= published_relations({"admin": admin})


# --- (b) the pipeline role ---------------------------------------------------------------

def test_the_pipeline_role_maintains_its_tables_but_creates_no_schema(warehouse):
    engine = engine_as(warehouse, PIPELINE_ROLE)
    ensure_schema(engine)  # tables and views exist: nothing to create, views replaced
    ensure_schema(engine)
    assert refused(engine, "CREATE SCHEMA elsewhere")
    assert refused(engine, "CREATE TEMPORARY TABLE scratch (x int)")
    engine.dispose()


def test_the_nightly_ensure_schema_does_not_wait_for_a_bi_query_on_a_view(warehouse, bi):
    night = sa.create_engine(warehouse[PIPELINE_ROLE], connect_args={"options": "-c lock_timeout=2000"})
    with bi.connect() as reading:  # a Power BI refresh in the middle of reading the tiles
        reading.exec_driver_sql("SELECT count(*) FROM mart.kpi_tile").scalar_one()
        ensure_schema(night)  # replacing the view would wait for the reader and time out
        with pytest.raises(sa.exc.OperationalError, match="lock timeout"):
            ensure_schema(night, replace_views=True)  # what warehouse-init does at deploy time
    night.dispose()


# --- (c) the BI role ---------------------------------------------------------------------

def row_counts(engine, relations) -> dict[str, int]:
    """Each relation's row count, read as `engine`'s role (a refusal raises)."""
    with engine.connect() as conn:
        return {name: conn.exec_driver_sql(f"SELECT count(*) FROM {name}").scalar_one() for name in sorted(relations)}


def _role_engine(fixture_name: str, role: str):
    """A module fixture: an engine logged in as `role` (the warehouse's BI roles)."""

    @pytest.fixture(scope="module", name=fixture_name)
    def engine(warehouse):
        logged_in = engine_as(warehouse, role)
        yield logged_in
        logged_in.dispose()

    return engine


bi = _role_engine("bi", BI_ROLE)
bi_public = _role_engine("bi_public", BI_PUBLIC_ROLE)
bi_restricted = _role_engine("bi_restricted", BI_RESTRICTED_ROLE)


def test_bi_reads_every_table_and_view_in_mart_and_public(warehouse, bi):
    relations = {r for r in published_relations(warehouse) if not r.startswith("restricted.")}
    assert {"mart.kpi_value", "public.kpi_value", "mart.kpi_tile", "public.kpi_tile", "mart.dq_result"} <= relations
    assert set(row_counts(bi, relations)) == relations  # the figures themselves: the parity tests below


def _as_pipeline(warehouse, statement: str) -> None:
    """One statement as the pipeline's role (which owns the schemas)."""
    pipeline_engine = engine_as(warehouse, PIPELINE_ROLE)
    with pipeline_engine.begin() as conn:
        conn.exec_driver_sql(statement)
    pipeline_engine.dispose()


def test_bi_reads_a_table_the_pipeline_creates_later(warehouse, bi):
    _as_pipeline(warehouse, "CREATE TABLE IF NOT EXISTS public.later AS SELECT 1 AS x")
    with bi.connect() as conn:
        assert conn.exec_driver_sql("SELECT x FROM public.later").scalar_one() == 1
    assert refused(bi, "DROP TABLE public.later")


@pytest.mark.parametrize("statement", [
    "INSERT INTO mart.kpi_value (kpi_id) VALUES ('X')",
    "INSERT INTO public.kpi_value (kpi_id) VALUES ('X')",
    "UPDATE mart.kpi_value SET value = 0",
    "UPDATE public.kpi_value SET value = 0",
    "DELETE FROM mart.dq_result",
    "DELETE FROM public.kpi_value",
    "TRUNCATE public.kpi_catalog",
    "CREATE TABLE mart.mine (x int)",
    "CREATE TABLE public.mine (x int)",
    "CREATE VIEW public.mine AS SELECT 1 AS x",
    "CREATE TABLE mine (x int)",  # the default search_path: "$user", public
    "CREATE TEMPORARY TABLE mine (x int)",
    "CREATE SCHEMA mine",
    "CREATE FUNCTION public.lower(text) RETURNS text LANGUAGE sql AS 'SELECT $1'",
    "ALTER TABLE public.kpi_value ADD COLUMN x int",
    "SELECT * FROM staging.secret",
])
def test_bi_cannot_write_create_or_read_other_schemas(bi, statement):
    assert refused(bi, statement)


def test_the_public_reader_reads_public_and_nothing_else(warehouse, bi_public):
    """Issue 21: a role for readers outside the administration sees the suppressed figures only."""
    relations = published_relations(warehouse)
    counts = row_counts(bi_public, {r for r in relations if r.startswith("public.")})
    assert {"public.kpi_value", "public.kpi_tile", "public.kpi_catalog"} <= set(counts)
    for name in sorted(r for r in relations if r.startswith("mart.")):
        assert refused(bi_public, f"SELECT count(*) FROM {name}"), name
    for statement in ("INSERT INTO public.kpi_value (kpi_id) VALUES ('X')", "DELETE FROM public.kpi_value",
                      "CREATE TABLE public.mine (x int)", "CREATE TEMPORARY TABLE mine (x int)",
                      "CREATE SCHEMA mine", "SELECT * FROM staging.secret"):
        assert refused(bi_public, statement), statement


def test_only_the_restricted_reader_reads_the_caseworker_level(warehouse, bi, bi_public, bi_restricted):
    """Issue 21: `restricted` (caseworker rows, dim_caseworker, case_cost) is read by
    sofli_bi_restricted alone, which also reads mart (the dimensions) but not public; sofli_bi and
    sofli_bi_public get permission denied on every restricted table."""
    relations = published_relations(warehouse)
    restricted = {r for r in relations if r.startswith("restricted.")}
    assert restricted == {f"restricted.{t}" for t in RESTRICTED_TABLES}
    for name in sorted(restricted):
        assert refused(bi, f"SELECT count(*) FROM {name}"), name
        assert refused(bi_public, f"SELECT count(*) FROM {name}"), name
    counts = row_counts(bi_restricted, restricted | {r for r in relations if r.startswith("mart.")})
    assert set(counts) == restricted | {r for r in relations if r.startswith("mart.")}
    for name in sorted(r for r in relations if r.startswith("public.")):
        assert refused(bi_restricted, f"SELECT count(*) FROM {name}"), name
    for statement in ("INSERT INTO restricted.case_cost (year) VALUES (2025)", "DELETE FROM restricted.dim_caseworker",
                      "UPDATE restricted.kpi_value_caseworker SET value = 0", "DELETE FROM mart.kpi_value",
                      "CREATE TABLE restricted.mine (x int)", "CREATE TEMPORARY TABLE mine (x int)",
                      "CREATE SCHEMA mine", "SELECT * FROM staging.secret"):
        assert refused(bi_restricted, statement), statement


def test_a_table_the_pipeline_creates_later_in_restricted_is_for_the_restricted_reader_only(warehouse, bi,
                                                                                            bi_restricted):
    _as_pipeline(warehouse, "CREATE TABLE IF NOT EXISTS restricted.later AS SELECT 1 AS x")
    with bi_restricted.connect() as conn:
        assert conn.exec_driver_sql("SELECT x FROM restricted.later").scalar_one() == 1
    assert refused(bi, "SELECT x FROM restricted.later")
    _as_pipeline(warehouse, "DROP TABLE restricted.later")


@pytest.mark.parametrize("role", [PIPELINE_ROLE, BI_ROLE, BI_PUBLIC_ROLE, BI_RESTRICTED_ROLE])
@pytest.mark.parametrize("database", ["postgres", "template1"])
def test_our_roles_cannot_connect_to_another_database_of_the_cluster(warehouse, role, database):
    other = make_engine(make_url(warehouse[role]).set(database=database).render_as_string(False))
    with pytest.raises(sa.exc.OperationalError, match="permission denied for database"):
        other.connect().close()
    other.dispose()


def test_other_login_roles_keep_their_access_to_other_databases(warehouse, postgres):
    """Revoking PUBLIC's CONNECT elsewhere must not lock out a role that is not ours."""
    postgres.execute("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sofli_neighbour') "
                     "THEN CREATE ROLE sofli_neighbour LOGIN; END IF; END $$")
    postgres.execute("GRANT CONNECT ON DATABASE postgres TO PUBLIC")  # as a fresh cluster has it
    init_warehouse(warehouse["admin"], env={}, create_db=False)  # run again: the neighbour keeps access
    neighbour = make_engine(make_url(warehouse["admin"]).set(username="sofli_neighbour", database="postgres")
                            .render_as_string(False))
    with neighbour.connect() as conn:
        assert conn.exec_driver_sql("SELECT 1").scalar_one() == 1
    neighbour.dispose()
    for role in (BI_ROLE, BI_PUBLIC_ROLE, BI_RESTRICTED_ROLE):
        other = make_engine(make_url(warehouse[role]).set(database="postgres").render_as_string(False))
        with pytest.raises(sa.exc.OperationalError, match="permission denied for database"):
            other.connect().close()
        other.dispose()


def test_roles_without_grants_see_nothing(warehouse, postgres):
    postgres.execute("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sofli_outsider') "
                     "THEN CREATE ROLE sofli_outsider LOGIN; END IF; END $$")
    outsider = make_engine(make_url(warehouse["admin"]).set(username="sofli_outsider").render_as_string(False))
    with pytest.raises(sa.exc.OperationalError, match="permission denied for database"):
        outsider.connect().close()
    outsider.dispose()


# --- (d) the same chain on SQLite and PostgreSQL -------------------------------------------

@pytest.fixture(scope="module")
def published(warehouse, tmp_path_factory):
    """The chain once; KPIs and data quality published to SQLite and to PostgreSQL."""
    data = tmp_path_factory.mktemp("pg-parity") / "sqlite"
    generate(data / "sources", "demo", seed=5, extraction_date=DAY)
    with pytest.MonkeyPatch.context() as env:
        for name in ("SOFLI_WAREHOUSE_URL", "SOFLI_PSEUDONYM_KEY", "AIRFLOW_HOME", "AIRFLOW_CONN_SOFLI_WAREHOUSE"):
            env.delenv(name, raising=False)
        sqlite = Settings(data, REPO_ROOT / "reference", "demo")
        extract_all(DAY, RUN_ID, sqlite)
        model_tasks.build_model(DAY, sqlite)
        audited = kpi_tasks.audit_kpis(kpi_tasks.compute_kpis(RUN_ID, sqlite, history_quarters=1), settings=sqlite)
        shutil.copytree(data, data.with_name("postgres"))
        pg = Settings(data.with_name("postgres"), REPO_ROOT / "reference", "demo",
                      warehouse_location=warehouse[PIPELINE_ROLE])
        results = {"sqlite": night(audited, sqlite)}
        assert make_url(pg.warehouse_url()).username == PIPELINE_ROLE
        results["postgres"] = night(audited, pg)  # the staged path is relative: the copy's own file
    return {"sqlite": f"sqlite:///{data}/warehouse/warehouse.db", "postgres": warehouse[PIPELINE_ROLE],
            "results": results, "model": data / "model"}


def night(audited: dict, settings: Settings) -> dict:
    """Publish the KPIs, then data quality twice (the second run reads the first as its previous)."""
    return {"kpi": kpi_tasks.publish_kpis(audited, settings), "dq": dq_tasks.run_data_quality(RUN_ID, settings),
            "dq2": dq_tasks.run_data_quality(RUN_ID + "-2", settings)}


def normalised(url: str, table: str) -> pd.DataFrame:
    """A published table in a dialect-free form: contract types, run columns dropped, sorted."""
    engine = make_engine(url)
    frame = read_table(engine, table)
    engine.dispose()
    schema, name = table.split(".")
    types = {c.name: c.type for c in TABLES[name].columns} if name in TABLES else {}
    for column in frame.columns:
        kind = types.get(column) or ("date" if column.endswith(("_start", "_end")) else None)
        if kind == "date":
            frame[column] = pd.to_datetime(frame[column]).dt.strftime("%Y-%m-%d")
        elif kind == "datetime":
            frame[column] = pd.to_datetime(frame[column]).dt.strftime("%Y-%m-%dT%H:%M:%S")
        elif kind == "bool" or column == "provisional":
            frame[column] = frame[column].map(lambda v: None if pd.isna(v) else bool(v))
        elif pd.api.types.is_numeric_dtype(frame[column]):
            frame[column] = frame[column].astype("float64")
        frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    frame = frame.drop(columns=sorted(RUN_COLUMNS & set(frame.columns)))
    return frame.sort_values(list(frame.columns), key=lambda s: s.astype(str)).reset_index(drop=True)


@pytest.mark.integration
def test_the_chain_publishes_through_the_pipeline_role(published):
    sqlite, pg = published["results"]["sqlite"], published["results"]["postgres"]
    assert pg["kpi"] == sqlite["kpi"] and pg["kpi"]["mart_rows"] > 0
    for run in ("dq", "dq2"):
        assert pg[run] == sqlite[run]


@pytest.mark.integration
@pytest.mark.parametrize("table", ["mart.kpi_value", "public.kpi_value", "mart.kpi_catalog", "public.kpi_catalog",
                                   "mart.kpi_tile", "public.kpi_tile", "mart.dq_rule", "mart.dq_result",
                                   "mart.dq_failure", "mart.dq_kpi_flag", "mart.source_freshness",
                                   "restricted.kpi_value_caseworker", "restricted.dim_caseworker",
                                   "restricted.case_cost"])
def test_postgres_holds_exactly_what_sqlite_holds(published, table):
    sqlite = normalised(published["sqlite"], table)
    pg = normalised(published["postgres"], table)
    assert list(pg.columns) == list(sqlite.columns)
    assert len(pg) == len(sqlite) and len(pg) > 0
    pd.testing.assert_frame_equal(pg, sqlite, check_exact=True)



@pytest.mark.integration
@pytest.mark.parametrize("dialect", ["sqlite", "postgres"])
def test_no_caseworker_row_or_pseudonym_in_mart_or_public(published, dialect):
    """Issue 21: after the demo's publication `mart` and `public` hold no caseworker row and no
    caseworker pseudonym of the model in any text cell of any table or view; `restricted` does."""
    keys = model_caseworker_keys(published["model"])
    assert len(keys) > 20
    engine = make_engine(published[dialect])
    try:
        assert caseworker_leaks(engine, "mart", keys) == {}
        assert caseworker_leaks(engine, "public", keys) == {}
        assert set(caseworker_leaks(engine, "restricted", keys)) == {f"restricted.{t}" for t in RESTRICTED_TABLES}
    finally:
        engine.dispose()
