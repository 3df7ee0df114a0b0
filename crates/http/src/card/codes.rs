//! Redemption codes (兑换码): generated for an approved batch (their text in that answer only, for
//! printing), listed without their text, redeemed by a member, bound to members in bulk from the back
//! office. Their requests and answers carry codes, so they take no Idempotency-Key (the route table
//! marks them secret): a retry of a redemption is answered by the rule (the same member's code gives
//! its card again).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use sanhu_core::id::{CardBatchId, CardCodeId};
use sanhu_core::Timestamp;
use sanhu_service::card::{code_status_text, CardCode, CardFailure, NewCodes};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{list_query, next_cursor, parse_id, CardCaller, CardView};
use crate::error::ApiError;
use crate::json::parse_body;
use crate::party::ActorText;
use crate::principal::Binding;
use crate::query::QueryParams;
use crate::AppState;

/// What to generate.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = GenerateCardCodesRequest)]
struct GenerateBody {
    /// 1 to 1,000 codes; with the batch's cards sold and held by unredeemed codes, at most its quantity.
    #[schema(minimum = 1, maximum = 1000)]
    quantity: i64,
    /// When they stop redeeming (exclusive): later than now, at most 3,650 days away.
    #[schema(format = DateTime)]
    expires_at: String,
    /// The payment channel the codes are paid through: a redeemed code's stored-value card takes its
    /// sale price from the channel's clearing account (needed when the batch's cards are sold at a price).
    #[serde(default)]
    #[schema(nullable = false, pattern = "^[a-z0-9_-]{1,32}$", examples("alipay"))]
    payment_channel: Option<String>,
}

/// One code generated: its text, shown here only.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = GeneratedCardCode)]
pub struct GeneratedCodeView {
    #[schema(pattern = "^ccd_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub id: String,
    /// As printed: four groups of four symbols.
    #[schema(pattern = "^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$", examples("7K3M-Q9ZD-4RTW-8B2C"))]
    pub code: String,
}

/// Codes just generated: the only answer that holds their text.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = GeneratedCardCodes)]
pub struct GeneratedCodesView {
    #[schema(value_type = sanhu_core::id::CardBatchId, inline)]
    pub batch_id: String,
    #[schema(format = DateTime)]
    pub expires_at: String,
    pub codes: Vec<GeneratedCodeView>,
}

