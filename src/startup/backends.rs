//! The database and the hot store as configured, and the tools the CLI shares with the server.

use std::sync::{Arc, Mutex};

use anyhow::Context;

use super::secrets::resolve_keys;
use crate::actors::{Invalidator, RepoHandle};
use crate::admin::roles::Roles;
use crate::admin::Admin;
use crate::auth::clients::ApiClients;
use crate::auth::jwt::JwtKeys;
use crate::auth::password::PasswordHasher;
use crate::auth::sessions::Sessions;
use crate::clock::SharedClock;
use crate::config::{DatabaseKind, Settings};
use crate::db::{self, Db};
use crate::domain::{PasswordPolicy, SessionRecord};
use crate::metrics::Metrics;
use crate::oidc::{backchannel, OidcClients};
use crate::repo::Repo;
use crate::store::{EmbeddedStore, RedisStore, Store};

/// The database and the hot store, as configured: migrated and connected.
pub struct Backends {
    pub kind: DatabaseKind,
    pub repo: RepoHandle,
    pub store: Store,
}

impl Backends {
    /// Applies pending migrations, starts the repository actor and connects the store.
    pub async fn connect(settings: &Settings, metrics: &Metrics) -> anyhow::Result<Self> {
        let kind = settings.database_kind();
        let hint = "cannot open the database (database.url / PORTCULLIS__DATABASE__URL)";
        db::migrate(&kind).await.context(hint)?;
        let deadline = settings.db_deadline();
        let pool = Db::open(&kind, settings.database.max_connections, deadline).context(hint)?;
        let repo = RepoHandle::start(Repo::new(pool));
        let store = if settings.uses_redis() {
            let r = &settings.redis;
            let redis = RedisStore::connect(
                &r.url,
                &r.cluster_urls,
                &r.key_prefix,
                r.pool_size,
                settings.redis_deadline(),
            )
            .await
            .context(
                "cannot reach Redis (redis.url or redis.cluster_urls / PORTCULLIS__REDIS__URL)",
            )?;
            Store::redis(redis, metrics.clone(), settings.redis_deadline())
        } else {
            // Sessions and the invalidation log live in the database, on a small pool of their own.
            let pool = Db::open(&kind, 4, deadline).context(hint)?;
            Store::embedded(EmbeddedStore::new(pool), metrics.clone(), deadline)
        };
        Ok(Self { kind, repo, store })
    }
}

/// What the CLI administers with: the same parts as the server, composed the same way; what
/// they change reaches running servers through the invalidation log.
pub struct Tools {
    pub admin: Admin,
    pub roles: Roles,
    pub clients: ApiClients,
    pub oidc_clients: OidcClients,
    repo: RepoHandle,
    clock: SharedClock,
    /// The apps' sessions the command ended: their back-channel logout notices are queued
    /// by `queue_logout_notices` (a running server sends them).
    ended: Ended,
}

/// Each user's ended sessions, as `Sessions::on_end` hands them over.
type Ended = Arc<Mutex<Vec<(i64, Vec<SessionRecord>)>>>;

impl Tools {
    /// Queues the back-channel logout notices of every app session this command ended; call
    /// it before the command returns.
    pub async fn queue_logout_notices(&self) -> anyhow::Result<()> {
        let ended = std::mem::take(&mut *self.ended.lock().unwrap_or_else(|p| p.into_inner()));
        for (uid, sessions) in ended {
            backchannel::queue(&self.repo, &self.oidc_clients, &self.clock, uid, sessions).await?;
        }
        Ok(())
    }
}

pub async fn tools(settings: &Settings, clock: SharedClock) -> anyhow::Result<Tools> {
    let metrics = Metrics::default();
    let backends = Backends::connect(settings, &metrics).await?;
    let hasher = PasswordHasher::new(
        settings.password.max_parallel_hashes,
        settings.password.max_queued_hashes,
        metrics,
    )
    .await?;
    let invalidator = Invalidator::log_only(backends.store.clone(), clock.clone());
    let jwt = Arc::new(JwtKeys::new(&settings.jwt, &resolve_keys(settings)?, 1)?);
    let sessions = Sessions::new(
        backends.store,
        invalidator.clone(),
        jwt,
        backends.repo.clone(),
        settings.session.clone(),
        clock.clone(),
    );
    let ended: Ended = Arc::default();
    let noted = ended.clone();
    sessions.on_end(Box::new(move |uid, s| {
        noted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((uid, s))
    }));
    Ok(Tools {
        repo: backends.repo.clone(),
        clock: clock.clone(),
        ended,
        roles: Roles::new(backends.repo.clone(), invalidator.clone(), clock.clone()),
        clients: ApiClients::new(
            backends.repo.clone(),
            clock.clone(),
            invalidator.clone(),
            None,
            &settings.api_clients,
        ),
        oidc_clients: OidcClients::new(backends.repo.clone(), clock.clone(), &settings.api_clients),
        admin: Admin::new(
            backends.repo,
            hasher,
            sessions,
            invalidator,
            clock,
            password_policy(settings),
        ),
    })
}

/// The password policy the settings give.
pub fn password_policy(settings: &Settings) -> PasswordPolicy {
    PasswordPolicy {
        min: settings.password.min_length,
        max: settings.password.max_length,
        min_score: settings.password.min_score.min(4),
    }
}
