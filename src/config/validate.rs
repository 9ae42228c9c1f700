//! Validation of loaded settings: every problem at once, each naming the key, the environment
//! variable and the fix.

use super::{ConfigError, JwtAlgorithm, Profile, ProviderKind, Settings, MIN_SECRET_BYTES};

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn is_absolute_url(s: &str) -> bool {
    s.starts_with("https://") || s.starts_with("http://")
}

/// `scheme://host[:port]`, exactly as a browser sends it in `Origin` (no path, no slash).
pub fn is_origin(s: &str) -> bool {
    let Some((scheme, authority)) = s.split_once("://") else {
        return false;
    };
    let default_port = match scheme {
        "http" => "80",
        "https" => "443",
        _ => return false,
    };
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((ip, "")) => (ip, None),
            Some((ip, rest)) => match rest.strip_prefix(':') {
                Some(port) => (ip, Some(port)),
                None => return false,
            },
            None => return false,
        },
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    let host_ok = if authority.starts_with('[') {
        host.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    };
    // As a browser writes it: digits without a sign or leading zero, never the default port.
    let port_ok = port.is_none_or(|p| {
        !p.is_empty()
            && p.bytes().all(|b| b.is_ascii_digit())
            && !p.starts_with('0')
            && p.parse::<u16>().is_ok()
            && p != default_port
    });
    host_ok && port_ok
}

