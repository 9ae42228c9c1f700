//! Reading a fastapi-best-architecture (fba) database, for `portcullis import fba`: its users,
//! roles with the permission codes of their menus, who holds which role, and social bindings.
//! Read only; one connection; tables and columns as fba declares them (PostgreSQL).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::sql_types::{BigInt, Bool, Integer, Nullable, Text, Timestamp};
use diesel::QueryableByName;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::db::DbError;

/// A `sys_user` row.
#[derive(Debug, Clone, QueryableByName)]
pub struct FbaUser {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub uuid: String,
    #[diesel(sql_type = Text)]
    pub username: String,
    #[diesel(sql_type = Text)]
    pub nickname: String,
    /// bcrypt, or none for an account that only signs in socially.
    #[diesel(sql_type = Nullable<Text>)]
    pub password: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub email: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub phone: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub avatar: Option<String>,
    /// 1 enabled, 0 disabled.
    #[diesel(sql_type = Integer)]
    pub status: i32,
    #[diesel(sql_type = Bool)]
    pub is_superuser: bool,
    #[diesel(sql_type = Bool)]
    pub is_staff: bool,
    #[diesel(sql_type = Bool)]
    pub is_multi_login: bool,
    /// In UTC, as every time Portcullis stores.
    #[diesel(sql_type = Nullable<Timestamp>)]
    pub join_time: Option<NaiveDateTime>,
    #[diesel(sql_type = Nullable<Timestamp>)]
    pub last_login_time: Option<NaiveDateTime>,
    #[diesel(sql_type = Nullable<Timestamp>)]
    pub last_password_changed_time: Option<NaiveDateTime>,
}

/// A `sys_role` row with the codes of its enabled menus (`sys_menu.perms`, comma-separated,
/// through `sys_role_menu`).
#[derive(Debug, Clone, PartialEq)]
pub struct FbaRole {
    pub id: i64,
    pub name: String,
    pub status: i32,
    pub codes: BTreeSet<String>,
}

/// A `sys_user_social` row: `source` is fba's provider name (`Github`, `Google`), `sid` the
/// provider's user id.
#[derive(Debug, Clone, QueryableByName)]
pub struct FbaSocial {
    #[diesel(sql_type = BigInt)]
    pub user_id: i64,
    #[diesel(sql_type = Text)]
    pub source: String,
    #[diesel(sql_type = Text)]
    pub sid: String,
}

/// Everything the import reads, read at once.
#[derive(Debug, Default)]
pub struct FbaDump {
    pub users: Vec<FbaUser>,
    pub roles: Vec<FbaRole>,
    /// fba user id → fba role ids.
    pub user_roles: BTreeMap<i64, Vec<i64>>,
    pub socials: Vec<FbaSocial>,
}

#[derive(QueryableByName)]
struct RoleRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Integer)]
    status: i32,
}

#[derive(QueryableByName)]
struct RolePerms {
    #[diesel(sql_type = BigInt)]
    role_id: i64,
    #[diesel(sql_type = Text)]
    perms: String,
}

#[derive(QueryableByName)]
struct UserRole {
    #[diesel(sql_type = BigInt)]
    user_id: i64,
    #[diesel(sql_type = BigInt)]
    role_id: i64,
}

#[derive(QueryableByName)]
struct Exists {
    #[diesel(sql_type = Bool)]
    present: bool,
}

// Times: fba declares `timestamptz`; `AT TIME ZONE 'UTC'` gives the UTC wall time Portcullis
// stores. Casts keep the reading independent of fba's exact varchar lengths.
const USERS: &str = "\
SELECT id::bigint AS id, uuid::text AS uuid, username::text AS username,
       nickname::text AS nickname, password::text AS password, email::text AS email,
       phone::text AS phone, avatar::text AS avatar, status::int AS status,
       is_superuser, is_staff, is_multi_login,
       join_time AT TIME ZONE 'UTC' AS join_time,
       last_login_time AT TIME ZONE 'UTC' AS last_login_time,
       last_password_changed_time AT TIME ZONE 'UTC' AS last_password_changed_time
FROM sys_user ORDER BY id";

const ROLES: &str =
    "SELECT id::bigint AS id, name::text AS name, status::int AS status FROM sys_role ORDER BY id";

/// Enabled menus only: a disabled menu grants nothing in fba either.
const ROLE_PERMS: &str = "\
SELECT rm.role_id::bigint AS role_id, m.perms::text AS perms
FROM sys_role_menu rm JOIN sys_menu m ON m.id = rm.menu_id
WHERE m.status = 1 AND m.perms IS NOT NULL AND m.perms <> ''
ORDER BY rm.role_id";

const USER_ROLES: &str =
    "SELECT user_id::bigint AS user_id, role_id::bigint AS role_id FROM sys_user_role ORDER BY id";

/// `sys_user_social` belongs to fba's OAuth2 plugin; a deployment without it has none.
const HAS_SOCIAL: &str = "SELECT to_regclass('sys_user_social') IS NOT NULL AS present";

const SOCIALS: &str = "\
SELECT user_id::bigint AS user_id, source::text AS source, sid::text AS sid
FROM sys_user_social ORDER BY id";

/// Splits `sys_menu.perms`: comma-separated, blanks ignored.
pub fn split_perms(perms: &str) -> impl Iterator<Item = &str> {
    perms.split(',').map(str::trim).filter(|p| !p.is_empty())
}

/// Reads an fba database; `deadline` bounds connecting and each query.
pub async fn read_fba(url: &str, deadline: Duration) -> Result<FbaDump, DbError> {
    let timed = |what: &'static str| {
        move |_| DbError::pool(format!("{what}: no answer within {deadline:?}"))
    };
    let mut conn = tokio::time::timeout(deadline, AsyncPgConnection::establish(url))
        .await
        .map_err(timed("connecting"))?
        .map_err(|e| DbError::pool(crate::config::redact(&e.to_string())))?;
    macro_rules! load {
        ($sql:expr, $ty:ty) => {
            tokio::time::timeout(deadline, diesel::sql_query($sql).load::<$ty>(&mut conn))
                .await
                .map_err(timed($sql))??
        };
    }
    let users = load!(USERS, FbaUser);
    let mut roles: Vec<FbaRole> = load!(ROLES, RoleRow)
        .into_iter()
        .map(|r| FbaRole {
            id: r.id,
            name: r.name,
            status: r.status,
            codes: BTreeSet::new(),
        })
        .collect();
    for p in load!(ROLE_PERMS, RolePerms) {
        if let Some(role) = roles.iter_mut().find(|r| r.id == p.role_id) {
            role.codes.extend(split_perms(&p.perms).map(str::to_owned));
        }
    }
    let mut user_roles: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for ur in load!(USER_ROLES, UserRole) {
        user_roles.entry(ur.user_id).or_default().push(ur.role_id);
    }
    let present: Vec<Exists> = load!(HAS_SOCIAL, Exists);
    let has_social = present.iter().any(|e| e.present);
    let socials = if has_social {
        load!(SOCIALS, FbaSocial)
    } else {
        Vec::new()
    };
    Ok(FbaDump {
        users,
        roles,
        user_roles,
        socials,
    })
}

#[cfg(test)]
mod tests {
    use super::split_perms;

    #[test]
    fn perms_are_comma_separated_and_blanks_ignored() {
        let codes: Vec<&str> = split_perms(" sys:user:add, sys:user:edit,,").collect();
        assert_eq!(codes, ["sys:user:add", "sys:user:edit"]);
        assert_eq!(split_perms("").count(), 0);
    }
}
