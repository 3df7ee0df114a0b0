//! Staff over the API, every test on both backends: signing in and out, the cookie, CSRF, expiry and
//! lockout; each role against a sample of endpoints of every scope, allowed exactly where the
//! permission table says; maker-checker, refused to the maker and applied by another staff member,
//! once however many approve at once; and the audit log's staff actor.

use axum::http::{header, StatusCode};
use sanhu_core::scope::Scope;
use sanhu_core::staff::{StaffPassword, StaffRole, Username};
use sanhu_http::routes::required_scope;
use sanhu_http::HttpConfig;
use sanhu_service::party::PartyConfig;
use sanhu_service::wallet::WalletConfig;
use sanhu_store::audit::{AuditQuery, AuditStore};
use sanhu_store::staff::StaffStore;
use sanhu_testkit::app::{Setup, TestApp, TestResponse};
use sanhu_testkit::money::cny;
use sanhu_testkit::staff::{self, StaffSession, ABSOLUTE_S, IDLE_S, LOCKOUT_FAILURES, PASSWORD};
use sanhu_testkit::{on_both_backends, Backend, TestDatabase};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Sign-ins limited per address far beyond what these tests send (their own test lowers it).
async fn app(db: TestDatabase) -> TestApp {
    app_with(db, staff::http()).await
}

/// The API with an API client (for setting things up), and staff as the test kit configures them:
/// cheap hashing, [`LOCKOUT_FAILURES`] failures to a lock, sessions of [`IDLE_S`] idle and
/// [`ABSOLUTE_S`] at most.
async fn app_with(db: TestDatabase, http: HttpConfig) -> TestApp {
    let setup = Setup {
        parties: PartyConfig::default(),
        http,
        wallet: Some(WalletConfig::default_for(cny())),
        staff: Some(staff::config()),
    };
    TestApp::start(db, setup).await
}

/// A staff member's browser: the session, with the server it was opened on.
struct Console<'a> {
    app: &'a TestApp,
    session: StaffSession,
}

/// A new session of `username`.
async fn signed_in<'a>(app: &'a TestApp, username: &str) -> Console<'a> {
    Console { app, session: app.sign_in(username).await }
}

impl Console<'_> {
    async fn get(&self, path: &str) -> TestResponse {
        self.app.staff_get(&self.session, path).await
    }

    async fn post(&self, path: &str, body: Value) -> TestResponse {
        self.app.staff_post(&self.session, path, body).await
    }
}

/// A member with 500.00 in its basic account: (member, its customer, basic account).
async fn funded_member(app: &TestApp, phone: &str) -> (String, String, String) {
    let (member, account) = app.active_member(phone).await;
    app.recharge(&member, &account, 50_000, "alipay", &format!("R-{phone}")).await;
    let view = app.get(&format!("/v1/members/{member}")).await;
    let customer = view.assert_status(StatusCode::OK)["customer_id"].as_str().unwrap().to_owned();
    (member, customer, account)
}

pub(crate) fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs SQL on the test database behind the store's back (to move a session back in time); the
/// console's tests use it too.
pub(crate) async fn sql(db: &TestDatabase, statement: &str) {
    match db.backend {
        Backend::Sqlite => {
            let path = db.url.strip_prefix("sqlite://").unwrap().to_owned();
            let statement = statement.to_owned();
            tokio::task::spawn_blocking(move || rusqlite::Connection::open(path).unwrap().execute_batch(&statement))
                .await
                .unwrap()
                .unwrap();
        }
        Backend::Postgres => {
            let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(connection);
            client.batch_execute(statement).await.unwrap();
        }
    }
}

