//! The write transaction: the chain head, the touched records, the guards, the projection,
//! the records and aggregates, the chained events, side writes and the access log, all or
//! nothing.

use super::aggregates::update_aggregates;
use super::codec::*;
use super::records::{Lookup, changed, load_touched, write_records};
use super::{SqlStore, Tx, insert_rows};
use crate::backend::{Backend, Fields, Value, corrupt, db_error};
use crate::types::access_canonical;
use crate::*;
use refuge_core::event::{GENESIS_HASH, hlc_next};
use std::collections::BTreeSet;
use time::format_description::well_known::Rfc3339;

/// Batches of at least this many events are chained on a thread of their own.
pub(super) const PARALLEL_CHAIN_EVENTS: usize = 1_000;

impl<B: Backend> SqlStore<B> {
    pub(super) async fn write_commit(
        &self,
        commit: Commit,
        hasher: ChainHasher,
    ) -> StoreResult<Vec<Event>> {
        let mut tx = B::begin_write(&self.pool).await?;
        let node = node_id_in::<B>(&mut tx).await?;
        let head = B::fetch_all(
            &mut tx,
            "SELECT seq, hash FROM events WHERE node = ? ORDER BY seq DESC LIMIT 1",
            vec![node.to_string().into()],
        )
        .await?;
        let (seq, prev_hash) = match head.first() {
            Some(row) => (row.int("seq")?, row.text("hash")?),
            None => (0, GENESIS_HASH.to_string()),
        };
        // The clock goes on from the newest event held, received ones too: what is written
        // here after a merge comes after what was merged, on every installation.
        let newest = B::fetch_all(
            &mut tx,
            "SELECT COALESCE(MAX(hlc), 0) AS hlc FROM events",
            vec![],
        )
        .await?;
        let hlc = match newest.first() {
            Some(row) => row.int("hlc")?,
            None => 0,
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
        // The monthly flow a write adds, from its events (not from the state before and after,
        // which misses people added and departed in one write).
        let flow = monthly_flow(commit.events.iter().map(|event| &event.body));
        let new_events = commit.events;
        let chain = move || chain_events(new_events, node, seq, hlc, prev_hash, now_millis, hasher);
        let chained = if new_events_len >= PARALLEL_CHAIN_EVENTS {
            Ok(tokio::task::spawn_blocking(chain))
        } else {
            Err(chain)
        };
        let people = changed::<Person>(&before, &state);
        write_records::<B>(&mut tx, &before, &state).await?;
        update_aggregates::<B>(&mut tx, &before.people, &people, flow).await?;
        let events = match chained {
            Ok(task) => task
                .await
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic.into_panic())),
            Err(chain) => chain(),
        }?;
        insert_rows::<B, _>(&mut tx, "events", EVENT_COLUMNS, &events, false, bind_event).await?;
        apply_side_writes::<B>(&mut tx, commit.side_writes).await?;
        append_access::<B>(&mut tx, commit.access, hasher).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(events.into_iter().map(|(event, _)| event).collect())
    }
}

/// This installation's node id.
pub(super) async fn node_id_in<B: Backend>(tx: &mut Tx<B>) -> StoreResult<NodeId> {
    let node_rows =
        B::fetch_all(tx, "SELECT value FROM meta WHERE key = 'node_id'", vec![]).await?;
    let node = node_rows
        .first()
        .ok_or_else(|| corrupt("no node id in meta"))?
        .text("value")?;
    Ok(NodeId(parse_uuid(&node)?))
}

/// Record keys destroyed per statement (well inside both backends' parameter limits).
const DROP_PAGE: usize = 500;

/// The side writes of a commit, in order (record keys gathered into multi-row inserts).
pub(super) async fn apply_side_writes<B: Backend>(
    tx: &mut Tx<B>,
    side_writes: Vec<SideWrite>,
) -> StoreResult<()> {
    // Record keys go in many rows at a time (an import wraps one per person).
    let mut record_keys = Vec::new();
    for write in side_writes {
        match write {
            SideWrite::RecordKey(key) => record_keys.push(key),
            other => apply_side_write::<B>(tx, other).await?,
        }
    }
    insert_rows::<B, _>(
        tx,
        "record_keys",
        RECORD_KEY_COLUMNS,
        &record_keys,
        true,
        bind_record_key,
    )
    .await?;
    Ok(())
}

