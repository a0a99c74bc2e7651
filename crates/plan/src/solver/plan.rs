//! The plan from the search's assignment: manifests, figures and one explanation per
//! household.

use super::relaxation::{FREE, OUT};
use crate::instance::*;

pub(super) struct PlanFigures {
    pub(super) objective: f64,
    pub(super) bound: f64,
    pub(super) gap: f64,
    pub(super) nodes: u64,
    pub(super) end_day: i64,
    pub(super) optimal: bool,
}

#[allow(clippy::too_many_arguments)]
pub(super) fn build_plan(
    instance: &Instance,
    batches: &[&Batch],
    candidates: &[usize],
    assignment: &[u16],
    fixed_manifest: &[(usize, usize)],
    priorities: &[PriorityParts],
    mut decisions: Vec<Option<Why>>,
    figures: PlanFigures,
) -> Plan {
    let manifest = manifests(
        instance,
        batches.len(),
        candidates,
        assignment,
        fixed_manifest,
        priorities,
    );
    let used: Vec<i64> = manifest
        .iter()
        .map(|list| {
            list.iter()
                .map(|index| instance.households[*index].size)
                .sum()
        })
        .collect();
    for (batch, list) in manifest.iter().enumerate() {
        for index in list {
            let pinned = matches!(
                instance.households[*index].pin,
                Some(Pin::Batch(_)) | Some(Pin::In)
            );
            decisions[*index] = Some(Why::Chosen {
                batch: batches[batch].id.clone(),
                day: batches[batch].day,
                pinned,
                priority: priorities[*index].clone(),
            });
        }
    }
    // Why each candidate left behind was left behind.
    for index in candidates {
        if decisions[*index].is_none() {
            decisions[*index] = Some(outranked(
                instance, batches, &manifest, &used, priorities, *index,
            ));
        }
    }
    let explanations = instance
        .households
        .iter()
        .enumerate()
        .map(|(index, household)| Explanation {
            household: household.id.clone(),
            size: household.size,
            origin: household.origin.clone(),
            priority: priorities[index].clone(),
            decision: decisions[index]
                .as_ref()
                .unwrap_or(&Why::NotPlaced)
                .decision(),
            why: decisions[index].clone().unwrap_or(Why::NotPlaced),
        })
        .collect();
    Plan {
        batches: batches
            .iter()
            .enumerate()
            .map(|(batch, spec)| PlannedBatch {
                id: spec.id.clone(),
                day: spec.day,
                seats: spec.seats,
                used: used[batch],
                households: manifest[batch]
                    .iter()
                    .map(|index| instance.households[*index].id.clone())
                    .collect(),
            })
            .collect(),
        objective: figures.objective,
        bound: figures.bound,
        gap: figures.gap,
        optimal: figures.optimal,
        nodes: figures.nodes,
        end_day: figures.end_day,
        explanations,
    }
}

/// The households on each batch (the pinned ones first placed, then the search's), highest
/// priority first.
fn manifests(
    instance: &Instance,
    batch_count: usize,
    candidates: &[usize],
    assignment: &[u16],
    fixed_manifest: &[(usize, usize)],
    priorities: &[PriorityParts],
) -> Vec<Vec<usize>> {
    let mut manifest: Vec<Vec<usize>> = vec![Vec::new(); batch_count];
    for (index, batch) in fixed_manifest {
        manifest[*batch].push(*index);
    }
    for (rank, batch) in assignment.iter().enumerate() {
        if *batch != OUT && *batch != FREE {
            manifest[usize::from(*batch)].push(candidates[rank]);
        }
    }
    for list in &mut manifest {
        list.sort_by(|a, b| {
            priorities[*b]
                .total
                .total_cmp(&priorities[*a].total)
                .then_with(|| instance.households[*a].id.cmp(&instance.households[*b].id))
        });
    }
    manifest
}

/// Why a candidate was left behind: the batches it could board were full of households that
/// rank above it, or had too few seats left.
fn outranked(
    instance: &Instance,
    batches: &[&Batch],
    manifest: &[Vec<usize>],
    used: &[i64],
    priorities: &[PriorityParts],
    index: usize,
) -> Why {
    let household = &instance.households[index];
    let mut rooms = Vec::new();
    for (batch, spec) in batches.iter().enumerate() {
        if !spec.origins.contains(&household.origin) {
            continue;
        }
        let spare = spec.seats - used[batch];
        let cutoff = manifest[batch]
            .iter()
            .map(|other| priorities[*other].total)
            .fold(f64::INFINITY, f64::min);
        rooms.push(BatchRoom {
            batch: spec.id.clone(),
            spare,
            seats: spec.seats,
            share_used_up: spare >= household.size,
            lowest_selected: cutoff.is_finite().then_some(cutoff),
        });
    }
    Why::Outranked {
        priority: priorities[index].total,
        size: household.size,
        batches: rooms,
    }
}