on_both_backends!(a_staff_member_signs_in_works_with_the_csrf_token_and_signs_out, |db| {
    let app = app(db).await;
    app.hire("li.wei", StaffRole::Finance).await;

    let answer = app.sign_in_as("Li.Wei", PASSWORD).await;
    let body = answer.assert_status(StatusCode::CREATED).clone();
    assert_eq!((body["username"].as_str(), body["role"].as_str()), (Some("li.wei"), Some("finance")));
    assert!(body["scopes"].as_array().unwrap().contains(&json!("admin:write")));
    assert_eq!((body["idle_timeout_s"].as_u64(), body["absolute_timeout_s"].as_u64()), (Some(600), Some(3600)));
    let cookie = answer.headers[header::SET_COOKIE].to_str().unwrap();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/;", "Max-Age=3600"] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }
    assert!(!cookie.contains("Secure"), "not configured: {cookie}");
    let token = cookie.split(';').next().unwrap().strip_prefix("sanhu_staff_session=").unwrap();
    let csrf = body["csrf_token"].as_str().unwrap();
    // The store keeps the tokens' hashes, never the tokens.
    let store = &app.db.store;
    assert!(store.staff_session(token).await.unwrap().is_none());
    let session = store.staff_session(&sha256_hex(token)).await.unwrap().expect("found by its hash");
    assert_eq!(session.csrf_hash, sha256_hex(csrf));

    let console = signed_in(&app, "li.wei").await;
    let current = console.get("/v1/staff/sessions/current").await;
    assert_eq!(current.assert_status(StatusCode::OK)["username"], "li.wei");
    assert!(current.body.get("csrf_token").is_none(), "the CSRF token is answered once");

    // Every POST of the session carries its CSRF token.
    let (member, _) = app.active_member("13800138001").await;
    let lock = format!("/v1/members/{member}/lock");
    let reason = json!({"reason": "asked by the member"});
    let cookie = console.session.cookie();
    let missing = app.send_unsigned("POST", &lock, reason.clone(), &[("cookie", &cookie)]).await;
    missing.assert_error(StatusCode::FORBIDDEN, "csrf_token_missing");
    let other = signed_in(&app, "li.wei").await;
    let headers = [("cookie", cookie.as_str()), ("x-csrf-token", other.session.csrf.as_str())];
    let wrong = app.send_unsigned("POST", &lock, reason.clone(), &headers).await;
    wrong.assert_error(StatusCode::FORBIDDEN, "csrf_token_invalid");
    let view = app.get(&format!("/v1/members/{member}")).await;
    assert_eq!(view.assert_status(StatusCode::OK)["lock_status"], "unlocked", "refused requests change nothing");

    let logout = console.post("/v1/staff/sessions/current/logout", json!({})).await;
    logout.assert_status(StatusCode::NO_CONTENT);
    assert!(logout.headers[header::SET_COOKIE].to_str().unwrap().contains("Max-Age=0"));
    console.get("/v1/staff/sessions/current").await.assert_error(StatusCode::UNAUTHORIZED, "staff_session_invalid");
    let unknown = Console { app: &app, session: StaffSession { token: "0".repeat(64), csrf: String::new() } };
    unknown.get("/v1/staff/sessions/current").await.assert_error(StatusCode::UNAUTHORIZED, "staff_session_invalid");

    // A wrong password and an unknown username get the same answer.
    app.sign_in_as("li.wei", "not the password at all")
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    app.sign_in_as("nobody", PASSWORD).await.assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    app.sign_in_as("no such name!", PASSWORD).await.assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    let bad = app.send_unsigned("POST", "/v1/staff/sessions", json!({"username": "li.wei"}), &[]).await;
    bad.assert_error(StatusCode::BAD_REQUEST, "missing_field");

    // A request with neither a signature nor a session is refused as before; an API client cannot
    // use a staff member's endpoints.
    let none = app.send_unsigned("GET", "/v1/staff/sessions/current", Value::Null, &[]).await;
    none.assert_error(StatusCode::UNAUTHORIZED, "missing_signature");
    app.get("/v1/staff/sessions/current").await.assert_error(StatusCode::FORBIDDEN, "staff_session_required");
});

on_both_backends!(sign_ins_beyond_the_limit_per_address_are_refused_and_change_nothing, |db| {
    let http = HttpConfig { sign_ins_per_address_per_min: 1, sign_ins_per_address_burst: 2, ..HttpConfig::default() };
    let app = app_with(db, http).await;
    app.hire("li.wei", StaffRole::Finance).await;
    for _ in 0..2 {
        app.sign_in_as("li.wei", "a wrong password")
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    }
    let events = app.db.store.audit_events(&AuditQuery { limit: 1000, ..AuditQuery::default() }).await.unwrap().len();
    let refused = app.sign_in_as("li.wei", PASSWORD).await;
    refused.assert_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    let retry_after: u64 = refused.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert!(refused.headers.get(header::SET_COOKIE).is_none());
    // Nothing changed: no failure counted, no audit event, no session.
    let account = app.db.store.staff_account(&Username::parse("li.wei").unwrap()).await.unwrap().unwrap();
    assert_eq!(account.guard.failures(), 2);
    assert_eq!(
        app.db.store.audit_events(&AuditQuery { limit: 1000, ..AuditQuery::default() }).await.unwrap().len(),
        events
    );
});

