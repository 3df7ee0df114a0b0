//! The wallet's use cases (钱包): the platform's own accounts, a member's wallet, and the money flows
//! of the articles (recharge, pay, refund, withdraw, transfer, freeze, adjust) on top of core's pure
//! rules (`sanhu_core::wallet`), the ledger and the three-party records.
//!
//! Every movement is one linked chain of ledger transfers between a member's accounts and the
//! platform's accounts, carrying the business code (core's `BusinessType`, or the service's own for
//! fees, freezes and adjustments) and the caller's order number as reference, so `sanhu verify` stays
//! clean after anything here. Each flow keeps a record (`recharge_order`, `payment`, `withdrawal`, ...)
//! in the party store, written in `transact!` like every party use case; how a record and the ledger
//! (which is not in that transaction) stay in step is told in `chain.rs`.
//!
//! | file | what |
//! |---|---|
//! | `platform.rs` | the platform's accounts: channel clearing, fees, marketing, withdrawals in transit, ... |
//! | `view.rs` | a member's wallet and its deduction order |
//! | `recharge.rs` | recharge orders: pending, review, confirm (debt first, bonus), fail, close, expire |
//! | `recharge_refund.rs` | refunding a recharge: its bonus taken back, the spent part deducted |
//! | `payment.rs` | paying from the wallet, authorise then capture or release, refunds |
//! | `escrow.rs` | escrow payments: the receiver credited as frozen, then released to it or returned |
//! | `deposit.rs` | deposits held on the payer's wallet, released or captured in part for damage |
//! | `withdrawal.rs` | preview, application (frozen at once), review, payout result |
//! | `freeze.rs` | administrative and judicial freezes: freeze, unfreeze, seize |
//! | `adjustment.rs` | manual credits and debits, approved by a second person above a threshold |
//! | `compensation.rs` | asking a channel about recharge orders pending too long (the compensation job's questions) |
//! | `transfer.rs` | transfers between members keeping the money's kind, limits per transfer and per day |
//! | `subsidy.rs` | an enterprise funds its subsidies and pays them into its employees' subsidy accounts |
//! | `operator.rs` | operators enforced on an enterprise member's money requests: grants, limits per transaction and per day |
//! | `limits.rs` | limits on wallet payments per account type and per member, per payment, day and month |
//! | `restriction.rs` | a restricted payer or receiver refused with its status's own code, before the ledger and after |
//! | `reconciliation.rs` | a channel's statement file matched with sanhu's orders of its day; differences resolved |
//! | `flow.rs` | a member's flow over all its accounts, newest first, paged, with balances after |
//! | `chain.rs` | derived transfer ids and chains kept in records, for crash-safe retries |
//! | `records.rs` | order numbers and how wallet records are stored |
//! | `error.rs` | the wallet's rejection codes |

mod adjustment;
pub(crate) mod chain;
mod clearance;
mod compensation;
mod counter;
mod deposit;
mod error;
mod escrow;
mod family_card;
mod flow;
mod franchise;
mod freeze;
mod limits;
mod operator;
mod pay_code;
mod payment;
mod platform;
mod recharge;
mod recharge_refund;
mod reconciliation;
pub(crate) mod records;
mod restriction;
mod settlement;
mod split;
mod statistics;
mod subsidy;
mod top_up;
mod transfer;
mod view;
mod withdrawal;

use std::sync::Arc;

use sanhu_core::party::AccountTypeCode;
use sanhu_core::wallet::{FeePayer, FeeRule, RechargeTiers, TransferLimits, WithdrawalPolicy};
use sanhu_core::Currency;

use crate::ledger::Ledger;
use crate::party::Parties;
use crate::party::PartyError;
use crate::turns::Turn;

