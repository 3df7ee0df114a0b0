//! The audit log at the edge: every signed POST that reaches a handler is recorded, whatever its
//! answer (a success, a 4xx refusal, a 5xx), before that answer goes out; and `GET /v1/audit-events`
//! reads the log back.
//!
//! The layer sits between the idempotency layer and the handler, so it sees each request that was
//! run, once: an idempotent replay (answered from the stored response) ran nothing and adds nothing,
//! and a request refused before any handler (a bad signature, a reused key) changed nothing. Reads
//! (GETs) are not recorded here; an export of a list is, by the console that makes it
//! (`crate::console::export`, `sanhu_service::audit::ExportRecord`).
//!
//! An answer leaves only once its event is committed: a success means that its audit event is on
//! disk. If the event cannot be written, the answer is withheld and replaced by 503
//! `audit_unavailable` (the request may have taken effect). The handler and the recording run on a
//! task the caller's going away does not cancel (the idempotency layer's claim task under a key,
//! [`Detached`], else one this layer spawns), so a change that was made is recorded even when nobody
//! waits for its answer.
//!
//! Under an Idempotency-Key the answer is kept for replay in the event's transaction. When that
//! transaction cannot be committed, the key is not released (the handler ran and may have had
//! effects, which a second run could repeat): the event and the answer are kept in the background,
//! tried again until they are committed, while the key's retries are answered
//! `idempotency_key_in_use`; then they replay the kept answer (see `crate::idempotency`).
//!
//! What is recorded: the client or staff member (actor), the request id, the source address (the
//! peer's, or the configured trusted proxy header's last entry), the route, the ids the request was
//! about (its path's parameters, the ids its body names and a success's answer names; for a request
//! applied on approval, its approval), the status and error code, and the request's JSON, which the
//! service redacts (`sanhu_service::audit::redact`) before it is queued.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, RawPathParams, Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use sanhu_service::audit::{client_actor, looks_like_id, RequestRecord};
use sanhu_service::clock;
use sanhu_store::audit::{AuditEvent, AuditQuery};
use sanhu_store::IdempotencyAnswer;
use serde::Serialize;
use serde_json::Value;
use tracing::Instrument;

use crate::error::{code, error_chain, AnsweredCode, ApiError};
use crate::idempotency::{AnswerKept, ClaimedKey, Detached};
use crate::principal::AuthenticatedClient;
use crate::query::QueryParams;
use crate::request_id;
use crate::state::AppState;

/// Largest answer the layer reads to find its error code and the ids it names; handlers' answers
/// stay well below it (the idempotency layer keeps answers of this size too).
const RESPONSE_BYTES_MAX: usize = 64 * 1024 * 1024;
/// How deep into a body's JSON ids are looked for.
const ID_DEPTH_MAX: usize = 4;
/// Tries at recording an event before the answer is withheld, and the pause after each failed one.
const RECORD_TRIES: u32 = 3;
const RECORD_RETRY_PAUSE: Duration = Duration::from_millis(100);
/// Seconds a client should wait before retrying a request whose audit event could not be written.
const AUDIT_UNAVAILABLE_RETRY_AFTER_S: u32 = 1;
/// Longest value of a text filter of `GET /v1/audit-events`.
const FILTER_CHARS_MAX: usize = 256;

