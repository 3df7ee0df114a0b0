//! What every handler shares ([`AppState`]) and the server's limits ([`HttpConfig`]). A module of its
//! own, so that the layers and the handlers depend on it and not on the crate's root, which builds the
//! router from them.

use sanhu_core::Currency;
use sanhu_service::audit::{AuditConfig, AuditLog};
use sanhu_service::party::Parties;
use sanhu_service::staff::{Staff, StaffConfig};
use sanhu_service::wallet::{WalletConfig, Wallets};
use sanhu_service::Ledger;

use crate::{client_cache, rate_limit};

/// The server's limits, each with its unit in its name.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// How far a request's signed timestamp may be from the server's clock, either way.
    pub signature_window_s: u32,
    /// Largest request body accepted.
    pub body_bytes_max: usize,
    /// Longest a request may run before it is answered `request_timeout`.
    pub request_timeout_ms: u64,
    /// Largest `limit` a list endpoint accepts.
    pub page_size_max: u32,
    /// The header in which a trusted reverse proxy passes the caller's address (`x-forwarded-for`);
    /// its last entry is the audit log's source address. None: the peer's address is.
    pub trusted_proxy_header: Option<String>,
    /// Requests per second each API client may send, on average, to this instance (see
    /// [`rate_limit`]); at least 1.
    pub rate_limit_per_s: u32,
    /// Requests a client may send at once after being idle; at least 1.
    pub rate_limit_burst: u32,
    /// Whether the staff session cookie is marked `Secure` (sent over HTTPS only): set it wherever
    /// sanhu is reached over HTTPS, as it should be wherever staff sign in from elsewhere.
    pub staff_cookie_secure: bool,
    /// Staff sign-ins each source address (an IPv6 address's /64) may attempt a minute, on average,
    /// on this instance, and at once after being idle; at least 1.
    pub sign_ins_per_address_per_min: u32,
    pub sign_ins_per_address_burst: u32,
    /// API clients this instance remembers at once, each for at most a second
    /// ([`client_cache::CLIENT_TRUSTED_FOR`]); at least 1.
    pub clients_cached_max: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            signature_window_s: 300,
            body_bytes_max: 1024 * 1024,
            request_timeout_ms: 30_000,
            page_size_max: 1000,
            trusted_proxy_header: None,
            // Far above what one client of a payments platform sends, so that a limit is a choice
            // made in configuration, never a surprise.
            rate_limit_per_s: 5_000,
            rate_limit_burst: 10_000,
            staff_cookie_secure: false,
            // Far above what staff signing in by hand need, far below what guessing passwords needs.
            sign_ins_per_address_per_min: 30,
            sign_ins_per_address_burst: 10,
            clients_cached_max: client_cache::CLIENTS_CACHED_MAX,
        }
    }
}

/// What every handler shares. Cheap to clone: one `Arc`, since every layer of every request clones
/// the state it is given (axum's `State`), and a clone of each part (a dozen `Arc`s and the
/// configuration's strings) per layer was a measurable share of a request's CPU.
#[derive(Clone)]
pub struct AppState(std::sync::Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] holds, reached through it.
#[derive(Clone)]
pub struct Shared {
    pub(crate) ledger: Ledger,
    pub(crate) parties: Parties,
    pub(crate) wallets: Wallets,
    pub(crate) config: HttpConfig,
    /// Started with the state: every router over it records to the same log.
    pub(crate) audit: AuditLog,
    /// Every router over the state counts against the same buckets.
    pub(crate) rate_limits: rate_limit::RateLimits,
    /// Staff sign-ins per source address.
    pub(crate) sign_in_limits: rate_limit::RateLimits,
    pub(crate) staff: Staff,
    /// Where signed requests spend their nonces, in batches; started with the state.
    pub(crate) nonces: sanhu_service::nonces::NonceBook,
    /// Where requests under an Idempotency-Key claim it, in batches; started with the state.
    pub(crate) claims: sanhu_service::idempotency_claims::ClaimBook,
    /// The API clients signed requests name, each trusted for at most a second.
    pub(crate) clients: client_cache::ClientCache,
    /// Answers and releases of idempotency keys still being kept in the background.
    pub(crate) keeps: Keeps,
    /// Webhook subscriptions and their deliveries' log.
    pub(crate) webhooks: sanhu_service::webhook::Webhooks,
    /// The read replicas that statements, flows, bills and reports may read (`crate::reads`);
    /// none unless [`AppState::with_replicas`].
    pub(crate) replicas: sanhu_service::reads::Replicas,
    /// The process's own settings (where it listens, its database, redacted) for
    /// `GET /v1/configuration`, given by whoever starts the server ([`AppState::with_settings`]).
    pub(crate) settings: std::sync::Arc<Vec<crate::staff::admin::Setting>>,
    /// Balance monitors, evaluated beside the webhooks' task.
    pub(crate) monitors: sanhu_service::webhook::Monitors,
}

