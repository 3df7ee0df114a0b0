//! The process's Prometheus metrics: counters and histograms that the writer, the nonce book, the
//! jobs and the HTTP layers add to as they work, and [`render`], which writes them in Prometheus's
//! text exposition format (version 0.0.4). The HTTP crate serves them at `/metrics` on the metrics
//! listener (docs/OPERATIONS.md), adding what is read at scrape time (queue depths, the database pool).
//!
//! Hand-written rather than a metrics crate: a few atomics and a sorted map per labelled family are
//! all sanhu needs. The registry is the process's (a `static`): one server per process in production;
//! tests in one process share it, so they look at how numbers move, never at their absolute values.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, RwLock};
use std::time::Duration;

/// A monotonic count.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub const fn new() -> Counter {
        Counter(AtomicU64::new(0))
    }

    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub fn inc(&self) {
        self.add(1);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Latency buckets in seconds: from a tenth of a millisecond (a batch commit on SQLite) to ten seconds.
pub const SECONDS_BUCKETS: &[f64] =
    &[0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Batch sizes, in transfers or nonces.
pub const SIZE_BUCKETS: &[f64] =
    &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0];

/// Observations counted into fixed buckets (each observation in the first bucket it fits; rendered
/// cumulatively), with their sum and count.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    /// One slot per bound, and a last one for +Inf.
    buckets: Vec<AtomicU64>,
    /// The sum, in millionths of the unit (microseconds for seconds), so that it adds atomically.
    sum_micros: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, value: f64) {
        let slot = self.bounds.iter().position(|bound| value <= *bound).unwrap_or(self.bounds.len());
        self.buckets[slot].fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add((value.max(0.0) * 1e6).round() as u64, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    pub fn observe_duration(&self, duration: Duration) {
        self.observe(duration.as_secs_f64());
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    pub fn sum(&self) -> f64 {
        self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        let joined = |extra: &str| if labels.is_empty() { extra.to_owned() } else { format!("{labels},{extra}") };
        for (slot, bucket) in self.buckets.iter().enumerate() {
            cumulative += bucket.load(Ordering::Relaxed);
            let le = self.bounds.get(slot).map_or_else(|| "+Inf".to_owned(), |b| b.to_string());
            let _ = writeln!(out, "{name}_bucket{{{}}} {cumulative}", joined(&format!("le=\"{le}\"")));
        }
        let braces = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum());
        let _ = writeln!(out, "{name}_count{braces} {}", self.count());
    }
}

/// A metric with labels: one series per distinct label values, made on first use.
pub struct Family<const N: usize, M> {
    names: [&'static str; N],
    make: fn() -> M,
    series: RwLock<BTreeMap<[String; N], Arc<M>>>,
}

impl<const N: usize, M> Family<N, M> {
    pub fn new(names: [&'static str; N], make: fn() -> M) -> Family<N, M> {
        Family { names, make, series: RwLock::new(BTreeMap::new()) }
    }

    /// The series of these label values.
    pub fn with(&self, values: [&str; N]) -> Arc<M> {
        let key = values.map(str::to_owned);
        if let Some(series) = self.series.read().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return series.clone();
        }
        let mut series = self.series.write().unwrap_or_else(|e| e.into_inner());
        series.entry(key).or_insert_with(|| Arc::new((self.make)())).clone()
    }

    fn each(&self, mut f: impl FnMut(String, &M)) {
        for (values, series) in self.series.read().unwrap_or_else(|e| e.into_inner()).iter() {
            f(labels(&self.names, values), series);
        }
    }
}

/// `a="x",b="y"`, the values escaped as the exposition format wants.
fn labels<const N: usize>(names: &[&'static str; N], values: &[String; N]) -> String {
    let mut out = String::new();
    for (i, (name, value)) in names.iter().zip(values).enumerate() {
        if i > 0 {
            out.push(',');
        }
        let escaped = value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
        let _ = write!(out, "{name}=\"{escaped}\"");
    }
    out
}

/// Every metric sanhu counts as it works.
pub struct Metrics {
    /// HTTP requests by method, route (the route table's path template) and status.
    pub http_requests: Family<3, Counter>,
    /// HTTP request latency by method and route.
    pub http_duration: Family<2, Histogram>,
    /// Ledger batches committed or failed (`outcome`).
    pub ledger_batches: Family<1, Counter>,
    /// Transfers per committed batch.
    pub ledger_batch_transfers: Histogram,
    /// How long a batch's commit took.
    pub ledger_batch_commit: Histogram,
    /// Nonces recorded, by outcome: `fresh` or `replayed` (a signature used twice).
    pub nonces: Family<1, Counter>,
    /// Nonces per batch of the nonce book.
    pub nonce_batch_size: Histogram,
    /// How long a batch of nonces took to record.
    pub nonce_batch_seconds: Histogram,
    /// Requests with an Idempotency-Key by outcome: claimed, replayed, mismatch, in_use, error.
    pub idempotency: Family<1, Counter>,
    /// Background job passes by job and outcome (ok, error).
    pub job_runs: Family<2, Counter>,
    /// How long each pass took, by job.
    pub job_duration: Family<1, Histogram>,
    /// Reads that may be served by a standby, by where they were served (`replica`, `primary`) and
    /// why (`fresh`, `strong`, `stale`; see `crate::reads::ReadFrom`); counted only with standbys
    /// configured.
    pub reads: Family<2, Counter>,
}

impl Metrics {
    fn new() -> Metrics {
        let seconds = || Histogram::new(SECONDS_BUCKETS);
        Metrics {
            http_requests: Family::new(["method", "route", "status"], Counter::new),
            http_duration: Family::new(["method", "route"], seconds),
            ledger_batches: Family::new(["outcome"], Counter::new),
            ledger_batch_transfers: Histogram::new(SIZE_BUCKETS),
            ledger_batch_commit: seconds(),
            nonces: Family::new(["outcome"], Counter::new),
            nonce_batch_size: Histogram::new(SIZE_BUCKETS),
            nonce_batch_seconds: seconds(),
            idempotency: Family::new(["outcome"], Counter::new),
            job_runs: Family::new(["job", "outcome"], Counter::new),
            job_duration: Family::new(["job"], seconds),
            reads: Family::new(["source", "reason"], Counter::new),
        }
    }
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// The process's metrics.
pub fn global() -> &'static Metrics {
    &METRICS
}

/// Counts one pass of a background job: its outcome and how long it took.
pub fn job_ran(job: &str, ok: bool, took: Duration) {
    let metrics = global();
    metrics.job_runs.with([job, if ok { "ok" } else { "error" }]).inc();
    metrics.job_duration.with([job]).observe_duration(took);
}

/// A value read at scrape time (a queue's depth, the pool's connections), with its labels.
pub struct Gauge {
    pub name: &'static str,
    pub help: &'static str,
    pub labels: Vec<(&'static str, String)>,
    pub value: f64,
}

fn counters<const N: usize>(out: &mut String, name: &str, family: &Family<N, Counter>) {
    family.each(|labels, counter| {
        let _ = writeln!(out, "{name}{{{labels}}} {}", counter.get());
    });
}

/// Writes every metric, and `gauges`, in the text exposition format.
pub fn render(gauges: &[Gauge]) -> String {
    let m = global();
    let mut out = String::with_capacity(16 * 1024);
    let head = |out: &mut String, name: &str, kind: &str, help: &str| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    };
    head(&mut out, "sanhu_http_requests_total", "counter", "HTTP requests by method, route template and status.");
    counters(&mut out, "sanhu_http_requests_total", &m.http_requests);
    head(
        &mut out,
        "sanhu_http_request_duration_seconds",
        "histogram",
        "HTTP request latency by method and route template.",
    );
    m.http_duration.each(|l, h| h.render(&mut out, "sanhu_http_request_duration_seconds", &l));

    head(&mut out, "sanhu_ledger_batches_total", "counter", "Ledger batches by outcome (committed, failed).");
    counters(&mut out, "sanhu_ledger_batches_total", &m.ledger_batches);
    head(&mut out, "sanhu_ledger_batch_transfers", "histogram", "Transfers per committed ledger batch.");
    m.ledger_batch_transfers.render(&mut out, "sanhu_ledger_batch_transfers", "");
    head(&mut out, "sanhu_ledger_batch_commit_seconds", "histogram", "How long a ledger batch took to commit.");
    m.ledger_batch_commit.render(&mut out, "sanhu_ledger_batch_commit_seconds", "");

    head(&mut out, "sanhu_nonces_total", "counter", "Request nonces recorded, by outcome (fresh, replayed).");
    counters(&mut out, "sanhu_nonces_total", &m.nonces);
    head(&mut out, "sanhu_nonce_batch_size", "histogram", "Nonces per batch of the nonce book.");
    m.nonce_batch_size.render(&mut out, "sanhu_nonce_batch_size", "");
    head(&mut out, "sanhu_nonce_batch_seconds", "histogram", "How long a batch of nonces took to record.");
    m.nonce_batch_seconds.render(&mut out, "sanhu_nonce_batch_seconds", "");

    head(
        &mut out,
        "sanhu_idempotency_requests_total",
        "counter",
        "Requests with an Idempotency-Key by outcome (claimed, replayed, mismatch, in_use, error).",
    );
    counters(&mut out, "sanhu_idempotency_requests_total", &m.idempotency);
    head(&mut out, "sanhu_job_runs_total", "counter", "Background job passes by job and outcome (ok, error).");
    counters(&mut out, "sanhu_job_runs_total", &m.job_runs);
    head(&mut out, "sanhu_job_duration_seconds", "histogram", "How long a background job's pass took.");
    m.job_duration.each(|l, h| h.render(&mut out, "sanhu_job_duration_seconds", &l));
    head(
        &mut out,
        "sanhu_reads_total",
        "counter",
        "Reads a standby may serve, by source (replica, primary) and reason (fresh, strong, stale).",
    );
    counters(&mut out, "sanhu_reads_total", &m.reads);

    let mut named: Vec<&str> = Vec::new();
    for gauge in gauges {
        if !named.contains(&gauge.name) {
            head(&mut out, gauge.name, "gauge", gauge.help);
            named.push(gauge.name);
        }
        let labels: Vec<String> = gauge.labels.iter().map(|(n, v)| format!("{n}=\"{v}\"")).collect();
        let braces = if labels.is_empty() { String::new() } else { format!("{{{}}}", labels.join(",")) };
        let _ = writeln!(out, "{}{braces} {}", gauge.name, gauge.value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_renders_cumulative_buckets_its_sum_and_count() {
        let histogram = Histogram::new(&[1.0, 5.0]);
        for value in [0.5, 1.0, 3.0, 7.0] {
            histogram.observe(value);
        }
        let mut out = String::new();
        histogram.render(&mut out, "x", "a=\"b\"");
        assert_eq!(
            out,
            "x_bucket{a=\"b\",le=\"1\"} 2\nx_bucket{a=\"b\",le=\"5\"} 3\nx_bucket{a=\"b\",le=\"+Inf\"} 4\n\
             x_sum{a=\"b\"} 11.5\nx_count{a=\"b\"} 4\n"
        );
    }

    #[test]
    fn a_family_keeps_one_series_per_label_values_and_escapes_them() {
        let family: Family<2, Counter> = Family::new(["route", "status"], Counter::new);
        family.with(["/v1/x", "200"]).inc();
        family.with(["/v1/x", "200"]).add(2);
        family.with(["/v1/\"y\"", "404"]).inc();
        let mut seen = Vec::new();
        family.each(|labels, counter| seen.push(format!("{labels} {}", counter.get())));
        assert_eq!(seen, ["route=\"/v1/\\\"y\\\"\",status=\"404\" 1", "route=\"/v1/x\",status=\"200\" 3"]);
    }
}
