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
//! household id (ascending): the same instance always gives the same plan.

use crate::instance::*;
use std::collections::BTreeMap;

const FREE: u16 = u16::MAX;
const OUT: u16 = u16::MAX - 1;

/// A fixed-size bit set over candidate ranks, cheap to clone.
#[derive(Clone)]
struct Bits(Vec<u64>);

impl Bits {
    fn new(len: usize) -> Self {
        Bits(vec![0; len.div_ceil(64)])
    }
    fn insert(&mut self, index: usize) {
        self.0[index / 64] |= 1 << (index % 64);
    }
    fn remove(&mut self, index: usize) {
        self.0[index / 64] &= !(1 << (index % 64));
    }
    fn first(&self) -> Option<usize> {
        self.0
            .iter()
            .enumerate()
            .find(|(_, word)| **word != 0)
            .map(|(at, word)| at * 64 + word.trailing_zeros() as usize)
    }
    /// The first member not in `mask`.
    fn first_without(&self, mask: &Bits) -> Option<usize> {
        self.0
            .iter()
            .zip(&mask.0)
            .enumerate()
            .find(|(_, (word, masked))| **word & !**masked != 0)
            .map(|(at, (word, masked))| at * 64 + (word & !masked).trailing_zeros() as usize)
    }
    /// The last member not in `mask`.
    fn last_without(&self, mask: &Bits) -> Option<usize> {
        self.0
            .iter()
            .zip(&mask.0)
            .enumerate()
            .rev()
            .find(|(_, (word, masked))| **word & !**masked != 0)
            .map(|(at, (word, masked))| at * 64 + 63 - (word & !masked).leading_zeros() as usize)
    }
    fn contains(&self, index: usize) -> bool {
        self.0[index / 64] & (1 << (index % 64)) != 0
    }
    fn last(&self) -> Option<usize> {
        self.0
            .iter()
            .enumerate()
            .rev()
            .find(|(_, word)| **word != 0)
            .map(|(at, word)| at * 64 + 63 - word.leading_zeros() as usize)
    }
}

/// The immutable part of a problem, indexed by candidate rank (0 = highest priority).
struct Problem {
    batches: usize,
    /// `end_day − day` of each batch (batches sorted by day, then id).
    value_days: Vec<f64>,
    size: Vec<u16>,
    priority: Vec<f64>,
    origin: Vec<usize>,
    pinned_in: Vec<bool>,
    /// (origin, batch) of each gate.
    gates: Vec<(usize, usize)>,
    /// gate_of[origin][batch].
    gate_of: Vec<Vec<Option<usize>>>,
    gates_of_origin: Vec<Vec<usize>>,
    origins: usize,
    /// Whether per-origin share caps apply.
    share_capped: bool,
    /// Cycles cheaper than this are treated as zero (floating-point noise).
    epsilon: f64,
}

/// A relaxation state: a flow of seat units, and the households fixed so far.
#[derive(Clone)]
struct Flow {
    /// Units of each household on each batch: units[rank * batches + batch].
    units: Vec<u16>,
    served: Vec<u16>,
    /// FREE, OUT or the batch a household is fixed on.
    fixed: Vec<u16>,
    load: Vec<u32>,
    capacity: Vec<u32>,
    gate_flow: Vec<u32>,
    gate_capacity: Vec<u32>,
    /// Free households with unserved units, per origin.
    unserved: Vec<Bits>,
    /// Free households with units on each gate.
    on_gate: Vec<Bits>,
    /// Free households barred from each gate's batch by branching.
    forbidden: Vec<Bits>,
    /// Value of the fixed households.
    fixed_value: f64,
    /// Value of the units in the flow, kept up to date by `shift`.
    flow_value: f64,
}

#[derive(Clone, Copy, Debug)]
enum ArcKind {
    Enter {
        gate: usize,
        rank: usize,
    },
    Leave {
        gate: usize,
        rank: usize,
    },
    Move {
        from: usize,
        to: usize,
        rank: usize,
    },
    GateForward(usize),
    GateBack(usize),
    BatchForward(usize),
    BatchBack(usize),
    Return,
    /// Undoes return flow: with it a cycle may drop a unit to make room for a better one.
    ReturnBack,
}

