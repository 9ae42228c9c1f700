//! fba's backend trusting Portcullis's tokens: the FastAPI app of examples/fba-backend/, run by a
//! real uvicorn, behind the nginx site that puts fba's frontend, Portcullis and that backend on
//! one origin (examples/nginx/fba-frontend.conf, as shipped). Python comes from the virtualenv
//! scripts/fastapi-venv.sh makes (scripts/test.sh runs it); without it the test fails, naming it.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use portcullis::config::JwtAlgorithm;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::nginx::{free_port, Nginx};

/// The claims the example's introspection reads (docs/migrating-from-fba.md).
const CLAIMS: &str = "sub,username,scope,exp,sid";

fn venv() -> PathBuf {
    let venv = std::env::var_os("PORTCULLIS_FASTAPI_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/target/fastapi-venv").into());
    assert!(
        venv.join("bin/uvicorn").exists(),
        "no FastAPI virtualenv at {}: run scripts/fastapi-venv.sh (scripts/test.sh does)",
        venv.display()
    );
    venv
}

/// The example app under uvicorn, killed when dropped.
struct Uvicorn {
    child: Child,
    port: u16,
    _log: tempfile::NamedTempFile,
}

impl Drop for Uvicorn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Uvicorn {
    fn start(env: &[(&str, &str)]) -> Self {
        let venv = venv();
        let port = free_port();
        let log = tempfile::NamedTempFile::new().unwrap();
        let mut child = Command::new(venv.join("bin/uvicorn"))
            .args([
                "app:app",
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
            ])
            .args([
                "--app-dir",
                concat!(env!("CARGO_MANIFEST_DIR"), "/examples/fba-backend"),
            ])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("PYTHONDONTWRITEBYTECODE", "1") // no __pycache__ in examples/
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log.reopen().unwrap())
            .spawn()
            .expect("uvicorn starts");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if started.elapsed() > Duration::from_secs(20) || child.try_wait().unwrap().is_some() {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "uvicorn did not start:\n{}",
                    std::fs::read_to_string(log.path()).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            child,
            port,
            _log: log,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

/// examples/nginx/fba-frontend.conf with the test's addresses, serving a stand-in build of the
/// frontend.
fn site(portcullis: &str, backend: u16) -> Nginx {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let frontend = dir.path().join("frontend");
    std::fs::create_dir_all(frontend.join("assets")).unwrap();
    std::fs::write(frontend.join("index.html"), "<title>fba frontend</title>").unwrap();
    std::fs::write(frontend.join("assets/app.js"), "console.log('fba')").unwrap();
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/nginx/fba-frontend.conf"
    ))
    .unwrap();
    for shipped in [
        "127.0.0.1:8000",
        "127.0.0.1:8001",
        "/srv/fba-frontend",
        "listen 80;",
    ] {
        assert!(text.contains(shipped), "the site names {shipped}");
    }
    let text = text
        .replace("127.0.0.1:8000", portcullis)
        .replace("127.0.0.1:8001", &format!("127.0.0.1:{backend}"))
        .replace("/srv/fba-frontend", &frontend.display().to_string())
        .replace("listen 80;", &format!("listen 127.0.0.1:{port};"));
    std::fs::write(dir.path().join("fba-frontend.conf"), text).unwrap();
    Nginx::serve(dir, "fba-frontend.conf", port)
}

async fn sidebar(client: &reqwest::Client, url: String, token: Option<&str>) -> (u16, Value) {
    let mut req = client.get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    if status == 401 {
        let challenge = www_authenticate(&res).unwrap_or_default();
        assert!(
            challenge.starts_with("Bearer realm=\"portcullis\""),
            "{challenge}"
        );
    }
    (status, res.json().await.unwrap())
}