/// A code as kept: never its text.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = CardCode)]
pub struct CardCodeView {
    #[schema(pattern = "^ccd_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub id: String,
    #[schema(value_type = sanhu_core::id::CardBatchId, inline)]
    pub batch_id: String,
    /// `unused`, `redeemed`, or `expired` (its expiry passed unredeemed and its card went back to
    /// the batch's sales; a code past its expiry may show `unused` until the batch next sells).
    #[schema(value_type = CodeStatusJson, inline)]
    pub status: &'static str,
    #[schema(format = DateTime)]
    pub expires_at: String,
    /// The payment channel a redeemed code's sale is paid through.
    #[schema(required = true, pattern = "^[a-z0-9_-]{1,32}$")]
    pub payment_channel: Option<String>,
    /// Who redeemed it.
    #[schema(required = true, pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub member_id: Option<String>,
    /// The card it gave.
    #[schema(required = true, pattern = "^[0-9]{7,21}$")]
    pub card_number: Option<String>,
    #[schema(required = true, format = DateTime)]
    pub redeemed_at: Option<String>,
    #[schema(value_type = ActorText, inline)]
    pub created_by: String,
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl From<&CardCode> for CardCodeView {
    fn from(c: &CardCode) -> CardCodeView {
        CardCodeView {
            id: c.id.to_string(),
            batch_id: c.batch_id.to_string(),
            status: code_status_text(c.status),
            expires_at: c.expires_at.to_string(),
            payment_channel: c.payment_channel.clone(),
            member_id: c.member_id.map(|m| m.to_string()),
            card_number: c.card_number.clone(),
            redeemed_at: c.redeemed_at.map(|t| t.to_string()),
            created_by: c.created_by.clone(),
            created_at: c.created_at.to_string(),
        }
    }
}

/// A page of a batch's codes, in id order.
#[derive(Serialize, ToSchema)]
pub struct CardCodeList {
    data: Vec<CardCodeView>,
    /// Pass as `after` for the next page; null on the last page.
    #[schema(required = true, pattern = "^ccd_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    next_cursor: Option<String>,
}

const BATCH_PARAM: &str = "The batch's id.";

/// POST /v1/card-batches/{id}/codes
#[utoipa::path(
    post,
    path = "/v1/card-batches/{id}/codes",
    tag = "cards",
    operation_id = "generateCardCodes",
    summary = "Generate redemption codes",
    description = "Redemption codes (兑换码) for an approved batch, each holding one of its cards (a sale does not take a held card; 409 `card_codes_exceed_batch` past its quantity). Their text is in this answer only, for printing: sanhu keeps a keyed hash of each. Each redeems once, before `expires_at`. Takes no Idempotency-Key (the answer carries the codes).",
    params(("id" = String, Path, description = BATCH_PARAM, pattern = "^cbt_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    request_body = GenerateBody,
    responses((status = 201, description = "The codes, shown once.", body = GeneratedCodesView)),
)]
pub async fn generate_codes(
    State(state): State<AppState>,
    caller: CardCaller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<GeneratedCodesView>), ApiError> {
    let body: GenerateBody = parse_body(&body)?;
    let batch_id = parse_id(&id, CardBatchId::parse, "a batch id")?;
    let expires_at = Timestamp::parse_rfc3339(&body.expires_at)
        .ok_or_else(|| ApiError::use_case(CardFailure::from(sanhu_core::card::CardError::CodeExpiryInvalid)))?;
    let new = NewCodes { batch_id, quantity: body.quantity, expires_at, payment_channel: body.payment_channel };
    let generated = state.cards().generate_codes(new, caller.binding, &caller.actor).await?;
    tracing::info!(batch.id = %generated.batch_id, codes = generated.codes.len(), "redemption codes generated");
    Ok((
        StatusCode::CREATED,
        Json(GeneratedCodesView {
            batch_id: generated.batch_id.to_string(),
            expires_at: generated.expires_at.to_string(),
            codes: generated
                .codes
                .iter()
                .map(|(id, code)| GeneratedCodeView { id: id.to_string(), code: code.printed() })
                .collect(),
        }),
    ))
}

/// GET /v1/card-batches/{id}/codes
#[utoipa::path(
    get,
    path = "/v1/card-batches/{id}/codes",
    tag = "cards",
    operation_id = "listCardCodes",
    summary = "List a batch's redemption codes",
    description = "In id order, with a cursor: each code's status, expiry, and who redeemed it for which card. Never a code's text.",
    params(
        ("id" = String, Path, description = BATCH_PARAM, pattern = "^cbt_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
        ("after" = Option<String>, Query, description = "A `next_cursor` this endpoint returned."),
        ("limit" = Option<u32>, Query, description = "1 to 100; 50 by default."),
    ),
    responses((status = 200, description = "A page of codes.", body = CardCodeList))
)]
pub async fn list_codes(
    State(state): State<AppState>,
    Binding(binding): Binding,
    Path(id): Path<String>,
    query: QueryParams,
) -> Result<Json<CardCodeList>, ApiError> {
    let batch_id = parse_id(&id, CardBatchId::parse, "a batch id")?;
    let (after, limit) = list_query(query, CardCodeId::parse, "a code id")?;
    let page = state.cards().batch_codes(batch_id, binding, after, limit).await?;
    let next_cursor = next_cursor(&page, limit, |c| c.id.to_string());
    Ok(Json(CardCodeList { data: page.iter().map(CardCodeView::from).collect(), next_cursor }))
}

/// A redemption.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RedeemCardCodeRequest)]
struct RedeemBody {
    /// The code as printed or typed: case, spaces and hyphens do not matter.
    #[schema(min_length = 16, max_length = 40, examples("7K3M-Q9ZD-4RTW-8B2C"))]
    code: String,
    /// The member who gets the card.
    #[schema(pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    member_id: String,
}

/// The longest code text taken (16 symbols with separators and spaces).
const CODE_TEXT_MAX: usize = 40;

/// POST /v1/card-codes/redeem
#[utoipa::path(
    post,
    path = "/v1/card-codes/redeem",
    tag = "cards",
    operation_id = "redeemCardCode",
    summary = "Redeem a code for a member",
    description = "The card the code holds, sold (its sale price from the codes' payment channel), activated and bound to the member. Once: another redemption of the code is 409 `card_code_used` (the same member's again answers its card); after its expiry `card_code_expired`. A mistyped code is 422 `card_code_invalid`; a code that is none the caller reaches is 404 `card_code_not_found` and a failed redemption. Failures count for the member when the caller is the member's own (a client bound to it), otherwise for this caller and member (five within 15 minutes stop this caller for this member only) and for the caller across members (a higher ceiling the platform sets, 1,000 by default); past a ceiling redemptions are refused (429 `card_code_attempts_exceeded`), except the member's own code redeemed before, which answers its card. A redemption the configuration refuses (422 `channel_not_configured`) leaves the code unused. Staff bind a code to a member from the back office the same way. Takes no Idempotency-Key (the request carries the code).",
    request_body = RedeemBody,
    responses((status = 200, description = "The card, active and bound to the member.", body = CardView)),
)]
pub async fn redeem_code(
    State(state): State<AppState>,
    caller: CardCaller,
    body: Bytes,
) -> Result<Json<CardView>, ApiError> {
    let body: RedeemBody = parse_body(&body)?;
    if body.code.len() > CODE_TEXT_MAX {
        return Err(ApiError::use_case(CardFailure::from(sanhu_core::card::CardError::CodeInvalid)));
    }
    let member = crate::ids::member_id("member_id", &body.member_id)?;
    let card = state.cards().redeem_code(&body.code, member, caller.binding, &caller.actor).await?;
    tracing::info!(card.number = %card.number, member.id = %member, "redemption code redeemed");
    Ok(Json(CardView::from(&card)))
}