/// The answers (and releases) of idempotency keys that could not be kept when their requests were
/// answered, and are tried again in the background until they are (see `crate::idempotency`). Their
/// keys are held meanwhile; a process that stopped with one pending would leave its claim to be
/// taken over and its request run again, so a server stopping waits for them ([`AppState::keeps_settled`]).
#[derive(Clone, Default)]
pub(crate) struct Keeps {
    inner: std::sync::Arc<KeepsInner>,
}

#[derive(Default)]
struct KeepsInner {
    pending: std::sync::atomic::AtomicUsize,
    settled: tokio::sync::Notify,
}

impl Keeps {
    /// Runs `keep` on a task of its own, counted as pending until it ends.
    pub(crate) fn spawn(&self, keep: impl std::future::Future<Output = ()> + Send + 'static) {
        use std::sync::atomic::Ordering;
        self.inner.pending.fetch_add(1, Ordering::SeqCst);
        let inner = self.inner.clone();
        tokio::spawn(async move {
            keep.await;
            if inner.pending.fetch_sub(1, Ordering::SeqCst) == 1 {
                inner.settled.notify_waiters();
            }
        });
    }

    /// Returns once no keep is pending.
    async fn settled(&self) {
        loop {
            let settled = self.inner.settled.notified();
            if self.inner.pending.load(std::sync::atomic::Ordering::SeqCst) == 0 {
                return;
            }
            settled.await;
        }
    }

