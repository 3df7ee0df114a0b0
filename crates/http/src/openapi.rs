//! The OpenAPI 3.1 document, generated from the code and served at `/openapi.json`; its text is kept
//! in `docs/openapi.json`, and a test fails when the two differ, so that every change to the API shows
//! in review (`SANHU_UPDATE_OPENAPI=1 cargo test -p sanhu-http --lib openapi` writes it anew).
//!
//! Each operation starts from its entry of the route table ([`crate::routes`]): the handler's
//! `#[utoipa::path]` annotation (its summary, description, path and query parameters, request body and
//! success responses, and the schemas they name). The generator adds what every operation shares, from the table and the error registry, so that no annotation repeats it:
//!
//! - signed operations take the signature headers and the default security; public ones
//!   `security: []`;
//! - signed POSTs take `Idempotency-Key`, except the secret-bearing ones, whose description says
//!   `idempotency_key_not_accepted` instead; the POSTs a staff session may make
//!   ([`Route::accepts_staff_session`]) take `X-CSRF-Token`;
//! - every response carries `X-Request-Id`, and a POST's success `Idempotent-Replayed`;
//! - the operation's scope, as `x-sanhu-scope` and as a paragraph of its description saying how far a
//!   client bound to a member reaches ([`scope_paragraph`]);
//! - a request staff make that waits for a second one answers 202 with its approval;
//! - the error responses, per status, each listing the codes of the registry that the endpoint's
//!   capability answers with at that status ([`crate::error::capability_codes`]).

use std::sync::LazyLock;

use axum::http::header;
use axum::response::IntoResponse;
use serde_json::{json, Map, Value};

use crate::error::{capability_codes, registry, Capability, ErrorCodeInfo};
use crate::routes::{self, Doc, Route};
use crate::scopes::{Named, Owned, Reach};

/// Where the document's text is kept in the repository, from this crate's directory.
pub const SNAPSHOT_PATH: &str = "../../docs/openapi.json";

static DOCUMENT: LazyLock<Value> = LazyLock::new(generate);
static TEXT: LazyLock<String> = LazyLock::new(|| DOCUMENT.to_string());
/// The document gzip-compressed, made once: about an eighth of its size (46 KB of 381 KB).
static GZIPPED: LazyLock<Vec<u8>> = LazyLock::new(|| gzip(TEXT.as_bytes()));

/// `bytes` as a gzip stream, at the best compression (the document is compressed once a process).
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).expect("writing to memory cannot fail");
    encoder.finish().expect("writing to memory cannot fail")
}

/// Whether an `Accept-Encoding` header's value accepts gzip: `gzip` (or `x-gzip`, or `*`) listed
/// without `q=0`.
pub fn accepts_gzip(accept_encoding: &str) -> bool {
    accept_encoding.split(',').any(|coding| {
        let mut parts = coding.split(';').map(str::trim);
        let name = parts.next().unwrap_or("").to_ascii_lowercase();
        let refused = parts.any(|p| {
            p.to_ascii_lowercase().strip_prefix("q=").is_some_and(|q| q.parse::<f32>().map_or(true, |q| q <= 0.0))
        });
        matches!(name.as_str(), "gzip" | "x-gzip" | "*") && !refused
    })
}

/// The document.
pub fn document_json() -> &'static Value {
    &DOCUMENT
}

/// The document as it is kept in `docs/openapi.json`: pretty, keys in order, a line feed at the end.
pub fn pretty() -> String {
    let mut text = serde_json::to_string_pretty(document_json()).expect("the document serialises");
    text.push('\n');
    text
}

/// GET /openapi.json
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    operation_id = "openapi",
    summary = "This document",
    description = "The OpenAPI 3.1 document of the running server; gzip-compressed (`Content-Encoding: gzip`) when the request's `Accept-Encoding` accepts gzip. `/docs` shows it as a page.",
    responses((status = 200, description = "The document.", body = Object))
)]
pub async fn document(headers: axum::http::HeaderMap) -> axum::response::Response {
    let gzip = headers.get_all(header::ACCEPT_ENCODING).iter().any(|value| value.to_str().is_ok_and(accepts_gzip));
    let vary = (header::VARY, "accept-encoding");
    if gzip {
        ([(header::CONTENT_TYPE, "application/json"), (header::CONTENT_ENCODING, "gzip"), vary], GZIPPED.as_slice())
            .into_response()
    } else {
        ([(header::CONTENT_TYPE, "application/json"), vary], TEXT.as_str()).into_response()
    }
}

