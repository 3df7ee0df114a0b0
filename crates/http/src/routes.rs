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
//! document is the annotation's with what every operation shares added ([`crate::openapi`]).
//! `.secret()` marks a POST whose request or response carries a secret (it
//! takes no Idempotency-Key); `.held()` one that, made by a staff member, waits for a second one.

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::routing::MethodRouter;
use sanhu_core::staff::StaffRole;
use serde_json::Value;

use crate::error::Capability;
use crate::scopes::Scope::*;
use crate::scopes::*;
use crate::state::AppState;
use crate::{audit, bill, card, console, docs_page, health, ledger, monitor, openapi, party, staff, wallet, webhook};

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
    /// What the layers need to know of it, put on each request that reaches it.
    pub fn facts(&self) -> RouteFacts {
        RouteFacts { access: self.access, secret: self.secret, held: self.held }
    }

    /// Whether requests to it are signed (or come with a staff session).
    pub fn signed(&self) -> bool {
        self.access.reach != Reach::Public
    }

    /// Whether a staff member's session (the cookie, with `X-CSRF-Token` on a POST) may call it: a
    /// signed route whose scope a staff role holds, or a staff member's own session (no scope).
    pub fn accepts_staff_session(&self) -> bool {
        self.signed()
            && self.access.scope.is_none_or(|scope| StaffRole::ALL.iter().any(|role| role.scopes().contains(scope)))
    }
}

/// Where an endpoint's operation in the OpenAPI document comes from.
pub(crate) enum Doc {
    /// The handler's `#[utoipa::path]`: its operation, and the schemas it refers to.
    Annotated { operation: Value, schemas: Vec<(String, Value)> },
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

    /// Its request or response carries a secret: see [`Route::secret`].
    pub fn secret(self) -> Endpoint {
        Endpoint { secret: true, ..self }
    }

    /// Made by a service provider's client for a merchant that authorised it: see [`ProviderUse`].
    pub fn provider(self, provider: ProviderUse) -> Endpoint {
        Endpoint { access: Access { provider, ..self.access }, ..self }
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

static TABLE: LazyLock<Vec<Route>> = LazyLock::new(|| {
    let sections = [
        (Capability::Operations, operations_endpoints()),
        (Capability::Ledger, ledger_endpoints()),
        (Capability::Audit, audit_endpoints()),
        (Capability::Party, party_endpoints()),
        (Capability::Wallet, wallet_endpoints()),
        (Capability::Staff, staff_endpoints()),
        (Capability::Card, card_endpoints()),
        (Capability::Bill, bill_endpoints()),
        (Capability::Webhook, webhook_endpoints()),
    ];
    sections
        .into_iter()
        .flat_map(|(capability, endpoints)| endpoints.into_iter().map(move |e| e.of(capability)))
        .collect()
});

/// The operations console's pages (`crate::console`), under `/console`: served beside the API, through
/// which they read and act; not endpoints of the API, so not in the OpenAPI document.
pub fn console_pages() -> axum::Router<AppState> {
    console::router()
}

/// Every endpoint, in the table's order.
pub fn all() -> &'static [Route] {
    &TABLE
}

/// The table's entries by path template: the few methods of a path are then compared.
static BY_PATH: LazyLock<HashMap<&'static str, Vec<&'static Route>>> = LazyLock::new(|| {
    let mut by_path: HashMap<&'static str, Vec<&'static Route>> = HashMap::new();
    for route in all() {
        by_path.entry(route.path).or_default().push(route);
    }
    by_path
});

/// The endpoint of a method and path template, if the API has it.
pub fn find(method: &str, path: &str) -> Option<&'static Route> {
    BY_PATH.get(path)?.iter().copied().find(|route| route.method == method)
}

/// The scope a signed route needs.
///
/// # Panics
///
/// If `route` is not a signed entry of the route table: a route the table does not know is a bug,
/// and the tests check that every signed route names a scope. A caller that cannot be sure uses
/// [`find`].
pub fn required_scope(method: &str, route: &str) -> Scope {
    match find(method, route).and_then(|entry| entry.access.scope) {
        Some(scope) => scope,
        None => panic!("{method} {route} is not a signed route of the route table"),
    }
}

