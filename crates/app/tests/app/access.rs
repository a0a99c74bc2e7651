//! Who may do what: the permission table, compartments, logins, tokens, users and the access log.

use crate::support::{NOW, Org, PASSPHRASE, TestDb, household_of, identity, org};
use refuge_app::*;
use refuge_core::*;
use std::time::{Duration, Instant};

/// The expected permission table, written out independently of `allowed`.
fn expected(role: Role, action: Action) -> bool {
    use Action::*;
    let coordinator = [
        ViewUsers,
        ViewLocations,
        RegisterPeople,
        ViewPeople,
        RevealIdentity,
        SearchByName,
        MovePeople,
        FlagPeople,
        HoldPeople,
        WriteNotes,
        RecordIncident,
        ViewIncidents,
        CloseIncident,
        ViewBacklog,
        Import,
        Export,
        ViewHistory,
        Verify,
        PlanTransfers,
        ViewBatches,
        Forecast,
        Exchange,
        SetWelfareSchedule,
    ];
    let caseworker = [
        ViewLocations,
        RegisterPeople,
        ViewPeople,
        RevealIdentity,
        SearchByName,
        MovePeople,
        FlagPeople,
        HoldPeople,
        WriteNotes,
        RecordIncident,
        ViewIncidents,
        CloseIncident,
        ViewBacklog,
    ];
    let analyst = [
        ViewLocations,
        ViewPeople,
        ViewIncidents,
        ViewBacklog,
        Export,
        ViewBatches,
        Forecast,
    ];
    let auditor = [
        ViewUsers,
        ViewLocations,
        ViewHistory,
        ViewAccessLog,
        Verify,
        ViewBacklog,
    ];
    match role {
        Role::Admin => true,
        Role::Coordinator => coordinator.contains(&action),
        Role::Caseworker => caseworker.contains(&action),
        Role::Analyst => analyst.contains(&action),
        Role::Auditor => auditor.contains(&action),
    }
}

