//! Every route as every role: the same permissions as the command line, compartments, and the
//! access log.

use crate::support::{
    Browser, PASSPHRASE, csrf_of, draft_batch, first_code, record_incident, start,
};
use refuge_web::SessionPolicy;

#[test]
fn every_route_applies_the_same_roles_as_the_command_line() {
    let server = start(SessionPolicy::default());
    let (coordinator, _) = server.login("coordinator");
    let person = first_code(
        &server
            .get("/people?stage=sheltered&location=SHL-BKK-2", &coordinator)
            .body,
        "P-",
    );
    let (analyst, analyst_csrf) = server.login("analyst");
    let (auditor, _) = server.login("auditor");
    let (caseworker, _) = server.login("caseworker");
    let expectations: &[(&str, &str, u16)] = &[
        (&analyst, "/dashboard", 200),
        (&analyst, "/people", 200),
        (&analyst, "/users", 403),
        (&analyst, "/audit", 403),
        (&analyst, "/forecast", 200),
        (&analyst, "/transfers", 200),
        (&auditor, "/audit", 200),
        (&auditor, "/people", 403),
        (&auditor, "/incidents", 403),
        (&caseworker, "/users", 403),
        (&caseworker, "/transfers", 403),
        (&coordinator, "/users", 200),
        (&coordinator, "/audit", 403),
    ];
    for (cookie, path, status) in expectations {
        assert_eq!(server.get(path, cookie).status, *status, "{path}");
    }
    // A caseworker at SHL-BKK-1 cannot open someone at SHL-BKK-2; the API says the same.
    assert_eq!(
        server.get(&format!("/people/{person}"), &caseworker).status,
        403
    );
    assert_eq!(
        server
            .get(&format!("/api/v1/people/{person}"), &caseworker)
            .status,
        403
    );
    assert_eq!(
        server.get(&format!("/api/v1/people/{person}"), "").status,
        401
    );
    // Analysts see operational fields but may not reveal.
    assert_eq!(
        server.get(&format!("/people/{person}"), &analyst).status,
        200
    );
    assert_eq!(
        server
            .post(
                &format!("/people/{person}/reveal"),
                &analyst,
                &[("csrf", &analyst_csrf)]
            )
            .status,
        403
    );
    let revealed = server.post(
        &format!("/people/{person}/reveal"),
        &coordinator,
        &[(
            "csrf",
            &csrf_of(&server.get("/dashboard", &coordinator).body),
        )],
    );
    assert_eq!(revealed.status, 200);
    assert!(
        revealed.body.contains("Synthetic county"),
        "identity shown on purpose"
    );
    let audit = server.get("/audit", &server.login("admin").0);
    assert!(
        audit.body.contains(&format!(">{person}</a></td>")),
        "the reveal is in the access log"
    );
}

