//! The cache actor: owner of the decoded-user and session-validity cache, and of following
//! the invalidation log.
//!
//! Reads on the hot path do not queue behind the mailbox: the validator looks in the shared
//! map (`AuthCache`) first, and only a miss becomes a `Resolve` message, which reads through the
//! store and the database and fills the map. The actor follows the store's invalidation log
//! (a Redis stream, or the database's table), applying every entry and passing it on to the
//! event feed. While the log cannot be read, or has not answered for `SILENT`, the map is
//! emptied and bypassed: a node that could miss a revocation never answers from memory.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::{
    Actor, ActorFutureExt, AsyncContext, Context, Handler, Message, ResponseFuture, WrapFuture,
};
use quick_cache::sync::Cache;

use super::repo::{LoadAuthUser, RepoHandle};
use crate::clock::SharedClock;
use crate::config::CacheSettings;
use crate::db::DbError;
use crate::domain::{ApiClient, CachedUser, EventId, Invalidation};
use crate::metrics::Metrics;
use crate::store::{Store, StoreError};

mod clients;
mod log;
mod news;

use log::follow;
pub use log::Invalidator;
pub use news::LogNews;

/// A log that has not answered for this long is treated as down.
pub const SILENT: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, Copy)]
enum SessionState {
    Alive { uid: i64, until: i64, checked: i64 },
    Gone { until: i64 },
}

/// Why a verified token still does not authenticate.
#[derive(Debug, thiserror::Error)]
pub enum AuthFailure {
    #[error("session ended")]
    SessionEnded,
    #[error("user missing or disabled")]
    UserUnavailable,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// The shared half: what validators read without a message.
pub struct AuthCache {
    users: Cache<i64, (Arc<CachedUser>, i64)>,
    sessions: Cache<String, SessionState>,
    /// Verified API clients and when each was read (trusted for `ttl` at most).
    clients: Cache<String, (Arc<ApiClient>, i64)>,
    /// Bumped by every invalidation. A fill names the epoch it started in and is dropped if an
    /// invalidation came since; both take `fill_lock`, so no fill lands after an invalidation
    /// that it did not see.
    epoch: AtomicU64,
    fill_lock: Mutex<()>,
    link_up: AtomicBool,
    /// The last entry of the log this node has applied.
    applied: tokio::sync::watch::Sender<EventId>,
    /// Every read of the log, once applied, for the event feed's streams.
    news: tokio::sync::broadcast::Sender<LogNews>,
    ttl: i64,
    tombstone_ttl: i64,
    metrics: Metrics,
}

impl AuthCache {
    fn new(settings: &CacheSettings, tombstone_ttl: i64, metrics: Metrics) -> Self {
        Self {
            users: Cache::new(settings.max_users.max(1)),
            sessions: Cache::new(settings.max_sessions.max(1)),
            clients: Cache::new(1024),
            epoch: AtomicU64::new(0),
            fill_lock: Mutex::new(()),
            link_up: AtomicBool::new(false),
            applied: tokio::sync::watch::Sender::new(EventId::default()),
            news: tokio::sync::broadcast::Sender::new(news::BACKLOG),
            ttl: settings.ttl_seconds,
            tombstone_ttl,
            metrics,
        }
    }

    /// `Some` when memory can answer for this session and user.
    fn lookup(
        &self,
        sid: &str,
        uid: i64,
        now: i64,
    ) -> Option<Result<Arc<CachedUser>, AuthFailure>> {
        if !self.link_up.load(Ordering::Acquire) {
            return None;
        }
        match self.sessions.get(sid)? {
            SessionState::Gone { until } if now < until => Some(Err(AuthFailure::SessionEnded)),
            SessionState::Alive {
                uid: owner,
                until,
                checked,
            } if now < until && now - checked < self.ttl => {
                if owner != uid {
                    return Some(Err(AuthFailure::SessionEnded));
                }
                let (user, fetched) = self.users.get(&uid)?;
                (now - fetched < self.ttl).then_some(Ok(user))
            }
            _ => None,
        }
    }

