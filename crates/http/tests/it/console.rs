//! The operations console over HTTP, every test on both backends: a browser's cookie jar against the
//! router, signing in and out, CSRF refused, sessions absent or expired sent to sign in, each role's
//! menus and pages, search then wallet then flow, a freeze held for a second staff member and
//! approved by one, the withdrawal review queue; and the API endpoints the console added.

use std::collections::BTreeMap;

use crate::staff::{sha256_hex, sql};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use sanhu_core::staff::StaffRole;
use sanhu_service::party::PartyConfig;
use sanhu_service::wallet::WalletConfig;
use sanhu_store::audit::{AuditQuery, AuditStore, VerificationRecord};
use sanhu_testkit::app::{bound_client, TestApp};
use sanhu_testkit::ids::credit_code;
use sanhu_testkit::money::cny;
use sanhu_testkit::staff::PASSWORD;
use sanhu_testkit::{on_both_backends, world, TestDatabase};
use serde_json::json;
use tower::ServiceExt;

const PHONE: &str = "13800138001";

struct App {
    api: TestApp,
    router: axum::Router,
}

async fn app(db: TestDatabase) -> App {
    let api = TestApp::staffed(db, PartyConfig::default(), WalletConfig::default_for(cny()), &[]).await;
    App { router: api.router.clone(), api }
}

impl App {
    fn browser(&self) -> Browser<'_> {
        Browser { app: self, cookies: BTreeMap::new() }
    }

    /// A browser signed in as `username`.
    async fn signed_in(&self, username: &str) -> Browser<'_> {
        let mut browser = self.browser();
        browser.sign_in(username, PASSWORD).await.expect_redirect("/console");
        browser
    }

    /// A member with ¥2,000.00 in its basic account: (member, its basic account).
    async fn funded_member(&self, phone: &str) -> (String, String) {
        let (member, account) = self.api.active_member(phone).await;
        self.api.recharge(&member, &account, 200_000, "alipay", &format!("R-{phone}")).await;
        (member, account)
    }
}

/// A page's answer.
struct Page {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    text: String,
}

impl Page {
    #[track_caller]
    fn expect(&self, status: StatusCode) -> &str {
        assert_eq!(self.status, status, "{}", self.text);
        &self.text
    }

    #[track_caller]
    fn expect_redirect(&self, to: &str) {
        assert_eq!(self.status, StatusCode::SEE_OTHER, "{}", self.text);
        assert_eq!(self.headers[header::LOCATION], to);
    }
}

/// A browser: a cookie jar, and forms sent as a browser sends them.
struct Browser<'a> {
    app: &'a App,
    cookies: BTreeMap<String, String>,
}

impl Browser<'_> {
    fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
    }

    async fn send(&mut self, method: &str, path: &str, form: &[(&str, &str)], extra: &[(&str, &str)]) -> Page {
        let body: String = form
            .iter()
            .map(|(k, v)| {
                format!("{k}={}", percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC))
            })
            .collect::<Vec<_>>()
            .join("&");
        let mut builder = Request::builder().method(method).uri(path);
        if method == "POST" {
            builder = builder.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        }
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
            builder = builder.header(header::COOKIE, jar.join("; "));
        }
        for (name, value) in extra {
            builder = builder.header(*name, *value);
        }
        let response = self.app.router.clone().oneshot(builder.body(Body::from(body)).unwrap()).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        for value in headers.get_all(header::SET_COOKIE) {
            let text = value.to_str().unwrap();
            let (pair, attributes) = text.split_once(';').unwrap_or((text, ""));
            let (name, value) = pair.split_once('=').unwrap();
            assert!(attributes.contains("HttpOnly") && attributes.contains("SameSite=Strict"), "{text}");
            if attributes.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        // As the browser reads it: the templates escape `/`, quotes and `&` in what they write.
        let text = String::from_utf8_lossy(&bytes)
            .replace("&#x2f;", "/")
            .replace("&#x27;", "'")
            .replace("&quot;", "\"")
            .replace("&amp;", "&");
        assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "{text}");
        Page { status, headers, text }
    }

    async fn get(&mut self, path: &str) -> Page {
        self.send("GET", path, &[], &[]).await
    }

    async fn htmx(&mut self, path: &str) -> Page {
        self.send("GET", path, &[], &[("hx-request", "true")]).await
    }

    /// Posts a form with the CSRF token the console keeps for the session.
    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let csrf = self.cookie("sanhu_console_csrf").unwrap_or_default().to_owned();
        let mut fields = vec![("csrf", csrf.as_str())];
        fields.extend_from_slice(form);
        self.send("POST", path, &fields, &[]).await
    }

    async fn sign_in(&mut self, username: &str, password: &str) -> Page {
        self.get("/console/sign-in").await.expect(StatusCode::OK);
        let pre = self.cookie("sanhu_console_signin").unwrap().to_owned();
        self.send("POST", "/console/sign-in", &[("pre", &pre), ("username", username), ("password", password)], &[])
            .await
    }
}

on_both_backends!(console_signs_in_searches_a_member_and_opens_a_balances_flow, |db| {
    let app = app(db).await;
    app.api.hire("li.wei", StaffRole::Finance).await;
    let (member, account) = app.funded_member(PHONE).await;
    let mut browser = app.browser();

    // Without a session, the console sends the browser to sign in; the page is in Chinese.
    browser.get("/console").await.expect_redirect("/console/sign-in");
    let page = browser.get("/console/sign-in").await;
    let text = page.expect(StatusCode::OK);
    assert!(text.contains("lang=\"zh-CN\"") && text.contains("用户名") && text.contains("密码"), "{text}");
    assert!(text.contains("<label for=\"username\">"), "every field has its label");

    // The sign-in form's own token must match its cookie.
    let forged = browser
        .send("POST", "/console/sign-in", &[("pre", "0123"), ("username", "li.wei"), ("password", PASSWORD)], &[])
        .await;
    forged.expect(StatusCode::FORBIDDEN);
    assert!(browser.cookie("sanhu_staff_session").is_none());
    browser.sign_in("li.wei", "a wrong password").await.expect(StatusCode::UNAUTHORIZED);
    assert!(browser.cookie("sanhu_staff_session").is_none());

    let signed_in = browser.sign_in("li.wei", PASSWORD).await;
    signed_in.expect_redirect("/console");
    let cookies: Vec<&str> =
        signed_in.headers.get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap()).collect();
    assert!(cookies.iter().any(|c| c.starts_with("sanhu_staff_session=") && c.contains("Path=/;")), "{cookies:?}");
    assert!(cookies.iter().any(|c| c.starts_with("sanhu_console_csrf=") && c.contains("Path=/console")), "{cookies:?}");

    let dashboard = browser.get("/console").await;
    let text = dashboard.expect(StatusCode::OK);
    assert!(text.contains("概览") && text.contains("li.wei") && text.contains("财务"), "{text}");
    assert!(text.contains("href=\"/console/withdrawals\""), "finance reviews withdrawals");
    assert!(!text.contains("href=\"/console/audit\""), "finance has no audit:read");

    // Search first: nothing listed before a criterion.
    let empty = browser.get("/console/members").await;
    let text = empty.expect(StatusCode::OK);
    assert!(!text.contains(&member) && !text.contains("查询结果"), "{text}");
    let found = browser.get(&format!("/console/members?by=phone&q={PHONE}")).await;
    let text = found.expect(StatusCode::OK);
    assert!(text.contains(&member) && text.contains("查询结果"), "{text}");
    // The same search as htmx asks it: the results alone.
    let part = browser.htmx(&format!("/console/members?by=member&q={member}")).await;
    let text = part.expect(StatusCode::OK);
    assert!(text.contains(&member) && !text.contains("<html"), "{text}");
    // A real-named member's customer shows its certificate, masked.
    app.api.real_name(&member, "张三", 1).await;
    let part = browser.htmx(&format!("/console/members?by=phone&q={PHONE}")).await;
    let text = part.expect(StatusCode::OK);
    assert!(text.contains(&member) && text.contains("居民身份证") && text.contains("***"), "{text}");
    let nothing = browser.get("/console/members?by=phone&q=13900000000").await;
    assert!(nothing.expect(StatusCode::OK).contains("没有符合条件的记录"));

    // The wallet: each balance in yuan, and the flow (whole, then of the account clicked).
    let wallet = browser.get(&format!("/console/members/{member}")).await;
    let text = wallet.expect(StatusCode::OK);
    assert!(text.contains("¥2,000.00") && text.contains(&account), "{text}");
    assert!(text.contains(&format!("/console/members/{member}/flow?account={account}")), "{text}");
    let flow = browser.htmx(&format!("/console/members/{member}/flow?account={account}")).await;
    let text = flow.expect(StatusCode::OK);
    assert!(text.contains("账户流水") && text.contains("¥2,000.00") && text.contains("R-13800138001"), "{text}");
    assert!(!text.contains("<html"), "a part of the page: {text}");
    // Without htmx the flow is shown on the wallet's page.
    browser
        .get(&format!("/console/members/{member}/flow?account={account}"))
        .await
        .expect_redirect(&format!("/console/members/{member}?account={account}"));

    // Another member's account is not this member's flow.
    let (_, other_account) = app.funded_member("13800138002").await;
    browser
        .htmx(&format!("/console/members/{member}/flow?account={other_account}"))
        .await
        .expect(StatusCode::NOT_FOUND);

    // English on asking, kept in a cookie.
    let english = browser.get("/console?lang=en").await;
    let text = english.expect(StatusCode::OK);
    assert!(text.contains("lang=\"en\"") && text.contains("Dashboard") && text.contains("Finance"), "{text}");
    assert_eq!(browser.cookie("sanhu_console_lang"), Some("en"));
    let text = browser.get(&format!("/console/members/{member}")).await.expect(StatusCode::OK).to_owned();
    assert!(text.contains("Member's wallet"), "{text}");

    // Signing out ends the session: the old cookie reaches nothing.
    let session = browser.cookie("sanhu_staff_session").unwrap().to_owned();
    browser.post("/console/sign-out", &[]).await.expect_redirect("/console/sign-in?out=1");
    assert!(browser.cookie("sanhu_staff_session").is_none() && browser.cookie("sanhu_console_csrf").is_none());
    browser.cookies.insert("sanhu_staff_session".into(), session);
    browser.get("/console").await.expect_redirect("/console/sign-in?ended=1");
});

