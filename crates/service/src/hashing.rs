//! A bound on password hashes running at once. Each Argon2id hash takes its memory (19 MiB by
//! default) for its whole run, and staff sign-in needs no credential: without a bound, a flood of
//! sign-ins runs as many hashes as there are requests, and the server's memory goes with them. So a
//! hash takes one of a few permits (about one per core: more would not run faster); the others wait
//! for one, in turn, at most [`HASH_WAIT_MAX`] each and at most [`HASHES_WAITING_MAX`] at once, and
//! a hash that finds no permit by then, or no place in the queue, is refused ([`Busy`]), having
//! spent nothing; the HTTP layer answers it 429 `rate_limited` with `Retry-After`. A waiting hash
//! holds no hash memory, only its request. The wait is also what keeps a flood cheap: refused at
//! once, each of a flood's connections would send its next sign-in at once, and the server would
//! spend its cores answering thousands of refusals a second; held up to a second, a connection sends
//! about one a second.
//!
//! Staff passwords and pay passwords each have their own bound, so a flood of sign-ins never holds
//! up a payment's pay password, and the memory of both is bounded: (permits of both) x the memory of
//! one hash.
//!
//! The hashes run on threads of their own, as many as the permits, rather than on tokio's blocking
//! pool: each thread's allocator keeps some of the memory a hash freed for the next one, and on a pool
//! of dozens of threads (SQLite's reads use it too) those leftovers added up to more than the bound.
//!
//! A flood of sign-ins must not slow everyone else down: by default the permits leave one core to
//! the rest of the server ([`HashingPermits::for_this_machine`]: one per core but one, at least one),
//! and on Linux the hashing threads run at a lower priority ([`HASHING_NICE_INCREMENT`] steps of
//! `nice`), so that a signed request's thread that wakes up takes the core from a hash at once. A
//! hash still runs whenever a core is idle; under a flood it waits its turn behind the requests.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

/// A hash was not run: as many run and wait as the bound allows. Nothing was done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Busy;

impl std::fmt::Display for Busy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the server is hashing as many passwords as it allows at once; retry shortly")
    }
}

impl std::error::Error for Busy {}

/// Longest a hash waits for a permit before it is refused.
pub const HASH_WAIT_MAX: Duration = Duration::from_secs(1);
/// Most hashes waiting for a permit at once; one more is refused at once.
pub const HASHES_WAITING_MAX: usize = 1024;

/// Permits for password hashes, and the queue for them. Cheap to clone; clones share the permits.
type HashJob = Box<dyn FnOnce() + Send>;

/// How many steps of `nice` below the rest of the server the hashing threads run, on Linux (where
/// the nice value is each thread's own): at 10, a hash gets about a tenth of a core that a request
/// also wants, and the request is scheduled first when it wakes.
pub const HASHING_NICE_INCREMENT: i32 = 10;

/// The threads hashes run on; they end when the last [`HashingPermits`] holding them is dropped.
#[derive(Debug)]
struct HashThreads {
    jobs: std::sync::mpsc::Sender<HashJob>,
}

