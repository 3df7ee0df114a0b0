//! Merchants (商户): opened from a member under its customer, their onboarding review (进件: documents,
//! submission, staff's decision, with maker-checker for staff), their settlement bank account, staff's
//! status changes, reads and history, and the configured merchant types. A client bound to a member
//! reaches that member's merchants only; any other merchant answers `merchant_not_found`.

use axum::body::Bytes;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Json;
use sanhu_core::id::MerchantId;
use sanhu_core::party::merchant::{
    check_name, check_scenario, check_settlement_cycle, MerchantError, MerchantStatus, ReviewDecision, ScenarioKind,
};
use sanhu_core::party::{CardNumber, Certificate, CertificateType, PhoneNumber, RealName};
use sanhu_service::party::{
    DocumentsGiven, MerchantApplication, MerchantFilter, Scenario, SettlementAccountGiven, StoredMerchant,
    SubMerchantApplication,
};
use serde::{Deserialize, Serialize};

use super::fields::{self, refused};
use super::{run, ActorText, ClientActor, HistoryPage};
use crate::error::{code, ApiError};
use crate::idempotency::IdempotencyScope;
use crate::ids;
use crate::json::parse_body;
use crate::principal::{ApprovedRequest, Binding};
use crate::query::QueryParams;
use crate::AppState;
use sanhu_service::party::Rejection;

/// The `{id}` of a merchant path.
pub struct MerchantIdPath(pub MerchantId);

impl<S: Send + Sync> FromRequestParts<S> for MerchantIdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<MerchantIdPath, ApiError> {
        let axum::extract::Path(text) = axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::new(code::INVALID_ID, "the id in the path cannot be read"))?;
        merchant_id("the merchant id in the path", &text).map(MerchantIdPath)
    }
}

pub(crate) fn merchant_id(field: &str, text: &str) -> Result<MerchantId, ApiError> {
    MerchantId::parse(text).ok_or_else(|| {
        ApiError::new(code::INVALID_ID, format!("{field} is not a merchant id (mch_ and 26 characters)"))
    })
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = MerchantScenarioRequest)]
struct ScenarioBody {
    #[schema(value_type = sanhu_core::party::merchant::ScenarioKind, inline, examples("offline_store"))]
    kind: String,
    /// An `https://` URL: for every kind but `offline_store`.
    #[schema(nullable = false, max_length = 500, pattern = "^https://[!-~]+$")]
    url: Option<String>,
    /// The store's address: for `offline_store` only.
    #[schema(nullable = false, min_length = 1, max_length = 200, examples("北京市海淀区某某路1号"))]
    address: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = MerchantContactRequest)]
struct ContactBody {
    #[schema(min_length = 1, max_length = 100, examples("李四"))]
    name: String,
    /// A mainland mobile (11 digits, read as +86) or +country and number.
    #[schema(max_length = 20, examples("13912345678"))]
    phone: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = MerchantBusinessRequest)]
struct BusinessBody {
    /// The name on the business licence.
    #[schema(value_type = sanhu_core::openapi::MerchantName, inline, examples("某某科技有限公司"))]
    registered_name: String,
    /// The licence's unified social credit code: what recognises the business.
    #[schema(min_length = 1, max_length = 64, examples("91110108MA01ABCD0B"))]
    credit_code: String,
}

/// A merchant to open from an existing member.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = OpenMerchantRequest)]
struct OpenMerchantBody {
    /// The member the merchant is opened from: the merchant is under its customer, and its accounts
    /// are the member's.
    #[schema(pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    member_id: String,
    /// A configured merchant type (`personal`, `individual_business`, `enterprise` by default).
    #[schema(value_type = sanhu_core::party::merchant::MerchantTypeCode, inline, examples("enterprise"))]
    merchant_type: String,
    /// The name payers see.
    #[schema(value_type = sanhu_core::openapi::MerchantName, inline, examples("某某咖啡"))]
    name: String,
    scenario: ScenarioBody,
    contact: ContactBody,
    /// When receipts are settled: `t1` (the default), `d1` or `d0`.
    #[schema(nullable = false, value_type = Option<sanhu_core::openapi::SettlementCycle>, inline, examples("t1"))]
    settlement_cycle: Option<String>,
    /// The business licence, for a type that requires one; a personal merchant is its customer's own
    /// certificate.
    business: Option<BusinessBody>,
    /// The merchant it sits under in the hierarchy: it must exist (`merchant_parent_unknown`), be
    /// active (`merchant_parent_not_active`) and be of a level this one may sit under. A bound client
    /// names a merchant it reaches (another answers `merchant_not_found`).
    #[schema(nullable = false, pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    parent_id: Option<String>,
    /// Its level in the hierarchy (`GET /v1/merchant-levels`); required with a parent. Without one,
    /// the merchant stands outside the hierarchy, at the top with nothing under it.
    #[schema(nullable = false, pattern = "^[a-z0-9_]{1,32}$", examples("agent"))]
    level: Option<String>,
}

/// A premises photo's reference in the platform's file store: 1 to 200 printable ASCII characters.
struct PhotoReference;

impl utoipa::PartialSchema for PhotoReference {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^[!-~]{1,200}$"))
            .into()
    }
}

impl utoipa::ToSchema for PhotoReference {}

/// A merchant's scenario as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = MerchantScenario)]
pub struct ScenarioView {
    #[schema(value_type = sanhu_core::party::merchant::ScenarioKind, inline)]
    kind: String,
    #[schema(required = true, max_length = 500, pattern = "^https://[!-~]+$")]
    url: Option<String>,
    #[schema(required = true, min_length = 1, max_length = 200)]
    address: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = MerchantContact)]
pub struct ContactView {
    #[schema(min_length = 1, max_length = 100)]
    name: String,
    /// Masked (empty should the stored number not read as one).
    #[schema(max_length = 20, examples("+86139****5678"))]
    phone: String,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = MerchantLegalPerson)]
pub struct LegalPersonView {
    #[schema(min_length = 1, max_length = 64)]
    name: String,
    #[schema(value_type = sanhu_core::party::CertificateType, inline)]
    certificate_type: String,
    #[schema(pattern = "\\*")]
    masked_number: String,
}

