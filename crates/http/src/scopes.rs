//! Who may call what: the kinds of [`Access`] an entry of the route table ([`crate::routes`]) names,
//! the scope it needs and how far a client bound to one member reaches on it. [`crate::access`]
//! enforces them on every signed request; staff roles are mapped onto the same scopes
//! ([`required_scope`]).
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

pub use sanhu_core::party::product::PlatformProduct;
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
    /// `mch_…`: a merchant, run by a member.
    Merchant,
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

/// What a service provider's client (服务商) may do on a route for a merchant that authorised it
/// (`Parties::reaches_for`): on [`ProviderUse::Nothing`] the merchant's objects are beyond its reach,
/// as if absent; on the others, it reaches them when the merchant authorised it the product the
/// request uses (else 403 `provider_product_not_authorised`), or, reading the merchant, at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderUse {
    Nothing,
    /// Reading the path's merchant.
    ReadMerchant,
    /// A money flow that uses this product.
    Product(PlatformProduct),
    /// A payment: `escrow_collection` when its body asks for escrow (`"escrow": true`), `split_payment`
    /// when it names `splits`, else `balance_payment`; paying the merchant's own account only
    /// (`receiver_account_id`).
    Payment,
    /// A deposit (`balance_payment`), held for the merchant's own account (`beneficiary_account_id`).
    Deposit,
}

/// Who may call an endpoint: one entry of the route table says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    /// None for a public route, and for a staff member's own session.
    pub scope: Option<Scope>,
    pub reach: Reach,
    /// What a service provider's client does on it for the merchants that authorised it.
    pub provider: ProviderUse,
}

/// Not signed.
pub const fn public() -> Access {
    Access { scope: None, reach: Reach::Public, provider: ProviderUse::Nothing }
}

/// Acts for the whole platform ([`Reach::Platform`]).
pub const fn platform(scope: Scope) -> Access {
    Access { scope: Some(scope), reach: Reach::Platform, provider: ProviderUse::Nothing }
}

/// Every object named where `named` says must be the bound member's ([`Reach::Member`]).
pub const fn member(scope: Scope, named: &'static [Named]) -> Access {
    Access { scope: Some(scope), reach: Reach::Member(named), provider: ProviderUse::Nothing }
}

/// The client's own orders ([`Reach::OwnOrders`]).
pub const fn own_orders(scope: Scope) -> Access {
    Access { scope: Some(scope), reach: Reach::OwnOrders, provider: ProviderUse::Nothing }
}

/// A search that leaves out what is not the bound member's ([`Reach::Filtered`]).
pub const fn filtered(scope: Scope) -> Access {
    Access { scope: Some(scope), reach: Reach::Filtered, provider: ProviderUse::Nothing }
}

/// A staff member's own session: every staff member, whatever the role, may see and end theirs; no
/// scope, and no API client ([`Reach::Platform`]).
pub const fn own_session() -> Access {
    Access { scope: None, reach: Reach::Platform, provider: ProviderUse::Nothing }
}

use Named::{Body, BodyList, Path, Query};
use Owned::{Account, BankCard, Member, Merchant, Operator};

/// The path's member.
pub const MEMBER_PATH: &[Named] = &[Path(Member)];
/// The path's account.
pub const ACCOUNT_PATH: &[Named] = &[Path(Account)];
/// The path's merchant.
pub const MERCHANT_PATH: &[Named] = &[Path(Merchant)];
/// A store opened under the merchant in the path, with its cashier: an operator the client reaches
/// (the service then checks it is the merchant's member's).
pub const STORE_OPENING: &[Named] = &[Path(Merchant), Body("cashier_operator_id", Operator)];
/// The path's merchant and the member the body names (a member's wallet cleared at its merchant).
pub const MERCHANT_MEMBER: &[Named] = &[Path(Merchant), Body("member_id", Member)];
/// Both wallets of a cross-wallet top-up: a bound client reaches both members.
pub const TOPPING_UP: &[Named] = &[Body("from_member_id", Member), Body("to_member_id", Member)];
/// A parent and the merchant below it that it authorises a product to (or revokes it from): a client
/// reaches both only from above the parent.
pub const PRODUCT_AUTHORISATION: &[Named] = &[Path(Merchant), Body("merchant_id", Merchant)];
/// The member whose merchants a list asks for.
pub const MERCHANTS_OF_MEMBER: &[Named] = &[Query("member_id", Member)];
/// The issuing merchant a report narrows to (`?merchant_id`): a bound client's own.
pub const REPORTED_MERCHANT: &[Named] = &[Query("merchant_id", Merchant)];
/// A member registered for a merchant (`merchant_id`): a bound client's, for a merchant it reaches.
pub const MEMBER_REGISTERING: &[Named] = &[Body("merchant_id", Merchant)];
/// The member a merchant is opened from.
pub const MERCHANT_OPENING: &[Named] = &[Body("member_id", Member), Body("parent_id", Merchant)];
/// The path's operator.
pub const OPERATOR_PATH: &[Named] = &[Path(Operator)];
/// An operator managed by the client, or by an admin operator it names.
pub const MANAGED_OPERATOR: &[Named] = &[Path(Operator), Body("acting_operator_id", Operator)];
/// An operator given or refused an account by the client, or by an admin operator it names.
pub const GRANTED_OPERATOR: &[Named] =
    &[Path(Operator), Body("account_id", Account), Body("acting_operator_id", Operator)];
