//! The audit log: every state-changing request (who, from where, what, why, with what outcome) as an
//! append-only, hash-chained sequence of events, the same on both backends.
//!
//! Each event has a sequence number (1, 2, 3, ... with no gaps) and carries the hash of the event
//! before it; its own hash is SHA-256 over a canonical encoding of every stored column and that
//! previous hash ([`event_hash`]). So an event edited in place no longer matches its hash, a deleted
//! event leaves a gap in the sequence, and an event moved or replaced no longer follows the one before
//! it. The head of the chain (the last sequence number and hash) is a row of its own, written in the
//! same transaction as the events: deleting events from the end leaves the head pointing past them.
//! [`verify_chain`] walks the chain and names the first broken link; `sanhu verify` runs it.
//!
//! Appends take the head's lock (PostgreSQL: `FOR UPDATE` on the head row; SQLite: its one writer) in
//! the transaction that inserts the events, so two sanhu instances on one database still form one
//! chain. The store decides nothing about what an event says: the service redacts secrets before an
//! event reaches it.
//!
//! What the chain cannot show by itself: someone who can write the database may rewrite every event
//! from a point on and the head with them, recomputing each hash. `sanhu verify` prints the head, so
//! that an operator can keep it elsewhere (a ticket, a log shipped off the machine) and compare.

use sanhu_core::Timestamp;
use sha2::{Digest, Sha256};

/// The hash the first event follows: 32 zero bytes, in hex.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// Most target ids one event names; a request that names more keeps the first ones.
pub const AUDIT_TARGET_IDS_MAX: usize = 32;
/// Events read per page while verifying the chain.
pub const AUDIT_VERIFY_PAGE_EVENTS: u32 = 10_000;

/// An event to append: everything but its place in the chain, which the store assigns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAuditEvent {
    /// When the request was decided.
    pub at: Timestamp,
    /// Who: `client:cli_…` (later `staff:…`).
    pub actor: String,
    /// The request's id (`req_…`), as answered in `X-Request-Id`.
    pub request_id: String,
    /// The address the request came from, when known.
    pub source: Option<String>,
    /// `POST`, or `GET` for an export of a list (`sanhu_service::audit::ExportRecord`).
    pub method: String,
    /// The route's template, e.g. `/v1/members/{id}/lock`.
    pub route: String,
    /// The ids the request was about (path, body, created), at most [`AUDIT_TARGET_IDS_MAX`]; none
    /// empty or holding a space.
    pub target_ids: Vec<String>,
    /// The HTTP status answered.
    pub status: u16,
    /// The error code answered, for a refusal.
    pub error_code: Option<String>,
    /// The reason the request gave.
    pub reason: Option<String>,
    /// What the request asked to change: its JSON with every secret redacted.
    pub changes: Option<String>,
}

/// An event as stored: its place in the chain and its hashes, with what it records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEvent {
    pub seq: i64,
    pub event: NewAuditEvent,
    /// Hex SHA-256 of the event before (or [`GENESIS_HASH`]).
    pub prev_hash: String,
    /// Hex SHA-256 of this event: [`event_hash`].
    pub hash: String,
}

/// The last event of the chain: `seq` 0 and [`GENESIS_HASH`] while the log is empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditHead {
    pub seq: i64,
    pub hash: String,
}

/// One run of `sanhu verify` as recorded (schema SQLite v20, PostgreSQL v22): when, the outcome, what
/// it checked and its findings, so that the console's audit page and `GET /v1/verifications/latest`
/// show the last one. A record is what the run reported; it is not part of the audit chain (the run
/// checks the chain, and a record written into it would change what the next run checks).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerificationRecord {
    /// Numbered from 1 by the store (0 before it is recorded).
    pub id: i64,
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    /// The ledger's accounts and transfers recounted, and the audit events whose chain holds.
    pub accounts_checked: i64,
    pub transfers_checked: i64,
    pub audit_events_checked: i64,
    /// The ledger's problems plus the audit chain's broken link (0 or 1): zero for a clean run.
    pub findings: i64,
    /// The first findings in words, at most [`VERIFICATION_DETAILS_MAX`].
    pub details: Vec<String>,
    /// What ran it: `sanhu verify`, with its host when known.
    pub ran_by: String,
}

/// Most findings a verification record keeps in words (all are counted).
pub const VERIFICATION_DETAILS_MAX: usize = 20;
/// Longest finding kept, in characters.
pub const VERIFICATION_DETAIL_CHARS_MAX: usize = 500;

