//! Merchant settlement (商户结算): statements per merchant per period, confirmed or disputed by the
//! merchant, paid out to its verified settlement account through the withdrawal's checks, or kept as
//! its balance. The arithmetic and the statuses are core's (`sanhu_core::settlement`).
//!
//! **Where the figures come from.** A statement reads the ledger's entries of the merchant's receipts
//! account (the first account its type opens, `settlement` by default) in the period: every payment
//! it received (`pay`, `escrow_release`) is an item, every refund it gave (`refund`) a negative one,
//! each with its order number and transfer id. The commission is the merchant's signed fee rate of
//! `balance_payment`, per item, rounded half up; a refund gives back its payment's commission in
//! proportion (its payment is found by its order number; the commission is what the payment was
//! charged: an earlier period's statement item, at the rate of then); a split payment's share (its
//! transfer says `{"split":true}`) carries none. Approved adjustments (`sad_…`, named by their items)
//! and what the last statement carried forward are items too. An adjustment made for a disputed
//! statement waits for that statement's corrected re-issue: no other period's statement takes it.
//! Periods are issued in order, none skipped.
//!
//! **Kept as party records** (no table of their own): the merchant's settlement book
//! (`settlement_book:mch_…`: where its statements have got to — the end of the last one, which no new
//! period may start before; what the last carried forward; the adjustments waiting for the next) and
//! each statement (`settlement:mch_…:S000001`), listed by the index `merchant_settlements`.
//!
//! **Money.** Issuing a statement moves, in one linked chain, its commission to `fee_income`, its
//! adjustments from or to `adjustments`, and sets its net aside: a hold from the receipts account to
//! `withdrawals_in_transit`, so that nothing the merchant does meanwhile can make the payout fall
//! short. A payout to the bank posts the hold when the channel answers success (voids it on failure:
//! the net is the merchant's balance again); a payout `to: balance` voids it at once. A statement
//! whose net is negative moves nothing: its net, its commission and its adjustments are carried into
//! the next. One whose chain the ledger refuses (the merchant withdrew its receipts meanwhile) is
//! `short`: nothing moved, its receipts stay the merchant's and the rest is carried, so the run goes
//! on to the merchant's next periods. A payout to the bank is charged the withdrawal's fee. A disputed statement keeps its hold until it is confirmed (the dispute resolved) or a
//! corrected statement replaces it, which voids its hold and moves only the difference.
//!
//! **In turn.** Everything on one merchant's statements takes the merchant's settlement turn
//! (`settlement:mch_…`), and each change writes the record it changes: two payouts of one statement
//! at once give one payout, the other meets a statement no longer confirmed.

use sanhu_core::id::{MerchantId, SettlementAdjustmentTag};
use sanhu_core::ledger::{Transfer, TransferAction, TransferKind, TransferRequest};
use sanhu_core::party::merchant::MerchantStatus;
use sanhu_core::party::product::PlatformProduct;
use sanhu_core::party::Actor;
use sanhu_core::settlement::{
    self as rules, Carried, Cycle, ItemFigures, ItemKind, Period, SettlementError, Status, STATEMENT_ITEMS_MAX,
};
use sanhu_core::wallet::{FeePayer, WalletError};
use sanhu_core::{AccountId, Amount, Timestamp, TransferId};
use sanhu_store::party::PartyStore;
use sanhu_store::{EntryQuery, LedgerStore};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::chain::{self, ids_for, restore_chain, store_chain, StoredRequest};
use super::platform::PlatformAccount;
use super::records::{json_document, time_ns};
use super::Wallets;
use crate::party::merchants::StoredMerchant;
use crate::party::work::{actor_text, Work};
use crate::party::Rejection;
use crate::wallet::WalletFailure;

/// The index of a merchant's statements, by merchant id.
const SETTLEMENTS_OF_MERCHANT: &str = "merchant_settlements";

/// The statements that settled a payment, by its ledger transfer id.
const STATEMENT_OF_PAYMENT: &str = "settlement_payment";

/// The business codes of the ledger transfers a settlement makes.
pub const SETTLEMENT_COMMISSION_CODE: &str = "settlement_commission";
pub const SETTLEMENT_ADJUSTMENT_CODE: &str = "settlement_adjustment";
pub const SETTLEMENT_HOLD_CODE: &str = "settlement_hold";
pub const SETTLEMENT_PAYOUT_CODE: &str = "settlement_payout";
pub const SETTLEMENT_RELEASE_CODE: &str = "settlement_release";
pub const SETTLEMENT_PAYOUT_FEE_CODE: &str = "settlement_payout_fee";

/// The most statements one page lists.
pub const SETTLEMENT_PAGE_MAX: u32 = 100;

/// Entries read from the ledger at a time.
const ENTRY_READ_PAGE: u32 = 1000;

fn refused(error: SettlementError) -> WalletFailure {
    WalletFailure::Rejected(Rejection::of(error))
}

fn not_found() -> WalletFailure {
    WalletFailure::NotFound(Rejection::of(SettlementError::NotFound))
}

/// What a statement carried forward, or took over.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CarriedFigures {
    pub net: i64,
    pub commission: i64,
    pub adjustments: i64,
}

impl From<Carried> for CarriedFigures {
    fn from(c: Carried) -> Self {
        CarriedFigures { net: c.net, commission: c.commission, adjustments: c.adjustments }
    }
}

impl From<CarriedFigures> for Carried {
    fn from(c: CarriedFigures) -> Self {
        Carried { net: c.net, commission: c.commission, adjustments: c.adjustments }
    }
}

/// A settlement adjustment staff made (one staff member, approved by another), waiting for the
/// merchant's next statement or carried into one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettlementAdjustment {
    /// `sad_…`: named on the statement item that carries it.
    pub id: String,
    /// The disputed statement it corrects (its number): kept for that statement's re-issue, which
    /// no other statement takes first; none: for the merchant's next statement.
    #[serde(default)]
    pub statement: Option<String>,
    /// Signed: positive the platform owes the merchant, negative the merchant owes the platform.
    pub amount: i64,
    pub reason: String,
    pub maker: String,
    pub checker: Option<String>,
    #[serde(with = "time_ns")]
    pub made_at: Timestamp,
}

/// A merchant's settlement book.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettlementBook {
    pub id: String,
    pub customer_id: String,
    pub merchant_id: String,
    /// The end of the merchant's last statement (ns): no period starts before it.
    pub last_end: Option<i64>,
    /// How many statements were issued (the next is numbered one more).
    pub issued: u32,
    /// What the last statement carried forward into the next.
    pub carried: CarriedFigures,
    /// Approved adjustments waiting for the next statement.
    pub adjustments: Vec<SettlementAdjustment>,
}
json_document!(SettlementBook, "settlement_book");

fn book_id(merchant: MerchantId) -> String {
    format!("settlement_book:{merchant}")
}

fn statement_id(merchant: MerchantId, number: &str) -> String {
    format!("settlement:{merchant}:{number}")
}

/// A statement's id from its stored merchant id.
fn statement_id_of(merchant: &str, number: &str) -> String {
    format!("settlement:{merchant}:{number}")
}

