//! sanhu's HTTP API under `/v1`, for back-end systems calling server to server: the ledger, the
//! three-party model (customers, members, member accounts, real-name authentications, enterprises and
//! their operators, members' security), and the wallet's money flows (recharge, pay, refund,
//! withdraw, freeze, adjust).
//!
//! Architecture invariant: this crate is the only one that knows about HTTP, and it is where input
//! becomes the core's types. Invalid input stops here with a 4xx and a stable code (never a 500,
//! never a panic); below this crate nothing is parsed again.
//!
//! A request passes, outermost first: [`request_id`] (id, span, one log line) → [`catch_panic`] (a
//! panic is a 500, not a dropped connection) → [`timeout`] →
//! [`authentication`] (signature, body buffered within its limit, the client's rate limit) →
//! [`idempotency`] (POSTs with an `Idempotency-Key`) → [`audit`] (every POST's event, committed
//! before its answer) → [`access`] (the route's scope; a bound client's reach, per [`scopes`]) →
//! [`staff::approvals`] (a staff member's request that needs a second one is held) → the handler in
//! [`ledger`], [`party`], [`wallet`] or [`staff`]. Authentication takes a request that carries a staff
//! session cookie and no signature as the staff member's ([`staff`]). `/health`, `/ready`,
//! `/openapi.json` and the staff sign-in are unauthenticated.

pub mod access;
pub mod audit;
pub mod authentication;
mod body;
mod catch_panic;
pub mod channel_status;
pub mod client_cache;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
mod health;
pub mod idempotency;
mod ids;
mod json;
pub mod ledger;
pub mod openapi;
pub mod party;
mod query;
pub mod rate_limit;
pub mod request_id;
pub mod scopes;
pub mod signature;
pub mod staff;
mod timeout;
pub mod wallet;

use axum::extract::DefaultBodyLimit;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use sanhu_core::Currency;
use sanhu_service::audit::{AuditConfig, AuditLog};
use sanhu_service::party::Parties;
use sanhu_service::staff::{Staff, StaffConfig};
use sanhu_service::wallet::{WalletConfig, Wallets};
use sanhu_service::Ledger;

pub use error::{registry, ApiError, ErrorCodeInfo, ERROR_CODES};

/// The server's limits, each with its unit in its name.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// How far a request's signed timestamp may be from the server's clock, either way.
    pub signature_window_s: u32,
    /// Largest request body accepted.
    pub body_bytes_max: usize,
    /// Longest a request may run before it is answered `request_timeout`.
    pub request_timeout_ms: u64,
    /// Largest `limit` a list endpoint accepts.
    pub page_size_max: u32,
    /// The header in which a trusted reverse proxy passes the caller's address (`x-forwarded-for`);
    /// its last entry is the audit log's source address. None: the peer's address is.
    pub trusted_proxy_header: Option<String>,
    /// Requests per second each API client may send, on average, to this instance (see
    /// [`rate_limit`]); at least 1.
    pub rate_limit_per_s: u32,
    /// Requests a client may send at once after being idle; at least 1.
    pub rate_limit_burst: u32,
    /// Whether the staff session cookie is marked `Secure` (sent over HTTPS only): set it wherever
    /// sanhu is reached over HTTPS, as it should be wherever staff sign in from elsewhere.
    pub staff_cookie_secure: bool,
    /// Staff sign-ins each source address (an IPv6 address's /64) may attempt a minute, on average,
    /// on this instance, and at once after being idle; at least 1.
    pub sign_ins_per_address_per_min: u32,
    pub sign_ins_per_address_burst: u32,
    /// API clients this instance remembers at once, each for at most a second
    /// ([`client_cache::CLIENT_TRUSTED_FOR`]); at least 1.
    pub clients_cached_max: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            signature_window_s: 300,
            body_bytes_max: 1024 * 1024,
            request_timeout_ms: 30_000,
            page_size_max: 1000,
            trusted_proxy_header: None,
            // Far above what one client of a payments platform sends, so that a limit is a choice
            // made in configuration, never a surprise.
            rate_limit_per_s: 5_000,
            rate_limit_burst: 10_000,
            staff_cookie_secure: false,
            // Far above what staff signing in by hand need, far below what guessing passwords needs.
            sign_ins_per_address_per_min: 30,
            sign_ins_per_address_burst: 10,
            clients_cached_max: client_cache::CLIENTS_CACHED_MAX,
        }
    }
}

