//! The embedded store: sessions and the invalidation log in the database, so a restart loses no
//! session and the CLI (another process) reaches a running server; single-use values and
//! counters in process memory.

mod memory;

use std::sync::{Arc, Mutex};

use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use tokio::sync::Notify;

use self::memory::Memory;
use super::{Batch, Commit, SessionChange, StoreError, UserSessions, FEED_BLOCK};
use crate::db::schema::{invalidations, session_versions, sessions};
use crate::db::{Db, DbError};
use crate::domain::{EventId, Invalidation, SessionRecord};
use crate::with_conn;

/// How long the invalidation log keeps entries (seconds). A reader further behind than this
/// sees a gap and empties its cache.
const LOG_RETENTION: i64 = 24 * 3600;

#[derive(Clone)]
pub struct EmbeddedStore {
    db: Db,
    memory: Arc<Mutex<Memory>>,
    /// Wakes this process's log reader at once after a local append.
    appended: Arc<Notify>,
}

impl From<DbError> for StoreError {
    fn from(e: DbError) -> Self {
        Self::Unavailable(e.to_string())
    }
}

fn corrupt(e: serde_json::Error) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

impl EmbeddedStore {
    /// `db` is a pool of its own (the repository actor owns the other).
    pub fn new(db: Db) -> Self {
        Self {
            db,
            memory: Arc::default(),
            appended: Arc::default(),
        }
    }

