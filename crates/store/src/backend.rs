//! What differs between the SQL databases refuge runs on: connecting, write locks, parameter
//! syntax, migrations and column decoding. Everything else (queries, the write transaction,
//! aggregates) is shared in `sql.rs`, so both stores behave the same by construction.

use crate::{StoreError, StoreResult};
use async_trait::async_trait;
use sqlx::{Pool, Transaction};

/// A value bound to a query parameter, in the few types refuge stores.
#[derive(Clone, Debug)]
pub enum Value {
    Text(String),
    Int(i64),
    Bool(bool),
    OptText(Option<String>),
    OptInt(Option<i64>),
}

impl From<String> for Value {
    fn from(value: String) -> Self {
        Value::Text(value)
    }
}

impl From<&str> for Value {
    fn from(value: &str) -> Self {
        Value::Text(value.to_string())
    }
}

impl From<&String> for Value {
    fn from(value: &String) -> Self {
        Value::Text(value.clone())
    }
}

impl From<i64> for Value {
    fn from(value: i64) -> Self {
        Value::Int(value)
    }
}

impl From<bool> for Value {
    fn from(value: bool) -> Self {
        Value::Bool(value)
    }
}

impl From<Option<String>> for Value {
    fn from(value: Option<String>) -> Self {
        Value::OptText(value)
    }
}

impl From<Option<i64>> for Value {
    fn from(value: Option<i64>) -> Self {
        Value::OptInt(value)
    }
}

/// Typed access to the columns of a result row.
pub trait Fields {
    fn text(&self, column: &str) -> StoreResult<String>;
    fn opt_text(&self, column: &str) -> StoreResult<Option<String>>;
    fn int(&self, column: &str) -> StoreResult<i64>;
    fn opt_int(&self, column: &str) -> StoreResult<Option<i64>>;
    fn boolean(&self, column: &str) -> StoreResult<bool>;
}

pub type Connection<B> = <<B as Backend>::Db as sqlx::Database>::Connection;

/// One SQL database refuge can run on. Queries are written with `?` parameters; a backend
/// that numbers its parameters rewrites them (no query text holds a literal `?`).
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    type Db: sqlx::Database<Row = Self::Row>;
    type Row: Fields + Send + Sync;

    /// Schema migrations, in order: (version, script).
    const MIGRATIONS: &'static [(i64, &'static str)];

    /// Starts a write transaction holding the database's single write lock, so that two
    /// writers (in this process or another) queue instead of interleaving.
    async fn begin_write(pool: &Pool<Self::Db>) -> StoreResult<Transaction<'static, Self::Db>>;

    async fn fetch_all(
        connection: &mut Connection<Self>,
        sql: &str,
        arguments: Vec<Value>,
    ) -> StoreResult<Vec<Self::Row>>;

    async fn execute(
        connection: &mut Connection<Self>,
        sql: &str,
        arguments: Vec<Value>,
    ) -> StoreResult<u64>;

    /// Runs a script of several statements without parameters (migrations).
    async fn execute_script(connection: &mut Connection<Self>, sql: &str) -> StoreResult<()>;

    /// The secondary indexes of `table` (name, the SQL that creates it) that a large write may
    /// drop and build again after its rows are in: building an index by sorting is several times
    /// faster than inserting entries at random places. None by default: where dropping an
    /// index would block readers until the write commits (PostgreSQL locks the table), a
    /// large write inserts into the indexes as they are.
    async fn rebuildable_indexes(
        _connection: &mut Connection<Self>,
        _table: &str,
    ) -> StoreResult<Vec<(String, String)>> {
        Ok(Vec::new())
    }

    /// Erases the organisation (`Store::erase_organisation`) in one transaction: the settings
    /// but `keep_meta` (`erase::delete_settings`), every row of `key_tables` (their bytes
    /// overwritten) and then of `record_tables`, past the append-only triggers of the event
    /// and access logs (which stand again when it returns).
    async fn erase(
        pool: &Pool<Self::Db>,
        keep_meta: Vec<Value>,
        key_tables: &[&str],
        record_tables: &[&str],
    ) -> StoreResult<()>;

    /// Lets the rows of an append-only `table` be rewritten inside a transaction (a
    /// re-seal); returns the statements that put its guard back, to run before the commit.
    async fn lift_append_only(
        connection: &mut Connection<Self>,
        table: &str,
    ) -> StoreResult<Vec<String>>;

    /// See `Store::snapshot_into`.
    async fn snapshot_into(pool: &Pool<Self::Db>, path: &std::path::Path) -> StoreResult<()>;

    /// See `Store::integrity_problems`.
    async fn integrity_problems(pool: &Pool<Self::Db>) -> StoreResult<Vec<String>>;

    /// See `Store::compact`.
    async fn compact(pool: &Pool<Self::Db>) -> StoreResult<()>;

    /// See `Store::scrub_freed`.
    async fn scrub_freed(pool: &Pool<Self::Db>) -> StoreResult<()>;

    /// After a bulk load (`refuge migrate`): what the query planner needs to know about the
    /// new rows. Nothing by default.
    async fn after_bulk_load(_pool: &Pool<Self::Db>) -> StoreResult<()> {
        Ok(())
    }
}

