//! The operations console (运营后台): server-rendered pages under `/console` for staff, Chinese by
//! default, English at `?lang=en` (kept in a cookie).
//!
//! The console is a client of the API inside the process: every page reads, and every form acts,
//! through a request to the API's own router ([`api`]), carrying the browser's staff session cookie
//! and, on a POST, the session's CSRF token as `X-CSRF-Token`. So the API's layers decide everything
//! as they do for any staff request: the session (absent or expired: the console sends the browser
//! to sign in), the scope the route needs (a page whose API route the role lacks answers 403, and its
//! menu is not shown), maker-checker (a freeze waits for a second staff member), idempotency (each
//! form carries its own key, so a form sent twice acts once) and the audit log (as the staff member).
//! There is no second path to the store.
//!
//! The CSRF token is answered once, at sign-in; the console keeps it in a cookie of its own
//! ([`CSRF_COOKIE`], `HttpOnly`, `SameSite=Strict`, path `/console`) to put in every form, and the API
//! checks it against the session's. The sign-in form, before any session, carries a token of its own
//! matched against a cookie ([`PRE_COOKIE`]).
//!
//! | file | what |
//! |---|---|
//! | `messages.rs` | the message catalogue: every label, in Chinese and English |
//! | `render.rs` | the templates (`templates/`) and their filters: ¥ amounts, local times |
//! | `static/` | htmx (from the npm package htmx.org, 0BSD) and the style sheet, embedded |

mod admin;
mod business;
mod card_life;
mod coupons;
pub(crate) mod export;
pub mod messages;
mod parties;
mod products;
pub mod render;
mod settlements;
mod webhooks;

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::body::{to_bytes, Body};
use axum::extract::{ConnectInfo, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Map, Value};
use tower::ServiceExt;

use self::messages::{catalogue, label, Lang};
use crate::routes::required_scope;
use crate::state::AppState;

/// The console's CSRF cookie: the session's CSRF token, for the forms.
pub const CSRF_COOKIE: &str = "sanhu_console_csrf";
/// The sign-in form's own token, before there is a session.
pub const PRE_COOKIE: &str = "sanhu_console_signin";
/// The language chosen (`zh` or `en`).
pub const LANG_COOKIE: &str = "sanhu_console_lang";
const COOKIE_PATH: &str = "/console";
/// The largest API answer a page reads.
const ANSWER_BYTES_MAX: usize = 4 * 1024 * 1024;
/// Customers a search shows with their members (a name may match many).
const SEARCH_CUSTOMERS_MAX: usize = 20;
/// Lines of flow and audit events a page shows.
const PAGE_LINES: u32 = 20;

const HTMX: &str = include_str!("static/htmx.min.js");
const CSS: &str = include_str!("static/console.css");

/// The console's routes, mounted by the route table ([`crate::routes::console_pages`]). None is an
/// API endpoint: they are not in the OpenAPI document.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console", get(dashboard))
        .route("/console/", get(|| async { Redirect::to("/console") }))
        .route("/console/sign-in", get(sign_in_page).post(sign_in))
        .route("/console/sign-out", post(sign_out))
        .route("/console/members", get(members))
        .route("/console/members/{id}", get(member))
        .route("/console/members/{id}/flow", get(flow))
        .route("/console/accounts/{id}/status", post(account_status))
        .route("/console/withdrawals", get(withdrawals))
        .route("/console/withdrawals/{number}/review", post(review_withdrawal))
        .route("/console/approvals", get(approvals))
        .route("/console/approvals/{id}/{decision}", post(decide_approval))
        .route("/console/audit", get(audit))
        .route("/console/merchants", get(business::merchants))
        .route("/console/merchants/{id}", get(business::merchant))
        .route("/console/merchants/{id}/review", post(business::review_merchant))
        .route("/console/merchants/{id}/status", post(business::merchant_status))
        .route("/console/orders", get(business::orders))
        .route("/console/orders/{kind}/{number}", get(business::order))
        .route("/console/cards", get(business::cards))
        .route("/console/cards/batches/{id}", get(business::batch))
        .route("/console/cards/batches/{id}/approve", post(business::approve_batch))
        .route("/console/cards/batches/{id}/codes", get(business::codes).post(business::generate_codes))
        .route("/console/merchants/{id}/move", post(business::move_merchant))
        .route("/console/customers", get(parties::customers))
        .route("/console/customers/{id}", get(parties::customer))
        .route("/console/customers/{id}/bill", get(parties::customer_bill))
        .route("/console/members/{id}/bills", get(parties::bills).post(parties::issue_bill))
        .route("/console/bills/{id}", get(parties::bill))
        .route("/console/orders/export.csv", get(business::orders_export))
        .route("/console/merchants/export.csv", get(business::merchants_export))
        .route("/console/customers/export.csv", get(parties::customers_export))
        .route("/console/products", get(products::products))
        .route("/console/merchants/{id}/products", get(products::merchant_products))
        .route("/console/merchants/{id}/products/{product}/{action}", post(products::act_on_signing))
        .route("/console/merchants/{id}/settings", get(products::merchant_settings))
        .route("/console/api-clients", get(admin::api_clients))
        .route("/console/api-clients/{id}", get(admin::api_client))
        .route("/console/staff", get(admin::staff))
        .route("/console/staff/{username}", get(admin::staff_member))
        .route("/console/configuration", get(admin::configuration))
        .route("/console/coupons", get(coupons::templates))
        .route("/console/coupons/{id}", get(coupons::template))
        .route("/console/coupons/{id}/issue", post(coupons::issue))
        .route("/console/webhooks", get(webhooks::endpoints))
        .route("/console/webhooks/{id}", get(webhooks::endpoint))
        .route("/console/webhooks/{id}/{action}", post(webhooks::set_enabled))
        .route("/console/webhooks/{id}/deliveries/{event_id}/resend", post(webhooks::resend))
        .route("/console/settlements", get(settlements::statements))
        .route("/console/settlements/{merchant}/issue", post(settlements::issue))
        .route("/console/settlements/{merchant}/adjustments", post(settlements::adjust))
        .route("/console/settlements/{merchant}/{number}", get(settlements::statement))
        .route("/console/settlements/{merchant}/{number}/{action}", post(settlements::act))
        .route("/console/merchants/{id}/stores", get(settlements::stores))
        .route("/console/merchants/{id}/stores/{store}", get(settlements::store))
        .route("/console/merchants/{id}/stores/{store}/{action}", post(settlements::act_on_store))
        .route(
            "/console/merchants/{id}/stores/{store}/terminals/{terminal}/disable",
            post(settlements::disable_terminal),
        )
        .route("/console/card", get(card_life::find))
        .route("/console/cards/{number}", get(card_life::card))
        .route("/console/cards/{number}/{action}", post(card_life::act))
        .route("/console/members/{id}/family-cards", get(card_life::family_cards))
        .route("/console/family-cards/{id}/revoke", post(card_life::revoke_family_card))
        .route("/console/static/htmx.min.js", get(|| async { asset("text/javascript; charset=utf-8", HTMX) }))
        .route("/console/static/console.css", get(|| async { asset("text/css; charset=utf-8", CSS) }))
}

