//! One run of a use case: what it read (and at which version), and everything it will write, applied
//! by the store in one transaction.

use std::collections::HashMap;

use sanhu_core::ledger::{Account, AccountFlags};
use sanhu_core::party::{Actor, Change, Reason};
use sanhu_core::{AccountId, Timestamp};
use sanhu_store::party::{
    CounterAdd, LedgerFlagsWrite, PartyChange, PartyConflict, PartyKey, PartyRecord, PartyStore, PartyWrite,
    RecordWrite,
};
use sanhu_store::Store;

use super::documents::Record;
use super::Parties;
use crate::clock;

/// How many times a loop that is not `transact!` (a pay password's attempt, which hashes again when
/// the stored hash changed) goes round before it gives up.
pub(crate) const ATTEMPTS: usize = 8;

/// How long `transact!` keeps deciding a use case again while its write meets concurrent changes,
/// before it answers `concurrent_change`. Within one instance requests on one object are decided in
/// turn (`turns.rs`), so what is left is another instance writing the same records: a time, not a
/// count, so that many instances at once are still decided, each after a pause.
pub(crate) const CONTENTION_BUDGET: std::time::Duration = std::time::Duration::from_secs(10);
/// The longest pause between two attempts; the pause doubles from `RETRY_PAUSE_FIRST` up to it, and
/// each is drawn at random below its bound, so that contending writers spread out.
const RETRY_PAUSE_MAX: std::time::Duration = std::time::Duration::from_millis(50);
const RETRY_PAUSE_FIRST: std::time::Duration = std::time::Duration::from_micros(500);

/// When a use case whose write met a concurrent change runs again.
pub(crate) struct Retry {
    started: std::time::Instant,
    pause: std::time::Duration,
    pub attempts: u32,
}

impl Retry {
    pub(crate) fn new() -> Retry {
        Retry { started: std::time::Instant::now(), pause: RETRY_PAUSE_FIRST, attempts: 1 }
    }

    /// Pauses before the next attempt and answers true, or answers false once the budget is spent.
    pub(crate) async fn again(&mut self) -> bool {
        if self.started.elapsed() >= CONTENTION_BUDGET {
            return false;
        }
        let mut random = [0u8; 4];
        getrandom::getrandom(&mut random).expect("the operating system provides randomness");
        let bound = self.pause.as_micros().max(1) as u64;
        let pause = std::time::Duration::from_micros(u64::from(u32::from_le_bytes(random)) % bound);
        tokio::time::sleep(pause).await;
        self.pause = (self.pause * 2).min(RETRY_PAUSE_MAX);
        self.attempts += 1;
        true
    }
}

/// Key namespaces: what the platform keeps unique.
pub(crate) const CERTIFICATE_KEY: &str = "certificate";
pub(crate) const IDENTITY_KEY: &str = "identity";
/// A card bound to a member: `member id:card token`.
pub(crate) const BANK_CARD_KEY: &str = "bank_card";

/// Lookup indexes.
pub(crate) const MEMBERS_OF_CUSTOMER: &str = "customer_members";
pub(crate) const ACCOUNTS_OF_MEMBER: &str = "member_accounts";
pub(crate) const AUTHENTICATIONS_OF_MEMBER: &str = "member_authentications";
pub(crate) const CUSTOMERS_BY_NAME: &str = "customer_name";
pub(crate) const CARDS_OF_MEMBER: &str = "member_bank_cards";
pub(crate) const OPERATORS_OF_MEMBER: &str = "member_operators";

pub(crate) struct Work {
    store: Store,
    /// The configuration's data keys, which the records that keep certificate numbers seal them under.
    config: std::sync::Arc<super::PartyConfig>,
    pub now: Timestamp,
    /// Version and creation time of every record read, by id.
    read: HashMap<String, (i64, Timestamp)>,
    write: PartyWrite,
}

