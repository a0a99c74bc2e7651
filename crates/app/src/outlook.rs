//! Forecasts from the live database: a scenario built from current occupants, recent
//! arrivals, departures and exits, and planned batches; what-if changes on top.

use crate::*;
use refuge_sim::{Exits, Flights, Forecast, Scenario, Shelter, Transfer};
use refuge_store::PersonFilter;
use std::collections::{HashMap, HashSet};
use time::Duration;

/// How far back the rates are estimated from.
pub const RATE_WINDOW_DAYS: i64 = 90;

/// The longest forecast horizon, in days (three years), for every edge alike.
pub const MAX_HORIZON_DAYS: f64 = 1095.0;
/// The largest what-if multiplier of the arrival rates.
pub const MAX_ARRIVAL_FACTOR: f64 = 10.0;
pub const MAX_REPLICATIONS: u32 = 10_000;
/// What-if one-off transfers, and the seats of each.
pub const MAX_EXTRA_TRANSFERS: usize = 50;
pub const MAX_TRANSFER_SEATS: u32 = 10_000;
/// What-if capacity overrides, and the beds of each.
pub const MAX_CAPACITY_OVERRIDES: usize = 200;
pub const MAX_BEDS: u32 = 100_000;

/// What one forecast may cost, whatever its inputs: a forecast runs on a server that others
/// use. Measured figures are in bench/README.md.
pub const FORECAST_BUDGET: Budget = Budget {
    arrivals_per_replication: 1_000_000.0,
    total_arrivals: 50_000_000.0,
    departures_per_replication: 100_000.0,
    result_cells: 10_000_000.0,
};
/// Forecasts that may run at once in one process; more get "busy, try again".
pub const MAX_RUNNING_FORECASTS: usize = 1;

/// Bounds on a forecast's estimated work (`refuge_sim::Work`).
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    pub arrivals_per_replication: f64,
    pub total_arrivals: f64,
    pub departures_per_replication: f64,
    pub result_cells: f64,
}

impl Budget {
    /// Refuses a scenario whose estimated work is beyond the budget, saying what to change.
    pub fn check(&self, scenario: &Scenario) -> AppResult<()> {
        let work = scenario.work();
        let over = |key: &'static str, estimate: f64, limit: f64| {
            AppError::invalid(
                "forecast",
                Reason::new(key)
                    .amount("estimate", estimate.round())
                    .amount("limit", limit.round()),
            )
        };
        if work.arrivals_per_replication > self.arrivals_per_replication {
            return Err(over(
                "forecast-arrivals-per-run",
                work.arrivals_per_replication,
                self.arrivals_per_replication,
            ));
        }
        if work.total_arrivals > self.total_arrivals {
            return Err(over(
                "forecast-arrivals-in-all-runs",
                work.total_arrivals,
                self.total_arrivals,
            ));
        }
        if work.departures_per_replication > self.departures_per_replication {
            return Err(over(
                "forecast-flights-per-run",
                work.departures_per_replication,
                self.departures_per_replication,
            ));
        }
        if work.result_cells > self.result_cells {
            return Err(over(
                "forecast-daily-figures",
                work.result_cells,
                self.result_cells,
            ));
        }
        Ok(())
    }
}

impl WhatIf {
    /// The bounds every edge applies, named by field.
    fn check(&self) -> AppResult<()> {
        if !(1.0..=MAX_HORIZON_DAYS).contains(&self.horizon_days) {
            return Err(AppError::invalid(
                "horizon",
                Reason::new("days-between")
                    .count("least", 1)
                    .amount("most", MAX_HORIZON_DAYS),
            ));
        }
        if !(self.arrival_factor.is_finite()
            && (0.0..=MAX_ARRIVAL_FACTOR).contains(&self.arrival_factor))
        {
            return Err(AppError::invalid(
                "arrival factor",
                Reason::new("number-between")
                    .count("least", 0)
                    .amount("most", MAX_ARRIVAL_FACTOR),
            ));
        }
        if !(1..=MAX_REPLICATIONS).contains(&self.replications) {
            return Err(AppError::invalid(
                "replications",
                Reason::new("number-between")
                    .count("least", 1)
                    .count("most", MAX_REPLICATIONS.into()),
            ));
        }
        if self.extra_transfers.len() > MAX_EXTRA_TRANSFERS {
            return Err(AppError::invalid(
                "extra transfer",
                Reason::new("at-most").count("most", MAX_EXTRA_TRANSFERS as u64),
            ));
        }
        if let Some((date, seats)) = self
            .extra_transfers
            .iter()
            .find(|(_, seats)| !(1..=MAX_TRANSFER_SEATS).contains(seats))
        {
            return Err(AppError::invalid(
                "extra transfer",
                Reason::new("transfer-seats-between")
                    .with("date", date)
                    .count("seats", (*seats).into())
                    .count("most", MAX_TRANSFER_SEATS.into()),
            ));
        }
        if self.capacities.len() > MAX_CAPACITY_OVERRIDES {
            return Err(AppError::invalid(
                "capacity",
                Reason::new("at-most-overrides").count("most", MAX_CAPACITY_OVERRIDES as u64),
            ));
        }
        if let Some(text) = &self.destination
            && DestinationWish::parse_country(text).is_none()
        {
            return Err(AppError::invalid(
                "destination",
                Reason::new("not-a-country")
                    .with("text", text.chars().take(16).collect::<String>()),
            ));
        }
        if let Some((code, beds)) = self
            .capacities
            .iter()
            .find(|(_, beds)| !(1..=MAX_BEDS).contains(beds))
        {
            return Err(AppError::invalid(
                "capacity",
                Reason::new("beds-between")
                    .with("code", code)
                    .count("beds", (*beds).into())
                    .count("most", MAX_BEDS.into()),
            ));
        }
        Ok(())
    }
}

