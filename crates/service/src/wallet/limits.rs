//! Limits on wallet payments (支付限额), per account type and per member: per payment, per platform
//! day and per platform month (the time zone of core's `time.rs`), on what a payment takes from the
//! member's accounts of one type. The platform configures limits per account type
//! (`WalletConfig::payment_limits`, e.g. a B2B buyer's `b2b` accounts capped at 1,000,000.00 a day);
//! staff override them for one member and one account type (`set_member_payment_limits`, audited in
//! the member's history), and the override replaces the type's limits for that member whole.
//!
//! A payment counts what it takes from each type in
//! day and month counters (`wallet_payments:mem_…:TYPE:day:N`, `…:month:YYYY-MM`) added to in the
//! write that records it, bounded by the limits: two payments at once cannot both fit (the second's
//! write is refused and it is decided again). Every payment counts, limited or not, so a limit set
//! during the day or month meets what was already paid in it.
//!
//! **What gives usage back**: only an order that did not happen: a payment the ledger refused, an
//! authorisation released or expired (nothing was paid). A refund does
//! not restore the day's or the month's usage, nor does an escrow returned or a capture for less than
//! was authorised: the limit bounds what the member paid, and a refund is money coming back, not a
//! payment undone. Refusals are `payment_limit_exceeded` (422) with the limit named in the message.

use sanhu_core::id::MemberId;
use sanhu_core::party::{AccountTypeCode, Actor, Reason};
use sanhu_core::wallet::Wallet;
use sanhu_core::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::chain::id_text;
use super::records::{json_document, time_ns};
use super::Wallets;
use crate::party::members::load_member;
use crate::party::work::Work;
use crate::party::Rejection;
use crate::wallet::WalletFailure;

pub const PAYMENT_LIMIT_PER_PAYMENT: Rejection = Rejection {
    code: "payment_limit_exceeded",
    status: 422,
    message: "the payment takes more from one account type than its limit per payment (per_payment)",
};
pub const PAYMENT_LIMIT_PER_DAY: Rejection = Rejection {
    code: "payment_limit_exceeded",
    status: 422,
    message: "the payment would take the member's payments today past the account type's limit per day (per_day)",
};
pub const PAYMENT_LIMIT_PER_MONTH: Rejection = Rejection {
    code: "payment_limit_exceeded",
    status: 422,
    message: "the payment would take the member's payments this month past the limit per month (per_month)",
};
pub const PAYMENT_LIMITS_INVALID: Rejection = Rejection {
    code: "payment_limits_invalid",
    status: 422,
    message: "limits are positive amounts, per payment at most per day, per day at most per month",
};

/// Limits on what a member's payments take from its accounts of one type, in minor units; each may
/// be absent (no limit).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentLimits {
    pub per_payment: Option<i64>,
    pub per_day: Option<i64>,
    pub per_month: Option<i64>,
}

impl PaymentLimits {
    /// Refuses a limit that is not positive, or a smaller period's limit above a larger's.
    pub fn check(self) -> Result<PaymentLimits, Rejection> {
        let all = [self.per_payment, self.per_day, self.per_month];
        if all.iter().flatten().any(|l| *l <= 0) {
            return Err(PAYMENT_LIMITS_INVALID);
        }
        let ordered = |small: Option<i64>, large: Option<i64>| small.zip(large).is_none_or(|(s, l)| s <= l);
        if !ordered(self.per_payment, self.per_day)
            || !ordered(self.per_day, self.per_month)
            || !ordered(self.per_payment, self.per_month)
        {
            return Err(PAYMENT_LIMITS_INVALID);
        }
        Ok(self)
    }

    fn is_none(self) -> bool {
        self == PaymentLimits::default()
    }
}

/// A member's own limits for some account types, replacing the types' (one record per member).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberPaymentLimits {
    id: String,
    customer_id: String,
    #[serde(with = "id_text")]
    pub member_id: MemberId,
    pub overrides: Vec<TypeLimits>,
    #[serde(with = "time_ns")]
    pub updated_at: Timestamp,
}
json_document!(MemberPaymentLimits, "payment_limits");

/// Limits for one account type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypeLimits {
    pub account_type: String,
    pub limits: PaymentLimits,
}

/// A member's limits for one account type as they apply: its own, else the type's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EffectiveLimits {
    pub account_type: String,
    pub limits: PaymentLimits,
    /// Whether they are the member's own (an override) rather than the type's.
    pub overridden: bool,
}

/// What a payment counted against its member's limits, to give back if it does not happen.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsUse {
    /// Counter keys and the amount each still counts.
    counted: Vec<(String, i64)>,
}

impl LimitsUse {
    /// What two members' limits counted for one payment (a family card's: the owner's and the payer's).
    pub(super) fn and(mut self, other: LimitsUse) -> LimitsUse {
        self.counted.extend(other.counted);
        self
    }
}

fn limits_id(member: MemberId) -> String {
    format!("payment_limits:{member}")
}

impl Wallets {
    /// The member's payment limits for every account type that has any, its own or the types'.
    pub async fn member_payment_limits(&self, member: MemberId) -> Result<Vec<EffectiveLimits>, WalletFailure> {
        let mut work = self.parties.reader();
        load_member(&mut work, member).await?;
        let own = work.get::<MemberPaymentLimits>(&limits_id(member)).await?;
        Ok(self.effective(own.as_ref()))
    }

