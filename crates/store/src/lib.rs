//! refuge-store: the `Store` trait and its SQLite implementation.
//!
//! SQL lives here and nowhere else. Errors carry no driver types and no protected values.
//! Every write is one transaction that appends events to the log, applies them through the
//! one projection function of refuge-core, and writes the changed records back.

mod sqlite;
mod types;

pub use sqlite::SqliteStore;
pub use types::*;

use async_trait::async_trait;
use refuge_core::*;

/// The hash-chain function, injected by the caller (cryptography lives in refuge-crypto):
/// `hash = chain(prev_hash, canonical bytes)`.
pub type ChainHasher = fn(&str, &[u8]) -> String;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no database at {0}: create one with `refuge init` or `refuge demo`")]
    NotFound(String),
    #[error("a database already exists at {0}")]
    AlreadyExists(String),
    #[error("unsupported database URL '{0}': expected sqlite:PATH or a file path")]
    BadUrl(String),
    #[error("{0}")]
    Rejected(#[from] ProjectionError),
    #[error("location {code} is full: {present} present, {capacity} beds, {arriving} arriving")]
    AtCapacity {
        code: String,
        present: u64,
        capacity: u32,
        arriving: u32,
    },
    #[error("{what} was changed by someone else; reload and try again")]
    Conflict { what: String },
    #[error("{what} {value} is already taken")]
    Duplicate { what: &'static str, value: String },
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Storage for one organisation. Implementations must make each `commit` atomic.
#[async_trait]
pub trait Store: Send + Sync {
    /// Settings and installation facts (node id, blind-index width, …).
    async fn meta(&self, key: &str) -> StoreResult<Option<String>>;

    /// Appends events (and side writes) in one transaction: assigns each event its node
    /// sequence number, clock and chained hash, checks the guards, applies the projection and
    /// writes the changed records. On any error nothing is written.
    async fn commit(&self, commit: Commit, hasher: ChainHasher) -> StoreResult<Vec<Event>>;

    /// Appends entries to the access log (its own transaction, hash-chained).
    async fn log_access(
        &self,
        entries: Vec<NewAccessEntry>,
        hasher: ChainHasher,
    ) -> StoreResult<()>;

    async fn key_wrap(&self, credential: &str) -> StoreResult<Option<(UserId, String)>>;
    async fn user_by_name(&self, name: &str) -> StoreResult<Option<User>>;
    async fn users(&self) -> StoreResult<Vec<User>>;

    async fn locations(&self) -> StoreResult<Vec<Location>>;
    async fn location_by_code(&self, code: &str) -> StoreResult<Option<Location>>;
    /// People present (hiding, transit, sheltered, detained) at each location.
    async fn occupancy(&self) -> StoreResult<Vec<(LocationId, u64)>>;

    async fn household_by_code(&self, code: &str) -> StoreResult<Option<Household>>;
    async fn household(&self, id: HouseholdId) -> StoreResult<Option<Household>>;
    async fn household_members(&self, id: HouseholdId) -> StoreResult<Vec<Person>>;

    async fn person_by_code(&self, code: &str) -> StoreResult<Option<Person>>;
    async fn people(&self, filter: &PersonFilter) -> StoreResult<Vec<Person>>;
    /// People whose duplicate index is one of `values`.
    async fn people_by_duplicate_index(&self, values: &[i64]) -> StoreResult<Vec<Person>>;
    /// The short codes of these people, households and incidents (ids not found are left
    /// out).
    async fn codes_of(
        &self,
        ids: &[uuid::Uuid],
    ) -> StoreResult<std::collections::HashMap<uuid::Uuid, String>>;
    /// Which of these codes are already taken (any kind).
    async fn taken_codes(&self, codes: &[String]) -> StoreResult<Vec<String>>;

    async fn batch_by_code(&self, code: &str) -> StoreResult<Option<TransferBatch>>;
    async fn batches(&self) -> StoreResult<Vec<TransferBatch>>;

    async fn incident_by_code(&self, code: &str) -> StoreResult<Option<Incident>>;
    async fn incidents(&self, open_only: bool) -> StoreResult<Vec<Incident>>;

    /// Raw figures for the backlog of every location: occupancy, the arrival dates of the
    /// people waiting, and open incidents by severity. Reads indexes only.
    async fn backlog_rows(&self) -> StoreResult<Vec<BacklogRow>>;

    /// People entering care and departing per month since `from`: (YYYY-MM, entered,
    /// departed), from the aggregate kept with every write.
    async fn monthly_flow(&self, from: time::Date) -> StoreResult<Vec<(String, u64, u64)>>;
    /// The whole stored monthly flow, for `refuge verify`.
    async fn flow_by_month(&self) -> StoreResult<Vec<(String, u64, u64)>>;

    /// Events in log order (hybrid logical clock, node, seq) after `after`, at most `limit`.
    async fn events_page(&self, after: Option<EventCursor>, limit: u32) -> StoreResult<Vec<Event>>;
    async fn events_of(&self, subject: uuid::Uuid) -> StoreResult<Vec<Event>>;
    /// Every event of these kinds, in log order.
    async fn events_of_kinds(&self, kinds: &[&str]) -> StoreResult<Vec<Event>>;

    async fn access_log(&self, limit: Option<u32>) -> StoreResult<Vec<AccessEntry>>;

    /// Differences between the stored aggregates (waiting by day, presence) and a count of
    /// the people table, for `refuge verify`.
    async fn aggregate_problems(&self) -> StoreResult<Vec<String>>;

    /// Every projection record, for `refuge verify`.
    async fn load_state(&self) -> StoreResult<State>;
}
