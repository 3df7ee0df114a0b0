//! Card types (卡种), number segments (号段) and issuing batches (发行批次) with their approval by
//! marketing and finance.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use sanhu_core::card::{ApproverRole, BatchApproval, CardOwner, Segment};
use sanhu_core::id::{CardBatchId, CardSegmentId, CardTypeId, MerchantId};
use sanhu_core::staff::StaffRole;
use sanhu_service::card::{CardBatch, CardSegment, CardType, NewBatch, NewCardType, NewSegment};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{list_query, next_cursor, owner_text, parse_id, CardCaller, ChannelJson, TermsJson, ValidityJson};
use crate::error::ApiError;
use crate::json::{parse_body, parse_body_or_empty};
use crate::party::{ActorText, ClientActor};
use crate::principal::{AuthenticatedStaff, Binding};
use crate::query::QueryParams;
use crate::AppState;

// -------------------------------------------------------------------------------------------------
// Card types

/// A card type as the API shows it; amounts in minor units.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = CardType)]
pub struct CardTypeView {
    #[schema(pattern = "^ctp_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub id: String,
    /// `platform`, or the merchant's id (`mch_…`).
    #[schema(pattern = "^(platform|mch_[0-7][0-9A-HJKMNP-TV-Z]{25})$")]
    pub owner: String,
    /// 金卡, 银卡, 铜卡 ...: 1 to 50 characters.
    #[schema(min_length = 1, max_length = 50)]
    pub name: String,
    /// 1 the highest.
    #[schema(minimum = 1, maximum = 99)]
    pub grade: u32,
    /// Moved on by every change of its terms; batches made before keep theirs.
    #[schema(minimum = 1)]
    pub version: i64,
    pub terms: TermsJson,
    #[schema(value_type = ActorText, inline)]
    pub created_by: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl From<&CardType> for CardTypeView {
    fn from(t: &CardType) -> CardTypeView {
        CardTypeView {
            id: t.id.to_string(),
            owner: owner_text(t.owner),
            name: t.name.clone(),
            grade: t.grade,
            version: t.version,
            terms: TermsJson::of(&t.terms),
            created_by: t.created_by.clone(),
            created_at: t.created_at.to_string(),
            updated_at: t.updated_at.to_string(),
        }
    }
}

/// A page of card types, in id order.
#[derive(Serialize, ToSchema)]
pub struct CardTypeList {
    data: Vec<CardTypeView>,
    /// Pass as `after` for the next page; null on the last page.
    #[schema(required = true, pattern = "^ctp_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    next_cursor: Option<String>,
}

/// A new card type.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CreateCardTypeRequest)]
struct CreateCardTypeBody {
    /// The merchant whose type it is; the platform's when absent (a client bound to a member names
    /// one of its member's merchants).
    #[serde(default)]
    #[schema(nullable = false, pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    merchant_id: Option<String>,
    /// 金卡, 银卡, 铜卡 ...: 1 to 50 characters.
    #[schema(min_length = 1, max_length = 50, examples("金卡"))]
    name: String,
    /// Its order among types, 1 the highest (1 to 99).
    #[schema(minimum = 1, maximum = 99)]
    grade: u32,
    terms: TermsJson,
}

/// POST /v1/card-types
#[utoipa::path(
    post,
    path = "/v1/card-types",
    tag = "cards",
    operation_id = "createCardType",
    summary = "Create a card type",
    description = "A card type (卡种), version 1: kind, face value and sale price, validity, whether it may be recharged, a discount rate per business line. The platform's, or a merchant's (`merchant_id`).",
    request_body = CreateCardTypeBody,
    responses((status = 201, description = "The card type.", body = CardTypeView)),
)]
pub async fn create_card_type(
    State(state): State<AppState>,
    caller: CardCaller,
    body: Bytes,
) -> Result<(StatusCode, Json<CardTypeView>), ApiError> {
    let body: CreateCardTypeBody = parse_body(&body)?;
    let owner = match body.merchant_id.as_deref() {
        None => CardOwner::Platform,
        Some(text) => CardOwner::Merchant(parse_id(text, MerchantId::parse, "a merchant id")?),
    };
    let new = NewCardType { owner, name: body.name, grade: body.grade, terms: body.terms.terms()? };
    let created = state.cards().create_card_type(new, caller.binding, &caller.actor).await?;
    Ok((StatusCode::CREATED, Json(CardTypeView::from(&created))))
}

