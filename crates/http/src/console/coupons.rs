//! The console's coupon pages (优惠券): the coupon templates, one template with what it issued, and
//! issuing its coupons to members (the API's `POST /v1/coupon-templates/{id}/coupons`, the use case
//! the API runs: the template's quantity and per-member limit hold, each member's result its own); a
//! member's coupons are shown on the member's page. Like every page, each reads and acts through the
//! API ([`Visit::api`]).

use axum::extract::{Path, Request};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use super::{encode, Form, Visit, PAGE_LINES};

pub(super) const LIST_TEMPLATES: (&str, &str) = ("GET", "/v1/coupon-templates");
pub(super) const GET_TEMPLATE: (&str, &str) = ("GET", "/v1/coupon-templates/{id}");
pub(super) const ISSUE_COUPONS: (&str, &str) = ("POST", "/v1/coupon-templates/{id}/coupons");
pub(super) const MEMBER_COUPONS: (&str, &str) = ("GET", "/v1/members/{id}/coupons");

/// Members one issue names at most: the API's bound.
const ISSUE_MEMBERS_MAX: usize = 500;

/// The coupon templates, in id order, paged by cursor.
pub(super) async fn templates(visit: Visit) -> Response {
    let me = match visit.page(Some(LIST_TEMPLATES)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let mut uri = format!("/v1/coupon-templates?limit={PAGE_LINES}");
    if let Some(after) = visit.param("after") {
        uri.push_str(&format!("&after={}", encode(after)));
    }
    let answer = visit.get(&uri).await;
    if !answer.ok() {
        return visit.refusal(Some(&me), &answer);
    }
    visit.render(Some(&me), StatusCode::OK, "coupons.html", json!({"templates": answer.body}))
}

/// One template: its terms, what it issued, and the form that issues its coupons.
pub(super) async fn template(visit: Visit, Path(id): Path<String>) -> Response {
    template_page(visit, id, Value::Null, StatusCode::OK).await
}

async fn template_page(visit: Visit, id: String, issued: Value, status: StatusCode) -> Response {
    let me = match visit.page(Some(GET_TEMPLATE)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let answer = visit.get(&format!("/v1/coupon-templates/{}", encode(&id))).await;
    if !answer.ok() {
        return visit.refusal(Some(&me), &answer);
    }
    visit.render(
        Some(&me),
        status,
        "coupon_template.html",
        json!({"c": answer.body, "may_issue": me.may(ISSUE_COUPONS), "issued": issued,
               "members_max": ISSUE_MEMBERS_MAX}),
    )
}

/// Issues one coupon of the template to each member named (one a line, or separated by spaces or
/// commas), then shows the template again with each member's result.
pub(super) async fn issue(visit: Visit, Path(id): Path<String>, request: Request) -> Response {
    let me = match visit.page(Some(ISSUE_COUPONS)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let form = Form::read(request).await;
    let members: Vec<&str> = form
        .get("members")
        .unwrap_or_default()
        .split(|c: char| c.is_whitespace() || c == ',' || c == '，')
        .filter(|m| !m.is_empty())
        .collect();
    let uri = format!("/v1/coupon-templates/{}/coupons", encode(&id));
    let answer = visit.api(Method::POST, &uri, Some(json!({"member_ids": members})), Some(&form)).await;
    if !answer.ok() {
        return visit.refusal(Some(&me), &answer);
    }
    template_page(visit, id, answer.body, StatusCode::OK).await
}

/// A member's coupons, for the member's page: null if the role may not read them.
pub(super) async fn of_member(visit: &Visit, me: &super::Me, member: &str) -> Value {
    if !me.may(MEMBER_COUPONS) {
        return Value::Null;
    }
    let mut uri = format!("/v1/members/{}/coupons?limit={PAGE_LINES}", encode(member));
    if let Some(after) = visit.param("coupons_after") {
        uri.push_str(&format!("&after={}", encode(after)));
    }
    let answer = visit.get(&uri).await;
    if answer.ok() {
        answer.body
    } else {
        json!({"error": format!("{} ({})", answer.message(), answer.code())})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_coupon_page_names_a_route_of_the_api() {
        for route in [LIST_TEMPLATES, GET_TEMPLATE, ISSUE_COUPONS, MEMBER_COUPONS] {
            assert!(crate::routes::find(route.0, route.1).is_some(), "{route:?}");
        }
    }
}
