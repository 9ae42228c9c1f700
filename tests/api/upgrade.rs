//! A database made by round 2's migrations upgrades in place, in the mode under test (SQLite,
//! or PostgreSQL), keeping its rows: an API client made before claim sets keeps every claim (so
//! an old guard goes on working), and the new tables start empty.

use diesel::connection::SimpleConnection;
use diesel::Connection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::AsyncPgConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use portcullis::config::DatabaseKind;

use crate::helpers::*;

const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");
/// Round 2's migrations: init, sessions, login log attempts, API clients.
const ROUND_2: usize = 4;

const ROWS: &str = "INSERT INTO api_clients (client_id, secret_hash, created_at)
                     VALUES ('orders-api', 'digest', CURRENT_TIMESTAMP);
                    INSERT INTO users (uuid, username, nickname, email_verified, status,
                                       is_superuser, is_staff, multi_login, created_at, updated_at)
                     VALUES ('u-1', 'alice', 'Alice', false, 1, false, false, true,
                             CURRENT_TIMESTAMP, CURRENT_TIMESTAMP);";

/// Round 2's schema with a client and a user in it.
fn round_2<C>(conn: &mut C, migrations: fn() -> EmbeddedMigrations)
where
    C: MigrationHarness<C::Backend> + Connection + SimpleConnection,
{
    for _ in 0..ROUND_2 {
        conn.run_next_migration(migrations()).unwrap();
    }
    conn.batch_execute(ROWS).unwrap();
}

#[derive(diesel::QueryableByName, Debug)]
struct Row {
    #[diesel(sql_type = diesel::sql_types::Text)]
    value: String,
}

/// The `value` column of each query's rows.
macro_rules! values {
    ($conn:expr, $queries:expr) => {{
        use diesel::RunQueryDsl;
        $queries
            .iter()
            .map(|q| {
                diesel::sql_query(*q)
                    .load::<Row>($conn)
                    .unwrap()
                    .into_iter()
                    .map(|r| r.value)
                    .collect::<Vec<_>>()
            })
            .collect::<Vec<_>>()
    }};
}

#[actix_web::test]
async fn a_round_2_database_upgrades_in_place_and_keeps_its_rows() {
    let (s, res) = test_settings().await;
    let kind = s.database_kind();
    let url = s.database.url.clone();
    let (pg, sqlite) = (url.clone(), url.trim_start_matches("sqlite://").to_owned());
    let is_pg = matches!(kind, DatabaseKind::Postgres(_));
    std::thread::spawn(move || {
        if is_pg {
            let mut c = AsyncConnectionWrapper::<AsyncPgConnection>::establish(&pg).unwrap();
            round_2(&mut c, || POSTGRES);
        } else {
            let mut c = diesel::SqliteConnection::establish(&sqlite).unwrap();
            round_2(&mut c, || SQLITE);
        }
    })
    .join()
    .unwrap();

    let applied = portcullis::db::migrate(&kind).await.unwrap();
    assert!(applied >= 3, "round 3's migrations ran: {applied}");

    let queries = [
        "SELECT claims AS value FROM api_clients WHERE client_id = 'orders-api'",
        "SELECT username AS value FROM users",
        "SELECT CAST(COUNT(*) AS TEXT) AS value FROM imported_users",
    ];
    let url = s.database.url.clone();
    let got: Vec<Vec<String>> = std::thread::spawn(move || {
        if is_pg {
            let mut c = AsyncConnectionWrapper::<AsyncPgConnection>::establish(&url).unwrap();
            values!(&mut c, queries)
        } else {
            let path = url.trim_start_matches("sqlite://").to_owned();
            let mut c = diesel::SqliteConnection::establish(&path).unwrap();
            values!(&mut c, queries)
        }
    })
    .join()
    .unwrap();
    let claims = &got[0][0];
    for claim in ["sub", "username", "scope", "email_verified", "user"] {
        assert!(claims.split(' ').any(|c| c == claim), "{claim} in {claims}");
    }
    assert_eq!(got[1], ["alice"]);
    assert_eq!(got[2], ["0"]);

    // And the server starts on it.
    let app = spawn_with(s, res).await;
    assert_eq!(app.get("/health/ready").await.status(), 200);
}