/// What every handler shares. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    ledger: Ledger,
    parties: Parties,
    wallets: Wallets,
    config: HttpConfig,
    /// Started with the state: every router over it records to the same log.
    audit: AuditLog,
    /// Every router over the state counts against the same buckets.
    rate_limits: rate_limit::RateLimits,
    /// Staff sign-ins per source address.
    sign_in_limits: rate_limit::RateLimits,
    staff: Staff,
    /// Where signed requests spend their nonces, in batches; started with the state.
    nonces: sanhu_service::nonces::NonceBook,
    /// The API clients signed requests name, each trusted for at most a second.
    clients: client_cache::ClientCache,
}

impl AppState {
    /// The state with the wallet set up as [`WalletConfig::default_for`] CNY; see
    /// [`AppState::with_wallet`].
    pub fn new(ledger: Ledger, parties: Parties, config: HttpConfig) -> AppState {
        let wallets = Wallets::new(
            parties.clone(),
            ledger.clone(),
            WalletConfig::default_for(Currency::parse("CNY").expect("CNY is a currency")),
        );
        let audit = AuditLog::start(ledger.store().clone(), AuditConfig::default());
        let rate_limits = rate_limit::RateLimits::new(config.rate_limit_per_s, config.rate_limit_burst);
        let sign_in_limits =
            rate_limit::RateLimits::per_minute(config.sign_ins_per_address_per_min, config.sign_ins_per_address_burst);
        let staff = Staff::new(ledger.store().clone(), StaffConfig::default());
        let nonces = sanhu_service::nonces::NonceBook::start(ledger.store().clone(), Default::default());
        let clients = client_cache::ClientCache::new(config.clients_cached_max);
        AppState { audit, ledger, parties, wallets, config, rate_limits, sign_in_limits, staff, nonces, clients }
    }

    /// The same state with staff passwords, lockout and sessions as `staff` says.
    pub fn with_staff(self, staff: StaffConfig) -> AppState {
        AppState { staff: Staff::new(self.ledger.store().clone(), staff), ..self }
    }

    /// The same, hashing at most `permits` allow at once.
    pub fn with_staff_hashing(self, staff: StaffConfig, permits: sanhu_service::hashing::HashingPermits) -> AppState {
        AppState { staff: Staff::with_permits(self.ledger.store().clone(), staff, permits), ..self }
    }

    pub fn staff(&self) -> &Staff {
        &self.staff
    }

    /// The same state with the wallet set up as `wallet` says.
    pub fn with_wallet(self, wallet: WalletConfig) -> AppState {
        let wallets = Wallets::new(self.parties.clone(), self.ledger.clone(), wallet);
        AppState { wallets, ..self }
    }

