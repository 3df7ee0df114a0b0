//! Nonces recorded in batches, on both backends: one transaction answers each nonce of the batch
//! in order; a nonce used before, in an earlier batch or earlier in the same one, is a replay;
//! another client's same nonce is not; a nonce older than the window is forgotten and may be used
//! again.

use sanhu_core::Timestamp;
use sanhu_store::{on_both_backends, AccessStore, NonceRecord};

fn nonce(client: &str, nonce: &str, at: Timestamp) -> NonceRecord {
    NonceRecord { client_id: client.to_owned(), nonce: nonce.to_owned(), at }
}

on_both_backends!(a_batch_of_nonces_answers_each_and_refuses_replays_within_and_across_batches, |db| {
    let store = &db.store;
    let start = Timestamp(1_800_000_000_000_000_000);
    let window_start = Timestamp(start.0 - 600_000_000_000);
    let first = vec![
        nonce("cli_1", "n1", start),
        nonce("cli_1", "n2", start),
        nonce("cli_1", "n1", start),
        nonce("cli_2", "n1", start),
    ];
    assert_eq!(store.record_nonces(&first, window_start).await.unwrap(), vec![true, true, false, true]);
    let second = vec![nonce("cli_2", "n1", start), nonce("cli_1", "n3", start), nonce("cli_1", "n2", start)];
    assert_eq!(store.record_nonces(&second, window_start).await.unwrap(), vec![false, true, false]);
    // The single-nonce path agrees with the batches.
    assert!(!store.record_nonce("cli_1", "n3", start, window_start).await.unwrap());
    // Past the window the old nonces are forgotten: reused once, then a replay again.
    let later = Timestamp(start.0 + 3_600_000_000_000);
    let later_window = Timestamp(later.0 - 600_000_000_000);
    let reused = vec![nonce("cli_1", "n1", later), nonce("cli_1", "n1", later), nonce("cli_1", "n4", later)];
    assert_eq!(store.record_nonces(&reused, later_window).await.unwrap(), vec![true, false, true]);
    assert_eq!(store.record_nonces(&[], later_window).await.unwrap(), Vec::<bool>::new());
});