impl Work {
    fn new(store: Store, config: std::sync::Arc<super::PartyConfig>) -> Work {
        Work { store, config, now: clock::now(), read: HashMap::new(), write: PartyWrite::default() }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The products merchants sign, as configured.
    pub fn products(&self) -> &sanhu_core::party::product::Products {
        &self.config.products
    }

    /// The server secret, for keys made of keyed hashes (a certificate's, a card's).
    pub fn secret(&self) -> &super::PartySecret {
        &self.config.secret
    }

    /// Reads a record, remembering its version for the write.
    pub async fn get<D: Record>(&mut self, id: &str) -> anyhow::Result<Option<D>> {
        let mut found = self.get_many::<D>(&[id.to_owned()]).await?;
        Ok(found.pop())
    }

    /// Reads several records of one kind in one snapshot, in the order of `ids`; missing ones are left
    /// out.
    pub async fn get_many<D: Record>(&mut self, ids: &[String]) -> anyhow::Result<Vec<D>> {
        let records = self.store.party_records(ids).await?;
        let mut by_id: HashMap<String, PartyRecord> = records.into_iter().map(|r| (r.id.clone(), r)).collect();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(record) = by_id.remove(id) else { continue };
            if record.kind != D::KIND {
                continue;
            }
            self.read.insert(record.id.clone(), (record.version, record.created_at));
            out.push(D::decode_with(&record.data, &self.config.data_keys)?);
        }
        Ok(out)
    }

    /// The records filed under `key` in `index`.
    pub async fn indexed<D: Record>(&mut self, index: &str, key: &str) -> anyhow::Result<Vec<D>> {
        let ids = self.store.party_index(index, key, 10_000).await?;
        self.get_many(&ids).await
    }

    /// Who holds a unique key now.
    pub async fn key_owner(&self, namespace: &str, key: &str) -> anyhow::Result<Option<String>> {
        self.store.party_key_owner(&PartyKey::new(namespace, key)).await
    }

    /// Writes a record: created if it was not read, else replacing the version read.
    pub fn put<D: Record>(&mut self, doc: &D) {
        let id = doc.record_id();
        let (read_version, created_at) = self.read.get(&id).copied().unwrap_or((0, self.now));
        let record = PartyRecord {
            id: id.clone(),
            kind: D::KIND.to_owned(),
            customer_id: doc.customer_id(),
            version: read_version + 1,
            data: doc.encode_with(&self.config.data_keys),
            created_at,
            updated_at: self.now,
        };
        // A use case that writes one record twice writes its last form once.
        self.write.records.retain(|w| w.record.id != id);
        self.write.records.push(RecordWrite { record, expected_version: read_version });
    }

    pub fn claim(&mut self, namespace: &str, key: &str, owner: &str) {
        self.write.claim_keys.push((PartyKey::new(namespace, key), owner.to_owned()));
    }

    pub fn release(&mut self, namespace: &str, key: &str, owner: &str) {
        self.write.release_keys.push((PartyKey::new(namespace, key), owner.to_owned()));
    }

    pub fn index(&mut self, index: &str, key: &str, record_id: &str) {
        self.write.add_index.push((index.to_owned(), key.to_owned(), record_id.to_owned()));
    }

    pub fn unindex(&mut self, index: &str, key: &str, record_id: &str) {
        self.write.remove_index.push((index.to_owned(), key.to_owned(), record_id.to_owned()));
    }

    /// A counter's total as committed now (not versioned: [`Work::add_to_counter`]'s limit is what
    /// holds under concurrent writes).
    pub async fn counter(&self, key: &str) -> anyhow::Result<i64> {
        self.store.party_counter(key).await
    }

    /// Adds `amount` to a counter in this write; with a `limit`, a total that would pass it refuses the
    /// write as a conflict, and the use case is decided again on the totals then.
    pub fn add_to_counter(&mut self, key: &str, amount: i64, limit: Option<i64>) {
        self.write.counters.push(CounterAdd { key: key.to_owned(), amount, limit });
    }

    /// The counters this work would move, taken out of it: for a write of another store's records
    /// that moves them in its own transaction (a card payment's, `crate::card`).
    pub fn take_counters(&mut self) -> Vec<CounterAdd> {
        std::mem::take(&mut self.write.counters)
    }

    pub fn create_ledger_account(&mut self, account: Account) {
        self.write.ledger_accounts.push(account);
    }

    pub fn set_ledger_flags(&mut self, account_id: AccountId, flags: AccountFlags, closing: bool) {
        self.write.ledger_flags.retain(|w| w.account_id != account_id);
        self.write.ledger_flags.push(LedgerFlagsWrite { account_id, flags, closing });
    }

