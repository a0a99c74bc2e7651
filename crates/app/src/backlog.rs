//! The backlog at every shelter and detention location.

use crate::*;
use refuge_core::backlog::{WaitSummary, occupancy_percent, summarize_weighted_waits};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

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
    /// Welfare checks due today or earlier on the people waiting here (docs/welfare.md).
    pub welfare_checks_due: u64,
    /// Days waited so far by the people waiting here, as (days, people): the dashboard's
    /// histogram.
    #[serde(skip)]
    pub waiting_days: Vec<(i64, u64)>,
}

/// The people waiting for one destination wish, and the seats planned there.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DestinationBacklog {
    /// Where they want to go; `None`: not asked yet (they may travel on any transfer).
    pub wish: Option<DestinationWish>,
    pub target_wait_days: i64,
    #[serde(flatten)]
    pub waits: WaitSummary,
    /// Seats on draft and confirmed batches still to leave for this country (0 for
    /// `undecided`, `stay` and not asked).
    pub seats_planned: u64,
}

impl App {
    /// The people waiting, by where they want to go: how many, how long against the target
    /// wait, and the seats planned to each country. Aggregates only: no identities. Every
    /// country a planned batch goes to is listed, even with no one waiting for it. Empty for
    /// a user limited to compartments: the counts are the whole organisation's.
    pub async fn backlog_by_destination(
        &self,
        session: &Session,
        target_wait_days: Option<i64>,
    ) -> AppResult<Vec<DestinationBacklog>> {
        session.require(Action::ViewBacklog)?;
        let target = self.target_or_default(target_wait_days).await?;
        if session.compartments().is_some() {
            return Ok(Vec::new());
        }
        let today = self.today();
        let mut waits: BTreeMap<Option<DestinationWish>, Vec<(i64, u64)>> = BTreeMap::new();
        for (wish, since, people) in self.store.waiting_by_wish().await? {
            waits
                .entry(wish)
                .or_default()
                .push(((today - since).whole_days().max(0), people));
        }
        let countries: HashMap<LocationId, String> = self
            .store
            .locations()
            .await?
            .into_iter()
            .map(|location| (location.id, location.country))
            .collect();
        let mut seats: BTreeMap<DestinationWish, u64> = BTreeMap::new();
        for batch in self.store.batches().await? {
            let country = countries
                .get(&batch.destination)
                .and_then(|country| DestinationWish::parse_country(country));
            if let (true, Some(country)) = (batch.still_to_leave(today), country) {
                *seats.entry(country).or_default() += u64::from(batch.seats);
                waits.entry(Some(country)).or_default();
            }
        }
        let mut lines: Vec<DestinationBacklog> = waits
            .into_iter()
            .map(|(wish, days)| DestinationBacklog {
                seats_planned: wish
                    .and_then(|wish| seats.get(&wish).copied())
                    .unwrap_or_default(),
                waits: summarize_weighted_waits(days, target),
                target_wait_days: target,
                wish,
            })
            .collect();
        // Countries first, then undecided and staying, then those not asked.
        lines.sort_by_key(|line| (line.wish.is_none(), line.wish));
        Ok(lines)
    }

    /// The target wait given, checked, or the organisation's.
    async fn target_or_default(&self, target_wait_days: Option<i64>) -> AppResult<i64> {
        match target_wait_days {
            Some(days) if days <= 0 => Err(AppError::invalid(
                "target wait",
                Reason::new("positive-days"),
            )),
            Some(days) => Ok(days),
            None => self.target_wait_days().await,
        }
    }

    /// Capacity, occupancy, waiting times against the target wait, and open incidents, for
    /// every shelter and detention location. Aggregates only: no identities.
    pub async fn backlog(
        &self,
        session: &Session,
        target_wait_days: Option<i64>,
    ) -> AppResult<Vec<BacklogLine>> {
        session.require(Action::ViewBacklog)?;
        let target = self.target_or_default(target_wait_days).await?;
        let today = self.today();
        let checks_due = self.checks_due_per_location().await?;
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
                    welfare_checks_due: checks_due.get(&row.location.id).copied().unwrap_or(0),
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
        let counted: BTreeMap<String, (u64, u64)> = self
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
