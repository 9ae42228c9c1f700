//! Settings of the API clients' room: how their authentication is limited, and the event feed.

use serde::Deserialize;

/// Failed client authentications (introspection, the event feed), counted per client id and per
/// address on each node.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiClientSettings {
    /// Failures allowed per window before 429 (with `Retry-After`).
    pub max_failures: u32,
    pub failure_window_seconds: i64,
}

/// `GET /api/v1/auth/events`, per node.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsSettings {
    /// Open streams one API client may hold on this node (past it: 503 with `Retry-After`).
    pub max_streams_per_client: usize,
    /// Open streams of all clients together on this node.
    pub max_streams: usize,
    /// How often an open stream checks that its client still exists with the same secret
    /// (a deletion ends the client's streams at once, through the log; this is the safety net).
    pub recheck_seconds: u64,
}

impl ApiClientSettings {
    pub(super) fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.max_failures == 0 || self.failure_window_seconds <= 0 {
            p.push(
                "api_clients.max_failures and api_clients.failure_window_seconds must be positive \
                 (PORTCULLIS__API_CLIENTS__MAX_FAILURES, …__FAILURE_WINDOW_SECONDS)"
                    .into(),
            );
        }
        p
    }
}

impl EventsSettings {
    pub(super) fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.max_streams == 0 || self.max_streams_per_client == 0 || self.recheck_seconds == 0 {
            p.push(
                "events.max_streams, events.max_streams_per_client and events.recheck_seconds \
                 must be positive (PORTCULLIS__EVENTS__MAX_STREAMS, …)"
                    .into(),
            );
        }
        p
    }
}
