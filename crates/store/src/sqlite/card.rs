//! Member cards on SQLite (see `crate::card`). Reads run on a reader connection; writes on the writer
//! connection, each one statement or one `BEGIN IMMEDIATE` transaction, so they are decided one after
//! another.

use anyhow::Context;
use rusqlite::types::Value;
use rusqlite::{params, OptionalExtension, Row, TransactionBehavior};
use sanhu_core::Timestamp;

use super::SqliteStore;
use crate::card::*;

fn type_row(r: &Row) -> rusqlite::Result<StoredCardType> {
    Ok(StoredCardType {
        id: r.get(0)?,
        owner: r.get(1)?,
        version: r.get(2)?,
        data: r.get(3)?,
        created_at: Timestamp::from_nanos(r.get(4)?),
    })
}

fn segment_row(r: &Row) -> rusqlite::Result<StoredCardSegment> {
    Ok(StoredCardSegment {
        id: r.get(0)?,
        prefix: r.get(1)?,
        serial_digits: r.get(2)?,
        first_serial: r.get(3)?,
        last_serial: r.get(4)?,
        next_serial: r.get(5)?,
        data: r.get(6)?,
        created_at: Timestamp::from_nanos(r.get(7)?),
    })
}

fn batch_row(r: &Row) -> rusqlite::Result<StoredCardBatch> {
    Ok(StoredCardBatch {
        id: r.get(0)?,
        type_id: r.get(1)?,
        owner: r.get(2)?,
        segment_id: r.get(3)?,
        first_serial: r.get(4)?,
        quantity: r.get(5)?,
        sold: r.get(6)?,
        status: r.get(7)?,
        version: r.get(8)?,
        data: r.get(9)?,
        created_at: Timestamp::from_nanos(r.get(10)?),
    })
}

fn code_row(r: &Row) -> rusqlite::Result<StoredCardCode> {
    Ok(StoredCardCode {
        id: r.get(0)?,
        batch_id: r.get(1)?,
        owner: r.get(2)?,
        digest: r.get(3)?,
        status: r.get(4)?,
        expires_at: Timestamp::from_nanos(r.get(5)?),
        member_id: r.get(6)?,
        card_index: r.get(7)?,
        redeemed_at: r.get::<_, Option<i64>>(8)?.map(Timestamp::from_nanos),
        data: r.get(9)?,
        created_at: Timestamp::from_nanos(r.get(10)?),
    })
}

fn card_row(r: &Row) -> rusqlite::Result<StoredCard> {
    Ok(StoredCard {
        number: r.get(0)?,
        batch_id: r.get(1)?,
        type_id: r.get(2)?,
        owner: r.get(3)?,
        member_id: r.get(4)?,
        account_id: r.get(5)?,
        status: r.get(6)?,
        version: r.get(7)?,
        data: r.get(8)?,
        created_at: Timestamp::from_nanos(r.get(9)?),
        blocks_pending_since: r.get::<_, Option<i64>>(10)?.map(Timestamp::from_nanos),
        valid_until: r.get::<_, Option<i64>>(11)?.map(Timestamp::from_nanos),
    })
}

fn transaction_row(r: &Row) -> rusqlite::Result<StoredCardTransaction> {
    Ok(StoredCardTransaction {
        id: r.get(0)?,
        card_number: r.get(1)?,
        kind: r.get(2)?,
        amount: r.get(3)?,
        refunded: r.get(4)?,
        status: r.get(5)?,
        data: r.get(6)?,
        created_at: Timestamp::from_nanos(r.get(7)?),
    })
}

fn insert_transaction(c: &rusqlite::Connection, t: &StoredCardTransaction) -> anyhow::Result<bool> {
    let inserted = c
        .prepare_cached(&format!(
            "INSERT INTO card_transactions ({TRANSACTION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
             ON CONFLICT (id) DO NOTHING"
        ))?
        .execute(params![t.id, t.card_number, t.kind, t.amount, t.refunded, t.status, t.data, t.created_at.nanos()])
        .with_context(|| format!("failed to store card transaction {}", t.id))?;
    Ok(inserted == 1)
}

/// Moves `counters` in key order, each within its limit (as a party write does, `super::party`):
/// the key of the first that would pass its limit, and the caller rolls back.
fn add_counters(c: &rusqlite::Connection, counters: &mut [CounterAdd]) -> anyhow::Result<Option<String>> {
    counters.sort_by(|a, b| a.key.cmp(&b.key));
    for counter in counters.iter() {
        if counter.limit.is_some_and(|limit| counter.amount > limit) {
            return Ok(Some(counter.key.clone()));
        }
        let moved = c
            .prepare_cached(
                "INSERT INTO party_counters (key, total) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET total = total + excluded.total
                  WHERE ?3 IS NULL OR total + excluded.total <= ?3",
            )?
            .execute(params![counter.key, counter.amount, counter.limit])?;
        if moved == 0 {
            return Ok(Some(counter.key.clone()));
        }
    }
    Ok(None)
}

