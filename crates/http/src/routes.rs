//! The route table: every endpoint of the API, declared once, with its handler, who may call it
//! ([`Access`]: its scope and how far a client bound to one member reaches), whether its body carries
//! a secret and whether a staff member's request to it waits for a second one. The router
//! ([`crate::router`]), the access layer ([`crate::access`]), the idempotency layer's refusal of keys
//! on secret-bearing routes, maker-checker ([`crate::staff::approvals`]) and the OpenAPI document
//! ([`crate::openapi`]) are all made from it.
//!
//! An endpoint is one line of a section, each section a [`Capability`]:
//!
//! ```text
//! endpoint!(accounts::open_account, platform(LedgerWrite)),
//! ```
//!
//! names a handler annotated with `#[utoipa::path(post, path = "/v1/ledger/accounts", ...)]`: its
//! method and path are the annotation's, so a path is written once, and its operation in the OpenAPI
//! document is the annotation's with what every operation shares added ([`crate::openapi`]). Until
//! the three-party model's and the wallet's handlers are annotated, their entries are
//! `legacy!(POST "/v1/members", members::register_member, platform(PartiesWrite))`: method and path
//! written here, and their operation taken from the hand-written document of before
//! (`openapi_legacy.json`). `.secret()` marks a POST whose request or response carries a secret (it
//! takes no Idempotency-Key); `.held()` one that, made by a staff member, waits for a second one.

use std::sync::LazyLock;

use axum::routing::{MethodFilter, MethodRouter};
use serde_json::Value;

use crate::error::Capability;
use crate::scopes::Scope::*;
use crate::scopes::*;
use crate::state::AppState;
use crate::{audit, health, ledger, openapi, party, staff, wallet};

/// One endpoint of the API.
pub struct Route {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// The path template, as axum matches it (`/v1/ledger/accounts/{id}`).
    pub path: &'static str,
    pub access: Access,
    pub capability: Capability,
    /// The POST's request or response carries a secret (a pay password, a card number, a one-time
    /// code): it takes no Idempotency-Key (`idempotency_key_not_accepted`), because the idempotency
    /// layer keeps a SHA-256 fingerprint of the request and the response itself, and sanhu keeps these
    /// secrets nowhere: a plain hash of a 6-digit password or code, or of a card number whose first 6
    /// and last 4 digits are known, gives it up to anyone who tries the candidates. A retry of one of
    /// these is answered by the rule instead (`pay_password_already_set`, `card_already_bound`,
    /// `code_sent_too_recently`, `code_used`...).
    pub secret: bool,
    /// Made by a staff member, the request waits for a second one ([`crate::staff::approvals`]).
    pub held: bool,
    pub(crate) handler: MethodRouter<AppState>,
    pub(crate) doc: Doc,
}

impl Route {
    /// Whether requests to it are signed (or come with a staff session).
    pub fn signed(&self) -> bool {
        self.access.reach != Reach::Public
    }
}

/// Where an endpoint's operation in the OpenAPI document comes from.
pub(crate) enum Doc {
    /// The handler's `#[utoipa::path]`: its operation, and the schemas it refers to.
    Annotated { operation: Value, schemas: Vec<(String, Value)> },
    /// The hand-written document of before (`openapi_legacy.json`).
    Legacy,
}

/// An entry of a section, before the section says its capability.
pub struct Endpoint {
    method: &'static str,
    path: &'static str,
    access: Access,
    secret: bool,
    held: bool,
    handler: MethodRouter<AppState>,
    doc: Doc,
}

impl Endpoint {
    /// A handler annotated with `#[utoipa::path]`, as `utoipa_axum::routes!` collects it.
    pub fn annotated(
        (schemas, paths, handler): utoipa_axum::router::UtoipaMethodRouter<AppState>,
        access: Access,
    ) -> Endpoint {
        let paths = serde_json::to_value(&paths).expect("a path serialises");
        let (path, item) = paths.as_object().and_then(|p| p.iter().next()).expect("the handler has a path");
        let (method, operation) = item.as_object().and_then(|i| i.iter().next()).expect("the path has an operation");
        let schemas = schemas
            .into_iter()
            .map(|(name, schema)| (name, serde_json::to_value(&schema).expect("a schema serialises")))
            .collect();
        Endpoint {
            method: leak(method.to_uppercase()),
            path: leak(path.clone()),
            access,
            secret: false,
            held: false,
            handler,
            doc: Doc::Annotated { operation: operation.clone(), schemas },
        }
    }

