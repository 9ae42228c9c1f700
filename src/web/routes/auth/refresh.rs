use actix_web::{web::Data, HttpRequest};
use paperclip::actix::{api_v2_operation, web::Json, Apiv2Schema};
use serde::Deserialize;

use super::{refresh_cookie, REFRESH_COOKIE};
use crate::auth::sessions::{Sessions, TokenPair};
use crate::error::{kind, ApiError};
use crate::web::ApiOk;

#[derive(Deserialize, Apiv2Schema)]
pub struct RefreshRequest {
    pub refresh_token: Option<String>,
}

/// The refresh token from the body, else from the cookie.
pub fn presented_refresh(req: &HttpRequest, body: Option<Json<RefreshRequest>>) -> Option<String> {
    body.and_then(|b| b.into_inner().refresh_token)
        .filter(|t| !t.is_empty())
        .or_else(|| req.cookie(REFRESH_COOKIE).map(|c| c.value().to_owned()))
        .filter(|t| !t.is_empty())
}

/// Exchange a refresh token (cookie or body) for a new pair; the old one is spent.
#[api_v2_operation(tags(auth))]
#[tracing::instrument(skip_all)]
pub async fn refresh(
    req: HttpRequest,
    body: Option<Json<RefreshRequest>>,
    sessions: Data<Sessions>,
) -> Result<ApiOk<TokenPair>, ApiError> {
    let presented =
        presented_refresh(&req, body).ok_or_else(|| ApiError::new(kind::REFRESH_MISSING))?;
    let pair = sessions.refresh(&presented).await?;
    let cookie = refresh_cookie(&pair.refresh_token, sessions.settings());
    Ok(ApiOk::new(pair).cookie(cookie))
}
