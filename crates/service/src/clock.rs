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