    /// Records a change in the history.
    pub fn history(
        &mut self,
        record_id: &str,
        customer_id: &str,
        action: &str,
        actor: &Actor,
        reason: Option<&Reason>,
        detail: serde_json::Value,
    ) {
        self.write.changes.push(PartyChange {
            seq: 0,
            record_id: record_id.to_owned(),
            customer_id: customer_id.to_owned(),
            action: action.to_owned(),
            actor: actor_text(actor),
            reason: reason.map(|r| r.as_str().to_owned()),
            detail: detail.to_string(),
            at: self.now,
        });
    }

    /// A [`Change`] by `actor` for `reason`, now.
    pub fn change(&self, actor: &Actor, reason: &Reason) -> Change {
        Change { actor: actor.clone(), reason: reason.clone(), at: self.now }
    }

    pub(crate) async fn commit(self) -> anyhow::Result<Result<(), PartyConflict>> {
        let w = &self.write;
        // A use case that decided to change nothing (a member acting again the same day) takes no
        // write transaction: versions are checked only for what is written.
        if w.records.is_empty()
            && w.claim_keys.is_empty()
            && w.release_keys.is_empty()
            && w.add_index.is_empty()
            && w.remove_index.is_empty()
            && w.changes.is_empty()
            && w.ledger_accounts.is_empty()
            && w.ledger_flags.is_empty()
            && w.counters.is_empty()
        {
            return Ok(Ok(()));
        }
        let written = self.store.party_write(&self.write).await;
        if matches!(written, Ok(Ok(()))) {
            crate::effects::wrote();
        }
        written
    }
}

/// How an actor is written in the history.
pub(crate) fn actor_text(actor: &Actor) -> String {
    match actor {
        Actor::Client(id) => format!("client:{id}"),
        Actor::Staff(name) => format!("staff:{}", name.as_str()),
        Actor::Member(id) => format!("member:{id}"),
        Actor::Operator(id) => format!("operator:{id}"),
        Actor::System => "system".to_owned(),
    }
}

/// Runs a use case's body and writes what it decided in one transaction; if a record it read changed
/// or a key it claimed was taken meanwhile, nothing is written and the body runs again on what is now
/// current, after a short random pause, for up to `CONTENTION_BUDGET` (then the failure's `Contended`).
/// A refusal (`Err`) from the body writes nothing. The body sees `$work: &mut Work` and evaluates to
/// `Result<T, E>`, `E` the use case's failure enum.
///
/// A macro rather than a method taking an async closure: the future of a generic async closure is
/// not provably `Send` to the compiler (higher-ranked lifetimes), and HTTP handlers must be `Send`.
macro_rules! transact {
    ($parties:expr, |$work:ident| $body:block) => {{
        let parties: &$crate::party::Parties = $parties;
        let mut retry = $crate::party::work::Retry::new();
        loop {
            let mut unit = parties.begin_work();
            let decided = $crate::party::work::decided(async {
                let $work: &mut $crate::party::work::Work = &mut unit;
                $body
            })
            .await;
            match decided {
                Err(refusal) => break Err(refusal),
                Ok(value) => match unit.commit().await {
                    Err(error) => break Err(::std::convert::From::from(error)),
                    Ok(Ok(())) => break Ok(value),
                    Ok(Err(conflict)) => {
                        tracing::debug!(%conflict, attempts = retry.attempts, "a party write met a concurrent change; deciding again");
                        if !retry.again().await {
                            tracing::warn!(attempts = retry.attempts, "{}", $crate::party::error::CONCURRENT_CHANGE.message);
                            break Err($crate::failure::UseCaseFailure::contended());
                        }
                    }
                },
            }
        }
    }};
    // Where nothing else says which failure the body answers with (its value is only matched or
    // mapped), the caller names it: `transact!(self, PartyError, |work| { ... })`.
    ($parties:expr, $failure:ty, |$work:ident| $body:block) => {{
        let decided: Result<_, $failure> = transact!($parties, |$work| $body);
        decided
    }};
}

/// Fixes the output type of a use case's body, so that `?` inside it converts to the use case's
/// failure ([`crate::party::PartyError`], [`crate::wallet::WalletFailure`]).
pub(crate) async fn decided<T, E: crate::failure::UseCaseFailure>(
    body: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, E> {
    body.await
}

impl Parties {
    /// A unit of work for one attempt of a use case.
    pub(crate) fn begin_work(&self) -> Work {
        Work::new(self.store.clone(), self.config.clone())
    }

    /// Reads without writing.
    pub(crate) fn reader(&self) -> Work {
        Work::new(self.store.clone(), self.config.clone())
    }
}
