//! People, households, movements, flags, holds, incidents, history and export.

use crate::*;
use refuge_core::event::hlc_millis;
use refuge_store::{Guard, IncidentFilter, PersonFilter};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use time::Duration;

/// A person to register. Identity fields are plaintext here and sealed before anything is
/// stored.
#[derive(Default)]
pub struct NewPerson {
    /// An existing household's code; None creates a new household for this person.
    pub household: Option<String>,
    pub split_allowed: bool,
    pub sex: Option<Sex>,
    pub birth_year: Option<i32>,
    pub location: String,
    pub stage: Option<Stage>,
    pub since: Option<Date>,
    pub entered: Option<Date>,
    pub flags: Vec<Flag>,
    pub identity: BTreeMap<PersonField, String>,
}

/// A person as shown: operational fields with codes resolved, identity only when revealed.
#[derive(Debug)]
pub struct PersonView {
    pub person: Person,
    pub household_code: String,
    pub location_code: String,
    pub waiting_days: i64,
    pub identity: Option<Vec<(PersonField, Revealed)>>,
}

/// What a move did.
#[derive(Debug)]
pub struct MoveReport {
    pub moved: Vec<String>,
    pub location: String,
    pub over_capacity: bool,
}

#[derive(Debug)]
pub struct IncidentView {
    pub incident: Incident,
    pub location_code: String,
    pub people_codes: Vec<String>,
    pub narrative: Option<Revealed>,
}

/// An event as shown in the history: codes and operational facts only.
#[derive(Debug)]
pub struct EventView {
    pub node: NodeId,
    pub seq: i64,
    pub recorded: OffsetDateTime,
    pub actor: String,
    pub kind: &'static str,
    pub subject: String,
    pub summary: String,
}

/// Which people to list (codes as typed by the user).
#[derive(Default)]
pub struct PeopleQuery {
    pub stage: Option<Stage>,
    pub location: Option<String>,
    pub flag: Option<Flag>,
    pub household: Option<String>,
    pub waiting_longer_than_days: Option<i64>,
    /// Exact name, through the blind index.
    pub name: Option<String>,
    pub limit: Option<u32>,
    /// Any order (faster with a limit on a large database).
    pub any_order: bool,
}

const MAX_YEAR_AGE: i32 = 120;

pub(crate) fn check_birth_year(year: i32, today: Date) -> Result<(), String> {
    if year > today.year() || year < today.year() - MAX_YEAR_AGE {
        return Err(format!(
            "{year} is not a plausible birth year (expected {} to {})",
            today.year() - MAX_YEAR_AGE,
            today.year()
        ));
    }
    Ok(())
}

impl App {
    /// Opens the identity fields of a person this session may see.
    pub(crate) fn open_identity(
        &self,
        session: &Session,
        person: &Person,
    ) -> AppResult<Vec<(PersonField, Revealed)>> {
        let id_text = person.id.to_string();
        person
            .sealed
            .iter()
            .map(|(field, sealed)| {
                Ok((
                    *field,
                    session
                        .sealer()
                        .open(&sealed.0, person_context(&id_text, *field))?,
                ))
            })
            .collect()
    }

    pub(crate) async fn person_by_code(&self, session: &Session, code: &str) -> AppResult<Person> {
        let person = self
            .store
            .person_by_code(&normalize_code(code))
            .await?
            .ok_or_else(|| AppError::NotFound {
                what: "person",
                code: code.to_string(),
            })?;
        session.require_location(person.location, &person.code)?;
        Ok(person)
    }

    pub(crate) async fn household_by_code(&self, code: &str) -> AppResult<Household> {
        self.store
            .household_by_code(&normalize_code(code))
            .await?
            .ok_or_else(|| AppError::NotFound {
                what: "household",
                code: code.to_string(),
            })
    }

