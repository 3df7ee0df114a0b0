//! A server over a fresh database, on SQLite or PostgreSQL, with one API client whose key the test
//! holds: requests are signed as a client signs them and sent through the router.

#![allow(dead_code)]

pub mod openapi_check;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use ed25519_dalek::SigningKey;
use http_body_util::BodyExt;
use sanhu_core::id::ClientTag;
use sanhu_http::signature;
use sanhu_http::{router, AppState, HttpConfig};
use sanhu_service::party::{Parties, PartyConfig};
use sanhu_service::wallet::WalletConfig;
use sanhu_service::{clock, Ledger, LedgerConfig};
use sanhu_store::testing::TestDatabase;
use sanhu_store::{ApiClient, LedgerStore, Store};
use serde_json::{json, Value};
use tower::ServiceExt;

pub struct TestApp {
    pub db: TestDatabase,
    pub router: Router,
    pub state: AppState,
    pub client_id: String,
    key: SigningKey,
}

pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl TestResponse {
    #[track_caller]
    pub fn assert_status(&self, expected: StatusCode) -> &Value {
        assert_eq!(self.status, expected, "{}", self.body);
        &self.body
    }

    #[track_caller]
    pub fn assert_error(&self, status: StatusCode, code: &str) {
        let actual = self.body["error"]["code"].as_str().unwrap_or_else(|| panic!("not an error: {}", self.body));
        assert_eq!((self.status, actual), (status, code), "{}", self.body);
        let request_id = self.headers.get("x-request-id").expect("X-Request-Id").to_str().unwrap();
        assert_eq!(self.body["error"]["request_id"], request_id);
    }

    /// The error's code, for a test that only branches on it.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

/// A new API client in `store`, with its signing key.
pub async fn new_client(store: &Store) -> (String, SigningKey) {
    let key = SigningKey::from_bytes(&clock::random_bytes());
    // A real client id (cli_ and 26 characters), as `sanhu client create` makes: it is the actor of
    // every change.
    let client_id = clock::new_id::<ClientTag>().to_string();
    let client = ApiClient::new(client_id.clone(), "test".to_owned(), key.verifying_key().to_bytes(), clock::now());
    store.create_client(&client).await.expect("create the API client");
    (client_id, key)
}

impl TestApp {
    pub async fn new(db: TestDatabase, parties: PartyConfig, wallet: WalletConfig) -> TestApp {
        let ledger = Ledger::start(db.store.clone(), LedgerConfig::default());
        let parties = Parties::new(db.store.clone(), parties);
        let (client_id, key) = new_client(&db.store).await;
        let state = AppState::new(ledger, parties, HttpConfig::default()).with_wallet(wallet);
        state.wallets().ensure_platform_accounts().await.expect("the platform's accounts");
        let router = router(state.clone());
        TestApp { db, router, state, client_id, key }
    }

    pub async fn send_with(&self, method: &str, path: &str, body: &[u8], extra: &[(&str, &str)]) -> TestResponse {
        self.send_signed(&self.client_id, &self.key, method, path, body, extra).await
    }

    /// A request signed by another client than the test's own.
    pub async fn send_as(&self, client: &(String, SigningKey), method: &str, path: &str, body: Value) -> TestResponse {
        let body = if body.is_null() { Vec::new() } else { body.to_string().into_bytes() };
        self.send_signed(&client.0, &client.1, method, path, &body, &[]).await
    }

    async fn send_signed(
        &self,
        client_id: &str,
        key: &SigningKey,
        method: &str,
        path: &str,
        body: &[u8],
        extra: &[(&str, &str)],
    ) -> TestResponse {
        let now_s = clock::now().nanos() / 1_000_000_000;
        let headers = signature::sign(key, method, path, body, now_s, &signature::new_nonce());
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .header("content-length", body.len());
        for (name, value) in headers.with_client(client_id) {
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
        if let Err(mismatch) = openapi_check::check(method, path, status.as_u16(), &body) {
            panic!("the response is not as the OpenAPI document says: {mismatch}\nbody: {body}");
        }
        TestResponse { status, headers, body, text }
    }

    pub async fn get(&self, path: &str) -> TestResponse {
        self.send_with("GET", path, b"", &[]).await
    }

    pub async fn post(&self, path: &str, body: Value) -> TestResponse {
        self.send_with("POST", path, body.to_string().as_bytes(), &[]).await
    }

    /// A POST under an Idempotency-Key.
    pub async fn post_keyed(&self, path: &str, key: &str, body: Value) -> TestResponse {
        self.send_with("POST", path, body.to_string().as_bytes(), &[("idempotency-key", key)]).await
    }

    /// Registers and activates a personal member by phone; returns (member id, basic account id).
    pub async fn active_member(&self, phone: &str) -> (String, String) {
        let registered = self.post("/v1/members", json!({"phone": phone})).await;
        let member = registered.assert_status(StatusCode::CREATED)["member"]["id"].as_str().unwrap().to_owned();
        let activated = self.post(&format!("/v1/members/{member}/activate"), json!({})).await;
        let basic = activated.assert_status(StatusCode::OK)["accounts"][0]["id"].as_str().unwrap().to_owned();
        (member, basic)
    }

    /// Opens an account of `account_type` for the member; returns its id.
    pub async fn open(&self, member: &str, account_type: &str) -> String {
        let opened = self.post(&format!("/v1/members/{member}/accounts"), json!({"account_type": account_type})).await;
        opened.assert_status(StatusCode::CREATED)["id"].as_str().unwrap().to_owned()
    }

    /// Gives the member the verified real name `name` with the `n`th test ID card number.
    pub async fn real_name(&self, member: &str, name: &str, n: u32) {
        let body = json!({"type": "id_card", "channel": "police_id_check", "name": name,
                          "certificate_type": "id_card", "certificate_number": id_card(n), "result": "verified"});
        self.post(&format!("/v1/members/{member}/authentications"), body).await.assert_status(StatusCode::CREATED);
    }

    /// Binds the `n`th test card in `holder`'s name to the member; returns the card's id.
    pub async fn bind_card(&self, member: &str, holder: &str, n: u32) -> String {
        let body = json!({"card_number": card_number(n), "holder": holder});
        let bound = self.post(&format!("/v1/members/{member}/bank-cards"), body).await;
        bound.assert_status(StatusCode::CREATED)["id"].as_str().unwrap().to_owned()
    }

    /// Recharges `amount` into `account` through `channel` and confirms it; returns the order.
    pub async fn recharge(&self, member: &str, account: &str, amount: i64, channel: &str, number: &str) -> Value {
        let body = json!({"order_number": number, "member_id": member, "account_id": account, "amount": amount, "channel": channel});
        self.post("/v1/recharges", body).await.assert_status(StatusCode::CREATED);
        let confirmed = self.post(&format!("/v1/recharges/{number}/confirm"), json!({})).await;
        confirmed.assert_status(StatusCode::OK).clone()
    }

    pub async fn wallet(&self, member: &str) -> Value {
        self.get(&format!("/v1/members/{member}/wallet")).await.assert_status(StatusCode::OK).clone()
    }

    pub async fn balance(&self, account: &str) -> i64 {
        let view = self.get(&format!("/v1/ledger/accounts/{account}")).await;
        view.assert_status(StatusCode::OK)["balance"].as_i64().unwrap()
    }

    /// The balance of the platform account named `name`.
    pub async fn platform_balance(&self, name: &str) -> i64 {
        let listed = self.get("/v1/platform-accounts").await;
        let list = listed.assert_status(StatusCode::OK)["data"].as_array().unwrap().clone();
        let account = list.iter().find(|a| a["name"] == name).unwrap_or_else(|| panic!("no platform account {name}"));
        account["account"]["balance"].as_i64().unwrap()
    }

    /// The ledger's verify checks: double entry, balances from entries, conservation per currency.
    pub async fn verify_clean(&self) {
        let report = self.db.store.verify().await.unwrap();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
    }
}

/// The `n`th test ID card number (GB 11643: 17 digits and a check character).
pub fn id_card(n: u32) -> String {
    let body = format!("11010119900307{:03}", n % 1000);
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body.bytes().zip(WEIGHTS).map(|(b, w)| u32::from(b - b'0') * w).sum();
    let check = b"10X98765432"[(sum % 11) as usize] as char;
    format!("{body}{check}")
}

/// The `n`th test bank card number (19 digits passing the Luhn check).
pub fn card_number(n: u32) -> String {
    let body = format!("622202{:012}", n);
    let sum: u32 = body
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                let doubled = d * 2;
                if doubled > 9 {
                    doubled - 9
                } else {
                    doubled
                }
            } else {
                d
            }
        })
        .sum();
    format!("{body}{}", (10 - sum % 10) % 10)
}
