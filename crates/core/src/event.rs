//! The event envelope and the event bodies. Every change is one immutable event.

use crate::destination::DestinationWish;
use crate::ids::*;
use crate::model::*;
use crate::stage::Stage;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::Date;
use uuid::Uuid;

/// What happened. Serialised with the kind as a tag; sealed values stay sealed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventBody {
    UserAdded {
        user: User,
    },
    UserChanged {
        user: UserId,
        role: Role,
        locations: Vec<LocationId>,
        active: bool,
    },
    LocationAdded {
        location: Location,
    },
    HouseholdAdded {
        household: Household,
    },
    PersonAdded {
        person: Person,
    },
    PersonMoved {
        person: PersonId,
        to: LocationId,
        stage: Stage,
        at: Date,
        over_capacity: bool,
    },
    FlagSet {
        person: PersonId,
        flag: Flag,
        on: bool,
    },
    HoldSet {
        person: PersonId,
        reason: Option<HoldReason>,
    },
    ReadinessSet {
        person: PersonId,
        documents_ready: bool,
        screening_done: bool,
    },
    /// Where the person wants to go, as they said it on `on`; it replaces what they said
    /// before (which the history keeps).
    DestinationWishSet {
        person: PersonId,
        wish: DestinationWish,
        on: Date,
    },
    /// A person leaves one household for another (an existing one, or one just added).
    PersonRehoused {
        person: PersonId,
        from: HouseholdId,
        to: HouseholdId,
    },
    /// Whether a household's members may travel on different transfers.
    HouseholdSplitSet {
        household: HouseholdId,
        split_allowed: bool,
    },
    /// A correction of what was registered: the fields given replace the old ones (which
    /// stay sealed in the log), with the blind indexes recomputed by the writer.
    PersonCorrected {
        person: PersonId,
        correction: Correction,
    },
    /// Two records of one person become one: `person` (the duplicate) is merged into
    /// `into`, which keeps its identity and gains the duplicate's flags, readiness and
    /// earlier waiting start; the duplicate's history, notes and incidents stay and are shown
    /// with `into`.
    PersonMerged {
        person: PersonId,
        into: PersonId,
    },
    IncidentRecorded {
        incident: Incident,
    },
    IncidentClosed {
        incident: IncidentId,
        at: Date,
    },
    NoteAdded {
        note: Note,
    },
    FollowUpDone {
        person: PersonId,
        note: NoteId,
        at: Date,
    },
    BatchCreated {
        batch: TransferBatch,
    },
    BatchPinned {
        batch: BatchId,
        household: HouseholdId,
        pin: Option<BatchPin>,
    },
    BatchPlanned {
        batch: BatchId,
        manifest: Vec<PersonId>,
    },
    BatchStatusChanged {
        batch: BatchId,
        status: BatchStatus,
    },
    /// A person's identity destroyed by the retention policy (`refuge purge`): they arrived
    /// before `arrived_before` (or are a duplicate record merged into someone who did). Their
    /// record key is destroyed with this event, so what was sealed under it (identity, case
    /// notes), in the log too, can never be opened again; the projection drops the sealed
    /// fields and blind indexes. The anonymised facts stay.
    PersonPurged {
        person: PersonId,
        arrived_before: Date,
        on: Date,
    },
    /// A conflict a merge left (docs/exchange.md), settled by a person: `conflict` is the
    /// event not shown and `shown` the one shown (none for a contradiction), which together
    /// name the conflict on every installation; `record` the person or household it is about.
    /// Keeping the other value is an edit of its own in the same commit, written after both
    /// and so replacing the one shown everywhere.
    ConflictResolved {
        record: Uuid,
        conflict: EventId,
        shown: Option<EventId>,
        kept: Kept,
    },
    /// A closed incident's narrative destroyed with its record key, the people it concerned
    /// all purged.
    NarrativePurged {
        incident: IncidentId,
        on: Date,
    },
}

/// A record an event reads or writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecordRef {
    User(UserId),
    Location(LocationId),
    Household(HouseholdId),
    Person(PersonId),
    Incident(IncidentId),
    Note(NoteId),
    Batch(BatchId),
}

