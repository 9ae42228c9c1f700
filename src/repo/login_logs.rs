//! The login log: written in batches by the writer task, listed by superusers.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::Repo;
use crate::db::models::{LoginLogRow, NewLoginLog};
use crate::db::schema::login_logs;
use crate::db::DbError;
use crate::with_conn;

/// Filters of the login log listing; `None` means any.
#[derive(Debug, Clone, Default)]
pub struct LoginLogFilter {
    /// Substring of the username tried.
    pub username: Option<String>,
    pub success: Option<bool>,
    pub ip: Option<String>,
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
}

/// `%`, `_` and `\` match themselves in a LIKE pattern.
pub(super) fn like_contains(s: &str) -> String {
    let escaped: String = s
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    format!("%{escaped}%")
}

impl Repo {
    /// Inserts a batch in one transaction (one statement per row: SQLite's multi-row insert
    /// does not cover nullable columns).
    pub async fn insert_login_logs(&self, rows: Vec<NewLoginLog>) -> Result<(), DbError> {
        use diesel_async::AsyncConnection;
        with_conn!(&self.db, |conn| {
            conn.transaction::<(), DbError, _>(async |conn| {
                for row in &rows {
                    diesel::insert_into(login_logs::table)
                        .values(row)
                        .execute(conn)
                        .await?;
                }
                Ok(())
            })
            .await
        })
    }

    /// One page of the login log, newest first, and the total that match.
    pub async fn list_login_logs(
        &self,
        f: &LoginLogFilter,
        page: i64,
        size: i64,
    ) -> Result<(Vec<LoginLogRow>, i64), DbError> {
        with_conn!(&self.db, |conn| {
            macro_rules! filtered {
                () => {{
                    let mut q = login_logs::table.into_boxed();
                    if let Some(u) = &f.username {
                        q = q.filter(login_logs::username.like(like_contains(u)).escape('\\'));
                    }
                    if let Some(s) = f.success {
                        q = q.filter(login_logs::success.eq(s));
                    }
                    if let Some(ip) = &f.ip {
                        q = q.filter(login_logs::ip.eq(ip.clone()));
                    }
                    if let Some(from) = f.from {
                        q = q.filter(login_logs::created_at.ge(from));
                    }
                    if let Some(to) = f.to {
                        q = q.filter(login_logs::created_at.le(to));
                    }
                    q
                }};
            }
            let total: i64 = filtered!().count().get_result(conn).await?;
            let items = filtered!()
                .order((login_logs::created_at.desc(), login_logs::id.desc()))
                .limit(size)
                .offset((page - 1).saturating_mul(size))
                .select(LoginLogRow::as_select())
                .load(conn)
                .await?;
            Ok((items, total))
        })
    }

    /// Deletes these entries; how many there were.
    pub async fn delete_login_logs(&self, ids: &[i64]) -> Result<usize, DbError> {
        with_conn!(&self.db, |conn| {
            Ok(
                diesel::delete(login_logs::table.filter(login_logs::id.eq_any(ids)))
                    .execute(conn)
                    .await?,
            )
        })
    }

    /// Deletes every entry older than `before` (all of them without it); how many.
    pub async fn prune_login_logs(&self, before: Option<NaiveDateTime>) -> Result<usize, DbError> {
        with_conn!(&self.db, |conn| {
            Ok(match before {
                Some(t) => {
                    diesel::delete(login_logs::table.filter(login_logs::created_at.lt(t)))
                        .execute(conn)
                        .await?
                }
                None => diesel::delete(login_logs::table).execute(conn).await?,
            })
        })
    }
}
