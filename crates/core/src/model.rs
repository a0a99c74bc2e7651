//! Records of the domain: locations, households, people, incidents, users.

use crate::destination::DestinationWish;
use crate::ids::*;
use crate::stage::Stage;
use crate::vocabulary;
use crate::welfare::CheckIn;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use time::{Date, Time};

vocabulary!(LocationKind, "location kind", {
    SafeHouse => "safe_house",
    Shelter => "shelter",
    Detention => "detention",
    Reception => "reception",
    Other => "other",
});

vocabulary!(Sex, "sex", {
    Female => "female",
    Male => "male",
    Other => "other",
    Unknown => "unknown",
});

vocabulary!(Flag, "flag", {
    Minor => "minor",
    UnaccompaniedMinor => "unaccompanied_minor",
    Elderly => "elderly",
    Pregnant => "pregnant",
    Disability => "disability",
    ChronicIllness => "chronic_illness",
    SelfHarmRisk => "self_harm_risk",
    MedicalUrgent => "medical_urgent",
    SurvivorOfViolence => "survivor_of_violence",
});

vocabulary!(HoldReason, "hold reason", {
    Medical => "medical",
    Legal => "legal",
    Security => "security",
    Family => "family",
    Documents => "documents",
    Other => "other",
});

vocabulary!(IncidentKind, "incident kind", {
    Conflict => "conflict",
    SelfHarm => "self_harm",
    Medical => "medical",
    Raid => "raid",
    Arrest => "arrest",
    Abuse => "abuse",
    Theft => "theft",
    Other => "other",
});

vocabulary!(IncidentStatus, "incident status", {
    Open => "open",
    Closed => "closed",
});

vocabulary!(BatchStatus, "batch status", {
    Draft => "draft",
    Confirmed => "confirmed",
    Departed => "departed",
    Completed => "completed",
    Cancelled => "cancelled",
});

vocabulary!(BatchPin, "pin", {
    In => "in",
    Out => "out",
});

// Which value a person settling a conflict kept: the one every installation showed, or the
// other (written again as an edit of its own).
vocabulary!(Kept, "kept value", {
    Shown => "shown",
    Other => "other",
});

vocabulary!(Role, "role", {
    Admin => "admin",
    Coordinator => "coordinator",
    Caseworker => "caseworker",
    Analyst => "analyst",
    Auditor => "auditor",
});

// The protected fields of a person. Their values are only ever held sealed in a record.
vocabulary!(PersonField, "protected person field", {
    Name => "name",
    NameRomanized => "name_romanized",
    Aliases => "aliases",
    DateOfBirth => "date_of_birth",
    Origin => "origin",
    Relatives => "relatives",
    Contact => "contact",
    Notes => "notes",
});

/// A sealed (encrypted and authenticated) value, as text. Core never sees what is inside.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Sealed(pub String);

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealed(..)")
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    pub id: LocationId,
    /// Chosen by the organisation; operational, not protected (never use a real name here).
    pub code: String,
    pub kind: LocationKind,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    pub capacity: u32,
    pub name: Option<Sealed>,
    pub address: Option<Sealed>,
    #[serde(default)]
    pub version: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Household {
    pub id: HouseholdId,
    pub code: String,
    pub head: Option<PersonId>,
    pub split_allowed: bool,
    #[serde(default)]
    pub version: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub id: PersonId,
    pub code: String,
    pub household: HouseholdId,
    pub sex: Sex,
    pub birth_year: Option<i32>,
    pub flags: BTreeSet<Flag>,
    pub stage: Stage,
    pub location: LocationId,
    /// Arrival at the current location.
    pub since: Date,
    /// Since when the person has waited for a transfer: the first day in transit, a shelter
    /// or detention, kept across moves between such places; `None` while hiding and once
    /// departed or out of the pipeline. Derived by the projection (old events do not carry
    /// it: it is left out of the JSON when absent, so their hashes are unchanged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_since: Option<Date>,
    /// Entry into the network's care.
    pub entered: Date,
    pub documents_ready: bool,
    pub screening_done: bool,
    pub hold: Option<HoldReason>,
    /// Protected fields, sealed; absent fields were not given.
    pub sealed: BTreeMap<PersonField, Sealed>,
    /// Blind index of the normalised name (truncated HMAC): exact-name search.
    pub name_index: Option<i64>,
    /// Blind index of the normalised name and birth year: likely-duplicate detection.
    pub duplicate_index: Option<i64>,
    /// The record this duplicate was merged into (its stage is then `merged`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<PersonId>,
    /// The day their identity was destroyed (`refuge purge`): the sealed fields and blind
    /// indexes are gone and their record key with them; the anonymised facts stay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purged: Option<Date>,
    /// Where they want to go, and the day they said so (`None`: not asked yet). Left out of
    /// the JSON when absent, so older events keep their hashes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wish: Option<DestinationWish>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wish_recorded: Option<Date>,
    /// The day of their last welfare check-in; derived by the projection from the check-ins
    /// written here (left out of the JSON when absent, so older events keep their hashes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked_in: Option<Date>,
    /// The day of the latest self-harm incident involving them that no check-in answered (one
    /// recorded after it, or on a later day than it), derived like `checked_in`: the welfare
    /// schedule asks for a check after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_harm_unchecked: Option<Date>,
    #[serde(default)]
    pub version: i64,
}

