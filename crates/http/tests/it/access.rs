//! Access over the API, on SQLite and PostgreSQL: every endpoint refuses a client without its scope
//! (403 `scope_missing`); a client bound to enterprise A neither reads nor moves enterprise B's member,
//! accounts, wallet, operators or bank cards (each id, taken from B's answers, is answered 404 as if
//! it did not exist), finds only A's operators, and is refused the platform's endpoints; a client
//! holds two keys at once and a revoked key stops verifying (within a second); past its burst a
//! client is answered 429 `rate_limited` with `Retry-After`, and the refused request is not spent; a
//! body with an unknown field, or one trying to set a balance, a status or an owner, is refused with
//! `unknown_field` and changes nothing.

use axum::http::StatusCode;
use axum::Router;
use ed25519_dalek::SigningKey;
use sanhu_core::id::MemberId;
use sanhu_core::scope::{Scope, Scopes};
use sanhu_http::client_cache::CLIENT_TRUSTED_FOR;
use sanhu_http::{router, AppState, HttpConfig};
use sanhu_service::party::{Parties, PartyConfig};
use sanhu_service::wallet::WalletConfig;
use sanhu_service::{clock, Ledger, LedgerConfig};
use sanhu_store::{AccessStore, ApiClient, KeyAdded, Store};
use sanhu_testkit::app::{self as kit, create_client, send_to, signed, Client, TestApp, TestResponse};
use sanhu_testkit::ids::{card_number, id_card};
use sanhu_testkit::money::cny;
use sanhu_testkit::on_both_backends;
use serde_json::{json, Value};

/// A new client holding `scopes`, bound to `bound_to` if given.
async fn new_caller(store: &Store, scopes: Scopes, bound_to: Option<&str>) -> Client {
    let bound_to = bound_to.map(|m| MemberId::parse(m).expect("a member id"));
    create_client(store, "access test", |client| ApiClient { scopes, bound_to, ..client }).await
}

/// A signed request through `router`, as `caller`.
async fn send(router: &Router, caller: &Client, method: &str, path: &str, body: Option<&Value>) -> TestResponse {
    let body = body.map(Value::to_string).unwrap_or_default().into_bytes();
    send_to(router, signed(caller, method, path, &body, &[])).await
}

async fn app(db: sanhu_testkit::TestDatabase) -> TestApp {
    TestApp::new(db, PartyConfig::default(), WalletConfig::default_for(cny())).await
}

/// A route's path with its parameters filled with well-formed ids (or an order number).
fn concrete(route: &str) -> String {
    route
        .replace("/members/{id}", "/members/mem_01JBQ8Z5S3M4V7X9Y2A6C8E0G1")
        .replace("/customers/{id}", "/customers/cus_01JBQ8Z5S3M4V7X9Y2A6C8E0G1")
        .replace("/accounts/{id}", "/accounts/acc_01JBQ8Z5S3M4V7X9Y2A6C8E0G1")
        .replace("/operators/{id}", "/operators/opr_01JBQ8Z5S3M4V7X9Y2A6C8E0G1")
        .replace("/bank-cards/{id}", "/bank-cards/bcd_01JBQ8Z5S3M4V7X9Y2A6C8E0G1")
        .replace("/merchants/{id}", "/merchants/mch_01JBQ8Z5S3M4V7X9Y2A6C8E0G1")
        .replace("/authentications/{id}", "/authentications/aut_01JBQ8Z5S3M4V7X9Y2A6C8E0G1")
        .replace("/transfers/{id}", "/transfers/tr_01JBQ8Z5S3M4V7X9Y2A6C8E0G1")
        .replace("/approvals/{id}", "/approvals/apr_01JBQ8Z5S3M4V7X9Y2A6C8E0G1")
        .replace("{pending_id}", "tr_01JBQ8Z5S3M4V7X9Y2A6C8E0G1")
        .replace("{store_id}", "sto_01JBQ8Z5S3M4V7X9Y2A6C8E0G1")
        .replace("{terminal_id}", "trm_01JBQ8Z5S3M4V7X9Y2A6C8E0G1")
        .replace("{number}", "order-1")
        .replace("{id}", "x_01JBQ8Z5S3M4V7X9Y2A6C8E0G1")
}

