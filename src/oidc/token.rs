//! The token endpoint's grants (`authorization_code`, `refresh_token`, `client_credentials`),
//! revocation (RFC 7009)
//! and userinfo: what an app does with a code once `flow` gave it one.

use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value};

use super::clients::{credentials_stamp, ClientError, Grant, OidcClient};
use super::flow::{pkce_text, s256, CodeRecord, Params, Provider};
use super::tokens::{user_claims, IdToken};
use crate::actors::AuthFailure;
use crate::auth::client::ClientInfo;
use crate::auth::jwt::ForClient;
use crate::auth::sessions::RefreshToken;
use crate::crypto;
use crate::domain::ClientGrant;
use crate::error::ApiError;
use crate::login_log::Reason;
use crate::store::Once;

/// An OAuth 2.0 error (RFC 6749 §5.2), as the token endpoint answers it.
#[derive(Debug)]
pub struct TokenError {
    pub error: &'static str,
    pub description: String,
    /// `invalid_client`'s 401; seconds to wait for a limited client.
    pub status: u16,
    pub retry_after: Option<i64>,
}

impl TokenError {
    pub fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self {
            error,
            description: description.into(),
            status: 400,
            retry_after: None,
        }
    }

    pub fn invalid_client() -> Self {
        Self {
            status: 401,
            ..Self::new("invalid_client", "client authentication failed")
        }
    }

    pub fn unavailable() -> Self {
        Self {
            status: 503,
            retry_after: Some(5),
            ..Self::new("temporarily_unavailable", "try again shortly")
        }
    }

    pub fn json(&self) -> Value {
        serde_json::json!({"error": self.error, "error_description": self.description})
    }
}

impl From<ApiError> for TokenError {
    fn from(e: ApiError) -> Self {
        tracing::warn!(error = %e, "token endpoint: a dependency failed");
        Self::unavailable()
    }
}

impl From<ClientError> for TokenError {
    fn from(e: ClientError) -> Self {
        tracing::warn!(error = %e, "token endpoint: cannot read the client");
        Self::unavailable()
    }
}

/// How long an exchanged code is remembered, so that a replay ends what it issued.
const SPENT_CODE_SECONDS: i64 = 600;

fn unauthorized(grant: Grant) -> TokenError {
    TokenError::new(
        "unauthorized_client",
        format!("this client may not use {}", grant.as_str()),
    )
}

/// `unauthorized_client` unless the client was registered for the grant.
fn may_use(client: &OidcClient, grant: Grant) -> Result<(), TokenError> {
    match client.may(grant) {
        true => Ok(()),
        false => Err(unauthorized(grant)),
    }
}

/// Whom the access token is for (RFC 8707): the client itself, or the `resource` asked for,
/// which must be one the client was registered for (else `invalid_target`; one per request, as
/// a repeated parameter is refused).
fn audience<'a>(client: &'a OidcClient, p: &'a Params) -> Result<&'a str, TokenError> {
    match p.get("resource").map(String::as_str) {
        None => Ok(&client.id),
        Some(r) if client.resources.iter().any(|known| known == r) => Ok(r),
        Some(r) => Err(TokenError::new(
            "invalid_target",
            format!("`{r}` is not a resource this client may ask tokens for"),
        )),
    }
}

/// What the token endpoint answers.
#[derive(Debug, Serialize)]
pub struct Tokens {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub scope: String,
}

#[derive(Debug, PartialEq, Eq)]
pub enum UserinfoError {
    InvalidToken,
    Unavailable,
}

impl Provider {
    /// `POST /oidc/token` for an authenticated client; `from` is who called (the client's
    /// session records it).
    pub async fn token(
        &self,
        client: &OidcClient,
        p: &Params,
        from: &ClientInfo,
    ) -> Result<Tokens, TokenError> {
        match p.get("grant_type").map(String::as_str) {
            Some("authorization_code") => self.exchange_code(client, p, from).await,
            Some("refresh_token") => self.refresh(client, p).await,
            Some("client_credentials") => self.client_credentials(client, p, from),
            Some(_) => Err(TokenError::new(
                "unsupported_grant_type",
                "grant_type must be authorization_code, refresh_token or client_credentials",
            )),
            None => Err(TokenError::new("invalid_request", "grant_type is missing")),
        }
    }

