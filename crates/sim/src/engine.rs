//! One replication: a discrete-event simulation of the pipeline.
//!
//! People arrive at a shelter's door (Poisson, piecewise-constant rate); enter if there is a
//! bed, else join the shelter's first-come-first-served waiting list (or are turned away);
//! are screened by c shared servers; then wait for a flight, which boards the ready people
//! who have been longest in their shelter. Every departure refills the shelter from its
//! waiting list. A daily hazard removes people from the queue. With no flights, people leave
//! when screening ends.

use crate::rng::Rng;
use crate::scenario::*;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// Width of a bin of the waiting-time histogram, in days.
pub const WAIT_BIN_DAYS: f64 = 0.25;

/// What one replication measured.
pub struct Replication {
    /// Per day and shelter (day * shelters + shelter): people inside at the start of the day.
    pub occupancy: Vec<u32>,
    /// Per day and shelter: people on the waiting list outside.
    pub waiting_list: Vec<u32>,
    /// Per day and shelter: demand beyond capacity (a waiting list, or someone turned away).
    pub over_capacity: Vec<bool>,
    /// Per day: mean days since arrival of everyone present (inside or waiting outside).
    pub backlog_age: Vec<f64>,
    /// Histogram of waits (arrival at the door to departure) of people who left on a flight.
    pub wait_histogram: Vec<u32>,
    pub wait_sum: f64,
    pub departed: u64,
    /// Waits from entering the shelter to the start of screening.
    pub screening_wait_sum: f64,
    pub screened: u64,
    pub turned_away: Vec<u32>,
    pub exited: u64,
    pub arrivals: u64,
    /// ∫ people in the system dt over the horizon (for Little's law).
    pub area: f64,
    /// Time in the system of everyone who left before the horizon (departed or exited).
    pub sojourn_sum: f64,
    pub left: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Where {
    WaitingList,
    ScreeningQueue,
    InScreening,
    Ready,
    Gone,
}

struct Person {
    arrival: f64,
    entry: f64,
    shelter: usize,
    place: Where,
    /// Index in `Model::present_list` while present.
    slot: u32,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    ScreeningDone(u32),
    Arrival(u32),
}

impl Event {
    /// One bit of kind, thirty-one of payload.
    fn pack(self) -> u32 {
        match self {
            Event::ScreeningDone(value) => value,
            Event::Arrival(value) => 1 << 31 | value,
        }
    }

    fn unpack(packed: u32) -> Self {
        let value = packed & ((1 << 31) - 1);
        match packed >> 31 {
            0 => Event::ScreeningDone(value),
            _ => Event::Arrival(value),
        }
    }
}

/// A total order on times (negative for people present before day 0).
fn time_key(time: f64) -> u64 {
    let bits = time.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

struct Model<'a> {
    scenario: &'a Scenario,
    rng: Rng,
    people: Vec<Person>,
    /// (time key << 64) | (sequence << 32) | packed event: one comparison per heap step.
    events: BinaryHeap<Reverse<u128>>,
    sequence: u32,
    occupancy: Vec<u32>,
    waiting_lists: Vec<VecDeque<u32>>,
    waiting_count: Vec<u32>,
    screening_queue: VecDeque<u32>,
    free_servers: u32,
    /// Everyone who entered a shelter, in order of entry (the boarding order); people who
    /// left stay until they reach the front.
    entered: VecDeque<u32>,
    rate_factor: Vec<f64>,
    exit_rate: f64,
    flights: bool,
    present: u64,
    /// Everyone present (inside or waiting outside), for picking who exits.
    present_list: Vec<u32>,
    arrival_sum: f64,
    last_time: f64,
    rejected_today: Vec<u32>,
    out: Replication,
}

impl<'a> Model<'a> {
    fn schedule(&mut self, time: f64, event: Event) {
        self.sequence = self.sequence.wrapping_add(1);
        let key = u128::from(time_key(time)) << 64
            | u128::from(self.sequence) << 32
            | u128::from(event.pack());
        self.events.push(Reverse(key));
    }

    /// The next arrival time at a shelter after `now` (None: no more arrivals).
    fn next_arrival(&mut self, shelter: usize, now: f64) -> Option<f64> {
        let spec = &self.scenario.shelters[shelter];
        let factor = self.rate_factor[shelter];
        let constant = [(0.0, spec.arrivals_per_month.unwrap_or(0.0))];
        let steps: &[(f64, f64)] = match &spec.arrivals {
            Some(steps) => steps,
            None if spec.arrivals_per_month.is_some() => &constant,
            None => return None,
        };
        let mut remaining = self.rng.exponential(1.0);
        let mut time = now;
        for (index, (start, rate)) in steps.iter().enumerate() {
            let end = steps.get(index + 1).map_or(f64::INFINITY, |next| next.0);
            if end <= time {
                continue;
            }
            let from = time.max(*start);
            let per_day = rate * factor / DAYS_PER_MONTH;
            if per_day > 0.0 {
                let span = end - from;
                if remaining < per_day * span {
                    return Some(from + remaining / per_day);
                }
                remaining -= per_day * span;
            }
            time = end;
        }
        None
    }

