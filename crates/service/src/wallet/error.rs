//! What a wallet use case answers when it does not succeed: [`WalletFailure`], whose refusals are the
//! wallet's own codes, core's [`WalletError`], the ledger's transfer results, and the three-party
//! model's (a wallet use case reads and writes party records in the same `transact!`, so a
//! [`PartyError`] met on the way becomes the wallet's failure unchanged).

use sanhu_core::ledger::TransferError;
use sanhu_core::party::merchant::{MerchantError, MerchantLimitError};
use sanhu_core::party::product::ProductNotSigned;
use sanhu_core::wallet::WalletError;

use crate::party::{PartyError, Rejection};

use_case_failure! {
    /// Why a wallet use case did not succeed.
    pub enum WalletFailure;
}

impl From<PartyError> for WalletFailure {
    fn from(error: PartyError) -> Self {
        match error {
            PartyError::Rejected(r) => WalletFailure::Rejected(r),
            PartyError::NotFound(r) => WalletFailure::NotFound(r),
            PartyError::Contended => WalletFailure::Contended,
            PartyError::Internal(e) => WalletFailure::Internal(e),
        }
    }
}

impl From<WalletError> for WalletFailure {
    fn from(error: WalletError) -> Self {
        WalletFailure::Rejected(Rejection::of(error))
    }
}

/// The ledger's refusal of a chain, as a rejection: the code of the transfer that failed (not the
/// `linked_event_failed` of the others in its chain).
pub(crate) fn ledger_rejection(error: TransferError) -> WalletFailure {
    WalletFailure::Rejected(Rejection::of(error))
}

/// The refusal a record that failed keeps the code of (`reason`), given again to a request that
/// repeats it: the ledger's or a wallet rule's code, else `order_closed`. A repeat of a refused
/// request is answered as the request was, not as a success carrying a failed record.
pub(crate) fn recorded_refusal(reason: Option<&str>) -> WalletFailure {
    let code = reason.unwrap_or_default();
    if let Some(error) = TransferError::ALL.iter().find(|e| e.code() == code) {
        return ledger_rejection(*error);
    }
    if let Some(error) = WalletError::ALL.iter().find(|e| e.code() == code) {
        return WalletFailure::from(*error);
    }
    // A ledger block named by the status behind it (`restriction.rs`): `customer_frozen`, ...
    if let Some(rejection) = crate::party::rule_codes().into_iter().find(|r| r.code == code) {
        return WalletFailure::Rejected(rejection);
    }
    WalletFailure::Rejected(ORDER_CLOSED)
}

pub const ORDER_NOT_FOUND: Rejection =
    Rejection { code: "order_not_found", status: 404, message: "no order has this number" };
pub const ORDER_NUMBER_INVALID: Rejection = Rejection {
    code: "order_number_invalid",
    status: 422,
    message: "an order number is 1 to 64 printable ASCII characters",
};
pub const ORDER_NUMBER_REUSED: Rejection = Rejection {
    code: "order_number_reused",
    status: 409,
    message: "this order number was used for another request with different details",
};
pub const ORDER_CLOSED: Rejection =
    Rejection { code: "order_closed", status: 409, message: "the order is closed, failed or expired and cannot go on" };
pub const ORDER_UNDER_REVIEW: Rejection = Rejection {
    code: "order_under_review",
    status: 409,
    message: "the order waits for review; approve or reject it first",
};
pub const ORDER_NOT_UNDER_REVIEW: Rejection =
    Rejection { code: "order_not_under_review", status: 409, message: "the order is not waiting for review" };
pub const ORDER_STATE_INVALID: Rejection =
    Rejection { code: "order_state_invalid", status: 409, message: "the order is not in a state that allows this" };
pub const CHANNEL_NOT_CONFIGURED: Rejection = Rejection {
    code: "channel_not_configured",
    status: 422,
    message: "no payment channel with this name is configured",
};
pub const RECHARGE_BELOW_FEE: Rejection =
    Rejection { code: "recharge_below_fee", status: 422, message: "the recharge does not cover the channel's fee" };
