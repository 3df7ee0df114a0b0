//! The audit log's use cases: record what a state-changing request did, and read the records back.
//!
//! Every event passes through [`AuditLog::record`], which takes the secrets out of the request's JSON
//! ([`redact`]) before anything is queued, so no caller can store one by forgetting. Events are
//! appended by a batching writer ([`writer`]), as transfers are: many events, one transaction, one
//! fsync; each caller waits for its own event's commit. The hash chain itself is the store's
//! (`sanhu_store::audit`).
//!
//! Besides requests that change something (POSTs), an export of a list (the console's CSV) is an
//! event too ([`AuditLog::record_export`]): reading one record leaves no trace, but taking a whole
//! list out of the system is what an auditor asks about. It is a GET of the list's API route, its
//! `changes` naming the criteria, the rows written and whether the export was cut at its bound.

pub mod redact;
mod writer;

use sanhu_core::party::change::REASON_CHARS_MAX;
use sanhu_core::Timestamp;
use sanhu_store::audit::{AuditEvent, AuditQuery, AuditStore, NewAuditEvent, VerificationRecord, AUDIT_TARGET_IDS_MAX};
use sanhu_store::{IdempotencyAnswer, Store};
use serde_json::{json, Value};

pub use writer::{AuditConfig, AuditError};

/// Largest `changes` kept, in bytes of JSON: past it the event keeps only the request's size (a batch
/// of thousands of transfers is in the ledger, transfer by transfer, already).
pub const CHANGES_BYTES_MAX: usize = 64 * 1024;
/// Longest target id kept, in characters (an order number's bound).
pub const TARGET_ID_CHARS_MAX: usize = 64;

/// What one request did, as the HTTP layer saw it.
#[derive(Clone, Debug)]
pub struct RequestRecord {
    /// When it was decided.
    pub at: Timestamp,
    /// Who: [`client_actor`] for an API client; as the history writes actors.
    pub actor: String,
    pub request_id: String,
    /// The address it came from, when known.
    pub source: Option<String>,
    pub method: String,
    /// The route's template.
    pub route: String,
    /// Ids the request was about: its path's (an id, an order number) and the ids it named or
    /// created. Text other than 1 to [`TARGET_ID_CHARS_MAX`] printable ASCII characters without
    /// spaces is left out, as are repeats and those past [`AUDIT_TARGET_IDS_MAX`].
    pub target_ids: Vec<String>,
    pub status: u16,
    pub error_code: Option<String>,
    /// The request's body as JSON (None when it had none or it was not JSON): redacted here.
    pub request: Option<Value>,
    /// The size of a body that was not JSON, kept in its place.
    pub unreadable_body_bytes: Option<usize>,
}

/// An export of a list, as the console made it: the staff member, the API list it read and with
/// which criteria, and how many rows it wrote.
#[derive(Clone, Debug)]
pub struct ExportRecord {
    pub at: Timestamp,
    /// `staff:<username>` (as the history writes actors).
    pub actor: String,
    pub request_id: String,
    pub source: Option<String>,
    /// The API list's route, e.g. `/v1/orders`.
    pub route: String,
    /// The file's format: `csv`.
    pub format: &'static str,
    /// The list's criteria, by the API's names (`kind`, `member_id`, `status`...): redacted as a
    /// request's JSON is (a certificate number searched by is not kept).
    pub criteria: serde_json::Map<String, Value>,
    /// Rows written.
    pub rows: usize,
    /// Whether the export stopped at its bound with more rows left.
    pub cut: bool,
}

/// The method an export's event records: it read a list.
pub const EXPORT_METHOD: &str = "GET";

/// The audit log. Cheap to clone; clones share the writer.
#[derive(Clone)]
pub struct AuditLog {
    store: Store,
    writer: writer::AuditWriter,
}

impl AuditLog {
    /// Starts the log's writer on the current runtime.
    pub fn start(store: Store, config: AuditConfig) -> AuditLog {
        AuditLog { writer: writer::AuditWriter::start(store.clone(), config), store }
    }

    /// Records `record` and returns once its event is committed.
    pub async fn record(&self, record: RequestRecord) -> Result<AuditEvent, AuditError> {
        self.writer.append(event_of(record), None).await
    }

    /// Records `record` and, in the same transaction, settles the idempotency key it ran under
    /// (`answer`: its response kept for replay, or the key released); returns once both are
    /// committed. On an error neither was written.
    pub async fn record_answering(
        &self,
        record: RequestRecord,
        answer: IdempotencyAnswer,
    ) -> Result<AuditEvent, AuditError> {
        self.writer.append(event_of(record), Some(answer)).await
    }

    /// Records an export of a list and returns once its event is committed.
    pub async fn record_export(&self, export: ExportRecord) -> Result<AuditEvent, AuditError> {
        self.writer.append(event_of_export(export), None).await
    }