fn asset(content_type: &'static str, text: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=3600")], text).into_response()
}

/// A menu entry: its page, its label, and the API route (method, template) whose scope it needs.
struct Menu {
    href: &'static str,
    key: &'static str,
    needs: Option<(&'static str, &'static str)>,
}

const MENUS: &[Menu] = &[
    Menu { href: "/console", key: "nav_dashboard", needs: None },
    Menu { href: "/console/customers", key: "nav_customers", needs: Some(parties::SEARCH_CUSTOMERS) },
    Menu { href: "/console/members", key: "nav_members", needs: Some(SEARCH_CUSTOMERS) },
    Menu { href: "/console/merchants", key: "nav_merchants", needs: Some(business::LIST_MERCHANTS) },
    Menu { href: "/console/orders", key: "nav_orders", needs: Some(business::SEARCH_ORDERS) },
    Menu { href: "/console/withdrawals", key: "nav_withdrawals", needs: Some(REVIEW_WITHDRAWAL) },
    Menu { href: "/console/cards", key: "nav_cards", needs: Some(business::LIST_BATCHES) },
    Menu { href: "/console/coupons", key: "nav_coupons", needs: Some(coupons::LIST_TEMPLATES) },
    Menu { href: "/console/settlements", key: "nav_settlements", needs: Some(settlements::LIST_STATEMENTS) },
    Menu { href: "/console/products", key: "nav_products", needs: Some(products::LIST_PRODUCTS) },
    Menu { href: "/console/approvals", key: "nav_approvals", needs: Some(LIST_APPROVALS) },
    Menu { href: "/console/audit", key: "nav_audit", needs: Some(AUDIT_EVENTS) },
    Menu { href: "/console/webhooks", key: "nav_webhooks", needs: Some(webhooks::LIST_ENDPOINTS) },
    Menu { href: "/console/api-clients", key: "nav_api_clients", needs: Some(admin::LIST_API_CLIENTS) },
    Menu { href: "/console/staff", key: "nav_staff", needs: Some(admin::LIST_STAFF) },
    Menu { href: "/console/configuration", key: "nav_configuration", needs: Some(admin::CONFIGURATION) },
];

const SEARCH_CUSTOMERS: (&str, &str) = ("GET", "/v1/customers");
const WALLET: (&str, &str) = ("GET", "/v1/members/{id}/wallet");
const ACCOUNT_STATUS: (&str, &str) = ("POST", "/v1/accounts/{id}/status");
const REVIEW_WITHDRAWAL: (&str, &str) = ("POST", "/v1/withdrawals/{number}/review");
const WITHDRAWALS_IN_REVIEW: (&str, &str) = ("GET", "/v1/withdrawals");
const LIST_APPROVALS: (&str, &str) = ("GET", "/v1/approvals");
const DECIDE_APPROVAL: (&str, &str) = ("POST", "/v1/approvals/{id}/approve");
const AUDIT_EVENTS: (&str, &str) = ("GET", "/v1/audit-events");
const LATEST_VERIFICATION: (&str, &str) = ("GET", "/v1/verifications/{id}");
/// A last verification older than this is flagged on the audit page: it is advised daily.
const VERIFY_STALE_S: i64 = 2 * 24 * 3600;

/// The staff member signed in, as the API answers `GET /v1/staff/sessions/current`.
struct Me {
    username: String,
    role: String,
    scopes: Vec<String>,
    expires_at: String,
}

impl Me {
    /// Whether the role holds the scope the API route needs: the API's own rule.
    fn may(&self, (method, route): (&str, &str)) -> bool {
        let scope = required_scope(method, route);
        let area_ok = match crate::scopes::staff_area(route) {
            Some(area) => sanhu_core::staff::StaffRole::parse(&self.role).is_ok_and(|role| role.reaches(area)),
            None => true,
        };
        area_ok && self.scopes.iter().any(|s| s == scope.as_str())
    }
}