impl HashThreads {
    fn start(threads: usize) -> HashThreads {
        let (jobs, receiver) = std::sync::mpsc::channel::<HashJob>();
        let receiver = Arc::new(std::sync::Mutex::new(receiver));
        for n in 0..threads {
            let receiver = receiver.clone();
            std::thread::Builder::new()
                .name(format!("sanhu-hash-{n}"))
                .spawn(move || {
                    lower_this_threads_priority();
                    loop {
                        let job = match receiver.lock() {
                            Ok(receiver) => receiver.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })
                .expect("a thread for password hashes");
        }
        HashThreads { jobs }
    }
}

/// Lowers the calling thread's priority by [`HASHING_NICE_INCREMENT`]; best effort (a thread that
/// cannot be lowered hashes at the usual priority).
#[cfg(target_os = "linux")]
fn lower_this_threads_priority() {
    // SAFETY: nice(2) takes and returns integers only. On Linux it changes the calling thread's nice
    // value, not the process's (glibc and musl call setpriority(PRIO_PROCESS, 0), which the kernel
    // applies to the calling thread), so the server's other threads keep theirs.
    let niced = unsafe { libc::nice(HASHING_NICE_INCREMENT) };
    if niced == -1 {
        let error = std::io::Error::last_os_error();
        tracing::debug!(%error, "the password hashing thread's priority was not lowered");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_this_threads_priority() {}

#[derive(Clone, Debug)]
pub struct HashingPermits {
    threads: Arc<HashThreads>,
    permits: Arc<Semaphore>,
    /// Hashes waiting for a permit or holding one.
    admitted: Arc<AtomicUsize>,
    /// Most hashes admitted at once: the permits and the queue.
    admitted_max: usize,
    /// Longest a hash waits in the queue.
    wait_max: Duration,
    at_once: usize,
}

impl HashingPermits {
    /// `at_once` hashes run at once (at least 1); [`HASHES_WAITING_MAX`] more may wait, each at most
    /// [`HASH_WAIT_MAX`].
    pub fn new(at_once: usize) -> HashingPermits {
        HashingPermits::with_queue(at_once, HASHES_WAITING_MAX, HASH_WAIT_MAX)
    }

    /// `at_once` hashes run at once (at least 1); `waiting_max` more may wait, each at most `wait_max`.
    pub fn with_queue(at_once: usize, waiting_max: usize, wait_max: Duration) -> HashingPermits {
        let at_once = at_once.max(1);
        HashingPermits {
            threads: Arc::new(HashThreads::start(at_once)),
            permits: Arc::new(Semaphore::new(at_once)),
            admitted: Arc::new(AtomicUsize::new(0)),
            admitted_max: at_once + waiting_max,
            wait_max,
            at_once,
        }
    }

    /// One permit per core of this machine but one, at least one: a flood of hashes leaves a core to
    /// the requests.
    pub fn for_this_machine() -> HashingPermits {
        HashingPermits::new(HashingPermits::default_at_once())
    }

    /// Hashes at once by default: the cores of this machine but one, at least one.
    pub fn default_at_once() -> usize {
        std::thread::available_parallelism().map_or(1, usize::from).saturating_sub(1).max(1)
    }

    /// Hashes run at once.
    pub fn at_once(&self) -> usize {
        self.at_once
    }

    /// Runs `hash` on the hashing threads once a permit is free; refuses at once when the permits and
    /// the queue are all taken, and after the wait when no permit was freed by then.
    pub async fn run<T: Send + 'static>(
        &self,
        hash: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
    ) -> Result<anyhow::Result<T>, Busy> {
        let admitted = self.admitted.fetch_add(1, Ordering::AcqRel);
        let _admitted = Admitted(self.admitted.clone());
        if admitted >= self.admitted_max {
            return Err(Busy);
        }
        // Tokio's semaphore hands permits out in the order they were asked for: the queue is fair.
        let Ok(Ok(_permit)) = tokio::time::timeout(self.wait_max, self.permits.acquire()).await else {
            return Err(Busy);
        };
        // A permit held means a thread is free: the job starts at once.
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: HashJob = Box::new(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(hash))
                .unwrap_or_else(|_| Err(anyhow::anyhow!("a password hash panicked")));
            let _ = answer.send(result);
        });
        let sent = self.threads.jobs.send(job);
        if sent.is_err() {
            return Ok(Err(anyhow::anyhow!("the password hashing threads have stopped")));
        }
        let ran = answered.await.unwrap_or_else(|_| Err(anyhow::anyhow!("a password hashing thread stopped")));
        Ok(ran)
    }
}

/// Leaves the count of admitted hashes when the hash ends, however it ends (a request dropped while
/// it waits included).
struct Admitted(Arc<AtomicUsize>);

impl Drop for Admitted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn at_most_the_permits_run_at_once_the_queue_waits_and_the_rest_is_refused() {
        let permits = HashingPermits::with_queue(2, 2, Duration::from_secs(10));
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let hashes = (0..10).map(|_| {
            let (permits, running, most) = (permits.clone(), running.clone(), most.clone());
            tokio::spawn(async move {
                permits
                    .run(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(200));
                        running.fetch_sub(1, Ordering::SeqCst);
                        Ok(())
                    })
                    .await
            })
        });
        let answers: Vec<_> = futures_util::future::join_all(hashes).await.into_iter().map(Result::unwrap).collect();
        let ran = answers.iter().filter(|a| a.is_ok()).count();
        assert_eq!(ran, 4, "two run and two wait: {answers:?}");
        assert_eq!(answers.iter().filter(|a| matches!(a, Err(Busy))).count(), 6);
        assert!(most.load(Ordering::SeqCst) <= 2, "at most two at once");
        // Everything admitted has left: the next ones run.
        assert!(permits.run(|| Ok(())).await.is_ok());
        assert_eq!(permits.admitted.load(Ordering::SeqCst), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_hash_that_waits_longer_than_the_wait_is_refused_then() {
        let permits = HashingPermits::with_queue(1, 8, Duration::from_millis(100));
        let holding = {
            let permits = permits.clone();
            let hash = || {
                std::thread::sleep(Duration::from_millis(600));
                Ok(())
            };
            tokio::spawn(async move { permits.run(hash).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = std::time::Instant::now();
        let waiting = (0..3).map(|_| permits.run(|| Ok(())));
        let answers = futures_util::future::join_all(waiting).await;
        let waited = started.elapsed();
        assert!(answers.iter().all(|a| matches!(a, Err(Busy))), "{answers:?}");
        assert!(waited >= Duration::from_millis(100) && waited < Duration::from_millis(500), "{waited:?}");
        assert!(holding.await.unwrap().is_ok());
        assert!(permits.run(|| Ok(())).await.is_ok());
    }

    /// The calling thread's nice value, from /proc.
    #[cfg(target_os = "linux")]
    fn this_threads_nice() -> i32 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").expect("read /proc/thread-self/stat");
        // The fields after the command's name (in parentheses): the state is the 3rd, nice the 19th.
        let fields: Vec<&str> = stat.rsplit_once(')').expect("the command's name").1.split_whitespace().collect();
        fields[16].parse().expect("the nice value")
    }

    #[cfg(target_os = "linux")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hashes_run_at_a_lower_priority_than_the_rest_of_the_server() {
        let ours = this_threads_nice();
        let permits = HashingPermits::new(1);
        let theirs = permits.run(|| Ok(this_threads_nice())).await.unwrap().unwrap();
        assert_eq!(theirs, (ours + HASHING_NICE_INCREMENT).min(19), "the hashing thread is lowered");
        assert_eq!(this_threads_nice(), ours, "the other threads keep their priority");
        let worker = tokio::spawn(async { this_threads_nice() }).await.unwrap();
        assert_eq!(worker, ours, "tokio's workers keep theirs");
    }

    #[test]
    fn by_default_the_hashes_leave_a_core_to_the_requests() {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        assert_eq!(HashingPermits::default_at_once(), cores.saturating_sub(1).max(1));
        assert!(HashingPermits::default_at_once() >= 1);
    }
}
