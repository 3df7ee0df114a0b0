//! The events: which journal rows become which event type, and each event's body.
//!
//! An event's id is derived from its journal row (`evt_` and the row's seq), so the same change
//! always gives the same id: a receiver de-duplicates by it, and a deriver that runs again after a
//! crash makes the same events, which the store keeps once.

use sanhu_core::Timestamp;
use sanhu_store::party::PartyRecord;
use sanhu_store::webhook::{JournalRow, StoredEvent};
use serde_json::{json, Map, Value};

use super::{WebhookFailure, EVENTS_PER_SUBSCRIPTION_MAX, WEBHOOK_EVENTS_INVALID};

/// The test event, sent to one subscription on request.
pub const TEST_EVENT: &str = "webhook.test";

/// Every event type a subscription may name (`*` names all of them).
pub const EVENT_TYPES: &[&str] = &[
    "recharge.credited",
    "recharge.failed",
    "payment.paid",
    "payment.failed",
    "payment.released",
    "payment.refunded",
    "payment.refund_failed",
    "withdrawal.approved",
    "withdrawal.rejected",
    "withdrawal.paid_out",
    "withdrawal.failed",
    "member.status_changed",
    "account.status_changed",
    "customer.status_changed",
    "merchant.reviewed",
    "balance_monitor.triggered",
    TEST_EVENT,
];

/// Checks a subscription's event types: known, each once, 1 to the most; `*` alone means all.
pub(super) fn check_events(events: &[String]) -> Result<Vec<String>, WebhookFailure> {
    let invalid = WebhookFailure::Rejected(WEBHOOK_EVENTS_INVALID);
    if events.is_empty() || events.len() > EVENTS_PER_SUBSCRIPTION_MAX {
        return Err(invalid);
    }
    if events.len() == 1 && events[0] == "*" {
        return Ok(events.to_vec());
    }
    for (i, event) in events.iter().enumerate() {
        if !EVENT_TYPES.contains(&event.as_str()) || events[..i].contains(event) {
            return Err(invalid);
        }
    }
    Ok(events.to_vec())
}

/// The event type a journal row reports, if any.
pub(super) fn event_type(row: &JournalRow) -> Option<&'static str> {
    let detail: Value = serde_json::from_str(&row.detail).unwrap_or(Value::Null);
    let to = detail.get("to").and_then(Value::as_str).unwrap_or("");
    Some(match (row.action.as_str(), to) {
        ("recharge.credited", _) => "recharge.credited",
        ("recharge.ended", "failed" | "closed") | ("recharge.expired", _) => "recharge.failed",
        ("payment.status_changed", "paid" | "captured" | "escrowed") => "payment.paid",
        ("payment.status_changed", "failed") => "payment.failed",
        ("payment.status_changed", "released" | "escrow_returned") => "payment.released",
        ("payment.refunded", _) => "payment.refunded",
        ("payment.refund_failed", _) => "payment.refund_failed",
        ("withdrawal.approved", _) => "withdrawal.approved",
        ("withdrawal.rejected", _) => "withdrawal.rejected",
        ("withdrawal.status_changed", "paid") => "withdrawal.paid_out",
        ("withdrawal.status_changed", "payout_failed") => "withdrawal.failed",
        (
            "member.activated" | "member.dormant" | "member.woke" | "member.cancelled" | "member.locked"
            | "member.unlocked",
            _,
        ) => "member.status_changed",
        ("account.status_changed" | "account.closed", _) => "account.status_changed",
        ("customer.status_changed", _) => "customer.status_changed",
        ("merchant.reviewed", _) => "merchant.reviewed",
        _ => return None,
    })
}

/// The fields of a record an event shows, when the record has them.
const OBJECT_FIELDS: &[&str] = &[
    "order_number",
    "client",
    "member_id",
    "customer_id",
    "account_type",
    "amount",
    "paid",
    "currency",
    "status",
    "reason",
    "lock_status",
];

/// Who an event is about, for the reach rule: the members owning its object (the payer, the
/// member of the receiving account, the member itself) and the client whose order it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Concerned {
    pub members: Vec<String>,
    pub client: Option<String>,
}

/// The object's kind, from its record's id (`payment:cli_…:N`, `mem_…`, `acc_…`, `cus_…`).
fn object_kind(record_id: &str) -> &str {
    if let Some((kind, _)) = record_id.split_once(':') {
        return kind.strip_suffix("_order").unwrap_or(kind);
    }
    match record_id.split_once('_').map(|(prefix, _)| prefix) {
        Some("mem") => "member",
        Some("acc") => "account",
        Some("cus") => "customer",
        Some("mch") => "merchant",
        _ => "record",
    }
}

/// The event of `row`, typed `event_type`, with the record as it stands now (if it exists).
pub(super) fn event_of(row: &JournalRow, event_type: &str, record: Option<&PartyRecord>) -> (StoredEvent, Concerned) {
    let data: Value = record.and_then(|r| serde_json::from_str(&r.data).ok()).unwrap_or(Value::Null);
    let mut object = Map::new();
    object.insert("kind".into(), json!(object_kind(&row.record_id)));
    object.insert("id".into(), json!(row.record_id));
    for field in OBJECT_FIELDS {
        if let Some(value) = data.get(*field) {
            let name = if *field == "client" { "client_id" } else { field };
            object.insert(name.to_owned(), value.clone());
        }
    }
    object.entry("customer_id").or_insert_with(|| json!(row.customer_id));
    let detail: Value = serde_json::from_str(&row.detail).unwrap_or(json!({}));
    // The status the change led to, not the one the record has reached since.
    if let Some(to) = detail.get("to") {
        object.insert("status".into(), to.clone());
    }
    let id = format!("evt_{:016}", row.cursor.seq);
    let body = json!({
        "id": id,
        "type": event_type,
        "created_at": row.at.to_string(),
        "object": object,
        "change": { "action": row.action, "detail": detail },
    });
    let mut members = Vec::new();
    if row.record_id.starts_with("mem_") {
        members.push(row.record_id.clone());
    }
    if let Some(member) = data.get("member_id").and_then(Value::as_str) {
        members.push(member.to_owned());
    }
    let client = data.get("client").and_then(Value::as_str).map(str::to_owned);
    let event = StoredEvent {
        id,
        event_type: event_type.to_owned(),
        object_id: row.record_id.clone(),
        payload: body.to_string(),
        created_at: row.at,
    };
    (event, Concerned { members, client })
}

/// The account a payment was made to, whose member the event concerns too.
pub(super) fn receiving_account(record: Option<&PartyRecord>) -> Option<String> {
    let data: Value = serde_json::from_str(&record?.data).ok()?;
    data.get("receiver").and_then(Value::as_str).filter(|a| a.starts_with("acc_")).map(str::to_owned)
}

/// A test event for one subscription.
pub(super) fn test_event(subscription_id: &str, now: Timestamp) -> StoredEvent {
    let id = format!("evt_test_{}", hex::encode(crate::clock::random_bytes::<12>()));
    let body = json!({
        "id": id,
        "type": TEST_EVENT,
        "created_at": now.to_string(),
        "object": { "kind": "webhook", "id": subscription_id },
        "change": { "action": TEST_EVENT, "detail": {} },
    });
    StoredEvent {
        id,
        event_type: TEST_EVENT.to_owned(),
        object_id: subscription_id.to_owned(),
        payload: body.to_string(),
        created_at: now,
    }
}
