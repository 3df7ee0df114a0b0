//! The ledger's endpoints: accounts, transfers and holds, entries and balances. Each file holds its
//! handlers with their request and response types; those types are the API's own, so the core's
//! domain types never take a shape from serde.

pub mod accounts;
pub mod balances;
pub mod entries;
pub mod fields;
pub mod transfers;

use sanhu_core::ledger::Counters;
use sanhu_core::Timestamp;
use serde::Serialize;

/// An account's four counters, in minor units.
#[derive(Serialize, Clone, Copy, Debug)]
pub struct CountersView {
    pub debits_pending: i64,
    pub debits_posted: i64,
    pub credits_pending: i64,
    pub credits_posted: i64,
}

impl From<Counters> for CountersView {
    fn from(c: Counters) -> CountersView {
        CountersView {
            debits_pending: c.debits_pending,
            debits_posted: c.debits_posted,
            credits_pending: c.credits_pending,
            credits_posted: c.credits_posted,
        }
    }
}

/// Metadata is stored as the compact text of a JSON object and shown as the object.
fn metadata_object(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|error| {
        // Only text this crate validated is ever stored; anything else is shown as empty rather than
        // failing the read of money.
        tracing::warn!(error = %error, "stored metadata is not JSON");
        serde_json::Value::Object(serde_json::Map::new())
    })
}

/// The core keeps "" for an unset business code; the API shows null, as for an unset reference.
fn optional_code(code: &str) -> Option<String> {
    (!code.is_empty()).then(|| code.to_owned())
}

/// RFC 3339 in UTC with all nine digits of the nanoseconds the ledger records. The core's `Display`
/// stops at microseconds; a timestamp shown that way would sort before the transfer it belongs to,
/// so a balance asked for "at" a transfer's own timestamp would leave the transfer out.
pub(crate) fn rfc3339(t: Timestamp) -> String {
    let micros = t.to_string();
    let without_zone = micros.strip_suffix('Z').unwrap_or(&micros);
    format!("{without_zone}{:03}Z", t.nanos().rem_euclid(1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_shown_to_the_nanosecond_and_read_back_exactly() {
        for nanos in [0, 1, 999, 1_763_784_000_123_456_789, -1] {
            let text = rfc3339(Timestamp::from_nanos(nanos));
            assert_eq!(Timestamp::parse_rfc3339(&text), Some(Timestamp::from_nanos(nanos)), "{text}");
        }
        assert_eq!(rfc3339(Timestamp::from_nanos(1_500)), "1970-01-01T00:00:00.000001500Z");
    }
}
