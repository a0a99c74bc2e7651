//! The seven kinds of record, each stored in its own table: one `Record` impl per kind says
//! its table, columns, row encoding, version and label, and everything that loads, writes,
//! guards or names records is written once over the trait. The seven impls are in
//! `kinds.rs`.

use super::codec::*;
use super::{BULK_INSERT_ROWS, MAX_PARAMS, Tx, insert_rows};
use crate::backend::{Backend, Fields, Value, corrupt};
use crate::*;
use std::collections::{BTreeMap, BTreeSet};

mod kinds;

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