const SHARED_SIGNATURE: [&str; 3] = ["SanhuClient", "SanhuTimestamp", "SanhuNonce"];
const IDEMPOTENCY_KEY: &str = "IdempotencyKey";
const CSRF_TOKEN: &str = "CsrfToken";

fn reference(kind: &str, name: &str) -> Value {
    json!({ "$ref": format!("#/components/{kind}/{name}") })
}

/// The document, made from the route table.
/// A type's component name and schema.
fn schema_of<T: utoipa::ToSchema>() -> (String, Value) {
    (T::name().into_owned(), serde_json::to_value(T::schema()).expect("a schema is JSON"))
}

pub fn generate() -> Value {
    let mut doc = head();
    let mut paths = Map::new();
    let mut schemas = Map::new();
    let parameters = shared_parameters().as_object().cloned().unwrap_or_default();
    let mut responses = Map::new();
    for route in routes::all() {
        let Doc::Annotated { operation, schemas: own } = &route.doc;
        for (name, schema) in own {
            schemas.insert(name.clone(), schema.clone());
        }
        let mut operation = operation.clone();
        complete(route, &mut operation, &mut responses);
        let item = paths.entry(route.path.to_owned()).or_insert_with(|| json!({}));
        item[route.method.to_lowercase()] = operation;
    }
    schemas.insert("Error".to_owned(), error_schema());
    schemas.insert("ErrorCode".to_owned(), error_code_schema());
    // The bodies that may be empty, which their operations name by reference only (so that the body
    // is not `required`).
    for (name, schema) in
        [schema_of::<crate::party::members::ActivateBody>(), schema_of::<crate::party::identities::CompleteBody>()]
    {
        schemas.insert(name, schema);
    }
    // utoipa writes a body that may be left out (`Option<T>`) as `oneOf: [T, null]`; the server
    // refuses a `null` body, so the document says T, not required.
    for item in paths.values_mut() {
        for operation in item.as_object_mut().into_iter().flat_map(|ops| ops.values_mut()) {
            let Some(schema) = operation.pointer_mut("/requestBody/content/application~1json/schema") else { continue };
            let Some(Value::Array(choices)) = schema.get("oneOf") else { continue };
            let not_null: Vec<&Value> = choices.iter().filter(|c| c["type"] != "null").collect();
            if choices.len() == 2 && not_null.len() == 1 {
                *schema = not_null[0].clone();
            }
        }
    }
    for value in paths.values_mut().chain(schemas.values_mut()) {
        describe_inlined(value);
    }
    doc["paths"] = Value::Object(paths);
    doc["components"] = json!({
        "securitySchemes": security_schemes(),
        "headers": headers(),
        "parameters": parameters,
        "responses": responses,
        "schemas": schemas,
    });
    doc
}

/// utoipa writes a field whose schema is inlined from another type and that has a doc comment as
/// `allOf: [the schema, {description, type: object}]`, and the second part refuses every value that is
/// not an object: the description goes onto the schema instead.
fn describe_inlined(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(parts)) = map.get("allOf") {
                let described = |part: &Value| {
                    part.as_object().is_some_and(|p| {
                        p.len() == 2 && p.get("type") == Some(&json!("object")) && p["description"].is_string()
                    })
                };
                if let [schema, note] = parts.as_slice() {
                    if described(note) {
                        let mut merged = schema.clone();
                        merged["description"] = note["description"].clone();
                        map.remove("allOf");
                        for (key, part) in merged.as_object().into_iter().flatten() {
                            map.insert(key.clone(), part.clone());
                        }
                    }
                }
            }
            map.values_mut().for_each(describe_inlined);
        }
        Value::Array(items) => items.iter_mut().for_each(describe_inlined),
        _ => {}
    }
}

