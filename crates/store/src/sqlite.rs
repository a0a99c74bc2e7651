//! SQLite: one file, WAL, `synchronous=FULL`, `secure_delete=ON`, one writer at a time.

use crate::backend::{Backend, Connection, Fields, Value, arguments, db_error, impl_fields};
use crate::sql::SqlStore;
use crate::*;
use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Pool, Sqlite, Transaction};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub struct SqliteBackend;

/// The SQLite store.
pub type SqliteStore = SqlStore<SqliteBackend>;

impl_fields!(SqliteRow);

#[async_trait]
impl Backend for SqliteBackend {
    type Db = Sqlite;
    type Row = SqliteRow;

    const MIGRATIONS: &'static [(i64, &'static str)] =
        include!(concat!(env!("OUT_DIR"), "/sqlite_migrations.rs"));

    /// `BEGIN IMMEDIATE` takes SQLite's write lock at once.
    async fn begin_write(pool: &Pool<Sqlite>) -> StoreResult<Transaction<'static, Sqlite>> {
        pool.begin_with("BEGIN IMMEDIATE").await.map_err(db_error)
    }

    async fn fetch_all(
        connection: &mut Connection<Self>,
        sql: &str,
        values: Vec<Value>,
    ) -> StoreResult<Vec<SqliteRow>> {
        sqlx::query_with(AssertSqlSafe(sql), arguments::<Sqlite>(values)?)
            .fetch_all(connection)
            .await
            .map_err(db_error)
    }

    async fn execute(
        connection: &mut Connection<Self>,
        sql: &str,
        values: Vec<Value>,
    ) -> StoreResult<u64> {
        let result = sqlx::query_with(AssertSqlSafe(sql), arguments::<Sqlite>(values)?)
            .execute(connection)
            .await
            .map_err(db_error)?;
        Ok(result.rows_affected())
    }

    /// Readers in WAL mode keep the snapshot they started with, indexes and all, while a write
    /// transaction drops and builds indexes: nobody waits.
    async fn rebuildable_indexes(
        connection: &mut Connection<Self>,
        table: &str,
    ) -> StoreResult<Vec<(String, String)>> {
        // Indexes behind PRIMARY KEY and UNIQUE constraints have no SQL and cannot be dropped.
        let rows = Self::fetch_all(
            connection,
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? \
             AND sql IS NOT NULL ORDER BY name",
            vec![table.into()],
        )
        .await?;
        rows.iter()
            .map(|row| Ok((row.text("name")?, row.text("sql")?)))
            .collect()
    }

    async fn execute_script(connection: &mut Connection<Self>, sql: &str) -> StoreResult<()> {
        sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(connection)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    /// On a connection of its own with foreign keys off (SQLite cannot switch them inside a
    /// transaction; with them on it checks each deleted row against its children instead of
    /// dropping whole tables: on the 3,000-person demo 60 ms against 20). The append-only
    /// triggers are dropped and created again inside the transaction (SQLite's schema changes
    /// are transactional). Settings and key tables are deleted with `secure_delete` on (the
    /// connection's setting), which overwrites the deleted cells with zeros; the records,
    /// sealed under keys that no longer exist, with `secure_delete = FAST`, which frees their
    /// pages without writing each one (`compact` then leaves them out of the file).
    async fn erase(
        pool: &Pool<Sqlite>,
        keep_meta: Vec<Value>,
        key_tables: &[&str],
        record_tables: &[&str],
    ) -> StoreResult<()> {
        let mut connection = pool.acquire().await.map_err(db_error)?;
        Self::execute(&mut connection, "PRAGMA foreign_keys = OFF", vec![]).await?;
        let erased = async {
            let mut tx = sqlx::Connection::begin_with(&mut *connection, "BEGIN IMMEDIATE")
                .await
                .map_err(db_error)?;
            sql::erase::delete_settings::<Self>(&mut tx, keep_meta).await?;
            let triggers = Self::fetch_all(
                &mut tx,
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name",
                vec![],
            )
            .await?;
            let triggers: Vec<(String, String)> = triggers
                .iter()
                .map(|row| Ok((row.text("name")?, row.text("sql")?)))
                .collect::<StoreResult<_>>()?;
            for (name, _) in &triggers {
                Self::execute(&mut tx, &format!("DROP TRIGGER \"{name}\""), vec![]).await?;
            }
            for table in key_tables {
                Self::execute(&mut tx, &format!("DELETE FROM {table}"), vec![]).await?;
            }
            Self::execute(&mut tx, "PRAGMA secure_delete = FAST", vec![]).await?;
            let mut deleted = Ok(());
            for table in record_tables {
                if let Err(error) =
                    Self::execute(&mut tx, &format!("DELETE FROM {table}"), vec![]).await
                {
                    deleted = Err(error);
                    break;
                }
            }
            Self::execute(&mut tx, "PRAGMA secure_delete = ON", vec![]).await?;
            deleted?;
            for (_, sql) in &triggers {
                Self::execute_script(&mut tx, sql).await?;
            }
            tx.commit().await.map_err(db_error)
        }
        .await;
        // Back on before the connection returns to the pool, whatever happened.
        Self::execute(&mut connection, "PRAGMA foreign_keys = ON", vec![]).await?;
        erased
    }

    async fn lift_append_only(
        connection: &mut Connection<Self>,
        table: &str,
    ) -> StoreResult<Vec<String>> {
        let triggers = Self::fetch_all(
            connection,
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? ORDER BY name",
            vec![table.into()],
        )
        .await?;
        let mut restore = Vec::with_capacity(triggers.len());
        for row in &triggers {
            Self::execute(
                connection,
                &format!("DROP TRIGGER \"{}\"", row.text("name")?),
                vec![],
            )
            .await?;
            restore.push(row.text("sql")?);
        }
        Ok(restore)
    }

    async fn snapshot_into(pool: &Pool<Sqlite>, path: &Path) -> StoreResult<()> {
        let target = path
            .to_str()
            .ok_or_else(|| StoreError::Database("the backup path is not UTF-8".to_string()))?;
        let mut connection = pool.acquire().await.map_err(db_error)?;
        let cache = Self::fetch_all(&mut connection, "PRAGMA cache_size", vec![]).await?;
        let cache = cache
            .first()
            .map(|row| row.int("cache_size"))
            .transpose()?
            .unwrap_or(-2_000);
        // With the connections' large cache the copy of 300,000 people took 1.3 GB and 8 s;
        // with 16 MB, 85 MB and 2 s (it streams pages in order; a cache does not help).
        Self::execute(&mut connection, "PRAGMA cache_size = -16384", vec![]).await?;
        let copied = sqlx::query("VACUUM INTO ?")
            .bind(target)
            .execute(&mut *connection)
            .await
            .map_err(db_error);
        Self::execute(
            &mut connection,
            &format!("PRAGMA cache_size = {cache}"),
            vec![],
        )
        .await?;
        copied.map(drop)
    }

    async fn integrity_problems(pool: &Pool<Sqlite>) -> StoreResult<Vec<String>> {
        let mut connection = pool.acquire().await.map_err(db_error)?;
        let rows = Self::fetch_all(&mut connection, "PRAGMA integrity_check", vec![]).await?;
        let found: Vec<String> = rows
            .iter()
            .map(|row| row.text("integrity_check"))
            .collect::<StoreResult<_>>()?;
        Ok(found.into_iter().filter(|line| line != "ok").collect())
    }

    /// `VACUUM` builds the database again from its live rows and cuts the file to their size,
    /// so no freed page (the erased events, with their operational facts in plain text) stays
    /// in it; the checkpoint then empties the write-ahead log, which held the erase (and,
    /// in its earlier frames, the pages as they were before it, key wraps and all). On the
    /// 3,000-person demo, erased, about 80 ms; on 300,000, under a second.
    async fn compact(pool: &Pool<Sqlite>) -> StoreResult<()> {
        sqlx::raw_sql("VACUUM")
            .execute(pool)
            .await
            .map_err(db_error)?;
        truncate_wal(pool).await
    }

    /// `secure_delete=ON` overwrites deleted rows and freed pages with zeros as they go; in
    /// WAL mode that reaches the database file at the checkpoint, and earlier frames stay
    /// in the log until it is truncated. No `VACUUM`: with `temp_store=MEMORY` it holds a
    /// whole copy of the database in memory (2.7 GB at 300,000 people).
    async fn scrub_freed(pool: &Pool<Sqlite>) -> StoreResult<()> {
        truncate_wal(pool).await
    }
}

