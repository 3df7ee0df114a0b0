//! A member's flow (流水): every balance change of every account of its wallet, merged, newest first,
//! a page at a time. Each line is one ledger entry: the transfer as seen from one of the member's
//! accounts, with its business type, the counterparty, the direction, the amount, the fee the member
//! paid on it, and the account's balance just after it (which the ledger keeps in every entry, so
//! nothing is recomputed).
//!
//! **Newest first over an oldest-first store.** The store lists an account's entries in a time range
//! oldest first. The newest `n` entries before an instant are found by looking back over windows that
//! double while they hold fewer than are still wanted (each such window is read whole) and halve when
//! one holds more. An account's entries have distinct timestamps, so a window narrows at worst to one
//! entry; in practice a page takes a few reads per account.
//!
//! **Paging.** Lines are ordered by (timestamp, account) descending; a [`FlowCursor`] is the last
//! line's pair, and the next page holds what comes strictly after it in that order.
//!
//! **Fees.** A withdrawal's fee is a transfer of its own, from withdrawals in transit to fee income,
//! in the same linked chain as the withdrawal's legs (core's `WithdrawalPreview::legs`): the member
//! pays it when it goes to fee income. It is shown on the chain's first line of the member's; every
//! other line's fee is zero. A channel fee the member bears on a recharge never enters the ledger
//! (the member is credited the amount less the fee), so it does not appear here: the recharge order
//! has it.

use anyhow::anyhow;
use sanhu_core::id::MemberId;
use sanhu_core::ledger::{Account, Counters, Transfer, TransferKind};
use sanhu_core::{AccountId, Timestamp, TransferId};
use sanhu_store::{EntryQuery, LedgerStore};

use super::error::*;
use super::platform::PlatformAccount;
use super::Wallets;
use crate::wallet::WalletFailure;

/// The most lines one page of the flow holds.
pub const FLOW_PAGE_LINES_MAX: u32 = 100;

/// The first window the flow looks back over from a page's start, before doubling.
const FLOW_WINDOW_START_NS: i64 = 60 * 1_000_000_000;

/// How far before an account's creation its entries may be stamped (writers' clocks disagree by far
/// less); reading back further finds nothing.
const FLOW_CLOCK_SKEW_MAX_NS: i64 = 24 * 3600 * 1_000_000_000;

/// The most store reads one account's part of a page may take: far above what the windows need (each
/// halving or doubling is one read, and an i64 of nanoseconds halves 63 times).
const FLOW_READS_PER_ACCOUNT_MAX: u32 = 512;

/// The most transfers read to find a withdrawal's chain by its reference.
const FEE_CHAIN_TRANSFERS_MAX: u32 = 64;

/// Business codes whose chains may carry a fee the member pays.
const FEE_BEARING_CODES: &[&str] = &["withdraw"];

/// Where a page of the flow ended: the next page starts after this line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowCursor {
    pub timestamp: Timestamp,
    pub account_id: AccountId,
}

impl FlowCursor {
    /// Reads the text form `<nanoseconds>.<acc_…>` that [`FlowCursor`]'s `Display` writes.
    pub fn parse(text: &str) -> Result<FlowCursor, WalletFailure> {
        let invalid = || WalletFailure::Rejected(FLOW_CURSOR_INVALID);
        let (nanos, account) = text.split_once('.').ok_or_else(invalid)?;
        let nanos: i64 = nanos.parse().map_err(|_| invalid())?;
        let account_id = AccountId::parse(account).ok_or_else(invalid)?;
        Ok(FlowCursor { timestamp: Timestamp::from_nanos(nanos), account_id })
    }
}

impl std::fmt::Display for FlowCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.timestamp.nanos(), self.account_id)
    }
}

