//! Casework pages: the people list, corrections, households, case notes, handover, moves and purged
//! records.

use crate::support::{PASSPHRASE, first_code, households_sheltered_together, placement_of, start};
use refuge_app::App;
use refuge_store::{DynStore, SqliteStore};
use refuge_web::SessionPolicy;

#[test]
fn a_purged_persons_page_says_the_identity_is_destroyed_and_offers_no_reveal() {
    let server = start(SessionPolicy::default());
    let path = server.dir.path().join("web.db");
    let purged = server.runtime.block_on(async {
        let store = SqliteStore::open(&path).await.unwrap();
        let app = App::new(
            Box::new(store) as DynStore,
            Box::new(refuge_app::FixedClock(
                time::macros::datetime!(2026-11-29 09:00 UTC),
            )),
        );
        let admin = app.login("admin", PASSPHRASE).await.unwrap();
        let purged = app
            .purge(&admin, time::macros::date!(2026 - 11 - 29), false)
            .await
            .unwrap();
        let arrived = app
            .list_people(
                &admin,
                &refuge_app::PeopleQuery {
                    stage: Some(refuge_core::Stage::Arrived),
                    ..refuge_app::PeopleQuery::default()
                },
            )
            .await
            .unwrap();
        app.close().await;
        let code = arrived
            .into_iter()
            .find(|view| view.person.purged.is_some())
            .map(|view| view.person.code)
            .unwrap_or_default();
        (purged.people, code)
    });
    let (count, code) = purged;
    assert!(count >= 1, "the demo has people who arrived");
    let (admin, csrf) = server.login("admin");
    let page = server.get(&format!("/people/{code}"), &admin);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Identity destroyed on"), "{}", page.body);
    assert!(!page.body.contains(&format!("/people/{code}/reveal")));
    assert!(!page.body.contains(&format!("/people/{code}/notes\"")));
    let reveal = server.post(
        &format!("/people/{code}/reveal"),
        &admin,
        &[("csrf", &csrf)],
    );
    assert_eq!(reveal.status, 409);
    assert!(reveal.body.contains("their identity was destroyed on"));
    let korean = server.get_with(
        &format!("/people/{code}"),
        &admin,
        ("Accept-Language", "ko"),
    );
    assert!(korean.body.contains("신원이 파기되어"), "{}", korean.body);
}

/// A caseworker's move out of her shelter was saved but answered with a 403 page, so she
/// thought it failed; and her registration form offered a shelter outside her compartments
/// first, so her first save was an error page.
#[test]
fn a_caseworker_hands_someone_over_and_registers_only_where_she_may() {
    let server = start(SessionPolicy::default());
    let (caseworker, csrf) = server.login("caseworker");
    let form = server.get("/people/new", &caseworker);
    assert_eq!(form.status, 200);
    assert!(form.body.contains("value=\"SHL-BKK-1\""));
    assert!(
        !form.body.contains("value=\"SHL-BKK-2\"") && !form.body.contains("value=\"IDC-BKK\""),
        "only her compartment is offered"
    );
    let person = first_code(
        &server
            .get("/people?stage=sheltered&location=SHL-BKK-1", &caseworker)
            .body,
        "P-",
    );
    let moved = server.post(
        &format!("/people/{person}/move"),
        &caseworker,
        &[
            ("csrf", &csrf),
            ("to", "SHL-BKK-2"),
            ("stage", "sheltered"),
            ("over_capacity", "yes"),
        ],
    );
    assert_eq!(moved.status, 303);
    assert_eq!(moved.header("location"), Some("/people"));
    let list = server.get("/people", &caseworker);
    assert_eq!(list.status, 200);
    assert!(
        list.body.contains(&format!("{person} moved to SHL-BKK-2")),
        "the move is confirmed"
    );
    let again = server.get("/people", &caseworker);
    assert!(!again.body.contains("moved to"), "said once");
    let crafted = server.get("/people?moved=P-ZZZZZ&to=SHL-BKK-1", &caseworker);
    assert!(
        !crafted.body.contains("moved to"),
        "no link can fake the notice"
    );
    let (coordinator, _) = server.login("coordinator");
    let page = server.get(&format!("/people/{person}"), &coordinator);
    assert!(page.body.contains("SHL-BKK-2"), "the move was saved");
}

