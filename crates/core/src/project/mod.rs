//! The projection: current state as a fold of the event log.
//!
//! `State::apply` is the one function every store and every test uses. A store loads the
//! records an event touches into a `State`, applies the event, and writes the records back;
//! `refuge verify` replays the whole log into an empty `State` and compares.

use crate::destination::DestinationWish;
use crate::event::EventBody;
use crate::ids::*;
use crate::model::*;
use crate::stage::{Stage, TransitionError};
use std::collections::BTreeMap;
use time::Date;

mod batches;
mod casework;
mod merge;
mod organisation;
mod people;
mod purge;

pub use merge::{ConcurrentEdit, Edit, LocalCodes, concurrent_edits, merge_order, monthly_flow};
use purge::refuse_purged;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct State {
    pub users: BTreeMap<UserId, User>,
    pub locations: BTreeMap<LocationId, Location>,
    pub households: BTreeMap<HouseholdId, Household>,
    pub people: BTreeMap<PersonId, Person>,
    pub incidents: BTreeMap<IncidentId, Incident>,
    pub notes: BTreeMap<NoteId, Note>,
    pub batches: BTreeMap<BatchId, TransferBatch>,
}

/// An event that cannot apply to the state it meets. Names records by id or code only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProjectionError {
    #[error("{kind} {id} already exists")]
    AlreadyExists { kind: &'static str, id: String },
    #[error("{kind} {id} does not exist")]
    Missing { kind: &'static str, id: String },
    #[error("person {code}: {source}")]
    Transition {
        code: String,
        source: TransitionError,
    },
    #[error("incident {code} is already closed")]
    AlreadyClosed { code: String },
    #[error("{0}")]
    Invalid(String),
}

fn missing(kind: &'static str, id: impl ToString) -> ProjectionError {
    ProjectionError::Missing {
        kind,
        id: id.to_string(),
    }
}

fn exists(kind: &'static str, id: impl ToString) -> ProjectionError {
    ProjectionError::AlreadyExists {
        kind,
        id: id.to_string(),
    }
}

/// The waiting start of a newly registered person: as given if waiting (events written before
/// 2026-12 give none: then the arrival at the registered location), none otherwise.
pub fn waiting_since_at_registration(person: &Person) -> Result<Option<Date>, ProjectionError> {
    if !person.stage.counts_waiting_time() {
        return Ok(None);
    }
    let waiting_since = person.waiting_since.unwrap_or(person.since);
    if waiting_since > person.since {
        return Err(ProjectionError::Invalid(format!(
            "person {}: waiting since {waiting_since} is after the arrival at the current location on {}",
            person.code, person.since
        )));
    }
    Ok(Some(waiting_since))
}

/// The waiting start after a move to `stage` on `at`: kept while the person goes on waiting
/// (between transit, shelters and detention), begun on `at` if they were not waiting, ended
/// otherwise (hiding, departed, out of the pipeline).
pub fn waiting_since_after_move(before: Option<Date>, stage: Stage, at: Date) -> Option<Date> {
    if stage.counts_waiting_time() {
        before.or(Some(at))
    } else {
        None
    }
}

impl State {
    fn require_location(&self, id: LocationId) -> Result<&Location, ProjectionError> {
        self.locations
            .get(&id)
            .ok_or_else(|| missing("location", id))
    }

    fn batch_mut(&mut self, id: BatchId) -> Result<&mut TransferBatch, ProjectionError> {
        self.batches
            .get_mut(&id)
            .ok_or_else(|| missing("batch", id))
    }

    fn person_mut(&mut self, id: PersonId) -> Result<&mut Person, ProjectionError> {
        self.people
            .get_mut(&id)
            .ok_or_else(|| missing("person", id))
    }

    /// Applies one event. On error the state is unchanged. One method per event, in a file
    /// per family of records (organisation, people, casework, batches).
    pub fn apply(&mut self, body: &EventBody) -> Result<(), ProjectionError> {
        match body {
            EventBody::UserAdded { user } => self.add_user(user),
            EventBody::UserChanged {
                user,
                role,
                locations,
                active,
            } => self.change_user(user, role, locations, active),
            EventBody::LocationAdded { location } => self.add_location(location),
            EventBody::HouseholdAdded { household } => self.add_household(household),
            EventBody::PersonAdded { person } => self.add_person(person),
            EventBody::PersonMoved {
                person,
                to,
                stage,
                at,
                ..
            } => self.move_person(person, to, stage, at),
            EventBody::FlagSet { person, flag, on } => self.set_flag(person, flag, on),
            EventBody::HoldSet { person, reason } => self.set_hold(person, reason),
            EventBody::ReadinessSet {
                person,
                documents_ready,
                screening_done,
            } => self.set_readiness(person, documents_ready, screening_done),
            EventBody::DestinationWishSet { person, wish, on } => self.set_wish(person, wish, on),
            EventBody::PersonRehoused { person, from, to } => self.rehouse(person, from, to),
            EventBody::HouseholdSplitSet {
                household,
                split_allowed,
            } => self.set_split_allowed(household, split_allowed),
            EventBody::PersonMerged { person, into } => self.merge_person(person, into),
            EventBody::PersonCorrected { person, correction } => {
                self.correct_person(person, correction)
            }
            EventBody::IncidentRecorded { incident } => self.record_incident(incident),
            EventBody::IncidentClosed { incident, at } => self.close_incident(incident, at),
            EventBody::NoteAdded { note } => self.add_note(note),
            EventBody::FollowUpDone { person, note, at } => {
                self.complete_follow_up(person, note, at)
            }
            EventBody::BatchCreated { batch } => self.create_batch(batch),
            EventBody::BatchPinned {
                batch,
                household,
                pin,
            } => self.pin_household(batch, household, pin),
            EventBody::BatchPlanned { batch, manifest } => self.plan_batch(batch, manifest),
            EventBody::BatchStatusChanged { batch, status } => self.set_batch_status(batch, status),
            EventBody::PersonPurged {
                person,
                arrived_before,
                on,
            } => self.purge_person(person, arrived_before, on),
            EventBody::NarrativePurged { incident, .. } => self.purge_narrative(incident),
            // What is shown does not change; the kept value, if it is the other, is an edit.
            EventBody::ConflictResolved { .. } => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stage::Stage;
    use proptest::prelude::*;
    use std::collections::BTreeSet;
    use time::macros::date;
    use uuid::Uuid;

    fn location(n: u128) -> Location {
        Location {
            id: LocationId(Uuid::from_u128(n)),
            code: format!("LOC-{n}"),
            kind: LocationKind::Shelter,
            country: "TH".into(),
            capacity: 10,
            name: None,
            address: None,
            version: 0,
        }
    }

    fn household(n: u128) -> Household {
        Household {
            id: HouseholdId(Uuid::from_u128(1000 + n)),
            code: format!("H-{n:05}"),
            head: None,
            split_allowed: false,
            version: 0,
        }
    }

    fn person(n: u128, household: &Household, location: &Location) -> Person {
        Person {
            id: PersonId(Uuid::from_u128(2000 + n)),
            code: format!("P-{n:05}"),
            household: household.id,
            sex: Sex::Female,
            birth_year: Some(1990),
            flags: BTreeSet::new(),
            stage: Stage::Hiding,
            location: location.id,
            since: date!(2026 - 01 - 01),
            waiting_since: None,
            entered: date!(2026 - 01 - 01),
            documents_ready: false,
            screening_done: false,
            hold: None,
            sealed: BTreeMap::new(),
            name_index: None,
            duplicate_index: None,
            merged_into: None,
            purged: None,
            wish: None,
            wish_recorded: None,
            checked_in: None,
            self_harm_unchecked: None,
            version: 0,
        }
    }

    fn seeded() -> (State, Vec<EventBody>) {
        let (loc_a, loc_b) = (location(1), location(2));
        let home = household(1);
        let someone = person(1, &home, &loc_a);
        let events = vec![
            EventBody::LocationAdded { location: loc_a },
            EventBody::LocationAdded { location: loc_b },
            EventBody::HouseholdAdded { household: home },
            EventBody::PersonAdded { person: someone },
        ];
        let mut state = State::default();
        for event in &events {
            state.apply(event).unwrap();
        }
        (state, events)
    }

    #[test]
    fn a_purge_takes_only_the_arrived_and_then_refuses_what_needs_the_identity() {
        let (mut state, _) = seeded();
        let id = PersonId(Uuid::from_u128(2001));
        let purge = EventBody::PersonPurged {
            person: id,
            arrived_before: date!(2026 - 06 - 01),
            on: date!(2026 - 11 - 30),
        };
        let before = state.clone();
        let error = state.apply(&purge).unwrap_err();
        assert_eq!(
            error.to_string(),
            "person P-00001 did not arrive before 2026-06-01"
        );
        assert_eq!(state, before);
        let person = state.people.get_mut(&id).unwrap();
        person.stage = Stage::Arrived;
        person.since = date!(2026 - 05 - 01);
        person.name_index = Some(7);
        state.apply(&purge).unwrap();
        let person = &state.people[&id];
        assert_eq!(person.purged, Some(date!(2026 - 11 - 30)));
        assert_eq!((person.name_index, person.sealed.len()), (None, 0));
        assert!(state.apply(&purge).is_err(), "purged twice");
        let correction = EventBody::PersonCorrected {
            person: id,
            correction: Correction {
                sex: Some(Sex::Male),
                ..Correction::default()
            },
        };
        assert_eq!(
            state.apply(&correction).unwrap_err().to_string(),
            "person P-00001: their identity was destroyed on 2026-11-30 (purge)"
        );
    }

    #[test]
    fn first_member_becomes_head_and_versions_count_changes() {
        let (state, _) = seeded();
        let household = state.households.values().next().unwrap();
        assert_eq!(household.head, Some(PersonId(Uuid::from_u128(2001))));
        assert_eq!(household.version, 2);
    }

    #[test]
    fn invalid_transition_names_the_person_and_both_stages_and_changes_nothing() {
        let (mut state, _) = seeded();
        let before = state.clone();
        let error = state
            .apply(&EventBody::PersonMoved {
                person: PersonId(Uuid::from_u128(2001)),
                to: LocationId(Uuid::from_u128(2)),
                stage: Stage::Departed,
                at: date!(2026 - 02 - 01),
                over_capacity: false,
            })
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "person P-00001: a person cannot go from stage hiding to stage departed"
        );
        assert_eq!(state, before);
    }

    #[test]
    fn waiting_starts_in_transit_survives_moves_and_stops_at_departure() {
        let (mut state, _) = seeded();
        let id = PersonId(Uuid::from_u128(2001));
        let (loc_a, loc_b) = (
            LocationId(Uuid::from_u128(1)),
            LocationId(Uuid::from_u128(2)),
        );
        let mut move_to = |to, stage, at| {
            state
                .apply(&EventBody::PersonMoved {
                    person: id,
                    to,
                    stage,
                    at,
                    over_capacity: false,
                })
                .unwrap();
            state.people[&id].waiting_since
        };
        // Hiding: not waiting yet.
        assert_eq!(seeded().0.people[&id].waiting_since, None);
        let start = date!(2026 - 02 - 01);
        assert_eq!(move_to(loc_a, Stage::Transit, start), Some(start));
        assert_eq!(
            move_to(loc_b, Stage::Sheltered, date!(2026 - 02 - 10)),
            Some(start)
        );
        // A move after a fight, to another shelter: the place in the queue is kept.
        assert_eq!(
            move_to(loc_a, Stage::Sheltered, date!(2026 - 04 - 01)),
            Some(start)
        );
        assert_eq!(
            move_to(loc_a, Stage::Detained, date!(2026 - 04 - 20)),
            Some(start)
        );
        assert_eq!(move_to(loc_b, Stage::Departed, date!(2026 - 05 - 01)), None);
        assert_eq!(state.people[&id].waiting_days(date!(2026 - 06 - 01)), None);
    }

    #[test]
    fn a_merged_duplicate_leaves_every_count_and_gives_its_earlier_wait_and_flags() {
        let (mut state, _) = seeded();
        let home = household(2);
        state
            .apply(&EventBody::HouseholdAdded {
                household: home.clone(),
            })
            .unwrap();
        let mut duplicate = person(2, &home, &location(1));
        duplicate.stage = Stage::Sheltered;
        duplicate.waiting_since = Some(date!(2025 - 11 - 01));
        duplicate.flags.insert(Flag::SelfHarmRisk);
        duplicate.documents_ready = true;
        state
            .apply(&EventBody::PersonAdded {
                person: duplicate.clone(),
            })
            .unwrap();
        let kept = PersonId(Uuid::from_u128(2001));
        state
            .apply(&EventBody::PersonMoved {
                person: kept,
                to: LocationId(Uuid::from_u128(1)),
                stage: Stage::Transit,
                at: date!(2026 - 02 - 01),
                over_capacity: false,
            })
            .unwrap();
        let merge = EventBody::PersonMerged {
            person: duplicate.id,
            into: kept,
        };
        state.apply(&merge).unwrap();
        let (gone, kept_record) = (&state.people[&duplicate.id], &state.people[&kept]);
        assert_eq!(gone.stage, Stage::Merged);
        assert_eq!(gone.merged_into, Some(kept));
        assert_eq!(gone.waiting_since, None);
        assert!(!gone.stage.is_present());
        assert_eq!(kept_record.waiting_since, Some(date!(2025 - 11 - 01)));
        assert!(kept_record.flags.contains(&Flag::SelfHarmRisk));
        assert!(kept_record.documents_ready);
        // Neither record can be merged again, nor can the merged one move.
        let before = state.clone();
        assert!(state.apply(&merge).is_err());
        assert!(
            state
                .apply(&EventBody::PersonMerged {
                    person: kept,
                    into: kept,
                })
                .is_err()
        );
        assert!(
            state
                .apply(&EventBody::PersonMoved {
                    person: duplicate.id,
                    to: LocationId(Uuid::from_u128(1)),
                    stage: Stage::Sheltered,
                    at: date!(2026 - 03 - 01),
                    over_capacity: false,
                })
                .is_err()
        );
        assert_eq!(state, before);
    }

    #[test]
    fn a_registration_waiting_since_after_its_arrival_is_refused() {
        let (mut state, _) = seeded();
        let home = household(2);
        state
            .apply(&EventBody::HouseholdAdded {
                household: home.clone(),
            })
            .unwrap();
        let mut someone = person(2, &home, &location(1));
        someone.stage = Stage::Sheltered;
        // An event from before waiting_since existed: waiting counts from the arrival.
        let mut old = state.clone();
        old.apply(&EventBody::PersonAdded {
            person: someone.clone(),
        })
        .unwrap();
        assert_eq!(old.people[&someone.id].waiting_since, Some(someone.since));
        someone.waiting_since = Some(date!(2026 - 03 - 01));
        let before = state.clone();
        let error = state
            .apply(&EventBody::PersonAdded { person: someone })
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "person P-00002: waiting since 2026-03-01 is after the arrival at the current location on 2026-01-01"
        );
        assert_eq!(state, before);
    }

    #[test]
    fn closing_twice_is_refused() {
        let (mut state, _) = seeded();
        let incident = Incident {
            id: IncidentId(Uuid::from_u128(9)),
            code: "I-00009".into(),
            location: LocationId(Uuid::from_u128(1)),
            kind: IncidentKind::Conflict,
            severity: 3,
            people: vec![PersonId(Uuid::from_u128(2001))],
            status: IncidentStatus::Open,
            occurred: date!(2026 - 01 - 02),
            occurred_time: None,
            closed: None,
            narrative: None,
            version: 0,
        };
        state
            .apply(&EventBody::IncidentRecorded { incident })
            .unwrap();
        let close = EventBody::IncidentClosed {
            incident: IncidentId(Uuid::from_u128(9)),
            at: date!(2026 - 01 - 03),
        };
        state.apply(&close).unwrap();
        assert!(matches!(
            state.apply(&close),
            Err(ProjectionError::AlreadyClosed { .. })
        ));
    }

    /// An action in a random script: indexes pick among seeded people and locations.
    #[derive(Clone, Debug)]
    enum Action {
        Move { stage: usize, to: u128, days: i64 },
        Flag { flag: usize, on: bool },
        Hold(bool),
        Ready(bool, bool),
        Wish(usize, i64),
    }

    fn action() -> impl Strategy<Value = Action> {
        prop_oneof![
            (0usize..10, 1u128..3, 0i64..40).prop_map(|(stage, to, days)| Action::Move {
                stage,
                to,
                days
            }),
            (0usize..9, any::<bool>()).prop_map(|(flag, on)| Action::Flag { flag, on }),
            any::<bool>().prop_map(Action::Hold),
            (any::<bool>(), any::<bool>()).prop_map(|(a, b)| Action::Ready(a, b)),
            (0usize..4, 0i64..40).prop_map(|(wish, days)| Action::Wish(wish, days)),
        ]
    }

    proptest! {
        /// Replaying the accepted events from scratch gives the same state as applying them
        /// one by one, and a store that loads only the touched records gets the same records.
        #[test]
        fn replay_equals_incremental(actions in prop::collection::vec(action(), 0..60)) {
            let (mut incremental, mut log) = seeded();
            let person = PersonId(Uuid::from_u128(2001));
            let mut day = date!(2026 - 01 - 01);
            for action in actions {
                let body = match action {
                    Action::Move { stage, to, days } => {
                        day += time::Duration::days(days);
                        EventBody::PersonMoved {
                            person,
                            to: LocationId(Uuid::from_u128(to)),
                            stage: Stage::ALL[stage],
                            at: day,
                            over_capacity: false,
                        }
                    }
                    Action::Flag { flag, on } => EventBody::FlagSet { person, flag: Flag::ALL[flag], on },
                    Action::Hold(on) => EventBody::HoldSet { person, reason: on.then_some(HoldReason::Medical) },
                    Action::Ready(documents_ready, screening_done) => EventBody::ReadinessSet { person, documents_ready, screening_done },
                    Action::Wish(wish, days) => EventBody::DestinationWishSet {
                        person,
                        wish: ["KR", "CA", "undecided", "stay"][wish].parse().unwrap(),
                        on: date!(2026 - 01 - 01) + time::Duration::days(days),
                    },
                };
                // Partial load, as a store does it: only the touched records.
                let mut partial = State::default();
                for touched in body.touches() {
                    match touched {
                        crate::event::RecordRef::Person(id) => {
                            if let Some(record) = incremental.people.get(&id) { partial.people.insert(id, record.clone()); }
                        }
                        crate::event::RecordRef::Location(id) => {
                            if let Some(record) = incremental.locations.get(&id) { partial.locations.insert(id, record.clone()); }
                        }
                        _ => {}
                    }
                }
                let before = incremental.clone();
                let full_result = incremental.apply(&body);
                let partial_result = partial.apply(&body);
                prop_assert_eq!(full_result.is_ok(), partial_result.is_ok());
                if full_result.is_ok() {
                    prop_assert_eq!(partial.people.get(&person), incremental.people.get(&person));
                    log.push(body);
                } else {
                    prop_assert_eq!(&incremental, &before);
                }
            }
            let mut replayed = State::default();
            for body in &log {
                replayed.apply(body).unwrap();
            }
            prop_assert_eq!(replayed, incremental);
        }
    }
}
