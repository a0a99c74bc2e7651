//! PostgreSQL: several `refuge serve` processes on several machines share one database.
//! Every write transaction takes one transaction-scoped advisory lock, so event sequence
//! numbers, hash chains and version checks are decided by one writer at a time, as on SQLite.

use crate::backend::{Backend, Connection, Value, arguments, db_error, impl_fields};
use crate::sql::SqlStore;
use crate::*;
use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions, PgRow};
use sqlx::{AssertSqlSafe, Connection as _, Pool, Postgres, Transaction};
use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

pub struct PostgresBackend;

/// The PostgreSQL store.
pub type PostgresStore = SqlStore<PostgresBackend>;

impl_fields!(PgRow);

const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// The advisory lock every write transaction (and every migration) holds: "refuge" in ASCII.
const WRITE_LOCK: i64 = 0x7265_6675_6765;

/// Rewrites `?` parameters as PostgreSQL's numbered `$1, $2, …`.
fn numbered(sql: &str) -> Cow<'_, str> {
    if !sql.contains('?') {
        return Cow::Borrowed(sql);
    }
    let mut out = String::with_capacity(sql.len() + sql.len() / 4);
    let mut number = 0;
    for character in sql.chars() {
        if character == '?' {
            number += 1;
            out.push('$');
            out.push_str(&number.to_string());
        } else {
            out.push(character);
        }
    }
    Cow::Owned(out)
}

#[async_trait]
impl Backend for PostgresBackend {
    type Db = Postgres;
    type Row = PgRow;

