-- E-mail (issue 14, finding 12): with SMTP configured, a sign-up's e-mail is verified before
-- its account may generate, and sign-up answers the same whether or not the e-mail already has
-- an account (that news goes by e-mail). Every message goes through an outbox, sent by each
-- server instance's mail task, so a message is written in the same transaction as what it
-- tells of, and an SMTP server that is away delays it instead of losing it.

-- Accounts made before this migration, or while no SMTP server is configured, count as verified.
ALTER TABLE auth.users ADD COLUMN email_verified_at timestamptz;
UPDATE auth.users SET email_verified_at = created_at;

CREATE TABLE auth.email_verifications (
    token_hash bytea PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL DEFAULT now() + interval '7 days'
);
CREATE INDEX auth_email_verifications_user_id ON auth.email_verifications (user_id);
GRANT SELECT, INSERT, DELETE ON auth.email_verifications TO resonance_auth;

CREATE TABLE auth.email_outbox (
    id              bigserial PRIMARY KEY,
    recipient       text NOT NULL,
    subject         text NOT NULL,
    body            text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    attempts        integer NOT NULL DEFAULT 0,
    last_error      text,
    sent_at         timestamptz
);
CREATE INDEX auth_email_outbox_due ON auth.email_outbox (next_attempt_at) WHERE sent_at IS NULL;
GRANT INSERT ON auth.email_outbox TO resonance_auth, resonance_app;
GRANT USAGE ON SEQUENCE auth.email_outbox_id_seq TO resonance_auth, resonance_app;

-- Generating needs a verified e-mail. Checked where every generation is made, in the same
-- transaction as the quota, so a refusal changes nothing.
CREATE FUNCTION auth_private.require_verified_email() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM auth.users u WHERE u.id = NEW.user_id AND u.email_verified_at IS NULL) THEN
        RAISE EXCEPTION 'Verify your e-mail address first: open the link we sent you, then generate.'
            USING ERRCODE = 'RZ403', HINT = 'email_unverified';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER generations_need_a_verified_email BEFORE INSERT ON public.generations
    FOR EACH ROW EXECUTE FUNCTION auth_private.require_verified_email();
