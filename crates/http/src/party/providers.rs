//! Service providers (服务商) over the API: a merchant authorises a service provider for named
//! products, lists its authorisations and revokes one. The merchant's own client (or the platform's)
//! does it; the provider's client reaches none of these routes for the merchant (its id answers
//! `merchant_not_found`). What the provider's client may then do for the merchant is decided by the
//! access layer (`Parties::reaches_for`).

use axum::body::Bytes;
use axum::extract::State;
use axum::Json;
use sanhu_core::id::MerchantId;
use sanhu_service::party::ProviderAuthorisation;
use serde::{Deserialize, Serialize};

use super::fields;
use super::merchants::MerchantIdPath;
use super::{run, ActorText, ClientActor};
use crate::error::{code, ApiError};
use crate::json::parse_body;
use crate::AppState;

fn merchant_id(field: &str, text: &str) -> Result<MerchantId, ApiError> {
    MerchantId::parse(text).ok_or_else(|| {
        ApiError::new(code::INVALID_ID, format!("{field} is not a merchant id (mch_ and 26 characters)")).within(field)
    })
}

/// A merchant's authorisation of a service provider.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ProviderAuthorisation)]
pub struct ProviderAuthorisationView {
    /// The service provider.
    #[schema(value_type = sanhu_core::id::MerchantId, inline)]
    provider_id: String,
    /// Names it among the merchant's authorisations.
    serial: u32,
    /// The products the provider's client uses for the merchant.
    #[schema(value_type = Vec<sanhu_core::openapi::ProductCode>, inline)]
    products: Vec<String>,
    /// `authorised` (in force) or `revoked`.
    #[schema(pattern = "^(authorised|revoked)$")]
    status: String,
    #[schema(value_type = ActorText, inline)]
    authorised_by: String,
    #[schema(value_type = sanhu_core::Timestamp, inline)]
    authorised_at: String,
    /// Who revoked it (or authorised the provider again, replacing it).
    #[schema(required = true, value_type = Option<ActorText>, inline)]
    revoked_by: Option<String>,
    #[schema(required = true, value_type = Option<sanhu_core::party::change::Reason>, inline)]
    revoked_reason: Option<String>,
    #[schema(value_type = sanhu_core::Timestamp, inline)]
    updated_at: String,
}

impl ProviderAuthorisationView {
    fn of(a: &ProviderAuthorisation) -> ProviderAuthorisationView {
        ProviderAuthorisationView {
            provider_id: a.provider_id.clone(),
            serial: a.serial,
            products: a.products.clone(),
            status: a.status.clone(),
            authorised_by: a.authorised_by.clone(),
            authorised_at: a.authorised_at.to_string(),
            revoked_by: a.revoked_by.clone(),
            revoked_reason: a.revoked_reason.clone(),
            updated_at: a.updated_at.to_string(),
        }
    }
}

/// A merchant's authorisations of service providers.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ProviderAuthorisationList {
    data: Vec<ProviderAuthorisationView>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ProviderAuthorisationRequest)]
struct AuthorisationBody {
    /// The service provider: a merchant at a service-provider level.
    #[schema(value_type = sanhu_core::id::MerchantId, inline)]
    provider_id: String,
    /// 1 to 20 distinct configured products.
    #[schema(value_type = Vec<sanhu_core::openapi::ProductCode>, inline, min_items = 1, max_items = 20)]
    products: Vec<String>,
}

/// POST /v1/merchants/{id}/providers
#[utoipa::path(
    post,
    path = "/v1/merchants/{id}/providers",
    tag = "merchants",
    operation_id = "authoriseProvider",
    summary = "Authorise a service provider for named products",
    description = "The merchant (its own client, or the platform's) authorises `provider_id`, an active merchant \
        (`provider_not_active`) at a service-provider level (`provider_not_service_provider`; \
        `provider_unknown`, `provider_self`), for 1 to 20 configured products (`provider_products_invalid`). The \
        provider's bound client then acts for the merchant within exactly those products: it reads the merchant \
        and uses the products for it (a payment to it, say); any other product is refused \
        (`provider_product_not_authorised`), and the merchant's other objects answer 404 as if absent. The \
        merchant still needs each product signed (`product_not_signed`). Authorising the provider again replaces \
        the products (the earlier authorisation is revoked). In the merchant's history \
        (`merchant.provider_authorised`).",
    params(("id" = String, Path, description = "The merchant's id.", pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    request_body = AuthorisationBody,
    responses((status = 200, description = "The authorisation, in force.", body = ProviderAuthorisationView))
)]
pub async fn authorise_provider(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    MerchantIdPath(id): MerchantIdPath,
    body: Bytes,
) -> Result<Json<ProviderAuthorisationView>, ApiError> {
    let body: AuthorisationBody = parse_body(&body)?;
    let provider = merchant_id("provider_id", &body.provider_id)?;
    let products = body.products;
    let parties = state.parties.clone();
    let a = run(move || async move { parties.authorise_provider(id, provider, &products, &actor).await }).await?;
    Ok(Json(ProviderAuthorisationView::of(&a)))
}

/// GET /v1/merchants/{id}/providers
#[utoipa::path(
    get,
    path = "/v1/merchants/{id}/providers",
    tag = "merchants",
    operation_id = "listMerchantProviders",
    summary = "A merchant's authorisations of service providers",
    description = "In the order given, revoked ones too (at most 50 are kept).",
    params(("id" = String, Path, description = "The merchant's id.", pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    responses((status = 200, description = "The authorisations.", body = ProviderAuthorisationList))
)]
pub async fn merchant_providers(
    State(state): State<AppState>,
    MerchantIdPath(id): MerchantIdPath,
) -> Result<Json<ProviderAuthorisationList>, ApiError> {
    let list = state.parties.merchant_providers(id).await?;
    Ok(Json(ProviderAuthorisationList { data: list.iter().map(ProviderAuthorisationView::of).collect() }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ProviderRevocationRequest)]
struct RevocationBody {
    /// The service provider whose authorisation in force is revoked.
    #[schema(value_type = sanhu_core::id::MerchantId, inline)]
    provider_id: String,
    #[schema(value_type = sanhu_core::party::change::Reason, inline)]
    reason: String,
}

/// POST /v1/merchants/{id}/providers/revoke
#[utoipa::path(
    post,
    path = "/v1/merchants/{id}/providers/revoke",
    tag = "merchants",
    operation_id = "revokeProvider",
    summary = "Revoke a service provider's authorisation",
    description = "The merchant (its own client, or the platform's) revokes its authorisation in force of \
        `provider_id`, with a reason (`provider_authorisation_not_found` when there is none). From then on the \
        provider's client reaches nothing of the merchant. In the merchant's history \
        (`merchant.provider_revoked`).",
    params(("id" = String, Path, description = "The merchant's id.", pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    request_body = RevocationBody,
    responses((status = 200, description = "The authorisation, revoked.", body = ProviderAuthorisationView))
)]
pub async fn revoke_provider(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    MerchantIdPath(id): MerchantIdPath,
    body: Bytes,
) -> Result<Json<ProviderAuthorisationView>, ApiError> {
    let body: RevocationBody = parse_body(&body)?;
    let provider = merchant_id("provider_id", &body.provider_id)?;
    let reason = fields::reason(&body.reason)?;
    let parties = state.parties.clone();
    let a = run(move || async move { parties.revoke_provider(id, provider, &reason, &actor).await }).await?;
    Ok(Json(ProviderAuthorisationView::of(&a)))
}