/// The documents given for the onboarding review.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = MerchantDocuments)]
pub struct DocumentsView {
    /// The licence's credit code, masked; null until given.
    #[schema(required = true, pattern = "\\*")]
    licence: Option<String>,
    #[schema(required = true)]
    legal_person: Option<LegalPersonView>,
    #[schema(value_type = Vec<PhotoReference>, inline)]
    premises_photos: Vec<String>,
}

/// The settlement bank account.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = MerchantSettlementAccount)]
pub struct SettlementAccountView {
    #[schema(value_type = sanhu_core::party::merchant::SettlementKind, inline)]
    kind: String,
    /// As given (a corporate account's is the business's registered name).
    #[schema(pattern = "\\S")]
    account_name: String,
    #[schema(pattern = "\\*")]
    masked_number: String,
    #[schema(required = true, pattern = "^[0-9]{3}$")]
    bank_code: Option<String>,
    #[schema(required = true, pattern = "^[0-9]{12}$")]
    branch_code: Option<String>,
    /// The verification of this very account (one recorded for an account set before is void).
    #[schema(value_type = sanhu_core::openapi::SettlementVerification, inline)]
    verification: String,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = MerchantReview)]
pub struct ReviewView {
    #[schema(value_type = sanhu_core::party::merchant::ReviewDecision, inline)]
    decision: String,
    #[schema(required = true, value_type = Option<sanhu_core::party::change::Reason>, inline)]
    reason: Option<String>,
    /// The maker: who made the decision.
    #[schema(value_type = ActorText, inline)]
    by: String,
    #[schema(value_type = sanhu_core::Timestamp, inline)]
    at: String,
    /// The checker: the staff member who approved the maker's decision.
    #[schema(required = true, value_type = Option<ActorText>, inline)]
    checker: Option<String>,
    /// Who submitted the application decided on.
    #[schema(required = true, value_type = Option<ActorText>, inline)]
    submitted_by: Option<String>,
    #[schema(required = true, value_type = Option<sanhu_core::Timestamp>, inline)]
    submitted_at: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = MerchantAccount)]
pub struct MerchantAccountView {
    #[schema(value_type = sanhu_core::AccountId, inline)]
    account_id: String,
    #[schema(value_type = sanhu_core::party::AccountTypeCode, inline)]
    account_type: String,
}

/// What a merchant received in the platform's current day and month (Asia/Shanghai unless configured).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = MerchantReceipts)]
pub struct ReceiptsView {
    /// Minor units.
    #[schema(minimum = 0)]
    today: i64,
    /// Minor units.
    #[schema(minimum = 0)]
    this_month: i64,
}

/// A merchant (商户).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Merchant)]
pub struct MerchantView {
    #[schema(value_type = sanhu_core::id::MerchantId, inline)]
    id: String,
    #[schema(value_type = sanhu_core::id::CustomerId, inline)]
    customer_id: String,
    #[schema(value_type = sanhu_core::id::MemberId, inline)]
    member_id: String,
    #[schema(value_type = sanhu_core::party::merchant::MerchantTypeCode, inline)]
    merchant_type: String,
    #[schema(value_type = sanhu_core::openapi::MerchantName, inline)]
    name: String,
    /// The business's registered name (a personal merchant's: its customer's real name).
    #[schema(min_length = 1, max_length = 100)]
    business_name: String,
    /// The business's certificate (credit code, or the customer's own), masked.
    #[schema(pattern = "\\*")]
    business_certificate: String,
    #[schema(value_type = sanhu_core::party::merchant::MerchantStatus, inline, examples("applying"))]
    status: String,
    #[schema(required = true, value_type = Option<sanhu_core::party::change::Reason>, inline)]
    status_reason: Option<String>,
    scenario: ScenarioView,
    contact: ContactView,
    #[schema(value_type = sanhu_core::openapi::SettlementCycle, inline)]
    settlement_cycle: String,
    #[schema(required = true)]
    settlement_account: Option<SettlementAccountView>,
    documents: DocumentsView,
    reviews: Vec<ReviewView>,
    /// The accounts opened when it became active.
    accounts: Vec<MerchantAccountView>,
    receipts: ReceiptsView,
    /// The merchant it sits under in the hierarchy.
    #[schema(required = true, value_type = Option<sanhu_core::id::MerchantId>, inline)]
    parent_id: Option<String>,
    /// Its level in the hierarchy; null: outside it.
    #[schema(required = true, pattern = "^[a-z0-9_]{1,32}$")]
    level: Option<String>,
    /// How deep it sits: 1 at the top.
    #[schema(minimum = 1)]
    depth: usize,
    #[schema(value_type = sanhu_core::Timestamp, inline)]
    created_at: String,
    #[schema(value_type = sanhu_core::Timestamp, inline)]
    updated_at: String,
}

impl MerchantView {
    /// The merchant with what it received today and this month (its counters, read now).
    async fn read(m: &StoredMerchant, state: &AppState) -> Result<MerchantView, ApiError> {
        let received = state.parties.merchant_receipts(m).await?;
        let receipts = ReceiptsView { today: received.today, this_month: received.this_month };
        Ok(MerchantView {
            id: m.id.clone(),
            customer_id: m.customer_id.clone(),
            member_id: m.member_id.clone(),
            merchant_type: m.merchant_type.clone(),
            name: m.name.clone(),
            business_name: m.business_name.clone(),
            business_certificate: m.business_certificate.clone(),
            status: m.status.clone(),
            status_reason: m.status_reason.clone(),
            scenario: ScenarioView {
                kind: m.scenario.kind.clone(),
                url: m.scenario.url.clone(),
                address: m.scenario.address.clone(),
            },
            contact: ContactView {
                name: m.contact.name.clone(),
                phone: PhoneNumber::parse(&m.contact.phone).map(|p| p.masked()).unwrap_or_default(),
            },
            settlement_cycle: m.settlement_cycle.clone(),
            settlement_account: m.settlement_account.as_ref().map(|a| SettlementAccountView {
                kind: a.kind.clone(),
                account_name: a.account_name.clone(),
                masked_number: a.masked_number.clone(),
                bank_code: a.bank_code.clone(),
                branch_code: a.branch_code.clone(),
                verification: a.verification_shown().to_owned(),
            }),
            documents: DocumentsView {
                licence: m.documents.licence_masked.clone(),
                legal_person: m.documents.legal_person.as_ref().map(|l| LegalPersonView {
                    name: l.name.clone(),
                    certificate_type: l.certificate_type.clone(),
                    masked_number: l.masked_number.clone(),
                }),
                premises_photos: m.documents.premises_photos.clone(),
            },
            reviews: m
                .reviews
                .iter()
                .map(|r| ReviewView {
                    decision: r.decision.clone(),
                    reason: r.reason.clone(),
                    by: r.by.clone(),
                    at: r.at.to_string(),
                    checker: r.checker.clone(),
                    submitted_by: r.submitted.as_ref().map(|s| s.by.clone()),
                    submitted_at: r.submitted.as_ref().map(|s| s.at.to_string()),
                })
                .collect(),
            accounts: m
                .accounts
                .iter()
                .map(|a| MerchantAccountView { account_id: a.account_id.clone(), account_type: a.account_type.clone() })
                .collect(),
            receipts,
            parent_id: m.parent_id.clone(),
            level: m.level.clone(),
            depth: m.ancestors.len() + 1,
            created_at: m.created_at.to_string(),
            updated_at: m.updated_at.to_string(),
        })
    }
}

