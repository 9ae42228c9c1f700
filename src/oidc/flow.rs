//! The authorization code flow (OpenID Connect Core §3.1, with OAuth 2.1's rules: code only,
//! PKCE S256, exact redirect URIs), from the client's request to the tokens it exchanges the code
//! for, and the userinfo those tokens read.
//!
//! A request is checked first (`request`: on the page until its client and redirect URI are
//! known to be genuine, back to the client after). A request that needs its user to sign in or
//! consent waits in the store under a
//! random id (single use, `oidc.request_ttl_seconds`); a code waits under its hash (single use,
//! `oidc.code_ttl_seconds`). What an app does with the code is `token`'s; signing out, `logout`'s.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::clients::OidcClients;
use super::request::AuthRequest;
use super::tokens::IdTokenKeys;
use crate::actors::repo::{ConsentOf, PutConsent, RepoHandle};
use crate::actors::{AuthFailure, CacheHandle};
use crate::auth::jwt::JwtKeys;
use crate::auth::sessions::Sessions;
use crate::clock::SharedClock;
use crate::config::OidcSettings;
use crate::crypto;
use crate::domain::{Amr, AuthUser, SessionRecord};
use crate::error::ApiError;
use crate::login_log::LoginLog;
use crate::store::{Once, Store};

/// What the provider needs besides the rest of the server.
pub struct Provider {
    pub settings: OidcSettings,
    pub clients: OidcClients,
    pub keys: Arc<IdTokenKeys>,
    /// `server.public_url`: the issuer identifier, which discovery is found under.
    pub issuer: String,
    pub store: Store,
    pub repo: RepoHandle,
    pub jwt: Arc<JwtKeys>,
    pub sessions: Sessions,
    pub cache: CacheHandle,
    pub clock: SharedClock,
    /// Every code exchanged (an app's sign-in) is a line in the login log.
    pub login_log: LoginLog,
}

/// A request's parameters, each at most once (RFC 6749 §3.1).
pub type Params = std::collections::BTreeMap<String, String>;

/// Reads `a=1&b=2`; `None` when a parameter repeats.
pub fn params(form: &[u8]) -> Option<Params> {
    let mut out = Params::new();
    for (k, v) in url::form_urlencoded::parse(form) {
        if out.insert(k.into_owned(), v.into_owned()).is_some() {
            return None;
        }
    }
    Some(out)
}

/// Why a request cannot go back to its client: shown on the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageError {
    /// A parameter was sent twice, before the client was known.
    Repeated,
    UnknownClient,
    BadRedirect,
    /// A waiting request that is used, unknown or expired.
    Expired,
    /// A consent answer from another sign-in than the one it was asked of.
    OtherSession,
    /// An `id_token_hint` this provider did not sign, or for another client.
    BadHint,
    Unavailable,
}

impl PageError {
    pub fn message(self) -> &'static str {
        match self {
            Self::Repeated => "The request repeats a parameter.",
            Self::UnknownClient => "The app that sent you here is not registered.",
            Self::BadRedirect => {
                "The app that sent you here asked to be answered at an address it did not register."
            }
            Self::Expired => {
                "This sign-in request has been used or has expired. Go back to the app and start again."
            }
            Self::OtherSession => {
                "You signed in again or out since this page was shown. Go back to the app and start again."
            }
            Self::BadHint => "The app sent a sign-out request this server cannot check.",
            Self::Unavailable => "Signing in is unavailable for a moment. Try again shortly.",
        }
    }
}

/// What `/oidc/authorize` (or the consent form) answers.
#[derive(Debug)]
pub enum Answer {
    /// Back to the client with `code` or `error`.
    Redirect(String),
    /// To the sign-in page, which comes back with `resume`; `fresh`: the request wants a new
    /// sign-in (`prompt=login`, `max_age`), even from a signed-in page.
    SignIn {
        resume: String,
        fresh: bool,
        login_hint: Option<String>,
    },
    /// Ask the user; the form answers with `resume`.
    Consent {
        resume: String,
        client: String,
        scopes: Vec<String>,
    },
    Page(PageError),
}

/// What an authorization code stands for.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct CodeRecord {
    pub(super) client_id: String,
    pub(super) redirect_uri: String,
    pub(super) code_challenge: Option<String>,
    pub(super) uid: i64,
    pub(super) sid: String,
    pub(super) scopes: Vec<String>,
    pub(super) nonce: Option<String>,
    pub(super) auth_time: i64,
    pub(super) amr: Amr,
}

