//! Conversions between the ledger's types and PostgreSQL rows and columns.

use anyhow::{anyhow, Context};
use sanhu_core::id::IdKind;
use sanhu_core::ledger::{
    Account, AccountFlags, BalanceLimit, Counters, NormalSide, PendingRecord, PendingStatus, Transfer, TransferKind,
};
use sanhu_core::{AccountId, Currency, Id128, Timestamp, TransferId};
use tokio_postgres::types::private::BytesMut;
use tokio_postgres::types::{to_sql_checked, Field, IsNull, Kind, ToSql, Type};
use tokio_postgres::Row;
use uuid::Uuid;

/// The columns of `ledger_accounts`, in table order: the order [`account_from_row`] reads them and
/// [`AccountRow`] writes them.
macro_rules! account_columns {
    () => {
        "id, currency, normal_side, overdraft, flags, debits_pending, debits_posted, credits_pending, \
         credits_posted, code, metadata, created_at, last_transfer_at"
    };
}

/// The columns of `ledger_transfers`, in table order: the order [`transfer_from_row`] reads them and
/// [`TransferRow`] writes them.
macro_rules! transfer_columns {
    () => {
        "id, kind, debit_account_id, credit_account_id, amount, pending_id, timeout_s, flags, requested_amount, \
         code, reference, metadata, timestamp, dr_debits_pending, dr_debits_posted, dr_credits_pending, \
         dr_credits_posted, cr_debits_pending, cr_debits_posted, cr_credits_pending, cr_credits_posted"
    };
}

pub(super) use {account_columns, transfer_columns};

/// How many columns [`account_columns`] lists.
pub(super) const ACCOUNT_COLUMN_COUNT: usize = 13;

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

