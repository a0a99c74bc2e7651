//! A coordinator plans a transfer in a real browser; forecasts beyond their bounds are refused.

use crate::support::{
    Browser, PASSPHRASE, csrf_of, households_sheltered_together, main_of, placement_of, start,
};
use refuge_web::SessionPolicy;
use std::time::Duration;

#[test]
fn a_coordinator_works_through_the_pages_in_a_real_browser() {
    let server = start(SessionPolicy::default());
    let browser = Browser::start();
    let base = &server.base;
    browser.go(&format!("{base}/login"));
    browser.screenshot("01-login");
    browser.type_into("input[name=user]", "coordinator");
    browser.type_into("input[name=passphrase]", PASSPHRASE);
    browser.submit("main form button[type=submit]");
    assert!(browser.url().ends_with("/dashboard"), "{}", browser.url());
    let before = browser.source();
    browser.screenshot("02-dashboard");

    // Register a household member, move them, flag them.
    browser.go(&format!("{base}/people/new"));
    browser.type_into("input[name=name]", "Synthetic Browser Person");
    browser.type_into("input[name=birth_year]", "1991");
    browser.click("select[name=location] option[value=SHL-BKK-2]");
    browser.screenshot("03-register");
    browser.submit("form.stack button[type=submit]");
    let person_url = browser.url();
    assert!(
        person_url.contains("/people/P-"),
        "{person_url}: {}",
        browser
            .source()
            .split("<main>")
            .nth(1)
            .unwrap_or("")
            .chars()
            .take(400)
            .collect::<String>()
    );
    browser.click("form[action$='/move'] select[name=to] option[value=SHL-CNX-3]");
    browser.submit("form[action$='/move'] button[type=submit]");
    let moved = browser.source();
    assert!(
        moved.contains("SHL-CNX-3"),
        "{}",
        moved
            .split("<main>")
            .nth(1)
            .unwrap_or("")
            .chars()
            .take(600)
            .collect::<String>()
    );
    browser.click("form[action$='/flag'] select[name=flag] option[value=self_harm_risk]");
    browser.submit("form[action$='/flag'] button[value=yes]");
    let person_page = browser.source();
    assert!(person_page.contains("self_harm_risk"));
    browser.screenshot("04-person");

    // Record a severe incident; the dashboard shows it among what needs action.
    let code = person_url.rsplit('/').next().unwrap().to_string();
    browser.go(&format!("{base}/incidents"));
    // The location from a list (its residents offered as tick boxes), the kind from a list,
    // severity by its meaning, the people ticked or typed, and a confirmation.
    browser.script("document.querySelector('select[name=location]').value = 'SHL-CNX-3'");
    browser.submit("button[name=show]");
    assert!(browser.source().contains("SHL-CNX-3"));
    browser.script("document.querySelector('select[name=kind]').value = 'self_harm'");
    browser.click("input[name=severity][value='4']");
    browser.script("document.querySelector('details.residents').open = true");
    let ticked = browser
        .script("return document.querySelector('input[name^=person-]').name.slice(7)")
        .as_str()
        .unwrap()
        .to_string();
    browser.click("input[name^=person-]");
    browser.type_into("input[name=people]", &code);
    browser.type_into(
        "textarea[name=note]",
        "Synthetic narrative: found in the washroom",
    );
    browser.screenshot("05-incidents");
    browser.submit("button.record");
    assert!(browser.url().contains("/incidents/I-"), "{}", browser.url());
    let recorded = browser.source();
    assert!(recorded.contains("Recorded."), "a confirmation");
    for person in [&code, &ticked] {
        assert!(
            recorded.contains(&format!("/people/{person}")),
            "{person} is among the people involved"
        );
    }
    browser.screenshot("05b-incident-recorded");
    // A self-harm incident flags the resident involved, in the same write.
    browser.go(&format!("{base}/people/{ticked}"));
    let facts = browser
        .script("return [...document.querySelectorAll('dl.facts dd')].map(dd => dd.textContent).join(' | ')")
        .as_str()
        .unwrap()
        .to_string();
    assert!(facts.contains("self-harm risk"), "{facts}");
    browser.go(&format!("{base}/dashboard"));
    let after = browser.source();
    assert_ne!(before, after);
    assert!(
        after.contains(&format!("{code} is flagged self-harm risk")),
        "the new person shows up among the alerts"
    );
    browser.screenshot("06-dashboard-after");

    // Plan a transfer and confirm it.
    browser.go(&format!("{base}/transfers"));
    browser.type_into("input[name=seats]", "40");
    browser.type_into("input[name=destination]", "RCP-KR");
    browser.submit("form.stack button[type=submit]");
    assert!(browser.url().contains("/transfers/B-"), "{}", browser.url());
    browser.screenshot("07-transfer-draft");
    browser.submit("button[value=confirmed]");
    let confirmed = browser.source();
    assert!(
        confirmed.contains("confirmed"),
        "{}",
        confirmed
            .split("<main>")
            .nth(1)
            .unwrap_or("")
            .chars()
            .take(600)
            .collect::<String>()
    );
    browser.screenshot("08-transfer-confirmed");

    // The forecast, then Korean.
    browser.go(&format!("{base}/forecast"));
    let forecast = browser.source();
    assert!(
        forecast.contains("<svg"),
        "{}",
        forecast
            .split("<main>")
            .nth(1)
            .unwrap_or("")
            .chars()
            .take(600)
            .collect::<String>()
    );
    browser.screenshot("09-forecast");
    browser.submit("a.lang");
    let korean = browser.source();
    assert!(
        korean.contains("lang=\"ko\"") && korean.contains("예측"),
        "switched to Korean"
    );
    // Back on the page the switch was on (it went to the dashboard: the browser sends no
    // Referer under the no-referrer policy).
    assert!(
        browser.url().ends_with("/forecast"),
        "still on the forecast: {}",
        browser.url()
    );
    browser.screenshot("10-korean");

    // A cheap phone: 360 CSS pixels wide. No page may be wider than the screen (wide tables
    // scroll inside their own box), and each is saved as a screenshot.
    browser.resize(360, 740);
    let width = browser.script("return window.innerWidth").as_u64().unwrap();
    assert!(width <= 360, "the window is {width} px wide");
    for (name, path) in [
        ("11-phone-dashboard", "/dashboard".to_string()),
        ("12-phone-people", "/people".to_string()),
        ("13-phone-person", format!("/people/{code}")),
        ("14-phone-incidents", "/incidents".to_string()),
        ("15-phone-transfers", "/transfers".to_string()),
        ("16-phone-forecast", "/forecast?horizon=30".to_string()),
    ] {
        browser.go(&format!("{base}{path}"));
        let page_width = browser
            .script("return document.documentElement.scrollWidth")
            .as_u64()
            .unwrap();
        assert!(
            page_width <= width,
            "{path} is {page_width} px wide on a {width} px screen"
        );
        browser.screenshot(name);
    }

    // On the phone, in Korean, a household moves together: the default choice.
    let (cookie, _) = server.login("coordinator");
    let (from, members) = households_sheltered_together(&server, &cookie)
        .into_iter()
        .next()
        .expect("a household of two or more waiting together");
    let to = if from == "SHL-BKK-2" {
        "SHL-CNX-3"
    } else {
        "SHL-BKK-2"
    };
    browser.go(&format!("{base}/people/{}", members[0]));
    assert!(
        browser.source().contains("누가 이동합니까"),
        "the choice, in Korean"
    );
    browser.click(&format!(
        "form[action$='/move'] select[name=to] option[value={to}]"
    ));
    browser.click("form[action$='/move'] input[name=over_capacity]");
    browser.screenshot("17-phone-household-move");
    let waited: Vec<Option<i64>> = members
        .iter()
        .map(|member| placement_of(&server, &cookie, member).1)
        .collect();
    browser.submit("form[action$='/move'] button[type=submit]");
    for (member, waited) in members.iter().zip(&waited) {
        assert_eq!(
            placement_of(&server, &cookie, member),
            (to.to_string(), *waited),
            "{member} moved with the household and kept the place in the queue"
        );
    }
    // The person page says so too, in Korean: arrived here today, waiting as long as before.
    browser.go(&format!("{base}/people/{}", members[0]));
    let days = waited[0].expect("a sheltered person waits");
    assert!(
        browser.source().contains(&format!("({days}일)")),
        "the person page shows the whole wait after the move"
    );
    browser.screenshot("18-phone-after-move");

    // Someone registered twice: on the phone, in Korean, the second record is merged into
    // the first from its page, and the old code leads to the kept record.
    let coordinator = cookie.clone();
    let register = |extra: Option<(&'static str, &'static str)>| {
        let csrf = csrf_of(&server.get("/dashboard", &coordinator).body);
        let mut fields = vec![
            ("csrf", csrf),
            ("name", "Synthetic Phone Twin".to_string()),
            ("sex", "female".to_string()),
            ("birth_year", "1994".to_string()),
            ("location", "SHL-BKK-1".to_string()),
            ("stage", "sheltered".to_string()),
        ];
        fields.extend(extra.map(|(name, value)| (name, value.to_string())));
        let fields: Vec<(&str, &str)> = fields
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        let reply = server.post("/people", &coordinator, &fields);
        assert_eq!(reply.status, 303);
        reply
            .header("location")
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_string()
    };
    let first = register(None);
    let twin = register(Some(("allow_duplicate", "yes")));
    browser.go(&format!("{base}/people/{twin}"));
    assert!(
        browser.source().contains("같은 사람일 가능성"),
        "offered, in Korean"
    );
    browser.click("form#merge input[name=confirm]");
    browser.screenshot("19-phone-merge");
    browser.submit("form#merge button[type=submit]");
    assert!(
        browser.url().ends_with(&format!("/people/{first}")),
        "{}",
        browser.url()
    );
    assert!(
        browser.source().contains("저장했습니다."),
        "saved, in Korean"
    );
    browser.call(
        "POST",
        "/url",
        serde_json::json!({ "url": format!("{base}/people/{twin}") }),
    );
    assert!(
        browser.url().ends_with(&format!("/people/{first}")),
        "the merged code leads to the kept record: {}",
        browser.url()
    );
    browser.screenshot("20-phone-merged");
}

