//! The six kinds of record, each stored in its own table: one `Record` impl per kind says
//! its table, columns, row encoding, version and label, and everything that loads, writes,
//! guards or names records is written once over the trait.

use super::codec::*;
use super::{BULK_INSERT_ROWS, MAX_PARAMS, Tx, insert_rows};
use crate::backend::{Backend, Fields, Value, corrupt};
use crate::*;
use std::collections::{BTreeMap, BTreeSet};

/// A kind of record: a table of rows and one of the projected state's maps.
pub(super) trait Record: Sized + PartialEq + Send + Sync + 'static {
    type Id: Ord + Copy + std::fmt::Display + Send + Sync + 'static;
    /// What messages call it ("person").
    const KIND: &'static str;
    const TABLE: &'static str;
    /// The columns, in the order `bind` writes them; the first is the id.
    const COLUMNS: &'static [&'static str];

    fn id(&self) -> Self::Id;
    fn version(&self) -> i64;
    /// How messages name it: its code (a user: the user name).
    fn label(&self) -> &str;
    /// Appends the row's values, one per column.
    fn bind(&self, args: &mut Vec<Value>);
    fn decode<R: Fields>(row: &R) -> StoreResult<Self>;
    fn of(state: &State) -> &BTreeMap<Self::Id, Self>;
    fn of_mut(state: &mut State) -> &mut BTreeMap<Self::Id, Self>;
}

impl Record for User {
    type Id = UserId;
    const KIND: &'static str = "user";
    const TABLE: &'static str = "users";
    const COLUMNS: &'static [&'static str] =
        &["id", "name", "role", "locations", "active", "version"];

    fn id(&self) -> Self::Id {
        self.id
    }
    fn version(&self) -> i64 {
        self.version
    }
    fn label(&self) -> &str {
        &self.name
    }
    fn bind(&self, args: &mut Vec<Value>) {
        args.push(Value::from(self.id.to_string()));
        args.push(Value::from(self.name.clone()));
        args.push(Value::from(self.role.as_str()));
        args.push(Value::from(json_text(&self.locations)));
        args.push(Value::from(self.active));
        args.push(Value::from(self.version));
    }
    fn decode<R: Fields>(row: &R) -> StoreResult<Self> {
        Ok(User {
            id: UserId(parse_uuid(&row.text("id")?)?),
            name: row.text("name")?,
            role: parse_word(&row.text("role")?)?,
            locations: serde_json::from_str(&row.text("locations")?).map_err(corrupt)?,
            active: row.boolean("active")?,
            version: row.int("version")?,
        })
    }
    fn of(state: &State) -> &BTreeMap<Self::Id, Self> {
        &state.users
    }
    fn of_mut(state: &mut State) -> &mut BTreeMap<Self::Id, Self> {
        &mut state.users
    }
}

impl Record for Location {
    type Id = LocationId;
    const KIND: &'static str = "location";
    const TABLE: &'static str = "locations";
    const COLUMNS: &'static [&'static str] = &[
        "id", "code", "kind", "country", "capacity", "name", "address", "version",
    ];

    fn id(&self) -> Self::Id {
        self.id
    }
    fn version(&self) -> i64 {
        self.version
    }
    fn label(&self) -> &str {
        &self.code
    }
    fn bind(&self, args: &mut Vec<Value>) {
        args.push(Value::from(self.id.to_string()));
        args.push(Value::from(self.code.clone()));
        args.push(Value::from(self.kind.as_str()));
        args.push(Value::from(self.country.clone()));
        args.push(Value::from(i64::from(self.capacity)));
        args.push(Value::from(
            self.name.as_ref().map(|sealed| sealed.0.clone()),
        ));
        args.push(Value::from(
            self.address.as_ref().map(|sealed| sealed.0.clone()),
        ));
        args.push(Value::from(self.version));
    }
    fn decode<R: Fields>(row: &R) -> StoreResult<Self> {
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
    fn of(state: &State) -> &BTreeMap<Self::Id, Self> {
        &state.locations
    }
    fn of_mut(state: &mut State) -> &mut BTreeMap<Self::Id, Self> {
        &mut state.locations
    }
}

