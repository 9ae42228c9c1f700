//! `/auth/mfa/...`: enrolling second factors (a recent sign-in needed).

use actix_web::web::Data;
use paperclip::actix::{api_v2_operation, web::Json, Apiv2Schema};
use serde::{Deserialize, Serialize};

use crate::auth::mfa::{Mfa, TotpEnrolment};
use crate::auth::reauth::Reauth;
use crate::error::ApiError;
use crate::web::{ApiOk, CurrentUser};

/// Start enrolling TOTP: a new secret, its `otpauth://` URI and QR code, shown once. It
/// becomes the user's factor only with its first code (`POST /auth/mfa/totp/confirm`). Needs
/// a recent sign-in (else 401 `insufficient_user_authentication`); 409 while TOTP is active.
#[api_v2_operation(tags(auth))]
#[tracing::instrument(skip_all, fields(uid = me.user.id))]
pub async fn enrol_totp(
    me: CurrentUser,
    reauth: Data<Reauth>,
    mfa: Data<Mfa>,
) -> Result<ApiOk<TotpEnrolment>, ApiError> {
    reauth.require_recent(me.user.id, &me.sid).await?;
    Ok(ApiOk::new(
        mfa.enrol_totp(me.user.id, &me.user.user.username).await?,
    ))
}

#[derive(Deserialize, Apiv2Schema)]
pub struct CodeRequest {
    /// The 6 digits the authenticator app shows.
    pub code: String,
}

#[derive(Serialize, Apiv2Schema)]
pub struct TotpConfirmed {
    /// Ten single-use codes, shown only now; present when TOTP is the user's first factor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_codes: Option<Vec<String>>,
}

/// Activate the TOTP secret being enrolled with its first code (400 `invalid_mfa_code` for a
/// wrong one, or without an enrolment under way).
#[api_v2_operation(tags(auth))]
#[tracing::instrument(skip_all, fields(uid = me.user.id))]
pub async fn confirm_totp(
    me: CurrentUser,
    body: Json<CodeRequest>,
    mfa: Data<Mfa>,
) -> Result<ApiOk<TotpConfirmed>, ApiError> {
    let recovery_codes = mfa.confirm_totp(me.user.id, &body.code).await?;
    Ok(ApiOk::new(TotpConfirmed { recovery_codes }))
}

#[derive(Serialize, Apiv2Schema)]
pub struct RecoveryCodes {
    /// Ten single-use codes, shown only now; the ones before are void.
    pub recovery_codes: Vec<String>,
}

/// New recovery codes; the old set stops working. Needs a recent sign-in and a second factor
/// (404 without one).
#[api_v2_operation(tags(auth))]
#[tracing::instrument(skip_all, fields(uid = me.user.id))]
pub async fn regenerate_recovery_codes(
    me: CurrentUser,
    reauth: Data<Reauth>,
    mfa: Data<Mfa>,
) -> Result<ApiOk<RecoveryCodes>, ApiError> {
    reauth.require_recent(me.user.id, &me.sid).await?;
    let recovery_codes = mfa.regenerate_recovery_codes(me.user.id).await?;
    Ok(ApiOk::new(RecoveryCodes { recovery_codes }))
}
