//! The linear relaxation: a min-cost flow of seat units, solved by cancelling negative
//! cycles on the contracted graph (see the module above), and its rounding to a plan.

pub(super) const FREE: u16 = u16::MAX;
pub(super) const OUT: u16 = u16::MAX - 1;

mod rounding;

/// A fixed-size bit set over candidate ranks, cheap to clone.
#[derive(Clone)]
pub(super) struct Bits(Vec<u64>);

impl Bits {
    pub(super) fn new(len: usize) -> Self {
        Bits(vec![0; len.div_ceil(64)])
    }
    pub(super) fn insert(&mut self, index: usize) {
        self.0[index / 64] |= 1 << (index % 64);
    }
    pub(super) fn remove(&mut self, index: usize) {
        self.0[index / 64] &= !(1 << (index % 64));
    }
    pub(super) fn first(&self) -> Option<usize> {
        self.0
            .iter()
            .enumerate()
            .find(|(_, word)| **word != 0)
            .map(|(at, word)| at * 64 + word.trailing_zeros() as usize)
    }
    /// The first member not in `mask`.
    pub(super) fn first_without(&self, mask: &Bits) -> Option<usize> {
        self.0
            .iter()
            .zip(&mask.0)
            .enumerate()
            .find(|(_, (word, masked))| **word & !**masked != 0)
            .map(|(at, (word, masked))| at * 64 + (word & !masked).trailing_zeros() as usize)
    }
    /// The last member not in `mask`.
    pub(super) fn last_without(&self, mask: &Bits) -> Option<usize> {
        self.0
            .iter()
            .zip(&mask.0)
            .enumerate()
            .rev()
            .find(|(_, (word, masked))| **word & !**masked != 0)
            .map(|(at, (word, masked))| at * 64 + 63 - (word & !masked).leading_zeros() as usize)
    }
    pub(super) fn contains(&self, index: usize) -> bool {
        self.0[index / 64] & (1 << (index % 64)) != 0
    }
    pub(super) fn last(&self) -> Option<usize> {
        self.0
            .iter()
            .enumerate()
            .rev()
            .find(|(_, word)| **word != 0)
            .map(|(at, word)| at * 64 + 63 - word.leading_zeros() as usize)
    }
}

/// The immutable part of a problem, indexed by candidate rank (0 = highest priority).
pub(super) struct Problem {
    pub(super) batches: usize,
    /// `end_day − day` of each batch (batches sorted by day, then id).
    pub(super) value_days: Vec<f64>,
    pub(super) size: Vec<u16>,
    pub(super) priority: Vec<f64>,
    pub(super) origin: Vec<usize>,
    pub(super) pinned_in: Vec<bool>,
    /// (origin, batch) of each gate.
    pub(super) gates: Vec<(usize, usize)>,
    /// gate_of[origin][batch].
    pub(super) gate_of: Vec<Vec<Option<usize>>>,
    pub(super) gates_of_origin: Vec<Vec<usize>>,
    pub(super) origins: usize,
    /// Whether per-origin share caps apply.
    pub(super) share_capped: bool,
    /// Cycles cheaper than this are treated as zero (floating-point noise).
    pub(super) epsilon: f64,
}

/// A relaxation state: a flow of seat units, and the households fixed so far.
#[derive(Clone)]
pub(super) struct Flow {
    /// Units of each household on each batch: units[rank * batches + batch].
    pub(super) units: Vec<u16>,
    pub(super) served: Vec<u16>,
    /// FREE, OUT or the batch a household is fixed on.
    pub(super) fixed: Vec<u16>,
    pub(super) load: Vec<u32>,
    pub(super) capacity: Vec<u32>,
    pub(super) gate_flow: Vec<u32>,
    pub(super) gate_capacity: Vec<u32>,
    /// Free households with unserved units, per origin.
    pub(super) unserved: Vec<Bits>,
    /// Free households with units on each gate.
    pub(super) on_gate: Vec<Bits>,
    /// Free households barred from each gate's batch by branching.
    pub(super) forbidden: Vec<Bits>,
    /// Value of the fixed households.
    pub(super) fixed_value: f64,
    /// Value of the units in the flow, kept up to date by `shift`.
    pub(super) flow_value: f64,
}