/// The people list was cut at 500 rows with no paging and no total, oldest first, so the
/// admin's first page held no one still waiting. It now defaults to the people waiting,
/// longest first, says how many match, and pages through all of them.
#[test]
fn the_people_list_pages_through_everyone_waiting_longest_first() {
    let server = start(SessionPolicy::default());
    let (admin, _) = server.login("admin");
    // Every page from `start` on: (since, code) of each row, and the total the list states.
    let walk = |start: &str, waiting_only: bool| {
        let mut seen: Vec<(String, String)> = Vec::new();
        let mut path = start.to_string();
        let mut total = None;
        let mut pages = 0;
        loop {
            pages += 1;
            assert!(pages <= 50, "the pages end");
            let page = server.get(&path, &admin);
            assert_eq!(page.status, 200);
            for row in page.body.split("<tr><td><a href=\"/people/").skip(1) {
                let code = row.split('"').next().unwrap().to_string();
                let cells: Vec<&str> = row.split("<td>").collect();
                let stage = cells[4].split('<').next().unwrap();
                let since = cells[6].split('<').next().unwrap().to_string();
                if waiting_only {
                    assert!(
                        stage == "sheltered" || stage == "detained",
                        "{code} is {stage}: the default is the people waiting"
                    );
                }
                seen.push((since, code));
            }
            // "100 of 2,345 people": the first " of " followed by a number.
            total = page
                .body
                .split(" of ")
                .skip(1)
                .find_map(|rest| rest.split(' ').next()?.parse::<usize>().ok())
                .or(total);
            if !page.body.contains("rel=\"next\"") {
                break;
            }
            let before = page.body.split("rel=\"next\"").next().unwrap();
            path = before
                .rsplit("href=\"")
                .next()
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .replace("&amp;", "&")
                .replace("&#38;", "&");
        }
        (seen, total.expect("the list says how many match"), pages)
    };
    for (start, waiting_only) in [("/people", true), ("/people?stage=any", false)] {
        let (seen, total, pages) = walk(start, waiting_only);
        assert_eq!(
            seen.len(),
            total,
            "{start}: every match once, across the pages"
        );
        // The people waiting show since when, longest first; the others ("-") are ordered
        // by their last move, which the list does not show.
        let dated: Vec<&(String, String)> = seen.iter().filter(|(since, _)| since != "-").collect();
        let mut sorted_dated = dated.clone();
        sorted_dated.sort();
        assert_eq!(
            dated, sorted_dated,
            "{start}: longest waiting first, across pages"
        );
        if waiting_only {
            assert_eq!(dated.len(), seen.len(), "{start}: everyone listed waits");
        }
        let mut sorted = seen.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), total, "{start}: no one twice");
        if !waiting_only {
            assert!(pages > 1, "everyone in the demo takes more than one page");
        }
    }
}

/// A caseworker writes case notes on her phone: a problem brings back what she typed, a
/// follow-up shows on her dashboard until she marks it done, and the text stays sealed until
/// revealed.
#[test]
fn a_caseworker_keeps_case_notes_and_follows_up() {
    let server = start(SessionPolicy::default());
    let (cookie, csrf) = server.login("caseworker");
    let cookie = format!("{cookie}; refuge_lang=ko");
    let person = first_code(&server.get("/people", &cookie).body, "P-");
    let notes = format!("/people/{person}/notes");
    let text = "Synthetic note: asked twice about the flight";
    let refused = server.post(
        &notes,
        &cookie,
        &[("csrf", &csrf), ("text", text), ("follow_up", "2020-01-01")],
    );
    assert_eq!(refused.status, 422);
    assert!(
        refused.body.contains(text),
        "the typed text is back in the form"
    );
    assert!(
        refused.body.contains("value=\"2020-01-01\""),
        "and the date"
    );
    assert!(
        refused.body.contains("follow_up"),
        "the problem names the field"
    );
    let today = server.get("/people/new", &cookie).body;
    let today = today
        .split("name=\"since\" type=\"date\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let written = server.post(
        &notes,
        &cookie,
        &[("csrf", &csrf), ("text", text), ("follow_up", &today)],
    );
    assert_eq!(written.status, 303);
    let page = server.get(&format!("/people/{person}"), &cookie);
    assert!(
        page.body.contains("저장했습니다."),
        "the page says it was saved"
    );
    assert!(
        !server
            .get(&format!("/people/{person}"), &cookie)
            .body
            .contains("저장했습니다."),
        "once"
    );
    assert!(page.body.contains("사례 메모"), "the notes, in Korean");
    assert!(!page.body.contains(text), "sealed until revealed");
    assert!(page.body.contains(&format!("{today}까지 후속 조치")));
    let dashboard = server.get("/dashboard", &cookie);
    assert!(
        dashboard.body.contains(&format!("{person} 후속 조치 기한")),
        "the follow-up is on her dashboard"
    );
    let revealed = server.post(
        &format!("/people/{person}/reveal"),
        &cookie,
        &[("csrf", &csrf)],
    );
    assert!(revealed.body.contains(text), "revealed on purpose");
    let note_id = revealed
        .body
        .split(&format!("/people/{person}/notes/"))
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let done = server.post(
        &format!("/people/{person}/notes/{note_id}/done"),
        &cookie,
        &[("csrf", &csrf)],
    );
    assert_eq!(done.status, 303);
    let dashboard = server.get("/dashboard", &cookie);
    assert!(
        !dashboard.body.contains(&format!("{person} 후속 조치 기한")),
        "done: off the dashboard"
    );
    let page = server.get(&format!("/people/{person}"), &cookie);
    assert!(page.body.contains(&format!("후속 조치 완료 {today}")));
    // The coordinator reads the history: a note was written, by whom (never its text).
    let (coordinator, _) = server.login("coordinator");
    let history = server.get(
        &format!("/people/{person}"),
        &format!("{coordinator}; refuge_lang=ko"),
    );
    assert!(
        history.body.contains(" · caseworker: 사례 메모 작성"),
        "the timeline"
    );
    assert!(!history.body.contains(text));
}

