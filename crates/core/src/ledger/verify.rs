//! Recomputing the ledger from its transfers, for `sanhu verify`: every account's counters from its
//! entries (invariant 2), every entry's recorded balance after it, and per currency that debits equal
//! credits (invariant 1). Pure: the store streams rows in, in timestamp order.

use std::collections::{BTreeMap, HashMap};

use super::account::{Account, Counters};
use super::transfer::{Transfer, TransferKind};
use crate::{AccountId, TransferId};

/// Most problems listed; past it only the count grows, so a broken ledger cannot exhaust memory.
pub const PROBLEMS_LISTED_MAX: usize = 1000;

#[derive(Default)]
pub struct Recount {
    counters: HashMap<AccountId, [i128; 4]>,
    holds: HashMap<TransferId, i64>,
    problems: Vec<String>,
    problems_total: u64,
    pub transfers: u64,
}

impl Recount {
    fn problem(&mut self, text: String) {
        self.problems_total += 1;
        if self.problems.len() < PROBLEMS_LISTED_MAX {
            self.problems.push(text);
        }
    }

    /// Adds one transfer. Transfers must come in timestamp order (an account's order is what counts).
    pub fn add(&mut self, t: &Transfer) {
        self.transfers += 1;
        let amount = t.amount as i128;
        // (pending delta, posted delta) on the debit side of the debit account and the credit side of
        // the credit account; a transfer moves both by the same amounts.
        let (pending, posted) = match t.kind {
            TransferKind::Posted => (0, amount),
            TransferKind::Pending => {
                self.holds.insert(t.id, t.amount);
                (amount, 0)
            }
            TransferKind::PostPending | TransferKind::VoidPending | TransferKind::ExpirePending => {
                let Some(held) = t.pending_id.and_then(|p| self.holds.remove(&p)) else {
                    self.problem(format!("transfer {} resolves a hold that is not open", t.id));
                    return;
                };
                let posted = if t.kind == TransferKind::PostPending { amount } else { 0 };
                (-(held as i128), posted)
            }
        };
        let debit = self.counters.entry(t.debit_account_id).or_default();
        debit[0] += pending;
        debit[1] += posted;
        let debit_now = *debit;
        let credit = self.counters.entry(t.credit_account_id).or_default();
        credit[2] += pending;
        credit[3] += posted;
        let credit_now = *credit;
        if as_i128(&t.debit_account_after) != debit_now {
            self.problem(format!(
                "transfer {} records debit account {} counters {:?} after it, but its entries sum to {:?}",
                t.id, t.debit_account_id, t.debit_account_after, debit_now
            ));
        }
        if as_i128(&t.credit_account_after) != credit_now {
            self.problem(format!(
                "transfer {} records credit account {} counters {:?} after it, but its entries sum to {:?}",
                t.id, t.credit_account_id, t.credit_account_after, credit_now
            ));
        }
    }

    /// Compares the recount with the stored accounts and checks each currency balances. Returns the
    /// problems found (at most `PROBLEMS_LISTED_MAX`) and how many there were in all.
    pub fn finish<'a>(mut self, accounts: impl IntoIterator<Item = &'a Account>) -> (Vec<String>, u64) {
        let mut per_currency: BTreeMap<String, [i128; 4]> = BTreeMap::new();
        for account in accounts {
            let stored = as_i128(&account.counters);
            let recounted = self.counters.remove(&account.id).unwrap_or_default();
            if stored != recounted {
                self.problem(format!(
                    "account {} has counters {:?} but its entries sum to {:?}",
                    account.id, account.counters, recounted
                ));
            }
            if stored.iter().any(|&c| c < 0) {
                self.problem(format!("account {} has a negative counter {:?}", account.id, account.counters));
            }
            let sums = per_currency.entry(account.currency.code().to_owned()).or_default();
            for (sum, c) in sums.iter_mut().zip(stored) {
                *sum += c;
            }
        }
        let orphans: Vec<AccountId> = self.counters.keys().copied().collect();
        for id in orphans {
            self.problem(format!("transfers name account {id}, which does not exist"));
        }
        for (currency, [debits_pending, debits_posted, credits_pending, credits_posted]) in per_currency {
            if debits_posted != credits_posted {
                self.problem(format!(
                    "{currency}: posted debits {debits_posted} differ from posted credits {credits_posted}"
                ));
            }
            if debits_pending != credits_pending {
                self.problem(format!(
                    "{currency}: pending debits {debits_pending} differ from pending credits {credits_pending}"
                ));
            }
        }
        (self.problems, self.problems_total)
    }
}

fn as_i128(c: &Counters) -> [i128; 4] {
    [c.debits_pending as i128, c.debits_posted as i128, c.credits_pending as i128, c.credits_posted as i128]
}
