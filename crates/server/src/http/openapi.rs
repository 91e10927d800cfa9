//! The OpenAPI document as served at /v1/openapi.json: utoipa's, made from the handlers'
//! annotations, then completed with what those annotations cannot say: the refusals every
//! layer and extractor can give, the tus headers' exact forms, this server's upload limit, the
//! rule that a sign-up names a new organization or an invitation (exactly one), what settings
//! Postgres can keep, the paid plans Checkout sells (from the catalog), and the links
//! from a created resource to the operations on it (for generated clients and stateful fuzzers).

use serde_json::{json, Value};

/// The document for a server that accepts uploads of up to `max_upload_bytes`.
pub fn document(mut spec: utoipa::openapi::OpenApi, max_upload_bytes: u64) -> Value {
    document_common_refusals(&mut spec);
    // Serialising utoipa's own types cannot fail; a `null` document would fail every client.
    let mut doc = serde_json::to_value(&spec).unwrap_or(Value::Null);
    refine_tus(&mut doc, max_upload_bytes);
    refine_sign_up(&mut doc);
    refine_settings(&mut doc);
    refine_checkout(&mut doc);
    add_links(&mut doc);
    doc
}

/// Adds the refusals that the layers and extractors give any operation, where the handler's own
/// annotation did not name them: 401 for a missing or expired token, 400 for a query parameter or
/// header out of its range, 400/413/422 for a JSON body
/// that is not JSON, too large or invalid, 422 for an `Idempotency-Key` reused with another
/// request, 404 for an id that is not there, 412 for a tus request without `Tus-Resumable`, and
/// 500/503 for a failure on the server or its database.
fn document_common_refusals(spec: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    let refusal = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build())
            .build()
    };
    for (path, item) in spec.paths.paths.iter_mut() {
        let operations = [
            ("get", &mut item.get),
            ("put", &mut item.put),
            ("post", &mut item.post),
            ("delete", &mut item.delete),
            ("options", &mut item.options),
            ("head", &mut item.head),
            ("patch", &mut item.patch),
        ];
        for (method, operation) in operations {
            let Some(op) = operation.as_mut() else { continue };
            let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
            let json_body = op.request_body.as_ref().is_some_and(|b| b.content.contains_key("application/json"));
            let mut wanted: Vec<(&str, &str)> = Vec::new();
            if secured {
                wanted.push(("401", "no valid access token (unauthenticated, token_expired, session_revoked)"));
            }
            let parameters = op
                .parameters
                .as_ref()
                .is_some_and(|p| p.iter().any(|p| !matches!(p.parameter_in, utoipa::openapi::path::ParameterIn::Path)));
            if parameters {
                wanted.push(("400", "a query parameter or header is malformed or out of its range"));
            }
            if json_body {
                wanted.push(("400", "the body is not JSON, or not sent as `application/json`"));
                wanted.push(("413", "the body is larger than the server accepts"));
                wanted.push(("422", "a field failed validation; `field` names it"));
            }
            if path.contains("{id}") {
                wanted.push(("404", "nothing with that id is visible to the caller"));
            }
            let keyed = op.parameters.as_ref().is_some_and(|p| p.iter().any(|p| p.name == "Idempotency-Key"));
            if keyed {
                wanted
                    .push(("422", "idempotency_key_reused: this Idempotency-Key was sent before with another request"));
            }
            if path.starts_with("/v1/uploads") && method != "options" {
                wanted.push(("412", "no `Tus-Resumable: 1.0.0` header"));
            }
            wanted.push(("500", "something failed on the server; it is logged"));
            wanted.push(("503", "the server cannot reach its database; retry later"));
            for (status, description) in wanted {
                op.responses.responses.entry(status.to_owned()).or_insert_with(|| refusal(description).into());
            }
        }
    }
}

/// The tus headers as the protocol has them: `Tus-Resumable` is exactly `1.0.0` (anything else
/// is answered 412), `Upload-Length` at most this server's limit (more is 413),
/// `Upload-Metadata` comma-separated `key base64` pairs, `Upload-Checksum` an algorithm and a
/// base64 digest, and a chunk raw bytes.
fn refine_tus(doc: &mut Value, max_upload_bytes: u64) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else { return };
    for (path, item) in paths.iter_mut() {
        if !path.starts_with("/v1/uploads") {
            continue;
        }
        let Some(item) = item.as_object_mut() else { continue };
        for operation in item.values_mut() {
            if let Some(parameters) = operation.get_mut("parameters").and_then(Value::as_array_mut) {
                for parameter in parameters.iter_mut().filter(|p| p["in"] == "header") {
                    let schema = match parameter["name"].as_str() {
                        Some("Tus-Resumable") => json!({"type": "string", "enum": ["1.0.0"]}),
                        Some("Upload-Length") => {
                            json!({"type": "integer", "format": "int64", "minimum": 0, "maximum": max_upload_bytes})
                        }
                        Some("Upload-Metadata") => json!({"type": "string", "pattern": METADATA_PATTERN}),
                        Some("Upload-Checksum") => json!({"type": "string", "pattern": CHECKSUM_PATTERN}),
                        _ => continue,
                    };
                    parameter["schema"] = schema;
                }
            }
            if let Some(content) = operation.pointer_mut("/requestBody/content/application~1offset+octet-stream") {
                content["schema"] = json!({"type": "string", "format": "binary"});
            }
        }
    }
}

