//! A synthetic organisation for demonstrations and benchmarks.
//!
//! Shaped by the published corridor figures (shared/data/corridor-figures.md): about three
//! in four arrivals are women; ages follow the cumulative age-at-entry table; people hide in
//! safe houses in China, cross through a transit point, wait in shelters or immigration
//! detention in Thailand and are flown to a reception centre in South Korea on flights every
//! two weeks. Over the 18 months of history the wait grows from about two months to four to
//! six, as in the 2004 backlog. Every name is invented from syllables and every origin and
//! note says it is synthetic.

use crate::*;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use refuge_store::Commit;
use std::collections::{BTreeMap, BTreeSet};
use time::Duration;

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

const SURNAMES: &[(&str, &str)] = &[
    ("김", "Kim"),
    ("이", "Lee"),
    ("박", "Park"),
    ("최", "Choi"),
    ("정", "Jung"),
    ("강", "Kang"),
    ("조", "Cho"),
    ("윤", "Yoon"),
    ("장", "Jang"),
    ("임", "Lim"),
    ("한", "Han"),
    ("오", "Oh"),
    ("서", "Seo"),
    ("신", "Shin"),
    ("권", "Kwon"),
];

const SYLLABLES: &[(&str, &str)] = &[
    ("가", "ga"),
    ("나", "na"),
    ("다", "da"),
    ("라", "ra"),
    ("마", "ma"),
    ("보", "bo"),
    ("서", "seo"),
    ("아", "a"),
    ("지", "ji"),
    ("하", "ha"),
    ("민", "min"),
    ("수", "su"),
    ("영", "yeong"),
    ("진", "jin"),
    ("현", "hyeon"),
    ("은", "eun"),
    ("혜", "hye"),
    ("철", "cheol"),
    ("순", "sun"),
    ("옥", "ok"),
    ("희", "hui"),
    ("미", "mi"),
    ("선", "seon"),
    ("경", "gyeong"),
];

/// Location plan: code, kind, country, share of the stage's people, the protected name.
const SAFE_HOUSES: &[&str] = &["SH-CN-1", "SH-CN-2", "SH-CN-3"];
const TRANSIT: &str = "TR-LA-1";
const SHELTERS: &[&str] = &["SHL-BKK-1", "SHL-BKK-2", "SHL-CNX-3"];
const DETENTION: &str = "IDC-BKK";
const RECEPTION: &str = "RCP-KR";

/// Ages at entry, cumulative to 2022: bands of ten years with their shares in percent.
const AGE_BANDS: &[(i32, f64)] = &[
    (0, 3.8),
    (10, 11.3),
    (20, 28.4),
    (30, 28.7),
    (40, 17.8),
    (50, 6.1),
    (60, 4.0),
];

/// One step of a journey: at `location` at `stage` from `on`.
#[derive(Clone, Copy)]
struct Step {
    location: usize,
    stage: Stage,
    on: Date,
}

struct Member {
    sex: Sex,
    birth_year: i32,
    flags: BTreeSet<Flag>,
    name: (String, String),
}

struct HouseholdPlan {
    members: Vec<Member>,
    journey: Vec<Step>,
    /// Flags raised during the wait (self-harm risk after long waits, urgent medical needs).
    later_flags: Vec<(usize, Flag, Date)>,
    documents_ready: bool,
    screening_done: bool,
    hold: Option<HoldReason>,
}

fn pick_age(rng: &mut StdRng) -> i32 {
    let total: f64 = AGE_BANDS.iter().map(|(_, share)| share).sum();
    let mut draw = rng.random_range(0.0..total);
    for (start, share) in AGE_BANDS {
        if draw < *share {
            let width = if *start == 60 { 16 } else { 10 };
            return start + rng.random_range(0..width);
        }
        draw -= share;
    }
    30
}

fn invent_name(rng: &mut StdRng, surname: (&str, &str)) -> (String, String) {
    let first = SYLLABLES[rng.random_range(0..SYLLABLES.len())];
    let second = SYLLABLES[rng.random_range(0..SYLLABLES.len())];
    (
        format!("{}{}{}", surname.0, first.0, second.0),
        format!("{} {}{}", surname.1, first.1, second.1),
    )
}