/// `book + carried − replaced`, field by field.
fn add_carried(
    book: CarriedFigures,
    carried: CarriedFigures,
    replaced: CarriedFigures,
) -> Result<CarriedFigures, WalletFailure> {
    let field = |b: i64, c: i64, r: i64| {
        b.checked_add(c)
            .and_then(|v| v.checked_sub(r))
            .ok_or_else(|| WalletFailure::Internal(anyhow::anyhow!("a settlement book's carried figures overflow")))
    };
    Ok(CarriedFigures {
        net: field(book.net, carried.net, replaced.net)?,
        commission: field(book.commission, carried.commission, replaced.commission)?,
        adjustments: field(book.adjustments, carried.adjustments, replaced.adjustments)?,
    })
}

/// One item of a statement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatementItem {
    /// `payment`, `refund`, `adjustment` or `carried_forward`.
    pub kind: String,
    /// The order number the ledger transfer carries (a payment's, its refund's).
    pub order_number: Option<String>,
    /// The ledger transfers it is (none for an adjustment or a carried net, which move with the
    /// statement's own transfers).
    pub transfer_ids: Vec<String>,
    pub amount: i64,
    pub commission: i64,
    /// A split payment's share: no commission (the platform took its share at payment).
    pub split: bool,
    #[serde(with = "time_ns")]
    pub at: Timestamp,
    /// An adjustment's reason and id, or the statement a carried net comes from.
    pub note: Option<String>,
    /// The adjustment it is (`sad_…`).
    #[serde(default)]
    pub adjustment_id: Option<String>,
}

impl StatementItem {
    fn figures(&self) -> ItemFigures {
        ItemFigures {
            kind: ItemKind::parse(&self.kind).unwrap_or(ItemKind::Adjustment),
            amount: self.amount,
            commission: self.commission,
        }
    }
}

/// A payout of a statement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Payout {
    /// `bank` or `balance`.
    pub to: String,
    pub amount: i64,
    /// `reviewing`, `approved`, `succeeded`, `failed` or (to the balance) `kept`.
    pub status: String,
    pub requested_by: String,
    #[serde(with = "time_ns")]
    pub requested_at: Timestamp,
    pub reviewed_by: Option<String>,
    /// The withdrawal fee a payout to the bank is charged (the withdrawal flow's rule), and whether the
    /// merchant pays it (out of the amount) or the platform (its fee expense).
    #[serde(default)]
    pub fee: i64,
    #[serde(default)]
    pub fee_paid_by_merchant: bool,
    /// What reaches the settlement account: the amount, less the fee when the merchant pays it.
    #[serde(default)]
    pub paid_to_account: i64,
}

/// A statement as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    pub id: String,
    pub customer_id: String,
    pub merchant_id: String,
    /// `S000001`, `S000002`, ... per merchant.
    pub number: String,
    /// `daily` or `monthly`.
    pub cycle: String,
    #[serde(with = "time_ns")]
    pub period_start: Timestamp,
    #[serde(with = "time_ns")]
    pub period_end: Timestamp,
    /// `2026-11-05` or `2026-11`, in the platform's time zone.
    pub period: String,
    pub receipts_account_id: String,
    /// The merchant's fee rate of `balance_payment` the commission was counted at, in basis points.
    pub fee_rate_bp: u32,
    pub gross: i64,
    pub refunds: i64,
    pub commission: i64,
    pub adjustments: i64,
    pub net: i64,
    /// What its issue moved: commission to the platform, adjustments (signed), the net held.
    pub moved_commission: i64,
    pub moved_adjustments: i64,
    pub held: i64,
    pub hold_id: Option<String>,
    /// What it took over from the statement before, and what it carries into the next.
    pub carried_in: CarriedFigures,
    pub carried_out: CarriedFigures,
    pub status: String,
    pub dispute_reason: Option<String>,
    /// The statement it corrects, and the one that corrected it.
    pub corrects: Option<String>,
    pub corrected_by: Option<String>,
    pub payout: Option<Payout>,
    pub items: Vec<StatementItem>,
    #[serde(with = "time_ns")]
    pub issued_at: Timestamp,
    #[serde(with = "time_ns")]
    pub updated_at: Timestamp,
    /// The payout's chain being applied, and the statuses it leads to.
    in_flight: Vec<StoredRequest>,
    on_success: Option<String>,
    on_refusal: Option<String>,
}
json_document!(Statement, "settlement");

impl Statement {
    pub fn status(&self) -> Status {
        Status::parse(&self.status).unwrap_or(Status::Corrected)
    }

    fn hold(&self) -> anyhow::Result<Option<TransferId>> {
        self.hold_id
            .as_deref()
            .map(|h| TransferId::parse(h).ok_or_else(|| anyhow::anyhow!("stored hold id {h:?}")))
            .transpose()
    }

    fn reference(&self) -> String {
        format!("{}/{}", self.merchant_id, self.number)
    }

    /// The chain resolving the hold: posting it (paid out), with the payout's withdrawal fee moved
    /// between withdrawals in transit and `fee` (`(debit, credit)`: from in transit to fee income when
    /// the merchant pays it, from fee expense into in transit when the platform does), or voiding it
    /// (kept as balance, or the payout failed).
    fn resolve(
        &self,
        step: &str,
        post: bool,
        fee: Option<(AccountId, AccountId)>,
    ) -> anyhow::Result<Vec<TransferRequest>> {
        let Some(pending_id) = self.hold()? else { return Ok(Vec::new()) };
        let mut next = ids_for(&self.id, step);
        let mut chain = vec![TransferRequest {
            id: next(),
            action: if post {
                TransferAction::PostPending { pending_id, amount: None }
            } else {
                TransferAction::VoidPending { pending_id }
            },
            linked: false,
            code: if post { SETTLEMENT_PAYOUT_CODE } else { SETTLEMENT_RELEASE_CODE }.to_owned(),
            reference: Some(self.reference()),
            metadata: "{}".to_owned(),
        }];
        let charged = self.payout.as_ref().map(|p| p.fee).unwrap_or(0);
        if let (true, Some((debit, credit)), Some(amount)) = (post, fee, Amount::new(charged)) {
            chain[0].linked = true;
            chain.push(TransferRequest {
                id: next(),
                action: TransferAction::Post {
                    debit_account_id: debit,
                    credit_account_id: credit,
                    amount,
                    balancing: false,
                },
                linked: false,
                code: SETTLEMENT_PAYOUT_FEE_CODE.to_owned(),
                reference: Some(self.reference()),
                metadata: "{}".to_owned(),
            });
        }
        Ok(chain)
    }
}

/// A page of a merchant's statements, in number order.
#[derive(Debug)]
pub struct StatementPage {
    pub statements: Vec<Statement>,
    pub next: Option<String>,
}

/// Where a payout goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayoutTarget {
    Bank,
    Balance,
}

/// The most earlier statements an issue keeps read at once (for its refunds' payments).
const CHARGED_KEPT_MAX: usize = 4;

/// The earlier statements an issue has read, for the commission its refunds' payments were charged
/// (refunds of one period are mostly of a few periods' payments).
#[derive(Default)]
struct Charged {
    statements: Vec<Statement>,
}

/// What one pass of the settlement run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SettlementRunPass {
    pub merchants: usize,
    pub issued: usize,
    /// Merchants whose statements were refused (kept in the log; the run went on).
    pub failed: usize,
    /// Statements issued `short`: the receipts account no longer held what they move (the merchant
    /// withdrew its receipts meanwhile); nothing moved, all of it carried into the next (logged).
    pub short: usize,
}

async fn load(work: &mut Work, id: &str) -> Result<Statement, WalletFailure> {
    work.get::<Statement>(id).await?.ok_or_else(not_found)
}

