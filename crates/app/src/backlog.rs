//! The backlog at every shelter and detention location.

use crate::*;
use refuge_core::backlog::{WaitSummary, occupancy_percent, summarize_waits};
use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct BacklogLine {
    pub location: String,
    pub kind: LocationKind,
    pub country: String,
    pub capacity: u32,
    pub present: u64,
    pub occupancy_percent: Option<f64>,
    pub target_wait_days: i64,
    #[serde(flatten)]
    pub waits: WaitSummary,
    /// Open incidents by severity 1, 2, 3, 4.
    pub open_incidents: [u64; 4],
}

impl<S: Store> App<S> {
    /// Capacity, occupancy, waiting times against the target wait, and open incidents, for
    /// every shelter and detention location. Aggregates only: no identities.
    pub async fn backlog(
        &self,
        session: &Session,
        target_wait_days: Option<i64>,
    ) -> AppResult<Vec<BacklogLine>> {
        session.require(Action::ViewBacklog)?;
        let target = match target_wait_days {
            Some(days) if days <= 0 => {
                return Err(AppError::invalid(
                    "target wait",
                    "must be a positive number of days",
                ));
            }
            Some(days) => days,
            None => self.target_wait_days().await?,
        };
        let today = self.today();
        Ok(self
            .store
            .backlog_rows()
            .await?
            .into_iter()
            .filter(|row| {
                matches!(
                    row.location.kind,
                    LocationKind::Shelter | LocationKind::Detention
                )
            })
            .map(|row| {
                let waiting_days = row
                    .waiting_since
                    .iter()
                    .map(|since| (today - *since).whole_days().max(0))
                    .collect();
                BacklogLine {
                    occupancy_percent: occupancy_percent(row.present, row.location.capacity),
                    location: row.location.code,
                    kind: row.location.kind,
                    country: row.location.country,
                    capacity: row.location.capacity,
                    present: row.present,
                    target_wait_days: target,
                    waits: summarize_waits(waiting_days, target),
                    open_incidents: row.open_incidents,
                }
            })
            .collect())
    }
}
