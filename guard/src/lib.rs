//! # portcullis-guard
//!
//! Portcullis inside an actix-web API. A [`Guard`] verifies access tokens locally (EdDSA with the
//! server's published keys, or HS256 with the shared secret), keeps each session's verdict and
//! each decoded user in memory, and follows the server's invalidation feed, so that a logout,
//! a disabled user, a role change or a key rotation on the server is refused here on the next
//! request. While warm it makes no network call at all; on a miss it asks the server's token
//! introspection once.
//!
//! ```no_run
//! use actix_web::{web, App, HttpServer, Responder};
//! use portcullis_guard::{require, Guard, User};
//!
//! async fn orders(user: User) -> impl Responder {
//!     format!("orders of {}", user.username)
//! }
//!
//! #[actix_web::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // An API client made with `portcullis client create --id orders-api`.
//!     let guard = Guard::builder("http://127.0.0.1:8000", "orders-api", "its-secret")
//!         .build()
//!         .await?;
//!     HttpServer::new(move || {
//!         App::new()
//!             .wrap(guard.middleware())
//!             .route("/orders", web::get().to(orders))
//!             .service(
//!                 web::resource("/orders/new")
//!                     .wrap(require("order:create"))
//!                     .route(web::post().to(orders)),
//!             )
//!     })
//!     .bind(("127.0.0.1", 8080))?
//!     .run()
//!     .await?;
//!     Ok(())
//! }
//! ```
//!
//! The middleware answers as the server does (RFC 6750): a request without a token passes on
//! (handlers that take [`User`] then answer 401 with a `Bearer` challenge), a bad, expired or
//! revoked token gets 401 `invalid_token`, a malformed `Authorization` header 400
//! `invalid_request`, [`require`] a missing permission 403 `insufficient_scope`, and
//! [`require_mfa`] a session signed in without a second factor 401
//! `insufficient_user_authentication` (RFC 9470).
//!
//! If the feed goes silent for more than five seconds (it carries a heartbeat every second),
//! the guard forgets what it holds and asks introspection on every request until the feed is
//! back; it then resumes after the last event it saw, so nothing is missed.

mod feed;
mod introspect;
mod middleware;
mod verify;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

pub use middleware::{require, require_mfa, GuardMiddleware, Refusal, Require};
use verify::{Keys, Verified};

/// What the server says about a user: one copy, shared by every request of theirs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserInfo {
    pub id: i64,
    pub uuid: String,
    pub username: String,
    pub nickname: String,
    pub email: Option<String>,
    /// Names of the user's enabled roles.
    pub roles: Vec<String>,
    /// Permission codes of those roles (`module:resource:action`).
    pub permissions: Vec<String>,
    pub is_superuser: bool,
}

/// The signed-in user of a request; take it as a handler argument. Its fields are
/// [`UserInfo`]'s (`user.username`, `user.permissions`, …), shared rather than copied, plus
/// the request's own session: which, and how and when its user signed in.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    info: Arc<UserInfo>,
    /// The session this request belongs to.
    pub session_uuid: Arc<str>,
    /// How the session's user signed in, as the token says (RFC 8176 names: `pwd`, `fed`
    /// for a social login, `otp`, `hwk`, `swk`, and `mfa` after a second factor).
    pub amr: Arc<[String]>,
    /// When the session's user last proved who they are (Unix seconds).
    pub auth_time: Option<i64>,
}

impl User {
    /// Whether the session's user signed in with a second factor.
    pub fn is_mfa(&self) -> bool {
        self.amr.iter().any(|m| m == "mfa")
    }

    /// `Err` (401 `insufficient_user_authentication`, RFC 9470) unless the session's user
    /// signed in with a second factor; the client signs in again, with it.
    pub fn require_mfa(&self) -> Result<(), Refusal> {
        match self.is_mfa() {
            true => Ok(()),
            false => Err(Refusal::InsufficientUserAuthentication),
        }
    }
}

impl std::ops::Deref for User {
    type Target = UserInfo;

    fn deref(&self) -> &UserInfo {
        &self.info
    }
}

impl UserInfo {
    /// The server's rule: a superuser holds every code; anyone else, their roles' codes.
    pub fn holds(&self, code: &str) -> bool {
        self.is_superuser || self.permissions.iter().any(|p| p == code)
    }

