//! Casework on people: moves, households, merges, corrections, case notes and the place in the
//! queue.

use crate::support::{NOW, PASSPHRASE, TestDb, household_of, identity, org};
use refuge_app::*;
use refuge_core::*;
use std::collections::BTreeMap;

async fn moves_respect_capacity_stages_and_record_overrides(db: TestDb) {
    let org = org(db).await;
    let app = &org.app;
    // SHL-A has 3 beds and 1 person: two more fit, the fourth does not.
    for name in ["Park Synthetic-1", "Choi Synthetic-2"] {
        app.add_person(
            &org.admin,
            NewPerson {
                location: "SHL-B".into(),
                identity: identity(name),
                ..NewPerson::default()
            },
        )
        .await
        .unwrap();
    }
    let error = app
        .add_person(
            &org.admin,
            NewPerson {
                location: "SHL-B".into(),
                identity: identity("Full Synthetic"),
                ..NewPerson::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "location SHL-B has too few free beds: 3 present, 3 beds, 1 arriving"
    );
    let before = org.store.load_state().await.unwrap();
    let error = app
        .move_to(&org.admin, &org.people["a"], "SHL-B", None, None, false)
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("location SHL-B has too few free beds"),
        "{error}"
    );
    let error = app
        .move_to(
            &org.admin,
            &org.people["a"],
            "SHL-A",
            Some(Stage::Arrived),
            None,
            false,
        )
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("cannot go from stage sheltered to stage arrived"),
        "{error}"
    );
    assert_eq!(
        org.store.load_state().await.unwrap(),
        before,
        "refused moves write nothing"
    );
    let report = app
        .move_to(&org.admin, &org.people["a"], "SHL-B", None, None, true)
        .await
        .unwrap();
    assert!(report.over_capacity);
    let history = {
        let mut events = Vec::new();
        app.history(&org.admin, Some(&org.people["a"]), |page| {
            events.extend(page);
            Ok(())
        })
        .await
        .unwrap();
        events
    };
    assert!(
        history
            .last()
            .unwrap()
            .change
            .to_string()
            .contains("(over capacity)")
    );
    // A household moves as one.
    let household = app
        .show_person(&org.admin, &org.people["b"], false)
        .await
        .unwrap()
        .household_code;
    let report = app
        .move_to(&org.admin, &household, "SHL-A", None, None, false)
        .await
        .unwrap();
    assert_eq!(report.moved, vec![org.people["b"].clone()]);
    assert!(app.verify(&org.admin).await.unwrap().ok());
}

/// A person joins another household, leaves for one of their own, two households become one,
/// and a household is allowed to travel apart: each one write, verified, in the history.
async fn households_change_after_registration(db: TestDb) {
    let org = org(db).await;
    let app = &org.app;
    let a = org.people["a"].clone();
    let c = app
        .add_person(
            &org.admin,
            NewPerson {
                location: "SHL-A".into(),
                birth_year: Some(2012),
                identity: identity("Choi Synthetic-C"),
                ..NewPerson::default()
            },
        )
        .await
        .unwrap()
        .code;
    let c_household = household_of(app, &org.admin, &c).await;
    let caseworker = app.login("caseworker", PASSPHRASE).await.unwrap();
    let joined = app
        .rehouse(&caseworker, &a, Some(&c_household))
        .await
        .unwrap();
    assert_eq!(joined, c_household);
    assert_eq!(household_of(app, &org.admin, &a).await, c_household);
    let again = app.rehouse(&caseworker, &a, Some(&c_household)).await;
    assert!(matches!(again, Err(AppError::Invalid { .. })), "{again:?}");
    let own = app.rehouse(&caseworker, &a, None).await.unwrap();
    assert_ne!(own, c_household);
    let moved = app
        .merge_households(&caseworker, &c_household, &own)
        .await
        .unwrap();
    assert_eq!(moved, 1);
    assert_eq!(household_of(app, &org.admin, &c).await, own);
    app.set_split_allowed(&caseworker, &own, true)
        .await
        .unwrap();
    let b_household = household_of(app, &org.admin, &org.people["b"]).await;
    assert!(
        matches!(
            app.merge_households(&caseworker, &b_household, &own).await,
            Err(AppError::NotFound { .. })
        ),
        "a household outside her compartments answers as if there were none"
    );
    let mut history = Vec::new();
    app.history(&org.admin, Some(&a), |page| {
        history.extend(page.into_iter().map(|event| event.change.to_string()));
        Ok(())
    })
    .await
    .unwrap();
    assert!(
        history.contains(&format!("left household {c_household} for {own}")),
        "{history:?}"
    );
    assert!(
        history.contains(&"household, split allowed: true".to_string()),
        "who let the household travel apart is in the person's history: {history:?}"
    );
    assert!(app.verify(&org.admin).await.unwrap().ok());
}

