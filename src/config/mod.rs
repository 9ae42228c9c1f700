//! Settings: `config/default.toml` (compiled in) -> `config/{profile}.toml` -> environment
//! variables `PORTCULLIS__SECTION__KEY`. Unknown keys are rejected at every layer.

use std::path::{Path, PathBuf};

use serde::Deserialize;

mod clients;
mod mfa;
mod validate;

pub use clients::{ApiClientSettings, EventsSettings};
pub use mfa::{decode_key as decode_mfa_key, MfaSettings, MFA_KEY_BYTES};

const DEFAULT_TOML: &str = include_str!("../../config/default.toml");
const ENV_PREFIX: &str = "PORTCULLIS";
/// Keys whose environment variable is a comma-separated list.
const LIST_KEYS: &[&str] = &[
    "redis.cluster_urls",
    "rate_limit.trusted_proxies",
    "oauth2.allowed_redirects",
    "oauth2.default_roles",
    "cors.allowed_origins",
    "jwt.previous_public_key_files",
];
/// Smallest accepted HS256 secret: 256 bits.
pub const MIN_SECRET_BYTES: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    Development,
    Production,
}

impl Profile {
    pub fn from_env() -> Result<Self, ConfigError> {
        match std::env::var("PORTCULLIS_PROFILE").as_deref() {
            Err(_) | Ok("") | Ok("development") => Ok(Self::Development),
            Ok("production") => Ok(Self::Production),
            Ok(other) => Err(ConfigError::Invalid(vec![format!(
                "PORTCULLIS_PROFILE is `{other}`; use `development` or `production`"
            )])),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Production => "production",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration could not be read: {0}")]
    Load(#[from] config::ConfigError),
    #[error("configuration is not usable:\n  - {}", .0.join("\n  - "))]
    Invalid(Vec<String>),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(skip, default = "default_profile")]
    pub profile: Profile,
    pub server: ServerSettings,
    pub data: DataSettings,
    pub database: DatabaseSettings,
    pub redis: RedisSettings,
    pub jwt: JwtSettings,
    pub session: SessionSettings,
    pub password: PasswordSettings,
    pub cache: CacheSettings,
    pub captcha: CaptchaSettings,
    pub swagger_login: SwaggerLoginSettings,
    pub rate_limit: RateLimitSettings,
    pub lockout: LockoutSettings,
    pub oauth2: OAuth2Settings,
    pub metrics: MetricsSettings,
    pub bootstrap: BootstrapSettings,
    pub security: SecuritySettings,
    pub forward_auth: ForwardAuthSettings,
    pub login_log: LoginLogSettings,
    pub cors: CorsSettings,
    pub ui: UiSettings,
    pub docs: DocsSettings,
    pub api_clients: ApiClientSettings,
    pub events: EventsSettings,
    pub mfa: MfaSettings,
}

/// Browser pages on other origins that may call the API with credentials.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorsSettings {
    /// Exact origins (`https://app.example.com`, `http://localhost:5173`); empty: no CORS headers.
    pub allowed_origins: Vec<String>,
    /// How long a browser may cache a preflight answer.
    pub max_age_seconds: usize,
}

/// The reference page at `/`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UiSettings {
    /// Unset: on in development, off in production.
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// The API reference (Swagger UI) at `/docs`.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocsSettings {
    /// Unset: on in development, off in production.
    #[serde(default)]
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginLogSettings {
    /// Entries older than this many days are deleted by the server (0: kept for ever).
    pub retention_days: u32,
}

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

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    pub enabled: bool,
    /// Its own listener, so a reverse proxy in front of the API never exposes it.
    pub listen: String,
}

fn default_profile() -> Profile {
    Profile::Development
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    pub workers: usize,
    /// Development listens on loopback only unless this is set.
    pub allow_public_in_development: bool,
    /// How long a stopping server lets in-flight requests finish.
    pub shutdown_timeout_seconds: u64,
    /// Where clients reach this server (`https://auth.example.com`): every absolute URL it
    /// publishes is built from it, never from request headers. Required in production; empty in
    /// development = the listen address.
    pub public_url: String,
}