pub use adjustment::{Adjustment, AdjustmentDirection, AdjustmentStatus};
pub use clearance::{
    ClearanceDecision, ClearanceRequest, ClearanceStatus, ClearedPart, WalletClearance, CLEARANCE_ACCOUNT_UNAVAILABLE,
    CLEARANCE_CODE, CLEARANCE_HOLD_CODE, CLEARANCE_NOT_FOUND, CLEARANCE_NOT_UNDER_REVIEW, CLEARANCE_REVIEW_STAFF_ONLY,
    CLEARANCE_SAME_ACTOR, WALLET_ALREADY_CLEAR, WALLET_HAS_HELD_MONEY, WALLET_MONEY_NOT_CLEARABLE,
    WALLET_NOT_MERCHANTS,
};
pub use compensation::{ChannelAnswer, ChannelOrderQuery, ChannelQuery, Compensation, COMPENSATION_PASS_ORDERS_MAX};
pub use deposit::{
    Deposit, DepositRequest, DepositStatus, DEPOSIT_CAPTURE_CODE, DEPOSIT_COMPENSATION_CODE, DEPOSIT_HOLD_CODE,
    DEPOSIT_RELEASE_CODE,
};
pub use error::*;
pub use escrow::{ESCROW_HOLD_CODE, ESCROW_RELEASE_CODE, ESCROW_RETURN_CODE};
pub use family_card::{
    FamilyCard, FamilyCardGrant, FamilyCardStatus, FamilyCardView, FamilyCards, FAMILY_CARDS_PER_OWNER_MAX,
    FAMILY_CARD_NOT_FOUND, FAMILY_CARD_PAYMENT_INVALID,
};
pub use flow::{
    Counterparty, FlowCursor, FlowDirection, FlowLine, FlowMovement, FlowPage, FlowQuery, FLOW_PAGE_LINES_MAX,
};
pub use franchise::{tiers_offered, CounterOpened, CounterOpening, CustomerWallet};
pub use freeze::{Freeze, FreezeStatus};
pub use limits::{
    EffectiveLimits, PaymentLimits, PAYMENT_LIMITS_INVALID, PAYMENT_LIMIT_PER_DAY, PAYMENT_LIMIT_PER_MONTH,
    PAYMENT_LIMIT_PER_PAYMENT,
};
pub use operator::{operator_of, OPERATOR_LIMIT_PER_DAY, OPERATOR_LIMIT_PER_TRANSACTION, OPERATOR_REQUIRED};
pub use pay_code::{
    IssuedPayCode, PayCodeHolder, StoredPayCode, PAY_BY_PHONE_NOT_ALLOWED, PAY_CODE_LOOKUPS_LIMITED,
    PAY_CODE_MISSES_MAX, PAY_CODE_MISS_WINDOW_S, PAY_CODE_NOT_FOUND,
};
pub use payment::{
    HeldPart, Part, Payment, PaymentMode, PaymentRequest, PaymentStatus, Receiver, Refund, RefundStatus, Refunder,
};
pub use platform::{PlatformAccount, PlatformAccountView};
pub use recharge::{OrderTier, RechargeOrder, RechargeRequest, RechargeStatus};
pub use recharge_refund::{RechargeRefundOrder, RechargeRefundStatus};
pub use reconciliation::{
    import_id, DifferenceCounts, ImportPage, ReconciliationImport, Resolution, StoredDifference,
    RECONCILIATION_PAGE_MAX,
};
pub use records::OrderNumber;
pub use settlement::{
    CarriedFigures, Payout, PayoutTarget, SettlementAdjustment, SettlementBook, SettlementRunPass, Statement,
    StatementItem, StatementPage, SETTLEMENT_PAGE_MAX,
};
pub use split::{ShareRefund, ShareStatus, SplitPaymentRequest, SplitReceiver, SplitShare};
pub use statistics::{
    DayFigures, Figure, FlowFigures, MonthFigures, OrderKind, OrderPage, OrderSearch, OrderSummary,
    ORDER_SEARCH_RECORDS_MAX, STATISTICS_FLOWS,
};
pub use subsidy::{
    SubsidyCredit, SubsidyDistribution, SubsidyDistributionRequest, SubsidyFund, SubsidyFunding, SubsidyFundingRequest,
    SubsidyGrant, SubsidyStatus, SUBSIDY_ACCOUNT_TYPE, SUBSIDY_CREDITS_MAX,
};
pub use top_up::{
    SettlementItem, TopUpRequest, TopUpStatus, WalletTopUp, CROSS_WALLET_TOP_UP_NOT_ALLOWED, TOP_UP_CODE,
    TOP_UP_MEMBERS_DIFFER, TOP_UP_SAME_WALLET,
};
pub use transfer::{MemberTransfer, MemberTransferRequest, MemberTransferStatus, TransferPart};
pub use withdrawal::{
    PayoutResult, Review, Withdrawal, WithdrawalOrder, WithdrawalRequest, WithdrawalStatus, WithdrawalsInReview,
};

/// Whether a channel's recharges wait for an administrator (a bank transfer is checked against the
/// bank statement before it is credited).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelReview {
    Required,
    NotRequired,
}

