//! Session lifecycle: start (with the multi-login and max-sessions policies), refresh with
//! atomic rotation and a grace window, and ending one or all sessions. Every ended session is
//! invalidated in the cache on every node before the call returns.

use std::sync::Arc;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::{DateTime, Utc};
use paperclip::actix::Apiv2Schema;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::client::ClientInfo;
use super::jwt::JwtKeys;
use crate::actors::CacheHandle;
use crate::clock::SharedClock;
use crate::config::SessionSettings;
use crate::error::{kind, ApiError};
use crate::store::{
    Invalidation, RotateOutcome, Rotation, SessionPolicy, SessionRecord, Store, StoreError,
};

/// A new token pair, as login and refresh return it.
#[derive(Debug, Clone, Serialize, Deserialize, Apiv2Schema)]
pub struct TokenPair {
    pub access_token: String,
    pub access_token_expire_time: DateTime<Utc>,
    pub refresh_token: String,
    pub refresh_token_expire_time: DateTime<Utc>,
    pub session_uuid: String,
    pub token_type: String,
}

#[derive(Clone)]
pub struct Sessions {
    store: Store,
    cache: CacheHandle,
    jwt: Arc<JwtKeys>,
    settings: SessionSettings,
    clock: SharedClock,
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::unavailable(e)
    }
}

fn at(ts: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(ts, 0).unwrap_or_default()
}

pub fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// `{sid}.{256 random bits}`: the session id lets a refresh find its session without an index.
fn new_refresh_token(sid: &str) -> String {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    format!("{sid}.{}", URL_SAFE_NO_PAD.encode(secret))
}

/// The session id inside a refresh token, when the token has the right shape.
fn refresh_sid(token: &str) -> Option<&str> {
    let (sid, secret) = token.split_once('.')?;
    let sid_ok = sid.len() == 32 && sid.bytes().all(|b| b.is_ascii_hexdigit());
    let secret_ok = secret.len() == 43
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (sid_ok && secret_ok).then_some(sid)
}

impl Sessions {
    pub fn new(
        store: Store,
        cache: CacheHandle,
        jwt: Arc<JwtKeys>,
        settings: SessionSettings,
        clock: SharedClock,
    ) -> Self {
        Self {
            store,
            cache,
            jwt,
            settings,
            clock,
        }
    }

    pub fn settings(&self) -> &SessionSettings {
        &self.settings
    }

    fn pair(
        &self,
        uid: i64,
        sid: &str,
        refresh: String,
        refresh_exp: i64,
        now: i64,
    ) -> Result<TokenPair, ApiError> {
        let (access, access_exp) = self.jwt.issue(uid, sid, now).map_err(ApiError::internal)?;
        Ok(TokenPair {
            access_token: access,
            access_token_expire_time: at(access_exp),
            refresh_token: refresh,
            refresh_token_expire_time: at(refresh_exp),
            session_uuid: sid.to_owned(),
            token_type: "Bearer".into(),
        })
    }

    /// Starts a session for a user who has just proved who they are.
    pub async fn start(
        &self,
        uid: i64,
        multi_login: bool,
        client: &ClientInfo,
        method: &str,
    ) -> Result<TokenPair, ApiError> {
        let now = self.clock.unix();
        let sid = uuid::Uuid::new_v4().simple().to_string();
        let refresh = new_refresh_token(&sid);
        let expires_at = now + self.settings.absolute_ttl_seconds;
        let refresh_expires_at = (now + self.settings.refresh_ttl_seconds).min(expires_at);
        let record = SessionRecord {
            sid: sid.clone(),
            uid,
            method: method.to_owned(),
            ip: client.ip.clone(),
            user_agent: client.user_agent.clone(),
            os: client.os.clone(),
            browser: client.browser.clone(),
            device: client.device.clone(),
            created_at: now,
            last_refresh_at: now,
            expires_at,
            refresh_expires_at,
            refresh_hash: digest(&refresh),
            prev_hash: None,
            prev_at: None,
            grace: None,
            used: String::new(),
        };
        let policy = SessionPolicy {
            single: !multi_login,
            max_per_user: self.settings.max_sessions_per_user,
        };
        let ended = self.store.create_session(&record, policy, now).await?;
        for old in ended {
            self.cache.invalidate(Invalidation::Session(old)).await?;
        }
        self.pair(uid, &sid, refresh, refresh_expires_at, now)
    }