/// Runs the use case behind `action` as `session` on records inside the caseworker's
/// compartment; returns whether it was refused for lack of permission.
async fn attempt(org: &Org, session: &Session, action: Action, round: usize) -> bool {
    let app = &org.app;
    let person = &org.people["a"];
    let result: AppResult<()> = match action {
        Action::ManageUsers => app
            .add_user(
                session,
                NewUser {
                    name: &format!("new{round}"),
                    role: Role::Analyst,
                    location_codes: &[],
                    passphrase: PASSPHRASE,
                },
            )
            .await
            .map(drop),
        Action::ManageKeys => app.new_recovery_code(session).await.map(drop),
        Action::ViewUsers => app.users(session).await.map(drop),
        Action::ManageLocations => app
            .add_location(
                session,
                &format!("LOC-{round}"),
                LocationKind::Shelter,
                "TH",
                10,
                None,
                None,
            )
            .await
            .map(drop),
        Action::ViewLocations => app.locations(session, false).await.map(drop),
        Action::RegisterPeople => app.add_household(session, false).await.map(drop),
        Action::ViewPeople => app.show_person(session, person, false).await.map(drop),
        Action::RevealIdentity => app.show_person(session, person, true).await.map(drop),
        Action::SearchByName => app
            .list_people(
                session,
                &PeopleQuery {
                    name: Some("Kim Synthetic-A".into()),
                    ..PeopleQuery::default()
                },
            )
            .await
            .map(drop),
        Action::MovePeople => app
            .move_to(session, person, "SHL-A", None, None, false)
            .await
            .map(drop),
        Action::FlagPeople => app
            .set_flags(session, person, &[(Flag::Minor, false)])
            .await
            .map(drop),
        Action::HoldPeople => app.set_hold(session, person, None).await.map(drop),
        Action::SetWelfareSchedule => {
            app.set_welfare_schedule(session, WelfareSchedule::default())
                .await
        }
        Action::WriteNotes => app
            .add_note(session, person, "Synthetic note", None)
            .await
            .map(drop),
        Action::RecordIncident => app
            .add_incident(
                session,
                NewIncident::new("SHL-A", IncidentKind::Conflict, 2),
            )
            .await
            .map(drop),
        Action::ViewIncidents => app.incidents(session, false, false).await.map(drop),
        Action::CloseIncident => {
            let incident = app
                .add_incident(
                    &org.admin,
                    NewIncident::new("SHL-A", IncidentKind::Medical, 1),
                )
                .await
                .unwrap();
            app.close_incident(session, &incident.code).await.map(drop)
        }
        Action::ViewBacklog => app.backlog(session, None).await.map(drop),
        Action::Import => app
            .import_people(
                session,
                "household_ref,name,sex,birth_year,location,stage,since,flags\n".as_bytes(),
                ImportOptions::default(),
                &mut |_| {},
            )
            .await
            .map(drop),
        Action::Export => app
            .export_people(session, false, std::io::sink())
            .await
            .map(drop),
        Action::ViewHistory => app.history(session, None, |_| Ok(())).await,
        Action::Exchange => app.peers(session).await.map(drop),
        Action::ViewAccessLog => app.access_log(session, Some(5)).await.map(drop),
        Action::Verify => app.verify(session).await.map(drop),
        Action::PlanTransfers => app
            .plan_preview(
                session,
                &[BatchRequest {
                    label: "next".into(),
                    date: NOW.date(),
                    seats: 2,
                    origins: vec![],
                    destination: None,
                }],
                &PlanPolicy::default(),
            )
            .await
            .map(drop),
        Action::ViewBatches => app.batches(session).await.map(drop),
        Action::Forecast => {
            let what_if = WhatIf {
                horizon_days: 30.0,
                replications: 4,
                ..WhatIf::default()
            };
            match app.scenario_from_db(session, &what_if).await {
                Ok(scenario) => app.forecast(session, &scenario, 1).map(drop),
                Err(error) => Err(error),
            }
        }
        // A dry run: the permission is checked all the same.
        Action::Purge => app
            .purge(session, time::macros::date!(2026 - 01 - 01), true)
            .await
            .map(drop),
    };
    match result {
        Err(AppError::Forbidden { .. }) => false,
        Err(other) => panic!(
            "{action:?} as {:?} failed for another reason: {other}",
            session.role()
        ),
        Ok(()) => true,
    }
}

async fn every_role_can_do_exactly_what_the_table_says(db: TestDb) {
    let org = org(db).await;
    let mut sessions = vec![org.app.login("admin", PASSPHRASE).await.unwrap()];
    for role in [
        Role::Coordinator,
        Role::Caseworker,
        Role::Analyst,
        Role::Auditor,
    ] {
        sessions.push(org.app.login(role.as_str(), PASSPHRASE).await.unwrap());
    }
    let mut round = 0;
    for session in &sessions {
        for action in Action::ALL {
            round += 1;
            let permitted = attempt(&org, session, *action, round).await;
            assert_eq!(
                permitted,
                expected(session.role(), *action),
                "{:?} {action:?}",
                session.role()
            );
            assert_eq!(permitted, allowed(session.role(), *action));
        }
    }
}

async fn caseworkers_see_and_touch_only_their_compartments(db: TestDb) {
    let org = org(db).await;
    let caseworker = org.app.login("caseworker", PASSPHRASE).await.unwrap();
    let outside = &org.people["b"];
    assert!(matches!(
        org.app.show_person(&caseworker, outside, false).await,
        Err(AppError::OutsideCompartment { .. })
    ));
    assert!(matches!(
        org.app
            .move_to(&caseworker, outside, "SHL-A", None, None, false)
            .await,
        Err(AppError::OutsideCompartment { .. })
    ));
    assert!(matches!(
        org.app
            .add_incident(
                &caseworker,
                NewIncident::new("SHL-B", IncidentKind::Conflict, 1)
            )
            .await,
        Err(AppError::OutsideCompartment { .. })
    ));
    let listed = org
        .app
        .list_people(&caseworker, &PeopleQuery::default())
        .await
        .unwrap();
    let codes: Vec<&str> = listed
        .iter()
        .map(|view| view.person.code.as_str())
        .collect();
    assert_eq!(codes, vec![org.people["a"].as_str()]);
    let by_name = org
        .app
        .list_people(
            &caseworker,
            &PeopleQuery {
                name: Some("Lee Synthetic-B".into()),
                ..PeopleQuery::default()
            },
        )
        .await
        .unwrap();
    assert!(
        by_name.is_empty(),
        "name search does not reach outside the compartment"
    );
}