    /// The people a person or household code names, all inside this session's compartments.
    async fn resolve_people(&self, session: &Session, code: &str) -> AppResult<Vec<Person>> {
        match CodeKind::of_code(code) {
            Some(CodeKind::Person) => Ok(vec![self.person_by_code(session, code).await?]),
            Some(CodeKind::Household) => {
                let household = self.household_by_code(code).await?;
                let members = self.store.household_members(household.id).await?;
                for member in &members {
                    session.require_location(member.location, &member.code)?;
                }
                Ok(members)
            }
            _ => Err(AppError::invalid(
                "code",
                format!("'{code}' is not a person (P-…) or household (H-…) code"),
            )),
        }
    }

    pub async fn add_household(
        &self,
        session: &Session,
        split_allowed: bool,
    ) -> AppResult<Household> {
        session.require(Action::RegisterPeople)?;
        let code = self.fresh_codes(CodeKind::Household, 1).await?.remove(0);
        let household = Household {
            id: HouseholdId(self.new_uuid()?),
            code,
            head: None,
            split_allowed,
            version: 0,
        };
        let event = self.new_event(
            session,
            EventBody::HouseholdAdded {
                household: household.clone(),
            },
        )?;
        self.commit(Commit {
            events: vec![event],
            ..Commit::default()
        })
        .await?;
        Ok(household)
    }

    /// Registers one person (and a household for them when none is named).
    pub async fn add_person(&self, session: &Session, new: NewPerson) -> AppResult<Person> {
        session.require(Action::RegisterPeople)?;
        let today = self.today();
        if new
            .identity
            .get(&PersonField::Name)
            .is_none_or(|name| name.trim().is_empty())
        {
            return Err(AppError::invalid("name", "a name is required"));
        }
        if let Some(year) = new.birth_year {
            check_birth_year(year, today)
                .map_err(|reason| AppError::invalid("birth year", reason))?;
        }
        let location = self.location_by_code(&new.location).await?;
        session.require_location(location.id, &location.code)?;
        let stage = new.stage.unwrap_or(Stage::Sheltered);
        if !stage.is_present() {
            return Err(AppError::invalid(
                "stage",
                format!(
                    "a person is registered at stage hiding, transit, sheltered or detained, not {stage}"
                ),
            ));
        }
        let since = new.since.unwrap_or(today);
        let entered = new.entered.unwrap_or(since);
        if since > today || entered > today {
            return Err(AppError::invalid("since", "dates cannot be in the future"));
        }
        if entered > since {
            return Err(AppError::invalid(
                "entered",
                "entry into care cannot be after arrival at the current location",
            ));
        }
        let mut events = Vec::new();
        let household_id = match &new.household {
            Some(code) => self.household_by_code(code).await?.id,
            None => {
                let household = Household {
                    id: HouseholdId(self.new_uuid()?),
                    code: self.fresh_codes(CodeKind::Household, 1).await?.remove(0),
                    head: None,
                    split_allowed: new.split_allowed,
                    version: 0,
                };
                let id = household.id;
                events.push(self.new_event(session, EventBody::HouseholdAdded { household })?);
                id
            }
        };
        let mut person = Person::registered(
            PersonId(self.new_uuid()?),
            self.fresh_codes(CodeKind::Person, 1).await?.remove(0),
            household_id,
            Registration {
                sex: new.sex.unwrap_or(Sex::Unknown),
                birth_year: new.birth_year,
                flags: new.flags.iter().copied().collect(),
                stage,
                location: location.id,
                since,
                entered,
            },
        );
        seal_identity(
            session.sealer(),
            &mut person,
            &new.identity,
            self.name_index_bits().await?,
        )?;
        events.push(self.new_event(
            session,
            EventBody::PersonAdded {
                person: person.clone(),
            },
        )?);
        self.commit(Commit {
            events,
            guards: vec![Guard::LocationHasRoom {
                location: location.id,
                arriving: 1,
            }],
            ..Commit::default()
        })
        .await?;
        person.version = 1;
        Ok(person)
    }

