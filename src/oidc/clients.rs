//! OpenID Connect clients (relying parties): what each may ask for, where its answers may go,
//! and its credentials. They are kept apart from round 2's API clients on purpose: an API client
//! is a resource server that may ask about *anyone's* token (introspection, the event feed); a
//! relying party gets tokens for the users who sign in to it and must never learn more. One
//! table each keeps that line in the schema rather than in a flag every check must remember.
//!
//! A confidential client's secret is 256 random bits shown once and kept as its SHA-256 digest
//! (as an API client's); a public client (a native or single-page app) has none and must use
//! PKCE. Redirect URIs are matched exactly, except that a loopback IP literal's port may vary
//! (RFC 8252 §7.3, for native apps that listen on an ephemeral port).

use std::sync::Arc;

use url::Url;

use crate::actors::repo::{
    CreateOidcClient, DeleteOidcClient, FindOidcClient, ListOidcClients, RepoHandle,
    UpdateOidcClient,
};
use crate::auth::client_limit::FailureLimit;
use crate::clock::SharedClock;
use crate::config::ApiClientSettings;
use crate::crypto;
use crate::db::DbError;
pub use crate::domain::oidc_client::{joined, Grant, IdTokenAlg, OidcClient, UnknownName, SCOPES};
use crate::domain::valid_client_id as valid_id;
use crate::error::{kind, ApiError};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("client ids are 3 to 64 characters of lower-case letters, digits, `.`, `_` and `-`, starting with a letter or digit")]
    InvalidId,
    #[error("a client `{0}` exists already")]
    Taken(String),
    #[error("no client `{0}`")]
    NoSuchClient(String),
    #[error(transparent)]
    Unknown(#[from] UnknownName),
    #[error(
        "`{0}` is not a scope Portcullis knows (openid, profile, email, roles, offline_access)"
    )]
    UnknownScope(String),
    #[error("{0}")]
    InvalidUri(String),
    #[error("{0}")]
    Invalid(&'static str),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<ClientError> for ApiError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Taken(_) => ApiError::new(kind::CONFLICT).with_detail(e.to_string()),
            ClientError::NoSuchClient(_) => {
                ApiError::new(kind::NOT_FOUND).with_detail(e.to_string())
            }
            ClientError::Db(e) => ApiError::unavailable(e),
            _ => ApiError::new(kind::INVALID_BODY).with_detail(e.to_string()),
        }
    }
}

/// Where a client's users may be sent back (or logged out to): an absolute URI without a
/// fragment; `https`, `http` only to a loopback host (a native app or a developer's machine),
/// or a native app's private-use scheme (RFC 8252 §7.1: a reverse domain name, with a dot).
fn check_redirect(uri: &str, what: &str) -> Result<(), ClientError> {
    let bad = |why: &str| Err(ClientError::InvalidUri(format!("{what} `{uri}`: {why}")));
    if uri.len() > 2000 || uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("at most 2000 characters, without spaces");
    }
    let Ok(url) = Url::parse(uri) else {
        return bad("not an absolute URI");
    };
    if url.fragment().is_some() {
        return bad("a redirect URI may not have a fragment (RFC 6749 §3.1.2)");
    }
    match url.scheme() {
        "https" if url.host().is_some() => Ok(()),
        "http" => match url.host() {
            Some(url::Host::Domain("localhost")) => Ok(()),
            Some(url::Host::Ipv4(ip)) if ip.is_loopback() => Ok(()),
            Some(url::Host::Ipv6(ip)) if ip.is_loopback() => Ok(()),
            _ => bad("plain http only to a loopback host (127.0.0.1, [::1], localhost); use https"),
        },
        "javascript" | "data" | "file" | "vbscript" => bad("not a scheme to redirect to"),
        scheme if scheme.contains('.') => Ok(()),
        _ => bad("https, http to a loopback host, or a private-use scheme such as com.example.app"),
    }
}

/// A notification endpoint: https, or http to a loopback host (a receiver beside the provider).
fn check_backchannel(uri: &str) -> Result<(), ClientError> {
    check_redirect(uri, "backchannel logout URI")?;
    match Url::parse(uri).map(|u| u.scheme().to_owned()).as_deref() {
        Ok("https" | "http") => Ok(()),
        _ => Err(ClientError::InvalidUri(format!(
            "backchannel logout URI `{uri}`: must be http(s)"
        ))),
    }
}

