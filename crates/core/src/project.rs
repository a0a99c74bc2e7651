//! The projection: current state as a fold of the event log.
//!
//! `State::apply` is the one function every store and every test uses. A store loads the
//! records an event touches into a `State`, applies the event, and writes the records back;
//! `refuge verify` replays the whole log into an empty `State` and compares.

use crate::event::EventBody;
use crate::ids::*;
use crate::model::*;
use crate::stage::{Stage, TransitionError};
use std::collections::BTreeMap;

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
pub fn waiting_since_at_registration(
    person: &Person,
) -> Result<Option<time::Date>, ProjectionError> {
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
pub fn waiting_since_after_move(
    before: Option<time::Date>,
    stage: Stage,
    at: time::Date,
) -> Option<time::Date> {
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

    /// Applies one event. On error the state is unchanged.
    pub fn apply(&mut self, body: &EventBody) -> Result<(), ProjectionError> {
        match body {
            EventBody::UserAdded { user } => {
                if self.users.contains_key(&user.id) {
                    return Err(exists("user", user.id));
                }
                if self.users.values().any(|other| other.name == user.name) {
                    return Err(exists("user", &user.name));
                }
                for location in &user.locations {
                    self.require_location(*location)?;
                }
                let mut user = user.clone();
                user.version = 1;
                self.users.insert(user.id, user);
            }
            EventBody::UserChanged {
                user,
                role,
                locations,
                active,
            } => {
                for location in locations {
                    self.require_location(*location)?;
                }
                let record = self
                    .users
                    .get_mut(user)
                    .ok_or_else(|| missing("user", user))?;
                record.role = *role;
                record.locations = locations.iter().copied().collect();
                record.active = *active;
                record.version += 1;
            }
            EventBody::LocationAdded { location } => {
                if self.locations.contains_key(&location.id) {
                    return Err(exists("location", location.id));
                }
                let mut location = location.clone();
                location.version = 1;
                self.locations.insert(location.id, location);
            }
            EventBody::HouseholdAdded { household } => {
                if self.households.contains_key(&household.id) {
                    return Err(exists("household", &household.code));
                }
                let mut household = household.clone();
                household.version = 1;
                self.households.insert(household.id, household);
            }
            EventBody::PersonAdded { person } => {
                if self.people.contains_key(&person.id) {
                    return Err(exists("person", &person.code));
                }
                if !person.stage.is_present() {
                    return Err(ProjectionError::Invalid(format!(
                        "person {} cannot be registered at stage {}",
                        person.code, person.stage
                    )));
                }
                self.require_location(person.location)?;
                let waiting_since = waiting_since_at_registration(person)?;
                let household = self
                    .households
                    .get_mut(&person.household)
                    .ok_or_else(|| missing("household", person.household))?;
                if household.head.is_none() {
                    household.head = Some(person.id);
                    household.version += 1;
                }
                let mut person = person.clone();
                person.waiting_since = waiting_since;
                person.version = 1;
                self.people.insert(person.id, person);
            }
            EventBody::PersonMoved {
                person,
                to,
                stage,
                at,
                ..
            } => {
                self.require_location(*to)?;
                let record = self.person_mut(*person)?;
                record.stage.check_transition(*stage).map_err(|source| {
                    ProjectionError::Transition {
                        code: record.code.clone(),
                        source,
                    }
                })?;
                if *at < record.since {
                    return Err(ProjectionError::Invalid(format!(
                        "person {}: a move on {at} is before the arrival at the current location on {}",
                        record.code, record.since
                    )));
                }
                record.waiting_since = waiting_since_after_move(record.waiting_since, *stage, *at);
                record.stage = *stage;
                record.location = *to;
                record.since = *at;
                record.version += 1;
            }
            EventBody::FlagSet { person, flag, on } => {
                let record = self.person_mut(*person)?;
                if *on {
                    record.flags.insert(*flag);
                } else {
                    record.flags.remove(flag);
                }
                record.version += 1;
            }
            EventBody::HoldSet { person, reason } => {
                let record = self.person_mut(*person)?;
                record.hold = *reason;
                record.version += 1;
            }
            EventBody::ReadinessSet {
                person,
                documents_ready,
                screening_done,
            } => {
                let record = self.person_mut(*person)?;
                record.documents_ready = *documents_ready;
                record.screening_done = *screening_done;
                record.version += 1;
            }
            EventBody::PersonRehoused { person, from, to } => {
                if from == to {
                    return Err(ProjectionError::Invalid(format!(
                        "person {person} is already in household {to}"
                    )));
                }
                let record = self
                    .people
                    .get(person)
                    .ok_or_else(|| missing("person", person))?;
                if record.household != *from {
                    return Err(ProjectionError::Invalid(format!(
                        "person {} is not in household {from}",
                        record.code
                    )));
                }
                if !self.households.contains_key(from) {
                    return Err(missing("household", from));
                }
                if !self.households.contains_key(to) {
                    return Err(missing("household", to));
                }
                if let Some(old) = self.households.get_mut(from)
                    && old.head == Some(*person)
                {
                    // The head leaves: the household has none until someone joins it.
                    old.head = None;
                    old.version += 1;
                }
                if let Some(new) = self.households.get_mut(to)
                    && new.head.is_none()
                {
                    new.head = Some(*person);
                    new.version += 1;
                }
                let record = self.person_mut(*person)?;
                record.household = *to;
                record.version += 1;
            }
            EventBody::HouseholdSplitSet {
                household,
                split_allowed,
            } => {
                let record = self
                    .households
                    .get_mut(household)
                    .ok_or_else(|| missing("household", household))?;
                if record.split_allowed == *split_allowed {
                    return Err(ProjectionError::Invalid(format!(
                        "household {} already has split allowed: {split_allowed}",
                        record.code
                    )));
                }
                record.split_allowed = *split_allowed;
                record.version += 1;
            }
            EventBody::PersonMerged { person, into } => {
                if person == into {
                    return Err(ProjectionError::Invalid(format!(
                        "person {person} cannot be merged into itself"
                    )));
                }
                let duplicate = self
                    .people
                    .get(person)
                    .ok_or_else(|| missing("person", person))?;
                let kept = self
                    .people
                    .get(into)
                    .ok_or_else(|| missing("person", into))?;
                for record in [duplicate, kept] {
                    if record.stage == Stage::Merged {
                        return Err(ProjectionError::Invalid(format!(
                            "person {} is already merged into another record",
                            record.code
                        )));
                    }
                }
                let flags = duplicate.flags.clone();
                let (documents_ready, screening_done) =
                    (duplicate.documents_ready, duplicate.screening_done);
                // The earlier wait counts for the kept record when it is waiting too: the
                // person has waited since the first of their two registrations.
                let earlier_wait = duplicate.waiting_since;
                let kept = self.person_mut(*into)?;
                kept.flags.extend(flags);
                kept.documents_ready |= documents_ready;
                kept.screening_done |= screening_done;
                if let (Some(kept_since), Some(duplicate_since)) =
                    (kept.waiting_since, earlier_wait)
                {
                    kept.waiting_since = Some(kept_since.min(duplicate_since));
                }
                kept.version += 1;
                let duplicate = self.person_mut(*person)?;
                duplicate.stage = Stage::Merged;
                duplicate.waiting_since = None;
                duplicate.hold = None;
                duplicate.merged_into = Some(*into);
                duplicate.version += 1;
            }
            EventBody::PersonCorrected { person, correction } => {
                if correction.fields().is_empty() {
                    return Err(ProjectionError::Invalid(format!(
                        "a correction of person {person} changes nothing"
                    )));
                }
                let record = self.person_mut(*person)?;
                if let Some(sex) = correction.sex {
                    record.sex = sex;
                }
                if let Some(year) = correction.birth_year {
                    record.birth_year = year;
                }
                for (field, value) in &correction.sealed {
                    match value {
                        Some(sealed) => {
                            record.sealed.insert(*field, sealed.clone());
                        }
                        None => {
                            record.sealed.remove(field);
                        }
                    }
                }
                if let Some(index) = correction.name_index {
                    record.name_index = index;
                }
                if let Some(index) = correction.duplicate_index {
                    record.duplicate_index = index;
                }
                record.version += 1;
            }
            EventBody::IncidentRecorded { incident } => {
                if self.incidents.contains_key(&incident.id) {
                    return Err(exists("incident", &incident.code));
                }
                self.require_location(incident.location)?;
                if !(1..=4).contains(&incident.severity) {
                    return Err(ProjectionError::Invalid(format!(
                        "incident {}: severity {} is not between 1 and 4",
                        incident.code, incident.severity
                    )));
                }
                for person in &incident.people {
                    if !self.people.contains_key(person) {
                        return Err(missing("person", person));
                    }
                }
                let mut incident = incident.clone();
                incident.version = 1;
                self.incidents.insert(incident.id, incident);
            }
            EventBody::IncidentClosed { incident, at } => {
                let record = self
                    .incidents
                    .get_mut(incident)
                    .ok_or_else(|| missing("incident", incident))?;
                if record.status == IncidentStatus::Closed {
                    return Err(ProjectionError::AlreadyClosed {
                        code: record.code.clone(),
                    });
                }
                record.status = IncidentStatus::Closed;
                record.closed = Some(*at);
                record.version += 1;
            }
            EventBody::NoteAdded { note } => {
                if self.notes.contains_key(&note.id) {
                    return Err(exists("note", note.id));
                }
                if !self.people.contains_key(&note.person) {
                    return Err(missing("person", note.person));
                }
                if note.follow_up_done.is_some() {
                    return Err(ProjectionError::Invalid(format!(
                        "note {} cannot start with its follow-up done",
                        note.id
                    )));
                }
                let mut note = note.clone();
                note.version = 1;
                self.notes.insert(note.id, note);
            }
            EventBody::FollowUpDone { person, note, at } => {
                let record = self
                    .notes
                    .get_mut(note)
                    .filter(|record| record.person == *person)
                    .ok_or_else(|| missing("note", note))?;
                if record.follow_up.is_none() || record.follow_up_done.is_some() {
                    return Err(ProjectionError::Invalid(format!(
                        "note {note} has no follow-up due"
                    )));
                }
                record.follow_up_done = Some(*at);
                record.version += 1;
            }
            EventBody::BatchCreated { batch } => {
                if self.batches.contains_key(&batch.id) {
                    return Err(exists("batch", &batch.code));
                }
                self.require_location(batch.destination)?;
                for origin in &batch.origins {
                    self.require_location(*origin)?;
                }
                if batch.status != BatchStatus::Draft || !batch.manifest.is_empty() {
                    return Err(ProjectionError::Invalid(format!(
                        "batch {} must start as an empty draft",
                        batch.code
                    )));
                }
                let mut batch = batch.clone();
                batch.version = 1;
                self.batches.insert(batch.id, batch);
            }
            EventBody::BatchPinned {
                batch,
                household,
                pin,
            } => {
                if !self.households.contains_key(household) {
                    return Err(missing("household", household));
                }
                let record = self.batch_mut(*batch)?;
                if record.status != BatchStatus::Draft {
                    return Err(ProjectionError::Invalid(format!(
                        "batch {} is {}: only a draft can be changed",
                        record.code, record.status
                    )));
                }
                match pin {
                    Some(pin) => record.pins.insert(*household, *pin),
                    None => record.pins.remove(household),
                };
                record.version += 1;
            }
            EventBody::BatchPlanned { batch, manifest } => {
                for person in manifest {
                    if !self.people.contains_key(person) {
                        return Err(missing("person", person));
                    }
                }
                let record = self.batch_mut(*batch)?;
                if record.status != BatchStatus::Draft {
                    return Err(ProjectionError::Invalid(format!(
                        "batch {} is {}: only a draft can be planned",
                        record.code, record.status
                    )));
                }
                if manifest.len() > record.seats as usize {
                    return Err(ProjectionError::Invalid(format!(
                        "batch {}: {} people on the manifest, {} seats",
                        record.code,
                        manifest.len(),
                        record.seats
                    )));
                }
                record.manifest = manifest.clone();
                record.version += 1;
            }
            EventBody::BatchStatusChanged { batch, status } => {
                let record = self.batch_mut(*batch)?;
                if !record.status.can_become(*status) {
                    return Err(ProjectionError::Invalid(format!(
                        "batch {} cannot go from {} to {status}",
                        record.code, record.status
                    )));
                }
                if *status == BatchStatus::Confirmed && record.manifest.is_empty() {
                    return Err(ProjectionError::Invalid(format!(
                        "batch {} has nobody on its manifest",
                        record.code
                    )));
                }
                record.status = *status;
                record.version += 1;
            }
        }
        Ok(())
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
