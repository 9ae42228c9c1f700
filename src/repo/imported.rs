//! Which users an import created (`imported_users`): the only accounts an import may match by
//! uuid.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::Repo;
use crate::db::models::{NewUser, User};
use crate::db::schema::{imported_users, users};
use crate::db::DbError;
use crate::with_conn;

impl Repo {
    /// Creates a user and records that the import from `source` made it, at once.
    pub async fn create_imported_user(&self, new: NewUser, source: &str) -> Result<User, DbError> {
        use diesel_async::AsyncConnection;
        with_conn!(&self.db, |conn| {
            conn.transaction::<User, DbError, _>(async |conn| {
                let user: User = diesel::insert_into(users::table)
                    .values(&new)
                    .returning(User::as_returning())
                    .get_result(conn)
                    .await?;
                diesel::insert_into(imported_users::table)
                    .values((
                        imported_users::user_id.eq(user.id),
                        imported_users::source.eq(source),
                        imported_users::imported_at.eq(new.updated_at),
                    ))
                    .execute(conn)
                    .await?;
                Ok(user)
            })
            .await
        })
    }

    /// Whether an import from `source` created this user.
    pub async fn imported_from(&self, user_id: i64, source: &str) -> Result<bool, DbError> {
        with_conn!(&self.db, |conn| {
            let n: i64 = imported_users::table
                .filter(imported_users::user_id.eq(user_id))
                .filter(imported_users::source.eq(source))
                .count()
                .get_result(conn)
                .await?;
            Ok(n > 0)
        })
    }
}
