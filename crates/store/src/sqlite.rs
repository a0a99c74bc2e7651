//! The SQLite implementation: one file, WAL, `synchronous=FULL`, `secure_delete=ON`.

use crate::types::access_canonical;
use crate::*;
use refuge_core::event::{GENESIS_HASH, hlc_next};
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Row, Sqlite, Transaction};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;
use time::Date;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/sqlite/0001_init.sql")),
    (2, include_str!("../migrations/sqlite/0002_batches.sql")),
    (3, include_str!("../migrations/sqlite/0003_flow_index.sql")),
    (4, include_str!("../migrations/sqlite/0004_aggregates.sql")),
    (
        5,
        include_str!("../migrations/sqlite/0005_flow_by_month.sql"),
    ),
];

/// SQLite binds at most 32,766 parameters per statement; chunks stay well below.
const MAX_PARAMS: usize = 8_000;

pub struct SqliteStore {
    pool: SqlitePool,
}

fn db_error(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Duplicate {
            what: "a unique value",
            value: db
                .message()
                .rsplit(": ")
                .next()
                .unwrap_or_default()
                .to_string(),
        },
        // Driver messages name tables and constraints, never bound values.
        _ => StoreError::Database(error.to_string()),
    }
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

impl SqliteStore {
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
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .pragma("secure_delete", "ON")
            // Sorts and temporary indexes stay in memory: no temp files next to the database.
            .pragma("temp_store", "MEMORY");
        SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(db_error)
    }

    /// Creates a new database file; refuses to touch an existing one.
    pub async fn create(path: &Path, node: NodeId) -> StoreResult<Self> {
        if path.exists() {
            return Err(StoreError::AlreadyExists(path.display().to_string()));
        }
        let pool = Self::connect(path, true).await?;
        let store = SqliteStore { pool };
        store.migrate().await?;
        sqlx::query("INSERT INTO meta (key, value) VALUES ('node_id', ?)")
            .bind(node.to_string())
            .execute(&store.pool)
            .await
            .map_err(db_error)?;
        Ok(store)
    }

    /// Opens an existing database. A missing file is an error, never a new empty database.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        if !path.is_file() {
            return Err(StoreError::NotFound(path.display().to_string()));
        }
        let pool = Self::connect(path, false).await?;
        let store = SqliteStore { pool };
        store.migrate().await?;
        Ok(store)
    }

    /// Closes the pool (and checkpoints the WAL).
    pub async fn close(self) {
        self.pool.close().await;
    }

    async fn migrate(&self) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)")
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations")
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?;
        for (version, sql) in MIGRATIONS {
            if applied.contains(version) {
                continue;
            }
            sqlx::raw_sql(AssertSqlSafe(*sql))
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            sqlx::query("INSERT INTO schema_migrations (version) VALUES (?)")
                .bind(version)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        tx.commit().await.map_err(db_error)
    }

    /// A write transaction that takes the write lock at once, so two writers queue instead of
    /// failing half-way.
    async fn begin(&self) -> StoreResult<Transaction<'static, Sqlite>> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_error)
    }
}

// ---------------------------------------------------------------------------------------
// Encoding of records to and from rows.

fn text_date(date: Date) -> String {
    date.to_string()
}

fn parse_date(text: &str) -> StoreResult<Date> {
    parse_day(text).ok_or_else(|| corrupt(format!("bad date '{text}'")))
}

fn parse_uuid(text: &str) -> StoreResult<Uuid> {
    Uuid::parse_str(text).map_err(|_| corrupt(format!("bad id '{text}'")))
}

fn parse_word<T: FromStr>(text: &str) -> StoreResult<T> {
    text.parse()
        .map_err(|_| corrupt(format!("unknown value '{text}'")))
}

fn get<'r, T>(row: &'r SqliteRow, column: &str) -> StoreResult<T>
where
    T: sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite>,
{
    row.try_get(column)
        .map_err(|error| corrupt(format!("column {column}: {error}")))
}

fn flags_text(flags: &BTreeSet<Flag>) -> String {
    // Leading and trailing commas let `LIKE '%,flag,%'` match whole words only.
    let mut text = String::from(",");
    for flag in flags {
        text.push_str(flag.as_str());
        text.push(',');
    }
    text
}

fn parse_flags(text: &str) -> StoreResult<BTreeSet<Flag>> {
    text.split(',')
        .filter(|word| !word.is_empty())
        .map(parse_word)
        .collect()
}

fn sealed_opt(text: Option<String>) -> Option<Sealed> {
    text.map(Sealed)
}

fn json_text<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

fn user_from_row(row: &SqliteRow) -> StoreResult<User> {
    let locations: String = get(row, "locations")?;
    Ok(User {
        id: UserId(parse_uuid(&get::<String>(row, "id")?)?),
        name: get(row, "name")?,
        role: parse_word(&get::<String>(row, "role")?)?,
        locations: serde_json::from_str(&locations).map_err(corrupt)?,
        active: get(row, "active")?,
        version: get(row, "version")?,
    })
}

fn location_from_row(row: &SqliteRow) -> StoreResult<Location> {
    Ok(Location {
        id: LocationId(parse_uuid(&get::<String>(row, "id")?)?),
        code: get(row, "code")?,
        kind: parse_word(&get::<String>(row, "kind")?)?,
        country: get(row, "country")?,
        capacity: u32::try_from(get::<i64>(row, "capacity")?).map_err(corrupt)?,
        name: sealed_opt(get(row, "name")?),
        address: sealed_opt(get(row, "address")?),
        version: get(row, "version")?,
    })
}

fn household_from_row(row: &SqliteRow) -> StoreResult<Household> {
    let head: Option<String> = get(row, "head")?;
    Ok(Household {
        id: HouseholdId(parse_uuid(&get::<String>(row, "id")?)?),
        code: get(row, "code")?,
        head: head.map(|id| parse_uuid(&id).map(PersonId)).transpose()?,
        split_allowed: get(row, "split_allowed")?,
        version: get(row, "version")?,
    })
}

