//! The sessions of OpenID clients: one per code exchange, holding the client's refresh token
//! (rotated by the same rules as Portcullis's own) and the session its access tokens name. It
//! ends with the user's browser session at the provider (its `parent`), unless the client was
//! granted `offline_access`; it never counts against the login policies (it is not a login).

use super::rules::{self, RefreshToken};
use super::{Plan, Sessions};
use crate::auth::client::ClientInfo;
use crate::crypto;
use crate::domain::{ClientGrant, Proof, SessionRecord};
use crate::error::{kind, ApiError};
use crate::store::SessionChange;

/// A client's new or rotated refresh token, and what its access token says.
#[derive(Debug)]
pub struct ClientTokens {
    pub sid: String,
    pub refresh: String,
    pub refresh_expires_at: i64,
    pub proof: Proof,
    pub scope: String,
    /// When the access token that goes with it is issued.
    pub issued_at: i64,
}

impl Sessions {
    /// A session for `grant`'s client, from the user's live browser session `parent`: how and
    /// when the user proved who they are are the browser session's. With `offline` it outlives
    /// the browser session (up to the absolute lifetime); else it ends with it. `None` when the
    /// browser session has ended meanwhile.
    pub async fn start_for_client(
        &self,
        uid: i64,
        parent: &str,
        grant: ClientGrant,
        offline: bool,
        client: &ClientInfo,
    ) -> Result<Option<ClientTokens>, ApiError> {
        let sid = uuid::Uuid::new_v4().simple().to_string();
        let token = RefreshToken::new(uid, &sid).encode();
        let s = self.settings.clone();
        let started = self
            .change(uid, |current, now| {
                let Some(p) = current
                    .sessions
                    .iter()
                    .find(|p| p.sid == parent && p.is_live(now) && p.client.is_none())
                else {
                    return Ok(Plan::nothing(None));
                };
                let mut expires_at = now + s.absolute_ttl_seconds;
                if !offline {
                    expires_at = expires_at.min(p.expires_at);
                }
                let record = SessionRecord {
                    sid: sid.clone(),
                    uid,
                    seq: 0,
                    method: format!("oidc:{}", grant.client_id),
                    ip: client.ip.clone(),
                    user_agent: client.user_agent.clone(),
                    os: client.os.clone(),
                    browser: client.browser.clone(),
                    device: client.device.clone(),
                    created_at: now,
                    last_refresh_at: now,
                    auth_time: p.auth_time,
                    amr: p.proof().amr,
                    expires_at,
                    refresh_expires_at: (now + s.refresh_ttl_seconds).min(expires_at),
                    refresh_hash: crypto::digest(&token),
                    grace: None,
                    spent: Vec::new(),
                    bindings: Vec::new(),
                    browser_hash: None,
                    client: Some(grant.clone()),
                    parent: (!offline).then(|| p.sid.clone()),
                };
                let seq = rules::next_seq(&current.sessions);
                let record = SessionRecord { seq, ..record };
                Ok(Plan {
                    changes: vec![SessionChange::Put(Box::new(record.clone()))],
                    ended: Vec::new(),
                    out: Some((record, now)),
                })
            })
            .await?;
        Ok(started.map(|(r, now)| ClientTokens {
            sid,
            refresh: token,
            refresh_expires_at: r.refresh_expires_at,
            proof: r.proof(),
            scope: grant.scope,
            issued_at: now,
        }))
    }

    /// Rotates a refresh token of `client_id`'s (the rules of `refresh`: grace, reuse ends the
    /// session); refused for any other session.
    pub async fn refresh_for_client(
        &self,
        presented: &str,
        client_id: &str,
    ) -> Result<(i64, ClientTokens), ApiError> {
        let r = self.rotate(presented, Some(client_id)).await?;
        let scope = r
            .client
            .map(|c| c.scope)
            .ok_or_else(|| ApiError::new(kind::REFRESH_INVALID))?;
        Ok((
            r.uid,
            ClientTokens {
                sid: r.sid,
                refresh: r.refresh,
                refresh_expires_at: r.expires,
                proof: r.proof,
                scope,
                issued_at: r.at,
            },
        ))
    }

    /// The live session of `client_id`'s that `uid`'s `sid` names, if it is one.
    pub async fn client_session(
        &self,
        uid: i64,
        sid: &str,
        client_id: &str,
    ) -> Result<Option<SessionRecord>, ApiError> {
        Ok(self
            .get(uid, sid)
            .await?
            .filter(|s| s.client.as_ref().is_some_and(|c| c.client_id == client_id)))
    }

    /// Ends every session `client_id` holds for `uid` (revoking the app's access: its refresh
    /// tokens, and the access tokens that name those sessions); how many were live.
    pub async fn end_client(&self, uid: i64, client_id: &str) -> Result<usize, ApiError> {
        self.end_where(uid, |s| {
            s.client.as_ref().is_some_and(|c| c.client_id == client_id)
        })
        .await
    }
}
