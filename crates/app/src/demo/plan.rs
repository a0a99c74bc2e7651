//! The demo's synthetic households: who they are and the journey each makes, drawn from one
//! seeded generator (the draws' order is the demo's identity: the same seed, the same
//! organisation).

use super::DemoOptions;
use rand::RngExt;
use rand::SeedableRng;
use rand::rngs::StdRng;
use refuge_core::{DestinationWish, Flag, HoldReason, Sex, Stage};
use std::collections::BTreeSet;
use time::{Date, Duration};

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
pub(super) const SAFE_HOUSES: &[&str] = &["SH-CN-1", "SH-CN-2", "SH-CN-3"];
pub(super) const TRANSIT: &str = "TR-LA-1";
pub(super) const SHELTERS: &[&str] = &["SHL-BKK-1", "SHL-BKK-2", "SHL-CNX-3"];
pub(super) const DETENTION: &str = "IDC-BKK";
pub(super) const RECEPTION: &str = "RCP-KR";

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
pub(super) struct Step {
    pub(super) location: usize,
    pub(super) stage: Stage,
    pub(super) on: Date,
}

pub(super) struct Member {
    pub(super) sex: Sex,
    pub(super) birth_year: i32,
    pub(super) flags: BTreeSet<Flag>,
    pub(super) name: (String, String),
}

pub(super) struct HouseholdPlan {
    pub(super) members: Vec<Member>,
    pub(super) journey: Vec<Step>,
    /// Flags raised during the wait (self-harm risk after long waits, urgent medical needs).
    pub(super) later_flags: Vec<(usize, Flag, Date)>,
    pub(super) documents_ready: bool,
    pub(super) screening_done: bool,
    pub(super) hold: Option<HoldReason>,
    /// Where the household wants to go and the day it said so (those still waiting only).
    pub(super) wish: Option<(DestinationWish, Date)>,
}

/// Mixed into the seed of the wishes' own generator: drawing them leaves every other draw,
/// and so the rest of a seed's organisation, as it was before wishes were drawn.
const WISH_STREAM: u64 = 0x5749_5348_4553;

/// Wishes in percent, cumulative: most want the South; a few another country, some have not
/// decided, and some do not want to move on.
const WISHES: &[(u32, &str)] = &[
    (88, "KR"),
    (91, "US"),
    (92, "GB"),
    (93, "CA"),
    (97, "undecided"),
    (100, "stay"),
];

/// The wish of a household still waiting, said within two weeks of the wait's start.
fn wish(rng: &mut StdRng, journey: &[Step], today: Date) -> Option<(DestinationWish, Date)> {
    let last = journey.last()?;
    if !last.stage.is_waiting() {
        return None;
    }
    let start = journey.iter().find(|step| step.stage.is_waiting())?.on;
    let roll = rng.random_range(0..100);
    let word = WISHES.iter().find(|(upto, _)| roll < *upto)?.1;
    let said = (start + Duration::days(rng.random_range(0..14))).min(today);
    Some((word.parse().ok()?, said))
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
pub(super) fn location_codes() -> Vec<&'static str> {
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
pub(super) fn plan(options: &DemoOptions, today: Date, rng: &mut StdRng) -> Vec<HouseholdPlan> {
    let start = today - Duration::days(options.history_days);
    let history = options.history_days as f64;
    let mut plans = Vec::new();
    let mut placed = 0;
    let mut wish_rng = StdRng::seed_from_u64(options.seed ^ WISH_STREAM);
    while placed < options.people {
        let size = household_size(rng).min(options.people - placed);
        // Arrivals rise over time: the density of the entry day grows linearly.
        let position = rng.random_range(0.0f64..1.0).sqrt() * 0.6 + rng.random_range(0.0..0.4);
        let entered = start + Duration::days((position.min(1.0) * history) as i64);
        let surname = SURNAMES[rng.random_range(0..SURNAMES.len())];
        let members = (0..size)
            .map(|index| member(rng, index, size, entered, surname))
            .collect();
        let (journey, later_flags) = journey(rng, entered, start, history, today);
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
            wish: wish(&mut wish_rng, &journey, today),
            journey,
        });
        placed += size;
    }
    plans
}

/// Households of one to five, most of one or two.
fn household_size(rng: &mut StdRng) -> usize {
    match rng.random_range(0..100) {
        0..55 => 1,
        55..77 => 2,
        77..90 => 3,
        90..97 => 4,
        _ => 5,
    }
}

/// Member `index` of a household of `size` that entered on `entered`: the first an adult.
fn member(
    rng: &mut StdRng,
    index: usize,
    size: usize,
    entered: Date,
    surname: (&str, &str),
) -> Member {
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
    Member {
        sex,
        birth_year: entered.year() - age,
        flags,
        name: invent_name(rng, surname),
    }
}

/// A household's journey from a safe house, and the flags raised during its wait: some are
/// sent back or go missing on the way, most wait in a shelter or detention for a flight.
fn journey(
    rng: &mut StdRng,
    entered: Date,
    start: Date,
    history: f64,
    today: Date,
) -> (Vec<Step>, Vec<(usize, Flag, Date)>) {
    let mut journey = vec![Step {
        location: rng.random_range(0..SAFE_HOUSES.len()),
        stage: Stage::Hiding,
        on: entered,
    }];
    let mut later_flags = Vec::new();
    let mut day = entered + Duration::days(rng.random_range(10..60));
    let exit_roll = rng.random_range(0.0..1.0);
    if day > today {
        return (journey, later_flags);
    }
    if exit_roll < 0.03 {
        journey.push(Step {
            location: journey[0].location,
            stage: Stage::Repatriated,
            on: day,
        });
        return (journey, later_flags);
    }
    journey.push(Step {
        location: location_index(TRANSIT),
        stage: Stage::Transit,
        on: day,
    });
    day += Duration::days(rng.random_range(5..20));
    if day > today {
        return (journey, later_flags);
    }
    if exit_roll < 0.04 {
        journey.push(Step {
            location: location_index(TRANSIT),
            stage: Stage::Missing,
            on: day,
        });
        return (journey, later_flags);
    }
    wait(
        rng,
        &mut journey,
        &mut later_flags,
        day,
        start,
        history,
        today,
        exit_roll,
    );
    (journey, later_flags)
}

/// The wait from `day` in a shelter or detention, then the flight (or a withdrawal).
#[expect(
    clippy::too_many_arguments,
    reason = "the journey's state at the start of the wait, passed on as it stands"
)]
fn wait(
    rng: &mut StdRng,
    journey: &mut Vec<Step>,
    later_flags: &mut Vec<(usize, Flag, Date)>,
    day: Date,
    start: Date,
    history: f64,
    today: Date,
    exit_roll: f64,
) {
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
