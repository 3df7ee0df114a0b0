//! The console's business pages: the dashboard's figures and chart, merchants (search, a merchant,
//! its onboarding review and status), orders of each kind (search, an order and its ledger
//! transfers) and cards (types, batches, a batch's approvals). Like every page, each reads and acts
//! through the API ([`Visit::api`]).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::extract::{Path, Request};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{json, Value};

use super::messages::label;
use super::{client_query, cookie, date_parts, encode, random_hex, Form, Me, Visit, PAGE_LINES};

pub(super) const DAILY_FIGURES: (&str, &str) = ("GET", "/v1/statistics/daily");
pub(super) const SEARCH_ORDERS: (&str, &str) = ("GET", "/v1/orders");
pub(super) const LIST_MERCHANTS: (&str, &str) = ("GET", "/v1/merchants");
pub(super) const REVIEW_MERCHANT: (&str, &str) = ("POST", "/v1/merchants/{id}/review");
pub(super) const MERCHANT_STATUS: (&str, &str) = ("POST", "/v1/merchants/{id}/status");
pub(super) const LEDGER_TRANSFERS: (&str, &str) = ("GET", "/v1/ledger/transfers");
pub(super) const LIST_BATCHES: (&str, &str) = ("GET", "/v1/card-batches");
pub(super) const LIST_CARD_TYPES: (&str, &str) = ("GET", "/v1/card-types");
pub(super) const APPROVE_BATCH: (&str, &str) = ("POST", "/v1/card-batches/{id}/approve");
pub(super) const GENERATE_CODES: (&str, &str) = ("POST", "/v1/card-batches/{id}/codes");
pub(super) const LIST_CODES: (&str, &str) = ("GET", "/v1/card-batches/{id}/codes");
pub(super) const MERCHANT_LEVELS: (&str, &str) = ("GET", "/v1/merchant-levels");
pub(super) const MERCHANT_CHILDREN: (&str, &str) = ("GET", "/v1/merchants/{id}/children");
pub(super) const MOVE_MERCHANT: (&str, &str) = ("POST", "/v1/merchants/{id}/move");

/// The code generation form's one-time token.
const CODES_FORM_COOKIE: &str = "sanhu_console_codes_form";

/// The four flows, in the order the dashboard shows them.
const FLOWS: [&str; 4] = ["recharges", "payments", "refunds", "withdrawals"];
/// The chart's drawing: each day's group of four bars.
const CHART_HEIGHT: i64 = 160;
const DAY_WIDTH: i64 = 34;
const BAR_WIDTH: i64 = 7;

/// The dashboard's figures: today's and this month's, and the chart of the month by day. None if the
/// role may not read them.
pub(super) async fn dashboard_figures(visit: &Visit, me: &Me) -> Option<Value> {
    if !me.may(DAILY_FIGURES) {
        return None;
    }
    let answer = visit.get("/v1/statistics/daily").await;
    if !answer.ok() {
        return Some(json!({"error": format!("{} ({})", answer.message(), answer.code())}));
    }
    let body = answer.body;
    let today = visit.state.parties.config().calendar.local_text(sanhu_service::clock::now())[..10].to_owned();
    let days = body["days"].as_array().cloned().unwrap_or_default();
    let today_figures = days.iter().find(|d| d["date"] == today.as_str()).cloned().unwrap_or(Value::Null);
    let max = days
        .iter()
        .flat_map(|d| FLOWS.iter().map(move |f| d[*f]["amount"].as_i64().unwrap_or(0)))
        .max()
        .unwrap_or(0)
        .max(1);
    let mut bars = Vec::new();
    let mut labels = Vec::new();
    for (i, day) in days.iter().enumerate() {
        let x0 = 40 + i as i64 * DAY_WIDTH;
        for (j, flow) in FLOWS.iter().enumerate() {
            let amount = day[*flow]["amount"].as_i64().unwrap_or(0);
            let height =
                if amount > 0 { (amount as i128 * CHART_HEIGHT as i128 / max as i128).max(1) as i64 } else { 0 };
            bars.push(json!({
                "x": x0 + j as i64 * BAR_WIDTH, "y": 10 + CHART_HEIGHT - height, "height": height,
                "flow": flow, "date": day["date"], "amount": amount, "count": day[*flow]["count"],
            }));
        }
        let date = day["date"].as_str().unwrap_or_default();
        labels.push(json!({"x": x0 + 2 * BAR_WIDTH, "text": date.get(8..).unwrap_or(date), "today": date == today}));
    }
    let width = 40 + days.len() as i64 * DAY_WIDTH + 10;
    let flows: Vec<Value> =
        FLOWS.iter().map(|f| json!({"key": f, "label": label(visit.lang, &format!("flow_{f}"))})).collect();
    Some(json!({
        "month": body["month"], "today": today, "today_figures": today_figures, "total": body["total"],
        "days": days, "flows": flows, "bars": bars, "labels": labels, "width": width,
        "height": CHART_HEIGHT + 40, "base": CHART_HEIGHT + 10, "max": max,
    }))
}

