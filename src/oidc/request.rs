//! An authorization request (`GET /oidc/authorize`), checked in two stages: until its client
//! and redirect URI are known to be genuine, a problem is shown on the page (redirecting would
//! make the provider an open redirector); after that, problems go back to the client as
//! `?error=` with `state` and `iss` (RFC 9207).

use serde::{Deserialize, Serialize};

use super::clients::Grant;
use super::flow::{pkce_text, Answer, PageError, Params, Provider};
use super::tokens::{ACR_MFA, ACR_ONE_FACTOR};

/// A checked authorization request, as it waits for its user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt_none: bool,
    pub prompt_consent: bool,
    pub max_age: Option<i64>,
    /// The user must have proved who they are at or after this time (`prompt=login` asks a
    /// sign-in from the moment it was made).
    pub not_before: Option<i64>,
    /// The session a consent page was shown to (`uid`, `sid`).
    #[serde(default)]
    pub shown_to: Option<(i64, String)>,
    /// `acr_values` asked for a second factor only (`urn:portcullis:acr:mfa`): a session
    /// without one signs in again, if the account has a second factor to sign in with.
    #[serde(default)]
    pub acr_mfa: bool,
    /// `login_hint`: the username the sign-in page starts with.
    #[serde(default)]
    pub login_hint: Option<String>,
}

impl Provider {
    /// The client's redirect URI with the answer's parameters, `state` and `iss` (RFC 9207).
    pub(super) fn back(&self, req: &AuthRequest, pairs: &[(&str, &str)]) -> Answer {
        let mut url = match url::Url::parse(&req.redirect_uri) {
            Ok(u) => u,
            Err(_) => return Answer::Page(PageError::BadRedirect),
        };
        {
            let mut q = url.query_pairs_mut();
            for (k, v) in pairs {
                q.append_pair(k, v);
            }
            if let Some(state) = &req.state {
                q.append_pair("state", state);
            }
            q.append_pair("iss", &self.issuer);
        }
        Answer::Redirect(url.into())
    }

    pub(super) fn error(&self, req: &AuthRequest, error: &str, description: &str) -> Answer {
        self.back(req, &[("error", error), ("error_description", description)])
    }

