//! The planner against brute force and against an independent MILP.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on what it does not expect"
)]
#![allow(
    clippy::too_many_lines,
    reason = "a test walks one flow from start to end, in the order a user would"
)]

use proptest::prelude::*;
use refuge_core::Flag;
use refuge_plan::*;
use std::collections::BTreeMap;

fn household(id: &str, size: i64, origin: &str, priority: f64) -> Household {
    Household {
        id: id.into(),
        size,
        origin: origin.into(),
        waiting_days: 0.0,
        flags: Vec::new(),
        eligible: true,
        ineligible_reason: None,
        priority: Some(priority),
        pin: None,
    }
}

fn batch(id: &str, day: i64, seats: i64, origins: &[&str]) -> Batch {
    Batch {
        id: id.into(),
        day,
        seats,
        origins: origins.iter().map(|origin| origin.to_string()).collect(),
    }
}

fn instance(batches: Vec<Batch>, households: Vec<Household>) -> Instance {
    Instance {
        end_day: None,
        batches,
        households,
        policy: Policy::default(),
    }
}

/// Checks every rule on a plan and recomputes its objective.
fn check_plan(instance: &Instance, plan: &Plan) -> f64 {
    let end_day = instance.end_day();
    let by_id: BTreeMap<&str, &Household> = instance
        .households
        .iter()
        .map(|h| (h.id.as_str(), h))
        .collect();
    let mut seen = BTreeMap::new();
    let mut objective = 0.0;
    for planned in &plan.batches {
        let spec = instance
            .batches
            .iter()
            .find(|b| b.id == planned.id)
            .unwrap();
        let mut used = 0;
        let mut per_origin: BTreeMap<&str, i64> = BTreeMap::new();
        for id in &planned.households {
            let household = by_id[id.as_str()];
            assert!(
                seen.insert(id.clone(), planned.id.clone()).is_none(),
                "{id} placed twice"
            );
            assert!(
                spec.origins.contains(&household.origin),
                "{id} from a foreign origin"
            );
            assert!(household.eligible);
            assert_ne!(household.pin, Some(Pin::Out));
            used += household.size;
            *per_origin.entry(household.origin.as_str()).or_default() += household.size;
            objective += instance.policy.priority(household).total
                * household.size as f64
                * (end_day - spec.day) as f64;
        }
        assert!(used <= spec.seats, "batch {} over its seats", spec.id);
        assert_eq!(used, planned.used);
        if let Some(share) = instance.policy.max_share {
            for (origin, count) in per_origin {
                assert!(
                    count as f64 <= (spec.seats as f64 * share + 1e-9).floor(),
                    "{origin} over its share"
                );
            }
        }
    }
    for household in &instance.households {
        match &household.pin {
            Some(Pin::In) => assert!(
                seen.contains_key(&household.id),
                "{} pinned in",
                household.id
            ),
            Some(Pin::Batch(batch)) => assert_eq!(seen.get(&household.id), Some(batch)),
            _ => {}
        }
    }
    assert_eq!(plan.explanations.len(), instance.households.len());
    assert!(
        (objective - plan.objective).abs() <= 1e-6 * objective.max(1.0),
        "{objective} vs {}",
        plan.objective
    );
    objective
}

/// The best objective by trying every assignment (None: the pins cannot hold).
fn brute_force(instance: &Instance) -> Option<f64> {
    let end_day = instance.end_day();
    let households = &instance.households;
    let batches = &instance.batches;
    let options = batches.len() + 1;
    let mut best: Option<f64> = None;
    let total = options.pow(households.len() as u32);
    'assignment: for mut code in 0..total {
        let mut used = vec![0i64; batches.len()];
        let mut per_origin: BTreeMap<(usize, &str), i64> = BTreeMap::new();
        let mut value = 0.0;
        for household in households {
            let choice = code % options;
            code /= options;
            if choice == batches.len() {
                if matches!(household.pin, Some(Pin::In) | Some(Pin::Batch(_))) {
                    continue 'assignment;
                }
                continue;
            }
            let spec = &batches[choice];
            if !household.eligible
                || household.pin == Some(Pin::Out)
                || !spec.origins.contains(&household.origin)
                || matches!(&household.pin, Some(Pin::Batch(id)) if *id != spec.id)
            {
                continue 'assignment;
            }
            used[choice] += household.size;
            *per_origin
                .entry((choice, household.origin.as_str()))
                .or_default() += household.size;
            value += instance.policy.priority(household).total
                * household.size as f64
                * (end_day - spec.day) as f64;
        }
        for (choice, spec) in batches.iter().enumerate() {
            if used[choice] > spec.seats {
                continue 'assignment;
            }
        }
        if let Some(share) = instance.policy.max_share {
            for ((choice, _), count) in &per_origin {
                if *count as f64 > (batches[*choice].seats as f64 * share + 1e-9).floor() {
                    continue 'assignment;
                }
            }
        }
        if best.is_none_or(|best| value > best) {
            best = Some(value);
        }
    }
    best
}

