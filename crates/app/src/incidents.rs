//! Incidents: recording, closing, listing (narratives only when revealed, and logged).

use crate::*;
use refuge_store::{Guard, IncidentFilter};
use std::collections::HashMap;

/// The most people one incident names (a fight in a crowded room names a few; a bound on
/// the work of one form).
pub const MAX_PEOPLE_IN_INCIDENT: usize = 200;

#[derive(Debug)]
pub struct IncidentView {
    pub incident: Incident,
    pub location_code: String,
    pub people_codes: Vec<String>,
    pub narrative: Option<Revealed>,
}

/// An incident to record; the narrative is plaintext here and sealed before anything is
/// stored.
#[derive(Debug)]
pub struct NewIncident<'a> {
    pub location: &'a str,
    pub kind: IncidentKind,
    /// 1 (minor) to 4 (critical).
    pub severity: u8,
    /// Codes of the people involved.
    pub people: &'a [String],
    pub narrative: Option<&'a str>,
    /// The day it happened (default: today).
    pub occurred: Option<Date>,
    /// The time of day it happened, on the location's clock.
    pub occurred_time: Option<Time>,
}

impl<'a> NewIncident<'a> {
    /// An incident today, no one named, no narrative.
    pub fn new(location: &'a str, kind: IncidentKind, severity: u8) -> Self {
        NewIncident {
            location,
            kind,
            severity,
            people: &[],
            narrative: None,
            occurred: None,
            occurred_time: None,
        }
    }
}

impl NewIncident<'_> {
    /// The bounds of what was typed, before anything is looked up.
    fn check(&self) -> AppResult<()> {
        if !(1..=4).contains(&self.severity) {
            return Err(AppError::invalid(
                "severity",
                Reason::new("severity-between").with("severity", self.severity),
            ));
        }
        if let Some(note) = self.narrative {
            check_text("note", note, true)?;
        }
        if self.people.len() > MAX_PEOPLE_IN_INCIDENT {
            return Err(AppError::invalid(
                "people",
                Reason::new("at-most-people-in-incident")
                    .count("named", self.people.len() as u64)
                    .count("most", MAX_PEOPLE_IN_INCIDENT as u64),
            ));
        }
        Ok(())
    }
}

impl App {
    pub async fn add_incident(
        &self,
        session: &Session,
        new: NewIncident<'_>,
    ) -> AppResult<Incident> {
        session.require(Action::RecordIncident)?;
        new.check()?;
        let NewIncident {
            location,
            kind,
            severity,
            people,
            narrative: note,
            occurred,
            occurred_time,
        } = new;
        let location = self.location_by_code(location).await?;
        session.require_location(location.id, &location.code)?;
        let occurred = occurred.unwrap_or(self.today());
        if occurred > self.latest_day() {
            return Err(AppError::invalid(
                "date",
                Reason::new("incident-in-the-future"),
            ));
        }
        let involved = self.people_involved(session, people).await?;
        // Someone who harmed themselves is at risk until a caseworker says otherwise: the
        // flag puts them among the urgent on every dashboard and weighs in the planner.
        let newly_at_risk: Vec<PersonId> = if kind == IncidentKind::SelfHarm {
            involved
                .iter()
                .filter(|person| !person.flags.contains(&Flag::SelfHarmRisk))
                .map(|person| person.id)
                .collect()
        } else {
            Vec::new()
        };
        if !newly_at_risk.is_empty() {
            session.require(Action::FlagPeople)?;
        }
        let involved: Vec<PersonId> = involved.into_iter().map(|person| person.id).collect();
        let id = IncidentId(self.new_uuid()?);
        let id_text = id.to_string();
        // Its own record key, in its location's compartment.
        let mut keys = self.new_keys(session).await?;
        let sealer = keys.seal_new(&id_text, &location.id.to_string())?;
        let incident = Incident {
            id,
            code: self.fresh_codes(CodeKind::Incident, 1).await?.remove(0),
            location: location.id,
            kind,
            severity,
            people: involved,
            status: IncidentStatus::Open,
            occurred,
            occurred_time,
            closed: None,
            narrative: note
                .filter(|text| !text.trim().is_empty())
                .map(|text| seal(&sealer, text, incident_context(&id_text)))
                .transpose()?,
            version: 0,
        };
        let mut events = vec![self.new_event(
            session,
            EventBody::IncidentRecorded {
                incident: incident.clone(),
            },
        )?];
        for person in newly_at_risk {
            events.push(self.new_event(
                session,
                EventBody::FlagSet {
                    person,
                    flag: Flag::SelfHarmRisk,
                    on: true,
                },
            )?);
        }
        self.commit(Commit {
            events,
            side_writes: keys.into_side_writes(),
            ..Commit::default()
        })
        .await?;
        Ok(incident)
    }

