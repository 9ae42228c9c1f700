use actix_web::{web::Data, HttpRequest};
use paperclip::actix::{api_v2_operation, web::Json, web::Path, web::Query, Apiv2Schema};
use serde::{Deserialize, Serialize};

use super::{
    browser_cookie, clear_browser_cookie, with_param, Purpose, StateRecord, BROWSER_COOKIE,
};
use crate::account::Accounts;
use crate::actors::repo::{RepoHandle, TouchLastLogin};
use crate::auth::client::ClientInfo;
use crate::auth::mfa::Mfa;
use crate::auth::reauth::Reauth;
use crate::auth::sessions::Sessions;
use crate::clock::SharedClock;
use crate::config::OAuth2Settings;
use crate::crypto::{ct_eq, digest, random_token};
use crate::domain::Amr;
use crate::error::{kind, ApiError, Lang};
use crate::login_log::{LoginLog, Reason};
use crate::oauth2::{accounts, OAuthError, Providers};
use crate::store::{Once, Store};
use crate::web::routes::auth::login::{profile, LoginAnswer, LoginData};
use crate::web::routes::auth::{refresh_cookie, refresh_token_in_body};
use crate::web::{ApiOk, Client, CurrentUser};

/// What the social-login routes use, registered once.
pub struct Flow {
    pub providers: Providers,
    pub settings: OAuth2Settings,
    pub store: Store,
    pub sessions: Sessions,
    pub repo: RepoHandle,
    pub login_log: LoginLog,
    pub clock: SharedClock,
    /// Mails a verification to an address a provider did not vouch for.
    pub accounts: Accounts,
}

/// A configured login provider, as a login page lists it.
#[derive(Serialize, Apiv2Schema)]
pub struct ProviderView {
    /// The name in the paths (`/oauth2/{name}`).
    pub name: String,
    /// `github`, `google` or `oidc`.
    pub kind: String,
    /// What a button says.
    pub display_name: String,
}

/// The configured social login providers.
#[api_v2_operation(tags(oauth2))]
pub async fn providers(flow: Data<Flow>) -> Result<ApiOk<Vec<ProviderView>>, ApiError> {
    let list = flow
        .settings
        .providers
        .iter()
        .map(|(name, p)| ProviderView {
            name: name.clone(),
            kind: match p.kind {
                crate::config::ProviderKind::Github => "github",
                crate::config::ProviderKind::Google => "google",
                crate::config::ProviderKind::Oidc => "oidc",
            }
            .into(),
            display_name: p.display_name(name),
        })
        .collect();
    Ok(ApiOk::new(list))
}

#[derive(Deserialize, Apiv2Schema)]
pub struct StartQuery {
    /// `true`: answer 302 to the provider instead of returning its URL.
    pub redirect: Option<bool>,
    /// Where the browser lands afterwards; must equal `oauth2.frontend_login_url` or one of
    /// `oauth2.allowed_redirects` exactly.
    pub redirect_to: Option<String>,
}

/// Creates the state (single use, short-lived, tied to this browser by a cookie) and the
/// provider's authorize URL.
async fn begin(
    flow: &Flow,
    provider: &str,
    purpose: Purpose,
    redirect_to: Option<String>,
) -> Result<(String, actix_web::cookie::Cookie<'static>), ApiError> {
    let p = flow
        .providers
        .get(provider)
        .ok_or_else(|| ApiError::new(kind::NOT_FOUND))?;
    let o = &flow.settings;
    if let Some(to) = &redirect_to {
        let allowed = *to == o.frontend_login_url || o.allowed_redirects.iter().any(|a| a == to);
        if !allowed {
            return Err(ApiError::new(kind::INVALID_REDIRECT));
        }
    }
    let state_id = random_token();
    let browser = random_token();
    let started = p.start(&state_id).await.map_err(|e| {
        ApiError::new(kind::PROVIDER_UNAVAILABLE)
            .with_source(format!("cannot start a social login at {provider}: {e}"))
    })?;
    let record = StateRecord {
        provider: provider.to_owned(),
        purpose,
        verifier: started.verifier,
        nonce: started.nonce,
        browser: digest(&browser),
        redirect_to,
    };
    let json = serde_json::to_string(&record).map_err(ApiError::internal)?;
    flow.store
        .put_once(
            Once::OAuthState,
            &state_id,
            &json,
            o.state_ttl_seconds,
            flow.clock.unix(),
        )
        .await?;
    let cookie = browser_cookie(
        &browser,
        o.state_ttl_seconds,
        flow.sessions.settings().cookie_secure,
    );
    Ok((started.url, cookie))
}

