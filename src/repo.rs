//! Every query the server makes, written once for both backends (see `db::pool`). The server
//! reaches it through the repository actor (`actors::repo`); the CLI calls it directly.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::db::models::{LoginLogRow, NewLoginLog, NewUser, User};
use crate::db::schema::{login_logs, role_permissions, roles, user_roles, user_social, users};
use crate::db::{Db, DbError};
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
fn like_contains(s: &str) -> String {
    let escaped: String = s
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    format!("%{escaped}%")
}

#[derive(Clone)]
pub struct Repo {
    db: Db,
}

impl Repo {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub async fn user_by_username(&self, username: &str) -> Result<Option<User>, DbError> {
        with_conn!(&self.db, |conn| {
            Ok(users::table
                .filter(users::username.eq(username))
                .select(User::as_select())
                .first(conn)
                .await
                .optional()?)
        })
    }

    pub async fn user_by_id(&self, id: i64) -> Result<Option<User>, DbError> {
        with_conn!(&self.db, |conn| {
            Ok(users::table
                .find(id)
                .select(User::as_select())
                .first(conn)
                .await
                .optional()?)
        })
    }

    pub async fn count_users(&self) -> Result<i64, DbError> {
        with_conn!(&self.db, |conn| {
            Ok(users::table.count().get_result(conn).await?)
        })
    }

    pub async fn create_user(&self, new: NewUser) -> Result<User, DbError> {
        with_conn!(&self.db, |conn| {
            Ok(diesel::insert_into(users::table)
                .values(&new)
                .returning(User::as_returning())
                .get_result(conn)
                .await?)
        })
    }

    /// Stores a new hash. `changed_at` is set for a real password change and left alone for a
    /// rehash (bcrypt to Argon2id) of the same password.
    pub async fn set_password_hash(
        &self,
        user_id: i64,
        hash: &str,
        changed_at: Option<NaiveDateTime>,
        now: NaiveDateTime,
    ) -> Result<(), DbError> {
        with_conn!(&self.db, |conn| {
            match changed_at {
                Some(at) => {
                    diesel::update(users::table.find(user_id))
                        .set((
                            users::password_hash.eq(hash),
                            users::password_changed_at.eq(at),
                            users::updated_at.eq(now),
                        ))
                        .execute(conn)
                        .await?
                }
                None => {
                    diesel::update(users::table.find(user_id))
                        .set(users::password_hash.eq(hash))
                        .execute(conn)
                        .await?
                }
            };
            Ok(())
        })
    }

    pub async fn set_status(
        &self,
        user_id: i64,
        status: i32,
        now: NaiveDateTime,
    ) -> Result<(), DbError> {
        with_conn!(&self.db, |conn| {
            diesel::update(users::table.find(user_id))
                .set((users::status.eq(status), users::updated_at.eq(now)))
                .execute(conn)
                .await?;
            Ok(())
        })
    }

    pub async fn set_multi_login(&self, user_id: i64, on: bool) -> Result<(), DbError> {
        with_conn!(&self.db, |conn| {
            diesel::update(users::table.find(user_id))
                .set(users::multi_login.eq(on))
                .execute(conn)
                .await?;
            Ok(())
        })
    }

    pub async fn touch_last_login(&self, user_id: i64, at: NaiveDateTime) -> Result<(), DbError> {
        with_conn!(&self.db, |conn| {
            diesel::update(users::table.find(user_id))
                .set(users::last_login_at.eq(at))
                .execute(conn)
                .await?;
            Ok(())
        })
    }

    /// Names of the user's enabled roles.
    pub async fn role_names(&self, user_id: i64) -> Result<Vec<String>, DbError> {
        with_conn!(&self.db, |conn| {
            Ok(user_roles::table
                .inner_join(roles::table)
                .filter(user_roles::user_id.eq(user_id))
                .filter(roles::status.eq(1))
                .select(roles::name)
                .order(roles::name)
                .load(conn)
                .await?)
        })
    }

    /// Permission codes of the user's enabled roles; a superuser has every code any role grants.
    pub async fn permission_codes(
        &self,
        user_id: i64,
        superuser: bool,
    ) -> Result<Vec<String>, DbError> {
        with_conn!(&self.db, |conn| {
            let mut query = role_permissions::table
                .inner_join(roles::table)
                .filter(roles::status.eq(1))
                .select(role_permissions::code)
                .distinct()
                .order(role_permissions::code)
                .into_boxed();
            if !superuser {
                let mine = user_roles::table
                    .filter(user_roles::user_id.eq(user_id))
                    .select(user_roles::role_id);
                query = query.filter(roles::id.eq_any(mine));
            }
            Ok(query.load(conn).await?)
        })
    }

    pub async fn insert_login_logs(&self, rows: Vec<NewLoginLog>) -> Result<(), DbError> {
        with_conn!(&self.db, |conn| {
            // One statement per row: SQLite's batch insert does not cover nullable columns.
            for row in &rows {
                diesel::insert_into(login_logs::table)
                    .values(row)
                    .execute(conn)
                    .await?;
            }
            Ok(())
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
                .offset((page - 1) * size)
                .select(LoginLogRow::as_select())
                .load(conn)
                .await?;
            Ok((items, total))
        })
    }

