//! The cache actor: owner of the decoded-user and session-validity cache and of its
//! invalidation, locally and (production mode) on every node through Redis pub/sub.
//!
//! Reads on the hot path do not queue behind the actor's mailbox: the validator first looks in
//! the shared map (`AuthCache`), and only a miss becomes a `Resolve` message, which reads
//! through the store and the database and fills the map. While the pub/sub link is down the map
//! is emptied and bypassed, so a node that could miss a revocation never answers from memory.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::{
    Actor, ActorFutureExt, AsyncContext, Context, Handler, Message, ResponseFuture, WrapFuture,
};
use futures_util::StreamExt;
use quick_cache::sync::Cache;

use super::repo::RepoHandle;
use crate::auth::user::{AuthUser, CachedUser};
use crate::clock::SharedClock;
use crate::config::CacheSettings;
use crate::db::DbError;
use crate::metrics::Counter;
use crate::store::{Invalidation, Store, StoreError};

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
    /// Bumped by every invalidation; a read-through that saw another epoch does not fill the map.
    epoch: AtomicU64,
    link_up: AtomicBool,
    ttl: i64,
    tombstone_ttl: i64,
    hits: Counter,
    misses: Counter,
}

/// Counters for `/metrics`.
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    pub entries: u64,
}

impl AuthCache {
    fn new(settings: &CacheSettings, link_up: bool, tombstone_ttl: i64) -> Self {
        Self {
            users: Cache::new(settings.max_users.max(1)),
            sessions: Cache::new(settings.max_sessions.max(1)),
            epoch: AtomicU64::new(0),
            link_up: AtomicBool::new(link_up),
            ttl: settings.ttl_seconds,
            tombstone_ttl,
            hits: Counter::default(),
            misses: Counter::default(),
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

    fn apply(&self, inv: &Invalidation, now: i64) {
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
        }
    }

    fn clear(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.users.clear();
        self.sessions.clear();
    }

    pub fn link_up(&self) -> bool {
        self.link_up.load(Ordering::Acquire)
    }
}

pub struct CacheActor {
    shared: Arc<AuthCache>,
    store: Store,
    repo: RepoHandle,
    clock: SharedClock,
    ttl: i64,
}

impl Actor for CacheActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        if let Store::Redis(redis) = &self.store {
            let url = redis.url().to_owned();
            let channel = redis.channel();
            let shared = self.shared.clone();
            let clock = self.clock.clone();
            ctx.spawn(
                listen(url, channel, shared, clock)
                    .into_actor(self)
                    .map(|_, _, _| ()),
            );
        }
    }
}