/// A payment channel money comes in through (支付渠道): its name (`alipay`, `wechat`,
/// `bank_transfer`), whether its recharges are reviewed, and its fee and who pays it.
#[derive(Clone, Debug)]
pub struct Channel {
    pub name: String,
    pub review: ChannelReview,
    /// What the channel keeps of a recharge.
    pub fee: FeeRule,
    /// `Member`: the member is credited the amount less the fee. `Platform`: the member is credited the
    /// whole amount, and the fee is the platform's expense.
    pub fee_payer: FeePayer,
    /// Where the recharge compensation job asks the channel about an order (`compensation.rs` tells
    /// the protocol); `None`: the channel's orders wait for its confirmation or expire.
    pub status_url: Option<String>,
}

/// Whether a payment needs the member's pay password.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayPasswordRule {
    Required,
    NotRequired,
}

/// How the wallet is set up on this platform.
#[derive(Clone, Debug)]
pub struct WalletConfig {
    /// The wallet's currency: members' accounts in other currencies are not part of it.
    pub currency: Currency,
    pub channels: Vec<Channel>,
    pub recharge_tiers: RechargeTiers,
    /// An unpaid recharge order is closed as expired after this long.
    pub recharge_expiry_s: u32,
    /// A recharge order still pending after this long is asked about at its channel's status endpoint
    /// by the compensation job; shorter than `recharge_expiry_s`, so it is asked before it expires.
    pub recharge_query_after_s: u32,
    /// The account type a recharge goes into unless the caller names an account.
    pub recharge_account_type: AccountTypeCode,
    /// The account type a recharge's bonus lands in; opened for the member when first needed.
    pub bonus_account_type: AccountTypeCode,
    pub withdrawal: WithdrawalPolicy,
    /// A withdrawal below this amount (minor units) is approved without review.
    pub withdrawal_auto_approve_below: i64,
    /// How long a withdrawal's frozen money waits for review and payout before the ledger releases
    /// it (at most the ledger's 30 days).
    pub withdrawal_hold_timeout_s: u32,
    pub pay_password: PayPasswordRule,
    pub transfer_limits: TransferLimits,
    /// An adjustment of at least this amount waits for a second person's approval.
    pub adjustment_approval_from: i64,
    /// The platform accounts a payment, an escrow payment or a deposit may name as its receiver
    /// (`receiver_not_allowed` for the others): what a channel owes, what is in transit to banks,
    /// seized or adjusted must stay what it is.
    pub payment_receivers: Vec<PlatformAccount>,
    /// Whether an enterprise member's money requests (payments, deposits, withdrawals, member
    /// transfers) must name the operator who makes them (`operator.rs`).
    pub operators_required: bool,
    /// Limits on wallet payments per account type (`limits.rs`); a member's own override replaces
    /// its type's.
    pub payment_limits: Vec<(AccountTypeCode, PaymentLimits)>,
    /// Whether a withdrawal needs the member's pay password (a password given is always checked).
    pub withdrawal_pay_password: PayPasswordRule,
    /// How long a member's pay code lives, in seconds (`pay_code.rs`; core's bounds).
    pub pay_code_ttl_s: u32,
    /// Whether a payment may name its payer by phone and an SMS code sent to it (`pay_code.rs`).
    pub pay_by_phone: bool,
    /// Where the platform requires the pay password, the most a store's pay-password-free threshold
    /// waives it below (`counter.rs`): the platform's ceiling on 小额免密, so that a receiving merchant
    /// never waives its payers' consent past it. 0: a store's threshold waives nothing (it may still
    /// ask the password at or above it).
    pub pay_password_free_max: i64,
    /// Failed redemptions of card codes a caller may make for members other than its own within the
    /// guessing window, across them all (`card/codes.rs`; core's bounds).
    pub card_code_caller_attempts: i64,
    /// The merchant types settled monthly (`settlement.rs`); every other type is settled daily.
    pub settlement_monthly_types: Vec<String>,
    /// The statement layouts of channels (`reconciliation.rs`); a wallet channel with none is read
    /// with the common layout (`ChannelLayout::default_for`), a payout channel is configured here.
    pub reconciliation: Vec<sanhu_core::reconciliation::ChannelLayout>,
}

