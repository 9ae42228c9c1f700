//! What every answer looks like: the envelope, the client's language, the middleware that gives
//! framework errors the envelope, and the body extractors' error handler.

use std::fmt;

use actix_web::{
    body::{BoxBody, EitherBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::{header, StatusCode},
    middleware::Next,
    HttpRequest, HttpResponse, ResponseError,
};
use serde::Serialize;

use super::{kind, ApiError, ErrorKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Zh,
}

impl Lang {
    /// `msg` of a successful answer.
    pub fn success(self) -> &'static str {
        match self {
            Self::En => "Success",
            Self::Zh => "请求成功",
        }
    }

    /// The first language the client lists decides; anything Chinese gets Chinese.
    pub fn from_request(req: &HttpRequest) -> Self {
        let first = req
            .headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .unwrap_or("");
        if first.trim().to_ascii_lowercase().starts_with("zh") {
            Self::Zh
        } else {
            Self::En
        }
    }
}

/// The response envelope, success and failure alike.
#[derive(Debug, Serialize)]
pub struct Envelope<'a, T: Serialize> {
    pub code: u32,
    pub msg: std::borrow::Cow<'a, str>,
    pub data: Option<&'a T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<&'a str>,
}

impl<'a, T: Serialize> Envelope<'a, T> {
    /// `{code: 200, msg, data}`.
    pub fn success(lang: Lang, data: &'a T) -> Self {
        Envelope {
            code: 200,
            msg: lang.success().into(),
            data: Some(data),
            error: None,
            trace_id: None,
        }
    }

    /// The envelope as JSON, written into a buffer sized for a typical answer, so a user or a
    /// token pair is serialized without growing it.
    pub fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        let mut body = Vec::with_capacity(512);
        serde_json::to_writer(&mut body, self)?;
        Ok(body)
    }

    /// The envelope as the JSON body of `res`.
    pub fn respond(&self, res: &mut actix_web::HttpResponseBuilder) -> HttpResponse {
        match self.to_json() {
            Ok(body) => res.content_type(header::ContentType::json()).body(body),
            Err(e) => ApiError::internal(format_args!("cannot serialize a response: {e}"))
                .error_response(),
        }
    }
}

/// Middleware: gives every `ApiError` (and every bare framework error such as 404 or a body
/// limit) the envelope in the client's language, with a trace id that is also logged.
pub async fn envelope(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let res = next.call(req).await?;
    let status = res.status();
    if status.is_success() || status.is_redirection() {
        return Ok(res.map_into_left_body());
    }
    let api_error = res
        .response()
        .error()
        .and_then(|e| e.as_error::<ApiError>());
    let replacement = match api_error {
        Some(e) => ApiError {
            kind: e.kind,
            detail: e.detail.clone(),
            data: e.data.clone(),
        },
        None if res.response().error().is_some()
            || status == StatusCode::NOT_FOUND
            || status == StatusCode::TOO_MANY_REQUESTS =>
        {
            ApiError::new(kind_for_status(status))
        }
        None => return Ok(res.map_into_left_body()),
    };
    let trace_id = uuid::Uuid::new_v4().simple().to_string();
    let lang = Lang::from_request(res.request());
    if replacement.kind.status >= 500 {
        tracing::error!(trace_id, slug = replacement.kind.slug, path = %res.request().path(), "request failed");
    } else {
        tracing::debug!(trace_id, slug = replacement.kind.slug, path = %res.request().path(), "request refused");
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
