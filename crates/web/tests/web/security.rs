//! Sessions, CSRF, security headers, login throttling and lockout, passphrases and the duress
//! passphrase, connections.

use crate::support::{PASSPHRASE, csrf_of, first_code, start};
use refuge_app::App;
use refuge_core::NodeId;
use refuge_store::{DynStore, SqliteStore};
use refuge_web::{ServerState, SessionPolicy, Sessions, Transport};
use std::sync::Arc;
use std::time::Duration;

#[test]
fn every_response_carries_the_security_headers() {
    let server = start(SessionPolicy::default());
    let (cookie, _) = server.login("coordinator");
    for (path, cookie) in [
        ("/login", ""),
        ("/nowhere", ""),
        ("/dashboard", cookie.as_str()),
        ("/people/P-00000", cookie.as_str()),
        ("/api/v1/backlog", ""),
        ("/static/style.css", ""),
    ] {
        let reply = server.get(path, cookie);
        assert_eq!(
            reply.header("content-security-policy").unwrap_or(""),
            "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'; img-src 'self' data:; style-src 'self'",
            "{path}"
        );
        assert_eq!(
            reply.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(
            reply.header("referrer-policy"),
            Some("no-referrer"),
            "{path}"
        );
        if path != "/static/style.css" {
            assert_eq!(reply.header("cache-control"), Some("no-store"), "{path}");
        }
        assert!(!reply.body.contains("<script"), "{path}");
    }
    let missing = server.get("/people/P-00000", &cookie);
    assert_eq!(missing.status, 404);
    assert!(
        missing.body.contains("Error 404, operation "),
        "{}",
        missing.body
    );
}

#[test]
fn login_rotates_sessions_and_logout_destroys_them() {
    let server = start(SessionPolicy::default());
    let wrong = server.post(
        "/login",
        "",
        &[
            ("user", "coordinator"),
            ("passphrase", "not the passphrase"),
        ],
    );
    let unknown = server.post(
        "/login",
        "",
        &[("user", "nobody"), ("passphrase", "not the passphrase")],
    );
    assert_eq!((wrong.status, unknown.status), (401, 401));
    assert!(wrong.body.contains("Wrong user name or passphrase."));
    assert_eq!(
        wrong.body.replace("coordinator", "X"),
        unknown.body.replace("nobody", "X"),
        "the same answer"
    );

    let login = server.post(
        "/login",
        "",
        &[("user", "coordinator"), ("passphrase", PASSPHRASE)],
    );
    let set_cookie = login.header("set-cookie").unwrap().to_string();
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"),
        "{set_cookie}"
    );
    let first = set_cookie.split(';').next().unwrap().to_string();
    let again = server.post(
        "/login",
        &first,
        &[("user", "coordinator"), ("passphrase", PASSPHRASE)],
    );
    let second = again
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    assert_ne!(first, second, "a new session id at every login");
    assert_eq!(
        server.get("/dashboard", &first).status,
        303,
        "the old session is gone"
    );
    let csrf = csrf_of(&server.get("/dashboard", &second).body);
    assert_eq!(
        server
            .post("/logout", &second, &[("csrf", "0".repeat(64).as_str())])
            .status,
        403
    );
    assert_eq!(
        server
            .post("/logout", &second, &[("csrf", csrf.as_str())])
            .status,
        303
    );
    assert_eq!(
        server.get("/dashboard", &second).status,
        303,
        "logout destroys the session"
    );
}

#[test]
fn state_changes_need_the_csrf_token_and_the_same_site() {
    let server = start(SessionPolicy::default());
    let (cookie, csrf) = server.login("coordinator");
    let people = server.get("/people?stage=sheltered", &cookie);
    let person = first_code(&people.body, "P-");
    let path = format!("/people/{person}/flag");
    assert_eq!(
        server
            .post(
                &path,
                &cookie,
                &[("csrf", ""), ("flag", "minor"), ("on", "yes")]
            )
            .status,
        403
    );
    assert_eq!(
        server
            .post_cross_site(
                &path,
                &cookie,
                &[("csrf", &csrf), ("flag", "minor"), ("on", "yes")]
            )
            .status,
        403
    );
    assert_eq!(
        server
            .post(
                &path,
                &cookie,
                &[("csrf", &csrf), ("flag", "minor"), ("on", "yes")]
            )
            .status,
        303
    );
    assert!(
        server
            .get(&format!("/people/{person}"), &cookie)
            .body
            .contains("minor")
    );
}

