//! The account's life by email: sign-up, verifying an address, a forgotten password, a new
//! address. The routes anyone can call answer the same whether an account exists or not.

use actix_web::{web::Data, HttpRequest};
use paperclip::actix::{api_v2_operation, web::Json, Apiv2Schema};
use serde::{Deserialize, Serialize};

use crate::account::{Accounts, SignUp, SignedUp};
use crate::auth::captcha::Captchas;
use crate::auth::reauth::Reauth;
use crate::error::{kind, ApiError, Lang};
use crate::web::{ApiOk, Client, CurrentUser};

#[derive(Deserialize, Apiv2Schema)]
pub struct RegisterRequest {
    pub username: String,
    pub email: String,
    pub password: String,
    /// Captcha id from `GET /auth/captcha` (required while `captcha.enabled`).
    pub uuid: Option<String>,
    pub captcha: Option<String>,
}

#[derive(Deserialize, Apiv2Schema)]
pub struct AccountRequest {
    /// The account's username or email address.
    pub username_or_email: String,
    /// Captcha id from `GET /auth/captcha` (required while `captcha.enabled`).
    pub uuid: Option<String>,
    pub captcha: Option<String>,
}

#[derive(Deserialize, Apiv2Schema)]
pub struct VerifyEmailRequest {
    /// The `token` of the mailed link; or `email` and `code`.
    pub token: Option<String>,
    pub email: Option<String>,
    /// The six-digit code from the same message.
    pub code: Option<String>,
}

#[derive(Deserialize, Apiv2Schema)]
pub struct ResetRequest {
    /// The `token` of the mailed reset link.
    pub token: String,
    pub password: String,
}

#[derive(Deserialize, Apiv2Schema)]
pub struct ChangeEmailRequest {
    pub email: String,
}

/// What a route that may send mail says, whatever happened.
#[derive(Serialize, Apiv2Schema)]
pub struct Mailed {
    /// "If the account exists and has an address, a message is on its way."
    pub sent_if_known: bool,
}

#[derive(Serialize, Apiv2Schema)]
pub struct EmailVerified {
    pub email_verified: bool,
}

#[derive(Serialize, Apiv2Schema)]
pub struct EmailChangeStarted {
    /// The address the verification went to; it becomes the account's once verified.
    pub pending_email: String,
}

/// Whether sign-up is open, for a page deciding to offer it.
#[derive(Serialize, Apiv2Schema)]
pub struct Registration {
    pub enabled: bool,
    /// Domains a new account's address must have; empty: any.
    pub allowed_email_domains: Vec<String>,
    /// A new account signs in only once its address is verified.
    pub require_verified_email: bool,
}

/// Whether sign-up is open here (`registration.enabled`) and what it needs.
#[api_v2_operation(tags(auth))]
pub async fn registration(accounts: Data<Accounts>) -> Result<ApiOk<Registration>, ApiError> {
    let r = accounts.registration();
    Ok(ApiOk::new(Registration {
        enabled: r.enabled,
        allowed_email_domains: r.allowed_email_domains.clone(),
        require_verified_email: r.require_verified_email,
    }))
}

/// What a public route that may send mail checks first: room in the mail queue (503 at once),
/// the captcha as at login (400 `captcha_invalid`, business code 40001, with a fresh one), then
/// the hourly limits of the client and of the address asked about (429).
async fn admit(
    accounts: &Accounts,
    captchas: &Captchas,
    client: &Client,
    (uuid, answer): (Option<&str>, Option<&str>),
    address: &str,
) -> Result<(), ApiError> {
    accounts.mailer().require_room()?;
    if captchas.enabled() && !captchas.check(uuid, answer).await? {
        let retry = serde_json::to_value(captchas.issue().await?).map_err(ApiError::internal)?;
        return Err(ApiError::new(kind::CAPTCHA_INVALID).with_data(retry));
    }
    accounts.count(&client.0, Some(address)).await
}

/// Sign up (`registration.enabled`, else 403 `registration_closed`): username, email, password
/// and the captcha, validated as the admin API validates them (409 `conflict` for a taken
/// username, `email_taken` for a taken address, 400 `email_domain_not_allowed` outside
/// `registration.allowed_email_domains`). The address gets a verification link and code; with
/// `registration.require_verified_email` the account signs in only once it is verified.
#[api_v2_operation(tags(auth))]
pub async fn register(
    req: HttpRequest,
    body: Json<RegisterRequest>,
    client: Client,
    accounts: Data<Accounts>,
    captchas: Data<Captchas>,
) -> Result<ApiOk<SignedUp>, ApiError> {
    if !accounts.registration().enabled {
        return Err(ApiError::new(kind::REGISTRATION_CLOSED));
    }
    let body = body.into_inner();
    let captcha = (body.uuid.as_deref(), body.captcha.as_deref());
    admit(&accounts, &captchas, &client, captcha, &body.email).await?;
    let signed_up = accounts
        .sign_up(
            SignUp {
                username: body.username,
                email: body.email,
                password: body.password,
            },
            Lang::from_request(&req),
        )
        .await?;
    Ok(ApiOk::new(signed_up))
}

