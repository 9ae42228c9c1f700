//! Passkeys: listing, registering (a recent sign-in needed) and removing one's own, and signing
//! in with a passkey alone. As the second step of a login they go to `/auth/mfa/verify`.

use actix_web::{web::Data, web::Path, HttpRequest};
use paperclip::actix::{api_v2_operation, web::Json, Apiv2Schema};
use serde::{Deserialize, Serialize};

use super::login::{session_answer, LoginData};
use crate::account::{Accounts, Notice};
use crate::actors::repo::{RepoHandle, TouchLastLogin};
use crate::auth::credentials::Authenticator;
use crate::auth::mfa::passkey::{PasskeyInfo, PasskeyOptions};
use crate::auth::mfa::Mfa;
use crate::auth::reauth::Reauth;
use crate::auth::sessions::Sessions;
use crate::clock::SharedClock;
use crate::domain::Amr;
use crate::error::{kind, ApiError, Lang};
use crate::login_log::Reason;
use crate::web::{ApiOk, Client, CurrentUser};

/// The caller's passkeys, oldest first.
#[api_v2_operation(tags(auth))]
pub async fn list(me: CurrentUser, mfa: Data<Mfa>) -> Result<ApiOk<Vec<PasskeyInfo>>, ApiError> {
    Ok(ApiOk::new(mfa.passkeys(me.user.id).await?))
}

#[derive(Deserialize, Apiv2Schema)]
pub struct NewPasskey {
    /// What the user calls it ("Laptop", "YubiKey"): 1 to 64 characters.
    pub name: String,
}

/// Start registering a passkey: the options for `navigator.credentials.create()`. Needs a
/// recent sign-in (with the second factor, once there is one).
#[api_v2_operation(tags(auth))]
#[tracing::instrument(skip_all, fields(uid = me.user.id))]
pub async fn register_start(
    me: CurrentUser,
    body: Json<NewPasskey>,
    reauth: Data<Reauth>,
    mfa: Data<Mfa>,
) -> Result<ApiOk<PasskeyOptions>, ApiError> {
    reauth.require_recent(me.user.id, &me.sid).await?;
    Ok(ApiOk::new(
        mfa.start_passkey_registration(&me.user, &me.sid, &body.name)
            .await?,
    ))
}

#[derive(Deserialize, Apiv2Schema)]
pub struct Ceremony {
    /// From the options' answer.
    pub challenge_id: String,
    /// The `PublicKeyCredential` the browser made, as JSON (binary values in base64url).
    pub credential: serde_json::Value,
}

#[derive(Serialize, Apiv2Schema)]
pub struct PasskeyRegistered {
    pub passkey: PasskeyInfo,
    /// Ten single-use codes, shown only now; present when this is the user's first factor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_codes: Option<Vec<String>>,
}

/// Finish registering: the authenticator's answer. 400 `passkey_failed` when the ceremony does
/// not accept it (another origin, a wrong, used or expired challenge). This session counts as
/// multi-factor from then on.
#[api_v2_operation(tags(auth))]
#[tracing::instrument(skip_all, fields(uid = me.user.id))]
pub async fn register_finish(
    req: HttpRequest,
    me: CurrentUser,
    body: Json<Ceremony>,
    mfa: Data<Mfa>,
    sessions: Data<Sessions>,
    accounts: Data<Accounts>,
) -> Result<ApiOk<PasskeyRegistered>, ApiError> {
    let (passkey, recovery_codes) = mfa
        .finish_passkey_registration(me.user.id, &me.sid, &body.challenge_id, &body.credential)
        .await?;
    sessions
        .reauthenticated(me.user.id, &me.sid, Amr::second(Amr::HWK))
        .await?;
    let added = Notice::FactorChanged {
        factor: "passkey",
        added: true,
    };
    accounts
        .notify(me.user.id, added, Lang::from_request(&req))
        .await;
    Ok(ApiOk::new(PasskeyRegistered {
        passkey,
        recovery_codes,
    }))
}

#[derive(Serialize, Apiv2Schema)]
pub struct PasskeyRemoved {
    pub removed: bool,
}

/// Remove one of the caller's passkeys (404 when it is not theirs). Needs a recent sign-in.
#[api_v2_operation(tags(auth))]
#[tracing::instrument(skip_all, fields(uid = me.user.id))]
pub async fn remove(
    req: HttpRequest,
    me: CurrentUser,
    id: Path<i64>,
    reauth: Data<Reauth>,
    mfa: Data<Mfa>,
    accounts: Data<Accounts>,
) -> Result<ApiOk<PasskeyRemoved>, ApiError> {
    reauth.require_recent(me.user.id, &me.sid).await?;
    mfa.remove_passkey(me.user.id, id.into_inner()).await?;
    let removed = Notice::FactorChanged {
        factor: "passkey",
        added: false,
    };
    accounts
        .notify(me.user.id, removed, Lang::from_request(&req))
        .await;
    Ok(ApiOk::new(PasskeyRemoved { removed: true }))
}

/// Options for signing in with a passkey alone (`navigator.credentials.get()`, or the
/// username field's autofill with `mediation: "conditional"`): single-use, short-lived.
#[api_v2_operation(tags(auth))]
pub async fn login_options(mfa: Data<Mfa>) -> Result<ApiOk<PasskeyOptions>, ApiError> {
    Ok(ApiOk::new(mfa.passkey_login_options().await?))
}

/// Sign in with a passkey alone (its user verified): the login answer, its session's `amr`
/// `["hwk", "mfa"]`. Every failure (unknown, used or expired options, a passkey not registered
/// here, a signature or counter that does not verify, a disabled user) is 401
/// `passkey_sign_in_failed`.
#[api_v2_operation(tags(auth))]
#[tracing::instrument(skip_all)]
#[allow(clippy::too_many_arguments)]
pub async fn login(
    req: HttpRequest,
    body: Json<Ceremony>,
    client: Client,
    mfa: Data<Mfa>,
    authenticator: Data<Authenticator>,
    sessions: Data<Sessions>,
    repo: Data<RepoHandle>,
    clock: Data<SharedClock>,
) -> Result<ApiOk<LoginData>, ApiError> {
    let client = client.0;
    let user = mfa
        .passkey_login(&body.challenge_id, &body.credential)
        .await?
        .filter(|u| u.is_enabled());
    let Some(user) = user else {
        return Err(ApiError::new(kind::PASSKEY_SIGN_IN_FAILED));
    };
    authenticator.record(&client, user.id, &user.username, Reason::Success, "passkey");
    repo.send(TouchLastLogin {
        user_id: user.id,
        at: clock.naive(),
    })
    .await
    .map_err(ApiError::unavailable)?;
    let (data, cookie) = session_answer(
        &req,
        &sessions,
        &repo,
        &client,
        user.id,
        user.multi_login,
        "passkey",
        Amr::passkey_alone(),
    )
    .await?;
    Ok(ApiOk::new(data).cookie(cookie))
}