async fn exact_name_search_goes_through_the_blind_index(db: TestDb) {
    let org = org(db).await;
    let found = org
        .app
        .list_people(
            &org.admin,
            &PeopleQuery {
                name: Some("  kim   synthetic-a ".into()),
                ..PeopleQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].person.code, org.people["a"]);
    let none = org
        .app
        .list_people(
            &org.admin,
            &PeopleQuery {
                name: Some("Kim Synthetic".into()),
                ..PeopleQuery::default()
            },
        )
        .await
        .unwrap();
    assert!(none.is_empty());
}

async fn timed_login(app: &App, name: &str, passphrase: &str) -> (Duration, String) {
    let start = Instant::now();
    let error = app.login(name, passphrase).await.unwrap_err().to_string();
    (start.elapsed(), error)
}

async fn wrong_passphrase_and_unknown_user_look_the_same_and_change_nothing(db: TestDb) {
    let org = org(db).await;
    let before = org.store.load_state().await.unwrap();
    let mut wrong = Vec::new();
    let mut unknown = Vec::new();
    for _ in 0..3 {
        let (time, message) = timed_login(&org.app, "admin", "not the passphrase").await;
        assert_eq!(message, "wrong user name or passphrase");
        wrong.push(time);
        let (time, message) = timed_login(&org.app, "nobody", "not the passphrase").await;
        assert_eq!(message, "wrong user name or passphrase");
        unknown.push(time);
    }
    wrong.sort();
    unknown.sort();
    let ratio = wrong[1].as_secs_f64() / unknown[1].as_secs_f64();
    // Both spend one Argon2id derivation at the same cost; noise aside they take as long.
    assert!(
        (0.5..2.0).contains(&ratio),
        "median wrong/unknown = {ratio:.2}"
    );
    assert_eq!(org.store.load_state().await.unwrap(), before);
    let log = org.app.access_log(&org.admin, None).await.unwrap();
    assert_eq!(
        log.iter()
            .filter(|entry| entry.action == "login_failed")
            .count(),
        6
    );
}