/// The signed routes of the route table, with the scope each needs.
fn signed_routes() -> impl Iterator<Item = (&'static str, &'static str, Scope)> {
    sanhu_http::routes::all()
        .iter()
        .filter_map(|entry| entry.access.scope.map(|scope| (entry.method, entry.path, scope)))
}

on_both_backends!(every_endpoint_refuses_a_client_without_its_scope, |db| {
    let app = app(db).await;
    let store = app.db.store.clone();
    let mut without = Vec::new();
    let mut only = Vec::new();
    for scope in Scope::ALL {
        let all_but = Scope::ALL.into_iter().filter(|s| *s != scope).collect::<Scopes>();
        without.push((scope, new_caller(&store, all_but, None).await));
        only.push((scope, new_caller(&store, Scopes::none().with(scope), None).await));
    }
    let nothing = new_caller(&store, Scopes::none(), None).await;
    let mut families = std::collections::BTreeSet::new();
    for (method, route, scope) in signed_routes() {
        let path = concrete(route);
        let body = (method == "POST").then(|| json!({}));
        let (_, lacking) = without.iter().find(|(s, _)| *s == scope).unwrap();
        let refused = send(&app.router, lacking, method, &path, body.as_ref()).await;
        refused.assert_error(StatusCode::FORBIDDEN, "scope_missing");
        assert!(refused.body["error"]["message"].as_str().unwrap().contains(scope.as_str()), "{}", refused.body);
        send(&app.router, &nothing, method, &path, body.as_ref())
            .await
            .assert_error(StatusCode::FORBIDDEN, "scope_missing");
        // The scope alone gets the request past the check (to whatever the handler answers).
        let (_, holding) = only.iter().find(|(s, _)| *s == scope).unwrap();
        let passed = send(&app.router, holding, method, &path, body.as_ref()).await;
        assert_ne!(passed.code(), "scope_missing", "{method} {route} with {scope}: {}", passed.body);
        families.insert(scope);
    }
    assert_eq!(families.len(), Scope::ALL.len(), "every scope guards some endpoint");

    // A refused change is in the audit log like any other, with its code.
    let (_, lacking_wallet) = without.iter().find(|(s, _)| *s == Scope::WalletWrite).unwrap();
    let events = app.get(&format!("/v1/audit-events?actor=client:{}", lacking_wallet.id)).await;
    let events = events.assert_status(StatusCode::OK)["data"].as_array().unwrap().clone();
    assert!(events.iter().any(|e| e["route"] == "/v1/payments" && e["error_code"] == "scope_missing"), "{events:?}");
});

/// An enterprise registered and activated by the platform's client, with a settlement account, a
/// cashier besides its first admin, a bank card and money in its basic account.
struct Enterprise {
    member: String,
    customer: String,
    basic: String,
    settlement: String,
    admin: String,
    admin_phone: &'static str,
    cashier: String,
    card: String,
}

