//! User administration shared by the CLI and the first-start bootstrap. It runs the same
//! validation as the API (domain types, password policy) and tells running nodes through the
//! store when it changes something they may have cached.

use crate::auth::password::{HashError, PasswordHasherPool};
use crate::clock::SharedClock;
use crate::db::models::{NewUser, User, STATUS_DISABLED, STATUS_ENABLED};
use crate::db::DbError;
use crate::domain::{parse_nickname, DomainError, Email, PasswordPolicy, Username};
use crate::repo::Repo;
use crate::store::{Invalidation, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    Invalid(#[from] DomainError),
    #[error("username or email already taken: {0}")]
    Taken(String),
    #[error("no user named `{0}`")]
    NoSuchUser(String),
    #[error(transparent)]
    Db(DbError),
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<DbError> for AdminError {
    fn from(e: DbError) -> Self {
        Self::Db(e)
    }
}

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSpec {
    pub username: String,
    pub password: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub nickname: Option<String>,
    #[serde(default)]
    pub superuser: bool,
}

pub async fn create_user(
    repo: &Repo,
    hasher: &PasswordHasherPool,
    clock: &SharedClock,
    spec: UserSpec,
    policy: PasswordPolicy,
) -> Result<User, AdminError> {
    let username = Username::parse(&spec.username)?;
    let email = spec
        .email
        .as_deref()
        .filter(|e| !e.trim().is_empty())
        .map(Email::parse)
        .transpose()?;
    let nickname = parse_nickname(spec.nickname.as_deref(), &username)?;
    policy.check(&spec.password, username.as_str())?;
    let hash = hasher.hash(spec.password).await?;
    let now = clock.naive();
    let new = NewUser {
        uuid: uuid::Uuid::new_v4().to_string(),
        username: username.as_str().to_owned(),
        nickname,
        password_hash: Some(hash),
        email: email.map(Email::into_inner),
        email_verified: false,
        phone: None,
        avatar: None,
        status: STATUS_ENABLED,
        is_superuser: spec.superuser,
        is_staff: spec.superuser,
        multi_login: true,
        password_changed_at: Some(now),
        created_at: now,
        updated_at: now,
    };
    repo.create_user(new).await.map_err(|e| {
        if e.is_unique_violation() {
            AdminError::Taken(username.as_str().to_owned())
        } else {
            AdminError::Db(e)
        }
    })
}

async fn find(repo: &Repo, username: &str) -> Result<User, AdminError> {
    repo.user_by_username(username)
        .await?
        .ok_or_else(|| AdminError::NoSuchUser(username.to_owned()))
}

/// Ends every session of the user and drops its cached copy, on every node.
pub async fn revoke_sessions(store: &Store, uid: i64) -> Result<usize, AdminError> {
    let ended = store.delete_user_sessions(uid, None).await?;
    for sid in &ended {
        store.publish(&Invalidation::Session(sid.clone())).await?;
    }
    store.drop_cached_user(uid).await?;
    store.publish(&Invalidation::User(uid)).await?;
    Ok(ended.len())
}

pub async fn revoke_sessions_by_name(
    repo: &Repo,
    store: &Store,
    username: &str,
) -> Result<usize, AdminError> {
    let user = find(repo, username).await?;
    revoke_sessions(store, user.id).await
}

pub async fn set_password(
    repo: &Repo,
    store: &Store,
    hasher: &PasswordHasherPool,
    clock: &SharedClock,
    username: &str,
    password: String,
    policy: PasswordPolicy,
) -> Result<usize, AdminError> {
    let user = find(repo, username).await?;
    policy.check(&password, &user.username)?;
    let hash = hasher.hash(password).await?;
    let now = clock.naive();
    repo.set_password_hash(user.id, &hash, Some(now), now)
        .await?;
    revoke_sessions(store, user.id).await
}

/// Disables (or enables) an account; disabling ends its sessions everywhere.
pub async fn set_enabled(
    repo: &Repo,
    store: &Store,
    clock: &SharedClock,
    username: &str,
    enabled: bool,
) -> Result<usize, AdminError> {
    let user = find(repo, username).await?;
    let status = if enabled {
        STATUS_ENABLED
    } else {
        STATUS_DISABLED
    };
    repo.set_status(user.id, status, clock.naive()).await?;
    if enabled {
        store.drop_cached_user(user.id).await?;
        store.publish(&Invalidation::User(user.id)).await?;
        Ok(0)
    } else {
        revoke_sessions(store, user.id).await
    }
}

/// One row of an import: its line number and what was wrong with it.
#[derive(Debug)]
pub struct RowError {
    pub line: usize,
    pub message: String,
}

/// Parses an import file: CSV with a header row (`username,password,email,nickname,superuser`)
/// or JSON lines, told apart by the first non-blank character.
pub fn parse_import(text: &str) -> (Vec<(usize, UserSpec)>, Vec<RowError>) {
    let first = text.trim_start().chars().next();
    if first == Some('{') {
        parse_json_lines(text)
    } else {
        parse_csv(text)
    }
}

fn parse_json_lines(text: &str) -> (Vec<(usize, UserSpec)>, Vec<RowError>) {
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<UserSpec>(line) {
            Ok(spec) => good.push((i + 1, spec)),
            Err(e) => bad.push(RowError {
                line: i + 1,
                message: format!("not a user object: {e}"),
            }),
        }
    }
    (good, bad)
}

/// 1-based line where the record at `byte` starts. csv reports the offset before any blank
/// lines it skipped (and its own line count ignores them), so count from the text.
fn line_of(text: &str, byte: u64) -> usize {
    let bytes = text.as_bytes();
    let mut start = (byte as usize).min(bytes.len());
    while start < bytes.len() && matches!(bytes[start], b'\n' | b'\r') {
        start += 1;
    }
    bytes[..start].iter().filter(|b| **b == b'\n').count() + 1
}

fn parse_csv(text: &str) -> (Vec<(usize, UserSpec)>, Vec<RowError>) {
    let mut good = Vec::new();
    let mut bad = Vec::new();
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            bad.push(RowError {
                line: 1,
                message: format!("cannot read the header row: {e}"),
            });
            return (good, bad);
        }
    };
    let col = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (Some(user_col), Some(pass_col)) = (col("username"), col("password")) else {
        bad.push(RowError {
            line: 1,
            message: "the header row needs `username` and `password` columns".into(),
        });
        return (good, bad);
    };
    let known = ["username", "password", "email", "nickname", "superuser"];
    if let Some(h) = headers
        .iter()
        .find(|h| !known.iter().any(|k| h.eq_ignore_ascii_case(k)))
    {
        bad.push(RowError {
            line: 1,
            message: format!("unknown column `{h}`; known: {}", known.join(", ")),
        });
        return (good, bad);
    }
    let (email_col, nick_col, super_col) = (col("email"), col("nickname"), col("superuser"));
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| line_of(text, p.byte()));
                bad.push(RowError {
                    line,
                    message: format!("unreadable row: {e}"),
                });
                continue;
            }
        };
        let line = record.position().map_or(0, |p| line_of(text, p.byte()));
        let get = |c: Option<usize>| c.and_then(|c| record.get(c)).filter(|v| !v.is_empty());
        let superuser = match get(super_col).map(str::to_ascii_lowercase).as_deref() {
            None | Some("false" | "0" | "no") => false,
            Some("true" | "1" | "yes") => true,
            Some(other) => {
                bad.push(RowError {
                    line,
                    message: format!("superuser must be true or false, not `{other}`"),
                });
                continue;
            }
        };
        good.push((
            line,
            UserSpec {
                username: get(Some(user_col)).unwrap_or_default().to_owned(),
                password: get(Some(pass_col)).unwrap_or_default().to_owned(),
                email: get(email_col).map(str::to_owned),
                nickname: get(nick_col).map(str::to_owned),
                superuser,
            },
        ));
    }
    (good, bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_keep_their_line_numbers() {
        let (good, bad) =
            parse_import("username,password,email\nalice,pw-alice-1,a@x.io\n\nbob,pw-bob-12\n");
        assert!(bad.is_empty());
        assert_eq!(good.len(), 2);
        assert_eq!((good[0].0, good[1].0), (2, 4));
        assert_eq!(good[1].1.email, None);
    }

    #[test]
    fn csv_without_required_columns_is_refused() {
        let (good, bad) = parse_import("name,pass\nalice,x\n");
        assert!(good.is_empty());
        assert_eq!(bad[0].line, 1);
    }

    #[test]
    fn json_lines_report_bad_lines() {
        let (good, bad) = parse_import(
            "{\"username\":\"a1b\",\"password\":\"longenough\"}\nnot json\n\n{\"username\":\"c\",\"pw\":1}\n",
        );
        assert_eq!(good.len(), 1);
        assert_eq!(bad.iter().map(|b| b.line).collect::<Vec<_>>(), vec![2, 4]);
    }
}
