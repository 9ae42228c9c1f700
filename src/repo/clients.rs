//! API clients: the services that call introspection and follow the event feed.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::Repo;
use crate::db::models::ApiClientRow;
use crate::db::schema::api_clients;
use crate::db::DbError;
use crate::with_conn;

impl Repo {
    /// A unique violation: the id is taken.
    pub async fn create_client(
        &self,
        id: &str,
        secret_hash: &str,
        now: NaiveDateTime,
    ) -> Result<(), DbError> {
        with_conn!(&self.db, |conn| {
            diesel::insert_into(api_clients::table)
                .values((
                    api_clients::client_id.eq(id),
                    api_clients::secret_hash.eq(secret_hash),
                    api_clients::created_at.eq(now),
                ))
                .execute(conn)
                .await?;
            Ok(())
        })
    }

    pub async fn client_secret_hash(&self, id: &str) -> Result<Option<String>, DbError> {
        with_conn!(&self.db, |conn| {
            Ok(api_clients::table
                .find(id)
                .select(api_clients::secret_hash)
                .first(conn)
                .await
                .optional()?)
        })
    }

    pub async fn list_clients(&self) -> Result<Vec<ApiClientRow>, DbError> {
        let rows: Vec<(String, NaiveDateTime)> = with_conn!(&self.db, |conn| {
            Ok::<_, DbError>(
                api_clients::table
                    .order(api_clients::client_id)
                    .select((api_clients::client_id, api_clients::created_at))
                    .load(conn)
                    .await?,
            )
        })?;
        Ok(rows
            .into_iter()
            .map(|(client_id, at)| ApiClientRow {
                client_id,
                created_at: at.and_utc(),
            })
            .collect())
    }

    /// 0 when there was no such client.
    pub async fn delete_client(&self, id: &str) -> Result<usize, DbError> {
        with_conn!(&self.db, |conn| {
            Ok(diesel::delete(api_clients::table.find(id))
                .execute(conn)
                .await?)
        })
    }
}