/// The middleware: runs the handler, records the event, then answers.
pub async fn record(State(state): State<AppState>, request: Request, next: Next) -> Result<Response, ApiError> {
    if request.method() != Method::POST {
        return Ok(next.run(request).await);
    }
    let Some(route) = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()) else {
        return Ok(next.run(request).await);
    };
    let actor = match (
        crate::principal::audit_actor(request.extensions()),
        request.extensions().get::<AuthenticatedClient>(),
    ) {
        (Some(staff), _) => staff,
        (None, Some(AuthenticatedClient(client_id))) => client_actor(client_id),
        (None, None) => return Err(ApiError::internal(anyhow::anyhow!("the audit layer ran before authentication"))),
    };
    // A request applied on approval names its approval, so that the approval's events are found together.
    let approval = request.extensions().get::<crate::principal::ApprovedRequest>().map(|a| a.approval_id);
    let source = source_address(&request, state.config.trusted_proxy_header.as_deref());
    // Under an idempotency key: its answer is kept in the same transaction as the event.
    let claimed = request.extensions().get::<ClaimedKey>().cloned();
    let detached = request.extensions().get::<Detached>().is_some();

    let (mut parts, body) = request.into_parts();
    let mut target_ids: Vec<String> = match RawPathParams::from_request_parts(&mut parts, &state).await {
        Ok(params) => params.iter().map(|(_, value)| value.to_owned()).collect(),
        Err(_) => Vec::new(),
    };
    target_ids.extend(approval.map(|id| id.to_string()));
    // Authentication has buffered the body already; this only takes it back out.
    let body = to_bytes(body, state.config.body_bytes_max)
        .await
        .map_err(|_| ApiError::new(code::BODY_TOO_LARGE, "the request body is too large"))?;
    let (json, unreadable_body_bytes) = match serde_json::from_slice::<Value>(&body) {
        Ok(json) => (Some(json), None),
        Err(_) if body.iter().all(u8::is_ascii_whitespace) => (None, None),
        Err(_) => (None, Some(body.len())),
    };
    if let Some(json) = &json {
        collect_ids(json, &mut target_ids, 0);
    }
    let request = Request::from_parts(parts, Body::from(body));
    let audit = state.audit.clone();
    let keeps = state.keeps.clone();
    let request_id = request_id::current();

    let work = {
        let request_id = request_id.clone();
        async move {
            // A panic in the handler is answered (and recorded) as a 500 rather than losing the record
            // with the task; it is caught where the handler is polled, on this task (a task of its
            // own per request cost a spawn and a hop between threads for nothing else).
            // What the handler writes is tracked (`sanhu_service::effects`), for its answer to tell
            // whether a failure left anything applied.
            let response =
                crate::catch_panic::answered_even_if_it_panics(sanhu_service::effects::scope(next.run(request))).await;
            let (parts, body) = response.into_parts();
            let body = match to_bytes(body, RESPONSE_BYTES_MAX).await {
                Ok(body) => body,
                Err(error) => {
                    let error = anyhow::anyhow!("an answer could not be read for the audit log: {error}");
                    return ApiError::internal(error).into_response();
                }
            };
            let status = parts.status.as_u16();
            // Only what the event needs is read from the answer: a refusal's code (which the refusal
            // put on its answer, `AnsweredCode`), and the ids a success names, read from its bytes
            // without building the JSON.
            let error_code = (status >= 400).then(|| answered_code(&parts, &body)).flatten();
            if parts.status.is_success() {
                collect_answer_ids(&body, &mut target_ids);
            }
            let mut record = RequestRecord {
                at: clock::now(),
                actor,
                request_id,
                source,
                method: Method::POST.to_string(),
                route,
                target_ids,
                status,
                error_code,
                request: json,
                unreadable_body_bytes,
            };
            // Kept for replay, a 5xx too; only a 5xx that decided nothing releases its key, so that a
            // retry runs afresh.
            let answer = claimed.map(|ClaimedKey { key, token }| IdempotencyAnswer {
                key,
                token,
                response: crate::idempotency::outcome_of(&parts, &body),
            });
            let mut tries = 0;
            loop {
                tries += 1;
                // An event's time is when it is appended, so that the log's order (its sequence
                // numbers) and its times agree even when the event waited for the database: what a
                // try that failed did not append cannot be before what others appended meanwhile.
                record.at = clock::now();
                let recorded = match &answer {
                    Some(answer) => audit.record_answering(record.clone(), answer.clone()).await,
                    None => audit.record(record.clone()).await,
                };
                match recorded {
                    Ok(_) => {
                        let mut response = Response::from_parts(parts, Body::from(body));
                        if answer.is_some() {
                            response.extensions_mut().insert(AnswerKept);
                        }
                        return response;
                    }
                    Err(error) if tries < RECORD_TRIES => {
                        tracing::warn!(
                            error = error_chain(&error),
                            tries,
                            "an audit event could not be written; trying again"
                        );
                        tokio::time::sleep(RECORD_RETRY_PAUSE * tries).await;
                    }
                    // The handler ran and its answer is to be kept under its key: the key is not released
                    // (the request may have had effects), and the event and the answer are kept in the
                    // background until they are committed. Meanwhile the key's retries are answered in
                    // use, then replay the answer.
                    Err(error) if answer.as_ref().is_some_and(|answer| answer.response.is_some()) => {
                        tracing::error!(
                            error = error_chain(&error),
                            status,
                            "an audit event and its idempotent answer could not be written; keeping them in the background"
                        );
                        let (audit, record) = (audit.clone(), record.clone());
                        let answer = answer.clone().expect("an answer to keep");
                        keeps.spawn(request_id::scope(request_id::current(), async move {
                            crate::idempotency::retry_until_kept(
                                "an audit event and its idempotent answer could not be written",
                                || async {
                                    // Timed when it is appended, at the end of the log (see above).
                                    let record = RequestRecord { at: clock::now(), ..record.clone() };
                                    Ok(audit.record_answering(record, answer.clone()).await.map(|_| ())?)
                                },
                            )
                            .await;
                        }));
                        // A 5xx goes out as it is (it promises nothing); any other answer is withheld.
                        let mut response = if parts.status.is_server_error() {
                            Response::from_parts(parts, Body::from(body))
                        } else {
                            audit_unavailable()
                        };
                        response.extensions_mut().insert(AnswerKept);
                        return response;
                    }
                    // A 5xx decided nothing the caller may rely on; it goes out as it is (a key it ran
                    // under is released by the idempotency layer: nothing was applied).
                    Err(error) if parts.status.is_server_error() => {
                        tracing::error!(error = error_chain(&error), status, "an audit event could not be written");
                        return Response::from_parts(parts, Body::from(body));
                    }
                    Err(error) => {
                        tracing::error!(
                            error = error_chain(&error),
                            status,
                            "an audit event could not be written; the answer is withheld"
                        );
                        return audit_unavailable();
                    }
                }
            }
        }
    };
    // The request runs to its end and is recorded whatever the caller does: on the idempotency
    // layer's claim task, which the caller's going away does not cancel, when it came through one;
    // else on a task of its own. One spawn per POST, not one per layer.
    if detached {
        return Ok(work.await);
    }
    let task = tokio::spawn(request_id::scope(request_id, work).instrument(tracing::Span::current()));
    task.await.map_err(|error| ApiError::internal(anyhow::anyhow!("the audited request's task failed: {error}")))
}

