//! `spawn_app()`: a real server on a random port over a fresh database, in the mode chosen by
//! `PORTCULLIS_TEST_MODE` (`embedded`, the default: SQLite + in-process store; `production`:
//! a new PostgreSQL database + a Redis key prefix of its own). Logs are muted unless `TEST_LOG`.

use std::sync::{Arc, Mutex};

use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use portcullis::admin::{Admin, UserSpec};
use portcullis::auth::captcha::{CaptchaGenerator, CaptchaImage};
use portcullis::clock::{OffsetClock, SharedClock};
use portcullis::config::{CaptchaSettings, Settings};
use portcullis::db::Db;
use portcullis::repo::Repo;
use portcullis::startup::Application;
use reqwest::{Client, Response};
use serde_json::{json, Value};

pub const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
pub const REDIS_URL: &str = "redis://127.0.0.1:6379/0";
pub const PASSWORD: &str = "correct horse battery";

/// PostgreSQL and Redis (`production`), or PostgreSQL and a Redis Cluster (`cluster`).
pub fn production_mode() -> bool {
    matches!(
        std::env::var("PORTCULLIS_TEST_MODE").as_deref(),
        Ok("production" | "cluster")
    )
}

/// The cluster's nodes in `cluster` mode (`PORTCULLIS_TEST_CLUSTER`, comma-separated; scripts/test.sh
/// starts one on ports 7001 to 7003); empty otherwise.
pub fn cluster_urls() -> Vec<String> {
    if std::env::var("PORTCULLIS_TEST_MODE").as_deref() != Ok("cluster") {
        return Vec::new();
    }
    std::env::var("PORTCULLIS_TEST_CLUSTER")
        .unwrap_or_else(|_| {
            "redis://127.0.0.1:7001,redis://127.0.0.1:7002,redis://127.0.0.1:7003".into()
        })
        .split(',')
        .map(|u| u.trim().to_owned())
        .collect()
}

/// Every Redis node the tests use (one, or the cluster's masters).
pub fn redis_nodes() -> Vec<String> {
    match cluster_urls() {
        c if c.is_empty() => vec![REDIS_URL.to_owned()],
        c => c,
    }
}

/// Deletes the keys matching `pattern` on one node.
pub fn delete_keys(node: &str, pattern: &str) {
    let Ok(client) = redis::Client::open(node) else {
        return;
    };
    let Ok(mut conn) = client.get_connection() else {
        return;
    };
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(pattern)
        .query(&mut conn)
        .unwrap_or_default();
    for k in keys {
        let _: Result<i64, _> = redis::cmd("DEL").arg(k).query(&mut conn);
    }
}

pub struct TestApp {
    pub address: String,
    /// The metrics listener.
    pub metrics_address: String,
    pub client: Client,
    pub settings: Settings,
    pub clock: Arc<OffsetClock>,
    /// The database, as the CLI sees it.
    pub repo: Repo,
    /// User administration, as the CLI does it.
    pub admin: Admin,
    /// OpenID clients, as the CLI registers them.
    pub oidc_clients: portcullis::oidc::OidcClients,
    /// The answers of the captchas this app drew, in order.
    pub captcha_answers: Arc<Mutex<Vec<String>>>,
    /// What the test made, removed when the last node of the test goes.
    _resources: Arc<Resources>,
}

/// A test's own database and store keys: a temporary folder (the SQLite file), a PostgreSQL
/// database, a Redis key prefix. Dropped with the test, whatever its outcome.
pub struct Resources {
    /// Kept for its `Drop`: the folder goes with the test.
    _dir: tempfile::TempDir,
    database: Option<String>,
    prefix: Option<String>,
}

impl Drop for Resources {
    fn drop(&mut self) {
        if let Some(prefix) = &self.prefix {
            for node in redis_nodes() {
                delete_keys(&node, &format!("{prefix}:*"));
            }
        }
        if let Some(name) = self.database.take() {
            drop_database(name);
        }
    }
}

/// Drops a PostgreSQL database a test made, from a `Drop`: on a runtime of its own, since this
/// may run inside or outside the test's.
pub fn drop_database(name: String) {
    let _ = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            if let Ok(mut conn) = AsyncPgConnection::establish(PG_ADMIN_URL).await {
                let _ = conn
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await;
            }
        });
    })
    .join();
}

/// Draws real captchas and keeps their answers for the test, as a person reads the image.
struct RememberedCaptcha(Arc<Mutex<Vec<String>>>);

impl CaptchaGenerator for RememberedCaptcha {
    fn draw(&self, settings: &CaptchaSettings) -> Option<CaptchaImage> {
        let image = portcullis::auth::captcha::draw(settings)?;
        self.0.lock().unwrap().push(image.answer.clone());
        Some(image)
    }
}

