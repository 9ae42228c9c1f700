//! A small orders API protected by Portcullis.
//!
//! ```sh
//! PORTCULLIS_URL=http://127.0.0.1:8000 PORTCULLIS_CLIENT_ID=orders-api \
//! PORTCULLIS_CLIENT_SECRET=... PORT=8080 cargo run -p portcullis-guard --example protected_api
//! ```
//!
//! `GET /public` needs nothing, `GET /orders` a signed-in user, `POST /orders` the permission
//! `order:create`. With an HS256 server, also set `PORTCULLIS_JWT_SECRET`.

use actix_web::{web, App, HttpResponse, HttpServer};
use portcullis_guard::{require, Guard, User};
use serde_json::json;

async fn public() -> HttpResponse {
    HttpResponse::Ok().json(json!({"hello": "anyone"}))
}

async fn list_orders(user: User) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "user": user.username,
        "orders": [{"id": 1, "item": "portcullis, oak, 3 m"}],
    }))
}

async fn create_order(user: User) -> HttpResponse {
    HttpResponse::Created().json(json!({"created_by": user.username, "id": 2}))
}

fn env(name: &str, default: Option<&str>) -> Result<String, String> {
    match (std::env::var(name), default) {
        (Ok(v), _) if !v.is_empty() => Ok(v),
        (_, Some(d)) => Ok(d.to_owned()),
        _ => Err(format!(
            "{name} is not set (see the README: \"Protecting an actix-web API\")"
        )),
    }
}

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let url = env("PORTCULLIS_URL", Some("http://127.0.0.1:8000"))?;
    let mut builder = Guard::builder(
        &url,
        env("PORTCULLIS_CLIENT_ID", None)?,
        env("PORTCULLIS_CLIENT_SECRET", None)?,
    );
    if let Ok(secret) = std::env::var("PORTCULLIS_JWT_SECRET") {
        builder = builder.hs256_secret(secret);
    }
    let guard = builder.build().await?;
    let port: u16 = env("PORT", Some("8080"))?.parse()?;
    tracing::info!(port, portcullis = url, "orders API listening");
    HttpServer::new(move || {
        App::new()
            .wrap(guard.middleware())
            .route("/public", web::get().to(public))
            .service(
                web::resource("/orders")
                    .route(web::get().to(list_orders))
                    .route(web::post().to(create_order).wrap(require("order:create"))),
            )
    })
    .bind(("127.0.0.1", port))?
    .run()
    .await?;
    Ok(())
}
