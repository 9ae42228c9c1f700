//! Fills a running server's session cache, for measuring memory (used by scripts/capacity.sh).
//!
//!     cargo run --release --example warm_sessions -- BASE_URL USERS SESSIONS [PREFIX]
//!     cargo run --release --example warm_sessions -- BASE_URL --made-up REQUESTS
//!
//! With the server's own configuration (the same environment as `portcullis serve`), it makes
//! USERS users named `{PREFIX}{i}` (default `warm-`, no password) if they are missing, writes
//! SESSIONS sessions spread evenly over them straight into the store (a login would spend an
//! Argon2id hash on each), signs an access token for each with the server's key and sends one
//! `GET /api/v1/sys/users/me` with it, so the server caches the session and its user. Run again
//! with a larger SESSIONS, it adds only the sessions beyond those it made before. With
//! `WARM_TOKENS_OUT=FILE` it also writes the new sessions' access tokens there, one a line.
//!
//! `--made-up` sends REQUESTS tokens the server never issued (well-formed, wrongly signed, each
//! with its own session id): a load that must not grow the cache. Prints one line of counts.

use std::sync::Arc;
use std::time::Instant;

use futures_util::stream::{self, StreamExt};
use portcullis::actors::repo::{CreateUser, FindUserByName};
use portcullis::auth::jwt::JwtKeys;
use portcullis::clock::Clock;
use portcullis::config::{Profile, Settings};
use portcullis::db::models::{NewUser, STATUS_ENABLED};
use portcullis::domain::{Amr, SessionRecord};
use portcullis::metrics::Metrics;
use portcullis::startup::{resolve_keys, Backends};
use portcullis::store::SessionChange;

const PARALLEL: usize = 32;

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [base, flag, n] if flag == "--made-up" => made_up(base, n.parse()?).await,
        [base, users, sessions, rest @ ..] => {
            let prefix = rest.first().map_or("warm-", String::as_str);
            warm(base, users.parse()?, sessions.parse()?, prefix).await
        }
        _ => {
            eprintln!("usage: warm_sessions BASE_URL USERS SESSIONS [PREFIX] | BASE_URL --made-up REQUESTS");
            std::process::exit(2);
        }
    }
}

async fn warm(
    base: &str,
    users: usize,
    sessions: usize,
    prefix: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let settings = Settings::load(
        Profile::from_env()?,
        std::path::Path::new(
            &std::env::var("PORTCULLIS_CONFIG_DIR").unwrap_or_else(|_| "config".into()),
        ),
    )?;
    let backends = Backends::connect(&settings, &Metrics::default()).await?;
    let jwt = JwtKeys::new(&settings.jwt, &resolve_keys(&settings)?, 1)?;
    let clock = portcullis::clock::SystemClock;
    let now = chrono::DateTime::from_timestamp(clock.unix(), 0).unwrap_or_default();
    let unix = now.timestamp();
    let per_user = sessions.div_ceil(users.max(1));

    let mut uids = Vec::with_capacity(users);
    for i in 0..users {
        let username = format!("{prefix}{i}");
        let found = backends
            .repo
            .send(FindUserByName {
                username: username.clone(),
            })
            .await?;
        let user = match found {
            Some(u) => u,
            None => {
                let at = now.naive_utc();
                let new = NewUser {
                    uuid: uuid::Uuid::new_v4().to_string(),
                    nickname: username.clone(),
                    username,
                    password_hash: None,
                    email: None,
                    email_verified: false,
                    phone: None,
                    avatar: None,
                    status: STATUS_ENABLED,
                    is_superuser: false,
                    is_staff: false,
                    multi_login: true,
                    password_changed_at: Some(at),
                    created_at: at,
                    updated_at: at,
                };
                backends.repo.send(CreateUser { new }).await?
            }
        };
        uids.push(user.id);
    }

    // Each user's share, beyond what an earlier run made (their sessions are numbered).
    let mut tokens = Vec::with_capacity(sessions);
    for (i, uid) in uids.iter().copied().enumerate() {
        let current = backends.store.sessions_of(uid).await?;
        let have = current.sessions.len();
        let want = per_user.min(sessions.saturating_sub(i * per_user));
        if want <= have {
            continue;
        }
        let records: Vec<SessionRecord> = (have..want)
            .map(|n| SessionRecord {
                sid: format!("{prefix}{uid}-{n}-{}", uuid::Uuid::new_v4().simple()),
                uid,
                seq: n as i64,
                method: "password".into(),
                ip: "127.0.0.1".into(),
                user_agent: "warm_sessions".into(),
                os: None,
                browser: None,
                device: None,
                created_at: unix,
                last_refresh_at: unix,
                auth_time: unix,
                amr: Amr::PWD,
                expires_at: unix + 86_400,
                refresh_expires_at: unix + 86_400,
                refresh_hash: portcullis::crypto::random_token(),
                grace: None,
                spent: Vec::new(),
                bindings: Vec::new(),
                browser_hash: None,
                client: None,
                parent: None,
            })
            .collect();
        for r in &records {
            tokens.push(jwt.issue(uid, &r.sid, r.proof(), unix)?.0);
        }
        let changes = records
            .into_iter()
            .map(|r| SessionChange::Put(Box::new(r)))
            .collect();
        let commit = current.commit(changes);
        if !backends.store.commit_sessions(uid, &commit, unix).await? {
            return Err(format!("user {uid}'s sessions changed while warming").into());
        }
    }
    let stored = started.elapsed();
    if let Ok(path) = std::env::var("WARM_TOKENS_OUT") {
        std::fs::write(&path, tokens.join("\n") + "\n")?;
    }
    let (ok, refused) = send_all(base, tokens).await;
    println!(
        "warmed {ok} sessions ({refused} refused) of {users} users in {:.1} s (stored in {:.1} s)",
        started.elapsed().as_secs_f64(),
        stored.as_secs_f64()
    );
    if refused > 0 {
        return Err("the server refused tokens this run made".into());
    }
    Ok(())
}

/// Sends one `GET /me` per token; answers how many the server accepted and refused.
async fn send_all(base: &str, tokens: Vec<String>) -> (usize, usize) {
    let http = reqwest::Client::new();
    let url: Arc<str> = format!("{base}/api/v1/sys/users/me").into();
    let results: Vec<bool> = stream::iter(tokens)
        .map(|t| {
            let (http, url) = (http.clone(), url.clone());
            async move {
                http.get(&*url)
                    .bearer_auth(t)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            }
        })
        .buffer_unordered(PARALLEL)
        .collect()
        .await;
    let ok = results.iter().filter(|r| **r).count();
    (ok, results.len() - ok)
}

async fn made_up(base: &str, n: usize) -> Result<(), Box<dyn std::error::Error>> {
    let header = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";
    let tokens: Vec<String> = (0..n)
        .map(|i| {
            let claims =
                format!(r#"{{"sub":"1","session_uuid":"made-up-{i}","exp":4102444800,"iat":1}}"#);
            let b64 = |s: &[u8]| {
                use base64::Engine;
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
            };
            format!(
                "{header}.{}.{}",
                b64(claims.as_bytes()),
                b64(&[i as u8; 32])
            )
        })
        .collect();
    let (ok, refused) = send_all(base, tokens).await;
    println!("made-up tokens: {refused} refused, {ok} accepted");
    if ok > 0 {
        return Err("a made-up token was accepted".into());
    }
    Ok(())
}