impl VerificationRecord {
    /// Whether the run found nothing wrong.
    pub fn clean(&self) -> bool {
        self.findings == 0
    }

    /// The details as one column: a JSON array of the first findings, each bounded.
    pub(crate) fn details_json(&self) -> String {
        let kept: Vec<String> = self
            .details
            .iter()
            .take(VERIFICATION_DETAILS_MAX)
            .map(|d| d.chars().take(VERIFICATION_DETAIL_CHARS_MAX).collect())
            .collect();
        serde_json::to_string(&kept).expect("strings encode")
    }

    pub(crate) fn details_of(text: &str) -> Vec<String> {
        serde_json::from_str(text).unwrap_or_else(|_| vec![text.to_owned()])
    }
}

/// Which events to list, oldest first: every given filter must hold.
#[derive(Clone, Debug, Default)]
pub struct AuditQuery {
    pub actor: Option<String>,
    pub route: Option<String>,
    /// Events naming this id among their targets.
    pub target_id: Option<String>,
    pub request_id: Option<String>,
    /// Events at or after this time.
    pub from: Option<Timestamp>,
    /// Events before this time.
    pub to: Option<Timestamp>,
    /// Events after this sequence number (a page's cursor; 0 for the first page).
    pub after_seq: i64,
    pub limit: u32,
}

store_trait! {
    /// What every backend provides for the audit log.
    pub trait AuditStore {
        /// Appends `events` in one transaction, in the order given, after the chain's head; returns
        /// them as stored. Under the head's lock: concurrent appends, from this store or another on
        /// the same database, queue behind each other and form one chain.
        fn append_audit(&self, events: Vec<NewAuditEvent>) -> anyhow::Result<Vec<AuditEvent>>;
        /// Appends `events` as [`AuditStore::append_audit`] does and, in the same transaction, settles
        /// the idempotency keys of the requests they record (`answers`: each key's stored response,
        /// or its release): a request's event and its replayable answer are committed together,
        /// with those of the concurrent requests, in one commit.
        fn append_audit_answering(
            &self,
            events: Vec<NewAuditEvent>,
            answers: Vec<crate::IdempotencyAnswer>,
        ) -> anyhow::Result<Vec<AuditEvent>>;
        /// Events matching `query`, by sequence number.
        fn audit_events(&self, query: &AuditQuery) -> anyhow::Result<Vec<AuditEvent>>;
        /// The chain's head as last committed.
        fn audit_head(&self) -> anyhow::Result<AuditHead>;
        /// Records a run of `sanhu verify`; returns its id.
        fn record_verification(&self, record: VerificationRecord) -> anyhow::Result<i64>;
        /// The run of `sanhu verify` recorded as `id`, or the last one recorded (`None`), if any.
        fn verification(&self, id: Option<i64>) -> anyhow::Result<Option<VerificationRecord>>;
    }
}

/// Checks what an event promises before a backend stores it: its target ids are within the bound
/// and can be kept space-separated.
pub(crate) fn check_event(event: &NewAuditEvent) -> anyhow::Result<()> {
    anyhow::ensure!(
        event.target_ids.len() <= AUDIT_TARGET_IDS_MAX,
        "refusing an audit event with {} target ids (at most {AUDIT_TARGET_IDS_MAX})",
        event.target_ids.len()
    );
    anyhow::ensure!(
        event.target_ids.iter().all(|id| !id.is_empty() && !id.contains(' ')),
        "refusing an audit event with an empty target id or one holding a space"
    );
    Ok(())
}

/// Target ids as one column: space-separated, empty for none.
pub(crate) fn target_ids_text(ids: &[String]) -> String {
    ids.join(" ")
}

/// The column back as ids. Every text maps to its own list (a doubled space gives an empty id), so an
/// edit of the column changes the event's hash.
pub(crate) fn target_ids_of(text: &str) -> Vec<String> {
    if text.is_empty() {
        Vec::new()
    } else {
        text.split(' ').map(str::to_owned).collect()
    }
}

/// Places `events` after `head`: each gets the next sequence number, the previous event's hash and its
/// own. Returns the events and the new head.
pub(crate) fn chain_after(head: &AuditHead, events: Vec<NewAuditEvent>) -> (Vec<AuditEvent>, AuditHead) {
    let mut seq = head.seq;
    let mut prev_hash = head.hash.clone();
    let mut chained = Vec::with_capacity(events.len());
    for event in events {
        seq += 1;
        let hash = event_hash(seq, &event, &prev_hash);
        chained.push(AuditEvent { seq, event, prev_hash: std::mem::replace(&mut prev_hash, hash.clone()), hash });
    }
    (chained, AuditHead { seq, hash: prev_hash })
}