    const MIGRATIONS: &'static [(i64, &'static str)] =
        include!(concat!(env!("OUT_DIR"), "/postgres_migrations.rs"));

    async fn begin_write(pool: &Pool<Postgres>) -> StoreResult<Transaction<'static, Postgres>> {
        let mut tx = pool.begin().await.map_err(db_error)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(WRITE_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        Ok(tx)
    }

    async fn fetch_all(
        connection: &mut Connection<Self>,
        sql: &str,
        values: Vec<Value>,
    ) -> StoreResult<Vec<PgRow>> {
        let sql = numbered(sql);
        sqlx::query_with(AssertSqlSafe(&*sql), arguments::<Postgres>(values)?)
            .fetch_all(connection)
            .await
            .map_err(db_error)
    }

    async fn execute(
        connection: &mut Connection<Self>,
        sql: &str,
        values: Vec<Value>,
    ) -> StoreResult<u64> {
        let sql = numbered(sql);
        let result = sqlx::query_with(AssertSqlSafe(&*sql), arguments::<Postgres>(values)?)
            .execute(connection)
            .await
            .map_err(db_error)?;
        Ok(result.rows_affected())
    }

    async fn execute_script(connection: &mut Connection<Self>, sql: &str) -> StoreResult<()> {
        sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(connection)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    /// Fresh planner statistics and a visibility map: without them, PostgreSQL plans the
    /// first queries after a migration as if every table were tiny, and counts (the people
    /// list's total) read the whole table instead of an index alone, until autovacuum gets
    /// round to it (a stage count on 300,000 people: 232 ms before, 12 ms after).
    /// One TRUNCATE of every table (all at once, as the foreign keys between them require)
    /// with the logs' triggers disabled inside the transaction: each table gets a new, empty
    /// file and the old one is unlinked at commit. The server's write-ahead log and its
    /// backups keep what they kept (docs/threat-model.md).
    async fn erase(
        pool: &Pool<Postgres>,
        keep_meta: Vec<Value>,
        key_tables: &[&str],
        record_tables: &[&str],
    ) -> StoreResult<()> {
        let mut tx = Self::begin_write(pool).await?;
        sql::erase::delete_settings::<Self>(&mut tx, keep_meta).await?;
        let guarded = ["events", "access_log"];
        for table in guarded {
            Self::execute(
                &mut tx,
                &format!("ALTER TABLE {table} DISABLE TRIGGER USER"),
                vec![],
            )
            .await?;
        }
        let tables: Vec<&str> = key_tables.iter().chain(record_tables).copied().collect();
        Self::execute(&mut tx, &format!("TRUNCATE {}", tables.join(", ")), vec![]).await?;
        for table in guarded {
            Self::execute(
                &mut tx,
                &format!("ALTER TABLE {table} ENABLE TRIGGER USER"),
                vec![],
            )
            .await?;
        }
        tx.commit().await.map_err(db_error)
    }

    async fn lift_append_only(
        connection: &mut Connection<Self>,
        table: &str,
    ) -> StoreResult<Vec<String>> {
        Self::execute(
            connection,
            &format!("ALTER TABLE {table} DISABLE TRIGGER USER"),
            vec![],
        )
        .await?;
        Ok(vec![format!("ALTER TABLE {table} ENABLE TRIGGER USER")])
    }

    async fn snapshot_into(_pool: &Pool<Postgres>, _path: &std::path::Path) -> StoreResult<()> {
        Err(StoreError::Database(
            "refuge backup copies SQLite databases; back PostgreSQL up with pg_dump (docs/backup.md)"
                .to_string(),
        ))
    }

    async fn integrity_problems(_pool: &Pool<Postgres>) -> StoreResult<Vec<String>> {
        Ok(Vec::new())
    }

    /// The settings table was deleted from, not truncated: rewritten into a new file.
    async fn compact(pool: &Pool<Postgres>) -> StoreResult<()> {
        sqlx::raw_sql("VACUUM FULL meta")
            .execute(pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    /// The server's own files are its own (docs/retention.md): the settings compacted, as
    /// after an erase.
    async fn scrub_freed(pool: &Pool<Postgres>) -> StoreResult<()> {
        Self::compact(pool).await
    }

    async fn after_bulk_load(pool: &Pool<Postgres>) -> StoreResult<()> {
        // The simple protocol: VACUUM may not run inside a transaction block.
        sqlx::raw_sql("VACUUM (ANALYZE)")
            .execute(pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }
}

/// The URL with any password replaced by `***`, for messages; a URL that does not parse is
/// not shown at all (it could hold a password anywhere).
pub fn redacted_url(text: &str) -> String {
    let Ok(mut url) = url::Url::parse(text) else {
        return "(a database URL that does not parse)".to_string();
    };
    if url.password().is_some() {
        // Only fails for URLs that cannot have credentials, which this one has.
        url.set_password(Some("***")).ok();
    }
    // Query parameters may carry a password too.
    if url.query().is_some_and(|query| query.contains("password")) {
        url.set_query(Some("***"));
    }
    url.to_string()
}

impl SqlStore<PostgresBackend> {
    pub fn is_url(url: &str) -> bool {
        url.starts_with("postgres://") || url.starts_with("postgresql://")
    }

    async fn connect(url: &str) -> StoreResult<Pool<Postgres>> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|_| StoreError::BadUrl(redacted_url(url)))?
            .application_name("refuge");
        let unreachable =
            |error: sqlx::Error| StoreError::Unreachable(redacted_url(url), error.to_string());
        // One connection first, so that a refused connection or a bad password is reported
        // as such rather than as a pool timeout.
        let probe = tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&options))
            .await
            .map_err(|_| {
                StoreError::Unreachable(redacted_url(url), "no answer within 15 s".to_string())
            })?
            .map_err(unreachable)?;
        probe.close().await.map_err(unreachable)?;
        PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(unreachable)
    }

    /// Prepares an organisation in an existing (empty) PostgreSQL database: creates the
    /// schema and records the node id. Refuses a database that already holds events.
    pub async fn create(url: &str, node: NodeId) -> StoreResult<Self> {
        let store = SqlStore::from_pool(Self::connect(url).await?);
        store.migrate().await?;
        if store.has_events().await? {
            return Err(StoreError::AlreadyExists(redacted_url(url)));
        }
        store.set_node(node).await?;
        Ok(store)
    }

    /// Opens an organisation's database, migrating its schema.
    pub async fn open(url: &str) -> StoreResult<Self> {
        let store = SqlStore::from_pool(Self::connect(url).await?);
        store.migrate().await?;
        if store.meta("node_id").await?.is_none() {
            return Err(StoreError::NotFound(redacted_url(url)));
        }
        Ok(store)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_numbered_in_order() {
        assert_eq!(
            numbered("SELECT a FROM t WHERE b = ? AND c IN (?, ?)"),
            "SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)"
        );
        assert_eq!(numbered("SELECT 1"), "SELECT 1");
    }

    /// Every migration file is registered, in order, for both backends (one was once left
    /// out, and the suite still passed: only the speed of large lists depends on it).
    #[test]
    fn every_migration_file_is_applied() {
        use crate::SqliteBackend;
        for (directory, registered) in [
            ("postgres", PostgresBackend::MIGRATIONS),
            ("sqlite", SqliteBackend::MIGRATIONS),
        ] {
            let path = format!("{}/migrations/{directory}", env!("CARGO_MANIFEST_DIR"));
            let files = std::fs::read_dir(&path).unwrap().count();
            let versions: Vec<i64> = registered.iter().map(|(version, _)| *version).collect();
            let expected: Vec<i64> = (1..=i64::try_from(files).unwrap()).collect();
            assert_eq!(versions, expected, "{path}");
        }
    }

    #[test]
    fn a_url_that_does_not_parse_is_not_shown() {
        let shown = redacted_url("postgres://refuge:s3cret@[db.example/refuge");
        assert!(!shown.contains("s3cret"), "{shown}");
    }

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redacted_url("postgres://refuge:s3cret@db.example:5432/refuge"),
            "postgres://refuge:***@db.example:5432/refuge"
        );
        assert_eq!(
            redacted_url("postgres://refuge@db.example/refuge?password=s3cret&sslmode=require"),
            "postgres://refuge@db.example/refuge?***"
        );
        assert_eq!(
            redacted_url("postgresql://127.0.0.1:5433"),
            "postgresql://127.0.0.1:5433"
        );
    }
}