    /// One person; identity only with `reveal`, for roles that may see it, and logged.
    pub async fn show_person(
        &self,
        session: &Session,
        code: &str,
        reveal: bool,
    ) -> AppResult<PersonView> {
        session.require(Action::ViewPeople)?;
        if reveal {
            session.require(Action::RevealIdentity)?;
        }
        let person = self.person_by_code(session, code).await?;
        let household_code = self
            .store
            .household(person.household)
            .await?
            .map(|household| household.code)
            .unwrap_or_default();
        let location_code = self
            .store
            .locations()
            .await?
            .into_iter()
            .find(|location| location.id == person.location)
            .map(|location| location.code)
            .unwrap_or_default();
        let identity = if reveal {
            let identity = self.open_identity(session, &person)?;
            self.store
                .log_access(
                    vec![self.access_entry(
                        &session.user().name,
                        AccessAction::Reveal,
                        &person.code,
                        "identity",
                    )],
                    HASHER,
                )
                .await?;
            Some(identity)
        } else {
            None
        };
        Ok(PersonView {
            waiting_days: person.waiting_days(self.today()),
            person,
            household_code,
            location_code,
            identity,
        })
    }

    /// People matching a query, operational fields only, limited to the session's
    /// compartments. A name query goes through the blind index and is confirmed by opening
    /// the candidates' names (never shown).
    /// How many people match a query (without a name: counting needs no identity).
    pub async fn count_people(&self, session: &Session, query: &PeopleQuery) -> AppResult<u64> {
        session.require(Action::ViewPeople)?;
        if query.name.is_some() {
            return Err(AppError::invalid(
                "name",
                "counting does not search by name",
            ));
        }
        let filter = self.person_filter(session, query).await?;
        Ok(self.store.count_people(&filter).await?)
    }

    /// The store filter for a query, narrowed to the user's compartments (names aside).
    async fn person_filter(
        &self,
        session: &Session,
        query: &PeopleQuery,
    ) -> AppResult<PersonFilter> {
        // Waiting times only mean something for people waiting for a transfer.
        let stages = match (query.stage, query.waiting_longer_than_days) {
            (Some(stage), _) => vec![stage],
            (None, Some(_)) => vec![Stage::Sheltered, Stage::Detained],
            (None, None) => Vec::new(),
        };
        let mut filter = PersonFilter {
            stages,
            flag: query.flag,
            since_on_or_before: query
                .waiting_longer_than_days
                .map(|days| self.today() - Duration::days(days + 1)),
            limit: if query.name.is_some() {
                None
            } else {
                query.limit
            },
            ..PersonFilter::default()
        };
        let mut allowed: Option<Vec<LocationId>> = session.compartments();
        if let Some(code) = &query.location {
            let location = self.location_by_code(code).await?;
            allowed = Some(match allowed {
                Some(list) => list.into_iter().filter(|id| *id == location.id).collect(),
                None => vec![location.id],
            });
        }
        filter.locations = allowed;
        if let Some(code) = &query.household {
            filter.household = Some(self.household_by_code(code).await?.id);
        }
        Ok(filter)
    }

    pub async fn list_people(
        &self,
        session: &Session,
        query: &PeopleQuery,
    ) -> AppResult<Vec<PersonView>> {
        session.require(Action::ViewPeople)?;
        let mut filter = self.person_filter(session, query).await?;
        let locations = self.store.locations().await?;
        let wanted_name = match &query.name {
            Some(name) => {
                session.require(Action::SearchByName)?;
                let normal = normalize_name(name);
                filter.name_index = Some(session.sealer().blind_index(
                    "name",
                    &normal,
                    self.name_index_bits().await?,
                )?);
                Some(normal)
            }
            None => None,
        };
        let mut people = self.store.people(&filter).await?;
        if let Some(wanted) = wanted_name {
            let mut confirmed = Vec::new();
            for person in people {
                let id_text = person.id.to_string();
                if let Some(sealed) = person.sealed.get(&PersonField::Name) {
                    let name = session
                        .sealer()
                        .open(&sealed.0, person_context(&id_text, PersonField::Name))?;
                    if normalize_name(name.as_str()) == wanted {
                        confirmed.push(person);
                    }
                }
            }
            people = confirmed;
            if let Some(limit) = query.limit {
                people.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            }
        }
        self.views(people, &locations).await
    }

