use actix_web::{web::Data, HttpRequest};
use paperclip::actix::{api_v2_operation, web::Json, Apiv2Schema};
use serde::Serialize;

use super::clear_refresh_cookie;
use super::refresh::{presented_refresh, RefreshRequest};
use crate::auth::bearer::BearerCredentials;
use crate::auth::user::CurrentUser;
use crate::error::ApiError;
use crate::routes::ApiOk;
use crate::startup::AppState;

#[derive(Serialize, Apiv2Schema)]
pub struct Ended {
    /// Sessions this call ended.
    pub ended: usize,
}

/// End this session, named by the bearer token or the refresh token. Always 200.
#[api_v2_operation(tags(auth))]
pub async fn logout(
    state: Data<AppState>,
    req: HttpRequest,
    body: Option<Json<RefreshRequest>>,
) -> Result<ApiOk<Ended>, ApiError> {
    let now = state.clock.unix();
    let from_bearer = match BearerCredentials::parse(req.headers()) {
        BearerCredentials::Token(t) => state
            .jwt
            .verify(t, now)
            .ok()
            .and_then(|c| Some((c.user_id()?, c.sid))),
        _ => None,
    };
    let target = match from_bearer {
        Some(found) => Some(found),
        None => match presented_refresh(&req, body) {
            Some(token) => state
                .sessions
                .session_of_refresh(&token)
                .await?
                .map(|s| (s.uid, s.sid)),
            None => None,
        },
    };
    let mut ended = 0;
    if let Some((uid, sid)) = target {
        ended += usize::from(state.sessions.end(uid, &sid).await?);
    }
    let secure = state.sessions.settings().cookie_secure;
    Ok(ApiOk::new(Ended { ended }).cookie(clear_refresh_cookie(secure)))
}

/// End every session of the caller, this one included.
#[api_v2_operation(tags(auth))]
pub async fn logout_all(state: Data<AppState>, me: CurrentUser) -> Result<ApiOk<Ended>, ApiError> {
    let ended = state.sessions.end_all(me.user.id, None).await?;
    let secure = state.sessions.settings().cookie_secure;
    Ok(ApiOk::new(Ended { ended }).cookie(clear_refresh_cookie(secure)))
}