    pub fn wallets(&self) -> &Wallets {
        &self.wallets
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    pub fn parties(&self) -> &Parties {
        &self.parties
    }

    pub fn config(&self) -> &HttpConfig {
        &self.config
    }

    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    /// The API clients this instance remembers.
    pub fn clients(&self) -> &client_cache::ClientCache {
        &self.clients
    }
}

/// Every (method, path) the API serves. The router is built from this list and the OpenAPI
/// document is checked against it, so neither can gain a route the other lacks.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/health"),
    ("GET", "/ready"),
    ("GET", "/openapi.json"),
    ("POST", "/v1/ledger/accounts"),
    ("GET", "/v1/ledger/accounts"),
    ("GET", "/v1/ledger/accounts/{id}"),
    ("POST", "/v1/ledger/accounts/{id}/close"),
    ("POST", "/v1/ledger/accounts/{id}/blocks"),
    ("GET", "/v1/ledger/accounts/{id}/entries"),
    ("GET", "/v1/ledger/accounts/{id}/balance"),
    ("POST", "/v1/ledger/transfers"),
    ("GET", "/v1/ledger/transfers"),
    ("POST", "/v1/ledger/transfers/batch"),
    ("GET", "/v1/ledger/transfers/{id}"),
    ("POST", "/v1/ledger/transfers/{pending_id}/post"),
    ("POST", "/v1/ledger/transfers/{pending_id}/void"),
    ("GET", "/v1/ledger/balances"),
    ("GET", "/v1/audit-events"),
    ("POST", "/v1/members"),
    ("GET", "/v1/members/{id}"),
    ("POST", "/v1/members/{id}/activate"),
    ("POST", "/v1/members/{id}/lock"),
    ("POST", "/v1/members/{id}/unlock"),
    ("POST", "/v1/members/{id}/cancel"),
    ("GET", "/v1/members/{id}/accounts"),
    ("POST", "/v1/members/{id}/accounts"),
    ("POST", "/v1/members/{id}/authentications"),
    ("GET", "/v1/members/{id}/authentications"),
    ("GET", "/v1/members/{id}/history"),
    ("POST", "/v1/authentications/{id}/decide"),
    ("GET", "/v1/customers"),
    ("GET", "/v1/customers/{id}"),
    ("POST", "/v1/customers/{id}/status"),
    ("POST", "/v1/customers/{id}/merge"),
    ("GET", "/v1/customers/{id}/history"),
    ("GET", "/v1/accounts/{id}"),
    ("POST", "/v1/accounts/{id}/status"),
    ("POST", "/v1/accounts/{id}/close"),
    ("POST", "/v1/enterprises"),
    ("GET", "/v1/members/{id}/company"),
    ("GET", "/v1/members/{id}/operators"),
    ("POST", "/v1/members/{id}/operators"),
    ("GET", "/v1/operators"),
    ("GET", "/v1/operators/{id}"),
    ("POST", "/v1/operators/{id}/role"),
    ("POST", "/v1/operators/{id}/grants"),
    ("POST", "/v1/operators/{id}/grants/revoke"),
    ("POST", "/v1/operators/{id}/limits"),
    ("POST", "/v1/operators/{id}/disable"),
    ("POST", "/v1/operators/{id}/enable"),
    ("POST", "/v1/operators/{id}/remove"),
    ("POST", "/v1/operators/{id}/authorise"),
    ("POST", "/v1/operators/{id}/pay-password"),
    ("POST", "/v1/operators/{id}/pay-password/change"),
    ("POST", "/v1/operators/{id}/pay-password/verify"),
    ("GET", "/v1/members/{id}/identities"),
    ("POST", "/v1/members/{id}/identities"),
    ("POST", "/v1/members/{id}/identities/remove"),
    ("POST", "/v1/members/{id}/phone-change"),
    ("POST", "/v1/members/{id}/phone-change/verify"),
    ("POST", "/v1/members/{id}/phone-change/complete"),
    ("POST", "/v1/one-time-codes"),
    ("POST", "/v1/one-time-codes/verify"),
    ("GET", "/v1/members/{id}/bank-cards"),
    ("POST", "/v1/members/{id}/bank-cards"),
    ("POST", "/v1/bank-cards/{id}/unbind"),
    ("GET", "/v1/bank-cards/{id}/withdrawal-check"),
    ("POST", "/v1/members/{id}/pay-password"),
    ("POST", "/v1/members/{id}/pay-password/change"),
    ("POST", "/v1/members/{id}/pay-password/verify"),
    ("GET", "/v1/platform-accounts"),
    ("GET", "/v1/members/{id}/wallet"),
    ("GET", "/v1/members/{id}/wallet/deduction-order"),
    ("POST", "/v1/members/{id}/wallet/deduction-order"),
    ("GET", "/v1/members/{id}/wallet/withdrawal-preview"),
    ("POST", "/v1/recharges"),
    ("GET", "/v1/recharges/{number}"),
    ("POST", "/v1/recharges/{number}/confirm"),
    ("POST", "/v1/recharges/{number}/approve"),
    ("POST", "/v1/recharges/{number}/reject"),
    ("POST", "/v1/recharges/{number}/fail"),
    ("POST", "/v1/recharges/{number}/close"),
    ("POST", "/v1/payments"),
    ("GET", "/v1/payments/{number}"),
    ("POST", "/v1/payments/{number}/capture"),
    ("POST", "/v1/payments/{number}/release"),
    ("POST", "/v1/payments/{number}/refunds"),
    ("POST", "/v1/withdrawals"),
    ("GET", "/v1/withdrawals/{number}"),
    ("POST", "/v1/withdrawals/{number}/review"),
    ("POST", "/v1/withdrawals/{number}/payout"),
    ("POST", "/v1/freezes"),
    ("GET", "/v1/freezes/{number}"),
    ("POST", "/v1/freezes/{number}/unfreeze"),
    ("POST", "/v1/freezes/{number}/seize"),
    ("POST", "/v1/adjustments"),
    ("GET", "/v1/adjustments/{number}"),
    ("POST", "/v1/adjustments/{number}/approve"),
    ("GET", "/v1/members/{id}/wallet/flow"),
    ("POST", "/v1/recharges/{number}/refunds"),
    ("POST", "/v1/payments/{number}/escrow-release"),
    ("POST", "/v1/payments/{number}/escrow-return"),
    ("POST", "/v1/deposits"),
    ("GET", "/v1/deposits/{number}"),
    ("POST", "/v1/deposits/{number}/release"),
    ("POST", "/v1/deposits/{number}/capture"),
    ("POST", "/v1/member-transfers"),
    ("GET", "/v1/member-transfers/{number}"),
    ("POST", "/v1/subsidy-fundings"),
    ("GET", "/v1/subsidy-fundings/{number}"),
    ("POST", "/v1/subsidy-distributions"),
    ("GET", "/v1/subsidy-distributions/{number}"),
    ("GET", "/v1/members/{id}/subsidy-fund"),
    ("POST", "/v1/staff/sessions"),
    ("GET", "/v1/staff/sessions/current"),
    ("POST", "/v1/staff/sessions/current/logout"),
    ("GET", "/v1/approvals"),
    ("GET", "/v1/approvals/{id}"),
    ("POST", "/v1/approvals/{id}/approve"),
    ("POST", "/v1/approvals/{id}/reject"),
];

