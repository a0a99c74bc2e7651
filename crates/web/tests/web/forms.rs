//! Forms: bad input shown back with everything typed, never a server error; a likely duplicate
//! asked about.

use crate::support::start;
use refuge_web::SessionPolicy;

#[test]
fn bad_form_input_is_shown_back_never_a_server_error() {
    let server = start(SessionPolicy::default());
    let (cookie, csrf) = server.login("coordinator");
    let reply = server.post(
        "/people",
        &cookie,
        &[
            ("csrf", &csrf),
            ("name", "Synthetic <b>Bold</b>"),
            ("sex", "female"),
            ("birth_year", "abc"),
            ("location", "SHL-BKK-1"),
            ("stage", "sheltered"),
        ],
    );
    assert_eq!(reply.status, 422);
    assert!(
        reply.body.contains("birth year:") && reply.body.contains("is not a year"),
        "{}",
        reply.body
    );
    assert!(
        !reply.body.contains("Synthetic <b>"),
        "the name is not echoed"
    );
    let ok = server.post(
        "/people",
        &cookie,
        &[
            ("csrf", &csrf),
            ("name", "Synthetic <script>x</script>"),
            ("sex", "female"),
            ("birth_year", "1990"),
            ("location", "SHL-BKK-1"),
            ("stage", "sheltered"),
        ],
    );
    assert_eq!(ok.status, 303);
    let page = ok.header("location").unwrap().to_string();
    let revealed = server.post(&format!("{page}/reveal"), &cookie, &[("csrf", &csrf)]);
    assert!(
        revealed.body.contains("Synthetic &#60;script&#62;x")
            || revealed.body.contains("Synthetic &lt;script&gt;x"),
        "shown, escaped"
    );
    assert!(!revealed.body.contains("<script>x"), "output is escaped");
    let incident = server.post(
        "/incidents",
        &cookie,
        &[
            ("csrf", &csrf),
            ("location", "SHL-BKK-1"),
            ("kind", "riot"),
            ("severity", "9"),
        ],
    );
    assert_eq!(incident.status, 422);
    assert!(incident.body.contains("unknown incident kind"));
}

/// After any validation error the register form emptied the name, romanized name, origin and
/// notes and reset sex to female; the incident form emptied everything. Every typed value
/// now comes back, to the same user only (the page is never cached).
#[test]
fn a_form_with_a_problem_comes_back_with_everything_typed() {
    let server = start(SessionPolicy::default());
    let (cookie, csrf) = server.login("coordinator");
    let reply = server.post(
        "/people",
        &cookie,
        &[
            ("csrf", &csrf),
            ("name", "Synthetic Keep Kim"),
            ("name_romanized", "Synthetic Keep Kim (latin)"),
            ("sex", "male"),
            ("birth_year", "nineteen ninety"),
            ("location", "SHL-BKK-1"),
            ("stage", "detained"),
            ("origin", "Synthetic county 7"),
            ("notes", "Synthetic note, first line"),
        ],
    );
    assert_eq!(reply.status, 422);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    for kept in [
        "value=\"Synthetic Keep Kim\"",
        "value=\"Synthetic Keep Kim (latin)\"",
        "value=\"Synthetic county 7\"",
        ">Synthetic note, first line</textarea>",
        "value=\"male\" selected",
        "value=\"detained\" selected",
        "value=\"nineteen ninety\"",
    ] {
        assert!(reply.body.contains(kept), "{kept} is not back in the form");
    }
    let incident = server.post(
        "/incidents",
        &cookie,
        &[
            ("csrf", &csrf),
            ("location", "SHL-BKK-1"),
            ("kind", "brawl"),
            ("severity", "3"),
            ("note", "Synthetic narrative that must not be lost"),
        ],
    );
    assert_eq!(incident.status, 422);
    assert!(
        incident
            .body
            .contains(">Synthetic narrative that must not be lost</textarea>")
    );
    assert!(incident.body.contains("value=\"SHL-BKK-1\" selected"));
    assert!(incident.body.contains("value=\"3\" checked"));
}