/// A bulk binding.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = BindCardCodesRequest)]
struct BindBody {
    /// CSV text: 1 to 500 rows of a member's login phone number and a code (`phone,code`), a header
    /// row `phone,code` allowed.
    #[schema(max_length = 40000, examples("phone,code\n13800000002,7K3M-Q9ZD-4RTW-8B2C\n"))]
    codes_csv: String,
}

/// The longest CSV text taken.
const CSV_MAX: usize = 40_000;

/// One row's result.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = CardCodeBindingRow)]
pub struct BindRowView {
    /// Its line in the text (1 for the first).
    #[schema(minimum = 1)]
    pub line: usize,
    /// The phone number as given.
    pub phone: String,
    /// `bound`, or `refused` with the error.
    #[schema(value_type = BindRowStatusJson, inline)]
    pub status: &'static str,
    /// The card it gave.
    #[schema(required = true, pattern = "^[0-9]{7,21}$")]
    pub card_number: Option<String>,
    /// Why it was refused: the code and message a redemption would answer.
    #[schema(required = true)]
    pub error: Option<BindRowError>,
}

/// Why a row was refused.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = CardCodeBindingError)]
pub struct BindRowError {
    #[schema(value_type = crate::error::ErrorCodeName)]
    pub code: &'static str,
    pub message: String,
}

/// Every row's result, in the text's order.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = CardCodeBindings)]
pub struct BindView {
    #[schema(minimum = 0)]
    pub bound: usize,
    #[schema(minimum = 0)]
    pub refused: usize,
    pub rows: Vec<BindRowView>,
}

/// POST /v1/card-codes/bind
#[utoipa::path(
    post,
    path = "/v1/card-codes/bind",
    tag = "cards",
    operation_id = "bindCardCodes",
    summary = "Bind codes to members in bulk",
    description = "From the back office (a bound client gets 403 `client_bound`): each row of a CSV of phone numbers and codes is redeemed for the member whose login phone it is, as `redeemCardCode` would, one after another; each row answered on its own (`bound` with its card, or `refused` with the error). 1 to 500 rows (422 `card_code_rows_invalid`). A row's code is checked before its phone is looked up; a row whose code or phone is no one's counts as a failed redemption against the caller's ceiling, and other failed rows count as redemptions do. Takes no Idempotency-Key (the request carries codes); a row sent again answers its card again.",
    request_body = BindBody,
    responses((status = 200, description = "Each row's result.", body = BindView)),
)]
pub async fn bind_codes(
    State(state): State<AppState>,
    caller: CardCaller,
    body: Bytes,
) -> Result<Json<BindView>, ApiError> {
    let body: BindBody = parse_body(&body)?;
    if body.codes_csv.len() > CSV_MAX {
        return Err(ApiError::use_case(CardFailure::from(sanhu_core::card::CardError::CodeRowsInvalid)));
    }
    let outcomes = state.cards().bind_codes(&body.codes_csv, caller.binding, &caller.actor).await?;
    let rows: Vec<BindRowView> = outcomes
        .into_iter()
        .map(|outcome| match outcome.result {
            Ok(card) => BindRowView {
                line: outcome.line,
                phone: outcome.phone,
                status: "bound",
                card_number: Some(card.number),
                error: None,
            },
            Err(failure) => {
                let error = ApiError::use_case(failure);
                BindRowView {
                    line: outcome.line,
                    phone: outcome.phone,
                    status: "refused",
                    card_number: None,
                    error: Some(BindRowError { code: error.code(), message: error.message().to_owned() }),
                }
            }
        })
        .collect();
    let bound = rows.iter().filter(|r| r.status == "bound").count();
    Ok(Json(BindView { bound, refused: rows.len() - bound, rows }))
}

/// A redemption code's status (the schema of `CardCode.status`).
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // a schema only
pub(crate) enum CodeStatusJson {
    Unused,
    Redeemed,
    Expired,
}

/// A bulk row's status (the schema of `CardCodeBindingRow.status`).
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // a schema only
pub(crate) enum BindRowStatusJson {
    Bound,
    Refused,
}
