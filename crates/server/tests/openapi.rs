//! The OpenAPI document as a generated client would read it: valid OpenAPI 3.1 by an outside
//! validator (`@seriousme/openapi-schema-validator`, the official JSON schemas, installed by
//! `cargo xtask test` with the UI's npm packages), and true to the server: unique operation ids,
//! query parameters in the query, the statuses every operation can answer, and what the types
//! alone cannot say (tus' headers, the upload limit, the sign-up's either-or, links).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

/// The upload limit this document is made for.
const MAX_UPLOAD: u64 = 1 << 30;

fn document() -> Value {
    resonance_server::http::openapi(MAX_UPLOAD)
}

fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if ["get", "put", "post", "delete", "options", "head", "patch", "trace"].contains(&method.as_str()) {
                out.push((method.to_uppercase(), path.clone(), op.clone()));
            }
        }
    }
    out
}

#[test]
fn the_document_is_valid_openapi_by_an_outside_validator() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let cli = root.join("ui/node_modules/@seriousme/openapi-schema-validator/bin/validate-api-cli.js");
    assert!(
        cli.exists(),
        "the validator is not installed ({}): run the tests with `cargo xtask test`, which installs the UI's npm packages",
        cli.display()
    );
    // Kept beside the build, for a person to read or feed to another tool.
    let file = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("openapi.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&document()).unwrap()).unwrap();
    let out = Command::new("node").arg(&cli).arg(&file).output().expect("node runs the validator");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "the OpenAPI document is not valid:\n{said}{}", String::from_utf8_lossy(&out.stderr));
    let result: Value = serde_json::from_str(&said).unwrap();
    assert_eq!(result["valid"], true, "{said}");
    assert_eq!(document()["openapi"].as_str().map(|v| v.starts_with("3.1")), Some(true));
}

#[test]
fn operation_ids_are_unique_and_parameters_are_where_the_server_reads_them() {
    let doc = document();
    let mut ids = std::collections::HashMap::new();
    for (method, path, op) in operations(&doc) {
        let id = op["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path} has no operationId")).to_owned();
        if let Some(other) = ids.insert(id.clone(), format!("{method} {path}")) {
            panic!("operationId {id} is used by both {other} and {method} {path}");
        }
        for p in op["parameters"].as_array().into_iter().flatten() {
            let (name, place) = (p["name"].as_str().unwrap(), p["in"].as_str().unwrap());
            let templated = path.contains(&format!("{{{name}}}"));
            assert_eq!(place == "path", templated, "{method} {path}: parameter {name} is `in: {place}`");
            if place == "header" {
                // An optional header is absent, never `null`: `Idempotency-Key: null` is refused.
                let types = &p["schema"]["type"];
                assert!(
                    !types.as_array().is_some_and(|t| t.contains(&Value::from("null"))),
                    "{method} {path}: {name} is nullable"
                );
            }
        }
    }
}

#[test]
fn the_event_stream_describes_its_events() {
    let doc = document();
    let ok = &doc["paths"]["/v1/events"]["get"]["responses"]["200"];
    let schema = &ok["content"]["text/event-stream"]["schema"]["$ref"];
    assert_eq!(schema, "#/components/schemas/Event", "{ok}");
    // An Event is its own fields and an EventChange: one of the kinds, each with its own field.
    let schemas = &doc["components"]["schemas"];
    let event = &schemas["Event"];
    let parts = event["allOf"].as_array().unwrap_or_else(|| panic!("Event is its fields and an EventChange: {event}"));
    let own = parts.iter().find(|p| p.get("properties").is_some()).unwrap();
    for field in ["id", "organization_id", "subject_id", "project_id"] {
        assert!(own["properties"].get(field).is_some(), "Event lacks {field}: {event}");
    }
    assert!(parts.iter().any(|p| p["$ref"] == "#/components/schemas/EventChange"), "{event}");
    let mut kinds: Vec<(String, Vec<String>)> = schemas["EventChange"]["oneOf"]
        .as_array()
        .unwrap_or_else(|| panic!("a Change is one of its kinds: {}", schemas["EventChange"]))
        .iter()
        .map(|variant| {
            let kind = variant["properties"]["kind"]["enum"][0].as_str().unwrap().to_owned();
            let mut fields: Vec<String> =
                variant["required"].as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_owned()).collect();
            fields.sort();
            (kind, fields)
        })
        .collect();
    kinds.sort();
    let expected =
        [("generation", ["kind", "status"]), ("progress", ["kind", "progress"]), ("project", ["kind", "status"])]
            .map(|(k, f)| (k.to_owned(), f.map(str::to_owned).to_vec()));
    assert_eq!(kinds, expected);
    let description = ok["description"].as_str().unwrap();
    assert!(description.contains("gap") && description.contains("Last-Event-ID"), "{description}");
}