#[test]
fn failed_logins_slow_down_then_lock_and_the_lock_expires() {
    let policy = SessionPolicy {
        first_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(80),
        lock_after: 3,
        lock_for: Duration::from_secs(2),
        ..SessionPolicy::default()
    };
    let server = start(policy);
    for _ in 0..3 {
        assert_eq!(
            server
                .post(
                    "/login",
                    "",
                    &[("user", "analyst"), ("passphrase", "wrong wrong wrong")]
                )
                .status,
            401
        );
    }
    let locked = server.post(
        "/login",
        "",
        &[("user", "analyst"), ("passphrase", PASSPHRASE)],
    );
    assert_eq!(
        locked.status, 401,
        "locked: even the right passphrase is refused, with the same answer"
    );
    assert!(locked.body.contains("Wrong user name or passphrase."));
    server.clock.advance(Duration::from_millis(2_100));
    assert_eq!(
        server
            .post(
                "/login",
                "",
                &[("user", "analyst"), ("passphrase", PASSPHRASE)]
            )
            .status,
        303
    );
}

#[test]
fn idle_sessions_time_out() {
    let server = start(SessionPolicy {
        idle: Duration::from_millis(700),
        ..SessionPolicy::default()
    });
    let (cookie, _) = server.login("analyst");
    assert_eq!(server.get("/dashboard", &cookie).status, 200);
    server.clock.advance(Duration::from_millis(900));
    assert_eq!(server.get("/dashboard", &cookie).status, 303);
}

#[test]
fn an_admin_sets_a_passphrase_and_only_the_new_one_opens() {
    let server = start(SessionPolicy::default());
    let (admin, admin_csrf) = server.login("admin");
    let users = server.get("/users", &admin);
    assert!(users.body.contains("action=\"/users/passphrase\""));
    let new = "a brand new synthetic passphrase";
    let short = server.post(
        "/users/passphrase",
        &admin,
        &[
            ("csrf", &admin_csrf),
            ("name", "analyst"),
            ("passphrase", "short"),
        ],
    );
    assert_eq!(short.status, 422);
    assert!(short.body.contains("at least 12 characters"));
    assert_eq!(
        server
            .post(
                "/users/passphrase",
                &admin,
                &[
                    ("csrf", &admin_csrf),
                    ("name", "analyst"),
                    ("passphrase", new)
                ]
            )
            .status,
        303
    );
    assert_eq!(
        server
            .post(
                "/login",
                "",
                &[("user", "analyst"), ("passphrase", PASSPHRASE)]
            )
            .status,
        401
    );
    assert_eq!(
        server
            .post("/login", "", &[("user", "analyst"), ("passphrase", new)])
            .status,
        303
    );
    // Someone else's passphrase is an admin's business only.
    let (coordinator, csrf) = server.login("coordinator");
    let refused = server.post(
        "/users/passphrase",
        &coordinator,
        &[("csrf", &csrf), ("name", "analyst"), ("passphrase", new)],
    );
    assert_eq!(refused.status, 403);
}

