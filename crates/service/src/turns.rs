//! Requests on one object (a member's wallet, a payment, an order) are decided in turn: this process
//! keeps a queue per key, and a use case holds the turns of the objects it decides on from its first
//! read to its last write, so the next request on them starts from what the last one left.
//!
//! Without it, concurrent requests on one object all read the same state, and all but one of their
//! writes met a concurrent change: they were decided again and again and, past a few attempts,
//! answered `concurrent_change`, and a payment planned on balances read before another payment's
//! chain was applied could be refused `insufficient_funds` that a payment decided a moment later
//! would not have been. The queue is fair (first come, first served: tokio's mutex).
//!
//! A queue exists only while requests hold or wait for it: the last one out removes it, and the map
//! is swept of any left over (a request cancelled while waiting) once it holds more than
//! [`QUEUES_SWEPT_FROM`] keys, so it holds about as many queues as there are requests in flight.
//! Another instance on the same database keeps its own queues: what two instances decide at once is
//! still ordered by the records' versions (`transact!`'s retries) and by the ledger's batches.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{Mutex as Queue, OwnedMutexGuard};

/// Past this many queues, taking a turn first removes the queues nobody holds or waits for.
pub const QUEUES_SWEPT_FROM: usize = 1024;

/// The queues of one process. Cheap to clone; clones share the queues.
#[derive(Clone, Default)]
pub struct Turns {
    queues: Arc<Mutex<HashMap<String, Arc<Queue<()>>>>>,
}

/// The turns of one use case on its keys: held until dropped.
pub struct Turn {
    turns: Turns,
    keys: Vec<String>,
    held: Vec<OwnedMutexGuard<()>>,
}

impl Turns {
    pub fn new() -> Turns {
        Turns::default()
    }

    /// Waits for the turn on every key (taken in the keys' order, so that two use cases sharing keys
    /// never wait for each other in a cycle) and holds them until the `Turn` is dropped.
    pub async fn take(&self, keys: impl IntoIterator<Item = String>) -> Turn {
        let mut keys: Vec<String> = keys.into_iter().collect();
        keys.sort();
        keys.dedup();
        let mut turn = Turn { turns: self.clone(), keys, held: Vec::new() };
        for index in 0..turn.keys.len() {
            let queue = self.queue(&turn.keys[index]);
            turn.held.push(queue.lock_owned().await);
        }
        turn
    }

    fn queue(&self, key: &str) -> Arc<Queue<()>> {
        let mut queues = self.queues.lock().expect("the turn queues' lock is never poisoned");
        if queues.len() >= QUEUES_SWEPT_FROM && !queues.contains_key(key) {
            queues.retain(|_, queue| Arc::strong_count(queue) > 1);
        }
        queues.entry(key.to_owned()).or_default().clone()
    }

    /// How many queues are kept now (held, waited for, or left by a cancelled request until swept).
    pub fn queues(&self) -> usize {
        self.queues.lock().expect("the turn queues' lock is never poisoned").len()
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        self.held.clear();
        let mut queues = self.turns.queues.lock().expect("the turn queues' lock is never poisoned");
        for key in &self.keys {
            // Only the map holds it: nobody holds or waits for this key.
            if queues.get(key).is_some_and(|queue| Arc::strong_count(queue) == 1) {
                queues.remove(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn requests_on_one_key_take_turns_and_the_queue_goes_when_unused() {
        let turns = Turns::new();
        let first = turns.take(["wallet:a".to_owned(), "order:1".to_owned()]).await;
        let waiting = tokio::spawn({
            let turns = turns.clone();
            async move {
                let _turn = turns.take(["wallet:a".to_owned()]).await;
            }
        });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "a second request on the key waits for the first");
        let other = turns.take(["wallet:b".to_owned()]).await;
        drop(other);
        drop(first);
        waiting.await.expect("the second request gets its turn");
        assert_eq!(turns.queues(), 0, "no queue is kept once nobody holds or waits");
    }

    #[tokio::test]
    async fn queues_nobody_holds_are_swept() {
        let turns = Turns::new();
        let held = turns.take(["hot".to_owned()]).await;
        // What requests cancelled while waiting may leave.
        for n in 0..QUEUES_SWEPT_FROM + 10 {
            turns.queues.lock().unwrap().insert(format!("left:{n}"), Arc::default());
        }
        let turn = turns.take(["new".to_owned()]).await;
        assert_eq!(turns.queues(), 2, "only the held queues are kept");
        drop((held, turn));
        assert_eq!(turns.queues(), 0);
    }
}
