//! Social identities (`user_social`) and the users they belong to.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::Repo;
use crate::db::models::{NewUser, User};
use crate::db::schema::{roles, user_roles, user_social, users};
use crate::db::DbError;
use crate::with_conn;

impl Repo {
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
            conn.transaction::<User, DbError, _>(async |conn| {
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
            .await
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
}