on_both_backends!(console_forms_are_refused_without_the_sessions_csrf_token, |db| {
    let app = app(db).await;
    app.api.hire("li.wei", StaffRole::Operations).await;
    app.api.hire("zhao.min", StaffRole::SuperAdmin).await;
    let (member, account) = app.funded_member(PHONE).await;
    let mut maker = app.signed_in("li.wei").await;

    let form = [("member", member.as_str()), ("status", "frozen"), ("reason", "法院冻结")];
    let path = format!("/console/accounts/{account}/status");
    // A form whose token is not the session's is refused, and nothing is held or done.
    let real = maker.cookie("sanhu_console_csrf").unwrap().to_owned();
    maker.cookies.insert("sanhu_console_csrf".into(), "f".repeat(64));
    let refused = maker.post(&path, &form).await;
    assert!(refused.expect(StatusCode::FORBIDDEN).contains("表单已失效"), "{}", refused.text);
    maker.cookies.remove("sanhu_console_csrf");
    maker.post(&path, &form).await.expect(StatusCode::FORBIDDEN);
    maker.cookies.insert("sanhu_console_csrf".into(), real);

    // With it: a freeze waits for a second staff member.
    maker.post(&path, &form).await.expect_redirect(&format!("/console/members/{member}?done=held_for_approval"));
    let queue = maker.get("/console/approvals").await;
    let text = queue.expect(StatusCode::OK).to_owned();
    assert!(text.contains(&format!("/v1/accounts/{account}/status")) && text.contains("li.wei"), "{text}");

    // The maker cannot approve it; another staff member can, through the console.
    let id_start = text.find("/console/approvals/apr_").expect("an approval's form") + "/console/approvals/".len();
    let approval: String = text[id_start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    let own = maker.post(&format!("/console/approvals/{approval}/approve"), &[]).await;
    assert!(own.expect(StatusCode::FORBIDDEN).contains("approval_same_staff_member"), "{}", own.text);
    let mut checker = app.signed_in("zhao.min").await;
    checker
        .post(&format!("/console/approvals/{approval}/approve"), &[])
        .await
        .expect_redirect("/console/approvals?done=done");
    let wallet = checker.get(&format!("/console/members/{member}")).await;
    assert!(wallet.expect(StatusCode::OK).contains("<td>冻结</td>"), "{}", wallet.text);

    // Both are in the audit log as the staff members, and the auditor sees them in the console.
    let store = &app.api.db.store;
    let events = store.audit_events(&AuditQuery { limit: 100, ..AuditQuery::default() }).await.unwrap();
    let actors: Vec<(&str, &str, u16)> =
        events.iter().map(|e| (e.event.actor.as_str(), e.event.route.as_str(), e.event.status)).collect();
    assert!(actors.contains(&("staff:li.wei", "/v1/accounts/{id}/status", 202)), "{actors:?}");
    // The forms refused for their token reached no handler: one request to change the status was made.
    let made = actors.iter().filter(|(a, r, s)| *a == "staff:li.wei" && *r == "/v1/accounts/{id}/status" && *s == 202);
    assert_eq!(made.count(), 1, "{actors:?}");
    assert!(actors.contains(&("staff:li.wei", "/v1/approvals/{id}/approve", 403)), "{actors:?}");
    assert!(actors.contains(&("staff:zhao.min", "/v1/approvals/{id}/approve", 200)), "{actors:?}");
    let log = checker.get("/console/audit?actor=staff%3Ali.wei").await;
    let text = log.expect(StatusCode::OK);
    assert!(text.contains("/v1/accounts/{id}/status") && !text.contains("staff:zhao.min"), "{text}");
});

on_both_backends!(console_without_a_live_session_goes_to_sign_in, |db| {
    let app = app(db).await;
    app.api.hire("li.wei", StaffRole::CustomerService).await;
    let (member, _) = app.funded_member(PHONE).await;

    let mut nobody = app.browser();
    for page in ["/console", "/console/members?by=phone&q=13800138001", &format!("/console/members/{member}")] {
        nobody.get(page).await.expect_redirect("/console/sign-in");
    }
    // htmx is told to load the sign-in page whole.
    let part = nobody.htmx("/console/members?by=phone&q=13800138001").await;
    part.expect(StatusCode::OK);
    assert_eq!(part.headers["hx-redirect"], "/console/sign-in");
    nobody.send("POST", "/console/sign-out", &[], &[]).await.expect_redirect("/console/sign-in?out=1");

    // An expired session: idle past its limit.
    let mut idle = app.signed_in("li.wei").await;
    idle.get("/console").await.expect(StatusCode::OK);
    let hash = sha256_hex(idle.cookie("sanhu_staff_session").unwrap());
    let back = 601_i64 * 1_000_000_000;
    sql(
        &app.api.db,
        &format!(
            "UPDATE staff_sessions SET last_seen_at = last_seen_at - {back}, created_at = created_at - {back} \
             WHERE token_hash = '{hash}'; UPDATE staff_accounts SET password_set_at = password_set_at - {back}, \
             created_at = created_at - {back};"
        ),
    )
    .await;
    idle.get(&format!("/console/members/{member}")).await.expect_redirect("/console/sign-in?ended=1");
    let notice = idle.get("/console/sign-in?ended=1").await;
    assert!(notice.expect(StatusCode::OK).contains("会话已失效"));
});

on_both_backends!(console_roles_see_only_their_menus_and_the_server_refuses_the_rest, |db| {
    let app = app(db).await;
    app.api.hire("kefu", StaffRole::CustomerService).await;
    app.api.hire("shenji", StaffRole::Auditor).await;
    let (member, account) = app.funded_member(PHONE).await;

    let mut service = app.signed_in("kefu").await;
    let text = service.get("/console").await.expect(StatusCode::OK).to_owned();
    assert!(text.contains("href=\"/console/members\""), "{text}");
    for hidden in ["/console/withdrawals", "/console/audit"] {
        assert!(!text.contains(&format!("href=\"{hidden}\"")), "customer service sees no {hidden}: {text}");
    }
    // No finance or audit page, whatever the address typed.
    for page in ["/console/withdrawals", "/console/withdrawals?number=W-1", "/console/audit"] {
        let refused = service.get(page).await;
        assert!(refused.expect(StatusCode::FORBIDDEN).contains("无权访问"), "{page}: {}", refused.text);
    }
    let form = [("member", member.as_str()), ("status", "frozen"), ("reason", "x")];
    service.post(&format!("/console/accounts/{account}/status"), &form).await.expect(StatusCode::FORBIDDEN);
    service.post("/console/withdrawals/W-1/review", &[("decision", "approve")]).await.expect(StatusCode::FORBIDDEN);
    // What the role may do, it does: the wallet, without the freeze buttons.
    let wallet = service.get(&format!("/console/members/{member}")).await;
    let text = wallet.expect(StatusCode::OK);
    assert!(text.contains("¥2,000.00") && !text.contains("/status\""), "{text}");

    let mut auditor = app.signed_in("shenji").await;
    let log = auditor.get("/console/audit").await;
    let text = log.expect(StatusCode::OK);
    assert!(text.contains("审计日志") && text.contains("/v1/staff/sessions"), "{text}");
    let filtered = auditor.htmx("/console/audit?actor=staff%3Akefu&from_date=2000-01-01").await;
    let text = filtered.expect(StatusCode::OK);
    assert!(text.contains("staff:kefu") && !text.contains("staff:shenji") && !text.contains("<html"), "{text}");
    assert!(auditor.get("/console/withdrawals").await.expect(StatusCode::FORBIDDEN).contains("无权访问"));
});

on_both_backends!(console_reviews_the_withdrawals_waiting_in_the_queue, |db| {
    let app = app(db).await;
    app.api.hire("li.wei", StaffRole::Finance).await;
    let (member, _) = app.funded_member(PHONE).await;
    app.api.real_name(&member, "张三", 1).await;
    let card = app.api.bind_card(&member, "张三", 1).await;
    let withdraw = |number: &'static str, amount: i64| {
        let body = json!({"order_number": number, "member_id": member, "amount": amount, "bank_card_id": card});
        let api = &app.api;
        async move { api.post("/v1/withdrawals", body).await }
    };
    // Under the threshold: approved at once, not in the queue; above it: waits.
    assert_eq!(withdraw("W-SMALL", 1_000).await.assert_status(StatusCode::CREATED)["status"], "approved");
    for number in ["W-1", "W-2"] {
        assert_eq!(withdraw(number, 60_000).await.assert_status(StatusCode::CREATED)["status"], "reviewing");
    }

    // The API's queue, to an unbound client; a client bound to a member is refused it.
    let queue = app.api.get("/v1/withdrawals?status=reviewing&limit=1").await;
    let body = queue.assert_status(StatusCode::OK).clone();
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
    assert_eq!(body["data"][0]["order_number"], "W-1");
    assert_eq!(body["data"][0]["client_id"], app.api.client.id.as_str());
    let next = body["next_cursor"].as_str().unwrap().to_owned();
    let rest = app.api.get(&format!("/v1/withdrawals?status=reviewing&after={next}")).await;
    let rest = rest.assert_status(StatusCode::OK).clone();
    assert_eq!(rest["data"].as_array().unwrap().iter().map(|w| w["order_number"].clone()).collect::<Vec<_>>(), ["W-2"]);
    assert!(rest["next_cursor"].is_null());
    app.api.get("/v1/withdrawals?status=paid").await.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_status");
    app.api.get("/v1/withdrawals").await.assert_error(StatusCode::BAD_REQUEST, "missing_parameter");
    app.api
        .get("/v1/withdrawals?status=reviewing&after=x")
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_cursor");
    let bound = bound_client(&app.api.db.store, &member, "merchant").await;
    let refused = app.api.send_as(&bound, "GET", "/v1/withdrawals?status=reviewing", json!(null)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(["client_bound", "scope_missing"].contains(&refused.error_code()), "{}", refused.body);

    // The console shows both, in yuan; approving one and rejecting the other empties the queue.
    let mut finance = app.signed_in("li.wei").await;
    let dashboard = finance.get("/console").await;
    assert!(dashboard.expect(StatusCode::OK).contains("待审核提现"));
    let page = finance.get("/console/withdrawals").await;
    let text = page.expect(StatusCode::OK);
    assert!(
        text.contains("W-1") && text.contains("W-2") && text.contains("¥600.00") && !text.contains("W-SMALL"),
        "{text}"
    );
    let client = app.api.client.id.clone();
    let review = |number: &str| format!("/console/withdrawals/{number}/review?client_id={client}");
    finance.post(&review("W-1"), &[("decision", "approve")]).await.expect(StatusCode::SEE_OTHER);
    finance.post(&review("W-2"), &[("decision", "reject")]).await.expect(StatusCode::SEE_OTHER);
    let w1 = app.api.get("/v1/withdrawals/W-1").await;
    assert_eq!(w1.assert_status(StatusCode::OK)["status"], "approved");
    let w2 = app.api.get("/v1/withdrawals/W-2").await;
    assert_eq!(w2.assert_status(StatusCode::OK)["status"], "rejected");
    let page = finance.get("/console/withdrawals").await;
    assert!(page.expect(StatusCode::OK).contains("没有待审核的提现"), "{}", page.text);
    let empty = app.api.get("/v1/withdrawals?status=reviewing").await;
    assert!(empty.assert_status(StatusCode::OK)["data"].as_array().unwrap().is_empty());
    // The reviews are the staff member's in the audit log.
    let store = &app.api.db.store;
    let events = store.audit_events(&AuditQuery { limit: 100, ..AuditQuery::default() }).await.unwrap();
    let reviews =
        events.iter().filter(|e| e.event.route == "/v1/withdrawals/{number}/review" && e.event.actor == "staff:li.wei");
    assert_eq!(reviews.count(), 2);
});

on_both_backends!(a_wallets_flow_is_read_for_one_account_of_the_member_only, |db| {
    let app = app(db).await;
    let (member, account) = app.funded_member(PHONE).await;
    let (other, other_account) = app.funded_member("13800138002").await;
    let flow = app.api.get(&format!("/v1/members/{member}/wallet/flow?account_id={account}")).await;
    let lines = flow.assert_status(StatusCode::OK)["data"].as_array().unwrap().clone();
    assert!(!lines.is_empty() && lines.iter().all(|l| l["account_id"] == account.as_str()), "{lines:?}");
    let theirs = app.api.get(&format!("/v1/members/{member}/wallet/flow?account_id={other_account}")).await;
    theirs.assert_error(StatusCode::NOT_FOUND, "flow_account_not_found");
    app.api
        .get(&format!("/v1/members/{member}/wallet/flow?account_id=nope"))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_id");
    // A client bound to the other member reaches this member's flow no more than before.
    let bound = bound_client(&app.api.db.store, &other, "merchant").await;
    let path = format!("/v1/members/{member}/wallet/flow?account_id={account}");
    let refused = app.api.send_as(&bound, "GET", &path, json!(null)).await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND, "{}", refused.body);
});

// ---------------------------------------------------------------------------------------------------
// The business pages: the dashboard's figures, orders, merchants and cards

/// The console over the world's configuration (merchant types, channels), with staff of each role
/// these pages need.
async fn world_app(db: TestDatabase) -> App {
    let staff = [
        ("li.wei", StaffRole::Finance),
        ("zhao.min", StaffRole::SuperAdmin),
        ("mei.lin", StaffRole::Marketing),
        ("yun.ying", StaffRole::Operations),
        ("kefu", StaffRole::CustomerService),
    ];
    let api = TestApp::staffed(db, world::party_config(), world::wallet_config(), &staff).await;
    App { router: api.router.clone(), api }
}

fn pay(number: &str, member: &str, amount: i64, receiver: &str) -> serde_json::Value {
    json!({"order_number": number, "member_id": member, "amount": amount, "receiver_account_id": receiver})
}

on_both_backends!(console_dashboard_shows_todays_and_this_months_money_and_a_chart_by_day, |db| {
    let app = world_app(db).await;
    let (member, _) = app.funded_member(PHONE).await;
    let (_, shop) = app.api.active_member("13800138009").await;
    app.api.post("/v1/payments", pay("P-1", &member, 12_345, &shop)).await.assert_status(StatusCode::CREATED);
    app.api.post("/v1/payments", pay("P-2", &member, 100, &shop)).await.assert_status(StatusCode::CREATED);
    app.api
        .post("/v1/payments/P-1/refunds", json!({"refund_number": "RF-1", "amount": 45}))
        .await
        .assert_status(StatusCode::CREATED);

    // The API's figures: today's day of the month holds what moved, counted by order.
    let month = app.api.get("/v1/statistics/daily").await;
    let body = month.assert_status(StatusCode::OK).clone();
    let total = &body["total"];
    assert_eq!((total["recharges"]["count"].as_i64(), total["recharges"]["amount"].as_i64()), (Some(1), Some(200_000)));
    assert_eq!((total["payments"]["count"].as_i64(), total["payments"]["amount"].as_i64()), (Some(2), Some(12_445)));
    assert_eq!((total["refunds"]["count"].as_i64(), total["refunds"]["amount"].as_i64()), (Some(1), Some(45)));
    assert_eq!(total["withdrawals"]["count"].as_i64(), Some(0));
    let days = body["days"].as_array().unwrap();
    assert!((28..=31).contains(&days.len()), "{body}");
    let busy: Vec<&serde_json::Value> = days.iter().filter(|d| d["payments"]["count"].as_i64() > Some(0)).collect();
    assert_eq!(busy.len(), 1, "{body}");
    let calendar = app.api.state.parties().config().calendar.clone();
    let today = calendar.local_text(sanhu_service::clock::now())[..10].to_owned();
    assert_eq!(busy[0]["date"], today.as_str());
    // Another month: nothing moved then; a month that is not one is refused.
    let past = app.api.get("/v1/statistics/daily?month=2020-02").await;
    let past = past.assert_status(StatusCode::OK).clone();
    assert_eq!((past["days"].as_array().unwrap().len(), past["total"]["payments"]["count"].as_i64()), (29, Some(0)));
    app.api.get("/v1/statistics/daily?month=2020-13").await.assert_error(StatusCode::BAD_REQUEST, "invalid_query");
    let bound = bound_client(&app.api.db.store, &member, "merchant").await;
    let refused = app.api.send_as(&bound, "GET", "/v1/statistics/daily", json!(null)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);

    // The dashboard: the figures in yuan, the chart and its table, in Chinese and English.
    let mut finance = app.signed_in("li.wei").await;
    let page = finance.get("/console").await;
    let text = page.expect(StatusCode::OK);
    assert!(text.contains("交易概况") && text.contains("¥2,000.00") && text.contains("¥124.45"), "{text}");
    assert!(text.contains("¥0.45") && text.contains("<svg class=\"chart\"") && text.contains("bar-payments"), "{text}");
    assert!(text.contains(&format!("{today} 支付: 2 · ¥124.45")), "{text}");
    let english = finance.get("/console?lang=en").await;
    assert!(english.expect(StatusCode::OK).contains("Money moved"), "{}", english.text);
});

