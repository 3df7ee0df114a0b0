//! Products (产品) and their signing (签约) over the API: the configured products, a merchant's
//! signings, its application, staff's review (maker-checker), suspension, resumption, termination,
//! and a parent's authorisation of a product to a merchant directly under it (and its revocation).
//! A client bound to a member reaches the signings of the merchants it reaches; any other merchant's
//! id answers `merchant_not_found`, as if absent.

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Json;
use sanhu_core::id::MerchantId;
use sanhu_core::party::product::{ProductError, SigningStatus};
use sanhu_service::party::{Rejection, SigningView};
use serde::{Deserialize, Serialize};

use super::fields;
use super::{run, ActorText, ClientActor};
use crate::error::{code, ApiError};
use crate::json::parse_body;
use crate::principal::ApprovedRequest;
use crate::AppState;

/// A product's longest code: longer names nothing.
const PRODUCT_CODE_BYTES_MAX: usize = 32;

/// The `{id}` and `{product}` of a signing's path.
pub struct SigningPath(pub MerchantId, pub String);

impl<S: Send + Sync> FromRequestParts<S> for SigningPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<SigningPath, ApiError> {
        let Path((id, product)) = Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::new(code::INVALID_ID, "the ids in the path cannot be read"))?;
        let id = merchant_id("the merchant id in the path", &id)?;
        Ok(SigningPath(id, product_code(&product)?))
    }
}

fn merchant_id(field: &str, text: &str) -> Result<MerchantId, ApiError> {
    MerchantId::parse(text).ok_or_else(|| {
        ApiError::new(code::INVALID_ID, format!("{field} is not a merchant id (mch_ and 26 characters)"))
    })
}

/// A product code that could name a product; one that cannot is none of the platform's.
fn product_code(text: &str) -> Result<String, ApiError> {
    if text.is_empty() || text.len() > PRODUCT_CODE_BYTES_MAX {
        return Err(ApiError::refused(Rejection::of(ProductError::NotFound)));
    }
    Ok(text.to_owned())
}

/// A configured product.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Product)]
pub struct ProductView {
    #[schema(value_type = sanhu_core::openapi::ProductCode, inline)]
    code: String,
    name: String,
    /// The fee the platform charges on what the product moves, in basis points (万分之).
    #[schema(minimum = 0, maximum = 10000)]
    fee_rate_bp: u32,
    /// The merchant types that may sign it.
    #[schema(value_type = Vec<sanhu_core::party::merchant::MerchantTypeCode>, inline)]
    merchant_types: Vec<String>,
    /// Only merchants of internal customers (the group's own) may sign it.
    internal_only: bool,
}

/// The configured products.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ProductList {
    data: Vec<ProductView>,
}

/// GET /v1/products
#[utoipa::path(
    get,
    path = "/v1/products",
    tag = "products",
    operation_id = "listProducts",
    summary = "The products merchants sign",
    description = "As configured (`[[products]]`): each product's code, name, fee rate (basis points), the merchant \
        types that may sign it and whether only internal customers may.",
    responses((status = 200, description = "The products.", body = ProductList))
)]
pub async fn list_products(State(state): State<AppState>) -> Json<ProductList> {
    let data = state
        .parties
        .config()
        .products
        .iter()
        .map(|p| ProductView {
            code: p.code.clone(),
            name: p.name.clone(),
            fee_rate_bp: p.fee_rate_bp,
            merchant_types: p.merchant_types.iter().map(|t| t.as_str().to_owned()).collect(),
            internal_only: p.internal_only,
        })
        .collect();
    Json(ProductList { data })
}

/// The signing above that authorised one.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ProductAuthoriser)]
pub struct AuthoriserView {
    /// The parent that authorised it.
    #[schema(value_type = sanhu_core::id::MerchantId, inline)]
    merchant_id: String,
    /// The parent's signing it stands on.
    serial: u32,
}

/// One decision of staff's review of an application.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ProductSigningReview)]
pub struct SigningReviewView {
    /// `approve` or `reject`.
    decision: String,
    #[schema(required = true, value_type = Option<sanhu_core::party::change::Reason>, inline)]
    reason: Option<String>,
    /// The maker.
    #[schema(value_type = ActorText, inline)]
    by: String,
    /// The checker: the staff member who approved the maker's decision.
    #[schema(required = true, value_type = Option<ActorText>, inline)]
    checker: Option<String>,
    #[schema(value_type = sanhu_core::Timestamp, inline)]
    at: String,
}

