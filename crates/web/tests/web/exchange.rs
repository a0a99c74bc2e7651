//! The exchange page: this installation's fingerprint, its peers, bundles written and
//! received, and the conflicts a merge left, settled there, for admins and coordinators, in
//! English and Korean, in a real browser at phone width.

use crate::support::{Browser, PASSPHRASE, Server, csrf_of, main_of, start};
use refuge_app::{App, BundleRequest, DEFAULT_EXPIRY_DAYS, FixedClock};
use refuge_core::{HoldReason, NodeId};
use refuge_web::SessionPolicy;

/// A partner installation that received a person from the server's organisation, put them
/// on hold for one reason while the organisation chose another, and wrote a bundle back
/// (`back.refuge` in the server's directory): merged, it leaves one conflict. Returns the
/// person's code and the partner.
fn bundle_from_a_partner(server: &Server) -> (String, App) {
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
        std::fs::write(server.dir.path().join("back.refuge"), back).unwrap();
        (person, partner)
    })
}

/// The partner's bundle merged here: one conflict. Returns the person's code.
fn conflict_from_a_partner(server: &Server) -> String {
    let (person, _) = bundle_from_a_partner(server);
    let back = std::fs::read(server.dir.path().join("back.refuge")).unwrap();
    server.runtime.block_on(async {
        let url = format!("sqlite:{}", server.dir.path().join("web.db").display());
        let ours = App::new(
            refuge_store::open(&url).await.unwrap(),
            Box::new(server.clock.clone()),
        );
        let our_admin = ours.login("admin", PASSPHRASE).await.unwrap();
        let report = ours.import_bundle(&our_admin, &back, false).await.unwrap();
        assert_eq!(report.new_conflicts, 1);
    });
    person
}

