//! The HTTP server over a fresh database, on SQLite or PostgreSQL, with an API client whose key the
//! test holds: requests are signed as a client signs them and sent through the router.
//!
//! Every response a test receives passes through [`send_to`] (a signed request of the test's own or
//! another client through [`TestApp::send_signed`]): what is checked of every response is checked
//! there, once.

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::Router;
use ed25519_dalek::SigningKey;
use http_body_util::BodyExt;
use sanhu_core::id::{ClientTag, MemberId};
use sanhu_http::signature::{self, SignedHeaders};
use sanhu_http::{router, AppState, HttpConfig};
use sanhu_service::party::{Parties, PartyConfig};
use sanhu_service::wallet::WalletConfig;
use sanhu_service::{clock, Ledger, LedgerConfig};
use sanhu_store::testing::TestDatabase;
use sanhu_store::{AccessStore, ApiClient, LedgerStore, Store};
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::ids::{card_number, id_card};

/// An API client of the tests: its id and one of its keys.
#[derive(Clone)]
pub struct Client {
    pub id: String,
    pub key: SigningKey,
}

impl Client {
    /// The same client signing with another of its keys.
    pub fn with_key(&self, key: &SigningKey) -> Client {
        Client { id: self.id.clone(), key: key.clone() }
    }
}

/// A new API client in `store` named `test`, with all scopes and a new key.
pub async fn new_client(store: &Store) -> Client {
    create_client(store, "test", |client| client).await
}

/// A new API client in `store` with a real client id (cli_ and 26 characters, as `sanhu client
/// create` makes: it is the actor of every change), as `shape` makes it (scopes, binding).
pub async fn create_client(store: &Store, name: &str, shape: impl FnOnce(ApiClient) -> ApiClient) -> Client {
    create_client_with_id(store, clock::new_id::<ClientTag>().to_string(), name, shape).await
}

/// The same, with the client id given.
pub async fn create_client_with_id(
    store: &Store,
    id: String,
    name: &str,
    shape: impl FnOnce(ApiClient) -> ApiClient,
) -> Client {
    let key = SigningKey::from_bytes(&clock::random_bytes());
    let client = shape(ApiClient::new(id.clone(), name.to_owned(), key.verifying_key().to_bytes(), clock::now()));
    store.create_client(&client).await.expect("create the API client");
    Client { id, key }
}

/// A new API client bound to `member` (it acts for that member only), named `name`.
pub async fn bound_client(store: &Store, member: &str, name: &str) -> Client {
    let member = MemberId::parse(member).expect("a member id");
    create_client(store, name, |client| ApiClient { bound_to: Some(member), ..client }).await
}

/// A response with its body parsed as JSON (Null when empty).
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

    /// A refusal: this status and code, an error body and the request's id.
    #[track_caller]
    pub fn assert_error(&self, status: StatusCode, code: &str) {
        assert_eq!((self.status, self.error_code()), (status, code), "{}", self.body);
        assert_eq!(self.body["error"]["request_id"], self.request_id());
    }

    /// The error's code; panics when the answer is not an error.
    #[track_caller]
    pub fn error_code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_else(|| panic!("not an error: {} {}", self.status, self.body))
    }

    /// The error's code, or "" for an answer that is not an error (for a test that only branches on it).
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    pub fn request_id(&self) -> String {
        self.headers.get("x-request-id").expect("X-Request-Id").to_str().unwrap().to_owned()
    }

    /// Whether the answer is a replay of an idempotent request's first answer.
    pub fn replayed(&self) -> bool {
        self.headers.get("idempotent-replayed").is_some_and(|v| v == "true")
    }
}

/// Sends `request` through `router` and reads the whole answer. Every answer carries a request id,
/// has a JSON body or none, and is never a 500.
pub async fn send_to(router: &Router, request: Request<Body>) -> TestResponse {
    let method = request.method().as_str().to_owned();
    let path = request.uri().to_string();
    let response = router.clone().oneshot(request).await.expect("the router is infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.expect("read the body").to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    // A CSV export (`text/csv`) is read as text: its body is Null, its `text` the file.
    let csv =
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|t| t.starts_with("text/csv"));
    let body = if bytes.is_empty() || csv {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|_| panic!("not JSON: {text}"))
    };
    assert!(headers.contains_key("x-request-id"), "every response carries X-Request-Id");
    assert!(status.as_u16() != 500, "no request in these tests should be a 500: {body}");
    if csv {
        return TestResponse { status, headers, body, text };
    }
    if let Err(mismatch) = crate::openapi_check::check(&method, &path, status.as_u16(), &body) {
        panic!("the response is not as the OpenAPI document says: {mismatch}\nbody: {body}");
    }
    TestResponse { status, headers, body, text }
}

/// Now, in the seconds a signature carries.
pub fn now_s() -> i64 {
    clock::now().nanos() / 1_000_000_000
}

/// A signature of `client` over a request, with a new nonce, now.
pub fn sign(client: &Client, method: &str, path: &str, body: &[u8]) -> SignedHeaders {
    signature::sign(&client.key, method, path, body, now_s(), &signature::new_nonce())
}