impl Wallets {
    /// The cycle a merchant is settled on: monthly for the types configured so, daily otherwise.
    pub fn settlement_cycle(&self, merchant: &StoredMerchant) -> Cycle {
        if self.config.settlement_monthly_types.contains(&merchant.merchant_type) {
            Cycle::Monthly
        } else {
            Cycle::Daily
        }
    }

    /// The merchant's receipts account: the first account its type opened.
    fn receipts_account(merchant: &StoredMerchant) -> Result<AccountId, WalletFailure> {
        merchant
            .accounts
            .first()
            .and_then(|a| AccountId::parse(&a.account_id))
            .ok_or_else(|| refused(SettlementError::MerchantInactive))
    }

    /// The merchant's fee rate of the balance payment (its current signing's, or the product's).
    fn fee_rate(&self, merchant: &StoredMerchant) -> u32 {
        let code = PlatformProduct::BalancePayment.code();
        match merchant.signing(code) {
            Some(signing) => signing.fee_rate_bp,
            None => self.parties.config().products.find(code).map(|p| p.fee_rate_bp).unwrap_or(0),
        }
    }

    /// The merchant's settlement book, as it is (a new one if none yet).
    pub async fn settlement_book(&self, merchant: MerchantId) -> Result<SettlementBook, WalletFailure> {
        let stored = self.parties.get_merchant(merchant).await?;
        Ok(self.parties.reader().get::<SettlementBook>(&book_id(merchant)).await?.unwrap_or_else(|| new_book(&stored)))
    }

    /// Issues the merchant's statement of `period` (closed by `now`), or, for the period of a disputed
    /// statement with an approved adjustment waiting, the corrected statement that replaces it.
    pub async fn issue_statement(
        &self,
        merchant_id: MerchantId,
        period: Period,
        now: Timestamp,
        actor: &Actor,
    ) -> Result<Statement, WalletFailure> {
        let _turn = self.turn([format!("settlement:{merchant_id}")]).await;
        let merchant = self.parties.get_merchant(merchant_id).await?;
        if merchant.accounts.is_empty() {
            return Err(refused(SettlementError::MerchantInactive));
        }
        rules::check_cycle(self.settlement_cycle(&merchant), period.cycle)?;
        period.check_closed(now, self.parties.config().bill_period_closed_after_s)?;
        let mut reader = self.parties.reader();
        let mut book =
            reader.get::<SettlementBook>(&book_id(merchant_id)).await?.unwrap_or_else(|| new_book(&merchant));
        // A statement recorded but not finished (a crash, the ledger out of reach): finished first,
        // with the chain it recorded; the answer when it is of this very period.
        let pending = reader.get::<Statement>(&statement_id(merchant_id, &format!("S{:06}", book.issued + 1))).await?;
        if let Some(pending) = pending.filter(|s| s.status() == Status::Issuing) {
            let same = pending.period_start == period.start && pending.period_end == period.end;
            let done = self.finish_issue(pending, &merchant, actor).await?;
            if same {
                return Ok(done);
            }
            book = self
                .parties
                .reader()
                .get::<SettlementBook>(&book_id(merchant_id))
                .await?
                .unwrap_or_else(|| new_book(&merchant));
        }
        let issued_before = book.issued;
        // The statement it corrects: a disputed one of this very period, once an adjustment made for
        // it waits. Otherwise the period is the next in order (none skipped).
        let last_end = book.last_end.map(Timestamp::from_nanos);
        let corrects = match rules::check_overlap(last_end, &period) {
            Ok(()) => {
                rules::check_next(last_end, &period)?;
                None
            }
            Err(overlap) => {
                let disputed = self.disputed_of(merchant_id, &book, &period).await?;
                match disputed {
                    Some(old)
                        if book.adjustments.iter().any(|a| a.statement.as_deref() == Some(old.number.as_str())) =>
                    {
                        Some(old)
                    }
                    Some(_) => return Err(refused(SettlementError::NoCorrection)),
                    None => return Err(overlap.into()),
                }
            }
        };
        let adjustments = self.adjustments_for(merchant_id, &book, corrects.as_ref()).await?;
        let receipts = Self::receipts_account(&merchant)?;
        let rate = self.fee_rate(&merchant);
        let mut charged = Charged::default();
        let mut items = self.ledger_items(receipts, &period, rate, &mut charged).await?;
        // What is not in the ledger's entries: the carried net, the adjustments.
        let carried_in: CarriedFigures = match &corrects {
            Some(old) => old.carried_in,
            None => book.carried,
        };
        if carried_in != CarriedFigures::default() {
            items.push(StatementItem {
                kind: ItemKind::CarriedForward.as_str().to_owned(),
                order_number: None,
                transfer_ids: Vec::new(),
                amount: carried_in.net,
                commission: 0,
                split: false,
                at: period.start,
                note: Some("carried forward from the last statement".to_owned()),
                adjustment_id: None,
            });
        }
        if let Some(old) = &corrects {
            items.extend(old.items.iter().filter(|i| i.kind == ItemKind::Adjustment.as_str()).cloned());
        }
        items.extend(adjustments.iter().map(|a| StatementItem {
            kind: ItemKind::Adjustment.as_str().to_owned(),
            order_number: None,
            transfer_ids: Vec::new(),
            amount: a.amount,
            commission: 0,
            split: false,
            at: a.made_at,
            note: Some(format!("{}: {}", a.id, a.reason)),
            adjustment_id: Some(a.id.clone()),
        }));
        let figures = rules::figures(&items.iter().map(StatementItem::figures).collect::<Vec<_>>())
            .map_err(|e| WalletFailure::Internal(e.into()))?;
        let own_adjustments: i64 =
            items.iter().filter(|i| i.kind == ItemKind::Adjustment.as_str()).map(|i| i.amount).sum();
        let already = match &corrects {
            Some(old) => Carried { net: 0, commission: old.moved_commission, adjustments: old.moved_adjustments },
            None => Carried::default(),
        };
        let moves = rules::moves(&figures, own_adjustments, carried_in.into(), already)
            .map_err(|e| WalletFailure::Internal(e.into()))?;

        let number = format!("S{:06}", book.issued + 1);
        let id = statement_id(merchant_id, &number);
        let reference = format!("{merchant_id}/{number}");
        let void = match &corrects {
            Some(old) => old.hold()?,
            None => None,
        };
        let (chain, hold_id) =
            self.issue_chain(&id, &reference, "issue", receipts, void, moves.adjustments, moves.commission, moves.hold);
        let status = if figures.net < 0 { Status::CarriedForward } else { Status::Issued };
        let statement = Statement {
            id: id.clone(),
            customer_id: merchant.customer_id.clone(),
            merchant_id: merchant.id.clone(),
            number: number.clone(),
            cycle: period.cycle.as_str().to_owned(),
            period_start: period.start,
            period_end: period.end,
            period: period.label(&self.parties.config().calendar),
            receipts_account_id: receipts.to_string(),
            fee_rate_bp: rate,
            gross: figures.gross,
            refunds: figures.refunds,
            commission: figures.commission,
            adjustments: figures.adjustments,
            net: figures.net,
            moved_commission: moves.commission + already.commission,
            moved_adjustments: moves.adjustments + already.adjustments,
            held: moves.hold,
            hold_id,
            carried_in,
            carried_out: moves.carried.into(),
            status: Status::Issuing.as_str().to_owned(),
            dispute_reason: None,
            corrects: corrects.as_ref().map(|o| o.number.clone()),
            corrected_by: None,
            payout: None,
            items,
            issued_at: now,
            updated_at: now,
            in_flight: store_chain(&chain),
            on_success: Some(status.as_str().to_owned()),
            on_refusal: Some(Status::Refused.as_str().to_owned()),
        };
        // The record first, with its chain (`chain::apply`'s rule): a crash after the ledger moved it
        // leaves an `issuing` statement that the next issue (the run's rerun) finishes with the same
        // transfers, their ids derived from the statement.
        transact!(&self.parties, WalletFailure, |work| {
            let book = work.get::<SettlementBook>(&book_id(merchant_id)).await?.unwrap_or_else(|| new_book(&merchant));
            let taken = work.get::<Statement>(&id).await?.is_some_and(|s| s.status() != Status::Refused);
            if book.issued != issued_before || taken {
                // Another instance issued meanwhile: its statement stands.
                return Err(refused(SettlementError::PeriodOverlaps));
            }
            work.put(&statement);
            Ok(())
        })?;
        self.finish_issue(statement, &merchant, actor).await
    }

