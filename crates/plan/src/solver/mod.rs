//! Exact branch and bound for the batch planning problem.
//!
//! **Relaxation.** Let seat units flow source → household → gate(origin, batch) → batch →
//! sink, each unit of household h on batch b worth `p_h × f_b` (`f_b = end_day − day_b`).
//! Gates carry the per-origin share caps. The linear relaxation (households may split) is a
//! min-cost flow, solved to optimality by cancelling negative cycles. Household nodes are
//! contracted away: within one origin the only household that matters on an arc is the one
//! with the highest or lowest priority, so the cycle search runs on a graph of
//! `2 + batches + gates` nodes whatever the number of households. Every flow value is an
//! integer number of seats, so the relaxation's optimum is a proven upper bound.
//!
//! **Branching.** A household that the relaxation splits or serves in part is branched on,
//! at the batch holding most of it: one child fixes the whole household on that batch, the
//! other bars it from that batch (it may still board another, or none unless pinned in).
//! Children are solved warm from the parent's flow. Depth first, the
//! most promising child first; a node is pruned when its bound cannot beat the incumbent by
//! more than the gap tolerance. Incumbents come from rounding each node's flow: households
//! placed whole are kept, the rest are placed greedily by priority.
//!
//! **Ties** are broken by priority (higher first), then waiting days (longer first), then

mod plan;
mod relaxation;
mod search;

use crate::instance::*;
use plan::{PlanFigures, build_plan};
use relaxation::{Flow, Problem};
use search::{Outcome, branch_and_bound};
use std::collections::BTreeMap;

/// Which batches pick up where: batches by day (then id), origins numbered in order of first
/// appearance, and a gate per (origin, batch) pair carrying that origin's share cap.
struct Layout<'a> {
    batches: Vec<&'a Batch>,
    batch_index: BTreeMap<&'a str, usize>,
    origin_index: BTreeMap<&'a str, usize>,
    /// gate_of[origin][batch].
    gate_of: Vec<Vec<Option<usize>>>,
    /// (origin, batch) of each gate.
    gates: Vec<(usize, usize)>,
    gates_of_origin: Vec<Vec<usize>>,
    /// Seats left on each gate and each batch once pins are placed.
    gate_capacity: Vec<u32>,
    capacity: Vec<u32>,
}

/// The seats one origin may fill on a batch of `seats`.
fn share_cap(policy: &Policy, seats: i64) -> u32 {
    let seats = u32::try_from(seats).unwrap_or(u32::MAX);
    match policy.max_share {
        Some(share) => (f64::from(seats) * share + 1e-9).floor() as u32,
        None => seats,
    }
}