pub const RECEIVER_NOT_FOUND: Rejection = Rejection {
    code: "receiver_not_found",
    status: 404,
    message: "the receiving account is neither a member account nor a platform account",
};
pub const RECEIVER_NOT_ALLOWED: Rejection = Rejection {
    code: "receiver_not_allowed",
    status: 422,
    message: "the platform account is not one that receives payments (payment_receivers in the wallet's settings)",
};
pub const REFUND_NOT_ALLOWED: Rejection = Rejection {
    code: "refund_not_allowed",
    status: 403,
    message: "a refund takes money back from the receiver: it is made by the receiver's side or the platform, not the payer's",
};
pub const ESCROW_RETURN_NOT_ALLOWED: Rejection = Rejection {
    code: "escrow_return_not_allowed",
    status: 403,
    message: "returning an escrow takes back money promised to the receiver: it is decided by the receiver's side or the platform, not the payer's",
};
pub const ESCROW_RELEASE_NOT_ALLOWED: Rejection = Rejection {
    code: "escrow_release_not_allowed",
    status: 403,
    message: "releasing an escrow lets go of the payer's money: it is decided by the payer's side or the platform, not the receiver's",
};
pub const DEPOSIT_RELEASE_NOT_ALLOWED: Rejection = Rejection {
    code: "deposit_release_not_allowed",
    status: 403,
    message: "releasing a deposit takes back money that guarantees the beneficiary: it is decided by the beneficiary's side or the platform, not the payer's",
};
pub const DEPOSIT_CAPTURE_NOT_ALLOWED: Rejection = Rejection {
    code: "deposit_capture_not_allowed",
    status: 403,
    message: "capturing a deposit takes the payer's money: it is decided by the payer's side or the platform, not the beneficiary's",
};
pub const PAY_PASSWORD_REQUIRED: Rejection = Rejection {
    code: "pay_password_required",
    status: 403,
    message: "the platform requires the pay password for this payment",
};
pub const PAYMENT_NOT_REFUNDABLE: Rejection = Rejection {
    code: "payment_not_refundable",
    status: 409,
    message: "only a paid or captured payment, or an escrow released to its receiver, can be refunded",
};
pub const PAYMENT_NOT_ESCROWED: Rejection =
    Rejection { code: "payment_not_escrowed", status: 409, message: "the payment holds no money in escrow" };
pub const ESCROW_RELEASED: Rejection = Rejection {
    code: "escrow_released",
    status: 409,
    message: "the escrow was released to the receiver and can no longer be returned; refund the payment instead",
};
pub const ESCROW_RETURNED: Rejection = Rejection {
    code: "escrow_returned",
    status: 409,
    message: "the escrow was returned to the payer and can no longer be released",
};
pub const DEPOSIT_NOT_FOUND: Rejection =
    Rejection { code: "deposit_not_found", status: 404, message: "no deposit has this number" };
pub const DEPOSIT_NOT_HELD: Rejection =
    Rejection { code: "deposit_not_held", status: 409, message: "the deposit holds no money: its hold was refused" };
pub const DEPOSIT_RELEASED: Rejection = Rejection {
    code: "deposit_released",
    status: 409,
    message: "the deposit was released to the payer and can no longer be captured",
};
pub const DEPOSIT_CAPTURED: Rejection = Rejection {
    code: "deposit_captured",
    status: 409,
    message: "the deposit was already captured (once, for the amount given then) and the rest released",
};
pub const DEPOSIT_BENEFICIARY_INVALID: Rejection = Rejection {
    code: "deposit_beneficiary_invalid",
    status: 422,
    message: "a deposit's beneficiary is a member account or a platform account other than the deposits account",
};
pub const REFUND_NUMBER_REUSED: Rejection = Rejection {
    code: "refund_number_reused",
    status: 409,
    message: "this refund number was used for a refund of another amount",
};
pub const ADJUSTMENT_SAME_ACTOR: Rejection = Rejection {
    code: "adjustment_same_actor",
    status: 403,
    message: "an adjustment above the approval threshold is approved by another person than its maker, through another API client or staff session than the one that made it",
};
pub const ACCOUNT_NOT_MEMBERS: Rejection = Rejection {
    code: "account_not_members",
    status: 403,
    message: "the account is not one of the member's wallet accounts",
};
pub const ACCOUNT_NOT_RECHARGEABLE: Rejection = Rejection {
    code: "account_not_rechargeable",
    status: 422,
    message: "the account's type is configured not to be recharged (a profit wallet receives profit only)",
};
pub const PAYMENT_NOT_SPLIT: Rejection = Rejection {
    code: "payment_not_split",
    status: 409,
    message: "the payment has one receiver; this step is for a payment split among receivers",
};
pub const SPLIT_RECEIVER_NOT_FOUND: Rejection = Rejection {
    code: "split_receiver_not_found",
    status: 404,
    message: "the account is not one of the payment's receivers",
};
pub const FREEZE_NOT_FOUND: Rejection =
    Rejection { code: "freeze_not_found", status: 404, message: "no freeze has this number" };
