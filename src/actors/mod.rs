pub mod cache;
pub mod repo;

pub use cache::{AuthFailure, CacheHandle};
pub use repo::RepoHandle;