    /// The chain issuing a statement moves, linked: the hold it replaces voided (a correction), the
    /// adjustments (signed), the commission (signed), and the net held; and the hold's id.
    #[allow(clippy::too_many_arguments)]
    fn issue_chain(
        &self,
        id: &str,
        reference: &str,
        step: &str,
        receipts: AccountId,
        void: Option<TransferId>,
        adjustments: i64,
        commission: i64,
        hold: i64,
    ) -> (Vec<TransferRequest>, Option<String>) {
        let currency = self.config.currency;
        let mut next = ids_for(id, step);
        let mut chain = Vec::new();
        let mut push = |action: TransferAction, code: &str| {
            chain.push(TransferRequest {
                id: next(),
                action,
                linked: true,
                code: code.to_owned(),
                reference: Some(reference.to_owned()),
                metadata: "{}".to_owned(),
            })
        };
        let post = |debit: AccountId, credit: AccountId, amount: i64| TransferAction::Post {
            debit_account_id: debit,
            credit_account_id: credit,
            amount: Amount::new(amount).expect("a positive amount"),
            balancing: false,
        };
        if let Some(pending_id) = void {
            push(TransferAction::VoidPending { pending_id }, SETTLEMENT_RELEASE_CODE);
        }
        let adjustments_account = PlatformAccount::Adjustments.id(currency);
        let fee_income = PlatformAccount::FeeIncome.id(currency);
        if adjustments > 0 {
            push(post(adjustments_account, receipts, adjustments), SETTLEMENT_ADJUSTMENT_CODE);
        } else if adjustments < 0 {
            push(post(receipts, adjustments_account, -adjustments), SETTLEMENT_ADJUSTMENT_CODE);
        }
        if commission > 0 {
            push(post(receipts, fee_income, commission), SETTLEMENT_COMMISSION_CODE);
        } else if commission < 0 {
            push(post(fee_income, receipts, -commission), SETTLEMENT_COMMISSION_CODE);
        }
        let mut hold_id = None;
        if hold > 0 {
            let action = TransferAction::Hold {
                debit_account_id: receipts,
                credit_account_id: PlatformAccount::WithdrawalsInTransit.id(currency),
                amount: Amount::new(hold).expect("a positive amount"),
                balancing: false,
                timeout_s: None,
            };
            push(action, SETTLEMENT_HOLD_CODE);
            hold_id = chain.last().map(|r| r.id.to_string());
        }
        if let Some(last) = chain.last_mut() {
            last.linked = false;
        }
        (chain, hold_id)
    }