/// `GET /forecast?arrival_factor=1000000` once grew the server to 24 GB: now it is refused
/// by name before anything runs, and the server answers others meanwhile.
/// On a phone, a coordinator sees who waits for which country beside the seats planned
/// there (the counts the API gives), forecasts one country's queue, and is told plainly when
/// what she typed is no country, with it kept in the field; in English and Korean.
#[test]
fn a_coordinator_sees_the_wait_by_destination_and_forecasts_one_in_a_real_browser() {
    let server = start(SessionPolicy::default());
    let (cookie, csrf) = server.login("coordinator");
    // A transfer to Korea, so that seats are planned there.
    let drafted = server.post(
        "/transfers",
        &cookie,
        &[
            ("csrf", csrf.as_str()),
            ("date", "2026-12-20"),
            ("seats", "40"),
            ("origins", ""),
            ("destination", "RCP-KR"),
        ],
    );
    assert_eq!(drafted.status, 303, "{}", main_of(&drafted.body));
    let api: serde_json::Value =
        serde_json::from_str(&server.get("/api/v1/backlog/destinations", &cookie).body).unwrap();
    let korea = api
        .as_array()
        .unwrap()
        .iter()
        .find(|line| line["wish"] == "KR")
        .expect("people waiting for Korea");
    assert_eq!(korea["seats_planned"], 40);
    let waiting_for_korea = korea["waiting"].as_u64().unwrap();

    let browser = Browser::start();
    browser.resize(360, 800);
    let base = &server.base;
    browser.go(&format!("{base}/login"));
    browser.type_into("input[name=user]", "coordinator");
    browser.type_into("input[name=passphrase]", PASSPHRASE);
    browser.submit("main form button[type=submit]");
    let row_of = |wish: &str| {
        browser
            .script(&format!(
                "return [...document.querySelectorAll('#by-destination tbody tr')]\
                 .map(row => [...row.cells].map(cell => cell.textContent))\
                 .find(cells => cells[0] === '{wish}') || null"
            ))
            .as_array()
            .map(|cells| {
                cells
                    .iter()
                    .map(|cell| cell.as_str().unwrap_or_default().to_string())
                    .collect::<Vec<_>>()
            })
    };
    let dashboard = browser.source();
    assert!(
        dashboard.contains("Waiting by destination"),
        "{}",
        main_of(&dashboard)
    );
    let korea_row = row_of("KR").expect("a row for Korea");
    assert_eq!(korea_row[1], waiting_for_korea.to_string());
    assert_eq!(korea_row[6], "40");
    assert!(row_of("undecided").is_some(), "{}", main_of(&dashboard));
    browser.screenshot_whole("destination-01-dashboard");

    browser.go(&format!("{base}/forecast"));
    browser.type_into("input[name=destination]", "kr");
    browser.submit("form.filters button[type=submit]");
    let forecast = browser.source();
    assert!(
        forecast.contains("Only those who may go to KR") && forecast.contains("<svg"),
        "{}",
        main_of(&forecast)
    );
    browser.screenshot_whole("destination-02-forecast");
    browser.go(&format!("{base}/forecast?destination=stay"));
    let refused = browser.source();
    assert!(
        refused.contains("&#39;stay&#39; is not a two-letter country code")
            || refused.contains("'stay' is not a two-letter country code"),
        "{}",
        main_of(&refused)
    );
    assert_eq!(
        browser.script("return document.querySelector('input[name=destination]').value"),
        "stay"
    );
    assert!(
        !refused.contains("<svg"),
        "no forecast runs on a wrong destination"
    );

    browser.submit("a.lang");
    browser.go(&format!("{base}/dashboard"));
    let korean = browser.source();
    assert!(korean.contains("행선지별 대기"), "{}", main_of(&korean));
    assert!(row_of("미정").is_some(), "{}", main_of(&korean));
    let width = browser
        .script("return document.documentElement.scrollWidth")
        .as_u64()
        .unwrap();
    assert!(width <= 360, "the dashboard is {width} px wide");
    browser.screenshot_whole("destination-03-dashboard-ko");
    browser.go(&format!("{base}/forecast?destination=KR"));
    let korean_forecast = browser.source();
    assert!(
        korean_forecast.contains("KR(으)로 갈 수 있는 사람"),
        "{}",
        main_of(&korean_forecast)
    );
    browser.screenshot_whole("destination-04-forecast-ko");
}

