//! Member cards on PostgreSQL (see `crate::card`). What must hold when several instances write at
//! once is one statement (a compare-and-set on a version, `sold` or `next_serial` moved on in the
//! statement that checks it) or one transaction under a lock: a new segment is checked against the
//! others under a transaction-level advisory lock, a batch's serials are taken from its segment's row
//! locked `FOR UPDATE`.

use anyhow::Context;
use sanhu_core::Timestamp;
use tokio_postgres::types::ToSql;
use tokio_postgres::{GenericClient, Row};

use super::PostgresStore;
use crate::card::*;

fn type_row(r: &Row) -> anyhow::Result<StoredCardType> {
    Ok(StoredCardType {
        id: r.try_get(0)?,
        owner: r.try_get(1)?,
        version: r.try_get(2)?,
        data: r.try_get(3)?,
        created_at: Timestamp::from_nanos(r.try_get(4)?),
    })
}

fn segment_row(r: &Row) -> anyhow::Result<StoredCardSegment> {
    Ok(StoredCardSegment {
        id: r.try_get(0)?,
        prefix: r.try_get(1)?,
        serial_digits: r.try_get(2)?,
        first_serial: r.try_get(3)?,
        last_serial: r.try_get(4)?,
        next_serial: r.try_get(5)?,
        data: r.try_get(6)?,
        created_at: Timestamp::from_nanos(r.try_get(7)?),
    })
}

fn code_row(r: &Row) -> anyhow::Result<StoredCardCode> {
    Ok(StoredCardCode {
        id: r.try_get(0)?,
        batch_id: r.try_get(1)?,
        owner: r.try_get(2)?,
        digest: r.try_get(3)?,
        status: r.try_get(4)?,
        expires_at: Timestamp::from_nanos(r.try_get(5)?),
        member_id: r.try_get(6)?,
        card_index: r.try_get(7)?,
        redeemed_at: r.try_get::<_, Option<i64>>(8)?.map(Timestamp::from_nanos),
        data: r.try_get(9)?,
        created_at: Timestamp::from_nanos(r.try_get(10)?),
    })
}

fn batch_row(r: &Row) -> anyhow::Result<StoredCardBatch> {
    Ok(StoredCardBatch {
        id: r.try_get(0)?,
        type_id: r.try_get(1)?,
        owner: r.try_get(2)?,
        segment_id: r.try_get(3)?,
        first_serial: r.try_get(4)?,
        quantity: r.try_get(5)?,
        sold: r.try_get(6)?,
        status: r.try_get(7)?,
        version: r.try_get(8)?,
        data: r.try_get(9)?,
        created_at: Timestamp::from_nanos(r.try_get(10)?),
    })
}

fn card_row(r: &Row) -> anyhow::Result<StoredCard> {
    Ok(StoredCard {
        number: r.try_get(0)?,
        batch_id: r.try_get(1)?,
        type_id: r.try_get(2)?,
        owner: r.try_get(3)?,
        member_id: r.try_get(4)?,
        account_id: r.try_get(5)?,
        status: r.try_get(6)?,
        version: r.try_get(7)?,
        data: r.try_get(8)?,
        created_at: Timestamp::from_nanos(r.try_get(9)?),
        blocks_pending_since: r.try_get::<_, Option<i64>>(10)?.map(Timestamp::from_nanos),
        valid_until: r.try_get::<_, Option<i64>>(11)?.map(Timestamp::from_nanos),
    })
}

fn transaction_row(r: &Row) -> anyhow::Result<StoredCardTransaction> {
    Ok(StoredCardTransaction {
        id: r.try_get(0)?,
        card_number: r.try_get(1)?,
        kind: r.try_get(2)?,
        amount: r.try_get(3)?,
        refunded: r.try_get(4)?,
        status: r.try_get(5)?,
        data: r.try_get(6)?,
        created_at: Timestamp::from_nanos(r.try_get(7)?),
    })
}

async fn insert_transaction(c: &(impl GenericClient + Sync), t: &StoredCardTransaction) -> anyhow::Result<bool> {
    let inserted = c
        .execute(
            &format!(
                "INSERT INTO card_transactions ({TRANSACTION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (id) DO NOTHING"
            ),
            &[&t.id, &t.card_number, &t.kind, &t.amount, &t.refunded, &t.status, &t.data, &t.created_at.nanos()],
        )
        .await
        .with_context(|| format!("store card transaction {}", t.id))?;
    Ok(inserted == 1)
}

/// Moves `counters` in key order, each within its limit (as a party write does, `super::party`):
/// the key of the first that would pass its limit, and the caller rolls back.
async fn add_counters(c: &(impl GenericClient + Sync), counters: &mut [CounterAdd]) -> anyhow::Result<Option<String>> {
    counters.sort_by(|a, b| a.key.cmp(&b.key));
    for counter in counters.iter() {
        if counter.limit.is_some_and(|limit| counter.amount > limit) {
            return Ok(Some(counter.key.clone()));
        }
        let moved = c
            .execute(
                "INSERT INTO party_counters AS c (key, total) VALUES ($1, $2) \
                 ON CONFLICT (key) DO UPDATE SET total = c.total + EXCLUDED.total \
                 WHERE $3::bigint IS NULL OR c.total + EXCLUDED.total <= $3::bigint",
                &[&counter.key, &counter.amount, &counter.limit],
            )
            .await
            .with_context(|| format!("move counter {}", counter.key))?;
        if moved == 0 {
            return Ok(Some(counter.key.clone()));
        }
    }
    Ok(None)
}

