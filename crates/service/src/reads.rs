//! Read replicas: statements, flows, bills and reports may be read from a PostgreSQL standby whose
//! data is at most `max_staleness` old; everything else reads the primary (docs/OPERATIONS.md, "Read
//! replicas").
//!
//! Two types keep the rule structural:
//! - [`Reads`] is the only handle that may read a standby, and it offers reads only: a statement, a
//!   flow, bills, the daily figures, the order search, the audit log. The service it wraps reading a
//!   standby is private to it, so no use case that decides money (a payment, a withdrawal, a freeze:
//!   every method of `Wallets`, `Parties`, `Cards`) can be handed a standby: those services are built
//!   on the primary's store and only [`Reads`] is ever built on another.
//! - [`Replicas`] decides, per read, where it goes: to a standby that is fresh enough, else to the
//!   primary. It does not ask the standby per request: a sampler task asks the primary for its
//!   write-ahead log position and each standby how far it has replayed, every `sample_every`, and
//!   keeps for each standby the latest instant whose primary position it has replayed ("fresh as of").
//!   A read at `now` may go to a standby only if `now - fresh_as_of <= max_staleness`: everything
//!   committed before `fresh_as_of` is on the standby, so its data is at most that old. A standby
//!   unreachable, not in recovery (promoted, or a primary named by mistake) or not sampled since the
//!   bound has no fresh instant, or one that ages past the bound, and is not used. The rule needs no
//!   clock shared with the database servers: both instants are this process's.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sanhu_core::id::{BillId, MemberId};
use sanhu_core::ledger::{Account, Transfer};
use sanhu_core::{AccountId, PlatformMonth};
use sanhu_store::audit::{AuditEvent, AuditQuery, AuditStore};
use sanhu_store::{EntryQuery, LedgerStore, Store};

use crate::bill::{Bill, BillFailure, BillPage, Bills, ItemPage};
use crate::wallet::{FlowPage, FlowQuery, MonthFigures, OrderPage, OrderSearch, WalletFailure, Wallets};

/// How stale a standby's reads may be, and how often standbys are sampled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplicaConfig {
    /// A read goes to a standby only if it has everything the primary had committed this long ago.
    pub max_staleness: Duration,
    /// How often the primary's and each standby's positions are asked (not per request).
    pub sample_every: Duration,
}

impl Default for ReplicaConfig {
    fn default() -> Self {
        ReplicaConfig { max_staleness: Duration::from_millis(1_000), sample_every: Duration::from_millis(100) }
    }
}

/// Where a read was served from, and why: what the answer's `Sanhu-Read-From` header and the
/// `sanhu_reads_total` metric say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadFrom {
    /// The standby of this index (in the configured order), fresh within the bound.
    Replica(usize),
    /// The primary: no standby is configured.
    PrimaryOnly,
    /// The primary: the caller asked for a fresh read (`Sanhu-Consistency: strong`).
    PrimaryAsked,
    /// The primary: every standby is beyond the bound, unreachable or not a standby.
    PrimaryNoFreshReplica,
}

impl ReadFrom {
    /// `replica` or `primary`.
    pub fn source(self) -> &'static str {
        match self {
            ReadFrom::Replica(_) => "replica",
            _ => "primary",
        }
    }

    /// Why: `fresh` (a standby within the bound), `none` (no standby configured), `strong` (asked),
    /// `stale` (no standby within the bound).
    pub fn reason(self) -> &'static str {
        match self {
            ReadFrom::Replica(_) => "fresh",
            ReadFrom::PrimaryOnly => "none",
            ReadFrom::PrimaryAsked => "strong",
            ReadFrom::PrimaryNoFreshReplica => "stale",
        }
    }
}

/// The routing rule, on its own: a read asked `strong` goes to the primary; otherwise to a standby
/// whose data is fresh as of an instant at most `max_staleness` before `now` (taking turns among
/// several by `turn`), else to the primary.
pub fn route(
    now: Instant,
    strong: bool,
    fresh_as_of: &[Option<Instant>],
    max_staleness: Duration,
    turn: usize,
) -> ReadFrom {
    if fresh_as_of.is_empty() {
        return ReadFrom::PrimaryOnly;
    }
    if strong {
        return ReadFrom::PrimaryAsked;
    }
    let fresh: Vec<usize> = fresh_as_of
        .iter()
        .enumerate()
        .filter(|(_, at)| at.is_some_and(|at| now.saturating_duration_since(at) <= max_staleness))
        .map(|(index, _)| index)
        .collect();
    match fresh.len() {
        0 => ReadFrom::PrimaryNoFreshReplica,
        n => ReadFrom::Replica(fresh[turn % n]),
    }
}

