//! Staff who sign in, for the tests of what staff do over the API: a server whose staff sign in with
//! cheap password hashing (these tests are about sessions and rules, not the hash's cost), staff
//! hired with a role, their sessions, and requests sent with a session's cookie and CSRF token.
//!
//! - [`TestApp::staffed`]: the wallet's server (as [`TestApp::new`]) with staff as [`config`] says and
//!   sign-ins per address far beyond what a test sends, and the staff named hired. A server of another
//!   setup: [`Setup::staff`](crate::app::Setup::staff) with [`config`], and [`http`].
//! - [`TestApp::hire`]: one more staff member, with the password [`PASSWORD`].
//! - [`TestApp::sign_in`] → [`StaffSession`] (the session's token and CSRF token);
//!   [`TestApp::sign_in_as`]: the sign-in's answer itself, with any password.
//! - [`TestApp::staff_get`], [`TestApp::staff_post`], [`TestApp::staff_send`]: a request with a
//!   session's cookie (and, but for a GET, its CSRF token); [`TestApp::staff_post_as`] signs in first.
//! - [`TestApp::held_and_approved`]: a request held for a second staff member ([`MAKER`] makes it,
//!   [`CHECKER`] approves it), and the answer it had when applied.
//! - [`TestApp::send_unsigned`]: a request with neither signature nor session but the headers given.
//!
//! The helpers the tests wrote each for themselves map onto these: `sign_in(app, name)` →
//! `app.sign_in(name)` (a [`StaffSession`] for the `(token, csrf)` pair); `staff_post(app, &session,
//! path, body)` → `app.staff_post(&session, path, body)`; `staff_post(app, name, path, body)` (signing
//! in each time) → `app.staff_post_as(name, path, body)`; `held_and_approved(app, path, body)` and a
//! review's maker and checker → `app.held_and_approved(path, body)`; an `app()` building a state
//! `.with_staff(..)` and hiring → `TestApp::staffed(db, parties, wallet, &[(name, role), ..])`.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use sanhu_core::staff::{LoginPolicy, SessionPolicy, StaffPassword, StaffRole, Username};
use sanhu_http::staff::sessions::{CSRF_HEADER, SESSION_COOKIE};
use sanhu_http::HttpConfig;
use sanhu_service::party::PartyConfig;
use sanhu_service::staff::{PasswordHashing, StaffConfig};
use sanhu_service::wallet::WalletConfig;
use sanhu_store::testing::TestDatabase;
use serde_json::{json, Value};

use crate::app::{body_bytes, send_to, Setup, TestApp, TestResponse};

/// Every test staff member's password.
pub const PASSWORD: &str = "correct horse battery staple";
/// The staff members who make a held request and approve it (maker-checker), super admins where
/// [`TestApp::staffed`] is given [`REVIEWERS`].
pub const MAKER: &str = "mei.review";
pub const CHECKER: &str = "chen.check";
/// [`MAKER`] and [`CHECKER`], super admins.
pub const REVIEWERS: [(&str, StaffRole); 2] = [(MAKER, StaffRole::SuperAdmin), (CHECKER, StaffRole::SuperAdmin)];
/// A session's idle timeout and lifetime, and the failed sign-ins that lock an account, in [`config`].
pub const IDLE_S: u32 = 600;
pub const ABSOLUTE_S: u32 = 3600;
pub const LOCKOUT_FAILURES: u32 = 3;

/// Cheap hashing, [`LOCKOUT_FAILURES`] failures to a lock (for 10 minutes), sessions of [`IDLE_S`]
/// idle and [`ABSOLUTE_S`] at most.
pub fn config() -> StaffConfig {
    StaffConfig {
        hashing: PasswordHashing { memory_kib: 256, iterations: 1, parallelism: 1 },
        login: LoginPolicy::new(LOCKOUT_FAILURES, 600).expect("a login policy"),
        session: SessionPolicy::new(IDLE_S, ABSOLUTE_S).expect("a session policy"),
    }
}

/// The HTTP configuration with sign-ins per address limited far beyond what a test sends (a test of
/// that limit lowers it).
pub fn http() -> HttpConfig {
    HttpConfig { sign_ins_per_address_burst: 10_000, ..HttpConfig::default() }
}

/// A staff member's session: the token its cookie carries, and the CSRF token the console keeps.
#[derive(Clone, Debug)]
pub struct StaffSession {
    pub token: String,
    pub csrf: String,
}