fn person_from_row(row: &SqliteRow) -> StoreResult<Person> {
    let hold: Option<String> = get(row, "hold")?;
    let sealed: String = get(row, "sealed")?;
    Ok(Person {
        id: PersonId(parse_uuid(&get::<String>(row, "id")?)?),
        code: get(row, "code")?,
        household: HouseholdId(parse_uuid(&get::<String>(row, "household")?)?),
        sex: parse_word(&get::<String>(row, "sex")?)?,
        birth_year: get(row, "birth_year")?,
        flags: parse_flags(&get::<String>(row, "flags")?)?,
        stage: parse_word(&get::<String>(row, "stage")?)?,
        location: LocationId(parse_uuid(&get::<String>(row, "location")?)?),
        since: parse_date(&get::<String>(row, "since")?)?,
        entered: parse_date(&get::<String>(row, "entered")?)?,
        documents_ready: get(row, "documents_ready")?,
        screening_done: get(row, "screening_done")?,
        hold: hold.map(|text| parse_word(&text)).transpose()?,
        sealed: serde_json::from_str(&sealed).map_err(corrupt)?,
        name_index: get(row, "name_index")?,
        duplicate_index: get(row, "duplicate_index")?,
        version: get(row, "version")?,
    })
}

fn incident_from_row(row: &SqliteRow) -> StoreResult<Incident> {
    let people: String = get(row, "people")?;
    let closed: Option<String> = get(row, "closed")?;
    Ok(Incident {
        id: IncidentId(parse_uuid(&get::<String>(row, "id")?)?),
        code: get(row, "code")?,
        location: LocationId(parse_uuid(&get::<String>(row, "location")?)?),
        kind: parse_word(&get::<String>(row, "kind")?)?,
        severity: u8::try_from(get::<i64>(row, "severity")?).map_err(corrupt)?,
        people: serde_json::from_str(&people).map_err(corrupt)?,
        status: parse_word(&get::<String>(row, "status")?)?,
        occurred: parse_date(&get::<String>(row, "occurred")?)?,
        closed: closed.map(|text| parse_date(&text)).transpose()?,
        narrative: sealed_opt(get(row, "narrative")?),
        version: get(row, "version")?,
    })
}

fn batch_from_row(row: &SqliteRow) -> StoreResult<TransferBatch> {
    let origins: String = get(row, "origins")?;
    let manifest: String = get(row, "manifest")?;
    let pins: String = get(row, "pins")?;
    Ok(TransferBatch {
        id: BatchId(parse_uuid(&get::<String>(row, "id")?)?),
        code: get(row, "code")?,
        departure: parse_date(&get::<String>(row, "departure")?)?,
        seats: u32::try_from(get::<i64>(row, "seats")?).map_err(corrupt)?,
        origins: serde_json::from_str(&origins).map_err(corrupt)?,
        destination: LocationId(parse_uuid(&get::<String>(row, "destination")?)?),
        status: parse_word(&get::<String>(row, "status")?)?,
        manifest: serde_json::from_str(&manifest).map_err(corrupt)?,
        pins: serde_json::from_str(&pins).map_err(corrupt)?,
        version: get(row, "version")?,
    })
}

fn event_from_row(row: &SqliteRow) -> StoreResult<Event> {
    let node: String = get(row, "node")?;
    let seq: i64 = get(row, "seq")?;
    // Name the event, never its contents: a damaged body may hold sealed or stray text.
    let damaged = |what: &str| corrupt(format!("event {node}/{seq}: {what}"));
    let body: String = get(row, "body")?;
    Ok(Event {
        id: EventId(parse_uuid(&get::<String>(row, "id")?).map_err(|_| damaged("bad id"))?),
        node: NodeId(parse_uuid(&node).map_err(|_| damaged("bad node"))?),
        seq,
        hlc: get(row, "hlc")?,
        actor: UserId(parse_uuid(&get::<String>(row, "actor")?).map_err(|_| damaged("bad actor"))?),
        body: serde_json::from_str(&body).map_err(|_| damaged("body does not parse"))?,
        prev_hash: get(row, "prev_hash")?,
        hash: get(row, "hash")?,
    })
}

