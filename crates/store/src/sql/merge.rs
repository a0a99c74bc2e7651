//! Received events merged into the log (docs/exchange.md): refuge-app computes the merge, the
//! store writes it in one transaction onto the log it was computed from.

use super::aggregates::update_aggregates;
use super::codec::*;
use super::commit::{append_access, apply_side_writes};
use super::records::{changed, load_touched, write_records};
use super::{SqlStore, Tx, insert_rows};
use crate::backend::{Backend, Fields, Value, corrupt, db_error};
use crate::*;
use std::collections::{BTreeSet, HashSet};
use uuid::Uuid;

const RECEIPT_COLUMNS: &[&str] = &["node", "event", "hlc"];
const CONFLICT_COLUMNS: &[&str] = &["other", "record", "field", "shown", "detail"];
const LOCAL_CODE_COLUMNS: &[&str] = &["id", "code"];

/// This installation's receipts: the events it received, since when it held them.
const OWN_RECEIPTS: &str = "SELECT (SELECT value FROM meta WHERE key = 'node_id') AS node, \
     id AS event, received AS hlc FROM events WHERE received IS NOT NULL";

const LOG_MARK_SQL: &str = "SELECT COUNT(*) AS n, COALESCE(MAX(hlc), 0) AS last_hlc FROM events";

fn log_mark_of<R: Fields>(row: Option<&R>) -> StoreResult<LogMark> {
    let row = row.ok_or_else(|| corrupt("no count of events"))?;
    Ok(LogMark {
        events: count(row, "n")?,
        last_hlc: row.int("last_hlc")?,
    })
}

fn receipt_from_row<R: Fields>(row: &R) -> StoreResult<Receipt> {
    Ok(Receipt {
        node: NodeId(parse_uuid(&row.text("node")?)?),
        event: EventId(parse_uuid(&row.text("event")?)?),
        hlc: row.int("hlc")?,
    })
}

fn conflict_from_row<R: Fields>(row: &R) -> StoreResult<StoredConflict> {
    Ok(StoredConflict {
        other: EventId(parse_uuid(&row.text("other")?)?),
        record: parse_uuid(&row.text("record")?)?,
        field: row.text("field")?,
        shown: row
            .opt_text("shown")?
            .map(|id| parse_uuid(&id).map(EventId))
            .transpose()?,
        detail: row.text("detail")?,
    })
}

impl<B: Backend> SqlStore<B> {
    pub(super) async fn read_log_mark(&self) -> StoreResult<LogMark> {
        log_mark_of(self.rows(LOG_MARK_SQL, vec![]).await?.first())
    }

    pub(super) async fn read_records(&self, refs: &BTreeSet<RecordRef>) -> StoreResult<State> {
        // Read in a transaction of its own, rolled back: one consistent view of the records.
        let mut tx = B::begin_write(&self.pool).await?;
        load_touched::<B>(&mut tx, refs).await
    }

    pub(super) async fn read_local_codes(&self) -> StoreResult<Vec<(Uuid, String)>> {
        self.all("SELECT id, code FROM local_codes", vec![], |row| {
            Ok((parse_uuid(&row.text("id")?)?, row.text("code")?))
        })
        .await
    }

    pub(super) async fn read_receipts(&self, events: &[Uuid]) -> StoreResult<Vec<Receipt>> {
        let mut receipts = Vec::new();
        for page in events.chunks(super::KNOWN_PAGE) {
            let placeholders = vec!["?"; page.len()].join(", ");
            let sql = format!(
                "SELECT node, event, hlc FROM receipts WHERE event IN ({placeholders}) \
                 UNION ALL {OWN_RECEIPTS} AND id IN ({placeholders})"
            );
            let ids = page.iter().map(|id| Value::from(id.to_string()));
            let arguments = ids.clone().chain(ids).collect();
            receipts.extend(self.all(&sql, arguments, receipt_from_row).await?);
        }
        Ok(receipts)
    }

    /// Every conflict a merge left, settled or not.
    async fn read_all_conflicts(&self) -> StoreResult<Vec<StoredConflict>> {
        self.all(
            "SELECT * FROM conflicts ORDER BY record, field, other",
            vec![],
            conflict_from_row,
        )
        .await
    }

    /// The conflicts no `conflict_resolved` event settles (one that names both events): the
    /// list and its count.
    pub(super) async fn read_conflicts(&self) -> StoreResult<Vec<StoredConflict>> {
        let settled: HashSet<(EventId, Option<EventId>)> = self
            .all(
                "SELECT id, body FROM events WHERE kind = 'conflict_resolved' \
                 AND subject IN (SELECT record FROM conflicts)",
                vec![],
                |row| {
                    // Named, never shown: an event's contents stay out of messages.
                    let unreadable = || {
                        corrupt(format!(
                            "event {} does not parse",
                            row.text("id").unwrap_or_default()
                        ))
                    };
                    let body: EventBody =
                        serde_json::from_str(&row.text("body")?).map_err(|_| unreadable())?;
                    body.settles().ok_or_else(unreadable)
                },
            )
            .await?
            .into_iter()
            .collect();
        let mut conflicts = self.read_all_conflicts().await?;
        conflicts.retain(|conflict| !settled.contains(&(conflict.other, conflict.shown)));
        Ok(conflicts)
    }

