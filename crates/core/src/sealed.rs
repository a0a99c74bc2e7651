//! Where the sealed values are: in an event and in the records, each with the record whose key
//! seals it and the context bound to it. A re-seal (a key upgrade, a rotation for a key
//! believed stolen) walks these and nothing else, so a new sealed field is added here once.

use crate::event::EventBody;
use crate::ids::*;
use crate::model::*;
use crate::project::State;
use uuid::Uuid;

/// One sealed value: `key_of` is the record whose key seals it (a person's notes are sealed
/// under the person's key); `table`, `record` and `field` are the context it is bound to.
pub struct SealedSlot<'a> {
    pub key_of: Uuid,
    pub table: &'static str,
    pub record: Uuid,
    pub field: &'static str,
    pub value: &'a mut Sealed,
}

fn location_slots(location: &mut Location) -> impl Iterator<Item = SealedSlot<'_>> {
    let id = location.id.0;
    [
        ("name", &mut location.name),
        ("address", &mut location.address),
    ]
    .into_iter()
    .filter_map(move |(field, value)| {
        value.as_mut().map(|value| SealedSlot {
            key_of: id,
            table: "locations",
            record: id,
            field,
            value,
        })
    })
}

fn person_slots<'a>(
    person: PersonId,
    sealed: impl Iterator<Item = (&'a PersonField, &'a mut Sealed)> + 'a,
) -> impl Iterator<Item = SealedSlot<'a>> {
    sealed.map(move |(field, value)| SealedSlot {
        key_of: person.0,
        table: "people",
        record: person.0,
        field: field.as_str(),
        value,
    })
}

fn incident_slot(incident: &mut Incident) -> Option<SealedSlot<'_>> {
    let id = incident.id.0;
    incident.narrative.as_mut().map(|value| SealedSlot {
        key_of: id,
        table: "incidents",
        record: id,
        field: "narrative",
        value,
    })
}

fn note_slot(note: &mut Note) -> SealedSlot<'_> {
    SealedSlot {
        key_of: note.person.0,
        table: "notes",
        record: note.id.0,
        field: "text",
        value: &mut note.text,
    }
}

impl EventBody {
    /// The sealed values this event carries.
    pub fn sealed_slots(&mut self) -> Vec<SealedSlot<'_>> {
        match self {
            EventBody::LocationAdded { location } => location_slots(location).collect(),
            EventBody::PersonAdded { person } => {
                person_slots(person.id, person.sealed.iter_mut()).collect()
            }
            EventBody::PersonCorrected { person, correction } => person_slots(
                *person,
                correction
                    .sealed
                    .iter_mut()
                    .filter_map(|(field, value)| value.as_mut().map(|value| (field, value))),
            )
            .collect(),
            EventBody::IncidentRecorded { incident } => {
                incident_slot(incident).into_iter().collect()
            }
            EventBody::NoteAdded { note } => vec![note_slot(note)],
            EventBody::UserAdded { .. }
            | EventBody::UserChanged { .. }
            | EventBody::HouseholdAdded { .. }
            | EventBody::PersonMoved { .. }
            | EventBody::FlagSet { .. }
            | EventBody::HoldSet { .. }
            | EventBody::ReadinessSet { .. }
            | EventBody::DestinationWishSet { .. }
            | EventBody::PersonRehoused { .. }
            | EventBody::HouseholdSplitSet { .. }
            | EventBody::PersonMerged { .. }
            | EventBody::IncidentClosed { .. }
            | EventBody::FollowUpDone { .. }
            | EventBody::BatchCreated { .. }
            | EventBody::BatchPinned { .. }
            | EventBody::BatchPlanned { .. }
            | EventBody::BatchStatusChanged { .. }
            | EventBody::PersonPurged { .. }
            | EventBody::NarrativePurged { .. }
            | EventBody::ConflictResolved { .. } => Vec::new(),
        }
    }
}

impl State {
    /// The sealed values the records hold.
    pub fn sealed_slots(&mut self) -> Vec<SealedSlot<'_>> {
        let mut slots: Vec<SealedSlot<'_>> = Vec::new();
        slots.extend(self.locations.values_mut().flat_map(location_slots));
        for person in self.people.values_mut() {
            slots.extend(person_slots(person.id, person.sealed.iter_mut()));
        }
        slots.extend(self.incidents.values_mut().filter_map(incident_slot));
        slots.extend(self.notes.values_mut().map(note_slot));
        slots
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventBody;

    fn sealed(text: &str) -> Sealed {
        Sealed(text.to_string())
    }

    #[test]
    fn a_correction_lists_the_values_it_sets_and_not_those_it_clears() {
        let person = PersonId(Uuid::from_u128(7));
        let mut correction = Correction::default();
        correction
            .sealed
            .insert(PersonField::Name, Some(sealed("s1.synthetic-name")));
        correction.sealed.insert(PersonField::Contact, None);
        let mut body = EventBody::PersonCorrected { person, correction };
        let slots = body.sealed_slots();
        assert_eq!(slots.len(), 1);
        assert_eq!(slots[0].key_of, person.0);
        assert_eq!((slots[0].table, slots[0].field), ("people", "name"));
    }

    #[test]
    fn a_note_is_sealed_under_its_persons_key_in_its_own_context() {
        let note = Note {
            id: NoteId(Uuid::from_u128(1)),
            person: PersonId(Uuid::from_u128(2)),
            author: UserId(Uuid::from_u128(3)),
            written: time::macros::date!(2026 - 01 - 05),
            text: sealed("s1.synthetic-note"),
            follow_up: None,
            follow_up_done: None,
            check_in: None,
            version: 0,
        };
        let mut state = State::default();
        state.notes.insert(note.id, note);
        let slots = state.sealed_slots();
        assert_eq!(slots.len(), 1);
        assert_eq!(slots[0].key_of, Uuid::from_u128(2));
        assert_eq!(slots[0].record, Uuid::from_u128(1));
        slots.into_iter().for_each(|slot| slot.value.0.push('x'));
        assert!(state.notes.values().all(|note| note.text.0.ends_with('x')));
    }
}
