//! Organisations made by earlier releases: the one from before compartment keys keeps
//! working and upgrades; the one of 2026-12 keeps every record through every migration since.

use crate::support::{
    NOW, ciphertexts, identity, open_sealed_values, sealed_records_at, what_opens, what_opens_to,
};
use refuge_app::*;
use refuge_core::*;
use refuge_store::Store;
use std::sync::Arc;

/// The passphrase of every user of the fixture made by the release before compartment keys.
const FIXTURE_PASSPHRASE: &str = "synthetic fixture passphrase";

/// A copy of the fixture in a temporary directory (kept while the first value lives), its
/// path and its store.
async fn fixture_store() -> (tempfile::TempDir, std::path::PathBuf, Arc<dyn Store>) {
    fixture_copy("single-key.db").await
}

/// A copy of `tests/fixtures/NAME`, opened (which runs every migration since it was made).
async fn fixture_copy(name: &str) -> (tempfile::TempDir, std::path::PathBuf, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
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

/// An organisation made by the release of 2026-12 (`tests/fixtures/current-2026-12.db`, made
/// as tests/fixtures/README.md says: the demo, a partner's household received in a bundle, a
/// case note, a merge, a purge, an API token) is opened through every schema change since and
/// keeps every record, sealed value and chain: `verify` passes (chains, the replay of every
/// table, the aggregates), every table holds what it held, every sealed value opens as it
/// did, and the case note, the merge, the purge and the received record read as they were.
#[tokio::test]
async fn an_organisation_made_in_2026_12_keeps_every_record_through_every_migration() {
    const MADE_WITH: &str = "synthetic fixture passphrase";
    let (_dir, _, store) = fixture_copy("current-2026-12.db").await;
    let app = App::new(store.clone(), Box::new(FixedClock(NOW)));
    let admin = app.login("admin", MADE_WITH).await.unwrap();
    let report = app.verify(&admin).await.unwrap();
    assert!(report.ok(), "{:?}", report.problems);
    let counts: std::collections::BTreeMap<String, u64> =
        store.table_counts().await.unwrap().into_iter().collect();
    for (table, held) in CURRENT_FIXTURE_TABLES {
        assert_eq!(counts.get(*table), Some(held), "rows of {table}");
    }
    let opened = what_opens_to(&*store, "admin", MADE_WITH).await;
    assert_eq!(
        opened.len(),
        CURRENT_FIXTURE_SEALED,
        "sealed values that open"
    );
    let notes = app.notes(&admin, "P-JMC2Q", true).await.unwrap();
    assert_eq!(
        notes
            .iter()
            .map(|note| note.text.as_ref().map(Revealed::as_str))
            .collect::<Vec<_>>(),
        [Some("Synthetic fixture case note")]
    );
    // The merged duplicate's code leads to the kept record.
    let reached = app.show_person(&admin, "P-S3BNF", false).await.unwrap();
    assert_eq!(reached.person.code, "P-JMC2Q");
    assert_eq!(reached.reached_from.as_deref(), Some("P-S3BNF"));
    let locations = app.locations(&admin, false).await.unwrap();
    assert!(
        locations
            .iter()
            .any(|view| view.location.code == "SHL-CNX-3@PARTNER"),
        "the received location under its local code"
    );
    let purged = app
        .list_people(
            &admin,
            &PeopleQuery {
                stage: Some(Stage::Arrived),
                limit: Some(500),
                ..PeopleQuery::default()
            },
        )
        .await
        .unwrap()
        .iter()
        .filter(|view| view.person.purged.is_some())
        .count();
    assert_eq!(purged, 13);
    let incident = app.show_incident(&admin, "I-CY4G2", true).await.unwrap();
    assert_eq!(
        incident.narrative.as_ref().map(Revealed::as_str),
        Some("Synthetic fixture narrative")
    );
}

/// The rows of every table of `current-2026-12.db` as this test reads them (after its
/// admin's login, which the access log counts; aggregates: the rows that carry a count).
const CURRENT_FIXTURE_TABLES: &[(&str, u64)] = &[
    ("access_log", 29),
    ("api_tokens", 1),
    ("batches", 0),
    ("compartment_wraps", 43),
    ("compartments", 13),
    ("conflicts", 0),
    ("events", 239),
    ("flow_by_month", 11),
    ("households", 22),
    ("incidents", 1),
    ("key_wraps", 7),
    ("local_codes", 3),
    ("locations", 12),
    // With the mark of the self-harm days read from its log (migration 0018).
    ("meta", 14),
    ("notes", 1),
    ("people", 42),
    ("presence", 6),
    ("receipts", 0),
    ("record_keys", 44),
    ("user_keys", 6),
    ("users", 6),
    ("waiting_by_day", 5),
    ("waiting_by_wish", 5),
];
/// The sealed values the fixture's admin opens.
const CURRENT_FIXTURE_SEALED: usize = 142;