/// A new client, or the new state of one.
#[derive(Debug, Clone)]
pub struct ClientSpec {
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grants: Vec<Grant>,
    pub scopes: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    pub first_party: bool,
    pub id_token_alg: IdTokenAlg,
    pub resources: Vec<String>,
}

/// An API a client may ask tokens for (RFC 8707 §2: an absolute URI without a fragment), as an
/// API client's audience is written: at most 200 printable characters.
fn check_resource(uri: &str) -> Result<(), ClientError> {
    let bad = |why: &str| Err(ClientError::InvalidUri(format!("resource `{uri}`: {why}")));
    if uri.len() > 200 || !uri.chars().all(|c| c.is_ascii_graphic()) {
        return bad("at most 200 printable characters, without spaces");
    }
    match Url::parse(uri) {
        Err(_) => bad("not an absolute URI (RFC 8707: e.g. https://api.example.com)"),
        Ok(u) if u.fragment().is_some() => bad("a resource may not have a fragment"),
        Ok(_) => Ok(()),
    }
}

impl ClientSpec {
    /// Checks and normalises (sorted, without repeats); `public` clients may not use
    /// `client_credentials` (they have nothing to prove themselves with).
    fn checked(mut self, public: bool) -> Result<Self, ClientError> {
        for uri in &self.redirect_uris {
            check_redirect(uri, "redirect URI")?;
        }
        for uri in &self.post_logout_redirect_uris {
            check_redirect(uri, "post-logout redirect URI")?;
        }
        if let Some(uri) = &self.backchannel_logout_uri {
            check_backchannel(uri)?;
        }
        for uri in &self.resources {
            check_resource(uri)?;
        }
        for scope in &self.scopes {
            if !SCOPES.contains(&scope.as_str()) {
                return Err(ClientError::UnknownScope(scope.clone()));
            }
        }
        if self.grants.is_empty() {
            self.grants = vec![Grant::AuthorizationCode, Grant::RefreshToken];
        }
        if self.scopes.is_empty() {
            self.scopes = ["openid", "profile", "email", "offline_access"]
                .map(String::from)
                .into();
        }
        self.grants.sort();
        self.grants.dedup();
        self.scopes.sort();
        self.scopes.dedup();
        self.redirect_uris.dedup();
        self.post_logout_redirect_uris.dedup();
        self.resources.sort();
        self.resources.dedup();
        if self.grants.contains(&Grant::AuthorizationCode) && self.redirect_uris.is_empty() {
            return Err(ClientError::Invalid(
                "a client that uses authorization_code needs at least one redirect URI (--redirect-uri)",
            ));
        }
        if public && self.grants.contains(&Grant::ClientCredentials) {
            return Err(ClientError::Invalid(
                "a public client has no secret, so it cannot use client_credentials",
            ));
        }
        Ok(self)
    }
}

/// What a client's own (`client_credentials`) tokens carry of its secret: a stamp of the
/// secret's digest, so a new secret ends the tokens of the old at once. It tells nothing of
/// the secret (a digest of a digest of 256 random bits).
pub fn credentials_stamp(client: &OidcClient) -> String {
    let digest = crypto::digest_parts(&["cc", client.secret_hash.as_deref().unwrap_or("")]);
    digest[..16].to_owned()
}

/// What client authentication at the token endpoint decided.
#[derive(Debug)]
pub enum ClientAuth {
    Client(Arc<OidcClient>),
    Refused,
    /// Too many failures for this client id or address; seconds to wait.
    Limited(i64),
}

#[derive(Clone)]
pub struct OidcClients {
    repo: RepoHandle,
    clock: SharedClock,
    failures: Arc<FailureLimit>,
}

impl OidcClients {
    pub fn new(repo: RepoHandle, clock: SharedClock, settings: &ApiClientSettings) -> Self {
        Self {
            repo,
            clock,
            failures: Arc::new(FailureLimit::new(settings)),
        }
    }