/// A refusal's code: as the refusal put it on its answer, or else read from the answer's
/// `error.code` (an answer not made by [`ApiError`]).
fn answered_code(parts: &axum::http::response::Parts, body: &[u8]) -> Option<String> {
    if let Some(AnsweredCode(code)) = parts.extensions.get::<AnsweredCode>() {
        // A layer that rewrote a refusal's body but kept its extensions would make the event name
        // another code than the answer: every test that meets a refusal checks it does not.
        debug_assert_eq!(code_in_body(body).as_deref(), Some(*code), "the answer's body and its AnsweredCode differ");
        return Some((*code).to_owned());
    }
    code_in_body(body)
}

/// The `error.code` of an answer's body.
fn code_in_body(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Refusal {
        error: RefusalError,
    }
    #[derive(serde::Deserialize)]
    struct RefusalError {
        code: Option<String>,
    }
    serde_json::from_slice::<Refusal>(body).ok().and_then(|refusal| refusal.error.code)
}

/// 503 `audit_unavailable` with `Retry-After`: the answer withheld because its event could not be
/// written.
pub(crate) fn audit_unavailable() -> Response {
    let mut response = ApiError::new(
        code::AUDIT_UNAVAILABLE,
        "the request was handled but its audit record could not be written, so its answer is withheld; it may have \
         taken effect: retry",
    )
    .into_response();
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(AUDIT_UNAVAILABLE_RETRY_AFTER_S));
    response
}

/// Where the request came from: the last entry of the trusted proxy's header when one is configured
/// and holds an address (the entries before it are whatever the client sent, and prove nothing),
/// else the peer's address. None when neither is known (a router driven without a listener).
pub(crate) fn source_address(request: &Request, trusted_proxy_header: Option<&str>) -> Option<String> {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(address)| *address);
    source_of(request.headers(), peer, trusted_proxy_header)
}

/// [`source_address`] from a request's headers and its peer's address.
pub(crate) fn source_of(
    headers: &axum::http::HeaderMap,
    peer: Option<SocketAddr>,
    trusted_proxy_header: Option<&str>,
) -> Option<String> {
    let forwarded = trusted_proxy_header
        .and_then(|name| headers.get(name))
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.rsplit(',').next())
        .and_then(parse_address);
    forwarded.or_else(|| peer.map(|address| address.ip())).map(|ip| ip.to_string())
}

/// An address as proxies write it: `192.0.2.7`, `2001:db8::1`, with or without a port.
fn parse_address(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    text.parse::<IpAddr>().ok().or_else(|| text.parse::<SocketAddr>().ok().map(|address| address.ip()))
}