    fn service_time(&mut self) -> f64 {
        let Some(screening) = &self.scenario.screening else {
            return 0.0;
        };
        match screening.distribution {
            Distribution::Exponential => self.rng.exponential(1.0 / screening.mean_days),
            Distribution::Deterministic => screening.mean_days,
            Distribution::Lognormal => {
                let cv = screening.cv.unwrap_or(1.0);
                let sigma2 = (1.0 + cv * cv).ln();
                let mu = screening.mean_days.ln() - sigma2 / 2.0;
                (mu + sigma2.sqrt() * self.rng.normal()).exp()
            }
        }
    }

    fn add_person(&mut self, arrival: f64, shelter: usize) -> u32 {
        let id = self.people.len() as u32;
        self.people.push(Person {
            arrival,
            entry: arrival,
            shelter,
            place: Where::WaitingList,
            slot: self.present_list.len() as u32,
        });
        self.present_list.push(id);
        self.present += 1;
        self.arrival_sum += arrival;
        id
    }

    /// Takes a person off the list of those present.
    fn unlist(&mut self, id: u32) {
        let slot = self.people[id as usize].slot as usize;
        self.present_list.swap_remove(slot);
        if let Some(moved) = self.present_list.get(slot) {
            self.people[*moved as usize].slot = slot as u32;
        }
        self.present -= 1;
        self.arrival_sum -= self.people[id as usize].arrival;
    }

    fn enter(&mut self, id: u32, now: f64) {
        let shelter = self.people[id as usize].shelter;
        self.occupancy[shelter] += 1;
        self.people[id as usize].entry = now;
        if self.flights {
            self.entered.push_back(id);
        }
        if self.scenario.screening.is_some() {
            if self.free_servers > 0 {
                self.free_servers -= 1;
                self.start_screening(id, now);
            } else {
                self.people[id as usize].place = Where::ScreeningQueue;
                self.screening_queue.push_back(id);
            }
        } else {
            self.become_ready(id, now);
        }
    }

    fn start_screening(&mut self, id: u32, now: f64) {
        let person = &mut self.people[id as usize];
        person.place = Where::InScreening;
        self.out.screening_wait_sum += now - person.entry;
        self.out.screened += 1;
        let done = now + self.service_time();
        self.schedule(done, Event::ScreeningDone(id));
    }

    fn become_ready(&mut self, id: u32, now: f64) {
        self.people[id as usize].place = Where::Ready;
        if !self.flights {
            self.depart(id, now);
        }
    }

    /// Boards up to `seats` ready people, longest in their shelter first.
    fn board(&mut self, seats: u32, now: f64) {
        let mut boarded = 0;
        let mut still_screening = Vec::new();
        while boarded < seats {
            let Some(id) = self.entered.pop_front() else {
                break;
            };
            match self.people[id as usize].place {
                Where::Ready => {
                    self.depart(id, now);
                    boarded += 1;
                }
                Where::ScreeningQueue | Where::InScreening => still_screening.push(id),
                _ => {}
            }
        }
        for id in still_screening.into_iter().rev() {
            self.entered.push_front(id);
        }
    }

    fn leave(&mut self, id: u32, now: f64) {
        let person = &mut self.people[id as usize];
        let was_inside = person.place != Where::WaitingList;
        person.place = Where::Gone;
        let (shelter, arrival) = (person.shelter, person.arrival);
        self.unlist(id);
        self.out.sojourn_sum += now - arrival.max(0.0);
        self.out.left += 1;
        if was_inside {
            self.occupancy[shelter] -= 1;
            self.refill(shelter, now);
        } else {
            self.waiting_count[shelter] -= 1;
        }
    }

    fn depart(&mut self, id: u32, now: f64) {
        let wait = now - self.people[id as usize].arrival;
        let bin = ((wait / WAIT_BIN_DAYS) as usize).min(self.out.wait_histogram.len() - 1);
        self.out.wait_histogram[bin] += 1;
        self.out.wait_sum += wait;
        self.out.departed += 1;
        self.leave(id, now);
    }

