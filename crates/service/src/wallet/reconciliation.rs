//! Channel reconciliation (渠道对账): a channel's daily statement file compared with sanhu's orders of
//! that channel and day, its differences kept and resolved by staff. The file's reading and the
//! matching are core's (`sanhu_core::reconciliation`); this finds sanhu's side and keeps the imports.
//!
//! **Sanhu's side.** A recharge order is filed, when made, under its channel and number and under its
//! channel and the platform's day (`recharge.rs`); a refund of a recharge under its channel and the
//! day it was asked (`recharge_refund.rs`); a withdrawal under its number and day (`withdrawal.rs`),
//! matched with a payout channel's file (withdrawals name no channel). A line is matched with the order
//! of its number whatever its day; the day's completed orders no line names are missing in the channel.
//!
//! **Kept as party records** (no table of their own, as settlement's): an import is one record
//! (`reconciliation_import`) holding its counts and its differences, its id derived from the channel
//! and the file's SHA-256, so the same file of the same channel again finds the first import and
//! answers it. Imports are listed by the index `reconciliation_imports` (by channel, and by channel and
//! day).
//!
//! **Resolving.** A difference is resolved once, with a reason: `explain` marks it explained; `credit`
//! credits a recharge the channel paid that sanhu has pending or in review, through the recharge's own
//! completion (`confirm_recharge`, `approve_recharge`: the one ledger path, which credits an order once
//! however often it is asked), and is asked by one staff member and approved by another (the route is
//! held). The credit comes before the mark, so a crash between them is finished by asking again.

use sanhu_core::party::Actor;
use sanhu_core::reconciliation::{
    check_reason, reconcile, ChannelLayout, DifferenceKind, LineKind, ReconciliationError, SanhuOrder, StatementLine,
    DAY_ORDERS_MAX,
};
use sanhu_core::settlement::Period;
use sanhu_core::{PlatformCalendar, Timestamp};
use sanhu_store::party::PartyStore;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::recharge::{RechargeOrder, RechargeStatus, RECHARGES_BY_NUMBER, RECHARGES_OF_DAY, REFUNDS_OF_DAY};
use super::recharge_refund::RechargeRefundStatus;
use super::records::{json_document, time_ns, OrderNumber};
use super::withdrawal::{Withdrawal, WithdrawalStatus, WITHDRAWALS_BY_NUMBER, WITHDRAWALS_OF_DAY};
use super::Wallets;
use crate::party::work::actor_text;
use crate::party::Rejection;
use crate::wallet::WalletFailure;

/// The index of imports: by `channel`, and by `channel:YYYY-MM-DD`.
const IMPORTS: &str = "reconciliation_imports";

/// The most imports or differences one page lists.
pub const RECONCILIATION_PAGE_MAX: u32 = 100;

/// Index entries read at a time.
const INDEX_PAGE: u32 = 1000;
/// Records read at a time.
const READ_CHUNK: usize = 500;

fn refused(error: ReconciliationError) -> WalletFailure {
    WalletFailure::Rejected(Rejection::of(error))
}

fn import_not_found() -> WalletFailure {
    WalletFailure::NotFound(Rejection::of(ReconciliationError::ImportNotFound))
}

/// The platform's day `at` falls in, `YYYY-MM-DD`.
pub(crate) fn day_text(calendar: &PlatformCalendar, at: Timestamp) -> String {
    calendar.local_text(at).chars().take(10).collect()
}

/// An import's id: `rcn_` and 24 hex digits of the SHA-256 of the channel and the file's SHA-256.
pub fn import_id(channel: &str, file_sha256: &str) -> String {
    let digest = Sha256::digest(format!("{channel}\n{file_sha256}").as_bytes());
    format!("rcn_{}", &hex::encode(digest)[..24])
}

/// What an import found, by kind of difference.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DifferenceCounts {
    pub missing_in_sanhu: u32,
    pub missing_in_channel: u32,
    pub amount_mismatch: u32,
    pub status_mismatch: u32,
}

/// How a difference was resolved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resolution {
    /// `explain` or `credit`.
    pub action: String,
    pub reason: String,
    /// Who resolved it (the maker, for a credit).
    pub by: String,
    /// Who approved it (a credit's checker).
    pub approved_by: Option<String>,
    #[serde(with = "time_ns")]
    pub at: Timestamp,
}