async fn enterprise(app: &TestApp, n: u32, credit_code: &str) -> Enterprise {
    let admin_phone = if n == 1 { "13900000101" } else { "13900000201" };
    let company = json!({
        "name": format!("第{n}科技有限公司"),
        "credit_code": credit_code,
        "legal_person": "张三",
        "legal_person_certificate_number": id_card(n),
        "contact": "李四",
        "contact_phone": format!("1391234567{n}"),
        "industry": "I642",
        "licence_expiry": "2035-06-30",
        "address": "北京市海淀区某某路1号"
    });
    let registered = app
        .post(
            "/v1/enterprises",
            json!({"email": format!("finance{n}@example.com"), "company": company, "admin": {"phone": admin_phone}}),
        )
        .await;
    let registered = registered.assert_status(StatusCode::CREATED).clone();
    let member = registered["member"]["id"].as_str().unwrap().to_owned();
    let customer = registered["customer"]["id"].as_str().unwrap().to_owned();
    let admin = registered["admin"]["id"].as_str().unwrap().to_owned();
    let activated = app.post(&format!("/v1/members/{member}/activate"), json!({})).await;
    let basic = activated.assert_status(StatusCode::OK)["accounts"][0]["id"].as_str().unwrap().to_owned();
    let settlement = app.open(&member, "settlement").await;
    let added = app
        .post(
            &format!("/v1/members/{member}/operators"),
            json!({"role": "cashier", "phone": format!("1390000{n}002"), "reason": "new hire"}),
        )
        .await;
    let cashier = added.assert_status(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
    let card = app.bind_card(&member, &format!("第{n}科技有限公司"), 100 + n).await;
    app.recharge(&member, &basic, 100_000, "alipay", &format!("setup-{n}")).await;
    Enterprise { member, customer, basic, settlement, admin, admin_phone, cashier, card }
}

on_both_backends!(a_client_bound_to_one_enterprise_reaches_none_of_anothers_objects, |db| {
    let app = app(db).await;
    let a = enterprise(&app, 1, "91110108MA01ABCD0B").await;
    let b = enterprise(&app, 2, "91350100M000100Y43").await;
    // Stored with every scope: bound, it holds only the parties' and the wallet's.
    let bound = new_caller(&app.db.store, Scopes::all(), Some(&a.member)).await;
    let as_a = |method: &'static str, path: String, body: Option<Value>| {
        let (router, bound) = (&app.router, &bound);
        async move { send(router, bound, method, &path, body.as_ref()).await }
    };

    // Its own member's objects: readable.
    for path in [
        format!("/v1/members/{}", a.member),
        format!("/v1/members/{}/accounts", a.member),
        format!("/v1/members/{}/wallet", a.member),
        format!("/v1/members/{}/wallet/flow", a.member),
        format!("/v1/members/{}/operators", a.member),
        format!("/v1/members/{}/bank-cards", a.member),
        format!("/v1/members/{}/company", a.member),
        format!("/v1/accounts/{}", a.basic),
        format!("/v1/operators/{}", a.cashier),
    ] {
        as_a("GET", path, None).await.assert_status(StatusCode::OK);
    }

    // B's, by the ids B's answers gave: as if they did not exist.
    for path in [
        format!("/v1/members/{}", b.member),
        format!("/v1/members/{}/accounts", b.member),
        format!("/v1/members/{}/wallet", b.member),
        format!("/v1/members/{}/wallet/flow", b.member),
        format!("/v1/members/{}/wallet/withdrawal-preview?amount=100", b.member),
        format!("/v1/members/{}/operators", b.member),
        format!("/v1/members/{}/bank-cards", b.member),
        format!("/v1/members/{}/company", b.member),
        format!("/v1/members/{}/identities", b.member),
        format!("/v1/members/{}/history", b.member),
        format!("/v1/bank-cards/{}/withdrawal-check?member_id={}", a.card, b.member),
    ] {
        as_a("GET", path, None).await.assert_error(StatusCode::NOT_FOUND, "member_not_found");
    }
    as_a("GET", format!("/v1/accounts/{}", b.basic), None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "member_account_not_found");
    for operator in [&b.admin, &b.cashier] {
        as_a("GET", format!("/v1/operators/{operator}"), None)
            .await
            .assert_error(StatusCode::NOT_FOUND, "operator_not_found");
    }
    as_a("GET", format!("/v1/bank-cards/{}/withdrawal-check?member_id={}", b.card, b.member), None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "bank_card_not_found");
    // And an id that names nothing at all is answered the same way.
    as_a("GET", "/v1/members/mem_01JBQ8Z5S3M4V7X9Y2A6C8E0G1".to_owned(), None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "member_not_found");

    // B's objects cannot be changed or moved, in the path or in the body.
    let refused_changes = [
        (format!("/v1/members/{}/lock", b.member), json!({"reason": "x"}), "member_not_found"),
        (format!("/v1/members/{}/accounts", b.member), json!({"account_type": "margin"}), "member_not_found"),
        (format!("/v1/accounts/{}/close", b.settlement), json!({"reason": "x"}), "member_account_not_found"),
        (format!("/v1/operators/{}/disable", b.cashier), json!({"reason": "x"}), "operator_not_found"),
        (
            format!("/v1/members/{}/operators", a.member),
            json!({"role": "staff", "reason": "x", "acting_operator_id": b.admin}),
            "operator_not_found",
        ),
        (
            format!("/v1/operators/{}/grants", a.cashier),
            json!({"account_id": b.basic, "operations": ["pay"], "reason": "x"}),
            "member_account_not_found",
        ),
        (
            format!("/v1/operators/{}/authorise", a.cashier),
            json!({"account_id": b.basic, "operation": "view"}),
            "member_account_not_found",
        ),
        (
            format!("/v1/bank-cards/{}/unbind", b.card),
            json!({"member_id": b.member, "reason": "x"}),
            "bank_card_not_found",
        ),
        (
            format!("/v1/members/{}/wallet/deduction-order", a.member),
            json!({"account_ids": [a.basic, b.basic]}),
            "member_account_not_found",
        ),
        (
            "/v1/payments".to_owned(),
            json!({"order_number": "p-b", "member_id": b.member, "amount": 100, "receiver_account_id": a.basic}),
            "member_not_found",
        ),
        (
            "/v1/recharges".to_owned(),
            json!({"order_number": "r-b", "member_id": a.member, "account_id": b.basic, "amount": 100, "channel": "alipay"}),
            "member_account_not_found",
        ),
        (
            "/v1/withdrawals".to_owned(),
            json!({"order_number": "w-b", "member_id": a.member, "amount": 100, "bank_card_id": b.card}),
            "bank_card_not_found",
        ),
        (
            "/v1/withdrawals".to_owned(),
            json!({"order_number": "w-b2", "member_id": b.member, "amount": 100, "bank_card_id": b.card}),
            "member_not_found",
        ),
        (
            "/v1/member-transfers".to_owned(),
            json!({"order_number": "t-b", "sender_member_id": b.member, "receiver_member_id": a.member, "amount": 100}),
            "member_not_found",
        ),
        (
            "/v1/deposits".to_owned(),
            json!({"order_number": "d-b", "member_id": b.member, "amount": 100, "beneficiary_platform_account": "fee_income"}),
            "member_not_found",
        ),
        (
            "/v1/subsidy-fundings".to_owned(),
            json!({"order_number": "s-b", "enterprise_member_id": b.member, "amount": 100}),
            "member_not_found",
        ),
        (
            "/v1/subsidy-fundings".to_owned(),
            json!({"order_number": "s-b2", "enterprise_member_id": a.member, "account_id": b.basic, "amount": 100}),
            "member_account_not_found",
        ),
        (
            "/v1/subsidy-distributions".to_owned(),
            json!({"order_number": "g-b", "enterprise_member_id": b.member, "credits": [{"member_id": a.member, "amount": 1}]}),
            "member_not_found",
        ),
    ];
    for (path, body, code) in refused_changes {
        as_a("POST", path, Some(body)).await.assert_error(StatusCode::NOT_FOUND, code);
    }
    assert_eq!(app.balance(&b.basic).await, 100_000, "nothing of B's moved");
    let b_operators = app.get(&format!("/v1/members/{}/operators", b.member)).await;
    let b_operators = b_operators.assert_status(StatusCode::OK)["data"].as_array().unwrap().clone();
    assert!(b_operators.iter().all(|o| o["status"] == "active"), "{b_operators:?}");
    assert_eq!(
        app.get(&format!("/v1/members/{}/bank-cards", b.member)).await.body["data"].as_array().unwrap().len(),
        1
    );

    // A search over every member's operators shows only A's.
    let found = as_a("GET", format!("/v1/operators?phone={}", b.admin_phone), None).await;
    assert_eq!(found.assert_status(StatusCode::OK)["data"], json!([]));
    let found = as_a("GET", format!("/v1/operators?phone={}", a.admin_phone), None).await;
    assert_eq!(found.assert_status(StatusCode::OK)["data"][0]["id"], a.admin.as_str());
    let unbound = app.get(&format!("/v1/operators?phone={}", b.admin_phone)).await;
    assert_eq!(unbound.assert_status(StatusCode::OK)["data"][0]["id"], b.admin.as_str(), "an unbound client finds it");

    // The platform's endpoints and scopes are refused, whatever was stored.
    for (method, path, body, code) in [
        ("POST", "/v1/members".to_owned(), Some(json!({"phone": "13800138999"})), "client_bound"),
        ("POST", format!("/v1/members/{}/authentications", a.member), Some(json!({})), "client_bound"),
        (
            "POST",
            "/v1/one-time-codes".to_owned(),
            Some(json!({"purpose": "sign_in", "phone": "13800138999"})),
            "client_bound",
        ),
        ("POST", "/v1/recharges/setup-1/confirm".to_owned(), Some(json!({})), "client_bound"),
        ("POST", "/v1/withdrawals/w-1/payout".to_owned(), Some(json!({"result": "succeeded"})), "client_bound"),
        ("GET", format!("/v1/ledger/accounts/{}", a.basic), None, "scope_missing"),
        ("GET", format!("/v1/customers/{}", a.customer), None, "scope_missing"),
        ("GET", "/v1/platform-accounts".to_owned(), None, "scope_missing"),
        ("GET", "/v1/audit-events".to_owned(), None, "scope_missing"),
        ("POST", "/v1/freezes".to_owned(), Some(json!({})), "scope_missing"),
    ] {
        as_a(method, path, body).await.assert_error(StatusCode::FORBIDDEN, code);
    }

    // What is A's, it moves: a payment from A's wallet, to anyone's account.
    let paid = as_a(
        "POST",
        "/v1/payments".to_owned(),
        Some(
            json!({"order_number": "p-a", "member_id": a.member, "amount": 2_500, "receiver_account_id": b.settlement}),
        ),
    )
    .await;
    assert_eq!(paid.assert_status(StatusCode::CREATED)["paid"], 2_500);
    as_a("GET", "/v1/payments/p-a".to_owned(), None).await.assert_status(StatusCode::OK);
    assert_eq!(app.balance(&a.basic).await, 97_500);
    assert_eq!(app.balance(&b.settlement).await, 2_500);
    let disabled = as_a("POST", format!("/v1/operators/{}/disable", a.cashier), Some(json!({"reason": "left"}))).await;
    assert_eq!(disabled.assert_status(StatusCode::OK)["status"], "disabled");
    app.verify_clean().await;
});