/// A request of `client_id` carrying `headers` as its signature, and `extra` headers.
pub fn request(
    client_id: &str,
    method: &str,
    path: &str,
    body: &[u8],
    headers: &SignedHeaders,
    extra: &[(&str, &str)],
) -> Request<Body> {
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
    builder.body(Body::from(body.to_vec())).unwrap()
}

/// A request signed by `client` now, with `extra` headers.
pub fn signed(client: &Client, method: &str, path: &str, body: &[u8], extra: &[(&str, &str)]) -> Request<Body> {
    request(&client.id, method, path, body, &sign(client, method, path, body), extra)
}

/// The body of a request: none for Null, else the JSON text.
pub fn body_bytes(body: &Value) -> Vec<u8> {
    if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    }
}

/// How a test's server is set up.
#[derive(Default)]
pub struct Setup {
    pub parties: PartyConfig,
    pub http: HttpConfig,
    /// The wallet, its platform accounts created before the first request; None: the default wallet
    /// and no account the test did not open (a fresh ledger lists only its own).
    pub wallet: Option<WalletConfig>,
    /// Staff as configured (passwords, lockout, sessions); None: the default. Cheap hashing for tests:
    /// [`crate::staff::config`].
    pub staff: Option<sanhu_service::staff::StaffConfig>,
}

/// A server over a fresh database, with one API client whose key the test holds.
pub struct TestApp {
    pub db: TestDatabase,
    pub router: Router,
    pub state: AppState,
    pub client: Client,
}

impl TestApp {
    /// The wallet's server: parties and wallet as given, the platform's accounts created.
    pub async fn new(db: TestDatabase, parties: PartyConfig, wallet: WalletConfig) -> TestApp {
        TestApp::start(db, Setup { parties, wallet: Some(wallet), ..Setup::default() }).await
    }

    /// A server with the ledger and the parties as given, and nothing opened.
    pub async fn plain(db: TestDatabase, parties: PartyConfig) -> TestApp {
        TestApp::start(db, Setup { parties, ..Setup::default() }).await
    }

    pub async fn start(db: TestDatabase, setup: Setup) -> TestApp {
        let ledger = Ledger::start(db.store.clone(), LedgerConfig::default());
        let parties = Parties::new(db.store.clone(), setup.parties);
        let client = new_client(&db.store).await;
        let mut state = AppState::new(ledger, parties, setup.http);
        if let Some(wallet) = setup.wallet {
            state = state.with_wallet(wallet);
            state.wallets().ensure_platform_accounts().await.expect("the platform's accounts");
        }
        if let Some(staff) = setup.staff {
            state = state.with_staff(staff);
        }
        let router = router(state.clone());
        TestApp { db, router, state, client }
    }

    /// The same server with webhooks sent as `config` says (tests allow plain http to loopback).
    pub fn with_webhooks(mut self, config: sanhu_service::webhook::WebhookConfig) -> TestApp {
        self.state = self.state.clone().with_webhooks(config);
        self.router = router(self.state.clone());
        self
    }

    /// A second instance over the same ledger and parties with other limits (its own rate limits and
    /// nonce book, as a second server has).
    pub fn router_with(&self, config: HttpConfig) -> Router {
        router(AppState::new(self.state.ledger().clone(), self.state.parties().clone(), config))
    }

    /// Any request through the test's router.
    pub async fn send(&self, request: Request<Body>) -> TestResponse {
        send_to(&self.router, request).await
    }

    /// A request signed by `client` now, with `extra` headers, through the test's router: the one
    /// path of every signed request the helpers below send.
    pub async fn send_signed(
        &self,
        client: &Client,
        method: &str,
        path: &str,
        body: &[u8],
        extra: &[(&str, &str)],
    ) -> TestResponse {
        self.send(signed(client, method, path, body, extra)).await
    }

    /// A request of the test's own client.
    pub async fn send_with(&self, method: &str, path: &str, body: &[u8], extra: &[(&str, &str)]) -> TestResponse {
        self.send_signed(&self.client, method, path, body, extra).await
    }

    /// A request signed by another client than the test's own (Null: no body).
    pub async fn send_as(&self, client: &Client, method: &str, path: &str, body: Value) -> TestResponse {
        self.send_signed(client, method, path, &body_bytes(&body), &[]).await
    }

    pub async fn get(&self, path: &str) -> TestResponse {
        self.send_with("GET", path, b"", &[]).await
    }

    pub async fn post(&self, path: &str, body: Value) -> TestResponse {
        self.send_with("POST", path, body.to_string().as_bytes(), &[]).await
    }

    /// A POST of a body exactly as written (a number serde_json would write otherwise, say).
    pub async fn post_raw(&self, path: &str, body: &str) -> TestResponse {
        self.send_with("POST", path, body.as_bytes(), &[]).await
    }

