use actix_web::{web::Data, HttpRequest};
use chrono::{DateTime, Utc};
use paperclip::actix::{api_v2_operation, web::Json, Apiv2Schema};
use serde::{Deserialize, Serialize};

use super::captcha::fresh;
use super::refresh_cookie;
use crate::actors::cache::load_user_from_db;
use crate::auth::captcha;
use crate::auth::credentials;
use crate::auth::sessions::TokenPair;
use crate::auth::user::AuthUser;
use crate::error::{kind, ApiError};
use crate::login_log::{entry, Method, Reason};
use crate::routes::ApiOk;
use crate::startup::AppState;
use crate::store::Once;

#[derive(Deserialize, Apiv2Schema)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
    /// Captcha id from `GET /auth/captcha` (required while `captcha.enabled`).
    pub uuid: Option<String>,
    /// The characters in the captcha image (case does not matter).
    pub captcha: Option<String>,
}

#[derive(Serialize, Apiv2Schema)]
pub struct LoginData {
    pub access_token: String,
    pub access_token_expire_time: DateTime<Utc>,
    pub refresh_token: String,
    pub refresh_token_expire_time: DateTime<Utc>,
    pub session_uuid: String,
    pub token_type: String,
    pub user: AuthUser,
}

impl LoginData {
    pub fn new(t: TokenPair, user: AuthUser) -> Self {
        Self {
            access_token: t.access_token,
            access_token_expire_time: t.access_token_expire_time,
            refresh_token: t.refresh_token,
            refresh_token_expire_time: t.refresh_token_expire_time,
            session_uuid: t.session_uuid,
            token_type: t.token_type,
            user,
        }
    }
}

/// Uses up the captcha (right or wrong, it is gone after this) and compares the answer.
async fn captcha_passes(
    state: &AppState,
    uuid: Option<&str>,
    answer: Option<&str>,
) -> Result<bool, ApiError> {
    let (Some(uuid), Some(answer)) = (uuid.filter(|u| u.len() <= 64), answer) else {
        return Ok(false);
    };
    let expected = state
        .store
        .take_once(Once::Captcha, uuid, state.clock.unix())
        .await?;
    Ok(expected.is_some_and(|e| captcha::matches(&e, answer)))
}

/// Log in with username, password and (when enabled) the captcha.
///
/// Order: rate limit, captcha (used up at this first check), then the credentials with one
/// uniform answer for an unknown user, a wrong password, a locked or a disabled account. A
/// captcha failure is 400 with business code 40001 and a fresh captcha in `data`.
#[api_v2_operation(tags(auth))]
#[tracing::instrument(skip_all, fields(username = %body.username))]
pub async fn login(
    state: Data<AppState>,
    req: HttpRequest,
    body: Json<LoginRequest>,
) -> Result<ApiOk<LoginData>, ApiError> {
    let LoginRequest {
        username,
        password,
        uuid,
        captcha,
    } = body.into_inner();
    let client = state.client_info(&req);
    if state.settings.captcha.enabled
        && !captcha_passes(&state, uuid.as_deref(), captcha.as_deref()).await?
    {
        state.login_log.record(entry(
            &username,
            None,
            Reason::CaptchaInvalid,
            Method::Password.as_str(),
            &client,
            state.clock.naive(),
        ));
        let retry = serde_json::to_value(fresh(&state).await?).map_err(ApiError::internal)?;
        return Err(ApiError::new(kind::CAPTCHA_INVALID).with_data(retry));
    }
    let user = credentials::check(&state, &client, &username, password, Method::Password).await?;
    let tokens = state
        .sessions
        .start(
            user.id,
            user.multi_login,
            &client,
            Method::Password.as_str(),
        )
        .await?;
    let profile = load_user_from_db(&state.repo, user.id)
        .await
        .map_err(ApiError::unavailable)?
        .ok_or_else(|| ApiError::new(kind::INVALID_CREDENTIALS))?;
    let settings = state.sessions.settings();
    let cookie = refresh_cookie(
        &tokens.refresh_token,
        settings.refresh_ttl_seconds,
        settings.cookie_secure,
    );
    Ok(ApiOk::new(LoginData::new(tokens, profile)).cookie(cookie))
}
