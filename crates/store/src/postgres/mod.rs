//! PostgreSQL store: production. Several sanhu instances may share one database, so the ledger
//! writer never assumes it is alone: it locks what a batch touches (holds, then accounts, each in id
//! order, the one global order every writer follows) and retries a batch that lost a race.
//!
//! All SQL is unqualified: the tables live in the connection's `search_path` schema, which the URL
//! may choose (`?options=-c%20search_path%3D<schema>`), as the tests do for a fresh schema each.

mod audit;
mod clients;
mod instance;
mod ledger;
mod party;
mod pool;
mod rows;
mod staff;

use std::sync::Arc;

use anyhow::Context;
use sanhu_core::ledger::{Account, Counters, PendingRecord, Transfer, TransferError, TransferRequest};
use sanhu_core::{AccountId, Timestamp, TransferId};

use crate::{
    ApiClient, Durability, EntryQuery, FlagChange, IdempotencyBegin, IdempotencyKey, KeyAdded, LedgerStore,
    NonceRecord, StoreOptions, StoredResponse, VerifyReport,
};
use pool::Pool;

/// The schema's versions, oldest first; each is applied once, in order, under the migration lock.
const MIGRATIONS: &[(i32, &str)] = &[
    (1, include_str!("schema.sql")),
    (2, include_str!("schema_v2.sql")),
    (3, include_str!("schema_v3.sql")),
    (4, include_str!("schema_v4.sql")),
    (5, include_str!("schema_v5.sql")),
    (6, include_str!("schema_v6.sql")),
    (7, include_str!("schema_v7.sql")),
];

/// A PostgreSQL database. Clones share the connections.
#[derive(Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

struct Inner {
    /// The ledger writer's own connection, so that batches never wait behind reads.
    writer: Pool,
    /// Everything else: reads, account creation, API clients, idempotency keys.
    general: Pool,
    /// Shows other stores that this one's claims on idempotency keys are alive (see `instance`).
    instance: instance::InstanceLock,
}

impl PostgresStore {
    /// Opens a pool of `read_connections + 1` connections to `url` and checks that the server
    /// answers. Does not migrate.
    pub async fn connect(url: &str, options: &StoreOptions) -> anyhow::Result<PostgresStore> {
        let store = PostgresStore {
            inner: Arc::new(Inner {
                writer: Pool::new(url, 1),
                general: Pool::new(url, options.read_connections.max(1) as usize),
                instance: instance::InstanceLock::new(url),
            }),
        };
        store.ping().await.with_context(|| format!("open PostgreSQL at {}", redact(url)))?;
        Ok(store)
    }
}

/// `url` without its password, for error messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!("{}{}:***{}", &url[..scheme_end + 3], &userinfo[..colon], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

