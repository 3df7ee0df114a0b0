use crate::{AccountId, Currency, Timestamp};

/// Which side of the account grows its balance. Wallet accounts are credit-normal (the platform owes
/// the member); platform accounts such as channel clearing are usually debit-normal.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum NormalSide {
    Debit,
    Credit,
}

impl NormalSide {
    pub fn as_str(self) -> &'static str {
        match self {
            NormalSide::Debit => "debit",
            NormalSide::Credit => "credit",
        }
    }

    pub fn parse(s: &str) -> Option<NormalSide> {
        match s {
            "debit" => Some(NormalSide::Debit),
            "credit" => Some(NormalSide::Credit),
            _ => None,
        }
    }
}

/// How far an account's balance may go below zero, on its normal side.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BalanceLimit {
    /// No limit at all (platform accounts that fund others; benchmark accounts).
    Unlimited,
    /// The balance, pending debits included, may not go below minus this many minor units. `Floor(0)`
    /// is "no overdraft", the default for credit-normal accounts.
    Floor(i64),
}

impl BalanceLimit {
    /// The overdraft allowed, or `None` when unlimited. Stored as a nullable integer.
    pub fn overdraft(self) -> Option<i64> {
        match self {
            BalanceLimit::Unlimited => None,
            BalanceLimit::Floor(n) => Some(n),
        }
    }

    pub fn from_overdraft(overdraft: Option<i64>) -> BalanceLimit {
        overdraft.map_or(BalanceLimit::Unlimited, BalanceLimit::Floor)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct AccountFlags {
    pub debits_blocked: bool,
    pub credits_blocked: bool,
    pub closed: bool,
}

impl AccountFlags {
    const DEBITS_BLOCKED: i32 = 1;
    const CREDITS_BLOCKED: i32 = 2;
    const CLOSED: i32 = 4;

    pub fn bits(self) -> i32 {
        (self.debits_blocked as i32 * Self::DEBITS_BLOCKED)
            | (self.credits_blocked as i32 * Self::CREDITS_BLOCKED)
            | (self.closed as i32 * Self::CLOSED)
    }

    pub fn from_bits(bits: i32) -> AccountFlags {
        AccountFlags {
            debits_blocked: bits & Self::DEBITS_BLOCKED != 0,
            credits_blocked: bits & Self::CREDITS_BLOCKED != 0,
            closed: bits & Self::CLOSED != 0,
        }
    }
}

/// An account's four counters, all non-negative minor units.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Counters {
    pub debits_pending: i64,
    pub debits_posted: i64,
    pub credits_pending: i64,
    pub credits_posted: i64,
}

impl Counters {
    /// Posted balance on the account's normal side.
    pub fn balance(&self, side: NormalSide) -> i64 {
        match side {
            NormalSide::Credit => self.credits_posted - self.debits_posted,
            NormalSide::Debit => self.debits_posted - self.credits_posted,
        }
    }

    /// Balance less what is held by pending transfers against the normal side.
    pub fn available(&self, side: NormalSide) -> i64 {
        match side {
            NormalSide::Credit => self.credits_posted - self.debits_posted - self.debits_pending,
            NormalSide::Debit => self.debits_posted - self.credits_posted - self.credits_pending,
        }
    }
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Account {
    pub id: AccountId,
    pub currency: Currency,
    pub normal_side: NormalSide,
    pub limit: BalanceLimit,
    pub flags: AccountFlags,
    pub counters: Counters,
    /// Business code of the account (its type), free for the layers above; "" when unset.
    pub code: String,
    /// Free JSON object as text; "{}" when unset.
    pub metadata: String,
    pub created_at: Timestamp,
    /// Timestamp of the last transfer that touched this account. The next one is later, so an
    /// account's entries are totally ordered by timestamp even with several writers.
    pub last_transfer_at: Timestamp,
}

impl Account {
    /// Default limit for a new account on `side`: no overdraft for credit-normal (wallet) accounts,
    /// unlimited for debit-normal (platform) accounts.
    pub fn default_limit(side: NormalSide) -> BalanceLimit {
        match side {
            NormalSide::Credit => BalanceLimit::Floor(0),
            NormalSide::Debit => BalanceLimit::Unlimited,
        }
    }

    pub fn balance(&self) -> i64 {
        self.counters.balance(self.normal_side)
    }

    pub fn available(&self) -> i64 {
        self.counters.available(self.normal_side)
    }

    /// What a debit of this account may still take: available plus the overdraft, or unlimited.
    /// Only credit-normal accounts are limited on debits; a debit-normal account grows by debits.
    pub fn debit_headroom(&self) -> Option<i64> {
        match (self.normal_side, self.limit) {
            (NormalSide::Credit, BalanceLimit::Floor(overdraft)) => {
                Some(self.available().saturating_add(overdraft).max(0))
            }
            _ => None,
        }
    }

    /// What a credit of this account may still take (debit-normal accounts with a floor).
    pub fn credit_headroom(&self) -> Option<i64> {
        match (self.normal_side, self.limit) {
            (NormalSide::Debit, BalanceLimit::Floor(overdraft)) => {
                Some(self.available().saturating_add(overdraft).max(0))
            }
            _ => None,
        }
    }

    /// An account can be closed only at zero balance with nothing pending.
    pub fn check_can_close(&self) -> Result<(), super::AccountCloseError> {
        use super::AccountCloseError::*;
        let c = &self.counters;
        if self.flags.closed {
            Err(AlreadyClosed)
        } else if c.debits_pending != 0 || c.credits_pending != 0 {
            Err(HasPending)
        } else if c.debits_posted != c.credits_posted {
            Err(NotEmpty)
        } else {
            Ok(())
        }
    }
}