/// The POST endpoints whose request or response carries a secret: a pay password, a card number, a
/// one-time code. They take no `Idempotency-Key` (`idempotency_key_not_accepted`), because the
/// idempotency layer keeps a SHA-256 fingerprint of the request and the response itself, and sanhu
/// keeps these secrets nowhere: a plain hash of a 6-digit password or code, or of a card number whose
/// first 6 and last 4 digits are known, gives it up to anyone who tries the candidates. A retry of
/// one of these is answered by the rule instead (`pay_password_already_set`, `card_already_bound`,
/// `code_sent_too_recently`, `code_used`...).
pub const SECRET_BEARING_ROUTES: &[&str] = &[
    "/v1/members/{id}/pay-password",
    "/v1/members/{id}/pay-password/change",
    "/v1/members/{id}/pay-password/verify",
    "/v1/operators/{id}/pay-password",
    "/v1/operators/{id}/pay-password/change",
    "/v1/operators/{id}/pay-password/verify",
    "/v1/members/{id}/bank-cards",
    "/v1/one-time-codes",
    "/v1/one-time-codes/verify",
    "/v1/members/{id}/phone-change",
    "/v1/members/{id}/phone-change/verify",
];

/// Paths under this prefix are signed; the others are public.
const SIGNED_PREFIX: &str = "/v1/";