on_both_backends!(a_client_holds_two_keys_at_once_and_a_revoked_key_no_longer_verifies, |db| {
    let app = app(db).await;
    let store = app.db.store.clone();
    let first = new_caller(&store, Scopes::all(), None).await;
    let second_key = SigningKey::from_bytes(&clock::random_bytes());
    let added = store.add_client_key(&first.id, &second_key.verifying_key().to_bytes(), clock::now()).await.unwrap();
    assert_eq!(added, KeyAdded::Added { number: 2 });
    let second = first.with_key(&second_key);
    let third_key = SigningKey::from_bytes(&clock::random_bytes());
    let refused = store.add_client_key(&first.id, &third_key.verifying_key().to_bytes(), clock::now()).await.unwrap();
    assert_eq!(refused, KeyAdded::TooManyActive, "two active keys at most");

    for caller in [&first, &second] {
        send(&app.router, caller, "GET", "/v1/ledger/accounts", None).await.assert_status(StatusCode::OK);
    }
    // A key of no client of this id.
    let stranger = first.with_key(&third_key);
    send(&app.router, &stranger, "GET", "/v1/ledger/accounts", None)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "invalid_signature");

    assert!(store.revoke_client_key(&first.id, 1, clock::now()).await.unwrap());
    // Refused within a second (the instance trusts the client as read for that long; client_cache.rs).
    tokio::time::sleep(CLIENT_TRUSTED_FOR).await;
    send(&app.router, &first, "GET", "/v1/ledger/accounts", None)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "invalid_signature");
    send(&app.router, &second, "GET", "/v1/ledger/accounts", None).await.assert_status(StatusCode::OK);
    // A revoked key frees its place: the rotation continues.
    let added = store.add_client_key(&first.id, &third_key.verifying_key().to_bytes(), clock::now()).await.unwrap();
    assert_eq!(added, KeyAdded::Added { number: 3 });
    send(&app.router, &stranger, "GET", "/v1/ledger/accounts", None).await.assert_status(StatusCode::OK);

    // A revoked client is refused whatever key signs.
    assert!(store.revoke_client(&first.id, clock::now()).await.unwrap());
    tokio::time::sleep(CLIENT_TRUSTED_FOR).await;
    send(&app.router, &second, "GET", "/v1/ledger/accounts", None)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "client_revoked");
});

