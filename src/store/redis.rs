//! The Redis store (production). Keys, under the configured prefix `p`:
//!
//! | key | what |
//! |---|---|
//! | `p:{u:UID}:sessions` | hash: session id → record (JSON), and `v`, the version |
//! | `p:online` | sorted set: user id → end of their last live session |
//! | `p:captcha:ID`, `p:oauth2:state:ID`, `p:oauth2:code:ID` | single-use values |
//! | `p:n:…` | counters (lockout) |
//! | `p:invalidations` | the stream of invalidations every node reads |
//!
//! A user's keys share the hash tag `{u:UID}`, and every script touches only the one key it
//! declares, so the store runs on Redis Cluster as on one Redis. The only script with a rule in
//! it is none: `CAS` applies changes if a version is unchanged; the decisions are in `auth`.

mod conn;

use std::sync::LazyLock;
use std::time::Duration;

use redis::{AsyncCommands, Script};

use self::conn::{FeedConn, Pools};
use super::{Batch, Commit, SessionChange, StoreError, UserSessions, FEED_BLOCK};
use crate::domain::{EventId, Invalidation, SessionRecord};

/// Invalidations kept in the stream (approximately); a node further behind empties its cache.
const STREAM_LENGTH: usize = 100_000;

#[derive(Clone)]
pub struct RedisStore {
    pool: Pools,
    url: String,
    cluster: Vec<String>,
    prefix: String,
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

impl From<deadpool_redis::PoolError> for StoreError {
    fn from(e: deadpool_redis::PoolError) -> Self {
        unavailable(e)
    }
}

impl From<redis::RedisError> for StoreError {
    fn from(e: redis::RedisError) -> Self {
        if e.code() == Some("OOM") {
            Self::Full(e.to_string())
        } else {
            unavailable(e)
        }
    }
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// KEYS: the user's session hash. ARGV: expected version, seconds to keep the key (0: delete
/// it, no session is left), then pairs of session id and record JSON ('' deletes).
const CAS_BODY: &str = r#"
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if v ~= tonumber(ARGV[1]) then return 0 end
local keep = tonumber(ARGV[2])
if keep <= 0 then
  redis.call('DEL', KEYS[1])
  return 1
end
for i = 3, #ARGV, 2 do
  if ARGV[i + 1] == '' then
    redis.call('HDEL', KEYS[1], ARGV[i])
  else
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
redis.call('HSET', KEYS[1], 'v', v + 1)
redis.call('EXPIRE', KEYS[1], keep)
return 1
"#;

/// KEYS: the stream. ARGV: approximate length to keep, the encoded invalidation.
const APPEND: &str = r#"#!lua flags=allow-oom
return redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'i', ARGV[2])
"#;

/// KEYS: a counter. ARGV: its lifetime. (One script, not MULTI: cluster pipelines are not atomic.)
const INCR: &str = r#"
local n = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1])
return n
"#;

static CAS: LazyLock<Script> = LazyLock::new(|| Script::new(CAS_BODY));
static CAS_SHRINK: LazyLock<Script> =
    LazyLock::new(|| Script::new(&format!("#!lua flags=allow-oom\n{CAS_BODY}")));
static APPEND_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(APPEND));
static INCR_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(INCR));

impl RedisStore {
    /// One Redis at `url`, or a cluster through `cluster` (any of its nodes).
    pub async fn connect(
        url: &str,
        cluster: &[String],
        prefix: &str,
        pool_size: usize,
        deadline: Duration,
    ) -> Result<Self, StoreError> {
        let store = Self {
            pool: Pools::new(url, cluster, pool_size, deadline)?,
            url: url.to_owned(),
            cluster: cluster.to_vec(),
            prefix: prefix.to_owned(),
        };
        store.ping().await?;
        Ok(store)
    }

    fn sessions_key(&self, uid: i64) -> String {
        format!("{}:{{u:{uid}}}:sessions", self.prefix)
    }

    fn online_key(&self) -> String {
        format!("{}:online", self.prefix)
    }

    fn stream_key(&self) -> String {
        format!("{}:invalidations", self.prefix)
    }

    fn once_key(&self, ns: &str, id: &str) -> String {
        format!("{}:{ns}:{id}", self.prefix)
    }

    fn number_key(&self, key: &str) -> String {
        format!("{}:n:{key}", self.prefix)
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.pool.get().await?;
        let _: String = redis::cmd("PING").query_async(&mut conn).await?;
        Ok(())
    }