/// The handler of one entry of [`ROUTES`].
fn endpoint(method: &str, path: &str) -> MethodRouter<AppState> {
    use ledger::{accounts, balances, entries, transfers};
    use party::{accounts as member_accounts, authentications, customers, members};
    use party::{bank_cards, enterprises, identities, one_time_codes, operators, pay_passwords};
    use wallet::{
        adjustments, deposits, freezes, member_transfers, payments, recharges, subsidies, wallets, withdrawals,
    };
    match (method, path) {
        ("GET", "/health") => get(health::health),
        ("GET", "/ready") => get(health::ready),
        ("GET", "/openapi.json") => get(openapi::document),
        ("POST", "/v1/ledger/accounts") => post(accounts::open_account),
        ("GET", "/v1/ledger/accounts") => get(accounts::list_accounts),
        ("GET", "/v1/ledger/accounts/{id}") => get(accounts::get_account),
        ("POST", "/v1/ledger/accounts/{id}/close") => post(accounts::close_account),
        ("POST", "/v1/ledger/accounts/{id}/blocks") => post(accounts::set_account_blocks),
        ("GET", "/v1/ledger/accounts/{id}/entries") => get(entries::account_entries),
        ("GET", "/v1/ledger/accounts/{id}/balance") => get(balances::account_balance),
        ("POST", "/v1/ledger/transfers") => post(transfers::create_transfer),
        ("GET", "/v1/ledger/transfers") => get(transfers::list_transfers),
        ("POST", "/v1/ledger/transfers/batch") => post(transfers::create_batch),
        ("GET", "/v1/ledger/transfers/{id}") => get(transfers::get_transfer),
        ("POST", "/v1/ledger/transfers/{pending_id}/post") => post(transfers::post_pending),
        ("POST", "/v1/ledger/transfers/{pending_id}/void") => post(transfers::void_pending),
        ("GET", "/v1/ledger/balances") => get(balances::balances),
        ("GET", "/v1/audit-events") => get(audit::audit_events),
        ("POST", "/v1/members") => post(members::register_member),
        ("GET", "/v1/members/{id}") => get(members::get_member),
        ("POST", "/v1/members/{id}/activate") => post(members::activate_member),
        ("POST", "/v1/members/{id}/lock") => post(members::lock_member),
        ("POST", "/v1/members/{id}/unlock") => post(members::unlock_member),
        ("POST", "/v1/members/{id}/cancel") => post(members::cancel_member),
        ("GET", "/v1/members/{id}/accounts") => get(member_accounts::member_accounts),
        ("POST", "/v1/members/{id}/accounts") => post(member_accounts::open_account),
        ("POST", "/v1/members/{id}/authentications") => post(authentications::authenticate),
        ("GET", "/v1/members/{id}/authentications") => get(authentications::member_authentications),
        ("GET", "/v1/members/{id}/history") => get(members::member_history),
        ("POST", "/v1/authentications/{id}/decide") => post(authentications::decide_authentication),
        ("GET", "/v1/customers") => get(customers::search_customers),
        ("GET", "/v1/customers/{id}") => get(customers::get_customer),
        ("POST", "/v1/customers/{id}/status") => post(customers::set_customer_status),
        ("POST", "/v1/customers/{id}/merge") => post(customers::merge_customers),
        ("GET", "/v1/customers/{id}/history") => get(customers::customer_history),
        ("GET", "/v1/accounts/{id}") => get(member_accounts::get_account),
        ("POST", "/v1/accounts/{id}/status") => post(member_accounts::set_account_status),
        ("POST", "/v1/accounts/{id}/close") => post(member_accounts::close_account),
        ("POST", "/v1/enterprises") => post(enterprises::register_enterprise),
        ("GET", "/v1/members/{id}/company") => get(enterprises::member_company),
        ("GET", "/v1/members/{id}/operators") => get(operators::member_operators),
        ("POST", "/v1/members/{id}/operators") => post(operators::add_operator),
        ("GET", "/v1/operators") => get(operators::find_operators),
        ("GET", "/v1/operators/{id}") => get(operators::get_operator),
        ("POST", "/v1/operators/{id}/role") => post(operators::change_role),
        ("POST", "/v1/operators/{id}/grants") => post(operators::grant),
        ("POST", "/v1/operators/{id}/grants/revoke") => post(operators::revoke),
        ("POST", "/v1/operators/{id}/limits") => post(operators::set_limits),
        ("POST", "/v1/operators/{id}/disable") => post(operators::disable),
        ("POST", "/v1/operators/{id}/enable") => post(operators::enable),
        ("POST", "/v1/operators/{id}/remove") => post(operators::remove),
        ("POST", "/v1/operators/{id}/authorise") => post(operators::authorise),
        ("POST", "/v1/operators/{id}/pay-password") => post(pay_passwords::set_operator_pay_password),
        ("POST", "/v1/operators/{id}/pay-password/change") => post(pay_passwords::change_operator_pay_password),
        ("POST", "/v1/operators/{id}/pay-password/verify") => post(pay_passwords::verify_operator_pay_password),
        ("GET", "/v1/members/{id}/identities") => get(identities::member_identities),
        ("POST", "/v1/members/{id}/identities") => post(identities::add_identity),
        ("POST", "/v1/members/{id}/identities/remove") => post(identities::remove_identity),
        ("POST", "/v1/members/{id}/phone-change") => post(identities::start_phone_change),
        ("POST", "/v1/members/{id}/phone-change/verify") => post(identities::verify_phone_change),
        ("POST", "/v1/members/{id}/phone-change/complete") => post(identities::complete_phone_change),
        ("POST", "/v1/one-time-codes") => post(one_time_codes::issue_code),
        ("POST", "/v1/one-time-codes/verify") => post(one_time_codes::verify_code),
        ("GET", "/v1/members/{id}/bank-cards") => get(bank_cards::member_bank_cards),
        ("POST", "/v1/members/{id}/bank-cards") => post(bank_cards::bind_bank_card),
        ("POST", "/v1/bank-cards/{id}/unbind") => post(bank_cards::unbind_bank_card),
        ("GET", "/v1/bank-cards/{id}/withdrawal-check") => get(bank_cards::withdrawal_check),
        ("POST", "/v1/members/{id}/pay-password") => post(pay_passwords::set_member_pay_password),
        ("POST", "/v1/members/{id}/pay-password/change") => post(pay_passwords::change_member_pay_password),
        ("POST", "/v1/members/{id}/pay-password/verify") => post(pay_passwords::verify_member_pay_password),
        ("GET", "/v1/platform-accounts") => get(wallet::platform::platform_accounts),
        ("GET", "/v1/members/{id}/wallet") => get(wallets::get_wallet),
        ("GET", "/v1/members/{id}/wallet/deduction-order") => get(wallets::get_deduction_order),
        ("POST", "/v1/members/{id}/wallet/deduction-order") => post(wallets::set_deduction_order),
        ("GET", "/v1/members/{id}/wallet/withdrawal-preview") => get(wallets::withdrawal_preview),
        ("POST", "/v1/recharges") => post(recharges::create_recharge),
        ("GET", "/v1/recharges/{number}") => get(recharges::get_recharge),
        ("POST", "/v1/recharges/{number}/confirm") => post(recharges::confirm_recharge),
        ("POST", "/v1/recharges/{number}/approve") => post(recharges::approve_recharge),
        ("POST", "/v1/recharges/{number}/reject") => post(recharges::reject_recharge),
        ("POST", "/v1/recharges/{number}/fail") => post(recharges::fail_recharge),
        ("POST", "/v1/recharges/{number}/close") => post(recharges::close_recharge),
        ("POST", "/v1/payments") => post(payments::pay),
        ("GET", "/v1/payments/{number}") => get(payments::get_payment),
        ("POST", "/v1/payments/{number}/capture") => post(payments::capture),
        ("POST", "/v1/payments/{number}/release") => post(payments::release),
        ("POST", "/v1/payments/{number}/refunds") => post(payments::refund),
        ("POST", "/v1/withdrawals") => post(withdrawals::withdraw),
        ("GET", "/v1/withdrawals/{number}") => get(withdrawals::get_withdrawal),
        ("POST", "/v1/withdrawals/{number}/review") => post(withdrawals::review_withdrawal),
        ("POST", "/v1/withdrawals/{number}/payout") => post(withdrawals::payout_result),
        ("POST", "/v1/freezes") => post(freezes::freeze),
        ("GET", "/v1/freezes/{number}") => get(freezes::get_freeze),
        ("POST", "/v1/freezes/{number}/unfreeze") => post(freezes::unfreeze),
        ("POST", "/v1/freezes/{number}/seize") => post(freezes::seize),
        ("POST", "/v1/adjustments") => post(adjustments::adjust),
        ("GET", "/v1/adjustments/{number}") => get(adjustments::get_adjustment),
        ("POST", "/v1/adjustments/{number}/approve") => post(adjustments::approve_adjustment),
        ("GET", "/v1/members/{id}/wallet/flow") => get(wallets::wallet_flow),
        ("POST", "/v1/recharges/{number}/refunds") => post(recharges::refund_recharge),
        ("POST", "/v1/payments/{number}/escrow-release") => post(payments::release_escrow),
        ("POST", "/v1/payments/{number}/escrow-return") => post(payments::return_escrow),
        ("POST", "/v1/deposits") => post(deposits::hold),
        ("GET", "/v1/deposits/{number}") => get(deposits::get_deposit),
        ("POST", "/v1/deposits/{number}/release") => post(deposits::release),
        ("POST", "/v1/deposits/{number}/capture") => post(deposits::capture),
        ("POST", "/v1/member-transfers") => post(member_transfers::transfer),
        ("GET", "/v1/member-transfers/{number}") => get(member_transfers::get_transfer),
        ("POST", "/v1/subsidy-fundings") => post(subsidies::fund),
        ("GET", "/v1/subsidy-fundings/{number}") => get(subsidies::get_funding),
        ("POST", "/v1/subsidy-distributions") => post(subsidies::distribute),
        ("GET", "/v1/subsidy-distributions/{number}") => get(subsidies::get_distribution),
        ("GET", "/v1/members/{id}/subsidy-fund") => get(subsidies::get_fund),
        ("POST", "/v1/staff/sessions") => post(staff::sessions::sign_in),
        ("GET", "/v1/staff/sessions/current") => get(staff::sessions::current_session),
        ("POST", "/v1/staff/sessions/current/logout") => post(staff::sessions::sign_out),
        ("GET", "/v1/approvals") => get(staff::approvals::list_approvals),
        ("GET", "/v1/approvals/{id}") => get(staff::approvals::get_approval),
        ("POST", "/v1/approvals/{id}/approve") => post(staff::approvals::approve),
        ("POST", "/v1/approvals/{id}/reject") => post(staff::approvals::reject),
        _ => unreachable!("ROUTES lists {method} {path} without a handler"),
    }
}