    /// Applies an `issuing` statement's chain and, once the ledger took it (now or before), marks it
    /// issued and writes the merchant's book (and the statement it corrects) in one transaction. A
    /// chain the ledger refuses (the receipts were withdrawn meanwhile) moved nothing: the statement
    /// is `refused` and the period issued again under its number.
    async fn finish_issue(
        &self,
        statement: Statement,
        merchant: &StoredMerchant,
        actor: &Actor,
    ) -> Result<Statement, WalletFailure> {
        let id = statement.id.clone();
        // A statement found short before a crash has its owed chain recorded in place of its own
        // (below): a rerun applies that chain again, never the statement's own, which the receipts
        // that came in meanwhile might now cover (the commission would be taken twice).
        let found_short = statement.on_success.as_deref() == Some(Status::Short.as_str());
        let requests = restore_chain(&statement.in_flight)?;
        let outcome = if found_short { Ok(Vec::new()) } else { chain::apply(&self.ledger, requests.clone()).await? };
        let books = format!("settlement_book:{}", merchant.id);
        // A period's statement the ledger refused (its receipts account no longer holds what it
        // moves: the merchant withdrew its receipts meanwhile) is issued `short`: nothing moved, all
        // of it carried into the next, so the merchant's later periods are not held up. A correction
        // refused stays as it was (the disputed statement keeps its hold): `refused`, issued again.
        // Short of funds only: any other refusal (the account frozen, closed) is `refused` and the
        // period issued again. What the platform and the merchant owe each other besides the net
        // is moved then if the account still holds it (commission first: no hold), else carried.
        let short = match &outcome {
            Err(refusal)
                if statement.corrects.is_none()
                    && refusal.code() == sanhu_core::ledger::TransferError::InsufficientFunds.code() =>
            {
                tracing::warn!(merchant = %merchant.id, number = %statement.number,
                    "a settlement statement's receipts were withdrawn before it: issued short");
                true
            }
            _ => false,
        };
        let short = short || found_short;
        let mut owed_moved = false;
        if short {
            let owed = if found_short {
                requests
            } else {
                let receipts = AccountId::parse(&statement.receipts_account_id)
                    .ok_or_else(|| WalletFailure::Internal(anyhow::anyhow!("stored receipts account")))?;
                let (owed, _) = self.issue_chain(
                    &statement.id,
                    &statement.reference(),
                    "issue_owed",
                    receipts,
                    None,
                    statement.moved_adjustments,
                    statement.moved_commission,
                    0,
                );
                // The decision first (`chain::apply`'s rule): the statement is short and the owed
                // chain is the one in flight, so a crash after the ledger moved it is finished by
                // applying that chain again, which the ledger applies once.
                let recorded = owed.clone();
                transact!(&self.parties, WalletFailure, |work| {
                    let mut s = load(work, &id).await?;
                    if s.status() == Status::Issuing {
                        s.in_flight = store_chain(&recorded);
                        s.on_success = Some(Status::Short.as_str().to_owned());
                        s.updated_at = work.now;
                        work.put(&s);
                    }
                    Ok(())
                })?;
                owed
            };
            owed_moved = chain::apply(&self.ledger, owed).await?.is_ok();
        }
        if let (Err(refusal), false) = (outcome, short) {
            tracing::info!(merchant = %merchant.id, code = refusal.code(), "a settlement statement's chain was refused");
            transact!(&self.parties, WalletFailure, |work| {
                let mut s = load(work, &id).await?;
                if s.status() == Status::Issuing {
                    s.status = Status::Refused.as_str().to_owned();
                    s.in_flight = Vec::new();
                    (s.on_success, s.on_refusal) = (None, None);
                    s.updated_at = work.now;
                    work.put(&s);
                }
                Ok(())
            })?;
            return Err(refused(SettlementError::ReceiptsShort));
        }
        transact!(&self.parties, WalletFailure, |work| {
            let mut s = load(work, &id).await?;
            if s.status() != Status::Issuing {
                return Ok(s);
            }
            let mut book = work.get::<SettlementBook>(&books).await?.unwrap_or_else(|| new_book(merchant));
            if s.number != format!("S{:06}", book.issued + 1) {
                return Err(WalletFailure::Internal(anyhow::anyhow!(
                    "statement {} is not the next of book {} ({} issued)",
                    s.number,
                    book.id,
                    book.issued
                )));
            }
            if short {
                let own: i64 =
                    s.items.iter().filter(|i| i.kind == ItemKind::Adjustment.as_str()).map(|i| i.amount).sum();
                let figures = rules::Figures {
                    gross: s.gross,
                    refunds: s.refunds,
                    commission: s.commission,
                    adjustments: s.adjustments,
                    net: s.net,
                };
                (s.held, s.hold_id) = (0, None);
                if owed_moved {
                    // The commission and adjustments moved: the merchant's receipts left are its
                    // balance, nothing is carried.
                    s.carried_out = CarriedFigures::default();
                } else {
                    let carried = rules::carry_short(&figures, own, s.carried_in.into())
                        .map_err(|e| WalletFailure::Internal(e.into()))?;
                    s.carried_out = carried.into();
                    (s.moved_commission, s.moved_adjustments) = (0, 0);
                }
                s.on_success = Some(Status::Short.as_str().to_owned());
            }
            book.issued += 1;
            book.last_end = Some(book.last_end.unwrap_or(i64::MIN).max(s.period_end.nanos()));
            // What the book carries grows by what this statement carries more than what it takes
            // off: a period's statement took over the book's carried figures (they are replaced by
            // its own); a correction replaces the statement it corrects, whose carried figures the
            // later statements may have taken over already, so it adds only the difference.
            let mut replaced = s.carried_in;
            if let Some(number) = s.corrects.clone() {
                let mut old = load(work, &statement_id_of(&s.merchant_id, &number)).await?;
                replaced = old.carried_out;
                old.status = Status::Disputed.correct()?.as_str().to_owned();
                old.corrected_by = Some(s.number.clone());
                old.updated_at = work.now;
                work.put(&old);
                work.history(&old.id, &old.customer_id, "settlement.corrected", actor, None, json!({ "by": s.number }));
            }
            book.carried = add_carried(book.carried, s.carried_out, replaced)?;
            // The adjustments it took (an adjustment approved after its record waits for the next).
            book.adjustments.retain(|a| {
                let prefix = format!("{}: ", a.id);
                !s.items.iter().any(|i| {
                    i.kind == ItemKind::Adjustment.as_str()
                        && (i.adjustment_id.as_deref() == Some(a.id.as_str())
                            || i.note.as_deref().is_some_and(|n| n.starts_with(&prefix)))
                })
            });
            s.status = s.on_success.take().unwrap_or_else(|| Status::Issued.as_str().to_owned());
            s.in_flight = Vec::new();
            s.on_refusal = None;
            s.updated_at = work.now;
            work.put(&book);
            work.put(&s);
            work.index(SETTLEMENTS_OF_MERCHANT, &s.merchant_id, &id);
            // Each payment's statement, for the commission a later refund of it gives back.
            for item in s.items.iter().filter(|i| i.kind == ItemKind::Payment.as_str()) {
                for transfer in &item.transfer_ids {
                    work.index(STATEMENT_OF_PAYMENT, transfer, &id);
                }
            }
            work.history(
                &id,
                &s.customer_id,
                "settlement.issued",
                actor,
                None,
                json!({ "period": s.period, "net": s.net, "status": s.status }),
            );
            Ok(s)
        })
    }

    /// The commission the statement that settled payment `t` (an earlier period's) took on it: its
    /// item's, found through the index of payments' statements (the latest that is not replaced).
    /// None when no statement settled it (a payment from before the merchant's first statement).
    async fn charged_on(&self, charged: &mut Charged, t: &Transfer) -> Result<Option<i64>, WalletFailure> {
        let transfer = t.id.to_string();
        let mut ids = self.parties.store().party_index(STATEMENT_OF_PAYMENT, &transfer, 8).await?;
        ids.sort();
        for id in ids.iter().rev() {
            if !charged.statements.iter().any(|s| &s.id == id) {
                let Some(s) = self.parties.reader().get::<Statement>(id).await? else { continue };
                if charged.statements.len() >= CHARGED_KEPT_MAX {
                    charged.statements.remove(0);
                }
                charged.statements.push(s);
            }
            let Some(s) = charged.statements.iter().find(|s| &s.id == id) else { continue };
            if matches!(s.status(), Status::Corrected | Status::Refused | Status::Issuing) {
                continue;
            }
            let item =
                s.items.iter().find(|i| i.kind == ItemKind::Payment.as_str() && i.transfer_ids.contains(&transfer));
            return Ok(item.map(|i| i.commission));
        }
        Ok(None)
    }

    /// The waiting adjustments a statement takes: a correction, those made for the statement it
    /// corrects; a period's statement, those made for no statement, and those made for one that is no
    /// longer disputed (confirmed as it stood: the correction is then the next statement's). An
    /// adjustment made for a disputed statement is never taken by another period's statement.
    async fn adjustments_for(
        &self,
        merchant: MerchantId,
        book: &SettlementBook,
        corrects: Option<&Statement>,
    ) -> Result<Vec<SettlementAdjustment>, WalletFailure> {
        if let Some(old) = corrects {
            return Ok(book
                .adjustments
                .iter()
                .filter(|a| a.statement.as_deref() == Some(old.number.as_str()))
                .cloned()
                .collect());
        }
        let mut reader = self.parties.reader();
        let mut taken = Vec::new();
        for a in &book.adjustments {
            let free = match a.statement.as_deref() {
                None => true,
                Some(number) => reader
                    .get::<Statement>(&statement_id(merchant, number))
                    .await?
                    .is_none_or(|s| s.status() != Status::Disputed),
            };
            if free {
                taken.push(a.clone());
            }
        }
        Ok(taken)
    }

    /// The disputed statement of exactly `period`, if the merchant has one.
    async fn disputed_of(
        &self,
        merchant: MerchantId,
        book: &SettlementBook,
        period: &Period,
    ) -> Result<Option<Statement>, WalletFailure> {
        // The latest statements first: a correction is of a recent period.
        let mut reader = self.parties.reader();
        for n in (1..=book.issued).rev().take(62) {
            let Some(s) = reader.get::<Statement>(&statement_id(merchant, &format!("S{n:06}"))).await? else {
                continue;
            };
            if s.period_start == period.start && s.period_end == period.end && s.status() == Status::Disputed {
                return Ok(Some(s));
            }
        }
        Ok(None)
    }

