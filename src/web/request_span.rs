//! The request's span (tracing-actix-web): its request id is the `trace_id` a client sees, and
//! an error logged while the request runs carries it. The default span builder reads the
//! client address, user agent and route for every request even when nothing records the span;
//! this one names the method, path and id, only when the span is on (`RUST_LOG` at `info`).

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::HttpMessage;
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder};

pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(req: &ServiceRequest) -> Span {
        let span = tracing::info_span!(
            "request",
            method = %req.method(),
            path = %req.path(),
            request_id = tracing::field::Empty,
            http.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
        );
        if !span.is_disabled() {
            if let Some(id) = req.extensions().get::<RequestId>() {
                span.record("request_id", tracing::field::display(id));
            }
        }
        span
    }

    fn on_request_end<B: MessageBody>(
        span: Span,
        outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
        if !span.is_disabled() {
            DefaultRootSpanBuilder::on_request_end(span, outcome);
        }
    }
}
