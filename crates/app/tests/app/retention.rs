//! Keeping data alive and letting it go: backups taken during writes, and purges.

use crate::support::{NOW, PASSPHRASE, TestDb, org, org_with_case_records, what_opens};
use refuge_app::*;
use refuge_core::*;
use refuge_store::Store;
use std::sync::Arc;

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

    let mut raw = org.db.raw().await;
    let wrapped = raw
        .text(
            "SELECT wrapped FROM record_keys WHERE id = $1",
            &[a_id.to_string().as_str()],
        )
        .await;
    assert!(wrapped.len() > 20, "{wrapped}");
    drop(raw);
    let purged = app
        .purge(&org.admin, date!(2026 - 11 - 01), false)
        .await
        .unwrap();
    assert_eq!((purged.people, purged.narratives), (1, 1));
    if !org.db.postgres {
        // Zeroed where it was (secure_delete) and gone from the emptied write-ahead log.
        let path = refuge_store::SqliteStore::path_of_url(&org.db.url).unwrap();
        for file in [path.clone(), path.with_extension("db-wal")] {
            let bytes = std::fs::read(&file).unwrap_or_default();
            assert!(
                !bytes
                    .windows(wrapped.len())
                    .any(|window| window == wrapped.as_bytes()),
                "the destroyed key is still in {}",
                file.display()
            );
        }
    }
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

refuge_store::conformance!(
    a_purge_destroys_the_identities_of_those_who_arrived_and_keeps_the_facts,
);