    /// The items the ledger's entries of the receipts account in the period make.
    async fn ledger_items(
        &self,
        receipts: AccountId,
        period: &Period,
        rate: u32,
        charged: &mut Charged,
    ) -> Result<Vec<StatementItem>, WalletFailure> {
        let store = self.parties.store();
        let mut entries: Vec<Transfer> = Vec::new();
        let mut after = None;
        loop {
            let query = EntryQuery {
                account_id: receipts,
                from: Some(period.start),
                to: Some(period.end),
                after,
                limit: ENTRY_READ_PAGE,
            };
            let page = store.account_entries(&query).await?;
            let full = page.len() == ENTRY_READ_PAGE as usize;
            after = page.last().map(|t| t.timestamp);
            entries.extend(page);
            if entries.len() > STATEMENT_ITEMS_MAX {
                return Err(refused(SettlementError::TooLarge));
            }
            if !full {
                break;
            }
        }
        let mut items = Vec::new();
        for t in &entries {
            let moved = matches!(t.kind, TransferKind::Posted | TransferKind::PostPending);
            if !moved {
                continue;
            }
            let split = t.metadata.contains("\"split\":true");
            if t.credit_account_id == receipts && matches!(t.code.as_str(), "pay" | "escrow_release") {
                items.push(StatementItem {
                    kind: ItemKind::Payment.as_str().to_owned(),
                    order_number: t.reference.clone(),
                    transfer_ids: vec![t.id.to_string()],
                    amount: t.amount,
                    commission: if split { 0 } else { rules::commission(t.amount, rate) },
                    split,
                    at: t.timestamp,
                    note: None,
                    adjustment_id: None,
                });
            } else if t.debit_account_id == receipts && t.code == "refund" {
                let (paid, commission, split, before) =
                    self.payment_of(receipts, t.reference.as_deref(), rate, t, period, charged).await?;
                let back = if split { 0 } else { rules::refund_commission(paid, commission, before, t.amount) };
                items.push(StatementItem {
                    kind: ItemKind::Refund.as_str().to_owned(),
                    order_number: t.reference.clone(),
                    transfer_ids: vec![t.id.to_string()],
                    amount: -t.amount,
                    commission: -back,
                    split,
                    at: t.timestamp,
                    note: None,
                    adjustment_id: None,
                });
            }
        }
        Ok(items)
    }

    /// What the payment of order `reference` paid into the receipts account, the commission on it,
    /// whether it was a split payment's share, and what the refunds of it before `refund` gave back.
    /// The commission is the one its payment was charged: a payment of an earlier period, the
    /// commission its statement's item took (at the rate of then, whatever the merchant's rate is
    /// now); one of this period, this statement's rate.
    async fn payment_of(
        &self,
        receipts: AccountId,
        reference: Option<&str>,
        rate: u32,
        refund: &Transfer,
        period: &Period,
        charged: &mut Charged,
    ) -> Result<(i64, i64, bool, i64), WalletFailure> {
        let Some(reference) = reference else { return Ok((0, 0, false, 0)) };
        let transfers = self.parties.store().transfers_by_reference(reference, 200).await?;
        let before: i64 = transfers
            .iter()
            .filter(|t| {
                t.debit_account_id == receipts
                    && t.code == "refund"
                    && matches!(t.kind, TransferKind::Posted | TransferKind::PostPending)
                    && (t.timestamp, t.id.to_string()) < (refund.timestamp, refund.id.to_string())
            })
            .map(|t| t.amount)
            .sum();
        let (mut paid, mut commission, mut split) = (0i64, 0i64, false);
        for t in transfers.iter().filter(|t| {
            t.credit_account_id == receipts
                && matches!(t.kind, TransferKind::Posted | TransferKind::PostPending)
                && matches!(t.code.as_str(), "pay" | "escrow_release")
        }) {
            paid += t.amount;
            if t.metadata.contains("\"split\":true") {
                split = true;
            } else if t.timestamp < period.start {
                let earlier = self.charged_on(charged, t).await?;
                commission += earlier.unwrap_or_else(|| rules::commission(t.amount, rate));
            } else {
                commission += rules::commission(t.amount, rate);
            }
        }
        Ok((paid, commission, split, before))
    }

    /// A statement of the merchant.
    pub async fn statement(&self, merchant: MerchantId, number: &str) -> Result<Statement, WalletFailure> {
        load(&mut self.parties.reader(), &statement_id(merchant, number)).await
    }

    /// A page of the merchant's statements, in number order, after the cursor `after`.
    pub async fn statements(
        &self,
        merchant: MerchantId,
        after: Option<&str>,
        limit: u32,
    ) -> Result<StatementPage, WalletFailure> {
        self.parties.get_merchant(merchant).await?;
        let store = self.parties.store();
        let key = merchant.to_string();
        let ids = match after {
            Some(after) => {
                let after = statement_id(merchant, after);
                store.party_index_after(SETTLEMENTS_OF_MERCHANT, &key, &after, limit).await?
            }
            None => store.party_index(SETTLEMENTS_OF_MERCHANT, &key, limit).await?,
        };
        let statements: Vec<Statement> = self.parties.reader().get_many(&ids).await?;
        let next = (ids.len() == limit as usize).then(|| statements.last().map(|s| s.number.clone())).flatten();
        Ok(StatementPage { statements, next })
    }

    /// The merchant (its bound client) or the platform confirms an issued statement, or a disputed one
    /// (the dispute resolved as it stands).
    pub async fn confirm_statement(
        &self,
        merchant: MerchantId,
        number: &str,
        actor: &Actor,
    ) -> Result<Statement, WalletFailure> {
        self.change_statement(merchant, number, actor, "settlement.confirmed", |s| {
            s.status = s.status().confirm()?.as_str().to_owned();
            Ok(json!({}))
        })
        .await
    }

    /// The merchant disputes an issued statement, with a reason; its net stays held.
    pub async fn dispute_statement(
        &self,
        merchant: MerchantId,
        number: &str,
        reason: &str,
        actor: &Actor,
    ) -> Result<Statement, WalletFailure> {
        let reason = rules::check_reason(reason)?;
        self.change_statement(merchant, number, actor, "settlement.disputed", |s| {
            s.status = s.status().dispute()?.as_str().to_owned();
            s.dispute_reason = Some(reason.clone());
            Ok(json!({ "reason": reason }))
        })
        .await
    }

    async fn change_statement(
        &self,
        merchant: MerchantId,
        number: &str,
        actor: &Actor,
        action: &str,
        change: impl Fn(&mut Statement) -> Result<serde_json::Value, WalletFailure>,
    ) -> Result<Statement, WalletFailure> {
        let id = statement_id(merchant, number);
        let _turn = self.turn([format!("settlement:{merchant}")]).await;
        transact!(&self.parties, WalletFailure, |work| {
            let mut s = load(work, &id).await?;
            let detail = change(&mut s)?;
            s.updated_at = work.now;
            work.put(&s);
            work.history(&id, &s.customer_id, action, actor, None, detail);
            Ok(s)
        })
    }