/// Which page of the flow to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowQuery {
    /// Only this account's lines (one of the member's accounts: `flow_account_not_found`
    /// otherwise); every account's when `None`.
    pub account: Option<AccountId>,
    /// The lines after this one; from the newest when `None`.
    pub after: Option<FlowCursor>,
    /// 1 to [`FLOW_PAGE_LINES_MAX`].
    pub limit: u32,
}

/// Which way money moved for the member's account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FlowDirection {
    /// The account was credited.
    In,
    /// The account was debited.
    Out,
}

impl FlowDirection {
    pub fn as_str(self) -> &'static str {
        match self {
            FlowDirection::In => "in",
            FlowDirection::Out => "out",
        }
    }
}

/// What the entry did to the account's money.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FlowMovement {
    /// Moved at once: the balance changed.
    Posted,
    /// Set aside (冻结): the available balance changed, the balance not yet.
    Frozen,
    /// Money set aside was moved: the balance changed.
    FrozenPosted,
    /// Money set aside was given back to the available balance.
    Released,
    /// Money set aside was given back when its hold expired.
    Expired,
}

impl FlowMovement {
    pub fn as_str(self) -> &'static str {
        match self {
            FlowMovement::Posted => "posted",
            FlowMovement::Frozen => "frozen",
            FlowMovement::FrozenPosted => "frozen_posted",
            FlowMovement::Released => "released",
            FlowMovement::Expired => "expired",
        }
    }

    fn of(kind: TransferKind) -> FlowMovement {
        match kind {
            TransferKind::Posted => FlowMovement::Posted,
            TransferKind::Pending => FlowMovement::Frozen,
            TransferKind::PostPending => FlowMovement::FrozenPosted,
            TransferKind::VoidPending => FlowMovement::Released,
            TransferKind::ExpirePending => FlowMovement::Expired,
        }
    }
}

/// The other side of a line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Counterparty {
    /// Another member's account, or another of this member's.
    Member { member_id: MemberId, account_id: AccountId },
    /// One of the platform's accounts, by name (`channel:alipay`, `fee_income`, `subsidy:mem_…`, ...).
    Platform { name: String, account_id: AccountId },
    /// An account the wallet does not know (made directly through the ledger's API).
    Account { account_id: AccountId },
}

/// One line of the flow: one entry of one of the member's accounts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowLine {
    pub transfer_id: TransferId,
    pub timestamp: Timestamp,
    pub account_id: AccountId,
    /// The account's type code (`basic`, `subsidy`, ...).
    pub account_type: String,
    /// The transfer's business code (`recharge`, `pay`, `member_transfer`, `withdraw`, ...).
    pub business_type: String,
    pub movement: FlowMovement,
    pub direction: FlowDirection,
    /// Minor units moved, held or released.
    pub amount: i64,
    /// The fee the member paid on it, in minor units (see the module's note).
    pub fee: i64,
    pub counterparty: Counterparty,
    /// The caller's order (or refund) number the transfer carries.
    pub reference: Option<String>,
    /// The enterprise member's operator who made the order (`operator.rs`), if one did.
    pub operator_id: Option<String>,
    /// The store and terminal where the order was paid (`counter.rs`), if it names them.
    pub store_id: Option<String>,
    pub terminal_id: Option<String>,
    /// The account's posted balance just after the entry.
    pub balance_after: i64,
    /// The account's available balance (balance less what is frozen) just after the entry.
    pub available_after: i64,
}

impl FlowLine {
    /// The cursor that continues after this line.
    pub fn cursor(&self) -> FlowCursor {
        FlowCursor { timestamp: self.timestamp, account_id: self.account_id }
    }
}

/// A page of the flow, newest first; `next` continues it, `None` at the oldest line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowPage {
    pub lines: Vec<FlowLine>,
    pub next: Option<FlowCursor>,
}