fn access_from_row(row: &SqliteRow) -> StoreResult<AccessEntry> {
    Ok(AccessEntry {
        seq: get(row, "seq")?,
        at: get(row, "at")?,
        actor: get(row, "actor")?,
        action: get(row, "action")?,
        subject: get(row, "subject")?,
        detail: get(row, "detail")?,
        prev_hash: get(row, "prev_hash")?,
        hash: get(row, "hash")?,
    })
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

/// Runs a multi-row insert in chunks; `bind` adds one row's values to the arguments.
async fn insert_rows<T>(
    tx: &mut Transaction<'static, Sqlite>,
    table: &str,
    columns: &[&str],
    rows: &[T],
    upsert: bool,
    bind: impl Fn(&mut SqliteArguments, &T) -> Result<(), sqlx::error::BoxDynError>,
) -> StoreResult<()> {
    let chunk_rows = (MAX_PARAMS / columns.len()).max(1);
    for chunk in rows.chunks(chunk_rows) {
        let sql = insert_sql(table, columns, chunk.len(), upsert);
        let mut arguments = SqliteArguments::default();
        for row in chunk {
            bind(&mut arguments, row).map_err(|error| StoreError::Database(error.to_string()))?;
        }
        sqlx::query_with(AssertSqlSafe(sql), arguments)
            .execute(&mut **tx)
            .await
            .map_err(db_error)?;
    }
    Ok(())
}

use sqlx::Arguments as _;

const USER_COLUMNS: &[&str] = &["id", "name", "role", "locations", "active", "version"];
const LOCATION_COLUMNS: &[&str] = &[
    "id", "code", "kind", "country", "capacity", "name", "address", "version",
];
const HOUSEHOLD_COLUMNS: &[&str] = &["id", "code", "head", "split_allowed", "version"];
const PERSON_COLUMNS: &[&str] = &[
    "id",
    "code",
    "household",
    "sex",
    "birth_year",
    "flags",
    "stage",
    "location",
    "since",
    "entered",
    "documents_ready",
    "screening_done",
    "hold",
    "sealed",
    "name_index",
    "duplicate_index",
    "version",
];
const INCIDENT_COLUMNS: &[&str] = &[
    "id",
    "code",
    "location",
    "kind",
    "severity",
    "people",
    "status",
    "occurred",
    "closed",
    "narrative",
    "version",
];
const BATCH_COLUMNS: &[&str] = &[
    "id",
    "code",
    "departure",
    "seats",
    "origins",
    "destination",
    "status",
    "manifest",
    "pins",
    "version",
];
const EVENT_COLUMNS: &[&str] = &[
    "node",
    "seq",
    "id",
    "hlc",
    "actor",
    "kind",
    "subject",
    "body",
    "prev_hash",
    "hash",
];

type BindResult = Result<(), sqlx::error::BoxDynError>;

fn bind_user(args: &mut SqliteArguments, user: &User) -> BindResult {
    args.add(user.id.to_string())?;
    args.add(user.name.clone())?;
    args.add(user.role.as_str())?;
    args.add(json_text(&user.locations))?;
    args.add(user.active)?;
    args.add(user.version)
}

fn bind_location(args: &mut SqliteArguments, location: &Location) -> BindResult {
    args.add(location.id.to_string())?;
    args.add(location.code.clone())?;
    args.add(location.kind.as_str())?;
    args.add(location.country.clone())?;
    args.add(i64::from(location.capacity))?;
    args.add(location.name.as_ref().map(|sealed| sealed.0.clone()))?;
    args.add(location.address.as_ref().map(|sealed| sealed.0.clone()))?;
    args.add(location.version)
}

fn bind_household(args: &mut SqliteArguments, household: &Household) -> BindResult {
    args.add(household.id.to_string())?;
    args.add(household.code.clone())?;
    args.add(household.head.map(|id| id.to_string()))?;
    args.add(household.split_allowed)?;
    args.add(household.version)
}

fn bind_person(args: &mut SqliteArguments, person: &Person) -> BindResult {
    args.add(person.id.to_string())?;
    args.add(person.code.clone())?;
    args.add(person.household.to_string())?;
    args.add(person.sex.as_str())?;
    args.add(person.birth_year)?;
    args.add(flags_text(&person.flags))?;
    args.add(person.stage.as_str())?;
    args.add(person.location.to_string())?;
    args.add(text_date(person.since))?;
    args.add(text_date(person.entered))?;
    args.add(person.documents_ready)?;
    args.add(person.screening_done)?;
    args.add(person.hold.map(|reason| reason.as_str()))?;
    args.add(json_text(&person.sealed))?;
    args.add(person.name_index)?;
    args.add(person.duplicate_index)?;
    args.add(person.version)
}

fn bind_incident(args: &mut SqliteArguments, incident: &Incident) -> BindResult {
    args.add(incident.id.to_string())?;
    args.add(incident.code.clone())?;
    args.add(incident.location.to_string())?;
    args.add(incident.kind.as_str())?;
    args.add(i64::from(incident.severity))?;
    args.add(json_text(&incident.people))?;
    args.add(incident.status.as_str())?;
    args.add(text_date(incident.occurred))?;
    args.add(incident.closed.map(text_date))?;
    args.add(incident.narrative.as_ref().map(|sealed| sealed.0.clone()))?;
    args.add(incident.version)
}

fn bind_batch(args: &mut SqliteArguments, batch: &TransferBatch) -> BindResult {
    args.add(batch.id.to_string())?;
    args.add(batch.code.clone())?;
    args.add(text_date(batch.departure))?;
    args.add(i64::from(batch.seats))?;
    args.add(json_text(&batch.origins))?;
    args.add(batch.destination.to_string())?;
    args.add(batch.status.as_str())?;
    args.add(json_text(&batch.manifest))?;
    args.add(json_text(&batch.pins))?;
    args.add(batch.version)
}

fn bind_event(args: &mut SqliteArguments, (event, body_json): &(Event, String)) -> BindResult {
    args.add(event.node.to_string())?;
    args.add(event.seq)?;
    args.add(event.id.to_string())?;
    args.add(event.hlc)?;
    args.add(event.actor.to_string())?;
    args.add(event.body.kind())?;
    args.add(event.body.subject().to_string())?;
    args.add(body_json.clone())?;
    args.add(event.prev_hash.clone())?;
    args.add(event.hash.clone())
}

/// Loads rows of `table` whose id is in `ids`, in chunks.
async fn load_by_ids<T>(
    tx: &mut Transaction<'static, Sqlite>,
    table: &str,
    ids: &[String],
    decode: fn(&SqliteRow) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let mut out = Vec::new();
    for chunk in ids.chunks(MAX_PARAMS) {
        let sql = format!(
            "SELECT * FROM {table} WHERE id IN ({})",
            vec!["?"; chunk.len()].join(", ")
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for id in chunk {
            query = query.bind(id.clone());
        }
        for row in query.fetch_all(&mut **tx).await.map_err(db_error)? {
            out.push(decode(&row)?);
        }
    }
    Ok(out)
}

/// Loads the records an event batch touches into a partial state.
async fn load_touched(
    tx: &mut Transaction<'static, Sqlite>,
    refs: &BTreeSet<RecordRef>,
) -> StoreResult<State> {
    let mut ids: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for record in refs {
        let (table, id) = match record {
            RecordRef::User(id) => ("users", id.0),
            RecordRef::Location(id) => ("locations", id.0),
            RecordRef::Household(id) => ("households", id.0),
            RecordRef::Person(id) => ("people", id.0),
            RecordRef::Incident(id) => ("incidents", id.0),
            RecordRef::Batch(id) => ("batches", id.0),
        };
        ids.entry(table).or_default().push(id.to_string());
    }
    let mut state = State::default();
    let none = Vec::new();
    for user in load_by_ids(
        tx,
        "users",
        ids.get("users").unwrap_or(&none),
        user_from_row,
    )
    .await?
    {
        state.users.insert(user.id, user);
    }
    for location in load_by_ids(
        tx,
        "locations",
        ids.get("locations").unwrap_or(&none),
        location_from_row,
    )
    .await?
    {
        state.locations.insert(location.id, location);
    }
    for household in load_by_ids(
        tx,
        "households",
        ids.get("households").unwrap_or(&none),
        household_from_row,
    )
    .await?
    {
        state.households.insert(household.id, household);
    }
    for person in load_by_ids(
        tx,
        "people",
        ids.get("people").unwrap_or(&none),
        person_from_row,
    )
    .await?
    {
        state.people.insert(person.id, person);
    }
    for incident in load_by_ids(
        tx,
        "incidents",
        ids.get("incidents").unwrap_or(&none),
        incident_from_row,
    )
    .await?
    {
        state.incidents.insert(incident.id, incident);
    }
    for batch in load_by_ids(
        tx,
        "batches",
        ids.get("batches").unwrap_or(&none),
        batch_from_row,
    )
    .await?
    {
        state.batches.insert(batch.id, batch);
    }
    Ok(state)
}

/// The records of `after` that are new or differ from `before`.
fn changed<'a, K: Ord, V: PartialEq>(
    before: &BTreeMap<K, V>,
    after: &'a BTreeMap<K, V>,
) -> Vec<&'a V> {
    after
        .iter()
        .filter(|(key, value)| before.get(key) != Some(value))
        .map(|(_, value)| value)
        .collect()
}