/// The other combinations the route table names, each once.
pub const MEMBER_AND_ACTING_OPERATOR: &[Named] = &[Path(Member), Body("acting_operator_id", Operator)];
pub const AUTHORISED_OPERATOR: &[Named] = &[Path(Operator), Body("account_id", Account)];
pub const UNBOUND_CARD: &[Named] = &[Path(BankCard), Body("member_id", Member)];
pub const CHECKED_CARD: &[Named] = &[Path(BankCard), Query("member_id", Member)];
pub const MEMBER_FLOW: &[Named] = &[Path(Member), Query("account_id", Account)];
/// A balance monitor's account, when it names one.
pub const MONITORED_ACCOUNT: &[Named] = &[Body("account_id", Account)];
pub const DEDUCTION_ORDER: &[Named] = &[Path(Member), BodyList("account_ids", Account)];
pub const RECHARGING: &[Named] = &[Body("member_id", Member), Body("account_id", Account)];
/// A payment by the payer's ids. A payment by pay code names no payer: the code does, and the
/// handler decides what a bound client reaches (`wallet::payments`).
pub const PAYING: &[Named] = &[Body("member_id", Member), Body("operator_id", Operator)];
/// The owner granting a family card, its account and the family member: a bound client reaches all.
pub const FAMILY_CARD_GRANTING: &[Named] =
    &[Path(Member), Body("account_id", Account), Body("family_member_id", Member)];
/// The member issuing a pay code, and the account it binds the code to.
pub const PAY_CODE_ISSUING: &[Named] = &[Path(Member), Body("account_id", Account)];
pub const WITHDRAWING: &[Named] =
    &[Body("member_id", Member), Body("bank_card_id", BankCard), Body("operator_id", Operator)];
pub const SENDING: &[Named] = &[Body("sender_member_id", Member), Body("operator_id", Operator)];
pub const FUNDING: &[Named] = &[Body("enterprise_member_id", Member), Body("account_id", Account)];
pub const DISTRIBUTING: &[Named] = &[Body("enterprise_member_id", Member)];
/// The merchant a card type is made for.
pub const CARD_TYPE_OWNER: &[Named] = &[Body("merchant_id", Merchant)];

/// The body fields that name a member's object only to send it money; a bound client may name anyone's
/// (see the module's documentation). The tests check that every other field naming a member's object
/// on a route a bound client reaches is in its entry of the route table.
pub const CREDITED_FIELDS: &[(&str, &str)] = &[
    ("/v1/payments", "receiver_account_id"),
    // A split payment's receivers are paid, as `receiver_account_id` is.
    ("/v1/payments", "splits[].receiver_account_id"),
    // One of the payment's own receivers, which the service finds among its splits (else 404
    // `split_receiver_not_found`): released to, never another's.
    ("/v1/payments/{number}/split-release", "account_id"),
    ("/v1/deposits", "beneficiary_account_id"),
    ("/v1/member-transfers", "receiver_member_id"),
    ("/v1/subsidy-distributions", "credits[].member_id"),
    // A merchant's card pays into its own member's accounts (the service checks), and is given to
    // any member, its customer.
    ("/v1/cards/{number}/payments", "receiver_account_id"),
    ("/v1/cards/{number}/bind", "member_id"),
    // A redeemed code's card is given to the member named, as a bound card is.
    ("/v1/card-codes/redeem", "member_id"),
    // The merchant a line is bought from: the quote only prices the line, and paying the quote goes
    // to that merchant's account or is refused (`checkout_quote_mismatch`), a receiver as a card
    // payment's is.
    ("/v1/checkout/quote", "lines[].merchant_id"),
    // Not credited, but decided by the cards' reach (`Cards::reaches`, in the quote's use case): a
    // bound client quotes for a member it reaches, or one holding a card or coupon it reaches (a
    // merchant's card or coupon held by the platform's member), else 404 `member_not_found`.
    ("/v1/checkout/quote", "member_id"),
    // Not credited, but decided by the parties' reach in the transfer's use case (`card/life.rs`): a
    // bound client transfers a card only to a member it reaches, else 404 `member_not_found`.
    ("/v1/cards/{number}/transfer", "member_id"),
    // Checked in the cancellation's use case (`card/life.rs`): the card's own member's account (a
    // refund to the wallet) or the issuing merchant's member's (cash at its counter), else 422
    // `card_cancel_account_outside`.
    ("/v1/cards/{number}/cancel", "account_id"),
];