/// Adds the ids `value` names: strings shaped like ids under a key `id` or ending in `_id` or
/// `_ids`, at any depth to [`ID_DEPTH_MAX`].
fn collect_ids(value: &Value, ids: &mut Vec<String>, depth: usize) {
    if depth > ID_DEPTH_MAX {
        return;
    }
    match value {
        Value::Object(fields) => {
            for (name, value) in fields {
                let names_an_id = name == "id" || name.ends_with("_id") || name.ends_with("_ids");
                match value {
                    Value::String(text) if names_an_id && looks_like_id(text) => ids.push(text.clone()),
                    Value::Array(items) if names_an_id => ids.extend(
                        items.iter().filter_map(Value::as_str).filter(|text| looks_like_id(text)).map(str::to_owned),
                    ),
                    _ => collect_ids(value, ids, depth + 1),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_ids(item, ids, depth + 1)),
        _ => {}
    }
}

/// Adds the ids a success's answer names, as [`collect_ids`] would find them in the answer parsed, in
/// the same order (an object's fields by name, as a parsed object holds them), but read straight from
/// its bytes: no JSON value is built, and only the ids and the names of fields are kept. An answer
/// that is not JSON names none.
fn collect_answer_ids(body: &[u8], ids: &mut Vec<String>) {
    if body.is_empty() {
        return;
    }
    let mut found = Vec::new();
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let answer = IdsIn { ids: &mut found, depth: 0, reading: Reading::Within };
    let read = serde::de::DeserializeSeed::deserialize(answer, &mut deserializer).and_then(|()| deserializer.end());
    if read.is_ok() {
        ids.extend(found);
    }
}

/// What a value read for ids ([`IdsIn`]) may hold, by where it stands.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reading {
    /// Any value: the ids under the names that say they hold ids, at any depth to [`ID_DEPTH_MAX`].
    Within,
    /// The value of a field whose name says it holds ids: a string shaped like an id is one; an array's
    /// strings shaped like ids are (and nothing deeper in it); an object is read on for ids, one level
    /// down (as [`collect_ids`] does).
    Named,
    /// An item of such an array: its text if it is a string shaped like an id; any other value is
    /// skipped.
    Item,
}

/// A JSON value read for the ids in it ([`collect_answer_ids`]), in an object or array `depth` levels
/// down, as `reading` says. One visitor for every place a value stands, so that what a scalar holds
/// is said once: nothing, unless it is a string shaped like an id where an id may stand.
struct IdsIn<'a> {
    ids: &'a mut Vec<String>,
    depth: usize,
    reading: Reading,
}

impl IdsIn<'_> {
    /// The same ids, for a value read as `reading`, `depth` levels down.
    fn at(&mut self, depth: usize, reading: Reading) -> IdsIn<'_> {
        IdsIn { ids: &mut *self.ids, depth, reading }
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for IdsIn<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        if self.reading == Reading::Within && self.depth > ID_DEPTH_MAX {
            return <serde::de::IgnoredAny as serde::Deserialize>::deserialize(deserializer).map(|_| ());
        }
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for IdsIn<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("JSON")
    }

    fn visit_str<E>(self, text: &str) -> Result<(), E> {
        if self.reading != Reading::Within && looks_like_id(text) {
            self.ids.push(text.to_owned());
        }
        Ok(())
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(mut self, mut items: A) -> Result<(), A::Error> {
        let (depth, reading) = match self.reading {
            Reading::Within => (self.depth + 1, Reading::Within),
            Reading::Named => (self.depth, Reading::Item),
            Reading::Item => {
                while items.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                return Ok(());
            }
        };
        while items.next_element_seed(self.at(depth, reading))?.is_some() {}
        Ok(())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut fields: A) -> Result<(), A::Error> {
        let depth = match self.reading {
            Reading::Within => self.depth,
            Reading::Named => self.depth + 1,
            Reading::Item => ID_DEPTH_MAX + 1,
        };
        if depth > ID_DEPTH_MAX {
            while fields.next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?.is_some() {}
            return Ok(());
        }
        // A parsed object holds its fields by name (the last of a repeated name wins): the ids are
        // added in that order. Only the fields that held ids are kept (most hold none), unsorted
        // until the end.
        let mut by_name: Vec<(FieldName<'de>, Vec<String>)> = Vec::new();
        while let Some(name) = fields.next_key::<FieldName<'de>>()? {
            let names_an_id = name.0 == "id" || name.0.ends_with("_id") || name.0.ends_with("_ids");
            let mut found = Vec::new();
            let (depth, reading) = if names_an_id { (depth, Reading::Named) } else { (depth + 1, Reading::Within) };
            fields.next_value_seed(IdsIn { ids: &mut found, depth, reading })?;
            by_name.retain(|(held, _)| *held != name);
            if !found.is_empty() {
                by_name.push((name, found));
            }
        }
        by_name.sort_unstable_by(|(a, _), (b, _)| a.cmp(b));
        by_name.into_iter().for_each(|(_, found)| self.ids.extend(found));
        Ok(())
    }
}

