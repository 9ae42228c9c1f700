//! The fault suite: each row of the reliability table, asserting its "must be". A TCP proxy
//! (proxy.rs) sits between a node and Redis or PostgreSQL and passes, goes silent, refuses or
//! resets; other rows stop a node as an operator (or the kernel) would. Each test prints what it
//! measured (`cargo nextest run faults --no-capture`).
//!
//! Redis and PostgreSQL faults need production mode; the process rows run in every mode. (A
//! cluster redirects clients to its nodes' own ports, past any proxy: in cluster mode the Redis
//! rows are left to the production run.)

pub mod proxy;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use self::proxy::{Mode, Proxy};
use crate::helpers::*;

fn single_redis_production() -> bool {
    production_mode() && cluster_urls().is_empty()
}

/// Polls `f` every 5 ms until it holds; how long that took, or a failure past `limit`.
async fn until<F, Fut>(what: &str, limit: Duration, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if f().await {
            return started.elapsed();
        }
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        actix_web::rt::time::sleep(Duration::from_millis(5)).await;
    }
}

fn port_of(url: &str) -> u16 {
    let after_host = url.rsplit_once(':').unwrap().1;
    after_host
        .split(['/', '?'])
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

// Redis stopped, then back: 503 meanwhile, 200 at once after, no restart.

#[actix_web::test]
async fn a_stopped_redis_is_503_and_service_comes_back_by_itself() {
    if !single_redis_production() {
        return eprintln!("Redis faults run in production mode");
    }
    let (mut s, res) = test_settings().await;
    let redis = Proxy::start(port_of(REDIS_URL)).await;
    s.redis.url = format!("redis://127.0.0.1:{}/0", redis.port);
    s.redis.timeout_ms = 500;
    let app = spawn_with(s, res).await;
    app.create_user("fay").await;
    let t = token(&app.login("fay", PASSWORD).await, "access_token");
    assert_eq!(app.me(&t).await.status(), 200);

    redis.set(Mode::Refuse);
    redis.reset();
    let down = until("503 once Redis is gone", Duration::from_secs(3), || async {
        app.me(&t).await.status() == 503
    })
    .await;
    actix_web::rt::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        app.me(&t).await.status(),
        503,
        "503 for as long as Redis is away"
    );
    redis.set(Mode::Pass);
    let back = until("200 once Redis is back", Duration::from_secs(1), || async {
        app.me(&t).await.status() == 200
    })
    .await;
    eprintln!("Redis stopped: 503 after {down:?}; back: 200 after {back:?}");
}

// The invalidation link goes silent: no answers from memory within 5 s; nothing missed after.

#[actix_web::test]
async fn a_silent_redis_link_stops_answers_from_memory_and_misses_nothing() {
    if !single_redis_production() {
        return eprintln!("Redis faults run in production mode");
    }
    let (s, res) = test_settings().await;
    let a = spawn_with(s.clone(), res.clone()).await;
    let redis = Proxy::start(port_of(REDIS_URL)).await;
    let mut sb = s;
    sb.redis.url = format!("redis://127.0.0.1:{}/0", redis.port);
    sb.redis.timeout_ms = 500;
    let b = spawn_with(sb, res).await;
    a.create_user("gus").await;
    let first = token(&a.login("gus", PASSWORD).await, "access_token");
    let second = token(&a.login("gus", PASSWORD).await, "access_token");
    assert_eq!(b.me(&first).await.status(), 200, "cached on B");
    assert_eq!(b.me(&second).await.status(), 200, "cached on B");

    redis.set(Mode::Silent);
    let silent_since = Instant::now();
    // Logged out on A while B hears nothing.
    assert_eq!(
        a.post_auth("/api/v1/auth/logout", &first).await.status(),
        200
    );
    let detected = until(
        "B stops answering from memory",
        Duration::from_secs(5),
        || async { b.me(&first).await.status() != 200 },
    )
    .await;
    let detected = silent_since.elapsed().max(detected);
    // The second session ends while B is still cut off.
    assert_eq!(
        a.post_auth("/api/v1/auth/logout", &second).await.status(),
        200
    );
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;

    redis.set(Mode::Pass);
    b.wait_for_invalidation_link().await;
    for t in [&first, &second] {
        until(
            "B refuses what ended while it was cut off",
            Duration::from_secs(2),
            || async { b.me(t).await.status() == 401 },
        )
        .await;
    }
    // And it answers from memory again: a fresh session, twice, the second without a store call.
    let fresh = token(&a.login("gus", PASSWORD).await, "access_token");
    assert_eq!(b.me(&fresh).await.status(), 200);
    assert_eq!(b.me(&fresh).await.status(), 200);
    eprintln!("silent invalidation link: B stopped answering from memory after {detected:?}");
}