    async fn views(
        &self,
        people: Vec<Person>,
        locations: &[Location],
    ) -> AppResult<Vec<PersonView>> {
        let household_ids: Vec<Uuid> = people
            .iter()
            .map(|person| person.household.0)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let codes = self.store.codes_of(&household_ids).await?;
        let location_codes: HashMap<LocationId, &str> = locations
            .iter()
            .map(|location| (location.id, location.code.as_str()))
            .collect();
        let today = self.today();
        Ok(people
            .into_iter()
            .map(|person| PersonView {
                household_code: codes.get(&person.household.0).cloned().unwrap_or_default(),
                location_code: location_codes
                    .get(&person.location)
                    .map(|code| code.to_string())
                    .unwrap_or_default(),
                waiting_days: person.waiting_days(today),
                identity: None,
                person,
            })
            .collect())
    }

    /// Moves a person, or every member of a household still in the pipeline, to a location
    /// (and optionally a new stage). Refused at capacity unless `over_capacity` is given, in
    /// which case the event records it.
    pub async fn move_to(
        &self,
        session: &Session,
        code: &str,
        to: &str,
        stage: Option<Stage>,
        at: Option<Date>,
        over_capacity: bool,
    ) -> AppResult<MoveReport> {
        session.require(Action::MovePeople)?;
        let mut movers = self.resolve_people(session, code).await?;
        if CodeKind::of_code(code) == Some(CodeKind::Household) {
            movers.retain(|person| person.stage.is_present());
            if movers.is_empty() {
                return Err(AppError::invalid(
                    "code",
                    format!("household {} has nobody left to move", normalize_code(code)),
                ));
            }
        }
        let location = self.location_by_code(to).await?;
        let at = at.unwrap_or(self.today());
        if at > self.today() {
            return Err(AppError::invalid(
                "at",
                "a move cannot be recorded in the future",
            ));
        }
        let mut arriving = 0u32;
        for person in &movers {
            let new_stage = stage.unwrap_or(person.stage);
            person.stage.check_transition(new_stage).map_err(|error| {
                AppError::invalid("stage", format!("person {}: {error}", person.code))
            })?;
            if at < person.since {
                return Err(AppError::invalid(
                    "at",
                    format!(
                        "person {} arrived at the current location on {}, after {at}",
                        person.code, person.since
                    ),
                ));
            }
            let already_here = person.location == location.id && person.stage.is_present();
            if new_stage.is_present() && !already_here {
                arriving += 1;
            }
        }
        let present = self
            .store
            .occupancy()
            .await?
            .into_iter()
            .find(|(id, _)| *id == location.id)
            .map_or(0, |(_, present)| present);
        let overflows = present + u64::from(arriving) > u64::from(location.capacity);
        let mut guards: Vec<Guard> = movers
            .iter()
            .map(|person| Guard::Version {
                record: RecordRef::Person(person.id),
                version: person.version,
            })
            .collect();
        if !over_capacity && arriving > 0 {
            guards.push(Guard::LocationHasRoom {
                location: location.id,
                arriving,
            });
        }
        let mut events = Vec::new();
        for person in &movers {
            events.push(self.new_event(
                session,
                EventBody::PersonMoved {
                    person: person.id,
                    to: location.id,
                    stage: stage.unwrap_or(person.stage),
                    at,
                    over_capacity: over_capacity && overflows,
                },
            )?);
        }
        self.commit(Commit {
            events,
            guards,
            ..Commit::default()
        })
        .await?;
        Ok(MoveReport {
            moved: movers.into_iter().map(|person| person.code).collect(),
            location: location.code,
            over_capacity: over_capacity && overflows,
        })
    }

    /// Sets (true) or clears (false) flags on a person.
    pub async fn set_flags(
        &self,
        session: &Session,
        code: &str,
        changes: &[(Flag, bool)],
    ) -> AppResult<Person> {
        session.require(Action::FlagPeople)?;
        if CodeKind::of_code(code) != Some(CodeKind::Person) {
            return Err(AppError::invalid(
                "code",
                format!("'{code}' is not a person code (P-…)"),
            ));
        }
        let person = self.person_by_code(session, code).await?;
        let mut events = Vec::new();
        for (flag, on) in changes {
            events.push(self.new_event(
                session,
                EventBody::FlagSet {
                    person: person.id,
                    flag: *flag,
                    on: *on,
                },
            )?);
        }
        // Setting or clearing a flag does not depend on the record's other fields, so two
        // people flagging at once lose nothing: no version guard (moves keep theirs).
        self.commit(Commit {
            events,
            ..Commit::default()
        })
        .await?;
        self.person_by_code(session, code).await
    }