// ---------------------------------------------------------------------------------------------------
// Merchants

/// Search-first: merchants by name (the merchant's or its business's), by the business's credit code
/// and by status (the review queue is `under_review`).
pub(super) async fn merchants(visit: Visit) -> Response {
    let me = match visit.page(Some(LIST_MERCHANTS)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let by = visit.param("by").unwrap_or("name").to_owned();
    let q = visit.param("q").map(str::to_owned);
    let status = visit.param("status").map(str::to_owned);
    let mut results: Option<Vec<Value>> = None;
    let mut next_cursor = Value::Null;
    let mut error = None;
    if q.is_some() || status.is_some() {
        // The API's list filters by name (the merchant's or its business's), certificate and status.
        let mut uri = format!("/v1/merchants?limit={PAGE_LINES}");
        if let Some(q) = &q {
            let name = if by == "credit_code" { "certificate_number" } else { "name" };
            uri.push_str(&format!("&{name}={}", encode(q)));
        }
        if let Some(status) = &status {
            uri.push_str(&format!("&status={}", encode(status)));
        }
        if let Some(after) = visit.param("after") {
            uri.push_str(&format!("&after={}", encode(after)));
        }
        let answer = visit.get(&uri).await;
        if answer.ok() {
            results = Some(answer.body["data"].as_array().cloned().unwrap_or_default());
            next_cursor = answer.body["next_cursor"].clone();
        } else if answer.status == StatusCode::UNAUTHORIZED {
            return visit.to_sign_in(true);
        } else if answer.status.is_client_error() && answer.status != StatusCode::FORBIDDEN {
            error = Some(format!("{} ({})", answer.message(), answer.code()));
            results = Some(Vec::new());
        } else {
            return visit.refusal(Some(&me), &answer);
        }
    }
    let statuses: Vec<Value> = ["applying", "under_review", "active", "rejected", "frozen", "closed"]
        .iter()
        .map(|s| json!({"value": s, "label": label(visit.lang, &format!("merchant_{s}"))}))
        .collect();
    visit.render(
        Some(&me),
        StatusCode::OK,
        "merchants.html",
        json!({"by": by, "q": q, "status": status, "statuses": statuses, "results": results,
               "next_cursor": next_cursor, "error": error}),
    )
}

/// A merchant: its status, type, settlement account (masked), documents, reviews and history, and the
/// actions its status allows the role.
pub(super) async fn merchant(visit: Visit, Path(id): Path<String>) -> Response {
    let me = match visit.page(Some(LIST_MERCHANTS)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let merchant = visit.get(&format!("/v1/merchants/{}", encode(&id))).await;
    if !merchant.ok() {
        return visit.refusal(Some(&me), &merchant);
    }
    let history = visit.get(&format!("/v1/merchants/{}/history?limit=50", encode(&id))).await;
    let history = if history.ok() { history.body["data"].clone() } else { json!([]) };
    let done = visit.param("done").map(|d| label(visit.lang, d).to_owned());
    // The hierarchy: its level by the configured name, its parent, its children paged.
    let level = merchant.body["level"].as_str().map(str::to_owned);
    let mut level_name = Value::Null;
    if let Some(level) = level.as_ref().filter(|_| me.may(MERCHANT_LEVELS)) {
        let levels = visit.get("/v1/merchant-levels").await;
        level_name = levels.body["data"]
            .as_array()
            .and_then(|all| all.iter().find(|l| l["code"] == level.as_str()))
            .map(|l| l["name"].clone())
            .unwrap_or(Value::Null);
    }
    let mut parent = Value::Null;
    if let Some(parent_id) = merchant.body["parent_id"].as_str() {
        let answer = visit.get(&format!("/v1/merchants/{}", encode(parent_id))).await;
        parent = if answer.ok() { answer.body } else { json!({"id": parent_id}) };
    }
    let mut children_uri = format!("/v1/merchants/{}/children?limit={PAGE_LINES}", encode(&id));
    if let Some(after) = visit.param("children_after") {
        children_uri.push_str(&format!("&after={}", encode(after)));
    }
    let children = if me.may(MERCHANT_CHILDREN) { Some(visit.get(&children_uri).await) } else { None };
    let children = match children {
        Some(answer) if answer.ok() => answer.body,
        _ => json!({"data": [], "next_cursor": null}),
    };
    visit.render(
        Some(&me),
        StatusCode::OK,
        "merchant.html",
        json!({
            "m": merchant.body,
            "history": history,
            "may_review": me.may(REVIEW_MERCHANT),
            "may_set_status": me.may(MERCHANT_STATUS),
            "may_move": me.may(MOVE_MERCHANT),
            "may_read_stores": me.may(super::settlements::LIST_STORES),
            "may_read_settlements": me.may(super::settlements::LIST_STATEMENTS),
            "level_name": level_name,
            "parent": parent,
            "children": children,
            "children_paged": visit.param("children_after").is_some(),
            "done": done,
        }),
    )
}

/// Approves, rejects (with a reason) or asks for more: held for a second staff member's approval.
pub(super) async fn review_merchant(visit: Visit, Path(id): Path<String>, request: Request) -> Response {
    let me = match visit.page(Some(REVIEW_MERCHANT)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let form = Form::read(request).await;
    let mut body = json!({"decision": form.get("decision").unwrap_or_default()});
    if let Some(reason) = form.get("reason").map(str::trim).filter(|r| !r.is_empty()) {
        body["reason"] = json!(reason);
    }
    let uri = format!("/v1/merchants/{}/review", encode(&id));
    let answer = visit.api(Method::POST, &uri, Some(body), Some(&form)).await;
    held_or_done(&visit, &me, &answer, &format!("/console/merchants/{}", encode(&id)))
}

/// Freezes, unfreezes or closes a merchant: held for a second staff member's approval.
pub(super) async fn merchant_status(visit: Visit, Path(id): Path<String>, request: Request) -> Response {
    let me = match visit.page(Some(MERCHANT_STATUS)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let form = Form::read(request).await;
    let body = json!({
        "status": form.get("status").unwrap_or_default(),
        "reason": form.get("reason").unwrap_or_default(),
    });
    let uri = format!("/v1/merchants/{}/status", encode(&id));
    let answer = visit.api(Method::POST, &uri, Some(body), Some(&form)).await;
    held_or_done(&visit, &me, &answer, &format!("/console/merchants/{}", encode(&id)))
}

/// Moves a merchant under another parent (or to the top): held for a second staff member's approval.
pub(super) async fn move_merchant(visit: Visit, Path(id): Path<String>, request: Request) -> Response {
    let me = match visit.page(Some(MOVE_MERCHANT)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let form = Form::read(request).await;
    let parent = form.get("parent_id").map(str::trim).filter(|p| !p.is_empty());
    let body = json!({"parent_id": parent, "reason": form.get("reason").unwrap_or_default()});
    let uri = format!("/v1/merchants/{}/move", encode(&id));
    let answer = visit.api(Method::POST, &uri, Some(body), Some(&form)).await;
    held_or_done(&visit, &me, &answer, &format!("/console/merchants/{}", encode(&id)))
}

/// Back to `page` saying whether the action was done or waits for a second staff member; or why not.
fn held_or_done(visit: &Visit, me: &Me, answer: &super::Answer, page: &str) -> Response {
    if !answer.ok() {
        return visit.refusal(Some(me), answer);
    }
    let done = if answer.status == StatusCode::ACCEPTED { "held_for_approval" } else { "done" };
    Redirect::to(&format!("{page}?done={done}")).into_response()
}

// ---------------------------------------------------------------------------------------------------
// Orders

const ORDER_KINDS: [&str; 4] = ["payment", "recharge", "withdrawal", "refund"];

/// Search-first: orders of one kind by number, member, status and dates (the platform's days).
pub(super) async fn orders(visit: Visit) -> Response {
    let me = match visit.page(Some(SEARCH_ORDERS)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let kind = visit.param("kind").filter(|k| ORDER_KINDS.contains(k)).unwrap_or("payment").to_owned();
    let fields = ["number", "member_id", "status", "from_date", "to_date"];
    let given: Vec<(&str, String)> = fields.iter().filter_map(|f| visit.param(f).map(|v| (*f, v.to_owned()))).collect();
    let mut results = Value::Null;
    let mut error = None;
    if !given.is_empty() {
        let (mut uri, bad) = orders_uri(&visit, &kind, &given, PAGE_LINES);
        error = bad;
        if let Some(after) = visit.param("after") {
            uri.push_str(&format!("&after={}", encode(after)));
        }
        if error.is_none() {
            let answer = visit.get(&uri).await;
            if answer.ok() {
                results = answer.body;
            } else if answer.status == StatusCode::UNAUTHORIZED {
                return visit.to_sign_in(true);
            } else if answer.status.is_client_error() && answer.status != StatusCode::FORBIDDEN {
                error = Some(format!("{} ({})", answer.message(), answer.code()));
            } else {
                return visit.refusal(Some(&me), &answer);
            }
        }
    }
    let mut next_query = format!("kind={kind}&");
    for (name, value) in &given {
        next_query.push_str(&format!("{name}={}&", encode(value)));
    }
    let filters: serde_json::Map<String, Value> =
        fields.iter().map(|f| (f.to_string(), json!(visit.param(f).unwrap_or("")))).collect();
    let kinds: Vec<Value> =
        ORDER_KINDS.iter().map(|k| json!({"value": k, "label": label(visit.lang, &format!("kind_{k}"))})).collect();
    let template = if visit.htmx { "orders_results.html" } else { "orders.html" };
    visit.render(
        Some(&me),
        StatusCode::OK,
        template,
        json!({"kind": kind, "kinds": kinds, "filters": filters, "results": results, "error": error,
               "next_query": next_query}),
    )
}

/// The merchants the search finds (by name or credit code, by status), as CSV: within its criteria,
/// streamed and bounded ([`super::export`]).
pub(super) async fn merchants_export(visit: Visit) -> Response {
    use super::export::{local, text, word, Export};
    let me = match visit.page(Some(LIST_MERCHANTS)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let by = visit.param("by").unwrap_or("name");
    let q = visit.param("q");
    let status = visit.param("status");
    if q.is_none() && status.is_none() {
        return visit.message(
            Some(&me),
            StatusCode::BAD_REQUEST,
            "refused_title",
            label(visit.lang, "export_needs_criteria"),
            None,
        );
    }
    let mut uri = "/v1/merchants?limit=100".to_owned();
    if let Some(q) = q {
        let name = if by == "credit_code" { "certificate_number" } else { "name" };
        uri.push_str(&format!("&{name}={}", encode(q)));
    }
    if let Some(status) = status {
        uri.push_str(&format!("&status={}", encode(status)));
    }
    let export = Export {
        uri,
        name: "merchants".into(),
        headings: &["merchant", "name", "business_name", "credit_code", "merchant_type", "status", "created_at"],
        row: |m, lang, calendar| {
            vec![
                text(&m["id"]),
                text(&m["name"]),
                text(&m["business_name"]),
                text(&m["business_certificate"]),
                word(lang, "mtype", &m["merchant_type"]),
                word(lang, "merchant", &m["status"]),
                local(&m["created_at"], calendar),
            ]
        },
        paged: true,
    };
    super::export::stream(visit, export).await
}

/// The order search's API query for the criteria given (dates as the platform's days), and the
/// criterion that could not be read, if one.
fn orders_uri(visit: &Visit, kind: &str, given: &[(&str, String)], limit: u32) -> (String, Option<String>) {
    let mut uri = format!("/v1/orders?kind={kind}&limit={limit}");
    let mut error = None;
    let calendar = &visit.state.parties.config().calendar;
    for (name, value) in given {
        match *name {
            "from_date" | "to_date" => {
                let at = date_parts(value).and_then(|(y, m, d)| calendar.date_start(y, m, d));
                let param = if *name == "from_date" { "from" } else { "to" };
                match at {
                    Some(at) => uri.push_str(&format!("&{param}={}", encode(&at.to_string()))),
                    None => error = Some(format!("{}: {value}", label(visit.lang, name))),
                }
            }
            _ => uri.push_str(&format!("&{name}={}", encode(value))),
        }
    }
    (uri, error)
}

/// The orders the search finds, as CSV: within its criteria (none given, nothing exported), streamed
/// and bounded ([`super::export`]).
pub(super) async fn orders_export(visit: Visit) -> Response {
    use super::export::{amount, local, text, word, Export};
    let me = match visit.page(Some(SEARCH_ORDERS)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let kind = visit.param("kind").filter(|k| ORDER_KINDS.contains(k)).unwrap_or("payment").to_owned();
    let fields = ["number", "member_id", "status", "from_date", "to_date"];
    let given: Vec<(&str, String)> = fields.iter().filter_map(|f| visit.param(f).map(|v| (*f, v.to_owned()))).collect();
    if given.is_empty() {
        return visit.message(
            Some(&me),
            StatusCode::BAD_REQUEST,
            "refused_title",
            label(visit.lang, "export_needs_criteria"),
            None,
        );
    }
    let (uri, error) = orders_uri(&visit, &kind, &given, 100);
    if let Some(error) = error {
        return visit.message(Some(&me), StatusCode::BAD_REQUEST, "refused_title", &error, None);
    }
    let export = Export {
        uri,
        name: format!("orders-{kind}"),
        headings: &["order_number", "payment_number", "api_client", "member", "amount", "status", "created_at"],
        row: |o, lang, calendar| {
            vec![
                text(&o["order_number"]),
                text(&o["payment_number"]),
                text(&o["client_id"]),
                text(&o["member_id"]),
                amount(&o["amount"]),
                word(lang, "ostatus", &o["status"]),
                local(&o["created_at"], calendar),
            ]
        },
        paged: true,
    };
    super::export::stream(visit, export).await
}

/// An order, as its own endpoint answers it, with the ledger transfers of its number.
pub(super) async fn order(visit: Visit, Path((kind, number)): Path<(String, String)>) -> Response {
    let me = match visit.page(Some(SEARCH_ORDERS)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let client = client_query(visit.param("client_id"));
    // A refund is shown within its payment.
    let (path, shown) = match kind.as_str() {
        "payment" => ("payments", number.clone()),
        "refund" => ("payments", visit.param("payment").unwrap_or_default().to_owned()),
        "recharge" => ("recharges", number.clone()),
        "withdrawal" => ("withdrawals", number.clone()),
        _ => return visit.message(Some(&me), StatusCode::NOT_FOUND, "not_found_title", "", None),
    };
    let answer = visit.get(&format!("/v1/{path}/{}{client}", encode(&shown))).await;
    if !answer.ok() {
        return visit.refusal(Some(&me), &answer);
    }
    let facts: Vec<Value> = answer
        .body
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(_, v)| !v.is_array() && !v.is_object())
                .map(|(k, v)| {
                    let money =
                        ["amount", "fee", "payout", "paid", "remainder", "credited", "bonus", "repaid", "refunded"]
                            .contains(&k.as_str());
                    let time = k.ends_with("_at");
                    // The field's name from the catalogue (`field_<name>`); one it lacks as the API names it.
                    let name = format!("field_{k}");
                    let shown = label(visit.lang, &name);
                    let shown = if shown == name { k.as_str() } else { shown };
                    json!({"key": k, "label": shown, "value": v, "money": money && v.is_i64(),
                           "time": time && v.is_string()})
                })
                .collect()
        })
        .unwrap_or_default();
    let refunds = answer.body["refunds"].clone();
    let mut transfers = Value::Null;
    if me.may(LEDGER_TRANSFERS) {
        let reference = if kind == "refund" { number.clone() } else { shown.clone() };
        let found = visit.get(&format!("/v1/ledger/transfers?reference={}&limit=100", encode(&reference))).await;
        if found.ok() {
            transfers = found.body["data"].clone();
        }
    }
    visit.render(
        Some(&me),
        StatusCode::OK,
        "order.html",
        json!({"kind": kind, "kind_label": label(visit.lang, &format!("kind_{kind}")), "number": number,
               "order": answer.body, "facts": facts, "refunds": refunds, "transfers": transfers,
               "may_read_ledger": me.may(LEDGER_TRANSFERS)}),
    )
}

// ---------------------------------------------------------------------------------------------------
// Cards

/// Card types and batches, newest last as the API pages them.
pub(super) async fn cards(visit: Visit) -> Response {
    let me = match visit.page(Some(LIST_BATCHES)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let mut batches_uri = "/v1/card-batches?limit=50".to_owned();
    if let Some(after) = visit.param("after") {
        batches_uri.push_str(&format!("&after={}", encode(after)));
    }
    let batches = visit.get(&batches_uri).await;
    if !batches.ok() {
        return visit.refusal(Some(&me), &batches);
    }
    let types = if me.may(LIST_CARD_TYPES) { visit.get("/v1/card-types?limit=100").await.body } else { Value::Null };
    visit.render(Some(&me), StatusCode::OK, "cards.html", json!({"types": types["data"], "batches": batches.body}))
}

/// A batch: its numbers, terms and approvals, and the approval the signed-in role gives.
pub(super) async fn batch(visit: Visit, Path(id): Path<String>) -> Response {
    let me = match visit.page(Some(LIST_BATCHES)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let answer = visit.get(&format!("/v1/card-batches/{}", encode(&id))).await;
    if !answer.ok() {
        return visit.refusal(Some(&me), &answer);
    }
    let done = visit.param("done").map(|d| label(visit.lang, d).to_owned());
    // Marketing and finance approve, each in their role (the API refuses any other).
    let approver = matches!(me.role.as_str(), "marketing" | "finance");
    // The code generation's form is taken once: its token, in the page and in a cookie, is spent by
    // the first submission (the route takes no Idempotency-Key).
    let once = random_hex();
    let mut response = visit.render(
        Some(&me),
        StatusCode::OK,
        "batch.html",
        json!({"b": answer.body, "may_approve": approver && me.may(APPROVE_BATCH), "done": done,
               "may_generate": me.may(GENERATE_CODES), "may_list_codes": me.may(LIST_CODES), "once": once}),
    );
    if let Ok(value) = visit.cookie_header(CODES_FORM_COOKIE, &once, 3600) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

pub(super) async fn approve_batch(visit: Visit, Path(id): Path<String>, request: Request) -> Response {
    let me = match visit.page(Some(APPROVE_BATCH)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let form = Form::read(request).await;
    let uri = format!("/v1/card-batches/{}/approve", encode(&id));
    let answer = visit.api(Method::POST, &uri, Some(json!({})), Some(&form)).await;
    held_or_done(&visit, &me, &answer, &format!("/console/cards/batches/{}", encode(&id)))
}

/// Generates a batch's redemption codes and shows their text, this once: the page (never cached)
/// holds them and a CSV of them to download; sanhu keeps only their hashes.
pub(super) async fn generate_codes(visit: Visit, Path(id): Path<String>, request: Request) -> Response {
    let me = match visit.page(Some(GENERATE_CODES)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let form = Form::read(request).await;
    let once = cookie(&visit.headers, CODES_FORM_COOKIE).unwrap_or_default();
    if once.len() != 32 || form.get("once") != Some(once.as_str()) || !spend(&once) {
        let text = label(visit.lang, "codes_form_spent");
        return visit.message(Some(&me), StatusCode::CONFLICT, "refused_title", text, None);
    }
    let calendar = &visit.state.parties.config().calendar;
    let expires = form.get("expires_on").unwrap_or_default().trim();
    // Valid through the day given: they stop at the next day's start.
    let expires_at = date_parts(expires)
        .and_then(|(y, m, d)| calendar.date_start(y, m, d))
        .and_then(|start| calendar.day_start(sanhu_core::PlatformDay(calendar.day(start).0 + 1)));
    let Some(expires_at) = expires_at else {
        let text = format!("{}: {expires}", label(visit.lang, "codes_expire_on"));
        return visit.message(Some(&me), StatusCode::UNPROCESSABLE_ENTITY, "refused_title", &text, None);
    };
    let quantity: i64 = form.get("quantity").and_then(|q| q.trim().parse().ok()).unwrap_or(0);
    let mut body = json!({"quantity": quantity, "expires_at": expires_at.to_string()});
    if let Some(channel) = form.get("payment_channel").map(str::trim).filter(|c| !c.is_empty()) {
        body["payment_channel"] = json!(channel);
    }
    // The route takes no Idempotency-Key (its answer carries the codes): the form has none.
    let form = Form([("csrf".to_owned(), form.get("csrf").unwrap_or_default().to_owned())].into_iter().collect());
    let uri = format!("/v1/card-batches/{}/codes", encode(&id));
    let answer = visit.api(Method::POST, &uri, Some(body), Some(&form)).await;
    if !answer.ok() {
        return visit.refusal(Some(&me), &answer);
    }
    let codes = answer.body["codes"].as_array().cloned().unwrap_or_default();
    // A BOM first, so that spreadsheet programs read the file as UTF-8.
    let mut csv = String::from("\u{feff}id,code,expires_at\r\n");
    let expires_text = answer.body["expires_at"].as_str().unwrap_or_default();
    for code in &codes {
        csv.push_str(&format!(
            "{},{},{}\r\n",
            code["id"].as_str().unwrap_or_default(),
            code["code"].as_str().unwrap_or_default(),
            expires_text
        ));
    }
    let href = format!("data:text/csv;charset=utf-8,{}", encode(&csv));
    let file = format!("codes-{id}-{}.csv", random_suffix(&codes));
    let mut response = visit.render(
        Some(&me),
        StatusCode::OK,
        "codes_generated.html",
        json!({"batch_id": id, "generated": answer.body, "csv_href": href, "csv_file": file}),
    );
    if let Ok(value) = visit.cookie_header(CODES_FORM_COOKIE, "", 0) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// Forms of code generation already sent, by their token, for the token's life: a second request
/// with a token (a double click, sent before the first's answer cleared the cookie) is refused. Kept
/// by this process: behind several servers, the cookie cleared by the first answer still stops a
/// resubmission.
static SPENT_FORMS: std::sync::LazyLock<std::sync::Mutex<HashMap<String, Instant>>> =
    std::sync::LazyLock::new(Default::default);
const SPENT_FORM_KEPT: Duration = Duration::from_secs(3600);

/// Spends a code generation form's token: false if it was spent already.
fn spend(token: &str) -> bool {
    let mut spent = SPENT_FORMS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let now = Instant::now();
    spent.retain(|_, at| now.duration_since(*at) < SPENT_FORM_KEPT);
    spent.insert(token.to_owned(), now).is_none()
}

/// The first code's id's tail: tells two downloads of one batch apart.
fn random_suffix(codes: &[Value]) -> String {
    let first = codes.first().and_then(|c| c["id"].as_str()).unwrap_or("none");
    first.chars().rev().take(6).collect::<Vec<_>>().into_iter().rev().collect()
}

/// A batch's codes as kept: status, expiry, who redeemed which card; never their text.
pub(super) async fn codes(visit: Visit, Path(id): Path<String>) -> Response {
    let me = match visit.page(Some(LIST_CODES)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let mut uri = format!("/v1/card-batches/{}/codes?limit={PAGE_LINES}", encode(&id));
    if let Some(after) = visit.param("after") {
        uri.push_str(&format!("&after={}", encode(after)));
    }
    let answer = visit.get(&uri).await;
    if !answer.ok() {
        return visit.refusal(Some(&me), &answer);
    }
    visit.render(
        Some(&me),
        StatusCode::OK,
        "codes.html",
        json!({"batch_id": id, "codes": answer.body, "paged": visit.param("after").is_some()}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_business_page_names_a_route_of_the_api() {
        for route in [
            DAILY_FIGURES,
            SEARCH_ORDERS,
            LIST_MERCHANTS,
            REVIEW_MERCHANT,
            MERCHANT_STATUS,
            LEDGER_TRANSFERS,
            LIST_BATCHES,
            LIST_CARD_TYPES,
            APPROVE_BATCH,
            GENERATE_CODES,
            LIST_CODES,
            MERCHANT_LEVELS,
            MERCHANT_CHILDREN,
            MOVE_MERCHANT,
        ] {
            assert!(crate::routes::find(route.0, route.1).is_some(), "{route:?}");
        }
    }
}
