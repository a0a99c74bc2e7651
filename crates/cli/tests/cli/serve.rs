//! refuge serve: two servers on one PostgreSQL database, TLS, and the demo server's clean-up.

use crate::support::{
    Client, PASSPHRASE, Server, Tally, Workspace, logged, postgres_admin, postgres_database,
};
use std::path::PathBuf;
use std::process::Command;

#[test]
fn two_servers_on_one_postgres_database_lose_no_write() {
    let Some(admin) = postgres_admin("two_servers_on_one_postgres_database_lose_no_write") else {
        return;
    };
    const WRITERS: usize = 50;
    let seconds: u64 = std::env::var("REFUGE_CONCURRENCY_SECONDS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(60);
    let ws = Workspace::on(postgres_database(&admin));
    ws.ok(&["demo", "--people", "400"]);
    let people: Vec<serde_json::Value> =
        serde_json::from_str(&ws.ok(&["person", "list", "--stage", "sheltered", "--json"]))
            .unwrap();
    let codes: Vec<String> = people
        .iter()
        .map(|person| person["code"].as_str().unwrap().to_string())
        .collect();
    assert!(codes.len() > 20, "the demo has people waiting in shelters");
    let shelters = ["SHL-BKK-1", "SHL-BKK-2", "SHL-CNX-3"];
    let before = [
        logged(&ws, "person_moved"),
        logged(&ws, "incident_recorded"),
        logged(&ws, "batch_status_changed"),
    ];

    let servers = [Server::start(&ws), Server::start(&ws)];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    let codes = std::sync::Arc::new(codes);
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let base = servers[writer % 2].base.clone();
            let codes = codes.clone();
            std::thread::spawn(move || {
                let client = Client::login(&base, "coordinator");
                let mut tally = Tally::default();
                let mut round = writer;
                while std::time::Instant::now() < deadline {
                    round += WRITERS;
                    // A few people, moved by many writers at once: real races.
                    let code = &codes[round % 7];
                    // 303: acknowledged; 409 (changed by someone else, full) and 422
                    // (refused with the reason on the page): cleanly refused.
                    let (status, counter) = match round % 10 {
                        0 => {
                            let (status, location) = client.post(
                                "/transfers",
                                &[
                                    ("date", "2027-03-01"),
                                    ("seats", "3"),
                                    ("destination", "RCP-KR"),
                                ],
                            );
                            assert_eq!(status, 303, "writer {writer}: batch created");
                            let (status, _) = client
                                .post(&format!("{location}/status"), &[("status", "confirmed")]);
                            (status, &mut tally.confirmed)
                        }
                        1..=3 => {
                            let (status, _) = client.post(
                                "/incidents",
                                &[
                                    ("location", shelters[round % 3]),
                                    ("kind", "conflict"),
                                    ("severity", "2"),
                                    ("people", code),
                                ],
                            );
                            (status, &mut tally.incidents)
                        }
                        _ => {
                            let (status, _) = client.post(
                                &format!("/people/{code}/move"),
                                &[
                                    ("to", shelters[(round / 10) % 3]),
                                    ("stage", "sheltered"),
                                    ("over_capacity", "yes"),
                                ],
                            );
                            (status, &mut tally.moves)
                        }
                    };
                    match status {
                        303 => *counter += 1,
                        409 | 422 => tally.refused += 1,
                        other => panic!("writer {writer}: unexpected status {other}"),
                    }
                }
                tally
            })
        })
        .collect();
    let mut total = Tally::default();
    for writer in writers {
        let tally = writer.join().unwrap();
        total.moves += tally.moves;
        total.incidents += tally.incidents;
        total.confirmed += tally.confirmed;
        total.refused += tally.refused;
    }
    drop(servers);
    {
        use std::io::Write as _;
        writeln!(
            std::io::stderr(),
            "{WRITERS} writers on two servers for {seconds} s: {total:?}"
        )
        .ok();
    }
    assert!(total.moves > 0 && total.incidents > 0 && total.confirmed > 0);
    // Every acknowledged write is in the log, once; nothing else is.
    assert_eq!(logged(&ws, "person_moved") - before[0], total.moves);
    assert_eq!(
        logged(&ws, "incident_recorded") - before[1],
        total.incidents
    );
    assert_eq!(
        logged(&ws, "batch_status_changed") - before[2],
        total.confirmed
    );
    // One unbroken chain, sequence numbers without gaps or repeats, tables = replay.
    let verified = ws.ok(&["verify"]);
    assert!(verified.contains("OK:"), "{verified}");
}

