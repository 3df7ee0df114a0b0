//! The console's pages of the three parties and their bills: customers (search first, a customer with
//! its members, merchants, accounts and history), a member's bills (issuing one for a period), a bill
//! with its items, and a customer's bill of a month. Like every page, each reads and acts through the
//! API ([`Visit::api`]): the bills' rules (a period closed, the same bill issued again) are the API's.

use axum::extract::{Path, Request};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{json, Value};

use super::{encode, Form, Visit, PAGE_LINES, SEARCH_CUSTOMERS_MAX};

pub(super) const SEARCH_CUSTOMERS: (&str, &str) = ("GET", "/v1/customers");
pub(super) const GET_CUSTOMER: (&str, &str) = ("GET", "/v1/customers/{id}");
pub(super) const MEMBER_BILLS: (&str, &str) = ("GET", "/v1/members/{id}/bills");
pub(super) const ISSUE_BILL: (&str, &str) = ("POST", "/v1/members/{id}/bills");
pub(super) const GET_BILL: (&str, &str) = ("GET", "/v1/bills/{id}");
pub(super) const CUSTOMER_BILL: (&str, &str) = ("GET", "/v1/customers/{id}/bills");
const LIST_MERCHANTS: (&str, &str) = super::business::LIST_MERCHANTS;

/// Bill items a page shows.
const BILL_ITEMS: u32 = 50;