/// What a correction changes on a person; absent fields stay as they were.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Correction {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sex: Option<Sex>,
    /// `Some(None)` clears the birth year.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_year: Option<Option<i32>>,
    /// New sealed values; a field mapped to `None` is cleared.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sealed: BTreeMap<PersonField, Option<Sealed>>,
    /// The blind indexes after the correction, when the name or birth year changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_index: Option<Option<i64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate_index: Option<Option<i64>>,
}

impl Correction {
    /// The fields it changes, by name, for the history (never their values).
    pub fn fields(&self) -> Vec<&'static str> {
        let mut fields = Vec::new();
        if self.sex.is_some() {
            fields.push("sex");
        }
        if self.birth_year.is_some() {
            fields.push("birth_year");
        }
        fields.extend(self.sealed.keys().map(|field| field.as_str()));
        fields
    }
}

/// What a person's record says when they are registered (by hand, by import, or in the
/// demo); everything else starts empty.
#[derive(Clone, Debug)]
pub struct Registration {
    pub sex: Sex,
    pub birth_year: Option<i32>,
    pub flags: BTreeSet<Flag>,
    pub stage: Stage,
    pub location: LocationId,
    pub since: Date,
    /// When the person started waiting for a transfer, if before `since` (an earlier
    /// shelter); `None` means `since`. Ignored for people not waiting.
    pub waiting_since: Option<Date>,
    pub entered: Date,
}

impl Person {
    /// A newly registered person: not ready, not on hold, nothing sealed yet (the caller
    /// seals the identity), version 0.
    pub fn registered(
        id: PersonId,
        code: String,
        household: HouseholdId,
        registration: Registration,
    ) -> Person {
        let Registration {
            sex,
            birth_year,
            flags,
            stage,
            location,
            since,
            waiting_since,
            entered,
        } = registration;
        Person {
            id,
            code,
            household,
            sex,
            birth_year,
            flags,
            stage,
            location,
            since,
            waiting_since: stage
                .counts_waiting_time()
                .then(|| waiting_since.unwrap_or(since)),
            entered,
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

    /// Days waited for a transfer on `today` (never negative), across moves; `None` for
    /// someone not waiting (hiding, departed, out of the pipeline).
    pub fn waiting_days(&self, today: Date) -> Option<i64> {
        self.waiting_since
            .map(|since| (today - since).whole_days().max(0))
    }

    /// The date lists order by, oldest first: since when the person waits, or for someone
    /// not waiting, the day of their last move.
    pub fn queue_since(&self) -> Date {
        self.waiting_since.unwrap_or(self.since)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    pub id: IncidentId,
    pub code: String,
    pub location: LocationId,
    pub kind: IncidentKind,
    /// 1 (minor) to 4 (critical).
    pub severity: u8,
    pub people: Vec<PersonId>,
    pub status: IncidentStatus,
    pub occurred: Date,
    /// The time of day it happened, as the recorder gave it (the location's clock); events
    /// written before 2026-12 carry none.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time_of_day_serde"
    )]
    pub occurred_time: Option<Time>,
    pub closed: Option<Date>,
    pub narrative: Option<Sealed>,
    #[serde(default)]
    pub version: i64,
}

/// A case note on a person: dated, sealed, written by the event's actor; it may ask for a
/// follow-up by a date, which stays due until it is marked done.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    pub id: NoteId,
    pub person: PersonId,
    pub author: UserId,
    pub written: Date,
    pub text: Sealed,
    pub follow_up: Option<Date>,
    pub follow_up_done: Option<Date>,
    /// What a welfare check-in found, when the note records one (older notes carry none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_in: Option<CheckIn>,
    #[serde(default)]
    pub version: i64,
}

