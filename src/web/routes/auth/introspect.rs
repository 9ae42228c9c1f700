//! Token introspection (RFC 7662) for services that cannot sit behind a proxy: API clients ask
//! with HTTP Basic credentials. The answer is RFC 7662's JSON, not the envelope, holding only
//! the claims the client was granted (`portcullis client create --claims`), and
//! `portcullis_log_position` in an active answer: the invalidation-log entry the answering node
//! had applied when it answered, so a cache that follows the feed (the guard crate) can tell an answer from a
//! node that is behind it.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{web::Data, HttpRequest, HttpResponse};
use paperclip::actix::{api_v2_operation, web::Form, Apiv2Schema};
use serde::{Deserialize, Serialize};

use super::client_auth::authenticate_client;
use crate::actors::CacheHandle;
use crate::auth::clients::ApiClients;
use crate::auth::gate::{Authenticated, Gate, Inspected};
use crate::domain::{ApiClient, Claim};
use crate::error::ApiError;
use crate::oidc::introspect::AppToken;
use crate::oidc::Provider;

#[derive(Deserialize, Apiv2Schema)]
pub struct IntrospectRequest {
    pub token: String,
    /// Ignored: every token is looked at as an access token (a refresh token is never active).
    pub token_type_hint: Option<String>,
}

/// RFC 7662's answer, with the claims the client was granted. Inactive: `{"active": false}`
/// and nothing else (a session never comes back, so that answer is never stale).
#[derive(Serialize, Apiv2Schema, Default)]
pub struct Introspection {
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// A token issued to an OpenID client: that client (also its `aud`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Portcullis's own tokens: the user's permission codes; a client's tokens: the scopes
    /// it was granted. Space-separated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Only a verified address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    /// The rest of the user, for services that cache it (the guard crate does); its `email` is
    /// null unless verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<crate::domain::AuthUser>,
    /// How the session's user signed in (`pwd`, `fed`, `otp`, `hwk`, `swk`, `mfa`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
    /// When the session's user last proved who they are (Unix seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// Active answers: the last invalidation-log entry (`{a}-{b}`, as the event feed's ids)
    /// this node had applied before answering; absent while the node does not follow the log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub portcullis_log_position: Option<String>,
}

/// What `client` may be told about an active token.
fn granted(i: &Inspected, client: &ApiClient, gate: &Gate) -> Introspection {
    let u = &i.who.user;
    let has = |c: Claim| client.claims.has(c);
    let give = |c: Claim, v: &dyn Fn() -> String| has(c).then(v);
    let verified = u.email_verified.then(|| u.email.clone()).flatten();
    Introspection {
        active: true,
        sub: give(Claim::Sub, &|| u.id.to_string()),
        username: give(Claim::Username, &|| u.username.clone()),
        sid: give(Claim::Sid, &|| i.who.sid.to_string()),
        exp: has(Claim::Exp).then_some(i.exp),
        iat: has(Claim::Iat).then_some(i.iat),
        nbf: has(Claim::Nbf).then_some(i.nbf),
        iss: give(Claim::Iss, &|| gate.issuer().to_owned()),
        aud: give(Claim::Aud, &|| gate.audience().to_owned()),
        token_type: give(Claim::TokenType, &|| "Bearer".into()),
        scope: give(Claim::Scope, &|| u.permissions.join(" ")),
        email: verified.clone().filter(|_| has(Claim::Email)),
        email_verified: has(Claim::EmailVerified).then_some(u.email_verified),
        user: has(Claim::User).then(|| {
            let mut user = u.user.clone();
            user.email = verified;
            user
        }),
        amr: has(Claim::Amr).then(|| i.who.proof.amr.names().map(str::to_owned).collect()),
        auth_time: has(Claim::AuthTime).then_some(i.who.proof.auth_time),
        client_id: None,
        portcullis_log_position: None,
    }
}

/// What `client` may be told about an active token issued to an OpenID client, which it sees
/// only when it was registered for that client's audience (`--audience {client id}`).
fn granted_app_token(t: AppToken, client: &ApiClient, gate: &Gate) -> Introspection {
    let c = t.claims;
    if client.audience.as_deref() != Some(c.aud.as_str()) {
        return Introspection::default();
    }
    let has = |claim: Claim| client.claims.has(claim);
    let mut answer = match t.user {
        Some(user) => {
            let inspected = Inspected {
                who: Authenticated {
                    user,
                    sid: Arc::from(c.sid.as_str()),
                    proof: c.proof(),
                },
                iat: c.iat,
                nbf: c.nbf,
                exp: c.exp,
            };
            granted(&inspected, client, gate)
        }
        // The client acting for itself: no user, no session.
        None => Introspection {
            active: true,
            sub: has(Claim::Sub).then(|| c.sub.clone()),
            exp: has(Claim::Exp).then_some(c.exp),
            iat: has(Claim::Iat).then_some(c.iat),
            nbf: has(Claim::Nbf).then_some(c.nbf),
            iss: has(Claim::Iss).then(|| c.iss.clone()),
            token_type: has(Claim::TokenType).then(|| "Bearer".into()),
            ..Introspection::default()
        },
    };
    answer.aud = has(Claim::Aud).then_some(c.aud);
    answer.scope = has(Claim::Scope).then(|| c.scope.unwrap_or_default());
    answer.client_id = c.client_id;
    answer
}

/// Is this access token active, and whose is it? API clients only (HTTP Basic).
#[api_v2_operation(tags(auth))]
pub async fn introspect(
    req: HttpRequest,
    form: Form<IntrospectRequest>,
    clients: Data<ApiClients>,
    gate: Data<Gate>,
    cache: Data<CacheHandle>,
) -> Result<HttpResponse, ApiError> {
    let client = match authenticate_client(&req, &clients).await? {
        Ok(client) => client,
        Err(refusal) => return Ok(refusal),
    };
    // Read before the answer is made: the answer reflects at least every entry through it.
    let position = cache.applied();
    // Every token the server issues carries its one `jwt.audience` (verification insists):
    // a client registered for another audience has no active token here.
    let for_client = client
        .audience
        .as_deref()
        .is_none_or(|a| a == gate.audience());
    // Whether a session stands behind an active answer: only then can the feed make it stale.
    let (mut answer, has_session) = match gate.inspect(&form.token).await {
        Ok(i) if for_client => (granted(&i, &client, &gate), true),
        Ok(_) => (Introspection::default(), false),
        // A backing service failing is not "inactive": say so.
        Err(r) if r.error.kind.status >= 500 => return Err(r.error),
        // Not one of Portcullis's own: perhaps one the OpenID provider issued to an app.
        Err(_) => match req.app_data::<Data<Provider>>() {
            Some(provider) => match provider.inspect(&form.token).await? {
                Some(t) => {
                    let has_session = t.user.is_some();
                    (granted_app_token(t, &client, &gate), has_session)
                }
                None => (Introspection::default(), false),
            },
            None => (Introspection::default(), false),
        },
    };
    if answer.active && has_session {
        answer.portcullis_log_position = position.map(|p| p.to_string());
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(answer))
}
