//! Replications in parallel, and their summary: bands over the horizon, waiting times,
//! the day the backlog falls below the target wait, people turned away.

use crate::engine::{Replication, WAIT_BIN_DAYS, replicate};
use crate::scenario::Scenario;
use serde::Serialize;

/// The 10th, 50th and 90th percentile over replications, per day, and the mean beside them
/// (what an analyst checks against Little's law and queueing theory).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Bands {
    pub p10: Vec<f64>,
    pub p50: Vec<f64>,
    pub p90: Vec<f64>,
    pub mean: Vec<f64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Spread {
    pub mean: f64,
    pub p10: f64,
    pub p90: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ShelterForecast {
    pub name: String,
    pub capacity: Option<u32>,
    /// People inside, per day.
    pub occupancy: Bands,
    /// People on the waiting list outside, per day.
    pub waiting_list: Bands,
    /// Share of replications in which demand exceeds capacity, per day: more people inside
    /// and waiting outside than beds, or someone turned away that day.
    pub p_over_capacity: Vec<f64>,
    pub turned_away: Spread,
}

/// Waiting time from arrival at a shelter's door to departure, over everyone who left on a
/// flight before the horizon, in all replications.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct WaitStats {
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub departed: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Forecast {
    pub horizon_days: f64,
    pub replications: u32,
    pub target_wait_days: f64,
    pub shelters: Vec<ShelterForecast>,
    /// Everyone waiting (inside and outside every shelter), per day.
    pub waiting: Bands,
    /// Mean days since arrival of everyone waiting, per day.
    pub backlog_age: Bands,
    pub wait: WaitStats,
    /// First day from which the median backlog age stays at or below the target wait.
    pub backlog_below_target_day: Option<u32>,
    /// Mean wait between entering a shelter and the start of screening (with screening).
    pub screening_wait_mean: Option<f64>,
    pub arrivals: u64,
    pub exited: u64,
    /// Little's law per replication, averaged: L (time-average number in the system), λ
    /// (accepted arrivals per day) and W (mean time in the system of those who left).
    pub little: LittleCheck,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LittleCheck {
    pub l: f64,
    pub lambda: f64,
    pub w: f64,
}

/// Runs every replication of a valid scenario on `threads` threads.
pub fn run(scenario: &Scenario, threads: usize) -> Vec<Replication> {
    let replications = scenario.replications as usize;
    let threads = threads.clamp(1, replications.max(1));
    let mut results: Vec<Option<Replication>> = (0..replications).map(|_| None).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|thread| {
                scope.spawn(move || {
                    (thread..replications)
                        .step_by(threads)
                        .map(|index| (index, replicate(scenario, scenario.seed, index as u64)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for handle in handles {
            if let Ok(done) = handle.join() {
                for (index, replication) in done {
                    results[index] = Some(replication);
                }
            }
        }
    });
    results.into_iter().flatten().collect()
}

fn percentile_of(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[(rank - 1).min(sorted.len() - 1)]
}

/// Nearest-rank percentile by selection (no full sort); reorders `values`.
fn select_percentile(values: &mut [f64], p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * values.len() as f64).ceil().max(1.0) as usize;
    let index = (rank - 1).min(values.len() - 1);
    *values.select_nth_unstable_by(index, f64::total_cmp).1
}

fn bands(days: usize, value: impl Fn(usize, usize) -> f64, replications: usize) -> Bands {
    let mut out = Bands {
        p10: Vec::with_capacity(days),
        p50: Vec::with_capacity(days),
        p90: Vec::with_capacity(days),
        mean: Vec::with_capacity(days),
    };
    let mut column = vec![0.0; replications];
    for day in 0..days {
        for (replication, slot) in column.iter_mut().enumerate() {
            *slot = value(replication, day);
        }
        out.mean
            .push(column.iter().sum::<f64>() / replications.max(1) as f64);
        for (percent, series) in [
            (10.0, &mut out.p10),
            (50.0, &mut out.p50),
            (90.0, &mut out.p90),
        ] {
            series.push(select_percentile(&mut column, percent));
        }
    }
    out
}

fn spread(mut values: Vec<f64>) -> Spread {
    let mean = values.iter().sum::<f64>() / values.len().max(1) as f64;
    values.sort_by(f64::total_cmp);
    Spread {
        mean,
        p10: percentile_of(&values, 10.0),
        p90: percentile_of(&values, 90.0),
    }
}

/// Summarises replications (in replication order, so the result does not depend on threads).
pub fn summarize(scenario: &Scenario, replications: &[Replication]) -> Forecast {
    let shelters = scenario.shelters.len();
    let count = replications.len();
    let days = replications.first().map_or(0, |r| r.backlog_age.len());
    let shelter_forecast = |shelter: usize| ShelterForecast {
        name: scenario.shelters[shelter].name.clone(),
        capacity: scenario.shelters[shelter].capacity,
        occupancy: bands(
            days,
            |r, day| f64::from(replications[r].occupancy[day * shelters + shelter]),
            count,
        ),
        waiting_list: bands(
            days,
            |r, day| f64::from(replications[r].waiting_list[day * shelters + shelter]),
            count,
        ),
        p_over_capacity: (0..days)
            .map(|day| {
                replications
                    .iter()
                    .filter(|r| r.over_capacity[day * shelters + shelter])
                    .count() as f64
                    / count as f64
            })
            .collect(),
        turned_away: spread(
            replications
                .iter()
                .map(|r| f64::from(r.turned_away[shelter]))
                .collect(),
        ),
    };
    // Shelters on a second thread while this one does the totals; the order of the output
    // does not depend on it.
    let (shelter_forecasts, (waiting, backlog_age)) = std::thread::scope(|scope| {
        let handle = scope.spawn(|| (0..shelters).map(shelter_forecast).collect::<Vec<_>>());
        let totals = totals(replications, shelters, days);
        let shelter_forecasts = handle
            .join()
            .unwrap_or_else(|_| (0..shelters).map(shelter_forecast).collect());
        (shelter_forecasts, totals)
    });
    let below = (0..days)
        .rev()
        .take_while(|day| backlog_age.p50[*day] <= scenario.target_wait_days)
        .last();
    let wait = wait_stats(replications);
    let screened: u64 = replications.iter().map(|r| r.screened).sum();
    let little = little_check(scenario, replications);
    Forecast {
        horizon_days: scenario.horizon_days,
        replications: scenario.replications,
        target_wait_days: scenario.target_wait_days,
        shelters: shelter_forecasts,
        waiting,
        backlog_age,
        wait,
        backlog_below_target_day: below.map(|day| day as u32),
        screening_wait_mean: scenario.screening.as_ref().map(|_| {
            replications
                .iter()
                .map(|r| r.screening_wait_sum)
                .sum::<f64>()
                / screened.max(1) as f64
        }),
        arrivals: replications.iter().map(|r| r.arrivals).sum(),
        exited: replications.iter().map(|r| r.exited).sum(),
        little,
    }
}

/// Validates, runs and summarises a scenario.
pub fn forecast(scenario: &Scenario, threads: usize) -> Result<Forecast, crate::ScenarioError> {
    scenario.validate()?;
    Ok(summarize(scenario, &run(scenario, threads)))
}

/// The wait of everyone who departed, over all replications: the mean and percentiles from
/// the pooled histogram.
fn wait_stats(replications: &[Replication]) -> WaitStats {
    let bins = replications
        .iter()
        .map(|r| r.wait_histogram.len())
        .max()
        .unwrap_or(0);
    let mut histogram = vec![0u64; bins];
    for replication in replications {
        for (bin, value) in replication.wait_histogram.iter().enumerate() {
            histogram[bin] += u64::from(*value);
        }
    }
    let departed: u64 = replications.iter().map(|r| r.departed).sum();
    let wait_at = |p: f64| {
        if departed == 0 {
            return 0.0;
        }
        let target = ((p / 100.0) * departed as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (bin, value) in histogram.iter().enumerate() {
            seen += value;
            if seen >= target {
                return (bin as f64 + 0.5) * WAIT_BIN_DAYS;
            }
        }
        bins as f64 * WAIT_BIN_DAYS
    };
    WaitStats {
        mean: if departed > 0 {
            replications.iter().map(|r| r.wait_sum).sum::<f64>() / departed as f64
        } else {
            0.0
        },
        p50: wait_at(50.0),
        p90: wait_at(90.0),
        p99: wait_at(99.0),
        departed,
    }
}

/// Little's law's three terms (L, λ, W), averaged over replications: a check on the run.
fn little_check(scenario: &Scenario, replications: &[Replication]) -> LittleCheck {
    let count = replications.len();
    replications
        .iter()
        .fold(LittleCheck::default(), |mut sum, r| {
            let accepted = r.arrivals - r.turned_away.iter().map(|n| u64::from(*n)).sum::<u64>();
            sum.l += r.area / scenario.horizon_days / count as f64;
            sum.lambda += accepted as f64 / scenario.horizon_days / count as f64;
            sum.w += if r.left > 0 {
                r.sojourn_sum / r.left as f64
            } else {
                0.0
            } / count as f64;
            sum
        })
}

/// Everyone waiting (in shelters and on their waiting lists) and the backlog's age, by day.
fn totals(replications: &[Replication], shelters: usize, days: usize) -> (Bands, Bands) {
    let count = replications.len();
    let waiting = bands(
        days,
        |r, day| {
            (0..shelters)
                .map(|shelter| {
                    f64::from(
                        replications[r].occupancy[day * shelters + shelter]
                            + replications[r].waiting_list[day * shelters + shelter],
                    )
                })
                .sum()
        },
        count,
    );
    (
        waiting,
        bands(days, |r, day| replications[r].backlog_age[day], count),
    )
}