/// A field's name, borrowed from the answer when it holds no escapes.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct FieldName<'de>(std::borrow::Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for FieldName<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Name;
        impl<'de> serde::de::Visitor<'de> for Name {
            type Value = FieldName<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E>(self, name: &'de str) -> Result<FieldName<'de>, E> {
                Ok(FieldName(name.into()))
            }
            fn visit_str<E>(self, name: &str) -> Result<FieldName<'de>, E> {
                Ok(FieldName(name.to_owned().into()))
            }
        }
        deserializer.deserialize_str(Name)
    }
}

/// An audit event as the API shows it.
#[derive(Serialize, Debug, utoipa::ToSchema)]
#[schema(as = AuditEvent)]
pub struct AuditEventView {
    /// Numbered from 1, without gaps.
    #[schema(minimum = 1)]
    pub seq: i64,
    #[schema(value_type = sanhu_core::Timestamp, inline)]
    pub at: String,
    /// `client:cli_…` or `staff:<username>`.
    #[schema(pattern = "^(client:cli_[A-Za-z0-9_-]{1,60}|staff:[a-z][a-z0-9._-]{2,31})$")]
    pub actor: String,
    #[schema(value_type = crate::request_id::RequestId, inline)]
    pub request_id: String,
    /// The address the request came from (IPv4 or IPv6); null when unknown.
    #[schema(pattern = "^[0-9A-Fa-f:.]{2,45}$")]
    pub source: Option<String>,
    /// `POST` for a request; `GET` for an export of a list (the console's CSV), whose `changes` are
    /// `{export, criteria, rows, cut}`. Other reads are not recorded.
    #[schema(value_type = RecordedMethod, inline)]
    pub method: String,
    /// The route's template, e.g. `/v1/members/{id}/lock`.
    #[schema(pattern = "^/v1/[a-z0-9/{}_-]+$")]
    pub route: String,
    pub target_ids: Vec<String>,
    /// The HTTP status answered.
    #[schema(minimum = 100, maximum = 599)]
    pub status: u16,
    #[schema(value_type = Option<crate::error::ErrorCodeName>)]
    pub error_code: Option<String>,
    #[schema(value_type = Option<sanhu_core::party::change::Reason>, inline)]
    pub reason: Option<String>,
    /// The request's JSON with its secrets redacted; null for a request without a body. For an
    /// export: `export` (`csv`), `criteria` (the list's, by the API's names, redacted), `rows`
    /// written and `cut` (stopped at the export's bound).
    pub changes: Value,
    /// Hex SHA-256 of the event before (64 zeros before the first).
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub prev_hash: String,
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub hash: String,
}

/// The method of a recorded request: a POST, or the GET of a list exported (other reads are not
/// recorded).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
enum RecordedMethod {
    #[schema(rename = "POST")]
    Post,
    #[schema(rename = "GET")]
    Get,
}

