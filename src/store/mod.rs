//! The hot store: sessions, their per-user index, cached users and the invalidation channel.
//! In-process for embedded mode, Redis for production; one type, so callers never branch.

mod memory;
mod redis;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use self::memory::MemoryStore;
pub use self::redis::RedisStore;

/// Failed store calls since start, for `/metrics`. Counted where the errors are made.
static ERRORS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

pub fn errors() -> u64 {
    ERRORS.load(std::sync::atomic::Ordering::Relaxed)
}

fn count_error() {
    ERRORS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("store returned unexpected data: {0}")]
    Corrupt(String),
}

/// A login session as the store keeps it. Times are Unix seconds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SessionRecord {
    pub sid: String,
    pub uid: i64,
    pub method: String,
    pub ip: String,
    pub user_agent: String,
    pub os: Option<String>,
    pub browser: Option<String>,
    pub device: Option<String>,
    pub created_at: i64,
    pub last_refresh_at: i64,
    /// Absolute end of the session, whatever the refreshes.
    pub expires_at: i64,
    /// End of the current refresh token (sliding, never past `expires_at`).
    pub refresh_expires_at: i64,
    /// SHA-256 (hex) of the current refresh token.
    pub refresh_hash: String,
    /// The immediate parent's digest and when it was rotated, for the grace window.
    pub prev_hash: Option<String>,
    pub prev_at: Option<i64>,
    /// The answer the last rotation gave, returned again to a retry inside the grace window.
    pub grace: Option<String>,
    /// Digests of this session's spent refresh tokens, space-separated, newest last (bounded):
    /// presenting one of these is reuse; presenting anything else is merely invalid.
    #[serde(default)]
    pub used: String,
}

/// How many spent refresh-token digests a session remembers.
pub const USED_HISTORY: usize = 32;

/// Appends `digest` to a `used` list, keeping the newest `USED_HISTORY`.
pub fn remember_used(used: &str, digest: &str) -> String {
    let mut all: Vec<&str> = used.split_whitespace().collect();
    all.push(digest);
    let skip = all.len().saturating_sub(USED_HISTORY);
    all[skip..].join(" ")
}

/// What a login asks of the store besides writing the session.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    /// End every other session of the user (`multi_login` off).
    pub single: bool,
    /// 0 = no limit; otherwise the oldest sessions end to make room.
    pub max_per_user: usize,
}

/// One refresh attempt, decided atomically.
#[derive(Debug, Clone)]
pub struct Rotation<'a> {
    pub sid: &'a str,
    pub presented_hash: &'a str,
    pub new_hash: &'a str,
    pub now: i64,
    pub grace_seconds: i64,
    pub refresh_ttl: i64,
    /// Stored with the session for retries inside the grace window.
    pub answer: &'a str,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RotateOutcome {
    Rotated,
    /// A retry with the immediate parent inside the grace window: the earlier answer.
    Replay(String),
    /// No such live session (ended, expired, or never existed).
    Missing,
    /// A refresh token that was already used, outside the grace window: the session was ended.
    Reused {
        uid: i64,
    },
}

/// Namespaces of single-use values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Once {
    Captcha,
    OAuthState,
    LoginCode,
}

impl Once {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Captcha => "captcha",
            Self::OAuthState => "oauth2:state",
            Self::LoginCode => "oauth2:code",
        }
    }
}

/// The answer to "may this login attempt hash a password?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    Allowed,
    /// Refused until this Unix time, without hashing.
    Locked {
        until: i64,
    },
}

/// The counters an attempt touches: the account, and the account from this client address.
#[derive(Debug, Clone)]
pub struct AttemptKeys {
    pub account: String,
    pub pair: String,
}

impl AttemptKeys {
    /// Long or odd usernames are hashed so keys stay short and printable.
    pub fn new(username: &str, ip: &str) -> Self {
        let account = if username.len() <= 64 && username.chars().all(|c| c.is_ascii_graphic()) {
            username.to_owned()
        } else {
            format!("h:{}", &crate::auth::sessions::digest(username)[..32])
        };
        Self {
            pair: format!("{account}|{ip}"),
            account,
        }
    }
}

/// Lock length after the n-th lock (1-based): base, doubling, capped.
pub fn lock_seconds(n: u32, l: &crate::config::LockoutSettings) -> i64 {
    let factor = 1i64
        .checked_shl(n.saturating_sub(1).min(32))
        .unwrap_or(i64::MAX);
    l.base_seconds.saturating_mul(factor).min(l.max_seconds)
}

/// A cache invalidation, sent to every node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalidation {
    Session(String),
    User(i64),
}

impl Invalidation {
    pub fn encode(&self) -> String {
        match self {
            Self::Session(sid) => format!("s:{sid}"),
            Self::User(uid) => format!("u:{uid}"),
        }
    }

