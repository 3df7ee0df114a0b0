//! Transfers: post, hold, post or void a hold, batches with linked chains, and reads.

use std::collections::HashSet;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use sanhu_core::ledger::{Transfer, TransferAction, TransferError, TransferKind, TransferRequest, BATCH_TRANSFERS_MAX};
use sanhu_core::TransferId;
use sanhu_service::clock;
use sanhu_store::LedgerStore;
use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};

use super::{fields, metadata_object, optional_code, CountersView};
use crate::error::{code, ApiError};
use crate::idempotency::IdempotencyScope;
use crate::ids::{self, TransferIdPath};
use crate::json::{parse_body, parse_body_or_empty};
use crate::query::QueryParams;
use crate::state::AppState;

/// A transfer as the API shows it. The counters after it are each account's own, so that a client
/// that knows an account's normal side can read its balance after this transfer.
#[derive(Serialize, Debug, utoipa::ToSchema)]
#[schema(as = Transfer)]
pub struct TransferView {
    #[schema(value_type = sanhu_core::TransferId, inline)]
    pub id: String,
    #[schema(value_type = super::choices::TransferKind, inline)]
    pub kind: &'static str,
    #[schema(value_type = sanhu_core::AccountId, inline)]
    pub debit_account_id: String,
    #[schema(value_type = sanhu_core::AccountId, inline)]
    pub credit_account_id: String,
    /// In minor units; a void's or an expiry's is the hold's.
    #[schema(value_type = sanhu_core::Amount, inline)]
    pub amount: i64,
    /// The hold a post or a void settles; null for the others.
    #[schema(value_type = Option<sanhu_core::TransferId>, inline)]
    pub pending_id: Option<String>,
    #[schema(maximum = 2592000)]
    pub timeout_s: u32,
    pub linked: bool,
    pub balancing: bool,
    #[schema(pattern = "^[a-z0-9_.]{1,32}$")]
    pub code: Option<String>,
    #[schema(min_length = 1, max_length = 128)]
    pub reference: Option<String>,
    #[schema(value_type = std::collections::HashMap<String, Value>, additional_properties = true)]
    pub metadata: Value,
    #[schema(value_type = sanhu_core::Timestamp, inline)]
    pub timestamp: String,
    pub debit_account_after: CountersView,
    pub credit_account_after: CountersView,
    /// For a hold read by id: pending, posted, voided or expired.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<super::choices::PendingStatus>, inline)]
    pub pending_status: Option<&'static str>,
    /// For a hold read by id: when it expires, null if never.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<sanhu_core::Timestamp>, inline)]
    pub expires_at: Option<Option<String>>,
}

impl From<&Transfer> for TransferView {
    fn from(t: &Transfer) -> TransferView {
        TransferView {
            id: t.id.to_string(),
            kind: t.kind.as_str(),
            debit_account_id: t.debit_account_id.to_string(),
            credit_account_id: t.credit_account_id.to_string(),
            amount: t.amount,
            pending_id: t.pending_id.map(|id| id.to_string()),
            timeout_s: t.timeout_s,
            linked: t.linked,
            balancing: t.balancing,
            code: optional_code(&t.code),
            reference: t.reference.clone(),
            metadata: metadata_object(&t.metadata),
            timestamp: t.timestamp.to_string(),
            debit_account_after: t.debit_account_after.into(),
            credit_account_after: t.credit_account_after.into(),
            pending_status: None,
            expires_at: None,
        }
    }
}

/// The business fields every kind of transfer request carries.
struct Business {
    code: String,
    reference: Option<String>,
    metadata: String,
}

impl Business {
    fn parse(code: Option<&str>, reference: Option<&str>, metadata: Option<&Value>) -> Result<Business, ApiError> {
        Ok(Business {
            code: fields::business_code(code)?,
            reference: fields::reference(reference)?,
            metadata: fields::metadata(metadata)?,
        })
    }

    fn into_request(self, id: TransferId, action: TransferAction, linked: bool) -> TransferRequest {
        TransferRequest { id, action, linked, code: self.code, reference: self.reference, metadata: self.metadata }
    }
}

/// The caller's id; without one, under an Idempotency-Key, the id the key derives for the request's
/// `index`th transfer, so that the request run again after a crash does not apply it twice; else a
/// new one. A caller that retries without an Idempotency-Key should send an id: a resubmitted id
/// returns the transfer it names instead of moving the money again.
fn given_or_new_id(id: Option<&str>, scope: Option<&IdempotencyScope>, index: usize) -> Result<TransferId, ApiError> {
    match (id, scope) {
        (Some(text), _) => ids::transfer_id("id", text),
        (None, Some(scope)) => Ok(scope.transfer_id(index)),
        (None, None) => Ok(clock::new_id()),
    }
}

