//! Recharge compensation (掉单补偿): asking a payment channel about a recharge order whose
//! confirmation never came, and completing the order from the channel's answer.
//!
//! A channel normally tells the platform that a member paid (its notification calls
//! `confirm_recharge`). A notification can be lost: the member paid, and the order stays pending until
//! it expires. The compensation job (`jobs::compensate_recharges`) therefore asks the channel about
//! every order still pending after `recharge_query_after_s`, through the channel's configured status
//! endpoint ([`Channel::status_url`](super::Channel)), and completes it through the same use cases a
//! notification or the caller would use:
//!
//! - **paid**, for exactly the order's amount: `confirm_recharge`, which credits the member once
//!   however many confirmations race with it (the chain's ids are derived from the order);
//! - **not paid**: `fail_recharge` (the channel closed the payment without money);
//! - **unknown**, or no answer (a timeout, an error, an answer that does not add up, a paid amount
//!   that differs from the order's): nothing; the order is asked about again on the next pass. Money
//!   is credited only on a clear "paid" for the right amount.
//!
//! An order of a channel with a status endpoint is never closed by the expiry job
//! ([`Wallets::expire_recharge_orders`]): after its expiry it stays pending until its channel says
//! "not paid" (failed) or "paid" (credited), so a payment made at the last moment is never closed
//! unseen and left for someone to refund at the channel by hand.
//!
//! An order whose credit was decided but not yet recorded (`crediting`, after a crash between the
//! ledger and the record) needs no question: the job finishes it by submitting its stored chain again.
//!
//! How the question travels is an adapter's concern: this module defines what is asked
//! ([`ChannelOrderQuery`]) and what may be answered ([`ChannelAnswer`]); the HTTP implementation and
//! the status protocol are in `sanhu_http::channel_status`.

use std::future::Future;

use sanhu_core::id::ClientId;
use sanhu_core::{Currency, Timestamp};
use sanhu_store::party::PartyStore;

use super::recharge::{OPEN, OPEN_RECHARGES};
use super::{RechargeOrder, RechargeStatus, Wallets};
use crate::party::documents::Document;
use crate::wallet::WalletFailure;

/// What the platform asks a channel about one recharge order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelOrderQuery {
    /// The channel's configured name (`alipay`, `wechat`, ...).
    pub channel: String,
    /// The channel's status endpoint, as configured.
    pub status_url: String,
    /// The API client whose order it is: order numbers are unique per client.
    pub client: ClientId,
    /// The caller's order number (商户订单号), which the channel knows the payment by.
    pub order_number: String,
    /// The order's amount, in minor units of `currency`.
    pub amount: i64,
    pub currency: Currency,
}

/// What a channel says about an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelAnswer {
    /// The member paid `amount` (minor units) for this order.
    Paid { amount: i64 },
    /// The payment was closed without money: the order will never be paid.
    NotPaid,
    /// The channel cannot tell yet (the member may still be paying).
    Unknown,
}

/// Asks a payment channel about a recharge order. An `Err` is a question that got no usable answer
/// (unreachable, timed out, an error status, a malformed answer); the job treats it as unknown.
/// Implementations bound the time every call may take.
pub trait ChannelQuery: Send + Sync + 'static {
    fn order_status(&self, query: &ChannelOrderQuery) -> impl Future<Output = anyhow::Result<ChannelAnswer>> + Send;
}

/// What the compensation job does with one order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Compensation {
    /// Its credit was decided but not recorded: submit the stored chain again.
    Resume,
    /// Pending long enough, on a channel with a status endpoint: ask the channel.
    Ask(ChannelOrderQuery),
}

/// The most open recharge orders one compensation pass reads.
pub const COMPENSATION_PASS_ORDERS_MAX: u32 = 1000;

impl Wallets {
    /// The open recharge orders the compensation job should act on at `now`: pending since
    /// `recharge_query_after_s` or longer on a channel with a status endpoint (asked about), or
    /// crediting (resumed). Reviewed orders wait for their reviewer and are left alone. At most
    /// `limit` open orders are read, in id order.
    pub async fn recharges_to_compensate(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<(RechargeOrder, Compensation)>, WalletFailure> {
        let store = self.parties.store();
        let wanted = limit.min(COMPENSATION_PASS_ORDERS_MAX) as usize;
        let mut work = Vec::new();
        let mut ids = store.party_index(OPEN_RECHARGES, OPEN, COMPENSATION_PASS_ORDERS_MAX).await?;
        // Every open order is looked at, a page at a time, until the pass has its work: the orders
        // due are not always first in id order.
        while let Some(last) = ids.last().cloned() {
            let mut records = store.party_records(&ids).await?;
            records.sort_by(|a, b| a.id.cmp(&b.id));
            for record in records {
                let order = RechargeOrder::decode(&record.data)?;
                let asked_from = order.created_at.add_seconds(self.config.recharge_query_after_s);
                let compensation = match order.status {
                    RechargeStatus::Crediting => Compensation::Resume,
                    RechargeStatus::Pending if asked_from.is_some_and(|at| at <= now) => {
                        let Some(url) = self.config.channel(&order.channel).and_then(|c| c.status_url.clone()) else {
                            continue;
                        };
                        Compensation::Ask(ChannelOrderQuery {
                            channel: order.channel.clone(),
                            status_url: url,
                            client: order.client,
                            order_number: order.order_number.clone(),
                            amount: order.amount,
                            currency: self.config.currency,
                        })
                    }
                    _ => continue,
                };
                work.push((order, compensation));
                if work.len() == wanted {
                    return Ok(work);
                }
            }
            if ids.len() < COMPENSATION_PASS_ORDERS_MAX as usize {
                break;
            }
            ids = store.party_index_after(OPEN_RECHARGES, OPEN, &last, COMPENSATION_PASS_ORDERS_MAX).await?;
        }
        Ok(work)
    }
}