#[test]
fn a_forecast_beyond_its_bounds_is_refused_before_it_runs() {
    let server = start(SessionPolicy::default());
    let (analyst, _) = server.login("analyst");
    let started = std::time::Instant::now();
    let refused = server.get("/forecast?arrival_factor=1000000", &analyst);
    assert_eq!(refused.status, 200, "the form comes back with the problem");
    assert!(
        refused.body.contains("arrival factor: 0 to 10"),
        "{}",
        refused.body
    );
    assert!(started.elapsed() < Duration::from_secs(5), "nothing ran");
    let horizon = server.get("/forecast?horizon=100000", &analyst);
    assert!(horizon.body.contains("horizon: 1 to 1095 days"));
    let typed = server.get("/forecast?arrival_factor=abc", &analyst);
    assert!(
        typed
            .body
            .contains("Arrival factor: &#39;abc&#39; is not a number")
            || typed.body.contains("Arrival factor: 'abc' is not a number"),
        "a typed value that is no number is named, not silently replaced"
    );
    // In Korean, the field and the problem are Korean too.
    let korean = server.get(
        "/forecast?horizon=abc&extra_date=someday",
        &format!("{analyst}; refuge_lang=ko"),
    );
    assert!(
        korean
            .body
            .contains("기간 (일): &#39;abc&#39;은(는) 숫자가 아닙니다")
            || korean
                .body
                .contains("기간 (일): 'abc'은(는) 숫자가 아닙니다"),
        "{}",
        korean.body
    );
    assert!(korean.body.contains("0보다 큰 좌석 수가 필요합니다"));
    assert!(!korean.body.contains("is not a number") && !korean.body.contains("DATE and SEATS"));
    assert_eq!(server.get("/dashboard", &analyst).status, 200);
}
