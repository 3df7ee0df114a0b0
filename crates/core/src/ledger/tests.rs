//! The ledger's rules, one test each, named as the sentence it checks. Every error code that
//! `apply_batch` or `check_submission` can return is produced here at least once, and every rejection
//! is checked to change nothing (invariant 7).

use super::*;
use crate::{AccountId, Amount, Currency, Timestamp, TransferId};

const SECOND: i64 = 1_000_000_000;

/// Debit-normal, unlimited, CNY: the platform account that funds wallets.
const BANK: u128 = 1;
/// Debit-normal, unlimited, USD.
const USD_BANK: u128 = 2;
/// Credit-normal wallets, no overdraft, CNY.
const ALICE: u128 = 10;
const BOB: u128 = 11;
const CAROL: u128 = 12;
/// A credit-normal wallet, no overdraft, USD.
const DOLLARS: u128 = 20;
/// No account has this id.
const NOBODY: u128 = 99;

fn acc(n: u128) -> AccountId {
    AccountId::from_u128(n).unwrap()
}

fn tr(n: u128) -> TransferId {
    TransferId::from_u128(n).unwrap()
}

fn cny() -> Currency {
    Currency::parse("CNY").unwrap()
}

fn usd() -> Currency {
    Currency::parse("USD").unwrap()
}

/// `seconds` after the tests' epoch.
fn at(seconds: i64) -> Timestamp {
    Timestamp(1_763_784_000 * SECOND + seconds * SECOND)
}

fn account(id: u128, currency: Currency, normal_side: NormalSide, limit: BalanceLimit) -> Account {
    Account {
        id: acc(id),
        currency,
        normal_side,
        limit,
        flags: AccountFlags::default(),
        counters: Counters::default(),
        code: String::new(),
        metadata: "{}".into(),
        created_at: at(-100),
        last_transfer_at: Timestamp(0),
    }
}

fn counters(debits_pending: i64, debits_posted: i64, credits_pending: i64, credits_posted: i64) -> Counters {
    Counters { debits_pending, debits_posted, credits_pending, credits_posted }
}

fn request(id: u128, action: TransferAction) -> TransferRequest {
    TransferRequest {
        id: tr(id),
        action,
        linked: false,
        code: "pay".into(),
        reference: Some(format!("order-{id}")),
        metadata: "{}".into(),
    }
}

fn amount(n: i64) -> Amount {
    Amount::new(n).unwrap()
}

fn post(id: u128, debit: u128, credit: u128, n: i64) -> TransferRequest {
    request(
        id,
        TransferAction::Post {
            debit_account_id: acc(debit),
            credit_account_id: acc(credit),
            amount: amount(n),
            balancing: false,
        },
    )
}

fn hold(id: u128, debit: u128, credit: u128, n: i64, timeout_s: Option<u32>) -> TransferRequest {
    request(
        id,
        TransferAction::Hold {
            debit_account_id: acc(debit),
            credit_account_id: acc(credit),
            amount: amount(n),
            balancing: false,
            timeout_s,
        },
    )
}

fn post_pending(id: u128, pending: u128, n: Option<i64>) -> TransferRequest {
    request(id, TransferAction::PostPending { pending_id: tr(pending), amount: n.map(amount) })
}

fn void(id: u128, pending: u128) -> TransferRequest {
    request(id, TransferAction::VoidPending { pending_id: tr(pending) })
}

fn expire(id: u128, pending: u128) -> TransferRequest {
    request(id, TransferAction::ExpirePending { pending_id: tr(pending) })
}

fn linked(mut r: TransferRequest) -> TransferRequest {
    r.linked = true;
    r
}

fn balancing(mut r: TransferRequest) -> TransferRequest {
    match &mut r.action {
        TransferAction::Post { balancing, .. } | TransferAction::Hold { balancing, .. } => *balancing = true,
        _ => panic!("only posts and holds balance"),
    }
    r
}

/// Everything a batch can change, in a comparable form.
#[derive(PartialEq, Debug)]
struct Snapshot {
    accounts: Vec<Account>,
    transfers: Vec<Transfer>,
    pendings: Vec<PendingRecord>,
}

/// A ledger kept in memory the way a store keeps it: the whole state stays loaded between batches.
struct Ledger {
    state: LedgerState,
    now: Timestamp,
    next_funding_id: u128,
}

impl Ledger {
    /// BANK, USD_BANK, ALICE, BOB, CAROL and DOLLARS, all empty.
    fn new() -> Ledger {
        let mut ledger = Ledger::with_accounts([
            account(BANK, cny(), NormalSide::Debit, BalanceLimit::Unlimited),
            account(USD_BANK, usd(), NormalSide::Debit, BalanceLimit::Unlimited),
            account(ALICE, cny(), NormalSide::Credit, BalanceLimit::Floor(0)),
            account(BOB, cny(), NormalSide::Credit, BalanceLimit::Floor(0)),
            account(CAROL, cny(), NormalSide::Credit, BalanceLimit::Floor(0)),
            account(DOLLARS, usd(), NormalSide::Credit, BalanceLimit::Floor(0)),
        ]);
        ledger.now = at(0);
        ledger
    }

    fn with_accounts(accounts: impl IntoIterator<Item = Account>) -> Ledger {
        let mut state = LedgerState::default();
        for a in accounts {
            state.accounts.insert(a.id, a);
        }
        Ledger { state, now: at(0), next_funding_id: 900_000 }
    }

    fn add(&mut self, a: Account) {
        self.state.accounts.insert(a.id, a);
    }

    fn apply(&mut self, requests: &[TransferRequest]) -> BatchOutcome {
        let outcome = apply_batch(&mut self.state, requests, self.now);
        // As a store does once the batch is written: what was new is now loaded.
        for p in self.state.pendings.values_mut() {
            p.is_new = false;
        }
        outcome
    }

    fn one(&mut self, r: TransferRequest) -> Result<Transfer, TransferError> {
        let mut outcome = self.apply(&[r]);
        assert_eq!(outcome.results.len(), 1);
        outcome.results.pop().unwrap()
    }

    fn ok(&mut self, r: TransferRequest) -> Transfer {
        let id = r.id;
        self.one(r).unwrap_or_else(|e| panic!("{id} was rejected: {e}"))
    }

    /// Credits `n` to `id` from the bank of its currency.
    fn fund(&mut self, id: u128, n: i64) {
        let bank = if self.account(id).currency == usd() { USD_BANK } else { BANK };
        self.next_funding_id += 1;
        self.ok(post(self.next_funding_id, bank, id, n));
    }

    fn account(&self, id: u128) -> &Account {
        &self.state.accounts[&acc(id)]
    }

    fn account_mut(&mut self, id: u128) -> &mut Account {
        self.state.accounts.get_mut(&acc(id)).unwrap()
    }

    fn counters(&self, id: u128) -> Counters {
        self.account(id).counters
    }

    fn pending(&self, id: u128) -> Option<&PendingRecord> {
        self.state.pendings.get(&tr(id))
    }

    fn snapshot(&self) -> Snapshot {
        let mut accounts: Vec<Account> = self.state.accounts.values().cloned().collect();
        accounts.sort_by_key(|a| a.id);
        let mut transfers: Vec<Transfer> = self.state.transfers.values().cloned().collect();
        transfers.sort_by_key(|t| t.id);
        let mut pendings: Vec<PendingRecord> = self.state.pendings.values().cloned().collect();
        pendings.sort_by_key(|p| p.id);
        Snapshot { accounts, transfers, pendings }
    }

    /// Applies `r` alone and checks that it is rejected with `error` and changes nothing.
    fn assert_rejected(&mut self, r: TransferRequest, error: TransferError) {
        let before = self.snapshot();
        let outcome = self.apply(std::slice::from_ref(&r));
        assert_eq!(outcome.results, vec![Err(error)], "{r:?}");
        assert!(outcome.inserted.is_empty(), "a rejected request inserts nothing");
        assert!(outcome.accounts.is_empty(), "a rejected request writes no account");
        assert!(outcome.pendings.is_empty(), "a rejected request writes no hold");
        assert_eq!(self.snapshot(), before, "a rejected request changes nothing");
    }
}