    /// `Err` (403 `insufficient_scope`) unless the user holds `code`.
    pub fn require(&self, code: &str) -> Result<(), Refusal> {
        if self.holds(code) {
            Ok(())
        } else {
            Err(Refusal::InsufficientScope)
        }
    }
}

/// Why the guard could not be built.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    #[error("cannot reach Portcullis at {url}: {source}")]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("Portcullis refused the API client `{0}`: check its id and secret (`portcullis client create`)")]
    BadClient(String),
    #[error("Portcullis signs with HS256 (it publishes no keys): give the guard the shared secret with `hs256_secret`")]
    NeedsSecret,
    #[error("unexpected answer from Portcullis: {0}")]
    Protocol(String),
}

/// Builds a [`Guard`]; see [`Guard::builder`].
pub struct Builder {
    base_url: String,
    client_id: String,
    client_secret: String,
    hs256_secret: Option<Vec<u8>>,
    issuer: String,
    audience: String,
    leeway_seconds: i64,
    silence: Duration,
    timeout: Duration,
    capacity: usize,
    ttl: Duration,
}

impl Builder {
    /// With HS256 the guard needs the server's secret (it could mint tokens with it: prefer
    /// EdDSA, where it holds only public keys).
    pub fn hs256_secret(mut self, secret: impl Into<Vec<u8>>) -> Self {
        self.hs256_secret = Some(secret.into());
        self
    }

    /// The `iss` tokens must carry (default `portcullis`, as the server's `jwt.issuer`).
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = issuer.into();
        self
    }

    /// The `aud` tokens must carry (default `portcullis`, as the server's `jwt.audience`).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = audience.into();
        self
    }

    /// How long every call to the server may take (default 2 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long a session's verdict and a user are trusted from memory before introspection
    /// is asked again (default 300 s, as the server's `cache.ttl_seconds`). The feed pushes
    /// every change; this bounds what a change the feed could not carry would cost.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// How many sessions, users and tokens to keep (each; default 100,000).
    pub fn capacity(mut self, entries: usize) -> Self {
        self.capacity = entries.max(16);
        self
    }

    /// Fetches the keys, checks the client's credentials and starts following the feed.
    /// Call it inside the actix (tokio) runtime.
    pub async fn build(self) -> Result<Guard, GuardError> {
        let base = self.base_url.trim_end_matches('/').to_owned();
        let http = reqwest::Client::builder()
            .timeout(self.timeout)
            .build()
            .map_err(|source| GuardError::Unreachable {
                url: base.clone(),
                source,
            })?;
        let inner = Arc::new(Inner {
            keys: std::sync::RwLock::new(Keys::default()),
            keys_fetched_at: Mutex::new(None),
            verifier: verify::Rules {
                issuer: self.issuer,
                audience: self.audience,
                leeway: self.leeway_seconds,
                hs256: self.hs256_secret,
            },
            tokens: quick_cache::sync::Cache::new(self.capacity),
            sessions: quick_cache::sync::Cache::new(self.capacity),
            users: quick_cache::sync::Cache::new(self.capacity),
            following: AtomicBool::new(false),
            epoch: AtomicU64::new(0),
            writes: Mutex::new(()),
            delivered: Mutex::new(None),
            ttl: self.ttl,
            introspections: AtomicU64::new(0),
            http,
            silence: self.silence,
            base,
            client_id: self.client_id,
            client_secret: self.client_secret,
        });
        inner.refresh_keys().await?;
        // Good credentials get `{"active": false}` for a token that is none.
        match inner.introspect("-").await {
            Ok(_) => {}
            Err(Refusal::Unavailable(msg)) if msg.contains("invalid_client") => {
                return Err(GuardError::BadClient(inner.client_id.clone()))
            }
            Err(e) => return Err(GuardError::Protocol(e.to_string())),
        }
        let guard = Guard { inner };
        tokio::spawn(feed::follow(guard.inner.clone()));
        // Start warm if the feed comes up at once; serve (introspecting) either way.
        for _ in 0..100 {
            if guard.is_following() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(guard)
    }
}

/// Verifies tokens locally, caches sessions and users, and hears every revocation. Cheap to
/// clone (one shared state).
#[derive(Clone)]
pub struct Guard {
    inner: Arc<Inner>,
}