#[derive(Clone, Copy, Debug)]
struct Arc {
    from: usize,
    to: usize,
    cost: f64,
    capacity: u32,
    kind: ArcKind,
}

const SOURCE: usize = 0;
const SINK: usize = 1;

impl Problem {
    fn batch_node(&self, batch: usize) -> usize {
        2 + batch
    }
    fn gate_node(&self, gate: usize) -> usize {
        2 + self.batches + gate
    }
    fn nodes(&self) -> usize {
        2 + self.batches + self.gates.len()
    }
    fn unit_value(&self, rank: usize, batch: usize) -> f64 {
        self.priority[rank] * self.value_days[batch]
    }
}

impl Flow {
    fn new(problem: &Problem, capacity: Vec<u32>, gate_capacity: Vec<u32>) -> Self {
        let candidates = problem.size.len();
        let mut unserved = vec![Bits::new(candidates); problem.origins];
        for rank in 0..candidates {
            unserved[problem.origin[rank]].insert(rank);
        }
        Flow {
            units: vec![0; candidates * problem.batches],
            served: vec![0; candidates],
            fixed: vec![FREE; candidates],
            load: vec![0; problem.batches],
            capacity,
            gate_flow: vec![0; problem.gates.len()],
            gate_capacity,
            unserved,
            on_gate: vec![Bits::new(candidates); problem.gates.len()],
            forbidden: vec![Bits::new(candidates); problem.gates.len()],
            fixed_value: 0.0,
            flow_value: 0.0,
        }
    }

    fn value(&self) -> f64 {
        self.fixed_value + self.flow_value
    }

    /// Adds (or with negative `delta`, removes) units of a free household on a batch.
    fn shift(&mut self, problem: &Problem, rank: usize, batch: usize, delta: i32) {
        let slot = rank * problem.batches + batch;
        let gate = problem.gate_of[problem.origin[rank]][batch].unwrap_or(usize::MAX);
        let units = (i32::from(self.units[slot]) + delta) as u16;
        self.flow_value += f64::from(delta) * problem.unit_value(rank, batch);
        self.units[slot] = units;
        self.served[rank] = (i32::from(self.served[rank]) + delta) as u16;
        if units == 0 {
            self.on_gate[gate].remove(rank);
        } else {
            self.on_gate[gate].insert(rank);
        }
        if self.served[rank] < problem.size[rank] {
            self.unserved[problem.origin[rank]].insert(rank);
        } else {
            self.unserved[problem.origin[rank]].remove(rank);
        }
    }