/// Someone registered a second time, two months later, at the same shelter: the caseworker
/// is warned, registers anyway, then merges the new record into the old one. The old code
/// stays the person's; the new one leads there; nothing is counted twice; nothing is lost.
async fn a_duplicate_record_merges_into_the_kept_one(db: TestDb) {
    let org = org(db).await;
    let app = &org.app;
    let kept = org.people["a"].clone();
    let caseworker = app.login("caseworker", PASSPHRASE).await.unwrap();
    let present_at_a = async || {
        app.backlog(&org.admin, None)
            .await
            .unwrap()
            .into_iter()
            .find(|line| line.location == "SHL-A")
            .unwrap()
            .present
    };
    let before = present_at_a().await;
    let waited_before = app
        .show_person(&caseworker, &kept, false)
        .await
        .unwrap()
        .waiting_days;
    let again = NewPerson {
        location: "SHL-A".into(),
        birth_year: Some(1990),
        since: Some(time::macros::date!(2026 - 11 - 01)),
        identity: identity("Kim Synthetic-A"),
        flags: vec![Flag::SelfHarmRisk],
        ..NewPerson::default()
    };
    let warned = app.add_person(&caseworker, again).await;
    assert!(
        matches!(&warned, Err(AppError::LikelyDuplicate { codes }) if codes == &vec![kept.clone()]),
        "{warned:?}"
    );
    let duplicate = app
        .add_person(
            &caseworker,
            NewPerson {
                location: "SHL-A".into(),
                birth_year: Some(1990),
                since: Some(time::macros::date!(2026 - 11 - 01)),
                identity: identity("Kim Synthetic-A"),
                flags: vec![Flag::SelfHarmRisk],
                allow_duplicate: true,
                ..NewPerson::default()
            },
        )
        .await
        .unwrap()
        .code;
    assert_eq!(present_at_a().await, before + 1);
    assert_eq!(
        app.likely_duplicates_of(&caseworker, &duplicate)
            .await
            .unwrap(),
        vec![kept.clone()]
    );
    app.add_note(
        &caseworker,
        &duplicate,
        "Synthetic note on the second record",
        None,
    )
    .await
    .unwrap();

    // Refused: no record to keep, itself, a record outside her compartments.
    for (into, field) in [("", "into"), (duplicate.as_str(), "into")] {
        match app.merge_person(&caseworker, &duplicate, into).await {
            Err(AppError::Invalid { field: named, .. }) => assert_eq!(named, field),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
    let outside = app
        .merge_person(&caseworker, &duplicate, &org.people["b"])
        .await;
    assert!(
        matches!(outside, Err(AppError::NotFound { .. })),
        "a record outside her compartments answers as if there were none: {outside:?}"
    );

    app.merge_person(&caseworker, &duplicate, &kept)
        .await
        .unwrap();
    // The duplicate's code leads to the kept record, which has its flag and its note.
    let view = app
        .show_person(&caseworker, &duplicate, false)
        .await
        .unwrap();
    assert_eq!(view.person.code, kept);
    assert_eq!(view.reached_from.as_deref(), Some(duplicate.as_str()));
    assert_eq!(view.merged_from, vec![duplicate.clone()]);
    assert!(view.person.flags.contains(&Flag::SelfHarmRisk));
    assert_eq!(view.waiting_days, waited_before, "the earlier wait is kept");
    assert_eq!(app.notes(&caseworker, &kept, false).await.unwrap().len(), 1);
    assert_eq!(present_at_a().await, before, "counted once");
    let listed: Vec<String> = app
        .list_people(&caseworker, &PeopleQuery::default())
        .await
        .unwrap()
        .into_iter()
        .map(|view| view.person.code)
        .collect();
    assert!(
        listed.contains(&kept) && !listed.contains(&duplicate),
        "{listed:?} {kept} {duplicate}"
    );
    // Changes to the merged record are refused, naming the kept one; so is a second merge.
    match app
        .set_flags(&caseworker, &duplicate, &[(Flag::Minor, true)])
        .await
    {
        Err(AppError::Merged { into, .. }) => assert_eq!(into, kept),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(
        app.merge_person(&caseworker, &duplicate, &kept)
            .await
            .is_err()
    );
    assert!(
        app.likely_duplicates_of(&caseworker, &kept)
            .await
            .unwrap()
            .is_empty()
    );
    // One history for the person: both registrations and the merge.
    let mut history = Vec::new();
    app.history(&org.admin, Some(&kept), |page| {
        history.extend(page.into_iter().map(|event| event.change.to_string()));
        Ok(())
    })
    .await
    .unwrap();
    assert_eq!(
        history
            .iter()
            .filter(|line| line.starts_with("registered"))
            .count(),
        2,
        "{history:?}"
    );
    assert!(
        history.contains(&format!("duplicate record {duplicate} merged into {kept}")),
        "{history:?}"
    );
    assert!(app.verify(&org.admin).await.unwrap().ok());
}

/// A misspelled name and a wrong birth year are corrected: the record and its search follow
/// the new values, the history says which fields changed and by whom, never the values.
async fn a_correction_changes_only_what_differs_and_keeps_the_history(db: TestDb) {
    let org = org(db).await;
    let app = &org.app;
    let code = org.people["a"].clone();
    let caseworker = app.login("caseworker", PASSPHRASE).await.unwrap();
    let request = CorrectionRequest {
        birth_year: Some(1991),
        identity: [
            (PersonField::Name, "Kim Synthetic-Corrected".to_string()),
            // The same origin as registered: not a change.
            (
                PersonField::Origin,
                "Synthetic origin of Kim Synthetic-A".to_string(),
            ),
            (
                PersonField::Contact,
                "Synthetic contact 555-0100".to_string(),
            ),
        ]
        .into(),
        ..CorrectionRequest::default()
    };
    let fields = app
        .correct_person(&caseworker, &code, &request)
        .await
        .unwrap();
    assert_eq!(fields, ["birth_year", "name", "contact"]);
    let shown = app.show_person(&org.admin, &code, true).await.unwrap();
    assert_eq!(shown.person.birth_year, Some(1991));
    let identity: BTreeMap<PersonField, String> = shown
        .identity
        .unwrap()
        .into_iter()
        .map(|(field, value)| (field, value.as_str().to_string()))
        .collect();
    assert_eq!(identity[&PersonField::Name], "Kim Synthetic-Corrected");
    assert_eq!(
        identity[&PersonField::Contact],
        "Synthetic contact 555-0100"
    );
    let by_name = |name: &str| PeopleQuery {
        name: Some(name.into()),
        ..PeopleQuery::default()
    };
    let found = app
        .list_people(&org.admin, &by_name("Kim Synthetic-Corrected"))
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "found by the new name");
    assert!(
        app.list_people(&org.admin, &by_name("Kim Synthetic-A"))
            .await
            .unwrap()
            .is_empty()
    );
    let again = app.correct_person(&caseworker, &code, &request).await;
    assert!(
        matches!(&again, Err(AppError::Invalid { field, .. }) if field == "correction"),
        "{again:?}"
    );
    let outside = app
        .correct_person(&caseworker, &org.people["b"], &request)
        .await;
    assert!(matches!(outside, Err(AppError::OutsideCompartment { .. })));
    let mut history = Vec::new();
    app.history(&org.admin, Some(&code), |page| {
        history.extend(
            page.into_iter()
                .map(|event| (event.actor, event.change.to_string())),
        );
        Ok(())
    })
    .await
    .unwrap();
    assert!(
        history.contains(&(
            "caseworker".to_string(),
            "corrected: birth_year, name, contact".to_string()
        )),
        "{history:?}"
    );
    assert!(app.verify(&org.admin).await.unwrap().ok());
}

/// Case notes: written on a person the user may see, sealed in the file, listed newest first
/// with their text only when revealed (logged); a follow-up comes due on the dashboard of
/// the people who work where the person is, until it is done.
async fn case_notes_are_sealed_newest_first_and_follow_ups_come_due(db: TestDb) {
    let org = org(db).await;
    let app = &org.app;
    let (a, b) = (org.people["a"].clone(), org.people["b"].clone());
    let caseworker = app.login("caseworker", PASSPHRASE).await.unwrap();
    let today = NOW.date();
    app.add_note(&caseworker, &a, "Synthetic note: slept badly", None)
        .await
        .unwrap();
    app.add_note(
        &caseworker,
        &a,
        "Synthetic note: asked about her son",
        Some(today),
    )
    .await
    .unwrap();
    app.add_note(&org.admin, &b, "Synthetic note on B", Some(today))
        .await
        .unwrap();
    let refused = app
        .add_note(
            &caseworker,
            &a,
            "late",
            Some(today - time::Duration::days(1)),
        )
        .await;
    assert!(
        matches!(&refused, Err(AppError::Invalid { field, .. }) if field == "follow_up"),
        "{refused:?}"
    );
    let empty = app.add_note(&caseworker, &a, "  ", None).await;
    assert!(matches!(&empty, Err(AppError::Invalid { field, .. }) if field == "text"));
    // Outside her compartment: refused like every other change to B.
    assert!(matches!(
        app.add_note(&caseworker, &b, "Synthetic", None).await,
        Err(AppError::OutsideCompartment { .. })
    ));

    let listed = app.notes(&caseworker, &a, false).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(
        listed.iter().all(|note| note.text.is_none()),
        "sealed unless revealed"
    );
    assert_eq!(listed[0].follow_up, Some(today), "newest first");
    assert_eq!(listed[0].author, "caseworker");
    let revealed = app.notes(&caseworker, &a, true).await.unwrap();
    assert_eq!(
        revealed[1].text.as_ref().unwrap().as_str(),
        "Synthetic note: slept badly"
    );
    let log = app.access_log(&org.admin, None).await.unwrap();
    assert!(log.iter().any(|entry| entry.action == "reveal"
        && entry.subject == a
        && entry.detail == "2 case notes"));
    let analyst = app.login("analyst", PASSPHRASE).await.unwrap();
    assert!(matches!(
        app.notes(&analyst, &a, true).await,
        Err(AppError::Forbidden { .. })
    ));

    let (due, total) = app.due_follow_ups(&caseworker, 10).await.unwrap();
    assert_eq!((due.len(), total), (1, 1), "her compartment only: {due:?}");
    assert_eq!(due[0].person_code, a);
    assert_eq!(app.due_follow_ups(&org.admin, 10).await.unwrap().1, 2);
    let note = listed[0].id.to_string();
    app.complete_follow_up(&caseworker, &a, &note)
        .await
        .unwrap();
    assert_eq!(app.due_follow_ups(&caseworker, 10).await.unwrap().1, 0);
    let again = app.complete_follow_up(&caseworker, &a, &note).await;
    assert!(matches!(again, Err(AppError::Invalid { .. })), "{again:?}");
    let history: Vec<String> = {
        let mut lines = Vec::new();
        app.history(&org.admin, Some(&a), |page| {
            lines.extend(page.into_iter().map(|event| event.change.to_string()));
            Ok(())
        })
        .await
        .unwrap();
        lines
    };
    assert!(
        history
            .iter()
            .any(|line| line == &format!("case note, follow up by {today}"))
    );
    assert!(
        history
            .iter()
            .any(|line| line.starts_with("follow-up done on"))
    );

    let mut raw = org.db.raw().await;
    let stored = raw
        .text("SELECT text FROM notes ORDER BY id LIMIT 1", &[])
        .await;
    assert!(stored.starts_with("s1."), "sealed");
    assert!(!stored.contains("Synthetic"));
    assert!(app.verify(&org.admin).await.unwrap().ok());
}

/// A move between shelters (after a fight, out of an overcrowded one) used to restart the
/// waiting time, and with it the person's place in the transfer queue.
async fn a_move_keeps_the_place_in_the_queue_and_departure_ends_the_wait(db: TestDb) {
    let org = org(db).await;
    let app = &org.app;
    let code = org.people["a"].clone();
    let waited = (NOW.date() - time::macros::date!(2026 - 09 - 01)).whole_days();
    let before = app.show_person(&org.admin, &code, false).await.unwrap();
    assert_eq!(before.waiting_days, Some(waited));
    app.move_to(&org.admin, &code, "SHL-B", None, None, false)
        .await
        .unwrap();
    let after = app.show_person(&org.admin, &code, false).await.unwrap();
    assert_eq!(after.person.since, NOW.date(), "arrived at SHL-B today");
    assert_eq!(after.waiting_days, Some(waited), "still waiting as long");
    let backlog = app.backlog(&org.admin, None).await.unwrap();
    let at_b = backlog
        .iter()
        .find(|line| line.location == "SHL-B")
        .unwrap();
    assert_eq!(
        at_b.waits.max_days,
        Some(waited),
        "the backlog counts the whole wait"
    );
    assert!(app.verify(&org.admin).await.unwrap().ok());

    let mut raw = org.db.raw().await;
    raw.execute(
        "UPDATE people SET waiting_since = since, queue_since = since WHERE code = $1",
        &[code.as_str()],
    )
    .await
    .unwrap();
    let report = app.verify(&org.admin).await.unwrap();
    assert!(!report.ok(), "a wrong waiting start never passes verify");

    // A database from before (the schema as it was, the wait restarted by the move) is
    // migrated and set right from its log when it is opened.
    for statement in [
        "DROP INDEX people_stage_queue",
        "DROP INDEX people_queue",
        "DROP INDEX people_self_harm_risk",
        "DROP INDEX people_medical_urgent",
        "DROP INDEX people_welfare",
        "DROP INDEX people_self_harm_unchecked",
        "ALTER TABLE people DROP COLUMN checked_in",
        "ALTER TABLE people DROP COLUMN self_harm_unchecked",
        "ALTER TABLE people DROP COLUMN waiting_since",
        "ALTER TABLE people DROP COLUMN queue_since",
        "CREATE INDEX people_stage_since ON people (stage, since, code)",
        "CREATE INDEX people_since ON people (since, code)",
        "CREATE INDEX people_self_harm_risk ON people (stage, since, code) \
         WHERE flags LIKE '%,self_harm_risk,%'",
        "CREATE INDEX people_medical_urgent ON people (stage, since, code) \
         WHERE flags LIKE '%,medical_urgent,%'",
        "DELETE FROM waiting_by_day",
        "INSERT INTO waiting_by_day (location, since, people) SELECT location, since, COUNT(*) \
         FROM people WHERE stage IN ('sheltered', 'detained') GROUP BY location, since",
        // The schema of 2026-11, before the waiting start, case notes, merges, incident times,
        // purges, destination wishes, exchange, the waiting by wish and welfare checks (the
        // compartment keys, the newest but five, stay: this organisation was made with them).
        "DROP TABLE waiting_by_wish",
        "DROP TABLE notes",
        "DROP TABLE local_codes",
        "DROP TABLE receipts",
        "DROP TABLE conflicts",
        "ALTER TABLE events DROP COLUMN received",
        "DROP INDEX people_merged_into",
        "ALTER TABLE people DROP COLUMN merged_into",
        "ALTER TABLE people DROP COLUMN purged",
        "ALTER TABLE people DROP COLUMN wish",
        "ALTER TABLE people DROP COLUMN wish_recorded",
        "ALTER TABLE incidents DROP COLUMN occurred_time",
        "DELETE FROM schema_migrations WHERE version IN \
         (SELECT version FROM schema_migrations ORDER BY version DESC LIMIT 4 OFFSET 6)",
        "DELETE FROM schema_migrations WHERE version IN \
         (SELECT version FROM schema_migrations ORDER BY version DESC LIMIT 5)",
        "DELETE FROM meta WHERE key = 'waiting_since_from_events'",
        "DELETE FROM meta WHERE key = 'self_harm_days_from_events'",
    ] {
        raw.execute(statement, &[]).await.unwrap();
    }
    org.app.close().await;
    let app = App::new(
        refuge_store::open(&org.db.url).await.unwrap(),
        Box::new(FixedClock(NOW)),
    );
    let admin = app.login("admin", PASSPHRASE).await.unwrap();
    let report = app.verify(&admin).await.unwrap();
    assert!(report.ok(), "set right on opening: {:?}", report.problems);
    let reopened = app.show_person(&admin, &code, false).await.unwrap();
    assert_eq!(reopened.waiting_days, Some(waited));

    // Departure ends the wait: no waiting days for someone who is no longer waiting.
    app.move_to(&admin, &code, "SHL-B", Some(Stage::Departed), None, false)
        .await
        .unwrap();
    let departed = app.show_person(&admin, &code, false).await.unwrap();
    assert_eq!(departed.waiting_days, None);
    assert_eq!(departed.person.waiting_since, None);
    assert!(app.verify(&admin).await.unwrap().ok());
}

/// A self-harm incident flags the people involved `self_harm_risk` in the same write (once:
/// a second incident adds no second flag), so that they are among the urgent on their
/// caseworker's dashboard; other kinds of incident flag no one.
async fn a_self_harm_incident_flags_the_people_involved(db: TestDb) {
    let org = org(db).await;
    let app = &org.app;
    let caseworker = app.login("caseworker", PASSPHRASE).await.unwrap();
    let at_risk = &org.people["a"];
    let flagged = async |code: &str| {
        let mut changes = Vec::new();
        app.history(&org.admin, Some(code), |page| {
            changes.extend(page.into_iter().map(|event| event.change.to_string()));
            Ok(())
        })
        .await
        .unwrap();
        changes
            .iter()
            .filter(|change| *change == "+self_harm_risk")
            .count()
    };
    let named = [at_risk.clone()];
    for _ in 0..2 {
        app.add_incident(
            &caseworker,
            NewIncident {
                people: &named,
                ..NewIncident::new("SHL-A", IncidentKind::SelfHarm, 3)
            },
        )
        .await
        .unwrap();
    }
    let person = app
        .show_person(&org.admin, at_risk, false)
        .await
        .unwrap()
        .person;
    assert!(person.flags.contains(&Flag::SelfHarmRisk));
    assert_eq!(flagged(at_risk).await, 1, "flagged once");
    let alerts = app.dashboard(&caseworker).await.unwrap().alerts;
    assert!(
        alerts.iter().any(|alert| matches!(
            alert,
            Alert::UrgentUnplanned { code, flag: Flag::SelfHarmRisk } if code == at_risk
        )),
        "{alerts:?}"
    );

    let other = [org.people["b"].clone()];
    app.add_incident(
        &org.admin,
        NewIncident {
            people: &other,
            ..NewIncident::new("SHL-B", IncidentKind::Conflict, 2)
        },
    )
    .await
    .unwrap();
    assert_eq!(flagged(&org.people["b"]).await, 0);
    assert!(app.verify(&org.admin).await.unwrap().ok());
}

refuge_store::conformance!(
    a_self_harm_incident_flags_the_people_involved,
    a_duplicate_record_merges_into_the_kept_one,
    households_change_after_registration,
    a_correction_changes_only_what_differs_and_keeps_the_history,
    case_notes_are_sealed_newest_first_and_follow_ups_come_due,
    a_move_keeps_the_place_in_the_queue_and_departure_ends_the_wait,
    moves_respect_capacity_stages_and_record_overrides,
);
