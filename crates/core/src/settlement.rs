//! Merchant settlement (商户结算): a statement per merchant per period of what it received, what it
//! gave back, what the platform takes and what it is owed, as the canteen case (002 case 06) has
//! merchants confirm them. Everything here is arithmetic and status rules; the service reads the
//! ledger's entries of the merchant's receipts account and keeps the statements.
//!
//! **Figures.** Every payment received in the period is an item (gross), every refund a negative one;
//! each item's commission is the merchant's signed fee rate of it, rounded half up per item, and a
//! refund gives back its payment's commission in proportion (also rounded half up); a split payment's
//! receiver item carries none (the platform's share was taken at payment). Adjustments (approved by two
//! staff members) and what an earlier statement carried forward are items too.
//! `net = gross − refunds − commission + adjustments` (adjustments signed).
//!
//! **Every cent once.** A statement with a negative net moves nothing: its net is carried into the
//! merchant's next statement as an item, together with the commission and adjustments that never moved
//! (which that statement moves with its own).

use std::fmt;

use crate::time::{PlatformCalendar, PlatformDay, PlatformMonth};
use crate::Timestamp;

rejection_codes! {
    /// Why a settlement rule refused.
    pub enum SettlementError {
        NotFound => "settlement_not_found", 404, "the merchant has no settlement statement with this number",
        PeriodInvalid => "settlement_period_invalid", 422,
            "a period is a day (`date`: YYYY-MM-DD) or a month (`month`: YYYY-MM) of the platform's calendar",
        PeriodNotClosed => "settlement_period_not_closed", 409,
            "the period has not ended yet (or ended less than the margin for clocks ago)",
        CycleMismatch => "settlement_cycle_mismatch", 422,
            "the merchant is settled daily or monthly: a statement is issued for its own cycle's periods only",
        PeriodOverlaps => "settlement_period_overlaps", 409,
            "the period overlaps one already issued: the merchant's receipts are settled once",
        PeriodOutOfOrder => "settlement_period_out_of_order", 409,
            "statements are issued in order: the next is of the period right after the merchant's last statement",
        StatusInvalid => "settlement_status_conflict", 409,
            "the statement's status does not allow this (confirm an issued or disputed one, dispute an issued one, \
             pay out a confirmed one, adjust for a disputed one)",
        DisputeReasonInvalid => "settlement_dispute_reason_invalid", 422,
            "a dispute or an adjustment gives a reason of 1 to 200 characters",
        AdjustmentInvalid => "settlement_adjustment_invalid", 422,
            "an adjustment is a non-zero amount of at most 100,000,000.00 either way, with a reason",
        AdjustmentsFull => "settlement_adjustments_full", 409,
            "100 adjustments already wait for the merchant's next statements: issue them first",
        AdjustmentStaffOnly => "settlement_adjustment_staff_only", 403,
            "a settlement adjustment is made by a staff member and approved by another",
        MerchantInactive => "settlement_merchant_inactive", 409, "a frozen or closed merchant is not paid out",
        PayoutTargetInvalid => "settlement_payout_target_invalid", 422, "a payout goes `to` `bank` or `balance`",
        NotPayingOut => "settlement_not_paying_out", 409,
            "the statement has no payout to the bank waiting for review or for the channel's result",
        TooLarge => "settlement_too_large", 422,
            "the period has more items than one statement holds (20,000): the merchant settles daily",
        ReceiptsShort => "settlement_receipts_short", 409,
            "the merchant's receipts account no longer holds the statement's net (it was withdrawn meanwhile)",
        NoCorrection => "settlement_no_correction", 409,
            "a disputed statement is corrected once an approved adjustment made for it (`statement`) waits",
    }
}

/// The most items one statement holds.
pub const STATEMENT_ITEMS_MAX: usize = 20_000;

/// The most periods one pass of the run issues for one merchant.
pub const RUN_PERIODS_MAX: usize = 31;

