//! Where data lives: the data folder, the database, Redis.

use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSettings {
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: String,
    pub max_connections: usize,
    /// Every database call's deadline.
    pub statement_timeout_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisSettings {
    pub url: String,
    /// A Redis Cluster's nodes (any of them; the rest are discovered). Set instead of `url`.
    pub cluster_urls: Vec<String>,
    pub key_prefix: String,
    pub pool_size: usize,
    /// Every Redis call's deadline.
    pub timeout_ms: u64,
}
