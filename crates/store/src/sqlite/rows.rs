//! Conversions between SQLite rows and the ledger's types.

use rusqlite::{Row, Statement};
use sanhu_core::id::{Id128, IdKind};
use sanhu_core::ledger::{Account, AccountFlags, BalanceLimit, Counters, NormalSide, Transfer, TransferKind};
use sanhu_core::{Currency, Timestamp};

/// An account's columns as `account_from_row` reads them, from `ACCOUNTS` (an account joined with its
/// balances).
pub const ACCOUNT_COLUMNS: &str = "a.id, a.currency, a.normal_side, a.overdraft, a.flags, b.debits_pending, \
     b.debits_posted, b.credits_pending, b.credits_posted, a.code, a.metadata, a.created_at, b.last_transfer_at";
pub const ACCOUNT_COLUMN_COUNT: usize = 13;
pub const ACCOUNTS: &str = "ledger_accounts a JOIN ledger_balances b ON b.account_number = a.number";

pub const TRANSFER_COLUMNS: &str = "id, kind, debit_account_id, credit_account_id, amount, pending_id, timeout_s, \
     flags, requested_amount, code, reference, metadata, timestamp, \
     dr_debits_pending, dr_debits_posted, dr_credits_pending, dr_credits_posted, \
     cr_debits_pending, cr_debits_posted, cr_credits_pending, cr_credits_posted";
pub const TRANSFER_COLUMN_COUNT: usize = 21;

const TRANSFER_LINKED: i64 = 1;
const TRANSFER_BALANCING: i64 = 2;

pub fn corrupt(column: usize, what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        column,
        rusqlite::types::Type::Integer,
        format!("stored {what} is not one sanhu writes").into(),
    )
}

pub fn id_from_row<K: IdKind>(row: &Row, column: usize) -> rusqlite::Result<Id128<K>> {
    Id128::from_be_bytes(row.get::<_, [u8; 16]>(column)?).ok_or_else(|| corrupt(column, "id"))
}

pub fn account_from_row(r: &Row) -> rusqlite::Result<Account> {
    let currency: String = r.get(1)?;
    Ok(Account {
        id: id_from_row(r, 0)?,
        currency: Currency::parse(&currency).ok_or_else(|| corrupt(1, "currency"))?,
        normal_side: if r.get::<_, i64>(2)? == 0 { NormalSide::Debit } else { NormalSide::Credit },
        limit: BalanceLimit::from_overdraft(r.get(3)?),
        flags: AccountFlags::from_bits(r.get(4)?),
        counters: Counters {
            debits_pending: r.get(5)?,
            debits_posted: r.get(6)?,
            credits_pending: r.get(7)?,
            credits_posted: r.get(8)?,
        },
        code: r.get(9)?,
        metadata: r.get(10)?,
        created_at: Timestamp::from_nanos(r.get(11)?),
        last_transfer_at: Timestamp::from_nanos(r.get(12)?),
    })
}

/// Binds an account's `ledger_accounts` row (number, id, currency, normal_side, overdraft, flags, code,
/// metadata, created_at) from parameter `at` on.
pub fn bind_account(s: &mut Statement, at: usize, number: i64, a: &Account) -> rusqlite::Result<()> {
    s.raw_bind_parameter(at, number)?;
    s.raw_bind_parameter(at + 1, &a.id.to_be_bytes()[..])?;
    s.raw_bind_parameter(at + 2, a.currency.code())?;
    s.raw_bind_parameter(at + 3, if a.normal_side == NormalSide::Debit { 0 } else { 1 })?;
    s.raw_bind_parameter(at + 4, a.limit.overdraft())?;
    s.raw_bind_parameter(at + 5, a.flags.bits())?;
    s.raw_bind_parameter(at + 6, &a.code)?;
    s.raw_bind_parameter(at + 7, &a.metadata)?;
    s.raw_bind_parameter(at + 8, a.created_at.nanos())
}

