//! OpenID Connect RP-Initiated Logout 1.0: an app sends its user here to sign out of
//! Portcullis too.

use super::flow::{PageError, Params, Provider};
use crate::actors::repo::FindUserByUuid;
use crate::error::ApiError;

/// What RP-initiated logout decided.
#[derive(Debug)]
pub enum LogoutAnswer {
    /// No proof the request is the user's own app (no `id_token_hint`): ask the user.
    Confirm,
    /// Signed out; back to the app's registered URI, or the provider's own page.
    Done(Option<String>),
    Page(PageError),
}

impl Provider {
    /// OpenID Connect RP-Initiated Logout 1.0: ends the browser's session at the provider (and
    /// with it every app's session that ends with it), then back to the app if it names a
    /// registered `post_logout_redirect_uri`. Without an `id_token_hint` the user is asked
    /// first (`confirmed`: the answer), so another site cannot sign them out.
    pub async fn logout(&self, p: &Params, browser: Option<&str>, confirmed: bool) -> LogoutAnswer {
        let get = |k: &str| p.get(k).map(String::as_str).filter(|v| !v.is_empty());
        let hint = match get("id_token_hint") {
            Some(t) => match self.keys.read_hint(t, &self.issuer) {
                Some(h) => Some(h),
                None => return LogoutAnswer::Page(PageError::BadHint),
            },
            None => None,
        };
        let client_id = match (get("client_id"), &hint) {
            (Some(id), Some(h)) if id != h.aud => return LogoutAnswer::Page(PageError::BadHint),
            (Some(id), _) => Some(id.to_owned()),
            (None, Some(h)) => Some(h.aud.clone()),
            (None, None) => None,
        };
        let back = match get("post_logout_redirect_uri") {
            None => None,
            Some(uri) => {
                let client = match &client_id {
                    Some(id) => match self.clients.find(id).await {
                        Ok(c) => c,
                        Err(_) => return LogoutAnswer::Page(PageError::Unavailable),
                    },
                    None => None,
                };
                match client {
                    Some(c) if c.post_logout_redirect_uris.iter().any(|u| u == uri) => {
                        let mut url = match url::Url::parse(uri) {
                            Ok(u) => u,
                            Err(_) => return LogoutAnswer::Page(PageError::BadRedirect),
                        };
                        if let Some(state) = get("state") {
                            url.query_pairs_mut().append_pair("state", state);
                        }
                        Some(String::from(url))
                    }
                    _ => return LogoutAnswer::Page(PageError::BadRedirect),
                }
            }
        };
        if hint.is_none() && !confirmed {
            return LogoutAnswer::Confirm;
        }
        let session = match browser {
            Some(cookie) => match self.sessions.session_of_browser(cookie).await {
                Ok(s) => s,
                Err(_) => return LogoutAnswer::Page(PageError::Unavailable),
            },
            None => None,
        };
        // The hint names the session the app saw; the browser's may be another user's now:
        // only the hinted one ends then.
        let target = match (&hint, session) {
            (Some(h), s) if s.as_ref().map(|s| Some(&s.sid)) != Some(h.sid.as_ref()) => {
                match (&h.sid, self.user_by_uuid(&h.sub).await) {
                    (Some(sid), Ok(Some(uid))) => Some((uid, sid.clone())),
                    (_, Err(_)) => return LogoutAnswer::Page(PageError::Unavailable),
                    _ => None,
                }
            }
            (_, Some(s)) => Some((s.uid, s.sid)),
            (_, None) => None,
        };
        if let Some((uid, sid)) = target {
            if self.sessions.end(uid, &sid).await.is_err() {
                return LogoutAnswer::Page(PageError::Unavailable);
            }
        }
        LogoutAnswer::Done(back)
    }

    async fn user_by_uuid(&self, uuid: &str) -> Result<Option<i64>, ApiError> {
        let user = self
            .repo
            .send(FindUserByUuid {
                uuid: uuid.to_owned(),
            })
            .await
            .map_err(ApiError::unavailable)?;
        Ok(user.map(|u| u.id))
    }
}