/// Adds to an operation what it shares with the others: see the module's documentation.
fn complete(route: &Route, operation: &mut Value, responses: &mut Map<String, Value>) {
    let post = route.method == "POST";
    let takes_key = route.signed() && post && !route.secret;
    let mut parameters: Vec<Value> = Vec::new();
    if route.signed() {
        parameters.extend(SHARED_SIGNATURE.iter().map(|name| reference("parameters", name)));
    } else {
        operation["security"] = json!([]);
    }
    parameters.extend(operation["parameters"].as_array().cloned().unwrap_or_default());
    let has_query = parameters.iter().any(|p| p["in"] == "query" || p["$ref"].is_string() && !is_path_ref(p));
    if post && route.accepts_staff_session() {
        parameters.push(reference("parameters", CSRF_TOKEN));
    }
    if takes_key {
        parameters.push(reference("parameters", IDEMPOTENCY_KEY));
    }
    if parameters.is_empty() {
        operation.as_object_mut().map(|o| o.remove("parameters"));
    } else {
        operation["parameters"] = Value::Array(parameters);
    }
    let mut description = operation["description"].as_str().unwrap_or_default().to_owned();
    if route.secret {
        description.push_str(
            " Takes no `Idempotency-Key` (`idempotency_key_not_accepted`): the request or response carries a \
             secret that sanhu keeps nowhere, not even as a fingerprint.",
        );
    }
    if let Some(scope) = route.access.scope {
        operation["x-sanhu-scope"] = json!(scope.as_str());
        description.push_str("\n\n");
        description.push_str(&scope_paragraph(route));
    }
    if !description.is_empty() {
        operation["description"] = json!(description);
    }
    // Success responses carry the shared headers.
    let own = operation["responses"].as_object_mut().expect("an operation has responses");
    for response in own.values_mut() {
        let headers = response.as_object_mut().expect("a response").entry("headers").or_insert_with(|| json!({}));
        headers["X-Request-Id"] = reference("headers", "XRequestId");
        if takes_key {
            headers["Idempotent-Replayed"] = reference("headers", "IdempotentReplayed");
        }
    }
    if route.held {
        own.insert("202".to_owned(), reference("responses", "ApprovalHeld"));
        responses.insert("ApprovalHeld".to_owned(), approval_held());
    }
    for (status, name, response) in error_responses(route, has_query) {
        own.insert(status.to_string(), reference("responses", &name));
        responses.insert(name, response);
    }
}

fn is_path_ref(parameter: &Value) -> bool {
    parameter["$ref"].as_str().is_some_and(|r| r.ends_with("Path"))
}

/// The name each status's error response has in `components/responses`, after the capability's.
fn status_name(status: u16) -> &'static str {
    match status {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        409 => "Conflict",
        413 => "PayloadTooLarge",
        422 => "Unprocessable",
        429 => "RateLimited",
        500 => "InternalError",
        503 => "Unavailable",
        other => panic!("no error response is named for status {other}"),
    }
}

/// What each status's error response says before its codes.
fn status_intro(status: u16) -> &'static str {
    match status {
        400 => "The request cannot be parsed:",
        401 => "The caller is not authenticated:",
        403 => "The caller may not do this:",
        404 => {
            "Something named does not exist (and to a client bound to a member, neither does another member's object):"
        }
        409 => "The request conflicts with the current state of a record:",
        413 => "The body is over the server's limit (1 MiB by default):",
        422 => "A value or a rule refuses the request:",
        429 => "Too many requests; nothing was done. Retry after the Retry-After seconds:",
        500 => "Unexpected, logged with the request id:",
        _ => "Try again (after the Retry-After seconds, where given):",
    }
}

/// How an operation takes its request, for the codes it can answer with.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Shape {
    signed: bool,
    post: bool,
    /// A signed POST that is not secret-bearing.
    takes_key: bool,
    secret: bool,
    /// It names something in its path or its query.
    names: bool,
    query: bool,
}

impl Shape {
    fn of(route: &Route, query: bool) -> Shape {
        let post = route.method == "POST";
        Shape {
            signed: route.signed(),
            post,
            takes_key: route.signed() && post && !route.secret,
            secret: route.secret,
            names: route.path.contains('{') || query || matches!(route.access.reach, Reach::Member(_)),
            query,
        }
    }

    /// A signed POST that takes a key: the shape most responses are named after.
    const PLAIN: Shape = Shape { signed: true, post: true, takes_key: true, secret: false, names: true, query: true };