/// `SELECT columns FROM table WHERE id > after [AND owner IN (…)] ORDER BY id LIMIT ?`: with owners,
/// one range of the `(owner, id)` index per owner, merged in id order.
fn page_sql(
    columns: &str,
    table: &str,
    owners: &Option<Vec<String>>,
    after: &Option<String>,
    limit: u32,
) -> (String, Vec<Value>) {
    let mut values = vec![Value::Text(after.clone().unwrap_or_default())];
    let mut sql = format!("SELECT {columns} FROM {table} WHERE id > ?");
    if let Some(owners) = owners {
        if owners.is_empty() {
            sql.push_str(" AND 0");
        } else {
            sql.push_str(&format!(" AND owner IN ({})", vec!["?"; owners.len()].join(", ")));
            values.extend(owners.iter().map(|o| Value::Text(o.clone())));
        }
    }
    sql.push_str(" ORDER BY id LIMIT ?");
    values.push(Value::Integer(i64::from(limit)));
    (sql, values)
}

/// Adds `AND <column> IN (owners)` (nothing matches for none) when owners are given.
fn owners_filter(sql: &mut String, values: &mut Vec<Value>, owners: &Option<Vec<String>>, column: &str) {
    if let Some(owners) = owners {
        if owners.is_empty() {
            sql.push_str(" AND 0");
        } else {
            sql.push_str(&format!(" AND {column} IN ({})", vec!["?"; owners.len()].join(", ")));
            values.extend(owners.iter().map(|o| Value::Text(o.clone())));
        }
    }
}

/// Marks up to [`EXPIRED_CODES_RELEASED_MAX`] of the batch's unused codes expired at `at` as
/// `expired`, giving their cards back to the batch's sales.
fn release_expired_codes(tx: &rusqlite::Transaction<'_>, batch_id: &str, at: Timestamp) -> anyhow::Result<()> {
    let released = tx
        .prepare_cached(
            "UPDATE card_codes SET status = 'expired' WHERE id IN (SELECT id FROM card_codes \
             WHERE batch_id = ?1 AND status = 'unused' AND expires_at <= ?2 ORDER BY id LIMIT ?3)",
        )?
        .execute(params![batch_id, at.nanos(), EXPIRED_CODES_RELEASED_MAX])
        .context("failed to release expired card codes")?;
    if released > 0 {
        tx.prepare_cached("UPDATE card_batches SET codes_unused = codes_unused - ?2 WHERE id = ?1")?
            .execute(params![batch_id, i64::try_from(released)?])?;
    }
    Ok(())
}

fn coupon_template_row(r: &Row) -> rusqlite::Result<StoredCouponTemplate> {
    Ok(StoredCouponTemplate {
        id: r.get(0)?,
        owner: r.get(1)?,
        quantity: r.get(2)?,
        issued: r.get(3)?,
        per_member: r.get(4)?,
        data: r.get(5)?,
        created_at: Timestamp::from_nanos(r.get(6)?),
    })
}

fn coupon_row(r: &Row) -> rusqlite::Result<StoredCoupon> {
    Ok(StoredCoupon {
        id: r.get(0)?,
        template_id: r.get(1)?,
        owner: r.get(2)?,
        member_id: r.get(3)?,
        status: r.get(4)?,
        valid_from: Timestamp::from_nanos(r.get(5)?),
        expires_at: Timestamp::from_nanos(r.get(6)?),
        returnable: r.get::<_, i64>(7)? != 0,
        payment_id: r.get(8)?,
        redeemed_at: r.get::<_, Option<i64>>(9)?.map(Timestamp::from_nanos),
        data: r.get(10)?,
        created_at: Timestamp::from_nanos(r.get(11)?),
    })
}

fn quote_row(r: &Row) -> rusqlite::Result<StoredQuote> {
    Ok(StoredQuote {
        id: r.get(0)?,
        member_id: r.get(1)?,
        card_number: r.get(2)?,
        payment_id: r.get(3)?,
        expires_at: Timestamp::from_nanos(r.get(4)?),
        data: r.get(5)?,
        created_at: Timestamp::from_nanos(r.get(6)?),
    })
}

/// Marks the quote used by `payment` and redeems its coupons, each if still unused and valid: what
/// was not, and the caller rolls back.
fn redeem_quote(c: &rusqlite::Connection, payment: &str, r: &QuoteRedemption) -> anyhow::Result<Option<CardInsert>> {
    let used = c
        .prepare_cached(
            "UPDATE checkout_quotes SET payment_id = ?2 WHERE id = ?1 AND payment_id IS NULL AND expires_at > ?3",
        )?
        .execute(params![r.quote_id, payment, r.at.nanos()])?;
    if used != 1 {
        return Ok(Some(CardInsert::QuoteUnavailable));
    }
    for id in &r.coupon_ids {
        let redeemed = c
            .prepare_cached(
                "UPDATE coupons SET status = 'redeemed', payment_id = ?2, redeemed_at = ?3 \
                 WHERE id = ?1 AND status = 'unused' AND valid_from <= ?3 AND expires_at > ?3",
            )?
            .execute(params![id, payment, r.at.nanos()])?;
        if redeemed != 1 {
            return Ok(Some(CardInsert::CouponUnavailable { id: id.clone() }));
        }
    }
    Ok(None)
}