/// A difference as kept in its import.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredDifference {
    /// 1, 2, ... in the import.
    pub number: u32,
    /// `missing_in_sanhu`, `missing_in_channel`, `amount_mismatch` or `status_mismatch`.
    pub kind: String,
    /// `recharge`, `refund` or `payout`.
    pub order_kind: String,
    pub order_number: String,
    pub refund_number: Option<String>,
    /// The file's line (none for a difference missing in the channel).
    pub line: Option<u32>,
    pub transaction_id: Option<String>,
    pub channel_amount: Option<i64>,
    pub channel_status: Option<String>,
    /// Sanhu's record of the order (none when sanhu has none).
    pub sanhu_record: Option<String>,
    pub sanhu_amount: Option<i64>,
    pub sanhu_status: Option<String>,
    pub resolution: Option<Resolution>,
}

impl StoredDifference {
    pub fn is_open(&self) -> bool {
        self.resolution.is_none()
    }
}

/// One import of a channel's statement file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReconciliationImport {
    pub id: String,
    /// Empty: the platform's own record.
    pub customer_id: String,
    pub channel: String,
    /// The business day, `YYYY-MM-DD`.
    pub date: String,
    pub file_sha256: String,
    /// The file's transaction lines.
    pub lines: u32,
    pub matched: u32,
    pub counts: DifferenceCounts,
    pub differences: Vec<StoredDifference>,
    pub imported_by: String,
    #[serde(with = "time_ns")]
    pub imported_at: Timestamp,
}
json_document!(ReconciliationImport, "reconciliation_import");

impl ReconciliationImport {
    /// Differences still open.
    pub fn open(&self) -> u32 {
        self.differences.iter().filter(|d| d.is_open()).count() as u32
    }
}

/// A page of imports, and the cursor of the next.
#[derive(Clone, Debug)]
pub struct ImportPage {
    pub imports: Vec<ReconciliationImport>,
    pub next: Option<String>,
}

fn stored(number: u32, difference: &sanhu_core::reconciliation::Difference) -> StoredDifference {
    let line = difference.line.as_ref();
    let order = difference.order.as_ref();
    let kind = line.map(|l| l.kind).or(order.map(|o| o.kind)).unwrap_or(LineKind::Recharge);
    StoredDifference {
        number,
        kind: difference.kind.as_str().to_owned(),
        order_kind: kind.as_str().to_owned(),
        order_number: line
            .map(|l| l.order_number.clone())
            .or(order.map(|o| o.order_number.clone()))
            .unwrap_or_default(),
        refund_number: line.and_then(|l| l.refund_number.clone()).or(order.and_then(|o| o.refund_number.clone())),
        line: line.map(|l| l.line as u32),
        transaction_id: line.and_then(|l| l.transaction_id.clone()),
        channel_amount: line.map(|l| l.amount),
        channel_status: line.and_then(|l| l.status.clone()),
        sanhu_record: order.map(|o| o.record_id.clone()),
        sanhu_amount: order.map(|o| o.amount),
        sanhu_status: order.map(|o| o.status.clone()),
        resolution: None,
    }
}

