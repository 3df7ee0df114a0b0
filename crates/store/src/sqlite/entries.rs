//! An account's entries on SQLite: each transfer row links to the previous entry of its debit account
//! and of its credit account; every `ENTRY_CHECKPOINT_INTERVAL`-th entry of an account is also
//! indexed by (account, timestamp). Reads start at the nearest checkpoint and follow the links, so
//! they take at most an interval's steps plus the entries they return, while a write only appends.

use std::collections::HashMap;

use sanhu_core::id_hash::IdMap;

use anyhow::Context;
use rusqlite::{params, Connection, OptionalExtension};
use sanhu_core::ledger::{Counters, Transfer};
use sanhu_core::{AccountId, Timestamp};

use super::rows::{transfer_from_row, TRANSFER_COLUMNS, TRANSFER_COLUMN_COUNT};

/// Every this many entries of an account, one checkpoint row. Larger: fewer index writes; smaller:
/// shorter walks for statements and past balances.
pub const ENTRY_CHECKPOINT_INTERVAL: i64 = 128;

/// Where an account's chain of entries ends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Chain {
    /// seq of the account's latest entry; 0 when it has none.
    pub last_seq: i64,
    pub entry_count: i64,
}

/// A transfer row about to be inserted, with its place in both accounts' chains.
pub struct LinkedRow<'a> {
    pub seq: i64,
    pub transfer: &'a Transfer,
    pub dr_prev_seq: i64,
    pub cr_prev_seq: i64,
}

/// A checkpoint row to insert.
pub struct Checkpoint {
    pub account_id: AccountId,
    pub timestamp: Timestamp,
    pub seq: i64,
}

/// Places a batch's new transfers in their accounts' chains: gives each the next seq, links it to each
/// account's previous entry, advances `chains`, and lists the checkpoints that come due.
pub fn link<'a>(
    transfers: &'a [Transfer],
    first_seq: i64,
    chains: &mut IdMap<AccountId, Chain>,
) -> (Vec<LinkedRow<'a>>, Vec<Checkpoint>) {
    let mut rows = Vec::with_capacity(transfers.len());
    let mut checkpoints = Vec::new();
    for (i, transfer) in transfers.iter().enumerate() {
        let seq = first_seq + i as i64;
        let mut advance = |account_id: AccountId| -> i64 {
            let chain = chains.entry(account_id).or_default();
            let previous = chain.last_seq;
            chain.last_seq = seq;
            chain.entry_count += 1;
            if chain.entry_count % ENTRY_CHECKPOINT_INTERVAL == 0 {
                checkpoints.push(Checkpoint { account_id, timestamp: transfer.timestamp, seq });
            }
            previous
        };
        let dr_prev_seq = advance(transfer.debit_account_id);
        let cr_prev_seq = advance(transfer.credit_account_id);
        rows.push(LinkedRow { seq, transfer, dr_prev_seq, cr_prev_seq });
    }
    (rows, checkpoints)
}

/// A stored entry and its link to the account's previous one.
struct Linked {
    transfer: Transfer,
    previous: i64,
}

fn linked_at(c: &Connection, account: AccountId, seq: i64) -> anyhow::Result<Linked> {
    let mut statement = c.prepare_cached(&format!(
        "SELECT {TRANSFER_COLUMNS}, dr_prev_seq, cr_prev_seq FROM ledger_transfers WHERE seq = ?1"
    ))?;
    statement
        .query_row([seq], |r| {
            let transfer = transfer_from_row(r)?;
            let column = if transfer.debit_account_id == account { 0 } else { 1 };
            let previous: i64 = r.get(TRANSFER_COLUMN_COUNT + column)?;
            Ok(Linked { transfer, previous })
        })
        .with_context(|| format!("the entry chain of account {account} is broken at seq {seq}"))
}

/// The account's entries from `end_seq` back to (not including) `stop_seq`, and not before `lower`,
/// oldest first.
fn walk_back(
    c: &Connection,
    account: AccountId,
    end_seq: i64,
    stop_seq: i64,
    lower: i64,
) -> anyhow::Result<Vec<Transfer>> {
    let mut segment = Vec::new();
    let mut seq = end_seq;
    while seq != 0 && seq != stop_seq {
        let entry = linked_at(c, account, seq)?;
        if entry.transfer.timestamp.nanos() < lower {
            break;
        }
        seq = entry.previous;
        segment.push(entry.transfer);
    }
    segment.reverse();
    Ok(segment)
}

pub fn chain_of(c: &Connection, account: AccountId) -> anyhow::Result<Option<Chain>> {
    Ok(c.prepare_cached(
        "SELECT b.last_entry_seq, b.entry_count FROM ledger_accounts a
           JOIN ledger_balances b ON b.account_number = a.number WHERE a.id = ?1",
    )?
    .query_row([account.to_be_bytes()], |r| Ok(Chain { last_seq: r.get(0)?, entry_count: r.get(1)? }))
    .optional()?)
}

