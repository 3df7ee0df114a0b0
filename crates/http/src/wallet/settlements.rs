//! Merchant settlement (商户结算) over the API: a merchant's statements issued (by the run, or on
//! demand for one closed period of its cycle), listed, read item by item, confirmed or disputed by
//! the merchant's bound client or the platform, and paid out to its verified settlement account
//! (through the withdrawal's checks: review above the threshold, the channel's result) or kept as its
//! balance; staff's adjustments (one makes, another approves) carried into the next statement.
//! A client bound to another merchant's member reaches none of it (404, as if absent): the route
//! table's `MERCHANT_PATH` reach decides.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::Json;
use sanhu_core::id::MerchantId;
use sanhu_core::settlement::{Period, SettlementError};
use sanhu_service::party::Rejection;
use sanhu_service::wallet::{PayoutTarget, Statement, StatementItem};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{code, ApiError};
use crate::json::{parse_body, parse_body_or_empty};
use crate::party::merchants::merchant_id;
use crate::party::{run, ClientActor};
use crate::principal::ApprovedRequest;
use crate::query::QueryParams;
use crate::wallet::recharges::EmptyBody;
use crate::AppState;

/// A settlement statement as the API shows it; amounts in minor units.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = SettlementStatement)]
pub struct StatementJson {
    /// `S000001`, `S000002`, ... per merchant.
    #[schema(pattern = "^S[0-9]{6}$")]
    number: String,
    #[schema(pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    merchant_id: String,
    #[schema(pattern = "^cus_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    customer_id: String,
    /// `daily` or `monthly`.
    cycle: String,
    /// `2026-11-05` or `2026-11`, in the platform's time zone.
    period: String,
    #[schema(format = DateTime)]
    period_start: String,
    #[schema(format = DateTime)]
    period_end: String,
    /// The merchant's account the receipts are in and the net is held in.
    receipts_account_id: String,
    /// The merchant's fee rate of `balance_payment`, in basis points.
    fee_rate_bp: u32,
    /// Σ payments received.
    gross: i64,
    /// Σ refunds given.
    refunds: i64,
    /// Σ commission, per item rounded half up (refunds give theirs back).
    commission: i64,
    /// Σ adjustments and a carried-forward net, signed.
    adjustments: i64,
    /// gross − refunds − commission + adjustments.
    net: i64,
    /// The net set aside in the receipts account for the payout (0: none).
    held: i64,
    /// What it carries into the next statement (a negative net with the commission and adjustments
    /// that did not move).
    carried_out: CarriedJson,
    /// issued, confirmed, disputed, paying, paid, payout_failed, corrected, carried_forward, or short (the
    /// receipts account no longer held what it moves: no net held; the commission and adjustments
    /// moved if the account held them, else carried with the rest); `issuing`
    /// while its ledger chain is being applied (an issue of the period finishes it) and `refused` when the
    /// ledger refused that chain (nothing moved; the period is issued again under its number).
    status: String,
    #[schema(required)]
    dispute_reason: Option<String>,
    /// The statement it corrects, and the one that corrected it.
    #[schema(required)]
    corrects: Option<String>,
    #[schema(required)]
    corrected_by: Option<String>,
    #[schema(required)]
    payout: Option<PayoutJson>,
    item_count: usize,
    #[schema(format = DateTime)]
    issued_at: String,
}

#[derive(Serialize, Debug, ToSchema)]
#[schema(as = SettlementCarried)]
struct CarriedJson {
    net: i64,
    commission: i64,
    adjustments: i64,
}

#[derive(Serialize, Debug, ToSchema)]
#[schema(as = SettlementPayout)]
struct PayoutJson {
    /// `bank` or `balance`.
    to: String,
    amount: i64,
    /// reviewing, approved, rejected, succeeded, failed, or kept (to the balance).
    status: String,
    /// A payout to the bank's withdrawal fee (the withdrawal flow's rule), 0 to the balance.
    fee: i64,
    /// Whether the merchant pays the fee (out of the amount) or the platform (its fee expense).
    fee_paid_by_merchant: bool,
    /// What reaches the settlement account: the amount, less the fee when the merchant pays it.
    paid_to_account: i64,
}