// ---------------------------------------------------------------------------------------------------
// Posted transfers and the checks every transfer passes.

#[test]
fn a_posted_transfer_moves_posted_counters_on_both_sides() {
    let mut l = Ledger::new();
    let t = l.ok(post(1, BANK, ALICE, 250));
    assert_eq!(t.kind, TransferKind::Posted);
    assert_eq!((t.amount, t.requested_amount), (250, 250));
    assert_eq!((t.debit_account_id, t.credit_account_id), (acc(BANK), acc(ALICE)));
    assert_eq!(l.counters(BANK), counters(0, 250, 0, 0));
    assert_eq!(l.counters(ALICE), counters(0, 0, 0, 250));
    assert_eq!(t.debit_account_after, l.counters(BANK));
    assert_eq!(t.credit_account_after, l.counters(ALICE));
    assert_eq!((l.account(ALICE).balance(), l.account(ALICE).available()), (250, 250));
    assert_eq!(l.account(BANK).balance(), 250, "a debit-normal account grows by debits");
    assert_eq!(l.state.transfers[&tr(1)], t);

    let t = l.ok(post(2, ALICE, BOB, 100));
    assert_eq!(t.debit_account_after, counters(0, 100, 0, 250));
    assert_eq!(t.credit_account_after, counters(0, 0, 0, 100));
    assert_eq!((l.account(ALICE).balance(), l.account(BOB).balance()), (150, 100));
}