    /// `grant_type=client_credentials` (RFC 6749 §4.4): a confidential client acting for
    /// itself gets an access token naming it (`sub`, `aud`, `client_id`) with the scopes it
    /// asked for among those registered (all of them if it asked for none; `openid` and
    /// `offline_access` are about users, so never); no refresh or ID token. Such a token
    /// stays active while the client exists (introspection checks), until it expires.
    fn client_credentials(
        &self,
        client: &OidcClient,
        p: &Params,
        from: &ClientInfo,
    ) -> Result<Tokens, TokenError> {
        // A public client authenticates with its id alone: that proves nothing.
        match client.is_public() {
            true => return Err(unauthorized(Grant::ClientCredentials)),
            false => may_use(client, Grant::ClientCredentials)?,
        }
        let audience = audience(client, p)?;
        let offered: Vec<&str> = client
            .scopes
            .iter()
            .map(String::as_str)
            .filter(|s| !matches!(*s, "openid" | "offline_access"))
            .collect();
        let asked: Vec<&str> = match p.get("scope") {
            Some(asked) => asked.split(' ').filter(|s| !s.is_empty()).collect(),
            None => Vec::new(),
        };
        if let Some(bad) = asked.iter().find(|s| !offered.contains(s)) {
            return Err(TokenError::new(
                "invalid_scope",
                format!("`{bad}` is not a scope this client may ask for with client_credentials"),
            ));
        }
        let scope = match asked.is_empty() {
            true => offered.join(" "),
            false => asked.join(" "),
        };
        let now = self.clock.unix();
        let (access_token, exp) = self
            .jwt
            .issue_client_credentials(
                ForClient {
                    client_id: &client.id,
                    audience,
                    scope: &scope,
                },
                &credentials_stamp(client),
                now,
            )
            .map_err(ApiError::internal)?;
        self.log_grant(&client.id, None, "oidc:client_credentials", from);
        Ok(Tokens {
            access_token,
            token_type: "Bearer",
            expires_in: exp - now,
            id_token: None,
            refresh_token: None,
            scope,
        })
    }