on_both_backends!(daily_figures_count_each_order_once_however_its_transfers_spread, |db| {
    let app = world_app(db).await;
    let (member, account) = app.funded_member(PHONE).await;
    let (other, _) = app.funded_member("13800138002").await;
    let (_, shop) = app.api.active_member("13800138009").await;
    let (_, other_shop) = app.api.active_member("13800138008").await;
    let figures = |body: &serde_json::Value, flow: &str| {
        let days: i64 = body["days"].as_array().unwrap().iter().map(|d| d[flow]["count"].as_i64().unwrap()).sum();
        assert_eq!(Some(days), body["total"][flow]["count"].as_i64(), "the days add up to the month: {body}");
        (body["total"][flow]["count"].as_i64().unwrap(), body["total"][flow]["amount"].as_i64().unwrap())
    };

    // Two payments, one each, to two receivers.
    app.api.post("/v1/payments", pay("P-1", &member, 1_000, &shop)).await.assert_status(StatusCode::CREATED);
    app.api.post("/v1/payments", pay("P-2", &other, 2_000, &other_shop)).await.assert_status(StatusCode::CREATED);
    let month = app.api.get("/v1/statistics/daily").await.assert_status(StatusCode::OK).clone();
    assert_eq!(figures(&month, "payments"), (2, 3_000));

    // One order's two transfers, from two accounts (a withdrawal taking from each), a second either
    // side of a quarter hour: one order, not two.
    let (_, second_account) = app.api.active_member("13800138007").await;
    let body = json!({"debit_account_id": account, "credit_account_id": second_account, "amount": 5_000,
                      "code": "member_transfer", "reference": "T-1"});
    app.api.post("/v1/ledger/transfers", body).await.assert_status(StatusCode::CREATED);
    for (amount, from) in [(100, &account), (200, &second_account)] {
        let body = json!({"debit_account_id": from, "credit_account_id": shop, "amount": amount,
                          "code": "withdraw", "reference": "W-9"});
        app.api.post("/v1/ledger/transfers", body).await.assert_status(StatusCode::CREATED);
    }
    let quarter: i64 = 900 * 1_000_000_000;
    let boundary = sanhu_service::clock::now().nanos() / quarter * quarter;
    let (before, after) = (boundary - 1_000_000_000, boundary + 1_000_000_000);
    sql(
        &app.api.db,
        &format!(
            "UPDATE ledger_transfers SET timestamp = {before} WHERE reference = 'W-9' AND amount = 100; \
             UPDATE ledger_transfers SET timestamp = {after} WHERE reference = 'W-9' AND amount = 200;"
        ),
    )
    .await;
    let month = app.api.get("/v1/statistics/daily").await.assert_status(StatusCode::OK).clone();
    let (count, amount) = figures(&month, "withdrawals");
    assert_eq!(count, 1, "{month}");
    // (Within a month's first quarter hour, the first transfer is last month's.)
    assert!(amount == 300 || amount == 200, "{month}");
    assert_eq!(figures(&month, "payments"), (2, 3_000));
});

on_both_backends!(console_finds_orders_of_each_kind_only_on_criteria_and_shows_their_transfers, |db| {
    let app = world_app(db).await;
    let (member, _) = app.funded_member(PHONE).await;
    let (other, _) = app.funded_member("13800138002").await;
    let (_, shop) = app.api.active_member("13800138009").await;
    for (number, payer) in [("P-1", &member), ("P-2", &member), ("P-3", &other)] {
        app.api.post("/v1/payments", pay(number, payer, 1_000, &shop)).await.assert_status(StatusCode::CREATED);
    }
    app.api
        .post("/v1/payments/P-1/refunds", json!({"refund_number": "RF-1", "amount": 300}))
        .await
        .assert_status(StatusCode::CREATED);

    // The API: a criterion is required; by member, number, status and dates; paged by cursor.
    app.api.get("/v1/orders?kind=payment").await.assert_error(StatusCode::BAD_REQUEST, "missing_parameter");
    app.api.get("/v1/orders?kind=coupon&status=paid").await.assert_error(StatusCode::BAD_REQUEST, "invalid_query");
    app.api
        .get("/v1/orders?kind=payment&status=paid&after=recharge_order:x")
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_cursor");
    let mine = app.api.get(&format!("/v1/orders?kind=payment&member_id={member}&limit=1")).await;
    let mine = mine.assert_status(StatusCode::OK).clone();
    assert_eq!(mine["data"].as_array().unwrap().len(), 1);
    assert_eq!(mine["data"][0]["order_number"], "P-1");
    let next = mine["next_cursor"].as_str().unwrap().to_owned();
    let rest = app.api.get(&format!("/v1/orders?kind=payment&member_id={member}&after={}", enc(&next))).await;
    let rest = rest.assert_status(StatusCode::OK).clone();
    let numbers: Vec<&str> =
        rest["data"].as_array().unwrap().iter().map(|o| o["order_number"].as_str().unwrap()).collect();
    assert_eq!(numbers, ["P-2"]);
    let by_number = app.api.get("/v1/orders?kind=payment&number=P-3").await;
    assert_eq!(by_number.assert_status(StatusCode::OK)["data"][0]["member_id"], other.as_str());
    let refunds = app.api.get("/v1/orders?kind=refund&status=succeeded").await;
    let refunds = refunds.assert_status(StatusCode::OK).clone();
    assert_eq!(refunds["data"][0]["order_number"], "RF-1");
    assert_eq!(refunds["data"][0]["payment_number"], "P-1");
    assert_eq!(refunds["data"][0]["amount"], 300);
    let recharges = app.api.get("/v1/orders?kind=recharge&from=2000-01-01T00:00:00Z").await;
    assert_eq!(recharges.assert_status(StatusCode::OK)["data"].as_array().unwrap().len(), 2);
    let none = app.api.get("/v1/orders?kind=recharge&to=2000-01-01T00:00:00Z").await;
    assert!(none.assert_status(StatusCode::OK)["data"].as_array().unwrap().is_empty());
    let bound = bound_client(&app.api.db.store, &member, "merchant").await;
    let refused =
        app.api.send_as(&bound, "GET", &format!("/v1/orders?kind=payment&member_id={member}"), json!(null)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);

    // The console: nothing before a criterion; the member's payments; a refund; an order's transfers.
    let mut finance = app.signed_in("li.wei").await;
    let empty = finance.get("/console/orders?kind=payment").await;
    let text = empty.expect(StatusCode::OK);
    assert!(!text.contains("P-1") && !text.contains("查询结果"), "{text}");
    let found = finance.get(&format!("/console/orders?kind=payment&member_id={member}")).await;
    let text = found.expect(StatusCode::OK);
    assert!(text.contains("P-1") && text.contains("P-2") && !text.contains("P-3") && text.contains("¥10.00"), "{text}");
    let today = app.api.state.parties().config().calendar.local_text(sanhu_service::clock::now())[..10].to_owned();
    let part = finance.htmx(&format!("/console/orders?kind=refund&from_date={today}")).await;
    let text = part.expect(StatusCode::OK);
    assert!(text.contains("RF-1") && text.contains("¥3.00") && !text.contains("<html"), "{text}");
    let client = app.api.client.id.clone();
    let order = finance.get(&format!("/console/orders/payment/P-1?client_id={client}")).await;
    let text = order.expect(StatusCode::OK);
    assert!(text.contains("支付订单") && text.contains("¥10.00") && text.contains("账务流水"), "{text}");
    assert!(text.contains("RF-1") && text.contains(">支付<") && text.contains("¥3.00"), "{text}");
    let bad = finance.get("/console/orders?kind=payment&from_date=2026-02-30").await;
    assert!(bad.expect(StatusCode::OK).contains("2026-02-30"), "{}", bad.text);
    // Operations lacks the ledger's scope: the order, without its transfers.
    let mut operations = app.signed_in("yun.ying").await;
    let order = operations.get(&format!("/console/orders/payment/P-1?client_id={client}")).await;
    assert!(order.expect(StatusCode::OK).contains("无权查看账务分录"), "{}", order.text);
});

