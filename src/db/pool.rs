//! The one place where the two database backends differ: a pool per backend behind `Db`, and
//! `with_conn!`, which expands a query body once per backend so queries are written once.

use std::time::Duration;

use diesel::{Connection, SqliteConnection};
use diesel_async::{
    async_connection_wrapper::AsyncConnectionWrapper,
    pooled_connection::{deadpool::Pool, AsyncDieselConnectionManager, ManagerConfig},
    sync_connection_wrapper::SyncConnectionWrapper,
    AsyncPgConnection, SimpleAsyncConnection,
};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use futures_util::FutureExt;

use crate::config::DatabaseKind;

pub type SqliteAsync = SyncConnectionWrapper<SqliteConnection>;

const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("no database connection: {0}")]
    Pool(String),
    #[error("database migration failed: {0}")]
    Migration(String),
}

impl DbError {
    pub fn pool(e: impl std::fmt::Display) -> Self {
        Self::Pool(e.to_string())
    }

    /// A unique-constraint violation (username or email taken).
    pub fn is_unique_violation(&self) -> bool {
        matches!(
            self,
            Self::Query(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _
            ))
        )
    }
}

#[derive(Clone)]
pub enum Db {
    Postgres(Pool<AsyncPgConnection>),
    Sqlite(Pool<SqliteAsync>),
}

/// Runs `$body` with `$conn: &mut <backend connection>`; the body is compiled for each backend.
#[macro_export]
macro_rules! with_conn {
    ($db:expr, |$conn:ident| $body:expr) => {
        match $db {
            $crate::db::Db::Postgres(pool) => {
                let mut pooled = pool.get().await.map_err($crate::db::DbError::pool)?;
                let $conn = &mut *pooled;
                $body
            }
            $crate::db::Db::Sqlite(pool) => {
                let mut pooled = pool.get().await.map_err($crate::db::DbError::pool)?;
                let $conn = &mut *pooled;
                $body
            }
        }
    };
}

impl Db {
    /// Applies pending migrations, then opens the pool.
    pub async fn connect(kind: &DatabaseKind, max_connections: usize) -> Result<Self, DbError> {
        migrate(kind).await?;
        Self::open(kind, max_connections)
    }

    /// Opens a pool (connections are made on first use), without migrating.
    pub fn open(kind: &DatabaseKind, max_connections: usize) -> Result<Self, DbError> {
        match kind {
            DatabaseKind::Postgres(url) => {
                let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new(url);
                let pool = Pool::builder(manager)
                    .max_size(max_connections)
                    .wait_timeout(Some(Duration::from_secs(10)))
                    .runtime(deadpool::Runtime::Tokio1)
                    .build()
                    .map_err(DbError::pool)?;
                Ok(Self::Postgres(pool))
            }
            DatabaseKind::Sqlite(path) => {
                let mut config = ManagerConfig::default();
                config.custom_setup = Box::new(|url| {
                    let url = url.to_owned();
                    async move {
                        let mut conn = SqliteAsync::new(SqliteConnection::establish(&url)?);
                        conn.batch_execute(SQLITE_PRAGMAS)
                            .await
                            .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                        Ok(conn)
                    }
                    .boxed()
                });
                let manager = AsyncDieselConnectionManager::<SqliteAsync>::new_with_config(
                    path.to_string_lossy(),
                    config,
                );
                let pool = Pool::builder(manager)
                    .max_size(max_connections)
                    .wait_timeout(Some(Duration::from_secs(10)))
                    .runtime(deadpool::Runtime::Tokio1)
                    .build()
                    .map_err(DbError::pool)?;
                Ok(Self::Sqlite(pool))
            }
        }
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            Self::Postgres(_) => "postgres",
            Self::Sqlite(_) => "sqlite",
        }
    }

    pub async fn ping(&self) -> Result<(), DbError> {
        with_conn!(self, |conn| {
            conn.batch_execute("SELECT 1").await?;
            Ok(())
        })
    }
}

/// WAL lets readers and one writer work together; the busy timeout makes writers queue instead of
/// failing with "database is locked".
const SQLITE_PRAGMAS: &str =
    "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;";

/// Applies every pending migration; returns how many ran. Runs off the async threads: the
/// migration harness is synchronous.
pub async fn migrate(kind: &DatabaseKind) -> Result<usize, DbError> {
    let kind = kind.clone();
    tokio::task::spawn_blocking(move || match kind {
        DatabaseKind::Postgres(url) => {
            let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::establish(&url)
                .map_err(DbError::pool)?;
            run(&mut conn, PG_MIGRATIONS)
        }
        DatabaseKind::Sqlite(path) => {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|e| {
                    DbError::Pool(format!("cannot create {}: {e}", parent.display()))
                })?;
            }
            create_private(&path)?;
            let mut conn =
                SqliteConnection::establish(&path.to_string_lossy()).map_err(DbError::pool)?;
            diesel::connection::SimpleConnection::batch_execute(&mut conn, SQLITE_PRAGMAS)?;
            run(&mut conn, SQLITE_MIGRATIONS)
        }
    })
    .await
    .map_err(|e| DbError::Migration(e.to_string()))?
}

/// The SQLite file holds password hashes: it is made readable by its owner only (SQLite would
/// create it with the umask's 0644). An existing file is left as it is.
fn create_private(path: &std::path::Path) -> Result<(), DbError> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(DbError::Pool(format!(
            "cannot create {}: {e}",
            path.display()
        ))),
    }
}

fn run<DB: diesel::backend::Backend>(
    conn: &mut impl MigrationHarness<DB>,
    migrations: EmbeddedMigrations,
) -> Result<usize, DbError> {
    conn.run_pending_migrations(migrations)
        .map(|done| done.len())
        .map_err(|e| DbError::Migration(e.to_string()))
}
