//! A batch's store error, given to every request of the batch. The batching writers (the ledger's,
//! the audit log's, the nonce book) commit many requests in one transaction, so one failure answers
//! them all; the store's error is shared whole (not turned into text) and is each answer's source, so
//! whoever answers can still tell an unreachable database (`sanhu_store::is_unavailable`).

use std::sync::Arc;

#[derive(Clone, Debug)]
pub struct BatchFailure(Arc<anyhow::Error>);

impl BatchFailure {
    pub fn new(error: anyhow::Error) -> BatchFailure {
        BatchFailure(Arc::new(error))
    }
}

impl std::fmt::Display for BatchFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the store failed the batch")
    }
}

impl std::error::Error for BatchFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        let error: &anyhow::Error = &self.0;
        Some(AsRef::<dyn std::error::Error + Send + Sync>::as_ref(error))
    }
}
