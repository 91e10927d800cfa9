-- Idempotency keys for writes (`Idempotency-Key` header): a client that retries a write after a
-- lost answer (a dropped network, a killed process) gets the first answer again instead of a
-- second application. The desktop's outbox sends each entry's id as its key.
--
-- Keys belong to the caller (auth.uid()); the table is reachable only through the two SECURITY
-- DEFINER functions below, which read the caller from the request's claims.

CREATE TABLE auth_private.idempotency_keys (
    user_id    uuid        NOT NULL,
    key        uuid        NOT NULL,
    -- "PATCH /v1/projects/<id>": the same key sent with another request is refused.
    request    text        NOT NULL,
    status     smallint    NOT NULL,
    body       jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_created_at ON auth_private.idempotency_keys (created_at);

-- The stored answer for this caller's key, if any. Takes a transaction-scoped lock on the key
-- first, so a concurrent retry waits for the first attempt to commit (or roll back) and then
-- sees its answer.
CREATE FUNCTION auth_private.idempotent_replay(p_key uuid, p_request text)
RETURNS TABLE (status smallint, body jsonb)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    caller uuid := auth.uid();
    stored auth_private.idempotency_keys;
BEGIN
    IF caller IS NULL THEN
        RAISE EXCEPTION 'not signed in' USING ERRCODE = 'RZ403';
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended(caller::text || '/' || p_key::text, 7));
    SELECT * INTO stored FROM auth_private.idempotency_keys k WHERE k.user_id = caller AND k.key = p_key;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF stored.request <> p_request THEN
        RAISE EXCEPTION 'this Idempotency-Key was already used for another request (%)', stored.request
            USING ERRCODE = 'RZ422';
    END IF;
    status := stored.status;
    body := stored.body;
    RETURN NEXT;
END $$;

CREATE FUNCTION auth_private.idempotent_record(p_key uuid, p_request text, p_status smallint, p_body jsonb)
RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    INSERT INTO auth_private.idempotency_keys (user_id, key, request, status, body)
    VALUES (auth.uid(), p_key, p_request, p_status, p_body);
$$;

REVOKE ALL ON FUNCTION auth_private.idempotent_replay(uuid, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION auth_private.idempotent_record(uuid, text, smallint, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth_private.idempotent_replay(uuid, text) TO resonance_app;
GRANT EXECUTE ON FUNCTION auth_private.idempotent_record(uuid, text, smallint, jsonb) TO resonance_app;