/// The primary's write-ahead log positions as sampled, oldest first, over the last `keep`.
#[derive(Debug, Default)]
pub struct PrimaryPositions {
    samples: VecDeque<(Instant, u64)>,
}

impl PrimaryPositions {
    /// Records that the primary's log was at `position` at `at`, forgetting samples older than
    /// `keep` before it (all a standby within the bound can need).
    pub fn record(&mut self, at: Instant, position: u64, keep: Duration) {
        self.samples.push_back((at, position));
        while self.samples.front().is_some_and(|(first, _)| at.saturating_duration_since(*first) > keep) {
            self.samples.pop_front();
        }
    }

    /// The latest sampled instant whose primary position a standby that replayed up to `replayed`
    /// has: it has everything the primary had committed then. None if it has none of those kept.
    pub fn fresh_as_of(&self, replayed: u64) -> Option<Instant> {
        self.samples.iter().rev().find(|(_, position)| *position <= replayed).map(|(at, _)| *at)
    }
}

struct Replica {
    /// The URL without its password, for the log.
    name: String,
    store: Store,
    fresh_as_of: Mutex<Option<Instant>>,
    /// Whether the last sample found it usable, so that a change is logged once.
    usable: std::sync::atomic::AtomicBool,
}

struct ReplicasInner {
    config: ReplicaConfig,
    replicas: Vec<Replica>,
    turn: AtomicUsize,
}

/// The configured standbys and how fresh each is; none by default. Cheap to clone.
#[derive(Clone)]
pub struct Replicas {
    inner: Arc<ReplicasInner>,
}

impl Default for Replicas {
    fn default() -> Self {
        Replicas::none()
    }
}

impl Replicas {
    /// No standby: every read goes to the primary.
    pub fn none() -> Replicas {
        Replicas {
            inner: Arc::new(ReplicasInner {
                config: ReplicaConfig::default(),
                replicas: Vec::new(),
                turn: AtomicUsize::new(0),
            }),
        }
    }

    /// The standbys `replicas` (each its redacted name and its store, from `Store::open_replica`)
    /// of `primary`, none of them usable until sampled.
    pub fn new(config: ReplicaConfig, replicas: Vec<(String, Store)>) -> Replicas {
        Replicas {
            inner: Arc::new(ReplicasInner {
                config,
                replicas: replicas
                    .into_iter()
                    .map(|(name, store)| Replica {
                        name,
                        store,
                        fresh_as_of: Mutex::new(None),
                        usable: Default::default(),
                    })
                    .collect(),
                turn: AtomicUsize::new(0),
            }),
        }
    }

    pub fn config(&self) -> ReplicaConfig {
        self.inner.config
    }

    /// Sets how fresh the standby of `index` is known to be, as a sample would: for tests that play
    /// a standby's lag without one.
    #[doc(hidden)]
    pub fn set_fresh_as_of(&self, index: usize, at: Option<Instant>) {
        *self.inner.replicas[index].fresh_as_of.lock().expect("replica lock") = at;
    }

    pub fn is_empty(&self) -> bool {
        self.inner.replicas.is_empty()
    }

    /// Where a read at this moment goes (see [`route`]).
    pub fn route(&self, strong: bool) -> ReadFrom {
        let fresh: Vec<Option<Instant>> =
            self.inner.replicas.iter().map(|r| *r.fresh_as_of.lock().expect("replica lock")).collect();
        let turn = if fresh.len() > 1 { self.inner.turn.fetch_add(1, Ordering::Relaxed) } else { 0 };
        route(Instant::now(), strong, &fresh, self.inner.config.max_staleness, turn)
    }

    /// The read handle for one read: over `wallets` (the primary's services) or, where [`route`]
    /// sends it, the same services reading a standby. Counted in `sanhu_reads_total` when standbys
    /// are configured.
    pub fn reads(&self, wallets: &Wallets, strong: bool) -> Reads {
        let from = self.route(strong);
        if !self.is_empty() {
            crate::metrics::global().reads.with([from.source(), from.reason()]).inc();
        }
        let wallets = match from {
            ReadFrom::Replica(index) => wallets.reading_from(self.inner.replicas[index].store.clone()),
            _ => wallets.clone(),
        };
        Reads { bills: Bills::new(wallets.parties().clone()), wallets, from }
    }

