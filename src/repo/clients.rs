//! API clients: the services that call introspection and follow the event feed.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::Repo;
use crate::db::models::ApiClientRow;
use crate::db::schema::api_clients;
use crate::db::DbError;
use crate::domain::{ApiClient, ClaimSet};
use crate::with_conn;

impl Repo {
    /// A unique violation: the id is taken.
    pub async fn create_client(
        &self,
        client: &ApiClient,
        now: NaiveDateTime,
    ) -> Result<(), DbError> {
        let claims = client.claims.to_string();
        with_conn!(&self.db, |conn| {
            diesel::insert_into(api_clients::table)
                .values((
                    api_clients::client_id.eq(&client.id),
                    api_clients::secret_hash.eq(&client.secret_hash),
                    api_clients::created_at.eq(now),
                    api_clients::claims.eq(&claims),
                    api_clients::audience.eq(&client.audience),
                ))
                .execute(conn)
                .await?;
            Ok(())
        })
    }

    /// The client as authentication needs it. A stored claim set that no longer parses
    /// (a name this version does not know) is refused rather than widened.
    pub async fn find_client(&self, id: &str) -> Result<Option<ApiClient>, DbError> {
        let row: Option<(String, String, Option<String>)> = with_conn!(&self.db, |conn| {
            Ok::<_, DbError>(
                api_clients::table
                    .find(id)
                    .select((
                        api_clients::secret_hash,
                        api_clients::claims,
                        api_clients::audience,
                    ))
                    .first(conn)
                    .await
                    .optional()?,
            )
        })?;
        Ok(row.and_then(|(secret_hash, claims, audience)| {
            let claims = ClaimSet::parse(&claims)
                .inspect_err(|e| tracing::warn!(client = id, error = %e, "API client refused"))
                .ok()?;
            Some(ApiClient {
                id: id.to_owned(),
                secret_hash,
                claims,
                audience,
            })
        }))
    }

    pub async fn list_clients(&self) -> Result<Vec<ApiClientRow>, DbError> {
        type Row = (String, NaiveDateTime, String, Option<String>);
        let rows: Vec<Row> = with_conn!(&self.db, |conn| {
            Ok::<_, DbError>(
                api_clients::table
                    .order(api_clients::client_id)
                    .select((
                        api_clients::client_id,
                        api_clients::created_at,
                        api_clients::claims,
                        api_clients::audience,
                    ))
                    .load(conn)
                    .await?,
            )
        })?;
        Ok(rows
            .into_iter()
            .map(|(client_id, at, claims, audience)| ApiClientRow {
                client_id,
                created_at: at.and_utc(),
                claims,
                audience,
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