    /// Pays out a confirmed statement: to the bank through the withdrawal's checks (its review, then
    /// the channel's result), or to the merchant's balance at once.
    pub async fn pay_out_statement(
        &self,
        merchant_id: MerchantId,
        number: &str,
        to: PayoutTarget,
        actor: &Actor,
    ) -> Result<Statement, WalletFailure> {
        let id = statement_id(merchant_id, number);
        let _turn = self.turn([format!("settlement:{merchant_id}")]).await;
        if let Some(stuck) = self.in_flight(&id).await? {
            // A payout whose chain got no answer: the retry finishes it with the same transfers.
            return self.resume_statement(stuck, actor).await;
        }
        let statement = transact!(&self.parties, WalletFailure, |work| {
            let mut s = load(work, &id).await?;
            s.status().pay_out()?;
            let merchant = crate::party::merchants::load_merchant(work, merchant_id).await?;
            if matches!(merchant.status(), MerchantStatus::Frozen | MerchantStatus::Closed) {
                return Err(refused(SettlementError::MerchantInactive));
            }
            let receipts = AccountId::parse(&s.receipts_account_id)
                .ok_or_else(|| WalletFailure::Internal(anyhow::anyhow!("stored receipts account")))?;
            let (now, held) = (work.now, s.held);
            let payout = |to: &str, status: &str| Payout {
                to: to.to_owned(),
                amount: held,
                status: status.to_owned(),
                requested_by: actor_text(actor),
                requested_at: now,
                reviewed_by: None,
                fee: 0,
                fee_paid_by_merchant: false,
                paid_to_account: held,
            };
            match to {
                PayoutTarget::Bank => {
                    let review = self
                        .check_bank_payout(
                            work,
                            super::withdrawal::PayoutTo::Settlement(&merchant),
                            &[receipts],
                            s.held,
                        )
                        .await?;
                    // The withdrawal's fee, as a withdrawal of the held net would be charged.
                    let (fee, by_merchant, paid) = self.payout_fee(held)?;
                    let mut p = payout("bank", if review { "reviewing" } else { "approved" });
                    (p.fee, p.fee_paid_by_merchant, p.paid_to_account) = (fee, by_merchant, paid);
                    s.payout = Some(p);
                    s.status = Status::Paying.as_str().to_owned();
                }
                PayoutTarget::Balance => {
                    s.payout = Some(payout("balance", "kept"));
                    s.in_flight = store_chain(&s.resolve("keep", false, None)?);
                    s.status = Status::Paying.as_str().to_owned();
                    s.on_success = Some(Status::Paid.as_str().to_owned());
                    s.on_refusal = Some(Status::Confirmed.as_str().to_owned());
                }
            }
            s.updated_at = work.now;
            work.put(&s);
            let target = if to == PayoutTarget::Bank { "bank" } else { "balance" };
            work.history(&id, &s.customer_id, "settlement.payout_requested", actor, None, json!({ "to": target }));
            Ok(s)
        })?;
        self.resume_statement(statement, actor).await
    }

    /// The withdrawal fee on paying `held` out to the bank (the withdrawal flow's rule and payer),
    /// whether the merchant pays it, and what reaches its settlement account. A net that does not
    /// cover a fee the merchant pays is refused (422 `withdrawal_below_fee`): kept as balance instead.
    fn payout_fee(&self, held: i64) -> Result<(i64, bool, i64), WalletFailure> {
        let policy = self.config.withdrawal;
        let Some(amount) = Amount::new(held) else { return Ok((0, false, 0)) };
        let fee = policy.fee().fee_for(amount);
        match policy.fee_payer() {
            FeePayer::Member if fee >= held => Err(WalletError::WithdrawalBelowFee.into()),
            FeePayer::Member => Ok((fee, true, held - fee)),
            FeePayer::Platform => Ok((fee, false, held)),
        }
    }

    /// Where a payout's fee moves: from withdrawals in transit to fee income when the merchant pays
    /// it (the channel is paid the rest), from fee expense into withdrawals in transit when the
    /// platform does (the channel is paid the whole net).
    fn payout_fee_leg(&self, by_merchant: bool) -> (AccountId, AccountId) {
        let currency = self.config.currency;
        let in_transit = PlatformAccount::WithdrawalsInTransit.id(currency);
        if by_merchant {
            (in_transit, PlatformAccount::FeeIncome.id(currency))
        } else {
            (PlatformAccount::FeeExpense.id(currency), in_transit)
        }
    }

    /// Staff's review of a payout to the bank above the auto-approve threshold.
    pub async fn review_statement_payout(
        &self,
        merchant: MerchantId,
        number: &str,
        approve: bool,
        actor: &Actor,
    ) -> Result<Statement, WalletFailure> {
        self.change_statement(merchant, number, actor, "settlement.payout_reviewed", |s| {
            let Some(payout) = s.payout.as_mut().filter(|p| p.to == "bank" && p.status == "reviewing") else {
                return Err(refused(SettlementError::NotPayingOut));
            };
            payout.reviewed_by = Some(actor_text(actor));
            if approve {
                payout.status = "approved".to_owned();
            } else {
                // Rejected: the net stays held, the statement confirmed, to be paid out again.
                payout.status = "rejected".to_owned();
                s.status = Status::Confirmed.as_str().to_owned();
            }
            Ok(json!({ "approve": approve }))
        })
        .await
    }

    /// The channel's answer to an approved payout to the bank: success posts the held net (it has
    /// left), failure releases it (the merchant's balance again). Idempotent.
    pub async fn statement_payout_result(
        &self,
        merchant: MerchantId,
        number: &str,
        succeeded: bool,
        actor: &Actor,
    ) -> Result<Statement, WalletFailure> {
        let id = statement_id(merchant, number);
        let _turn = self.turn([format!("settlement:{merchant}")]).await;
        if let Some(stuck) = self.in_flight(&id).await? {
            // The result's chain got no answer: a retry of the result finishes it (the same chain).
            return self.resume_statement(stuck, actor).await;
        }
        let statement = transact!(&self.parties, WalletFailure, |work| {
            let mut s = load(work, &id).await?;
            match (succeeded, s.status()) {
                (true, Status::Paid) | (false, Status::PayoutFailed) => return Ok(s),
                (_, Status::Paying) => {}
                _ => return Err(refused(SettlementError::NotPayingOut)),
            }
            let Some(payout) = s.payout.as_mut().filter(|p| p.to == "bank" && p.status == "approved") else {
                return Err(refused(SettlementError::NotPayingOut));
            };
            payout.status = if succeeded { "succeeded" } else { "failed" }.to_owned();
            let fee_leg = self.payout_fee_leg(s.payout.as_ref().is_some_and(|p| p.fee_paid_by_merchant));
            let chain = if succeeded {
                s.resolve("payout", true, Some(fee_leg))?
            } else {
                s.resolve("payout_failed", false, None)?
            };
            s.in_flight = store_chain(&chain);
            s.on_success = Some(if succeeded { Status::Paid } else { Status::PayoutFailed }.as_str().to_owned());
            s.on_refusal = Some(Status::Paying.as_str().to_owned());
            s.updated_at = work.now;
            work.put(&s);
            work.history(
                &id,
                &s.customer_id,
                "settlement.payout_result",
                actor,
                None,
                json!({ "succeeded": succeeded }),
            );
            Ok(s)
        })?;
        self.resume_statement(statement, actor).await
    }

    /// The statement `id` if a payout's chain of it is in flight (recorded, its answer not).
    async fn in_flight(&self, id: &str) -> Result<Option<Statement>, WalletFailure> {
        let s = self.parties.reader().get::<Statement>(id).await?.ok_or_else(not_found)?;
        Ok((s.status() == Status::Paying && !s.in_flight.is_empty()).then_some(s))
    }