/// The event's hash: hex SHA-256 over a domain tag, then every stored column in a fixed order, each
/// length-prefixed (an absent optional is a 0 byte, a present one a 1 byte then its value), then the
/// previous event's hash. Length prefixes make the encoding unambiguous: no two events encode alike.
pub fn event_hash(seq: i64, event: &NewAuditEvent, prev_hash: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"sanhu audit event v1\n");
    h.update(seq.to_be_bytes());
    h.update(event.at.nanos().to_be_bytes());
    text(&mut h, &event.actor);
    text(&mut h, &event.request_id);
    optional(&mut h, event.source.as_deref());
    text(&mut h, &event.method);
    text(&mut h, &event.route);
    h.update((event.target_ids.len() as u64).to_be_bytes());
    for id in &event.target_ids {
        text(&mut h, id);
    }
    h.update(u64::from(event.status).to_be_bytes());
    optional(&mut h, event.error_code.as_deref());
    optional(&mut h, event.reason.as_deref());
    optional(&mut h, event.changes.as_deref());
    text(&mut h, prev_hash);
    hex::encode(h.finalize())
}

fn text(h: &mut Sha256, value: &str) {
    h.update((value.len() as u64).to_be_bytes());
    h.update(value.as_bytes());
}

fn optional(h: &mut Sha256, value: Option<&str>) {
    match value {
        None => h.update([0u8]),
        Some(value) => {
            h.update([1u8]);
            text(h, value);
        }
    }
}

/// The first place where the chain does not hold, and what it shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BrokenLink {
    /// Event `seq` is missing: the chain goes from `seq - 1` to `found` (a deleted event).
    Missing { seq: i64, found: i64 },
    /// Event `seq` does not carry the hash of the event before it (an event replaced, moved, or
    /// edited before it and its hash recomputed).
    NotLinked { seq: i64 },
    /// Event `seq`'s columns do not hash to its recorded hash (an edited event).
    Edited { seq: i64 },
    /// The head names event `head` but the chain ends at `last` (events deleted from its end).
    EndMissing { last: i64, head: i64 },
    /// The head's hash is not the hash of its last event (the head or that event rewritten).
    HeadMismatch { seq: i64 },
}

impl BrokenLink {
    /// The sequence number of the first event (or head) that breaks the chain.
    pub fn seq(&self) -> i64 {
        match *self {
            BrokenLink::Missing { seq, .. }
            | BrokenLink::NotLinked { seq }
            | BrokenLink::Edited { seq }
            | BrokenLink::HeadMismatch { seq } => seq,
            BrokenLink::EndMissing { last, .. } => last + 1,
        }
    }
}

impl std::fmt::Display for BrokenLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            BrokenLink::Missing { seq, found } if found == seq + 1 => {
                write!(f, "audit event {seq} is missing (deleted): the chain goes from {} to {found}", seq - 1)
            }
            BrokenLink::Missing { seq, found } => write!(
                f,
                "audit events {seq} to {} are missing (deleted): the chain goes from {} to {found}",
                found - 1,
                seq - 1
            ),
            BrokenLink::NotLinked { seq } => write!(
                f,
                "audit event {seq} does not follow audit event {}: its previous hash is not that event's hash \
                 (an event replaced or moved, or event {} edited and re-hashed)",
                seq - 1,
                seq - 1
            ),
            BrokenLink::Edited { seq } => {
                write!(f, "audit event {seq} was edited: what it records does not match its hash")
            }
            BrokenLink::EndMissing { last, head } => write!(
                f,
                "audit events {} to {head} are missing (deleted): the chain ends at {last} but its head names {head}",
                last + 1
            ),
            BrokenLink::HeadMismatch { seq } => write!(
                f,
                "the audit chain's head does not match audit event {seq}, its last event (the head or the event \
                 rewritten)"
            ),
        }
    }
}

/// Checks events one after another, in sequence order, against the chain's rules.
#[derive(Clone, Debug)]
pub struct ChainWalk {
    last_seq: i64,
    last_hash: String,
}

impl Default for ChainWalk {
    fn default() -> Self {
        ChainWalk { last_seq: 0, last_hash: GENESIS_HASH.to_owned() }
    }
}

