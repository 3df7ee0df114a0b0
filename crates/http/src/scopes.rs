//! Who may call what: for every entry of [`crate::ROUTES`], the scope it needs and how far a client
//! bound to one member reaches on it. [`crate::access`] enforces this table on every signed request;
//! staff roles are mapped onto the same scopes ([`required_scope`]).
//!
//! The scopes: `ledger:*` for the raw ledger, `parties:*` for the three-party model a member's own
//! platform changes, `wallet:*` for the money flows, `admin:*` for the back office (customer status and
//! merges, account status, freezes, adjustments and their approval, recharge approval, withdrawal
//! review, the platform's accounts, authentication decisions), `audit:read` for the audit log. A GET
//! needs a `:read` scope, a POST a `:write` one (the tests say so).
//!
//! A bound client holds only `parties:*` and `wallet:*` ([`Scope::bindable`]), and on those routes
//! reaches only its member's objects: every id a request names that belongs to a member (in the path,
//! the body or the query, as [`Reach::Member`] lists) must be its member's, or the request is answered
//! with that id's not-found code, as if the object did not exist. Ids that only receive money (a
//! payment's receiver, a transfer's receiving member, a subsidy's employees, a deposit's beneficiary)
//! are not checked: a bound client may pay anyone from its own wallet (but not its own customer, nor a
//! platform account that does not receive payments: the service refuses those). Orders are numbered
//! per client, so a client reaches only its own orders anyway, except a payment's refunds and the
//! decisions on an escrow payment or a deposit, which the receiver's bound client makes by naming the
//! payer's client (`wallet::payments::RefundOf`; the service decides which side may).

pub use sanhu_core::scope::{Scope, Scopes};

/// An object that belongs to one member, as a request names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owned {
    /// `mem_…`: the member itself.
    Member,
    /// `acc_…`: a member account.
    Account,
    /// `opr_…`: an enterprise member's operator.
    Operator,
    /// `bcd_…`: a bank card bound to a member.
    BankCard,
}

