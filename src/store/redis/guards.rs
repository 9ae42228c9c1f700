//! Single-use values (captcha answers, OAuth2 states, one-time login codes) and the login-attempt
//! counters of the lockout.

use redis::{AsyncCommands, Script};

use super::RedisStore;
use crate::store::{Attempt, AttemptKeys, StoreError};

fn unexpired(raw: &str, now: i64) -> Option<String> {
    let (expires, answer) = raw.split_once(':')?;
    (expires.parse::<i64>().ok()? > now).then(|| answer.to_owned())
}

/// KEYS: pair fail, account fail, pair lock, account lock, pair lock count, account lock count.
/// ARGV: now, pair threshold, account threshold, base seconds, max seconds.
/// Returns {'ok'} or {'locked', until}.
const ATTEMPT: &str = r#"
local now = tonumber(ARGV[1])
for _, k in ipairs({KEYS[3], KEYS[4]}) do
  local u = tonumber(redis.call('GET', k) or '0')
  if u > now then return {'locked', u} end
end
local base, max = tonumber(ARGV[4]), tonumber(ARGV[5])
local counts = {redis.call('INCR', KEYS[1]), redis.call('INCR', KEYS[2])}
redis.call('EXPIRE', KEYS[1], max)
redis.call('EXPIRE', KEYS[2], max)
local limits = {tonumber(ARGV[2]), tonumber(ARGV[3])}
local locked = 0
for i = 1, 2 do
  if counts[i] > limits[i] then
    local n = redis.call('INCR', KEYS[4 + i])
    redis.call('EXPIRE', KEYS[4 + i], 2 * max)
    local secs = math.min(base * 2 ^ math.min(n - 1, 32), max)
    local u = now + secs
    redis.call('SET', KEYS[2 + i], string.format('%d', u), 'EX', string.format('%d', secs))
    redis.call('DEL', KEYS[i])
    if u > locked then locked = u end
  end
end
if locked > 0 then return {'locked', string.format('%d', locked)} end
return {'ok'}
"#;

impl RedisStore {
    fn once_key(&self, ns: &str, id: &str) -> String {
        format!("{}:{ns}:{id}", self.prefix)
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
        Ok(raw.and_then(|r| unexpired(&r, now)))
    }

    pub async fn peek_once(
        &self,
        ns: &str,
        id: &str,
        now: i64,
    ) -> Result<Option<String>, StoreError> {
        let mut conn = self.pool.get().await?;
        let raw: Option<String> = conn.get(self.once_key(ns, id)).await?;
        Ok(raw.and_then(|r| unexpired(&r, now)))
    }

    fn attempt_keys(&self, keys: &AttemptKeys) -> [String; 6] {
        let p = &self.prefix;
        [
            format!("{p}:login_fail:{}", keys.pair),
            format!("{p}:login_fail:{}", keys.account),
            format!("{p}:login_lock:{}", keys.pair),
            format!("{p}:login_lock:{}", keys.account),
            format!("{p}:login_locks:{}", keys.pair),
            format!("{p}:login_locks:{}", keys.account),
        ]
    }

    pub async fn login_attempt(
        &self,
        keys: &AttemptKeys,
        now: i64,
        l: &crate::config::LockoutSettings,
    ) -> Result<Attempt, StoreError> {
        let mut conn = self.pool.get().await?;
        let attempt = Script::new(ATTEMPT);
        let mut script = attempt.prepare_invoke();
        for k in self.attempt_keys(keys) {
            script.key(k);
        }
        let reply: Vec<String> = script
            .arg(now)
            .arg(l.threshold)
            .arg(l.account_threshold)
            .arg(l.base_seconds)
            .arg(l.max_seconds)
            .invoke_async(&mut conn)
            .await?;
        match reply.as_slice() {
            [ok] if ok == "ok" => Ok(Attempt::Allowed),
            [tag, until] if tag == "locked" => Ok(Attempt::Locked {
                until: until
                    .parse()
                    .map_err(|_| StoreError::Corrupt(until.clone()))?,
            }),
            other => Err(StoreError::Corrupt(format!("attempt replied {other:?}"))),
        }
    }

    pub async fn login_succeeded(&self, keys: &AttemptKeys) -> Result<(), StoreError> {
        let [pair_fail, account_fail, _, _, pair_locks, account_locks] = self.attempt_keys(keys);
        let mut conn = self.pool.get().await?;
        let _: i64 = conn
            .del(&[pair_fail, account_fail, pair_locks, account_locks])
            .await?;
        Ok(())
    }
}