    fn arcs(&self, problem: &Problem) -> Vec<Arc> {
        let mut arcs = Vec::with_capacity(problem.gates.len() * 8 + problem.batches * 2 + 1);
        for (gate, &(origin, batch)) in problem.gates.iter().enumerate() {
            let node = problem.gate_node(gate);
            if let Some(rank) = self.unserved[origin].first_without(&self.forbidden[gate]) {
                arcs.push(Arc {
                    from: SOURCE,
                    to: node,
                    cost: -problem.unit_value(rank, batch),
                    capacity: u32::from(problem.size[rank] - self.served[rank]),
                    kind: ArcKind::Enter { gate, rank },
                });
            }
            if let (Some(lowest), Some(highest)) =
                (self.on_gate[gate].last(), self.on_gate[gate].first())
            {
                arcs.push(Arc {
                    from: node,
                    to: SOURCE,
                    cost: problem.unit_value(lowest, batch),
                    capacity: u32::from(self.units[lowest * problem.batches + batch]),
                    kind: ArcKind::Leave { gate, rank: lowest },
                });
                for &other in &problem.gates_of_origin[origin] {
                    if other == gate {
                        continue;
                    }
                    let target = problem.gates[other].1;
                    let loss = problem.value_days[batch] - problem.value_days[target];
                    // Moving a unit later loses value: move the least valuable; moving it
                    // earlier gains: move the most valuable. Never onto a barred batch.
                    let barred = &self.forbidden[other];
                    let rank = if loss >= 0.0 {
                        if barred.contains(lowest) {
                            self.on_gate[gate].last_without(barred)
                        } else {
                            Some(lowest)
                        }
                    } else if barred.contains(highest) {
                        self.on_gate[gate].first_without(barred)
                    } else {
                        Some(highest)
                    };
                    let Some(rank) = rank else { continue };
                    arcs.push(Arc {
                        from: node,
                        to: problem.gate_node(other),
                        cost: problem.priority[rank] * loss,
                        capacity: u32::from(self.units[rank * problem.batches + batch]),
                        kind: ArcKind::Move {
                            from: gate,
                            to: other,
                            rank,
                        },
                    });
                }
            }
            if self.gate_flow[gate] < self.gate_capacity[gate] {
                arcs.push(Arc {
                    from: node,
                    to: problem.batch_node(batch),
                    cost: 0.0,
                    capacity: self.gate_capacity[gate] - self.gate_flow[gate],
                    kind: ArcKind::GateForward(gate),
                });
            }
            if self.gate_flow[gate] > 0 {
                arcs.push(Arc {
                    from: problem.batch_node(batch),
                    to: node,
                    cost: 0.0,
                    capacity: self.gate_flow[gate],
                    kind: ArcKind::GateBack(gate),
                });
            }
        }
        for batch in 0..problem.batches {
            if self.load[batch] < self.capacity[batch] {
                arcs.push(Arc {
                    from: problem.batch_node(batch),
                    to: SINK,
                    cost: 0.0,
                    capacity: self.capacity[batch] - self.load[batch],
                    kind: ArcKind::BatchForward(batch),
                });
            }
            if self.load[batch] > 0 {
                arcs.push(Arc {
                    from: SINK,
                    to: problem.batch_node(batch),
                    cost: 0.0,
                    capacity: self.load[batch],
                    kind: ArcKind::BatchBack(batch),
                });
            }
        }
        arcs.push(Arc {
            from: SINK,
            to: SOURCE,
            cost: 0.0,
            capacity: u32::MAX,
            kind: ArcKind::Return,
        });
        let served: u32 = self.load.iter().sum();
        if served > 0 {
            arcs.push(Arc {
                from: SOURCE,
                to: SINK,
                cost: 0.0,
                capacity: served,
                kind: ArcKind::ReturnBack,
            });
        }
        arcs
    }

    fn apply(&mut self, problem: &Problem, cycle: &[Arc]) {
        let amount = cycle.iter().map(|arc| arc.capacity).min().unwrap_or(0);
        let delta = amount as i32;
        for arc in cycle {
            match arc.kind {
                ArcKind::Enter { gate, rank } => {
                    self.shift(problem, rank, problem.gates[gate].1, delta)
                }
                ArcKind::Leave { gate, rank } => {
                    self.shift(problem, rank, problem.gates[gate].1, -delta)
                }
                ArcKind::Move { from, to, rank } => {
                    self.shift(problem, rank, problem.gates[from].1, -delta);
                    self.shift(problem, rank, problem.gates[to].1, delta);
                }
                ArcKind::GateForward(gate) => self.gate_flow[gate] += amount,
                ArcKind::GateBack(gate) => self.gate_flow[gate] -= amount,
                ArcKind::BatchForward(batch) => self.load[batch] += amount,
                ArcKind::BatchBack(batch) => self.load[batch] -= amount,
                ArcKind::Return | ArcKind::ReturnBack => {}
            }
        }
    }

    /// Cancels negative cycles until none is left: the relaxation's optimum.
    fn optimize(&mut self, problem: &Problem) {
        loop {
            let arcs = self.arcs(problem);
            match negative_cycle(problem.nodes(), &arcs, problem.epsilon) {
                Some(cycle) => self.apply(problem, &cycle),
                None => return,
            }
        }
    }

    /// Takes every unit of a free household out of the flow.
    fn clear(&mut self, problem: &Problem, rank: usize) {
        for batch in 0..problem.batches {
            let units = self.units[rank * problem.batches + batch];
            if units > 0 {
                self.shift(problem, rank, batch, -i32::from(units));
                let gate = problem.gate_of[problem.origin[rank]][batch].unwrap_or(usize::MAX);
                self.gate_flow[gate] -= u32::from(units);
                self.load[batch] -= u32::from(units);
            }
        }
    }

