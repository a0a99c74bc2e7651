//! Fresh databases for tests, on either backend, and a raw connection to tamper with one
//! behind refuge's back (feature `testing`: the store's own suite and refuge-app's use it, so
//! the SQL they tamper with stays in this crate's tests' reach and nowhere else).
#![allow(
    clippy::expect_used,
    reason = "a test helper fails the test loudly on what it does not expect"
)]

use sqlx::Connection;
use std::io::Write as _;

/// A fresh, empty database for one test (removed with the value on SQLite).
pub struct TestDb {
    pub url: String,
    pub postgres: bool,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("a temporary directory");
        TestDb {
            url: format!("sqlite:{}", dir.path().join("test.db").display()),
            postgres: false,
            _dir: Some(dir),
        }
    }

    /// A new database on the server named by `REFUGE_TEST_POSTGRES`, or None (said once on
    /// the terminal) when there is none.
    pub async fn postgres() -> Option<TestDb> {
        static ANNOUNCE: std::sync::Once = std::sync::Once::new();
        let admin = std::env::var("REFUGE_TEST_POSTGRES").ok();
        ANNOUNCE.call_once(|| {
            // Written past the test harness's capture, so it shows in every run.
            writeln!(
                std::io::stderr(),
                "conformance suite: {}",
                match &admin {
                    Some(url) => format!("SQLite and PostgreSQL ({})", crate::redacted_url(url)),
                    None => "SQLite only; set REFUGE_TEST_POSTGRES=postgres://… (scripts/test does) to include PostgreSQL".to_string(),
                }
            )
            .ok();
        });
        let admin = admin?;
        let name = format!("refuge_test_{}", uuid::Uuid::now_v7().simple());
        let mut connection = sqlx::PgConnection::connect(&admin)
            .await
            .expect("the test server answers");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut connection)
            .await
            .expect("a test database is created");
        connection.close().await.expect("the connection closes");
        let base = admin
            .rsplit_once('/')
            .expect("REFUGE_TEST_POSTGRES ends in a database name")
            .0;
        Some(TestDb {
            url: format!("{base}/{name}"),
            postgres: true,
            _dir: None,
        })
    }

    /// The other backend when the suite has it, else a second SQLite database.
    pub async fn other(&self) -> TestDb {
        if self.postgres {
            return TestDb::sqlite();
        }
        match TestDb::postgres().await {
            Some(db) => db,
            None => TestDb::sqlite(),
        }
    }

    /// A direct connection for tests that tamper with the database behind refuge's back.
    pub async fn raw(&self) -> Raw {
        if self.postgres {
            Raw::Postgres(
                sqlx::PgConnection::connect(&self.url)
                    .await
                    .expect("the test database opens"),
            )
        } else {
            Raw::Sqlite(
                sqlx::SqliteConnection::connect(&self.url)
                    .await
                    .expect("the test database opens"),
            )
        }
    }
}

pub enum Raw {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl Raw {
    /// Runs a statement with `$1, $2, …` text parameters (both drivers accept them).
    pub async fn execute(&mut self, sql: &str, texts: &[&str]) -> Result<u64, String> {
        let sql = sqlx::AssertSqlSafe(sql.to_string());
        match self {
            Raw::Sqlite(connection) => {
                let mut query = sqlx::query(sql);
                for text in texts {
                    query = query.bind(text.to_string());
                }
                query
                    .execute(connection)
                    .await
                    .map(|done| done.rows_affected())
            }
            Raw::Postgres(connection) => {
                let mut query = sqlx::query(sql);
                for text in texts {
                    query = query.bind(text.to_string());
                }
                query
                    .execute(connection)
                    .await
                    .map(|done| done.rows_affected())
            }
        }
        .map_err(|error| error.to_string())
    }

    /// The one text a query answers.
    pub async fn text(&mut self, sql: &str, texts: &[&str]) -> String {
        let sql = sqlx::AssertSqlSafe(sql.to_string());
        match self {
            Raw::Sqlite(connection) => {
                let mut query = sqlx::query_scalar(sql);
                for text in texts {
                    query = query.bind(text.to_string());
                }
                query.fetch_one(connection).await
            }
            Raw::Postgres(connection) => {
                let mut query = sqlx::query_scalar(sql);
                for text in texts {
                    query = query.bind(text.to_string());
                }
                query.fetch_one(connection).await
            }
        }
        .expect("the query answers one text")
    }
}

/// One test per backend for each conformance test `NAME(db: TestDb)`: `on_sqlite::NAME` and
/// `on_postgres::NAME` (which does nothing, having said so once, without a server).
#[macro_export]
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::testing::TestDb::sqlite()).await
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    if let Some(db) = $crate::testing::TestDb::postgres().await {
                        super::$name(db).await
                    }
                }
            )*
        }
    };
}
