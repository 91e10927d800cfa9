-- Share links (issue 18): a link that plays one finished video without an account. Signed (the
-- URL carries the link's id and an HMAC of it under the server's key, so ids cannot be tried),
-- expiring (1, 7 or 30 days), revocable. The row is the authority on expiry and revocation; the
-- public endpoint reads it through auth_private.shared_video(), its only way past RLS.

CREATE TABLE public.share_links (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES public.organizations (id) ON DELETE CASCADE,
    generation_id   uuid NOT NULL REFERENCES public.generations (id) ON DELETE CASCADE,
    created_by      uuid NOT NULL REFERENCES public.users (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    revoked_at      timestamptz,
    revoked_by      uuid REFERENCES public.users (id),
    CHECK (expires_at > created_at AND expires_at <= created_at + interval '30 days'),
    CHECK ((revoked_at IS NULL) = (revoked_by IS NULL))
);
CREATE INDEX share_links_organization_id ON public.share_links (organization_id);
CREATE INDEX share_links_generation_id ON public.share_links (generation_id);
CREATE INDEX share_links_created_by ON public.share_links (created_by);
CREATE INDEX share_links_revoked_by ON public.share_links (revoked_by);

-- Who may share a generation: an admin or owner, or its author while a developer or above.
CREATE FUNCTION auth_private.may_share(p_generation uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT EXISTS (
    SELECT 1 FROM public.generations g
     WHERE g.id = p_generation
       AND g.organization_id = (SELECT auth_private.current_org())
       AND ((SELECT auth_private.current_rank()) >= 3
            OR ((SELECT auth_private.current_rank()) >= 2 AND g.user_id = auth.uid())))
$$;

ALTER TABLE public.share_links ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Org isolation: read" ON public.share_links FOR SELECT TO resonance_app
  USING (organization_id = (SELECT auth_private.current_org()));
-- Only a finished video is shared, by its own organization, in the creator's own name.
CREATE POLICY "Admins and the author share" ON public.share_links FOR INSERT TO resonance_app
  WITH CHECK (organization_id = (SELECT auth_private.current_org()) AND created_by = auth.uid()
              AND revoked_at IS NULL AND auth_private.may_share(generation_id)
              AND EXISTS (SELECT 1 FROM public.generations g
                           WHERE g.id = generation_id AND g.status = 'completed'));
CREATE POLICY "Admins and the author revoke" ON public.share_links FOR UPDATE TO resonance_app
  USING (organization_id = (SELECT auth_private.current_org()) AND auth_private.may_share(generation_id))
  WITH CHECK (organization_id = (SELECT auth_private.current_org()) AND revoked_by = auth.uid());
GRANT SELECT ON public.share_links TO resonance_app;
GRANT INSERT (id, organization_id, generation_id, created_by, expires_at) ON public.share_links TO resonance_app;
GRANT UPDATE (revoked_at, revoked_by) ON public.share_links TO resonance_app;

-- What a share link plays, for a visitor without an account (no claims: RLS shows them nothing).
CREATE FUNCTION auth_private.shared_video(p_link uuid)
RETURNS TABLE (organization_id uuid, project_id uuid, generation_id uuid, title text,
               completed boolean, expires_at timestamptz, revoked_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT l.organization_id, g.project_id, g.id, p.name, g.status = 'completed', l.expires_at, l.revoked_at
    FROM public.share_links l
    JOIN public.generations g ON g.id = l.generation_id
    LEFT JOIN public.projects p ON p.id = g.project_id
   WHERE l.id = p_link
$$;

REVOKE ALL ON FUNCTION auth_private.may_share(uuid), auth_private.shared_video(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth_private.may_share(uuid), auth_private.shared_video(uuid) TO resonance_app;
