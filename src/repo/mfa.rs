//! Second factors (`mfa_totp`, `mfa_recovery_codes`). Every "use it once" step is one
//! conditional UPDATE, so two requests racing with the same code cannot both pass.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::Repo;
use crate::db::schema::{mfa_passkeys, mfa_recovery_codes, mfa_totp};
use crate::db::DbError;
use crate::with_conn;

/// A user's TOTP factor as stored: the sealed secret, and whether it is active yet.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mfa_totp)]
pub struct TotpRow {
    pub user_id: i64,
    pub secret: String,
    pub confirmed_at: Option<NaiveDateTime>,
    pub last_step: Option<i64>,
    pub created_at: NaiveDateTime,
}

impl Repo {
    /// Of these users, those with an active TOTP factor.
    pub async fn with_active_totp(&self, ids: &[i64]) -> Result<Vec<i64>, DbError> {
        with_conn!(&self.db, |conn| {
            Ok(mfa_totp::table
                .filter(mfa_totp::user_id.eq_any(ids))
                .filter(mfa_totp::confirmed_at.is_not_null())
                .select(mfa_totp::user_id)
                .load(conn)
                .await?)
        })
    }

    pub async fn totp_of(&self, user_id: i64) -> Result<Option<TotpRow>, DbError> {
        with_conn!(&self.db, |conn| {
            Ok(mfa_totp::table
                .find(user_id)
                .select(TotpRow::as_select())
                .first(conn)
                .await
                .optional()?)
        })
    }

    /// Keeps a new, not yet confirmed secret (replacing an unconfirmed one). False, and
    /// nothing changed, when the user has an active TOTP factor.
    pub async fn put_pending_totp(
        &self,
        user_id: i64,
        secret: &str,
        now: NaiveDateTime,
    ) -> Result<bool, DbError> {
        use diesel_async::AsyncConnection;
        with_conn!(&self.db, |conn| {
            conn.transaction::<bool, DbError, _>(async |conn| {
                let active: i64 = mfa_totp::table
                    .filter(mfa_totp::user_id.eq(user_id))
                    .filter(mfa_totp::confirmed_at.is_not_null())
                    .count()
                    .get_result(conn)
                    .await?;
                if active > 0 {
                    return Ok(false);
                }
                diesel::delete(mfa_totp::table.find(user_id))
                    .execute(conn)
                    .await?;
                diesel::insert_into(mfa_totp::table)
                    .values((
                        mfa_totp::user_id.eq(user_id),
                        mfa_totp::secret.eq(secret),
                        mfa_totp::created_at.eq(now),
                    ))
                    .execute(conn)
                    .await?;
                Ok(true)
            })
            .await
        })
    }

    /// Accepts the code of `step` once: true when no code of this step or a later one was
    /// accepted before. `confirm` activates a pending factor (and only a pending one);
    /// otherwise only an active factor counts.
    pub async fn use_totp_step(
        &self,
        user_id: i64,
        step: i64,
        confirm: Option<NaiveDateTime>,
    ) -> Result<bool, DbError> {
        with_conn!(&self.db, |conn| {
            let fresh = mfa_totp::user_id.eq(user_id).and(
                mfa_totp::last_step
                    .is_null()
                    .or(mfa_totp::last_step.lt(step).assume_not_null()),
            );
            let n = match confirm {
                Some(at) => {
                    diesel::update(
                        mfa_totp::table
                            .filter(fresh)
                            .filter(mfa_totp::confirmed_at.is_null()),
                    )
                    .set((mfa_totp::last_step.eq(step), mfa_totp::confirmed_at.eq(at)))
                    .execute(conn)
                    .await?
                }
                None => {
                    diesel::update(
                        mfa_totp::table
                            .filter(fresh)
                            .filter(mfa_totp::confirmed_at.is_not_null()),
                    )
                    .set(mfa_totp::last_step.eq(step))
                    .execute(conn)
                    .await?
                }
            };
            Ok(n == 1)
        })
    }