/// Every page and API route, as every role: the status follows the one permission table.
#[test]
fn every_route_as_every_role() {
    use refuge_app::{Action, allowed};
    use refuge_core::Role;
    let server = start(SessionPolicy::default());
    let (coordinator, coordinator_csrf) = server.login("coordinator");
    // A person inside the caseworker's compartment (SHL-BKK-1) and a transfer batch.
    let person = first_code(
        &server
            .get("/people?stage=sheltered&location=SHL-BKK-1", &coordinator)
            .body,
        "P-",
    );
    let batch = draft_batch(&server, &coordinator, &coordinator_csrf);
    let incident = record_incident(&server, &coordinator, &coordinator_csrf, &person);
    let gets: Vec<(String, Action)> = vec![
        ("/dashboard".into(), Action::ViewBacklog),
        ("/people".into(), Action::ViewPeople),
        ("/people/new".into(), Action::RegisterPeople),
        (format!("/people/{person}"), Action::ViewPeople),
        ("/locations".into(), Action::ViewLocations),
        ("/incidents".into(), Action::ViewIncidents),
        (format!("/incidents/{incident}"), Action::ViewIncidents),
        ("/transfers".into(), Action::ViewBatches),
        (format!("/transfers/{batch}"), Action::ViewBatches),
        (
            format!("/transfers/{batch}/manifest.csv"),
            Action::ViewBatches,
        ),
        ("/forecast?horizon=30".into(), Action::Forecast),
        ("/audit".into(), Action::ViewAccessLog),
        ("/audit.csv".into(), Action::ViewAccessLog),
        ("/users".into(), Action::ViewUsers),
        ("/exchange".into(), Action::Exchange),
        ("/api/v1/backlog".into(), Action::ViewBacklog),
        ("/api/v1/backlog/destinations".into(), Action::ViewBacklog),
        (
            "/forecast?horizon=30&destination=KR".into(),
            Action::Forecast,
        ),
        ("/api/v1/people".into(), Action::ViewPeople),
        (format!("/api/v1/people/{person}"), Action::ViewPeople),
        ("/api/v1/batches".into(), Action::ViewBatches),
        ("/api/v1/incidents?open=true".into(), Action::ViewIncidents),
        (
            format!("/api/v1/incidents/{incident}"),
            Action::ViewIncidents,
        ),
        ("/api/v1/locations".into(), Action::ViewLocations),
        (
            "/api/v1/forecast?replications=5&horizon_days=30".into(),
            Action::Forecast,
        ),
        (
            "/api/v1/forecast?replications=5&horizon_days=30&destination=kr".into(),
            Action::Forecast,
        ),
    ];
    let roles = [
        ("admin", Role::Admin),
        ("coordinator", Role::Coordinator),
        ("caseworker", Role::Caseworker),
        ("analyst", Role::Analyst),
        ("auditor", Role::Auditor),
    ];
    for (user, role) in roles {
        let (cookie, csrf) = server.login(user);
        for (path, action) in &gets {
            let expected = if allowed(role, *action) { 200 } else { 403 };
            assert_eq!(
                server.get(path, &cookie).status,
                expected,
                "{user} GET {path}"
            );
        }
        // A value of its own per role: a correction that changes nothing is refused.
        let romanized = format!("Synthetic Romanized {user}");
        // (path, form fields, the action it needs, the status when allowed)
        type Post<'a> = (String, Vec<(&'a str, &'a str)>, Action, u16);
        let posts: Vec<Post> = vec![
            (
                format!("/people/{person}/reveal"),
                vec![],
                Action::RevealIdentity,
                200,
            ),
            (
                format!("/people/{person}/flag"),
                vec![("flag", "disability"), ("on", "yes")],
                Action::FlagPeople,
                303,
            ),
            (
                format!("/people/{person}/ready"),
                vec![("documents", "yes")],
                Action::FlagPeople,
                303,
            ),
            (
                format!("/people/{person}/wish"),
                vec![("choice", "undecided")],
                Action::FlagPeople,
                303,
            ),
            (
                format!("/transfers/{batch}/pin"),
                vec![("household", "H-00000"), ("pin", "clear")],
                Action::PlanTransfers,
                404,
            ),
            (
                format!("/people/{person}/household"),
                vec![("to", "")],
                Action::RegisterPeople,
                303,
            ),
            (
                format!("/people/{person}/split"),
                vec![("split", if role == Role::Admin { "yes" } else { "no" })],
                Action::RegisterPeople,
                303,
            ),
            (
                format!("/people/{person}/merge"),
                vec![("into", "P-00000")],
                Action::RegisterPeople,
                422,
            ),
            (
                format!("/people/{person}/correct"),
                vec![("name_romanized", romanized.as_str())],
                Action::RegisterPeople,
                303,
            ),
            (
                format!("/incidents/{incident}/reveal"),
                vec![],
                Action::RevealIdentity,
                200,
            ),
            (
                format!("/people/{person}/notes"),
                vec![("text", "Synthetic role check note"), ("follow_up", "")],
                Action::WriteNotes,
                303,
            ),
            (
                format!("/people/{person}/check-ins"),
                vec![("wellbeing", "well"), ("need-medical", "yes"), ("note", "")],
                Action::WriteNotes,
                303,
            ),
            (
                format!("/people/{person}/notes/00000000-0000-0000-0000-000000000000/done"),
                vec![],
                Action::WriteNotes,
                404,
            ),
        ];
        for (path, fields, action, ok) in posts {
            let mut form = vec![("csrf", csrf.as_str())];
            form.extend(fields);
            let expected = if allowed(role, action) { ok } else { 403 };
            assert_eq!(
                server.post(&path, &cookie, &form).status,
                expected,
                "{user} POST {path}"
            );
        }
    }
}