impl Record for Household {
    type Id = HouseholdId;
    const KIND: &'static str = "household";
    const TABLE: &'static str = "households";
    const COLUMNS: &'static [&'static str] = &["id", "code", "head", "split_allowed", "version"];

    fn id(&self) -> Self::Id {
        self.id
    }
    fn version(&self) -> i64 {
        self.version
    }
    fn label(&self) -> &str {
        &self.code
    }
    fn bind(&self, args: &mut Vec<Value>) {
        args.push(Value::from(self.id.to_string()));
        args.push(Value::from(self.code.clone()));
        args.push(Value::from(self.head.map(|id| id.to_string())));
        args.push(Value::from(self.split_allowed));
        args.push(Value::from(self.version));
    }
    fn decode<R: Fields>(row: &R) -> StoreResult<Self> {
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
    fn of(state: &State) -> &BTreeMap<Self::Id, Self> {
        &state.households
    }
    fn of_mut(state: &mut State) -> &mut BTreeMap<Self::Id, Self> {
        &mut state.households
    }
}

impl Record for Person {
    type Id = PersonId;
    const KIND: &'static str = "person";
    const TABLE: &'static str = "people";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "code",
        "household",
        "sex",
        "birth_year",
        "flags",
        "stage",
        "location",
        "since",
        "waiting_since",
        // Derived (the list order), written with every change, never read back.
        "queue_since",
        "entered",
        "documents_ready",
        "screening_done",
        "hold",
        "sealed",
        "name_index",
        "duplicate_index",
        "merged_into",
        "purged",
        "version",
    ];

    fn id(&self) -> Self::Id {
        self.id
    }
    fn version(&self) -> i64 {
        self.version
    }
    fn label(&self) -> &str {
        &self.code
    }
    fn bind(&self, args: &mut Vec<Value>) {
        args.push(Value::from(self.id.to_string()));
        args.push(Value::from(self.code.clone()));
        args.push(Value::from(self.household.to_string()));
        args.push(Value::from(self.sex.as_str()));
        args.push(Value::from(self.birth_year.map(i64::from)));
        args.push(Value::from(flags_text(&self.flags)));
        args.push(Value::from(self.stage.as_str()));
        args.push(Value::from(self.location.to_string()));
        args.push(Value::from(text_date(self.since)));
        args.push(Value::from(self.waiting_since.map(text_date)));
        args.push(Value::from(text_date(self.queue_since())));
        args.push(Value::from(text_date(self.entered)));
        args.push(Value::from(self.documents_ready));
        args.push(Value::from(self.screening_done));
        args.push(Value::from(
            self.hold.map(|reason| reason.as_str().to_string()),
        ));
        args.push(Value::from(json_text(&self.sealed)));
        args.push(Value::from(self.name_index));
        args.push(Value::from(self.duplicate_index));
        args.push(Value::from(self.merged_into.map(|id| id.to_string())));
        args.push(Value::from(self.purged.map(text_date)));
        args.push(Value::from(self.version));
    }
    fn decode<R: Fields>(row: &R) -> StoreResult<Self> {
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
            waiting_since: row
                .opt_text("waiting_since")?
                .map(|text| parse_date(&text))
                .transpose()?,
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
            merged_into: row
                .opt_text("merged_into")?
                .map(|text| parse_uuid(&text).map(PersonId))
                .transpose()?,
            purged: row
                .opt_text("purged")?
                .map(|text| parse_date(&text))
                .transpose()?,
            version: row.int("version")?,
        })
    }
    fn of(state: &State) -> &BTreeMap<Self::Id, Self> {
        &state.people
    }
    fn of_mut(state: &mut State) -> &mut BTreeMap<Self::Id, Self> {
        &mut state.people
    }
}