/// RFC 7636 §4.1: 43 to 128 unreserved characters (a challenge, S256's base64url, is 43).
pub(super) fn pkce_text(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~'))
}

pub(super) fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

impl Provider {
    /// `GET /oidc/authorize`: a client's request (or, with `resume`, one that waited for its
    /// user to sign in), and the browser's single sign-on cookie.
    pub async fn authorize(&self, query: &[u8], browser: Option<&str>) -> Answer {
        let Some(p) = params(query) else {
            return Answer::Page(PageError::Repeated);
        };
        let request = match p.get("resume") {
            Some(id) => match self.take_request(id).await {
                Ok(Some(r)) => r,
                Ok(None) => return Answer::Page(PageError::Expired),
                Err(_) => return Answer::Page(PageError::Unavailable),
            },
            None => match self.check(&p).await {
                Ok(r) => r,
                Err(answer) => return answer,
            },
        };
        self.decide(request, browser).await
    }

    /// The browser's session, if its cookie proves a live one of an enabled user that has not
    /// changed password since.
    async fn browser_session(
        &self,
        browser: Option<&str>,
    ) -> Result<Option<(SessionRecord, Arc<crate::domain::CachedUser>)>, ()> {
        let Some(cookie) = browser else {
            return Ok(None);
        };
        let Some(session) = self
            .sessions
            .session_of_browser(cookie)
            .await
            .map_err(|_| ())?
        else {
            return Ok(None);
        };
        match self
            .cache
            .resolve(Arc::from(session.sid.as_str()), session.uid)
            .await
        {
            Ok(u) if u.user.is_enabled() => {
                let changed = u.user.password_changed_at.map(|t| t.timestamp());
                Ok((!session.predates_password_change(changed)).then_some((session, u)))
            }
            Ok(_) | Err(AuthFailure::SessionEnded | AuthFailure::UserUnavailable) => Ok(None),
            Err(_) => Err(()),
        }
    }

    /// Signed in (recently enough), consented: a code; else what is missing.
    async fn decide(&self, mut req: AuthRequest, browser: Option<&str>) -> Answer {
        let now = self.clock.unix();
        let found = match self.browser_session(browser).await {
            Ok(found) => found,
            Err(()) => return Answer::Page(PageError::Unavailable),
        };
        // Recent enough, and with a second factor where the app asked for one and the account
        // has one to sign in with (else the ID token's `acr` tells the app what it got).
        let fresh = |s: &SessionRecord, u: &crate::domain::CachedUser| {
            req.not_before.is_none_or(|t| s.auth_time >= t)
                && req.max_age.is_none_or(|m| now - s.auth_time <= m)
                && (!req.acr_mfa || s.proof().amr.is_mfa() || u.user.second_factors.is_empty())
        };
        let (session, user) = match found {
            Some((s, u)) if fresh(&s, &u) => (s, u),
            _ if req.prompt_none => {
                return self.error(&req, "login_required", "the user is not signed in")
            }
            _ => {
                let fresh = req.not_before.is_some() || req.max_age.is_some() || req.acr_mfa;
                return match self.keep_request(&req).await {
                    Ok(resume) => Answer::SignIn {
                        resume,
                        fresh,
                        login_hint: req.login_hint.clone(),
                    },
                    Err(_) => Answer::Page(PageError::Unavailable),
                };
            }
        };
        let client = match self.clients.find(&req.client_id).await {
            Ok(Some(c)) => c,
            Ok(None) => return Answer::Page(PageError::UnknownClient),
            Err(_) => return Answer::Page(PageError::Unavailable),
        };
        if !client.first_party {
            let given = match self
                .repo
                .send(ConsentOf {
                    user_id: session.uid,
                    client_id: client.id.clone(),
                })
                .await
            {
                Ok(given) => given.unwrap_or_default(),
                Err(_) => return Answer::Page(PageError::Unavailable),
            };
            let covered = req.scopes.iter().all(|s| given.split(' ').any(|g| g == s));
            if !covered || req.prompt_consent {
                if req.prompt_none {
                    return self.error(&req, "consent_required", "the user has not consented");
                }
                req.shown_to = Some((session.uid, session.sid.clone()));
                return match self.keep_request(&req).await {
                    Ok(resume) => Answer::Consent {
                        resume,
                        client: client.id,
                        scopes: req.scopes,
                    },
                    Err(_) => Answer::Page(PageError::Unavailable),
                };
            }
        }
        self.issue_code(&req, &session, &user.user).await
    }