    /// A POST under an Idempotency-Key.
    pub async fn post_keyed(&self, path: &str, key: &str, body: Value) -> TestResponse {
        self.send_with("POST", path, body.to_string().as_bytes(), &[("idempotency-key", key)]).await
    }

    /// The test's client's signature over a request, now.
    pub fn sign(&self, method: &str, path: &str, body: &[u8]) -> SignedHeaders {
        sign(&self.client, method, path, body)
    }

    /// A request of the test's client carrying `headers` as its signature.
    pub fn request(&self, method: &str, path: &str, body: &[u8], headers: &SignedHeaders) -> Request<Body> {
        request(&self.client.id, method, path, body, headers, &[])
    }

    /// A request signed by the test's client now, to send as it is or to spoil first.
    pub fn signed(&self, method: &str, path: &str, body: &[u8]) -> Request<Body> {
        signed(&self.client, method, path, body, &[])
    }

    /// Registers a personal member by phone; returns (member id, customer id).
    pub async fn register(&self, phone: &str) -> (String, String) {
        let registered = self.post("/v1/members", json!({"phone": phone})).await;
        let body = registered.assert_status(StatusCode::CREATED);
        (body["member"]["id"].as_str().unwrap().to_owned(), body["customer"]["id"].as_str().unwrap().to_owned())
    }

    /// Activates a member; returns its basic account's id.
    pub async fn activate(&self, member: &str) -> String {
        let activated = self.post(&format!("/v1/members/{member}/activate"), json!({})).await;
        activated.assert_status(StatusCode::OK)["accounts"][0]["id"].as_str().unwrap().to_owned()
    }

    /// Registers and activates a personal member by phone; returns (member id, basic account id).
    pub async fn active_member(&self, phone: &str) -> (String, String) {
        let (member, _) = self.register(phone).await;
        let basic = self.activate(&member).await;
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

    /// Opens a ledger account; returns its id.
    pub async fn open_account(&self, body: Value) -> String {
        let response = self.post("/v1/ledger/accounts", body).await;
        response.assert_status(StatusCode::CREATED)["id"].as_str().unwrap().to_owned()
    }

    /// A debit-normal platform ledger account (unlimited) that funds others.
    pub async fn funding(&self) -> String {
        self.open_account(json!({"currency": "CNY", "normal_side": "debit"})).await
    }

    /// A ledger transfer of `amount`.
    pub async fn transfer(&self, debit: &str, credit: &str, amount: i64) -> TestResponse {
        self.post(
            "/v1/ledger/transfers",
            json!({"debit_account_id": debit, "credit_account_id": credit, "amount": amount}),
        )
        .await
    }

    /// A ledger account as the API shows it.
    pub async fn account(&self, id: &str) -> Value {
        let response = self.get(&format!("/v1/ledger/accounts/{id}")).await;
        response.assert_status(StatusCode::OK).clone()
    }

    pub async fn balance(&self, account: &str) -> i64 {
        self.account(account).await["balance"].as_i64().unwrap()
    }

    /// The balance of the platform account named `name`.
    pub async fn platform_balance(&self, name: &str) -> i64 {
        let listed = self.get("/v1/platform-accounts").await;
        let list = listed.assert_status(StatusCode::OK)["data"].as_array().unwrap().clone();
        let account = list.iter().find(|a| a["name"] == name).unwrap_or_else(|| panic!("no platform account {name}"));
        account["account"]["balance"].as_i64().unwrap()
    }

    /// Signs `products` for `merchant`, as a payment to it or a flow of its accounts needs: a merchant
    /// at the top applies (the platform's client) and the platform approves (staff's review, maker and
    /// checker, is what the products tests take through); a merchant under a parent is authorised by
    /// its parent, which must have them signed. Answers nothing; panics if a step is refused.
    pub async fn sign_products(&self, merchant: &str, products: &[&str]) {
        let read = self.get(&format!("/v1/merchants/{merchant}")).await;
        let parent = read.assert_status(StatusCode::OK)["parent_id"].as_str().map(str::to_owned);
        let id = sanhu_core::id::MerchantId::parse(merchant).expect("a merchant id");
        for product in products {
            match &parent {
                None => {
                    let applied =
                        self.post(&format!("/v1/merchants/{merchant}/products"), json!({"product": product})).await;
                    applied.assert_status(StatusCode::CREATED);
                    let system = sanhu_core::party::Actor::System;
                    let signed = self.state.parties().review_product(id, product, true, None, &system, Some(&system));
                    let signed = signed.await.unwrap_or_else(|e| panic!("signing {product} for {merchant}: {e:?}"));
                    assert!(signed.in_effect, "{product} is signed for {merchant}");
                }
                Some(parent) => {
                    let path = format!("/v1/merchants/{parent}/products/{product}/authorise");
                    self.post(&path, json!({"merchant_id": merchant})).await.assert_status(StatusCode::OK);
                }
            }
        }
    }

    /// The ledger's verify checks: double entry, balances from entries, conservation per currency.
    pub async fn verify_clean(&self) {
        let report = self.db.store.verify().await.unwrap();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
    }
}
