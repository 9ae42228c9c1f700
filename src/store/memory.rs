//! In-process store for embedded mode. One mutex: every operation is short and the whole
//! store is one node's, so this gives the same atomicity the Redis scripts give.

use std::collections::HashMap;
use std::sync::Mutex;

mod guards;

use super::{RotateOutcome, Rotation, SessionPolicy, SessionRecord, StoreError};

#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    sessions: HashMap<String, SessionRecord>,
    /// uid -> session ids, oldest first.
    by_user: HashMap<i64, Vec<String>>,
    users: HashMap<i64, (String, i64)>,
    /// Single-use values (captcha answers, OAuth2 states and codes), with their expiry.
    values: HashMap<String, (String, i64)>,
    /// Counters and lock ends, with their expiry.
    numbers: HashMap<String, (i64, i64)>,
}

impl Inner {
    fn live(&self, sid: &str, now: i64) -> Option<&SessionRecord> {
        self.sessions
            .get(sid)
            .filter(|s| now < s.refresh_expires_at.min(s.expires_at))
    }

    fn remove(&mut self, uid: i64, sid: &str) -> bool {
        let existed = self.sessions.remove(sid).is_some();
        if let Some(list) = self.by_user.get_mut(&uid) {
            list.retain(|s| s != sid);
            if list.is_empty() {
                self.by_user.remove(&uid);
            }
        }
        existed
    }

    /// Drops the user's expired sessions; returns the live ids, oldest first.
    fn prune(&mut self, uid: i64, now: i64) -> Vec<String> {
        let ids = self.by_user.get(&uid).cloned().unwrap_or_default();
        let (live, dead): (Vec<_>, Vec<_>) = ids
            .into_iter()
            .partition(|sid| self.live(sid, now).is_some());
        for sid in dead {
            self.remove(uid, &sid);
        }
        live
    }
}

impl MemoryStore {
    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Inner>, StoreError> {
        self.inner
            .lock()
            .map_err(|_| StoreError::Unavailable("memory store lock poisoned".into()))
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        self.lock().map(|_| ())
    }

    pub async fn create_session(
        &self,
        record: &SessionRecord,
        policy: SessionPolicy,
        now: i64,
    ) -> Result<Vec<String>, StoreError> {
        let mut inner = self.lock()?;
        let live = inner.prune(record.uid, now);
        let mut ended = Vec::new();
        if policy.single {
            ended = live;
        } else if policy.max_per_user > 0 && live.len() + 1 > policy.max_per_user {
            let excess = live.len() + 1 - policy.max_per_user;
            ended = live.into_iter().take(excess).collect();
        }
        for sid in &ended {
            inner.remove(record.uid, sid);
        }
        inner.sessions.insert(record.sid.clone(), record.clone());
        inner
            .by_user
            .entry(record.uid)
            .or_default()
            .push(record.sid.clone());
        Ok(ended)
    }

    pub async fn session(&self, sid: &str, now: i64) -> Result<Option<SessionRecord>, StoreError> {
        Ok(self.lock()?.live(sid, now).cloned())
    }

    pub async fn rotate(&self, r: Rotation<'_>) -> Result<RotateOutcome, StoreError> {
        let mut inner = self.lock()?;
        let Some(s) = inner.live(r.sid, r.now).cloned() else {
            return Ok(RotateOutcome::Missing);
        };
        if s.refresh_hash == r.presented_hash {
            let s = inner
                .sessions
                .get_mut(r.sid)
                .ok_or_else(|| StoreError::Corrupt("session vanished under lock".into()))?;
            let spent = std::mem::replace(&mut s.refresh_hash, r.new_hash.to_owned());
            s.used = super::remember_used(&s.used, &spent);
            s.prev_hash = Some(spent);
            s.prev_at = Some(r.now);
            s.grace = Some(r.answer.to_owned());
            s.last_refresh_at = r.now;
            s.refresh_expires_at = (r.now + r.refresh_ttl).min(s.expires_at);
            return Ok(RotateOutcome::Rotated);
        }
        let in_grace = s.prev_hash.as_deref() == Some(r.presented_hash)
            && s.prev_at.is_some_and(|at| r.now - at <= r.grace_seconds);
        let spent = s.used.split_whitespace().any(|h| h == r.presented_hash);
        match (in_grace, s.grace) {
            (true, Some(answer)) => Ok(RotateOutcome::Replay(answer)),
            _ if spent => {
                inner.remove(s.uid, r.sid);
                Ok(RotateOutcome::Reused { uid: s.uid })
            }
            // Never issued for this session: refused, but no reason to end the session.
            _ => Ok(RotateOutcome::Missing),
        }
    }

    pub async fn delete_session(&self, uid: i64, sid: &str) -> Result<bool, StoreError> {
        Ok(self.lock()?.remove(uid, sid))
    }