/// A token opens the API as its user (role and compartments), is listed without its secret,
/// and stops working when revoked or when its user may no longer log in.
async fn tokens_act_as_their_user_until_revoked(db: TestDb) {
    let org = org(db).await;
    let app = &org.app;
    let coordinator = app.login("coordinator", PASSPHRASE).await.unwrap();
    let (token, text) = app
        .create_token(&coordinator, "weekly report")
        .await
        .unwrap();
    assert!(text.starts_with(&format!("rft1_{}_", token.id)));
    let session = app.login_token(&text).await.unwrap();
    assert_eq!(session.user().name, "coordinator");
    assert_eq!(session.role(), Role::Coordinator);
    assert!(app.backlog(&session, None).await.is_ok());

    // Listed without the secret: own tokens for a user, all for an admin.
    let listed = app.tokens(&coordinator).await.unwrap();
    assert_eq!(listed, vec![token.clone()]);
    assert!(!format!("{listed:?}").contains(text.rsplit('_').next().unwrap()));
    assert_eq!(app.tokens(&org.admin).await.unwrap().len(), 1);
    let analyst = app.login("analyst", PASSPHRASE).await.unwrap();
    assert!(app.tokens(&analyst).await.unwrap().is_empty());
    assert!(matches!(
        app.revoke_token(&analyst, &token.id).await,
        Err(AppError::Forbidden { .. })
    ));

    // Anything but the exact token is the same refusal.
    let mut wrong = text.clone();
    let last = wrong.pop().unwrap();
    wrong.push(if last == '0' { '1' } else { '0' });
    for bad in [wrong.as_str(), "rft1_nonsense", "", "Bearer x"] {
        assert!(
            matches!(app.login_token(bad).await, Err(AppError::BadLogin)),
            "{bad}"
        );
    }

    // A user who may no longer log in cannot use their tokens either.
    app.change_user(
        &org.admin,
        "coordinator",
        UserChange {
            active: Some(false),
            ..UserChange::default()
        },
    )
    .await
    .unwrap();
    assert!(matches!(
        app.login_token(&text).await,
        Err(AppError::BadLogin)
    ));
    assert!(matches!(
        app.login("coordinator", PASSPHRASE).await,
        Err(AppError::BadLogin)
    ));
    app.change_user(
        &org.admin,
        "coordinator",
        UserChange {
            active: Some(true),
            ..UserChange::default()
        },
    )
    .await
    .unwrap();
    assert!(app.login_token(&text).await.is_ok());

    // Revoked: its copy of the key is gone, and it opens nothing.
    let credential = format!("token:{}", token.id);
    assert!(org.store.key_wrap(&credential).await.unwrap().is_some());
    let revoked = app.revoke_token(&coordinator, &token.id).await.unwrap();
    assert!(revoked.revoked.is_some());
    assert!(org.store.key_wrap(&credential).await.unwrap().is_none());
    assert!(matches!(
        app.login_token(&text).await,
        Err(AppError::BadLogin)
    ));
    assert!(matches!(
        app.revoke_token(&coordinator, &token.id).await,
        Err(AppError::Invalid { .. })
    ));
    let log = app.access_log(&org.admin, None).await.unwrap();
    for action in ["token_created", "token_revoked"] {
        assert!(
            log.iter()
                .any(|entry| entry.action == action && entry.subject == token.id)
        );
    }
    assert!(!format!("{log:?}").contains(&text));
    assert!(app.verify(&org.admin).await.unwrap().ok());
}

