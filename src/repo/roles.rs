//! Roles, their permission codes, and who holds them.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::Repo;
use crate::db::models::RoleRow;
use crate::db::schema::{role_permissions, roles, user_roles};
use crate::db::DbError;
use crate::domain::codes;
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

    /// Permission codes of the user's enabled roles; a superuser holds every code the server
    /// knows: those it checks itself and those any role names, enabled or not.
    pub async fn permission_codes(
        &self,
        user_id: i64,
        superuser: bool,
    ) -> Result<Vec<String>, DbError> {
        if superuser {
            let named: Vec<String> = with_conn!(&self.db, |conn| {
                Ok::<_, DbError>(
                    role_permissions::table
                        .select(role_permissions::code)
                        .distinct()
                        .load(conn)
                        .await?,
                )
            })?;
            let every: std::collections::BTreeSet<String> = named
                .into_iter()
                .chain(codes::BUILT_IN.iter().map(|c| (*c).to_owned()))
                .collect();
            return Ok(every.into_iter().collect());
        }
        with_conn!(&self.db, |conn| {
            let mine = user_roles::table
                .filter(user_roles::user_id.eq(user_id))
                .select(user_roles::role_id);
            Ok(role_permissions::table
                .inner_join(roles::table)
                .filter(roles::status.eq(1))
                .filter(roles::id.eq_any(mine))
                .select(role_permissions::code)
                .distinct()
                .order(role_permissions::code)
                .load(conn)
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

    /// Every role with its codes, by name.
    pub async fn list_roles(&self) -> Result<Vec<RoleRow>, DbError> {
        with_conn!(&self.db, |conn| {
            let rows: Vec<(i64, String, i32)> = roles::table
                .order(roles::name)
                .select((roles::id, roles::name, roles::status))
                .load(conn)
                .await?;
            let codes: Vec<(i64, String)> = role_permissions::table
                .order((role_permissions::role_id, role_permissions::code))
                .select((role_permissions::role_id, role_permissions::code))
                .load(conn)
                .await?;
            Ok(rows
                .into_iter()
                .map(|(id, name, status)| RoleRow {
                    id,
                    name,
                    status,
                    codes: codes
                        .iter()
                        .filter(|(r, _)| *r == id)
                        .map(|(_, c)| c.clone())
                        .collect(),
                })
                .collect())
        })
    }

    /// One role, by id or by name.
    pub async fn find_role(&self, key: &RoleKey) -> Result<Option<RoleRow>, DbError> {
        Ok(self.list_roles().await?.into_iter().find(|r| match key {
            RoleKey::Id(id) => r.id == *id,
            RoleKey::Name(name) => r.name == *name,
        }))
    }

    /// A new role with these codes. A unique violation: the name is taken.
    pub async fn create_role(
        &self,
        name: &str,
        codes: &[String],
        now: NaiveDateTime,
    ) -> Result<i64, DbError> {
        use diesel_async::AsyncConnection;
        with_conn!(&self.db, |conn| {
            conn.transaction::<i64, DbError, _>(async |conn| {
                let id: i64 = diesel::insert_into(roles::table)
                    .values((
                        roles::name.eq(name),
                        roles::status.eq(1),
                        roles::created_at.eq(now),
                    ))
                    .returning(roles::id)
                    .get_result(conn)
                    .await?;
                for code in codes {
                    diesel::insert_into(role_permissions::table)
                        .values((
                            role_permissions::role_id.eq(id),
                            role_permissions::code.eq(code),
                        ))
                        .on_conflict_do_nothing()
                        .execute(conn)
                        .await?;
                }
                Ok(id)
            })
            .await
        })
    }

    /// Renames or enables/disables a role; the number of roles changed (0: no such role).
    pub async fn update_role(
        &self,
        id: i64,
        name: Option<String>,
        status: Option<i32>,
    ) -> Result<usize, DbError> {
        with_conn!(&self.db, |conn| {
            let mut changed = 0;
            if let Some(name) = name {
                changed = diesel::update(roles::table.find(id))
                    .set(roles::name.eq(name))
                    .execute(conn)
                    .await?;
            }
            if let Some(status) = status {
                changed = diesel::update(roles::table.find(id))
                    .set(roles::status.eq(status))
                    .execute(conn)
                    .await?;
            }
            Ok(changed)
        })
    }

    /// Deletes a role (and with it its codes and grants); 0 when there was none.
    pub async fn delete_role(&self, id: i64) -> Result<usize, DbError> {
        with_conn!(&self.db, |conn| {
            Ok(diesel::delete(roles::table.find(id)).execute(conn).await?)
        })
    }

    /// Changes a role's codes: `Replace` sets exactly these, `Add` and `Remove` change some.
    pub async fn change_role_codes(
        &self,
        id: i64,
        change: CodeChange,
        codes: &[String],
    ) -> Result<(), DbError> {
        use diesel_async::AsyncConnection;
        with_conn!(&self.db, |conn| {
            conn.transaction::<(), DbError, _>(async |conn| {
                if change == CodeChange::Replace {
                    diesel::delete(
                        role_permissions::table.filter(role_permissions::role_id.eq(id)),
                    )
                    .execute(conn)
                    .await?;
                }
                for code in codes {
                    if change == CodeChange::Remove {
                        diesel::delete(
                            role_permissions::table
                                .filter(role_permissions::role_id.eq(id))
                                .filter(role_permissions::code.eq(code)),
                        )
                        .execute(conn)
                        .await?;
                    } else {
                        diesel::insert_into(role_permissions::table)
                            .values((
                                role_permissions::role_id.eq(id),
                                role_permissions::code.eq(code),
                            ))
                            .on_conflict_do_nothing()
                            .execute(conn)
                            .await?;
                    }
                }
                Ok(())
            })
            .await
        })
    }

    /// The user's roles, all of them (enabled or not), by name.
    pub async fn roles_of(&self, user_id: i64) -> Result<Vec<RoleRow>, DbError> {
        let ids: Vec<i64> = with_conn!(&self.db, |conn| {
            Ok::<_, DbError>(
                user_roles::table
                    .filter(user_roles::user_id.eq(user_id))
                    .select(user_roles::role_id)
                    .load(conn)
                    .await?,
            )
        })?;
        let mut all = self.list_roles().await?;
        all.retain(|r| ids.contains(&r.id));
        Ok(all)
    }

    /// Gives or takes a role, or sets exactly these roles (`Replace`).
    pub async fn change_user_roles(
        &self,
        user_id: i64,
        change: CodeChange,
        role_ids: &[i64],
    ) -> Result<(), DbError> {
        use diesel_async::AsyncConnection;
        with_conn!(&self.db, |conn| {
            conn.transaction::<(), DbError, _>(async |conn| {
                if change == CodeChange::Replace {
                    diesel::delete(user_roles::table.filter(user_roles::user_id.eq(user_id)))
                        .execute(conn)
                        .await?;
                }
                for role_id in role_ids {
                    if change == CodeChange::Remove {
                        diesel::delete(
                            user_roles::table
                                .filter(user_roles::user_id.eq(user_id))
                                .filter(user_roles::role_id.eq(role_id)),
                        )
                        .execute(conn)
                        .await?;
                    } else {
                        diesel::insert_into(user_roles::table)
                            .values((
                                user_roles::user_id.eq(user_id),
                                user_roles::role_id.eq(role_id),
                            ))
                            .on_conflict_do_nothing()
                            .execute(conn)
                            .await?;
                    }
                }
                Ok(())
            })
            .await
        })
    }
}

/// A role named by its id or its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleKey {
    Id(i64),
    Name(String),
}

/// How a list of codes (or roles) changes what is there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeChange {
    Add,
    Remove,
    Replace,
}
