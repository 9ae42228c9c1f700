//! OpenID Connect Back-Channel Logout 1.0: when an app's session ends — logout, sign-out
//! everywhere, kick-out, a reused refresh token, a password reset, a disabled user — the app is
//! sent a signed `logout_token` naming the browser session (`sid`) and the user (`sub`).
//!
//! Notices wait in the database (`oidc_logout_queue`), so a node that stops loses none; each is
//! queued once per client and session, however many nodes saw the session end, and each try is
//! taken by one node (it moves the notice's due time forward with a compare-and-set first). A
//! notice the app does not take (an answer other than 2xx, no answer within 5 s) is tried again
//! with a growing wait, and given up after `MAX_TRIES`.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{encode, Algorithm, Header};
use serde_json::json;

use super::clients::{IdTokenAlg, OidcClients};
use super::tokens::IdTokenKeys;
use crate::actors::repo::{ClaimLogout, DeleteLogout, DueLogouts, FindUserById, QueueLogouts};
use crate::actors::RepoHandle;
use crate::clock::SharedClock;
use crate::domain::SessionRecord;
use crate::repo::LogoutNotice;

const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// Tries before a notice is given up (the waits between add up to about an hour).
pub const MAX_TRIES: i32 = 10;
/// How long a logout token is valid (the spec recommends at most two minutes).
const TOKEN_TTL: i64 = 120;

#[derive(Clone)]
pub struct Backchannel {
    repo: RepoHandle,
    clients: OidcClients,
    keys: Arc<IdTokenKeys>,
    issuer: String,
    clock: SharedClock,
    http: reqwest::Client,
    wake: Arc<tokio::sync::Notify>,
}

/// Seconds before the next try after `tries` tries: 5, 10, 20, … at most 10 minutes.
fn wait_after(tries: i32) -> i64 {
    (5_i64 << tries.clamp(0, 7)).min(600)
}