fn small_instance() -> impl Strategy<Value = Instance> {
    let household_shape = (1i64..4, 0usize..2, 1u32..40, 0u8..12, any::<bool>());
    let batch_shape = (0i64..20, 1i64..8, 0usize..3);
    (
        prop::collection::vec(household_shape, 1..7),
        prop::collection::vec(batch_shape, 1..4),
        prop::option::of(prop_oneof![Just(0.5), Just(0.75)]),
    )
        .prop_map(|(households, batches, max_share)| {
            let origins = ["A", "B"];
            let batches = batches
                .into_iter()
                .enumerate()
                .map(|(index, (day, seats, which))| {
                    let allowed: Vec<&str> = match which {
                        0 => vec!["A"],
                        1 => vec!["B"],
                        _ => vec!["A", "B"],
                    };
                    batch(&format!("b{index}"), day, seats, &allowed)
                })
                .collect::<Vec<_>>();
            let ids: Vec<String> = batches.iter().map(|b| b.id.clone()).collect();
            let households = households
                .into_iter()
                .enumerate()
                .map(|(index, (size, origin, priority, pin, eligible))| {
                    let mut h = household(
                        &format!("h{index}"),
                        size,
                        origins[origin],
                        f64::from(priority) / 7.0,
                    );
                    h.eligible = eligible || pin < 6;
                    h.pin = match pin {
                        0 => Some(Pin::Out),
                        1 => Some(Pin::In),
                        2 => Some(Pin::Batch(ids[index % ids.len()].clone())),
                        _ => None,
                    };
                    h
                })
                .collect();
            let mut instance = instance(batches, households);
            instance.policy.max_share = max_share;
            instance
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// On small instances the planner finds exactly the brute-force optimum, and agrees when
    /// the pins cannot hold.
    #[test]
    fn optimal_on_small_instances(instance in small_instance()) {
        let largest = instance.batches.iter().map(|b| b.seats).max().unwrap();
        prop_assume!(instance.households.iter().all(|h| h.size <= largest));
        let best = brute_force(&instance);
        match solve(&instance) {
            Ok(plan) => {
                let objective = check_plan(&instance, &plan);
                let best = best.expect("brute force found no feasible plan");
                prop_assert!((objective - best).abs() <= 1e-6 * best.max(1.0), "planner {objective} vs brute force {best}");
                prop_assert!(plan.optimal);
                prop_assert!(plan.bound + 1e-6 >= objective);
            }
            Err(PlanError::InfeasiblePins(_)) => prop_assert!(best.is_none(), "the planner gave up but {best:?} exists"),
            Err(other) => prop_assert!(false, "unexpected error {other}"),
        }
    }
}

/// A deterministic pseudo-random instance of a given shape (xorshift, no dependency).
fn generated(households: usize, batches: usize, origins: usize, seed: u64) -> Instance {
    let mut state = seed.max(1);
    let mut next = move |bound: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % bound
    };
    let origin_names: Vec<String> = (0..origins).map(|o| format!("SHL-{o}")).collect();
    let batch_list = (0..batches)
        .map(|index| {
            let mut allowed: Vec<&str> = origin_names
                .iter()
                .filter(|_| next(3) > 0)
                .map(String::as_str)
                .collect();
            if allowed.is_empty() {
                allowed.push(&origin_names[index % origins]);
            }
            batch(
                &format!("B{index:02}"),
                7 * index as i64 + next(5) as i64,
                3 + next(12) as i64,
                &allowed,
            )
        })
        .collect();
    let flags = [
        Flag::Minor,
        Flag::SelfHarmRisk,
        Flag::Elderly,
        Flag::Pregnant,
    ];
    let household_list = (0..households)
        .map(|index| Household {
            id: format!("H{index:05}"),
            size: 1 + next(4) as i64,
            origin: origin_names[next(origins as u64) as usize].clone(),
            waiting_days: next(200) as f64,
            flags: if next(5) == 0 {
                vec![flags[next(4) as usize]]
            } else {
                Vec::new()
            },
            eligible: next(10) > 0,
            ineligible_reason: None,
            priority: None,
            pin: None,
        })
        .collect();
    instance(batch_list, household_list)
}

/// The same model written independently as a MILP and solved by good_lp's pure-Rust solver.
fn milp_objective(instance: &Instance) -> f64 {
    use good_lp::{
        Expression, ProblemVariables, Solution, SolverModel, constraint, microlp, variable,
    };
    let end_day = instance.end_day();
    let mut variables = ProblemVariables::new();
    let mut x = BTreeMap::new();
    for (h, household) in instance.households.iter().enumerate() {
        if !household.eligible {
            continue;
        }
        for (b, spec) in instance.batches.iter().enumerate() {
            if spec.origins.contains(&household.origin) {
                x.insert((h, b), variables.add(variable().binary()));
            }
        }
    }
    let mut objective = Expression::from(0.0);
    for ((h, b), var) in &x {
        let household = &instance.households[*h];
        let weight = instance.policy.priority(household).total
            * household.size as f64
            * (end_day - instance.batches[*b].day) as f64;
        objective += weight * *var;
    }
    let mut model = variables.maximise(objective.clone()).using(microlp);
    for h in 0..instance.households.len() {
        let once: Expression = x
            .iter()
            .filter(|((hh, _), _)| *hh == h)
            .map(|(_, v)| *v)
            .sum();
        model = model.with(constraint!(once <= 1));
    }
    for (b, spec) in instance.batches.iter().enumerate() {
        let seats: Expression = x
            .iter()
            .filter(|((_, bb), _)| *bb == b)
            .map(|((h, _), v)| instance.households[*h].size as f64 * *v)
            .sum();
        model = model.with(constraint!(seats <= spec.seats as f64));
    }
    let solution = model.solve().expect("the MILP solves");
    solution.eval(&objective)
}

/// Found by the property test: the best plan drops a low-priority person so that a household
/// can fly earlier. The relaxation once had no way to drop a unit for a better one.
#[test]
fn dropping_one_person_for_an_earlier_household_is_found() {
    let mut pinned_large = household("h2", 3, "A", 2.0);
    pinned_large.pin = Some(Pin::In);
    let mut pinned_small = household("h3", 1, "B", 3.0);
    pinned_small.pin = Some(Pin::In);
    let instance = instance(
        vec![batch("b0", 0, 5, &["A", "B"]), batch("b1", 2, 2, &["B"])],
        vec![
            household("h0", 2, "B", 3.0),
            household("h1", 1, "A", 0.125),
            pinned_large,
            pinned_small,
        ],
    );
    let plan = solve(&instance).unwrap();
    let objective = check_plan(&instance, &plan);
    assert!((objective - brute_force(&instance).unwrap()).abs() < 1e-9);
    let on = |id: &str| {
        plan.batches
            .iter()
            .find(|b| b.id == id)
            .unwrap()
            .households
            .clone()
    };
    assert_eq!(on("b0"), ["h0", "h2"]);
    assert_eq!(on("b1"), ["h3"]);
}

#[test]
fn agrees_with_an_independent_milp_on_medium_instances() {
    for seed in [3, 17, 29, 101] {
        let instance = generated(40, 4, 3, seed);
        let plan = solve(&instance).unwrap();
        let objective = check_plan(&instance, &plan);
        let milp = milp_objective(&instance);
        assert!(
            (objective - milp).abs() <= 1e-6 * milp,
            "seed {seed}: planner {objective}, MILP {milp}"
        );
        assert!(
            plan.optimal && plan.gap <= 1e-6,
            "seed {seed}: gap {}",
            plan.gap
        );
    }
}

#[test]
fn larger_instances_are_solved_to_a_proven_gap() {
    let instance = generated(2_000, 6, 4, 7);
    let plan = solve(&instance).unwrap();
    check_plan(&instance, &plan);
    assert!(plan.gap <= 1e-6, "gap {}", plan.gap);
    assert!(plan.bound >= plan.objective);
}

#[test]
fn the_same_instance_gives_the_same_plan_and_ties_go_to_the_lower_id() {
    let households = vec![
        household("h2", 1, "A", 2.0),
        household("h1", 1, "A", 2.0),
        household("h3", 1, "A", 2.0),
    ];
    let instance = instance(vec![batch("b", 1, 2, &["A"])], households);
    let first = solve(&instance).unwrap();
    assert_eq!(first, solve(&instance).unwrap());
    assert_eq!(first.batches[0].households, vec!["h1", "h2"]);
    let generated = generated(300, 4, 3, 11);
    assert_eq!(solve(&generated).unwrap(), solve(&generated).unwrap());
}

#[test]
fn households_travel_whole_and_are_explained() {
    let mut households = vec![
        household("family", 4, "A", 3.0),
        household("single", 1, "A", 2.0),
        household("late", 1, "A", 1.0),
        household("far", 1, "C", 9.0),
    ];
    households.push(Household {
        eligible: false,
        ineligible_reason: Some("on hold: medical".into()),
        ..household("held", 1, "A", 9.0)
    });
    let instance = instance(vec![batch("b", 10, 5, &["A"])], households);
    let plan = solve(&instance).unwrap();
    assert_eq!(plan.batches[0].households, vec!["family", "single"]);
    let reason = |id: &str| {
        plan.explanations
            .iter()
            .find(|e| e.household == id)
            .unwrap()
            .decision
            .clone()
    };
    assert!(matches!(reason("family"), Decision::Selected { batch, .. } if batch == "b"));
    match reason("late") {
        Decision::NotSelected { reason } => {
            assert!(
                reason.contains("b: 0 of 5 seats left, lowest selected priority 2.00"),
                "{reason}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(reason("far"), Decision::NotSelected { reason } if reason.contains("no batch picks up from C"))
    );
    assert_eq!(
        reason("held"),
        Decision::Ineligible {
            reason: "on hold: medical".into()
        }
    );
}

#[test]
fn the_priority_rule_follows_the_policy() {
    let household = Household {
        priority: None,
        waiting_days: 90.0,
        flags: vec![
            Flag::SelfHarmRisk,
            Flag::Minor,
            Flag::Minor,
            Flag::ChronicIllness,
        ],
        ..household("h", 3, "A", 0.0)
    };
    let parts = Policy::default().priority(&household);
    assert!((parts.total - (1.0 + 1.5 + 4.0 + 2.0 + 0.5)).abs() < 1e-12);
    assert_eq!(
        parts.describe(),
        "9.00 = 1 base + 1.50 waiting + 2 minor + 0.5 chronic_illness + 4 self_harm_risk"
    );
}

#[test]
fn pins_are_hard_and_impossible_pins_are_named() {
    let mut households = vec![
        household("a", 2, "A", 1.0),
        household("b", 2, "A", 5.0),
        household("c", 2, "A", 4.0),
    ];
    households[0].pin = Some(Pin::In);
    households[1].pin = Some(Pin::Out);
    let plan = solve(&instance(
        vec![batch("b1", 1, 4, &["A"])],
        households.clone(),
    ))
    .unwrap();
    assert_eq!(plan.batches[0].households, vec!["c", "a"]);
    households[2].pin = Some(Pin::Batch("b1".into()));
    households[1].pin = Some(Pin::In);
    let error = solve(&instance(vec![batch("b1", 1, 4, &["A"])], households)).unwrap_err();
    assert!(
        matches!(error, PlanError::InfeasiblePins(ref text) if text.contains("a, b") || text.contains("b, a")),
        "{error}"
    );
}

#[test]
fn bad_input_names_the_field() {
    let check = |instance: Instance, expected: &str| {
        let error = solve(&instance).unwrap_err().to_string();
        assert!(error.starts_with(expected), "{error}");
    };
    check(
        instance(vec![batch("b", 1, -3, &["A"])], vec![]),
        "batches[0].seats: -3 is not a number of seats from 1 to 5000",
    );
    // Found by fuzz/plan_instance_json: 8,467,440,737,095,516 seats made the rounding's
    // knapsack ask for 32 GiB.
    check(
        instance(vec![batch("b", 1, 8_467_440_737_095_516, &["A"])], vec![]),
        "batches[0].seats: 8467440737095516 is not a number of seats from 1 to 5000",
    );
    check(
        instance(
            vec![batch("b", 1, 3, &["A"])],
            vec![household("h", 4, "A", 1.0)],
        ),
        "households[0].size: 4 people do not fit on any batch",
    );
    let mut pinned = household("h", 1, "A", 1.0);
    pinned.pin = Some(Pin::Batch("zz".into()));
    check(
        instance(vec![batch("b", 1, 3, &["A"])], vec![pinned]),
        "households[0].pin: 'zz' is not in, out, or a batch id",
    );
    check(
        instance(vec![batch("b", 1, 3, &[])], vec![]),
        "batches[0].origins: names no origin location",
    );
    let parsed: Result<Instance, _> =
        serde_json::from_str(r#"{"batches": [], "households": [], "extra": 1}"#);
    assert!(
        parsed
            .unwrap_err()
            .to_string()
            .contains("unknown field `extra`")
    );
}

/// The rounding's knapsack is as wide as the seats the households hold, not the batch's
/// spare seats: a batch of the most seats plans a few households at once.
#[test]
fn a_batch_of_the_most_seats_plans_a_few_households_at_once() {
    let plan = solve(&instance(
        vec![batch("b", 1, 5_000, &["A"])],
        vec![household("h1", 3, "A", 10.0), household("h2", 2, "A", 5.0)],
    ))
    .unwrap();
    assert_eq!(plan.batches[0].households.len(), 2);
}