    /// Removes the least valuable units on a batch (or one gate of it) until it fits.
    fn evict(&mut self, problem: &Problem, batch: usize) {
        while self.load[batch] > self.capacity[batch]
            || problem.gates.iter().enumerate().any(|(gate, &(_, at))| {
                at == batch && self.gate_flow[gate] > self.gate_capacity[gate]
            })
        {
            let over_batch = self.load[batch] > self.capacity[batch];
            let victim = problem
                .gates
                .iter()
                .enumerate()
                .filter(|(gate, (_, at))| {
                    *at == batch
                        && (over_batch || self.gate_flow[*gate] > self.gate_capacity[*gate])
                })
                .filter_map(|(gate, _)| self.on_gate[gate].last().map(|rank| (rank, gate)))
                .max();
            let Some((rank, gate)) = victim else { return };
            self.shift(problem, rank, batch, -1);
            self.gate_flow[gate] -= 1;
            self.load[batch] -= 1;
        }
    }

    /// Fixes a free household on a batch, or out. False if it cannot fit.
    fn fix(&mut self, problem: &Problem, rank: usize, batch: Option<usize>) -> bool {
        self.clear(problem, rank);
        self.unserved[problem.origin[rank]].remove(rank);
        match batch {
            None => self.fixed[rank] = OUT,
            Some(batch) => {
                let size = u32::from(problem.size[rank]);
                let Some(gate) = problem.gate_of[problem.origin[rank]][batch] else {
                    return false;
                };
                if self.capacity[batch] < size || self.gate_capacity[gate] < size {
                    return false;
                }
                self.capacity[batch] -= size;
                self.gate_capacity[gate] -= size;
                self.fixed[rank] = batch as u16;
                self.fixed_value += f64::from(size) * problem.unit_value(rank, batch);
                self.evict(problem, batch);
            }
        }
        true
    }

    /// Bars a free household from one batch. False if that leaves a pinned-in household
    /// nowhere to go.
    fn forbid(&mut self, problem: &Problem, rank: usize, batch: usize) -> bool {
        let origin = problem.origin[rank];
        let Some(gate) = problem.gate_of[origin][batch] else {
            return true;
        };
        let units = self.units[rank * problem.batches + batch];
        if units > 0 {
            self.shift(problem, rank, batch, -i32::from(units));
            self.gate_flow[gate] -= u32::from(units);
            self.load[batch] -= u32::from(units);
        }
        self.forbidden[gate].insert(rank);
        !problem.pinned_in[rank]
            || problem.gates_of_origin[origin]
                .iter()
                .any(|other| !self.forbidden[*other].contains(rank))
    }

    /// The batch a branching household is tried on: where the relaxation has most of it,
    /// else the earliest it may board.
    fn branching_batch(&self, problem: &Problem, rank: usize) -> Option<usize> {
        let origin = problem.origin[rank];
        let mut best: Option<(u16, usize)> = None;
        for &gate in &problem.gates_of_origin[origin] {
            let batch = problem.gates[gate].1;
            if self.forbidden[gate].contains(rank) {
                continue;
            }
            let units = self.units[rank * problem.batches + batch];
            let better = match best {
                None => true,
                Some((best_units, best_batch)) => {
                    units > best_units
                        || (units == best_units
                            && problem.value_days[batch] > problem.value_days[best_batch])
                }
            };
            if better {
                best = Some((units, batch));
            }
        }
        best.map(|(_, batch)| batch)
    }

    /// The free household to branch on: a pinned-in one not yet placed whole, else the
    /// highest-priority one the relaxation splits or serves in part. None when integral.
    fn branching_household(&self, problem: &Problem) -> Option<usize> {
        let mut pinned = None;
        for rank in 0..self.served.len() {
            if self.fixed[rank] != FREE {
                continue;
            }
            let served = self.served[rank];
            let whole = served == problem.size[rank]
                && (0..problem.batches)
                    .filter(|batch| self.units[rank * problem.batches + batch] > 0)
                    .count()
                    == 1;
            if served > 0 && !whole {
                return Some(rank);
            }
            if served == 0 && problem.pinned_in[rank] && pinned.is_none() {
                pinned = Some(rank);
            }
        }
        pinned
    }