    /// Registers a client; returns its secret (shown only now), `None` for a public one.
    pub async fn create(
        &self,
        id: &str,
        public: bool,
        spec: ClientSpec,
    ) -> Result<(OidcClient, Option<String>), ClientError> {
        if !valid_id(id) {
            return Err(ClientError::InvalidId);
        }
        let spec = spec.checked(public)?;
        let secret = (!public).then(crypto::random_token);
        let client = client_of(id, secret.as_deref().map(crypto::digest), spec);
        let now = self.clock.naive();
        match self
            .repo
            .send(CreateOidcClient {
                client: client.clone(),
                now,
            })
            .await
        {
            Ok(()) => Ok((client, secret)),
            Err(e) if e.is_unique_violation() => Err(ClientError::Taken(id.to_owned())),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn find(&self, id: &str) -> Result<Option<OidcClient>, ClientError> {
        if !valid_id(id) {
            return Ok(None);
        }
        Ok(self.repo.send(FindOidcClient { id: id.to_owned() }).await?)
    }

    pub async fn list(&self) -> Result<Vec<OidcClient>, ClientError> {
        Ok(self.repo.send(ListOidcClients {}).await?)
    }

    /// Replaces what the client may do (its secret, and whether it has one, stay).
    pub async fn update(&self, id: &str, spec: ClientSpec) -> Result<OidcClient, ClientError> {
        let current = self
            .find(id)
            .await?
            .ok_or_else(|| ClientError::NoSuchClient(id.to_owned()))?;
        let spec = spec.checked(current.is_public())?;
        let client = client_of(id, current.secret_hash, spec);
        self.save(client).await
    }

    /// A new secret for a confidential client; the old one stops working at once.
    pub async fn rotate_secret(&self, id: &str) -> Result<String, ClientError> {
        let mut client = self
            .find(id)
            .await?
            .ok_or_else(|| ClientError::NoSuchClient(id.to_owned()))?;
        if client.is_public() {
            return Err(ClientError::Invalid(
                "a public client has no secret to rotate",
            ));
        }
        let secret = crypto::random_token();
        client.secret_hash = Some(crypto::digest(&secret));
        self.save(client).await?;
        Ok(secret)
    }

    async fn save(&self, client: OidcClient) -> Result<OidcClient, ClientError> {
        let now = self.clock.naive();
        let found = self
            .repo
            .send(UpdateOidcClient {
                client: client.clone(),
                now,
            })
            .await?;
        match found {
            0 => Err(ClientError::NoSuchClient(client.id)),
            _ => Ok(client),
        }
    }

    /// Deletes the client and the consents given to it.
    pub async fn delete(&self, id: &str) -> Result<(), ClientError> {
        if self
            .repo
            .send(DeleteOidcClient { id: id.to_owned() })
            .await?
            == 0
        {
            return Err(ClientError::NoSuchClient(id.to_owned()));
        }
        Ok(())
    }

    /// The client, if `secret` is its secret (a public client presents none). `address` is the
    /// caller's rate-limit key; failures are limited per id and per address, in memory.
    pub async fn authenticate(
        &self,
        id: &str,
        secret: Option<&str>,
        address: &str,
    ) -> Result<ClientAuth, ClientError> {
        let now = self.clock.unix();
        let (by_id, by_address) = (format!("oidc:{id}"), format!("oidc-ip:{address}"));
        if let Some(wait) = self.failures.blocked(&by_address, now) {
            return Ok(ClientAuth::Limited(wait));
        }
        let found = match secret {
            Some(s) if s.len() > 256 => None,
            _ => self.find(id).await?,
        };
        let digest = secret.map(crypto::digest);
        let ok = match (&found, &digest) {
            (Some(c), None) => c.is_public(),
            (Some(c), Some(d)) => c
                .secret_hash
                .as_ref()
                .is_some_and(|h| crypto::ct_eq(h.as_bytes(), d.as_bytes())),
            (None, _) => {
                // Compared anyway, so timing does not tell a missing client from a wrong secret.
                let _ = crypto::ct_eq(&[b'-'; 64], digest.as_deref().unwrap_or("").as_bytes());
                false
            }
        };
        match found {
            Some(c) if ok => Ok(ClientAuth::Client(Arc::new(c))),
            _ => {
                let id_blocked = self.failures.blocked(&by_id, now);
                if valid_id(id) {
                    self.failures.fail(&by_id, now);
                }
                self.failures.fail(&by_address, now);
                Ok(match id_blocked {
                    Some(wait) => ClientAuth::Limited(wait),
                    None => ClientAuth::Refused,
                })
            }
        }
    }
}

fn client_of(id: &str, secret_hash: Option<String>, spec: ClientSpec) -> OidcClient {
    OidcClient {
        id: id.to_owned(),
        secret_hash,
        redirect_uris: spec.redirect_uris,
        post_logout_redirect_uris: spec.post_logout_redirect_uris,
        grants: spec.grants,
        scopes: spec.scopes,
        backchannel_logout_uri: spec.backchannel_logout_uri,
        first_party: spec.first_party,
        id_token_alg: spec.id_token_alg,
        resources: spec.resources,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(redirects: &[&str]) -> ClientSpec {
        ClientSpec {
            redirect_uris: redirects.iter().map(|s| s.to_string()).collect(),
            post_logout_redirect_uris: Vec::new(),
            grants: Vec::new(),
            scopes: Vec::new(),
            backchannel_logout_uri: None,
            first_party: false,
            id_token_alg: IdTokenAlg::Rs256,
            resources: Vec::new(),
        }
    }

    #[test]
    fn redirect_uris_must_be_safe_places_to_send_a_code() {
        for ok in [
            "https://app.example.com/callback",
            "http://127.0.0.1:8080/cb",
            "http://[::1]/cb",
            "http://localhost:3000/cb",
            "com.example.app:/oauth2redirect",
        ] {
            assert!(spec(&[ok]).checked(false).is_ok(), "{ok}");
        }
        for bad in [
            "http://app.example.com/cb",
            "https://app.example.com/cb#frag",
            "/relative",
            "javascript:alert(1)",
            "data:text/html,x",
            "myapp:/cb",
            "https://app.example.com/a b",
        ] {
            assert!(spec(&[bad]).checked(false).is_err(), "{bad}");
        }
        assert!(spec(&[]).checked(false).is_err(), "the code flow needs one");
    }

    #[test]
    fn resources_are_absolute_uris() {
        for ok in [
            "https://api.example.com",
            "https://api.example.com/v2",
            "urn:example:api",
        ] {
            let mut s = spec(&["https://a.example/cb"]);
            s.resources = vec![ok.into()];
            assert!(s.checked(false).is_ok(), "{ok}");
        }
        for bad in ["api", "https://api.example.com/#x", "https://a b", ""] {
            let mut s = spec(&["https://a.example/cb"]);
            s.resources = vec![bad.into()];
            assert!(s.checked(false).is_err(), "{bad}");
        }
    }

    #[test]
    fn defaults_and_what_a_public_client_may_not_do() {
        let s = spec(&["https://a.example/cb"]).checked(true).unwrap();
        assert_eq!(s.grants, [Grant::AuthorizationCode, Grant::RefreshToken]);
        assert!(s.scopes.contains(&"openid".to_owned()));
        let mut cc = spec(&["https://a.example/cb"]);
        cc.grants = vec![Grant::ClientCredentials];
        assert!(cc.clone().checked(true).is_err());
        assert!(cc.checked(false).is_ok());
        let mut unknown = spec(&["https://a.example/cb"]);
        unknown.scopes = vec!["admin".into()];
        assert!(matches!(
            unknown.checked(false),
            Err(ClientError::UnknownScope(_))
        ));
    }

    #[test]
    fn redirect_uris_match_exactly_but_a_loopback_port_may_vary() {
        let client = client_of(
            "app",
            None,
            spec(&[
                "https://a.example/cb",
                "http://127.0.0.1/native",
                "http://[::1]:9/v6",
            ]),
        );
        assert!(client.allows_redirect("https://a.example/cb"));
        for bad in [
            "https://a.example/cb/",
            "https://a.example/cb?x=1",
            "https://A.example/cb",
            "https://a.example:444/cb",
            "http://a.example/cb",
            "http://127.0.0.1:5000/other",
            "http://localhost:5000/native",
        ] {
            assert!(!client.allows_redirect(bad), "{bad}");
        }
        assert!(client.allows_redirect("http://127.0.0.1:51234/native"));
        assert!(client.allows_redirect("http://[::1]:4000/v6"));
    }
}