    fn pending(&self) -> usize {
        self.inner.pending.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl AppState {
    /// The state with the wallet set up as [`WalletConfig::default_for`] CNY; see
    /// [`AppState::with_wallet`].
    pub fn new(ledger: Ledger, parties: Parties, config: HttpConfig) -> AppState {
        let wallets = Wallets::new(
            parties.clone(),
            ledger.clone(),
            WalletConfig::default_for(Currency::parse("CNY").expect("CNY is a currency")),
        );
        let audit = AuditLog::start(ledger.store().clone(), AuditConfig::default());
        let rate_limits = rate_limit::RateLimits::new(config.rate_limit_per_s, config.rate_limit_burst);
        let sign_in_limits =
            rate_limit::RateLimits::per_minute(config.sign_ins_per_address_per_min, config.sign_ins_per_address_burst);
        let staff = Staff::new(ledger.store().clone(), StaffConfig::default());
        let nonces = sanhu_service::nonces::NonceBook::start(ledger.store().clone(), Default::default());
        // The claims are made by the nonce book's writer: a signed request's nonce and claim in one commit.
        let claims = sanhu_service::idempotency_claims::ClaimBook::over(nonces.clone());
        let clients = client_cache::ClientCache::new(config.clients_cached_max);
        let webhooks = sanhu_service::webhook::Webhooks::new(parties.clone(), Default::default());
        let monitors = sanhu_service::webhook::Monitors::new(parties.clone(), ledger.clone());
        AppState::of(Shared {
            webhooks,
            monitors,
            audit,
            ledger,
            parties,
            wallets,
            config,
            rate_limits,
            sign_in_limits,
            staff,
            nonces,
            claims,
            clients,
            keeps: Keeps::default(),
            replicas: sanhu_service::reads::Replicas::none(),
            settings: Default::default(),
        })
    }

    fn of(shared: Shared) -> AppState {
        AppState(std::sync::Arc::new(shared))
    }

    /// The same state with `change` made to a copy of what it holds.
    fn changed(self, change: impl FnOnce(&mut Shared)) -> AppState {
        let mut shared = std::sync::Arc::unwrap_or_clone(self.0);
        change(&mut shared);
        AppState::of(shared)
    }

    /// Waits, at most `within`, until every answer of an idempotency key that is being kept in the
    /// background is kept; false (with how many are left logged) if some are not. For a server that
    /// stops: a key whose answer was not kept is taken over once this process is gone, and its request
    /// runs again.
    pub async fn keeps_settled(&self, within: std::time::Duration) -> bool {
        if tokio::time::timeout(within, self.keeps.settled()).await.is_ok() {
            return true;
        }
        tracing::error!(
            pending = self.keeps.pending(),
            "stopping with idempotent answers not yet kept: their keys' requests may run again once retried"
        );
        false
    }

    /// The book the nonces (and, with them, the idempotency claims) are written through (for tests:
    /// its commits).
    #[doc(hidden)]
    pub fn nonce_book(&self) -> &sanhu_service::nonces::NonceBook {
        &self.nonces
    }

    /// The book the idempotency claims are made through (for tests: its faults).
    #[doc(hidden)]
    pub fn claim_book(&self) -> &sanhu_service::idempotency_claims::ClaimBook {
        &self.claims
    }

    /// The same state with staff passwords, lockout and sessions as `staff` says.
    pub fn with_staff(self, staff: StaffConfig) -> AppState {
        let staff = Staff::new(self.ledger.store().clone(), staff);
        self.changed(|shared| shared.staff = staff)
    }

    /// The same, hashing at most `permits` allow at once.
    pub fn with_staff_hashing(self, staff: StaffConfig, permits: sanhu_service::hashing::HashingPermits) -> AppState {
        let staff = Staff::with_permits(self.ledger.store().clone(), staff, permits);
        self.changed(|shared| shared.staff = staff)
    }

    pub fn staff(&self) -> &Staff {
        &self.staff
    }

    /// The same state showing `settings` (section, name, value, whether a secret) among the effective
    /// configuration (`GET /v1/configuration`): the process's own, which the state does not hold. A
    /// secret's value is never shown.
    pub fn with_settings(self, settings: &[(&str, &str, String, bool)]) -> AppState {
        let settings = crate::staff::admin::process_settings(settings);
        self.changed(|shared| shared.settings = settings)
    }

    /// The same state with the wallet set up as `wallet` says.
    pub fn with_wallet(self, wallet: WalletConfig) -> AppState {
        let wallets = Wallets::new(self.parties.clone(), self.ledger.clone(), wallet);
        self.changed(|shared| shared.wallets = wallets)
    }

    /// The same state with webhooks sent as `config` says (where to, how often retried).
    pub fn with_webhooks(self, config: sanhu_service::webhook::WebhookConfig) -> AppState {
        let webhooks = sanhu_service::webhook::Webhooks::new(self.parties.clone(), config);
        self.changed(|shared| shared.webhooks = webhooks)
    }

    pub fn webhooks(&self) -> &sanhu_service::webhook::Webhooks {
        &self.webhooks
    }

    pub fn monitors(&self) -> &sanhu_service::webhook::Monitors {
        &self.monitors
    }

    /// Starts deriving and delivering webhooks in the background, over the outbound HTTPS client
    /// ([`crate::outbound`]), and evaluating the balance monitors; the task runs until aborted or the
    /// process ends.
    pub fn start_webhooks(&self) -> tokio::task::JoinHandle<()> {
        let config = self.webhooks.config();
        let client = crate::outbound::OutboundClient::new(crate::outbound::OutboundConfig {
            allow_private_targets: config.allow_private_targets,
            allow_plain_http: config.allow_plain_http,
            ..crate::outbound::OutboundConfig::default()
        });
        let webhooks = sanhu_service::webhook::run_webhooks(self.webhooks.clone(), std::sync::Arc::new(client));
        // The balance monitors are evaluated beside them, after each batch (or every poll interval).
        let idle = std::time::Duration::from_millis(config.poll_interval_ms.max(10));
        let monitors = sanhu_service::webhook::run_monitors(self.monitors.clone(), idle);
        tokio::spawn(async move {
            tokio::join!(webhooks, monitors);
        })
    }

    /// The same state with read replicas: statements, flows, bills and reports may read them.
    pub fn with_replicas(self, replicas: sanhu_service::reads::Replicas) -> AppState {
        self.changed(|shared| shared.replicas = replicas)
    }

    pub fn replicas(&self) -> &sanhu_service::reads::Replicas {
        &self.replicas
    }

    /// The read handle for one read a standby may serve (`crate::reads`): `strong` goes to the
    /// primary.
    pub fn reads(&self, strong: bool) -> sanhu_service::reads::Reads {
        self.replicas.reads(&self.wallets, strong)
    }

    pub fn wallets(&self) -> &Wallets {
        &self.wallets
    }

    /// Member cards, over the wallet.
    pub fn cards(&self) -> sanhu_service::card::Cards {
        sanhu_service::card::Cards::new(self.wallets.clone())
    }

    /// Members' bills and customer bills, over the three-party model.
    pub fn bills(&self) -> sanhu_service::bill::Bills {
        sanhu_service::bill::Bills::new(self.parties.clone())
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    pub fn parties(&self) -> &Parties {
        &self.parties
    }

    pub fn config(&self) -> &HttpConfig {
        &self.config
    }

    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    /// The API clients this instance remembers.
    pub fn clients(&self) -> &client_cache::ClientCache {
        &self.clients
    }
}
