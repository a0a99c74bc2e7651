//! What is stored stays what was written: sealed values, the hash chain, the aggregates, and a copy
//! to the other backend.

use crate::support::{NOW, PASSPHRASE, TestDb, org};
use refuge_app::*;
use refuge_core::*;
use std::collections::BTreeMap;

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

/// An organisation copied to the other backend (or to a second SQLite file) verifies and
/// unlocks with the same passphrases (the store's own suite checks the rows and the log).
async fn a_copy_to_the_other_backend_verifies_and_opens_with_the_same_passphrases(db: TestDb) {
    let copy_db = db.other().await;
    let org = org(db).await;
    let store = org.store;
    // The whole organisation copied holds the same rows, verifies, and unlocks with the same
    // passphrases.
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

refuge_store::conformance!(
    departures_are_counted_and_a_wrong_aggregate_never_passes_verify,
    a_copy_to_the_other_backend_verifies_and_opens_with_the_same_passphrases,
    a_flipped_byte_or_a_moved_ciphertext_is_detected_when_read,
    verify_names_a_tampered_event_and_the_log_refuses_edits,
);
