//! The backlog at every shelter and detention location.

use crate::*;
use refuge_core::backlog::{WaitSummary, occupancy_percent, summarize_weighted_waits};
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
    /// Days waited so far by the people waiting here, as (days, people): the dashboard's
    /// histogram.
    #[serde(skip)]
    pub waiting_days: Vec<(i64, u64)>,
}

impl App {
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
                    Reason::new("positive-days"),
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
                let waiting_days: Vec<(i64, u64)> = row
                    .waiting_since
                    .iter()
                    .map(|(since, people)| ((today - *since).whole_days().max(0), *people))
                    .collect();
                BacklogLine {
                    occupancy_percent: occupancy_percent(row.present, row.location.capacity),
                    location: row.location.code,
                    kind: row.location.kind,
                    country: row.location.country,
                    capacity: row.location.capacity,
                    present: row.present,
                    target_wait_days: target,
                    waits: summarize_weighted_waits(waiting_days.clone(), target),
                    open_incidents: row.open_incidents,
                    waiting_days,
                }
            })
            .collect())
    }

    /// People entering care and leaving per month over the last `months` months:
    /// (YYYY-MM, entered, departed), oldest first, every month present.
    pub async fn monthly_flow(
        &self,
        session: &Session,
        months: u8,
    ) -> AppResult<Vec<(String, u64, u64)>> {
        session.require(Action::ViewBacklog)?;
        let today = self.today();
        let mut year = today.year();
        let mut month = i32::from(u8::from(today.month())) - i32::from(months) + 1;
        while month <= 0 {
            month += 12;
            year -= 1;
        }
        let first = Date::from_calendar_date(
            year,
            time::Month::try_from(month as u8).unwrap_or(time::Month::January),
            1,
        )
        .unwrap_or(today);
        let counted: std::collections::BTreeMap<String, (u64, u64)> = self
            .store
            .monthly_flow(first)
            .await?
            .into_iter()
            .map(|(month, entered, left)| (month, (entered, left)))
            .collect();
        let mut out = Vec::new();
        let (mut year, mut month) = (first.year(), u8::from(first.month()));
        for _ in 0..months {
            let key = format!("{year:04}-{month:02}");
            let (entered, left) = counted.get(&key).copied().unwrap_or_default();
            out.push((key, entered, left));
            month += 1;
            if month > 12 {
                month = 1;
                year += 1;
            }
        }
        Ok(out)
    }
}
