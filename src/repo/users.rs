//! Users: lookups, creation, and the columns that change after.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::login_logs::like_contains;
use super::Repo;
use crate::db::models::{NewUser, User, STATUS_ENABLED};
use crate::db::schema::{role_permissions, roles, user_roles, users};
use crate::db::DbError;
use crate::domain::AuthUser;
use crate::with_conn;

/// Filters of the user listing; `None` means any.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// Substring of the username.
    pub username: Option<String>,
    pub status: Option<i32>,
}

/// Columns an administrator may change; `None` leaves one alone (`Some(None)` empties it).
#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = users)]
pub struct UserChanges {
    pub nickname: Option<String>,
    pub email: Option<Option<String>>,
    pub email_verified: Option<bool>,
    pub phone: Option<Option<String>>,
    pub avatar: Option<Option<String>>,
    pub status: Option<i32>,
    pub is_superuser: Option<bool>,
    pub is_staff: Option<bool>,
    pub multi_login: Option<bool>,
    pub updated_at: Option<NaiveDateTime>,
}

/// The outcome of a change that must leave an enabled superuser behind.
#[derive(Debug, PartialEq)]
pub enum Guarded<T> {
    Done(T),
    NoSuchUser,
    /// Refused and rolled back: no enabled superuser would be left.
    LastSuperuser,
}

/// Inside the guarded transaction: a refusal rolls it back like an error does.
enum Refusal {
    Db(DbError),
    NoSuchUser,
    LastSuperuser,
}

impl From<diesel::result::Error> for Refusal {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(e.into())
    }
}

impl<T> From<Result<T, Refusal>> for Guarded<T> {
    fn from(r: Result<T, Refusal>) -> Self {
        match r {
            Ok(t) => Self::Done(t),
            Err(Refusal::NoSuchUser) => Self::NoSuchUser,
            Err(Refusal::LastSuperuser) => Self::LastSuperuser,
            Err(Refusal::Db(_)) => unreachable!("database errors are returned, not guarded"),
        }
    }
}

/// Runs `$body` (which may `return Err(Refusal::…)`) in a transaction that first touches every
/// enabled superuser's row (a row lock in PostgreSQL, the write lock in SQLite: two such
/// changes never both count the other's superuser as still there), and rolls back if it took
/// away the last enabled superuser.
macro_rules! keeping_a_superuser {
    ($db:expr, |$conn:ident| $body:expr) => {{
        use diesel_async::AsyncConnection;
        with_conn!($db, |conn| {
            let outcome = conn
                .transaction::<_, Refusal, _>(async |$conn| {
                    let enabled_superusers = || {
                        users::table
                            .filter(users::is_superuser.eq(true))
                            .filter(users::status.eq(STATUS_ENABLED))
                    };
                    let before = diesel::update(enabled_superusers())
                        .set(users::updated_at.eq(users::updated_at))
                        .execute($conn)
                        .await?;
                    let out = $body;
                    let left: i64 = enabled_superusers().count().get_result($conn).await?;
                    if before > 0 && left == 0 {
                        return Err(Refusal::LastSuperuser);
                    }
                    Ok(out)
                })
                .await;
            match outcome {
                Err(Refusal::Db(e)) => Err(e),
                other => Ok(Guarded::from(other)),
            }
        })
    }};
}

impl Repo {
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

