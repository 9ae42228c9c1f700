//! Rate limits per route and client address (actix-governor). One limiter per route, built once
//! and shared by every worker; the key is the client's address key from `ClientIpResolver` (an
//! IPv6 client's network), so forwarding headers count only when a trusted proxy sent them. A
//! timer drops idle clients' state, so rotating addresses cannot grow memory without bound.

use std::net::IpAddr;
use std::time::Duration;

use actix_governor::governor::clock::{Clock, DefaultClock, QuantaInstant};
use actix_governor::governor::middleware::NoOpMiddleware;
use actix_governor::governor::NotUntil;
use actix_governor::{
    Governor, GovernorConfig, GovernorConfigBuilder, KeyExtractor, SimpleKeyExtractionError,
};
use actix_web::{dev::ServiceRequest, HttpResponse, HttpResponseBuilder};

use crate::auth::client_ip::ClientIpResolver;
use crate::config::{RateLimitSettings, RouteLimit};
use crate::error::{kind, ApiError};

#[derive(Clone)]
pub struct ClientKey {
    resolver: ClientIpResolver,
}

impl KeyExtractor for ClientKey {
    type Key = IpAddr;
    type KeyExtractionError = SimpleKeyExtractionError<&'static str>;

    fn extract(&self, req: &ServiceRequest) -> Result<IpAddr, Self::KeyExtractionError> {
        Ok(self
            .resolver
            .key(self.resolver.resolve(req.peer_addr(), req.headers())))
    }

    /// The envelope, as an `ApiError` so the envelope middleware adds the language and trace id;
    /// governor's `Retry-After` header is carried over.
    fn exceed_rate_limit_response(
        &self,
        negative: &NotUntil<QuantaInstant>,
        mut response: HttpResponseBuilder,
    ) -> HttpResponse {
        let wait = negative
            .wait_time_from(DefaultClock::default().now())
            .as_secs()
            .max(1);
        let headers = response.finish().headers().clone();
        let mut res = HttpResponse::from_error(ApiError::new(kind::RATE_LIMITED));
        for (name, value) in headers.iter() {
            res.headers_mut().insert(name.clone(), value.clone());
        }
        res.headers_mut().insert(
            actix_web::http::header::RETRY_AFTER,
            actix_web::http::header::HeaderValue::from(wait),
        );
        res
    }
}

pub type Limiter = Governor<ClientKey, NoOpMiddleware<QuantaInstant>>;

/// The limiters, built once per process.
#[derive(Clone)]
pub struct Limits {
    pub captcha: Config,
    /// Shared by the JSON login and the Swagger login: one budget for both.
    pub login: Config,
    pub refresh: Config,
    pub oauth2_start: Config,
    pub oauth2_callback: Config,
    pub oidc_authorize: Config,
    pub oidc_token: Config,
}

type Config = GovernorConfig<ClientKey, NoOpMiddleware<QuantaInstant>>;

fn config(name: &str, limit: RouteLimit, key: &ClientKey) -> Result<Config, String> {
    let per_request = limit.period_seconds.saturating_mul(1000) / u64::from(limit.burst.max(1));
    GovernorConfigBuilder::default()
        .period(Duration::from_millis(per_request.max(1)))
        .burst_size(limit.burst)
        .key_extractor(key.clone())
        .finish()
        .ok_or_else(|| format!("rate_limit.{name} needs burst and period_seconds above 0"))
}

impl Limits {
    pub fn new(settings: &RateLimitSettings, resolver: &ClientIpResolver) -> Result<Self, String> {
        let key = ClientKey {
            resolver: resolver.clone(),
        };
        Ok(Self {
            captcha: config("captcha", settings.captcha, &key)?,
            login: config("login", settings.login, &key)?,
            refresh: config("refresh", settings.refresh, &key)?,
            oauth2_start: config("oauth2_start", settings.oauth2_start, &key)?,
            oauth2_callback: config("oauth2_callback", settings.oauth2_callback, &key)?,
            oidc_authorize: config("oidc_authorize", settings.oidc_authorize, &key)?,
            oidc_token: config("oidc_token", settings.oidc_token, &key)?,
        })
    }

    fn all(&self) -> [&Config; 7] {
        [
            &self.captcha,
            &self.login,
            &self.refresh,
            &self.oauth2_start,
            &self.oauth2_callback,
            &self.oidc_authorize,
            &self.oidc_token,
        ]
    }

    /// Forgets clients whose buckets are full again: they are as good as new.
    pub fn prune(&self) {
        for c in self.all() {
            let l = c.limiter();
            l.retain_recent();
            l.shrink_to_fit();
        }
    }

    /// Prunes every minute, for as long as the server runs.
    pub fn prune_every_minute(&self) {
        let limits = self.clone();
        actix_web::rt::spawn(async move {
            let mut tick = actix_web::rt::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                limits.prune();
            }
        });
    }

    /// Clients the limiters remember now.
    pub fn remembered(&self) -> usize {
        self.all().iter().map(|c| c.limiter().len()).sum()
    }
}

pub fn limiter(config: &Config) -> Limiter {
    Governor::new(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_that_rotate_their_address_are_forgotten() {
        let mut settings = crate::config::Settings::defaults().rate_limit;
        settings.captcha = RouteLimit {
            burst: 1,
            period_seconds: 1,
        };
        let limits = Limits::new(&settings, &ClientIpResolver::default()).unwrap();
        let limiter = limits.captcha.limiter();
        for i in 0..500u32 {
            let ip = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            assert!(limiter.check_key(&ip).is_ok());
        }
        assert_eq!(limits.remembered(), 500);
        // governor drops a key once its state is a full period older than a fresh one.
        std::thread::sleep(Duration::from_millis(2100));
        limits.prune();
        assert_eq!(limits.remembered(), 0);
    }
}
