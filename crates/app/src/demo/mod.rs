//! A synthetic organisation for demonstrations and benchmarks.
//!
//! Shaped by the published corridor figures (shared/data/corridor-figures.md): about three
//! in four arrivals are women; ages follow the cumulative age-at-entry table; people hide in
//! safe houses in China, cross through a transit point, wait in shelters or immigration
//! detention in Thailand and are flown to a reception centre in South Korea on flights every
//! two weeks. Over the 18 months of history the wait grows from about two months to four to
//! six, as in the 2004 backlog. Every name is invented from syllables and every origin and
//! note says it is synthetic.

use crate::keyring::NewKeys;
use crate::*;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use refuge_store::Commit;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use time::Duration;

mod plan;
use plan::{DETENTION, HouseholdPlan, RECEPTION, SHELTERS, TRANSIT, location_codes, plan};

/// The demo's history: long enough for journeys (a wait is months), short of centuries.
const MIN_HISTORY_DAYS: i64 = 30;
const MAX_HISTORY_DAYS: i64 = 3_650;

#[derive(Clone, Debug)]
pub struct DemoOptions {
    pub people: usize,
    pub seed: u64,
    /// Days of history before today.
    pub history_days: i64,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            people: 3_000,
            seed: 2004,
            history_days: 548,
        }
    }
}

#[derive(Debug, Default)]
pub struct DemoReport {
    pub users: Vec<(String, Role, Vec<String>)>,
    pub locations: usize,
    pub people: usize,
    pub households: usize,
    pub incidents: usize,
    pub events: usize,
}

/// What one commit of the demo writes, and the people of it still waiting (for incidents).
struct DemoChunk<'a> {
    session: &'a Session,
    location_ids: &'a [LocationId],
    events: Vec<NewEvent>,
    keys: NewKeys,
    /// (person, location index, waiting since).
    waiting_people: Vec<(PersonId, usize, Date)>,
    /// The people flagged `self_harm_risk` so far (a self-harm incident flags the others).
    at_risk: HashSet<PersonId>,
    today: Date,
}

impl App {
    /// Fills a freshly initialised organisation with synthetic locations, users, people,
    /// households, movements and incidents. Every user added gets `passphrase`.
    pub async fn populate_demo(
        &self,
        session: &Session,
        options: &DemoOptions,
        passphrase: &str,
        progress: &mut dyn FnMut(usize, usize),
    ) -> AppResult<DemoReport> {
        session.require(Action::ManageUsers)?;
        session.require(Action::ManageLocations)?;
        if !(MIN_HISTORY_DAYS..=MAX_HISTORY_DAYS).contains(&options.history_days) {
            return Err(AppError::invalid(
                "history days",
                Reason::new("days-between")
                    .count("least", MIN_HISTORY_DAYS as u64)
                    .count("most", MAX_HISTORY_DAYS as u64),
            ));
        }
        let today = self.today();
        let mut rng = StdRng::seed_from_u64(options.seed);
        let plans = plan(options, today, &mut rng);
        let mut report = DemoReport::default();
        let location_ids = self.demo_locations(session, &plans, &mut report).await?;
        self.demo_users(session, passphrase, &mut report).await?;

        let index_bits = self.name_index_bits().await?;
        let index = self.index_sealer(session)?;
        let total_people: usize = plans.iter().map(|plan| plan.members.len()).sum();
        const HOUSEHOLDS_PER_COMMIT: usize = 4_000;
        for households in plans.chunks(HOUSEHOLDS_PER_COMMIT) {
            let mut chunk = DemoChunk {
                session,
                location_ids: &location_ids,
                events: Vec::new(),
                keys: self.new_keys(session).await?,
                waiting_people: Vec::new(),
                at_risk: HashSet::new(),
                today,
            };
            let people_in_chunk: usize = households.iter().map(|plan| plan.members.len()).sum();
            let mut person_codes = self.fresh_codes(CodeKind::Person, people_in_chunk).await?;
            let mut household_codes = self
                .fresh_codes(CodeKind::Household, households.len())
                .await?;
            for plan in households {
                let code = household_codes.pop().unwrap_or_default();
                let household = self.demo_household(&mut chunk, code)?;
                report.households += 1;
                for (member_index, member) in plan.members.iter().enumerate() {
                    let sealing = (&*index, index_bits);
                    let code = person_codes.pop().unwrap_or_default();
                    let person = Person::registered(
                        PersonId(self.new_uuid()?),
                        code,
                        household,
                        demo_registration(plan, member, &location_ids),
                    );
                    self.demo_person(&mut chunk, plan, member_index, person, sealing, &mut rng)?;
                    report.people += 1;
                }
            }
            report.incidents += self.demo_incidents(&mut chunk, today, &mut rng).await?;
            report.events += chunk.events.len();
            self.commit(Commit {
                events: chunk.events,
                side_writes: chunk.keys.into_side_writes(),
                ..Commit::default()
            })
            .await?;
            progress(report.people, total_people);
        }
        self.log(
            &session.user().name,
            AccessAction::Demo,
            "organisation",
            &format!("{} synthetic people", report.people),
        )
        .await?;
        Ok(report)
    }