/// Where a request names an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Named {
    /// The path's `{id}`.
    Path(Owned),
    /// A top-level body field holding one id.
    Body(&'static str, Owned),
    /// A top-level body field holding a list of ids.
    BodyList(&'static str, Owned),
    /// A query parameter.
    Query(&'static str, Owned),
}

/// How far a client bound to one member reaches on a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// Not signed: `/health`, `/ready`, `/openapi.json`.
    Public,
    /// Acts for the whole platform: the raw ledger, the back office, the audit log, registering
    /// members and enterprises, a channel's word on a recharge or a payout, recording a real-name
    /// authentication, one-time codes to any phone. A bound client is refused (403 `client_bound`).
    Platform,
    /// Every object named must be the bound member's (or the member itself).
    Member(&'static [Named]),
    /// The client's own orders (numbered per client): nothing else can be named.
    OwnOrders,
    /// A search over every member's objects: the handler leaves out the ones that are not the bound
    /// member's.
    Filtered,
}

/// One entry of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouteAccess {
    pub method: &'static str,
    pub route: &'static str,
    /// None for a public route.
    pub scope: Option<Scope>,
    pub reach: Reach,
}

const fn public(method: &'static str, route: &'static str) -> RouteAccess {
    RouteAccess { method, route, scope: None, reach: Reach::Public }
}

const fn platform(method: &'static str, route: &'static str, scope: Scope) -> RouteAccess {
    RouteAccess { method, route, scope: Some(scope), reach: Reach::Platform }
}

const fn member(method: &'static str, route: &'static str, scope: Scope, named: &'static [Named]) -> RouteAccess {
    RouteAccess { method, route, scope: Some(scope), reach: Reach::Member(named) }
}

const fn own_orders(method: &'static str, route: &'static str, scope: Scope) -> RouteAccess {
    RouteAccess { method, route, scope: Some(scope), reach: Reach::OwnOrders }
}

use Named::{Body, BodyList, Path, Query};
use Owned::{Account, BankCard, Member, Operator};
use Scope::*;

const MEMBER_PATH: &[Named] = &[Path(Member)];
const OPERATOR_PATH: &[Named] = &[Path(Operator)];
/// An operator managed by the client, or by an admin operator it names.
const MANAGED_OPERATOR: &[Named] = &[Path(Operator), Body("acting_operator_id", Operator)];
const GRANTED_OPERATOR: &[Named] = &[Path(Operator), Body("account_id", Account), Body("acting_operator_id", Operator)];

/// The table: one entry per entry of [`crate::ROUTES`], in its order.
pub const ACCESS: &[RouteAccess] = &[
    public("GET", "/health"),
    public("GET", "/ready"),
    public("GET", "/openapi.json"),
    platform("POST", "/v1/ledger/accounts", LedgerWrite),
    platform("GET", "/v1/ledger/accounts", LedgerRead),
    platform("GET", "/v1/ledger/accounts/{id}", LedgerRead),
    platform("POST", "/v1/ledger/accounts/{id}/close", LedgerWrite),
    platform("POST", "/v1/ledger/accounts/{id}/blocks", LedgerWrite),
    platform("GET", "/v1/ledger/accounts/{id}/entries", LedgerRead),
    platform("GET", "/v1/ledger/accounts/{id}/balance", LedgerRead),
    platform("POST", "/v1/ledger/transfers", LedgerWrite),
    platform("GET", "/v1/ledger/transfers", LedgerRead),
    platform("POST", "/v1/ledger/transfers/batch", LedgerWrite),
    platform("GET", "/v1/ledger/transfers/{id}", LedgerRead),
    platform("POST", "/v1/ledger/transfers/{pending_id}/post", LedgerWrite),
    platform("POST", "/v1/ledger/transfers/{pending_id}/void", LedgerWrite),
    platform("GET", "/v1/ledger/balances", LedgerRead),
    platform("GET", "/v1/audit-events", AuditRead),
    platform("POST", "/v1/members", PartiesWrite),
    member("GET", "/v1/members/{id}", PartiesRead, MEMBER_PATH),
    member("POST", "/v1/members/{id}/activate", PartiesWrite, MEMBER_PATH),
    member("POST", "/v1/members/{id}/lock", PartiesWrite, MEMBER_PATH),
    member("POST", "/v1/members/{id}/unlock", PartiesWrite, MEMBER_PATH),
    member("POST", "/v1/members/{id}/cancel", PartiesWrite, MEMBER_PATH),
    member("GET", "/v1/members/{id}/accounts", PartiesRead, MEMBER_PATH),
    member("POST", "/v1/members/{id}/accounts", PartiesWrite, MEMBER_PATH),
    // A verified authentication gives the member a real name and its customer a certificate: the
    // platform's word, like a channel's on a payment.
    platform("POST", "/v1/members/{id}/authentications", PartiesWrite),
    member("GET", "/v1/members/{id}/authentications", PartiesRead, MEMBER_PATH),
    member("GET", "/v1/members/{id}/history", PartiesRead, MEMBER_PATH),
    platform("POST", "/v1/authentications/{id}/decide", AdminWrite),
    // Customers are the back office's (DESIGN.md: end users never see them).
    platform("GET", "/v1/customers", AdminRead),
    platform("GET", "/v1/customers/{id}", AdminRead),
    platform("POST", "/v1/customers/{id}/status", AdminWrite),
    platform("POST", "/v1/customers/{id}/merge", AdminWrite),
    platform("GET", "/v1/customers/{id}/history", AdminRead),
    member("GET", "/v1/accounts/{id}", PartiesRead, &[Path(Account)]),
    platform("POST", "/v1/accounts/{id}/status", AdminWrite),
    member("POST", "/v1/accounts/{id}/close", PartiesWrite, &[Path(Account)]),
    platform("POST", "/v1/enterprises", PartiesWrite),
    member("GET", "/v1/members/{id}/company", PartiesRead, MEMBER_PATH),
    member("GET", "/v1/members/{id}/operators", PartiesRead, MEMBER_PATH),
    member("POST", "/v1/members/{id}/operators", PartiesWrite, &[Path(Member), Body("acting_operator_id", Operator)]),
    RouteAccess { method: "GET", route: "/v1/operators", scope: Some(PartiesRead), reach: Reach::Filtered },
    member("GET", "/v1/operators/{id}", PartiesRead, OPERATOR_PATH),
    member("POST", "/v1/operators/{id}/role", PartiesWrite, MANAGED_OPERATOR),
    member("POST", "/v1/operators/{id}/grants", PartiesWrite, GRANTED_OPERATOR),
    member("POST", "/v1/operators/{id}/grants/revoke", PartiesWrite, GRANTED_OPERATOR),
    member("POST", "/v1/operators/{id}/limits", PartiesWrite, MANAGED_OPERATOR),
    member("POST", "/v1/operators/{id}/disable", PartiesWrite, MANAGED_OPERATOR),
    member("POST", "/v1/operators/{id}/enable", PartiesWrite, MANAGED_OPERATOR),
    member("POST", "/v1/operators/{id}/remove", PartiesWrite, MANAGED_OPERATOR),
    member("POST", "/v1/operators/{id}/authorise", PartiesWrite, &[Path(Operator), Body("account_id", Account)]),
    member("POST", "/v1/operators/{id}/pay-password", PartiesWrite, OPERATOR_PATH),
    member("POST", "/v1/operators/{id}/pay-password/change", PartiesWrite, OPERATOR_PATH),
    member("POST", "/v1/operators/{id}/pay-password/verify", PartiesWrite, OPERATOR_PATH),
    member("GET", "/v1/members/{id}/identities", PartiesRead, MEMBER_PATH),
    member("POST", "/v1/members/{id}/identities", PartiesWrite, MEMBER_PATH),
    member("POST", "/v1/members/{id}/identities/remove", PartiesWrite, MEMBER_PATH),
    member("POST", "/v1/members/{id}/phone-change", PartiesWrite, MEMBER_PATH),
    member("POST", "/v1/members/{id}/phone-change/verify", PartiesWrite, MEMBER_PATH),
    member("POST", "/v1/members/{id}/phone-change/complete", PartiesWrite, MEMBER_PATH),
    // Codes go to any phone or email the caller names.
    platform("POST", "/v1/one-time-codes", PartiesWrite),
    platform("POST", "/v1/one-time-codes/verify", PartiesWrite),
    member("GET", "/v1/members/{id}/bank-cards", PartiesRead, MEMBER_PATH),
    member("POST", "/v1/members/{id}/bank-cards", PartiesWrite, MEMBER_PATH),
    member("POST", "/v1/bank-cards/{id}/unbind", PartiesWrite, &[Path(BankCard), Body("member_id", Member)]),
    member("GET", "/v1/bank-cards/{id}/withdrawal-check", PartiesRead, &[Path(BankCard), Query("member_id", Member)]),
    member("POST", "/v1/members/{id}/pay-password", PartiesWrite, MEMBER_PATH),
    member("POST", "/v1/members/{id}/pay-password/change", PartiesWrite, MEMBER_PATH),
    member("POST", "/v1/members/{id}/pay-password/verify", PartiesWrite, MEMBER_PATH),
    platform("GET", "/v1/platform-accounts", AdminRead),
    member("GET", "/v1/members/{id}/wallet", WalletRead, MEMBER_PATH),
    member("GET", "/v1/members/{id}/wallet/deduction-order", WalletRead, MEMBER_PATH),
    member(
        "POST",
        "/v1/members/{id}/wallet/deduction-order",
        WalletWrite,
        &[Path(Member), BodyList("account_ids", Account)],
    ),
    member("GET", "/v1/members/{id}/wallet/withdrawal-preview", WalletRead, MEMBER_PATH),
    member("POST", "/v1/recharges", WalletWrite, &[Body("member_id", Member), Body("account_id", Account)]),
    own_orders("GET", "/v1/recharges/{number}", WalletRead),
    // The channel's word that the member paid, or did not.
    platform("POST", "/v1/recharges/{number}/confirm", WalletWrite),
    platform("POST", "/v1/recharges/{number}/approve", AdminWrite),
    platform("POST", "/v1/recharges/{number}/reject", AdminWrite),
    platform("POST", "/v1/recharges/{number}/fail", WalletWrite),
    own_orders("POST", "/v1/recharges/{number}/close", WalletWrite),
    member("POST", "/v1/payments", WalletWrite, &[Body("member_id", Member)]),
    own_orders("GET", "/v1/payments/{number}", WalletRead),
    own_orders("POST", "/v1/payments/{number}/capture", WalletWrite),
    own_orders("POST", "/v1/payments/{number}/release", WalletWrite),
    own_orders("POST", "/v1/payments/{number}/refunds", WalletWrite),
    member("POST", "/v1/withdrawals", WalletWrite, &[Body("member_id", Member), Body("bank_card_id", BankCard)]),
    own_orders("GET", "/v1/withdrawals/{number}", WalletRead),
    platform("POST", "/v1/withdrawals/{number}/review", AdminWrite),
    // The channel's word that the payout reached the card, or did not.
    platform("POST", "/v1/withdrawals/{number}/payout", WalletWrite),
    platform("POST", "/v1/freezes", AdminWrite),
    platform("GET", "/v1/freezes/{number}", AdminRead),
    platform("POST", "/v1/freezes/{number}/unfreeze", AdminWrite),
    platform("POST", "/v1/freezes/{number}/seize", AdminWrite),
    platform("POST", "/v1/adjustments", AdminWrite),
    platform("GET", "/v1/adjustments/{number}", AdminRead),
    platform("POST", "/v1/adjustments/{number}/approve", AdminWrite),
    member("GET", "/v1/members/{id}/wallet/flow", WalletRead, MEMBER_PATH),
    own_orders("POST", "/v1/recharges/{number}/refunds", WalletWrite),
    own_orders("POST", "/v1/payments/{number}/escrow-release", WalletWrite),
    own_orders("POST", "/v1/payments/{number}/escrow-return", WalletWrite),
    member("POST", "/v1/deposits", WalletWrite, &[Body("member_id", Member)]),
    own_orders("GET", "/v1/deposits/{number}", WalletRead),
    own_orders("POST", "/v1/deposits/{number}/release", WalletWrite),
    own_orders("POST", "/v1/deposits/{number}/capture", WalletWrite),
    member("POST", "/v1/member-transfers", WalletWrite, &[Body("sender_member_id", Member)]),
    own_orders("GET", "/v1/member-transfers/{number}", WalletRead),
    member(
        "POST",
        "/v1/subsidy-fundings",
        WalletWrite,
        &[Body("enterprise_member_id", Member), Body("account_id", Account)],
    ),
    own_orders("GET", "/v1/subsidy-fundings/{number}", WalletRead),
    member("POST", "/v1/subsidy-distributions", WalletWrite, &[Body("enterprise_member_id", Member)]),
    own_orders("GET", "/v1/subsidy-distributions/{number}", WalletRead),
    member("GET", "/v1/members/{id}/subsidy-fund", WalletRead, MEMBER_PATH),
    // A staff member's own session (`crate::staff::sessions`): signing in needs no credential, and
    // every staff member, whatever the role, may see and end their session; no scope.
    public("POST", "/v1/staff/sessions"),
    RouteAccess { method: "GET", route: "/v1/staff/sessions/current", scope: None, reach: Reach::Platform },
    RouteAccess { method: "POST", route: "/v1/staff/sessions/current/logout", scope: None, reach: Reach::Platform },
    // Maker-checker's approvals (`crate::staff::approvals`); deciding one is for staff signed in.
    platform("GET", "/v1/approvals", AdminRead),
    platform("GET", "/v1/approvals/{id}", AdminRead),
    platform("POST", "/v1/approvals/{id}/approve", AdminWrite),
    platform("POST", "/v1/approvals/{id}/reject", AdminWrite),
];

/// The body fields that name a member's object only to send it money; a bound client may name anyone's
/// (see the module's documentation). The tests check that every other field naming a member's object
/// on a route a bound client reaches is in [`ACCESS`].
pub const CREDITED_FIELDS: &[(&str, &str)] = &[
    ("/v1/payments", "receiver_account_id"),
    ("/v1/deposits", "beneficiary_account_id"),
    ("/v1/member-transfers", "receiver_member_id"),
    ("/v1/subsidy-distributions", "credits[].member_id"),
];

/// The table's entry for a route (its template, as in [`crate::ROUTES`]), if it has one.
pub fn access(method: &str, route: &str) -> Option<&'static RouteAccess> {
    ACCESS.iter().find(|entry| entry.method == method && entry.route == route)
}

