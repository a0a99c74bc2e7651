//! The merged projection: what every installation computes from the events it holds, its
//! own and those received in bundles, whatever order they came in.
//!
//! Events are folded in one order everywhere: (hybrid logical clock, node, sequence). An event
//! that does not apply where that order puts it (a person moved after another node recorded
//! their departure) leaves the state as it was and is a contradiction, for a person to
//! resolve; a received record whose code is taken here by another record is shown under a
//! local code. Both are the same on a replay as at the merge.

use super::{ProjectionError, State};
use crate::event::{Event, EventBody};
use crate::stage::Stage;
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

/// Local codes of received records whose own code is taken here, by record id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LocalCodes(pub HashMap<Uuid, String>);

impl LocalCodes {
    /// The body as this installation applies it: a new record under its local code.
    fn localise(&self, body: &EventBody) -> Option<EventBody> {
        if self.0.is_empty() {
            return None;
        }
        let mut body = body.clone();
        let code = match &mut body {
            EventBody::LocationAdded { location } => self
                .0
                .get(&location.id.0)
                .map(|code| location.code.clone_from(code)),
            EventBody::HouseholdAdded { household } => self
                .0
                .get(&household.id.0)
                .map(|code| household.code.clone_from(code)),
            EventBody::PersonAdded { person } => self
                .0
                .get(&person.id.0)
                .map(|code| person.code.clone_from(code)),
            _ => None,
        };
        code.map(|()| body)
    }
}

impl State {
    /// Applies an event in the merged order: under its local code when it adds a received
    /// record whose code is taken here. On error (a contradiction) the state is unchanged.
    pub fn apply_merged(
        &mut self,
        body: &EventBody,
        codes: &LocalCodes,
    ) -> Result<(), ProjectionError> {
        match codes.localise(body) {
            Some(local) => self.apply(&local),
            None => self.apply(body),
        }
    }
}

/// The order every installation folds events in.
pub fn merge_order(event: &Event) -> (i64, Uuid, i64) {
    (event.hlc, event.node.0, event.seq)
}

/// People entering care (by the month they entered) and departures (by the month of the
/// move) that these events add: `YYYY-MM` → (entered, departed).
pub fn monthly_flow<'a>(
    bodies: impl IntoIterator<Item = &'a EventBody>,
) -> BTreeMap<String, (i64, i64)> {
    let month = |date: time::Date| format!("{:04}-{:02}", date.year(), u8::from(date.month()));
    let mut flow: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for body in bodies {
        match body {
            EventBody::PersonAdded { person } => {
                flow.entry(month(person.entered)).or_default().0 += 1
            }
            EventBody::PersonMoved {
                stage: Stage::Departed,
                at,
                ..
            } => flow.entry(month(*at)).or_default().1 += 1,
            _ => {}
        }
    }
    flow
}

/// One field of one record as an edit sets it: two edits of the same field from different
/// nodes, one after the other in the merged order, with different values, are a conflict.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Edit {
    pub record: Uuid,
    /// `place` (a move), `flag:…`, `hold`, `readiness`, `wish`, `identity`, `split`.
    pub field: String,
    /// The value set, as canonical text, to tell a different value from the same one.
    pub value: String,
}

impl EventBody {
    /// The field this event sets, when it is an edit of one field of an existing record.
    pub fn edit(&self) -> Option<Edit> {
        let edit = |record: Uuid, field: &str, value: String| {
            Some(Edit {
                record,
                field: field.to_string(),
                value,
            })
        };
        match self {
            EventBody::PersonMoved {
                person, to, stage, ..
            } => edit(person.0, "place", format!("{to} {}", stage.as_str())),
            EventBody::FlagSet { person, flag, on } => {
                edit(person.0, &format!("flag:{}", flag.as_str()), on.to_string())
            }
            EventBody::HoldSet { person, reason } => edit(
                person.0,
                "hold",
                reason.map_or_else(String::new, |reason| reason.as_str().to_string()),
            ),
            EventBody::ReadinessSet {
                person,
                documents_ready,
                screening_done,
            } => edit(
                person.0,
                "readiness",
                format!("{documents_ready} {screening_done}"),
            ),
            EventBody::DestinationWishSet { person, wish, .. } => {
                edit(person.0, "wish", wish.to_string())
            }
            EventBody::PersonCorrected { person, correction } => edit(
                person.0,
                "identity",
                serde_json::to_string(correction).unwrap_or_default(),
            ),
            EventBody::HouseholdSplitSet {
                household,
                split_allowed,
            } => edit(household.0, "split", split_allowed.to_string()),
            _ => None,
        }
    }
}

impl EventBody {
    /// The conflict this event settles, as (the event not shown, the one shown).
    pub fn settles(&self) -> Option<(crate::ids::EventId, Option<crate::ids::EventId>)> {
        match self {
            EventBody::ConflictResolved {
                conflict, shown, ..
            } => Some((*conflict, *shown)),
            _ => None,
        }
    }
}

/// A pair of edits of one field from two nodes: `shown` came later in the merged order and
/// is what every installation shows; `other` is the value it replaced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConcurrentEdit {
    pub record: Uuid,
    pub field: String,
    pub shown: crate::ids::EventId,
    pub other: crate::ids::EventId,
}

/// The edits among these events (all the events of the records concerned) that replaced
/// another node's: consecutive edits of one field, in the merged order, from different nodes,
/// with different values. They are conflicts unless the later one's node held the earlier one
/// when it wrote it (the caller knows from receipts).
pub fn concurrent_edits(events: &[Event]) -> Vec<ConcurrentEdit> {
    let mut ordered: Vec<&Event> = events.iter().collect();
    ordered.sort_by_key(|event| merge_order(event));
    let mut last: HashMap<(Uuid, String), (&Event, String)> = HashMap::new();
    let mut found = Vec::new();
    for event in ordered {
        let Some(edit) = event.body.edit() else {
            continue;
        };
        let key = (edit.record, edit.field);
        if let Some((earlier, value)) = last.get(&key)
            && earlier.node != event.node
            && *value != edit.value
        {
            found.push(ConcurrentEdit {
                record: key.0,
                field: key.1.clone(),
                shown: event.id,
                other: earlier.id,
            });
        }
        last.insert(key, (event, edit.value));
    }
    found
}