impl EventBody {
    pub fn kind(&self) -> &'static str {
        match self {
            EventBody::UserAdded { .. } => "user_added",
            EventBody::UserChanged { .. } => "user_changed",
            EventBody::LocationAdded { .. } => "location_added",
            EventBody::HouseholdAdded { .. } => "household_added",
            EventBody::PersonAdded { .. } => "person_added",
            EventBody::PersonMoved { .. } => "person_moved",
            EventBody::FlagSet { .. } => "flag_set",
            EventBody::HoldSet { .. } => "hold_set",
            EventBody::ReadinessSet { .. } => "readiness_set",
            EventBody::DestinationWishSet { .. } => "destination_wish_set",
            EventBody::PersonCorrected { .. } => "person_corrected",
            EventBody::PersonRehoused { .. } => "person_rehoused",
            EventBody::PersonMerged { .. } => "person_merged",
            EventBody::HouseholdSplitSet { .. } => "household_split_set",
            EventBody::IncidentRecorded { .. } => "incident_recorded",
            EventBody::IncidentClosed { .. } => "incident_closed",
            EventBody::NoteAdded { .. } => "note_added",
            EventBody::FollowUpDone { .. } => "follow_up_done",
            EventBody::BatchCreated { .. } => "batch_created",
            EventBody::BatchPinned { .. } => "batch_pinned",
            EventBody::BatchPlanned { .. } => "batch_planned",
            EventBody::BatchStatusChanged { .. } => "batch_status_changed",
            EventBody::PersonPurged { .. } => "person_purged",
            EventBody::NarrativePurged { .. } => "narrative_purged",
            EventBody::ConflictResolved { .. } => "conflict_resolved",
        }
    }

    /// The record the event is about.
    pub fn subject(&self) -> Uuid {
        if let EventBody::ConflictResolved { record, .. } = self {
            // It changes no record, so it touches none; it is kept with the one it is about.
            return *record;
        }
        match self.touches().first() {
            Some(RecordRef::User(id)) => id.0,
            Some(RecordRef::Location(id)) => id.0,
            Some(RecordRef::Household(id)) => id.0,
            Some(RecordRef::Person(id)) => id.0,
            Some(RecordRef::Incident(id)) => id.0,
            Some(RecordRef::Note(id)) => id.0,
            Some(RecordRef::Batch(id)) => id.0,
            None => Uuid::nil(),
        }
    }

    /// Every record the projection of this event reads or writes, the subject first. A store
    /// loads these, applies the event, and writes back those that changed.
    pub fn touches(&self) -> Vec<RecordRef> {
        use RecordRef as R;
        match self {
            EventBody::UserAdded { user } => {
                let mut refs = vec![R::User(user.id)];
                refs.extend(user.locations.iter().map(|id| R::Location(*id)));
                refs
            }
            EventBody::UserChanged {
                user, locations, ..
            } => {
                let mut refs = vec![R::User(*user)];
                refs.extend(locations.iter().map(|id| R::Location(*id)));
                refs
            }
            EventBody::LocationAdded { location } => vec![R::Location(location.id)],
            EventBody::HouseholdAdded { household } => {
                let mut refs = vec![R::Household(household.id)];
                refs.extend(household.head.map(R::Person));
                refs
            }
            EventBody::PersonAdded { person } => vec![
                R::Person(person.id),
                R::Household(person.household),
                R::Location(person.location),
            ],
            EventBody::PersonMoved { person, to, .. } => {
                vec![R::Person(*person), R::Location(*to)]
            }
            EventBody::FlagSet { person, .. }
            | EventBody::HoldSet { person, .. }
            | EventBody::ReadinessSet { person, .. }
            | EventBody::DestinationWishSet { person, .. }
            | EventBody::PersonCorrected { person, .. }
            | EventBody::PersonPurged { person, .. } => vec![R::Person(*person)],
            EventBody::PersonRehoused { person, from, to } => {
                vec![R::Person(*person), R::Household(*from), R::Household(*to)]
            }
            EventBody::HouseholdSplitSet { household, .. } => vec![R::Household(*household)],
            EventBody::PersonMerged { person, into } => vec![R::Person(*person), R::Person(*into)],
            EventBody::IncidentRecorded { incident } => {
                let mut refs = vec![R::Incident(incident.id), R::Location(incident.location)];
                refs.extend(incident.people.iter().map(|id| R::Person(*id)));
                refs
            }
            EventBody::IncidentClosed { incident, .. }
            | EventBody::NarrativePurged { incident, .. } => vec![R::Incident(*incident)],
            // About the person: their timeline shows that a note was written (never its text).
            EventBody::NoteAdded { note } => vec![R::Person(note.person), R::Note(note.id)],
            EventBody::FollowUpDone { person, note, .. } => {
                vec![R::Person(*person), R::Note(*note)]
            }
            EventBody::BatchCreated { batch } => {
                let mut refs = vec![R::Batch(batch.id), R::Location(batch.destination)];
                refs.extend(batch.origins.iter().map(|id| R::Location(*id)));
                refs
            }
            EventBody::BatchPinned {
                batch, household, ..
            } => {
                vec![R::Batch(*batch), R::Household(*household)]
            }
            EventBody::BatchPlanned { batch, manifest } => {
                let mut refs = vec![R::Batch(*batch)];
                refs.extend(manifest.iter().map(|id| R::Person(*id)));
                refs
            }
            EventBody::BatchStatusChanged { batch, .. } => vec![R::Batch(*batch)],
            EventBody::ConflictResolved { .. } => Vec::new(),
        }
    }
}

