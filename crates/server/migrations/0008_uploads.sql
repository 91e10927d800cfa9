-- Resumable uploads (tus 1.0 at /v1/uploads). The bytes live in object storage: each PATCH
-- stores its chunk as its own object (`_uploads/<id>/<index>`), so any server instance can take
-- the next chunk; the row is the authority on the offset. When the last byte arrives the chunks
-- are joined, hashed, probed as audio, and stored under `<organization>/<project>/<sha256>.<ext>`.

CREATE TABLE public.uploads (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES public.organizations (id) ON DELETE CASCADE,
    project_id      uuid NOT NULL REFERENCES public.projects (id) ON DELETE CASCADE,
    user_id         uuid NOT NULL,
    length          bigint NOT NULL CHECK (length >= 0),
    "offset"        bigint NOT NULL DEFAULT 0 CHECK ("offset" >= 0 AND "offset" <= length),
    -- The stored chunks' object keys, in byte order.
    parts           text[] NOT NULL DEFAULT '{}',
    metadata        text,
    filename        text,
    declared_sha256 text,
    state           text NOT NULL DEFAULT 'receiving'
                    CHECK (state IN ('receiving', 'complete', 'failed', 'terminated')),
    object_key      text,
    sha256          text,
    -- Seconds of audio, from the decode at completion.
    duration        double precision,
    error           text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL
);
CREATE INDEX uploads_organization_id ON public.uploads (organization_id);
CREATE INDEX uploads_project_id ON public.uploads (project_id);
-- "These bytes are already stored for this organization."
CREATE INDEX uploads_by_hash ON public.uploads (organization_id, sha256) WHERE state = 'complete';
CREATE INDEX uploads_expiring ON public.uploads (expires_at) WHERE state = 'receiving';

ALTER TABLE public.uploads ENABLE ROW LEVEL SECURITY;
CREATE POLICY uploads_read ON public.uploads FOR SELECT
    USING (organization_id = (SELECT auth_private.current_org()));
CREATE POLICY uploads_write ON public.uploads FOR ALL
    USING (organization_id = (SELECT auth_private.current_org())
           AND (SELECT auth_private.current_rank()) >= auth_private.role_rank('developer'))
    WITH CHECK (organization_id = (SELECT auth_private.current_org())
           AND (SELECT auth_private.current_rank()) >= auth_private.role_rank('developer'));
GRANT SELECT, INSERT, UPDATE, DELETE ON public.uploads TO resonance_app;
