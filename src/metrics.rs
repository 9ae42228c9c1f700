//! Prometheus metrics, kept with atomics so recording costs a few nanoseconds: requests and
//! latency by route and status, bearer outcomes by reason, cache hits and misses, store errors,
//! and the password-hash queue. `GET /metrics` renders them in the text format.
//!
//! Every worker records every request, so nothing here is one shared cache line: counters and
//! request histograms are striped by thread, each stripe on its own line, and summed when read.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use actix_web::{
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    http::Method,
    middleware::Next,
    web::Data,
};

use crate::startup::AppState;

/// Upper bounds (seconds) of the latency buckets.
const BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5,
];

/// Stripes per metric: more than the workers of a typical node, so threads rarely share one.
const STRIPES: usize = 16;

/// Keeps `T` on cache lines of its own (128 bytes: adjacent-line prefetching pairs lines).
#[derive(Default)]
#[repr(align(128))]
struct Padded<T>(T);

/// This thread's stripe, handed out round-robin on first use.
fn stripe() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static STRIPE: usize = NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES;
    }
    STRIPE.with(|s| *s)
}

/// A counter each thread increments on its own cache line.
#[derive(Default)]
pub struct Counter {
    stripes: [Padded<AtomicU64>; STRIPES],
}

impl Counter {
    pub fn incr(&self) {
        self.stripes[stripe()].0.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.stripes
            .iter()
            .map(|s| s.0.load(Ordering::Relaxed))
            .sum()
    }
}

#[derive(Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add(d.as_micros() as u64, Ordering::Relaxed);
    }
}

/// One route's histogram summed over the stripes, for rendering.
#[derive(Default)]
struct Summed {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum_micros: u64,
}

impl Summed {
    fn add(&mut self, h: &Histogram) {
        for (sum, b) in self.buckets.iter_mut().zip(&h.buckets) {
            *sum += b.load(Ordering::Relaxed);
        }
        self.count += h.count.load(Ordering::Relaxed);
        self.sum_micros += h.sum_micros.load(Ordering::Relaxed);
    }
}

/// Why the bearer validator let a request through or not.
#[derive(Debug, Clone, Copy)]
pub enum AuthOutcome {
    Ok,
    Missing,
    Malformed,
    InvalidToken,
    SessionEnded,
    UserUnavailable,
    BackendError,
}

const OUTCOMES: [&str; 7] = [
    "ok",
    "missing",
    "malformed",
    "invalid_token",
    "session_ended",
    "user_unavailable",
    "backend_error",
];

type ByMethodAndStatus = HashMap<(Method, u16), Arc<Histogram>>;

/// route pattern -> (method, status) -> latency histogram. Looked up by `&str` and a cheap
/// `Method` clone, so a request that has been seen before allocates nothing here.
type Requests = HashMap<String, ByMethodAndStatus>;

#[derive(Default)]
pub struct Metrics {
    /// One map per stripe: a thread's lock and histograms are its own but when rendering.
    requests: [Padded<RwLock<Requests>>; STRIPES],
    auth: [Counter; OUTCOMES.len()],
}

impl Metrics {
    pub fn auth(&self, outcome: AuthOutcome) {
        self.auth[outcome as usize].incr();
    }

    fn observe(&self, route: &str, method: &Method, status: u16, d: Duration) {
        let key = (method.clone(), status);
        let requests = &self.requests[stripe()].0;
        let hit = requests
            .read()
            .ok()
            .and_then(|m| m.get(route).and_then(|by| by.get(&key)).cloned());
        let h = match hit {
            Some(h) => h,
            None => {
                let Ok(mut m) = requests.write() else {
                    return;
                };
                m.entry(route.to_owned())
                    .or_default()
                    .entry(key)
                    .or_default()
                    .clone()
            }
        };
        h.observe(d);
    }

    /// The request histograms, summed over the stripes.
    fn write_requests(&self, out: &mut String) {
        let mut rows: BTreeMap<(String, String, u16), Summed> = BTreeMap::new();
        for stripe in &self.requests {
            let Ok(m) = stripe.0.read() else { continue };
            for (route, by) in m.iter() {
                for ((method, status), h) in by {
                    let row = rows
                        .entry((route.clone(), method.to_string(), *status))
                        .or_default();
                    row.add(h);
                }
            }
        }
        for ((route, method, status), summed) in rows {
            let Summed {
                buckets,
                count,
                sum_micros,
            } = summed;
            let labels = format!("route=\"{route}\",method=\"{method}\",status=\"{status}\"");
            let mut cumulative = 0;
            for (le, n) in BUCKETS.iter().zip(buckets) {
                cumulative += n;
                let _ = writeln!(out, "portcullis_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {cumulative}");
            }
            let _ = writeln!(
                out,
                "portcullis_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {count}"
            );
            let sum = sum_micros as f64 / 1e6;
            let _ = writeln!(
                out,
                "portcullis_http_request_duration_seconds_sum{{{labels}}} {sum}"
            );
            let _ = writeln!(
                out,
                "portcullis_http_request_duration_seconds_count{{{labels}}} {count}"
            );
        }
    }