fn merchant_refused(field: &str, error: MerchantError) -> ApiError {
    refused(field, error)
}

/// What opening a merchant or a sub-merchant is given, before it is checked.
struct Opening<'a> {
    merchant_type: &'a str,
    name: &'a str,
    scenario: &'a ScenarioBody,
    contact: &'a ContactBody,
    settlement_cycle: Option<&'a str>,
    business: Option<&'a BusinessBody>,
    level: Option<&'a str>,
}

impl Opening<'_> {
    /// The application, from `member_id`, checked field by field (no id, no parent yet).
    fn application(&self, member_id: sanhu_core::id::MemberId) -> Result<MerchantApplication, ApiError> {
        let kind = ScenarioKind::parse(&self.scenario.kind)
            .ok_or_else(|| merchant_refused("scenario.kind", MerchantError::ScenarioInvalid))?;
        let place = check_scenario(kind, self.scenario.url.as_deref(), self.scenario.address.as_deref())
            .map_err(|e| merchant_refused("scenario", e))?;
        let scenario = match kind {
            ScenarioKind::OfflineStore => Scenario { kind: kind.as_str().to_owned(), url: None, address: Some(place) },
            _ => Scenario { kind: kind.as_str().to_owned(), url: Some(place), address: None },
        };
        let business = match self.business {
            None => None,
            Some(b) => Some((
                RealName::organisation(&b.registered_name).map_err(|e| refused("business.registered_name", e))?,
                Certificate::parse(CertificateType::UnifiedSocialCreditCode, &b.credit_code)
                    .map_err(|e| refused("business.credit_code", e))?,
            )),
        };
        let level = match self.level {
            Some(level) if level.is_empty() || level.len() > 32 => {
                return Err(merchant_refused("level", MerchantError::LevelUnknown))
            }
            level => level.map(str::to_owned),
        };
        Ok(MerchantApplication {
            id: None,
            member_id,
            merchant_type: self.merchant_type.to_owned(),
            name: check_name(self.name).map_err(|e| merchant_refused("name", e))?,
            scenario,
            contact_name: RealName::person(&self.contact.name).map_err(|e| refused("contact.name", e))?,
            contact_phone: fields::phone("contact.phone", &self.contact.phone)?,
            settlement_cycle: check_settlement_cycle(self.settlement_cycle.unwrap_or("t1"))
                .map_err(|e| merchant_refused("settlement_cycle", e))?
                .to_owned(),
            business,
            parent_id: None,
            level,
        })
    }
}

/// POST /v1/merchants
#[utoipa::path(
    post,
    path = "/v1/merchants",
    tag = "merchants",
    operation_id = "openMerchant",
    summary = "Open a merchant from a member",
    description = "A merchant (applying) of a configured type, opened from an existing member and under its customer: \
        one customer may be a member and merchants at once, with one customer number. The business is recognised by \
        its licence's credit code (or, for a personal merchant, its customer's certificate): onboarded again it lands \
        under the same customer, and under another customer it is refused (`merchant_business_of_another_customer`). \
        A customer has at most `merchants_per_customer_max` merchants (`merchant_cap_reached`).",
    request_body = OpenMerchantBody,
    responses((status = 201, description = "The merchant, applying.", body = MerchantView))
)]
pub async fn open_merchant(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    scope: Option<axum::Extension<IdempotencyScope>>,
    body: Bytes,
) -> Result<(StatusCode, Json<MerchantView>), ApiError> {
    let body: OpenMerchantBody = parse_body(&body)?;
    let opening = Opening {
        merchant_type: &body.merchant_type,
        name: &body.name,
        scenario: &body.scenario,
        contact: &body.contact,
        settlement_cycle: body.settlement_cycle.as_deref(),
        business: body.business.as_ref(),
        level: body.level.as_deref(),
    };
    let mut application = opening.application(ids::member_id("member_id", &body.member_id)?)?;
    // Under an Idempotency-Key, every run of the request opens (or finds) one merchant.
    application.id = scope.map(|axum::Extension(scope)| scope.merchant_id());
    application.parent_id = body.parent_id.as_deref().map(|p| merchant_id("parent_id", p)).transpose()?;
    let parties = state.parties.clone();
    let merchant = run(move || async move { parties.open_merchant(&application, &actor).await }).await?;
    tracing::info!(merchant.id = %merchant.id, customer.id = %merchant.customer_id, "merchant opened");
    Ok((StatusCode::CREATED, Json(MerchantView::read(&merchant, &state).await?)))
}

/// GET /v1/merchants/{id}
#[utoipa::path(
    get,
    path = "/v1/merchants/{id}",
    tag = "merchants",
    operation_id = "getMerchant",
    summary = "Get a merchant",
    description = "Its type, status (with the reason), scenario, contact, documents (masked), settlement account, \
        reviews, accounts and what it received today and this month.",
    params(("id" = String, Path, description = "The merchant's id.", pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    responses((status = 200, description = "The merchant.", body = MerchantView))
)]
pub async fn get_merchant(
    State(state): State<AppState>,
    MerchantIdPath(id): MerchantIdPath,
) -> Result<Json<MerchantView>, ApiError> {
    let merchant = state.parties.get_merchant(id).await?;
    Ok(Json(MerchantView::read(&merchant, &state).await?))
}

