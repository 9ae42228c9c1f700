//! The login log: every attempt, written off the response path by one writer task, in batches
//! (one transaction each) through the repository actor. The channel to it is bounded: when it
//! is full, an entry is logged in full at error level instead of growing memory. Refusals by
//! the rate limiter are counted per (address, method, minute) and stored as one row with their
//! number, so a flood of refused requests writes one row a minute, not one a request.

use std::collections::HashMap;
use std::time::Duration;

use chrono::NaiveDateTime;
use tokio::sync::mpsc;

use crate::actors::repo::{PruneLoginLogs, RecordLogins, RepoHandle};
use crate::clock::SharedClock;
use crate::db::models::NewLoginLog;
use crate::domain::ClientInfo;

/// Why an attempt ended as it did. Stored as the slug.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Success,
    BadPassword,
    UnknownUser,
    Disabled,
    Locked,
    CaptchaInvalid,
    RateLimited,
    OAuthFailed,
    /// The password was right; a second factor is asked for.
    MfaRequired,
    /// The second step failed (wrong code; the ticket was good).
    MfaFailed,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::BadPassword => "bad_password",
            Self::UnknownUser => "unknown_user",
            Self::Disabled => "disabled",
            Self::Locked => "locked",
            Self::CaptchaInvalid => "captcha_invalid",
            Self::RateLimited => "rate_limited",
            Self::OAuthFailed => "oauth2_failed",
            Self::MfaRequired => "mfa_required",
            Self::MfaFailed => "mfa_failed",
        }
    }
}

/// How the user tried to log in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Password,
    Swagger,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::Swagger => "swagger",
        }
    }
}

const MAX_USERNAME_LOGGED: usize = 128;
/// Entries waiting for the writer, at most.
const CAPACITY: usize = 10_000;
const BATCH: usize = 256;
const RETRIES: [Duration; 3] = [
    Duration::from_millis(100),
    Duration::from_secs(1),
    Duration::from_secs(5),
];

fn entry(
    username: &str,
    user_id: Option<i64>,
    reason: Reason,
    method: &str,
    client: &ClientInfo,
    at: NaiveDateTime,
) -> NewLoginLog {
    NewLoginLog {
        user_id,
        username: username.chars().take(MAX_USERNAME_LOGGED).collect(),
        success: reason == Reason::Success,
        reason: reason.as_str().to_owned(),
        ip: client.ip.clone(),
        user_agent: client.user_agent.clone(),
        os: client.os.clone(),
        browser: client.browser.clone(),
        device: client.device.clone(),
        method: method.to_owned(),
        created_at: at,
        attempts: 1,
    }
}

#[derive(Clone)]
pub struct LoginLog {
    tx: mpsc::Sender<NewLoginLog>,
}

impl LoginLog {
    /// Starts the writer on the current arbiter, and the pruning of entries older than
    /// `retention_days` (0: none) at once and then hourly.
    pub fn start(repo: RepoHandle, clock: SharedClock, retention_days: u32) -> Self {
        let (tx, rx) = mpsc::channel::<NewLoginLog>(CAPACITY);
        actix_web::rt::spawn(writer(repo.clone(), rx, clock.clone()));
        if retention_days > 0 {
            actix_web::rt::spawn(prune(repo, clock, retention_days));
        }
        Self { tx }
    }

    pub fn record(
        &self,
        username: &str,
        user_id: Option<i64>,
        reason: Reason,
        method: &str,
        client: &ClientInfo,
        at: NaiveDateTime,
    ) {
        let e = entry(username, user_id, reason, method, client, at);
        if let Err(e) = self.tx.try_send(e) {
            let entry = match e {
                mpsc::error::TrySendError::Full(e) | mpsc::error::TrySendError::Closed(e) => e,
            };
            tracing::error!(target: "login_log", ?entry, "login log writer is behind or gone; entry not stored");
        }
    }
}

async fn writer(repo: RepoHandle, mut rx: mpsc::Receiver<NewLoginLog>, clock: SharedClock) {
    let mut batch = Vec::with_capacity(BATCH);
    // Rate-limited refusals of the current minute, by (address, method).
    let mut refused: HashMap<(String, String, i64), NewLoginLog> = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            n = rx.recv_many(&mut batch, BATCH) => {
                if n == 0 {
                    let rest: Vec<_> = refused.drain().map(|(_, v)| v).collect();
                    write(&repo, rest).await;
                    return;
                }
                let mut rows = Vec::with_capacity(batch.len());
                for e in batch.drain(..) {
                    if e.reason == Reason::RateLimited.as_str() {
                        let minute = e.created_at.and_utc().timestamp() / 60;
                        refused
                            .entry((e.ip.clone(), e.method.clone(), minute))
                            .and_modify(|r| r.attempts += 1)
                            .or_insert(e);
                    } else {
                        rows.push(e);
                    }
                }
                write(&repo, rows).await;
            }
            _ = tick.tick() => {
                // A minute's count is final once the minute is over.
                let minute = clock.unix() / 60;
                let done: Vec<_> = refused.keys().filter(|k| k.2 < minute).cloned().collect();
                let rows: Vec<_> = done.iter().filter_map(|k| refused.remove(k)).collect();
                write(&repo, rows).await;
            }
        }
    }
}

async fn prune(repo: RepoHandle, clock: SharedClock, retention_days: u32) {
    let mut hourly = tokio::time::interval(Duration::from_secs(3600));
    loop {
        hourly.tick().await;
        let before = clock.naive() - chrono::Duration::days(retention_days.into());
        match repo
            .send(PruneLoginLogs {
                before: Some(before),
            })
            .await
        {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(target: "login_log", n, %before, "deleted login log entries past retention")
            }
            Err(e) => {
                tracing::warn!(target: "login_log", error = %e, "login log pruning failed; next try in an hour")
            }
        }
    }
}

async fn write(repo: &RepoHandle, batch: Vec<NewLoginLog>) {
    if batch.is_empty() {
        return;
    }
    for (attempt, pause) in std::iter::once(Duration::ZERO).chain(RETRIES).enumerate() {
        actix_web::rt::time::sleep(pause).await;
        match repo
            .send(RecordLogins {
                rows: batch.clone(),
            })
            .await
        {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(target: "login_log", attempt, error = %e, "login log insert failed")
            }
        }
    }
    for entry in batch {
        tracing::error!(target: "login_log", ?entry, "login log entry could not be stored");
    }
}