    fn memory(&self) -> Result<std::sync::MutexGuard<'_, Memory>, StoreError> {
        self.memory
            .lock()
            .map_err(|_| StoreError::Unavailable("memory store lock poisoned".into()))
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        Ok(self.db.ping().await?)
    }

    pub async fn probe_write(&self) -> Result<(), StoreError> {
        with_conn!(&self.db, |conn| {
            diesel::delete(session_versions::table.filter(session_versions::user_id.eq(0)))
                .execute(conn)
                .await
                .map_err(DbError::from)?;
            Ok(())
        })
    }

    pub async fn sessions_of(&self, uid: i64) -> Result<UserSessions, StoreError> {
        // The version first: a change that lands between the two reads fails its
        // compare-and-swap, so what is decided from these sessions is never applied to others.
        let (version, rows): (Option<i64>, Vec<String>) = with_conn!(&self.db, |conn| {
            let version = session_versions::table
                .find(uid)
                .select(session_versions::version)
                .first(conn)
                .await
                .optional()
                .map_err(DbError::from)?;
            let rows = sessions::table
                .filter(sessions::user_id.eq(uid))
                .select(sessions::record)
                .load(conn)
                .await
                .map_err(DbError::from)?;
            Ok::<_, StoreError>((version, rows))
        })?;
        let mut sessions = rows
            .iter()
            .map(|r| serde_json::from_str::<SessionRecord>(r))
            .collect::<Result<Vec<_>, _>>()
            .map_err(corrupt)?;
        sessions.sort_by(SessionRecord::order);
        Ok(UserSessions {
            version: version.unwrap_or(0),
            sessions,
        })
    }

    pub async fn session(&self, uid: i64, sid: &str) -> Result<Option<SessionRecord>, StoreError> {
        let row: Option<String> = with_conn!(&self.db, |conn| {
            sessions::table
                .find(sid)
                .filter(sessions::user_id.eq(uid))
                .select(sessions::record)
                .first(conn)
                .await
                .optional()
                .map_err(DbError::from)
        })?;
        row.map(|r| serde_json::from_str(&r).map_err(corrupt))
            .transpose()
    }

    pub async fn commit_sessions(
        &self,
        uid: i64,
        commit: &Commit,
        _now: i64,
    ) -> Result<bool, StoreError> {
        let expected = commit.expected;
        let mut rows = Vec::with_capacity(commit.changes.len());
        for c in &commit.changes {
            rows.push(match c {
                SessionChange::Put(r) => (
                    r.sid.clone(),
                    Some((r.live_until(), serde_json::to_string(r).map_err(corrupt)?)),
                ),
                SessionChange::Delete(sid) => (sid.clone(), None),
            });
        }
        let applied = with_conn!(&self.db, |conn| {
            conn.transaction::<bool, DbError, _>(async |conn| {
                // Claiming the version is the first write, so the transaction holds the write
                // lock from here on and a concurrent change waits or fails its own claim.
                let claimed = if expected == 0 {
                    diesel::insert_into(session_versions::table)
                        .values((
                            session_versions::user_id.eq(uid),
                            session_versions::version.eq(1),
                        ))
                        .on_conflict_do_nothing()
                        .execute(conn)
                        .await?
                } else {
                    diesel::update(
                        session_versions::table
                            .find(uid)
                            .filter(session_versions::version.eq(expected)),
                    )
                    .set(session_versions::version.eq(expected + 1))
                    .execute(conn)
                    .await?
                };
                if claimed != 1 {
                    return Ok(false);
                }
                for (sid, row) in &rows {
                    match row {
                        Some((live_until, record)) => {
                            diesel::insert_into(sessions::table)
                                .values((
                                    sessions::sid.eq(sid),
                                    sessions::user_id.eq(uid),
                                    sessions::live_until.eq(live_until),
                                    sessions::record.eq(record),
                                ))
                                .on_conflict(sessions::sid)
                                .do_update()
                                .set((
                                    sessions::live_until.eq(live_until),
                                    sessions::record.eq(record),
                                ))
                                .execute(conn)
                                .await?;
                        }
                        None => {
                            diesel::delete(
                                sessions::table.find(sid).filter(sessions::user_id.eq(uid)),
                            )
                            .execute(conn)
                            .await?;
                        }
                    }
                }
                Ok(true)
            })
            .await
        })?;
        Ok(applied)
    }

    pub async fn online_users(
        &self,
        now: i64,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<i64>, usize), StoreError> {
        with_conn!(&self.db, |conn| {
            let live = sessions::table
                .filter(sessions::live_until.gt(now))
                .select(sessions::user_id)
                .distinct();
            let total: i64 = sessions::table
                .filter(sessions::live_until.gt(now))
                .select(diesel::dsl::count(sessions::user_id).aggregate_distinct())
                .first(conn)
                .await
                .map_err(DbError::from)?;
            let page: Vec<i64> = live
                .order(sessions::user_id)
                .offset(i64::try_from(offset).unwrap_or(i64::MAX))
                .limit(limit as i64)
                .load(conn)
                .await
                .map_err(DbError::from)?;
            Ok((page, total as usize))
        })
    }

    pub async fn put_once(
        &self,
        ns: &str,
        id: &str,
        value: &str,
        ttl: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        self.memory()?
            .put_once(format!("{ns}:{id}"), value, ttl, now);
        Ok(())
    }

    pub async fn take_once(
        &self,
        ns: &str,
        id: &str,
        now: i64,
    ) -> Result<Option<String>, StoreError> {
        Ok(self.memory()?.take_once(&format!("{ns}:{id}"), now))
    }

    pub async fn incr(&self, key: &str, ttl: i64, now: i64) -> Result<i64, StoreError> {
        Ok(self.memory()?.incr(key, ttl, now))
    }

    pub async fn get_number(&self, key: &str, now: i64) -> Result<Option<i64>, StoreError> {
        Ok(self.memory()?.number(key, now))
    }

    pub async fn set_number(
        &self,
        key: &str,
        value: i64,
        ttl: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        self.memory()?.set_number(key, value, ttl, now);
        Ok(())
    }

    pub async fn remove_numbers(&self, keys: &[String]) -> Result<(), StoreError> {
        let mut memory = self.memory()?;
        for k in keys {
            memory.remove_number(k);
        }
        Ok(())
    }

    pub async fn append(&self, inv: &Invalidation, now: i64) -> Result<EventId, StoreError> {
        let payload = inv.encode();
        let id: i64 = with_conn!(&self.db, |conn| {
            diesel::insert_into(invalidations::table)
                .values((
                    invalidations::payload.eq(&payload),
                    invalidations::created_at.eq(now),
                ))
                .returning(invalidations::id)
                .get_result(conn)
                .await
                .map_err(DbError::from)
        })?;
        self.appended.notify_waiters();
        Ok(EventId(id as u64, 0))
    }

    pub fn feed(&self) -> Feed {
        Feed {
            db: self.db.clone(),
            appended: self.appended.clone(),
            pruned_at: 0,
        }
    }
}