/// One visit to a console page: what the browser sent that the console and its API calls need.
struct Visit {
    state: AppState,
    headers: HeaderMap,
    connect: Option<ConnectInfo<SocketAddr>>,
    lang: Lang,
    /// `?lang=` chose the language: the answer keeps it in a cookie.
    lang_chosen: bool,
    query: HashMap<String, String>,
    path: String,
    /// htmx asks for the part of the page it replaces.
    htmx: bool,
}

impl FromRequestParts<AppState> for Visit {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Visit, Self::Rejection> {
        let query: HashMap<String, String> = parts
            .uri
            .query()
            .map(|q| {
                url_pairs(q.as_bytes()).into_iter().filter(|(_, v)| !v.trim().is_empty()).collect::<HashMap<_, _>>()
            })
            .unwrap_or_default();
        let asked = query.get("lang").and_then(|l| Lang::parse(l));
        let kept = cookie(&parts.headers, LANG_COOKIE).and_then(|l| Lang::parse(&l));
        Ok(Visit {
            state: state.clone(),
            headers: parts.headers.clone(),
            connect: parts.extensions.get::<ConnectInfo<SocketAddr>>().cloned(),
            lang: asked.or(kept).unwrap_or(Lang::Zh),
            lang_chosen: asked.is_some(),
            query,
            path: parts.uri.path().to_owned(),
            htmx: parts.headers.contains_key("hx-request"),
        })
    }
}

/// An API answer: its status, its JSON, the cookies it sets.
struct Answer {
    status: StatusCode,
    body: Value,
    cookies: Vec<HeaderValue>,
}

impl Answer {
    fn ok(&self) -> bool {
        self.status.is_success()
    }

    fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or("")
    }
}

impl Visit {
    fn param(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(|v| v.trim())
    }