impl Backchannel {
    pub fn new(
        repo: RepoHandle,
        clients: OidcClients,
        keys: Arc<IdTokenKeys>,
        issuer: String,
        clock: SharedClock,
    ) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client");
        Self {
            repo,
            clients,
            keys,
            issuer,
            clock,
            http,
            wake: Arc::default(),
        }
    }

    /// Queues a notice for each ended session of an app that asked for them (off the caller's
    /// path: it spawns).
    pub fn ended(&self, uid: i64, sessions: Vec<SessionRecord>) {
        let me = self.clone();
        actix_web::rt::spawn(async move {
            if let Err(e) = me.queue(uid, sessions).await {
                tracing::error!(uid, error = %e, "cannot queue back-channel logout notices");
            }
        });
    }

    async fn queue(&self, uid: i64, sessions: Vec<SessionRecord>) -> anyhow::Result<()> {
        if queue(&self.repo, &self.clients, &self.clock, uid, sessions).await? {
            self.wake.notify_one();
        }
        Ok(())
    }

    /// Delivers due notices, for as long as the server runs: every second, and at once when
    /// this node queued one.
    pub fn start(&self) {
        let me = self.clone();
        actix_web::rt::spawn(async move {
            loop {
                if let Err(e) = me.deliver_due().await {
                    tracing::warn!(error = %e, "back-channel logout: cannot read the queue");
                }
                let _ = tokio::time::timeout(Duration::from_secs(1), me.wake.notified()).await;
            }
        });
    }

    async fn deliver_due(&self) -> anyhow::Result<()> {
        let now = self.clock.unix();
        let due = self.repo.send(DueLogouts { now, limit: 50 }).await?;
        for notice in due {
            let until = now + wait_after(notice.attempts);
            let claim = ClaimLogout {
                id: notice.id,
                seen: notice.next_at,
                until,
            };
            if !self.repo.send(claim).await? {
                continue; // another node took this try
            }
            let me = self.clone();
            actix_web::rt::spawn(async move { me.deliver(notice).await });
        }
        Ok(())
    }

    async fn deliver(&self, notice: LogoutNotice) {
        let id = notice.id;
        let done = match self.send(&notice).await {
            Ok(true) => {
                tracing::info!(target: "security", client = notice.client_id, sid = notice.sid, "back-channel logout delivered");
                true
            }
            Ok(false) => true, // the client is gone, or no longer asks for notices
            Err(why) if notice.attempts + 1 >= MAX_TRIES => {
                tracing::warn!(
                    client = notice.client_id,
                    sid = notice.sid,
                    tries = notice.attempts + 1,
                    why,
                    "back-channel logout given up"
                );
                true
            }
            Err(why) => {
                tracing::info!(
                    client = notice.client_id,
                    tries = notice.attempts + 1,
                    why,
                    "back-channel logout not taken; tried again later"
                );
                false
            }
        };
        if done {
            if let Err(e) = self.repo.send(DeleteLogout { id }).await {
                tracing::warn!(error = %e, "back-channel logout: cannot remove a delivered notice");
            }
        }
    }

    /// `Ok(false)`: nothing to send any more.
    async fn send(&self, notice: &LogoutNotice) -> Result<bool, String> {
        let client = self
            .clients
            .find(&notice.client_id)
            .await
            .map_err(|e| e.to_string())?;
        let Some((client, uri)) =
            client.and_then(|c| c.backchannel_logout_uri.clone().map(|u| (c, u)))
        else {
            return Ok(false);
        };
        let now = self.clock.unix();
        let claims = json!({
            "iss": self.issuer,
            "aud": client.id,
            "iat": now,
            "exp": now + TOKEN_TTL,
            "jti": uuid::Uuid::new_v4().simple().to_string(),
            "sub": notice.sub,
            "sid": notice.sid,
            "events": { EVENT: {} },
        });
        let (mut header, key) = match (client.id_token_alg, &self.keys.ed25519) {
            (IdTokenAlg::EdDsa, Some((kid, key, _))) => {
                let mut h = Header::new(Algorithm::EdDSA);
                h.kid = Some(kid.clone());
                (h, key)
            }
            _ => {
                let mut h = Header::new(Algorithm::RS256);
                h.kid = Some(self.keys.rsa.kid.clone());
                (h, &self.keys.rsa.encoding)
            }
        };
        header.typ = Some("logout+jwt".into());
        let token = encode(&header, &claims, key).map_err(|e| e.to_string())?;
        let res = self
            .http
            .post(&uri)
            .form(&[("logout_token", token)])
            .send()
            .await
            .map_err(|e| e.to_string())?;
        match res.status().is_success() {
            true => Ok(true),
            false => Err(format!("answered {}", res.status())),
        }
    }
}

/// Queues a notice for each of these ended sessions whose app asked for them; whether it
/// queued any. A running server's delivery loop sends them (the command line queues too).
pub async fn queue(
    repo: &RepoHandle,
    clients: &OidcClients,
    clock: &SharedClock,
    uid: i64,
    sessions: Vec<SessionRecord>,
) -> anyhow::Result<bool> {
    let mut notices = Vec::new();
    for s in sessions {
        let Some(grant) = s.client else { continue };
        let wants = clients
            .find(&grant.client_id)
            .await?
            .is_some_and(|c| c.backchannel_logout_uri.is_some());
        if wants {
            let sid = match grant.browser_sid.is_empty() {
                true => s.sid,
                false => grant.browser_sid,
            };
            notices.push((grant.client_id, sid));
        }
    }
    if notices.is_empty() {
        return Ok(false);
    }
    let Some(user) = repo.send(FindUserById { id: uid }).await? else {
        return Ok(false);
    };
    let notices = notices
        .into_iter()
        .map(|(client, sid)| (client, user.uuid.clone(), sid))
        .collect();
    let now = clock.unix();
    repo.send(QueueLogouts { notices, now }).await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_and_stop_growing() {
        assert_eq!(wait_after(0), 5);
        assert_eq!(wait_after(1), 10);
        assert_eq!(wait_after(4), 80);
        assert_eq!(wait_after(7), 600);
        assert_eq!(wait_after(30), 600);
    }
}
