//! The dashboard: what a user must act on first, decided here so that every edge shows the
//! same alerts. The web renders each alert in the user's language.

use crate::{
    Action, App, AppResult, BacklogLine, DestinationBacklog, PeopleQuery, Session, allowed,
};
use refuge_core::{BatchStatus, CheckReason, Flag, PersonId};
use std::collections::HashSet;

/// Open incidents of at least this severity are alerts.
pub const ALERT_SEVERITY: u8 = 3;
/// At most this many alert lines of one kind; the lists behind them have the rest.
pub const ALERTS_SHOWN: usize = 20;

/// One thing to act on. Codes only: no identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Alert {
    OverCapacity {
        location: String,
        present: u64,
        capacity: u32,
    },
    OverTarget {
        people: usize,
        target_days: i64,
    },
    SevereIncident {
        code: String,
        location: String,
        severity: u8,
    },
    /// More severe incidents than are listed.
    MoreIncidents {
        count: usize,
    },
    /// Flagged urgent and on no draft or confirmed batch.
    UrgentUnplanned {
        code: String,
        flag: Flag,
    },
    /// More such people than are listed.
    MoreFlagged {
        flag: Flag,
    },
    /// A case note's follow-up is due (today or earlier) and not done.
    FollowUpDue {
        code: String,
        due: time::Date,
    },
    /// More due follow-ups than are listed.
    MoreFollowUps {
        count: u64,
    },
    /// A welfare check is due (today or earlier): whose, where, since when and why.
    CheckDue {
        code: String,
        location: String,
        due: time::Date,
        reason: CheckReason,
    },
    /// More due welfare checks than are listed.
    MoreChecks {
        count: u64,
    },
    /// Conflicts merges of received bundles left to settle (`refuge conflicts`).
    Conflicts {
        count: usize,
    },
}

/// The dashboard's contents.
pub struct Dashboard {
    pub backlog: Vec<BacklogLine>,
    pub target_wait_days: i64,
    pub alerts: Vec<Alert>,
    /// (YYYY-MM, entered, departed) for the last twelve months; empty for a user limited to
    /// compartments (the counts are the whole organisation's).
    pub monthly_flow: Vec<(String, u64, u64)>,
    /// The people waiting by where they want to go (empty for a user limited to
    /// compartments, as `backlog_by_destination` gives it).
    pub by_destination: Vec<DestinationBacklog>,
}

impl App {
    /// The backlog, the alerts the session's role may see, and the monthly flow. A
    /// caseworker's dashboard shows what she must act on first: her compartments only.
    pub async fn dashboard(&self, session: &Session) -> AppResult<Dashboard> {
        let mut backlog = self.backlog(session, None).await?;
        if let Some(compartments) = session.compartments() {
            let codes = self.location_codes().await?;
            let hers: HashSet<&str> = compartments
                .iter()
                .filter_map(|id| codes.get(id).map(String::as_str))
                .collect();
            backlog.retain(|line| hers.contains(line.location.as_str()));
        }
        let target_wait_days = backlog
            .first()
            .map_or(crate::DEFAULT_TARGET_WAIT_DAYS, |line| {
                line.target_wait_days
            });
        let mut alerts: Vec<Alert> = backlog
            .iter()
            .filter(|line| line.present > u64::from(line.capacity))
            .map(|line| Alert::OverCapacity {
                location: line.location.clone(),
                present: line.present,
                capacity: line.capacity,
            })
            .collect();
        let over_target: usize = backlog.iter().map(|line| line.waits.over_target).sum();
        if over_target > 0 {
            alerts.push(Alert::OverTarget {
                people: over_target,
                target_days: target_wait_days,
            });
        }
        if allowed(session.role(), Action::ViewIncidents) {
            alerts.extend(self.severe_incident_alerts(session).await?);
        }
        if allowed(session.role(), Action::ViewPeople) {
            alerts.extend(self.urgent_unplanned_alerts(session).await?);
        }
        if allowed(session.role(), Action::WriteNotes) {
            alerts.extend(self.check_due_alerts(session).await?);
            let (due, total) = self
                .due_follow_ups(session, u32::try_from(ALERTS_SHOWN).unwrap_or(u32::MAX))
                .await?;
            let listed = due.len() as u64;
            alerts.extend(due.into_iter().map(|follow_up| Alert::FollowUpDue {
                code: follow_up.person_code,
                due: follow_up.due,
            }));
            if total > listed {
                alerts.push(Alert::MoreFollowUps {
                    count: total - listed,
                });
            }
        }
        if allowed(session.role(), Action::Exchange) {
            let count = self.conflicts(session).await?.len();
            if count > 0 {
                alerts.push(Alert::Conflicts { count });
            }
        }
        Ok(Dashboard {
            // The flow is counted for the whole organisation: not shown to someone who sees
            // only some compartments.
            monthly_flow: if session.compartments().is_some() {
                Vec::new()
            } else {
                self.monthly_flow(session, 12).await?
            },
            by_destination: self.backlog_by_destination(session, None).await?,
            backlog,
            target_wait_days,
            alerts,
        })
    }