    /// Every factor of the user and the recovery codes (an administrator's reset): how many
    /// factors there were.
    pub async fn delete_factors(&self, user_id: i64) -> Result<usize, DbError> {
        use diesel_async::AsyncConnection;
        with_conn!(&self.db, |conn| {
            conn.transaction::<usize, DbError, _>(async |conn| {
                let totp = diesel::delete(mfa_totp::table.find(user_id))
                    .execute(conn)
                    .await?;
                let passkeys =
                    diesel::delete(mfa_passkeys::table.filter(mfa_passkeys::user_id.eq(user_id)))
                        .execute(conn)
                        .await?;
                diesel::delete(
                    mfa_recovery_codes::table.filter(mfa_recovery_codes::user_id.eq(user_id)),
                )
                .execute(conn)
                .await?;
                Ok(totp + passkeys)
            })
            .await
        })
    }

    /// Removes the TOTP factor, and the recovery codes with it when no factor is left.
    pub async fn delete_totp(&self, user_id: i64) -> Result<usize, DbError> {
        use diesel_async::AsyncConnection;
        with_conn!(&self.db, |conn| {
            conn.transaction::<usize, DbError, _>(async |conn| {
                let n = diesel::delete(mfa_totp::table.find(user_id))
                    .execute(conn)
                    .await?;
                let passkeys: i64 = mfa_passkeys::table
                    .filter(mfa_passkeys::user_id.eq(user_id))
                    .count()
                    .get_result(conn)
                    .await?;
                if passkeys == 0 {
                    diesel::delete(
                        mfa_recovery_codes::table.filter(mfa_recovery_codes::user_id.eq(user_id)),
                    )
                    .execute(conn)
                    .await?;
                }
                Ok(n)
            })
            .await
        })
    }

    /// Unused recovery codes.
    pub async fn recovery_codes_left(&self, user_id: i64) -> Result<i64, DbError> {
        with_conn!(&self.db, |conn| {
            Ok(mfa_recovery_codes::table
                .filter(mfa_recovery_codes::user_id.eq(user_id))
                .filter(mfa_recovery_codes::used_at.is_null())
                .count()
                .get_result(conn)
                .await?)
        })
    }

    /// A new set of recovery codes (digests); the old set, used or not, is gone.
    pub async fn replace_recovery_codes(
        &self,
        user_id: i64,
        hashes: &[String],
        now: NaiveDateTime,
    ) -> Result<(), DbError> {
        use diesel_async::AsyncConnection;
        let rows: Vec<_> = hashes
            .iter()
            .map(|h| {
                (
                    mfa_recovery_codes::user_id.eq(user_id),
                    mfa_recovery_codes::code_hash.eq(h.clone()),
                    mfa_recovery_codes::created_at.eq(now),
                )
            })
            .collect();
        with_conn!(&self.db, |conn| {
            let rows = rows.clone();
            conn.transaction::<(), DbError, _>(async |conn| {
                diesel::delete(
                    mfa_recovery_codes::table.filter(mfa_recovery_codes::user_id.eq(user_id)),
                )
                .execute(conn)
                .await?;
                // One row at a time: SQLite has no batch insert of column tuples (ten rows).
                for row in rows {
                    diesel::insert_into(mfa_recovery_codes::table)
                        .values(row)
                        .execute(conn)
                        .await?;
                }
                Ok(())
            })
            .await
        })
    }

    /// Uses one recovery code: how many are left afterwards, or `None` when it was not an
    /// unused code of this user.
    pub async fn use_recovery_code(
        &self,
        user_id: i64,
        hash: &str,
        now: NaiveDateTime,
    ) -> Result<Option<i64>, DbError> {
        use diesel_async::AsyncConnection;
        with_conn!(&self.db, |conn| {
            conn.transaction::<Option<i64>, DbError, _>(async |conn| {
                let n = diesel::update(
                    mfa_recovery_codes::table
                        .filter(mfa_recovery_codes::user_id.eq(user_id))
                        .filter(mfa_recovery_codes::code_hash.eq(hash))
                        .filter(mfa_recovery_codes::used_at.is_null()),
                )
                .set(mfa_recovery_codes::used_at.eq(now))
                .execute(conn)
                .await?;
                if n != 1 {
                    return Ok(None);
                }
                let left: i64 = mfa_recovery_codes::table
                    .filter(mfa_recovery_codes::user_id.eq(user_id))
                    .filter(mfa_recovery_codes::used_at.is_null())
                    .count()
                    .get_result(conn)
                    .await?;
                Ok(Some(left))
            })
            .await
        })
    }
}