    /// The demo's locations, sized from the final occupancy: shelters near capacity,
    /// detention at two to four times its capacity, as the figures report. Their ids in
    /// the order of `location_codes`.
    async fn demo_locations(
        &self,
        session: &Session,
        plans: &[HouseholdPlan],
        report: &mut DemoReport,
    ) -> AppResult<Vec<LocationId>> {
        let codes = location_codes();
        let mut final_present = vec![0u64; codes.len()];
        for plan in plans {
            if let Some(last) = plan.journey.last()
                && last.stage.is_present()
            {
                final_present[last.location] += plan.members.len() as u64;
            }
        }
        let mut location_ids = Vec::new();
        for (index, code) in codes.iter().enumerate() {
            let present = final_present[index];
            let (kind, country, capacity) = match *code {
                code if code.starts_with("SH-") => (LocationKind::SafeHouse, "CN", present + 10),
                TRANSIT => (LocationKind::Other, "LA", present + 20),
                DETENTION => (LocationKind::Detention, "TH", (present / 3).max(20)),
                RECEPTION => (LocationKind::Reception, "KR", 500),
                _ => (LocationKind::Shelter, "TH", (present * 100 / 95).max(40)),
            };
            let location = self
                .add_location(
                    session,
                    code,
                    kind,
                    country,
                    u32::try_from(capacity).unwrap_or(u32::MAX),
                    Some(&format!("Synthetic place {}", index + 1)),
                    Some(&format!(
                        "Demo street {}, synthetic district",
                        index * 7 + 3
                    )),
                )
                .await?;
            location_ids.push(location.id);
            report.locations += 1;
        }
        Ok(location_ids)
    }

    /// A user of every role beside the admin, each with `passphrase`.
    async fn demo_users(
        &self,
        session: &Session,
        passphrase: &str,
        report: &mut DemoReport,
    ) -> AppResult<()> {
        let shelter_one = vec![SHELTERS[0].to_string()];
        let detention = vec![DETENTION.to_string()];
        let no_locations: Vec<String> = Vec::new();
        let demo_users: [(&str, Role, &Vec<String>); 5] = [
            ("coordinator", Role::Coordinator, &no_locations),
            ("caseworker", Role::Caseworker, &shelter_one),
            ("caseworker.idc", Role::Caseworker, &detention),
            ("analyst", Role::Analyst, &no_locations),
            ("auditor", Role::Auditor, &no_locations),
        ];
        report
            .users
            .push((session.user().name.clone(), Role::Admin, Vec::new()));
        for (name, role, locations) in demo_users {
            self.add_user(
                session,
                NewUser {
                    name,
                    role,
                    location_codes: locations,
                    passphrase,
                },
            )
            .await?;
            report
                .users
                .push((name.to_string(), role, locations.clone()));
        }
        Ok(())
    }

    fn demo_household(&self, chunk: &mut DemoChunk<'_>, code: String) -> AppResult<HouseholdId> {
        let household = Household {
            id: HouseholdId(self.new_uuid()?),
            code,
            head: None,
            split_allowed: false,
            version: 0,
        };
        let id = household.id;
        chunk
            .events
            .push(self.new_event(chunk.session, EventBody::HouseholdAdded { household })?);
        Ok(id)
    }

