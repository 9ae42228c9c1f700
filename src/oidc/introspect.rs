//! What introspection may say of a token issued to an app: a user's token for a client while
//! its session lives, or a client's own `client_credentials` token while the client exists
//! and may still use that grant with the secret it had.

use std::sync::Arc;

use super::clients::{credentials_stamp, Grant};
use super::flow::Provider;
use crate::actors::AuthFailure;
use crate::auth::jwt::AccessClaims;
use crate::domain::CachedUser;
use crate::error::ApiError;

/// An active app token: its claims, and its user unless the client acts for itself.
pub struct AppToken {
    pub claims: AccessClaims,
    pub user: Option<Arc<CachedUser>>,
}

impl Provider {
    /// `None` for anything that is not an active app token (Portcullis's own tokens are the
    /// gate's); an error only when a backing service failed.
    pub async fn inspect(&self, token: &str) -> Result<Option<AppToken>, ApiError> {
        let now = self.clock.unix();
        if let Ok(claims) = self.jwt.verify_client_token(token, now) {
            let Some(uid) = claims.user_id() else {
                return Ok(None);
            };
            return match self
                .cache
                .resolve(Arc::from(claims.sid.as_str()), uid)
                .await
            {
                Ok(u) if u.user.is_enabled() => Ok(Some(AppToken {
                    claims,
                    user: Some(u),
                })),
                Ok(_) | Err(AuthFailure::SessionEnded | AuthFailure::UserUnavailable) => Ok(None),
                Err(AuthFailure::Store(e)) => Err(ApiError::unavailable(e)),
                Err(AuthFailure::Db(e)) => Err(ApiError::unavailable(e)),
            };
        }
        let Ok(claims) = self.jwt.verify_client_credentials(token, now) else {
            return Ok(None);
        };
        let client = self
            .clients
            .find(&claims.sub)
            .await
            .map_err(ApiError::unavailable)?;
        // Deleting the client, taking the grant away or a new secret ends its tokens at once.
        let stamp = claims.jti.split_once('.').map(|(stamp, _)| stamp);
        Ok(client
            .filter(|c| !c.is_public() && c.may(Grant::ClientCredentials))
            .filter(|c| stamp == Some(credentials_stamp(c).as_str()))
            .map(|_| AppToken { claims, user: None }))
    }
}