    /// The events that do not apply where the merged order puts them, settled or not: a
    /// settled contradiction still does not apply.
    pub(super) async fn read_contradicted(&self) -> StoreResult<HashSet<EventId>> {
        Ok(self
            .read_all_conflicts()
            .await?
            .into_iter()
            .filter(|conflict| conflict.field == CONTRADICTION)
            .map(|conflict| conflict.other)
            .collect())
    }

    pub(super) async fn read_exchange_tables(&self) -> StoreResult<ExchangeTables> {
        let receipts = self
            .all(
                &format!("SELECT node, event, hlc FROM receipts UNION ALL {OWN_RECEIPTS}"),
                vec![],
                receipt_from_row,
            )
            .await?;
        Ok(ExchangeTables {
            local_codes: self.read_local_codes().await?,
            receipts,
            conflicts: self.read_all_conflicts().await?,
        })
    }

    pub(super) async fn write_received(
        &self,
        received: Received,
        hasher: ChainHasher,
    ) -> StoreResult<()> {
        let mut tx = B::begin_write(&self.pool).await?;
        let mark = log_mark_of(B::fetch_all(&mut tx, LOG_MARK_SQL, vec![]).await?.first())?;
        if mark != received.expected {
            return Err(StoreError::Conflict {
                what: "the log (it changed while the bundle was merged)".to_string(),
            });
        }
        let people = changed::<Person>(&received.before, &received.after);
        write_records::<B>(&mut tx, &received.before, &received.after).await?;
        if received.refolded {
            B::execute(&mut tx, "DELETE FROM flow_by_month", vec![]).await?;
            B::execute(&mut tx, "DELETE FROM conflicts", vec![]).await?;
        } else {
            for page in received.edited.chunks(super::MAX_PARAMS - 1) {
                let mut arguments: Vec<Value> = vec![CONTRADICTION.into()];
                arguments.extend(page.iter().map(|id| Value::from(id.to_string())));
                B::execute(
                    &mut tx,
                    &format!(
                        "DELETE FROM conflicts WHERE field <> ? AND record IN ({})",
                        vec!["?"; page.len()].join(", ")
                    ),
                    arguments,
                )
                .await?;
            }
        }
        update_aggregates::<B>(&mut tx, &received.before.people, &people, received.flow).await?;
        let events: Vec<(Event, String, Option<i64>)> = received
            .events
            .into_iter()
            .map(|event| {
                let body = event.body_json().map_err(canonical_failed)?;
                Ok((event, body, Some(received.received_hlc)))
            })
            .collect::<StoreResult<_>>()?;
        insert_rows::<B, _>(
            &mut tx,
            "events",
            &received_event_columns(),
            &events,
            false,
            bind_received_event,
        )
        .await?;
        insert_merge_rows::<B>(
            &mut tx,
            &received.local_codes,
            &received.receipts,
            &received.conflicts,
        )
        .await?;
        apply_side_writes::<B>(&mut tx, received.side_writes).await?;
        append_access::<B>(&mut tx, received.access, hasher).await?;
        tx.commit().await.map_err(db_error)
    }
}

/// The local codes, receipts and conflicts a merge adds.
pub(super) async fn insert_merge_rows<B: Backend>(
    tx: &mut Tx<B>,
    local_codes: &[(Uuid, String)],
    receipts: &[Receipt],
    conflicts: &[StoredConflict],
) -> StoreResult<()> {
    insert_rows::<B, _>(
        tx,
        "local_codes",
        LOCAL_CODE_COLUMNS,
        local_codes,
        true,
        |arguments, (id, code)| {
            arguments.extend([Value::from(id.to_string()), Value::from(code.as_str())]);
        },
    )
    .await?;
    insert_rows::<B, _>(
        tx,
        "receipts",
        RECEIPT_COLUMNS,
        receipts,
        false,
        |arguments, receipt| {
            arguments.extend([
                Value::from(receipt.node.to_string()),
                Value::from(receipt.event.to_string()),
                Value::Int(receipt.hlc),
            ]);
        },
    )
    .await?;
    insert_rows::<B, _>(
        tx,
        "conflicts",
        CONFLICT_COLUMNS,
        conflicts,
        false,
        |arguments, conflict| {
            arguments.extend([
                Value::from(conflict.other.to_string()),
                Value::from(conflict.record.to_string()),
                Value::from(conflict.field.as_str()),
                conflict.shown.map(|id| id.to_string()).into(),
                Value::from(conflict.detail.as_str()),
            ]);
        },
    )
    .await
}
