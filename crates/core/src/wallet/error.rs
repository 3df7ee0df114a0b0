//! Every refusal of the wallet's rules. One enum for the whole wallet rather than one per file, as in
//! `party`, because most refusals (`invalid_amount`, `currency_mismatch`, `insufficient_funds`,
//! `amount_overflow`) are answered by several rules and must read the same to the caller.

rejection_codes! {
    /// Why a wallet rule refused.
    pub enum WalletError {
        InvalidAmount => "invalid_amount", 422, "an amount is a positive whole number of minor units",
        CurrencyMismatch => "currency_mismatch", 422, "the accounts, amounts and settings are not all in one currency",
        AmountOverflow => "amount_overflow", 422, "the amounts add up beyond what can be represented",
        /// An account's ledger code names another type than the one it was given with.
        AccountTypeMismatch => "account_type_mismatch", 422, "the account is not of the account type given for it",
        AccountTypeNotConfigured => "account_type_not_configured", 422, "no account type with this code is configured",
        /// Wallet accounts are credit-normal: the platform owes the member their balance.
        NotWalletAccount => "not_wallet_account", 422, "a wallet holds only the member's credit-normal accounts",
        DuplicateAccount => "duplicate_account", 422, "an account appears twice",
        AccountNotInWallet => "account_not_in_wallet", 422, "the account is not one of the wallet's accounts",
        DeductionOrderInvalid => "deduction_order_invalid", 422, "a deduction order names each account at most once",
        MinimumWithdrawalInvalid => "minimum_withdrawal_invalid", 422,
            "a minimum withdrawal is zero or a positive number of minor units",
        FeeRuleInvalid => "fee_rule_invalid", 422,
            "a fee is a positive fixed amount, or a rate of 1 to 10000 basis points with 0 <= minimum <= maximum",
        BelowMinimumWithdrawal => "below_minimum_withdrawal", 422, "the amount is below the minimum withdrawal",
        NotWithdrawable => "not_withdrawable", 422, "no account in the wallet may be withdrawn",
        ExceedsWithdrawable => "exceeds_withdrawable", 422, "the amount is more than the wallet's withdrawable balance",
        /// The member pays the fee out of the amount, so the amount must be more than the fee.
        WithdrawalBelowFee => "withdrawal_below_fee", 422, "the amount does not cover the withdrawal fee",
        InsufficientFunds => "insufficient_funds", 422, "the wallet cannot cover the amount",
        HoldTimeoutInvalid => "hold_timeout_invalid", 422, "a hold's timeout is 1 second to 30 days",
        NoHolds => "no_holds", 409, "there are no holds to capture or release",
        CaptureExceedsHolds => "capture_exceeds_holds", 422, "the amount is more than the holds set aside",
        RefundExceedsPayment => "refund_exceeds_payment", 422, "the refund is more than was paid and not yet refunded",
        SameWallet => "same_wallet", 422,
            "the money would stay with the payer: a transfer goes to another member, a payment to another customer",
        /// None of the sender's accounts may send, or none has a same-kind account at the receiver.
        TransferNotAllowed => "transfer_not_allowed", 422,
            "no account of the sender may send money that the receiver's accounts may receive",
        TransferLimitInvalid => "transfer_limit_invalid", 422, "a transfer limit is a positive number of minor units",
        TransferLimitExceeded => "transfer_limit_exceeded", 422, "the amount is more than one transfer may move",
        DailyTransferLimitExceeded => "daily_transfer_limit_exceeded", 422,
            "the amount would take today's transfers past the daily limit",
        RechargeTierInvalid => "recharge_tier_invalid", 422,
            "a recharge tier has a positive amount, a bonus of zero or more, and ends after it starts",
        NoBonusAccount => "no_bonus_account", 422, "a recharge earned a bonus but no account was given to receive it",
        RefundExceedsRecharge => "refund_exceeds_recharge", 422, "the refund is more than was recharged and not yet refunded",
        /// The bonus spent and now taken back out of the refund is more than the refund itself.
        BonusSpentExceedsRefund => "bonus_spent_exceeds_refund", 422,
            "the bonus already spent is more than this refund can give back",
        SplitReceiversInvalid => "split_receivers_invalid", 422,
            "a split payment names 1 to 10 receivers, each once, and at most one takes the rest",
        SplitShareInvalid => "split_share_invalid", 422,
            "a share is a positive amount, or a rate of 1 to 10000 basis points that comes to at least one minor unit",
        SplitSharesMismatch => "split_shares_mismatch", 422, "the shares do not add up to the amount exactly",
        SplitRefundExceedsShare => "split_refund_exceeds_share", 422,
            "the refund takes more from a receiver than it still holds of the payment",
    }
}
