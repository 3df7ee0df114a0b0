//! Per-client rate limits: a token bucket per API client, refilled at `rate_limit_per_s` tokens a
//! second up to `rate_limit_burst`; a request takes one token, and a request that finds none is
//! answered 429 `rate_limited` with `Retry-After`.
//!
//! The buckets live in this process's memory: each sanhu instance limits what reaches it, so behind
//! a load balancer spreading a client over N instances the client gets up to N times the rate. They
//! cost nothing on the database, which is the resource the limit protects.
//!
//! The bucket is kept in its equivalent form, the generic cell rate algorithm: per client one
//! instant, the time at which its bucket would be full again ("theoretical arrival time"), in integer
//! nanoseconds of a monotonic clock. A request at `now` is admitted when that time is at most
//! `burst - 1` emission intervals ahead of `now`, and pushes it one interval further.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const NANOS_PER_SECOND: u64 = 1_000_000_000;
/// Clients remembered before the ones whose buckets are full again (and so need no memory) are
/// forgotten.
const CLIENTS_REMEMBERED_MAX: usize = 10_000;

/// The buckets of every client. Cheap to clone; clones share the buckets.
#[derive(Clone)]
pub struct RateLimits {
    /// Nanoseconds one token takes to come back.
    interval_ns: u64,
    /// How far ahead of now a client's full-again time may be and a request still be admitted.
    tolerance_ns: u64,
    started: Instant,
    full_again_ns: Arc<Mutex<HashMap<String, u64>>>,
}

impl RateLimits {
    /// Buckets of `burst` tokens refilled at `per_s` a second (each at least 1).
    pub fn new(per_s: u32, burst: u32) -> RateLimits {
        let interval_ns = (NANOS_PER_SECOND / u64::from(per_s.max(1))).max(1);
        RateLimits {
            interval_ns,
            tolerance_ns: interval_ns.saturating_mul(u64::from(burst.max(1)) - 1),
            started: Instant::now(),
            full_again_ns: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Buckets of `burst` tokens refilled at `per_min` a minute (each at least 1).
    pub fn per_minute(per_min: u32, burst: u32) -> RateLimits {
        let interval_ns = (60 * NANOS_PER_SECOND / u64::from(per_min.max(1))).max(1);
        RateLimits {
            interval_ns,
            tolerance_ns: interval_ns.saturating_mul(u64::from(burst.max(1)) - 1),
            started: Instant::now(),
            full_again_ns: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Takes a token from the client's bucket, or says how long until one is back.
    pub fn admit(&self, client_id: &str) -> Result<(), Duration> {
        self.admit_at(client_id, self.started.elapsed().as_nanos() as u64)
    }

    fn admit_at(&self, client_id: &str, now_ns: u64) -> Result<(), Duration> {
        let mut buckets = self.full_again_ns.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() >= CLIENTS_REMEMBERED_MAX && !buckets.contains_key(client_id) {
            buckets.retain(|_, full_again| *full_again > now_ns);
            // Still full (keys nobody can run out of, such as addresses): the bucket nearest to full
            // again goes, so that memory stays bounded whatever arrives.
            if buckets.len() >= CLIENTS_REMEMBERED_MAX {
                let nearest = buckets.iter().min_by_key(|(_, full_again)| **full_again).map(|(key, _)| key.clone());
                if let Some(key) = nearest {
                    buckets.remove(&key);
                }
            }
        }
        let full_again = buckets.get(client_id).copied().unwrap_or(0).max(now_ns);
        let ahead = full_again - now_ns;
        if ahead > self.tolerance_ns {
            return Err(Duration::from_nanos(ahead - self.tolerance_ns));
        }
        buckets.insert(client_id.to_owned(), full_again + self.interval_ns);
        Ok(())
    }
}

/// Whole seconds to announce in `Retry-After` for a wait: rounded up, at least 1.
pub fn retry_after_s(wait: Duration) -> u32 {
    let seconds = wait.as_nanos().div_ceil(u128::from(NANOS_PER_SECOND));
    u32::try_from(seconds).unwrap_or(u32::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = NANOS_PER_SECOND;

    #[test]
    fn a_client_spends_its_burst_then_one_token_per_interval() {
        let limits = RateLimits::new(10, 3);
        let start = 5 * SECOND;
        for i in 0..3 {
            assert_eq!(limits.admit_at("cli_a", start), Ok(()), "request {i} of the burst");
        }
        // The bucket is empty: the next token is back after one interval (100 ms).
        assert_eq!(limits.admit_at("cli_a", start), Err(Duration::from_millis(100)));
        assert_eq!(limits.admit_at("cli_a", start + SECOND / 20), Err(Duration::from_millis(50)));
        assert_eq!(limits.admit_at("cli_a", start + SECOND / 10), Ok(()));
        assert!(limits.admit_at("cli_a", start + SECOND / 10).is_err());
        // Another client has its own bucket.
        assert_eq!(limits.admit_at("cli_b", start), Ok(()));
        // Idle time refills the bucket, never beyond the burst.
        let later = start + 60 * SECOND;
        for _ in 0..3 {
            assert_eq!(limits.admit_at("cli_a", later), Ok(()));
        }
        assert!(limits.admit_at("cli_a", later).is_err());
    }

    #[test]
    fn a_steady_client_within_its_rate_is_never_refused() {
        let limits = RateLimits::new(1000, 1);
        for i in 0..10_000u64 {
            assert_eq!(limits.admit_at("cli_a", i * SECOND / 1000), Ok(()), "request {i}");
        }
    }

    #[test]
    fn retry_after_is_whole_seconds_rounded_up() {
        assert_eq!(retry_after_s(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_s(Duration::from_millis(1000)), 1);
        assert_eq!(retry_after_s(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after_s(Duration::ZERO), 1);
    }

    #[test]
    fn forgotten_clients_are_those_whose_buckets_are_full_again() {
        let limits = RateLimits::new(1, 1);
        for i in 0..CLIENTS_REMEMBERED_MAX {
            assert_eq!(limits.admit_at(&format!("cli_{i}"), 0), Ok(()));
        }
        // Two seconds on, every bucket is full again: a new client's arrival forgets them all.
        assert_eq!(limits.admit_at("cli_new", 2 * SECOND), Ok(()));
        assert_eq!(limits.full_again_ns.lock().unwrap().len(), 1);
    }
}
