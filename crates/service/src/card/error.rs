//! What a card use case answers when it does not succeed: [`CardFailure`], whose refusals are core's
//! card rules ([`CardError`]), the service's own below, and what the wallet and the three-party model
//! answer on the way (a card's money moves through the wallet's chains and the ledger; a merchant, a
//! member or an account named is read through the three-party model).

use sanhu_core::card::CardError;
use sanhu_core::ledger::TransferError;

use crate::party::{PartyError, Rejection};
use crate::wallet::WalletFailure;

use_case_failure! {
    /// Why a card use case did not succeed.
    pub enum CardFailure;
}

impl From<CardError> for CardFailure {
    fn from(error: CardError) -> Self {
        CardFailure::Rejected(Rejection::of(error))
    }
}

impl From<sanhu_core::card::coupon::CouponError> for CardFailure {
    fn from(error: sanhu_core::card::coupon::CouponError) -> Self {
        CardFailure::Rejected(Rejection::of(error))
    }
}

impl From<PartyError> for CardFailure {
    fn from(error: PartyError) -> Self {
        match error {
            PartyError::Rejected(r) => CardFailure::Rejected(r),
            PartyError::NotFound(r) => CardFailure::NotFound(r),
            PartyError::Contended => CardFailure::Contended,
            PartyError::Internal(e) => CardFailure::Internal(e),
        }
    }
}

impl From<crate::party::MerchantFailure> for CardFailure {
    fn from(error: crate::party::MerchantFailure) -> Self {
        match error {
            crate::party::MerchantFailure::Rejected(r) => CardFailure::Rejected(r),
            crate::party::MerchantFailure::NotFound(r) => CardFailure::NotFound(r),
            crate::party::MerchantFailure::Contended => CardFailure::Contended,
            crate::party::MerchantFailure::Internal(e) => CardFailure::Internal(e),
        }
    }
}

impl From<WalletFailure> for CardFailure {
    fn from(error: WalletFailure) -> Self {
        match error {
            WalletFailure::Rejected(r) => CardFailure::Rejected(r),
            WalletFailure::NotFound(r) => CardFailure::NotFound(r),
            WalletFailure::Contended => CardFailure::Contended,
            WalletFailure::Internal(e) => CardFailure::Internal(e),
        }
    }
}

impl From<CardFailure> for WalletFailure {
    fn from(error: CardFailure) -> Self {
        match error {
            CardFailure::Rejected(r) => WalletFailure::Rejected(r),
            CardFailure::NotFound(r) => WalletFailure::NotFound(r),
            CardFailure::Contended => WalletFailure::Contended,
            CardFailure::Internal(e) => WalletFailure::Internal(e),
        }
    }
}

pub const CARD_TYPE_NOT_FOUND: Rejection =
    Rejection { code: "card_type_not_found", status: 404, message: "no card type has this id" };
pub const CARD_SEGMENT_NOT_FOUND: Rejection =
    Rejection { code: "card_segment_not_found", status: 404, message: "no number segment has this id" };
pub const CARD_BATCH_NOT_FOUND: Rejection =
    Rejection { code: "card_batch_not_found", status: 404, message: "no card batch has this id" };
pub const CARD_NOT_FOUND: Rejection =
    Rejection { code: "card_not_found", status: 404, message: "no card has this number" };
pub const CARD_TRANSACTION_NOT_FOUND: Rejection = Rejection {
    code: "card_transaction_not_found",
    status: 404,
    message: "no transaction of this card has this number",
};
pub const CARD_SEGMENT_OVERLAPS: Rejection = Rejection {
    code: "card_segment_overlaps",
    status: 409,
    message: "the segment could give a number another segment gives (the same prefix and overlapping serials)",
};
pub const CARD_SEGMENT_FULL: Rejection = Rejection {
    code: "card_segment_full",
    status: 409,
    message: "the segment has fewer numbers left than the batch's quantity",
};
pub const CARD_OWNER_REQUIRED: Rejection = Rejection {
    code: "card_owner_required",
    status: 403,
    message: "a client bound to a member makes card types for one of its member's merchants only (merchant_id)",
};
pub const CARD_ORDER_NUMBER_REQUIRED: Rejection = Rejection {
    code: "card_order_number_required",
    status: 422,
    message: "a card's money request names its order_number or is sent with an Idempotency-Key",
};
pub const CARD_RECEIVER_OUTSIDE_SCOPE: Rejection = Rejection {
    code: "card_receiver_outside_scope",
    status: 422,
    message: "a merchant's card pays only into an account of that merchant's member",
};
pub const CARD_LIST_LIMIT_INVALID: Rejection =
    Rejection { code: "card_list_limit_invalid", status: 422, message: "a page of a card list holds 1 to 100 items" };
pub const CARD_CURSOR_INVALID: Rejection = Rejection {
    code: "card_cursor_invalid",
    status: 422,
    message: "the cursor is not one a page of this list returned",
};