impl PostgresStore {
    /// `SELECT columns FROM table WHERE id > after [AND owner = ANY(owners)] ORDER BY id LIMIT limit`:
    /// with owners, by the `(owner, id)` index.
    async fn page(
        &self,
        columns: &str,
        table: &str,
        owners: Option<Vec<String>>,
        after: Option<String>,
        limit: u32,
    ) -> anyhow::Result<Vec<Row>> {
        let after = after.unwrap_or_default();
        let limit = i64::from(limit);
        let mut values: Vec<&(dyn ToSql + Sync)> = vec![&after, &limit];
        let mut sql = format!("SELECT {columns} FROM {table} WHERE id > $1");
        if let Some(owners) = &owners {
            sql.push_str(" AND owner = ANY($3)");
            values.push(owners);
        }
        sql.push_str(" ORDER BY id LIMIT $2");
        let conn = self.inner.general.get().await?;
        conn.client.query(&sql, &values).await.with_context(|| format!("read {table}"))
    }
}

/// Marks up to [`EXPIRED_CODES_RELEASED_MAX`] of the batch's unused codes expired at `at` as
/// `expired`, giving their cards back to the batch's sales. A code redeemed meanwhile is left alone:
/// the update checks its status again on the row it waited for.
async fn release_expired_codes(
    tx: &tokio_postgres::Transaction<'_>,
    batch_id: &str,
    at: Timestamp,
) -> anyhow::Result<()> {
    let released = tx
        .execute(
            "UPDATE card_codes SET status = 'expired' WHERE id IN (SELECT id FROM card_codes \
             WHERE batch_id = $1 AND status = 'unused' AND expires_at <= $2 ORDER BY id LIMIT $3) \
             AND status = 'unused' AND expires_at <= $2",
            &[&batch_id, &at.nanos(), &EXPIRED_CODES_RELEASED_MAX],
        )
        .await
        .context("release expired card codes")?;
    if released > 0 {
        tx.execute(
            "UPDATE card_batches SET codes_unused = codes_unused - $2 WHERE id = $1",
            &[&batch_id, &i64::try_from(released)?],
        )
        .await?;
    }
    Ok(())
}

fn coupon_template_row(r: &Row) -> anyhow::Result<StoredCouponTemplate> {
    Ok(StoredCouponTemplate {
        id: r.try_get(0)?,
        owner: r.try_get(1)?,
        quantity: r.try_get(2)?,
        issued: r.try_get(3)?,
        per_member: r.try_get(4)?,
        data: r.try_get(5)?,
        created_at: Timestamp::from_nanos(r.try_get(6)?),
    })
}

fn coupon_row(r: &Row) -> anyhow::Result<StoredCoupon> {
    Ok(StoredCoupon {
        id: r.try_get(0)?,
        template_id: r.try_get(1)?,
        owner: r.try_get(2)?,
        member_id: r.try_get(3)?,
        status: r.try_get(4)?,
        valid_from: Timestamp::from_nanos(r.try_get(5)?),
        expires_at: Timestamp::from_nanos(r.try_get(6)?),
        returnable: r.try_get(7)?,
        payment_id: r.try_get(8)?,
        redeemed_at: r.try_get::<_, Option<i64>>(9)?.map(Timestamp::from_nanos),
        data: r.try_get(10)?,
        created_at: Timestamp::from_nanos(r.try_get(11)?),
    })
}

fn quote_row(r: &Row) -> anyhow::Result<StoredQuote> {
    Ok(StoredQuote {
        id: r.try_get(0)?,
        member_id: r.try_get(1)?,
        card_number: r.try_get(2)?,
        payment_id: r.try_get(3)?,
        expires_at: Timestamp::from_nanos(r.try_get(4)?),
        data: r.try_get(5)?,
        created_at: Timestamp::from_nanos(r.try_get(6)?),
    })
}

/// Marks the quote used by `payment` and redeems its coupons, each if still unused and valid: what
/// was not, and the caller rolls back. Two payments with one coupon at once: the second waits on the
/// first's row lock, then finds the coupon redeemed (or given back) and decides on that.
async fn redeem_quote(
    c: &(impl GenericClient + Sync),
    payment: &str,
    r: &QuoteRedemption,
) -> anyhow::Result<Option<CardInsert>> {
    let used = c
        .execute(
            "UPDATE checkout_quotes SET payment_id = $2 WHERE id = $1 AND payment_id IS NULL AND expires_at > $3",
            &[&r.quote_id, &payment, &r.at.nanos()],
        )
        .await
        .context("use a checkout quote")?;
    if used != 1 {
        return Ok(Some(CardInsert::QuoteUnavailable));
    }
    for id in &r.coupon_ids {
        let redeemed = c
            .execute(
                "UPDATE coupons SET status = 'redeemed', payment_id = $2, redeemed_at = $3 \
                 WHERE id = $1 AND status = 'unused' AND valid_from <= $3 AND expires_at > $3",
                &[id, &payment, &r.at.nanos()],
            )
            .await
            .context("redeem a coupon")?;
        if redeemed != 1 {
            return Ok(Some(CardInsert::CouponUnavailable { id: id.clone() }));
        }
    }
    Ok(None)
}