/// What the layers need to know of the endpoint a request reached, from its entry of the route
/// table (`crate::routes`): who may call it, whether its body carries a secret, whether a staff
/// member's request to it is held for a second one. The router puts it on every request that reached
/// an endpoint, before the layers run; no layer looks the table up.
#[derive(Clone, Copy, Debug)]
pub struct RouteFacts {
    pub access: Access,
    /// Its request or response carries a secret: it takes no Idempotency-Key.
    pub secret: bool,
    /// Made by a staff member, the request waits for a second one.
    pub held: bool,
}

/// The part of the back office a route is in, where a staff member's role decides beyond its scopes
/// (`StaffRole::reaches`; the access layer refuses the rest with `scope_missing`): the webhooks'
/// routes and merchants' settlement routes. API clients are not concerned: their scopes decide.
pub fn staff_area(route: &str) -> Option<sanhu_core::staff::StaffArea> {
    use sanhu_core::staff::StaffArea;
    if route == "/v1/webhooks" || route.starts_with("/v1/webhooks/") {
        Some(StaffArea::Webhooks)
    } else if route.starts_with("/v1/merchants/{id}/settlements")
        || route.starts_with("/v1/merchants/{id}/settlement-adjustments")
    {
        Some(StaffArea::Settlements)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    use super::*;
    use crate::routes::required_scope;

    /// Every entry of the route table, as (method, route, scope, reach).
    struct Entry {
        method: &'static str,
        route: &'static str,
        scope: Option<Scope>,
        reach: Reach,
    }

    fn table() -> Vec<Entry> {
        crate::routes::all()
            .iter()
            .map(|r| Entry { method: r.method, route: r.path, scope: r.access.scope, reach: r.access.reach })
            .collect()
    }

    #[test]
    fn every_route_has_exactly_one_entry() {
        for entry in table() {
            let same = table().iter().filter(|e| e.method == entry.method && e.route == entry.route).count();
            assert_eq!(same, 1, "{} {}", entry.method, entry.route);
        }
    }

    #[test]
    fn signed_routes_need_a_scope_and_public_ones_none() {
        for entry in table() {
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
        for entry in table() {
            let Some(scope) = entry.scope else { continue };
            let access = scope.as_str().split_once(':').map(|(_, access)| access);
            let expected = if entry.method == "GET" { "read" } else { "write" };
            assert_eq!(access, Some(expected), "{} {} needs {scope}", entry.method, entry.route);
        }
    }

    #[test]
    fn the_back_office_the_ledger_and_the_audit_log_are_beyond_a_bound_clients_reach() {
        for entry in table() {
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
            "merchants" => Some(Owned::Merchant),
            _ => None,
        }
    }

    #[test]
    fn a_route_a_bound_client_reaches_checks_the_id_in_its_path() {
        for entry in table() {
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
        let doc: Value = crate::openapi::document_json().clone();
        let response = |value: &Value| -> Value {
            let reference = value["$ref"].as_str().expect("responses are references");
            doc.pointer(reference.trim_start_matches('#')).expect("the reference resolves").clone()
        };
        for entry in table() {
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
        let doc: Value = crate::openapi::document_json().clone();
        let names_an_owned_object = |field: &str| {
            let last = field.rsplit(['.', '?']).next().unwrap_or(field);
            last.ends_with("member_id")
                || last.ends_with("account_id")
                || last.ends_with("account_ids")
                || last.ends_with("operator_id")
                || last.ends_with("bank_card_id")
                || last.ends_with("merchant_id")
        };
        for entry in table() {
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
