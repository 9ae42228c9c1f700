//! Passkeys (`mfa_passkeys`): several per user, each named; the credential as webauthn-rs
//! keeps it (JSON), updated when its signature counter moves.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::Repo;
use crate::db::schema::{mfa_passkeys, mfa_recovery_codes, mfa_totp};
use crate::db::DbError;
use crate::with_conn;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mfa_passkeys)]
pub struct PasskeyRow {
    pub id: i64,
    pub user_id: i64,
    pub credential_id: String,
    pub name: String,
    pub passkey: String,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
}

impl Repo {
    /// The user's passkeys, oldest first.
    pub async fn passkeys_of(&self, user_id: i64) -> Result<Vec<PasskeyRow>, DbError> {
        with_conn!(&self.db, |conn| {
            Ok(mfa_passkeys::table
                .filter(mfa_passkeys::user_id.eq(user_id))
                .order(mfa_passkeys::id)
                .select(PasskeyRow::as_select())
                .load(conn)
                .await?)
        })
    }

    /// Of these users, those with a passkey.
    pub async fn with_passkeys(&self, ids: &[i64]) -> Result<Vec<i64>, DbError> {
        with_conn!(&self.db, |conn| {
            Ok(mfa_passkeys::table
                .filter(mfa_passkeys::user_id.eq_any(ids))
                .select(mfa_passkeys::user_id)
                .distinct()
                .load(conn)
                .await?)
        })
    }

    pub async fn passkey_by_credential(
        &self,
        credential_id: &str,
    ) -> Result<Option<PasskeyRow>, DbError> {
        with_conn!(&self.db, |conn| {
            Ok(mfa_passkeys::table
                .filter(mfa_passkeys::credential_id.eq(credential_id))
                .select(PasskeyRow::as_select())
                .first(conn)
                .await
                .optional()?)
        })
    }

    /// Keeps a new passkey; `None` when its credential is registered already (to anyone).
    pub async fn add_passkey(
        &self,
        user_id: i64,
        credential_id: &str,
        name: &str,
        passkey: &str,
        now: NaiveDateTime,
    ) -> Result<Option<i64>, DbError> {
        let added = with_conn!(&self.db, |conn| {
            diesel::insert_into(mfa_passkeys::table)
                .values((
                    mfa_passkeys::user_id.eq(user_id),
                    mfa_passkeys::credential_id.eq(credential_id),
                    mfa_passkeys::name.eq(name),
                    mfa_passkeys::passkey.eq(passkey),
                    mfa_passkeys::created_at.eq(now),
                ))
                .returning(mfa_passkeys::id)
                .get_result::<i64>(conn)
                .await
                .map_err(DbError::from)
        });
        match added {
            Ok(id) => Ok(Some(id)),
            Err(e) if e.is_unique_violation() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// After a sign-in with it: when it was used, and its record when the counter moved;
    /// only while the record is still `was` (one conditional UPDATE: of two uses at once with
    /// the same counter, one passes). False when it was not.
    pub async fn passkey_used(
        &self,
        id: i64,
        was: &str,
        passkey: Option<&str>,
        now: NaiveDateTime,
    ) -> Result<bool, DbError> {
        with_conn!(&self.db, |conn| {
            let this = mfa_passkeys::table
                .filter(mfa_passkeys::id.eq(id))
                .filter(mfa_passkeys::passkey.eq(was));
            let n = diesel::update(this)
                .set((
                    mfa_passkeys::passkey.eq(passkey.unwrap_or(was)),
                    mfa_passkeys::last_used_at.eq(now),
                ))
                .execute(conn)
                .await?;
            Ok(n == 1)
        })
    }

    /// Removes one of the user's passkeys (0 when it is not theirs), and the recovery codes
    /// when no factor is left.
    pub async fn delete_passkey(&self, user_id: i64, id: i64) -> Result<usize, DbError> {
        use diesel_async::AsyncConnection;
        with_conn!(&self.db, |conn| {
            conn.transaction::<usize, DbError, _>(async |conn| {
                let n = diesel::delete(
                    mfa_passkeys::table
                        .filter(mfa_passkeys::id.eq(id))
                        .filter(mfa_passkeys::user_id.eq(user_id)),
                )
                .execute(conn)
                .await?;
                let passkeys: i64 = mfa_passkeys::table
                    .filter(mfa_passkeys::user_id.eq(user_id))
                    .count()
                    .get_result(conn)
                    .await?;
                let totp: i64 = mfa_totp::table
                    .filter(mfa_totp::user_id.eq(user_id))
                    .filter(mfa_totp::confirmed_at.is_not_null())
                    .count()
                    .get_result(conn)
                    .await?;
                if passkeys == 0 && totp == 0 {
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
}