    /// The codes of `capability` an operation of this shape can answer with at `status`.
    fn codes(self, capability: Capability, status: u16) -> Vec<&'static ErrorCodeInfo> {
        use crate::error::group::BODY;
        let body_code = |info: &ErrorCodeInfo| BODY.iter().any(|c| c.code == info.code);
        capability_codes(capability, self.signed)
            .into_iter()
            .filter(|info| info.status == status)
            .filter(|info| match info.code {
                "invalid_idempotency_key" => self.signed && self.post,
                "idempotency_key_reused" | "idempotency_key_in_use" => self.takes_key,
                "idempotency_key_not_accepted" => self.secret,
                _ => self.post || !body_code(info),
            })
            .collect()
    }

    /// Whether an operation of this shape documents `status` at all.
    fn answers(self, status: u16) -> bool {
        match status {
            404 => self.post || self.names,
            409 | 413 => self.post,
            422 => self.post || self.query,
            _ => true,
        }
    }
}

/// An operation's error responses: per status, the codes its capability answers with there.
fn error_responses(route: &Route, query: bool) -> Vec<(u16, String, Value)> {
    let shape = Shape::of(route, query);
    let shared = |shape: Shape, status| Shape { signed: true, ..shape }.codes(Capability::Operations, status);
    let mut found = Vec::new();
    for status in [400, 401, 403, 404, 409, 413, 422, 429, 500, 503] {
        let codes = shape.codes(route.capability, status);
        // A read of the three-party model or the wallet can meet a record in a state that does not
        // allow it (`member_not_enterprise`, `member_not_real_named`): a 409 as a change would be.
        let read_conflict = status == 409 && matches!(route.capability, Capability::Party | Capability::Wallet);
        if codes.is_empty() || !(shape.answers(status) || read_conflict) {
            continue;
        }
        let own = codes.iter().any(|info| !shared(shape, status).iter().any(|c| c.code == info.code));
        let prefix = if own { route.capability.name() } else { "" };
        let plain = if own { Shape::PLAIN.codes(route.capability, status) } else { shared(Shape::PLAIN, status) };
        let variant = if codes == plain {
            ""
        } else if !shape.post {
            "Read"
        } else if shape.secret {
            "Secret"
        } else {
            "Unsigned"
        };
        let name = format!("{prefix}{variant}{}", status_name(status));
        let listed: Vec<String> = codes.iter().map(|info| format!("`{}`", info.code)).collect();
        let mut headers = json!({ "X-Request-Id": reference("headers", "XRequestId") });
        if matches!(status, 429 | 503) || codes.iter().any(|info| info.code == "concurrent_change") {
            headers["Retry-After"] = json!({
                "description": "Seconds to wait before retrying.",
                "schema": { "type": "integer", "minimum": 1 }
            });
        }
        let response = json!({
            "description": format!("{} {}.", status_intro(status), listed.join(", ")),
            "headers": headers,
            "content": { "application/json": { "schema": reference("schemas", "Error") } },
        });
        found.push((status, name, response));
    }
    found
}

/// The 202 of a request that waits for a second staff member.
fn approval_held() -> Value {
    json!({
        "description": "Made by a staff member, the request waits for a second staff member: this is its approval (status `pending`). Nothing was applied yet. API clients' requests are applied at once.",
        "headers": {
            "X-Request-Id": reference("headers", "XRequestId"),
            "Idempotent-Replayed": reference("headers", "IdempotentReplayed"),
        },
        "content": { "application/json": { "schema": reference("schemas", "Approval") } },
    })
}

