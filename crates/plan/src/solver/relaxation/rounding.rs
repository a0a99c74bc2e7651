//! Rounding the relaxation's flow to a plan: whole households stay where the flow put them,
//! the others placed by priority, a batch's remaining seats filled by a knapsack.

use super::*;

impl Flow {
    /// Rounds the flow to a plan: whole households stay, the others are placed greedily by
    /// priority (pinned-in first) on the earliest batch with room. None if a pin fails.
    #[allow(clippy::needless_range_loop)] // ranks index several parallel arrays
    #[expect(
        clippy::too_many_lines,
        reason = "to split into named parts, like the use cases around it (issue 11 note)"
    )]
    pub(in crate::solver) fn round(&self, problem: &Problem) -> Option<(f64, Vec<u16>)> {
        let mut assignment = self.fixed.clone();
        let mut spare: Vec<u32> = self.capacity.clone();
        let mut gate_spare: Vec<u32> = self.gate_capacity.clone();
        let mut value = self.fixed_value;
        // Free households not placed whole, in rank order (highest priority first).
        let mut pending = Vec::new();
        for rank in 0..self.served.len() {
            if assignment[rank] != FREE {
                continue;
            }
            let row = &self.units[rank * problem.batches..(rank + 1) * problem.batches];
            let mut holding = row.iter().enumerate().filter(|(_, units)| **units > 0);
            let whole = match (holding.next(), holding.next()) {
                (Some((batch, _)), None) if self.served[rank] == problem.size[rank] => Some(batch),
                _ => None,
            };
            match whole {
                Some(batch) => {
                    let size = u32::from(problem.size[rank]);
                    let gate = problem.gate_of[problem.origin[rank]][batch].unwrap_or(usize::MAX);
                    spare[batch] -= size;
                    gate_spare[gate] -= size;
                    assignment[rank] = batch as u16;
                    value += f64::from(size) * problem.unit_value(rank, batch);
                }
                None => pending.push(rank),
            }
        }
        let mut order: Vec<usize> = (0..problem.batches).collect();
        order.sort_by(|a, b| problem.value_days[*b].total_cmp(&problem.value_days[*a]));
        let allowed = |rank: usize, batch: usize, spare: &[u32], gate_spare: &[u32]| {
            let size = u32::from(problem.size[rank]);
            problem.gate_of[problem.origin[rank]][batch].is_some_and(|gate| {
                spare[batch] >= size
                    && gate_spare[gate] >= size
                    && !self.forbidden[gate].contains(rank)
            })
        };
        let place =
            |rank: usize, batch: usize, state: (&mut [u16], &mut [u32], &mut [u32], &mut f64)| {
                let (assignment, spare, gate_spare, value) = state;
                let size = u32::from(problem.size[rank]);
                let gate = problem.gate_of[problem.origin[rank]][batch].unwrap_or(usize::MAX);
                spare[batch] -= size;
                gate_spare[gate] -= size;
                assignment[rank] = batch as u16;
                *value += f64::from(size) * problem.unit_value(rank, batch);
            };
        // Pinned-in households first, on the earliest batch with room.
        for &rank in pending.iter().filter(|rank| problem.pinned_in[**rank]) {
            match order
                .iter()
                .copied()
                .find(|batch| allowed(rank, *batch, &spare, &gate_spare))
            {
                Some(batch) => place(
                    rank,
                    batch,
                    (&mut assignment, &mut spare, &mut gate_spare, &mut value),
                ),
                None => return None,
            }
        }
        // Then each batch's spare seats, earliest batch first, filled by an exact knapsack over
        // the best pending households that fit (with share caps, greedily instead).
        for &batch in &order {
            if spare[batch] == 0 {
                continue;
            }
            // The best few dozen households that fit are enough for a handful of seats.
            let wanted = (16 + 8 * spare[batch] as usize).min(400);
            let items: Vec<usize> = pending
                .iter()
                .copied()
                .filter(|rank| {
                    assignment[*rank] == FREE && allowed(*rank, batch, &spare, &gate_spare)
                })
                .take(wanted)
                .collect();
            if problem.share_capped {
                for rank in items {
                    if allowed(rank, batch, &spare, &gate_spare) {
                        place(
                            rank,
                            batch,
                            (&mut assignment, &mut spare, &mut gate_spare, &mut value),
                        );
                    }
                }
                continue;
            }
            for rank in knapsack(problem, &items, batch, spare[batch] as usize) {
                place(
                    rank,
                    batch,
                    (&mut assignment, &mut spare, &mut gate_spare, &mut value),
                );
            }
        }
        for &rank in &pending {
            if assignment[rank] == FREE {
                assignment[rank] = OUT;
            }
        }
        Some((value, assignment))
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
