//! An account's entries (流水): every transfer that touched it, with the direction, the
//! counterparty and the balances after it, oldest first.

use axum::extract::State;
use axum::Json;
use sanhu_core::ledger::{Account, Transfer};
use sanhu_core::Timestamp;
use sanhu_store::EntryQuery;
use serde::Serialize;

use super::accounts::account_not_found;
use super::optional_code;
use crate::error::{code, ApiError};
use crate::ids::AccountIdPath;
use crate::query::QueryParams;
use crate::state::AppState;

#[derive(Serialize, Debug, utoipa::ToSchema)]
#[schema(as = Entry)]
pub struct EntryView {
    #[schema(value_type = sanhu_core::TransferId, inline)]
    transfer_id: String,
    #[schema(value_type = super::choices::TransferKind, inline)]
    kind: &'static str,
    /// "debit" or "credit": the side of this account the transfer touched.
    #[schema(value_type = super::choices::Side, inline)]
    direction: &'static str,
    #[schema(value_type = sanhu_core::Amount, inline)]
    amount: i64,
    #[schema(value_type = sanhu_core::AccountId, inline)]
    counterparty_account_id: String,
    #[schema(pattern = "^[a-z0-9_.]{1,32}$")]
    code: Option<String>,
    #[schema(min_length = 1, max_length = 128)]
    reference: Option<String>,
    #[schema(value_type = sanhu_core::Timestamp, inline)]
    timestamp: String,
    /// Posted balance on the account's normal side after the transfer.
    balance_after: i64,
    available_after: i64,
    /// Held against the normal side after the transfer (balance less available).
    #[schema(minimum = 0)]
    pending_after: i64,
}

impl EntryView {
    fn of(account: &Account, t: &Transfer) -> EntryView {
        let (direction, counterparty, after) = if t.debit_account_id == account.id {
            ("debit", t.credit_account_id, t.debit_account_after)
        } else {
            ("credit", t.debit_account_id, t.credit_account_after)
        };
        let balance_after = after.balance(account.normal_side);
        let available_after = after.available(account.normal_side);
        EntryView {
            transfer_id: t.id.to_string(),
            kind: t.kind.as_str(),
            direction,
            amount: t.amount,
            counterparty_account_id: counterparty.to_string(),
            code: optional_code(&t.code),
            reference: t.reference.clone(),
            timestamp: t.timestamp.to_string(),
            balance_after,
            available_after,
            pending_after: balance_after - available_after,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct EntryPage {
    data: Vec<EntryView>,
    /// Pass as `after` for the next page; null when this page is the last.
    #[schema(value_type = Option<crate::query::NanosecondsCursor>, inline)]
    next_cursor: Option<String>,
}

/// GET /v1/ledger/accounts/{id}/entries?from=&to=&after=&limit=: entries with timestamps in
/// [from, to). The cursor is the last entry's timestamp in nanoseconds: an account's entries have
/// distinct timestamps, so it is exact, but clients should treat it as opaque.
#[utoipa::path(
    get,
    path = "/v1/ledger/accounts/{id}/entries",
    tag = "accounts",
    operation_id = "listAccountEntries",
    summary = "List an account's entries",
    description = "Every transfer that touched the account (流水), oldest first, with the balances after it on the account's normal side.",
    params(
        ("id" = String, Path, description = "The account's id.", pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
        ("from" = Option<String>, Query, format = DateTime, description = "RFC 3339; entries at or after it (`invalid_time` otherwise)."),
        ("to" = Option<String>, Query, format = DateTime, description = "RFC 3339; entries before it. Must be after `from`."),
        crate::query::Paging<crate::query::NanosecondsCursor>,
        ("Sanhu-Consistency" = Option<String>, Header, description = "`strong`: read the primary, never a read replica; `eventual` (the default): a read replica within the configured staleness may answer (its answer's `Sanhu-Read-From` says `replica`)."),
    ),
    responses(
        (status = 200, description = "A page of entries.", body = EntryPage)
    )
)]
pub async fn account_entries(
    State(state): State<AppState>,
    crate::reads::ReadsFrom(reads): crate::reads::ReadsFrom,
    AccountIdPath(id): AccountIdPath,
    query: QueryParams,
) -> Result<(crate::reads::ReadFromHeader, Json<EntryPage>), ApiError> {
    let query = query.only(&["from", "to", "after", "limit"])?;
    let limit = query.limit(state.config.page_size_max)?;
    let from = query.time("from")?;
    let to = query.time("to")?;
    if let (Some(from), Some(to)) = (from, to) {
        if from >= to {
            return Err(ApiError::new(code::INVALID_TIME, "from must be before to"));
        }
    }
    let after = query
        .get("after")
        .map(|text| {
            text.parse::<i64>()
                .map(Timestamp::from_nanos)
                .map_err(|_| ApiError::new(code::INVALID_CURSOR, "after must be a next_cursor this endpoint returned"))
        })
        .transpose()?;

    let account = reads.account(id).await?.ok_or_else(|| account_not_found(&id.to_string()))?;
    let entries = reads.account_entries(&EntryQuery { account_id: id, from, to, after, limit }).await?;
    let next_cursor =
        (entries.len() == limit as usize).then(|| entries.last().map(|t| t.timestamp.nanos().to_string())).flatten();
    Ok((
        crate::reads::ReadFromHeader::of(&reads),
        Json(EntryPage { data: entries.iter().map(|t| EntryView::of(&account, t)).collect(), next_cursor }),
    ))
}
