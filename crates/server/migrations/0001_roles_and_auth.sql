-- Roles, the `auth` schema the seed assumes (as Supabase has it), and the server's private helpers.
--
-- The connecting role (the one migrations run as) owns every object. Requests never run as it:
-- each request transaction switches to one of two roles that own nothing and cannot bypass RLS:
--   resonance_app  - every /v1 data request, with the caller's JWT claims in request.jwt.claims
--   resonance_auth - sign-up, sign-in, refresh, sign-out: reads and writes the auth schema only
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'resonance_app') THEN
    CREATE ROLE resonance_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'resonance_auth') THEN
    CREATE ROLE resonance_auth NOLOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT;
  END IF;
  -- A non-superuser owner needs membership to SET ROLE; for a superuser this is harmless.
  EXECUTE format('GRANT resonance_app, resonance_auth TO %I', current_user);
END
$$;

CREATE SCHEMA auth;
REVOKE ALL ON SCHEMA auth FROM PUBLIC;

CREATE TABLE auth.users (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  email TEXT NOT NULL CHECK (email = btrim(email) AND length(email) BETWEEN 3 AND 254),
  encrypted_password TEXT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  last_sign_in_at TIMESTAMPTZ
);
CREATE UNIQUE INDEX auth_users_email_key ON auth.users (lower(email));

-- A session is one sign-in on one device: a family of refresh tokens, each replacing the last.
CREATE TABLE auth.sessions (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id UUID NOT NULL REFERENCES auth.users(id) ON DELETE CASCADE,
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  refreshed_at TIMESTAMPTZ,
  revoked_at TIMESTAMPTZ,
  revoked_reason TEXT CHECK (revoked_reason IN ('sign_out', 'reuse_detected', 'member_removed'))
);
CREATE INDEX auth_sessions_user_id_idx ON auth.sessions (user_id);

-- Refresh tokens are stored as SHA-256 hashes only. A token is "rotated" once exchanged; its
-- successor is derived from it with the server's key, so a racing duplicate exchange inside the
-- grace window can be answered with the same successor without storing any token in clear.
CREATE TABLE auth.refresh_tokens (
  id BIGSERIAL PRIMARY KEY,
  session_id UUID NOT NULL REFERENCES auth.sessions(id) ON DELETE CASCADE,
  token_hash BYTEA NOT NULL UNIQUE,
  parent_id BIGINT REFERENCES auth.refresh_tokens(id) ON DELETE CASCADE,
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  expires_at TIMESTAMPTZ NOT NULL,
  rotated_at TIMESTAMPTZ
);
CREATE INDEX auth_refresh_tokens_session_id_idx ON auth.refresh_tokens (session_id);
CREATE INDEX auth_refresh_tokens_parent_id_idx ON auth.refresh_tokens (parent_id);

-- Failed sign-ins, for throttling across every server instance.
CREATE TABLE auth.sign_in_failures (
  id BIGSERIAL PRIMARY KEY,
  email_key TEXT NOT NULL,
  attempted_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE INDEX auth_sign_in_failures_email_idx ON auth.sign_in_failures (email_key, attempted_at);

-- Supabase's auth.uid(): the `sub` claim of the request's JWT, or NULL.
CREATE FUNCTION auth.uid() RETURNS UUID
LANGUAGE sql STABLE
AS $$
  SELECT nullif(nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub', '')::uuid
$$;

-- The session id (`sid` claim) of the request's JWT, or NULL.
CREATE FUNCTION auth.sid() RETURNS UUID
LANGUAGE sql STABLE
AS $$
  SELECT nullif(nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sid', '')::uuid
$$;

GRANT USAGE ON SCHEMA auth TO resonance_app, resonance_auth;
GRANT EXECUTE ON FUNCTION auth.uid(), auth.sid() TO resonance_app, resonance_auth;
GRANT SELECT, INSERT, UPDATE ON auth.users, auth.sessions, auth.refresh_tokens TO resonance_auth;
GRANT SELECT, INSERT, DELETE ON auth.sign_in_failures TO resonance_auth;
GRANT USAGE ON SEQUENCE auth.refresh_tokens_id_seq, auth.sign_in_failures_id_seq TO resonance_auth;

-- Not exposed: helpers that must see across RLS, each answering one narrow question.
CREATE SCHEMA auth_private;
REVOKE ALL ON SCHEMA auth_private FROM PUBLIC;
GRANT USAGE ON SCHEMA auth_private TO resonance_app, resonance_auth;
