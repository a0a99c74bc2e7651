//! Incidents: recorded once with the residents involved, with their own page.

use crate::support::{Browser, PASSPHRASE, first_code, main_of, record_incident, start};
use refuge_web::SessionPolicy;

/// The incident form offers the residents of the chosen location as tick boxes (codes, no
/// names), asks for the day and time (now, on the user's clock), confirms on the incident's
/// page, and records once when the same form is sent twice (a double click, a reload).
#[test]
fn an_incident_is_recorded_once_with_the_residents_ticked_and_its_time() {
    let server = start(SessionPolicy::default());
    let (cookie, csrf) = server.login("caseworker");
    let form = server.get("/incidents", &format!("{cookie}; refuge_lang=ko"));
    assert!(form.body.contains("발생 시각"), "the time, in Korean");
    let token = form
        .body
        .split("name=\"submission\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_string();
    // The location chosen: the selected option of the form's location choice.
    let location = form
        .body
        .split("name=\"location\"")
        .nth(1)
        .and_then(|rest| rest.split("\" selected").next())
        .and_then(|before| before.rsplit("value=\"").next())
        .unwrap()
        .to_string();
    let resident = form.body.split("name=\"person-").nth(1).unwrap()[..7].to_string();
    let tick = format!("person-{resident}");
    let fields = [
        ("csrf", csrf.as_str()),
        ("submission", token.as_str()),
        ("location", location.as_str()),
        ("kind", "conflict"),
        ("severity", "2"),
        ("date", "2026-11-30"),
        ("time", "21:45"),
        (tick.as_str(), "yes"),
        ("note", "Synthetic narrative: shouting in the night"),
    ];
    let count = || {
        server
            .get("/incidents", &cookie)
            .body
            .matches("href=\"/incidents/I-")
            .count()
    };
    let before = count();
    let first = server.post("/incidents", &cookie, &fields);
    assert_eq!(first.status, 303);
    let page = first.header("location").unwrap().to_string();
    let again = server.post("/incidents", &cookie, &fields);
    assert_eq!(again.status, 303);
    assert_eq!(again.header("location").unwrap(), page, "the same incident");
    assert_eq!(count(), before + 1, "recorded once");
    let shown = server.get(&page, &cookie);
    assert!(shown.body.contains("Recorded."), "a confirmation");
    assert!(shown.body.contains("2026-11-30 21:45"));
    assert!(
        shown.body.contains(&format!("/people/{resident}")),
        "the ticked resident"
    );
    // A time that is no time comes back with everything typed, the tick too.
    let mut wrong = fields.to_vec();
    wrong[1] = ("submission", "another-form");
    wrong[6] = ("time", "25:99");
    let refused = server.post("/incidents", &cookie, &wrong);
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("is not a time of day"));
    assert!(
        refused
            .body
            .contains(&format!("name=\"{tick}\" value=\"yes\" checked"))
    );
    assert!(
        refused
            .body
            .contains(">Synthetic narrative: shouting in the night</textarea>")
    );
    assert!(
        refused.body.contains("1 ticked"),
        "the list opens with what was ticked"
    );
    // Another location's residents, asked for from the same form: nothing is recorded and
    // everything typed stays.
    let mut show = fields.to_vec();
    show[1] = ("submission", "a-third-form");
    show.push(("show", "yes"));
    let shown = server.post("/incidents", &cookie, &show);
    assert_eq!(shown.status, 200);
    // A code that names no one, said in the reader's language.
    let mut unknown = fields.to_vec();
    unknown[1] = ("submission", "a-fourth-form");
    unknown.push(("people", "P-ZZZZZ"));
    let korean = server.post("/incidents", &format!("{cookie}; refuge_lang=ko"), &unknown);
    assert_eq!(korean.status, 404);
    assert!(
        korean.body.contains("없는 사람 코드입니다: P-ZZZZZ"),
        "in Korean"
    );
    assert!(
        shown
            .body
            .contains(">Synthetic narrative: shouting in the night</textarea>")
    );
    assert_eq!(count(), before + 1);
}