impl ServerSettings {
    /// `public_url` without a trailing `/`, or in development the address this server listens
    /// on (the port it was given, when it asked for port 0).
    pub fn public_url_for(&self, port: u16) -> String {
        let configured = self.public_url.trim().trim_end_matches('/');
        if !configured.is_empty() {
            return configured.to_owned();
        }
        let host = match self.host.as_str() {
            "0.0.0.0" | "" => "127.0.0.1".to_owned(),
            "::" | "[::]" => "[::1]".to_owned(),
            h if h.contains(':') && !h.starts_with('[') => format!("[{h}]"),
            h => h.to_owned(),
        };
        format!("http://{host}:{port}")
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSettings {
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: String,
    pub max_connections: usize,
    /// Every database call's deadline.
    pub statement_timeout_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisSettings {
    pub url: String,
    /// A Redis Cluster's nodes (any of them; the rest are discovered). Set instead of `url`.
    pub cluster_urls: Vec<String>,
    pub key_prefix: String,
    pub pool_size: usize,
    /// Every Redis call's deadline.
    pub timeout_ms: u64,
}

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
pub struct OAuth2Settings {
    pub frontend_login_url: String,
    pub frontend_error_url: String,
    pub frontend_bind_url: String,
    pub allowed_redirects: Vec<String>,
    pub state_ttl_seconds: i64,
    pub code_ttl_seconds: i64,
    pub link_by_verified_email: bool,
    pub default_roles: Vec<String>,
    pub providers: std::collections::BTreeMap<String, ProviderSettings>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    Github,
    Google,
    Oidc,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSettings {
    pub kind: ProviderKind,
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uri: String,
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    #[serde(default)]
    pub issuer: Option<String>,
    #[serde(default)]
    pub auth_url: Option<String>,
    #[serde(default)]
    pub token_url: Option<String>,
    #[serde(default)]
    pub userinfo_url: Option<String>,
    #[serde(default)]
    pub emails_url: Option<String>,
    /// The name a login page shows (default: GitHub, Google, or the configured name).
    #[serde(default)]
    pub display_name: Option<String>,
}

impl ProviderSettings {
    pub fn display_name(&self, name: &str) -> String {
        match (&self.display_name, self.kind) {
            (Some(d), _) => d.clone(),
            (None, ProviderKind::Github) => "GitHub".into(),
            (None, ProviderKind::Google) => "Google".into(),
            (None, ProviderKind::Oidc) => {
                let mut chars = name.chars();
                chars.next().map_or_else(String::new, |c| {
                    c.to_uppercase().chain(chars).collect::<String>()
                })
            }
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BootstrapSettings {
    pub create_admin: bool,
}

/// An address or a CIDR block (`10.0.0.0/8`, `::1`), as lists of networks in the config
/// write them.
pub fn parse_cidr(s: &str) -> Option<ipnet::IpNet> {
    let s = s.trim();
    s.parse::<ipnet::IpNet>()
        .ok()
        .or_else(|| s.parse::<std::net::IpAddr>().ok().map(ipnet::IpNet::from))
}

/// A URL with its password (if any) replaced by `***`, for logs and messages.
pub fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    match rest[..at].find(':') {
        Some(colon) => format!(
            "{}{}:***{}",
            &url[..scheme_end],
            &rest[..colon],
            &rest[at..]
        ),
        None => url.to_owned(),
    }
}

/// Which database a URL names; the one place that decides the run mode's database half.
/// Printed, a PostgreSQL URL shows no password.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseKind {
    Sqlite(PathBuf),
    Postgres(String),
}

impl std::fmt::Display for DatabaseKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            Self::Postgres(url) => f.write_str(&redact(url)),
        }
    }
}

impl std::fmt::Debug for DatabaseKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl Settings {
    /// Loads the layers for `profile`, reading profile files from `config_dir` and overrides
    /// from the process environment.
    pub fn load(profile: Profile, config_dir: &Path) -> Result<Self, ConfigError> {
        Self::load_with_env(profile, config_dir, std::env::vars())
    }

    pub fn load_with_env(
        profile: Profile,
        config_dir: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let env: config::Map<String, String> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with(&format!("{ENV_PREFIX}__")))
            .collect();
        let built = config::Config::builder()
            .add_source(config::File::from_str(
                DEFAULT_TOML,
                config::FileFormat::Toml,
            ))
            .add_source(
                config::File::from(config_dir.join(format!("{}.toml", profile.name())))
                    .required(false),
            )
            .add_source({
                let mut source = config::Environment::with_prefix(ENV_PREFIX)
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true)
                    .ignore_empty(true)
                    .list_separator(",");
                for key in LIST_KEYS {
                    source = source.with_list_parse_key(key);
                }
                source.source(Some(env))
            })
            .build()?;
        let mut settings: Settings = built.try_deserialize()?;
        settings.profile = profile;
        Ok(settings)
    }

    /// Development defaults with no files and no environment: the base of test set-ups.
    pub fn defaults() -> Self {
        Self::load_with_env(Profile::Development, Path::new("/nonexistent"), [])
            .expect("the compiled-in default.toml is valid") // ok: compile-time constant
    }

