-- Event ids per organization, numbered in commit order (issue 17). Before, ids came from one
-- global sequence: a tenant could count other tenants' activity from the gaps, a fresh
-- organization's `Last-Event-ID: 0` was told of a `gap`, and two transactions that committed out
-- of id order lost the lower event on a live stream (which drops ids not above the last it sent).
--
-- Now an event is numbered when its transaction commits: a deferred constraint trigger takes
-- the organization's next number (locking its counter row until the commit ends) and sends the
-- NOTIFY. A second transaction committing events for the same organization waits those few
-- moments, so its numbers are higher and become visible later: a stream's ids only grow, and
-- "everything after N" is complete. The lock is taken last, at commit, after every row lock the
-- transaction holds, so it cannot close a deadlock. `seq` is the event's id on the wire; `id`
-- stays the table's own key.

CREATE TABLE auth_private.event_counters (
    organization_id uuid   PRIMARY KEY,
    last            bigint NOT NULL
);

-- Events kept from before keep their ids (unique, and in order within each organization), so a
-- client's Last-Event-ID from the old numbering still means what it meant; each organization's
-- numbering goes on from its newest.
ALTER TABLE public.events ADD COLUMN seq bigint;
UPDATE public.events SET seq = id;
INSERT INTO auth_private.event_counters (organization_id, last)
SELECT organization_id, max(seq) FROM public.events GROUP BY organization_id;
CREATE UNIQUE INDEX events_by_organization_seq ON public.events (organization_id, seq);
DROP INDEX IF EXISTS public.events_by_organization;

CREATE OR REPLACE FUNCTION auth_private.emit_event(p_org uuid, p_kind text, p_subject uuid, p_project uuid, p_status text, p_progress real)
RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    INSERT INTO public.events (organization_id, kind, subject_id, project_id, status, progress)
    VALUES (p_org, p_kind, p_subject, p_project, p_status, p_progress);
$$;

CREATE FUNCTION auth_private.number_event() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    new_seq bigint;
BEGIN
    INSERT INTO auth_private.event_counters AS c (organization_id, last) VALUES (NEW.organization_id, 1)
    ON CONFLICT (organization_id) DO UPDATE SET last = c.last + 1
    RETURNING c.last INTO new_seq;
    UPDATE public.events SET seq = new_seq WHERE id = NEW.id;
    PERFORM pg_notify('resonance_events', json_build_object(
        'id', new_seq, 'organization_id', NEW.organization_id, 'kind', NEW.kind, 'subject_id', NEW.subject_id,
        'project_id', NEW.project_id, 'status', NEW.status, 'progress', NEW.progress)::text);
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER events_numbered_at_commit AFTER INSERT ON public.events
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION auth_private.number_event();

-- The caller's organization's newest event number (0 before any): a Last-Event-ID above it was
-- not given by this server's numbering.
CREATE FUNCTION auth_private.newest_event() RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce((SELECT last FROM auth_private.event_counters WHERE organization_id = auth_private.current_org()), 0);
$$;
REVOKE ALL ON FUNCTION auth_private.newest_event() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth_private.newest_event() TO resonance_app;