on_both_backends!(past_its_burst_a_client_is_answered_429_with_retry_after, |db| {
    let ledger = Ledger::start(db.store.clone(), LedgerConfig::default());
    let parties = Parties::new(db.store.clone(), PartyConfig::default());
    let config = HttpConfig { rate_limit_per_s: 1, rate_limit_burst: 3, ..HttpConfig::default() };
    let router = router(AppState::new(ledger, parties, config));
    let busy = new_caller(&db.store, Scopes::all(), None).await;
    let other = new_caller(&db.store, Scopes::all(), None).await;
    for _ in 0..3 {
        send(&router, &busy, "GET", "/v1/ledger/accounts", None).await.assert_status(StatusCode::OK);
    }
    // The fourth, signed once and sent twice: refused now, taken after the wait.
    let signature = kit::sign(&busy, "GET", "/v1/ledger/accounts", b"");
    let request = || kit::request(&busy.id, "GET", "/v1/ledger/accounts", b"", &signature, &[]);
    let limited = send_to(&router, request()).await;
    limited.assert_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert_eq!(limited.headers["retry-after"], "1");
    // Each client has its own bucket.
    send(&router, &other, "GET", "/v1/ledger/accounts", None).await.assert_status(StatusCode::OK);
    // A refused request spent neither a token nor its nonce.
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    send_to(&router, request()).await.assert_status(StatusCode::OK);
    send(&router, &busy, "GET", "/v1/ledger/accounts", None)
        .await
        .assert_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    // A request with a bad signature takes nothing from anyone's bucket.
    let forged = Client { id: other.id.clone(), key: busy.key.clone() };
    for _ in 0..5 {
        send(&router, &forged, "GET", "/v1/ledger/accounts", None)
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "invalid_signature");
    }
    send(&router, &other, "GET", "/v1/ledger/accounts", None).await.assert_status(StatusCode::OK);
});