    /// The run of `sanhu verify` recorded as `id`, or the last one (`None`), if any.
    pub async fn verification(&self, id: Option<i64>) -> anyhow::Result<Option<VerificationRecord>> {
        self.store.verification(id).await
    }

    /// Events matching `query`, oldest first.
    pub async fn events(&self, query: &AuditQuery) -> anyhow::Result<Vec<AuditEvent>> {
        self.store.audit_events(query).await
    }
}

/// The event that records `record`: secrets redacted, the reason taken from the request, the target
/// ids bounded (and a card or certificate number used as one masked).
pub fn event_of(record: RequestRecord) -> NewAuditEvent {
    let request = record.request.as_ref().map(redact::redact);
    let reason = request
        .as_ref()
        .and_then(|r| r.get("reason"))
        .and_then(Value::as_str)
        // A NUL cannot be stored in a PostgreSQL text column, and one would fail the whole batch of
        // events: the caller's reason keeps a replacement character in its place.
        .map(|reason| {
            reason.chars().take(REASON_CHARS_MAX).map(|c| if c == '\0' { '\u{FFFD}' } else { c }).collect::<String>()
        })
        .filter(|reason| !reason.trim().is_empty());
    let changes = match (request, record.unreadable_body_bytes) {
        (Some(request), _) => Some(bounded(request.to_string())),
        (None, Some(bytes)) => Some(json!({"unreadable_body_bytes": bytes}).to_string()),
        (None, None) => None,
    };
    let mut target_ids: Vec<String> = Vec::new();
    for id in record.target_ids {
        if target_ids.len() == AUDIT_TARGET_IDS_MAX {
            break;
        }
        let printable = id.bytes().all(|b| b.is_ascii_graphic());
        if (1..=TARGET_ID_CHARS_MAX).contains(&id.len()) && printable {
            let id = sanhu_core::party::mask::mask_sensitive_numbers(&id);
            if !target_ids.contains(&id) {
                target_ids.push(id);
            }
        }
    }
    NewAuditEvent {
        at: record.at,
        actor: record.actor,
        request_id: record.request_id,
        source: record.source,
        method: record.method,
        route: record.route,
        target_ids,
        status: record.status,
        error_code: record.error_code,
        reason,
        changes,
    }
}

/// The event that records an export: a GET of the list's route, the ids its criteria name as its
/// targets (so that an export of a member's orders is found by the member's id), and as its changes
/// the format, the criteria (redacted), the rows written and whether it was cut.
pub fn event_of_export(export: ExportRecord) -> NewAuditEvent {
    let target_ids = export
        .criteria
        .values()
        .filter_map(Value::as_str)
        .filter(|text| looks_like_id(text))
        .map(str::to_owned)
        .collect();
    event_of(RequestRecord {
        at: export.at,
        actor: export.actor,
        request_id: export.request_id,
        source: export.source,
        method: EXPORT_METHOD.to_owned(),
        route: export.route,
        target_ids,
        status: 200,
        error_code: None,
        request: Some(json!({
            "export": export.format,
            "criteria": export.criteria,
            "rows": export.rows,
            "cut": export.cut,
        })),
        unreadable_body_bytes: None,
    })
}

fn bounded(changes: String) -> String {
    if changes.len() <= CHANGES_BYTES_MAX {
        changes
    } else {
        json!({"omitted": format!("the request's JSON is larger than {CHANGES_BYTES_MAX} bytes"), "bytes": changes.len()})
            .to_string()
    }
}

/// The actor of a request an API client signed: `client:` and its id, as the history writes it. Any
/// client that authenticated is one, whether or not its id is shaped like the ids sanhu makes.
pub fn client_actor(client_id: &str) -> String {
    format!("client:{client_id}")
}