#[derive(Clone, Copy, Debug)]
pub(super) enum ArcKind {
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
pub(super) struct Arc {
    from: usize,
    to: usize,
    cost: f64,
    capacity: u32,
    kind: ArcKind,
}

pub(super) const SOURCE: usize = 0;
pub(super) const SINK: usize = 1;

impl Problem {
    pub(super) fn batch_node(&self, batch: usize) -> usize {
        2 + batch
    }
    pub(super) fn gate_node(&self, gate: usize) -> usize {
        2 + self.batches + gate
    }
    pub(super) fn nodes(&self) -> usize {
        2 + self.batches + self.gates.len()
    }
    pub(super) fn unit_value(&self, rank: usize, batch: usize) -> f64 {
        self.priority[rank] * self.value_days[batch]
    }
}

impl Flow {
    pub(super) fn new(problem: &Problem, capacity: Vec<u32>, gate_capacity: Vec<u32>) -> Self {
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

    pub(super) fn value(&self) -> f64 {
        self.fixed_value + self.flow_value
    }

    /// Adds (or with negative `delta`, removes) units of a free household on a batch.
    pub(super) fn shift(&mut self, problem: &Problem, rank: usize, batch: usize, delta: i32) {
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

    /// The residual graph's arcs: per gate, units entering, leaving or moving to another
    /// gate of their origin, and the gate's own capacity; per batch its seats; the return.
    pub(super) fn arcs(&self, problem: &Problem) -> Vec<Arc> {
        let mut arcs = Vec::with_capacity(problem.gates.len() * 8 + problem.batches * 2 + 1);
        for gate in 0..problem.gates.len() {
            self.gate_arcs(problem, gate, &mut arcs);
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

    /// The arcs of one gate (an origin's way onto a batch).
    fn gate_arcs(&self, problem: &Problem, gate: usize, arcs: &mut Vec<Arc>) {
        let (origin, batch) = problem.gates[gate];
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
            self.move_arcs(problem, gate, (lowest, highest), arcs);
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

    /// Units on `gate` moved to another gate of the same origin: moving later loses value, so
    /// the least valuable moves; moving earlier gains, so the most valuable. Never onto a
    /// barred batch.
    fn move_arcs(
        &self,
        problem: &Problem,
        gate: usize,
        (lowest, highest): (usize, usize),
        arcs: &mut Vec<Arc>,
    ) {
        let (origin, batch) = problem.gates[gate];
        let node = problem.gate_node(gate);
        for &other in &problem.gates_of_origin[origin] {
            if other == gate {
                continue;
            }
            let target = problem.gates[other].1;
            let loss = problem.value_days[batch] - problem.value_days[target];
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

    pub(super) fn apply(&mut self, problem: &Problem, cycle: &[Arc]) {
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
    pub(super) fn optimize(&mut self, problem: &Problem) {
        loop {
            let arcs = self.arcs(problem);
            match negative_cycle(problem.nodes(), &arcs, problem.epsilon) {
                Some(cycle) => self.apply(problem, &cycle),
                None => return,
            }
        }
    }

    /// Takes every unit of a free household out of the flow.
    pub(super) fn clear(&mut self, problem: &Problem, rank: usize) {
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
    pub(super) fn evict(&mut self, problem: &Problem, batch: usize) {
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
    pub(super) fn fix(&mut self, problem: &Problem, rank: usize, batch: Option<usize>) -> bool {
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
    pub(super) fn forbid(&mut self, problem: &Problem, rank: usize, batch: usize) -> bool {
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
    pub(super) fn branching_batch(&self, problem: &Problem, rank: usize) -> Option<usize> {
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
    pub(super) fn branching_household(&self, problem: &Problem) -> Option<usize> {
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
