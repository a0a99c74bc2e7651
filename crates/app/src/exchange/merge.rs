//! Merging a received bundle (docs/exchange.md): its new events folded into the projection
//! in the order every installation uses, received identities sealed to the receiving
//! compartments, and what the merge cannot settle on its own kept as conflicts.

use super::receive::{BundleReport, Checked, refused};
use crate::keyring::NewKeys;
use crate::*;
use refuge_core::{
    Event, EventBody, EventId, LocalCodes, LocationId, NodeId, Person, PersonId, ProjectionError,
    RecordRef, State, concurrent_edits, merge_order, monthly_flow,
};
use refuge_crypto::SecretKey;
use refuge_store::{CONTRADICTION, EventCursor, Receipt, Received, StoredConflict};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use time::OffsetDateTime;
use uuid::Uuid;

/// A merge is computed again when the log moved on meanwhile, this many times at most.
const MERGE_ATTEMPTS: usize = 3;
/// Events read per page when the whole projection is folded again.
const REFOLD_PAGE: u32 = 10_000;
/// `@PEER.2`, … `@PEER.9`: local codes tried for a received code taken here.
const LOCAL_CODE_TRIES: usize = 9;

/// What `refuge bundle import` did (or, with `--dry-run`, would do).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MergeReport {
    pub bundle: BundleReport,
    /// False on a dry run: nothing was written but the access-log entry.
    pub merged: bool,
    /// Received codes taken here by other records, and the local codes they are shown under.
    pub local_codes: Vec<(String, String)>,
    /// Conflicts after the merge, and how many of them it added.
    pub conflicts: usize,
    pub new_conflicts: usize,
    /// Received record keys (identities) sealed to this installation's compartments.
    pub identities: usize,
    /// Whether received events were older than the newest held, so that the whole
    /// projection was folded again.
    pub refolded: bool,
}

/// One side of a conflict, as `refuge conflicts` shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct ConflictSide {
    pub event: EventId,
    /// The node that wrote it: `here`, or the peer's name when known.
    pub node: String,
    pub at: OffsetDateTime,
    /// What it changed, as the person's history shows it.
    pub view: EventView,
}

/// A conflict a merge left: the value shown everywhere and the one it replaced (or, for a
/// contradiction, the event that does not apply and why).
#[derive(Clone, Debug, PartialEq)]
pub struct Conflict {
    /// The person or household, by code.
    pub record: String,
    pub field: String,
    pub shown: Option<ConflictSide>,
    pub other: ConflictSide,
    pub detail: String,
}

/// The records a fold starts from and ends with, the monthly flow it adds, the events that
/// did not apply, and the edits shown (for the conflicts).
struct Folded {
    before: State,
    after: State,
    flow: BTreeMap<String, (i64, i64)>,
    contradictions: Vec<StoredConflict>,
    edits: Vec<Event>,
}

/// The merge as computed, before it is written.
struct Merge {
    received: Received,
    report: MergeReport,
}

