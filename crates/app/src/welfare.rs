//! Welfare checks during long waits (docs/welfare.md): recording a check-in, the
//! organisation's schedule, and the checks due.

use crate::*;
use refuge_core::{CheckIn, CheckReason, DueCheck, Need, WelfareSchedule, Wellbeing};
use refuge_store::SideWrite;
use std::collections::{BTreeMap, BTreeSet};

/// Where the organisation's schedule is kept (JSON); absent: the default.
pub const META_WELFARE_SCHEDULE: &str = "welfare_schedule";

/// A check-in as a caseworker records it: how the person is, what they need, what was said
/// (sealed like a case note; may be empty) and, if needed, a follow-up by a date.
#[derive(Clone, Debug)]
pub struct NewCheckIn {
    pub wellbeing: Wellbeing,
    pub needs: BTreeSet<Need>,
    pub note: String,
    pub follow_up: Option<Date>,
}

/// A check due, for the dashboard and the lists: whose, where, since when and why. Codes
/// only: no identity.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CheckDue {
    pub person: String,
    pub location: String,
    pub due: Date,
    pub reason: CheckReason,
    pub last_check_in: Option<Date>,
}

/// The first checks due, the most pressing first, and how many are due in all.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ChecksDue {
    pub checks: Vec<CheckDue>,
    pub total: u64,
}

impl App {
    /// Records a welfare check-in on a person the session may see: a case note that carries
    /// what the check found, and that makes the schedule start again from today.
    pub async fn record_check_in(
        &self,
        session: &Session,
        code: &str,
        check_in: NewCheckIn,
    ) -> AppResult<NoteId> {
        session.require(Action::WriteNotes)?;
        let NewCheckIn {
            wellbeing,
            needs,
            note,
            follow_up,
        } = check_in;
        self.write_note(
            session,
            ("note", &note),
            follow_up,
            Some(CheckIn { wellbeing, needs }),
            code,
        )
        .await
    }

    /// The organisation's welfare schedule (the default until one is set).
    pub async fn welfare_schedule(&self) -> AppResult<WelfareSchedule> {
        match self.store.meta(META_WELFARE_SCHEDULE).await? {
            Some(text) => serde_json::from_str(&text).map_err(|error| {
                StoreError::Corrupt(format!("{META_WELFARE_SCHEDULE}: {error}")).into()
            }),
            None => Ok(WelfareSchedule::default()),
        }
    }

    /// Sets the organisation's welfare schedule; each interval from 1 to 365 days (the check
    /// after self-harm from 0). Logged with the old and new intervals.
    pub async fn set_welfare_schedule(
        &self,
        session: &Session,
        schedule: WelfareSchedule,
    ) -> AppResult<()> {
        session.require(Action::SetWelfareSchedule)?;
        if let Some(field) = schedule.out_of_bounds() {
            return Err(AppError::invalid(
                field,
                Reason::new("schedule-days-out-of-bounds")
                    .count("least", u64::from(field != "after_self_harm_days"))
                    .count("most", u64::from(refuge_core::welfare::MAX_SCHEDULE_DAYS)),
            ));
        }
        let before = self.welfare_schedule().await?;
        let describe = |schedule: &WelfareSchedule| {
            schedule
                .fields()
                .iter()
                .map(|(name, days)| format!("{name} {days}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        self.commit(Commit {
            side_writes: vec![SideWrite::Meta {
                key: META_WELFARE_SCHEDULE.into(),
                value: serde_json::to_string(&schedule).map_err(|error| {
                    StoreError::Corrupt(format!("{META_WELFARE_SCHEDULE}: {error}"))
                })?,
            }],
            access: vec![self.access_entry(
                &session.user().name,
                AccessAction::SettingChanged,
                "welfare schedule",
                &format!("{} (was {})", describe(&schedule), describe(&before)),
            )],
            ..Commit::default()
        })
        .await?;
        Ok(())
    }

    /// A person's next welfare check under the organisation's schedule (`None`: not
    /// waiting).
    pub async fn next_check(&self, person: &Person) -> AppResult<Option<DueCheck>> {
        Ok(self.welfare_schedule().await?.due(person))
    }

    /// The welfare checks due today or earlier on the people of the session's compartments:
    /// after a self-harm incident first, then those at risk, then the long waits, each the
    /// longest overdue first; the first `limit`, and how many in all.
    pub async fn checks_due(&self, session: &Session, limit: u32) -> AppResult<ChecksDue> {
        session.require(Action::ViewPeople)?;
        let schedule = self.welfare_schedule().await?;
        let today = self.today();
        let compartments = session.compartments();
        let due = self
            .store
            .welfare_due(schedule.cutoffs(today), compartments.as_deref(), limit)
            .await?;
        let codes = self.location_codes().await?;
        let mut checks: Vec<CheckDue> = due
            .people
            .iter()
            .filter_map(|person| {
                let next = schedule.due(person).filter(|next| next.due <= today)?;
                Some(CheckDue {
                    person: person.code.clone(),
                    location: codes.get(&person.location).cloned().unwrap_or_default(),
                    due: next.due,
                    reason: next.reason,
                    last_check_in: person.checked_in,
                })
            })
            .collect();
        checks.sort_by(|a, b| (a.reason, a.due, &a.person).cmp(&(b.reason, b.due, &b.person)));
        checks.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(ChecksDue {
            checks,
            total: due.per_location.values().sum(),
        })
    }

    /// How many welfare checks are due today or earlier at each location (for the backlog).
    pub(crate) async fn checks_due_per_location(&self) -> AppResult<BTreeMap<LocationId, u64>> {
        let schedule = self.welfare_schedule().await?;
        Ok(self
            .store
            .welfare_due(schedule.cutoffs(self.today()), None, 0)
            .await?
            .per_location)
    }
}