/// The request's idempotency scope, when it came with an Idempotency-Key.
type Scope = Option<Extension<IdempotencyScope>>;

fn scope_of(scope: &Scope) -> Option<&IdempotencyScope> {
    scope.as_ref().map(|Extension(scope)| scope)
}

/// A posted transfer or, with `pending`, a hold.
fn movement(
    debit_account_id: &str,
    credit_account_id: &str,
    amount: &Number,
    pending: bool,
    timeout_s: Option<&Number>,
    balancing: bool,
) -> Result<TransferAction, ApiError> {
    let debit_account_id = ids::account_id("debit_account_id", debit_account_id)?;
    let credit_account_id = ids::account_id("credit_account_id", credit_account_id)?;
    let amount = fields::amount("amount", amount)?;
    let timeout_s = fields::timeout_s(timeout_s, pending)?;
    Ok(if pending {
        TransferAction::Hold { debit_account_id, credit_account_id, amount, balancing, timeout_s }
    } else {
        TransferAction::Post { debit_account_id, credit_account_id, amount, balancing }
    })
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CreateTransferRequest)]
struct CreateTransferBody {
    #[schema(value_type = Option<sanhu_core::TransferId>, inline)]
    id: Option<String>,
    #[schema(value_type = sanhu_core::AccountId, inline)]
    debit_account_id: String,
    #[schema(value_type = sanhu_core::AccountId, inline)]
    credit_account_id: String,
    #[schema(value_type = sanhu_core::Amount, inline)]
    amount: Number,
    pending: Option<bool>,
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 2592000)]
    timeout_s: Option<Number>,
    balancing: Option<bool>,
    #[schema(pattern = "^[a-z0-9_.]{1,32}$")]
    code: Option<String>,
    #[schema(min_length = 1, max_length = 128)]
    reference: Option<String>,
    metadata: Option<Value>,
}

/// POST /v1/ledger/transfers
#[utoipa::path(
    post,
    path = "/v1/ledger/transfers",
    tag = "transfers",
    operation_id = "createTransfer",
    summary = "Create a transfer",
    description = "Posts `amount` from the debit account to the credit account, or holds it with `pending`. A ledger rejection is answered with its code: 404 `account_not_found`, 409 `exists_with_different_fields` or `account_closed`, 422 for the rest (`insufficient_funds`, `currency_mismatch`...).",
    request_body = CreateTransferBody,
    responses(
        (status = 201, description = "The transfer as recorded (also when an id is resubmitted with the same fields).", body = TransferView)
    )
)]
pub async fn create_transfer(
    State(state): State<AppState>,
    scope: Scope,
    body: Bytes,
) -> Result<(StatusCode, Json<TransferView>), ApiError> {
    let body: CreateTransferBody = parse_body(&body)?;
    let id = given_or_new_id(body.id.as_deref(), scope_of(&scope), 0)?;
    let action = movement(
        &body.debit_account_id,
        &body.credit_account_id,
        &body.amount,
        body.pending.unwrap_or(false),
        body.timeout_s.as_ref(),
        body.balancing.unwrap_or(false),
    )?;
    let business = Business::parse(body.code.as_deref(), body.reference.as_deref(), body.metadata.as_ref())?;
    submit_one(&state, business.into_request(id, action, false)).await
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PostPendingRequest)]
struct PostPendingBody {
    #[schema(value_type = Option<sanhu_core::TransferId>, inline)]
    id: Option<String>,
    #[schema(value_type = Option<sanhu_core::Amount>, inline)]
    amount: Option<Number>,
    #[schema(pattern = "^[a-z0-9_.]{1,32}$")]
    code: Option<String>,
    #[schema(min_length = 1, max_length = 128)]
    reference: Option<String>,
    metadata: Option<Value>,
}