/// Reads the chain columns `last_entry_id, entry_count` at `first` and `first + 1`.
pub(super) fn chain_from_row(row: &Row, first: usize) -> anyhow::Result<Chain> {
    Ok(Chain {
        last: row.try_get::<_, Option<Uuid>>(first)?.map(transfer_id).transpose()?,
        entry_count: row.try_get(first + 1)?,
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

type SqlError = Box<dyn std::error::Error + Sync + Send>;

/// The fields of the `ledger_accounts` row type, in table order, as [`AccountRow`] writes them.
static ACCOUNT_FIELDS: [(&str, Type); 15] = [
    ("id", Type::UUID),
    ("currency", Type::TEXT),
    ("normal_side", Type::INT2),
    ("overdraft", Type::INT8),
    ("flags", Type::INT4),
    ("debits_pending", Type::INT8),
    ("debits_posted", Type::INT8),
    ("credits_pending", Type::INT8),
    ("credits_posted", Type::INT8),
    ("code", Type::TEXT),
    ("metadata", Type::TEXT),
    ("created_at", Type::INT8),
    ("last_transfer_at", Type::INT8),
    ("last_entry_id", Type::UUID),
    ("entry_count", Type::INT8),
];

/// The fields of the `ledger_account_change` row type, as [`AccountChange`] writes them.
static ACCOUNT_CHANGE_FIELDS: [(&str, Type); 8] = [
    ("id", Type::UUID),
    ("debits_pending", Type::INT8),
    ("debits_posted", Type::INT8),
    ("credits_pending", Type::INT8),
    ("credits_posted", Type::INT8),
    ("last_transfer_at", Type::INT8),
    ("last_entry_id", Type::UUID),
    ("entry_count", Type::INT8),
];

/// Whether `ty` is a table's row type with exactly `expected` fields. Checked once per statement
/// parameter: a migration that changes the table must change the writer too, and fails loudly until
/// it does.
fn is_row_type(ty: &Type, table: &str, expected: &[(&str, Type)]) -> bool {
    match ty.kind() {
        Kind::Composite(fields) => {
            ty.name() == table
                && fields.len() == expected.len()
                && fields.iter().zip(expected).all(|(f, (name, t))| f.name() == *name && f.type_() == t)
        }
        _ => false,
    }
}

/// Writes one binary record: the field count, then each field as its type's oid, length and value.
struct RecordWriter<'a> {
    out: &'a mut BytesMut,
    fields: &'a [Field],
    next: usize,
}

impl<'a> RecordWriter<'a> {
    fn start(ty: &'a Type, out: &'a mut BytesMut) -> Result<RecordWriter<'a>, SqlError> {
        let Kind::Composite(fields) = ty.kind() else {
            return Err(format!("{} is not a row type", ty.name()).into());
        };
        out.extend_from_slice(&i32::try_from(fields.len())?.to_be_bytes());
        Ok(RecordWriter { out, fields, next: 0 })
    }

    fn field<T: ToSql>(&mut self, value: T) -> Result<&mut Self, SqlError> {
        let field = self.fields.get(self.next).ok_or("more values than the row type has fields")?;
        self.next += 1;
        self.out.extend_from_slice(&field.type_().oid().to_be_bytes());
        let length_at = self.out.len();
        self.out.extend_from_slice(&[0; 4]);
        let length = match value.to_sql(field.type_(), self.out)? {
            IsNull::Yes => -1,
            IsNull::No => i32::try_from(self.out.len() - length_at - 4)?,
        };
        self.out[length_at..length_at + 4].copy_from_slice(&length.to_be_bytes());
        Ok(self)
    }

    fn finish(&mut self) -> Result<IsNull, SqlError> {
        if self.next != self.fields.len() {
            return Err("fewer values than the row type has fields".into());
        }
        Ok(IsNull::No)
    }
}

/// The columns a batch's transfers are copied into: [`transfer_columns`] and the two links.
macro_rules! transfer_copy_columns {
    () => {
        concat!(transfer_columns!(), ", dr_prev_id, cr_prev_id")
    };
}

pub(super) use transfer_copy_columns;

/// The types of [`transfer_copy_columns`], which binary COPY must match exactly: the server reads
/// each value in its column's binary format.
static TRANSFER_COPY_TYPES: [&Type; 23] = [
    &Type::UUID,
    &Type::INT2,
    &Type::UUID,
    &Type::UUID,
    &Type::INT8,
    &Type::UUID,
    &Type::INT8,
    &Type::INT2,
    &Type::INT8,
    &Type::TEXT,
    &Type::TEXT,
    &Type::TEXT,
    &Type::INT8,
    &Type::INT8,
    &Type::INT8,
    &Type::INT8,
    &Type::INT8,
    &Type::INT8,
    &Type::INT8,
    &Type::INT8,
    &Type::INT8,
    &Type::UUID,
    &Type::UUID,
];

/// Checks the columns of `SELECT transfer_copy_columns FROM ledger_transfers` against the types the
/// COPY writer sends, so that a migration that changes the table fails loudly until the writer follows.
pub(super) fn check_transfer_copy_columns(columns: &[tokio_postgres::Column]) -> anyhow::Result<()> {
    let found: Vec<&Type> = columns.iter().map(|c| c.type_()).collect();
    anyhow::ensure!(
        found == TRANSFER_COPY_TYPES,
        "ledger_transfers has columns of types {found:?}, but the batch writer sends {TRANSFER_COPY_TYPES:?}"
    );
    Ok(())
}

/// A new transfer and its links to the previous entries of its two accounts.
pub(super) struct LinkedTransfer<'a> {
    pub transfer: &'a Transfer,
    pub dr_prev: Option<TransferId>,
    pub cr_prev: Option<TransferId>,
}