/// The most adjustments waiting in a merchant's settlement book.
pub const ADJUSTMENTS_WAITING_MAX: usize = 100;

/// The largest adjustment either way, in minor units.
pub const ADJUSTMENT_MAX: i64 = 10_000_000_000;

/// How often a merchant is settled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cycle {
    Daily,
    Monthly,
}

impl Cycle {
    pub fn as_str(self) -> &'static str {
        match self {
            Cycle::Daily => "daily",
            Cycle::Monthly => "monthly",
        }
    }
}

/// A statement's period: `[start, end)`, a day or a month of the platform's calendar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    pub cycle: Cycle,
    pub start: Timestamp,
    pub end: Timestamp,
}

impl Period {
    pub fn day(calendar: &PlatformCalendar, day: PlatformDay) -> Result<Period, SettlementError> {
        let start = calendar.day_start(day).ok_or(SettlementError::PeriodInvalid)?;
        let end = calendar.day_start(PlatformDay(day.0 + 1)).ok_or(SettlementError::PeriodInvalid)?;
        Ok(Period { cycle: Cycle::Daily, start, end })
    }

    pub fn month(calendar: &PlatformCalendar, month: PlatformMonth) -> Result<Period, SettlementError> {
        let (start, end) = calendar.month_bounds(month).ok_or(SettlementError::PeriodInvalid)?;
        Ok(Period { cycle: Cycle::Monthly, start, end })
    }

    /// The day `YYYY-MM-DD`.
    pub fn parse_date(calendar: &PlatformCalendar, text: &str) -> Result<Period, SettlementError> {
        let b = text.as_bytes();
        let shaped = b.len() == 10
            && b[4] == b'-'
            && b[7] == b'-'
            && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
        if !shaped {
            return Err(SettlementError::PeriodInvalid);
        }
        let (year, month, day) = (text[..4].parse(), text[5..7].parse(), text[8..].parse());
        let (Ok(year), Ok(month), Ok(day)) = (year, month, day) else { return Err(SettlementError::PeriodInvalid) };
        let start = calendar.date_start(year, month, day).ok_or(SettlementError::PeriodInvalid)?;
        Period::day(calendar, calendar.day(start))
    }

    /// The month `YYYY-MM`.
    pub fn parse_month(calendar: &PlatformCalendar, text: &str) -> Result<Period, SettlementError> {
        Period::month(calendar, PlatformMonth::parse(text).ok_or(SettlementError::PeriodInvalid)?)
    }

    /// The period of `cycle` that `at` falls in.
    pub fn containing(calendar: &PlatformCalendar, cycle: Cycle, at: Timestamp) -> Result<Period, SettlementError> {
        match cycle {
            Cycle::Daily => Period::day(calendar, calendar.day(at)),
            Cycle::Monthly => Period::month(calendar, calendar.month(at)),
        }
    }

    /// The period of the same cycle that starts where this one ends.
    pub fn next(&self, calendar: &PlatformCalendar) -> Result<Period, SettlementError> {
        Period::containing(calendar, self.cycle, self.end)
    }

    /// How people name it: `2026-11-05` or `2026-11`.
    pub fn label(&self, calendar: &PlatformCalendar) -> String {
        let local = calendar.local_text(self.start);
        match self.cycle {
            Cycle::Daily => local[..10].to_owned(),
            Cycle::Monthly => local[..7].to_owned(),
        }
    }

    /// Refused unless the period had ended `closed_after_s` before `now` (the bills' margin).
    pub fn check_closed(&self, now: Timestamp, closed_after_s: u32) -> Result<(), SettlementError> {
        match self.end.nanos().checked_add(i64::from(closed_after_s) * 1_000_000_000) {
            Some(closed_at) if closed_at <= now.nanos() => Ok(()),
            _ => Err(SettlementError::PeriodNotClosed),
        }
    }
}

