-- Row-level security: every tenant row is visible only inside its organization, and writes follow
-- the role matrix (viewer reads; developer edits projects and starts generations; admin deletes
-- projects and manages members; owner manages billing).
--
-- The seed's policy on `users` reads `users` inside a policy on `users`, which Postgres rejects
-- ("infinite recursion detected in policy"). The caller's organization and rank are instead read
-- by SECURITY DEFINER helpers owned by the schema owner (who is not subject to RLS), in the
-- non-exposed schema auth_private. Policies call them as `(SELECT f())` so Postgres evaluates them
-- once per statement, not once per row.
--
-- Custom SQLSTATEs raised here are mapped by the server: RZ403 forbidden, RZ404 not found,
-- RZ409 conflict, RZ422 invalid field (HINT names it). Their messages are written for users.

CREATE FUNCTION auth_private.current_org() RETURNS UUID
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$
  SELECT u.organization_id FROM public.users u
  WHERE u.id = auth.uid()
    AND NOT EXISTS (SELECT 1 FROM auth_private.removed_members r WHERE r.user_id = u.id)
$$;

-- 4 owner, 3 admin, 2 developer, 1 viewer, 0 not a member.
CREATE FUNCTION auth_private.role_rank(role TEXT) RETURNS INTEGER
LANGUAGE sql IMMUTABLE
AS $$
  SELECT CASE role WHEN 'owner' THEN 4 WHEN 'admin' THEN 3 WHEN 'developer' THEN 2
                   WHEN 'viewer' THEN 1 ELSE 0 END
$$;

CREATE FUNCTION auth_private.current_rank() RETURNS INTEGER
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$
  SELECT coalesce((
    SELECT auth_private.role_rank(u.role) FROM public.users u
    WHERE u.id = auth.uid()
      AND NOT EXISTS (SELECT 1 FROM auth_private.removed_members r WHERE r.user_id = u.id)
  ), 0)
$$;

-- The request's caller: their organization and role, if the member is active and the session
-- named by the token's `sid` is not revoked. No row means "sign in again".
CREATE FUNCTION auth_private.caller() RETURNS TABLE (organization_id UUID, role TEXT)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$
  SELECT u.organization_id, u.role FROM public.users u
  JOIN auth.sessions s ON s.id = auth.sid() AND s.user_id = u.id AND s.revoked_at IS NULL
  WHERE u.id = auth.uid()
    AND NOT EXISTS (SELECT 1 FROM auth_private.removed_members r WHERE r.user_id = u.id)
$$;

REVOKE ALL ON FUNCTION auth_private.current_org(), auth_private.current_rank(), auth_private.caller()
  FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth_private.current_org(), auth_private.current_rank(),
  auth_private.caller(), auth_private.role_rank(TEXT) TO resonance_app;

ALTER TABLE organizations ENABLE ROW LEVEL SECURITY;
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE projects ENABLE ROW LEVEL SECURITY;
ALTER TABLE generations ENABLE ROW LEVEL SECURITY;
ALTER TABLE system_logs ENABLE ROW LEVEL SECURITY;
ALTER TABLE invitations ENABLE ROW LEVEL SECURITY;

-- organizations: members read their own; admins rename it and edit settings. The Stripe, plan,
-- trial and usage columns have no UPDATE grant at all: only the server's billing code changes them.
CREATE POLICY "Org isolation: read" ON organizations FOR SELECT TO resonance_app
  USING (id = (SELECT auth_private.current_org()));
CREATE POLICY "Admins edit the organization" ON organizations FOR UPDATE TO resonance_app
  USING (id = (SELECT auth_private.current_org()) AND (SELECT auth_private.current_rank()) >= 3)
  WITH CHECK (id = (SELECT auth_private.current_org()));
GRANT SELECT ON organizations TO resonance_app;
GRANT UPDATE (name, slug, settings) ON organizations TO resonance_app;

-- users: members see each other; anyone edits their own name; admins change roles (guarded below).
CREATE POLICY "Org isolation: read" ON users FOR SELECT TO resonance_app
  USING (organization_id = (SELECT auth_private.current_org()));
