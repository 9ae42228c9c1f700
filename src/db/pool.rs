//! The one place where the two database backends differ: a pool per backend behind `Db`, and
//! `with_conn!`, which expands a query body once per backend so queries are written once.
//!
//! Every database call has a deadline (`database.statement_timeout_ms`): getting a connection,
//! and running the body, each within it. A connection whose call ran out of time is dropped,
//! never returned to the pool (it may still be waiting for an answer). PostgreSQL enforces the
//! same limit itself (`statement_timeout`), and a connection taken from the pool is checked
//! first (within the deadline too), so a database that stalled and came back is used again
//! within seconds, without a restart.

use std::time::Duration;

use diesel::{Connection, SqliteConnection};
use diesel_async::{
    async_connection_wrapper::AsyncConnectionWrapper,
    pooled_connection::{
        deadpool::Pool, AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
    },
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
    #[error("the database did not answer within {0:?}")]
    Timeout(Duration),
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

/// A pool of connections to one database, and the deadline of every call.
#[derive(Clone)]
pub struct Db {
    backend: Backend,
    deadline: Duration,
}

#[derive(Clone)]
pub enum Backend {
    Postgres(Pool<AsyncPgConnection>),
    Sqlite(Pool<SqliteAsync>),
}

/// Runs `$body` with `$conn: &mut <backend connection>`; the body is compiled for each backend.
/// Getting the connection and (PostgreSQL) running the body each have the deadline; a
/// connection that ran out of time is taken out of the pool.
#[macro_export]
macro_rules! with_conn {
    ($db:expr, |$conn:ident| $body:expr) => {{
        let db: &$crate::db::Db = $db;
        let deadline = db.deadline();
        let late = || $crate::db::DbError::Timeout(deadline);
        match db.backend() {
            $crate::db::Backend::Postgres(pool) => {
                let mut pooled = tokio::time::timeout(deadline, pool.get())
                    .await
                    .map_err(|_| late())?
                    .map_err($crate::db::DbError::pool)?;
                let answer = {
                    let $conn = &mut *pooled;
                    tokio::time::timeout(deadline, async { $body }).await
                };
                match answer {
                    Ok(answer) => answer,
                    Err(_) => {
                        drop(deadpool::managed::Object::take(pooled));
                        Err(late())?
                    }
                }
            }
            // SQLite: the body is not cut short. diesel-async panics when a SQLite call is
            // dropped half-way on a single-threaded runtime, and a local file cannot stall as a
            // network can; waits for its lock are bounded by `busy_timeout`.
            $crate::db::Backend::Sqlite(pool) => {
                let mut pooled = tokio::time::timeout(deadline, pool.get())
                    .await
                    .map_err(|_| late())?
                    .map_err($crate::db::DbError::pool)?;
                let $conn = &mut *pooled;
                $body
            }
        }
    }};
}

impl Db {
    /// Applies pending migrations, then opens the pool.
    pub async fn connect(
        kind: &DatabaseKind,
        max_connections: usize,
        deadline: Duration,
    ) -> Result<Self, DbError> {
        migrate(kind).await?;
        Self::open(kind, max_connections, deadline)
    }

    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// Opens a pool (connections are made on first use), without migrating.
    pub fn open(
        kind: &DatabaseKind,
        max_connections: usize,
        deadline: Duration,
    ) -> Result<Self, DbError> {
        let backend = match kind {
            DatabaseKind::Postgres(url) => {
                let mut config = ManagerConfig::default();
                // Checked when taken from the pool: a connection broken by a stall or a restart
                // is replaced, not handed to a query.
                config.recycling_method = RecyclingMethod::Verified;
                let ms = deadline.as_millis();
                config.custom_setup = Box::new(move |url| {
                    let url = url.to_owned();
                    async move {
                        let mut conn =
                            <AsyncPgConnection as diesel_async::AsyncConnection>::establish(&url)
                                .await?;
                        conn.batch_execute(&format!("SET statement_timeout = {ms}"))
                            .await
                            .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                        Ok(conn)
                    }
                    .boxed()
                });
                let manager =
                    AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(url, config);
                let pool = Pool::builder(manager)
                    .max_size(max_connections)
                    .wait_timeout(Some(deadline))
                    .create_timeout(Some(deadline))
                    .recycle_timeout(Some(deadline))
                    .runtime(deadpool::Runtime::Tokio1)
                    .build()
                    .map_err(DbError::pool)?;
                Backend::Postgres(pool)
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
                    .wait_timeout(Some(deadline))
                    .create_timeout(Some(deadline))
                    .recycle_timeout(Some(deadline))
                    .runtime(deadpool::Runtime::Tokio1)
                    .build()
                    .map_err(DbError::pool)?;
                Backend::Sqlite(pool)
            }
        };
        Ok(Self { backend, deadline })
    }

    pub async fn ping(&self) -> Result<(), DbError> {
        with_conn!(self, |conn| {
            conn.batch_execute("SELECT 1").await?;
            Ok(())
        })
    }
}

/// WAL lets readers and one writer work together; the busy timeout makes writers queue instead of
/// failing with "database is locked". It comes first: setting the journal mode takes a lock too,
/// and a new connection opened while another one writes must wait for it, not fail.
const SQLITE_PRAGMAS: &str =
    "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;";

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
