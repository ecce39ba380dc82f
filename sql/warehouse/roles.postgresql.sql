-- The warehouse's schemas and roles on PostgreSQL: least privilege for the pipeline and BI.
-- Run as an administrator (a superuser, or a CREATEROLE role that may SET ROLE sofli_pipeline)
-- in the warehouse database, by `sofli warehouse-init` (etl/ops/warehouse_admin.py). Idempotent:
-- running it again changes nothing. No passwords here: the roles are created NOLOGIN, and
-- warehouse-init gives them LOGIN and a password from the environment.
--
--   sofli_pipeline  owns the schemas mart and public and every table and view in them
--                   (writes them: ensure_schema, publish). Nothing else in the cluster.
--   sofli_bi        reads: CONNECT, USAGE on mart and public, SELECT on their tables and
--                   views, today's and future ones. No CREATE anywhere, no TEMPORARY, no
--                   other schema (a staging schema, say) of this database.
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
  EXECUTE format('GRANT CONNECT ON DATABASE %I TO sofli_pipeline, sofli_bi', current_database());
END
$$;

-- The schemas, owned by the pipeline.
CREATE SCHEMA IF NOT EXISTS mart AUTHORIZATION sofli_pipeline;
CREATE SCHEMA IF NOT EXISTS public AUTHORIZATION sofli_pipeline;
ALTER SCHEMA mart OWNER TO sofli_pipeline;
ALTER SCHEMA public OWNER TO sofli_pipeline;
REVOKE ALL ON SCHEMA mart FROM PUBLIC;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
REVOKE ALL ON SCHEMA mart FROM sofli_bi;
REVOKE ALL ON SCHEMA public FROM sofli_bi;
GRANT USAGE ON SCHEMA mart TO sofli_bi;
GRANT USAGE ON SCHEMA public TO sofli_bi;

-- Tables and views already there (an older deployment, or created by an administrator)
-- become the pipeline's; objects of extensions installed in public are left alone.
DO $$
DECLARE
  obj record;
BEGIN
  FOR obj IN
    SELECT n.nspname, c.relname, c.relkind
    FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
    WHERE n.nspname IN ('mart', 'public') AND c.relkind IN ('r', 'p', 'v', 'm')
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
