//! The two actors: the repository actor owns the database pool; the cache actor owns the
//! decoded-user cache and follows the invalidation log.

pub mod cache;
pub mod repo;

pub use cache::{AuthFailure, CacheHandle, Invalidator, LogNews};
pub use repo::RepoHandle;