    pub fn render(&self, state: &AppState) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str("# HELP portcullis_http_request_duration_seconds Request latency by route, method and status.\n");
        out.push_str("# TYPE portcullis_http_request_duration_seconds histogram\n");
        self.write_requests(&mut out);
        out.push_str("# HELP portcullis_auth_total Bearer validations by outcome.\n# TYPE portcullis_auth_total counter\n");
        for (i, name) in OUTCOMES.iter().enumerate() {
            let _ = writeln!(
                out,
                "portcullis_auth_total{{outcome=\"{name}\"}} {}",
                self.auth[i].get()
            );
        }
        let gauge = |out: &mut String, name: &str, kind: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}"
            );
        };
        let cache = state.cache.stats();
        gauge(
            &mut out,
            "portcullis_cache_hits_total",
            "counter",
            "Bearer validations answered from memory.",
            cache.hits,
        );
        gauge(
            &mut out,
            "portcullis_cache_misses_total",
            "counter",
            "Bearer validations that read through to the store.",
            cache.misses,
        );
        gauge(
            &mut out,
            "portcullis_cache_entries",
            "gauge",
            "Cached users and sessions.",
            cache.entries,
        );
        gauge(
            &mut out,
            "portcullis_store_errors_total",
            "counter",
            "Failed calls to the hot store.",
            crate::store::errors(),
        );
        gauge(
            &mut out,
            "portcullis_password_hash_queue_depth",
            "gauge",
            "Password hashes waiting for a permit.",
            state.hasher.queue_depth() as u64,
        );
        gauge(
            &mut out,
            "portcullis_password_verifications_total",
            "counter",
            "Password verifications.",
            state.hasher.verifications() as u64,
        );
        gauge(
            &mut out,
            "portcullis_invalidation_link_up",
            "gauge",
            "1 while this node hears invalidations (or needs none).",
            u64::from(state.cache.link_up()),
        );
        out
    }
}

/// Middleware: one histogram observation per request, labelled by the matched route pattern
/// (never the raw path, so ids do not explode the label set).
pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let start = Instant::now();
    let res = next.call(req).await?;
    if let Some(state) = res.request().app_data::<Data<AppState>>() {
        let route = res.request().match_pattern();
        state.metrics.observe(
            route.as_deref().unwrap_or("unmatched"),
            res.request().method(),
            res.status().as_u16(),
            start.elapsed(),
        );
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripes_add_up_across_threads() {
        let metrics = Metrics::default();
        let counter = Counter::default();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..10 {
                        counter.incr();
                        metrics.observe("/r", &Method::GET, 200, Duration::from_micros(200));
                    }
                    metrics.observe("/r", &Method::GET, 401, Duration::from_secs(1));
                });
            }
        });
        assert_eq!(counter.get(), 40);
        let mut out = String::new();
        metrics.write_requests(&mut out);
        let line = |series: &str| {
            out.lines()
                .find(|l| l.starts_with(series))
                .unwrap_or_else(|| panic!("no {series} in {out}"))
                .rsplit(' ')
                .next()
                .unwrap()
                .to_owned()
        };
        let ok = r#"route="/r",method="GET",status="200""#;
        let refused = r#"route="/r",method="GET",status="401""#;
        assert_eq!(
            line(&format!(
                "portcullis_http_request_duration_seconds_count{{{ok}}}"
            )),
            "40"
        );
        assert_eq!(
            line(&format!(
                "portcullis_http_request_duration_seconds_bucket{{{ok},le=\"0.0001\"}}"
            )),
            "0"
        );
        assert_eq!(
            line(&format!(
                "portcullis_http_request_duration_seconds_bucket{{{ok},le=\"0.00025\"}}"
            )),
            "40"
        );
        assert_eq!(
            line(&format!(
                "portcullis_http_request_duration_seconds_sum{{{ok}}}"
            )),
            "0.008"
        );
        assert_eq!(
            line(&format!(
                "portcullis_http_request_duration_seconds_count{{{refused}}}"
            )),
            "4"
        );
        assert_eq!(
            line(&format!(
                "portcullis_http_request_duration_seconds_bucket{{{refused},le=\"0.5\"}}"
            )),
            "0"
        );
        assert_eq!(
            line(&format!(
                "portcullis_http_request_duration_seconds_bucket{{{refused},le=\"2.5\"}}"
            )),
            "4"
        );
    }
}