#[test]
fn locations_show_the_names_the_users_keys_open() {
    let server = start(SessionPolicy::default());
    let names = |body: &str| body.matches("Synthetic place").count();
    let (coordinator, csrf) = server.login("coordinator");
    let listed = server.get("/locations", &coordinator);
    assert_eq!(names(&listed.body), 0, "names only on request");
    assert!(listed.body.contains("action=\"/locations/reveal\""));
    let all = server.post("/locations/reveal", &coordinator, &[("csrf", &csrf)]);
    assert_eq!(all.status, 200);
    let locations = listed.body.matches("<tr>").count() - 1;
    assert!(locations >= 4);
    assert_eq!(
        names(&all.body),
        locations,
        "a coordinator holds every shelter"
    );
    let (caseworker, csrf) = server.login("caseworker");
    let hers = server.post("/locations/reveal", &caseworker, &[("csrf", &csrf)]);
    assert_eq!(hers.status, 200);
    assert_eq!(names(&hers.body), 1, "her shelter's name only");
    let (analyst, csrf) = server.login("analyst");
    assert!(
        !server
            .get("/locations", &analyst)
            .body
            .contains("/locations/reveal")
    );
    assert_eq!(
        server
            .post("/locations/reveal", &analyst, &[("csrf", &csrf)])
            .status,
        403
    );
}

/// An auditor asks about one person: who changed the record and when, who looked, and who
/// was refused (a caseworker trying a person outside her shelter); then downloads the lines.
#[test]
fn an_auditor_sees_who_changed_looked_at_and_was_refused_a_person() {
    let server = start(SessionPolicy::default());
    let (coordinator, _) = server.login("coordinator");
    let outside = first_code(
        &server
            .get("/people?location=IDC-BKK&stage=any", &coordinator)
            .body,
        "P-",
    );
    let (caseworker, _) = server.login("caseworker");
    assert_eq!(
        server
            .get(&format!("/people/{outside}"), &caseworker)
            .status,
        403
    );
    let (auditor, _) = server.login("auditor");
    let page = server.get(
        &format!("/audit?code={outside}"),
        &format!("{auditor}; refuge_lang=ko"),
    );
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("누가 언제 바꾸었는지"),
        "the record's changes, in Korean"
    );
    assert!(
        page.body.contains("class=\"refused\""),
        "the refusal is listed"
    );
    assert!(page.body.contains("담당 구역 밖"), "the reason, in Korean");
    assert!(
        page.body.contains(" · admin: "),
        "who registered the person"
    );
    let refused = server.get("/audit?action=refused&user=caseworker", &auditor);
    assert!(refused.body.contains(&outside));
    let csv = server.get(&format!("/audit.csv?code={outside}"), &auditor);
    assert_eq!(csv.status, 200);
    assert!(csv.body.starts_with("seq,at,user,action,record,detail"));
    assert!(csv.body.contains(",refused,"));
    let bad = server.get("/audit?from=yesterday", &auditor);
    assert_eq!(bad.status, 200);
    assert!(
        bad.body.contains("is not a date"),
        "the filter names its problem"
    );
    assert!(
        !bad.body.contains("No entry matches"),
        "a filter that could not run says so, not that nothing matches"
    );
    assert_eq!(server.get("/audit", &caseworker).status, 403);
}

