//! Welfare checks during long waits: the schedule, check-ins, the checks due on the
//! dashboard and the backlog, the check after a self-harm incident, and the schedule's
//! setting.

use crate::support::{NOW, PASSPHRASE, TestDb, identity, org};
use refuge_app::*;
use refuge_core::*;
use std::collections::BTreeSet;
use time::macros::date;

fn codes(due: &ChecksDue) -> Vec<(&str, CheckReason)> {
    due.checks
        .iter()
        .map(|check| (check.person.as_str(), check.reason))
        .collect()
}

fn checks_at(backlog: &[BacklogLine], location: &str) -> u64 {
    backlog
        .iter()
        .find(|line| line.location == location)
        .map(|line| line.welfare_checks_due)
        .unwrap()
}

/// Both residents have waited since 2026-09-01 (89 days on 2026-11-29): past the first
/// check's 60 days, so both are due; a caseworker sees only hers; a check-in puts the next a
/// month away; a self-harm incident makes a check due that day, before the long waits, until
/// a check-in answers it; and the store's query lists exactly whom the schedule's rule says.
async fn welfare_checks_follow_the_schedule_and_a_check_in_answers_them(db: TestDb) {
    let org = org(db).await;
    let app = &org.app;
    let caseworker = app.login("caseworker", PASSPHRASE).await.unwrap();
    let (a, b) = (&org.people["a"], &org.people["b"]);

    let due = app.checks_due(&org.admin, 10).await.unwrap();
    assert_eq!(due.total, 2);
    // The same reason and day: in the order of their codes.
    let mut both = [
        (a.as_str(), CheckReason::LongWait),
        (b.as_str(), CheckReason::LongWait),
    ];
    both.sort();
    assert_eq!(codes(&due), both);
    assert!(
        due.checks
            .iter()
            .all(|check| check.due == date!(2026 - 10 - 31))
    );
    assert_eq!(
        due.checks
            .iter()
            .find(|check| check.person == *a)
            .unwrap()
            .location,
        "SHL-A"
    );
    let hers = app.checks_due(&caseworker, 10).await.unwrap();
    assert_eq!(
        (codes(&hers), hers.total),
        (vec![(a.as_str(), CheckReason::LongWait)], 1)
    );
    let backlog = app.backlog(&org.admin, None).await.unwrap();
    assert_eq!(
        (checks_at(&backlog, "SHL-A"), checks_at(&backlog, "SHL-B")),
        (1, 1)
    );
    let alerts = app.dashboard(&caseworker).await.unwrap().alerts;
    assert!(
        alerts.iter().any(|alert| matches!(
            alert,
            Alert::CheckDue { code, reason: CheckReason::LongWait, .. } if code == a
        )),
        "{alerts:?}"
    );

    // A check-in from the caseworker: sealed words, what was found, and the next a month on.
    app.record_check_in(
        &caseworker,
        a,
        NewCheckIn {
            wellbeing: Wellbeing::Struggling,
            needs: BTreeSet::from([Need::Medical, Need::FamilyContact]),
            note: "Synthetic check-in words".into(),
            follow_up: None,
        },
    )
    .await
    .unwrap();
    let due = app.checks_due(&org.admin, 10).await.unwrap();
    assert_eq!(
        (codes(&due), due.total),
        (vec![(b.as_str(), CheckReason::LongWait)], 1)
    );
    let person = app.show_person(&org.admin, a, false).await.unwrap().person;
    assert_eq!(person.checked_in, Some(NOW.date()));
    assert_eq!(
        app.next_check(&person).await.unwrap(),
        Some(DueCheck {
            due: date!(2026 - 12 - 29),
            reason: CheckReason::LongWait
        })
    );
    let notes = app.notes(&org.admin, a, true).await.unwrap();
    assert_eq!(
        notes[0].check_in,
        Some(CheckIn {
            wellbeing: Wellbeing::Struggling,
            needs: BTreeSet::from([Need::Medical, Need::FamilyContact]),
        })
    );
    assert_eq!(
        notes[0].text.as_ref().map(Revealed::as_str),
        Some("Synthetic check-in words")
    );
    let mut changes = Vec::new();
    app.history(&org.admin, Some(a), |page| {
        changes.extend(page.into_iter().map(|event| event.change.to_string()));
        Ok(())
    })
    .await
    .unwrap();
    assert!(
        changes.contains(&"welfare check-in: struggling".to_string()),
        "{changes:?}"
    );

    // A self-harm incident the same day, recorded after the check-in: a check is due today,
    // first on the list, and she is flagged; a check-in answers it and the weekly check of
    // the flag comes next.
    let named = [a.clone()];
    app.add_incident(
        &caseworker,
        NewIncident {
            people: &named,
            ..NewIncident::new("SHL-A", IncidentKind::SelfHarm, 3)
        },
    )
    .await
    .unwrap();
    let due = app.checks_due(&caseworker, 10).await.unwrap();
    assert_eq!(codes(&due), [(a.as_str(), CheckReason::AfterSelfHarm)]);
    assert_eq!(due.checks[0].due, NOW.date());
    let backlog = app.backlog(&org.admin, None).await.unwrap();
    assert_eq!(checks_at(&backlog, "SHL-A"), 1);
    app.record_check_in(
        &caseworker,
        a,
        NewCheckIn {
            wellbeing: Wellbeing::Strained,
            needs: BTreeSet::new(),
            note: String::new(),
            follow_up: Some(date!(2026 - 12 - 01)),
        },
    )
    .await
    .unwrap();
    assert_eq!(app.checks_due(&caseworker, 10).await.unwrap().total, 0);
    let person = app.show_person(&org.admin, a, false).await.unwrap().person;
    assert_eq!(
        app.next_check(&person).await.unwrap(),
        Some(DueCheck {
            due: date!(2026 - 12 - 06),
            reason: CheckReason::SelfHarmRisk
        })
    );

    // A self-harm incident on someone never checked: flagged by it, so due from a week into
    // the wait (the earliest day), and listed first as after self-harm.
    let other = [b.clone()];
    app.add_incident(
        &org.admin,
        NewIncident {
            people: &other,
            ..NewIncident::new("SHL-B", IncidentKind::SelfHarm, 2)
        },
    )
    .await
    .unwrap();
    let due = app.checks_due(&org.admin, 10).await.unwrap();
    assert_eq!(codes(&due)[0], (b.as_str(), CheckReason::AfterSelfHarm));
    assert_eq!(due.checks[0].due, date!(2026 - 09 - 08));

    // Bad input changes nothing: an unknown person, a follow-up in the past, a text too long.
    let before = app.checks_due(&org.admin, 10).await.unwrap();
    for (code, note, follow_up) in [
        ("P-ZZZZZ", String::new(), None),
        (b.as_str(), String::new(), Some(date!(2026 - 01 - 01))),
        (b.as_str(), "x".repeat(MAX_TEXT_BYTES + 1), None),
    ] {
        let result = app
            .record_check_in(
                &org.admin,
                code,
                NewCheckIn {
                    wellbeing: Wellbeing::Well,
                    needs: BTreeSet::new(),
                    note,
                    follow_up,
                },
            )
            .await;
        assert!(result.is_err(), "{code} {follow_up:?}");
    }
    assert_eq!(app.checks_due(&org.admin, 10).await.unwrap(), before);
    // Outside her compartment: refused.
    let refused = app
        .record_check_in(
            &caseworker,
            b,
            NewCheckIn {
                wellbeing: Wellbeing::Well,
                needs: BTreeSet::new(),
                note: String::new(),
                follow_up: None,
            },
        )
        .await;
    assert!(refused.is_err());

    // The store's query agrees with the rule on every waiting person, for many days.
    add_residents(&org).await;
    let schedule = app.welfare_schedule().await.unwrap();
    let everyone = app
        .list_people(&org.admin, &PeopleQuery::default())
        .await
        .unwrap();
    let expected: BTreeSet<String> = everyone
        .iter()
        .filter(|view| {
            schedule
                .due(&view.person)
                .is_some_and(|next| next.due <= NOW.date())
        })
        .map(|view| view.person.code.clone())
        .collect();
    let listed: BTreeSet<String> = app
        .checks_due(&org.admin, 1_000)
        .await
        .unwrap()
        .checks
        .into_iter()
        .map(|check| check.person)
        .collect();
    assert_eq!(listed, expected);
    assert!(app.verify(&org.admin).await.unwrap().ok());
}

