//! The console's merchant settlement pages: a merchant's statements found by period and status
//! (search first: nothing until a merchant is named), a statement with its items, issuing a period,
//! confirming on the merchant's behalf or disputing, paying out (to the bank or the balance), the
//! payout's review and the channel's result, and staff's settlement adjustment (held for a second
//! staff member, approved in 复核审批). And a merchant's stores: listed, one with its settings in
//! effect and its terminals, closed, its own settings set, terminals added and disabled. Like every
//! page, each reads and acts through the API ([`Visit::api`]), so the API's scopes, reach, rules and
//! audit apply as for any staff request.

use axum::extract::{Path, Request};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{json, Value};

use super::messages::label;
use super::{encode, Form, Visit, PAGE_LINES};

pub(super) const LIST_STATEMENTS: (&str, &str) = ("GET", "/v1/merchants/{id}/settlements");
pub(super) const GET_STATEMENT: (&str, &str) = ("GET", "/v1/merchants/{id}/settlements/{number}");
pub(super) const STATEMENT_ITEMS: (&str, &str) = ("GET", "/v1/merchants/{id}/settlements/{number}/items");
pub(super) const ISSUE_STATEMENT: (&str, &str) = ("POST", "/v1/merchants/{id}/settlements");
pub(super) const CONFIRM_STATEMENT: (&str, &str) = ("POST", "/v1/merchants/{id}/settlements/{number}/confirm");
pub(super) const DISPUTE_STATEMENT: (&str, &str) = ("POST", "/v1/merchants/{id}/settlements/{number}/dispute");
pub(super) const PAY_OUT_STATEMENT: (&str, &str) = ("POST", "/v1/merchants/{id}/settlements/{number}/payout");
pub(super) const REVIEW_PAYOUT: (&str, &str) = ("POST", "/v1/merchants/{id}/settlements/{number}/payout/review");
pub(super) const PAYOUT_RESULT: (&str, &str) = ("POST", "/v1/merchants/{id}/settlements/{number}/payout/result");
pub(super) const ADJUST: (&str, &str) = ("POST", "/v1/merchants/{id}/settlement-adjustments");

pub(super) const LIST_STORES: (&str, &str) = ("GET", "/v1/merchants/{id}/stores");
pub(super) const GET_STORE: (&str, &str) = ("GET", "/v1/merchants/{id}/stores/{store_id}");
pub(super) const CLOSE_STORE: (&str, &str) = ("POST", "/v1/merchants/{id}/stores/{store_id}/close");
pub(super) const STORE_SETTINGS: (&str, &str) = ("POST", "/v1/merchants/{id}/stores/{store_id}/settings");
pub(super) const ADD_TERMINAL: (&str, &str) = ("POST", "/v1/merchants/{id}/stores/{store_id}/terminals");
pub(super) const LIST_TERMINALS: (&str, &str) = ("GET", "/v1/merchants/{id}/stores/{store_id}/terminals");
pub(super) const DISABLE_TERMINAL: (&str, &str) =
    ("POST", "/v1/merchants/{id}/stores/{store_id}/terminals/{terminal_id}/disable");

/// The statuses a statement may be searched by: every status the core knows.
fn statuses() -> impl Iterator<Item = &'static str> {
    sanhu_core::settlement::Status::ALL.into_iter().map(sanhu_core::settlement::Status::as_str)
}
/// The API pages of statements one search reads at most before it answers what it found (the rest
/// is on the next page, from where it stopped).
const SCAN_PAGES_MAX: usize = 10;
/// The payment methods a store may take.
const PAYMENT_METHODS: [&str; 4] = ["pay_code", "phone_sms", "card", "balance"];

/// `12.34`, `¥1,234.5`, `-15` as minor units; None for anything else.
pub(super) fn minor_units(text: &str) -> Option<i64> {
    let text: String = text.trim().chars().filter(|c| !matches!(c, ',' | '¥' | ' ')).collect();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.as_str()),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let ok = !whole.is_empty()
        && whole.len() <= 13
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.len() <= 2
        && fraction.bytes().all(|b| b.is_ascii_digit());
    if !ok {
        return None;
    }
    let cents = format!("{fraction:0<2}").parse::<i64>().ok()?;
    let minor = whole.parse::<i64>().ok()?.checked_mul(100)?.checked_add(cents)?;
    Some(if negative { -minor } else { minor })
}