CREATE POLICY "Self or admins edit members" ON users FOR UPDATE TO resonance_app
  USING (organization_id = (SELECT auth_private.current_org())
         AND (id = auth.uid() OR (SELECT auth_private.current_rank()) >= 3))
  WITH CHECK (organization_id = (SELECT auth_private.current_org()));
GRANT SELECT ON users TO resonance_app;
GRANT UPDATE (name, role) ON users TO resonance_app;

CREATE FUNCTION auth_private.guard_role_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
  rank INTEGER := auth_private.current_rank();
BEGIN
  IF NEW.role IS NOT DISTINCT FROM OLD.role OR auth.uid() IS NULL THEN
    RETURN NEW;  -- not a role change, or maintenance by the schema owner
  END IF;
  IF rank < 3 THEN
    RAISE EXCEPTION 'Only admins and owners can change roles' USING ERRCODE = 'RZ403';
  END IF;
  IF (OLD.role = 'owner' OR NEW.role = 'owner') AND rank < 4 THEN
    RAISE EXCEPTION 'Only an owner can make someone an owner or change an owner''s role'
      USING ERRCODE = 'RZ403';
  END IF;
  IF OLD.role = 'owner' AND NOT EXISTS (
    SELECT 1 FROM public.users u
    WHERE u.organization_id = OLD.organization_id AND u.role = 'owner' AND u.id <> OLD.id
      AND NOT EXISTS (SELECT 1 FROM auth_private.removed_members r WHERE r.user_id = u.id)
  ) THEN
    RAISE EXCEPTION 'An organization needs at least one owner: make someone else owner first'
      USING ERRCODE = 'RZ409';
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER users_guard_role_change BEFORE UPDATE OF role ON users
  FOR EACH ROW EXECUTE FUNCTION auth_private.guard_role_change();

-- projects: developers create and edit, admins delete. Status is the render pipeline's to set.
CREATE POLICY "Org isolation: read" ON projects FOR SELECT TO resonance_app
  USING (organization_id = (SELECT auth_private.current_org()));
CREATE POLICY "Developers create projects" ON projects FOR INSERT TO resonance_app
  WITH CHECK (organization_id = (SELECT auth_private.current_org())
              AND (SELECT auth_private.current_rank()) >= 2 AND user_id = auth.uid());
CREATE POLICY "Developers edit projects" ON projects FOR UPDATE TO resonance_app
  USING (organization_id = (SELECT auth_private.current_org()) AND (SELECT auth_private.current_rank()) >= 2)
  WITH CHECK (organization_id = (SELECT auth_private.current_org()));
CREATE POLICY "Admins delete projects" ON projects FOR DELETE TO resonance_app
  USING (organization_id = (SELECT auth_private.current_org()) AND (SELECT auth_private.current_rank()) >= 3);
GRANT SELECT, DELETE ON projects TO resonance_app;
GRANT INSERT (id, organization_id, user_id, name, description, prompt, audio_path, audio_duration,
              resolution, style_preference, footage_visibility, effect_intensity) ON projects TO resonance_app;
GRANT UPDATE (name, description, prompt, audio_path, audio_duration, resolution, style_preference,
              footage_visibility, effect_intensity) ON projects TO resonance_app;

-- generations: developers start them (for a project of their own organization), admins delete.
-- Foreign-key checks ignore RLS, so the policy itself checks that the project is visible.
CREATE POLICY "Org isolation: read" ON generations FOR SELECT TO resonance_app
  USING (organization_id = (SELECT auth_private.current_org()));
CREATE POLICY "Developers start generations" ON generations FOR INSERT TO resonance_app
  WITH CHECK (organization_id = (SELECT auth_private.current_org())
              AND (SELECT auth_private.current_rank()) >= 2 AND user_id = auth.uid()
              AND (project_id IS NULL OR EXISTS (SELECT 1 FROM projects p WHERE p.id = project_id)));
CREATE POLICY "Admins delete generations" ON generations FOR DELETE TO resonance_app
  USING (organization_id = (SELECT auth_private.current_org()) AND (SELECT auth_private.current_rank()) >= 3);