    /// The request's parameters, checked against its client.
    pub(super) async fn check(&self, p: &Params) -> Result<AuthRequest, Answer> {
        let get = |k: &str| p.get(k).map(String::as_str).filter(|v| !v.is_empty());
        let client = match get("client_id") {
            Some(id) => match self.clients.find(id).await {
                Ok(Some(c)) => c,
                Ok(None) => return Err(Answer::Page(PageError::UnknownClient)),
                Err(_) => return Err(Answer::Page(PageError::Unavailable)),
            },
            None => return Err(Answer::Page(PageError::UnknownClient)),
        };
        let redirect_uri = match get("redirect_uri") {
            Some(uri) if client.allows_redirect(uri) => uri.to_owned(),
            _ => return Err(Answer::Page(PageError::BadRedirect)),
        };
        let mut req = AuthRequest {
            client_id: client.id.clone(),
            redirect_uri,
            scopes: Vec::new(),
            state: get("state").map(str::to_owned),
            nonce: get("nonce").map(str::to_owned),
            code_challenge: None,
            prompt_none: false,
            prompt_consent: false,
            max_age: None,
            not_before: None,
            shown_to: None,
            acr_mfa: false,
            login_hint: None,
        };
        // From here on, problems go back to the client.
        let refuse = |req: &AuthRequest, error: &str, why: &str| Err(self.error(req, error, why));
        if req.state.as_ref().is_some_and(|s| s.len() > 2000) {
            req.state = None;
            return refuse(
                &req,
                "invalid_request",
                "state is longer than 2000 characters",
            );
        }
        if p.contains_key("request") {
            return refuse(
                &req,
                "request_not_supported",
                "request objects are not supported",
            );
        }
        if p.contains_key("request_uri") {
            return refuse(
                &req,
                "request_uri_not_supported",
                "request_uri is not supported",
            );
        }
        if get("response_mode").is_some_and(|m| m != "query") {
            return refuse(&req, "invalid_request", "response_mode must be query");
        }
        match get("response_type") {
            Some("code") => {}
            Some(_) => {
                return refuse(
                    &req,
                    "unsupported_response_type",
                    "only the code flow (response_type=code) is offered",
                )
            }
            None => return refuse(&req, "invalid_request", "response_type is missing"),
        }
        if !client.may(Grant::AuthorizationCode) {
            return refuse(
                &req,
                "unauthorized_client",
                "this client may not use the code flow",
            );
        }
        let mut scopes: Vec<String> = Vec::new();
        for s in get("scope")
            .unwrap_or("")
            .split(' ')
            .filter(|s| !s.is_empty())
        {
            if !client.scopes.iter().any(|c| c == s) {
                return refuse(
                    &req,
                    "invalid_scope",
                    &format!("scope `{}` is not one this client may ask for", short(s)),
                );
            }
            if !scopes.iter().any(|x| x == s) {
                scopes.push(s.to_owned());
            }
        }
        if !scopes.iter().any(|s| s == "openid") {
            return refuse(&req, "invalid_scope", "scope must include openid");
        }
        req.scopes = scopes;
        if req.nonce.as_ref().is_some_and(|n| n.len() > 512) {
            return refuse(
                &req,
                "invalid_request",
                "nonce is longer than 512 characters",
            );
        }
        match (get("code_challenge"), get("code_challenge_method")) {
            (Some(c), Some("S256")) if pkce_text(c) => req.code_challenge = Some(c.to_owned()),
            (Some(_), Some("S256")) => {
                return refuse(
                    &req,
                    "invalid_request",
                    "code_challenge is not an S256 challenge",
                )
            }
            (Some(_), _) => {
                return refuse(
                    &req,
                    "invalid_request",
                    "code_challenge_method must be S256 (plain is not accepted)",
                )
            }
            (None, _) if client.is_public() || self.settings.require_pkce => {
                return refuse(
                    &req,
                    "invalid_request",
                    "PKCE is required: send code_challenge with code_challenge_method=S256",
                )
            }
            (None, _) => {}
        }
        let prompt: Vec<&str> = get("prompt").unwrap_or("").split(' ').collect();
        for value in prompt.iter().filter(|v| !v.is_empty()) {
            match *value {
                "none" => req.prompt_none = true,
                "login" | "select_account" => req.not_before = Some(self.clock.unix()),
                "consent" => req.prompt_consent = true,
                other => {
                    return refuse(
                        &req,
                        "invalid_request",
                        &format!(
                            "prompt `{}` is not one of none, login, consent",
                            short(other)
                        ),
                    )
                }
            }
        }
        if req.prompt_none && prompt.iter().filter(|v| !v.is_empty()).count() > 1 {
            return refuse(
                &req,
                "invalid_request",
                "prompt=none cannot be combined with another value",
            );
        }
        // Voluntary (OpenID Connect Core §3.1.2.1): values this provider does not know are
        // passed over; asking for the second factor alone is honoured where it can be.
        let acr: Vec<&str> = get("acr_values").unwrap_or("").split(' ').collect();
        req.acr_mfa = acr.contains(&ACR_MFA) && !acr.contains(&ACR_ONE_FACTOR);
        if let Some(hint) = get("login_hint") {
            if hint.len() > 256 {
                return refuse(
                    &req,
                    "invalid_request",
                    "login_hint is longer than 256 characters",
                );
            }
            req.login_hint = Some(hint.to_owned());
        }
        if let Some(max_age) = get("max_age") {
            match max_age.parse::<i64>() {
                Ok(n) if n >= 0 => req.max_age = Some(n),
                _ => {
                    return refuse(
                        &req,
                        "invalid_request",
                        "max_age is not a number of seconds",
                    )
                }
            }
        }
        Ok(req)
    }
}

/// A value echoed in an error, cut short.
fn short(s: &str) -> String {
    s.chars().take(40).collect()
}
