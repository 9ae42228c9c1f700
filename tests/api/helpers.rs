//! `spawn_app()`: a real server on a random port over a fresh database, in the mode chosen by
//! `PORTCULLIS_TEST_MODE` (`embedded`, the default: SQLite + in-process store; `production`:
//! a new PostgreSQL database + a Redis key prefix of its own). Logs are muted unless `TEST_LOG`.

use std::sync::Arc;

use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use portcullis::admin::{self, UserSpec};
use portcullis::auth::password::PasswordHasherPool;
use portcullis::clock::{OffsetClock, SharedClock};
use portcullis::config::Settings;
use portcullis::db::Db;
use portcullis::domain::PasswordPolicy;
use portcullis::repo::Repo;
use portcullis::startup::{AppState, Application};
use reqwest::{Client, Response};
use serde_json::{json, Value};

pub const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
pub const REDIS_URL: &str = "redis://127.0.0.1:6379/0";
pub const PASSWORD: &str = "correct horse battery";

pub fn production_mode() -> bool {
    std::env::var("PORTCULLIS_TEST_MODE").as_deref() == Ok("production")
}

pub struct TestApp {
    pub address: String,
    pub client: Client,
    pub settings: Settings,
    pub clock: Arc<OffsetClock>,
    pub repo: Repo,
    pub state: actix_web::web::Data<AppState>,
    /// Keeps the SQLite file's folder alive for the test.
    _dir: Arc<tempfile::TempDir>,
}

/// Settings for a fresh database of the chosen mode.
pub async fn test_settings() -> (Settings, Arc<tempfile::TempDir>) {
    if std::env::var("TEST_LOG").is_ok() {
        portcullis::telemetry::init("debug");
    }
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let mut s = Settings::defaults();
    s.server.port = 0;
    s.server.workers = 2;
    s.bootstrap.create_admin = false;
    s.data.dir = dir.path().to_owned();
    s.jwt.secret = format!("test-secret-{}", uuid::Uuid::new_v4().simple());
    s.password.max_parallel_hashes = 4;
    // Most tests log in without a captcha and many times from one address; the tests of those
    // defences switch them back on.
    s.captcha.enabled = false;
    for limit in [
        &mut s.rate_limit.captcha,
        &mut s.rate_limit.login,
        &mut s.rate_limit.refresh,
    ] {
        limit.burst = 100_000;
    }
    if production_mode() {
        let name = format!("portcullis_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = AsyncPgConnection::establish(PG_ADMIN_URL)
            .await
            .expect("PostgreSQL at 127.0.0.1:5432 (user postgres, trust auth)");
        conn.batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create test database");
        s.database.url = format!("postgres://postgres@127.0.0.1:5432/{name}");
        s.redis.url = REDIS_URL.into();
        s.redis.key_prefix = format!("pt:{}", uuid::Uuid::new_v4().simple());
    } else {
        s.database.url = format!("sqlite://{}", dir.path().join("test.db").display());
    }
    (s, dir)
}

pub async fn spawn_app() -> TestApp {
    let (settings, dir) = test_settings().await;
    spawn_with(settings, dir).await
}

/// Another node of the same deployment: same database, store and secret.
pub async fn spawn_with(settings: Settings, dir: Arc<tempfile::TempDir>) -> TestApp {
    let clock = Arc::new(OffsetClock::default());
    let shared: SharedClock = clock.clone();
    let app = Application::build(settings.clone(), shared)
        .await
        .expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let state = app.state();
    actix_web::rt::spawn(app.run_until_stopped());
    let db = Db::connect(&settings.database_kind(), 2)
        .await
        .expect("test pool");
    let client = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap();
    let test = TestApp {
        address,
        client,
        settings,
        clock,
        repo: Repo::new(db),
        state,
        _dir: dir,
    };
    if test.settings.uses_redis() {
        test.wait_for_invalidation_link().await;
    }
    test
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// The node answers from memory only once it listens to invalidations; wait for that so
    /// tests measure the steady state.
    async fn wait_for_invalidation_link(&self) {
        for _ in 0..200 {
            if self.state.cache.link_up() {
                return;
            }
            actix_web::rt::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the invalidation link did not come up within 2 s");
    }

    pub fn secret(&self) -> &[u8] {
        self.settings.jwt.secret.as_bytes()
    }

    pub async fn create_user(&self, username: &str) -> i64 {
        self.create_user_with(username, PASSWORD, false).await
    }

    pub async fn create_user_with(&self, username: &str, password: &str, superuser: bool) -> i64 {
        self.create_user_full(username, password, None, superuser)
            .await
    }

    pub async fn create_user_full(
        &self,
        username: &str,
        password: &str,
        email: Option<&str>,
        superuser: bool,
    ) -> i64 {
        let hasher = PasswordHasherPool::new(1).await.unwrap();
        let clock: SharedClock = self.clock.clone();
        admin::create_user(
            &self.repo,
            &hasher,
            &clock,
            UserSpec {
                username: username.into(),
                password: password.into(),
                email: email.map(Into::into),
                nickname: None,
                superuser,
            },
            PasswordPolicy { min: 8, max: 128 },
        )
        .await
        .expect("create user")
        .id
    }

    pub async fn post_login(&self, body: &Value) -> Response {
        self.client
            .post(self.url("/api/v1/auth/login"))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Logs in and returns the login `data` (tokens and user).
    pub async fn login(&self, username: &str, password: &str) -> Value {
        let res = self
            .post_login(&json!({"username": username, "password": password}))
            .await;
        assert_eq!(res.status(), 200, "login of {username} failed");
        res.json::<Value>().await.unwrap()["data"].clone()
    }

    /// GET without credentials, answer parsed as JSON.
    pub async fn get_json(&self, path: &str) -> Value {
        self.client
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// POST with no body and no credentials (cookies still go along).
    pub async fn post(&self, path: &str) -> Response {
        self.client.post(self.url(path)).send().await.unwrap()
    }

    pub async fn get_auth_json(&self, path: &str, token: &str) -> Value {
        self.get_auth(path, token).await.json().await.unwrap()
    }

    pub async fn get_auth(&self, path: &str, token: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn me(&self, token: &str) -> Response {
        self.get_auth("/api/v1/sys/users/me", token).await
    }

    /// Refresh with the token in the body (no cookie involved).
    pub async fn refresh(&self, refresh_token: &str) -> Response {
        Client::new()
            .post(self.url("/api/v1/auth/refresh"))
            .json(&json!({ "refresh_token": refresh_token }))
            .send()
            .await
            .unwrap()
    }

    pub async fn post_auth(&self, path: &str, token: &str) -> Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }
}

pub fn token(data: &Value, field: &str) -> String {
    data[field].as_str().expect(field).to_owned()
}

/// Asserts an error envelope: status, `error` slug, `code`, and a trace id.
pub async fn assert_error(res: Response, status: u16, slug: &str) -> Value {
    assert_eq!(res.status(), status, "status");
    let body: Value = res.json().await.expect("JSON envelope");
    assert_eq!(body["error"], slug, "{body}");
    assert_eq!(body["code"], status, "{body}");
    assert!(
        body["trace_id"].as_str().is_some_and(|t| t.len() == 32),
        "{body}"
    );
    assert!(body["data"].is_null(), "{body}");
    body
}

pub fn www_authenticate(res: &Response) -> Option<String> {
    res.headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
}
