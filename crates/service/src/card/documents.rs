//! The JSON documents the card store keeps beside its columns (`data`), and their conversions. A
//! stored document that no rule could have produced (an unknown kind, invalid terms) is an error when
//! read, not a value.

use anyhow::anyhow;
use sanhu_core::card::{ApproverRole, BatchApproval, CardKind, CardTerms, ExpiryPolicy, LineRate, Validity};
use sanhu_core::Timestamp;
use serde::{Deserialize, Serialize};

/// A card's terms as kept: in a type, a batch and every card.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TermsDoc {
    kind: String,
    face_value: i64,
    sale_price: i64,
    validity: ValidityDoc,
    rechargeable: bool,
    default_rate_bp: u32,
    line_rates: Vec<LineRateDoc>,
    uses: u32,
    #[serde(default, skip_serializing_if = "is_false")]
    transferable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    on_expiry: Option<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum ValidityDoc {
    Fixed { from: i64, until: i64 },
    DaysFromActivation { days: u32 },
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LineRateDoc {
    line: String,
    rate_bp: u32,
}

impl From<&CardTerms> for TermsDoc {
    fn from(t: &CardTerms) -> TermsDoc {
        TermsDoc {
            kind: t.kind.as_str().to_owned(),
            face_value: t.face_value,
            sale_price: t.sale_price,
            validity: match t.validity {
                Validity::Fixed { from, until } => ValidityDoc::Fixed { from: from.nanos(), until: until.nanos() },
                Validity::DaysFromActivation(days) => ValidityDoc::DaysFromActivation { days },
            },
            rechargeable: t.rechargeable,
            default_rate_bp: t.default_rate_bp,
            line_rates: t.line_rates.iter().map(|r| LineRateDoc { line: r.line.clone(), rate_bp: r.rate_bp }).collect(),
            uses: t.uses,
            transferable: t.transferable,
            on_expiry: (t.on_expiry != ExpiryPolicy::Keep).then(|| t.on_expiry.as_str().to_owned()),
        }
    }
}

impl TermsDoc {
    pub(crate) fn terms(&self) -> anyhow::Result<CardTerms> {
        let kind = CardKind::parse(&self.kind).ok_or_else(|| anyhow!("stored card kind {:?}", self.kind))?;
        let validity = match self.validity {
            ValidityDoc::Fixed { from, until } => {
                Validity::Fixed { from: Timestamp::from_nanos(from), until: Timestamp::from_nanos(until) }
            }
            ValidityDoc::DaysFromActivation { days } => Validity::DaysFromActivation(days),
        };
        CardTerms {
            kind,
            face_value: self.face_value,
            sale_price: self.sale_price,
            validity,
            rechargeable: self.rechargeable,
            default_rate_bp: self.default_rate_bp,
            line_rates: self.line_rates.iter().map(|r| LineRate { line: r.line.clone(), rate_bp: r.rate_bp }).collect(),
            uses: self.uses,
            transferable: self.transferable,
            on_expiry: match self.on_expiry.as_deref() {
                None => ExpiryPolicy::Keep,
                Some(text) => ExpiryPolicy::parse(text).map_err(|_| anyhow!("stored expiry policy {text:?}"))?,
            },
        }
        .check()
        .map_err(|e| anyhow!("stored card terms break a rule: {e}"))
    }
}

/// One role's approval of a batch, as kept.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApprovalDoc {
    role: String,
    by: String,
    at: i64,
}

impl From<&BatchApproval> for ApprovalDoc {
    fn from(a: &BatchApproval) -> ApprovalDoc {
        ApprovalDoc { role: a.role.as_str().to_owned(), by: a.by.clone(), at: a.at.nanos() }
    }
}

impl ApprovalDoc {
    pub(crate) fn approval(&self) -> anyhow::Result<BatchApproval> {
        let role = ApproverRole::parse(&self.role).ok_or_else(|| anyhow!("stored approver role {:?}", self.role))?;
        Ok(BatchApproval { role, by: self.by.clone(), at: Timestamp::from_nanos(self.at) })
    }
}

/// Encodes a document.
pub(crate) fn encode<T: Serialize>(doc: &T) -> String {
    serde_json::to_string(doc).expect("a card document encodes")
}

/// Decodes a document of `what`.
pub(crate) fn decode<T: for<'de> Deserialize<'de>>(data: &str, what: &str) -> anyhow::Result<T> {
    serde_json::from_str(data).map_err(|e| anyhow!("stored {what}: {e}"))
}