impl From<&Statement> for StatementJson {
    fn from(s: &Statement) -> Self {
        StatementJson {
            number: s.number.clone(),
            merchant_id: s.merchant_id.clone(),
            customer_id: s.customer_id.clone(),
            cycle: s.cycle.clone(),
            period: s.period.clone(),
            period_start: s.period_start.to_string(),
            period_end: s.period_end.to_string(),
            receipts_account_id: s.receipts_account_id.clone(),
            fee_rate_bp: s.fee_rate_bp,
            gross: s.gross,
            refunds: s.refunds,
            commission: s.commission,
            adjustments: s.adjustments,
            net: s.net,
            held: s.held,
            carried_out: CarriedJson {
                net: s.carried_out.net,
                commission: s.carried_out.commission,
                adjustments: s.carried_out.adjustments,
            },
            status: s.status.clone(),
            dispute_reason: s.dispute_reason.clone(),
            corrects: s.corrects.clone(),
            corrected_by: s.corrected_by.clone(),
            payout: s.payout.as_ref().map(|p| PayoutJson {
                to: p.to.clone(),
                amount: p.amount,
                status: p.status.clone(),
                fee: p.fee,
                fee_paid_by_merchant: p.fee_paid_by_merchant,
                paid_to_account: p.paid_to_account,
            }),
            item_count: s.items.len(),
            issued_at: s.issued_at.to_string(),
        }
    }
}

/// One item of a statement.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = SettlementItem)]
struct ItemJson {
    /// payment, refund, adjustment or carried_forward.
    kind: String,
    /// The order number its ledger transfer carries.
    #[schema(required)]
    order_number: Option<String>,
    /// The ledger transfers it is.
    transfer_ids: Vec<String>,
    /// Signed: a refund's is negative.
    amount: i64,
    /// Signed: a refund gives its payment's back.
    commission: i64,
    /// A split payment's share: no commission.
    split: bool,
    #[schema(format = DateTime)]
    at: String,
    #[schema(required)]
    note: Option<String>,
    /// An adjustment's id.
    #[schema(required, pattern = "^sad_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    adjustment_id: Option<String>,
}

impl From<&StatementItem> for ItemJson {
    fn from(i: &StatementItem) -> Self {
        ItemJson {
            kind: i.kind.clone(),
            order_number: i.order_number.clone(),
            transfer_ids: i.transfer_ids.clone(),
            amount: i.amount,
            commission: i.commission,
            split: i.split,
            at: i.at.to_string(),
            note: i.note.clone(),
            adjustment_id: i.adjustment_id.clone(),
        }
    }
}

#[derive(Serialize, Debug, ToSchema)]
#[schema(as = SettlementStatementPage)]
pub struct StatementPageJson {
    data: Vec<StatementJson>,
    /// Pass as `after` for the next page; null when this page is the last.
    #[schema(required)]
    next_cursor: Option<String>,
}

#[derive(Serialize, Debug, ToSchema)]
#[schema(as = SettlementItemPage)]
pub struct ItemPageJson {
    data: Vec<ItemJson>,
    #[schema(required)]
    next_cursor: Option<String>,
}

fn statement_number(text: &str) -> Result<String, ApiError> {
    let ok = text.len() == 7 && text.starts_with('S') && text[1..].bytes().all(|b| b.is_ascii_digit());
    if ok {
        Ok(text.to_owned())
    } else {
        Err(ApiError::refused(Rejection::of(SettlementError::NotFound)))
    }
}

fn statement_path(id: &str, number: &str) -> Result<(MerchantId, String), ApiError> {
    Ok((merchant_id("the merchant id in the path", id)?, statement_number(number)?))
}

fn refused(error: SettlementError) -> ApiError {
    ApiError::refused(Rejection::of(error))
}

/// The period a statement is asked for: a day or a month.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SettlementIssueRequest)]
struct IssueBody {
    /// A day of a daily merchant, `YYYY-MM-DD`.
    #[schema(nullable = false, examples("2026-11-05"))]
    date: Option<String>,
    /// A month of a monthly merchant, `YYYY-MM`.
    #[schema(nullable = false, examples("2026-11"))]
    month: Option<String>,
}