    /// Samples the primary and every standby once (what [`Replicas::run`] does every
    /// `sample_every`): the primary's log position first, then how far each standby has replayed.
    pub async fn sample(&self, primary: &Store, positions: &mut PrimaryPositions) {
        let config = self.inner.config;
        let asked_at = Instant::now();
        let timeout = config.sample_every.max(Duration::from_millis(500));
        match tokio::time::timeout(timeout, primary.wal_position()).await {
            Ok(Ok(Some(position))) => {
                positions.record(asked_at, position, config.max_staleness + config.sample_every * 2)
            }
            // The primary not answering: no new instant, so the standbys' instants age past the bound
            // and reads go to the primary (which answers them 503 until it is back, as every request).
            Ok(Ok(None)) => {}
            Ok(Err(error)) => tracing::debug!(error = %format!("{error:#}"), "the primary's WAL position is unknown"),
            Err(_) => tracing::debug!("the primary's WAL position took too long"),
        }
        for replica in &self.inner.replicas {
            let replayed = tokio::time::timeout(timeout, replica.store.replay_position()).await;
            let fresh = match replayed {
                Ok(Ok(Some(replayed))) => positions.fresh_as_of(replayed),
                Ok(Ok(None)) => {
                    self.unusable(replica, "it is not a standby (not in recovery): reads go to the primary");
                    *replica.fresh_as_of.lock().expect("replica lock") = None;
                    continue;
                }
                Ok(Err(error)) => {
                    self.unusable(replica, &format!("it does not answer ({error:#}): reads go to the primary"));
                    *replica.fresh_as_of.lock().expect("replica lock") = None;
                    continue;
                }
                // A standby slow to answer keeps its last instant, which ages past the bound.
                Err(_) => continue,
            };
            let mut kept = replica.fresh_as_of.lock().expect("replica lock");
            // Replay only moves forward; an instant older than the one kept says nothing new.
            if fresh > *kept {
                *kept = fresh;
            }
            drop(kept);
            if fresh.is_some() && !replica.usable.swap(true, Ordering::Relaxed) {
                tracing::info!(replica = %replica.name, "the read replica answers as a standby");
            }
        }
    }

    fn unusable(&self, replica: &Replica, why: &str) {
        if replica.usable.swap(false, Ordering::Relaxed) {
            tracing::warn!(replica = %replica.name, "the read replica is not used: {why}");
        }
    }

    /// Samples every `sample_every`, for as long as the process runs (a task of `serve`). Does
    /// nothing without standbys.
    pub async fn run(self, primary: Store) {
        if self.is_empty() {
            return;
        }
        let mut positions = PrimaryPositions::default();
        let mut ticks = tokio::time::interval(self.inner.config.sample_every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            self.sample(&primary, &mut positions).await;
        }
    }
}

/// The handle for one read that may be served by a standby: reads only. Made by
/// [`Replicas::reads`]; use cases that decide money take `Wallets` and friends, which are the
/// primary's, never this.
pub struct Reads {
    wallets: Wallets,
    bills: Bills,
    from: ReadFrom,
}

impl Reads {
    /// Where this handle reads.
    pub fn from(&self) -> ReadFrom {
        self.from
    }

    /// A member's wallet flow (`Wallets::wallet_flow`).
    pub async fn wallet_flow(&self, member: MemberId, query: &FlowQuery) -> Result<FlowPage, WalletFailure> {
        self.wallets.wallet_flow(member, query).await
    }

    /// The daily figures of a month (`Wallets::month_figures`).
    pub async fn month_figures(&self, month: PlatformMonth) -> Result<MonthFigures, WalletFailure> {
        self.wallets.month_figures(month).await
    }

    /// The order search (`Wallets::search_orders`).
    pub async fn search_orders(&self, search: &OrderSearch) -> Result<OrderPage, WalletFailure> {
        self.wallets.search_orders(search).await
    }

    /// A ledger account, for its statement.
    pub async fn account(&self, id: AccountId) -> anyhow::Result<Option<Account>> {
        self.wallets.ledger().store().get_account(id).await
    }

    /// An account's entries (its statement).
    pub async fn account_entries(&self, query: &EntryQuery) -> anyhow::Result<Vec<Transfer>> {
        self.wallets.ledger().store().account_entries(query).await
    }