impl Settings {
    /// Every problem at once, each naming the key, its variable and the fix.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        problems.extend(self.api_clients.problems());
        problems.extend(self.events.problems());
        problems.extend(self.mfa.problems(self.profile));
        problems.extend(self.webauthn.problems());
        problems.extend(self.mail.problems());
        problems.extend(self.oidc.problems(self.profile));
        problems.extend(self.registration.problems(&self.mail, self.profile));
        let db = self.database.url.trim();
        if !(db.is_empty()
            || db.starts_with("sqlite://")
            || db.starts_with("postgres://")
            || db.starts_with("postgresql://"))
        {
            problems.push(format!(
                "database.url `{db}` is not a sqlite:// or postgres:// URL; \
                 set PORTCULLIS__DATABASE__URL, e.g. postgres://postgres@127.0.0.1:5432/portcullis"
            ));
        }
        let redis = self.redis.url.trim();
        let redis_url = |u: &str| u.starts_with("redis://") || u.starts_with("rediss://");
        if !(redis.is_empty() || redis_url(redis)) {
            problems.push(format!(
                "redis.url `{}` is not a redis:// URL; set PORTCULLIS__REDIS__URL, e.g. redis://127.0.0.1:6379/0",
                super::redact(redis)
            ));
        }
        if !redis.is_empty() && !self.redis.cluster_urls.is_empty() {
            problems.push(
                "redis.url and redis.cluster_urls are both set; a deployment uses one Redis or one cluster"
                    .into(),
            );
        }
        if self.redis.cluster_urls.iter().any(|u| !redis_url(u.trim())) {
            problems.push(
                "redis.cluster_urls must be redis:// URLs (PORTCULLIS__REDIS__CLUSTER_URLS, comma-separated)"
                    .into(),
            );
        }
        if self.redis.key_prefix.contains(['{', '}']) || self.redis.key_prefix.is_empty() {
            problems.push(
                "redis.key_prefix must be non-empty and without braces (they mark cluster hash tags)".into(),
            );
        }
        if self.database.statement_timeout_ms == 0 || self.redis.timeout_ms == 0 {
            problems
                .push("database.statement_timeout_ms and redis.timeout_ms must be positive".into());
        }
        if self.jwt.algorithm == JwtAlgorithm::HS256
            && (!self.jwt.private_key_file.is_empty()
                || !self.jwt.previous_public_key_files.is_empty())
        {
            problems.push(
                "jwt.private_key_file and jwt.previous_public_key_files are for EdDSA; \
                 set PORTCULLIS__JWT__ALGORITHM=EdDSA, or leave them empty"
                    .into(),
            );
        }
        if !self.jwt.secret.is_empty() && self.jwt.secret.len() < MIN_SECRET_BYTES {
            problems.push(format!(
                "jwt.secret is {} bytes; it needs at least {MIN_SECRET_BYTES}. \
                 Set PORTCULLIS__JWT__SECRET to e.g. the output of `openssl rand -base64 48`",
                self.jwt.secret.len()
            ));
        }
        if self.jwt.access_ttl_seconds <= 0 || self.session.refresh_ttl_seconds <= 0 {
            problems.push(
                "jwt.access_ttl_seconds and session.refresh_ttl_seconds must be positive".into(),
            );
        }
        if self.session.absolute_ttl_seconds < self.session.refresh_ttl_seconds {
            problems.push(
                "session.absolute_ttl_seconds must be at least session.refresh_ttl_seconds".into(),
            );
        }
        if self.password.min_length < 8 || self.password.max_length < self.password.min_length {
            problems.push(
                "password.min_length must be at least 8 and not above password.max_length".into(),
            );
        }
        if !(1..=8).contains(&self.captcha.length)
            || self.captcha.noise > 2
            || self.captcha.ttl_seconds <= 0
        {
            problems.push(
                "captcha.length must be 1 to 8, captcha.noise 0 to 2 and captcha.ttl_seconds positive"
                    .into(),
            );
        }
        if !(40..=800).contains(&self.captcha.width) || !(20..=400).contains(&self.captcha.height) {
            problems.push("captcha.width must be 40 to 800 and captcha.height 20 to 400".into());
        }
        for (name, l) in [
            ("captcha", self.rate_limit.captcha),
            ("login", self.rate_limit.login),
            ("refresh", self.rate_limit.refresh),
            ("oauth2_start", self.rate_limit.oauth2_start),
            ("oauth2_callback", self.rate_limit.oauth2_callback),
            ("oidc_authorize", self.rate_limit.oidc_authorize),
            ("oidc_token", self.rate_limit.oidc_token),
        ] {
            if l.burst == 0 || l.period_seconds == 0 {
                problems.push(format!(
                    "rate_limit.{name} needs burst and period_seconds above 0"
                ));
            }
        }
        for cidr in &self.rate_limit.trusted_proxies {
            if super::parse_cidr(cidr).is_none() {
                problems.push(format!(
                    "rate_limit.trusted_proxies entry `{cidr}` is not an address or CIDR (e.g. 10.0.0.0/8)"
                ));
            }
        }
        if self.metrics.enabled && self.metrics.listen.parse::<std::net::SocketAddr>().is_err() {
            problems.push(format!(
                "metrics.listen `{}` is not an address and port; set PORTCULLIS__METRICS__LISTEN, e.g. 127.0.0.1:9464",
                self.metrics.listen
            ));
        }
        if self.profile == Profile::Development
            && !self.server.allow_public_in_development
            && !is_loopback(&self.server.host)
        {
            problems.push(format!(
                "server.host `{}` is not a loopback address, and the development profile listens on \
                 loopback only. Set PORTCULLIS__SERVER__HOST=127.0.0.1, or \
                 PORTCULLIS__SERVER__ALLOW_PUBLIC_IN_DEVELOPMENT=true to listen there anyway",
                self.server.host
            ));
        }
        let header = self.rate_limit.client_ip_header.trim();
        if actix_web::http::header::HeaderName::from_bytes(header.as_bytes()).is_err()
            || header.is_empty()
        {
            problems.push(format!(
                "rate_limit.client_ip_header `{header}` is not a header name; \
                 set PORTCULLIS__RATE_LIMIT__CLIENT_IP_HEADER, e.g. X-Forwarded-For"
            ));
        }
        if !(32..=128).contains(&self.rate_limit.ipv6_prefix) {
            problems.push("rate_limit.ipv6_prefix must be 32 to 128".into());
        }
        if self.security.reauth_seconds <= 0
            || self.security.max_password_checks == 0
            || self.security.password_check_window_seconds <= 0
        {
            problems.push(
                "security.reauth_seconds, security.max_password_checks and \
                 security.password_check_window_seconds must be positive"
                    .into(),
            );
        }
        let public_url = self.server.public_url.trim();
        if !public_url.is_empty()
            && (!is_absolute_url(public_url) || public_url.contains(['?', '#']))
        {
            problems.push(format!(
                "server.public_url `{public_url}` is not an absolute http(s) URL without query \
                 (PORTCULLIS__SERVER__PUBLIC_URL), e.g. https://auth.example.com"
            ));
        }
        for (i, r) in self.forward_auth.rules.iter().enumerate() {
            if !r.path.starts_with('/') || globset::Glob::new(&r.path).is_err() {
                problems.push(format!(
                    "forward_auth.rules[{i}].path `{}` is not a path glob starting with `/`",
                    r.path
                ));
            }
            if r.public && r.permission.is_some() {
                problems.push(format!(
                    "forward_auth.rules[{i}] is public and names a permission; choose one"
                ));
            }
            if r.public && r.mfa {
                problems.push(format!(
                    "forward_auth.rules[{i}] is public and demands a second factor; choose one"
                ));
            }
        }
        if !(1..=10).contains(&self.captcha.attempts) {
            problems.push("captcha.attempts must be 1 to 10".into());
        }
        if self.password.max_queued_hashes == 0 {
            problems.push("password.max_queued_hashes must be at least 1".into());
        }
        if self.lockout.threshold == 0
            || self.lockout.account_threshold == 0
            || self.lockout.base_seconds <= 0
            || self.lockout.max_seconds < self.lockout.base_seconds
        {
            problems.push(
                "lockout thresholds must be at least 1 and lockout.max_seconds at least lockout.base_seconds"
                    .into(),
            );
        }
        let o = &self.oauth2;
        for (key, url) in [
            ("frontend_login_url", &o.frontend_login_url),
            ("frontend_error_url", &o.frontend_error_url),
            ("frontend_bind_url", &o.frontend_bind_url),
        ] {
            if !is_absolute_url(url) {
                problems.push(format!("oauth2.{key} must be an absolute http(s) URL"));
            }
        }
        for origin in &self.cors.allowed_origins {
            if !is_origin(origin) {
                problems.push(format!(
                    "cors.allowed_origins: `{origin}` is not an origin; write scheme://host[:port] with \
                     nothing after it, e.g. http://localhost:5173 (PORTCULLIS__CORS__ALLOWED_ORIGINS, comma-separated)"
                ));
            }
        }
        if o.state_ttl_seconds <= 0 || o.code_ttl_seconds <= 0 {
            problems.push(
                "oauth2.state_ttl_seconds and oauth2.code_ttl_seconds must be positive".into(),
            );
        }
        for (name, p) in &o.providers {
            let env = format!(
                "PORTCULLIS__OAUTH2__PROVIDERS__{}",
                name.to_ascii_uppercase()
            );
            let name_ok = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
                && !["me", "exchange", "providers"].contains(&name.as_str());
            if !name_ok {
                problems.push(format!(
                    "oauth2.providers.{name}: names are lower-case letters, digits, `-` and `_`, and not `me`, `exchange` or `providers`"
                ));
            }
            if p.client_id.is_empty() || p.client_secret.is_empty() {
                problems.push(format!(
                    "oauth2.providers.{name} needs client_id and client_secret ({env}__CLIENT_ID, {env}__CLIENT_SECRET)"
                ));
            }
            if !is_absolute_url(&p.redirect_uri) {
                problems.push(format!("oauth2.providers.{name}.redirect_uri must be an absolute URL ({env}__REDIRECT_URI)"));
            }
            if p.kind == ProviderKind::Oidc && !p.issuer.as_deref().is_some_and(is_absolute_url) {
                problems.push(format!(
                    "oauth2.providers.{name} is an oidc provider and needs issuer ({env}__ISSUER)"
                ));
            }
        }
        if self.password.max_parallel_hashes > 64 {
            problems.push("password.max_parallel_hashes must be 0 (half the cores) to 64".into());
        }
        if self.profile == Profile::Production {
            if self.jwt.algorithm == JwtAlgorithm::EdDSA && self.jwt.private_key_file.is_empty() {
                problems.push(
                    "jwt.private_key_file is missing; production never generates a key. Make one with \
                     `portcullis keys generate --out /etc/portcullis` and set PORTCULLIS__JWT__PRIVATE_KEY_FILE"
                        .into(),
                );
            }
            if self.jwt.algorithm == JwtAlgorithm::HS256 && self.jwt.secret.is_empty() {
                problems.push(format!(
                    "jwt.secret is missing; production never generates one. Set PORTCULLIS__JWT__SECRET \
                     to at least {MIN_SECRET_BYTES} random bytes, e.g. `openssl rand -base64 48`"
                ));
            }
            if !(db.starts_with("postgres://") || db.starts_with("postgresql://")) {
                problems.push(
                    "database.url is not a PostgreSQL URL; production keeps its users in PostgreSQL \
                     (SQLite is for one embedded server). Set PORTCULLIS__DATABASE__URL, e.g. \
                     postgres://portcullis@127.0.0.1:5432/portcullis"
                        .into(),
                );
            }
            if !self.uses_redis() {
                problems.push(
                    "redis.url is empty, so sessions would live in this process only and other nodes \
                     could not see a logout. Set PORTCULLIS__REDIS__URL, e.g. redis://127.0.0.1:6379/0"
                        .into(),
                );
            }
            if self.swagger_login.enabled {
                problems.push(
                    "swagger_login.enabled is on; the Swagger password login skips the captcha and is \
                     for development. Set PORTCULLIS__SWAGGER_LOGIN__ENABLED=false"
                        .into(),
                );
            }
            if !self.session.cookie_secure && !self.session.allow_insecure_cookie {
                problems.push(
                    "session.cookie_secure is off; production sends the refresh cookie over HTTPS only. \
                     Set PORTCULLIS__SESSION__COOKIE_SECURE=true (or, if it is meant, \
                     PORTCULLIS__SESSION__ALLOW_INSECURE_COOKIE=true)"
                        .into(),
                );
            }
            if self.server.public_url.trim().is_empty() {
                problems.push(
                    "server.public_url is missing; production builds the URLs it publishes from it, \
                     never from request headers. Set PORTCULLIS__SERVER__PUBLIC_URL, e.g. \
                     https://auth.example.com"
                        .into(),
                );
            }
            if self.bootstrap.create_admin {
                problems.push(
                    "bootstrap.create_admin is on; production creates no accounts by itself. \
                     Set PORTCULLIS__BOOTSTRAP__CREATE_ADMIN=false and use `portcullis user create`"
                        .into(),
                );
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }
}

#[cfg(test)]
mod origin_tests {
    use super::is_origin;

    #[test]
    fn origins_are_scheme_host_and_port_only() {
        for good in [
            "http://localhost:5173",
            "https://app.example.com",
            "http://127.0.0.1:8000",
            "http://[::1]:3000",
            "https://[::1]",
        ] {
            assert!(is_origin(good), "{good}");
        }
        for bad in [
            "http://[::1]8080",
            "https://x.example:443",
            "http://x.example:80",
            "http://x.example:+80",
            "http://x.example:080",
            "http://x.example:0",
            "http://bücher.example",
            "http://::1",
            "localhost:5173",
            "http://localhost:5173/",
            "https://app.example.com/path",
            "ftp://example.com",
            "http://user@example.com",
            "http://example.com:99999",
            "http://example.com:",
            "https://App.example.com",
            "http://",
            "*",
            "http://[::1",
        ] {
            assert!(!is_origin(bad), "{bad}");
        }
    }
}