/// GET /v1/card-types
#[utoipa::path(
    get,
    path = "/v1/card-types",
    tag = "cards",
    operation_id = "listCardTypes",
    summary = "List card types",
    description = "In id order, with a cursor. A client bound to a member lists its member's merchants' types only.",
    params(
        ("after" = Option<String>, Query, description = "A `next_cursor` this endpoint returned."),
        ("limit" = Option<u32>, Query, description = "1 to 100; 50 by default."),
    ),
    responses((status = 200, description = "A page of card types.", body = CardTypeList))
)]
pub async fn list_card_types(
    State(state): State<AppState>,
    Binding(binding): Binding,
    query: QueryParams,
) -> Result<Json<CardTypeList>, ApiError> {
    let (after, limit) = list_query(query, CardTypeId::parse, "a card type id")?;
    let page = state.cards().card_types(binding, after, limit).await?;
    let next_cursor = next_cursor(&page, limit, |t| t.id.to_string());
    Ok(Json(CardTypeList { data: page.iter().map(CardTypeView::from).collect(), next_cursor }))
}

/// GET /v1/card-types/{id}
#[utoipa::path(
    get,
    path = "/v1/card-types/{id}",
    tag = "cards",
    operation_id = "getCardType",
    summary = "Read a card type",
    description = "With its current terms and version.",
    params(("id" = String, Path, description = "The card type's id.", pattern = "^ctp_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    responses((status = 200, description = "The card type.", body = CardTypeView))
)]
pub async fn get_card_type(
    State(state): State<AppState>,
    Binding(binding): Binding,
    Path(id): Path<String>,
) -> Result<Json<CardTypeView>, ApiError> {
    let id = parse_id(&id, CardTypeId::parse, "a card type id")?;
    let card_type = state.cards().card_type(id, binding).await?;
    Ok(Json(CardTypeView::from(&card_type)))
}