impl CardStore for PostgresStore {
    async fn create_coupon_template(&self, template: &StoredCouponTemplate) -> anyhow::Result<()> {
        let t = template;
        let conn = self.inner.general.get().await?;
        conn.client
            .execute(
                &format!(
                    "INSERT INTO coupon_templates ({COUPON_TEMPLATE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
                ),
                &[&t.id, &t.owner, &t.quantity, &t.issued, &t.per_member, &t.data, &t.created_at.nanos()],
            )
            .await
            .with_context(|| format!("store coupon template {}", t.id))?;
        Ok(())
    }

    async fn coupon_template(&self, id: &str) -> anyhow::Result<Option<StoredCouponTemplate>> {
        let conn = self.inner.general.get().await?;
        let row = conn
            .client
            .query_opt(&format!("SELECT {COUPON_TEMPLATE_COLUMNS} FROM coupon_templates WHERE id = $1"), &[&id])
            .await
            .context("read a coupon template")?;
        row.as_ref().map(coupon_template_row).transpose()
    }

    async fn coupon_templates(
        &self,
        owners: Option<Vec<String>>,
        after: Option<String>,
        limit: u32,
    ) -> anyhow::Result<Vec<StoredCouponTemplate>> {
        self.page(COUPON_TEMPLATE_COLUMNS, "coupon_templates", owners, after, limit)
            .await?
            .iter()
            .map(coupon_template_row)
            .collect()
    }

    async fn issue_coupon(&self, coupon: &StoredCoupon) -> anyhow::Result<CouponIssue> {
        let k = coupon;
        let mut conn = self.inner.general.get().await?;
        let tx = conn.client.transaction().await?;
        // The template's row lock, taken here, is held to the commit: concurrent issues of one
        // template are decided one after another, each counting the member's coupons the last left.
        let row = tx
            .query_opt(
                "UPDATE coupon_templates SET issued = issued + 1 WHERE id = $1 AND issued < quantity \
                 RETURNING per_member",
                &[&k.template_id],
            )
            .await
            .context("count a coupon issued")?;
        let Some(row) = row else { return Ok(CouponIssue::SoldOut) };
        let per_member: i64 = row.try_get(0)?;
        let held: i64 = tx
            .query_one(
                "SELECT count(*) FROM coupons WHERE template_id = $1 AND member_id = $2",
                &[&k.template_id, &k.member_id],
            )
            .await?
            .try_get(0)?;
        if held >= per_member {
            return Ok(CouponIssue::MemberLimit);
        }
        tx.execute(
            &format!(
                "INSERT INTO coupons ({COUPON_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
            ),
            &[
                &k.id,
                &k.template_id,
                &k.owner,
                &k.member_id,
                &k.status,
                &k.valid_from.nanos(),
                &k.expires_at.nanos(),
                &k.returnable,
                &k.payment_id,
                &k.redeemed_at.map(Timestamp::nanos),
                &k.data,
                &k.created_at.nanos(),
            ],
        )
        .await
        .with_context(|| format!("store coupon {}", k.id))?;
        tx.commit().await?;
        Ok(CouponIssue::Issued)
    }

    async fn coupon(&self, id: &str) -> anyhow::Result<Option<StoredCoupon>> {
        let conn = self.inner.general.get().await?;
        let row = conn
            .client
            .query_opt(&format!("SELECT {COUPON_COLUMNS} FROM coupons WHERE id = $1"), &[&id])
            .await
            .context("read a coupon")?;
        row.as_ref().map(coupon_row).transpose()
    }

    async fn member_coupons(
        &self,
        member_id: &str,
        after: Option<String>,
        limit: u32,
    ) -> anyhow::Result<Vec<StoredCoupon>> {
        let conn = self.inner.general.get().await?;
        let rows = conn
            .client
            .query(
                &format!("SELECT {COUPON_COLUMNS} FROM coupons WHERE member_id = $1 AND id > $2 ORDER BY id LIMIT $3"),
                &[&member_id, &after.unwrap_or_default(), &i64::from(limit)],
            )
            .await
            .context("read a member's coupons")?;
        rows.iter().map(coupon_row).collect()
    }

    async fn create_quote(&self, quote: &StoredQuote) -> anyhow::Result<()> {
        let q = quote;
        let conn = self.inner.general.get().await?;
        conn.client
            .execute(
                &format!("INSERT INTO checkout_quotes ({QUOTE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"),
                &[
                    &q.id,
                    &q.member_id,
                    &q.card_number,
                    &q.payment_id,
                    &q.expires_at.nanos(),
                    &q.data,
                    &q.created_at.nanos(),
                ],
            )
            .await
            .with_context(|| format!("store quote {}", q.id))?;
        Ok(())
    }

