//! API clients: services that call token introspection and follow the event feed, with HTTP
//! Basic credentials. A secret is 256 random bits shown once at creation and kept only as its
//! SHA-256 digest: nobody can guess such a secret, so a slow hash would add nothing but cost to
//! every introspection call.

use crate::actors::repo::{ClientSecretHash, CreateClient, DeleteClient, ListClients, RepoHandle};
use crate::clock::SharedClock;
use crate::crypto;
use crate::db::models::ApiClientRow;
use crate::db::DbError;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("client ids are 3 to 64 characters of lower-case letters, digits, `.`, `_` and `-`, starting with a letter or digit")]
    InvalidId,
    #[error("a client `{0}` exists already")]
    Taken(String),
    #[error("no client `{0}`")]
    NoSuchClient(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

fn valid_id(id: &str) -> bool {
    (3..=64).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
}

#[derive(Clone)]
pub struct ApiClients {
    repo: RepoHandle,
    clock: SharedClock,
}

impl ApiClients {
    pub fn new(repo: RepoHandle, clock: SharedClock) -> Self {
        Self { repo, clock }
    }

    /// Creates a client; returns its secret (shown only now).
    pub async fn create(&self, id: &str) -> Result<String, ClientError> {
        if !valid_id(id) {
            return Err(ClientError::InvalidId);
        }
        let secret = crypto::random_token();
        let created = self
            .repo
            .send(CreateClient {
                id: id.to_owned(),
                secret_hash: crypto::digest(&secret),
                now: self.clock.naive(),
            })
            .await;
        match created {
            Ok(()) => Ok(secret),
            Err(e) if e.is_unique_violation() => Err(ClientError::Taken(id.to_owned())),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn list(&self) -> Result<Vec<ApiClientRow>, ClientError> {
        Ok(self.repo.send(ListClients {}).await?)
    }

    pub async fn delete(&self, id: &str) -> Result<(), ClientError> {
        match self.repo.send(DeleteClient { id: id.to_owned() }).await? {
            0 => Err(ClientError::NoSuchClient(id.to_owned())),
            _ => Ok(()),
        }
    }

    /// Whether the id and secret are a client's.
    pub async fn authenticate(&self, id: &str, secret: &str) -> Result<bool, DbError> {
        if !valid_id(id) || secret.len() > 256 {
            return Ok(false);
        }
        let stored = self
            .repo
            .send(ClientSecretHash { id: id.to_owned() })
            .await?;
        // Compared whether or not the client exists, so timing does not tell.
        let stored = stored.unwrap_or_else(|| "-".repeat(64));
        Ok(crypto::ct_eq(
            stored.as_bytes(),
            crypto::digest(secret).as_bytes(),
        ))
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