    /// One member of a planned household: registered with a synthetic identity sealed to
    /// where the journey ends, moved along it, and (if still waiting) flagged, made ready
    /// and held as planned.
    fn demo_person(
        &self,
        chunk: &mut DemoChunk<'_>,
        plan: &HouseholdPlan,
        member_index: usize,
        mut person: Person,
        (index, index_bits): (&Sealer, u32),
        rng: &mut StdRng,
    ) -> AppResult<()> {
        let member = &plan.members[member_index];
        let session = chunk.session;
        let mut identity = BTreeMap::new();
        identity.insert(PersonField::Name, member.name.0.clone());
        identity.insert(PersonField::NameRomanized, member.name.1.clone());
        identity.insert(
            PersonField::Origin,
            format!("Synthetic county {} (demo)", rng.random_range(1..40)),
        );
        identity.insert(PersonField::Notes, "Synthetic demo record".to_string());
        let last = plan.journey[plan.journey.len() - 1];
        // The record key goes where the journey ends (all in this commit).
        let last_location = chunk.location_ids[last.location];
        let sealer = chunk
            .keys
            .seal_new(&person.id.to_string(), &last_location.to_string())?;
        seal_identity(&sealer, index, &mut person, &identity, index_bits)?;
        let person_id = person.id;
        let mut bodies = vec![EventBody::PersonAdded { person }];
        bodies.extend(plan.journey[1..].iter().map(|step| EventBody::PersonMoved {
            person: person_id,
            to: chunk.location_ids[step.location],
            stage: step.stage,
            at: step.on,
            over_capacity: false,
        }));
        if last.stage.is_waiting() {
            for (_, flag, _) in plan
                .later_flags
                .iter()
                .filter(|(flagged, _, _)| *flagged == member_index)
            {
                if *flag == Flag::SelfHarmRisk {
                    chunk.at_risk.insert(person_id);
                }
                bodies.push(EventBody::FlagSet {
                    person: person_id,
                    flag: *flag,
                    on: true,
                });
            }
            if plan.documents_ready || plan.screening_done {
                bodies.push(EventBody::ReadinessSet {
                    person: person_id,
                    documents_ready: plan.documents_ready,
                    screening_done: plan.screening_done,
                });
            }
            if plan.hold.is_some() {
                bodies.push(EventBody::HoldSet {
                    person: person_id,
                    reason: plan.hold,
                });
            }
            if let Some((wish, on)) = plan.wish {
                bodies.push(EventBody::DestinationWishSet {
                    person: person_id,
                    wish,
                    on,
                });
            }
            bodies.extend(self.demo_check_in(chunk, person_id, last.on, &sealer)?);
            chunk
                .waiting_people
                .push((person_id, last.location, last.on));
        }
        for body in bodies {
            chunk.events.push(self.new_event(session, body)?);
        }
        Ok(())
    }

    /// The check-in note of a resident waiting since `since`, sealed with their key.
    fn demo_check_in(
        &self,
        chunk: &DemoChunk<'_>,
        person: PersonId,
        since: Date,
        sealer: &Sealer,
    ) -> AppResult<Option<EventBody>> {
        let Some((written, check_in)) = demo_check_in(person, since, chunk.today) else {
            return Ok(None);
        };
        let id = NoteId(self.new_uuid()?);
        Ok(Some(EventBody::NoteAdded {
            note: Note {
                id,
                person,
                author: chunk.session.user().id,
                written,
                text: seal(
                    sealer,
                    "Synthetic demo check-in",
                    note_context(&id.to_string()),
                )?,
                follow_up: None,
                follow_up_done: None,
                check_in: Some(check_in),
                version: 0,
            },
        }))
    }