/// Settings for a fresh database of the chosen mode.
pub async fn test_settings() -> (Settings, Arc<Resources>) {
    if std::env::var("TEST_LOG").is_ok() {
        portcullis::telemetry::init("debug");
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let mut database = None;
    let mut prefix = None;
    let mut s = Settings::defaults();
    s.server.port = 0;
    s.server.workers = 2;
    s.metrics.listen = "127.0.0.1:0".into();
    s.bootstrap.create_admin = false;
    s.data.dir = dir.path().to_owned();
    s.jwt.secret = format!("test-secret-{}", uuid::Uuid::new_v4().simple());
    // One RSA key for every test's ID tokens (making one takes a while), copied with the mode
    // the server insists on.
    let rsa = dir.path().join("oidc_rsa.pem");
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/oidc_rsa.pem"),
        &rsa,
    )
    .expect("copy the test RSA key");
    std::fs::set_permissions(&rsa, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    s.oidc.rsa_private_key_file = rsa.display().to_string();
    s.oidc.enabled = true;
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
        // Named with its creation time, so that scripts/test.sh can tell a database that a
        // killed run left behind from one a concurrent run is using.
        #[allow(clippy::disallowed_methods)]
        let created = chrono::Utc::now().timestamp();
        let name = format!(
            "portcullis_test_{created}_{}",
            uuid::Uuid::new_v4().simple()
        );
        let mut conn = AsyncPgConnection::establish(PG_ADMIN_URL)
            .await
            .expect("PostgreSQL at 127.0.0.1:5432 (user postgres, trust auth)");
        conn.batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create test database");
        s.database.url = format!("postgres://postgres@127.0.0.1:5432/{name}");
        s.redis.cluster_urls = cluster_urls();
        if s.redis.cluster_urls.is_empty() {
            s.redis.url = REDIS_URL.into();
        }
        s.redis.key_prefix = format!("pt:{}", uuid::Uuid::new_v4().simple());
        database = Some(name);
        prefix = Some(s.redis.key_prefix.clone());
    } else {
        s.database.url = format!("sqlite://{}", dir.path().join("test.db").display());
    }
    (
        s,
        Arc::new(Resources {
            _dir: dir,
            database,
            prefix,
        }),
    )
}

pub async fn spawn_app() -> TestApp {
    let (settings, dir) = test_settings().await;
    spawn_with(settings, dir).await
}

/// Another node of the same deployment: same database, store and secret.
pub async fn spawn_with(settings: Settings, dir: Arc<Resources>) -> TestApp {
    let clock = Arc::new(OffsetClock::default());
    let shared: SharedClock = clock.clone();
    let answers = Arc::new(Mutex::new(Vec::new()));
    let app = Application::builder(settings.clone())
        .clock(shared.clone())
        .captcha(Arc::new(RememberedCaptcha(answers.clone())))
        .build()
        .await
        .expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let metrics_address = format!(
        "http://127.0.0.1:{}",
        app.metrics_port().expect("metrics on")
    );
    actix_web::rt::spawn(app.run_until_stopped());
    let db = Db::connect(&settings.database_kind(), 2, settings.db_deadline())
        .await
        .expect("test pool");
    let client = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap();
    let tools = portcullis::startup::tools(&settings, shared)
        .await
        .expect("admin tools");
    let test = TestApp {
        address,
        metrics_address,
        client,
        settings,
        clock,
        repo: Repo::new(db),
        admin: tools.admin,
        oidc_clients: tools.oidc_clients,
        captcha_answers: answers,
        _resources: dir,
    };
    test.wait_for_invalidation_link().await;
    test
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// `/metrics`, as text.
    pub async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.metrics_address))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// One value from `/metrics` (0 when the series is not there yet).
    pub async fn metric(&self, series: &str) -> f64 {
        metric_value(&self.metrics().await, series).unwrap_or(0.0)
    }

    /// The node answers from memory only once it follows the invalidation log; wait for that
    /// so tests measure the steady state.
    pub async fn wait_for_invalidation_link(&self) {
        for _ in 0..500 {
            if self.metric("portcullis_invalidation_link_up").await == 1.0 {
                return;
            }
            actix_web::rt::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the invalidation link did not come up within 5 s");
    }

    /// A node applies its own invalidations at once and again when it reads them back from the
    /// log (woken at once, but on another task): a login's, echoed after the next request filled
    /// the cache, empties it again. Tests that count cache misses wait for the echo first.
    pub async fn settle_log(&self) {
        actix_web::rt::time::sleep(std::time::Duration::from_millis(400)).await;
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
        self.admin
            .create_user(UserSpec {
                username: username.into(),
                password: password.into(),
                email: email.map(Into::into),
                nickname: None,
                superuser,
                ..UserSpec::default()
            })
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
    /// GET without credentials.
    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

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

/// The claims of a JWT, unverified (the server verified them).
pub fn jwt_claims(jwt: &str) -> Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

pub fn token(data: &Value, field: &str) -> String {
    data[field].as_str().expect(field).to_owned()
}

/// Asserts an error envelope: status, `error` slug, `code`, and a trace id.
pub async fn assert_error(res: Response, status: u16, slug: &str) -> Value {
    assert_eq!(res.status(), status, "status");
    let body: Value = res.json().await.expect("JSON envelope");
    assert_eq!(body["slug"], slug, "{body}");
    assert_eq!(body["code"], status, "{body}");
    assert!(
        body["trace_id"].as_str().is_some_and(|t| t.len() == 36),
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

/// The value of one series in metrics text.
pub fn metric_value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}
