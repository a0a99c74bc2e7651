//! The planner's input and output, their validation, and the priority rule.

use refuge_core::Flag;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// One transfer: a departure day, seats, and the origin locations it picks up from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    pub id: String,
    /// Day number of the departure (any common origin, e.g. days from today).
    pub day: i64,
    pub seats: i64,
    pub origins: Vec<String>,
}

/// A household pinned in (must travel on some batch), out, or onto one batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pin {
    In,
    Out,
    Batch(String),
}

impl Serialize for Pin {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(match self {
            Pin::In => "in",
            Pin::Out => "out",
            Pin::Batch(id) => id,
        })
    }
}

impl<'de> Deserialize<'de> for Pin {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(match text.as_str() {
            "in" => Pin::In,
            "out" => Pin::Out,
            _ => Pin::Batch(text),
        })
    }
}

fn default_true() -> bool {
    true
}

/// A household waiting for a transfer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Household {
    pub id: String,
    /// People travelling together.
    pub size: i64,
    /// The location the household waits at.
    pub origin: String,
    #[serde(default)]
    pub waiting_days: f64,
    /// Vulnerability flags over all members (a flag counts once per member who has it).
    #[serde(default)]
    pub flags: Vec<Flag>,
    #[serde(default = "default_true")]
    pub eligible: bool,
    /// Why the household is not eligible (shown in its explanation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ineligible_reason: Option<String>,
    /// A priority given directly, instead of the policy's rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<Pin>,
}

/// Weights of the priority rule and the solver's limits. Every field is optional in input.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    /// `priority = 1 + waiting_days / target_wait_days + Σ flag weights`.
    pub target_wait_days: f64,
    /// Weight of each flag, per member who has it.
    pub flag_weights: BTreeMap<Flag, f64>,
    /// At most this share of a batch's seats for one origin location (0 < share ≤ 1).
    pub max_share: Option<f64>,
    /// People not yet transfer-ready (documents, screening) may still be planned.
    pub allow_not_ready: bool,
    /// Stop the search after this many branch-and-bound nodes and report the gap.
    pub node_limit: u64,
    /// Relative optimality gap at which the search stops.
    pub gap_tolerance: f64,
}

impl Default for Policy {
    fn default() -> Self {
        let flag_weights = [
            (Flag::SelfHarmRisk, 4.0),
            (Flag::MedicalUrgent, 4.0),
            (Flag::UnaccompaniedMinor, 2.0),
            (Flag::Pregnant, 2.0),
            (Flag::Minor, 1.0),
            (Flag::Elderly, 1.0),
            (Flag::Disability, 1.0),
            (Flag::ChronicIllness, 0.5),
        ]
        .into_iter()
        .collect();
        Policy {
            target_wait_days: 60.0,
            flag_weights,
            max_share: None,
            allow_not_ready: false,
            node_limit: 200_000,
            gap_tolerance: 1e-6,
        }
    }
}

/// The most seats a batch may have (the largest transfers on record carried a few hundred).
pub const MAX_BATCH_SEATS: i64 = 5_000;

/// A planning problem. `end_day` defaults to 30 days after the last batch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Instance {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_day: Option<i64>,
    pub batches: Vec<Batch>,
    pub households: Vec<Household>,
    #[serde(default)]
    pub policy: Policy,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error("the pins cannot all hold: {0}")]
    InfeasiblePins(String),
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> PlanError {
    PlanError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

/// How a priority was made up, for the explanation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PriorityParts {
    pub total: f64,
    /// None when the instance gave the priority directly.
    pub base: Option<f64>,
    pub waiting: Option<f64>,
    pub flags: Vec<(Flag, f64)>,
}

impl PriorityParts {
    pub fn describe(&self) -> String {
        match (self.base, self.waiting) {
            (Some(base), Some(waiting)) => {
                let mut text = format!("{:.2} = {base} base + {waiting:.2} waiting", self.total);
                for (flag, weight) in &self.flags {
                    text.push_str(&format!(" + {weight} {flag}"));
                }
                text
            }
            _ => format!("{:.2} (given)", self.total),
        }
    }
}