/// A caseworker corrects a misspelled romanized name from the revealed page: the form holds
/// the record's values, a problem brings back what she typed, and the history names the field.
#[test]
fn a_caseworker_corrects_a_record_and_the_history_says_which_field() {
    let server = start(SessionPolicy::default());
    let (cookie, csrf) = server.login("caseworker");
    let korean = format!("{cookie}; refuge_lang=ko");
    let person = first_code(&server.get("/people", &cookie).body, "P-");
    let revealed = server.post(
        &format!("/people/{person}/reveal"),
        &korean,
        &[("csrf", &csrf)],
    );
    assert!(
        revealed.body.contains("기록 정정"),
        "the correction form, in Korean"
    );
    assert!(
        revealed.body.contains("name=\"name\" value=\""),
        "with the record's values"
    );
    let correct = format!("/people/{person}/correct");
    let typed = "Synthetic Corrected Romanization";
    let refused = server.post(
        &correct,
        &korean,
        &[
            ("csrf", &csrf),
            ("name_romanized", typed),
            ("birth_year", "19x"),
        ],
    );
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains(typed), "what she typed is back");
    let saved = server.post(
        &correct,
        &korean,
        &[("csrf", &csrf), ("name_romanized", typed)],
    );
    assert_eq!(saved.status, 303);
    let again = server.post(
        &format!("/people/{person}/reveal"),
        &korean,
        &[("csrf", &csrf)],
    );
    assert!(
        again.body.contains(typed),
        "the record holds the correction"
    );
    let (coordinator, _) = server.login("coordinator");
    let history = server.get(
        &format!("/people/{person}"),
        &format!("{coordinator}; refuge_lang=ko"),
    );
    assert!(
        history.body.contains(" · caseworker: 정정: 로마자 이름"),
        "the history names the field and who"
    );
    assert!(!history.body.contains(typed), "never the value");
}

/// From the person page a caseworker gives someone a household of their own, then brings
/// them back, and marks the household as one that may travel apart.
#[test]
fn a_caseworker_changes_a_household_from_the_person_page() {
    let server = start(SessionPolicy::default());
    let (cookie, csrf) = server.login("caseworker");
    let person = first_code(&server.get("/people", &cookie).body, "P-");
    let household = |code: &str| -> String {
        let person: serde_json::Value =
            serde_json::from_str(&server.get(&format!("/api/v1/people/{code}"), &cookie).body)
                .unwrap();
        person["household"].as_str().unwrap().to_string()
    };
    let before = household(&person);
    let page = server.get(
        &format!("/people/{person}"),
        &format!("{cookie}; refuge_lang=ko"),
    );
    assert!(
        page.body.contains("옮길 가구"),
        "the household form, in Korean"
    );
    let own = server.post(
        &format!("/people/{person}/household"),
        &cookie,
        &[("csrf", &csrf), ("to", "")],
    );
    assert_eq!(own.status, 303);
    let new = household(&person);
    assert_ne!(new, before, "a household of their own");
    let back = server.post(
        &format!("/people/{person}/household"),
        &cookie,
        &[("csrf", &csrf), ("to", &before)],
    );
    assert_eq!(back.status, 303);
    assert_eq!(household(&person), before, "back with the family");
    let split = server.post(
        &format!("/people/{person}/split"),
        &cookie,
        &[("csrf", &csrf), ("split", "yes")],
    );
    assert_eq!(split.status, 303);
    let page = server.get(&format!("/people/{person}"), &cookie);
    assert!(page.body.contains("name=\"split\" value=\"yes\" checked"));
}