/// A merchant issues its own cycle's statements only.
pub fn check_cycle(merchant: Cycle, requested: Cycle) -> Result<(), SettlementError> {
    (merchant == requested).then_some(()).ok_or(SettlementError::CycleMismatch)
}

/// A period starting before the end of the merchant's last statement overlaps it.
pub fn check_overlap(last_end: Option<Timestamp>, period: &Period) -> Result<(), SettlementError> {
    match last_end {
        Some(end) if period.start < end => Err(SettlementError::PeriodOverlaps),
        _ => Ok(()),
    }
}

/// Statements are issued in order: after the merchant's last statement (which ended at
/// `last_end`), the next is of the period starting there; a later one would leave a gap. The first
/// statement may be of any closed period.
pub fn check_next(last_end: Option<Timestamp>, period: &Period) -> Result<(), SettlementError> {
    check_overlap(last_end, period)?;
    match last_end {
        Some(end) if period.start > end => Err(SettlementError::PeriodOutOfOrder),
        _ => Ok(()),
    }
}

/// A reason: 1 to 200 characters, no control characters. Returns it trimmed.
pub fn check_reason(text: &str) -> Result<String, SettlementError> {
    let text = text.trim();
    let ok = (1..=200).contains(&text.chars().count()) && !text.chars().any(char::is_control);
    ok.then(|| text.to_owned()).ok_or(SettlementError::DisputeReasonInvalid)
}

/// An adjustment's amount: non-zero, within [`ADJUSTMENT_MAX`] either way.
pub fn check_adjustment(amount: i64) -> Result<i64, SettlementError> {
    (amount != 0 && amount.abs() <= ADJUSTMENT_MAX).then_some(amount).ok_or(SettlementError::AdjustmentInvalid)
}

/// `amount × rate_bp / 10000`, rounded half up (amount ≥ 0).
pub fn commission(amount: i64, rate_bp: u32) -> i64 {
    let scaled = i128::from(amount) * i128::from(rate_bp);
    ((scaled + 5_000) / 10_000) as i64
}

/// What a refund of `refund` gives back of its payment's commission `payment_commission` on a
/// payment of `payment`, after earlier refunds of `refunded_before` of the same payment: counted
/// cumulatively (what all refunds so far give back, rounded half up, less what the earlier ones
/// gave), so that the refunds of a payment never give back more than its commission.
pub fn refund_commission(payment: i64, payment_commission: i64, refunded_before: i64, refund: i64) -> i64 {
    if payment <= 0 || payment_commission <= 0 {
        return 0;
    }
    let part = |refunded: i64| -> i128 {
        let refunded = i128::from(refunded.clamp(0, payment));
        let scaled = i128::from(payment_commission) * refunded;
        (2 * scaled + i128::from(payment)) / (2 * i128::from(payment))
    };
    let before = part(refunded_before);
    let after = part(refunded_before.saturating_add(refund)).min(i128::from(payment_commission));
    (after - before).max(0) as i64
}

/// What a statement item is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ItemKind {
    /// A payment received (or a split payment's share of it).
    Payment,
    /// A payment given back.
    Refund,
    /// An approved adjustment.
    Adjustment,
    /// An earlier statement's negative net, carried into this one.
    CarriedForward,
}

impl ItemKind {
    pub const ALL: [ItemKind; 4] =
        [ItemKind::Payment, ItemKind::Refund, ItemKind::Adjustment, ItemKind::CarriedForward];

    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Payment => "payment",
            ItemKind::Refund => "refund",
            ItemKind::Adjustment => "adjustment",
            ItemKind::CarriedForward => "carried_forward",
        }
    }

    pub fn parse(text: &str) -> Option<ItemKind> {
        ItemKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// One item's figures: its amount (a refund's is negative, an adjustment's signed) and the commission
/// on it (a refund's is what it gives back, negative).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ItemFigures {
    pub kind: ItemKind,
    pub amount: i64,
    pub commission: i64,
}

