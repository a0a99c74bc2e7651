//! Exchange between two installations: device keys, peers, a bundle written for one peer
//! and checked by it, and every refusal a received bundle can meet (docs/exchange.md).

use crate::support::*;
use refuge_app::*;

/// Two organisations that know each other's device keys: `ours` calls the other
/// "reception", the other calls us "shelter-net".
async fn two_peers(db: TestDb) -> (Org, Org) {
    let other = db.other().await;
    let ours = org(db).await;
    let theirs = org(other).await;
    let our_key = ours.app.node_identity(&ours.admin).await.unwrap();
    let their_key = theirs.app.node_identity(&theirs.admin).await.unwrap();
    assert_ne!(our_key.fingerprint, their_key.fingerprint);
    // Asked again, the same identity: it is made once.
    assert_eq!(ours.app.node_identity(&ours.admin).await.unwrap(), our_key);
    ours.app
        .add_peer(&ours.admin, "reception", &their_key.public_key)
        .await
        .unwrap();
    theirs
        .app
        .add_peer(&theirs.admin, "shelter-net", &our_key.public_key)
        .await
        .unwrap();
    (ours, theirs)
}

fn request(people: &[&str]) -> BundleRequest {
    BundleRequest {
        to: "reception".into(),
        people: people.iter().map(|code| code.to_string()).collect(),
        expires_in_days: DEFAULT_EXPIRY_DAYS,
        ..BundleRequest::default()
    }
}

async fn export(org: &Org, request: &BundleRequest) -> Vec<u8> {
    let mut file = Vec::new();
    org.app
        .export_bundle(&org.admin, request, &mut file)
        .await
        .unwrap();
    file
}

fn refusal(error: AppError) -> String {
    error.to_string()
}

/// A bundle carries exactly the selected household's records, is logged on both sides, and
/// is checked by its recipient without anything of it being written.
async fn a_bundle_carries_only_what_was_selected_and_is_checked_before_use(db: TestDb) {
    let (ours, theirs) = two_peers(db).await;
    let person = ours.people["a"].clone();
    let summary = {
        let mut file = Vec::new();
        let summary = ours
            .app
            .export_bundle(&ours.admin, &request(&[&person]), &mut file)
            .await
            .unwrap();
        assert_eq!(summary.bytes, file.len() as u64);
        summary
    };
    assert_eq!(
        (summary.sequence, summary.people, summary.households),
        (1, 1, 1)
    );
    assert!(!summary.revealed);
    let file = export(&ours, &request(&[&person])).await;
    let events_before = theirs.store.events_page(None, 10_000).await.unwrap().len();
    let report = theirs
        .app
        .inspect_bundle(&theirs.admin, &file)
        .await
        .unwrap();
    assert_eq!(report.sender, "shelter-net");
    assert_eq!(report.sequence, 2);
    assert_eq!(
        report.new_records,
        (1, 1, 1),
        "one person, household, location"
    );
    assert_eq!(report.new_events, report.events);
    assert!(!report.revealed);
    assert_eq!(
        theirs.store.events_page(None, 10_000).await.unwrap().len(),
        events_before,
        "inspecting writes no event"
    );
    let logged = |org: &Org, action: &str| {
        let store = org.store.clone();
        let action = action.to_string();
        async move {
            store
                .access_log(None)
                .await
                .unwrap()
                .into_iter()
                .any(|entry| entry.action == action && entry.subject == "bundle")
        }
    };
    assert!(logged(&ours, "export").await);
    assert!(logged(&theirs, "import").await);

    // With --reveal the record keys travel too; a caseworker may not export at all.
    let revealed = BundleRequest {
        reveal: true,
        ..request(&[&person])
    };
    let file = export(&ours, &revealed).await;
    assert!(
        theirs
            .app
            .inspect_bundle(&theirs.admin, &file)
            .await
            .unwrap()
            .revealed
    );
    let caseworker = ours.app.login("caseworker", PASSPHRASE).await.unwrap();
    let error = ours
        .app
        .export_bundle(&caseworker, &request(&[&person]), &mut Vec::new())
        .await
        .unwrap_err();
    assert!(matches!(error, AppError::Forbidden { .. }), "{error}");
    assert!(ours.app.verify(&ours.admin).await.unwrap().ok());
}