/// The scope paragraph of an operation's description: the scope, and how far a client bound to a
/// member reaches, from the route table.
pub fn scope_paragraph(route: &Route) -> String {
    let Some(scope) = route.access.scope else { return String::new() };
    if !scope.bindable() {
        return format!("Scope: `{scope}`, which a client bound to a member never holds.");
    }
    match route.access.reach {
        Reach::Public => String::new(),
        Reach::Platform => format!(
            "Scope: `{scope}`. It acts for the whole platform: a client bound to a member is refused (`client_bound`)."
        ),
        Reach::OwnOrders => {
            format!("Scope: `{scope}`. Orders are numbered per client: a client reaches only the orders it made.")
        }
        Reach::Filtered => {
            format!("Scope: `{scope}`. For a client bound to a member, only that member's objects are found.")
        }
        Reach::Member(named) => {
            let names: Vec<String> = named
                .iter()
                .map(|name| match *name {
                    Named::Path(kind) => format!("the path's {}", owned_name(kind)),
                    Named::Body(field, _) => format!("`{field}`"),
                    Named::BodyList(field, _) => format!("every id in `{field}`"),
                    Named::Query(field, _) => format!("the query's `{field}`"),
                })
                .collect();
            let (list, it) = match names.as_slice() {
                [one] => (one.clone(), "it"),
                [init @ .., last] => (format!("{} and {last}", init.join(", ")), "they"),
                [] => (String::new(), "it"),
            };
            format!(
                "Scope: `{scope}`. A client bound to a member reaches only that member's objects here: {list} must be \
                 the member's own, or the request is answered as if {it} did not exist (404)."
            )
        }
    }
}

fn owned_name(kind: Owned) -> &'static str {
    match kind {
        Owned::Member => "member",
        Owned::Account => "account",
        Owned::Operator => "operator",
        Owned::BankCard => "bank card",
        Owned::Merchant => "merchant",
    }
}

/// Every code the API answers with, as the registry lists them, with the table of their statuses.
fn error_code_schema() -> Value {
    let mut table = String::from(
        "Every error code the API answers with. A code is stable: never renamed, always with the same status.\n\n\
         | code | status | meaning |\n|---|---|---|\n",
    );
    for info in registry() {
        table.push_str(&format!("| `{}` | {} | {} |\n", info.code, info.status, info.description));
    }
    let codes: Vec<&str> = registry().iter().map(|info| info.code).collect();
    json!({ "type": "string", "enum": codes, "description": table })
}