/// Forgotten password: mails a single-use reset link (`{public_url}/reset?token=…`, valid
/// `mail.reset_ttl_seconds`) to the account's address. The captcha as at login. The answer is
/// the same, in the same time, whether the account exists or not.
#[api_v2_operation(tags(auth))]
pub async fn forgot(
    req: HttpRequest,
    body: Json<AccountRequest>,
    client: Client,
    accounts: Data<Accounts>,
    captchas: Data<Captchas>,
) -> Result<ApiOk<Mailed>, ApiError> {
    let body = body.into_inner();
    let captcha = (body.uuid.as_deref(), body.captcha.as_deref());
    admit(
        &accounts,
        &captchas,
        &client,
        captcha,
        &body.username_or_email,
    )
    .await?;
    accounts.forgot(body.username_or_email, Lang::from_request(&req));
    Ok(ApiOk::new(Mailed {
        sent_if_known: true,
    }))
}

/// Sets a new password with a reset link's token (400 `invalid_reset_link` when it is unknown,
/// used or expired; `password_policy` leaves the link usable). Every session of the user ends,
/// on every node, and the user is told; second factors stay.
#[api_v2_operation(tags(auth))]
pub async fn reset(
    req: HttpRequest,
    body: Json<ResetRequest>,
    accounts: Data<Accounts>,
) -> Result<ApiOk<Mailed>, ApiError> {
    let body = body.into_inner();
    accounts
        .reset(&body.token, body.password, Lang::from_request(&req))
        .await?;
    Ok(ApiOk::new(Mailed {
        sent_if_known: true,
    }))
}

/// Verifies an address: the mailed link's `token`, or `email` and the six-digit `code` (a few
/// wrong codes and that address's codes stop working). 400 `invalid_email_link` otherwise.
#[api_v2_operation(tags(auth))]
pub async fn verify_email(
    req: HttpRequest,
    body: Json<VerifyEmailRequest>,
    accounts: Data<Accounts>,
) -> Result<ApiOk<EmailVerified>, ApiError> {
    let body = body.into_inner();
    let lang = Lang::from_request(&req);
    match (body.token, body.email, body.code) {
        (Some(token), _, _) => accounts.verify_link(&token, lang).await?,
        (None, Some(email), Some(code)) => accounts.verify_code(&email, &code, lang).await?,
        _ => {
            return Err(ApiError::new(kind::INVALID_BODY)
                .with_detail("send `token`, or `email` and `code`"))
        }
    }
    Ok(ApiOk::new(EmailVerified {
        email_verified: true,
    }))
}

/// Mails the verification again to an account whose address is not verified yet (a sign-up
/// that lost its message). The captcha as at login; the same answer whether it exists or not.
#[api_v2_operation(tags(auth))]
pub async fn resend_verification(
    req: HttpRequest,
    body: Json<AccountRequest>,
    client: Client,
    accounts: Data<Accounts>,
    captchas: Data<Captchas>,
) -> Result<ApiOk<Mailed>, ApiError> {
    let body = body.into_inner();
    let captcha = (body.uuid.as_deref(), body.captcha.as_deref());
    admit(
        &accounts,
        &captchas,
        &client,
        captcha,
        &body.username_or_email,
    )
    .await?;
    accounts.resend_verification(body.username_or_email, Lang::from_request(&req));
    Ok(ApiOk::new(Mailed {
        sent_if_known: true,
    }))
}

/// Change the caller's email address: needs a recent sign-in (else 401
/// `insufficient_user_authentication`). The new address gets a verification link and code and
/// becomes the account's only once verified; the old one is told then.
#[api_v2_operation(tags(users))]
pub async fn change_email(
    req: HttpRequest,
    me: CurrentUser,
    body: Json<ChangeEmailRequest>,
    client: Client,
    accounts: Data<Accounts>,
    reauth: Data<Reauth>,
) -> Result<ApiOk<EmailChangeStarted>, ApiError> {
    reauth.require_recent(me.user.id, &me.sid).await?;
    accounts.mailer().require_room()?;
    let body = body.into_inner();
    // The new address is counted too: a signed-in user cannot flood someone else's mailbox.
    accounts.count(&client.0, Some(&body.email)).await?;
    let pending_email = accounts
        .change_email(me.user.id, &body.email, Lang::from_request(&req))
        .await?;
    Ok(ApiOk::new(EmailChangeStarted { pending_email }))
}
