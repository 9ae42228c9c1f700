//! Redis store for production mode. Multi-key steps are single Lua scripts, so two nodes racing
//! on one session (parallel refreshes, a login evicting a session being refreshed) stay correct.

use deadpool_redis::{Config as PoolConfig, Pool, Runtime};
use redis::{AsyncCommands, Script};

mod guards;

use super::{Invalidation, RotateOutcome, Rotation, SessionPolicy, SessionRecord, StoreError};

#[derive(Clone)]
pub struct RedisStore {
    pool: Pool,
    url: String,
    prefix: String,
}

impl From<deadpool_redis::PoolError> for StoreError {
    fn from(e: deadpool_redis::PoolError) -> Self {
        super::count_error();
        Self::Unavailable(e.to_string())
    }
}

impl From<redis::RedisError> for StoreError {
    fn from(e: redis::RedisError) -> Self {
        super::count_error();
        Self::Unavailable(e.to_string())
    }
}

fn corrupt(e: serde_json::Error) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// KEYS: session, user index. ARGV: sid, record json, ttl, score, single(0/1), max, session key
/// prefix, index ttl. Returns the ended session ids. With no policy to apply (multi-login, no
/// cap) the index is not walked: a login stays O(1) however many sessions the user has.
const CREATE: &str = r#"
local members = {}
if ARGV[5] == '1' or tonumber(ARGV[6]) > 0 then
  members = redis.call('ZRANGE', KEYS[2], 0, -1)
end
local live, ended = {}, {}
for _, m in ipairs(members) do
  local k = ARGV[7] .. m
  if redis.call('EXISTS', k) == 1 then
    if ARGV[5] == '1' then
      redis.call('DEL', k); redis.call('ZREM', KEYS[2], m); table.insert(ended, m)
    else
      table.insert(live, m)
    end
  else
    redis.call('ZREM', KEYS[2], m)
  end
end
local max = tonumber(ARGV[6])
if max > 0 then
  for i = 1, #live + 1 - max do
    redis.call('DEL', ARGV[7] .. live[i]); redis.call('ZREM', KEYS[2], live[i]); table.insert(ended, live[i])
  end
end
-- Scores keep insertion order even within one second, so "oldest" is exact.
local score = tonumber(ARGV[4])
local top = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
if top[2] and tonumber(top[2]) >= score then score = tonumber(top[2]) + 1 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
redis.call('ZADD', KEYS[2], score, ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[8])
return ended
"#;

/// KEYS: session, user index prefix. ARGV: presented, new, now, grace, refresh ttl, answer.
const ROTATE: &str = r#"
local raw = redis.call('GET', KEYS[1])
if not raw then return {'missing'} end
local s = cjson.decode(raw)
local now = tonumber(ARGV[3])
if now >= math.min(s.refresh_expires_at, s.expires_at) then return {'missing'} end
if s.refresh_hash == ARGV[1] then
  local used = type(s.used) == 'string' and s.used or ''
  used = used == '' and s.refresh_hash or (used .. ' ' .. s.refresh_hash)
  -- keep the newest 32 digests (64 hex characters and a space each)
  local limit = 32 * 65 - 1
  if #used > limit then used = string.sub(used, #used - limit + 1) end
  s.used = used
  s.prev_hash = s.refresh_hash
  s.prev_at = now
  s.refresh_hash = ARGV[2]
  s.grace = ARGV[6]
  s.last_refresh_at = now
  s.refresh_expires_at = math.min(now + tonumber(ARGV[5]), s.expires_at)
  redis.call('SET', KEYS[1], cjson.encode(s), 'EX', math.max(1, s.refresh_expires_at - now))
  return {'rotated'}
end
if s.prev_hash == ARGV[1] and type(s.prev_at) == 'number' and now - s.prev_at <= tonumber(ARGV[4])
   and type(s.grace) == 'string' then
  return {'replay', s.grace}
end
local spent = type(s.used) == 'string' and s.used or ''
if not string.find(' ' .. spent .. ' ', ' ' .. ARGV[1] .. ' ', 1, true) then
  return {'missing'}
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2] .. string.format('%d', s.uid), s.sid)
return {'reused', string.format('%d', s.uid)}
"#;

/// KEYS: user index. ARGV: session key prefix, except (or ''). Returns the ended ids.
const END_ALL: &str = r#"
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
local ended = {}
for _, m in ipairs(members) do
  if m ~= ARGV[2] then
    if redis.call('DEL', ARGV[1] .. m) == 1 then table.insert(ended, m) end
    redis.call('ZREM', KEYS[1], m)
  end
end
return ended
"#;

