//! The three-party API end to end (customers, members, member accounts, authentications): a fresh
//! database per test, on SQLite and on PostgreSQL, requests signed as a client signs them and sent
//! through the router; money moved through the ledger's own endpoints.

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use ed25519_dalek::SigningKey;
use http_body_util::BodyExt;
use sanhu_core::id::ClientTag;
use sanhu_http::signature;
use sanhu_http::{router, AppState, HttpConfig};
use sanhu_service::party::{Parties, PartyConfig};
use sanhu_service::{clock, Ledger, LedgerConfig};
use sanhu_store::on_both_backends;
use sanhu_store::testing::TestDatabase;
use sanhu_store::{AccessStore, ApiClient};
use serde_json::{json, Value};
use tower::ServiceExt;

const ID_CARD: &str = "110101199003071233";
const OTHER_ID_CARD: &str = "310115198511114560";

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
        let parties = Parties::new(db.store.clone(), PartyConfig::default());
        let key = SigningKey::from_bytes(&clock::random_bytes());
        // A real client id (cli_ and 26 characters), as `sanhu client create` makes: it is the actor
        // of every change.
        let client_id = clock::new_id::<ClientTag>().to_string();
        let client = ApiClient::new(client_id.clone(), "test".to_owned(), key.verifying_key().to_bytes(), clock::now());
        db.store.create_client(&client).await.expect("create the API client");
        let router = router(AppState::new(ledger, parties, HttpConfig::default()));
        TestApp { _db: db, router, client_id, key }
    }

    async fn send(&self, method: &str, path: &str, body: &[u8]) -> TestResponse {
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
        self.send("GET", path, b"").await
    }

    async fn post(&self, path: &str, body: Value) -> TestResponse {
        self.send("POST", path, body.to_string().as_bytes()).await
    }

    /// Registers a personal member by phone; returns (member id, customer id).
    async fn register(&self, phone: &str) -> (String, String) {
        let registered = self.post("/v1/members", json!({"phone": phone})).await;
        let body = registered.assert_status(StatusCode::CREATED);
        (body["member"]["id"].as_str().unwrap().to_owned(), body["customer"]["id"].as_str().unwrap().to_owned())
    }

    /// Registers and activates a member; returns (member id, customer id, basic account id).
    async fn active_member(&self, phone: &str) -> (String, String, String) {
        let (member, customer) = self.register(phone).await;
        let activated = self.post(&format!("/v1/members/{member}/activate"), json!({})).await;
        let basic = activated.assert_status(StatusCode::OK)["accounts"][0]["id"].as_str().unwrap().to_owned();
        (member, customer, basic)
    }

    /// A debit-normal platform ledger account that funds members.
    async fn funding(&self) -> String {
        let opened = self.post("/v1/ledger/accounts", json!({"currency": "CNY", "normal_side": "debit"})).await;
        opened.assert_status(StatusCode::CREATED)["id"].as_str().unwrap().to_owned()
    }

    async fn transfer(&self, debit: &str, credit: &str, amount: i64) -> TestResponse {
        self.post(
            "/v1/ledger/transfers",
            json!({"debit_account_id": debit, "credit_account_id": credit, "amount": amount}),
        )
        .await
    }

    async fn balance(&self, account: &str) -> i64 {
        let view = self.get(&format!("/v1/accounts/{account}")).await;
        view.assert_status(StatusCode::OK)["balance"].as_i64().unwrap()
    }

    fn id_card(&self, name: &str, number: &str, result: &str) -> Value {
        json!({"type": "id_card", "channel": "police_id_check", "name": name, "certificate_type": "id_card",
               "certificate_number": number, "result": result})
    }
}