/// Web registration had no duplicate check: the same name and birth year registered twice
/// without a word. Now the second is held back with the likely duplicates (codes only) and
/// goes through when the user confirms.
#[test]
fn registering_someone_twice_warns_with_the_likely_duplicate_and_asks() {
    let server = start(SessionPolicy::default());
    let (cookie, csrf) = server.login("coordinator");
    let form = |extra: Option<(&'static str, &'static str)>| {
        let mut fields = vec![
            ("csrf", csrf.as_str()),
            ("name", "Synthetic Twin Kim"),
            ("sex", "female"),
            ("birth_year", "1990"),
            ("location", "SHL-BKK-1"),
            ("stage", "sheltered"),
        ];
        fields.extend(extra);
        fields
    };
    let first = server.post("/people", &cookie, &form(None));
    assert_eq!(first.status, 303);
    let code = first
        .header("location")
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let second = server.post("/people", &cookie, &form(None));
    assert_eq!(second.status, 409);
    assert!(
        second.body.contains("likely registered already"),
        "{}",
        second.body
    );
    assert!(second.body.contains(&code), "the likely duplicate by code");
    assert!(second.body.contains("name=\"allow_duplicate\""));
    assert!(
        second.body.contains("value=\"Synthetic Twin Kim\""),
        "the form is kept"
    );
    assert!(
        second.body.contains(&format!("href=\"/people/{code}\"")),
        "a link to compare"
    );
    let confirmed = server.post("/people", &cookie, &form(Some(("allow_duplicate", "yes"))));
    assert_eq!(confirmed.status, 303, "registered once confirmed");
    let twin = confirmed
        .header("location")
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();

    // It was the same person after all: the new record's page offers the old one, and the
    // merge asks to be confirmed (keeping what was typed) before it is done.
    let page = server.get(
        &format!("/people/{twin}"),
        &format!("{cookie}; refuge_lang=ko"),
    );
    assert!(page.body.contains("같은 사람일 가능성"), "in Korean");
    assert!(
        page.body.contains(&format!("value=\"{code}\"")),
        "the likely duplicate offered"
    );
    let unconfirmed = server.post(
        &format!("/people/{twin}/merge"),
        &cookie,
        &[("csrf", &csrf), ("into", &code)],
    );
    assert_eq!(unconfirmed.status, 422);
    assert!(unconfirmed.body.contains("tick the box"));
    let merged = server.post(
        &format!("/people/{twin}/merge"),
        &cookie,
        &[("csrf", &csrf), ("into", &code), ("confirm", "yes")],
    );
    assert_eq!(merged.status, 303);
    assert_eq!(
        merged.header("location").unwrap(),
        format!("/people/{code}")
    );
    let kept = server.get(&format!("/people/{code}"), &cookie);
    assert!(kept.body.contains("Saved."));
    assert!(
        kept.body.contains(&twin),
        "the merged record named on the kept one"
    );
    // The merged code leads to the kept record, on the pages and in the API.
    let old_link = server.get(&format!("/people/{twin}"), &cookie);
    assert_eq!(old_link.status, 303);
    assert_eq!(
        old_link.header("location").unwrap(),
        format!("/people/{code}")
    );
    let api = server.get(&format!("/api/v1/people/{twin}"), &cookie);
    assert_eq!(api.status, 308);
    assert_eq!(
        api.header("location").unwrap(),
        format!("/api/v1/people/{code}")
    );
    // Registering the person again warns with the kept record only.
    let third = server.post("/people", &cookie, &form(None));
    assert_eq!(third.status, 409);
    assert!(third.body.contains(&code) && !third.body.contains(&twin));
}

/// An admin who changed a user came back to the same form with no word that it was done: the
/// list now says it once, in the page's language, and a refused change says why instead.
#[test]
fn a_user_change_says_it_was_saved_once() {
    let server = start(SessionPolicy::default());
    let (admin, csrf) = server.login("admin");
    let changed = server.post(
        "/users/change",
        &admin,
        &[
            ("csrf", &csrf),
            ("name", "analyst"),
            ("role", ""),
            ("locations", ""),
            ("active", "no"),
        ],
    );
    assert_eq!(changed.status, 303, "{}", changed.body);
    let korean = format!("{admin}; refuge_lang=ko");
    let list = server.get("/users", &korean);
    assert!(list.body.contains("<p class=\"notice\">저장했습니다.</p>"));
    let again = server.get("/users", &korean);
    assert!(!again.body.contains("class=\"notice\""), "said once");
    let refused = server.post(
        "/users/change",
        &admin,
        &[
            ("csrf", &csrf),
            ("name", "admin"),
            ("role", "auditor"),
            ("locations", ""),
            ("active", ""),
        ],
    );
    assert_eq!(refused.status, 422);
    assert!(!refused.body.contains("class=\"notice\""));
    assert!(
        refused.body.contains("last active admin"),
        "{}",
        refused.body
    );
}