impl Policy {
    /// The priority of a household under this policy.
    pub fn priority(&self, household: &Household) -> PriorityParts {
        if let Some(total) = household.priority {
            return PriorityParts {
                total,
                base: None,
                waiting: None,
                flags: Vec::new(),
            };
        }
        let waiting = household.waiting_days.max(0.0) / self.target_wait_days;
        let mut flags: BTreeMap<Flag, f64> = BTreeMap::new();
        for flag in &household.flags {
            *flags.entry(*flag).or_default() += self.flag_weights.get(flag).copied().unwrap_or(0.0);
        }
        let flags: Vec<(Flag, f64)> = flags
            .into_iter()
            .filter(|(_, weight)| *weight != 0.0)
            .collect();
        PriorityParts {
            total: 1.0 + waiting + flags.iter().map(|(_, weight)| weight).sum::<f64>(),
            base: Some(1.0),
            waiting: Some(waiting),
            flags,
        }
    }
}

impl Instance {
    /// Checks the instance; every error names the field.
    pub fn validate(&self) -> Result<(), PlanError> {
        self.validate_policy()?;
        let batch_ids = self.validate_batches()?;
        self.validate_households(&batch_ids)
    }

    fn validate_policy(&self) -> Result<(), PlanError> {
        let policy = &self.policy;
        if !(policy.target_wait_days.is_finite() && policy.target_wait_days > 0.0) {
            return Err(invalid(
                "policy.target_wait_days",
                "must be a positive number of days",
            ));
        }
        for (flag, weight) in &policy.flag_weights {
            if !weight.is_finite() || *weight < 0.0 {
                return Err(invalid(
                    format!("policy.flag_weights.{flag}"),
                    "must be zero or positive",
                ));
            }
        }
        if let Some(share) = policy.max_share
            && !(share > 0.0 && share <= 1.0)
        {
            return Err(invalid("policy.max_share", "must be above 0 and at most 1"));
        }
        if !(policy.gap_tolerance.is_finite() && policy.gap_tolerance >= 0.0) {
            return Err(invalid("policy.gap_tolerance", "must be zero or positive"));
        }
        Ok(())
    }

    /// The batches' ids (each once), seats, origins and days; returns the ids.
    fn validate_batches(&self) -> Result<BTreeSet<&str>, PlanError> {
        let mut batch_ids = BTreeSet::new();
        for (index, batch) in self.batches.iter().enumerate() {
            let field = |name: &str| format!("batches[{index}].{name}");
            if batch.id.trim().is_empty() {
                return Err(invalid(field("id"), "is empty"));
            }
            if !batch_ids.insert(batch.id.as_str()) {
                return Err(invalid(
                    field("id"),
                    format!("'{}' is used twice", batch.id),
                ));
            }
            // The bound sizes the solver's work (and keeps a household's size in 16 bits).
            if !(1..=MAX_BATCH_SEATS).contains(&batch.seats) {
                return Err(invalid(
                    field("seats"),
                    format!(
                        "{} is not a number of seats from 1 to {MAX_BATCH_SEATS}",
                        batch.seats
                    ),
                ));
            }
            if batch.origins.is_empty() {
                return Err(invalid(field("origins"), "names no origin location"));
            }
        }
        let end_day = self.end_day();
        for (index, batch) in self.batches.iter().enumerate() {
            if batch.day >= end_day {
                return Err(invalid(
                    format!("batches[{index}].day"),
                    format!("day {} is not before end_day {end_day}", batch.day),
                ));
            }
        }
        Ok(batch_ids)
    }

    /// Each household's id (once), size (fitting some batch), wait, priority and pin.
    fn validate_households(&self, batch_ids: &BTreeSet<&str>) -> Result<(), PlanError> {
        let largest = self
            .batches
            .iter()
            .map(|batch| batch.seats)
            .max()
            .unwrap_or(0);
        let mut household_ids = BTreeSet::new();
        for (index, household) in self.households.iter().enumerate() {
            let field = |name: &str| format!("households[{index}].{name}");
            if household.id.trim().is_empty() {
                return Err(invalid(field("id"), "is empty"));
            }
            if !household_ids.insert(household.id.as_str()) {
                return Err(invalid(
                    field("id"),
                    format!("'{}' is used twice", household.id),
                ));
            }
            if household.size <= 0 {
                return Err(invalid(
                    field("size"),
                    format!("{} is not a positive size", household.size),
                ));
            }
            if household.size > largest {
                return Err(invalid(
                    field("size"),
                    format!(
                        "{} people do not fit on any batch (the largest has {largest} seats)",
                        household.size
                    ),
                ));
            }
            if !household.waiting_days.is_finite() || household.waiting_days < 0.0 {
                return Err(invalid(field("waiting_days"), "must be zero or positive"));
            }
            if let Some(priority) = household.priority
                && !(priority.is_finite() && priority > 0.0)
            {
                return Err(invalid(field("priority"), "must be a positive number"));
            }
            if let Some(Pin::Batch(batch)) = &household.pin
                && !batch_ids.contains(batch.as_str())
            {
                return Err(invalid(
                    field("pin"),
                    format!("'{batch}' is not in, out, or a batch id"),
                ));
            }
        }
        Ok(())
    }