impl Wallets {
    /// A page of the member's flow over all its accounts in the wallet's currency (closed ones too:
    /// their past is part of it), newest first.
    pub async fn wallet_flow(&self, member: MemberId, query: &FlowQuery) -> Result<FlowPage, WalletFailure> {
        if !(1..=FLOW_PAGE_LINES_MAX).contains(&query.limit) {
            return Err(WalletFailure::Rejected(FLOW_LIMIT_INVALID));
        }
        let accounts: Vec<Account> = self
            .parties
            .member_accounts(member)
            .await?
            .into_iter()
            .filter(|a| a.ledger.currency == self.config.currency)
            .map(|a| a.ledger)
            .collect();
        let accounts: Vec<Account> = match query.account {
            None => accounts,
            Some(one) => {
                let only: Vec<Account> = accounts.into_iter().filter(|a| a.id == one).collect();
                if only.is_empty() {
                    return Err(WalletFailure::Rejected(FLOW_ACCOUNT_NOT_FOUND));
                }
                only
            }
        };
        let wanted = query.limit as usize + 1;
        let store = self.parties.store();
        let mut entries: Vec<(Transfer, AccountId)> = Vec::new();
        for account in &accounts {
            // Strictly after the cursor in (timestamp, account) descending order.
            let before = match query.after {
                None => i64::MAX,
                Some(c) if account.id < c.account_id => c.timestamp.nanos().saturating_add(1),
                Some(c) => c.timestamp.nanos(),
            };
            for transfer in newest_entries(store, account, before, wanted).await? {
                entries.push((transfer, account.id));
            }
        }
        entries.sort_by_key(|(t, account)| std::cmp::Reverse((t.timestamp, *account)));
        let more = entries.len() > query.limit as usize;
        entries.truncate(query.limit as usize);

        let mut others: Vec<AccountId> = entries
            .iter()
            .map(|(t, account)| if t.debit_account_id == *account { t.credit_account_id } else { t.debit_account_id })
            .collect();
        others.sort();
        others.dedup();
        let known = store.get_accounts(&others).await?;
        let mine: Vec<AccountId> = accounts.iter().map(|a| a.id).collect();
        let fee_income = PlatformAccount::FeeIncome.id(self.config.currency);

        let mut lines = Vec::with_capacity(entries.len());
        let mut chains: Vec<(String, Vec<Transfer>)> = Vec::new();
        for (transfer, account_id) in entries {
            let account = accounts.iter().find(|a| a.id == account_id).expect("an entry of a listed account");
            let out = transfer.debit_account_id == account_id;
            let other = if out { transfer.credit_account_id } else { transfer.debit_account_id };
            let after = if out { transfer.debit_account_after } else { transfer.credit_account_after };
            let fee = self.fee_of(&transfer, account_id, &mine, fee_income, &mut chains).await?;
            lines.push(FlowLine {
                transfer_id: transfer.id,
                timestamp: transfer.timestamp,
                account_id,
                account_type: account.code.clone(),
                business_type: transfer.code.clone(),
                movement: FlowMovement::of(transfer.kind),
                direction: if out { FlowDirection::Out } else { FlowDirection::In },
                amount: transfer.amount,
                fee,
                counterparty: counterparty(other, known.iter().find(|a| a.id == other)),
                reference: transfer.reference.clone(),
                operator_id: super::operator::in_metadata(&transfer.metadata),
                store_id: super::counter::in_metadata(&transfer.metadata).0,
                terminal_id: super::counter::in_metadata(&transfer.metadata).1,
                balance_after: Counters::balance(&after, account.normal_side),
                available_after: Counters::available(&after, account.normal_side),
            });
        }
        let next = if more { lines.last().map(FlowLine::cursor) } else { None };
        Ok(FlowPage { lines, next })
    }