/// Binds an account's `ledger_balances` row from parameter `at` on.
pub fn bind_balances(
    s: &mut Statement,
    at: usize,
    number: i64,
    a: &Account,
    chain: super::ledger::Chain,
) -> rusqlite::Result<()> {
    s.raw_bind_parameter(at, number)?;
    s.raw_bind_parameter(at + 1, a.counters.debits_pending)?;
    s.raw_bind_parameter(at + 2, a.counters.debits_posted)?;
    s.raw_bind_parameter(at + 3, a.counters.credits_pending)?;
    s.raw_bind_parameter(at + 4, a.counters.credits_posted)?;
    s.raw_bind_parameter(at + 5, a.last_transfer_at.nanos())?;
    s.raw_bind_parameter(at + 6, chain.last_seq)?;
    s.raw_bind_parameter(at + 7, chain.entry_count)
}

pub fn transfer_from_row(r: &Row) -> rusqlite::Result<Transfer> {
    let flags: i64 = r.get(7)?;
    let counters = |first: usize| -> rusqlite::Result<Counters> {
        Ok(Counters {
            debits_pending: r.get(first)?,
            debits_posted: r.get(first + 1)?,
            credits_pending: r.get(first + 2)?,
            credits_posted: r.get(first + 3)?,
        })
    };
    Ok(Transfer {
        id: id_from_row(r, 0)?,
        kind: TransferKind::from_i16(r.get(1)?).ok_or_else(|| corrupt(1, "transfer kind"))?,
        debit_account_id: id_from_row(r, 2)?,
        credit_account_id: id_from_row(r, 3)?,
        amount: r.get(4)?,
        pending_id: match r.get::<_, Option<[u8; 16]>>(5)? {
            Some(bytes) => Some(Id128::from_be_bytes(bytes).ok_or_else(|| corrupt(5, "pending id"))?),
            None => None,
        },
        timeout_s: r.get(6)?,
        linked: flags & TRANSFER_LINKED != 0,
        balancing: flags & TRANSFER_BALANCING != 0,
        requested_amount: r.get(8)?,
        code: r.get(9)?,
        reference: r.get(10)?,
        metadata: r.get(11)?,
        timestamp: Timestamp::from_nanos(r.get(12)?),
        debit_account_after: counters(13)?,
        credit_account_after: counters(17)?,
    })
}

/// Binds a transfer's columns, in `TRANSFER_COLUMNS` order, from parameter `at` on.
pub fn bind_transfer(s: &mut Statement, at: usize, t: &Transfer) -> rusqlite::Result<()> {
    let flags = (t.linked as i64 * TRANSFER_LINKED) | (t.balancing as i64 * TRANSFER_BALANCING);
    let pending_id = t.pending_id.map(|p| p.to_be_bytes());
    s.raw_bind_parameter(at, &t.id.to_be_bytes()[..])?;
    s.raw_bind_parameter(at + 1, t.kind.as_i16())?;
    s.raw_bind_parameter(at + 2, &t.debit_account_id.to_be_bytes()[..])?;
    s.raw_bind_parameter(at + 3, &t.credit_account_id.to_be_bytes()[..])?;
    s.raw_bind_parameter(at + 4, t.amount)?;
    s.raw_bind_parameter(at + 5, pending_id.as_ref().map(|p| &p[..]))?;
    s.raw_bind_parameter(at + 6, t.timeout_s)?;
    s.raw_bind_parameter(at + 7, flags)?;
    s.raw_bind_parameter(at + 8, t.requested_amount)?;
    s.raw_bind_parameter(at + 9, &t.code)?;
    s.raw_bind_parameter(at + 10, t.reference.as_deref())?;
    s.raw_bind_parameter(at + 11, &t.metadata)?;
    s.raw_bind_parameter(at + 12, t.timestamp.nanos())?;
    let counters = [t.debit_account_after, t.credit_account_after];
    for (side, c) in counters.iter().enumerate() {
        let first = at + 13 + side * 4;
        s.raw_bind_parameter(first, c.debits_pending)?;
        s.raw_bind_parameter(first + 1, c.debits_posted)?;
        s.raw_bind_parameter(first + 2, c.credits_pending)?;
        s.raw_bind_parameter(first + 3, c.credits_posted)?;
    }
    Ok(())
}