/// What the document says of itself, its servers and tags.
fn head() -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "sanhu API",
            "version": "1.0.0",
            "description": "sanhu (三户), for back-end systems calling server to server: the ledger, and the three-party model of customers (客户), members (会员) and their accounts (账户), with real-name authentications (实名认证).\n\nConventions: JSON bodies with snake_case fields; amounts are integers of minor units (分, cents) with a currency code, never decimals; ids are prefixed by kind (`acc_`, `tr_`, `cus_`, `mem_`, `aut_`, `opr_`, `bcd_`), then 26 characters of Crockford base32 (`0-9A-Z` without `I`, `L`, `O`, `U`; the first `0-7`: 128 bits, not all zero), and time-ordered; times are RFC 3339. Every response carries `X-Request-Id`. Errors are `{\"error\": {\"code\", \"message\", \"request_id\"}}` with a stable code (see the `ErrorCode` schema): 4xx for the caller's mistakes, never 500. Every POST under /v1 takes an `Idempotency-Key`, except those whose request or response carries a secret (pay passwords, card numbers, one-time codes). Lists are cursor-paginated.\n\nScopes: each API client holds some of `ledger:read`, `ledger:write`, `parties:read`, `parties:write`, `wallet:read`, `wallet:write`, `admin:read`, `admin:write`, `audit:read`; each operation needs one (`x-sanhu-scope`). A client may be bound to one enterprise member (a merchant): it then holds only `parties:*` and `wallet:*` and reaches only that member's objects; every other id answers as if it did not exist.",
            "license": {
                "name": "Apache-2.0",
                "identifier": "Apache-2.0"
            }
        },
        "servers": [
            {
                "url": "/"
            }
        ],
        "security": [
            {
                "SanhuSignature": []
            },
            {
                "StaffSession": []
            }
        ],
        "tags": [
            {
                "name": "accounts",
                "description": "Ledger accounts: four counters each."
            },
            {
                "name": "transfers",
                "description": "Moving money: posted transfers, holds, batches with linked chains."
            },
            {
                "name": "balances",
                "description": "Balances now, in the past, and of several accounts at once."
            },
            {
                "name": "operations",
                "description": "Unauthenticated endpoints for operators and load balancers."
            },
            {
                "name": "audit",
                "description": "The audit log: every POST that reached a handler (who, from where, what, why, with what outcome), append-only and hash-chained; `sanhu verify` checks the chain."
            },
            {
                "name": "members",
                "description": "Members (会员): login identities that use products; registration, activation, locks, cancellation."
            },
            {
                "name": "customers",
                "description": "Customers (客户): who someone really is; search, statuses that reach every account, merges (归并). Back office only."
            },
            {
                "name": "member accounts",
                "description": "Member accounts (账户): where a member's money is, each a ledger account of a configured type."
            },
            {
                "name": "authentications",
                "description": "Real-name authentications (实名认证): a verified ID card or business licence gives the customer its certificate, or merges it with the customer that holds it."
            },
            {
                "name": "enterprises",
                "description": "Enterprise members (企业会员): registration with company details (企业资质) and a first admin operator."
            },
            {
                "name": "operators",
                "description": "Operators (操作员) of enterprise members: roles, grants per account and operation, limits, and the authorisation check before an operator moves money."
            },
            {
                "name": "security",
                "description": "A member's security: login identities, phone changes, one-time codes, bank cards, pay passwords (and operators' pay passwords). Secrets are never answered nor logged."
            },
            {
                "name": "wallet",
                "description": "The wallet (钱包): the platform's accounts, a member's wallet, recharge, pay, refund, withdraw, freeze and adjust. Orders are named by the caller's order number: the same number again answers the order as it is."
            },
            {
                "name": "bills",
                "description": "Bills (账单): a member's bill of a month of the platform's time zone (or of a range), issued once the period has ended and never changed, with each account's opening and closing balance and the period's items by business type; a customer's bill, the sum of its members' bills."
            },
            {
                "name": "settlements",
                "description": "Merchant settlement (商户结算): a merchant's statement per day or month of what it received, refunded, the platform's commission and adjustments, its net held until it is confirmed and paid out to the verified settlement account (or kept as balance); disputes corrected by staff's adjustments."
            },
            {
                "name": "reconciliation",
                "description": "Channel reconciliation (渠道对账): a channel's daily statement file read with its configured layout and matched with sanhu's recharges, refunds and withdrawal payouts of the channel and day: matched, missing in sanhu (长款), missing in the channel (短款), amount or status mismatch; each difference explained, or a recharge the channel paid credited (held for a second staff member)."
            },
            {
                "name": "webhooks",
                "description": "Webhooks (通知): subscriptions that have sanhu POST events (recharges credited, payments paid and refunded, withdrawals paid out, status changes, ...) to a URL, signed with sanhu's webhook key, at least once, in order per object, retried for a day; each delivery's attempts are logged."
            },
            {
                "name": "staff",
                "description": "Staff (后台人员): signing in to a session, and maker-checker (一人发起、另一人复核): requests that wait for a second staff member's approval."
            }
        ]
    })
}