    /// Rounds the flow to a plan: whole households stay, the others are placed greedily by
    /// priority (pinned-in first) on the earliest batch with room. None if a pin fails.
    #[allow(clippy::needless_range_loop)] // ranks index several parallel arrays
    fn round(&self, problem: &Problem) -> Option<(f64, Vec<u16>)> {
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

/// Finds a cycle of negative cost (Bellman-Ford from a virtual source at every node).
fn negative_cycle(nodes: usize, arcs: &[Arc], epsilon: f64) -> Option<Vec<Arc>> {
    let mut distance = vec![0.0f64; nodes];
    let mut predecessor: Vec<Option<usize>> = vec![None; nodes];
    for _ in 0..nodes {
        let mut changed = None;
        for (index, arc) in arcs.iter().enumerate() {
            let candidate = distance[arc.from] + arc.cost;
            if candidate < distance[arc.to] - epsilon {
                distance[arc.to] = candidate;
                predecessor[arc.to] = Some(index);
                changed = Some(arc.to);
            }
        }
        let start = changed?;
        // A cycle among the predecessor links is a negative cycle.
        if let Some(cycle) = predecessor_cycle(nodes, arcs, &predecessor, start) {
            return Some(cycle);
        }
    }
    None
}

fn predecessor_cycle(
    nodes: usize,
    arcs: &[Arc],
    predecessor: &[Option<usize>],
    start: usize,
) -> Option<Vec<Arc>> {
    let mut node = start;
    for _ in 0..nodes {
        node = arcs[predecessor[node]?].from;
    }
    // `node` is now on a cycle (if the walk did not end).
    let mut cycle = Vec::new();
    let mut at = node;
    loop {
        let arc = arcs[predecessor[at]?];
        cycle.push(arc);
        at = arc.from;
        if at == node || cycle.len() > nodes {
            break;
        }
    }
    let cost: f64 = cycle.iter().map(|arc| arc.cost).sum();
    (at == node && cost < 0.0).then(|| {
        cycle.reverse();
        cycle
    })
}

/// Plans the instance: the optimal manifest (or the best found with its proven gap), and one
/// explanation per household.
pub fn solve(instance: &Instance) -> Result<Plan, PlanError> {
    instance.validate()?;
    let policy = &instance.policy;
    let end_day = instance.end_day();

    let mut batch_order: Vec<usize> = (0..instance.batches.len()).collect();
    batch_order.sort_by(|a, b| {
        let (a, b) = (&instance.batches[*a], &instance.batches[*b]);
        (a.day, &a.id).cmp(&(b.day, &b.id))
    });
    let batches: Vec<&Batch> = batch_order
        .iter()
        .map(|index| &instance.batches[*index])
        .collect();
    let batch_index: BTreeMap<&str, usize> = batches
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
    let share_cap = |seats: i64| -> u32 {
        let seats = u32::try_from(seats).unwrap_or(u32::MAX);
        match policy.max_share {
            Some(share) => (f64::from(seats) * share + 1e-9).floor() as u32,
            None => seats,
        }
    };
    let mut gate_capacity = Vec::new();
    for (batch_at, batch) in batches.iter().enumerate() {
        for origin in &batch.origins {
            let origin = origin_index[origin.as_str()];
            if gate_of[origin][batch_at].is_none() {
                gate_of[origin][batch_at] = Some(gates.len());
                gates_of_origin[origin].push(gates.len());
                gates.push((origin, batch_at));
                gate_capacity.push(share_cap(batch.seats));
            }
        }
    }
    let mut capacity: Vec<u32> = batches
        .iter()
        .map(|batch| u32::try_from(batch.seats).unwrap_or(u32::MAX))
        .collect();

    // Sort out who can be planned at all; pins onto a batch are placed up front.
    let priorities: Vec<PriorityParts> = instance
        .households
        .iter()
        .map(|household| policy.priority(household))
        .collect();
    let mut decisions: Vec<Option<Decision>> = vec![None; instance.households.len()];
    let mut pinned_batch: Vec<(usize, usize)> = Vec::new();
    let mut candidates: Vec<usize> = Vec::new();
    for (index, household) in instance.households.iter().enumerate() {
        let origin = origin_index.get(household.origin.as_str()).copied();
        let fits: Vec<usize> = (0..batches.len())
            .filter(|batch| {
                origin.is_some_and(|origin| gate_of[origin][*batch].is_some())
                    && i64::from(share_cap(batches[*batch].seats)) >= household.size
            })
            .collect();
        let unplaceable = if origin.is_none() {
            Some(format!("no batch picks up from {}", household.origin))
        } else if fits.is_empty() {
            Some(format!(
                "{} people do not fit on any batch that picks up from {}",
                household.size, household.origin
            ))
        } else {
            None
        };
        match &household.pin {
            Some(Pin::Out) => {
                decisions[index] = Some(Decision::NotSelected {
                    reason: "pinned out by the coordinator".into(),
                });
                continue;
            }
            Some(Pin::Batch(id)) => {
                let batch = batch_index[id.as_str()];
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
            decisions[index] = Some(Decision::Ineligible { reason });
        } else if let Some(reason) = unplaceable {
            decisions[index] = Some(Decision::NotSelected { reason });
        } else {
            candidates.push(index);
        }
    }
    let mut fixed_value = 0.0;
    let mut fixed_manifest: Vec<(usize, usize)> = Vec::new();
    for (index, batch) in &pinned_batch {
        let household = &instance.households[*index];
        let size = u32::try_from(household.size).unwrap_or(u32::MAX);
        let origin = origin_index[household.origin.as_str()];
        let gate = gate_of[origin][*batch].unwrap_or(usize::MAX);
        if capacity[*batch] < size || gate_capacity[gate] < size {
            return Err(PlanError::InfeasiblePins(format!(
                "the households pinned to batch {} need more seats than it has (or than the share of {} allows)",
                batches[*batch].id, household.origin
            )));
        }
        capacity[*batch] -= size;
        gate_capacity[gate] -= size;
        fixed_value += priorities[*index].total
            * household.size as f64
            * (end_day - batches[*batch].day) as f64;
        fixed_manifest.push((*index, *batch));
    }

    candidates.sort_by(|a, b| {
        let (ha, hb) = (&instance.households[*a], &instance.households[*b]);
        priorities[*b]
            .total
            .total_cmp(&priorities[*a].total)
            .then(hb.waiting_days.total_cmp(&ha.waiting_days))
            .then(ha.id.cmp(&hb.id))
    });
    let value_days: Vec<f64> = batches
        .iter()
        .map(|batch| (end_day - batch.day) as f64)
        .collect();
    let max_unit = candidates
        .iter()
        .map(|index| priorities[*index].total)
        .fold(0.0, f64::max)
        * value_days.iter().copied().fold(0.0, f64::max);
    let problem = Problem {
        batches: batches.len(),
        value_days,
        size: candidates
            .iter()
            .map(|index| instance.households[*index].size as u16)
            .collect(),
        priority: candidates
            .iter()
            .map(|index| priorities[*index].total)
            .collect(),
        origin: candidates
            .iter()
            .map(|index| origin_index[instance.households[*index].origin.as_str()])
            .collect(),
        pinned_in: candidates
            .iter()
            .map(|index| instance.households[*index].pin == Some(Pin::In))
            .collect(),
        gates,
        gate_of,
        gates_of_origin,
        origins,
        share_capped: policy.max_share.is_some(),
        epsilon: max_unit.max(1.0) * 1e-12,
    };

    // Root: a greedy start, then the relaxation's optimum.
    let mut root = Flow::new(&problem, capacity, gate_capacity);
    root.fixed_value = fixed_value;
    let greedy = root.round(&problem);
    if let Some((_, assignment)) = &greedy {
        for (rank, batch) in assignment.iter().enumerate() {
            if *batch != OUT && *batch != FREE {
                let batch = usize::from(*batch);
                let units = i32::from(problem.size[rank]);
                root.shift(&problem, rank, batch, units);
                let gate = problem.gate_of[problem.origin[rank]][batch].unwrap_or(usize::MAX);
                root.gate_flow[gate] += units as u32;
                root.load[batch] += units as u32;
            }
        }
    }
    root.optimize(&problem);
    let root_bound = root.value();
    let tolerance = policy.gap_tolerance * root_bound.abs().max(1.0);
    let mut incumbent: Option<(f64, Vec<u16>)> = greedy;
    if let Some(rounded) = root.round(&problem)
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
        if nodes >= policy.node_limit {
            open_bound = open_bound.max(bound);
            for (bound, _) in &stack {
                open_bound = open_bound.max(*bound);
            }
            break;
        }
        nodes += 1;
        let Some(rank) = flow.branching_household(&problem) else {
            // Integral (every pinned-in household placed whole): a plan.
            if let Some(rounded) = flow.round(&problem)
                && rounded.0 > best
            {
                incumbent = Some(rounded);
            }
            continue;
        };
        // Two children: the household on its batch, or barred from that batch.
        let Some(batch) = flow.branching_batch(&problem, rank) else {
            continue;
        };
        let mut children = Vec::new();
        for on_batch in [true, false] {
            let mut child = flow.clone();
            let feasible = if on_batch {
                child.fix(&problem, rank, Some(batch))
            } else {
                child.forbid(&problem, rank, batch)
            };
            if !feasible {
                continue;
            }
            child.optimize(&problem);
            let child_bound = child.value().min(bound);
            let best = incumbent
                .as_ref()
                .map_or(f64::NEG_INFINITY, |(value, _)| *value);
            if child_bound <= best + tolerance {
                pruned_bound = pruned_bound.max(child_bound);
                continue;
            }
            if let Some(rounded) = child.round(&problem)
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
        &batches,
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
            end_day,
            optimal: gap <= policy.gap_tolerance,
        },
    ))
}

struct PlanFigures {
    objective: f64,
    bound: f64,
    gap: f64,
    nodes: u64,
    end_day: i64,
    optimal: bool,
}

#[allow(clippy::too_many_arguments)]
fn build_plan(
    instance: &Instance,
    batches: &[&Batch],
    candidates: &[usize],
    assignment: &[u16],
    fixed_manifest: &[(usize, usize)],
    priorities: &[PriorityParts],
    mut decisions: Vec<Option<Decision>>,
    figures: PlanFigures,
) -> Plan {
    // Manifest per batch, highest priority first.
    let mut manifest: Vec<Vec<usize>> = vec![Vec::new(); batches.len()];
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
            decisions[*index] = Some(Decision::Selected {
                batch: batches[batch].id.clone(),
                reason: format!(
                    "priority {}; batch {} on day {}{}",
                    priorities[*index].describe(),
                    batches[batch].id,
                    batches[batch].day,
                    if pinned { " (pinned)" } else { "" }
                ),
            });
        }
    }
    // Why each candidate left behind was left behind: the batches it could board were full
    // of households that rank above it, or had too few seats left.
    for index in candidates {
        if decisions[*index].is_some() {
            continue;
        }
        let household = &instance.households[*index];
        let mut reasons = Vec::new();
        for (batch, spec) in batches.iter().enumerate() {
            if !spec.origins.contains(&household.origin) {
                continue;
            }
            let spare = spec.seats - used[batch];
            if spare >= household.size {
                reasons.push(format!(
                    "{}: {spare} seats left, but the origin's share is used up",
                    spec.id
                ));
                continue;
            }
            let cutoff = manifest[batch]
                .iter()
                .map(|other| priorities[*other].total)
                .fold(f64::INFINITY, f64::min);
            if cutoff.is_finite() {
                reasons.push(format!(
                    "{}: {spare} of {} seats left, lowest selected priority {cutoff:.2}",
                    spec.id, spec.seats
                ));
            } else {
                reasons.push(format!("{}: {spare} seats left", spec.id));
            }
        }
        decisions[*index] = Some(Decision::NotSelected {
            reason: format!(
                "outranked: priority {:.2}, needs {} seats; {}",
                priorities[*index].total,
                household.size,
                reasons.join("; ")
            ),
        });
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
            decision: decisions[index].clone().unwrap_or(Decision::NotSelected {
                reason: "not placed".into(),
            }),
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