    /// The people named in an incident, each once (a person ticked and also typed), a merged
    /// duplicate's code naming the kept record.
    async fn people_involved(&self, session: &Session, codes: &[String]) -> AppResult<Vec<Person>> {
        let mut involved: Vec<Person> = Vec::new();
        for code in codes {
            let person = match self.person_by_code(session, code).await {
                Err(AppError::Merged { into, .. }) => self.person_by_code(session, &into).await?,
                other => other?,
            };
            if !involved.iter().any(|known| known.id == person.id) {
                involved.push(person);
            }
        }
        Ok(involved)
    }

    pub async fn close_incident(&self, session: &Session, code: &str) -> AppResult<Incident> {
        session.require(Action::CloseIncident)?;
        let incident = self.incident_by_code(code).await?;
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

    /// One incident the session may see; its narrative only with `reveal` (logged).
    pub async fn show_incident(
        &self,
        session: &Session,
        code: &str,
        reveal: bool,
    ) -> AppResult<IncidentView> {
        session.require(Action::ViewIncidents)?;
        if reveal {
            session.require(Action::RevealIdentity)?;
        }
        let incident = self.incident_by_code(code).await?;
        session.require_location(incident.location, &incident.code)?;
        if reveal && incident.narrative.is_some() {
            self.log(
                &session.user().name,
                AccessAction::Reveal,
                &incident.code,
                "narrative",
            )
            .await?;
        }
        let mut views = self.incident_views(session, vec![incident], reveal).await?;
        views.pop().ok_or_else(|| AppError::NotFound {
            what: "incident",
            code: code.to_string(),
        })
    }

    /// The incidents a person was involved in, newest first, at locations the session may
    /// see (narratives never: they are read on the incident's own page).
    pub async fn incidents_of(
        &self,
        session: &Session,
        code: &str,
    ) -> AppResult<Vec<IncidentView>> {
        session.require(Action::ViewIncidents)?;
        let mut incidents: Vec<Incident> = Vec::new();
        for record in self.person_with_merged(session, code).await? {
            for incident in self.store.incidents_of_person(record.id).await? {
                if session.sees_location(incident.location)
                    && !incidents.iter().any(|seen| seen.id == incident.id)
                {
                    incidents.push(incident);
                }
            }
        }
        incidents.sort_by_key(|incident| std::cmp::Reverse(incident.occurred));
        self.incident_views(session, incidents, false).await
    }

    async fn incident_by_code(&self, code: &str) -> AppResult<Incident> {
        self.store
            .incident_by_code(&normalize_code(code))
            .await?
            .ok_or_else(|| AppError::NotFound {
                what: "incident",
                code: code.to_string(),
            })
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
        let sealers = if reveal {
            let ids: Vec<String> = incidents.iter().map(|i| i.id.to_string()).collect();
            self.record_sealers(session, &ids).await?
        } else {
            Default::default()
        };
        let mut views = Vec::new();
        for incident in incidents {
            // A narrative opens for who holds its location's compartment.
            let id_text = incident.id.to_string();
            let narrative = match (&incident.narrative, sealers.get(&id_text)) {
                (Some(sealed), Some(sealer)) => {
                    Some(sealer.open(&sealed.0, incident_context(&id_text))?)
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
            self.log(
                &session.user().name,
                AccessAction::Reveal,
                "incidents",
                "narratives",
            )
            .await?;
        }
        Ok(views)
    }
}