/// POST /v1/card-types/{id}/terms
#[utoipa::path(
    post,
    path = "/v1/card-types/{id}/terms",
    tag = "cards",
    operation_id = "changeCardTerms",
    summary = "Change a card type's terms",
    description = "A new version of the type's terms. Batches made before, and every card sold from them, keep the terms they copied: no sold card changes.",
    params(("id" = String, Path, description = "The card type's id.", pattern = "^ctp_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    request_body = TermsJson,
    responses((status = 200, description = "The card type, its version moved on.", body = CardTypeView)),
)]
pub async fn change_card_terms(
    State(state): State<AppState>,
    Binding(binding): Binding,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<CardTypeView>, ApiError> {
    let body: TermsJson = parse_body(&body)?;
    let id = parse_id(&id, CardTypeId::parse, "a card type id")?;
    let changed = state.cards().change_card_terms(id, body.terms()?, binding).await?;
    Ok(Json(CardTypeView::from(&changed)))
}

// -------------------------------------------------------------------------------------------------
// Number segments

/// A number segment as the API shows it.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = CardSegment)]
pub struct CardSegmentView {
    #[schema(pattern = "^csg_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub id: String,
    /// 2 to 8 digits naming the region or issuing branch.
    #[schema(pattern = "^[0-9]{2,8}$")]
    pub prefix: String,
    #[schema(minimum = 4, maximum = 12)]
    pub serial_digits: u32,
    #[schema(minimum = 0)]
    pub first_serial: i64,
    #[schema(minimum = 0)]
    pub last_serial: i64,
    /// The first serial not yet allocated to a batch.
    #[schema(minimum = 0)]
    pub next_serial: i64,
    #[schema(min_length = 1, max_length = 50)]
    pub region: String,
    /// The segment's first and last card numbers (prefix, serial, Luhn check digit).
    #[schema(pattern = "^[0-9]{7,21}$")]
    pub first_number: String,
    #[schema(pattern = "^[0-9]{7,21}$")]
    pub last_number: String,
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl From<&CardSegment> for CardSegmentView {
    fn from(s: &CardSegment) -> CardSegmentView {
        CardSegmentView {
            id: s.id.to_string(),
            prefix: s.segment.prefix.clone(),
            serial_digits: s.segment.serial_digits,
            first_serial: s.segment.first,
            last_serial: s.segment.last,
            next_serial: s.next_serial,
            region: s.region.clone(),
            first_number: s.segment.number(s.segment.first),
            last_number: s.segment.number(s.segment.last),
            created_at: s.created_at.to_string(),
        }
    }
}

/// A page of segments, in id order.
#[derive(Serialize, ToSchema)]
pub struct CardSegmentList {
    data: Vec<CardSegmentView>,
    /// Pass as `after` for the next page; null on the last page.
    #[schema(required = true, pattern = "^csg_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    next_cursor: Option<String>,
}

/// A new segment.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CreateCardSegmentRequest)]
struct CreateSegmentBody {
    /// 2 to 8 digits.
    #[schema(pattern = "^[0-9]{2,8}$", examples("8601"))]
    prefix: String,
    /// 4 to 12.
    #[schema(minimum = 4, maximum = 12)]
    serial_digits: u32,
    #[schema(minimum = 0)]
    first_serial: i64,
    #[schema(minimum = 0)]
    last_serial: i64,
    /// The region or issuing branch (1 to 50 characters).
    #[schema(min_length = 1, max_length = 50, examples("北京分公司"))]
    region: String,
}

/// POST /v1/card-segments
#[utoipa::path(
    post,
    path = "/v1/card-segments",
    tag = "cards",
    operation_id = "createCardSegment",
    summary = "Create a number segment",
    description = "A range of card numbers (号段) under a prefix naming a region or issuing branch; every number ends in its Luhn check digit. Refused, `card_segment_overlaps`, when it could give a number another segment gives.",
    request_body = CreateSegmentBody,
    responses((status = 201, description = "The segment.", body = CardSegmentView)),
)]
pub async fn create_segment(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<CardSegmentView>), ApiError> {
    let body: CreateSegmentBody = parse_body(&body)?;
    let segment = Segment {
        prefix: body.prefix,
        serial_digits: body.serial_digits,
        first: body.first_serial,
        last: body.last_serial,
    };
    let created = state.cards().create_segment(NewSegment { segment, region: body.region }).await?;
    Ok((StatusCode::CREATED, Json(CardSegmentView::from(&created))))
}

/// GET /v1/card-segments
#[utoipa::path(
    get,
    path = "/v1/card-segments",
    tag = "cards",
    operation_id = "listCardSegments",
    summary = "List number segments",
    description = "In id order, with what each has left.",
    params(
        ("after" = Option<String>, Query, description = "A `next_cursor` this endpoint returned."),
        ("limit" = Option<u32>, Query, description = "1 to 100; 50 by default."),
    ),
    responses((status = 200, description = "A page of segments.", body = CardSegmentList))
)]
pub async fn list_segments(
    State(state): State<AppState>,
    query: QueryParams,
) -> Result<Json<CardSegmentList>, ApiError> {
    let (after, limit) = list_query(query, CardSegmentId::parse, "a segment id")?;
    let page = state.cards().segments(after, limit).await?;
    let next_cursor = next_cursor(&page, limit, |s| s.id.to_string());
    Ok(Json(CardSegmentList { data: page.iter().map(CardSegmentView::from).collect(), next_cursor }))
}

// -------------------------------------------------------------------------------------------------
// Batches

/// One role's approval of a batch.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = CardBatchApproval)]
pub struct ApprovalView {
    /// `marketing` or `finance`.
    #[schema(value_type = sanhu_core::card::ApproverRole, inline)]
    pub role: &'static str,
    /// The staff member (`staff:<username>`).
    #[schema(value_type = ActorText, inline)]
    pub by: String,
    #[schema(format = DateTime)]
    pub at: String,
}

impl From<&BatchApproval> for ApprovalView {
    fn from(a: &BatchApproval) -> ApprovalView {
        ApprovalView { role: a.role.as_str(), by: a.by.clone(), at: a.at.to_string() }
    }
}