/// A page of merchants, in id order (the order they were opened).
#[derive(Serialize, utoipa::ToSchema)]
pub struct MerchantList {
    data: Vec<MerchantView>,
    /// Pass as `after` for the next page; null on the last page.
    #[schema(required, value_type = Option<sanhu_core::id::MerchantId>, inline)]
    next_cursor: Option<String>,
}

/// GET /v1/merchants
#[utoipa::path(
    get,
    path = "/v1/merchants",
    tag = "merchants",
    operation_id = "listMerchants",
    summary = "List merchants",
    description = "Merchants in the order they were opened, filtered by status, type, customer or member, with a \
        cursor. A client bound to a member lists the merchants it reaches only: its member's and every merchant \
        below them in the hierarchy.",
    params(
        ("status" = inline(Option<sanhu_core::party::merchant::MerchantStatus>), Query, description = "The merchants in this status."),
        ("merchant_type" = inline(Option<sanhu_core::party::merchant::MerchantTypeCode>), Query, description = "A merchant type's code."),
        ("customer_id" = inline(Option<sanhu_core::id::CustomerId>), Query, description = "The customer's merchants."),
        ("member_id" = inline(Option<sanhu_core::id::MemberId>), Query, description = "The member's merchants."),
        ("name" = Option<String>, Query, nullable = false, min_length = 1, max_length = 100, description = "Text the merchant's name or its business's registered name contains."),
        ("certificate_number" = Option<String>, Query, nullable = false, min_length = 1, max_length = 64, description = "The business's certificate number (a unified social credit code, or a personal merchant's certificate), exactly."),
        crate::query::Paging<sanhu_core::id::MerchantId>,
    ),
    responses((status = 200, description = "A page of merchants.", body = MerchantList))
)]
pub async fn list_merchants(
    State(state): State<AppState>,
    Binding(bound_to): Binding,
    query: QueryParams,
) -> Result<Json<MerchantList>, ApiError> {
    let query = query.only(&[
        "status",
        "merchant_type",
        "customer_id",
        "member_id",
        "name",
        "certificate_number",
        "after",
        "limit",
    ])?;
    let text = |name: &str, max: usize| -> Result<Option<String>, ApiError> {
        match query.get(name).map(str::trim) {
            None => Ok(None),
            Some(text) if !text.is_empty() && text.chars().count() <= max && !text.chars().any(char::is_control) => {
                Ok(Some(text.to_owned()))
            }
            Some(_) => Err(ApiError::new(code::INVALID_QUERY, format!("{name} is 1 to {max} characters of text"))),
        }
    };
    let limit = query.limit(state.config.page_size_max)?;
    let status = match query.get("status") {
        None => None,
        Some(text) => Some(MerchantStatus::parse(text).ok_or_else(|| {
            ApiError::new(code::INVALID_QUERY, "status is applying, under_review, active, rejected, frozen or closed")
        })?),
    };
    let mut filter = MerchantFilter {
        status,
        merchant_type: query.get("merchant_type").map(str::to_owned),
        customer_id: query.get("customer_id").map(|c| ids::customer_id("customer_id", c)).transpose()?,
        member_id: query.get("member_id").map(|m| ids::member_id("member_id", m)).transpose()?,
        name: text("name", 100)?,
        certificate_number: text("certificate_number", 64)?,
        reached_by: None,
    };
    // A bound client's list is what it reaches: its member's merchants and those below them (a
    // `member_id` it does not reach is refused before this).
    filter.reached_by = bound_to;
    let after = query
        .get("after")
        .map(|a| {
            MerchantId::parse(a).ok_or_else(|| {
                ApiError::new(code::INVALID_CURSOR, "after must be a next_cursor this endpoint returned")
            })
        })
        .transpose()?;
    let page = state.parties.list_merchants(&filter, after, limit).await?;
    let (merchants, next_cursor) = (page.merchants, page.next);
    let mut data = Vec::with_capacity(merchants.len());
    for merchant in &merchants {
        data.push(MerchantView::read(merchant, &state).await?);
    }
    Ok(Json(MerchantList { data, next_cursor }))
}

