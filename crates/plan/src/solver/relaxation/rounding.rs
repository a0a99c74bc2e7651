//! Rounding the relaxation's flow to a plan: whole households stay where the flow put them,
//! the others placed by priority, a batch's remaining seats filled by a knapsack.

use super::*;

/// A plan being rounded: who goes where, the seats and gate places left, its value.
struct Rounding {
    assignment: Vec<u16>,
    spare: Vec<u32>,
    gate_spare: Vec<u32>,
    value: f64,
}

impl Rounding {
    /// Whether `rank` fits on `batch` now: a gate from its origin, seats on the batch and the
    /// gate, and the gate not barred to it.
    fn allows(&self, flow: &Flow, problem: &Problem, rank: usize, batch: usize) -> bool {
        let size = u32::from(problem.size[rank]);
        problem.gate_of[problem.origin[rank]][batch].is_some_and(|gate| {
            self.spare[batch] >= size
                && self.gate_spare[gate] >= size
                && !flow.forbidden[gate].contains(rank)
        })
    }

    fn place(&mut self, problem: &Problem, rank: usize, batch: usize) {
        let size = u32::from(problem.size[rank]);
        let gate = problem.gate_of[problem.origin[rank]][batch].unwrap_or(usize::MAX);
        self.spare[batch] -= size;
        self.gate_spare[gate] -= size;
        self.assignment[rank] = batch as u16;
        self.value += f64::from(size) * problem.unit_value(rank, batch);
    }
}

impl Flow {
    /// Rounds the flow to a plan: whole households stay, the others are placed greedily by
    /// priority (pinned-in first) on the earliest batch with room. None if a pin fails.
    pub(in crate::solver) fn round(&self, problem: &Problem) -> Option<(f64, Vec<u16>)> {
        let mut rounding = Rounding {
            assignment: self.fixed.clone(),
            spare: self.capacity.clone(),
            gate_spare: self.gate_capacity.clone(),
            value: self.fixed_value,
        };
        let pending = self.place_whole(problem, &mut rounding);
        let mut order: Vec<usize> = (0..problem.batches).collect();
        order.sort_by(|a, b| problem.value_days[*b].total_cmp(&problem.value_days[*a]));
        // Pinned-in households first, on the earliest batch with room.
        for &rank in pending.iter().filter(|rank| problem.pinned_in[**rank]) {
            let batch = order
                .iter()
                .copied()
                .find(|batch| rounding.allows(self, problem, rank, *batch))?;
            rounding.place(problem, rank, batch);
        }
        for &batch in &order {
            self.fill(problem, batch, &pending, &mut rounding);
        }
        for &rank in &pending {
            if rounding.assignment[rank] == FREE {
                rounding.assignment[rank] = OUT;
            }
        }
        Some((rounding.value, rounding.assignment))
    }

    /// Places the free households the flow holds whole on one batch there; returns the others
    /// (not placed whole), in rank order (highest priority first).
    #[allow(clippy::needless_range_loop)] // ranks index several parallel arrays
    fn place_whole(&self, problem: &Problem, rounding: &mut Rounding) -> Vec<usize> {
        let mut pending = Vec::new();
        for rank in 0..self.served.len() {
            if rounding.assignment[rank] != FREE {
                continue;
            }
            let row = &self.units[rank * problem.batches..(rank + 1) * problem.batches];
            let mut holding = row.iter().enumerate().filter(|(_, units)| **units > 0);
            match (holding.next(), holding.next()) {
                (Some((batch, _)), None) if self.served[rank] == problem.size[rank] => {
                    rounding.place(problem, rank, batch);
                }
                _ => pending.push(rank),
            }
        }
        pending
    }

    /// A batch's spare seats filled by an exact knapsack over the best pending households that
    /// fit (with share caps, greedily instead).
    fn fill(&self, problem: &Problem, batch: usize, pending: &[usize], rounding: &mut Rounding) {
        if rounding.spare[batch] == 0 {
            return;
        }
        // The best few dozen households that fit are enough for a handful of seats.
        let wanted = (16 + 8 * rounding.spare[batch] as usize).min(400);
        let items: Vec<usize> = pending
            .iter()
            .copied()
            .filter(|rank| {
                rounding.assignment[*rank] == FREE && rounding.allows(self, problem, *rank, batch)
            })
            .take(wanted)
            .collect();
        if problem.share_capped {
            for rank in items {
                if rounding.allows(self, problem, rank, batch) {
                    rounding.place(problem, rank, batch);
                }
            }
            return;
        }
        // No subset of the items needs more seats than they hold together.
        let held: usize = items
            .iter()
            .map(|rank| usize::from(problem.size[*rank]))
            .sum();
        let capacity = (rounding.spare[batch] as usize).min(held);
        for rank in knapsack(problem, &items, batch, capacity) {
            rounding.place(problem, rank, batch);
        }
    }
}

/// The most valuable subset of `items` (by rank) that fits `capacity` seats on `batch`.
fn knapsack(problem: &Problem, items: &[usize], batch: usize, capacity: usize) -> Vec<usize> {
    let mut best = vec![0.0f64; capacity + 1];
    let mut take = vec![false; items.len() * (capacity + 1)];
    for (index, rank) in items.iter().enumerate() {
        let size = usize::from(problem.size[*rank]);
        let worth = f64::from(problem.size[*rank]) * problem.unit_value(*rank, batch);
        for seats in (size..=capacity).rev() {
            let with = best[seats - size] + worth;
            if with > best[seats] {
                best[seats] = with;
                take[index * (capacity + 1) + seats] = true;
            }
        }
    }
    let mut chosen = Vec::new();
    let mut seats = capacity;
    for (index, rank) in items.iter().enumerate().rev() {
        if take[index * (capacity + 1) + seats] {
            chosen.push(*rank);
            seats -= usize::from(problem.size[*rank]);
        }
    }
    chosen
}
