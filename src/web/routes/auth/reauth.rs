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
    pub password: String,
    /// A TOTP or recovery code: needed when the user has a second factor.
    #[serde(default)]
    pub code: Option<String>,
}

#[derive(Serialize, Apiv2Schema)]
pub struct Reauthenticated {
    /// This session counts as signed in at this time.
    pub auth_time: DateTime<Utc>,
}

/// Confirm it is you: the password again, for this session, and a TOTP or recovery code when
/// the user has a second factor (without one, 401 `mfa_code_required`; a wrong one, 400
/// `invalid_mfa_code`). Sensitive changes (binding a provider, a password, second factors)
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
    let confirmed = reauth
        .confirm(me.user.id, &me.sid, body.password, body.code.as_deref())
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
