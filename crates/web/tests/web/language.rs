//! Pages in Korean and English, and times in the chosen time zone.

use crate::support::{draft_batch, first_code, record_incident, start};
use refuge_web::SessionPolicy;

#[test]
fn pages_speak_korean_when_asked() {
    let server = start(SessionPolicy::default());
    let korean = server.get_with("/login", "", ("Accept-Language", "ko-KR,ko;q=0.9"));
    assert!(korean.body.contains("로그인") && korean.body.contains("lang=\"ko\""));
    for referer in [
        "http://elsewhere.example//evil.example/x",
        "http://elsewhere.example/\\evil.example",
    ] {
        let back = server.get_with("/lang/en", "", ("Referer", referer));
        assert_eq!(
            back.header("location"),
            Some("/"),
            "no redirect off the site for {referer}"
        );
    }
    let switched = server.get("/lang/en", "");
    assert!(
        switched
            .header("set-cookie")
            .unwrap()
            .starts_with("refuge_lang=en")
    );
    let english = server.get_with("/login", "refuge_lang=en", ("Accept-Language", "ko"));
    assert!(english.body.contains("Log in"));
    // The switches come back to the page they were on: its path (never its query, which may
    // hold a searched name) travels in the link, since the browser sends no Referer.
    let (cookie, _) = server.login("coordinator");
    let person = first_code(&server.get("/people", &cookie).body, "P-");
    let page = server.get(&format!("/people/{person}?name=x"), &cookie);
    let link = format!("href=\"/lang/ko?back=/people/{person}\"");
    assert!(
        page.body.contains(&link),
        "the language link carries the path"
    );
    assert!(
        page.body
            .contains(&format!("name=\"back\" value=\"/people/{person}\""))
    );
    for switch in [
        format!("/lang/ko?back=/people/{person}"),
        format!("/zone?zone=Asia/Seoul&back=/people/{person}"),
    ] {
        let back = server.get(&switch, &cookie);
        assert_eq!(
            back.header("location"),
            Some(format!("/people/{person}").as_str())
        );
    }
}

/// The text between tags, trimmed, one piece each: what a reader sees in cells, options,
/// buttons and headings.
fn visible_texts(body: &str) -> Vec<String> {
    body.split('<')
        .filter_map(|piece| piece.split_once('>').map(|(_, text)| text.trim()))
        .filter(|text| !text.is_empty())
        .map(|text| text.replace("&#x2F;", "/"))
        .collect()
}