/// GET /v1/merchants/{id}/history
#[utoipa::path(
    get,
    path = "/v1/merchants/{id}/history",
    tag = "merchants",
    operation_id = "getMerchantHistory",
    summary = "A merchant's history",
    description = "Every change to the merchant, oldest first: opened, documents given, submitted, reviewed, \
        settlement account set and verified, status changed; with who, when and why.",
    params(
        ("id" = String, Path, description = "The merchant's id.", pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
        crate::query::Paging<crate::query::SequenceCursor>,
    ),
    responses((status = 200, description = "A page of history.", body = HistoryPage))
)]
pub async fn merchant_history(
    State(state): State<AppState>,
    MerchantIdPath(id): MerchantIdPath,
    query: QueryParams,
) -> Result<Json<HistoryPage>, ApiError> {
    let (after, limit) = super::history_window(query, state.config.page_size_max)?;
    state.parties.get_merchant(id).await?;
    let entries = state.parties.record_history(&id.to_string(), after, limit).await?;
    Ok(Json(HistoryPage::of(&entries, limit)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = MerchantLegalPersonRequest)]
struct LegalPersonBody {
    #[schema(min_length = 1, max_length = 64, examples("张三"))]
    name: String,
    /// `id_card` by default.
    #[schema(nullable = false, value_type = Option<sanhu_core::party::CertificateType>, inline)]
    certificate_type: Option<String>,
    /// Read, checked and kept masked only.
    #[schema(min_length = 1, max_length = 64, examples("110101199003071233"))]
    certificate_number: String,
}

/// Documents for the onboarding review; what is left out stays as it was.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = MerchantDocumentsRequest)]
struct DocumentsBody {
    /// The licence's number: the business's credit code given when the merchant was opened.
    #[schema(nullable = false, min_length = 1, max_length = 64, examples("91110108MA01ABCD0B"))]
    licence_number: Option<String>,
    legal_person: Option<LegalPersonBody>,
    /// References to photos of the premises in the platform's file store (at most 10).
    #[schema(nullable = false, value_type = Option<Vec<PhotoReference>>, inline, max_items = 10)]
    premises_photos: Option<Vec<String>>,
}

/// POST /v1/merchants/{id}/documents
#[utoipa::path(
    post,
    path = "/v1/merchants/{id}/documents",
    tag = "merchants",
    operation_id = "giveMerchantDocuments",
    summary = "Give documents for the onboarding review",
    description = "While applying: the licence number (it must be the business's credit code), the legal person's \
        certificate, the premises photos' references. Certificate numbers are kept masked.",
    params(("id" = String, Path, description = "The merchant's id.", pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    request_body = DocumentsBody,
    responses((status = 200, description = "The merchant with its documents.", body = MerchantView))
)]
pub async fn give_documents(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    MerchantIdPath(id): MerchantIdPath,
    body: Bytes,
) -> Result<Json<MerchantView>, ApiError> {
    let body: DocumentsBody = parse_body(&body)?;
    let licence_number = body
        .licence_number
        .as_deref()
        .map(|n| {
            Certificate::parse(CertificateType::UnifiedSocialCreditCode, n).map_err(|e| refused("licence_number", e))
        })
        .transpose()?;
    let legal_person = match &body.legal_person {
        None => None,
        Some(l) => {
            let certificate_type = match &l.certificate_type {
                None => CertificateType::IdCard,
                Some(t) => CertificateType::parse(t).map_err(|e| refused("legal_person.certificate_type", e))?,
            };
            Some((
                RealName::person(&l.name).map_err(|e| refused("legal_person.name", e))?,
                Certificate::parse(certificate_type, &l.certificate_number)
                    .map_err(|e| refused("legal_person.certificate_number", e))?,
            ))
        }
    };
    let given = DocumentsGiven { licence_number, legal_person, premises_photos: body.premises_photos };
    let parties = state.parties.clone();
    let merchant = run(move || async move { parties.give_merchant_documents(id, &given, &actor).await }).await?;
    Ok(Json(MerchantView::read(&merchant, &state).await?))
}

/// A settlement bank account: a corporate account or a personal card.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = MerchantSettlementAccountRequest)]
struct SettlementAccountBody {
    /// `corporate` (对公) or `personal_card`.
    #[schema(value_type = sanhu_core::party::merchant::SettlementKind, inline, examples("corporate"))]
    kind: String,
    /// A corporate account's name must be the business's registered name; a card's, the member's
    /// real name.
    #[schema(pattern = "\\S")]
    account_name: String,
    /// A corporate account: 6 to 32 digits, not Luhn-checked. A card: Luhn-checked.
    #[schema(pattern = "[0-9]")]
    account_number: String,
    /// A corporate account's bank: 3 digits.
    #[schema(nullable = false, pattern = "^[0-9]{3}$")]
    bank_code: Option<String>,
    /// A corporate account's branch (联行号): 12 digits.
    #[schema(nullable = false, pattern = "^[0-9]{12}$")]
    branch_code: Option<String>,
}

/// POST /v1/merchants/{id}/settlement-account
#[utoipa::path(
    post,
    path = "/v1/merchants/{id}/settlement-account",
    tag = "merchants",
    operation_id = "setMerchantSettlementAccount",
    summary = "Set a merchant's settlement bank account",
    description = "Of a kind the merchant's type accepts (`settlement_account_kind_not_accepted`): a corporate account \
        bearing the business's registered name (`settlement_account_name_mismatch`), with its bank and branch codes, \
        or a card in the member's real name. Unverified until the platform says otherwise. The number is kept masked.",
    params(("id" = String, Path, description = "The merchant's id.", pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    request_body = SettlementAccountBody,
    responses((status = 200, description = "The merchant with its settlement account.", body = MerchantView))
)]
pub async fn set_settlement_account(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    MerchantIdPath(id): MerchantIdPath,
    body: Bytes,
) -> Result<Json<MerchantView>, ApiError> {
    let body: SettlementAccountBody = parse_body(&body)?;
    let given = match body.kind.as_str() {
        "corporate" => SettlementAccountGiven::Corporate {
            account_name: body.account_name.clone(),
            number: body.account_number.clone(),
            bank_code: body.bank_code.clone().unwrap_or_default(),
            branch_code: body.branch_code.clone().unwrap_or_default(),
        },
        "personal_card" => SettlementAccountGiven::PersonalCard {
            account_name: RealName::person(&body.account_name).map_err(|e| refused("account_name", e))?,
            number: CardNumber::parse(&body.account_number).map_err(|e| refused("account_number", e))?,
        },
        _ => return Err(merchant_refused("kind", MerchantError::SettlementKindNotAccepted)),
    };
    let parties = state.parties.clone();
    let merchant = run(move || async move { parties.set_settlement_account(id, &given, &actor).await }).await?;
    Ok(Json(MerchantView::read(&merchant, &state).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = MerchantVerificationRequest)]
struct VerificationBody {
    /// Whether the account was verified (a small payment confirmed, the bank's word).
    verified: bool,
    /// The number of the account verified: it must be the merchant's settlement account
    /// (`settlement_account_changed`), and the verification stays bound to it.
    #[schema(pattern = "[0-9]", examples("1100000000000000000001"))]
    account_number: String,
}

/// POST /v1/merchants/{id}/settlement-account/verification
#[utoipa::path(
    post,
    path = "/v1/merchants/{id}/settlement-account/verification",
    tag = "merchants",
    operation_id = "verifyMerchantSettlementAccount",
    summary = "Record a settlement account's verification",
    description = "The platform's word on the settlement account: `verified` or `failed`, for the account whose number \
        it names; another account than the merchant's is refused (`settlement_account_changed`). The verification is \
        bound to that account.",
    params(("id" = String, Path, description = "The merchant's id.", pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    request_body = VerificationBody,
    responses((status = 200, description = "The merchant.", body = MerchantView))
)]
pub async fn verify_settlement_account(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    MerchantIdPath(id): MerchantIdPath,
    body: Bytes,
) -> Result<Json<MerchantView>, ApiError> {
    let body: VerificationBody = parse_body(&body)?;
    let number: String = body.account_number.chars().filter(|c| !c.is_whitespace()).collect();
    let parties = state.parties.clone();
    let merchant =
        run(move || async move { parties.verify_settlement_account(id, &number, body.verified, &actor).await }).await?;
    Ok(Json(MerchantView::read(&merchant, &state).await?))
}

/// POST /v1/merchants/{id}/submit
#[utoipa::path(
    post,
    path = "/v1/merchants/{id}/submit",
    tag = "merchants",
    operation_id = "submitMerchant",
    summary = "Submit a merchant for review",
    description = "Applying → under review, once the documents its type requires (`merchant_documents_missing`) and a \
        settlement account (`settlement_account_missing`) are given.",
    params(("id" = String, Path, description = "The merchant's id.", pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    request_body = Option<crate::wallet::recharges::EmptyBody>,
    responses((status = 200, description = "The merchant, under review.", body = MerchantView))
)]
pub async fn submit_merchant(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    MerchantIdPath(id): MerchantIdPath,
    body: Bytes,
) -> Result<Json<MerchantView>, ApiError> {
    let _: crate::wallet::recharges::EmptyBody = crate::json::parse_body_or_empty(&body)?;
    let parties = state.parties.clone();
    let merchant = run(move || async move { parties.submit_merchant(id, &actor).await }).await?;
    Ok(Json(MerchantView::read(&merchant, &state).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = MerchantReviewRequest)]
struct ReviewBody {
    #[schema(value_type = sanhu_core::party::merchant::ReviewDecision, inline, examples("approve"))]
    decision: String,
    /// Required to reject or ask for more.
    #[schema(nullable = false, value_type = Option<sanhu_core::party::change::Reason>, inline)]
    reason: Option<String>,
}

/// POST /v1/merchants/{id}/review
#[utoipa::path(
    post,
    path = "/v1/merchants/{id}/review",
    tag = "merchants",
    operation_id = "reviewMerchant",
    summary = "Decide a merchant's application",
    description = "Staff's decision, through maker-checker: a staff member's request is held (202, an approval) and \
        applied when another staff member approves it; an API client's is refused (`merchant_review_staff_only`). \
        Under review only (`merchant_not_under_review`). Approved, the merchant becomes active and the accounts its \
        type configures open for its member; approval needs the settlement account verified \
        (`settlement_account_unverified`). Rejected, it stays rejected; asked for more, it goes back to applying. \
        Rejecting and asking for more take a reason (`merchant_review_reason_required`). The review keeps who \
        submitted, the maker, the checker, when and why.",
    params(("id" = String, Path, description = "The merchant's id.", pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    request_body = ReviewBody,
    responses((status = 200, description = "The merchant after the decision.", body = MerchantView))
)]
pub async fn review_merchant(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    approved: Option<axum::Extension<ApprovedRequest>>,
    MerchantIdPath(id): MerchantIdPath,
    body: Bytes,
) -> Result<Json<MerchantView>, ApiError> {
    let body: ReviewBody = parse_body(&body)?;
    // Only a staff member's decision another staff member approved reaches here as such; a staff
    // member's own request was held before (the route is `.held()`), and an API client, bound or
    // not, never decides alone.
    let Some(axum::Extension(approved)) = approved else {
        return Err(ApiError::refused(Rejection::of(MerchantError::ReviewByStaffOnly)));
    };
    let checker = approved.checker.as_ref().map(|c| c.actor());
    let decision = ReviewDecision::parse(&body.decision).ok_or_else(|| {
        ApiError::new(code::INVALID_FIELD, "decision is approve, reject or request_more").within("decision")
    })?;
    let reason = body.reason.as_deref().map(fields::reason).transpose()?;
    let parties = state.parties.clone();
    let merchant = run(move || async move {
        parties.review_merchant(id, decision, reason.as_ref(), &actor, checker.as_ref()).await
    })
    .await?;
    Ok(Json(MerchantView::read(&merchant, &state).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = MerchantStatusRequest)]
struct StatusBody {
    /// `frozen`, `active` (unfreeze) or `closed`.
    #[schema(value_type = super::choices::MerchantStatusChange, inline, examples("frozen"))]
    status: String,
    #[schema(value_type = sanhu_core::party::change::Reason, inline)]
    reason: String,
}

/// POST /v1/merchants/{id}/status
#[utoipa::path(
    post,
    path = "/v1/merchants/{id}/status",
    tag = "merchants",
    operation_id = "setMerchantStatus",
    summary = "Freeze, unfreeze or close a merchant",
    description = "`frozen` from active, `active` from frozen, `closed` from any status but closed \
        (`merchant_status_change_not_allowed`), with a reason. A frozen or closed merchant receives no payments \
        (`merchant_not_receiving`).",
    params(("id" = String, Path, description = "The merchant's id.", pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    request_body = StatusBody,
    responses((status = 200, description = "The merchant.", body = MerchantView))
)]
pub async fn set_merchant_status(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    MerchantIdPath(id): MerchantIdPath,
    body: Bytes,
) -> Result<Json<MerchantView>, ApiError> {
    let body: StatusBody = parse_body(&body)?;
    let to =
        MerchantStatus::parse(&body.status).ok_or_else(|| merchant_refused("status", MerchantError::StatusInvalid))?;
    let reason = fields::reason(&body.reason)?;
    let parties = state.parties.clone();
    let merchant = run(move || async move { parties.change_merchant_status(id, to, &reason, &actor).await }).await?;
    Ok(Json(MerchantView::read(&merchant, &state).await?))
}

/// A configured merchant type.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = MerchantType)]
pub struct MerchantTypeView {
    #[schema(value_type = sanhu_core::party::merchant::MerchantTypeCode, inline)]
    code: String,
    /// As configured.
    name: String,
    /// The kind of member it is opened from.
    #[schema(value_type = sanhu_core::party::PartyKind, inline)]
    member_kind: String,
    real_name_required: bool,
    #[schema(value_type = Vec<sanhu_core::party::merchant::DocumentKind>, inline)]
    documents: Vec<String>,
    #[schema(value_type = Vec<sanhu_core::party::merchant::SettlementKind>, inline)]
    settlement_accounts: Vec<String>,
    /// Minor units.
    #[schema(minimum = 1)]
    per_payment: i64,
    /// Minor units; at least `per_payment`.
    #[schema(minimum = 1)]
    per_day: i64,
    /// Minor units; at least `per_day`.
    #[schema(minimum = 1)]
    per_month: i64,
    /// The account types opened when a merchant of this type becomes active.
    #[schema(value_type = Vec<sanhu_core::party::AccountTypeCode>, inline)]
    accounts: Vec<String>,
}

/// The configured merchant types.
#[derive(Serialize, utoipa::ToSchema)]
pub struct MerchantTypeList {
    data: Vec<MerchantTypeView>,
}

/// GET /v1/merchant-types
#[utoipa::path(
    get,
    path = "/v1/merchant-types",
    tag = "merchants",
    operation_id = "listMerchantTypes",
    summary = "The merchant types",
    description = "As configured (`[[merchant_types]]`): requirements, limits per payment, day and month (minor \
        units; days and months of the platform's calendar), accepted settlement accounts, accounts opened.",
    responses((status = 200, description = "The merchant types.", body = MerchantTypeList))
)]
pub async fn merchant_types(State(state): State<AppState>) -> Json<MerchantTypeList> {
    let data = state
        .parties
        .config()
        .merchant_types
        .iter()
        .map(|t| {
            let s = t.spec();
            MerchantTypeView {
                code: s.code.as_str().to_owned(),
                name: s.name.clone(),
                member_kind: s.member_kind.as_str().to_owned(),
                real_name_required: s.real_name_required,
                documents: s.documents.iter().map(|d| d.as_str().to_owned()).collect(),
                settlement_accounts: s.settlement_accounts.iter().map(|k| k.as_str().to_owned()).collect(),
                per_payment: s.limits.per_payment,
                per_day: s.limits.per_day,
                per_month: s.limits.per_month,
                accounts: s.accounts.iter().map(|a| a.as_str().to_owned()).collect(),
            }
        })
        .collect();
    Json(MerchantTypeList { data })
}

/// A level of the merchant hierarchy, as configured.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = MerchantLevel)]
pub struct MerchantLevelView {
    #[schema(pattern = "^[a-z0-9_]{1,32}$", examples("agent"))]
    code: String,
    /// As configured (渠道商, 代理商 ...).
    name: String,
    /// A merchant of it may stand at the top, without a parent.
    top: bool,
    /// The levels a merchant of it may sit under.
    under: Vec<String>,
    /// The merchant types it mounts; empty: every type.
    #[schema(value_type = Vec<sanhu_core::party::merchant::MerchantTypeCode>, inline)]
    merchant_types: Vec<String>,
    /// A special merchant's level (特约商户): its merchants open sub-merchants through their client.
    special: bool,
    /// A sub-merchant's level (子商户): no login or client of its own, operated through its parent's client.
    sub_merchant: bool,
    /// A service provider's level (服务商): merchants authorise a merchant of it for named products
    /// (`POST /v1/merchants/{id}/providers`).
    service_provider: bool,
}

/// The configured levels and the deepest the hierarchy may be.
#[derive(Serialize, utoipa::ToSchema)]
pub struct MerchantLevelList {
    data: Vec<MerchantLevelView>,
    /// How many levels of merchants deep the hierarchy may be (`merchant_depth_max`).
    #[schema(minimum = 1)]
    depth_max: usize,
}

/// GET /v1/merchant-levels
#[utoipa::path(
    get,
    path = "/v1/merchant-levels",
    tag = "merchants",
    operation_id = "listMerchantLevels",
    summary = "The merchant hierarchy's levels",
    description = "As configured (`[[merchant_levels]]`, `merchant_depth_max`): which levels exist, which may sit \
        under which and which at the top, the merchant types each mounts, which are special (特约商户: they open \
        sub-merchants) and which are sub-merchants (子商户).",
    responses((status = 200, description = "The levels.", body = MerchantLevelList))
)]
pub async fn merchant_levels(State(state): State<AppState>) -> Json<MerchantLevelList> {
    let levels = &state.parties.config().merchant_levels;
    let data = levels
        .iter()
        .map(|l| MerchantLevelView {
            code: l.code.clone(),
            name: l.name.clone(),
            top: l.top,
            under: l.under.clone(),
            merchant_types: l.merchant_types.iter().map(|t| t.as_str().to_owned()).collect(),
            special: l.special,
            sub_merchant: l.sub_merchant,
            service_provider: l.service_provider,
        })
        .collect();
    Json(MerchantLevelList { data, depth_max: levels.depth_max() })
}