    /// A request to the API, as the browser's staff session (its cookies), from the browser's address.
    async fn api(&self, method: Method, uri: &str, body: Option<Value>, form: Option<&Form>) -> Answer {
        // Staff act on what a page shows, often right after their own change: the console reads the
        // primary, never a read replica (docs/OPERATIONS.md, "Read replicas").
        let mut builder = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::CONTENT_TYPE, "application/json")
            .header(crate::reads::CONSISTENCY_HEADER, "strong");
        for value in self.headers.get_all(header::COOKIE) {
            builder = builder.header(header::COOKIE, value);
        }
        if let Some(name) = self.state.config.trusted_proxy_header.as_deref() {
            if let Some(value) = self.headers.get(name) {
                builder = builder.header(name, value);
            }
        }
        if let Some(form) = form {
            builder = builder.header(crate::staff::sessions::CSRF_HEADER, form.get("csrf").unwrap_or("-"));
            if let Some(key) = form.get("key").filter(|k| !k.is_empty()) {
                builder = builder.header(crate::idempotency::IDEMPOTENCY_KEY_HEADER, key);
            }
        }
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let mut request = match builder.body(Body::from(bytes)) {
            Ok(request) => request,
            Err(error) => {
                return Answer {
                    status: StatusCode::BAD_REQUEST,
                    body: json!({"error": {"code": "invalid_query", "message": error.to_string()}}),
                    cookies: Vec::new(),
                }
            }
        };
        if let Some(connect) = self.connect {
            request.extensions_mut().insert(connect);
        }
        let response = crate::router(self.state.clone()).oneshot(request).await.unwrap_or_else(|never| match never {});
        let status = response.status();
        let cookies = response.headers().get_all(header::SET_COOKIE).iter().cloned().collect();
        let body = to_bytes(response.into_body(), ANSWER_BYTES_MAX).await.unwrap_or_default();
        let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
        Answer { status, body, cookies }
    }

    async fn get(&self, uri: &str) -> Answer {
        self.api(Method::GET, uri, None, None).await
    }

    /// The staff member signed in; without a valid session, the way to the sign-in page.
    async fn me(&self) -> Result<Me, Response> {
        if cookie(&self.headers, crate::staff::sessions::SESSION_COOKIE).is_none() {
            return Err(self.to_sign_in(false));
        }
        let answer = self.get("/v1/staff/sessions/current").await;
        if answer.status == StatusCode::UNAUTHORIZED {
            return Err(self.to_sign_in(true));
        }
        if !answer.ok() {
            return Err(self.refusal(None, &answer));
        }
        let b = &answer.body;
        Ok(Me {
            username: b["username"].as_str().unwrap_or_default().to_owned(),
            role: b["role"].as_str().unwrap_or_default().to_owned(),
            scopes: b["scopes"]
                .as_array()
                .map(|s| s.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
                .unwrap_or_default(),
            expires_at: b["expires_at"].as_str().unwrap_or_default().to_owned(),
        })
    }

    /// The staff member, if their role may use the page (whose API route is `needs`); otherwise the
    /// answer: sign in, or 403.
    async fn page(&self, needs: Option<(&str, &str)>) -> Result<Me, Response> {
        let me = self.me().await?;
        match needs {
            Some(route) if !me.may(route) => Err(self.message(
                Some(&me),
                StatusCode::FORBIDDEN,
                "forbidden_title",
                label(self.lang, "forbidden"),
                None,
            )),
            _ => Ok(me),
        }
    }

    fn to_sign_in(&self, ended: bool) -> Response {
        let target = if ended { "/console/sign-in?ended=1" } else { "/console/sign-in" };
        if self.htmx {
            // htmx follows a redirect into the part it replaces; this sends the whole page instead.
            return (StatusCode::OK, [("hx-redirect", target)]).into_response();
        }
        Redirect::to(target).into_response()
    }

    /// The context every page shares, with `extra` over it.
    fn context(&self, me: Option<&Me>, extra: Value) -> Value {
        let mut context = Map::new();
        context.insert("t".into(), json!(catalogue(self.lang)));
        context.insert("lang".into(), json!(self.lang.html()));
        context.insert("other_lang".into(), json!(self.lang.other().code()));
        context.insert("tz".into(), json!(self.state.parties.config().calendar.time_zone()));
        context.insert("path".into(), json!(self.path));
        context.insert("csrf".into(), json!(cookie(&self.headers, CSRF_COOKIE).unwrap_or_default()));
        context.insert("key".into(), json!(random_hex()));
        // The current page's query without `lang`, for the language switch.
        let mut rest: Vec<(&String, &String)> = self.query.iter().filter(|(k, _)| *k != "lang").collect();
        rest.sort();
        let rest: String = rest.iter().map(|(k, v)| format!("{}={}&", encode(k), encode(v))).collect();
        context.insert("query_rest".into(), json!(rest));
        if let Some(me) = me {
            let menus: Vec<Value> = MENUS
                .iter()
                .filter(|m| m.needs.is_none_or(|route| me.may(route)))
                .map(|m| {
                    let current =
                        if m.href == "/console" { self.path == "/console" } else { self.path.starts_with(m.href) };
                    json!({"href": m.href, "label": label(self.lang, m.key), "current": current})
                })
                .collect();
            context.insert("menus".into(), json!(menus));
            context.insert(
                "me".into(),
                json!({
                    "username": me.username,
                    "role": me.role,
                    "role_label": label(self.lang, &format!("role_{}", me.role)),
                    "expires_at": me.expires_at,
                }),
            );
        }
        if let Value::Object(extra) = extra {
            context.extend(extra);
        }
        Value::Object(context)
    }

    fn render(&self, me: Option<&Me>, status: StatusCode, template: &str, extra: Value) -> Response {
        let context = self.context(me, extra);
        match render::render(template, &context) {
            Ok(html) => {
                let mut response = (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
                let headers = response.headers_mut();
                headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
                headers.insert(
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static(
                        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
                    ),
                );
                if self.lang_chosen {
                    if let Ok(value) = self.cookie_header(LANG_COOKIE, self.lang.code(), 365 * 24 * 3600) {
                        headers.append(header::SET_COOKIE, value);
                    }
                }
                response
            }
            Err(error) => {
                tracing::error!(error = %error, template, "a console page could not be rendered");
                (StatusCode::INTERNAL_SERVER_ERROR, "the page could not be rendered").into_response()
            }
        }
    }

    /// A page of one message (a result, a refusal) with a way back.
    fn message(&self, me: Option<&Me>, status: StatusCode, title: &str, text: &str, code: Option<&str>) -> Response {
        let back = self.headers.get(header::REFERER).and_then(|v| v.to_str().ok()).unwrap_or("/console");
        let back = if back.contains("/console") { back } else { "/console" };
        self.render(
            me,
            status,
            "message.html",
            json!({"title": label(self.lang, title), "text": text, "code": code, "back": back}),
        )
    }

    /// The API refused: sign in again (401), or a page that says why, with the API's status.
    fn refusal(&self, me: Option<&Me>, answer: &Answer) -> Response {
        match answer.status {
            StatusCode::UNAUTHORIZED => self.to_sign_in(true),
            StatusCode::FORBIDDEN => {
                let text = match answer.code() {
                    "csrf_token_missing" | "csrf_token_invalid" => label(self.lang, "csrf_refused").to_owned(),
                    "scope_missing" => label(self.lang, "forbidden").to_owned(),
                    _ => answer.message().to_owned(),
                };
                self.message(me, StatusCode::FORBIDDEN, "forbidden_title", &text, Some(answer.code()))
            }
            StatusCode::NOT_FOUND => {
                self.message(me, StatusCode::NOT_FOUND, "not_found_title", answer.message(), Some(answer.code()))
            }
            status => {
                let status = if status.is_success() { StatusCode::INTERNAL_SERVER_ERROR } else { status };
                self.message(me, status, "refused_title", answer.message(), Some(answer.code()))
            }
        }
    }

    fn cookie_header(&self, name: &str, value: &str, max_age_s: u32) -> Result<HeaderValue, ()> {
        let secure = if self.state.config.staff_cookie_secure { "; Secure" } else { "" };
        HeaderValue::from_str(&format!(
            "{name}={value}; Path={COOKIE_PATH}; Max-Age={max_age_s}; HttpOnly; SameSite=Strict{secure}"
        ))
        .map_err(|_| ())
    }
}

/// A form's fields (`application/x-www-form-urlencoded`).
struct Form(HashMap<String, String>);

impl Form {
    async fn read(request: Request) -> Form {
        let bytes = to_bytes(request.into_body(), 64 * 1024).await.unwrap_or_default();
        Form(url_pairs(&bytes).into_iter().collect())
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

/// The pairs of a query string or form body, decoded (`+` is a space).
fn url_pairs(bytes: &[u8]) -> Vec<(String, String)> {
    let decode = |part: &[u8]| {
        let spaced: Vec<u8> = part.iter().map(|&b| if b == b'+' { b' ' } else { b }).collect();
        percent_encoding::percent_decode(&spaced).decode_utf8_lossy().into_owned()
    };
    bytes
        .split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let mut halves = pair.splitn(2, |&b| b == b'=');
            let name = decode(halves.next().unwrap_or_default());
            let value = decode(halves.next().unwrap_or_default());
            (name, value)
        })
        .collect()
}

/// What a URL's query or path carries as it is: RFC 3986's unreserved characters.
const UNRESERVED: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// A value for a URL's query or path.
fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, UNRESERVED).to_string()
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.trim().to_owned())
}

