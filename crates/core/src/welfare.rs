//! Welfare checks during long waits: what a check-in records, and the schedule that says
//! when each waiting person is next due one. Waits of four to six months brought fights and
//! suicide attempts; the schedule tightens with the wait and after signs of self-harm.

use crate::model::{Flag, Person};
use crate::vocabulary;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use time::{Date, Duration};

vocabulary!(Wellbeing, "wellbeing", {
    Well => "well",
    Strained => "strained",
    Struggling => "struggling",
    Crisis => "crisis",
});

vocabulary!(Need, "need", {
    Medical => "medical",
    MentalHealth => "mental_health",
    FoodOrClothing => "food_or_clothing",
    FamilyContact => "family_contact",
    Legal => "legal",
    Safety => "safety",
    Other => "other",
});

// Why a check is due, the most pressing first: the order the dashboard lists them in.
vocabulary!(CheckReason, "welfare check reason", {
    AfterSelfHarm => "after_self_harm",
    SelfHarmRisk => "self_harm_risk",
    LongWait => "long_wait",
});

/// What a welfare check-in found, kept on the case note that records it (the note's sealed
/// text is what was said; these two are not protected, so the schedule and the counts can
/// read them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckIn {
    pub wellbeing: Wellbeing,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub needs: BTreeSet<Need>,
}

/// The organisation's schedule of welfare checks, in days. A waiting person is due a check
/// `first_after_days` after they started waiting and then every `every_days`; every
/// `flagged_every_days` while flagged `self_harm_risk`; and `after_self_harm_days` after a
/// self-harm incident involving them (0: on the day; overdue from the next).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WelfareSchedule {
    pub first_after_days: u16,
    pub every_days: u16,
    pub flagged_every_days: u16,
    pub after_self_harm_days: u16,
}

impl Default for WelfareSchedule {
    /// Monthly after two months of waiting (the normal wait), weekly while at risk of
    /// self-harm, on the day of a self-harm incident.
    fn default() -> Self {
        WelfareSchedule {
            first_after_days: 60,
            every_days: 30,
            flagged_every_days: 7,
            after_self_harm_days: 0,
        }
    }
}

/// The longest interval a schedule may set.
pub const MAX_SCHEDULE_DAYS: u16 = 365;

/// A person's next welfare check: the day and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DueCheck {
    pub due: Date,
    pub reason: CheckReason,
}

/// The schedule turned into dates for one day: a check is due on `today` when one of these
/// holds (the store's query is written from them; `WelfareSchedule::due` is the rule).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DueCutoffs {
    /// Waiting since this day or earlier: past the first check's wait.
    pub waited_since: Date,
    /// And not checked after this day.
    pub checked_by: Date,
    /// Flagged and not checked (or, never checked, waiting) after this day.
    pub flagged_checked_by: Date,
    /// A self-harm incident no check-in answered yet, on this day or earlier.
    pub self_harm_by: Date,
}

fn days(count: u16) -> Duration {
    Duration::days(i64::from(count))
}

impl WelfareSchedule {
    /// The intervals by name, for messages and settings.
    pub fn fields(&self) -> [(&'static str, u16); 4] {
        [
            ("first_after_days", self.first_after_days),
            ("every_days", self.every_days),
            ("flagged_every_days", self.flagged_every_days),
            ("after_self_harm_days", self.after_self_harm_days),
        ]
    }

    /// The first interval out of bounds, by name: each from 1 to 365 days (the check after
    /// self-harm from 0).
    pub fn out_of_bounds(&self) -> Option<&'static str> {
        self.fields().into_iter().find_map(|(name, value)| {
            let least = if name == "after_self_harm_days" { 0 } else { 1 };
            (value < least || value > MAX_SCHEDULE_DAYS).then_some(name)
        })
    }

    /// When `person` is next due a welfare check, and why; `None` for someone not waiting
    /// (in hiding, departed, merged, purged). The earliest day of the checks that apply, and
    /// the most pressing reason that applies (a self-harm incident no check-in has answered
    /// yet, then the flag, then the long wait): a resident who hurt herself is listed first
    /// even when her weekly check was already due.
    pub fn due(&self, person: &Person) -> Option<DueCheck> {
        let waiting_since = person.waiting_since?;
        if person.purged.is_some() {
            return None;
        }
        let last = person.checked_in;
        let long_wait = waiting_since + days(self.first_after_days);
        let mut due = DueCheck {
            due: last.map_or(long_wait, |last| {
                long_wait.max(last + days(self.every_days))
            }),
            reason: CheckReason::LongWait,
        };
        let mut consider = |date: Date, reason: CheckReason| {
            due = DueCheck {
                due: due.due.min(date),
                reason: due.reason.min(reason),
            };
        };
        if person.flags.contains(&Flag::SelfHarmRisk) {
            consider(
                last.unwrap_or(waiting_since) + days(self.flagged_every_days),
                CheckReason::SelfHarmRisk,
            );
        }
        if let Some(harm) = person.self_harm_unchecked {
            consider(
                harm + days(self.after_self_harm_days),
                CheckReason::AfterSelfHarm,
            );
        }
        Some(due)
    }

