//! Conversions between the ledger's types and PostgreSQL rows and columns.

use anyhow::{anyhow, Context};
use sanhu_core::ledger::{
    Account, AccountFlags, BalanceLimit, Counters, NormalSide, PendingRecord, PendingStatus, Transfer, TransferKind,
};
use sanhu_core::id::IdKind;
use sanhu_core::{AccountId, Currency, Id128, Timestamp, TransferId};
use tokio_postgres::Row;
use uuid::Uuid;

/// The columns of `ledger_accounts`, in the order [`account_from_row`] reads them.
macro_rules! account_columns {
    () => {
        "id, currency, normal_side, overdraft, flags, debits_pending, debits_posted, credits_pending, \
         credits_posted, code, metadata, created_at, last_transfer_at"
    };
}

/// The columns of `ledger_transfers`, in the order [`transfer_from_row`] reads them and
/// [`TransferColumns`] writes them.
macro_rules! transfer_columns {
    () => {
        "id, kind, debit_account_id, credit_account_id, amount, pending_id, timeout_s, flags, requested_amount, \
         code, reference, metadata, timestamp, dr_debits_pending, dr_debits_posted, dr_credits_pending, \
         dr_credits_posted, cr_debits_pending, cr_debits_posted, cr_credits_pending, cr_credits_posted"
    };
}

pub(super) use {account_columns, transfer_columns};

const TRANSFER_LINKED: i16 = 1;
const TRANSFER_BALANCING: i16 = 2;

pub(super) fn uuid<K: IdKind>(id: Id128<K>) -> Uuid {
    Uuid::from_u128(id.as_u128())
}

pub(super) fn uuids<K: IdKind>(ids: &[Id128<K>]) -> Vec<Uuid> {
    ids.iter().map(|&id| uuid(id)).collect()
}

pub(super) fn account_id(value: Uuid) -> anyhow::Result<AccountId> {
    AccountId::from_u128(value.as_u128()).ok_or_else(|| anyhow!("a stored account id is zero"))
}

pub(super) fn transfer_id(value: Uuid) -> anyhow::Result<TransferId> {
    TransferId::from_u128(value.as_u128()).ok_or_else(|| anyhow!("a stored transfer id is zero"))
}

pub(super) fn normal_side_to_i16(side: NormalSide) -> i16 {
    match side {
        NormalSide::Debit => 0,
        NormalSide::Credit => 1,
    }
}

/// Reads a row of [`account_columns`].
pub(super) fn account_from_row(row: &Row) -> anyhow::Result<Account> {
    let id = account_id(row.try_get(0)?)?;
    let currency: &str = row.try_get(1)?;
    let normal_side = match row.try_get::<_, i16>(2)? {
        0 => NormalSide::Debit,
        1 => NormalSide::Credit,
        other => return Err(anyhow!("account {id} has normal side {other}, neither 0 nor 1")),
    };
    Ok(Account {
        id,
        currency: Currency::parse(currency).with_context(|| format!("account {id} has currency {currency:?}"))?,
        normal_side,
        limit: BalanceLimit::from_overdraft(row.try_get(3)?),
        flags: AccountFlags::from_bits(row.try_get(4)?),
        counters: Counters {
            debits_pending: row.try_get(5)?,
            debits_posted: row.try_get(6)?,
            credits_pending: row.try_get(7)?,
            credits_posted: row.try_get(8)?,
        },
        code: row.try_get(9)?,
        metadata: row.try_get(10)?,
        created_at: Timestamp(row.try_get(11)?),
        last_transfer_at: Timestamp(row.try_get(12)?),
    })
}

/// Reads a row of [`transfer_columns`].
pub(super) fn transfer_from_row(row: &Row) -> anyhow::Result<Transfer> {
    let id = transfer_id(row.try_get(0)?)?;
    let kind: i16 = row.try_get(1)?;
    let kind = TransferKind::from_i16(kind).with_context(|| format!("transfer {id} has kind {kind}"))?;
    let timeout_s: i64 = row.try_get(6)?;
    let flags: i16 = row.try_get(7)?;
    Ok(Transfer {
        id,
        kind,
        debit_account_id: account_id(row.try_get(2)?)?,
        credit_account_id: account_id(row.try_get(3)?)?,
        amount: row.try_get(4)?,
        pending_id: row.try_get::<_, Option<Uuid>>(5)?.map(transfer_id).transpose()?,
        timeout_s: u32::try_from(timeout_s).with_context(|| format!("transfer {id} has timeout {timeout_s}"))?,
        linked: flags & TRANSFER_LINKED != 0,
        balancing: flags & TRANSFER_BALANCING != 0,
        requested_amount: row.try_get(8)?,
        code: row.try_get(9)?,
        reference: row.try_get(10)?,
        metadata: row.try_get(11)?,
        timestamp: Timestamp(row.try_get(12)?),
        debit_account_after: Counters {
            debits_pending: row.try_get(13)?,
            debits_posted: row.try_get(14)?,
            credits_pending: row.try_get(15)?,
            credits_posted: row.try_get(16)?,
        },
        credit_account_after: Counters {
            debits_pending: row.try_get(17)?,
            debits_posted: row.try_get(18)?,
            credits_pending: row.try_get(19)?,
            credits_posted: row.try_get(20)?,
        },
    })
}