/// A statement's figures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Figures {
    /// Σ payments received.
    pub gross: i64,
    /// Σ refunds, positive.
    pub refunds: i64,
    /// Σ commission (refunds' given back counted off).
    pub commission: i64,
    /// Σ adjustments and carried-forward nets, signed.
    pub adjustments: i64,
    /// gross − refunds − commission + adjustments.
    pub net: i64,
}

/// A statement's arithmetic overflowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Overflow;

impl fmt::Display for Overflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a settlement statement's figures overflow")
    }
}

impl std::error::Error for Overflow {}

/// The figures of a statement's items.
pub fn figures(items: &[ItemFigures]) -> Result<Figures, Overflow> {
    let mut f = Figures::default();
    let add = |a: i64, b: i64| a.checked_add(b).ok_or(Overflow);
    for item in items {
        match item.kind {
            ItemKind::Payment => f.gross = add(f.gross, item.amount)?,
            ItemKind::Refund => f.refunds = add(f.refunds, -item.amount)?,
            ItemKind::Adjustment | ItemKind::CarriedForward => f.adjustments = add(f.adjustments, item.amount)?,
        }
        f.commission = add(f.commission, item.commission)?;
    }
    f.net = f
        .gross
        .checked_sub(f.refunds)
        .and_then(|n| n.checked_sub(f.commission))
        .and_then(|n| n.checked_add(f.adjustments))
        .ok_or(Overflow)?;
    Ok(f)
}

/// What a statement with a negative net leaves to the next: its net (an item of the next), and the
/// commission and adjustments that did not move (the next moves them with its own).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Carried {
    pub net: i64,
    pub commission: i64,
    pub adjustments: i64,
}

/// What issuing a statement moves in the ledger: commission to the platform, adjustments either way,
/// and the net set aside (a hold) for its payout. A negative net moves nothing and is carried.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Moves {
    /// The platform's commission taken from the receipts account (this statement's and the carried).
    pub commission: i64,
    /// Adjustments, signed: positive from the platform to the receipts account, negative the other way.
    pub adjustments: i64,
    /// The net put on hold in the receipts account (0: nothing to pay out).
    pub hold: i64,
    /// What the next statement takes over (all zero unless the net is negative).
    pub carried: Carried,
}

/// What a statement with `figures`, whose own adjustments (not the carried net) are `own_adjustments`
/// and which takes over `carried`, moves. `already` is what a statement it corrects moved (its
/// commission and adjustments stay moved; the correction moves the difference).
pub fn moves(figures: &Figures, own_adjustments: i64, carried: Carried, already: Carried) -> Result<Moves, Overflow> {
    let commission = figures.commission.checked_add(carried.commission).ok_or(Overflow)?;
    let adjustments = own_adjustments.checked_add(carried.adjustments).ok_or(Overflow)?;
    if figures.net < 0 {
        return Ok(Moves {
            commission: 0,
            adjustments: 0,
            hold: 0,
            carried: Carried {
                net: figures.net,
                commission: commission.checked_sub(already.commission).ok_or(Overflow)?,
                adjustments: adjustments.checked_sub(already.adjustments).ok_or(Overflow)?,
            },
        });
    }
    Ok(Moves {
        commission: commission.checked_sub(already.commission).ok_or(Overflow)?,
        adjustments: adjustments.checked_sub(already.adjustments).ok_or(Overflow)?,
        hold: figures.net,
        carried: Carried::default(),
    })
}