/// The account's entries with timestamps in `[lower, upper)`, oldest first, at most `limit`.
pub fn entries(
    c: &Connection,
    account: AccountId,
    lower: i64,
    upper: i64,
    limit: u32,
) -> anyhow::Result<Vec<Transfer>> {
    let Some(chain) = chain_of(c, account)? else { return Ok(Vec::new()) };
    // Segment ends: the checkpoints at or after `lower` (enough of them to fill `limit`), then the
    // chain's end. Each segment is walked back to the end of the one before.
    let checkpoints_needed = limit as i64 / ENTRY_CHECKPOINT_INTERVAL + 2;
    let mut ends: Vec<i64> = c
        .prepare_cached(
            "SELECT seq FROM ledger_entry_checkpoints WHERE account_id = ?1 AND timestamp >= ?2 AND timestamp < ?3
             ORDER BY timestamp LIMIT ?4",
        )?
        .query_map(params![account.to_be_bytes(), lower, upper, checkpoints_needed], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    if (ends.len() as i64) < checkpoints_needed && ends.last() != Some(&chain.last_seq) {
        ends.push(chain.last_seq);
    }
    let mut found = Vec::new();
    let mut previous_end = 0;
    for end in ends {
        for transfer in walk_back(c, account, end, previous_end, lower)? {
            if transfer.timestamp.nanos() >= upper || found.len() >= limit as usize {
                return Ok(found);
            }
            found.push(transfer);
        }
        previous_end = end;
    }
    Ok(found)
}

/// The account's counters just after its last entry at or before `at`; zeros before its first.
pub fn counters_at(c: &Connection, account: AccountId, at: i64) -> anyhow::Result<Counters> {
    let Some(chain) = chain_of(c, account)? else { return Ok(Counters::default()) };
    let start: i64 = c
        .prepare_cached(
            "SELECT seq FROM ledger_entry_checkpoints WHERE account_id = ?1 AND timestamp > ?2
             ORDER BY timestamp LIMIT 1",
        )?
        .query_row(params![account.to_be_bytes(), at], |r| r.get(0))
        .optional()?
        .unwrap_or(chain.last_seq);
    let mut seq = start;
    while seq != 0 {
        let entry = linked_at(c, account, seq)?;
        if entry.transfer.timestamp.nanos() <= at {
            let t = entry.transfer;
            return Ok(if t.debit_account_id == account { t.debit_account_after } else { t.credit_account_after });
        }
        seq = entry.previous;
    }
    Ok(Counters::default())
}

/// For `verify`: follows every account's chain in seq order and reports links that do not point at
/// the account's previous entry, and chain ends or counts that disagree with the account row.
pub fn check_chains(c: &Connection, problems: &mut Vec<String>) -> anyhow::Result<()> {
    let mut chains: HashMap<AccountId, Chain> = HashMap::new();
    let mut statement = c.prepare(
        "SELECT seq, debit_account_id, credit_account_id, dr_prev_seq, cr_prev_seq FROM ledger_transfers ORDER BY seq",
    )?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let seq: i64 = row.get(0)?;
        for (account_column, prev_column) in [(1, 3), (2, 4)] {
            let account: AccountId = super::rows::id_from_row(row, account_column)?;
            let prev: i64 = row.get(prev_column)?;
            let chain = chains.entry(account).or_default();
            if chain.last_seq != prev && problems.len() < sanhu_core::ledger::verify::PROBLEMS_LISTED_MAX {
                problems.push(format!(
                    "entry seq {seq} of account {account} links to seq {prev}, but the account's previous entry is seq {}",
                    chain.last_seq
                ));
            }
            chain.last_seq = seq;
            chain.entry_count += 1;
        }
    }
    let mut statement = c.prepare(
        "SELECT a.id, b.last_entry_seq, b.entry_count FROM ledger_accounts a
           JOIN ledger_balances b ON b.account_number = a.number",
    )?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let account: AccountId = super::rows::id_from_row(row, 0)?;
        let stored = Chain { last_seq: row.get(1)?, entry_count: row.get(2)? };
        let recounted = chains.get(&account).copied().unwrap_or_default();
        if stored != recounted && problems.len() < sanhu_core::ledger::verify::PROBLEMS_LISTED_MAX {
            problems.push(format!(
                "account {account} records its entries end at seq {} after {} entries, but they end at seq {} after {}",
                stored.last_seq, stored.entry_count, recounted.last_seq, recounted.entry_count
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sanhu_core::ledger::TransferKind;
    use sanhu_core::TransferId;

    fn transfer(n: u128, debit: u128, credit: u128) -> Transfer {
        Transfer {
            id: TransferId::from_u128(n).unwrap(),
            kind: TransferKind::Posted,
            debit_account_id: AccountId::from_u128(debit).unwrap(),
            credit_account_id: AccountId::from_u128(credit).unwrap(),
            amount: 1,
            pending_id: None,
            timeout_s: 0,
            linked: false,
            balancing: false,
            requested_amount: 1,
            code: String::new(),
            reference: None,
            metadata: "{}".into(),
            timestamp: Timestamp(n as i64),
            debit_account_after: Counters::default(),
            credit_account_after: Counters::default(),
        }
    }

    #[test]
    fn each_entry_links_to_its_accounts_previous_entries() {
        let a = AccountId::from_u128(1).unwrap();
        let mut chains: IdMap<AccountId, Chain> =
            [(a, Chain { last_seq: 7, entry_count: ENTRY_CHECKPOINT_INTERVAL - 2 })].into_iter().collect();
        let transfers = [transfer(1, 1, 2), transfer(2, 2, 1), transfer(3, 3, 2)];
        let (rows, checkpoints) = link(&transfers, 10, &mut chains);
        let links: Vec<(i64, i64, i64)> = rows.iter().map(|r| (r.seq, r.dr_prev_seq, r.cr_prev_seq)).collect();
        assert_eq!(links, [(10, 7, 0), (11, 10, 10), (12, 0, 11)]);
        assert_eq!(chains[&a], Chain { last_seq: 11, entry_count: ENTRY_CHECKPOINT_INTERVAL });
        assert_eq!(checkpoints.len(), 1, "account 1 reached its checkpoint interval");
        assert_eq!((checkpoints[0].account_id, checkpoints[0].seq), (a, 11));
    }
}