impl App {
    /// `refuge bundle import FILE [--dry-run]`: every check `inspect` runs, then the merge.
    pub async fn import_bundle(
        &self,
        session: &Session,
        file: &[u8],
        dry_run: bool,
    ) -> AppResult<MergeReport> {
        let mut checked = self.check_received(session, file).await?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let merge = self.compute_merge(session, checked, dry_run).await?;
            let detail = describe(&merge.report);
            if dry_run {
                self.log(
                    &session.user().name,
                    AccessAction::Import,
                    "bundle",
                    &detail,
                )
                .await?;
                return Ok(merge.report);
            }
            let mut received = merge.received;
            received.access = vec![self.access_entry(
                &session.user().name,
                AccessAction::Import,
                "bundle",
                &detail,
            )];
            match self.store.receive(received, HASHER).await {
                Err(StoreError::Conflict { .. }) if attempt < MERGE_ATTEMPTS => {
                    // The log moved on meanwhile: read the bundle again and merge it anew.
                    checked = self.check_received(session, file).await?;
                }
                Err(error) => return Err(error.into()),
                Ok(()) => {
                    session.keys().forget_records();
                    return Ok(merge.report);
                }
            }
        }
    }

    async fn compute_merge(
        &self,
        session: &Session,
        mut checked: Checked,
        dry_run: bool,
    ) -> AppResult<Merge> {
        let expected = self.store.log_mark().await?;
        let mut new: Vec<Event> = std::mem::take(&mut checked.payload.events);
        let checked = &checked;
        new.sort_by_key(merge_order);
        let mut codes = LocalCodes(self.store.local_codes().await?.into_iter().collect());
        let renamed = self.local_codes_for(&new, &checked.peer.name).await?;
        for (id, _, local) in &renamed {
            codes.0.insert(*id, local.clone());
        }
        let refolded = new
            .first()
            .is_some_and(|first| first.hlc <= expected.last_hlc);
        let folded = if refolded {
            self.refold(&new, &codes).await?
        } else {
            self.fold_onto(&new, &codes).await?
        };
        let (receipts, received_hlc, mut conflicts) = self
            .receipts_and_edit_conflicts(checked, &new, &folded.edits, expected.last_hlc)
            .await?;
        let stored = self.store.conflicts().await?;
        let edited = if refolded {
            Vec::new()
        } else {
            edited_records(&new)
        };
        conflicts.extend(folded.contradictions);
        let settled = self.settled(&new, &conflicts).await?;
        let after_count = conflicts_after(&stored, &edited, refolded, &conflicts, &settled);
        let mut side_writes = Vec::new();
        let identities = if dry_run {
            checked.payload.record_keys.len()
        } else {
            let (writes, identities) = self
                .seal_received(
                    session,
                    &checked.payload.record_keys,
                    &folded.before,
                    &folded.after,
                )
                .await?;
            side_writes = writes;
            identities
        };
        side_writes.push(read_from(checked).meta_write()?);
        let report = MergeReport {
            bundle: checked.report.clone(),
            merged: !dry_run,
            local_codes: renamed
                .iter()
                .map(|(_, code, local)| (code.clone(), local.clone()))
                .collect(),
            conflicts: after_count,
            new_conflicts: after_count.saturating_sub(stored.len()),
            identities,
            refolded,
        };
        Ok(Merge {
            received: Received {
                expected,
                events: new,
                before: folded.before,
                after: folded.after,
                refolded,
                flow: folded.flow,
                edited,
                conflicts,
                local_codes: renamed
                    .into_iter()
                    .map(|(id, _, local)| (id, local))
                    .collect(),
                received_hlc,
                receipts,
                side_writes,
                access: Vec::new(),
            },
            report,
        })
    }

    /// The receipts a merge adds (this installation holds the new events from now on; the
    /// sender's, for what it held), and the concurrent edits among `edit_events`: an edit
    /// written on a node that already held the earlier one is no conflict.
    async fn receipts_and_edit_conflicts(
        &self,
        checked: &Checked,
        new: &[Event],
        edit_events: &[Event],
        last_hlc: i64,
    ) -> AppResult<(Vec<Receipt>, i64, Vec<StoredConflict>)> {
        let local = self.node_id().await?;
        // Held since now: the newest clock value here once the merge is in. Anything written
        // here later has a later one.
        let receipt_hlc = new.last().map_or(last_hlc, |last| last.hlc.max(last_hlc));
        // The pairs that would be conflicts if neither node knew of the other's edit; then
        // the receipts of just those earlier edits, to drop the pairs whose later node knew.
        let candidates = concurrent_edits(edit_events);
        let ids: Vec<Uuid> = candidates
            .iter()
            .map(|candidate| candidate.other.0)
            .chain(
                checked
                    .payload
                    .receipts
                    .iter()
                    .map(|receipt| receipt.event.0),
            )
            .collect();
        let mut known: HashMap<(NodeId, EventId), i64> = self
            .store
            .receipts_of(&ids)
            .await?
            .into_iter()
            .map(|receipt| ((receipt.node, receipt.event), receipt.hlc))
            .collect();
        // This installation holds the new events from now on (kept with each event by the
        // store): none of its edits so far knew them. Other nodes' receipts come with the
        // bundle; those not held yet are added.
        let receipts: Vec<Receipt> = checked
            .payload
            .receipts
            .iter()
            .filter(|receipt| {
                receipt.node != local && !known.contains_key(&(receipt.node, receipt.event))
            })
            .cloned()
            .collect();
        for receipt in &receipts {
            known.insert((receipt.node, receipt.event), receipt.hlc);
        }
        let by_id: HashMap<EventId, &Event> =
            edit_events.iter().map(|event| (event.id, event)).collect();
        let conflicts: Vec<StoredConflict> = candidates
            .into_iter()
            .filter(|candidate| {
                let later = by_id[&candidate.shown];
                let knew = known
                    .get(&(later.node, candidate.other))
                    .is_some_and(|since| *since < later.hlc);
                !knew
            })
            .map(|edit| StoredConflict {
                other: edit.other,
                record: edit.record,
                field: edit.field,
                shown: Some(edit.shown),
                detail: String::new(),
            })
            .collect();
        Ok((receipts, receipt_hlc, conflicts))
    }

    /// The conflicts among these that a `conflict_resolved` event settles, received now or
    /// held.
    async fn settled(
        &self,
        new: &[Event],
        conflicts: &[StoredConflict],
    ) -> AppResult<HashSet<(EventId, Option<EventId>)>> {
        let records: BTreeSet<Uuid> = conflicts.iter().map(|conflict| conflict.record).collect();
        let records: Vec<Uuid> = records.into_iter().collect();
        let held = self.store.events_of_subjects(&records).await?;
        Ok(new
            .iter()
            .chain(&held)
            .filter_map(|event| event.body.settles())
            .collect())
    }

    /// Local codes for the received records whose code is taken here, or by another record
    /// of the same bundle: (id, code, local code).
    async fn local_codes_for(
        &self,
        new: &[Event],
        peer: &str,
    ) -> AppResult<Vec<(Uuid, String, String)>> {
        let added: Vec<(Uuid, String, bool)> = new
            .iter()
            .filter_map(|event| match &event.body {
                EventBody::LocationAdded { location } => {
                    Some((location.id.0, location.code.clone(), true))
                }
                EventBody::HouseholdAdded { household } => {
                    Some((household.id.0, household.code.clone(), false))
                }
                EventBody::PersonAdded { person } => {
                    Some((person.id.0, person.code.clone(), false))
                }
                _ => None,
            })
            .collect();
        let codes: Vec<String> = added
            .iter()
            .filter(|(_, _, location)| !location)
            .map(|(_, code, _)| code.clone())
            .collect();
        let mut taken: HashSet<String> =
            self.store.taken_codes(&codes).await?.into_iter().collect();
        for location in self.store.locations().await? {
            taken.insert(location.code);
        }
        let mut renamed = Vec::new();
        let peer = peer.to_ascii_uppercase();
        for (id, code, _) in added {
            if taken.insert(code.clone()) {
                continue;
            }
            let candidates = std::iter::once(format!("{code}@{peer}"))
                .chain((2..=LOCAL_CODE_TRIES).map(|n| format!("{code}@{peer}.{n}")));
            let mut local = None;
            for candidate in candidates {
                let free = self
                    .store
                    .taken_codes(std::slice::from_ref(&candidate))
                    .await?
                    .is_empty();
                if free && taken.insert(candidate.clone()) {
                    local = Some(candidate);
                    break;
                }
            }
            let local = local
                .ok_or_else(|| refused(Reason::new("bundle-code-taken").with("code", &code)))?;
            renamed.push((id, code, local));
        }
        Ok(renamed)
    }

    /// The new events folded onto the records they touch (all newer than anything held).
    async fn fold_onto(&self, new: &[Event], codes: &LocalCodes) -> AppResult<Folded> {
        let refs: BTreeSet<RecordRef> = new.iter().flat_map(|event| event.body.touches()).collect();
        let before = self.store.records(&refs).await?;
        let mut after = before.clone();
        let mut applied = Vec::with_capacity(new.len());
        let mut contradictions = Vec::new();
        for event in new {
            match after.apply_merged(&event.body, codes) {
                Ok(()) => applied.push(event),
                Err(error) => contradictions.push(contradiction(event, &error)),
            }
        }
        let flow = monthly_flow(applied.iter().map(|event| &event.body));
        // The edits of the records the new ones edit, held and new, for the conflicts: those
        // the projection holds (contradictions are not shown, so they replace nothing).
        let contradicted = self.store.contradicted().await?;
        let edited = edited_records(new);
        let mut edits: Vec<Event> = self
            .store
            .events_of_subjects(&edited)
            .await?
            .into_iter()
            .filter(|event| event.body.edit().is_some() && !contradicted.contains(&event.id))
            .collect();
        edits.extend(
            applied
                .into_iter()
                .filter(|event| event.body.edit().is_some())
                .cloned(),
        );
        Ok(Folded {
            before,
            after,
            flow,
            contradictions,
            edits,
        })
    }

    /// The whole log and the new events folded again from nothing, in the merged order (some
    /// new events are older than events held).
    async fn refold(&self, new: &[Event], codes: &LocalCodes) -> AppResult<Folded> {
        let before = self.store.load_state().await?;
        let mut after = State::default();
        let mut flow: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        let mut contradictions = Vec::new();
        let mut edits = Vec::new();
        let mut apply = |event: &Event| match after.apply_merged(&event.body, codes) {
            Ok(()) => {
                for (month, (entered, departed)) in monthly_flow([&event.body]) {
                    let counts = flow.entry(month).or_default();
                    counts.0 += entered;
                    counts.1 += departed;
                }
                if event.body.edit().is_some() {
                    edits.push(event.clone());
                }
            }
            Err(error) => contradictions.push(contradiction(event, &error)),
        };
        let mut pending = new.iter().peekable();
        let mut cursor: Option<EventCursor> = None;
        loop {
            let page = self.store.events_page(cursor, REFOLD_PAGE).await?;
            let Some(last) = page.last() else { break };
            cursor = Some(EventCursor::of(last));
            for held in &page {
                while let Some(received) = pending.next_if(|r| merge_order(r) < merge_order(held)) {
                    apply(received);
                }
                apply(held);
            }
        }
        for received in pending {
            apply(received);
        }
        Ok(Folded {
            before,
            after,
            flow,
            contradictions,
            edits,
        })
    }

    /// Received record keys sealed to the compartment of where their record is after the
    /// merge, and the keys held here of people the merge moved re-wrapped to where they are
    /// now; a received location gets a compartment of its own. Returns the writes and how
    /// many received keys were sealed.
    async fn seal_received(
        &self,
        session: &Session,
        record_keys: &[(String, String)],
        before: &State,
        after: &State,
    ) -> AppResult<(Vec<refuge_store::SideWrite>, usize)> {
        let mut keys = self.new_keys(session).await?;
        let mut writes = Vec::new();
        let mut compartments = self.compartment_names().await?;
        let where_is = |record: &str| -> Option<LocationId> {
            let id = Uuid::parse_str(record).ok()?;
            if let Some(person) = after.people.get(&PersonId(id)) {
                return Some(person.location);
            }
            after
                .locations
                .contains_key(&LocationId(id))
                .then_some(LocationId(id))
        };
        let mut moved: Vec<(&Person, LocationId)> = Vec::new();
        for (id, person) in &after.people {
            if let Some(old) = before.people.get(id)
                && old.location != person.location
            {
                moved.push((person, person.location));
            }
        }
        let held_ids: Vec<String> = record_keys
            .iter()
            .map(|(record, _)| record.clone())
            .chain(moved.iter().map(|(person, _)| person.id.to_string()))
            .collect();
        let held: HashSet<String> = self
            .store
            .record_keys(&held_ids)
            .await?
            .into_iter()
            .map(|key| key.record)
            .collect();
        let mut identities = 0;
        for (record, text) in record_keys {
            let Some(location) = where_is(record) else {
                continue;
            };
            if held.contains(record) {
                continue;
            }
            let secret = SecretKey::from_text(text)
                .map_err(|_| refused(Reason::new("bundle-payload-unreadable")))?;
            self.ensure_compartment(location, &mut compartments, &mut keys, &mut writes)
                .await?;
            keys.keep_secret(record, &location.to_string(), &secret)?;
            identities += 1;
        }
        for (person, location) in moved {
            let record = person.id.to_string();
            if !held.contains(&record) {
                // Sealed elsewhere: this installation never held its key.
                continue;
            }
            self.ensure_compartment(location, &mut compartments, &mut keys, &mut writes)
                .await?;
            self.rewrap_record(
                session,
                &record,
                &person.code,
                &location.to_string(),
                &mut keys,
            )
            .await?;
        }
        writes.extend(keys.into_side_writes());
        Ok((writes, identities))
    }

    /// The compartments that have a current key.
    pub(super) async fn compartment_names(&self) -> AppResult<HashSet<String>> {
        Ok(self
            .store
            .current_compartments()
            .await?
            .into_iter()
            .map(|key| key.compartment)
            .collect())
    }

    /// A compartment for `location` when it has none yet (a location received without
    /// identities), made in the same commit.
    pub(super) async fn ensure_compartment(
        &self,
        location: LocationId,
        compartments: &mut HashSet<String>,
        keys: &mut NewKeys,
        writes: &mut Vec<refuge_store::SideWrite>,
    ) -> AppResult<()> {
        if compartments.insert(location.to_string()) {
            let (made, public) = self.new_location_compartment(location).await?;
            writes.extend(made);
            keys.add_compartment(&location.to_string(), 1, public);
        }
        Ok(())
    }

    /// `refuge conflicts`: what merges left for a person to settle, the count and the list
    /// from one query.
    pub async fn conflicts(&self, session: &Session) -> AppResult<Vec<Conflict>> {
        session.require(Action::Exchange)?;
        let stored = self.store.conflicts().await?;
        let ids: Vec<Uuid> = stored
            .iter()
            .flat_map(|conflict| {
                std::iter::once(conflict.other.0).chain(conflict.shown.map(|id| id.0))
            })
            .collect();
        let events = self.store.events_with_ids(&ids).await?;
        let writers: Vec<(EventId, NodeId)> =
            events.iter().map(|event| (event.id, event.node)).collect();
        let users = self.user_names().await?;
        let locations = self.location_codes().await?;
        let views = self.event_views(events, &users, &locations).await?;
        let local = self.node_id().await?;
        let peers = self.stored_peers().await?;
        let mut sides: HashMap<EventId, ConflictSide> = HashMap::new();
        for ((id, node), view) in writers.into_iter().zip(views) {
            let node = if node == local {
                "here".to_string()
            } else {
                peers
                    .iter()
                    .find(|peer| peer.epochs.contains(&node))
                    .map_or_else(|| node.to_string(), |peer| peer.name.clone())
            };
            sides.insert(
                id,
                ConflictSide {
                    event: id,
                    node,
                    at: view.recorded,
                    view,
                },
            );
        }
        let records: Vec<Uuid> = stored.iter().map(|conflict| conflict.record).collect();
        let codes = self.store.codes_of(&records).await?;
        let side = |id: EventId| {
            sides.get(&id).cloned().ok_or_else(|| {
                AppError::from(StoreError::Corrupt(format!(
                    "conflict names event {id}, which is not held"
                )))
            })
        };
        stored
            .iter()
            .map(|conflict| {
                Ok(Conflict {
                    record: codes
                        .get(&conflict.record)
                        .cloned()
                        .unwrap_or_else(|| conflict.record.to_string()),
                    field: conflict.field.clone(),
                    shown: conflict.shown.map(side).transpose()?,
                    other: side(conflict.other)?,
                    detail: conflict.detail.clone(),
                })
            })
            .collect()
    }
}