/// The scope a signed route needs.
///
/// # Panics
///
/// If `route` is not a signed entry of [`crate::ROUTES`]: a route the table does not know is a bug,
/// and the tests check that every signed route has an entry. A caller that cannot be sure uses
/// [`access`].
pub fn required_scope(method: &str, route: &str) -> Scope {
    match access(method, route).and_then(|entry| entry.scope) {
        Some(scope) => scope,
        None => panic!("{method} {route} is not a signed route of ROUTES"),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    use super::*;
    use crate::ROUTES;

    #[test]
    fn every_route_has_exactly_one_entry_in_the_routes_order() {
        let table: Vec<(&str, &str)> = ACCESS.iter().map(|a| (a.method, a.route)).collect();
        assert_eq!(table, ROUTES, "the table lists every route once, in ROUTES' order");
        for &(method, route) in ROUTES {
            assert_eq!(ACCESS.iter().filter(|a| a.method == method && a.route == route).count(), 1, "{method} {route}");
        }
    }

    #[test]
    fn signed_routes_need_a_scope_and_public_ones_none() {
        for entry in ACCESS {
            // A staff member's own session needs none, whatever the role.
            if crate::staff::sessions::SESSION_ROUTES.contains(&entry.route) {
                assert_eq!(entry.scope, None, "{} {}", entry.method, entry.route);
                continue;
            }
            let signed = entry.route.starts_with("/v1/");
            assert_eq!(entry.scope.is_some(), signed, "{} {}", entry.method, entry.route);
            assert_eq!(entry.reach == Reach::Public, !signed, "{} {}", entry.method, entry.route);
            if let Some(scope) = entry.scope {
                assert_eq!(required_scope(entry.method, entry.route), scope);
            }
        }
    }

    #[test]
    fn reads_need_a_read_scope_and_changes_a_write_scope() {
        for entry in ACCESS {
            let Some(scope) = entry.scope else { continue };
            let access = scope.as_str().split_once(':').map(|(_, access)| access);
            let expected = if entry.method == "GET" { "read" } else { "write" };
            assert_eq!(access, Some(expected), "{} {} needs {scope}", entry.method, entry.route);
        }
    }

    #[test]
    fn the_back_office_the_ledger_and_the_audit_log_are_beyond_a_bound_clients_reach() {
        for entry in ACCESS {
            if let Some(scope) = entry.scope.filter(|scope| !scope.bindable()) {
                assert_eq!(entry.reach, Reach::Platform, "{} {} needs {scope}", entry.method, entry.route);
            }
        }
        // The back office's routes, as the issue lists them.
        for (method, route) in [
            ("POST", "/v1/customers/{id}/status"),
            ("POST", "/v1/customers/{id}/merge"),
            ("POST", "/v1/accounts/{id}/status"),
            ("POST", "/v1/freezes"),
            ("POST", "/v1/freezes/{number}/unfreeze"),
            ("POST", "/v1/freezes/{number}/seize"),
            ("POST", "/v1/adjustments"),
            ("POST", "/v1/adjustments/{number}/approve"),
            ("POST", "/v1/recharges/{number}/approve"),
            ("POST", "/v1/recharges/{number}/reject"),
            ("POST", "/v1/withdrawals/{number}/review"),
            ("POST", "/v1/authentications/{id}/decide"),
        ] {
            assert_eq!(required_scope(method, route), Scope::AdminWrite, "{method} {route}");
        }
        assert_eq!(required_scope("GET", "/v1/platform-accounts"), Scope::AdminRead);
        assert_eq!(required_scope("GET", "/v1/audit-events"), Scope::AuditRead);
    }

    /// The kind of id a path's `{id}` is, by the path's first segment.
    fn path_kind(route: &str) -> Option<Owned> {
        let rest = route.strip_prefix("/v1/")?;
        let (collection, rest) = rest.split_once('/')?;
        if !rest.starts_with("{id}") {
            return None;
        }
        match collection {
            "members" => Some(Owned::Member),
            "accounts" => Some(Owned::Account),
            "operators" => Some(Owned::Operator),
            "bank-cards" => Some(Owned::BankCard),
            _ => None,
        }
    }

    #[test]
    fn a_route_a_bound_client_reaches_checks_the_id_in_its_path() {
        for entry in ACCESS {
            let Reach::Member(named) = entry.reach else {
                if matches!(entry.reach, Reach::OwnOrders) {
                    assert!(entry.route.contains("{number}"), "{} {} names no order", entry.method, entry.route);
                }
                continue;
            };
            let in_path: Vec<Owned> =
                named.iter().filter_map(|n| if let Named::Path(kind) = n { Some(*kind) } else { None }).collect();
            match path_kind(entry.route) {
                Some(kind) => assert_eq!(in_path, [kind], "{} {}", entry.method, entry.route),
                None => {
                    assert!(in_path.is_empty(), "{} {}", entry.method, entry.route);
                    assert!(!entry.route.contains('{'), "{} {} has an unchecked path id", entry.method, entry.route);
                }
            }
        }
    }

    /// Every property of a route's request body (`a.b`, `list[].b`) or query, from the OpenAPI document.
    fn request_fields(doc: &Value, method: &str, route: &str) -> BTreeSet<String> {
        fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
            match value.get("$ref").and_then(Value::as_str) {
                Some(reference) => doc.pointer(reference.trim_start_matches('#')).expect("the reference resolves"),
                None => value,
            }
        }
        fn walk(doc: &Value, schema: &Value, prefix: &str, out: &mut BTreeSet<String>) {
            let schema = resolve(doc, schema);
            for part in ["allOf", "oneOf", "anyOf"] {
                for alternative in schema[part].as_array().into_iter().flatten() {
                    walk(doc, alternative, prefix, out);
                }
            }
            for (name, property) in schema["properties"].as_object().into_iter().flatten() {
                let path = format!("{prefix}{name}");
                out.insert(path.clone());
                let property = resolve(doc, property);
                walk(doc, property, &format!("{path}."), out);
                if property["items"].is_object() {
                    walk(doc, &property["items"], &format!("{path}[]."), out);
                }
            }
        }
        let operation = &doc["paths"][route][method.to_lowercase()];
        let mut fields = BTreeSet::new();
        let schema = &operation["requestBody"]["content"]["application/json"]["schema"];
        if !schema.is_null() {
            walk(doc, schema, "", &mut fields);
        }
        for parameter in operation["parameters"].as_array().into_iter().flatten() {
            let parameter = resolve(doc, parameter);
            if parameter["in"] == "query" {
                fields.insert(format!("?{}", parameter["name"].as_str().unwrap_or_default()));
            }
        }
        fields
    }

    #[test]
    fn the_openapi_document_names_each_operations_scope_and_its_refusals() {
        let doc: Value = serde_json::from_str(crate::openapi::DOCUMENT).expect("openapi.json is JSON");
        let response = |value: &Value| -> Value {
            let reference = value["$ref"].as_str().expect("responses are references");
            doc.pointer(reference.trim_start_matches('#')).expect("the reference resolves").clone()
        };
        for entry in ACCESS {
            let operation = &doc["paths"][entry.route][entry.method.to_lowercase()];
            let what = format!("{} {}", entry.method, entry.route);
            let Some(scope) = entry.scope else {
                assert!(operation.get("x-sanhu-scope").is_none(), "{what}");
                continue;
            };
            assert_eq!(operation["x-sanhu-scope"], scope.as_str(), "{what}");
            let description = operation["description"].as_str().unwrap_or_default();
            assert!(description.contains(&format!("Scope: `{scope}`")), "{what}'s description names no scope");
            let forbidden = response(&operation["responses"]["403"]);
            let forbidden = forbidden["description"].as_str().unwrap_or_default();
            assert!(forbidden.contains("`scope_missing`") && forbidden.contains("`client_bound`"), "{what}: 403");
            if entry.reach == Reach::Platform && scope.bindable() {
                assert!(description.contains("`client_bound`"), "{what} does not say a bound client is refused");
            }
            if matches!(entry.reach, Reach::Member(_)) {
                assert!(operation["responses"]["404"].is_object(), "{what} answers ids beyond reach 404");
            }
            let limited = response(&operation["responses"]["429"]);
            assert!(limited["description"].as_str().unwrap_or_default().contains("`rate_limited`"), "{what}: 429");
            assert!(limited["headers"]["Retry-After"].is_object(), "{what}: 429 has Retry-After");
        }
    }

    #[test]
    fn every_id_a_bound_client_could_name_is_checked_or_only_credited() {
        let doc: Value = serde_json::from_str(crate::openapi::DOCUMENT).expect("openapi.json is JSON");
        let names_an_owned_object = |field: &str| {
            let last = field.rsplit(['.', '?']).next().unwrap_or(field);
            last.ends_with("member_id")
                || last.ends_with("account_id")
                || last.ends_with("account_ids")
                || last.ends_with("operator_id")
                || last.ends_with("bank_card_id")
        };
        for entry in ACCESS {
            let fields = request_fields(&doc, entry.method, entry.route);
            let named: Vec<String> = match entry.reach {
                Reach::Member(named) => named
                    .iter()
                    .filter_map(|n| match n {
                        Named::Path(_) => None,
                        Named::Body(field, _) | Named::BodyList(field, _) => Some(field.to_string()),
                        Named::Query(parameter, _) => Some(format!("?{parameter}")),
                    })
                    .collect(),
                _ => Vec::new(),
            };
            for field in &named {
                assert!(
                    fields.contains(field),
                    "{} {} checks {field}, which it does not take",
                    entry.method,
                    entry.route
                );
            }
            if !matches!(entry.reach, Reach::Member(_) | Reach::OwnOrders | Reach::Filtered) {
                continue;
            }
            for field in fields.iter().filter(|f| names_an_owned_object(f)) {
                let credited = CREDITED_FIELDS.contains(&(entry.route, field.as_str()));
                assert!(
                    named.contains(field) || credited,
                    "{} {} takes {field}, which a bound client could point at another member's object",
                    entry.method,
                    entry.route
                );
            }
        }
        for (route, field) in CREDITED_FIELDS {
            assert!(request_fields(&doc, "POST", route).contains(*field), "{route} takes no {field}");
        }
    }
}