fn version_of(state: &State, record: &RecordRef) -> Option<i64> {
    match record {
        RecordRef::User(id) => state.users.get(id).map(|r| r.version),
        RecordRef::Location(id) => state.locations.get(id).map(|r| r.version),
        RecordRef::Household(id) => state.households.get(id).map(|r| r.version),
        RecordRef::Person(id) => state.people.get(id).map(|r| r.version),
        RecordRef::Incident(id) => state.incidents.get(id).map(|r| r.version),
        RecordRef::Batch(id) => state.batches.get(id).map(|r| r.version),
    }
}

fn describe(state: &State, record: &RecordRef) -> String {
    match record {
        RecordRef::User(id) => state
            .users
            .get(id)
            .map_or(format!("user {id}"), |r| format!("user {}", r.name)),
        RecordRef::Location(id) => state
            .locations
            .get(id)
            .map_or(format!("location {id}"), |r| format!("location {}", r.code)),
        RecordRef::Household(id) => state
            .households
            .get(id)
            .map_or(format!("household {id}"), |r| {
                format!("household {}", r.code)
            }),
        RecordRef::Person(id) => state
            .people
            .get(id)
            .map_or(format!("person {id}"), |r| format!("person {}", r.code)),
        RecordRef::Incident(id) => state
            .incidents
            .get(id)
            .map_or(format!("incident {id}"), |r| format!("incident {}", r.code)),
        RecordRef::Batch(id) => state
            .batches
            .get(id)
            .map_or(format!("batch {id}"), |r| format!("batch {}", r.code)),
    }
}

