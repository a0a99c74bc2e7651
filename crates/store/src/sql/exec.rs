//! The store's plumbing: reads on a pooled connection, the migrations, multi-row inserts.

use super::{MAX_PARAMS, SqlStore, Tx};
use crate::backend::{Backend, Fields, Value, db_error};
use crate::*;
use sqlx::Pool;
use std::marker::PhantomData;

impl<B: Backend> SqlStore<B> {
    pub(crate) fn from_pool(pool: Pool<B::Db>) -> Self {
        SqlStore {
            pool,
            backend: PhantomData,
        }
    }

    /// Rows of a read query on a pooled connection.
    pub(crate) async fn rows(&self, sql: &str, arguments: Vec<Value>) -> StoreResult<Vec<B::Row>> {
        let mut connection = self.pool.acquire().await.map_err(db_error)?;
        B::fetch_all(&mut connection, sql, arguments).await
    }

    pub(crate) async fn optional_row(
        &self,
        sql: &str,
        arguments: Vec<Value>,
    ) -> StoreResult<Option<B::Row>> {
        Ok(self.rows(sql, arguments).await?.into_iter().next())
    }

    pub(crate) async fn migrate(&self) -> StoreResult<()> {
        let mut tx = B::begin_write(&self.pool).await?;
        B::execute_script(
            &mut tx,
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY)",
        )
        .await?;
        let applied: Vec<i64> =
            B::fetch_all(&mut tx, "SELECT version FROM schema_migrations", vec![])
                .await?
                .iter()
                .map(|row| row.int("version"))
                .collect::<StoreResult<_>>()?;
        for (version, sql) in B::MIGRATIONS {
            if applied.contains(version) {
                continue;
            }
            B::execute_script(&mut tx, sql).await?;
            B::execute(
                &mut tx,
                "INSERT INTO schema_migrations (version) VALUES (?)",
                vec![Value::Int(*version)],
            )
            .await?;
        }
        tx.commit().await.map_err(db_error)?;
        self.recount_flow_once().await?;
        self.waiting_since_from_events_once().await?;
        self.self_harm_days_from_events_once().await
    }

    /// Records the node id of a new organisation.
    pub(crate) async fn set_node(&self, node: NodeId) -> StoreResult<()> {
        let mut tx = B::begin_write(&self.pool).await?;
        B::execute(
            &mut tx,
            "INSERT INTO meta (key, value) VALUES ('node_id', ?) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            vec![node.to_string().into()],
        )
        .await?;
        tx.commit().await.map_err(db_error)
    }

    pub(crate) async fn has_events(&self) -> StoreResult<bool> {
        Ok(self
            .optional_row("SELECT seq FROM events LIMIT 1", vec![])
            .await?
            .is_some())
    }
}

impl<B: Backend> SqlStore<B> {
    pub(crate) async fn all<T>(
        &self,
        sql: &str,
        arguments: Vec<Value>,
        decode: fn(&B::Row) -> StoreResult<T>,
    ) -> StoreResult<Vec<T>> {
        self.rows(sql, arguments)
            .await?
            .iter()
            .map(decode)
            .collect()
    }

    pub(crate) async fn one<T>(
        &self,
        sql: &str,
        key: &str,
        decode: fn(&B::Row) -> StoreResult<T>,
    ) -> StoreResult<Option<T>> {
        self.optional_row(sql, vec![key.into()])
            .await?
            .as_ref()
            .map(decode)
            .transpose()
    }
}

/// A multi-row `INSERT … VALUES (…), (…)` with `columns.len() × rows` placeholders.
fn insert_sql(table: &str, columns: &[&str], rows: usize, upsert: bool) -> String {
    let placeholders = format!("({})", vec!["?"; columns.len()].join(", "));
    let mut sql = format!(
        "INSERT INTO {table} ({}) VALUES {}",
        columns.join(", "),
        vec![placeholders; rows].join(", ")
    );
    if upsert {
        let updates: Vec<String> = columns
            .iter()
            .filter(|column| **column != "id")
            .map(|column| format!("{column} = excluded.{column}"))
            .collect();
        sql.push_str(&format!(
            " ON CONFLICT (id) DO UPDATE SET {}",
            updates.join(", ")
        ));
    }
    sql
}

/// Runs a multi-row insert in chunks; `bind` adds one row's values to the arguments. The next
/// chunk's arguments are built while the database runs the current one (SQLite runs on its own
/// worker thread, PostgreSQL on the server).
pub(crate) async fn insert_rows<B: Backend, T>(
    tx: &mut Tx<B>,
    table: &str,
    columns: &[&str],
    rows: &[T],
    upsert: bool,
    bind: impl Fn(&mut Vec<Value>, &T),
) -> StoreResult<()> {
    let chunk_rows = (MAX_PARAMS / columns.len()).max(1);
    let build = |chunk: &[T]| {
        let mut arguments = Vec::with_capacity(chunk.len() * columns.len());
        for row in chunk {
            bind(&mut arguments, row);
        }
        (insert_sql(table, columns, chunk.len(), upsert), arguments)
    };
    let mut chunks = rows.chunks(chunk_rows);
    let mut current = chunks.next().map(build);
    while let Some((sql, arguments)) = current {
        let next_chunk = chunks.next();
        let (result, next) = tokio::join!(B::execute(tx, &sql, arguments), async {
            next_chunk.map(build)
        });
        result?;
        current = next;
    }
    Ok(())
}