/// The search: a merchant (required: nothing is listed before), a period (`2026-11` or `2026-11-05`,
/// or its start) and a status; pages of the API read from `after` until a page's worth is found.
pub(super) async fn statements(visit: Visit) -> Response {
    let me = match visit.page(Some(LIST_STATEMENTS)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let merchant_id = visit.param("merchant").map(str::to_owned);
    let period = visit.param("period").map(str::to_owned);
    let status = visit.param("status").filter(|s| statuses().any(|known| known == *s)).map(str::to_owned);
    let statuses: Vec<Value> =
        statuses().map(|s| json!({"value": s, "label": label(visit.lang, &format!("stmt_{s}"))})).collect();
    let mut context = json!({
        "merchant_id": merchant_id, "period": period, "status": status, "statuses": statuses,
        "may_issue": me.may(ISSUE_STATEMENT), "may_adjust": me.may(ADJUST),
        "done": visit.param("done").map(|d| label(visit.lang, d).to_owned()),
        "searched": false,
    });
    let Some(merchant_id) = merchant_id else {
        return visit.render(Some(&me), StatusCode::OK, "settlements.html", context);
    };
    let merchant = visit.get(&format!("/v1/merchants/{}", encode(&merchant_id))).await;
    if !merchant.ok() {
        return visit.refusal(Some(&me), &merchant);
    }
    let mut found = Vec::new();
    let mut after = visit.param("after").map(str::to_owned);
    let mut next = None;
    for _ in 0..SCAN_PAGES_MAX {
        let mut uri = format!("/v1/merchants/{}/settlements?limit=100", encode(&merchant_id));
        if let Some(after) = &after {
            uri.push_str(&format!("&after={}", encode(after)));
        }
        let answer = visit.get(&uri).await;
        if !answer.ok() {
            return visit.refusal(Some(&me), &answer);
        }
        for s in answer.body["data"].as_array().into_iter().flatten() {
            let period_ok = period.as_deref().is_none_or(|p| s["period"].as_str().is_some_and(|sp| sp.starts_with(p)));
            let status_ok = status.as_deref().is_none_or(|st| s["status"] == st);
            if period_ok && status_ok && found.len() < PAGE_LINES as usize {
                found.push(s.clone());
            }
        }
        next = answer.body["next_cursor"].as_str().map(str::to_owned);
        if found.len() >= PAGE_LINES as usize || next.is_none() {
            break;
        }
        after = next.clone();
    }
    context["searched"] = json!(true);
    context["m"] = merchant.body;
    context["statements"] = json!(found);
    context["next_cursor"] = json!(next);
    visit.render(Some(&me), StatusCode::OK, "settlements.html", context)
}

/// Issues the statement of a period: a day (`YYYY-MM-DD`) or a month (`YYYY-MM`).
pub(super) async fn issue(visit: Visit, Path(merchant): Path<String>, request: Request) -> Response {
    let me = match visit.page(Some(ISSUE_STATEMENT)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let form = Form::read(request).await;
    let period = form.get("period").unwrap_or_default().trim().to_owned();
    let body = if period.len() == 7 { json!({"month": period}) } else { json!({"date": period}) };
    let uri = format!("/v1/merchants/{}/settlements", encode(&merchant));
    let answer = visit.api(Method::POST, &uri, Some(body), Some(&form)).await;
    if !answer.ok() {
        return visit.refusal(Some(&me), &answer);
    }
    let number = answer.body["number"].as_str().unwrap_or_default();
    Redirect::to(&format!("/console/settlements/{}/{}?done=done", encode(&merchant), encode(number))).into_response()
}

/// A statement, its items (paged) and the actions its status and the role allow.
pub(super) async fn statement(visit: Visit, Path((merchant, number)): Path<(String, String)>) -> Response {
    let me = match visit.page(Some(GET_STATEMENT)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let path = format!("/v1/merchants/{}/settlements/{}", encode(&merchant), encode(&number));
    let statement = visit.get(&path).await;
    if !statement.ok() {
        return visit.refusal(Some(&me), &statement);
    }
    let merchant_page = visit.get(&format!("/v1/merchants/{}", encode(&merchant))).await;
    let mut items = Value::Null;
    if me.may(STATEMENT_ITEMS) {
        let mut uri = format!("{path}/items?limit={PAGE_LINES}");
        if let Some(after) = visit.param("after") {
            uri.push_str(&format!("&after={}", encode(after)));
        }
        let answer = visit.get(&uri).await;
        if !answer.ok() {
            return visit.refusal(Some(&me), &answer);
        }
        items = answer.body;
    }
    visit.render(
        Some(&me),
        StatusCode::OK,
        "settlement.html",
        json!({
            "s": statement.body, "m": merchant_page.body, "items": items,
            "may_confirm": me.may(CONFIRM_STATEMENT), "may_dispute": me.may(DISPUTE_STATEMENT),
            "may_pay_out": me.may(PAY_OUT_STATEMENT), "may_review": me.may(REVIEW_PAYOUT),
            "may_record": me.may(PAYOUT_RESULT), "may_adjust": me.may(ADJUST),
            "done": visit.param("done").map(|d| label(visit.lang, d).to_owned()),
        }),
    )
}

/// An action on a statement: `confirm`, `dispute` (a reason), `payout` (to the bank or the balance),
/// `review` (approve or reject the payout) or `result` (the channel's: succeeded or failed).
pub(super) async fn act(
    visit: Visit,
    Path((merchant, number, action)): Path<(String, String, String)>,
    request: Request,
) -> Response {
    let (needs, api_path) = match action.as_str() {
        "confirm" => (CONFIRM_STATEMENT, "confirm"),
        "dispute" => (DISPUTE_STATEMENT, "dispute"),
        "payout" => (PAY_OUT_STATEMENT, "payout"),
        "review" => (REVIEW_PAYOUT, "payout/review"),
        "result" => (PAYOUT_RESULT, "payout/result"),
        _ => return visit.message(None, StatusCode::NOT_FOUND, "not_found_title", "", None),
    };
    let me = match visit.page(Some(needs)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let form = Form::read(request).await;
    let field = |name: &str| form.get(name).unwrap_or_default().trim().to_owned();
    let body = match action.as_str() {
        "confirm" => json!({}),
        "dispute" => json!({"reason": field("reason")}),
        "payout" => json!({"to": field("to")}),
        "review" => json!({"decision": field("decision")}),
        _ => json!({"result": field("result")}),
    };
    let uri = format!("/v1/merchants/{}/settlements/{}/{api_path}", encode(&merchant), encode(&number));
    let answer = visit.api(Method::POST, &uri, Some(body), Some(&form)).await;
    if !answer.ok() {
        return visit.refusal(Some(&me), &answer);
    }
    Redirect::to(&format!("/console/settlements/{}/{}?done=done", encode(&merchant), encode(&number))).into_response()
}

/// Staff's settlement adjustment (¥, signed): held by the API for a second staff member.
pub(super) async fn adjust(visit: Visit, Path(merchant): Path<String>, request: Request) -> Response {
    let me = match visit.page(Some(ADJUST)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let form = Form::read(request).await;
    let Some(amount) = form.get("amount").and_then(minor_units) else {
        return visit.message(
            Some(&me),
            StatusCode::UNPROCESSABLE_ENTITY,
            "refused_title",
            label(visit.lang, "amount_invalid"),
            None,
        );
    };
    let mut body = json!({"amount": amount, "reason": form.get("reason").unwrap_or_default().trim()});
    // From a disputed statement's page: the adjustment corrects that statement's re-issue.
    let statement = form.get("statement").map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    if let Some(statement) = &statement {
        body["statement"] = json!(statement);
    }
    let uri = format!("/v1/merchants/{}/settlement-adjustments", encode(&merchant));
    let answer = visit.api(Method::POST, &uri, Some(body), Some(&form)).await;
    if !answer.ok() {
        return visit.refusal(Some(&me), &answer);
    }
    let done = if answer.status == StatusCode::ACCEPTED { "held_for_approval" } else { "done" };
    match statement {
        Some(number) => {
            Redirect::to(&format!("/console/settlements/{}/{}?done={done}", encode(&merchant), encode(&number)))
                .into_response()
        }
        None => {
            Redirect::to(&format!("/console/settlements?merchant={}&done={done}", encode(&merchant))).into_response()
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Stores and terminals

/// A merchant's stores, paged by cursor.
pub(super) async fn stores(visit: Visit, Path(merchant): Path<String>) -> Response {
    let me = match visit.page(Some(LIST_STORES)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let m = visit.get(&format!("/v1/merchants/{}", encode(&merchant))).await;
    if !m.ok() {
        return visit.refusal(Some(&me), &m);
    }
    let mut uri = format!("/v1/merchants/{}/stores?limit={PAGE_LINES}", encode(&merchant));
    if let Some(after) = visit.param("after") {
        uri.push_str(&format!("&after={}", encode(after)));
    }
    let answer = visit.get(&uri).await;
    if !answer.ok() {
        return visit.refusal(Some(&me), &answer);
    }
    visit.render(Some(&me), StatusCode::OK, "stores.html", json!({"m": m.body, "stores": answer.body}))
}

/// A store: its settings in effect (and where each comes from), its own, its terminals, and the
/// actions the role may take.
pub(super) async fn store(visit: Visit, Path((merchant, store)): Path<(String, String)>) -> Response {
    let me = match visit.page(Some(GET_STORE)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let path = format!("/v1/merchants/{}/stores/{}", encode(&merchant), encode(&store));
    let answer = visit.get(&path).await;
    if !answer.ok() {
        return visit.refusal(Some(&me), &answer);
    }
    let mut terminals = Value::Null;
    if me.may(LIST_TERMINALS) {
        let list = visit.get(&format!("{path}/terminals")).await;
        if !list.ok() {
            return visit.refusal(Some(&me), &list);
        }
        terminals = list.body["data"].clone();
    }
    let own: Vec<String> = answer.body["own_settings"]["payment_methods"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    let methods: Vec<Value> = PAYMENT_METHODS
        .iter()
        .map(|m| json!({"value": m, "label": label(visit.lang, &format!("paymethod_{m}")), "own": own.iter().any(|o| o == m)}))
        .collect();
    visit.render(
        Some(&me),
        StatusCode::OK,
        "store.html",
        json!({
            "own_threshold": answer.body["own_settings"]["pay_password_free_below"]
                .as_i64()
                .map(|m| format!("{}.{:02}", m / 100, m % 100))
                .unwrap_or_default(),
            "st": answer.body, "terminals": terminals, "methods": methods,
            "may_close": me.may(CLOSE_STORE), "may_set": me.may(STORE_SETTINGS),
            "may_add_terminal": me.may(ADD_TERMINAL), "may_disable_terminal": me.may(DISABLE_TERMINAL),
            "done": visit.param("done").map(|d| label(visit.lang, d).to_owned()),
        }),
    )
}

/// An action on a store: `close` (a reason), `settings` (its own payment methods and threshold, or
/// given back to the merchant's) or `terminals` (a terminal added by its serial).
pub(super) async fn act_on_store(
    visit: Visit,
    Path((merchant, store, action)): Path<(String, String, String)>,
    request: Request,
) -> Response {
    let needs = match action.as_str() {
        "close" => CLOSE_STORE,
        "settings" => STORE_SETTINGS,
        "terminals" => ADD_TERMINAL,
        _ => return visit.message(None, StatusCode::NOT_FOUND, "not_found_title", "", None),
    };
    let me = match visit.page(Some(needs)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let bytes = axum::body::to_bytes(request.into_body(), 64 * 1024).await.unwrap_or_default();
    let pairs = super::url_pairs(&bytes);
    let form = Form(pairs.iter().cloned().collect());
    let field = |name: &str| form.get(name).unwrap_or_default().trim().to_owned();
    let body = match action.as_str() {
        "close" => json!({"reason": field("reason")}),
        "terminals" => json!({"serial": field("serial")}),
        _ => {
            let methods: Vec<&str> =
                pairs.iter().filter(|(k, _)| k == "payment_methods").map(|(_, v)| v.as_str()).collect();
            let mut body = json!({});
            let mut unset = Vec::new();
            if methods.is_empty() {
                unset.push("payment_methods");
            } else {
                body["payment_methods"] = json!(methods);
            }
            let threshold = field("pay_password_free_below");
            if threshold.is_empty() {
                unset.push("pay_password_free_below");
            } else {
                match minor_units(&threshold).filter(|m| *m >= 0) {
                    Some(minor) => body["pay_password_free_below"] = json!(minor),
                    None => {
                        return visit.message(
                            Some(&me),
                            StatusCode::UNPROCESSABLE_ENTITY,
                            "refused_title",
                            label(visit.lang, "amount_invalid"),
                            None,
                        )
                    }
                }
            }
            if !unset.is_empty() {
                body["unset"] = json!(unset);
            }
            body
        }
    };
    let uri = format!("/v1/merchants/{}/stores/{}/{action}", encode(&merchant), encode(&store));
    let answer = visit.api(Method::POST, &uri, Some(body), Some(&form)).await;
    if !answer.ok() {
        return visit.refusal(Some(&me), &answer);
    }
    Redirect::to(&format!("/console/merchants/{}/stores/{}?done=done", encode(&merchant), encode(&store)))
        .into_response()
}

/// Disables a terminal, for good, with a reason.
pub(super) async fn disable_terminal(
    visit: Visit,
    Path((merchant, store, terminal)): Path<(String, String, String)>,
    request: Request,
) -> Response {
    let me = match visit.page(Some(DISABLE_TERMINAL)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let form = Form::read(request).await;
    let body = json!({"reason": form.get("reason").unwrap_or_default().trim()});
    let uri = format!(
        "/v1/merchants/{}/stores/{}/terminals/{}/disable",
        encode(&merchant),
        encode(&store),
        encode(&terminal)
    );
    let answer = visit.api(Method::POST, &uri, Some(body), Some(&form)).await;
    if !answer.ok() {
        return visit.refusal(Some(&me), &answer);
    }
    Redirect::to(&format!("/console/merchants/{}/stores/{}?done=done", encode(&merchant), encode(&store)))
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_settlement_and_store_page_names_a_route_of_the_api() {
        for route in [
            LIST_STATEMENTS,
            GET_STATEMENT,
            STATEMENT_ITEMS,
            ISSUE_STATEMENT,
            CONFIRM_STATEMENT,
            DISPUTE_STATEMENT,
            PAY_OUT_STATEMENT,
            REVIEW_PAYOUT,
            PAYOUT_RESULT,
            ADJUST,
            LIST_STORES,
            GET_STORE,
            CLOSE_STORE,
            STORE_SETTINGS,
            ADD_TERMINAL,
            LIST_TERMINALS,
            DISABLE_TERMINAL,
        ] {
            assert!(crate::routes::find(route.0, route.1).is_some(), "{route:?}");
        }
    }

    #[test]
    fn amounts_typed_in_yuan_are_minor_units() {
        assert_eq!(minor_units("12.34"), Some(1234));
        assert_eq!(minor_units("¥1,234.5"), Some(123_450));
        assert_eq!(minor_units("-15"), Some(-1500));
        assert_eq!(minor_units("0"), Some(0));
        for bad in ["", "-", "1.234", "abc", "1e3", ".5", "99999999999999"] {
            assert_eq!(minor_units(bad), None, "{bad}");
        }
    }
}