on_both_backends!(the_three_parties_over_http_from_registration_to_cancellation, |db| {
    let app = TestApp::new(db).await;
    let funding = app.funding().await;

    // Registered by phone: inactive, under a new customer without a certificate.
    let registered = app.post("/v1/members", json!({"phone": "138 0000 0001"})).await;
    let body = registered.assert_status(StatusCode::CREATED).clone();
    let first = body["member"]["id"].as_str().unwrap().to_owned();
    let first_customer = body["customer"]["id"].as_str().unwrap().to_owned();
    assert!(first.starts_with("mem_") && first_customer.starts_with("cus_"));
    assert_eq!(body["member"]["status"], "inactive");
    assert_eq!(body["member"]["status_code"], 0);
    assert_eq!(body["member"]["lock_status_code"], 0);
    assert_eq!(body["member"]["kind"], "personal");
    assert_eq!(body["member"]["identities"][0]["kind"], "phone");
    assert!(!body["member"]["identities"][0]["masked"].as_str().unwrap().contains("00000001"));
    assert_eq!(body["customer"]["certificate"], Value::Null);
    assert_eq!(body["customer"]["scope"], "external");

    // Activated: normal, and the basic account appears.
    let activated = app.post(&format!("/v1/members/{first}/activate"), json!({})).await;
    let activated = activated.assert_status(StatusCode::OK).clone();
    assert_eq!(activated["member"]["status"], "normal");
    assert_eq!(activated["member"]["status_code"], 1);
    let first_basic = activated["accounts"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(activated["accounts"].as_array().unwrap().len(), 1);
    assert_eq!(activated["accounts"][0]["account_type"], "basic");
    assert_eq!(activated["accounts"][0]["member_id"], first.as_str());
    let accounts = app.get(&format!("/v1/members/{first}/accounts")).await;
    assert_eq!(accounts.assert_status(StatusCode::OK)["data"][0]["id"], first_basic.as_str());
    app.transfer(&funding, &first_basic, 1_000).await.assert_status(StatusCode::CREATED);

    // The ID card is verified: the customer gains the certificate, the member its real name. The
    // number is never echoed in full.
    let authenticated =
        app.post(&format!("/v1/members/{first}/authentications"), app.id_card("张三", ID_CARD, "verified")).await;
    let outcome = authenticated.assert_status(StatusCode::CREATED).clone();
    assert!(!authenticated.text.contains(ID_CARD), "{}", authenticated.text);
    assert_eq!(outcome["certificate_assigned"], true);
    assert_eq!(outcome["merged_into"], Value::Null);
    assert_eq!(outcome["customer_id"], first_customer.as_str());
    assert_eq!(outcome["authentication"]["status"], "verified");
    assert_eq!(outcome["authentication"]["type"], "id_card");
    let customer = app.get(&format!("/v1/customers/{first_customer}")).await;
    assert!(!customer.text.contains(ID_CARD));
    let customer = customer.assert_status(StatusCode::OK).clone();
    assert_eq!(customer["customer"]["certificate"]["type"], "id_card");
    assert_eq!(customer["customer"]["name"], "张三");
    assert_eq!(customer["members"][0]["real_name"], "张三");
    let found = app.get(&format!("/v1/customers?certificate_number={ID_CARD}")).await;
    assert_eq!(found.assert_status(StatusCode::OK)["data"][0]["id"], first_customer.as_str());

    // A second member proves the same ID card, through a pending authentication decided later: the
    // two customers are one and merge, with both members and both balances intact.
    let (second, second_customer, second_basic) = app.active_member("13800000002").await;
    app.transfer(&funding, &second_basic, 2_500).await.assert_status(StatusCode::CREATED);
    let pending =
        app.post(&format!("/v1/members/{second}/authentications"), app.id_card("张三", ID_CARD, "pending")).await;
    let pending = pending.assert_status(StatusCode::CREATED).clone();
    assert_eq!(pending["authentication"]["status"], "pending");
    assert_eq!(pending["authentication"]["decided_at"], Value::Null);
    let authentication = pending["authentication"]["id"].as_str().unwrap().to_owned();
    let decide = format!("/v1/authentications/{authentication}/decide");
    let decided = app
        .post(
            &decide,
            json!({"result": "verified", "name": "张三", "certificate_type": "id_card", "certificate_number": ID_CARD}),
        )
        .await;
    let decided = decided.assert_status(StatusCode::OK).clone();
    assert_eq!(decided["merged_into"], first_customer.as_str());
    assert_eq!(decided["customer_id"], first_customer.as_str());
    app.post(&decide, json!({"result": "failed"}))
        .await
        .assert_error(StatusCode::CONFLICT, "authentication_not_pending");
    let listed = app.get(&format!("/v1/members/{second}/authentications")).await;
    assert_eq!(listed.assert_status(StatusCode::OK)["data"][0]["status"], "verified");

    let absorbed = app.get(&format!("/v1/customers/{second_customer}")).await;
    let absorbed = absorbed.assert_status(StatusCode::OK).clone();
    assert_eq!(absorbed["customer"]["status"], "merged");
    assert_eq!(absorbed["customer"]["merged_into"], first_customer.as_str());
    let survivor = app.get(&format!("/v1/customers/{first_customer}")).await.assert_status(StatusCode::OK).clone();
    let mut members: Vec<&str> =
        survivor["members"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    members.sort();
    let mut expected = vec![first.as_str(), second.as_str()];
    expected.sort();
    assert_eq!(members, expected);
    assert_eq!(survivor["accounts"].as_array().unwrap().len(), 2);
    assert!(survivor["history"].as_array().unwrap().iter().any(|h| h["action"] == "customer.merged_in"));
    assert_eq!(app.balance(&first_basic).await, 1_000);
    assert_eq!(app.balance(&second_basic).await, 2_500);
    let second_account = app.get(&format!("/v1/accounts/{second_basic}")).await.assert_status(StatusCode::OK).clone();
    assert_eq!(second_account["customer_id"], first_customer.as_str());
    assert_eq!(second_account["ledger"]["credits_posted"], 2_500);
    // Found by the absorbed member's phone: the survivor.
    let by_phone = app.get("/v1/customers?phone=13800000002").await;
    assert_eq!(by_phone.assert_status(StatusCode::OK)["data"][0]["id"], first_customer.as_str());

    // Frozen (a judicial freeze): every account of the customer is blocked both ways.
    let frozen = app
        .post(
            &format!("/v1/customers/{first_customer}/status"),
            json!({"status": "frozen", "reason": "court order 2026-01"}),
        )
        .await;
    assert_eq!(frozen.assert_status(StatusCode::OK)["status"], "frozen");
    for account in [&first_basic, &second_basic] {
        app.transfer(account, &funding, 1).await.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "debits_blocked");
        app.transfer(&funding, account, 1).await.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "credits_blocked");
        let view = app.get(&format!("/v1/accounts/{account}")).await.assert_status(StatusCode::OK).clone();
        assert_eq!((view["ledger"]["debits_blocked"].clone(), view["status"].clone()), (json!(true), json!("normal")));
    }
    app.post(&format!("/v1/customers/{first_customer}/status"), json!({"status": "frozen", "reason": "again"}))
        .await
        .assert_error(StatusCode::CONFLICT, "customer_status_unchanged");
    app.post(&format!("/v1/customers/{first_customer}/status"), json!({"status": "normal", "reason": "lifted"}))
        .await
        .assert_status(StatusCode::OK);
    app.transfer(&second_basic, &first_basic, 500).await.assert_status(StatusCode::CREATED);

    // Cancelled only once its accounts are empty.
    let cancel = format!("/v1/members/{second}/cancel");
    app.post(&cancel, json!({"reason": "user asked"})).await.assert_error(StatusCode::CONFLICT, "account_not_empty");
    app.transfer(&second_basic, &funding, 2_000).await.assert_status(StatusCode::CREATED);
    let cancelled = app.post(&cancel, json!({"reason": "user asked"})).await;
    let cancelled = cancelled.assert_status(StatusCode::OK).clone();
    assert_eq!((cancelled["status"].clone(), cancelled["status_code"].clone()), (json!("cancelled"), json!(3)));
    assert_eq!(cancelled["identities"], json!([]));
    let closed = app.get(&format!("/v1/accounts/{second_basic}")).await.assert_status(StatusCode::OK).clone();
    assert_eq!((closed["status"].clone(), closed["ledger"]["closed"].clone()), (json!("closed"), json!(true)));
    app.post(&cancel, json!({"reason": "twice"})).await.assert_error(StatusCode::CONFLICT, "member_cancelled");

    // The history tells it, with the client as the actor and the reasons given.
    let history = app.get(&format!("/v1/members/{second}/history")).await.assert_status(StatusCode::OK).clone();
    let actions: Vec<&str> =
        history["data"].as_array().unwrap().iter().map(|h| h["action"].as_str().unwrap()).collect();
    assert_eq!(actions.first(), Some(&"member.registered"));
    assert_eq!(actions.last(), Some(&"member.cancelled"));
    let last = history["data"].as_array().unwrap().last().unwrap();
    assert_eq!(last["actor"], format!("client:{}", app.client_id));
    assert_eq!(last["reason"], "user asked");
    let customer_history = app.get(&format!("/v1/customers/{first_customer}/history")).await;
    let customer_history = customer_history.assert_status(StatusCode::OK).clone();
    assert!(customer_history["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h["action"] == "customer.status_changed" && h["reason"] == "court order 2026-01"));
    assert!(!customer_history.to_string().contains(ID_CARD));
});

on_both_backends!(members_lock_open_accounts_and_accounts_change_status_and_close, |db| {
    let app = TestApp::new(db).await;
    let funding = app.funding().await;
    let (member, _, basic) = app.active_member("13900000001").await;

    let got = app.get(&format!("/v1/members/{member}")).await.assert_status(StatusCode::OK).clone();
    assert_eq!(got["id"], member.as_str());
    let locked = app.post(&format!("/v1/members/{member}/lock"), json!({"reason": "suspicious sign-in"})).await;
    let locked = locked.assert_status(StatusCode::OK).clone();
    assert_eq!((locked["lock_status"].clone(), locked["lock_status_code"].clone()), (json!("locked"), json!(1)));
    // A locked member cannot open accounts.
    app.post(&format!("/v1/members/{member}/accounts"), json!({"account_type": "settlement"}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "member_locked");
    app.post(&format!("/v1/members/{member}/lock"), json!({"reason": "again"}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "member_locked");
    let unlocked = app.post(&format!("/v1/members/{member}/unlock"), json!({"reason": "verified by phone"})).await;
    assert_eq!(unlocked.assert_status(StatusCode::OK)["lock_status_code"], 0);

    let opened = app.post(&format!("/v1/members/{member}/accounts"), json!({"account_type": "settlement"})).await;
    let opened = opened.assert_status(StatusCode::CREATED).clone();
    let settlement = opened["id"].as_str().unwrap().to_owned();
    assert_eq!((opened["account_type"].clone(), opened["currency"].clone()), (json!("settlement"), json!("CNY")));
    app.post(&format!("/v1/members/{member}/accounts"), json!({"account_type": "basic"}))
        .await
        .assert_error(StatusCode::CONFLICT, "basic_account_exists");
    app.post(&format!("/v1/members/{member}/accounts"), json!({"account_type": "nope"}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "account_type_not_configured");
    let listed = app.get(&format!("/v1/members/{member}/accounts")).await.assert_status(StatusCode::OK).clone();
    assert_eq!(listed["data"].as_array().unwrap().len(), 2);

    // The account's own status reaches its ledger flags.
    app.transfer(&funding, &settlement, 300).await.assert_status(StatusCode::CREATED);
    let status = format!("/v1/accounts/{settlement}/status");
    let stopped = app.post(&status, json!({"status": "stop_payment", "reason": "dispute"})).await;
    let stopped = stopped.assert_status(StatusCode::OK).clone();
    assert_eq!(stopped["status"], "stop_payment");
    assert_eq!(
        (stopped["ledger"]["debits_blocked"].clone(), stopped["ledger"]["credits_blocked"].clone()),
        (json!(true), json!(false))
    );
    app.transfer(&settlement, &basic, 1).await.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "debits_blocked");
    app.post(&status, json!({"status": "closed", "reason": "tidy"}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "account_close_required");
    app.post(&status, json!({"status": "normal", "reason": "resolved"})).await.assert_status(StatusCode::OK);

    // Closed only when empty.
    let close = format!("/v1/accounts/{settlement}/close");
    app.post(&close, json!({"reason": "not needed"})).await.assert_error(StatusCode::CONFLICT, "account_not_empty");
    app.transfer(&settlement, &basic, 300).await.assert_status(StatusCode::CREATED);
    let closed = app.post(&close, json!({"reason": "not needed"})).await.assert_status(StatusCode::OK).clone();
    assert_eq!(closed["status"], "closed");
    app.post(&close, json!({"reason": "again"})).await.assert_error(StatusCode::CONFLICT, "account_closed");
    assert_eq!(app.balance(&basic).await, 300);
    // Its entries are the ledger's.
    let entries = app.get(&format!("/v1/ledger/accounts/{settlement}/entries")).await;
    assert_eq!(entries.assert_status(StatusCode::OK)["data"].as_array().unwrap().len(), 2);
});

on_both_backends!(customers_are_searched_merged_by_an_administrator_and_their_history_paged, |db| {
    let app = TestApp::new(db).await;
    let (a, customer_a, _) = app.active_member("13700000001").await;
    let (b, customer_b, _) = app.active_member("13700000002").await;
    let authenticated =
        app.post(&format!("/v1/members/{a}/authentications"), app.id_card("李四", OTHER_ID_CARD, "verified")).await;
    authenticated.assert_status(StatusCode::CREATED);
    let by_name = app.get("/v1/customers?name=%E6%9D%8E%E5%9B%9B").await;
    assert_eq!(by_name.assert_status(StatusCode::OK)["data"][0]["id"], customer_a.as_str());
    let none = app.get("/v1/customers?phone=13700000009").await;
    assert_eq!(none.assert_status(StatusCode::OK)["data"], json!([]));

    // A failed authentication changes no customer.
    let failed = app.post(&format!("/v1/members/{b}/authentications"), app.id_card("王五", ID_CARD, "failed")).await;
    let failed = failed.assert_status(StatusCode::CREATED).clone();
    assert_eq!(
        (failed["authentication"]["status"].clone(), failed["certificate_assigned"].clone()),
        (json!("failed"), json!(false))
    );

    // Merged by the client, an administrator, with a reason.
    let merge = format!("/v1/customers/{customer_a}/merge");
    app.post(&merge, json!({"absorbed": customer_a, "reason": "same"}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "merge_same_customer");
    let merged = app.post(&merge, json!({"absorbed": customer_b, "reason": "same person, shown by documents"})).await;
    let merged = merged.assert_status(StatusCode::OK).clone();
    assert_eq!(merged["basis"], "administrator");
    assert_eq!(merged["members_moved"], json!([b]));
    assert_eq!(merged["accounts_moved"].as_array().unwrap().len(), 1);
    app.post(&merge, json!({"absorbed": customer_b, "reason": "again"}))
        .await
        .assert_error(StatusCode::CONFLICT, "customer_merged");
    let member_b = app.get(&format!("/v1/members/{b}")).await.assert_status(StatusCode::OK).clone();
    assert_eq!(member_b["customer_id"], customer_a.as_str());

    // History in pages.
    let mut seen = Vec::new();
    let mut path = format!("/v1/customers/{customer_a}/history?limit=2");
    loop {
        let page = app.get(&path).await.assert_status(StatusCode::OK).clone();
        seen.extend(page["data"].as_array().unwrap().iter().map(|h| h["seq"].as_i64().unwrap()));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/customers/{customer_a}/history?limit=2&after={cursor}"),
            None => break,
        }
    }
    assert!(seen.len() >= 4, "{seen:?}");
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    app.get(&format!("/v1/customers/{customer_a}/history?after=x"))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_cursor");
    app.get(&format!("/v1/customers/{customer_a}/history?limit=0"))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_limit");
});

on_both_backends!(each_input_error_has_its_code, |db| {
    let app = TestApp::new(db).await;
    let (member, customer, basic) = app.active_member("13600000001").await;

    // Values.
    app.post("/v1/members", json!({"phone": "12345"}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "phone_invalid");
    app.post("/v1/members", json!({"phone": "13600000001"})).await.assert_error(StatusCode::CONFLICT, "identity_taken");
    app.post("/v1/members", json!({"phone": "13600000002", "kind": "robot"}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_kind");
    app.post(&format!("/v1/customers/{customer}/status"), json!({"status": "asleep", "reason": "x"}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_status");
    app.post(&format!("/v1/accounts/{basic}/status"), json!({"status": "asleep", "reason": "x"}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_status");
    app.post(&format!("/v1/members/{member}/lock"), json!({"reason": "   "}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "reason_invalid");
    let bad_number = app
        .post(&format!("/v1/members/{member}/authentications"), app.id_card("张三", "110101199003071234", "verified"))
        .await;
    bad_number.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "certificate_check_failed");
    assert!(!bad_number.text.contains("110101199003071234"), "{}", bad_number.text);
    let mut channel = app.id_card("张三", ID_CARD, "verified");
    channel["channel"] = json!("Police Check");
    app.post(&format!("/v1/members/{member}/authentications"), channel)
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "authentication_channel_invalid");

    // The shape of the request.
    app.post("/v1/members", json!({"phone": "13600000003", "colour": "red"}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "unknown_field");
    app.post("/v1/members", json!({})).await.assert_error(StatusCode::BAD_REQUEST, "missing_field");
    app.post("/v1/members", json!({"phone": "13600000003", "email": "a@example.cn"}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_field");
    app.post(&format!("/v1/members/{member}/cancel"), json!({}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "missing_field");
    let mut with_phone = app.id_card("张三", ID_CARD, "verified");
    with_phone["phone"] = json!("13600000001");
    app.post(&format!("/v1/members/{member}/authentications"), with_phone)
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_field");
    app.get(&format!("/v1/members/{customer}")).await.assert_error(StatusCode::BAD_REQUEST, "invalid_id");
    app.get(&format!("/v1/customers/{member}")).await.assert_error(StatusCode::BAD_REQUEST, "invalid_id");
    app.get(&format!("/v1/accounts/{member}")).await.assert_error(StatusCode::BAD_REQUEST, "invalid_id");
    app.post(&format!("/v1/authentications/{member}/decide"), json!({"result": "failed"}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_id");
    app.post(&format!("/v1/customers/{customer}/merge"), json!({"absorbed": member, "reason": "x"}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_id");
    app.get("/v1/customers").await.assert_error(StatusCode::BAD_REQUEST, "missing_parameter");
    app.get("/v1/customers?phone=13600000001&name=x").await.assert_error(StatusCode::BAD_REQUEST, "invalid_query");
    app.get("/v1/customers?colour=red").await.assert_error(StatusCode::BAD_REQUEST, "unknown_parameter");

    // Things that are not there.
    app.get("/v1/members/mem_01JD7S0M8R4Y3V6QF2K9N5X1TB").await.assert_error(StatusCode::NOT_FOUND, "member_not_found");
    app.get("/v1/customers/cus_01JD7S0M8R4Y3V6QF2K9N5X1TB")
        .await
        .assert_error(StatusCode::NOT_FOUND, "customer_not_found");
    app.get("/v1/accounts/acc_01JD7S0M8R4Y3V6QF2K9N5X1TB")
        .await
        .assert_error(StatusCode::NOT_FOUND, "member_account_not_found");
    app.post("/v1/authentications/aut_01JD7S0M8R4Y3V6QF2K9N5X1TB/decide", json!({"result": "failed"}))
        .await
        .assert_error(StatusCode::NOT_FOUND, "authentication_not_found");
    app.get("/v1/members/mem_01JD7S0M8R4Y3V6QF2K9N5X1TB/history")
        .await
        .assert_error(StatusCode::NOT_FOUND, "member_not_found");

    // A banned customer's member cannot act.
    app.post(&format!("/v1/customers/{customer}/status"), json!({"status": "banned", "reason": "fraud"}))
        .await
        .assert_status(StatusCode::OK);
    app.post(&format!("/v1/members/{member}/accounts"), json!({"account_type": "settlement"}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "customer_banned");
});

on_both_backends!(a_change_retried_with_its_idempotency_key_happens_once, |db| {
    let app = TestApp::new(db).await;
    let body = json!({"phone": "13500000001"}).to_string();
    let now_s = clock::now().nanos() / 1_000_000_000;
    let mut responses = Vec::new();
    for _ in 0..2 {
        let headers = signature::sign(&app.key, "POST", "/v1/members", body.as_bytes(), now_s, &signature::new_nonce());
        let mut builder = Request::builder().method("POST").uri("/v1/members").header("idempotency-key", "register-1");
        for (name, value) in headers.with_client(&app.client_id) {
            builder = builder.header(name, value);
        }
        let response = app.router.clone().oneshot(builder.body(Body::from(body.clone())).unwrap()).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        responses.push((status, serde_json::from_slice::<Value>(&bytes).unwrap()));
    }
    assert_eq!(responses[0].0, StatusCode::CREATED);
    assert_eq!(responses[0], responses[1], "the retry gets the first response, not identity_taken");
});
