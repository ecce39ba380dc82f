-- The warehouse's schemas and roles on PostgreSQL: least privilege for the pipeline and BI.
-- Run as an administrator (a superuser, or a CREATEROLE role that may SET ROLE sofli_pipeline)
-- in the warehouse database, by `sofli warehouse-init` (etl/ops/warehouse_admin.py). Idempotent:
-- running it again changes nothing. No passwords here: the roles are created NOLOGIN, and
-- warehouse-init gives them LOGIN and a password from the environment.
--
--   sofli_pipeline  owns the schemas mart, public and restricted and every table and view in
--                   them (writes them: ensure_schema, publish). Nothing else in the cluster.
--   sofli_bi        reads: CONNECT, USAGE on mart and public, SELECT on their tables and
--                   views, today's and future ones. No CREATE anywhere, no TEMPORARY, no
--                   other schema (restricted, a staging schema, say) of this database.
--   sofli_bi_public reads `public` only (the suppressed figures): no mart (dq_failure
--                   record ids), no restricted, otherwise as sofli_bi.
--   sofli_bi_restricted reads `restricted` (caseworker-level output: kpi_value_caseworker,
--                   dim_caseworker, case_cost; issue 21) and `mart` (the dimensions that
--                   give its rows meaning), for the case-review leaders; otherwise as sofli_bi.
--
-- None of the four may connect to another database of the cluster: CONNECT and TEMPORARY
-- are revoked from PUBLIC on every other database this administrator may change (but another
-- sofli warehouse of the cluster), and every other login role that could connect there keeps
-- its access by an explicit grant.
--
-- Our schema `public` IS PostgreSQL's default schema `public` (same name, one schema per
-- database). It is handed to sofli_pipeline and closed to PUBLIC (every role), so no other
-- role can create objects in it (PostgreSQL 15 already revokes CREATE; 14 and earlier do
-- not) or even look up names there; sofli_bi gets USAGE back explicitly.

DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sofli_pipeline') THEN
    CREATE ROLE sofli_pipeline NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sofli_bi') THEN
    CREATE ROLE sofli_bi NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sofli_bi_public') THEN
    CREATE ROLE sofli_bi_public NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sofli_bi_restricted') THEN
    CREATE ROLE sofli_bi_restricted NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
  END IF;
  -- A non-superuser administrator must be able to act as the pipeline to hand it objects.
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
     AND NOT pg_has_role(current_user, 'sofli_pipeline', 'USAGE') THEN
    EXECUTE format('GRANT sofli_pipeline TO %I', current_user);
  END IF;
END
$$;

-- The database: only our roles connect; nobody creates temporary tables.
DO $$
BEGIN
  EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database());
  EXECUTE format('GRANT CONNECT ON DATABASE %I TO sofli_pipeline, sofli_bi, sofli_bi_public, sofli_bi_restricted',
                 current_database());
END
$$;

-- Every other database: our roles may not connect (nor make temporary tables). PUBLIC's
-- default CONNECT/TEMPORARY is revoked there; every other login role that had them keeps
-- them by an explicit grant, so only ours lose access. A database this administrator does
-- not own (and is not superuser over) is left alone with a notice.
DO $$
DECLARE
  db record;
  other record;
  is_super boolean := (SELECT rolsuper FROM pg_roles WHERE rolname = current_user);
BEGIN
  FOR db IN SELECT d.datname, d.datdba FROM pg_database AS d
             WHERE d.datname <> current_database() AND d.datallowconn
               -- another sofli warehouse of the cluster (its warehouse-init granted the pipeline) stays open to us
               AND NOT EXISTS (SELECT FROM aclexplode(d.datacl) AS a
                               WHERE a.grantee = 'sofli_pipeline'::regrole AND a.privilege_type = 'CONNECT')
  LOOP
    IF NOT (is_super OR pg_has_role(current_user, db.datdba, 'USAGE')) THEN
      RAISE NOTICE 'sofli roles: database % is not ours to change; run warehouse-init as a superuser', db.datname;
      CONTINUE;
    END IF;
    FOR other IN SELECT rolname FROM pg_roles
                  WHERE rolcanlogin AND NOT rolsuper
                    AND rolname NOT IN ('sofli_pipeline', 'sofli_bi', 'sofli_bi_public', 'sofli_bi_restricted')
    LOOP
      IF has_database_privilege(other.rolname, db.datname, 'CONNECT') THEN
        EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', db.datname, other.rolname);
      END IF;
      IF has_database_privilege(other.rolname, db.datname, 'TEMPORARY') THEN
        EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO %I', db.datname, other.rolname);
      END IF;
    END LOOP;
    EXECUTE format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC', db.datname);
    EXECUTE format('REVOKE ALL ON DATABASE %I FROM sofli_pipeline, sofli_bi, sofli_bi_public, sofli_bi_restricted',
                   db.datname);
  END LOOP;
