//! The scenario: shelters, arrivals, screening, flights, exits, horizon. Parsed from TOML by
//! the caller (serde); `validate` names the key and the reason of every problem.

use serde::{Deserialize, Serialize};

/// Days in a month, for rates given per month.
pub const DAYS_PER_MONTH: f64 = 30.4375;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub horizon_days: f64,
    #[serde(default = "default_replications")]
    pub replications: u32,
    #[serde(default)]
    pub seed: u64,
    /// The wait the backlog is measured against (days).
    #[serde(default = "default_target")]
    pub target_wait_days: f64,
    #[serde(rename = "shelter")]
    pub shelters: Vec<Shelter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub screening: Option<Screening>,
    #[serde(default)]
    pub flights: Vec<Flights>,
    #[serde(default)]
    pub transfer: Vec<Transfer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exits: Option<Exits>,
}

fn default_replications() -> u32 {
    100
}

fn default_target() -> f64 {
    60.0
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Overflow {
    /// A first-come-first-served waiting list outside the shelter.
    Wait,
    /// Turned away.
    Reject,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shelter {
    pub name: String,
    /// Beds; None for no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<u32>,
    #[serde(default = "default_overflow")]
    pub overflow: Overflow,
    /// Poisson arrivals at a constant rate per month.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrivals_per_month: Option<f64>,
    /// Or a schedule of (from day, rate per month) steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrivals: Option<Vec<(f64, f64)>>,
    /// Uncertainty of the rate: each replication draws its rate factor from a gamma
    /// distribution with mean 1 and this coefficient of variation.
    #[serde(default)]
    pub arrivals_cv: f64,
    /// One entry per person already present: days they have waited so far.
    #[serde(default)]
    pub initial_waiting_days: Vec<f64>,
}

fn default_overflow() -> Overflow {
    Overflow::Wait
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Distribution {
    Exponential,
    Deterministic,
    Lognormal,
}

/// c servers that screen people before they become transfer-ready.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Screening {
    pub servers: u32,
    pub mean_days: f64,
    #[serde(default = "default_distribution")]
    pub distribution: Distribution,
    /// Coefficient of variation, for the lognormal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cv: Option<f64>,
}

fn default_distribution() -> Distribution {
    Distribution::Exponential
}

/// Recurring flights at first_day, first_day + every_days, … before the horizon.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flights {
    pub every_days: f64,
    #[serde(default)]
    pub first_day: f64,
    pub seats: u32,
}

/// A one-off transfer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transfer {
    pub day: f64,
    pub seats: u32,
}

/// A daily hazard of leaving the queue (arrest, withdrawal, moving on alone).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exits {
    pub per_day: f64,
}

/// The estimated cost of a forecast (`Scenario::work`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Work {
    /// People simulated in one replication (the peak rates, with room for rate uncertainty).
    pub arrivals_per_replication: f64,
    pub total_arrivals: f64,
    /// Flights and transfers in one replication.
    pub departures_per_replication: f64,
    /// Per-day figures the replications keep until they are summarised.
    pub result_cells: f64,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{key}: {reason}")]
pub struct ScenarioError {
    pub key: String,
    pub reason: String,
}

fn bad(key: impl Into<String>, reason: impl Into<String>) -> ScenarioError {
    ScenarioError {
        key: key.into(),
        reason: reason.into(),
    }
}

fn positive(key: &str, value: f64) -> Result<(), ScenarioError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(bad(key, format!("{value} is not a positive number")))
    }
}

fn non_negative(key: &str, value: f64) -> Result<(), ScenarioError> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(bad(key, format!("{value} is negative or not a number")))
    }
}

