use actix_web::{web::Data, HttpRequest};
use chrono::{DateTime, Utc};
use paperclip::actix::{api_v2_operation, web::Json, Apiv2Schema};
use paperclip::v2::models::DefaultSchemaRaw;
use paperclip::v2::schema::Apiv2Schema as Schema;
use serde::{Deserialize, Serialize};

use super::{refresh_cookie, refresh_token_in_body};
use crate::actors::repo::{LoadAuthUser, RepoHandle};
use crate::auth::captcha::Captchas;
use crate::auth::credentials::Authenticator;
use crate::auth::mfa::{Mfa, MfaChallenge};
use crate::auth::sessions::{Sessions, TokenPair};
use crate::clock::SharedClock;
use crate::domain::{Amr, AuthUser};
use crate::error::{kind, ApiError};
use crate::login_log::{LoginLog, Method, Reason};
use crate::web::{ApiOk, Client};

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
    /// Also in the HttpOnly cookie; left out for browser pages (`session.refresh_token_in_body`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub refresh_token_expire_time: DateTime<Utc>,
    pub session_uuid: String,
    pub token_type: String,
    pub user: AuthUser,
    /// After a recovery code at `POST /auth/mfa/verify`: how many unused ones are left.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_codes_left: Option<i64>,
    /// After an enrolment ticket's confirmation: the ten recovery codes, shown only now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_codes: Option<Vec<String>>,
}

/// The login answer: the tokens, or for a user with a second factor
/// `{mfa_required: true, mfa_ticket, factors}` (then `POST /auth/mfa/verify`).
#[derive(Serialize)]
#[serde(untagged)]
pub enum LoginAnswer {
    Tokens(Box<LoginData>),
    Mfa(MfaChallenge),
}

impl Schema for LoginAnswer {
    fn name() -> Option<String> {
        Some("LoginAnswer".into())
    }

    fn description() -> &'static str {
        "The tokens (LoginData), or for a user with a second factor {mfa_required, mfa_ticket, factors}"
    }

    fn raw_schema() -> DefaultSchemaRaw {
        let mut s = LoginData::raw_schema();
        let mfa = MfaChallenge::raw_schema();
        s.properties.extend(mfa.properties);
        // Either shape: no field is in both.
        s.required.clear();
        s.name = Self::name();
        s.description = Some(Self::description().into());
        s
    }
}

impl LoginData {
    /// The answer; the refresh token in it only `with_refresh_token`.
    pub fn new(t: TokenPair, user: AuthUser, with_refresh_token: bool) -> Self {
        Self {
            access_token: t.access_token,
            access_token_expire_time: t.access_token_expire_time,
            refresh_token: with_refresh_token.then_some(t.refresh_token),
            refresh_token_expire_time: t.refresh_token_expire_time,
            session_uuid: t.session_uuid,
            token_type: t.token_type,
            user,
            recovery_codes_left: None,
            recovery_codes: None,
        }
    }
}

/// A session starts for a user who proved who they are (by `method`, with `amr`): the login
/// answer and its refresh cookie, as every way in answers.
#[allow(clippy::too_many_arguments)]
pub async fn session_answer(
    req: &HttpRequest,
    sessions: &Sessions,
    repo: &RepoHandle,
    client: &crate::domain::ClientInfo,
    uid: i64,
    multi_login: bool,
    method: &str,
    amr: Amr,
) -> Result<(LoginData, actix_web::cookie::Cookie<'static>), ApiError> {
    let tokens = sessions
        .start(uid, multi_login, client, method, amr)
        .await?;
    let profile = profile(repo, uid).await?;
    let settings = sessions.settings();
    let cookie = refresh_cookie(&tokens.refresh_token, settings);
    let in_body = refresh_token_in_body(req, settings);
    Ok((LoginData::new(tokens, profile, in_body), cookie))
}

/// The user as the login answer shows it (read fresh: the login just changed it).
pub async fn profile(repo: &RepoHandle, uid: i64) -> Result<AuthUser, ApiError> {
    repo.send(LoadAuthUser { id: uid })
        .await
        .map_err(ApiError::unavailable)?
        .ok_or_else(|| ApiError::new(kind::INVALID_CREDENTIALS))
}

/// Log in with username, password and (when enabled) the captcha.
///
/// Order: rate limit, captcha (a right answer uses it up; a wrong one counts one of its
/// `captcha.attempts`), then the credentials with one
/// uniform answer for an unknown user, a wrong password, a locked or a disabled account. A
/// captcha failure is 400 with business code 40001 and a fresh captcha in `data`; an empty
/// username or password is 400 `invalid_body`. A user with a second factor gets no tokens yet:
/// `{mfa_required: true, mfa_ticket, factors}`, finished at `POST /auth/mfa/verify`.
#[api_v2_operation(tags(auth))]
#[tracing::instrument(skip_all, fields(username = %body.username))]
#[allow(clippy::too_many_arguments)]
pub async fn login(
    req: HttpRequest,
    body: Json<LoginRequest>,
    client: Client,
    captchas: Data<Captchas>,
    authenticator: Data<Authenticator>,
    sessions: Data<Sessions>,
    repo: Data<RepoHandle>,
    login_log: Data<LoginLog>,
    clock: Data<SharedClock>,
    mfa: Data<Mfa>,
) -> Result<ApiOk<LoginAnswer>, ApiError> {
    let LoginRequest {
        username,
        password,
        uuid,
        captcha,
    } = body.into_inner();
    if username.is_empty() || password.is_empty() {
        // Not a credential at all: refused as the document says (`minLength`), before the
        // captcha is spent or the lockout and the login log see it.
        return Err(ApiError::new(kind::INVALID_BODY)
            .with_detail("username and password must not be empty"));
    }
    let client = client.0;
    if captchas.enabled() && !captchas.check(uuid.as_deref(), captcha.as_deref()).await? {
        login_log.record(
            &username,
            None,
            Reason::CaptchaInvalid,
            Method::Password.as_str(),
            &client,
            clock.naive(),
        );
        let retry = serde_json::to_value(captchas.issue().await?).map_err(ApiError::internal)?;
        return Err(ApiError::new(kind::CAPTCHA_INVALID).with_data(retry));
    }
    let user = authenticator
        .first_step(&client, &username, password, Method::Password)
        .await?;
    let method = Method::Password.as_str();
    if let Some(challenge) = mfa.challenge(user.id, &user.username, method).await? {
        authenticator.record(
            &client,
            user.id,
            &user.username,
            Reason::MfaRequired,
            method,
        );
        return Ok(ApiOk::new(LoginAnswer::Mfa(challenge)));
    }
    authenticator.record(&client, user.id, &user.username, Reason::Success, method);
    let (data, cookie) = session_answer(
        &req,
        &sessions,
        &repo,
        &client,
        user.id,
        user.multi_login,
        method,
        Amr::PWD,
    )
    .await?;
    Ok(ApiOk::new(LoginAnswer::Tokens(Box::new(data))).cookie(cookie))
}