    /// The welfare checks due, the most pressing first (after self-harm, at risk, long
    /// waits).
    async fn check_due_alerts(&self, session: &Session) -> AppResult<Vec<Alert>> {
        let due = self
            .checks_due(session, u32::try_from(ALERTS_SHOWN).unwrap_or(u32::MAX))
            .await?;
        let listed = due.checks.len() as u64;
        let mut alerts: Vec<Alert> = due
            .checks
            .into_iter()
            .map(|check| Alert::CheckDue {
                code: check.person,
                location: check.location,
                due: check.due,
                reason: check.reason,
            })
            .collect();
        if due.total > listed {
            alerts.push(Alert::MoreChecks {
                count: due.total - listed,
            });
        }
        Ok(alerts)
    }

    async fn severe_incident_alerts(&self, session: &Session) -> AppResult<Vec<Alert>> {
        let (severe, total) = self
            .open_incidents_at_least(session, ALERT_SEVERITY, ALERTS_SHOWN)
            .await?;
        let mut alerts: Vec<Alert> = severe
            .iter()
            .map(|view| Alert::SevereIncident {
                code: view.incident.code.clone(),
                location: view.location_code.clone(),
                severity: view.incident.severity,
            })
            .collect();
        if total > severe.len() {
            alerts.push(Alert::MoreIncidents {
                count: total - severe.len(),
            });
        }
        Ok(alerts)
    }

    /// People flagged urgent who are on no draft or confirmed batch (as far as the role may
    /// see batches), longest waiting first, inside the session's compartments.
    async fn urgent_unplanned_alerts(&self, session: &Session) -> AppResult<Vec<Alert>> {
        let planned: HashSet<PersonId> = if allowed(session.role(), Action::ViewBatches) {
            self.batches(session)
                .await?
                .into_iter()
                .filter(|batch| matches!(batch.status, BatchStatus::Draft | BatchStatus::Confirmed))
                .flat_map(|batch| batch.manifest)
                .collect()
        } else {
            HashSet::new()
        };
        let mut alerts = Vec::new();
        for flag in [Flag::SelfHarmRisk, Flag::MedicalUrgent] {
            let query = PeopleQuery {
                flag: Some(flag),
                waiting_longer_than_days: Some(-1),
                // Enough that the planned ones, skipped below, cannot crowd out the rest.
                limit: Some(u32::try_from(ALERTS_SHOWN + 1 + planned.len()).unwrap_or(u32::MAX)),
                ..PeopleQuery::default()
            };
            let unplanned: Vec<_> = self
                .list_people(session, &query)
                .await?
                .into_iter()
                .filter(|view| !planned.contains(&view.person.id))
                .collect();
            alerts.extend(
                unplanned
                    .iter()
                    .take(ALERTS_SHOWN)
                    .map(|view| Alert::UrgentUnplanned {
                        code: view.person.code.clone(),
                        flag,
                    }),
            );
            if unplanned.len() > ALERTS_SHOWN {
                alerts.push(Alert::MoreFlagged { flag });
            }
        }
        Ok(alerts)
    }
}
