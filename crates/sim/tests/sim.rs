//! The simulator against queueing theory, and its promises: reproducible, clear errors.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on what it does not expect"
)]
#![allow(
    clippy::too_many_lines,
    reason = "a test walks one flow from start to end, in the order a user would"
)]

use refuge_sim::*;

/// Erlang C: the probability that an arrival waits in an M/M/c queue.
fn erlang_c(lambda: f64, mu: f64, servers: u32) -> f64 {
    let a = lambda / mu;
    let c = f64::from(servers);
    let rho = a / c;
    let mut term = 1.0;
    let mut sum = 1.0;
    for k in 1..servers {
        term *= a / f64::from(k);
        sum += term;
    }
    let last = term * a / c / (1.0 - rho);
    last / (sum + last)
}

fn mmc(
    lambda_per_day: f64,
    mean_service_days: f64,
    servers: u32,
    customers: f64,
    replications: u32,
) -> Scenario {
    let toml = format!(
        r#"
        horizon_days = {horizon}
        replications = {replications}
        seed = 42
        [[shelter]]
        name = "door"
        arrivals_per_month = {rate}
        [screening]
        servers = {servers}
        mean_days = {mean_service_days}
        distribution = "exponential"
        "#,
        horizon = customers / lambda_per_day / f64::from(replications),
        rate = lambda_per_day * DAYS_PER_MONTH,
    );
    toml::from_str(&toml).unwrap()
}

/// Time is scaled (service in hundredths of a day) so that tens of millions of customers fit
/// in a short horizon; queueing results do not depend on the unit of time.
#[test]
fn mean_screening_wait_matches_erlang_c_within_one_percent() {
    // (λ per day, mean service days, servers, customers): ρ = 0.8, 0.9 and 0.95. Waits are
    // correlated, more so near saturation: the customer counts make 1% at least three
    // standard errors (measured spread across seeds: 0.3% at ρ = 0.95 with 4×10^7).
    for (lambda, service, servers, customers) in [
        (800.0, 0.01, 10, 1.0e7),
        (450.0, 0.01, 5, 1.0e7),
        (950.0, 0.01, 10, 4.0e7),
    ] {
        let mu = 1.0 / service;
        let expected = erlang_c(lambda, mu, servers) / (f64::from(servers) * mu - lambda);
        let scenario = mmc(lambda, service, servers, customers, 8);
        let forecast = forecast(&scenario, 2).unwrap();
        let measured = forecast.screening_wait_mean.unwrap();
        let error = (measured - expected).abs() / expected;
        assert!(
            error < 0.01,
            "λ={lambda} μ={mu} c={servers}: simulated {measured:.6}, Erlang C {expected:.6}, error {:.2}%",
            error * 100.0
        );
        assert!(forecast.arrivals as f64 >= customers * 0.99);
    }
}

#[test]
fn littles_law_holds_on_every_run() {
    let mut scenario = mmc(900.0, 0.01, 10, 4.0e5, 4);
    scenario.exits = Some(Exits { per_day: 0.01 });
    for replication in run(&scenario, 2) {
        let accepted = replication.arrivals as f64 / scenario.horizon_days;
        let l = replication.area / scenario.horizon_days;
        let w = replication.sojourn_sum / replication.left as f64;
        assert!(
            (l - accepted * w).abs() / l < 0.02,
            "L={l:.3} λW={:.3}",
            accepted * w
        );
    }
}

const PIPELINE: &str = r#"
horizon_days = 730.5
replications = 64
seed = 1000
target_wait_days = 60

[[shelter]]
name = "A"
capacity = 400
overflow = "wait"
arrivals_per_month = 160
initial_waiting_days = [10, 20, 30, 45, 80]

[[shelter]]
name = "B"
capacity = 150
overflow = "reject"
arrivals = [[0, 60], [200, 90]]

[[shelter]]
name = "C"
capacity = 300
arrivals_per_month = 70
arrivals_cv = 0.2

[screening]
servers = 10
mean_days = 1.0
distribution = "lognormal"
cv = 0.5

[[flights]]
every_days = 14
first_day = 14
seats = 110

[[transfer]]
day = 200
seats = 468

[exits]
per_day = 0.001
"#;

#[test]
fn the_same_seed_gives_identical_output_whatever_the_threads() {
    let scenario: Scenario = toml::from_str(PIPELINE).unwrap();
    let one = serde_json::to_string(&forecast(&scenario, 1).unwrap()).unwrap();
    let two = serde_json::to_string(&forecast(&scenario, 2).unwrap()).unwrap();
    let five = serde_json::to_string(&forecast(&scenario, 5).unwrap()).unwrap();
    assert_eq!(one, two);
    assert_eq!(one, five);
    let mut reseeded = scenario.clone();
    reseeded.seed = 1001;
    assert_ne!(
        one,
        serde_json::to_string(&forecast(&reseeded, 2).unwrap()).unwrap()
    );
}