/// A merchant's signing of a product.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ProductSigning)]
pub struct ProductSigningView {
    #[schema(value_type = sanhu_core::openapi::ProductCode, inline)]
    product: String,
    /// Names the signing among the merchant's; an authorisation below names it.
    serial: u32,
    #[schema(value_type = SigningStatus, inline)]
    status: String,
    /// Whether the merchant may use the product now: signed, and every signing above it that it stands
    /// on too (a parent's suspension takes it from everything below).
    in_effect: bool,
    #[schema(required = true, value_type = Option<sanhu_core::party::change::Reason>, inline)]
    status_reason: Option<String>,
    /// The product's fee rate when applied for or authorised, in basis points.
    fee_rate_bp: u32,
    /// Null: applied for and reviewed by staff; else the parent's signing that authorised it.
    #[schema(required = true)]
    authorised_by: Option<AuthoriserView>,
    reviews: Vec<SigningReviewView>,
    #[schema(value_type = ActorText, inline)]
    applied_by: String,
    #[schema(value_type = sanhu_core::Timestamp, inline)]
    applied_at: String,
    #[schema(value_type = sanhu_core::Timestamp, inline)]
    updated_at: String,
}

impl ProductSigningView {
    fn of(view: &SigningView) -> ProductSigningView {
        let s = &view.signing;
        ProductSigningView {
            product: s.product.clone(),
            serial: s.serial,
            status: s.status.clone(),
            in_effect: view.in_effect,
            status_reason: s.status_reason.clone(),
            fee_rate_bp: s.fee_rate_bp,
            authorised_by: s
                .authorised_by
                .as_ref()
                .map(|a| AuthoriserView { merchant_id: a.merchant_id.clone(), serial: a.serial }),
            reviews: s
                .reviews
                .iter()
                .map(|r| SigningReviewView {
                    decision: r.decision.clone(),
                    reason: r.reason.clone(),
                    by: r.by.clone(),
                    checker: r.checker.clone(),
                    at: r.at.to_string(),
                })
                .collect(),
            applied_by: s.applied_by.clone(),
            applied_at: s.applied_at.to_string(),
            updated_at: s.updated_at.to_string(),
        }
    }
}

/// A merchant's signings, each product's current one.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ProductSigningList {
    data: Vec<ProductSigningView>,
}

/// GET /v1/merchants/{id}/products
#[utoipa::path(
    get,
    path = "/v1/merchants/{id}/products",
    tag = "products",
    operation_id = "listMerchantProducts",
    summary = "A merchant's signed products",
    description = "Each product the merchant has applied for, signed or been authorised, by its current signing, \
        with whether it is in effect now (signed, and so is every signing above it that it stands on). Earlier \
        signings are in the merchant's history.",
    params(("id" = String, Path, description = "The merchant's id.", pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    responses((status = 200, description = "The merchant's signings.", body = ProductSigningList))
)]
pub async fn merchant_products(
    State(state): State<AppState>,
    super::merchants::MerchantIdPath(id): super::merchants::MerchantIdPath,
) -> Result<Json<ProductSigningList>, ApiError> {
    let (_, views) = state.parties.merchant_signings(id).await?;
    Ok(Json(ProductSigningList { data: views.iter().map(ProductSigningView::of).collect() }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ProductApplicationRequest)]
struct ApplicationBody {
    #[schema(value_type = sanhu_core::openapi::ProductCode, inline, examples("balance_payment"))]
    product: String,
}

/// POST /v1/merchants/{id}/products
#[utoipa::path(
    post,
    path = "/v1/merchants/{id}/products",
    tag = "products",
    operation_id = "applyForProduct",
    summary = "Apply to sign a product",
    description = "The merchant's application, under review until staff decide. The product must be configured \
        (`product_not_found`) and signed by the merchant's type (`product_type_not_allowed`); an internal-only \
        product by a merchant of an internal customer only (`product_internal_only`). Nothing of the product may \
        be open (`product_already_signed`), and the merchant must not be rejected or closed \
        (`product_merchant_not_open`). A merchant under a parent gets its products from its parent's authorisation \
        instead (`product_from_parent`).",
    params(("id" = String, Path, description = "The merchant's id.", pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    request_body = ApplicationBody,
    responses((status = 201, description = "The application, under review.", body = ProductSigningView))
)]
pub async fn apply_for_product(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    super::merchants::MerchantIdPath(id): super::merchants::MerchantIdPath,
    body: Bytes,
) -> Result<(StatusCode, Json<ProductSigningView>), ApiError> {
    let body: ApplicationBody = parse_body(&body)?;
    let product = product_code(&body.product)?;
    let parties = state.parties.clone();
    let view = run(move || async move { parties.apply_for_product(id, &product, &actor).await }).await?;
    Ok((StatusCode::CREATED, Json(ProductSigningView::of(&view))))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ProductReviewRequest)]
struct ReviewBody {
    /// `approve` or `reject`.
    #[schema(examples("approve"), pattern = "^(approve|reject)$")]
    decision: String,
    /// Required to reject.
    #[schema(nullable = false, value_type = Option<sanhu_core::party::change::Reason>, inline)]
    reason: Option<String>,
}