#[test]
fn a_user_changes_her_passphrase_and_her_duress_passphrase_erases_everything() {
    let server = start(SessionPolicy::default());
    let (caseworker, csrf) = server.login("caseworker");
    let account = server.get("/account", &caseworker);
    assert_eq!(account.status, 200);
    assert!(account.body.contains("action=\"/account/passphrase\""));
    assert!(account.body.contains("action=\"/account/duress\""));
    let new = "a brand new synthetic passphrase";
    let change = |cookie: &str, csrf: &str, current: &str, again: &str| {
        server.post(
            "/account/passphrase",
            cookie,
            &[
                ("csrf", csrf),
                ("current", current),
                ("passphrase", new),
                ("again", again),
            ],
        )
    };
    let wrong = change(&caseworker, &csrf, "not my passphrase at all", new);
    assert_eq!(wrong.status, 422);
    assert!(
        wrong.body.contains("is not your passphrase"),
        "{}",
        wrong.body
    );
    assert_eq!(server.get("/account/passphrase", &caseworker).status, 303);
    let differ = change(&caseworker, &csrf, PASSPHRASE, "something else entirely");
    assert_eq!(differ.status, 422);
    assert!(differ.body.contains("the two entries differ"));
    let changed = change(&caseworker, &csrf, PASSPHRASE, new);
    assert_eq!(changed.status, 303);
    assert_eq!(
        changed.header("location"),
        Some("/login?changed=passphrase")
    );
    assert_eq!(
        server.get("/dashboard", &caseworker).status,
        303,
        "the session ended"
    );
    let notice = server.get("/login?changed=passphrase", "");
    assert!(notice.body.contains("Your passphrase was changed"));
    assert_eq!(
        server
            .post(
                "/login",
                "",
                &[("user", "caseworker"), ("passphrase", PASSPHRASE)]
            )
            .status,
        401
    );
    let login = server.post("/login", "", &[("user", "caseworker"), ("passphrase", new)]);
    assert_eq!(login.status, 303);
    let caseworker = login
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let csrf = csrf_of(&server.get("/dashboard", &caseworker).body);

    // The duress passphrase: set with the current passphrase, typed twice.
    let duress = "a synthetic duress phrase";
    let armed = server.post(
        "/account/duress",
        &caseworker,
        &[
            ("csrf", &csrf),
            ("current", new),
            ("duress", duress),
            ("again", duress),
            ("action", "set"),
        ],
    );
    assert_eq!(armed.status, 303);
    assert_eq!(armed.header("location"), Some("/login?changed=duress-set"));
    assert!(
        server
            .get("/login?changed=duress-set", "")
            .body
            .contains("Your duress passphrase is set")
    );
    let (coordinator, _) = server.login("coordinator");
    assert!(server.get("/people", &coordinator).body.contains("P-"));
    // Typed at the login form, it logs in as usual ...
    let login = server.post(
        "/login",
        "",
        &[("user", "caseworker"), ("passphrase", duress)],
    );
    assert_eq!(login.status, 303);
    assert_eq!(login.header("location"), Some("/dashboard"));
    let erased = login
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    // ... into an organisation with nothing in it, and every other session is over.
    let dashboard = server.get("/dashboard", &erased);
    assert_eq!(dashboard.status, 200);
    let people = server.get("/people?stage=any", &erased);
    assert_eq!(people.status, 200);
    assert!(!people.body.contains("P-"), "no one is listed");
    assert_eq!(server.get("/dashboard", &coordinator).status, 303);
    assert_eq!(
        server
            .post(
                "/login",
                "",
                &[("user", "coordinator"), ("passphrase", PASSPHRASE)]
            )
            .status,
        401
    );
}