/// The days of the filter are days on the reader's clock, as the times shown are: a refusal
/// at 21:00 UTC on 29 November is on 30 November in Seoul (it was looked up in UTC days).
#[test]
fn the_access_log_filters_days_in_the_readers_time_zone() {
    let server = start(SessionPolicy::default());
    server
        .clock
        .advance(std::time::Duration::from_secs(12 * 3600));
    let (caseworker, _) = server.login("caseworker");
    assert_eq!(server.get("/audit", &caseworker).status, 403);
    let (auditor, _) = server.login("auditor");
    let refusals = |zone: &str, day: &str| {
        let page = server.get(
            &format!("/audit?action=refused&user=caseworker&from={day}&to={day}"),
            &format!("{auditor}; refuge_zone={zone}"),
        );
        assert_eq!(page.status, 200);
        page.body.matches("class=\"refused\"").count()
    };
    assert_eq!(refusals("Asia/Seoul", "2026-11-30"), 1);
    assert_eq!(refusals("Asia/Seoul", "2026-11-29"), 0);
    assert_eq!(refusals("UTC", "2026-11-29"), 1);
    assert_eq!(refusals("UTC", "2026-11-30"), 0);
}

/// The caseworker's dashboard hid the alerts about her own residents (a self-harm flag she
/// had just set showed on the admin's dashboard, not hers) and showed every shelter instead.
#[test]
fn a_caseworkers_dashboard_shows_her_compartments_and_her_residents_alerts() {
    let server = start(SessionPolicy::default());
    let (caseworker, csrf) = server.login("caseworker");
    let person = first_code(
        &server
            .get("/people?stage=sheltered&location=SHL-BKK-1", &caseworker)
            .body,
        "P-",
    );
    let flagged = server.post(
        &format!("/people/{person}/flag"),
        &caseworker,
        &[("csrf", &csrf), ("flag", "self_harm_risk"), ("on", "yes")],
    );
    assert_eq!(flagged.status, 303);
    let dashboard = server.get("/dashboard", &caseworker);
    assert_eq!(dashboard.status, 200);
    assert!(
        dashboard.body.contains(&person),
        "her resident's alert is on her dashboard"
    );
    assert!(dashboard.body.contains("<td>SHL-BKK-1</td>"));
    assert!(
        !dashboard.body.contains("<td>SHL-BKK-2</td>")
            && !dashboard.body.contains("<td>IDC-BKK</td>"),
        "only her compartment's backlog"
    );
    assert!(
        dashboard.body.matches("<svg").count() <= 1,
        "the organisation-wide monthly flow is not on her dashboard"
    );
}

/// An auditor on a phone, in Korean: each entry of the access log is a card, who did it
/// beside what was done and when, nothing off the screen (a six-column row was three screens
/// wide, the date and the detail out of sight).
#[test]
fn an_auditor_reads_the_access_log_on_a_phone() {
    let server = start(SessionPolicy::default());
    let browser = Browser::start();
    let base = &server.base;
    browser.go(&format!("{base}/login"));
    browser.type_into("input[name=user]", "auditor");
    browser.type_into("input[name=passphrase]", PASSPHRASE);
    browser.submit("main form button[type=submit]");
    assert!(browser.url().ends_with("/dashboard"), "{}", browser.url());
    browser.submit("a.lang");
    browser.resize(360, 740);
    browser.go(&format!("{base}/audit"));
    assert!(browser.source().contains("lang=\"ko\""), "in Korean");
    browser.screenshot("30-phone-audit-ko");
    let width = browser.script("return window.innerWidth").as_u64().unwrap();
    let widest = browser
        .script(
            "return Math.max(...[...document.querySelectorAll('table.log td')]
                .map(cell => Math.ceil(cell.getBoundingClientRect().right)))",
        )
        .as_u64()
        .unwrap();
    assert!(
        widest <= width,
        "a cell reaches {widest} px on a {width} px screen"
    );
    let labelled = browser
        .script(
            "const cell = document.querySelector('table.log td[data-label]');
             return getComputedStyle(cell, '::before').content",
        )
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        labelled, "\"사용자 이름\"",
        "each value under its column's name"
    );
}