/// POST /v1/merchants/{id}/settlements
#[utoipa::path(
    post,
    path = "/v1/merchants/{id}/settlements",
    tag = "settlements",
    operation_id = "issueSettlement",
    summary = "Issue a merchant's settlement statement of one period",
    description = "The statement of a closed period of the merchant's cycle: a `date` for a daily merchant, a `month` for one of \
        the types configured monthly (`settlement_monthly_types`; 422 `settlement_cycle_mismatch` for the other), ended \
        `bill_period_closed_after_s` ago (409 `settlement_period_not_closed`). A period starting before the end of the \
        merchant's last statement is 409 `settlement_period_overlaps`, except the period of a disputed statement once an \
        approved adjustment made for it waits (409 `settlement_no_correction` before): then the corrected statement \
        replaces it. Periods are issued in order: after the last statement, the next is of the period right after it \
        (409 `settlement_period_out_of_order` for a later one). Issuing moves the commission to the platform, \
        the adjustments, and holds a positive net in the receipts account; a negative net is carried into the next \
        statement. A receipts account that no longer holds what the statement moves (withdrawn meanwhile) gives a \
        `short` statement: no net held, the commission and adjustments moved if the account holds them and \
        otherwise carried into the next (a correction refused so: 409 `settlement_receipts_short`).",
    params(("id" = String, Path, description = "The merchant's id.", pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    request_body = IssueBody,
    responses((status = 200, description = "The statement issued.", body = StatementJson))
)]
pub async fn issue_settlement(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<StatementJson>, ApiError> {
    let merchant = merchant_id("the merchant id in the path", &id)?;
    let body: IssueBody = parse_body(&body)?;
    let calendar = state.parties.config().calendar.clone();
    let period = match (body.date.as_deref(), body.month.as_deref()) {
        (Some(date), None) => Period::parse_date(&calendar, date),
        (None, Some(month)) => Period::parse_month(&calendar, month),
        _ => Err(SettlementError::PeriodInvalid),
    }
    .map_err(refused)?;
    let wallets = state.wallets().clone();
    let statement =
        run(move || async move { wallets.issue_statement(merchant, period, wallets.clock().now(), &actor).await })
            .await?;
    Ok(Json(StatementJson::from(&statement)))
}

/// GET /v1/merchants/{id}/settlements
#[utoipa::path(
    get,
    path = "/v1/merchants/{id}/settlements",
    tag = "settlements",
    operation_id = "listSettlements",
    summary = "List a merchant's settlement statements",
    description = "In number order, cursor-paginated.",
    params(
        ("id" = String, Path, description = "The merchant's id.", pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
        ("after" = Option<String>, Query, nullable = false, pattern = "^S[0-9]{6}$", description = "The `next_cursor` of the previous page."),
        ("limit" = Option<i64>, Query, nullable = false, minimum = 1, description = "Statements per page; 50 when absent."),
    ),
    responses((status = 200, description = "A page of statements.", body = StatementPageJson))
)]
pub async fn list_settlements(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: QueryParams,
) -> Result<Json<StatementPageJson>, ApiError> {
    let merchant = merchant_id("the merchant id in the path", &id)?;
    let query = query.only(&["after", "limit"])?;
    let limit = match query.get("limit") {
        None => 50.min(state.config.page_size_max),
        Some(_) => query.limit(state.config.page_size_max.min(sanhu_service::wallet::SETTLEMENT_PAGE_MAX))?,
    };
    let after = query
        .get("after")
        .map(|a| {
            statement_number(a)
                .map_err(|_| ApiError::new(code::INVALID_CURSOR, "after must be a next_cursor this endpoint returned"))
        })
        .transpose()?;
    let page = state.wallets().statements(merchant, after.as_deref(), limit).await?;
    Ok(Json(StatementPageJson {
        data: page.statements.iter().map(StatementJson::from).collect(),
        next_cursor: page.next,
    }))
}

/// GET /v1/merchants/{id}/settlements/{number}
#[utoipa::path(
    get,
    path = "/v1/merchants/{id}/settlements/{number}",
    tag = "settlements",
    operation_id = "getSettlement",
    summary = "A merchant's settlement statement",
    params(
        ("id" = String, Path, description = "The merchant's id.", pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
        ("number" = String, Path, description = "The statement's number.", pattern = "^S[0-9]{6}$"),
    ),
    responses((status = 200, description = "The statement.", body = StatementJson))
)]
pub async fn get_settlement(
    State(state): State<AppState>,
    Path((id, number)): Path<(String, String)>,
) -> Result<Json<StatementJson>, ApiError> {
    let (merchant, number) = statement_path(&id, &number)?;
    let statement = state.wallets().statement(merchant, &number).await?;
    Ok(Json(StatementJson::from(&statement)))
}

