//! The wallet (钱包): what a member sees of its accounts, and the rules that move money in and out of
//! them as pure functions.
//!
//! A wallet is a group of one member's accounts (DESIGN.md §1); its balance is the sum of theirs
//! (钱包余额 = ∑ 各账户余额). Every rule here takes the accounts as the ledger holds them, with each
//! account's configured type, and answers with a plan: which account gives how much, and the ledger
//! transfer requests that carry it out as one linked chain, so that a payment split over three
//! accounts or a withdrawal split over two succeeds or fails whole.
//!
//! | file | rule |
//! |---|---|
//! | `view.rs` | the wallet and its figures: balance, available, frozen, withdrawable, debt, per account |
//! | `order.rs` | the order accounts are drawn on: the member's own, else the types' priority |
//! | `fee.rs` | withdrawal fees: fixed or a rate with bounds, rounded up, paid by member or platform |
//! | `withdrawal.rs` | withdrawable amounts and a withdrawal's allocation over the accounts (提现预计算) |
//! | `payment.rs` | paying from the wallet: deductions, split payment, authorise then capture |
//! | `refund.rs` | refunding a payment, in part or whole, to the accounts it came from |
//! | `split.rs` | split payments (分账): shares, commission by rate or amount, refunds per receiver |
//! | `member_transfer.rs` | transfers between members that keep the money's kind, with limits |
//! | `recharge.rs` | recharge tiers and their bonus, and refunding a recharge |
//! | `debt.rs` | a recharge repays an account's debt before it adds to the balance |
//! | `chain.rs` | turning a plan's legs into ledger transfer requests |
//!
//! Nothing here does IO: what must be looked up (the accounts, their types, what a member sent today,
//! a payment's earlier refunds) is an argument, and transfer ids come from a closure the caller
//! passes. Amounts are i64 minor units of the wallet's currency with checked arithmetic: a sum that
//! would overflow is `amount_overflow`, never a wrap. Every refusal is a stable code in
//! [`WalletError`], part of the API contract: never rename one.

mod arith;
pub mod chain;
pub mod debt;
pub mod error;
pub mod fee;
pub mod member_transfer;
pub mod order;
pub mod pay_code;
pub mod payment;
pub mod recharge;
pub mod refund;
pub mod split;
pub mod view;
pub mod withdrawal;

pub use chain::{BusinessType, Leg, Settlement, TransferMeta};
pub use debt::{plan_repayment, Repayment};
pub use error::WalletError;
pub use fee::{FeePayer, FeeRule};
pub use member_transfer::{plan_member_transfer, MemberTransferPlan, TransferLeg, TransferLimits};
pub use order::AccountOrder;
pub use pay_code::{PayCodeError, PayCodeText};
pub use payment::{
    plan_capture, plan_payment, release_holds, Authorisation, Capture, Deduction, Hold, PaymentPlan, Shortfall,
};
pub use recharge::{
    plan_recharge, plan_recharge_refund, Recharge, RechargePlan, RechargeRefund, RechargeRefundAccounts, RechargeTier,
    RechargeTiers,
};
pub use refund::{plan_refund, RefundPlan};
pub use split::{
    allocate_shares, plan_share_refund, plan_shares, Share, ShareLeg, ShareRule, ShareSpec, SPLIT_RECEIVERS_MAX,
};
pub use view::{AccountPart, Wallet, WalletAccount, WalletView};
pub use withdrawal::{preview_withdrawal, WithdrawalAccounts, WithdrawalPolicy, WithdrawalPreview};

#[cfg(test)]
mod tests;