    fn refill(&mut self, shelter: usize, now: f64) {
        let capacity = self.scenario.shelters[shelter].capacity.unwrap_or(u32::MAX);
        while self.occupancy[shelter] < capacity {
            let Some(id) = self.waiting_lists[shelter].pop_front() else {
                break;
            };
            if self.people[id as usize].place != Where::WaitingList {
                continue;
            }
            self.waiting_count[shelter] -= 1;
            self.enter(id, now);
        }
    }

    fn snapshot(&mut self, day: usize) {
        let shelters = self.scenario.shelters.len();
        for shelter in 0..shelters {
            let slot = day * shelters + shelter;
            self.out.occupancy[slot] = self.occupancy[shelter];
            self.out.waiting_list[slot] = self.waiting_count[shelter];
            self.out.over_capacity[slot] =
                self.waiting_count[shelter] > 0 || self.rejected_today[shelter] > 0;
            self.rejected_today[shelter] = 0;
        }
        self.out.backlog_age[day] = if self.present > 0 {
            day as f64 - self.arrival_sum / self.present as f64
        } else {
            0.0
        };
    }

    fn advance(&mut self, to: f64, next_day: &mut usize, days: usize) {
        while *next_day < days && (*next_day as f64) <= to {
            let day = *next_day as f64;
            self.out.area += self.present as f64 * (day - self.last_time);
            self.last_time = day;
            self.snapshot(*next_day);
            *next_day += 1;
        }
        self.out.area += self.present as f64 * (to - self.last_time);
        self.last_time = to;
    }
}

/// Runs one replication with its own random stream.
pub fn replicate(scenario: &Scenario, seed: u64, replication: u64) -> Replication {
    let mut model = Model::new(scenario, seed, replication);
    model.seed_initial();
    model.run();
    model.out
}

impl<'a> Model<'a> {
    /// A model of `scenario` at time zero, with replication `replication`'s own random stream
    /// and its output allocated.
    fn new(scenario: &'a Scenario, seed: u64, replication: u64) -> Model<'a> {
        let shelters = scenario.shelters.len();
        let horizon = scenario.horizon_days;
        let days = horizon.floor() as usize + 1;
        let longest_initial = scenario
            .shelters
            .iter()
            .flat_map(|shelter| shelter.initial_waiting_days.iter().copied())
            .fold(0.0, f64::max);
        let bins = ((horizon + longest_initial) / WAIT_BIN_DAYS) as usize + 2;
        let mut rng = Rng::new(seed, replication);
        let rate_factor = scenario
            .shelters
            .iter()
            .map(|shelter| {
                if shelter.arrivals_cv > 0.0 {
                    rng.gamma_mean_one(shelter.arrivals_cv)
                } else {
                    1.0
                }
            })
            .collect();
        Model {
            scenario,
            rng,
            people: Vec::new(),
            events: BinaryHeap::new(),
            sequence: 0,
            occupancy: vec![0; shelters],
            waiting_lists: vec![VecDeque::new(); shelters],
            waiting_count: vec![0; shelters],
            screening_queue: VecDeque::new(),
            free_servers: scenario
                .screening
                .as_ref()
                .map_or(0, |screening| screening.servers),
            entered: VecDeque::new(),
            rate_factor,
            exit_rate: scenario
                .exits
                .as_ref()
                .map_or(0.0, |exits| -(1.0 - exits.per_day).ln()),
            flights: scenario.has_flights(),
            present: 0,
            present_list: Vec::new(),
            arrival_sum: 0.0,
            last_time: 0.0,
            rejected_today: vec![0; shelters],
            out: Replication {
                occupancy: vec![0; days * shelters],
                waiting_list: vec![0; days * shelters],
                over_capacity: vec![false; days * shelters],
                backlog_age: vec![0.0; days],
                wait_histogram: vec![0; bins],
                wait_sum: 0.0,
                departed: 0,
                screening_wait_sum: 0.0,
                screened: 0,
                turned_away: vec![0; shelters],
                exited: 0,
                arrivals: 0,
                area: 0.0,
                sojourn_sum: 0.0,
                left: 0,
            },
        }
    }

    /// People already present: inside (even above capacity), screened, waiting for a flight;
    /// in the boarding order, the longest waiting first. Then each shelter's first arrival.
    fn seed_initial(&mut self) {
        let scenario = self.scenario;
        let horizon = scenario.horizon_days;
        let shelters = scenario.shelters.len();
        let mut initial: Vec<(f64, usize)> = scenario
            .shelters
            .iter()
            .enumerate()
            .flat_map(|(shelter, spec)| {
                spec.initial_waiting_days
                    .iter()
                    .map(move |waited| (-waited, shelter))
            })
            .collect();
        initial.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        for (entry, shelter) in initial {
            let id = self.add_person(entry, shelter);
            self.occupancy[shelter] += 1;
            self.people[id as usize].entry = entry;
            self.entered.push_back(id);
            self.become_ready(id, 0.0);
        }
        for shelter in 0..shelters {
            if let Some(time) = self.next_arrival(shelter, 0.0)
                && time < horizon
            {
                self.schedule(time, Event::Arrival(shelter as u32));
            }
        }
    }

    /// The events, flights and exits in time order up to the horizon, the days recorded as
    /// they pass.
    fn run(&mut self) {
        let scenario = self.scenario;
        let horizon = scenario.horizon_days;
        let days = horizon.floor() as usize + 1;
        // Flights are known in advance: a sorted list beside the heap keeps the heap small.
        let departures = scenario.departures();
        let mut next_flight = 0usize;
        let mut next_day = 0usize;
        // Each person present leaves at the daily hazard; by memorylessness that is one exit
        // process at rate hazard × people present, removing someone present chosen at random.
        // Its clock is a unit-exponential budget spent at that rate, so a change in the number
        // present needs no new draw.
        let mut budget = self.rng.exponential(1.0);
        let mut now = 0.0;
        loop {
            let exit_rate = self.exit_rate * self.present as f64;
            let next_exit = if exit_rate > 0.0 {
                now + budget / exit_rate
            } else {
                f64::INFINITY
            };
            let event_time = self.events.peek().map_or(f64::INFINITY, |Reverse(packed)| {
                let key = (*packed >> 64) as u64;
                f64::from_bits(key & !(1 << 63))
            });
            let flight_time = departures
                .get(next_flight)
                .map_or(f64::INFINITY, |flight| flight.0);
            if flight_time <= event_time && flight_time <= next_exit {
                if flight_time >= horizon {
                    break;
                }
                budget -= exit_rate * (flight_time - now);
                now = flight_time;
                self.advance(now, &mut next_day, days);
                self.board(departures[next_flight].1, now);
                next_flight += 1;
                continue;
            }
            if next_exit < event_time {
                if next_exit >= horizon {
                    break;
                }
                now = next_exit;
                self.advance(now, &mut next_day, days);
                let pick = (self.rng.uniform() * self.present as f64) as usize;
                let id = self.present_list[pick.min(self.present_list.len() - 1)];
                self.out.exited += 1;
                self.leave(id, now);
                budget = self.rng.exponential(1.0);
                continue;
            }
            if event_time >= horizon {
                break;
            }
            let Some(Reverse(packed)) = self.events.pop() else {
                break;
            };
            let event = Event::unpack(packed as u32);
            let time = event_time;
            budget -= exit_rate * (time - now);
            now = time;
            self.advance(time, &mut next_day, days);
            self.handle(event, time);
        }
        self.advance(horizon, &mut next_day, days);
    }

    /// An arrival (inside, on the waiting list or turned away; the next one scheduled) or a
    /// screening done (the next in the queue starts).
    fn handle(&mut self, event: Event, time: f64) {
        let scenario = self.scenario;
        let horizon = scenario.horizon_days;
        match event {
            Event::Arrival(shelter) => {
                let shelter = shelter as usize;
                self.out.arrivals += 1;
                let id = self.add_person(time, shelter);
                let spec = &scenario.shelters[shelter];
                if self.occupancy[shelter] < spec.capacity.unwrap_or(u32::MAX) {
                    self.enter(id, time);
                } else if spec.overflow == Overflow::Wait {
                    self.waiting_lists[shelter].push_back(id);
                    self.waiting_count[shelter] += 1;
                } else {
                    self.people[id as usize].place = Where::Gone;
                    self.unlist(id);
                    self.out.turned_away[shelter] += 1;
                    self.rejected_today[shelter] += 1;
                }
                if let Some(next) = self.next_arrival(shelter, time)
                    && next < horizon
                {
                    self.schedule(next, Event::Arrival(shelter as u32));
                }
            }
            Event::ScreeningDone(id) => {
                self.free_servers += 1;
                if self.people[id as usize].place == Where::InScreening {
                    self.become_ready(id, time);
                }
                while self.free_servers > 0 {
                    let Some(next) = self.screening_queue.pop_front() else {
                        break;
                    };
                    if self.people[next as usize].place == Where::ScreeningQueue {
                        self.free_servers -= 1;
                        self.start_screening(next, time);
                    }
                }
            }
        }
    }
}
