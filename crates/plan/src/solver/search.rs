//! Branch and bound over the relaxation: depth first, the most promising child first, a
//! node pruned when its bound cannot beat the incumbent by more than the tolerance.

use super::relaxation::{FREE, Flow, OUT, Problem};

/// What the search found: the best plan (value, batch per candidate rank), and what bounds
/// the optimum.
pub(super) struct Outcome {
    pub(super) incumbent: Option<(f64, Vec<u16>)>,
    pub(super) nodes: u64,
    /// The largest bound of a node left open at the node limit.
    pub(super) open_bound: f64,
    /// The largest bound of a node pruned within the tolerance: the bound stays honest.
    pub(super) pruned_bound: f64,
}

/// Searches from a greedy start and the relaxation's optimum at the root, within
/// `node_limit` nodes; a gap within `gap_tolerance` (relative to the root bound) is optimal.
#[expect(
    clippy::too_many_lines,
    reason = "the planner's search loop, kept whole so its invariants read in one place"
)]
pub(super) fn branch_and_bound(
    problem: &Problem,
    mut root: Flow,
    gap_tolerance: f64,
    node_limit: u64,
) -> Outcome {
    let greedy = root.round(problem);
    if let Some((_, assignment)) = &greedy {
        for (rank, batch) in assignment.iter().enumerate() {
            if *batch != OUT && *batch != FREE {
                let batch = usize::from(*batch);
                let units = i32::from(problem.size[rank]);
                root.shift(problem, rank, batch, units);
                let gate = problem.gate_of[problem.origin[rank]][batch].unwrap_or(usize::MAX);
                root.gate_flow[gate] += units as u32;
                root.load[batch] += units as u32;
            }
        }
    }
    root.optimize(problem);
    let root_bound = root.value();
    let tolerance = gap_tolerance * root_bound.abs().max(1.0);
    let mut incumbent: Option<(f64, Vec<u16>)> = greedy;
    if let Some(rounded) = root.round(problem)
        && incumbent
            .as_ref()
            .is_none_or(|(value, _)| rounded.0 > *value)
    {
        incumbent = Some(rounded);
    }

    let mut stack: Vec<(f64, Flow)> = vec![(root_bound, root)];
    let mut nodes = 0u64;
    let mut open_bound = f64::NEG_INFINITY;
    // The largest bound of a node pruned within the tolerance: the bound stays honest.
    let mut pruned_bound = f64::NEG_INFINITY;
    while let Some((bound, flow)) = stack.pop() {
        let best = incumbent
            .as_ref()
            .map_or(f64::NEG_INFINITY, |(value, _)| *value);
        if bound <= best + tolerance {
            pruned_bound = pruned_bound.max(bound);
            continue;
        }
        if nodes >= node_limit {
            open_bound = open_bound.max(bound);
            for (bound, _) in &stack {
                open_bound = open_bound.max(*bound);
            }
            break;
        }
        nodes += 1;
        let Some(rank) = flow.branching_household(problem) else {
            // Integral (every pinned-in household placed whole): a plan.
            if let Some(rounded) = flow.round(problem)
                && rounded.0 > best
            {
                incumbent = Some(rounded);
            }
            continue;
        };
        // Two children: the household on its batch, or barred from that batch.
        let Some(batch) = flow.branching_batch(problem, rank) else {
            continue;
        };
        let mut children = Vec::new();
        for on_batch in [true, false] {
            let mut child = flow.clone();
            let feasible = if on_batch {
                child.fix(problem, rank, Some(batch))
            } else {
                child.forbid(problem, rank, batch)
            };
            if !feasible {
                continue;
            }
            child.optimize(problem);
            let child_bound = child.value().min(bound);
            let best = incumbent
                .as_ref()
                .map_or(f64::NEG_INFINITY, |(value, _)| *value);
            if child_bound <= best + tolerance {
                pruned_bound = pruned_bound.max(child_bound);
                continue;
            }
            if let Some(rounded) = child.round(problem)
                && rounded.0 > best
            {
                incumbent = Some(rounded);
            }
            children.push((child_bound, child));
        }
        // Best child on top of the stack.
        children.sort_by(|a, b| a.0.total_cmp(&b.0));
        stack.extend(children);
    }

    Outcome {
        incumbent,
        nodes,
        open_bound,
        pruned_bound,
    }
}
