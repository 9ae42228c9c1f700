//! An OpenID Connect client (relying party) as registered: what it may ask for and where its
//! answers may go. The rules that check a registration live in `oidc::clients`.

use std::fmt;
use std::str::FromStr;

use url::Url;

/// A stored name this version does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnknownName {
    #[error("`{0}` is not a grant Portcullis offers (authorization_code, refresh_token, client_credentials)")]
    Grant(String),
    #[error("`{0}` is not an ID token algorithm Portcullis signs with (RS256, EdDSA)")]
    Alg(String),
}

/// The grants a client may use (no implicit or hybrid flow, as OAuth 2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Grant {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
}

impl Grant {
    pub const ALL: [Grant; 3] = [
        Self::AuthorizationCode,
        Self::RefreshToken,
        Self::ClientCredentials,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
        }
    }
}

impl FromStr for Grant {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        Self::ALL
            .into_iter()
            .find(|g| g.as_str() == s)
            .ok_or_else(|| UnknownName::Grant(s.to_owned()))
    }
}

/// What signs a client's ID tokens (`id_token_signed_response_alg`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdTokenAlg {
    /// What OpenID Connect requires every provider to offer, and what most relying parties
    /// expect.
    #[default]
    Rs256,
    EdDsa,
}

impl IdTokenAlg {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::EdDsa => "EdDSA",
        }
    }
}

impl FromStr for IdTokenAlg {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        match s {
            "RS256" => Ok(Self::Rs256),
            "EdDSA" => Ok(Self::EdDsa),
            _ => Err(UnknownName::Alg(s.to_owned())),
        }
    }
}

/// Scopes this provider knows.
pub const SCOPES: [&str; 5] = ["openid", "profile", "email", "roles", "offline_access"];

/// A registered relying party.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcClient {
    pub id: String,
    /// `None`: a public client.
    pub secret_hash: Option<String>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grants: Vec<Grant>,
    /// The scopes it may ask for.
    pub scopes: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    /// Trusted to need no consent (an app of the same operator).
    pub first_party: bool,
    pub id_token_alg: IdTokenAlg,
    /// The APIs it may ask tokens for (RFC 8707 `resource`), besides itself.
    pub resources: Vec<String>,
}

impl OidcClient {
    pub fn is_public(&self) -> bool {
        self.secret_hash.is_none()
    }

    pub fn may(&self, grant: Grant) -> bool {
        self.grants.contains(&grant)
    }

    /// Whether `presented` is a registered redirect URI: the same text, or a loopback IP
    /// literal's with another port.
    pub fn allows_redirect(&self, presented: &str) -> bool {
        self.redirect_uris
            .iter()
            .any(|r| r == presented || same_but_loopback_port(r, presented))
    }
}

/// RFC 8252 §7.3: `http://127.0.0.1:{any port}/path` (or `[::1]`) matches its registration.
fn same_but_loopback_port(registered: &str, presented: &str) -> bool {
    let (Ok(mut r), Ok(mut p)) = (Url::parse(registered), Url::parse(presented)) else {
        return false;
    };
    let loopback = |u: &Url| {
        u.scheme() == "http"
            && match u.host() {
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                _ => false,
            }
    };
    if !loopback(&r) || !loopback(&p) {
        return false;
    }
    // Only the port may differ; the rest must match exactly.
    let _ = r.set_port(None);
    let _ = p.set_port(None);
    r == p
}

/// Space-separated, as the table keeps lists.
pub fn joined<T: fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