    /// `grant_type=refresh_token`: the client's refresh token rotated (a reused one ends its
    /// session), a new access token; the scopes stay what was granted (a request may narrow
    /// them only by asking for none).
    async fn refresh(&self, client: &OidcClient, p: &Params) -> Result<Tokens, TokenError> {
        may_use(client, Grant::RefreshToken)?;
        let audience = audience(client, p)?;
        let presented = p
            .get("refresh_token")
            .ok_or_else(|| TokenError::new("invalid_request", "refresh_token is missing"))?;
        let (uid, t) = match self
            .sessions
            .refresh_for_client(presented, &client.id)
            .await
        {
            Ok(found) => found,
            Err(e) if e.kind.status == 401 || e.kind.status == 400 => {
                return Err(TokenError::new(
                    "invalid_grant",
                    "the refresh token is unknown, spent or its session has ended",
                ))
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(asked) = p.get("scope") {
            let granted: Vec<&str> = t.scope.split(' ').collect();
            if asked
                .split(' ')
                .any(|s| !s.is_empty() && !granted.contains(&s))
            {
                return Err(TokenError::new("invalid_scope", "more than was granted"));
            }
        }
        let (access_token, exp) = self
            .jwt
            .issue_for_client(
                uid,
                &t.sid,
                t.proof,
                ForClient {
                    client_id: &client.id,
                    audience,
                    scope: &t.scope,
                },
                t.issued_at,
            )
            .map_err(ApiError::internal)?;
        Ok(Tokens {
            access_token,
            token_type: "Bearer",
            expires_in: (exp - self.clock.unix()).max(0),
            id_token: None,
            refresh_token: Some(t.refresh),
            scope: t.scope,
        })
    }

    async fn exchange_code(
        &self,
        client: &OidcClient,
        p: &Params,
        from: &ClientInfo,
    ) -> Result<Tokens, TokenError> {
        let invalid = |why: &str| TokenError::new("invalid_grant", why);
        may_use(client, Grant::AuthorizationCode)?;
        // Before the code is taken: a wrong resource leaves it for a corrected request.
        let audience = audience(client, p)?;
        let code = p
            .get("code")
            .ok_or_else(|| TokenError::new("invalid_request", "code is missing"))?;
        let now = self.clock.unix();
        let found = self
            .store
            .take_once(Once::OidcCode, &crypto::digest(code), now)
            .await
            .map_err(ApiError::from)?;
        let Some(record) = found.and_then(|json| serde_json::from_str::<CodeRecord>(&json).ok())
        else {
            self.revoke_spent(code, now).await?;
            return Err(invalid("the code is unknown, used or expired"));
        };
        if record.client_id != client.id {
            return Err(invalid("the code was issued to another client"));
        }
        if p.get("redirect_uri") != Some(&record.redirect_uri) {
            return Err(invalid("redirect_uri is not the one the code was sent to"));
        }
        match (&record.code_challenge, p.get("code_verifier")) {
            (Some(challenge), Some(v))
                if pkce_text(v) && crypto::ct_eq(s256(v).as_bytes(), challenge.as_bytes()) => {}
            (Some(_), _) => return Err(invalid("code_verifier does not match the challenge")),
            (None, Some(_)) => return Err(invalid("the request had no code_challenge")),
            (None, None) => {}
        }
        let user = match self
            .cache
            .resolve(Arc::from(record.sid.as_str()), record.uid)
            .await
        {
            Ok(u) if u.user.is_enabled() => u,
            Ok(_) | Err(AuthFailure::SessionEnded | AuthFailure::UserUnavailable) => {
                return Err(invalid("the session the code was issued in has ended"))
            }
            Err(_) => return Err(TokenError::unavailable()),
        };
        let scope = record.scopes.join(" ");
        // The client's own session: its access tokens name it, so revoking them or its refresh
        // token ends only this app's access; it ends with the browser session unless the app
        // was granted offline_access.
        let grant = ClientGrant {
            client_id: client.id.clone(),
            scope: scope.clone(),
            browser_sid: record.sid.clone(),
        };
        let offline = record.scopes.iter().any(|s| s == "offline_access");
        let session = self
            .sessions
            .start_for_client(record.uid, &record.sid, grant, offline, from)
            .await?
            .ok_or_else(|| invalid("the session the code was issued in has ended"))?;
        let (access_token, exp) = self
            .jwt
            .issue_for_client(
                record.uid,
                &session.sid,
                session.proof,
                ForClient {
                    client_id: &client.id,
                    audience,
                    scope: &scope,
                },
                now,
            )
            .map_err(ApiError::internal)?;
        let scopes: Vec<&str> = record.scopes.iter().map(String::as_str).collect();
        let id_token = IdToken {
            issuer: &self.issuer,
            client_id: &client.id,
            sid: &record.sid,
            nonce: record.nonce.as_deref(),
            auth_time: record.auth_time,
            amr: record.amr,
            access_token: Some(&access_token),
            now,
            ttl: self.settings.id_token_ttl_seconds,
        };
        let id_token = self
            .keys
            .sign(
                client.id_token_alg,
                &id_token,
                user_claims(&user.user, &scopes),
            )
            .map_err(ApiError::internal)?;
        let spent = format!("{} {}", record.uid, session.sid);
        self.store
            .put_once(
                Once::OidcSpentCode,
                &crypto::digest(code),
                &spent,
                SPENT_CODE_SECONDS,
                now,
            )
            .await
            .map_err(ApiError::from)?;
        let method = format!("oidc:{}", client.id);
        self.log_grant(&user.user.username, Some(record.uid), &method, from);
        Ok(Tokens {
            access_token,
            token_type: "Bearer",
            expires_in: exp - now,
            id_token: Some(id_token),
            refresh_token: client.may(Grant::RefreshToken).then_some(session.refresh),
            scope,
        })
    }

    /// Every grant is a line in the login log.
    fn log_grant(&self, username: &str, uid: Option<i64>, method: &str, from: &ClientInfo) {
        let at = self.clock.naive();
        self.login_log
            .record(username, uid, Reason::Success, method, from, at);
    }

    /// A code presented again after its exchange was stolen or replayed: the app's session it
    /// started ends, with every token it issued (RFC 6749 §4.1.2).
    async fn revoke_spent(&self, code: &str, now: i64) -> Result<(), TokenError> {
        let spent = self
            .store
            .take_once(Once::OidcSpentCode, &crypto::digest(code), now)
            .await
            .map_err(ApiError::from)?;
        let started = spent.as_deref().and_then(|s| {
            let (uid, sid) = s.split_once(' ')?;
            Some((uid.parse::<i64>().ok()?, sid.to_owned()))
        });
        if let Some((uid, sid)) = started {
            tracing::warn!(uid, "an authorization code came again: its session ends");
            self.sessions.end(uid, &sid).await?;
        }
        Ok(())
    }

    /// RFC 7009: the client's refresh token, or access token, stops working: the client's
    /// session it names ends (nothing else: a token of another client, or none at all, is
    /// answered the same, as the RFC asks).
    pub async fn revoke(&self, client: &OidcClient, token: &str) -> Result<(), ApiError> {
        let now = self.clock.unix();
        let named = match RefreshToken::parse(token) {
            Some(t) => Some((t.uid, t.sid)),
            None => self
                .jwt
                .verify_client_token(token, now)
                .ok()
                .filter(|c| c.client_id.as_deref() == Some(client.id.as_str()))
                .and_then(|c| Some((c.user_id()?, c.sid))),
        };
        if let Some((uid, sid)) = named {
            if self
                .sessions
                .client_session(uid, &sid, &client.id)
                .await?
                .is_some()
            {
                self.sessions.end(uid, &sid).await?;
            }
        }
        Ok(())
    }

    /// `/oidc/userinfo`: the claims the token's scopes grant, while its session lives.
    pub async fn userinfo(&self, token: &str) -> Result<Map<String, Value>, UserinfoError> {
        let now = self.clock.unix();
        let claims = self
            .jwt
            .verify_client_token(token, now)
            .ok()
            // A token for an API the client named (`resource`) is that API's, not userinfo's.
            .filter(|c| c.client_id.as_deref() == Some(c.aud.as_str()))
            .ok_or(UserinfoError::InvalidToken)?;
        let uid = claims.user_id().ok_or(UserinfoError::InvalidToken)?;
        let user = match self
            .cache
            .resolve(Arc::from(claims.sid.as_str()), uid)
            .await
        {
            Ok(u) if u.user.is_enabled() => u,
            Ok(_) | Err(AuthFailure::SessionEnded | AuthFailure::UserUnavailable) => {
                return Err(UserinfoError::InvalidToken)
            }
            Err(_) => return Err(UserinfoError::Unavailable),
        };
        let scope = claims.scope.unwrap_or_default();
        let scopes: Vec<&str> = scope.split(' ').collect();
        Ok(user_claims(&user.user, &scopes))
    }
}
