//! The exchange page: this installation's fingerprint, its peers and the conflicts a merge
//! left, for admins and coordinators, in English and Korean.

use crate::support::{PASSPHRASE, Server, start};
use refuge_app::{App, BundleRequest, DEFAULT_EXPIRY_DAYS, FixedClock};
use refuge_core::{HoldReason, NodeId};
use refuge_web::SessionPolicy;

/// A partner installation that received a person from the server's organisation, put them
/// on hold for one reason while the organisation chose another, and sent them back: the
/// organisation holds one conflict. Returns the person's code.
fn conflict_from_a_partner(server: &Server) -> String {
    server.runtime.block_on(async {
        let url = format!("sqlite:{}", server.dir.path().join("web.db").display());
        let ours = App::new(
            refuge_store::open(&url).await.unwrap(),
            Box::new(server.clock.clone()),
        );
        let our_admin = ours.login("admin", PASSPHRASE).await.unwrap();
        let partner_path = server.dir.path().join("partner.db");
        let partner = App::new(
            refuge_store::create(
                &format!("sqlite:{}", partner_path.display()),
                NodeId(uuid::Uuid::now_v7()),
            )
            .await
            .unwrap(),
            Box::new(FixedClock(time::macros::datetime!(2026-11-29 09:00 UTC))),
        );
        let partner_admin = partner.init("admin", PASSPHRASE, 10).await.unwrap();
        let our_key = ours.node_identity(&our_admin).await.unwrap().public_key;
        let partner_key = partner
            .node_identity(&partner_admin)
            .await
            .unwrap()
            .public_key;
        ours.add_peer(&our_admin, "reception", &partner_key)
            .await
            .unwrap();
        partner
            .add_peer(&partner_admin, "shelter-net", &our_key)
            .await
            .unwrap();
        let person = ours
            .list_people(&our_admin, &Default::default())
            .await
            .unwrap()
            .into_iter()
            .next()
            .unwrap()
            .person
            .code;
        let to = |peer: &str| BundleRequest {
            to: peer.to_string(),
            people: vec![person.clone()],
            expires_in_days: DEFAULT_EXPIRY_DAYS,
            ..BundleRequest::default()
        };
        let mut file = Vec::new();
        ours.export_bundle(&our_admin, &to("reception"), &mut file)
            .await
            .unwrap();
        partner
            .import_bundle(&partner_admin, &file, false)
            .await
            .unwrap();
        partner
            .set_hold(&partner_admin, &person, Some(HoldReason::Legal))
            .await
            .unwrap();
        ours.set_hold(&our_admin, &person, Some(HoldReason::Medical))
            .await
            .unwrap();
        let mut back = Vec::new();
        partner
            .export_bundle(&partner_admin, &to("shelter-net"), &mut back)
            .await
            .unwrap();
        let report = ours.import_bundle(&our_admin, &back, false).await.unwrap();
        assert_eq!(report.new_conflicts, 1);
        person
    })
}

#[test]
fn the_exchange_page_shows_peers_and_conflicts_to_coordinators_in_both_languages() {
    let server = start(SessionPolicy::default());
    let (caseworker, _) = server.login("caseworker");
    assert_eq!(server.get("/exchange", &caseworker).status, 403);
    let (coordinator, _) = server.login("coordinator");
    let empty = server.get("/exchange", &coordinator);
    assert_eq!(empty.status, 200);
    assert!(empty.body.contains("No peers yet"), "{}", empty.body);
    assert!(empty.body.contains("No conflicts"));

    let person = conflict_from_a_partner(&server);
    let page = server.get("/exchange", &coordinator);
    assert!(page.body.contains("reception"), "the peer is listed");
    assert!(page.body.contains("One conflict"));
    assert!(page.body.contains(&format!("href=\"/people/{person}\"")));
    assert!(page.body.contains(">hold<"), "what conflicts");
    assert!(
        page.body.contains("put on hold: medical") && page.body.contains("put on hold: legal"),
        "both values, as the history says them"
    );
    let korean = server.get("/exchange", &format!("{coordinator}; refuge_lang=ko"));
    assert!(korean.body.contains("충돌 1건"));
    assert!(korean.body.contains(">보류<"));
    assert!(!korean.body.contains("put on hold"));
    // On the person's page, and the count on the dashboard, from the same query.
    let shown = server.get(&format!("/people/{person}"), &coordinator);
    assert!(
        shown
            .body
            .contains("One conflict from merged bundles about this person"),
        "the person's page says it"
    );
    let dashboard = server.get("/dashboard", &coordinator);
    assert!(
        dashboard
            .body
            .contains("One conflict from merged bundles to settle"),
        "the dashboard counts it"
    );
}