    pub async fn probe_write(&self) -> Result<(), StoreError> {
        let mut conn = self.pool.get().await?;
        let key = format!("{}:probe:{}", self.prefix, uuid::Uuid::new_v4().simple());
        let _: () = conn.set_ex(&key, "1", 5).await?;
        let _: i64 = conn.del(&key).await?;
        Ok(())
    }

    pub async fn sessions_of(&self, uid: i64) -> Result<UserSessions, StoreError> {
        let mut conn = self.pool.get().await?;
        let all: std::collections::HashMap<String, String> =
            conn.hgetall(self.sessions_key(uid)).await?;
        let mut version = 0;
        let mut sessions = Vec::with_capacity(all.len());
        for (field, value) in all {
            if field == "v" {
                version = value.parse().map_err(corrupt)?;
            } else {
                sessions.push(serde_json::from_str::<SessionRecord>(&value).map_err(corrupt)?);
            }
        }
        sessions.sort_by(SessionRecord::order);
        Ok(UserSessions { version, sessions })
    }

    pub async fn session(&self, uid: i64, sid: &str) -> Result<Option<SessionRecord>, StoreError> {
        if sid == "v" {
            return Ok(None);
        }
        let mut conn = self.pool.get().await?;
        let raw: Option<String> = conn.hget(self.sessions_key(uid), sid).await?;
        raw.map(|r| serde_json::from_str(&r).map_err(corrupt))
            .transpose()
    }

    pub async fn commit_sessions(
        &self,
        uid: i64,
        commit: &Commit,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut conn = self.pool.get().await?;
        let keep = commit.keep_until.map_or(0, |until| (until - now).max(1));
        // Removing sessions must work when Redis is full (it frees memory); adding may not.
        let script: &Script = if commit.grows() { &CAS } else { &CAS_SHRINK };
        let mut call = script.prepare_invoke();
        call.key(self.sessions_key(uid))
            .arg(commit.expected)
            .arg(keep);
        for c in &commit.changes {
            match c {
                SessionChange::Put(r) => {
                    call.arg(&r.sid)
                        .arg(serde_json::to_string(r).map_err(corrupt)?);
                }
                SessionChange::Delete(sid) => {
                    call.arg(sid).arg("");
                }
            }
        }
        let applied: i64 = call.invoke_async(&mut conn).await?;
        if applied == 1 {
            // The online index is a hint for listing, pruned when read.
            let online = self.online_key();
            match commit.keep_until {
                None => {
                    let _: i64 = conn.zrem(online, uid).await?;
                }
                Some(until) if commit.grows() => {
                    let _: i64 = conn.zadd(online, uid, until).await?;
                }
                Some(_) => {}
            }
        }
        Ok(applied == 1)
    }

    pub async fn online_users(
        &self,
        now: i64,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<i64>, usize), StoreError> {
        let mut conn = self.pool.get().await?;
        let online = self.online_key();
        let _: i64 = conn.zrembyscore(&online, "-inf", now).await?;
        let total: usize = conn.zcard(&online).await?;
        let start = isize::try_from(offset).unwrap_or(isize::MAX);
        let ids: Vec<i64> = conn
            .zrange(&online, start, start.saturating_add(limit as isize) - 1)
            .await?;
        Ok((ids, total))
    }

    /// Stored as `{expires_at}:{value}`: Redis expires the key, and the caller's clock decides
    /// too, so both stores agree on what "expired" means.
    pub async fn put_once(
        &self,
        ns: &str,
        id: &str,
        value: &str,
        ttl: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut conn = self.pool.get().await?;
        let stamped = format!("{}:{value}", now + ttl);
        let _: () = conn
            .set_ex(self.once_key(ns, id), stamped, ttl.max(1) as u64)
            .await?;
        Ok(())
    }

    pub async fn take_once(
        &self,
        ns: &str,
        id: &str,
        now: i64,
    ) -> Result<Option<String>, StoreError> {
        let mut conn = self.pool.get().await?;
        let raw: Option<String> = redis::cmd("GETDEL")
            .arg(self.once_key(ns, id))
            .query_async(&mut conn)
            .await?;
        Ok(raw.and_then(|r| {
            let (expires, value) = r.split_once(':')?;
            (expires.parse::<i64>().ok()? > now).then(|| value.to_owned())
        }))
    }

    pub async fn incr(&self, key: &str, ttl: i64, _now: i64) -> Result<i64, StoreError> {
        let mut conn = self.pool.get().await?;
        Ok(INCR_SCRIPT
            .key(self.number_key(key))
            .arg(ttl.max(1))
            .invoke_async(&mut conn)
            .await?)
    }