/// Every page a role may see, in Korean: no closed-vocabulary word is left in English (as a
/// cell, an option or in a list of words), and no message id is shown raw.
#[test]
fn every_page_in_korean_shows_its_words_in_korean() {
    let english_words: std::collections::BTreeSet<String> =
        include_str!("../../locales/en-US/words.ftl")
            .lines()
            .filter_map(|line| line.split_once(" = "))
            // The demo's users are named after their roles: a user name is no role word.
            .filter(|(key, _)| !key.starts_with("word-role-"))
            .flat_map(|(key, text)| {
                let word = key.split_once('-').map(|(_, word)| word).unwrap_or(key);
                [
                    text.to_string(),
                    word.rsplit('-').next().unwrap().to_string(),
                ]
            })
            .collect();
    // A device fingerprint (five groups of four hex digits) is no message id.
    let fingerprint = |text: &str| {
        text.len() == 24
            && text
                .split('-')
                .all(|group| group.len() == 4 && group.chars().all(|c| c.is_ascii_hexdigit()))
    };
    let message_id = |text: &str| {
        !fingerprint(text)
            && text.contains('-')
            && text
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && text.starts_with(|c: char| c.is_ascii_lowercase())
    };
    let server = start(SessionPolicy::default());
    let (coordinator, coordinator_csrf) = server.login("coordinator");
    let person = first_code(
        &server
            .get("/people?stage=sheltered&location=SHL-BKK-1", &coordinator)
            .body,
        "P-",
    );
    let batch = draft_batch(&server, &coordinator, &coordinator_csrf);
    let incident = record_incident(&server, &coordinator, &coordinator_csrf, &person);
    for user in ["admin", "coordinator", "caseworker", "analyst", "auditor"] {
        let (cookie, _) = server.login(user);
        let cookie = format!("{cookie}; refuge_lang=ko");
        for path in [
            "/dashboard".to_string(),
            "/people".into(),
            "/people?stage=any".into(),
            "/people/new".into(),
            format!("/people/{person}"),
            "/locations".into(),
            "/incidents".into(),
            format!("/incidents/{incident}"),
            "/transfers".into(),
            format!("/transfers/{batch}"),
            "/audit".into(),
            "/users".into(),
            "/tokens".into(),
            "/exchange".into(),
            "/account".into(),
            "/preferences".into(),
            "/people/P-NOSUCH".into(),
        ] {
            let page = server.get(&path, &cookie);
            if page.status == 403 {
                assert!(
                    page.body.contains("역할로는 할 수 없는 작업입니다")
                        && !page.body.contains("may not"),
                    "{user} {path}: the refusal in Korean"
                );
            }
            assert!(
                page.body.contains("lang=\"ko\""),
                "{user} {path} is in Korean"
            );
            for text in visible_texts(&page.body) {
                for piece in text.split(", ") {
                    assert!(
                        !english_words.contains(piece),
                        "{user} {path}: '{piece}' is in English (in '{text}')"
                    );
                }
                assert!(
                    !message_id(&text),
                    "{user} {path}: message id '{text}' shown raw"
                );
            }
        }
    }
    let (admin, _) = server.login("admin");
    let users = server.get("/users", &format!("{admin}; refuge_lang=ko"));
    assert!(users.body.contains("사례 담당자"), "roles in Korean");
    assert!(
        users.body.contains("admin (관리자) 로그인됨"),
        "the role in the header in Korean"
    );
    // What the use cases log (the demo's creation, a reveal of an identity) in Korean too.
    let audit = server.get("/audit", &format!("{admin}; refuge_lang=ko"));
    assert!(
        audit.body.contains("\">조직</td>") && !audit.body.contains(">organisation</td>"),
        "logged subjects in Korean"
    );
    assert!(
        audit.body.contains("data-label=\"내용\">감사자</td>")
            && !audit.body.contains("data-label=\"내용\">auditor</td>"),
        "the role of a user added, in Korean"
    );
    // The plan says what a coordinator needs, in Korean: seats filled of offered, who is
    // chosen, who is not eligible and why, and whether the choice is proven best.
    let plan = server.get(
        &format!("/transfers/{batch}"),
        &format!("{admin}; refuge_lang=ko"),
    );
    assert!(
        plan.body.contains("석 중 5석 배정: "),
        "seats filled of offered"
    );
    assert!(
        plan.body.contains("최선임이 증명되었습니다") || plan.body.contains("가능한 최선과"),
        "whether it is proven best"
    );
    assert!(
        plan.body.contains("자격이 없는 가구"),
        "the ineligible, counted by reason"
    );
    for english in [
        "outranked",
        "transfer-ready",
        "on hold",
        "Objective",
        "gap ",
    ] {
        assert!(
            !plan.body.contains(english),
            "'{english}' on the Korean plan"
        );
    }
    // The timeline says what changed in Korean, and who changed it (the demo's admin).
    let timeline = server.get(
        &format!("/people/{person}"),
        &format!("{admin}; refuge_lang=ko"),
    );
    assert!(
        timeline.body.contains("(으)로 등록, 도착"),
        "the registration, in Korean"
    );
    assert!(
        timeline.body.contains(" · admin: "),
        "the actor of each change"
    );
    assert!(
        !timeline.body.contains("registered "),
        "no English sentence"
    );
}

#[test]
fn times_are_shown_in_the_chosen_time_zone() {
    let server = start(SessionPolicy::default());
    let (cookie, _) = server.login("auditor");
    let utc = server.get("/audit", &cookie);
    assert!(utc.body.contains("+00:00"), "UTC by default in English");
    let chosen = server.get_with(
        "/zone?zone=Asia/Seoul",
        &cookie,
        ("Referer", &format!("{}/audit", server.base)),
    );
    assert_eq!(chosen.status, 303);
    assert_eq!(chosen.header("location"), Some("/audit"));
    let zone_cookie = chosen
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(zone_cookie, "refuge_zone=Asia/Seoul");
    let seoul = server.get("/audit", &format!("{cookie}; {zone_cookie}"));
    assert!(seoul.body.contains("+09:00"));
    assert!(!seoul.body.contains("+00:00"));
    // An unknown zone changes nothing.
    let unknown = server.get("/zone?zone=Mars/Olympus", &cookie);
    assert_eq!(unknown.status, 303);
    assert!(unknown.header("set-cookie").is_none());
}