/// GET /v1/merchants/{id}/settlements/{number}/items
#[utoipa::path(
    get,
    path = "/v1/merchants/{id}/settlements/{number}/items",
    tag = "settlements",
    operation_id = "listSettlementItems",
    summary = "A settlement statement's items",
    description = "Payments, refunds (negative), adjustments and a carried-forward net, each with its order number and \
        ledger transfers; in the statement's order, cursor-paginated.",
    params(
        ("id" = String, Path, description = "The merchant's id.", pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
        ("number" = String, Path, description = "The statement's number.", pattern = "^S[0-9]{6}$"),
        ("after" = Option<String>, Query, nullable = false, pattern = "^[0-9]{1,6}$", description = "The `next_cursor` of the previous page."),
        ("limit" = Option<i64>, Query, nullable = false, minimum = 1, description = "Items per page; 100 when absent."),
    ),
    responses((status = 200, description = "A page of items.", body = ItemPageJson))
)]
pub async fn settlement_items(
    State(state): State<AppState>,
    Path((id, number)): Path<(String, String)>,
    query: QueryParams,
) -> Result<Json<ItemPageJson>, ApiError> {
    let (merchant, number) = statement_path(&id, &number)?;
    let query = query.only(&["after", "limit"])?;
    let limit = match query.get("limit") {
        None => 100.min(state.config.page_size_max),
        Some(_) => query.limit(state.config.page_size_max)?,
    } as usize;
    let after =
        match query.get("after") {
            None => 0,
            Some(a) => a.parse::<usize>().ok().filter(|n| *n <= 1_000_000).ok_or_else(|| {
                ApiError::new(code::INVALID_CURSOR, "after must be a next_cursor this endpoint returned")
            })?,
        };
    let statement = state.wallets().statement(merchant, &number).await?;
    let items: Vec<ItemJson> = statement.items.iter().skip(after).take(limit).map(ItemJson::from).collect();
    let end = after + items.len();
    let next_cursor = (end < statement.items.len()).then(|| end.to_string());
    Ok(Json(ItemPageJson { data: items, next_cursor }))
}