impl Scenario {
    /// Checks the scenario; every error names the key.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        positive("horizon_days", self.horizon_days)?;
        if self.horizon_days > 36_500.0 {
            return Err(bad("horizon_days", "more than 100 years"));
        }
        if self.replications == 0 {
            return Err(bad("replications", "must be at least 1"));
        }
        positive("target_wait_days", self.target_wait_days)?;
        if self.shelters.is_empty() {
            return Err(bad("shelter", "at least one [[shelter]] is needed"));
        }
        for (index, shelter) in self.shelters.iter().enumerate() {
            self.validate_shelter(index, shelter)?;
        }
        if let Some(screening) = &self.screening {
            if screening.servers == 0 {
                return Err(bad("screening.servers", "must be at least 1"));
            }
            positive("screening.mean_days", screening.mean_days)?;
            match (screening.distribution, screening.cv) {
                (Distribution::Lognormal, Some(cv)) => positive("screening.cv", cv)?,
                (Distribution::Lognormal, None) => {
                    return Err(bad("screening.cv", "a lognormal needs cv"));
                }
                (_, Some(_)) => return Err(bad("screening.cv", "only the lognormal takes cv")),
                _ => {}
            }
        }
        for (index, flights) in self.flights.iter().enumerate() {
            positive(&format!("flights[{index}].every_days"), flights.every_days)?;
            non_negative(&format!("flights[{index}].first_day"), flights.first_day)?;
            if flights.seats == 0 {
                return Err(bad(format!("flights[{index}].seats"), "must be at least 1"));
            }
        }
        for (index, transfer) in self.transfer.iter().enumerate() {
            non_negative(&format!("transfer[{index}].day"), transfer.day)?;
            if transfer.seats == 0 {
                return Err(bad(
                    format!("transfer[{index}].seats"),
                    "must be at least 1",
                ));
            }
        }
        if let Some(exits) = &self.exits {
            non_negative("exits.per_day", exits.per_day)?;
            if exits.per_day >= 1.0 {
                return Err(bad("exits.per_day", "a daily hazard must be below 1"));
            }
        }
        Ok(())
    }

    /// One `[[shelter]]`: its name (used once), capacity, arrivals (a rate or a schedule of
    /// increasing days) and the waits of those there at the start.
    fn validate_shelter(&self, index: usize, shelter: &Shelter) -> Result<(), ScenarioError> {
        let key = |name: &str| format!("shelter[{index}].{name}");
        if shelter.name.trim().is_empty() {
            return Err(bad(key("name"), "is empty"));
        }
        if self.shelters[..index]
            .iter()
            .any(|other| other.name == shelter.name)
        {
            return Err(bad(
                key("name"),
                format!("'{}' is used twice", shelter.name),
            ));
        }
        if shelter.capacity == Some(0) {
            return Err(bad(
                key("capacity"),
                "must be at least 1 (leave it out for no limit)",
            ));
        }
        match (&shelter.arrivals_per_month, &shelter.arrivals) {
            (Some(_), Some(_)) => {
                return Err(bad(
                    key("arrivals"),
                    "give arrivals_per_month or an arrivals schedule, not both",
                ));
            }
            (Some(rate), None) => non_negative(&key("arrivals_per_month"), *rate)?,
            (None, Some(steps)) => {
                if steps.is_empty() {
                    return Err(bad(key("arrivals"), "the schedule is empty"));
                }
                let mut last = f64::NEG_INFINITY;
                for (step, (day, rate)) in steps.iter().enumerate() {
                    non_negative(&format!("{}[{step}] day", key("arrivals")), *day)?;
                    non_negative(&format!("{}[{step}] rate", key("arrivals")), *rate)?;
                    if *day <= last {
                        return Err(bad(key("arrivals"), "days must increase"));
                    }
                    last = *day;
                }
            }
            (None, None) => {}
        }
        non_negative(&key("arrivals_cv"), shelter.arrivals_cv)?;
        for (person, days) in shelter.initial_waiting_days.iter().enumerate() {
            non_negative(&format!("{}[{person}]", key("initial_waiting_days")), *days)?;
        }
        Ok(())
    }

    /// What a forecast of this scenario will cost, estimated before it runs, so that a caller
    /// can refuse one beyond its budget.
    pub fn work(&self) -> Work {
        let arrivals_per_replication: f64 = self
            .shelters
            .iter()
            .map(|shelter| {
                let peak_per_month = match (&shelter.arrivals_per_month, &shelter.arrivals) {
                    (Some(rate), _) => *rate,
                    (None, Some(steps)) => steps.iter().map(|(_, rate)| *rate).fold(0.0, f64::max),
                    (None, None) => 0.0,
                };
                // A replication's rate factor is drawn with this spread: allow three of them.
                let spread = 1.0 + 3.0 * shelter.arrivals_cv;
                peak_per_month / DAYS_PER_MONTH * self.horizon_days * spread
                    + shelter.initial_waiting_days.len() as f64
            })
            .sum();
        let departures_per_replication = self
            .flights
            .iter()
            .map(|flights| self.horizon_days / flights.every_days)
            .sum::<f64>()
            + self.transfer.len() as f64;
        let replications = f64::from(self.replications);
        Work {
            arrivals_per_replication,
            total_arrivals: arrivals_per_replication * replications,
            departures_per_replication,
            result_cells: replications
                * (self.horizon_days.ceil() + 1.0)
                * (self.shelters.len() as f64 + 1.0),
        }
    }

    /// Whether people wait for flights (otherwise they leave when screening ends).
    pub fn has_flights(&self) -> bool {
        !self.flights.is_empty() || !self.transfer.is_empty()
    }

    /// Departure days and seats before the horizon, in time order.
    pub fn departures(&self) -> Vec<(f64, u32)> {
        let mut departures: Vec<(f64, u32)> = Vec::new();
        for flights in &self.flights {
            let mut day = flights.first_day;
            while day < self.horizon_days {
                departures.push((day, flights.seats));
                day += flights.every_days;
            }
        }
        departures.extend(
            self.transfer
                .iter()
                .filter(|transfer| transfer.day < self.horizon_days)
                .map(|transfer| (transfer.day, transfer.seats)),
        );
        departures.sort_by(|a, b| a.0.total_cmp(&b.0));
        departures
    }
}