/// An issuing batch as the API shows it.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = CardBatch)]
pub struct CardBatchView {
    #[schema(pattern = "^cbt_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub id: String,
    #[schema(value_type = sanhu_core::id::CardTypeId, inline)]
    pub type_id: String,
    /// The type's version whose terms it copied.
    #[schema(minimum = 1)]
    pub type_version: i64,
    /// `platform`, or the merchant's id (`mch_…`).
    #[schema(pattern = "^(platform|mch_[0-7][0-9A-HJKMNP-TV-Z]{25})$")]
    pub owner: String,
    #[schema(value_type = sanhu_core::id::CardSegmentId, inline)]
    pub segment_id: String,
    pub channel: ChannelJson,
    /// What its cards give: the type's terms with the batch's sale price and validity.
    pub terms: TermsJson,
    #[schema(minimum = 1)]
    pub quantity: i64,
    #[schema(minimum = 0)]
    pub sold: i64,
    /// Its first and last card numbers.
    #[schema(pattern = "^[0-9]{7,21}$")]
    pub first_number: String,
    #[schema(pattern = "^[0-9]{7,21}$")]
    pub last_number: String,
    /// `pending` (waiting for marketing's and finance's approvals) or `approved`.
    #[schema(value_type = BatchStatusJson, inline)]
    pub status: &'static str,
    /// Who made it.
    #[schema(value_type = ActorText, inline)]
    pub maker: String,
    pub approvals: Vec<ApprovalView>,
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl CardBatchView {
    async fn of(batch: &CardBatch, state: &AppState) -> Result<CardBatchView, ApiError> {
        let segment = state.cards().segment(batch.segment_id).await?;
        Ok(CardBatchView {
            id: batch.id.to_string(),
            type_id: batch.type_id.to_string(),
            type_version: batch.type_version,
            owner: owner_text(batch.owner),
            segment_id: batch.segment_id.to_string(),
            channel: ChannelJson::of(batch.channel),
            terms: TermsJson::of(&batch.terms),
            quantity: batch.quantity,
            sold: batch.sold,
            first_number: segment.segment.number(batch.first_serial),
            last_number: segment.segment.number(batch.first_serial + batch.quantity - 1),
            status: batch.status.as_str(),
            maker: batch.maker.clone(),
            approvals: batch.approvals.iter().map(ApprovalView::from).collect(),
            created_at: batch.created_at.to_string(),
        })
    }
}

/// A page of batches, in id order.
#[derive(Serialize, ToSchema)]
pub struct CardBatchList {
    data: Vec<CardBatchView>,
    /// Pass as `after` for the next page; null on the last page.
    #[schema(required = true, pattern = "^cbt_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    next_cursor: Option<String>,
}

/// A new batch.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CreateCardBatchRequest)]
struct CreateBatchBody {
    #[schema(pattern = "^ctp_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    type_id: String,
    #[schema(pattern = "^csg_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    segment_id: String,
    channel: ChannelJson,
    /// The type's when absent.
    #[serde(default)]
    #[schema(nullable = false, minimum = 0)]
    sale_price: Option<i64>,
    /// The type's when absent.
    #[serde(default)]
    #[schema(nullable = false)]
    validity: Option<ValidityJson>,
    /// 1 to 100,000 cards.
    #[schema(minimum = 1, maximum = 100000)]
    quantity: i64,
}

/// POST /v1/card-batches
#[utoipa::path(
    post,
    path = "/v1/card-batches",
    tag = "cards",
    operation_id = "createCardBatch",
    summary = "Create a card batch",
    description = "An issuing batch (发行批次) of a type: its numbers allocated from the segment at once (never two batches the same number), the type's current terms copied with the batch's sale price and validity. `pending` until marketing and finance have both approved it.",
    request_body = CreateBatchBody,
    responses((status = 201, description = "The batch.", body = CardBatchView)),
)]
pub async fn create_batch(
    State(state): State<AppState>,
    caller: CardCaller,
    body: Bytes,
) -> Result<(StatusCode, Json<CardBatchView>), ApiError> {
    let body: CreateBatchBody = parse_body(&body)?;
    let new = NewBatch {
        type_id: parse_id(&body.type_id, CardTypeId::parse, "a card type id")?,
        segment_id: parse_id(&body.segment_id, CardSegmentId::parse, "a segment id")?,
        channel: body.channel.channel(),
        sale_price: body.sale_price,
        validity: body.validity.as_ref().map(ValidityJson::validity).transpose()?,
        quantity: body.quantity,
    };
    let batch = state.cards().create_batch(new, caller.binding, &caller.actor).await?;
    Ok((StatusCode::CREATED, Json(CardBatchView::of(&batch, &state).await?)))
}

