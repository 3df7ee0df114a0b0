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

type SqlError = Box<dyn std::error::Error + Sync + Send>;

/// The fields of the `ledger_transfers` row type, in table order, as [`TransferRow`] writes them.
static TRANSFER_FIELDS: [(&str, Type); 21] = [
    ("id", Type::UUID),
    ("kind", Type::INT2),
    ("debit_account_id", Type::UUID),
    ("credit_account_id", Type::UUID),
    ("amount", Type::INT8),
    ("pending_id", Type::UUID),
    ("timeout_s", Type::INT8),
    ("flags", Type::INT2),
    ("requested_amount", Type::INT8),
    ("code", Type::TEXT),
    ("reference", Type::TEXT),
    ("metadata", Type::TEXT),
    ("timestamp", Type::INT8),
    ("dr_debits_pending", Type::INT8),
    ("dr_debits_posted", Type::INT8),
    ("dr_credits_pending", Type::INT8),
    ("dr_credits_posted", Type::INT8),
    ("cr_debits_pending", Type::INT8),
    ("cr_debits_posted", Type::INT8),
    ("cr_credits_pending", Type::INT8),
    ("cr_credits_posted", Type::INT8),
];

/// The fields of the `ledger_accounts` row type, in table order, as [`AccountRow`] writes them.
static ACCOUNT_FIELDS: [(&str, Type); 13] = [
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

/// A transfer as a `ledger_transfers` row value. A batch's transfers go to the database as one array
/// of these, unnested by a single `INSERT`: one array of rows costs the server far less to unnest
/// than one array per column.
#[derive(Debug)]
pub(super) struct TransferRow<'a>(pub &'a Transfer);

impl ToSql for TransferRow<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, SqlError> {
        let t = self.0;
        let flags = if t.linked { TRANSFER_LINKED } else { 0 } | if t.balancing { TRANSFER_BALANCING } else { 0 };
        let (dr, cr) = (&t.debit_account_after, &t.credit_account_after);
        RecordWriter::start(ty, out)?
            .field(uuid(t.id))?
            .field(t.kind.as_i16())?
            .field(uuid(t.debit_account_id))?
            .field(uuid(t.credit_account_id))?
            .field(t.amount)?
            .field(t.pending_id.map(uuid))?
            .field(t.timeout_s as i64)?
            .field(flags)?
            .field(t.requested_amount)?
            .field(t.code.as_str())?
            .field(t.reference.as_deref())?
            .field(t.metadata.as_str())?
            .field(t.timestamp.nanos())?
            .field(dr.debits_pending)?
            .field(dr.debits_posted)?
            .field(dr.credits_pending)?
            .field(dr.credits_posted)?
            .field(cr.debits_pending)?
            .field(cr.debits_posted)?
            .field(cr.credits_pending)?
            .field(cr.credits_posted)?
            .finish()
    }

    fn accepts(ty: &Type) -> bool {
        is_row_type(ty, "ledger_transfers", &TRANSFER_FIELDS)
    }

    to_sql_checked!();
}

/// An account as a `ledger_accounts` row value, for multi-row inserts and updates.
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
            .finish()
    }

    fn accepts(ty: &Type) -> bool {
        is_row_type(ty, "ledger_accounts", &ACCOUNT_FIELDS)
    }

    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_row_writers_follow_the_column_lists() {
        let names = |fields: &[(&str, Type)]| fields.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(", ");
        assert_eq!(names(&TRANSFER_FIELDS), transfer_columns!());
        assert_eq!(names(&ACCOUNT_FIELDS), account_columns!());
    }
}