on_both_backends!(every_post_refuses_a_field_it_does_not_know, |db| {
    let app = app(db).await;
    let doc: Value = sanhu_http::openapi::document_json().clone();
    let (mut walked, mut for_staff) = (0, 0);
    for (route, item) in doc["paths"].as_object().unwrap() {
        let Some(operation) = item.get("post") else { continue };
        if !route.starts_with("/v1/") {
            continue;
        }
        // Operations for staff signed in refuse an API client before they read a body; the staff
        // tests send them theirs.
        if operation["tags"].as_array().is_some_and(|tags| tags.iter().any(|t| t == "staff")) {
            for_staff += 1;
            continue;
        }
        let refused = app.post(&concrete(route), json!({"zz_not_a_field": 1})).await;
        refused.assert_error(StatusCode::BAD_REQUEST, "unknown_field");
        assert!(refused.body["error"]["message"].as_str().unwrap().contains("zz_not_a_field"), "{route}");
        walked += 1;
    }
    let posts = sanhu_http::routes::all()
        .iter()
        .filter(|route| route.method == "POST" && route.path.starts_with("/v1/"))
        .count();
    assert_eq!(walked + for_staff, posts, "every POST under /v1 was walked");
    assert!(walked >= 70, "only {walked} POSTs walked");
});

