//! The card liability report (负债报表): per card type, and per issuing merchant where a merchant
//! issues it, for one of the platform's days (Asia/Shanghai unless configured): its cards by status,
//! the stored value outstanding at the day's end, and what the day issued, recharged, spent,
//! refunded to cards, forfeited and paid out on cancellation.
//!
//! Everything is read from the cards' transaction records that succeeded, totalled by the store in
//! one query per figure (`CardStore::card_transaction_totals`), never card by card. The outstanding
//! balance is the records' sum up to the day's end: what sales and recharges put in, and refunds to
//! a card, less payments, forfeits and cancellations (a re-issue moves a card's balance to a card of
//! the same type, and a refund credited to a wallet, its card cancelled, is no card's). For today it
//! is what the ledger holds in the card accounts, which the tests check: the report is the ledger's
//! liability, counted another way. Cards by status are as they are now.
//!
//! Who sees what is the card's one rule ([`Cards::reaches`] and [`Cards::owners_reached`]): a client
//! bound to a member sees its own merchants' types only; another merchant named answers
//! `merchant_not_found`, as if absent.

use sanhu_core::card::{days_end, CardOwner};
use sanhu_core::id::{MemberId, MerchantId};
use sanhu_core::Timestamp;
use sanhu_store::card::CardStore;

use super::{CardFailure, CardType, Cards, CARD_REPORT_DATE_INVALID};
use crate::clock;
use crate::party::error::MERCHANT_NOT_FOUND;

/// The most card types (of an owner) one report lists; a report that would list more says so
/// (`truncated`).
pub const REPORT_TYPES_MAX: usize = 1_000;

/// Statuses a card is counted in, in the report's order.
pub const REPORT_STATUSES: [&str; 7] = ["sold", "active", "frozen", "lost", "expired", "reissued", "cancelled"];

/// One card type's line of the report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LiabilityLine {
    pub type_id: String,
    pub type_name: String,
    /// The issuing merchant; None for a platform type.
    pub merchant_id: Option<String>,
    /// Cards by status, in [`REPORT_STATUSES`]' order.
    pub cards: [i64; 7],
    /// Stored value outstanding at the day's end (minor units).
    pub outstanding: i64,
    /// Cards sold in the day, and the stored value their sales put on them.
    pub issued_cards: i64,
    pub issued: i64,
    pub recharged: i64,
    /// What payments took from the cards.
    pub spent: i64,
    /// Refunds of payments credited to a card (the card paid with, or its successor).
    pub refunded: i64,
    /// Refunds of payments credited to a wallet (the card cancelled to it): not card money.
    pub refunded_to_wallet: i64,
    /// Expired cards' balances forfeited to the platform's income.
    pub forfeited: i64,
    /// Cancelled cards' balances refunded (to a wallet, or in cash).
    pub cancelled: i64,
}

/// The report of a day.
#[derive(Clone, Debug)]
pub struct LiabilityReport {
    /// The day, `YYYY-MM-DD` in the platform's calendar.
    pub date: String,
    pub time_zone: String,
    /// Its first instant, and the next day's.
    pub from: Timestamp,
    pub until: Timestamp,
    pub lines: Vec<LiabilityLine>,
    /// The lines added up.
    pub total: LiabilityLine,
    /// More types than [`REPORT_TYPES_MAX`]: the lines stop there (the total too).
    pub truncated: bool,
}