/// POST /v1/ledger/transfers/{pending_id}/post: all of the hold, or `amount` of it.
#[utoipa::path(
    post,
    path = "/v1/ledger/transfers/{pending_id}/post",
    tag = "transfers",
    operation_id = "postPending",
    summary = "Post a hold",
    description = "Posts all of the hold, or `amount` of it (the rest is released).",
    params(
        ("pending_id" = String, Path, description = "The hold's (pending transfer's) id.", pattern = "^tr_[0-7][0-9A-HJKMNP-TV-Z]{25}$")
    ),
    request_body(content = Option<PostPendingBody>, description = "May be empty."),
    responses(
        (status = 201, description = "The transfer as recorded (also when an id is resubmitted with the same fields).", body = TransferView)
    )
)]
pub async fn post_pending(
    State(state): State<AppState>,
    TransferIdPath(pending_id): TransferIdPath,
    scope: Scope,
    body: Bytes,
) -> Result<(StatusCode, Json<TransferView>), ApiError> {
    let body: PostPendingBody = parse_body_or_empty(&body)?;
    let id = given_or_new_id(body.id.as_deref(), scope_of(&scope), 0)?;
    let amount = body.amount.as_ref().map(|a| fields::amount("amount", a)).transpose()?;
    let business = Business::parse(body.code.as_deref(), body.reference.as_deref(), body.metadata.as_ref())?;
    submit_one(&state, business.into_request(id, TransferAction::PostPending { pending_id, amount }, false)).await
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = VoidPendingRequest)]
struct VoidPendingBody {
    #[schema(value_type = Option<sanhu_core::TransferId>, inline)]
    id: Option<String>,
    #[schema(pattern = "^[a-z0-9_.]{1,32}$")]
    code: Option<String>,
    #[schema(min_length = 1, max_length = 128)]
    reference: Option<String>,
    metadata: Option<Value>,
}

/// POST /v1/ledger/transfers/{pending_id}/void
#[utoipa::path(
    post,
    path = "/v1/ledger/transfers/{pending_id}/void",
    tag = "transfers",
    operation_id = "voidPending",
    summary = "Void a hold",
    description = "Releases the hold.",
    params(
        ("pending_id" = String, Path, description = "The hold's (pending transfer's) id.", pattern = "^tr_[0-7][0-9A-HJKMNP-TV-Z]{25}$")
    ),
    request_body(content = Option<VoidPendingBody>, description = "May be empty."),
    responses(
        (status = 201, description = "The transfer as recorded (also when an id is resubmitted with the same fields).", body = TransferView)
    )
)]
pub async fn void_pending(
    State(state): State<AppState>,
    TransferIdPath(pending_id): TransferIdPath,
    scope: Scope,
    body: Bytes,
) -> Result<(StatusCode, Json<TransferView>), ApiError> {
    let body: VoidPendingBody = parse_body_or_empty(&body)?;
    let id = given_or_new_id(body.id.as_deref(), scope_of(&scope), 0)?;
    let business = Business::parse(body.code.as_deref(), body.reference.as_deref(), body.metadata.as_ref())?;
    submit_one(&state, business.into_request(id, TransferAction::VoidPending { pending_id }, false)).await
}

async fn submit_one(state: &AppState, request: TransferRequest) -> Result<(StatusCode, Json<TransferView>), ApiError> {
    match state.ledger.submit_one(request).await {
        Ok(Ok(transfer)) => Ok((StatusCode::CREATED, Json(TransferView::from(&transfer)))),
        Ok(Err(rejection)) => Err(ApiError::transfer(rejection)),
        Err(error) => Err(ApiError::ledger_unavailable(error)),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = BatchRequest)]
struct BatchBody {
    transfers: Vec<BatchItemBody>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = BatchItem)]
struct BatchItemBody {
    #[schema(value_type = Option<sanhu_core::TransferId>, inline)]
    id: Option<String>,
    #[schema(value_type = Option<super::choices::BatchAction>, inline)]
    action: Option<String>,
    #[schema(value_type = Option<sanhu_core::TransferId>, inline)]
    pending_id: Option<String>,
    #[schema(value_type = Option<sanhu_core::AccountId>, inline)]
    debit_account_id: Option<String>,
    #[schema(value_type = Option<sanhu_core::AccountId>, inline)]
    credit_account_id: Option<String>,
    #[schema(value_type = Option<sanhu_core::Amount>, inline)]
    amount: Option<Number>,
    pending: Option<bool>,
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 2592000)]
    timeout_s: Option<Number>,
    balancing: Option<bool>,
    linked: Option<bool>,
    #[schema(pattern = "^[a-z0-9_.]{1,32}$")]
    code: Option<String>,
    #[schema(min_length = 1, max_length = 128)]
    reference: Option<String>,
    metadata: Option<Value>,
}