/// `refuge key rotate --reseal` run by another process while the server runs: a session
/// opened before it holds record keys that no longer exist, so it ends (to the login page,
/// not an error), and a new login opens every name again.
#[test]
fn a_reseal_by_another_process_ends_the_sessions_that_hold_the_old_keys() {
    let server = start(SessionPolicy::default());
    let names = |body: &str| body.matches("Synthetic place").count();
    let (coordinator, csrf) = server.login("coordinator");
    let before = server.post("/locations/reveal", &coordinator, &[("csrf", &csrf)]);
    assert_eq!(before.status, 200);
    let shown = names(&before.body);
    assert!(shown >= 4);
    let path = server.dir.path().join("web.db");
    server.runtime.block_on(async {
        let store = SqliteStore::open(&path).await.unwrap();
        let app = App::new(
            Box::new(store) as DynStore,
            Box::new(refuge_app::SystemClock),
        );
        let admin = app.login("admin", PASSPHRASE).await.unwrap();
        let resealed = app.reseal_keys(&admin, None, &|_, _| {}).await.unwrap();
        assert!(resealed.records >= 300);
        app.close().await;
    });
    let stale = server.post("/locations/reveal", &coordinator, &[("csrf", &csrf)]);
    assert_eq!(stale.status, 303, "{}", stale.body);
    assert!(stale.header("location").unwrap_or("").starts_with("/login"));
    let (coordinator, csrf) = server.login("coordinator");
    let after = server.post("/locations/reveal", &coordinator, &[("csrf", &csrf)]);
    assert_eq!(after.status, 200);
    assert_eq!(names(&after.body), shown);
}

/// A login form posted from another site is refused by its Origin (login CSRF), and so is
/// any other form.
#[test]
fn a_login_from_another_origin_is_refused() {
    let server = start(SessionPolicy::default());
    let foreign = server.post_with(
        "/login",
        "",
        ("Origin", "http://attacker.example"),
        &[("user", "coordinator"), ("passphrase", PASSPHRASE)],
    );
    assert_eq!(foreign.status, 403);
    assert!(foreign.header("set-cookie").is_none());
    let (cookie, csrf) = server.login("coordinator");
    let flagged = server.post_with(
        "/logout",
        &cookie,
        ("Origin", "http://attacker.example"),
        &[("csrf", &csrf)],
    );
    assert_eq!(flagged.status, 403);
    assert_eq!(
        server.get("/dashboard", &cookie).status,
        200,
        "still logged in"
    );
}

/// A deactivated caseworker kept listing people, and a demoted coordinator kept revealing,
/// for up to 12 hours. Now deactivation, a role change (on the web or from the command line)
/// and a new passphrase end that user's sessions at once, for the pages and the API alike.
#[test]
fn ending_someones_access_ends_their_live_sessions_at_once() {
    let server = start(SessionPolicy::default());
    let (caseworker, _) = server.login("caseworker");
    let (coordinator, coordinator_csrf) = server.login("coordinator");
    let (analyst, _) = server.login("analyst");
    let (admin, admin_csrf) = server.login("admin");
    assert_eq!(server.get("/people", &caseworker).status, 200);
    assert_eq!(server.get("/api/v1/people", &caseworker).status, 200);

    let deactivated = server.post(
        "/users/change",
        &admin,
        &[
            ("csrf", &admin_csrf),
            ("name", "caseworker"),
            ("active", "no"),
        ],
    );
    assert_eq!(deactivated.status, 303);
    assert_eq!(
        server.get("/people", &caseworker).status,
        303,
        "sent to log in"
    );
    assert_eq!(server.get("/api/v1/people", &caseworker).status, 401);

    let person = first_code(
        &server.get("/people?stage=sheltered", &coordinator).body,
        "P-",
    );
    server.change_user_elsewhere(
        "coordinator",
        refuge_app::UserChange {
            role: Some(refuge_core::Role::Analyst),
            ..refuge_app::UserChange::default()
        },
    );
    let reveal = server.post(
        &format!("/people/{person}/reveal"),
        &coordinator,
        &[("csrf", &coordinator_csrf)],
    );
    assert_eq!(
        reveal.status, 303,
        "the demoted session is gone, nothing revealed"
    );
    assert!(!reveal.body.contains("Synthetic county"));

    let reset = server.post(
        "/users/passphrase",
        &admin,
        &[
            ("csrf", &admin_csrf),
            ("name", "analyst"),
            ("passphrase", "a new synthetic passphrase"),
        ],
    );
    assert_eq!(reset.status, 303);
    assert_eq!(server.get("/dashboard", &analyst).status, 303);
    assert_eq!(server.get("/dashboard", &admin).status, 200, "others stay");
}