impl RedisStore {
    pub async fn connect(url: &str, prefix: &str, pool_size: usize) -> Result<Self, StoreError> {
        let mut cfg = PoolConfig::from_url(url);
        cfg.pool = Some(deadpool_redis::PoolConfig::new(pool_size));
        let pool = cfg
            .create_pool(Some(Runtime::Tokio1))
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let store = Self {
            pool,
            url: url.to_owned(),
            prefix: prefix.to_owned(),
        };
        store.ping().await?;
        Ok(store)
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn channel(&self) -> String {
        format!("{}:invalidate", self.prefix)
    }

    fn session_prefix(&self) -> String {
        format!("{}:session:", self.prefix)
    }

    fn session_key(&self, sid: &str) -> String {
        format!("{}:session:{sid}", self.prefix)
    }

    fn index_prefix(&self) -> String {
        format!("{}:user_sessions:", self.prefix)
    }

    fn index_key(&self, uid: i64) -> String {
        format!("{}:user_sessions:{uid}", self.prefix)
    }

    fn user_key(&self, uid: i64) -> String {
        format!("{}:user:{uid}", self.prefix)
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.pool.get().await?;
        let _: String = redis::cmd("PING").query_async(&mut conn).await?;
        Ok(())
    }

    pub async fn create_session(
        &self,
        record: &SessionRecord,
        policy: SessionPolicy,
        now: i64,
    ) -> Result<Vec<String>, StoreError> {
        let json = serde_json::to_string(record).map_err(corrupt)?;
        let ttl = (record.refresh_expires_at.min(record.expires_at) - now).max(1);
        let index_ttl = (record.expires_at - now).max(1);
        let mut conn = self.pool.get().await?;
        Ok(Script::new(CREATE)
            .key(self.session_key(&record.sid))
            .key(self.index_key(record.uid))
            .arg(&record.sid)
            .arg(json)
            .arg(ttl)
            .arg(record.created_at)
            .arg(if policy.single { "1" } else { "0" })
            .arg(policy.max_per_user)
            .arg(self.session_prefix())
            .arg(index_ttl)
            .invoke_async(&mut conn)
            .await?)
    }

    pub async fn session(&self, sid: &str, now: i64) -> Result<Option<SessionRecord>, StoreError> {
        let mut conn = self.pool.get().await?;
        let raw: Option<String> = conn.get(self.session_key(sid)).await?;
        let Some(raw) = raw else { return Ok(None) };
        let record: SessionRecord = serde_json::from_str(&raw).map_err(corrupt)?;
        Ok((now < record.refresh_expires_at.min(record.expires_at)).then_some(record))
    }

    pub async fn rotate(&self, r: Rotation<'_>) -> Result<RotateOutcome, StoreError> {
        let mut conn = self.pool.get().await?;
        let reply: Vec<String> = Script::new(ROTATE)
            .key(self.session_key(r.sid))
            .key(self.index_prefix())
            .arg(r.presented_hash)
            .arg(r.new_hash)
            .arg(r.now)
            .arg(r.grace_seconds)
            .arg(r.refresh_ttl)
            .arg(r.answer)
            .invoke_async(&mut conn)
            .await?;
        match reply.as_slice() {
            [tag] if tag == "rotated" => Ok(RotateOutcome::Rotated),
            [tag] if tag == "missing" => Ok(RotateOutcome::Missing),
            [tag, answer] if tag == "replay" => Ok(RotateOutcome::Replay(answer.clone())),
            [tag, uid] if tag == "reused" => Ok(RotateOutcome::Reused {
                uid: uid.parse().map_err(|_| StoreError::Corrupt(uid.clone()))?,
            }),
            other => Err(StoreError::Corrupt(format!("rotate replied {other:?}"))),
        }
    }

    pub async fn delete_session(&self, uid: i64, sid: &str) -> Result<bool, StoreError> {
        let mut conn = self.pool.get().await?;
        let (deleted, _): (i64, i64) = redis::pipe()
            .atomic()
            .del(self.session_key(sid))
            .zrem(self.index_key(uid), sid)
            .query_async(&mut conn)
            .await?;
        Ok(deleted > 0)
    }

    pub async fn delete_user_sessions(
        &self,
        uid: i64,
        except: Option<&str>,
    ) -> Result<Vec<String>, StoreError> {
        let mut conn = self.pool.get().await?;
        Ok(Script::new(END_ALL)
            .key(self.index_key(uid))
            .arg(self.session_prefix())
            .arg(except.unwrap_or(""))
            .invoke_async(&mut conn)
            .await?)
    }

    pub async fn user_sessions(
        &self,
        uid: i64,
        now: i64,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        let mut conn = self.pool.get().await?;
        let ids: Vec<String> = conn.zrange(self.index_key(uid), 0, -1).await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = ids.iter().map(|sid| self.session_key(sid)).collect();
        let raws: Vec<Option<String>> =
            redis::cmd("MGET").arg(&keys).query_async(&mut conn).await?;
        let mut live = Vec::new();
        let mut dead = Vec::new();
        for (sid, raw) in ids.iter().zip(raws) {
            let record = raw
                .map(|r| serde_json::from_str::<SessionRecord>(&r))
                .transpose()
                .map_err(corrupt)?
                .filter(|s| now < s.refresh_expires_at.min(s.expires_at));
            match record {
                Some(s) => live.push(s),
                None => dead.push(sid.clone()),
            }
        }
        if !dead.is_empty() {
            let _: i64 = conn.zrem(self.index_key(uid), dead).await?;
        }
        Ok(live)
    }

    pub async fn cached_user(&self, uid: i64) -> Result<Option<String>, StoreError> {
        let mut conn = self.pool.get().await?;
        Ok(conn.get(self.user_key(uid)).await?)
    }

    pub async fn put_cached_user(
        &self,
        uid: i64,
        json: &str,
        ttl: i64,
        _now: i64,
    ) -> Result<(), StoreError> {
        let mut conn = self.pool.get().await?;
        let _: () = conn
            .set_ex(self.user_key(uid), json, ttl.max(1) as u64)
            .await?;
        Ok(())
    }

    pub async fn drop_cached_user(&self, uid: i64) -> Result<(), StoreError> {
        let mut conn = self.pool.get().await?;
        let _: i64 = conn.del(self.user_key(uid)).await?;
        Ok(())
    }

    pub async fn publish(&self, inv: &Invalidation) -> Result<(), StoreError> {
        let mut conn = self.pool.get().await?;
        let _: i64 = conn.publish(self.channel(), inv.encode()).await?;
        Ok(())
    }
}
