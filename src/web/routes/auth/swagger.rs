use actix_web::web::Data;
use paperclip::actix::{api_v2_operation, web::Form, web::Json, Apiv2Schema};
use serde::{Deserialize, Serialize};

use crate::auth::credentials::Authenticator;
use crate::auth::jwt::JwtKeys;
use crate::auth::mfa::Mfa;
use crate::auth::sessions::Sessions;
use crate::domain::Amr;
use crate::error::{kind, ApiError};
use crate::login_log::{Method, Reason};
use crate::web::Client;

/// The OAuth2 password grant as the Swagger UI posts it (form-encoded).
#[derive(Deserialize, Apiv2Schema)]
pub struct SwaggerLogin {
    pub username: String,
    pub password: String,
    /// Sent by OAuth2 clients (`password`); not required.
    pub grant_type: Option<String>,
    pub scope: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

/// An OAuth2 token response (not enveloped: the Swagger UI reads it as is).
#[derive(Serialize, Apiv2Schema)]
pub struct SwaggerToken {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: i64,
}

/// Swagger UI login (development): the OAuth2 password flow behind the Authorize button. No
/// captcha; the same rate limit, lockout and login log as POST /auth/login. The password grant
/// has no second step: a user with a second factor is refused (403 `mfa_required`).
#[api_v2_operation(tags(auth))]
#[tracing::instrument(skip_all, fields(username = %form.username))]
pub async fn swagger_login(
    form: Form<SwaggerLogin>,
    client: Client,
    authenticator: Data<Authenticator>,
    sessions: Data<Sessions>,
    jwt: Data<JwtKeys>,
    mfa: Data<Mfa>,
) -> Result<Json<SwaggerToken>, ApiError> {
    let SwaggerLogin {
        username, password, ..
    } = form.into_inner();
    let client = client.0;
    let user = authenticator
        .first_step(&client, &username, password, Method::Swagger)
        .await?;
    let method = Method::Swagger.as_str();
    if !mfa.second_step_needed(user.id).await? {
        authenticator.record(&client, user.id, &user.username, Reason::Success, method);
    } else {
        authenticator.record(
            &client,
            user.id,
            &user.username,
            Reason::MfaRequired,
            method,
        );
        return Err(ApiError::new(kind::MFA_REQUIRED));
    }
    let tokens = sessions
        .start(
            user.id,
            user.multi_login,
            &client,
            Method::Swagger.as_str(),
            Amr::PWD,
        )
        .await?;
    Ok(Json(SwaggerToken {
        access_token: tokens.access_token,
        token_type: "bearer".into(),
        expires_in: jwt.access_ttl(),
    }))
}
