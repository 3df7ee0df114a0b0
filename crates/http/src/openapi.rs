//! The OpenAPI 3.1 document, written by hand in `openapi.json` and served at `/openapi.json`. The
//! tests below keep it honest: its routes are the router's, its error codes the registry's.

use axum::http::header;
use axum::response::IntoResponse;

/// The document's text.
pub const DOCUMENT: &str = include_str!("openapi.json");

/// GET /openapi.json
pub async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    use super::*;
    use crate::{registry, ROUTES, SECRET_BEARING_ROUTES};

    const METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch", "trace"];

    fn document() -> Value {
        serde_json::from_str(DOCUMENT).expect("openapi.json is JSON")
    }

    /// Every operation as (METHOD, path, operation).
    fn operations(doc: &Value) -> Vec<(String, String, Value)> {
        let mut found = Vec::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, operation) in item.as_object().expect("a path item") {
                if METHODS.contains(&method.as_str()) {
                    found.push((method.to_uppercase(), path.clone(), operation.clone()));
                }
            }
        }
        found
    }

    /// Follows a local `$ref` (`#/components/...`).
    fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
        match value.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                let pointer = reference.strip_prefix('#').unwrap_or_else(|| panic!("{reference} is not local"));
                doc.pointer(pointer).unwrap_or_else(|| panic!("{reference} does not resolve"))
            }
            None => value,
        }
    }

    #[test]
    fn the_document_is_openapi_3_1() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        assert!(doc["components"]["securitySchemes"]["SanhuSignature"]["description"]
            .as_str()
            .is_some_and(|d| d.contains("SANHU-ED25519-V1")));
    }

    #[test]
    fn the_document_describes_exactly_the_routes_the_router_serves() {
        let documented: BTreeSet<(String, String)> =
            operations(&document()).into_iter().map(|(method, path, _)| (method, path)).collect();
        let served: BTreeSet<(String, String)> =
            ROUTES.iter().map(|(method, path)| (method.to_string(), path.to_string())).collect();
        assert_eq!(documented, served);
    }

    #[test]
    fn the_error_code_enum_is_the_registry() {
        let doc = document();
        let schema = &doc["components"]["schemas"]["ErrorCode"];
        let documented: Vec<&str> = schema["enum"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
        let registered: Vec<&str> = registry().iter().map(|info| info.code).collect();
        assert_eq!(documented, registered);
        let table = schema["description"].as_str().unwrap();
        for info in registry() {
            let row = format!("| `{}` | {} | {} |", info.code, info.status, info.description);
            assert!(table.contains(&row), "the ErrorCode table lacks or differs on: {row}");
        }
    }

    #[test]
    fn every_operation_declares_its_error_responses() {
        let doc = document();
        for (method, path, operation) in operations(&doc) {
            let responses = operation["responses"].as_object().unwrap_or_else(|| panic!("{method} {path}"));
            let mut errors = 0;
            for (status, response) in responses {
                let response = resolve(&doc, response);
                assert!(response["headers"]["X-Request-Id"].is_object(), "{method} {path} {status} lacks X-Request-Id");
                if status.parse::<u16>().is_ok_and(|s| s >= 400) {
                    errors += 1;
                    let schema = &response["content"]["application/json"]["schema"];
                    assert_eq!(schema["$ref"], "#/components/schemas/Error", "{method} {path} {status}");
                }
            }
            assert!(responses.contains_key("500"), "{method} {path} lacks 500");
            // Signing in is the one endpoint under /v1 that needs no credential.
            let signed = path.starts_with("/v1/") && path != crate::staff::sessions::SIGN_IN_ROUTE;
            if signed {
                assert!(responses.contains_key("401"), "{method} {path} lacks 401");
                assert!(responses.contains_key("400"), "{method} {path} lacks 400");
                assert!(operation.get("security").is_none(), "{method} {path} must use the default security");
            } else {
                assert_eq!(operation["security"], serde_json::json!([]), "{method} {path} is public");
            }
            if signed && method == "POST" {
                for status in ["409", "413", "422"] {
                    assert!(responses.contains_key(status), "{method} {path} lacks {status}");
                }
                let takes_key = operation["parameters"]
                    .as_array()
                    .is_some_and(|ps| ps.iter().any(|p| p["$ref"] == "#/components/parameters/IdempotencyKey"));
                if SECRET_BEARING_ROUTES.contains(&path.as_str()) {
                    // The key is refused there, and the document says so.
                    assert!(!takes_key, "{method} {path} documents an Idempotency-Key it refuses");
                    let description = operation["description"].as_str().unwrap_or_default();
                    assert!(description.contains("idempotency_key_not_accepted"), "{method} {path}");
                } else {
                    assert!(takes_key, "{method} {path} does not document Idempotency-Key");
                }
            }
            assert!(errors >= 2, "{method} {path} declares {errors} error responses");
        }
    }

    #[test]
    fn every_secret_bearing_route_is_a_post_route() {
        for path in SECRET_BEARING_ROUTES {
            assert!(ROUTES.contains(&("POST", path)), "{path} is not a POST route");
        }
    }

    #[test]
    fn every_reference_resolves() {
        fn walk(doc: &Value, value: &Value) {
            match value {
                Value::Object(map) => {
                    if map.contains_key("$ref") {
                        resolve(doc, value);
                    }
                    map.values().for_each(|v| walk(doc, v));
                }
                Value::Array(items) => items.iter().for_each(|v| walk(doc, v)),
                _ => {}
            }
        }
        let doc = document();
        walk(&doc, &doc);
    }
}
