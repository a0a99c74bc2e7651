//! The conformance suite: every use case of refuge-app, and every `Store` operation, against
//! SQLite and, when `REFUGE_TEST_POSTGRES` names a PostgreSQL server (scripts/test starts a
//! throw-away one), against PostgreSQL too — each test in its own fresh database.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on what it does not expect"
)]

use refuge_app::*;
use refuge_core::*;
use refuge_store::Store;
use sqlx::Connection;
use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};
use time::macros::datetime;

/// A fresh, empty database for one test.
struct TestDb {
    url: String,
    postgres: bool,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        TestDb {
            url: format!("sqlite:{}", dir.path().join("test.db").display()),
            postgres: false,
            _dir: Some(dir),
        }
    }

    /// A new database on the server named by `REFUGE_TEST_POSTGRES`, or None (said once on
    /// the terminal) when there is none.
    async fn postgres() -> Option<TestDb> {
        static ANNOUNCE: std::sync::Once = std::sync::Once::new();
        let admin = std::env::var("REFUGE_TEST_POSTGRES").ok();
        ANNOUNCE.call_once(|| {
            // Written past the test harness's capture, so it shows in every run.
            writeln!(
                std::io::stderr(),
                "conformance suite: {}",
                match &admin {
                    Some(url) => format!("SQLite and PostgreSQL ({})", refuge_store::redacted_url(url)),
                    None => "SQLite only; set REFUGE_TEST_POSTGRES=postgres://… (scripts/test does) to include PostgreSQL".to_string(),
                }
            )
            .ok();
        });
        let admin = admin?;
        let name = format!("refuge_test_{}", uuid::Uuid::now_v7().simple());
        let mut connection = sqlx::PgConnection::connect(&admin).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut connection)
            .await
            .unwrap();
        connection.close().await.unwrap();
        let base = admin.rsplit_once('/').unwrap().0;
        Some(TestDb {
            url: format!("{base}/{name}"),
            postgres: true,
            _dir: None,
        })
    }

    /// A direct connection for tests that tamper with the database behind refuge's back.
    async fn raw(&self) -> Raw {
        if self.postgres {
            Raw::Postgres(sqlx::PgConnection::connect(&self.url).await.unwrap())
        } else {
            Raw::Sqlite(sqlx::SqliteConnection::connect(&self.url).await.unwrap())
        }
    }
}

enum Raw {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl Raw {
    /// Runs a statement with `$1, $2, …` text parameters (both drivers accept them).
    async fn execute(&mut self, sql: &str, texts: &[&str]) -> Result<u64, String> {
        let sql = sqlx::AssertSqlSafe(sql.to_string());
        match self {
            Raw::Sqlite(connection) => {
                let mut query = sqlx::query(sql);
                for text in texts {
                    query = query.bind(text.to_string());
                }
                query
                    .execute(connection)
                    .await
                    .map(|done| done.rows_affected())
            }
            Raw::Postgres(connection) => {
                let mut query = sqlx::query(sql);
                for text in texts {
                    query = query.bind(text.to_string());
                }
                query
                    .execute(connection)
                    .await
                    .map(|done| done.rows_affected())
            }
        }
        .map_err(|error| error.to_string())
    }

    async fn text(&mut self, sql: &str, texts: &[&str]) -> String {
        let sql = sqlx::AssertSqlSafe(sql.to_string());
        match self {
            Raw::Sqlite(connection) => {
                let mut query = sqlx::query_scalar(sql);
                for text in texts {
                    query = query.bind(text.to_string());
                }
                query.fetch_one(connection).await.unwrap()
            }
            Raw::Postgres(connection) => {
                let mut query = sqlx::query_scalar(sql);
                for text in texts {
                    query = query.bind(text.to_string());
                }
                query.fetch_one(connection).await.unwrap()
            }
        }
    }
}

/// One test per backend for each conformance test: `on_sqlite::NAME` and `on_postgres::NAME`.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::TestDb::sqlite()).await
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    if let Some(db) = super::TestDb::postgres().await {
                        super::$name(db).await
                    }
                }
            )*
        }
    };
}

const PASSPHRASE: &str = "synthetic passphrase 1";
const NOW: time::OffsetDateTime = datetime!(2026-11-29 09:00 UTC);

struct Org {
    app: App,
    /// The app's store, to look underneath the use cases.
    store: Arc<dyn Store>,
    admin: Session,
    db: TestDb,
    people: BTreeMap<&'static str, String>,
}

fn identity(name: &str) -> BTreeMap<PersonField, String> {
    let mut identity = BTreeMap::new();
    identity.insert(PersonField::Name, name.to_string());
    identity.insert(PersonField::Origin, format!("Synthetic origin of {name}"));
    identity
}

/// An organisation with two shelters, a person in each, and a user of every role (the
/// caseworker's compartment is SHL-A).
async fn org(db: TestDb) -> Org {
    let store: Arc<dyn Store> = refuge_store::create(&db.url, NodeId(uuid::Uuid::now_v7()))
        .await
        .unwrap()
        .into();
    let app = App::new(store.clone(), Box::new(FixedClock(NOW)));
    let admin = app.init("admin", PASSPHRASE, 1_000).await.unwrap();
    for code in ["SHL-A", "SHL-B"] {
        app.add_location(
            &admin,
            code,
            LocationKind::Shelter,
            "TH",
            3,
            Some("Synthetic Shelter"),
            None,
        )
        .await
        .unwrap();
    }
    let mut people = BTreeMap::new();
    for (key, location, name) in [
        ("a", "SHL-A", "Kim Synthetic-A"),
        ("b", "SHL-B", "Lee Synthetic-B"),
    ] {
        let person = app
            .add_person(
                &admin,
                NewPerson {
                    location: location.into(),
                    birth_year: Some(1990),
                    since: Some(time::macros::date!(2026 - 09 - 01)),
                    identity: identity(name),
                    ..NewPerson::default()
                },
            )
            .await
            .unwrap();
        people.insert(key, person.code);
    }
    let compartment = vec!["SHL-A".to_string()];
    for role in [
        Role::Coordinator,
        Role::Caseworker,
        Role::Analyst,
        Role::Auditor,
    ] {
        app.add_user(
            &admin,
            NewUser {
                name: role.as_str(),
                role,
                location_codes: if role == Role::Caseworker {
                    &compartment
                } else {
                    &[]
                },
                passphrase: PASSPHRASE,
            },
        )
        .await
        .unwrap();
    }
    Org {
        app,
        store,
        admin,
        db,
        people,
    }
}

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

async fn a_flipped_byte_or_a_moved_ciphertext_is_detected_when_read(db: TestDb) {
    let org = org(db).await;
    let (a, b) = (&org.people["a"], &org.people["b"]);
    let mut raw = org.db.raw().await;
    let sealed_b = raw
        .text("SELECT sealed FROM people WHERE code = $1", &[b])
        .await;
    // Move b's sealed fields onto a's row.
    raw.execute(
        "UPDATE people SET sealed = $1 WHERE code = $2",
        &[&sealed_b, a],
    )
    .await
    .unwrap();
    let error = org
        .app
        .show_person(&org.admin, a, true)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("failed authentication"), "{error}");
    assert!(!error.contains("Synthetic"), "{error}");
    // Flip one character inside b's sealed name.
    let mut fields: BTreeMap<String, String> = serde_json::from_str(&sealed_b).unwrap();
    let name = fields.get_mut("name").unwrap();
    let flipped = if name.ends_with('A') { 'B' } else { 'A' };
    name.pop();
    name.push(flipped);
    raw.execute(
        "UPDATE people SET sealed = $1 WHERE code = $2",
        &[&serde_json::to_string(&fields).unwrap(), b],
    )
    .await
    .unwrap();
    assert!(matches!(
        org.app.show_person(&org.admin, b, true).await,
        Err(AppError::Crypto(
            refuge_crypto::CryptoError::Tampered { .. }
        ))
    ));
    // Both rows now differ from the log, and verify says which.
    let report = org.app.verify(&org.admin).await.unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|problem| problem.contains(a.as_str())),
        "{:?}",
        report.problems
    );
    assert!(
        report
            .problems
            .iter()
            .any(|problem| problem.contains(b.as_str())),
        "{:?}",
        report.problems
    );
}

async fn verify_names_a_tampered_event_and_the_log_refuses_edits(db: TestDb) {
    let org = org(db).await;
    assert!(org.app.verify(&org.admin).await.unwrap().ok());
    let mut raw = org.db.raw().await;
    let refused = raw
        .execute("UPDATE events SET hlc = hlc + 1 WHERE seq = 3", &[])
        .await;
    assert!(refused.unwrap_err().contains("append-only"));
    let refused = raw.execute("DELETE FROM events WHERE seq = 3", &[]).await;
    assert!(refused.unwrap_err().contains("append-only"));
    // An attacker with the database can drop the guard; the hash chain still tells.
    let drop_guard = if org.db.postgres {
        "DROP TRIGGER events_append_only ON events"
    } else {
        "DROP TRIGGER events_no_update"
    };
    raw.execute(drop_guard, &[]).await.unwrap();
    raw.execute(
        "UPDATE events SET body = replace(body, '\"capacity\":3', '\"capacity\":4') WHERE seq = 3",
        &[],
    )
    .await
    .unwrap();
    let report = org.app.verify(&org.admin).await.unwrap();
    assert!(!report.ok());
    assert!(
        report
            .problems
            .iter()
            .any(|problem| problem.contains("/3 (location_added): hash does not match")),
        "{:?}",
        report.problems
    );
}

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

const HEADER: &str =
    "household_ref,name,sex,birth_year,location,stage,since,flags,origin,date_of_birth\n";