/// How requests are authenticated.
fn security_schemes() -> Value {
    json!({
        "SanhuSignature": {
            "type": "apiKey",
            "in": "header",
            "name": "X-Sanhu-Signature",
            "description": "Every request under `/v1` is signed with the API client's Ed25519 key. Send four headers:\n\n* `X-Sanhu-Client`: the client id (`cli_...`), as registered with `sanhu client create`.\n* `X-Sanhu-Timestamp`: the current time in Unix seconds. It must be within 300 seconds (the server's `signature_window_s`) of the server's clock, either way.\n* `X-Sanhu-Nonce`: 16 to 64 characters of `[A-Za-z0-9_-]`, new for every request. A nonce is accepted once per client.\n* `X-Sanhu-Signature`: the standard base64 (with padding) of the 64-byte Ed25519 signature of the signed string.\n\nThe signed string is exactly (`\\n` is a line feed, with none at the end):\n\n```\nSANHU-ED25519-V1\\n{METHOD}\\n{path with query, exactly as sent}\\n{timestamp}\\n{nonce}\\n{lower-case hex SHA-256 of the body}\n```\n\nFor a request without a body the hash is that of the empty string (`e3b0c442...b855`). A failed check is answered 401 with one of `missing_signature`, `malformed_signature`, `unknown_client`, `client_revoked`, `stale_timestamp`, `invalid_signature`, `replayed_nonce`.\n\nA verified client may still be refused: 403 `scope_missing` when it lacks the scope the operation names (each operation's description says `Scope: ...`, and its `x-sanhu-scope` holds it), 403 `client_bound` or a 404 when it is bound to one member and the request reaches beyond that member, and 429 `rate_limited` (with `Retry-After`) past its rate limit. A client may hold two active keys at once, so that a key is rotated without a pause; the signature verifies against either."
        },
        "StaffSession": {
            "type": "apiKey",
            "in": "cookie",
            "name": "sanhu_staff_session",
            "description": "A staff member signed in with `POST /v1/staff/sessions` (username and password) is answered a session cookie, `sanhu_staff_session` (`HttpOnly; SameSite=Strict; Path=/`, sent to the API and the operations console at `/console`, and `Secure` where `staff_cookie_secure` is set), and a CSRF token in the body. A request under `/v1` with the cookie and no signature header is the staff member's; every POST of the session also sends the CSRF token in `X-CSRF-Token` (`csrf_token_missing`, `csrf_token_invalid`). The staff member's role grants the scopes an API client would hold (docs/SECURITY.md has the table), and every endpoint's scope applies alike (`scope_missing`). A session ends when signed out (`POST /v1/staff/sessions/current/logout`), after `session_idle_s` without a request or `session_absolute_s` after sign-in (`staff_session_expired`), and when its account is disabled or given a new password (`staff_session_invalid`). After `lockout_failures` wrong passwords in a row an account is locked for `lockout_s` (`staff_locked`).\n\nSome requests a staff member makes wait for a second staff member (maker-checker): freezes and unfreezes, customer and account statuses, ledger blocks, merges, operators' limits. They are answered 202 with an approval, which another staff member approves (`POST /v1/approvals/{id}/approve`, and then it is applied) or rejects; the maker cannot (`approval_same_staff_member`)."
        }
    })
}

/// The headers every response carries.
fn headers() -> Value {
    json!({
        "XRequestId": {
            "description": "The request's id (`req_...`), on every response; the same as `request_id` in an error body.",
            "schema": {
                "type": "string",
                "pattern": "^req_[0-9A-Za-z_]+$"
            }
        },
        "IdempotentReplayed": {
            "description": "`true` when the response is the stored response of an earlier request with the same Idempotency-Key.",
            "schema": {
                "type": "string",
                "enum": ["true"]
            }
        }
    })
}

/// The header parameters every signed operation shares.
fn shared_parameters() -> Value {
    json!({
        "SanhuClient": {
            "name": "X-Sanhu-Client",
            "in": "header",
            "required": true,
            "description": "The API client's id. See the SanhuSignature security scheme.",
            "schema": {
                "type": "string",
                "pattern": "^cli_[A-Za-z0-9_-]{1,60}$"
            }
        },
        "SanhuTimestamp": {
            "name": "X-Sanhu-Timestamp",
            "in": "header",
            "required": true,
            "description": "Unix seconds, within the signature window of the server's clock.",
            "schema": {
                "type": "string",
                "pattern": "^[0-9]{1,12}$"
            }
        },
        "SanhuNonce": {
            "name": "X-Sanhu-Nonce",
            "in": "header",
            "required": true,
            "description": "New for every request: 16 to 64 of [A-Za-z0-9_-].",
            "schema": {
                "type": "string",
                "pattern": "^[A-Za-z0-9_-]{16,64}$"
            }
        },
        "IdempotencyKey": {
            "name": "Idempotency-Key",
            "in": "header",
            "required": false,
            "description": "1 to 255 printable ASCII characters, scoped to the client. The first request's response (unless 5xx) is stored; a retry with the same key and the same method, path and body gets it back with `Idempotent-Replayed: true` and has no further effect. The same key with a different request: `idempotency_key_reused` (422); while the first is still running: `idempotency_key_in_use` (409).",
            "schema": {
                "type": "string",
                "minLength": 1,
                "maxLength": 255
            }
        },
        "CsrfToken": {
            "name": "X-CSRF-Token",
            "in": "header",
            "required": false,
            "description": "With a staff session: the session's CSRF token, as its sign-in answered it (`csrf_token_missing`, `csrf_token_invalid`). Required on every POST of a staff session; an API client's signed request sends none.",
            "schema": {
                "type": "string",
                "pattern": "^[0-9a-f]{64}$"
            }
        }
    })
}