#[test]
fn a_transfer_carries_the_requests_business_fields() {
    let mut l = Ledger::new();
    let mut r = post(1, BANK, ALICE, 5);
    r.code = "recharge".into();
    r.reference = Some("R-42".into());
    r.metadata = r#"{"channel":"alipay"}"#.into();
    let t = l.ok(r);
    assert_eq!(
        (t.code.as_str(), t.reference.as_deref(), t.metadata.as_str()),
        ("recharge", Some("R-42"), r#"{"channel":"alipay"}"#)
    );
}

#[test]
fn a_transfer_from_an_account_to_itself_is_rejected() {
    let mut l = Ledger::new();
    l.fund(ALICE, 100);
    l.assert_rejected(post(1, ALICE, ALICE, 10), TransferError::SameAccount);
    l.assert_rejected(hold(2, ALICE, ALICE, 10, None), TransferError::SameAccount);
    l.assert_rejected(post(3, NOBODY, NOBODY, 10), TransferError::SameAccount);
}

#[test]
fn a_transfer_from_an_unknown_account_is_rejected() {
    let mut l = Ledger::new();
    l.assert_rejected(post(1, NOBODY, ALICE, 10), TransferError::AccountNotFound);
    l.assert_rejected(hold(2, NOBODY, ALICE, 10, None), TransferError::AccountNotFound);
}

#[test]
fn a_transfer_to_an_unknown_account_is_rejected() {
    let mut l = Ledger::new();
    l.fund(ALICE, 100);
    l.assert_rejected(post(1, ALICE, NOBODY, 10), TransferError::AccountNotFound);
    l.assert_rejected(hold(2, ALICE, NOBODY, 10, Some(60)), TransferError::AccountNotFound);
}

#[test]
fn a_transfer_between_accounts_of_different_currencies_is_rejected() {
    let mut l = Ledger::new();
    l.fund(ALICE, 100);
    l.assert_rejected(post(1, ALICE, DOLLARS, 10), TransferError::CurrencyMismatch);
    l.assert_rejected(post(2, BANK, DOLLARS, 10), TransferError::CurrencyMismatch);
    l.assert_rejected(hold(3, USD_BANK, ALICE, 10, None), TransferError::CurrencyMismatch);
}

#[test]
fn a_transfer_from_a_closed_account_is_rejected() {
    let mut l = Ledger::new();
    l.account_mut(BANK).flags.closed = true;
    l.assert_rejected(post(1, BANK, ALICE, 10), TransferError::AccountClosed);
    l.assert_rejected(hold(2, BANK, ALICE, 10, None), TransferError::AccountClosed);
}

#[test]
fn a_transfer_to_a_closed_account_is_rejected() {
    let mut l = Ledger::new();
    l.account_mut(ALICE).flags.closed = true;
    l.assert_rejected(post(1, BANK, ALICE, 10), TransferError::AccountClosed);
    l.assert_rejected(hold(2, BANK, ALICE, 10, Some(5)), TransferError::AccountClosed);
}

#[test]
fn a_transfer_from_an_account_with_debits_blocked_is_rejected() {
    let mut l = Ledger::new();
    l.fund(ALICE, 100);
    l.account_mut(ALICE).flags.debits_blocked = true;
    l.assert_rejected(post(1, ALICE, BOB, 10), TransferError::DebitsBlocked);
    l.assert_rejected(hold(2, ALICE, BOB, 10, None), TransferError::DebitsBlocked);
}

#[test]
fn an_account_with_debits_blocked_can_still_be_credited() {
    let mut l = Ledger::new();
    l.account_mut(ALICE).flags.debits_blocked = true;
    l.ok(post(1, BANK, ALICE, 10));
    assert_eq!(l.account(ALICE).balance(), 10);
}

#[test]
fn a_transfer_to_an_account_with_credits_blocked_is_rejected() {
    let mut l = Ledger::new();
    l.account_mut(ALICE).flags.credits_blocked = true;
    l.assert_rejected(post(1, BANK, ALICE, 10), TransferError::CreditsBlocked);
    l.assert_rejected(hold(2, BANK, ALICE, 10, None), TransferError::CreditsBlocked);
}

#[test]
fn an_account_with_credits_blocked_can_still_be_debited() {
    let mut l = Ledger::new();
    l.fund(ALICE, 100);
    l.account_mut(ALICE).flags.credits_blocked = true;
    l.ok(post(1, ALICE, BOB, 10));
    assert_eq!(l.account(ALICE).balance(), 90);
}

#[test]
fn the_account_checks_come_in_a_fixed_order() {
    // One code per request even when several rules fail: same account, then existence, currency,
    // closed, debits blocked, credits blocked, funds.
    let mut l = Ledger::new();
    l.account_mut(ALICE).flags = AccountFlags { debits_blocked: true, credits_blocked: true, closed: true };
    l.account_mut(BOB).flags = AccountFlags { debits_blocked: true, credits_blocked: true, closed: false };
    l.account_mut(CAROL).flags.credits_blocked = true;
    l.assert_rejected(post(1, ALICE, DOLLARS, 10), TransferError::CurrencyMismatch);
    l.assert_rejected(post(2, ALICE, NOBODY, 10), TransferError::AccountNotFound);
    l.assert_rejected(post(3, BOB, ALICE, 10), TransferError::AccountClosed);
    l.assert_rejected(post(4, BOB, CAROL, 10), TransferError::DebitsBlocked);
    l.assert_rejected(post(5, BANK, CAROL, 10), TransferError::CreditsBlocked);
    l.account_mut(CAROL).flags.credits_blocked = false;
    l.account_mut(BOB).flags.debits_blocked = false;
    l.assert_rejected(post(6, BOB, CAROL, 10), TransferError::InsufficientFunds);
}

// ---------------------------------------------------------------------------------------------------
// Balance limits.

#[test]
fn a_transfer_larger_than_the_available_balance_is_rejected() {
    let mut l = Ledger::new();
    l.fund(ALICE, 100);
    l.assert_rejected(post(1, ALICE, BOB, 101), TransferError::InsufficientFunds);
    l.assert_rejected(hold(2, ALICE, BOB, 101, Some(60)), TransferError::InsufficientFunds);
    l.assert_rejected(post(3, BOB, ALICE, 1), TransferError::InsufficientFunds);
}

#[test]
fn a_wallet_can_be_emptied_to_exactly_zero() {
    let mut l = Ledger::new();
    l.fund(ALICE, 100);
    l.ok(post(1, ALICE, BOB, 60));
    l.ok(post(2, ALICE, BOB, 40));
    assert_eq!((l.account(ALICE).balance(), l.account(ALICE).available()), (0, 0));
    l.assert_rejected(post(3, ALICE, BOB, 1), TransferError::InsufficientFunds);
}

#[test]
fn an_overdraft_lets_the_balance_reach_minus_the_limit_but_not_beyond() {
    let mut l = Ledger::new();
    l.account_mut(ALICE).limit = BalanceLimit::Floor(50);
    l.fund(ALICE, 30);
    l.assert_rejected(post(1, ALICE, BOB, 81), TransferError::InsufficientFunds);
    l.ok(post(2, ALICE, BOB, 70));
    assert_eq!(l.account(ALICE).balance(), -40);
    l.assert_rejected(post(3, ALICE, BOB, 11), TransferError::InsufficientFunds);
    l.assert_rejected(hold(4, ALICE, BOB, 11, None), TransferError::InsufficientFunds);
    l.ok(hold(5, ALICE, BOB, 10, None));
    assert_eq!((l.account(ALICE).balance(), l.account(ALICE).available()), (-40, -50));
    l.assert_rejected(post(6, ALICE, BOB, 1), TransferError::InsufficientFunds);
}

#[test]
fn a_floor_on_a_debit_normal_account_limits_credits_to_it() {
    // A channel clearing account, debit-normal, that must never owe more than 20.
    let mut l = Ledger::new();
    l.add(account(30, cny(), NormalSide::Debit, BalanceLimit::Floor(20)));
    l.ok(post(1, 30, ALICE, 50)); // debits grow a debit-normal account: never limited
    assert_eq!(l.account(30).balance(), 50);
    l.assert_rejected(post(2, ALICE, 30, 71), TransferError::InsufficientFunds);
    l.ok(hold(3, ALICE, 30, 45, None));
    assert_eq!(l.account(30).available(), 5, "pending credits count against a debit-normal account");
    l.assert_rejected(post(4, BANK, 30, 26), TransferError::InsufficientFunds);
    l.ok(post(5, BANK, 30, 25));
    assert_eq!(l.account(30).available(), -20);
    l.assert_rejected(post(6, BANK, 30, 1), TransferError::InsufficientFunds);
}

#[test]
fn a_floor_does_not_limit_the_side_that_grows_the_balance() {
    let mut l = Ledger::new();
    l.add(account(30, cny(), NormalSide::Debit, BalanceLimit::Floor(0)));
    // Credit-normal Floor(0) wallets take any credit, a debit-normal Floor(0) account any debit.
    l.ok(post(1, 30, ALICE, i64::MAX / 2));
    l.ok(post(2, 30, BOB, i64::MAX / 2));
}

#[test]
fn an_unlimited_account_never_refuses_for_lack_of_funds() {
    let mut l = Ledger::new();
    l.add(account(31, cny(), NormalSide::Credit, BalanceLimit::Unlimited));
    l.add(account(32, cny(), NormalSide::Debit, BalanceLimit::Unlimited));
    l.ok(post(1, 31, ALICE, 1_000));
    l.ok(hold(2, 31, ALICE, 1_000, None));
    assert_eq!((l.account(31).balance(), l.account(31).available()), (-1_000, -2_000));
    l.ok(post(3, 31, 32, 7));
    assert_eq!(l.account(32).balance(), -7);
    l.ok(post(4, BANK, ALICE, i64::MAX - 2_000));
    assert_eq!(l.account(BANK).balance(), i64::MAX - 2_000);
}

#[test]
fn held_money_is_not_available_to_other_transfers() {
    let mut l = Ledger::new();
    l.fund(ALICE, 100);
    l.ok(hold(1, ALICE, BOB, 70, None));
    l.assert_rejected(post(2, ALICE, BOB, 31), TransferError::InsufficientFunds);
    l.assert_rejected(hold(3, ALICE, CAROL, 31, None), TransferError::InsufficientFunds);
    l.ok(post(4, ALICE, CAROL, 30));
    assert_eq!((l.account(ALICE).balance(), l.account(ALICE).available()), (70, 0));
}

#[test]
fn money_held_for_an_account_is_not_yet_available_to_it() {
    let mut l = Ledger::new();
    l.fund(ALICE, 100);
    l.ok(hold(1, ALICE, BOB, 70, None));
    assert_eq!((l.account(BOB).balance(), l.account(BOB).available()), (0, 0));
    l.assert_rejected(post(2, BOB, CAROL, 1), TransferError::InsufficientFunds);
}

// ---------------------------------------------------------------------------------------------------
// Overflow.

#[test]
fn a_transfer_that_would_overflow_a_posted_counter_is_rejected() {
    let mut l = Ledger::new();
    l.account_mut(BANK).counters = counters(0, i64::MAX - 10, 0, 0);
    l.account_mut(CAROL).counters = counters(0, 0, 0, i64::MAX - 10);
    l.assert_rejected(post(1, BANK, ALICE, 11), TransferError::Overflow);
    l.add(account(31, cny(), NormalSide::Debit, BalanceLimit::Unlimited));
    l.assert_rejected(post(3, 31, CAROL, 11), TransferError::Overflow);
    l.ok(post(4, BANK, ALICE, 10));
    assert_eq!(l.counters(BANK).debits_posted, i64::MAX);
    l.ok(post(5, 31, CAROL, 10));
    assert_eq!(l.counters(CAROL).credits_posted, i64::MAX);
    l.assert_rejected(post(6, BANK, BOB, 1), TransferError::Overflow);
}

#[test]
fn a_hold_that_would_overflow_pending_plus_posted_is_rejected() {
    // Pending and posted must add up without overflow, so balances never overflow downstream.
    let mut l = Ledger::new();
    l.account_mut(BANK).counters = counters(0, i64::MAX - 10, 0, 0);
    l.account_mut(CAROL).counters = counters(0, 0, 0, i64::MAX - 10);
    l.add(account(31, cny(), NormalSide::Debit, BalanceLimit::Unlimited));
    l.assert_rejected(hold(1, BANK, ALICE, 11, None), TransferError::Overflow);
    l.assert_rejected(hold(2, 31, CAROL, 11, None), TransferError::Overflow);
    l.ok(hold(3, BANK, ALICE, 6, None));
    l.assert_rejected(hold(4, BANK, ALICE, 5, None), TransferError::Overflow);
    l.assert_rejected(post(5, BANK, ALICE, 5), TransferError::Overflow);
    l.ok(hold(6, BANK, ALICE, 4, None));
    assert_eq!(l.counters(BANK), counters(10, i64::MAX - 10, 0, 0));
    // Posting a hold moves counters without growing their total: it never overflows.
    l.ok(post_pending(7, 3, None));
    l.ok(post_pending(8, 6, Some(1)));
    assert_eq!(l.counters(BANK), counters(0, i64::MAX - 3, 0, 0));
}

// ---------------------------------------------------------------------------------------------------
// Holds.

#[test]
fn a_hold_moves_pending_counters_and_reduces_available() {
    let mut l = Ledger::new();
    l.fund(ALICE, 100);
    let t = l.ok(hold(1, ALICE, BOB, 30, Some(60)));
    assert_eq!((t.kind, t.amount, t.timeout_s), (TransferKind::Pending, 30, 60));
    assert_eq!(l.counters(ALICE), counters(30, 0, 0, 100));
    assert_eq!(l.counters(BOB), counters(0, 0, 30, 0));
    assert_eq!((t.debit_account_after, t.credit_account_after), (l.counters(ALICE), l.counters(BOB)));
    assert_eq!((l.account(ALICE).balance(), l.account(ALICE).available()), (100, 70));
    assert_eq!(
        l.pending(1),
        Some(&PendingRecord {
            id: tr(1),
            debit_account_id: acc(ALICE),
            credit_account_id: acc(BOB),
            amount: 30,
            status: PendingStatus::Pending,
            expires_at: Some(t.timestamp.add_seconds(60).unwrap()),
            is_new: false,
        })
    );
}

#[test]
fn a_hold_without_a_timeout_never_expires() {
    let mut l = Ledger::new();
    l.fund(ALICE, 100);
    let t = l.ok(hold(1, ALICE, BOB, 30, None));
    assert_eq!(t.timeout_s, 0);
    assert_eq!(l.pending(1).unwrap().expires_at, None);
    l.now = at(10 * 365 * 24 * 3600);
    l.assert_rejected(expire(2, 1), TransferError::PendingNotFound);
    l.ok(post_pending(3, 1, None));
}

#[test]
fn posting_a_hold_in_full_moves_the_amount_from_pending_to_posted() {
    let mut l = Ledger::new();
    l.fund(ALICE, 100);
    l.ok(hold(1, ALICE, BOB, 30, Some(60)));
    let t = l.ok(post_pending(2, 1, None));
    assert_eq!((t.kind, t.amount, t.requested_amount, t.pending_id), (TransferKind::PostPending, 30, 0, Some(tr(1))));
    assert_eq!((t.debit_account_id, t.credit_account_id), (acc(ALICE), acc(BOB)));
    assert_eq!(l.counters(ALICE), counters(0, 30, 0, 100));
    assert_eq!(l.counters(BOB), counters(0, 0, 0, 30));
    assert_eq!((t.debit_account_after, t.credit_account_after), (l.counters(ALICE), l.counters(BOB)));
    assert_eq!(l.pending(1).unwrap().status, PendingStatus::Posted);
}

#[test]
fn posting_a_hold_for_exactly_its_amount_posts_it_all() {
    let mut l = Ledger::new();
    l.fund(ALICE, 100);
    l.ok(hold(1, ALICE, BOB, 30, None));
    let t = l.ok(post_pending(2, 1, Some(30)));
    assert_eq!((t.amount, t.requested_amount), (30, 30));
    assert_eq!(l.counters(ALICE), counters(0, 30, 0, 100));
}

#[test]
fn posting_part_of_a_hold_releases_the_rest() {
    let mut l = Ledger::new();
    l.fund(ALICE, 100);
    l.ok(hold(1, ALICE, BOB, 30, Some(60)));
    let t = l.ok(post_pending(2, 1, Some(12)));
    assert_eq!((t.amount, t.requested_amount), (12, 12));
    assert_eq!(l.counters(ALICE), counters(0, 12, 0, 100));
    assert_eq!(l.counters(BOB), counters(0, 0, 0, 12));
    assert_eq!(l.account(ALICE).available(), 88);
    assert_eq!(l.pending(1).unwrap().status, PendingStatus::Posted);
    l.assert_rejected(post_pending(3, 1, Some(18)), TransferError::PendingAlreadyPosted);
}

#[test]
fn posting_more_than_was_held_is_rejected() {
    let mut l = Ledger::new();
    l.fund(ALICE, 100);
    l.ok(hold(1, ALICE, BOB, 30, None));
    l.assert_rejected(post_pending(2, 1, Some(31)), TransferError::AmountExceedsPending);
    assert_eq!(l.pending(1).unwrap().status, PendingStatus::Pending);
    l.ok(post_pending(3, 1, Some(30)));
}

#[test]
fn voiding_a_hold_releases_it() {
    let mut l = Ledger::new();
    l.fund(ALICE, 100);
    l.ok(hold(1, ALICE, BOB, 30, Some(60)));
    let t = l.ok(void(2, 1));
    assert_eq!((t.kind, t.amount, t.requested_amount, t.pending_id), (TransferKind::VoidPending, 30, 0, Some(tr(1))));
    assert_eq!(l.counters(ALICE), counters(0, 0, 0, 100));
    assert_eq!(l.counters(BOB), counters(0, 0, 0, 0));
    assert_eq!((t.debit_account_after, t.credit_account_after), (l.counters(ALICE), l.counters(BOB)));
    assert_eq!(l.pending(1).unwrap().status, PendingStatus::Voided);
    assert_eq!(l.account(ALICE).available(), 100);
}

#[test]
fn resolving_an_unknown_hold_is_rejected() {
    let mut l = Ledger::new();
    l.fund(ALICE, 100);
    l.ok(post(1, ALICE, BOB, 10));
    for pending in [77, 1] {
        // 1 is a posted transfer, not a hold.
        l.assert_rejected(post_pending(2, pending, None), TransferError::PendingNotFound);
        l.assert_rejected(post_pending(3, pending, Some(1)), TransferError::PendingNotFound);
        l.assert_rejected(void(4, pending), TransferError::PendingNotFound);
        l.assert_rejected(expire(5, pending), TransferError::PendingNotFound);
    }
}

#[test]
fn a_posted_hold_cannot_be_resolved_again() {
    let mut l = Ledger::new();
    l.fund(ALICE, 100);
    l.ok(hold(1, ALICE, BOB, 30, Some(1)));
    l.ok(post_pending(2, 1, None));
    l.assert_rejected(post_pending(3, 1, None), TransferError::PendingAlreadyPosted);
    l.assert_rejected(post_pending(4, 1, Some(5)), TransferError::PendingAlreadyPosted);
    l.assert_rejected(void(5, 1), TransferError::PendingAlreadyPosted);
    l.now = at(3600);
    l.assert_rejected(expire(6, 1), TransferError::PendingAlreadyPosted);
    l.assert_rejected(void(7, 1), TransferError::PendingAlreadyPosted);
}

#[test]
fn a_voided_hold_cannot_be_resolved_again() {
    let mut l = Ledger::new();
    l.fund(ALICE, 100);
    l.ok(hold(1, ALICE, BOB, 30, Some(1)));
    l.ok(void(2, 1));
    l.assert_rejected(post_pending(3, 1, None), TransferError::PendingAlreadyVoided);
    l.assert_rejected(void(4, 1), TransferError::PendingAlreadyVoided);
    l.now = at(3600);
    l.assert_rejected(expire(5, 1), TransferError::PendingAlreadyVoided);
    l.assert_rejected(post_pending(6, 1, Some(1)), TransferError::PendingAlreadyVoided);
}

#[test]
fn a_hold_can_be_posted_until_just_before_its_timeout() {
    let mut l = Ledger::new();
    l.fund(ALICE, 100);
    let t = l.ok(hold(1, ALICE, BOB, 30, Some(60)));
    let expires_at = t.timestamp.add_seconds(60).unwrap();
    // The post would be timestamped now + 1 ns: the last instant before the expiry.
    l.now = Timestamp(expires_at.nanos() - 2);
    let t = l.ok(post_pending(2, 1, None));
    assert_eq!(t.timestamp.nanos(), expires_at.nanos() - 1);
}

#[test]
fn a_hold_cannot_be_posted_or_voided_once_its_timeout_has_passed() {
    let mut l = Ledger::new();
    l.fund(ALICE, 100);
    let t = l.ok(hold(1, ALICE, BOB, 30, Some(60)));
    let expires_at = t.timestamp.add_seconds(60).unwrap();
    // Timestamped exactly at the expiry: too late.
    l.now = Timestamp(expires_at.nanos() - 1);
    l.assert_rejected(post_pending(2, 1, None), TransferError::PendingExpired);
    l.assert_rejected(post_pending(3, 1, Some(1)), TransferError::PendingExpired);
    l.assert_rejected(void(4, 1), TransferError::PendingExpired);
    l.now = at(3600);
    l.assert_rejected(void(5, 1), TransferError::PendingExpired);
    assert_eq!(l.account(ALICE).available(), 70, "held until the expiry job releases it");
}

#[test]
fn the_expiry_job_releases_a_due_hold_and_it_cannot_be_resolved_afterwards() {
    let mut l = Ledger::new();
    l.fund(ALICE, 100);
    let held = l.ok(hold(1, ALICE, BOB, 30, Some(60)));
    l.now = held.timestamp.add_seconds(60).unwrap();
    let t = l.ok(expire(2, 1));
    assert_eq!((t.kind, t.amount, t.pending_id), (TransferKind::ExpirePending, 30, Some(tr(1))));
    assert_eq!(l.counters(ALICE), counters(0, 0, 0, 100));
    assert_eq!(l.counters(BOB), counters(0, 0, 0, 0));
    assert_eq!(l.pending(1).unwrap().status, PendingStatus::Expired);
    l.assert_rejected(post_pending(3, 1, None), TransferError::PendingExpired);
    l.assert_rejected(void(4, 1), TransferError::PendingExpired);
    l.assert_rejected(expire(5, 1), TransferError::PendingExpired);
}

#[test]
fn expiring_a_hold_before_it_is_due_is_refused() {
    let mut l = Ledger::new();
    l.fund(ALICE, 100);
    let held = l.ok(hold(1, ALICE, BOB, 30, Some(60)));
    l.now = Timestamp(held.timestamp.add_seconds(60).unwrap().nanos() - 2);
    l.assert_rejected(expire(2, 1), TransferError::PendingNotFound);
    assert_eq!(l.pending(1).unwrap().status, PendingStatus::Pending);
}

#[test]
fn a_hold_expires_by_the_timestamp_its_resolution_would_get_not_by_the_writers_clock() {
    // Another writer, with a clock ahead, touched the account after the expiry: a post now would be
    // timestamped after the expiry, so it is too late even though this writer's clock is earlier.
    let mut l = Ledger::new();
    l.fund(ALICE, 100);
    let held = l.ok(hold(1, ALICE, BOB, 30, Some(60)));
    l.account_mut(BOB).last_transfer_at = held.timestamp.add_seconds(61).unwrap();
    l.assert_rejected(post_pending(2, 1, None), TransferError::PendingExpired);
    l.ok(expire(3, 1));
}

#[test]
fn a_hold_cannot_be_posted_while_its_debit_account_has_debits_blocked_but_can_be_voided() {
    let mut l = Ledger::new();
    l.fund(ALICE, 100);
    l.ok(hold(1, ALICE, BOB, 30, None));
    l.account_mut(ALICE).flags.debits_blocked = true;
    l.assert_rejected(post_pending(2, 1, None), TransferError::DebitsBlocked);
    l.assert_rejected(post_pending(3, 1, Some(1)), TransferError::DebitsBlocked);
    l.ok(void(4, 1));
    assert_eq!(l.counters(ALICE), counters(0, 0, 0, 100));
}

#[test]
fn a_hold_cannot_be_posted_while_its_credit_account_has_credits_blocked_but_can_expire() {
    let mut l = Ledger::new();
    l.fund(ALICE, 100);
    let held = l.ok(hold(1, ALICE, BOB, 30, Some(5)));
    l.account_mut(BOB).flags.credits_blocked = true;
    l.assert_rejected(post_pending(2, 1, None), TransferError::CreditsBlocked);
    l.now = held.timestamp.add_seconds(5).unwrap();
    l.ok(expire(3, 1));
    assert_eq!(l.counters(BOB), counters(0, 0, 0, 0));
}

// ---------------------------------------------------------------------------------------------------
// Balancing debits.

#[test]
fn a_balancing_debit_moves_at_most_the_available_amount() {
    let mut l = Ledger::new();
    l.fund(ALICE, 70);
    let t = l.ok(balancing(post(1, ALICE, BOB, 100)));
    assert_eq!((t.amount, t.requested_amount, t.balancing), (70, 100, true));
    assert_eq!((l.account(ALICE).balance(), l.account(BOB).balance()), (0, 70));
}

#[test]
fn a_balancing_debit_moves_the_full_amount_when_it_is_available() {
    let mut l = Ledger::new();
    l.fund(ALICE, 170);
    let t = l.ok(balancing(post(1, ALICE, BOB, 100)));
    assert_eq!((t.amount, t.requested_amount), (100, 100));
    assert_eq!(l.account(ALICE).balance(), 70);
}

#[test]
fn a_balancing_debit_with_nothing_available_is_rejected_as_insufficient_funds() {
    let mut l = Ledger::new();
    l.assert_rejected(balancing(post(1, ALICE, BOB, 100)), TransferError::InsufficientFunds);
    l.fund(ALICE, 40);
    l.ok(hold(2, ALICE, CAROL, 40, None));
    l.assert_rejected(balancing(post(3, ALICE, BOB, 100)), TransferError::InsufficientFunds);
    l.assert_rejected(balancing(hold(4, ALICE, BOB, 100, None)), TransferError::InsufficientFunds);
}

#[test]
fn a_balancing_debit_leaves_held_money_alone() {
    let mut l = Ledger::new();
    l.fund(ALICE, 100);
    l.ok(hold(1, ALICE, CAROL, 35, None));
    let t = l.ok(balancing(post(2, ALICE, BOB, 100)));
    assert_eq!(t.amount, 65);
    l.ok(post_pending(3, 1, None));
    assert_eq!(l.account(ALICE).balance(), 0);
}

#[test]
fn a_balancing_hold_holds_at_most_the_available_amount() {
    let mut l = Ledger::new();
    l.fund(ALICE, 70);
    let t = l.ok(balancing(hold(1, ALICE, BOB, 100, Some(60))));
    assert_eq!((t.kind, t.amount, t.requested_amount), (TransferKind::Pending, 70, 100));
    assert_eq!(l.pending(1).unwrap().amount, 70);
    l.assert_rejected(post_pending(2, 1, Some(71)), TransferError::AmountExceedsPending);
    l.ok(post_pending(3, 1, None));
    assert_eq!(l.account(BOB).balance(), 70);
}

#[test]
fn a_balancing_debit_from_a_debit_normal_account_moves_the_full_amount() {
    let mut l = Ledger::new();
    let t = l.ok(balancing(post(1, BANK, ALICE, 100)));
    assert_eq!(t.amount, 100);
}

#[test]
fn a_balancing_debit_from_an_unlimited_wallet_account_moves_at_most_its_balance() {
    let mut l = Ledger::new();
    l.add(account(31, cny(), NormalSide::Credit, BalanceLimit::Unlimited));
    l.ok(post(1, BANK, 31, 40));
    let t = l.ok(balancing(post(2, 31, ALICE, 100)));
    assert_eq!(t.amount, 40);
}

#[test]
fn a_balancing_debit_never_draws_on_the_overdraft() {
    let mut l = Ledger::new();
    l.account_mut(ALICE).limit = BalanceLimit::Floor(50);
    l.fund(ALICE, 30);
    let t = l.ok(balancing(post(1, ALICE, BOB, 100)));
    assert_eq!(t.amount, 30);
    assert_eq!(l.account(ALICE).balance(), 0);
    l.assert_rejected(balancing(post(2, ALICE, BOB, 100)), TransferError::InsufficientFunds);
}

#[test]
fn a_balancing_debit_is_still_refused_by_a_limited_credit_account() {
    let mut l = Ledger::new();
    l.add(account(30, cny(), NormalSide::Debit, BalanceLimit::Floor(0)));
    l.fund(ALICE, 100);
    l.assert_rejected(balancing(post(1, ALICE, 30, 10)), TransferError::InsufficientFunds);
}

// ---------------------------------------------------------------------------------------------------
// Linked chains.

#[test]
fn linked_transfers_succeed_together() {
    let mut l = Ledger::new();
    l.fund(ALICE, 100);
    let outcome = l.apply(&[
        linked(post(1, ALICE, BOB, 30)),
        linked(hold(2, ALICE, CAROL, 20, Some(60))),
        post(3, ALICE, BOB, 50),
    ]);
    assert!(outcome.results.iter().all(Result::is_ok), "{:?}", outcome.results);
    assert!(outcome.results.iter().take(2).all(|r| r.as_ref().unwrap().linked));
    assert_eq!(outcome.inserted.len(), 3);
    assert_eq!(l.counters(ALICE), counters(20, 80, 0, 100));
    assert_eq!(l.account(ALICE).available(), 0);
}

#[test]
fn when_one_linked_transfer_fails_nothing_of_the_chain_applies() {
    let mut l = Ledger::new();
    l.fund(ALICE, 100);
    l.fund(BOB, 10);
    let before = l.snapshot();
    let outcome = l.apply(&[
        linked(post(1, ALICE, BOB, 30)),
        linked(hold(2, ALICE, BOB, 20, Some(60))),
        linked(post(3, ALICE, CAROL, 80)), // 100 - 30 - 20 < 80
        post(4, BOB, CAROL, 5),
        post(5, BANK, CAROL, 7),
    ]);
    use TransferError::*;
    let errors: Vec<_> = outcome.results.iter().map(|r| r.as_ref().err().copied()).collect();
    assert_eq!(
        errors,
        [Some(LinkedEventFailed), Some(LinkedEventFailed), Some(InsufficientFunds), Some(LinkedEventFailed), None]
    );
    for id in [1, 2, 3, 4] {
        assert!(!l.state.transfers.contains_key(&tr(id)), "transfer {id} was not rolled back");
    }
    assert_eq!(l.pending(2), None, "the chain's hold was not rolled back");
    assert!(outcome.pendings.is_empty());
    assert_eq!(outcome.inserted.iter().map(|t| t.id).collect::<Vec<_>>(), [tr(5)]);
    for id in [ALICE, BOB] {
        let was = before.accounts.iter().find(|a| a.id == acc(id)).unwrap();
        assert_eq!(l.account(id), was, "counters and last transfer time are restored");
    }
    assert_eq!(l.counters(CAROL), counters(0, 0, 0, 7), "the request after the chain applies");
    for a in &outcome.accounts {
        assert_eq!(a, l.account(a.id.as_u128()), "the outcome carries the final account");
    }
}

#[test]
fn when_the_first_linked_transfer_fails_the_others_are_not_applied() {
    let mut l = Ledger::new();
    l.fund(ALICE, 100);
    let before = l.snapshot();
    let outcome =
        l.apply(&[linked(post(1, NOBODY, BOB, 30)), linked(post(2, ALICE, BOB, 10)), post(3, ALICE, BOB, 10)]);
    assert_eq!(
        outcome.results,
        vec![
            Err(TransferError::AccountNotFound),
            Err(TransferError::LinkedEventFailed),
            Err(TransferError::LinkedEventFailed)
        ]
    );
    assert!(outcome.inserted.is_empty());
    assert_eq!(l.snapshot(), before);
}

#[test]
fn a_failed_chain_leaves_the_holds_it_resolved_as_they_were() {
    let mut l = Ledger::new();
    l.fund(ALICE, 100);
    l.ok(hold(1, ALICE, BOB, 30, None));
    l.ok(hold(2, ALICE, BOB, 20, None));
    let before = l.snapshot();
    let outcome = l.apply(&[
        linked(post_pending(3, 1, Some(10))),
        linked(void(4, 2)),
        linked(hold(5, ALICE, CAROL, 60, None)),
        linked(post_pending(6, 5, None)),
        post_pending(7, 1, None), // already posted by 3 within the chain
    ]);
    assert_eq!(outcome.results[4], Err(TransferError::PendingAlreadyPosted));
    assert!(outcome.results[..4].iter().all(|r| *r == Err(TransferError::LinkedEventFailed)));
    assert_eq!(l.snapshot(), before);
    assert!(outcome.inserted.is_empty());
    for p in &outcome.pendings {
        assert_eq!(Some(p), l.pending(p.id.as_u128()), "a hold is written back in its final state");
    }
    l.ok(post_pending(8, 1, None));
    l.ok(void(9, 2));
}

#[test]
fn chains_in_one_batch_fail_or_succeed_independently() {
    let mut l = Ledger::new();
    l.fund(ALICE, 100);
    let outcome = l.apply(&[
        linked(post(1, ALICE, BOB, 10)),
        post(2, ALICE, CAROL, 10),
        linked(post(3, ALICE, BOB, 10)),
        post(4, ALICE, DOLLARS, 10),
        post(5, ALICE, BOB, 10),
        linked(post(6, ALICE, CAROL, 10)),
        linked(post(7, ALICE, BOB, 10)),
        post(8, ALICE, CAROL, 10),
    ]);
    use TransferError::*;
    let errors: Vec<_> = outcome.results.iter().map(|r| r.as_ref().err().copied()).collect();
    assert_eq!(errors, [None, None, Some(LinkedEventFailed), Some(CurrencyMismatch), None, None, None, None]);
    assert_eq!(l.account(ALICE).balance(), 40);
}

#[test]
fn a_submission_whose_last_request_is_linked_is_refused_whole() {
    let submission = [post(1, BANK, ALICE, 10), linked(post(2, BANK, ALICE, 10)), linked(post(3, BANK, BOB, 10))];
    assert_eq!(check_submission(&submission), Some(vec![Err(TransferError::LinkedEventChainOpen); 3]));
    assert_eq!(
        check_submission(&[linked(post(1, BANK, ALICE, 10))]),
        Some(vec![Err(TransferError::LinkedEventChainOpen)])
    );
}

#[test]
fn a_submission_whose_chains_are_closed_passes_the_check() {
    assert_eq!(check_submission(&[]), None);
    assert_eq!(check_submission(&[post(1, BANK, ALICE, 10)]), None);
    assert_eq!(check_submission(&[linked(post(1, BANK, ALICE, 10)), post(2, BANK, BOB, 10)]), None);
}

// ---------------------------------------------------------------------------------------------------
// Idempotency.

#[test]
fn resubmitting_an_identical_request_in_the_same_batch_returns_the_first_result() {
    let mut l = Ledger::new();
    l.fund(ALICE, 100);
    let outcome = l.apply(&[
        post(1, ALICE, BOB, 60),
        post(1, ALICE, BOB, 60),
        hold(2, ALICE, BOB, 10, Some(9)),
        hold(2, ALICE, BOB, 10, Some(9)),
    ]);
    assert!(outcome.results.iter().all(Result::is_ok));
    assert_eq!(outcome.results[0], outcome.results[1]);
    assert_eq!(outcome.results[2], outcome.results[3]);
    assert_eq!(outcome.inserted.len(), 2);
    assert_eq!(l.counters(ALICE), counters(10, 60, 0, 100));
}

#[test]
fn resubmitting_an_identical_request_later_returns_the_stored_transfer_and_changes_nothing() {
    let mut l = Ledger::new();
    l.fund(ALICE, 100);
    let requests = [
        post(1, ALICE, BOB, 60),
        hold(2, ALICE, BOB, 30, Some(60)),
        hold(3, ALICE, BOB, 10, None),
        post_pending(4, 2, Some(5)),
        void(5, 3),
    ];
    let first = l.apply(&requests);
    assert!(first.results.iter().all(Result::is_ok), "{:?}", first.results);
    // Later, after more activity, and after hold 2 would have expired: the same answers.
    l.fund(ALICE, 1);
    l.now = at(3600);
    let before = l.snapshot();
    let again = l.apply(&requests);
    assert_eq!(again.results, first.results);
    assert!(again.inserted.is_empty() && again.accounts.is_empty() && again.pendings.is_empty());
    assert_eq!(l.snapshot(), before);
}

#[test]
fn resubmitting_an_expiry_returns_the_first_result() {
    let mut l = Ledger::new();
    l.fund(ALICE, 100);
    let held = l.ok(hold(1, ALICE, BOB, 30, Some(1)));
    l.now = held.timestamp.add_seconds(1).unwrap();
    let first = l.ok(expire(2, 1));
    let before = l.snapshot();
    assert_eq!(l.one(expire(2, 1)), Ok(first));
    assert_eq!(l.snapshot(), before);
}

#[test]
fn a_hold_with_a_zero_timeout_is_the_same_request_as_one_without() {
    let mut l = Ledger::new();
    l.fund(ALICE, 100);
    let first = l.ok(hold(1, ALICE, BOB, 30, Some(0)));
    assert_eq!(l.one(hold(1, ALICE, BOB, 30, None)), Ok(first));
}

#[test]
fn reusing_an_id_with_different_fields_is_rejected() {
    let mut l = Ledger::new();
    l.fund(ALICE, 1000);
    let original = post(1, ALICE, BOB, 60);
    l.ok(original.clone());
    let mut variants: Vec<(&str, TransferRequest)> = vec![
        ("amount", post(1, ALICE, BOB, 61)),
        ("debit account", post(1, CAROL, BOB, 60)),
        ("credit account", post(1, ALICE, CAROL, 60)),
        ("balancing", balancing(post(1, ALICE, BOB, 60))),
        ("kind", hold(1, ALICE, BOB, 60, None)),
        ("kind (void)", void(1, 1)),
    ];
    let mut changed = original.clone();
    changed.code = "refund".into();
    variants.push(("code", changed));
    let mut changed = original.clone();
    changed.reference = Some("another order".into());
    variants.push(("reference", changed));
    let mut changed = original.clone();
    changed.reference = None;
    variants.push(("no reference", changed));
    let mut changed = original.clone();
    changed.metadata = r#"{"a":1}"#.into();
    variants.push(("metadata", changed));
    for (what, variant) in variants {
        let before = l.snapshot();
        let outcome = l.apply(&[variant]);
        assert_eq!(outcome.results, vec![Err(TransferError::ExistsWithDifferentFields)], "different {what}");
        assert!(outcome.inserted.is_empty() && outcome.accounts.is_empty());
        assert_eq!(l.snapshot(), before, "different {what}");
    }
    // Linked differs too; the chain it opens fails as a whole.
    let outcome = l.apply(&[linked(original.clone()), post(2, ALICE, BOB, 1)]);
    assert_eq!(
        outcome.results,
        vec![Err(TransferError::ExistsWithDifferentFields), Err(TransferError::LinkedEventFailed)]
    );
    assert_eq!(l.one(original), Ok(l.state.transfers[&tr(1)].clone()));
}

#[test]
fn reusing_the_id_of_a_hold_or_its_resolution_with_different_fields_is_rejected() {
    let mut l = Ledger::new();
    l.fund(ALICE, 1000);
    l.ok(hold(1, ALICE, BOB, 60, Some(60)));
    l.ok(hold(2, ALICE, BOB, 60, Some(60)));
    l.ok(post_pending(3, 1, Some(20)));
    l.ok(void(4, 2));
    use TransferError::ExistsWithDifferentFields as E;
    l.assert_rejected(hold(1, ALICE, BOB, 60, Some(61)), E);
    l.assert_rejected(hold(1, ALICE, BOB, 60, None), E);
    l.assert_rejected(post(1, ALICE, BOB, 60), E);
    l.assert_rejected(post_pending(3, 1, Some(21)), E);
    l.assert_rejected(post_pending(3, 1, None), E);
    l.assert_rejected(post_pending(3, 2, Some(20)), E);
    l.assert_rejected(void(3, 1), E);
    l.assert_rejected(void(4, 1), E);
    l.assert_rejected(expire(4, 2), E);
    l.assert_rejected(post_pending(4, 2, None), E);
    // An id reused for another request in the same batch.
    let outcome = l.apply(&[post(5, ALICE, BOB, 1), post(5, ALICE, BOB, 2)]);
    assert_eq!(outcome.results[1], Err(E));
    assert_eq!(outcome.inserted.len(), 1);
}

#[test]
fn a_rejected_request_leaves_its_id_free_for_a_retry() {
    // Only applied transfers are stored, so a request refused for lack of funds may succeed later.
    let mut l = Ledger::new();
    l.assert_rejected(post(1, ALICE, BOB, 10), TransferError::InsufficientFunds);
    l.fund(ALICE, 10);
    l.ok(post(1, ALICE, BOB, 10));
}

// ---------------------------------------------------------------------------------------------------
// Timestamps.

#[test]
fn timestamps_strictly_increase_within_a_batch() {
    let mut l = Ledger::new();
    l.fund(ALICE, 100);
    l.now = at(10);
    let outcome = l.apply(&[
        post(1, BANK, BOB, 1),
        post(2, BANK, CAROL, 1),
        post(3, USD_BANK, DOLLARS, 1),
        post(4, NOBODY, BOB, 1),
        hold(5, ALICE, CAROL, 1, None),
        post_pending(6, 5, None),
    ]);
    let stamps: Vec<Timestamp> = outcome.inserted.iter().map(|t| t.timestamp).collect();
    assert_eq!(stamps.len(), 5);
    assert_eq!(stamps[0].nanos(), at(10).nanos() + 1, "the first transfer is timestamped just after now");
    assert!(stamps.windows(2).all(|w| w[0] < w[1]), "{stamps:?}");
    for t in &outcome.inserted {
        assert!(l.account(t.debit_account_id.as_u128()).last_transfer_at >= t.timestamp);
    }
    assert_eq!(l.account(CAROL).last_transfer_at, stamps[4]);
}

#[test]
fn a_transfer_is_timestamped_after_both_accounts_last_transfers_even_if_the_clock_is_behind() {
    let mut l = Ledger::new();
    l.fund(ALICE, 100);
    // Another writer, whose clock runs ahead, touched BOB and CAROL.
    l.account_mut(BOB).last_transfer_at = at(20);
    l.account_mut(CAROL).last_transfer_at = at(30);
    l.now = at(5);
    let outcome = l.apply(&[post(1, ALICE, BOB, 1), post(2, ALICE, CAROL, 1), post(3, USD_BANK, DOLLARS, 1)]);
    let stamps: Vec<i64> = outcome.results.iter().map(|r| r.as_ref().unwrap().timestamp.nanos()).collect();
    assert_eq!(stamps[0], at(20).nanos() + 1, "after BOB's last transfer");
    assert_eq!(stamps[1], at(30).nanos() + 1, "after CAROL's last transfer");
    assert_eq!(stamps[2], at(30).nanos() + 2, "still after the previous transfer of the batch");
    assert_eq!(l.account(ALICE).last_transfer_at.nanos(), stamps[1]);
    assert_eq!(l.account(BOB).last_transfer_at.nanos(), stamps[0]);
    assert_eq!(l.account(DOLLARS).last_transfer_at.nanos(), stamps[2]);
}

#[test]
fn a_hold_expires_its_timeout_after_its_own_timestamp() {
    let mut l = Ledger::new();
    l.fund(ALICE, 100);
    l.account_mut(BOB).last_transfer_at = at(100);
    let t = l.ok(hold(1, ALICE, BOB, 10, Some(7)));
    assert_eq!(t.timestamp.nanos(), at(100).nanos() + 1);
    assert_eq!(l.pending(1).unwrap().expires_at, Some(Timestamp(at(107).nanos() + 1)));
}

// ---------------------------------------------------------------------------------------------------
// What the outcome tells the store to write.

#[test]
fn the_outcome_lists_exactly_the_changed_accounts_in_id_order_with_their_final_counters() {
    let mut l = Ledger::new();
    l.fund(ALICE, 100);
    l.fund(BOB, 100);
    let outcome = l.apply(&[
        post(1, BOB, CAROL, 10),
        post(2, ALICE, BOB, 5),
        post(3, BANK, ALICE, 7),
        post(4, CAROL, DOLLARS, 1), // rejected: DOLLARS is not touched
        post(5, BOB, ALICE, 1_000), // rejected
    ]);
    let ids: Vec<u128> = outcome.accounts.iter().map(|a| a.id.as_u128()).collect();
    assert_eq!(ids, [BANK, ALICE, BOB, CAROL]);
    for a in &outcome.accounts {
        assert_eq!(a, l.account(a.id.as_u128()));
    }
    assert_eq!(outcome.accounts[2].counters, counters(0, 10, 0, 105));
}

#[test]
fn the_outcome_inserts_each_new_transfer_once_in_timestamp_order() {
    let mut l = Ledger::new();
    l.fund(ALICE, 100);
    let outcome = l.apply(&[
        hold(1, ALICE, BOB, 10, None),
        post(2, ALICE, CAROL, 10),
        post(2, ALICE, CAROL, 10),
        post_pending(3, 1, None),
        post(4, ALICE, CAROL, 1_000),
        post(1, ALICE, CAROL, 1),
    ]);
    let ids: Vec<u128> = outcome.inserted.iter().map(|t| t.id.as_u128()).collect();
    assert_eq!(ids, [1, 2, 3]);
    for t in &outcome.inserted {
        assert_eq!(Some(t), outcome.results.iter().flatten().find(|r| r.id == t.id));
    }
}

#[test]
fn the_outcome_lists_new_and_resolved_holds_in_their_final_state() {
    let mut l = Ledger::new();
    l.fund(ALICE, 100);
    l.ok(hold(1, ALICE, BOB, 10, None));
    l.ok(hold(2, ALICE, BOB, 10, None));
    l.ok(hold(3, ALICE, BOB, 10, None));
    let outcome = l.apply(&[
        void(10, 1),
        hold(11, ALICE, CAROL, 20, Some(60)),
        hold(12, ALICE, CAROL, 5, None),
        post_pending(13, 12, Some(4)),
        post_pending(14, 3, None),
        post_pending(15, 2, Some(11)), // rejected: hold 2 is not written
    ]);
    let t11 = outcome.results[1].as_ref().unwrap();
    let summary: Vec<(u128, PendingStatus, bool, i64)> =
        outcome.pendings.iter().map(|p| (p.id.as_u128(), p.status, p.is_new, p.amount)).collect();
    assert_eq!(
        summary,
        [
            (1, PendingStatus::Voided, false, 10),
            (3, PendingStatus::Posted, false, 10),
            (11, PendingStatus::Pending, true, 20),
            (12, PendingStatus::Posted, true, 5),
        ]
    );
    assert_eq!(outcome.pendings[2].expires_at, t11.timestamp.add_seconds(60));
    assert_eq!(outcome.pendings[2].debit_account_id, acc(ALICE));
    assert_eq!(outcome.pendings[2].credit_account_id, acc(CAROL));
}

#[test]
fn batch_needs_name_every_id_and_each_account_and_hold_once() {
    let requests = [
        post(1, BOB, ALICE, 1),
        hold(2, ALICE, CAROL, 1, None),
        post_pending(3, 2, None),
        void(4, 7),
        expire(5, 7),
        post(1, BOB, ALICE, 1),
    ];
    let needs = BatchNeeds::of(&requests);
    assert_eq!(needs.transfer_ids, [tr(1), tr(2), tr(3), tr(4), tr(5), tr(1)]);
    assert_eq!(needs.account_ids, [acc(ALICE), acc(BOB), acc(CAROL)]);
    assert_eq!(needs.pending_ids, [tr(2), tr(7)]);
}

// ---------------------------------------------------------------------------------------------------
// Accounts.

#[test]
fn an_account_can_be_closed_only_at_zero_balance_with_nothing_pending() {
    let mut l = Ledger::new();
    assert_eq!(l.account(ALICE).check_can_close(), Ok(()));
    l.fund(ALICE, 100);
    assert_eq!(l.account(ALICE).check_can_close(), Err(AccountCloseError::NotEmpty));
    l.ok(hold(1, ALICE, BOB, 100, None));
    assert_eq!(l.account(ALICE).check_can_close(), Err(AccountCloseError::HasPending));
    assert_eq!(l.account(BOB).check_can_close(), Err(AccountCloseError::HasPending), "pending credits count");
    l.ok(post_pending(2, 1, None));
    assert_eq!(l.account(ALICE).balance(), 0);
    assert_eq!(l.account(ALICE).check_can_close(), Ok(()), "zero balance, whatever the history");
    assert_eq!(l.account(BOB).check_can_close(), Err(AccountCloseError::NotEmpty));
    l.add(account(31, cny(), NormalSide::Credit, BalanceLimit::Floor(10)));
    l.ok(post(3, 31, BOB, 10));
    assert_eq!(l.account(31).check_can_close(), Err(AccountCloseError::NotEmpty), "an overdrawn account is not empty");
    l.account_mut(CAROL).flags.closed = true;
    assert_eq!(l.account(CAROL).check_can_close(), Err(AccountCloseError::AlreadyClosed));
    assert_eq!(
        [AccountCloseError::AlreadyClosed, AccountCloseError::HasPending, AccountCloseError::NotEmpty]
            .map(|e| e.code()),
        ["account_closed", "account_has_pending", "account_not_empty"]
    );
}

#[test]
fn the_debit_headroom_of_a_limited_credit_normal_account_is_its_available_balance_plus_its_overdraft() {
    let mut a = account(1, cny(), NormalSide::Credit, BalanceLimit::Floor(50));
    a.counters = counters(20, 30, 0, 100);
    assert_eq!(a.debit_headroom(), Some(100));
    assert_eq!(a.credit_headroom(), None, "credits grow a credit-normal account");
    a.limit = BalanceLimit::Floor(0);
    assert_eq!(a.debit_headroom(), Some(50));
    a.counters = counters(0, 130, 0, 100);
    assert_eq!(a.debit_headroom(), Some(0), "never negative");
    a.limit = BalanceLimit::Unlimited;
    assert_eq!(a.debit_headroom(), None);
    a.normal_side = NormalSide::Debit;
    a.limit = BalanceLimit::Floor(50);
    assert_eq!(a.debit_headroom(), None, "debits grow a debit-normal account");
}

#[test]
fn the_credit_headroom_of_a_limited_debit_normal_account_is_its_available_balance_plus_its_overdraft() {
    let mut a = account(1, cny(), NormalSide::Debit, BalanceLimit::Floor(5));
    a.counters = counters(7, 100, 20, 30);
    assert_eq!(a.credit_headroom(), Some(55), "pending credits are not available, pending debits not yet");
    a.counters = counters(0, 0, 0, 5);
    assert_eq!(a.credit_headroom(), Some(0));
    a.counters = counters(0, 0, 0, 50);
    assert_eq!(a.credit_headroom(), Some(0), "never negative");
    a.limit = BalanceLimit::Unlimited;
    assert_eq!(a.credit_headroom(), None);
    a.counters = counters(0, i64::MAX, 0, 0);
    a.limit = BalanceLimit::Floor(i64::MAX);
    assert_eq!(a.credit_headroom(), Some(i64::MAX), "saturates rather than overflows");
}

#[test]
fn error_codes_are_distinct_snake_case() {
    let codes: std::collections::HashSet<&str> = TransferError::ALL.iter().map(|e| e.code()).collect();
    assert_eq!(codes.len(), TransferError::ALL.len());
    for code in codes {
        assert!(code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{code}");
    }
}