    pub async fn delete_user_sessions(
        &self,
        uid: i64,
        except: Option<&str>,
    ) -> Result<Vec<String>, StoreError> {
        let mut inner = self.lock()?;
        let ids: Vec<String> = inner
            .by_user
            .get(&uid)
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|sid| Some(sid.as_str()) != except)
            .collect();
        for sid in &ids {
            inner.remove(uid, sid);
        }
        Ok(ids)
    }

    pub async fn user_sessions(
        &self,
        uid: i64,
        now: i64,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        let mut inner = self.lock()?;
        let live = inner.prune(uid, now);
        Ok(live
            .iter()
            .filter_map(|sid| inner.sessions.get(sid).cloned())
            .collect())
    }

    pub async fn cached_user(&self, uid: i64) -> Result<Option<String>, StoreError> {
        Ok(self.lock()?.users.get(&uid).map(|(json, _)| json.clone()))
    }

    pub async fn put_cached_user(
        &self,
        uid: i64,
        json: &str,
        ttl: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut inner = self.lock()?;
        inner.users.retain(|_, (_, until)| *until > now);
        inner.users.insert(uid, (json.to_owned(), now + ttl));
        Ok(())
    }

    pub async fn drop_cached_user(&self, uid: i64) -> Result<(), StoreError> {
        self.lock()?.users.remove(&uid);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(sid: &str, uid: i64, created: i64) -> SessionRecord {
        SessionRecord {
            sid: sid.into(),
            uid,
            method: "password".into(),
            ip: "127.0.0.1".into(),
            user_agent: String::new(),
            os: None,
            browser: None,
            device: None,
            created_at: created,
            last_refresh_at: created,
            expires_at: created + 1000,
            refresh_expires_at: created + 100,
            refresh_hash: format!("h-{sid}"),
            prev_hash: None,
            prev_at: None,
            grace: None,
            used: String::new(),
        }
    }

    fn rotation<'a>(sid: &'a str, presented: &'a str, new: &'a str, now: i64) -> Rotation<'a> {
        Rotation {
            sid,
            presented_hash: presented,
            new_hash: new,
            now,
            grace_seconds: 10,
            refresh_ttl: 100,
            answer: "answer",
        }
    }

    const OPEN: SessionPolicy = SessionPolicy {
        single: false,
        max_per_user: 0,
    };

    #[actix_web::test]
    async fn rotation_then_grace_replay_then_reuse_ends_the_session() {
        let store = MemoryStore::default();
        store
            .create_session(&record("a", 1, 0), OPEN, 0)
            .await
            .unwrap();
        assert_eq!(
            store.rotate(rotation("a", "h-a", "h2", 5)).await.unwrap(),
            RotateOutcome::Rotated
        );
        assert_eq!(
            store.rotate(rotation("a", "h-a", "h3", 12)).await.unwrap(),
            RotateOutcome::Replay("answer".into())
        );
        assert_eq!(
            store.rotate(rotation("a", "h-a", "h3", 16)).await.unwrap(),
            RotateOutcome::Reused { uid: 1 }
        );
        assert_eq!(store.session("a", 16).await.unwrap(), None);
        store
            .create_session(&record("b", 1, 20), OPEN, 20)
            .await
            .unwrap();
        assert_eq!(
            store
                .rotate(rotation("b", "never-issued", "x", 21))
                .await
                .unwrap(),
            RotateOutcome::Missing,
            "a forged token does not end the session"
        );
        assert!(store.session("b", 21).await.unwrap().is_some());
        assert_eq!(
            store.rotate(rotation("a", "h2", "h4", 17)).await.unwrap(),
            RotateOutcome::Missing
        );
    }

    #[actix_web::test]
    async fn policies_end_the_right_sessions() {
        let store = MemoryStore::default();
        let capped = SessionPolicy {
            single: false,
            max_per_user: 2,
        };
        store
            .create_session(&record("a", 1, 0), capped, 0)
            .await
            .unwrap();
        store
            .create_session(&record("b", 1, 1), capped, 1)
            .await
            .unwrap();
        let ended = store
            .create_session(&record("c", 1, 2), capped, 2)
            .await
            .unwrap();
        assert_eq!(ended, vec!["a".to_string()]);
        let single = SessionPolicy {
            single: true,
            max_per_user: 0,
        };
        let ended = store
            .create_session(&record("d", 1, 3), single, 3)
            .await
            .unwrap();
        assert_eq!(ended, vec!["b".to_string(), "c".to_string()]);
        let live: Vec<_> = store
            .user_sessions(1, 3)
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.sid)
            .collect();
        assert_eq!(live, vec!["d".to_string()]);
    }

    #[actix_web::test]
    async fn expired_sessions_are_not_live() {
        let store = MemoryStore::default();
        store
            .create_session(&record("a", 1, 0), OPEN, 0)
            .await
            .unwrap();
        assert!(store.session("a", 99).await.unwrap().is_some());
        assert!(store.session("a", 100).await.unwrap().is_none());
        assert_eq!(
            store.rotate(rotation("a", "h-a", "x", 100)).await.unwrap(),
            RotateOutcome::Missing
        );
    }
}