async fn check_guards(
    tx: &mut Transaction<'static, Sqlite>,
    state: &State,
    guards: &[Guard],
) -> StoreResult<()> {
    for guard in guards {
        match guard {
            Guard::Version { record, version } => {
                if version_of(state, record) != Some(*version) {
                    return Err(StoreError::Conflict {
                        what: describe(state, record),
                    });
                }
            }
            Guard::LocationHasRoom { location, arriving } => {
                let record = state.locations.get(location).ok_or_else(|| {
                    StoreError::Rejected(ProjectionError::Missing {
                        kind: "location",
                        id: location.to_string(),
                    })
                })?;
                let present: i64 =
                    sqlx::query_scalar("SELECT present FROM presence WHERE location = ?")
                        .bind(location.to_string())
                        .fetch_optional(&mut **tx)
                        .await
                        .map_err(db_error)?
                        .unwrap_or(0);
                let present = u64::try_from(present).unwrap_or_default();
                if present + u64::from(*arriving) > u64::from(record.capacity) {
                    return Err(StoreError::AtCapacity {
                        code: record.code.clone(),
                        present,
                        capacity: record.capacity,
                        arriving: *arriving,
                    });
                }
            }
        }
    }
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    async fn meta(&self, key: &str) -> StoreResult<Option<String>> {
        sqlx::query_scalar("SELECT value FROM meta WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)
    }

    async fn commit(&self, commit: Commit, hasher: ChainHasher) -> StoreResult<Vec<Event>> {
        let mut tx = self.begin().await?;
        let node: String = sqlx::query_scalar("SELECT value FROM meta WHERE key = 'node_id'")
            .fetch_one(&mut *tx)
            .await
            .map_err(db_error)?;
        let node = NodeId(parse_uuid(&node)?);
        let head = sqlx::query(
            "SELECT seq, hlc, hash FROM events WHERE node = ? ORDER BY seq DESC LIMIT 1",
        )
        .bind(node.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
        let (mut seq, mut hlc, mut prev_hash) = match head {
            Some(row) => (
                get::<i64>(&row, "seq")?,
                get::<i64>(&row, "hlc")?,
                get::<String>(&row, "hash")?,
            ),
            None => (0, 0, GENESIS_HASH.to_string()),
        };

        let mut refs: BTreeSet<RecordRef> = commit
            .events
            .iter()
            .flat_map(|event| event.body.touches())
            .collect();
        for guard in &commit.guards {
            match guard {
                Guard::Version { record, .. } => refs.insert(*record),
                Guard::LocationHasRoom { location, .. } => {
                    refs.insert(RecordRef::Location(*location))
                }
            };
        }
        let mut state = load_touched(&mut tx, &refs).await?;
        check_guards(&mut tx, &state, &commit.guards).await?;
        let before = state.clone();

        // Each event with its body's canonical JSON, computed once for the hash and the row.
        let mut events: Vec<(Event, String)> = Vec::with_capacity(commit.events.len());
        for new in commit.events {
            state.apply(&new.body)?;
            seq += 1;
            hlc = hlc_next(hlc, commit.now_millis);
            let mut event = Event {
                id: new.id,
                node,
                seq,
                hlc,
                actor: new.actor,
                body: new.body,
                prev_hash: prev_hash.clone(),
                hash: String::new(),
            };
            let body_json = event.body_json();
            event.hash = hasher(&event.prev_hash, &event.canonical_bytes_with(&body_json));
            prev_hash = event.hash.clone();
            events.push((event, body_json));
        }

        insert_rows(&mut tx, "events", EVENT_COLUMNS, &events, false, bind_event).await?;
        let users = changed(&before.users, &state.users);
        insert_rows(
            &mut tx,
            "users",
            USER_COLUMNS,
            &users,
            true,
            |args, user| bind_user(args, user),
        )
        .await?;
        let locations = changed(&before.locations, &state.locations);
        insert_rows(
            &mut tx,
            "locations",
            LOCATION_COLUMNS,
            &locations,
            true,
            |args, location| bind_location(args, location),
        )
        .await?;
        let households = changed(&before.households, &state.households);
        insert_rows(
            &mut tx,
            "households",
            HOUSEHOLD_COLUMNS,
            &households,
            true,
            |args, household| bind_household(args, household),
        )
        .await?;
        let people = changed(&before.people, &state.people);
        insert_rows(
            &mut tx,
            "people",
            PERSON_COLUMNS,
            &people,
            true,
            |args, person| bind_person(args, person),
        )
        .await?;
        update_aggregates(&mut tx, &before.people, &people).await?;
        let incidents = changed(&before.incidents, &state.incidents);
        insert_rows(
            &mut tx,
            "incidents",
            INCIDENT_COLUMNS,
            &incidents,
            true,
            |args, incident| bind_incident(args, incident),
        )
        .await?;

        let batches = changed(&before.batches, &state.batches);
        insert_rows(
            &mut tx,
            "batches",
            BATCH_COLUMNS,
            &batches,
            true,
            |args, batch| bind_batch(args, batch),
        )
        .await?;

        for write in commit.side_writes {
            match write {
                SideWrite::KeyWrap {
                    credential,
                    user,
                    wrapped,
                } => {
                    sqlx::query(
                        "INSERT INTO key_wraps (credential, user_id, wrapped) VALUES (?, ?, ?) \
                         ON CONFLICT (credential) DO UPDATE SET user_id = excluded.user_id, wrapped = excluded.wrapped",
                    )
                    .bind(credential)
                    .bind(user.to_string())
                    .bind(wrapped)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                }
                SideWrite::Meta { key, value } => {
                    sqlx::query(
                        "INSERT INTO meta (key, value) VALUES (?, ?) \
                         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    )
                    .bind(key)
                    .bind(value)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                }
            }
        }
        append_access(&mut tx, commit.access, hasher).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(events.into_iter().map(|(event, _)| event).collect())
    }

    async fn log_access(
        &self,
        entries: Vec<NewAccessEntry>,
        hasher: ChainHasher,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        append_access(&mut tx, entries, hasher).await?;
        tx.commit().await.map_err(db_error)
    }

    async fn key_wrap(&self, credential: &str) -> StoreResult<Option<(UserId, String)>> {
        let row = sqlx::query("SELECT user_id, wrapped FROM key_wraps WHERE credential = ?")
            .bind(credential)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.map(|row| {
            Ok((
                UserId(parse_uuid(&get::<String>(&row, "user_id")?)?),
                get::<String>(&row, "wrapped")?,
            ))
        })
        .transpose()
    }

    async fn user_by_name(&self, name: &str) -> StoreResult<Option<User>> {
        self.fetch_optional("SELECT * FROM users WHERE name = ?", name, user_from_row)
            .await
    }

    async fn users(&self) -> StoreResult<Vec<User>> {
        self.fetch_all("SELECT * FROM users ORDER BY name", user_from_row)
            .await
    }

    async fn locations(&self) -> StoreResult<Vec<Location>> {
        self.fetch_all("SELECT * FROM locations ORDER BY code", location_from_row)
            .await
    }

    async fn location_by_code(&self, code: &str) -> StoreResult<Option<Location>> {
        self.fetch_optional(
            "SELECT * FROM locations WHERE code = ?",
            code,
            location_from_row,
        )
        .await
    }

    async fn occupancy(&self) -> StoreResult<Vec<(LocationId, u64)>> {
        let rows = sqlx::query("SELECT location, present FROM presence WHERE present > 0")
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter()
            .map(|row| {
                Ok((
                    LocationId(parse_uuid(&get::<String>(row, "location")?)?),
                    u64::try_from(get::<i64>(row, "present")?).unwrap_or_default(),
                ))
            })
            .collect()
    }

    async fn household_by_code(&self, code: &str) -> StoreResult<Option<Household>> {
        self.fetch_optional(
            "SELECT * FROM households WHERE code = ?",
            code,
            household_from_row,
        )
        .await
    }

    async fn household(&self, id: HouseholdId) -> StoreResult<Option<Household>> {
        self.fetch_optional(
            "SELECT * FROM households WHERE id = ?",
            &id.to_string(),
            household_from_row,
        )
        .await
    }

    async fn household_members(&self, id: HouseholdId) -> StoreResult<Vec<Person>> {
        let rows = sqlx::query("SELECT * FROM people WHERE household = ? ORDER BY code")
            .bind(id.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter().map(person_from_row).collect()
    }

    async fn person_by_code(&self, code: &str) -> StoreResult<Option<Person>> {
        self.fetch_optional("SELECT * FROM people WHERE code = ?", code, person_from_row)
            .await
    }

    async fn people(&self, filter: &PersonFilter) -> StoreResult<Vec<Person>> {
        let mut sql = String::from("SELECT * FROM people WHERE 1 = 1");
        let mut arguments = SqliteArguments::default();
        let bind_error = |error: sqlx::error::BoxDynError| StoreError::Database(error.to_string());
        if !filter.stages.is_empty() {
            sql.push_str(&format!(
                " AND stage IN ({})",
                vec!["?"; filter.stages.len()].join(", ")
            ));
            for stage in &filter.stages {
                arguments.add(stage.as_str()).map_err(bind_error)?;
            }
        }
        if let Some(locations) = &filter.locations {
            if locations.is_empty() {
                return Ok(Vec::new());
            }
            sql.push_str(&format!(
                " AND location IN ({})",
                vec!["?"; locations.len()].join(", ")
            ));
            for location in locations {
                arguments.add(location.to_string()).map_err(bind_error)?;
            }
        }
        if let Some(flag) = filter.flag {
            sql.push_str(" AND flags LIKE ?");
            arguments
                .add(format!("%,{},%", flag.as_str()))
                .map_err(bind_error)?;
        }
        if let Some(household) = filter.household {
            sql.push_str(" AND household = ?");
            arguments.add(household.to_string()).map_err(bind_error)?;
        }
        if let Some(name_index) = filter.name_index {
            sql.push_str(" AND name_index = ?");
            arguments.add(name_index).map_err(bind_error)?;
        }
        if let Some(date) = filter.since_on_or_before {
            sql.push_str(" AND since <= ?");
            arguments.add(text_date(date)).map_err(bind_error)?;
        }
        if !filter.unordered {
            sql.push_str(" ORDER BY since, code");
        }
        if let Some(limit) = filter.limit {
            sql.push_str(" LIMIT ?");
            arguments.add(i64::from(limit)).map_err(bind_error)?;
        }
        let rows = sqlx::query_with(AssertSqlSafe(sql), arguments)
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter().map(person_from_row).collect()
    }

    async fn people_by_duplicate_index(&self, values: &[i64]) -> StoreResult<Vec<Person>> {
        let mut out = Vec::new();
        for chunk in values.chunks(MAX_PARAMS) {
            let sql = format!(
                "SELECT * FROM people WHERE duplicate_index IN ({})",
                vec!["?"; chunk.len()].join(", ")
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for value in chunk {
                query = query.bind(*value);
            }
            for row in query.fetch_all(&self.pool).await.map_err(db_error)? {
                out.push(person_from_row(&row)?);
            }
        }
        Ok(out)
    }

    async fn codes_of(&self, ids: &[Uuid]) -> StoreResult<std::collections::HashMap<Uuid, String>> {
        let mut codes = std::collections::HashMap::new();
        for chunk in ids.chunks(MAX_PARAMS / 4) {
            let list = vec!["?"; chunk.len()].join(", ");
            let sql = format!(
                "SELECT id, code FROM people WHERE id IN ({list}) \
                 UNION ALL SELECT id, code FROM households WHERE id IN ({list}) \
                 UNION ALL SELECT id, code FROM incidents WHERE id IN ({list}) \
                 UNION ALL SELECT id, code FROM batches WHERE id IN ({list})"
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for _ in 0..4 {
                for id in chunk {
                    query = query.bind(id.to_string());
                }
            }
            for row in query.fetch_all(&self.pool).await.map_err(db_error)? {
                codes.insert(parse_uuid(&get::<String>(&row, "id")?)?, get(&row, "code")?);
            }
        }
        Ok(codes)
    }

    async fn taken_codes(&self, codes: &[String]) -> StoreResult<Vec<String>> {
        let mut taken = Vec::new();
        for chunk in codes.chunks(MAX_PARAMS / 4) {
            let list = vec!["?"; chunk.len()].join(", ");
            let sql = format!(
                "SELECT code FROM people WHERE code IN ({list}) \
                 UNION SELECT code FROM households WHERE code IN ({list}) \
                 UNION SELECT code FROM incidents WHERE code IN ({list}) \
                 UNION SELECT code FROM batches WHERE code IN ({list})"
            );
            let mut query = sqlx::query_scalar::<_, String>(AssertSqlSafe(sql));
            for _ in 0..4 {
                for code in chunk {
                    query = query.bind(code.clone());
                }
            }
            taken.extend(query.fetch_all(&self.pool).await.map_err(db_error)?);
        }
        Ok(taken)
    }

    async fn batch_by_code(&self, code: &str) -> StoreResult<Option<TransferBatch>> {
        self.fetch_optional("SELECT * FROM batches WHERE code = ?", code, batch_from_row)
            .await
    }

    async fn batches(&self) -> StoreResult<Vec<TransferBatch>> {
        self.fetch_all(
            "SELECT * FROM batches ORDER BY departure, code",
            batch_from_row,
        )
        .await
    }

    async fn incident_by_code(&self, code: &str) -> StoreResult<Option<Incident>> {
        self.fetch_optional(
            "SELECT * FROM incidents WHERE code = ?",
            code,
            incident_from_row,
        )
        .await
    }

    async fn incidents(&self, open_only: bool) -> StoreResult<Vec<Incident>> {
        let sql = if open_only {
            "SELECT * FROM incidents WHERE status = 'open' ORDER BY occurred DESC, code"
        } else {
            "SELECT * FROM incidents ORDER BY occurred DESC, code"
        };
        self.fetch_all(sql, incident_from_row).await
    }

    async fn backlog_rows(&self) -> StoreResult<Vec<BacklogRow>> {
        let locations = self.locations().await?;
        let occupancy: BTreeMap<LocationId, u64> = self.occupancy().await?.into_iter().collect();
        // One row per location and arrival day, whatever the number of people.
        let waiting =
            sqlx::query("SELECT location, since, people FROM waiting_by_day WHERE people > 0")
                .fetch_all(&self.pool)
                .await
                .map_err(db_error)?;
        let mut waiting_since: BTreeMap<String, Vec<(Date, u64)>> = BTreeMap::new();
        for row in &waiting {
            waiting_since
                .entry(get(row, "location")?)
                .or_default()
                .push((
                    parse_date(&get::<String>(row, "since")?)?,
                    u64::try_from(get::<i64>(row, "people")?).unwrap_or(0),
                ));
        }
        let incident_rows = sqlx::query(
            "SELECT location, severity, COUNT(*) AS open FROM incidents \
             WHERE status = 'open' GROUP BY location, severity",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        let mut incidents: BTreeMap<String, [u64; 4]> = BTreeMap::new();
        for row in &incident_rows {
            let severity = usize::try_from(get::<i64>(row, "severity")?).map_err(corrupt)?;
            if let Some(slot) = incidents
                .entry(get(row, "location")?)
                .or_default()
                .get_mut(severity.saturating_sub(1))
            {
                *slot = u64::try_from(get::<i64>(row, "open")?).unwrap_or_default();
            }
        }
        Ok(locations
            .into_iter()
            .map(|location| {
                let key = location.id.to_string();
                BacklogRow {
                    present: occupancy.get(&location.id).copied().unwrap_or_default(),
                    waiting_since: waiting_since.remove(&key).unwrap_or_default(),
                    open_incidents: incidents.get(&key).copied().unwrap_or_default(),
                    location,
                }
            })
            .collect())
    }

    async fn monthly_flow(&self, from: Date) -> StoreResult<Vec<(String, u64, u64)>> {
        let rows = sqlx::query(
            "SELECT month, entered, departed FROM flow_by_month WHERE month >= ? ORDER BY month",
        )
        .bind(&text_date(from)[..7])
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter()
            .map(|row| {
                Ok((
                    get::<String>(row, "month")?,
                    u64::try_from(get::<i64>(row, "entered")?).unwrap_or(0),
                    u64::try_from(get::<i64>(row, "departed")?).unwrap_or(0),
                ))
            })
            .collect()
    }

    async fn flow_by_month(&self) -> StoreResult<Vec<(String, u64, u64)>> {
        let rows = sqlx::query("SELECT month, entered, departed FROM flow_by_month WHERE entered <> 0 OR departed <> 0 ORDER BY month")
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter()
            .map(|row| {
                Ok((
                    get::<String>(row, "month")?,
                    u64::try_from(get::<i64>(row, "entered")?).unwrap_or(0),
                    u64::try_from(get::<i64>(row, "departed")?).unwrap_or(0),
                ))
            })
            .collect()
    }

    async fn events_page(&self, after: Option<EventCursor>, limit: u32) -> StoreResult<Vec<Event>> {
        let rows = match after {
            None => {
                sqlx::query("SELECT * FROM events ORDER BY hlc, node, seq LIMIT ?")
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
            }
            Some(cursor) => {
                sqlx::query(
                    "SELECT * FROM events WHERE (hlc, node, seq) > (?, ?, ?) \
                 ORDER BY hlc, node, seq LIMIT ?",
                )
                .bind(cursor.hlc)
                .bind(cursor.node.to_string())
                .bind(cursor.seq)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
            }
        }
        .map_err(db_error)?;
        rows.iter().map(event_from_row).collect()
    }

    async fn events_of(&self, subject: Uuid) -> StoreResult<Vec<Event>> {
        let rows = sqlx::query("SELECT * FROM events WHERE subject = ? ORDER BY hlc, node, seq")
            .bind(subject.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter().map(event_from_row).collect()
    }

    async fn events_of_kinds(&self, kinds: &[&str]) -> StoreResult<Vec<Event>> {
        if kinds.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT * FROM events WHERE kind IN ({}) ORDER BY hlc, node, seq",
            vec!["?"; kinds.len()].join(", ")
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for kind in kinds {
            query = query.bind(kind.to_string());
        }
        let rows = query.fetch_all(&self.pool).await.map_err(db_error)?;
        rows.iter().map(event_from_row).collect()
    }

    async fn access_log(&self, limit: Option<u32>) -> StoreResult<Vec<AccessEntry>> {
        let rows = sqlx::query("SELECT * FROM access_log ORDER BY seq LIMIT ?")
            .bind(limit.map_or(-1, i64::from))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter().map(access_from_row).collect()
    }

    async fn aggregate_problems(&self) -> StoreResult<Vec<String>> {
        let mut problems = Vec::new();
        let checks = [
            (
                "waiting_by_day",
                "SELECT location || ' ' || since AS what FROM (\
                   SELECT location, since, people FROM waiting_by_day WHERE people <> 0 \
                   EXCEPT SELECT location, since, COUNT(*) FROM people WHERE stage IN ('sheltered', 'detained') GROUP BY location, since \
                   UNION ALL SELECT location, since, COUNT(*) FROM people WHERE stage IN ('sheltered', 'detained') GROUP BY location, since \
                   EXCEPT SELECT location, since, people FROM waiting_by_day WHERE people <> 0) LIMIT 20",
            ),
            (
                "presence",
                "SELECT location AS what FROM (\
                   SELECT location, present FROM presence WHERE present <> 0 \
                   EXCEPT SELECT location, COUNT(*) FROM people WHERE stage IN ('hiding', 'transit', 'sheltered', 'detained') GROUP BY location \
                   UNION ALL SELECT location, COUNT(*) FROM people WHERE stage IN ('hiding', 'transit', 'sheltered', 'detained') GROUP BY location \
                   EXCEPT SELECT location, present FROM presence WHERE present <> 0) LIMIT 20",
            ),
        ];
        for (table, sql) in checks {
            for row in sqlx::query(sql)
                .fetch_all(&self.pool)
                .await
                .map_err(db_error)?
            {
                problems.push(format!(
                    "{table} row {} does not match the people table",
                    get::<String>(&row, "what")?
                ));
            }
        }
        Ok(problems)
    }

    async fn load_state(&self) -> StoreResult<State> {
        let mut state = State::default();
        for user in self.fetch_all("SELECT * FROM users", user_from_row).await? {
            state.users.insert(user.id, user);
        }
        for location in self
            .fetch_all("SELECT * FROM locations", location_from_row)
            .await?
        {
            state.locations.insert(location.id, location);
        }
        for household in self
            .fetch_all("SELECT * FROM households", household_from_row)
            .await?
        {
            state.households.insert(household.id, household);
        }
        for person in self
            .fetch_all("SELECT * FROM people", person_from_row)
            .await?
        {
            state.people.insert(person.id, person);
        }
        for incident in self
            .fetch_all("SELECT * FROM incidents", incident_from_row)
            .await?
        {
            state.incidents.insert(incident.id, incident);
        }
        Ok(state)
    }
}

impl SqliteStore {
    async fn fetch_all<T>(
        &self,
        sql: &'static str,
        decode: fn(&SqliteRow) -> StoreResult<T>,
    ) -> StoreResult<Vec<T>> {
        let rows = sqlx::query(sql)
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter().map(decode).collect()
    }

    async fn fetch_optional<T>(
        &self,
        sql: &'static str,
        key: &str,
        decode: fn(&SqliteRow) -> StoreResult<T>,
    ) -> StoreResult<Option<T>> {
        let row = sqlx::query(sql)
            .bind(key.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.as_ref().map(decode).transpose()
    }
}

/// Moves the waiting-by-day and presence counts by the changes to these people.
async fn update_aggregates(
    tx: &mut Transaction<'static, Sqlite>,
    before: &BTreeMap<PersonId, Person>,
    after: &[&Person],
) -> StoreResult<()> {
    let mut waiting: BTreeMap<(String, String), i64> = BTreeMap::new();
    let mut present: BTreeMap<String, i64> = BTreeMap::new();
    let mut flow: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    let month = |date: Date| text_date(date)[..7].to_string();
    for person in after {
        match before.get(&person.id) {
            None => flow.entry(month(person.entered)).or_default().0 += 1,
            Some(old) if old.stage != Stage::Departed && person.stage == Stage::Departed => {
                flow.entry(month(person.since)).or_default().1 += 1;
            }
            Some(_) => {}
        }
    }
    if !flow.is_empty() {
        let rows: Vec<(String, (i64, i64))> = flow.into_iter().collect();
        let sql = format!(
            "INSERT INTO flow_by_month (month, entered, departed) VALUES {} \
             ON CONFLICT (month) DO UPDATE SET entered = entered + excluded.entered, departed = departed + excluded.departed",
            vec!["(?, ?, ?)"; rows.len()].join(", ")
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for (month, (entered, departed)) in &rows {
            query = query.bind(month).bind(*entered).bind(*departed);
        }
        query.execute(&mut **tx).await.map_err(db_error)?;
    }
    let mut count = |person: &Person, delta: i64| {
        if person.stage.is_waiting() {
            *waiting
                .entry((person.location.to_string(), text_date(person.since)))
                .or_default() += delta;
        }
        if person.stage.is_present() {
            *present.entry(person.location.to_string()).or_default() += delta;
        }
    };
    for person in after {
        if let Some(old) = before.get(&person.id) {
            count(old, -1);
        }
        count(person, 1);
    }
    let waiting: Vec<((String, String), i64)> = waiting
        .into_iter()
        .filter(|(_, delta)| *delta != 0)
        .collect();
    for chunk in waiting.chunks(MAX_PARAMS / 3) {
        let sql = format!(
            "INSERT INTO waiting_by_day (location, since, people) VALUES {} \
             ON CONFLICT (location, since) DO UPDATE SET people = people + excluded.people",
            vec!["(?, ?, ?)"; chunk.len()].join(", ")
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for ((location, since), delta) in chunk {
            query = query.bind(location).bind(since).bind(*delta);
        }
        query.execute(&mut **tx).await.map_err(db_error)?;
    }
    let present: Vec<(String, i64)> = present
        .into_iter()
        .filter(|(_, delta)| *delta != 0)
        .collect();
    for chunk in present.chunks(MAX_PARAMS / 2) {
        let sql = format!(
            "INSERT INTO presence (location, present) VALUES {} \
             ON CONFLICT (location) DO UPDATE SET present = present + excluded.present",
            vec!["(?, ?)"; chunk.len()].join(", ")
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for (location, delta) in chunk {
            query = query.bind(location).bind(*delta);
        }
        query.execute(&mut **tx).await.map_err(db_error)?;
    }
    if !waiting.is_empty() {
        sqlx::query("DELETE FROM waiting_by_day WHERE people = 0")
            .execute(&mut **tx)
            .await
            .map_err(db_error)?;
    }
    Ok(())
}

async fn append_access(
    tx: &mut Transaction<'static, Sqlite>,
    entries: Vec<NewAccessEntry>,
    hasher: ChainHasher,
) -> StoreResult<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let head = sqlx::query("SELECT seq, hash FROM access_log ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut **tx)
        .await
        .map_err(db_error)?;
    let (mut seq, mut prev_hash) = match head {
        Some(row) => (get::<i64>(&row, "seq")?, get::<String>(&row, "hash")?),
        None => (0, GENESIS_HASH.to_string()),
    };
    for entry in entries {
        seq += 1;
        let at = entry.at.format(&Rfc3339).map_err(corrupt)?;
        let canonical = access_canonical(
            seq,
            &at,
            &entry.actor,
            &entry.action,
            &entry.subject,
            &entry.detail,
        );
        let hash = hasher(&prev_hash, &canonical);
        sqlx::query(
            "INSERT INTO access_log (seq, at, actor, action, subject, detail, prev_hash, hash) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(seq)
        .bind(at)
        .bind(entry.actor)
        .bind(entry.action)
        .bind(entry.subject)
        .bind(entry.detail)
        .bind(&prev_hash)
        .bind(&hash)
        .execute(&mut **tx)
        .await
        .map_err(db_error)?;
        prev_hash = hash;
    }
    Ok(())
}
