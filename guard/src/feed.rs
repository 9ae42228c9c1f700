//! Following the server's invalidation feed (`GET /api/v1/auth/events`, server-sent events).
//! Up from the first `ready`; down when the stream ends, fails, or is silent for longer than the
//! guard's `silence` (the server sends a heartbeat every second). A reconnect sends the last
//! event id seen, so the server replays what was missed (or says `reset`).

use std::sync::Arc;
use std::time::Duration;

use eventsource_stream::Eventsource;
use futures_util::StreamExt;

use crate::Inner;

/// What the feed says.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    Session(String),
    User(i64),
    Roles,
    Keys,
    /// The server's log no longer reaches back to our last id: forget everything.
    Reset,
}

impl Event {
    fn parse(kind: &str, data: &str) -> Option<Self> {
        if kind == "reset" {
            return Some(Self::Reset);
        }
        if kind != "invalidation" {
            return None;
        }
        let v: serde_json::Value = serde_json::from_str(data).ok()?;
        match v["type"].as_str()? {
            "session" => Some(Self::Session(v["sid"].as_str()?.to_owned())),
            "user" => Some(Self::User(v["id"].as_i64()?)),
            "roles" => Some(Self::Roles),
            "keys" => Some(Self::Keys),
            _ => None,
        }
    }
}

/// Runs for the life of the process: connect, follow, and on any loss forget and reconnect.
pub async fn follow(inner: Arc<Inner>) {
    let mut last_id: Option<String> = None;
    let mut pause = Duration::from_millis(100);
    loop {
        match follow_once(&inner, &mut last_id).await {
            Ok(()) => pause = Duration::from_millis(100),
            Err(e) => tracing::warn!(error = %e, "portcullis-guard: invalidation feed lost"),
        }
        inner.lose_feed();
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}

/// One connection; returns when it ends.
async fn follow_once(inner: &Inner, last_id: &mut Option<String>) -> Result<(), String> {
    let mut req = inner
        .http
        .get(format!("{}/api/v1/auth/events", inner.base))
        .basic_auth(&inner.client_id, Some(&inner.client_secret))
        .header("accept", "text/event-stream")
        // The stream lives on; silence is watched below instead.
        .timeout(Duration::from_secs(365 * 24 * 3600));
    if let Some(id) = last_id.as_deref() {
        req = req.header("last-event-id", id);
    }
    // An answer must start within the silence allowed, like any byte after it.
    let res = tokio::time::timeout(inner.silence, req.send())
        .await
        .map_err(|_| format!("no answer for {:?}", inner.silence))?
        .map_err(|e| e.to_string())?;
    if !res.status().is_success() {
        return Err(format!("the server answered {}", res.status()));
    }
    let mut events = res.bytes_stream().eventsource();
    loop {
        let next = match tokio::time::timeout(inner.silence, events.next()).await {
            Err(_) => return Err(format!("silent for {:?}", inner.silence)),
            Ok(None) => return Ok(()),
            Ok(Some(Err(e))) => return Err(e.to_string()),
            Ok(Some(Ok(ev))) => ev,
        };
        match next.event.as_str() {
            "ready" => inner.gain_feed(Some(&next.id)),
            "heartbeat" => {}
            kind => {
                if let Some(event) = Event::parse(kind, &next.data) {
                    inner.apply(&event, Some(&next.id));
                    if event == Event::Keys {
                        if let Err(e) = inner.refresh_keys().await {
                            tracing::warn!(error = %e, "portcullis-guard: could not fetch the new signing keys");
                        }
                    }
                }
            }
        }
        if !next.id.is_empty() {
            *last_id = Some(next.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_parse_and_unknown_ones_are_skipped() {
        let p = Event::parse;
        assert_eq!(
            p("invalidation", r#"{"type":"session","sid":"abc"}"#),
            Some(Event::Session("abc".into()))
        );
        assert_eq!(
            p("invalidation", r#"{"type":"user","id":7}"#),
            Some(Event::User(7))
        );
        assert_eq!(p("invalidation", r#"{"type":"roles"}"#), Some(Event::Roles));
        assert_eq!(p("invalidation", r#"{"type":"keys"}"#), Some(Event::Keys));
        assert_eq!(p("reset", "{}"), Some(Event::Reset));
        for (kind, data) in [
            ("heartbeat", "{}"),
            ("invalidation", "not json"),
            ("invalidation", r#"{"type":"user","id":"x"}"#),
            ("invalidation", r#"{"type":"future-kind"}"#),
        ] {
            assert_eq!(p(kind, data), None, "{kind} {data}");
        }
    }
}