/// Start a social login: the provider's authorize URL in `data` (or a 302 with `?redirect=true`).
#[api_v2_operation(tags(oauth2))]
pub async fn start(
    provider: Path<String>,
    query: Query<StartQuery>,
    flow: Data<Flow>,
) -> Result<ApiOk<String>, ApiError> {
    let q = query.into_inner();
    let (url, cookie) = begin(&flow, &provider, Purpose::Login, q.redirect_to).await?;
    let ok = ApiOk::new(url.clone()).cookie(cookie);
    Ok(if q.redirect == Some(true) {
        ok.redirect_to(url)
    } else {
        ok
    })
}

/// Start binding a provider identity to the caller's account: the authorize URL in `data`.
/// Needs a recent sign-in (`security.reauth_seconds`): else 401
/// `insufficient_user_authentication` (re-authenticate, then ask again).
#[api_v2_operation(tags(oauth2))]
pub async fn bind_start(
    me: CurrentUser,
    provider: Path<String>,
    flow: Data<Flow>,
    reauth: Data<Reauth>,
) -> Result<ApiOk<String>, ApiError> {
    reauth.require_recent(me.user.id, &me.sid).await?;
    let purpose = Purpose::Bind {
        user_id: me.user.id,
        sid: me.sid.to_string(),
    };
    let (url, cookie) = begin(&flow, &provider, purpose, None).await?;
    Ok(ApiOk::new(url).cookie(cookie))
}

#[derive(Deserialize, Apiv2Schema)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
}

/// What the callback keeps, under the digest of the one-time login code, until the browser that
/// ran the flow exchanges it: who signed in and that browser. No token: the session starts at
/// the exchange.
#[derive(Serialize, Deserialize)]
struct PendingLogin {
    uid: i64,
    method: String,
    browser: String,
}

/// The provider sends the browser back here. Ends with a 302 to the frontend: the login URL
/// with a one-time `code` (never a token), the bind URL, or the error URL with `error=<slug>`.
#[api_v2_operation(tags(oauth2))]
pub async fn callback(
    req: HttpRequest,
    provider: Path<String>,
    query: Query<CallbackQuery>,
    client: Client,
    flow: Data<Flow>,
) -> Result<ApiOk<()>, ApiError> {
    let provider = provider.into_inner();
    let client = client.0;
    let o = &flow.settings;
    match finish(&flow, &req, &client, &provider, query.into_inner()).await {
        Ok(done) => Ok(done),
        Err(e) => {
            tracing::info!(provider, slug = e.slug(), "social login failed");
            let method = format!("oauth2:{provider}");
            flow.login_log.record(
                "",
                None,
                Reason::OAuthFailed,
                &method,
                &client,
                flow.clock.naive(),
            );
            // The flow cookie stays: it may still be needed to exchange the code of a flow that
            // did finish (a reloaded callback page must not spoil it); it expires by itself.
            let url = with_param(&o.frontend_error_url, "error", e.slug());
            Ok(ApiOk::new(()).redirect_to(url))
        }
    }
}

async fn finish(
    flow: &Flow,
    req: &HttpRequest,
    client: &ClientInfo,
    provider: &str,
    q: CallbackQuery,
) -> Result<ApiOk<()>, OAuthError> {
    let now = flow.clock.unix();
    // The state is used up first, whatever happens next.
    let record = match q.state.as_deref().filter(|s| s.len() <= 128) {
        Some(s) => flow
            .store
            .take_once(Once::OAuthState, s, now)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "store unavailable");
                OAuthError::Internal
            })?,
        None => None,
    };
    let record: StateRecord = record
        .and_then(|r| serde_json::from_str(&r).ok())
        .ok_or(OAuthError::InvalidState)?;
    let browser = req
        .cookie(BROWSER_COOKIE)
        .map(|c| digest(c.value()))
        .unwrap_or_default();
    let same_browser = ct_eq(browser.as_bytes(), record.browser.as_bytes());
    if record.provider != provider || !same_browser {
        return Err(OAuthError::InvalidState);
    }
    if let Some(error) = q.error {
        return Err(if error == "access_denied" {
            OAuthError::AccessDenied
        } else {
            OAuthError::BadCode
        });
    }
    let code = q
        .code
        .filter(|c| !c.is_empty() && c.len() <= 2048)
        .ok_or(OAuthError::BadCode)?;
    let p = flow
        .providers
        .get(provider)
        .ok_or(OAuthError::InvalidState)?;
    let identity = p
        .identify(&code, &record.verifier, record.nonce.as_deref(), now)
        .await?;
    let at = flow.clock.naive();
    let o = &flow.settings;
    let method = format!("oauth2:{provider}");
    match record.purpose {
        Purpose::Bind { user_id, sid } => {
            accounts::bind(&flow.repo, user_id, provider, &identity, at).await?;
            // Listed if this session is later revoked for refresh-token reuse.
            if let Err(e) = flow.sessions.record_binding(user_id, &sid, provider).await {
                tracing::warn!(error = %e, "cannot note the binding in its session");
            }
            Ok(ApiOk::new(())
                .cookie(clear_browser_cookie(flow.sessions.settings().cookie_secure))
                .redirect_to(with_param(&o.frontend_bind_url, "bound", provider)))
        }
        Purpose::Login => {
            let username = identity.login.clone().unwrap_or_default();
            let user = match accounts::login(&flow.repo, o, provider, &identity, at).await {
                Err(OAuthError::AccountDisabled) => {
                    flow.login_log
                        .record(&username, None, Reason::Disabled, &method, client, at);
                    return Err(OAuthError::AccountDisabled);
                }
                other => other?,
            };
            // A first sign-in with an address the provider did not verify: prove it.
            if user.last_login_at.is_none() && user.email.is_some() && !user.email_verified {
                flow.accounts
                    .verify_new_address(user.id, Lang::from_request(req))
                    .await;
            }
            let code = random_token();
            let pending = serde_json::to_string(&PendingLogin {
                uid: user.id,
                method,
                browser: record.browser.clone(),
            })
            .map_err(|_| OAuthError::Internal)?;
            flow.store
                .put_once(
                    Once::LoginCode,
                    &digest(&code),
                    &pending,
                    o.code_ttl_seconds,
                    now,
                )
                .await
                .map_err(|_| OAuthError::Internal)?;
            let target = record
                .redirect_to
                .unwrap_or_else(|| o.frontend_login_url.clone());
            // The flow cookie stays until the exchange: only this browser can use the code.
            Ok(ApiOk::new(()).redirect_to(with_param(&target, "code", &code)))
        }
    }
}

