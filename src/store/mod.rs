//! The hot store: sessions (per user, changed by compare-and-swap), single-use values, counters, and the invalidation log every node follows. Two implementations behind
//! one type, so callers never branch:
//!
//! - `embedded`: sessions and the invalidation log in the database (a restart loses no session,
//!   and the CLI reaches a running server through the log), the rest in process memory;
//! - `redis`: everything in Redis, every multi-key step inside one user's hash slot, so Redis
//!   Cluster works as well as a single Redis.
//!
//! The store provides primitives only. What a session may become (rotation, the grace window,
//! the login policies) and the lockout arithmetic are decided once, in `auth`, and written
//! back with `commit_sessions` or the counters.

mod embedded;
mod redis;

use std::time::Duration;

pub use self::embedded::EmbeddedStore;
pub use self::redis::RedisStore;

use crate::domain::{EventId, Invalidation, SessionRecord};
use crate::metrics::Metrics;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("store refuses writes: {0}")]
    Full(String),
    #[error("store returned unexpected data: {0}")]
    Corrupt(String),
}

impl From<StoreError> for crate::error::ApiError {
    fn from(e: StoreError) -> Self {
        crate::error::ApiError::unavailable(e)
    }
}

/// A user's sessions and the version a change must name to be applied.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserSessions {
    pub version: i64,
    /// Oldest first.
    pub sessions: Vec<SessionRecord>,
}

/// One step of a change to a user's sessions.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionChange {
    Put(Box<SessionRecord>),
    Delete(String),
}

/// Changes to a user's sessions, to be applied only if nothing changed them since they were read.
#[derive(Debug, Clone, PartialEq)]
pub struct Commit {
    pub expected: i64,
    pub changes: Vec<SessionChange>,
    /// The end of the last session left (the store may forget the user's sessions then);
    /// `None` when none is left.
    pub keep_until: Option<i64>,
}

impl Commit {
    /// Whether it adds or replaces a session (rather than only removing some).
    pub fn grows(&self) -> bool {
        self.changes
            .iter()
            .any(|c| matches!(c, SessionChange::Put(_)))
    }
}

impl UserSessions {
    /// The commit that applies `changes` to these sessions.
    pub fn commit(&self, changes: Vec<SessionChange>) -> Commit {
        let mut left: std::collections::BTreeMap<&str, i64> = self
            .sessions
            .iter()
            .map(|s| (s.sid.as_str(), s.live_until()))
            .collect();
        for c in &changes {
            match c {
                SessionChange::Put(r) => {
                    left.insert(&r.sid, r.live_until());
                }
                SessionChange::Delete(sid) => {
                    left.remove(sid.as_str());
                }
            }
        }
        Commit {
            expected: self.version,
            keep_until: left.values().copied().max(),
            changes,
        }
    }
}

/// Namespaces of single-use values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Once {
    Captcha,
    OAuthState,
    LoginCode,
    /// The ticket between the password and the second factor.
    MfaTicket,
    /// A passkey ceremony's state between its options and the authenticator's answer.
    Webauthn,
    /// A mailed verification link's token (by its hash).
    EmailLink,
    /// A mailed verification code, with its address (by their hash).
    EmailCode,
    /// A mailed password reset link's token (by its hash).
    PasswordReset,
    /// An OpenID client's authorization request waiting for its user to sign in or consent.
    OidcRequest,
    /// An authorization code (by its hash).
    OidcCode,
    /// An authorization code already exchanged (by its hash): the session it started, ended
    /// if the code comes again (RFC 6749 §4.1.2).
    OidcSpentCode,
}

impl Once {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Captcha => "captcha",
            Self::OAuthState => "oauth2:state",
            Self::LoginCode => "oauth2:code",
            Self::MfaTicket => "mfa:ticket",
            Self::Webauthn => "webauthn",
            Self::EmailLink => "mail:link",
            Self::EmailCode => "mail:code",
            Self::PasswordReset => "mail:reset",
            Self::OidcRequest => "oidc:request",
            Self::OidcCode => "oidc:code",
            Self::OidcSpentCode => "oidc:spent",
        }
    }
}