    /// The dates a check due on or before `today` meets, for a query.
    pub fn cutoffs(&self, today: Date) -> DueCutoffs {
        DueCutoffs {
            waited_since: today - days(self.first_after_days),
            checked_by: today - days(self.every_days),
            flagged_checked_by: today - days(self.flagged_every_days),
            self_harm_by: today - days(self.after_self_harm_days),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::*;
    use crate::model::{Registration, Sex};
    use crate::stage::Stage;
    use time::macros::date;
    use uuid::Uuid;

    fn waiting(since: Date) -> Person {
        Person::registered(
            PersonId(Uuid::from_u128(1)),
            "P-00001".into(),
            HouseholdId(Uuid::from_u128(2)),
            Registration {
                sex: Sex::Female,
                birth_year: None,
                flags: BTreeSet::new(),
                stage: Stage::Sheltered,
                location: LocationId(Uuid::from_u128(3)),
                since,
                waiting_since: None,
                entered: since,
            },
        )
    }

    /// The rule of `due` and the cutoffs of the query agree on every day around each date.
    fn due_on(schedule: &WelfareSchedule, person: &Person, today: Date) -> bool {
        let cut = schedule.cutoffs(today);
        let Some(waiting_since) = person.waiting_since else {
            return false;
        };
        let last = person.checked_in;
        let long_wait =
            waiting_since <= cut.waited_since && last.is_none_or(|last| last <= cut.checked_by);
        let flagged = person.flags.contains(&Flag::SelfHarmRisk)
            && last.unwrap_or(waiting_since) <= cut.flagged_checked_by;
        let harmed = person
            .self_harm_unchecked
            .is_some_and(|harm| harm <= cut.self_harm_by);
        long_wait || flagged || harmed
    }

    #[test]
    fn the_default_schedule_tightens_with_the_wait_and_after_self_harm() {
        let schedule = WelfareSchedule::default();
        let mut person = waiting(date!(2026 - 01 - 01));
        assert_eq!(
            schedule.due(&person),
            Some(DueCheck {
                due: date!(2026 - 03 - 02),
                reason: CheckReason::LongWait
            })
        );
        person.checked_in = Some(date!(2026 - 03 - 05));
        assert_eq!(schedule.due(&person).unwrap().due, date!(2026 - 04 - 04));
        person.flags.insert(Flag::SelfHarmRisk);
        assert_eq!(
            schedule.due(&person),
            Some(DueCheck {
                due: date!(2026 - 03 - 12),
                reason: CheckReason::SelfHarmRisk
            })
        );
        person.self_harm_unchecked = Some(date!(2026 - 03 - 08));
        assert_eq!(
            schedule.due(&person),
            Some(DueCheck {
                due: date!(2026 - 03 - 08),
                reason: CheckReason::AfterSelfHarm
            })
        );
        // An incident after the weekly check fell due: the earlier day, the reason first.
        person.self_harm_unchecked = Some(date!(2026 - 03 - 20));
        assert_eq!(
            schedule.due(&person),
            Some(DueCheck {
                due: date!(2026 - 03 - 12),
                reason: CheckReason::AfterSelfHarm
            })
        );
        // A check-in answers it (the projection clears the day).
        person.checked_in = Some(date!(2026 - 03 - 08));
        person.self_harm_unchecked = None;
        assert_eq!(
            schedule.due(&person).unwrap().reason,
            CheckReason::SelfHarmRisk
        );
        person.waiting_since = None;
        assert_eq!(schedule.due(&person), None, "not waiting: no schedule");
    }

    #[test]
    fn the_query_cutoffs_say_due_exactly_when_the_rule_does() {
        let schedules = [
            WelfareSchedule::default(),
            WelfareSchedule {
                first_after_days: 10,
                every_days: 3,
                flagged_every_days: 5,
                after_self_harm_days: 2,
            },
        ];
        let start = date!(2026 - 01 - 01);
        for schedule in &schedules {
            for checked in [None, Some(5), Some(40), Some(70)] {
                for harm in [None, Some(3), Some(40), Some(80)] {
                    for flagged in [false, true] {
                        let mut person = waiting(start);
                        person.checked_in = checked.map(|offset| start + Duration::days(offset));
                        person.self_harm_unchecked =
                            harm.map(|offset| start + Duration::days(offset));
                        if flagged {
                            person.flags.insert(Flag::SelfHarmRisk);
                        }
                        let due = schedule.due(&person).unwrap().due;
                        for offset in 0..150 {
                            let today = start + Duration::days(offset);
                            assert_eq!(
                                due <= today,
                                due_on(schedule, &person, today),
                                "{schedule:?} {checked:?} {harm:?} {flagged} on {today}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn a_schedule_names_the_interval_out_of_bounds() {
        let mut schedule = WelfareSchedule::default();
        assert_eq!(schedule.out_of_bounds(), None);
        schedule.every_days = 0;
        assert_eq!(schedule.out_of_bounds(), Some("every_days"));
        schedule.every_days = 30;
        schedule.flagged_every_days = 366;
        assert_eq!(schedule.out_of_bounds(), Some("flagged_every_days"));
    }
}