/// tus `Upload-Metadata`: `key base64value` pairs (a key alone is allowed), comma-separated.
const METADATA_PATTERN: &str = concat!(
    r"^[\x21-\x2B\x2D-\x7E]+( ([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?)?",
    r"(,[\x21-\x2B\x2D-\x7E]+( ([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?)?)*$"
);
/// tus `Upload-Checksum`: `sha1` or `sha256`, a space, the chunk's digest (20 or 32 bytes) in
/// base64.
const CHECKSUM_PATTERN: &str = r"^(sha1 [A-Za-z0-9+/]{27}=|sha256 [A-Za-z0-9+/]{43}=)$";

/// A sign-up names a new organization or an invitation, exactly one of them.
fn refine_sign_up(doc: &mut Value) {
    if let Some(schema) = doc.pointer_mut("/components/schemas/SignUpRequest").and_then(Value::as_object_mut) {
        schema.insert(
            "oneOf".into(),
            json!([
                {"required": ["organization_name"], "properties": {"organization_name": {"type": "string"}}},
                {"required": ["invite_token"], "properties": {"invite_token": {"type": "string", "pattern": "^[A-Za-z0-9_-]+$"}}}
            ]),
        );
    }
}

/// An organization's settings are any JSON object whose keys and strings hold no U+0000
/// (Postgres' `jsonb` cannot keep it).
fn refine_settings(doc: &mut Value) {
    let Some(schemas) = doc.pointer_mut("/components/schemas").and_then(Value::as_object_mut) else { return };
    let text = json!({"type": "string", "pattern": "^[^\\u0000]*$"});
    let any = json!({"$ref": "#/components/schemas/SettingsValue"});
    schemas.insert(
        "SettingsValue".into(),
        json!({
            "description": "Any JSON value whose object keys and strings hold no U+0000.",
            "anyOf": [
                {"type": ["null", "boolean", "number"]},
                text,
                {"type": "array", "items": any},
                {"type": "object", "propertyNames": text, "additionalProperties": any}
            ]
        }),
    );
    if let Some(settings) = schemas.get_mut("OrganizationPatch").and_then(|s| s.pointer_mut("/properties/settings")) {
        *settings = json!({
            "description": "Replaces the settings object as a whole.",
            "type": "object", "propertyNames": text, "additionalProperties": any
        });
    }
}

/// Checkout sells the catalog's paid plans, by id.
fn refine_checkout(doc: &mut Value) {
    if let Some(plan) = doc.pointer_mut("/components/schemas/CheckoutRequest/properties/plan") {
        let paid: Vec<&str> = resonance_api::plans::PLANS.iter().filter(|p| p.paid).map(|p| p.id).collect();
        plan["enum"] = json!(paid);
    }
}

/// From each answer that creates something, to the operations on what it created.
fn add_links(doc: &mut Value) {
    // A project create answers 201, or 200 when it was a retry: both lead on alike.
    const PROJECT: &[&str] = &["get", "update", "delete", "generations_of", "start_generation"];
    let links: [(&str, &str, &str, &[&str]); 4] = [
        ("/v1/projects", "post", "201", PROJECT),
        ("/v1/projects", "post", "200", PROJECT),
        (
            "/v1/projects/{id}/generations",
            "post",
            "201",
            &["generation", "thumbnail", "video", "list_share_links", "create_share_link"],
        ),
        ("/v1/generations/{id}/share-links", "post", "201", &["revoke_share_link"]),
    ];
    for (path, method, status, targets) in links {
        let pointer = format!("/paths/{}/{method}/responses/{status}", path.replace('/', "~1"));
        let Some(response) = doc.pointer_mut(&pointer).and_then(Value::as_object_mut) else { continue };
        let links = response.entry("links").or_insert_with(|| json!({}));
        for target in targets {
            links[*target] = json!({"operationId": target, "parameters": {"id": "$response.body#/id"}});
        }
    }
}
