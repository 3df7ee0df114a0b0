//! API clients as the authentication last read them, kept in this process for at most
//! [`CLIENT_TRUSTED_FOR`] so that a busy client costs no database read per request.
//!
//! The promise: **a revoked client or key is refused by every instance within a second.** An entry is
//! trusted for at most one second from the moment its read began, then read again; so a revocation
//! made anywhere (another instance, `sanhu client revoke` against the same database) is seen by every
//! request that arrives a second after it was committed. A client id the store does not know is kept
//! as unknown for the same second, so a client created after a miss is accepted within a second, and a
//! flood of requests naming one unknown id costs one database read a second.
//!
//! A request whose signature verifies against none of a remembered client's keys reads the client
//! again before it is refused: a key just added (`sanhu client add-key`) verifies at once, and a bad
//! signature costs what it cost before the cache, one read.
//!
//! The entries are bounded ([`crate::HttpConfig::clients_cached_max`]): when the map is full, the
//! expired entries go, and if none has expired, a tenth of the entries chosen at random, so a flood of
//! made-up client ids (every one a miss) never grows memory beyond the bound. Losing an entry costs
//! only a read.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sanhu_store::ApiClient;

/// The longest a client as read from the store is trusted before it is read again.
pub const CLIENT_TRUSTED_FOR: Duration = Duration::from_secs(1);

/// Clients kept by default: far more than the clients of a payments platform that call at once.
pub const CLIENTS_CACHED_MAX: usize = 10_000;

/// A client as the store had it, or the store's word that it has no client of that id.
struct Entry {
    /// When the read that found it began: what the store said is at least this fresh.
    read_at: Instant,
    client: Option<Arc<ApiClient>>,
}

/// What a lookup found.
pub struct Lookup {
    /// The client, or None when the store has no client of that id.
    pub client: Option<Arc<ApiClient>>,
    /// Whether it was remembered rather than read for this request.
    pub remembered: bool,
}

/// The clients of this process. Cheap to clone; clones share the entries.
#[derive(Clone)]
pub struct ClientCache {
    entries: Arc<Mutex<HashMap<String, Entry>>>,
    trusted_for: Duration,
    max: usize,
}

impl ClientCache {
    /// At most `max` entries (at least 1), each trusted for [`CLIENT_TRUSTED_FOR`].
    pub fn new(max: usize) -> ClientCache {
        ClientCache::trusting_for(CLIENT_TRUSTED_FOR, max)
    }

    fn trusting_for(trusted_for: Duration, max: usize) -> ClientCache {
        ClientCache { entries: Arc::new(Mutex::new(HashMap::new())), trusted_for, max: max.max(1) }
    }

    /// Entries held now (expired ones not yet dropped included).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The client `id`: remembered if read less than [`CLIENT_TRUSTED_FOR`] ago, else read with `read`
    /// and remembered.
    pub async fn get<F, Fut>(&self, id: &str, read: F) -> anyhow::Result<Lookup>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = anyhow::Result<Option<ApiClient>>>,
    {
        let now = Instant::now();
        if let Some(entry) = self.lock().get(id) {
            if now.duration_since(entry.read_at) < self.trusted_for {
                return Ok(Lookup { client: entry.client.clone(), remembered: true });
            }
        }
        let client = self.read(id, read).await?;
        Ok(Lookup { client, remembered: false })
    }

    /// The client `id` read now with `read`, whatever is remembered, and remembered.
    pub async fn read<F, Fut>(&self, id: &str, read: F) -> anyhow::Result<Option<Arc<ApiClient>>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = anyhow::Result<Option<ApiClient>>>,
    {
        // Taken before the read: whatever the read finds is at least this fresh, so the entry's second
        // is counted from here, and a revocation committed before it is seen.
        let read_at = Instant::now();
        let client = read().await?.map(Arc::new);
        self.remember(id, Entry { read_at, client: client.clone() });
        Ok(client)
    }

