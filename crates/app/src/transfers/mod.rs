//! Transfer planning from the live database, and the life of a transfer batch:
//! draft (planned, pinned, re-planned) → confirmed → departed → completed, or cancelled.

mod batches;
mod manifest;
mod planning;

use crate::*;
use refuge_plan::{Plan, Policy};
use std::collections::{BTreeMap, HashMap};

/// The most seats one batch may offer (the largest transfer on record took 468 people).
pub const MAX_BATCH_SEATS: u32 = refuge_plan::MAX_BATCH_SEATS as u32;
/// The most batches one plan may fill at once.
pub const MAX_BATCHES_PER_PLAN: usize = 20;
/// The most branch-and-bound nodes a policy may allow (the default is 200,000).
pub const MAX_NODE_LIMIT: u64 = 5_000_000;
/// Plans that may run at once in one process; more wait up to `PLAN_PATIENCE` for a turn,
/// then get "busy, try again".
pub const MAX_RUNNING_PLANS: usize = 2;
pub const PLAN_PATIENCE: std::time::Duration = std::time::Duration::from_secs(20);

/// One batch to plan: a departure date, seats, and the locations it picks up from (codes;
/// empty: every shelter and detention location).
#[derive(Clone, Debug)]
pub struct BatchRequest {
    pub label: String,
    pub date: Date,
    pub seats: u32,
    pub origins: Vec<String>,
    /// The country it goes to (ISO alpha-2): only people who want to go there are seated.
    /// `None` (a preview without a destination): anyone who wants to go somewhere.
    pub destination: Option<String>,
}

impl BatchRequest {
    /// A batch without a label or destination (a new batch takes its destination from the
    /// reception location it goes to).
    pub fn new(date: Date, seats: u32, origins: Vec<String>) -> BatchRequest {
        BatchRequest {
            label: String::new(),
            date,
            seats,
            origins,
            destination: None,
        }
    }
}

/// Why a planning unit cannot go yet, as facts: pages render them in their language; the
/// `Display` English is the planner's `ineligible_reason`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Blocker {
    /// Not yet sheltered or detained.
    NotWaiting {
        person: String,
        stage: Stage,
    },
    OnHold {
        person: String,
        reason: HoldReason,
    },
    /// Documents or screening not done.
    NotReady {
        person: String,
    },
    OnBatch {
        person: String,
        batch: String,
    },
    /// The members are at different locations.
    ApartLocations,
    /// A member wants to go elsewhere than the batch (`destination`), has not decided, or
    /// does not want to move on.
    WantsElsewhere {
        person: String,
        wish: DestinationWish,
        destination: Option<String>,
    },
}

impl std::fmt::Display for Blocker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Blocker::NotWaiting { person, stage } => {
                write!(f, "{person} is in {stage} (not yet sheltered or detained)")
            }
            Blocker::OnHold { person, reason } => write!(f, "{person} is on hold ({reason})"),
            Blocker::NotReady { person } => {
                write!(
                    f,
                    "{person} is not transfer-ready (documents and screening)"
                )
            }
            Blocker::OnBatch { person, batch } => write!(f, "{person} is on batch {batch}"),
            Blocker::ApartLocations => f.write_str("members are at different locations"),
            Blocker::WantsElsewhere {
                person,
                wish: DestinationWish::Undecided,
                ..
            } => write!(f, "{person} has not decided where to go"),
            Blocker::WantsElsewhere {
                person,
                wish: DestinationWish::Stay,
                ..
            } => write!(f, "{person} does not want to move on"),
            Blocker::WantsElsewhere {
                person,
                wish,
                destination,
            } => write!(
                f,
                "{person} wants {wish}, batch goes to {}",
                destination.as_deref().unwrap_or("-")
            ),
        }
    }
}

/// A planning unit: a whole household, or one member of a household that may split.
#[derive(Clone, Debug)]
pub struct PlanUnit {
    /// Household code, or person code for a member of a split-allowed household.
    pub code: String,
    pub household: HouseholdId,
    pub people: Vec<PersonId>,
    pub person_codes: Vec<String>,
    pub origin: String,
    /// Why it cannot go yet (empty: eligible).
    pub blockers: Vec<Blocker>,
}

/// A plan with the units it speaks of.
#[derive(Debug)]
pub struct PlanReport {
    pub plan: Plan,
    pub units: BTreeMap<String, PlanUnit>,
}

/// A batch as shown: the record, its manifest by unit, and (for a draft) a fresh plan.
#[derive(Debug)]
pub struct BatchView {
    pub batch: TransferBatch,
    pub origin_codes: Vec<String>,
    pub destination_code: String,
    /// Manifest rows: (person code, household code, location code).
    pub manifest: Vec<(String, String, String)>,
    pub report: Option<PlanReport>,
}

impl App {
    pub(crate) async fn batch_by_code(&self, code: &str) -> AppResult<TransferBatch> {
        self.store
            .batch_by_code(&normalize_code(code))
            .await?
            .ok_or_else(|| AppError::NotFound {
                what: "batch",
                code: code.to_string(),
            })
    }

    pub(super) async fn batch_request(&self, batch: &TransferBatch) -> AppResult<BatchRequest> {
        let codes: HashMap<LocationId, String> = self.location_codes().await?;
        let destination = self
            .store
            .locations()
            .await?
            .into_iter()
            .find(|location| location.id == batch.destination)
            .map(|location| location.country);
        Ok(BatchRequest {
            destination,
            label: batch.code.clone(),
            date: batch.departure,
            seats: batch.seats,
            origins: batch
                .origins
                .iter()
                .filter_map(|id| codes.get(id).cloned())
                .collect(),
        })
    }

    pub async fn batches(&self, session: &Session) -> AppResult<Vec<TransferBatch>> {
        session.require(Action::ViewBatches)?;
        Ok(self.store.batches().await?)
    }

    /// A batch with its manifest; for a draft, the planner's current explanation too.
    pub async fn show_batch(
        &self,
        session: &Session,
        code: &str,
        policy: &Policy,
    ) -> AppResult<BatchView> {
        session.require(Action::ViewBatches)?;
        let batch = self.batch_by_code(code).await?;
        let locations: HashMap<LocationId, String> = self.location_codes().await?;
        let ids: Vec<Uuid> = batch.manifest.iter().map(|id| id.0).collect();
        let person_codes = self.store.codes_of(&ids).await?;
        let mut manifest = Vec::new();
        for person in &batch.manifest {
            let code = person_codes.get(&person.0).cloned().unwrap_or_default();
            if let Some(record) = self.store.person_by_code(&code).await? {
                let household = self
                    .store
                    .household(record.household)
                    .await?
                    .map(|h| h.code)
                    .unwrap_or_default();
                manifest.push((
                    code,
                    household,
                    locations.get(&record.location).cloned().unwrap_or_default(),
                ));
            }
        }
        let report = if batch.status == BatchStatus::Draft
            && allowed(session.role(), Action::PlanTransfers)
        {
            let request = self.batch_request(&batch).await?;
            let (instance, units) = self
                .planning_instance(&[request], policy, &batch.pins, Some(batch.id))
                .await?;
            Some(PlanReport {
                plan: self.solve(&instance).await?,
                units,
            })
        } else {
            None
        };
        Ok(BatchView {
            origin_codes: batch
                .origins
                .iter()
                .filter_map(|id| locations.get(id).cloned())
                .collect(),
            destination_code: locations
                .get(&batch.destination)
                .cloned()
                .unwrap_or_default(),
            batch,
            manifest,
            report,
        })
    }
}
