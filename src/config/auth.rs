//! Signing in and staying signed in: tokens, sessions, passwords, the cache, the captcha, rate limits, lockout, re-authentication.

use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub enum JwtAlgorithm {
    HS256,
    EdDSA,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtSettings {
    pub algorithm: JwtAlgorithm,
    pub secret: String,
    /// EdDSA: the Ed25519 private key (PKCS#8 PEM). Empty in development: generated into
    /// `{data.dir}/jwt_ed25519.pem`.
    pub private_key_file: String,
    /// EdDSA: public keys (SPKI PEM) of earlier private keys, still accepted and published.
    pub previous_public_key_files: Vec<String>,
    pub issuer: String,
    pub audience: String,
    pub access_ttl_seconds: i64,
    pub leeway_seconds: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionSettings {
    pub refresh_ttl_seconds: i64,
    pub absolute_ttl_seconds: i64,
    pub refresh_grace_seconds: i64,
    pub max_sessions_per_user: usize,
    pub cookie_secure: bool,
    /// Production refuses `cookie_secure = false` unless this says it is meant (TLS ends
    /// somewhere that cannot be told apart, say, and the cookie never crosses a network).
    pub allow_insecure_cookie: bool,
    /// Whether login and refresh answers carry the refresh token in their JSON too.
    pub refresh_token_in_body: RefreshTokenInBody,
}

/// Where the refresh token goes besides the HttpOnly cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RefreshTokenInBody {
    /// Not for a request from a browser page (one with `Origin` or `Sec-Fetch-Site`), where
    /// any script on the page could read it; for other clients (CLI, mobile, servers), yes.
    ExceptBrowsers,
    Always,
    Never,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordSettings {
    pub min_length: usize,
    pub max_length: usize,
    /// Least strength (0 to 4) by zxcvbn's estimate a new password needs; 0 turns it off.
    pub min_score: u8,
    pub max_parallel_hashes: usize,
    pub max_queued_hashes: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheSettings {
    pub max_users: usize,
    pub max_sessions: usize,
    pub ttl_seconds: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptchaSettings {
    pub enabled: bool,
    pub ttl_seconds: i64,
    /// Answers one captcha takes: a right one uses it up, and so does the last wrong one.
    pub attempts: u32,
    pub length: u32,
    pub width: u32,
    pub height: u32,
    pub noise: u8,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwaggerLoginSettings {
    pub enabled: bool,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteLimit {
    pub burst: u32,
    pub period_seconds: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSettings {
    pub trusted_proxies: Vec<String>,
    pub client_ip_header: String,
    pub ipv6_prefix: u8,
    pub captcha: RouteLimit,
    pub login: RouteLimit,
    pub refresh: RouteLimit,
    pub oauth2_start: RouteLimit,
    pub oauth2_callback: RouteLimit,
    /// `GET /oidc/authorize` and the consent form: each may store a waiting request.
    pub oidc_authorize: RouteLimit,
    /// `POST /oidc/token`.
    pub oidc_token: RouteLimit,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockoutSettings {
    pub threshold: u32,
    pub account_threshold: u32,
    pub base_seconds: i64,
    pub max_seconds: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecuritySettings {
    /// How recently a session must have proved its user for sensitive changes.
    pub reauth_seconds: i64,
    /// Password checks of a signed-in user (password change, re-authentication) per window.
    pub max_password_checks: u32,
    pub password_check_window_seconds: i64,
}