/// What the invalidation log answered: new entries, and whether entries after the position
/// asked for were trimmed before they could be read.
#[derive(Debug, Default)]
pub struct Batch {
    pub events: Vec<(EventId, Invalidation)>,
    pub gap: bool,
}

/// How long a read of the log may block: an answer (even an empty one) at least this often
/// proves the link is alive.
pub const FEED_BLOCK: Duration = Duration::from_millis(1000);

#[derive(Clone)]
pub struct Store {
    backend: Backend,
    metrics: Metrics,
    /// Every call's deadline.
    deadline: Duration,
}

#[derive(Clone)]
enum Backend {
    Embedded(EmbeddedStore),
    Redis(RedisStore),
}

/// Runs the call on the backend, within the deadline, and counts its failures.
///
/// An embedded call runs to completion in a task of its own, with owned arguments (`; name =
/// owned value` after the call): diesel-async panics when a SQLite call is dropped half-way on
/// a single-threaded runtime, as actix's are, so neither the deadline nor a caller that goes
/// away (a client hanging up) may cancel one. Past the deadline the caller stops waiting.
macro_rules! call {
    ($self:expr, $s:ident => $call:expr $(; $own:ident = $val:expr)* $(;)?) => {{
        let result = match &$self.backend {
            Backend::Embedded(store) => {
                let $s = store.clone();
                $(let $own = $val;)*
                let task = tokio::spawn(async move { $call.await });
                tokio::time::timeout($self.deadline, task)
                    .await
                    .map(|joined| joined.unwrap_or_else(|e| Err(StoreError::Unavailable(e.to_string()))))
            }
            Backend::Redis($s) => tokio::time::timeout($self.deadline, $call).await,
        }
        .unwrap_or_else(|_| {
            Err(StoreError::Unavailable(format!(
                "no answer within {:?}",
                $self.deadline
            )))
        });
        if result.is_err() {
            $self.metrics.store_error();
        }
        result
    }};
}

// `call!` hands the embedded arm owned copies and passes them on by reference, which clippy
// cannot see through the macro.
#[allow(clippy::needless_borrow)]
impl Store {
    pub fn embedded(store: EmbeddedStore, metrics: Metrics, deadline: Duration) -> Self {
        Self {
            backend: Backend::Embedded(store),
            metrics,
            deadline,
        }
    }

    pub fn redis(store: RedisStore, metrics: Metrics, deadline: Duration) -> Self {
        Self {
            backend: Backend::Redis(store),
            metrics,
            deadline,
        }
    }

    /// Shared by several nodes (Redis), rather than one process's.
    pub fn is_shared(&self) -> bool {
        matches!(self.backend, Backend::Redis(_))
    }

