//! The console's administration pages, read-only: API clients (their binding, scopes and keys'
//! fingerprints), staff and their roles, and the effective configuration (secrets redacted). Like
//! every page, each reads through the API ([`Visit::api`]); clients and staff are made and changed
//! with `sanhu client` and `sanhu staff` on the server's machine, settings in sanhu.toml.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use super::{encode, Visit, PAGE_LINES};

pub(super) const LIST_API_CLIENTS: (&str, &str) = ("GET", "/v1/api-clients");
pub(super) const GET_API_CLIENT: (&str, &str) = ("GET", "/v1/api-clients/{id}");
pub(super) const LIST_STAFF: (&str, &str) = ("GET", "/v1/staff");
pub(super) const GET_STAFF: (&str, &str) = ("GET", "/v1/staff/{username}");
pub(super) const CONFIGURATION: (&str, &str) = ("GET", "/v1/configuration");

/// A list page's query to the API: the criteria given (by name), the cursor, a page's lines.
fn list_uri(visit: &Visit, path: &str, criteria: &[&str]) -> String {
    let mut uri = format!("{path}?limit={PAGE_LINES}");
    for name in criteria.iter().chain(["after"].iter()) {
        if let Some(value) = visit.param(name) {
            uri.push_str(&format!("&{name}={}", encode(value)));
        }
    }
    uri
}

/// The criteria of a list again, for its next page's link.
fn criteria_query(visit: &Visit, criteria: &[&str]) -> String {
    criteria.iter().filter_map(|name| visit.param(name).map(|v| format!("{name}={}&", encode(v)))).collect()
}

async fn list_page(visit: Visit, needs: (&str, &str), path: &str, criteria: &[&str], template: &str) -> Response {
    let me = match visit.page(Some(needs)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let answer = visit.get(&list_uri(&visit, path, criteria)).await;
    let (results, next_cursor, error) = if answer.ok() {
        (answer.body["data"].clone(), answer.body["next_cursor"].clone(), None)
    } else if answer.status.is_client_error()
        && answer.status != StatusCode::FORBIDDEN
        && answer.status != StatusCode::UNAUTHORIZED
    {
        (json!([]), Value::Null, Some(format!("{} ({})", answer.message(), answer.code())))
    } else {
        return visit.refusal(Some(&me), &answer);
    };
    let given: serde_json::Map<String, Value> =
        criteria.iter().map(|name| ((*name).to_owned(), json!(visit.param(name).unwrap_or_default()))).collect();
    visit.render(
        Some(&me),
        StatusCode::OK,
        template,
        json!({
            "results": results, "next_cursor": next_cursor, "error": error, "f": given,
            "criteria": criteria_query(&visit, criteria),
            "roles": sanhu_core::staff::StaffRole::ALL.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        }),
    )
}

/// The API clients, by id; found by text in the id or name, by the member bound to, by status.
pub(super) async fn api_clients(visit: Visit) -> Response {
    list_page(visit, LIST_API_CLIENTS, "/v1/api-clients", &["q", "bound_to", "status"], "api_clients.html").await
}

/// One API client: its scopes, binding and keys' fingerprints.
pub(super) async fn api_client(visit: Visit, Path(id): Path<String>) -> Response {
    let me = match visit.page(Some(GET_API_CLIENT)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let answer = visit.get(&format!("/v1/api-clients/{}", encode(&id))).await;
    if !answer.ok() {
        return visit.refusal(Some(&me), &answer);
    }
    visit.render(Some(&me), StatusCode::OK, "api_client.html", json!({"c": answer.body}))
}

/// The staff, by username; found by text in the username, by role, by status.
pub(super) async fn staff(visit: Visit) -> Response {
    list_page(visit, LIST_STAFF, "/v1/staff", &["q", "role", "status"], "staff.html").await
}

/// One staff member: role, the scopes it grants, status.
pub(super) async fn staff_member(visit: Visit, Path(username): Path<String>) -> Response {
    let me = match visit.page(Some(GET_STAFF)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let answer = visit.get(&format!("/v1/staff/{}", encode(&username))).await;
    if !answer.ok() {
        return visit.refusal(Some(&me), &answer);
    }
    visit.render(Some(&me), StatusCode::OK, "staff_member.html", json!({"s": answer.body}))
}

/// The effective configuration, by section, secrets redacted.
pub(super) async fn configuration(visit: Visit) -> Response {
    let me = match visit.page(Some(CONFIGURATION)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let answer = visit.get("/v1/configuration").await;
    if !answer.ok() {
        return visit.refusal(Some(&me), &answer);
    }
    let mut sections: Vec<(String, Vec<Value>)> = Vec::new();
    for setting in answer.body["settings"].as_array().cloned().unwrap_or_default() {
        let section = setting["section"].as_str().unwrap_or_default().to_owned();
        match sections.iter_mut().find(|(s, _)| *s == section) {
            Some((_, settings)) => settings.push(setting),
            None => sections.push((section, vec![setting])),
        }
    }
    let sections: Vec<Value> =
        sections.into_iter().map(|(name, settings)| json!({"name": name, "settings": settings})).collect();
    visit.render(Some(&me), StatusCode::OK, "configuration.html", json!({"sections": sections}))
}
