//! Prometheus metrics, with `prometheus-client`: requests and latency by route, method and
//! status; bearer outcomes; cache hits, misses and size; store errors; the password-hash queue.
//! Each part of the server records into the handle it was given; `render` writes the
//! OpenMetrics text. Every label set is bounded: routes are matched patterns (one value for
//! anything unmatched) and unknown HTTP methods share one value.

use std::sync::Arc;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Upper bounds (seconds) of the latency buckets.
const BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5,
];

/// The route label of a request no route matched.
pub const UNMATCHED: &str = "unmatched";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: String,
    pub method: &'static str,
    pub status: u16,
}

/// The method label: the standard methods by name, anything else as `OTHER`.
pub fn method_label(method: &str) -> &'static str {
    const KNOWN: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE",
    ];
    KNOWN.into_iter().find(|m| *m == method).unwrap_or("OTHER")
}

/// Why the bearer check let a request through or not.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum AuthOutcome {
    ok,
    missing,
    malformed,
    invalid_token,
    session_ended,
    user_unavailable,
    insufficient_scope,
    backend_error,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: AuthOutcome,
}

type Requests = Family<RequestLabels, Histogram, fn() -> Histogram>;

fn latency() -> Histogram {
    Histogram::new(BUCKETS)
}

/// A cheap handle; clones record into the same metrics.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    requests: Requests,
    auth: Family<OutcomeLabels, Counter>,
    pub cache_hits: Counter,
    pub cache_misses: Counter,
    pub cache_entries: Gauge,
    pub invalidation_link_up: Gauge,
    pub store_errors: Counter,
    pub hash_queue_depth: Gauge,
    pub hash_verifications: Counter,
    pub hash_refused: Counter,
    pub mail_sent: Counter,
    pub mail_failures: Counter,
    pub mail_queue_depth: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("portcullis");
        let requests: Requests = Family::new_with_constructor(latency);
        registry.register(
            "http_request_duration_seconds",
            "Request latency by route, method and status",
            requests.clone(),
        );
        let auth = Family::<OutcomeLabels, Counter>::default();
        registry.register("auth", "Bearer validations by outcome", auth.clone());
        let inner = Inner {
            requests,
            auth,
            cache_hits: Counter::default(),
            cache_misses: Counter::default(),
            cache_entries: Gauge::default(),
            invalidation_link_up: Gauge::default(),
            store_errors: Counter::default(),
            hash_queue_depth: Gauge::default(),
            hash_verifications: Counter::default(),
            hash_refused: Counter::default(),
            mail_sent: Counter::default(),
            mail_failures: Counter::default(),
            mail_queue_depth: Gauge::default(),
            registry,
        };
        let mut inner = inner;
        let r = &mut inner.registry;
        r.register(
            "cache_hits",
            "Bearer validations answered from memory",
            inner.cache_hits.clone(),
        );
        r.register(
            "cache_misses",
            "Bearer validations that read through to the store",
            inner.cache_misses.clone(),
        );
        r.register(
            "cache_entries",
            "Cached users and sessions",
            inner.cache_entries.clone(),
        );
        r.register(
            "invalidation_link_up",
            "1 while this node hears every invalidation",
            inner.invalidation_link_up.clone(),
        );
        r.register(
            "store_errors",
            "Failed calls to the hot store",
            inner.store_errors.clone(),
        );
        r.register(
            "password_hash_queue_depth",
            "Password hashes waiting for a hashing thread",
            inner.hash_queue_depth.clone(),
        );
        r.register(
            "password_verifications",
            "Password verifications",
            inner.hash_verifications.clone(),
        );
        r.register(
            "password_hash_refused",
            "Hashes refused because the queue was full (answered 503)",
            inner.hash_refused.clone(),
        );
        r.register(
            "mail_sent",
            "Messages the mail server (or the outbox) took",
            inner.mail_sent.clone(),
        );
        r.register(
            "mail_failures",
            "Tries to send a message that failed (it is kept and tried again)",
            inner.mail_failures.clone(),
        );
        r.register(
            "mail_queue_depth",
            "Messages waiting to be sent",
            inner.mail_queue_depth.clone(),
        );
        Self {
            inner: Arc::new(inner),
        }
    }
}

impl Metrics {
    pub fn request(&self, route: Option<&str>, method: &str, status: u16, seconds: f64) {
        let labels = RequestLabels {
            route: route.unwrap_or(UNMATCHED).to_owned(),
            method: method_label(method),
            status,
        };
        self.inner.requests.get_or_create(&labels).observe(seconds);
    }

    pub fn auth(&self, outcome: AuthOutcome) {
        self.inner
            .auth
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    pub fn cache_hit(&self) {
        self.inner.cache_hits.inc();
    }

    pub fn cache_miss(&self) {
        self.inner.cache_misses.inc();
    }

    pub fn cache_entries(&self, n: u64) {
        self.inner
            .cache_entries
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    pub fn link_up(&self, up: bool) {
        self.inner.invalidation_link_up.set(i64::from(up));
    }

    pub fn store_error(&self) {
        self.inner.store_errors.inc();
    }

    pub fn mail_sent(&self) {
        self.inner.mail_sent.inc();
    }

    pub fn mail_failed(&self) {
        self.inner.mail_failures.inc();
    }

    pub fn mail_queued(&self, delta: i64) {
        self.inner.mail_queue_depth.inc_by(delta);
    }

    pub fn hash_queued(&self, delta: i64) {
        self.inner.hash_queue_depth.inc_by(delta);
    }

    pub fn hash_verified(&self) {
        self.inner.hash_verifications.inc();
    }

    pub fn hash_refused(&self) {
        self.inner.hash_refused.inc();
    }

    /// Verifications so far (the metrics test and the login timing use it).
    pub fn verifications(&self) -> u64 {
        self.inner.hash_verifications.get()
    }

    /// The OpenMetrics text.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(8192);
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.inner.registry) {
            tracing::error!(error = %e, "cannot render metrics");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(text: &str) -> usize {
        text.lines().filter(|l| !l.starts_with('#')).count()
    }

    #[test]
    fn requests_render_as_histograms_and_labels_stay_bounded() {
        let m = Metrics::default();
        for _ in 0..40 {
            m.request(Some("/r"), "GET", 200, 0.0002);
        }
        m.request(Some("/r"), "GET", 401, 1.0);
        let text = m.render();
        assert!(
            text.contains(r#"portcullis_http_request_duration_seconds_count{route="/r",method="GET",status="200"} 40"#),
            "{text}"
        );
        assert!(text.contains(
            r#"portcullis_http_request_duration_seconds_bucket{le="0.00025",route="/r",method="GET",status="200"} 40"#
        ), "{text}");
        let before = series(&m.render());
        for i in 0..100 {
            m.request(None, &format!("M{i}"), 404, 0.001);
        }
        let after_first = series(&m.render());
        for i in 100..1000 {
            m.request(None, &format!("M{i}"), 404, 0.001);
        }
        assert_eq!(
            series(&m.render()),
            after_first,
            "made-up methods add no series"
        );
        assert!(after_first > before);
        assert_eq!(method_label("BREW"), "OTHER");
    }
}
