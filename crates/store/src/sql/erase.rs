//! The duress erase: the whole organisation, keys first.

use super::SqlStore;
use crate::backend::{Backend, Connection, Value};
use crate::*;

/// Tables holding the keys that open the others: their bytes are overwritten, not only
/// unlinked.
const KEY_TABLES: &[&str] = &[
    "key_wraps",
    "api_tokens",
    "compartment_wraps",
    "compartments",
    "user_keys",
];

/// Every other table of an organisation, children before parents. The record keys are
/// among them: each is sealed to its compartment's public key, whose secret half was only
/// ever stored in `compartment_wraps`, overwritten first; the compaction after the login
/// drops their pages from the file. (Overwriting them as well made a duress login on
/// 300,000 people write 100 MB to the WAL: bench/README.md.)
const RECORD_TABLES: &[&str] = &[
    "conflicts",
    "receipts",
    "local_codes",
    "record_keys",
    "access_log",
    "events",
    "notes",
    "batches",
    "incidents",
    "people",
    "households",
    "waiting_by_day",
    "waiting_by_wish",
    "presence",
    "flow_by_month",
    "users",
    "locations",
];

impl<B: Backend> SqlStore<B> {
    pub(super) async fn erase(&self, keep_meta: &[&str]) -> StoreResult<()> {
        // The node id is the store's own: the chains it heads start again from genesis.
        let keep: Vec<Value> = std::iter::once("node_id")
            .chain(keep_meta.iter().copied())
            .map(Value::from)
            .collect();
        B::erase(&self.pool, keep, KEY_TABLES, RECORD_TABLES).await
    }
}

/// Deletes every setting but those in `keep` (overwritten where the backend overwrites).
pub(crate) async fn delete_settings<B: Backend>(
    connection: &mut Connection<B>,
    keep: Vec<Value>,
) -> StoreResult<()> {
    let placeholders = vec!["?"; keep.len()].join(", ");
    B::execute(
        connection,
        &format!("DELETE FROM meta WHERE key NOT IN ({placeholders})"),
        keep,
    )
    .await?;
    Ok(())
}
