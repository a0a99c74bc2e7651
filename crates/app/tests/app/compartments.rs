//! A raid on one shelter opens one shelter: compartment keys, handover, grants and revocation,
//! rotation, reseal, the recovery code and the duress passphrase.

use crate::support::{
    NOW, Org, PASSPHRASE, TestDb, ciphertexts, identity, org, org_with_case_records,
    sealed_records_at, what_opens, what_opens_to,
};
use refuge_app::*;
use refuge_core::*;
use refuge_store::Store;
use std::sync::Arc;
use std::time::Instant;

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

refuge_store::conformance!(
    keys_rotate_to_a_new_generation_and_everyone_keeps_their_reach,
    a_reseal_gives_one_shelters_records_new_keys_and_keeps_every_text,
    each_passphrase_opens_exactly_its_compartments_whatever_the_file_says,
    a_handover_seals_the_person_to_the_shelter_they_go_to,
    compartments_are_granted_and_revoked_without_anyones_passphrase,
    the_recovery_code_opens_every_compartment,
    the_duress_passphrase_erases_every_key_and_opens_an_empty_organisation,
);