/// One side write: each kind one statement, or a helper of its own.
async fn apply_side_write<B: Backend>(tx: &mut Tx<B>, write: SideWrite) -> StoreResult<()> {
    match write {
        SideWrite::KeyWrap {
            credential,
            user,
            wrapped,
        } => {
            B::execute(
                tx,
                "INSERT INTO key_wraps (credential, user_id, wrapped) VALUES (?, ?, ?) \
                 ON CONFLICT (credential) DO UPDATE SET user_id = excluded.user_id, wrapped = excluded.wrapped",
                vec![credential.into(), user.to_string().into(), wrapped.into()],
            )
            .await?;
        }
        SideWrite::Meta { key, value } => set_meta::<B>(tx, key, value).await?,
        SideWrite::DropKeyWrap { credential } => {
            delete_where::<B>(tx, "key_wraps", "credential", credential).await?;
        }
        SideWrite::DropMeta { key } => delete_where::<B>(tx, "meta", "key", key).await?,
        SideWrite::TokenLabel { id, label } => {
            B::execute(
                tx,
                "UPDATE api_tokens SET label = ? WHERE id = ?",
                vec![label.into(), id.into()],
            )
            .await?;
        }
        SideWrite::ApiToken(token) => insert_token::<B>(tx, token).await?,
        SideWrite::RevokeApiToken { id, credential, at } => {
            revoke_token::<B>(tx, id, credential, at).await?;
        }
        SideWrite::UserKey { user, public_key } => {
            B::execute(
                tx,
                "INSERT INTO user_keys (user_id, public_key) VALUES (?, ?) \
                 ON CONFLICT (user_id) DO UPDATE SET public_key = excluded.public_key",
                vec![user.to_string().into(), public_key.into()],
            )
            .await?;
        }
        SideWrite::Compartment(key) => insert_compartment::<B>(tx, key).await?,
        SideWrite::HolderWrap(wrap) => upsert_holder_wrap::<B>(tx, wrap).await?,
        SideWrite::DropHolderWraps { holder } => {
            delete_where::<B>(tx, "compartment_wraps", "holder", holder).await?;
        }
        SideWrite::DropGeneration {
            compartment,
            generation,
        } => {
            for table in ["compartment_wraps", "compartments"] {
                B::execute(
                    tx,
                    &format!("DELETE FROM {table} WHERE compartment = ? AND generation = ?"),
                    vec![compartment.clone().into(), Value::Int(generation)],
                )
                .await?;
            }
        }
        SideWrite::DropRecordKeys { records } => drop_record_keys::<B>(tx, &records).await?,
        // Gathered into multi-row inserts by `apply_side_writes`; one alone is one row.
        SideWrite::RecordKey(key) => {
            insert_rows::<B, _>(
                tx,
                "record_keys",
                RECORD_KEY_COLUMNS,
                &[key],
                true,
                bind_record_key,
            )
            .await?;
        }
    }
    Ok(())
}

/// `DELETE FROM table WHERE column = value`; table and column are this module's constants.
async fn delete_where<B: Backend>(
    tx: &mut Tx<B>,
    table: &str,
    column: &str,
    value: String,
) -> StoreResult<()> {
    B::execute(
        tx,
        &format!("DELETE FROM {table} WHERE {column} = ?"),
        vec![value.into()],
    )
    .await?;
    Ok(())
}

/// A token revoked once (a second revocation is a conflict), its key wrap gone with it.
async fn revoke_token<B: Backend>(
    tx: &mut Tx<B>,
    id: String,
    credential: String,
    at: String,
) -> StoreResult<()> {
    let revoked = B::execute(
        tx,
        "UPDATE api_tokens SET revoked = ? WHERE id = ? AND revoked IS NULL",
        vec![at.into(), id.into()],
    )
    .await?;
    if revoked == 0 {
        return Err(StoreError::Conflict {
            what: "the token".to_string(),
        });
    }
    delete_where::<B>(tx, "key_wraps", "credential", credential).await
}