    /// An endpoint whose operation is still the hand-written document's.
    pub fn legacy(
        method: &'static str,
        path: &'static str,
        handler: MethodRouter<AppState>,
        access: Access,
    ) -> Endpoint {
        Endpoint { method, path, access, secret: false, held: false, handler, doc: Doc::Legacy }
    }

    /// Its request or response carries a secret: see [`Route::secret`].
    pub fn secret(self) -> Endpoint {
        Endpoint { secret: true, ..self }
    }

    /// Made by a staff member, it waits for a second one: see [`Route::held`].
    pub fn held(self) -> Endpoint {
        Endpoint { held: true, ..self }
    }

    fn of(self, capability: Capability) -> Route {
        let Endpoint { method, path, access, secret, held, handler, doc } = self;
        Route { method, path, access, capability, secret, held, handler, doc }
    }
}

/// The path and method of a table built once are kept for the process's life.
fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

/// An annotated handler: `endpoint!(accounts::open_account, platform(LedgerWrite))`.
macro_rules! endpoint {
    ($($handler:ident)::+, $access:expr) => {
        Endpoint::annotated(utoipa_axum::routes!($($handler)::+), $access)
    };
}

/// A handler not annotated yet: `legacy!(POST "/v1/members", members::register_member, access)`.
macro_rules! legacy {
    ($method:ident $path:literal, $handler:path, $access:expr) => {
        Endpoint::legacy(stringify!($method), $path, MethodRouter::new().on(MethodFilter::$method, $handler), $access)
    };
}

static TABLE: LazyLock<Vec<Route>> = LazyLock::new(|| {
    let sections = [
        (Capability::Operations, operations_endpoints()),
        (Capability::Ledger, ledger_endpoints()),
        (Capability::Audit, audit_endpoints()),
        (Capability::Party, party_endpoints()),
        (Capability::Wallet, wallet_endpoints()),
        (Capability::Staff, staff_endpoints()),
    ];
    sections
        .into_iter()
        .flat_map(|(capability, endpoints)| endpoints.into_iter().map(move |e| e.of(capability)))
        .collect()
});

/// Every endpoint, in the table's order.
pub fn all() -> &'static [Route] {
    &TABLE
}

/// The endpoint of a method and path template, if the API has it.
pub fn find(method: &str, path: &str) -> Option<&'static Route> {
    all().iter().find(|route| route.method == method && route.path == path)
}

/// Unauthenticated, for operators and load balancers.
fn operations_endpoints() -> Vec<Endpoint> {
    vec![
        endpoint!(health::health, public()),
        endpoint!(health::ready, public()),
        endpoint!(openapi::document, public()),
    ]
}

/// The raw ledger: accounts, transfers and holds, entries and balances (`crate::ledger`).
fn ledger_endpoints() -> Vec<Endpoint> {
    use ledger::{accounts, balances, entries, transfers};
    vec![
        endpoint!(accounts::open_account, platform(LedgerWrite)),
        endpoint!(accounts::list_accounts, platform(LedgerRead)),
        endpoint!(accounts::get_account, platform(LedgerRead)),
        endpoint!(accounts::close_account, platform(LedgerWrite)),
        endpoint!(accounts::set_account_blocks, platform(LedgerWrite)).held(),
        endpoint!(entries::account_entries, platform(LedgerRead)),
        endpoint!(balances::account_balance, platform(LedgerRead)),
        endpoint!(transfers::create_transfer, platform(LedgerWrite)),
        endpoint!(transfers::list_transfers, platform(LedgerRead)),
        endpoint!(transfers::create_batch, platform(LedgerWrite)),
        endpoint!(transfers::get_transfer, platform(LedgerRead)),
        endpoint!(transfers::post_pending, platform(LedgerWrite)),
        endpoint!(transfers::void_pending, platform(LedgerWrite)),
        endpoint!(balances::balances, platform(LedgerRead)),
    ]
}

/// The audit log (`crate::audit`).
fn audit_endpoints() -> Vec<Endpoint> {
    vec![endpoint!(audit::audit_events, platform(AuditRead))]
}