/// What a form's problem says (the page's alert), tags stripped.
fn problem_of(body: &str) -> String {
    body.split("<p class=\"problem\" role=\"alert\">")
        .nth(1)
        .and_then(|rest| rest.split("</p>").next())
        .unwrap_or("")
        .replace("&#39;", "'")
        .replace("&#x2F;", "/")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// Two lowercase English words in a row: an English sentence left on a Korean page.
fn english_phrase(text: &str) -> Option<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    words
        .windows(2)
        .find(|pair| {
            pair.iter().all(|word| {
                let word = word.trim_matches(|c: char| !c.is_alphanumeric());
                word.len() > 1 && word.chars().all(|c| c.is_ascii_lowercase())
            })
        })
        .map(|pair| pair.join(" "))
}

/// Every refused input is said in the reader's language, field and reason alike, from the
/// use case's reason id (the CLI and the API keep the English): a bad birth year, a missing
/// name, a user name and passphrase refused, a severity out of range, a move in the future,
/// a forecast too long, a filter that is not a number, days in the wrong order.
#[test]
fn every_refused_input_is_said_in_korean() {
    let server = start(SessionPolicy::default());
    let (coordinator, csrf) = server.login("coordinator");
    let (admin, admin_csrf) = server.login("admin");
    let person = first_code(&server.get("/people", &coordinator).body, "P-");
    let korean = |cookie: &str| format!("{cookie}; refuge_lang=ko");
    let register = |birth_year: &str, name: &str, lang: &str| {
        server.post(
            "/people",
            &format!("{coordinator}; refuge_lang={lang}"),
            &[
                ("csrf", &csrf),
                ("name", name),
                ("sex", "female"),
                ("birth_year", birth_year),
                ("location", "SHL-BKK-1"),
                ("stage", "sheltered"),
            ],
        )
    };
    let replies = [
        (
            "birth year",
            register("19x0", "Synthetic Reason Kim", "ko"),
            "출생 연도: '19x0'은(는) 연도가 아닙니다",
        ),
        (
            "no name",
            register("1990", "", "ko"),
            "이름: 이름을 입력해야 합니다",
        ),
        (
            "user name",
            server.post(
                "/users",
                &korean(&admin),
                &[
                    ("csrf", &admin_csrf),
                    ("name", "two words"),
                    ("role", "auditor"),
                    ("locations", ""),
                    ("passphrase", "synthetic long passphrase"),
                ],
            ),
            "사용자 이름: 글자(어느 문자든)",
        ),
        (
            "passphrase",
            server.post(
                "/users",
                &korean(&admin),
                &[
                    ("csrf", &admin_csrf),
                    ("name", "감사자-둘"),
                    ("role", "auditor"),
                    ("locations", ""),
                    ("passphrase", "short"),
                ],
            ),
            "암호문: 12자 이상이어야 합니다",
        ),
        (
            "severity",
            server.post(
                "/incidents",
                &korean(&coordinator),
                &[
                    ("csrf", &csrf),
                    ("location", "SHL-BKK-1"),
                    ("kind", "conflict"),
                    ("severity", "9"),
                    ("note", "Synthetic narrative"),
                ],
            ),
            "심각도: 9은(는) 1에서 4 사이가 아닙니다",
        ),
        (
            "move",
            server.post(
                &format!("/people/{person}/move"),
                &korean(&coordinator),
                &[
                    ("csrf", &csrf),
                    ("to", "SHL-BKK-1"),
                    ("stage", "sheltered"),
                    ("at", "2999-01-01"),
                ],
            ),
            "날짜: 앞으로 올 날짜로 이동을 기록할 수 없습니다",
        ),
        (
            "forecast",
            server.get("/forecast?horizon=99999", &korean(&coordinator)),
            "기간: 1일에서 1095일 사이여야 합니다",
        ),
        (
            "people filter",
            server.get("/people?waiting_over=many", &korean(&coordinator)),
            "대기 일수: 'many'은(는) 일수가 아닙니다",
        ),
        (
            "access log days",
            server.get("/audit?from=2026-12-03&to=2026-12-01", &korean(&admin)),
            "마지막 날: 2026-12-01은(는) 시작일 2026-12-03보다 앞섭니다",
        ),
    ];
    for (what, reply, expected) in &replies {
        let problem = problem_of(&reply.body);
        assert!(
            problem.contains(expected),
            "{what}: '{problem}' (status {}) does not say '{expected}'",
            reply.status
        );
        assert_eq!(english_phrase(&problem), None, "{what}: '{problem}'");
    }
    // The same refusal in English, from the same reason.
    let english = problem_of(&register("19x0", "Synthetic Reason Kim", "en").body);
    assert_eq!(english, "birth year: '19x0' is not a year");
}