    pub async fn get_number(&self, key: &str, _now: i64) -> Result<Option<i64>, StoreError> {
        let mut conn = self.pool.get().await?;
        Ok(conn.get(self.number_key(key)).await?)
    }

    pub async fn set_number(
        &self,
        key: &str,
        value: i64,
        ttl: i64,
        _now: i64,
    ) -> Result<(), StoreError> {
        let mut conn = self.pool.get().await?;
        let _: () = conn
            .set_ex(self.number_key(key), value, ttl.max(1) as u64)
            .await?;
        Ok(())
    }

    pub async fn remove_numbers(&self, keys: &[String]) -> Result<(), StoreError> {
        let mut conn = self.pool.get().await?;
        // One key per command: the keys may live in different cluster slots.
        for k in keys {
            let _: i64 = conn.del(self.number_key(k)).await?;
        }
        Ok(())
    }

    pub async fn append(&self, inv: &Invalidation, _now: i64) -> Result<EventId, StoreError> {
        let mut conn = self.pool.get().await?;
        let id: String = APPEND_SCRIPT
            .key(self.stream_key())
            .arg(STREAM_LENGTH)
            .arg(inv.encode())
            .invoke_async(&mut conn)
            .await?;
        id.parse().map_err(|_| corrupt(format!("stream id {id}")))
    }

    pub async fn feed(&self) -> Result<Feed, StoreError> {
        let mut conn = FeedConn::open(&self.url, &self.cluster, FEED_BLOCK).await?;
        if !conn.is_cluster() {
            // Named, so an operator sees which connection follows the log (`CLIENT LIST`).
            let _: () = redis::cmd("CLIENT")
                .arg("SETNAME")
                .arg(format!("{}:feed", self.prefix))
                .query_async(&mut conn)
                .await?;
        }
        Ok(Feed {
            conn,
            key: self.stream_key(),
            checked: false,
        })
    }
}

/// Reads the stream on a connection of its own with a blocking `XREAD`: an answer, or the
/// timeout's empty one, arrives at least every `FEED_BLOCK`.
pub struct Feed {
    conn: FeedConn,
    key: String,
    /// Whether this connection has checked for entries trimmed while it was away.
    checked: bool,
}

impl Feed {
    /// `XINFO STREAM` as field → value; empty when the stream does not exist yet.
    async fn info(
        &mut self,
    ) -> Result<std::collections::HashMap<String, redis::Value>, StoreError> {
        let reply: Result<Vec<redis::Value>, redis::RedisError> = redis::cmd("XINFO")
            .arg("STREAM")
            .arg(&self.key)
            .query_async(&mut self.conn)
            .await;
        let values = match reply {
            Ok(v) => v,
            Err(e) if e.to_string().contains("no such key") => return Ok(Default::default()),
            Err(e) => return Err(e.into()),
        };
        let mut map = std::collections::HashMap::new();
        let mut it = values.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            if let Ok(k) = redis::from_redis_value::<String>(k) {
                map.insert(k, v);
            }
        }
        Ok(map)
    }

    fn id_field(
        info: &std::collections::HashMap<String, redis::Value>,
        field: &str,
    ) -> Option<EventId> {
        let v = info.get(field)?;
        redis::from_redis_value::<String>(v.clone())
            .ok()?
            .parse()
            .ok()
    }

    pub async fn head(&mut self) -> Result<EventId, StoreError> {
        let info = self.info().await?;
        Ok(Self::id_field(&info, "last-generated-id").unwrap_or_default())
    }

    pub async fn next(&mut self, after: EventId) -> Result<Batch, StoreError> {
        let mut gap = false;
        if !self.checked {
            let info = self.info().await?;
            gap = Self::id_field(&info, "max-deleted-entry-id").is_some_and(|d| d > after)
                || (info.is_empty() && after > EventId::default());
            self.checked = true;
        }
        let reply: Option<redis::streams::StreamReadReply> = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(1000)
            .arg("BLOCK")
            .arg(FEED_BLOCK.as_millis() as u64)
            .arg("STREAMS")
            .arg(&self.key)
            .arg(after.to_string())
            .query_async(&mut self.conn)
            .await?;
        let mut events = Vec::new();
        for key in reply.map(|r| r.keys).unwrap_or_default() {
            for entry in key.ids {
                let Ok(id) = entry.id.parse::<EventId>() else {
                    continue;
                };
                let payload: Option<String> = entry.get("i");
                match payload.as_deref().and_then(Invalidation::decode) {
                    Some(inv) => events.push((id, inv)),
                    None => tracing::warn!(%id, "ignored a malformed invalidation"),
                }
            }
        }
        Ok(Batch { events, gap })
    }
}