    /// Whether `/docs` serves the Swagger UI.
    pub fn docs_enabled(&self) -> bool {
        self.docs
            .enabled
            .unwrap_or(self.profile == Profile::Development)
    }

    /// Whether `/` serves the reference page.
    pub fn ui_enabled(&self) -> bool {
        self.ui
            .enabled
            .unwrap_or(self.profile == Profile::Development)
    }

    pub fn database_kind(&self) -> DatabaseKind {
        let url = self.database.url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            DatabaseKind::Postgres(url.to_owned())
        } else if let Some(path) = url.strip_prefix("sqlite://") {
            DatabaseKind::Sqlite(PathBuf::from(path))
        } else if url.is_empty() {
            DatabaseKind::Sqlite(self.data.dir.join("portcullis.db"))
        } else {
            DatabaseKind::Sqlite(PathBuf::from(url))
        }
    }

    pub fn uses_redis(&self) -> bool {
        !self.redis.url.trim().is_empty() || !self.redis.cluster_urls.is_empty()
    }

    pub fn db_deadline(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.database.statement_timeout_ms)
    }

    pub fn redis_deadline(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.redis.timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn environment_overrides_defaults() {
        let s = Settings::load_with_env(
            Profile::Development,
            Path::new("/nonexistent"),
            env(&[
                ("PORTCULLIS__SERVER__PORT", "9123"),
                ("PORTCULLIS__REDIS__URL", "redis://x"),
            ]),
        )
        .unwrap();
        assert_eq!(s.server.port, 9123);
        assert!(s.uses_redis());
    }

    #[test]
    fn lists_come_from_the_environment_comma_separated() {
        let s = Settings::load_with_env(
            Profile::Development,
            Path::new("/nonexistent"),
            env(&[
                (
                    "PORTCULLIS__RATE_LIMIT__TRUSTED_PROXIES",
                    "10.0.0.0/8,192.168.0.0/16",
                ),
                ("PORTCULLIS__OAUTH2__DEFAULT_ROLES", "reader"),
                (
                    "PORTCULLIS__JWT__SECRET",
                    "a,secret,with,commas,that,is,long,enough",
                ),
            ]),
        )
        .unwrap();
        assert_eq!(
            s.rate_limit.trusted_proxies,
            ["10.0.0.0/8", "192.168.0.0/16"]
        );
        assert_eq!(s.oauth2.default_roles, ["reader"]);
        assert_eq!(
            s.jwt.secret, "a,secret,with,commas,that,is,long,enough",
            "other keys stay text"
        );
    }

    #[test]
    fn unknown_environment_key_is_an_error() {
        let err = Settings::load_with_env(
            Profile::Development,
            Path::new("/nonexistent"),
            env(&[("PORTCULLIS__JWT__SECRTE", "x")]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("secrte"), "{err}");
    }

    #[test]
    fn production_refusals_name_the_key_and_the_fix() {
        let mut s = Settings::defaults();
        s.profile = Profile::Production;
        s.bootstrap.create_admin = false;
        let msg = s.validate().unwrap_err().to_string();
        assert!(msg.contains("PORTCULLIS__JWT__SECRET"), "{msg}");
        assert!(msg.contains("PORTCULLIS__REDIS__URL"), "{msg}");
        assert!(msg.contains("PORTCULLIS__DATABASE__URL"), "{msg}");
        s.jwt.secret = "short".into();
        let msg = s.validate().unwrap_err().to_string();
        assert!(msg.contains("at least 32"), "{msg}");
    }

    #[test]
    fn passwords_in_urls_are_redacted() {
        assert_eq!(
            redact("postgres://app:s3cret@db.example:5432/portcullis"),
            "postgres://app:***@db.example:5432/portcullis"
        );
        assert_eq!(
            redact("redis://:hunter2@cache:6379/0"),
            "redis://:***@cache:6379/0"
        );
        assert_eq!(redact("postgres://app@db/p"), "postgres://app@db/p");
        assert_eq!(redact("redis://cache:6379/0"), "redis://cache:6379/0");
        let kind = DatabaseKind::Postgres("postgres://a:pw@h/d".into());
        assert!(!format!("{kind} {kind:?}").contains("pw"));
    }

    #[test]
    fn database_kind_follows_the_url_scheme() {
        let mut s = Settings::defaults();
        assert_eq!(
            s.database_kind(),
            DatabaseKind::Sqlite(PathBuf::from("data/portcullis.db"))
        );
        s.database.url = "postgres://postgres@127.0.0.1/x".into();
        assert!(matches!(s.database_kind(), DatabaseKind::Postgres(_)));
    }
}