    fn remember(&self, id: &str, entry: Entry) {
        let mut entries = self.lock();
        match entries.get_mut(id) {
            // A read that began earlier and ended later does not replace a fresher one.
            Some(held) if held.read_at > entry.read_at => {}
            Some(held) => *held = entry,
            None => {
                if entries.len() >= self.max {
                    let trusted_for = self.trusted_for;
                    let now = Instant::now();
                    entries.retain(|_, held| now.duration_since(held.read_at) < trusted_for);
                    if entries.len() >= self.max {
                        // All fresh: a tenth goes (the map's order is random), so that the next ones
                        // find room without another pass.
                        let excess = entries.len() + 1 - self.max + self.max / 10;
                        let going: Vec<String> = entries.keys().take(excess).cloned().collect();
                        for key in going {
                            entries.remove(&key);
                        }
                    }
                }
                entries.insert(id.to_owned(), entry);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use sanhu_core::Timestamp;

    use super::*;

    fn client(id: &str) -> ApiClient {
        ApiClient::new(id.to_owned(), "test".to_owned(), [7; 32], Timestamp::from_nanos(0))
    }

    /// A store of one client that counts its reads.
    struct Counted {
        reads: AtomicUsize,
        client: Mutex<Option<ApiClient>>,
    }

    impl Counted {
        fn of(client: Option<ApiClient>) -> Counted {
            Counted { reads: AtomicUsize::new(0), client: Mutex::new(client) }
        }

        async fn read(&self) -> anyhow::Result<Option<ApiClient>> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            Ok(self.client.lock().unwrap().clone())
        }

        fn reads(&self) -> usize {
            self.reads.load(Ordering::SeqCst)
        }
    }

    #[tokio::test]
    async fn a_busy_client_is_read_once_a_second_and_a_revocation_is_seen_after_it() {
        let cache = ClientCache::trusting_for(Duration::from_millis(200), 100);
        let store = Counted::of(Some(client("cli_a")));
        for _ in 0..1000 {
            let found = cache.get("cli_a", || store.read()).await.unwrap();
            assert!(found.client.unwrap().revoked_at.is_none());
        }
        assert_eq!(store.reads(), 1, "one read for a thousand requests within the window");

        store.client.lock().unwrap().as_mut().unwrap().revoked_at = Some(Timestamp::from_nanos(1));
        let remembered = cache.get("cli_a", || store.read()).await.unwrap();
        assert!(remembered.remembered && remembered.client.unwrap().revoked_at.is_none(), "trusted for its window");
        tokio::time::sleep(Duration::from_millis(210)).await;
        let found = cache.get("cli_a", || store.read()).await.unwrap();
        assert!(!found.remembered && found.client.unwrap().revoked_at.is_some(), "read again after the window");
        assert_eq!(store.reads(), 2);
    }

    #[tokio::test]
    async fn an_unknown_client_is_remembered_for_its_window_only() {
        let cache = ClientCache::trusting_for(Duration::from_millis(200), 100);
        let store = Counted::of(None);
        for _ in 0..100 {
            assert!(cache.get("cli_new", || store.read()).await.unwrap().client.is_none());
        }
        assert_eq!(store.reads(), 1, "a flood naming one unknown id costs one read a window");
        *store.client.lock().unwrap() = Some(client("cli_new"));
        tokio::time::sleep(Duration::from_millis(210)).await;
        assert!(cache.get("cli_new", || store.read()).await.unwrap().client.is_some(), "created after the miss");
    }

    #[tokio::test]
    async fn a_flood_of_unknown_ids_never_holds_more_than_the_bound() {
        let cache = ClientCache::trusting_for(Duration::from_secs(60), 1000);
        let store = Counted::of(None);
        cache.get("cli_busy", || async { Ok(Some(client("cli_busy"))) }).await.unwrap();
        for i in 0..50_000 {
            cache.get(&format!("cli_made_up_{i}"), || store.read()).await.unwrap();
            assert!(cache.len() <= 1000, "{} entries after {i} made-up ids", cache.len());
        }
        assert_eq!(store.reads(), 50_000, "every made-up id is a miss");
        // Expired entries go first when the map is full.
        let cache = ClientCache::trusting_for(Duration::from_millis(50), 10);
        for i in 0..10 {
            cache.get(&format!("cli_{i}"), || store.read()).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(60)).await;
        cache.get("cli_next", || store.read()).await.unwrap();
        assert_eq!(cache.len(), 1);
    }

    #[tokio::test]
    async fn a_read_that_began_earlier_does_not_replace_a_fresher_one() {
        let cache = ClientCache::trusting_for(Duration::from_secs(60), 10);
        let early = Instant::now();
        let mut revoked = client("cli_a");
        revoked.revoked_at = Some(Timestamp::from_nanos(1));
        cache.remember("cli_a", Entry { read_at: Instant::now(), client: Some(Arc::new(revoked)) });
        cache.remember("cli_a", Entry { read_at: early, client: Some(Arc::new(client("cli_a"))) });
        let store = Counted::of(None);
        let found = cache.get("cli_a", || store.read()).await.unwrap();
        assert!(found.client.unwrap().revoked_at.is_some());
        assert_eq!(store.reads(), 0);
    }
}