/// Every way a received bundle can be wrong is refused with its reason.
async fn a_received_bundle_is_refused_for_every_fault(db: TestDb) {
    let (ours, theirs) = two_peers(db).await;
    let person = ours.people["a"].clone();
    let file = export(&ours, &request(&[&person])).await;
    let inspect = |bytes: Vec<u8>| {
        let app = &theirs.app;
        let admin = &theirs.admin;
        async move { app.inspect_bundle(admin, &bytes).await }
    };

    // Not for us: we cannot open what we sent the other.
    let error = refusal(
        ours.app
            .inspect_bundle(&ours.admin, &file)
            .await
            .unwrap_err(),
    );
    assert!(error.contains("not for this installation"), "{error}");
    // Flipped bits anywhere, and truncations.
    for index in [30, file.len() / 2, file.len() - 1] {
        let mut flipped = file.clone();
        flipped[index] ^= 0x10;
        assert!(inspect(flipped).await.is_err(), "flipped byte {index}");
    }
    assert!(inspect(file[..file.len() - 16].to_vec()).await.is_err());
    // Too many stanzas: refused before any cryptography.
    let mut header = b"age-encryption.org/v1\n".to_vec();
    for _ in 0..40 {
        header.extend_from_slice(b"-> X25519 c3ludGhldGlj\nc3ludGhldGlj\n");
    }
    header.extend_from_slice(b"--- c3ludGhldGlj\n");
    let error = refusal(inspect(header).await.unwrap_err());
    assert!(error.contains("40 recipient stanzas"), "{error}");

    // An expired bundle: read forty days later.
    let later = App::new(
        theirs.store.clone(),
        Box::new(FixedClock(NOW + time::Duration::days(40))),
    );
    let admin_later = later.login("admin", PASSPHRASE).await.unwrap();
    let error = refusal(later.inspect_bundle(&admin_later, &file).await.unwrap_err());
    assert!(error.contains("expired"), "{error}");

    // A removed sender.
    theirs
        .app
        .remove_peer(&theirs.admin, "shelter-net")
        .await
        .unwrap();
    let error = refusal(inspect(file.clone()).await.unwrap_err());
    assert!(error.contains("removed as a peer"), "{error}");
    // An unknown sender: a third installation that knows the recipient.
    let stranger = org(TestDb::sqlite()).await;
    let their_key = theirs.app.node_identity(&theirs.admin).await.unwrap();
    stranger
        .app
        .add_peer(&stranger.admin, "reception", &their_key.public_key)
        .await
        .unwrap();
    let from_stranger = export(&stranger, &request(&[&stranger.people["b"]])).await;
    let error = refusal(inspect(from_stranger).await.unwrap_err());
    assert!(error.contains("no peer"), "{error}");
}

/// Bad input to the peer and export commands is named; nothing is stored.
async fn peers_and_exports_refuse_bad_input(db: TestDb) {
    let (ours, theirs) = two_peers(db).await;
    let app = &ours.app;
    let own = app.node_identity(&ours.admin).await.unwrap().public_key;
    let their_key = theirs
        .app
        .node_identity(&theirs.admin)
        .await
        .unwrap()
        .public_key;
    for (name, key, expect) in [
        ("bad name!", their_key.as_str(), "peer:"),
        ("other", "refuge-device1:synthetic", "key:"),
        ("self", own.as_str(), "key:"),
        (
            "again",
            their_key.as_str(),
            "already the key of peer reception",
        ),
        ("reception", their_key.as_str(), "already exists"),
    ] {
        let error = refusal(app.add_peer(&ours.admin, name, key).await.unwrap_err());
        assert!(error.contains(expect), "{name}: {error}");
    }
    assert_eq!(app.peers(&ours.admin).await.unwrap().len(), 1);
    let error = app
        .export_bundle(&ours.admin, &request(&["P-NOSUCH"]), &mut Vec::new())
        .await
        .unwrap_err();
    assert!(matches!(error, AppError::NotFound { .. }), "{error}");
    let error = refusal(
        app.export_bundle(&ours.admin, &request(&[]), &mut Vec::new())
            .await
            .unwrap_err(),
    );
    assert!(error.contains("select someone"), "{error}");
    let unknown_peer = BundleRequest {
        to: "nobody".into(),
        ..request(&[&ours.people["a"]])
    };
    assert!(
        app.export_bundle(&ours.admin, &unknown_peer, &mut Vec::new())
            .await
            .is_err()
    );
    let never = BundleRequest {
        expires_in_days: 0,
        ..request(&[&ours.people["a"]])
    };
    let error = refusal(
        app.export_bundle(&ours.admin, &never, &mut Vec::new())
            .await
            .unwrap_err(),
    );
    assert!(error.contains("expires-in"), "{error}");
    assert_eq!(
        app.peers(&ours.admin).await.unwrap()[0].sent,
        0,
        "no number used"
    );
}

refuge_store::conformance!(
    a_bundle_carries_only_what_was_selected_and_is_checked_before_use,
    a_received_bundle_is_refused_for_every_fault,
    peers_and_exports_refuse_bad_input,
);