/// The event envelope. `hash = SHA-256(prev_hash ‖ canonical bytes)` chains each node's
/// events; the hash is computed by refuge-crypto over [`Event::canonical_bytes`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub id: EventId,
    pub node: NodeId,
    /// 1, 2, 3, … per node.
    pub seq: i64,
    /// Hybrid logical clock: milliseconds since the Unix epoch in the high 48 bits, a counter
    /// in the low 16, so events from different nodes order deterministically.
    pub hlc: i64,
    pub actor: UserId,
    pub body: EventBody,
    /// Hex SHA-256 of the previous event of the same node (64 zeros for the first).
    pub prev_hash: String,
    pub hash: String,
}

/// The hash that comes before a node's first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

impl Event {
    /// The body as canonical JSON (object keys sorted, no white space). Stores keep this
    /// string, so it is computed once per event.
    pub fn body_json(&self) -> Result<String, CanonicalError> {
        let value = serde_json::to_value(&self.body).map_err(CanonicalError::from)?;
        canonical_json(&value)
    }

    /// The bytes the hash chain covers: everything but the hashes, as canonical JSON.
    pub fn canonical_bytes(&self) -> Result<Vec<u8>, CanonicalError> {
        Ok(self.canonical_bytes_with(&self.body_json()?))
    }

    /// The canonical bytes around an already canonical body: the envelope's keys are fixed,
    /// so it is written directly in sorted key order (actor, body, hlc, id, node, seq,
    /// subject); the golden test pins that this equals the canonical JSON of the whole.
    pub fn canonical_bytes_with(&self, body_json: &str) -> Vec<u8> {
        format!(
            "{{\"actor\":\"{}\",\"body\":{body_json},\"hlc\":{},\"id\":\"{}\",\"node\":\"{}\",\"seq\":{},\"subject\":\"{}\"}}",
            self.actor,
            self.hlc,
            self.id,
            self.node,
            self.seq,
            self.body.subject()
        )
        .into_bytes()
    }

    /// Milliseconds since the Unix epoch, from the hybrid logical clock.
    pub fn hlc_millis(&self) -> i64 {
        hlc_millis(self.hlc)
    }
}

/// Packs a wall-clock millisecond and a counter into one hybrid logical clock value.
pub fn hlc_pack(millis: i64, counter: u16) -> i64 {
    (millis << 16) | i64::from(counter)
}

pub fn hlc_millis(hlc: i64) -> i64 {
    hlc >> 16
}

/// The next clock value after `last`, given the wall clock now: never goes backwards.
pub fn hlc_next(last: i64, now_millis: i64) -> i64 {
    let candidate = hlc_pack(now_millis, 0);
    if candidate > last {
        candidate
    } else {
        last + 1
    }
}

