//! The backlog, the demo organisation, batches from plan to completion, and forecasts.

use crate::support::{NOW, Org, PASSPHRASE, TestDb, org};
use refuge_app::*;
use refuge_core::*;

async fn backlog_counts_waits_against_the_target(db: TestDb) {
    let org = org(db).await;
    let lines = org.app.backlog(&org.admin, None).await.unwrap();
    let a = lines.iter().find(|line| line.location == "SHL-A").unwrap();
    assert_eq!((a.capacity, a.present, a.waits.waiting), (3, 1, 1));
    assert_eq!(a.waits.median_days, Some(89));
    assert_eq!(a.waits.over_target, 1);
    assert_eq!(
        org.app.backlog(&org.admin, Some(90)).await.unwrap()[0]
            .waits
            .over_target,
        0
    );
    org.app
        .add_incident(
            &org.admin,
            NewIncident {
                people: &[org.people["a"].clone()],
                narrative: Some("Synthetic"),
                ..NewIncident::new("SHL-A", IncidentKind::SelfHarm, 4)
            },
        )
        .await
        .unwrap();
    let lines = org.app.backlog(&org.admin, None).await.unwrap();
    assert_eq!(lines[0].open_incidents, [0, 0, 0, 1]);
}

async fn the_demo_builds_a_consistent_organisation(db: TestDb) {
    let store = refuge_store::create(&db.url, NodeId(uuid::Uuid::now_v7()))
        .await
        .unwrap();
    let app = App::new(store, Box::new(FixedClock(NOW)));
    let admin = app.init("admin", PASSPHRASE, 600).await.unwrap();
    let options = demo::DemoOptions {
        people: 600,
        ..demo::DemoOptions::default()
    };
    let report = app
        .populate_demo(&admin, &options, PASSPHRASE, &mut |_, _| {})
        .await
        .unwrap();
    assert_eq!(report.people, 600);
    assert_eq!(report.users.len(), 6);
    assert!(app.verify(&admin).await.unwrap().ok());
    let lines = app.backlog(&admin, None).await.unwrap();
    let detention = lines
        .iter()
        .find(|line| line.kind == LocationKind::Detention)
        .unwrap();
    assert!(
        detention.occupancy_percent.unwrap() > 200.0,
        "detention runs at two to four times capacity"
    );
    let longest = lines
        .iter()
        .filter_map(|line| line.waits.max_days)
        .max()
        .unwrap();
    assert!(
        (110..=200).contains(&longest),
        "the backlog has grown to four to six months: {longest}"
    );
    // Those still waiting have said where they want to go: most the South, some elsewhere,
    // some undecided or staying.
    let by_destination = app.backlog_by_destination(&admin, None).await.unwrap();
    let waiting_for = |wish: Option<&str>| {
        by_destination
            .iter()
            .find(|line| line.wish.map(|wish| wish.to_string()).as_deref() == wish)
            .map_or(0, |line| line.waits.waiting)
    };
    let waiting: usize = lines.iter().map(|line| line.waits.waiting).sum();
    assert_eq!(waiting_for(None), 0, "{by_destination:?}");
    assert!(
        waiting_for(Some("KR")) * 10 > waiting * 8,
        "{by_destination:?}"
    );
    assert!(waiting_for(Some("undecided")) > 0, "{by_destination:?}");
    assert!(by_destination.len() >= 4, "{by_destination:?}");
    let coordinator = app.login("coordinator", PASSPHRASE).await.unwrap();
    assert_eq!(coordinator.role(), Role::Coordinator);
}