/// Gives a refused payment's quote and coupons back, unused.
fn release_quote(c: &rusqlite::Connection, payment: &str) -> anyhow::Result<()> {
    c.prepare_cached(
        "UPDATE coupons SET status = 'unused', payment_id = NULL, redeemed_at = NULL \
         WHERE payment_id = ?1 AND status = 'redeemed'",
    )?
    .execute([payment])?;
    c.prepare_cached("UPDATE checkout_quotes SET payment_id = NULL WHERE payment_id = ?1")?.execute([payment])?;
    Ok(())
}

/// Gives a payment refunded in full its returnable coupons back, unused.
fn return_coupons(c: &rusqlite::Connection, payment: &str) -> anyhow::Result<()> {
    c.prepare_cached(
        "UPDATE coupons SET status = 'unused', payment_id = NULL, redeemed_at = NULL \
         WHERE payment_id = ?1 AND status = 'redeemed' AND returnable = 1 \
           AND EXISTS (SELECT 1 FROM card_transactions t WHERE t.id = ?1 AND t.refunded >= t.amount)",
    )?
    .execute([payment])?;
    Ok(())
}

impl CardStore for SqliteStore {
    async fn create_coupon_template(&self, template: &StoredCouponTemplate) -> anyhow::Result<()> {
        let t = template.clone();
        self.write(move |c| {
            c.prepare_cached(&format!(
                "INSERT INTO coupon_templates ({COUPON_TEMPLATE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            ))?
            .execute(params![t.id, t.owner, t.quantity, t.issued, t.per_member, t.data, t.created_at.nanos()])
            .with_context(|| format!("failed to store coupon template {}", t.id))?;
            Ok(())
        })
        .await
    }

    async fn coupon_template(&self, id: &str) -> anyhow::Result<Option<StoredCouponTemplate>> {
        let id = id.to_owned();
        self.read(move |c| {
            c.prepare_cached(&format!("SELECT {COUPON_TEMPLATE_COLUMNS} FROM coupon_templates WHERE id = ?1"))?
                .query_row([id], coupon_template_row)
                .optional()
                .context("failed to read a coupon template")
        })
        .await
    }

    async fn coupon_templates(
        &self,
        owners: Option<Vec<String>>,
        after: Option<String>,
        limit: u32,
    ) -> anyhow::Result<Vec<StoredCouponTemplate>> {
        self.read(move |c| {
            let (sql, values) = page_sql(COUPON_TEMPLATE_COLUMNS, "coupon_templates", &owners, &after, limit);
            let mut statement = c.prepare_cached(&sql)?;
            let rows = statement.query_map(rusqlite::params_from_iter(values), coupon_template_row)?;
            rows.collect::<Result<Vec<_>, _>>().context("failed to read coupon templates")
        })
        .await
    }

    async fn issue_coupon(&self, coupon: &StoredCoupon) -> anyhow::Result<CouponIssue> {
        let k = coupon.clone();
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let per_member: Option<i64> = tx
                .prepare_cached(
                    "UPDATE coupon_templates SET issued = issued + 1 WHERE id = ?1 AND issued < quantity \
                     RETURNING per_member",
                )?
                .query_row([&k.template_id], |r| r.get(0))
                .optional()?;
            let Some(per_member) = per_member else { return Ok(CouponIssue::SoldOut) };
            let held: i64 = tx
                .prepare_cached("SELECT count(*) FROM coupons WHERE template_id = ?1 AND member_id = ?2")?
                .query_row(params![k.template_id, k.member_id], |r| r.get(0))?;
            if held >= per_member {
                return Ok(CouponIssue::MemberLimit);
            }
            tx.prepare_cached(&format!(
                "INSERT INTO coupons ({COUPON_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
            ))?
            .execute(params![
                k.id,
                k.template_id,
                k.owner,
                k.member_id,
                k.status,
                k.valid_from.nanos(),
                k.expires_at.nanos(),
                i64::from(k.returnable),
                k.payment_id,
                k.redeemed_at.map(Timestamp::nanos),
                k.data,
                k.created_at.nanos()
            ])
            .with_context(|| format!("failed to store coupon {}", k.id))?;
            tx.commit()?;
            Ok(CouponIssue::Issued)
        })
        .await
    }

    async fn coupon(&self, id: &str) -> anyhow::Result<Option<StoredCoupon>> {
        let id = id.to_owned();
        self.read(move |c| {
            c.prepare_cached(&format!("SELECT {COUPON_COLUMNS} FROM coupons WHERE id = ?1"))?
                .query_row([id], coupon_row)
                .optional()
                .context("failed to read a coupon")
        })
        .await
    }

    async fn member_coupons(
        &self,
        member_id: &str,
        after: Option<String>,
        limit: u32,
    ) -> anyhow::Result<Vec<StoredCoupon>> {
        let member_id = member_id.to_owned();
        self.read(move |c| {
            let mut statement = c.prepare_cached(&format!(
                "SELECT {COUPON_COLUMNS} FROM coupons WHERE member_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3"
            ))?;
            let rows =
                statement.query_map(params![member_id, after.unwrap_or_default(), i64::from(limit)], coupon_row)?;
            rows.collect::<Result<Vec<_>, _>>().context("failed to read a member's coupons")
        })
        .await
    }