/// A prefixed id as sanhu writes them: a lower-case kind of 1 to 8 letters, `_`, 26 characters of
/// Crockford base32 (either case). What the HTTP layer looks for in bodies and answers.
pub fn looks_like_id(text: &str) -> bool {
    let Some((kind, rest)) = text.split_once('_') else { return false };
    (1..=8).contains(&kind.len())
        && kind.bytes().all(|b| b.is_ascii_lowercase())
        && rest.len() == 26
        && rest.bytes().all(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MEMBER: &str = "mem_01JD0000000000000000000000";

    fn record(request: Option<Value>) -> RequestRecord {
        RequestRecord {
            at: Timestamp::from_nanos(1),
            actor: client_actor("cli_01JD0000000000000000000000"),
            request_id: "req_01JD0000000000000000000000".to_owned(),
            source: Some("192.0.2.7".to_owned()),
            method: "POST".to_owned(),
            route: "/v1/members/{id}/pay-password".to_owned(),
            target_ids: vec![MEMBER.to_owned()],
            status: 204,
            error_code: None,
            request,
            unreadable_body_bytes: None,
        }
    }

    #[test]
    fn the_event_keeps_the_request_without_its_secrets() {
        let event = event_of(record(Some(json!({"pay_password": "135790", "reason": "set at sign-up"}))));
        assert_eq!(event.actor, "client:cli_01JD0000000000000000000000");
        assert_eq!(event.changes.as_deref(), Some(r#"{"pay_password":"[redacted]","reason":"set at sign-up"}"#));
        assert_eq!(event.reason.as_deref(), Some("set at sign-up"));
        assert_eq!(event.target_ids, [MEMBER]);
    }

    #[test]
    fn a_body_that_is_not_json_is_kept_as_its_size_only() {
        let event = event_of(RequestRecord { unreadable_body_bytes: Some(17), ..record(None) });
        assert_eq!(event.changes.as_deref(), Some(r#"{"unreadable_body_bytes":17}"#));
        assert_eq!(event_of(record(None)).changes, None);
        // A NUL in the reason is replaced, since PostgreSQL cannot store it in text; the changes keep
        // it escaped as JSON does.
        let event = event_of(record(Some(json!({"reason": "court\u{0}order"}))));
        assert_eq!(event.reason.as_deref(), Some("court\u{FFFD}order"));
        assert!(!event.changes.as_deref().unwrap().contains('\0'));
    }

    #[test]
    fn a_large_request_is_kept_as_its_size_only() {
        let items: Vec<Value> = (0..10_000).map(|n| json!({"amount": n, "reference": "order"})).collect();
        let event = event_of(record(Some(json!({"transfers": items}))));
        let changes: Value = serde_json::from_str(event.changes.as_deref().unwrap()).unwrap();
        assert!(changes["bytes"].as_u64().unwrap() > CHANGES_BYTES_MAX as u64, "{changes}");
    }

    #[test]
    fn targets_are_kept_once_each_within_their_bounds() {
        let mut ids = vec![MEMBER.to_owned(), MEMBER.to_owned(), "has a space".to_owned(), String::new()];
        ids.push("x".repeat(TARGET_ID_CHARS_MAX + 1));
        ids.push("R2026-0131/7".to_owned());
        ids.push("4111111111111111".to_owned());
        ids.extend((0..40).map(|n| format!("acc_01JD{n:022}")));
        let event = event_of(RequestRecord { target_ids: ids, ..record(None) });
        assert_eq!(event.target_ids.len(), AUDIT_TARGET_IDS_MAX);
        assert_eq!(event.target_ids[..3], [MEMBER, "R2026-0131/7", "411111******1111"]);
        assert!(event.target_ids[3..].iter().all(|id| id.starts_with("acc_")));
    }

    #[test]
    fn an_export_is_a_get_of_its_list_with_its_criteria_and_rows() {
        let mut criteria = serde_json::Map::new();
        criteria.insert("kind".into(), json!("payment"));
        criteria.insert("member_id".into(), json!(MEMBER));
        criteria.insert("certificate_number".into(), json!("110101199003071233"));
        let event = event_of_export(ExportRecord {
            at: Timestamp::from_nanos(1),
            actor: "staff:li.wei".to_owned(),
            request_id: "req_01JD0000000000000000000000".to_owned(),
            source: None,
            route: "/v1/orders".to_owned(),
            format: "csv",
            criteria,
            rows: 12,
            cut: false,
        });
        assert_eq!((event.method.as_str(), event.route.as_str(), event.status), ("GET", "/v1/orders", 200));
        assert_eq!(event.actor, "staff:li.wei");
        assert_eq!(event.target_ids, [MEMBER]);
        let changes: Value = serde_json::from_str(event.changes.as_deref().unwrap()).unwrap();
        assert_eq!(changes["export"], "csv");
        assert_eq!(changes["rows"], 12);
        assert_eq!(changes["cut"], false);
        assert_eq!(changes["criteria"]["kind"], "payment");
        assert_eq!(changes["criteria"]["certificate_number"], redact::REDACTED);
    }

    #[test]
    fn ids_are_told_from_other_text() {
        assert!(looks_like_id(MEMBER));
        assert!(looks_like_id("tr_01jd0000000000000000000000"));
        for text in ["mem_01JD", "MEM_01JD0000000000000000000000", "_01JD0000000000000000000000", "order-42"] {
            assert!(!looks_like_id(text), "{text}");
        }
        assert!(!looks_like_id("mem_01JD000000000000000000000!"));
    }

    #[test]
    fn a_long_or_blank_reason_is_bounded_or_left_out() {
        let long = "x".repeat(REASON_CHARS_MAX + 50);
        let event = event_of(record(Some(json!({"reason": long}))));
        assert_eq!(event.reason.unwrap().chars().count(), REASON_CHARS_MAX);
        assert_eq!(event_of(record(Some(json!({"reason": "  "})))).reason, None);
        assert_eq!(event_of(record(Some(json!({"reason": 5})))).reason, None);
    }
}
