//! Users: lookups, creation, and the columns that change after.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::Repo;
use crate::db::models::{NewUser, User};
use crate::db::schema::users;
use crate::db::DbError;
use crate::domain::AuthUser;
use crate::with_conn;

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

    /// The user as the API shows it: the row, its enabled roles and their permission codes.
    pub async fn auth_user(&self, id: i64) -> Result<Option<AuthUser>, DbError> {
        let Some(row) = self.user_by_id(id).await? else {
            return Ok(None);
        };
        let roles = self.role_names(id).await?;
        let permissions = self.permission_codes(id, row.is_superuser).await?;
        Ok(Some(auth_user(&row, roles, permissions)))
    }
}

pub fn auth_user(u: &User, roles: Vec<String>, permissions: Vec<String>) -> AuthUser {
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
    }
}