/// A checkpoint that copies every page into the database file and truncates the write-ahead
/// log to nothing, so that no earlier version of a page stays in it. A reader holding an old
/// snapshot blocks the truncation: it is tried again for up to two seconds.
async fn truncate_wal(pool: &Pool<Sqlite>) -> StoreResult<()> {
    for _ in 0..40 {
        let row = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(pool)
            .await
            .map_err(db_error)?;
        if row.int("busy")? == 0 {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(StoreError::Database(
        "the write-ahead log was in use for two seconds and could not be truncated".into(),
    ))
}

impl SqlStore<SqliteBackend> {
    /// The file path of a `sqlite:PATH`, `sqlite://PATH` or plain-path URL.
    pub fn path_of_url(url: &str) -> StoreResult<PathBuf> {
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        if path.is_empty() || path.contains("://") || path.starts_with(':') {
            return Err(StoreError::BadUrl(url.to_string()));
        }
        Ok(PathBuf::from(path))
    }

    async fn connect(path: &Path, create: bool) -> StoreResult<SqlitePool> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(create)
            // New databases get 16 KiB pages (an existing file keeps its own): a person's row
            // and event are about a kilobyte each, and an import of 100,000 people spent a
            // quarter less time in SQLite than with the default 4 KiB.
            .page_size(16_384)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .pragma("secure_delete", "ON")
            // Sorts and temporary indexes stay in memory: no temp files next to the database.
            .pragma("temp_store", "MEMORY")
            .pragma("cache_size", "-262144");
        SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(db_error)
    }

    /// Creates a new database file, readable by its owner only whatever the umask (SQLite
    /// gives its write-ahead log and shared-memory files the same mode); refuses to touch an
    /// existing one.
    pub async fn create(path: &Path, node: NodeId) -> StoreResult<Self> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(path) {
            Ok(_) => {}
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(StoreError::AlreadyExists(path.display().to_string()));
            }
            Err(error) => {
                return Err(StoreError::Unreachable(
                    path.display().to_string(),
                    error.kind().to_string(),
                ));
            }
        }
        let store = SqlStore::from_pool(Self::connect(path, true).await?);
        store.migrate().await?;
        store.set_node(node).await?;
        Ok(store)
    }

    /// Whether the database holds a refuge organisation (its node id), before anything is
    /// written to it.
    async fn is_refuge(&self) -> StoreResult<bool> {
        let tables = self
            .rows(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
                vec![],
            )
            .await?;
        if tables.is_empty() {
            return Ok(false);
        }
        Ok(self
            .optional_row("SELECT value FROM meta WHERE key = 'node_id'", vec![])
            .await?
            .is_some())
    }

    /// Opens an existing database. A missing file is an error, never a new empty database;
    /// so is an empty file or any file that is not a refuge database (it is never given a
    /// schema).
    pub async fn open(path: &Path) -> StoreResult<Self> {
        if !path.is_file() {
            return Err(StoreError::NotFound(path.display().to_string()));
        }
        let not_refuge = || StoreError::NotRefuge(path.display().to_string());
        let header = std::fs::File::open(path).and_then(|mut file| {
            let mut header = [0u8; 16];
            std::io::Read::read_exact(&mut file, &mut header).map(|()| header)
        });
        if header.map_or(true, |header| &header != b"SQLite format 3\0") {
            return Err(not_refuge());
        }
        let store = SqlStore::from_pool(Self::connect(path, false).await?);
        if !store.is_refuge().await? {
            store.close().await;
            return Err(not_refuge());
        }
        store.migrate().await?;
        Ok(store)
    }
}
