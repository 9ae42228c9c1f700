//! Forward-auth: which headers name the original request, what no rule matches needs, the rules.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForwardAuthSettings {
    /// The one header set the proxy writes about the request it holds; the other is never read.
    pub headers: ForwardedHeaders,
    /// What a request that no rule matches needs.
    pub default: DefaultAccess,
    /// What requests through `/auth/verify` need, first match wins.
    pub rules: Vec<AccessRule>,
}

/// Which headers name the original request's method, host and path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ForwardedHeaders {
    /// `X-Original-Method`, `X-Original-Host`, `X-Original-URI` (the nginx example).
    XOriginal,
    /// `X-Forwarded-Method`, `X-Forwarded-Host`, `X-Forwarded-Uri` (Traefik, Caddy).
    XForwarded,
}

/// What no rule matched needs: any signed-in user, or nothing gets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DefaultAccess {
    User,
    Deny,
}

/// One access rule: method list (empty: any), host (none: any), path glob → public, or a
/// signed-in user holding `permission` (none: any signed-in user).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessRule {
    #[serde(default)]
    pub methods: Vec<String>,
    #[serde(default)]
    pub host: Option<String>,
    pub path: String,
    #[serde(default)]
    pub permission: Option<String>,
    #[serde(default)]
    pub public: bool,
    /// Only for a session signed in with a second factor (`amr` has `mfa`); else 401
    /// `insufficient_user_authentication` (RFC 9470).
    #[serde(default)]
    pub mfa: bool,
}