// PostgreSQL refuses: cached requests go on, logins 503 at once, ready says which, recovery.

#[actix_web::test]
async fn a_refusing_database_keeps_cached_users_and_recovers() {
    if !production_mode() {
        return eprintln!("PostgreSQL faults run in production mode");
    }
    let (mut s, res) = test_settings().await;
    let pg = Proxy::start(5432).await;
    s.database.url = s
        .database
        .url
        .replace("127.0.0.1:5432", &format!("127.0.0.1:{}", pg.port));
    let app = spawn_with(s, res).await;
    app.create_user("hal").await;
    let t = token(&app.login("hal", PASSWORD).await, "access_token");
    assert_eq!(app.me(&t).await.status(), 200);

    pg.set(Mode::Refuse);
    pg.reset();
    assert_eq!(
        app.me(&t).await.status(),
        200,
        "a cached user needs no database"
    );
    let started = Instant::now();
    let res = app
        .post_login(&json!({"username": "hal", "password": PASSWORD}))
        .await;
    let took = started.elapsed();
    assert_eq!(res.status(), 503);
    assert!(
        took < Duration::from_secs(1),
        "refused at once, not after a wait: {took:?}"
    );
    let ready = app.get("/health/ready").await;
    assert_eq!(ready.status(), 503);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(
        body["data"],
        json!({"database": "unavailable", "store": "ok"}),
        "{body}"
    );

    pg.set(Mode::Pass);
    let back = until("logins again", Duration::from_secs(2), || async {
        app.post_login(&json!({"username": "hal", "password": PASSWORD}))
            .await
            .status()
            == 200
    })
    .await;
    eprintln!("database refusing: a login answered 503 in {took:?}; back after {back:?}");
}

// PostgreSQL stalls with a warm pool: every call meets its deadline; service resumes by itself.

#[actix_web::test]
async fn a_stalled_database_meets_the_deadline_and_service_resumes() {
    if !production_mode() {
        return eprintln!("PostgreSQL faults run in production mode");
    }
    let (mut s, res) = test_settings().await;
    let pg = Proxy::start(5432).await;
    s.database.url = s
        .database
        .url
        .replace("127.0.0.1:5432", &format!("127.0.0.1:{}", pg.port));
    s.database.statement_timeout_ms = 700;
    let app = spawn_with(s, res).await;
    app.create_user("ida").await;
    for _ in 0..4 {
        app.login("ida", PASSWORD).await; // a warm pool
    }
    let t = token(&app.login("ida", PASSWORD).await, "access_token");
    assert_eq!(app.me(&t).await.status(), 200);

    pg.set(Mode::Silent);
    for _ in 0..3 {
        let started = Instant::now();
        let res = app
            .post_login(&json!({"username": "ida", "password": PASSWORD}))
            .await;
        let took = started.elapsed();
        assert_eq!(res.status(), 503);
        assert!(
            took < Duration::from_millis(2000),
            "answered within the deadline: {took:?}"
        );
    }
    let ready = app.get("/health/ready").await;
    assert_eq!(ready.status(), 503);
    assert_eq!(
        app.me(&t).await.status(),
        200,
        "a cached user needs no database"
    );
    actix_web::rt::time::sleep(Duration::from_secs(2)).await;

    pg.set(Mode::Pass);
    let back = until(
        "logins again after the stall",
        Duration::from_secs(5),
        || async {
            app.post_login(&json!({"username": "ida", "password": PASSWORD}))
                .await
                .status()
                == 200
        },
    )
    .await;
    let ready = app.get("/health/ready").await;
    assert_eq!(ready.status(), 200);
    eprintln!("database stall: service resumed {back:?} after the database did");
}

// Redis full (maxmemory, noeviction): logging out still ends the session; ready says so.