/// Plain HTTP had no header-read timeout: 500 half-open connections were all still held
/// after 75 s. Now both listeners close a connection that sends no request in time, and
/// hold at most a set number at once, so others are served as soon as those are closed.
#[test]
fn half_open_connections_are_closed_and_bounded() {
    use std::io::{Read, Write};
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let base = runtime.block_on(async {
        let store =
            SqliteStore::create(&dir.path().join("limits.db"), NodeId(uuid::Uuid::now_v7()))
                .await
                .unwrap();
        let app = App::new(
            Box::new(store) as DynStore,
            Box::new(refuge_app::SystemClock),
        );
        app.init("admin", PASSPHRASE, 10).await.unwrap();
        let state = Arc::new(ServerState {
            app,
            sessions: Sessions::new(SessionPolicy::default()),
            transport: Transport::Loopback,
            replies: Default::default(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let limits = refuge_web::Limits {
            max_connections: 4,
            header_read_timeout: Duration::from_millis(500),
        };
        tokio::spawn(refuge_web::serve_with(state, listener, None, limits));
        address
    });
    // Four clients that open a connection and send half a request, then nothing.
    let idle: Vec<std::net::TcpStream> = (0..4)
        .map(|_| {
            let mut stream = std::net::TcpStream::connect(base).unwrap();
            stream
                .write_all(b"GET /login HTTP/1.1\r\nHost: x\r\n")
                .unwrap();
            stream
        })
        .collect();
    // A fifth client is served once those are closed for taking too long.
    let started = std::time::Instant::now();
    let mut client = std::net::TcpStream::connect(base).unwrap();
    client
        .write_all(b"GET /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut answer = String::new();
    client.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "the fifth waited for a slot: the limit holds"
    );
    for mut stream in idle {
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut rest = Vec::new();
        // Closed by the server: the read ends (possibly after an error response).
        stream.read_to_end(&mut rest).unwrap();
    }
    drop(runtime);
}

/// 32 parallel guesses at one account were all evaluated against a documented limit of 8:
/// now attempts are admitted one at a time per account and address, counted before the key
/// derivation, and the real user still logs in afterwards.
#[test]
fn parallel_guesses_are_not_all_evaluated() {
    let server = start(SessionPolicy::default());
    let (admin, _) = server.login("admin");
    let known = server.post(
        "/login",
        "",
        &[("user", "analyst"), ("passphrase", PASSPHRASE)],
    );
    let browser = known
        .headers
        .iter()
        .find(|(name, value)| {
            name.eq_ignore_ascii_case("set-cookie") && value.starts_with("refuge_browser=")
        })
        .map(|(_, value)| value.split(';').next().unwrap().to_string());
    assert!(browser.is_some(), "a login marks the browser as known-good");
    // Failed logins, as the access log's filter finds them (a row each).
    let failed_logins = || {
        server
            .get("/audit?action=login_failed", &admin)
            .body
            .matches("<tr><td>")
            .count()
    };
    let before = failed_logins();
    std::thread::scope(|scope| {
        for _ in 0..32 {
            scope.spawn(|| {
                let reply = server.post(
                    "/login",
                    "",
                    &[
                        ("user", "analyst"),
                        ("passphrase", "a synthetic wrong guess"),
                    ],
                );
                assert_eq!(reply.status, 401);
            });
        }
    });
    let evaluated = failed_logins() - before;
    eprintln!("parallel guesses evaluated: {evaluated} of 32");
    assert!(
        evaluated <= 8,
        "{evaluated} of 32 parallel guesses were evaluated"
    );
    let cookie = browser.unwrap_or_default();
    let started = std::time::Instant::now();
    let real = server.post(
        "/login",
        &cookie,
        &[("user", "analyst"), ("passphrase", PASSPHRASE)],
    );
    eprintln!(
        "the real user's login after the attack: {:?}",
        started.elapsed()
    );
    assert_eq!(real.status, 303, "the real user logs in");
}