impl ChainWalk {
    /// Checks the next event: it has the next sequence number, carries the previous event's hash, and
    /// hashes to its own.
    pub fn check(&mut self, event: &AuditEvent) -> Result<(), BrokenLink> {
        let expected = self.last_seq + 1;
        if event.seq != expected {
            return Err(BrokenLink::Missing { seq: expected, found: event.seq });
        }
        if event.prev_hash != self.last_hash {
            return Err(BrokenLink::NotLinked { seq: event.seq });
        }
        if event_hash(event.seq, &event.event, &event.prev_hash) != event.hash {
            return Err(BrokenLink::Edited { seq: event.seq });
        }
        self.last_seq = event.seq;
        self.last_hash = event.hash.clone();
        Ok(())
    }

    /// Checks that the chain walked ends where `head` says.
    pub fn finish(&self, head: &AuditHead) -> Result<(), BrokenLink> {
        if self.last_seq < head.seq {
            return Err(BrokenLink::EndMissing { last: self.last_seq, head: head.seq });
        }
        if self.last_hash != head.hash {
            return Err(BrokenLink::HeadMismatch { seq: self.last_seq });
        }
        Ok(())
    }

    /// How many events were checked (the last sequence number reached).
    pub fn events_checked(&self) -> i64 {
        self.last_seq
    }
}

/// What [`verify_chain`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditChainReport {
    /// Events that hold, from the first.
    pub events_checked: i64,
    /// The head the walk started from: a chain that holds ends there.
    pub head: AuditHead,
    /// The first broken link, if any.
    pub broken: Option<BrokenLink>,
}