/// Residents who arrived on different days, some flagged, to compare the query and the rule.
async fn add_residents(org: &crate::support::Org) {
    org.app
        .add_location(
            &org.admin,
            "SHL-C",
            LocationKind::Shelter,
            "TH",
            10,
            None,
            None,
        )
        .await
        .unwrap();
    for (index, since) in [
        date!(2026 - 11 - 20),
        date!(2026 - 10 - 01),
        date!(2026 - 09 - 29),
        date!(2026 - 11 - 21),
    ]
    .into_iter()
    .enumerate()
    {
        org.app
            .add_person(
                &org.admin,
                NewPerson {
                    location: "SHL-C".into(),
                    since: Some(since),
                    flags: if index % 2 == 0 {
                        vec![Flag::SelfHarmRisk]
                    } else {
                        Vec::new()
                    },
                    identity: identity(&format!("Synthetic Resident-{index}")),
                    ..NewPerson::default()
                },
            )
            .await
            .unwrap();
    }
}

/// The schedule is the organisation's: a coordinator changes it (logged), the checks due
/// follow at once, a caseworker may not, and an interval out of bounds is refused by name.
async fn the_welfare_schedule_is_set_per_organisation(db: TestDb) {
    let org = org(db).await;
    let app = &org.app;
    let coordinator = app.login("coordinator", PASSPHRASE).await.unwrap();
    let caseworker = app.login("caseworker", PASSPHRASE).await.unwrap();
    assert_eq!(
        app.welfare_schedule().await.unwrap(),
        WelfareSchedule::default()
    );
    let later = WelfareSchedule {
        first_after_days: 120,
        ..WelfareSchedule::default()
    };
    app.set_welfare_schedule(&coordinator, later).await.unwrap();
    assert_eq!(app.welfare_schedule().await.unwrap(), later);
    assert_eq!(app.checks_due(&org.admin, 10).await.unwrap().total, 0);
    let backlog = app.backlog(&org.admin, None).await.unwrap();
    assert_eq!(checks_at(&backlog, "SHL-A"), 0);
    let log = app.access_log(&org.admin, Some(50)).await.unwrap();
    assert!(
        log.iter().any(
            |entry| entry.action == AccessAction::SettingChanged.as_str()
                && entry.detail.contains("first_after_days 120")
                && entry.detail.contains("was first_after_days 60")
        ),
        "logged"
    );

    let refused = app
        .set_welfare_schedule(&caseworker, WelfareSchedule::default())
        .await;
    assert!(
        matches!(refused, Err(AppError::Forbidden { .. })),
        "{refused:?}"
    );
    for (bad, field) in [
        (
            WelfareSchedule {
                every_days: 0,
                ..later
            },
            "every_days",
        ),
        (
            WelfareSchedule {
                after_self_harm_days: 400,
                ..later
            },
            "after_self_harm_days",
        ),
    ] {
        match app.set_welfare_schedule(&coordinator, bad).await {
            Err(AppError::Invalid { field: named, .. }) => assert_eq!(named, field),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(app.welfare_schedule().await.unwrap(), later, "unchanged");
}

refuge_store::conformance!(
    welfare_checks_follow_the_schedule_and_a_check_in_answers_them,
    the_welfare_schedule_is_set_per_organisation,
);