#[test]
fn serve_speaks_tls_with_secure_host_cookies() {
    let ws = Workspace::new();
    ws.ok(&["init"]);
    let certificate = ws.inputs.path().join("cert.pem");
    let key = ws.inputs.path().join("key.pem");
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=refuge-test"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&certificate)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );

    // A key that is not a key is a clear error naming the file.
    let broken = ws.input("broken.pem", "not a key");
    let refused = ws.fails(&[
        "serve",
        "--tls-cert",
        certificate.to_str().unwrap(),
        "--tls-key",
        broken.to_str().unwrap(),
    ]);
    assert!(refused.contains("broken.pem"), "{refused}");
    // Without TLS or a proxy, only loopback.
    let refused = ws.fails(&["serve", "--listen", "0.0.0.0:0"]);
    assert!(refused.contains("--tls-cert"), "{refused}");

    let server = Server::start_with(
        &ws,
        &[
            "--tls-cert",
            certificate.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    assert!(
        server.base.starts_with("https://127.0.0.1:"),
        "{}",
        server.base
    );
    let curl = |args: &[&str]| {
        Command::new("curl")
            .args(["-sS", "--max-time", "10", "--cacert"])
            .arg(&certificate)
            .args(args)
            .output()
            .unwrap()
    };
    let page = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &format!("{}/login", server.base),
    ]);
    assert_eq!(String::from_utf8_lossy(&page.stdout), "200");
    let login = curl(&[
        "-i",
        "--data-urlencode",
        "user=admin",
        "--data-urlencode",
        &format!("passphrase={PASSPHRASE}"),
        &format!("{}/login", server.base),
    ]);
    let head = String::from_utf8_lossy(&login.stdout).to_lowercase();
    let cookie = head
        .lines()
        .find(|line| line.starts_with("set-cookie: __host-refuge="))
        .unwrap_or_else(|| panic!("no __Host- session cookie: {head}"));
    assert!(
        cookie.contains("secure") && cookie.contains("httponly"),
        "{cookie}"
    );
    // Plain HTTP on the TLS port gets no page.
    let plain = Command::new("curl")
        .args(["-sS", "--max-time", "5"])
        .arg(server.base.replace("https://", "http://") + "/login")
        .output()
        .unwrap();
    assert!(!plain.status.success() || !String::from_utf8_lossy(&plain.stdout).contains("<main>"));
}

#[test]
fn postgres_over_tls_checks_the_server_certificate() {
    let Some(admin) = postgres_admin("postgres_over_tls_checks_the_server_certificate") else {
        return;
    };
    let Ok(ca) = std::env::var("REFUGE_TEST_POSTGRES_CA") else {
        return;
    };
    let url = postgres_database(&admin);
    let ws = Workspace::on(format!("{url}?sslmode=verify-full&sslrootcert={ca}"));
    ws.ok(&["init"]);
    assert!(ws.ok(&["backlog"]).contains("LOCATION"));
    // A certificate signed by someone else is refused, and said so.
    let stranger = ws.inputs.path().join("stranger.pem");
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=stranger"])
        .arg("-keyout")
        .arg(ws.inputs.path().join("stranger.key"))
        .arg("-out")
        .arg(&stranger)
        .output()
        .unwrap();
    assert!(made.status.success());
    let doubtful = Workspace::on(format!(
        "{url}?sslmode=verify-full&sslrootcert={}",
        stranger.display()
    ));
    let refused = doubtful.fails(&["backlog"]);
    assert!(refused.contains("cannot reach the database"), "{refused}");
}

/// `serve --demo` left its database behind after every stop: now it is removed when the
/// server stops, and a later demo sweeps away what a killed one left.
#[test]
fn the_demo_server_removes_its_database_when_it_stops() {
    let ws = Workspace::new();
    let mut child = ws
        .command()
        .args([
            "serve",
            "--demo",
            "--demo-people",
            "60",
            "--listen",
            "127.0.0.1:0",
        ])
        .env("TMPDIR", ws.dir.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut path = None;
    let mut line = String::new();
    while std::io::BufRead::read_line(&mut stdout, &mut line).unwrap() > 0 {
        if let Some(rest) = line.strip_prefix("Demo organisation: ") {
            path = rest
                .split(" in ")
                .nth(1)
                .map(|rest| PathBuf::from(rest.split(" (removed").next().unwrap().trim()));
        }
        if line.starts_with("Serving on") {
            break;
        }
        line.clear();
    }
    let path = path.expect("the demo says where its database is");
    assert!(path.exists());
    assert!(path.starts_with(ws.dir.path()));
    let terminated = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(terminated.success());
    assert!(child.wait().unwrap().success());
    assert!(!path.exists(), "{} is still there", path.display());
}
