//! The wallet's endpoints (钱包): the platform's accounts, a member's wallet, and the money flows of
//! the articles: recharge orders, payments with authorise/capture/release and refunds, withdrawals
//! (preview, application, review, payout result), escrow and deposits, transfers between members,
//! enterprise subsidies, freezes, and manual adjustments.
//!
//! Orders are named by the caller's order number (商户订单号), unique per API client and kind of
//! order: creating one again with the same number answers it as it is, so a retry never moves money
//! twice even without an `Idempotency-Key`. Numbers are 1 to 64 printable ASCII characters; in a
//! path they are percent-encoded where needed (`/`, `?`, `#`, `%`).
//!
//! | file | endpoints |
//! |---|---|
//! | `platform.rs` | `GET /v1/platform-accounts` |
//! | `wallets.rs` | a member's wallet, its flow, deduction order, withdrawal preview |
//! | `recharges.rs` | `/v1/recharges`: create, read, confirm, approve, reject, fail, close, refunds |
//! | `payments.rs` | `/v1/payments`: pay (by the payer's ids or a pay code), read, capture, release, refunds; escrow released or returned |
//! | `pay_codes.rs` | `/v1/members/{id}/pay-codes`: a member's one-time pay code for the counter |
//! | `deposits.rs` | `/v1/deposits`: hold, read, release, capture |
//! | `member_transfers.rs` | `/v1/member-transfers`: between members, keeping the money's kind |
//! | `subsidies.rs` | `/v1/subsidy-fundings`, `/v1/subsidy-distributions`, an enterprise's subsidy fund |
//! | `withdrawals.rs` | `/v1/withdrawals`: apply, read, review, payout result |
//! | `freezes.rs` | `/v1/freezes`: freeze, read, unfreeze, seize |
//! | `adjustments.rs` | `/v1/adjustments`: make, read, approve |
//! | `reconciliations.rs` | `/v1/reconciliation/imports`: a channel's statement imported, its differences listed, explained or credited |

pub mod adjustments;
pub mod clearances;
pub mod deposits;
pub mod family_cards;
pub mod freezes;
pub mod limits;
pub mod member_transfers;
pub mod pay_codes;
pub mod payments;
pub mod platform;
pub mod recharges;
pub mod reconciliations;
pub mod settlements;
pub mod statistics;
pub mod subsidies;
pub mod top_ups;
pub mod wallets;
pub mod withdrawals;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use sanhu_core::id::ClientId;
use sanhu_core::party::Actor;
use sanhu_service::wallet::{OrderNumber, ORDER_NOT_FOUND};
use serde_json::Number;

use crate::error::{code, ApiError};
use crate::party::ClientActor;
use crate::principal::ClientAccess;
use crate::query::QueryParams;

/// The description of the path's `{id}` in the wallet's endpoints about one member.
pub const MEMBER_ID_PARAM: &str = "The member's id.";

/// The description of the path's `{number}` ([`OrderNumberPath`]).
pub const ORDER_NUMBER_PARAM: &str = "The caller's order number (商户订单号), unique per API client and kind of order; 1 to 64 printable ASCII characters, percent-encoded where needed.";

/// The description of the query's `client_id` ([`OrderOf`]).
pub const ORDER_CLIENT_ID_PARAM: &str = "The API client whose numbering the order is in, for a caller acting for the whole platform (an unbound client or staff): a merchant's client bound to its member makes orders only the platform can confirm, review or pay out. Absent: the caller's own. A bound client naming another is refused `client_bound`, except to refund a payment made to its member (see the refund).";

/// The caller's number of an order, from the path's `{number}`.
pub struct OrderNumberPath(pub OrderNumber);

impl<S: Send + Sync> FromRequestParts<S> for OrderNumberPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<OrderNumberPath, ApiError> {
        // A number that cannot be an order number names no order: the route's not-found answer.
        let not_found = || ApiError::refused(ORDER_NOT_FOUND).within("number");
        let Path(text) = Path::<String>::from_request_parts(parts, state).await.map_err(|_| not_found())?;
        Ok(OrderNumberPath(OrderNumber::parse(&text).map_err(|_| not_found())?))
    }
}

/// An order named by the path's `{number}`, and the API client whose numbering it is in: the caller's
/// own, or, for a caller acting for the whole platform (an unbound client or staff), the client named
/// by `?client_id=` (a merchant's client bound to its member makes orders that only the platform can
/// confirm, review or pay out). A bound client naming another client is refused `client_bound`.
pub struct OrderOf {
    pub client: ClientId,
    pub number: OrderNumber,
}

impl<S: Send + Sync> FromRequestParts<S> for OrderOf {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<OrderOf, ApiError> {
        let OrderNumberPath(number) = OrderNumberPath::from_request_parts(parts, state).await?;
        let ClientActor(actor) = ClientActor::from_request_parts(parts, state).await?;
        let query = QueryParams::from_request_parts(parts, state).await?.only(&["client_id"])?;
        let Some(text) = query.get("client_id") else {
            return Ok(OrderOf { client: client_of(&actor)?, number });
        };
        let client = ClientId::parse(text).ok_or_else(|| {
            ApiError::new(code::INVALID_ID, "client_id is not an API client id (cli_ and 26 characters)")
        })?;
        if parts.extensions.get::<ClientAccess>().is_some_and(|access| access.bound_to.is_some()) {
            return Err(ApiError::new(
                code::CLIENT_BOUND,
                "a client bound to one member reaches only its own orders; client_id is for the platform",
            ));
        }
        Ok(OrderOf { client, number })
    }
}

/// An order number from a body field.
pub fn order_number(field: &str, text: &str) -> Result<OrderNumber, ApiError> {
    OrderNumber::parse(text).map_err(|e| ApiError::from(e).within(field))
}

/// A positive amount of minor units, as the service takes it.
pub fn amount(field: &str, number: &Number) -> Result<i64, ApiError> {
    crate::ledger::fields::amount(field, number).map(|a| a.get())
}

/// The API client a request was signed by: orders are numbered per client. Staff number theirs in
/// the back office's space, which they share ([`crate::staff::back_office_client`]).
pub fn client_of(actor: &Actor) -> Result<ClientId, ApiError> {
    match actor {
        Actor::Client(id) => Ok(*id),
        Actor::Staff(_) => Ok(crate::staff::back_office_client()),
        _ => Err(ApiError::internal(anyhow::anyhow!("a wallet handler ran for an actor that is not an API client"))),
    }
}