async fn below(state: &AppState, id: MerchantId, subtree: bool, query: QueryParams) -> Result<MerchantList, ApiError> {
    let query = query.only(&["after", "limit"])?;
    let limit = query.limit(state.config.page_size_max)?;
    let after = query
        .get("after")
        .map(|a| {
            MerchantId::parse(a).ok_or_else(|| {
                ApiError::new(code::INVALID_CURSOR, "after must be a next_cursor this endpoint returned")
            })
        })
        .transpose()?;
    let merchants = state.parties.merchants_below(id, subtree, after, limit).await?;
    let next_cursor = (merchants.len() == limit as usize).then(|| merchants.last().map(|m| m.id.clone())).flatten();
    let mut data = Vec::with_capacity(merchants.len());
    for merchant in &merchants {
        data.push(MerchantView::read(merchant, state).await?);
    }
    Ok(MerchantList { data, next_cursor })
}

/// GET /v1/merchants/{id}/children
#[utoipa::path(
    get,
    path = "/v1/merchants/{id}/children",
    tag = "merchants",
    operation_id = "listMerchantChildren",
    summary = "The merchants directly under a merchant",
    description = "In the order they were opened, with a cursor. A bound client reaches a merchant's children when \
        it reaches the merchant.",
    params(
        ("id" = String, Path, description = "The merchant's id.", pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
        crate::query::Paging<sanhu_core::id::MerchantId>,
    ),
    responses((status = 200, description = "A page of merchants.", body = MerchantList))
)]
pub async fn merchant_children(
    State(state): State<AppState>,
    MerchantIdPath(id): MerchantIdPath,
    query: QueryParams,
) -> Result<Json<MerchantList>, ApiError> {
    Ok(Json(below(&state, id, false, query).await?))
}

