-- An Idempotency-Key is bound to its request's body as well as its method and path (issue 17):
-- the handlers now record "POST /v1/projects sha256:<digest of the canonical JSON body>", and the
-- same key sent with another body is refused (422, as the IETF Idempotency-Key draft says)
-- instead of answered with the first request's result. Keys recorded before this migration have
-- no digest: they still match on method and path alone, until they expire (7 days).

CREATE OR REPLACE FUNCTION auth_private.idempotent_replay(p_key uuid, p_request text)
RETURNS TABLE (status smallint, body jsonb)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    caller uuid := auth.uid();
    stored auth_private.idempotency_keys;
    stored_target text;
    asked_target text;
BEGIN
    IF caller IS NULL THEN
        RAISE EXCEPTION 'not signed in' USING ERRCODE = 'RZ403';
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended(caller::text || '/' || p_key::text, 7));
    SELECT * INTO stored FROM auth_private.idempotency_keys k WHERE k.user_id = caller AND k.key = p_key;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    stored_target := split_part(stored.request, ' sha256:', 1);
    asked_target := split_part(p_request, ' sha256:', 1);
    IF stored_target <> asked_target THEN
        RAISE EXCEPTION 'This Idempotency-Key was already used for another request (%); send a new key with a new request.', stored_target
            USING ERRCODE = 'RZ422', HINT = 'idempotency_key_reused';
    END IF;
    IF stored.request <> p_request AND position(' sha256:' IN stored.request) > 0 THEN
        RAISE EXCEPTION 'This Idempotency-Key was already used with another body; send a new key with a new request.'
            USING ERRCODE = 'RZ422', HINT = 'idempotency_key_reused';
    END IF;
    status := stored.status;
    body := stored.body;
    RETURN NEXT;
END $$;
