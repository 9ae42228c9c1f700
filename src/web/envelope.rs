//! The envelope middleware, which gives every error (ours and the framework's) the
//! `{code, msg, data, error, trace_id}` envelope in the client's language, and the body
//! extractors' error handler.

use std::fmt;

use actix_web::{
    body::{BoxBody, EitherBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::{header, StatusCode},
    middleware::Next,
    HttpMessage, HttpRequest, HttpResponse,
};
use tracing_actix_web::RequestId;

use crate::error::{kind, ApiError, ErrorKind, Lang};

/// Middleware: gives every `ApiError` (and every bare framework error such as 404 or a body
/// limit) the envelope in the client's language, with a trace id that is also logged.
pub async fn envelope(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let res = next.call(req).await?;
    let status = res.status();
    // The OpenID provider's endpoints answer as their specifications say (`web::oidc`).
    if status.is_success() || status.is_redirection() || res.request().path().starts_with("/oidc/")
    {
        return Ok(res.map_into_left_body());
    }
    let api_error = res
        .response()
        .error()
        .and_then(|e| e.as_error::<ApiError>());
    let cause = api_error.and_then(ApiError::cause_chain).or_else(|| {
        // A framework error that is not ours: its text is the cause.
        res.response()
            .error()
            .filter(|e| e.as_error::<ApiError>().is_none())
            .map(|e| e.to_string())
    });
    let replacement = match api_error {
        Some(e) => e.answer(),
        None if res.response().error().is_some()
            || status == StatusCode::NOT_FOUND
            || status == StatusCode::TOO_MANY_REQUESTS =>
        {
            ApiError::new(kind_for_status(status))
        }
        None => return Ok(res.map_into_left_body()),
    };
    // The request id of the request's span (tracing-actix-web), so the client's trace id finds
    // the log lines of its request.
    let trace_id = res
        .request()
        .extensions()
        .get::<RequestId>()
        .map(|id| id.to_string())
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let lang = Lang::from_request(res.request());
    let slug = replacement.kind.slug;
    if replacement.kind.status >= 500 {
        tracing::error!(
            trace_id,
            slug,
            cause = cause.as_deref().unwrap_or("unknown"),
            "request failed"
        );
    } else {
        tracing::debug!(trace_id, slug, cause, "request refused");
    }
    let mut rendered: HttpResponse<BoxBody> = replacement.render(lang, Some(&trace_id));
    // Keep what the failing layer said besides the body (Retry-After, rate-limit headers, cookies).
    for (name, value) in res.headers() {
        if !matches!(
            *name,
            header::CONTENT_TYPE | header::CONTENT_LENGTH | header::WWW_AUTHENTICATE
        ) {
            rendered.headers_mut().append(name.clone(), value.clone());
        }
    }
    let (req, _) = res.into_parts();
    Ok(ServiceResponse::new(req, rendered).map_into_right_body())
}

fn kind_for_status(status: StatusCode) -> &'static ErrorKind {
    match status.as_u16() {
        401 => kind::UNAUTHORIZED,
        404 | 405 => kind::NOT_FOUND,
        413 => kind::PAYLOAD_TOO_LARGE,
        429 => kind::RATE_LIMITED,
        415 => kind::UNSUPPORTED_MEDIA_TYPE,
        400..=499 => kind::INVALID_BODY,
        502 => kind::PROVIDER_UNAVAILABLE,
        503 => kind::STORE_UNAVAILABLE,
        _ => kind::INTERNAL,
    }
}

/// Maps body extraction failures (bad JSON, missing field, too large, wrong content type) to the
/// envelope. Installed as the JSON, form and path error handler.
pub fn body_error(
    err: impl fmt::Display + IntoPayloadKind,
    _req: &HttpRequest,
) -> actix_web::Error {
    let kind = err.payload_kind();
    let mut e = ApiError::new(kind);
    if kind.slug == kind::INVALID_BODY.slug {
        e = e.with_detail(err.to_string());
    }
    e.into()
}

/// Which envelope kind a framework payload error becomes.
pub trait IntoPayloadKind {
    fn payload_kind(&self) -> &'static ErrorKind;
}

impl IntoPayloadKind for actix_web::error::JsonPayloadError {
    fn payload_kind(&self) -> &'static ErrorKind {
        use actix_web::error::JsonPayloadError as J;
        match self {
            J::Overflow { .. } | J::OverflowKnownLength { .. } => kind::PAYLOAD_TOO_LARGE,
            J::Payload(actix_web::error::PayloadError::Overflow) => kind::PAYLOAD_TOO_LARGE,
            _ => kind::INVALID_BODY,
        }
    }
}

impl IntoPayloadKind for actix_web::error::UrlencodedError {
    fn payload_kind(&self) -> &'static ErrorKind {
        use actix_web::error::UrlencodedError as U;
        match self {
            U::Overflow { .. } | U::UnknownLength => kind::PAYLOAD_TOO_LARGE,
            U::ContentType => kind::UNSUPPORTED_MEDIA_TYPE,
            _ => kind::INVALID_BODY,
        }
    }
}

impl IntoPayloadKind for actix_web::error::PathError {
    fn payload_kind(&self) -> &'static ErrorKind {
        kind::NOT_FOUND
    }
}

impl IntoPayloadKind for actix_web::error::QueryPayloadError {
    fn payload_kind(&self) -> &'static ErrorKind {
        kind::INVALID_BODY
    }
}