/// What-if changes to the scenario built from the database.
#[derive(Clone, Debug)]
pub struct WhatIf {
    pub horizon_days: f64,
    pub replications: u32,
    pub seed: u64,
    /// One-off transfers: (date, seats).
    pub extra_transfers: Vec<(Date, u32)>,
    /// Multiplies every arrival rate.
    pub arrival_factor: f64,
    /// Capacity overrides by location code.
    pub capacities: Vec<(String, u32)>,
    /// The forecast of one destination country's queue (ISO alpha-2, as typed): only the
    /// people whose wish allows it, and only the transfers going there.
    pub destination: Option<String>,
}

impl Default for WhatIf {
    fn default() -> Self {
        WhatIf {
            horizon_days: 180.0,
            replications: 200,
            seed: 1,
            extra_transfers: Vec::new(),
            arrival_factor: 1.0,
            capacities: Vec::new(),
            destination: None,
        }
    }
}

impl App {
    /// The scenario the database implies today (aggregates only: no identities).
    pub async fn scenario_from_db(
        &self,
        session: &Session,
        what_if: &WhatIf,
    ) -> AppResult<Scenario> {
        session.require(Action::Forecast)?;
        what_if.check()?;
        let today = self.today();
        let window_start = today - Duration::days(RATE_WINDOW_DAYS);
        let country = what_if
            .destination
            .as_deref()
            .and_then(DestinationWish::parse_country);
        let (locations, landing) = self.places_of(what_if, country).await?;
        let Waiting {
            queue: waiting,
            everyone: everyone_waiting,
            beds_taken_by_others,
        } = self.waiting_for(country).await?;
        let mut initial: HashMap<LocationId, Vec<f64>> = HashMap::new();
        for person in &waiting {
            initial
                .entry(person.location)
                .or_default()
                .push(person.waiting_days(today).unwrap_or_default() as f64);
        }
        let Rates {
            arrivals,
            departures,
            exits,
        } = self.recent_rates(window_start, today, &landing).await?;
        // Arrivals say nothing of wishes when they come: they are taken to wish as those
        // waiting now do.
        let share = if everyone_waiting == 0 {
            1.0
        } else {
            waiting.len() as f64 / everyone_waiting as f64
        };
        let what_if_here = WhatIf {
            arrival_factor: what_if.arrival_factor * share,
            ..what_if.clone()
        };
        let shelters = locations
            .iter()
            .map(|location| {
                let taken = beds_taken_by_others
                    .get(&location.id)
                    .copied()
                    .unwrap_or_default();
                shelter_of(location, &what_if_here, &arrivals, &mut initial, taken)
            })
            .collect();
        // Recent departures continue as a flight every two weeks; planned batches and extra
        // transfers are one-offs.
        let mut flights = Vec::new();
        let fortnightly = (departures as f64 / RATE_WINDOW_DAYS as f64 * 14.0).round() as u32;
        if fortnightly > 0 {
            flights.push(Flights {
                every_days: 14.0,
                first_day: 14.0,
                seats: fortnightly,
            });
        }
        let transfer = self.transfers_ahead(what_if, today, &landing).await?;
        let per_day = if everyone_waiting == 0 {
            0.0
        } else {
            (exits as f64 / (everyone_waiting as f64 * RATE_WINDOW_DAYS as f64)).min(0.5)
        };
        Ok(Scenario {
            horizon_days: what_if.horizon_days,
            replications: what_if.replications,
            seed: what_if.seed,
            target_wait_days: self.target_wait_days().await? as f64,
            shelters,
            screening: None,
            flights,
            transfer,
            exits: (per_day > 0.0).then_some(Exits { per_day }),
        })
    }

