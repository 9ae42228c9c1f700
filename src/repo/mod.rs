//! Every query the server makes, written once for both backends (see `db::pool`). The server
//! reaches it through the repository actor (`actors::repo`); the CLI calls it directly.

mod login_logs;
mod social;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

pub use login_logs::LoginLogFilter;

use crate::db::models::{NewUser, User};
use crate::db::schema::{role_permissions, roles, user_roles, users};
use crate::db::{Db, DbError};
use crate::with_conn;

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