/// Record keys destroyed, a page of ids per statement.
async fn drop_record_keys<B: Backend>(tx: &mut Tx<B>, records: &[String]) -> StoreResult<()> {
    for page in records.chunks(DROP_PAGE) {
        let placeholders = vec!["?"; page.len()].join(", ");
        B::execute(
            tx,
            &format!("DELETE FROM record_keys WHERE id IN ({placeholders})"),
            page.iter().cloned().map(Value::from).collect(),
        )
        .await?;
    }
    Ok(())
}

pub(super) async fn check_guards<B: Backend>(
    tx: &mut Tx<B>,
    state: &State,
    guards: &[Guard],
) -> StoreResult<()> {
    for guard in guards {
        match guard {
            Guard::Version { record, version } => {
                let lookup = Lookup::of(state, record);
                if lookup.version() != Some(*version) {
                    return Err(StoreError::Conflict {
                        what: lookup.describe(),
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

/// Numbers, stamps and chains new events after the head (`seq`, `hlc`, `prev_hash`): each
/// with its body's canonical JSON, computed once for the hash and the row.
pub(super) fn chain_events(
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

pub(super) async fn insert_token<B: Backend>(tx: &mut Tx<B>, token: ApiToken) -> StoreResult<()> {
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

/// Sets one setting of the `meta` table.
pub(super) async fn insert_compartment<B: Backend>(
    tx: &mut Tx<B>,
    key: CompartmentKey,
) -> StoreResult<()> {
    B::execute(
        tx,
        "INSERT INTO compartments (compartment, generation, public_key) VALUES (?, ?, ?)",
        vec![
            key.compartment.into(),
            Value::Int(key.generation),
            key.public_key.into(),
        ],
    )
    .await
    .map(drop)
}

pub(super) async fn upsert_holder_wrap<B: Backend>(
    tx: &mut Tx<B>,
    wrap: HolderWrap,
) -> StoreResult<()> {
    B::execute(
        tx,
        "INSERT INTO compartment_wraps (compartment, generation, holder, wrapped) \
         VALUES (?, ?, ?, ?) ON CONFLICT (compartment, generation, holder) \
         DO UPDATE SET wrapped = excluded.wrapped",
        vec![
            wrap.compartment.into(),
            Value::Int(wrap.generation),
            wrap.holder.into(),
            wrap.wrapped.into(),
        ],
    )
    .await
    .map(drop)
}

pub(super) const RECORD_KEY_COLUMNS: &[&str] = &["id", "compartment", "generation", "wrapped"];

pub(super) fn bind_record_key(arguments: &mut Vec<Value>, key: &RecordKey) {
    arguments.extend([
        key.record.as_str().into(),
        key.compartment.as_str().into(),
        Value::Int(key.generation),
        key.wrapped.as_str().into(),
    ]);
}

pub(super) async fn set_meta<B: Backend>(
    tx: &mut Tx<B>,
    key: String,
    value: String,
) -> StoreResult<()> {
    B::execute(
        tx,
        "INSERT INTO meta (key, value) VALUES (?, ?) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        vec![key.into(), value.into()],
    )
    .await
    .map(drop)
}

pub(super) async fn append_access<B: Backend>(
    tx: &mut Tx<B>,
    entries: Vec<NewAccessEntry>,
    hasher: ChainHasher,
) -> StoreResult<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let head = B::fetch_all(
        tx,
        "SELECT seq, at, hash FROM access_log ORDER BY seq DESC LIMIT 1",
        vec![],
    )
    .await?;
    let (mut seq, mut last_at, mut prev_hash) = match head.first() {
        Some(row) => (
            row.int("seq")?,
            Some(time::OffsetDateTime::parse(&row.text("at")?, &Rfc3339).map_err(corrupt)?),
            row.text("hash")?,
        ),
        None => (0, None, GENESIS_HASH.to_string()),
    };
    for entry in entries {
        seq += 1;
        // Entries are stamped when made but numbered under the write lock; two made at once
        // may arrive in either order. Never let time run backwards along the sequence.
        let at_time = last_at.map_or(entry.at, |last| entry.at.max(last));
        last_at = Some(at_time);
        let at = at_time.format(&Rfc3339).map_err(corrupt)?;
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
