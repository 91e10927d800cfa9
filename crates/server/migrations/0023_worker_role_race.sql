-- Migration 0011 creates the worker's role if it is missing. Roles belong to the cluster, so two
-- databases of a new cluster migrating at once can both find it missing and one of them fails
-- (Db::migrate runs the migrator again when that happens). 0011 was once edited to tolerate the
-- race; a committed migration never changes (a database that had applied it refuses a new
-- checksum), so 0011 is back as first committed and the edit's work is done here, in the
-- tolerant form. On every database that ran 0011 the role exists and this changes nothing.
DO $$
BEGIN
  BEGIN
    CREATE ROLE resonance_worker NOLOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT;
  EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
  END;
  EXECUTE format('GRANT resonance_worker TO %I', current_user);
END $$;
