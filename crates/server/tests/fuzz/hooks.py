"""Schemathesis hooks for crates/server/tests/fuzz.rs: what a well-behaved client does that a
generator cannot know from the document alone."""

import os
import uuid

import schemathesis


@schemathesis.hook
def before_call(context, case, kwargs):
    """A client sends a fresh Idempotency-Key with each new request (the key names one request;
    the server answers 422 idempotency_key_reused to the same key with another request, which a
    generator that reuses one example UUID everywhere would provoke). A malformed key stays: it
    is what a negative case tests."""
    headers = case.headers
    if not headers or not isinstance(headers.get("Idempotency-Key"), str):
        return
    try:
        uuid.UUID(headers["Idempotency-Key"])
    except ValueError:
        return
    headers["Idempotency-Key"] = str(uuid.uuid4())


@schemathesis.serializer("application/offset+octet-stream")
def tus_chunk(context, value):
    """A tus PATCH's body: the chunk's raw bytes."""
    if isinstance(value, bytes):
        return {"data": value}
    return {"data": str(value).encode("utf-8")}


# What schemathesis.toml allows beyond the defaults, narrowed to its stated reason: a valid
# request may be refused 422 only on the field the schema cannot judge.
FIELDS_BEYOND_THE_SCHEMA = {
    "signup": {"invite_token"},
    "create_upload": {"project_id"},
    "start_generation": {"trim_start", "trim_end"},
}


@schemathesis.check
def refusals_of_valid_requests_name_their_reason(ctx, response, case):
    """A valid sign-up refused 422 names the invitation code; a valid upload creation names
    project_id; a valid generation names the part of the song (trim_start, trim_end). Any other
    422 to a valid request is the schema and the server disagreeing."""
    allowed = FIELDS_BEYOND_THE_SCHEMA.get(case.operation.definition.raw.get("operationId"))
    if allowed is None or response.status_code != 422 or case.meta is None:
        return None
    if not case.meta.generation.mode.is_positive:
        return None
    try:
        field = response.json()["error"].get("field")
    except (ValueError, KeyError, TypeError, AttributeError):
        field = None
    if field not in allowed:
        raise AssertionError(f"a valid request was refused 422 on {field!r}, not on {sorted(allowed)}")
    return None


@schemathesis.check
def the_session_holds(ctx, response, case):
    """The owner's session is valid for the whole run: a request that carries it is never
    answered 401 (which the default checks would count as an acceptable refusal)."""
    token = os.environ.get("RESONANCE_FUZZ_TOKEN")
    sent = response.request.headers.get("Authorization", "")
    if token and sent == f"Bearer {token}" and response.status_code == 401:
        raise AssertionError("a request with the owner's valid session was answered 401")
    return None
