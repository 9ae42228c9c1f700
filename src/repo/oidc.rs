//! OpenID Connect clients and the consents users gave them.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::Repo;
use crate::db::schema::{oidc_clients, oidc_consents, oidc_logout_queue};
use crate::db::DbError;
use crate::domain::oidc_client::{joined, OidcClient, UnknownName};
use crate::with_conn;

type ClientRow = (
    String,
    Option<String>,
    String,
    String,
    String,
    String,
    Option<String>,
    bool,
    String,
    String,
);

const COLUMNS: (
    oidc_clients::client_id,
    oidc_clients::secret_hash,
    oidc_clients::redirect_uris,
    oidc_clients::post_logout_redirect_uris,
    oidc_clients::grants,
    oidc_clients::scopes,
    oidc_clients::backchannel_logout_uri,
    oidc_clients::first_party,
    oidc_clients::id_token_alg,
    oidc_clients::resources,
) = (
    oidc_clients::client_id,
    oidc_clients::secret_hash,
    oidc_clients::redirect_uris,
    oidc_clients::post_logout_redirect_uris,
    oidc_clients::grants,
    oidc_clients::scopes,
    oidc_clients::backchannel_logout_uri,
    oidc_clients::first_party,
    oidc_clients::id_token_alg,
    oidc_clients::resources,
);

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_owned).collect()
}

/// A stored row that no longer parses (a grant or algorithm this version does not know) is
/// refused rather than guessed at.
fn client_of(row: ClientRow) -> Option<OidcClient> {
    let (
        id,
        secret_hash,
        redirects,
        logouts,
        grants,
        scopes,
        backchannel,
        first_party,
        alg,
        resources,
    ) = row;
    let parsed = (|| {
        Ok::<_, UnknownName>(OidcClient {
            grants: grants
                .split_whitespace()
                .map(str::parse)
                .collect::<Result<_, _>>()?,
            id_token_alg: alg.parse()?,
            id: id.clone(),
            secret_hash,
            redirect_uris: words(&redirects),
            post_logout_redirect_uris: words(&logouts),
            scopes: words(&scopes),
            backchannel_logout_uri: backchannel,
            first_party,
            resources: words(&resources),
        })
    })();
    parsed
        .inspect_err(|e| tracing::warn!(client = id, error = %e, "OpenID client refused"))
        .ok()
}

impl Repo {
    /// A unique violation: the id is taken.
    pub async fn create_oidc_client(
        &self,
        c: &OidcClient,
        now: NaiveDateTime,
    ) -> Result<(), DbError> {
        with_conn!(&self.db, |conn| {
            diesel::insert_into(oidc_clients::table)
                .values((
                    oidc_clients::client_id.eq(&c.id),
                    oidc_clients::secret_hash.eq(&c.secret_hash),
                    oidc_clients::redirect_uris.eq(joined(&c.redirect_uris)),
                    oidc_clients::post_logout_redirect_uris
                        .eq(joined(&c.post_logout_redirect_uris)),
                    oidc_clients::grants.eq(joined(&c.grants)),
                    oidc_clients::scopes.eq(joined(&c.scopes)),
                    oidc_clients::backchannel_logout_uri.eq(&c.backchannel_logout_uri),
                    oidc_clients::first_party.eq(c.first_party),
                    oidc_clients::id_token_alg.eq(c.id_token_alg.as_str()),
                    oidc_clients::resources.eq(joined(&c.resources)),
                    oidc_clients::created_at.eq(now),
                    oidc_clients::updated_at.eq(now),
                ))
                .execute(conn)
                .await?;
            Ok(())
        })
    }

    /// Rows changed (0: no such client).
    pub async fn update_oidc_client(
        &self,
        c: &OidcClient,
        now: NaiveDateTime,
    ) -> Result<usize, DbError> {
        with_conn!(&self.db, |conn| {
            Ok(diesel::update(oidc_clients::table.find(&c.id))
                .set((
                    oidc_clients::secret_hash.eq(&c.secret_hash),
                    oidc_clients::redirect_uris.eq(joined(&c.redirect_uris)),
                    oidc_clients::post_logout_redirect_uris
                        .eq(joined(&c.post_logout_redirect_uris)),
                    oidc_clients::grants.eq(joined(&c.grants)),
                    oidc_clients::scopes.eq(joined(&c.scopes)),
                    oidc_clients::backchannel_logout_uri.eq(&c.backchannel_logout_uri),
                    oidc_clients::first_party.eq(c.first_party),
                    oidc_clients::id_token_alg.eq(c.id_token_alg.as_str()),
                    oidc_clients::resources.eq(joined(&c.resources)),
                    oidc_clients::updated_at.eq(now),
                ))
                .execute(conn)
                .await?)
        })
    }

    pub async fn find_oidc_client(&self, id: &str) -> Result<Option<OidcClient>, DbError> {
        let row: Option<ClientRow> = with_conn!(&self.db, |conn| {
            Ok::<_, DbError>(
                oidc_clients::table
                    .find(id)
                    .select(COLUMNS)
                    .first(conn)
                    .await
                    .optional()?,
            )
        })?;
        Ok(row.and_then(client_of))
    }

    pub async fn list_oidc_clients(&self) -> Result<Vec<OidcClient>, DbError> {
        let rows: Vec<ClientRow> = with_conn!(&self.db, |conn| {
            Ok::<_, DbError>(
                oidc_clients::table
                    .order(oidc_clients::client_id)
                    .select(COLUMNS)
                    .load(conn)
                    .await?,
            )
        })?;
        Ok(rows.into_iter().filter_map(client_of).collect())
    }