/// An incident has a page: what, where, when, how severe, who (links); the narrative sealed
/// until revealed (logged); closing it from there. The people involved list it on their page.
#[test]
fn an_incident_has_its_page_and_shows_on_the_people_involved() {
    let server = start(SessionPolicy::default());
    let (cookie, csrf) = server.login("caseworker");
    let person = first_code(&server.get("/people", &cookie).body, "P-");
    let code = record_incident(&server, &cookie, &csrf, &person);
    let korean = format!("{cookie}; refuge_lang=ko");
    let page = server.get(&format!("/incidents/{code}"), &korean);
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains(&format!("href=\"/people/{person}\"")),
        "who, as a link"
    );
    assert!(
        page.body.contains("갈등") && page.body.contains("3: 심각함"),
        "kind and severity"
    );
    assert!(!page.body.contains("kitchen rota"), "sealed until revealed");
    let revealed = server.post(
        &format!("/incidents/{code}/reveal"),
        &korean,
        &[("csrf", &csrf)],
    );
    assert!(revealed.body.contains("kitchen rota"));
    let (admin, _) = server.login("admin");
    let audit = server.get("/audit", &admin);
    assert!(
        audit.body.contains(&code) && audit.body.contains("narrative"),
        "the reveal is logged"
    );
    let on_person = server.get(&format!("/people/{person}"), &korean);
    assert!(
        on_person
            .body
            .contains(&format!("href=\"/incidents/{code}\"")),
        "on the person's page"
    );
    let closed = server.post(
        &format!("/incidents/{code}/close"),
        &cookie,
        &[("csrf", &csrf), ("from", "page")],
    );
    assert_eq!(closed.status, 303);
    assert_eq!(
        closed.header("location").unwrap(),
        format!("/incidents/{code}")
    );
    let page = server.get(&format!("/incidents/{code}"), &korean);
    assert!(page.body.contains("종결일"), "closed, with its date");
}