/// Search-first: customers by certificate number, name or a member's phone; nothing until one is given.
pub(super) async fn customers(visit: Visit) -> Response {
    let me = match visit.page(Some(SEARCH_CUSTOMERS)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let by = visit.param("by").unwrap_or("certificate").to_owned();
    let q = visit.param("q").map(str::to_owned);
    let mut results: Option<Vec<Value>> = None;
    let mut error = None;
    if let Some(q) = &q {
        let name = match by.as_str() {
            "name" => "name",
            "phone" => "phone",
            _ => "certificate_number",
        };
        let answer = visit.get(&format!("/v1/customers?{name}={}", encode(q))).await;
        if answer.ok() {
            let found = answer.body["data"].as_array().cloned().unwrap_or_default();
            results = Some(found.into_iter().take(SEARCH_CUSTOMERS_MAX).collect());
        } else if answer.status == StatusCode::UNAUTHORIZED {
            return visit.to_sign_in(true);
        } else if answer.status.is_client_error() && answer.status != StatusCode::FORBIDDEN {
            error = Some(format!("{} ({})", answer.message(), answer.code()));
            results = Some(Vec::new());
        } else {
            return visit.refusal(Some(&me), &answer);
        }
    }
    visit.render(
        Some(&me),
        StatusCode::OK,
        "customers.html",
        json!({"by": by, "q": q, "results": results, "error": error}),
    )
}

/// The customers the search finds, as CSV (certificates masked, as the API shows them): within its
/// criterion, bounded ([`super::export`]).
pub(super) async fn customers_export(visit: Visit) -> Response {
    use super::export::{local, text, word, Export};
    let me = match visit.page(Some(SEARCH_CUSTOMERS)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let Some(q) = visit.param("q") else {
        let text = super::messages::label(visit.lang, "export_needs_criteria");
        return visit.message(Some(&me), StatusCode::BAD_REQUEST, "refused_title", text, None);
    };
    let name = match visit.param("by").unwrap_or("certificate") {
        "name" => "name",
        "phone" => "phone",
        _ => "certificate_number",
    };
    let export = Export {
        uri: format!("/v1/customers?{name}={}", encode(q)),
        name: "customers".into(),
        headings: &["customer", "name", "kind", "certificate", "status", "created_at"],
        row: |c, lang, calendar| {
            vec![
                text(&c["id"]),
                text(&c["name"]),
                word(lang, "pkind", &c["kind"]),
                text(&c["certificate"]["masked_number"]),
                word(lang, "cstatus", &c["status"]),
                local(&c["created_at"], calendar),
            ]
        },
        paged: false,
    };
    super::export::stream(visit, export).await
}

/// A customer: its members (each with its wallet and bills), its merchants, every account with its
/// balance (opening the account's flow), its history; and its bill of a month.
pub(super) async fn customer(visit: Visit, Path(id): Path<String>) -> Response {
    let me = match visit.page(Some(GET_CUSTOMER)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let overview = visit.get(&format!("/v1/customers/{}", encode(&id))).await;
    if !overview.ok() {
        return visit.refusal(Some(&me), &overview);
    }
    let mut merchants = Value::Null;
    if me.may(LIST_MERCHANTS) {
        let answer = visit.get(&format!("/v1/merchants?customer_id={}&limit=100", encode(&id))).await;
        if answer.ok() {
            merchants = answer.body;
        }
    }
    let mut body = overview.body;
    // The latest change first, as people read a history.
    if let Some(history) = body["history"].as_array_mut() {
        history.reverse();
    }
    visit.render(
        Some(&me),
        StatusCode::OK,
        "customer.html",
        json!({
            "o": body,
            "merchants": merchants,
            "may_read_bills": me.may(MEMBER_BILLS),
            "may_read_customer_bill": me.may(CUSTOMER_BILL),
        }),
    )
}

/// A member's bills, latest period first, and the form that issues one for a month.
pub(super) async fn bills(visit: Visit, Path(id): Path<String>) -> Response {
    let me = match visit.page(Some(MEMBER_BILLS)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let mut uri = format!("/v1/members/{}/bills?limit={PAGE_LINES}", encode(&id));
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
        "bills.html",
        json!({"member_id": id, "bills": answer.body, "may_issue": me.may(ISSUE_BILL),
               "last_month": last_month(&visit)}),
    )
}

/// Issues the member's bill of a month (the same bill again if it was issued), then shows it.
pub(super) async fn issue_bill(visit: Visit, Path(id): Path<String>, request: Request) -> Response {
    let me = match visit.page(Some(ISSUE_BILL)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let form = Form::read(request).await;
    let body = json!({"period": form.get("period").unwrap_or_default().trim()});
    let answer = visit.api(Method::POST, &format!("/v1/members/{}/bills", encode(&id)), Some(body), Some(&form)).await;
    if !answer.ok() {
        return visit.refusal(Some(&me), &answer);
    }
    let bill = answer.body["id"].as_str().unwrap_or_default();
    Redirect::to(&format!("/console/bills/{}", encode(bill))).into_response()
}

/// A bill: its accounts' balances, its totals by business, and its items paged.
pub(super) async fn bill(visit: Visit, Path(id): Path<String>) -> Response {
    let me = match visit.page(Some(GET_BILL)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let answer = visit.get(&format!("/v1/bills/{}?limit={BILL_ITEMS}", encode(&id))).await;
    if !answer.ok() {
        return visit.refusal(Some(&me), &answer);
    }
    let mut bill = answer.body;
    let paged = visit.param("after").is_some();
    if let Some(after) = visit.param("after") {
        let page =
            visit.get(&format!("/v1/bills/{}/items?limit={BILL_ITEMS}&after={}", encode(&id), encode(after))).await;
        if !page.ok() {
            return visit.refusal(Some(&me), &page);
        }
        bill["items"] = page.body["data"].clone();
        bill["items_next_cursor"] = page.body["next_cursor"].clone();
    }
    visit.render(Some(&me), StatusCode::OK, "bill.html", json!({"b": bill, "paged": paged}))
}

/// A customer's bill of a month: its members' bills summed, for printing.
pub(super) async fn customer_bill(visit: Visit, Path(id): Path<String>) -> Response {
    let me = match visit.page(Some(CUSTOMER_BILL)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let period = visit.param("period").map(str::to_owned).unwrap_or_else(|| last_month(&visit));
    let answer = visit.get(&format!("/v1/customers/{}/bills?period={}", encode(&id), encode(&period))).await;
    let (bill, error) = if answer.ok() {
        (answer.body, None)
    } else if answer.status == StatusCode::UNAUTHORIZED {
        return visit.to_sign_in(true);
    } else if answer.status.is_client_error() && answer.status != StatusCode::FORBIDDEN {
        (Value::Null, Some(format!("{} ({})", answer.message(), answer.code())))
    } else {
        return visit.refusal(Some(&me), &answer);
    };
    visit.render(
        Some(&me),
        StatusCode::OK,
        "customer_bill.html",
        json!({"customer_id": id, "period": period, "c": bill, "error": error}),
    )
}

/// The platform's last month (`YYYY-MM`): the latest whose bills may be issued.
fn last_month(visit: &Visit) -> String {
    let today = visit.state.parties.config().calendar.local_text(sanhu_service::clock::now());
    let year: i32 = today[..4].parse().unwrap_or(1970);
    let month: u32 = today[5..7].parse().unwrap_or(1);
    if month == 1 {
        format!("{:04}-12", year - 1)
    } else {
        format!("{year:04}-{:02}", month - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_party_page_names_a_route_of_the_api() {
        for route in [SEARCH_CUSTOMERS, GET_CUSTOMER, MEMBER_BILLS, ISSUE_BILL, GET_BILL, CUSTOMER_BILL] {
            assert!(crate::routes::find(route.0, route.1).is_some(), "{route:?}");
        }
    }
}