GRANT SELECT, DELETE ON generations TO resonance_app;
GRANT INSERT (id, project_id, organization_id, user_id, seed, generation_number) ON generations TO resonance_app;

-- system_logs: members read their organization's log and append their own entries; nobody edits.
CREATE POLICY "Org isolation: read" ON system_logs FOR SELECT TO resonance_app
  USING (organization_id = (SELECT auth_private.current_org()));
CREATE POLICY "Members append their own entries" ON system_logs FOR INSERT TO resonance_app
  WITH CHECK (organization_id = (SELECT auth_private.current_org()) AND user_id = auth.uid()
              AND (project_id IS NULL OR EXISTS (SELECT 1 FROM projects p WHERE p.id = project_id))
              AND (generation_id IS NULL OR EXISTS (SELECT 1 FROM generations g WHERE g.id = generation_id)));
GRANT SELECT, INSERT ON system_logs TO resonance_app;

-- invitations: admins see, create and revoke their organization's; only owners invite owners.
CREATE POLICY "Admins manage invitations" ON invitations FOR ALL TO resonance_app
  USING (organization_id = (SELECT auth_private.current_org()) AND (SELECT auth_private.current_rank()) >= 3)
  WITH CHECK (organization_id = (SELECT auth_private.current_org())
              AND (SELECT auth_private.current_rank()) >= 3 AND invited_by = auth.uid()
              AND (role <> 'owner' OR (SELECT auth_private.current_rank()) >= 4));
GRANT SELECT, INSERT, DELETE ON invitations TO resonance_app;

-- Removing a member: their row stays (history names them), their access and sessions end.
CREATE FUNCTION auth_private.remove_member(target UUID) RETURNS VOID
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
  org UUID := auth_private.current_org();
  rank INTEGER := auth_private.current_rank();
  target_role TEXT;
BEGIN
  IF rank < 3 THEN
    RAISE EXCEPTION 'Only admins and owners can remove members' USING ERRCODE = 'RZ403';
  END IF;
  SELECT u.role INTO target_role FROM public.users u
  WHERE u.id = target AND u.organization_id = org
    AND NOT EXISTS (SELECT 1 FROM auth_private.removed_members r WHERE r.user_id = u.id);
  IF NOT FOUND THEN
    RAISE EXCEPTION 'No such member in this organization' USING ERRCODE = 'RZ404';
  END IF;
  IF target = auth.uid() THEN
    RAISE EXCEPTION 'You cannot remove yourself; ask another admin' USING ERRCODE = 'RZ409';
  END IF;
  IF target_role = 'owner' AND rank < 4 THEN
    RAISE EXCEPTION 'Only an owner can remove an owner' USING ERRCODE = 'RZ403';
  END IF;
  INSERT INTO auth_private.removed_members (user_id, organization_id, removed_by)
  VALUES (target, org, auth.uid());
  UPDATE auth.sessions SET revoked_at = now(), revoked_reason = 'member_removed'
  WHERE user_id = target AND revoked_at IS NULL;
END
$$;
REVOKE ALL ON FUNCTION auth_private.remove_member(UUID) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth_private.remove_member(UUID) TO resonance_app;

-- Active members only: what GET /v1/members lists.
CREATE FUNCTION auth_private.is_removed(member UUID) RETURNS BOOLEAN
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$ SELECT EXISTS (SELECT 1 FROM auth_private.removed_members r WHERE r.user_id = member) $$;
REVOKE ALL ON FUNCTION auth_private.is_removed(UUID) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth_private.is_removed(UUID) TO resonance_app;

-- Sign-up of a new organization: the organization and its owner, in the caller's transaction.
CREATE FUNCTION auth_private.create_organization_with_owner(
  p_user_id UUID, p_email TEXT, p_name TEXT, p_organization_name TEXT
) RETURNS UUID
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
  org UUID;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM auth.users a WHERE a.id = p_user_id AND lower(a.email) = lower(p_email)) THEN
    RAISE EXCEPTION 'No such account' USING ERRCODE = 'RZ404';
  END IF;
  INSERT INTO public.organizations (name) VALUES (p_organization_name) RETURNING id INTO org;
  INSERT INTO public.users (id, organization_id, email, name, role)
  VALUES (p_user_id, org, p_email, p_name, 'owner');
  RETURN org;
