//! How a wallet use case moves money so that a crash or a retry never moves it twice.
//!
//! The ledger writer is not part of the party transaction: a use case first writes its record with
//! the chain of transfer requests it decided (`in_flight`), then submits the chain, then writes the
//! record again with the outcome. Every transfer id in the chain is **derived** from the record's id,
//! the step and the transfer's position (SHA-256), never drawn at random, so:
//!
//! - a crash after the first write and before the ledger answered leaves the record with its chain;
//!   the retry (the same order number) submits the same chain again, and the ledger, which applies an
//!   id once and answers a resubmission of the same request with the stored transfer, moves the money
//!   at most once;
//! - two instances confirming the same order at once both write the record; the second write meets
//!   the first's version and decides again, finds the chain already decided, and submits the same
//!   chain, which the ledger again applies once.
//!
//! A chain is stored in the record as [`StoredRequest`]s, so that what is resubmitted is exactly what
//! was decided, whatever the balances are by then.

use anyhow::anyhow;
use sanhu_core::id::{Id128, IdKind};
use sanhu_core::ledger::{Transfer, TransferAction, TransferError, TransferRequest};
use sanhu_core::wallet::Leg;
use sanhu_core::{AccountId, Amount, TransferId};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use super::error::ledger_rejection;
use crate::ledger::Ledger;
use crate::wallet::WalletFailure;

/// The id of the `index`-th transfer of `step` of record `record`.
pub(crate) fn derived_id(record: &str, step: &str, index: u32) -> TransferId {
    let mut hasher = Sha256::new();
    hasher.update(b"sanhu.wallet.transfer\n");
    hasher.update(record.as_bytes());
    hasher.update(b"\n");
    hasher.update(step.as_bytes());
    hasher.update(b"\n");
    hasher.update(index.to_be_bytes());
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    TransferId::from_u128(u128::from_be_bytes(bytes).max(1)).expect("not zero")
}

/// Derived ids for `step` of `record`, one after another.
pub(crate) fn ids_for(record: &str, step: &str) -> impl FnMut() -> TransferId {
    let (record, step) = (record.to_owned(), step.to_owned());
    let mut index = 0;
    move || {
        index += 1;
        derived_id(&record, &step, index - 1)
    }
}

/// One movement of a chain: `amount` from `debit` to `credit`, with its business code.
#[derive(Clone, Debug)]
pub(crate) struct Move {
    pub debit: AccountId,
    pub credit: AccountId,
    pub amount: Amount,
    pub code: &'static str,
}

impl From<Leg> for Move {
    fn from(leg: Leg) -> Move {
        Move { debit: leg.debit, credit: leg.credit, amount: leg.amount, code: leg.business.as_str() }
    }
}

/// Posted moves as one linked chain with ids derived for `step` of `record`.
pub(crate) fn posted_chain(moves: &[Move], record: &str, step: &str, reference: &str) -> Vec<TransferRequest> {
    let mut next = ids_for(record, step);
    let last = moves.len().saturating_sub(1);
    moves
        .iter()
        .enumerate()
        .map(|(i, m)| TransferRequest {
            id: next(),
            action: TransferAction::Post {
                debit_account_id: m.debit,
                credit_account_id: m.credit,
                amount: m.amount,
                balancing: false,
            },
            linked: i < last,
            code: m.code.to_owned(),
            reference: Some(reference.to_owned()),
            metadata: "{}".to_owned(),
        })
        .collect()
}

/// Submits a chain. `Ok(Ok(transfers))` when the ledger applied it (now or before: a resubmission
/// answers the stored transfers), `Ok(Err(rejection))` when it refused it (nothing moved), `Err` when
/// the ledger could not answer (unknown outcome: the caller keeps its record's chain for a retry).
pub(crate) async fn apply(
    ledger: &Ledger,
    chain: Vec<TransferRequest>,
) -> Result<Result<Vec<Transfer>, WalletFailure>, WalletFailure> {
    if chain.is_empty() {
        return Ok(Ok(Vec::new()));
    }
    // The chain's record is written (the way every use case reaches here): a rerun of the request
    // finds it and submits this same chain (`crate::effects`).
    crate::effects::recorded();
    // The writer's error stays the source (not a string), so that the answer is the ledger's
    // unavailability (503 `ledger_unavailable`), not an internal error.
    let results = ledger
        .submit(chain)
        .await
        .map_err(|e| WalletFailure::Internal(anyhow::Error::new(e).context("the ledger did not answer")))?;
    let mut transfers = Vec::with_capacity(results.len());
    let mut refusal = None;
    for result in results {
        match result {
            Ok(transfer) => transfers.push(transfer),
            Err(TransferError::LinkedEventFailed) => refusal = refusal.or(Some(TransferError::LinkedEventFailed)),
            Err(error) => {
                if refusal.is_none_or(|r| r == TransferError::LinkedEventFailed) {
                    refusal = Some(error);
                }
            }
        }
    }
    Ok(match refusal {
        None => Ok(transfers),
        Some(error) => Err(ledger_rejection(error)),
    })
}

// ---------------------------------------------------------------------------------------------------
// Stored chains