/// The three-party model: members, customers, member accounts, authentications, enterprises and
/// operators, and members' security (`crate::party`).
fn party_endpoints() -> Vec<Endpoint> {
    use party::{accounts as member_accounts, authentications, customers, members};
    use party::{bank_cards, enterprises, identities, one_time_codes, operators, pay_passwords};
    vec![
        legacy!(POST "/v1/members", members::register_member, platform(PartiesWrite)),
        legacy!(GET "/v1/members/{id}", members::get_member, member(PartiesRead, MEMBER_PATH)),
        legacy!(POST "/v1/members/{id}/activate", members::activate_member, member(PartiesWrite, MEMBER_PATH)),
        legacy!(POST "/v1/members/{id}/lock", members::lock_member, member(PartiesWrite, MEMBER_PATH)),
        legacy!(POST "/v1/members/{id}/unlock", members::unlock_member, member(PartiesWrite, MEMBER_PATH)),
        legacy!(POST "/v1/members/{id}/cancel", members::cancel_member, member(PartiesWrite, MEMBER_PATH)),
        legacy!(GET "/v1/members/{id}/accounts", member_accounts::member_accounts, member(PartiesRead, MEMBER_PATH)),
        legacy!(POST "/v1/members/{id}/accounts", member_accounts::open_account, member(PartiesWrite, MEMBER_PATH)),
        legacy!(POST "/v1/members/{id}/authentications", authentications::authenticate, platform(PartiesWrite)),
        legacy!(GET "/v1/members/{id}/authentications", authentications::member_authentications, member(PartiesRead, MEMBER_PATH)),
        legacy!(GET "/v1/members/{id}/history", members::member_history, member(PartiesRead, MEMBER_PATH)),
        legacy!(POST "/v1/authentications/{id}/decide", authentications::decide_authentication, platform(AdminWrite)),
        legacy!(GET "/v1/customers", customers::search_customers, platform(AdminRead)),
        legacy!(GET "/v1/customers/{id}", customers::get_customer, platform(AdminRead)),
        legacy!(POST "/v1/customers/{id}/status", customers::set_customer_status, platform(AdminWrite)).held(),
        legacy!(POST "/v1/customers/{id}/merge", customers::merge_customers, platform(AdminWrite)).held(),
        legacy!(GET "/v1/customers/{id}/history", customers::customer_history, platform(AdminRead)),
        legacy!(GET "/v1/accounts/{id}", member_accounts::get_account, member(PartiesRead, ACCOUNT_PATH)),
        legacy!(POST "/v1/accounts/{id}/status", member_accounts::set_account_status, platform(AdminWrite)).held(),
        legacy!(POST "/v1/accounts/{id}/close", member_accounts::close_account, member(PartiesWrite, ACCOUNT_PATH)),
        legacy!(POST "/v1/enterprises", enterprises::register_enterprise, platform(PartiesWrite)),
        legacy!(GET "/v1/members/{id}/company", enterprises::member_company, member(PartiesRead, MEMBER_PATH)),
        legacy!(GET "/v1/members/{id}/operators", operators::member_operators, member(PartiesRead, MEMBER_PATH)),
        legacy!(POST "/v1/members/{id}/operators", operators::add_operator, member(PartiesWrite, MEMBER_AND_ACTING_OPERATOR)),
        legacy!(GET "/v1/operators", operators::find_operators, filtered(PartiesRead)),
        legacy!(GET "/v1/operators/{id}", operators::get_operator, member(PartiesRead, OPERATOR_PATH)),
        legacy!(POST "/v1/operators/{id}/role", operators::change_role, member(PartiesWrite, MANAGED_OPERATOR)),
        legacy!(POST "/v1/operators/{id}/grants", operators::grant, member(PartiesWrite, GRANTED_OPERATOR)),
        legacy!(POST "/v1/operators/{id}/grants/revoke", operators::revoke, member(PartiesWrite, GRANTED_OPERATOR)),
        legacy!(POST "/v1/operators/{id}/limits", operators::set_limits, member(PartiesWrite, MANAGED_OPERATOR)).held(),
        legacy!(POST "/v1/operators/{id}/disable", operators::disable, member(PartiesWrite, MANAGED_OPERATOR)),
        legacy!(POST "/v1/operators/{id}/enable", operators::enable, member(PartiesWrite, MANAGED_OPERATOR)),
        legacy!(POST "/v1/operators/{id}/remove", operators::remove, member(PartiesWrite, MANAGED_OPERATOR)),
        legacy!(POST "/v1/operators/{id}/authorise", operators::authorise, member(PartiesWrite, AUTHORISED_OPERATOR)),
        legacy!(POST "/v1/operators/{id}/pay-password", pay_passwords::set_operator_pay_password, member(PartiesWrite, OPERATOR_PATH)).secret(),
        legacy!(POST "/v1/operators/{id}/pay-password/change", pay_passwords::change_operator_pay_password, member(PartiesWrite, OPERATOR_PATH)).secret(),
        legacy!(POST "/v1/operators/{id}/pay-password/verify", pay_passwords::verify_operator_pay_password, member(PartiesWrite, OPERATOR_PATH)).secret(),
        legacy!(GET "/v1/members/{id}/identities", identities::member_identities, member(PartiesRead, MEMBER_PATH)),
        legacy!(POST "/v1/members/{id}/identities", identities::add_identity, member(PartiesWrite, MEMBER_PATH)),
        legacy!(POST "/v1/members/{id}/identities/remove", identities::remove_identity, member(PartiesWrite, MEMBER_PATH)),
        legacy!(POST "/v1/members/{id}/phone-change", identities::start_phone_change, member(PartiesWrite, MEMBER_PATH)).secret(),
        legacy!(POST "/v1/members/{id}/phone-change/verify", identities::verify_phone_change, member(PartiesWrite, MEMBER_PATH)).secret(),
        legacy!(POST "/v1/members/{id}/phone-change/complete", identities::complete_phone_change, member(PartiesWrite, MEMBER_PATH)),
        legacy!(POST "/v1/one-time-codes", one_time_codes::issue_code, platform(PartiesWrite)).secret(),
        legacy!(POST "/v1/one-time-codes/verify", one_time_codes::verify_code, platform(PartiesWrite)).secret(),
        legacy!(GET "/v1/members/{id}/bank-cards", bank_cards::member_bank_cards, member(PartiesRead, MEMBER_PATH)),
        legacy!(POST "/v1/members/{id}/bank-cards", bank_cards::bind_bank_card, member(PartiesWrite, MEMBER_PATH)).secret(),
        legacy!(POST "/v1/bank-cards/{id}/unbind", bank_cards::unbind_bank_card, member(PartiesWrite, UNBOUND_CARD)),
        legacy!(GET "/v1/bank-cards/{id}/withdrawal-check", bank_cards::withdrawal_check, member(PartiesRead, CHECKED_CARD)),
        legacy!(POST "/v1/members/{id}/pay-password", pay_passwords::set_member_pay_password, member(PartiesWrite, MEMBER_PATH)).secret(),
        legacy!(POST "/v1/members/{id}/pay-password/change", pay_passwords::change_member_pay_password, member(PartiesWrite, MEMBER_PATH)).secret(),
        legacy!(POST "/v1/members/{id}/pay-password/verify", pay_passwords::verify_member_pay_password, member(PartiesWrite, MEMBER_PATH)).secret(),
    ]
}

