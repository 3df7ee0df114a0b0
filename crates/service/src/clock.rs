//! The system clock and id generation: the IO that core leaves to its callers.

use std::time::{SystemTime, UNIX_EPOCH};

use sanhu_core::id::{Id128, IdKind};
use sanhu_core::Timestamp;

pub fn now() -> Timestamp {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).expect("the clock is after 1970");
    Timestamp::from_nanos(since.as_nanos() as i64)
}

/// A new time-ordered id of kind `K`.
pub fn new_id<K: IdKind>() -> Id128<K> {
    let mut random = [0u8; 16];
    getrandom::getrandom(&mut random).expect("the operating system provides randomness");
    let unix_ms = (now().nanos() / 1_000_000) as u64;
    Id128::generate(unix_ms, u128::from_be_bytes(random))
}

/// Random bytes from the operating system, for keys, nonces and tokens.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::getrandom(&mut bytes).expect("the operating system provides randomness");
    bytes
}

/// The clock a service reads its business day from (what has closed, what "now" is for a bill or a
/// statement): the system's, unless a test set it to an instant of its choice, so that a test of
/// closed periods does not depend on the hour it runs at (a "yesterday" read a second before
/// midnight in Shanghai). Clones share the setting.
#[derive(Clone, Debug, Default)]
pub struct Clock(std::sync::Arc<std::sync::atomic::AtomicI64>);

impl Clock {
    /// The system's clock.
    pub fn system() -> Clock {
        Clock::default()
    }

    pub fn now(&self) -> Timestamp {
        match self.0.load(std::sync::atomic::Ordering::SeqCst) {
            0 => now(),
            set => Timestamp::from_nanos(set),
        }
    }

    /// From now on (for this clock and its clones), `at` is now: for tests.
    pub fn set(&self, at: Timestamp) {
        self.0.store(at.nanos().max(1), std::sync::atomic::Ordering::SeqCst);
    }
}
