-- What an invitation code leads to, shown to the invitee before they sign up with it: the
-- organization, the address, the role and who invited them. Only someone holding the code can
-- ask (the code's hash is the key), and a used or expired code answers nothing.

CREATE FUNCTION auth_private.invitation_preview(p_token_hash BYTEA)
RETURNS TABLE (organization_name TEXT, email TEXT, role TEXT, invited_by TEXT, expires_at TIMESTAMPTZ)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$
  SELECT o.name, i.email, i.role, coalesce(nullif(btrim(u.name), ''), u.email), i.expires_at
  FROM public.invitations i
  JOIN public.organizations o ON o.id = i.organization_id
  JOIN public.users u ON u.id = i.invited_by
  WHERE i.token_hash = p_token_hash AND i.accepted_at IS NULL AND i.expires_at > now()
$$;
REVOKE ALL ON FUNCTION auth_private.invitation_preview(BYTEA) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth_private.invitation_preview(BYTEA) TO resonance_auth;