    pub async fn user_by_uuid(&self, uuid: &str) -> Result<Option<User>, DbError> {
        with_conn!(&self.db, |conn| {
            Ok(users::table
                .filter(users::uuid.eq(uuid))
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

    pub async fn users_by_ids(&self, ids: &[i64]) -> Result<Vec<User>, DbError> {
        with_conn!(&self.db, |conn| {
            Ok(users::table
                .filter(users::id.eq_any(ids))
                .select(User::as_select())
                .load(conn)
                .await?)
        })
    }

    pub async fn count_users(&self) -> Result<i64, DbError> {
        with_conn!(&self.db, |conn| {
            Ok(users::table.count().get_result(conn).await?)
        })
    }

    pub async fn count_enabled_superusers(&self) -> Result<i64, DbError> {
        with_conn!(&self.db, |conn| {
            Ok(users::table
                .filter(users::is_superuser.eq(true))
                .filter(users::status.eq(STATUS_ENABLED))
                .count()
                .get_result(conn)
                .await?)
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

    /// Marks the email address as proven (or not).
    pub async fn set_email_verified(&self, user_id: i64, verified: bool) -> Result<(), DbError> {
        with_conn!(&self.db, |conn| {
            diesel::update(users::table.find(user_id))
                .set(users::email_verified.eq(verified))
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

    /// One page of users by id, and how many match.
    pub async fn list_users(
        &self,
        f: &UserFilter,
        page: i64,
        size: i64,
    ) -> Result<(Vec<User>, i64), DbError> {
        with_conn!(&self.db, |conn| {
            macro_rules! filtered {
                () => {{
                    let mut q = users::table.into_boxed();
                    if let Some(u) = &f.username {
                        q = q.filter(users::username.like(like_contains(u)).escape('\\'));
                    }
                    if let Some(s) = f.status {
                        q = q.filter(users::status.eq(s));
                    }
                    q
                }};
            }
            let total: i64 = filtered!().count().get_result(conn).await?;
            let items = filtered!()
                .order(users::id)
                .limit(size)
                .offset((page - 1).saturating_mul(size))
                .select(User::as_select())
                .load(conn)
                .await?;
            Ok((items, total))
        })
    }

    /// Enabled role names of these users, as (user id, role name), by name.
    pub async fn role_names_of(&self, ids: &[i64]) -> Result<Vec<(i64, String)>, DbError> {
        with_conn!(&self.db, |conn| {
            Ok(user_roles::table
                .inner_join(roles::table)
                .filter(user_roles::user_id.eq_any(ids))
                .filter(roles::status.eq(1))
                .select((user_roles::user_id, roles::name))
                .order(roles::name)
                .load(conn)
                .await?)
        })
    }

    /// The users as the API shows them (roles and permission codes in two queries for all).
    pub async fn auth_users(&self, rows: &[User]) -> Result<Vec<AuthUser>, DbError> {
        let ids: Vec<i64> = rows.iter().map(|u| u.id).collect();
        let names = self.role_names_of(&ids).await?;
        let codes: Vec<(i64, String)> = with_conn!(&self.db, |conn| {
            Ok::<_, DbError>(
                user_roles::table
                    .inner_join(roles::table.inner_join(role_permissions::table))
                    .filter(user_roles::user_id.eq_any(&ids))
                    .filter(roles::status.eq(1))
                    .select((user_roles::user_id, role_permissions::code))
                    .distinct()
                    .order(role_permissions::code)
                    .load(conn)
                    .await?,
            )
        })?;
        let totp = self.with_active_totp(&ids).await?;
        let passkeys = self.with_passkeys(&ids).await?;
        let every_code = if rows.iter().any(|u| u.is_superuser) {
            self.permission_codes(0, true).await?
        } else {
            Vec::new()
        };
        let of = |pairs: &[(i64, String)], id: i64| -> Vec<String> {
            pairs
                .iter()
                .filter(|(u, _)| *u == id)
                .map(|(_, c)| c.clone())
                .collect()
        };
        Ok(rows
            .iter()
            .map(|u| {
                let permissions = if u.is_superuser {
                    every_code.clone()
                } else {
                    of(&codes, u.id)
                };
                let factors = second_factors(totp.contains(&u.id), passkeys.contains(&u.id));
                auth_user(u, of(&names, u.id), permissions, factors)
            })
            .collect())
    }

    /// Changes a user; refused if that leaves no enabled superuser. A unique violation means
    /// the email address is taken.
    pub async fn change_user(
        &self,
        id: i64,
        changes: &UserChanges,
    ) -> Result<Guarded<User>, DbError> {
        keeping_a_superuser!(&self.db, |conn| {
            diesel::update(users::table.find(id))
                .set(changes)
                .returning(User::as_returning())
                .get_result(conn)
                .await
                .optional()?
                .ok_or(Refusal::NoSuchUser)?
        })
    }

    /// Deletes a user (roles and social identities go with it); refused if that leaves no
    /// enabled superuser.
    pub async fn delete_user(&self, id: i64) -> Result<Guarded<()>, DbError> {
        keeping_a_superuser!(&self.db, |conn| {
            let n = diesel::delete(users::table.find(id)).execute(conn).await?;
            if n == 0 {
                return Err(Refusal::NoSuchUser);
            }
        })
    }

    /// The user as the API shows it: the row, its enabled roles and their permission codes.
    pub async fn auth_user(&self, id: i64) -> Result<Option<AuthUser>, DbError> {
        let Some(row) = self.user_by_id(id).await? else {
            return Ok(None);
        };
        let roles = self.role_names(id).await?;
        let permissions = self.permission_codes(id, row.is_superuser).await?;
        let factors = second_factors(
            !self.with_active_totp(&[id]).await?.is_empty(),
            !self.with_passkeys(&[id]).await?.is_empty(),
        );
        Ok(Some(auth_user(&row, roles, permissions, factors)))
    }
}

/// The names of a user's active second factors.
fn second_factors(totp: bool, passkey: bool) -> Vec<String> {
    [(totp, "totp"), (passkey, "passkey")]
        .into_iter()
        .filter(|(has, _)| *has)
        .map(|(_, name)| name.to_owned())
        .collect()
}

pub fn auth_user(
    u: &User,
    roles: Vec<String>,
    permissions: Vec<String>,
    second_factors: Vec<String>,
) -> AuthUser {
    AuthUser {
        id: u.id,
        uuid: u.uuid.clone(),
        username: u.username.clone(),
        nickname: u.nickname.clone(),
        email: u.email.clone(),
        email_verified: u.email_verified,
        phone: u.phone.clone(),
        avatar: u.avatar.clone(),
        status: u.status,
        is_superuser: u.is_superuser,
        is_staff: u.is_staff,
        multi_login: u.multi_login,
        has_password: u.password_hash.is_some(),
        password_changed_at: u.password_changed_at.map(|t| t.and_utc()),
        last_login_at: u.last_login_at.map(|t| t.and_utc()),
        created_at: u.created_at.and_utc(),
        roles,
        permissions,
        second_factors,
        join_time: u.created_at.and_utc(),
        last_login_time: u.last_login_at.map(|t| t.and_utc()),
        is_multi_login: u.multi_login,
        dept_id: None,
        dept: None,
    }
}