    pub fn name(&self) -> &'static str {
        match self.backend {
            Backend::Embedded(_) => "embedded",
            Backend::Redis(_) => "redis",
        }
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        call!(self, s => s.ping())
    }

    /// Writes and removes a short-lived key: readiness means the store still takes writes.
    pub async fn probe_write(&self) -> Result<(), StoreError> {
        call!(self, s => s.probe_write())
    }

    pub async fn sessions_of(&self, uid: i64) -> Result<UserSessions, StoreError> {
        call!(self, s => s.sessions_of(uid))
    }

    /// One session as stored, alive or not (`SessionRecord::is_live` decides).
    pub async fn session(&self, uid: i64, sid: &str) -> Result<Option<SessionRecord>, StoreError> {
        call!(self, s => s.session(uid, &sid); sid = sid.to_owned())
    }

    /// Applies the commit if the user's sessions are still at its version; false when another
    /// change came first (read again and decide again). Commits that only remove sessions go
    /// through even when the store is otherwise full.
    pub async fn commit_sessions(
        &self,
        uid: i64,
        commit: &Commit,
        now: i64,
    ) -> Result<bool, StoreError> {
        call!(self, s => s.commit_sessions(uid, &commit, now); commit = commit.clone())
    }

    /// Users with live sessions, by id, for one page; and how many there are.
    pub async fn online_users(
        &self,
        now: i64,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<i64>, usize), StoreError> {
        call!(self, s => s.online_users(now, offset, limit))
    }

    /// Keeps a short-lived value under `{namespace}:{id}`.
    pub async fn put_once(
        &self,
        ns: Once,
        id: &str,
        value: &str,
        ttl: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        call!(self, s => s.put_once(ns.as_str(), &id, &value, ttl, now); id = id.to_owned(); value = value.to_owned())
    }

    /// Returns and deletes the value: each can be used at most once, right or wrong.
    pub async fn take_once(
        &self,
        ns: Once,
        id: &str,
        now: i64,
    ) -> Result<Option<String>, StoreError> {
        call!(self, s => s.take_once(ns.as_str(), &id, now); id = id.to_owned())
    }

    /// Adds one to a counter and (re)starts its expiry; returns the new value.
    pub async fn incr(&self, key: &str, ttl: i64, now: i64) -> Result<i64, StoreError> {
        call!(self, s => s.incr(&key, ttl, now); key = key.to_owned())
    }

    pub async fn get_number(&self, key: &str, now: i64) -> Result<Option<i64>, StoreError> {
        call!(self, s => s.get_number(&key, now); key = key.to_owned())
    }

    pub async fn set_number(
        &self,
        key: &str,
        value: i64,
        ttl: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        call!(self, s => s.set_number(&key, value, ttl, now); key = key.to_owned())
    }

    pub async fn remove_numbers(&self, keys: &[String]) -> Result<(), StoreError> {
        call!(self, s => s.remove_numbers(&keys); keys = keys.to_vec())
    }

    /// Appends to the invalidation log every node follows. Goes through even when the store is
    /// otherwise full: an invalidation frees more than it takes.
    pub async fn append(&self, inv: &Invalidation, now: i64) -> Result<EventId, StoreError> {
        call!(self, s => s.append(&inv, now); inv = inv.clone())
    }

    /// A reader of the invalidation log, on a connection of its own.
    pub async fn feed(&self) -> Result<Feed, StoreError> {
        let inner = match &self.backend {
            Backend::Embedded(s) => FeedInner::Embedded(s.feed()),
            Backend::Redis(s) => FeedInner::Redis(s.feed().await?),
        };
        Ok(Feed { inner })
    }
}

/// Follows the invalidation log.
pub struct Feed {
    inner: FeedInner,
}

enum FeedInner {
    Embedded(embedded::Feed),
    Redis(redis::Feed),
}

impl Feed {
    /// The newest entry's id (where a reader with nothing to catch up on starts).
    pub async fn head(&mut self) -> Result<EventId, StoreError> {
        match &mut self.inner {
            FeedInner::Embedded(f) => f.head().await,
            FeedInner::Redis(f) => f.head().await,
        }
    }

    /// Entries after `after`, waiting up to `FEED_BLOCK` for the first.
    pub async fn next(&mut self, after: EventId) -> Result<Batch, StoreError> {
        match &mut self.inner {
            FeedInner::Embedded(f) => f.next(after).await,
            FeedInner::Redis(f) => f.next(after).await,
        }
    }

    /// Housekeeping between reads: the embedded log drops old entries and ended sessions now
    /// and then (Redis trims its stream and expires its keys by itself).
    pub async fn maintain(&mut self, now: i64) {
        if let FeedInner::Embedded(f) = &mut self.inner {
            if let Err(e) = f.prune(now).await {
                tracing::warn!(error = %e, "cannot prune the invalidation log");
            }
        }
    }
}