#[test]
fn a_backlog_grows_when_flights_fall_short_and_a_charter_cuts_it() {
    let scenario: Scenario = toml::from_str(PIPELINE).unwrap();
    let base = forecast(&scenario, 2).unwrap();
    let waiting = &base.waiting.p50;
    assert!(
        waiting[700] > waiting[100],
        "arrivals (about 310 a month) outrun flights (about 240): {} → {}",
        waiting[100],
        waiting[700]
    );
    let b = base.shelters.iter().find(|s| s.name == "B").unwrap();
    assert!(b.turned_away.mean > 0.0, "B turns people away when full");
    assert!(b.occupancy.p90.iter().all(|n| *n <= 150.0));
    let a = base.shelters.iter().find(|s| s.name == "A").unwrap();
    assert!(
        a.p_over_capacity[700] > 0.5,
        "A has a waiting list outside by the end"
    );
    assert!(base.wait.p50 <= base.wait.p90 && base.wait.p90 <= base.wait.p99);

    let mut charter = scenario.clone();
    charter.transfer.push(Transfer {
        day: 300.0,
        seats: 468,
    });
    let with_charter = forecast(&charter, 2).unwrap();
    assert!(
        with_charter.waiting.p50[310] < base.waiting.p50[310] * 0.6,
        "{} vs {}",
        with_charter.waiting.p50[310],
        base.waiting.p50[310]
    );
    assert!(with_charter.wait.mean < base.wait.mean);
}

#[test]
fn without_flights_people_leave_when_screened_and_the_backlog_clears() {
    let scenario: Scenario = toml::from_str(
        r#"
        horizon_days = 120
        replications = 8
        target_wait_days = 5
        [[shelter]]
        name = "A"
        capacity = 50
        arrivals_per_month = 30
        initial_waiting_days = [100, 100, 100]
        [screening]
        servers = 2
        mean_days = 0.5
        distribution = "deterministic"
        "#,
    )
    .unwrap();
    let forecast = forecast(&scenario, 2).unwrap();
    assert_eq!(forecast.backlog_below_target_day, Some(0));
    // Screening takes half a day; the three who had waited 100 days leave at once.
    assert!(forecast.wait.p50 < 1.0, "{}", forecast.wait.p50);
    assert!(forecast.wait.p99 >= 99.0, "{}", forecast.wait.p99);
    let inside = |name: &str| format!("{name} <inside>");
    let svg = chart::svg(
        &forecast,
        &chart::ChartText::english("A <test> & chart", chart::day_ticks(60.0), &inside),
    );
    assert!(
        svg.starts_with("<svg")
            && svg.contains("A &lt;test&gt; &amp; chart")
            && !svg.contains("<script")
    );
}

#[test]
fn bad_scenarios_name_the_key_and_the_reason() {
    let check = |text: &str, expected: &str| {
        let error = match toml::from_str::<Scenario>(text) {
            Err(error) => error.to_string(),
            Ok(scenario) => scenario.validate().unwrap_err().to_string(),
        };
        assert!(
            error.contains(expected),
            "expected '{expected}' in: {error}"
        );
    };
    let shelter = "[[shelter]]\nname = \"A\"\n";
    check(
        &format!("horizon_days = 30\n{shelter}arrivals_per_month = -4\n"),
        "shelter[0].arrivals_per_month: -4 is negative",
    );
    check(
        &format!("horizon_days = 30\n{shelter}[[flights]]\nevery_days = 7\nseats = 0\n"),
        "flights[0].seats: must be at least 1",
    );
    check(
        &format!(
            "horizon_days = 30\n{shelter}[screening]\nservers = 1\nmean_days = 1\ndistribution = \"weibull\"\n"
        ),
        "unknown variant `weibull`",
    );
    check(
        &format!("horizon_days = 30\ncolour = 1\n{shelter}"),
        "unknown field `colour`",
    );
    check(
        &format!("horizon_days = -1\n{shelter}"),
        "horizon_days: -1 is not a positive number",
    );
    check(
        &format!(
            "horizon_days = 30\n{shelter}[screening]\nservers = 1\nmean_days = 1\ndistribution = \"lognormal\"\n"
        ),
        "screening.cv: a lognormal needs cv",
    );
}