    pub fn decode(s: &str) -> Option<Self> {
        match s.split_once(':')? {
            ("s", sid) if !sid.is_empty() => Some(Self::Session(sid.to_owned())),
            ("u", uid) => uid.parse().ok().map(Self::User),
            _ => None,
        }
    }
}

#[derive(Clone)]
pub enum Store {
    Memory(Arc<MemoryStore>),
    Redis(RedisStore),
}

macro_rules! dispatch {
    ($self:expr, $s:ident => $call:expr) => {
        match $self {
            Store::Memory($s) => $call,
            Store::Redis($s) => $call,
        }
    };
}

impl Store {
    pub fn memory() -> Self {
        Self::Memory(Arc::new(MemoryStore::default()))
    }

    pub fn is_shared(&self) -> bool {
        matches!(self, Self::Redis(_))
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        dispatch!(self, s => s.ping().await)
    }

    /// Writes a new session and applies the policy; returns the session ids it ended.
    pub async fn create_session(
        &self,
        record: &SessionRecord,
        policy: SessionPolicy,
        now: i64,
    ) -> Result<Vec<String>, StoreError> {
        dispatch!(self, s => s.create_session(record, policy, now).await)
    }

    pub async fn session(&self, sid: &str, now: i64) -> Result<Option<SessionRecord>, StoreError> {
        dispatch!(self, s => s.session(sid, now).await)
    }

    pub async fn rotate(&self, r: Rotation<'_>) -> Result<RotateOutcome, StoreError> {
        dispatch!(self, s => s.rotate(r).await)
    }

    /// Ends one session; true when it existed.
    pub async fn delete_session(&self, uid: i64, sid: &str) -> Result<bool, StoreError> {
        dispatch!(self, s => s.delete_session(uid, sid).await)
    }

    /// Ends every session of the user but `except`; returns the ended ids.
    pub async fn delete_user_sessions(
        &self,
        uid: i64,
        except: Option<&str>,
    ) -> Result<Vec<String>, StoreError> {
        dispatch!(self, s => s.delete_user_sessions(uid, except).await)
    }

    /// The user's live sessions, oldest first.
    pub async fn user_sessions(
        &self,
        uid: i64,
        now: i64,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        dispatch!(self, s => s.user_sessions(uid, now).await)
    }

    pub async fn cached_user(&self, uid: i64) -> Result<Option<String>, StoreError> {
        dispatch!(self, s => s.cached_user(uid).await)
    }

    pub async fn put_cached_user(
        &self,
        uid: i64,
        json: &str,
        ttl: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.put_cached_user(uid, json, ttl, now).await)
    }

    pub async fn drop_cached_user(&self, uid: i64) -> Result<(), StoreError> {
        dispatch!(self, s => s.drop_cached_user(uid).await)
    }

    /// Keeps a short-lived value under `{namespace}:{id}` (a captcha answer, an OAuth2 state,
    /// a one-time login code).
    pub async fn put_once(
        &self,
        ns: Once,
        id: &str,
        value: &str,
        ttl: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.put_once(ns.as_str(), id, value, ttl, now).await)
    }

    /// Returns and deletes the value: each can be used at most once, right or wrong.
    pub async fn take_once(
        &self,
        ns: Once,
        id: &str,
        now: i64,
    ) -> Result<Option<String>, StoreError> {
        dispatch!(self, s => s.take_once(ns.as_str(), id, now).await)
    }

    /// Reads a value without using it up (operators, tests).
    pub async fn peek_once(
        &self,
        ns: Once,
        id: &str,
        now: i64,
    ) -> Result<Option<String>, StoreError> {
        dispatch!(self, s => s.peek_once(ns.as_str(), id, now).await)
    }

    /// Reserves one login attempt, atomically, before any password is hashed.
    pub async fn login_attempt(
        &self,
        keys: &AttemptKeys,
        now: i64,
        lockout: &crate::config::LockoutSettings,
    ) -> Result<Attempt, StoreError> {
        dispatch!(self, s => s.login_attempt(keys, now, lockout).await)
    }

    /// A successful login clears the counters and the backoff.
    pub async fn login_succeeded(&self, keys: &AttemptKeys) -> Result<(), StoreError> {
        dispatch!(self, s => s.login_succeeded(keys).await)
    }

    /// Tells the other nodes (none in memory mode; the local cache is told directly).
    pub async fn publish(&self, inv: &Invalidation) -> Result<(), StoreError> {
        match self {
            Self::Memory(_) => Ok(()),
            Self::Redis(s) => s.publish(inv).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalidations_round_trip_and_garbage_is_ignored() {
        for inv in [Invalidation::Session("abc".into()), Invalidation::User(42)] {
            assert_eq!(Invalidation::decode(&inv.encode()), Some(inv));
        }
        for bad in ["", "s:", "u:x", "x:1", "nonsense"] {
            assert_eq!(Invalidation::decode(bad), None, "{bad}");
        }
    }
}