impl From<&AuditEvent> for AuditEventView {
    fn from(stored: &AuditEvent) -> AuditEventView {
        let e = &stored.event;
        AuditEventView {
            seq: stored.seq,
            at: e.at.to_string(),
            actor: e.actor.clone(),
            request_id: e.request_id.clone(),
            source: e.source.clone(),
            method: e.method.clone(),
            route: e.route.clone(),
            target_ids: e.target_ids.clone(),
            status: e.status,
            error_code: e.error_code.clone(),
            reason: e.reason.clone(),
            // Written as JSON by the service; shown as the text it is should it not parse.
            changes: e.changes.as_deref().map_or(Value::Null, |text| {
                serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
            }),
            prev_hash: stored.prev_hash.clone(),
            hash: stored.hash.clone(),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AuditEventPage {
    data: Vec<AuditEventView>,
    /// Pass as `after` for the next page; null when this page is the last.
    #[schema(value_type = Option<crate::query::SequenceCursor>, inline)]
    next_cursor: Option<String>,
}

/// GET /v1/audit-events?actor=&route=&target_id=&request_id=&from=&to=&after=&limit=: the events
/// matching every filter given, oldest first. The cursor is the last event's sequence number.
#[utoipa::path(
    get,
    path = "/v1/audit-events",
    tag = "audit",
    operation_id = "listAuditEvents",
    summary = "List audit events",
    description = "Every signed POST that reached a handler, succeeded or refused, is an event: the client that sent it (`actor`), its request id, the address it came from, its route, the ids it was about, the status and error code answered, its reason and its JSON with every secret redacted (pay passwords, card numbers, CVV, codes, certificate numbers, keys: `[redacted]`; card numbers anywhere else masked to their first 6 and last 4 digits). Events are numbered without gaps and each carries the hash of the one before (`prev_hash`) and its own (`hash`): `sanhu verify` walks the chain and names the first event edited, deleted or moved. Every filter given must hold; oldest first, cursor-paginated. Reads are not recorded, nor idempotent replays (their first run was), except exports: a list the console exported (CSV) is a `GET` event of the list's route, as the staff member, with the criteria and the rows written in `changes`.",
    params(
        ("actor" = Option<String>, Query, min_length = 1, max_length = 256, description = "Events of this actor, e.g. `client:cli_01JD7S0M8R4Y3V6QF2K9N5X1TB`."),
        ("route" = Option<String>, Query, min_length = 1, max_length = 256, description = "Events of this route's template, e.g. `/v1/members/{id}/lock`."),
        ("target_id" = Option<String>, Query, min_length = 1, max_length = 256, description = "Events about this id (a path's id or order number, an id the body named, an id the answer created)."),
        ("request_id" = Option<String>, Query, min_length = 1, max_length = 256, description = "The event of this request (`X-Request-Id`)."),
        ("from" = Option<String>, Query, format = DateTime, description = "Events at or after this RFC 3339 time."),
        ("to" = Option<String>, Query, format = DateTime, description = "Events before this RFC 3339 time; after `from` (`invalid_time` otherwise)."),
        crate::query::Paging<crate::query::SequenceCursor>,
        ("Sanhu-Consistency" = Option<String>, Header, description = "`strong`: read the primary, never a read replica; `eventual` (the default): a read replica within the configured staleness may answer (its answer's `Sanhu-Read-From` says `replica`)."),
    ),
    responses(
        (status = 200, description = "A page of events.", body = AuditEventPage)
    )
)]
pub async fn audit_events(
    State(state): State<AppState>,
    crate::reads::ReadsFrom(reads): crate::reads::ReadsFrom,
    query: QueryParams,
) -> Result<(crate::reads::ReadFromHeader, Json<AuditEventPage>), ApiError> {
    let query = query.only(&["actor", "route", "target_id", "request_id", "from", "to", "after", "limit"])?;
    let limit = query.limit(state.config.page_size_max)?;
    let from = query.time("from")?;
    let to = query.time("to")?;
    if let (Some(from), Some(to)) = (from, to) {
        if from >= to {
            return Err(ApiError::new(code::INVALID_TIME, "from must be before to"));
        }
    }
    let after_seq =
        match query.get("after") {
            None => 0,
            Some(text) => text.parse::<i64>().ok().filter(|seq| *seq >= 0).ok_or_else(|| {
                ApiError::new(code::INVALID_CURSOR, "after must be a next_cursor this endpoint returned")
            })?,
        };
    let filter = |name: &str| -> Result<Option<String>, ApiError> {
        match query.get(name) {
            Some(text) if text.is_empty() || text.chars().count() > FILTER_CHARS_MAX => {
                Err(ApiError::new(code::INVALID_QUERY, format!("{name} must be 1 to {FILTER_CHARS_MAX} characters")))
            }
            other => Ok(other.map(str::to_owned)),
        }
    };
    let audit_query = AuditQuery {
        actor: filter("actor")?,
        route: filter("route")?,
        target_id: filter("target_id")?,
        request_id: filter("request_id")?,
        from,
        to,
        after_seq,
        limit,
    };
    let events = reads.audit_events(&audit_query).await?;
    let next_cursor = (events.len() == limit as usize).then(|| events.last().map(|e| e.seq.to_string())).flatten();
    Ok((
        crate::reads::ReadFromHeader::of(&reads),
        Json(AuditEventPage { data: events.iter().map(AuditEventView::from).collect(), next_cursor }),
    ))
}

/// The last run of `sanhu verify` as recorded.
#[derive(Serialize, Debug, utoipa::ToSchema)]
#[schema(as = Verification)]
pub struct VerificationView {
    /// Numbered from 1 in the order runs were recorded.
    #[schema(minimum = 1)]
    pub id: i64,
    #[schema(value_type = sanhu_core::Timestamp, inline)]
    pub started_at: String,
    #[schema(value_type = sanhu_core::Timestamp, inline)]
    pub finished_at: String,
    /// `clean` (no findings) or `problems`.
    #[schema(value_type = VerificationOutcome, inline)]
    pub outcome: &'static str,
    /// The ledger's problems and the audit chain's broken link, counted.
    #[schema(minimum = 0)]
    pub findings: i64,
    /// The first findings in words (at most 20).
    pub details: Vec<String>,
    #[schema(minimum = 0)]
    pub accounts_checked: i64,
    #[schema(minimum = 0)]
    pub transfers_checked: i64,
    /// The audit events whose chain was walked and holds.
    #[schema(minimum = 0)]
    pub audit_events_checked: i64,
    /// What ran it: `sanhu verify`, with its host when known.
    pub ran_by: String,
}

/// A run's outcome.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // a schema only
enum VerificationOutcome {
    Clean,
    Problems,
}

impl From<&sanhu_store::audit::VerificationRecord> for VerificationView {
    fn from(r: &sanhu_store::audit::VerificationRecord) -> VerificationView {
        VerificationView {
            id: r.id,
            started_at: r.started_at.to_string(),
            finished_at: r.finished_at.to_string(),
            outcome: if r.clean() { "clean" } else { "problems" },
            findings: r.findings,
            details: r.details.clone(),
            accounts_checked: r.accounts_checked,
            transfers_checked: r.transfers_checked,
            audit_events_checked: r.audit_events_checked,
            ran_by: r.ran_by.clone(),
        }
    }
}

/// GET /v1/verifications/{id}: a run of `sanhu verify`; `latest` the last one.
#[utoipa::path(
    get,
    path = "/v1/verifications/{id}",
    tag = "audit",
    operation_id = "getVerification",
    summary = "A result of sanhu verify (latest: the last)",
    description = "`sanhu verify` recounts every account from its entries, checks every currency balances and walks the audit log's hash chain; each run against this database is recorded. `GET /v1/verifications/latest` answers the last one: when it ran, its outcome (`clean` or `problems`), how many findings it had and the first in words, and what it checked; a number answers that run. 404 `verification_not_found` before any run is recorded, or for a number no run has. `sanhu serve` does not run it; the operator schedules it (docs/OPERATIONS.md).",
    params(
        ("id" = String, Path, pattern = "^(latest|[1-9][0-9]{0,18})$", description = "`latest`, or a run's number.")
    ),
    responses(
        (status = 200, description = "The run.", body = VerificationView)
    )
)]
pub async fn get_verification(
    State(state): State<AppState>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Json<VerificationView>, ApiError> {
    let not_found =
        || ApiError::new(code::VERIFICATION_NOT_FOUND, "no run of sanhu verify is recorded with this number");
    let id = match id.as_str() {
        "latest" => None,
        number => Some(number.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(not_found)?),
    };
    let found = state.audit.verification(id).await.map_err(ApiError::internal)?;
    Ok(Json(VerificationView::from(&found.ok_or_else(not_found)?)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const MEMBER: &str = "mem_01JD0000000000000000000000";
    const ACCOUNT: &str = "acc_01JD0000000000000000000001";
    const TRANSFER: &str = "tr_01JD0000000000000000000002";

    #[test]
    fn ids_are_collected_from_fields_that_name_them() {
        let body = json!({
            "member_id": MEMBER,
            "reference": ACCOUNT,
            "transfers": [{"id": TRANSFER, "debit_account_id": ACCOUNT}],
            "account_ids": [ACCOUNT, "not an id"],
            "owner_id": "order-42",
        });
        let mut ids = Vec::new();
        collect_ids(&body, &mut ids, 0);
        ids.sort();
        assert_eq!(ids, [ACCOUNT, ACCOUNT, MEMBER, TRANSFER]);
    }

    #[test]
    fn an_answers_ids_are_read_from_its_bytes_as_from_its_parsed_json() {
        let answers = [
            json!({"data": [{"id": TRANSFER, "debit_account_id": ACCOUNT, "credit_account_id": MEMBER, "amount": 5}]}),
            json!({"zeta_id": MEMBER, "alpha": {"id": ACCOUNT, "b_ids": [TRANSFER, 7, {"id": MEMBER}, "no"]}}),
            json!({"member_id": {"id": TRANSFER, "x": [{"owner_id": ACCOUNT}]}, "id": "not an id"}),
            json!([[[[[{"id": MEMBER}]]]], {"a": {"b": {"c": {"d": {"id": ACCOUNT}}}}}, {"a": {"b": {"id": TRANSFER}}}]),
            json!({"a_id": {"b_id": {"c_id": {"d_id": {"e_id": {"id": MEMBER}}, "id": ACCOUNT}}}}),
            json!({"escaped\\u0041_id": TRANSFER, "ok_id": "mem_01JD000000000000000000000\\u0030"}),
            json!("just text"),
            json!(null),
        ];
        for answer in answers {
            let mut parsed = Vec::new();
            collect_ids(&answer, &mut parsed, 0);
            let mut read = Vec::new();
            collect_answer_ids(answer.to_string().as_bytes(), &mut read);
            assert_eq!(read, parsed, "{answer}");
        }
        // A repeated name: the last value counts, as in a parsed object.
        let mut read = Vec::new();
        collect_answer_ids(format!(r#"{{"id":"{MEMBER}","id":"{ACCOUNT}"}}"#).as_bytes(), &mut read);
        assert_eq!(read, [ACCOUNT]);
        // Not JSON, or empty (a 204): no ids.
        let mut read = Vec::new();
        collect_answer_ids(format!(r#"{{"id":"{MEMBER}""#).as_bytes(), &mut read);
        collect_answer_ids(b"", &mut read);
        assert!(read.is_empty());
    }

    /// What the audit layer's per-request work that this file cut cost, before and after, on this
    /// machine and build: a figure for docs/BENCHMARKS.md, not a check (`--ignored --nocapture`).
    #[test]
    #[ignore]
    fn what_reading_an_answer_and_a_task_per_layer_cost() {
        use std::hint::black_box;
        use std::time::Instant;
        let counters =
            json!({"debits_pending": 0, "debits_posted": 1500, "credits_pending": 0, "credits_posted": 90000});
        let answer = json!({
            "id": TRANSFER, "kind": "posted", "debit_account_id": ACCOUNT, "credit_account_id": MEMBER,
            "amount": 42, "pending_id": null, "timeout_s": 0, "linked": false, "balancing": false,
            "code": "bench", "reference": "order-1", "metadata": {}, "timestamp": "2026-12-07T18:00:00.123456789Z",
            "debit_account_after": counters, "credit_account_after": counters,
        })
        .to_string();
        let rounds: u32 = 200_000;
        let started = Instant::now();
        for _ in 0..rounds {
            let parsed: Value = serde_json::from_slice(answer.as_bytes()).unwrap();
            let mut ids = Vec::new();
            collect_ids(&parsed, &mut ids, 0);
            black_box(ids);
        }
        let parsed = started.elapsed() / rounds;
        let started = Instant::now();
        for _ in 0..rounds {
            let mut ids = Vec::new();
            collect_answer_ids(black_box(answer.as_bytes()), &mut ids);
            black_box(ids);
        }
        let read = started.elapsed() / rounds;
        println!(
            "a transfer's answer ({} bytes) for its event: parsed {parsed:?}, read for its ids {read:?}",
            answer.len()
        );

        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let (spawned, inline) = runtime.block_on(async {
            let rounds: u32 = 100_000;
            tokio::spawn(async move {
                let started = Instant::now();
                for n in 0..rounds {
                    black_box(tokio::spawn(async move { black_box(n) }).await.unwrap());
                }
                let spawned = started.elapsed() / rounds;
                let started = Instant::now();
                for n in 0..rounds {
                    black_box(async move { black_box(n) }.await);
                }
                (spawned, started.elapsed() / rounds)
            })
            .await
            .unwrap()
        });
        println!("a layer's task: spawned and joined {spawned:?}, run inline {inline:?}");
    }

    #[test]
    fn addresses_are_read_as_proxies_write_them() {
        assert_eq!(parse_address(" 192.0.2.7"), Some("192.0.2.7".parse().unwrap()));
        assert_eq!(parse_address("192.0.2.7:4711"), Some("192.0.2.7".parse().unwrap()));
        assert_eq!(parse_address("[2001:db8::1]:443"), Some("2001:db8::1".parse().unwrap()));
        assert_eq!(parse_address("unknown"), None);
    }

    #[test]
    fn the_source_is_the_trusted_headers_last_entry_else_the_peer() {
        let request = |forwarded: Option<&str>| {
            let mut request = Request::builder().uri("/v1/x").body(Body::empty()).unwrap();
            if let Some(value) = forwarded {
                request.headers_mut().insert("x-forwarded-for", value.parse().unwrap());
            }
            request.extensions_mut().insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 2], 50_000))));
            request
        };
        let header = Some("x-forwarded-for");
        let spoofed = request(Some("203.0.113.66, 198.51.100.4"));
        assert_eq!(source_address(&spoofed, header).as_deref(), Some("198.51.100.4"));
        assert_eq!(source_address(&spoofed, None).as_deref(), Some("10.0.0.2"), "no proxy is trusted");
        assert_eq!(source_address(&request(Some("garbage")), header).as_deref(), Some("10.0.0.2"));
        assert_eq!(source_address(&request(None), header).as_deref(), Some("10.0.0.2"));
        let alone = Request::builder().uri("/v1/x").body(Body::empty()).unwrap();
        assert_eq!(source_address(&alone, None), None);
    }
}
