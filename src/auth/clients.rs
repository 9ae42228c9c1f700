//! API clients: services that call token introspection and follow the event feed, with HTTP
//! Basic credentials. A secret is 256 random bits shown once at creation and kept only as its
//! SHA-256 digest: nobody can guess such a secret, so a slow hash would add nothing but cost to
//! every introspection call.
//!
//! A verified client is kept in the node's cache (forgotten through the invalidation log when it
//! is deleted), so a client in use costs no database read; failures are limited per client id
//! and per address (`FailureLimit`), so guessing costs no database read past the limit either.

use std::sync::Arc;

use super::client_limit::FailureLimit;
use crate::actors::repo::{CreateClient, DeleteClient, FindClient, ListClients, RepoHandle};
use crate::actors::{CacheHandle, Invalidator};
use crate::clock::SharedClock;
use crate::config::ApiClientSettings;
use crate::crypto;
use crate::db::models::ApiClientRow;
use crate::db::DbError;
use crate::domain::valid_client_id as valid_id;
use crate::domain::{ApiClient, ClaimSet, Invalidation};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("client ids are 3 to 64 characters of lower-case letters, digits, `.`, `_` and `-`, starting with a letter or digit")]
    InvalidId,
    #[error("a client `{0}` exists already")]
    Taken(String),
    #[error("no client `{0}`")]
    NoSuchClient(String),
    #[error("an audience is 1 to 200 printable characters without spaces")]
    InvalidAudience,
    #[error("the client is deleted, but running servers may not hear of it until their cache expires: {0}")]
    NotAnnounced(StoreError),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// What client authentication decided.
#[derive(Debug)]
pub enum ClientAuth {
    Client(Arc<ApiClient>),
    /// Wrong, unknown or missing credentials.
    Refused,
    /// Too many failures for this client id or address; seconds to wait.
    Limited(i64),
}

/// What a new client is told by introspection.
pub struct NewClient {
    pub id: String,
    pub claims: ClaimSet,
    pub audience: Option<String>,
}

#[derive(Clone)]
pub struct ApiClients {
    repo: RepoHandle,
    clock: SharedClock,
    invalidator: Invalidator,
    /// `None` in the CLI, which authenticates nobody.
    cache: Option<CacheHandle>,
    failures: Arc<FailureLimit>,
}

impl ApiClients {
    pub fn new(
        repo: RepoHandle,
        clock: SharedClock,
        invalidator: Invalidator,
        cache: Option<CacheHandle>,
        settings: &ApiClientSettings,
    ) -> Self {
        Self {
            repo,
            clock,
            invalidator,
            cache,
            failures: Arc::new(FailureLimit::new(settings)),
        }
    }

    /// Creates a client; returns its secret (shown only now).
    pub async fn create(&self, new: NewClient) -> Result<String, ClientError> {
        if !valid_id(&new.id) {
            return Err(ClientError::InvalidId);
        }
        let audience_ok =
            |a: &String| (1..=200).contains(&a.len()) && a.chars().all(|c| c.is_ascii_graphic());
        if new.audience.as_ref().is_some_and(|a| !audience_ok(a)) {
            return Err(ClientError::InvalidAudience);
        }
        let secret = crypto::random_token();
        let client = ApiClient {
            id: new.id.clone(),
            secret_hash: crypto::digest(&secret),
            claims: new.claims,
            audience: new.audience,
        };
        let now = self.clock.naive();
        match self.repo.send(CreateClient { client, now }).await {
            Ok(()) => Ok(secret),
            Err(e) if e.is_unique_violation() => Err(ClientError::Taken(new.id)),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn list(&self) -> Result<Vec<ApiClientRow>, ClientError> {
        Ok(self.repo.send(ListClients {}).await?)
    }

    /// Deletes the client; every node forgets its credentials and ends its event streams.
    pub async fn delete(&self, id: &str) -> Result<(), ClientError> {
        if self.repo.send(DeleteClient { id: id.to_owned() }).await? == 0 {
            return Err(ClientError::NoSuchClient(id.to_owned()));
        }
        self.invalidator
            .invalidate(Invalidation::Client(id.to_owned()))
            .await
            .map_err(ClientError::NotAnnounced)
    }

    /// Whether the id and secret are a client's. `address` is the caller's rate-limit key.
    pub async fn authenticate(
        &self,
        id: &str,
        secret: &str,
        address: &str,
    ) -> Result<ClientAuth, DbError> {
        let now = self.clock.unix();
        let (by_id, by_address) = (format!("id:{id}"), format!("ip:{address}"));
        let digest = crypto::digest(secret);
        let cached = self.cache.as_ref().and_then(|c| c.client(id, now));
        if let Some(client) = &cached {
            if crypto::ct_eq(client.secret_hash.as_bytes(), digest.as_bytes()) {
                return Ok(ClientAuth::Client(client.clone()));
            }
        }
        // An address past its failures is not even looked up. An id past its failures (from
        // anywhere) still gets its right secret checked: else anyone could lock a client out by
        // guessing with its id while its entry is not in this node's memory.
        if let Some(wait) = self.failures.blocked(&by_address, now) {
            return Ok(ClientAuth::Limited(wait));
        }
        let id_blocked = self.failures.blocked(&by_id, now);
        let found = match cached {
            Some(client) => Some(client),
            None if valid_id(id) && secret.len() <= 256 => self.read(id).await?,
            None => None,
        };
        // Compared whether or not the client exists, so timing does not tell.
        let stored = found
            .as_ref()
            .map_or_else(|| "-".repeat(64), |c| c.secret_hash.clone());
        match found {
            Some(client) if crypto::ct_eq(stored.as_bytes(), digest.as_bytes()) => {
                Ok(ClientAuth::Client(client))
            }
            _ => {
                // Only ids a client could have are counted: the limiter's entries stay small.
                if valid_id(id) {
                    self.failures.fail(&by_id, now);
                }
                self.failures.fail(&by_address, now);
                Ok(match id_blocked {
                    Some(wait) => ClientAuth::Limited(wait),
                    None => ClientAuth::Refused,
                })
            }
        }
    }

    /// Whether the client still exists with the secret it was authenticated with (an open
    /// event stream asks now and then).
    pub async fn still_valid(&self, client: &ApiClient) -> Result<bool, DbError> {
        let now = self.clock.unix();
        let current = match self.cache.as_ref().and_then(|c| c.client(&client.id, now)) {
            Some(c) => Some(c),
            None => self.read(&client.id).await?,
        };
        Ok(current.is_some_and(|c| *c == *client))
    }

    /// From the database, remembered in the cache unless it changed meanwhile.
    async fn read(&self, id: &str) -> Result<Option<Arc<ApiClient>>, DbError> {
        let ticket = self.cache.as_ref().map(|c| c.client_ticket());
        let found = self.repo.send(FindClient { id: id.to_owned() }).await?;
        let found = found.map(Arc::new);
        if let (Some(cache), Some(ticket), Some(client)) = (&self.cache, ticket, &found) {
            cache.remember_client(ticket, client.clone(), self.clock.unix());
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids() {
        for ok in ["orders", "orders-api", "a1.b_c", &"x".repeat(64)] {
            assert!(valid_id(ok), "{ok}");
        }
        for bad in ["", "ab", "Orders", "-x1", "a b", "ä12", &"x".repeat(65)] {
            assert!(!valid_id(bad), "{bad}");
        }
    }
}
