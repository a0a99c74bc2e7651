//! Transfer planning from the live database, and the life of a transfer batch:
//! draft (planned, pinned, re-planned) → confirmed → departed → completed, or cancelled.

use crate::export::spreadsheet_safe;
use crate::*;
use refuge_plan::{Instance, Plan, Policy};
use refuge_store::{Guard, PersonFilter};
use std::collections::{BTreeMap, HashMap};

/// The most seats one batch may offer (the largest transfer on record took 468 people).
pub const MAX_BATCH_SEATS: u32 = 5_000;
/// The most batches one plan may fill at once.
pub const MAX_BATCHES_PER_PLAN: usize = 20;
/// The most branch-and-bound nodes a policy may allow (the default is 200,000).
pub const MAX_NODE_LIMIT: u64 = 5_000_000;
/// Plans that may run at once in one process; more get "busy, try again".
pub const MAX_RUNNING_PLANS: usize = 2;

/// One batch to plan: a departure date, seats, and the locations it picks up from (codes;
/// empty: every shelter and detention location).
#[derive(Clone, Debug)]
pub struct BatchRequest {
    pub label: String,
    pub date: Date,
    pub seats: u32,
    pub origins: Vec<String>,
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
    /// Builds a planning instance from the people waiting now.
    async fn planning_instance(
        &self,
        requests: &[BatchRequest],
        policy: &Policy,
        pins: &BTreeMap<HouseholdId, BatchPin>,
        this_batch: Option<BatchId>,
    ) -> AppResult<(Instance, BTreeMap<String, PlanUnit>)> {
        if requests.len() > MAX_BATCHES_PER_PLAN {
            return Err(AppError::invalid(
                "batches",
                format!("at most {MAX_BATCHES_PER_PLAN} in one plan"),
            ));
        }
        if policy.node_limit > MAX_NODE_LIMIT {
            return Err(AppError::invalid(
                "node_limit",
                format!("at most {MAX_NODE_LIMIT}"),
            ));
        }
        let today = self.today();
        let locations = self.store.locations().await?;
        let code_of: HashMap<LocationId, &str> =
            locations.iter().map(|l| (l.id, l.code.as_str())).collect();
        let waiting_places: Vec<String> = locations
            .iter()
            .filter(|l| matches!(l.kind, LocationKind::Shelter | LocationKind::Detention))
            .map(|l| l.code.clone())
            .collect();
        let mut batches = Vec::new();
        for (index, request) in requests.iter().enumerate() {
            if request.date < today {
                return Err(AppError::invalid(
                    format!("batch {}", request.label),
                    "the departure date is in the past",
                ));
            }
            if !(1..=MAX_BATCH_SEATS).contains(&request.seats) {
                return Err(AppError::invalid(
                    format!("batch {}", request.label),
                    format!("seats must be 1 to {MAX_BATCH_SEATS}"),
                ));
            }
            let mut origins = Vec::new();
            for code in &request.origins {
                origins.push(self.location_by_code(code).await?.code);
            }
            if origins.is_empty() {
                origins = waiting_places.clone();
            }
            batches.push(refuge_plan::Batch {
                id: if request.label.is_empty() {
                    format!("batch-{}", index + 1)
                } else {
                    request.label.clone()
                },
                day: (request.date - today).whole_days(),
                seats: i64::from(request.seats),
                origins,
            });
        }
        // People already on another live batch are spoken for.
        let mut on_batch: HashMap<PersonId, String> = HashMap::new();
        for batch in self.store.batches().await? {
            if Some(batch.id) != this_batch
                && matches!(batch.status, BatchStatus::Draft | BatchStatus::Confirmed)
            {
                for person in &batch.manifest {
                    on_batch.insert(*person, batch.code.clone());
                }
            }
        }
        let present = self
            .store
            .people(&PersonFilter {
                stages: vec![
                    Stage::Hiding,
                    Stage::Transit,
                    Stage::Sheltered,
                    Stage::Detained,
                ],
                ..PersonFilter::default()
            })
            .await?;
        let mut by_household: BTreeMap<HouseholdId, Vec<Person>> = BTreeMap::new();
        for person in present {
            by_household
                .entry(person.household)
                .or_default()
                .push(person);
        }
        let household_ids: Vec<Uuid> = by_household.keys().map(|id| id.0).collect();
        let household_codes = self.store.codes_of(&household_ids).await?;
        let split: HashMap<HouseholdId, bool> = {
            let mut split = HashMap::new();
            for id in by_household.keys() {
                if let Some(household) = self.store.household(*id).await?
                    && household.split_allowed
                {
                    split.insert(*id, true);
                }
            }
            split
        };
        let mut households = Vec::new();
        let mut units = BTreeMap::new();
        for (household_id, members) in by_household {
            if !members.iter().any(|member| member.stage.is_waiting()) {
                continue;
            }
            let household_code = household_codes
                .get(&household_id.0)
                .cloned()
                .unwrap_or_default();
            let groups: Vec<Vec<&Person>> = if split.contains_key(&household_id) {
                members
                    .iter()
                    .filter(|m| m.stage.is_waiting())
                    .map(|m| vec![m])
                    .collect()
            } else {
                vec![members.iter().collect()]
            };
            for group in groups {
                let code = if group.len() == 1 && split.contains_key(&household_id) {
                    group[0].code.clone()
                } else {
                    household_code.clone()
                };
                let origin = code_of
                    .get(&group[0].location)
                    .copied()
                    .unwrap_or_default()
                    .to_string();
                let mut reasons = Vec::new();
                for member in &group {
                    if !member.stage.is_waiting() {
                        reasons.push(format!(
                            "{} is in {} (not yet sheltered or detained)",
                            member.code, member.stage
                        ));
                    }
                    if let Some(reason) = member.hold {
                        reasons.push(format!("{} is on hold ({reason})", member.code));
                    }
                    let ready = member.documents_ready && member.screening_done;
                    if !(policy.allow_not_ready || ready) {
                        reasons.push(format!(
                            "{} is not transfer-ready (documents and screening)",
                            member.code
                        ));
                    }
                    if let Some(other) = on_batch.get(&member.id) {
                        reasons.push(format!("{} is on batch {other}", member.code));
                    }
                    if member.location != group[0].location {
                        reasons.push("members are at different locations".to_string());
                    }
                }
                reasons.dedup();
                let waiting_days = group
                    .iter()
                    .map(|m| m.waiting_days(today))
                    .max()
                    .unwrap_or(0);
                let pin = pins.get(&household_id).map(|pin| match pin {
                    BatchPin::In => refuge_plan::Pin::In,
                    BatchPin::Out => refuge_plan::Pin::Out,
                });
                households.push(refuge_plan::Household {
                    id: code.clone(),
                    size: group.len() as i64,
                    origin: origin.clone(),
                    waiting_days: waiting_days as f64,
                    flags: group.iter().flat_map(|m| m.flags.iter().copied()).collect(),
                    eligible: reasons.is_empty(),
                    ineligible_reason: (!reasons.is_empty()).then(|| reasons.join("; ")),
                    priority: None,
                    pin,
                });
                units.insert(
                    code.clone(),
                    PlanUnit {
                        code,
                        household: household_id,
                        people: group.iter().map(|m| m.id).collect(),
                        person_codes: group.iter().map(|m| m.code.clone()).collect(),
                        origin,
                    },
                );
            }
        }
        let largest = batches.iter().map(|b| b.seats).max().unwrap_or(0);
        for household in &mut households {
            // Too large for any batch: explained, not an error, when planning from the database.
            if household.size > largest && household.eligible {
                household.eligible = false;
                household.ineligible_reason =
                    Some(format!("{} people do not fit on any batch", household.size));
            }
        }
        households.retain(|household| household.size <= largest);
        Ok((
            Instance {
                end_day: None,
                batches,
                households,
                policy: policy.clone(),
            },
            units,
        ))
    }

