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
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Flight(u32),
    Exit(u32),
    ScreeningDone(u32),
    Arrival(u32),
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
    events: BinaryHeap<Reverse<(u64, u64, Event)>>,
    sequence: u64,
    occupancy: Vec<u32>,
    waiting_lists: Vec<VecDeque<u32>>,
    waiting_count: Vec<u32>,
    screening_queue: VecDeque<u32>,
    free_servers: u32,
    ready: BinaryHeap<Reverse<(u64, u32)>>,
    rate_factor: Vec<f64>,
    exit_rate: f64,
    flights: bool,
    present: u64,
    arrival_sum: f64,
    last_time: f64,
    rejected_today: Vec<u32>,
    out: Replication,
}

impl<'a> Model<'a> {
    fn schedule(&mut self, time: f64, event: Event) {
        self.sequence += 1;
        self.events
            .push(Reverse((time_key(time), self.sequence, event)));
    }

    /// The next arrival time at a shelter after `now` (None: no more arrivals).
    fn next_arrival(&mut self, shelter: usize, now: f64) -> Option<f64> {
        let spec = &self.scenario.shelters[shelter];
        let factor = self.rate_factor[shelter];
        let steps: Vec<(f64, f64)> = match (&spec.arrivals, spec.arrivals_per_month) {
            (Some(steps), _) => steps.clone(),
            (None, Some(rate)) => vec![(0.0, rate)],
            (None, None) => return None,
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

    fn add_person(&mut self, arrival: f64, shelter: usize, now: f64) -> u32 {
        let id = self.people.len() as u32;
        self.people.push(Person {
            arrival,
            entry: arrival,
            shelter,
            place: Where::WaitingList,
        });
        self.present += 1;
        self.arrival_sum += arrival;
        if self.exit_rate > 0.0 {
            let exit = now + self.rng.exponential(self.exit_rate);
            if exit < self.scenario.horizon_days {
                self.schedule(exit, Event::Exit(id));
            }
        }
        id
    }

    fn enter(&mut self, id: u32, now: f64) {
        let shelter = self.people[id as usize].shelter;
        self.occupancy[shelter] += 1;
        self.people[id as usize].entry = now;
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
        if self.flights {
            let person = &self.people[id as usize];
            let key = time_key(person.entry);
            self.ready.push(Reverse((key, id)));
        } else {
            self.depart(id, now);
        }
    }

    fn leave(&mut self, id: u32, now: f64) {
        let person = &mut self.people[id as usize];
        let was_inside = person.place != Where::WaitingList;
        person.place = Where::Gone;
        let (shelter, arrival) = (person.shelter, person.arrival);
        self.present -= 1;
        self.arrival_sum -= arrival;
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
    let mut model = Model {
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
        ready: BinaryHeap::new(),
        rate_factor,
        exit_rate: scenario
            .exits
            .as_ref()
            .map_or(0.0, |exits| -(1.0 - exits.per_day).ln()),
        flights: scenario.has_flights(),
        present: 0,
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
    };
    // People already present: inside (even above capacity), screened, waiting for a flight.
    for (shelter, spec) in scenario.shelters.iter().enumerate() {
        for waited in &spec.initial_waiting_days {
            let id = model.add_person(-waited, shelter, 0.0);
            model.occupancy[shelter] += 1;
            model.people[id as usize].entry = -waited;
            model.become_ready(id, 0.0);
        }
    }
    for shelter in 0..shelters {
        if let Some(time) = model.next_arrival(shelter, 0.0)
            && time < horizon
        {
            model.schedule(time, Event::Arrival(shelter as u32));
        }
    }
    for (day, seats) in scenario.departures() {
        model.schedule(day, Event::Flight(seats));
    }
    let mut next_day = 0usize;
    while let Some(Reverse((key, _, event))) = model.events.pop() {
        let time = f64::from_bits(key & !(1 << 63));
        if time >= horizon {
            break;
        }
        model.advance(time, &mut next_day, days);
        match event {
            Event::Arrival(shelter) => {
                let shelter = shelter as usize;
                model.out.arrivals += 1;
                let id = model.add_person(time, shelter, time);
                let spec = &scenario.shelters[shelter];
                if model.occupancy[shelter] < spec.capacity.unwrap_or(u32::MAX) {
                    model.enter(id, time);
                } else if spec.overflow == Overflow::Wait {
                    model.waiting_lists[shelter].push_back(id);
                    model.waiting_count[shelter] += 1;
                } else {
                    model.people[id as usize].place = Where::Gone;
                    model.present -= 1;
                    model.arrival_sum -= time;
                    model.out.turned_away[shelter] += 1;
                    model.rejected_today[shelter] += 1;
                }
                if let Some(next) = model.next_arrival(shelter, time)
                    && next < horizon
                {
                    model.schedule(next, Event::Arrival(shelter as u32));
                }
            }
            Event::ScreeningDone(id) => {
                model.free_servers += 1;
                if model.people[id as usize].place == Where::InScreening {
                    model.become_ready(id, time);
                }
                while model.free_servers > 0 {
                    let Some(next) = model.screening_queue.pop_front() else {
                        break;
                    };
                    if model.people[next as usize].place == Where::ScreeningQueue {
                        model.free_servers -= 1;
                        model.start_screening(next, time);
                    }
                }
            }
            Event::Flight(seats) => {
                let mut boarded = 0;
                while boarded < seats {
                    let Some(Reverse((_, id))) = model.ready.pop() else {
                        break;
                    };
                    if model.people[id as usize].place == Where::Ready {
                        model.depart(id, time);
                        boarded += 1;
                    }
                }
            }
            Event::Exit(id) => {
                if model.people[id as usize].place != Where::Gone {
                    model.out.exited += 1;
                    model.leave(id, time);
                }
            }
        }
    }
    model.advance(horizon, &mut next_day, days);
    model.out
}