impl<'a> Layout<'a> {
    fn of(instance: &'a Instance) -> Layout<'a> {
        let mut batches: Vec<&Batch> = instance.batches.iter().collect();
        batches.sort_by(|a, b| (a.day, &a.id).cmp(&(b.day, &b.id)));
        let batch_index = batches
            .iter()
            .enumerate()
            .map(|(index, batch)| (batch.id.as_str(), index))
            .collect();
        let mut origin_index: BTreeMap<&str, usize> = BTreeMap::new();
        for batch in &batches {
            for origin in &batch.origins {
                let next = origin_index.len();
                origin_index.entry(origin.as_str()).or_insert(next);
            }
        }
        let origins = origin_index.len();
        let mut gate_of = vec![vec![None; batches.len()]; origins];
        let mut gates = Vec::new();
        let mut gates_of_origin = vec![Vec::new(); origins];
        let mut gate_capacity = Vec::new();
        for (batch_at, batch) in batches.iter().enumerate() {
            for origin in &batch.origins {
                let origin = origin_index[origin.as_str()];
                if gate_of[origin][batch_at].is_none() {
                    gate_of[origin][batch_at] = Some(gates.len());
                    gates_of_origin[origin].push(gates.len());
                    gates.push((origin, batch_at));
                    gate_capacity.push(share_cap(&instance.policy, batch.seats));
                }
            }
        }
        let capacity = batches
            .iter()
            .map(|batch| u32::try_from(batch.seats).unwrap_or(u32::MAX))
            .collect();
        Layout {
            batches,
            batch_index,
            origin_index,
            gate_of,
            gates,
            gates_of_origin,
            gate_capacity,
            capacity,
        }
    }
}

/// Who can be planned at all: decisions already made (pinned out, ineligible, fitting no
/// batch), households pinned onto a batch, and the candidates left for the search.
struct Triage {
    decisions: Vec<Option<Why>>,
    pinned_batch: Vec<(usize, usize)>,
    candidates: Vec<usize>,
}

fn triage(instance: &Instance, layout: &Layout<'_>) -> Result<Triage, PlanError> {
    let mut decisions: Vec<Option<Why>> = vec![None; instance.households.len()];
    let mut pinned_batch: Vec<(usize, usize)> = Vec::new();
    let mut candidates: Vec<usize> = Vec::new();
    for (index, household) in instance.households.iter().enumerate() {
        let origin = layout.origin_index.get(household.origin.as_str()).copied();
        let fits: Vec<usize> = (0..layout.batches.len())
            .filter(|batch| {
                origin.is_some_and(|origin| layout.gate_of[origin][*batch].is_some())
                    && i64::from(share_cap(&instance.policy, layout.batches[*batch].seats))
                        >= household.size
            })
            .collect();
        let unplaceable = if origin.is_none() {
            Some(Why::NoPickup {
                origin: household.origin.clone(),
            })
        } else if fits.is_empty() {
            Some(Why::TooLarge {
                size: household.size,
                origin: household.origin.clone(),
            })
        } else {
            None
        };
        match &household.pin {
            Some(Pin::Out) => {
                decisions[index] = Some(Why::PinnedOut);
                continue;
            }
            Some(Pin::Batch(id)) => {
                let batch = layout.batch_index[id.as_str()];
                if !fits.contains(&batch) {
                    return Err(PlanError::InfeasiblePins(format!(
                        "household {} is pinned to batch {id}, which does not pick up {} people from {}",
                        household.id, household.size, household.origin
                    )));
                }
                pinned_batch.push((index, batch));
                continue;
            }
            Some(Pin::In) => {
                if let Some(reason) = unplaceable {
                    return Err(PlanError::InfeasiblePins(format!(
                        "household {} is pinned in, but {reason}",
                        household.id
                    )));
                }
            }
            None => {}
        }
        if !household.eligible {
            let reason = household
                .ineligible_reason
                .clone()
                .unwrap_or_else(|| "not eligible".into());
            decisions[index] = Some(Why::Ineligible { reason });
        } else if let Some(why) = unplaceable {
            decisions[index] = Some(why);
        } else {
            candidates.push(index);
        }
    }
    Ok(Triage {
        decisions,
        pinned_batch,
        candidates,
    })
}

/// Places the households pinned onto a batch, taking their seats from the layout: their
/// value, and (household, batch) for the manifest.
fn place_pinned(
    instance: &Instance,
    layout: &mut Layout<'_>,
    pinned_batch: &[(usize, usize)],
    priorities: &[PriorityParts],
) -> Result<(f64, Vec<(usize, usize)>), PlanError> {
    let end_day = instance.end_day();
    let mut fixed_value = 0.0;
    let mut fixed_manifest: Vec<(usize, usize)> = Vec::new();
    for (index, batch) in pinned_batch {
        let household = &instance.households[*index];
        let size = u32::try_from(household.size).unwrap_or(u32::MAX);
        let origin = layout.origin_index[household.origin.as_str()];
        let gate = layout.gate_of[origin][*batch].unwrap_or(usize::MAX);
        if layout.capacity[*batch] < size || layout.gate_capacity[gate] < size {
            return Err(PlanError::InfeasiblePins(format!(
                "the households pinned to batch {} need more seats than it has (or than the share of {} allows)",
                layout.batches[*batch].id, household.origin
            )));
        }
        layout.capacity[*batch] -= size;
        layout.gate_capacity[gate] -= size;
        fixed_value += priorities[*index].total
            * household.size as f64
            * (end_day - layout.batches[*batch].day) as f64;
        fixed_manifest.push((*index, *batch));
    }
    Ok((fixed_value, fixed_manifest))
}

/// The search's problem over the candidates, ranked by priority (higher first), then
/// waiting days (longer first), then household id.
fn problem_of(
    instance: &Instance,
    layout: &Layout<'_>,
    candidates: &mut [usize],
    priorities: &[PriorityParts],
) -> Problem {
    candidates.sort_by(|a, b| {
        let (ha, hb) = (&instance.households[*a], &instance.households[*b]);
        priorities[*b]
            .total
            .total_cmp(&priorities[*a].total)
            .then(hb.waiting_days.total_cmp(&ha.waiting_days))
            .then(ha.id.cmp(&hb.id))
    });
    let end_day = instance.end_day();
    let value_days: Vec<f64> = layout
        .batches
        .iter()
        .map(|batch| (end_day - batch.day) as f64)
        .collect();
    let max_unit = candidates
        .iter()
        .map(|index| priorities[*index].total)
        .fold(0.0, f64::max)
        * value_days.iter().copied().fold(0.0, f64::max);
    let household = |index: &usize| &instance.households[*index];
    Problem {
        batches: layout.batches.len(),
        value_days,
        size: candidates
            .iter()
            .map(|index| household(index).size as u16)
            .collect(),
        priority: candidates
            .iter()
            .map(|index| priorities[*index].total)
            .collect(),
        origin: candidates
            .iter()
            .map(|index| layout.origin_index[household(index).origin.as_str()])
            .collect(),
        pinned_in: candidates
            .iter()
            .map(|index| household(index).pin == Some(Pin::In))
            .collect(),
        gates: layout.gates.clone(),
        gate_of: layout.gate_of.clone(),
        gates_of_origin: layout.gates_of_origin.clone(),
        origins: layout.origin_index.len(),
        share_capped: instance.policy.max_share.is_some(),
        epsilon: max_unit.max(1.0) * 1e-12,
    }
}

/// Plans the instance: the optimal manifest (or the best found with its proven gap), and one
/// explanation per household.
pub fn solve(instance: &Instance) -> Result<Plan, PlanError> {
    instance.validate()?;
    let policy = &instance.policy;
    let mut layout = Layout::of(instance);
    let Triage {
        decisions,
        pinned_batch,
        mut candidates,
    } = triage(instance, &layout)?;
    let priorities: Vec<PriorityParts> = instance
        .households
        .iter()
        .map(|household| policy.priority(household))
        .collect();
    let (fixed_value, fixed_manifest) =
        place_pinned(instance, &mut layout, &pinned_batch, &priorities)?;
    let problem = problem_of(instance, &layout, &mut candidates, &priorities);
    let mut root = Flow::new(
        &problem,
        layout.capacity.clone(),
        layout.gate_capacity.clone(),
    );
    root.fixed_value = fixed_value;
    let Outcome {
        incumbent,
        nodes,
        open_bound,
        pruned_bound,
    } = branch_and_bound(&problem, root, policy.gap_tolerance, policy.node_limit);

    let Some((objective, assignment)) = incumbent else {
        let pinned: Vec<&str> = candidates
            .iter()
            .filter(|index| instance.households[**index].pin == Some(Pin::In))
            .map(|index| instance.households[*index].id.as_str())
            .collect();
        return Err(PlanError::InfeasiblePins(format!(
            "households pinned in ({}) cannot all be placed",
            pinned.join(", ")
        )));
    };
    let bound = objective.max(open_bound).max(pruned_bound);
    let gap = if bound > 0.0 {
        ((bound - objective) / bound).max(0.0)
    } else {
        0.0
    };
    Ok(build_plan(
        instance,
        &layout.batches,
        &candidates,
        &assignment,
        &fixed_manifest,
        &priorities,
        decisions,
        PlanFigures {
            objective,
            bound,
            gap,
            nodes,
            end_day: instance.end_day(),
            optimal: gap <= policy.gap_tolerance,
        },
    ))
}