/// The API's router, with every layer.
pub fn router(state: AppState) -> Router {
    let mut public = Router::new();
    let mut signed = Router::new();
    for &(method, path) in ROUTES {
        // Signing in is how a staff member gets a credential, so it needs none.
        if path.starts_with(SIGNED_PREFIX) && path != staff::sessions::SIGN_IN_ROUTE {
            signed = signed.route(path, endpoint(method, path));
        } else {
            public = public.route(path, endpoint(method, path));
        }
    }
    // route_layer: an unknown path is answered route_not_found without a signature check.
    let signed = signed
        .method_not_allowed_fallback(method_not_allowed)
        .route_layer(from_fn_with_state(state.clone(), staff::approvals::hold))
        .route_layer(from_fn_with_state(state.clone(), access::check))
        .route_layer(from_fn_with_state(state.clone(), audit::record))
        .route_layer(from_fn_with_state(state.clone(), idempotency::idempotent))
        .route_layer(from_fn_with_state(state.clone(), authentication::authenticate));
    public
        .method_not_allowed_fallback(method_not_allowed)
        .merge(signed)
        .fallback(route_not_found)
        // The authentication layer enforces `body_bytes_max` with its own error code; axum's default
        // limit would answer in plain text.
        .layer(DefaultBodyLimit::disable())
        .layer(from_fn_with_state(state.clone(), timeout::limit_duration))
        .layer(from_fn(catch_panic::catch_panic))
        .layer(from_fn(request_id::track_request))
        .with_state(state)
}

async fn route_not_found() -> ApiError {
    ApiError::new(error::code::ROUTE_NOT_FOUND, "no endpoint has this path; see /openapi.json")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(error::code::METHOD_NOT_ALLOWED, "this endpoint does not accept this method; see /openapi.json")
}