impl Record for Note {
    type Id = NoteId;
    const KIND: &'static str = "note";
    const TABLE: &'static str = "notes";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "person",
        "author",
        "written",
        "text",
        "follow_up",
        "follow_up_done",
        "version",
    ];

    fn id(&self) -> Self::Id {
        self.id
    }
    fn version(&self) -> i64 {
        self.version
    }
    fn label(&self) -> &str {
        // Notes have no code of their own; they are named through their person.
        "on a person"
    }
    fn bind(&self, args: &mut Vec<Value>) {
        args.push(Value::from(self.id.to_string()));
        args.push(Value::from(self.person.to_string()));
        args.push(Value::from(self.author.to_string()));
        args.push(Value::from(text_date(self.written)));
        args.push(Value::from(self.text.0.clone()));
        args.push(Value::from(self.follow_up.map(text_date)));
        args.push(Value::from(self.follow_up_done.map(text_date)));
        args.push(Value::from(self.version));
    }
    fn decode<R: Fields>(row: &R) -> StoreResult<Self> {
        let date = |column: &str| -> StoreResult<Option<time::Date>> {
            row.opt_text(column)?
                .map(|text| parse_date(&text))
                .transpose()
        };
        Ok(Note {
            id: NoteId(parse_uuid(&row.text("id")?)?),
            person: PersonId(parse_uuid(&row.text("person")?)?),
            author: UserId(parse_uuid(&row.text("author")?)?),
            written: parse_date(&row.text("written")?)?,
            text: Sealed(row.text("text")?),
            follow_up: date("follow_up")?,
            follow_up_done: date("follow_up_done")?,
            version: row.int("version")?,
        })
    }
    fn of(state: &State) -> &BTreeMap<Self::Id, Self> {
        &state.notes
    }
    fn of_mut(state: &mut State) -> &mut BTreeMap<Self::Id, Self> {
        &mut state.notes
    }
}

impl Record for Incident {
    type Id = IncidentId;
    const KIND: &'static str = "incident";
    const TABLE: &'static str = "incidents";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "code",
        "location",
        "kind",
        "severity",
        "people",
        "status",
        "occurred",
        "occurred_time",
        "closed",
        "narrative",
        "version",
    ];

    fn id(&self) -> Self::Id {
        self.id
    }
    fn version(&self) -> i64 {
        self.version
    }
    fn label(&self) -> &str {
        &self.code
    }
    fn bind(&self, args: &mut Vec<Value>) {
        args.push(Value::from(self.id.to_string()));
        args.push(Value::from(self.code.clone()));
        args.push(Value::from(self.location.to_string()));
        args.push(Value::from(self.kind.as_str()));
        args.push(Value::from(i64::from(self.severity)));
        args.push(Value::from(json_text(&self.people)));
        args.push(Value::from(self.status.as_str()));
        args.push(Value::from(text_date(self.occurred)));
        args.push(Value::from(self.occurred_time.map(time_of_day_text)));
        args.push(Value::from(self.closed.map(text_date)));
        args.push(Value::from(
            self.narrative.as_ref().map(|sealed| sealed.0.clone()),
        ));
        args.push(Value::from(self.version));
    }
    fn decode<R: Fields>(row: &R) -> StoreResult<Self> {
        Ok(Incident {
            id: IncidentId(parse_uuid(&row.text("id")?)?),
            code: row.text("code")?,
            location: LocationId(parse_uuid(&row.text("location")?)?),
            kind: parse_word(&row.text("kind")?)?,
            severity: u8::try_from(row.int("severity")?).map_err(corrupt)?,
            people: serde_json::from_str(&row.text("people")?).map_err(corrupt)?,
            status: parse_word(&row.text("status")?)?,
            occurred: parse_date(&row.text("occurred")?)?,
            occurred_time: row
                .opt_text("occurred_time")?
                .map(|text| parse_time_of_day(&text).ok_or_else(|| corrupt("a time of day")))
                .transpose()?,
            closed: row
                .opt_text("closed")?
                .map(|text| parse_date(&text))
                .transpose()?,
            narrative: sealed_opt(row.opt_text("narrative")?),
            version: row.int("version")?,
        })
    }
    fn of(state: &State) -> &BTreeMap<Self::Id, Self> {
        &state.incidents
    }
    fn of_mut(state: &mut State) -> &mut BTreeMap<Self::Id, Self> {
        &mut state.incidents
    }
}