/// What a `short` statement leaves to the next. Its chain was refused: the receipts account no
/// longer held what it moves (the merchant withdrew its receipts meanwhile, through the withdrawal
/// flow). Nothing moved: its receipts (gross less refunds) are the merchant's balance, as what it
/// withdrew was; what the platform and the merchant owe each other besides (its commission, its
/// adjustments, what it took over) is carried into the next statement as a negative net is, so the
/// next statement's receipts settle it. Never more than the account holds: the ledger refuses.
pub fn carry_short(figures: &Figures, own_adjustments: i64, carried: Carried) -> Result<Carried, Overflow> {
    Ok(Carried {
        net: figures.adjustments.checked_sub(figures.commission).ok_or(Overflow)?,
        commission: figures.commission.checked_add(carried.commission).ok_or(Overflow)?,
        adjustments: own_adjustments.checked_add(carried.adjustments).ok_or(Overflow)?,
    })
}

/// A statement's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// Issued, waiting for the merchant's confirmation.
    Issued,
    Confirmed,
    /// The merchant disputes it (its net stays held).
    Disputed,
    /// A payout to the bank is under way (under review, or waiting for the channel's result).
    Paying,
    Paid,
    /// The channel refused the payout: the net is the merchant's balance again.
    PayoutFailed,
    /// Replaced by a corrected statement of the same period (its hold released).
    Corrected,
    /// Its net was negative: carried into the next statement, nothing to confirm or pay.
    CarriedForward,
    /// The receipts account no longer held what it moves when it was issued (the merchant withdrew
    /// its receipts meanwhile): nothing moved, all of it carried into the next statement.
    Short,
    /// Recorded with its chain (commission, adjustments, hold) before the ledger moved it; a rerun
    /// of the issue completes it (the chain's ids are the statement's).
    Issuing,
    /// The ledger refused its chain (nothing moved): the period is issued again under its number.
    Refused,
}