async fn a_batch_is_planned_pinned_confirmed_departed_and_completed(db: TestDb) {
    let org = org(db).await;
    let app = &org.app;
    app.add_location(
        &org.admin,
        "RCP-KR",
        LocationKind::Reception,
        "KR",
        500,
        None,
        None,
    )
    .await
    .unwrap();
    // Make both people transfer-ready; a is on hold, so only b is eligible at first.
    for key in ["a", "b"] {
        app.set_ready(&org.admin, &org.people[key], Some(true), Some(true))
            .await
            .unwrap();
    }
    app.set_hold(&org.admin, &org.people["a"], Some(HoldReason::Medical))
        .await
        .unwrap();
    let request = BatchRequest {
        label: String::new(),
        date: NOW.date() + time::Duration::days(10),
        seats: 1,
        origins: vec![],
        destination: None,
    };
    let (batch, report) = app
        .create_batch(&org.admin, &request, "RCP-KR", &PlanPolicy::default())
        .await
        .unwrap();
    assert_eq!(batch.status, BatchStatus::Draft);
    assert_eq!(batch.manifest.len(), 1);
    let held = report
        .plan
        .explanations
        .iter()
        .find(|e| e.household != report.plan.batches[0].households[0])
        .unwrap();
    assert!(
        matches!(&held.decision, Decision::Ineligible { reason } if reason.contains("on hold (medical)")),
        "{held:?}"
    );

    // Release a's hold and pin a in: a takes the only seat.
    app.set_hold(&org.admin, &org.people["a"], None)
        .await
        .unwrap();
    let a_household = app
        .show_person(&org.admin, &org.people["a"], false)
        .await
        .unwrap()
        .household_code;
    let (batch, _) = app
        .pin_household(
            &org.admin,
            &batch.code,
            &a_household,
            Some(BatchPin::In),
            &PlanPolicy::default(),
        )
        .await
        .unwrap();
    let a_id = org
        .store
        .person_by_code(&org.people["a"])
        .await
        .unwrap()
        .unwrap()
        .id;
    assert_eq!(batch.manifest, vec![a_id]);

    let analyst = app.login("analyst", PASSPHRASE).await.unwrap();
    assert!(matches!(
        app.set_batch_status(&analyst, &batch.code, BatchStatus::Confirmed)
            .await,
        Err(AppError::Forbidden { .. })
    ));
    assert!(
        app.set_batch_status(&org.admin, &batch.code, BatchStatus::Departed)
            .await
            .is_err(),
        "a draft cannot depart"
    );
    app.set_batch_status(&org.admin, &batch.code, BatchStatus::Confirmed)
        .await
        .unwrap();
    assert!(
        app.pin_household(
            &org.admin,
            &batch.code,
            &a_household,
            None,
            &PlanPolicy::default()
        )
        .await
        .is_err()
    );
    app.set_batch_status(&org.admin, &batch.code, BatchStatus::Departed)
        .await
        .unwrap();
    assert_eq!(
        app.show_person(&org.admin, &org.people["a"], false)
            .await
            .unwrap()
            .person
            .stage,
        Stage::Departed
    );
    app.set_batch_status(&org.admin, &batch.code, BatchStatus::Completed)
        .await
        .unwrap();
    let arrived = app
        .show_person(&org.admin, &org.people["a"], false)
        .await
        .unwrap();
    assert_eq!(
        (arrived.person.stage, arrived.location_code.as_str()),
        (Stage::Arrived, "RCP-KR")
    );

    let mut csv = Vec::new();
    assert_eq!(
        app.manifest_csv(&org.admin, &batch.code, false, &mut csv)
            .await
            .unwrap(),
        1
    );
    let csv = String::from_utf8(csv).unwrap();
    assert!(
        csv.contains(&org.people["a"]) && !csv.contains("Synthetic"),
        "{csv}"
    );
    assert!(app.verify(&org.admin).await.unwrap().ok());
}