    /// Incidents among the chunk's people waiting: conflicts in crowded rooms, self-harm,
    /// medical emergencies; the recent ones still open. Returns how many.
    async fn demo_incidents(
        &self,
        chunk: &mut DemoChunk<'_>,
        today: Date,
        rng: &mut StdRng,
    ) -> AppResult<usize> {
        let waiting_people = &chunk.waiting_people;
        let incident_count = waiting_people.len() / 25;
        let mut incident_codes = self.fresh_codes(CodeKind::Incident, incident_count).await?;
        for _ in 0..incident_count {
            let (person, location, since) =
                waiting_people[rng.random_range(0..waiting_people.len())];
            let other = waiting_people[rng.random_range(0..waiting_people.len())].0;
            let span = (today - since).whole_days().max(1);
            let occurred = since + Duration::days(rng.random_range(0..span));
            let kind = match rng.random_range(0..10) {
                0..5 => IncidentKind::Conflict,
                5..7 => IncidentKind::Medical,
                7 => IncidentKind::SelfHarm,
                8 => IncidentKind::Theft,
                _ => IncidentKind::Other,
            };
            let other_here = waiting_people
                .iter()
                .any(|(id, at, _)| *id == other && *at == location);
            let people = if kind == IncidentKind::Conflict && other != person && other_here {
                vec![person, other]
            } else {
                vec![person]
            };
            let id = IncidentId(self.new_uuid()?);
            let id_text = id.to_string();
            let recent = (today - occurred).whole_days() < 30;
            let location_id = chunk.location_ids[location];
            let incident = Incident {
                id,
                code: incident_codes.pop().unwrap_or_default(),
                location: location_id,
                kind,
                severity: rng.random_range(1..=4),
                people,
                status: IncidentStatus::Open,
                occurred,
                // A time of day from the code (no draw: the demo's other values stay).
                occurred_time: incident_time_of_day(id.0.as_u128()),
                closed: None,
                narrative: Some(seal(
                    chunk
                        .keys
                        .seal_new(&id_text, &location_id.to_string())?
                        .as_ref(),
                    "Synthetic demo incident narrative",
                    incident_context(&id_text),
                )?),
                version: 0,
            };
            chunk
                .events
                .push(self.new_event(chunk.session, EventBody::IncidentRecorded { incident })?);
            // As a recorded self-harm incident does (`add_incident`); no draw.
            if kind == IncidentKind::SelfHarm && chunk.at_risk.insert(person) {
                chunk.events.push(self.new_event(
                    chunk.session,
                    EventBody::FlagSet {
                        person,
                        flag: Flag::SelfHarmRisk,
                        on: true,
                    },
                )?);
            }
            if !recent {
                chunk.events.push(self.new_event(
                    chunk.session,
                    EventBody::IncidentClosed {
                        incident: id,
                        at: (occurred + Duration::days(rng.random_range(1..10))).min(today),
                    },
                )?);
            }
        }
        Ok(incident_count)
    }
}

/// The last welfare check-in of a demo resident waiting since `since`: from the id's bits
/// (no draw: the demo's other values stay), a day in the last 40 (so about one in four of
/// the long waits is overdue under the default schedule) and mostly well or strained; none
/// in the first month of the wait.
fn demo_check_in(person: PersonId, since: Date, today: Date) -> Option<(Date, CheckIn)> {
    let bits = person.0.as_u128();
    let day = (today - Duration::days(i64::try_from(bits % 40).unwrap_or(0))).max(since);
    if (today - since).whole_days() < 30 {
        return None;
    }
    let wellbeing = match (bits >> 8) % 10 {
        0..5 => Wellbeing::Well,
        5..8 => Wellbeing::Strained,
        8 => Wellbeing::Struggling,
        _ => Wellbeing::Crisis,
    };
    let needs = match (bits >> 16) % 6 {
        0 => [Need::Medical].into(),
        1 => [Need::FamilyContact].into(),
        2 => [Need::MentalHealth, Need::Safety].into(),
        _ => BTreeSet::new(),
    };
    Some((day, CheckIn { wellbeing, needs }))
}

/// A planned member's registration where their household's journey begins.
fn demo_registration(
    plan: &HouseholdPlan,
    member: &plan::Member,
    location_ids: &[LocationId],
) -> Registration {
    let first = plan.journey[0];
    Registration {
        sex: member.sex,
        birth_year: Some(member.birth_year),
        flags: member.flags.clone(),
        stage: first.stage,
        location: location_ids[first.location],
        since: first.on,
        waiting_since: None,
        entered: first.on,
    }
}

/// A plausible time of day for a demo incident, spread by `seed`: mostly afternoon and
/// evening, when rooms are crowded.
fn incident_time_of_day(seed: u128) -> Option<Time> {
    let minutes = seed % 600;
    Time::from_hms(12 + (minutes / 60) as u8, (minutes % 60) as u8, 0).ok()
}