struct OwnRedis {
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = Command::new("redis-cli")
            .args(["-p", &self.port.to_string(), "shutdown", "nosave"])
            .output();
    }
}

fn own_redis() -> OwnRedis {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let status = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .args([
            "--daemonize",
            "yes",
            "--dir",
            &dir.path().display().to_string(),
        ])
        .args(["--maxmemory-policy", "noeviction"])
        .status()
        .expect("redis-server");
    assert!(status.success());
    let started = Instant::now();
    while Command::new("redis-cli")
        .args(["-p", &port.to_string(), "ping"])
        .output()
        .map(|o| !o.stdout.starts_with(b"PONG"))
        .unwrap_or(true)
    {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "redis-server did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    OwnRedis { port, _dir: dir }
}

#[actix_web::test]
async fn a_full_redis_still_lets_users_log_out() {
    if !single_redis_production() {
        return eprintln!("Redis faults run in production mode");
    }
    let redis = own_redis();
    let (mut s, res) = test_settings().await;
    s.redis.url = format!("redis://127.0.0.1:{}/0", redis.port);
    let app = spawn_with(s, res).await;
    app.create_user("joe").await;
    let t = token(&app.login("joe", PASSWORD).await, "access_token");
    assert_eq!(app.me(&t).await.status(), 200);

    let client = redis::Client::open(format!("redis://127.0.0.1:{}/0", redis.port)).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(&mut conn)
        .await
        .unwrap();
    let used: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg(used + 512 * 1024)
        .query_async(&mut conn)
        .await
        .unwrap();
    // Full to the last few bytes: values of shrinking size until even a small one is refused
    // (a 16 KiB value refused can leave room for a login's writes).
    let mut key = 0;
    let mut fill = async |conn: &mut redis::aio::MultiplexedConnection| {
        for size in [16 * 1024, 1024, 64] {
            let filler = "x".repeat(size);
            loop {
                key += 1;
                let r: Result<(), _> = redis::cmd("SET")
                    .arg(format!("filler:{key}"))
                    .arg(&filler)
                    .query_async(conn)
                    .await;
                if r.is_err() {
                    break;
                }
                assert!(key < 100_000, "Redis never filled up");
            }
        }
    };
    fill(&mut conn).await;

    let res = app.post_auth("/api/v1/auth/logout", &t).await;
    assert_eq!(
        res.status(),
        200,
        "logging out frees memory: it must work when Redis is full"
    );
    assert_eq!(app.me(&t).await.status(), 401);
    // The logout freed what it removed: take that too.
    fill(&mut conn).await;
    let ready = app.get("/health/ready").await;
    assert_eq!(ready.status(), 503);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["data"]["store"], "refuses writes", "{body}");
    assert_eq!(
        app.post_login(&json!({"username": "joe", "password": PASSWORD}))
            .await
            .status(),
        503,
        "a login needs room"
    );
}

// Processes: kill -9 loses nothing; SIGTERM finishes what was sent.

/// The server as a process of its own, configured through the environment as an operator would.
pub struct Node {
    pub child: Child,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn spawn_node(s: &portcullis::config::Settings, port: u16) -> Node {
    spawn_node_with(s, port, &[])
}

/// A node with further settings in the environment (`PORTCULLIS__…` pairs).
pub fn spawn_node_with(s: &portcullis::config::Settings, port: u16, env: &[(&str, &str)]) -> Node {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_portcullis"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn")
        .env("PORTCULLIS_CONFIG_DIR", "/nonexistent")
        .env("PORTCULLIS__DATA__DIR", &s.data.dir)
        .env("PORTCULLIS__DATABASE__URL", &s.database.url)
        .env("PORTCULLIS__REDIS__URL", &s.redis.url)
        .env(
            "PORTCULLIS__REDIS__CLUSTER_URLS",
            s.redis.cluster_urls.join(","),
        )
        .env("PORTCULLIS__REDIS__KEY_PREFIX", &s.redis.key_prefix)
        .env("PORTCULLIS__JWT__SECRET", &s.jwt.secret)
        .env("PORTCULLIS__SERVER__PORT", port.to_string())
        .env("PORTCULLIS__SERVER__WORKERS", "2")
        .env("PORTCULLIS__METRICS__LISTEN", "127.0.0.1:0")
        .env("PORTCULLIS__CAPTCHA__ENABLED", "false")
        .env("PORTCULLIS__BOOTSTRAP__CREATE_ADMIN", "false")
        .env("PORTCULLIS__RATE_LIMIT__LOGIN__BURST", "100000")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    Node {
        child: cmd.spawn().expect("the portcullis binary"),
    }
}

