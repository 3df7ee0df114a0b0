//! The access layer: after the signature is verified, every signed request is checked against its
//! entry of the route table ([`crate::routes`], with the kinds of access of [`crate::scopes`]): the client must hold the route's scope (403 `scope_missing`), and a
//! client bound to one member must stay within what that member reaches: a route that acts for the
//! whole platform is refused (403 `client_bound`), and an id in the path, the body or the query whose
//! owner (a member, or its account's, operator's, bank card's, merchant's) the bound member does not
//! reach is answered with that id's not-found code (404), exactly as if the object did not exist.
//! What a member reaches is decided by one rule, `Parties::reaches`: its own objects, and those of
//! every member running a merchant below one of its merchants in the merchant hierarchy (never
//! beside or above). Lists that search every member's objects are filtered by their handlers, which
//! take [`crate::principal::Binding`] and ask the same rule.
//!
//! The layer sits innermost, just before the handler, so that a refused POST is recorded by the audit
//! log like any other, and replayed under its Idempotency-Key like any other answer: a client's scopes
//! and binding never change, and neither does whose an object is. Where an object sits in the
//! hierarchy may change (staff move a merchant): a request is checked against the hierarchy as it
//! stands when it is checked, and a replay answers what the first run was answered.

use axum::body::{to_bytes, Body};
use axum::extract::{FromRequestParts, MatchedPath, Query, RawPathParams, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use sanhu_core::id::{BankCardId, MemberId, MerchantId, OperatorId};
use sanhu_core::party::product::PlatformProduct;
use sanhu_core::AccountId;
use sanhu_service::party::{MemberObject, Purpose, Reached};
use serde_json::Value;

use crate::error::{code, ApiError};
use crate::principal::{ClientAccess, UnspentNonce};
use crate::scopes::{Named, Owned, ProviderUse, Reach, RouteFacts};
use crate::state::AppState;

/// The middleware.
pub async fn check(State(state): State<AppState>, request: Request, next: Next) -> Result<Response, ApiError> {
    // The idempotency layer spends a nonce the authentication layer left unspent; one still here is a
    // bug in the layers' order, and no handler runs for a request whose nonce is not spent.
    if request.extensions().get::<UnspentNonce>().is_some() {
        return Err(ApiError::internal(anyhow::anyhow!(
            "a signed request reached the access layer with its nonce unspent"
        )));
    }
    let method = request.method().as_str().to_owned();
    let Some(route) = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()) else {
        return Err(ApiError::internal(anyhow::anyhow!("the access layer ran outside a route")));
    };
    // The router is made from the route table, so a served route has its entry there. A method the
    // route does not serve (TRACE, say) reaches nothing: the router answers it method_not_allowed.
    let Some(entry) = request.extensions().get::<RouteFacts>().map(|facts| facts.access) else {
        return Ok(next.run(request).await);
    };
    let Some(client) = request.extensions().get::<ClientAccess>().copied() else {
        return Err(ApiError::internal(anyhow::anyhow!("the access layer ran before authentication")));
    };
    let Some(scope) = entry.scope else {
        return Ok(next.run(request).await);
    };
    if !client.scopes.contains(scope) {
        let held = if client.scopes.is_empty() { "none".to_owned() } else { client.scopes.to_string() };
        return Err(ApiError::new(
            code::SCOPE_MISSING,
            format!("{method} {route} needs the scope {scope}; this client holds: {held}"),
        ));
    }
    if let (Some(role), Some(area)) =
        (request.extensions().get::<sanhu_core::staff::StaffRole>(), crate::scopes::staff_area(&route))
    {
        if !role.reaches(area) {
            return Err(ApiError::new(
                code::SCOPE_MISSING,
                format!(
                    "{method} {route} is of the {} area, which the role {} does not reach",
                    area.as_str(),
                    role.as_str()
                ),
            ));
        }
    }
    let Some(member) = client.bound_to else {
        return Ok(next.run(request).await);
    };
    match entry.reach {
        Reach::Public | Reach::OwnOrders | Reach::Filtered => Ok(next.run(request).await),
        Reach::Platform => Err(ApiError::new(
            code::CLIENT_BOUND,
            format!("this client is bound to the member {member}, and {method} {route} acts for the whole platform"),
        )),
        Reach::Member(named) => {
            let (mut parts, mut body) = request.into_parts();
            let mut json: Option<Value> = None;
            if named.iter().any(|n| matches!(n, Named::Body(..) | Named::BodyList(..))) {
                // Authentication has buffered the body already; this only takes it back out.
                let bytes = to_bytes(body, state.config.body_bytes_max)
                    .await
                    .map_err(|_| ApiError::new(code::BODY_TOO_LARGE, "the request body is too large"))?;
                json = serde_json::from_slice(&bytes).ok();
                body = Body::from(bytes);
            }
            for object in named_objects(named, &mut parts, &state, json.as_ref()).await {
                let owner = state.parties.owning_member(object).await?;
                let purpose = purpose(&state, entry.provider, object, json.as_ref()).await;
                match state.parties.reaches_for(member, owner, purpose).await? {
                    Reached::Yes => {}
                    Reached::No => return Err(ApiError::from(object.not_found())),
                    Reached::ProductNotAuthorised(product) => {
                        return Err(ApiError::new(
                            code::PROVIDER_PRODUCT_NOT_AUTHORISED,
                            format!(
                                "the merchant has not authorised this client's service provider for the product {}",
                                product.code()
                            ),
                        ))
                    }
                }
            }
            Ok(next.run(Request::from_parts(parts, body)).await)
        }
    }
}

