//! `/auth/mfa/...`: enrolling second factors (a recent sign-in needed) and the login's second
//! step, `verify`, which turns a ticket and a code into the login answer.

use actix_web::{cookie::Cookie, web::Data, HttpRequest};
use paperclip::actix::{api_v2_operation, web::Json, Apiv2Schema};
use serde::{Deserialize, Serialize};

use super::login::{session_answer, LoginData};
use crate::account::{Accounts, Notice};
use crate::actors::repo::{FindUserById, RepoHandle};
use crate::auth::credentials::Authenticator;
use crate::auth::mfa::{Answer, Mfa, Refused, TotpEnrolment, Verified};
use crate::auth::reauth::Reauth;
use crate::auth::sessions::Sessions;
use crate::domain::Amr;
use crate::error::{kind, ApiError, Lang};
use crate::login_log::Reason;
use crate::web::{ApiOk, Client, CurrentUser};

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
/// wrong one, or without an enrolment under way). This session counts as multi-factor from
/// then on; the user's other sessions need the code to make sensitive changes.
#[api_v2_operation(tags(auth))]
#[tracing::instrument(skip_all, fields(uid = me.user.id))]
pub async fn confirm_totp(
    req: HttpRequest,
    me: CurrentUser,
    body: Json<CodeRequest>,
    mfa: Data<Mfa>,
    sessions: Data<Sessions>,
    accounts: Data<Accounts>,
) -> Result<ApiOk<TotpConfirmed>, ApiError> {
    let recovery_codes = mfa.confirm_totp(me.user.id, &body.code).await?;
    // The code was a second factor, proved in this session: it is multi-factor from now on
    // (the user's other sessions are not).
    sessions
        .reauthenticated(me.user.id, &me.sid, Amr::second(Amr::OTP))
        .await?;
    let added = Notice::FactorChanged {
        factor: "totp",
        added: true,
    };
    accounts
        .notify(me.user.id, added, Lang::from_request(&req))
        .await;
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

#[derive(Serialize, Apiv2Schema)]
pub struct Factors {
    /// The active factors: `totp`, and `recovery` while unused codes are left.
    pub factors: Vec<String>,
    pub recovery_codes_left: i64,
}

/// The caller's second factors.
#[api_v2_operation(tags(auth))]
pub async fn factors(me: CurrentUser, mfa: Data<Mfa>) -> Result<ApiOk<Factors>, ApiError> {
    let factors = mfa.factors(me.user.id).await?;
    Ok(ApiOk::new(Factors {
        factors: factors.iter().map(|f| f.as_str().to_owned()).collect(),
        recovery_codes_left: mfa.recovery_codes_left(me.user.id).await?,
    }))
}

#[derive(Serialize, Apiv2Schema)]
pub struct Removed {
    pub removed: bool,
}

/// Remove the TOTP factor (active or being enrolled) and, with it, the recovery codes: the
/// next login needs only the password. Needs a recent sign-in; 404 without TOTP.
#[api_v2_operation(tags(auth))]
#[tracing::instrument(skip_all, fields(uid = me.user.id))]
pub async fn remove_totp(
    req: HttpRequest,
    me: CurrentUser,
    reauth: Data<Reauth>,
    mfa: Data<Mfa>,
    accounts: Data<Accounts>,
) -> Result<ApiOk<Removed>, ApiError> {
    reauth.require_recent(me.user.id, &me.sid).await?;
    mfa.remove_totp(me.user.id).await?;
    let removed = Notice::FactorChanged {
        factor: "totp",
        added: false,
    };
    accounts
        .notify(me.user.id, removed, Lang::from_request(&req))
        .await;
    Ok(ApiOk::new(Removed { removed: true }))
}

#[derive(Deserialize, Apiv2Schema)]
pub struct VerifyRequest {
    /// `mfa_ticket` from the login answer.
    pub ticket: String,
    /// A TOTP code, or a recovery code; or else `webauthn`.
    #[serde(default)]
    pub code: Option<String>,
    /// A passkey's answer to the login answer's `webauthn` options: the `PublicKeyCredential`
    /// from `navigator.credentials.get()`, as JSON (binary values in base64url).
    #[serde(default)]
    pub webauthn: Option<serde_json::Value>,
}

#[derive(Deserialize, Apiv2Schema)]
pub struct TicketCodeRequest {
    /// `mfa_ticket` from a login answer with `enrolment_required`.
    pub ticket: String,
    /// The first code of the secret being enrolled.
    pub code: String,
}

/// The login's second step: the ticket from the login answer and a TOTP or recovery code, or a
/// passkey's assertion (`webauthn`), give the login answer's tokens (after a recovery code,
/// `recovery_codes_left` too). A wrong code,
/// an unknown, used or expired ticket all answer 401 `mfa_failed`; each wrong code uses one of
/// the ticket's `mfa.ticket_attempts`, and the last takes the ticket away.
#[api_v2_operation(tags(auth))]
#[tracing::instrument(skip_all)]
#[allow(clippy::too_many_arguments)]
pub async fn verify(
    req: HttpRequest,
    body: Json<VerifyRequest>,
    client: Client,
    mfa: Data<Mfa>,
    authenticator: Data<Authenticator>,
    sessions: Data<Sessions>,
    repo: Data<RepoHandle>,
) -> Result<ApiOk<LoginData>, ApiError> {
    let client = client.0;
    let answer = match (&body.code, &body.webauthn) {
        (Some(code), None) => Answer::Code(code),
        (None, Some(assertion)) => Answer::Passkey(assertion),
        _ => {
            return Err(ApiError::new(kind::INVALID_BODY)
                .with_detail("send either `code` or `webauthn` with the ticket"))
        }
    };
    let verified = match mfa.verify(&body.ticket, answer).await? {
        Ok(v) => v,
        Err(r) => {
            refused(&authenticator, &client, r);
            return Err(ApiError::new(kind::MFA_FAILED));
        }
    };
    let (mut data, cookie) =
        signed_in(&req, &client, &verified, &authenticator, &sessions, &repo).await?;
    data.recovery_codes_left = verified.recovery_codes_left;
    Ok(ApiOk::new(data).cookie(cookie))
}

/// A login's second step passed: the session starts (its `amr` the first step's and the
/// factor's), logged as the first step's method with the factor.
pub(super) async fn signed_in(
    req: &HttpRequest,
    client: &crate::domain::ClientInfo,
    verified: &Verified,
    authenticator: &Authenticator,
    sessions: &Sessions,
    repo: &RepoHandle,
) -> Result<(LoginData, Cookie<'static>), ApiError> {
    let user = repo
        .send(FindUserById { id: verified.uid })
        .await
        .map_err(ApiError::unavailable)?
        .filter(|u| u.is_enabled());
    let Some(user) = user else {
        tracing::info!(
            uid = verified.uid,
            "second factor for a user gone or disabled"
        );
        return Err(ApiError::new(kind::MFA_FAILED));
    };
    let method = format!("{}+{}", verified.method, verified.factor.as_str());
    authenticator.record(client, user.id, &user.username, Reason::Success, &method);
    session_answer(
        req,
        sessions,
        repo,
        client,
        user.id,
        user.multi_login,
        &verified.method,
        verified.amr(),
    )
    .await
}

/// Logs a refused second step (the one answer for every reason is the caller's).
fn refused(authenticator: &Authenticator, client: &crate::domain::ClientInfo, refused: Refused) {
    let factor = refused.factor.map_or("-", |f| f.as_str());
    match refused.who {
        Some((uid, username)) => {
            tracing::info!(uid, factor, "second factor refused");
            let method = format!("mfa:{factor}");
            authenticator.record(client, uid, &username, Reason::MfaFailed, &method);
        }
        None => tracing::info!("unknown, used or expired MFA ticket"),
    }
}

#[derive(Deserialize, Apiv2Schema)]
pub struct TicketRequest {
    /// `mfa_ticket` from a login answer with `enrolment_required`.
    pub ticket: String,
}

/// Enrolment for a user who must have a second factor (`mfa.required_for`) and has none: the
/// ticket from the login answer (`enrolment_required: true`) gives a TOTP secret, as
/// `POST /auth/mfa/totp` does; nothing else accepts that ticket. An unknown, used or expired
/// ticket, or one for a second factor, is 401 `mfa_failed`.
#[api_v2_operation(tags(auth))]
#[tracing::instrument(skip_all)]
pub async fn enrol_totp_with_ticket(
    body: Json<TicketRequest>,
    mfa: Data<Mfa>,
) -> Result<ApiOk<TotpEnrolment>, ApiError> {
    match mfa.enrol_totp_with_ticket(&body.ticket).await? {
        Some(e) => Ok(ApiOk::new(e)),
        None => Err(ApiError::new(kind::MFA_FAILED)),
    }
}

/// The enrolment's first code, with the ticket: the factor is active and the login finishes,
/// in the login answer's shape with `recovery_codes` (ten, shown only now). Every failure is
/// 401 `mfa_failed`; a wrong code uses one of the ticket's attempts.
#[api_v2_operation(tags(auth))]
#[tracing::instrument(skip_all)]
pub async fn confirm_totp_with_ticket(
    req: HttpRequest,
    body: Json<TicketCodeRequest>,
    client: Client,
    mfa: Data<Mfa>,
    authenticator: Data<Authenticator>,
    sessions: Data<Sessions>,
    repo: Data<RepoHandle>,
) -> Result<ApiOk<LoginData>, ApiError> {
    let client = client.0;
    let (verified, recovery_codes) = match mfa
        .confirm_totp_with_ticket(&body.ticket, &body.code)
        .await?
    {
        Ok(v) => v,
        Err(r) => {
            refused(&authenticator, &client, r);
            return Err(ApiError::new(kind::MFA_FAILED));
        }
    };
    let (mut data, cookie) =
        signed_in(&req, &client, &verified, &authenticator, &sessions, &repo).await?;
    data.recovery_codes = recovery_codes;
    Ok(ApiOk::new(data).cookie(cookie))
}