pub const PLATFORM_ACCOUNT_NOT_FOUND: Rejection =
    Rejection { code: "platform_account_not_found", status: 404, message: "no platform account has this name" };
pub const RECHARGE_NOT_REFUNDABLE: Rejection =
    Rejection { code: "recharge_not_refundable", status: 409, message: "only a credited recharge can be refunded" };
pub const SUBSIDY_ENTERPRISE_ONLY: Rejection = Rejection {
    code: "subsidy_enterprise_only",
    status: 403,
    message: "only an enterprise member funds and pays subsidies",
};
pub const SUBSIDY_FUNDING_SOURCE_INVALID: Rejection = Rejection {
    code: "subsidy_funding_source_invalid",
    status: 422,
    message: "subsidies are funded from one of the enterprise's withdrawable accounts, money it paid in",
};
pub const SUBSIDY_FUND_INSUFFICIENT: Rejection = Rejection {
    code: "subsidy_fund_insufficient",
    status: 422,
    message: "the enterprise's subsidy fund holds less than the distribution pays",
};
pub const SUBSIDY_CREDITS_INVALID: Rejection = Rejection {
    code: "subsidy_credits_invalid",
    status: 422,
    message: "a distribution pays 1 to 500 employees, each named once",
};
pub const SUBSIDY_ACCOUNT_WITHDRAWABLE: Rejection = Rejection {
    code: "subsidy_account_withdrawable",
    status: 409,
    message: "the subsidy account type is configured withdrawable, and subsidy money must not be",
};
pub const FLOW_LIMIT_INVALID: Rejection =
    Rejection { code: "flow_limit_invalid", status: 422, message: "a page of the flow holds 1 to 100 lines" };
pub const FLOW_ACCOUNT_NOT_FOUND: Rejection = Rejection {
    code: "flow_account_not_found",
    status: 404,
    message: "the account is not one of the member's wallet accounts",
};
pub const FLOW_CURSOR_INVALID: Rejection = Rejection {
    code: "flow_cursor_invalid",
    status: 422,
    message: "the cursor is not one a page of the flow returned",
};

pub const MEMBER_SCOPE_MISMATCH: Rejection = Rejection {
    code: "member_scope_mismatch",
    status: 422,
    message: "the member's wallet is its merchant's: it is spent at that merchant, the merchants below it and its wallet group only",
};
pub const WITHDRAWAL_NOT_OFFERED: Rejection = Rejection {
    code: "withdrawal_not_offered",
    status: 422,
    message: "the member's merchant does not allow withdrawals",
};
pub const RECHARGE_TIER_UNAVAILABLE: Rejection = Rejection {
    code: "recharge_tier_unavailable",
    status: 422,
    message: "the merchant offers no recharge tier of this code now",
};
pub const SMS_VERIFICATION_REQUIRED: Rejection = Rejection {
    code: "sms_verification_required",
    status: 422,
    message: "the merchant requires the phone's SMS code to open a member at the counter: give sms_code",
};