pub const CARD_CODE_NOT_FOUND: Rejection = Rejection {
    code: "card_code_not_found",
    status: 404,
    message: "no redemption code you reach is this one (a failed redemption, counted against guessing)",
};
pub const CARD_CODE_ATTEMPTS_EXCEEDED: Rejection = Rejection {
    code: "card_code_attempts_exceeded",
    status: 429,
    message: "too many failed redemptions by this caller or for this member in the last 15 minutes; try again later",
};
pub const CARD_CODES_EXCEED_BATCH: Rejection = Rejection {
    code: "card_codes_exceed_batch",
    status: 409,
    message: "a batch's cards sold and held by unredeemed codes, the new codes added, are at most its quantity",
};

pub const COUPON_TEMPLATE_NOT_FOUND: Rejection =
    Rejection { code: "coupon_template_not_found", status: 404, message: "no coupon template you reach has this id" };
pub const COUPON_NOT_FOUND: Rejection =
    Rejection { code: "coupon_not_found", status: 404, message: "no coupon you reach has this id" };
pub const CHECKOUT_QUOTE_NOT_FOUND: Rejection =
    Rejection { code: "checkout_quote_not_found", status: 404, message: "no checkout quote for this card has this id" };
pub const CHECKOUT_QUOTE_EXPIRED: Rejection = Rejection {
    code: "checkout_quote_expired",
    status: 409,
    message: "the checkout quote's time is over: quote the order again",
};
pub const CHECKOUT_QUOTE_USED: Rejection = Rejection {
    code: "checkout_quote_used",
    status: 409,
    message: "the checkout quote has paid another payment already",
};
pub const CHECKOUT_QUOTE_MISMATCH: Rejection = Rejection {
    code: "checkout_quote_mismatch",
    status: 422,
    message: "a payment with a quote pays the quote's order: its amount, if given, is the quote's, it names no business_line, and it is paid to the merchant its lines name",
};
pub const COUPON_ISSUE_MEMBERS_INVALID: Rejection = Rejection {
    code: "coupon_issue_members_invalid",
    status: 422,
    message: "coupons are issued to 1 to 500 members at a time",
};
pub const CARD_CANCEL_ACCOUNT_OUTSIDE: Rejection = Rejection {
    code: "card_cancel_account_outside",
    status: 422,
    message: "a cancelled card's balance is refunded to an account of the member it is bound to (wallet) or of its issuing merchant's member (cash)",
};

pub const CARD_REPORT_DATE_INVALID: Rejection = Rejection {
    code: "card_report_date_invalid",
    status: 422,
    message: "a report's date is a day of the platform's calendar (YYYY-MM-DD), not after today",
};

/// Codes the card service answers with, besides core's card rules.
const SERVICE_CODES: &[Rejection] = &[
    CARD_TYPE_NOT_FOUND,
    CARD_SEGMENT_NOT_FOUND,
    CARD_BATCH_NOT_FOUND,
    CARD_NOT_FOUND,
    CARD_TRANSACTION_NOT_FOUND,
    CARD_SEGMENT_OVERLAPS,
    CARD_SEGMENT_FULL,
    CARD_OWNER_REQUIRED,
    CARD_ORDER_NUMBER_REQUIRED,
    CARD_RECEIVER_OUTSIDE_SCOPE,
    CARD_LIST_LIMIT_INVALID,
    CARD_CURSOR_INVALID,
    CARD_CODE_NOT_FOUND,
    CARD_CODE_ATTEMPTS_EXCEEDED,
    CARD_CODES_EXCEED_BATCH,
    COUPON_TEMPLATE_NOT_FOUND,
    COUPON_NOT_FOUND,
    CHECKOUT_QUOTE_NOT_FOUND,
    CHECKOUT_QUOTE_EXPIRED,
    CHECKOUT_QUOTE_USED,
    CHECKOUT_QUOTE_MISMATCH,
    COUPON_ISSUE_MEMBERS_INVALID,
    CARD_CANCEL_ACCOUNT_OUTSIDE,
    CARD_REPORT_DATE_INVALID,
];

/// Every code a card use case can refuse with: core's card rules, the service's own, and what a card's
/// money may meet on the way: the ledger's transfer results (`insufficient_funds`, `debits_blocked`)
/// and the wallet's (an order number reused, a channel not configured, a receiver not found). The
/// three-party codes (`member_not_found`, `merchant_not_found`) are in [`crate::party::rule_codes`].
pub fn card_codes() -> Vec<Rejection> {
    use crate::wallet::{CHANNEL_NOT_CONFIGURED, ORDER_NUMBER_INVALID, ORDER_NUMBER_REUSED, RECEIVER_NOT_FOUND};
    let mut codes: Vec<Rejection> = CardError::ALL.iter().map(|e| Rejection::of(*e)).collect();
    codes.extend(sanhu_core::card::coupon::CouponError::ALL.iter().map(|e| Rejection::of(*e)));
    codes.extend(SERVICE_CODES.iter().copied());
    codes.extend(TransferError::ALL.iter().map(|e| Rejection::of(*e)));
    codes.extend([CHANNEL_NOT_CONFIGURED, ORDER_NUMBER_INVALID, ORDER_NUMBER_REUSED, RECEIVER_NOT_FOUND]);
    // A card's payment at a store's counter.
    codes.extend(sanhu_core::party::store::StoreError::ALL.iter().map(|e| Rejection::of(*e)));
    codes.sort_by_key(|r| r.code);
    codes.dedup_by_key(|r| r.code);
    codes
}
