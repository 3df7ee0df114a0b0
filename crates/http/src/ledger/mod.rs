//! The ledger's endpoints: accounts, transfers and holds, entries and balances. Each file holds its
//! handlers with their request and response types; those types are the API's own, so the core's
//! domain types never take a shape from serde.

pub mod accounts;
pub mod balances;
pub mod choices;
pub mod entries;
pub mod fields;
pub mod transfers;

use sanhu_core::ledger::Counters;
use serde::Serialize;

/// An account's four counters, in minor units.
#[derive(Serialize, Clone, Copy, Debug, utoipa::ToSchema)]
#[schema(as = Counters)]
pub struct CountersView {
    #[schema(minimum = 0)]
    pub debits_pending: i64,
    #[schema(minimum = 0)]
    pub debits_posted: i64,
    #[schema(minimum = 0)]
    pub credits_pending: i64,
    #[schema(minimum = 0)]
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