on_both_backends!(a_body_cannot_set_a_balance_a_status_or_an_owner, |db| {
    let app = app(db).await;
    let (member, basic) = app.active_member("13800138001").await;
    let (other, _) = app.active_member("13800138002").await;

    // Each is refused naming the field, and changes nothing.
    let attempts = [
        ("/v1/members".to_owned(), json!({"phone": "13800138003", "status": "normal"}), "status"),
        (
            "/v1/members".to_owned(),
            json!({"phone": "13800138003", "customer_id": "cus_01JBQ8Z5S3M4V7X9Y2A6C8E0G1"}),
            "customer_id",
        ),
        (
            format!("/v1/members/{member}/accounts"),
            json!({"account_type": "settlement", "balance": 100_000}),
            "balance",
        ),
        (
            format!("/v1/members/{member}/accounts"),
            json!({"account_type": "settlement", "member_id": other}),
            "member_id",
        ),
        (format!("/v1/members/{member}/accounts"), json!({"account_type": "settlement", "status": "normal"}), "status"),
        ("/v1/ledger/accounts".to_owned(), json!({"currency": "CNY", "credits_posted": 100_000}), "credits_posted"),
        (
            format!("/v1/members/{member}/bank-cards"),
            json!({"card_number": card_number(7), "holder": "张三", "member_id": other}),
            "member_id",
        ),
        (
            "/v1/recharges".to_owned(),
            json!({"order_number": "r-1", "member_id": member, "amount": 100, "channel": "alipay", "status": "succeeded"}),
            "status",
        ),
        (
            "/v1/payments".to_owned(),
            json!({"order_number": "p-1", "member_id": member, "amount": 100, "receiver_platform_account": "fee_income", "paid": 100}),
            "paid",
        ),
        (format!("/v1/members/{member}/lock"), json!({"reason": "x", "lock_status": "unlocked"}), "lock_status"),
    ];
    for (path, body, field) in attempts {
        let refused = app.post(&path, body).await;
        refused.assert_error(StatusCode::BAD_REQUEST, "unknown_field");
        assert!(refused.body["error"]["message"].as_str().unwrap().contains(field), "{path}: {}", refused.body);
    }
    let accounts = app.get(&format!("/v1/members/{member}/accounts")).await;
    assert_eq!(accounts.assert_status(StatusCode::OK)["data"].as_array().unwrap().len(), 1, "no account opened");
    assert_eq!(app.balance(&basic).await, 0);
    assert_eq!(app.get(&format!("/v1/members/{member}")).await.body["lock_status"], "unlocked");
    app.get("/v1/recharges/r-1").await.assert_error(StatusCode::NOT_FOUND, "order_not_found");
    assert!(app.get(&format!("/v1/members/{member}/bank-cards")).await.body["data"].as_array().unwrap().is_empty());
    // The phone was not taken by a refused registration.
    app.post("/v1/members", json!({"phone": "13800138003"})).await.assert_status(StatusCode::CREATED);
});