impl Cards {
    /// The liability report of `date` (`YYYY-MM-DD`, the platform's calendar, not after today;
    /// today when None), of the types the caller reaches, or of one merchant's (`merchant`, which the
    /// caller must reach).
    pub async fn liability_report(
        &self,
        date: Option<&str>,
        merchant: Option<MerchantId>,
        binding: Option<MemberId>,
    ) -> Result<LiabilityReport, CardFailure> {
        let calendar = self.parties().config().calendar.clone();
        let today = calendar.local_text(clock::now())[..10].to_owned();
        let date = date.unwrap_or(&today);
        let from = parse_date(&calendar, date).ok_or(CardFailure::Rejected(CARD_REPORT_DATE_INVALID))?;
        let until = days_end(&calendar, from, 0);
        if from > clock::now() {
            return Err(CardFailure::Rejected(CARD_REPORT_DATE_INVALID));
        }
        let owners = match merchant {
            Some(merchant) => {
                // Absent, or another's: the same answer.
                self.parties().merchant_member(merchant).await?;
                if !self.reaches(binding, CardOwner::Merchant(merchant)).await? {
                    return Err(CardFailure::NotFound(MERCHANT_NOT_FOUND));
                }
                Some(vec![CardOwner::Merchant(merchant).as_text()])
            }
            None => self.owners_reached(binding).await?,
        };
        // Groups: a type has at most 8 kinds and 7 statuses; one more type's worth tells of more.
        let groups = u32::try_from((REPORT_TYPES_MAX + 1) * 8).unwrap_or(u32::MAX);
        let day = self.store().card_transaction_totals(owners.clone(), Some(from), until, groups).await?;
        let to_end = self.store().card_transaction_totals(owners.clone(), None, until, groups).await?;
        let statuses = self.store().card_status_counts(owners, groups).await?;

        let mut lines: Lines = Default::default();
        for count in &statuses {
            if let Some(i) = REPORT_STATUSES.iter().position(|s| *s == count.status) {
                line(&mut lines, &count.type_id, &count.owner).cards[i] += count.count;
            }
        }
        for total in &to_end {
            let l = line(&mut lines, &total.type_id, &total.owner);
            match total.kind.as_str() {
                "sale" | "recharge" | "refund" => l.outstanding += total.amount,
                "payment" | "forfeit" | "cancel" => l.outstanding -= total.amount,
                // A re-issue moves a balance within the type; a wallet's refund is no card's.
                _ => {}
            }
        }
        for total in &day {
            let l = line(&mut lines, &total.type_id, &total.owner);
            match total.kind.as_str() {
                "sale" => {
                    l.issued_cards += total.count;
                    l.issued += total.amount;
                }
                "recharge" => l.recharged += total.amount,
                "payment" => l.spent += total.amount,
                "refund" => l.refunded += total.amount,
                "refund_to_wallet" => l.refunded_to_wallet += total.amount,
                "forfeit" => l.forfeited += total.amount,
                "cancel" => l.cancelled += total.amount,
                _ => {}
            }
        }
        let truncated = lines.len() > REPORT_TYPES_MAX;
        let mut lines: Vec<LiabilityLine> = lines.into_values().take(REPORT_TYPES_MAX).collect();
        for l in &mut lines {
            if let Some(stored) = self.store().card_type(&l.type_id).await? {
                l.type_name = CardType::restore(stored)?.name;
            }
        }
        let mut total = LiabilityLine::default();
        for l in &lines {
            for (sum, n) in total.cards.iter_mut().zip(l.cards) {
                *sum += n;
            }
            total.outstanding += l.outstanding;
            total.issued_cards += l.issued_cards;
            total.issued += l.issued;
            total.recharged += l.recharged;
            total.spent += l.spent;
            total.refunded += l.refunded;
            total.refunded_to_wallet += l.refunded_to_wallet;
            total.forfeited += l.forfeited;
            total.cancelled += l.cancelled;
        }
        Ok(LiabilityReport {
            date: date.to_owned(),
            time_zone: calendar.time_zone().to_owned(),
            from,
            until,
            lines,
            total,
            truncated,
        })
    }
}

type Lines = std::collections::BTreeMap<(String, String), LiabilityLine>;

/// The line of a type and owner, begun if it is not yet.
fn line<'a>(lines: &'a mut Lines, type_id: &str, owner: &str) -> &'a mut LiabilityLine {
    lines.entry((type_id.to_owned(), owner.to_owned())).or_insert_with(|| LiabilityLine {
        type_id: type_id.to_owned(),
        merchant_id: (owner != "platform").then(|| owner.to_owned()),
        ..LiabilityLine::default()
    })
}

/// The first instant of `YYYY-MM-DD` in the platform's calendar.
fn parse_date(calendar: &sanhu_core::PlatformCalendar, date: &str) -> Option<Timestamp> {
    let b = date.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    if !b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit()) {
        return None;
    }
    let (y, m, d) = (date[..4].parse().ok()?, date[5..7].parse().ok()?, date[8..].parse().ok()?);
    calendar.date_start(y, m, d)
}