    fn begin_fill(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// The user as cached, with when it was read, while it is trusted. A fill that began
    /// before this read and reuses it is dropped if an invalidation came between.
    fn fresh_user(&self, uid: i64, now: i64) -> Option<(Arc<CachedUser>, i64)> {
        self.users
            .get(&uid)
            .filter(|(_, fetched)| now - fetched < self.ttl)
    }

    /// Stores what a read-through found, unless an invalidation came since it began (or the
    /// link is down). Returns whether it was stored.
    fn fill(&self, began: u64, fill: Fill) -> bool {
        let Ok(_guard) = self.fill_lock.lock() else {
            return false;
        };
        if !self.link_up() || self.epoch.load(Ordering::Acquire) != began {
            return false;
        }
        match fill {
            Fill::Gone { sid, now } => self.sessions.insert(
                sid,
                SessionState::Gone {
                    until: now + self.tombstone_ttl,
                },
            ),
            Fill::Alive {
                sid,
                uid,
                until,
                user,
                fetched,
                now,
            } => {
                self.users.insert(uid, (user, fetched));
                self.sessions.insert(
                    sid,
                    SessionState::Alive {
                        uid,
                        until,
                        checked: now,
                    },
                );
            }
        }
        self.count_entries();
        true
    }

    fn apply(&self, inv: &Invalidation, now: i64) {
        if *inv == Invalidation::Keys {
            // For services that verify tokens themselves; a node's cache holds nothing it changes.
            return;
        }
        let Ok(_guard) = self.fill_lock.lock() else {
            self.clear();
            return;
        };
        self.epoch.fetch_add(1, Ordering::AcqRel);
        match inv {
            Invalidation::Session(sid) => self.sessions.insert(
                sid.clone(),
                SessionState::Gone {
                    until: now + self.tombstone_ttl,
                },
            ),
            Invalidation::User(uid) => {
                self.users.remove(uid);
            }
            Invalidation::Roles => self.users.clear(),
            Invalidation::Client(id) => {
                self.clients.remove(id);
            }
            Invalidation::Keys => {}
        }
        self.count_entries();
    }

    fn clear(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.users.clear();
        self.sessions.clear();
        self.clients.clear();
        self.count_entries();
    }

    fn set_link(&self, up: bool) {
        if !up {
            // Anything could be missed from now on: forget, then stop answering from memory.
            self.link_up.store(false, Ordering::Release);
            self.clear();
            let _ = self.news.send(LogNews::Lost);
        } else {
            self.link_up.store(true, Ordering::Release);
        }
        self.metrics.link_up(up);
    }

    fn count_entries(&self) {
        self.metrics
            .cache_entries((self.users.len() + self.sessions.len()) as u64);
    }

    pub fn link_up(&self) -> bool {
        self.link_up.load(Ordering::Acquire)
    }
}

enum Fill {
    Gone {
        sid: String,
        now: i64,
    },
    Alive {
        sid: String,
        uid: i64,
        until: i64,
        user: Arc<CachedUser>,
        /// When the user was read from the database (kept when a fill reuses a cached one).
        fetched: i64,
        now: i64,
    },
}

pub struct CacheActor {
    shared: Arc<AuthCache>,
    store: Store,
    repo: RepoHandle,
    clock: SharedClock,
}

impl Actor for CacheActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let follow = follow(self.store.clone(), self.shared.clone(), self.clock.clone());
        ctx.spawn(follow.into_actor(self).map(|_, _, _| ()));
    }
}

/// A cache miss: read the session and the user through the store and the database.
struct Resolve {
    sid: Arc<str>,
    uid: i64,
}

impl Message for Resolve {
    type Result = Result<Arc<CachedUser>, AuthFailure>;
}

impl Handler<Resolve> for CacheActor {
    type Result = ResponseFuture<Result<Arc<CachedUser>, AuthFailure>>;