/// POST /v1/merchants/{id}/products/{product}/review
#[utoipa::path(
    post,
    path = "/v1/merchants/{id}/products/{product}/review",
    tag = "products",
    operation_id = "reviewProduct",
    summary = "Decide an application to sign a product",
    description = "Staff's decision, through maker-checker: a staff member's request is held (202, an approval) and \
        applied when another staff member approves it; an API client's is refused (`product_review_staff_only`). \
        Under review only (`product_signing_not_under_review`). Approved, the product is signed; rejected (with a \
        reason: `product_review_reason_required`), it stays rejected. The review keeps the maker and the checker.",
    params(
        ("id" = String, Path, description = "The merchant's id.", pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
        ("product" = String, Path, description = "The product's code.", pattern = "^[a-z0-9_]{1,32}$"),
    ),
    request_body = ReviewBody,
    responses((status = 200, description = "The signing after the decision.", body = ProductSigningView))
)]
pub async fn review_product(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    approved: Option<axum::Extension<ApprovedRequest>>,
    SigningPath(id, product): SigningPath,
    body: Bytes,
) -> Result<Json<ProductSigningView>, ApiError> {
    let body: ReviewBody = parse_body(&body)?;
    // Only a staff member's decision another staff member approved reaches here as such (the route is
    // `.held()`); an API client never decides alone.
    let Some(axum::Extension(approved)) = approved else {
        return Err(ApiError::refused(Rejection::of(ProductError::ReviewByStaffOnly)));
    };
    let checker = approved.checker.as_ref().map(|c| c.actor());
    let approve = match body.decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => return Err(ApiError::new(code::INVALID_FIELD, "decision is approve or reject").within("decision")),
    };
    let reason = body.reason.as_deref().map(fields::reason).transpose()?;
    let parties = state.parties.clone();
    let view = run(move || async move {
        parties.review_product(id, &product, approve, reason.as_ref(), &actor, checker.as_ref()).await
    })
    .await?;
    Ok(Json(ProductSigningView::of(&view)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ProductSigningChangeRequest)]
struct ChangeBody {
    #[schema(value_type = sanhu_core::party::change::Reason, inline)]
    reason: String,
}

async fn change(
    state: AppState,
    actor: sanhu_core::party::Actor,
    id: MerchantId,
    product: String,
    to: SigningStatus,
    body: &Bytes,
) -> Result<Json<ProductSigningView>, ApiError> {
    let body: ChangeBody = parse_body(body)?;
    let reason = fields::reason(&body.reason)?;
    let parties = state.parties.clone();
    let view = run(move || async move { parties.change_signing(id, &product, to, &reason, &actor).await }).await?;
    Ok(Json(ProductSigningView::of(&view)))
}

/// POST /v1/merchants/{id}/products/{product}/suspend
#[utoipa::path(
    post,
    path = "/v1/merchants/{id}/products/{product}/suspend",
    tag = "products",
    operation_id = "suspendProduct",
    summary = "Suspend a signed product",
    description = "Staff's or the platform's, with a reason; a staff member's waits for a second one. Signed only \
        (`product_signing_status_change_not_allowed`). Until resumed, the merchant may not use the product \
        (`product_not_signed`), nor may any merchant below it that stands on this signing.",
    params(
        ("id" = String, Path, description = "The merchant's id.", pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
        ("product" = String, Path, description = "The product's code.", pattern = "^[a-z0-9_]{1,32}$"),
    ),
    request_body = ChangeBody,
    responses((status = 200, description = "The signing, suspended.", body = ProductSigningView))
)]
pub async fn suspend_product(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    SigningPath(id, product): SigningPath,
    body: Bytes,
) -> Result<Json<ProductSigningView>, ApiError> {
    change(state, actor, id, product, SigningStatus::Suspended, &body).await
}

/// POST /v1/merchants/{id}/products/{product}/resume
#[utoipa::path(
    post,
    path = "/v1/merchants/{id}/products/{product}/resume",
    tag = "products",
    operation_id = "resumeProduct",
    summary = "Resume a suspended product",
    description = "Staff's or the platform's, with a reason; a staff member's waits for a second one. Suspended \
        only (`product_signing_status_change_not_allowed`). What stood on it below has it again.",
    params(
        ("id" = String, Path, description = "The merchant's id.", pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
        ("product" = String, Path, description = "The product's code.", pattern = "^[a-z0-9_]{1,32}$"),
    ),
    request_body = ChangeBody,
    responses((status = 200, description = "The signing, signed again.", body = ProductSigningView))
)]
pub async fn resume_product(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    SigningPath(id, product): SigningPath,
    body: Bytes,
) -> Result<Json<ProductSigningView>, ApiError> {
    change(state, actor, id, product, SigningStatus::Signed, &body).await
}