/// Follows the `invalidations` table: woken at once by this process's appends, polling for
/// other processes' every 100 ms.
pub struct Feed {
    db: Db,
    appended: Arc<Notify>,
    pruned_at: i64,
}

const POLL: std::time::Duration = std::time::Duration::from_millis(100);

/// Runs a SQLite call on a task of its own, so that it finishes even when its caller stops
/// waiting: the log's reader gives up on a silent log after a deadline, and diesel-async
/// panics when a SQLite call is dropped half-way on a single-threaded runtime (a long write by
/// another process, `portcullis import` say, holds the file's lock for up to `busy_timeout`).
async fn to_completion<T: Send + 'static>(
    call: impl std::future::Future<Output = T> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::spawn(call)
        .await
        .map_err(|e| StoreError::Unavailable(format!("the log's reader stopped: {e}")))
}

impl Feed {
    pub async fn head(&mut self) -> Result<EventId, StoreError> {
        let db = self.db.clone();
        let max: Option<i64> = to_completion(async move {
            with_conn!(&db, |conn| {
                invalidations::table
                    .select(diesel::dsl::max(invalidations::id))
                    .first(conn)
                    .await
                    .map_err(DbError::from)
            })
        })
        .await??;
        Ok(EventId(max.unwrap_or(0) as u64, 0))
    }

    pub async fn next(&mut self, after: EventId) -> Result<Batch, StoreError> {
        let deadline = tokio::time::Instant::now() + FEED_BLOCK;
        loop {
            let appended = self.appended.clone();
            let notified = appended.notified();
            let batch = self.read(after).await?;
            if !batch.events.is_empty() || batch.gap || tokio::time::Instant::now() >= deadline {
                return Ok(batch);
            }
            let _ = tokio::time::timeout(POLL, notified).await;
        }
    }

    async fn read(&mut self, after: EventId) -> Result<Batch, StoreError> {
        let after = after.0 as i64;
        let db = self.db.clone();
        let (oldest, rows): (Option<i64>, Vec<(i64, String)>) = to_completion(async move {
            with_conn!(&db, |conn| {
                let oldest = invalidations::table
                    .select(diesel::dsl::min(invalidations::id))
                    .first(conn)
                    .await
                    .map_err(DbError::from)?;
                let rows = invalidations::table
                    .filter(invalidations::id.gt(after))
                    .order(invalidations::id)
                    .limit(1000)
                    .select((invalidations::id, invalidations::payload))
                    .load(conn)
                    .await
                    .map_err(DbError::from)?;
                Ok::<_, StoreError>((oldest, rows))
            })
        })
        .await??;
        let events = rows
            .into_iter()
            .filter_map(|(id, payload)| match Invalidation::decode(&payload) {
                Some(inv) => Some((EventId(id as u64, 0), inv)),
                None => {
                    tracing::warn!(id, payload, "ignored a malformed invalidation");
                    None
                }
            })
            .collect();
        Ok(Batch {
            events,
            gap: oldest.is_some_and(|o| o > after + 1),
        })
    }

    /// Drops entries older than the retention; called by the reader now and then.
    pub async fn prune(&mut self, now: i64) -> Result<(), StoreError> {
        if now - self.pruned_at < 3600 {
            return Ok(());
        }
        self.pruned_at = now;
        with_conn!(&self.db, |conn| {
            diesel::delete(
                invalidations::table.filter(invalidations::created_at.lt(now - LOG_RETENTION)),
            )
            .execute(conn)
            .await
            .map_err(DbError::from)?;
            diesel::delete(sessions::table.filter(sessions::live_until.le(now)))
                .execute(conn)
                .await
                .map_err(DbError::from)?;
            Ok(())
        })
    }
}
