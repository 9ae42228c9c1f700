//! Roles, their permission codes, and who holds them.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::Repo;
use crate::db::schema::{role_permissions, roles, user_roles};
use crate::db::DbError;
use crate::with_conn;

impl Repo {
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