END
$$;

-- Sign-up with an invitation: joins the inviting organization with the invited role.
CREATE FUNCTION auth_private.accept_invitation(
  p_token_hash BYTEA, p_user_id UUID, p_email TEXT, p_name TEXT
) RETURNS UUID
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
  inv public.invitations%ROWTYPE;
BEGIN
  SELECT * INTO inv FROM public.invitations i WHERE i.token_hash = p_token_hash FOR UPDATE;
  IF NOT FOUND OR inv.accepted_at IS NOT NULL OR inv.expires_at < now() THEN
    RAISE EXCEPTION 'This invitation is unknown, already used or expired: ask for a new one'
      USING ERRCODE = 'RZ422', HINT = 'invite_token';
  END IF;
  IF lower(inv.email) <> lower(p_email) THEN
    RAISE EXCEPTION 'This invitation was sent to another e-mail address'
      USING ERRCODE = 'RZ422', HINT = 'email';
  END IF;
  UPDATE public.invitations SET accepted_at = now() WHERE id = inv.id;
  INSERT INTO public.users (id, organization_id, email, name, role)
  VALUES (p_user_id, inv.organization_id, p_email, p_name, inv.role);
  RETURN inv.organization_id;
END
$$;

-- Whether an account may sign in: 'active', 'removed', or 'no_membership'.
CREATE FUNCTION auth_private.membership_state(p_user_id UUID) RETURNS TEXT
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$
  SELECT CASE
    WHEN NOT EXISTS (SELECT 1 FROM public.users u WHERE u.id = p_user_id) THEN 'no_membership'
    WHEN EXISTS (SELECT 1 FROM auth_private.removed_members r WHERE r.user_id = p_user_id) THEN 'removed'
    ELSE 'active' END
$$;

-- Auth events go to the account's organization log (or an organization-less row if unknown).
CREATE FUNCTION auth_private.record_auth_event(
  p_user_id UUID, p_action TEXT, p_status TEXT, p_message TEXT, p_details JSONB
) RETURNS VOID
LANGUAGE sql SECURITY DEFINER SET search_path = ''
AS $$
  INSERT INTO public.system_logs (organization_id, user_id, action_type, status, severity, message, details)
  SELECT (SELECT u.organization_id FROM public.users u WHERE u.id = p_user_id),
         (SELECT u.id FROM public.users u WHERE u.id = p_user_id),
         p_action, p_status, CASE p_status WHEN 'success' THEN 'info' ELSE 'warning' END,
         p_message, p_details
$$;

REVOKE ALL ON FUNCTION auth_private.create_organization_with_owner(UUID, TEXT, TEXT, TEXT),
  auth_private.accept_invitation(BYTEA, UUID, TEXT, TEXT), auth_private.membership_state(UUID),
  auth_private.record_auth_event(UUID, TEXT, TEXT, TEXT, JSONB) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth_private.create_organization_with_owner(UUID, TEXT, TEXT, TEXT),
  auth_private.accept_invitation(BYTEA, UUID, TEXT, TEXT), auth_private.membership_state(UUID),
  auth_private.record_auth_event(UUID, TEXT, TEXT, TEXT, JSONB) TO resonance_auth;

-- Sign-out: revokes the session named by the caller's token (its refresh tokens die with it).
CREATE FUNCTION auth_private.end_session() RETURNS BOOLEAN
LANGUAGE sql SECURITY DEFINER SET search_path = ''
AS $$
  WITH ended AS (
    UPDATE auth.sessions SET revoked_at = now(), revoked_reason = 'sign_out'
    WHERE id = auth.sid() AND user_id = auth.uid() AND revoked_at IS NULL
    RETURNING 1
  )
  SELECT EXISTS (SELECT 1 FROM ended)
$$;
REVOKE ALL ON FUNCTION auth_private.end_session() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth_private.end_session() TO resonance_app;
