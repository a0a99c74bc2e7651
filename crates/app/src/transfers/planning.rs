//! Planning: the instance built from the people waiting now, and the planner run within
//! its bounds off the async threads.

use super::{Blocker, PLAN_PATIENCE};
use crate::*;
use refuge_plan::{Instance, Plan, Policy};
use refuge_store::PersonFilter;
use std::collections::{BTreeMap, HashMap};

/// The people present, by household, with each household's code and whether it may be
/// split.
struct Present {
    by_household: BTreeMap<HouseholdId, Vec<Person>>,
    household_codes: HashMap<Uuid, String>,
    split: HashMap<HouseholdId, bool>,
}

impl App {
    /// Builds a planning instance from the people waiting now.
    pub(super) async fn planning_instance(
        &self,
        requests: &[BatchRequest],
        policy: &Policy,
        pins: &BTreeMap<HouseholdId, BatchPin>,
        this_batch: Option<BatchId>,
    ) -> AppResult<(Instance, BTreeMap<String, PlanUnit>)> {
        if requests.len() > MAX_BATCHES_PER_PLAN {
            return Err(AppError::invalid(
                "batches",
                Reason::new("at-most-batches").count("most", MAX_BATCHES_PER_PLAN as u64),
            ));
        }
        if policy.node_limit > MAX_NODE_LIMIT {
            return Err(AppError::invalid(
                "node_limit",
                Reason::new("at-most").count("most", MAX_NODE_LIMIT),
            ));
        }
        let destination = one_destination(requests)?;
        let today = self.today();
        let locations = self.store.locations().await?;
        let code_of: HashMap<LocationId, &str> =
            locations.iter().map(|l| (l.id, l.code.as_str())).collect();
        let batches = self.plan_batches(requests, &locations, today).await?;
        let on_batch = self.people_on_other_batches(this_batch).await?;
        let present = self.present_by_household().await?;
        let mut households = Vec::new();
        let mut units = BTreeMap::new();
        for (household_id, members) in &present.by_household {
            if !members.iter().any(|member| member.stage.is_waiting()) {
                continue;
            }
            let household_code = present
                .household_codes
                .get(&household_id.0)
                .cloned()
                .unwrap_or_default();
            let split = present.split.contains_key(household_id);
            for group in groups(members, split) {
                let code = if group.len() == 1 && split {
                    group[0].code.clone()
                } else {
                    household_code.clone()
                };
                let origin = code_of
                    .get(&group[0].location)
                    .copied()
                    .unwrap_or_default()
                    .to_string();
                let reasons = blockers(&group, policy, &on_batch, destination);
                let waiting_days = group
                    .iter()
                    .filter_map(|member| member.waiting_days(today))
                    .max()
                    .unwrap_or(0);
                let pin = pins.get(household_id).map(planner_pin);
                let unit = PlanUnit {
                    code: code.clone(),
                    household: *household_id,
                    people: group.iter().map(|m| m.id).collect(),
                    person_codes: group.iter().map(|m| m.code.clone()).collect(),
                    origin,
                    blockers: reasons,
                };
                households.push(planned_household(&group, &unit, waiting_days, pin));
                units.insert(code, unit);
            }
        }
        leave_out_too_large(&mut households, &batches);
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

    /// The requested batches as the planner takes them: each departing today or later with 1
    /// to `MAX_BATCH_SEATS` seats, from its origins (by default every shelter and detention
    /// centre).
    async fn plan_batches(
        &self,
        requests: &[BatchRequest],
        locations: &[Location],
        today: Date,
    ) -> AppResult<Vec<refuge_plan::Batch>> {
        let waiting_places: Vec<String> = locations
            .iter()
            .filter(|l| matches!(l.kind, LocationKind::Shelter | LocationKind::Detention))
            .map(|l| l.code.clone())
            .collect();
        let mut batches = Vec::new();
        for (index, request) in requests.iter().enumerate() {
            if request.date < today {
                return Err(AppError::invalid(
                    "date",
                    Reason::new("batch-departure-in-the-past").with("batch", &request.label),
                ));
            }
            if !(1..=MAX_BATCH_SEATS).contains(&request.seats) {
                return Err(AppError::invalid(
                    "seats",
                    Reason::new("batch-seats-between")
                        .with("batch", &request.label)
                        .count("most", MAX_BATCH_SEATS.into()),
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
        Ok(batches)
    }

    /// People already on another live batch are spoken for: person to that batch's code.
    async fn people_on_other_batches(
        &self,
        this_batch: Option<BatchId>,
    ) -> AppResult<HashMap<PersonId, String>> {
        let mut on_batch = HashMap::new();
        for batch in self.store.batches().await? {
            if Some(batch.id) != this_batch
                && matches!(batch.status, BatchStatus::Draft | BatchStatus::Confirmed)
            {
                for person in &batch.manifest {
                    on_batch.insert(*person, batch.code.clone());
                }
            }
        }
        Ok(on_batch)
    }

    /// Everyone on the way (hiding, in transit, sheltered, detained), by household.
    async fn present_by_household(&self) -> AppResult<Present> {
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
        let mut split = HashMap::new();
        for id in by_household.keys() {
            if let Some(household) = self.store.household(*id).await?
                && household.split_allowed
            {
                split.insert(*id, true);
            }
        }
        Ok(Present {
            by_household,
            household_codes,
            split,
        })
    }

    /// Runs the planner within its bounds (`MAX_NODE_LIMIT`, checked when the instance is
    /// built), on a blocking thread so that the async threads keep answering others, and only
    /// while fewer than `MAX_RUNNING_PLANS` plans run (waiting up to `PLAN_PATIENCE` for a
    /// turn).
    pub(super) async fn solve(&self, instance: &Instance) -> AppResult<Plan> {
        let _slot = self.running_plans.take_within(PLAN_PATIENCE).await?;
        let instance = instance.clone();
        tokio::task::spawn_blocking(move || refuge_plan::solve(&instance))
            .await
            // A panic in the planner is re-raised as it was (no value is added to it).
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic.into_panic()))
            .map_err(|error| match error {
                // The planner's own words (it is pure and speaks the CLI's English); the app
                // checks every bound a form can reach before the planner sees it.
                refuge_plan::PlanError::Invalid { field, reason } => {
                    AppError::invalid(field, Reason::new("plan-instance").with("detail", reason))
                }
                refuge_plan::PlanError::InfeasiblePins(reason) => AppError::invalid(
                    "pins",
                    Reason::new("pins-infeasible").with("detail", reason),
                ),
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

    /// Plans a draft batch and returns the event that records its manifest.
    pub(super) async fn plan_batch(
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
}

/// Why a group cannot travel now: a member not waiting, on hold, not ready (unless the
/// policy allows it), on another batch, or the group at different places.
fn blockers(
    group: &[&Person],
    policy: &Policy,
    on_batch: &HashMap<PersonId, String>,
    destination: Option<&str>,
) -> Vec<Blocker> {
    let mut reasons = Vec::new();
    for member in group {
        let person = || member.code.clone();
        if !member.stage.is_waiting() {
            reasons.push(Blocker::NotWaiting {
                person: person(),
                stage: member.stage,
            });
        }
        if let Some(reason) = member.hold {
            reasons.push(Blocker::OnHold {
                person: person(),
                reason,
            });
        }
        let ready = member.documents_ready && member.screening_done;
        if !(policy.allow_not_ready || ready) {
            reasons.push(Blocker::NotReady { person: person() });
        }
        if let Some(other) = on_batch.get(&member.id) {
            reasons.push(Blocker::OnBatch {
                person: person(),
                batch: other.to_string(),
            });
        }
        if member.location != group[0].location {
            reasons.push(Blocker::ApartLocations);
        }
        // Someone not asked yet travels as before wishes were recorded.
        if let Some(wish) = member.wish {
            let goes_where_wanted = match destination {
                Some(country) => wish.allows(country),
                None => wish.country().is_some(),
            };
            if !goes_where_wanted {
                reasons.push(Blocker::WantsElsewhere {
                    person: person(),
                    wish,
                    destination: destination.map(str::to_string),
                });
            }
        }
    }
    reasons.dedup();
    reasons
}

/// The one country the requested batches go to (`None`: none given). Wishes make a
/// household eligible per destination, so one plan fills batches to one country.
fn one_destination(requests: &[BatchRequest]) -> AppResult<Option<&str>> {
    let mut countries = requests
        .iter()
        .filter_map(|request| request.destination.as_deref());
    let first = countries.next();
    if let Some(other) = countries.find(|country| Some(*country) != first) {
        return Err(AppError::invalid(
            "destination",
            Reason::new("one-destination-per-plan")
                .with("first", first.unwrap_or_default())
                .with("other", other),
        ));
    }
    Ok(first)
}

/// A group as the planner sees it: its size, origin, wait, flags, eligibility and pin.
fn planned_household(
    group: &[&Person],
    unit: &PlanUnit,
    waiting_days: i64,
    pin: Option<refuge_plan::Pin>,
) -> refuge_plan::Household {
    let reasons = &unit.blockers;
    refuge_plan::Household {
        id: unit.code.clone(),
        size: group.len() as i64,
        origin: unit.origin.clone(),
        waiting_days: waiting_days as f64,
        flags: group.iter().flat_map(|m| m.flags.iter().copied()).collect(),
        eligible: reasons.is_empty(),
        ineligible_reason: (!reasons.is_empty()).then(|| {
            reasons
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        }),
        priority: None,
        pin,
    }
}

/// Households too large for any batch are explained, not an error, when planning from the
/// database; the planner never sees them.
fn leave_out_too_large(
    households: &mut Vec<refuge_plan::Household>,
    batches: &[refuge_plan::Batch],
) {
    let largest = batches.iter().map(|b| b.seats).max().unwrap_or(0);
    for household in households.iter_mut() {
        if household.size > largest && household.eligible {
            household.eligible = false;
            household.ineligible_reason =
                Some(format!("{} people do not fit on any batch", household.size));
        }
    }
    households.retain(|household| household.size <= largest);
}

fn planner_pin(pin: &BatchPin) -> refuge_plan::Pin {
    match pin {
        BatchPin::In => refuge_plan::Pin::In,
        BatchPin::Out => refuge_plan::Pin::Out,
    }
}

/// How a household travels: whole, or (when it may split) as its waiting members one by one.
fn groups(members: &[Person], split: bool) -> Vec<Vec<&Person>> {
    if split {
        members
            .iter()
            .filter(|m| m.stage.is_waiting())
            .map(|m| vec![m])
            .collect()
    } else {
        vec![members.iter().collect()]
    }
}