/// A forecast that would exhaust the server is refused before it runs, naming what to change;
/// what-if inputs beyond their bounds are refused by name (one request once took 24 GB).
#[tokio::test]
async fn forecasts_beyond_the_work_budget_are_refused_before_they_run() {
    let org = org(TestDb::sqlite()).await;
    let app = &org.app;
    let refused = async |what_if: WhatIf| match app.scenario_from_db(&org.admin, &what_if).await {
        Err(AppError::Invalid { field, .. }) => field,
        other => panic!("expected a refusal, got {other:?}"),
    };
    let factor = WhatIf {
        arrival_factor: 1_000_000.0,
        ..WhatIf::default()
    };
    assert_eq!(refused(factor).await, "arrival factor");
    let replications = WhatIf {
        replications: 1_000_000,
        ..WhatIf::default()
    };
    assert_eq!(refused(replications).await, "replications");
    let transfers = WhatIf {
        extra_transfers: vec![(NOW.date(), 1); MAX_EXTRA_TRANSFERS + 1],
        ..WhatIf::default()
    };
    assert_eq!(refused(transfers).await, "extra transfer");

    // Every input within its bounds, but together beyond the budget.
    let within_bounds = WhatIf {
        horizon_days: MAX_HORIZON_DAYS,
        replications: MAX_REPLICATIONS,
        ..WhatIf::default()
    };
    let scenario = app
        .scenario_from_db(&org.admin, &within_bounds)
        .await
        .unwrap();
    match app.forecast(&org.admin, &scenario, 1) {
        Err(error @ AppError::Invalid { .. }) => {
            assert_eq!(error.field(), Some("forecast"));
            assert!(
                error.to_string().contains("run fewer replications"),
                "{error}"
            );
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// Reception offices RCP-KR (in KR) and RCP-CA (in CA).
async fn receptions_in_korea_and_canada(org: &Org) {
    for (code, country) in [("RCP-KR", "KR"), ("RCP-CA", "CA")] {
        org.app
            .add_location(
                &org.admin,
                code,
                LocationKind::Reception,
                country,
                500,
                None,
                None,
            )
            .await
            .unwrap();
    }
}

/// The backlog by destination counts the people waiting by their wish, with the seats
/// planned to each country (a country with seats and no one wanting it is listed); a
/// forecast of one destination takes those who may go there (they want to, or were not
/// asked) and only the transfers going there. A destination that is no country is refused.
async fn the_backlog_and_the_forecast_are_kept_per_destination(db: TestDb) {
    let org = org(db).await;
    let app = &org.app;
    receptions_in_korea_and_canada(&org).await;
    let summary = |lines: Vec<DestinationBacklog>| {
        lines
            .iter()
            .map(|line| {
                (
                    line.wish.map(|wish| wish.to_string()),
                    line.waits.waiting,
                    line.seats_planned,
                )
            })
            .collect::<Vec<_>>()
    };
    let by_destination =
        async || summary(app.backlog_by_destination(&org.admin, None).await.unwrap());
    assert_eq!(by_destination().await, [(None, 2, 0)]);
    app.set_wish(&org.admin, &org.people["b"], "CA".parse().unwrap())
        .await
        .unwrap();
    for key in ["a", "b"] {
        app.set_ready(&org.admin, &org.people[key], Some(true), Some(true))
            .await
            .unwrap();
    }
    let request = BatchRequest {
        label: String::new(),
        date: NOW.date() + time::Duration::days(10),
        seats: 5,
        origins: vec![],
        destination: None,
    };
    app.create_batch(&org.admin, &request, "RCP-CA", &PlanPolicy::default())
        .await
        .unwrap();
    app.create_batch(
        &org.admin,
        &BatchRequest {
            seats: 7,
            ..request.clone()
        },
        "RCP-KR",
        &PlanPolicy::default(),
    )
    .await
    .unwrap();
    let waited = (NOW.date() - time::macros::date!(2026 - 09 - 01)).whole_days();
    let lines = app
        .backlog_by_destination(&org.admin, Some(30))
        .await
        .unwrap();
    assert_eq!(lines[0].waits.median_days, Some(waited));
    assert_eq!(lines[0].waits.over_target, 1);
    assert_eq!(
        summary(lines),
        [
            (Some("CA".to_string()), 1, 5),
            (Some("KR".to_string()), 0, 7),
            (None, 1, 0)
        ]
    );

    let scenario_for = async |destination: Option<&str>| {
        let scenario = app
            .scenario_from_db(
                &org.admin,
                &WhatIf {
                    destination: destination.map(str::to_string),
                    ..WhatIf::default()
                },
            )
            .await
            .unwrap();
        let waiting: usize = scenario
            .shelters
            .iter()
            .map(|shelter| shelter.initial_waiting_days.len())
            .sum();
        let mut seats: Vec<u32> = scenario
            .transfer
            .iter()
            .map(|transfer| transfer.seats)
            .collect();
        seats.sort_unstable();
        (waiting, seats)
    };
    assert_eq!(scenario_for(None).await, (2, vec![5, 7]));
    // b wants Canada and a was not asked: both may go there, on the Canadian transfer only.
    assert_eq!(scenario_for(Some("ca")).await, (2, vec![5]));
    assert_eq!(scenario_for(Some("KR")).await, (1, vec![7]));
    assert_eq!(scenario_for(Some("US")).await, (1, vec![]));
    // b waits at SHL-B for Canada: Korea's queue has the beds that are left there.
    let korea = app
        .scenario_from_db(
            &org.admin,
            &WhatIf {
                destination: Some("KR".into()),
                ..WhatIf::default()
            },
        )
        .await
        .unwrap();
    let beds: Vec<(&str, Option<u32>)> = korea
        .shelters
        .iter()
        .map(|shelter| (shelter.name.as_str(), shelter.capacity))
        .collect();
    assert_eq!(beds, [("SHL-A", Some(3)), ("SHL-B", Some(2))]);
    // The counts are the organisation's: none for a caseworker limited to one shelter.
    let caseworker = app.login("caseworker", PASSPHRASE).await.unwrap();
    assert!(
        app.backlog_by_destination(&caseworker, None)
            .await
            .unwrap()
            .is_empty()
    );
    for wrong in ["undecided", "KOR", ""] {
        let error = app
            .scenario_from_db(
                &org.admin,
                &WhatIf {
                    destination: Some(wrong.to_string()),
                    ..WhatIf::default()
                },
            )
            .await
            .unwrap_err();
        assert_eq!(error.field(), Some("destination"), "{wrong}: {error}");
    }
    assert!(
        app.backlog_by_destination(&org.admin, Some(0))
            .await
            .is_err()
    );
    // The aggregate behind the split agrees with the people table.
    assert!(app.verify(&org.admin).await.unwrap().ok());
}

/// A transfer seats only people who want to go where it goes; the others are explained, the
/// wish is in the history, and a plan may not mix destinations.
async fn a_transfer_seats_only_those_who_want_to_go_where_it_goes(db: TestDb) {
    let org = org(db).await;
    let app = &org.app;
    receptions_in_korea_and_canada(&org).await;
    for key in ["a", "b"] {
        app.set_ready(&org.admin, &org.people[key], Some(true), Some(true))
            .await
            .unwrap();
    }
    let wants = |text: &str| text.parse::<DestinationWish>().unwrap();
    app.set_wish(&org.admin, &org.people["a"], wants("CA"))
        .await
        .unwrap();
    app.set_wish(&org.admin, &org.people["b"], wants("undecided"))
        .await
        .unwrap();
    let request = BatchRequest {
        label: String::new(),
        date: NOW.date() + time::Duration::days(10),
        seats: 5,
        origins: vec![],
        destination: None,
    };
    let reason_of = |report: &PlanReport, person: &str| {
        report
            .units
            .values()
            .find(|unit| unit.person_codes.iter().any(|code| code == person))
            .map(|unit| unit.blockers.clone())
            .unwrap()
    };
    let (to_korea, report) = app
        .create_batch(&org.admin, &request, "RCP-KR", &PlanPolicy::default())
        .await
        .unwrap();
    assert!(to_korea.manifest.is_empty(), "{:?}", to_korea.manifest);
    assert_eq!(
        reason_of(&report, &org.people["a"])
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        [format!("{} wants CA, batch goes to KR", org.people["a"])]
    );
    assert!(
        reason_of(&report, &org.people["b"])
            .iter()
            .any(|blocker| blocker.to_string().ends_with("has not decided where to go"))
    );
    let (to_canada, _) = app
        .create_batch(&org.admin, &request, "RCP-CA", &PlanPolicy::default())
        .await
        .unwrap();
    let a_id = app
        .show_person(&org.admin, &org.people["a"], false)
        .await
        .unwrap()
        .person
        .id;
    assert_eq!(to_canada.manifest, [a_id]);

    let view = app
        .show_person(&org.admin, &org.people["b"], false)
        .await
        .unwrap();
    assert_eq!(view.person.wish, Some(DestinationWish::Undecided));
    assert_eq!(view.person.wish_recorded, Some(NOW.date()));
    let mut said = Vec::new();
    app.history(&org.admin, Some(&org.people["b"]), |page| {
        said.extend(page.into_iter().map(|event| event.change.to_string()));
        Ok(())
    })
    .await
    .unwrap();
    assert!(
        said.iter().any(|line| line.starts_with("wants: undecided")),
        "{said:?}"
    );

    let mixed = [
        BatchRequest {
            destination: Some("KR".into()),
            ..request.clone()
        },
        BatchRequest {
            destination: Some("CA".into()),
            ..request.clone()
        },
    ];
    match app
        .plan_preview(&org.admin, &mixed, &PlanPolicy::default())
        .await
    {
        Err(error @ AppError::Invalid { .. }) => {
            assert_eq!(error.field(), Some("destination"))
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(app.verify(&org.admin).await.unwrap().ok());
}

refuge_store::conformance!(
    a_transfer_seats_only_those_who_want_to_go_where_it_goes,
    the_backlog_and_the_forecast_are_kept_per_destination,
    backlog_counts_waits_against_the_target,
    the_demo_builds_a_consistent_organisation,
    a_batch_is_planned_pinned_confirmed_departed_and_completed,
);
