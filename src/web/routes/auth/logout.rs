use actix_web::{web::Data, HttpRequest};
use paperclip::actix::{api_v2_operation, Apiv2Schema};
use serde::Serialize;

use super::clear_refresh_cookie;
use super::refresh::{presented_refresh, RefreshRequest};
use crate::auth::gate::Presented;
use crate::auth::jwt::JwtKeys;
use crate::auth::sessions::Sessions;
use crate::clock::SharedClock;
use crate::error::ApiError;
use crate::web::{ApiOk, CurrentUser, OptionalJson};

#[derive(Serialize, Apiv2Schema)]
pub struct Ended {
    /// Sessions this call ended.
    pub ended: usize,
}

/// End this session, named by the bearer token or the refresh token (body or cookie): 200,
/// also when nothing names one. A body, when sent, must be a `RefreshRequest` (else 400).
#[api_v2_operation(tags(auth))]
pub async fn logout(
    req: HttpRequest,
    body: OptionalJson<RefreshRequest>,
    sessions: Data<Sessions>,
    jwt: Data<JwtKeys>,
    clock: Data<SharedClock>,
) -> Result<ApiOk<Ended>, ApiError> {
    let now = clock.unix();
    let from_bearer = Presented::from_headers(req.headers())
        .token()
        .and_then(|t| jwt.verify(t, now).ok())
        .and_then(|c| Some((c.user_id()?, c.sid)));
    let target = match from_bearer {
        Some(found) => Some(found),
        None => match presented_refresh(&req, body)? {
            Some(token) => sessions
                .session_of_refresh(&token)
                .await?
                .map(|s| (s.uid, s.sid)),
            None => None,
        },
    };
    let mut ended = 0;
    if let Some((uid, sid)) = target {
        ended += usize::from(sessions.end(uid, &sid).await?);
    }
    Ok(ApiOk::new(Ended { ended }).cookie(clear_refresh_cookie(sessions.settings())))
}

/// End every session of the caller, this one included.
#[api_v2_operation(tags(auth))]
pub async fn logout_all(
    me: CurrentUser,
    sessions: Data<Sessions>,
) -> Result<ApiOk<Ended>, ApiError> {
    let ended = sessions.end_all(me.user.id, None).await?;
    Ok(ApiOk::new(Ended { ended }).cookie(clear_refresh_cookie(sessions.settings())))
}