impl WalletConfig {
    /// Alipay and WeChat Pay at 0.6% paid by the platform, bank transfers free and reviewed; no
    /// tiers; orders asked about at their channel after 5 minutes (once a channel has a status
    /// endpoint) and expired after 30; withdrawals of at least 1.00, free, reviewed from 500.00, held
    /// up to 30 days; no pay password; no transfer limits; adjustments from 1,000.00 approved;
    /// payments to the platform only into its revenue account, `fee_income`; operators not required;
    /// no payment limits; withdrawals without a pay password; pay codes that live a minute; no payments by phone.
    pub fn default_for(currency: Currency) -> WalletConfig {
        let code = |c: &str| AccountTypeCode::parse(c).expect("a valid code");
        let rate = FeeRule::rate(60, 0, None).expect("0.6% is a valid rate");
        let channel = |name: &str, review, fee| Channel {
            name: name.to_owned(),
            review,
            fee,
            fee_payer: FeePayer::Platform,
            status_url: None,
        };
        WalletConfig {
            currency,
            channels: vec![
                channel("alipay", ChannelReview::NotRequired, rate),
                channel("wechat", ChannelReview::NotRequired, rate),
                channel("bank_transfer", ChannelReview::Required, FeeRule::Free),
            ],
            recharge_tiers: RechargeTiers::new(currency, Vec::new()),
            recharge_expiry_s: 30 * 60,
            recharge_query_after_s: 5 * 60,
            recharge_account_type: code("basic"),
            bonus_account_type: code("bonus"),
            withdrawal: WithdrawalPolicy::new(currency, 100, FeeRule::Free, FeePayer::Member).expect("a valid policy"),
            withdrawal_auto_approve_below: 50_000,
            withdrawal_hold_timeout_s: sanhu_core::ledger::PENDING_TIMEOUT_S_MAX,
            pay_password: PayPasswordRule::NotRequired,
            transfer_limits: TransferLimits::unlimited(currency),
            adjustment_approval_from: 100_000,
            payment_receivers: vec![PlatformAccount::FeeIncome],
            operators_required: false,
            payment_limits: Vec::new(),
            withdrawal_pay_password: PayPasswordRule::NotRequired,
            pay_code_ttl_s: sanhu_core::wallet::pay_code::PAY_CODE_TTL_S_DEFAULT,
            pay_by_phone: false,
            pay_password_free_max: 0,
            card_code_caller_attempts: sanhu_core::card::redemption::CALLER_FAILED_REDEMPTIONS_DEFAULT,
            settlement_monthly_types: Vec::new(),
            reconciliation: Vec::new(),
        }
    }

    pub(crate) fn channel(&self, name: &str) -> Option<&Channel> {
        self.channels.iter().find(|c| c.name == name)
    }
}

/// The wallet service. Cheap to clone.
#[derive(Clone)]
pub struct Wallets {
    parties: Parties,
    ledger: Ledger,
    config: Arc<WalletConfig>,
    /// What "now" is for settlement statements (the system's unless a test set it).
    clock: crate::clock::Clock,
}

impl Wallets {
    /// The wallet service over the three-party model and the ledger. Call
    /// [`Wallets::ensure_platform_accounts`] once at start.
    pub fn new(parties: Parties, ledger: Ledger, config: WalletConfig) -> Wallets {
        Wallets { parties, ledger, config: Arc::new(config), clock: crate::clock::Clock::system() }
    }

    pub fn config(&self) -> &WalletConfig {
        &self.config
    }

    /// The clock settlement reads "now" from: the system's, unless a test set it.
    pub fn clock(&self) -> &crate::clock::Clock {
        &self.clock
    }

    /// The same service reading from `store` (a standby): for [`crate::reads::Reads`] only, which
    /// reads through it and decides nothing.
    pub(crate) fn reading_from(&self, store: sanhu_store::Store) -> Wallets {
        Wallets {
            parties: self.parties.reading_from(store.clone()),
            ledger: self.ledger.reading_from(store),
            config: self.config.clone(),
            clock: self.clock.clone(),
        }
    }

    pub fn parties(&self) -> &Parties {
        &self.parties
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Waits for this instance's turn on `keys` (`crate::turns`) and holds it until the answer: a
    /// use case takes the turn of every wallet it takes money out of ([`wallet_key`]) and of the
    /// record it decides on (its record id), before its first read, so requests on one wallet or one
    /// order are decided one after another, each on what the last one left.
    pub(crate) async fn turn(&self, keys: impl IntoIterator<Item = String>) -> Turn {
        self.parties.turns().take(keys).await
    }

    /// The turn key of the wallet a member account belongs to; none for a platform account (or no
    /// account: the use case answers that itself).
    pub(crate) async fn account_wallet_key(
        &self,
        account: sanhu_core::AccountId,
    ) -> Result<Option<String>, WalletFailure> {
        match self.parties.owning_member(crate::party::MemberObject::Account(account)).await {
            Ok(member) => Ok(Some(wallet_key(member))),
            Err(PartyError::NotFound(_)) => Ok(None),
            Err(other) => Err(other.into()),
        }
    }
}

/// The turn key of a member's wallet: every request that takes money out of it, planned on its
/// balances, waits for it.
pub(crate) fn wallet_key(member: sanhu_core::id::MemberId) -> String {
    format!("wallet:{member}")
}