    /// The fee the member paid on `transfer`'s chain, if this line is the chain's first of the member's.
    async fn fee_of(
        &self,
        transfer: &Transfer,
        account_id: AccountId,
        mine: &[AccountId],
        fee_income: AccountId,
        chains: &mut Vec<(String, Vec<Transfer>)>,
    ) -> Result<i64, WalletFailure> {
        let Some(reference) = transfer.reference.as_deref() else { return Ok(0) };
        if !FEE_BEARING_CODES.contains(&transfer.code.as_str()) {
            return Ok(0);
        }
        if !chains.iter().any(|(r, _)| r == reference) {
            let found = self.parties.store().transfers_by_reference(reference, FEE_CHAIN_TRANSFERS_MAX).await?;
            chains.push((reference.to_owned(), found));
        }
        let same_reference = &chains.iter().find(|(r, _)| r == reference).expect("just read").1;
        let Some(at) = same_reference.iter().position(|t| t.id == transfer.id) else { return Ok(0) };
        // A chain is a run of transfers each linked to the next, ending with one that is not.
        let mut start = at;
        while start > 0 && same_reference[start - 1].linked {
            start -= 1;
        }
        let mut end = at;
        while end + 1 < same_reference.len() && same_reference[end].linked {
            end += 1;
        }
        let chain = &same_reference[start..=end];
        let touches = |t: &Transfer| mine.contains(&t.debit_account_id) || mine.contains(&t.credit_account_id);
        let first_of_members = chain.iter().find(|t| touches(t)).map(|t| t.id);
        // A transfer between two of the member's accounts shows the fee on its debit side only.
        let both = mine.contains(&transfer.debit_account_id) && mine.contains(&transfer.credit_account_id);
        if first_of_members != Some(transfer.id) || (both && transfer.debit_account_id != account_id) {
            return Ok(0);
        }
        Ok(chain.iter().filter(|t| t.credit_account_id == fee_income).map(|t| t.amount).sum())
    }
}

/// Who `account` belongs to, from what its ledger account carries: a member account names its member,
/// a platform account its name.
fn counterparty(account_id: AccountId, account: Option<&Account>) -> Counterparty {
    let metadata: Option<serde_json::Value> = account.and_then(|a| serde_json::from_str(&a.metadata).ok());
    let field = |name: &str| metadata.as_ref().and_then(|m| m.get(name)).and_then(|v| v.as_str()).map(str::to_owned);
    if let Some(member_id) = field("member_id").and_then(|m| MemberId::parse(&m)) {
        return Counterparty::Member { member_id, account_id };
    }
    if let Some(name) = field("platform_account") {
        return Counterparty::Platform { name, account_id };
    }
    Counterparty::Account { account_id }
}