impl BatchItemBody {
    /// The request of the batch's `index`th item.
    fn into_request(self, scope: Option<&IdempotencyScope>, index: usize) -> Result<TransferRequest, ApiError> {
        let id = given_or_new_id(self.id.as_deref(), scope, index)?;
        let action = match (self.action.as_deref(), self.pending) {
            (None | Some("post"), None | Some(false)) => self.movement(false)?,
            (None | Some("hold"), Some(true)) | (Some("hold"), None) => self.movement(true)?,
            (Some("post") | Some("hold"), Some(_)) => {
                return Err(not_applicable("pending", "this action: the action alone says whether it is a hold"))
            }
            (Some("post_pending"), _) => {
                self.refuse_movement_fields("post_pending")?;
                let amount = self.amount.as_ref().map(|a| fields::amount("amount", a)).transpose()?;
                TransferAction::PostPending { pending_id: self.pending_id()?, amount }
            }
            (Some("void_pending"), _) => {
                self.refuse_movement_fields("void_pending")?;
                if self.amount.is_some() {
                    return Err(not_applicable("amount", "void_pending"));
                }
                TransferAction::VoidPending { pending_id: self.pending_id()? }
            }
            (Some(other), _) => {
                return Err(ApiError::new(
                    code::INVALID_ACTION,
                    format!("action {other:?} is not one of post, hold, post_pending, void_pending"),
                ))
            }
        };
        let business = Business::parse(self.code.as_deref(), self.reference.as_deref(), self.metadata.as_ref())?;
        Ok(business.into_request(id, action, self.linked.unwrap_or(false)))
    }

    fn movement(&self, pending: bool) -> Result<TransferAction, ApiError> {
        if self.pending_id.is_some() {
            return Err(not_applicable("pending_id", if pending { "hold" } else { "post" }));
        }
        movement(
            required("debit_account_id", self.debit_account_id.as_deref())?,
            required("credit_account_id", self.credit_account_id.as_deref())?,
            required("amount", self.amount.as_ref())?,
            pending,
            self.timeout_s.as_ref(),
            self.balancing.unwrap_or(false),
        )
    }

    /// A hold's post or void takes its accounts from the hold; naming them again could only disagree.
    fn refuse_movement_fields(&self, action: &str) -> Result<(), ApiError> {
        let given = [
            ("debit_account_id", self.debit_account_id.is_some()),
            ("credit_account_id", self.credit_account_id.is_some()),
            ("pending", self.pending.is_some()),
            ("timeout_s", self.timeout_s.is_some()),
            ("balancing", self.balancing.is_some()),
        ];
        match given.iter().find(|(_, present)| *present) {
            Some((field, _)) => Err(not_applicable(field, action)),
            None => Ok(()),
        }
    }

    fn pending_id(&self) -> Result<TransferId, ApiError> {
        ids::transfer_id("pending_id", required("pending_id", self.pending_id.as_deref())?)
    }
}

fn required<T>(field: &str, value: Option<T>) -> Result<T, ApiError> {
    value.ok_or_else(|| ApiError::new(code::MISSING_FIELD, format!("missing field `{field}`")))
}

fn not_applicable(field: &str, action: &str) -> ApiError {
    ApiError::new(code::INVALID_FIELD, format!("`{field}` does not apply to {action}"))
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
enum BatchResult {
    Ok { index: usize, transfer: Box<TransferView> },
    Error { index: usize, error: RejectionView },
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Rejection)]
struct RejectionView {
    #[schema(value_type = crate::error::ErrorCodeName)]
    code: &'static str,
    message: &'static str,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct BatchResults {
    results: Vec<BatchResult>,
}

/// POST /v1/ledger/transfers/batch: each transfer succeeds or fails on its own, except that a
/// linked chain (items with `linked` and the first after them without) succeeds or fails whole.
/// Malformed items refuse the whole request, since applying the rest could break what the caller
/// meant the chain to cover.
#[utoipa::path(
    post,
    path = "/v1/ledger/transfers/batch",
    tag = "transfers",
    operation_id = "createTransferBatch",
    summary = "Create transfers in a batch",
    description = "Applies up to 8190 transfers in one commit. Each succeeds or fails on its own, except that a linked chain succeeds or fails whole (its failing item gets its own code, the others `linked_event_failed`). A malformed item refuses the whole request (4xx, with `transfers[i]` in the message).",
    request_body = BatchBody,
    responses(
        (status = 200, description = "One result per item.", body = BatchResults)
    )
)]
pub async fn create_batch(
    State(state): State<AppState>,
    scope: Scope,
    body: Bytes,
) -> Result<Json<BatchResults>, ApiError> {
    let requests = batch_requests(&body, scope_of(&scope))?;
    let results = state.ledger.submit(requests).await.map_err(ApiError::ledger_unavailable)?;
    let results = results
        .iter()
        .enumerate()
        .map(|(index, result)| match result {
            Ok(transfer) => BatchResult::Ok { index, transfer: Box::new(TransferView::from(transfer)) },
            Err(rejection) => BatchResult::Error {
                index,
                error: RejectionView { code: rejection.code(), message: rejection.message() },
            },
        })
        .collect();
    Ok(Json(BatchResults { results }))
}

