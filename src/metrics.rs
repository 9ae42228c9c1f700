//! Prometheus metrics, kept with atomics so recording costs a few nanoseconds: requests and
//! latency by route and status, bearer outcomes by reason, cache hits and misses, store errors,
//! and the password-hash queue. `GET /metrics` renders them in the text format.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
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

#[derive(Default)]
pub struct Metrics {
    /// route pattern -> (method, status) -> latency histogram. Looked up by `&str` and a
    /// cheap `Method` clone, so a request that has been seen before allocates nothing here.
    requests: RwLock<HashMap<String, ByMethodAndStatus>>,
    auth: [AtomicU64; OUTCOMES.len()],
}

impl Metrics {
    pub fn auth(&self, outcome: AuthOutcome) {
        self.auth[outcome as usize].fetch_add(1, Ordering::Relaxed);
    }

    fn observe(&self, route: &str, method: &Method, status: u16, d: Duration) {
        let key = (method.clone(), status);
        let hit = self
            .requests
            .read()
            .ok()
            .and_then(|m| m.get(route).and_then(|by| by.get(&key)).cloned());
        let h = match hit {
            Some(h) => h,
            None => {
                let Ok(mut m) = self.requests.write() else {
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

    pub fn render(&self, state: &AppState) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str("# HELP portcullis_http_request_duration_seconds Request latency by route, method and status.\n");
        out.push_str("# TYPE portcullis_http_request_duration_seconds histogram\n");
        if let Ok(m) = self.requests.read() {
            let mut rows: Vec<_> = m
                .iter()
                .flat_map(|(route, by)| {
                    by.iter()
                        .map(move |((method, status), h)| (route, method, *status, h))
                })
                .collect();
            rows.sort_by(|a, b| (a.0, a.1.as_str(), a.2).cmp(&(b.0, b.1.as_str(), b.2)));
            for (route, method, status, h) in rows {
                let labels = format!("route=\"{route}\",method=\"{method}\",status=\"{status}\"");
                let mut cumulative = 0;
                for (i, le) in BUCKETS.iter().enumerate() {
                    cumulative += h.buckets[i].load(Ordering::Relaxed);
                    let _ = writeln!(out, "portcullis_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {cumulative}");
                }
                let count = h.count.load(Ordering::Relaxed);
                let _ = writeln!(out, "portcullis_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {count}");
                let sum = h.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
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
        out.push_str("# HELP portcullis_auth_total Bearer validations by outcome.\n# TYPE portcullis_auth_total counter\n");
        for (i, name) in OUTCOMES.iter().enumerate() {
            let _ = writeln!(
                out,
                "portcullis_auth_total{{outcome=\"{name}\"}} {}",
                self.auth[i].load(Ordering::Relaxed)
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