on_both_backends!(the_cookie_is_secure_where_configured, |db| {
    let app = app_with(db, HttpConfig { staff_cookie_secure: true, ..HttpConfig::default() }).await;
    app.hire("li.wei", StaffRole::Auditor).await;
    let answer = app.sign_in_as("li.wei", PASSWORD).await;
    answer.assert_status(StatusCode::CREATED);
    assert!(answer.headers[header::SET_COOKIE].to_str().unwrap().ends_with("; Secure"));
});

on_both_backends!(repeated_wrong_passwords_lock_the_account_for_the_lock_time, |db| {
    let app = app(db).await;
    app.hire("li.wei", StaffRole::Finance).await;
    for _ in 1..LOCKOUT_FAILURES {
        app.sign_in_as("li.wei", "a wrong password")
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    }
    // The failure that locks it, and every attempt while it is locked, even with the right password,
    // are answered exactly as an unknown username is: nobody outside can tell that li.wei exists.
    let unknown = app.sign_in_as("nobody.here", "a wrong password").await;
    unknown.assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    for password in ["a wrong password", "another wrong one", PASSWORD] {
        let locked = app.sign_in_as("li.wei", password).await;
        locked.assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
        assert_eq!(locked.body["error"]["message"], unknown.body["error"]["message"]);
        assert!(locked.headers.get(header::SET_COOKIE).is_none());
        // And so does an unknown username after as many failures.
        let still_unknown = app.sign_in_as("nobody.here", password).await;
        assert_eq!((still_unknown.status, still_unknown.code()), (locked.status, locked.code()));
    }
    let store = &app.db.store;
    let locked = store.staff_account(&Username::parse("li.wei").unwrap()).await.unwrap().unwrap();
    assert!(locked.guard.locked_until().is_some());

    // The lock runs out (moved into the past behind sanhu's back), and the right password works.
    let until = locked.guard.locked_until().unwrap().nanos() - 601 * 1_000_000_000;
    sql(&app.db, &format!("UPDATE staff_accounts SET locked_until = {until} WHERE username = 'li.wei'")).await;
    app.sign_in_as("li.wei", PASSWORD).await.assert_status(StatusCode::CREATED);
    let cleared = store.staff_account(&Username::parse("li.wei").unwrap()).await.unwrap().unwrap();
    assert_eq!(cleared.guard.failures(), 0);

    // Wrong passwords at once each count: the account ends locked.
    app.hire("wang.fang", StaffRole::Finance).await;
    let attempts = (0..2 * LOCKOUT_FAILURES).map(|_| app.sign_in_as("wang.fang", "a wrong password"));
    let answers = futures_util::future::join_all(attempts).await;
    // Each is checked, or refused beyond the hashes the server runs and queues (waiting up to a second).
    assert!(answers.iter().all(|a| matches!(a.code(), "invalid_credentials" | "rate_limited")));
    let checked = answers.iter().filter(|a| a.code() == "invalid_credentials").count() as u32;
    for _ in checked..LOCKOUT_FAILURES {
        app.sign_in_as("wang.fang", "a wrong password").await;
    }
    app.sign_in_as("wang.fang", PASSWORD).await.assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    let wang = store.staff_account(&Username::parse("wang.fang").unwrap()).await.unwrap().unwrap();
    assert!(wang.guard.locked_until().is_some(), "the failures locked it");
});

/// SQL that moves a session's sign-in `back` nanoseconds into the past, with its account's password
/// (set before it), and whatever `also` says (`{back}` in it is the amount).
fn earlier(token_hash: &str, back: i64, also: &str) -> String {
    let also = also.replace("{back}", &back.to_string());
    format!(
        "UPDATE staff_sessions SET {also}created_at = created_at - {back} WHERE token_hash = '{token_hash}'; \
         UPDATE staff_accounts SET password_set_at = password_set_at - {back}, created_at = created_at - {back};"
    )
}