impl Status {
    pub const ALL: [Status; 11] = [
        Status::Issued,
        Status::Confirmed,
        Status::Disputed,
        Status::Paying,
        Status::Paid,
        Status::PayoutFailed,
        Status::Corrected,
        Status::CarriedForward,
        Status::Short,
        Status::Issuing,
        Status::Refused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Issued => "issued",
            Status::Confirmed => "confirmed",
            Status::Disputed => "disputed",
            Status::Paying => "paying",
            Status::Paid => "paid",
            Status::PayoutFailed => "payout_failed",
            Status::Corrected => "corrected",
            Status::CarriedForward => "carried_forward",
            Status::Short => "short",
            Status::Issuing => "issuing",
            Status::Refused => "refused",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Confirmed by the merchant or the platform: an issued one, or a disputed one (the dispute resolved).
    pub fn confirm(self) -> Result<Status, SettlementError> {
        match self {
            Status::Issued | Status::Disputed => Ok(Status::Confirmed),
            _ => Err(SettlementError::StatusInvalid),
        }
    }

    pub fn dispute(self) -> Result<Status, SettlementError> {
        match self {
            Status::Issued => Ok(Status::Disputed),
            _ => Err(SettlementError::StatusInvalid),
        }
    }

    /// A payout starts from a confirmed statement only.
    pub fn pay_out(self) -> Result<(), SettlementError> {
        (self == Status::Confirmed).then_some(()).ok_or(SettlementError::StatusInvalid)
    }

    /// A disputed statement is replaced by a corrected one.
    pub fn correct(self) -> Result<Status, SettlementError> {
        (self == Status::Disputed).then_some(Status::Corrected).ok_or(SettlementError::StatusInvalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(kind: ItemKind, amount: i64, commission: i64) -> ItemFigures {
        ItemFigures { kind, amount, commission }
    }

    #[test]
    fn commission_is_rounded_half_up_per_item_and_a_refund_gives_its_part_back() {
        // 0.6% of 12.50 is 7.5 fen: 8.
        assert_eq!(commission(1_250, 60), 8);
        assert_eq!(commission(1_249, 60), 7);
        assert_eq!(commission(0, 60), 0);
        // Half of a payment of 12.50 (commission 8) gives back 4; a third of 30.00 (18) gives 6.
        assert_eq!(refund_commission(1_250, 8, 0, 625), 4);
        assert_eq!(refund_commission(3_000, 18, 0, 1_000), 6);
        // A 1-fen refund of a 12.50 payment gives back 8 × 1 / 1250 = 0.0064: 0.
        assert_eq!(refund_commission(1_250, 8, 0, 1), 0);
        assert_eq!(refund_commission(1_250, 8, 0, 1_250), 8);
    }

    #[test]
    fn partial_refunds_give_back_the_commission_cumulatively_never_more_than_was_taken() {
        // 1.00 at 60 bp: commission 0.6 fen, rounded to 1.
        assert_eq!(commission(100, 60), 1);
        // Three partial refunds (40 + 30 + 30): cumulatively 0.4→0, 0.7→1, 1→1: 0 + 1 + 0.
        let steps = [(0, 40), (40, 30), (70, 30)];
        let back: Vec<i64> = steps.iter().map(|&(before, r)| refund_commission(100, 1, before, r)).collect();
        assert_eq!(back, vec![0, 1, 0]);
        // Two halves: 0.5 → 1 then 1 → 1: 1 + 0, not 1 + 1.
        assert_eq!(refund_commission(100, 1, 0, 50) + refund_commission(100, 1, 50, 50), 1);
        // 12.50 (commission 8) refunded in three parts 4.17 + 4.17 + 4.16: each rounded on its own
        // 2.67→3, 2.67→3, 2.66→3 would give back 9; cumulatively 3 + 2 + 3 = 8.
        let three = [(0, 417), (417, 417), (834, 416)];
        let back: Vec<i64> = three.iter().map(|&(before, r)| refund_commission(1_250, 8, before, r)).collect();
        assert_eq!(back, vec![3, 2, 3]);
        assert_eq!(back.iter().sum::<i64>(), 8);
        // Refunds beyond the payment (never expected) give back nothing more.
        assert_eq!(refund_commission(1_250, 8, 1_250, 100), 0);
    }

    #[test]
    fn net_is_gross_less_refunds_less_commission_plus_adjustments() {
        let items = [
            item(ItemKind::Payment, 3_000, 18),
            item(ItemKind::Payment, 1_250, 8),
            item(ItemKind::Payment, 500, 0),
            item(ItemKind::Refund, -1_000, -6),
            item(ItemKind::Adjustment, -200, 0),
        ];
        let f = figures(&items).unwrap();
        assert_eq!(f, Figures { gross: 4_750, refunds: 1_000, commission: 20, adjustments: -200, net: 3_530 });
    }

    #[test]
    fn a_negative_net_moves_nothing_and_is_carried_with_what_did_not_move() {
        let f = figures(&[item(ItemKind::Payment, 100, 1), item(ItemKind::Adjustment, -500, 0)]).unwrap();
        assert_eq!(f.net, -401);
        let m = moves(&f, -500, Carried::default(), Carried::default()).unwrap();
        assert_eq!(m, Moves { carried: Carried { net: -401, commission: 1, adjustments: -500 }, ..Moves::default() });
        // The next period: 1,000.00 received, commission 6; the carried net is an item.
        let next = figures(&[item(ItemKind::Payment, 1_000, 6), item(ItemKind::CarriedForward, -401, 0)]).unwrap();
        assert_eq!(next.net, 593);
        let m2 = moves(&next, 0, m.carried, Carried::default()).unwrap();
        assert_eq!(m2, Moves { commission: 7, adjustments: -500, hold: 593, carried: Carried::default() });
        // Every cent once: what left the receipts account (1,100) is the commission, the adjustment
        // and the net.
        assert_eq!(m2.commission - m2.adjustments + m2.hold, 1_100);
    }

    #[test]
    fn a_short_statement_moves_nothing_and_carries_what_is_owed_besides_its_receipts() {
        // 10.00 received (commission 0.06) and an adjustment of −1.00.
        let f = figures(&[item(ItemKind::Payment, 1_000, 6), item(ItemKind::Adjustment, -100, 0)]).unwrap();
        let carried = carry_short(&f, -100, Carried::default()).unwrap();
        // Its receipts stay the merchant's (it withdrew them); the rest is carried: −1.00 − 0.06.
        assert_eq!(carried, Carried { net: -106, commission: 6, adjustments: -100 });
        // The next statement, 5.00 received (0.03), takes it over and moves it with its own.
        let next = figures(&[item(ItemKind::Payment, 500, 3), item(ItemKind::CarriedForward, -106, 0)]).unwrap();
        assert_eq!(next.net, 391);
        let m = moves(&next, 0, carried, Carried::default()).unwrap();
        assert_eq!(m, Moves { commission: 9, adjustments: -100, hold: 391, carried: Carried::default() });
        // It takes from the receipts account its own receipts, no more: 0.09 + 1.00 + 3.91.
        assert_eq!(m.commission - m.adjustments + m.hold, 500);
        // Taken over again by a short statement, what was carried stays carried.
        let again = carry_short(&next, 0, carried).unwrap();
        assert_eq!(again, Carried { net: -109, commission: 9, adjustments: -100 });
    }

    #[test]
    fn a_correction_moves_only_the_difference() {
        let f = figures(&[item(ItemKind::Payment, 1_000, 6), item(ItemKind::Adjustment, 300, 0)]).unwrap();
        let already = Carried { net: 0, commission: 6, adjustments: 0 };
        let m = moves(&f, 300, Carried::default(), already).unwrap();
        assert_eq!(m, Moves { commission: 0, adjustments: 300, hold: 1_294, carried: Carried::default() });
    }

    #[test]
    fn cycles_overlaps_and_statuses() {
        assert_eq!(check_cycle(Cycle::Monthly, Cycle::Daily), Err(SettlementError::CycleMismatch));
        let calendar = PlatformCalendar::china();
        let day = Period::parse_date(&calendar, "2026-11-05").unwrap();
        let month = Period::parse_month(&calendar, "2026-11").unwrap();
        assert_eq!(day.label(&calendar), "2026-11-05");
        assert_eq!(month.label(&calendar), "2026-11");
        assert_eq!(day.next(&calendar).unwrap().label(&calendar), "2026-11-06");
        assert_eq!(month.next(&calendar).unwrap().label(&calendar), "2026-12");
        assert_eq!(check_overlap(Some(month.end), &day), Err(SettlementError::PeriodOverlaps));
        assert_eq!(check_overlap(Some(day.start), &day), Ok(()));
        // In order: after a statement ending at the 5th, the 5th is next; the 6th leaves a gap.
        assert_eq!(check_next(Some(day.start), &day), Ok(()));
        assert_eq!(check_next(None, &day), Ok(()));
        let gap = day.next(&calendar).unwrap();
        assert_eq!(check_next(Some(day.start), &gap), Err(SettlementError::PeriodOutOfOrder));
        assert_eq!(check_next(Some(day.end), &day), Err(SettlementError::PeriodOverlaps));
        assert_eq!(Period::parse_date(&calendar, "2026-13-01"), Err(SettlementError::PeriodInvalid));
        assert_eq!(day.check_closed(day.end, 300), Err(SettlementError::PeriodNotClosed));
        assert_eq!(Status::Issued.confirm(), Ok(Status::Confirmed));
        assert_eq!(Status::Disputed.confirm(), Ok(Status::Confirmed));
        assert_eq!(Status::Confirmed.dispute(), Err(SettlementError::StatusInvalid));
        assert_eq!(Status::Issued.pay_out(), Err(SettlementError::StatusInvalid));
        assert_eq!(Status::Disputed.correct(), Ok(Status::Corrected));
        assert_eq!(check_reason(""), Err(SettlementError::DisputeReasonInvalid));
        assert_eq!(check_adjustment(0), Err(SettlementError::AdjustmentInvalid));
    }
}