    /// Finishes the merchant's recent payouts whose chain got no answer (in flight for over a
    /// minute: not one a request is applying now). Returns how many.
    async fn resume_payouts(
        &self,
        merchant: MerchantId,
        book: &SettlementBook,
        now: Timestamp,
    ) -> Result<usize, WalletFailure> {
        let before = now.nanos().saturating_sub(60_000_000_000);
        let mut resumed = 0;
        for n in (1..=book.issued).rev().take(62) {
            let id = statement_id(merchant, &format!("S{n:06}"));
            let _turn = self.turn([format!("settlement:{merchant}")]).await;
            let Some(stuck) = self.in_flight(&id).await.ok().flatten() else { continue };
            if stuck.updated_at.nanos() >= before {
                continue;
            }
            self.resume_statement(stuck, &Actor::System).await?;
            resumed += 1;
        }
        Ok(resumed)
    }

    /// Applies a statement's chain in flight and records the answer.
    async fn resume_statement(&self, statement: Statement, actor: &Actor) -> Result<Statement, WalletFailure> {
        if statement.in_flight.is_empty() {
            // Nothing to move (a payout to the balance of a statement without a hold): done.
            if statement.on_success.is_some() {
                let id = statement.id.clone();
                return transact!(&self.parties, WalletFailure, |work| {
                    let mut s = load(work, &id).await?;
                    if let Some(to) = s.on_success.take() {
                        s.status = to;
                        s.on_refusal = None;
                        work.put(&s);
                    }
                    Ok(s)
                });
            }
            return Ok(statement);
        }
        let requests = restore_chain(&statement.in_flight)?;
        let outcome = chain::apply(&self.ledger, requests.clone()).await?;
        let refusal = self.name_ledger_block(outcome.err(), &requests).await?;
        let id = statement.id.clone();
        let statement = transact!(&self.parties, WalletFailure, |work| {
            let mut s = load(work, &id).await?;
            if s.in_flight.is_empty() {
                return Ok(s);
            }
            let was = s.status.clone();
            s.in_flight = Vec::new();
            let to = match &refusal {
                None => s.on_success.take(),
                Some(_) => s.on_refusal.take(),
            };
            s.status = to.unwrap_or(was.clone());
            (s.on_success, s.on_refusal) = (None, None);
            work.put(&s);
            work.history(
                &id,
                &s.customer_id,
                "settlement.status_changed",
                actor,
                None,
                json!({ "from": was, "to": s.status, "refused": refusal.as_ref().map(|r| r.code()) }),
            );
            Ok(s)
        })?;
        match refusal {
            Some(refusal) => Err(refusal),
            None => Ok(statement),
        }
    }

    /// Staff's adjustment of a merchant's settlement (made by one, approved by another): carried into
    /// the merchant's next statement, or, made for a disputed statement (`statement`, its number),
    /// kept for that statement's corrected re-issue.
    pub async fn adjust_settlement(
        &self,
        merchant_id: MerchantId,
        amount: i64,
        reason: &str,
        statement: Option<&str>,
        actor: &Actor,
        checker: Option<&Actor>,
    ) -> Result<SettlementAdjustment, WalletFailure> {
        let amount = rules::check_adjustment(amount)?;
        let reason = rules::check_reason(reason)?;
        let _turn = self.turn([format!("settlement:{merchant_id}")]).await;
        let merchant = self.parties.get_merchant(merchant_id).await?;
        transact!(&self.parties, WalletFailure, |work| {
            let mut book =
                work.get::<SettlementBook>(&book_id(merchant_id)).await?.unwrap_or_else(|| new_book(&merchant));
            if let Some(number) = statement {
                // Only a disputed statement is corrected.
                load(work, &statement_id(merchant_id, number)).await?.status().correct()?;
            }
            if book.adjustments.len() >= rules::ADJUSTMENTS_WAITING_MAX {
                return Err(refused(SettlementError::AdjustmentsFull));
            }
            let adjustment = SettlementAdjustment {
                id: crate::clock::new_id::<SettlementAdjustmentTag>().to_string(),
                statement: statement.map(str::to_owned),
                amount,
                reason: reason.clone(),
                maker: actor_text(actor),
                checker: checker.map(actor_text),
                made_at: work.now,
            };
            book.adjustments.push(adjustment.clone());
            work.put(&book);
            work.history(
                &book.id,
                &book.customer_id,
                "settlement.adjusted",
                actor,
                None,
                json!({
                    "id": adjustment.id, "amount": amount, "reason": reason, "statement": adjustment.statement,
                    "checker": adjustment.checker,
                }),
            );
            Ok(adjustment)
        })
    }

    /// One pass of the settlement run: for every active merchant, every closed period of its cycle
    /// since its last statement (at most [`rules::RUN_PERIODS_MAX`]); the first period of a merchant
    /// without a statement is the one it was opened in (or the one before `now`'s, if earlier). A merchant's refusal is logged; the run goes on.
    pub async fn settle_merchants(&self, now: Timestamp) -> anyhow::Result<SettlementRunPass> {
        let mut pass = SettlementRunPass::default();
        let mut after: Option<String> = None;
        let calendar = self.parties.config().calendar.clone();
        let closed_after_s = self.parties.config().bill_period_closed_after_s;
        loop {
            let records = self.parties.store().party_list("merchant", after.as_deref(), 200).await?;
            let full = records.len() == 200;
            after = records.last().map(|r| r.id.clone());
            for record in records {
                let Ok(merchant) = <StoredMerchant as crate::party::documents::Document>::decode(&record.data) else {
                    continue;
                };
                if merchant.status() != MerchantStatus::Active {
                    continue;
                }
                let Some(id) = merchant.merchant_id() else { continue };
                pass.merchants += 1;
                let cycle = self.settlement_cycle(&merchant);
                let result: Result<(usize, usize), WalletFailure> = async {
                    let book = self.settlement_book(id).await?;
                    self.resume_payouts(id, &book, now).await?;
                    let mut period = match book.last_end {
                        Some(end) => Period::containing(&calendar, cycle, Timestamp::from_nanos(end))?,
                        None => {
                            // From the period it opened in (none of its receipts left out), or the
                            // one before now's if that is earlier (a clock set back).
                            let current = Period::containing(&calendar, cycle, now)?;
                            let before =
                                Period::containing(&calendar, cycle, Timestamp::from_nanos(current.start.nanos() - 1))?;
                            let opened = Period::containing(&calendar, cycle, merchant.created_at)?;
                            if opened.start < before.start {
                                opened
                            } else {
                                before
                            }
                        }
                    };
                    let (mut issued, mut short) = (0, 0);
                    while issued < rules::RUN_PERIODS_MAX && period.check_closed(now, closed_after_s).is_ok() {
                        let statement = self.issue_statement(id, period, now, &Actor::System).await?;
                        // Short (the receipts were withdrawn meanwhile): reported, carried, and the
                        // merchant's next periods issued all the same.
                        short += usize::from(statement.status() == Status::Short);
                        issued += 1;
                        period = period.next(&calendar)?;
                    }
                    Ok((issued, short))
                }
                .await;
                match result {
                    Ok((n, short)) => {
                        pass.issued += n;
                        pass.short += short;
                    }
                    Err(failure) => {
                        pass.failed += 1;
                        tracing::warn!(merchant = %id, ?failure, "the settlement run could not settle a merchant; going on");
                    }
                }
            }
            if !full {
                return Ok(pass);
            }
        }
    }
}

fn new_book(merchant: &StoredMerchant) -> SettlementBook {
    SettlementBook {
        id: format!("settlement_book:{}", merchant.id),
        customer_id: merchant.customer_id.clone(),
        merchant_id: merchant.id.clone(),
        last_end: None,
        issued: 0,
        carried: CarriedFigures::default(),
        adjustments: Vec::new(),
    }
}
