//! The request metrics middleware and the `/metrics` endpoint.

use std::time::Instant;

use actix_web::{
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    middleware::Next,
    web::Data,
    HttpResponse,
};

use crate::metrics::Metrics;

/// One latency observation per request, labelled by the matched route pattern (never the raw
/// path, so ids do not explode the label set).
pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let start = Instant::now();
    let res = next.call(req).await?;
    if let Some(metrics) = res.request().app_data::<Data<Metrics>>() {
        let route = res.request().match_pattern();
        metrics.request(
            route.as_deref(),
            res.request().method().as_str(),
            res.status().as_u16(),
            start.elapsed().as_secs_f64(),
        );
    }
    Ok(res)
}

/// `GET /metrics`: the OpenMetrics text.
pub async fn render(metrics: Data<Metrics>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(metrics.render())
}
