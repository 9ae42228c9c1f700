//! One Redis, or a Redis Cluster: the pools and connections the store uses, as one type.

use std::time::Duration;

use redis::aio::ConnectionLike;
use redis::{Cmd, Pipeline, RedisFuture, Value};

use crate::store::StoreError;

#[derive(Clone)]
pub enum Pools {
    Single(deadpool_redis::Pool),
    Cluster(deadpool_redis::cluster::Pool),
}

pub enum Conn {
    Single(deadpool_redis::Connection),
    Cluster(deadpool_redis::cluster::Connection),
}

/// The connection that follows the log: a plain one, never a pooled one.
pub enum FeedConn {
    Single(redis::aio::MultiplexedConnection),
    Cluster(redis::cluster_async::ClusterConnection),
}

fn timeouts(deadline: Duration) -> deadpool_redis::Timeouts {
    deadpool_redis::Timeouts {
        wait: Some(deadline),
        create: Some(deadline),
        recycle: Some(deadline),
    }
}

impl Pools {
    pub fn new(
        url: &str,
        cluster: &[String],
        size: usize,
        deadline: Duration,
    ) -> Result<Self, StoreError> {
        let unavailable = |e: &dyn std::fmt::Display| StoreError::Unavailable(e.to_string());
        let mut pool = deadpool_redis::PoolConfig::new(size);
        pool.timeouts = timeouts(deadline);
        if cluster.is_empty() {
            let mut cfg = deadpool_redis::Config::from_url(url);
            cfg.pool = Some(pool);
            let p = cfg
                .create_pool(Some(deadpool_redis::Runtime::Tokio1))
                .map_err(|e| unavailable(&e))?;
            Ok(Self::Single(p))
        } else {
            let mut cfg = deadpool_redis::cluster::Config::from_urls(cluster.to_vec());
            cfg.pool = Some(pool);
            let p = cfg
                .create_pool(Some(deadpool_redis::cluster::Runtime::Tokio1))
                .map_err(|e| unavailable(&e))?;
            Ok(Self::Cluster(p))
        }
    }

    pub async fn get(&self) -> Result<Conn, StoreError> {
        match self {
            Self::Single(p) => Ok(Conn::Single(p.get().await?)),
            Self::Cluster(p) => Ok(Conn::Cluster(
                p.get()
                    .await
                    .map_err(|e| StoreError::Unavailable(e.to_string()))?,
            )),
        }
    }
}

impl FeedConn {
    pub async fn open(url: &str, cluster: &[String], block: Duration) -> Result<Self, StoreError> {
        let connect = Duration::from_secs(2);
        let respond = block * 3;
        if cluster.is_empty() {
            let config = redis::AsyncConnectionConfig::new()
                .set_connection_timeout(Some(connect))
                .set_response_timeout(Some(respond));
            let client = redis::Client::open(url)?;
            Ok(Self::Single(
                client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await?,
            ))
        } else {
            let client = redis::cluster::ClusterClientBuilder::new(cluster.to_vec())
                .connection_timeout(connect)
                .response_timeout(respond)
                .build()?;
            Ok(Self::Cluster(client.get_async_connection().await?))
        }
    }

    pub fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }
}

macro_rules! delegate {
    ($t:ty) => {
        impl ConnectionLike for $t {
            fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
                match self {
                    Self::Single(c) => c.req_packed_command(cmd),
                    Self::Cluster(c) => c.req_packed_command(cmd),
                }
            }

            fn req_packed_commands<'a>(
                &'a mut self,
                cmd: &'a Pipeline,
                offset: usize,
                count: usize,
            ) -> RedisFuture<'a, Vec<Value>> {
                match self {
                    Self::Single(c) => c.req_packed_commands(cmd, offset, count),
                    Self::Cluster(c) => c.req_packed_commands(cmd, offset, count),
                }
            }

            fn get_db(&self) -> i64 {
                match self {
                    Self::Single(c) => c.get_db(),
                    Self::Cluster(c) => c.get_db(),
                }
            }
        }
    };
}

delegate!(Conn);
delegate!(FeedConn);