/// An admin changes roles, compartments and who may log in; the last admin stays an admin.
async fn admins_change_roles_compartments_and_access(db: TestDb) {
    let org = org(db).await;
    let app = &org.app;
    let codes = vec!["SHL-B".to_string()];
    let changed = app
        .change_user(
            &org.admin,
            "caseworker",
            UserChange {
                location_codes: Some(&codes),
                ..UserChange::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(changed.role, Role::Caseworker);
    let caseworker = app.login("caseworker", PASSPHRASE).await.unwrap();
    assert!(
        app.show_person(&caseworker, &org.people["b"], false)
            .await
            .is_ok(),
        "now inside SHL-B"
    );
    assert!(matches!(
        app.show_person(&caseworker, &org.people["a"], false).await,
        Err(AppError::OutsideCompartment { .. })
    ));
    let promoted = app
        .change_user(
            &org.admin,
            "analyst",
            UserChange {
                role: Some(Role::Coordinator),
                ..UserChange::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(promoted.role, Role::Coordinator);
    assert_eq!(
        app.login("analyst", PASSPHRASE).await.unwrap().role(),
        Role::Coordinator
    );
    // A caseworker needs a compartment; the last admin cannot be demoted or switched off.
    assert!(matches!(
        app.change_user(
            &org.admin,
            "auditor",
            UserChange {
                role: Some(Role::Caseworker),
                ..UserChange::default()
            },
        )
        .await,
        Err(AppError::Invalid { .. })
    ));
    for change in [
        UserChange {
            role: Some(Role::Coordinator),
            ..UserChange::default()
        },
        UserChange {
            active: Some(false),
            ..UserChange::default()
        },
    ] {
        let refused = app.change_user(&org.admin, "admin", change).await;
        assert!(
            matches!(&refused, Err(AppError::Invalid { reason, .. }) if reason.to_string().contains("last active admin")),
            "{refused:?}"
        );
    }
    // Only admins manage users.
    let coordinator = app.login("coordinator", PASSPHRASE).await.unwrap();
    assert!(matches!(
        app.change_user(&coordinator, "auditor", UserChange::default())
            .await,
        Err(AppError::Forbidden { .. })
    ));
    let log = app.access_log(&org.admin, None).await.unwrap();
    assert!(
        log.iter()
            .any(|entry| entry.action == "user_changed" && entry.subject == "analyst")
    );
    assert!(app.verify(&org.admin).await.unwrap().ok());
}

/// Access-log entries are stamped when made and numbered under the write lock, so two made
/// at once could be numbered in the other order: the log's times ran backwards. Now the
/// store never lets a later entry carry an earlier time.
async fn access_log_times_never_run_backwards(db: TestDb) {
    let org = org(db).await;
    fn hash(prev: &str, bytes: &[u8]) -> String {
        format!("{}{}", prev.len() % 7, bytes.len())
    }
    let entry = |at: time::OffsetDateTime, detail: &str| refuge_store::NewAccessEntry {
        at,
        actor: "admin".into(),
        action: "verify".into(),
        subject: "organisation".into(),
        detail: detail.into(),
    };
    let later = NOW + time::Duration::minutes(5);
    org.store
        .log_access(vec![entry(later, "made second, written first")], hash)
        .await
        .unwrap();
    org.store
        .log_access(vec![entry(NOW, "made first, written second")], hash)
        .await
        .unwrap();
    let log = org.store.access_log(None).await.unwrap();
    let times: Vec<time::OffsetDateTime> = log
        .iter()
        .map(|entry| {
            time::OffsetDateTime::parse(&entry.at, &time::format_description::well_known::Rfc3339)
                .unwrap()
        })
        .collect();
    let mut by_seq: Vec<(i64, time::OffsetDateTime)> =
        log.iter().map(|entry| entry.seq).zip(times).collect();
    by_seq.sort();
    assert!(
        by_seq.windows(2).all(|pair| pair[0].1 <= pair[1].1),
        "{by_seq:?}"
    );
}

/// "Who looked at this person, and who tried to?": refusals are logged with the record and
/// the reason, the ways in are told apart, and the log is filtered, paged and exported.
async fn an_auditor_finds_who_looked_and_who_was_refused(db: TestDb) {
    let org = org(db).await;
    let app = &org.app;
    let outside = org.people["b"].clone();
    let caseworker = app
        .login_on(Channel::Web, "caseworker", PASSPHRASE)
        .await
        .unwrap();
    assert!(app.show_person(&caseworker, &outside, true).await.is_err());
    let analyst = app.login("analyst", PASSPHRASE).await.unwrap();
    let search = PeopleQuery {
        name: Some("Kim Synthetic-A".into()),
        ..PeopleQuery::default()
    };
    assert!(app.list_people(&analyst, &search).await.is_err());
    app.log_refusals().await.unwrap();
    let auditor = app.login("auditor", PASSPHRASE).await.unwrap();
    let page = |filter: AccessFilter| {
        let auditor = &auditor;
        async move { app.access_log_page(auditor, &filter).await.unwrap() }
    };
    let refused = page(AccessFilter {
        action: Some("refused".into()),
        limit: 10,
        ..AccessFilter::default()
    })
    .await;
    assert_eq!(refused.len(), 2, "{refused:?}");
    // Newest first: the analyst's search, then the caseworker's reveal outside her shelter.
    assert_eq!(refused[0].actor, "analyst");
    assert_eq!(refused[0].detail, "analyst: search_by_name");
    assert_eq!(refused[1].actor, "caseworker");
    assert_eq!(refused[1].subject, outside);
    assert_eq!(refused[1].detail, "outside the compartments");
    // The ways in, told apart.
    let action_of = async |actor: &str| {
        page(AccessFilter {
            actor: Some(actor.into()),
            limit: 1_000,
            ..AccessFilter::default()
        })
        .await
        .into_iter()
        .map(|entry| entry.action)
        .collect::<Vec<_>>()
    };
    assert!(action_of("caseworker").await.contains(&"login".to_string()));
    assert!(action_of("analyst").await.contains(&"unlock".to_string()));
    // By record, and by day; paging goes back in time without repeating.
    let about_b = page(AccessFilter {
        subject: Some(outside.clone()),
        from: Some(NOW.date()),
        to: Some(NOW.date()),
        limit: 10,
        ..AccessFilter::default()
    })
    .await;
    assert_eq!(about_b.len(), 1);
    let tomorrow = page(AccessFilter {
        from: NOW.date().next_day(),
        limit: 10,
        ..AccessFilter::default()
    })
    .await;
    assert!(tomorrow.is_empty());
    let first = page(AccessFilter {
        limit: 2,
        ..AccessFilter::default()
    })
    .await;
    let second = page(AccessFilter {
        limit: 2,
        before_seq: Some(first[1].seq),
        ..AccessFilter::default()
    })
    .await;
    assert!(second[0].seq < first[1].seq);
    // A bad filter names its field; the role may not read the log otherwise.
    match app
        .access_log_page(
            &auditor,
            &AccessFilter {
                action: Some("peeked".into()),
                limit: 1,
                ..AccessFilter::default()
            },
        )
        .await
    {
        Err(AppError::Invalid { field, .. }) => assert_eq!(field, "action"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(
        app.access_log_page(&caseworker, &AccessFilter::default())
            .await
            .is_err()
    );
    // Everything that matches, as CSV; the export is logged.
    app.log_refusals().await.unwrap();
    let mut csv = Vec::new();
    let written = app
        .access_log_csv(
            &auditor,
            &AccessFilter {
                action: Some("refused".into()),
                ..AccessFilter::default()
            },
            &mut csv,
        )
        .await
        .unwrap();
    assert_eq!(written, 3, "two refusals and the caseworker's, just now");
    assert_eq!(String::from_utf8(csv).unwrap().lines().count(), 4);
    let exports = page(AccessFilter {
        action: Some("export".into()),
        limit: 10,
        ..AccessFilter::default()
    })
    .await;
    assert_eq!(exports[0].subject, "access log");
    // A household elsewhere answers as unknown to her, and the auditor sees the attempt.
    let elsewhere = household_of(app, &org.admin, &outside).await;
    let attempt = app
        .rehouse(&caseworker, &org.people["a"], Some(&elsewhere))
        .await;
    assert!(
        matches!(attempt, Err(AppError::NotFound { .. })),
        "{attempt:?}"
    );
    app.log_refusals().await.unwrap();
    let about = page(AccessFilter {
        subject: Some(elsewhere.clone()),
        limit: 10,
        ..AccessFilter::default()
    })
    .await;
    assert_eq!(about.len(), 1);
    assert_eq!(about[0].action, "refused");
}

/// API token labels were stored as typed: free text (a purpose, a partner's name) in the
/// file. Now they are sealed like every other free text, and shown opened to their users.
async fn token_labels_are_sealed(db: TestDb) {
    let org = org(db).await;
    let (token, _) = org
        .app
        .create_token(&org.admin, "synthetic liaison report")
        .await
        .unwrap();
    assert_eq!(token.label, "synthetic liaison report");
    let listed = org.app.tokens(&org.admin).await.unwrap();
    assert_eq!(listed[0].label, "synthetic liaison report");
    let mut raw = org.db.raw().await;
    let stored = raw
        .text("SELECT label FROM api_tokens WHERE id = $1", &[&token.id])
        .await;
    assert!(stored.starts_with("s1."), "sealed");
    assert!(!stored.contains("liaison"));
}

/// A passphrase typed into the user field was stored in plaintext in the append-only access
/// log, and 60 KB "user names" were accepted. A name that is no account is never stored.
#[tokio::test]
async fn a_failed_login_under_a_name_that_is_no_account_stores_no_name() {
    let org = org(TestDb::sqlite()).await;
    let typed = "synthetic passphrase typed as a name";
    for name in [typed.to_string(), "x".repeat(60_000)] {
        assert!(matches!(
            org.app.login(&name, "anything at all").await,
            Err(AppError::BadLogin)
        ));
    }
    assert!(matches!(
        org.app.login("admin", &"p".repeat(60_000)).await,
        Err(AppError::BadLogin)
    ));
    let log = org.app.access_log(&org.admin, None).await.unwrap();
    let failed: Vec<_> = log
        .iter()
        .filter(|entry| entry.action == "login_failed")
        .collect();
    let named = |who: &str| {
        failed
            .iter()
            .filter(|entry| entry.actor == who && entry.subject == who)
            .count()
    };
    assert_eq!(failed.len(), 3);
    assert_eq!(named("(unknown user)"), 2);
    assert_eq!(named("admin"), 1, "a known account is named");
    assert!(
        log.iter()
            .all(|entry| !entry.actor.contains("typed") && !entry.subject.contains("typed"))
    );
}

/// A caseworker could add people to a household entirely outside her compartments, and test
/// whether a household code exists. Now such a household answers as one that does not exist.
#[tokio::test]
async fn households_outside_the_compartments_answer_as_if_they_did_not_exist() {
    let org = org(TestDb::sqlite()).await;
    let app = &org.app;
    let caseworker = app.login("caseworker", PASSPHRASE).await.unwrap();
    let elsewhere = app
        .show_person(&org.admin, &org.people["b"], false)
        .await
        .unwrap()
        .household_code;
    let before = org.store.load_state().await.unwrap();
    let join = |household: &str| NewPerson {
        household: Some(household.to_string()),
        location: "SHL-A".into(),
        identity: identity("Synthetic Joiner"),
        ..NewPerson::default()
    };
    let outside = app
        .add_person(&caseworker, join(&elsewhere))
        .await
        .unwrap_err();
    let missing = app
        .add_person(&caseworker, join("H-ZZZZZ"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            outside,
            AppError::NotFound {
                what: "household",
                ..
            }
        ),
        "{outside}"
    );
    assert_eq!(outside.kind(), missing.kind());
    assert_eq!(outside.code(), missing.code());
    assert_eq!(
        outside.to_string().replace(&elsewhere, "H-?"),
        missing.to_string().replace("H-ZZZZZ", "H-?")
    );
    assert_eq!(
        org.store.load_state().await.unwrap(),
        before,
        "nothing written"
    );
    // Her own household still takes new members.
    let own = app
        .show_person(&org.admin, &org.people["a"], false)
        .await
        .unwrap()
        .household_code;
    app.add_person(&caseworker, join(&own)).await.unwrap();
}

/// Hangul user names were refused ("use 1 to 64 letters…": Hangul are letters).
#[tokio::test]
async fn user_names_may_be_written_in_hangul() {
    let org = org(TestDb::sqlite()).await;
    let user = org
        .app
        .add_user(
            &org.admin,
            NewUser {
                name: "김데모",
                role: Role::Analyst,
                location_codes: &[],
                passphrase: PASSPHRASE,
            },
        )
        .await
        .unwrap();
    assert_eq!(user.name, "김데모");
    assert!(org.app.login("김데모", PASSPHRASE).await.is_ok());
    for refused in ["김 데모", "name\u{202e}", ""] {
        let error = org
            .app
            .add_user(
                &org.admin,
                NewUser {
                    name: refused,
                    role: Role::Analyst,
                    location_codes: &[],
                    passphrase: PASSPHRASE,
                },
            )
            .await
            .unwrap_err();
        assert_eq!(error.field(), Some("user name"), "{refused:?}");
    }
}

refuge_store::conformance!(
    an_auditor_finds_who_looked_and_who_was_refused,
    token_labels_are_sealed,
    access_log_times_never_run_backwards,
    tokens_act_as_their_user_until_revoked,
    admins_change_roles_compartments_and_access,
    every_role_can_do_exactly_what_the_table_says,
    caseworkers_see_and_touch_only_their_compartments,
    exact_name_search_goes_through_the_blind_index,
    wrong_passphrase_and_unknown_user_look_the_same_and_change_nothing,
);
