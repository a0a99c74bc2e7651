//! The store shared by every SQL backend: the write transaction (events, guards, projection,
//! aggregates), the queries and the row encoding. Backends differ only in `backend.rs`.

use crate::backend::{Backend, Fields, Value, corrupt, db_error};
use crate::types::access_canonical;
use crate::*;
use refuge_core::event::{GENESIS_HASH, hlc_next};
use sqlx::{Pool, Transaction};
use std::collections::{BTreeMap, BTreeSet};
use std::marker::PhantomData;
use std::str::FromStr;
use time::Date;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

/// Both SQLite (32,766) and PostgreSQL (65,535) bind more parameters per statement; chunks
/// stay well below.
const MAX_PARAMS: usize = 8_000;
/// A write adding at least this many people, and at least as many as the table holds, drops
/// the people indexes that can be dropped and builds them again after the insert (an import
/// into a new or small organisation).
const BULK_INSERT_ROWS: usize = 10_000;
/// Batches of at least this many events are chained on a thread of their own.
const PARALLEL_CHAIN_EVENTS: usize = 1_000;

/// An organisation's store on one SQL backend.
pub struct SqlStore<B: Backend> {
    pool: Pool<B::Db>,
    backend: PhantomData<B>,
}

type Tx<B> = Transaction<'static, <B as Backend>::Db>;

impl<B: Backend> SqlStore<B> {
    pub(crate) fn from_pool(pool: Pool<B::Db>) -> Self {
        SqlStore {
            pool,
            backend: PhantomData,
        }
    }

    /// Rows of a read query on a pooled connection.
    async fn rows(&self, sql: &str, arguments: Vec<Value>) -> StoreResult<Vec<B::Row>> {
        let mut connection = self.pool.acquire().await.map_err(db_error)?;
        B::fetch_all(&mut connection, sql, arguments).await
    }

