use actix_web::web::Data;
use chrono::{DateTime, Utc};
use paperclip::actix::{api_v2_operation, web::Json, Apiv2Schema};
use serde::{Deserialize, Serialize};

use crate::auth::reauth::{Confirmation, Reauth};
use crate::clock::SharedClock;
use crate::error::{kind, ApiError};
use crate::web::{ApiOk, CurrentUser};

#[derive(Deserialize, Apiv2Schema)]
pub struct ReauthRequest {
    /// Needed unless a passkey answers (`challenge_id` and `webauthn`).
    #[serde(default)]
    pub password: Option<String>,
    /// A TOTP or recovery code: needed with the password when the user has a second factor.
    #[serde(default)]
    pub code: Option<String>,
    /// From `POST /auth/reauthenticate/options`.
    #[serde(default)]
    pub challenge_id: Option<String>,
    /// A passkey's answer to those options: the `PublicKeyCredential`, as JSON.
    #[serde(default)]
    pub webauthn: Option<serde_json::Value>,
}

#[derive(Serialize, Apiv2Schema)]
pub struct Reauthenticated {
    /// This session counts as signed in at this time.
    pub auth_time: DateTime<Utc>,
}

/// Confirm it is you: the password again, for this session, and a TOTP or recovery code when
/// the user has a second factor (without one, 401 `mfa_code_required`; a wrong one, 400
/// `invalid_mfa_code`); or a passkey alone, answering `POST /auth/reauthenticate/options`
/// (400 `passkey_failed` when it does not). Sensitive changes (binding a provider, a password, second factors)
/// need a recent confirmation. Checks are limited per user.
#[api_v2_operation(tags(auth))]
#[tracing::instrument(skip_all, fields(uid = me.user.id))]
pub async fn reauthenticate(
    me: CurrentUser,
    body: Json<ReauthRequest>,
    reauth: Data<Reauth>,
    clock: Data<SharedClock>,
) -> Result<ApiOk<Reauthenticated>, ApiError> {
    let body = body.into_inner();
    if let (Some(challenge_id), Some(assertion)) = (&body.challenge_id, &body.webauthn) {
        if !reauth
            .confirm_with_passkey(me.user.id, &me.sid, challenge_id, assertion)
            .await?
        {
            return Err(ApiError::new(kind::PASSKEY_FAILED));
        }
        return Ok(ApiOk::new(Reauthenticated {
            auth_time: clock.now(),
        }));
    }
    let Some(password) = body.password else {
        return Err(ApiError::new(kind::INVALID_BODY)
            .with_detail("send `password` (and `code`), or `challenge_id` and `webauthn`"));
    };
    let confirmed = reauth
        .confirm(me.user.id, &me.sid, password, body.code.as_deref())
        .await?;
    match confirmed {
        Confirmation::Confirmed => {}
        Confirmation::WrongPassword => return Err(ApiError::new(kind::INVALID_CREDENTIALS)),
        Confirmation::CodeNeeded => return Err(ApiError::new(kind::MFA_CODE_NEEDED)),
        Confirmation::WrongCode => return Err(ApiError::new(kind::INVALID_MFA_CODE)),
    }
    Ok(ApiOk::new(Reauthenticated {
        auth_time: clock.now(),
    }))
}

/// Options for confirming it is you with a passkey (then `POST /auth/reauthenticate` with
/// `challenge_id` and `webauthn`); 404 without a passkey.
#[api_v2_operation(tags(auth))]
pub async fn options(
    me: CurrentUser,
    mfa: Data<crate::auth::mfa::Mfa>,
) -> Result<ApiOk<crate::auth::mfa::passkey::PasskeyOptions>, ApiError> {
    Ok(ApiOk::new(mfa.passkey_reauth_options(me.user.id).await?))
}
