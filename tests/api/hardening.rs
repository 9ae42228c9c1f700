//! Defaults and published URLs that must not be bent: discovery from `server.public_url` only,
//! production's refusals (insecure cookie, no public URL), key files others can read.

use std::os::unix::fs::PermissionsExt;

use portcullis::config::{JwtAlgorithm, Profile, Settings};
use portcullis::startup::Application;
use serde_json::Value;

use crate::helpers::*;

#[actix_web::test]
async fn discovery_is_built_from_the_public_url_never_from_request_headers() {
    let (mut s, dir) = test_settings().await;
    s.server.public_url = "https://auth.example.com/".into();
    let app = spawn_with(s, dir).await;
    let res = app
        .client
        .get(app.url("/.well-known/openid-configuration"))
        .header("forwarded", "host=evil.example;proto=https")
        .header("x-forwarded-host", "evil.example")
        .header("x-forwarded-proto", "https")
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["jwks_uri"], "https://auth.example.com/.well-known/jwks.json",
        "{body}"
    );
    assert_eq!(
        body["introspection_endpoint"],
        "https://auth.example.com/api/v1/auth/introspect"
    );
    assert!(!body.to_string().contains("evil"), "{body}");
}

#[actix_web::test]
async fn development_publishes_the_listen_address_by_default() {
    let app = spawn_app().await;
    let body: Value = app
        .client
        .get(app.url("/.well-known/openid-configuration"))
        .header("host", "evil.example")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["jwks_uri"],
        format!("{}/.well-known/jwks.json", app.address),
        "{body}"
    );
}

/// Settings that production would accept, but for what the test changes.
async fn production_settings() -> (Settings, std::sync::Arc<Resources>) {
    let (mut s, dir) = test_settings().await;
    s.profile = Profile::Production;
    if s.redis.url.is_empty() && s.redis.cluster_urls.is_empty() {
        s.redis.url = REDIS_URL.into();
    }
    s.swagger_login.enabled = false;
    s.bootstrap.create_admin = false;
    s.session.cookie_secure = true;
    s.server.public_url = "https://auth.example.com".into();
    (s, dir)
}

async fn refusal(s: Settings) -> String {
    Application::builder(s)
        .build()
        .await
        .err()
        .expect("refuses to start")
        .to_string()
}

#[actix_web::test]
async fn production_refuses_an_insecure_cookie_and_a_missing_public_url() {
    let (mut s, _dir) = production_settings().await;
    s.session.cookie_secure = false;
    let err = refusal(s.clone()).await;
    assert!(err.contains("PORTCULLIS__SESSION__COOKIE_SECURE"), "{err}");
    s.session.allow_insecure_cookie = true;
    s.server.public_url = String::new();
    let err = refusal(s.clone()).await;
    assert!(!err.contains("COOKIE_SECURE"), "allowed when meant: {err}");
    assert!(err.contains("PORTCULLIS__SERVER__PUBLIC_URL"), "{err}");
    s.server.public_url = "auth.example.com".into();
    let err = refusal(s).await;
    assert!(
        err.contains("server.public_url `auth.example.com`"),
        "{err}"
    );
}

#[actix_web::test]
async fn key_and_secret_files_others_can_read_are_refused() {
    let (mut s, dir) = test_settings().await;
    s.jwt.secret = String::new();
    let folder = tempfile::tempdir().unwrap();
    s.data.dir = folder.path().to_owned();
    let secret = folder.path().join("jwt_secret");
    std::fs::write(&secret, "s".repeat(48)).unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = refusal(s.clone()).await;
    assert!(err.contains("chmod 600"), "{err}");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let app = spawn_with(s.clone(), dir.clone()).await;
    assert_eq!(
        app.client
            .get(app.url("/health/live"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    drop(app);

    let key = folder.path().join("signing.pem");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["keys", "generate", "--out"])
        .arg(folder.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let generated = std::fs::read_dir(folder.path())
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.extension().is_some_and(|x| x == "pem")
                && !p.file_name().unwrap().to_string_lossy().contains(".pub.")
        })
        .expect("a private key file");
    std::fs::rename(generated, &key).unwrap();
    s.jwt.algorithm = JwtAlgorithm::EdDSA;
    s.jwt.private_key_file = key.display().to_string();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
    let err = refusal(s).await;
    assert!(
        err.contains("jwt.private_key_file") && err.contains("chmod 600"),
        "{err}"
    );
}