    async fn optional_row(&self, sql: &str, arguments: Vec<Value>) -> StoreResult<Option<B::Row>> {
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
        tx.commit().await.map_err(db_error)
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

/// A value that cannot be written as canonical JSON is refused, never hashed as a default.
fn canonical_failed(error: impl std::fmt::Display) -> StoreError {
    StoreError::Database(format!("a record could not be encoded: {error}"))
}

fn json_text<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

fn count(row: &impl Fields, column: &str) -> StoreResult<u64> {
    u64::try_from(row.int(column)?).map_err(corrupt)
}

fn user_from_row<R: Fields>(row: &R) -> StoreResult<User> {
    Ok(User {
        id: UserId(parse_uuid(&row.text("id")?)?),
        name: row.text("name")?,
        role: parse_word(&row.text("role")?)?,
        locations: serde_json::from_str(&row.text("locations")?).map_err(corrupt)?,
        active: row.boolean("active")?,
        version: row.int("version")?,
    })
}

fn location_from_row<R: Fields>(row: &R) -> StoreResult<Location> {
    Ok(Location {
        id: LocationId(parse_uuid(&row.text("id")?)?),
        code: row.text("code")?,
        kind: parse_word(&row.text("kind")?)?,
        country: row.text("country")?,
        capacity: u32::try_from(row.int("capacity")?).map_err(corrupt)?,
        name: sealed_opt(row.opt_text("name")?),
        address: sealed_opt(row.opt_text("address")?),
        version: row.int("version")?,
    })
}

fn household_from_row<R: Fields>(row: &R) -> StoreResult<Household> {
    Ok(Household {
        id: HouseholdId(parse_uuid(&row.text("id")?)?),
        code: row.text("code")?,
        head: row
            .opt_text("head")?
            .map(|id| parse_uuid(&id).map(PersonId))
            .transpose()?,
        split_allowed: row.boolean("split_allowed")?,
        version: row.int("version")?,
    })
}

fn person_from_row<R: Fields>(row: &R) -> StoreResult<Person> {
    Ok(Person {
        id: PersonId(parse_uuid(&row.text("id")?)?),
        code: row.text("code")?,
        household: HouseholdId(parse_uuid(&row.text("household")?)?),
        sex: parse_word(&row.text("sex")?)?,
        birth_year: row
            .opt_int("birth_year")?
            .map(|year| i32::try_from(year).map_err(corrupt))
            .transpose()?,
        flags: parse_flags(&row.text("flags")?)?,
        stage: parse_word(&row.text("stage")?)?,
        location: LocationId(parse_uuid(&row.text("location")?)?),
        since: parse_date(&row.text("since")?)?,
        entered: parse_date(&row.text("entered")?)?,
        documents_ready: row.boolean("documents_ready")?,
        screening_done: row.boolean("screening_done")?,
        hold: row
            .opt_text("hold")?
            .map(|text| parse_word(&text))
            .transpose()?,
        sealed: serde_json::from_str(&row.text("sealed")?).map_err(corrupt)?,
        name_index: row.opt_int("name_index")?,
        duplicate_index: row.opt_int("duplicate_index")?,
        version: row.int("version")?,
    })
}

fn incident_from_row<R: Fields>(row: &R) -> StoreResult<Incident> {
    Ok(Incident {
        id: IncidentId(parse_uuid(&row.text("id")?)?),
        code: row.text("code")?,
        location: LocationId(parse_uuid(&row.text("location")?)?),
        kind: parse_word(&row.text("kind")?)?,
        severity: u8::try_from(row.int("severity")?).map_err(corrupt)?,
        people: serde_json::from_str(&row.text("people")?).map_err(corrupt)?,
        status: parse_word(&row.text("status")?)?,
        occurred: parse_date(&row.text("occurred")?)?,
        closed: row
            .opt_text("closed")?
            .map(|text| parse_date(&text))
            .transpose()?,
        narrative: sealed_opt(row.opt_text("narrative")?),
        version: row.int("version")?,
    })
}

fn batch_from_row<R: Fields>(row: &R) -> StoreResult<TransferBatch> {
    Ok(TransferBatch {
        id: BatchId(parse_uuid(&row.text("id")?)?),
        code: row.text("code")?,
        departure: parse_date(&row.text("departure")?)?,
        seats: u32::try_from(row.int("seats")?).map_err(corrupt)?,
        origins: serde_json::from_str(&row.text("origins")?).map_err(corrupt)?,
        destination: LocationId(parse_uuid(&row.text("destination")?)?),
        status: parse_word(&row.text("status")?)?,
        manifest: serde_json::from_str(&row.text("manifest")?).map_err(corrupt)?,
        pins: serde_json::from_str(&row.text("pins")?).map_err(corrupt)?,
        version: row.int("version")?,
    })
}

fn event_from_row<R: Fields>(row: &R) -> StoreResult<Event> {
    let node = row.text("node")?;
    let seq = row.int("seq")?;
    // Name the event, never its contents: a damaged body may hold sealed or stray text.
    let damaged = |what: &str| corrupt(format!("event {node}/{seq}: {what}"));
    Ok(Event {
        id: EventId(parse_uuid(&row.text("id")?).map_err(|_| damaged("bad id"))?),
        node: NodeId(parse_uuid(&node).map_err(|_| damaged("bad node"))?),
        seq,
        hlc: row.int("hlc")?,
        actor: UserId(parse_uuid(&row.text("actor")?).map_err(|_| damaged("bad actor"))?),
        body: serde_json::from_str(&row.text("body")?)
            .map_err(|_| damaged("body does not parse"))?,
        prev_hash: row.text("prev_hash")?,
        hash: row.text("hash")?,
    })
}

fn access_from_row<R: Fields>(row: &R) -> StoreResult<AccessEntry> {
    Ok(AccessEntry {
        seq: row.int("seq")?,
        at: row.text("at")?,
        actor: row.text("actor")?,
        action: row.text("action")?,
        subject: row.text("subject")?,
        detail: row.text("detail")?,
        prev_hash: row.text("prev_hash")?,
        hash: row.text("hash")?,
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

/// Runs a multi-row insert in chunks; `bind` adds one row's values to the arguments. The next
/// chunk's arguments are built while the database runs the current one (SQLite runs on its own
/// worker thread, PostgreSQL on the server).
async fn insert_rows<B: Backend, T>(
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

fn bind_user(args: &mut Vec<Value>, user: &User) {
    args.push(Value::from(user.id.to_string()));
    args.push(Value::from(user.name.clone()));
    args.push(Value::from(user.role.as_str()));
    args.push(Value::from(json_text(&user.locations)));
    args.push(Value::from(user.active));
    args.push(Value::from(user.version));
}

fn bind_location(args: &mut Vec<Value>, location: &Location) {
    args.push(Value::from(location.id.to_string()));
    args.push(Value::from(location.code.clone()));
    args.push(Value::from(location.kind.as_str()));
    args.push(Value::from(location.country.clone()));
    args.push(Value::from(i64::from(location.capacity)));
    args.push(Value::from(
        location.name.as_ref().map(|sealed| sealed.0.clone()),
    ));
    args.push(Value::from(
        location.address.as_ref().map(|sealed| sealed.0.clone()),
    ));
    args.push(Value::from(location.version));
}

fn bind_household(args: &mut Vec<Value>, household: &Household) {
    args.push(Value::from(household.id.to_string()));
    args.push(Value::from(household.code.clone()));
    args.push(Value::from(household.head.map(|id| id.to_string())));
    args.push(Value::from(household.split_allowed));
    args.push(Value::from(household.version));
}

fn bind_person(args: &mut Vec<Value>, person: &Person) {
    args.push(Value::from(person.id.to_string()));
    args.push(Value::from(person.code.clone()));
    args.push(Value::from(person.household.to_string()));
    args.push(Value::from(person.sex.as_str()));
    args.push(Value::from(person.birth_year.map(i64::from)));
    args.push(Value::from(flags_text(&person.flags)));
    args.push(Value::from(person.stage.as_str()));
    args.push(Value::from(person.location.to_string()));
    args.push(Value::from(text_date(person.since)));
    args.push(Value::from(text_date(person.entered)));
    args.push(Value::from(person.documents_ready));
    args.push(Value::from(person.screening_done));
    args.push(Value::from(
        person.hold.map(|reason| reason.as_str().to_string()),
    ));
    args.push(Value::from(json_text(&person.sealed)));
    args.push(Value::from(person.name_index));
    args.push(Value::from(person.duplicate_index));
    args.push(Value::from(person.version));
}

fn bind_incident(args: &mut Vec<Value>, incident: &Incident) {
    args.push(Value::from(incident.id.to_string()));
    args.push(Value::from(incident.code.clone()));
    args.push(Value::from(incident.location.to_string()));
    args.push(Value::from(incident.kind.as_str()));
    args.push(Value::from(i64::from(incident.severity)));
    args.push(Value::from(json_text(&incident.people)));
    args.push(Value::from(incident.status.as_str()));
    args.push(Value::from(text_date(incident.occurred)));
    args.push(Value::from(incident.closed.map(text_date)));
    args.push(Value::from(
        incident.narrative.as_ref().map(|sealed| sealed.0.clone()),
    ));
    args.push(Value::from(incident.version));
}

fn bind_batch(args: &mut Vec<Value>, batch: &TransferBatch) {
    args.push(Value::from(batch.id.to_string()));
    args.push(Value::from(batch.code.clone()));
    args.push(Value::from(text_date(batch.departure)));
    args.push(Value::from(i64::from(batch.seats)));
    args.push(Value::from(json_text(&batch.origins)));
    args.push(Value::from(batch.destination.to_string()));
    args.push(Value::from(batch.status.as_str()));
    args.push(Value::from(json_text(&batch.manifest)));
    args.push(Value::from(json_text(&batch.pins)));
    args.push(Value::from(batch.version));
}

fn bind_event(args: &mut Vec<Value>, (event, body_json): &(Event, String)) {
    args.push(Value::from(event.node.to_string()));
    args.push(Value::from(event.seq));
    args.push(Value::from(event.id.to_string()));
    args.push(Value::from(event.hlc));
    args.push(Value::from(event.actor.to_string()));
    args.push(Value::from(event.body.kind()));
    args.push(Value::from(event.body.subject().to_string()));
    args.push(Value::from(body_json.clone()));
    args.push(Value::from(event.prev_hash.clone()));
    args.push(Value::from(event.hash.clone()));
}

/// Loads rows of `table` whose id is in `ids`, in chunks.
async fn load_by_ids<B: Backend, T>(
    tx: &mut Tx<B>,
    table: &str,
    ids: &[String],
    decode: fn(&B::Row) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let mut out = Vec::new();
    for chunk in ids.chunks(MAX_PARAMS) {
        let sql = format!(
            "SELECT * FROM {table} WHERE id IN ({})",
            vec!["?"; chunk.len()].join(", ")
        );
        let arguments = chunk.iter().map(Value::from).collect();
        for row in B::fetch_all(tx, &sql, arguments).await? {
            out.push(decode(&row)?);
        }
    }
    Ok(out)
}

/// Loads the records an event batch touches into a partial state.
async fn load_touched<B: Backend>(
    tx: &mut Tx<B>,
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
    let none = Vec::new();
    let ids_of = |table: &str| ids.get(table).unwrap_or(&none);
    let mut state = State::default();
    fill(
        &mut state.users,
        load_by_ids::<B, _>(tx, "users", ids_of("users"), user_from_row).await?,
        |r| r.id,
    );
    fill(
        &mut state.locations,
        load_by_ids::<B, _>(tx, "locations", ids_of("locations"), location_from_row).await?,
        |r| r.id,
    );
    fill(
        &mut state.households,
        load_by_ids::<B, _>(tx, "households", ids_of("households"), household_from_row).await?,
        |r| r.id,
    );
    fill(
        &mut state.people,
        load_by_ids::<B, _>(tx, "people", ids_of("people"), person_from_row).await?,
        |r| r.id,
    );
    fill(
        &mut state.incidents,
        load_by_ids::<B, _>(tx, "incidents", ids_of("incidents"), incident_from_row).await?,
        |r| r.id,
    );
    fill(
        &mut state.batches,
        load_by_ids::<B, _>(tx, "batches", ids_of("batches"), batch_from_row).await?,
        |r| r.id,
    );
    Ok(state)
}

/// Puts records into one of the state's maps, by id.
fn fill<K: Ord, V>(map: &mut BTreeMap<K, V>, records: Vec<V>, id: fn(&V) -> K) {
    map.extend(records.into_iter().map(|record| (id(&record), record)));
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

async fn check_guards<B: Backend>(
    tx: &mut Tx<B>,
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
                let rows = B::fetch_all(
                    tx,
                    "SELECT present FROM presence WHERE location = ?",
                    vec![location.to_string().into()],
                )
                .await?;
                let present = match rows.first() {
                    Some(row) => count(row, "present")?,
                    None => 0,
                };
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

/// Tables and how to count the rows that carry information (aggregates keep zero rows).
const COUNTED_TABLES: &[(&str, &str)] = &[
    ("meta", ""),
    ("events", ""),
    ("users", ""),
    ("key_wraps", ""),
    ("locations", ""),
    ("households", ""),
    ("people", ""),
    ("incidents", ""),
    ("batches", ""),
    ("access_log", ""),
    ("api_tokens", ""),
    ("waiting_by_day", " WHERE people <> 0"),
    ("presence", " WHERE present <> 0"),
    ("flow_by_month", " WHERE entered <> 0 OR departed <> 0"),
];

const ACCESS_COLUMNS: &[&str] = &[
    "seq",
    "at",
    "actor",
    "action",
    "subject",
    "detail",
    "prev_hash",
    "hash",
];

/// Events copied per page by `copy_from`.
const COPY_PAGE: u32 = 5_000;

impl<B: Backend> SqlStore<B> {
    async fn all<T>(
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

    async fn one<T>(
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

    /// (month, entered, departed) rows of the monthly flow.
    async fn flow_rows(
        &self,
        sql: &str,
        arguments: Vec<Value>,
    ) -> StoreResult<Vec<(String, u64, u64)>> {
        self.rows(sql, arguments)
            .await?
            .iter()
            .map(|row| {
                Ok((
                    row.text("month")?,
                    count(row, "entered")?,
                    count(row, "departed")?,
                ))
            })
            .collect()
    }
}

#[async_trait]
impl<B: Backend> Store for SqlStore<B> {
    fn backend(&self) -> &'static str {
        <B::Db as sqlx::Database>::NAME
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    async fn meta(&self, key: &str) -> StoreResult<Option<String>> {
        self.one("SELECT value FROM meta WHERE key = ?", key, |row| {
            row.text("value")
        })
        .await
    }

    async fn all_meta(&self) -> StoreResult<Vec<(String, String)>> {
        self.all("SELECT key, value FROM meta ORDER BY key", vec![], |row| {
            Ok((row.text("key")?, row.text("value")?))
        })
        .await
    }

    async fn commit(&self, commit: Commit, hasher: ChainHasher) -> StoreResult<Vec<Event>> {
        let mut tx = B::begin_write(&self.pool).await?;
        let node_rows = B::fetch_all(
            &mut tx,
            "SELECT value FROM meta WHERE key = 'node_id'",
            vec![],
        )
        .await?;
        let node = node_rows
            .first()
            .ok_or_else(|| corrupt("no node id in meta"))?
            .text("value")?;
        let node = NodeId(parse_uuid(&node)?);
        let head = B::fetch_all(
            &mut tx,
            "SELECT seq, hlc, hash FROM events WHERE node = ? ORDER BY seq DESC LIMIT 1",
            vec![node.to_string().into()],
        )
        .await?;
        let (seq, hlc, prev_hash) = match head.first() {
            Some(row) => (row.int("seq")?, row.int("hlc")?, row.text("hash")?),
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
        let mut state = load_touched::<B>(&mut tx, &refs).await?;
        check_guards::<B>(&mut tx, &state, &commit.guards).await?;
        let before = state.clone();

        for new in &commit.events {
            state.apply(&new.body)?;
        }
        let new_events_len = commit.events.len();
        // A large batch's canonical JSON and hash chain are computed on another thread while
        // the records are written: on an import they are seconds of work each.
        let now_millis = commit.now_millis;
        let new_events = commit.events;
        let chain = move || chain_events(new_events, node, seq, hlc, prev_hash, now_millis, hasher);
        let chained = if new_events_len >= PARALLEL_CHAIN_EVENTS {
            Ok(tokio::task::spawn_blocking(chain))
        } else {
            Err(chain)
        };
        let people = changed(&before.people, &state.people);
        write_records::<B>(&mut tx, &before, &state).await?;
        update_aggregates::<B>(&mut tx, &before.people, &people).await?;
        let events = match chained {
            Ok(task) => task
                .await
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic.into_panic())),
            Err(chain) => chain(),
        }?;
        insert_rows::<B, _>(&mut tx, "events", EVENT_COLUMNS, &events, false, bind_event).await?;
        for write in commit.side_writes {
            match write {
                SideWrite::KeyWrap {
                    credential,
                    user,
                    wrapped,
                } => {
                    B::execute(
                        &mut tx,
                        "INSERT INTO key_wraps (credential, user_id, wrapped) VALUES (?, ?, ?) \
                         ON CONFLICT (credential) DO UPDATE SET user_id = excluded.user_id, wrapped = excluded.wrapped",
                        vec![credential.into(), user.to_string().into(), wrapped.into()],
                    )
                    .await?;
                }
                SideWrite::Meta { key, value } => {
                    B::execute(
                        &mut tx,
                        "INSERT INTO meta (key, value) VALUES (?, ?) \
                         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                        vec![key.into(), value.into()],
                    )
                    .await?;
                }
                SideWrite::ApiToken(token) => insert_token::<B>(&mut tx, token).await?,
                SideWrite::RevokeApiToken { id, credential, at } => {
                    let revoked = B::execute(
                        &mut tx,
                        "UPDATE api_tokens SET revoked = ? WHERE id = ? AND revoked IS NULL",
                        vec![at.into(), id.into()],
                    )
                    .await?;
                    if revoked == 0 {
                        return Err(StoreError::Conflict {
                            what: "the token".to_string(),
                        });
                    }
                    B::execute(
                        &mut tx,
                        "DELETE FROM key_wraps WHERE credential = ?",
                        vec![credential.into()],
                    )
                    .await?;
                }
            }
        }
        append_access::<B>(&mut tx, commit.access, hasher).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(events.into_iter().map(|(event, _)| event).collect())
    }

    async fn log_access(
        &self,
        entries: Vec<NewAccessEntry>,
        hasher: ChainHasher,
    ) -> StoreResult<()> {
        let mut tx = B::begin_write(&self.pool).await?;
        append_access::<B>(&mut tx, entries, hasher).await?;
        tx.commit().await.map_err(db_error)
    }

    async fn key_wrap(&self, credential: &str) -> StoreResult<Option<(UserId, String)>> {
        self.one(
            "SELECT user_id, wrapped FROM key_wraps WHERE credential = ?",
            credential,
            |row| {
                Ok((
                    UserId(parse_uuid(&row.text("user_id")?)?),
                    row.text("wrapped")?,
                ))
            },
        )
        .await
    }

    async fn key_wraps(&self) -> StoreResult<Vec<(String, UserId, String)>> {
        self.all(
            "SELECT credential, user_id, wrapped FROM key_wraps ORDER BY credential",
            vec![],
            |row| {
                Ok((
                    row.text("credential")?,
                    UserId(parse_uuid(&row.text("user_id")?)?),
                    row.text("wrapped")?,
                ))
            },
        )
        .await
    }

    async fn api_tokens(&self) -> StoreResult<Vec<ApiToken>> {
        self.all(
            "SELECT * FROM api_tokens ORDER BY created DESC, id",
            vec![],
            token_from_row,
        )
        .await
    }

    async fn user_by_name(&self, name: &str) -> StoreResult<Option<User>> {
        self.one("SELECT * FROM users WHERE name = ?", name, user_from_row)
            .await
    }

    async fn users(&self) -> StoreResult<Vec<User>> {
        self.all("SELECT * FROM users ORDER BY name", vec![], user_from_row)
            .await
    }

    async fn locations(&self) -> StoreResult<Vec<Location>> {
        self.all(
            "SELECT * FROM locations ORDER BY code",
            vec![],
            location_from_row,
        )
        .await
    }

    async fn location_by_code(&self, code: &str) -> StoreResult<Option<Location>> {
        self.one(
            "SELECT * FROM locations WHERE code = ?",
            code,
            location_from_row,
        )
        .await
    }

    async fn occupancy(&self) -> StoreResult<Vec<(LocationId, u64)>> {
        self.all(
            "SELECT location, present FROM presence WHERE present > 0",
            vec![],
            |row| {
                Ok((
                    LocationId(parse_uuid(&row.text("location")?)?),
                    count(row, "present")?,
                ))
            },
        )
        .await
    }

    async fn household_by_code(&self, code: &str) -> StoreResult<Option<Household>> {
        self.one(
            "SELECT * FROM households WHERE code = ?",
            code,
            household_from_row,
        )
        .await
    }

    async fn household(&self, id: HouseholdId) -> StoreResult<Option<Household>> {
        self.one(
            "SELECT * FROM households WHERE id = ?",
            &id.to_string(),
            household_from_row,
        )
        .await
    }

    async fn household_members(&self, id: HouseholdId) -> StoreResult<Vec<Person>> {
        self.all(
            "SELECT * FROM people WHERE household = ? ORDER BY code",
            vec![id.to_string().into()],
            person_from_row,
        )
        .await
    }

    async fn person_by_code(&self, code: &str) -> StoreResult<Option<Person>> {
        self.one("SELECT * FROM people WHERE code = ?", code, person_from_row)
            .await
    }

    async fn people(&self, filter: &PersonFilter) -> StoreResult<Vec<Person>> {
        if filter.locations.as_ref().is_some_and(Vec::is_empty) {
            return Ok(Vec::new());
        }
        let (conditions, mut arguments) = person_conditions(filter);
        match (filter.limit, filter.unordered) {
            // The first `limit` of several stages in (since, code) order: one index walk per
            // stage, each stopping after `limit` rows, merged. A single query over several
            // stages would have to read and sort every matching row first, however many
            // there are. (One stage, or all, walk one index: the plain query below.)
            (Some(limit), false) if filter.stages.len() > 1 => {
                let stages = filter.stages.clone();
                let parts: Vec<String> = stages
                    .iter()
                    .enumerate()
                    .map(|(index, stage)| {
                        format!(
                            "SELECT * FROM (SELECT * FROM people WHERE stage = '{}'{conditions} \
                             ORDER BY since, code LIMIT ?) AS stage_{index}",
                            stage.as_str()
                        )
                    })
                    .collect();
                let sql = format!("{} ORDER BY since, code LIMIT ?", parts.join(" UNION ALL "));
                let mut all_arguments = Vec::new();
                for _ in &stages {
                    all_arguments.extend(arguments.iter().cloned());
                    all_arguments.push(Value::Int(i64::from(limit)));
                }
                all_arguments.push(Value::Int(i64::from(limit)));
                self.all(&sql, all_arguments, person_from_row).await
            }
            _ => {
                let mut sql = format!(
                    "SELECT * FROM people WHERE 1 = 1{}{conditions}",
                    stages_condition(&filter.stages)
                );
                if !filter.unordered {
                    sql.push_str(" ORDER BY since, code");
                }
                if let Some(limit) = filter.limit {
                    sql.push_str(" LIMIT ?");
                    arguments.push(i64::from(limit).into());
                }
                self.all(&sql, arguments, person_from_row).await
            }
        }
    }

    async fn count_people(&self, filter: &PersonFilter) -> StoreResult<u64> {
        if filter.locations.as_ref().is_some_and(Vec::is_empty) {
            return Ok(0);
        }
        let (conditions, arguments) = person_conditions(filter);
        let sql = format!(
            "SELECT COUNT(*) AS n FROM people WHERE 1 = 1{}{conditions}",
            stages_condition(&filter.stages)
        );
        let rows = self.rows(&sql, arguments).await?;
        rows.first().map_or(Ok(0), |row| count(row, "n"))
    }

    async fn people_by_duplicate_index(&self, values: &[i64]) -> StoreResult<Vec<Person>> {
        let mut out = Vec::new();
        for chunk in values.chunks(MAX_PARAMS) {
            let sql = format!(
                "SELECT * FROM people WHERE duplicate_index IN ({})",
                vec!["?"; chunk.len()].join(", ")
            );
            let arguments = chunk.iter().map(|value| Value::Int(*value)).collect();
            out.extend(self.all(&sql, arguments, person_from_row).await?);
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
            let arguments = (0..4)
                .flat_map(|_| chunk.iter().map(|id| Value::Text(id.to_string())))
                .collect();
            for row in self.rows(&sql, arguments).await? {
                codes.insert(parse_uuid(&row.text("id")?)?, row.text("code")?);
            }
        }
        Ok(codes)
    }

    async fn taken_codes(&self, codes: &[String]) -> StoreResult<Vec<String>> {
        // A code's prefix names its kind, and each kind lives in one table: one indexed
        // lookup per code (an import checks hundreds of thousands).
        let mut by_table: BTreeMap<&str, Vec<&String>> = BTreeMap::new();
        for code in codes {
            let table = match CodeKind::of_code(code) {
                Some(CodeKind::Person) => "people",
                Some(CodeKind::Household) => "households",
                Some(CodeKind::Incident) => "incidents",
                Some(CodeKind::Batch) => "batches",
                None => continue,
            };
            by_table.entry(table).or_default().push(code);
        }
        let mut taken = Vec::new();
        for (table, codes) in by_table {
            for chunk in codes.chunks(MAX_PARAMS) {
                let sql = format!(
                    "SELECT code FROM {table} WHERE code IN ({})",
                    vec!["?"; chunk.len()].join(", ")
                );
                let arguments = chunk.iter().map(|code| Value::from(*code)).collect();
                taken.extend(self.all(&sql, arguments, |row| row.text("code")).await?);
            }
        }
        Ok(taken)
    }

    async fn batch_by_code(&self, code: &str) -> StoreResult<Option<TransferBatch>> {
        self.one("SELECT * FROM batches WHERE code = ?", code, batch_from_row)
            .await
    }

    async fn batches(&self) -> StoreResult<Vec<TransferBatch>> {
        self.all(
            "SELECT * FROM batches ORDER BY departure, code",
            vec![],
            batch_from_row,
        )
        .await
    }

    async fn incident_by_code(&self, code: &str) -> StoreResult<Option<Incident>> {
        self.one(
            "SELECT * FROM incidents WHERE code = ?",
            code,
            incident_from_row,
        )
        .await
    }

    async fn incidents(&self, filter: &IncidentFilter) -> StoreResult<Vec<Incident>> {
        if filter.locations.as_ref().is_some_and(Vec::is_empty) {
            return Ok(Vec::new());
        }
        let (conditions, mut arguments) = incident_conditions(filter);
        let mut sql =
            format!("SELECT * FROM incidents WHERE 1 = 1{conditions} ORDER BY occurred DESC, code");
        if let Some(limit) = filter.limit {
            sql.push_str(" LIMIT ?");
            arguments.push(Value::Int(i64::from(limit)));
        }
        self.all(&sql, arguments, incident_from_row).await
    }

    async fn count_incidents(&self, filter: &IncidentFilter) -> StoreResult<u64> {
        if filter.locations.as_ref().is_some_and(Vec::is_empty) {
            return Ok(0);
        }
        let (conditions, arguments) = incident_conditions(filter);
        let rows = self
            .rows(
                &format!("SELECT COUNT(*) AS n FROM incidents WHERE 1 = 1{conditions}"),
                arguments,
            )
            .await?;
        rows.first().map_or(Ok(0), |row| count(row, "n"))
    }

    async fn backlog_rows(&self) -> StoreResult<Vec<BacklogRow>> {
        let locations = self.locations().await?;
        let occupancy: BTreeMap<LocationId, u64> = self.occupancy().await?.into_iter().collect();
        // One row per location and arrival day, whatever the number of people.
        let mut waiting_since: BTreeMap<String, Vec<(Date, u64)>> = BTreeMap::new();
        for row in self
            .rows(
                "SELECT location, since, people FROM waiting_by_day WHERE people > 0",
                vec![],
            )
            .await?
        {
            waiting_since
                .entry(row.text("location")?)
                .or_default()
                .push((parse_date(&row.text("since")?)?, count(&row, "people")?));
        }
        let mut incidents: BTreeMap<String, [u64; 4]> = BTreeMap::new();
        for row in self
            .rows(
                "SELECT location, severity, COUNT(*) AS open FROM incidents \
                 WHERE status = 'open' GROUP BY location, severity",
                vec![],
            )
            .await?
        {
            let severity = usize::try_from(row.int("severity")?).map_err(corrupt)?;
            if let Some(slot) = incidents
                .entry(row.text("location")?)
                .or_default()
                .get_mut(severity.saturating_sub(1))
            {
                *slot = count(&row, "open")?;
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
        self.flow_rows(
            "SELECT month, entered, departed FROM flow_by_month WHERE month >= ? ORDER BY month",
            vec![text_date(from)[..7].into()],
        )
        .await
    }

    async fn flow_by_month(&self) -> StoreResult<Vec<(String, u64, u64)>> {
        self.flow_rows(
            "SELECT month, entered, departed FROM flow_by_month \
             WHERE entered <> 0 OR departed <> 0 ORDER BY month",
            vec![],
        )
        .await
    }

    async fn events_page(&self, after: Option<EventCursor>, limit: u32) -> StoreResult<Vec<Event>> {
        match after {
            None => {
                self.all(
                    "SELECT * FROM events ORDER BY hlc, node, seq LIMIT ?",
                    vec![i64::from(limit).into()],
                    event_from_row,
                )
                .await
            }
            Some(cursor) => {
                self.all(
                    "SELECT * FROM events WHERE (hlc, node, seq) > (?, ?, ?) \
                     ORDER BY hlc, node, seq LIMIT ?",
                    vec![
                        cursor.hlc.into(),
                        cursor.node.to_string().into(),
                        cursor.seq.into(),
                        i64::from(limit).into(),
                    ],
                    event_from_row,
                )
                .await
            }
        }
    }

    async fn events_of(&self, subject: Uuid) -> StoreResult<Vec<Event>> {
        self.all(
            "SELECT * FROM events WHERE subject = ? ORDER BY hlc, node, seq",
            vec![subject.to_string().into()],
            event_from_row,
        )
        .await
    }

    async fn events_of_kinds(&self, kinds: &[&str]) -> StoreResult<Vec<Event>> {
        if kinds.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT * FROM events WHERE kind IN ({}) ORDER BY hlc, node, seq",
            vec!["?"; kinds.len()].join(", ")
        );
        let arguments = kinds.iter().map(|kind| Value::from(*kind)).collect();
        self.all(&sql, arguments, event_from_row).await
    }

    async fn access_log(&self, limit: Option<u32>) -> StoreResult<Vec<AccessEntry>> {
        match limit {
            Some(limit) => {
                self.all(
                    "SELECT * FROM access_log ORDER BY seq LIMIT ?",
                    vec![i64::from(limit).into()],
                    access_from_row,
                )
                .await
            }
            None => {
                self.all(
                    "SELECT * FROM access_log ORDER BY seq",
                    vec![],
                    access_from_row,
                )
                .await
            }
        }
    }

    async fn aggregate_problems(&self) -> StoreResult<Vec<String>> {
        // Each aggregate against a recount from `people`, both ways: rows that differ and
        // rows that exist on one side only.
        let checks = [
            (
                "waiting_by_day",
                "SELECT location, since, people AS n FROM waiting_by_day WHERE people <> 0",
                "SELECT location, since, COUNT(*) AS n FROM people \
                 WHERE stage IN ('sheltered', 'detained') GROUP BY location, since",
                "location || ' ' || since",
            ),
            (
                "presence",
                "SELECT location, present AS n FROM presence WHERE present <> 0",
                "SELECT location, COUNT(*) AS n FROM people \
                 WHERE stage IN ('hiding', 'transit', 'sheltered', 'detained') GROUP BY location",
                "location",
            ),
        ];
        let mut problems = Vec::new();
        for (table, stored, recount) in checks.iter().map(|(t, s, r, w)| {
            (
                t,
                format!("SELECT {w} AS what FROM ({s} EXCEPT {r}) AS stored_only"),
                format!("SELECT {w} AS what FROM ({r} EXCEPT {s}) AS recount_only"),
            )
        }) {
            let sql = format!("{stored} UNION ALL {recount} LIMIT 20");
            for row in self.rows(&sql, vec![]).await? {
                problems.push(format!(
                    "{table} row {} does not match the people table",
                    row.text("what")?
                ));
            }
        }
        Ok(problems)
    }

    async fn load_state(&self) -> StoreResult<State> {
        let mut state = State::default();
        fill(
            &mut state.users,
            self.all("SELECT * FROM users", vec![], user_from_row)
                .await?,
            |r| r.id,
        );
        fill(
            &mut state.locations,
            self.all("SELECT * FROM locations", vec![], location_from_row)
                .await?,
            |r| r.id,
        );
        fill(
            &mut state.households,
            self.all("SELECT * FROM households", vec![], household_from_row)
                .await?,
            |r| r.id,
        );
        fill(
            &mut state.people,
            self.all("SELECT * FROM people", vec![], person_from_row)
                .await?,
            |r| r.id,
        );
        fill(
            &mut state.incidents,
            self.all("SELECT * FROM incidents", vec![], incident_from_row)
                .await?,
            |r| r.id,
        );
        fill(
            &mut state.batches,
            self.all("SELECT * FROM batches", vec![], batch_from_row)
                .await?,
            |r| r.id,
        );
        Ok(state)
    }

    async fn table_counts(&self) -> StoreResult<Vec<(String, u64)>> {
        let mut counts = Vec::new();
        for (table, filter) in COUNTED_TABLES {
            let rows = self
                .rows(
                    &format!("SELECT COUNT(*) AS n FROM {table}{filter}"),
                    vec![],
                )
                .await?;
            let n = match rows.first() {
                Some(row) => count(row, "n")?,
                None => 0,
            };
            counts.push((table.to_string(), n));
        }
        Ok(counts)
    }

    async fn copy_from(&self, source: &dyn Store) -> StoreResult<u64> {
        let mut tx = B::begin_write(&self.pool).await?;
        let existing = B::fetch_all(&mut tx, "SELECT seq FROM events LIMIT 1", vec![]).await?;
        if !existing.is_empty() {
            return Err(StoreError::AlreadyExists(
                "the destination: it already holds an organisation".to_string(),
            ));
        }
        for (key, value) in source.all_meta().await? {
            B::execute(
                &mut tx,
                "INSERT INTO meta (key, value) VALUES (?, ?) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                vec![key.into(), value.into()],
            )
            .await?;
        }
        let mut copied = 0;
        let mut cursor = None;
        loop {
            let page = source.events_page(cursor, COPY_PAGE).await?;
            let Some(last) = page.last() else { break };
            cursor = Some(EventCursor::of(last));
            copied += page.len() as u64;
            let rows: Vec<(Event, String)> = page
                .into_iter()
                .map(|event| {
                    let body = event.body_json().map_err(canonical_failed)?;
                    Ok((event, body))
                })
                .collect::<StoreResult<_>>()?;
            insert_rows::<B, _>(&mut tx, "events", EVENT_COLUMNS, &rows, false, bind_event).await?;
        }
        let state = source.load_state().await?;
        write_records::<B>(&mut tx, &State::default(), &state).await?;
        for (credential, user, wrapped) in source.key_wraps().await? {
            B::execute(
                &mut tx,
                "INSERT INTO key_wraps (credential, user_id, wrapped) VALUES (?, ?, ?)",
                vec![credential.into(), user.to_string().into(), wrapped.into()],
            )
            .await?;
        }
        for token in source.api_tokens().await? {
            insert_token::<B>(&mut tx, token).await?;
        }
        let access = source.access_log(None).await?;
        insert_rows::<B, _>(
            &mut tx,
            "access_log",
            ACCESS_COLUMNS,
            &access,
            false,
            |args, entry| {
                args.extend([
                    Value::Int(entry.seq),
                    entry.at.as_str().into(),
                    entry.actor.as_str().into(),
                    entry.action.as_str().into(),
                    entry.subject.as_str().into(),
                    entry.detail.as_str().into(),
                    entry.prev_hash.as_str().into(),
                    entry.hash.as_str().into(),
                ]);
            },
        )
        .await?;
        // The aggregates are recounted here; `refuge verify` checks them against the log.
        let people: Vec<&Person> = state.people.values().collect();
        update_aggregates::<B>(&mut tx, &BTreeMap::new(), &people).await?;
        // The flow counts departures too, which a recount from the people table cannot.
        B::execute(&mut tx, "DELETE FROM flow_by_month", vec![]).await?;
        for (month, entered, departed) in source.flow_by_month().await? {
            B::execute(
                &mut tx,
                "INSERT INTO flow_by_month (month, entered, departed) VALUES (?, ?, ?)",
                vec![
                    month.into(),
                    i64::try_from(entered).map_err(corrupt)?.into(),
                    i64::try_from(departed).map_err(corrupt)?.into(),
                ],
            )
            .await?;
        }
        tx.commit().await.map_err(db_error)?;
        B::after_bulk_load(&self.pool).await?;
        Ok(copied)
    }
}

/// `AND …` conditions and their arguments for a people filter (without its stages and
/// limit). Flags come from a closed vocabulary and are written as literals, so that the
/// partial indexes on urgent flags (migration 0008) can match.
fn person_conditions(filter: &PersonFilter) -> (String, Vec<Value>) {
    let mut conditions = String::new();
    let mut arguments: Vec<Value> = Vec::new();
    if let Some(locations) = &filter.locations {
        conditions.push_str(&format!(
            " AND location IN ({})",
            vec!["?"; locations.len()].join(", ")
        ));
        arguments.extend(locations.iter().map(|location| location.to_string().into()));
    }
    if let Some(flag) = filter.flag {
        conditions.push_str(&format!(" AND flags LIKE '%,{},%'", flag.as_str()));
    }
    if let Some(household) = filter.household {
        conditions.push_str(" AND household = ?");
        arguments.push(household.to_string().into());
    }
    if let Some(name_index) = filter.name_index {
        conditions.push_str(" AND name_index = ?");
        arguments.push(name_index.into());
    }
    if let Some(date) = filter.since_on_or_before {
        conditions.push_str(" AND since <= ?");
        arguments.push(text_date(date).into());
    }
    (conditions, arguments)
}

/// `AND stage IN (…)` with the stages as literals (a closed vocabulary), or nothing.
fn stages_condition(stages: &[Stage]) -> String {
    if stages.is_empty() {
        return String::new();
    }
    let list: Vec<String> = stages
        .iter()
        .map(|stage| format!("'{}'", stage.as_str()))
        .collect();
    format!(" AND stage IN ({})", list.join(", "))
}

fn incident_conditions(filter: &IncidentFilter) -> (String, Vec<Value>) {
    let mut conditions = String::new();
    let mut arguments = Vec::new();
    if filter.open_only {
        conditions.push_str(" AND status = 'open'");
    }
    if filter.min_severity > 1 {
        conditions.push_str(" AND severity >= ?");
        arguments.push(Value::Int(i64::from(filter.min_severity)));
    }
    if let Some(locations) = &filter.locations {
        conditions.push_str(&format!(
            " AND location IN ({})",
            vec!["?"; locations.len()].join(", ")
        ));
        arguments.extend(locations.iter().map(|location| location.to_string().into()));
    }
    (conditions, arguments)
}

async fn insert_token<B: Backend>(tx: &mut Tx<B>, token: ApiToken) -> StoreResult<()> {
    B::execute(
        tx,
        "INSERT INTO api_tokens (id, user_id, label, created, revoked) VALUES (?, ?, ?, ?, ?)",
        vec![
            token.id.into(),
            token.user.to_string().into(),
            token.label.into(),
            token.created.into(),
            token.revoked.into(),
        ],
    )
    .await?;
    Ok(())
}

fn token_from_row<R: Fields>(row: &R) -> StoreResult<ApiToken> {
    Ok(ApiToken {
        id: row.text("id")?,
        user: UserId(parse_uuid(&row.text("user_id")?)?),
        label: row.text("label")?,
        created: row.text("created")?,
        revoked: row.opt_text("revoked")?,
    })
}

/// Numbers, stamps and chains new events after the head (`seq`, `hlc`, `prev_hash`): each
/// with its body's canonical JSON, computed once for the hash and the row.
fn chain_events(
    new_events: Vec<NewEvent>,
    node: NodeId,
    mut seq: i64,
    mut hlc: i64,
    mut prev_hash: String,
    now_millis: i64,
    hasher: ChainHasher,
) -> StoreResult<Vec<(Event, String)>> {
    let mut events = Vec::with_capacity(new_events.len());
    for new in new_events {
        seq += 1;
        hlc = hlc_next(hlc, now_millis);
        let mut event = Event {
            id: new.id,
            node,
            seq,
            hlc,
            actor: new.actor,
            body: new.body,
            prev_hash,
            hash: String::new(),
        };
        let body_json = event.body_json().map_err(canonical_failed)?;
        event.hash = hasher(&event.prev_hash, &event.canonical_bytes_with(&body_json));
        prev_hash = event.hash.clone();
        events.push((event, body_json));
    }
    Ok(events)
}

/// Writes the records of `after` that are new or differ from `before`.
async fn write_records<B: Backend>(
    tx: &mut Tx<B>,
    before: &State,
    after: &State,
) -> StoreResult<()> {
    let users = changed(&before.users, &after.users);
    insert_rows::<B, _>(tx, "users", USER_COLUMNS, &users, true, |args, user| {
        bind_user(args, user)
    })
    .await?;
    let locations = changed(&before.locations, &after.locations);
    insert_rows::<B, _>(
        tx,
        "locations",
        LOCATION_COLUMNS,
        &locations,
        true,
        |args, location| bind_location(args, location),
    )
    .await?;
    let households = changed(&before.households, &after.households);
    insert_rows::<B, _>(
        tx,
        "households",
        HOUSEHOLD_COLUMNS,
        &households,
        true,
        |args, household| bind_household(args, household),
    )
    .await?;
    let (added, updated): (Vec<&Person>, Vec<&Person>) = changed(&before.people, &after.people)
        .into_iter()
        .partition(|person| !before.people.contains_key(&person.id));
    let rebuilt = if added.len() >= BULK_INSERT_ROWS {
        let existing = count(
            B::fetch_all(tx, "SELECT COUNT(*) AS n FROM people", vec![])
                .await?
                .first()
                .ok_or_else(|| corrupt("no count of people"))?,
            "n",
        )?;
        if added.len() as u64 >= existing {
            B::rebuildable_indexes(tx, "people").await?
        } else {
            Vec::new()
        }
    } else {
        Vec::new()
    };
    for (name, _) in &rebuilt {
        B::execute_script(tx, &format!("DROP INDEX {name}")).await?;
    }
    insert_rows::<B, _>(
        tx,
        "people",
        PERSON_COLUMNS,
        &added,
        false,
        |args, person| bind_person(args, person),
    )
    .await?;
    insert_rows::<B, _>(
        tx,
        "people",
        PERSON_COLUMNS,
        &updated,
        true,
        |args, person| bind_person(args, person),
    )
    .await?;
    for (_, create) in &rebuilt {
        B::execute_script(tx, create).await?;
    }
    let incidents = changed(&before.incidents, &after.incidents);
    insert_rows::<B, _>(
        tx,
        "incidents",
        INCIDENT_COLUMNS,
        &incidents,
        true,
        |args, incident| bind_incident(args, incident),
    )
    .await?;
    let batches = changed(&before.batches, &after.batches);
    insert_rows::<B, _>(
        tx,
        "batches",
        BATCH_COLUMNS,
        &batches,
        true,
        |args, batch| bind_batch(args, batch),
    )
    .await
}

/// Moves the waiting-by-day and presence counts by the changes to these people.
async fn update_aggregates<B: Backend>(
    tx: &mut Tx<B>,
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
             ON CONFLICT (month) DO UPDATE SET entered = flow_by_month.entered + excluded.entered, \
             departed = flow_by_month.departed + excluded.departed",
            vec!["(?, ?, ?)"; rows.len()].join(", ")
        );
        let arguments = rows
            .into_iter()
            .flat_map(|(month, (entered, departed))| {
                [
                    Value::Text(month),
                    Value::Int(entered),
                    Value::Int(departed),
                ]
            })
            .collect();
        B::execute(tx, &sql, arguments).await?;
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
             ON CONFLICT (location, since) DO UPDATE SET people = waiting_by_day.people + excluded.people",
            vec!["(?, ?, ?)"; chunk.len()].join(", ")
        );
        let arguments = chunk
            .iter()
            .flat_map(|((location, since), delta)| {
                [location.into(), since.into(), Value::Int(*delta)]
            })
            .collect();
        B::execute(tx, &sql, arguments).await?;
    }
    let present: Vec<(String, i64)> = present
        .into_iter()
        .filter(|(_, delta)| *delta != 0)
        .collect();
    for chunk in present.chunks(MAX_PARAMS / 2) {
        let sql = format!(
            "INSERT INTO presence (location, present) VALUES {} \
             ON CONFLICT (location) DO UPDATE SET present = presence.present + excluded.present",
            vec!["(?, ?)"; chunk.len()].join(", ")
        );
        let arguments = chunk
            .iter()
            .flat_map(|(location, delta)| [location.into(), Value::Int(*delta)])
            .collect();
        B::execute(tx, &sql, arguments).await?;
    }
    if !waiting.is_empty() {
        B::execute(tx, "DELETE FROM waiting_by_day WHERE people = 0", vec![]).await?;
    }
    Ok(())
}

async fn append_access<B: Backend>(
    tx: &mut Tx<B>,
    entries: Vec<NewAccessEntry>,
    hasher: ChainHasher,
) -> StoreResult<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let head = B::fetch_all(
        tx,
        "SELECT seq, hash FROM access_log ORDER BY seq DESC LIMIT 1",
        vec![],
    )
    .await?;
    let (mut seq, mut prev_hash) = match head.first() {
        Some(row) => (row.int("seq")?, row.text("hash")?),
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
        )
        .map_err(canonical_failed)?;
        let hash = hasher(&prev_hash, &canonical);
        B::execute(
            tx,
            "INSERT INTO access_log (seq, at, actor, action, subject, detail, prev_hash, hash) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            vec![
                Value::Int(seq),
                at.into(),
                entry.actor.into(),
                entry.action.into(),
                entry.subject.into(),
                entry.detail.into(),
                Value::from(&prev_hash),
                Value::from(&hash),
            ],
        )
        .await?;
        prev_hash = hash;
    }
    Ok(())
}