/// A value that cannot be written as canonical JSON. Never hashed as anything else: a chain
/// over a default would verify a body that was never stored.
#[derive(Debug, thiserror::Error)]
#[error("cannot write canonical JSON: {0}")]
pub struct CanonicalError(String);

impl From<serde_json::Error> for CanonicalError {
    fn from(error: serde_json::Error) -> Self {
        CanonicalError(error.to_string())
    }
}

/// JSON with object keys sorted and no insignificant white space, independent of how the
/// serde_json map is configured. The hash chain depends on these bytes never changing.
pub fn canonical_json(value: &Value) -> Result<String, CanonicalError> {
    let mut out = Vec::with_capacity(256);
    write_canonical(value, &mut out)?;
    String::from_utf8(out).map_err(|error| CanonicalError(error.to_string()))
}

/// Writes `value` with object keys sorted at every depth; strings and numbers exactly as
/// serde_json writes them. Writes straight into one buffer (an import canonicalises hundreds
/// of thousands of events).
fn write_canonical(value: &Value, out: &mut Vec<u8>) -> serde_json::Result<()> {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            // serde_json's map is sorted already unless its `preserve_order` feature is on
            // somewhere in the build; sorting a sorted list is cheap.
            entries.sort_by(|left, right| left.0.cmp(right.0));
            out.push(b'{');
            for (index, (key, item)) in entries.into_iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_leaf(key, out)?;
                out.push(b':');
                write_canonical(item, out)?;
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_canonical(item, out)?;
            }
            out.push(b']');
        }
        other => write_leaf(other, out)?,
    }
    Ok(())
}

fn write_leaf<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> serde_json::Result<()> {
    serde_json::to_writer(&mut *out, value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_json_sorts_keys_at_every_depth() {
        let value = json!({"b": 1, "a": {"d": [1, {"z": null, "y": "é"}], "c": true}});
        assert_eq!(
            canonical_json(&value).unwrap(),
            r#"{"a":{"c":true,"d":[1,{"y":"é","z":null}]},"b":1}"#
        );
    }

    #[test]
    fn hlc_never_goes_backwards() {
        let first = hlc_next(0, 1_000);
        assert_eq!(hlc_millis(first), 1_000);
        let same_millisecond = hlc_next(first, 1_000);
        assert_eq!(same_millisecond, first + 1);
        let clock_went_back = hlc_next(same_millisecond, 900);
        assert!(clock_went_back > same_millisecond);
        assert_eq!(hlc_millis(hlc_next(clock_went_back, 2_000)), 2_000);
    }

    /// Pins the canonical bytes of an event: changing them breaks every stored hash chain.
    #[test]
    fn canonical_bytes_golden() {
        let event = Event {
            id: EventId(Uuid::from_u128(1)),
            node: NodeId(Uuid::from_u128(2)),
            seq: 7,
            hlc: hlc_pack(1_700_000_000_000, 3),
            actor: UserId(Uuid::from_u128(3)),
            body: EventBody::FlagSet {
                person: PersonId(Uuid::from_u128(4)),
                flag: Flag::SelfHarmRisk,
                on: true,
            },
            prev_hash: GENESIS_HASH.into(),
            hash: String::new(),
        };
        let generic = canonical_json(&serde_json::json!({
            "id": event.id, "node": event.node, "seq": event.seq, "hlc": event.hlc, "actor": event.actor,
            "subject": event.body.subject(), "body": serde_json::to_value(&event.body).unwrap(),
        }))
        .unwrap();
        assert_eq!(
            String::from_utf8(event.canonical_bytes().unwrap()).unwrap(),
            generic
        );
        assert_eq!(
            String::from_utf8(event.canonical_bytes().unwrap()).unwrap(),
            concat!(
                r#"{"actor":"00000000-0000-0000-0000-000000000003","#,
                r#""body":{"flag":"self_harm_risk","kind":"flag_set","on":true,"person":"00000000-0000-0000-0000-000000000004"},"#,
                r#""hlc":111411200000000003,"id":"00000000-0000-0000-0000-000000000001","#,
                r#""node":"00000000-0000-0000-0000-000000000002","seq":7,"#,
                r#""subject":"00000000-0000-0000-0000-000000000004"}"#
            )
        );
    }
}