    async fn create_quote(&self, quote: &StoredQuote) -> anyhow::Result<()> {
        let q = quote.clone();
        self.write(move |c| {
            c.prepare_cached(&format!(
                "INSERT INTO checkout_quotes ({QUOTE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            ))?
            .execute(params![
                q.id,
                q.member_id,
                q.card_number,
                q.payment_id,
                q.expires_at.nanos(),
                q.data,
                q.created_at.nanos()
            ])
            .with_context(|| format!("failed to store quote {}", q.id))?;
            Ok(())
        })
        .await
    }

    async fn quote(&self, id: &str) -> anyhow::Result<Option<StoredQuote>> {
        let id = id.to_owned();
        self.read(move |c| {
            c.prepare_cached(&format!("SELECT {QUOTE_COLUMNS} FROM checkout_quotes WHERE id = ?1"))?
                .query_row([id], quote_row)
                .optional()
                .context("failed to read a quote")
        })
        .await
    }
    async fn create_card_codes(
        &self,
        batch_id: &str,
        codes: Vec<StoredCardCode>,
        at: Timestamp,
    ) -> anyhow::Result<CodesInsert> {
        let batch_id = batch_id.to_owned();
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            release_expired_codes(&tx, &batch_id, at)?;
            let batch: Option<(String, i64, i64, i64)> = tx
                .prepare_cached("SELECT status, quantity, sold, codes_unused FROM card_batches WHERE id = ?1")?
                .query_row([&batch_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .optional()?;
            let Some((status, quantity, sold, held)) = batch else { return Ok(CodesInsert::NotApproved) };
            if status != "approved" {
                return Ok(CodesInsert::NotApproved);
            }
            let adding = i64::try_from(codes.len())?;
            if sold + held + adding > quantity {
                return Ok(CodesInsert::OverQuantity);
            }
            tx.prepare_cached("UPDATE card_batches SET codes_unused = codes_unused + ?2 WHERE id = ?1")?
                .execute(params![batch_id, adding])?;
            {
                let mut insert = tx.prepare_cached(&format!(
                    "INSERT INTO card_codes ({CODE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
                ))?;
                for k in &codes {
                    insert
                        .execute(params![
                            k.id,
                            k.batch_id,
                            k.owner,
                            k.digest,
                            k.status,
                            k.expires_at.nanos(),
                            k.member_id,
                            k.card_index,
                            k.redeemed_at.map(Timestamp::nanos),
                            k.data,
                            k.created_at.nanos()
                        ])
                        .with_context(|| format!("failed to store card code {}", k.id))?;
                }
            }
            tx.commit()?;
            Ok(CodesInsert::Stored)
        })
        .await
    }

    async fn card_code_by_digest(&self, digest: &str) -> anyhow::Result<Option<StoredCardCode>> {
        let digest = digest.to_owned();
        self.read(move |c| {
            c.prepare_cached(&format!("SELECT {CODE_COLUMNS} FROM card_codes WHERE digest = ?1"))?
                .query_row([digest], code_row)
                .optional()
                .context("failed to read a card code")
        })
        .await
    }

    async fn card_codes(
        &self,
        batch_id: &str,
        after: Option<String>,
        limit: u32,
    ) -> anyhow::Result<Vec<StoredCardCode>> {
        let batch_id = batch_id.to_owned();
        self.read(move |c| {
            let mut statement = c.prepare_cached(&format!(
                "SELECT {CODE_COLUMNS} FROM card_codes WHERE batch_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3"
            ))?;
            let rows = statement.query_map(params![batch_id, after.unwrap_or_default(), limit], code_row)?;
            rows.collect::<Result<Vec<_>, _>>().context("failed to read card codes")
        })
        .await
    }

    async fn redeem_card_code(&self, id: &str, member_id: &str, at: Timestamp) -> anyhow::Result<Option<i64>> {
        let (id, member_id) = (id.to_owned(), member_id.to_owned());
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let batch: Option<String> = tx
                .prepare_cached(
                    "UPDATE card_codes SET status = 'redeemed', member_id = ?2, redeemed_at = ?3 \
                     WHERE id = ?1 AND status = 'unused' AND expires_at > ?3 RETURNING batch_id",
                )?
                .query_row(params![id, member_id, at.nanos()], |r| r.get(0))
                .optional()?;
            let Some(batch) = batch else { return Ok(None) };
            let index: i64 = tx
                .prepare_cached(
                    "UPDATE card_batches SET sold = sold + 1, codes_unused = codes_unused - 1 \
                     WHERE id = ?1 AND codes_unused > 0 AND sold < quantity RETURNING sold - 1",
                )?
                .query_row([&batch], |r| r.get(0))
                .optional()?
                .with_context(|| format!("card code {id}'s batch {batch} holds no card for it"))?;
            tx.prepare_cached("UPDATE card_codes SET card_index = ?2 WHERE id = ?1")?.execute(params![id, index])?;
            tx.commit()?;
            Ok(Some(index))
        })
        .await
    }