/// Reads a row of `id, status, expires_at, debit_account_id, credit_account_id, amount` (a hold
/// joined with its pending transfer).
pub(super) fn pending_from_row(row: &Row) -> anyhow::Result<PendingRecord> {
    let id = transfer_id(row.try_get(0)?)?;
    let status: i16 = row.try_get(1)?;
    Ok(PendingRecord {
        id,
        status: PendingStatus::from_i16(status).with_context(|| format!("hold {id} has status {status}"))?,
        expires_at: row.try_get::<_, Option<i64>>(2)?.map(Timestamp),
        debit_account_id: account_id(row.try_get(3)?)?,
        credit_account_id: account_id(row.try_get(4)?)?,
        amount: row.try_get(5)?,
        is_new: false,
    })
}

/// Transfers as one array per column, for a single `INSERT ... SELECT * FROM UNNEST(...)`.
pub(super) struct TransferColumns<'a> {
    id: Vec<Uuid>,
    kind: Vec<i16>,
    debit_account_id: Vec<Uuid>,
    credit_account_id: Vec<Uuid>,
    amount: Vec<i64>,
    pending_id: Vec<Option<Uuid>>,
    timeout_s: Vec<i64>,
    flags: Vec<i16>,
    requested_amount: Vec<i64>,
    code: Vec<&'a str>,
    reference: Vec<Option<&'a str>>,
    metadata: Vec<&'a str>,
    timestamp: Vec<i64>,
    after: [Vec<i64>; 8],
}

impl<'a> TransferColumns<'a> {
    pub fn of(transfers: &'a [Transfer]) -> TransferColumns<'a> {
        let n = transfers.len();
        let mut columns = TransferColumns {
            id: Vec::with_capacity(n),
            kind: Vec::with_capacity(n),
            debit_account_id: Vec::with_capacity(n),
            credit_account_id: Vec::with_capacity(n),
            amount: Vec::with_capacity(n),
            pending_id: Vec::with_capacity(n),
            timeout_s: Vec::with_capacity(n),
            flags: Vec::with_capacity(n),
            requested_amount: Vec::with_capacity(n),
            code: Vec::with_capacity(n),
            reference: Vec::with_capacity(n),
            metadata: Vec::with_capacity(n),
            timestamp: Vec::with_capacity(n),
            after: std::array::from_fn(|_| Vec::with_capacity(n)),
        };
        for t in transfers {
            columns.id.push(uuid(t.id));
            columns.kind.push(t.kind.as_i16());
            columns.debit_account_id.push(uuid(t.debit_account_id));
            columns.credit_account_id.push(uuid(t.credit_account_id));
            columns.amount.push(t.amount);
            columns.pending_id.push(t.pending_id.map(uuid));
            columns.timeout_s.push(t.timeout_s as i64);
            columns.flags.push(
                if t.linked { TRANSFER_LINKED } else { 0 } | if t.balancing { TRANSFER_BALANCING } else { 0 },
            );
            columns.requested_amount.push(t.requested_amount);
            columns.code.push(&t.code);
            columns.reference.push(t.reference.as_deref());
            columns.metadata.push(&t.metadata);
            columns.timestamp.push(t.timestamp.nanos());
            let (dr, cr) = (&t.debit_account_after, &t.credit_account_after);
            let after = [
                dr.debits_pending,
                dr.debits_posted,
                dr.credits_pending,
                dr.credits_posted,
                cr.debits_pending,
                cr.debits_posted,
                cr.credits_pending,
                cr.credits_posted,
            ];
            for (column, value) in columns.after.iter_mut().zip(after) {
                column.push(value);
            }
        }
        columns
    }

    /// The statement's parameters, in [`transfer_columns`] order.
    pub fn params(&self) -> Vec<&(dyn tokio_postgres::types::ToSql + Sync)> {
        let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![
            &self.id,
            &self.kind,
            &self.debit_account_id,
            &self.credit_account_id,
            &self.amount,
            &self.pending_id,
            &self.timeout_s,
            &self.flags,
            &self.requested_amount,
            &self.code,
            &self.reference,
            &self.metadata,
            &self.timestamp,
        ];
        params.extend(self.after.iter().map(|c| c as &(dyn tokio_postgres::types::ToSql + Sync)));
        params
    }
}
