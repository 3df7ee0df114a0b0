//! Ledger accounts and transfers as the store's and the ledger's tests write them: CNY, ids either
//! numbered by the test or fresh (the current millisecond and a counter, distinct within the process).

use std::sync::atomic::{AtomicU64, Ordering};

use sanhu_core::ledger::{Account, AccountFlags, BalanceLimit, Counters, NormalSide, TransferAction, TransferRequest};
use sanhu_core::{AccountId, Timestamp, TransferId};

use crate::money::{amount, cny};

/// Now, from the system clock.
pub fn now() -> Timestamp {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970");
    Timestamp(since.as_nanos() as i64)
}

/// Distinct ids within the process: the current millisecond and a counter.
fn next_raw() -> (u64, u128) {
    static COUNTER: AtomicU64 = AtomicU64::new(1);
    ((now().nanos() / 1_000_000) as u64, COUNTER.fetch_add(1, Ordering::Relaxed) as u128)
}

pub fn new_account_id() -> AccountId {
    let (ms, n) = next_raw();
    AccountId::generate(ms, n)
}

pub fn new_transfer_id() -> TransferId {
    let (ms, n) = next_raw();
    TransferId::generate(ms, n)
}

/// An empty CNY account numbered `n`, with no code, created at the first instant.
pub fn account(n: u128, side: NormalSide, limit: BalanceLimit) -> Account {
    Account {
        id: AccountId::from_u128(n).expect("an account id"),
        currency: cny(),
        normal_side: side,
        limit,
        flags: AccountFlags::default(),
        counters: Counters::default(),
        code: String::new(),
        metadata: "{}".into(),
        created_at: Timestamp(1),
        last_transfer_at: Timestamp(0),
    }
}

/// A new, empty CNY account with a fresh id and `code`, created now.
pub fn new_account(side: NormalSide, limit: BalanceLimit, code: &str) -> Account {
    Account { id: new_account_id(), code: code.to_owned(), created_at: now(), ..account(1, side, limit) }
}

/// A transfer request of `action`, unlinked, with `code`, no reference and empty metadata.
pub fn request(id: TransferId, action: TransferAction, code: &str) -> TransferRequest {
    TransferRequest { id, action, linked: false, code: code.to_owned(), reference: None, metadata: "{}".into() }
}

/// Posting `amount` from `debit` to `credit` at once.
pub fn post_action(debit: AccountId, credit: AccountId, minor: i64) -> TransferAction {
    TransferAction::Post { debit_account_id: debit, credit_account_id: credit, amount: amount(minor), balancing: false }
}

/// A transfer `id` posting `amount` from `debit` to `credit`, coded `test`.
pub fn post(id: TransferId, debit: AccountId, credit: AccountId, minor: i64) -> TransferRequest {
    request(id, post_action(debit, credit, minor), "test")
}

/// A new platform account that funds others: debit-normal, unlimited.
pub fn new_platform(code: &str) -> Account {
    new_account(NormalSide::Debit, BalanceLimit::Unlimited, code)
}

/// A new member's wallet account: credit-normal, no overdraft.
pub fn new_wallet(code: &str) -> Account {
    new_account(NormalSide::Credit, BalanceLimit::Floor(0), code)
}