/// An import of at least 10,000 people into a smaller organisation drops the people indexes
/// and builds them again after the insert (on SQLite): afterwards every index is as it was,
/// the name search finds an imported person through the rebuilt blind index, and verify
/// agrees with the tables.
async fn a_large_import_leaves_every_index_as_it_was(db: TestDb) {
    let org = org(db).await;
    let app = &org.app;
    let indexes = if org.db.postgres {
        "SELECT string_agg(indexname || ' ' || indexdef, ' | ' ORDER BY indexname) \
         FROM pg_indexes WHERE tablename = 'people'"
    } else {
        "SELECT group_concat(name || ' ' || coalesce(sql, 'constraint'), ' | ') FROM \
         (SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'people' \
          ORDER BY name)"
    };
    let mut raw = org.db.raw().await;
    let before = raw.text(indexes, &[]).await;
    assert!(before.contains("people_duplicate_index"), "{before}");
    let mut csv = String::from(HEADER);
    for index in 0..10_000 {
        csv.push_str(&format!(
            "bulk-{},Synthetic Bulk-{index:05},female,1990,SHL-{},sheltered,2026-10-01,,Synthetic origin,1990-01-02\n",
            index / 3,
            if index % 2 == 0 { 'A' } else { 'B' }
        ));
    }
    let report = app
        .import_people(
            &org.admin,
            csv.as_bytes(),
            ImportOptions {
                over_capacity: true,
                ..ImportOptions::default()
            },
            &mut |_| {},
        )
        .await
        .unwrap();
    assert_eq!(report.people, 10_000);
    assert_eq!(raw.text(indexes, &[]).await, before);
    let found = app
        .list_people(
            &org.admin,
            &PeopleQuery {
                name: Some("Synthetic Bulk-04321".into()),
                ..PeopleQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert!(app.verify(&org.admin).await.unwrap().ok());
}

async fn import_is_all_or_nothing_and_reports_every_problem(db: TestDb) {
    let org = org(db).await;
    let app = &org.app;
    let before = org.store.load_state().await.unwrap();
    let bad = format!(
        "{HEADER}\
         h1,Kim Import-1,female,1990,SHL-A,sheltered,2026-10-01,minor,Synthetic origin,1990-03-04\n\
         h1,,female,1890,SHL-Z,flying,2026-13-01,brave,Synthetic origin,not-a-date\n\
         h2,Lee Import-2,robot,1985,SHL-B,departed,2026-10-01,,,\n"
    );
    let error = app
        .import_people(
            &org.admin,
            bad.as_bytes(),
            ImportOptions {
                over_capacity: true,
                ..ImportOptions::default()
            },
            &mut |_| {},
        )
        .await
        .unwrap_err();
    let AppError::Import(problems) = &error else {
        panic!("{error}")
    };
    let found: Vec<(u64, &str)> = problems
        .iter()
        .map(|problem| (problem.line, problem.column.as_str()))
        .collect();
    for expected in [
        (3, "name"),
        (3, "birth_year"),
        (3, "location"),
        (3, "stage"),
        (3, "since"),
        (3, "flags"),
        (3, "date_of_birth"),
        (4, "sex"),
        (4, "stage"),
    ] {
        assert!(
            found.contains(&expected),
            "{expected:?} missing from {found:?}"
        );
    }
    assert!(
        !error.to_string().contains("not-a-date"),
        "protected values are not echoed"
    );
    assert_eq!(
        org.store.load_state().await.unwrap(),
        before,
        "nothing written"
    );

    let missing_column = app
        .import_people(
            &org.admin,
            "name,sex\nx,female\n".as_bytes(),
            ImportOptions::default(),
            &mut |_| {},
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(
        missing_column
            .contains("line 1, column header: missing column(s): household_ref, birth_year"),
        "{missing_column}"
    );

    let good = format!(
        "{HEADER}\
         fam-1,Kim Import-1,female,1990,SHL-A,sheltered,2026-10-01,minor;pregnant,Synthetic origin,1990-03-04\n\
         fam-1,Kim Import-2,male,2015,SHL-A,sheltered,2026-10-01,minor,,\n"
    );
    let report = app
        .import_people(
            &org.admin,
            good.as_bytes(),
            ImportOptions::default(),
            &mut |_| {},
        )
        .await
        .unwrap();
    assert_eq!((report.people, report.households), (2, 1));
    let family = app
        .list_people(
            &org.admin,
            &PeopleQuery {
                name: Some("Kim Import-2".into()),
                ..PeopleQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(family.len(), 1);

    // The same file again: every row is a likely duplicate, refused without the flag.
    let error = app
        .import_people(
            &org.admin,
            good.as_bytes(),
            ImportOptions::default(),
            &mut |_| {},
        )
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("line 2, column name: likely duplicate of P-"),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains("SHL-A would hold 5 people in 3 beds"),
        "{error}"
    );
    let over = app
        .import_people(
            &org.admin,
            good.as_bytes(),
            ImportOptions {
                allow_duplicates: true,
                ..ImportOptions::default()
            },
            &mut |_| {},
        )
        .await
        .unwrap_err();
    assert!(
        over.to_string()
            .contains("SHL-A would hold 5 people in 3 beds"),
        "{over}"
    );
    let report = app
        .import_people(
            &org.admin,
            good.as_bytes(),
            ImportOptions {
                allow_duplicates: true,
                over_capacity: true,
                ..ImportOptions::default()
            },
            &mut |_| {},
        )
        .await
        .unwrap();
    assert_eq!(report.duplicates.len(), 2);
    assert!(app.verify(&org.admin).await.unwrap().ok());
}

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

/// Store operations the use cases above do not reach, and the behaviour both backends must
/// share: optimistic concurrency, unique codes, counts, and a copy to the other backend.
async fn store_operations_behave_the_same(db: TestDb) {
    use refuge_store::{Commit, Guard, NewEvent, StoreError};
    let postgres = db.postgres;
    let org = org(db).await;
    let store = org.store;
    let person = store
        .person_by_code(&org.people["a"])
        .await
        .unwrap()
        .unwrap();

    // A write guarded by a version someone else has moved past is refused, never applied.
    let stale = Commit {
        events: vec![NewEvent {
            id: EventId(uuid::Uuid::now_v7()),
            actor: org.admin.user().id,
            body: EventBody::FlagSet {
                person: person.id,
                flag: Flag::MedicalUrgent,
                on: true,
            },
        }],
        guards: vec![Guard::Version {
            record: RecordRef::Person(person.id),
            version: person.version - 1,
        }],
        now_millis: 1,
        ..Commit::default()
    };
    let before = store.table_counts().await.unwrap();
    let error = store
        .commit(stale, refuge_crypto::chain_hash)
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Conflict { .. }), "{error}");
    assert!(
        error.to_string().contains("changed by someone else"),
        "{error}"
    );
    assert_eq!(
        store.table_counts().await.unwrap(),
        before,
        "nothing written"
    );

    // A code already taken is refused by the database itself.
    let mut twin = store.location_by_code("SHL-A").await.unwrap().unwrap();
    twin.id = LocationId(uuid::Uuid::now_v7());
    let duplicate = Commit {
        events: vec![NewEvent {
            id: EventId(uuid::Uuid::now_v7()),
            actor: org.admin.user().id,
            body: EventBody::LocationAdded { location: twin },
        }],
        now_millis: 2,
        ..Commit::default()
    };
    assert!(matches!(
        store.commit(duplicate, refuge_crypto::chain_hash).await,
        Err(StoreError::Duplicate { .. })
    ));
    assert_eq!(
        store.table_counts().await.unwrap(),
        before,
        "nothing written"
    );

    // Lookups by code, id, duplicate index and kind.
    let codes = store.codes_of(&[person.id.0]).await.unwrap();
    assert_eq!(codes[&person.id.0], org.people["a"]);
    let taken = store
        .taken_codes(&[org.people["a"].clone(), "P-NOONE".to_string()])
        .await
        .unwrap();
    assert_eq!(taken, vec![org.people["a"].clone()]);
    let twins = store
        .people_by_duplicate_index(&[person.duplicate_index.unwrap()])
        .await
        .unwrap();
    assert!(twins.iter().any(|twin| twin.id == person.id));
    let added = store.events_of_kinds(&["person_added"]).await.unwrap();
    assert_eq!(added.len(), 2);
    assert_eq!(store.events_of(person.id.0).await.unwrap().len(), 1);
    let flow = store
        .monthly_flow(time::macros::date!(2026 - 01 - 01))
        .await
        .unwrap();
    assert_eq!(flow.iter().map(|(_, entered, _)| entered).sum::<u64>(), 2);
    assert_eq!(store.key_wraps().await.unwrap().len(), 5, "one per user");
    let meta: BTreeMap<String, String> = store.all_meta().await.unwrap().into_iter().collect();
    assert!(meta.contains_key("node_id"));
    assert!(store.aggregate_problems().await.unwrap().is_empty());

    // The whole organisation copied to the other backend (or to a second SQLite file) holds
    // the same rows, verifies, and unlocks with the same passphrases.
    let copy_db = if postgres {
        TestDb::sqlite()
    } else {
        match TestDb::postgres().await {
            Some(db) => db,
            None => TestDb::sqlite(),
        }
    };
    let copy = refuge_store::create(&copy_db.url, NodeId(uuid::Uuid::now_v7()))
        .await
        .unwrap();
    let events = copy.copy_from(store.as_ref()).await.unwrap();
    assert_eq!(
        events,
        store.events_page(None, 10_000).await.unwrap().len() as u64
    );
    assert_eq!(
        copy.table_counts().await.unwrap(),
        store.table_counts().await.unwrap()
    );
    assert!(matches!(
        copy.copy_from(store.as_ref()).await,
        Err(StoreError::AlreadyExists(_))
    ));
    let copied = App::new(copy, Box::new(FixedClock(NOW)));
    let admin = copied.login("admin", PASSPHRASE).await.unwrap();
    assert!(copied.verify(&admin).await.unwrap().ok());
    let shown = copied
        .show_person(&admin, &org.people["a"], true)
        .await
        .unwrap();
    let identity = shown.identity.unwrap();
    assert!(
        identity.iter().any(
            |(field, value)| *field == PersonField::Name && value.as_str() == "Kim Synthetic-A"
        )
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
            matches!(&refused, Err(AppError::Invalid { reason, .. }) if reason.contains("last active admin")),
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

/// The nonces and ciphertexts of every stored key wrap and escrow, as they are stored
/// (base64 text): what opens a key given a passphrase, token or code. (Salts are not secret;
/// the duress user's salt lives on in the new organisation's wrap, which is why one key
/// derivation serves both.)
async fn key_material(org: &Org) -> Vec<String> {
    let mut texts: Vec<String> = org
        .store
        .key_wraps()
        .await
        .unwrap()
        .into_iter()
        .map(|(_, _, wrapped)| wrapped)
        .collect();
    texts.extend(
        org.store
            .all_meta()
            .await
            .unwrap()
            .into_iter()
            .filter(|(key, _)| key == "recovery_escrow")
            .map(|(_, value)| value),
    );
    let mut pieces: Vec<String> = texts
        .iter()
        .flat_map(|text| {
            let pieces: Vec<&str> = text.split('$').collect();
            // rk1$params$salt$nonce$ciphertext[$nonce$marker], rt1$salt$nonce$ciphertext
            let first_secret = if pieces[0] == "rk1" { 3 } else { 2 };
            pieces[first_secret..]
                .iter()
                .map(|piece| piece.to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    // Compartment secrets wrapped to holders, and record keys: envelopes, one piece each.
    let keys = org.store.key_tables().await.unwrap();
    pieces.extend(keys.holder_wraps.into_iter().map(|wrap| wrap.wrapped));
    pieces.extend(keys.record_keys.into_iter().map(|key| key.wrapped));
    pieces
}

const DURESS: &str = "a synthetic duress phrase";

async fn the_duress_passphrase_erases_every_key_and_opens_an_empty_organisation(db: TestDb) {
    let org = org(db).await;
    let app = &org.app;
    let coordinator = app.login("coordinator", PASSPHRASE).await.unwrap();
    // Arming it takes the current passphrase, and a duress passphrase unlike it.
    let field = |result: AppResult<()>| match result {
        Err(AppError::Invalid { field, .. }) => field,
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert_eq!(
        field(
            app.set_duress_passphrase(&coordinator, "not my passphrase", Some(DURESS))
                .await
        ),
        "current passphrase"
    );
    assert_eq!(
        field(
            app.set_duress_passphrase(&coordinator, PASSPHRASE, Some(PASSPHRASE))
                .await
        ),
        "duress passphrase"
    );
    assert_eq!(
        field(
            app.set_duress_passphrase(&coordinator, PASSPHRASE, Some("short"))
                .await
        ),
        "duress passphrase"
    );
    app.set_duress_passphrase(&coordinator, PASSPHRASE, Some(DURESS))
        .await
        .unwrap();
    assert!(
        !app.session_is_current(&coordinator).await.unwrap(),
        "the wrap changed: log in again"
    );
    // A change of passphrase keeps the duress passphrase, and may not become it.
    let coordinator = app.login("coordinator", PASSPHRASE).await.unwrap();
    assert_eq!(
        field(
            app.reset_passphrase(&coordinator, "coordinator", DURESS)
                .await
        ),
        "passphrase"
    );
    app.reset_passphrase(&org.admin, "coordinator", "a new synthetic passphrase")
        .await
        .unwrap();
    let coordinator = app
        .login("coordinator", "a new synthetic passphrase")
        .await
        .unwrap();
    let (_, token) = app.create_token(&coordinator, "report").await.unwrap();
    let code = app.new_recovery_code(&org.admin).await.unwrap();
    let other = app.login("caseworker", PASSPHRASE).await.unwrap();

    // A backup taken before, as `refuge migrate` makes one.
    let backup_db = if org.db.postgres {
        TestDb::postgres().await.unwrap()
    } else {
        TestDb::sqlite()
    };
    let backup = refuge_store::create(&backup_db.url, NodeId(uuid::Uuid::now_v7()))
        .await
        .unwrap();
    backup.copy_from(&*org.store).await.unwrap();
    backup.close().await;

    let before = key_material(&org).await;
    assert!(
        before.len() >= 3 * 6 + 10,
        "users, a token, the escrow, compartments and records"
    );
    let erased = app.login("coordinator", DURESS).await.unwrap();

    // It looks like a login into an organisation that has nothing in it.
    assert_eq!(erased.user().name, "coordinator");
    assert_eq!(erased.role(), Role::Coordinator);
    assert!(app.session_is_current(&erased).await.unwrap());
    assert!(
        app.list_people(&erased, &PeopleQuery::default())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(app.locations(&erased, false).await.unwrap().is_empty());
    assert!(
        app.incidents(&erased, false, false)
            .await
            .unwrap()
            .is_empty()
    );
    let users: Vec<String> = app
        .users(&erased)
        .await
        .unwrap()
        .into_iter()
        .map(|user| user.name)
        .collect();
    assert_eq!(users, ["coordinator"], "alone in it");
    let report = app.verify(&erased).await.unwrap();
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!(report.people, 0);
    let log = app.access_log(&erased, None).await;
    assert!(matches!(log, Err(AppError::Forbidden { .. })));

    // Every credential of the organisation that was is gone.
    for (name, passphrase) in [
        ("coordinator", "a new synthetic passphrase"),
        ("admin", PASSPHRASE),
        ("caseworker", PASSPHRASE),
    ] {
        assert!(matches!(
            app.login(name, passphrase).await,
            Err(AppError::BadLogin)
        ));
    }
    assert!(matches!(
        app.login_token(&token).await,
        Err(AppError::BadLogin)
    ));
    assert!(!app.session_is_current(&other).await.unwrap());
    assert!(
        app.recovery_code_made().await.unwrap().is_some(),
        "it has one, as every organisation does, that no one holds"
    );
    assert!(
        app.recover(
            code.text().as_str(),
            "admin",
            "a recovered synthetic passphrase"
        )
        .await
        .is_err()
    );
    // The duress passphrase is now the passphrase, of this empty organisation.
    let again = app.login("coordinator", DURESS).await.unwrap();
    assert!(
        app.list_people(&again, &PeopleQuery::default())
            .await
            .unwrap()
            .is_empty()
    );
    // The event log still refuses edits.
    let mut raw = org.db.raw().await;
    assert!(raw.execute("DELETE FROM events", &[]).await.is_err());
    assert!(raw.execute("DELETE FROM access_log", &[]).await.is_err());

    // Not one piece of the key material that was is left in the database's files, once the
    // compaction that follows the duress login has run.
    app.compact_after_erase().await.unwrap();
    let found_in = |file: &str| {
        let bytes = std::fs::read(file).unwrap_or_default();
        before.iter().any(|piece| {
            bytes
                .windows(piece.len())
                .any(|window| window == piece.as_bytes())
        })
    };
    if !org.db.postgres {
        let backup_path = backup_db.url.strip_prefix("sqlite:").unwrap();
        assert!(
            found_in(backup_path),
            "the scan finds what the backup keeps"
        );
        let path = org.db.url.strip_prefix("sqlite:").unwrap().to_string();
        for file in [path.clone(), format!("{path}-wal"), format!("{path}-shm")] {
            assert!(!found_in(&file), "key material found in {file}");
        }
        // Once compacted, not even the erased records' operational facts are in the file.
        let plain = |file: &str, text: &str| {
            let bytes = std::fs::read(file).unwrap_or_default();
            bytes
                .windows(text.len())
                .any(|window| window == text.as_bytes())
        };
        assert!(
            plain(backup_path, "person_added"),
            "the scan finds what the backup keeps"
        );
        for file in [path.clone(), format!("{path}-wal")] {
            for text in [
                "person_added",
                "SHL-B",
                org.people["a"].as_str(),
                "caseworker",
            ] {
                assert!(!plain(&file, text), "{text} found in {file}");
            }
        }
    }
    let after: Vec<String> = key_material(&org).await;
    assert!(before.iter().all(|piece| !after.contains(piece)));

    // The recovery code restores the organisation from the backup.
    let restored: Arc<dyn Store> = refuge_store::open(&backup_db.url).await.unwrap().into();
    let restored_app = App::new(restored, Box::new(FixedClock(NOW)));
    restored_app
        .recover(
            code.text().as_str(),
            "admin",
            "a recovered synthetic passphrase",
        )
        .await
        .unwrap();
    let admin = restored_app
        .login("admin", "a recovered synthetic passphrase")
        .await
        .unwrap();
    let people = restored_app
        .list_people(&admin, &PeopleQuery::default())
        .await
        .unwrap();
    assert_eq!(people.len(), 2);
    let shown = restored_app
        .show_person(&admin, &org.people["a"], true)
        .await
        .unwrap();
    let name = shown
        .identity
        .unwrap()
        .into_iter()
        .find(|(field, _)| *field == PersonField::Name)
        .unwrap()
        .1;
    assert_eq!(name.as_str(), "Kim Synthetic-A");
}

/// One key derivation for either passphrase: a duress login costs what a normal one does.
/// (The 10% target is measured by `refuge-bench duress`; a second derivation would double
/// the time, which this catches on a busy machine.)
#[tokio::test]
async fn a_duress_login_takes_the_time_of_a_normal_one() {
    let org = org(TestDb::sqlite()).await;
    let app = &org.app;
    let mut real = PASSPHRASE.to_string();
    let mut normal = Vec::new();
    let mut duress = Vec::new();
    for round in 0..5 {
        let session = app.login("coordinator", &real).await.unwrap();
        let next = format!("{DURESS} {round}");
        app.set_duress_passphrase(&session, &real, Some(&next))
            .await
            .unwrap();
        let started = Instant::now();
        app.login("coordinator", &real).await.unwrap();
        normal.push(started.elapsed());
        let started = Instant::now();
        app.login("coordinator", &next).await.unwrap();
        duress.push(started.elapsed());
        real = next;
    }
    normal.sort();
    duress.sort();
    let ratio = duress[2].as_secs_f64() / normal[2].as_secs_f64();
    assert!(ratio < 1.5, "duress {duress:?} against normal {normal:?}");
}

/// What one user's passphrase opens in the database, found without refuge-app (its formats
/// stated again here): the user's key pair from their key wrap, the compartment secrets
/// wrapped to it, the record keys those open, then every sealed value of every record tried.
/// Returns (table, record id) of each value that opened.
async fn what_opens(
    store: &dyn Store,
    user: &str,
    passphrase: &str,
) -> std::collections::BTreeSet<(String, String)> {
    what_opens_to(store, user, passphrase)
        .await
        .into_keys()
        .map(|(table, record, _)| (table, record))
        .collect()
}

/// What `what_opens` opens, value by value: (table, record, field) to the text.
async fn what_opens_to(
    store: &dyn Store,
    user: &str,
    passphrase: &str,
) -> BTreeMap<(String, String, String), String> {
    use refuge_crypto::{Holder, KeyPair, Sealer, WrappedKey};
    let user = store.user_by_name(user).await.unwrap().unwrap();
    let credential = format!("user:{}", user.id);
    let (_, wrapped) = store.key_wrap(&credential).await.unwrap().unwrap();
    let secret = WrappedKey::decode(&wrapped)
        .unwrap()
        .unwrap_key(passphrase.as_bytes(), &credential)
        .unwrap();
    let me = Holder::new(KeyPair::from_secret(&secret));
    let holder = user.id.to_string();
    let tables = store.key_tables().await.unwrap();
    let mut compartments = BTreeMap::new();
    for wrap in tables
        .holder_wraps
        .iter()
        .filter(|wrap| wrap.holder == holder)
    {
        let context = format!(
            "compartment:{}:{}|holder:{}",
            wrap.compartment, wrap.generation, wrap.holder
        );
        let secret = me.unwrap(&wrap.wrapped, &context).unwrap();
        compartments.insert(
            (wrap.compartment.clone(), wrap.generation),
            Holder::new(KeyPair::from_secret(&secret)),
        );
    }
    let mut sealers = BTreeMap::new();
    for key in &tables.record_keys {
        if let Some(compartment) = compartments.get(&(key.compartment.clone(), key.generation)) {
            let context = format!(
                "record:{}|compartment:{}:{}",
                key.record, key.compartment, key.generation
            );
            let record = compartment.unwrap(&key.wrapped, &context).unwrap();
            sealers.insert(key.record.clone(), Sealer::new(&record).unwrap());
        }
    }
    open_sealed_values(store, |record| sealers.get(record)).await
}

/// Every sealed value of the records that `sealer_of` (by the record whose key seals it)
/// opens: (table, record, field) to the text. Walks the tables itself, not refuge-core's
/// list of sealed values.
async fn open_sealed_values<'a>(
    store: &dyn Store,
    sealer_of: impl Fn(&str) -> Option<&'a refuge_crypto::Sealer>,
) -> BTreeMap<(String, String, String), String> {
    let state = store.load_state().await.unwrap();
    let mut opened = BTreeMap::new();
    let mut attempt = |table: &str, record: String, owner: String, field: &str, sealed: &str| {
        let context = refuge_crypto::FieldContext {
            table,
            record: &record,
            field,
        };
        if let Some(text) = sealer_of(&owner).and_then(|sealer| sealer.open(sealed, context).ok()) {
            opened.insert(
                (table.to_string(), record.clone(), field.to_string()),
                text.as_str().to_string(),
            );
        }
    };
    for person in state.people.values() {
        for (field, sealed) in &person.sealed {
            let id = person.id.to_string();
            attempt("people", id.clone(), id, field.as_str(), &sealed.0);
        }
    }
    for note in state.notes.values() {
        attempt(
            "notes",
            note.id.to_string(),
            note.person.to_string(),
            "text",
            &note.text.0,
        );
    }
    for incident in state.incidents.values() {
        if let Some(sealed) = &incident.narrative {
            let id = incident.id.to_string();
            attempt("incidents", id.clone(), id, "narrative", &sealed.0);
        }
    }
    for location in state.locations.values() {
        let id = location.id.to_string();
        for (field, sealed) in [("name", &location.name), ("address", &location.address)] {
            if let Some(sealed) = sealed {
                attempt("locations", id.clone(), id.clone(), field, &sealed.0);
            }
        }
    }
    opened
}

/// Every sealed record at each shelter, as `what_opens` names them.
async fn sealed_records_at(
    store: &dyn Store,
) -> BTreeMap<String, std::collections::BTreeSet<(String, String)>> {
    let state = store.load_state().await.unwrap();
    let code_of: BTreeMap<LocationId, String> = state
        .locations
        .values()
        .map(|location| (location.id, location.code.clone()))
        .collect();
    let mut at: BTreeMap<String, std::collections::BTreeSet<(String, String)>> = BTreeMap::new();
    for person in state.people.values().filter(|p| !p.sealed.is_empty()) {
        at.entry(code_of[&person.location].clone())
            .or_default()
            .insert(("people".into(), person.id.to_string()));
    }
    for note in state.notes.values() {
        let location = state.people[&note.person].location;
        at.entry(code_of[&location].clone())
            .or_default()
            .insert(("notes".into(), note.id.to_string()));
    }
    for incident in state.incidents.values().filter(|i| i.narrative.is_some()) {
        at.entry(code_of[&incident.location].clone())
            .or_default()
            .insert(("incidents".into(), incident.id.to_string()));
    }
    for location in state.locations.values().filter(|l| l.name.is_some()) {
        at.entry(location.code.clone())
            .or_default()
            .insert(("locations".into(), location.id.to_string()));
    }
    at
}

/// An organisation with a note and an incident narrative at each shelter.
async fn org_with_case_records(db: TestDb) -> Org {
    let org = org(db).await;
    for (key, location) in [("a", "SHL-A"), ("b", "SHL-B")] {
        org.app
            .add_note(&org.admin, &org.people[key], "Synthetic case note", None)
            .await
            .unwrap();
        let mut incident = NewIncident::new(location, IncidentKind::Conflict, 2);
        incident.narrative = Some("Synthetic narrative");
        org.app.add_incident(&org.admin, incident).await.unwrap();
    }
    org
}

/// A raid on one shelter opens one shelter: each role's passphrase opens exactly its
/// compartments' records, found by walking the file; and making the caseworker an admin in
/// the file (the users table edited) opens nothing more, there or through refuge-app.
async fn each_passphrase_opens_exactly_its_compartments_whatever_the_file_says(db: TestDb) {
    let org = org_with_case_records(db).await;
    let at = sealed_records_at(&*org.store).await;
    let shelter_a = at["SHL-A"].clone();
    let everything: std::collections::BTreeSet<_> = at.values().flatten().cloned().collect();
    assert!(
        shelter_a.len() >= 4 && everything.len() > shelter_a.len(),
        "{at:?}"
    );
    for (user, expected) in [
        ("admin", everything.clone()),
        ("coordinator", everything.clone()),
        ("caseworker", shelter_a.clone()),
        ("analyst", Default::default()),
        ("auditor", Default::default()),
    ] {
        assert_eq!(
            what_opens(&*org.store, user, PASSPHRASE).await,
            expected,
            "what {user}'s passphrase opens"
        );
    }

    // The file edited: the caseworker made an admin of every location.
    let mut raw = org.db.raw().await;
    raw.execute(
        "UPDATE users SET role = 'admin', locations = '[]' WHERE name = 'caseworker'",
        &[],
    )
    .await
    .unwrap();
    assert_eq!(
        what_opens(&*org.store, "caseworker", PASSPHRASE).await,
        shelter_a,
        "an edited role grants nothing"
    );
    let app = App::new(
        refuge_store::open(&org.db.url).await.unwrap(),
        Box::new(FixedClock(NOW)),
    );
    let promoted = app.login("caseworker", PASSPHRASE).await.unwrap();
    assert_eq!(promoted.role(), Role::Admin);
    assert!(
        app.show_person(&promoted, &org.people["a"], true)
            .await
            .is_ok()
    );
    assert!(matches!(
        app.show_person(&promoted, &org.people["b"], true).await,
        Err(AppError::OutsideCompartment { .. })
    ));
    assert!(matches!(
        app.export_people(&promoted, true, std::io::sink()).await,
        Err(AppError::OutsideCompartment { .. })
    ));
    let found = app
        .list_people(
            &promoted,
            &PeopleQuery {
                name: Some("Lee Synthetic-B".into()),
                ..PeopleQuery::default()
            },
        )
        .await
        .unwrap();
    assert!(
        found.is_empty(),
        "a name outside her compartments is not confirmed"
    );
    for location in app.locations(&promoted, true).await.unwrap() {
        assert_eq!(
            location.name.is_some(),
            location.location.code == "SHL-A",
            "{}",
            location.location.code
        );
    }
    for incident in app.incidents(&promoted, false, true).await.unwrap() {
        let code = &incident.location_code;
        assert_eq!(incident.narrative.is_some(), code == "SHL-A", "{code}");
    }
}

/// Handover without sharing keys: a caseworker moves someone to a shelter she does not hold;
/// its members open them, she no longer does (nor their notes).
async fn a_handover_seals_the_person_to_the_shelter_they_go_to(db: TestDb) {
    let org = org_with_case_records(db).await;
    let app = &org.app;
    let caseworker = app.login("caseworker", PASSPHRASE).await.unwrap();
    let person = app
        .add_person(
            &caseworker,
            NewPerson {
                location: "SHL-A".into(),
                birth_year: Some(1994),
                identity: identity("Park Synthetic-Handover"),
                ..NewPerson::default()
            },
        )
        .await
        .unwrap();
    app.add_note(&caseworker, &person.code, "Synthetic handover note", None)
        .await
        .unwrap();
    let before = what_opens(&*org.store, "caseworker", PASSPHRASE).await;
    assert!(before.contains(&("people".to_string(), person.id.to_string())));
    // SHL-B holds 3; one is there: room for the newcomer.
    app.move_to(&caseworker, &person.code, "SHL-B", None, None, false)
        .await
        .unwrap();
    let after = what_opens(&*org.store, "caseworker", PASSPHRASE).await;
    assert!(!after.contains(&("people".to_string(), person.id.to_string())));
    assert_eq!(before.len() - after.len(), 2, "the person and their note");
    let coordinator = what_opens(&*org.store, "coordinator", PASSPHRASE).await;
    assert!(coordinator.contains(&("people".to_string(), person.id.to_string())));
    let shown = app
        .show_person(&org.admin, &person.code, true)
        .await
        .unwrap();
    assert!(shown.identity.is_some());
    assert!(app.verify(&org.admin).await.unwrap().ok());
    // A record key nobody can attribute to a live generation is reported.
    let mut raw = org.db.raw().await;
    raw.execute(
        "UPDATE record_keys SET generation = 99 WHERE id = $1",
        &[&person.id.to_string()],
    )
    .await
    .unwrap();
    let report = app.verify(&org.admin).await.unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|problem| problem.contains("generation 99")),
        "{:?}",
        report.problems
    );
}

/// Granting and revoking: moving a caseworker to another shelter gives her its key and takes
/// the old one away (a new generation, the records re-wrapped); a deactivated coordinator's
/// passphrase opens nothing; a new passphrase set by an admin gives a new key pair.
async fn compartments_are_granted_and_revoked_without_anyones_passphrase(db: TestDb) {
    let org = org_with_case_records(db).await;
    let app = &org.app;
    let at = sealed_records_at(&*org.store).await;
    app.change_user(
        &org.admin,
        "caseworker",
        UserChange {
            location_codes: Some(&["SHL-B".to_string()]),
            ..UserChange::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        what_opens(&*org.store, "caseworker", PASSPHRASE).await,
        at["SHL-B"],
        "SHL-B now, and SHL-A no more"
    );
    let keys = org.store.key_tables().await.unwrap();
    let shelter_a = org.store.location_by_code("SHL-A").await.unwrap().unwrap();
    let generations: Vec<i64> = keys
        .compartments
        .iter()
        .filter(|key| key.compartment == shelter_a.id.to_string())
        .map(|key| key.generation)
        .collect();
    assert_eq!(generations, [2], "a new generation, the old one gone");
    assert!(
        keys.record_keys
            .iter()
            .filter(|key| key.compartment == shelter_a.id.to_string())
            .all(|key| key.generation == 2)
    );
    let everything: std::collections::BTreeSet<_> = at.values().flatten().cloned().collect();
    assert_eq!(
        what_opens(&*org.store, "coordinator", PASSPHRASE).await,
        everything
    );

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
    assert!(
        what_opens(&*org.store, "coordinator", PASSPHRASE)
            .await
            .is_empty()
    );
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
    assert_eq!(
        what_opens(&*org.store, "coordinator", PASSPHRASE).await,
        everything
    );

    // An admin sets someone's passphrase without knowing it: a new key pair, the same reach;
    // her tokens (which wrapped the old one) are revoked, and still listed.
    let caseworker = app.login("caseworker", PASSPHRASE).await.unwrap();
    let (_, token) = app.create_token(&caseworker, "weekly list").await.unwrap();
    app.reset_passphrase(&org.admin, "caseworker", "a new synthetic passphrase")
        .await
        .unwrap();
    assert!(matches!(
        app.login_token(&token).await,
        Err(AppError::BadLogin)
    ));
    assert_eq!(
        what_opens(&*org.store, "caseworker", "a new synthetic passphrase").await,
        at["SHL-B"]
    );
    let caseworker = app
        .login("caseworker", "a new synthetic passphrase")
        .await
        .unwrap();
    assert!(
        app.show_person(&caseworker, &org.people["b"], true)
            .await
            .is_ok()
    );
    let tokens = app.tokens(&caseworker).await.unwrap();
    assert_eq!(tokens.len(), 1);
    assert!(tokens[0].revoked.is_some());
    assert_eq!(tokens[0].label, "", "sealed under the key pair she had");
    let (_, fresh) = app.create_token(&caseworker, "new list").await.unwrap();
    assert!(app.login_token(&fresh).await.is_ok());
    assert_eq!(app.tokens(&caseworker).await.unwrap().len(), 2);
    assert!(app.verify(&org.admin).await.unwrap().ok());
}

/// `refuge key rotate`: every compartment turns to a new generation, every holder keeps what
/// they opened, and nothing is left under the old one.
async fn keys_rotate_to_a_new_generation_and_everyone_keeps_their_reach(db: TestDb) {
    let org = org_with_case_records(db).await;
    let app = &org.app;
    let before: Vec<_> = reach_of_everyone(&org).await;
    let coordinator = app.login("coordinator", PASSPHRASE).await.unwrap();
    assert!(matches!(
        app.rotate_keys(&coordinator, None).await,
        Err(AppError::Forbidden { .. })
    ));
    let (compartments, records) = app.rotate_keys(&org.admin, None).await.unwrap();
    assert_eq!(compartments, 3, "the organisation and two shelters");
    assert!(records >= 7, "{records}");
    let keys = org.store.key_tables().await.unwrap();
    assert!(keys.compartments.iter().all(|key| key.generation == 2));
    assert!(keys.record_keys.iter().all(|key| key.generation == 2));
    assert_eq!(reach_of_everyone(&org).await, before);
    let (one, _) = app.rotate_keys(&org.admin, Some("SHL-A")).await.unwrap();
    assert_eq!(one, 1);
    assert_eq!(reach_of_everyone(&org).await, before);
    assert!(app.verify(&org.admin).await.unwrap().ok());
    // The admin's session goes on opening records under the new generations.
    assert!(
        app.show_person(&org.admin, &org.people["a"], true)
            .await
            .is_ok()
    );
}

/// What every demo user's passphrase opens.
async fn reach_of_everyone(org: &Org) -> Vec<std::collections::BTreeSet<(String, String)>> {
    let mut reach = Vec::new();
    for user in ["admin", "coordinator", "caseworker", "analyst", "auditor"] {
        reach.push(what_opens(&*org.store, user, PASSPHRASE).await);
    }
    reach
}

/// The recovery code holds every compartment: an admin's passphrase set from it opens all,
/// and a new location made afterwards is in it too.
async fn the_recovery_code_opens_every_compartment(db: TestDb) {
    let org = org_with_case_records(db).await;
    let app = &org.app;
    let code = app.new_recovery_code(&org.admin).await.unwrap();
    app.add_location(
        &org.admin,
        "SHL-C",
        LocationKind::Shelter,
        "TH",
        5,
        Some("Synthetic C"),
        None,
    )
    .await
    .unwrap();
    app.recover(
        code.text().as_str(),
        "admin",
        "a recovered synthetic passphrase",
    )
    .await
    .unwrap();
    let at = sealed_records_at(&*org.store).await;
    let everything: std::collections::BTreeSet<_> = at.values().flatten().cloned().collect();
    assert!(at.contains_key("SHL-C"));
    assert_eq!(
        what_opens(&*org.store, "admin", "a recovered synthetic passphrase").await,
        everything
    );
    assert!(matches!(
        app.login("admin", PASSPHRASE).await,
        Err(AppError::BadLogin)
    ));
}

/// Every sealed value's text as stored, by (table, record, field).
async fn ciphertexts(store: &dyn Store) -> BTreeMap<(String, String, String), String> {
    let mut state = store.load_state().await.unwrap();
    state
        .sealed_slots()
        .into_iter()
        .map(|slot| {
            (
                (
                    slot.table.to_string(),
                    slot.record.to_string(),
                    slot.field.to_string(),
                ),
                slot.value.0.clone(),
            )
        })
        .collect()
}

/// `key rotate --reseal` for one shelter: its records get new keys and every value of theirs
/// is sealed again (in the log too: verify replays it), the other shelter's values stay as
/// they were, everyone opens the same texts as before, and nothing is left under the old
/// generation.
async fn a_reseal_gives_one_shelters_records_new_keys_and_keeps_every_text(db: TestDb) {
    let org = org_with_case_records(db).await;
    let app = &org.app;
    let correction = CorrectionRequest {
        identity: [(PersonField::Name, "Kim Synthetic-Corrected".to_string())].into(),
        ..CorrectionRequest::default()
    };
    app.correct_person(&org.admin, &org.people["a"], &correction)
        .await
        .unwrap();
    let at = sealed_records_at(&*org.store).await;
    let texts_before = what_opens_to(&*org.store, "admin", PASSPHRASE).await;
    let caseworker_before = what_opens(&*org.store, "caseworker", PASSPHRASE).await;
    let sealed_before = ciphertexts(&*org.store).await;
    let keys_before = org.store.key_tables().await.unwrap().record_keys;
    let heard = std::sync::Mutex::new(Vec::new());
    let resealed = app
        .reseal_keys(&org.admin, Some("SHL-A"), &|done, total| {
            heard.lock().unwrap().push((done, total));
        })
        .await
        .unwrap();
    assert_eq!(resealed.compartments, 1);
    assert_eq!(
        resealed.records,
        at["SHL-A"].iter().filter(|(t, _)| t != "notes").count()
    );
    let heard = heard.into_inner().unwrap();
    assert_eq!(
        heard.last().map(|(done, total)| done == total),
        Some(true),
        "{heard:?}"
    );

    assert!(app.verify(&org.admin).await.unwrap().ok());
    assert_eq!(
        what_opens_to(&*org.store, "admin", PASSPHRASE).await,
        texts_before
    );
    assert_eq!(
        what_opens(&*org.store, "caseworker", PASSPHRASE).await,
        caseworker_before
    );
    let sealed_after = ciphertexts(&*org.store).await;
    assert_eq!(sealed_after.len(), sealed_before.len());
    for (slot, before) in &sealed_before {
        let in_a = at["SHL-A"].contains(&(slot.0.clone(), slot.1.clone()));
        assert_eq!(
            &sealed_after[slot] != before,
            in_a,
            "{slot:?} sealed again exactly when it is at SHL-A"
        );
    }
    let keys_after = org.store.key_tables().await.unwrap().record_keys;
    for key in &keys_after {
        let before = keys_before
            .iter()
            .find(|old| old.record == key.record)
            .unwrap();
        if at["SHL-A"].iter().any(|(_, record)| *record == key.record) {
            assert_eq!(key.generation, before.generation + 1);
            assert_ne!(key.wrapped, before.wrapped);
        } else {
            assert_eq!(key, before);
        }
    }
    // The log's own copies changed too: a person at SHL-A, shown through the app.
    let shown = app
        .show_person(&org.admin, &org.people["a"], true)
        .await
        .unwrap();
    assert!(shown.identity.unwrap().iter().any(|(field, text)| {
        *field == PersonField::Name && text.as_str() == "Kim Synthetic-Corrected"
    }));
    // Everything, the organisation's compartment too (its index key kept), and again.
    let all = app.reseal_keys(&org.admin, None, &|_, _| {}).await.unwrap();
    assert!(all.compartments >= 3);
    assert!(app.verify(&org.admin).await.unwrap().ok());
    assert_eq!(
        what_opens_to(&*org.store, "admin", PASSPHRASE).await,
        texts_before
    );
    let found = app
        .list_people(
            &org.admin,
            &PeopleQuery {
                name: Some("Kim Synthetic-Corrected".to_string()),
                ..PeopleQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "the name search still finds her");
    let coordinator = app.login("coordinator", PASSPHRASE).await.unwrap();
    assert!(matches!(
        app.reseal_keys(&coordinator, None, &|_, _| {}).await,
        Err(AppError::Forbidden { .. })
    ));
}

/// `refuge purge`: the person who arrived before the date loses identity, notes and the
/// narrative of the closed incident that concerned only her (their keys destroyed, nothing
/// of hers opens for anyone), her facts stay, verify passes, a dry run and a second run
/// change nothing, and only an admin may.
async fn a_purge_destroys_the_identities_of_those_who_arrived_and_keeps_the_facts(db: TestDb) {
    use time::macros::date;
    let org = org_with_case_records(db).await;
    let app = &org.app;
    let (a, b) = (&org.people["a"], &org.people["b"]);
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
    let involved = vec![a.clone()];
    let mut incident = NewIncident::new("SHL-A", IncidentKind::Medical, 2);
    incident.people = &involved;
    incident.narrative = Some("Synthetic narrative about A");
    let incident = app.add_incident(&org.admin, incident).await.unwrap();
    app.close_incident(&org.admin, &incident.code)
        .await
        .unwrap();
    for (stage, at) in [
        (Stage::Departed, date!(2026 - 10 - 01)),
        (Stage::Arrived, date!(2026 - 10 - 02)),
    ] {
        app.move_to(&org.admin, a, "RCP-KR", Some(stage), Some(at), false)
            .await
            .unwrap();
    }
    let a_id = app
        .show_person(&org.admin, a, false)
        .await
        .unwrap()
        .person
        .id;
    let opened_before = what_opens(&*org.store, "admin", PASSPHRASE).await;
    assert!(
        opened_before
            .iter()
            .any(|(_, record)| *record == a_id.to_string())
    );

    let coordinator = app.login("coordinator", PASSPHRASE).await.unwrap();
    assert!(matches!(
        app.purge(&coordinator, date!(2026 - 11 - 01), false).await,
        Err(AppError::Forbidden { .. })
    ));
    assert!(matches!(
        app.purge(&org.admin, date!(2027 - 01 - 01), false).await,
        Err(AppError::Invalid { .. })
    ));
    // Arrived on 2026-10-02: not before that day.
    let none = app
        .purge(&org.admin, date!(2026 - 10 - 02), false)
        .await
        .unwrap();
    assert_eq!((none.people, none.narratives), (0, 0));
    let counts_before = org.store.table_counts().await.unwrap();
    let dry = app
        .purge(&org.admin, date!(2026 - 11 - 01), true)
        .await
        .unwrap();
    assert_eq!((dry.people, dry.duplicates, dry.narratives), (1, 0, 1));
    assert_eq!(
        what_opens(&*org.store, "admin", PASSPHRASE).await,
        opened_before
    );
    assert_eq!(org.store.table_counts().await.unwrap(), counts_before);

    let purged = app
        .purge(&org.admin, date!(2026 - 11 - 01), false)
        .await
        .unwrap();
    assert_eq!((purged.people, purged.narratives), (1, 1));
    assert!(app.verify(&org.admin).await.unwrap().ok());
    let admin = app.login("admin", PASSPHRASE).await.unwrap();
    // Nothing of hers opens for anyone; everything else as before.
    let incident_id = app
        .show_incident(&admin, &incident.code, false)
        .await
        .unwrap()
        .incident
        .id
        .to_string();
    let hers =
        |(_, record): &(String, String)| *record == a_id.to_string() || *record == incident_id;
    let mut expected = opened_before.clone();
    expected.retain(|entry| !hers(entry));
    let notes_of_a = app.notes(&admin, a, false).await.unwrap();
    for note in &notes_of_a {
        expected.remove(&("notes".to_string(), note.id.to_string()));
    }
    assert!(!notes_of_a.is_empty());
    assert_eq!(what_opens(&*org.store, "admin", PASSPHRASE).await, expected);
    assert!(matches!(
        app.show_person(&admin, a, true).await,
        Err(AppError::Purged { .. })
    ));
    assert!(
        app.notes(&admin, a, true)
            .await
            .unwrap()
            .iter()
            .all(|note| note.text.is_none())
    );
    assert!(matches!(
        app.add_note(&admin, a, "Synthetic note after purge", None)
            .await,
        Err(AppError::Purged { .. })
    ));
    // The facts stay; the name search no longer finds her; B is untouched.
    let shown = app.show_person(&admin, a, false).await.unwrap().person;
    assert_eq!(shown.stage, Stage::Arrived);
    assert_eq!(shown.birth_year, Some(1990));
    assert_eq!(shown.purged, Some(NOW.date()));
    assert!(shown.sealed.is_empty() && shown.name_index.is_none());
    let found = app
        .list_people(
            &admin,
            &PeopleQuery {
                name: Some("Kim Synthetic-A".into()),
                stage: Some(Stage::Arrived),
                ..PeopleQuery::default()
            },
        )
        .await
        .unwrap();
    assert!(found.is_empty());
    assert!(
        app.show_person(&admin, b, true)
            .await
            .unwrap()
            .identity
            .is_some()
    );
    let mut changes = Vec::new();
    app.history(&admin, Some(a), |page| {
        changes.extend(page.into_iter().map(|event| event.kind));
        Ok(())
    })
    .await
    .unwrap();
    assert_eq!(changes.last(), Some(&"person_purged"));
    // Run again: nothing left to do.
    let again = app
        .purge(&admin, date!(2026 - 11 - 01), false)
        .await
        .unwrap();
    assert_eq!((again.people, again.narratives), (0, 0));
    assert!(app.verify(&admin).await.unwrap().ok());
}

conformance!(
    a_purge_destroys_the_identities_of_those_who_arrived_and_keeps_the_facts,
    keys_rotate_to_a_new_generation_and_everyone_keeps_their_reach,
    a_reseal_gives_one_shelters_records_new_keys_and_keeps_every_text,
    each_passphrase_opens_exactly_its_compartments_whatever_the_file_says,
    a_handover_seals_the_person_to_the_shelter_they_go_to,
    compartments_are_granted_and_revoked_without_anyones_passphrase,
    the_recovery_code_opens_every_compartment,
    the_duress_passphrase_erases_every_key_and_opens_an_empty_organisation,
    an_xlsx_sheet_imports_like_its_csv,
    an_import_reads_dates_as_told_lists_every_problem_at_once_and_gives_each_lines_codes,
    an_auditor_finds_who_looked_and_who_was_refused,
    a_duplicate_record_merges_into_the_kept_one,
    households_change_after_registration,
    an_import_takes_the_spellings_volunteers_use,
    a_correction_changes_only_what_differs_and_keeps_the_history,
    case_notes_are_sealed_newest_first_and_follow_ups_come_due,
    a_move_keeps_the_place_in_the_queue_and_departure_ends_the_wait,
    an_import_keeps_a_wait_begun_at_an_earlier_shelter,
    departures_are_counted_and_a_wrong_aggregate_never_passes_verify,
    token_labels_are_sealed,
    access_log_times_never_run_backwards,
    tokens_act_as_their_user_until_revoked,
    admins_change_roles_compartments_and_access,
    store_operations_behave_the_same,
    every_role_can_do_exactly_what_the_table_says,
    caseworkers_see_and_touch_only_their_compartments,
    exact_name_search_goes_through_the_blind_index,
    wrong_passphrase_and_unknown_user_look_the_same_and_change_nothing,
    a_flipped_byte_or_a_moved_ciphertext_is_detected_when_read,
    verify_names_a_tampered_event_and_the_log_refuses_edits,
    moves_respect_capacity_stages_and_record_overrides,
    import_is_all_or_nothing_and_reports_every_problem,
    a_large_import_leaves_every_index_as_it_was,
    backlog_counts_waits_against_the_target,
    the_demo_builds_a_consistent_organisation,
    a_batch_is_planned_pinned_confirmed_departed_and_completed,
);

/// The passphrase of every user of the fixture made by the release before compartment keys.
const FIXTURE_PASSPHRASE: &str = "synthetic fixture passphrase";

/// A copy of the fixture in a temporary directory (kept while the first value lives), its
/// path and its store.
async fn fixture_store() -> (tempfile::TempDir, std::path::PathBuf, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("single-key.db");
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/single-key.db"),
        &path,
    )
    .unwrap();
    let url = format!("sqlite:{}", path.display());
    let store: Arc<dyn Store> = refuge_store::open(&url).await.unwrap().into();
    (dir, path, store)
}

/// An organisation made by the release before compartment keys (`refuge demo --people 40`,
/// one data key) still works as it did: reveals, name search, registration, moves, tokens,
/// the recovery code, verify.
#[tokio::test]
async fn an_organisation_from_before_compartments_keeps_its_one_data_key() {
    let (_dir, _, store) = fixture_store().await;
    assert!(store.key_tables().await.unwrap().compartments.is_empty());
    let app = App::new(store.clone(), Box::new(FixedClock(NOW)));
    let admin = app.login("admin", FIXTURE_PASSPHRASE).await.unwrap();
    assert!(app.verify(&admin).await.unwrap().ok());
    let waiting = app
        .list_people(&admin, &PeopleQuery::default())
        .await
        .unwrap();
    let first = &waiting[0].person;
    let shown = app.show_person(&admin, &first.code, true).await.unwrap();
    let name = shown
        .identity
        .unwrap()
        .into_iter()
        .find(|(field, _)| *field == PersonField::Name)
        .unwrap()
        .1;
    let found = app
        .list_people(
            &admin,
            &PeopleQuery {
                name: Some(name.as_str().to_string()),
                ..PeopleQuery::default()
            },
        )
        .await
        .unwrap();
    assert!(found.iter().any(|view| view.person.code == first.code));
    let location = app.locations(&admin, true).await.unwrap()[0]
        .location
        .code
        .clone();
    let added = app
        .add_person(
            &admin,
            NewPerson {
                location: location.clone(),
                birth_year: Some(1990),
                identity: identity("Kim Synthetic-After"),
                allow_duplicate: true,
                ..NewPerson::default()
            },
        )
        .await
        .unwrap();
    app.add_note(&admin, &added.code, "Synthetic note after", None)
        .await
        .unwrap();
    let notes = app.notes(&admin, &added.code, true).await.unwrap();
    assert_eq!(
        notes[0].text.as_ref().unwrap().as_str(),
        "Synthetic note after"
    );
    let coordinator = app.login("coordinator", FIXTURE_PASSPHRASE).await.unwrap();
    let (_, token) = app.create_token(&coordinator, "script").await.unwrap();
    assert!(app.login_token(&token).await.is_ok());
    let code = app.new_recovery_code(&admin).await.unwrap();
    app.recover(
        code.text().as_str(),
        "admin",
        "a recovered synthetic passphrase",
    )
    .await
    .unwrap();
    let admin = app
        .login("admin", "a recovered synthetic passphrase")
        .await
        .unwrap();
    assert!(app.show_person(&admin, &added.code, true).await.is_ok());
    assert!(app.verify(&admin).await.unwrap().ok());
    assert!(matches!(
        app.rotate_keys(&admin, None).await,
        Err(AppError::Invalid { .. })
    ));
}

/// `upgrade_keys` on the fixture made by the release before compartment keys: every sealed
/// value, in the records and the log, opens to the same text as before under its own record's
/// key (and no ciphertext of before is left in the file); verify passes; the name search still
/// finds people (the data key is the index key now); the other users keep their passphrases,
/// their keys claimed at their first login, after which a caseworker's opens only her
/// shelter; tokens are revoked and their labels stay readable to their owners.
#[tokio::test]
async fn an_organisation_from_before_compartments_upgrades_with_every_record_intact() {
    use refuge_crypto::{Sealer, WrappedKey};
    let (_dir, path, store) = fixture_store().await;
    let app = App::new(store.clone(), Box::new(FixedClock(NOW)));
    let admin = app.login("admin", FIXTURE_PASSPHRASE).await.unwrap();
    let coordinator = app.login("coordinator", FIXTURE_PASSPHRASE).await.unwrap();
    let (token, token_text) = app
        .create_token(&coordinator, "synthetic script")
        .await
        .unwrap();

    // Before: everything opens under the one data key.
    let credential = format!("user:{}", admin.user().id);
    let (_, wrapped) = store.key_wrap(&credential).await.unwrap().unwrap();
    let data_key = WrappedKey::decode(&wrapped)
        .unwrap()
        .unwrap_key(FIXTURE_PASSPHRASE.as_bytes(), &credential)
        .unwrap();
    let data_sealer = Sealer::new(&data_key).unwrap();
    let texts_before = open_sealed_values(&*store, |_| Some(&data_sealer)).await;
    assert!(texts_before.len() >= 30, "{}", texts_before.len());
    let old_ciphertexts: Vec<String> = ciphertexts(&*store).await.into_values().collect();
    let mut log_ciphertexts = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.events_page(cursor, 1_000).await.unwrap();
        let Some(last) = page.last() else { break };
        cursor = Some(refuge_store::EventCursor::of(last));
        for mut event in page {
            log_ciphertexts.extend(
                event
                    .body
                    .sealed_slots()
                    .into_iter()
                    .map(|slot| slot.value.0.clone()),
            );
        }
    }
    assert!(log_ciphertexts.len() >= old_ciphertexts.len());
    let person = app
        .list_people(&admin, &PeopleQuery::default())
        .await
        .unwrap()[0]
        .person
        .clone();
    let name = texts_before[&(
        "people".to_string(),
        person.id.to_string(),
        "name".to_string(),
    )]
        .clone();

    let heard = std::sync::Mutex::new(0u64);
    let upgraded = app
        .upgrade_keys(&admin, FIXTURE_PASSPHRASE, &|done, _| {
            *heard.lock().unwrap() = done
        })
        .await
        .unwrap();
    assert_eq!(upgraded.tokens_revoked, 1);
    assert_eq!(*heard.lock().unwrap(), upgraded.events);
    let mut pending = upgraded.pending.clone();
    pending.sort();
    assert_eq!(
        pending,
        [
            "analyst",
            "auditor",
            "caseworker",
            "caseworker.idc",
            "coordinator"
        ]
    );
    assert_eq!(app.users_pending_first_login().await.unwrap().len(), 5);
    assert!(matches!(
        app.upgrade_keys(&admin, FIXTURE_PASSPHRASE, &|_, _| {})
            .await,
        Err(AppError::Invalid { .. })
    ));
    // Sessions from before the upgrade hold the old key: no longer current.
    assert!(!app.session_is_current(&coordinator).await.unwrap());
    assert!(app.login_token(&token_text).await.is_err());

    // Every text as it was, through the admin's passphrase and the file alone.
    assert_eq!(
        what_opens_to(&*store, "admin", FIXTURE_PASSPHRASE).await,
        texts_before
    );
    let admin = app.login("admin", FIXTURE_PASSPHRASE).await.unwrap();
    assert!(app.verify(&admin).await.unwrap().ok());
    // No ciphertext of before anywhere in the file (the upgrade compacts it).
    let file = std::fs::read(&path).unwrap();
    let wal = std::fs::read(path.with_extension("db-wal")).unwrap_or_default();
    for old in old_ciphertexts.iter().chain(&log_ciphertexts) {
        let needle = &old.as_bytes()[..48.min(old.len())];
        for (what, bytes) in [("database", &file), ("WAL", &wal)] {
            assert!(
                !bytes.windows(needle.len()).any(|window| window == needle),
                "a ciphertext from before the upgrade is still in the {what}"
            );
        }
    }
    let found = app
        .list_people(
            &admin,
            &PeopleQuery {
                name: Some(name.clone()),
                ..PeopleQuery::default()
            },
        )
        .await
        .unwrap();
    assert!(found.iter().any(|view| view.person.code == person.code));

    // The others claim their keys at their first login, and their passphrases still work.
    for user in ["coordinator", "caseworker", "caseworker.idc", "analyst"] {
        app.login(user, FIXTURE_PASSPHRASE).await.unwrap();
    }
    assert_eq!(app.users_pending_first_login().await.unwrap(), ["auditor"]);
    let caseworker = app
        .login("caseworker.idc", FIXTURE_PASSPHRASE)
        .await
        .unwrap();
    let at = sealed_records_at(&*store).await;
    let everything: std::collections::BTreeSet<_> = at.values().flatten().cloned().collect();
    assert_eq!(
        what_opens(&*store, "coordinator", FIXTURE_PASSPHRASE).await,
        everything
    );
    assert_eq!(
        what_opens(&*store, "caseworker.idc", FIXTURE_PASSPHRASE).await,
        at.get("IDC-BKK").cloned().unwrap_or_default()
    );
    assert!(
        what_opens(&*store, "analyst", FIXTURE_PASSPHRASE)
            .await
            .is_empty()
    );
    let at_idc = app
        .list_people(&caseworker, &PeopleQuery::default())
        .await
        .unwrap();
    assert!(!at_idc.is_empty());
    // Deactivated before their first login: the old wrap goes (it opened the data key).
    app.change_user(
        &admin,
        "auditor",
        UserChange {
            role: None,
            location_codes: None,
            active: Some(false),
        },
    )
    .await
    .unwrap();
    let auditor = store.user_by_name("auditor").await.unwrap().unwrap();
    assert!(
        store
            .key_wrap(&format!("user:{}", auditor.id))
            .await
            .unwrap()
            .is_none()
    );
    assert!(app.users_pending_first_login().await.unwrap().is_empty());
    let coordinator = app.login("coordinator", FIXTURE_PASSPHRASE).await.unwrap();
    let tokens = app.tokens(&coordinator).await.unwrap();
    let label = tokens.iter().find(|listed| listed.id == token.id).unwrap();
    assert_eq!(label.label, "synthetic script");
    assert!(label.revoked.is_some());
    // New work under compartment keys, then verify.
    let location = "IDC-BKK".to_string();
    app.add_person(
        &caseworker,
        NewPerson {
            location,
            birth_year: Some(1990),
            identity: identity("Kim Synthetic-Upgraded"),
            allow_duplicate: true,
            ..NewPerson::default()
        },
    )
    .await
    .unwrap();
    assert!(app.verify(&admin).await.unwrap().ok());
}

/// A backup taken while notes are being written restores, with the recovery code, to a
/// database that verifies and holds every note acknowledged before the backup began (and of
/// those written during it, a whole prefix: none half there).
#[tokio::test]
async fn a_backup_taken_during_writes_restores_everything_acknowledged_before_it() {
    let org = org(TestDb::sqlite()).await;
    let app = &org.app;
    let code = app.new_recovery_code(&org.admin).await.unwrap();
    let person = org.people["a"].clone();
    for number in 0..20 {
        app.add_note(
            &org.admin,
            &person,
            &format!("Synthetic note before {number}"),
            None,
        )
        .await
        .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let scratch = dir.path().join("copy.db");
    std::fs::File::create(&scratch).unwrap();
    let mut backup = Vec::new();
    let (made, written_during) = tokio::join!(app.backup(&scratch, &mut backup), async {
        let mut written = 0;
        for number in 0..100 {
            app.add_note(
                &org.admin,
                &person,
                &format!("Synthetic note during {number}"),
                None,
            )
            .await
            .unwrap();
            written += 1;
            tokio::task::yield_now().await;
        }
        written
    });
    made.unwrap();
    let restored_path = dir.path().join("restored.db");
    let mut restored_file = std::fs::File::create(&restored_path).unwrap();
    open_backup(
        code.text().as_str(),
        &mut std::io::BufReader::new(&backup[..]),
        &mut restored_file,
    )
    .unwrap();
    drop(restored_file);
    let url = format!("sqlite:{}", restored_path.display());
    let store: Arc<dyn Store> = refuge_store::open(&url).await.unwrap().into();
    let restored = App::new(store, Box::new(FixedClock(NOW)));
    let checked = restored.check_restored().await.unwrap();
    assert!(checked.events > 20);
    let admin = restored.login("admin", PASSPHRASE).await.unwrap();
    let texts: Vec<String> = restored
        .notes(&admin, &person, true)
        .await
        .unwrap()
        .into_iter()
        .map(|note| note.text.unwrap().as_str().to_string())
        .collect();
    for number in 0..20 {
        assert!(texts.contains(&format!("Synthetic note before {number}")));
    }
    let during: Vec<&String> = texts
        .iter()
        .filter(|text| text.contains("during"))
        .collect();
    assert!(during.len() <= written_during);
    for number in 0..during.len() {
        assert!(
            texts.contains(&format!("Synthetic note during {number}")),
            "the notes written during the backup are a whole prefix"
        );
    }
    assert!(restored.verify(&admin).await.unwrap().ok());
    // The organisation's own database was not touched by any of it.
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

/// The dashboard's monthly chart showed no departures in any month on the demo, whose log
/// holds hundreds, and `verify` still said OK: the flow missed people added and departed in
/// one write, and verify never compared the aggregates. Now both hold.
async fn departures_are_counted_and_a_wrong_aggregate_never_passes_verify(db: TestDb) {
    let store = refuge_store::create(&db.url, NodeId(uuid::Uuid::now_v7()))
        .await
        .unwrap();
    let app = App::new(store, Box::new(FixedClock(NOW)));
    let admin = app.init("admin", PASSPHRASE, 300).await.unwrap();
    let options = demo::DemoOptions {
        people: 300,
        ..demo::DemoOptions::default()
    };
    app.populate_demo(&admin, &options, PASSPHRASE, &mut |_, _| {})
        .await
        .unwrap();
    let departed: u64 = app
        .monthly_flow(&admin, 12)
        .await
        .unwrap()
        .iter()
        .map(|(_, _, departed)| departed)
        .sum();
    assert!(
        departed > 0,
        "the demo's departures are in the monthly flow"
    );
    assert!(app.verify(&admin).await.unwrap().ok());

    let mut raw = db.raw().await;
    raw.execute("UPDATE flow_by_month SET departed = departed + 5", &[])
        .await
        .unwrap();
    let report = app.verify(&admin).await.unwrap();
    assert!(!report.ok());
    assert!(
        report
            .problems
            .iter()
            .any(|problem| problem.starts_with("flow_by_month")),
        "{:?}",
        report.problems
    );
    // A database from before the fix is recounted from its log once, when it is opened.
    raw.execute(
        "DELETE FROM meta WHERE key = 'flow_by_month_from_events'",
        &[],
    )
    .await
    .unwrap();
    app.close().await;
    let app = App::new(
        refuge_store::open(&db.url).await.unwrap(),
        Box::new(FixedClock(NOW)),
    );
    let admin = app.login("admin", PASSPHRASE).await.unwrap();
    assert!(
        app.verify(&admin).await.unwrap().ok(),
        "recounted on opening"
    );
    raw.execute("UPDATE presence SET present = present + 1", &[])
        .await
        .unwrap();
    let report = app.verify(&admin).await.unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|problem| problem.starts_with("presence")),
        "{:?}",
        report.problems
    );
}

async fn household_of(app: &App, session: &Session, code: &str) -> String {
    app.show_person(session, code, false)
        .await
        .unwrap()
        .household_code
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

/// A volunteer's spreadsheet as she saved it (.xlsx, the birth year a number, Korean words,
/// an empty row below the list) imports like the same sheet saved as CSV.
async fn an_xlsx_sheet_imports_like_its_csv(db: TestDb) {
    let org = org(db).await;
    let app = &org.app;
    let workbook = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/volunteers.xlsx"
    ))
    .unwrap();
    let report = app
        .import_people_xlsx(&org.admin, &workbook, ImportOptions::default(), &mut |_| {})
        .await
        .unwrap();
    assert_eq!((report.people, report.households), (2, 1));
    assert_eq!(report.codes[1].line, 3, "row numbers are line numbers");
    let first = app
        .show_person(&org.admin, &report.codes[0].person, false)
        .await
        .unwrap();
    assert_eq!(first.person.sex, Sex::Female);
    assert_eq!(first.person.birth_year, Some(1990));
    assert_eq!(first.person.stage, Stage::Sheltered);
    assert_eq!(first.person.since, time::macros::date!(2026 - 10 - 01));
    let refused = app
        .import_people_xlsx(
            &org.admin,
            b"not a workbook",
            ImportOptions::default(),
            &mut |_| {},
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("not an XLSX workbook"), "{refused}");
}

/// A volunteer's sheet with day-first dates, someone already registered and a shelter that
/// does not exist: every problem comes back at once (the duplicate too), the dates are read
/// only in the order given, and the import says which codes each line became.
async fn an_import_reads_dates_as_told_lists_every_problem_at_once_and_gives_each_lines_codes(
    db: TestDb,
) {
    let org = org(db).await;
    let app = &org.app;
    let sheet = "household_ref,name,sex,birth_year,location,stage,since,flags\n\
                 h1,Kim Synthetic-A,female,1990,SHL-A,sheltered,01/10/2026,\n\
                 h1,Yoon Dates-2,male,2012,SHL-A,sheltered,02/10/2026,\n\
                 h2,Han Dates-3,female,1985,SHL-NOWHERE,sheltered,2026-10-03,\n";
    let admin = &org.admin;
    let import = async |sheet: &'static str, date_order: Option<DateOrder>| {
        app.import_people(
            admin,
            sheet.as_bytes(),
            ImportOptions {
                date_order,
                ..ImportOptions::default()
            },
            &mut |_| {},
        )
        .await
    };
    let guessed = import(sheet, None).await.unwrap_err().to_string();
    assert!(
        guessed.contains("line 2, column since: '01/10/2026' is not a date")
            && guessed.contains("--date-order"),
        "{guessed}"
    );
    let refused = import(sheet, Some(DateOrder::DayFirst))
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("2 problem(s)"), "{refused}");
    assert!(
        refused.contains("line 2, column name: likely duplicate of"),
        "the duplicate in the same pass: {refused}"
    );
    assert!(refused.contains("line 4, column location"), "{refused}");
    let report = import(
        "household_ref,name,sex,birth_year,location,stage,since,flags\n\
         h1,Yoon Dates-2,male,2012,SHL-A,sheltered,02/10/2026,\n",
        Some(DateOrder::DayFirst),
    )
    .await
    .unwrap();
    assert_eq!(report.codes.len(), 1);
    let line = &report.codes[0];
    assert_eq!(line.line, 2);
    let view = app
        .show_person(&org.admin, &line.person, false)
        .await
        .unwrap();
    assert_eq!(
        view.person.since,
        time::macros::date!(2026 - 10 - 02),
        "day first"
    );
    assert_eq!(view.household_code, line.household);
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

/// A volunteer's sheet: headers in their own words and case, F/M and 여/남, Korean stage
/// words, an extra phone column left out on request. Without the request the extra column
/// is named; a column given twice under two names is refused.
async fn an_import_takes_the_spellings_volunteers_use(db: TestDb) {
    let org = org(db).await;
    let app = &org.app;
    let sheet = "Household,Full Name,Gender,Birth Year,Shelter,Status,Arrival Date,Flags,Remarks\n\
                 h1,Kim Spelling-1,F,1990,SHL-A,보호소,2026-10-01,,call later\n\
                 h1,Lee Spelling-2,남,2015,SHL-A,sheltered,2026-10-01,minor,\n\
                 h2,Park Spelling-3,여자,1970,SHL-B,구금,2026-10-02,,\n";
    let refused = app
        .import_people(
            &org.admin,
            sheet.as_bytes(),
            ImportOptions::default(),
            &mut |_| {},
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("unknown column(s): remarks"), "{refused}");
    let report = app
        .import_people(
            &org.admin,
            sheet.as_bytes(),
            ImportOptions {
                ignore_columns: vec!["Remarks".into()],
                ..ImportOptions::default()
            },
            &mut |_| {},
        )
        .await
        .unwrap();
    assert_eq!((report.people, report.households), (3, 2));
    let listed = app
        .list_people(
            &org.admin,
            &PeopleQuery {
                name: Some("Park Spelling-3".into()),
                ..PeopleQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(listed[0].person.sex, Sex::Female);
    assert_eq!(listed[0].person.stage, Stage::Detained);
    let twice = app
        .import_people(
            &org.admin,
            "household_ref,name,sex,gender,birth_year,location,stage,since,flags\n".as_bytes(),
            ImportOptions::default(),
            &mut |_| {},
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(
        twice.contains("given twice (under one name or another): sex"),
        "{twice}"
    );
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
        // The schema of 2026-11, before the waiting start, case notes, merges, incident times
        // and purges (the compartment keys, the newest but one, stay: this organisation was
        // made with them).
        "DROP TABLE notes",
        "DROP INDEX people_merged_into",
        "ALTER TABLE people DROP COLUMN merged_into",
        "ALTER TABLE people DROP COLUMN purged",
        "ALTER TABLE incidents DROP COLUMN occurred_time",
        "DELETE FROM schema_migrations WHERE version IN \
         (SELECT version FROM schema_migrations ORDER BY version DESC LIMIT 4 OFFSET 2)",
        "DELETE FROM schema_migrations WHERE version = \
         (SELECT MAX(version) FROM schema_migrations)",
        "DELETE FROM meta WHERE key = 'waiting_since_from_events'",
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

/// A shelter's list of residents, some of whom came from another shelter: the import gives
/// them their whole wait, not the days since they arrived here.
async fn an_import_keeps_a_wait_begun_at_an_earlier_shelter(db: TestDb) {
    let org = org(db).await;
    let app = &org.app;
    let header = "household_ref,name,sex,birth_year,location,stage,since,flags,waiting_since\n";
    let wrong = format!(
        "{header}h1,Kim Waiting-1,female,1990,SHL-A,sheltered,2026-10-01,,2026-11-01\n\
         h2,Lee Waiting-2,male,1991,SHL-A,sheltered,2026-10-01,,last spring\n"
    );
    let error = app
        .import_people(
            &org.admin,
            wrong.as_bytes(),
            ImportOptions::default(),
            &mut |_| {},
        )
        .await
        .unwrap_err();
    let AppError::Import(problems) = &error else {
        panic!("{error}")
    };
    let found: Vec<(u64, &str)> = problems
        .iter()
        .map(|problem| (problem.line, problem.column.as_str()))
        .collect();
    assert_eq!(
        found,
        [(2, "waiting_since"), (3, "waiting_since")],
        "{error}"
    );

    let right =
        format!("{header}h1,Kim Waiting-1,female,1990,SHL-A,sheltered,2026-10-01,,2026-07-01\n");
    let report = app
        .import_people(
            &org.admin,
            right.as_bytes(),
            ImportOptions::default(),
            &mut |_| {},
        )
        .await
        .unwrap();
    assert_eq!(report.people, 1);
    let imported = app
        .list_people(
            &org.admin,
            &PeopleQuery {
                location: Some("SHL-A".into()),
                ..PeopleQuery::default()
            },
        )
        .await
        .unwrap()
        .into_iter()
        .find(|view| view.person.since == time::macros::date!(2026 - 10 - 01))
        .unwrap();
    assert_eq!(
        imported.person.waiting_since,
        Some(time::macros::date!(2026 - 07 - 01))
    );
    assert_eq!(
        imported.waiting_days,
        Some((NOW.date() - time::macros::date!(2026 - 07 - 01)).whole_days())
    );
    assert!(app.verify(&org.admin).await.unwrap().ok());
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

/// A writer that takes this many bytes more, then fails as a closed pipe does.
struct CutOff(usize);

impl std::io::Write for CutOff {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.len() > self.0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "the reader went away",
            ));
        }
        self.0 -= buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `export --reveal | head -c …` once handed out most of the revealed rows with no trace in
/// the access log; and a name typed as a formula ran when the export was opened in a
/// spreadsheet.
#[tokio::test]
async fn a_cut_off_export_is_on_record_and_formulas_are_neutralised() {
    let org = org(TestDb::sqlite()).await;
    let app = &org.app;
    app.add_person(
        &org.admin,
        NewPerson {
            location: "SHL-A".into(),
            identity: identity("=HYPERLINK(\"http://attacker.example\")"),
            ..NewPerson::default()
        },
    )
    .await
    .unwrap();
    let error = app
        .export_people(&org.admin, true, CutOff(10))
        .await
        .unwrap_err();
    assert!(matches!(error, AppError::Output(_)), "{error}");
    let log = app.access_log(&org.admin, None).await.unwrap();
    assert!(
        log.iter().any(|entry| entry.action == "export"
            && entry.detail.starts_with("started")
            && entry.detail.contains("identities revealed")),
        "{log:?}"
    );

    let mut out = Vec::new();
    app.export_people(&org.admin, true, &mut out).await.unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("'=HYPERLINK"), "{text}");
    assert!(!text.contains(",=HYPERLINK") && !text.contains(",\"=HYPERLINK"));
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

/// A 100 MB single line took 1.9 GB of memory, a bad 1M-row file printed a million error
/// lines, and NUL bytes were accepted. Lines are bounded, problems are listed up to 100 and
/// counted beyond, and control characters in text are refused.
#[tokio::test]
async fn imports_are_bounded_in_line_length_problems_and_text() {
    let org = org(TestDb::sqlite()).await;
    let import = async |text: String| match org
        .app
        .import_people(
            &org.admin,
            text.as_bytes(),
            ImportOptions::default(),
            &mut |_| {},
        )
        .await
    {
        Err(AppError::Import(problems)) => problems,
        other => panic!("expected a refused import, got {other:?}"),
    };
    let long_line = format!(
        "{HEADER}h1,{},female,1990,SHL-A,sheltered,2026-10-01,,,\n",
        "x".repeat(MAX_LINE_BYTES * 2)
    );
    let problems = import(long_line).await;
    assert!(
        problems[0].message.contains("longer than"),
        "{:?}",
        problems[0]
    );

    let mut many = HEADER.to_string();
    for row in 0..1_000 {
        many.push_str(&format!(
            "h{row},,robot,1990,SHL-A,sheltered,2026-10-01,,,\n"
        ));
    }
    let problems = import(many).await;
    assert_eq!(problems.len(), MAX_LISTED_PROBLEMS);
    assert!(problems.more() >= 1_000);
    let error = AppError::Import(problems);
    assert!(
        error
            .to_string()
            .contains("more (the first 100 are listed)")
    );

    let nul = format!("{HEADER}h1,Kim\u{0}Import,female,1990,SHL-A,sheltered,2026-10-01,,,\n");
    let problems = import(nul).await;
    assert!(
        problems
            .iter()
            .any(|problem| problem.column == "name" && problem.message.contains("control")),
        "{problems:?}"
    );
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