    /// The waiting places (shelters and detention), every what-if capacity checked to name
    /// one, and where transfers to `country` land (its reception locations; every location
    /// when none is given).
    async fn places_of(
        &self,
        what_if: &WhatIf,
        country: Option<DestinationWish>,
    ) -> AppResult<(Vec<Location>, HashSet<LocationId>)> {
        let all_locations = self.store.locations().await?;
        let landing: HashSet<LocationId> = all_locations
            .iter()
            .filter(|location| {
                country.is_none_or(|country| {
                    location.kind == LocationKind::Reception && country.allows(&location.country)
                })
            })
            .map(|location| location.id)
            .collect();
        let locations: Vec<Location> = all_locations
            .into_iter()
            .filter(|location| {
                matches!(
                    location.kind,
                    LocationKind::Shelter | LocationKind::Detention
                )
            })
            .collect();
        for (code, _) in &what_if.capacities {
            if !locations
                .iter()
                .any(|location| location.code.eq_ignore_ascii_case(code))
            {
                return Err(AppError::invalid(
                    "capacity",
                    Reason::new("not-a-shelter").with("code", code),
                ));
            }
        }
        Ok((locations, landing))
    }

    /// The people waiting whose wish allows `country` (everyone when none), how many wait in
    /// all, and the beds the others take at each place. Someone not asked yet may travel
    /// anywhere, as the planner seats them.
    async fn waiting_for(&self, country: Option<DestinationWish>) -> AppResult<Waiting> {
        let all = self
            .store
            .people(&PersonFilter {
                stages: vec![Stage::Sheltered, Stage::Detained],
                ..PersonFilter::default()
            })
            .await?;
        let everyone = all.len();
        let mut beds_taken_by_others: HashMap<LocationId, u32> = HashMap::new();
        let mut queue = Vec::with_capacity(all.len());
        for person in all {
            if country.is_none_or(|country| person.wish.is_none_or(|wish| wish == country)) {
                queue.push(person);
            } else {
                *beds_taken_by_others.entry(person.location).or_default() += 1;
            }
        }
        Ok(Waiting {
            queue,
            everyone,
            beds_taken_by_others,
        })
    }

    /// Arrivals into each waiting place, departures and exits since `window_start`. A move
    /// from one waiting place to another is no arrival: the person is already among
    /// someone's waiting (counting it would add people the forecast never removes). Only
    /// departures to `landing` count.
    async fn recent_rates(
        &self,
        window_start: Date,
        today: Date,
        landing: &HashSet<LocationId>,
    ) -> AppResult<Rates> {
        let mut rates = Rates::default();
        let mut in_waiting_place: HashSet<PersonId> = HashSet::new();
        for event in self
            .store
            .events_of_kinds(&["person_added", "person_moved"])
            .await?
        {
            match event.body {
                EventBody::PersonAdded { person } if person.stage.is_waiting() => {
                    in_waiting_place.insert(person.id);
                    if person.since >= window_start {
                        *rates.arrivals.entry(person.location).or_default() += 1;
                    }
                }
                EventBody::PersonMoved {
                    person,
                    to,
                    stage,
                    at,
                    ..
                } => {
                    let was_waiting = if stage.is_waiting() {
                        !in_waiting_place.insert(person)
                    } else {
                        in_waiting_place.remove(&person)
                    };
                    if at < window_start || at > today {
                        continue;
                    }
                    if stage.is_waiting() {
                        if !was_waiting {
                            *rates.arrivals.entry(to).or_default() += 1;
                        }
                    } else if stage == Stage::Departed {
                        rates.departures += u64::from(landing.contains(&to));
                    } else if matches!(
                        stage,
                        Stage::Missing | Stage::Withdrawn | Stage::Deceased | Stage::Repatriated
                    ) {
                        rates.exits += 1;
                    }
                }
                _ => {}
            }
        }
        Ok(rates)
    }

    /// Planned batches still to leave for `landing` and the what-if's extra transfers (taken
    /// to go there), as one-offs.
    async fn transfers_ahead(
        &self,
        what_if: &WhatIf,
        today: Date,
        landing: &HashSet<LocationId>,
    ) -> AppResult<Vec<Transfer>> {
        let mut transfer = Vec::new();
        for batch in self.store.batches().await? {
            if batch.still_to_leave(today) && landing.contains(&batch.destination) {
                transfer.push(Transfer {
                    day: (batch.departure - today).whole_days() as f64,
                    seats: batch.seats,
                });
            }
        }
        for (date, seats) in &what_if.extra_transfers {
            if *date < today {
                return Err(AppError::invalid(
                    "extra transfer",
                    Reason::new("date-in-the-past").with("date", date),
                ));
            }
            transfer.push(Transfer {
                day: (*date - today).whole_days() as f64,
                seats: *seats,
            });
        }
        Ok(transfer)
    }