impl LedgerStore for PostgresStore {
    async fn migrate(&self) -> anyhow::Result<()> {
        let mut conn = self.inner.general.get().await?;
        let tx = conn.client.transaction().await?;
        // Two processes starting at once must not both run CREATE TABLE IF NOT EXISTS (that races in
        // the catalog); the lock is per schema so that the tests' schemas migrate independently.
        tx.batch_execute(
            "SELECT pg_advisory_xact_lock(hashtext('sanhu migrate ' || current_schema()));
             CREATE TABLE IF NOT EXISTS sanhu_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL);",
        )
        .await
        .context("take the migration lock")?;
        let current: i32 = tx.query_one("SELECT coalesce(max(version), 0) FROM sanhu_migrations", &[]).await?.get(0);
        for &(version, sql) in MIGRATIONS.iter().filter(|(version, _)| *version > current) {
            tx.batch_execute(sql).await.with_context(|| format!("apply schema version {version}"))?;
            tx.execute(
                "INSERT INTO sanhu_migrations (version, applied_at) VALUES ($1, $2)",
                &[&version, &crate::now_nanos()],
            )
            .await?;
        }
        tx.commit().await.context("commit the migration")?;
        Ok(())
    }

    async fn ping(&self) -> anyhow::Result<()> {
        let conn = self.inner.general.get().await?;
        conn.client.simple_query("SELECT 1").await?;
        Ok(())
    }

    async fn durability(&self) -> anyhow::Result<Durability> {
        // Asked on the writer's connection: its setting is the one batches commit under.
        let conn = self.inner.writer.get().await?;
        let synchronous_commit: String = conn.client.query_one("SHOW synchronous_commit", &[]).await?.get(0);
        let fsync: String = conn.client.query_one("SHOW fsync", &[]).await?.get(0);
        Ok(Durability {
            durable: synchronous_commit == "on" && fsync == "on",
            setting: format!("synchronous_commit={synchronous_commit} fsync={fsync}"),
        })
    }

    async fn create_account(&self, account: &Account) -> anyhow::Result<()> {
        self.insert_account(account).await
    }

    async fn create_accounts(&self, accounts: &[Account]) -> anyhow::Result<()> {
        self.insert_accounts(accounts).await
    }

    async fn get_account(&self, id: AccountId) -> anyhow::Result<Option<Account>> {
        self.read_account(id).await
    }

    async fn list_accounts(&self, after: Option<AccountId>, limit: u32) -> anyhow::Result<Vec<Account>> {
        self.read_accounts_after(after, limit).await
    }

    async fn get_accounts(&self, ids: &[AccountId]) -> anyhow::Result<Vec<Account>> {
        self.read_accounts(ids).await
    }

    async fn update_account_flags<E: Send + 'static>(
        &self,
        id: AccountId,
        change: FlagChange<E>,
    ) -> anyhow::Result<Option<Result<Account, E>>> {
        self.change_account_flags(id, change).await
    }

    async fn commit_batch(
        &self,
        requests: Vec<TransferRequest>,
        now: Timestamp,
    ) -> anyhow::Result<Vec<Result<Transfer, TransferError>>> {
        self.commit_transfers(requests, now).await
    }

    async fn get_transfer(&self, id: TransferId) -> anyhow::Result<Option<Transfer>> {
        self.read_transfer(id).await
    }

    async fn transfers_by_reference(&self, reference: &str, limit: u32) -> anyhow::Result<Vec<Transfer>> {
        self.read_transfers_by_reference(reference, limit).await
    }

    async fn pending_status(&self, id: TransferId) -> anyhow::Result<Option<PendingRecord>> {
        self.read_pending(id).await
    }

    async fn account_entries(&self, query: &EntryQuery) -> anyhow::Result<Vec<Transfer>> {
        self.read_entries(query).await
    }

    async fn counters_at(&self, id: AccountId, at: Timestamp) -> anyhow::Result<Counters> {
        self.read_counters_at(id, at).await
    }

    async fn due_pendings(&self, now: Timestamp, limit: u32) -> anyhow::Result<Vec<TransferId>> {
        self.read_due_pendings(now, limit).await
    }

    async fn verify(&self) -> anyhow::Result<VerifyReport> {
        self.recompute_and_check().await
    }

    async fn create_client(&self, client: &ApiClient) -> anyhow::Result<()> {
        self.insert_client(client).await
    }

    async fn list_clients(&self) -> anyhow::Result<Vec<ApiClient>> {
        self.read_clients().await
    }

    async fn get_client(&self, id: &str) -> anyhow::Result<Option<ApiClient>> {
        self.read_client(id).await
    }

    async fn revoke_client(&self, id: &str, at: Timestamp) -> anyhow::Result<bool> {
        self.mark_client_revoked(id, at).await
    }

    async fn add_client_key(&self, client_id: &str, public_key: &[u8; 32], at: Timestamp) -> anyhow::Result<KeyAdded> {
        self.insert_client_key(client_id, public_key, at).await
    }

    async fn revoke_client_key(&self, client_id: &str, number: u32, at: Timestamp) -> anyhow::Result<bool> {
        self.mark_client_key_revoked(client_id, number, at).await
    }

    async fn record_nonce(
        &self,
        client_id: &str,
        nonce: &str,
        at: Timestamp,
        forget_before: Timestamp,
    ) -> anyhow::Result<bool> {
        self.insert_nonce(client_id, nonce, at, forget_before).await
    }

    async fn record_nonces(&self, nonces: &[NonceRecord], forget_before: Timestamp) -> anyhow::Result<Vec<bool>> {
        self.insert_nonces(nonces, forget_before).await
    }

    async fn begin_idempotent(
        &self,
        key: &IdempotencyKey,
        fingerprint: &str,
        now: Timestamp,
    ) -> anyhow::Result<IdempotencyBegin> {
        self.claim_idempotency_key(key, fingerprint, now).await
    }

    async fn complete_idempotent(&self, key: &IdempotencyKey, response: &StoredResponse) -> anyhow::Result<()> {
        self.store_idempotent_response(key, response).await
    }

    async fn release_idempotent(&self, key: &IdempotencyKey) -> anyhow::Result<()> {
        self.delete_idempotency_claim(key).await
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_left_out_of_messages() {
        assert_eq!(redact("postgres://sanhu:secret@db:5432/sanhu"), "postgres://sanhu:***@db:5432/sanhu");
        assert_eq!(redact("postgres://postgres@127.0.0.1/test"), "postgres://postgres@127.0.0.1/test");
    }
}