/// POST /v1/merchants/{id}/products/{product}/terminate
#[utoipa::path(
    post,
    path = "/v1/merchants/{id}/products/{product}/terminate",
    tag = "products",
    operation_id = "terminateProduct",
    summary = "Terminate a signing",
    description = "Staff's or the platform's, with a reason; a staff member's waits for a second one. Any signing \
        under review, signed or suspended, for good (`product_signing_status_change_not_allowed` otherwise). What \
        stood on it below loses the product for good; the merchant may apply again.",
    params(
        ("id" = String, Path, description = "The merchant's id.", pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
        ("product" = String, Path, description = "The product's code.", pattern = "^[a-z0-9_]{1,32}$"),
    ),
    request_body = ChangeBody,
    responses((status = 200, description = "The signing, terminated.", body = ProductSigningView))
)]
pub async fn terminate_product(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    SigningPath(id, product): SigningPath,
    body: Bytes,
) -> Result<Json<ProductSigningView>, ApiError> {
    change(state, actor, id, product, SigningStatus::Terminated, &body).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ProductAuthorisationRequest)]
struct AuthorisationBody {
    /// The merchant directly under the path's.
    #[schema(value_type = sanhu_core::id::MerchantId, inline)]
    merchant_id: String,
}

/// POST /v1/merchants/{id}/products/{product}/authorise
#[utoipa::path(
    post,
    path = "/v1/merchants/{id}/products/{product}/authorise",
    tag = "products",
    operation_id = "authoriseProduct",
    summary = "Authorise a product to a merchant below",
    description = "The path's merchant (the parent) authorises a product it may use itself to `merchant_id`, a \
        merchant directly under it (`product_authorisation_not_child`). The parent's own signing must be in effect \
        (`product_parent_not_signed`): what is not approved above is never had below. The child's type must sign \
        the product (`product_type_not_allowed`, `product_internal_only`) and have nothing of it open \
        (`product_already_signed`). The child's signing is signed at once, standing on the parent's: suspended or \
        terminated above, it is not in effect. One child's authorisation is its own; a sibling gets nothing from \
        it. A client bound above reaches both; a child's own client reaches no parent.",
    params(
        ("id" = String, Path, description = "The parent's id.", pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
        ("product" = String, Path, description = "The product's code.", pattern = "^[a-z0-9_]{1,32}$"),
    ),
    request_body = AuthorisationBody,
    responses((status = 200, description = "The child's signing.", body = ProductSigningView))
)]
pub async fn authorise_product(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    SigningPath(id, product): SigningPath,
    body: Bytes,
) -> Result<Json<ProductSigningView>, ApiError> {
    let body: AuthorisationBody = parse_body(&body)?;
    let child = merchant_id("merchant_id", &body.merchant_id)?;
    let parties = state.parties.clone();
    let view = run(move || async move { parties.authorise_product(id, &product, child, &actor).await }).await?;
    Ok(Json(ProductSigningView::of(&view)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ProductRevocationRequest)]
struct RevocationBody {
    /// The merchant the path's authorised the product to.
    #[schema(value_type = sanhu_core::id::MerchantId, inline)]
    merchant_id: String,
    #[schema(value_type = sanhu_core::party::change::Reason, inline)]
    reason: String,
}

/// POST /v1/merchants/{id}/products/{product}/revoke
#[utoipa::path(
    post,
    path = "/v1/merchants/{id}/products/{product}/revoke",
    tag = "products",
    operation_id = "revokeProduct",
    summary = "Revoke a product authorised to a merchant below",
    description = "The parent that authorised the product to `merchant_id` takes it back, with a reason: the child's \
        signing is terminated, and what stood on it below loses it. Only the authoriser revokes \
        (`product_revoked_by_authoriser_only`).",
    params(
        ("id" = String, Path, description = "The parent's id.", pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
        ("product" = String, Path, description = "The product's code.", pattern = "^[a-z0-9_]{1,32}$"),
    ),
    request_body = RevocationBody,
    responses((status = 200, description = "The child's signing, terminated.", body = ProductSigningView))
)]
pub async fn revoke_product(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    SigningPath(id, product): SigningPath,
    body: Bytes,
) -> Result<Json<ProductSigningView>, ApiError> {
    let body: RevocationBody = parse_body(&body)?;
    let child = merchant_id("merchant_id", &body.merchant_id)?;
    let reason = fields::reason(&body.reason)?;
    let parties = state.parties.clone();
    let view = run(move || async move { parties.revoke_product(id, &product, child, &reason, &actor).await }).await?;
    Ok(Json(ProductSigningView::of(&view)))
}