    /// The consent form's answer for the waiting request `resume`.
    pub async fn consent(&self, resume: &str, allow: bool, browser: Option<&str>) -> Answer {
        let req = match self.take_request(resume).await {
            Ok(Some(r)) => r,
            Ok(None) => return Answer::Page(PageError::Expired),
            Err(_) => return Answer::Page(PageError::Unavailable),
        };
        let (session, user) = match self.browser_session(browser).await {
            Ok(Some(found)) => found,
            Ok(None) => return Answer::Page(PageError::OtherSession),
            Err(()) => return Answer::Page(PageError::Unavailable),
        };
        if req.shown_to.as_ref() != Some(&(session.uid, session.sid.clone())) {
            return Answer::Page(PageError::OtherSession);
        }
        if !allow {
            return self.error(&req, "access_denied", "the user did not allow it");
        }
        let given = self
            .repo
            .send(ConsentOf {
                user_id: session.uid,
                client_id: req.client_id.clone(),
            })
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
        let mut scopes: Vec<&str> = given.split(' ').filter(|s| !s.is_empty()).collect();
        scopes.extend(req.scopes.iter().map(String::as_str));
        scopes.sort_unstable();
        scopes.dedup();
        let saved = self
            .repo
            .send(PutConsent {
                user_id: session.uid,
                client_id: req.client_id.clone(),
                scopes: scopes.join(" "),
                now: self.clock.naive(),
            })
            .await;
        if saved.is_err() {
            return Answer::Page(PageError::Unavailable);
        }
        self.issue_code(&req, &session, &user.user).await
    }

    async fn issue_code(&self, req: &AuthRequest, s: &SessionRecord, user: &AuthUser) -> Answer {
        let code = crypto::random_token();
        let proof = s.proof();
        let record = CodeRecord {
            client_id: req.client_id.clone(),
            redirect_uri: req.redirect_uri.clone(),
            code_challenge: req.code_challenge.clone(),
            uid: user.id,
            sid: s.sid.clone(),
            scopes: req.scopes.clone(),
            nonce: req.nonce.clone(),
            auth_time: proof.auth_time,
            amr: proof.amr,
        };
        let json = serde_json::to_string(&record).expect("a code record serializes");
        let now = self.clock.unix();
        let kept = self
            .store
            .put_once(
                Once::OidcCode,
                &crypto::digest(&code),
                &json,
                self.settings.code_ttl_seconds,
                now,
            )
            .await;
        match kept {
            Ok(()) => self.back(req, &[("code", &code)]),
            Err(_) => self.error(req, "temporarily_unavailable", "try again shortly"),
        }
    }

    async fn keep_request(&self, req: &AuthRequest) -> Result<String, ApiError> {
        let id = crypto::random_token();
        let json = serde_json::to_string(req).expect("a request serializes");
        self.store
            .put_once(
                Once::OidcRequest,
                &id,
                &json,
                self.settings.request_ttl_seconds,
                self.clock.unix(),
            )
            .await?;
        Ok(id)
    }

    async fn take_request(&self, id: &str) -> Result<Option<AuthRequest>, ApiError> {
        if id.len() != 43 {
            return Ok(None);
        }
        let found = self
            .store
            .take_once(Once::OidcRequest, id, self.clock.unix())
            .await?;
        Ok(found.and_then(|json| serde_json::from_str(&json).ok()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameters_are_refused() {
        assert!(params(b"a=1&b=2").is_some());
        assert!(params(b"a=1&a=1").is_none());
        assert_eq!(params(b"a=%20x").unwrap()["a"], " x");
    }

    /// RFC 7636 appendix B.
    #[test]
    fn s256_is_rfc_7636s() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert!(pkce_text(verifier));
        assert_eq!(
            s256(verifier),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert!(!pkce_text("short"));
        assert!(!pkce_text(&"a".repeat(129)));
        assert!(!pkce_text(&format!("{}+", "a".repeat(43))));
    }
}
