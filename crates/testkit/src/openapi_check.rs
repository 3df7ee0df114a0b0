//! Every response a test receives is checked against the OpenAPI document the server serves: the
//! route the request matched, the status among the operation's documented ones, and the body against
//! that response's schema. A mismatch fails the test, naming the operation, the status and the first
//! schema error. The document is the one generated from the code (`sanhu_http::openapi`); a schema
//! that disagrees with what the server answers is fixed in the code, never by changing behaviour.

use std::cell::RefCell;
use std::collections::HashMap;
use std::error::Error;

use boon::{Compiler, SchemaIndex, Schemas, UrlLoader};
use serde_json::Value;

/// The document's address for the validator; nothing is ever loaded from it.
const DOCUMENT_URL: &str = "urn:sanhu:openapi.json";

/// Loads nothing: every reference is inside the document.
struct NoLoader;

impl UrlLoader for NoLoader {
    fn load(&self, url: &str) -> Result<Value, Box<dyn Error>> {
        Err(format!("the response check resolves no reference outside the document: {url}").into())
    }
}

struct Validator {
    compiler: Compiler,
    schemas: Schemas,
    compiled: HashMap<String, SchemaIndex>,
}

thread_local! {
    /// The validator is not Send: one per test thread, each compiling the schemas it meets once.
    static VALIDATOR: RefCell<Validator> = RefCell::new({
        let mut compiler = Compiler::new();
        compiler.use_loader(Box::new(NoLoader));
        // A `format` the document gives (`date-time`, `email`...) is checked, not only annotated.
        compiler.enable_format_assertions();
        compiler.add_resource(DOCUMENT_URL, document().clone()).expect("the document is a schema resource");
        Validator { compiler, schemas: Schemas::new(), compiled: HashMap::new() }
    });
}

fn document() -> &'static Value {
    sanhu_http::openapi::document_json()
}

/// The route template of the table that `path` (with its query) matches for `method`: a literal
/// segment beats a parameter (`/v1/approvals` is not `/v1/approvals/{id}`).
pub fn route_of(method: &str, path: &str) -> Option<&'static str> {
    let path = path.split('?').next().unwrap_or(path);
    let segments: Vec<&str> = path.split('/').collect();
    let matches = |route: &str| {
        let parts: Vec<&str> = route.split('/').collect();
        parts.len() == segments.len() && parts.iter().zip(&segments).all(|(r, p)| r.starts_with('{') || r == p)
    };
    sanhu_http::routes::all()
        .iter()
        .filter(|route| route.method == method && matches(route.path))
        .min_by_key(|route| route.path.matches('{').count())
        .map(|route| route.path)
}

/// A JSON pointer's token, escaped, then made safe for a URL fragment.
fn pointer_token(token: &str) -> String {
    let escaped = token.replace('~', "~0").replace('/', "~1");
    let mut out = String::new();
    for byte in escaped.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Checks one response: Err names the operation, the status and what is wrong.
pub fn check(method: &str, path: &str, status: u16, body: &Value) -> Result<(), String> {
    // A request no endpoint has (an unknown path, a method a path does not serve) is answered by the
    // router's fallback: an error body.
    let Some(route) = route_of(method, path) else {
        return check_schema("#/components/schemas/Error", body).map_err(|e| format!("{method} {path} {status}: {e}"));
    };
    let doc = document();
    let operation = &doc["paths"][route][method.to_lowercase()];
    let id = operation["operationId"].as_str().unwrap_or(route);
    let what = format!("{id} ({method} {route}) answered {status}");
    let Some(mut response) = operation["responses"].get(status.to_string()) else {
        return Err(format!("{what}, a status the document does not give it"));
    };
    let mut location = format!("#/paths/{}/{}/responses/{status}", pointer_token(route), method.to_lowercase());
    if let Some(reference) = response["$ref"].as_str() {
        location = reference.to_owned();
        response = doc.pointer(reference.trim_start_matches('#')).ok_or_else(|| format!("{what}: {reference}"))?;
    }
    if response["content"]["application/json"]["schema"].is_null() {
        return if body.is_null() { Ok(()) } else { Err(format!("{what} with a body its document does not give it")) };
    }
    check_schema(&format!("{location}/content/application~1json/schema"), body).map_err(|e| format!("{what}: {e}"))
}

fn check_schema(location: &str, body: &Value) -> Result<(), String> {
    VALIDATOR.with_borrow_mut(|validator| validate(validator, location, body))
}

fn validate(validator: &mut Validator, location: &str, body: &Value) -> Result<(), String> {
    let Validator { compiler, schemas, compiled } = validator;
    let index = match compiled.get(location) {
        Some(index) => *index,
        None => {
            let url = format!("{DOCUMENT_URL}{location}");
            let index = compiler.compile(&url, schemas).map_err(|e| format!("the schema at {location}: {e:#}"))?;
            compiled.insert(location.to_owned(), index);
            index
        }
    };
    schemas.validate(body, index).map_err(|error| {
        let first = first_cause(&error);
        format!("the body does not match its schema ({location}): at {}: {}", first.instance_location, first.kind)
    })
}

/// The deepest first cause of a validation error: the one that says what is wrong.
fn first_cause<'a, 's, 'v>(error: &'a boon::ValidationError<'s, 'v>) -> &'a boon::ValidationError<'s, 'v> {
    match error.causes.first() {
        Some(cause) => first_cause(cause),
        None => error,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_body_unlike_its_schema_or_an_undocumented_status_is_refused() {
        assert_eq!(check("GET", "/health", 200, &json!({"status": "ok"})), Ok(()));
        let wrong = check("GET", "/health", 200, &json!({"status": 5})).unwrap_err();
        assert!(wrong.contains("health (GET /health) answered 200") && wrong.contains("/status"), "{wrong}");
        assert!(check("GET", "/health", 418, &json!({})).unwrap_err().contains("does not give it"));
        let error = json!({"error": {"code": "account_not_found", "message": "no", "request_id": "req_1"}});
        assert_eq!(check("GET", "/v1/ledger/accounts/acc_x?x=1", 404, &error), Ok(()));
        let unknown = json!({"error": {"code": "no_such_code", "message": "no", "request_id": "req_1"}});
        assert!(check("GET", "/v1/ledger/accounts/acc_x", 404, &unknown).is_err());
        let ready = json!({"status": "ready", "backend": "sqlite", "durability": "journal_mode=wal", "durable": true});
        assert_eq!(check("GET", "/ready", 200, &ready), Ok(()));
        let mut unready = ready.clone();
        unready["backend"] = json!("oracle");
        assert!(check("GET", "/ready", 200, &unready).unwrap_err().contains("/backend"));
        // Formats are checked: a time is RFC 3339.
        let balance = json!({
            "account_id": "acc_01JD7S0M8R4Y3V6QF2K9N5X1TB", "currency": "CNY", "at": "2026-11-22T04:18:27.123456789Z",
            "balance": 5, "available": 5, "debits_pending": 0, "debits_posted": 0, "credits_pending": 0, "credits_posted": 5
        });
        assert_eq!(check_schema("#/components/schemas/Balance", &balance), Ok(()));
        let mut yesterday = balance.clone();
        yesterday["at"] = json!("yesterday");
        assert!(check_schema("#/components/schemas/Balance", &yesterday).unwrap_err().contains("/at"));
        assert_eq!(route_of("GET", "/v1/approvals?status=pending"), Some("/v1/approvals"));
        assert_eq!(route_of("GET", "/v1/approvals/apr_1"), Some("/v1/approvals/{id}"));
    }
}