pub async fn wait_ready(port: u16) -> Duration {
    let started = Instant::now();
    let client = reqwest::Client::new();
    loop {
        let ok = client
            .get(format!("http://127.0.0.1:{port}/health/ready"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200);
        if ok {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the node did not become ready"
        );
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[actix_web::test]
async fn kill_9_loses_nothing_and_the_node_comes_back() {
    let app = spawn_app().await; // the database and the store, and a node to check from
    app.create_user("kim").await;
    let port = free_port();
    let mut node = spawn_node(&app.settings, port);
    wait_ready(port).await;
    let url = |p: &str| format!("http://127.0.0.1:{port}{p}");
    let client = reqwest::Client::new();
    let login: Value = client
        .post(url("/api/v1/auth/login"))
        .json(&json!({"username": "kim", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = token(&login["data"], "access_token");
    let refresh = token(&login["data"], "refresh_token");

    // SIGKILL: no chance to write anything down.
    node.child.kill().unwrap();
    node.child.wait().unwrap();
    if production_mode() {
        assert_eq!(
            app.me(&access).await.status(),
            200,
            "the other node is unaffected"
        );
    }
    let started = Instant::now();
    let _node = spawn_node(&app.settings, port);
    let back = started.elapsed() + wait_ready(port).await;
    let me = client
        .get(url("/api/v1/sys/users/me"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200, "the session outlived the process");
    let refreshed = client
        .post(url("/api/v1/auth/refresh"))
        .json(&json!({ "refresh_token": refresh }))
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), 200);
    eprintln!("kill -9: the node was back (ready) {back:?} after its restart began");
}

#[actix_web::test]
async fn sigterm_finishes_every_request_already_sent() {
    let app = spawn_app().await;
    app.create_user("lou").await;
    let port = free_port();
    let node = spawn_node(&app.settings, port);
    wait_ready(port).await;
    let client = reqwest::Client::new();
    let login: Value = client
        .post(format!("http://127.0.0.1:{port}/api/v1/auth/login"))
        .json(&json!({"username": "lou", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = token(&login["data"], "access_token");

    let hammer = |i: usize| {
        let access = access.clone();
        async move {
            // Each client keeps its connection alive, as a busy frontend would.
            let c = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .build()
                .unwrap();
            let (mut answered, mut dropped, mut refused) = (0, 0, 0);
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(4) {
                match c
                    .get(format!("http://127.0.0.1:{port}/api/v1/sys/users/me"))
                    .bearer_auth(&access)
                    .send()
                    .await
                {
                    Ok(r) if r.status() == 200 => answered += 1,
                    Ok(r) => panic!("client {i}: {}", r.status()),
                    // Not sent: the listener is closed. That is how a stopped server says no.
                    Err(e) if e.is_connect() => {
                        refused += 1;
                        break;
                    }
                    Err(e) => {
                        eprintln!("client {i}: dropped: {e:?}");
                        dropped += 1;
                    }
                }
            }
            (answered, dropped, refused)
        }
    };
    let clients = futures_util::future::join_all((0..16).map(hammer));
    let stop = async {
        actix_web::rt::time::sleep(Duration::from_millis(800)).await;
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(node.child.id() as libc::pid_t, libc::SIGTERM) };
    };
    let (results, ()) = futures_util::join!(clients, stop);
    let answered: usize = results.iter().map(|r| r.0).sum();
    let dropped: usize = results.iter().map(|r| r.1).sum();
    let mut node = node;
    let status = node.child.wait().unwrap();
    assert!(answered > 100, "the clients were busy: {answered}");
    assert_eq!(dropped, 0, "requests sent before the stop were dropped");
    assert!(status.success(), "exit 0 after a stop: {status:?}");
    eprintln!("SIGTERM under load: {answered} answered, {dropped} dropped, exit {status:?}");
}