on_both_backends!(a_session_ends_when_idle_at_its_lifetime_and_with_its_account, |db| {
    let app = app(db).await;
    app.hire("li.wei", StaffRole::Finance).await;
    let seconds = |s: u32| i64::from(s) * 1_000_000_000;

    let idle = signed_in(&app, "li.wei").await;
    idle.get("/v1/staff/sessions/current").await.assert_status(StatusCode::OK);
    let hash = sha256_hex(&idle.session.token);
    sql(&app.db, &earlier(&hash, seconds(IDLE_S + 1), "last_seen_at = last_seen_at - {back}, ")).await;
    idle.get("/v1/staff/sessions/current").await.assert_error(StatusCode::UNAUTHORIZED, "staff_session_expired");

    // Used all along, a session still ends at its lifetime.
    let busy = signed_in(&app, "li.wei").await;
    let hash = sha256_hex(&busy.session.token);
    sql(&app.db, &earlier(&hash, seconds(ABSOLUTE_S + 1), "")).await;
    busy.get("/v1/staff/sessions/current").await.assert_error(StatusCode::UNAUTHORIZED, "staff_session_expired");

    // A new password ends the sessions signed in before it; disabling ends them all.
    let before = signed_in(&app, "li.wei").await;
    let username = Username::parse("li.wei").unwrap();
    let password = StaffPassword::parse("another long password").unwrap();
    app.state.staff().reset_password(&username, &password).await.unwrap();
    before.get("/v1/staff/sessions/current").await.assert_error(StatusCode::UNAUTHORIZED, "staff_session_invalid");
    app.sign_in_as("li.wei", PASSWORD).await.assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    let after = app.sign_in_as("li.wei", "another long password").await;
    after.assert_status(StatusCode::CREATED);
    let cookie = after.headers[header::SET_COOKIE].to_str().unwrap();
    let token = cookie.split(';').next().unwrap().strip_prefix("sanhu_staff_session=").unwrap().to_owned();
    let after = Console { app: &app, session: StaffSession { token, csrf: String::new() } };
    assert_eq!(app.state.staff().disable(&username).await.unwrap(), 1);
    after.get("/v1/staff/sessions/current").await.assert_error(StatusCode::UNAUTHORIZED, "staff_session_invalid");
    app.sign_in_as("li.wei", "another long password").await.assert_error(StatusCode::FORBIDDEN, "staff_disabled");
    app.state.staff().enable(&username).await.unwrap();
    app.sign_in_as("li.wei", "another long password").await.assert_status(StatusCode::CREATED);
});

on_both_backends!(each_role_may_do_exactly_what_the_permission_table_says, |db| {
    let app = app(db).await;
    let (member, customer, account) = funded_member(&app, "13800138002").await;
    // One endpoint or more of every scope (each request succeeds for a role that may make it); each
    // answer is a refusal for the missing scope exactly when the role lacks it.
    let samples = |n: usize| -> Vec<(&'static str, String, Option<Value>)> {
        vec![
            ("GET", "/v1/ledger/accounts".into(), None),
            ("GET", format!("/v1/ledger/accounts/{account}/balance"), None),
            ("POST", "/v1/ledger/accounts".into(), Some(json!({"currency": "CNY"}))),
            ("GET", format!("/v1/members/{member}"), None),
            ("GET", format!("/v1/members/{member}/accounts"), None),
            ("POST", "/v1/members".into(), Some(json!({"phone": format!("1390000000{n}")}))),
            ("GET", format!("/v1/members/{member}/wallet"), None),
            ("GET", format!("/v1/members/{member}/wallet/flow"), None),
            ("POST", format!("/v1/members/{member}/wallet/deduction-order"), Some(json!({"account_ids": [account]}))),
            ("GET", format!("/v1/customers/{customer}"), None),
            ("GET", "/v1/platform-accounts".into(), None),
            ("GET", "/v1/approvals".into(), None),
            (
                "POST",
                "/v1/adjustments".into(),
                Some(json!({"adjustment_number": format!("A-{n}"),
                "account_id": account, "direction": "credit", "amount": 100, "reason": "goodwill"})),
            ),
            (
                "POST",
                "/v1/freezes".into(),
                Some(json!({"freeze_number": format!("F-{n}"), "account_id": account,
                "amount": 100, "reason": "court order"})),
            ),
            ("GET", "/v1/audit-events".into(), None),
            ("GET", "/v1/card-types".into(), None),
            (
                "POST",
                "/v1/card-segments".into(),
                Some(json!({"prefix": format!("86{n:02}"), "serial_digits": 8, "first_serial": 0,
                "last_serial": 99, "region": "北京"})),
            ),
        ]
    };
    let routes: Vec<(&str, &str)> = sanhu_http::routes::all().iter().map(|route| (route.method, route.path)).collect();
    let template = |method: &str, path: &str| -> &str {
        let matches = |route: &str| {
            let (r, p): (Vec<&str>, Vec<&str>) = (route.split('/').collect(), path.split('/').collect());
            r.len() == p.len() && r.iter().zip(&p).all(|(r, p)| r.starts_with('{') || r == p)
        };
        let found = routes.iter().filter(|(m, r)| *m == method && matches(r));
        // A literal segment beats a parameter (`/v1/approvals` is not `/v1/approvals/{id}`).
        found.min_by_key(|(_, r)| r.matches('{').count()).map(|(_, r)| *r).unwrap()
    };
    let covered: std::collections::BTreeSet<Scope> =
        samples(0).iter().map(|(method, path, _)| required_scope(method, template(method, path))).collect();
    assert_eq!(covered.len(), Scope::ALL.len(), "the samples cover every scope");

    for (n, role) in StaffRole::ALL.iter().enumerate() {
        let username = format!("staff{n}");
        app.hire(&username, *role).await;
        let console = signed_in(&app, &username).await;
        for (method, path, body) in &samples(n) {
            let scope = required_scope(method, template(method, path));
            let answer = match body {
                Some(body) => console.post(path, body.clone()).await,
                None => console.get(path).await,
            };
            if role.scopes().contains(scope) {
                assert_ne!(answer.code(), "scope_missing", "{role:?} {method} {path}: {}", answer.body);
                assert!(answer.status.is_success(), "{role:?} {method} {path}: {}", answer.body);
            } else {
                answer.assert_error(StatusCode::FORBIDDEN, "scope_missing");
            }
        }
        // Every role sees its own session and signs out.
        console.get("/v1/staff/sessions/current").await.assert_status(StatusCode::OK);
        console.post("/v1/staff/sessions/current/logout", json!({})).await.assert_status(StatusCode::NO_CONTENT);
    }
});