#[test]
fn every_operation_documents_the_statuses_it_can_answer() {
    let doc = document();
    for (method, path, op) in operations(&doc) {
        let responses = op["responses"].as_object().unwrap_or_else(|| panic!("{method} {path} has no responses"));
        let has = |status: &str| responses.contains_key(status);
        let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
        if secured {
            assert!(has("401"), "{method} {path} needs a token: it can answer 401");
        }
        let body = op.get("requestBody").is_some();
        if body && op["requestBody"]["content"].get("application/json").is_some() {
            assert!(has("400"), "{method} {path} takes JSON: a body that is not JSON answers 400");
            assert!(has("422"), "{method} {path} takes JSON: a field that fails validation answers 422");
            assert!(has("413"), "{method} {path} takes a body: one over the limit answers 413");
        }
        if path.contains("{id}") {
            assert!(has("404"), "{method} {path}: an id that is not there answers 404");
        }
        for (status, response) in responses {
            let code: u16 = status.parse().unwrap_or_else(|_| panic!("{method} {path}: status {status}"));
            // Refusals carry the error body; HEAD has none, a page opened in a browser is HTML,
            // an unsatisfiable range is an empty 416, and an unhealthy health check says what
            // is down in its own shape.
            let content = &response["content"];
            let bodiless = method == "HEAD"
                || code == 416
                || content.get("text/html").is_some()
                || (path == "/v1/health" && code == 503);
            if code >= 400 && !bodiless {
                let schema = content["application/json"]["schema"]["$ref"].as_str();
                assert_eq!(schema, Some("#/components/schemas/ErrorBody"), "{method} {path} {status}: no error body");
            }
        }
    }
}

#[test]
fn the_document_says_what_the_types_alone_cannot() {
    let doc = document();
    let ops = operations(&doc);
    let ids: Vec<&str> = ops.iter().filter_map(|(_, _, op)| op["operationId"].as_str()).collect();
    let header = |op: &Value, name: &str| {
        op["parameters"].as_array().into_iter().flatten().find(|p| p["in"] == "header" && p["name"] == name).cloned()
    };
    for (method, path, op) in &ops {
        if path.starts_with("/v1/uploads") && method != "OPTIONS" {
            let tus = header(op, "Tus-Resumable").unwrap_or_else(|| panic!("{method} {path}: no Tus-Resumable"));
            assert_eq!(tus["schema"]["enum"], serde_json::json!(["1.0.0"]), "{method} {path}");
            assert_eq!(tus["required"], true, "{method} {path}");
        }
        if header(op, "Idempotency-Key").is_some() {
            assert!(op["responses"].get("422").is_some(), "{method} {path}: a reused key answers 422");
        }
        for (status, response) in op["responses"].as_object().unwrap() {
            for (name, link) in response["links"].as_object().into_iter().flatten() {
                let target = link["operationId"].as_str().unwrap();
                assert!(ids.contains(&target), "{method} {path} {status}: link {name} to no operation {target}");
            }
        }
    }
    let create = &ops.iter().find(|(m, p, _)| m == "POST" && p == "/v1/uploads").unwrap().2;
    assert_eq!(header(create, "Upload-Length").unwrap()["schema"]["maximum"], MAX_UPLOAD);
    let created = &ops.iter().find(|(m, p, _)| m == "POST" && p == "/v1/projects").unwrap().2["responses"]["201"];
    assert_eq!(created["links"]["get"]["parameters"]["id"], "$response.body#/id");

    // Checkout sells the catalog's paid plans; settings are JSON without U+0000, at any depth.
    let schemas = &doc["components"]["schemas"];
    assert_eq!(schemas["CheckoutRequest"]["properties"]["plan"]["enum"], serde_json::json!(["creator", "studio"]));
    let settings = &schemas["OrganizationPatch"]["properties"]["settings"];
    assert_eq!(settings["additionalProperties"]["$ref"], "#/components/schemas/SettingsValue");
    assert!(schemas["SettingsValue"]["anyOf"].to_string().contains("#/components/schemas/SettingsValue"), "recursive");
    assert_eq!(schemas["OrganizationPatch"]["additionalProperties"], false);
    let started = &ops.iter().find(|(m, p, _)| m == "POST" && p == "/v1/projects/{id}/generations").unwrap().2;
    assert_eq!(started["responses"]["201"]["links"]["create_share_link"]["operationId"], "create_share_link");

    // A sign-up names a new organization or an invitation: exactly one (a JSON Schema oneOf).
    let branches = doc["components"]["schemas"]["SignUpRequest"]["oneOf"].as_array().unwrap().clone();
    let required: Vec<&Value> = branches.iter().map(|b| &b["required"]).collect();
    assert_eq!(required, [&serde_json::json!(["organization_name"]), &serde_json::json!(["invite_token"])]);
    // Each branch wants a string, so a `null` beside the other field still makes exactly one.
    for (branch, field) in branches.iter().zip(["organization_name", "invite_token"]) {
        assert_eq!(branch["properties"][field]["type"], "string");
    }
}
