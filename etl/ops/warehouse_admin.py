"""`sofli warehouse-init`: set up the PostgreSQL warehouse as an administrator (idempotent).

1. creates the warehouse database when it does not exist yet;
2. runs `sql/warehouse/roles.postgresql.sql`: schemas `mart`, `public` and `restricted` owned
   by the NOLOGIN role `sofli_pipeline`, the read-only NOLOGIN roles `sofli_bi` (mart and
   public), `sofli_bi_public` (public only) and `sofli_bi_restricted` (restricted, the
   caseworker level, and mart), none of which may connect to another database;
3. gives a role LOGIN and its password when the password is in the environment
   (`WAREHOUSE_PASSWORD` for sofli_pipeline, `WAREHOUSE_BI_PASSWORD` for sofli_bi,
   `WAREHOUSE_BI_PUBLIC_PASSWORD` for sofli_bi_public, `WAREHOUSE_BI_RESTRICTED_PASSWORD` for
   sofli_bi_restricted; a role
   whose variable is unset is left as it is). The password is sent as a SCRAM verifier
   computed here, so the plain text never reaches the server's statement log;
4. creates the contract's tables and (re)creates the views as sofli_pipeline
   (`ensure_schema`), so the BI layer can connect before the first night has run and a
   release's view changes land at deploy time, not during the night.

The administrator's URL comes from `--admin-url` or `SOFLI_WAREHOUSE_ADMIN_URL` (better:
not visible in the process list), e.g. `postgresql+psycopg2://admin:pw@db/warehouse`. The
variables are read by the settings owner (`etl.core.settings.resolve_warehouse_admin`), never
here, and never become part of the pipeline's settings.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Mapping
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from etl.core.settings import WAREHOUSE_LOGIN_PASSWORD_ENV, resolve_warehouse_admin
from etl.publish.warehouse import SQL_DIR, ensure_schema, make_engine, warehouse_sql_dir

log = logging.getLogger(__name__)
PIPELINE_ROLE = "sofli_pipeline"
BI_ROLE = "sofli_bi"
#: Reads the schema `public` only (the suppressed figures), for readers outside the administration.
BI_PUBLIC_ROLE = "sofli_bi_public"
#: Reads `restricted` (caseworker-level output, issue 21) and `mart`: the case-review leaders.
BI_RESTRICTED_ROLE = "sofli_bi_restricted"
#: Role -> the environment variable holding its password (named by the settings owner).
PASSWORD_ENV = {role: WAREHOUSE_LOGIN_PASSWORD_ENV[role]
                for role in (PIPELINE_ROLE, BI_ROLE, BI_PUBLIC_ROLE, BI_RESTRICTED_ROLE)}


def roles_sql(sql_dir: Path = SQL_DIR.parent) -> str:
    return (warehouse_sql_dir(sql_dir) / "roles.postgresql.sql").read_text(encoding="utf-8")


def create_database(admin_url: URL) -> bool:
    """Create the URL's database from the maintenance database `postgres` if missing."""
    maintenance = sa.create_engine(admin_url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with maintenance.connect() as conn:
            exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :d"),
                                  {"d": admin_url.database}).first()
            if not exists:
                conn.exec_driver_sql(f'CREATE DATABASE "{admin_url.database}"')
                log.info("created database %s", admin_url.database)
            return not exists
    finally:
        maintenance.dispose()


def apply_roles(engine: sa.Engine, sql_dir: Path = SQL_DIR.parent) -> None:
    """Run the roles DDL as one script (it has DO blocks) in one transaction."""
    with engine.begin() as conn:
        cursor = conn.connection.cursor()  # the whole file at once, no parameter interpolation
        cursor.execute(roles_sql(sql_dir))
        cursor.close()


def set_login(engine: sa.Engine, role: str, password: str) -> None:
    from psycopg2.extensions import encrypt_password  # noqa: PLC0415 - PostgreSQL only

    with engine.begin() as conn:
        raw = conn.connection.dbapi_connection
        verifier = encrypt_password(password, role, raw)  # the server's password_encryption (SCRAM)
        conn.exec_driver_sql(f'ALTER ROLE "{role}" WITH LOGIN PASSWORD %(p)s', {"p": verifier})
    log.info("%s: LOGIN with the password from %s", role, PASSWORD_ENV[role])


def pipeline_engine(admin_url: URL | str) -> sa.Engine:
    """The administrator's connection acting as sofli_pipeline (SET ROLE on every connect)."""
    engine = make_engine(make_url(admin_url).render_as_string(hide_password=False))

    @sa.event.listens_for(engine, "connect")
    def _set_role(dbapi_conn, _record):  # noqa: ANN001 - DBAPI callback
        cursor = dbapi_conn.cursor()
        cursor.execute(f"SET ROLE {PIPELINE_ROLE}")
        cursor.close()
        dbapi_conn.commit()
    return engine


def init_warehouse(admin_url: str, env: Mapping[str, str], create_db: bool = True,
                   sql_dir: Path = SQL_DIR.parent) -> dict:
    """Database, schemas, roles, logins and contract tables. Safe to run on every deploy.

    `env`: the login passwords by variable (`PASSWORD_ENV`); a role without one keeps its state."""
    url = make_url(admin_url)
    if url.get_backend_name() != "postgresql":
        raise SystemExit(f"warehouse-init is for PostgreSQL, not {url.get_backend_name()}")
    created = create_database(url) if create_db else False
    engine = sa.create_engine(url)
    try:
        apply_roles(engine, sql_dir)
        logins = []
        for role, variable in PASSWORD_ENV.items():
            if env.get(variable):
                set_login(engine, role, env[variable])
                logins.append(role)
            else:
                log.warning("%s not set: %s keeps its login state", variable, role)
    finally:
        engine.dispose()
    tables = pipeline_engine(url)
    try:
        ensure_schema(tables, replace_views=True, sql_dir=sql_dir)  # deploy time: this release's views
    finally:
        tables.dispose()
    return {"database": url.database, "created": created, "logins": logins}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sofli warehouse-init", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return run(parser.parse_args(argv))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--admin-url", default=None,
                        help="SQLAlchemy URL of an administrator on the warehouse database "
                             "(default: $SOFLI_WAREHOUSE_ADMIN_URL)")
    parser.add_argument("--no-create-database", action="store_true", help="fail if the database does not exist")


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    admin = resolve_warehouse_admin()
    admin_url = args.admin_url or admin.admin_url
    if not admin_url:
        print("warehouse-init: give --admin-url or set SOFLI_WAREHOUSE_ADMIN_URL", file=sys.stderr)
        return 2
    result = init_warehouse(admin_url, admin.passwords, create_db=not args.no_create_database, sql_dir=admin.sql_dir)
    print(f"warehouse {result['database']} ready ({'created' if result['created'] else 'existed'}); "
          f"login: {', '.join(result['logins']) or 'none set'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