/// A session's verdict.
#[derive(Clone)]
enum Session {
    /// The user's id, and when introspection said so.
    Alive(i64, Instant),
    Ended,
}

/// A position in the server's invalidation log (`{a}-{b}`, the feed's event ids).
type Position = (u64, u64);

fn position(s: &str) -> Option<Position> {
    let (a, b) = s.trim().split_once('-')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

struct Inner {
    base: String,
    client_id: String,
    client_secret: String,
    http: reqwest::Client,
    keys: std::sync::RwLock<Keys>,
    keys_fetched_at: Mutex<Option<std::time::Instant>>,
    verifier: verify::Rules,
    /// Verified token text → its claims (expiry is checked on every use).
    tokens: quick_cache::sync::Cache<String, Verified>,
    sessions: quick_cache::sync::Cache<Arc<str>, Session>,
    /// Each with when introspection said so.
    users: quick_cache::sync::Cache<i64, (Arc<UserInfo>, Instant)>,
    /// The feed is up: memory may answer.
    following: AtomicBool,
    /// Bumped by every invalidation and every loss of the feed: an introspection that started
    /// before a bump does not cache its answer.
    epoch: AtomicU64,
    /// Held while caching an answer or applying an invalidation (never on a cache hit).
    writes: Mutex<()>,
    /// The last log position the feed has delivered (set under `writes`, with what it says):
    /// an introspection answer from a node behind it is used but not cached.
    delivered: Mutex<Option<Position>>,
    ttl: Duration,
    introspections: AtomicU64,
    silence: Duration,
}

impl Guard {
    /// A guard for the Portcullis server at `base_url`, as the API client `client_id`.
    pub fn builder(
        base_url: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Builder {
        Builder {
            base_url: base_url.into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            hs256_secret: None,
            issuer: "portcullis".into(),
            audience: "portcullis".into(),
            leeway_seconds: 30,
            silence: Duration::from_secs(5),
            timeout: Duration::from_secs(2),
            capacity: 100_000,
            ttl: Duration::from_secs(300),
        }
    }

    /// The middleware that authenticates every request carrying a bearer token.
    pub fn middleware(&self) -> GuardMiddleware {
        GuardMiddleware::new(self.clone())
    }

    /// Whether the feed is up (memory answers) or down (every request is introspected).
    pub fn is_following(&self) -> bool {
        self.inner.following.load(Ordering::Acquire)
    }

    /// How far the feed has delivered the server's invalidation log (`{a}-{b}`, as the
    /// `portcullis_log_position` of introspection answers): every change through it is applied
    /// here. `None` before the feed first said where it was.
    pub fn log_position(&self) -> Option<String> {
        let delivered = *self
            .inner
            .delivered
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        delivered.map(|(a, b)| format!("{a}-{b}"))
    }

    /// How many times the guard has asked the server's introspection.
    pub fn introspections(&self) -> u64 {
        self.inner.introspections.load(Ordering::Relaxed)
    }

    /// The user behind an access token, from memory when it can.
    pub async fn authenticate(&self, token: &str) -> Result<User, Refusal> {
        self.inner.authenticate(token).await
    }
}

/// The system clock, in Unix seconds (the guard has no clock of its own to inject).
#[allow(clippy::disallowed_methods)]
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Inner {
    async fn authenticate(&self, token: &str) -> Result<User, Refusal> {
        let verified = self.verified(token).await?;
        let info = 'memory: {
            if self.following.load(Ordering::Acquire) {
                let fresh = |at: Instant| at.elapsed() < self.ttl;
                match self.sessions.get(&verified.sid) {
                    Some(Session::Ended) => return Err(Refusal::InvalidToken),
                    Some(Session::Alive(uid, at)) if uid == verified.uid && fresh(at) => {
                        if let Some((info, at)) = self.users.get(&uid) {
                            if fresh(at) {
                                break 'memory info;
                            }
                        }
                    }
                    _ => {}
                }
            }
            self.ask(token, &verified).await?
        };
        Ok(User {
            info,
            session_uuid: verified.sid,
            amr: verified.amr,
            auth_time: verified.auth_time,
        })
    }

    /// The token's claims: remembered by its exact text, or verified now.
    async fn verified(&self, token: &str) -> Result<Verified, Refusal> {
        let now = now();
        if let Some(v) = self.tokens.get(token) {
            // These very bytes passed the checks below before.
            return self.verifier.in_time(v, now);
        }
        // RFC 6750 `b64token`; anything else is a malformed header (400), not a bad token.
        let b64token = |b: &u8| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=')
        };
        if !token.as_bytes().iter().all(b64token) {
            return Err(Refusal::Malformed);
        }
        let attempt = {
            let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
            self.verifier.verify(&keys, token, now)
        };
        let v = match attempt {
            Err(verify::Failure::UnknownKey) if self.refresh_keys_soon().await => {
                let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
                self.verifier.verify(&keys, token, now)
            }
            other => other,
        }
        .map_err(|_| Refusal::InvalidToken)?;
        self.tokens.insert(token.to_owned(), v.clone());
        Ok(v)
    }

    /// Fetches the published keys again, unless that was done in the last two seconds (a
    /// stream of tokens with made-up key ids must not become a stream of fetches).
    async fn refresh_keys_soon(&self) -> bool {
        {
            let mut at = self
                .keys_fetched_at
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if at.is_some_and(|t| t.elapsed() < Duration::from_secs(2)) {
                return false;
            }
            *at = Some(std::time::Instant::now());
        }
        match self.refresh_keys().await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "portcullis-guard: could not fetch the signing keys");
                false
            }
        }
    }

    async fn refresh_keys(&self) -> Result<(), GuardError> {
        let url = format!("{}/.well-known/jwks.json", self.base);
        let res = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|source| GuardError::Unreachable { url, source })?;
        let jwks: serde_json::Value = res
            .json()
            .await
            .map_err(|e| GuardError::Protocol(format!("jwks.json: {e}")))?;
        let keys = Keys::from_jwks(&jwks).map_err(GuardError::Protocol)?;
        if keys.is_empty() && self.verifier.hs256.is_none() {
            return Err(GuardError::NeedsSecret);
        }
        *self.keys.write().unwrap_or_else(|p| p.into_inner()) = keys;
        // Tokens verified with a key that is gone must verify again.
        self.tokens.clear();
        Ok(())
    }

    /// Applies one event of the feed, delivered at `at` (its id).
    fn apply(&self, event: &feed::Event, at: Option<&str>) {
        let _w = self.writes.lock().unwrap_or_else(|p| p.into_inner());
        self.deliver(at);
        if matches!(event, feed::Event::Keys) {
            // New keys change nothing cached (the feed task refreshes the key set).
            return;
        }
        self.epoch.fetch_add(1, Ordering::AcqRel);
        match event {
            feed::Event::Session(sid) => self
                .sessions
                .insert(Arc::from(sid.as_str()), Session::Ended),
            feed::Event::User(uid) => {
                self.users.remove(uid);
            }
            feed::Event::Roles | feed::Event::Reset => {
                self.users.clear();
                if matches!(event, feed::Event::Reset) {
                    self.sessions.clear();
                }
            }
            feed::Event::Keys => {}
        }
    }

    /// The feed is down: forget, and let every request ask.
    fn lose_feed(&self) {
        let _w = self.writes.lock().unwrap_or_else(|p| p.into_inner());
        if self.following.swap(false, Ordering::AcqRel) {
            tracing::warn!("portcullis-guard: the invalidation feed is down; asking the server on every request");
        }
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.sessions.clear();
        self.users.clear();
    }

    /// Moves the delivered position forward (callers hold `writes`).
    fn deliver(&self, at: Option<&str>) {
        if let Some(p) = at.and_then(position) {
            let mut d = self.delivered.lock().unwrap_or_else(|p| p.into_inner());
            *d = Some(d.map_or(p, |d| d.max(p)));
        }
    }

    /// The feed is ready, everything through `at` delivered.
    fn gain_feed(&self, at: Option<&str>) {
        {
            let _w = self.writes.lock().unwrap_or_else(|p| p.into_inner());
            self.deliver(at);
        }
        if !self.following.swap(true, Ordering::AcqRel) {
            tracing::info!("portcullis-guard: following the invalidation feed");
        }
    }
}