    /// Runs the planner within its bounds (`MAX_NODE_LIMIT`, checked when the instance is
    /// built), on a blocking thread so that the async threads keep answering others, and only
    /// while fewer than `MAX_RUNNING_PLANS` plans run.
    async fn solve(&self, instance: &Instance) -> AppResult<Plan> {
        let _slot = self.running_plans.take()?;
        let instance = instance.clone();
        tokio::task::spawn_blocking(move || refuge_plan::solve(&instance))
            .await
            // A panic in the planner is re-raised as it was (no value is added to it).
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic.into_panic()))
            .map_err(|error| match error {
                refuge_plan::PlanError::Invalid { field, reason } => {
                    AppError::Invalid { field, reason }
                }
                refuge_plan::PlanError::InfeasiblePins(reason) => AppError::invalid("pins", reason),
            })
    }

    /// Proposes manifests for one or more batches from the people waiting now. Writes nothing.
    pub async fn plan_preview(
        &self,
        session: &Session,
        requests: &[BatchRequest],
        policy: &Policy,
    ) -> AppResult<PlanReport> {
        session.require(Action::PlanTransfers)?;
        let (instance, units) = self
            .planning_instance(requests, policy, &BTreeMap::new(), None)
            .await?;
        Ok(PlanReport {
            plan: self.solve(&instance).await?,
            units,
        })
    }

    async fn batch_by_code(&self, code: &str) -> AppResult<TransferBatch> {
        self.store
            .batch_by_code(&normalize_code(code))
            .await?
            .ok_or_else(|| AppError::NotFound {
                what: "batch",
                code: code.to_string(),
            })
    }

    async fn batch_request(&self, batch: &TransferBatch) -> AppResult<BatchRequest> {
        let codes: HashMap<LocationId, String> = self.location_codes().await?;
        Ok(BatchRequest {
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

    /// Plans a draft batch and returns the event that records its manifest.
    async fn plan_batch(
        &self,
        batch: &TransferBatch,
        policy: &Policy,
    ) -> AppResult<(PlanReport, EventBody)> {
        let request = self.batch_request(batch).await?;
        let (instance, units) = self
            .planning_instance(&[request], policy, &batch.pins, Some(batch.id))
            .await?;
        let plan = self.solve(&instance).await?;
        let manifest: Vec<PersonId> = plan
            .batches
            .iter()
            .flat_map(|planned| planned.households.iter())
            .flat_map(|code| {
                units
                    .get(code)
                    .map(|unit| unit.people.clone())
                    .unwrap_or_default()
            })
            .collect();
        Ok((
            PlanReport { plan, units },
            EventBody::BatchPlanned {
                batch: batch.id,
                manifest,
            },
        ))
    }

    /// Creates a draft batch and plans its manifest, in one transaction.
    pub async fn create_batch(
        &self,
        session: &Session,
        request: &BatchRequest,
        destination: &str,
        policy: &Policy,
    ) -> AppResult<(TransferBatch, PlanReport)> {
        session.require(Action::PlanTransfers)?;
        let destination = self.location_by_code(destination).await?;
        let mut origins = Vec::new();
        for code in &request.origins {
            origins.push(self.location_by_code(code).await?.id);
        }
        if origins.is_empty() {
            origins = self
                .store
                .locations()
                .await?
                .into_iter()
                .filter(|l| matches!(l.kind, LocationKind::Shelter | LocationKind::Detention))
                .map(|l| l.id)
                .collect();
        }
        if request.date < self.today() {
            return Err(AppError::invalid(
                "date",
                "the departure date is in the past",
            ));
        }
        let batch = TransferBatch {
            id: BatchId(self.new_uuid()?),
            code: self.fresh_codes(CodeKind::Batch, 1).await?.remove(0),
            departure: request.date,
            seats: request.seats,
            origins,
            destination: destination.id,
            status: BatchStatus::Draft,
            manifest: Vec::new(),
            pins: BTreeMap::new(),
            version: 0,
        };
        let (report, planned) = self.plan_batch(&batch, policy).await?;
        let events = vec![
            self.new_event(
                session,
                EventBody::BatchCreated {
                    batch: batch.clone(),
                },
            )?,
            self.new_event(session, planned)?,
        ];
        self.commit(Commit {
            events,
            ..Commit::default()
        })
        .await?;
        let batch = self.batch_by_code(&batch.code).await?;
        Ok((batch, report))
    }

    /// Pins a household in or out of a draft (or clears the pin) and re-plans it.
    pub async fn pin_household(
        &self,
        session: &Session,
        batch_code: &str,
        household_code: &str,
        pin: Option<BatchPin>,
        policy: &Policy,
    ) -> AppResult<(TransferBatch, PlanReport)> {
        session.require(Action::PlanTransfers)?;
        let mut batch = self.batch_by_code(batch_code).await?;
        if batch.status != BatchStatus::Draft {
            return Err(AppError::invalid(
                "batch",
                format!(
                    "batch {} is {}: only a draft can be changed",
                    batch.code, batch.status
                ),
            ));
        }
        let household = match CodeKind::of_code(household_code) {
            Some(CodeKind::Person) => {
                self.person_by_code(session, household_code)
                    .await?
                    .household
            }
            _ => self.household_by_code(household_code).await?.id,
        };
        let version = batch.version;
        match pin {
            Some(pin) => batch.pins.insert(household, pin),
            None => batch.pins.remove(&household),
        };
        let (report, planned) = self.plan_batch(&batch, policy).await?;
        let events = vec![
            self.new_event(
                session,
                EventBody::BatchPinned {
                    batch: batch.id,
                    household,
                    pin,
                },
            )?,
            self.new_event(session, planned)?,
        ];
        self.commit(Commit {
            events,
            guards: vec![Guard::Version {
                record: RecordRef::Batch(batch.id),
                version,
            }],
            ..Commit::default()
        })
        .await?;
        Ok((self.batch_by_code(&batch.code).await?, report))
    }

    /// Re-plans a draft batch with the people waiting now.
    pub async fn replan_batch(
        &self,
        session: &Session,
        code: &str,
        policy: &Policy,
    ) -> AppResult<(TransferBatch, PlanReport)> {
        session.require(Action::PlanTransfers)?;
        let batch = self.batch_by_code(code).await?;
        if batch.status != BatchStatus::Draft {
            return Err(AppError::invalid(
                "batch",
                format!(
                    "batch {} is {}: only a draft can be planned",
                    batch.code, batch.status
                ),
            ));
        }
        let (report, planned) = self.plan_batch(&batch, policy).await?;
        self.commit(Commit {
            events: vec![self.new_event(session, planned)?],
            guards: vec![Guard::Version {
                record: RecordRef::Batch(batch.id),
                version: batch.version,
            }],
            ..Commit::default()
        })
        .await?;
        Ok((self.batch_by_code(code).await?, report))
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

    /// Confirms, un-confirms (back to draft) or cancels a batch.
    pub async fn set_batch_status(
        &self,
        session: &Session,
        code: &str,
        status: BatchStatus,
    ) -> AppResult<TransferBatch> {
        session.require(Action::PlanTransfers)?;
        let batch = self.batch_by_code(code).await?;
        let mut events = vec![self.new_event(
            session,
            EventBody::BatchStatusChanged {
                batch: batch.id,
                status,
            },
        )?];
        match status {
            BatchStatus::Departed => {
                // Everyone on the manifest leaves for the destination today.
                let today = self.today();
                for person in &batch.manifest {
                    events.push(self.new_event(
                        session,
                        EventBody::PersonMoved {
                            person: *person,
                            to: batch.destination,
                            stage: Stage::Departed,
                            at: today,
                            over_capacity: false,
                        },
                    )?);
                }
            }
            BatchStatus::Completed => {
                let today = self.today();
                let people = self
                    .store
                    .people(&PersonFilter {
                        stages: vec![Stage::Departed],
                        ..PersonFilter::default()
                    })
                    .await?;
                for person in people.iter().filter(|p| batch.manifest.contains(&p.id)) {
                    events.push(self.new_event(
                        session,
                        EventBody::PersonMoved {
                            person: person.id,
                            to: batch.destination,
                            stage: Stage::Arrived,
                            at: today.max(person.since),
                            over_capacity: false,
                        },
                    )?);
                }
            }
            _ => {}
        }
        self.commit(Commit {
            events,
            guards: vec![Guard::Version {
                record: RecordRef::Batch(batch.id),
                version: batch.version,
            }],
            access: vec![self.access_entry(
                &session.user().name,
                AccessAction::Batch,
                &batch.code,
                status.as_str(),
            )],
            ..Commit::default()
        })
        .await?;
        self.batch_by_code(code).await
    }

    /// The printable manifest as CSV: codes; names only with `reveal` (logged).
    pub async fn manifest_csv<W: std::io::Write>(
        &self,
        session: &Session,
        code: &str,
        reveal: bool,
        out: W,
    ) -> AppResult<usize> {
        session.require(Action::ViewBatches)?;
        if reveal {
            session.require(Action::RevealIdentity)?;
        }
        let view = self.show_batch(session, code, &Policy::default()).await?;
        let mut writer = csv::Writer::from_writer(out);
        let io_error = |error: csv::Error| AppError::csv_output("manifest", error);
        let mut header = vec![
            "batch",
            "departure",
            "person",
            "household",
            "from",
            "sex",
            "birth_year",
        ];
        if reveal {
            header.extend(["name", "name_romanized"]);
        }
        let detail = if reveal {
            "manifest with names"
        } else {
            "manifest"
        };
        // Logged before the first row leaves: a manifest cut off midway is still on record.
        self.log(
            &session.user().name,
            AccessAction::Export,
            &view.batch.code,
            &format!("started: {detail}"),
        )
        .await?;
        writer.write_record(&header).map_err(io_error)?;
        for (person_code, household, from) in &view.manifest {
            let Some(person) = self.store.person_by_code(person_code).await? else {
                continue;
            };
            let mut row = vec![
                view.batch.code.clone(),
                view.batch.departure.to_string(),
                person_code.clone(),
                household.clone(),
                from.clone(),
                person.sex.to_string(),
                person.birth_year.map(|y| y.to_string()).unwrap_or_default(),
            ];
            if reveal {
                let identity = self.open_identity(session, &person)?;
                for field in [PersonField::Name, PersonField::NameRomanized] {
                    row.push(
                        identity
                            .iter()
                            .find(|(f, _)| *f == field)
                            .map(|(_, v)| v.as_str().to_string())
                            .unwrap_or_default(),
                    );
                }
            }
            writer
                .write_record(row.iter().map(|cell| spreadsheet_safe(cell).into_owned()))
                .map_err(io_error)?;
        }
        writer.flush().map_err(AppError::Output)?;
        self.log(
            &session.user().name,
            AccessAction::Export,
            &view.batch.code,
            &format!("completed: {detail}"),
        )
        .await?;
        Ok(view.manifest.len())
    }
}