/// GET /v1/card-batches
#[utoipa::path(
    get,
    path = "/v1/card-batches",
    tag = "cards",
    operation_id = "listCardBatches",
    summary = "List card batches",
    description = "In id order, with a cursor. A client bound to a member lists its member's merchants' batches only.",
    params(
        ("after" = Option<String>, Query, description = "A `next_cursor` this endpoint returned."),
        ("limit" = Option<u32>, Query, description = "1 to 100; 50 by default."),
    ),
    responses((status = 200, description = "A page of batches.", body = CardBatchList))
)]
pub async fn list_batches(
    State(state): State<AppState>,
    Binding(binding): Binding,
    query: QueryParams,
) -> Result<Json<CardBatchList>, ApiError> {
    let (after, limit) = list_query(query, CardBatchId::parse, "a batch id")?;
    let page = state.cards().batches(binding, after, limit).await?;
    let next_cursor = next_cursor(&page, limit, |b| b.id.to_string());
    let mut data = Vec::with_capacity(page.len());
    for batch in &page {
        data.push(CardBatchView::of(batch, &state).await?);
    }
    Ok(Json(CardBatchList { data, next_cursor }))
}

/// GET /v1/card-batches/{id}
#[utoipa::path(
    get,
    path = "/v1/card-batches/{id}",
    tag = "cards",
    operation_id = "getCardBatch",
    summary = "Read a card batch",
    description = "With its approvals and the cards sold so far.",
    params(("id" = String, Path, description = "The batch's id.", pattern = "^cbt_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    responses((status = 200, description = "The batch.", body = CardBatchView))
)]
pub async fn get_batch(
    State(state): State<AppState>,
    Binding(binding): Binding,
    Path(id): Path<String>,
) -> Result<Json<CardBatchView>, ApiError> {
    let id = parse_id(&id, CardBatchId::parse, "a batch id")?;
    let batch = state.cards().batch(id, binding).await?;
    Ok(Json(CardBatchView::of(&batch, &state).await?))
}

/// An approval's (empty) body.
#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ApproveCardBatchRequest)]
pub struct ApproveBody {}

/// POST /v1/card-batches/{id}/approve
#[utoipa::path(
    post,
    path = "/v1/card-batches/{id}/approve",
    tag = "cards",
    operation_id = "approveCardBatch",
    summary = "Approve a card batch",
    description = "A staff member's approval in their role: `marketing` or `finance` (403 `card_batch_approver_not_authorised` for any other role, or an API client). Once both roles have approved, by two different staff members neither of them the batch's maker, it is `approved` and its cards may be sold and activated.",
    params(("id" = String, Path, description = "The batch's id.", pattern = "^cbt_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    request_body(content = Option<ApproveBody>, description = "May be empty."),
    responses((status = 200, description = "The batch with the approval.", body = CardBatchView)),
)]
pub async fn approve_batch(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    staff: Option<Extension<AuthenticatedStaff>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<CardBatchView>, ApiError> {
    let _: ApproveBody = parse_body_or_empty(&body)?;
    let id = parse_id(&id, CardBatchId::parse, "a batch id")?;
    let role = match staff {
        None => None,
        Some(Extension(staff)) => {
            let account = state.staff().account(&staff.username).await.map_err(ApiError::use_case)?;
            match account.role {
                StaffRole::Marketing => Some(ApproverRole::Marketing),
                StaffRole::Finance => Some(ApproverRole::Finance),
                _ => None,
            }
        }
    };
    let batch = state.cards().approve_batch(id, role, &actor).await?;
    Ok(Json(CardBatchView::of(&batch, &state).await?))
}

/// Whether a batch's cards may be sold (the schema of `CardBatch.status`).
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // a schema only
pub(crate) enum BatchStatusJson {
    Pending,
    Approved,
}