#[test]
fn a_household_moves_together_unless_the_split_is_chosen() {
    let server = start(SessionPolicy::default());
    let (cookie, csrf) = server.login("coordinator");
    let mut together = households_sheltered_together(&server, &cookie).into_iter();
    let location_of = |code: &str| placement_of(&server, &cookie, code).0;
    let move_form = |code: &str, to: &'static str, who: &'static str| {
        server.post(
            &format!("/people/{code}/move"),
            &cookie,
            &[
                ("csrf", &csrf),
                ("to", to),
                ("stage", "sheltered"),
                ("over_capacity", "yes"),
                ("who", who),
            ],
        )
    };
    let (from, members) = together
        .next()
        .expect("a household of two or more waiting together");
    let to = if from == "SHL-CNX-3" {
        "SHL-BKK-2"
    } else {
        "SHL-CNX-3"
    };
    let page = server.get(&format!("/people/{}", members[0]), &cookie);
    assert!(
        page.body
            .contains("name=\"who\" value=\"household\" checked"),
        "the default"
    );
    let waited: Vec<Option<i64>> = members
        .iter()
        .map(|member| placement_of(&server, &cookie, member).1)
        .collect();
    assert!(waited.iter().all(Option::is_some), "{waited:?}");
    assert_eq!(move_form(&members[0], to, "household").status, 303);
    for (member, waited) in members.iter().zip(&waited) {
        assert_eq!(
            placement_of(&server, &cookie, member),
            (to.to_string(), *waited),
            "{member} moved with the household and kept the place in the queue"
        );
    }

    let (from, members) = together.next().expect("another household");
    let to = if from == "SHL-CNX-3" {
        "SHL-BKK-2"
    } else {
        "SHL-CNX-3"
    };
    assert_eq!(move_form(&members[0], to, "person").status, 303);
    assert_eq!(location_of(&members[0]), to);
    assert_eq!(
        location_of(&members[1]),
        from,
        "the split was chosen: the rest stay"
    );
}

/// A caseworker on a phone records where someone wants to go, in Korean: a wrong country
/// code is said beside what was typed (kept), a right one is saved, shown among the facts
/// and in the history; "undecided" needs no country.
#[test]
fn a_caseworker_records_where_someone_wants_to_go() {
    let server = start(SessionPolicy::default());
    let (cookie, csrf) = server.login("caseworker");
    let person = first_code(&server.get("/people", &cookie).body, "P-");
    let korean = format!("{cookie}; refuge_lang=ko");
    let page = server.get(&format!("/people/{person}"), &korean);
    assert!(
        page.body.contains("희망 행선지"),
        "the wish form, in Korean"
    );
    // The demo's residents have said where they want to go, and when.
    assert!(
        page.body.contains("에 밝힘)"),
        "the wish said, with its day"
    );

    let wrong = server.post(
        &format!("/people/{person}/wish"),
        &korean,
        &[
            ("csrf", &csrf),
            ("choice", "country"),
            ("country", "Korea"),
            ("who", "person"),
        ],
    );
    assert_eq!(wrong.status, 422);
    assert!(
        wrong.body.contains("두 글자 국가 코드"),
        "the problem, in Korean"
    );
    assert!(
        wrong.body.contains("value=\"Korea\""),
        "what was typed is kept"
    );

    let right = server.post(
        &format!("/people/{person}/wish"),
        &cookie,
        &[
            ("csrf", &csrf),
            ("choice", "country"),
            ("country", "ca"),
            ("who", "person"),
        ],
    );
    assert_eq!(right.status, 303);
    let page = server.get(&format!("/people/{person}"), &cookie);
    assert!(page.body.contains("CA (said on "), "among the facts");
    let (admin, _) = server.login("admin");
    let history = server.get(&format!("/people/{person}"), &admin);
    assert!(history.body.contains("wants to go: CA"), "in the history");
    assert!(page.body.contains(
        "name=\"country\" autocapitalize=\"characters\" placeholder=\"KR\" value=\"CA\""
    ));

    let undecided = server.post(
        &format!("/people/{person}/wish"),
        &korean,
        &[("csrf", &csrf), ("choice", "undecided"), ("who", "person")],
    );
    assert_eq!(undecided.status, 303);
    let page = server.get(&format!("/people/{person}"), &korean);
    assert!(page.body.contains("미정 ("), "undecided, in Korean");
    assert!(page.body.contains("value=\"undecided\" checked"));
}
