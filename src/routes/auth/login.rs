use actix_web::{web::Data, HttpRequest};
use chrono::{DateTime, Utc};
use paperclip::actix::{api_v2_operation, web::Json, Apiv2Schema};
use serde::{Deserialize, Serialize};

use super::refresh_cookie;
use crate::actors::cache::load_user_from_db;
use crate::auth::client::ClientInfo;
use crate::auth::sessions::TokenPair;
use crate::auth::user::AuthUser;
use crate::error::{kind, ApiError};
use crate::routes::ApiOk;
use crate::startup::AppState;

#[derive(Deserialize, Apiv2Schema)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
    /// Captcha id from `GET /auth/captcha` (checked once captcha login is enabled).
    pub uuid: Option<String>,
    /// The captcha answer.
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

/// Longest username or password looked at; anything longer cannot match.
const MAX_CREDENTIAL: usize = 1024;

/// Log in with username and password.
///
/// Unknown user, wrong password and disabled account give the same answer in the same time.
#[api_v2_operation(tags(auth))]
#[tracing::instrument(skip_all, fields(username = %body.username))]
pub async fn login(
    state: Data<AppState>,
    req: HttpRequest,
    body: Json<LoginRequest>,
) -> Result<ApiOk<LoginData>, ApiError> {
    let LoginRequest {
        username, password, ..
    } = body.into_inner();
    let client = ClientInfo::from_request(&req);
    let user = if username.len() <= MAX_CREDENTIAL {
        let name = username.clone();
        state
            .repo
            .run(move |r| async move { r.user_by_username(&name).await })
            .await
            .map_err(ApiError::unavailable)?
    } else {
        None
    };
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    let password = if password.len() <= MAX_CREDENTIAL {
        password
    } else {
        String::new()
    };
    let verified = state
        .hasher
        .verify(password.clone(), stored)
        .await
        .map_err(ApiError::internal)?;
    let Some(user) = user.filter(|u| verified.ok && u.is_enabled()) else {
        tracing::info!(ip = %client.ip, "login refused");
        return Err(ApiError::new(kind::INVALID_CREDENTIALS));
    };
    let now = state.clock.naive();
    let uid = user.id;
    if verified.needs_rehash {
        let hash = state
            .hasher
            .hash(password)
            .await
            .map_err(ApiError::internal)?;
        state
            .repo
            .run(move |r| async move { r.set_password_hash(uid, &hash, None, now).await })
            .await
            .map_err(ApiError::unavailable)?;
        tracing::info!(uid, "rehashed a bcrypt password to Argon2id");
    }
    state
        .repo
        .run(move |r| async move { r.touch_last_login(uid, now).await })
        .await
        .map_err(ApiError::unavailable)?;
    let tokens = state
        .sessions
        .start(uid, user.multi_login, &client, "password")
        .await?;
    let profile = load_user_from_db(&state.repo, uid)
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