/// The newest `wanted` entries of `account` stamped before `before` (exclusive), newest first.
async fn newest_entries(
    store: &sanhu_store::Store,
    account: &Account,
    before: i64,
    wanted: usize,
) -> Result<Vec<Transfer>, WalletFailure> {
    let mut found: Vec<Transfer> = Vec::new();
    if account.last_transfer_at == Timestamp::default() {
        return Ok(found);
    }
    let floor = account.created_at.nanos().saturating_sub(FLOW_CLOCK_SKEW_MAX_NS);
    let mut upper = before.min(account.last_transfer_at.nanos().saturating_add(1));
    let mut window = FLOW_WINDOW_START_NS;
    let mut reads = 0;
    while found.len() < wanted && upper > floor {
        reads += 1;
        if reads > FLOW_READS_PER_ACCOUNT_MAX {
            return Err(WalletFailure::Internal(anyhow!("the flow of account {} took too many reads", account.id)));
        }
        let still = wanted - found.len();
        let lower = upper.saturating_sub(window).max(floor);
        let query = EntryQuery {
            account_id: account.id,
            from: Some(Timestamp::from_nanos(lower)),
            to: Some(Timestamp::from_nanos(upper)),
            after: None,
            limit: still as u32 + 1,
        };
        let page = store.account_entries(&query).await?;
        if page.len() <= still {
            // The whole window: all of it is newer than what is still to be read.
            found.extend(page.into_iter().rev());
            upper = lower;
            window = window.saturating_mul(2);
        } else if upper - lower <= 1 {
            return Err(WalletFailure::Internal(anyhow!("account {} has two entries at one instant", account.id)));
        } else {
            // More than wanted: the newest are in a narrower window.
            window = (upper - lower) / 2;
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sanhu_core::ledger::{AccountFlags, BalanceLimit, NormalSide, TransferAction, TransferRequest};
    use sanhu_core::{Amount, Currency};

    const S: i64 = 1_000_000_000;

    fn account(n: u128, created_at: i64) -> Account {
        Account {
            id: AccountId::from_u128(n).unwrap(),
            currency: Currency::parse("CNY").unwrap(),
            normal_side: NormalSide::Debit,
            limit: BalanceLimit::Unlimited,
            flags: AccountFlags::default(),
            counters: Counters::default(),
            code: "test".to_owned(),
            metadata: "{}".to_owned(),
            created_at: Timestamp::from_nanos(created_at),
            last_transfer_at: Timestamp::default(),
        }
    }

    // Commits go straight to the store (not through the writer) so that the test chooses the instants.
    sanhu_store::on_both_backends!(
        the_newest_entries_are_those_reading_everything_finds_across_bursts_and_quiet_weeks,
        |db| {
            let store = &db.store;
            let start = 1_700_000_000 * S;
            let (a, b) = (account(1, start), account(2, start));
            store.create_accounts(&[a.clone(), b.clone()]).await.unwrap();
            // Bursts of entries a nanosecond apart, then quiet stretches from seconds to weeks.
            let mut id = 0u128;
            let mut now = start;
            for (burst, gap) in [(1, 5 * S), (30, 3_600 * S), (3, 20 * 86_400 * S), (12, 2 * S), (1, 0)] {
                let requests: Vec<TransferRequest> = (0..burst)
                    .map(|_| {
                        id += 1;
                        TransferRequest {
                            id: TransferId::from_u128(id).unwrap(),
                            action: TransferAction::Post {
                                debit_account_id: a.id,
                                credit_account_id: b.id,
                                amount: Amount::new(1).unwrap(),
                                balancing: false,
                            },
                            linked: false,
                            code: "test".to_owned(),
                            reference: None,
                            metadata: "{}".to_owned(),
                        }
                    })
                    .collect();
                let results = store.commit_batch(requests, Timestamp::from_nanos(now)).await.unwrap();
                assert!(results.iter().all(Result::is_ok));
                now += gap;
            }
            let account = store.get_account(a.id).await.unwrap().unwrap();
            let everything = EntryQuery { account_id: a.id, from: None, to: None, after: None, limit: 1_000 };
            let all = store.account_entries(&everything).await.unwrap();
            assert_eq!(all.len(), 47);
            let at = |i: usize| all[i].timestamp.nanos();
            for wanted in [1, 2, 5, 13, 46, 47, 60] {
                for before in [i64::MAX, at(46) + 1, at(40), at(31) + 1, at(30), at(3), at(1), at(0), at(0) - 1] {
                    let expected: Vec<TransferId> =
                        all.iter().rev().filter(|t| t.timestamp.nanos() < before).take(wanted).map(|t| t.id).collect();
                    let found = newest_entries(store, &account, before, wanted).await.unwrap();
                    let found: Vec<TransferId> = found.iter().map(|t| t.id).collect();
                    assert_eq!(found, expected, "{wanted} before {before}");
                }
            }
        }
    );

    #[test]
    fn a_movement_and_a_direction_serialise_as_their_names() {
        use FlowMovement::*;
        for movement in [Posted, Frozen, FrozenPosted, Released, Expired] {
            assert_eq!(serde_json::to_value(movement).unwrap(), movement.as_str());
        }
        for direction in [FlowDirection::In, FlowDirection::Out] {
            assert_eq!(serde_json::to_value(direction).unwrap(), direction.as_str());
        }
    }
}
