-- Live events for /v1/events (server-sent events): every change of a generation's or project's
-- status and every render progress step becomes a row here and a NOTIFY on `resonance_events`
-- carrying it, so every server instance can stream it to the organization's clients. Rows
-- are kept for a day, so a client reconnecting with Last-Event-ID gets what it missed; beyond
-- that it is told to catch up through /v1/sync.

CREATE TABLE public.events (
    id              bigserial PRIMARY KEY,
    organization_id uuid NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('generation', 'project', 'progress')),
    subject_id      uuid NOT NULL,
    project_id      uuid,
    status          text,
    progress        real,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_by_organization ON public.events (organization_id, id);
CREATE INDEX events_by_time ON public.events (created_at);

ALTER TABLE public.events ENABLE ROW LEVEL SECURITY;
CREATE POLICY events_read ON public.events FOR SELECT
    USING (organization_id = (SELECT auth_private.current_org()));
GRANT SELECT ON public.events TO resonance_app;

CREATE FUNCTION auth_private.emit_event(p_org uuid, p_kind text, p_subject uuid, p_project uuid, p_status text, p_progress real)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    new_id bigint;
BEGIN
    INSERT INTO public.events (organization_id, kind, subject_id, project_id, status, progress)
    VALUES (p_org, p_kind, p_subject, p_project, p_status, p_progress) RETURNING id INTO new_id;
    PERFORM pg_notify('resonance_events', json_build_object(
        'id', new_id, 'organization_id', p_org, 'kind', p_kind, 'subject_id', p_subject,
        'project_id', p_project, 'status', p_status, 'progress', p_progress)::text);
END $$;

CREATE FUNCTION auth_private.generation_event() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status THEN
        PERFORM auth_private.emit_event(NEW.organization_id, 'generation', NEW.id, NEW.project_id, NEW.status, NULL);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER generation_events AFTER INSERT OR UPDATE ON public.generations
    FOR EACH ROW EXECUTE FUNCTION auth_private.generation_event();

CREATE FUNCTION auth_private.project_event() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status THEN
        PERFORM auth_private.emit_event(NEW.organization_id, 'project', NEW.id, NEW.id, NEW.status, NULL);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER project_events AFTER UPDATE ON public.projects
    FOR EACH ROW EXECUTE FUNCTION auth_private.project_event();

CREATE FUNCTION auth_private.progress_event() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NEW.progress IS DISTINCT FROM OLD.progress THEN
        PERFORM auth_private.emit_event(NEW.organization_id, 'progress', NEW.generation_id, NEW.project_id, NEW.state, NEW.progress);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER progress_events AFTER UPDATE ON render.jobs
    FOR EACH ROW EXECUTE FUNCTION auth_private.progress_event();