/// Builds the body of a `COPY ledger_transfers (transfer_copy_columns) FROM STDIN (FORMAT binary)`:
/// COPY inserts a page's worth of rows at a time (one WAL record per page rather than per row), and
/// binary fields cost the server no parsing.
pub(super) fn transfers_copy_data(rows: &[LinkedTransfer<'_>]) -> BytesMut {
    let mut out = BytesMut::with_capacity(19 + 2 + rows.len() * 300);
    out.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    out.extend_from_slice(&0i32.to_be_bytes()); // flags
    out.extend_from_slice(&0i32.to_be_bytes()); // header extension length
    fn int2(out: &mut BytesMut, v: i16) {
        out.extend_from_slice(&2i32.to_be_bytes());
        out.extend_from_slice(&v.to_be_bytes());
    }
    fn int8(out: &mut BytesMut, v: i64) {
        out.extend_from_slice(&8i32.to_be_bytes());
        out.extend_from_slice(&v.to_be_bytes());
    }
    fn id(out: &mut BytesMut, v: Option<u128>) {
        match v {
            Some(v) => {
                out.extend_from_slice(&16i32.to_be_bytes());
                out.extend_from_slice(&v.to_be_bytes());
            }
            None => out.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }
    fn text(out: &mut BytesMut, v: Option<&str>) {
        match v {
            Some(v) => {
                out.extend_from_slice(&(v.len() as i32).to_be_bytes());
                out.extend_from_slice(v.as_bytes());
            }
            None => out.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }
    fn counters(out: &mut BytesMut, c: &Counters) {
        for v in [c.debits_pending, c.debits_posted, c.credits_pending, c.credits_posted] {
            int8(out, v);
        }
    }
    for row in rows {
        let t = row.transfer;
        let flags = if t.linked { TRANSFER_LINKED } else { 0 } | if t.balancing { TRANSFER_BALANCING } else { 0 };
        out.extend_from_slice(&(TRANSFER_COPY_TYPES.len() as i16).to_be_bytes());
        id(&mut out, Some(t.id.as_u128()));
        int2(&mut out, t.kind.as_i16());
        id(&mut out, Some(t.debit_account_id.as_u128()));
        id(&mut out, Some(t.credit_account_id.as_u128()));
        int8(&mut out, t.amount);
        id(&mut out, t.pending_id.map(|p| p.as_u128()));
        int8(&mut out, t.timeout_s as i64);
        int2(&mut out, flags);
        int8(&mut out, t.requested_amount);
        text(&mut out, Some(&t.code));
        text(&mut out, t.reference.as_deref());
        text(&mut out, Some(&t.metadata));
        int8(&mut out, t.timestamp.nanos());
        counters(&mut out, &t.debit_account_after);
        counters(&mut out, &t.credit_account_after);
        id(&mut out, row.dr_prev.map(|p| p.as_u128()));
        id(&mut out, row.cr_prev.map(|p| p.as_u128()));
    }
    out.extend_from_slice(&(-1i16).to_be_bytes());
    out
}

/// A new account as a `ledger_accounts` row value (no entries yet), for multi-row inserts.
#[derive(Debug)]
pub(super) struct AccountRow<'a>(pub &'a Account);

impl ToSql for AccountRow<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, SqlError> {
        let a = self.0;
        let c = &a.counters;
        RecordWriter::start(ty, out)?
            .field(uuid(a.id))?
            .field(a.currency.code())?
            .field(normal_side_to_i16(a.normal_side))?
            .field(a.limit.overdraft())?
            .field(a.flags.bits())?
            .field(c.debits_pending)?
            .field(c.debits_posted)?
            .field(c.credits_pending)?
            .field(c.credits_posted)?
            .field(a.code.as_str())?
            .field(a.metadata.as_str())?
            .field(a.created_at.nanos())?
            .field(a.last_transfer_at.nanos())?
            .field(None::<Uuid>)?
            .field(0i64)?
            .finish()
    }

    fn accepts(ty: &Type) -> bool {
        is_row_type(ty, "ledger_accounts", &ACCOUNT_FIELDS)
    }

    to_sql_checked!();
}

/// Where an account's chain of entries ends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Chain {
    /// The account's latest entry; None when it has none.
    pub last: Option<TransferId>,
    pub entry_count: i64,
}

/// What a batch changed in an account: its counters, when it was last touched and where its entries
/// end, as a `ledger_account_change` row value.
#[derive(Debug)]
pub(super) struct AccountChange<'a>(pub &'a Account, pub Chain);

impl ToSql for AccountChange<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, SqlError> {
        let (a, chain) = (self.0, &self.1);
        let c = &a.counters;
        RecordWriter::start(ty, out)?
            .field(uuid(a.id))?
            .field(c.debits_pending)?
            .field(c.debits_posted)?
            .field(c.credits_pending)?
            .field(c.credits_posted)?
            .field(a.last_transfer_at.nanos())?
            .field(chain.last.map(uuid))?
            .field(chain.entry_count)?
            .finish()
    }

    fn accepts(ty: &Type) -> bool {
        is_row_type(ty, "ledger_account_change", &ACCOUNT_CHANGE_FIELDS)
    }

    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_row_writers_follow_the_column_lists() {
        let names = |fields: &[(&str, Type)]| fields.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(", ");
        assert_eq!(names(&ACCOUNT_FIELDS), concat!(account_columns!(), ", last_entry_id, entry_count"));
        assert_eq!(account_columns!().split(", ").count(), ACCOUNT_COLUMN_COUNT);
        assert_eq!(TRANSFER_COPY_TYPES.len(), transfer_copy_columns!().split(", ").count());
    }
}