    /// Applies one per-person event to everyone a person or household code names.
    async fn for_each_person(
        &self,
        session: &Session,
        action: Action,
        code: &str,
        body: impl Fn(&Person) -> EventBody,
    ) -> AppResult<Vec<String>> {
        session.require(action)?;
        let people = self.resolve_people(session, code).await?;
        let mut events = Vec::new();
        let mut guards = Vec::new();
        for person in &people {
            events.push(self.new_event(session, body(person))?);
            guards.push(Guard::Version {
                record: RecordRef::Person(person.id),
                version: person.version,
            });
        }
        self.commit(Commit {
            events,
            guards,
            ..Commit::default()
        })
        .await?;
        Ok(people.into_iter().map(|person| person.code).collect())
    }

    /// Puts a person or household on hold with a reason, or releases the hold (None).
    pub async fn set_hold(
        &self,
        session: &Session,
        code: &str,
        reason: Option<HoldReason>,
    ) -> AppResult<Vec<String>> {
        self.for_each_person(session, Action::HoldPeople, code, |person| {
            EventBody::HoldSet {
                person: person.id,
                reason,
            }
        })
        .await
    }

    /// Records transfer readiness (documents, screening) for a person or household. A value
    /// left None keeps each person's current one.
    pub async fn set_ready(
        &self,
        session: &Session,
        code: &str,
        documents_ready: Option<bool>,
        screening_done: Option<bool>,
    ) -> AppResult<Vec<String>> {
        self.for_each_person(session, Action::FlagPeople, code, |person| {
            EventBody::ReadinessSet {
                person: person.id,
                documents_ready: documents_ready.unwrap_or(person.documents_ready),
                screening_done: screening_done.unwrap_or(person.screening_done),
            }
        })
        .await
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn add_incident(
        &self,
        session: &Session,
        location: &str,
        kind: IncidentKind,
        severity: u8,
        people: &[String],
        note: Option<&str>,
        occurred: Option<Date>,
    ) -> AppResult<Incident> {
        session.require(Action::RecordIncident)?;
        if !(1..=4).contains(&severity) {
            return Err(AppError::invalid(
                "severity",
                format!("{severity} is not between 1 and 4"),
            ));
        }
        let location = self.location_by_code(location).await?;
        session.require_location(location.id, &location.code)?;
        let occurred = occurred.unwrap_or(self.today());
        if occurred > self.today() {
            return Err(AppError::invalid(
                "date",
                "an incident cannot be in the future",
            ));
        }
        let mut involved = Vec::new();
        for code in people {
            involved.push(self.person_by_code(session, code).await?.id);
        }
        let id = IncidentId(self.new_uuid()?);
        let id_text = id.to_string();
        let incident = Incident {
            id,
            code: self.fresh_codes(CodeKind::Incident, 1).await?.remove(0),
            location: location.id,
            kind,
            severity,
            people: involved,
            status: IncidentStatus::Open,
            occurred,
            closed: None,
            narrative: note
                .filter(|text| !text.trim().is_empty())
                .map(|text| seal(session.sealer(), text, incident_context(&id_text)))
                .transpose()?,
            version: 0,
        };
        let event = self.new_event(
            session,
            EventBody::IncidentRecorded {
                incident: incident.clone(),
            },
        )?;
        self.commit(Commit {
            events: vec![event],
            ..Commit::default()
        })
        .await?;
        Ok(incident)
    }

    pub async fn close_incident(&self, session: &Session, code: &str) -> AppResult<Incident> {
        session.require(Action::CloseIncident)?;
        let incident = self
            .store
            .incident_by_code(&normalize_code(code))
            .await?
            .ok_or_else(|| AppError::NotFound {
                what: "incident",
                code: code.to_string(),
            })?;
        session.require_location(incident.location, &incident.code)?;
        let event = self.new_event(
            session,
            EventBody::IncidentClosed {
                incident: incident.id,
                at: self.today(),
            },
        )?;
        self.commit(Commit {
            events: vec![event],
            guards: vec![Guard::Version {
                record: RecordRef::Incident(incident.id),
                version: incident.version,
            }],
            ..Commit::default()
        })
        .await?;
        Ok(Incident {
            status: IncidentStatus::Closed,
            closed: Some(self.today()),
            version: incident.version + 1,
            ..incident
        })
    }

    /// Incidents in the session's compartments; narratives only with `reveal` (logged).
    /// The newest `limit` open incidents of at least `min_severity` the user may see, and how
    /// many there are in all (the dashboard's alerts).
    pub async fn open_incidents_at_least(
        &self,
        session: &Session,
        min_severity: u8,
        limit: usize,
    ) -> AppResult<(Vec<IncidentView>, usize)> {
        session.require(Action::ViewIncidents)?;
        let mut filter = IncidentFilter {
            open_only: true,
            min_severity,
            locations: session.compartments(),
            limit: None,
        };
        let total = self.store.count_incidents(&filter).await?;
        filter.limit = Some(u32::try_from(limit).unwrap_or(u32::MAX));
        let incidents = self.store.incidents(&filter).await?;
        Ok((
            self.incident_views(session, incidents, false).await?,
            usize::try_from(total).unwrap_or(usize::MAX),
        ))
    }

    /// Location and people codes (and, when revealing, the narrative) for incidents.
    async fn incident_views(
        &self,
        session: &Session,
        incidents: Vec<Incident>,
        reveal: bool,
    ) -> AppResult<Vec<IncidentView>> {
        let locations: HashMap<LocationId, String> = self.location_codes().await?;
        let person_ids: Vec<Uuid> = incidents
            .iter()
            .flat_map(|incident| incident.people.iter().map(|id| id.0))
            .collect();
        let codes = self.store.codes_of(&person_ids).await?;
        let mut views = Vec::new();
        for incident in incidents {
            let narrative = match &incident.narrative {
                Some(sealed) if reveal => {
                    let id_text = incident.id.to_string();
                    Some(
                        session
                            .sealer()
                            .open(&sealed.0, incident_context(&id_text))?,
                    )
                }
                _ => None,
            };
            views.push(IncidentView {
                location_code: locations
                    .get(&incident.location)
                    .cloned()
                    .unwrap_or_default(),
                people_codes: incident
                    .people
                    .iter()
                    .map(|id| codes.get(&id.0).cloned().unwrap_or_default())
                    .collect(),
                narrative,
                incident,
            });
        }
        Ok(views)
    }

    pub async fn incidents(
        &self,
        session: &Session,
        open_only: bool,
        reveal: bool,
    ) -> AppResult<Vec<IncidentView>> {
        session.require(Action::ViewIncidents)?;
        if reveal {
            session.require(Action::RevealIdentity)?;
        }
        let incidents = self
            .store
            .incidents(&IncidentFilter {
                open_only,
                locations: session.compartments(),
                ..IncidentFilter::default()
            })
            .await?;
        let views = self.incident_views(session, incidents, reveal).await?;
        if reveal {
            self.store
                .log_access(
                    vec![self.access_entry(
                        &session.user().name,
                        AccessAction::Reveal,
                        "incidents",
                        "narratives",
                    )],
                    HASHER,
                )
                .await?;
        }
        Ok(views)
    }

    /// The event history, of one person or of everything, oldest first; `visit` is called
    /// with each page so a large log streams.
    pub async fn history(
        &self,
        session: &Session,
        person: Option<&str>,
        mut visit: impl FnMut(Vec<EventView>) -> AppResult<()>,
    ) -> AppResult<()> {
        session.require(Action::ViewHistory)?;
        let users: HashMap<UserId, String> = self
            .store
            .users()
            .await?
            .into_iter()
            .map(|user| (user.id, user.name))
            .collect();
        let locations: HashMap<LocationId, String> = self.location_codes().await?;
        if let Some(code) = person {
            let person = self.person_by_code(session, code).await?;
            let events = self.store.events_of(person.id.0).await?;
            return visit(self.event_views(events, &users, &locations).await?);
        }
        let mut cursor = None;
        loop {
            let page = self.store.events_page(cursor, 5_000).await?;
            let Some(last) = page.last() else { break };
            cursor = Some(refuge_store::EventCursor::of(last));
            visit(self.event_views(page, &users, &locations).await?)?;
        }
        Ok(())
    }

    async fn event_views(
        &self,
        events: Vec<Event>,
        users: &HashMap<UserId, String>,
        locations: &HashMap<LocationId, String>,
    ) -> AppResult<Vec<EventView>> {
        let ids: Vec<Uuid> = events.iter().map(|event| event.body.subject()).collect();
        let codes = self.store.codes_of(&ids).await?;
        let location =
            |id: &LocationId| locations.get(id).cloned().unwrap_or_else(|| id.to_string());
        Ok(events
            .into_iter()
            .map(|event| {
                let subject_id = event.body.subject();
                let subject = codes
                    .get(&subject_id)
                    .cloned()
                    .or_else(|| locations.get(&LocationId(subject_id)).cloned())
                    .or_else(|| users.get(&UserId(subject_id)).cloned())
                    .unwrap_or_else(|| subject_id.to_string());
                let summary = match &event.body {
                    EventBody::UserAdded { user } => format!("user {} ({})", user.name, user.role),
                    EventBody::UserChanged { role, active, .. } => {
                        format!("role {role}, active {active}")
                    }
                    EventBody::LocationAdded { location } => format!(
                        "{} {} in {}, {} beds",
                        location.code, location.kind, location.country, location.capacity
                    ),
                    EventBody::HouseholdAdded { household } => {
                        format!("household, split allowed: {}", household.split_allowed)
                    }
                    EventBody::PersonAdded { person } => format!(
                        "registered {} at {} since {}",
                        person.stage,
                        location(&person.location),
                        person.since
                    ),
                    EventBody::PersonMoved {
                        to,
                        stage,
                        at,
                        over_capacity,
                        ..
                    } => format!(
                        "moved to {} as {stage} on {at}{}",
                        location(to),
                        if *over_capacity {
                            " (over capacity)"
                        } else {
                            ""
                        }
                    ),
                    EventBody::FlagSet { flag, on, .. } => {
                        format!("{}{flag}", if *on { "+" } else { "-" })
                    }
                    EventBody::HoldSet { reason, .. } => match reason {
                        Some(reason) => format!("hold: {reason}"),
                        None => "hold released".to_string(),
                    },
                    EventBody::ReadinessSet {
                        documents_ready,
                        screening_done,
                        ..
                    } => {
                        format!(
                            "documents ready: {documents_ready}, screening done: {screening_done}"
                        )
                    }
                    EventBody::IncidentRecorded { incident } => format!(
                        "{} severity {} at {}",
                        incident.kind,
                        incident.severity,
                        location(&incident.location)
                    ),
                    EventBody::IncidentClosed { at, .. } => format!("closed on {at}"),
                    EventBody::BatchCreated { batch } => format!(
                        "draft for {} with {} seats to {}",
                        batch.departure,
                        batch.seats,
                        location(&batch.destination)
                    ),
                    EventBody::BatchPinned { pin, .. } => match pin {
                        Some(pin) => format!("household pinned {pin}"),
                        None => "pin cleared".to_string(),
                    },
                    EventBody::BatchPlanned { manifest, .. } => {
                        format!("planned: {} people", manifest.len())
                    }
                    EventBody::BatchStatusChanged { status, .. } => format!("now {status}"),
                };
                let recorded = OffsetDateTime::from_unix_timestamp_nanos(
                    i128::from(hlc_millis(event.hlc)) * 1_000_000,
                )
                .unwrap_or(OffsetDateTime::UNIX_EPOCH);
                EventView {
                    node: event.node,
                    seq: event.seq,
                    recorded,
                    actor: users
                        .get(&event.actor)
                        .cloned()
                        .unwrap_or_else(|| event.actor.to_string()),
                    kind: event.body.kind(),
                    subject,
                    summary,
                }
            })
            .collect())
    }

    pub async fn access_log(
        &self,
        session: &Session,
        limit: Option<u32>,
    ) -> AppResult<Vec<refuge_store::AccessEntry>> {
        session.require(Action::ViewAccessLog)?;
        Ok(self.store.access_log(limit).await?)
    }

    /// Writes people as CSV: operational fields, and identity fields with `reveal`. Logged.
    pub async fn export_people<W: std::io::Write>(
        &self,
        session: &Session,
        reveal: bool,
        out: W,
    ) -> AppResult<usize> {
        session.require(Action::Export)?;
        if reveal {
            session.require(Action::RevealIdentity)?;
        }
        let locations = self.store.locations().await?;
        let people = self
            .store
            .people(&PersonFilter {
                locations: session.compartments(),
                ..PersonFilter::default()
            })
            .await?;
        let views = self.views(people, &locations).await?;
        let mut writer = csv::Writer::from_writer(out);
        let mut header = vec![
            "code",
            "household",
            "sex",
            "birth_year",
            "stage",
            "location",
            "since",
            "entered",
            "waiting_days",
            "flags",
            "documents_ready",
            "screening_done",
            "hold",
        ];
        if reveal {
            header.extend(PersonField::ALL.iter().map(|field| field.as_str()));
        }
        let io_error = |error: csv::Error| AppError::csv_output("export", error);
        writer.write_record(&header).map_err(io_error)?;
        for view in &views {
            let person = &view.person;
            let mut record = vec![
                person.code.clone(),
                view.household_code.clone(),
                person.sex.to_string(),
                person
                    .birth_year
                    .map(|year| year.to_string())
                    .unwrap_or_default(),
                person.stage.to_string(),
                view.location_code.clone(),
                person.since.to_string(),
                person.entered.to_string(),
                view.waiting_days.to_string(),
                person
                    .flags
                    .iter()
                    .map(|flag| flag.as_str())
                    .collect::<Vec<_>>()
                    .join(";"),
                person.documents_ready.to_string(),
                person.screening_done.to_string(),
                person
                    .hold
                    .map(|reason| reason.to_string())
                    .unwrap_or_default(),
            ];
            if reveal {
                let identity = self.open_identity(session, person)?;
                for field in PersonField::ALL {
                    record.push(
                        identity
                            .iter()
                            .find(|(name, _)| name == field)
                            .map(|(_, value)| value.as_str().to_string())
                            .unwrap_or_default(),
                    );
                }
            }
            writer.write_record(&record).map_err(io_error)?;
        }
        writer.flush().map_err(AppError::Output)?;
        self.store
            .log_access(
                vec![self.access_entry(
                    &session.user().name,
                    AccessAction::Export,
                    "people",
                    &format!(
                        "{} people{}",
                        views.len(),
                        if reveal { ", identities revealed" } else { "" }
                    ),
                )],
                HASHER,
            )
            .await?;
        Ok(views.len())
    }
}

/// Seals a new person's identity fields and computes the name and duplicate blind indexes.
/// Shared by registration, import and the demo generator; a free function over the sealer
/// alone, so that an import can seal on several threads.
pub(crate) fn seal_identity(
    sealer: &Sealer,
    person: &mut Person,
    identity: &BTreeMap<PersonField, String>,
    index_bits: u32,
) -> AppResult<()> {
    let id_text = person.id.to_string();
    for (field, value) in identity {
        if value.trim().is_empty() {
            continue;
        }
        person.sealed.insert(
            *field,
            seal(sealer, value, person_context(&id_text, *field))?,
        );
    }
    if let Some(name) = identity.get(&PersonField::Name) {
        let normal = normalize_name(name);
        person.name_index = Some(sealer.blind_index("name", &normal, index_bits)?);
        let with_year = format!("{normal}|{}", person.birth_year.unwrap_or(0));
        person.duplicate_index = Some(sealer.blind_index("duplicate", &with_year, index_bits)?);
    }
    Ok(())
}