fn random_hex() -> String {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).expect("the operating system's random numbers");
    hex::encode(bytes)
}

// ---------------------------------------------------------------------------------------------------
// Signing in and out

async fn sign_in_page(visit: Visit) -> Response {
    let pre = cookie(&visit.headers, PRE_COOKIE).filter(|p| p.len() == 32).unwrap_or_else(random_hex);
    let notice = if visit.param("ended").is_some() {
        Some(label(visit.lang, "session_ended"))
    } else if visit.param("out").is_some() {
        Some(label(visit.lang, "signed_out"))
    } else {
        None
    };
    sign_in_form(&visit, StatusCode::OK, &pre, notice, None)
}

fn sign_in_form(visit: &Visit, status: StatusCode, pre: &str, notice: Option<&str>, error: Option<&str>) -> Response {
    let mut response =
        visit.render(None, status, "sign_in.html", json!({"pre": pre, "notice": notice, "error": error}));
    if let Ok(value) = visit.cookie_header(PRE_COOKIE, pre, 3600) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

async fn sign_in(visit: Visit, request: Request) -> Response {
    let form = Form::read(request).await;
    let pre = cookie(&visit.headers, PRE_COOKIE).unwrap_or_default();
    if pre.len() != 32 || form.get("pre") != Some(pre.as_str()) {
        return visit.message(None, StatusCode::FORBIDDEN, "forbidden_title", label(visit.lang, "csrf_refused"), None);
    }
    let body = json!({
        "username": form.get("username").unwrap_or_default(),
        "password": form.get("password").unwrap_or_default(),
    });
    let answer = visit.api(Method::POST, crate::staff::sessions::SIGN_IN_ROUTE, Some(body), None).await;
    if !answer.ok() {
        let error = match answer.code() {
            "rate_limited" => label(visit.lang, "sign_in_rate_limited").to_owned(),
            "staff_disabled" => format!("{} ({})", label(visit.lang, "sign_in_refused"), answer.code()),
            _ => label(visit.lang, "sign_in_failed").to_owned(),
        };
        let status = if answer.status.is_client_error() { answer.status } else { StatusCode::BAD_GATEWAY };
        return sign_in_form(&visit, status, &pre, None, Some(&error));
    }
    let csrf = answer.body["csrf_token"].as_str().unwrap_or_default();
    let max_age_s = visit.state.staff.config().session.absolute_s();
    let mut response = Redirect::to("/console").into_response();
    let headers = response.headers_mut();
    for value in answer.cookies {
        headers.append(header::SET_COOKIE, value);
    }
    if let Ok(value) = visit.cookie_header(CSRF_COOKIE, csrf, max_age_s) {
        headers.append(header::SET_COOKIE, value);
    }
    if let Ok(value) = visit.cookie_header(PRE_COOKIE, "", 0) {
        headers.append(header::SET_COOKIE, value);
    }
    response
}

async fn sign_out(visit: Visit, request: Request) -> Response {
    let form = Form::read(request).await;
    let answer = visit.api(Method::POST, "/v1/staff/sessions/current/logout", None, Some(&form)).await;
    if !answer.ok() && answer.status != StatusCode::UNAUTHORIZED {
        return visit.refusal(None, &answer);
    }
    let mut response = Redirect::to("/console/sign-in?out=1").into_response();
    let headers = response.headers_mut();
    for value in answer.cookies {
        headers.append(header::SET_COOKIE, value);
    }
    if let Ok(value) = visit.cookie_header(CSRF_COOKIE, "", 0) {
        headers.append(header::SET_COOKIE, value);
    }
    response
}

// ---------------------------------------------------------------------------------------------------
// Pages

async fn dashboard(visit: Visit) -> Response {
    let me = match visit.page(None).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let mut waiting = Vec::new();
    if me.may(LIST_APPROVALS) {
        let answer = visit.get("/v1/approvals?status=pending&limit=100").await;
        if answer.ok() {
            let count = answer.body["data"].as_array().map_or(0, Vec::len);
            let more = !answer.body["next_cursor"].is_null();
            waiting.push(json!({"label": label(visit.lang, "pending_approvals"), "count": count, "more": more,
                "href": "/console/approvals"}));
        }
    }
    if me.may(REVIEW_WITHDRAWAL) && me.may(WITHDRAWALS_IN_REVIEW) {
        let answer = visit.get("/v1/withdrawals?status=reviewing&limit=100").await;
        if answer.ok() {
            let count = answer.body["data"].as_array().map_or(0, Vec::len);
            let more = !answer.body["next_cursor"].is_null();
            waiting.push(json!({"label": label(visit.lang, "withdrawals_in_review"), "count": count, "more": more,
                "href": "/console/withdrawals"}));
        }
    }
    if me.may(business::LIST_MERCHANTS) && me.may(business::REVIEW_MERCHANT) {
        let answer = visit.get("/v1/merchants?status=under_review&limit=100").await;
        if answer.ok() {
            let count = answer.body["data"].as_array().map_or(0, Vec::len);
            let more = !answer.body["next_cursor"].is_null();
            waiting.push(json!({"label": label(visit.lang, "merchants_in_review"), "count": count, "more": more,
                "href": "/console/merchants?status=under_review"}));
        }
    }
    let figures = business::dashboard_figures(&visit, &me).await;
    visit.render(Some(&me), StatusCode::OK, "dashboard.html", json!({"waiting": waiting, "figures": figures}))
}

/// Search-first: nothing is listed until a criterion is given.
async fn members(visit: Visit) -> Response {
    let me = match visit.page(Some(SEARCH_CUSTOMERS)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let by = visit.param("by").unwrap_or("phone").to_owned();
    let q = visit.param("q").map(str::to_owned);
    let mut results: Option<Vec<Value>> = None;
    let mut error: Option<String> = None;
    if let Some(q) = &q {
        let found = match by.as_str() {
            "member" => {
                let answer = visit.get(&format!("/v1/members/{}", encode(q))).await;
                match answer.status {
                    s if s.is_success() => {
                        let customer = answer.body["customer_id"].as_str().unwrap_or_default().to_owned();
                        Ok(vec![customer])
                    }
                    StatusCode::NOT_FOUND | StatusCode::BAD_REQUEST => Ok(Vec::new()),
                    _ => Err(answer),
                }
            }
            criterion => {
                let name = match criterion {
                    "name" => "name",
                    "certificate" => "certificate_number",
                    _ => "phone",
                };
                let answer = visit.get(&format!("/v1/customers?{name}={}", encode(q))).await;
                if answer.ok() {
                    Ok(answer.body["data"]
                        .as_array()
                        .map(|found| found.iter().filter_map(|c| c["id"].as_str().map(str::to_owned)).collect())
                        .unwrap_or_default())
                } else {
                    Err(answer)
                }
            }
        };
        match found {
            Ok(customers) => {
                let mut rows = Vec::new();
                for id in customers.iter().take(SEARCH_CUSTOMERS_MAX) {
                    let answer = visit.get(&format!("/v1/customers/{id}")).await;
                    if answer.ok() {
                        rows.push(answer.body);
                    }
                }
                results = Some(rows);
            }
            Err(answer) if answer.status == StatusCode::UNAUTHORIZED => return visit.to_sign_in(true),
            Err(answer) if answer.status.is_client_error() && answer.status != StatusCode::FORBIDDEN => {
                error = Some(format!("{} ({})", answer.message(), answer.code()));
                results = Some(Vec::new());
            }
            Err(answer) => return visit.refusal(Some(&me), &answer),
        }
    }
    let template = if visit.htmx { "members_results.html" } else { "members.html" };
    visit.render(Some(&me), StatusCode::OK, template, json!({"by": by, "q": q, "results": results, "error": error}))
}

/// A member's wallet: each account's balance, which opens that account's flow, and its status.
async fn member(visit: Visit, Path(id): Path<String>) -> Response {
    let me = match visit.page(Some(WALLET)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let member = visit.get(&format!("/v1/members/{}", encode(&id))).await;
    if !member.ok() {
        return visit.refusal(Some(&me), &member);
    }
    let wallet = visit.get(&format!("/v1/members/{}/wallet", encode(&id))).await;
    if !wallet.ok() {
        return visit.refusal(Some(&me), &wallet);
    }
    let accounts = visit.get(&format!("/v1/members/{}/accounts", encode(&id))).await;
    let statuses: HashMap<String, Value> = accounts.body["data"]
        .as_array()
        .map(|all| all.iter().filter_map(|a| Some((a["id"].as_str()?.to_owned(), a["status"].clone()))).collect())
        .unwrap_or_default();
    let mut wallet_body = wallet.body;
    if let Some(list) = wallet_body["accounts"].as_array_mut() {
        for account in list {
            let id = account["account_id"].as_str().unwrap_or_default().to_owned();
            account["status"] = statuses.get(&id).cloned().unwrap_or(Value::Null);
        }
    }
    let flow = flow_page(&visit, &id).await;
    let flow = match flow {
        Ok(flow) => flow,
        Err(answer) => return visit.refusal(Some(&me), &answer),
    };
    let done = visit.param("done").map(|d| label(visit.lang, d).to_owned());
    let coupons = coupons::of_member(&visit, &me, &id).await;
    visit.render(
        Some(&me),
        StatusCode::OK,
        "member.html",
        json!({
            "member": member.body,
            "wallet": wallet_body,
            "may_set_status": me.may(ACCOUNT_STATUS),
            "may_read_bills": me.may(parties::MEMBER_BILLS),
            "may_read_family_cards": me.may(card_life::FAMILY_CARDS),
            "may_read_customer": me.may(parties::GET_CUSTOMER),
            "may_read_coupon_templates": me.may(coupons::GET_TEMPLATE),
            "flow": flow,
            "done": done,
            "coupons": coupons,
        }),
    )
}

/// A page of the member's flow (of one account with `?account=`), after `?after=`.
async fn flow_page(visit: &Visit, member: &str) -> Result<Value, Answer> {
    let mut uri = format!("/v1/members/{}/wallet/flow?limit={PAGE_LINES}", encode(member));
    let account = visit.param("account").map(str::to_owned);
    if let Some(account) = &account {
        uri.push_str(&format!("&account_id={}", encode(account)));
    }
    if let Some(after) = visit.param("after") {
        uri.push_str(&format!("&after={}", encode(after)));
    }
    let answer = visit.get(&uri).await;
    if !answer.ok() {
        return Err(answer);
    }
    Ok(json!({
        "member_id": member,
        "account": account,
        "lines": answer.body["data"],
        "next_cursor": answer.body["next_cursor"],
        "paged": visit.param("after").is_some(),
    }))
}

async fn flow(visit: Visit, Path(id): Path<String>) -> Response {
    let me = match visit.page(Some(WALLET)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    if !visit.htmx {
        // Without htmx, the flow is shown on the wallet's page.
        let mut target = format!("/console/members/{}?", encode(&id));
        for name in ["account", "after", "lang"] {
            if let Some(value) = visit.param(name) {
                target.push_str(&format!("{name}={}&", encode(value)));
            }
        }
        return Redirect::to(target.trim_end_matches(['?', '&'])).into_response();
    }
    match flow_page(&visit, &id).await {
        Ok(flow) => visit.render(Some(&me), StatusCode::OK, "flow.html", json!({"flow": flow})),
        Err(answer) => visit.refusal(Some(&me), &answer),
    }
}

/// Freezes or unfreezes a member account: the API holds it for a second staff member's approval.
async fn account_status(visit: Visit, Path(id): Path<String>, request: Request) -> Response {
    let me = match visit.page(Some(ACCOUNT_STATUS)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let form = Form::read(request).await;
    let body = json!({
        "status": form.get("status").unwrap_or_default(),
        "reason": form.get("reason").unwrap_or_default(),
    });
    let answer =
        visit.api(Method::POST, &format!("/v1/accounts/{}/status", encode(&id)), Some(body), Some(&form)).await;
    if !answer.ok() {
        return visit.refusal(Some(&me), &answer);
    }
    let done = if answer.status == StatusCode::ACCEPTED { "held_for_approval" } else { "done" };
    let member = form.get("member").unwrap_or_default();
    if member.starts_with("mem_") {
        return Redirect::to(&format!("/console/members/{}?done={done}", encode(member))).into_response();
    }
    visit.message(Some(&me), StatusCode::OK, "done", label(visit.lang, done), None)
}

/// The withdrawals waiting for review, and one found by its number, with approve and reject.
async fn withdrawals(visit: Visit) -> Response {
    let me = match visit.page(Some(REVIEW_WITHDRAWAL)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let mut queue = Value::Null;
    if me.may(WITHDRAWALS_IN_REVIEW) {
        let mut uri = format!("/v1/withdrawals?status=reviewing&limit={PAGE_LINES}");
        if let Some(after) = visit.param("after") {
            uri.push_str(&format!("&after={}", encode(after)));
        }
        let answer = visit.get(&uri).await;
        if !answer.ok() {
            return visit.refusal(Some(&me), &answer);
        }
        queue = answer.body;
    }
    let mut found = Value::Null;
    let mut error = None;
    if let Some(number) = visit.param("number") {
        let answer =
            visit.get(&format!("/v1/withdrawals/{}{}", encode(number), client_query(visit.param("client_id")))).await;
        if answer.ok() {
            found = answer.body;
        } else if answer.status == StatusCode::UNAUTHORIZED {
            return visit.to_sign_in(true);
        } else {
            error = Some(format!("{} ({})", answer.message(), answer.code()));
        }
    }
    let done = visit.param("done").map(|d| label(visit.lang, d).to_owned());
    visit.render(
        Some(&me),
        StatusCode::OK,
        "withdrawals.html",
        json!({
            "queue": queue,
            "found": found,
            "error": error,
            "number": visit.param("number"),
            "client_id": visit.param("client_id"),
            "done": done,
        }),
    )
}

async fn review_withdrawal(visit: Visit, Path(number): Path<String>, request: Request) -> Response {
    let me = match visit.page(Some(REVIEW_WITHDRAWAL)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let form = Form::read(request).await;
    let body = json!({"decision": form.get("decision").unwrap_or_default()});
    let client = form.get("client_id").or(visit.param("client_id")).filter(|c| !c.is_empty());
    let uri = format!("/v1/withdrawals/{}/review{}", encode(&number), client_query(client));
    let answer = visit.api(Method::POST, &uri, Some(body), Some(&form)).await;
    if !answer.ok() {
        return visit.refusal(Some(&me), &answer);
    }
    let found = format!("number={}{}", encode(&number), client_query(client).replace('?', "&"));
    Redirect::to(&format!("/console/withdrawals?{found}&done=done")).into_response()
}

async fn approvals(visit: Visit) -> Response {
    let me = match visit.page(Some(LIST_APPROVALS)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let mut uri = "/v1/approvals?status=pending&limit=50".to_owned();
    if let Some(after) = visit.param("after") {
        uri.push_str(&format!("&after={}", encode(after)));
    }
    let answer = visit.get(&uri).await;
    if !answer.ok() {
        return visit.refusal(Some(&me), &answer);
    }
    let done = visit.param("done").map(|d| label(visit.lang, d).to_owned());
    visit.render(
        Some(&me),
        StatusCode::OK,
        "approvals.html",
        json!({"approvals": answer.body, "may_decide": me.may(DECIDE_APPROVAL), "done": done}),
    )
}

async fn decide_approval(visit: Visit, Path((id, decision)): Path<(String, String)>, request: Request) -> Response {
    let me = match visit.page(Some(DECIDE_APPROVAL)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let form = Form::read(request).await;
    let body = match decision.as_str() {
        "approve" => json!({}),
        "reject" => json!({"reason": form.get("reason").unwrap_or_default()}),
        _ => return visit.message(Some(&me), StatusCode::NOT_FOUND, "not_found_title", "", None),
    };
    let uri = format!("/v1/approvals/{}/{decision}", encode(&id));
    let answer = visit.api(Method::POST, &uri, Some(body), Some(&form)).await;
    if !answer.ok() {
        return visit.refusal(Some(&me), &answer);
    }
    // Approved, the request was applied: its own answer may be a refusal (the rule decides then).
    let applied = &answer.body["response"];
    if let Some(status) = applied["status"].as_u64().filter(|s| *s >= 400) {
        let status = StatusCode::from_u16(status as u16).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
        let error = &applied["body"]["error"];
        let text = format!("{} {}", label(visit.lang, "applied_refused"), error["message"].as_str().unwrap_or(""));
        return visit.message(Some(&me), status, "refused_title", &text, error["code"].as_str());
    }
    Redirect::to("/console/approvals?done=done").into_response()
}

/// The audit log, newest events last as the API pages them, filtered as the API filters.
async fn audit(visit: Visit) -> Response {
    let me = match visit.page(Some(AUDIT_EVENTS)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let mut uri = format!("/v1/audit-events?limit={PAGE_LINES}");
    for name in ["actor", "route", "target_id", "after"] {
        if let Some(value) = visit.param(name) {
            uri.push_str(&format!("&{name}={}", encode(value)));
        }
    }
    let calendar = &visit.state.parties.config().calendar;
    let mut error = None;
    for (name, field) in [("from", "from_date"), ("to", "to_date")] {
        if let Some(text) = visit.param(field) {
            let start = date_parts(text).and_then(|(y, m, d)| calendar.date_start(y, m, d));
            match start {
                Some(at) => uri.push_str(&format!("&{name}={}", encode(&at.to_string()))),
                None => error = Some(format!("{}: {text}", label(visit.lang, field))),
            }
        }
    }
    let answer = visit.get(&uri).await;
    let events = if answer.ok() {
        answer.body
    } else if answer.status.is_client_error() && answer.status != StatusCode::FORBIDDEN {
        if answer.status == StatusCode::UNAUTHORIZED {
            return visit.to_sign_in(true);
        }
        error = Some(format!("{} ({})", answer.message(), answer.code()));
        json!({"data": [], "next_cursor": null})
    } else {
        return visit.refusal(Some(&me), &answer);
    };
    let filters: Map<String, Value> = ["actor", "route", "target_id", "from_date", "to_date"]
        .iter()
        .map(|name| (name.to_string(), json!(visit.param(name).unwrap_or(""))))
        .collect();
    let mut next_query = String::new();
    for (name, value) in &filters {
        if let Some(value) = value.as_str().filter(|v| !v.is_empty()) {
            next_query.push_str(&format!("{name}={}&", encode(value)));
        }
    }
    let template = if visit.htmx { "audit_rows.html" } else { "audit.html" };
    // The last run of `sanhu verify` (an empty object before any; null if the role may not read it).
    let mut verification = Value::Null;
    let mut stale = false;
    if !visit.htmx && me.may(LATEST_VERIFICATION) {
        let answer = visit.get("/v1/verifications/latest").await;
        if answer.ok() {
            let finished = answer.body["finished_at"].as_str().and_then(sanhu_core::Timestamp::parse_rfc3339);
            let now = sanhu_service::clock::now();
            stale = finished.is_some_and(|at| now.nanos().saturating_sub(at.nanos()) > VERIFY_STALE_S * 1_000_000_000);
            verification = answer.body;
        } else if answer.code() == "verification_not_found" {
            verification = json!({});
        }
    }
    visit.render(
        Some(&me),
        StatusCode::OK,
        template,
        json!({"events": events, "filters": filters, "error": error, "next_query": next_query,
               "verification": verification, "stale": stale}),
    )
}

/// `?client_id=…` naming the API client whose numbering an order is in, or nothing (the back office's).
fn client_query(client: Option<&str>) -> String {
    client.map(|c| format!("?client_id={}", encode(c))).unwrap_or_default()
}

/// `2026-12-07` as (year, month, day).
fn date_parts(text: &str) -> Option<(i16, i8, i8)> {
    let mut parts = text.trim().splitn(3, '-');
    let year = parts.next()?.parse().ok()?;
    let month = parts.next()?.parse().ok()?;
    let day = parts.next()?.parse().ok()?;
    Some((year, month, day))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_and_queries_are_decoded() {
        let pairs = url_pairs(b"q=%E5%BC%A0+%E4%B8%89&by=name&empty=");
        assert_eq!(pairs[0], ("q".to_owned(), "张 三".to_owned()));
        assert_eq!(pairs[1], ("by".to_owned(), "name".to_owned()));
        assert_eq!(pairs[2], ("empty".to_owned(), String::new()));
    }

    #[test]
    fn every_menu_and_page_names_a_route_of_the_api() {
        for route in [SEARCH_CUSTOMERS, WALLET, ACCOUNT_STATUS, REVIEW_WITHDRAWAL, LIST_APPROVALS, DECIDE_APPROVAL]
            .into_iter()
            .chain([AUDIT_EVENTS, WITHDRAWALS_IN_REVIEW, LATEST_VERIFICATION])
        {
            assert!(crate::routes::find(route.0, route.1).is_some(), "{route:?}");
        }
    }

    /// Every label a template names (`t.key`) is in the catalogue.
    #[test]
    fn every_label_the_templates_name_is_in_the_catalogue() {
        let keys: std::collections::BTreeSet<&str> = messages::MESSAGES.iter().map(|(k, _, _)| *k).collect();
        let mut named = 0;
        for (name, source) in render::TEMPLATES {
            for (at, _) in source.match_indices("t.") {
                let before = source[..at].chars().next_back().unwrap_or(' ');
                if before.is_ascii_alphanumeric() || before == '_' || before == '.' {
                    continue;
                }
                let key: String =
                    source[at + 2..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                assert!(keys.contains(key.as_str()), "{name} names t.{key}, which the catalogue lacks");
                named += 1;
            }
        }
        assert!(named > 100, "the templates' labels were found: {named}");
    }
}