/// Walks the chain from its first event to the head read at the start, page by page, and stops at
/// the first broken link. Events appended meanwhile (after that head) are not looked at.
pub async fn verify_chain<S: AuditStore>(store: &S) -> anyhow::Result<AuditChainReport> {
    let head = store.audit_head().await?;
    let mut walk = ChainWalk::default();
    let mut after_seq = 0;
    'pages: while after_seq < head.seq {
        let page = store
            .audit_events(&AuditQuery { after_seq, limit: AUDIT_VERIFY_PAGE_EVENTS, ..AuditQuery::default() })
            .await?;
        let Some(last) = page.last() else { break };
        after_seq = last.seq;
        for event in &page {
            if event.seq > head.seq {
                break 'pages;
            }
            if let Err(broken) = walk.check(event) {
                return Ok(AuditChainReport { events_checked: walk.events_checked(), head, broken: Some(broken) });
            }
        }
    }
    let broken = walk.finish(&head).err();
    Ok(AuditChainReport { events_checked: walk.events_checked(), head, broken })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(n: i64) -> NewAuditEvent {
        NewAuditEvent {
            at: Timestamp::from_nanos(1_700_000_000_000_000_000 + n),
            actor: "client:cli_01".to_owned(),
            request_id: format!("req_{n}"),
            source: Some("127.0.0.1".to_owned()),
            method: "POST".to_owned(),
            route: "/v1/members/{id}/lock".to_owned(),
            target_ids: vec![format!("mem_{n}")],
            status: 200,
            error_code: None,
            reason: Some("fraud review".to_owned()),
            changes: Some(r#"{"reason":"fraud review"}"#.to_owned()),
        }
    }

    fn chain(n: i64) -> Vec<AuditEvent> {
        let head = AuditHead { seq: 0, hash: GENESIS_HASH.to_owned() };
        chain_after(&head, (1..=n).map(event).collect()).0
    }

    fn walk(events: &[AuditEvent]) -> Result<(), BrokenLink> {
        let mut walk = ChainWalk::default();
        events.iter().try_for_each(|e| walk.check(e))?;
        let last = events.last().map_or(AuditHead { seq: 0, hash: GENESIS_HASH.to_owned() }, |e| AuditHead {
            seq: e.seq,
            hash: e.hash.clone(),
        });
        walk.finish(&last)
    }

    #[test]
    fn a_chain_links_each_event_to_the_one_before() {
        let events = chain(3);
        assert_eq!(events[0].prev_hash, GENESIS_HASH);
        assert_eq!(events[1].prev_hash, events[0].hash);
        assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(walk(&events), Ok(()));
        assert_eq!(walk(&[]), Ok(()));
    }

    #[test]
    fn appending_continues_from_the_head() {
        let head = AuditHead { seq: 0, hash: GENESIS_HASH.to_owned() };
        let (first, head) = chain_after(&head, vec![event(1), event(2)]);
        let (second, head) = chain_after(&head, vec![event(3)]);
        assert_eq!(head, AuditHead { seq: 3, hash: second[0].hash.clone() });
        assert_eq!([first, second].concat(), chain(3));
    }

    #[test]
    fn every_column_is_covered_by_the_hash() {
        let base = event(1);
        let hash = event_hash(1, &base, GENESIS_HASH);
        type Edit = Box<dyn Fn(&mut NewAuditEvent)>;
        let edits: Vec<Edit> = vec![
            Box::new(|e| e.at = Timestamp::from_nanos(e.at.nanos() + 1)),
            Box::new(|e| e.actor.push('x')),
            Box::new(|e| e.request_id.push('x')),
            Box::new(|e| e.source = None),
            Box::new(|e| e.method = "GET".to_owned()),
            Box::new(|e| e.route.push('x')),
            Box::new(|e| e.target_ids.push("acc_1".to_owned())),
            Box::new(|e| e.status = 201),
            Box::new(|e| e.error_code = Some("member_locked".to_owned())),
            Box::new(|e| e.reason = None),
            Box::new(|e| e.changes = Some("{}".to_owned())),
        ];
        for (index, edit) in edits.iter().enumerate() {
            let mut edited = base.clone();
            edit(&mut edited);
            assert_ne!(event_hash(1, &edited, GENESIS_HASH), hash, "edit {index} keeps the hash");
        }
        assert_ne!(event_hash(2, &base, GENESIS_HASH), hash, "the sequence number");
        assert_ne!(event_hash(1, &base, &"1".repeat(64)), hash, "the previous hash");
        // Moving text from one field to the next changes the hash (length prefixes).
        let mut shifted = base.clone();
        shifted.actor = "client:cli_01r".to_owned();
        shifted.request_id = "eq_1".to_owned();
        assert_ne!(event_hash(1, &shifted, GENESIS_HASH), hash);
        let mut none = base.clone();
        none.reason = Some(String::new());
        assert_ne!(
            event_hash(1, &none, GENESIS_HASH),
            event_hash(1, &NewAuditEvent { reason: None, ..base }, GENESIS_HASH)
        );
    }

    #[test]
    fn an_edited_event_is_named() {
        let mut events = chain(4);
        events[2].event.status = 200 + 1;
        assert_eq!(walk(&events), Err(BrokenLink::Edited { seq: 3 }));
    }

    #[test]
    fn an_edited_and_rehashed_event_breaks_the_next_link() {
        let mut events = chain(4);
        events[1].event.reason = Some("nothing to see".to_owned());
        events[1].hash = event_hash(2, &events[1].event, &events[1].prev_hash);
        assert_eq!(walk(&events), Err(BrokenLink::NotLinked { seq: 3 }));
    }

    #[test]
    fn a_deleted_event_is_named() {
        let mut events = chain(5);
        events.remove(2);
        let broken = walk(&events).unwrap_err();
        assert_eq!(broken, BrokenLink::Missing { seq: 3, found: 4 });
        assert!(broken.to_string().contains("audit event 3 is missing"), "{broken}");
    }

    #[test]
    fn reordered_events_are_named() {
        let mut events = chain(4);
        events.swap(1, 2);
        (events[1].seq, events[2].seq) = (2, 3);
        assert_eq!(walk(&events), Err(BrokenLink::NotLinked { seq: 2 }));
    }

    #[test]
    fn events_deleted_from_the_end_are_named_by_the_head() {
        let events = chain(4);
        let head = AuditHead { seq: 4, hash: events[3].hash.clone() };
        let mut walk = ChainWalk::default();
        events[..2].iter().for_each(|e| walk.check(e).unwrap());
        let broken = walk.finish(&head).unwrap_err();
        assert_eq!(broken, BrokenLink::EndMissing { last: 2, head: 4 });
        assert_eq!(broken.seq(), 3);
        let mut walk = ChainWalk::default();
        events.iter().for_each(|e| walk.check(e).unwrap());
        assert_eq!(
            walk.finish(&AuditHead { seq: 4, hash: GENESIS_HASH.to_owned() }),
            Err(BrokenLink::HeadMismatch { seq: 4 })
        );
    }

    #[test]
    fn target_ids_round_trip_and_every_text_is_its_own_list() {
        let ids = vec!["mem_1".to_owned(), "acc_2".to_owned()];
        assert_eq!(target_ids_of(&target_ids_text(&ids)), ids);
        assert_eq!(target_ids_of(""), Vec::<String>::new());
        assert_ne!(target_ids_of("mem_1  acc_2"), ids);
        assert_ne!(target_ids_of(" "), Vec::<String>::new());
    }
}
