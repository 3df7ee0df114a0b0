//! Order numbers and how the wallet's records are kept in the party store.
//!
//! A wallet record's id is derived from what makes it unique: the API client and the caller's order
//! number (`payment:cli_…:ORDER-42`), the platform account's name (`platform_account:fee_income`).
//! Creating a record whose id exists fails the party write (it expects version 0), so the record id is
//! the uniqueness key: two requests with one order number create one record, the second deciding again
//! on what the first wrote. Looking an order up by its number is a read by id.

use sanhu_core::id::ClientId;

use super::error::ORDER_NUMBER_INVALID;
use crate::wallet::WalletFailure;

/// The longest order number, in characters (within the ledger's 128-character reference).
pub const ORDER_NUMBER_CHARS_MAX: usize = 64;

/// The caller's number for an order (商户订单号): 1 to 64 printable ASCII characters, unique per API
/// client and kind of order.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OrderNumber(String);

impl OrderNumber {
    pub fn parse(text: &str) -> Result<OrderNumber, WalletFailure> {
        let ok = (1..=ORDER_NUMBER_CHARS_MAX).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_graphic());
        ok.then(|| OrderNumber(text.to_owned())).ok_or(WalletFailure::Rejected(ORDER_NUMBER_INVALID))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The record id of `kind`'s order `number` of `client`.
pub(crate) fn order_record_id(kind: &str, client: ClientId, number: &OrderNumber) -> String {
    format!("{kind}:{client}:{}", number.as_str())
}

/// Implements `Document` for a serde record with `id` and `customer_id` fields.
macro_rules! json_document {
    ($ty:ty, $kind:literal) => {
        impl $crate::party::documents::Document for $ty {
            const KIND: &'static str = $kind;
            fn record_id(&self) -> String {
                self.id.clone()
            }
            fn customer_id(&self) -> String {
                self.customer_id.clone()
            }
            fn encode(&self) -> String {
                serde_json::to_string(self).expect("a wallet record encodes")
            }
            fn decode(data: &str) -> anyhow::Result<Self> {
                serde_json::from_str(data).map_err(|e| anyhow::anyhow!("stored {}: {e}", $kind))
            }
        }
    };
}
pub(crate) use json_document;

/// Timestamps in records as nanoseconds since 1970.
pub(crate) mod time_ns {
    use sanhu_core::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(t.nanos())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        Ok(Timestamp::from_nanos(i64::deserialize(d)?))
    }
}