    /// Runs a scenario (from a file or from the database) on `threads` threads, within the
    /// work budget, and only while no other forecast runs (`MAX_RUNNING_FORECASTS`).
    pub fn forecast(
        &self,
        session: &Session,
        scenario: &Scenario,
        threads: usize,
    ) -> AppResult<Forecast> {
        session.require(Action::Forecast)?;
        scenario.validate().map_err(scenario_error)?;
        FORECAST_BUDGET.check(scenario)?;
        let _slot = self.running_forecasts.take()?;
        refuge_sim::forecast(scenario, threads).map_err(scenario_error)
    }
}

/// A scenario the simulator refuses: its key, and its reason as the simulator says it (a
/// scenario file is the CLI's, written in English).
fn scenario_error(error: refuge_sim::ScenarioError) -> AppError {
    AppError::invalid(
        error.key,
        Reason::new("scenario").with("detail", error.reason),
    )
}

/// The time axis of a forecast chart from `start`: the first day of each month (as
/// `YYYY-MM`), every second, third … month so that at most six are shown.
pub fn month_ticks(start: Date, days: f64) -> Vec<(f64, String)> {
    let end = start + Duration::days(days.round() as i64);
    let mut firsts = Vec::new();
    let mut month = Date::from_calendar_date(start.year(), start.month(), 1).unwrap_or(start);
    while month <= end {
        if month >= start {
            firsts.push(month);
        }
        let (year, next) = match month.month() {
            time::Month::December => (month.year() + 1, time::Month::January),
            other => (month.year(), other.next()),
        };
        month = match Date::from_calendar_date(year, next, 1) {
            Ok(date) => date,
            Err(_) => break,
        };
    }
    let every = firsts.len().div_ceil(6).max(1);
    firsts
        .into_iter()
        .step_by(every)
        .map(|first| {
            (
                (first - start).whole_days() as f64,
                format!("{}-{:02}", first.year(), u8::from(first.month())),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn month_ticks_fall_on_the_first_of_months_at_most_six() {
        let ticks = month_ticks(date!(2026 - 12 - 15), 60.0);
        assert_eq!(
            ticks,
            [(17.0, "2027-01".to_string()), (48.0, "2027-02".to_string())]
        );
        let year = month_ticks(date!(2026 - 12 - 01), 365.0);
        let labels: Vec<&str> = year.iter().map(|(_, label)| label.as_str()).collect();
        assert_eq!(
            labels,
            ["2026-12", "2027-03", "2027-06", "2027-09", "2027-12"]
        );
        assert!(month_ticks(date!(2026 - 01 - 31), 1095.0).len() <= 6);
    }
}

/// The people waiting in one forecast's queue, and the others.
struct Waiting {
    queue: Vec<Person>,
    /// Everyone waiting, in any queue.
    everyone: usize,
    /// At each place, the beds of those waiting for another destination: a forecast of one
    /// queue has the beds that are left (they stay taken for its horizon).
    beds_taken_by_others: HashMap<LocationId, u32>,
}

/// What happened over the rate window.
#[derive(Default)]
struct Rates {
    arrivals: HashMap<LocationId, u64>,
    departures: u64,
    exits: u64,
}

/// A waiting place as the simulator takes it: its capacity (or the what-if's) less the beds
/// of those waiting for another destination, its arrival rate over the window with a
/// Poisson uncertainty, and the waits of those there now.
fn shelter_of(
    location: &Location,
    what_if: &WhatIf,
    arrivals: &HashMap<LocationId, u64>,
    initial: &mut HashMap<LocationId, Vec<f64>>,
    beds_taken_by_others: u32,
) -> Shelter {
    let window_months = RATE_WINDOW_DAYS as f64 / refuge_sim::DAYS_PER_MONTH;
    let count = arrivals.get(&location.id).copied().unwrap_or_default();
    let capacity = what_if
        .capacities
        .iter()
        .find(|(code, _)| code.eq_ignore_ascii_case(&location.code))
        .map_or(location.capacity, |(_, capacity)| *capacity);
    Shelter {
        name: location.code.clone(),
        capacity: Some(capacity.saturating_sub(beds_taken_by_others).max(1)),
        overflow: refuge_sim::Overflow::Wait,
        arrivals_per_month: Some(count as f64 / window_months * what_if.arrival_factor),
        arrivals: None,
        // A Poisson count of n has a relative uncertainty of about 1/√n.
        arrivals_cv: if count > 0 {
            1.0 / (count as f64).sqrt()
        } else {
            0.0
        },
        initial_waiting_days: initial.remove(&location.id).unwrap_or_default(),
    }
}