/// GET /v1/merchants/{id}/subtree
#[utoipa::path(
    get,
    path = "/v1/merchants/{id}/subtree",
    tag = "merchants",
    operation_id = "listMerchantSubtree",
    summary = "Every merchant below a merchant",
    description = "At every depth, in the order they were opened, with a cursor: what a client bound to the \
        merchant's member reaches besides its own.",
    params(
        ("id" = String, Path, description = "The merchant's id.", pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
        crate::query::Paging<sanhu_core::id::MerchantId>,
    ),
    responses((status = 200, description = "A page of merchants.", body = MerchantList))
)]
pub async fn merchant_subtree(
    State(state): State<AppState>,
    MerchantIdPath(id): MerchantIdPath,
    query: QueryParams,
) -> Result<Json<MerchantList>, ApiError> {
    Ok(Json(below(&state, id, true, query).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = MerchantMoveRequest)]
struct MoveBody {
    /// The new parent; null: to the top (for a level that may stand there).
    #[schema(required = true, value_type = Option<sanhu_core::id::MerchantId>, inline)]
    parent_id: Option<String>,
    #[schema(value_type = sanhu_core::party::change::Reason, inline)]
    reason: String,
}

/// POST /v1/merchants/{id}/move
#[utoipa::path(
    post,
    path = "/v1/merchants/{id}/move",
    tag = "merchants",
    operation_id = "moveMerchant",
    summary = "Move a merchant to another parent",
    description = "Staff's or the platform's, with a reason; a staff member's waits for a second one \
        (maker-checker). The merchant moves with everything below it: the new parent must exist \
        (`merchant_parent_unknown`), be active (`merchant_parent_not_active`), not be the merchant or below it \
        (`merchant_move_into_own_subtree`), be of a level the merchant's may sit under \
        (`merchant_level_not_allowed`), and leave the subtree no deeper than allowed (`merchant_depth_exceeded`). \
        From then on, clients bound above the new place reach it, and those above the old one only do no longer. \
        Kept in the history (`merchant.moved`).",
    params(("id" = String, Path, description = "The merchant's id.", pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    request_body = MoveBody,
    responses((status = 200, description = "The merchant in its new place.", body = MerchantView))
)]
pub async fn move_merchant(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    MerchantIdPath(id): MerchantIdPath,
    body: Bytes,
) -> Result<Json<MerchantView>, ApiError> {
    let body: MoveBody = parse_body(&body)?;
    let to = body.parent_id.as_deref().map(|p| merchant_id("parent_id", p)).transpose()?;
    let reason = fields::reason(&body.reason)?;
    let parties = state.parties.clone();
    let merchant = run(move || async move { parties.move_merchant(id, to, &reason, &actor).await }).await?;
    Ok(Json(MerchantView::read(&merchant, &state).await?))
}

/// A sub-merchant to open under a special merchant: as any merchant, without a member (its own is
/// registered with it, with no login) or a parent (the path's).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = OpenSubMerchantRequest)]
struct SubMerchantBody {
    #[schema(value_type = sanhu_core::party::merchant::MerchantTypeCode, inline, examples("enterprise"))]
    merchant_type: String,
    #[schema(value_type = sanhu_core::openapi::MerchantName, inline, examples("某某咖啡 二店"))]
    name: String,
    scenario: ScenarioBody,
    contact: ContactBody,
    #[schema(nullable = false, value_type = Option<sanhu_core::openapi::SettlementCycle>, inline, examples("t1"))]
    settlement_cycle: Option<String>,
    /// The business licence, for a type that requires one.
    business: Option<BusinessBody>,
    /// A sub-merchant level under the parent's; by default the only one there is.
    #[schema(nullable = false, pattern = "^[a-z0-9_]{1,32}$", examples("store"))]
    level: Option<String>,
}

/// POST /v1/merchants/{id}/sub-merchants
#[utoipa::path(
    post,
    path = "/v1/merchants/{id}/sub-merchants",
    tag = "merchants",
    operation_id = "openSubMerchant",
    summary = "Open a sub-merchant under a special merchant",
    description = "Sub-merchant mode (子商户): a special merchant (特约商户, of a level that opens sub-merchants; \
        otherwise `merchant_not_special`) opens, through its own client, a sub-merchant under itself (applying, as \
        any merchant). The sub-merchant's customer and member are registered with it, active and with no login: \
        no client is ever bound to it (`sub_merchant_client_refused`), and it is operated only through its \
        parent's client, which reaches it. Nothing is opened under a sub-merchant: two levels, as the member \
        school has them. The parent must be active (`merchant_parent_not_active`).",
    params(("id" = String, Path, description = "The special merchant's id.", pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    request_body = SubMerchantBody,
    responses((status = 201, description = "The sub-merchant, applying.", body = MerchantView))
)]
pub async fn open_sub_merchant(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    scope: Option<axum::Extension<IdempotencyScope>>,
    MerchantIdPath(parent_id): MerchantIdPath,
    body: Bytes,
) -> Result<(StatusCode, Json<MerchantView>), ApiError> {
    let body: SubMerchantBody = parse_body(&body)?;
    let opening = Opening {
        merchant_type: &body.merchant_type,
        name: &body.name,
        scenario: &body.scenario,
        contact: &body.contact,
        settlement_cycle: body.settlement_cycle.as_deref(),
        business: body.business.as_ref(),
        level: body.level.as_deref(),
    };
    // The member is the one registered with it; this one is never read.
    let mut merchant = opening.application(sanhu_service::clock::new_id())?;
    merchant.id = scope.map(|axum::Extension(scope)| scope.merchant_id());
    let application = SubMerchantApplication { parent_id, merchant };
    let parties = state.parties.clone();
    let merchant = run(move || async move { parties.open_sub_merchant(&application, &actor).await }).await?;
    tracing::info!(merchant.id = %merchant.id, parent.id = %parent_id, "sub-merchant opened");
    Ok((StatusCode::CREATED, Json(MerchantView::read(&merchant, &state).await?)))
}