/// Codes the wallet's service answers with, besides core's rules.
const SERVICE_CODES: &[Rejection] = &[
    ORDER_NOT_FOUND,
    ORDER_NUMBER_INVALID,
    ORDER_NUMBER_REUSED,
    ORDER_CLOSED,
    ORDER_UNDER_REVIEW,
    ORDER_NOT_UNDER_REVIEW,
    ORDER_STATE_INVALID,
    CHANNEL_NOT_CONFIGURED,
    RECHARGE_BELOW_FEE,
    RECEIVER_NOT_FOUND,
    RECEIVER_NOT_ALLOWED,
    REFUND_NOT_ALLOWED,
    ESCROW_RETURN_NOT_ALLOWED,
    ESCROW_RELEASE_NOT_ALLOWED,
    DEPOSIT_RELEASE_NOT_ALLOWED,
    DEPOSIT_CAPTURE_NOT_ALLOWED,
    PAY_PASSWORD_REQUIRED,
    PAYMENT_NOT_REFUNDABLE,
    PAYMENT_NOT_ESCROWED,
    ESCROW_RELEASED,
    ESCROW_RETURNED,
    DEPOSIT_NOT_FOUND,
    DEPOSIT_NOT_HELD,
    DEPOSIT_RELEASED,
    DEPOSIT_CAPTURED,
    DEPOSIT_BENEFICIARY_INVALID,
    REFUND_NUMBER_REUSED,
    ADJUSTMENT_SAME_ACTOR,
    ACCOUNT_NOT_MEMBERS,
    ACCOUNT_NOT_RECHARGEABLE,
    PAYMENT_NOT_SPLIT,
    SPLIT_RECEIVER_NOT_FOUND,
    FREEZE_NOT_FOUND,
    PLATFORM_ACCOUNT_NOT_FOUND,
    RECHARGE_NOT_REFUNDABLE,
    SUBSIDY_ENTERPRISE_ONLY,
    SUBSIDY_FUNDING_SOURCE_INVALID,
    SUBSIDY_FUND_INSUFFICIENT,
    SUBSIDY_CREDITS_INVALID,
    SUBSIDY_ACCOUNT_WITHDRAWABLE,
    FLOW_LIMIT_INVALID,
    FLOW_CURSOR_INVALID,
    FLOW_ACCOUNT_NOT_FOUND,
    super::operator::OPERATOR_REQUIRED,
    super::operator::OPERATOR_LIMIT_PER_TRANSACTION,
    super::limits::PAYMENT_LIMIT_PER_PAYMENT,
    super::limits::PAYMENT_LIMITS_INVALID,
    super::pay_code::PAY_CODE_NOT_FOUND,
    super::pay_code::PAY_CODE_LOOKUPS_LIMITED,
    super::pay_code::PAY_BY_PHONE_NOT_ALLOWED,
    MEMBER_SCOPE_MISMATCH,
    WITHDRAWAL_NOT_OFFERED,
    RECHARGE_TIER_UNAVAILABLE,
    SMS_VERIFICATION_REQUIRED,
    super::clearance::WALLET_NOT_MERCHANTS,
    super::clearance::WALLET_HAS_HELD_MONEY,
    super::clearance::WALLET_ALREADY_CLEAR,
    super::clearance::WALLET_MONEY_NOT_CLEARABLE,
    super::clearance::CLEARANCE_ACCOUNT_UNAVAILABLE,
    super::clearance::CLEARANCE_NOT_UNDER_REVIEW,
    super::clearance::CLEARANCE_SAME_ACTOR,
    super::clearance::CLEARANCE_NOT_FOUND,
    super::clearance::CLEARANCE_REVIEW_STAFF_ONLY,
    super::top_up::CROSS_WALLET_TOP_UP_NOT_ALLOWED,
    super::top_up::TOP_UP_MEMBERS_DIFFER,
    super::top_up::TOP_UP_SAME_WALLET,
    super::family_card::FAMILY_CARD_NOT_FOUND,
    super::family_card::FAMILY_CARD_SAME_MEMBER,
    super::family_card::FAMILY_CARD_ACCOUNT_INVALID,
    super::family_card::FAMILY_CARD_LIMITS_INVALID,
    super::family_card::FAMILY_CARD_LIMIT_REACHED,
    super::family_card::FAMILY_CARD_REVOKED,
    super::family_card::FAMILY_CARD_PER_PAYMENT_EXCEEDED,
    super::family_card::FAMILY_CARD_MONTHLY_EXCEEDED,
    super::family_card::FAMILY_CARD_PAYMENT_INVALID,
    super::family_card::FAMILY_CARD_HOLDER_NO_ACCOUNT,
];

/// Every code a wallet use case can refuse with: core's wallet rules, the ledger's transfer results
/// (a chain the ledger refuses answers with its code, `insufficient_funds` or `debits_blocked`), and
/// the service's own, for the API's registry. The three-party codes a wallet use case may also answer
/// (`member_not_found`, `pay_password_locked`, `card_holder_mismatch`, ...) are in
/// [`crate::party::rule_codes`].
pub fn wallet_codes() -> Vec<Rejection> {
    let mut codes: Vec<Rejection> = WalletError::ALL.iter().map(|e| Rejection::of(*e)).collect();
    codes.extend(TransferError::ALL.iter().map(|e| Rejection::of(*e)));
    codes.extend(SERVICE_CODES.iter().copied());
    codes.extend(sanhu_core::wallet::PayCodeError::ALL.iter().map(|e| Rejection::of(*e)));
    // What a merchant receiving a payment may refuse.
    codes.extend(MerchantLimitError::ALL.iter().map(|e| Rejection::of(*e)));
    codes.push(Rejection::of(MerchantError::NotReceiving));
    codes.extend(ProductNotSigned::ALL.iter().map(|e| Rejection::of(*e)));
    // What a payment at a store's counter may refuse.
    codes.extend(sanhu_core::party::store::StoreError::ALL.iter().map(|e| Rejection::of(*e)));
    codes.sort_by_key(|r| r.code);
    codes.dedup_by_key(|r| r.code);
    codes
}