impl StaffSession {
    /// The session a sign-in's answer (201) opened: its cookie's token and its CSRF token.
    #[track_caller]
    pub fn of(answer: &TestResponse) -> StaffSession {
        let csrf = answer.assert_status(StatusCode::CREATED)["csrf_token"].as_str().expect("a CSRF token").to_owned();
        let cookie = answer.headers[header::SET_COOKIE].to_str().expect("a cookie");
        let pair = cookie.split(';').next().unwrap_or_default();
        let token = pair.strip_prefix(&format!("{SESSION_COOKIE}=")).expect("the session's cookie").to_owned();
        StaffSession { token, csrf }
    }

    /// The `Cookie` header a browser sends with the session: its cookie among another of the site's.
    pub fn cookie(&self) -> String {
        format!("theme=dark; {SESSION_COOKIE}={}", self.token)
    }
}

impl TestApp {
    /// The wallet's server ([`TestApp::new`]) with staff as [`config`] says, sign-ins as [`http`]
    /// says, and `staff` hired (username, role) with [`PASSWORD`].
    pub async fn staffed(
        db: TestDatabase,
        parties: PartyConfig,
        wallet: WalletConfig,
        staff: &[(&str, StaffRole)],
    ) -> TestApp {
        let setup = Setup { parties, http: http(), wallet: Some(wallet), staff: Some(config()) };
        let app = TestApp::start(db, setup).await;
        for (username, role) in staff {
            app.hire(username, *role).await;
        }
        app
    }

    /// A new staff member with the role given and [`PASSWORD`].
    pub async fn hire(&self, username: &str, role: StaffRole) {
        let name = Username::parse(username).expect("a username");
        let password = StaffPassword::parse(PASSWORD).expect("a password");
        let hired = self.state.staff().create(&name, role, &password).await;
        hired.unwrap_or_else(|e| panic!("hiring {username}: {e:?}"));
    }

    /// A request with neither a signature nor a session, with the headers given (Null: no body).
    pub async fn send_unsigned(&self, method: &str, path: &str, body: Value, headers: &[(&str, &str)]) -> TestResponse {
        let mut builder = Request::builder().method(method).uri(path).header("content-type", "application/json");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        send_to(&self.router, builder.body(Body::from(body_bytes(&body))).expect("a request")).await
    }

    /// The answer to signing in as `username` with `password`.
    pub async fn sign_in_as(&self, username: &str, password: &str) -> TestResponse {
        let body = json!({"username": username, "password": password});
        self.send_unsigned("POST", "/v1/staff/sessions", body, &[]).await
    }

    /// A new session of `username` (signed in with [`PASSWORD`]).
    pub async fn sign_in(&self, username: &str) -> StaffSession {
        StaffSession::of(&self.sign_in_as(username, PASSWORD).await)
    }

    /// A request of the session: its cookie, and its CSRF token but for a GET (Null: no body).
    pub async fn staff_send(&self, session: &StaffSession, method: &str, path: &str, body: Value) -> TestResponse {
        let cookie = session.cookie();
        let mut headers = vec![(header::COOKIE.as_str(), cookie.as_str())];
        if method != "GET" {
            headers.push((CSRF_HEADER, session.csrf.as_str()));
        }
        self.send_unsigned(method, path, body, &headers).await
    }

    pub async fn staff_get(&self, session: &StaffSession, path: &str) -> TestResponse {
        self.staff_send(session, "GET", path, Value::Null).await
    }

    pub async fn staff_post(&self, session: &StaffSession, path: &str, body: Value) -> TestResponse {
        self.staff_send(session, "POST", path, body).await
    }

    /// A POST of `username`, signed in for it.
    pub async fn staff_post_as(&self, username: &str, path: &str, body: Value) -> TestResponse {
        let session = self.sign_in(username).await;
        self.staff_post(&session, path, body).await
    }

    /// A POST held for a second staff member (202, made by [`MAKER`]), approved by [`CHECKER`]: the
    /// answer it had when applied (status, body).
    pub async fn held_and_approved(&self, path: &str, body: Value) -> (u16, Value) {
        let (maker, checker) = (self.sign_in(MAKER).await, self.sign_in(CHECKER).await);
        let held = self.staff_post(&maker, path, body).await;
        let approval = held.assert_status(StatusCode::ACCEPTED)["id"].as_str().expect("an approval's id").to_owned();
        let applied = self.staff_post(&checker, &format!("/v1/approvals/{approval}/approve"), json!({})).await;
        let response = applied.assert_status(StatusCode::OK)["response"].clone();
        (response["status"].as_u64().expect("a status") as u16, response["body"].clone())
    }
}