/// The `table.column` a unique violation is about, the same on both backends: SQLite says
/// it in its message ("UNIQUE constraint failed: locations.code"), PostgreSQL names its
/// constraint (`locations_code_key`) and table.
fn unique_column(db: &dyn sqlx::error::DatabaseError) -> String {
    if let (Some(table), Some(constraint)) = (db.table(), db.constraint())
        && let Some(columns) = constraint
            .strip_prefix(table)
            .and_then(|rest| rest.strip_prefix('_'))
            .and_then(|rest| rest.strip_suffix("_key"))
    {
        return format!("{table}.{columns}");
    }
    db.constraint().map_or_else(
        || {
            db.message()
                .rsplit(": ")
                .next()
                .unwrap_or_default()
                .to_string()
        },
        str::to_string,
    )
}

/// Maps a driver error to a store error. Driver messages name tables and constraints, never
/// bound values.
pub(crate) fn db_error(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Duplicate {
            what: "a unique value",
            value: unique_column(db.as_ref()),
        },
        _ => StoreError::Database(error.to_string()),
    }
}

pub(crate) fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

/// Reads one column; a type mismatch is reported as corrupt data naming the column.
pub(crate) fn column<'r, R, T>(row: &'r R, column: &str) -> StoreResult<T>
where
    R: sqlx::Row,
    T: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
{
    row.try_get(column)
        .map_err(|error| corrupt(format!("column {column}: {error}")))
}

/// Implements [`Fields`] for a driver's row type.
macro_rules! impl_fields {
    ($row:ty) => {
        impl $crate::backend::Fields for $row {
            fn text(&self, name: &str) -> $crate::StoreResult<String> {
                $crate::backend::column(self, name)
            }
            fn opt_text(&self, name: &str) -> $crate::StoreResult<Option<String>> {
                $crate::backend::column(self, name)
            }
            fn int(&self, name: &str) -> $crate::StoreResult<i64> {
                $crate::backend::column(self, name)
            }
            fn opt_int(&self, name: &str) -> $crate::StoreResult<Option<i64>> {
                $crate::backend::column(self, name)
            }
            fn boolean(&self, name: &str) -> $crate::StoreResult<bool> {
                $crate::backend::column(self, name)
            }
        }
    };
}
pub(crate) use impl_fields;

/// Binds values to a driver's arguments (the driver's encoders are concrete, hence generic
/// over the database with the bounds every driver meets).
pub(crate) fn arguments<DB: sqlx::Database>(values: Vec<Value>) -> StoreResult<DB::Arguments>
where
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> bool: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    use sqlx::Arguments as _;
    let mut arguments = DB::Arguments::default();
    for value in values {
        match value {
            Value::Text(text) => arguments.add(text),
            Value::Int(number) => arguments.add(number),
            Value::Bool(flag) => arguments.add(flag),
            Value::OptText(text) => arguments.add(text),
            Value::OptInt(number) => arguments.add(number),
        }
        .map_err(|error| StoreError::Database(error.to_string()))?;
    }
    Ok(arguments)
}
