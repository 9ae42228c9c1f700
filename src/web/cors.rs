//! Browsers on other origins: CORS for the configured origins (actix-cors), and the `Origin`
//! check that keeps cookie-authenticated calls (refresh, logout) to those and this server's own.

use actix_cors::Cors;
use actix_web::http::header;
use actix_web::{web::Data, HttpRequest};

use crate::error::{kind, ApiError};

/// `cors.allowed_origins`, as app data.
#[derive(Debug, Clone, Default)]
pub struct AllowedOrigins(pub Vec<String>);

/// Credentials allowed, every API method, the headers a frontend sends, and the answer headers
/// it may read (`X-Trace-Id` to report a problem, `Retry-After` to wait, the RFC 6750 challenge).
/// A request from any other origin gets no CORS headers (the browser then refuses it).
pub fn cors(origins: &[String], max_age_seconds: usize) -> Cors {
    origins
        .iter()
        .fold(Cors::default(), |c, o| c.allowed_origin(o))
        .allowed_methods(["GET", "POST", "PUT", "DELETE"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::ACCEPT_LANGUAGE,
        ])
        .expose_headers([
            header::HeaderName::from_static("x-trace-id"),
            header::RETRY_AFTER,
            header::WWW_AUTHENTICATE,
            // The page times token renewal by the server's clock, not its own.
            header::DATE,
        ])
        .supports_credentials()
        .max_age(max_age_seconds)
        .block_on_origin_mismatch(false)
}

/// A call authenticated by the refresh cookie must come from this server's own origin or an
/// allowed one. No `Origin` header (a non-browser client, or a browser's same-origin GET) is
/// let through: what a cross-site page can send always carries one.
pub fn check_cookie_origin(req: &HttpRequest) -> Result<(), ApiError> {
    let Some(origin) = req.headers().get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or("null");
    // This server's own origin as the request reached it (behind a proxy: the `Host` and
    // `X-Forwarded-Proto` it passes on).
    let info = req.connection_info();
    let own = format!("{}://{}", info.scheme(), info.host());
    let same = origin.eq_ignore_ascii_case(&own);
    let allowed = req
        .app_data::<Data<AllowedOrigins>>()
        .is_some_and(|a| a.0.iter().any(|o| o == origin));
    if same || allowed {
        Ok(())
    } else {
        Err(ApiError::new(kind::ORIGIN_NOT_ALLOWED).with_detail(origin.to_owned()))
    }
}