/// Keeps a subscription to the invalidation channel for as long as the actor lives.
async fn listen(url: String, channel: String, shared: Arc<AuthCache>, clock: SharedClock) {
    loop {
        match subscribe(&url, &channel).await {
            Ok(mut pubsub) => {
                // Anything could have been missed while down: start from an empty map.
                shared.clear();
                shared.link_up.store(true, Ordering::Release);
                tracing::info!(channel, "invalidation link up");
                let mut messages = pubsub.on_message();
                while let Some(msg) = messages.next().await {
                    let payload: String = match msg.get_payload() {
                        Ok(p) => p,
                        Err(_) => continue,
                    };
                    match Invalidation::decode(&payload) {
                        Some(inv) => shared.apply(&inv, clock.unix()),
                        None => tracing::warn!(payload, "ignored malformed invalidation"),
                    }
                }
                shared.link_up.store(false, Ordering::Release);
                shared.clear();
                tracing::warn!(
                    channel,
                    "invalidation link lost; answering from the store until it is back"
                );
            }
            Err(e) => {
                shared.link_up.store(false, Ordering::Release);
                tracing::warn!(error = %e, "invalidation link cannot subscribe");
            }
        }
        actix_web::rt::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn subscribe(url: &str, channel: &str) -> Result<redis::aio::PubSub, redis::RedisError> {
    let client = redis::Client::open(url)?;
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    Ok(pubsub)
}

/// A cache miss: read the session and the user through the store and the database.
struct Resolve {
    sid: String,
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
        let ttl = self.ttl;
        Box::pin(async move {
            let epoch = shared.epoch.load(Ordering::Acquire);
            let fill = |shared: &AuthCache| {
                shared.link_up() && shared.epoch.load(Ordering::Acquire) == epoch
            };
            let Some(session) = store.session(&msg.sid, now).await? else {
                if fill(&shared) {
                    shared.sessions.insert(
                        msg.sid,
                        SessionState::Gone {
                            until: now + shared.tombstone_ttl,
                        },
                    );
                }
                return Err(AuthFailure::SessionEnded);
            };
            if session.uid != msg.uid {
                return Err(AuthFailure::SessionEnded);
            }
            let user = load_user(&store, &repo, msg.uid, now, ttl).await?;
            let Some(user) = user.filter(|u| u.is_enabled()) else {
                return Err(AuthFailure::UserUnavailable);
            };
            if fill(&shared) {
                shared.users.insert(msg.uid, (user.clone(), now));
                shared.sessions.insert(
                    msg.sid,
                    SessionState::Alive {
                        uid: msg.uid,
                        until: session.refresh_expires_at.min(session.expires_at),
                        checked: now,
                    },
                );
            }
            Ok(user)
        })
    }
}

/// The store's copy, else the database (and the store is filled for the other nodes).
async fn load_user(
    store: &Store,
    repo: &RepoHandle,
    uid: i64,
    now: i64,
    ttl: i64,
) -> Result<Option<Arc<CachedUser>>, AuthFailure> {
    if let Some(json) = store.cached_user(uid).await? {
        match CachedUser::from_json(json) {
            Ok(user) => return Ok(Some(Arc::new(user))),
            Err(e) => tracing::warn!(uid, error = %e, "dropping unreadable cached user"),
        }
    }
    let Some(user) = load_user_from_db(repo, uid).await? else {
        return Ok(None);
    };
    let cached = CachedUser::new(user).map_err(|e| {
        AuthFailure::Store(StoreError::Corrupt(format!("user does not serialize: {e}")))
    })?;
    store
        .put_cached_user(uid, cached.json.get(), ttl, now)
        .await?;
    Ok(Some(Arc::new(cached)))
}

pub async fn load_user_from_db(repo: &RepoHandle, uid: i64) -> Result<Option<AuthUser>, DbError> {
    repo.run(move |r| async move {
        let Some(row) = r.user_by_id(uid).await? else {
            return Ok(None);
        };
        let roles = r.role_names(uid).await?;
        let codes = r.permission_codes(uid, row.is_superuser).await?;
        Ok(Some(AuthUser::from_row(&row, roles, codes)))
    })
    .await
}

/// What the rest of the server holds.
#[derive(Clone)]
pub struct CacheHandle {
    shared: Arc<AuthCache>,
    addr: actix::Addr<CacheActor>,
    store: Store,
    clock: SharedClock,
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
    ) -> Self {
        let shared = Arc::new(AuthCache::new(settings, !store.is_shared(), tombstone_ttl));
        let addr = CacheActor {
            shared: shared.clone(),
            store: store.clone(),
            repo,
            clock: clock.clone(),
            ttl: settings.ttl_seconds,
        }
        .start();
        Self {
            shared,
            addr,
            store,
            clock,
        }
    }

    pub fn link_up(&self) -> bool {
        self.shared.link_up()
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.shared.hits.get(),
            misses: self.shared.misses.get(),
            entries: (self.shared.users.len() + self.shared.sessions.len()) as u64,
        }
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
        self.shared.hits.incr();
        Some(answer)
    }

    /// The same read through the cache actor (store, then database), which fills memory.
    pub async fn resolve(&self, sid: &str, uid: i64) -> Result<Arc<CachedUser>, AuthFailure> {
        self.shared.misses.incr();
        self.addr
            .send(Resolve {
                sid: sid.to_owned(),
                uid,
            })
            .await
            .map_err(|e| AuthFailure::Store(StoreError::Unavailable(format!("cache actor: {e}"))))?
    }

    /// Drops the entries here at once, then tells the other nodes. A user invalidation also
    /// drops the store's shared copy.
    pub async fn invalidate(&self, inv: Invalidation) -> Result<(), StoreError> {
        self.shared.apply(&inv, self.clock.unix());
        if let Invalidation::User(uid) = inv {
            self.store.drop_cached_user(uid).await?;
        }
        self.store.publish(&inv).await
    }
}