impl Record for TransferBatch {
    type Id = BatchId;
    const KIND: &'static str = "batch";
    const TABLE: &'static str = "batches";
    const COLUMNS: &'static [&'static str] = &[
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

    fn id(&self) -> Self::Id {
        self.id
    }
    fn version(&self) -> i64 {
        self.version
    }
    fn label(&self) -> &str {
        &self.code
    }
    fn bind(&self, args: &mut Vec<Value>) {
        args.push(Value::from(self.id.to_string()));
        args.push(Value::from(self.code.clone()));
        args.push(Value::from(text_date(self.departure)));
        args.push(Value::from(i64::from(self.seats)));
        args.push(Value::from(json_text(&self.origins)));
        args.push(Value::from(self.destination.to_string()));
        args.push(Value::from(self.status.as_str()));
        args.push(Value::from(json_text(&self.manifest)));
        args.push(Value::from(json_text(&self.pins)));
        args.push(Value::from(self.version));
    }
    fn decode<R: Fields>(row: &R) -> StoreResult<Self> {
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
    fn of(state: &State) -> &BTreeMap<Self::Id, Self> {
        &state.batches
    }
    fn of_mut(state: &mut State) -> &mut BTreeMap<Self::Id, Self> {
        &mut state.batches
    }
}

/// A record named by a `RecordRef`, looked up in a state: the one place that maps a
/// reference to its kind.
pub(super) struct Lookup<'a> {
    kind: &'static str,
    pub table: &'static str,
    pub id: String,
    /// (version, label) when the state holds it.
    found: Option<(i64, &'a str)>,
}

impl<'a> Lookup<'a> {
    pub fn of(state: &'a State, record: &RecordRef) -> Lookup<'a> {
        match *record {
            RecordRef::User(id) => Lookup::kind::<User>(state, id),
            RecordRef::Location(id) => Lookup::kind::<Location>(state, id),
            RecordRef::Household(id) => Lookup::kind::<Household>(state, id),
            RecordRef::Person(id) => Lookup::kind::<Person>(state, id),
            RecordRef::Incident(id) => Lookup::kind::<Incident>(state, id),
            RecordRef::Note(id) => Lookup::kind::<Note>(state, id),
            RecordRef::Batch(id) => Lookup::kind::<TransferBatch>(state, id),
        }
    }

    fn kind<R: Record>(state: &'a State, id: R::Id) -> Lookup<'a> {
        Lookup {
            kind: R::KIND,
            table: R::TABLE,
            id: id.to_string(),
            found: R::of(state)
                .get(&id)
                .map(|record| (record.version(), record.label())),
        }
    }

    pub fn version(&self) -> Option<i64> {
        self.found.map(|(version, _)| version)
    }

    /// "person P-XXXXX", or the id when the state does not hold it.
    pub fn describe(&self) -> String {
        match self.found {
            Some((_, label)) => format!("{} {label}", self.kind),
            None => format!("{} {}", self.kind, self.id),
        }
    }
}

/// Loads rows of `R` whose id is in `ids`, in chunks, into the state.
async fn load_by_ids<B: Backend, R: Record>(
    tx: &mut Tx<B>,
    state: &mut State,
    ids: &[String],
) -> StoreResult<()> {
    for chunk in ids.chunks(MAX_PARAMS) {
        let sql = format!(
            "SELECT * FROM {} WHERE id IN ({})",
            R::TABLE,
            vec!["?"; chunk.len()].join(", ")
        );
        let arguments = chunk.iter().map(Value::from).collect();
        for row in B::fetch_all(tx, &sql, arguments).await? {
            let record = R::decode(&row)?;
            R::of_mut(state).insert(record.id(), record);
        }
    }
    Ok(())
}

/// Loads the records an event batch touches into a partial state.
pub(super) async fn load_touched<B: Backend>(
    tx: &mut Tx<B>,
    refs: &BTreeSet<RecordRef>,
) -> StoreResult<State> {
    let empty = State::default();
    let mut ids: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for record in refs {
        let lookup = Lookup::of(&empty, record);
        ids.entry(lookup.table).or_default().push(lookup.id);
    }
    let none = Vec::new();
    let ids_of = |table: &str| ids.get(table).unwrap_or(&none);
    let mut state = State::default();
    load_by_ids::<B, User>(tx, &mut state, ids_of(User::TABLE)).await?;
    load_by_ids::<B, Location>(tx, &mut state, ids_of(Location::TABLE)).await?;
    load_by_ids::<B, Household>(tx, &mut state, ids_of(Household::TABLE)).await?;
    load_by_ids::<B, Person>(tx, &mut state, ids_of(Person::TABLE)).await?;
    load_by_ids::<B, Incident>(tx, &mut state, ids_of(Incident::TABLE)).await?;
    load_by_ids::<B, Note>(tx, &mut state, ids_of(Note::TABLE)).await?;
    load_by_ids::<B, TransferBatch>(tx, &mut state, ids_of(TransferBatch::TABLE)).await?;
    Ok(state)
}

/// Every record of `R` into the state.
pub(super) fn fill<R: Record>(state: &mut State, rows: &[impl Fields]) -> StoreResult<()> {
    for row in rows {
        let record = R::decode(row)?;
        R::of_mut(state).insert(record.id(), record);
    }
    Ok(())
}

/// The records of `after` that are new or differ from `before`.
pub(super) fn changed<'a, R: Record>(before: &State, after: &'a State) -> Vec<&'a R> {
    let before = R::of(before);
    R::of(after)
        .iter()
        .filter(|(id, record)| before.get(id) != Some(record))
        .map(|(_, record)| record)
        .collect()
}

/// Upserts the records of `R` that changed.
async fn write_changed<B: Backend, R: Record>(
    tx: &mut Tx<B>,
    before: &State,
    after: &State,
) -> StoreResult<()> {
    let records = changed::<R>(before, after);
    insert_rows::<B, _>(tx, R::TABLE, R::COLUMNS, &records, true, |args, record| {
        record.bind(args)
    })
    .await
}

/// Writes every record that changed between `before` and `after`: new people as plain
/// inserts (a large first import drops and rebuilds the people indexes around them), every
/// other change as an upsert.
pub(super) async fn write_records<B: Backend>(
    tx: &mut Tx<B>,
    before: &State,
    after: &State,
) -> StoreResult<()> {
    write_changed::<B, User>(tx, before, after).await?;
    write_changed::<B, Location>(tx, before, after).await?;
    write_changed::<B, Household>(tx, before, after).await?;
    let (added, updated): (Vec<&Person>, Vec<&Person>) = changed::<Person>(before, after)
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
        Person::COLUMNS,
        &added,
        false,
        |args, person| person.bind(args),
    )
    .await?;
    insert_rows::<B, _>(
        tx,
        "people",
        Person::COLUMNS,
        &updated,
        true,
        |args, person| person.bind(args),
    )
    .await?;
    for (_, create) in &rebuilt {
        B::execute_script(tx, create).await?;
    }
    write_changed::<B, Incident>(tx, before, after).await?;
    write_changed::<B, Note>(tx, before, after).await?;
    write_changed::<B, TransferBatch>(tx, before, after).await
}