/// A transfer request as kept in a wallet record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StoredRequest {
    #[serde(with = "id_text")]
    id: TransferId,
    action: StoredAction,
    linked: bool,
    code: String,
    reference: Option<String>,
    metadata: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum StoredAction {
    Post {
        #[serde(with = "id_text")]
        debit: AccountId,
        #[serde(with = "id_text")]
        credit: AccountId,
        amount: i64,
    },
    Hold {
        #[serde(with = "id_text")]
        debit: AccountId,
        #[serde(with = "id_text")]
        credit: AccountId,
        amount: i64,
        timeout_s: Option<u32>,
    },
    PostPending {
        #[serde(with = "id_text")]
        pending: TransferId,
        amount: Option<i64>,
    },
    VoidPending {
        #[serde(with = "id_text")]
        pending: TransferId,
    },
}

pub(crate) fn store_chain(chain: &[TransferRequest]) -> Vec<StoredRequest> {
    chain
        .iter()
        .map(|r| {
            let action = match r.action {
                TransferAction::Post { debit_account_id, credit_account_id, amount, .. } => {
                    StoredAction::Post { debit: debit_account_id, credit: credit_account_id, amount: amount.get() }
                }
                TransferAction::Hold { debit_account_id, credit_account_id, amount, timeout_s, .. } => {
                    StoredAction::Hold {
                        debit: debit_account_id,
                        credit: credit_account_id,
                        amount: amount.get(),
                        timeout_s,
                    }
                }
                TransferAction::PostPending { pending_id, amount } => {
                    StoredAction::PostPending { pending: pending_id, amount: amount.map(Amount::get) }
                }
                TransferAction::VoidPending { pending_id } | TransferAction::ExpirePending { pending_id } => {
                    StoredAction::VoidPending { pending: pending_id }
                }
            };
            StoredRequest {
                id: r.id,
                action,
                linked: r.linked,
                code: r.code.clone(),
                reference: r.reference.clone(),
                metadata: r.metadata.clone(),
            }
        })
        .collect()
}

pub(crate) fn restore_chain(stored: &[StoredRequest]) -> anyhow::Result<Vec<TransferRequest>> {
    let amount = |n: i64| Amount::new(n).ok_or_else(|| anyhow!("stored transfer amount {n} is not positive"));
    stored
        .iter()
        .map(|s| {
            let action = match s.action {
                StoredAction::Post { debit, credit, amount: n } => TransferAction::Post {
                    debit_account_id: debit,
                    credit_account_id: credit,
                    amount: amount(n)?,
                    balancing: false,
                },
                StoredAction::Hold { debit, credit, amount: n, timeout_s } => TransferAction::Hold {
                    debit_account_id: debit,
                    credit_account_id: credit,
                    amount: amount(n)?,
                    balancing: false,
                    timeout_s,
                },
                StoredAction::PostPending { pending, amount: n } => {
                    TransferAction::PostPending { pending_id: pending, amount: n.map(amount).transpose()? }
                }
                StoredAction::VoidPending { pending } => TransferAction::VoidPending { pending_id: pending },
            };
            Ok(TransferRequest {
                id: s.id,
                action,
                linked: s.linked,
                code: s.code.clone(),
                reference: s.reference.clone(),
                metadata: s.metadata.clone(),
            })
        })
        .collect()
}

/// Ids in records as their prefixed text (`acc_…`, `tr_…`).
pub(crate) mod id_text {
    use super::*;

    pub fn serialize<K: IdKind, S: Serializer>(id: &Id128<K>, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(id)
    }

    pub fn deserialize<'de, K: IdKind, D: Deserializer<'de>>(d: D) -> Result<Id128<K>, D::Error> {
        let text = String::deserialize(d)?;
        Id128::parse(&text).ok_or_else(|| serde::de::Error::custom(format!("{text:?} is not a {} id", K::PREFIX)))
    }
}

// ---------------------------------------------------------------------------------------------------
// Records with a chain in flight

/// A wallet record that carries a decided chain until the ledger has answered it.
pub(crate) trait InFlight: crate::party::documents::Document + Clone + Send + Sync {
    fn in_flight(&self) -> &[StoredRequest];
    /// Records the ledger's answer (`None`: applied) and clears the chain.
    fn settle(&mut self, refusal: Option<&WalletFailure>);
    fn customer(&self) -> String;
    /// Adds to the settling write what the record's new status changes elsewhere (counters given
    /// back by an order that did not happen).
    fn after_settle(&mut self, _work: &mut crate::party::work::Work) {}
}

/// Submits a record's chain, if it has one, and records the answer in the record; a refusal is then
/// returned as the error.
pub(crate) async fn resume<R: InFlight>(
    parties: &crate::party::Parties,
    ledger: &Ledger,
    record: R,
    action: &str,
    actor: &sanhu_core::party::Actor,
) -> Result<R, WalletFailure> {
    if record.in_flight().is_empty() {
        return Ok(record);
    }
    let requests = restore_chain(record.in_flight())?;
    let outcome = apply(ledger, requests.clone()).await?;
    let refusal = super::restriction::name_ledger_block(parties, outcome.err(), &requests).await?;
    let id = record.record_id();
    let record = transact!(parties, |work| {
        let Some(mut record) = work.get::<R>(&id).await? else {
            return Err(WalletFailure::NotFound(super::error::ORDER_NOT_FOUND));
        };
        if record.in_flight().is_empty() {
            return Ok(record);
        }
        record.settle(refusal.as_ref());
        record.after_settle(work);
        work.put(&record);
        let detail = serde_json::json!({ "refused": refusal.as_ref().map(|r| r.code()) });
        work.history(&id, &record.customer(), action, actor, None, detail);
        Ok(record)
    })?;
    match refusal {
        Some(refusal) => Err(refusal),
        None => Ok(record),
    }
}