    /// A member's bills (`Bills::member_bills`).
    pub async fn member_bills(
        &self,
        member: MemberId,
        after: Option<&str>,
        limit: u32,
    ) -> Result<BillPage, BillFailure> {
        self.bills.member_bills(member, after, limit).await
    }

    /// A bill (`Bills::bill`).
    pub async fn bill(&self, id: BillId, binding: Option<MemberId>) -> Result<Bill, BillFailure> {
        self.bills.bill(id, binding).await
    }

    /// A bill's items (`Bills::items`).
    pub async fn bill_items(
        &self,
        id: BillId,
        binding: Option<MemberId>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<ItemPage, BillFailure> {
        self.bills.items(id, binding, after, limit).await
    }

    /// The audit log's events.
    pub async fn audit_events(&self, query: &AuditQuery) -> anyhow::Result<Vec<AuditEvent>> {
        self.wallets.ledger().store().audit_events(query).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUND: Duration = Duration::from_millis(1_000);

    #[test]
    fn without_standbys_every_read_goes_to_the_primary() {
        assert_eq!(route(Instant::now(), false, &[], BOUND, 0), ReadFrom::PrimaryOnly);
        assert_eq!(route(Instant::now(), true, &[], BOUND, 0), ReadFrom::PrimaryOnly);
    }

    #[test]
    fn a_standby_within_the_bound_serves_unless_a_fresh_read_is_asked() {
        let now = Instant::now() + Duration::from_secs(10);
        let fresh = [Some(now - Duration::from_millis(300))];
        assert_eq!(route(now, false, &fresh, BOUND, 0), ReadFrom::Replica(0));
        assert_eq!(route(now, true, &fresh, BOUND, 0), ReadFrom::PrimaryAsked);
        // Exactly at the bound is within it; a moment past is not.
        assert_eq!(route(now, false, &[Some(now - BOUND)], BOUND, 0), ReadFrom::Replica(0));
        let past = [Some(now - BOUND - Duration::from_millis(1))];
        assert_eq!(route(now, false, &past, BOUND, 0), ReadFrom::PrimaryNoFreshReplica);
        // Never sampled, unreachable or not a standby.
        assert_eq!(route(now, false, &[None], BOUND, 0), ReadFrom::PrimaryNoFreshReplica);
    }

    #[test]
    fn fresh_standbys_take_turns_and_stale_ones_are_passed_over() {
        let now = Instant::now() + Duration::from_secs(10);
        let fresh = [Some(now), None, Some(now - Duration::from_secs(5)), Some(now - Duration::from_millis(10))];
        let chosen: Vec<ReadFrom> = (0..4).map(|turn| route(now, false, &fresh, BOUND, turn)).collect();
        assert_eq!(chosen, [ReadFrom::Replica(0), ReadFrom::Replica(3), ReadFrom::Replica(0), ReadFrom::Replica(3)]);
    }

    #[test]
    fn a_standby_is_fresh_as_of_the_latest_primary_position_it_has_replayed() {
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        let mut positions = PrimaryPositions::default();
        for (ms, position) in [(0, 100), (100, 100), (200, 150), (300, 400), (400, 400)] {
            positions.record(at(ms), position, Duration::from_secs(10));
        }
        // Replayed everything: fresh as of the last sample, even though the primary was idle.
        assert_eq!(positions.fresh_as_of(400), Some(at(400)));
        assert_eq!(positions.fresh_as_of(1_000), Some(at(400)));
        // Between positions: as of the last sample at or below what it replayed.
        assert_eq!(positions.fresh_as_of(399), Some(at(200)));
        assert_eq!(positions.fresh_as_of(150), Some(at(200)));
        assert_eq!(positions.fresh_as_of(120), Some(at(100)));
        // Behind every sample kept: unknown, so not used.
        assert_eq!(positions.fresh_as_of(99), None);
    }

    #[test]
    fn samples_older_than_what_is_kept_are_forgotten() {
        let start = Instant::now();
        let mut positions = PrimaryPositions::default();
        for step in 0..100u64 {
            positions.record(start + Duration::from_millis(step * 100), step, Duration::from_millis(1_000));
        }
        assert_eq!(positions.samples.len(), 11);
        assert_eq!(positions.fresh_as_of(88), None, "from 9.9 s back");
        assert_eq!(positions.fresh_as_of(89), Some(start + Duration::from_millis(8_900)));
    }
}