/// A transfer: a departure on a date with seats, picking up from some locations.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferBatch {
    pub id: BatchId,
    pub code: String,
    pub departure: Date,
    pub seats: u32,
    pub origins: Vec<LocationId>,
    pub destination: LocationId,
    pub status: BatchStatus,
    /// The people on the manifest (households whole, unless split allowed).
    pub manifest: Vec<PersonId>,
    /// Households the coordinator pinned in or out.
    pub pins: BTreeMap<HouseholdId, BatchPin>,
    #[serde(default)]
    pub version: i64,
}

impl TransferBatch {
    /// Planned (draft or confirmed) and not yet due to have left by `today`: its seats are
    /// still to be filled or flown.
    pub fn still_to_leave(&self, today: Date) -> bool {
        matches!(self.status, BatchStatus::Draft | BatchStatus::Confirmed)
            && self.departure >= today
    }
}

impl BatchStatus {
    /// The one table of allowed batch status changes.
    pub fn can_become(self, next: BatchStatus) -> bool {
        use BatchStatus::*;
        matches!(
            (self, next),
            (Draft, Confirmed)
                | (Confirmed, Draft)
                | (Confirmed, Departed)
                | (Departed, Completed)
                | (Draft, Cancelled)
                | (Confirmed, Cancelled)
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub name: String,
    pub role: Role,
    /// Location compartments: a caseworker sees people at these locations only.
    pub locations: BTreeSet<LocationId>,
    pub active: bool,
    #[serde(default)]
    pub version: i64,
}

/// A calendar day as typed and stored everywhere in refuge: `YYYY-MM-DD`.
pub fn parse_day(text: &str) -> Option<Date> {
    Date::parse(
        text.trim(),
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .ok()
}

impl Incident {
    /// When it happened: "2026-12-01", or "2026-12-01 18:30" when the time was given.
    pub fn occurred_text(&self) -> String {
        match self.occurred_time {
            Some(time) => format!("{} {}", self.occurred, time_of_day_text(time)),
            None => self.occurred.to_string(),
        }
    }
}

/// A time of day as "HH:MM" (what a time input sends, and how it is stored).
pub fn time_of_day_text(time: Time) -> String {
    format!("{:02}:{:02}", time.hour(), time.minute())
}

/// "HH:MM" (or "HH:MM:SS", seconds dropped) as a time of day.
pub fn parse_time_of_day(text: &str) -> Option<Time> {
    let mut parts = text.trim().split(':');
    let hour: u8 = parts.next()?.parse().ok()?;
    let minute: u8 = parts.next()?.parse().ok()?;
    if let Some(second) = parts.next() {
        second.parse::<f64>().ok()?;
    }
    if parts.next().is_some() {
        return None;
    }
    Time::from_hms(hour, minute, 0).ok()
}

mod time_of_day_serde {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};
    use time::Time;

    pub fn serialize<S: Serializer>(time: &Option<Time>, serializer: S) -> Result<S::Ok, S::Error> {
        match time {
            Some(time) => serializer.serialize_str(&super::time_of_day_text(*time)),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Time>, D::Error> {
        Option::<String>::deserialize(deserializer)?
            .map(|text| {
                super::parse_time_of_day(&text).ok_or_else(|| {
                    D::Error::custom(format!("'{text}' is not a time of day (HH:MM)"))
                })
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_parse_in_one_format() {
        assert_eq!(
            parse_day(" 2026-02-28 ").map(|d| d.to_string()),
            Some("2026-02-28".to_string())
        );
        assert_eq!(parse_day("2026-02-30"), None);
        assert_eq!(parse_day("28/02/2026"), None);
    }

    #[test]
    fn vocabularies_parse_and_name_the_alternatives() {
        assert_eq!("Self_Harm_Risk".parse::<Flag>(), Ok(Flag::SelfHarmRisk));
        let error = "brave".parse::<Flag>().unwrap_err().to_string();
        assert!(
            error.starts_with("unknown flag 'brave' (expected one of: minor,"),
            "{error}"
        );
        for kind in LocationKind::ALL {
            assert_eq!(kind.as_str().parse::<LocationKind>(), Ok(*kind));
        }
    }

    #[test]
    fn sealed_values_do_not_debug_print() {
        assert_eq!(format!("{:?}", Sealed("secret".into())), "Sealed(..)");
    }

    #[test]
    fn times_of_day_read_as_a_time_input_sends_them() {
        let time = parse_time_of_day("07:05").unwrap();
        assert_eq!(time_of_day_text(time), "07:05");
        assert_eq!(
            parse_time_of_day("23:59:30"),
            Time::from_hms(23, 59, 0).ok()
        );
        for wrong in ["", "7", "24:00", "12:60", "ab:cd", "12:00:00:00"] {
            assert_eq!(parse_time_of_day(wrong), None, "{wrong}");
        }
    }
}