    pub async fn user_by_email(&self, email: &str) -> Result<Option<User>, DbError> {
        with_conn!(&self.db, |conn| {
            Ok(users::table
                .filter(users::email.eq(email))
                .select(User::as_select())
                .first(conn)
                .await
                .optional()?)
        })
    }

    pub async fn user_by_social(&self, provider: &str, pid: &str) -> Result<Option<User>, DbError> {
        with_conn!(&self.db, |conn| {
            Ok(user_social::table
                .inner_join(users::table)
                .filter(user_social::provider.eq(provider))
                .filter(user_social::provider_user_id.eq(pid))
                .select(User::as_select())
                .first(conn)
                .await
                .optional()?)
        })
    }

    /// Creates a user with a social identity and the named roles (those that exist), at once.
    pub async fn create_social_user(
        &self,
        new: NewUser,
        provider: &str,
        pid: &str,
        roles_to_grant: &[String],
    ) -> Result<User, DbError> {
        use diesel_async::AsyncConnection;
        with_conn!(&self.db, |conn| {
            Ok(conn
                .transaction::<User, DbError, _>(async |conn| {
                    let user: User = diesel::insert_into(users::table)
                        .values(&new)
                        .returning(User::as_returning())
                        .get_result(conn)
                        .await?;
                    diesel::insert_into(user_social::table)
                        .values((
                            user_social::user_id.eq(user.id),
                            user_social::provider.eq(provider),
                            user_social::provider_user_id.eq(pid),
                            user_social::created_at.eq(new.created_at),
                        ))
                        .execute(conn)
                        .await?;
                    let ids: Vec<i64> = roles::table
                        .filter(roles::name.eq_any(roles_to_grant))
                        .select(roles::id)
                        .load(conn)
                        .await?;
                    for role_id in ids {
                        diesel::insert_into(user_roles::table)
                            .values((
                                user_roles::user_id.eq(user.id),
                                user_roles::role_id.eq(role_id),
                            ))
                            .execute(conn)
                            .await?;
                    }
                    Ok(user)
                })
                .await?)
        })
    }

    /// Binds an identity to a user; a unique violation means it is taken (by someone, or the
    /// user already has one at this provider).
    pub async fn link_social(
        &self,
        user_id: i64,
        provider: &str,
        pid: &str,
        now: NaiveDateTime,
    ) -> Result<(), DbError> {
        with_conn!(&self.db, |conn| {
            diesel::insert_into(user_social::table)
                .values((
                    user_social::user_id.eq(user_id),
                    user_social::provider.eq(provider),
                    user_social::provider_user_id.eq(pid),
                    user_social::created_at.eq(now),
                ))
                .execute(conn)
                .await?;
            Ok(())
        })
    }

    /// The user's bound identities: (provider, provider user id, bound at).
    pub async fn socials_of(
        &self,
        user_id: i64,
    ) -> Result<Vec<(String, String, NaiveDateTime)>, DbError> {
        with_conn!(&self.db, |conn| {
            Ok(user_social::table
                .filter(user_social::user_id.eq(user_id))
                .order(user_social::provider)
                .select((
                    user_social::provider,
                    user_social::provider_user_id,
                    user_social::created_at,
                ))
                .load(conn)
                .await?)
        })
    }

    pub async fn unlink_social(&self, user_id: i64, provider: &str) -> Result<usize, DbError> {
        with_conn!(&self.db, |conn| {
            Ok(diesel::delete(
                user_social::table
                    .filter(user_social::user_id.eq(user_id))
                    .filter(user_social::provider.eq(provider)),
            )
            .execute(conn)
            .await?)
        })
    }

    /// Creates the role if needed, with these permission codes, and gives it to the user.
    pub async fn grant_role(
        &self,
        user_id: i64,
        role: &str,
        codes: &[&str],
        now: NaiveDateTime,
    ) -> Result<(), DbError> {
        with_conn!(&self.db, |conn| {
            diesel::insert_into(roles::table)
                .values((
                    roles::name.eq(role),
                    roles::status.eq(1),
                    roles::created_at.eq(now),
                ))
                .on_conflict(roles::name)
                .do_nothing()
                .execute(conn)
                .await?;
            let role_id: i64 = roles::table
                .filter(roles::name.eq(role))
                .select(roles::id)
                .first(conn)
                .await?;
            for code in codes {
                diesel::insert_into(role_permissions::table)
                    .values((
                        role_permissions::role_id.eq(role_id),
                        role_permissions::code.eq(*code),
                    ))
                    .on_conflict_do_nothing()
                    .execute(conn)
                    .await?;
            }
            diesel::insert_into(user_roles::table)
                .values((
                    user_roles::user_id.eq(user_id),
                    user_roles::role_id.eq(role_id),
                ))
                .on_conflict_do_nothing()
                .execute(conn)
                .await?;
            Ok(())
        })
    }
}
