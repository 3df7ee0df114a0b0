//! Enterprises, operators and members' security over HTTP, end to end, on SQLite and on PostgreSQL:
//! an enterprise with an admin and a cashier limited to one account; login identities, phone changes,
//! one-time codes, bank cards (never the full number, never the CVV) and pay passwords (locked after 5
//! wrong tries). Requests are signed as a client signs them and sent through the router.

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use ed25519_dalek::SigningKey;
use http_body_util::BodyExt;
use sanhu_core::id::ClientTag;
use sanhu_core::party::PayPasswordPolicy;
use sanhu_http::signature;
use sanhu_http::{router, AppState, HttpConfig};
use sanhu_service::party::{Parties, PartyConfig, PayPasswordHashing};
use sanhu_service::{clock, Ledger, LedgerConfig};
use sanhu_store::on_both_backends;
use sanhu_store::testing::TestDatabase;
use sanhu_store::ApiClient;
use serde_json::{json, Value};
use tower::ServiceExt;

const ID_CARD: &str = "110101199003071233";
const CREDIT_CODE: &str = "91110108MA01ABCD0B";
const CARD: &str = "6222 0200 0000 0000 018";
const CARD_DIGITS: &str = "6222020000000000018";
const PAY_PASSWORD: &str = "135790";

/// A server over a fresh database, with one API client whose key the test holds.
struct TestApp {
    _db: TestDatabase,
    router: Router,
    client_id: String,
    key: SigningKey,
}

struct TestResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
    text: String,
}

impl TestResponse {
    #[track_caller]
    fn assert_status(&self, expected: StatusCode) -> &Value {
        assert_eq!(self.status, expected, "{}", self.body);
        &self.body
    }

    #[track_caller]
    fn assert_error(&self, status: StatusCode, code: &str) {
        let actual = self.body["error"]["code"].as_str().unwrap_or_else(|| panic!("not an error: {}", self.body));
        assert_eq!((self.status, actual), (status, code), "{}", self.body);
        let request_id = self.headers.get("x-request-id").expect("X-Request-Id").to_str().unwrap();
        assert_eq!(self.body["error"]["request_id"], request_id);
    }
}

impl TestApp {
    async fn new(db: TestDatabase) -> TestApp {
        let ledger = Ledger::start(db.store.clone(), LedgerConfig::default());
        // Cheap hashing (these tests hash often); the lock after 5 wrong tries, as by default.
        let config = PartyConfig {
            pay_password: PayPasswordPolicy::new(5, 60).unwrap(),
            pay_password_hashing: PayPasswordHashing { memory_kib: 256, iterations: 1, parallelism: 1 },
            ..PartyConfig::default()
        };
        let parties = Parties::new(db.store.clone(), config);
        let key = SigningKey::from_bytes(&clock::random_bytes());
        let client_id = clock::new_id::<ClientTag>().to_string();
        let client = ApiClient::new(client_id.clone(), "test".to_owned(), key.verifying_key().to_bytes(), clock::now());
        use sanhu_store::AccessStore;
        db.store.create_client(&client).await.expect("create the API client");
        let router = router(AppState::new(ledger, parties, HttpConfig::default()));
        TestApp { _db: db, router, client_id, key }
    }

