use actix_web::{web::Data, HttpRequest};
use paperclip::actix::{api_v2_operation, Apiv2Schema};
use serde::Deserialize;

use super::{refresh_cookie, REFRESH_COOKIE};
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

/// Exchange a refresh token (cookie or body) for a new pair; the old one is spent.
#[api_v2_operation(tags(auth))]
#[tracing::instrument(skip_all)]
pub async fn refresh(
    req: HttpRequest,
    body: OptionalJson<RefreshRequest>,
    sessions: Data<Sessions>,
) -> Result<ApiOk<TokenPair>, ApiError> {
    let presented =
        presented_refresh(&req, body)?.ok_or_else(|| ApiError::new(kind::REFRESH_MISSING))?;
    let pair = sessions.refresh(&presented).await?;
    let cookie = refresh_cookie(&pair.refresh_token, sessions.settings());
    Ok(ApiOk::new(pair).cookie(cookie))
}
