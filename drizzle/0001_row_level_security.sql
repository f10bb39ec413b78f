-- Tenant isolation enforced by PostgreSQL (row-level security).
--
-- The application connects as the schema owner (it runs migrations and the job queue), but every
-- tenant-scoped unit of work switches to the role `pos_app` for its transaction
-- (set_config('role', 'pos_app', true)) after setting app.tenant_id. pos_app is not a superuser
-- and has no BYPASSRLS, so the policies below decide what it sees, whatever the query says.

DO $$
BEGIN
  CREATE ROLE pos_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
  NULL; -- roles are cluster-wide: another database of this cluster created it already
END
$$;
--> statement-breakpoint
DO $$
BEGIN
  EXECUTE format('GRANT pos_app TO %I', current_user);
EXCEPTION WHEN others THEN
  NULL; -- already a member, or a superuser (who may SET ROLE to any role anyway)
END
$$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION kernel.current_tenant_id() RETURNS uuid
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT nullif(current_setting('app.tenant_id', true), '')::uuid $$;
--> statement-breakpoint
-- Grants pos_app access to every application schema, and enables + forces row-level security with
-- a tenant_isolation policy on every table that has a tenant_id column. Idempotent: each later
-- migration (and a scaffolded module's) calls it again, and so does the app after migrating, so a
-- new module's tables are covered without anyone remembering to.
CREATE OR REPLACE FUNCTION kernel.apply_tenant_isolation() RETURNS void
  LANGUAGE plpgsql
  AS $$
DECLARE
  s record;
  t record;
BEGIN
  FOR s IN
    SELECT nspname FROM pg_namespace
    WHERE nspname NOT IN ('public', 'information_schema', 'drizzle', 'pgboss') AND nspname NOT LIKE 'pg\_%'
  LOOP
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO pos_app', s.nspname);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO pos_app', s.nspname);
  END LOOP;
  FOR t IN
    SELECT c.oid, n.nspname, c.relname, c.relrowsecurity, c.relforcerowsecurity
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
    WHERE c.relkind IN ('r', 'p')
      AND n.nspname NOT IN ('public', 'information_schema', 'drizzle', 'pgboss') AND n.nspname NOT LIKE 'pg\_%'
  LOOP
    IF NOT t.relrowsecurity THEN
      EXECUTE format('ALTER TABLE %I.%I ENABLE ROW LEVEL SECURITY', t.nspname, t.relname);
    END IF;
    IF NOT t.relforcerowsecurity THEN
      EXECUTE format('ALTER TABLE %I.%I FORCE ROW LEVEL SECURITY', t.nspname, t.relname);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_policy WHERE polrelid = t.oid AND polname = 'tenant_isolation') THEN
      EXECUTE format(
        'CREATE POLICY tenant_isolation ON %I.%I USING (tenant_id = kernel.current_tenant_id()) WITH CHECK (tenant_id = kernel.current_tenant_id())',
        t.nspname, t.relname);
    END IF;
  END LOOP;
END
$$;
--> statement-breakpoint
-- The tenant directory: pos_app sees only its own tenant. Enabled but not forced, so that the
-- owner-run slug lookup below can resolve a login's tenant before any tenant is known.
ALTER TABLE auth.tenants ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON auth.tenants
  USING (id = kernel.current_tenant_id()) WITH CHECK (id = kernel.current_tenant_id());
--> statement-breakpoint
-- Login: slug → tenant id, and nothing else, for callers that have no tenant yet.
CREATE OR REPLACE FUNCTION auth.tenant_id_by_slug(p_slug text) RETURNS uuid
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog
  AS $$ SELECT id FROM auth.tenants WHERE slug = p_slug $$;
--> statement-breakpoint
GRANT USAGE ON SCHEMA kernel, auth TO pos_app;
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION kernel.current_tenant_id(), auth.tenant_id_by_slug(text) TO pos_app;
--> statement-breakpoint
SELECT kernel.apply_tenant_isolation();