/// A batch's body read into its transfer requests: 1 to `BATCH_TRANSFERS_MAX` well-formed items with
/// distinct ids, the last not linked. Any malformed item refuses the whole batch.
pub(crate) fn batch_requests(body: &[u8], scope: Option<&IdempotencyScope>) -> Result<Vec<TransferRequest>, ApiError> {
    let body: BatchBody = parse_body(body)?;
    let count = body.transfers.len();
    if !(1..=BATCH_TRANSFERS_MAX).contains(&count) {
        return Err(ApiError::new(
            code::INVALID_BATCH_SIZE,
            format!("a batch holds 1 to {BATCH_TRANSFERS_MAX} transfers, not {count}"),
        ));
    }
    let mut requests = Vec::with_capacity(count);
    let mut seen = HashSet::with_capacity(count);
    for (index, item) in body.transfers.into_iter().enumerate() {
        let request = item.into_request(scope, index).map_err(|e| e.within(&format!("transfers[{index}]")))?;
        if !seen.insert(request.id) {
            let error = TransferError::DuplicateIdInBatch;
            return Err(ApiError::transfer(error).within(&format!("transfers[{index}] ({})", request.id)));
        }
        requests.push(request);
    }
    if requests.last().is_some_and(|last| last.linked) {
        return Err(ApiError::transfer(TransferError::LinkedEventChainOpen));
    }
    Ok(requests)
}

/// GET /v1/ledger/transfers/{id}; a hold also shows where it stands.
#[utoipa::path(
    get,
    path = "/v1/ledger/transfers/{id}",
    tag = "transfers",
    operation_id = "getTransfer",
    summary = "Get a transfer",
    description = "The transfer; a hold also shows `pending_status` and `expires_at`.",
    params(
        ("id" = String, Path, description = "The transfer's id.", pattern = "^tr_[0-7][0-9A-HJKMNP-TV-Z]{25}$")
    ),
    responses(
        (status = 200, description = "The transfer.", body = TransferView)
    )
)]
pub async fn get_transfer(
    State(state): State<AppState>,
    TransferIdPath(id): TransferIdPath,
) -> Result<Json<TransferView>, ApiError> {
    let store = state.ledger.store();
    let transfer = store
        .get_transfer(id)
        .await?
        .ok_or_else(|| ApiError::new(code::TRANSFER_NOT_FOUND, format!("no transfer has the id {id}")))?;
    let mut view = TransferView::from(&transfer);
    if transfer.kind == TransferKind::Pending {
        if let Some(hold) = store.pending_status(id).await? {
            view.pending_status = Some(hold.status.as_str());
            view.expires_at = Some(hold.expires_at.map(|t| t.to_string()));
        }
    }
    Ok(Json(view))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TransferList {
    data: Vec<TransferView>,
}

/// GET /v1/ledger/transfers?reference=&limit=: the transfers carrying a business reference.
#[utoipa::path(
    get,
    path = "/v1/ledger/transfers",
    tag = "transfers",
    operation_id = "listTransfersByReference",
    summary = "Find transfers by reference",
    description = "The transfers that carry a business reference (order number).",
    params(
        ("reference" = String, Query, min_length = 1, max_length = 128, description = "The business reference (`missing_parameter` without it)."),
        ("limit" = Option<i64>, Query, minimum = 1, description = "Page size, 1 to the server's page_size_max (1000 by default); default 100. Otherwise `invalid_limit`.")
    ),
    responses(
        (status = 200, description = "The transfers.", body = TransferList)
    )
)]
pub async fn list_transfers(State(state): State<AppState>, query: QueryParams) -> Result<Json<TransferList>, ApiError> {
    let query = query.only(&["reference", "limit"])?;
    let reference = fields::reference(Some(query.required("reference")?))?.unwrap_or_default();
    let limit = query.limit(state.config.page_size_max)?;
    let transfers = state.ledger.store().transfers_by_reference(&reference, limit).await?;
    Ok(Json(TransferList { data: transfers.iter().map(TransferView::from).collect() }))
}
