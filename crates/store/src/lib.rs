//! refuge-store: the `Store` trait and its SQL implementations (SQLite, PostgreSQL).
//!
//! SQL lives here and nowhere else. Errors carry no driver types and no protected values.
//! Every write is one transaction that appends events to the log, applies them through the
//! one projection function of refuge-core, and writes the changed records back.

mod backend;
mod postgres;
mod sql;
mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;
mod types;

pub use postgres::{PostgresBackend, PostgresStore, redacted_url};
pub use sql::SqlStore;
pub use sqlite::{SqliteBackend, SqliteStore};
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
    #[error("{0} is not a refuge database (empty, or another program's file)")]
    NotRefuge(String),
    #[error(
        "unsupported database URL '{0}': expected sqlite:PATH, a file path, or postgres://USER@HOST[:PORT]/DATABASE"
    )]
    BadUrl(String),
    #[error("cannot reach the database at {0}: {1}")]
    Unreachable(String, String),
    #[error("{0}")]
    Rejected(#[from] ProjectionError),
    #[error(
        "location {code} has too few free beds: {present} present, {capacity} beds, {arriving} arriving"
    )]
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
    /// The backend's name ("SQLite", "PostgreSQL").
    fn backend(&self) -> &'static str;

    /// Closes the connections (SQLite checkpoints its write-ahead log).
    async fn close(&self);

    /// Settings and installation facts (node id, blind-index width, …).
    async fn meta(&self, key: &str) -> StoreResult<Option<String>>;
    /// Every setting, for `refuge migrate`.
    async fn all_meta(&self) -> StoreResult<Vec<(String, String)>>;

    /// Appends events (and side writes) in one transaction: assigns each event its node
    /// sequence number, clock and chained hash, checks the guards, applies the projection and
    /// writes the changed records. On any error nothing is written.
    async fn commit(&self, commit: Commit, hasher: ChainHasher) -> StoreResult<Vec<Event>>;

    /// Seals the organisation again in one transaction (a key upgrade, a rotation for a key
    /// believed stolen): each event's sealed values replaced through `reseal.value`, every
    /// chain computed again from its genesis (the events keep their ids, numbers and
    /// clocks), the records replayed from the new log, then the commit's side writes and
    /// access entries. The log's append-only guard is lifted inside the transaction only.
    /// Returns how many events were rewritten. On any error nothing is written.
    async fn reseal(&self, reseal: Reseal<'_>, hasher: ChainHasher) -> StoreResult<u64>;

    /// Appends entries to the access log (its own transaction, hash-chained).
    async fn log_access(
        &self,
        entries: Vec<NewAccessEntry>,
        hasher: ChainHasher,
    ) -> StoreResult<()>;

    async fn key_wrap(&self, credential: &str) -> StoreResult<Option<(UserId, String)>>;
    /// Every wrapped key as (credential, user, wrapped), for `refuge migrate`.
    async fn key_wraps(&self) -> StoreResult<Vec<(String, UserId, String)>>;
    /// A user's public key (the compartment model).
    async fn user_public_key(&self, user: UserId) -> StoreResult<Option<String>>;
    /// Every compartment's newest generation.
    async fn current_compartments(&self) -> StoreResult<Vec<CompartmentKey>>;
    /// A compartment's secret wrapped to `holder`, if it is.
    async fn holder_wrap(
        &self,
        compartment: &str,
        generation: i64,
        holder: &str,
    ) -> StoreResult<Option<String>>;
    /// Who holds a compartment's generation (user ids, `recovery`).
    async fn holders(&self, compartment: &str, generation: i64) -> StoreResult<Vec<String>>;
    /// The keys of these records (those that have one).
    async fn record_keys(&self, records: &[String]) -> StoreResult<Vec<RecordKey>>;
    /// The record keys wrapped to a compartment's generation, `limit` at a time in record
    /// order after `after`.
    async fn record_keys_in(
        &self,
        compartment: &str,
        generation: i64,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<RecordKey>>;
    /// Every key of the compartment model.
    async fn key_tables(&self) -> StoreResult<KeyTables>;
    /// Every API token, newest first.
    async fn api_tokens(&self) -> StoreResult<Vec<ApiToken>>;
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
    /// The duplicate records merged into this person.
    async fn people_merged_into(&self, id: PersonId) -> StoreResult<Vec<Person>>;
    async fn people(&self, filter: &PersonFilter) -> StoreResult<Vec<Person>>;
    /// How many people match (the limit is ignored).
    async fn count_people(&self, filter: &PersonFilter) -> StoreResult<u64>;
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
    /// Incidents, newest first.
    async fn incidents(&self, filter: &IncidentFilter) -> StoreResult<Vec<Incident>>;
    /// The incidents a person was involved in, newest first (at most 500).
    async fn incidents_of_person(&self, person: PersonId) -> StoreResult<Vec<Incident>>;
    /// How many incidents match (the limit is ignored).
    async fn count_incidents(&self, filter: &IncidentFilter) -> StoreResult<u64>;

    /// A person's case notes, newest first.
    async fn notes_of(&self, person: PersonId) -> StoreResult<Vec<Note>>;
    /// Follow-ups due on or before `due_by` and not done, on people still in the pipeline
    /// at these locations (all: `None`), soonest first: the first `limit`, and how many in all.
    async fn due_follow_ups(
        &self,
        due_by: time::Date,
        locations: Option<&[LocationId]>,
        limit: u32,
    ) -> StoreResult<(Vec<Note>, u64)>;

    /// The waiting people at these locations (all: `None`) due a welfare check by the
    /// schedule's `cutoffs` for a day: up to `limit` of each way a check falls due, and the
    /// count due at each location.
    async fn welfare_due(
        &self,
        cutoffs: DueCutoffs,
        locations: Option<&[LocationId]>,
        limit: u32,
    ) -> StoreResult<WelfareDue>;

    /// Raw figures for the backlog of every location: occupancy, the arrival dates of the
    /// people waiting, and open incidents by severity. Reads indexes only.
    async fn backlog_rows(&self) -> StoreResult<Vec<BacklogRow>>;
    /// The id, arrival here, purge day and merge target of every person at these stages.
    async fn person_facts(&self, stages: &[Stage]) -> StoreResult<Vec<PersonFacts>>;
    /// The people waiting (sheltered or detained) by where they want to go (`None`: not
    /// asked) and the day they started waiting, with how many: the backlog per destination,
    /// from the aggregate kept with every write.
    async fn waiting_by_wish(&self)
    -> StoreResult<Vec<(Option<DestinationWish>, time::Date, u64)>>;

    /// People entering care and departing per month since `from`: (YYYY-MM, entered,
    /// departed), from the aggregate kept with every write.
    async fn monthly_flow(&self, from: time::Date) -> StoreResult<Vec<(String, u64, u64)>>;
    /// The whole stored monthly flow, for `refuge verify`.
    async fn flow_by_month(&self) -> StoreResult<Vec<(String, u64, u64)>>;

    /// Events in log order (hybrid logical clock, node, seq) after `after`, at most `limit`.
    async fn events_page(&self, after: Option<EventCursor>, limit: u32) -> StoreResult<Vec<Event>>;
    async fn events_of(&self, subject: uuid::Uuid) -> StoreResult<Vec<Event>>;
    /// Every event about any of these subjects, in log order (hybrid clock, node, sequence).
    async fn events_of_subjects(&self, subjects: &[uuid::Uuid]) -> StoreResult<Vec<Event>>;
    /// The stored events with these ids.
    async fn events_with_ids(&self, ids: &[uuid::Uuid]) -> StoreResult<Vec<Event>>;
    /// Stored events that share an id, or a node and sequence number, with any of `events`
    /// (what a received bundle already holds, or contradicts).
    async fn known_events(&self, events: &[Event]) -> StoreResult<Vec<Event>>;
    /// Every event of these kinds, in log order.
    async fn events_of_kinds(&self, kinds: &[&str]) -> StoreResult<Vec<Event>>;

    /// How many events the log holds and its newest clock value.
    async fn log_mark(&self) -> StoreResult<LogMark>;
    /// The stored records these references name (absent ones left out).
    async fn records(&self, refs: &std::collections::BTreeSet<RecordRef>) -> StoreResult<State>;
    /// Received records shown under a local code (their own is taken here).
    async fn local_codes(&self) -> StoreResult<Vec<(uuid::Uuid, String)>>;
    /// Which nodes held these events since when.
    async fn receipts_of(&self, events: &[uuid::Uuid]) -> StoreResult<Vec<Receipt>>;
    /// The conflicts merges left that no `conflict_resolved` event settles, by record and
    /// field.
    async fn conflicts(&self) -> StoreResult<Vec<StoredConflict>>;
    /// The events merges left out of the projection as contradictions.
    async fn contradicted(&self) -> StoreResult<std::collections::HashSet<EventId>>;
    /// Local codes, receipts and conflicts, whole (`refuge migrate`).
    async fn exchange_tables(&self) -> StoreResult<ExchangeTables>;
    /// Merges received events as computed by refuge-app (`Received`): refused with
    /// `StoreError::Conflict` when the log is no longer `expected`.
    async fn receive(&self, received: Received, hasher: ChainHasher) -> StoreResult<()>;

    async fn access_log(&self, limit: Option<u32>) -> StoreResult<Vec<AccessEntry>>;
    /// Access-log entries matching a filter, newest first.
    async fn access_log_page(&self, filter: &AccessFilter) -> StoreResult<Vec<AccessEntry>>;

    /// Differences between the stored aggregates (waiting by day and by wish, presence) and
    /// a count of the people table, for `refuge verify`.
    async fn aggregate_problems(&self) -> StoreResult<Vec<String>>;

    /// Every projection record, for `refuge verify`.
    async fn load_state(&self) -> StoreResult<State>;

    /// The number of rows of every table (aggregates: rows that count something).
    async fn table_counts(&self) -> StoreResult<Vec<(String, u64)>>;

    /// Copies a whole organisation (settings, events, records, wrapped keys, access log) from
    /// `source` into this store, which must hold none, in one transaction; the aggregates are
    /// recounted. Returns the number of events copied.
    async fn copy_from(&self, source: &dyn Store) -> StoreResult<u64>;

    /// Erases the whole organisation in one transaction (the duress passphrase): every key
    /// wrap, token and setting but those named in `keep_meta` first, with their bytes
    /// overwritten, then every event, record and access-log entry, past the logs' append-only
    /// guards. Earlier versions of the pages stay in SQLite's write-ahead log until `compact`,
    /// which must follow.
    async fn erase_organisation(&self, keep_meta: &[&str]) -> StoreResult<()>;

    /// Rewrites the database without its free pages and empties SQLite's write-ahead log, so
    /// that nothing an erase freed or replaced is left in the files (SQLite: `VACUUM` and a
    /// truncating checkpoint; PostgreSQL: `VACUUM FULL` of the settings, the one table an
    /// erase deletes from rather than truncates). It takes time in proportion to what was
    /// freed, so it runs just after the erase's login has answered.
    async fn compact(&self) -> StoreResult<()>;

    /// Leaves no deleted or replaced value in the files without rewriting the database
    /// (a purge, a re-seal): SQLite zeroes what is freed as it goes (`secure_delete`), and
    /// this truncates the write-ahead log that still holds earlier page versions; the file
    /// keeps its size, its zeroed pages reused by later writes. PostgreSQL: as `compact`.
    async fn scrub_freed(&self) -> StoreResult<()>;

    /// A consistent copy of the whole database into `path`, an empty file the caller made
    /// (SQLite: `VACUUM INTO`, while writers go on; it sees one committed state). PostgreSQL
    /// is refused: its backups are `pg_dump`'s (docs/backup.md).
    async fn snapshot_into(&self, path: &std::path::Path) -> StoreResult<()>;

    /// What `PRAGMA integrity_check` finds wrong (SQLite); nothing on PostgreSQL, whose pages
    /// are the server's to check.
    async fn integrity_problems(&self) -> StoreResult<Vec<String>>;
}

/// A store whose backend is chosen at run time from a database URL.
pub type DynStore = Box<dyn Store>;

/// Opens an organisation's database: `postgres://…` (or `postgresql://…`) for PostgreSQL,
/// `sqlite:PATH` or a plain path for SQLite.
pub async fn open(url: &str) -> StoreResult<DynStore> {
    Ok(if PostgresStore::is_url(url) {
        Box::new(PostgresStore::open(url).await?)
    } else {
        Box::new(SqliteStore::open(&SqliteStore::path_of_url(url)?).await?)
    })
}

/// Creates a new organisation's database (a new SQLite file, or the schema in an existing,
/// empty PostgreSQL database).
pub async fn create(url: &str, node: NodeId) -> StoreResult<DynStore> {
    Ok(if PostgresStore::is_url(url) {
        Box::new(PostgresStore::create(url, node).await?)
    } else {
        Box::new(SqliteStore::create(&SqliteStore::path_of_url(url)?, node).await?)
    })
}

/// A database URL for messages: the path of a SQLite file, or a PostgreSQL URL without its
/// password.
pub fn describe_url(url: &str) -> String {
    if PostgresStore::is_url(url) {
        redacted_url(url)
    } else {
        SqliteStore::path_of_url(url)
            .map_or_else(|_| url.to_string(), |path| path.display().to_string())
    }
}