/// Unauthenticated, for operators, load balancers and integrators reading the API. `/metrics` is not
/// here: it is served on a listener of its own, never on the API's address ([`crate::metrics`]).
fn operations_endpoints() -> Vec<Endpoint> {
    vec![
        endpoint!(health::health, public()),
        endpoint!(health::ready, public()),
        endpoint!(openapi::document, public()),
        endpoint!(docs_page::page, public()),
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
    use party::{
        bank_cards, enterprises, franchises, identities, merchants, one_time_codes, operators, pay_passwords, products,
        providers, stores,
    };
    vec![
        endpoint!(members::register_member, member(PartiesWrite, MEMBER_REGISTERING)),
        endpoint!(members::get_member, member(PartiesRead, MEMBER_PATH)),
        endpoint!(members::activate_member, member(PartiesWrite, MEMBER_PATH)),
        endpoint!(members::lock_member, member(PartiesWrite, MEMBER_PATH)),
        endpoint!(members::unlock_member, member(PartiesWrite, MEMBER_PATH)),
        endpoint!(members::cancel_member, member(PartiesWrite, MEMBER_PATH)),
        endpoint!(member_accounts::member_accounts, member(PartiesRead, MEMBER_PATH)),
        endpoint!(member_accounts::open_account, member(PartiesWrite, MEMBER_PATH)),
        endpoint!(authentications::authenticate, platform(PartiesWrite)),
        endpoint!(authentications::member_authentications, member(PartiesRead, MEMBER_PATH)),
        endpoint!(members::member_history, member(PartiesRead, MEMBER_PATH)),
        endpoint!(authentications::decide_authentication, platform(AdminWrite)),
        endpoint!(customers::search_customers, platform(AdminRead)),
        endpoint!(customers::get_customer, platform(AdminRead)),
        endpoint!(customers::set_customer_status, platform(AdminWrite)).held(),
        endpoint!(customers::merge_customers, platform(AdminWrite)).held(),
        endpoint!(customers::customer_history, platform(AdminRead)),
        endpoint!(member_accounts::get_account, member(PartiesRead, ACCOUNT_PATH)),
        endpoint!(member_accounts::set_account_status, platform(AdminWrite)).held(),
        endpoint!(member_accounts::close_account, member(PartiesWrite, ACCOUNT_PATH)),
        endpoint!(enterprises::register_enterprise, platform(PartiesWrite)),
        endpoint!(enterprises::member_company, member(PartiesRead, MEMBER_PATH)),
        endpoint!(operators::member_operators, member(PartiesRead, MEMBER_PATH)),
        endpoint!(operators::add_operator, member(PartiesWrite, MEMBER_AND_ACTING_OPERATOR)),
        endpoint!(operators::find_operators, filtered(PartiesRead)),
        endpoint!(operators::get_operator, member(PartiesRead, OPERATOR_PATH)),
        endpoint!(operators::change_role, member(PartiesWrite, MANAGED_OPERATOR)),
        endpoint!(operators::grant, member(PartiesWrite, GRANTED_OPERATOR)),
        endpoint!(operators::revoke, member(PartiesWrite, GRANTED_OPERATOR)),
        endpoint!(operators::set_limits, member(PartiesWrite, MANAGED_OPERATOR)).held(),
        endpoint!(operators::disable, member(PartiesWrite, MANAGED_OPERATOR)),
        endpoint!(operators::enable, member(PartiesWrite, MANAGED_OPERATOR)),
        endpoint!(operators::remove, member(PartiesWrite, MANAGED_OPERATOR)),
        endpoint!(operators::authorise, member(PartiesWrite, AUTHORISED_OPERATOR)),
        endpoint!(pay_passwords::set_operator_pay_password, member(PartiesWrite, OPERATOR_PATH)).secret(),
        endpoint!(pay_passwords::change_operator_pay_password, member(PartiesWrite, OPERATOR_PATH)).secret(),
        endpoint!(pay_passwords::verify_operator_pay_password, member(PartiesWrite, OPERATOR_PATH)).secret(),
        endpoint!(identities::member_identities, member(PartiesRead, MEMBER_PATH)),
        endpoint!(identities::add_identity, member(PartiesWrite, MEMBER_PATH)),
        endpoint!(identities::remove_identity, member(PartiesWrite, MEMBER_PATH)),
        endpoint!(identities::start_phone_change, member(PartiesWrite, MEMBER_PATH)).secret(),
        endpoint!(identities::verify_phone_change, member(PartiesWrite, MEMBER_PATH)).secret(),
        endpoint!(identities::complete_phone_change, member(PartiesWrite, MEMBER_PATH)),
        endpoint!(one_time_codes::issue_code, platform(PartiesWrite)).secret(),
        endpoint!(one_time_codes::verify_code, platform(PartiesWrite)).secret(),
        endpoint!(bank_cards::member_bank_cards, member(PartiesRead, MEMBER_PATH)),
        endpoint!(bank_cards::bind_bank_card, member(PartiesWrite, MEMBER_PATH)).secret(),
        endpoint!(bank_cards::unbind_bank_card, member(PartiesWrite, UNBOUND_CARD)),
        endpoint!(bank_cards::withdrawal_check, member(PartiesRead, CHECKED_CARD)),
        endpoint!(pay_passwords::set_member_pay_password, member(PartiesWrite, MEMBER_PATH)).secret(),
        endpoint!(pay_passwords::change_member_pay_password, member(PartiesWrite, MEMBER_PATH)).secret(),
        endpoint!(pay_passwords::verify_member_pay_password, member(PartiesWrite, MEMBER_PATH)).secret(),
        endpoint!(pay_passwords::reset_member_pay_password, member(PartiesWrite, MEMBER_PATH)).secret(),
        endpoint!(merchants::merchant_types, filtered(PartiesRead)),
        endpoint!(merchants::open_merchant, member(PartiesWrite, MERCHANT_OPENING)),
        endpoint!(merchants::list_merchants, member(PartiesRead, MERCHANTS_OF_MEMBER)),
        endpoint!(merchants::get_merchant, member(PartiesRead, MERCHANT_PATH)).provider(ProviderUse::ReadMerchant),
        endpoint!(merchants::merchant_history, member(PartiesRead, MERCHANT_PATH)),
        endpoint!(merchants::give_documents, member(PartiesWrite, MERCHANT_PATH)),
        endpoint!(merchants::set_settlement_account, member(PartiesWrite, MERCHANT_PATH)).secret(),
        endpoint!(merchants::submit_merchant, member(PartiesWrite, MERCHANT_PATH)),
        endpoint!(merchants::review_merchant, platform(AdminWrite)).held(),
        endpoint!(merchants::verify_settlement_account, platform(AdminWrite)).secret(),
        endpoint!(merchants::set_merchant_status, platform(AdminWrite)).held(),
        endpoint!(merchants::merchant_levels, filtered(PartiesRead)),
        endpoint!(merchants::merchant_children, member(PartiesRead, MERCHANT_PATH)),
        endpoint!(merchants::merchant_subtree, member(PartiesRead, MERCHANT_PATH)),
        endpoint!(merchants::move_merchant, platform(AdminWrite)).held(),
        endpoint!(merchants::open_sub_merchant, member(PartiesWrite, MERCHANT_PATH)),
        endpoint!(products::list_products, filtered(PartiesRead)),
        endpoint!(products::merchant_products, member(PartiesRead, MERCHANT_PATH)),
        endpoint!(products::apply_for_product, member(PartiesWrite, MERCHANT_PATH)),
        endpoint!(products::review_product, platform(AdminWrite)).held(),
        endpoint!(products::suspend_product, platform(AdminWrite)).held(),
        endpoint!(products::resume_product, platform(AdminWrite)).held(),
        endpoint!(products::terminate_product, platform(AdminWrite)).held(),
        endpoint!(products::authorise_product, member(PartiesWrite, PRODUCT_AUTHORISATION)),
        endpoint!(products::revoke_product, member(PartiesWrite, PRODUCT_AUTHORISATION)),
        endpoint!(providers::authorise_provider, member(PartiesWrite, MERCHANT_PATH)),
        endpoint!(providers::merchant_providers, member(PartiesRead, MERCHANT_PATH)),
        endpoint!(providers::revoke_provider, member(PartiesWrite, MERCHANT_PATH)),
        endpoint!(franchises::get_merchant_settings, member(PartiesRead, MERCHANT_PATH)),
        endpoint!(franchises::set_merchant_settings, member(PartiesWrite, MERCHANT_PATH)).held(),
        endpoint!(stores::open_store, member(PartiesWrite, STORE_OPENING)),
        endpoint!(stores::list_stores, member(PartiesRead, MERCHANT_PATH)),
        endpoint!(stores::get_store, member(PartiesRead, MERCHANT_PATH)),
        endpoint!(stores::close_store, member(PartiesWrite, MERCHANT_PATH)),
        endpoint!(stores::set_store_settings, member(PartiesWrite, MERCHANT_PATH)),
        endpoint!(stores::add_terminal, member(PartiesWrite, MERCHANT_PATH)),
        endpoint!(stores::list_terminals, member(PartiesRead, MERCHANT_PATH)),
        endpoint!(stores::disable_terminal, member(PartiesWrite, MERCHANT_PATH)),
    ]
}

/// The wallet's money flows (`crate::wallet`).
fn wallet_endpoints() -> Vec<Endpoint> {
    use wallet::{
        adjustments, clearances, deposits, family_cards, freezes, limits, member_transfers, pay_codes, payments,
        recharges, reconciliations, settlements, statistics, subsidies, top_ups, wallets, withdrawals,
    };
    vec![
        endpoint!(wallet::platform::platform_accounts, platform(AdminRead)),
        endpoint!(wallets::get_wallet, member(WalletRead, MEMBER_PATH)),
        endpoint!(wallets::get_deduction_order, member(WalletRead, MEMBER_PATH)),
        endpoint!(wallets::set_deduction_order, member(WalletWrite, DEDUCTION_ORDER)),
        endpoint!(wallets::withdrawal_preview, member(WalletRead, MEMBER_PATH)),
        endpoint!(recharges::create_recharge, member(WalletWrite, RECHARGING))
            .provider(ProviderUse::Product(PlatformProduct::Recharge)),
        endpoint!(party::franchises::open_at_counter, member(WalletWrite, MERCHANT_PATH)),
        endpoint!(party::franchises::customer_wallets, filtered(WalletRead)),
        endpoint!(clearances::request_clearance, member(WalletWrite, MERCHANT_MEMBER)),
        endpoint!(clearances::get_clearance, member(WalletRead, MERCHANT_PATH)),
        endpoint!(clearances::review_clearance, platform(AdminWrite)).held(),
        endpoint!(top_ups::top_up, member(WalletWrite, TOPPING_UP)),
        endpoint!(top_ups::get_top_up, own_orders(WalletRead)),
        endpoint!(recharges::get_recharge, own_orders(WalletRead)),
        endpoint!(recharges::confirm_recharge, platform(WalletWrite)),
        endpoint!(recharges::approve_recharge, platform(AdminWrite)),
        endpoint!(recharges::reject_recharge, platform(AdminWrite)),
        endpoint!(recharges::fail_recharge, platform(WalletWrite)),
        endpoint!(recharges::close_recharge, own_orders(WalletWrite)),
        endpoint!(payments::pay, member(WalletWrite, PAYING)).provider(ProviderUse::Payment),
        endpoint!(payments::get_payment, own_orders(WalletRead)),
        endpoint!(payments::capture, own_orders(WalletWrite)),
        endpoint!(payments::release, own_orders(WalletWrite)),
        endpoint!(payments::refund, own_orders(WalletWrite)),
        endpoint!(withdrawals::withdraw, member(WalletWrite, WITHDRAWING))
            .provider(ProviderUse::Product(PlatformProduct::Withdrawal)),
        endpoint!(withdrawals::get_withdrawal, own_orders(WalletRead)),
        endpoint!(withdrawals::withdrawals_in_review, platform(AdminRead)),
        endpoint!(withdrawals::review_withdrawal, platform(AdminWrite)),
        endpoint!(withdrawals::payout_result, platform(WalletWrite)),
        endpoint!(freezes::freeze, platform(AdminWrite)).held(),
        endpoint!(freezes::get_freeze, platform(AdminRead)),
        endpoint!(freezes::unfreeze, platform(AdminWrite)).held(),
        endpoint!(freezes::seize, platform(AdminWrite)).held(),
        endpoint!(adjustments::adjust, platform(AdminWrite)),
        endpoint!(adjustments::get_adjustment, platform(AdminRead)),
        endpoint!(adjustments::approve_adjustment, platform(AdminWrite)),
        endpoint!(wallets::wallet_flow, member(WalletRead, MEMBER_FLOW)),
        endpoint!(recharges::refund_recharge, own_orders(WalletWrite)),
        endpoint!(payments::release_escrow, own_orders(WalletWrite)),
        endpoint!(payments::return_escrow, own_orders(WalletWrite)),
        endpoint!(payments::release_split, own_orders(WalletWrite)),
        endpoint!(deposits::hold, member(WalletWrite, PAYING)).provider(ProviderUse::Deposit),
        endpoint!(deposits::get_deposit, own_orders(WalletRead)),
        endpoint!(deposits::release, own_orders(WalletWrite)),
        endpoint!(deposits::capture, own_orders(WalletWrite)),
        endpoint!(member_transfers::transfer, member(WalletWrite, SENDING)),
        endpoint!(member_transfers::get_transfer, own_orders(WalletRead)),
        endpoint!(subsidies::fund, member(WalletWrite, FUNDING)),
        endpoint!(subsidies::get_funding, own_orders(WalletRead)),
        endpoint!(subsidies::distribute, member(WalletWrite, DISTRIBUTING)),
        endpoint!(subsidies::get_distribution, own_orders(WalletRead)),
        endpoint!(subsidies::get_fund, member(WalletRead, MEMBER_PATH)),
        endpoint!(limits::get_payment_limits, member(WalletRead, MEMBER_PATH)),
        endpoint!(limits::set_payment_limits, platform(AdminWrite)),
        endpoint!(statistics::daily_figures, platform(AdminRead)),
        endpoint!(statistics::search_orders, platform(AdminRead)),
        endpoint!(pay_codes::issue_pay_code, member(WalletWrite, PAY_CODE_ISSUING)).secret(),
        // Family cards: a card named by its id is reached through its owner or its family member
        // (the service asks the reach rule).
        endpoint!(family_cards::grant_family_card, member(WalletWrite, FAMILY_CARD_GRANTING)),
        endpoint!(family_cards::list_family_cards, member(WalletRead, MEMBER_PATH)),
        endpoint!(family_cards::get_family_card, filtered(WalletRead)),
        endpoint!(family_cards::revoke_family_card, filtered(WalletWrite)),
        endpoint!(settlements::issue_settlement, member(WalletWrite, MERCHANT_PATH)),
        endpoint!(settlements::list_settlements, member(WalletRead, MERCHANT_PATH)),
        endpoint!(settlements::get_settlement, member(WalletRead, MERCHANT_PATH)),
        endpoint!(settlements::settlement_items, member(WalletRead, MERCHANT_PATH)),
        endpoint!(settlements::confirm_settlement, member(WalletWrite, MERCHANT_PATH)),
        endpoint!(settlements::dispute_settlement, member(WalletWrite, MERCHANT_PATH)),
        endpoint!(settlements::pay_out_settlement, member(WalletWrite, MERCHANT_PATH)),
        endpoint!(settlements::review_settlement_payout, platform(AdminWrite)),
        endpoint!(settlements::settlement_payout_result, platform(WalletWrite)),
        endpoint!(settlements::adjust_settlement, platform(AdminWrite)).held(),
        // Channel reconciliation: the platform's back office (finance staff, an admin client).
        endpoint!(reconciliations::import_statement, platform(AdminWrite)),
        endpoint!(reconciliations::list_imports, platform(AdminRead)),
        endpoint!(reconciliations::get_import, platform(AdminRead)),
        endpoint!(reconciliations::list_differences, platform(AdminRead)),
        endpoint!(reconciliations::explain_difference, platform(AdminWrite)),
        endpoint!(reconciliations::credit_difference, platform(AdminWrite)).held(),
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
        endpoint!(staff::admin::list_api_clients, platform(AdminRead)),
        endpoint!(staff::admin::get_api_client, platform(AdminRead)),
        endpoint!(staff::admin::list_staff, platform(AdminRead)),
        endpoint!(staff::admin::get_staff, platform(AdminRead)),
        endpoint!(staff::admin::get_configuration, platform(AdminRead)),
        // `sanhu verify`'s recorded runs (`crate::audit`): an administrator's read, as the configuration.
        endpoint!(audit::get_verification, platform(AdminRead)),
    ]
}

/// Member cards: card types, number segments, batches and their approval, a card's life and money
/// (`crate::card`). A client bound to a member reaches its member's merchants' cards only: the
/// service decides it (`Cards::reaches`), so the routes that name a type, batch or card are
/// `filtered`.
fn card_endpoints() -> Vec<Endpoint> {
    vec![
        endpoint!(card::create_card_type, member(CardsWrite, CARD_TYPE_OWNER)),
        endpoint!(card::list_card_types, filtered(CardsRead)),
        endpoint!(card::get_card_type, filtered(CardsRead)),
        endpoint!(card::change_card_terms, filtered(CardsWrite)),
        endpoint!(card::create_segment, platform(CardsWrite)),
        endpoint!(card::list_segments, platform(CardsRead)),
        endpoint!(card::create_batch, filtered(CardsWrite)),
        endpoint!(card::list_batches, filtered(CardsRead)),
        endpoint!(card::get_batch, filtered(CardsRead)),
        endpoint!(card::approve_batch, platform(CardsWrite)),
        endpoint!(card::sell_card, filtered(CardsWrite)),
        endpoint!(card::get_card, filtered(CardsRead)),
        endpoint!(card::activate_card, filtered(CardsWrite)),
        endpoint!(card::bind_card, filtered(CardsWrite)),
        endpoint!(card::freeze_card, filtered(CardsWrite)),
        endpoint!(card::unfreeze_card, filtered(CardsWrite)),
        endpoint!(card::report_card_lost, filtered(CardsWrite)),
        endpoint!(card::reissue_card, filtered(CardsWrite)),
        endpoint!(card::transfer_card, filtered(CardsWrite)),
        endpoint!(card::expire_card, filtered(CardsWrite)),
        endpoint!(card::extend_card, filtered(CardsWrite)),
        endpoint!(card::cancel_card, filtered(CardsWrite)),
        endpoint!(card::recharge_card, filtered(CardsWrite)),
        endpoint!(card::pay_with_card, filtered(CardsWrite)),
        endpoint!(card::refund_to_card, filtered(CardsWrite)),
        endpoint!(card::card_transactions, filtered(CardsRead)),
        endpoint!(card::card_liability_report, member(CardsRead, REPORTED_MERCHANT)),
        endpoint!(card::card_liability_report_csv, member(CardsRead, REPORTED_MERCHANT)),
        endpoint!(card::generate_codes, filtered(CardsWrite)).secret(),
        endpoint!(card::list_codes, filtered(CardsRead)),
        endpoint!(card::redeem_code, filtered(CardsWrite)).secret(),
        endpoint!(card::bind_codes, platform(CardsWrite)).secret(),
        endpoint!(card::create_coupon_template, member(CardsWrite, CARD_TYPE_OWNER)),
        endpoint!(card::list_coupon_templates, filtered(CardsRead)),
        endpoint!(card::get_coupon_template, filtered(CardsRead)),
        endpoint!(card::issue_coupons, filtered(CardsWrite)),
        endpoint!(card::member_coupons, member(CardsRead, MEMBER_PATH)),
        endpoint!(card::quote_checkout, filtered(CardsWrite)),
    ]
}

/// Members' bills and customer bills (`crate::bill`). A client bound to a member issues and lists its
/// member's bills; a bill named by its id is read through the binding (`Bills::bill`), so those
/// routes are `filtered`; a customer's bill is the back office's.
fn bill_endpoints() -> Vec<Endpoint> {
    vec![
        endpoint!(bill::issue_bill, member(WalletWrite, MEMBER_PATH)),
        endpoint!(bill::member_bills, member(WalletRead, MEMBER_PATH)),
        endpoint!(bill::get_bill, filtered(WalletRead)),
        endpoint!(bill::bill_items, filtered(WalletRead)),
        endpoint!(bill::customer_bill, platform(AdminRead)),
    ]
}

/// Webhook subscriptions (`crate::webhook`). A subscription is its client's own: the service answers
/// another client's id as absent (`filtered`); which events a bound client's subscription receives
/// is decided by the reach rule when they are derived.
fn webhook_endpoints() -> Vec<Endpoint> {
    vec![
        endpoint!(webhook::create_webhook, filtered(WalletWrite)).secret(),
        endpoint!(webhook::list_webhooks, filtered(WalletRead)),
        endpoint!(webhook::get_webhook, filtered(WalletRead)),
        endpoint!(webhook::update_webhook, filtered(WalletWrite)),
        endpoint!(webhook::disable_webhook, filtered(WalletWrite)),
        endpoint!(webhook::enable_webhook, filtered(WalletWrite)),
        endpoint!(webhook::delete_webhook, filtered(WalletWrite)),
        endpoint!(webhook::test_webhook, filtered(WalletWrite)),
        endpoint!(webhook::list_webhook_deliveries, filtered(WalletRead)),
        endpoint!(webhook::list_webhook_attempts, filtered(WalletRead)),
        endpoint!(webhook::resend_webhook_delivery, filtered(WalletWrite)),
        // Balance monitors: the account a bound client names is checked by the reach rule here
        // (and again by the service); the rest are the client's own.
        endpoint!(monitor::create_balance_monitor, member(WalletWrite, MONITORED_ACCOUNT)),
        endpoint!(monitor::list_balance_monitors, filtered(WalletRead)),
        endpoint!(monitor::get_balance_monitor, filtered(WalletRead)),
        endpoint!(monitor::disable_balance_monitor, filtered(WalletWrite)),
        endpoint!(monitor::enable_balance_monitor, filtered(WalletWrite)),
        endpoint!(monitor::delete_balance_monitor, filtered(WalletWrite)),
    ]
}
