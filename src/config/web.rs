//! The HTTP face: the listener, the browser pages, the docs, CORS, metrics, the login log, bootstrap.

use serde::Deserialize;

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
pub struct MetricsSettings {
    pub enabled: bool,
    /// Its own listener, so a reverse proxy in front of the API never exposes it.
    pub listen: String,
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
pub struct BootstrapSettings {
    pub create_admin: bool,
}
