//! The console's pages of a card's life and of family cards: a card found by its number, with its
//! terms, balance and transactions, the card it replaced and the one that replaced it linked; reported
//! lost, re-issued, passed to another member, expired, extended or cancelled, each confirmed on the
//! page (a box ticked; the server refuses a form without it) before it is sent. A member's family
//! cards (owned and granted), with their limits and this month's use, and revoking one. Like every
//! page, each reads and acts through the API ([`Visit::api`]).

use axum::extract::{Path, Request};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::json;

use super::messages::label;
use super::{encode, Form, Visit, PAGE_LINES};

pub(super) const GET_CARD: (&str, &str) = ("GET", "/v1/cards/{number}");
pub(super) const CARD_TRANSACTIONS: (&str, &str) = ("GET", "/v1/cards/{number}/transactions");
pub(super) const REPORT_LOST: (&str, &str) = ("POST", "/v1/cards/{number}/report-lost");
pub(super) const REISSUE: (&str, &str) = ("POST", "/v1/cards/{number}/reissue");
pub(super) const TRANSFER: (&str, &str) = ("POST", "/v1/cards/{number}/transfer");
pub(super) const EXPIRE: (&str, &str) = ("POST", "/v1/cards/{number}/expire");
pub(super) const EXTEND: (&str, &str) = ("POST", "/v1/cards/{number}/extend");
pub(super) const CANCEL: (&str, &str) = ("POST", "/v1/cards/{number}/cancel");
pub(super) const FAMILY_CARDS: (&str, &str) = ("GET", "/v1/members/{id}/family-cards");
pub(super) const REVOKE_FAMILY_CARD: (&str, &str) = ("POST", "/v1/family-cards/{id}/revoke");

/// `?number=` typed in the cards page's search: to that card's page.
pub(super) async fn find(visit: Visit) -> Response {
    if let Err(response) = visit.page(Some(GET_CARD)).await {
        return response;
    }
    match visit.param("number") {
        Some(number) if !number.is_empty() => {
            let digits: String = number.chars().filter(|c| !c.is_whitespace()).collect();
            Redirect::to(&format!("/console/cards/{}", encode(&digits))).into_response()
        }
        _ => Redirect::to("/console/cards").into_response(),
    }
}

/// A card: what it is, its life (the card it replaced and its successor linked), its transactions,
/// and the actions its status and the role allow.
pub(super) async fn card(visit: Visit, Path(number): Path<String>) -> Response {
    let me = match visit.page(Some(GET_CARD)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let path = format!("/v1/cards/{}", encode(&number));
    let card = visit.get(&path).await;
    if !card.ok() {
        return visit.refusal(Some(&me), &card);
    }
    let mut transactions = serde_json::Value::Null;
    if me.may(CARD_TRANSACTIONS) {
        let mut uri = format!("{path}/transactions?limit={PAGE_LINES}");
        if let Some(cursor) = visit.param("cursor") {
            uri.push_str(&format!("&cursor={}", encode(cursor)));
        }
        let answer = visit.get(&uri).await;
        if !answer.ok() {
            return visit.refusal(Some(&me), &answer);
        }
        transactions = answer.body;
    }
    visit.render(
        Some(&me),
        StatusCode::OK,
        "card.html",
        json!({
            "c": card.body, "transactions": transactions,
            "may_act": me.may(REPORT_LOST),
            "done": visit.param("done").map(|d| label(visit.lang, d).to_owned()),
        }),
    )
}

/// An action on a card, once its confirmation box is ticked: `report-lost`, `reissue` (to the new
/// card's page), `transfer`, `expire`, `extend` or `cancel`.
pub(super) async fn act(visit: Visit, Path((number, action)): Path<(String, String)>, request: Request) -> Response {
    let needs = match action.as_str() {
        "report-lost" => REPORT_LOST,
        "reissue" => REISSUE,
        "transfer" => TRANSFER,
        "expire" => EXPIRE,
        "extend" => EXTEND,
        "cancel" => CANCEL,
        _ => return visit.message(None, StatusCode::NOT_FOUND, "not_found_title", "", None),
    };
    let me = match visit.page(Some(needs)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let form = Form::read(request).await;
    if form.get("confirm") != Some("yes") {
        return visit.message(
            Some(&me),
            StatusCode::UNPROCESSABLE_ENTITY,
            "refused_title",
            label(visit.lang, "card_confirm_missing"),
            None,
        );
    }
    let field = |name: &str| form.get(name).unwrap_or_default().trim().to_owned();
    let body = match action.as_str() {
        "report-lost" | "reissue" => json!({"reason": field("reason")}),
        "transfer" => json!({"member_id": field("member_id")}),
        "expire" => json!({}),
        "extend" => json!({"valid_through": field("valid_through")}),
        _ => {
            let mut body = json!({"reason": field("reason")});
            if !field("refund_to").is_empty() {
                body["refund_to"] = json!(field("refund_to"));
            }
            if !field("account_id").is_empty() {
                body["account_id"] = json!(field("account_id"));
            }
            body
        }
    };
    let uri = format!("/v1/cards/{}/{action}", encode(&number));
    let answer = visit.api(Method::POST, &uri, Some(body), Some(&form)).await;
    if !answer.ok() {
        return visit.refusal(Some(&me), &answer);
    }
    let shown = match action.as_str() {
        "reissue" => answer.body["number"].as_str().unwrap_or(&number).to_owned(),
        _ => number,
    };
    Redirect::to(&format!("/console/cards/{}?done=done", encode(&shown))).into_response()
}

/// A member's family cards: those it owns (granted to others from its accounts) and those granted to
/// it, each with its limits and this month's use.
pub(super) async fn family_cards(visit: Visit, Path(member): Path<String>) -> Response {
    let me = match visit.page(Some(FAMILY_CARDS)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let answer = visit.get(&format!("/v1/members/{}/family-cards", encode(&member))).await;
    if !answer.ok() {
        return visit.refusal(Some(&me), &answer);
    }
    visit.render(
        Some(&me),
        StatusCode::OK,
        "family_cards.html",
        json!({
            "member_id": member, "cards": answer.body, "may_revoke": me.may(REVOKE_FAMILY_CARD),
            "done": visit.param("done").map(|d| label(visit.lang, d).to_owned()),
        }),
    )
}

/// Revokes a family card, at once (the member's page it was revoked from is shown again).
pub(super) async fn revoke_family_card(visit: Visit, Path(id): Path<String>, request: Request) -> Response {
    let me = match visit.page(Some(REVOKE_FAMILY_CARD)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let form = Form::read(request).await;
    let uri = format!("/v1/family-cards/{}/revoke", encode(&id));
    let answer = visit.api(Method::POST, &uri, Some(json!({})), Some(&form)).await;
    if !answer.ok() {
        return visit.refusal(Some(&me), &answer);
    }
    let member = form.get("member").unwrap_or_default();
    Redirect::to(&format!("/console/members/{}/family-cards?done=done", encode(member))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_card_page_names_a_route_of_the_api() {
        for route in [
            GET_CARD,
            CARD_TRANSACTIONS,
            REPORT_LOST,
            REISSUE,
            TRANSFER,
            EXPIRE,
            EXTEND,
            CANCEL,
            FAMILY_CARDS,
            REVOKE_FAMILY_CARD,
        ] {
            assert!(crate::routes::find(route.0, route.1).is_some(), "{route:?}");
        }
    }
}
