use actix_web::{web::Data, HttpRequest};
use chrono::{DateTime, Utc};
use paperclip::actix::{api_v2_operation, Apiv2Schema};
use serde::{Deserialize, Serialize};

use super::{refresh_cookie, refresh_token_in_body, REFRESH_COOKIE};
use crate::auth::sessions::{Sessions, TokenPair};
use crate::error::{kind, ApiError};
use crate::web::cors::check_cookie_origin;
use crate::web::{ApiOk, OptionalJson};

#[derive(Deserialize, Apiv2Schema)]
pub struct RefreshRequest {
    pub refresh_token: Option<String>,
}

/// The refresh token from the body, else from the cookie; one from the cookie only when the
/// request comes from this server's origin or an allowed one (else 403 `origin_not_allowed`).
pub fn presented_refresh(
    req: &HttpRequest,
    body: OptionalJson<RefreshRequest>,
) -> Result<Option<String>, ApiError> {
    if let Some(t) = body
        .into_inner()
        .and_then(|b| b.refresh_token)
        .filter(|t| !t.is_empty())
    {
        return Ok(Some(t));
    }
    let Some(cookie) = req.cookie(REFRESH_COOKIE).filter(|c| !c.value().is_empty()) else {
        return Ok(None);
    };
    check_cookie_origin(req)?;
    Ok(Some(cookie.value().to_owned()))
}

/// The new pair, as a refresh answers it.
#[derive(Serialize, Apiv2Schema)]
pub struct RefreshData {
    pub access_token: String,
    pub access_token_expire_time: DateTime<Utc>,
    /// Also in the HttpOnly cookie; left out for browser pages (`session.refresh_token_in_body`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub refresh_token_expire_time: DateTime<Utc>,
    pub session_uuid: String,
    pub token_type: String,
}

/// Exchange a refresh token (cookie or body) for a new pair; the old one is spent.
#[api_v2_operation(tags(auth))]
#[tracing::instrument(skip_all)]
pub async fn refresh(
    req: HttpRequest,
    body: OptionalJson<RefreshRequest>,
    sessions: Data<Sessions>,
) -> Result<ApiOk<RefreshData>, ApiError> {
    let presented =
        presented_refresh(&req, body)?.ok_or_else(|| ApiError::new(kind::REFRESH_MISSING))?;
    let pair: TokenPair = sessions.refresh(&presented).await?;
    let settings = sessions.settings();
    let cookie = refresh_cookie(&pair.refresh_token, settings);
    let in_body = refresh_token_in_body(&req, settings);
    Ok(ApiOk::new(RefreshData {
        access_token: pair.access_token,
        access_token_expire_time: pair.access_token_expire_time,
        refresh_token: in_body.then_some(pair.refresh_token),
        refresh_token_expire_time: pair.refresh_token_expire_time,
        session_uuid: pair.session_uuid,
        token_type: pair.token_type,
    })
    .cookie(cookie))
}
