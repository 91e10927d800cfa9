-- The change feed behind GET /v1/sync.
--
-- Every insert, update and delete of a tenant row upserts one entry per row in sync.row_versions:
-- the row's table and id, its organization, the id of the transaction that last changed it
-- (pg_current_xact_id(), an xid8 that never wraps) and a sequence number for order within it.
-- A delete keeps the entry as a tombstone (`deleted`), cascaded deletes included, because triggers
-- fire for them too.
--
-- Why not a timestamp or a plain sequence as the cursor: transactions commit out of order. A
-- reader that has passed sequence 100 would never see 99 if 99's transaction commits afterwards.
-- The feed therefore only hands out entries whose transaction id is below the xmin of its own
-- snapshot: every transaction below xmin has finished, and every transaction that starts later
-- gets a larger id. Ordered by (txid, seq), nothing can ever appear behind a cursor. The price is
-- that a long-running transaction holds the feed back (never skips it) until it ends.

CREATE SCHEMA sync;
REVOKE ALL ON SCHEMA sync FROM PUBLIC;
GRANT USAGE ON SCHEMA sync TO resonance_app;

CREATE SEQUENCE sync.change_seq;

CREATE TABLE sync.row_versions (
  table_name TEXT NOT NULL
    CHECK (table_name IN ('organizations', 'users', 'projects', 'generations', 'system_logs')),
  row_id UUID NOT NULL,
  organization_id UUID NOT NULL,
  txid XID8 NOT NULL,
  seq BIGINT NOT NULL,
  deleted BOOLEAN NOT NULL,
  changed_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  PRIMARY KEY (table_name, row_id)
);
CREATE INDEX row_versions_feed_idx ON sync.row_versions (organization_id, txid, seq);
CREATE INDEX row_versions_tombstones_idx ON sync.row_versions (changed_at) WHERE deleted;

-- Cursors carry this database's epoch, so a cursor from another (or a restored) database resets.
-- `horizon` is the highest txid whose tombstones were pruned: older cursors must reset.
CREATE TABLE sync.state (
  singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
  epoch UUID NOT NULL DEFAULT gen_random_uuid(),
  horizon XID8 NOT NULL DEFAULT '0'::xid8
);
INSERT INTO sync.state DEFAULT VALUES;

CREATE FUNCTION sync.record_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
  r RECORD;
  org UUID;
BEGIN
  IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
  IF TG_TABLE_NAME = 'organizations' THEN
    org := r.id;
  ELSE
    org := r.organization_id;
  END IF;
  IF org IS NULL THEN
    RETURN NULL;  -- an organization-less log row: nobody's to see
  END IF;
  INSERT INTO sync.row_versions AS v (table_name, row_id, organization_id, txid, seq, deleted)
  VALUES (TG_TABLE_NAME, r.id, org, pg_current_xact_id(), nextval('sync.change_seq'), TG_OP = 'DELETE')
  ON CONFLICT (table_name, row_id) DO UPDATE
    SET organization_id = EXCLUDED.organization_id, txid = EXCLUDED.txid, seq = EXCLUDED.seq,
        deleted = EXCLUDED.deleted, changed_at = now();
  RETURN NULL;
END
$$;

CREATE TRIGGER organizations_sync AFTER INSERT OR UPDATE OR DELETE ON organizations
  FOR EACH ROW EXECUTE FUNCTION sync.record_change();
CREATE TRIGGER users_sync AFTER INSERT OR UPDATE OR DELETE ON users
  FOR EACH ROW EXECUTE FUNCTION sync.record_change();
CREATE TRIGGER projects_sync AFTER INSERT OR UPDATE OR DELETE ON projects
  FOR EACH ROW EXECUTE FUNCTION sync.record_change();
CREATE TRIGGER generations_sync AFTER INSERT OR UPDATE OR DELETE ON generations
  FOR EACH ROW EXECUTE FUNCTION sync.record_change();
CREATE TRIGGER system_logs_sync AFTER INSERT OR UPDATE OR DELETE ON system_logs
  FOR EACH ROW EXECUTE FUNCTION sync.record_change();

ALTER TABLE sync.row_versions ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Org isolation: read" ON sync.row_versions FOR SELECT TO resonance_app
  USING (organization_id = (SELECT auth_private.current_org()));
GRANT SELECT ON sync.row_versions TO resonance_app;
GRANT SELECT ON sync.state TO resonance_app;

-- Forgets tombstones older than `retention`, moving the horizon past them. Returns how many.
-- Safe to run from several server instances at once: they serialize on the state row.
CREATE FUNCTION sync.prune_tombstones(retention INTERVAL) RETURNS BIGINT
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
  pruned BIGINT;
  newest XID8;
BEGIN
  PERFORM 1 FROM sync.state FOR UPDATE;
  WITH gone AS (
    DELETE FROM sync.row_versions WHERE deleted AND changed_at < now() - retention
    RETURNING txid
  )
  SELECT count(*), max(txid) INTO pruned, newest FROM gone;
  IF newest IS NOT NULL THEN
    UPDATE sync.state SET horizon = greatest(horizon, newest);
  END IF;
  RETURN pruned;
END
$$;
REVOKE ALL ON FUNCTION sync.prune_tombstones(INTERVAL) FROM PUBLIC;