fn enc(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// An enterprise merchant submitted for review: (merchant, its member).
async fn merchant_under_review(app: &App, n: u32) -> (String, String) {
    let api = &app.api;
    let code = credit_code(n);
    let company = json!({
        "name": format!("某某科技有限公司{n}"), "credit_code": code, "legal_person": "张三",
        "legal_person_certificate_number": sanhu_testkit::ids::ID_CARD, "contact": "李四",
        "contact_phone": "13912345678", "industry": "I642", "licence_expiry": "2035-06-30",
        "address": "北京市海淀区某某路1号"
    });
    let registered = api
        .post(
            "/v1/enterprises",
            json!({"email": format!("m{n}@example.com"), "company": company,
                                        "admin": {"phone": format!("1391234{n:04}")}}),
        )
        .await;
    let member = registered.assert_status(StatusCode::CREATED)["member"]["id"].as_str().unwrap().to_owned();
    api.activate(&member).await;
    let opening = json!({
        "member_id": member, "merchant_type": "enterprise", "name": format!("某某咖啡{n}"),
        "scenario": {"kind": "offline_store", "address": "北京市海淀区某某路1号"},
        "contact": {"name": "李四", "phone": "13912345678"},
        "business": {"registered_name": format!("某某科技有限公司{n}"), "credit_code": code}
    });
    let opened = api.post("/v1/merchants", opening).await;
    let merchant = opened.assert_status(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/merchants/{merchant}");
    let documents = json!({"licence_number": code,
                           "legal_person": {"name": "张三", "certificate_number": sanhu_testkit::ids::ID_CARD},
                           "premises_photos": ["file:premises-1"]});
    api.post(&format!("{path}/documents"), documents).await.assert_status(StatusCode::OK);
    let number = "1100000000000000000001";
    let account = json!({"kind": "corporate", "account_name": format!("某某科技有限公司{n}"), "account_number": number,
                         "bank_code": "102", "branch_code": "102100000012"});
    api.post(&format!("{path}/settlement-account"), account).await.assert_status(StatusCode::OK);
    let verified = json!({"verified": true, "account_number": number});
    api.post(&format!("{path}/settlement-account/verification"), verified).await.assert_status(StatusCode::OK);
    api.post(&format!("{path}/submit"), json!({})).await.assert_status(StatusCode::OK);
    (merchant, member)
}

/// The id of the first approval form on an approvals page.
fn first_approval(text: &str) -> String {
    let start = text.find("/console/approvals/apr_").expect("an approval's form") + "/console/approvals/".len();
    text[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect()
}

on_both_backends!(console_reviews_a_merchant_held_for_a_second_staff_member_then_freezes_and_unfreezes_it, |db| {
    let app = world_app(db).await;
    let (merchant, _) = merchant_under_review(&app, 1).await;
    let (other, _) = merchant_under_review(&app, 2).await;
    let mut maker = app.signed_in("yun.ying").await;

    // The API's list: by the business's credit code, by a name the merchant's or business's contains.
    let listed = app.api.get(&format!("/v1/merchants?certificate_number={}", credit_code(2))).await;
    let listed = listed.assert_status(StatusCode::OK).clone();
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert_eq!(listed["data"][0]["id"], other.as_str());
    let listed = app.api.get(&format!("/v1/merchants?name={}", enc("咖啡1"))).await;
    assert_eq!(listed.assert_status(StatusCode::OK)["data"][0]["id"], merchant.as_str());
    app.api.get("/v1/merchants?name=%20").await.assert_error(StatusCode::BAD_REQUEST, "invalid_query");

    // Search first; the review queue; by name and by credit code.
    let empty = maker.get("/console/merchants").await;
    assert!(!empty.expect(StatusCode::OK).contains(&merchant), "{}", empty.text);
    let queue = maker.get("/console/merchants?status=under_review").await;
    let text = queue.expect(StatusCode::OK);
    assert!(text.contains(&merchant) && text.contains(&other) && text.contains("审核中"), "{text}");
    let dashboard = maker.get("/console").await;
    assert!(dashboard.expect(StatusCode::OK).contains("待审核商户"), "{}", dashboard.text);
    let by_code = maker.get(&format!("/console/merchants?by=credit_code&q={}", credit_code(2))).await;
    let text = by_code.expect(StatusCode::OK);
    assert!(text.contains(&other) && !text.contains(&merchant), "{text}");
    let by_name = maker.get(&format!("/console/merchants?by=name&q={}", enc("某某科技有限公司1"))).await;
    let text = by_name.expect(StatusCode::OK);
    assert!(text.contains(&merchant) && !text.contains(&other), "{text}");

    // The merchant's page: the settlement account masked, the documents, the review's form.
    let page = maker.get(&format!("/console/merchants/{merchant}")).await;
    let text = page.expect(StatusCode::OK);
    assert!(
        text.contains("某某咖啡1") && text.contains("入网审核") && !text.contains("1100000000000000000001"),
        "{text}"
    );
    assert!(text.contains("营业执照") && text.contains("提交审核") && text.contains("企业商户"), "{text}");
    // Rejecting needs a reason (the API says so when the request is applied); asking for more too.
    maker
        .post(&format!("/console/merchants/{merchant}/review"), &[("decision", "approve"), ("key", "k-approve")])
        .await
        .expect_redirect(&format!("/console/merchants/{merchant}?done=held_for_approval"));
    let queue = maker.get("/console/approvals").await;
    let text = queue.expect(StatusCode::OK).to_owned();
    assert!(text.contains(&format!("/v1/merchants/{merchant}/review")), "{text}");
    let approval = first_approval(&text);
    // The maker cannot approve their own; another staff member does.
    let own = maker.post(&format!("/console/approvals/{approval}/approve"), &[]).await;
    assert!(own.expect(StatusCode::FORBIDDEN).contains("approval_same_staff_member"), "{}", own.text);
    let mut checker = app.signed_in("zhao.min").await;
    checker
        .post(&format!("/console/approvals/{approval}/approve"), &[])
        .await
        .expect_redirect("/console/approvals?done=done");
    let page = maker.get(&format!("/console/merchants/{merchant}")).await;
    let text = page.expect(StatusCode::OK);
    assert!(text.contains("正常") && text.contains("staff:yun.ying") && text.contains("staff:zhao.min"), "{text}");

    // Freeze, then unfreeze: each held, each approved by the other staff member.
    for (status, shown) in [("frozen", "已冻结"), ("active", "正常")] {
        let form = [("status", status), ("reason", "风控核查"), ("key", status)];
        maker
            .post(&format!("/console/merchants/{merchant}/status"), &form)
            .await
            .expect_redirect(&format!("/console/merchants/{merchant}?done=held_for_approval"));
        let approval = first_approval(checker.get("/console/approvals").await.expect(StatusCode::OK));
        checker.post(&format!("/console/approvals/{approval}/approve"), &[]).await.expect(StatusCode::SEE_OTHER);
        let page = maker.get(&format!("/console/merchants/{merchant}")).await;
        assert!(page.expect(StatusCode::OK).contains(shown), "{status}: {}", page.text);
    }
    let merchant_now = app.api.get(&format!("/v1/merchants/{merchant}")).await;
    assert_eq!(merchant_now.assert_status(StatusCode::OK)["status"], "active");

    // Asked for more, the other goes back to applying; rejected without a reason: refused when applied.
    let form = [("decision", "request_more"), ("reason", "营业执照不清晰"), ("key", "k-more")];
    maker.post(&format!("/console/merchants/{other}/review"), &form).await.expect(StatusCode::SEE_OTHER);
    let approval = first_approval(checker.get("/console/approvals").await.expect(StatusCode::OK));
    checker.post(&format!("/console/approvals/{approval}/approve"), &[]).await.expect(StatusCode::SEE_OTHER);
    assert_eq!(
        app.api.get(&format!("/v1/merchants/{other}")).await.assert_status(StatusCode::OK)["status"],
        "applying"
    );
    // A request refused when applied says so: rejecting without a reason.
    app.api.post(&format!("/v1/merchants/{other}/submit"), json!({})).await.assert_status(StatusCode::OK);
    let form = [("decision", "reject"), ("key", "k-reject")];
    maker.post(&format!("/console/merchants/{other}/review"), &form).await.expect(StatusCode::SEE_OTHER);
    let approval = first_approval(checker.get("/console/approvals").await.expect(StatusCode::OK));
    let refused = checker.post(&format!("/console/approvals/{approval}/approve"), &[]).await;
    assert!(
        refused.status.is_client_error() && refused.text.contains("merchant_review_reason_required"),
        "{}",
        refused.text
    );

    // Customer service reads merchants but neither reviews nor changes their status.
    let mut service = app.signed_in("kefu").await;
    let page = service.get(&format!("/console/merchants/{merchant}")).await;
    assert!(!page.expect(StatusCode::OK).contains("/status\""), "{}", page.text);
    service
        .post(&format!("/console/merchants/{merchant}/status"), &[("status", "frozen"), ("reason", "x")])
        .await
        .expect(StatusCode::FORBIDDEN);
    // Every action is the staff member's in the audit log.
    let store = &app.api.db.store;
    let events = store.audit_events(&AuditQuery { limit: 200, ..AuditQuery::default() }).await.unwrap();
    let made = events
        .iter()
        .filter(|e| e.event.actor == "staff:yun.ying" && e.event.route.starts_with("/v1/merchants/{id}/"))
        .count();
    // Five requests, each audited when held (202) and when applied on approval.
    assert_eq!(made, 10);
});

on_both_backends!(console_shows_card_types_and_batches_and_takes_marketings_then_finances_approval, |db| {
    let app = world_app(db).await;
    let terms = json!({"kind": "stored_value", "face_value": 500000, "sale_price": 450000,
                       "validity": {"days_from_activation": 365}, "rechargeable": true, "default_rate_bp": 9000});
    let card_type = app.api.post("/v1/card-types", json!({"name": "金卡", "grade": 1, "terms": terms})).await;
    let card_type = card_type.assert_status(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
    let segment =
        json!({"prefix": "8601", "serial_digits": 8, "first_serial": 0, "last_serial": 999, "region": "北京分公司"});
    let segment = app.api.post("/v1/card-segments", segment).await;
    let segment = segment.assert_status(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
    let batch = json!({"type_id": card_type, "segment_id": segment, "channel": "app", "quantity": 10});
    let batch = app.api.post("/v1/card-batches", batch).await;
    let batch = batch.assert_status(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();

    let mut marketing = app.signed_in("mei.lin").await;
    let cards = marketing.get("/console/cards").await;
    let text = cards.expect(StatusCode::OK);
    assert!(text.contains("金卡") && text.contains(&batch) && text.contains("待审批"), "{text}");
    // Marketing sees no finance page: no withdrawal review in its menu, and refused it.
    assert!(!text.contains("href=\"/console/withdrawals\""), "{text}");
    assert!(marketing.get("/console/withdrawals").await.expect(StatusCode::FORBIDDEN).contains("无权访问"));
    let page = marketing.get(&format!("/console/cards/batches/{batch}")).await;
    let text = page.expect(StatusCode::OK);
    assert!(text.contains("审批通过：") && text.contains("市场部") && text.contains("等待审批"), "{text}");
    marketing
        .post(&format!("/console/cards/batches/{batch}/approve"), &[("key", "m")])
        .await
        .expect_redirect(&format!("/console/cards/batches/{batch}?done=done"));
    // Operations may not approve (its role holds no cards scope: no menu, refused).
    let mut operations = app.signed_in("yun.ying").await;
    operations.get(&format!("/console/cards/batches/{batch}")).await.expect(StatusCode::FORBIDDEN);
    // Finance approves second: the batch is approved.
    let mut finance = app.signed_in("li.wei").await;
    finance
        .post(&format!("/console/cards/batches/{batch}/approve"), &[("key", "f")])
        .await
        .expect_redirect(&format!("/console/cards/batches/{batch}?done=done"));
    let page = finance.get(&format!("/console/cards/batches/{batch}")).await;
    let text = page.expect(StatusCode::OK);
    assert!(text.contains("已审批") && text.contains("staff:mei.lin") && text.contains("staff:li.wei"), "{text}");
    assert!(!text.contains("审批通过："), "nothing left to approve: {text}");
    // A second marketing approval of an approved batch is refused by the API, shown as such.
    let again = marketing.post(&format!("/console/cards/batches/{batch}/approve"), &[("key", "m2")]).await;
    assert!(again.status.is_client_error(), "{}", again.text);
});

on_both_backends!(console_generates_a_batchs_codes_once_and_lists_them_without_their_text, |db| {
    let app = world_app(db).await;
    let terms = json!({"kind": "stored_value", "face_value": 500000, "sale_price": 450000,
                       "validity": {"days_from_activation": 365}, "rechargeable": true, "default_rate_bp": 9000});
    let card_type = app.api.post("/v1/card-types", json!({"name": "金卡", "grade": 1, "terms": terms})).await;
    let card_type = card_type.assert_status(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
    let segment =
        json!({"prefix": "8601", "serial_digits": 8, "first_serial": 0, "last_serial": 999, "region": "北京分公司"});
    let segment = app.api.post("/v1/card-segments", segment).await;
    let segment = segment.assert_status(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
    let batch = json!({"type_id": card_type, "segment_id": segment, "channel": "app", "quantity": 10});
    let batch = app.api.post("/v1/card-batches", batch).await;
    let batch = batch.assert_status(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
    let mut marketing = app.signed_in("mei.lin").await;
    marketing.post(&format!("/console/cards/batches/{batch}/approve"), &[("key", "m")]).await;
    let mut finance = app.signed_in("li.wei").await;
    finance.post(&format!("/console/cards/batches/{batch}/approve"), &[("key", "f")]).await;

    let page = finance.get(&format!("/console/cards/batches/{batch}")).await;
    assert!(page.expect(StatusCode::OK).contains("生成兑换码"), "{}", page.text);
    let once = finance.cookie("sanhu_console_codes_form").unwrap().to_owned();
    let calendar = app.api.state.parties().config().calendar.clone();
    let now = sanhu_service::clock::now();
    let day = calendar.day(now).0 + 30;
    let expires_on = calendar.local_text(calendar.day_start(sanhu_core::PlatformDay(day)).unwrap())[..10].to_owned();
    let next_day = calendar.local_text(calendar.day_start(sanhu_core::PlatformDay(day + 1)).unwrap());
    let form = [("once", once.as_str()), ("quantity", "3"), ("expires_on", &expires_on), ("payment_channel", "alipay")];
    let generated = finance.post(&format!("/console/cards/batches/{batch}/codes"), &form).await;
    let text = generated.expect(StatusCode::OK);
    let codes: Vec<&str> =
        text.split("<strong class=\"code-text\">").skip(1).map(|rest| rest.split('<').next().unwrap()).collect();
    assert_eq!(codes.len(), 3, "{text}");
    assert!(text.contains("data:text/csv;charset=utf-8,") && text.contains("下载 CSV"), "{text}");
    assert!(generated.headers.get(header::CACHE_CONTROL).unwrap() == "no-store");
    // Valid through the day given: they stop at the next day's start, in the platform's time zone.
    assert!(text.contains(&next_day), "{next_day}: {text}");
    // The same form sent again makes nothing: its token is spent.
    let csrf = finance.cookie("sanhu_console_csrf").unwrap().to_owned();
    let mut with_csrf = vec![("csrf", csrf.as_str())];
    with_csrf.extend_from_slice(&form);
    let again = finance.send("POST", &format!("/console/cards/batches/{batch}/codes"), &with_csrf, &[]).await;
    assert!(again.expect(StatusCode::CONFLICT).contains("此生成表单已提交过"), "{}", again.text);
    // The list: three codes, unused, never their text.
    let list = finance.get(&format!("/console/cards/batches/{batch}/codes")).await;
    let text = list.expect(StatusCode::OK);
    assert_eq!(text.matches("未兑换").count(), 3, "{text}");
    for code in codes {
        assert!(!text.contains(code), "{text}");
    }
    // Customer service holds no cards scope: refused.
    let mut kefu = app.signed_in("kefu").await;
    kefu.get(&format!("/console/cards/batches/{batch}/codes")).await.expect(StatusCode::FORBIDDEN);
});

on_both_backends!(console_shows_a_customer_and_issues_a_members_bill, |db| {
    let app = world_app(db).await;
    let (member, account) = app.funded_member(PHONE).await;
    let mut finance = app.signed_in("li.wei").await;
    // Search first: nothing listed without a criterion; a customer by a member's phone.
    let empty = finance.get("/console/customers").await;
    assert!(!empty.expect(StatusCode::OK).contains("<table"), "{}", empty.text);
    let found = finance.get(&format!("/console/customers?by=phone&q={PHONE}")).await;
    let text = found.expect(StatusCode::OK);
    let customer = text.split("/console/customers/").nth(1).unwrap().split('"').next().unwrap().to_owned();
    assert!(customer.starts_with("cus_"), "{text}");
    let page = finance.get(&format!("/console/customers/{customer}")).await;
    let text = page.expect(StatusCode::OK);
    assert!(text.contains(&member) && text.contains(&account) && text.contains("基本户"), "{text}");
    assert!(text.contains("¥2,000.00") && text.contains("会员注册") && text.contains("客户账单"), "{text}");
    assert!(text.contains(&format!("/console/members/{member}?account={account}#flow")), "{text}");

    // A member's bill of last month, issued through the API's rule, then read.
    let bills = finance.get(&format!("/console/members/{member}/bills")).await;
    let text = bills.expect(StatusCode::OK);
    assert!(text.contains("尚未出具账单") && text.contains("出具账单"), "{text}");
    let month = text.split("name=\"period\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let issued = finance.post(&format!("/console/members/{member}/bills"), &[("key", "b1"), ("period", &month)]).await;
    assert_eq!(issued.status, StatusCode::SEE_OTHER, "{}", issued.text);
    let location = issued.headers.get(header::LOCATION).unwrap().to_str().unwrap().to_owned();
    assert!(location.starts_with("/console/bills/bil_"), "{location}");
    let bill = finance.get(&location).await;
    assert!(bill.expect(StatusCode::OK).contains(&format!("账单 {month}")), "{}", bill.text);
    // A month not ended is refused by the API, and said so.
    let now = sanhu_service::clock::now();
    let this_month = app.api.state.parties().config().calendar.local_text(now)[..7].to_owned();
    let refused =
        finance.post(&format!("/console/members/{member}/bills"), &[("key", "b2"), ("period", &this_month)]).await;
    assert!(refused.expect(StatusCode::CONFLICT).contains("bill_period_not_closed"), "{}", refused.text);
    let summed = finance.get(&format!("/console/customers/{customer}/bill?period={month}")).await;
    let text = summed.expect(StatusCode::OK);
    assert!(text.contains("客户账单") && text.contains(&location["/console/bills/".len()..]), "{text}");
    // Customer service holds admin:read: it reads the customer too.
    let mut kefu = app.signed_in("kefu").await;
    kefu.get(&format!("/console/customers/{customer}")).await.expect(StatusCode::OK);
});

on_both_backends!(api_clients_staff_and_configuration_are_read_by_staff_without_a_secret, |db| {
    let mut app = app(db).await;
    // The process's own settings, as `sanhu serve` gives them: the database's password redacted.
    let url = sanhu_store::redact_url("postgres://sanhu:s3cret-pw@db.internal:5432/sanhu");
    let state = app.api.state.clone().with_settings(&[("server", "database_url", url, false)]);
    app.api.state = state.clone();
    app.api.router = sanhu_http::router(state);
    app.router = app.api.router.clone();
    app.api.hire("li.wei", StaffRole::Finance).await;
    app.api.hire("zhao.kefu", StaffRole::CustomerService).await;
    let (member, _) = app.api.active_member(PHONE).await;
    let bound = bound_client(&app.api.db.store, &member, "商户收银系统").await;

    // The clients: binding, scopes, keys' fingerprints; never a key.
    let list = app.api.get("/v1/api-clients").await;
    let body = list.assert_status(StatusCode::OK).clone();
    let clients = body["data"].as_array().unwrap();
    assert_eq!(clients.len(), 2, "{body}");
    let found = clients.iter().find(|c| c["id"] == bound.id.as_str()).unwrap();
    assert_eq!((found["status"].as_str(), found["bound_to"].as_str()), (Some("active"), Some(member.as_str())));
    assert!(found["keys"][0]["fingerprint"].as_str().unwrap().starts_with("SHA256:"), "{found}");
    assert!(!list.text.contains("public_key") && !list.text.contains("private"), "{}", list.text);
    let public_key = hex::encode(bound.key.verifying_key().to_bytes());
    assert!(!list.text.contains(&public_key), "the key itself is not shown");
    assert_eq!(
        found["keys"][0]["fingerprint"].as_str().unwrap(),
        sanhu_http::staff::admin::key_fingerprint(&bound.key.verifying_key().to_bytes())
    );
    let paged = app.api.get("/v1/api-clients?limit=1").await.assert_status(StatusCode::OK).clone();
    let cursor = paged["next_cursor"].as_str().unwrap().to_owned();
    let rest =
        app.api.get(&format!("/v1/api-clients?limit=1&after={cursor}")).await.assert_status(StatusCode::OK).clone();
    assert_eq!(rest["data"].as_array().unwrap().len(), 1);
    assert_ne!(rest["data"][0]["id"], paged["data"][0]["id"]);
    let by_name =
        app.api.get(&format!("/v1/api-clients?q={}", enc("收银"))).await.assert_status(StatusCode::OK).clone();
    assert_eq!(by_name["data"].as_array().unwrap().len(), 1);
    let by_member = app.api.get(&format!("/v1/api-clients?bound_to={member}&status=active")).await;
    assert_eq!(by_member.assert_status(StatusCode::OK)["data"][0]["id"], bound.id.as_str());
    app.api.get("/v1/api-clients?status=gone").await.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_status");
    app.api.get("/v1/api-clients?colour=red").await.assert_error(StatusCode::BAD_REQUEST, "unknown_parameter");
    let one = app.api.get(&format!("/v1/api-clients/{}", bound.id)).await;
    assert_eq!(one.assert_status(StatusCode::OK)["name"], "商户收银系统");
    app.api
        .get("/v1/api-clients/cli_00000000000000000000000009")
        .await
        .assert_error(StatusCode::NOT_FOUND, "api_client_not_found");
    app.api.get("/v1/api-clients/nope").await.assert_error(StatusCode::BAD_REQUEST, "invalid_id");
    // A bound client reaches none of it, not even its own record.
    for path in ["/v1/api-clients", &format!("/v1/api-clients/{}", bound.id), "/v1/staff", "/v1/configuration"] {
        let refused = app.api.send_as(&bound, "GET", path, json!(null)).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{path}: {}", refused.body);
    }

    // Staff with their roles' scopes; never a password or its hash.
    let staff = app.api.get("/v1/staff").await;
    let body = staff.assert_status(StatusCode::OK).clone();
    assert_eq!(body["data"].as_array().unwrap().len(), 2, "{body}");
    assert!(!staff.text.contains("argon2") && !staff.text.contains("password_hash"), "{}", staff.text);
    let finance = app.api.get("/v1/staff?role=finance").await.assert_status(StatusCode::OK).clone();
    assert_eq!(finance["data"][0]["username"], "li.wei");
    assert!(finance["data"][0]["scopes"].as_array().unwrap().contains(&json!("wallet:write")));
    app.api.get("/v1/staff?role=boss").await.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_role");
    let one = app.api.get("/v1/staff/zhao.kefu").await;
    assert_eq!(one.assert_status(StatusCode::OK)["role"], "customer_service");
    app.api.get("/v1/staff/nobody").await.assert_error(StatusCode::NOT_FOUND, "staff_not_found");

    // The configuration in effect, secrets redacted.
    let config = app.api.get("/v1/configuration").await;
    config.assert_status(StatusCode::OK);
    assert!(config.text.contains("Asia/Shanghai") && config.text.contains("db.internal"), "{}", config.text);
    assert!(!config.text.contains("s3cret-pw"), "{}", config.text);
    let settings = config.body["settings"].as_array().unwrap();
    let secret = settings.iter().find(|s| s["name"] == "secret").unwrap();
    assert_eq!((secret["value"].as_str(), secret["secret"].as_bool()), (Some("[redacted]"), Some(true)));

    // The console's pages, for a role with admin:read.
    let mut browser = app.signed_in("zhao.kefu").await;
    let home = browser.get("/console").await.expect(StatusCode::OK).to_owned();
    for menu in ["/console/api-clients", "/console/staff", "/console/configuration"] {
        assert!(home.contains(&format!("href=\"{menu}\"")), "{menu}: {home}");
    }
    let page = browser.get("/console/api-clients?q=%E6%94%B6%E9%93%B6").await.expect(StatusCode::OK).to_owned();
    assert!(page.contains("商户收银系统") && page.contains(&member) && page.contains("SHA256:"), "{page}");
    assert!(page.contains("<label for=\"q\">"), "{page}");
    let page = browser.get(&format!("/console/api-clients/{}", bound.id)).await.expect(StatusCode::OK).to_owned();
    assert!(page.contains("钱包查询") && page.contains("parties:read") && page.contains("有效"), "{page}");
    let page = browser.get("/console/staff?role=finance").await.expect(StatusCode::OK).to_owned();
    assert!(page.contains("li.wei") && page.contains("财务") && !page.contains("zhao.kefu</a>"), "{page}");
    let page = browser.get("/console/staff/li.wei").await.expect(StatusCode::OK).to_owned();
    assert!(page.contains("wallet:write") && page.contains("密码设置时间"), "{page}");
    browser.get("/console/staff/nobody").await.expect(StatusCode::NOT_FOUND);
    let page = browser.get("/console/configuration").await.expect(StatusCode::OK).to_owned();
    assert!(page.contains("Asia/Shanghai") && page.contains("平台时区") && page.contains("已隐藏"), "{page}");
    assert!(!page.contains("s3cret-pw"), "{page}");
    let page = browser.get("/console/configuration?lang=en").await.expect(StatusCode::OK).to_owned();
    assert!(page.contains("platform time zone") && page.contains("hidden (a secret)"), "{page}");
});

on_both_backends!(console_signs_a_product_held_for_a_second_staff_member_and_shows_a_merchants_settings, |db| {
    let app = world_app(db).await;
    let (merchant, _) = merchant_under_review(&app, 1).await;
    let applied =
        app.api.post(&format!("/v1/merchants/{merchant}/products"), json!({"product": "balance_payment"})).await;
    applied.assert_status(StatusCode::CREATED);
    let mut maker = app.signed_in("yun.ying").await;

    // The catalogue, and the way from the merchant's page to its signings and settings.
    let catalogue = maker.get("/console/products").await.expect(StatusCode::OK).to_owned();
    assert!(
        catalogue.contains("余额支付") && catalogue.contains("balance_payment") && catalogue.contains("60 ‱"),
        "{catalogue}"
    );
    let page = maker.get(&format!("/console/merchants/{merchant}")).await.expect(StatusCode::OK).to_owned();
    assert!(page.contains(&format!("/console/merchants/{merchant}/products")), "{page}");
    let signings_path = format!("/console/merchants/{merchant}/products");
    let page = maker.get(&signings_path).await.expect(StatusCode::OK).to_owned();
    assert!(
        page.contains("审核中") && page.contains("审核签约申请") && page.contains("<label for=\"decision-1\">"),
        "{page}"
    );

    // Approved by the maker: held; refused to the maker; approved by another staff member.
    let review = format!("/console/merchants/{merchant}/products/balance_payment/review");
    maker
        .post(&review, &[("decision", "approve"), ("key", "sign-1")])
        .await
        .expect_redirect(&format!("{signings_path}?done=held_for_approval"));
    let still = maker.get(&signings_path).await.expect(StatusCode::OK).to_owned();
    assert!(still.contains("审核中"), "{still}");
    let queue = maker.get("/console/approvals").await.expect(StatusCode::OK).to_owned();
    assert!(queue.contains(&format!("/v1/merchants/{merchant}/products/balance_payment/review")), "{queue}");
    let approval = first_approval(&queue);
    let own = maker.post(&format!("/console/approvals/{approval}/approve"), &[]).await;
    assert!(own.expect(StatusCode::FORBIDDEN).contains("approval_same_staff_member"), "{}", own.text);
    let mut checker = app.signed_in("zhao.min").await;
    checker
        .post(&format!("/console/approvals/{approval}/approve"), &[])
        .await
        .expect_redirect("/console/approvals?done=done");
    let page = maker.get(&signings_path).await.expect(StatusCode::OK).to_owned();
    assert!(page.contains("已签约") && page.contains("staff:yun.ying") && page.contains("staff:zhao.min"), "{page}");
    assert!(page.contains("暂停签约") && page.contains("终止签约"), "{page}");

    // Suspended the same way; a role without admin:write has no form and is refused.
    maker
        .post(
            &format!("/console/merchants/{merchant}/products/balance_payment/suspend"),
            &[("reason", "风控核查"), ("key", "s-1")],
        )
        .await
        .expect_redirect(&format!("{signings_path}?done=held_for_approval"));
    let queue = checker.get("/console/approvals").await.expect(StatusCode::OK).to_owned();
    let approval = first_approval(&queue);
    checker
        .post(&format!("/console/approvals/{approval}/approve"), &[])
        .await
        .expect_redirect("/console/approvals?done=done");
    let page = maker.get(&signings_path).await.expect(StatusCode::OK).to_owned();
    assert!(page.contains("已暂停") && page.contains("风控核查") && page.contains("恢复签约"), "{page}");
    let mut service = app.signed_in("kefu").await;
    let page = service.get(&signings_path).await.expect(StatusCode::OK).to_owned();
    assert!(!page.contains("恢复签约"), "{page}");
    service
        .post(&format!("/console/merchants/{merchant}/products/balance_payment/resume"), &[("reason", "x")])
        .await
        .expect(StatusCode::FORBIDDEN);
    maker
        .post(&format!("/console/merchants/{merchant}/products/balance_payment/explode"), &[("reason", "x")])
        .await
        .expect(StatusCode::NOT_FOUND);

    // The merchant's settings in effect, each with its source, in both languages.
    let page = maker.get(&format!("/console/merchants/{merchant}/settings")).await.expect(StatusCode::OK).to_owned();
    assert!(page.contains("生效的设置") && page.contains("允许提现") && page.contains("平台"), "{page}");
    assert!(page.contains("商户没有自己的设置"), "{page}");
    let page =
        maker.get(&format!("/console/merchants/{merchant}/settings?lang=en")).await.expect(StatusCode::OK).to_owned();
    assert!(page.contains("Settings in effect") && page.contains("platform"), "{page}");
    maker.get("/console/merchants/mch_00000000000000000000000001/settings").await.expect(StatusCode::NOT_FOUND);
});

on_both_backends!(console_exports_the_search_lists_as_csv_within_their_criteria, |db| {
    let app = app(db).await;
    app.api.hire("li.wei", StaffRole::Finance).await;
    let (member, _) = app.funded_member(PHONE).await;
    let mut finance = app.signed_in("li.wei").await;

    // The orders the search finds, with its link to the export.
    let found = finance.get(&format!("/console/orders?kind=recharge&member_id={member}")).await;
    let text = found.expect(StatusCode::OK).to_owned();
    let link = format!("/console/orders/export.csv?kind=recharge&member_id={member}&");
    assert!(text.contains(&link), "{text}");
    let csv = finance.get(&link).await;
    assert_eq!(csv.status, StatusCode::OK, "{}", csv.text);
    assert_eq!(csv.headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    assert_eq!(csv.headers[header::CONTENT_DISPOSITION], "attachment; filename=\"orders-recharge.csv\"");
    let lines: Vec<&str> = csv.text.trim_end().split("\r\n").collect();
    assert!(
        lines[0].starts_with('\u{feff}') && lines[0].contains("\"订单号\"") && lines[0].contains("\"金额\""),
        "{lines:?}"
    );
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[1].contains(&format!("\"R-{PHONE}\"")) && lines[1].contains("\"¥2,000.00\""), "{lines:?}");
    assert!(lines[1].contains(&format!("\"{member}\"")), "{lines:?}");
    let english = finance.get(&format!("{link}lang=en")).await;
    assert!(english.text.contains("\"Order number\""), "{}", english.text);
    // Within the criteria only: none given, nothing exported.
    let refused = finance.get("/console/orders/export.csv?kind=recharge").await;
    assert!(refused.expect(StatusCode::BAD_REQUEST).contains("请先输入查询条件"), "{}", refused.text);

    // Customers by phone; merchants by status.
    let csv = finance.get(&format!("/console/customers/export.csv?by=phone&q={PHONE}")).await;
    assert_eq!(csv.status, StatusCode::OK, "{}", csv.text);
    assert!(csv.text.contains("\"客户\"") && csv.text.contains("\"cus_"), "{}", csv.text);
    finance.get("/console/customers/export.csv").await.expect(StatusCode::BAD_REQUEST);
    let csv = finance.get("/console/merchants/export.csv?status=under_review").await;
    assert_eq!(csv.status, StatusCode::OK, "{}", csv.text);
    finance.get("/console/merchants/export.csv").await.expect(StatusCode::BAD_REQUEST);

    // Each export is in the audit log as the staff member: a GET of the list's route, its criteria
    // (a member's id among the targets) and the rows written; a refused one is not an export.
    let store = app.api.state.ledger().store().clone();
    let exports =
        store.audit_events(&AuditQuery { actor: Some("staff:li.wei".into()), limit: 100, ..Default::default() }).await;
    let exports: Vec<_> = exports.unwrap().into_iter().filter(|e| e.event.method == "GET").collect();
    let routes: Vec<&str> = exports.iter().map(|e| e.event.route.as_str()).collect();
    assert_eq!(routes, ["/v1/orders", "/v1/orders", "/v1/customers", "/v1/merchants"], "{exports:?}");
    let orders = &exports[0].event;
    assert_eq!(orders.target_ids, std::slice::from_ref(&member));
    assert_eq!(orders.status, 200);
    let changes: serde_json::Value = serde_json::from_str(orders.changes.as_deref().unwrap()).unwrap();
    assert_eq!(
        changes,
        json!({"export": "csv", "rows": 1, "cut": false,
                                "criteria": {"kind": "recharge", "member_id": member}})
    );
    let customers: serde_json::Value = serde_json::from_str(exports[2].event.changes.as_deref().unwrap()).unwrap();
    assert_eq!(customers["criteria"], json!({"phone": PHONE}));
    assert_eq!(customers["rows"], 1);
    // The audit API shows them, found by the list's route; the audit page too.
    let shown = app.api.get("/v1/audit-events?route=/v1/orders").await;
    let shown = shown.assert_status(StatusCode::OK);
    assert_eq!(shown["data"][0]["method"], "GET");
    assert_eq!(shown["data"][0]["actor"], "staff:li.wei");
    assert_eq!(shown["data"][0]["changes"]["rows"], 1);

    // Without a session: to sign in, as every page.
    let mut stranger = app.browser();
    stranger.get("/console/orders/export.csv?kind=recharge&member_id=x").await.expect_redirect("/console/sign-in");
});

on_both_backends!(console_audit_page_shows_sanhu_verifys_last_result, |db| {
    let app = app(db).await;
    app.api.hire("shenji", StaffRole::Auditor).await;
    let (member, _) = app.funded_member(PHONE).await;
    let store = app.api.db.store.clone();

    // Before any run: the API answers 404, the page says so.
    app.api.get("/v1/verifications/latest").await.assert_error(StatusCode::NOT_FOUND, "verification_not_found");
    let mut auditor = app.signed_in("shenji").await;
    let page = auditor.get("/console/audit").await;
    assert!(page.expect(StatusCode::OK).contains("尚无 sanhu verify 的运行记录"), "{}", page.text);

    // A clean run, then one with problems: the last is shown, with its time, counts and findings.
    let now = sanhu_service::clock::now();
    let run = |findings: Vec<String>, finished_at: sanhu_core::Timestamp| VerificationRecord {
        id: 0,
        started_at: sanhu_core::Timestamp::from_nanos(finished_at.nanos() - 2_000_000_000),
        finished_at,
        accounts_checked: 7,
        transfers_checked: 3,
        audit_events_checked: 12,
        findings: findings.len() as i64,
        details: findings,
        ran_by: "sanhu verify".to_owned(),
    };
    let first = store.record_verification(run(Vec::new(), now)).await.unwrap();
    app.api.get("/v1/verifications/99").await.assert_error(StatusCode::NOT_FOUND, "verification_not_found");
    let latest = app.api.get("/v1/verifications/latest").await;
    let latest = latest.assert_status(StatusCode::OK).clone();
    assert_eq!(latest["id"], first);
    assert_eq!((latest["outcome"].as_str(), latest["findings"].as_i64()), (Some("clean"), Some(0)));
    assert_eq!(latest["finished_at"], now.to_string());
    let page = auditor.get("/console/audit").await;
    let text = page.expect(StatusCode::OK);
    assert!(
        text.contains("✓ 最近一次校验一致") && text.contains("7 个账户") && text.contains("12 条审计事件"),
        "{text}"
    );
    assert!(!text.contains("已超过两天未校验"), "{text}");

    let problem = "account acc_01 counters differ from its entries".to_owned();
    let second = store.record_verification(run(vec![problem.clone()], now)).await.unwrap();
    assert!(second > first);
    let latest = app.api.get("/v1/verifications/latest").await;
    let latest = latest.assert_status(StatusCode::OK).clone();
    assert_eq!((latest["id"].as_i64(), latest["outcome"].as_str()), (Some(second), Some("problems")));
    assert_eq!(latest["details"], json!([problem]));
    let earlier = app.api.get(&format!("/v1/verifications/{first}")).await;
    assert_eq!(earlier.assert_status(StatusCode::OK)["outcome"], "clean");
    let text = auditor.get("/console/audit?lang=en").await.expect(StatusCode::OK).to_owned();
    assert!(text.contains("✗ The last check found problems: 1") && text.contains(&problem), "{text}");

    // A run three days old is flagged: it is advised daily.
    let old = sanhu_core::Timestamp::from_nanos(now.nanos() - 3 * 24 * 3600 * 1_000_000_000);
    store.record_verification(run(Vec::new(), old)).await.unwrap();
    let text = auditor.get("/console/audit?lang=zh").await.expect(StatusCode::OK).to_owned();
    assert!(text.contains("⚠ 已超过两天未校验"), "{text}");

    // A platform read: a client bound to a member is refused it.
    let bound = bound_client(&app.api.db.store, &member, "merchant").await;
    let refused = app.api.send_as(&bound, "GET", "/v1/verifications/latest", json!(null)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(["client_bound", "scope_missing"].contains(&refused.error_code()), "{}", refused.body);
});

on_both_backends!(console_lists_coupon_templates_and_issues_coupons_shown_on_the_members_page, |db| {
    let app = world_app(db).await;
    let template = json!({"name": "满80减20", "kind": "threshold", "amount": 2000, "threshold": 8000,
                          "validity": {"days_from_issue": 30}, "quantity": 100, "stacking": "coupon_then_discount"});
    let template = app.api.post("/v1/coupon-templates", template).await;
    let template = template.assert_status(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
    let (first, _) = app.api.active_member("13800138011").await;
    let (second, _) = app.api.active_member("13800138012").await;

    // Marketing: the menu, the templates, one template with its terms in words.
    let mut marketing = app.signed_in("mei.lin").await;
    let list = marketing.get("/console/coupons").await;
    let text = list.expect(StatusCode::OK);
    assert!(text.contains("href=\"/console/coupons\"") && text.contains(&template), "{text}");
    assert!(text.contains("满80减20") && text.contains("满减券") && text.contains("满 ¥80.00 减 ¥20.00"), "{text}");
    assert!(text.contains("0 / 100"), "{text}");
    let page = marketing.get(&format!("/console/coupons/{template}")).await;
    let text = page.expect(StatusCode::OK);
    assert!(
        text.contains("30 天（自发放起）") && text.contains("先用券，再打折") && text.contains("向会员发券"),
        "{text}"
    );
    assert!(text.contains("<label for=\"issue-members\">"), "{text}");

    // Issued to two members and one that does not exist: each member's result its own.
    let absent = "mem_01JD0000000000000000000000";
    let members = format!("{first}\n{second}, {absent}");
    let issued =
        marketing.post(&format!("/console/coupons/{template}/issue"), &[("key", "i1"), ("members", &members)]).await;
    let text = issued.expect(StatusCode::OK);
    assert!(text.contains("✓ 已发放 2 · ✗ 未发放 1") && text.contains("member_not_found"), "{text}");
    assert!(text.contains("2 / 100"), "{text}");
    // The same form sent twice acts once (its idempotency key); a new one meets the per-member limit.
    let again =
        marketing.post(&format!("/console/coupons/{template}/issue"), &[("key", "i1"), ("members", &members)]).await;
    assert!(again.expect(StatusCode::OK).contains("2 / 100"), "{}", again.text);
    let limit =
        marketing.post(&format!("/console/coupons/{template}/issue"), &[("key", "i2"), ("members", &first)]).await;
    assert!(limit.expect(StatusCode::OK).contains("coupon_member_limit_reached"), "{}", limit.text);

    // The member's page shows its coupons (finance reads wallets and cards).
    let mut finance = app.signed_in("li.wei").await;
    let wallet = finance.get(&format!("/console/members/{first}")).await;
    let text = wallet.expect(StatusCode::OK);
    assert!(
        text.contains("券包") && text.contains("cpn_") && text.contains("○ 未使用") && text.contains("staff:mei.lin"),
        "{text}"
    );
    assert!(text.contains(&format!("href=\"/console/coupons/{template}\"")), "{text}");
    let english = finance.get(&format!("/console/coupons/{template}?lang=en")).await;
    let text = english.expect(StatusCode::OK);
    assert!(
        text.contains("Coupon template") && text.contains("threshold") && text.contains("from ¥80.00 less ¥20.00"),
        "{text}"
    );

    // Operations holds no cards scope: no menu, no page, no coupons on the member's page, no issue.
    let mut operations = app.signed_in("yun.ying").await;
    let text = operations.get("/console").await.expect(StatusCode::OK).to_owned();
    assert!(!text.contains("href=\"/console/coupons\""), "{text}");
    operations.get("/console/coupons").await.expect(StatusCode::FORBIDDEN);
    operations.get(&format!("/console/coupons/{template}")).await.expect(StatusCode::FORBIDDEN);
    let wallet = operations.get(&format!("/console/members/{first}")).await;
    assert!(!wallet.expect(StatusCode::OK).contains("券包"), "{}", wallet.text);
    let refused =
        operations.post(&format!("/console/coupons/{template}/issue"), &[("key", "o"), ("members", &second)]).await;
    refused.expect(StatusCode::FORBIDDEN);

    // The issue is in the audit log as the staff member.
    let events = app.api.db.store.audit_events(&AuditQuery { limit: 200, ..AuditQuery::default() }).await.unwrap();
    let issues: Vec<_> = events
        .iter()
        .filter(|e| e.event.route == "/v1/coupon-templates/{id}/coupons" && e.event.status == 200)
        .map(|e| e.event.actor.as_str())
        .collect();
    assert_eq!(issues, ["staff:mei.lin", "staff:mei.lin"], "one per form that acted");
});

on_both_backends!(console_shows_webhook_endpoints_resends_a_delivery_and_disables_and_enables_one, |db| {
    use sanhu_store::webhook::{AttemptResult, AttemptSettles, StoredAttempt, WebhookStore};
    let app = world_app(db).await;
    let created =
        app.api.post("/v1/webhooks", json!({"url": "https://hooks.example.com/sanhu", "events": ["*"]})).await;
    let id = created.assert_status(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
    let other = sanhu_testkit::app::new_client(&app.api.db.store).await;
    let theirs = app
        .api
        .send_as(
            &other,
            "POST",
            "/v1/webhooks",
            json!({"url": "https://other.example.com/hook", "events": ["payment.paid"]}),
        )
        .await;
    let theirs = theirs.assert_status(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
    // Clients still reach only their own: another's is absent to them, to read or to enable.
    app.api
        .send_as(&other, "POST", &format!("/v1/webhooks/{id}/enable"), json!({}))
        .await
        .assert_error(StatusCode::NOT_FOUND, "webhook_not_found");
    app.api
        .send_as(&other, "GET", &format!("/v1/webhooks/{id}"), json!(null))
        .await
        .assert_error(StatusCode::NOT_FOUND, "webhook_not_found");
    let test = app.api.post(&format!("/v1/webhooks/{id}/test"), json!({})).await;
    let event = test.assert_status(StatusCode::ACCEPTED)["event_id"].as_str().unwrap().to_owned();
    // One attempt, answered 500, and the retries give up: the endpoint is disabled for failing.
    let store = app.api.db.store.clone();
    let now = sanhu_service::clock::now();
    let lease = sanhu_core::Timestamp::from_nanos(now.nanos() + 60_000_000_000);
    let due = store.webhook_claim_due(now, lease, 10, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    let attempt = StoredAttempt {
        seq: 0,
        subscription_id: id.clone(),
        event_id: event.clone(),
        attempt: 1,
        at: now,
        status_code: Some(500),
        latency_ms: 12,
        outcome: "failed".to_owned(),
        error: None,
        response_snippet: Some("oops".to_owned()),
    };
    store
        .webhook_settle(&[AttemptResult { attempt, settles: AttemptSettles::GaveUp, lease_until: lease }])
        .await
        .unwrap();

    // Finance: every client's endpoints, one endpoint's delivery and its attempt.
    let mut finance = app.signed_in("li.wei").await;
    let list = finance.get("/console/webhooks").await;
    let text = list.expect(StatusCode::OK);
    assert!(text.contains("href=\"/console/webhooks\"") && text.contains(&id) && text.contains(&theirs), "{text}");
    assert!(text.contains(app.api.client.id.as_str()) && text.contains("https://other.example.com/hook"), "{text}");
    assert!(text.contains("✗ 已停用 (投递持续失败)"), "{text}");
    let page = finance.get(&format!("/console/webhooks/{id}")).await;
    let text = page.expect(StatusCode::OK);
    assert!(text.contains(&event) && text.contains("webhook.test") && text.contains("✗ 已放弃"), "{text}");
    assert!(text.contains("HTTP 500") && text.contains("oops") && text.contains("12 ms"), "{text}");
    assert!(text.contains(&format!("/console/webhooks/{id}/enable")) && !text.contains("/resend\""), "{text}");

    // Enabled again by staff, then the delivery resent: pending again.
    finance
        .post(&format!("/console/webhooks/{id}/enable"), &[("key", "e1")])
        .await
        .expect_redirect(&format!("/console/webhooks/{id}?done=done"));
    let resent = finance.post(&format!("/console/webhooks/{id}/deliveries/{event}/resend"), &[("key", "r1")]).await;
    resent.expect_redirect(&format!("/console/webhooks/{id}?event={event}&done=resent"));
    let page = finance.get(&format!("/console/webhooks/{id}?event={event}&done=resent")).await;
    let text = page.expect(StatusCode::OK);
    assert!(text.contains("✓ 已重新投递") && text.contains("✓ 启用") && text.contains("… 等待中"), "{text}");
    let delivery = app.api.get(&format!("/v1/webhooks/{id}/deliveries")).await;
    assert_eq!(delivery.assert_status(StatusCode::OK)["data"][0]["status"], "pending");

    // Disabled by staff: told from the client's own.
    finance
        .post(&format!("/console/webhooks/{id}/disable"), &[("key", "d1")])
        .await
        .expect_redirect(&format!("/console/webhooks/{id}?done=done"));
    let read = app.api.get(&format!("/v1/webhooks/{id}")).await;
    let read = read.assert_status(StatusCode::OK).clone();
    assert_eq!((read["status"].as_str(), read["disabled_reason"].as_str()), (Some("disabled"), Some("by_staff")));
    assert_eq!(read["client_id"], app.api.client.id.as_str());
    assert!(finance.get(&format!("/console/webhooks/{id}")).await.text.contains("(后台停用)"));
    finance
        .post(&format!("/console/webhooks/{id}/enable"), &[("key", "e2")])
        .await
        .expect_redirect(&format!("/console/webhooks/{id}?done=done"));

    // One the client disabled itself is the client's to enable.
    app.api.post(&format!("/v1/webhooks/{id}/disable"), json!({})).await.assert_status(StatusCode::OK);
    let page = finance.get(&format!("/console/webhooks/{id}")).await;
    let text = page.expect(StatusCode::OK);
    assert!(
        text.contains("接入方自己停用了此地址") && !text.contains(&format!("/console/webhooks/{id}/enable")),
        "{text}"
    );
    let refused = finance.post(&format!("/console/webhooks/{id}/enable"), &[("key", "e3")]).await;
    assert!(refused.expect(StatusCode::CONFLICT).contains("webhook_disabled_by_client"), "{}", refused.text);
    app.api.post(&format!("/v1/webhooks/{id}/enable"), json!({})).await.assert_status(StatusCode::OK);

    // Operations reads them but acts on none (no wallet:write): no buttons, and refused.
    let mut operations = app.signed_in("yun.ying").await;
    let page = operations.get(&format!("/console/webhooks/{id}")).await;
    let text = page.expect(StatusCode::OK);
    assert!(!text.contains("/resend\"") && !text.contains("/disable\""), "{text}");
    operations.post(&format!("/console/webhooks/{id}/disable"), &[("key", "k0")]).await.expect(StatusCode::FORBIDDEN);
    // Customer service holds wallet:read, but webhooks are not its work: no menu, every page and the
    // API's own routes refused (scope_missing), whatever address is typed.
    let mut service = app.signed_in("kefu").await;
    let home = service.get("/console").await;
    assert!(!home.expect(StatusCode::OK).contains("href=\"/console/webhooks\""), "{}", home.text);
    for page in ["/console/webhooks".to_owned(), format!("/console/webhooks/{id}")] {
        service.get(&page).await.expect(StatusCode::FORBIDDEN);
    }
    for route in ["/v1/webhooks".to_owned(), format!("/v1/webhooks/{id}/deliveries")] {
        let refused = service.get(&route).await;
        assert!(refused.expect(StatusCode::FORBIDDEN).contains("scope_missing"), "{}", refused.text);
    }
    service.post(&format!("/console/webhooks/{id}/disable"), &[("key", "k1")]).await.expect(StatusCode::FORBIDDEN);
    service
        .post(&format!("/console/webhooks/{id}/deliveries/{event}/resend"), &[("key", "k2")])
        .await
        .expect(StatusCode::FORBIDDEN);
    // Staff create and change none.
    let staff_cookie = format!("sanhu_staff_session={}", finance.cookie("sanhu_staff_session").unwrap());
    let csrf = finance.cookie("sanhu_console_csrf").unwrap().to_owned();
    let request = Request::builder()
        .method("POST")
        .uri("/v1/webhooks")
        .header(header::COOKIE, staff_cookie)
        .header("x-csrf-token", csrf)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(json!({"url": "https://evil.example.com/", "events": ["*"]}).to_string()))
        .unwrap();
    let made = app.router.clone().oneshot(request).await.unwrap();
    assert!(made.status().is_client_error(), "{}", made.status());
    assert_eq!(app.api.get("/v1/webhooks").await.assert_status(StatusCode::OK)["data"].as_array().unwrap().len(), 1);

    // Each action is the staff member's in the audit log.
    let events = app
        .api
        .db
        .store
        .audit_events(&AuditQuery { actor: Some("staff:li.wei".into()), limit: 100, ..AuditQuery::default() })
        .await
        .unwrap();
    let routes: Vec<(&str, u16)> = events
        .iter()
        .filter(|e| e.event.route.starts_with("/v1/webhooks/{id}"))
        .map(|e| (e.event.route.as_str(), e.event.status))
        .collect();
    assert_eq!(
        routes,
        [
            ("/v1/webhooks/{id}/enable", 200),
            ("/v1/webhooks/{id}/deliveries/{event_id}/resend", 202),
            ("/v1/webhooks/{id}/disable", 200),
            ("/v1/webhooks/{id}/enable", 200),
            ("/v1/webhooks/{id}/enable", 409),
        ]
    );
});

/// The settlement tests' API (canteens settled monthly, two super admins: the maker and checker of
/// adjustments) as the console's, with finance, customer service and marketing staff.
async fn settlement_app(db: TestDatabase) -> App {
    let api = crate::settlements::app(db).await;
    let app = App { router: api.router.clone(), api };
    for (name, role) in
        [("li.wei", StaffRole::Finance), ("kefu", StaffRole::CustomerService), ("mei.lin", StaffRole::Marketing)]
    {
        app.api.hire(name, role).await;
    }
    app
}

on_both_backends!(console_issues_a_statement_confirms_it_pays_it_out_and_holds_an_adjustment_for_a_second, |db| {
    use crate::settlements::{canteen, commit, employee, month};
    let app = settlement_app(db).await;
    let (last, start) = month(1);
    let (_, a, receipts) = canteen(&app.api, 1).await;
    let (_, b, b_receipts) = canteen(&app.api, 2).await;
    let alice = employee(&app.api, "13800000001", start).await;
    commit(
        &app.api,
        start,
        &[
            (alice, receipts, 3_000, "pay", "M-1", "{}"),
            (alice, receipts, 1_250, "pay", "M-2", "{}"),
            (alice, b_receipts, 2_000, "pay", "M-3", "{}"),
        ],
    )
    .await;
    let mut finance = app.signed_in("li.wei").await;

    // Search first: the form alone, then a merchant's statements (none yet), then the period issued.
    let home = finance.get("/console").await;
    assert!(home.expect(StatusCode::OK).contains("href=\"/console/settlements\""), "{}", home.text);
    let empty = finance.get("/console/settlements").await;
    let text = empty.expect(StatusCode::OK);
    assert!(text.contains("商户结算单") && !text.contains("S000001") && !text.contains("没有符合条件"), "{text}");
    let none = finance.get(&format!("/console/settlements?merchant={a}")).await;
    assert!(none.expect(StatusCode::OK).contains("没有符合条件"), "{}", none.text);
    let merchant = finance.get(&format!("/console/merchants/{a}")).await;
    let text = merchant.expect(StatusCode::OK);
    assert!(text.contains(&format!("/console/settlements?merchant={a}")), "{text}");
    assert!(text.contains(&format!("/console/merchants/{a}/stores")), "{text}");
    finance
        .post(&format!("/console/settlements/{a}/issue"), &[("key", "i1"), ("period", &last)])
        .await
        .expect_redirect(&format!("/console/settlements/{a}/S000001?done=done"));
    let found = finance.get(&format!("/console/settlements?merchant={a}&period={last}&status=issued")).await;
    let text = found.expect(StatusCode::OK);
    assert!(text.contains("S000001") && text.contains("已出具") && text.contains("¥42.50"), "{text}");
    let filtered = finance.get(&format!("/console/settlements?merchant={a}&status=paid")).await;
    assert!(!filtered.expect(StatusCode::OK).contains("S000001\""), "{}", filtered.text);

    // The statement, its items; another merchant's number is absent (404), to read or to act on.
    let detail = finance.get(&format!("/console/settlements/{a}/S000001")).await;
    let text = detail.expect(StatusCode::OK);
    assert!(text.contains("M-1") && text.contains("M-2") && text.contains("收款"), "{text}");
    assert!(text.contains("/S000001/confirm\"") && text.contains("/S000001/dispute\""), "{text}");
    finance.get(&format!("/console/settlements/{b}/S000001")).await.expect(StatusCode::NOT_FOUND);
    finance
        .post(&format!("/console/settlements/{b}/S000001/confirm"), &[("key", "x1")])
        .await
        .expect(StatusCode::NOT_FOUND);
    // Without the session's CSRF token nothing is done.
    let forged =
        finance.send("POST", &format!("/console/settlements/{a}/S000001/confirm"), &[("csrf", "forged")], &[]).await;
    assert!(forged.expect(StatusCode::FORBIDDEN).contains("表单已失效"), "{}", forged.text);
    let read = app.api.get(&format!("/v1/merchants/{a}/settlements/S000001")).await;
    assert_eq!(read.assert_status(StatusCode::OK)["status"], "issued");

    // Confirmed on the merchant's behalf, paid out to the bank: reviewed, then the channel's result.
    finance
        .post(&format!("/console/settlements/{a}/S000001/confirm"), &[("key", "c1")])
        .await
        .expect_redirect(&format!("/console/settlements/{a}/S000001?done=done"));
    app.api.sign_products(&a, &["withdrawal"]).await;
    let path = format!("/console/settlements/{a}/S000001");
    finance
        .post(&format!("{path}/payout"), &[("key", "p1"), ("to", "bank")])
        .await
        .expect_redirect(&format!("{path}?done=done"));
    let page = finance.get(&path).await;
    assert!(page.expect(StatusCode::OK).contains("待审核") && page.text.contains("/S000001/review\""), "{}", page.text);
    finance
        .post(&format!("{path}/review"), &[("key", "r1"), ("decision", "approve")])
        .await
        .expect_redirect(&format!("{path}?done=done"));
    finance
        .post(&format!("{path}/result"), &[("key", "x2"), ("result", "succeeded")])
        .await
        .expect_redirect(&format!("{path}?done=done"));
    let page = finance.get(&path).await;
    assert!(page.expect(StatusCode::OK).contains("已付款"), "{}", page.text);

    // An adjustment waits for a second staff member; its maker may not approve it.
    finance
        .post(
            &format!("/console/settlements/{a}/adjustments"),
            &[("key", "a1"), ("amount", "-15"), ("reason", "少扣手续费")],
        )
        .await
        .expect_redirect(&format!("/console/settlements?merchant={a}&done=held_for_approval"));
    finance
        .post(&format!("/console/settlements/{a}/adjustments"), &[("key", "a2"), ("amount", "1.234"), ("reason", "x")])
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY);
    let mut checker = app.signed_in(sanhu_testkit::staff::CHECKER).await;
    let queue = checker.get("/console/approvals").await;
    let approval = first_approval(queue.expect(StatusCode::OK));
    let own = finance.post(&format!("/console/approvals/{approval}/approve"), &[("key", "o1")]).await;
    assert!(own.status.is_client_error(), "{}", own.text);
    let approved = checker.post(&format!("/console/approvals/{approval}/approve"), &[("key", "o2")]).await;
    assert!(approved.status.is_redirection(), "{}", approved.text);
    let waiting = app.api.db.store.audit_events(&AuditQuery { limit: 500, ..AuditQuery::default() }).await.unwrap();
    let adjusted: Vec<&str> = waiting
        .iter()
        .filter(|e| e.event.route == "/v1/merchants/{id}/settlement-adjustments" && e.event.status == 200)
        .map(|e| e.event.actor.as_str())
        .collect();
    assert_eq!(adjusted, ["staff:li.wei"], "applied as its maker's request");

    // Every action is the staff member's in the audit log.
    let events = app
        .api
        .db
        .store
        .audit_events(&AuditQuery { actor: Some("staff:li.wei".into()), limit: 200, ..AuditQuery::default() })
        .await
        .unwrap();
    let routes: Vec<(&str, u16)> = events
        .iter()
        .filter(|e| e.event.route.starts_with("/v1/merchants/{id}/settlements"))
        .map(|e| (e.event.route.as_str(), e.event.status))
        .collect();
    assert_eq!(
        routes,
        [
            ("/v1/merchants/{id}/settlements", 200),
            ("/v1/merchants/{id}/settlements/{number}/confirm", 404),
            ("/v1/merchants/{id}/settlements/{number}/confirm", 200),
            ("/v1/merchants/{id}/settlements/{number}/payout", 200),
            ("/v1/merchants/{id}/settlements/{number}/payout/review", 200),
            ("/v1/merchants/{id}/settlements/{number}/payout/result", 200),
        ]
    );

    // A disputed statement is corrected from its own page: the adjustment names it, and only its
    // re-issue takes it.
    let b_path = format!("/console/settlements/{b}/S000001");
    finance
        .post(&format!("/console/settlements/{b}/issue"), &[("key", "ib"), ("period", &last)])
        .await
        .expect_redirect(&format!("{b_path}?done=done"));
    finance
        .post(&format!("{b_path}/dispute"), &[("key", "db"), ("reason", "少记一笔")])
        .await
        .expect_redirect(&format!("{b_path}?done=done"));
    let page = finance.get(&b_path).await;
    let text = page.expect(StatusCode::OK);
    assert!(text.contains("更正本结算单") && text.contains(r#"name="statement" value="S000001""#), "{text}");
    finance
        .post(
            &format!("/console/settlements/{b}/adjustments"),
            &[("key", "ab"), ("statement", "S000001"), ("amount", "5"), ("reason", "补记一笔")],
        )
        .await
        .expect_redirect(&format!("{b_path}?done=held_for_approval"));
    let queue = checker.get("/console/approvals").await;
    let approval = first_approval(queue.expect(StatusCode::OK));
    let approved = checker.post(&format!("/console/approvals/{approval}/approve"), &[("key", "o3")]).await;
    assert!(approved.status.is_redirection(), "{}", approved.text);
    let reissued = finance.post(&format!("/console/settlements/{b}/issue"), &[("key", "ib2"), ("period", &last)]).await;
    assert!(reissued.status.is_redirection(), "{}", reissued.text);
    let list = app.api.get(&format!("/v1/merchants/{b}/settlements")).await;
    let list = list.assert_status(StatusCode::OK)["data"].as_array().unwrap().clone();
    let correction = list.iter().find(|s| s["corrects"] == "S000001").unwrap_or_else(|| panic!("{list:?}"));
    assert_eq!(correction["adjustments"], 500, "{correction}");

    // Customer service and marketing hold wallet:read, but settlements are not their work: no menu,
    // the pages and the API's routes refused.
    for name in ["kefu", "mei.lin"] {
        let mut other = app.signed_in(name).await;
        let home = other.get("/console").await;
        assert!(!home.expect(StatusCode::OK).contains("href=\"/console/settlements\""), "{}", home.text);
        let merchant = other.get(&format!("/console/merchants/{a}")).await;
        assert!(!merchant.text.contains("/console/settlements?merchant="), "{}", merchant.text);
        for page in [format!("/console/settlements?merchant={a}"), format!("/console/settlements/{a}/S000001")] {
            other.get(&page).await.expect(StatusCode::FORBIDDEN);
        }
        let refused = other.get(&format!("/v1/merchants/{a}/settlements")).await;
        assert!(refused.expect(StatusCode::FORBIDDEN).contains("scope_missing"), "{}", refused.text);
        other.post(&format!("{path}/confirm"), &[("key", "k")]).await.expect(StatusCode::FORBIDDEN);
    }
});

on_both_backends!(console_shows_a_merchants_stores_sets_a_stores_settings_and_keeps_its_terminals, |db| {
    use crate::settlements::canteen;
    let app = settlement_app(db).await;
    let (_, a, _) = canteen(&app.api, 1).await;
    let (_, b, _) = canteen(&app.api, 2).await;
    let opened = app
        .api
        .post(&format!("/v1/merchants/{a}/stores"), json!({"name": "朝阳店", "address": "北京市朝阳区某某路1号"}))
        .await;
    let store = opened.assert_status(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
    let mut ops = app.signed_in(sanhu_testkit::staff::MAKER).await;

    let list = ops.get(&format!("/console/merchants/{a}/stores")).await;
    let text = list.expect(StatusCode::OK);
    assert!(text.contains("朝阳店") && text.contains(&format!("/console/merchants/{a}/stores/{store}")), "{text}");
    let page = ops.get(&format!("/console/merchants/{a}/stores/{store}")).await;
    let text = page.expect(StatusCode::OK);
    assert!(text.contains("付款码") && text.contains("按平台要求") && text.contains("尚无终端"), "{text}");
    // Another merchant's store is absent under this one.
    ops.get(&format!("/console/merchants/{b}/stores/{store}")).await.expect(StatusCode::NOT_FOUND);
    ops.post(&format!("/console/merchants/{b}/stores/{store}/close"), &[("key", "b1"), ("reason", "x")])
        .await
        .expect(StatusCode::NOT_FOUND);

    // Its own settings: two methods and ¥50.00 without the pay password.
    let at = format!("/console/merchants/{a}/stores/{store}");
    ops.post(
        &format!("{at}/settings"),
        &[
            ("key", "s1"),
            ("payment_methods", "pay_code"),
            ("payment_methods", "card"),
            ("pay_password_free_below", "50"),
        ],
    )
    .await
    .expect_redirect(&format!("{at}?done=done"));
    let read = app.api.get(&format!("/v1/merchants/{a}/stores/{store}")).await;
    let read = read.assert_status(StatusCode::OK).clone();
    assert_eq!(
        read["own_settings"],
        json!({"payment_methods": ["pay_code", "card"], "pay_password_free_below": 5_000})
    );
    let page = ops.get(&at).await;
    assert!(page.expect(StatusCode::OK).contains("¥50.00") && page.text.contains("本门店"), "{}", page.text);
    // Given back to the merchant's.
    ops.post(&format!("{at}/settings"), &[("key", "s2")]).await.expect_redirect(&format!("{at}?done=done"));
    let read = app.api.get(&format!("/v1/merchants/{a}/stores/{store}")).await;
    assert_eq!(read.assert_status(StatusCode::OK)["own_settings"], json!({}));

    // A terminal added, then disabled; the store closed.
    ops.post(&format!("{at}/terminals"), &[("key", "t1"), ("serial", "SN-0001")])
        .await
        .expect_redirect(&format!("{at}?done=done"));
    let terminals = app.api.get(&format!("/v1/merchants/{a}/stores/{store}/terminals")).await;
    let terminal = terminals.assert_status(StatusCode::OK)["data"][0]["id"].as_str().unwrap().to_owned();
    let page = ops.get(&at).await;
    assert!(page.expect(StatusCode::OK).contains("SN-0001") && page.text.contains("/disable\""), "{}", page.text);
    ops.post(&format!("{at}/terminals/{terminal}/disable"), &[("key", "t2"), ("reason", "设备损坏")])
        .await
        .expect_redirect(&format!("{at}?done=done"));
    let page = ops.get(&at).await;
    assert!(page.expect(StatusCode::OK).contains("已停用 — 设备损坏"), "{}", page.text);
    let forged = ops.send("POST", &format!("{at}/close"), &[("csrf", "forged"), ("reason", "x")], &[]).await;
    forged.expect(StatusCode::FORBIDDEN);
    ops.post(&format!("{at}/close"), &[("key", "c1"), ("reason", "停业")])
        .await
        .expect_redirect(&format!("{at}?done=done"));
    let read = app.api.get(&format!("/v1/merchants/{a}/stores/{store}")).await;
    assert_eq!(read.assert_status(StatusCode::OK)["status"], "closed");

    // A role without parties:write reads the store but changes nothing.
    let mut finance = app.signed_in("li.wei").await;
    let page = finance.get(&at).await;
    assert!(!page.expect(StatusCode::OK).contains("/settings\" class"), "{}", page.text);
    finance
        .post(&format!("{at}/terminals"), &[("key", "f1"), ("serial", "SN-0002")])
        .await
        .expect(StatusCode::FORBIDDEN);

    let events = app
        .api
        .db
        .store
        .audit_events(&AuditQuery {
            actor: Some(format!("staff:{}", sanhu_testkit::staff::MAKER)),
            limit: 200,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    let routes: Vec<(&str, u16)> = events
        .iter()
        .filter(|e| e.event.route.starts_with("/v1/merchants/{id}/stores"))
        .map(|e| (e.event.route.as_str(), e.event.status))
        .collect();
    assert_eq!(
        routes,
        [
            ("/v1/merchants/{id}/stores/{store_id}/close", 404),
            ("/v1/merchants/{id}/stores/{store_id}/settings", 200),
            ("/v1/merchants/{id}/stores/{store_id}/settings", 200),
            ("/v1/merchants/{id}/stores/{store_id}/terminals", 201),
            ("/v1/merchants/{id}/stores/{store_id}/terminals/{terminal_id}/disable", 200),
            ("/v1/merchants/{id}/stores/{store_id}/close", 200),
        ]
    );
});

on_both_backends!(console_reports_a_card_lost_reissues_it_links_the_two_and_revokes_a_family_card, |db| {
    let cards = crate::cards::app(db).await;
    let number = cards.active_card().await;
    let app = App { router: cards.api.router.clone(), api: cards.api };
    app.api.hire("kefu", StaffRole::CustomerService).await;
    let mut finance = app.signed_in("qian.yu").await;

    // Found by its number from the cards page.
    let spaced = format!("{} {}", &number[..4], &number[4..]);
    finance
        .get(&format!("/console/card?number={}", enc(&spaced)))
        .await
        .expect_redirect(&format!("/console/cards/{number}"));
    let page = finance.get(&format!("/console/cards/{number}")).await;
    let text = page.expect(StatusCode::OK);
    assert!(text.contains("正常") && text.contains("/report-lost\"") && text.contains("/reissue\""), "{text}");
    assert!(finance.get("/console/cards/8601000000000").await.status.is_client_error());

    // Nothing without the box ticked, or without the session's CSRF token.
    let unconfirmed =
        finance.post(&format!("/console/cards/{number}/report-lost"), &[("key", "l0"), ("reason", "丢失")]).await;
    assert!(unconfirmed.expect(StatusCode::UNPROCESSABLE_ENTITY).contains("未勾选确认"), "{}", unconfirmed.text);
    let forged = finance
        .send(
            "POST",
            &format!("/console/cards/{number}/report-lost"),
            &[("csrf", "x"), ("reason", "丢失"), ("confirm", "yes")],
            &[],
        )
        .await;
    forged.expect(StatusCode::FORBIDDEN);
    let read = app.api.get(&format!("/v1/cards/{number}")).await;
    assert_eq!(read.assert_status(StatusCode::OK)["status"], "active");

    // Reported lost, then re-issued: the new card's page, each linking the other.
    finance
        .post(
            &format!("/console/cards/{number}/report-lost"),
            &[("key", "l1"), ("reason", "钱包丢了"), ("confirm", "yes")],
        )
        .await
        .expect_redirect(&format!("/console/cards/{number}?done=done"));
    let page = finance.get(&format!("/console/cards/{number}")).await;
    assert!(page.expect(StatusCode::OK).contains("已挂失") && !page.text.contains("/report-lost\""), "{}", page.text);
    let reissued = finance
        .post(&format!("/console/cards/{number}/reissue"), &[("key", "r1"), ("reason", "补卡"), ("confirm", "yes")])
        .await;
    assert_eq!(reissued.status, StatusCode::SEE_OTHER, "{}", reissued.text);
    let location = reissued.headers[header::LOCATION].to_str().unwrap().to_owned();
    let successor = location.trim_start_matches("/console/cards/").trim_end_matches("?done=done").to_owned();
    assert_ne!(successor, number);
    let new_page = finance.get(&location).await;
    let text = new_page.expect(StatusCode::OK);
    assert!(text.contains(&format!("href=\"/console/cards/{number}\"")) && text.contains("本卡是补卡"), "{text}");
    let old_page = finance.get(&format!("/console/cards/{number}")).await;
    let text = old_page.expect(StatusCode::OK);
    assert!(
        text.contains(&format!("href=\"/console/cards/{successor}\"")) && text.contains("已补卡（作废）"),
        "{text}"
    );

    // Customer service (no cards:read) neither sees the cards nor reaches them.
    let mut service = app.signed_in("kefu").await;
    service.get(&format!("/console/cards/{successor}")).await.expect(StatusCode::FORBIDDEN);
    service
        .post(&format!("/console/cards/{successor}/report-lost"), &[("key", "k1"), ("reason", "x"), ("confirm", "yes")])
        .await
        .expect(StatusCode::FORBIDDEN);

    // A family card: on the owner's page and the family member's, with its limits; revoked.
    let (alice, alice_basic) = app.api.active_member("13800000011").await;
    let (bob, _) = app.api.active_member("13800000012").await;
    let body = json!({"account_id": alice_basic, "family_member_id": bob, "per_payment_limit": 5_000, "monthly_limit": 12_000});
    let granted = app.api.post(&format!("/v1/members/{alice}/family-cards"), body).await;
    let family = granted.assert_status(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
    let wallet = finance.get(&format!("/console/members/{alice}")).await;
    assert!(
        wallet.expect(StatusCode::OK).contains(&format!("/console/members/{alice}/family-cards")),
        "{}",
        wallet.text
    );
    let owned = finance.get(&format!("/console/members/{alice}/family-cards")).await;
    let text = owned.expect(StatusCode::OK);
    assert!(
        text.contains(&family) && text.contains("¥50.00") && text.contains("¥120.00") && text.contains(&bob),
        "{text}"
    );
    let held = finance.get(&format!("/console/members/{bob}/family-cards")).await;
    assert!(held.expect(StatusCode::OK).contains(&family), "{}", held.text);
    finance
        .post(&format!("/console/family-cards/{family}/revoke"), &[("key", "f1"), ("member", &alice)])
        .await
        .expect_redirect(&format!("/console/members/{alice}/family-cards?done=done"));
    let read = app.api.get(&format!("/v1/family-cards/{family}")).await;
    assert_eq!(read.assert_status(StatusCode::OK)["status"], "revoked");

    let events = app
        .api
        .db
        .store
        .audit_events(&AuditQuery { actor: Some("staff:qian.yu".into()), limit: 200, ..AuditQuery::default() })
        .await
        .unwrap();
    let routes: Vec<(&str, u16)> = events
        .iter()
        .filter(|e| e.event.route.starts_with("/v1/cards/") || e.event.route.starts_with("/v1/family-cards/"))
        .map(|e| (e.event.route.as_str(), e.event.status))
        .collect();
    assert_eq!(
        routes,
        [
            ("/v1/cards/{number}/report-lost", 200),
            ("/v1/cards/{number}/reissue", 201),
            ("/v1/family-cards/{id}/revoke", 200),
        ]
    );
});