#[derive(Deserialize, Apiv2Schema)]
pub struct ExchangeRequest {
    /// The one-time code from the frontend URL (60 s, single use).
    pub code: String,
}

/// Exchange a social login's one-time code for the same answer as a password login. Only the
/// browser that ran the flow can (its flow cookie must come along); the session starts here,
/// with the refresh cookie. A user with a second factor gets `{mfa_required, mfa_ticket,
/// factors}` instead, as after a password (then `POST /auth/mfa/verify`).
#[api_v2_operation(tags(oauth2))]
pub async fn exchange(
    req: HttpRequest,
    body: Json<ExchangeRequest>,
    client: Client,
    flow: Data<Flow>,
    mfa: Data<Mfa>,
) -> Result<ApiOk<LoginAnswer>, ApiError> {
    let code = body.into_inner().code;
    let invalid = || ApiError::new(kind::INVALID_LOGIN_CODE);
    if code.is_empty() || code.len() > 128 {
        return Err(invalid());
    }
    let pending = flow
        .store
        .take_once(Once::LoginCode, &digest(&code), flow.clock.unix())
        .await?
        .ok_or_else(invalid)?;
    let pending: PendingLogin = serde_json::from_str(&pending).map_err(ApiError::internal)?;
    let browser = req
        .cookie(BROWSER_COOKIE)
        .map(|c| digest(c.value()))
        .unwrap_or_default();
    if !ct_eq(browser.as_bytes(), pending.browser.as_bytes()) {
        tracing::info!(
            uid = pending.uid,
            "a login code was presented by another browser"
        );
        return Err(invalid());
    }
    let user = profile(&flow.repo, pending.uid).await?;
    if !user.is_enabled() {
        return Err(invalid());
    }
    let client = client.0;
    let at = flow.clock.naive();
    let settings = flow.sessions.settings();
    if let Some(challenge) = mfa
        .challenge(user.id, &user.username, &pending.method)
        .await?
    {
        flow.login_log.record(
            &user.username,
            Some(user.id),
            Reason::MfaRequired,
            &pending.method,
            &client,
            at,
        );
        return Ok(ApiOk::new(LoginAnswer::Mfa(challenge))
            .cookie(clear_browser_cookie(settings.cookie_secure)));
    }
    flow.repo
        .send(TouchLastLogin {
            user_id: user.id,
            at,
        })
        .await
        .map_err(ApiError::unavailable)?;
    let tokens = flow
        .sessions
        .start(
            user.id,
            user.multi_login,
            &client,
            &pending.method,
            Amr::FED,
        )
        .await?;
    flow.login_log.record(
        &user.username,
        Some(user.id),
        Reason::Success,
        &pending.method,
        &client,
        at,
    );
    let user = profile(&flow.repo, pending.uid).await?;
    let in_body = refresh_token_in_body(&req, settings);
    let data = LoginData::new(tokens.clone(), user, in_body);
    Ok(ApiOk::new(LoginAnswer::Tokens(Box::new(data)))
        .cookie(refresh_cookie(&tokens.refresh_token, settings))
        .cookie(clear_browser_cookie(settings.cookie_secure)))
}