#[test]
fn the_exchange_page_shows_peers_and_conflicts_to_coordinators_in_both_languages() {
    let server = start(SessionPolicy::default());
    let (caseworker, caseworker_csrf) = server.login("caseworker");
    assert_eq!(server.get("/exchange", &caseworker).status, 403);
    // An upload is refused before its body is read: a role that may not exchange, a missing
    // CSRF token.
    let upload = server.post_file(
        "/exchange/import",
        &caseworker,
        &[("csrf", &caseworker_csrf)],
        b"age-encryption.org/v1",
    );
    assert_eq!(upload.status, 403);
    let (coordinator, _) = server.login("coordinator");
    let empty = server.get("/exchange", &coordinator);
    assert_eq!(empty.status, 200);
    let no_token = server.post_file(
        "/exchange/import",
        &coordinator,
        &[],
        b"age-encryption.org/v1",
    );
    assert_eq!(no_token.status, 403);
    let csrf = csrf_of(&empty.body);
    let not_a_bundle = server.post_file(
        "/exchange/import",
        &coordinator,
        &[("csrf", &csrf), ("dry_run", "yes")],
        b"not a bundle",
    );
    assert_eq!(not_a_bundle.status, 422, "{}", not_a_bundle.body);
    assert!(not_a_bundle.body.contains("class=\"problem\""));
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

/// A coordinator on a phone uploads the partner's bundle, first to check it (nothing
/// written), then to merge it; settles the conflict it brings by keeping the other value,
/// which the person's page then shows; and writes a bundle back, which the partner merges
/// with the conflict settled there too. In Korean the same page and its answers.
#[test]
fn a_coordinator_checks_merges_and_settles_in_a_real_browser() {
    let server = start(SessionPolicy::default());
    let (person, partner) = bundle_from_a_partner(&server);
    let file = server.dir.path().join("back.refuge");
    let browser = Browser::start();
    browser.resize(360, 800);
    let base = &server.base;
    browser.go(&format!("{base}/login"));
    browser.type_into("input[name=user]", "coordinator");
    browser.type_into("input[name=passphrase]", PASSPHRASE);
    browser.submit("main form button[type=submit]");
    browser.go(&format!("{base}/exchange"));
    browser.screenshot("exchange-01-page");

    // Checked only: the report, nothing written.
    let checked = upload(&browser, &file, true);
    browser.screenshot_whole("exchange-02-checked");
    assert!(
        checked.contains("nothing was written"),
        "{}",
        main_of(&checked)
    );
    assert!(checked.contains("from reception"), "{}", main_of(&checked));
    assert!(
        checked.contains("No conflicts"),
        "a check writes no conflict"
    );

    // Merged: the conflict is listed.
    let merged = upload(&browser, &file, false);
    browser.screenshot_whole("exchange-03-merged");
    assert!(
        merged.contains("checked and merged"),
        "{}",
        main_of(&merged)
    );
    assert!(merged.contains("One conflict"), "{}", main_of(&merged));
    // The same file again: refused as a replay, said on the page, nothing changed.
    let replayed = upload(&browser, &file, false);
    assert!(replayed.contains("replay"), "{}", main_of(&replayed));
    assert!(replayed.contains("One conflict"));

    // Settled, keeping the other value: the person's page shows it.
    browser.submit("form[action='/exchange/conflicts/resolve'] button[value=other]");
    let settled = browser.source();
    browser.screenshot_whole("exchange-04-settled");
    assert!(
        settled.contains("the other value is shown"),
        "{}",
        main_of(&settled)
    );
    assert!(settled.contains("No conflicts"), "{}", main_of(&settled));
    browser.go(&format!("{base}/people/{person}"));
    let page = browser.source();
    assert!(
        page.contains("conflict settled: the other value kept"),
        "the history says it: {}",
        main_of(&page)
    );
    assert!(!page.contains("One conflict from merged bundles"));
    browser.screenshot("exchange-05-person");

    // In Korean, the export form: a code that names no one is refused with what was typed
    // kept.
    browser.go(&format!("{base}/exchange"));
    browser.submit("a.lang");
    let korean = browser.source();
    browser.screenshot_whole("exchange-06-korean");
    assert!(
        korean.contains("꾸러미 만들기") && korean.contains("충돌 없음"),
        "{}",
        main_of(&korean)
    );
    browser.type_into("input[name=people]", "P-NOSUCH");
    browser.submit("form[action='/exchange/export'] button[type=submit]");
    let refused = browser.source();
    browser.screenshot_whole("exchange-07-export-refused");
    assert!(
        refused.contains("value=\"P-NOSUCH\""),
        "what was typed is kept: {}",
        main_of(&refused)
    );
    assert!(refused.contains("class=\"problem\""), "a problem is said");

    // The bundle written from the page: a download the partner merges, settled there too.
    let cookie = login_cookie(&server);
    let page = server.get("/exchange", &cookie);
    let csrf = csrf_of(&page.body);
    let download = server.post(
        "/exchange/export",
        &cookie,
        &[("csrf", &csrf), ("to", "reception"), ("people", &person)],
    );
    assert_eq!(download.status, 200, "{}", main_of(&download.body));
    assert!(
        download
            .header("content-disposition")
            .is_some_and(|value| value.contains("bundle-reception-") && value.contains(".refuge")),
        "{:?}",
        download.header("content-disposition")
    );
    server.runtime.block_on(async {
        let admin = partner.login("admin", PASSPHRASE).await.unwrap();
        let report = partner
            .import_bundle(&admin, download.bytes.as_slice(), false)
            .await
            .unwrap();
        assert!(report.merged);
        assert!(
            partner.conflicts(&admin).await.unwrap().is_empty(),
            "settled there too"
        );
    });
}

/// The file chosen on the exchange page and uploaded, "check only" as asked; the page
/// that answers.
fn upload(browser: &Browser, file: &std::path::Path, check_only: bool) -> String {
    browser.type_into("input[name=file]", &file.display().to_string());
    if !check_only {
        browser.click("input[name=dry_run]");
    }
    browser.submit("form[action='/exchange/import'] button[type=submit]");
    browser.source()
}

fn login_cookie(server: &Server) -> String {
    server.login("coordinator").0
}
