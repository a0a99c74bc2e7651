//! Copying an organisation into a new database (`refuge migrate`), and counting what each
//! table holds.

use super::aggregates::update_aggregates;
use super::codec::*;
use super::commit::{
    RECORD_KEY_COLUMNS, bind_record_key, insert_compartment, insert_token, set_meta,
    upsert_holder_wrap,
};
use super::merge::insert_merge_rows;
use super::records::write_records;
use super::{SqlStore, Tx, insert_rows};
use crate::backend::{Backend, Value, corrupt, db_error};
use crate::*;
use std::collections::{BTreeMap, HashMap};

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
    ("notes", ""),
    ("batches", ""),
    ("access_log", ""),
    ("api_tokens", ""),
    ("user_keys", ""),
    ("compartments", ""),
    ("compartment_wraps", ""),
    ("record_keys", ""),
    ("local_codes", ""),
    ("receipts", ""),
    ("conflicts", ""),
    ("waiting_by_day", " WHERE people <> 0"),
    ("waiting_by_wish", " WHERE people <> 0"),
    ("presence", " WHERE present <> 0"),
    ("flow_by_month", " WHERE entered <> 0 OR departed <> 0"),
];

/// Events copied per page by `copy_from`.
const COPY_PAGE: u32 = 5_000;

impl<B: Backend> SqlStore<B> {
    pub(super) async fn copy_organisation(&self, source: &dyn Store) -> StoreResult<u64> {
        let mut tx = B::begin_write(&self.pool).await?;
        let existing = B::fetch_all(&mut tx, "SELECT seq FROM events LIMIT 1", vec![]).await?;
        if !existing.is_empty() {
            return Err(StoreError::AlreadyExists(
                "the destination: it already holds an organisation".to_string(),
            ));
        }
        let mut node = None;
        for (key, value) in source.all_meta().await? {
            if key == "node_id" {
                node = Some(value.clone());
            }
            set_meta::<B>(&mut tx, key, value).await?;
        }
        // Since when this installation held the events it received goes with each event;
        // other nodes' receipts into their table.
        let exchange = source.exchange_tables().await?;
        let (own, others): (Vec<Receipt>, Vec<Receipt>) = exchange
            .receipts
            .into_iter()
            .partition(|receipt| Some(receipt.node.to_string()) == node);
        let received: HashMap<EventId, i64> = own
            .into_iter()
            .map(|receipt| (receipt.event, receipt.hlc))
            .collect();
        let copied = copy_events::<B>(&mut tx, source, &received).await?;
        let state = source.load_state().await?;
        write_records::<B>(&mut tx, &State::default(), &state).await?;
        copy_keys::<B>(&mut tx, source).await?;
        copy_access_log::<B>(&mut tx, source).await?;
        insert_merge_rows::<B>(&mut tx, &exchange.local_codes, &others, &exchange.conflicts)
            .await?;
        // The aggregates are recounted here; `refuge verify` checks them against the log.
        let people: Vec<&Person> = state.people.values().collect();
        // The flow counts departures too, which a recount from the people table cannot: it is
        // copied as it is.
        update_aggregates::<B>(&mut tx, &BTreeMap::new(), &people, BTreeMap::new()).await?;
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

    pub(super) async fn count_tables(&self) -> StoreResult<Vec<(String, u64)>> {
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
}

/// The source's log, page by page, as it is (ids, numbers, clocks and hashes). Returns how
/// many events.
async fn copy_events<B: Backend>(
    tx: &mut Tx<B>,
    source: &dyn Store,
    received: &HashMap<EventId, i64>,
) -> StoreResult<u64> {
    let mut copied = 0;
    let mut cursor = None;
    loop {
        let page = source.events_page(cursor, COPY_PAGE).await?;
        let Some(last) = page.last() else { break };
        cursor = Some(EventCursor::of(last));
        copied += page.len() as u64;
        let rows: Vec<(Event, String, Option<i64>)> = page
            .into_iter()
            .map(|event| {
                let body = event.body_json().map_err(canonical_failed)?;
                let since = received.get(&event.id).copied();
                Ok((event, body, since))
            })
            .collect::<StoreResult<_>>()?;
        insert_rows::<B, _>(
            tx,
            "events",
            &received_event_columns(),
            &rows,
            false,
            bind_received_event,
        )
        .await?;
    }
    Ok(copied)
}

/// Every key table: passphrase and token wraps, API tokens, user keys, compartments, their
/// holders' wraps, record keys.
async fn copy_keys<B: Backend>(tx: &mut Tx<B>, source: &dyn Store) -> StoreResult<()> {
    for (credential, user, wrapped) in source.key_wraps().await? {
        B::execute(
            tx,
            "INSERT INTO key_wraps (credential, user_id, wrapped) VALUES (?, ?, ?)",
            vec![credential.into(), user.to_string().into(), wrapped.into()],
        )
        .await?;
    }
    for token in source.api_tokens().await? {
        insert_token::<B>(tx, token).await?;
    }
    let keys = source.key_tables().await?;
    for (user, public_key) in keys.user_keys {
        B::execute(
            tx,
            "INSERT INTO user_keys (user_id, public_key) VALUES (?, ?)",
            vec![user.to_string().into(), public_key.into()],
        )
        .await?;
    }
    for key in keys.compartments {
        insert_compartment::<B>(tx, key).await?;
    }
    for wrap in keys.holder_wraps {
        upsert_holder_wrap::<B>(tx, wrap).await?;
    }
    insert_rows::<B, _>(
        tx,
        "record_keys",
        RECORD_KEY_COLUMNS,
        &keys.record_keys,
        false,
        bind_record_key,
    )
    .await?;
    Ok(())
}

/// The access log as it is, its chain included.
async fn copy_access_log<B: Backend>(tx: &mut Tx<B>, source: &dyn Store) -> StoreResult<()> {
    let access = source.access_log(None).await?;
    insert_rows::<B, _>(
        tx,
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
    Ok(())
}