/// The location table of the demo organisation, in index order used by journeys.
fn location_codes() -> Vec<&'static str> {
    let mut codes = Vec::new();
    codes.extend_from_slice(SAFE_HOUSES);
    codes.push(TRANSIT);
    codes.extend_from_slice(SHELTERS);
    codes.push(DETENTION);
    codes.push(RECEPTION);
    codes
}

fn location_index(code: &str) -> usize {
    location_codes()
        .iter()
        .position(|candidate| *candidate == code)
        .unwrap_or(0)
}

/// Plans households until `people` people are placed. Arrivals grow over the history and the
/// wait in the transit country grows from about 60 days to 120–180 days.
fn plan(options: &DemoOptions, today: Date, rng: &mut StdRng) -> Vec<HouseholdPlan> {
    let start = today - Duration::days(options.history_days);
    let history = options.history_days as f64;
    let mut plans = Vec::new();
    let mut placed = 0;
    while placed < options.people {
        let size = match rng.random_range(0..100) {
            0..55 => 1,
            55..77 => 2,
            77..90 => 3,
            90..97 => 4,
            _ => 5,
        }
        .min(options.people - placed);
        // Arrivals rise over time: the density of the entry day grows linearly.
        let position = rng.random_range(0.0f64..1.0).sqrt() * 0.6 + rng.random_range(0.0..0.4);
        let entered = start + Duration::days((position.min(1.0) * history) as i64);
        let surname = SURNAMES[rng.random_range(0..SURNAMES.len())];
        let mut members = Vec::new();
        for index in 0..size {
            let mut age = pick_age(rng);
            if index == 0 && age < 20 {
                age = 20 + rng.random_range(0..25);
            }
            let sex = if rng.random_bool(0.75) {
                Sex::Female
            } else {
                Sex::Male
            };
            let mut flags = BTreeSet::new();
            if age < 18 {
                flags.insert(Flag::Minor);
                if size == 1 {
                    flags.insert(Flag::UnaccompaniedMinor);
                }
            }
            if age >= 60 {
                flags.insert(Flag::Elderly);
            }
            if sex == Sex::Female && (20..40).contains(&age) && rng.random_bool(0.04) {
                flags.insert(Flag::Pregnant);
            }
            if rng.random_bool(0.03) {
                flags.insert(Flag::Disability);
            }
            if rng.random_bool(0.08) {
                flags.insert(Flag::ChronicIllness);
            }
            if rng.random_bool(0.05) {
                flags.insert(Flag::SurvivorOfViolence);
            }
            members.push(Member {
                sex,
                birth_year: entered.year() - age,
                flags,
                name: invent_name(rng, surname),
            });
        }
        let mut journey = vec![Step {
            location: rng.random_range(0..SAFE_HOUSES.len()),
            stage: Stage::Hiding,
            on: entered,
        }];
        let mut later_flags = Vec::new();
        let mut day = entered + Duration::days(rng.random_range(10..60));
        let exit_roll = rng.random_range(0.0..1.0);
        if exit_roll < 0.03 && day <= today {
            journey.push(Step {
                location: journey[0].location,
                stage: Stage::Repatriated,
                on: day,
            });
        } else if day <= today {
            journey.push(Step {
                location: location_index(TRANSIT),
                stage: Stage::Transit,
                on: day,
            });
            day += Duration::days(rng.random_range(5..20));
            if exit_roll < 0.04 && day <= today {
                journey.push(Step {
                    location: location_index(TRANSIT),
                    stage: Stage::Missing,
                    on: day,
                });
            } else if day <= today {
                let detained = rng.random_bool(0.35);
                let location = if detained {
                    location_index(DETENTION)
                } else {
                    location_index(SHELTERS[rng.random_range(0..SHELTERS.len())])
                };
                let stage = if detained {
                    Stage::Detained
                } else {
                    Stage::Sheltered
                };
                journey.push(Step {
                    location,
                    stage,
                    on: day,
                });
                // The wait grows from about two months to four to six over the history.
                let progress = ((day - start).whole_days() as f64 / history).clamp(0.0, 1.0);
                let wait_days = if progress < 0.45 {
                    rng.random_range(50..72)
                } else {
                    let grown = (progress - 0.45) / 0.55;
                    let low = 60.0 + grown * 60.0;
                    let high = 75.0 + grown * 105.0;
                    rng.random_range(low..high) as i64
                };
                // Flights leave every 14 days from the start of the history.
                let mut departure = day + Duration::days(wait_days);
                let offset = (departure - start).whole_days() % 14;
                if offset != 0 {
                    departure += Duration::days(14 - offset);
                }
                if !detained && rng.random_bool(0.05) {
                    // Picked up in a raid and held in detention part of the wait.
                    let raid = day + Duration::days(rng.random_range(3..30));
                    if raid < departure && raid <= today {
                        journey.push(Step {
                            location: location_index(DETENTION),
                            stage: Stage::Detained,
                            on: raid,
                        });
                    }
                }
                let waited = (today.min(departure) - day).whole_days();
                if waited > 90 && rng.random_bool(0.06) {
                    later_flags.push((0, Flag::SelfHarmRisk, day + Duration::days(90)));
                }
                if rng.random_bool(0.015) {
                    later_flags.push((0, Flag::MedicalUrgent, day + Duration::days(waited / 2)));
                }
                if exit_roll > 0.995 && departure > today {
                    journey.push(Step {
                        location: journey[journey.len() - 1].location,
                        stage: Stage::Withdrawn,
                        on: today,
                    });
                } else if departure <= today {
                    journey.push(Step {
                        location: location_index(RECEPTION),
                        stage: Stage::Departed,
                        on: departure,
                    });
                    if departure < today {
                        journey.push(Step {
                            location: location_index(RECEPTION),
                            stage: Stage::Arrived,
                            on: departure + Duration::days(1),
                        });
                    }
                }
            }
        }
        let waited = journey
            .iter()
            .find(|step| step.stage.is_waiting())
            .map_or(0, |step| (today - step.on).whole_days());
        plans.push(HouseholdPlan {
            members,
            later_flags,
            documents_ready: waited > 20 && rng.random_bool(0.8),
            screening_done: waited > 10 && rng.random_bool(0.9),
            hold: (waited > 0 && rng.random_bool(0.02)).then(|| {
                [
                    HoldReason::Medical,
                    HoldReason::Legal,
                    HoldReason::Documents,
                ][rng.random_range(0..3)]
            }),
            journey,
        });
        placed += size;
    }
    plans
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
                format!(
                    "{} is not {MIN_HISTORY_DAYS} to {MAX_HISTORY_DAYS} days",
                    options.history_days
                ),
            ));
        }
        let today = self.today();
        let mut rng = StdRng::seed_from_u64(options.seed);
        let plans = plan(options, today, &mut rng);

        // Size the locations from the final occupancy: shelters near capacity, detention at
        // two to four times its capacity, as the figures report.
        let codes = location_codes();
        let mut final_present = vec![0u64; codes.len()];
        for plan in &plans {
            if let Some(last) = plan.journey.last()
                && last.stage.is_present()
            {
                final_present[last.location] += plan.members.len() as u64;
            }
        }
        let mut report = DemoReport::default();
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

        let index_bits = self.name_index_bits().await?;
        let index = self.index_sealer(session)?;
        let total_people: usize = plans.iter().map(|plan| plan.members.len()).sum();
        const HOUSEHOLDS_PER_COMMIT: usize = 4_000;
        for chunk in plans.chunks(HOUSEHOLDS_PER_COMMIT) {
            let people_in_chunk: usize = chunk.iter().map(|plan| plan.members.len()).sum();
            let mut person_codes = self.fresh_codes(CodeKind::Person, people_in_chunk).await?;
            let mut household_codes = self.fresh_codes(CodeKind::Household, chunk.len()).await?;
            let mut events = Vec::new();
            let mut keys = self.new_keys(session).await?;
            let mut waiting_people: Vec<(PersonId, usize, Date)> = Vec::new();
            for plan in chunk {
                let household = Household {
                    id: HouseholdId(self.new_uuid()?),
                    code: household_codes.pop().unwrap_or_default(),
                    head: None,
                    split_allowed: false,
                    version: 0,
                };
                let household_id = household.id;
                events.push(self.new_event(session, EventBody::HouseholdAdded { household })?);
                report.households += 1;
                let first = plan.journey[0];
                for (member_index, member) in plan.members.iter().enumerate() {
                    let mut person = Person::registered(
                        PersonId(self.new_uuid()?),
                        person_codes.pop().unwrap_or_default(),
                        household_id,
                        Registration {
                            sex: member.sex,
                            birth_year: Some(member.birth_year),
                            flags: member.flags.clone(),
                            stage: first.stage,
                            location: location_ids[first.location],
                            since: first.on,
                            waiting_since: None,
                            entered: first.on,
                        },
                    );
                    let mut identity = BTreeMap::new();
                    identity.insert(PersonField::Name, member.name.0.clone());
                    identity.insert(PersonField::NameRomanized, member.name.1.clone());
                    identity.insert(
                        PersonField::Origin,
                        format!("Synthetic county {} (demo)", rng.random_range(1..40)),
                    );
                    identity.insert(PersonField::Notes, "Synthetic demo record".to_string());
                    // The record key goes where the journey ends (all in this commit).
                    let last_location = location_ids[plan.journey[plan.journey.len() - 1].location];
                    let sealer =
                        keys.seal_new(&person.id.to_string(), &last_location.to_string())?;
                    seal_identity(&sealer, &index, &mut person, &identity, index_bits)?;
                    let person_id = person.id;
                    events.push(self.new_event(session, EventBody::PersonAdded { person })?);
                    for step in &plan.journey[1..] {
                        events.push(self.new_event(
                            session,
                            EventBody::PersonMoved {
                                person: person_id,
                                to: location_ids[step.location],
                                stage: step.stage,
                                at: step.on,
                                over_capacity: false,
                            },
                        )?);
                    }
                    let last = plan.journey[plan.journey.len() - 1];
                    if last.stage.is_waiting() {
                        for (flagged, flag, _) in &plan.later_flags {
                            if *flagged == member_index {
                                events.push(self.new_event(
                                    session,
                                    EventBody::FlagSet {
                                        person: person_id,
                                        flag: *flag,
                                        on: true,
                                    },
                                )?);
                            }
                        }
                        if plan.documents_ready || plan.screening_done {
                            events.push(self.new_event(
                                session,
                                EventBody::ReadinessSet {
                                    person: person_id,
                                    documents_ready: plan.documents_ready,
                                    screening_done: plan.screening_done,
                                },
                            )?);
                        }
                        if plan.hold.is_some() {
                            events.push(self.new_event(
                                session,
                                EventBody::HoldSet {
                                    person: person_id,
                                    reason: plan.hold,
                                },
                            )?);
                        }
                        waiting_people.push((person_id, last.location, last.on));
                    }
                    report.people += 1;
                }
            }
            // Incidents among the people waiting: conflicts in crowded rooms, self-harm,
            // medical emergencies; the recent ones still open.
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
                let incident = Incident {
                    id,
                    code: incident_codes.pop().unwrap_or_default(),
                    location: location_ids[location],
                    kind,
                    severity: rng.random_range(1..=4),
                    people,
                    status: IncidentStatus::Open,
                    occurred,
                    // A time of day from the code (no draw: the demo's other values stay).
                    occurred_time: incident_time_of_day(id.0.as_u128()),
                    closed: None,
                    narrative: Some(seal(
                        keys.seal_new(&id_text, &location_ids[location].to_string())?
                            .as_ref(),
                        "Synthetic demo incident narrative",
                        incident_context(&id_text),
                    )?),
                    version: 0,
                };
                events.push(self.new_event(session, EventBody::IncidentRecorded { incident })?);
                if !recent {
                    events.push(self.new_event(
                        session,
                        EventBody::IncidentClosed {
                            incident: id,
                            at: (occurred + Duration::days(rng.random_range(1..10))).min(today),
                        },
                    )?);
                }
                report.incidents += 1;
            }
            report.events += events.len();
            self.commit(Commit {
                events,
                side_writes: keys.into_side_writes(),
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
}

/// A plausible time of day for a demo incident, spread by `seed`: mostly afternoon and
/// evening, when rooms are crowded.
fn incident_time_of_day(seed: u128) -> Option<Time> {
    let minutes = seed % 600;
    Time::from_hms(12 + (minutes / 60) as u8, (minutes % 60) as u8, 0).ok()
}