/// A caseworker on a phone, in Korean, records that a resident harmed themselves: the
/// resident is flagged self-harm risk by that write, shown on their page and among the
/// urgent on her dashboard.
#[test]
fn a_self_harm_incident_puts_the_resident_among_the_urgent_in_a_real_browser() {
    let server = start(SessionPolicy::default());
    let (cookie, _) = server.login("caseworker");
    let flagged = |code: &str| {
        let person: serde_json::Value =
            serde_json::from_str(&server.get(&format!("/api/v1/people/{code}"), &cookie).body)
                .unwrap();
        person["flags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|flag| flag == "self_harm_risk")
    };
    let browser = Browser::start();
    browser.resize(360, 800);
    let base = &server.base;
    browser.go(&format!("{base}/login"));
    browser.type_into("input[name=user]", "caseworker");
    browser.type_into("input[name=passphrase]", PASSPHRASE);
    browser.submit("main form button[type=submit]");
    browser.submit("a.lang");
    browser.go(&format!("{base}/incidents"));
    browser.script("document.querySelector('select[name=kind]').value = 'self_harm'");
    browser.click("input[name=severity][value='3']");
    browser.script("document.querySelector('details.residents').open = true");
    // A resident not flagged yet.
    let residents = browser
        .script("return [...document.querySelectorAll('input[name^=person-]')].map(box => box.name.slice(7))");
    let resident = residents
        .as_array()
        .unwrap()
        .iter()
        .map(|code| code.as_str().unwrap().to_string())
        .find(|code| !flagged(code))
        .expect("a resident not flagged self-harm risk");
    browser.click(&format!("input[name=person-{resident}]"));
    browser.screenshot_whole("self-harm-01-form-ko");
    browser.submit("button.record");
    assert!(browser.url().contains("/incidents/I-"), "{}", browser.url());
    assert!(flagged(&resident), "flagged by the same write");
    browser.go(&format!("{base}/people/{resident}"));
    let facts = browser
        .script("return [...document.querySelectorAll('dl.facts dd')].map(dd => dd.textContent).join(' | ')")
        .as_str()
        .unwrap()
        .to_string();
    assert!(facts.contains("자해 위험"), "{facts}");
    browser.screenshot_whole("self-harm-02-person-ko");
    browser.go(&format!("{base}/dashboard"));
    let dashboard = browser.source();
    assert!(
        dashboard.contains(&format!("{resident}은(는) 자해 위험 표시가 있으나")),
        "{}",
        main_of(&dashboard)
    );
    browser.screenshot_whole("self-harm-03-dashboard-ko");
    browser.submit("a.lang");
    browser.go(&format!("{base}/people/{resident}"));
    assert!(
        browser.source().contains("self-harm risk"),
        "in English too"
    );
}

/// A caseworker on a phone, in Korean, takes a welfare check due on her dashboard: the
/// resident's page says it is overdue, she records how the resident is in a few taps, the
/// page says when she checked, and the check leaves her dashboard. A check-in refused by the
/// server keeps what she typed.
#[test]
fn a_caseworker_records_a_welfare_check_in_from_her_dashboard_in_a_real_browser() {
    let server = start(SessionPolicy::default());
    let browser = Browser::start();
    browser.resize(360, 800);
    let base = &server.base;
    browser.go(&format!("{base}/login"));
    browser.type_into("input[name=user]", "caseworker");
    browser.type_into("input[name=passphrase]", PASSPHRASE);
    browser.submit("main form button[type=submit]");
    browser.submit("a.lang");
    browser.go(&format!("{base}/dashboard"));
    let due = |browser: &Browser| -> Vec<String> {
        browser
            .script(
                "return [...document.querySelectorAll('.alerts li')].map(li => li.textContent)\
                 .filter(text => text.includes('안부 확인 필요'))\
                 .map(text => text.match(/P-[0-9A-Z]{5}/)[0])",
            )
            .as_array()
            .unwrap()
            .iter()
            .map(|code| code.as_str().unwrap().to_string())
            .collect()
    };
    let before = due(&browser);
    assert!(!before.is_empty(), "{}", main_of(&browser.source()));
    let resident = before[0].clone();
    let wide = browser.script("return document.documentElement.scrollWidth");
    assert!(wide.as_i64().unwrap() <= 360, "the dashboard fits: {wide}");
    browser.screenshot_whole("welfare-01-dashboard-ko");

    browser.go(&format!("{base}/people/{resident}"));
    let welfare = text_of(&browser, "div.welfare");
    assert!(welfare.contains("다음 확인 기한"), "{welfare}");
    let today = browser
        .script("return document.querySelector('.check-in input[name=follow_up]').min")
        .as_str()
        .unwrap()
        .to_string();
    // Refused by the server (the browser's own check taken away): what was typed stays.
    browser.script(
        "document.querySelectorAll('.check-in input[name=wellbeing]').forEach(r => r.required = false)",
    );
    browser.type_into(
        ".check-in textarea[name=note]",
        "Synthetic words of a check-in",
    );
    browser.click(".check-in input[name=need-medical]");
    browser.submit(".check-in button[type=submit]");
    let refused = browser.source();
    assert!(
        refused.contains("상태를 골라 주세요"),
        "{}",
        main_of(&refused)
    );
    assert_eq!(
        browser.script("return document.querySelector('.check-in textarea[name=note]').value"),
        "Synthetic words of a check-in"
    );
    assert_eq!(
        browser
            .script("return document.querySelector('.check-in input[name=need-medical]').checked"),
        true
    );
    browser.screenshot_whole("welfare-02-refused-ko");

    browser.click(".check-in input[name=wellbeing][value=struggling]");
    browser.submit(".check-in button[type=submit]");
    let saved = text_of(&browser, "div.welfare");
    assert!(saved.contains(&format!("마지막 확인: {today}")), "{saved}");
    let notes = text_of(&browser, "ol.notes");
    assert!(notes.contains("안부 확인: 힘들어함"), "{notes}");
    assert!(notes.contains("의료"), "{notes}");
    let wide = browser.script("return document.documentElement.scrollWidth");
    assert!(
        wide.as_i64().unwrap() <= 360,
        "the person page fits: {wide}"
    );
    browser.screenshot_whole("welfare-03-recorded-ko");

    browser.go(&format!("{base}/dashboard"));
    let after = due(&browser);
    assert!(!after.contains(&resident), "{after:?}");
    browser.submit("a.lang");
    browser.go(&format!("{base}/people/{resident}"));
    let english = text_of(&browser, "div.welfare");
    assert!(
        english.contains(&format!("Last check-in: {today}")),
        "{english}"
    );
    assert!(
        text_of(&browser, "ol.notes").contains("Welfare check-in: struggling"),
        "in English too"
    );
    browser.screenshot_whole("welfare-04-recorded-en");
}

/// The text of the first element `css` selects.
fn text_of(browser: &Browser, css: &str) -> String {
    browser
        .script(&format!(
            "return document.querySelector('{css}').textContent"
        ))
        .as_str()
        .unwrap_or_default()
        .to_string()
}
