-- Migration 0011 creates the worker's role if it is missing. Roles belong to the cluster, so two
-- databases of a new cluster migrating at once can both find it missing and one of them fails;
-- what protects against that race is Db::migrate, which runs the migrator again when it happens.
-- 0011 was once edited to tolerate the race itself; a committed migration never changes (a
-- database that had applied it refuses a new checksum), so 0011 is back as first committed and
-- the edit's text lives on here, in its tolerant form. After 0011 the role exists, so this
-- creates nothing; it grants the role to the migrating user, who may not be the one that ran 0011.
DO $$
BEGIN
  BEGIN
    CREATE ROLE resonance_worker NOLOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT;
  EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
  END;
  EXECUTE format('GRANT resonance_worker TO %I', current_user);
END $$;