    async fn record_card_code_failure(
        &self,
        subjects: Vec<String>,
        at: Timestamp,
        forget_before: Timestamp,
    ) -> anyhow::Result<()> {
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            for subject in &subjects {
                tx.prepare_cached("DELETE FROM card_code_failures WHERE subject = ?1 AND at < ?2")?
                    .execute(params![subject, forget_before.nanos()])?;
                tx.prepare_cached("INSERT INTO card_code_failures (subject, at) VALUES (?1, ?2)")?
                    .execute(params![subject, at.nanos()])?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn record_card_code_attempt(
        &self,
        subjects: Vec<(String, i64)>,
        at: Timestamp,
        forget_before: Timestamp,
    ) -> anyhow::Result<bool> {
        self.write(move |c| {
            // The writer's immediate transaction: no other attempt counts or records meanwhile.
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            for (subject, ceiling) in &subjects {
                tx.prepare_cached("DELETE FROM card_code_failures WHERE subject = ?1 AND at < ?2")?
                    .execute(params![subject, forget_before.nanos()])?;
                let failures: i64 = tx
                    .prepare_cached("SELECT count(*) FROM card_code_failures WHERE subject = ?1")?
                    .query_row([subject], |r| r.get(0))?;
                if failures >= *ceiling {
                    return Ok(false);
                }
            }
            for (subject, _) in &subjects {
                tx.prepare_cached("INSERT INTO card_code_failures (subject, at) VALUES (?1, ?2)")?
                    .execute(params![subject, at.nanos()])?;
            }
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    async fn forget_card_code_attempt(&self, subjects: Vec<String>, at: Timestamp) -> anyhow::Result<()> {
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            for subject in &subjects {
                tx.prepare_cached(
                    "DELETE FROM card_code_failures WHERE rowid IN \
                     (SELECT rowid FROM card_code_failures WHERE subject = ?1 AND at = ?2 LIMIT 1)",
                )?
                .execute(params![subject, at.nanos()])?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn card_code_failures(&self, subject: &str, since: Timestamp) -> anyhow::Result<i64> {
        let subject = subject.to_owned();
        self.read(move |c| {
            c.prepare_cached("SELECT count(*) FROM card_code_failures WHERE subject = ?1 AND at >= ?2")?
                .query_row(params![subject, since.nanos()], |r| r.get(0))
                .context("failed to count failed redemptions")
        })
        .await
    }

    async fn create_card_type(&self, card_type: &StoredCardType) -> anyhow::Result<()> {
        let t = card_type.clone();
        self.write(move |c| {
            c.prepare_cached(&format!("INSERT INTO card_types ({TYPE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5)"))?
                .execute(params![t.id, t.owner, t.version, t.data, t.created_at.nanos()])
                .with_context(|| format!("failed to store card type {}", t.id))?;
            Ok(())
        })
        .await
    }

    async fn card_type(&self, id: &str) -> anyhow::Result<Option<StoredCardType>> {
        let id = id.to_owned();
        self.read(move |c| {
            c.prepare_cached(&format!("SELECT {TYPE_COLUMNS} FROM card_types WHERE id = ?1"))?
                .query_row([id], type_row)
                .optional()
                .context("failed to read a card type")
        })
        .await
    }

    async fn card_types(
        &self,
        owners: Option<Vec<String>>,
        after: Option<String>,
        limit: u32,
    ) -> anyhow::Result<Vec<StoredCardType>> {
        self.read(move |c| {
            let (sql, values) = page_sql(TYPE_COLUMNS, "card_types", &owners, &after, limit);
            let mut statement = c.prepare_cached(&sql)?;
            let rows = statement.query_map(rusqlite::params_from_iter(values), type_row)?;
            rows.collect::<Result<Vec<_>, _>>().context("failed to read card types")
        })
        .await
    }

    async fn update_card_type(&self, card_type: &StoredCardType, expected: i64) -> anyhow::Result<bool> {
        let t = card_type.clone();
        self.write(move |c| {
            let updated = c
                .prepare_cached("UPDATE card_types SET version = ?2, data = ?3 WHERE id = ?1 AND version = ?4")?
                .execute(params![t.id, t.version, t.data, expected])
                .with_context(|| format!("failed to update card type {}", t.id))?;
            Ok(updated == 1)
        })
        .await
    }

    async fn create_card_segment(
        &self,
        segment: &StoredCardSegment,
        overlaps: fn(&StoredCardSegment, &StoredCardSegment) -> bool,
    ) -> anyhow::Result<bool> {
        let s = segment.clone();
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let existing = {
                let mut statement = tx.prepare_cached(&format!("SELECT {SEGMENT_COLUMNS} FROM card_segments"))?;
                let rows = statement.query_map([], segment_row)?;
                rows.collect::<Result<Vec<_>, _>>().context("failed to read card segments")?
            };
            if existing.iter().any(|other| overlaps(&s, other)) {
                return Ok(false);
            }
            tx.prepare_cached(&format!(
                "INSERT INTO card_segments ({SEGMENT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
            ))?
            .execute(params![
                s.id,
                s.prefix,
                s.serial_digits,
                s.first_serial,
                s.last_serial,
                s.next_serial,
                s.data,
                s.created_at.nanos()
            ])
            .with_context(|| format!("failed to store card segment {}", s.id))?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    async fn card_segment(&self, id: &str) -> anyhow::Result<Option<StoredCardSegment>> {
        let id = id.to_owned();
        self.read(move |c| {
            c.prepare_cached(&format!("SELECT {SEGMENT_COLUMNS} FROM card_segments WHERE id = ?1"))?
                .query_row([id], segment_row)
                .optional()
                .context("failed to read a card segment")
        })
        .await
    }

    async fn card_segments(&self, after: Option<String>, limit: u32) -> anyhow::Result<Vec<StoredCardSegment>> {
        self.read(move |c| {
            let (sql, values) = page_sql(SEGMENT_COLUMNS, "card_segments", &None, &after, limit);
            let mut statement = c.prepare_cached(&sql)?;
            let rows = statement.query_map(rusqlite::params_from_iter(values), segment_row)?;
            rows.collect::<Result<Vec<_>, _>>().context("failed to read card segments")
        })
        .await
    }

    async fn create_card_batch(&self, batch: &StoredCardBatch) -> anyhow::Result<BatchAllocation> {
        let b = batch.clone();
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let next: Option<(i64, i64)> = tx
                .prepare_cached("SELECT next_serial, last_serial FROM card_segments WHERE id = ?1")?
                .query_row([&b.segment_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let Some((next, last)) = next else { return Ok(BatchAllocation::NoSegment) };
            if last - next + 1 < b.quantity {
                return Ok(BatchAllocation::SegmentFull);
            }
            tx.prepare_cached("UPDATE card_segments SET next_serial = ?2 WHERE id = ?1 AND next_serial = ?3")?
                .execute(params![b.segment_id, next + b.quantity, next])?;
            tx.prepare_cached(&format!(
                "INSERT INTO card_batches ({BATCH_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
            ))?
            .execute(params![
                b.id,
                b.type_id,
                b.owner,
                b.segment_id,
                next,
                b.quantity,
                b.sold,
                b.status,
                b.version,
                b.data,
                b.created_at.nanos()
            ])
            .with_context(|| format!("failed to store card batch {}", b.id))?;
            tx.commit()?;
            Ok(BatchAllocation::Allocated { first_serial: next })
        })
        .await
    }

    async fn card_batch(&self, id: &str) -> anyhow::Result<Option<StoredCardBatch>> {
        let id = id.to_owned();
        self.read(move |c| {
            c.prepare_cached(&format!("SELECT {BATCH_COLUMNS} FROM card_batches WHERE id = ?1"))?
                .query_row([id], batch_row)
                .optional()
                .context("failed to read a card batch")
        })
        .await
    }

    async fn card_batches(
        &self,
        owners: Option<Vec<String>>,
        after: Option<String>,
        limit: u32,
    ) -> anyhow::Result<Vec<StoredCardBatch>> {
        self.read(move |c| {
            let (sql, values) = page_sql(BATCH_COLUMNS, "card_batches", &owners, &after, limit);
            let mut statement = c.prepare_cached(&sql)?;
            let rows = statement.query_map(rusqlite::params_from_iter(values), batch_row)?;
            rows.collect::<Result<Vec<_>, _>>().context("failed to read card batches")
        })
        .await
    }

    async fn update_card_batch(&self, batch: &StoredCardBatch, expected: i64) -> anyhow::Result<bool> {
        let b = batch.clone();
        self.write(move |c| {
            let updated = c
                .prepare_cached(
                    "UPDATE card_batches SET status = ?2, version = ?3, data = ?4 WHERE id = ?1 AND version = ?5",
                )?
                .execute(params![b.id, b.status, b.version, b.data, expected])
                .with_context(|| format!("failed to update card batch {}", b.id))?;
            Ok(updated == 1)
        })
        .await
    }

    async fn take_card_of_batch(&self, batch_id: &str, at: Timestamp) -> anyhow::Result<Option<i64>> {
        let id = batch_id.to_owned();
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            release_expired_codes(&tx, &id, at)?;
            let index = tx
                .prepare_cached(
                    "UPDATE card_batches SET sold = sold + 1 WHERE id = ?1 AND status = 'approved' \
                     AND sold + codes_unused < quantity \
                     RETURNING sold - 1",
                )?
                .query_row([&id], |r| r.get(0))
                .optional()
                .context("failed to take a card of a batch")?;
            tx.commit()?;
            Ok(index)
        })
        .await
    }

    async fn create_card(&self, card: &StoredCard, sale: &StoredCardTransaction) -> anyhow::Result<bool> {
        let (k, t) = (card.clone(), sale.clone());
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if !insert_transaction(&tx, &t)? {
                return Ok(false);
            }
            tx.prepare_cached(&format!(
                "INSERT INTO cards ({CARD_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
            ))?
            .execute(params![
                k.number,
                k.batch_id,
                k.type_id,
                k.owner,
                k.member_id,
                k.account_id,
                k.status,
                k.version,
                k.data,
                k.created_at.nanos(),
                k.blocks_pending_since.map(Timestamp::nanos),
                k.valid_until.map(Timestamp::nanos)
            ])
            .with_context(|| format!("failed to store card {}", k.number))?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    async fn card(&self, number: &str) -> anyhow::Result<Option<StoredCard>> {
        let number = number.to_owned();
        self.read(move |c| {
            c.prepare_cached(&format!("SELECT {CARD_COLUMNS} FROM cards WHERE number = ?1"))?
                .query_row([number], card_row)
                .optional()
                .context("failed to read a card")
        })
        .await
    }

    async fn update_card(&self, card: &StoredCard, expected: i64) -> anyhow::Result<bool> {
        let k = card.clone();
        self.write(move |c| {
            let updated = c
                .prepare_cached(
                    "UPDATE cards SET member_id = ?2, status = ?3, version = ?4, data = ?5, \
                     blocks_pending_since = ?7, valid_until = ?8 WHERE number = ?1 AND version = ?6",
                )?
                .execute(params![
                    k.number,
                    k.member_id,
                    k.status,
                    k.version,
                    k.data,
                    expected,
                    k.blocks_pending_since.map(Timestamp::nanos),
                    k.valid_until.map(Timestamp::nanos)
                ])
                .with_context(|| format!("failed to update card {}", k.number))?;
            Ok(updated == 1)
        })
        .await
    }

    async fn cards_blocks_pending(&self, before: Timestamp, limit: u32) -> anyhow::Result<Vec<StoredCard>> {
        self.read(move |c| {
            let mut statement = c.prepare_cached(&format!(
                "SELECT {CARD_COLUMNS} FROM cards WHERE blocks_pending_since IS NOT NULL \
                 AND blocks_pending_since < ?1 ORDER BY blocks_pending_since LIMIT ?2"
            ))?;
            let rows = statement.query_map(params![before.nanos(), i64::from(limit)], card_row)?;
            rows.collect::<Result<Vec<_>, _>>().context("failed to read cards with blocks pending")
        })
        .await
    }

    async fn cards_expiring(&self, before: Timestamp, limit: u32) -> anyhow::Result<Vec<StoredCard>> {
        self.read(move |c| {
            let mut statement = c.prepare_cached(&format!(
                "SELECT {CARD_COLUMNS} FROM cards WHERE status = 'active' AND valid_until IS NOT NULL \
                 AND valid_until <= ?1 ORDER BY valid_until LIMIT ?2"
            ))?;
            let rows = statement.query_map(params![before.nanos(), i64::from(limit)], card_row)?;
            rows.collect::<Result<Vec<_>, _>>().context("failed to read expiring cards")
        })
        .await
    }

    async fn card_transaction_totals(
        &self,
        owners: Option<Vec<String>>,
        from: Option<Timestamp>,
        until: Timestamp,
        limit: u32,
    ) -> anyhow::Result<Vec<CardTransactionTotal>> {
        self.read(move |c| {
            let mut values =
                vec![Value::Integer(from.map_or(i64::MIN, Timestamp::nanos)), Value::Integer(until.nanos())];
            let mut sql = format!(
                "SELECT c.type_id, c.owner, {TOTAL_KIND} AS total_kind, SUM(t.amount), COUNT(*) \
                 FROM card_transactions t JOIN cards c ON c.number = t.card_number \
                 WHERE t.status = 'succeeded' AND t.created_at >= ? AND t.created_at < ?"
            );
            owners_filter(&mut sql, &mut values, &owners, "c.owner");
            sql.push_str(" GROUP BY c.type_id, c.owner, total_kind ORDER BY c.type_id, c.owner, total_kind LIMIT ?");
            values.push(Value::Integer(i64::from(limit)));
            let mut statement = c.prepare_cached(&sql)?;
            let rows = statement.query_map(rusqlite::params_from_iter(values), |r| {
                Ok(CardTransactionTotal {
                    type_id: r.get(0)?,
                    owner: r.get(1)?,
                    kind: r.get(2)?,
                    amount: r.get(3)?,
                    count: r.get(4)?,
                })
            })?;
            rows.collect::<Result<Vec<_>, _>>().context("failed to total card transactions")
        })
        .await
    }

    async fn card_status_counts(
        &self,
        owners: Option<Vec<String>>,
        limit: u32,
    ) -> anyhow::Result<Vec<CardStatusCount>> {
        self.read(move |c| {
            let mut values = Vec::new();
            let mut sql = "SELECT type_id, owner, status, COUNT(*) FROM cards WHERE 1".to_owned();
            owners_filter(&mut sql, &mut values, &owners, "owner");
            sql.push_str(" GROUP BY type_id, owner, status ORDER BY type_id, owner, status LIMIT ?");
            values.push(Value::Integer(i64::from(limit)));
            let mut statement = c.prepare_cached(&sql)?;
            let rows = statement.query_map(rusqlite::params_from_iter(values), |r| {
                Ok(CardStatusCount { type_id: r.get(0)?, owner: r.get(1)?, status: r.get(2)?, count: r.get(3)? })
            })?;
            rows.collect::<Result<Vec<_>, _>>().context("failed to count cards")
        })
        .await
    }

    async fn mark_card_reissued(
        &self,
        card: &StoredCard,
        expected: i64,
        segment_id: &str,
        serial: i64,
    ) -> anyhow::Result<ReissueMark> {
        let (k, segment_id) = (card.clone(), segment_id.to_owned());
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let taken = tx
                .prepare_cached(
                    "UPDATE card_segments SET next_serial = next_serial + 1 \
                     WHERE id = ?1 AND next_serial = ?2 AND next_serial <= last_serial",
                )?
                .execute(params![segment_id, serial])
                .context("failed to take a segment's serial")?;
            if taken != 1 {
                return Ok(ReissueMark::SerialTaken);
            }
            let updated = tx
                .prepare_cached(
                    "UPDATE cards SET member_id = ?2, status = ?3, version = ?4, data = ?5, \
                     blocks_pending_since = ?7, valid_until = ?8 WHERE number = ?1 AND version = ?6",
                )?
                .execute(params![
                    k.number,
                    k.member_id,
                    k.status,
                    k.version,
                    k.data,
                    expected,
                    k.blocks_pending_since.map(Timestamp::nanos),
                    k.valid_until.map(Timestamp::nanos)
                ])
                .with_context(|| format!("failed to mark card {} re-issued", k.number))?;
            if updated != 1 {
                return Ok(ReissueMark::CardChanged);
            }
            tx.commit()?;
            Ok(ReissueMark::Marked)
        })
        .await
    }

    async fn create_card_transaction(
        &self,
        transaction: &StoredCardTransaction,
        counters: Vec<CounterAdd>,
        redeems: Option<QuoteRedemption>,
    ) -> anyhow::Result<CardInsert> {
        let (t, mut counters) = (transaction.clone(), counters);
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if !insert_transaction(&tx, &t)? {
                return Ok(CardInsert::Exists);
            }
            if let Some(redeems) = &redeems {
                if let Some(refused) = redeem_quote(&tx, &t.id, redeems)? {
                    return Ok(refused);
                }
            }
            if let Some(key) = add_counters(&tx, &mut counters)? {
                return Ok(CardInsert::CounterOverLimit { key });
            }
            tx.commit()?;
            Ok(CardInsert::Stored)
        })
        .await
    }

    async fn create_card_refund(&self, refund: &StoredCardTransaction, payment_id: &str) -> anyhow::Result<bool> {
        let (t, payment) = (refund.clone(), payment_id.to_owned());
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if !insert_transaction(&tx, &t)? {
                return Ok(false);
            }
            let fits = tx
                .prepare_cached(
                    "UPDATE card_transactions SET refunded = refunded + ?2 \
                     WHERE id = ?1 AND kind = 'payment' AND refunded + ?2 <= amount",
                )?
                .execute(params![payment, t.amount])?;
            if fits != 1 {
                return Ok(false);
            }
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    async fn card_transaction(&self, id: &str) -> anyhow::Result<Option<StoredCardTransaction>> {
        let id = id.to_owned();
        self.read(move |c| {
            c.prepare_cached(&format!("SELECT {TRANSACTION_COLUMNS} FROM card_transactions WHERE id = ?1"))?
                .query_row([id], transaction_row)
                .optional()
                .context("failed to read a card transaction")
        })
        .await
    }

    async fn settle_card_transaction(
        &self,
        transaction: &StoredCardTransaction,
        released_from: Option<String>,
        counters: Vec<CounterAdd>,
    ) -> anyhow::Result<bool> {
        let (t, mut counters) = (transaction.clone(), counters);
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let settled = tx
                .prepare_cached(
                    "UPDATE card_transactions SET status = ?2, data = ?3 WHERE id = ?1 AND status = 'in_flight'",
                )?
                .execute(params![t.id, t.status, t.data])
                .with_context(|| format!("failed to settle card transaction {}", t.id))?;
            if settled == 1 {
                match (&released_from, t.status.as_str()) {
                    (Some(payment), "failed") => {
                        tx.prepare_cached(
                            "UPDATE card_transactions SET refunded = refunded - ?2 WHERE id = ?1 AND refunded >= ?2",
                        )?
                        .execute(params![payment, t.amount])?;
                    }
                    (Some(payment), "succeeded") => return_coupons(&tx, payment)?,
                    (None, "failed") if t.kind == "payment" => release_quote(&tx, &t.id)?,
                    _ => {}
                }
                if let Some(key) = add_counters(&tx, &mut counters)? {
                    anyhow::bail!("counter {key} passed its limit giving back");
                }
            }
            tx.commit()?;
            Ok(settled == 1)
        })
        .await
    }

    async fn card_transactions(
        &self,
        number: &str,
        before: Option<(i64, String)>,
        limit: u32,
    ) -> anyhow::Result<Vec<StoredCardTransaction>> {
        let number = number.to_owned();
        self.read(move |c| {
            let (at, id) = before.unwrap_or((i64::MAX, String::new()));
            let mut statement = c.prepare_cached(&format!(
                "SELECT {TRANSACTION_COLUMNS} FROM card_transactions WHERE card_number = ?1 \
                 AND (created_at < ?2 OR (created_at = ?2 AND id < ?3 AND ?3 <> '')) \
                 ORDER BY created_at DESC, id DESC LIMIT ?4"
            ))?;
            let rows = statement.query_map(params![number, at, id, i64::from(limit)], transaction_row)?;
            rows.collect::<Result<Vec<_>, _>>().context("failed to read card transactions")
        })
        .await
    }
}