/// The body of every error.
fn error_schema() -> Value {
    json!({
        "type": "object",
        "required": ["error"],
        "additionalProperties": false,
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "request_id"],
                "additionalProperties": false,
                "properties": {
                    "code": {
                        "$ref": "#/components/schemas/ErrorCode"
                    },
                    "message": {
                        "type": "string",
                        "description": "For people; may change. Branch on `code`."
                    },
                    "request_id": {
                        "type": "string",
                        "pattern": "^req_[0-9A-Za-z_]+$",
                        "description": "The request's id, also in the `X-Request-Id` header; quote it to the operator.",
                        "examples": ["req_01JD7S2P3Q4R5S6T7V8W9X0Y1Z"]
                    }
                }
            }
        },
        "examples": [
            {
                "error": {
                    "code": "insufficient_funds",
                    "message": "the debit account's available balance does not cover the amount",
                    "request_id": "req_01JD7S2P3Q4R5S6T7V8W9X0Y1Z"
                }
            }
        ]
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    use super::*;

    const METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch", "trace"];

    fn document() -> Value {
        document_json().clone()
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
    fn the_snapshot_is_the_generated_document() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(SNAPSHOT_PATH);
        let generated = pretty();
        if std::env::var_os("SANHU_UPDATE_OPENAPI").is_some() {
            std::fs::write(&path, &generated).expect("write docs/openapi.json");
            return;
        }
        let kept = std::fs::read_to_string(&path).unwrap_or_default();
        if kept != generated {
            let line = kept.lines().zip(generated.lines()).position(|(a, b)| a != b).map_or(0, |n| n + 1);
            panic!(
                "docs/openapi.json is not the document the code generates (first difference at line {line}): \
                 the API changed. Review the change and update the file with \
                 `SANHU_UPDATE_OPENAPI=1 cargo test -p sanhu-http --lib openapi`."
            );
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
            routes::all().iter().map(|route| (route.method.to_owned(), route.path.to_owned())).collect();
        assert_eq!(documented, served);
        assert_eq!(served.len(), routes::all().len(), "the table declares each endpoint once");
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
            let route = routes::find(&method, &path).expect("a route of the table");
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
            assert_eq!(route.signed(), signed, "{method} {path}");
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
                let takes_csrf = operation["parameters"]
                    .as_array()
                    .is_some_and(|ps| ps.iter().any(|p| p["$ref"] == "#/components/parameters/CsrfToken"));
                assert_eq!(takes_csrf, route.accepts_staff_session(), "{method} {path}: X-CSRF-Token");
                if route.secret {
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
    fn each_error_response_lists_the_capabilitys_codes_of_its_status() {
        let doc = document();
        for (method, path, operation) in operations(&doc) {
            let route = routes::find(&method, &path).unwrap();
            for (status, response) in operation["responses"].as_object().unwrap() {
                let Ok(status) = status.parse::<u16>() else { continue };
                if status < 400 {
                    continue;
                }
                let description = resolve(&doc, response)["description"].as_str().unwrap();
                for info in capability_codes(route.capability, route.signed()).iter().filter(|i| i.status == status) {
                    // A read takes no body, and only signed POSTs take keys.
                    if method == "GET" && crate::error::group::BODY.iter().any(|c| c.code == info.code) {
                        continue;
                    }
                    if info.code.contains("idempotency_key") {
                        continue;
                    }
                    assert!(
                        description.contains(&format!("`{}`", info.code)),
                        "{method} {path} {status}: {}",
                        info.code
                    );
                }
                // Every code listed is registered with that status.
                for code in description.split('`').skip(1).step_by(2) {
                    let info = crate::error::code_info(code).unwrap_or_else(|| panic!("{code} is not registered"));
                    assert_eq!(info.status, status, "{method} {path}: {code}");
                }
            }
        }
    }

    #[test]
    fn every_secret_bearing_route_is_a_post_route() {
        for route in routes::all().iter().filter(|route| route.secret) {
            assert_eq!(route.method, "POST", "{} is not a POST route", route.path);
            assert!(route.signed(), "{}", route.path);
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