    async fn send_with(&self, method: &str, path: &str, body: &[u8], extra: &[(&str, &str)]) -> TestResponse {
        let now_s = clock::now().nanos() / 1_000_000_000;
        let headers = signature::sign(&self.key, method, path, body, now_s, &signature::new_nonce());
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .header("content-length", body.len());
        for (name, value) in headers.with_client(&self.client_id) {
            builder = builder.header(name, value);
        }
        for (name, value) in extra {
            builder = builder.header(*name, *value);
        }
        let request = builder.body(Body::from(body.to_vec())).unwrap();
        let response = self.router.clone().oneshot(request).await.expect("the router is infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.expect("read the body").to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).expect("JSON") };
        assert!(status.as_u16() != 500, "no request in these tests should be a 500: {body}");
        TestResponse { status, headers, body, text }
    }

    async fn get(&self, path: &str) -> TestResponse {
        self.send_with("GET", path, b"", &[]).await
    }

    async fn post(&self, path: &str, body: Value) -> TestResponse {
        self.send_with("POST", path, body.to_string().as_bytes(), &[]).await
    }

    /// A POST of a body exactly as written (a number serde_json would write otherwise, say).
    async fn post_raw(&self, path: &str, body: &str) -> TestResponse {
        self.send_with("POST", path, body.as_bytes(), &[]).await
    }

    /// Registers a personal member by phone; returns its id.
    async fn register(&self, phone: &str) -> String {
        let registered = self.post("/v1/members", json!({"phone": phone})).await;
        registered.assert_status(StatusCode::CREATED)["member"]["id"].as_str().unwrap().to_owned()
    }

    /// Gives a member the verified real name `name`.
    async fn real_name(&self, member: &str, name: &str) {
        let body = json!({"type": "id_card", "channel": "police_id_check", "name": name,
                          "certificate_type": "id_card", "certificate_number": ID_CARD, "result": "verified"});
        self.post(&format!("/v1/members/{member}/authentications"), body).await.assert_status(StatusCode::CREATED);
    }
}

fn company() -> Value {
    json!({
        "name": "某某科技有限公司",
        "credit_code": CREDIT_CODE,
        "legal_person": "张三",
        "legal_person_certificate_number": ID_CARD,
        "contact": "李四",
        "contact_phone": "13912345678",
        "industry": "I642",
        "licence_expiry": "2035-06-30",
        "address": "北京市海淀区某某路1号"
    })
}

fn id_of(body: &Value) -> String {
    body["id"].as_str().unwrap_or_else(|| panic!("no id in {body}")).to_owned()
}

on_both_backends!(an_enterprise_with_an_admin_and_a_cashier_limited_to_one_account, |db| {
    let app = TestApp::new(db).await;

    // Registered with its company details and its first admin, all at once.
    let registered = app
        .post(
            "/v1/enterprises",
            json!({"email": "finance@example.com", "company": company(),
                                        "admin": {"phone": "13900000001"}}),
        )
        .await;
    assert!(!registered.text.contains(ID_CARD), "{}", registered.text);
    let registered = registered.assert_status(StatusCode::CREATED).clone();
    let member = id_of(&registered["member"]);
    let admin = id_of(&registered["admin"]);
    assert!(admin.starts_with("opr_"));
    assert_eq!(
        (registered["member"]["kind"].clone(), registered["customer"]["kind"].clone()),
        (json!("enterprise"), json!("enterprise"))
    );
    assert_eq!(registered["customer"]["name"], "某某科技有限公司");
    // The credit code is only claimed: no certificate until a verified business licence.
    assert_eq!(registered["customer"]["certificate"], Value::Null);
    assert_eq!(registered["company"]["credit_code"]["masked_number"], "911***********CD0B");
    assert!(!registered.to_string().contains(CREDIT_CODE), "no answer shows a certificate number whole");
    assert_eq!(registered["company"]["legal_person_certificate"]["type"], "id_card");
    assert_eq!(registered["company"]["licence_valid"], true);
    assert_eq!(
        (registered["admin"]["role"].clone(), registered["admin"]["status"].clone()),
        (json!("admin"), json!("active"))
    );
    let company_read = app.get(&format!("/v1/members/{member}/company")).await.assert_status(StatusCode::OK).clone();
    assert_eq!(company_read["company"]["name"], "某某科技有限公司");
    assert_eq!(company_read["company"]["licence_expiry"], "2035-06-30");
    app.post(
        "/v1/enterprises",
        json!({"email": "other@example.com", "company": company(), "admin": {"phone": "13900000001"}}),
    )
    .await
    .assert_error(StatusCode::CONFLICT, "identity_taken");
    let mut bad_company = company();
    bad_company["industry"] = json!("Z99");
    app.post(
        "/v1/enterprises",
        json!({"email": "x@example.com", "company": bad_company, "admin": {"phone": "13900000009"}}),
    )
    .await
    .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "industry_invalid");

    // Active, with two accounts.
    let activated = app.post(&format!("/v1/members/{member}/activate"), json!({})).await;
    let basic = id_of(&activated.assert_status(StatusCode::OK)["accounts"][0]);
    let opened = app.post(&format!("/v1/members/{member}/accounts"), json!({"account_type": "settlement"})).await;
    let settlement = id_of(opened.assert_status(StatusCode::CREATED));

    // The admin adds a cashier, grants it pay on the basic account only, with limits.
    let added = app
        .post(
            &format!("/v1/members/{member}/operators"),
            json!({"role": "cashier", "phone": "13900000002", "reason": "new hire", "acting_operator_id": admin}),
        )
        .await;
    let cashier = id_of(added.assert_status(StatusCode::CREATED));
    let granted = app
        .post(
            &format!("/v1/operators/{cashier}/grants"),
            json!({"account_id": basic, "operations": ["pay"], "reason": "till", "acting_operator_id": admin}),
        )
        .await;
    assert_eq!(granted.assert_status(StatusCode::OK)["grants"], json!([{"account_id": basic, "operations": ["pay"]}]));
    let limited = app
        .post(
            &format!("/v1/operators/{cashier}/limits"),
            json!({"limits": {"currency": "CNY", "per_transaction": 10_000, "per_day": 15_000},
                     "reason": "policy", "acting_operator_id": admin}),
        )
        .await;
    assert_eq!(
        limited.assert_status(StatusCode::OK)["limits"],
        json!({"currency": "CNY", "per_transaction": 10_000, "per_day": 15_000})
    );
    let listed = app.get(&format!("/v1/members/{member}/operators")).await.assert_status(StatusCode::OK).clone();
    assert_eq!(listed["data"].as_array().unwrap().len(), 2);
    let found = app.get("/v1/operators?phone=13900000002").await.assert_status(StatusCode::OK).clone();
    assert_eq!(found["data"][0]["id"], cashier.as_str());
    let none = app.get("/v1/operators?email=finance@example.com").await.assert_status(StatusCode::OK).clone();
    assert_eq!(none["data"], json!([]), "a member's identity is not an operator's");
    let got = app.get(&format!("/v1/operators/{cashier}")).await.assert_status(StatusCode::OK).clone();
    assert_eq!((got["role"].clone(), got["member_id"].clone()), (json!("cashier"), json!(member)));

    // Within the limit: allowed; above: refused; another account: not authorised.
    let authorise = format!("/v1/operators/{cashier}/authorise");
    let allowed = app
        .post(&authorise, json!({"account_id": basic, "operation": "pay", "amount": 5_000, "currency": "CNY"}))
        .await;
    let allowed = allowed.assert_status(StatusCode::OK).clone();
    assert_eq!((allowed["allowed"].clone(), allowed["spent_today"].clone()), (json!(true), json!(5_000)));
    app.post(&authorise, json!({"account_id": basic, "operation": "pay", "amount": 10_001}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "operator_limit_per_transaction");
    app.post(&authorise, json!({"account_id": settlement, "operation": "pay", "amount": 100}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "operator_not_authorised");
    app.post(&authorise, json!({"account_id": basic, "operation": "withdraw", "amount": 100}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "operator_not_authorised");
    app.post(&authorise, json!({"account_id": basic, "operation": "pay", "amount": 9_000}))
        .await
        .assert_status(StatusCode::OK);
    app.post(&authorise, json!({"account_id": basic, "operation": "pay", "amount": 2_000}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "operator_limit_per_day");
    app.post(&authorise, json!({"account_id": basic, "operation": "pay", "amount": 100, "currency": "USD"}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "currency_mismatch");
    app.post(&authorise, json!({"account_id": basic, "operation": "view", "amount": 1}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_field");
    app.post(&authorise, json!({"account_id": basic, "operation": "pay"}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "missing_field");

    // A cashier manages no one; a role that would not allow its grants is refused until revoked.
    app.post(
        &format!("/v1/members/{member}/operators"),
        json!({"role": "staff", "reason": "x", "acting_operator_id": cashier}),
    )
    .await
    .assert_error(StatusCode::FORBIDDEN, "operator_not_admin");
    let role = format!("/v1/operators/{cashier}/role");
    app.post(&role, json!({"role": "staff", "reason": "demoted"}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "operation_not_allowed_for_role");
    app.post(&role, json!({"role": "boss", "reason": "x"}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_role");
    app.post(
        &format!("/v1/operators/{cashier}/grants"),
        json!({"account_id": basic, "operations": ["steal"], "reason": "x"}),
    )
    .await
    .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_operation");
    let revoked = app
        .post(
            &format!("/v1/operators/{cashier}/grants/revoke"),
            json!({"account_id": basic, "reason": "moved", "acting_operator_id": admin}),
        )
        .await;
    assert_eq!(revoked.assert_status(StatusCode::OK)["grants"], json!([]));
    assert_eq!(
        app.post(&role, json!({"role": "staff", "reason": "demoted"})).await.assert_status(StatusCode::OK)["role"],
        "staff"
    );
    let cleared = app.post(&format!("/v1/operators/{cashier}/limits"), json!({"limits": null, "reason": "none"})).await;
    assert_eq!(cleared.assert_status(StatusCode::OK)["limits"], Value::Null);
    app.post(&format!("/v1/operators/{cashier}/limits"), json!({"reason": "none"}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "missing_field");
    app.post(
        &format!("/v1/operators/{cashier}/limits"),
        json!({"limits": {"currency": "CNY", "per_transaction": 10, "per_day": 5}, "reason": "x"}),
    )
    .await
    .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "operator_limits_inconsistent");

    // Disabled, enabled; the last admin is kept.
    let disabled = app.post(&format!("/v1/operators/{cashier}/disable"), json!({"reason": "on leave"})).await;
    assert_eq!(disabled.assert_status(StatusCode::OK)["status"], "disabled");
    app.post(&authorise, json!({"account_id": basic, "operation": "view"}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "operator_disabled");
    let enabled = app.post(&format!("/v1/operators/{cashier}/enable"), json!({"reason": "back"})).await;
    assert_eq!(enabled.assert_status(StatusCode::OK)["status"], "active");
    app.post(&format!("/v1/operators/{cashier}/enable"), json!({"reason": "again"}))
        .await
        .assert_error(StatusCode::CONFLICT, "operator_status_unchanged");
    app.post(&format!("/v1/operators/{admin}/remove"), json!({"reason": "leaving"}))
        .await
        .assert_error(StatusCode::CONFLICT, "last_admin");
    app.post(&format!("/v1/operators/{admin}/disable"), json!({"reason": "x", "acting_operator_id": admin}))
        .await
        .assert_error(StatusCode::CONFLICT, "last_admin");
    let removed = app
        .post(&format!("/v1/operators/{cashier}/remove"), json!({"reason": "left", "acting_operator_id": admin}))
        .await;
    let removed = removed.assert_status(StatusCode::OK).clone();
    assert_eq!((removed["status"].clone(), removed["identities"].clone()), (json!("removed"), json!([])));
    // Its phone is free again.
    app.register("13900000002").await;

    // An operator's own pay password.
    let pay_password = format!("/v1/operators/{admin}/pay-password");
    let set = app.post(&pay_password, json!({"pay_password": PAY_PASSWORD})).await;
    assert_eq!(set.assert_status(StatusCode::CREATED)["outcome"], "set");
    let verified = app.post(&format!("{pay_password}/verify"), json!({"pay_password": PAY_PASSWORD})).await;
    assert_eq!(verified.assert_status(StatusCode::OK)["owner_id"], admin.as_str());
    let changed = app
        .post(
            &format!("{pay_password}/change"),
            json!({"current_pay_password": PAY_PASSWORD, "new_pay_password": "246810"}),
        )
        .await;
    assert_eq!(changed.assert_status(StatusCode::OK)["outcome"], "changed");

    // The history names the admin as the actor of what it did.
    let customer = registered["customer"]["id"].as_str().unwrap();
    let history = app.get(&format!("/v1/customers/{customer}/history")).await.assert_status(StatusCode::OK).clone();
    let granted = history["data"].as_array().unwrap().iter().find(|h| h["action"] == "operator.granted").unwrap();
    assert_eq!(granted["actor"], format!("operator:{admin}"));
    assert!(!history.to_string().contains(PAY_PASSWORD));

    // A personal member has no company; ids are checked.
    let personal = app.register("13900000003").await;
    app.get(&format!("/v1/members/{personal}/company"))
        .await
        .assert_error(StatusCode::CONFLICT, "member_not_enterprise");
    app.post(&format!("/v1/members/{personal}/operators"), json!({"role": "staff", "reason": "x"}))
        .await
        .assert_error(StatusCode::CONFLICT, "member_not_enterprise");
    app.get(&format!("/v1/operators/{member}")).await.assert_error(StatusCode::BAD_REQUEST, "invalid_id");
    app.get("/v1/operators/opr_01JD7S0M8R4Y3V6QF2K9N5X1TB")
        .await
        .assert_error(StatusCode::NOT_FOUND, "operator_not_found");
    app.post(
        &format!("/v1/operators/{admin}/grants"),
        json!({"account_id": basic, "operations": [], "reason": "x", "acting_operator_id": member}),
    )
    .await
    .assert_error(StatusCode::BAD_REQUEST, "invalid_id");
    app.get("/v1/operators").await.assert_error(StatusCode::BAD_REQUEST, "missing_parameter");
});

on_both_backends!(login_identities_and_a_phone_change_that_needs_both_codes, |db| {
    let app = TestApp::new(db).await;
    let member = app.register("13800000001").await;
    let identities = format!("/v1/members/{member}/identities");

    let added = app.post(&identities, json!({"email": "zhang@example.com"})).await;
    assert_eq!(added.assert_status(StatusCode::CREATED)["identities"].as_array().unwrap().len(), 2);
    app.post(&identities, json!({"nickname": "zhang_san"})).await.assert_status(StatusCode::CREATED);
    let other = app.register("13800000009").await;
    app.post(&format!("/v1/members/{other}/identities"), json!({"email": "ZHANG@example.com"}))
        .await
        .assert_error(StatusCode::CONFLICT, "identity_taken");
    let removed = app.post(&format!("{identities}/remove"), json!({"nickname": "zhang_san"})).await;
    assert_eq!(removed.assert_status(StatusCode::OK)["identities"].as_array().unwrap().len(), 2);
    app.post(&format!("{identities}/remove"), json!({"nickname": "zhang_san"}))
        .await
        .assert_error(StatusCode::NOT_FOUND, "identity_not_found");
    let listed = app.get(&identities).await.assert_status(StatusCode::OK).clone();
    assert_eq!(listed["data"][0]["kind"], "phone");
    assert!(!listed.to_string().contains("13800000001"));

    // A phone change: a code to each number; both verified before it completes.
    let change = format!("/v1/members/{member}/phone-change");
    let started = app.post(&change, json!({"old_phone": "13800000001", "new_phone": "13800000002"})).await;
    let started = started.assert_status(StatusCode::CREATED).clone();
    let old_code = started["old_code"]["code"].as_str().unwrap().to_owned();
    let new_code = started["new_code"]["code"].as_str().unwrap().to_owned();
    assert_eq!(started["old_code"]["purpose"], "phone_change_old");
    assert_eq!(started["new_code"]["target"]["kind"], "phone");
    app.post(&format!("{change}/complete"), json!({}))
        .await
        .assert_error(StatusCode::CONFLICT, "phone_change_unverified");
    let wrong = if new_code == "000000" { "000001" } else { "000000" };
    app.post(&format!("{change}/verify"), json!({"phone": "13800000002", "code": wrong}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "code_incorrect");
    app.post(&format!("{change}/verify"), json!({"phone": "13800000003", "code": new_code}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "phone_change_code_mismatch");
    let progress = app.post(&format!("{change}/verify"), json!({"phone": "13800000001", "code": old_code})).await;
    let progress = progress.assert_status(StatusCode::OK).clone();
    assert_eq!((progress["old_verified"].clone(), progress["new_verified"].clone()), (json!(true), json!(false)));
    app.post(&format!("{change}/complete"), json!({}))
        .await
        .assert_error(StatusCode::CONFLICT, "phone_change_unverified");
    let progress = app.post(&format!("{change}/verify"), json!({"phone": "13800000002", "code": new_code})).await;
    assert_eq!(progress.assert_status(StatusCode::OK)["new_verified"], true);
    let completed = app.send_with("POST", &format!("{change}/complete"), b"", &[]).await;
    let completed = completed.assert_status(StatusCode::OK).clone();
    assert_eq!(completed["identities"][0]["masked"], "138****0002");
    app.post(&format!("{change}/complete"), json!({}))
        .await
        .assert_error(StatusCode::NOT_FOUND, "phone_change_not_found");
    // The old number is free, the new one taken.
    app.register("13800000001").await;
    app.post("/v1/members", json!({"phone": "13800000002"})).await.assert_error(StatusCode::CONFLICT, "identity_taken");
});

on_both_backends!(one_time_codes_are_issued_once_checked_once_and_never_kept_by_idempotency, |db| {
    let app = TestApp::new(db).await;
    let issued = app.post("/v1/one-time-codes", json!({"purpose": "sign_in", "phone": "13700000001"})).await;
    let issued = issued.assert_status(StatusCode::CREATED).clone();
    let code = issued["code"].as_str().unwrap().to_owned();
    assert_eq!(
        (issued["purpose"].clone(), issued["target"]["masked"].clone()),
        (json!("sign_in"), json!("137****0001"))
    );
    app.post("/v1/one-time-codes", json!({"purpose": "sign_in", "phone": "13700000001"}))
        .await
        .assert_error(StatusCode::CONFLICT, "code_sent_too_recently");
    let verify = "/v1/one-time-codes/verify";
    let wrong = if code == "000000" { "000001" } else { "000000" };
    app.post(verify, json!({"purpose": "sign_in", "phone": "13700000001", "code": wrong}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "code_incorrect");
    // A code for one purpose does not pass for another.
    app.post(verify, json!({"purpose": "register", "phone": "13700000001", "code": code}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "code_incorrect");
    let verified = app.post(verify, json!({"purpose": "sign_in", "phone": "13700000001", "code": code})).await;
    assert!(!verified.text.contains(&code), "{}", verified.text);
    assert_eq!(verified.assert_status(StatusCode::OK)["verified"], true);
    app.post(verify, json!({"purpose": "sign_in", "phone": "13700000001", "code": code}))
        .await
        .assert_error(StatusCode::CONFLICT, "code_used");
    let by_email =
        app.post("/v1/one-time-codes", json!({"purpose": "authentication", "email": "li@example.com"})).await;
    assert_eq!(by_email.assert_status(StatusCode::CREATED)["target"]["kind"], "email");

    app.post("/v1/one-time-codes", json!({"purpose": "phone_change_old", "phone": "13700000001"}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_purpose");
    app.post("/v1/one-time-codes", json!({"purpose": "sign_in", "phone": "13700000001", "email": "li@example.com"}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_field");
    app.post("/v1/one-time-codes", json!({"purpose": "sign_in"}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "missing_field");

    // An endpoint that carries a secret takes no Idempotency-Key; the others still do.
    let body = json!({"purpose": "sign_in", "phone": "13700000002"}).to_string();
    let keyed = app.send_with("POST", "/v1/one-time-codes", body.as_bytes(), &[("idempotency-key", "otp-1")]).await;
    keyed.assert_error(StatusCode::BAD_REQUEST, "idempotency_key_not_accepted");
    let member = app.register("13700000003").await;
    let body = json!({"pay_password": PAY_PASSWORD}).to_string();
    let keyed = app
        .send_with(
            "POST",
            &format!("/v1/members/{member}/pay-password"),
            body.as_bytes(),
            &[("idempotency-key", "pp-1")],
        )
        .await;
    keyed.assert_error(StatusCode::BAD_REQUEST, "idempotency_key_not_accepted");
    let body = json!({"reason": "suspicious"}).to_string();
    let keyed = app
        .send_with("POST", &format!("/v1/members/{member}/lock"), body.as_bytes(), &[("idempotency-key", "lock-1")])
        .await;
    keyed.assert_status(StatusCode::OK);
});

on_both_backends!(a_bank_card_is_bound_without_its_cvv_and_never_shown_in_full, |db| {
    let app = TestApp::new(db).await;
    let member = app.register("13600000001").await;
    let cards = format!("/v1/members/{member}/bank-cards");

    // Security data is refused whatever else the body holds, and the number is not echoed.
    let with_cvv = app.post(&cards, json!({"card_number": CARD, "holder": "张三", "cvv": "123"})).await;
    with_cvv.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "card_security_data_refused");
    assert!(!with_cvv.text.contains(CARD_DIGITS) && !with_cvv.text.contains(CARD));
    app.post(&cards, json!({"expiry": null}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "card_security_data_refused");
    app.post(&cards, json!({"holder": "张三"})).await.assert_error(StatusCode::BAD_REQUEST, "missing_field");
    app.post(&cards, json!({"card_number": "6222 0200 0000 0000 019", "holder": "张三"}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "card_number_check_failed");

    let bound = app.post(&cards, json!({"card_number": CARD, "holder": "张三"})).await;
    assert!(!bound.text.contains(CARD_DIGITS), "{}", bound.text);
    let bound = bound.assert_status(StatusCode::CREATED).clone();
    let card = id_of(&bound);
    assert!(card.starts_with("bcd_"));
    assert_eq!(bound["masked_number"], "622202*********0018");
    app.post(&cards, json!({"card_number": CARD, "holder": "张三"}))
        .await
        .assert_error(StatusCode::CONFLICT, "card_already_bound");
    let listed = app.get(&cards).await;
    assert!(!listed.text.contains(CARD_DIGITS));
    assert_eq!(listed.assert_status(StatusCode::OK)["data"][0]["id"], card.as_str());

    // A withdrawal goes only to a card in the member's verified real name.
    let check = format!("/v1/bank-cards/{card}/withdrawal-check?member_id={member}");
    app.get(&check).await.assert_error(StatusCode::CONFLICT, "member_not_real_named");
    app.real_name(&member, "张三").await;
    assert_eq!(app.get(&check).await.assert_status(StatusCode::OK)["usable"], true);
    let other = app.register("13600000002").await;
    app.get(&format!("/v1/bank-cards/{card}/withdrawal-check?member_id={other}"))
        .await
        .assert_error(StatusCode::FORBIDDEN, "card_not_members");
    app.get(&format!("/v1/bank-cards/{card}/withdrawal-check"))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "missing_parameter");

    // Unbound by its member only.
    let unbind = format!("/v1/bank-cards/{card}/unbind");
    app.post(&unbind, json!({"member_id": other, "reason": "x"}))
        .await
        .assert_error(StatusCode::NOT_FOUND, "bank_card_not_found");
    let unbound = app.post(&unbind, json!({"member_id": member, "reason": "card lost"})).await;
    assert!(unbound.assert_status(StatusCode::OK)["unbound_at"].is_string());
    assert_eq!(app.get(&cards).await.assert_status(StatusCode::OK)["data"], json!([]));
    app.post(&unbind, json!({"member_id": member, "reason": "again"}))
        .await
        .assert_error(StatusCode::NOT_FOUND, "bank_card_not_found");
    app.post(&format!("/v1/bank-cards/{member}/unbind"), json!({"member_id": member, "reason": "x"}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_id");

    // Nothing any endpoint answers holds the number.
    let history = app.get(&format!("/v1/members/{member}/history")).await;
    let customer = app.get(&format!("/v1/members/{member}")).await.assert_status(StatusCode::OK)["customer_id"].clone();
    let customer_history = app.get(&format!("/v1/customers/{}/history", customer.as_str().unwrap())).await;
    for text in [&history.text, &customer_history.text] {
        assert!(!text.contains(CARD_DIGITS) && !text.contains("0000000000"), "{text}");
    }
});

on_both_backends!(a_field_of_the_wrong_type_is_named_with_its_type_and_its_value_is_never_repeated, |db| {
    let app = TestApp::new(db).await;
    let member = app.register("13500000009").await;
    let pay_password = format!("/v1/members/{member}/pay-password");
    // A pay password sent as a number, or as a fraction, where a string of 6 digits is expected.
    for (body, secret) in [(r#"{"pay_password":731904}"#, "731904"), (r#"{"pay_password":73.1904}"#, "1904")] {
        let refused = app.post_raw(&pay_password, body).await;
        refused.assert_error(StatusCode::BAD_REQUEST, "invalid_field");
        let message = refused.body["error"]["message"].as_str().unwrap();
        assert!(message.contains("`pay_password`") && message.contains("expected a string"), "{message}");
        assert!(!refused.text.contains(secret), "the answer repeats the value sent: {}", refused.text);
    }
    let changed = app
        .post_raw(&format!("{pay_password}/change"), r#"{"current_pay_password":"135790","new_pay_password":864213}"#)
        .await;
    changed.assert_error(StatusCode::BAD_REQUEST, "invalid_field");
    assert!(changed.body["error"]["message"].as_str().unwrap().contains("`new_pay_password`"), "{}", changed.text);
    assert!(!changed.text.contains("864213") && !changed.text.contains("135790"), "{}", changed.text);
    // Nothing was set.
    app.post(&format!("{pay_password}/verify"), json!({"pay_password": "135790"}))
        .await
        .assert_error(StatusCode::CONFLICT, "pay_password_not_set");
});

on_both_backends!(a_pay_password_locks_after_five_wrong_tries, |db| {
    let app = TestApp::new(db).await;
    let member = app.register("13500000001").await;
    let pay_password = format!("/v1/members/{member}/pay-password");
    let verify = format!("{pay_password}/verify");

    app.post(&verify, json!({"pay_password": PAY_PASSWORD}))
        .await
        .assert_error(StatusCode::CONFLICT, "pay_password_not_set");
    app.post(&pay_password, json!({"pay_password": "123456"}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "pay_password_sequence");
    app.post(&pay_password, json!({"pay_password": "12345"}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "pay_password_not_six_digits");
    let set = app.post(&pay_password, json!({"pay_password": PAY_PASSWORD})).await;
    assert!(!set.text.contains(PAY_PASSWORD));
    assert_eq!(set.assert_status(StatusCode::CREATED)["outcome"], "set");
    app.post(&pay_password, json!({"pay_password": "246810"}))
        .await
        .assert_error(StatusCode::CONFLICT, "pay_password_already_set");
    assert_eq!(
        app.post(&verify, json!({"pay_password": PAY_PASSWORD})).await.assert_status(StatusCode::OK)["outcome"],
        "verified"
    );

    // Four wrong tries are each refused; the fifth locks it, and then even the right one is refused.
    for _ in 0..4 {
        app.post(&verify, json!({"pay_password": "000001"}))
            .await
            .assert_error(StatusCode::FORBIDDEN, "pay_password_incorrect");
    }
    app.post(&verify, json!({"pay_password": "000001"}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "pay_password_locked");
    app.post(&verify, json!({"pay_password": PAY_PASSWORD}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "pay_password_locked");
    app.post(
        &format!("{pay_password}/change"),
        json!({"current_pay_password": PAY_PASSWORD, "new_pay_password": "246810"}),
    )
    .await
    .assert_error(StatusCode::FORBIDDEN, "pay_password_locked");

    // Another member changes its own with the current one.
    let other = app.register("13500000002").await;
    let other_password = format!("/v1/members/{other}/pay-password");
    app.post(&other_password, json!({"pay_password": PAY_PASSWORD})).await.assert_status(StatusCode::CREATED);
    app.post(
        &format!("{other_password}/change"),
        json!({"current_pay_password": "000001", "new_pay_password": "246810"}),
    )
    .await
    .assert_error(StatusCode::FORBIDDEN, "pay_password_incorrect");
    app.post(
        &format!("{other_password}/change"),
        json!({"current_pay_password": PAY_PASSWORD, "new_pay_password": "111111"}),
    )
    .await
    .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "pay_password_repeated");
    let changed = app
        .post(
            &format!("{other_password}/change"),
            json!({"current_pay_password": PAY_PASSWORD, "new_pay_password": "246810"}),
        )
        .await;
    assert_eq!(changed.assert_status(StatusCode::OK)["outcome"], "changed");
    app.post(&format!("{other_password}/verify"), json!({"pay_password": PAY_PASSWORD}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "pay_password_incorrect");
    app.post(&format!("{other_password}/verify"), json!({"pay_password": "246810"}))
        .await
        .assert_status(StatusCode::OK);
    app.post(&format!("{other_password}/verify"), json!({"pay_password": "246810", "extra": 1}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "unknown_field");

    // The history records what happened, never the password.
    let history = app.get(&format!("/v1/members/{member}/history")).await.assert_status(StatusCode::OK).clone();
    let actions: Vec<&str> =
        history["data"].as_array().unwrap().iter().map(|h| h["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"pay_password.set") && actions.contains(&"pay_password.locked"), "{actions:?}");
    assert!(!history.to_string().contains(PAY_PASSWORD));
});