/// The records these events edit, once each.
fn edited_records(events: &[Event]) -> Vec<Uuid> {
    let records: BTreeSet<Uuid> = events
        .iter()
        .filter_map(|event| event.body.edit().map(|edit| edit.record))
        .collect();
    records.into_iter().collect()
}

/// The sender with this bundle read: its number, and the node id it came from.
fn read_from(checked: &Checked) -> Peer {
    let mut peer = checked.peer.clone();
    peer.received = checked.manifest.sequence;
    if !peer.epochs.contains(&checked.manifest.epoch) {
        peer.epochs.push(checked.manifest.epoch);
    }
    peer
}

/// How many conflicts are open once a merge is written: those it computed, and the open
/// stored ones it keeps (all but the edit conflicts of the records it edits; none if it
/// folded the whole projection again), less those settled.
fn conflicts_after(
    stored: &[StoredConflict],
    edited: &[Uuid],
    refolded: bool,
    computed: &[StoredConflict],
    settled: &HashSet<(EventId, Option<EventId>)>,
) -> usize {
    let edited: HashSet<&Uuid> = edited.iter().collect();
    let kept = stored.iter().filter(|conflict| {
        !refolded && (conflict.field == CONTRADICTION || !edited.contains(&conflict.record))
    });
    kept.chain(computed)
        .filter(|conflict| !settled.contains(&(conflict.other, conflict.shown)))
        .count()
}

fn contradiction(event: &Event, error: &ProjectionError) -> StoredConflict {
    StoredConflict {
        other: event.id,
        record: event.body.subject(),
        field: CONTRADICTION.to_string(),
        shown: None,
        detail: error.to_string(),
    }
}

fn describe(report: &MergeReport) -> String {
    let bundle = &report.bundle;
    format!(
        "bundle {} from {} {}: {} events, {} new, {} conflicts ({} new){}",
        bundle.sequence,
        bundle.sender,
        if report.merged {
            "merged"
        } else {
            "checked (dry run)"
        },
        bundle.events,
        bundle.new_events,
        report.conflicts,
        report.new_conflicts,
        if report.identities > 0 {
            format!(", {} identities sealed here", report.identities)
        } else {
            String::new()
        }
    )
}
