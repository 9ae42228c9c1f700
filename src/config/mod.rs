//! Settings: `config/default.toml` (compiled in) -> `config/{profile}.toml` -> environment
//! variables `PORTCULLIS__SECTION__KEY`. Unknown keys are rejected at every layer.

use std::path::{Path, PathBuf};

use serde::Deserialize;

mod access;
mod auth;
mod backends;
mod clients;
mod mail;
mod mfa;
mod oauth2;
mod oidc;
mod validate;
mod web;
mod webauthn;

pub use access::{AccessRule, DefaultAccess, ForwardAuthSettings, ForwardedHeaders};
pub use auth::{
    CacheSettings, CaptchaSettings, JwtAlgorithm, JwtSettings, LockoutSettings, PasswordSettings,
    RateLimitSettings, RefreshTokenInBody, RouteLimit, SecuritySettings, SessionSettings,
    SwaggerLoginSettings,
};
pub use backends::{DataSettings, DatabaseSettings, RedisSettings};
pub use clients::{ApiClientSettings, EventsSettings};
pub use mail::{MailSettings, RegistrationSettings};
pub use mfa::{
    decode_key as decode_mfa_key, MfaSettings, MFA_KEY_BYTES,
    SUPERUSERS as MFA_REQUIRED_OF_SUPERUSERS,
};
pub use oauth2::{OAuth2Settings, ProviderKind, ProviderSettings};
pub use oidc::OidcSettings;
pub use web::{
    BootstrapSettings, CorsSettings, DocsSettings, LoginLogSettings, MetricsSettings,
    ServerSettings, UiSettings,
};
pub use webauthn::WebauthnSettings;

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
    "mfa.required_for",
    "webauthn.origins",
    "registration.allowed_email_domains",
    "registration.default_roles",
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
    pub webauthn: WebauthnSettings,
    pub mail: MailSettings,
    pub registration: RegistrationSettings,
    pub oidc: OidcSettings,
}

fn default_profile() -> Profile {
    Profile::Development
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