    fn handle(&mut self, msg: Resolve, _: &mut Self::Context) -> Self::Result {
        let shared = self.shared.clone();
        let store = self.store.clone();
        let repo = self.repo.clone();
        let now = self.clock.unix();
        Box::pin(async move {
            let began = shared.begin_fill();
            let session = store
                .session(msg.uid, &msg.sid)
                .await?
                .filter(|s| s.is_live(now));
            let Some(session) = session else {
                shared.fill(
                    began,
                    Fill::Gone {
                        sid: msg.sid.to_string(),
                        now,
                    },
                );
                return Err(AuthFailure::SessionEnded);
            };
            // A session of a user already cached (another session, or a session that expired
            // from memory) needs only its own record read.
            let (user, fetched) = match shared.fresh_user(msg.uid, now) {
                Some((user, fetched)) => (Some(user), fetched),
                None => (load_user(&repo, msg.uid).await?, now),
            };
            let Some(user) = user.filter(|u| u.is_enabled()) else {
                return Err(AuthFailure::UserUnavailable);
            };
            if session.predates_password_change(user.password_changed_at.map(|t| t.timestamp())) {
                return Err(AuthFailure::SessionEnded);
            }
            shared.fill(
                began,
                Fill::Alive {
                    sid: msg.sid.to_string(),
                    uid: msg.uid,
                    until: session.live_until(),
                    user: user.clone(),
                    fetched,
                    now,
                },
            );
            Ok(user)
        })
    }
}

/// The user as the database has it now. Each node keeps its own decoded copy (and is told
/// when it changes); there is no shared copy in the store that a role change could leave stale.
async fn load_user(repo: &RepoHandle, uid: i64) -> Result<Option<Arc<CachedUser>>, AuthFailure> {
    let Some(user) = repo.send(LoadAuthUser { id: uid }).await? else {
        return Ok(None);
    };
    let cached = CachedUser::new(user)
        .map_err(|e| StoreError::Corrupt(format!("user does not serialize: {e}")))?;
    Ok(Some(Arc::new(cached)))
}
/// What the rest of the server holds.
#[derive(Clone)]
pub struct CacheHandle {
    shared: Arc<AuthCache>,
    addr: actix::Addr<CacheActor>,
    invalidator: Invalidator,
}

impl CacheHandle {
    /// `tombstone_ttl`: how long an ended session is remembered as ended (the access token
    /// lifetime plus leeway: after that its tokens are expired anyway).
    pub fn start(
        settings: &CacheSettings,
        store: Store,
        repo: RepoHandle,
        clock: SharedClock,
        tombstone_ttl: i64,
        metrics: Metrics,
    ) -> Self {
        let shared = Arc::new(AuthCache::new(settings, tombstone_ttl, metrics));
        let addr = CacheActor {
            shared: shared.clone(),
            store: store.clone(),
            repo,
            clock: clock.clone(),
        }
        .start();
        Self {
            invalidator: Invalidator {
                local: Some(shared.clone()),
                store,
                clock,
            },
            shared,
            addr,
        }
    }

    /// Whether this node hears every invalidation (and so answers from memory).
    pub fn link_up(&self) -> bool {
        self.shared.link_up()
    }

    /// The user behind a verified token's session, when memory can answer: no message, no
    /// await. `None` means ask `resolve`.
    pub fn cached(
        &self,
        sid: &str,
        uid: i64,
        now: i64,
    ) -> Option<Result<Arc<CachedUser>, AuthFailure>> {
        let answer = self.shared.lookup(sid, uid, now)?;
        self.shared.metrics.cache_hit();
        Some(answer)
    }

    /// The same read through the cache actor (store, then database), which fills memory.
    pub async fn resolve(&self, sid: Arc<str>, uid: i64) -> Result<Arc<CachedUser>, AuthFailure> {
        self.shared.metrics.cache_miss();
        self.addr
            .send(Resolve { sid, uid })
            .await
            .map_err(|e| AuthFailure::Store(StoreError::Unavailable(format!("cache actor: {e}"))))?
    }

    pub fn invalidator(&self) -> Invalidator {
        self.invalidator.clone()
    }

    pub async fn invalidate(&self, inv: Invalidation) -> Result<(), StoreError> {
        self.invalidator.invalidate(inv).await
    }
}
#[cfg(test)]
mod tests;