fn status_text<T: Serialize>(status: &T) -> String {
    serde_json::to_value(status).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

fn recharge_order(order: &RechargeOrder) -> SanhuOrder {
    SanhuOrder {
        kind: LineKind::Recharge,
        record_id: order.id.clone(),
        order_number: order.order_number.clone(),
        refund_number: None,
        amount: order.amount,
        status: status_text(&order.status),
        completed: order.status == RechargeStatus::Succeeded,
    }
}

/// A recharge's refunds (of day `day`, or all).
fn refund_orders(order: &RechargeOrder, day: Option<&str>) -> Vec<SanhuOrder> {
    order
        .refunds
        .iter()
        .filter(|r| day.is_none_or(|d| r.day.as_deref() == Some(d)))
        .map(|r| SanhuOrder {
            kind: LineKind::Refund,
            record_id: order.id.clone(),
            order_number: order.order_number.clone(),
            refund_number: Some(r.refund_number.clone()),
            amount: r.payout,
            status: status_text(&r.status),
            completed: r.status == RechargeRefundStatus::Succeeded,
        })
        .collect()
}

fn payout_order(withdrawal: &Withdrawal) -> SanhuOrder {
    SanhuOrder {
        kind: LineKind::Payout,
        record_id: withdrawal.id.clone(),
        order_number: withdrawal.order_number.clone(),
        refund_number: None,
        amount: withdrawal.payout,
        status: status_text(&withdrawal.status),
        completed: withdrawal.status == WithdrawalStatus::Paid,
    }
}

impl Wallets {
    /// The statement layout of `channel`: its configured one, or the common layout for a wallet
    /// channel that has none.
    pub fn reconciliation_layout(&self, channel: &str) -> Result<ChannelLayout, WalletFailure> {
        if let Some(layout) = self.config.reconciliation.iter().find(|l| l.channel == channel) {
            return Ok(layout.clone());
        }
        match self.config.channel(channel) {
            Some(_) => Ok(ChannelLayout::default_for(channel)),
            None => Err(refused(ReconciliationError::ChannelNotConfigured)),
        }
    }

    /// Checks a business day: `YYYY-MM-DD` of the platform's calendar, begun already.
    pub fn reconciliation_date(&self, date: &str) -> Result<(), WalletFailure> {
        let calendar = &self.parties.config().calendar;
        let period = Period::parse_date(calendar, date).map_err(|_| refused(ReconciliationError::DateInvalid))?;
        if period.start > crate::clock::now() {
            return Err(refused(ReconciliationError::DateInvalid));
        }
        Ok(())
    }

    /// Imports a channel's statement of `date`, read already (`lines`, of a file whose SHA-256 is
    /// `file_sha256`), and matches it with sanhu's orders. The same file of the same channel again
    /// answers its first import.
    pub async fn import_statement(
        &self,
        layout: &ChannelLayout,
        date: &str,
        file_sha256: &str,
        lines: &[StatementLine],
        actor: &Actor,
    ) -> Result<ReconciliationImport, WalletFailure> {
        let channel = layout.channel.as_str();
        let id = import_id(channel, file_sha256);
        let _turn = self.turn([id.clone()]).await;
        if let Some(existing) = self.parties.reader().get::<ReconciliationImport>(&id).await? {
            return Ok(existing);
        }
        let day = self.day_orders(layout, date).await?;
        let found = self.line_orders(layout, lines, &day).await?;
        let matching = reconcile(lines, &found, &day);
        let mut counts = DifferenceCounts::default();
        for d in &matching.differences {
            let count = match d.kind {
                DifferenceKind::MissingInSanhu => &mut counts.missing_in_sanhu,
                DifferenceKind::MissingInChannel => &mut counts.missing_in_channel,
                DifferenceKind::AmountMismatch => &mut counts.amount_mismatch,
                DifferenceKind::StatusMismatch => &mut counts.status_mismatch,
            };
            *count += 1;
        }
        let differences: Vec<StoredDifference> =
            matching.differences.iter().enumerate().map(|(i, d)| stored(i as u32 + 1, d)).collect();
        transact!(&self.parties, |work| {
            if let Some(existing) = work.get::<ReconciliationImport>(&id).await? {
                return Ok(existing);
            }
            let import = ReconciliationImport {
                id: id.clone(),
                customer_id: String::new(),
                channel: channel.to_owned(),
                date: date.to_owned(),
                file_sha256: file_sha256.to_owned(),
                lines: lines.len() as u32,
                matched: matching.matched as u32,
                counts,
                differences: differences.clone(),
                imported_by: actor_text(actor),
                imported_at: work.now,
            };
            work.put(&import);
            work.index(IMPORTS, channel, &id);
            work.index(IMPORTS, &format!("{channel}:{date}"), &id);
            work.history(
                &id,
                "",
                "reconciliation.imported",
                actor,
                None,
                json!({
                    "channel": channel, "date": date, "file_sha256": file_sha256, "lines": import.lines,
                    "matched": import.matched, "differences": import.differences.len(),
                }),
            );
            Ok(import)
        })
    }

    /// Every record id filed under `key` in `index`, at most [`DAY_ORDERS_MAX`].
    async fn indexed_ids(&self, index: &str, key: &str) -> Result<Vec<String>, WalletFailure> {
        let store = self.parties.store();
        let mut ids = store.party_index(index, key, INDEX_PAGE).await?;
        let mut last_page = ids.len();
        while last_page == INDEX_PAGE as usize {
            if ids.len() > DAY_ORDERS_MAX {
                return Err(refused(ReconciliationError::TooManyOrders));
            }
            let after = ids.last().cloned().unwrap_or_default();
            let page = store.party_index_after(index, key, &after, INDEX_PAGE).await?;
            last_page = page.len();
            ids.extend(page);
        }
        if ids.len() > DAY_ORDERS_MAX {
            return Err(refused(ReconciliationError::TooManyOrders));
        }
        Ok(ids)
    }

    async fn read_all<D: crate::party::documents::Record>(&self, ids: &[String]) -> Result<Vec<D>, WalletFailure> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(READ_CHUNK) {
            out.extend(self.parties.reader().get_many::<D>(chunk).await?);
        }
        Ok(out)
    }

    /// Sanhu's orders of the channel and day: recharges made and refunds asked that day (a wallet
    /// channel), withdrawals applied for that day (a payout channel).
    async fn day_orders(&self, layout: &ChannelLayout, date: &str) -> Result<Vec<SanhuOrder>, WalletFailure> {
        let channel = &layout.channel;
        let mut orders = Vec::new();
        if self.config.channel(channel).is_some() {
            let key = format!("{channel}:{date}");
            let ids = self.indexed_ids(RECHARGES_OF_DAY, &key).await?;
            orders.extend(self.read_all::<RechargeOrder>(&ids).await?.iter().map(recharge_order));
            let ids = self.indexed_ids(REFUNDS_OF_DAY, &key).await?;
            for order in self.read_all::<RechargeOrder>(&ids).await? {
                orders.extend(refund_orders(&order, Some(date)));
            }
        }
        if layout.payouts {
            let ids = self.indexed_ids(WITHDRAWALS_OF_DAY, date).await?;
            orders.extend(self.read_all::<Withdrawal>(&ids).await?.iter().map(payout_order));
        }
        if orders.len() > DAY_ORDERS_MAX {
            return Err(refused(ReconciliationError::TooManyOrders));
        }
        Ok(orders)
    }

    /// Sanhu's orders the lines name that are not of the day (made on another day).
    async fn line_orders(
        &self,
        layout: &ChannelLayout,
        lines: &[StatementLine],
        day: &[SanhuOrder],
    ) -> Result<Vec<SanhuOrder>, WalletFailure> {
        let known: std::collections::HashSet<(LineKind, &str)> =
            day.iter().map(|o| (o.kind, o.order_number.as_str())).collect();
        let mut recharges = std::collections::BTreeSet::new();
        let mut withdrawals = std::collections::BTreeSet::new();
        let mut asked = std::collections::HashSet::new();
        for line in lines {
            if known.contains(&(line.kind, line.order_number.as_str()))
                || !asked.insert((line.kind, &line.order_number))
            {
                continue;
            }
            match line.kind {
                LineKind::Recharge | LineKind::Refund => {
                    let key = format!("{}:{}", layout.channel, line.order_number);
                    recharges.extend(self.parties.store().party_index(RECHARGES_BY_NUMBER, &key, 100).await?);
                }
                LineKind::Payout if layout.payouts => {
                    let key = line.order_number.as_str();
                    withdrawals.extend(self.parties.store().party_index(WITHDRAWALS_BY_NUMBER, key, 100).await?);
                }
                LineKind::Payout => {}
            }
        }
        let recharges: Vec<String> = recharges.into_iter().collect();
        let withdrawals: Vec<String> = withdrawals.into_iter().collect();
        let mut orders = Vec::new();
        for order in self.read_all::<RechargeOrder>(&recharges).await? {
            orders.push(recharge_order(&order));
            orders.extend(refund_orders(&order, None));
        }
        orders.extend(self.read_all::<Withdrawal>(&withdrawals).await?.iter().map(payout_order));
        Ok(orders)
    }

    pub async fn reconciliation_import(&self, id: &str) -> Result<ReconciliationImport, WalletFailure> {
        if !id.starts_with("rcn_") {
            return Err(import_not_found());
        }
        self.parties.reader().get::<ReconciliationImport>(id).await?.ok_or_else(import_not_found)
    }

    /// The imports of `channel` (of `date`, where given), in id order after the cursor `after`.
    pub async fn reconciliation_imports(
        &self,
        channel: &str,
        date: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<ImportPage, WalletFailure> {
        let limit = limit.clamp(1, RECONCILIATION_PAGE_MAX);
        let key = match date {
            Some(date) => format!("{channel}:{date}"),
            None => channel.to_owned(),
        };
        let store = self.parties.store();
        let ids = match after {
            Some(after) => store.party_index_after(IMPORTS, &key, after, limit).await?,
            None => store.party_index(IMPORTS, &key, limit).await?,
        };
        let next = (ids.len() == limit as usize).then(|| ids.last().cloned()).flatten();
        let mut imports: Vec<ReconciliationImport> = self.parties.reader().get_many(&ids).await?;
        imports.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(ImportPage { imports, next })
    }

    /// Marks a difference explained, with its reason.
    pub async fn explain_difference(
        &self,
        id: &str,
        number: u32,
        reason: &str,
        actor: &Actor,
    ) -> Result<StoredDifference, WalletFailure> {
        let reason = check_reason(reason).map_err(refused)?;
        self.reconciliation_import(id).await?;
        let _turn = self.turn([id.to_owned()]).await;
        self.resolve(id, number, "explain", &reason, actor, None).await
    }

    /// Credits the recharge of a difference missing in sanhu (the channel paid it, sanhu has it
    /// pending or in review) through the recharge's completion, then marks the difference resolved.
    /// Asked by `maker`, approved by `checker` (the held route's second staff member).
    pub async fn credit_difference(
        &self,
        id: &str,
        number: u32,
        reason: &str,
        maker: &Actor,
        checker: Option<&Actor>,
    ) -> Result<StoredDifference, WalletFailure> {
        let reason = check_reason(reason).map_err(refused)?;
        let _turn = self.turn([id.to_owned()]).await;
        let import = self.reconciliation_import(id).await?;
        let difference = difference_of(&import, number)?;
        if let Some(resolution) = &difference.resolution {
            return match resolution.action.as_str() {
                "credit" => Ok(difference.clone()),
                _ => Err(refused(ReconciliationError::DifferenceResolved)),
            };
        }
        let creditable = difference.kind == DifferenceKind::MissingInSanhu.as_str()
            && difference.order_kind == LineKind::Recharge.as_str()
            && difference.channel_amount.is_some()
            && difference.channel_amount == difference.sanhu_amount;
        let record = difference.sanhu_record.clone().filter(|_| creditable);
        let Some(record) = record else { return Err(refused(ReconciliationError::NotCreditable)) };
        let order = self
            .parties
            .reader()
            .get::<RechargeOrder>(&record)
            .await?
            .ok_or_else(|| refused(ReconciliationError::NotCreditable))?;
        // An order number is unique per API client only: where two clients' recharges on this channel
        // share it, the channel's line does not say whose it is, and nobody is credited on a guess.
        let key = format!("{}:{}", order.channel, order.order_number);
        if self.parties.store().party_index(RECHARGES_BY_NUMBER, &key, 2).await?.len() > 1 {
            return Err(refused(ReconciliationError::NotCreditable));
        }
        let number_of_order = OrderNumber::parse(&order.order_number)?;
        // The money moves as the recharge's own completion, on the maker's word.
        match order.status {
            RechargeStatus::Pending => {
                self.confirm_recharge(order.client, &number_of_order, maker).await?;
            }
            RechargeStatus::Reviewing => {
                self.approve_recharge(order.client, &number_of_order, maker).await?;
            }
            RechargeStatus::Crediting => {
                // Being credited (an attempt cut off): finished by confirming again, once.
                self.confirm_recharge(order.client, &number_of_order, maker).await?;
            }
            _ => return Err(refused(ReconciliationError::NotCreditable)),
        }
        self.resolve(id, number, "credit", &reason, maker, checker).await
    }

    async fn resolve(
        &self,
        id: &str,
        number: u32,
        action: &str,
        reason: &str,
        actor: &Actor,
        checker: Option<&Actor>,
    ) -> Result<StoredDifference, WalletFailure> {
        transact!(&self.parties, |work| {
            let mut import = work.get::<ReconciliationImport>(id).await?.ok_or_else(import_not_found)?;
            let difference = import
                .differences
                .iter_mut()
                .find(|d| d.number == number)
                .ok_or(WalletFailure::NotFound(Rejection::of(ReconciliationError::DifferenceNotFound)))?;
            if let Some(resolution) = &difference.resolution {
                if resolution.action == action && action == "credit" {
                    return Ok(difference.clone());
                }
                return Err(refused(ReconciliationError::DifferenceResolved));
            }
            difference.resolution = Some(Resolution {
                action: action.to_owned(),
                reason: reason.to_owned(),
                by: actor_text(actor),
                approved_by: checker.map(actor_text),
                at: work.now,
            });
            let resolved = difference.clone();
            work.put(&import);
            work.history(
                id,
                "",
                "reconciliation.resolved",
                actor,
                None,
                json!({
                    "difference": number, "kind": resolved.kind, "action": action, "reason": reason,
                    "approved_by": checker.map(actor_text),
                }),
            );
            Ok(resolved)
        })
    }
}

fn difference_of(import: &ReconciliationImport, number: u32) -> Result<&StoredDifference, WalletFailure> {
    import
        .differences
        .iter()
        .find(|d| d.number == number)
        .ok_or(WalletFailure::NotFound(Rejection::of(ReconciliationError::DifferenceNotFound)))
}
