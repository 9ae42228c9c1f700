//! Rate limits per route and client address (actix-governor). One limiter per route, built once
//! and shared by every worker; the key is the client address from `ClientIpResolver`, so
//! forwarding headers count only when a trusted proxy sent them.

use std::net::IpAddr;
use std::time::Duration;

use actix_governor::governor::clock::{Clock, DefaultClock, QuantaInstant};
use actix_governor::governor::middleware::NoOpMiddleware;
use actix_governor::governor::NotUntil;
use actix_governor::{
    Governor, GovernorConfig, GovernorConfigBuilder, KeyExtractor, SimpleKeyExtractionError,
};
use actix_web::{dev::ServiceRequest, HttpResponse, HttpResponseBuilder};

use super::client_ip::ClientIpResolver;
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
        Ok(self.resolver.resolve(req.peer_addr(), req.headers()))
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
    pub oauth2_callback: Config,
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
            oauth2_callback: config("oauth2_callback", settings.oauth2_callback, &key)?,
        })
    }
}

pub fn limiter(config: &Config) -> Limiter {
    Governor::new(config)
}
