//! Sealing the organisation again (`Store::reseal`): the log's sealed values replaced, its
//! chains computed again, the records replayed from it, in one transaction.

use super::codec::canonical_failed;
use super::commit::{append_access, apply_side_writes};
use super::records::write_records;
use super::{MAX_PARAMS, SqlStore};
use crate::backend::{Backend, Fields, Value, corrupt, db_error};
use crate::*;
use refuge_core::event::GENESIS_HASH;
use std::collections::{HashMap, HashSet};

/// Events read and rewritten per page.
const RESEAL_PAGE: u32 = 5_000;
/// Columns bound per rewritten event (node, seq, body, prev_hash, hash).
const REWRITE_COLUMNS: usize = 5;

impl<B: Backend> SqlStore<B> {
    pub(super) async fn reseal_organisation(
        &self,
        reseal: Reseal<'_>,
        hasher: ChainHasher,
    ) -> StoreResult<u64> {
        if !reseal.commit.events.is_empty() {
            return Err(corrupt("a re-seal appends no events"));
        }
        // The write lock first: what is read below (on pooled connections, which see what is
        // committed) cannot change until this commits.
        let mut tx = B::begin_write(&self.pool).await?;
        let total = match self
            .optional_row("SELECT COUNT(*) AS n FROM events", vec![])
            .await?
        {
            Some(row) => u64::try_from(row.int("n")?).map_err(corrupt)?,
            None => 0,
        };
        let stored = self.load_state().await?;
        let local = super::commit::node_id_in::<B>(&mut tx).await?;
        let codes = LocalCodes(self.read_local_codes().await?.into_iter().collect());
        let contradictions = self.read_contradicted().await?;
        let restore = B::lift_append_only(&mut tx, "events").await?;
        let mut replayed = State::default();
        let mut heads: HashMap<NodeId, String> = HashMap::new();
        let mut cursor = None;
        let mut done = 0u64;
        loop {
            let page = self.read_events_page(cursor, RESEAL_PAGE).await?;
            let Some(last) = page.last() else { break };
            cursor = Some(EventCursor::of(last));
            done += u64::try_from(page.len()).map_err(corrupt)?;
            let mut rewritten = Vec::new();
            for mut event in page {
                // Events received from elsewhere stay as their node wrote them: their chains
                // are that node's, and peers hold the same events by id.
                if event.node != local {
                    replay(&mut replayed, &event, &codes, &contradictions)?;
                    continue;
                }
                let before = (event.body.clone(), event.prev_hash.clone());
                for slot in event.body.sealed_slots() {
                    (reseal.value)(slot)?;
                }
                let prev_hash = heads
                    .remove(&event.node)
                    .unwrap_or_else(|| GENESIS_HASH.to_string());
                event.prev_hash = prev_hash;
                let body_json = event.body_json().map_err(canonical_failed)?;
                let hash = hasher(&event.prev_hash, &event.canonical_bytes_with(&body_json));
                replay(&mut replayed, &event, &codes, &contradictions)?;
                heads.insert(event.node, hash.clone());
                let unchanged = before.0 == event.body && before.1 == event.prev_hash;
                if !unchanged || hash != event.hash {
                    event.hash = hash;
                    rewritten.push((event, body_json));
                }
            }
            rewrite_events::<B>(&mut tx, &rewritten).await?;
            (reseal.progress)(done, total);
        }
        for statement in restore {
            B::execute_script(&mut tx, &statement).await?;
        }
        write_records::<B>(&mut tx, &stored, &replayed).await?;
        apply_side_writes::<B>(&mut tx, reseal.commit.side_writes).await?;
        append_access::<B>(&mut tx, reseal.commit.access, hasher).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(total)
    }
}

/// One event into the replayed state, in the merged order: a contradiction a merge recorded
/// is left out, as it was there.
fn replay(
    replayed: &mut State,
    event: &Event,
    codes: &LocalCodes,
    contradictions: &HashSet<EventId>,
) -> StoreResult<()> {
    if !contradictions.contains(&event.id) {
        replayed.apply_merged(&event.body, codes)?;
    }
    Ok(())
}

/// Replaces the body and chain of these events, many at a time.
async fn rewrite_events<B: Backend>(
    tx: &mut super::Tx<B>,
    events: &[(Event, String)],
) -> StoreResult<()> {
    for chunk in events.chunks(MAX_PARAMS / REWRITE_COLUMNS) {
        let rows = vec!["(?, ?, ?, ?, ?)"; chunk.len()].join(", ");
        let mut arguments = Vec::with_capacity(chunk.len() * REWRITE_COLUMNS);
        for (event, body_json) in chunk {
            arguments.extend([
                Value::from(event.node.to_string()),
                Value::from(event.seq),
                Value::from(body_json.as_str()),
                Value::from(event.prev_hash.as_str()),
                Value::from(event.hash.as_str()),
            ]);
        }
        // VALUES columns are column1… on both backends.
        B::execute(
            tx,
            &format!(
                "UPDATE events SET body = v.column3, prev_hash = v.column4, hash = v.column5 \
                 FROM (VALUES {rows}) AS v WHERE events.node = v.column1 AND events.seq = v.column2"
            ),
            arguments,
        )
        .await?;
    }
    Ok(())
}