    pub fn end_day(&self) -> i64 {
        self.end_day.unwrap_or_else(|| {
            self.batches
                .iter()
                .map(|batch| batch.day)
                .max()
                .unwrap_or(0)
                + 30
        })
    }
}

/// What became of one household, and why.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    Selected { batch: String, reason: String },
    Ineligible { reason: String },
    NotSelected { reason: String },
}

/// Why a household was chosen or left behind, as facts: pages render it in their language;
/// `Display` is the stable English of `Decision`'s reason.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Why {
    Chosen {
        batch: String,
        day: i64,
        pinned: bool,
        priority: PriorityParts,
    },
    /// Not eligible, for the caller's reason.
    Ineligible {
        reason: String,
    },
    PinnedOut,
    /// No batch picks up from its origin.
    NoPickup {
        origin: String,
    },
    /// Too many people for any batch (or share of one) that picks up from its origin.
    TooLarge {
        size: i64,
        origin: String,
    },
    /// The batches it could board went to households ranking above it.
    Outranked {
        priority: f64,
        size: i64,
        batches: Vec<BatchRoom>,
    },
    NotPlaced,
}

/// Room left on a batch a household could have boarded.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BatchRoom {
    pub batch: String,
    pub spare: i64,
    pub seats: i64,
    /// Seats were left, but the origin's share of them was used up.
    pub share_used_up: bool,
    /// The lowest priority among those chosen for it.
    pub lowest_selected: Option<f64>,
}

impl std::fmt::Display for BatchRoom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let BatchRoom {
            batch,
            spare,
            seats,
            share_used_up,
            lowest_selected,
        } = self;
        match (share_used_up, lowest_selected) {
            (true, _) => write!(
                f,
                "{batch}: {spare} seats left, but the origin's share is used up"
            ),
            (false, Some(cutoff)) => write!(
                f,
                "{batch}: {spare} of {seats} seats left, lowest selected priority {cutoff:.2}"
            ),
            (false, None) => write!(f, "{batch}: {spare} seats left"),
        }
    }
}

impl std::fmt::Display for Why {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Why::Chosen {
                batch,
                day,
                pinned,
                priority,
            } => write!(
                f,
                "priority {}; batch {batch} on day {day}{}",
                priority.describe(),
                if *pinned { " (pinned)" } else { "" }
            ),
            Why::Ineligible { reason } => f.write_str(reason),
            Why::PinnedOut => f.write_str("pinned out by the coordinator"),
            Why::NoPickup { origin } => write!(f, "no batch picks up from {origin}"),
            Why::TooLarge { size, origin } => write!(
                f,
                "{size} people do not fit on any batch that picks up from {origin}"
            ),
            Why::Outranked {
                priority,
                size,
                batches,
            } => {
                write!(f, "outranked: priority {priority:.2}, needs {size} seats")?;
                for room in batches {
                    write!(f, "; {room}")?;
                }
                Ok(())
            }
            Why::NotPlaced => f.write_str("not placed"),
        }
    }
}

impl Why {
    /// The decision it makes, with its English reason.
    pub fn decision(&self) -> Decision {
        let reason = self.to_string();
        match self {
            Why::Chosen { batch, .. } => Decision::Selected {
                batch: batch.clone(),
                reason,
            },
            Why::Ineligible { .. } => Decision::Ineligible { reason },
            _ => Decision::NotSelected { reason },
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Explanation {
    pub household: String,
    pub size: i64,
    pub origin: String,
    pub priority: PriorityParts,
    #[serde(flatten)]
    pub decision: Decision,
    /// The reason as facts.
    pub why: Why,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlannedBatch {
    pub id: String,
    pub day: i64,
    pub seats: i64,
    pub used: i64,
    /// Household ids, highest priority first.
    pub households: Vec<String>,
}

/// The planner's answer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Plan {
    pub batches: Vec<PlannedBatch>,
    /// Σ priority × size × (end_day − day) over placed households.
    pub objective: f64,
    /// A proven upper bound on the objective of any plan.
    pub bound: f64,
    /// (bound − objective) / bound; 0 when proven optimal.
    pub gap: f64,
    pub optimal: bool,
    pub nodes: u64,
    pub end_day: i64,
    /// One per household, in input order.
    pub explanations: Vec<Explanation>,
}