/// The wallet's money flows (`crate::wallet`).
fn wallet_endpoints() -> Vec<Endpoint> {
    use wallet::{
        adjustments, deposits, freezes, member_transfers, payments, recharges, subsidies, wallets, withdrawals,
    };
    vec![
        legacy!(GET "/v1/platform-accounts", wallet::platform::platform_accounts, platform(AdminRead)),
        legacy!(GET "/v1/members/{id}/wallet", wallets::get_wallet, member(WalletRead, MEMBER_PATH)),
        legacy!(GET "/v1/members/{id}/wallet/deduction-order", wallets::get_deduction_order, member(WalletRead, MEMBER_PATH)),
        legacy!(POST "/v1/members/{id}/wallet/deduction-order", wallets::set_deduction_order, member(WalletWrite, DEDUCTION_ORDER)),
        legacy!(GET "/v1/members/{id}/wallet/withdrawal-preview", wallets::withdrawal_preview, member(WalletRead, MEMBER_PATH)),
        legacy!(POST "/v1/recharges", recharges::create_recharge, member(WalletWrite, RECHARGING)),
        legacy!(GET "/v1/recharges/{number}", recharges::get_recharge, own_orders(WalletRead)),
        legacy!(POST "/v1/recharges/{number}/confirm", recharges::confirm_recharge, platform(WalletWrite)),
        legacy!(POST "/v1/recharges/{number}/approve", recharges::approve_recharge, platform(AdminWrite)),
        legacy!(POST "/v1/recharges/{number}/reject", recharges::reject_recharge, platform(AdminWrite)),
        legacy!(POST "/v1/recharges/{number}/fail", recharges::fail_recharge, platform(WalletWrite)),
        legacy!(POST "/v1/recharges/{number}/close", recharges::close_recharge, own_orders(WalletWrite)),
        legacy!(POST "/v1/payments", payments::pay, member(WalletWrite, PAYING)),
        legacy!(GET "/v1/payments/{number}", payments::get_payment, own_orders(WalletRead)),
        legacy!(POST "/v1/payments/{number}/capture", payments::capture, own_orders(WalletWrite)),
        legacy!(POST "/v1/payments/{number}/release", payments::release, own_orders(WalletWrite)),
        legacy!(POST "/v1/payments/{number}/refunds", payments::refund, own_orders(WalletWrite)),
        legacy!(POST "/v1/withdrawals", withdrawals::withdraw, member(WalletWrite, WITHDRAWING)),
        legacy!(GET "/v1/withdrawals/{number}", withdrawals::get_withdrawal, own_orders(WalletRead)),
        legacy!(POST "/v1/withdrawals/{number}/review", withdrawals::review_withdrawal, platform(AdminWrite)),
        legacy!(POST "/v1/withdrawals/{number}/payout", withdrawals::payout_result, platform(WalletWrite)),
        legacy!(POST "/v1/freezes", freezes::freeze, platform(AdminWrite)).held(),
        legacy!(GET "/v1/freezes/{number}", freezes::get_freeze, platform(AdminRead)),
        legacy!(POST "/v1/freezes/{number}/unfreeze", freezes::unfreeze, platform(AdminWrite)).held(),
        legacy!(POST "/v1/freezes/{number}/seize", freezes::seize, platform(AdminWrite)).held(),
        legacy!(POST "/v1/adjustments", adjustments::adjust, platform(AdminWrite)),
        legacy!(GET "/v1/adjustments/{number}", adjustments::get_adjustment, platform(AdminRead)),
        legacy!(POST "/v1/adjustments/{number}/approve", adjustments::approve_adjustment, platform(AdminWrite)),
        legacy!(GET "/v1/members/{id}/wallet/flow", wallets::wallet_flow, member(WalletRead, MEMBER_PATH)),
        legacy!(POST "/v1/recharges/{number}/refunds", recharges::refund_recharge, own_orders(WalletWrite)),
        legacy!(POST "/v1/payments/{number}/escrow-release", payments::release_escrow, own_orders(WalletWrite)),
        legacy!(POST "/v1/payments/{number}/escrow-return", payments::return_escrow, own_orders(WalletWrite)),
        legacy!(POST "/v1/deposits", deposits::hold, member(WalletWrite, PAYING)),
        legacy!(GET "/v1/deposits/{number}", deposits::get_deposit, own_orders(WalletRead)),
        legacy!(POST "/v1/deposits/{number}/release", deposits::release, own_orders(WalletWrite)),
        legacy!(POST "/v1/deposits/{number}/capture", deposits::capture, own_orders(WalletWrite)),
        legacy!(POST "/v1/member-transfers", member_transfers::transfer, member(WalletWrite, SENDING)),
        legacy!(GET "/v1/member-transfers/{number}", member_transfers::get_transfer, own_orders(WalletRead)),
        legacy!(POST "/v1/subsidy-fundings", subsidies::fund, member(WalletWrite, FUNDING)),
        legacy!(GET "/v1/subsidy-fundings/{number}", subsidies::get_funding, own_orders(WalletRead)),
        legacy!(POST "/v1/subsidy-distributions", subsidies::distribute, member(WalletWrite, DISTRIBUTING)),
        legacy!(GET "/v1/subsidy-distributions/{number}", subsidies::get_distribution, own_orders(WalletRead)),
        legacy!(GET "/v1/members/{id}/subsidy-fund", subsidies::get_fund, member(WalletRead, MEMBER_PATH)),
    ]
}

/// Staff sessions and maker-checker (`crate::staff`).
fn staff_endpoints() -> Vec<Endpoint> {
    vec![
        endpoint!(staff::sessions::sign_in, public()),
        endpoint!(staff::sessions::current_session, own_session()),
        endpoint!(staff::sessions::sign_out, own_session()),
        endpoint!(staff::approvals::list_approvals, platform(AdminRead)),
        endpoint!(staff::approvals::get_approval, platform(AdminRead)),
        endpoint!(staff::approvals::approve, platform(AdminWrite)),
        endpoint!(staff::approvals::reject, platform(AdminWrite)),
    ]
}
