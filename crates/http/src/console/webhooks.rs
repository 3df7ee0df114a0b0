//! The console's webhook pages: every client's subscriptions (endpoints), one endpoint with its
//! deliveries and each delivery's attempts, resending a delivery, disabling and enabling an endpoint.
//! Staff act as the back office (`sanhu_service::webhook::Subscriber::back_office`) through the API's
//! own routes and use cases ([`Visit::api`]): they create and change none, and enable none a client
//! disabled itself.

use axum::extract::{Path, Request};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{json, Value};

use super::messages::label;
use super::{encode, Form, Visit, PAGE_LINES};

pub(super) const LIST_ENDPOINTS: (&str, &str) = ("GET", "/v1/webhooks");
pub(super) const GET_ENDPOINT: (&str, &str) = ("GET", "/v1/webhooks/{id}");
pub(super) const DELIVERIES: (&str, &str) = ("GET", "/v1/webhooks/{id}/deliveries");
pub(super) const ATTEMPTS: (&str, &str) = ("GET", "/v1/webhooks/{id}/attempts");
pub(super) const DISABLE: (&str, &str) = ("POST", "/v1/webhooks/{id}/disable");
pub(super) const ENABLE: (&str, &str) = ("POST", "/v1/webhooks/{id}/enable");
pub(super) const RESEND: (&str, &str) = ("POST", "/v1/webhooks/{id}/deliveries/{event_id}/resend");

/// Every client's endpoints, in id order, paged by cursor.
pub(super) async fn endpoints(visit: Visit) -> Response {
    let me = match visit.page(Some(LIST_ENDPOINTS)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let mut uri = format!("/v1/webhooks?limit={PAGE_LINES}");
    if let Some(after) = visit.param("after") {
        uri.push_str(&format!("&after={}", encode(after)));
    }
    let answer = visit.get(&uri).await;
    if !answer.ok() {
        return visit.refusal(Some(&me), &answer);
    }
    visit.render(Some(&me), StatusCode::OK, "webhooks.html", json!({"endpoints": answer.body}))
}

/// One endpoint: its subscription, its deliveries (latest first, paged) and the attempts (of one
/// delivery with `?event=`, else the latest), with the actions the role may take.
pub(super) async fn endpoint(visit: Visit, Path(id): Path<String>) -> Response {
    let me = match visit.page(Some(GET_ENDPOINT)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let path = format!("/v1/webhooks/{}", encode(&id));
    let subscription = visit.get(&path).await;
    if !subscription.ok() {
        return visit.refusal(Some(&me), &subscription);
    }
    let mut deliveries = Value::Null;
    if me.may(DELIVERIES) {
        let mut uri = format!("{path}/deliveries?limit={PAGE_LINES}");
        if let Some(after) = visit.param("after") {
            uri.push_str(&format!("&after={}", encode(after)));
        }
        let answer = visit.get(&uri).await;
        if !answer.ok() {
            return visit.refusal(Some(&me), &answer);
        }
        deliveries = answer.body;
    }
    let mut attempts = Value::Null;
    let event = visit.param("event").map(str::to_owned);
    if me.may(ATTEMPTS) {
        let mut uri = format!("{path}/attempts?limit={PAGE_LINES}");
        if let Some(event) = &event {
            uri.push_str(&format!("&event_id={}", encode(event)));
        }
        let answer = visit.get(&uri).await;
        if !answer.ok() {
            return visit.refusal(Some(&me), &answer);
        }
        attempts = answer.body;
    }
    let done = visit.param("done").map(|d| label(visit.lang, d).to_owned());
    visit.render(
        Some(&me),
        StatusCode::OK,
        "webhook.html",
        json!({
            "w": subscription.body, "deliveries": deliveries, "attempts": attempts, "event": event,
            "may_resend": me.may(RESEND), "may_disable": me.may(DISABLE), "may_enable": me.may(ENABLE),
            "done": done,
        }),
    )
}

/// Disables or enables an endpoint (`action` is `disable` or `enable`).
pub(super) async fn set_enabled(
    visit: Visit,
    Path((id, action)): Path<(String, String)>,
    request: Request,
) -> Response {
    let needs = match action.as_str() {
        "disable" => DISABLE,
        "enable" => ENABLE,
        _ => return visit.message(None, StatusCode::NOT_FOUND, "not_found_title", "", None),
    };
    let me = match visit.page(Some(needs)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let form = Form::read(request).await;
    let uri = format!("/v1/webhooks/{}/{action}", encode(&id));
    let answer = visit.api(Method::POST, &uri, Some(json!({})), Some(&form)).await;
    if !answer.ok() {
        return visit.refusal(Some(&me), &answer);
    }
    Redirect::to(&format!("/console/webhooks/{}?done=done", encode(&id))).into_response()
}

/// Sends a delivery again, now: the same event, with the same id.
pub(super) async fn resend(visit: Visit, Path((id, event_id)): Path<(String, String)>, request: Request) -> Response {
    let me = match visit.page(Some(RESEND)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let form = Form::read(request).await;
    let uri = format!("/v1/webhooks/{}/deliveries/{}/resend", encode(&id), encode(&event_id));
    let answer = visit.api(Method::POST, &uri, Some(json!({})), Some(&form)).await;
    if !answer.ok() {
        return visit.refusal(Some(&me), &answer);
    }
    Redirect::to(&format!("/console/webhooks/{}?event={}&done=resent", encode(&id), encode(&event_id))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_webhook_page_names_a_route_of_the_api() {
        for route in [LIST_ENDPOINTS, GET_ENDPOINT, DELIVERIES, ATTEMPTS, DISABLE, ENABLE, RESEND] {
            assert!(crate::routes::find(route.0, route.1).is_some(), "{route:?}");
        }
    }
}