/// What a request uses, for a service provider's reach: the route's product (a payment's from its
/// body, with the member owning the account it pays), or the reading of the merchant its path names.
async fn purpose(state: &AppState, provider: ProviderUse, object: MemberObject, json: Option<&Value>) -> Purpose {
    let body = json.and_then(Value::as_object);
    let receiver = |field: &str| body.and_then(|b| b.get(field)).and_then(Value::as_str).and_then(AccountId::parse);
    let owner_of = |account: Option<AccountId>| async move {
        match account {
            // An account of nobody's, or none: no member receives.
            Some(account) => state.parties.owning_member(MemberObject::Account(account)).await.ok(),
            None => None,
        }
    };
    match provider {
        ProviderUse::Nothing => Purpose::Other,
        ProviderUse::ReadMerchant => match object {
            MemberObject::Merchant(id) => Purpose::ReadMerchant(id),
            _ => Purpose::Other,
        },
        ProviderUse::Product(product) => Purpose::Product(product),
        ProviderUse::Deposit => {
            Purpose::Paying(PlatformProduct::BalancePayment, owner_of(receiver("beneficiary_account_id")).await)
        }
        ProviderUse::Payment => {
            let product = if body.and_then(|b| b.get("splits")).is_some_and(|s| !s.is_null()) {
                PlatformProduct::SplitPayment
            } else if body.and_then(|b| b.get("escrow")).and_then(Value::as_bool) == Some(true) {
                PlatformProduct::EscrowCollection
            } else {
                PlatformProduct::BalancePayment
            };
            Purpose::Paying(product, owner_of(receiver("receiver_account_id")).await)
        }
    }
}

/// The well-formed ids of member objects a request names where `named` says, in its order. A
/// malformed id, a field of the wrong type or a body that is not JSON are left for the handler to
/// refuse (400): an id that cannot name anything reaches nothing.
async fn named_objects(
    named: &[Named],
    parts: &mut Parts,
    state: &AppState,
    json: Option<&Value>,
) -> Vec<MemberObject> {
    let mut objects = Vec::new();
    for name in named {
        match *name {
            Named::Path(kind) => {
                if let Ok(params) = RawPathParams::from_request_parts(parts, state).await {
                    objects.extend(params.iter().filter_map(|(_, text)| parse_object(kind, text)));
                }
            }
            Named::Query(parameter, kind) => {
                if let Ok(Query(pairs)) = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri) {
                    let texts = pairs.iter().filter(|(name, _)| name == parameter);
                    objects.extend(texts.filter_map(|(_, text)| parse_object(kind, text)));
                }
            }
            Named::Body(field, kind) => {
                if let Some(text) = json.and_then(|j| j.get(field)).and_then(Value::as_str) {
                    objects.extend(parse_object(kind, text));
                }
            }
            Named::BodyList(field, kind) => {
                let items = json.and_then(|j| j.get(field)).and_then(Value::as_array).into_iter().flatten();
                objects.extend(items.filter_map(Value::as_str).filter_map(|text| parse_object(kind, text)));
            }
        }
    }
    objects
}

fn parse_object(kind: Owned, text: &str) -> Option<MemberObject> {
    match kind {
        Owned::Member => MemberId::parse(text).map(MemberObject::Member),
        Owned::Account => AccountId::parse(text).map(MemberObject::Account),
        Owned::Operator => OperatorId::parse(text).map(MemberObject::Operator),
        Owned::BankCard => BankCardId::parse(text).map(MemberObject::BankCard),
        Owned::Merchant => MerchantId::parse(text).map(MemberObject::Merchant),
    }
}
