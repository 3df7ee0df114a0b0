//! The console's pages of products and franchise settings: the product catalogue, a merchant's
//! signings with staff's review, suspension, resumption and termination (each held for a second
//! staff member, as the API holds them), and a merchant's settings in effect with its own. Like every
//! page, each reads and acts through the API ([`Visit::api`]).

use axum::extract::{Path, Request};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::json;

use super::messages::label;
use super::{encode, Form, Visit};

pub(super) const LIST_PRODUCTS: (&str, &str) = ("GET", "/v1/products");
pub(super) const MERCHANT_PRODUCTS: (&str, &str) = ("GET", "/v1/merchants/{id}/products");
pub(super) const REVIEW_PRODUCT: (&str, &str) = ("POST", "/v1/merchants/{id}/products/{product}/review");
pub(super) const SUSPEND_PRODUCT: (&str, &str) = ("POST", "/v1/merchants/{id}/products/{product}/suspend");
pub(super) const MERCHANT_SETTINGS: (&str, &str) = ("GET", "/v1/merchants/{id}/settings");

/// The product catalogue: the products merchants sign, their fee rates and who may sign them.
pub(super) async fn products(visit: Visit) -> Response {
    let me = match visit.page(Some(LIST_PRODUCTS)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let answer = visit.get("/v1/products").await;
    if !answer.ok() {
        return visit.refusal(Some(&me), &answer);
    }
    visit.render(Some(&me), StatusCode::OK, "products.html", json!({"products": answer.body["data"]}))
}

/// A merchant's signings, and staff's actions on each (held for a second staff member).
pub(super) async fn merchant_products(visit: Visit, Path(id): Path<String>) -> Response {
    let me = match visit.page(Some(MERCHANT_PRODUCTS)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let merchant = visit.get(&format!("/v1/merchants/{}", encode(&id))).await;
    if !merchant.ok() {
        return visit.refusal(Some(&me), &merchant);
    }
    let signings = visit.get(&format!("/v1/merchants/{}/products", encode(&id))).await;
    if !signings.ok() {
        return visit.refusal(Some(&me), &signings);
    }
    let catalogue = visit.get("/v1/products").await;
    let done = visit.param("done").map(|d| label(visit.lang, d).to_owned());
    visit.render(
        Some(&me),
        StatusCode::OK,
        "merchant_products.html",
        json!({
            "m": merchant.body,
            "signings": signings.body["data"],
            "catalogue": catalogue.body["data"],
            "may_review": me.may(REVIEW_PRODUCT),
            "may_change": me.may(SUSPEND_PRODUCT),
            "done": done,
        }),
    )
}

/// Staff's decision on a signing: `review` (approve or reject), `suspend`, `resume` or `terminate`,
/// each held for a second staff member's approval by the API.
pub(super) async fn act_on_signing(
    visit: Visit,
    Path((id, product, action)): Path<(String, String, String)>,
    request: Request,
) -> Response {
    let needs = if action == "review" { REVIEW_PRODUCT } else { SUSPEND_PRODUCT };
    let me = match visit.page(Some(needs)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    if !["review", "suspend", "resume", "terminate"].contains(&action.as_str()) {
        return visit.message(Some(&me), StatusCode::NOT_FOUND, "not_found_title", "", None);
    }
    let form = Form::read(request).await;
    let reason = form.get("reason").map(str::trim).filter(|r| !r.is_empty());
    let body = if action == "review" {
        let mut body = json!({"decision": form.get("decision").unwrap_or_default()});
        if let Some(reason) = reason {
            body["reason"] = json!(reason);
        }
        body
    } else {
        json!({"reason": reason.unwrap_or_default()})
    };
    let uri = format!("/v1/merchants/{}/products/{}/{action}", encode(&id), encode(&product));
    let answer = visit.api(Method::POST, &uri, Some(body), Some(&form)).await;
    if !answer.ok() {
        return visit.refusal(Some(&me), &answer);
    }
    let done = if answer.status == StatusCode::ACCEPTED { "held_for_approval" } else { "done" };
    Redirect::to(&format!("/console/merchants/{}/products?done={done}", encode(&id))).into_response()
}

/// A merchant's settings in effect, each with where it came from, and its own.
pub(super) async fn merchant_settings(visit: Visit, Path(id): Path<String>) -> Response {
    let me = match visit.page(Some(MERCHANT_SETTINGS)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let merchant = visit.get(&format!("/v1/merchants/{}", encode(&id))).await;
    if !merchant.ok() {
        return visit.refusal(Some(&me), &merchant);
    }
    let settings = visit.get(&format!("/v1/merchants/{}/settings", encode(&id))).await;
    if !settings.ok() {
        return visit.refusal(Some(&me), &settings);
    }
    visit.render(Some(&me), StatusCode::OK, "merchant_settings.html", json!({"m": merchant.body, "s": settings.body}))
}