    /// Sets (or with `None` clears) a member's own limits for one account type; staff or the platform
    /// only (the HTTP layer's scope), written to the member's history with the reason.
    pub async fn set_member_payment_limits(
        &self,
        member: MemberId,
        account_type: &AccountTypeCode,
        limits: Option<PaymentLimits>,
        actor: &Actor,
        reason: &Reason,
    ) -> Result<Vec<EffectiveLimits>, WalletFailure> {
        if self.parties.config().account_types.get(account_type).is_none() {
            return Err(sanhu_core::party::account::AccountError::AccountTypeNotConfigured.into());
        }
        let limits = limits.map(PaymentLimits::check).transpose().map_err(WalletFailure::Rejected)?;
        let own = transact!(&self.parties, WalletFailure, |work| {
            let stored = load_member(work, member).await?;
            let id = limits_id(member);
            let mut own = work.get::<MemberPaymentLimits>(&id).await?.unwrap_or(MemberPaymentLimits {
                id: id.clone(),
                customer_id: stored.member.customer().to_string(),
                member_id: member,
                overrides: Vec::new(),
                updated_at: work.now,
            });
            let from = own.overrides.iter().find(|o| o.account_type == account_type.as_str()).map(|o| o.limits);
            own.overrides.retain(|o| o.account_type != account_type.as_str());
            if let Some(limits) = limits {
                own.overrides.push(TypeLimits { account_type: account_type.as_str().to_owned(), limits });
                own.overrides.sort_by(|a, b| a.account_type.cmp(&b.account_type));
            }
            own.updated_at = work.now;
            work.put(&own);
            work.history(
                &member.to_string(),
                &own.customer_id,
                "member.payment_limits_set",
                actor,
                Some(reason),
                json!({ "account_type": account_type.as_str(), "from": from, "to": limits }),
            );
            Ok(own)
        })?;
        Ok(self.effective(Some(&own)))
    }

    fn effective(&self, own: Option<&MemberPaymentLimits>) -> Vec<EffectiveLimits> {
        let mut all: Vec<EffectiveLimits> = self
            .config
            .payment_limits
            .iter()
            .filter(|(code, _)| !own.is_some_and(|o| o.overrides.iter().any(|t| t.account_type == code.as_str())))
            .map(|(code, limits)| EffectiveLimits {
                account_type: code.as_str().to_owned(),
                limits: *limits,
                overridden: false,
            })
            .chain(own.into_iter().flat_map(|o| o.overrides.iter()).map(|t| EffectiveLimits {
                account_type: t.account_type.clone(),
                limits: t.limits,
                overridden: true,
            }))
            .filter(|e| !e.limits.is_none())
            .collect();
        all.sort_by(|a, b| a.account_type.cmp(&b.account_type));
        all
    }

    /// Checks a payment taking `parts` from `member`'s `wallet` against its limits, and counts it, in
    /// `work`: the payment's own write.
    pub(super) async fn payment_within_limits(
        &self,
        work: &mut Work,
        member: MemberId,
        wallet: &Wallet,
        parts: &[super::payment::Part],
    ) -> Result<LimitsUse, WalletFailure> {
        let mut by_type: Vec<(String, i64)> = Vec::new();
        for super::payment::Part { account_id, amount } in parts {
            let Some(found) = wallet.accounts().iter().find(|a| a.id() == *account_id) else { continue };
            let code = found.account_type().code().as_str().to_owned();
            match by_type.iter_mut().find(|(c, _)| *c == code) {
                Some((_, total)) => *total = total.saturating_add(*amount),
                None => by_type.push((code, *amount)),
            }
        }
        let own = work.get::<MemberPaymentLimits>(&limits_id(member)).await?;
        let effective = self.effective(own.as_ref());
        let calendar = &self.parties.config().calendar;
        let (day, month) = (calendar.day(work.now), calendar.month(work.now));
        let mut counted = Vec::new();
        for (code, amount) in by_type {
            let limits = effective.iter().find(|e| e.account_type == code).map(|e| e.limits).unwrap_or_default();
            if limits.per_payment.is_some_and(|max| amount > max) {
                return Err(WalletFailure::Rejected(PAYMENT_LIMIT_PER_PAYMENT));
            }
            let day_key = format!("wallet_payments:{member}:{code}:day:{}", day.0);
            let month_key = format!("wallet_payments:{member}:{code}:month:{:04}-{:02}", month.year, month.month);
            for (key, limit, refusal) in [
                (day_key, limits.per_day, PAYMENT_LIMIT_PER_DAY),
                (month_key, limits.per_month, PAYMENT_LIMIT_PER_MONTH),
            ] {
                let total = work.counter(&key).await?.checked_add(amount);
                if limit.is_some_and(|max| total.is_none_or(|t| t > max)) {
                    return Err(WalletFailure::Rejected(refusal));
                }
                work.add_to_counter(&key, amount, limit);
                counted.push((key, amount));
            }
        }
        Ok(LimitsUse { counted })
    }
}

/// Gives back what an order that did not happen counted against its member's limits, in the write
/// that records it did not happen.
pub(super) fn give_back(work: &mut Work, used: &mut LimitsUse) {
    for (key, amount) in used.counted.iter_mut().filter(|(_, a)| *a > 0) {
        work.add_to_counter(key, -*amount, None);
        *amount = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_positive_and_ordered_by_period() {
        let l = |p, d, m| PaymentLimits { per_payment: p, per_day: d, per_month: m };
        assert!(l(Some(1), Some(1), Some(1)).check().is_ok());
        assert!(l(None, Some(100_000_000), None).check().is_ok());
        assert_eq!(l(Some(0), None, None).check(), Err(PAYMENT_LIMITS_INVALID));
        assert_eq!(l(Some(2), Some(1), None).check(), Err(PAYMENT_LIMITS_INVALID));
        assert_eq!(l(None, Some(2), Some(1)).check(), Err(PAYMENT_LIMITS_INVALID));
        assert_eq!(l(Some(3), None, Some(2)).check(), Err(PAYMENT_LIMITS_INVALID));
    }
}