on_both_backends!(a_freeze_waits_for_a_second_staff_member_and_the_maker_cannot_approve_it, |db| {
    let app = app(db).await;
    let (_, customer, account) = funded_member(&app, "13800138003").await;
    app.hire("wang.ops", StaffRole::Operations).await;
    app.hire("li.finance", StaffRole::Finance).await;
    app.hire("zhao.cs", StaffRole::CustomerService).await;
    app.hire("qian.audit", StaffRole::Auditor).await;
    let (maker, checker) = (signed_in(&app, "wang.ops").await, signed_in(&app, "li.finance").await);

    let freeze = json!({"freeze_number": "F-2026-1", "account_id": account, "amount": 20_000, "reason": "court order"});
    let held = maker.post("/v1/freezes", freeze.clone()).await;
    let approval = held.assert_status(StatusCode::ACCEPTED).clone();
    assert_eq!((approval["status"].as_str(), approval["maker"].as_str()), (Some("pending"), Some("wang.ops")));
    assert_eq!((approval["route"].as_str(), approval["request"].clone()), (Some("/v1/freezes"), freeze));
    let id = approval["id"].as_str().unwrap().to_owned();
    assert_eq!(app.balance(&account).await, 50_000);
    checker.get("/v1/freezes/F-2026-1").await.assert_error(StatusCode::NOT_FOUND, "freeze_not_found");

    let approve = format!("/v1/approvals/{id}/approve");
    maker.post(&approve, json!({})).await.assert_error(StatusCode::FORBIDDEN, "approval_same_staff_member");
    let reject = format!("/v1/approvals/{id}/reject");
    maker
        .post(&reject, json!({"reason": "mine"}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "approval_same_staff_member");
    let cs = signed_in(&app, "zhao.cs").await;
    cs.post(&approve, json!({})).await.assert_error(StatusCode::FORBIDDEN, "scope_missing");
    app.post(&approve, json!({})).await.assert_error(StatusCode::FORBIDDEN, "staff_session_required");
    let auditor = signed_in(&app, "qian.audit").await;
    let pending = auditor.get("/v1/approvals?status=pending").await;
    assert_eq!(pending.assert_status(StatusCode::OK)["data"][0]["id"], id.as_str());
    auditor.post(&approve, json!({})).await.assert_error(StatusCode::FORBIDDEN, "scope_missing");

    let applied = checker.post(&approve, json!({})).await;
    let applied = applied.assert_status(StatusCode::OK).clone();
    assert_eq!((applied["status"].as_str(), applied["checker"].as_str()), (Some("applied"), Some("li.finance")));
    assert_eq!(applied["response"]["status"], 201);
    assert_eq!(applied["response"]["body"]["status"], "frozen");
    let account_view = app.get(&format!("/v1/ledger/accounts/{account}")).await;
    assert_eq!(account_view.assert_status(StatusCode::OK)["available"], 30_000);
    // Staff number orders in the back office's space, which they share: the checker finds it.
    let found = checker.get("/v1/freezes/F-2026-1").await;
    assert_eq!(found.assert_status(StatusCode::OK)["status"], "frozen");
    app.get("/v1/freezes/F-2026-1").await.assert_error(StatusCode::NOT_FOUND, "freeze_not_found");
    checker.post(&approve, json!({})).await.assert_error(StatusCode::CONFLICT, "approval_decided");
    let history = app.get(&format!("/v1/customers/{customer}/history")).await;
    assert!(history.text.contains("staff:wang.ops"), "the change is the maker's: {}", history.body);

    // An unfreeze, likewise; and one that the rules refuse when applied fails and changes nothing.
    let unfreeze = maker.post("/v1/freezes/F-2026-1/unfreeze", json!({})).await;
    let id = unfreeze.assert_status(StatusCode::ACCEPTED)["id"].as_str().unwrap().to_owned();
    let done = checker.post(&format!("/v1/approvals/{id}/approve"), json!({})).await;
    assert_eq!(done.assert_status(StatusCode::OK)["status"], "applied", "{}", done.body);
    assert_eq!(app.get(&format!("/v1/ledger/accounts/{account}")).await.body["available"], 50_000);
    let missing = maker.post("/v1/freezes/NO-SUCH/unfreeze", json!({})).await;
    let id = missing.assert_status(StatusCode::ACCEPTED)["id"].as_str().unwrap().to_owned();
    let failed = checker.post(&format!("/v1/approvals/{id}/approve"), json!({})).await;
    let failed = failed.assert_status(StatusCode::OK);
    assert_eq!((failed["status"].as_str(), failed["response"]["status"].as_u64()), (Some("failed"), Some(404)));

    // A rejected request is never applied.
    let status = json!({"status": "frozen", "reason": "suspected fraud"});
    let held = maker.post(&format!("/v1/customers/{customer}/status"), status).await;
    let id = held.assert_status(StatusCode::ACCEPTED)["id"].as_str().unwrap().to_owned();
    let rejected = checker.post(&format!("/v1/approvals/{id}/reject"), json!({"reason": "no evidence"})).await;
    let rejected = rejected.assert_status(StatusCode::OK);
    assert_eq!((rejected["status"].as_str(), rejected["reason"].as_str()), (Some("rejected"), Some("no evidence")));
    checker
        .post(&format!("/v1/approvals/{id}/approve"), json!({}))
        .await
        .assert_error(StatusCode::CONFLICT, "approval_decided");
    let view = app.get(&format!("/v1/customers/{customer}")).await;
    assert_eq!(view.assert_status(StatusCode::OK)["customer"]["status"], "normal");

    // An API client's freeze is applied at once: the platform's system answers for its own controls.
    let direct = json!({"freeze_number": "F-API", "account_id": account, "amount": 100, "reason": "court order"});
    app.post("/v1/freezes", direct).await.assert_status(StatusCode::CREATED);
});

on_both_backends!(a_large_adjustment_made_by_staff_is_approved_by_another, |db| {
    let app = app(db).await;
    let (_, _, account) = funded_member(&app, "13800138004").await;
    app.hire("li.finance", StaffRole::Finance).await;
    app.hire("sun.finance", StaffRole::Finance).await;
    let (maker, checker) = (signed_in(&app, "li.finance").await, signed_in(&app, "sun.finance").await);
    let adjustment = json!({"adjustment_number": "ADJ-1", "account_id": account, "direction": "credit",
                            "amount": 200_000, "reason": "compensation"});
    let named = json!({"adjustment_number": "ADJ-2", "account_id": account, "direction": "credit",
                       "amount": 200_000, "reason": "compensation", "acting_staff": "sun.finance"});
    maker.post("/v1/adjustments", named).await.assert_error(StatusCode::BAD_REQUEST, "invalid_field");
    let made = maker.post("/v1/adjustments", adjustment).await;
    let made = made.assert_status(StatusCode::CREATED);
    assert_eq!(
        (made["status"].as_str(), made["maker"].as_str()),
        (Some("awaiting_approval"), Some("staff:li.finance"))
    );
    maker
        .post("/v1/adjustments/ADJ-1/approve", json!({}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "adjustment_same_actor");
    let approved = checker.post("/v1/adjustments/ADJ-1/approve", json!({})).await;
    let approved = approved.assert_status(StatusCode::OK);
    assert_eq!(
        (approved["status"].as_str(), approved["checker"].as_str()),
        (Some("applied"), Some("staff:sun.finance"))
    );
    assert_eq!(app.balance(&account).await, 250_000);
});

on_both_backends!(checkers_approving_at_once_apply_the_request_once, |db| {
    let app = app(db).await;
    let (_, _, account) = funded_member(&app, "13800138005").await;
    app.hire("wang.ops", StaffRole::Operations).await;
    app.hire("li.finance", StaffRole::Finance).await;
    app.hire("sun.finance", StaffRole::Finance).await;
    let maker = signed_in(&app, "wang.ops").await;
    let checkers = [signed_in(&app, "li.finance").await, signed_in(&app, "sun.finance").await];
    for round in 0..3 {
        let freeze = json!({"freeze_number": format!("F-{round}"), "account_id": account, "amount": 1_000,
                            "reason": "court order"});
        let id = maker.post("/v1/freezes", freeze).await.assert_status(StatusCode::ACCEPTED)["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let path = format!("/v1/approvals/{id}/approve");
        let approvals = (0..4).map(|n| checkers[n % 2].post(&path, json!({})));
        for answer in futures_util::future::join_all(approvals).await {
            let settled = answer.status == StatusCode::OK && answer.body["status"] == "applied";
            let waiting = matches!(answer.code(), "approval_in_progress" | "approval_decided" | "concurrent_change");
            assert!(settled || waiting, "{}", answer.body);
        }
        // Whatever answered, approving once more settles it, and the money was frozen once.
        let last = checkers[0].get(&format!("/v1/approvals/{id}")).await;
        let last = if last.body["status"] == "applying" { checkers[0].post(&path, json!({})).await } else { last };
        assert_eq!(last.assert_status(StatusCode::OK)["status"], "applied");
        let view = app.get(&format!("/v1/ledger/accounts/{account}")).await;
        assert_eq!(view.body["available"], 50_000 - 1_000 * (round + 1), "round {round}");
    }
    app.verify_clean().await;
});

on_both_backends!(the_audit_log_records_staff_as_the_actor, |db| {
    let app = app(db).await;
    let (member, _, account) = funded_member(&app, "13800138006").await;
    app.hire("wang.ops", StaffRole::Operations).await;
    app.hire("li.finance", StaffRole::Finance).await;
    app.sign_in_as("li.finance", "a wrong password").await;
    let (maker, checker) = (signed_in(&app, "wang.ops").await, signed_in(&app, "li.finance").await);
    maker
        .post(&format!("/v1/members/{member}/lock"), json!({"reason": "lost phone"}))
        .await
        .assert_status(StatusCode::OK);
    let freeze = json!({"freeze_number": "F-A", "account_id": account, "amount": 100, "reason": "court order"});
    let id =
        maker.post("/v1/freezes", freeze).await.assert_status(StatusCode::ACCEPTED)["id"].as_str().unwrap().to_owned();
    checker.post(&format!("/v1/approvals/{id}/approve"), json!({})).await.assert_status(StatusCode::OK);

    let events = app.get("/v1/audit-events?actor=staff:wang.ops").await;
    let events = events.assert_status(StatusCode::OK)["data"].as_array().unwrap().clone();
    let routes: Vec<&str> = events.iter().map(|e| e["route"].as_str().unwrap()).collect();
    assert_eq!(routes, ["/v1/staff/sessions", "/v1/members/{id}/lock", "/v1/freezes", "/v1/freezes"]);
    assert_eq!(events[0]["changes"], json!({"username": "wang.ops"}), "never the password");
    assert_eq!((events[2]["status"].as_u64(), events[3]["status"].as_u64()), (Some(202), Some(201)));

    let sign_ins = app.get("/v1/audit-events?actor=staff:li.finance&route=/v1/staff/sessions").await;
    let sign_ins = sign_ins.assert_status(StatusCode::OK)["data"].as_array().unwrap().clone();
    let codes: Vec<Value> = sign_ins.iter().map(|e| e["error_code"].clone()).collect();
    assert_eq!(codes, [json!("invalid_credentials"), Value::Null]);
    assert!(!sign_ins.iter().any(|e| e.to_string().contains("wrong password")));

    // An approval's events are found by its id: asked, approved, applied.
    let trail = app.get(&format!("/v1/audit-events?target_id={id}")).await;
    let trail = trail.assert_status(StatusCode::OK)["data"].as_array().unwrap().clone();
    let who: Vec<(&str, &str)> =
        trail.iter().map(|e| (e["actor"].as_str().unwrap(), e["route"].as_str().unwrap())).collect();
    assert_eq!(
        who,
        [
            ("staff:wang.ops", "/v1/freezes"),
            ("staff:wang.ops", "/v1/freezes"),
            ("staff:li.finance", "/v1/approvals/{id}/approve")
        ]
    );
});

on_both_backends!(a_merchant_approval_by_staff_waits_for_a_second_staff_member, |db| {
    let app = app(db).await;
    let company = json!({
        "name": "某某科技有限公司", "credit_code": sanhu_testkit::ids::CREDIT_CODE, "legal_person": "张三",
        "legal_person_certificate_number": sanhu_testkit::ids::ID_CARD, "contact": "李四",
        "contact_phone": "13912345678", "industry": "I642", "licence_expiry": "2035-06-30",
        "address": "北京市海淀区某某路1号"
    });
    let registered = app
        .post(
            "/v1/enterprises",
            json!({"email": "f@example.com", "company": company, "admin": {"phone": "13900000001"}}),
        )
        .await;
    let member = registered.assert_status(StatusCode::CREATED)["member"]["id"].as_str().unwrap().to_owned();
    app.activate(&member).await;
    let opening = json!({
        "member_id": member, "merchant_type": "enterprise", "name": "某某咖啡",
        "scenario": {"kind": "app", "url": "https://example.cn/app"}, "contact": {"name": "李四", "phone": "13912345678"},
        "business": {"registered_name": "某某科技有限公司", "credit_code": sanhu_testkit::ids::CREDIT_CODE}
    });
    let opened = app.post("/v1/merchants", opening).await;
    let path = format!("/v1/merchants/{}", opened.assert_status(StatusCode::CREATED)["id"].as_str().unwrap());
    let documents = json!({"licence_number": sanhu_testkit::ids::CREDIT_CODE, "premises_photos": ["file:p"],
                           "legal_person": {"name": "张三", "certificate_number": sanhu_testkit::ids::ID_CARD}});
    app.post(&format!("{path}/documents"), documents).await.assert_status(StatusCode::OK);
    let account = json!({"kind": "corporate", "account_name": "某某科技有限公司", "account_number": "110000000001",
                         "bank_code": "102", "branch_code": "102100000012"});
    app.post(&format!("{path}/settlement-account"), account).await.assert_status(StatusCode::OK);
    let verification = json!({"verified": true, "account_number": "110000000001"});
    app.post(&format!("{path}/settlement-account/verification"), verification).await.assert_status(StatusCode::OK);
    app.post(&format!("{path}/submit"), json!({})).await.assert_status(StatusCode::OK);

    app.hire("wang.ops", StaffRole::Operations).await;
    app.hire("li.finance", StaffRole::Finance).await;
    let (maker, checker) = (signed_in(&app, "wang.ops").await, signed_in(&app, "li.finance").await);
    let held = maker.post(&format!("{path}/review"), json!({"decision": "approve"})).await;
    let id = held.assert_status(StatusCode::ACCEPTED)["id"].as_str().unwrap().to_owned();
    assert_eq!(app.get(&path).await.assert_status(StatusCode::OK)["status"], "under_review");
    let approve = format!("/v1/approvals/{id}/approve");
    maker.post(&approve, json!({})).await.assert_error(StatusCode::FORBIDDEN, "approval_same_staff_member");
    let applied = checker.post(&approve, json!({})).await.assert_status(StatusCode::OK).clone();
    assert_eq!((applied["status"].as_str(), applied["response"]["status"].as_u64()), (Some("applied"), Some(200)));
    let merchant = app.get(&path).await.assert_status(StatusCode::OK).clone();
    assert_eq!(merchant["status"], "active");
    assert_eq!(merchant["reviews"][0]["by"], "staff:wang.ops", "the maker's decision");
    assert_eq!(merchant["reviews"][0]["checker"], "staff:li.finance", "and its checker");
    assert_eq!(merchant["accounts"].as_array().unwrap().len(), 2);
});