END
$$;

-- The schemas, owned by the pipeline.
CREATE SCHEMA IF NOT EXISTS mart AUTHORIZATION sofli_pipeline;
CREATE SCHEMA IF NOT EXISTS public AUTHORIZATION sofli_pipeline;
CREATE SCHEMA IF NOT EXISTS restricted AUTHORIZATION sofli_pipeline;
ALTER SCHEMA mart OWNER TO sofli_pipeline;
ALTER SCHEMA public OWNER TO sofli_pipeline;
ALTER SCHEMA restricted OWNER TO sofli_pipeline;
REVOKE ALL ON SCHEMA mart FROM PUBLIC;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
REVOKE ALL ON SCHEMA restricted FROM PUBLIC;
REVOKE ALL ON SCHEMA mart FROM sofli_bi;
REVOKE ALL ON SCHEMA public FROM sofli_bi;
REVOKE ALL ON SCHEMA restricted FROM sofli_bi;
REVOKE ALL ON SCHEMA mart FROM sofli_bi_public;
REVOKE ALL ON SCHEMA public FROM sofli_bi_public;
REVOKE ALL ON SCHEMA restricted FROM sofli_bi_public;
REVOKE ALL ON SCHEMA mart FROM sofli_bi_restricted;
REVOKE ALL ON SCHEMA public FROM sofli_bi_restricted;
REVOKE ALL ON SCHEMA restricted FROM sofli_bi_restricted;
GRANT USAGE ON SCHEMA mart TO sofli_bi;
GRANT USAGE ON SCHEMA public TO sofli_bi;
GRANT USAGE ON SCHEMA public TO sofli_bi_public;
GRANT USAGE ON SCHEMA restricted TO sofli_bi_restricted;
GRANT USAGE ON SCHEMA mart TO sofli_bi_restricted;

-- Tables and views already there (an older deployment, or created by an administrator)
-- become the pipeline's; objects of extensions installed in public are left alone.
DO $$
DECLARE
  obj record;
BEGIN
  FOR obj IN
    SELECT n.nspname, c.relname, c.relkind
    FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
    WHERE n.nspname IN ('mart', 'public', 'restricted') AND c.relkind IN ('r', 'p', 'v', 'm')
      AND pg_get_userbyid(c.relowner) <> 'sofli_pipeline'
      AND NOT EXISTS (SELECT FROM pg_depend AS d
                      WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
  LOOP
    EXECUTE format('ALTER %s %I.%I OWNER TO sofli_pipeline',
                   CASE obj.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END,
                   obj.nspname, obj.relname);
  END LOOP;
END
$$;

-- BI reads every table and view in mart and public, now and whatever the pipeline creates later.
REVOKE ALL ON ALL TABLES IN SCHEMA mart FROM sofli_bi;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM sofli_bi;
GRANT SELECT ON ALL TABLES IN SCHEMA mart TO sofli_bi;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO sofli_bi;
ALTER DEFAULT PRIVILEGES FOR ROLE sofli_pipeline IN SCHEMA mart GRANT SELECT ON TABLES TO sofli_bi;
ALTER DEFAULT PRIVILEGES FOR ROLE sofli_pipeline IN SCHEMA public GRANT SELECT ON TABLES TO sofli_bi;

-- The public-only reader: public's tables and views, now and later; nothing of mart.
REVOKE ALL ON ALL TABLES IN SCHEMA mart FROM sofli_bi_public;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM sofli_bi_public;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO sofli_bi_public;
ALTER DEFAULT PRIVILEGES FOR ROLE sofli_pipeline IN SCHEMA public GRANT SELECT ON TABLES TO sofli_bi_public;

-- The case-review leaders' reader: restricted (caseworker level) and mart (its dimensions), now
-- and later; nothing of public. Nobody else reads restricted: a deployment from before issue 21
-- (sofli_bi read the caseworker tables in mart) loses every grant there.
REVOKE ALL ON ALL TABLES IN SCHEMA restricted FROM sofli_bi, sofli_bi_public, sofli_bi_restricted;
REVOKE ALL ON ALL TABLES IN SCHEMA mart FROM sofli_bi_restricted;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM sofli_bi_restricted;
GRANT SELECT ON ALL TABLES IN SCHEMA restricted TO sofli_bi_restricted;
GRANT SELECT ON ALL TABLES IN SCHEMA mart TO sofli_bi_restricted;
ALTER DEFAULT PRIVILEGES FOR ROLE sofli_pipeline IN SCHEMA restricted GRANT SELECT ON TABLES TO sofli_bi_restricted;
ALTER DEFAULT PRIVILEGES FOR ROLE sofli_pipeline IN SCHEMA mart GRANT SELECT ON TABLES TO sofli_bi_restricted;