    async fn quote(&self, id: &str) -> anyhow::Result<Option<StoredQuote>> {
        let conn = self.inner.general.get().await?;
        let row = conn
            .client
            .query_opt(&format!("SELECT {QUOTE_COLUMNS} FROM checkout_quotes WHERE id = $1"), &[&id])
            .await
            .context("read a quote")?;
        row.as_ref().map(quote_row).transpose()
    }
    async fn create_card_codes(
        &self,
        batch_id: &str,
        codes: Vec<StoredCardCode>,
        at: Timestamp,
    ) -> anyhow::Result<CodesInsert> {
        let mut conn = self.inner.general.get().await?;
        let tx = conn.client.transaction().await?;
        // The codes' rows before the batch's, as a redemption takes them.
        release_expired_codes(&tx, batch_id, at).await?;
        let row = tx
            .query_opt(
                "SELECT status, quantity, sold, codes_unused FROM card_batches WHERE id = $1 FOR UPDATE",
                &[&batch_id],
            )
            .await
            .context("lock a card batch")?;
        let Some(row) = row else { return Ok(CodesInsert::NotApproved) };
        let (status, quantity, sold, held): (String, i64, i64, i64) =
            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?, row.try_get(3)?);
        if status != "approved" {
            return Ok(CodesInsert::NotApproved);
        }
        let adding = i64::try_from(codes.len())?;
        if sold + held + adding > quantity {
            return Ok(CodesInsert::OverQuantity);
        }
        tx.execute("UPDATE card_batches SET codes_unused = codes_unused + $2 WHERE id = $1", &[&batch_id, &adding])
            .await?;
        let insert = tx
            .prepare(&format!(
                "INSERT INTO card_codes ({CODE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
            ))
            .await?;
        for k in &codes {
            tx.execute(
                &insert,
                &[
                    &k.id,
                    &k.batch_id,
                    &k.owner,
                    &k.digest,
                    &k.status,
                    &k.expires_at.nanos(),
                    &k.member_id,
                    &k.card_index,
                    &k.redeemed_at.map(Timestamp::nanos),
                    &k.data,
                    &k.created_at.nanos(),
                ],
            )
            .await
            .with_context(|| format!("store card code {}", k.id))?;
        }
        tx.commit().await?;
        Ok(CodesInsert::Stored)
    }

    async fn card_code_by_digest(&self, digest: &str) -> anyhow::Result<Option<StoredCardCode>> {
        let conn = self.inner.general.get().await?;
        let row = conn
            .client
            .query_opt(&format!("SELECT {CODE_COLUMNS} FROM card_codes WHERE digest = $1"), &[&digest])
            .await
            .context("read a card code")?;
        row.as_ref().map(code_row).transpose()
    }

    async fn card_codes(
        &self,
        batch_id: &str,
        after: Option<String>,
        limit: u32,
    ) -> anyhow::Result<Vec<StoredCardCode>> {
        let conn = self.inner.general.get().await?;
        let rows = conn
            .client
            .query(
                &format!("SELECT {CODE_COLUMNS} FROM card_codes WHERE batch_id = $1 AND id > $2 ORDER BY id LIMIT $3"),
                &[&batch_id, &after.unwrap_or_default(), &i64::from(limit)],
            )
            .await
            .context("read card codes")?;
        rows.iter().map(code_row).collect()
    }

    async fn redeem_card_code(&self, id: &str, member_id: &str, at: Timestamp) -> anyhow::Result<Option<i64>> {
        let mut conn = self.inner.general.get().await?;
        let tx = conn.client.transaction().await?;
        // Two redemptions of one code at once: the second waits on the first's row lock, then finds
        // the code redeemed and updates nothing.
        let row = tx
            .query_opt(
                "UPDATE card_codes SET status = 'redeemed', member_id = $2, redeemed_at = $3 \
                 WHERE id = $1 AND status = 'unused' AND expires_at > $3 RETURNING batch_id",
                &[&id, &member_id, &at.nanos()],
            )
            .await
            .context("redeem a card code")?;
        let Some(row) = row else { return Ok(None) };
        let batch: String = row.try_get(0)?;
        let index: i64 = tx
            .query_opt(
                "UPDATE card_batches SET sold = sold + 1, codes_unused = codes_unused - 1 \
                 WHERE id = $1 AND codes_unused > 0 AND sold < quantity RETURNING sold - 1",
                &[&batch],
            )
            .await?
            .with_context(|| format!("card code {id}'s batch {batch} holds no card for it"))?
            .try_get(0)?;
        tx.execute("UPDATE card_codes SET card_index = $2 WHERE id = $1", &[&id, &index]).await?;
        tx.commit().await?;
        Ok(Some(index))
    }

    async fn record_card_code_failure(
        &self,
        subjects: Vec<String>,
        at: Timestamp,
        forget_before: Timestamp,
    ) -> anyhow::Result<()> {
        let mut conn = self.inner.general.get().await?;
        let tx = conn.client.transaction().await?;
        for subject in &subjects {
            tx.execute(
                "DELETE FROM card_code_failures WHERE subject = $1 AND at < $2",
                &[subject, &forget_before.nanos()],
            )
            .await?;
            tx.execute("INSERT INTO card_code_failures (subject, at) VALUES ($1, $2)", &[subject, &at.nanos()]).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn record_card_code_attempt(
        &self,
        subjects: Vec<(String, i64)>,
        at: Timestamp,
        forget_before: Timestamp,
    ) -> anyhow::Result<bool> {
        let mut conn = self.inner.general.get().await?;
        let tx = conn.client.transaction().await?;
        // Each subject's lock, in one order (no two attempts wait on each other in a circle), held to
        // the commit: attempts at once are counted one after another, each seeing the last's row.
        let mut locks: Vec<&String> = subjects.iter().map(|(subject, _)| subject).collect();
        locks.sort();
        locks.dedup();
        for subject in locks {
            tx.execute("SELECT pg_advisory_xact_lock(hashtext('card_code_failures ' || $1))", &[subject])
                .await
                .context("lock a subject's failed redemptions")?;
        }
        for (subject, ceiling) in &subjects {
            tx.execute(
                "DELETE FROM card_code_failures WHERE subject = $1 AND at < $2",
                &[subject, &forget_before.nanos()],
            )
            .await?;
            let failures: i64 = tx
                .query_one("SELECT count(*) FROM card_code_failures WHERE subject = $1", &[subject])
                .await?
                .try_get(0)?;
            if failures >= *ceiling {
                return Ok(false);
            }
        }
        for (subject, _) in &subjects {
            tx.execute("INSERT INTO card_code_failures (subject, at) VALUES ($1, $2)", &[subject, &at.nanos()]).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn forget_card_code_attempt(&self, subjects: Vec<String>, at: Timestamp) -> anyhow::Result<()> {
        let mut conn = self.inner.general.get().await?;
        let tx = conn.client.transaction().await?;
        for subject in &subjects {
            tx.execute(
                "DELETE FROM card_code_failures WHERE ctid IN \
                 (SELECT ctid FROM card_code_failures WHERE subject = $1 AND at = $2 LIMIT 1)",
                &[subject, &at.nanos()],
            )
            .await
            .context("forget a redemption attempt")?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn card_code_failures(&self, subject: &str, since: Timestamp) -> anyhow::Result<i64> {
        let conn = self.inner.general.get().await?;
        let row = conn
            .client
            .query_one(
                "SELECT count(*) FROM card_code_failures WHERE subject = $1 AND at >= $2",
                &[&subject, &since.nanos()],
            )
            .await
            .context("count failed redemptions")?;
        Ok(row.try_get(0)?)
    }

    async fn create_card_type(&self, card_type: &StoredCardType) -> anyhow::Result<()> {
        let t = card_type;
        let conn = self.inner.general.get().await?;
        conn.client
            .execute(
                &format!("INSERT INTO card_types ({TYPE_COLUMNS}) VALUES ($1, $2, $3, $4, $5)"),
                &[&t.id, &t.owner, &t.version, &t.data, &t.created_at.nanos()],
            )
            .await
            .with_context(|| format!("store card type {}", t.id))?;
        Ok(())
    }

    async fn card_type(&self, id: &str) -> anyhow::Result<Option<StoredCardType>> {
        let conn = self.inner.general.get().await?;
        let row = conn
            .client
            .query_opt(&format!("SELECT {TYPE_COLUMNS} FROM card_types WHERE id = $1"), &[&id])
            .await
            .context("read a card type")?;
        row.as_ref().map(type_row).transpose()
    }

    async fn card_types(
        &self,
        owners: Option<Vec<String>>,
        after: Option<String>,
        limit: u32,
    ) -> anyhow::Result<Vec<StoredCardType>> {
        self.page(TYPE_COLUMNS, "card_types", owners, after, limit).await?.iter().map(type_row).collect()
    }

    async fn update_card_type(&self, card_type: &StoredCardType, expected: i64) -> anyhow::Result<bool> {
        let t = card_type;
        let conn = self.inner.general.get().await?;
        let updated = conn
            .client
            .execute(
                "UPDATE card_types SET version = $2, data = $3 WHERE id = $1 AND version = $4",
                &[&t.id, &t.version, &t.data, &expected],
            )
            .await
            .with_context(|| format!("update card type {}", t.id))?;
        Ok(updated == 1)
    }

    async fn create_card_segment(
        &self,
        segment: &StoredCardSegment,
        overlaps: fn(&StoredCardSegment, &StoredCardSegment) -> bool,
    ) -> anyhow::Result<bool> {
        let s = segment;
        let mut conn = self.inner.general.get().await?;
        let tx = conn.client.transaction().await?;
        tx.batch_execute("SELECT pg_advisory_xact_lock(hashtext('sanhu card segments ' || current_schema()))")
            .await
            .context("take the card segments' lock")?;
        let existing = tx.query(&format!("SELECT {SEGMENT_COLUMNS} FROM card_segments"), &[]).await?;
        for row in &existing {
            if overlaps(s, &segment_row(row)?) {
                return Ok(false);
            }
        }
        tx.execute(
            &format!("INSERT INTO card_segments ({SEGMENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"),
            &[
                &s.id,
                &s.prefix,
                &s.serial_digits,
                &s.first_serial,
                &s.last_serial,
                &s.next_serial,
                &s.data,
                &s.created_at.nanos(),
            ],
        )
        .await
        .with_context(|| format!("store card segment {}", s.id))?;
        tx.commit().await?;
        Ok(true)
    }

    async fn card_segment(&self, id: &str) -> anyhow::Result<Option<StoredCardSegment>> {
        let conn = self.inner.general.get().await?;
        let row = conn
            .client
            .query_opt(&format!("SELECT {SEGMENT_COLUMNS} FROM card_segments WHERE id = $1"), &[&id])
            .await
            .context("read a card segment")?;
        row.as_ref().map(segment_row).transpose()
    }

    async fn card_segments(&self, after: Option<String>, limit: u32) -> anyhow::Result<Vec<StoredCardSegment>> {
        self.page(SEGMENT_COLUMNS, "card_segments", None, after, limit).await?.iter().map(segment_row).collect()
    }

    async fn create_card_batch(&self, batch: &StoredCardBatch) -> anyhow::Result<BatchAllocation> {
        let b = batch;
        let mut conn = self.inner.general.get().await?;
        let tx = conn.client.transaction().await?;
        let row = tx
            .query_opt("SELECT next_serial, last_serial FROM card_segments WHERE id = $1 FOR UPDATE", &[&b.segment_id])
            .await
            .context("lock a card segment")?;
        let Some(row) = row else { return Ok(BatchAllocation::NoSegment) };
        let (next, last): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
        if last - next + 1 < b.quantity {
            return Ok(BatchAllocation::SegmentFull);
        }
        tx.execute("UPDATE card_segments SET next_serial = $2 WHERE id = $1", &[&b.segment_id, &(next + b.quantity)])
            .await?;
        tx.execute(
            &format!(
                "INSERT INTO card_batches ({BATCH_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
            ),
            &[
                &b.id,
                &b.type_id,
                &b.owner,
                &b.segment_id,
                &next,
                &b.quantity,
                &b.sold,
                &b.status,
                &b.version,
                &b.data,
                &b.created_at.nanos(),
            ],
        )
        .await
        .with_context(|| format!("store card batch {}", b.id))?;
        tx.commit().await?;
        Ok(BatchAllocation::Allocated { first_serial: next })
    }

    async fn card_batch(&self, id: &str) -> anyhow::Result<Option<StoredCardBatch>> {
        let conn = self.inner.general.get().await?;
        let row = conn
            .client
            .query_opt(&format!("SELECT {BATCH_COLUMNS} FROM card_batches WHERE id = $1"), &[&id])
            .await
            .context("read a card batch")?;
        row.as_ref().map(batch_row).transpose()
    }

    async fn card_batches(
        &self,
        owners: Option<Vec<String>>,
        after: Option<String>,
        limit: u32,
    ) -> anyhow::Result<Vec<StoredCardBatch>> {
        self.page(BATCH_COLUMNS, "card_batches", owners, after, limit).await?.iter().map(batch_row).collect()
    }

    async fn update_card_batch(&self, batch: &StoredCardBatch, expected: i64) -> anyhow::Result<bool> {
        let b = batch;
        let conn = self.inner.general.get().await?;
        let updated = conn
            .client
            .execute(
                "UPDATE card_batches SET status = $2, version = $3, data = $4 WHERE id = $1 AND version = $5",
                &[&b.id, &b.status, &b.version, &b.data, &expected],
            )
            .await
            .with_context(|| format!("update card batch {}", b.id))?;
        Ok(updated == 1)
    }

    async fn take_card_of_batch(&self, batch_id: &str, at: Timestamp) -> anyhow::Result<Option<i64>> {
        let mut conn = self.inner.general.get().await?;
        let tx = conn.client.transaction().await?;
        release_expired_codes(&tx, batch_id, at).await?;
        let row = tx
            .query_opt(
                "UPDATE card_batches SET sold = sold + 1 WHERE id = $1 AND status = 'approved' \
                 AND sold + codes_unused < quantity \
                 RETURNING sold - 1",
                &[&batch_id],
            )
            .await
            .context("take a card of a batch")?;
        let index = row.map(|r| r.try_get(0)).transpose()?;
        tx.commit().await?;
        Ok(index)
    }

    async fn create_card(&self, card: &StoredCard, sale: &StoredCardTransaction) -> anyhow::Result<bool> {
        let k = card;
        let mut conn = self.inner.general.get().await?;
        let tx = conn.client.transaction().await?;
        if !insert_transaction(&tx, sale).await? {
            return Ok(false);
        }
        tx.execute(
            &format!("INSERT INTO cards ({CARD_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"),
            &[
                &k.number,
                &k.batch_id,
                &k.type_id,
                &k.owner,
                &k.member_id,
                &k.account_id,
                &k.status,
                &k.version,
                &k.data,
                &k.created_at.nanos(),
                &k.blocks_pending_since.map(Timestamp::nanos),
                &k.valid_until.map(Timestamp::nanos),
            ],
        )
        .await
        .with_context(|| format!("store card {}", k.number))?;
        tx.commit().await?;
        Ok(true)
    }

    async fn card(&self, number: &str) -> anyhow::Result<Option<StoredCard>> {
        let conn = self.inner.general.get().await?;
        let row = conn
            .client
            .query_opt(&format!("SELECT {CARD_COLUMNS} FROM cards WHERE number = $1"), &[&number])
            .await
            .context("read a card")?;
        row.as_ref().map(card_row).transpose()
    }

    async fn update_card(&self, card: &StoredCard, expected: i64) -> anyhow::Result<bool> {
        let k = card;
        let conn = self.inner.general.get().await?;
        let updated = conn
            .client
            .execute(
                "UPDATE cards SET member_id = $2, status = $3, version = $4, data = $5, blocks_pending_since = $7, \
                 valid_until = $8 WHERE number = $1 AND version = $6",
                &[
                    &k.number,
                    &k.member_id,
                    &k.status,
                    &k.version,
                    &k.data,
                    &expected,
                    &k.blocks_pending_since.map(Timestamp::nanos),
                    &k.valid_until.map(Timestamp::nanos),
                ],
            )
            .await
            .with_context(|| format!("update card {}", k.number))?;
        Ok(updated == 1)
    }

    async fn cards_blocks_pending(&self, before: Timestamp, limit: u32) -> anyhow::Result<Vec<StoredCard>> {
        let conn = self.inner.general.get().await?;
        let rows = conn
            .client
            .query(
                &format!(
                    "SELECT {CARD_COLUMNS} FROM cards WHERE blocks_pending_since IS NOT NULL \
                     AND blocks_pending_since < $1 ORDER BY blocks_pending_since LIMIT $2"
                ),
                &[&before.nanos(), &i64::from(limit)],
            )
            .await
            .context("read cards with blocks pending")?;
        rows.iter().map(card_row).collect()
    }

    async fn cards_expiring(&self, before: Timestamp, limit: u32) -> anyhow::Result<Vec<StoredCard>> {
        let conn = self.inner.general.get().await?;
        let rows = conn
            .client
            .query(
                &format!(
                    "SELECT {CARD_COLUMNS} FROM cards WHERE status = 'active' AND valid_until IS NOT NULL \
                     AND valid_until <= $1 ORDER BY valid_until LIMIT $2"
                ),
                &[&before.nanos(), &i64::from(limit)],
            )
            .await
            .context("read expiring cards")?;
        rows.iter().map(card_row).collect()
    }

    async fn card_transaction_totals(
        &self,
        owners: Option<Vec<String>>,
        from: Option<Timestamp>,
        until: Timestamp,
        limit: u32,
    ) -> anyhow::Result<Vec<CardTransactionTotal>> {
        let (from, until, limit) = (from.map_or(i64::MIN, Timestamp::nanos), until.nanos(), i64::from(limit));
        let mut values: Vec<&(dyn ToSql + Sync)> = vec![&from, &until, &limit];
        let mut sql = format!(
            "SELECT c.type_id, c.owner, {TOTAL_KIND} AS total_kind, SUM(t.amount)::BIGINT, COUNT(*) \
             FROM card_transactions t JOIN cards c ON c.number = t.card_number \
             WHERE t.status = 'succeeded' AND t.created_at >= $1 AND t.created_at < $2"
        );
        if let Some(owners) = &owners {
            sql.push_str(" AND c.owner = ANY($4)");
            values.push(owners);
        }
        sql.push_str(" GROUP BY c.type_id, c.owner, total_kind ORDER BY c.type_id, c.owner, total_kind LIMIT $3");
        let conn = self.inner.general.get().await?;
        let rows = conn.client.query(&sql, &values).await.context("total card transactions")?;
        rows.iter()
            .map(|r| {
                Ok(CardTransactionTotal {
                    type_id: r.try_get(0)?,
                    owner: r.try_get(1)?,
                    kind: r.try_get(2)?,
                    amount: r.try_get(3)?,
                    count: r.try_get(4)?,
                })
            })
            .collect()
    }

    async fn card_status_counts(
        &self,
        owners: Option<Vec<String>>,
        limit: u32,
    ) -> anyhow::Result<Vec<CardStatusCount>> {
        let limit = i64::from(limit);
        let mut values: Vec<&(dyn ToSql + Sync)> = vec![&limit];
        let mut sql = "SELECT type_id, owner, status, COUNT(*) FROM cards WHERE TRUE".to_owned();
        if let Some(owners) = &owners {
            sql.push_str(" AND owner = ANY($2)");
            values.push(owners);
        }
        sql.push_str(" GROUP BY type_id, owner, status ORDER BY type_id, owner, status LIMIT $1");
        let conn = self.inner.general.get().await?;
        let rows = conn.client.query(&sql, &values).await.context("count cards")?;
        rows.iter()
            .map(|r| {
                Ok(CardStatusCount {
                    type_id: r.try_get(0)?,
                    owner: r.try_get(1)?,
                    status: r.try_get(2)?,
                    count: r.try_get(3)?,
                })
            })
            .collect()
    }

    async fn mark_card_reissued(
        &self,
        card: &StoredCard,
        expected: i64,
        segment_id: &str,
        serial: i64,
    ) -> anyhow::Result<ReissueMark> {
        let k = card;
        let mut conn = self.inner.general.get().await?;
        let tx = conn.client.transaction().await?;
        // A concurrent mark of the same serial waits for the row and then finds it moved on.
        let taken = tx
            .execute(
                "UPDATE card_segments SET next_serial = next_serial + 1 \
                 WHERE id = $1 AND next_serial = $2 AND next_serial <= last_serial",
                &[&segment_id, &serial],
            )
            .await
            .context("take a segment's serial")?;
        if taken != 1 {
            return Ok(ReissueMark::SerialTaken);
        }
        let updated = tx
            .execute(
                "UPDATE cards SET member_id = $2, status = $3, version = $4, data = $5, blocks_pending_since = $7, \
                 valid_until = $8 WHERE number = $1 AND version = $6",
                &[
                    &k.number,
                    &k.member_id,
                    &k.status,
                    &k.version,
                    &k.data,
                    &expected,
                    &k.blocks_pending_since.map(Timestamp::nanos),
                    &k.valid_until.map(Timestamp::nanos),
                ],
            )
            .await
            .with_context(|| format!("mark card {} re-issued", k.number))?;
        if updated != 1 {
            return Ok(ReissueMark::CardChanged);
        }
        tx.commit().await?;
        Ok(ReissueMark::Marked)
    }

    async fn create_card_transaction(
        &self,
        transaction: &StoredCardTransaction,
        counters: Vec<CounterAdd>,
        redeems: Option<QuoteRedemption>,
    ) -> anyhow::Result<CardInsert> {
        let mut counters = counters;
        let mut conn = self.inner.general.get().await?;
        let tx = conn.client.transaction().await?;
        if !insert_transaction(&tx, transaction).await? {
            return Ok(CardInsert::Exists);
        }
        if let Some(redeems) = &redeems {
            if let Some(refused) = redeem_quote(&tx, &transaction.id, redeems).await? {
                return Ok(refused);
            }
        }
        if let Some(key) = add_counters(&tx, &mut counters).await? {
            return Ok(CardInsert::CounterOverLimit { key });
        }
        tx.commit().await?;
        Ok(CardInsert::Stored)
    }

    async fn create_card_refund(&self, refund: &StoredCardTransaction, payment_id: &str) -> anyhow::Result<bool> {
        let mut conn = self.inner.general.get().await?;
        let tx = conn.client.transaction().await?;
        if !insert_transaction(&tx, refund).await? {
            return Ok(false);
        }
        let fits = tx
            .execute(
                "UPDATE card_transactions SET refunded = refunded + $2 \
                 WHERE id = $1 AND kind = 'payment' AND refunded + $2 <= amount",
                &[&payment_id, &refund.amount],
            )
            .await
            .context("add a refund to a card payment")?;
        if fits != 1 {
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn card_transaction(&self, id: &str) -> anyhow::Result<Option<StoredCardTransaction>> {
        let conn = self.inner.general.get().await?;
        let row = conn
            .client
            .query_opt(&format!("SELECT {TRANSACTION_COLUMNS} FROM card_transactions WHERE id = $1"), &[&id])
            .await
            .context("read a card transaction")?;
        row.as_ref().map(transaction_row).transpose()
    }

    async fn settle_card_transaction(
        &self,
        transaction: &StoredCardTransaction,
        released_from: Option<String>,
        counters: Vec<CounterAdd>,
    ) -> anyhow::Result<bool> {
        let (t, mut counters) = (transaction, counters);
        let mut conn = self.inner.general.get().await?;
        let tx = conn.client.transaction().await?;
        let settled = tx
            .execute(
                "UPDATE card_transactions SET status = $2, data = $3 WHERE id = $1 AND status = 'in_flight'",
                &[&t.id, &t.status, &t.data],
            )
            .await
            .with_context(|| format!("settle card transaction {}", t.id))?;
        if settled == 1 {
            match (&released_from, t.status.as_str()) {
                (Some(payment), "failed") => {
                    tx.execute(
                        "UPDATE card_transactions SET refunded = refunded - $2 WHERE id = $1 AND refunded >= $2",
                        &[payment, &t.amount],
                    )
                    .await
                    .context("give a refused refund's share back")?;
                }
                (Some(payment), "succeeded") => {
                    // A payment refunded in full gives its returnable coupons back.
                    tx.execute(
                        "UPDATE coupons SET status = 'unused', payment_id = NULL, redeemed_at = NULL \
                         WHERE payment_id = $1 AND status = 'redeemed' AND returnable \
                           AND EXISTS (SELECT 1 FROM card_transactions t WHERE t.id = $1 AND t.refunded >= t.amount)",
                        &[payment],
                    )
                    .await
                    .context("give a refunded payment's coupons back")?;
                }
                (None, "failed") if t.kind == "payment" => {
                    // A refused payment leaves its quote and coupons unused.
                    tx.execute(
                        "UPDATE coupons SET status = 'unused', payment_id = NULL, redeemed_at = NULL \
                         WHERE payment_id = $1 AND status = 'redeemed'",
                        &[&t.id],
                    )
                    .await
                    .context("give a refused payment's coupons back")?;
                    tx.execute("UPDATE checkout_quotes SET payment_id = NULL WHERE payment_id = $1", &[&t.id])
                        .await
                        .context("give a refused payment's quote back")?;
                }
                _ => {}
            }
            if let Some(key) = add_counters(&tx, &mut counters).await? {
                anyhow::bail!("counter {key} passed its limit giving back");
            }
        }
        tx.commit().await?;
        Ok(settled == 1)
    }

    async fn card_transactions(
        &self,
        number: &str,
        before: Option<(i64, String)>,
        limit: u32,
    ) -> anyhow::Result<Vec<StoredCardTransaction>> {
        let (at, id) = before.unwrap_or((i64::MAX, String::new()));
        let limit = i64::from(limit);
        let conn = self.inner.general.get().await?;
        let rows = conn
            .client
            .query(
                &format!(
                    "SELECT {TRANSACTION_COLUMNS} FROM card_transactions WHERE card_number = $1 \
                     AND (created_at < $2 OR (created_at = $2 AND id < $3 AND $3 <> '')) \
                     ORDER BY created_at DESC, id DESC LIMIT $4"
                ),
                &[&number, &at, &id, &limit],
            )
            .await
            .context("read card transactions")?;
        rows.iter().map(transaction_row).collect()
    }
}