/// POST /v1/merchants/{id}/settlements/{number}/confirm
#[utoipa::path(
    post,
    path = "/v1/merchants/{id}/settlements/{number}/confirm",
    tag = "settlements",
    operation_id = "confirmSettlement",
    summary = "Confirm a settlement statement",
    description = "By the merchant's bound client or the platform: an issued statement, or a disputed one (the dispute \
        resolved as it stands). 409 `settlement_status_conflict` otherwise.",
    params(
        ("id" = String, Path, description = "The merchant's id.", pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
        ("number" = String, Path, description = "The statement's number.", pattern = "^S[0-9]{6}$"),
    ),
    request_body = Option<EmptyBody>,
    responses((status = 200, description = "The statement.", body = StatementJson))
)]
pub async fn confirm_settlement(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    Path((id, number)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<StatementJson>, ApiError> {
    let _: EmptyBody = parse_body_or_empty(&body)?;
    let (merchant, number) = statement_path(&id, &number)?;
    let wallets = state.wallets().clone();
    let statement = run(move || async move { wallets.confirm_statement(merchant, &number, &actor).await }).await?;
    Ok(Json(StatementJson::from(&statement)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SettlementDisputeRequest)]
struct DisputeBody {
    #[schema(min_length = 1, max_length = 200)]
    reason: String,
}

/// POST /v1/merchants/{id}/settlements/{number}/dispute
#[utoipa::path(
    post,
    path = "/v1/merchants/{id}/settlements/{number}/dispute",
    tag = "settlements",
    operation_id = "disputeSettlement",
    summary = "Dispute a settlement statement",
    description = "An issued statement, with a reason of 1 to 200 characters (422 `settlement_dispute_reason_invalid`). \
        Its net stays held until it is confirmed or a corrected statement (after an approved adjustment) replaces it.",
    params(
        ("id" = String, Path, description = "The merchant's id.", pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
        ("number" = String, Path, description = "The statement's number.", pattern = "^S[0-9]{6}$"),
    ),
    request_body = DisputeBody,
    responses((status = 200, description = "The statement.", body = StatementJson))
)]
pub async fn dispute_settlement(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    Path((id, number)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<StatementJson>, ApiError> {
    let body: DisputeBody = parse_body(&body)?;
    let (merchant, number) = statement_path(&id, &number)?;
    let wallets = state.wallets().clone();
    let statement =
        run(move || async move { wallets.dispute_statement(merchant, &number, &body.reason, &actor).await }).await?;
    Ok(Json(StatementJson::from(&statement)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SettlementPayoutRequest)]
struct PayoutBody {
    /// `bank` (the verified settlement account) or `balance` (kept in the receipts account).
    #[schema(examples("bank"))]
    to: String,
}

/// POST /v1/merchants/{id}/settlements/{number}/payout
#[utoipa::path(
    post,
    path = "/v1/merchants/{id}/settlements/{number}/payout",
    tag = "settlements",
    operation_id = "payOutSettlement",
    summary = "Pay out a confirmed settlement statement",
    description = "`to: bank` goes through the withdrawal's checks (the `withdrawal` product signed, the settlement account \
        verified, review from `withdrawal_auto_approve_below`) and is charged the withdrawal's fee (its rule and payer; 422 \
        `withdrawal_below_fee` when the net does not cover a fee the merchant pays), then waits for the channel's result; `to: balance` releases \
        the held net into the merchant's balance at once. A frozen or closed merchant: 409 `settlement_merchant_inactive`. \
        Two payouts of one statement give one (the other: 409 `settlement_status_conflict`).",
    params(
        ("id" = String, Path, description = "The merchant's id.", pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
        ("number" = String, Path, description = "The statement's number.", pattern = "^S[0-9]{6}$"),
    ),
    request_body = PayoutBody,
    responses((status = 200, description = "The statement.", body = StatementJson))
)]
pub async fn pay_out_settlement(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    Path((id, number)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<StatementJson>, ApiError> {
    let body: PayoutBody = parse_body(&body)?;
    let (merchant, number) = statement_path(&id, &number)?;
    let to = match body.to.as_str() {
        "bank" => PayoutTarget::Bank,
        "balance" => PayoutTarget::Balance,
        _ => return Err(refused(SettlementError::PayoutTargetInvalid)),
    };
    let wallets = state.wallets().clone();
    let statement = run(move || async move { wallets.pay_out_statement(merchant, &number, to, &actor).await }).await?;
    Ok(Json(StatementJson::from(&statement)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SettlementPayoutReviewRequest)]
struct ReviewBody {
    /// `approve` or `reject` (the net stays held and the statement confirmed).
    #[schema(examples("approve"))]
    decision: String,
}

/// POST /v1/merchants/{id}/settlements/{number}/payout/review
#[utoipa::path(
    post,
    path = "/v1/merchants/{id}/settlements/{number}/payout/review",
    tag = "settlements",
    operation_id = "reviewSettlementPayout",
    summary = "Review a settlement payout to the bank",
    description = "Staff's review of a payout at or above `withdrawal_auto_approve_below`; 409 `settlement_not_paying_out` \
        when none waits.",
    params(
        ("id" = String, Path, description = "The merchant's id.", pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
        ("number" = String, Path, description = "The statement's number.", pattern = "^S[0-9]{6}$"),
    ),
    request_body = ReviewBody,
    responses((status = 200, description = "The statement.", body = StatementJson))
)]
pub async fn review_settlement_payout(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    Path((id, number)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<StatementJson>, ApiError> {
    let body: ReviewBody = parse_body(&body)?;
    let (merchant, number) = statement_path(&id, &number)?;
    let approve = match body.decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => return Err(ApiError::new(code::INVALID_FIELD, "decision is approve or reject").within("decision")),
    };
    let wallets = state.wallets().clone();
    let statement =
        run(move || async move { wallets.review_statement_payout(merchant, &number, approve, &actor).await }).await?;
    Ok(Json(StatementJson::from(&statement)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SettlementPayoutResultRequest)]
struct ResultBody {
    /// `succeeded` (the held net is posted) or `failed` (it is released to the merchant's balance).
    #[schema(examples("succeeded"))]
    result: String,
}

/// POST /v1/merchants/{id}/settlements/{number}/payout/result
#[utoipa::path(
    post,
    path = "/v1/merchants/{id}/settlements/{number}/payout/result",
    tag = "settlements",
    operation_id = "recordSettlementPayoutResult",
    summary = "Record a settlement payout's result",
    description = "The channel's answer to an approved payout to the bank: `succeeded` posts the held net (paid), \
        `failed` releases it into the merchant's balance (payout_failed). Idempotent.",
    params(
        ("id" = String, Path, description = "The merchant's id.", pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
        ("number" = String, Path, description = "The statement's number.", pattern = "^S[0-9]{6}$"),
    ),
    request_body = ResultBody,
    responses((status = 200, description = "The statement.", body = StatementJson))
)]
pub async fn settlement_payout_result(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    Path((id, number)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<StatementJson>, ApiError> {
    let body: ResultBody = parse_body(&body)?;
    let (merchant, number) = statement_path(&id, &number)?;
    let succeeded = match body.result.as_str() {
        "succeeded" => true,
        "failed" => false,
        _ => return Err(ApiError::new(code::INVALID_PAYOUT_RESULT, "result must be \"succeeded\" or \"failed\"")),
    };
    let wallets = state.wallets().clone();
    let statement =
        run(move || async move { wallets.statement_payout_result(merchant, &number, succeeded, &actor).await }).await?;
    Ok(Json(StatementJson::from(&statement)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SettlementAdjustmentRequest)]
struct AdjustmentBody {
    /// Signed, in minor units: positive the platform owes the merchant, negative the merchant owes it.
    #[schema(examples(-1500))]
    amount: i64,
    #[schema(min_length = 1, max_length = 200)]
    reason: String,
    /// The disputed statement it corrects (its number): kept for that statement's corrected re-issue,
    /// which no other statement takes first. Absent: for the merchant's next statement.
    #[schema(nullable = false, pattern = "^S[0-9]{6}$", examples("S000001"))]
    statement: Option<String>,
}

/// A settlement adjustment made.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = SettlementAdjustment)]
pub struct AdjustmentJson {
    #[schema(pattern = "^sad_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    id: String,
    merchant_id: String,
    /// The disputed statement it corrects; null: for the next statement.
    #[schema(required)]
    statement: Option<String>,
    amount: i64,
    reason: String,
    maker: String,
    #[schema(required)]
    checker: Option<String>,
}

/// POST /v1/merchants/{id}/settlement-adjustments
#[utoipa::path(
    post,
    path = "/v1/merchants/{id}/settlement-adjustments",
    tag = "settlements",
    operation_id = "adjustSettlement",
    summary = "Adjust a merchant's settlement",
    description = "Made by a staff member and held for a second one (maker-checker; an API client alone is refused 403 \
        `settlement_adjustment_staff_only`); once approved it waits for the merchant's next statement, which carries it. \
        Made for a disputed statement (`statement`; 409 `settlement_status_conflict` unless it is disputed), it is kept \
        for that statement's corrected re-issue: no later period's statement takes it first (unless the dispute is \
        resolved by confirming the statement as it stood; then the next statement carries it). At most 100 wait \
        (409 `settlement_adjustments_full`).",
    params(("id" = String, Path, description = "The merchant's id.", pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    request_body = AdjustmentBody,
    responses((status = 200, description = "The adjustment, waiting for the next statement.", body = AdjustmentJson))
)]
pub async fn adjust_settlement(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    approved: Option<axum::Extension<ApprovedRequest>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<AdjustmentJson>, ApiError> {
    let body: AdjustmentBody = parse_body(&body)?;
    let merchant = merchant_id("the merchant id in the path", &id)?;
    let Some(axum::Extension(approved)) = approved else {
        return Err(refused(SettlementError::AdjustmentStaffOnly));
    };
    let statement = body.statement.as_deref().map(statement_number).transpose()?;
    let checker = approved.checker.as_ref().map(|c| c.actor());
    let wallets = state.wallets().clone();
    let adjustment = run(move || async move {
        wallets
            .adjust_settlement(merchant, body.amount, &body.reason, statement.as_deref(), &actor, checker.as_ref())
            .await
    })
    .await?;
    Ok(Json(AdjustmentJson {
        id: adjustment.id,
        merchant_id: merchant.to_string(),
        statement: adjustment.statement,
        amount: adjustment.amount,
        reason: adjustment.reason,
        maker: adjustment.maker,
        checker: adjustment.checker,
    }))
}