    /// The consents given to it go with it (`ON DELETE CASCADE`). 0 when there was no such
    /// client.
    pub async fn delete_oidc_client(&self, id: &str) -> Result<usize, DbError> {
        with_conn!(&self.db, |conn| {
            Ok(diesel::delete(oidc_clients::table.find(id))
                .execute(conn)
                .await?)
        })
    }

    /// The scopes the user let the client have (space-separated), if any.
    pub async fn consent(&self, user_id: i64, client_id: &str) -> Result<Option<String>, DbError> {
        with_conn!(&self.db, |conn| {
            Ok(oidc_consents::table
                .find((user_id, client_id))
                .select(oidc_consents::scopes)
                .first(conn)
                .await
                .optional()?)
        })
    }

    /// Every consent the user gave: `(client_id, scopes, granted_at)`, by client.
    pub async fn consents_of(
        &self,
        user_id: i64,
    ) -> Result<Vec<(String, String, NaiveDateTime)>, DbError> {
        with_conn!(&self.db, |conn| {
            Ok(oidc_consents::table
                .filter(oidc_consents::user_id.eq(user_id))
                .order(oidc_consents::client_id)
                .select((
                    oidc_consents::client_id,
                    oidc_consents::scopes,
                    oidc_consents::granted_at,
                ))
                .load(conn)
                .await?)
        })
    }

    /// Takes back the user's consent to the client; 0 when there was none.
    pub async fn delete_consent(&self, user_id: i64, client_id: &str) -> Result<usize, DbError> {
        with_conn!(&self.db, |conn| {
            Ok(
                diesel::delete(oidc_consents::table.find((user_id, client_id)))
                    .execute(conn)
                    .await?,
            )
        })
    }

    pub async fn put_consent(
        &self,
        user_id: i64,
        client_id: &str,
        scopes: &str,
        now: NaiveDateTime,
    ) -> Result<(), DbError> {
        with_conn!(&self.db, |conn| {
            diesel::insert_into(oidc_consents::table)
                .values((
                    oidc_consents::user_id.eq(user_id),
                    oidc_consents::client_id.eq(client_id),
                    oidc_consents::scopes.eq(scopes),
                    oidc_consents::granted_at.eq(now),
                ))
                .on_conflict((oidc_consents::user_id, oidc_consents::client_id))
                .do_update()
                .set((
                    oidc_consents::scopes.eq(scopes),
                    oidc_consents::granted_at.eq(now),
                ))
                .execute(conn)
                .await?;
            Ok(())
        })
    }
}

/// A back-channel logout notice waiting to be delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutNotice {
    pub id: i64,
    pub client_id: String,
    pub sub: String,
    pub sid: String,
    pub attempts: i32,
    pub next_at: i64,
}

impl Repo {
    /// Queues notices `(client_id, sub, sid)`, due at `now`; one already queued for the same
    /// client and session is not queued again.
    pub async fn queue_logouts(
        &self,
        notices: &[(String, String, String)],
        now: i64,
    ) -> Result<(), DbError> {
        with_conn!(&self.db, |conn| {
            for (client_id, sub, sid) in notices {
                diesel::insert_into(oidc_logout_queue::table)
                    .values((
                        oidc_logout_queue::client_id.eq(client_id),
                        oidc_logout_queue::sub.eq(sub),
                        oidc_logout_queue::sid.eq(sid),
                        oidc_logout_queue::attempts.eq(0),
                        oidc_logout_queue::next_at.eq(now),
                        oidc_logout_queue::created_at.eq(now),
                    ))
                    .on_conflict((oidc_logout_queue::client_id, oidc_logout_queue::sid))
                    .do_nothing()
                    .execute(conn)
                    .await?;
            }
            Ok(())
        })
    }

    /// Up to `limit` notices due by `now`, the longest waiting first.
    pub async fn due_logouts(&self, now: i64, limit: i64) -> Result<Vec<LogoutNotice>, DbError> {
        type Row = (i64, String, String, String, i32, i64);
        let rows: Vec<Row> = with_conn!(&self.db, |conn| {
            Ok::<_, DbError>(
                oidc_logout_queue::table
                    .filter(oidc_logout_queue::next_at.le(now))
                    .order(oidc_logout_queue::next_at)
                    .limit(limit)
                    .select((
                        oidc_logout_queue::id,
                        oidc_logout_queue::client_id,
                        oidc_logout_queue::sub,
                        oidc_logout_queue::sid,
                        oidc_logout_queue::attempts,
                        oidc_logout_queue::next_at,
                    ))
                    .load(conn)
                    .await?,
            )
        })?;
        Ok(rows
            .into_iter()
            .map(
                |(id, client_id, sub, sid, attempts, next_at)| LogoutNotice {
                    id,
                    client_id,
                    sub,
                    sid,
                    attempts,
                    next_at,
                },
            )
            .collect())
    }

    /// Takes the notice for one try: true when this caller moved it from `seen` to `until`
    /// (another node that read it too finds it moved and leaves it).
    pub async fn claim_logout(&self, id: i64, seen: i64, until: i64) -> Result<bool, DbError> {
        with_conn!(&self.db, |conn| {
            let n = diesel::update(
                oidc_logout_queue::table
                    .filter(oidc_logout_queue::id.eq(id))
                    .filter(oidc_logout_queue::next_at.eq(seen)),
            )
            .set((
                oidc_logout_queue::next_at.eq(until),
                oidc_logout_queue::attempts.eq(oidc_logout_queue::attempts + 1),
            ))
            .execute(conn)
            .await?;
            Ok(n == 1)
        })
    }

    pub async fn delete_logout(&self, id: i64) -> Result<(), DbError> {
        with_conn!(&self.db, |conn| {
            diesel::delete(oidc_logout_queue::table.find(id))
                .execute(conn)
                .await?;
            Ok(())
        })
    }
}