    /// Rotates a refresh token. A retry with the immediate parent inside the grace window gets
    /// the same new pair; any other reuse ends the whole session.
    pub async fn refresh(&self, presented: &str) -> Result<TokenPair, ApiError> {
        let invalid = || ApiError::new(kind::REFRESH_INVALID);
        let sid = refresh_sid(presented).ok_or_else(invalid)?;
        let now = self.clock.unix();
        let Some(session) = self.store.session(sid, now).await? else {
            return Err(invalid());
        };
        let refresh = new_refresh_token(sid);
        let refresh_exp = (now + self.settings.refresh_ttl_seconds).min(session.expires_at);
        let pair = self.pair(session.uid, sid, refresh.clone(), refresh_exp, now)?;
        let answer = serde_json::to_string(&pair).map_err(ApiError::internal)?;
        let outcome = self
            .store
            .rotate(Rotation {
                sid,
                presented_hash: &digest(presented),
                new_hash: &digest(&refresh),
                now,
                grace_seconds: self.settings.refresh_grace_seconds,
                refresh_ttl: self.settings.refresh_ttl_seconds,
                answer: &answer,
            })
            .await?;
        match outcome {
            RotateOutcome::Rotated => Ok(pair),
            RotateOutcome::Replay(earlier) => {
                serde_json::from_str(&earlier).map_err(ApiError::internal)
            }
            RotateOutcome::Missing => Err(invalid()),
            RotateOutcome::Reused { uid } => {
                tracing::warn!(
                    target: "security",
                    event = "refresh_token_reuse",
                    uid,
                    sid,
                    "a rotated refresh token was presented again; the session is revoked"
                );
                self.cache
                    .invalidate(Invalidation::Session(sid.to_owned()))
                    .await?;
                Err(invalid())
            }
        }
    }

    /// The session a refresh token belongs to, if it is the current token of a live session.
    pub async fn session_of_refresh(
        &self,
        presented: &str,
    ) -> Result<Option<SessionRecord>, ApiError> {
        let Some(sid) = refresh_sid(presented) else {
            return Ok(None);
        };
        let session = self.store.session(sid, self.clock.unix()).await?;
        Ok(session.filter(|s| s.refresh_hash == digest(presented)))
    }

    pub async fn end(&self, uid: i64, sid: &str) -> Result<bool, ApiError> {
        let existed = self.store.delete_session(uid, sid).await?;
        self.cache
            .invalidate(Invalidation::Session(sid.to_owned()))
            .await?;
        Ok(existed)
    }

    /// Ends every session of the user but `except`; returns how many ended.
    pub async fn end_all(&self, uid: i64, except: Option<&str>) -> Result<usize, ApiError> {
        let ended = self.store.delete_user_sessions(uid, except).await?;
        for sid in &ended {
            self.cache
                .invalidate(Invalidation::Session(sid.clone()))
                .await?;
        }
        Ok(ended.len())
    }

    pub async fn list(&self, uid: i64) -> Result<Vec<SessionRecord>, ApiError> {
        Ok(self.store.user_sessions(uid, self.clock.unix()).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_tokens_carry_their_session_and_enough_randomness() {
        let sid = uuid::Uuid::new_v4().simple().to_string();
        let t = new_refresh_token(&sid);
        assert_eq!(refresh_sid(&t), Some(sid.as_str()));
        assert_ne!(new_refresh_token(&sid), t);
        for bad in [
            "",
            "x",
            "a.b",
            &format!("{sid}."),
            &format!("{sid}.{}", "A".repeat(44)),
            &t.replace('.', ""),
        ] {
            assert_eq!(refresh_sid(bad), None, "{bad}");
        }
    }
}