#[actix_web::test]
async fn fastapi_backend_behind_nginx_trusts_portcullis_tokens_until_logout() {
    let (mut settings, resources) = test_settings().await;
    // EdDSA, so that the JWKS way can be run against the same server.
    settings.jwt.algorithm = JwtAlgorithm::EdDSA;
    let app = spawn_with(settings, resources).await;
    let secret = app.api_client_with("fba-backend", &["--claims", CLAIMS]);
    let backend = Uvicorn::start(&[
        ("PORTCULLIS_URL", &app.address),
        ("PORTCULLIS_CLIENT_ID", "fba-backend"),
        ("PORTCULLIS_CLIENT_SECRET", &secret),
    ]);
    let nginx = site(app.address.trim_start_matches("http://"), backend.port);
    // The browser: one cookie jar for the one origin.
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();

    // The frontend's files, and its own routes answered with index.html.
    for path in ["/", "/dashboard/analytics"] {
        let res = browser.get(nginx.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(res.text().await.unwrap(), "<title>fba frontend</title>");
    }
    let res = browser
        .get(nginx.url("/assets/app.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.text().await.unwrap(), "console.log('fba')");

    // The auth paths reach Portcullis through the same nginx.
    let captcha: Value = browser
        .get(nginx.url("/api/v1/auth/captcha"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(captcha["code"], 200, "{captcha}");
    assert!(captcha["data"]["is_enabled"].is_boolean(), "{captcha}");
    assert!(captcha["data"]["expire_seconds"].is_number(), "{captcha}");

    // No token, or not one of Portcullis's: fba's backend refuses, in fba's envelope.
    let (status, body) = sidebar(&browser, nginx.url("/api/v1/sys/menus/sidebar"), None).await;
    assert_eq!((status, &body["code"]), (401, &json!(401)), "{body}");
    let (status, _) = sidebar(
        &browser,
        nginx.url("/api/v1/sys/menus/sidebar"),
        Some("not.a.token"),
    )
    .await;
    assert_eq!(status, 401);

    let id = app.create_user("fiona").await;
    let login = browser
        .post(nginx.url("/api/v1/auth/login"))
        .json(&json!({"username": "fiona", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let login: Value = login.json().await.unwrap();
    let t = token(&login["data"], "access_token");
    let sid = login["data"]["session_uuid"].as_str().unwrap().to_owned();

    let (status, body) = sidebar(&browser, nginx.url("/api/v1/sys/menus/sidebar"), Some(&t)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["user"],
        json!({"id": id, "username": "fiona", "sid": sid})
    );
    // /sys/users/me is Portcullis's, beside fba's /sys/menus.
    let me: Value = browser
        .get(nginx.url("/api/v1/sys/users/me"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["data"]["username"], "fiona", "{me}");

    // Same origin: the refresh cookie was kept and goes back to Portcullis, with no token.
    let refreshed = browser
        .post(nginx.url("/api/v1/auth/refresh"))
        .send()
        .await
        .unwrap();
    let status = refreshed.status();
    let refreshed: Value = refreshed.json().await.unwrap();
    assert_eq!(status, 200, "the refresh cookie came back: {refreshed}");
    let t2 = token(&refreshed["data"], "access_token");
    assert_ne!(t2, t);
    let (status, _) = sidebar(&browser, nginx.url("/api/v1/sys/menus/sidebar"), Some(&t2)).await;
    assert_eq!(status, 200);

    // The JWKS way, beside it: the same token is accepted by its signature alone.
    let jwks = Uvicorn::start(&[
        ("PORTCULLIS_URL", &app.address),
        ("PORTCULLIS_VERIFY", "jwks"),
    ]);
    let (status, body) = sidebar(&browser, jwks.url("/api/v1/sys/menus/sidebar"), Some(&t)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["user"],
        json!({"id": id, "username": null, "sid": sid})
    );
    let (status, _) = sidebar(
        &browser,
        jwks.url("/api/v1/sys/menus/sidebar"),
        Some(&format!("{t}x")),
    )
    .await;
    assert_eq!(status, 401, "a bad signature");

    // The backend's own credentials wrong: 503, never a 401 that would sign the user out.
    let misconfigured = Uvicorn::start(&[
        ("PORTCULLIS_URL", &app.address),
        ("PORTCULLIS_CLIENT_ID", "fba-backend"),
        ("PORTCULLIS_CLIENT_SECRET", "not-the-secret"),
    ]);
    let (status, body) = sidebar(
        &browser,
        misconfigured.url("/api/v1/sys/menus/sidebar"),
        Some(&t),
    )
    .await;
    assert_eq!((status, &body["code"]), (503, &json!(503)), "{body}");
    drop(misconfigured);

    let logout = browser
        .post(nginx.url("/api/v1/auth/logout"))
        .bearer_auth(&t2)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 200);

    // Introspection: refused at once, both tokens of the session.
    for token in [&t, &t2] {
        let (status, body) = sidebar(
            &browser,
            nginx.url("/api/v1/sys/menus/sidebar"),
            Some(token),
        )
        .await;
        assert_eq!(status, 401, "logged out: {body}");
        assert_eq!(body["code"], 401);
    }
    // JWKS: still accepted until it expires; the trade-off the guide names.
    let (status, _) = sidebar(&browser, jwks.url("/api/v1/sys/menus/sidebar"), Some(&t)).await;
    assert_eq!(status, 200, "JWKS alone does not see a logout");
}
