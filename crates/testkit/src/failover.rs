//! A PostgreSQL database that stops taking writes and takes them again, as a primary does when it
//! fails over, without a second server: the test's store connects as a login role of its own, and
//! the role's sessions are made read-only (`default_transaction_read_only`) and cut
//! (`pg_terminate_backend`, the server's `admin_shutdown`). Only the role's sessions are touched; the
//! role is dropped when the switch is.

use sanhu_store::testing::{unique_suffix, DEFAULT_TEST_POSTGRES_URL};

use crate::schema::postgres_runtime;

pub struct WriteSwitch {
    base: String,
    /// The login role the store under test connects as.
    pub role: String,
}

async fn admin(base: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(base, tokio_postgres::NoTls).await.expect("connect as admin");
    tokio::spawn(connection);
    client
}

impl WriteSwitch {
    /// A fresh role (a superuser, so that it reaches every test schema) at `SANHU_TEST_POSTGRES_URL`.
    pub async fn create() -> WriteSwitch {
        let base = std::env::var("SANHU_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_TEST_POSTGRES_URL.to_owned());
        let role = format!("sanhu_failover_{}", unique_suffix()).to_lowercase().replace('-', "_");
        admin(&base)
            .await
            .batch_execute(&format!("CREATE ROLE {role} LOGIN SUPERUSER"))
            .await
            .expect("create the role");
        WriteSwitch { base, role }
    }

    /// `url` (a test database's) with the switch's role as its user.
    pub fn url(&self, url: &str) -> String {
        let (scheme, rest) = url.split_once("://").expect("a URL");
        let host_start = rest.find('@').map_or(0, |at| at + 1);
        format!("{scheme}://{}@{}", self.role, &rest[host_start..])
    }

    /// `url` with the role as its user, naming first a host where nothing listens and then the real
    /// one, and asking for the host that takes writes: the URL of a primary and its standby.
    pub fn url_of_hosts(&self, url: &str) -> String {
        let own = self.url(url);
        let (head, host_and_rest) = own.split_once('@').expect("a user");
        let separator = if own.contains('?') { '&' } else { '?' };
        format!("{head}@127.0.0.1:1,{host_and_rest}{separator}target_session_attrs=read-write")
    }

    /// The role's sessions become read-only, and those open now are cut: the server no longer takes
    /// the store's writes.
    pub async fn stop_writes(&self) {
        let admin = admin(&self.base).await;
        admin
            .batch_execute(&format!("ALTER ROLE {} SET default_transaction_read_only = on", self.role))
            .await
            .expect("make the role read-only");
        self.cut(&admin).await;
    }

    /// The role's new sessions take writes again; those open now stay as they are (read-only).
    pub async fn take_writes(&self) {
        admin(&self.base)
            .await
            .batch_execute(&format!("ALTER ROLE {} RESET default_transaction_read_only", self.role))
            .await
            .expect("make the role writable");
    }

    /// Ends every session of the role, as a server shutting down or a primary dying does.
    pub async fn terminate(&self) {
        self.cut(&admin(&self.base).await).await;
    }

    async fn cut(&self, admin: &tokio_postgres::Client) {
        admin
            .execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", &[&self.role])
            .await
            .expect("end the role's sessions");
    }
}

impl Drop for WriteSwitch {
    fn drop(&mut self) {
        let (base, role) = (self.base.clone(), self.role.clone());
        // On a plain thread: Drop cannot await, and the test's runtime may be ending.
        let _ = std::thread::spawn(move || {
            postgres_runtime().block_on(async move {
                let Ok((client, connection)) = tokio_postgres::connect(&base, tokio_postgres::NoTls).await else {
                    return;
                };
                tokio::spawn(connection);
                let _ = client
                    .execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", &[&role])
                    .await;
                let _ = client.batch_execute(&format!("DROP ROLE IF EXISTS {role}")).await;
            })
        })
        .join();
    }
}
