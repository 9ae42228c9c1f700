//! Asking the server's token introspection, and what of its answer may be remembered.
//!
//! An answer is cached only when nothing could have made it stale: no invalidation arrived
//! while it was asked (the epoch), and the answering node had applied the log at least as far
//! as the feed has delivered it (`portcullis_log_position`). Behind a load balancer, the node
//! that answers may not yet know of an event this guard already heard from another; such an
//! answer serves its request and is forgotten.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use serde::Deserialize;

use crate::verify::Verified;
use crate::{position, Inner, Refusal, Session, UserInfo};

/// What introspection said about a token.
#[derive(Deserialize)]
pub(crate) struct Introspection {
    pub active: bool,
    sid: Option<String>,
    user: Option<UserInfo>,
    /// In active answers. Absent from servers that predate it, or from a node not following
    /// its log: then the answer is never cached.
    portcullis_log_position: Option<String>,
}

impl Inner {
    /// Introspection, cached when nothing changed meanwhile.
    pub(crate) async fn ask(&self, token: &str, v: &Verified) -> Result<Arc<UserInfo>, Refusal> {
        let epoch = self.epoch.load(Ordering::Acquire);
        let answer = self.introspect(token).await?;
        if answer.active && answer.user.is_none() {
            return Err(Refusal::Unavailable(format!(
                "introspection does not tell the API client `{}` the user: create it with \
                 `portcullis client create --claims user` (and any others it needs)",
                self.client_id
            )));
        }
        let answered_at = answer.portcullis_log_position.as_deref().and_then(position);
        let user = match (answer.active, answer.user, answer.sid.as_deref()) {
            (true, Some(user), sid) if user.id == v.uid && sid.is_none_or(|s| *s == *v.sid) => {
                Some(Arc::new(user))
            }
            _ => None,
        };
        {
            let _w = self.writes.lock().unwrap_or_else(|p| p.into_inner());
            let delivered = *self.delivered.lock().unwrap_or_else(|p| p.into_inner());
            // "Inactive" is never stale: a session does not come back.
            let current = match (&user, answered_at, delivered) {
                (None, _, _) => true,
                (Some(_), Some(at), Some(d)) => at >= d,
                (Some(_), Some(_), None) => true,
                (Some(_), None, _) => false,
            };
            if current
                && self.following.load(Ordering::Acquire)
                && self.epoch.load(Ordering::Acquire) == epoch
            {
                match &user {
                    Some(u) => {
                        let now = Instant::now();
                        self.sessions
                            .insert(v.sid.clone(), Session::Alive(u.id, now));
                        self.users.insert(u.id, (u.clone(), now));
                    }
                    None => self.sessions.insert(v.sid.clone(), Session::Ended),
                }
            }
        }
        user.ok_or(Refusal::InvalidToken)
    }

    pub(crate) async fn introspect(&self, token: &str) -> Result<Introspection, Refusal> {
        self.introspections.fetch_add(1, Ordering::Relaxed);
        let res = self
            .http
            .post(format!("{}/api/v1/auth/introspect", self.base))
            .basic_auth(&self.client_id, Some(&self.client_secret))
            .form(&[("token", token), ("token_type_hint", "access_token")])
            .send()
            .await
            .map_err(|e| Refusal::Unavailable(format!("introspection: {e}")))?;
        let status = res.status();
        if !status.is_success() {
            let body = res.text().await.unwrap_or_default();
            return Err(Refusal::Unavailable(format!(
                "introspection answered {status}: {body}"
            )));
        }
        res.json()
            .await
            .map_err(|e| Refusal::Unavailable(format!("introspection: {e}")))
    }
}
